//! Fuzz the GGUF header reader.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = warden_gguf::read_info_from(data, "fuzz.gguf", data.len() as u64);
});
