//! Explicit labels for audio (GB 45438-2025 5.3), WAV only: the rhythm cue "短长 短短" (Morse
//! "AI", `·− ··`) or a spoken notice, placed *before* or *after* the content, never over it.
//!
//! The cue is an 800 Hz sine at half full scale: dot 100 ms, dash 300 ms, 100 ms between the
//! symbols of a letter and 300 ms between the two letters, each tone faded in and out over 5 ms
//! so it does not click. 300 ms of silence separate the label from the content.
//!
//! Supported: integer PCM (format tag 1, or WAVE_FORMAT_EXTENSIBLE with the PCM sub-format) with
//! 8-bit unsigned or 16/24/32-bit signed samples and any channel count. Float, compressed and
//! RF64 files are refused. The output's `data` chunk is the label followed by the original samples
//! (or the reverse); the original samples and every other chunk are copied byte for byte, in
//! order, with bounded buffers, and the RIFF and `data` sizes are rewritten. Bytes after the RIFF
//! chunk (e.g. an appended ID3 tag) are copied unchanged too.

use std::fmt;
use std::io::{Read, Seek, SeekFrom, Write};

use crate::error::MarkError;

/// Cue tone frequency.
pub const TONE_HZ: f64 = 800.0;
/// Short tone ("短", Morse dot).
pub const DOT_MS: u32 = 100;
/// Long tone ("长", Morse dash).
pub const DASH_MS: u32 = 300;
/// Silence between the tones of one letter.
pub const SYMBOL_GAP_MS: u32 = 100;
/// Silence between the letters "A" and "I".
pub const LETTER_GAP_MS: u32 = 300;
/// Fade in and out of each tone.
pub const FADE_MS: u32 = 5;
/// Silence between the label and the content.
pub const SEPARATION_MS: u32 = 300;
/// Peak amplitude as a fraction of full scale (about −6 dBFS).
const AMPLITUDE: f64 = 0.5;
/// The cue refuses to build more than this many bytes (absurd sample rates or channel counts).
const MAX_CUE_BYTES: u64 = 256 << 20;
/// Copy buffer.
const BUFFER: usize = 64 * 1024;

const FORMAT: &str = "wav";
const WAVE_FORMAT_PCM: u16 = 1;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;
/// KSDATAFORMAT_SUBTYPE_PCM after its first two bytes.
const PCM_GUID_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

/// Before or after the content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CuePlacement {
    Start,
    End,
}

/// The sample format of a PCM WAV file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcmFormat {
    pub sample_rate: u32,
    pub channels: u16,
    pub bits_per_sample: u16,
    /// Bytes per frame (all channels of one sample instant).
    pub block_align: u16,
}

impl fmt::Display for PcmFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} Hz, {} channel(s), {}-bit PCM",
            self.sample_rate, self.channels, self.bits_per_sample
        )
    }
}

impl PcmFormat {
    fn new(sample_rate: u32, channels: u16, bits_per_sample: u16) -> Result<Self, MarkError> {
        if !matches!(bits_per_sample, 8 | 16 | 24 | 32) {
            return Err(MarkError::Unsupported(format!(
                "{bits_per_sample}-bit WAV samples; the audio cue supports 8-bit unsigned and \
                 16/24/32-bit signed integer PCM"
            )));
        }
        if sample_rate == 0 || channels == 0 {
            return Err(MarkError::corrupt(
                FORMAT,
                "the sample rate and channel count must be non-zero",
            ));
        }
        let block_align = u32::from(channels) * u32::from(bits_per_sample / 8);
        let block_align = u16::try_from(block_align).map_err(|_| {
            MarkError::Unsupported(format!(
                "{channels} channels of {bits_per_sample}-bit samples"
            ))
        })?;
        Ok(Self {
            sample_rate,
            channels,
            bits_per_sample,
            block_align,
        })
    }

    fn frames(&self, ms: u32) -> u64 {
        u64::from(self.sample_rate) * u64::from(ms) / 1000
    }

    fn silence_byte(&self) -> u8 {
        if self.bits_per_sample == 8 { 0x80 } else { 0 }
    }

    /// `ms` of digital silence.
    fn silence(&self, ms: u32) -> Vec<u8> {
        let len = self.frames(ms) * u64::from(self.block_align);
        vec![self.silence_byte(); usize::try_from(len).unwrap_or(0)]
    }

    /// Append one frame holding `value` (−1 to 1) on every channel.
    fn push_frame(&self, out: &mut Vec<u8>, value: f64) {
        let value = value.clamp(-1.0, 1.0);
        for _ in 0..self.channels {
            match self.bits_per_sample {
                8 => out.push((128.0 + value * 127.0).round() as u8),
                16 => out.extend_from_slice(&((value * 32767.0).round() as i16).to_le_bytes()),
                24 => {
                    let [a, b, c, _] = ((value * 8_388_607.0).round() as i32).to_le_bytes();
                    out.extend_from_slice(&[a, b, c]);
                }
                _ => {
                    out.extend_from_slice(&((value * 2_147_483_647.0).round() as i32).to_le_bytes())
                }
            }
        }
    }
}

/// PCM bytes of the cue "·− ··" (short long, short short), 1.1 s, without the separating
/// silence, in the given format. Fails for formats other than 8-bit unsigned or 16/24/32-bit
/// signed PCM, and for a zero sample rate or channel count.
pub fn morse_ai_cue(
    sample_rate: u32,
    channels: u16,
    bits_per_sample: u16,
) -> Result<Vec<u8>, MarkError> {
    cue(&PcmFormat::new(sample_rate, channels, bits_per_sample)?)
}

fn cue(format: &PcmFormat) -> Result<Vec<u8>, MarkError> {
    // (tone?, duration): "A" = dot dash, "I" = dot dot.
    let pattern = [
        (true, DOT_MS),
        (false, SYMBOL_GAP_MS),
        (true, DASH_MS),
        (false, LETTER_GAP_MS),
        (true, DOT_MS),
        (false, SYMBOL_GAP_MS),
        (true, DOT_MS),
    ];
    let frames: u64 = pattern.iter().map(|&(_, ms)| format.frames(ms)).sum();
    let bytes = frames * u64::from(format.block_align);
    if bytes > MAX_CUE_BYTES {
        return Err(MarkError::Unsupported(format!(
            "an audio cue for {format} ({bytes} bytes)"
        )));
    }
    let mut out = Vec::with_capacity(usize::try_from(bytes).unwrap_or(0));
    let rate = f64::from(format.sample_rate);
    let fade = (format.frames(FADE_MS) as f64).max(1.0);
    for (tone, ms) in pattern {
        let n = format.frames(ms);
        for i in 0..n {
            let value = if tone {
                let from_edge = (i.min(n - 1 - i) as f64 + 0.5) / fade;
                let envelope = from_edge.min(1.0);
                let t = i as f64 / rate;
                AMPLITUDE * envelope * (2.0 * std::f64::consts::PI * TONE_HZ * t).sin()
            } else {
                0.0
            };
            format.push_frame(&mut out, value);
        }
    }
    Ok(out)
}

/// Copy a WAV file with the Morse "AI" cue before (`Start`) or after (`End`) its samples,
/// separated from them by [`SEPARATION_MS`] of silence.
pub fn add_cue<R: Read + Seek, W: Write + Seek>(
    input: &mut R,
    output: &mut W,
    placement: CuePlacement,
) -> Result<(), MarkError> {
    let wav = parse(input)?;
    let cue = cue(&wav.format)?;
    let gap = wav.format.silence(SEPARATION_MS);
    let insert_len = (cue.len() + gap.len()) as u64;
    splice(input, &wav, output, placement, insert_len, |out: &mut W| {
        let (first, second) = match placement {
            CuePlacement::Start => (&cue, &gap),
            CuePlacement::End => (&gap, &cue),
        };
        out.write_all(first)?;
        out.write_all(second)?;
        Ok(())
    })
}

/// Copy a WAV file with the samples of a spoken-notice WAV before (`Start`) or after (`End`)
/// its own, separated by [`SEPARATION_MS`] of silence. Both files must have the same sample
/// format; the notice is not resampled.
pub fn add_notice<R: Read + Seek, N: Read + Seek, W: Write + Seek>(
    input: &mut R,
    notice_wav: &mut N,
    output: &mut W,
    placement: CuePlacement,
) -> Result<(), MarkError> {
    let wav = parse(input)?;
    let notice = parse(notice_wav)?;
    if notice.format != wav.format {
        return Err(MarkError::InvalidLabel(format!(
            "the spoken notice is {} but the content is {}; convert the notice to the content's \
             sample rate, channel count and bit depth first",
            notice.format, wav.format
        )));
    }
    let notice_data = notice.data()?;
    if notice_data.size % u32::from(notice.format.block_align) != 0 {
        return Err(MarkError::corrupt(
            FORMAT,
            "the notice's data chunk is not a whole number of sample frames",
        ));
    }
    let gap = wav.format.silence(SEPARATION_MS);
    let insert_len = u64::from(notice_data.size) + gap.len() as u64;
    splice(input, &wav, output, placement, insert_len, |out: &mut W| {
        if placement == CuePlacement::End {
            out.write_all(&gap)?;
        }
        copy_range(
            notice_wav,
            notice_data.body,
            u64::from(notice_data.size),
            out,
        )?;
        if placement == CuePlacement::Start {
            out.write_all(&gap)?;
        }
        Ok(())
    })
}

/// One chunk of the RIFF file: its id, where its body starts and its declared size.
#[derive(Clone, Copy, Debug)]
struct ChunkRef {
    id: [u8; 4],
    body: u64,
    size: u32,
}

struct Wav {
    chunks: Vec<ChunkRef>,
    data_index: usize,
    format: PcmFormat,
    /// Bytes after the RIFF chunk, copied unchanged.
    trailing: (u64, u64),
}

impl Wav {
    fn data(&self) -> Result<ChunkRef, MarkError> {
        self.chunks
            .get(self.data_index)
            .copied()
            .ok_or_else(|| MarkError::corrupt(FORMAT, "no data chunk"))
    }
}

fn parse<R: Read + Seek>(input: &mut R) -> Result<Wav, MarkError> {
    let file_len = input.seek(SeekFrom::End(0))?;
    input.seek(SeekFrom::Start(0))?;
    let mut header = [0u8; 12];
    input
        .read_exact(&mut header)
        .map_err(|e| MarkError::from_read(FORMAT, e))?;
    let [r0, r1, r2, r3, s0, s1, s2, s3, w0, w1, w2, w3] = header;
    match [r0, r1, r2, r3] {
        [b'R', b'I', b'F', b'F'] => {}
        [b'R', b'F', b'6', b'4'] => {
            return Err(MarkError::Unsupported("RF64 WAV (files over 4 GiB)".into()));
        }
        _ => return Err(MarkError::corrupt(FORMAT, "not a RIFF file")),
    }
    if [w0, w1, w2, w3] != *b"WAVE" {
        return Err(MarkError::corrupt(FORMAT, "a RIFF file, but not WAVE"));
    }
    let riff_end = 8 + u64::from(u32::from_le_bytes([s0, s1, s2, s3]));

    let mut chunks = Vec::new();
    let mut fmt_body = None;
    let mut data_index = None;
    let mut pos = 12u64;
    while pos + 8 <= riff_end {
        if pos + 8 > file_len {
            return Err(MarkError::truncated(
                FORMAT,
                format!("the file ends at byte {file_len}, inside the chunk header at byte {pos}"),
            ));
        }
        input.seek(SeekFrom::Start(pos))?;
        let mut head = [0u8; 8];
        input
            .read_exact(&mut head)
            .map_err(|e| MarkError::from_read(FORMAT, e))?;
        let [i0, i1, i2, i3, z0, z1, z2, z3] = head;
        let id = [i0, i1, i2, i3];
        let size = u32::from_le_bytes([z0, z1, z2, z3]);
        let body = pos + 8;
        let end = body + u64::from(size);
        if end > file_len {
            return Err(MarkError::truncated(
                FORMAT,
                format!(
                    "the {:?} chunk declares {size} bytes but only {} remain",
                    String::from_utf8_lossy(&id),
                    file_len - body
                ),
            ));
        }
        match &id {
            b"fmt " if fmt_body.is_some() => {
                return Err(MarkError::corrupt(FORMAT, "two fmt chunks"));
            }
            b"fmt " => fmt_body = Some((body, size)),
            b"data" if data_index.is_some() => {
                return Err(MarkError::corrupt(FORMAT, "two data chunks"));
            }
            b"data" => data_index = Some(chunks.len()),
            _ => {}
        }
        chunks.push(ChunkRef { id, body, size });
        // A missing pad byte at the very end of the file is tolerated.
        pos = (end + u64::from(size & 1)).min(file_len);
    }
    let Some((fmt_at, fmt_size)) = fmt_body else {
        return Err(MarkError::corrupt(FORMAT, "no fmt chunk"));
    };
    let Some(data_index) = data_index else {
        return Err(MarkError::corrupt(FORMAT, "no data chunk"));
    };
    let format = parse_fmt(input, fmt_at, fmt_size)?;
    let trailing_start = pos.max(riff_end).min(file_len);
    Ok(Wav {
        chunks,
        data_index,
        format,
        trailing: (trailing_start, file_len - trailing_start),
    })
}

fn parse_fmt<R: Read + Seek>(input: &mut R, at: u64, size: u32) -> Result<PcmFormat, MarkError> {
    if size < 16 {
        return Err(MarkError::corrupt(
            FORMAT,
            format!("the fmt chunk has {size} bytes, fewer than 16"),
        ));
    }
    let mut raw = [0u8; 40];
    let take = raw.len().min(size as usize);
    input.seek(SeekFrom::Start(at))?;
    if let Some(buf) = raw.get_mut(..take) {
        input
            .read_exact(buf)
            .map_err(|e| MarkError::from_read(FORMAT, e))?;
    }
    let u16_at = |i: usize| match raw.get(i..i + 2) {
        Some(&[a, b]) => u16::from_le_bytes([a, b]),
        _ => 0,
    };
    let tag = u16_at(0);
    let channels = u16_at(2);
    let sample_rate = u32::from(u16_at(4)) | (u32::from(u16_at(6)) << 16);
    let block_align = u16_at(12);
    let bits = u16_at(14);
    let pcm = match tag {
        WAVE_FORMAT_PCM => true,
        WAVE_FORMAT_EXTENSIBLE => {
            take >= 40
                && u16_at(24) == WAVE_FORMAT_PCM
                && raw.get(26..40) == Some(&PCM_GUID_TAIL[..])
        }
        _ => false,
    };
    if !pcm {
        let kind = match tag {
            3 => "IEEE float",
            WAVE_FORMAT_EXTENSIBLE => "extensible, non-PCM sub-format",
            _ => "compressed",
        };
        return Err(MarkError::Unsupported(format!(
            "WAV format tag {tag:#06x} ({kind}); explicit audio labels support integer PCM \
             (format tag 1) with 8-bit unsigned or 16/24/32-bit signed samples"
        )));
    }
    let format = PcmFormat::new(sample_rate, channels, bits)?;
    if format.block_align != block_align {
        return Err(MarkError::corrupt(
            FORMAT,
            format!(
                "block align {block_align} does not match {channels} channel(s) of {bits}-bit samples"
            ),
        ));
    }
    Ok(format)
}

/// Write `input` to `output` with `insert_len` bytes, produced by `write_insert`, before or
/// after the samples of the data chunk.
fn splice<R: Read + Seek, W: Write + Seek>(
    input: &mut R,
    wav: &Wav,
    output: &mut W,
    placement: CuePlacement,
    insert_len: u64,
    mut write_insert: impl FnMut(&mut W) -> Result<(), MarkError>,
) -> Result<(), MarkError> {
    let data = wav.data()?;
    if placement == CuePlacement::End && data.size % u32::from(wav.format.block_align) != 0 {
        return Err(MarkError::corrupt(
            FORMAT,
            "the data chunk is not a whole number of sample frames, so nothing can follow it",
        ));
    }
    let too_big =
        || MarkError::Unsupported("a WAV result over 4 GiB (RF64 is not supported)".into());
    let new_data = u32::try_from(u64::from(data.size) + insert_len).map_err(|_| too_big())?;
    let mut riff_size = 4u64;
    for (index, chunk) in wav.chunks.iter().enumerate() {
        let size = if index == wav.data_index {
            new_data
        } else {
            chunk.size
        };
        riff_size += 8 + u64::from(size) + u64::from(size & 1);
    }
    let riff_size = u32::try_from(riff_size).map_err(|_| too_big())?;

    output.write_all(b"RIFF")?;
    output.write_all(&riff_size.to_le_bytes())?;
    output.write_all(b"WAVE")?;
    for (index, chunk) in wav.chunks.iter().enumerate() {
        if index == wav.data_index {
            output.write_all(b"data")?;
            output.write_all(&new_data.to_le_bytes())?;
            if placement == CuePlacement::Start {
                write_insert(output)?;
            }
            copy_range(input, chunk.body, u64::from(chunk.size), output)?;
            if placement == CuePlacement::End {
                write_insert(output)?;
            }
            if new_data & 1 == 1 {
                output.write_all(&[0])?;
            }
        } else {
            output.write_all(&chunk.id)?;
            output.write_all(&chunk.size.to_le_bytes())?;
            copy_range(input, chunk.body, u64::from(chunk.size), output)?;
            if chunk.size & 1 == 1 {
                output.write_all(&[0])?;
            }
        }
    }
    let (trailing_at, trailing_len) = wav.trailing;
    copy_range(input, trailing_at, trailing_len, output)?;
    output.flush()?;
    Ok(())
}

fn copy_range<R: Read + Seek, W: Write + ?Sized>(
    input: &mut R,
    at: u64,
    len: u64,
    output: &mut W,
) -> Result<(), MarkError> {
    input.seek(SeekFrom::Start(at))?;
    let mut buffer = vec![0u8; BUFFER];
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left).map_or(BUFFER, |l| l.min(BUFFER));
        let Some(chunk) = buffer.get_mut(..n) else {
            break;
        };
        input
            .read_exact(chunk)
            .map_err(|e| MarkError::from_read(FORMAT, e))?;
        output.write_all(chunk)?;
        left -= n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn wav_bytes(
        format: &PcmFormat,
        extra_before: &[u8],
        data: &[u8],
        extra_after: &[u8],
    ) -> Vec<u8> {
        let mut fmt = Vec::new();
        fmt.extend_from_slice(&1u16.to_le_bytes());
        fmt.extend_from_slice(&format.channels.to_le_bytes());
        fmt.extend_from_slice(&format.sample_rate.to_le_bytes());
        let byte_rate = format.sample_rate * u32::from(format.block_align);
        fmt.extend_from_slice(&byte_rate.to_le_bytes());
        fmt.extend_from_slice(&format.block_align.to_le_bytes());
        fmt.extend_from_slice(&format.bits_per_sample.to_le_bytes());
        let mut body = b"WAVE".to_vec();
        body.extend_from_slice(b"fmt ");
        body.extend_from_slice(&16u32.to_le_bytes());
        body.extend_from_slice(&fmt);
        body.extend_from_slice(extra_before);
        body.extend_from_slice(b"data");
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        if data.len() % 2 == 1 {
            body.push(0);
        }
        body.extend_from_slice(extra_after);
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// A `LIST` chunk with an odd-sized body, to check padding is kept.
    fn list_chunk() -> Vec<u8> {
        let mut c = b"LIST".to_vec();
        c.extend_from_slice(&9u32.to_le_bytes());
        c.extend_from_slice(b"INFOISFT\x01\x00");
        c
    }

    /// Locate a chunk in a RIFF file the plain way: (body offset, size).
    fn find_chunk(bytes: &[u8], id: &[u8; 4]) -> (usize, usize) {
        let mut pos = 12;
        while pos + 8 <= bytes.len() {
            let size = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
            if &bytes[pos..pos + 4] == id {
                return (pos + 8, size);
            }
            pos += 8 + size + (size & 1);
        }
        panic!("no {id:?} chunk");
    }

    /// Tone segments of channel 0, found by energy in 5 ms windows: (start ms, length ms).
    fn tone_segments(samples: &[f64], rate: u32) -> Vec<(u32, u32)> {
        let window = (rate / 200) as usize;
        let mut segments = Vec::new();
        let mut current: Option<(u32, u32)> = None;
        for (i, w) in samples.chunks(window).enumerate() {
            let rms = (w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64).sqrt();
            let ms = i as u32 * 5;
            if rms > 0.05 {
                current = Some(current.map_or((ms, 5), |(s, l)| (s, l + 5)));
            } else if let Some(seg) = current.take() {
                segments.push(seg);
            }
        }
        segments.extend(current);
        segments
    }

    fn check_pattern(segments: &[(u32, u32)]) {
        let kinds: Vec<&str> = segments
            .iter()
            .map(|&(_, len)| if len < 200 { "short" } else { "long" })
            .collect();
        assert_eq!(kinds, ["short", "long", "short", "short"], "{segments:?}");
        let lengths: Vec<u32> = segments.iter().map(|s| s.1).collect();
        for (got, want) in lengths.iter().zip([DOT_MS, DASH_MS, DOT_MS, DOT_MS]) {
            assert!(got.abs_diff(want) <= 10, "{lengths:?}");
        }
        let gaps: Vec<u32> = segments
            .windows(2)
            .map(|p| p[1].0 - (p[0].0 + p[0].1))
            .collect();
        for (got, want) in gaps
            .iter()
            .zip([SYMBOL_GAP_MS, LETTER_GAP_MS, SYMBOL_GAP_MS])
        {
            assert!(got.abs_diff(want) <= 10, "{gaps:?}");
        }
    }

    #[test]
    fn cue_pattern_16_bit_mono() {
        let cue = morse_ai_cue(44_100, 1, 16).unwrap();
        let frames = 44_100 * 1100 / 1000;
        assert_eq!(cue.len(), frames * 2);
        let samples: Vec<f64> = cue
            .chunks_exact(2)
            .map(|b| f64::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
            .collect();
        check_pattern(&tone_segments(&samples, 44_100));
        // Faded in: the first sample is near silence, and peaks stay at half scale.
        assert!(samples[0].abs() < 0.01);
        assert!(samples.iter().all(|v| v.abs() <= 0.51));
    }

    #[test]
    fn cue_pattern_8_bit_stereo() {
        let cue = morse_ai_cue(8_000, 2, 8).unwrap();
        assert_eq!(cue.len(), 8_000 * 1100 / 1000 * 2);
        let frames: Vec<(u8, u8)> = cue.chunks_exact(2).map(|f| (f[0], f[1])).collect();
        assert!(frames.iter().all(|(l, r)| l == r));
        let samples: Vec<f64> = frames
            .iter()
            .map(|&(l, _)| (f64::from(l) - 128.0) / 128.0)
            .collect();
        check_pattern(&tone_segments(&samples, 8_000));
        // Silence (the letter gap, 500 to 800 ms) is 0x80 for unsigned 8-bit.
        assert!(
            cue[8_000 * 650 / 1000 * 2..8_000 * 750 / 1000 * 2]
                .iter()
                .all(|&b| b == 0x80)
        );
    }

    #[test]
    fn cue_24_and_32_bit_and_unsupported() {
        assert_eq!(morse_ai_cue(48_000, 2, 24).unwrap().len(), 52_800 * 6);
        assert_eq!(morse_ai_cue(48_000, 1, 32).unwrap().len(), 52_800 * 4);
        assert!(matches!(
            morse_ai_cue(48_000, 1, 12),
            Err(MarkError::Unsupported(_))
        ));
        assert!(morse_ai_cue(0, 1, 16).is_err());
        assert!(morse_ai_cue(48_000, 0, 16).is_err());
    }

    fn content(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8 + 1).collect()
    }

    #[test]
    fn add_cue_start_and_end_keep_samples() {
        let format = PcmFormat::new(16_000, 1, 16).unwrap();
        let samples = content(3_200);
        let list = list_chunk();
        let original = wav_bytes(&format, &list, &samples, b"junk\x02\x00\x00\x00ab");
        let cue = cue(&format).unwrap();
        let gap = format.silence(SEPARATION_MS);
        assert_eq!(gap.len(), 16_000 * 3 / 10 * 2);

        for placement in [CuePlacement::Start, CuePlacement::End] {
            let mut out = Cursor::new(Vec::new());
            add_cue(&mut Cursor::new(&original), &mut out, placement).unwrap();
            let out = out.into_inner();
            assert_eq!(
                u32::from_le_bytes(out[4..8].try_into().unwrap()) as usize,
                out.len() - 8
            );
            let (at, size) = find_chunk(&out, b"data");
            assert_eq!(size, samples.len() + cue.len() + gap.len());
            let data = &out[at..at + size];
            match placement {
                CuePlacement::Start => {
                    assert_eq!(&data[..cue.len()], &cue[..]);
                    assert_eq!(&data[cue.len()..cue.len() + gap.len()], &gap[..]);
                    assert_eq!(&data[cue.len() + gap.len()..], &samples[..]);
                }
                CuePlacement::End => {
                    assert_eq!(&data[..samples.len()], &samples[..]);
                    assert_eq!(&data[samples.len()..samples.len() + gap.len()], &gap[..]);
                    assert_eq!(&data[samples.len() + gap.len()..], &cue[..]);
                }
            }
            // Other chunks are byte-identical, including the padded odd LIST chunk.
            let (fa, fs) = find_chunk(&original, b"fmt ");
            let (oa, os) = find_chunk(&out, b"fmt ");
            assert_eq!(&original[fa..fa + fs], &out[oa..oa + os]);
            let (la, ls) = find_chunk(&out, b"LIST");
            assert_eq!(&out[la - 8..la + ls + 1], &list[..]);
            assert!(out.ends_with(b"junk\x02\x00\x00\x00ab"));
            // The result parses again.
            let again = parse(&mut Cursor::new(&out)).unwrap();
            assert_eq!(again.format, format);
        }
    }

    #[test]
    fn add_cue_odd_sized_8_bit_data_and_trailing_bytes() {
        let format = PcmFormat::new(8_000, 1, 8).unwrap();
        let samples = content(1_001);
        let mut original = wav_bytes(&format, &[], &samples, &[]);
        original.extend_from_slice(b"TAG-after-riff");
        let mut out = Cursor::new(Vec::new());
        add_cue(&mut Cursor::new(&original), &mut out, CuePlacement::Start).unwrap();
        let out = out.into_inner();
        let (at, size) = find_chunk(&out, b"data");
        assert_eq!(&out[at + size - samples.len()..at + size], &samples[..]);
        assert!(out.ends_with(b"TAG-after-riff"));
        let riff = u32::from_le_bytes(out[4..8].try_into().unwrap()) as usize;
        assert_eq!(riff + 8, out.len() - b"TAG-after-riff".len());
    }

    #[test]
    fn add_notice_prepends_and_checks_format() {
        let format = PcmFormat::new(16_000, 1, 16).unwrap();
        let samples = content(800);
        let spoken = content(640).into_iter().rev().collect::<Vec<_>>();
        let original = wav_bytes(&format, &[], &samples, &[]);
        let notice = wav_bytes(&format, &list_chunk(), &spoken, &[]);
        let gap = format.silence(SEPARATION_MS);
        let mut out = Cursor::new(Vec::new());
        add_notice(
            &mut Cursor::new(&original),
            &mut Cursor::new(&notice),
            &mut out,
            CuePlacement::Start,
        )
        .unwrap();
        let out = out.into_inner();
        let (at, size) = find_chunk(&out, b"data");
        assert_eq!(size, spoken.len() + gap.len() + samples.len());
        assert_eq!(&out[at..at + spoken.len()], &spoken[..]);
        assert_eq!(&out[at + spoken.len() + gap.len()..at + size], &samples[..]);

        let mut out = Cursor::new(Vec::new());
        add_notice(
            &mut Cursor::new(&original),
            &mut Cursor::new(&notice),
            &mut out,
            CuePlacement::End,
        )
        .unwrap();
        let out = out.into_inner();
        let (at, size) = find_chunk(&out, b"data");
        assert_eq!(&out[at..at + samples.len()], &samples[..]);
        assert_eq!(&out[at + size - spoken.len()..at + size], &spoken[..]);

        let stereo = PcmFormat::new(16_000, 2, 16).unwrap();
        let other = wav_bytes(&stereo, &[], &spoken, &[]);
        let err = add_notice(
            &mut Cursor::new(&original),
            &mut Cursor::new(&other),
            &mut Cursor::new(Vec::new()),
            CuePlacement::Start,
        )
        .unwrap_err();
        assert!(err.to_string().contains("2 channel(s)"), "{err}");
    }

    #[test]
    fn truncated_and_unsupported_wavs() {
        let format = PcmFormat::new(16_000, 1, 16).unwrap();
        let original = wav_bytes(&format, &[], &content(2_000), &[]);
        for cut in [5, 11, 20, 40, original.len() - 10] {
            let err = add_cue(
                &mut Cursor::new(&original[..cut]),
                &mut Cursor::new(Vec::new()),
                CuePlacement::Start,
            )
            .unwrap_err();
            assert!(
                matches!(err, MarkError::Truncated { .. }),
                "cut {cut}: {err}"
            );
        }
        let mut float = original.clone();
        float[20] = 3;
        let err = add_cue(
            &mut Cursor::new(&float),
            &mut Cursor::new(Vec::new()),
            CuePlacement::End,
        )
        .unwrap_err();
        assert!(matches!(err, MarkError::Unsupported(_)), "{err}");
        let err = add_cue(
            &mut Cursor::new(b"RIFX0000WAVE"),
            &mut Cursor::new(Vec::new()),
            CuePlacement::End,
        )
        .unwrap_err();
        assert!(matches!(err, MarkError::Corrupt { .. }), "{err}");
    }
}
