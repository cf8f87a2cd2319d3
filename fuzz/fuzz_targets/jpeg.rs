//! Fuzz the jpeg label container: read, write, and the one-label invariant on what was written.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = warden_fuzz::container(warden_mark::Format::Jpeg, data);
});
