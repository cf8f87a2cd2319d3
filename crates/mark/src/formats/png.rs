//! PNG: the label lives in the standard XMP packet, an `iTXt` chunk with keyword
//! `XML:com.adobe.xmp`, as TC260 practice guide 20259A places it for PNG images.
//!
//! - **Write** puts one uncompressed XMP `iTXt` chunk right after `IHDR` (so readers that stop at
//!   the first `IDAT` still see it). An existing XMP packet is updated with [`xmp::set_value`],
//!   which keeps every other property; further XMP chunks are dropped. Label chunks in the guide's
//!   Annex B form (`tEXt`, `iTXt` or `zTXt` with keyword `AIGC`) are removed so that exactly one
//!   label remains. Every other chunk, and any bytes after `IEND`, are copied unchanged; chunk data
//!   is streamed in bounded buffers and every copied chunk's CRC is checked on the way.
//! - **Read** returns the labels of every uncompressed XMP `iTXt` chunk and every `tEXt` / `iTXt`
//!   chunk with keyword `AIGC`, in file order, verifying the CRC of each chunk it decodes and
//!   seeking over all other chunk data.
//!
//! Out of scope: zlib-compressed text. The crate has no inflate code of its own, so a compressed
//! XMP `iTXt` (compression flag 1) is skipped on read and refused on write (updating it would lose
//! the packet's other properties); compressed `AIGC` chunks are skipped on read and removed on
//! write. Text chunks Warden decodes are capped at 16 MiB so a hostile file cannot exhaust memory.

use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use crate::error::MarkError;
use crate::xmp;

const FORMAT: &str = "PNG";
const SIGNATURE: [u8; 8] = *b"\x89PNG\r\n\x1a\n";
/// Keyword of the XMP `iTXt` chunk.
const XMP_KEYWORD: &[u8] = b"XML:com.adobe.xmp";
/// Keyword of the TC260 guide's Annex B text chunk.
const LABEL_KEYWORD: &[u8] = b"AIGC";
/// Largest chunk length the PNG specification allows.
const MAX_CHUNK_LENGTH: u32 = 0x7FFF_FFFF;
/// Largest text chunk Warden reads into memory.
const MAX_TEXT_CHUNK: u32 = 16 << 20;
/// Enough of a text chunk to hold a keyword (1-79 bytes), its NUL and the iTXt flag bytes.
const TEXT_PREFIX: u32 = 82;

/// A running chunk CRC (ISO 3309 CRC-32 over type and data), computed with `crc32fast`'s
/// SIMD kernels so checking every copied chunk costs little next to the copy itself.
#[derive(Clone)]
struct Crc(crc32fast::Hasher);

impl Crc {
    fn new() -> Self {
        Crc(crc32fast::Hasher::new())
    }

    fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(self) -> u32 {
        self.0.finalize()
    }
}

/// A writer that feeds everything it writes into a CRC.
struct CrcWriter<'a, W> {
    inner: W,
    crc: &'a mut Crc,
}

impl<W: Write> Write for CrcWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.crc.update(buf.get(..written).unwrap_or_default());
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A chunk header: where it starts, its data length and its type.
struct Chunk {
    offset: u64,
    length: u32,
    kind: [u8; 4],
}

impl Chunk {
    fn name(&self) -> String {
        String::from_utf8_lossy(&self.kind).into_owned()
    }

    /// Offset of the next chunk.
    fn end(&self) -> u64 {
        self.offset + 12 + u64::from(self.length)
    }

    fn is_text(&self) -> bool {
        matches!(&self.kind, b"tEXt" | b"iTXt" | b"zTXt")
    }
}

/// What a chunk means for the label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// Not a label chunk: copied unchanged.
    Other,
    /// An uncompressed XMP `iTXt` chunk.
    Xmp,
    /// A zlib-compressed XMP `iTXt` chunk.
    CompressedXmp,
    /// A `tEXt` or uncompressed `iTXt` chunk with keyword `AIGC`.
    Label,
    /// A `zTXt` or compressed `iTXt` chunk with keyword `AIGC`.
    CompressedLabel,
}

impl Role {
    /// Whether the chunk's whole data must be read and decoded.
    fn decoded(self) -> bool {
        matches!(self, Role::Xmp | Role::Label)
    }
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

fn check_signature<R: Read>(input: &mut R) -> Result<(), MarkError> {
    let mut signature = [0u8; 8];
    fill(input, &mut signature, || {
        "the file is shorter than the 8-byte PNG signature".into()
    })?;
    if signature != SIGNATURE {
        return Err(MarkError::corrupt(
            FORMAT,
            "the file does not start with the PNG signature",
        ));
    }
    Ok(())
}

fn read_header<R: Read>(input: &mut R, offset: u64) -> Result<Chunk, MarkError> {
    let mut head = [0u8; 8];
    fill(input, &mut head, || {
        format!("the file ends at offset {offset}, where a chunk header is expected, before IEND")
    })?;
    let [l0, l1, l2, l3, k0, k1, k2, k3] = head;
    let chunk = Chunk {
        offset,
        length: u32::from_be_bytes([l0, l1, l2, l3]),
        kind: [k0, k1, k2, k3],
    };
    if !chunk.kind.iter().all(u8::is_ascii_alphabetic) {
        return Err(MarkError::corrupt(
            FORMAT,
            format!("invalid chunk type {:02x?} at offset {offset}", chunk.kind),
        ));
    }
    if chunk.length > MAX_CHUNK_LENGTH {
        return Err(MarkError::corrupt(
            FORMAT,
            format!(
                "{} chunk at offset {offset} declares {} bytes, more than PNG allows",
                chunk.name(),
                chunk.length
            ),
        ));
    }
    Ok(chunk)
}

/// The keyword of a text chunk and what follows its NUL separator, if the prefix holds them.
fn split_keyword(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let nul = data.iter().position(|&byte| byte == 0)?;
    Some((data.get(..nul)?, data.get(nul + 1..)?))
}

/// Classify a text chunk from the first bytes of its data.
fn classify(chunk: &Chunk, prefix: &[u8]) -> Result<Role, MarkError> {
    let Some((keyword, rest)) = split_keyword(prefix) else {
        return Ok(Role::Other);
    };
    let is_xmp = keyword == XMP_KEYWORD;
    let is_label = keyword == LABEL_KEYWORD;
    if !is_xmp && !is_label {
        return Ok(Role::Other);
    }
    let compressed = match &chunk.kind {
        b"tEXt" => false,
        b"zTXt" => true,
        _ => match rest.first() {
            Some(0) => false,
            Some(1) => true,
            Some(flag) => {
                return Err(MarkError::corrupt(
                    FORMAT,
                    format!(
                        "iTXt chunk at offset {} has compression flag {flag}",
                        chunk.offset
                    ),
                ));
            }
            None => {
                return Err(MarkError::corrupt(
                    FORMAT,
                    format!(
                        "iTXt chunk at offset {} ends before its compression flag",
                        chunk.offset
                    ),
                ));
            }
        },
    };
    Ok(match (is_xmp, compressed) {
        // An XMP packet in tEXt/zTXt is not the standard place; leave it alone.
        (true, _) if &chunk.kind != b"iTXt" => Role::Other,
        (true, false) => Role::Xmp,
        (true, true) => Role::CompressedXmp,
        (false, false) => Role::Label,
        (false, true) => Role::CompressedLabel,
    })
}

/// Read the first bytes of a text chunk's data (the keyword and flags).
fn read_prefix<R: Read>(input: &mut R, chunk: &Chunk) -> Result<Vec<u8>, MarkError> {
    let mut prefix = vec![0u8; chunk.length.min(TEXT_PREFIX) as usize];
    fill(input, &mut prefix, || {
        format!(
            "{} chunk at offset {} is cut short",
            chunk.name(),
            chunk.offset
        )
    })?;
    Ok(prefix)
}

/// Read the rest of a chunk's data after `prefix` and its CRC, and verify the CRC.
fn read_body<R: Read>(input: &mut R, chunk: &Chunk, prefix: Vec<u8>) -> Result<Vec<u8>, MarkError> {
    if chunk.length > MAX_TEXT_CHUNK {
        return Err(MarkError::corrupt(
            FORMAT,
            format!(
                "{} chunk at offset {} holds {} bytes; Warden refuses label chunks over {} bytes",
                chunk.name(),
                chunk.offset,
                chunk.length,
                MAX_TEXT_CHUNK
            ),
        ));
    }
    let mut data = prefix;
    let start = data.len();
    data.resize(chunk.length as usize + 4, 0);
    fill(input, data.get_mut(start..).unwrap_or_default(), || {
        format!(
            "{} chunk at offset {} is cut short",
            chunk.name(),
            chunk.offset
        )
    })?;
    let stored = data.split_off(chunk.length as usize);
    let stored = u32::from_be_bytes(stored.try_into().unwrap_or_default());
    let mut crc = Crc::new();
    crc.update(&chunk.kind);
    crc.update(&data);
    check_crc(chunk, stored, crc.finish())?;
    Ok(data)
}

fn check_crc(chunk: &Chunk, stored: u32, computed: u32) -> Result<(), MarkError> {
    if stored == computed {
        return Ok(());
    }
    Err(MarkError::corrupt(
        FORMAT,
        format!(
            "{} chunk at offset {}: CRC mismatch (stored {stored:08x}, computed {computed:08x})",
            chunk.name(),
            chunk.offset
        ),
    ))
}

/// Skip `count` bytes of chunk data (and CRC) without reading them.
fn skip<R: Read + Seek>(input: &mut BufReader<R>, count: u64) -> Result<(), MarkError> {
    // At most 2^31 + 3 bytes, so the conversion cannot fail.
    input.seek_relative(i64::try_from(count).unwrap_or(i64::MAX))?;
    Ok(())
}

/// The text of an uncompressed `iTXt` chunk's data.
fn itxt_text<'a>(chunk: &Chunk, data: &'a [u8]) -> Result<&'a [u8], MarkError> {
    let text = split_keyword(data)
        .and_then(|(_, rest)| rest.get(2..))
        .and_then(split_keyword)
        .and_then(|(_, rest)| split_keyword(rest))
        .map(|(_, text)| text);
    text.ok_or_else(|| {
        MarkError::corrupt(
            FORMAT,
            format!(
                "iTXt chunk at offset {} lacks its language tag or translated keyword",
                chunk.offset
            ),
        )
    })
}

fn utf8<'a>(chunk: &Chunk, bytes: &'a [u8]) -> Result<&'a str, MarkError> {
    std::str::from_utf8(bytes).map_err(|_| {
        MarkError::corrupt(
            FORMAT,
            format!(
                "{} chunk at offset {} holds text that is not UTF-8",
                chunk.name(),
                chunk.offset
            ),
        )
    })
}

/// What a pass over the chunks learns.
#[derive(Default)]
struct Scan {
    /// Every label value, in file order.
    values: Vec<String>,
    /// The first uncompressed XMP packet.
    packet: Option<String>,
    /// Offset of the first compressed XMP chunk.
    compressed_xmp: Option<u64>,
}

/// Walk every chunk up to `IEND`, decoding the label chunks.
fn scan<R: Read + Seek>(input: &mut BufReader<R>) -> Result<Scan, MarkError> {
    check_signature(input)?;
    let mut found = Scan::default();
    let mut offset = 8;
    loop {
        let chunk = read_header(input, offset)?;
        if offset == 8 && &chunk.kind != b"IHDR" {
            return Err(MarkError::corrupt(
                FORMAT,
                format!("the first chunk is {}, not IHDR", chunk.name()),
            ));
        }
        let prefix = if chunk.is_text() || &chunk.kind == b"IEND" {
            read_prefix(input, &chunk)?
        } else {
            Vec::new()
        };
        let role = if chunk.is_text() {
            classify(&chunk, &prefix)?
        } else {
            Role::Other
        };
        if role.decoded() || &chunk.kind == b"IEND" {
            let data = read_body(input, &chunk, prefix)?;
            match (role, &chunk.kind) {
                (Role::Xmp, _) => {
                    let packet = utf8(&chunk, itxt_text(&chunk, &data)?)?;
                    found.values.extend(xmp::read_values(packet));
                    if found.packet.is_none() {
                        found.packet = Some(packet.to_owned());
                    }
                }
                (Role::Label, b"tEXt") => {
                    // tEXt is Latin-1.
                    let text = split_keyword(&data)
                        .map(|(_, text)| text)
                        .unwrap_or_default();
                    let value: String = text.iter().map(|&byte| char::from(byte)).collect();
                    found.values.push(value.trim().to_owned());
                }
                (Role::Label, _) => {
                    let value = utf8(&chunk, itxt_text(&chunk, &data)?)?;
                    found.values.push(value.trim().to_owned());
                }
                _ => {}
            }
        } else {
            if role == Role::CompressedXmp && found.compressed_xmp.is_none() {
                found.compressed_xmp = Some(chunk.offset);
            }
            skip(input, u64::from(chunk.length) + 4 - prefix.len() as u64)?;
        }
        if &chunk.kind == b"IEND" {
            return Ok(found);
        }
        offset = chunk.end();
    }
}

/// Every label value in the file: XMP `iTXt` labels and `tEXt` / `iTXt` `AIGC` chunks.
pub fn read<R: Read + Seek>(input: &mut R) -> Result<Vec<String>, MarkError> {
    Ok(scan(&mut BufReader::new(input))?.values)
}

/// The XMP `iTXt` chunk holding `packet`, header and CRC included.
fn xmp_chunk(packet: &str) -> Result<Vec<u8>, MarkError> {
    let length = XMP_KEYWORD.len() + 5 + packet.len();
    if length > MAX_TEXT_CHUNK as usize {
        return Err(MarkError::InvalidLabel(format!(
            "the XMP packet would be {length} bytes; Warden writes PNG label chunks of at most {MAX_TEXT_CHUNK} bytes"
        )));
    }
    let mut chunk = Vec::with_capacity(length + 12);
    chunk.extend_from_slice(&(length as u32).to_be_bytes());
    chunk.extend_from_slice(b"iTXt");
    chunk.extend_from_slice(XMP_KEYWORD);
    // NUL after the keyword, compression flag and method 0, empty language tag and translated
    // keyword, each ended by a NUL.
    chunk.extend_from_slice(&[0, 0, 0, 0, 0]);
    chunk.extend_from_slice(packet.as_bytes());
    let mut crc = Crc::new();
    crc.update(chunk.get(4..).unwrap_or_default());
    chunk.extend_from_slice(&crc.finish().to_be_bytes());
    Ok(chunk)
}

/// Copy with exactly one label, in the XMP `iTXt` chunk, holding `value`.
pub fn write<R: Read + Seek, W: Write + Seek>(
    input: &mut R,
    output: &mut W,
    value: &str,
) -> Result<(), MarkError> {
    let start = input.stream_position()?;
    let mut input = BufReader::new(input);
    let found = scan(&mut input)?;
    if let Some(offset) = found.compressed_xmp {
        return Err(MarkError::Unsupported(format!(
            "a PNG whose XMP packet is zlib-compressed (iTXt chunk at offset {offset}); Warden \
             cannot update it without losing its other properties. Rewrite the XMP uncompressed first"
        )));
    }
    let packet = match &found.packet {
        Some(existing) => xmp::set_value(existing, value),
        None => xmp::new_packet(value),
    };
    let label = xmp_chunk(&packet)?;

    input.seek(SeekFrom::Start(start))?;
    let mut output = BufWriter::new(output);
    check_signature(&mut input)?;
    output.write_all(&SIGNATURE)?;
    let mut offset = 8;
    loop {
        let chunk = read_header(&mut input, offset)?;
        let prefix = if chunk.is_text() {
            read_prefix(&mut input, &chunk)?
        } else {
            Vec::new()
        };
        let role = if chunk.is_text() {
            classify(&chunk, &prefix)?
        } else {
            Role::Other
        };
        let rest = u64::from(chunk.length) - prefix.len() as u64;
        if role == Role::Other {
            output.write_all(&chunk.length.to_be_bytes())?;
            output.write_all(&chunk.kind)?;
            output.write_all(&prefix)?;
            let mut crc = Crc::new();
            crc.update(&chunk.kind);
            crc.update(&prefix);
            let copied = io::copy(
                &mut (&mut input).take(rest),
                &mut CrcWriter {
                    inner: &mut output,
                    crc: &mut crc,
                },
            )?;
            if copied < rest {
                return Err(MarkError::truncated(
                    FORMAT,
                    format!(
                        "{} chunk at offset {} is cut short",
                        chunk.name(),
                        chunk.offset
                    ),
                ));
            }
            let mut stored = [0u8; 4];
            fill(&mut input, &mut stored, || {
                format!(
                    "{} chunk at offset {} lacks its CRC",
                    chunk.name(),
                    chunk.offset
                )
            })?;
            check_crc(&chunk, u32::from_be_bytes(stored), crc.finish())?;
            output.write_all(&stored)?;
        } else {
            // A label chunk (verified by the scan): dropped, the new label replaces it.
            skip(&mut input, rest + 4)?;
        }
        // After the first chunk, which the scan checked is IHDR: a damaged file with a second
        // IHDR must not get a second label.
        if offset == 8 {
            output.write_all(&label)?;
        }
        if &chunk.kind == b"IEND" {
            break;
        }
        offset = chunk.end();
    }
    // Bytes after IEND are not PNG, but they are the file's: keep them.
    io::copy(&mut input, &mut output)?;
    output.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::formats::test_support::{IMAGE_LABEL, assert_cuts_fail, assert_damage_never_panics};

    const VALUE: &str = IMAGE_LABEL;

    fn sample_png() -> Vec<u8> {
        let mut pixels = image::RgbaImage::new(5, 3);
        for (x, y, pixel) in pixels.enumerate_pixels_mut() {
            *pixel = image::Rgba([x as u8 * 40, y as u8 * 80, 7, 200]);
        }
        let mut out = Cursor::new(Vec::new());
        image::DynamicImage::ImageRgba8(pixels)
            .write_to(&mut out, image::ImageFormat::Png)
            .unwrap();
        out.into_inner()
    }

    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(&crc.finish().to_be_bytes());
        out
    }

    fn itxt(keyword: &[u8], flag: u8, text: &str) -> Vec<u8> {
        let mut data = keyword.to_vec();
        data.extend_from_slice(&[0, flag, 0, 0, 0]);
        data.extend_from_slice(text.as_bytes());
        chunk(b"iTXt", &data)
    }

    fn text(keyword: &[u8], text: &str) -> Vec<u8> {
        let mut data = keyword.to_vec();
        data.push(0);
        data.extend_from_slice(text.as_bytes());
        chunk(b"tEXt", &data)
    }

    /// The PNG with `extra` chunks inserted after IHDR (which ends at offset 33).
    fn with_chunks(png: &[u8], extra: &[Vec<u8>]) -> Vec<u8> {
        let mut out = png[..33].to_vec();
        for chunk in extra {
            out.extend_from_slice(chunk);
        }
        out.extend_from_slice(&png[33..]);
        out
    }

    /// Every chunk as (type, data).
    fn chunks(png: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
        let mut out = Vec::new();
        let mut at = 8;
        while at < png.len() {
            let length = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
            let kind: [u8; 4] = png[at + 4..at + 8].try_into().unwrap();
            out.push((kind, png[at + 8..at + 8 + length].to_vec()));
            at += 12 + length;
        }
        out
    }

    fn idat(png: &[u8]) -> Vec<u8> {
        chunks(png)
            .into_iter()
            .filter(|(kind, _)| kind == b"IDAT")
            .flat_map(|(_, data)| data)
            .collect()
    }

    fn label(png: &[u8], value: &str) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        write(&mut Cursor::new(png), &mut out, value).unwrap();
        out.into_inner()
    }

    fn values(png: &[u8]) -> Vec<String> {
        read(&mut Cursor::new(png)).unwrap()
    }

    #[test]
    fn round_trip_keeps_pixels_and_image_data() {
        let original = sample_png();
        assert!(values(&original).is_empty());
        let labelled = label(&original, VALUE);
        assert_eq!(values(&labelled), vec![VALUE.to_owned()]);
        assert_eq!(idat(&labelled), idat(&original));
        let kinds: Vec<[u8; 4]> = chunks(&labelled).iter().map(|(kind, _)| *kind).collect();
        assert_eq!(&kinds[..2], &[*b"IHDR", *b"iTXt"]);
        let before = image::load_from_memory(&original).unwrap().to_rgba8();
        let after = image::load_from_memory(&labelled).unwrap().to_rgba8();
        assert_eq!(before, after);
    }

    #[test]
    fn writing_twice_leaves_one_label() {
        let once = label(&sample_png(), "first");
        let twice = label(&once, VALUE);
        assert_eq!(values(&twice), vec![VALUE.to_owned()]);
        let xmp_chunks = chunks(&twice)
            .iter()
            .filter(|(kind, data)| kind == b"iTXt" && data.starts_with(XMP_KEYWORD))
            .count();
        assert_eq!(xmp_chunks, 1);
        assert_eq!(
            twice.len(),
            once.len() + xmp::escape(VALUE).len() - "first".len()
        );
    }

    #[test]
    fn reads_every_label_form_and_write_leaves_one() {
        let png = with_chunks(
            &sample_png(),
            &[
                itxt(XMP_KEYWORD, 0, &xmp::new_packet("xmp-1")),
                text(b"Comment", "kept"),
                itxt(XMP_KEYWORD, 0, &xmp::new_packet("xmp-2")),
                text(b"AIGC", r#"{"AIGC":{"Label":"1"}}"#),
                itxt(b"AIGC", 0, "itxt-label"),
            ],
        );
        assert_eq!(
            values(&png),
            vec!["xmp-1", "xmp-2", r#"{"AIGC":{"Label":"1"}}"#, "itxt-label"]
        );
        let labelled = label(&png, VALUE);
        assert_eq!(values(&labelled), vec![VALUE.to_owned()]);
        assert!(
            chunks(&labelled)
                .iter()
                .any(|(kind, data)| kind == b"tEXt" && data == b"Comment\0kept")
        );
    }

    #[test]
    fn updating_keeps_other_xmp_properties() {
        let packet = "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:creator>Ann</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>";
        let png = with_chunks(&sample_png(), &[itxt(XMP_KEYWORD, 0, packet)]);
        let labelled = label(&png, VALUE);
        assert_eq!(values(&labelled), vec![VALUE.to_owned()]);
        let xmp: Vec<_> = chunks(&labelled)
            .into_iter()
            .filter(|(kind, _)| kind == b"iTXt")
            .collect();
        assert_eq!(xmp.len(), 1);
        assert!(String::from_utf8_lossy(&xmp[0].1).contains("<dc:creator>Ann</dc:creator>"));
    }

    #[test]
    fn compressed_xmp_is_skipped_on_read_and_refused_on_write() {
        let png = with_chunks(
            &sample_png(),
            &[itxt(XMP_KEYWORD, 1, "\u{78}\u{9c}not-really-zlib")],
        );
        assert!(values(&png).is_empty());
        let error = write(&mut Cursor::new(&png), &mut Cursor::new(Vec::new()), VALUE).unwrap_err();
        assert!(
            matches!(error, MarkError::Unsupported(ref message) if message.contains("zlib")),
            "{error}"
        );
    }

    #[test]
    fn a_crc_mismatch_is_corrupt() {
        let mut png = with_chunks(
            &sample_png(),
            &[itxt(XMP_KEYWORD, 0, &xmp::new_packet("x"))],
        );
        png[33 + 8 + XMP_KEYWORD.len() + 20] ^= 1;
        let error = read(&mut Cursor::new(&png)).unwrap_err();
        assert!(
            matches!(error, MarkError::Corrupt { ref detail, .. } if detail.contains("iTXt chunk at offset 33: CRC mismatch")),
            "{error}"
        );
        // A damaged image chunk is caught while copying.
        let mut png = sample_png();
        let last = png.len() - 13;
        png[last] ^= 1;
        let error = write(&mut Cursor::new(&png), &mut Cursor::new(Vec::new()), VALUE).unwrap_err();
        assert!(matches!(error, MarkError::Corrupt { .. }), "{error}");
    }

    #[test]
    fn truncated_and_damaged_files_are_errors_not_panics() {
        let labelled = label(&sample_png(), VALUE);
        let cuts = [0, 5, 8, 20, labelled.len() / 2, labelled.len() - 1];
        assert_cuts_fail(&labelled, cuts, read, write, VALUE);
        for cut in 0..labelled.len() {
            assert!(
                read(&mut Cursor::new(&labelled[..cut])).is_err(),
                "cut at {cut}"
            );
        }
        assert_damage_never_panics(&labelled, read, write, VALUE);
        let error = read(&mut Cursor::new(b"GIF89a..........")).unwrap_err();
        assert!(matches!(error, MarkError::Corrupt { .. }));
    }

    #[test]
    fn keeps_bytes_after_iend() {
        let mut png = sample_png();
        png.extend_from_slice(b"trailer");
        let labelled = label(&png, VALUE);
        assert!(labelled.ends_with(b"IEND\xae\x42\x60\x82trailer"));
        assert_eq!(values(&labelled), vec![VALUE.to_owned()]);
    }

    #[test]
    fn issue_10_png_xmp_attribute_alt_and_comment_labels_leave_one_after_write() {
        use crate::formats::test_support::{HOSTILE_XMP_LABELS, hostile_xmp};
        let png = with_chunks(&sample_png(), &[itxt(XMP_KEYWORD, 0, &hostile_xmp())]);
        assert_eq!(values(&png), HOSTILE_XMP_LABELS);
        let once = label(&png, VALUE);
        assert_eq!(values(&once), vec![VALUE.to_owned()]);
        assert!(String::from_utf8_lossy(&once).contains("<dc:creator>Ann</dc:creator>"));
        let twice = label(&once, "second");
        assert_eq!(values(&twice), vec!["second".to_owned()]);
    }

    #[test]
    fn issue_10_fuzz_png_second_ihdr_gets_no_second_label() {
        let png = sample_png();
        let ihdr = png[8..33].to_vec();
        let doubled = [&png[..33], &ihdr[..], &png[33..]].concat();
        let labelled = label(&doubled, VALUE);
        assert_eq!(values(&labelled), vec![VALUE.to_owned()]);
        assert_eq!(
            values(&label(&labelled, "second")),
            vec!["second".to_owned()]
        );
    }
}
