//! Fuzz journal-file parsing (what `import_file` reads on resume).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = warden_eval::journal::parse_journal(data);
});
