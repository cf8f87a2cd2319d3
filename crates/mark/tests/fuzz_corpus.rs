//! Replays every committed fuzz seed and saved regression input (`fuzz/corpus/TARGET/`) through
//! the fuzz targets' oracles in a plain `cargo test`, so CI checks them without the libFuzzer
//! build. The oracles are the fuzz crate's own code, included by path.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod oracle;

use std::path::PathBuf;

use warden_mark::Format;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files
}

#[test]
fn every_container_seed_passes_its_fuzz_oracle() {
    for (target, format) in [
        ("png", Format::Png),
        ("jpeg", Format::Jpeg),
        ("webp", Format::Webp),
        ("wav", Format::Wav),
        ("mp3", Format::Mp3),
        ("mp4", Format::Mp4),
        ("ooxml", Format::Ooxml),
        ("pdf", Format::Pdf),
        ("markdown", Format::Markdown),
    ] {
        for (path, bytes) in corpus(target) {
            let wrote = oracle::container(format, &bytes);
            // Seeds are valid files; saved crash inputs (`issue_10_fuzz_*`) need not be.
            let name = path.file_name().unwrap().to_string_lossy();
            assert!(
                wrote || name.starts_with("issue_10_fuzz_"),
                "the seed {} cannot be labelled",
                path.display()
            );
        }
    }
}

#[test]
fn every_xmp_seed_passes_its_fuzz_oracle() {
    for (path, bytes) in corpus("xmp") {
        eprintln!("{}", path.display());
        oracle::xmp(&bytes);
    }
}
