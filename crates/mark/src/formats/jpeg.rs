//! JPEG: the label lives in the standard XMP packet, an APP1 segment whose payload starts with
//! `http://ns.adobe.com/xap/1.0/\0`, as TC260 practice guide 20259A places it for JPEG images.
//!
//! - **Write** inserts one XMP APP1 segment after SOI and the leading APP0 (JFIF/JFXX) and APP1
//!   Exif segments, where readers expect it. An existing XMP packet is updated with
//!   [`xmp::set_value`], which keeps every other property, and further XMP segments are dropped.
//!   Marker segments are parsed only up to the first SOS; from there the scan data and everything
//!   after it are streamed unchanged in bounded buffers, while a small state machine follows the
//!   markers (byte stuffing, fill bytes, RSTn, TEM, tables between progressive scans) to confirm
//!   the file reaches its EOI marker, so a truncated file is reported instead of copied.
//! - **Read** returns the labels of every XMP APP1 segment before the first SOS, in file order,
//!   then scans the rest the same way to report truncation.
//!
//! Out of scope: Extended XMP (`http://ns.adobe.com/xmp/extension/` segments are copied unchanged
//! but not read or written), so the packet must fit one segment: at most 65504 bytes, an error
//! otherwise. APP segments between progressive scans are copied, not read. The guide's Annex B
//! form in Exif `UserComment` is not read.

use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use crate::error::MarkError;
use crate::xmp;

const FORMAT: &str = "JPEG";
/// Start of the payload of an XMP APP1 segment.
const XMP_HEADER: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
/// Start of the payload of an Exif APP1 segment.
const EXIF_HEADER: &[u8] = b"Exif\0";
/// Largest XMP packet one APP1 segment holds: the 16-bit length counts itself and the header.
pub const MAX_PACKET: usize = 0xFFFF - 2 - XMP_HEADER.len();

const TEM: u8 = 0x01;
const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const APP0: u8 = 0xE0;
const APP1: u8 = 0xE1;

/// Markers without a length field.
fn standalone(code: u8) -> bool {
    matches!(code, TEM | 0xD0..=0xD7 | SOI | EOI)
}

/// `read_exact`, reporting an early end of file as truncation with a precise message.
fn fill<R: Read>(
    input: &mut R,
    buf: &mut [u8],
    what: impl FnOnce() -> String,
) -> Result<(), MarkError> {
    input.read_exact(buf).map_err(|error| match error.kind() {
        io::ErrorKind::UnexpectedEof => MarkError::truncated(FORMAT, what()),
        _ => MarkError::Io(error),
    })
}

fn check_soi<R: Read>(input: &mut R) -> Result<(), MarkError> {
    let mut soi = [0u8; 2];
    fill(input, &mut soi, || {
        "the file is shorter than the SOI marker".into()
    })?;
    if soi != [0xFF, SOI] {
        return Err(MarkError::corrupt(
            FORMAT,
            "the file does not start with the SOI marker",
        ));
    }
    Ok(())
}

/// A marker before the first SOS.
struct Marker {
    /// Offset of its first 0xFF byte (fill bytes included).
    offset: u64,
    /// How many 0xFF fill bytes precede the marker's own 0xFF.
    fill: u64,
    code: u8,
}

impl Marker {
    /// The marker's bytes: fill, 0xFF, code.
    fn write_to<W: Write>(&self, output: &mut W) -> io::Result<()> {
        io::copy(&mut io::repeat(0xFF).take(self.fill + 1), output)?;
        output.write_all(&[self.code])
    }
}

/// Read the next marker; `offset` is the position of the input and advances with it.
fn next_marker<R: Read>(input: &mut R, offset: &mut u64) -> Result<Marker, MarkError> {
    let start = *offset;
    let mut fill_bytes = 0;
    loop {
        let mut byte = [0u8];
        fill(input, &mut byte, || {
            format!(
                "the file ends at offset {}, before the image data (SOS)",
                *offset
            )
        })?;
        *offset += 1;
        match (byte, *offset - start) {
            ([0xFF], 1) => {}
            ([0xFF], _) => fill_bytes += 1,
            ([other], 1) => {
                return Err(MarkError::corrupt(
                    FORMAT,
                    format!("expected a marker at offset {start}, found byte 0x{other:02x}"),
                ));
            }
            ([0x00], _) => {
                return Err(MarkError::corrupt(
                    FORMAT,
                    format!("expected a marker at offset {start}, found 0xff00"),
                ));
            }
            ([code], _) => {
                return Ok(Marker {
                    offset: start,
                    fill: fill_bytes,
                    code,
                });
            }
        }
    }
}

/// Read a segment's length field and return its payload length.
fn payload_length<R: Read>(
    input: &mut R,
    marker: &Marker,
    offset: &mut u64,
) -> Result<u16, MarkError> {
    let mut length = [0u8; 2];
    fill(input, &mut length, || {
        format!(
            "segment 0x{:02x} at offset {} is cut short",
            marker.code, marker.offset
        )
    })?;
    *offset += 2;
    let length = u16::from_be_bytes(length);
    length.checked_sub(2).ok_or_else(|| {
        MarkError::corrupt(
            FORMAT,
            format!(
                "segment 0x{:02x} at offset {} declares length {length}, less than 2",
                marker.code, marker.offset
            ),
        )
    })
}

fn read_payload<R: Read>(
    input: &mut R,
    marker: &Marker,
    length: u16,
    offset: &mut u64,
) -> Result<Vec<u8>, MarkError> {
    let mut payload = vec![0u8; usize::from(length)];
    fill(input, &mut payload, || {
        format!(
            "segment 0x{:02x} at offset {} is cut short",
            marker.code, marker.offset
        )
    })?;
    *offset += u64::from(length);
    Ok(payload)
}

fn packet<'a>(marker: &Marker, payload: &'a [u8]) -> Result<Option<&'a str>, MarkError> {
    let Some(packet) = payload.strip_prefix(XMP_HEADER) else {
        return Ok(None);
    };
    std::str::from_utf8(packet).map(Some).map_err(|_| {
        MarkError::corrupt(
            FORMAT,
            format!(
                "the XMP APP1 segment at offset {} is not UTF-8",
                marker.offset
            ),
        )
    })
}

/// What the marker segments before the first SOS hold.
#[derive(Default)]
struct Headers {
    values: Vec<String>,
    /// The first XMP packet.
    packet: Option<String>,
    /// Whether the headers ended at SOS (otherwise at EOI).
    image: bool,
    /// Offset just after the SOS or EOI marker.
    offset: u64,
}

fn scan_headers<R: Read + Seek>(input: &mut BufReader<R>) -> Result<Headers, MarkError> {
    check_soi(input)?;
    let mut found = Headers::default();
    let mut offset = 2;
    loop {
        let marker = next_marker(input, &mut offset)?;
        match marker.code {
            SOS | EOI => {
                found.image = marker.code == SOS;
                found.offset = offset;
                return Ok(found);
            }
            SOI => {
                return Err(MarkError::corrupt(
                    FORMAT,
                    format!("a second SOI marker at offset {}", marker.offset),
                ));
            }
            code if standalone(code) => {}
            APP1 => {
                let length = payload_length(input, &marker, &mut offset)?;
                let payload = read_payload(input, &marker, length, &mut offset)?;
                if let Some(packet) = packet(&marker, &payload)? {
                    found.values.extend(xmp::read_values(packet));
                    if found.packet.is_none() {
                        found.packet = Some(packet.to_owned());
                    }
                }
            }
            _ => {
                let length = payload_length(input, &marker, &mut offset)?;
                input.seek_relative(i64::from(length))?;
                offset += u64::from(length);
            }
        }
    }
}

/// Where the entropy-coded part of the file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Expecting the high byte of the length of the segment with this marker.
    LengthHigh(u8),
    LengthLow(u8, u8),
    /// Inside a segment's payload, with this many bytes left.
    Payload(u8, u16),
    /// Inside entropy-coded data.
    Entropy,
    /// After a 0xFF in entropy-coded data or between segments.
    Marker,
    /// After a segment other than SOS: the next byte must start a marker.
    ExpectMarker,
    /// EOI seen.
    Done,
}

fn after_segment(marker: u8) -> State {
    if marker == SOS {
        State::Entropy
    } else {
        State::ExpectMarker
    }
}

fn step(state: State, byte: u8, offset: u64) -> Result<State, MarkError> {
    Ok(match state {
        State::LengthHigh(marker) => State::LengthLow(marker, byte),
        State::LengthLow(marker, high) => {
            let length = u16::from_be_bytes([high, byte]);
            match length.checked_sub(2) {
                None => {
                    return Err(MarkError::corrupt(
                        FORMAT,
                        format!(
                            "segment 0x{marker:02x} declares length {length} at offset {}, less than 2",
                            offset.saturating_sub(1)
                        ),
                    ));
                }
                Some(0) => after_segment(marker),
                Some(left) => State::Payload(marker, left),
            }
        }
        State::ExpectMarker if byte == 0xFF => State::Marker,
        State::ExpectMarker => {
            return Err(MarkError::corrupt(
                FORMAT,
                format!("expected a marker at offset {offset}, found byte 0x{byte:02x}"),
            ));
        }
        State::Marker => match byte {
            0xFF => State::Marker,
            // Byte stuffing, restart markers and TEM stay in the entropy-coded data.
            0x00 | TEM | 0xD0..=0xD7 => State::Entropy,
            EOI => State::Done,
            SOI => {
                return Err(MarkError::corrupt(
                    FORMAT,
                    format!(
                        "an SOI marker at offset {} inside the image data",
                        offset - 1
                    ),
                ));
            }
            marker => State::LengthHigh(marker),
        },
        other => other,
    })
}

/// Copy from just after the first SOS marker to the EOI marker, checking the markers on the way;
/// with `trailer`, also copy whatever follows EOI. `offset` is the input's position.
fn copy_image_data<R: Read, W: Write>(
    input: &mut R,
    output: &mut W,
    mut offset: u64,
    trailer: bool,
) -> Result<(), MarkError> {
    let mut state = State::LengthHigh(SOS);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let read = match input.read(&mut buf) {
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error.into()),
        };
        if read == 0 {
            return Err(MarkError::truncated(
                FORMAT,
                format!("the file ends at offset {offset}, inside the image data before EOI"),
            ));
        }
        let data = buf.get(..read).unwrap_or_default();
        let mut at = 0;
        while at < read && state != State::Done {
            match state {
                State::Entropy => {
                    match data.get(at..).and_then(|rest| memchr::memchr(0xFF, rest)) {
                        Some(found) => {
                            at += found + 1;
                            state = State::Marker;
                        }
                        None => at = read,
                    }
                }
                State::Payload(marker, left) => {
                    let take = usize::from(left).min(read - at);
                    at += take;
                    // `take` is at most `left`, a u16.
                    let left = left - u16::try_from(take).unwrap_or(left);
                    state = if left == 0 {
                        after_segment(marker)
                    } else {
                        State::Payload(marker, left)
                    };
                }
                _ => {
                    let byte = data.get(at).copied().unwrap_or_default();
                    state = step(state, byte, offset + at as u64)?;
                    at += 1;
                }
            }
        }
        output.write_all(data)?;
        offset += read as u64;
        if state == State::Done {
            if trailer {
                io::copy(input, output)?;
            }
            return Ok(());
        }
    }
}

/// Every label value in the file's XMP APP1 segments.
pub fn read<R: Read + Seek>(input: &mut R) -> Result<Vec<String>, MarkError> {
    let mut input = BufReader::new(input);
    let headers = scan_headers(&mut input)?;
    if headers.image {
        copy_image_data(&mut input, &mut io::sink(), headers.offset, false)?;
    }
    Ok(headers.values)
}

/// The XMP APP1 segment holding `packet`, marker included.
fn xmp_segment(packet: &str) -> Result<Vec<u8>, MarkError> {
    if packet.len() > MAX_PACKET {
        return Err(MarkError::InvalidLabel(format!(
            "the XMP packet with the label is {} bytes, but one JPEG APP1 segment holds at most \
             {MAX_PACKET}; Warden does not write Extended XMP",
            packet.len()
        )));
    }
    let length = u16::try_from(2 + XMP_HEADER.len() + packet.len()).unwrap_or(u16::MAX);
    let mut segment = vec![0xFF, APP1];
    segment.extend_from_slice(&length.to_be_bytes());
    segment.extend_from_slice(XMP_HEADER);
    segment.extend_from_slice(packet.as_bytes());
    Ok(segment)
}

/// Copy with exactly one label, in the XMP APP1 segment, holding `value`.
pub fn write<R: Read + Seek, W: Write + Seek>(
    input: &mut R,
    output: &mut W,
    value: &str,
) -> Result<(), MarkError> {
    let start = input.stream_position()?;
    let mut input = BufReader::new(input);
    let headers = scan_headers(&mut input)?;
    let packet = match &headers.packet {
        Some(existing) => xmp::set_value(existing, value),
        None => xmp::new_packet(value),
    };
    let mut label = Some(xmp_segment(&packet)?);

    input.seek(SeekFrom::Start(start))?;
    let mut output = BufWriter::new(output);
    check_soi(&mut input)?;
    output.write_all(&[0xFF, SOI])?;
    let mut offset = 2;
    loop {
        let marker = next_marker(&mut input, &mut offset)?;
        let leading = match marker.code {
            APP0 | APP1 => {
                let length = payload_length(&mut input, &marker, &mut offset)?;
                let payload = read_payload(&mut input, &marker, length, &mut offset)?;
                let is_xmp = marker.code == APP1 && payload.starts_with(XMP_HEADER);
                let exif = marker.code == APP1 && payload.starts_with(EXIF_HEADER);
                if !is_xmp {
                    // Any APP1 but Exif ends the leading run the label follows.
                    if marker.code == APP1
                        && !exif
                        && let Some(segment) = label.take()
                    {
                        output.write_all(&segment)?;
                    }
                    marker.write_to(&mut output)?;
                    output.write_all(&(length + 2).to_be_bytes())?;
                    output.write_all(&payload)?;
                }
                // Existing XMP segments are dropped: the new one replaces them.
                continue;
            }
            code => code,
        };
        if let Some(segment) = label.take() {
            output.write_all(&segment)?;
        }
        marker.write_to(&mut output)?;
        match leading {
            SOS => {
                copy_image_data(&mut input, &mut output, offset, true)?;
                break;
            }
            EOI => {
                io::copy(&mut input, &mut output)?;
                break;
            }
            SOI => {
                return Err(MarkError::corrupt(
                    FORMAT,
                    format!("a second SOI marker at offset {}", marker.offset),
                ));
            }
            code if standalone(code) => {}
            _ => {
                let length = payload_length(&mut input, &marker, &mut offset)?;
                output.write_all(&(length + 2).to_be_bytes())?;
                let copied = io::copy(&mut (&mut input).take(u64::from(length)), &mut output)?;
                if copied < u64::from(length) {
                    return Err(MarkError::truncated(
                        FORMAT,
                        format!(
                            "segment 0x{:02x} at offset {} is cut short",
                            marker.code, marker.offset
                        ),
                    ));
                }
                offset += copied;
            }
        }
    }
    output.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::formats::test_support::{IMAGE_LABEL, assert_cuts_fail, assert_damage_never_panics};

    const VALUE: &str = IMAGE_LABEL;

    fn sample_jpeg() -> Vec<u8> {
        let mut pixels = image::RgbImage::new(24, 16);
        for (x, y, pixel) in pixels.enumerate_pixels_mut() {
            *pixel = image::Rgb([x as u8 * 10, y as u8 * 15, 90]);
        }
        let mut out = Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(pixels)
            .write_to(&mut out, image::ImageFormat::Jpeg)
            .unwrap();
        out.into_inner()
    }

    fn segment(code: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0xFF, code];
        out.extend_from_slice(&(payload.len() as u16 + 2).to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    fn xmp_app1(packet: &str) -> Vec<u8> {
        segment(APP1, &[XMP_HEADER, packet.as_bytes()].concat())
    }

    /// Marker codes before SOS, and the offset of SOS (for files without fill bytes).
    fn markers(jpeg: &[u8]) -> (Vec<u8>, usize) {
        let mut codes = Vec::new();
        let mut at = 2;
        loop {
            assert_eq!(jpeg[at], 0xFF);
            let code = jpeg[at + 1];
            codes.push(code);
            if code == SOS {
                return (codes, at);
            }
            at += 2 + u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]) as usize;
        }
    }

    /// The JPEG with `extra` inserted at `at`.
    fn with(jpeg: &[u8], at: usize, extra: &[u8]) -> Vec<u8> {
        [&jpeg[..at], extra, &jpeg[at..]].concat()
    }

    fn label(jpeg: &[u8], value: &str) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        write(&mut Cursor::new(jpeg), &mut out, value).unwrap();
        out.into_inner()
    }

    fn values(jpeg: &[u8]) -> Vec<String> {
        read(&mut Cursor::new(jpeg)).unwrap()
    }

    #[test]
    fn round_trip_keeps_image_data_and_pixels() {
        let original = sample_jpeg();
        assert!(values(&original).is_empty());
        let labelled = label(&original, VALUE);
        assert_eq!(values(&labelled), vec![VALUE.to_owned()]);
        let (codes, sos) = markers(&labelled);
        assert_eq!(
            &codes[..2],
            &[APP0, APP1],
            "XMP right after JFIF: {codes:02x?}"
        );
        assert_eq!(&labelled[sos..], &original[markers(&original).1..]);
        let before = image::load_from_memory(&original).unwrap().to_rgb8();
        let after = image::load_from_memory(&labelled).unwrap().to_rgb8();
        assert_eq!(before, after);
    }

    #[test]
    fn goes_after_exif_and_writing_twice_leaves_one_label() {
        let original = sample_jpeg();
        let jfif_end = 4 + u16::from_be_bytes([original[4], original[5]]) as usize;
        let exif = segment(APP1, b"Exif\0\0MM\0\x2a\0\0\0\x08\0\0");
        let with_exif = with(&original, jfif_end, &exif);
        let once = label(&with_exif, "first");
        let twice = label(&once, VALUE);
        assert_eq!(values(&twice), vec![VALUE.to_owned()]);
        let (codes, _) = markers(&twice);
        assert_eq!(codes.iter().filter(|&&code| code == APP1).count(), 2);
        assert_eq!(&twice[jfif_end..jfif_end + exif.len()], &exif[..]);
        assert_eq!(
            &twice[jfif_end + exif.len() + 4..][..XMP_HEADER.len()],
            XMP_HEADER
        );
        image::load_from_memory(&twice).unwrap();
    }

    #[test]
    fn reads_every_xmp_segment_and_keeps_other_properties() {
        let original = sample_jpeg();
        let other = "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:TC260=\"http://www.tc260.org.cn/ns/AIGC/1.0/\" TC260:AIGC=\"old\"><dc:creator>Ann</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>";
        let (_, sos) = markers(&original);
        let jpeg = with(
            &original,
            sos,
            &[xmp_app1(other), xmp_app1(&xmp::new_packet("second"))].concat(),
        );
        assert_eq!(values(&jpeg), vec!["old", "second"]);
        let labelled = label(&jpeg, VALUE);
        assert_eq!(values(&labelled), vec![VALUE.to_owned()]);
        assert!(String::from_utf8_lossy(&labelled).contains("<dc:creator>Ann</dc:creator>"));
        let (codes, _) = markers(&labelled);
        assert_eq!(codes.iter().filter(|&&code| code == APP1).count(), 1);
    }

    /// SOI, APP0 after fill bytes, TEM, a table, SOS, scan data with stuffing and RST markers,
    /// a table holding FF D9 between scans, a second scan, fill bytes before EOI, a trailer.
    fn synthetic() -> Vec<u8> {
        let mut jpeg = vec![0xFF, SOI, 0xFF, 0xFF];
        jpeg.extend_from_slice(&segment(APP0, b"JFIF\0\x01\x02\0\0\x01\0\x01\0\0"));
        jpeg.extend_from_slice(&[0xFF, TEM]);
        jpeg.extend_from_slice(&segment(0xDB, &[0; 65]));
        jpeg.extend_from_slice(&segment(SOS, &[1, 1, 0, 0, 63, 0]));
        jpeg.extend_from_slice(&[
            0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD0, 0x78, 0xFF, 0xD7, 0x9A,
        ]);
        jpeg.extend_from_slice(&segment(0xC4, &[0x10, 0xFF, 0xD9, 0x00]));
        jpeg.extend_from_slice(&segment(SOS, &[1, 1, 0, 0, 63, 0]));
        jpeg.extend_from_slice(&[0xAB, 0xFF, 0x00, 0xFF, 0xFF, 0xFF, EOI]);
        jpeg.extend_from_slice(b"trailer");
        jpeg
    }

    #[test]
    fn handles_fill_bytes_standalone_markers_and_progressive_tables() {
        let jpeg = synthetic();
        let labelled = label(&jpeg, VALUE);
        assert_eq!(values(&labelled), vec![VALUE.to_owned()]);
        assert!(labelled.starts_with(&[0xFF, SOI, 0xFF, 0xFF, 0xFF, APP0]));
        let app0_end = 4 + 2 + 16;
        assert_eq!(&labelled[app0_end..app0_end + 2], &[0xFF, APP1]);
        let tail = &jpeg[app0_end..];
        assert!(
            labelled.ends_with(tail),
            "everything after APP0 is unchanged"
        );
        // Cut before the final EOI: the FF D9 inside the table must not count as the end.
        let cut = jpeg.len() - b"trailer".len() - 1;
        for short in [
            &jpeg[..cut],
            &labelled[..labelled.len() - b"trailer".len() - 1],
        ] {
            assert!(matches!(
                read(&mut Cursor::new(short)),
                Err(MarkError::Truncated { .. })
            ));
        }
    }

    #[test]
    fn a_packet_too_large_for_one_segment_is_refused() {
        let big = "x".repeat(MAX_PACKET);
        let error = write(
            &mut Cursor::new(sample_jpeg()),
            &mut Cursor::new(Vec::new()),
            &big,
        )
        .unwrap_err();
        assert!(
            matches!(error, MarkError::InvalidLabel(ref message) if message.contains("Extended XMP")),
            "{error}"
        );
    }

    #[test]
    fn truncated_and_damaged_files_are_errors_not_panics() {
        for jpeg in [label(&sample_jpeg(), VALUE), label(&synthetic(), VALUE)] {
            let end = jpeg
                .windows(2)
                .rposition(|pair| pair == [0xFF, EOI])
                .unwrap()
                + 2;
            assert_cuts_fail(&jpeg, 0..end, read, write, VALUE);
            assert_damage_never_panics(&jpeg, read, write, VALUE);
        }
        let error = read(&mut Cursor::new(b"\xff\xd8\x00\x00")).unwrap_err();
        assert!(
            matches!(error, MarkError::Corrupt { ref detail, .. } if detail.contains("offset 2")),
            "{error}"
        );
    }

    #[test]
    fn issue_10_jpeg_xmp_attribute_alt_and_comment_labels_leave_one_after_write() {
        use crate::formats::test_support::{HOSTILE_XMP_LABELS, hostile_xmp};
        let original = sample_jpeg();
        let (_, sos) = markers(&original);
        let jpeg = with(&original, sos, &xmp_app1(&hostile_xmp()));
        assert_eq!(values(&jpeg), HOSTILE_XMP_LABELS);
        let once = label(&jpeg, VALUE);
        assert_eq!(values(&once), vec![VALUE.to_owned()]);
        assert!(String::from_utf8_lossy(&once).contains("<dc:creator>Ann</dc:creator>"));
        let twice = label(&once, "second");
        assert_eq!(values(&twice), vec!["second".to_owned()]);
        image::load_from_memory(&twice).unwrap();
    }
}
