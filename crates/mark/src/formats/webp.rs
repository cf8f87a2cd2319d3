//! WebP: the label lives in the standard XMP packet, the RIFF chunk `XMP ` (fourcc with a
//! trailing space), as TC260 practice guide 20259A places it for WebP images.
//!
//! Metadata chunks need the extended file format, so **write**:
//! - in an extended file (first chunk `VP8X`), sets the XMP flag in `VP8X` and puts the `XMP `
//!   chunk where the container specification orders it: after the image data and any `EXIF`
//!   chunk, before unknown chunks;
//! - in a simple file (`VP8 ` or `VP8L` only), adds a `VP8X` chunk whose canvas size comes from
//!   the VP8 frame header or the VP8L header, with the XMP flag (and the alpha flag when the VP8L
//!   header's alpha hint is set, the EXIF / ICC flags when such chunks are present);
//! - updates an existing XMP packet with [`xmp::set_value`], keeping its other properties, and
//!   drops further `XMP ` chunks; fixes the RIFF size; copies every other chunk (padding included)
//!   and any bytes after the RIFF data unchanged, streaming image data in bounded buffers.
//!
//! **Read** returns the labels of every `XMP ` chunk, seeking over all other chunk data.
//! `XMP ` chunks over 16 MiB are refused as corrupt so that a hostile file cannot exhaust memory.
//! Out of scope: labels in `EXIF` chunks.

use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use crate::error::MarkError;
use crate::xmp;

const FORMAT: &str = "WebP";
/// Largest metadata chunk Warden reads into memory.
const MAX_METADATA: u32 = 16 << 20;

const ICC_FLAG: u8 = 0x20;
const ALPHA_FLAG: u8 = 0x10;
const EXIF_FLAG: u8 = 0x08;
const XMP_FLAG: u8 = 0x04;

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

/// A chunk: where its header starts, its fourcc and its (unpadded) size.
struct Chunk {
    offset: u64,
    fourcc: [u8; 4],
    size: u32,
    /// Whether the pad byte after an odd-sized payload is inside the RIFF data.
    padded: bool,
}

impl Chunk {
    fn name(&self) -> String {
        String::from_utf8_lossy(&self.fourcc).into_owned()
    }

    /// Offset of the next chunk.
    fn end(&self) -> u64 {
        self.offset + 8 + u64::from(self.size) + u64::from(self.padded)
    }

    fn read_payload<R: Read>(&self, input: &mut R, limit: u32) -> Result<Vec<u8>, MarkError> {
        if self.size > limit {
            return Err(MarkError::corrupt(
                FORMAT,
                format!(
                    "{} chunk at offset {} holds {} bytes; Warden refuses metadata chunks over {limit} bytes",
                    self.name(),
                    self.offset,
                    self.size
                ),
            ));
        }
        let mut payload = vec![0u8; self.size as usize];
        fill(input, &mut payload, || {
            format!(
                "{} chunk at offset {} is cut short",
                self.name(),
                self.offset
            )
        })?;
        Ok(payload)
    }

    /// The first `N` bytes of the payload (corrupt if it is shorter).
    fn read_head<R: Read, const N: usize>(&self, input: &mut R) -> Result<[u8; N], MarkError> {
        if (self.size as usize) < N {
            return Err(MarkError::corrupt(
                FORMAT,
                format!(
                    "{} chunk at offset {} holds {} bytes, too few for its header",
                    self.name(),
                    self.offset,
                    self.size
                ),
            ));
        }
        let mut head = [0u8; N];
        fill(input, &mut head, || {
            format!(
                "{} chunk at offset {} is cut short",
                self.name(),
                self.offset
            )
        })?;
        Ok(head)
    }
}

/// The RIFF data: where it ends, relative to the start of the file.
struct Riff {
    start: u64,
    end: u64,
    file_length: u64,
}

fn read_riff<R: Read + Seek>(input: &mut R) -> Result<Riff, MarkError> {
    let start = input.stream_position()?;
    let file_length = input.seek(SeekFrom::End(0))?.saturating_sub(start);
    input.seek(SeekFrom::Start(start))?;
    let mut head = [0u8; 12];
    fill(input, &mut head, || {
        "the file is shorter than the 12-byte RIFF header".into()
    })?;
    let [r0, r1, r2, r3, s0, s1, s2, s3, w0, w1, w2, w3] = head;
    if [r0, r1, r2, r3] != *b"RIFF" || [w0, w1, w2, w3] != *b"WEBP" {
        return Err(MarkError::corrupt(
            FORMAT,
            "the file does not start with a RIFF WEBP header",
        ));
    }
    let size = u32::from_le_bytes([s0, s1, s2, s3]);
    let end = 8 + u64::from(size);
    if size < 4 {
        return Err(MarkError::corrupt(
            FORMAT,
            format!("the RIFF header declares size {size}"),
        ));
    }
    if end > file_length {
        return Err(MarkError::truncated(
            FORMAT,
            format!("the RIFF header declares {end} bytes but the file has {file_length}"),
        ));
    }
    Ok(Riff {
        start,
        end,
        file_length,
    })
}

/// Read the chunk header at `offset`, or `None` at the end of the RIFF data.
fn next_chunk<R: Read>(
    input: &mut R,
    offset: u64,
    riff: &Riff,
) -> Result<Option<Chunk>, MarkError> {
    if offset >= riff.end {
        return Ok(None);
    }
    if riff.end - offset < 8 {
        return Err(MarkError::corrupt(
            FORMAT,
            format!(
                "{} stray bytes at offset {offset}, too few for a chunk header",
                riff.end - offset
            ),
        ));
    }
    let mut head = [0u8; 8];
    fill(input, &mut head, || {
        format!("the chunk header at offset {offset} is cut short")
    })?;
    let [f0, f1, f2, f3, s0, s1, s2, s3] = head;
    let fourcc = [f0, f1, f2, f3];
    let size = u32::from_le_bytes([s0, s1, s2, s3]);
    let payload_end = offset + 8 + u64::from(size);
    let chunk = Chunk {
        offset,
        fourcc,
        size,
        padded: size % 2 == 1 && payload_end < riff.end,
    };
    if payload_end > riff.end {
        return Err(MarkError::corrupt(
            FORMAT,
            format!(
                "{} chunk at offset {offset} declares {size} bytes, past the end of the RIFF data at {}",
                chunk.name(),
                riff.end
            ),
        ));
    }
    Ok(Some(chunk))
}

fn skip_to<R: Read + Seek>(input: &mut BufReader<R>, from: u64, to: u64) -> Result<(), MarkError> {
    input.seek_relative(i64::try_from(to.saturating_sub(from)).unwrap_or(i64::MAX))?;
    Ok(())
}

/// Chunks the container specification orders before `XMP `.
fn before_xmp(fourcc: &[u8; 4]) -> bool {
    matches!(
        fourcc,
        b"VP8X" | b"ICCP" | b"ANIM" | b"ANMF" | b"ALPH" | b"VP8 " | b"VP8L" | b"EXIF"
    )
}

/// What a pass over the chunks learns.
#[derive(Default)]
struct Scan {
    values: Vec<String>,
    /// The first XMP packet.
    packet: Option<String>,
    /// For a simple file: the `VP8X` flags and canvas size to add.
    simple: Option<(u8, u32, u32)>,
    /// Offset of the chunk after which the `XMP ` chunk goes.
    insert_after: u64,
    exif: bool,
    icc: bool,
}

/// The canvas size and alpha hint of a `VP8 ` or `VP8L` chunk, positioned at its payload.
fn canvas<R: Read>(input: &mut R, chunk: &Chunk) -> Result<(u32, u32, bool), MarkError> {
    let bad = |what: &str| {
        MarkError::corrupt(
            FORMAT,
            format!("{} chunk at offset {}: {what}", chunk.name(), chunk.offset),
        )
    };
    if &chunk.fourcc == b"VP8 " {
        let [tag, _, _, s0, s1, s2, w0, w1, h0, h1] = chunk.read_head(input)?;
        if tag & 1 != 0 {
            return Err(bad("the first frame is not a key frame"));
        }
        if [s0, s1, s2] != [0x9d, 0x01, 0x2a] {
            return Err(bad("missing the VP8 start code"));
        }
        let width = u32::from(u16::from_le_bytes([w0, w1]) & 0x3FFF);
        let height = u32::from(u16::from_le_bytes([h0, h1]) & 0x3FFF);
        if width == 0 || height == 0 {
            return Err(bad("the frame is 0 pixels wide or high"));
        }
        Ok((width, height, false))
    } else {
        let [signature, b0, b1, b2, b3] = chunk.read_head(input)?;
        if signature != 0x2f {
            return Err(bad("missing the VP8L signature byte 0x2f"));
        }
        let bits = u32::from_le_bytes([b0, b1, b2, b3]);
        if bits >> 29 != 0 {
            return Err(bad("unknown VP8L version"));
        }
        Ok((
            (bits & 0x3FFF) + 1,
            ((bits >> 14) & 0x3FFF) + 1,
            (bits >> 28) & 1 == 1,
        ))
    }
}

fn scan<R: Read + Seek>(input: &mut BufReader<R>, riff: &Riff) -> Result<Scan, MarkError> {
    let mut found = Scan::default();
    let mut offset = 12;
    let mut first = true;
    while let Some(chunk) = next_chunk(input, offset, riff)? {
        let mut position = offset + 8;
        if first {
            match &chunk.fourcc {
                b"VP8X" => {}
                b"VP8 " | b"VP8L" => {
                    let (width, height, alpha) = canvas(input, &chunk)?;
                    position += if &chunk.fourcc == b"VP8 " { 10 } else { 5 };
                    found.simple = Some((if alpha { ALPHA_FLAG } else { 0 }, width, height));
                }
                _ => {
                    return Err(MarkError::corrupt(
                        FORMAT,
                        format!(
                            "the first chunk is {:?}, not VP8, VP8L or VP8X",
                            chunk.name()
                        ),
                    ));
                }
            }
            first = false;
        }
        match &chunk.fourcc {
            b"XMP " => {
                let payload = chunk.read_payload(input, MAX_METADATA)?;
                position += u64::from(chunk.size);
                let packet = std::str::from_utf8(&payload).map_err(|_| {
                    MarkError::corrupt(
                        FORMAT,
                        format!("XMP chunk at offset {} is not UTF-8", chunk.offset),
                    )
                })?;
                found.values.extend(xmp::read_values(packet));
                if found.packet.is_none() {
                    found.packet = Some(packet.to_owned());
                }
            }
            b"VP8X" if chunk.size != 10 => {
                return Err(MarkError::corrupt(
                    FORMAT,
                    format!(
                        "VP8X chunk at offset {} holds {} bytes, not 10",
                        chunk.offset, chunk.size
                    ),
                ));
            }
            fourcc => {
                found.exif |= fourcc == b"EXIF";
                found.icc |= fourcc == b"ICCP";
                if before_xmp(fourcc) {
                    found.insert_after = chunk.offset;
                }
            }
        }
        skip_to(input, position, chunk.end())?;
        offset = chunk.end();
    }
    if first {
        return Err(MarkError::corrupt(FORMAT, "the RIFF data holds no chunks"));
    }
    if let Some((flags, _, _)) = &mut found.simple {
        *flags |= XMP_FLAG
            | if found.exif { EXIF_FLAG } else { 0 }
            | if found.icc { ICC_FLAG } else { 0 };
    }
    Ok(found)
}

/// Every label value in the file's `XMP ` chunks.
pub fn read<R: Read + Seek>(input: &mut R) -> Result<Vec<String>, MarkError> {
    let mut input = BufReader::new(input);
    let riff = read_riff(&mut input)?;
    Ok(scan(&mut input, &riff)?.values)
}

fn write_chunk<W: Write>(
    output: &mut W,
    fourcc: &[u8; 4],
    payload: &[u8],
) -> Result<(), MarkError> {
    let size = u32::try_from(payload.len()).ok().filter(|size| *size <= MAX_METADATA).ok_or_else(|| {
        MarkError::InvalidLabel(format!(
            "the {} chunk would be {} bytes; Warden writes WebP metadata chunks of at most {MAX_METADATA} bytes",
            String::from_utf8_lossy(fourcc),
            payload.len()
        ))
    })?;
    output.write_all(fourcc)?;
    output.write_all(&size.to_le_bytes())?;
    output.write_all(payload)?;
    if size % 2 == 1 {
        output.write_all(&[0])?;
    }
    Ok(())
}

/// Three little-endian bytes of `value - 1` (a VP8X canvas dimension).
fn dimension(value: u32) -> [u8; 3] {
    let [a, b, c, _] = value.saturating_sub(1).to_le_bytes();
    [a, b, c]
}

/// Copy with exactly one label, in the `XMP ` chunk, holding `value`.
pub fn write<R: Read + Seek, W: Write + Seek>(
    input: &mut R,
    output: &mut W,
    value: &str,
) -> Result<(), MarkError> {
    let mut input = BufReader::new(input);
    let riff = read_riff(&mut input)?;
    let found = scan(&mut input, &riff)?;
    let packet = match &found.packet {
        Some(existing) => xmp::set_value(existing, value),
        None => xmp::new_packet(value),
    };

    input.seek(SeekFrom::Start(riff.start + 12))?;
    let mut output = BufWriter::new(output);
    let out_start = output.stream_position()?;
    // The RIFF size is patched once the output is complete.
    output.write_all(b"RIFF\0\0\0\0WEBP")?;
    if let Some((flags, width, height)) = found.simple {
        let mut payload = vec![flags, 0, 0, 0];
        payload.extend_from_slice(&dimension(width));
        payload.extend_from_slice(&dimension(height));
        write_chunk(&mut output, b"VP8X", &payload)?;
    }
    let mut offset = 12;
    let mut label = Some(packet);
    while let Some(chunk) = next_chunk(&mut input, offset, &riff)? {
        match &chunk.fourcc {
            b"XMP " => skip_to(&mut input, offset + 8, chunk.end())?,
            b"VP8X" => {
                let mut payload = chunk.read_payload(&mut input, 10)?;
                if let Some(flags) = payload.first_mut() {
                    *flags |= XMP_FLAG;
                }
                write_chunk(&mut output, b"VP8X", &payload)?;
            }
            fourcc => {
                output.write_all(fourcc)?;
                output.write_all(&chunk.size.to_le_bytes())?;
                let length = u64::from(chunk.size) + u64::from(chunk.padded);
                let copied = io::copy(&mut (&mut input).take(length), &mut output)?;
                if copied < length {
                    return Err(MarkError::truncated(
                        FORMAT,
                        format!(
                            "{} chunk at offset {} is cut short",
                            chunk.name(),
                            chunk.offset
                        ),
                    ));
                }
                if chunk.size % 2 == 1 && !chunk.padded {
                    // The last chunk lacked its pad byte; chunks now follow it.
                    output.write_all(&[0])?;
                }
            }
        }
        if chunk.offset == found.insert_after
            && let Some(packet) = label.take()
        {
            write_chunk(&mut output, b"XMP ", packet.as_bytes())?;
        }
        offset = chunk.end();
    }
    if let Some(packet) = label.take() {
        write_chunk(&mut output, b"XMP ", packet.as_bytes())?;
    }
    let out_end = output.stream_position()?;
    let size = u32::try_from(out_end - out_start - 8).map_err(|_| {
        MarkError::InvalidLabel("the labelled file would exceed the 4 GiB RIFF limit".into())
    })?;
    output.seek(SeekFrom::Start(out_start + 4))?;
    output.write_all(&size.to_le_bytes())?;
    output.seek(SeekFrom::Start(out_end))?;
    // Bytes after the RIFF data are not WebP, but they are the file's: keep them.
    input.seek(SeekFrom::Start(riff.start + riff.end))?;
    io::copy(
        &mut (&mut input).take(riff.file_length - riff.end),
        &mut output,
    )?;
    output.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::formats::test_support::{IMAGE_LABEL, assert_cuts_fail, assert_damage_never_panics};

    const VALUE: &str = IMAGE_LABEL;

    fn chunk(fourcc: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut out = fourcc.to_vec();
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(payload);
        if payload.len() % 2 == 1 {
            out.push(0);
        }
        out
    }

    fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
        let body = chunks.concat();
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(body.len() as u32 + 4).to_le_bytes());
        out.extend_from_slice(b"WEBP");
        out.extend_from_slice(&body);
        out
    }

    /// A 1x1 lossless image with the alpha hint: header, no transform, no colour cache, no meta
    /// prefix codes, five one-symbol prefix codes (so the pixel takes no bits).
    fn vp8l() -> Vec<u8> {
        let mut bits: Vec<bool> = vec![false, false, false];
        for symbol in [0x20u8, 0x40, 0x60, 0xff, 0] {
            bits.extend([true, false, true]);
            bits.extend((0..8).map(|bit| symbol >> bit & 1 == 1));
        }
        let mut payload = vec![0x2f, 0, 0, 0, 0x10];
        payload.extend(bits.chunks(8).map(|byte| {
            byte.iter()
                .rev()
                .fold(0u8, |acc, &bit| acc << 1 | u8::from(bit))
        }));
        chunk(b"VP8L", &payload)
    }

    /// A VP8 key frame header for 3x2 pixels followed by stand-in partition bytes.
    fn vp8() -> Vec<u8> {
        chunk(
            b"VP8 ",
            &[
                0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x03, 0x00, 0x02, 0x00, 1, 2, 3, 4, 5,
            ],
        )
    }

    /// Every chunk as (fourcc, payload).
    fn chunks(webp: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
        let size = u32::from_le_bytes(webp[4..8].try_into().unwrap()) as usize;
        assert_eq!(size + 8, webp.len(), "RIFF size");
        let mut out = Vec::new();
        let mut at = 12;
        while at < webp.len() {
            let length = u32::from_le_bytes(webp[at + 4..at + 8].try_into().unwrap()) as usize;
            out.push((
                webp[at..at + 4].try_into().unwrap(),
                webp[at + 8..at + 8 + length].to_vec(),
            ));
            at += 8 + length + length % 2;
        }
        out
    }

    fn label(webp: &[u8], value: &str) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        write(&mut Cursor::new(webp), &mut out, value).unwrap();
        out.into_inner()
    }

    fn values(webp: &[u8]) -> Vec<String> {
        read(&mut Cursor::new(webp)).unwrap()
    }

    #[test]
    fn simple_lossless_gains_vp8x_with_alpha_and_xmp_flags() {
        let original = riff(&[vp8l()]);
        assert!(values(&original).is_empty());
        let labelled = label(&original, VALUE);
        assert_eq!(values(&labelled), vec![VALUE.to_owned()]);
        let found = chunks(&labelled);
        let fourccs: Vec<&[u8; 4]> = found.iter().map(|(fourcc, _)| fourcc).collect();
        assert_eq!(fourccs, [b"VP8X", b"VP8L", b"XMP "]);
        assert_eq!(
            found[0].1,
            [ALPHA_FLAG | XMP_FLAG, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            &labelled[30..30 + vp8l().len()],
            &vp8l()[..],
            "VP8L chunk unchanged"
        );
    }

    #[test]
    fn simple_lossy_gets_its_canvas_size_and_writing_twice_leaves_one_label() {
        let original = riff(&[vp8()]);
        let once = label(&original, "first");
        let twice = label(&once, VALUE);
        assert_eq!(values(&twice), vec![VALUE.to_owned()]);
        let found = chunks(&twice);
        assert_eq!(found.len(), 3);
        assert_eq!(
            found[0],
            (*b"VP8X", vec![XMP_FLAG, 0, 0, 0, 2, 0, 0, 1, 0, 0])
        );
        assert_eq!(
            found[1],
            (*b"VP8 ", vp8()[8..8 + 15].to_vec()),
            "VP8 payload unchanged"
        );
    }

    #[test]
    fn extended_file_keeps_order_flags_and_other_xmp_properties() {
        let packet = "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:creator>Ann</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>";
        let original = riff(&[
            chunk(b"VP8X", &[EXIF_FLAG | XMP_FLAG, 0, 0, 0, 2, 0, 0, 1, 0, 0]),
            chunk(b"XMP ", packet.as_bytes()),
            vp8(),
            chunk(b"EXIF", b"MM\0*\0\0\0\x08\0\0\0"),
            chunk(b"XMP ", xmp::new_packet("second").as_bytes()),
            chunk(b"ZZZZ", b"unknown"),
        ]);
        assert_eq!(values(&original), vec!["second"]);
        let labelled = label(&original, VALUE);
        assert_eq!(values(&labelled), vec![VALUE.to_owned()]);
        let found = chunks(&labelled);
        let fourccs: Vec<&[u8; 4]> = found.iter().map(|(fourcc, _)| fourcc).collect();
        assert_eq!(fourccs, [b"VP8X", b"VP8 ", b"EXIF", b"XMP ", b"ZZZZ"]);
        assert_eq!(found[0].1[0], EXIF_FLAG | XMP_FLAG);
        assert!(String::from_utf8_lossy(&found[3].1).contains("<dc:creator>Ann</dc:creator>"));
        assert_eq!(found[4].1, b"unknown");
    }

    #[test]
    fn sets_the_flag_in_an_extended_file_without_metadata() {
        let original = riff(&[
            chunk(b"VP8X", &[ALPHA_FLAG, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            vp8l(),
        ]);
        let labelled = label(&original, VALUE);
        let found = chunks(&labelled);
        assert_eq!(found[0].1[0], ALPHA_FLAG | XMP_FLAG);
        assert_eq!(found.len(), 3);
        assert_eq!(values(&labelled), vec![VALUE.to_owned()]);
    }

    #[test]
    fn keeps_bytes_after_the_riff_data() {
        let mut original = riff(&[vp8l()]);
        original.extend_from_slice(b"tail");
        let labelled = label(&original, VALUE);
        assert!(labelled.ends_with(b"tail"));
        assert_eq!(values(&labelled), vec![VALUE.to_owned()]);
        assert_eq!(chunks(&labelled[..labelled.len() - 4]).len(), 3);
    }

    #[test]
    fn truncated_and_damaged_files_are_errors_not_panics() {
        for webp in [
            label(&riff(&[vp8l()]), VALUE),
            label(&riff(&[vp8()]), VALUE),
        ] {
            assert_cuts_fail(&webp, 0..webp.len(), read, write, VALUE);
            assert_damage_never_panics(&webp, read, write, VALUE);
        }
        let error = read(&mut Cursor::new(riff(&[chunk(b"XMP ", b"x")]))).unwrap_err();
        assert!(
            matches!(error, MarkError::Corrupt { ref detail, .. } if detail.contains("first chunk")),
            "{error}"
        );
    }

    #[test]
    fn issue_10_webp_xmp_attribute_alt_and_comment_labels_leave_one_after_write() {
        use crate::formats::test_support::{HOSTILE_XMP_LABELS, hostile_xmp};
        let webp = riff(&[
            chunk(b"VP8X", &[XMP_FLAG, 0, 0, 0, 2, 0, 0, 1, 0, 0]),
            vp8(),
            chunk(b"XMP ", hostile_xmp().as_bytes()),
        ]);
        assert_eq!(values(&webp), HOSTILE_XMP_LABELS);
        let once = label(&webp, VALUE);
        assert_eq!(values(&once), vec![VALUE.to_owned()]);
        assert!(String::from_utf8_lossy(&once).contains("<dc:creator>Ann</dc:creator>"));
        let twice = label(&once, "second");
        assert_eq!(values(&twice), vec!["second".to_owned()]);
    }
}
