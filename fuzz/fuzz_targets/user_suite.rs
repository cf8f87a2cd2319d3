//! Fuzz the user-suite JSONL parser.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = warden_eval::user::parse_suite_file(std::path::Path::new("fuzz.jsonl"), data);
});
