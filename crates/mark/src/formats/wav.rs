//! WAV (RIFF/WAVE) labels: the TC260 audio guide (202510A) puts the implicit label in a RIFF
//! sub-chunk with id `AIGC` whose payload is the JSON text (UTF-8, no terminator).
//!
//! Layout handled: `RIFF` size `WAVE`, then chunks of `id`, little-endian 32-bit size, payload and
//! a pad byte when the size is odd (the size field never counts the pad byte).
//!
//! - [`read`] walks the chunk list, seeking over every payload except `AIGC` ones, and returns
//!   every `AIGC` chunk's text in file order.
//! - [`write`] copies every other chunk byte for byte in its original order (the `data` chunk is
//!   streamed through bounded buffers), drops existing `AIGC` chunks, appends one new `AIGC`
//!   chunk after the last chunk and fixes the RIFF size. Bytes after the end the RIFF size
//!   declares (trailing junk some tools leave) are copied unchanged after the new RIFF.
//!
//! Out of scope: RF64/BW64 files (64-bit sizes in a `ds64` chunk) are refused with
//! [`MarkError::Unsupported`], as are results that would no longer fit a 32-bit RIFF size; the
//! label is not mirrored into `LIST/INFO` or BWF `bext`. A chunk whose size runs past the end of
//! the file (including placeholder sizes left by streaming writers) is reported as truncated.

use std::io::{Read, Seek, SeekFrom, Write};

use crate::error::MarkError;

const FORMAT: &str = "WAV";
const LABEL_ID: [u8; 4] = *b"AIGC";
/// The largest `AIGC` chunk [`read`] loads; a label is a few hundred bytes.
const MAX_LABEL: u32 = 1 << 20;

/// One chunk header: where it starts, its id and its declared (unpadded) size.
struct Chunk {
    offset: u64,
    id: [u8; 4],
    size: u32,
}

impl Chunk {
    /// Bytes the chunk occupies in the file: header, payload and the pad byte when present.
    fn span(&self, riff_end: u64) -> u64 {
        let padded = 8 + u64::from(self.size) + u64::from(self.size & 1);
        // A missing pad byte on the very last chunk is tolerated.
        padded.min(riff_end.saturating_sub(self.offset))
    }
}

/// The RIFF layout: where the chunk list ends and the file length.
struct Riff {
    riff_end: u64,
    file_len: u64,
}

/// Check the 12-byte header and compute where the chunk list ends. Leaves `input` at offset 12.
fn open<R: Read + Seek>(input: &mut R) -> Result<Riff, MarkError> {
    let file_len = input.seek(SeekFrom::End(0))?;
    input.seek(SeekFrom::Start(0))?;
    let mut head = [0u8; 12];
    input
        .read_exact(&mut head)
        .map_err(|e| MarkError::from_read(FORMAT, e))?;
    let [m0, m1, m2, m3, s0, s1, s2, s3, f0, f1, f2, f3] = head;
    let (magic, form) = ([m0, m1, m2, m3], [f0, f1, f2, f3]);
    if matches!(&magic, b"RF64" | b"BW64") {
        return Err(MarkError::Unsupported(
            "RF64/BW64 WAV (64-bit sizes); Warden labels RIFF WAV files under 4 GiB".into(),
        ));
    }
    if &magic != b"RIFF" || &form != b"WAVE" {
        return Err(MarkError::corrupt(
            FORMAT,
            "the file does not start with RIFF....WAVE",
        ));
    }
    let declared = u64::from(u32::from_le_bytes([s0, s1, s2, s3]));
    // A RIFF size larger than the file (placeholder sizes from streaming writers) is bounded by
    // the file; the chunk sizes then decide.
    let riff_end = (8 + declared).min(file_len);
    if riff_end < 12 {
        return Err(MarkError::corrupt(
            FORMAT,
            format!("RIFF size {declared} is smaller than its form type"),
        ));
    }
    Ok(Riff { riff_end, file_len })
}

/// Read the chunk header at `offset`, or `None` at the end of the chunk list.
fn next_chunk<R: Read + Seek>(
    input: &mut R,
    offset: u64,
    riff: &Riff,
) -> Result<Option<Chunk>, MarkError> {
    if offset >= riff.riff_end {
        return Ok(None);
    }
    if riff.riff_end - offset < 8 {
        return Err(MarkError::truncated(
            FORMAT,
            format!("chunk header at offset {offset} is cut off"),
        ));
    }
    input.seek(SeekFrom::Start(offset))?;
    let mut header = [0u8; 8];
    input
        .read_exact(&mut header)
        .map_err(|e| MarkError::from_read(FORMAT, e))?;
    let [a, b, c, d, s0, s1, s2, s3] = header;
    let chunk = Chunk {
        offset,
        id: [a, b, c, d],
        size: u32::from_le_bytes([s0, s1, s2, s3]),
    };
    if offset + 8 + u64::from(chunk.size) > riff.riff_end {
        return Err(MarkError::truncated(
            FORMAT,
            format!(
                "chunk {:?} at offset {offset} declares {} bytes but the file ends first",
                String::from_utf8_lossy(&chunk.id),
                chunk.size
            ),
        ));
    }
    Ok(Some(chunk))
}

/// Load an `AIGC` chunk's text.
fn read_label<R: Read + Seek>(input: &mut R, chunk: &Chunk) -> Result<String, MarkError> {
    if chunk.size > MAX_LABEL {
        return Err(MarkError::corrupt(
            FORMAT,
            format!(
                "AIGC chunk at offset {} is {} bytes, larger than any label",
                chunk.offset, chunk.size
            ),
        ));
    }
    input.seek(SeekFrom::Start(chunk.offset + 8))?;
    let mut bytes = Vec::new();
    (&mut *input)
        .take(u64::from(chunk.size))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 != u64::from(chunk.size) {
        return Err(MarkError::truncated(
            FORMAT,
            format!("AIGC chunk at offset {} is cut off", chunk.offset),
        ));
    }
    // Tolerate a C-style terminator some writers add.
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    String::from_utf8(bytes).map_err(|_| {
        MarkError::corrupt(
            FORMAT,
            format!("AIGC chunk at offset {} is not UTF-8", chunk.offset),
        )
    })
}

/// Every label value in the file: the text of each `AIGC` chunk, in file order.
pub fn read<R: Read + Seek>(input: &mut R) -> Result<Vec<String>, MarkError> {
    let riff = open(input)?;
    let mut labels = Vec::new();
    let mut offset = 12;
    while let Some(chunk) = next_chunk(input, offset, &riff)? {
        if chunk.id == LABEL_ID {
            labels.push(read_label(input, &chunk)?);
        }
        offset += chunk.span(riff.riff_end);
    }
    Ok(labels)
}

/// Copy exactly `len` bytes from the current position of `input`.
fn copy_exact<R: Read, W: Write>(
    input: &mut R,
    output: &mut W,
    len: u64,
    what: &str,
) -> Result<(), MarkError> {
    let copied = std::io::copy(&mut (&mut *input).take(len), output)
        .map_err(|e| MarkError::from_read(FORMAT, e))?;
    if copied != len {
        return Err(MarkError::truncated(FORMAT, format!("{what} is cut off")));
    }
    Ok(())
}

/// Copy with exactly one `AIGC` chunk holding `value`, appended after the last chunk.
///
/// RF64/BW64 input is refused with [`MarkError::Unsupported`].
pub fn write<R: Read + Seek, W: Write + Seek>(
    input: &mut R,
    output: &mut W,
    value: &str,
) -> Result<(), MarkError> {
    let label_len = u32::try_from(value.len()).map_err(|_| {
        MarkError::InvalidLabel("the label is larger than a RIFF chunk can hold".into())
    })?;
    let riff = open(input)?;
    let start = output.stream_position()?;
    // The RIFF size is patched once the chunks are copied.
    output.write_all(b"RIFF\0\0\0\0WAVE")?;
    let mut body: u64 = 4;
    let mut offset = 12;
    while let Some(chunk) = next_chunk(input, offset, &riff)? {
        let span = chunk.span(riff.riff_end);
        if chunk.id != LABEL_ID {
            input.seek(SeekFrom::Start(chunk.offset))?;
            let name = format!(
                "chunk {:?} at offset {}",
                String::from_utf8_lossy(&chunk.id),
                chunk.offset
            );
            copy_exact(input, output, span, &name)?;
            body += span;
            if span % 2 == 1 {
                // The pad byte the last chunk lacked: the new chunk must start on an even offset.
                output.write_all(&[0])?;
                body += 1;
            }
        }
        offset += span;
    }
    output.write_all(&LABEL_ID)?;
    output.write_all(&label_len.to_le_bytes())?;
    output.write_all(value.as_bytes())?;
    body += 8 + u64::from(label_len);
    if label_len % 2 == 1 {
        output.write_all(&[0])?;
        body += 1;
    }
    let riff_size = u32::try_from(body).map_err(|_| {
        MarkError::Unsupported("the labelled WAV would exceed 4 GiB, which needs RF64".into())
    })?;
    // Bytes after the RIFF (trailing junk) stay where they were relative to it.
    if riff.file_len > riff.riff_end {
        input.seek(SeekFrom::Start(riff.riff_end))?;
        copy_exact(
            input,
            output,
            riff.file_len - riff.riff_end,
            "trailing data after the RIFF chunk",
        )?;
    }
    let end = output.stream_position()?;
    output.seek(SeekFrom::Start(start + 4))?;
    output.write_all(&riff_size.to_le_bytes())?;
    output.seek(SeekFrom::Start(end))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(id: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut out = id.to_vec();
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(payload);
        if payload.len() % 2 == 1 {
            out.push(0);
        }
        out
    }

    fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = chunks.concat();
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&((body.len() + 4) as u32).to_le_bytes());
        out.extend_from_slice(b"WAVE");
        out.extend_from_slice(&body);
        out
    }

    fn fmt_chunk() -> Vec<u8> {
        // PCM, mono, 8000 Hz, 16 bit.
        let mut fmt = Vec::new();
        fmt.extend_from_slice(&1u16.to_le_bytes());
        fmt.extend_from_slice(&1u16.to_le_bytes());
        fmt.extend_from_slice(&8000u32.to_le_bytes());
        fmt.extend_from_slice(&16000u32.to_le_bytes());
        fmt.extend_from_slice(&2u16.to_le_bytes());
        fmt.extend_from_slice(&16u16.to_le_bytes());
        chunk(b"fmt ", &fmt)
    }

    fn samples() -> Vec<u8> {
        (0..400u32).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn sample_wav() -> Vec<u8> {
        let list = chunk(b"LIST", b"INFOINAM\x05\0\0\0Song\0\0");
        riff(&[fmt_chunk(), list, chunk(b"data", &samples())])
    }

    fn write_to_vec(input: &[u8], value: &str) -> Result<Vec<u8>, MarkError> {
        crate::formats::test_support::write_vec(write, input, value)
    }

    fn read_vec(input: &[u8]) -> Result<Vec<String>, MarkError> {
        crate::formats::test_support::read_vec(read, input)
    }

    /// The payload of the first chunk with `id`.
    fn find_chunk(file: &[u8], id: &[u8; 4]) -> Vec<u8> {
        let mut pos = 12;
        while pos + 8 <= file.len() {
            let size = u32::from_le_bytes(file[pos + 4..pos + 8].try_into().unwrap()) as usize;
            if &file[pos..pos + 4] == id {
                return file[pos + 8..pos + 8 + size].to_vec();
            }
            pos += 8 + size + size % 2;
        }
        panic!("no chunk {id:?}");
    }

    #[test]
    fn round_trip_keeps_samples_and_other_chunks() {
        let input = sample_wav();
        assert!(read_vec(&input).unwrap().is_empty());
        let value = r#"{"Label":"1","ContentProducer":"x"}"#;
        let out = write_to_vec(&input, value).unwrap();
        assert_eq!(read_vec(&out).unwrap(), vec![value.to_string()]);
        assert_eq!(find_chunk(&out, b"data"), samples());
        assert_eq!(find_chunk(&out, b"LIST"), find_chunk(&input, b"LIST"));
        assert_eq!(find_chunk(&out, b"fmt "), find_chunk(&input, b"fmt "));
        let riff_size = u32::from_le_bytes(out[4..8].try_into().unwrap()) as usize;
        assert_eq!(riff_size + 8, out.len());
        // The original file is a prefix: only the label chunk was appended.
        assert_eq!(&out[8..input.len()], &input[8..]);
    }

    #[test]
    fn writing_twice_leaves_one_label() {
        let once = write_to_vec(&sample_wav(), "{\"a\":1}").unwrap();
        let twice = write_to_vec(&once, "{\"b\":222}").unwrap();
        assert_eq!(read_vec(&twice).unwrap(), vec!["{\"b\":222}".to_string()]);
        assert_eq!(find_chunk(&twice, b"data"), samples());
        assert_eq!(twice.len(), once.len() + 2);
    }

    #[test]
    fn odd_sized_chunks_and_missing_final_pad() {
        // An odd data chunk whose pad byte is missing at the end of the file.
        let mut input = riff(&[fmt_chunk(), chunk(b"data", &[1, 2, 3])]);
        input.pop();
        let size = (input.len() - 8) as u32;
        input[4..8].copy_from_slice(&size.to_le_bytes());
        let out = write_to_vec(&input, "{\"x\":\"odd\"}").unwrap();
        assert_eq!(read_vec(&out).unwrap(), vec!["{\"x\":\"odd\"}".to_string()]);
        assert_eq!(find_chunk(&out, b"data"), vec![1, 2, 3]);
        assert_eq!(out.len() % 2, 0);
    }

    #[test]
    fn trailing_junk_is_kept_after_the_riff() {
        let mut input = sample_wav();
        input.extend_from_slice(b"JUNK!");
        let out = write_to_vec(&input, "{}").unwrap();
        assert!(out.ends_with(b"JUNK!"));
        assert_eq!(read_vec(&out).unwrap(), vec!["{}".to_string()]);
    }

    #[test]
    fn rf64_is_unsupported() {
        let mut input = sample_wav();
        input[..4].copy_from_slice(b"RF64");
        assert!(matches!(read_vec(&input), Err(MarkError::Unsupported(_))));
        assert!(matches!(
            write_to_vec(&input, "{}"),
            Err(MarkError::Unsupported(_))
        ));
    }

    #[test]
    fn truncated_and_corrupt_inputs_are_errors() {
        let labelled = write_to_vec(&sample_wav(), "{\"Label\":\"1\"}").unwrap();
        for len in 0..labelled.len() {
            let cut = &labelled[..len];
            for result in [
                read_vec(cut).map(|_| ()),
                write_to_vec(cut, "{}").map(|_| ()),
            ] {
                if let Err(e) = result {
                    assert!(
                        matches!(e, MarkError::Truncated { .. } | MarkError::Corrupt { .. }),
                        "{len}: {e}"
                    );
                }
            }
        }
        // Cutting into the data chunk is reported, not ignored.
        let cut = &labelled[..80];
        assert!(matches!(read_vec(cut), Err(MarkError::Truncated { .. })));
        assert!(matches!(
            write_to_vec(b"RIFX\0\0\0\0WAVE", "{}"),
            Err(MarkError::Corrupt { .. })
        ));
        let mut bad = labelled.clone();
        let at = bad.len() - 14;
        bad[at] = 0xFF;
        assert!(matches!(read_vec(&bad), Err(MarkError::Corrupt { .. })));
    }
}
