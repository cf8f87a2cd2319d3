//! Replays the GGUF fuzz seeds and saved regression inputs (`fuzz/corpus/gguf/`) in a plain
//! `cargo test`, so CI checks them without the libFuzzer build.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

#[test]
fn every_gguf_seed_reads_without_panicking() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/gguf");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let _ = warden_gguf::read_info_from(&bytes[..], "seed.gguf", bytes.len() as u64);
        count += 1;
    }
    assert!(count > 0, "no seeds in {}", dir.display());
}
