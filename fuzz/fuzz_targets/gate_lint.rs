//! Fuzz policy TOML parsing and lint.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = warden_gate::lint::lint("fuzz.toml", text);
    }
});
