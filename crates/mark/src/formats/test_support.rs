//! Test helpers shared by the format modules: run a module's `read` / `write` on byte slices, and
//! check the contract every module keeps on bad input (truncation is an error, damage never panics),
//! and the label value the image formats embed.

use std::io::Cursor;

use crate::error::MarkError;

type Input = Cursor<Vec<u8>>;
type Output = Cursor<Vec<u8>>;

/// A complete Annex E label value, as the image format tests embed it.
pub(crate) const IMAGE_LABEL: &str = r#"{"Label":"1","ContentProducer":"001191110108MA01KP2T5U00000","ProduceID":"img-1","ReservedCode1":"","ContentPropagator":"","PropagateID":"","ReservedCode2":""}"#;

/// An XMP packet with two real labels the old string search missed or misread (an attribute under
/// a prefix other than `TC260`, an `rdf:Alt`) and fakes in a comment, a PI and a CDATA section.
pub(crate) fn hostile_xmp() -> String {
    let ns = crate::xmp::NAMESPACE;
    format!(
        "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?><x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><!-- <TC260:AIGC>comment</TC260:AIGC> --><?pi TC260:AIGC=\"pi\"?><rdf:Description rdf:about=\"\" xmlns:ai=\"{ns}\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" ai:AIGC=\"attribute\"><dc:creator>Ann</dc:creator><dc:title><![CDATA[<TC260:AIGC>cdata</TC260:AIGC>]]></dc:title></rdf:Description><rdf:Description xmlns:TC260=\"{ns}\"><TC260:AIGC><rdf:Alt><rdf:li xml:lang=\"x-default\">alt</rdf:li></rdf:Alt></TC260:AIGC></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end=\"w\"?>"
    )
}

/// The two labels [`hostile_xmp`] really holds.
pub(crate) const HOSTILE_XMP_LABELS: [&str; 2] = ["attribute", "alt"];

/// `write` on `input`, returning the output bytes.
pub(crate) fn write_vec(
    write: impl FnOnce(&mut Input, &mut Output, &str) -> Result<(), MarkError>,
    input: &[u8],
    value: &str,
) -> Result<Vec<u8>, MarkError> {
    let mut out = Cursor::new(Vec::new());
    write(&mut Cursor::new(input.to_vec()), &mut out, value)?;
    Ok(out.into_inner())
}

/// `read` on `input`.
pub(crate) fn read_vec(
    read: impl FnOnce(&mut Input) -> Result<Vec<String>, MarkError>,
    input: &[u8],
) -> Result<Vec<String>, MarkError> {
    read(&mut Cursor::new(input.to_vec()))
}

/// Both `read` and `write` answer `Truncated` or `Corrupt` for `file` cut at each of `cuts`.
#[track_caller]
pub(crate) fn assert_cuts_fail(
    file: &[u8],
    cuts: impl IntoIterator<Item = usize>,
    read: impl Fn(&mut Input) -> Result<Vec<String>, MarkError>,
    write: impl Fn(&mut Input, &mut Output, &str) -> Result<(), MarkError>,
    value: &str,
) {
    for cut in cuts {
        let short = &file[..cut];
        for result in [
            read_vec(&read, short).map(|_| ()),
            write_vec(&write, short, value).map(|_| ()),
        ] {
            assert!(
                matches!(
                    result,
                    Err(MarkError::Truncated { .. } | MarkError::Corrupt { .. })
                ),
                "cut at {cut}: {result:?}"
            );
        }
    }
}

/// `read` and `write` return (anything) for `file` with each byte flipped in turn: no panic.
pub(crate) fn assert_damage_never_panics(
    file: &[u8],
    read: impl Fn(&mut Input) -> Result<Vec<String>, MarkError>,
    write: impl Fn(&mut Input, &mut Output, &str) -> Result<(), MarkError>,
    value: &str,
) {
    for at in 0..file.len() {
        let mut damaged = file.to_vec();
        damaged[at] ^= 0xA5;
        let _ = read_vec(&read, &damaged);
        let _ = write_vec(&write, &damaged, value);
    }
}
