//! Shared oracles for the fuzz targets: beyond "never panics", a successful write must leave a
//! file that reads back as exactly the one label written (ARCHITECTURE.md's mark invariant).

use std::io::Cursor;

use warden_mark::{Format, formats, xmp};

/// A complete Annex E label, as `warden mark` writes it.
pub const VALUE: &str = r#"{"Label":"1","ContentProducer":"001191110108MA01KP2T5U00000","ProduceID":"fuzz","ReservedCode1":"","ContentPropagator":"","PropagateID":"","ReservedCode2":""}"#;

/// Read `data` as `format`, write a label into it, and check the output holds exactly that label
/// (and still does after a second write). Returns whether the write succeeded.
pub fn container(format: Format, data: &[u8]) -> bool {
    let _ = formats::read(format, &mut Cursor::new(data));
    let mut once = Cursor::new(Vec::new());
    if formats::write(format, &mut Cursor::new(data), &mut once, VALUE).is_err() {
        return false;
    }
    let once = once.into_inner();
    let labels = formats::read(format, &mut Cursor::new(&once[..]));
    assert_eq!(
        labels.as_deref().ok(),
        Some(&[VALUE.to_owned()][..]),
        "{format:?}: a written file must read back as exactly the label written: {labels:?}"
    );
    let mut twice = Cursor::new(Vec::new());
    let second = formats::write(format, &mut Cursor::new(&once[..]), &mut twice, "second");
    assert!(
        second.is_ok(),
        "{format:?}: rewriting our own output failed: {second:?}"
    );
    let labels = formats::read(format, &mut Cursor::new(twice.into_inner()));
    assert_eq!(
        labels.as_deref().ok(),
        Some(&["second".to_owned()][..]),
        "{format:?}: a rewritten file must hold exactly the new label: {labels:?}"
    );
    true
}

/// Parse `data` as an XMP packet and check `set_value` leaves exactly one label.
pub fn xmp(data: &[u8]) {
    let Ok(packet) = std::str::from_utf8(data) else {
        return;
    };
    let _ = xmp::read_values(packet);
    let updated = xmp::set_value(packet, VALUE);
    assert_eq!(
        xmp::read_values(&updated),
        vec![VALUE.to_owned()],
        "set_value must leave exactly one label"
    );
}
