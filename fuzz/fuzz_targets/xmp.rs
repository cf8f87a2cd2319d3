//! Fuzz XMP packet parsing and the label rewrite: after `set_value` exactly one label remains.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    warden_fuzz::xmp(data);
});
