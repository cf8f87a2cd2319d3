//! Replays the policy fuzz seeds and saved regression inputs (`fuzz/corpus/gate_lint/`) in a
//! plain `cargo test`, so CI checks them without the libFuzzer build.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

#[test]
fn every_policy_seed_lints_without_panicking() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/gate_lint");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = warden_gate::lint::lint("seed.toml", text);
        }
        count += 1;
    }
    assert!(count > 0, "no seeds in {}", dir.display());
}
