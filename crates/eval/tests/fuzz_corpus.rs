//! Replays the user-suite and journal fuzz seeds and saved regression inputs
//! (`fuzz/corpus/{user_suite,journal}/`) in a plain `cargo test`, so CI checks them without the
//! libFuzzer build.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let files: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files
}

#[test]
fn every_user_suite_seed_parses_without_panicking() {
    for bytes in corpus("user_suite") {
        let _ = warden_eval::user::parse_suite_file(Path::new("seed.jsonl"), &bytes);
    }
}

#[test]
fn every_journal_seed_parses_without_panicking() {
    for bytes in corpus("journal") {
        let _ = warden_eval::journal::parse_journal(&bytes);
    }
}
