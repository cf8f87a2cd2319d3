//! MP3 labels: the TC260 audio guide (202510A) puts the implicit label in an ID3v2 `TXXX`
//! (user-defined text) frame whose description is `AIGC` and whose value is the JSON text.
//!
//! Only the ID3v2 tag at the start of the file is parsed (versions 2.3 and 2.4: header,
//! optional extended header, frames, padding, v2.4 footer). Everything after it, MPEG audio
//! frames and any ID3v1 `TAG` trailer, is the audio stream and is copied unchanged.
//!
//! - [`read`] returns the value of every `TXXX:AIGC` frame (ISO-8859-1, UTF-16 with BOM,
//!   UTF-16BE and UTF-8 values are decoded).
//! - [`write`] keeps the tag's version (a file without a tag gets a new ID3v2.4 tag), keeps every
//!   other frame byte for byte and in order, drops `TXXX:AIGC` frames, appends one new
//!   `TXXX:AIGC` frame (UTF-8 in v2.4; ISO-8859-1 when the value is ASCII, else UTF-16 with BOM,
//!   in v2.3), writes the tag without padding and then streams the audio. Frame sizes follow the
//!   version: plain 32-bit in v2.3, synchsafe in v2.4.
//!
//! The new tag drops the extended header (its CRC would no longer match), the v2.4 footer and the
//! old padding. A v2.3 tag using whole-tag unsynchronisation is decoded and written without it; a
//! v2.4 tag's unsynchronisation flag is kept, since its frames stay as they were.
//!
//! Out of scope: ID3v2.2 tags and unknown versions ([`MarkError::Unsupported`]), tags appended
//! at the end of the file or a second tag after the first (copied as audio, not read), compressed
//! or encrypted `TXXX` frames ([`MarkError::Unsupported`]: Warden cannot tell whether they are
//! labels), tags over 64 MiB, and APEv2 or ID3v1 fields.

use std::io::{Read, Seek, SeekFrom, Write};

use crate::error::MarkError;

const FORMAT: &str = "MP3";
const DESCRIPTION: &str = "AIGC";
/// The largest ID3v2 tag loaded into memory (cover art included).
const MAX_TAG: usize = 64 << 20;
/// The largest size a synchsafe 28-bit integer holds.
const MAX_SYNCHSAFE: usize = (1 << 28) - 1;

/// Header flag: unsynchronisation.
const FLAG_UNSYNC: u8 = 0x80;
/// Header flag: an extended header follows.
const FLAG_EXTENDED: u8 = 0x40;
/// Header flag (v2.4): a footer follows the tag.
const FLAG_FOOTER: u8 = 0x10;

/// The ID3v2 tag at the start of a file.
struct Tag {
    /// 3 or 4.
    major: u8,
    flags: u8,
    /// The frames and padding: after the extended header, de-unsynchronised for v2.3.
    frames: Vec<u8>,
    /// File offset of the first byte after the tag (footer included).
    end: u64,
}

/// One frame inside [`Tag::frames`].
struct Frame<'a> {
    id: [u8; 4],
    flags: [u8; 2],
    /// Header and data, as stored.
    raw: &'a [u8],
    /// Offset of the frame inside the frame area, for messages.
    offset: usize,
}

fn synchsafe(bytes: [u8; 4]) -> Option<usize> {
    if bytes.iter().any(|b| b & 0x80 != 0) {
        return None;
    }
    Some(
        bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 7) | usize::from(b)),
    )
}

fn to_synchsafe(value: usize) -> Option<[u8; 4]> {
    if value > MAX_SYNCHSAFE {
        return None;
    }
    let byte = |shift: u32| ((value >> shift) & 0x7F) as u8;
    Some([byte(21), byte(14), byte(7), byte(0)])
}

fn be32(bytes: &[u8], at: usize) -> Option<[u8; 4]> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some([*b.first()?, *b.get(1)?, *b.get(2)?, *b.get(3)?])
}

/// Undo unsynchronisation: every `FF 00` becomes `FF`.
fn deunsync(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut previous_ff = false;
    for &b in data {
        if previous_ff && b == 0 {
            previous_ff = false;
            continue;
        }
        out.push(b);
        previous_ff = b == 0xFF;
    }
    out
}

/// Read the tag at the start of `input`, or `None` when the file does not start with one.
fn read_tag<R: Read + Seek>(input: &mut R) -> Result<Option<Tag>, MarkError> {
    input.seek(SeekFrom::Start(0))?;
    let mut header = Vec::with_capacity(10);
    (&mut *input).take(10).read_to_end(&mut header)?;
    if !header.starts_with(b"ID3") {
        return Ok(None);
    }
    let [_, _, _, major, revision, flags, s0, s1, s2, s3] = header[..] else {
        return Err(MarkError::truncated(FORMAT, "the ID3v2 header is cut off"));
    };
    if major == 2 {
        return Err(MarkError::Unsupported(
            "an MP3 with an ID3v2.2 tag; Warden labels ID3v2.3 and ID3v2.4 tags (re-save the tags with a current tagger)"
                .into(),
        ));
    }
    if !(major == 3 || major == 4) || revision == 0xFF {
        return Err(MarkError::Unsupported(format!(
            "an MP3 with an ID3v2.{major}.{revision} tag"
        )));
    }
    let known = if major == 3 { 0xE0 } else { 0xF0 };
    if flags & !known != 0 {
        return Err(MarkError::corrupt(
            FORMAT,
            format!("ID3v2.{major} header has unknown flags {flags:#04x}"),
        ));
    }
    let size = synchsafe([s0, s1, s2, s3])
        .ok_or_else(|| MarkError::corrupt(FORMAT, "ID3v2 tag size is not a synchsafe integer"))?;
    if size > MAX_TAG {
        return Err(MarkError::Unsupported(format!(
            "an ID3v2 tag of {size} bytes; Warden loads tags up to {MAX_TAG} bytes"
        )));
    }
    let mut body = Vec::new();
    (&mut *input).take(size as u64).read_to_end(&mut body)?;
    if body.len() != size {
        return Err(MarkError::truncated(
            FORMAT,
            format!("the ID3v2 tag declares {size} bytes but the file ends first"),
        ));
    }
    let mut end = 10 + size as u64;
    if major == 4 && flags & FLAG_FOOTER != 0 {
        let mut footer = [0u8; 10];
        input
            .read_exact(&mut footer)
            .map_err(|e| MarkError::from_read(FORMAT, e))?;
        if !footer.starts_with(b"3DI") {
            return Err(MarkError::corrupt(
                FORMAT,
                format!("ID3v2.4 footer missing at offset {end}"),
            ));
        }
        end += 10;
    }
    if major == 3 && flags & FLAG_UNSYNC != 0 {
        body = deunsync(&body);
    }
    let mut frames_start = 0;
    if flags & FLAG_EXTENDED != 0 {
        let raw = be32(&body, 0)
            .ok_or_else(|| MarkError::corrupt(FORMAT, "ID3v2 extended header is cut off"))?;
        frames_start = if major == 3 {
            // The size excludes its own four bytes.
            (u32::from_be_bytes(raw) as usize).saturating_add(4)
        } else {
            synchsafe(raw).ok_or_else(|| {
                MarkError::corrupt(FORMAT, "ID3v2.4 extended header size is not synchsafe")
            })?
        };
        if frames_start < 6 || frames_start > body.len() {
            return Err(MarkError::corrupt(
                FORMAT,
                "ID3v2 extended header size is out of range",
            ));
        }
    }
    let frames = body
        .get(frames_start..)
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    Ok(Some(Tag {
        major,
        flags,
        frames,
        end,
    }))
}

fn valid_id(id: &[u8]) -> bool {
    id.len() == 4
        && id
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// True when a frame may end at `at`: the end of the area, padding, or another frame header.
fn plausible_frame_end(area: &[u8], at: usize) -> bool {
    match area.get(at..) {
        Some([]) | Some([0, ..]) => true,
        Some(rest) => rest.get(..4).is_some_and(valid_id),
        None => false,
    }
}

/// Split the frame area into frames, stopping at padding.
fn frames(tag: &Tag) -> Result<Vec<Frame<'_>>, MarkError> {
    let area = tag.frames.as_slice();
    let mut out = Vec::new();
    let mut pos = 0usize;
    while let Some(header) = area.get(pos..pos.saturating_add(10)) {
        let [i0, i1, i2, i3, s0, s1, s2, s3, f0, f1] = *header else {
            break;
        };
        if i0 == 0 {
            break; // padding
        }
        let id = [i0, i1, i2, i3];
        if !valid_id(&id) {
            return Err(MarkError::corrupt(
                FORMAT,
                format!(
                    "invalid ID3v2 frame id {:?} at offset {pos} of the frame area",
                    String::from_utf8_lossy(&id)
                ),
            ));
        }
        let plain = u32::from_be_bytes([s0, s1, s2, s3]) as usize;
        let size = if tag.major == 3 {
            plain
        } else {
            // Some taggers (old iTunes) wrote plain sizes into v2.4 tags: prefer the reading
            // after which the next frame header makes sense.
            match synchsafe([s0, s1, s2, s3]) {
                Some(safe)
                    if safe == plain
                        || plausible_frame_end(area, pos + 10 + safe)
                        || !plausible_frame_end(
                            area,
                            pos.saturating_add(10).saturating_add(plain),
                        ) =>
                {
                    safe
                }
                _ => plain,
            }
        };
        let end = pos.checked_add(10).and_then(|p| p.checked_add(size)).filter(|&e| e <= area.len()).ok_or_else(|| {
            MarkError::corrupt(
                FORMAT,
                format!(
                    "ID3v2 frame {} at offset {pos} of the frame area declares {size} bytes past the end of the tag",
                    String::from_utf8_lossy(&id)
                ),
            )
        })?;
        let raw = area.get(pos..end).unwrap_or_default();
        out.push(Frame {
            id,
            flags: [f0, f1],
            raw,
            offset: pos,
        });
        pos = end;
    }
    Ok(out)
}

/// The frame's content with unsynchronisation and per-frame extra bytes removed, or `None`
/// when it is compressed or encrypted.
fn content(tag: &Tag, frame: &Frame<'_>) -> Option<Vec<u8>> {
    let data = frame.raw.get(10..)?;
    let [_, format] = frame.flags;
    if tag.major == 3 {
        if format & 0xC0 != 0 {
            return None;
        }
        let skip = if format & 0x20 != 0 { 1 } else { 0 };
        return data.get(skip..).map(<[u8]>::to_vec);
    }
    if format & 0x0C != 0 {
        return None;
    }
    let data = if format & 0x02 != 0 || tag.flags & FLAG_UNSYNC != 0 {
        deunsync(data)
    } else {
        data.to_vec()
    };
    let skip = (if format & 0x40 != 0 { 1 } else { 0 }) + (if format & 0x01 != 0 { 4 } else { 0 });
    data.get(skip..).map(<[u8]>::to_vec)
}

/// Split at the encoding's terminator: returns the text before it and what follows it.
fn split_terminated(encoding: u8, bytes: &[u8]) -> (&[u8], &[u8]) {
    let at = if encoding == 1 || encoding == 2 {
        bytes
            .chunks_exact(2)
            .position(|pair| pair == [0, 0])
            .map(|i| (i * 2, i * 2 + 2))
    } else {
        bytes.iter().position(|&b| b == 0).map(|i| (i, i + 1))
    };
    match at {
        Some((end, next)) => (
            bytes.get(..end).unwrap_or_default(),
            bytes.get(next..).unwrap_or_default(),
        ),
        None => (bytes, &[]),
    }
}

fn decode_utf16(bytes: &[u8], mut big_endian: bool) -> Option<String> {
    let mut bytes = bytes;
    match bytes {
        [0xFF, 0xFE, rest @ ..] => {
            big_endian = false;
            bytes = rest;
        }
        [0xFE, 0xFF, rest @ ..] => {
            big_endian = true;
            bytes = rest;
        }
        _ => {}
    }
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let units = bytes.chunks_exact(2).map(|p| match p {
        [a, b] if big_endian => u16::from_be_bytes([*a, *b]),
        [a, b] => u16::from_le_bytes([*a, *b]),
        _ => 0,
    });
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .ok()
}

/// Decode an ID3v2 text; `None` for an unknown encoding or invalid bytes.
fn decode(encoding: u8, bytes: &[u8]) -> Option<String> {
    match encoding {
        0 => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        // UTF-16 without a BOM is big-endian per Unicode.
        1 | 2 => decode_utf16(bytes, true),
        3 => String::from_utf8(bytes.to_vec()).ok(),
        _ => None,
    }
}

/// The value when `frame` is a `TXXX:AIGC` frame; `Ok(None)` for any other frame.
fn label_value(tag: &Tag, frame: &Frame<'_>) -> Result<Option<String>, MarkError> {
    if &frame.id != b"TXXX" {
        return Ok(None);
    }
    let Some(content) = content(tag, frame) else {
        return Err(MarkError::Unsupported(format!(
            "an MP3 whose TXXX frame at offset {} of the ID3v2 tag is compressed or encrypted; Warden cannot tell whether it is a label",
            frame.offset
        )));
    };
    let Some((&encoding, rest)) = content.split_first() else {
        return Ok(None);
    };
    let (description, rest) = split_terminated(encoding, rest);
    if decode(encoding, description).as_deref() != Some(DESCRIPTION) {
        return Ok(None);
    }
    let (value, _) = split_terminated(encoding, rest);
    decode(encoding, value).map(Some).ok_or_else(|| {
        MarkError::corrupt(
            FORMAT,
            format!("TXXX:AIGC frame at offset {} of the ID3v2 tag has an undecodable value (encoding {encoding})", frame.offset),
        )
    })
}

/// Every label value in the file: each `TXXX:AIGC` frame of the leading ID3v2 tag, in order.
pub fn read<R: Read + Seek>(input: &mut R) -> Result<Vec<String>, MarkError> {
    let Some(tag) = read_tag(input)? else {
        return Ok(Vec::new());
    };
    let mut labels = Vec::new();
    for frame in frames(&tag)? {
        if let Some(value) = label_value(&tag, &frame)? {
            labels.push(value);
        }
    }
    Ok(labels)
}

/// A new `TXXX:AIGC` frame for an ID3v2.`major` tag.
fn label_frame(major: u8, unsync_tag: bool, value: &str) -> Result<Vec<u8>, MarkError> {
    let mut data = Vec::with_capacity(value.len() + 8);
    if major == 3 {
        if value.is_ascii() {
            data.push(0);
            data.extend_from_slice(DESCRIPTION.as_bytes());
            data.push(0);
            data.extend_from_slice(value.as_bytes());
        } else {
            data.push(1);
            for text in [DESCRIPTION, value] {
                data.extend_from_slice(&[0xFF, 0xFE]);
                data.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
                if text == DESCRIPTION {
                    data.extend_from_slice(&[0, 0]);
                }
            }
        }
    } else {
        data.push(3);
        data.extend_from_slice(DESCRIPTION.as_bytes());
        data.push(0);
        data.extend_from_slice(value.as_bytes());
    }
    let too_large =
        || MarkError::InvalidLabel("the label is larger than an ID3v2 frame can hold".into());
    let mut frame = b"TXXX".to_vec();
    if major == 3 {
        frame.extend_from_slice(
            &u32::try_from(data.len())
                .map_err(|_| too_large())?
                .to_be_bytes(),
        );
        frame.extend_from_slice(&[0, 0]);
    } else {
        frame.extend_from_slice(&to_synchsafe(data.len()).ok_or_else(too_large)?);
        // UTF-8 never contains 0xFF, so the frame is already unsynchronised; say so when the
        // tag declares unsynchronisation.
        frame.extend_from_slice(&[0, if unsync_tag { 0x02 } else { 0 }]);
    }
    frame.extend_from_slice(&data);
    Ok(frame)
}

/// Copy with exactly one `TXXX:AIGC` frame holding `value`.
///
/// ID3v2.2 tags and compressed or encrypted `TXXX` frames are refused with
/// [`MarkError::Unsupported`].
pub fn write<R: Read + Seek, W: Write + Seek>(
    input: &mut R,
    output: &mut W,
    value: &str,
) -> Result<(), MarkError> {
    let tag = read_tag(input)?;
    let (major, flags, mut body, audio_start) = match &tag {
        Some(tag) => {
            let mut kept = Vec::with_capacity(tag.frames.len());
            for frame in frames(tag)? {
                if label_value(tag, &frame)?.is_none() {
                    kept.extend_from_slice(frame.raw);
                }
            }
            // Only v2.4's unsynchronisation flag survives: its frames are kept as they are.
            let flags = if tag.major == 4 {
                tag.flags & FLAG_UNSYNC
            } else {
                0
            };
            (tag.major, flags, kept, tag.end)
        }
        None => (4, 0, Vec::new(), 0),
    };
    body.extend_from_slice(&label_frame(major, flags & FLAG_UNSYNC != 0, value)?);
    let size = to_synchsafe(body.len()).ok_or_else(|| {
        MarkError::InvalidLabel("the labelled ID3v2 tag would exceed 256 MiB".into())
    })?;
    output.write_all(b"ID3")?;
    output.write_all(&[major, 0, flags])?;
    output.write_all(&size)?;
    output.write_all(&body)?;
    input.seek(SeekFrom::Start(audio_start))?;
    std::io::copy(input, output).map_err(|e| MarkError::from_read(FORMAT, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(major: u8, id: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = id.to_vec();
        if major == 3 {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        } else {
            out.extend_from_slice(&to_synchsafe(data.len()).unwrap());
        }
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(data);
        out
    }

    fn tag(major: u8, flags: u8, body: &[u8], padding: usize) -> Vec<u8> {
        let mut out = b"ID3".to_vec();
        out.extend_from_slice(&[major, 0, flags]);
        out.extend_from_slice(&to_synchsafe(body.len() + padding).unwrap());
        out.extend_from_slice(body);
        out.extend(std::iter::repeat_n(0, padding));
        out
    }

    fn tit2() -> Vec<u8> {
        [&[0u8][..], b"A title"].concat()
    }

    fn utf16_txxx(description: &str, value: &str) -> Vec<u8> {
        let mut data = vec![1u8];
        data.extend_from_slice(&[0xFF, 0xFE]);
        data.extend(description.encode_utf16().flat_map(u16::to_le_bytes));
        data.extend_from_slice(&[0, 0, 0xFF, 0xFE]);
        data.extend(value.encode_utf16().flat_map(u16::to_le_bytes));
        data
    }

    /// Fake MPEG frames plus an ID3v1 trailer.
    fn audio() -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..3u8 {
            out.extend_from_slice(&[0xFF, 0xFB, 0x90, 0x64]);
            out.extend((0..200u16).map(|j| (j as u8).wrapping_mul(i + 3)));
        }
        out.extend_from_slice(b"TAG");
        out.extend(std::iter::repeat_n(b' ', 125));
        out
    }

    fn write_to_vec(input: &[u8], value: &str) -> Result<Vec<u8>, MarkError> {
        crate::formats::test_support::write_vec(write, input, value)
    }

    fn read_vec(input: &[u8]) -> Result<Vec<String>, MarkError> {
        crate::formats::test_support::read_vec(read, input)
    }

    fn tag_len(file: &[u8]) -> usize {
        10 + synchsafe(file[6..10].try_into().unwrap()).unwrap()
    }

    #[test]
    fn v23_round_trip_keeps_frames_and_audio() {
        let title = frame(3, b"TIT2", &tit2());
        let other = frame(3, b"TXXX", &utf16_txxx("Mood", "calm"));
        let old = frame(3, b"TXXX", &utf16_txxx("AIGC", "{\"old\":\"标签\"}"));
        let input = [
            tag(3, 0, &[title.clone(), old, other.clone()].concat(), 64),
            audio(),
        ]
        .concat();
        assert_eq!(
            read_vec(&input).unwrap(),
            vec!["{\"old\":\"标签\"}".to_string()]
        );

        let value = r#"{"Label":"1","ContentProducer":"001"}"#;
        let out = write_to_vec(&input, value).unwrap();
        assert_eq!(read_vec(&out).unwrap(), vec![value.to_string()]);
        assert_eq!(out[3], 3, "the version is kept");
        let body = &out[10..tag_len(&out)];
        assert!(
            body.starts_with(&[title, other].concat()),
            "other frames stay byte for byte, in order"
        );
        assert_eq!(&out[tag_len(&out)..], &audio()[..]);

        // A non-ASCII value in v2.3 goes into UTF-16.
        let out = write_to_vec(&out, "{\"x\":\"标签\"}").unwrap();
        assert_eq!(
            read_vec(&out).unwrap(),
            vec!["{\"x\":\"标签\"}".to_string()]
        );
    }

    #[test]
    fn v24_writing_twice_leaves_one_label() {
        let input = [tag(4, 0, &frame(4, b"TIT2", &tit2()), 100), audio()].concat();
        let once = write_to_vec(&input, "{\"a\":\"1\"}").unwrap();
        let twice = write_to_vec(&once, "{\"b\":\"2\"}").unwrap();
        assert_eq!(read_vec(&twice).unwrap(), vec!["{\"b\":\"2\"}".to_string()]);
        assert_eq!(twice.len(), once.len());
        assert_eq!(&twice[tag_len(&twice)..], &audio()[..]);
        assert!(twice[10..].starts_with(&frame(4, b"TIT2", &tit2())));
    }

    #[test]
    fn file_without_tag_gets_a_v24_tag() {
        let out = write_to_vec(&audio(), "{\"Label\":\"2\"}").unwrap();
        assert_eq!(&out[..4], b"ID3\x04");
        assert_eq!(
            read_vec(&out).unwrap(),
            vec!["{\"Label\":\"2\"}".to_string()]
        );
        assert_eq!(&out[tag_len(&out)..], &audio()[..]);
        assert!(read_vec(&audio()).unwrap().is_empty());
    }

    #[test]
    fn decodes_every_text_encoding() {
        let latin = [&[0u8][..], b"AIGC\0{\"e\":0}\0"].concat();
        let mut be = vec![2u8];
        be.extend("AIGC".encode_utf16().flat_map(u16::to_be_bytes));
        be.extend_from_slice(&[0, 0]);
        be.extend("{\"e\":2}".encode_utf16().flat_map(u16::to_be_bytes));
        let utf8 = [&[3u8][..], "AIGC\0{\"e\":\"三\"}".as_bytes()].concat();
        let body = [
            frame(4, b"TXXX", &latin),
            frame(4, b"TXXX", &be),
            frame(4, b"TXXX", &utf8),
        ]
        .concat();
        let input = [tag(4, 0, &body, 0), audio()].concat();
        assert_eq!(
            read_vec(&input).unwrap(),
            vec!["{\"e\":0}", "{\"e\":2}", "{\"e\":\"三\"}"]
        );
    }

    #[test]
    fn v23_unsynchronised_tag_and_extended_header() {
        // A title containing FF E0, which unsynchronisation escapes as FF 00 E0.
        let title = frame(3, b"TIT2", &[0, b'x', 0xFF, 0xE0, b'y']);
        let label = frame(3, b"TXXX", b"\0AIGC\0{\"u\":1}");
        let mut plain = vec![0, 0, 0, 6, 0, 0, 0, 0, 0, 0]; // extended header, no CRC
        plain.extend_from_slice(&title);
        plain.extend_from_slice(&label);
        let mut escaped = Vec::new();
        for (i, &b) in plain.iter().enumerate() {
            escaped.push(b);
            if b == 0xFF && plain.get(i + 1).is_some_and(|&n| n >= 0xE0 || n == 0) {
                escaped.push(0);
            }
        }
        assert!(escaped.len() > plain.len());
        let input = [tag(3, FLAG_UNSYNC | FLAG_EXTENDED, &escaped, 0), audio()].concat();
        assert_eq!(read_vec(&input).unwrap(), vec!["{\"u\":1}".to_string()]);
        let out = write_to_vec(&input, "{\"u\":2}").unwrap();
        assert_eq!(out[5], 0, "no unsynchronisation, no extended header");
        assert!(out[10..].starts_with(&title));
        assert_eq!(read_vec(&out).unwrap(), vec!["{\"u\":2}".to_string()]);
        assert_eq!(&out[tag_len(&out)..], &audio()[..]);
    }

    #[test]
    fn v24_footer_and_itunes_plain_sizes() {
        // A 300-byte frame whose size was written as a plain integer (0x0000012C).
        let mut long = frame(4, b"COMM", &[b'c'; 300]);
        long[4..8].copy_from_slice(&300u32.to_be_bytes());
        let body = [long.clone(), frame(4, b"TXXX", b"\x03AIGC\0{}")].concat();
        let mut input = tag(4, FLAG_FOOTER, &body, 0);
        let mut footer = input[..10].to_vec();
        footer[..3].copy_from_slice(b"3DI");
        input.extend_from_slice(&footer);
        input.extend_from_slice(&audio());
        assert_eq!(read_vec(&input).unwrap(), vec!["{}".to_string()]);
        let out = write_to_vec(&input, "{\"f\":1}").unwrap();
        assert_eq!(out[5], 0);
        assert!(out[10..].starts_with(&long));
        assert_eq!(read_vec(&out).unwrap(), vec!["{\"f\":1}".to_string()]);
        assert_eq!(&out[tag_len(&out)..], &audio()[..]);
    }

    #[test]
    fn unsupported_tags_are_refused() {
        let v22 = [tag(2, 0, b"TT2\0\0\x02\0a", 0), audio()].concat();
        assert!(matches!(read_vec(&v22), Err(MarkError::Unsupported(_))));
        assert!(matches!(
            write_to_vec(&v22, "{}"),
            Err(MarkError::Unsupported(_))
        ));
        let mut compressed = frame(3, b"TXXX", b"\0\0\0\x10xxxxxxxx");
        compressed[9] = 0x80;
        let input = [tag(3, 0, &compressed, 0), audio()].concat();
        assert!(matches!(
            write_to_vec(&input, "{}"),
            Err(MarkError::Unsupported(_))
        ));
        // A compressed frame other than TXXX is simply kept.
        compressed[..4].copy_from_slice(b"APIC");
        let input = [tag(3, 0, &compressed, 0), audio()].concat();
        let out = write_to_vec(&input, "{}").unwrap();
        assert!(out[10..].starts_with(&compressed));
    }

    #[test]
    fn truncated_and_corrupt_inputs_are_errors() {
        let body = [
            frame(4, b"TIT2", &tit2()),
            frame(4, b"TXXX", b"\x03AIGC\0{}"),
        ]
        .concat();
        let input = [tag(4, 0, &body, 8), audio()].concat();
        let end = tag_len(&input);
        for len in 0..end {
            let cut = &input[..len];
            if len >= 3 {
                assert!(
                    matches!(read_vec(cut), Err(MarkError::Truncated { .. })),
                    "{len}"
                );
            }
            if let Err(e) = write_to_vec(cut, "{}") {
                assert!(matches!(e, MarkError::Truncated { .. }), "{len}: {e}");
            }
        }
        let mut bad = input.clone();
        bad[10] = b't'; // lower-case frame id
        assert!(matches!(read_vec(&bad), Err(MarkError::Corrupt { .. })));
        let mut bad = input.clone();
        bad[14..18].copy_from_slice(&[0x7F; 4]); // frame larger than the tag
        assert!(matches!(read_vec(&bad), Err(MarkError::Corrupt { .. })));
        let mut bad = input;
        bad[6] = 0x80; // not synchsafe
        assert!(matches!(
            write_to_vec(&bad, "{}"),
            Err(MarkError::Corrupt { .. })
        ));
    }
}
