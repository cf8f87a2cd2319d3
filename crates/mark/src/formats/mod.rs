//! Containers: where each file format keeps the implicit label, per the TC260 practice guides.
//!
//! Every format module offers the same two functions:
//! - `read(input) -> Vec<String>`: every AIGC label value in the file, in file order, without
//!   loading media data into memory (seek over it);
//! - `write(input, output, value)`: copy `input` to `output` with exactly one label holding
//!   `value`, replacing any existing ones; every byte outside the metadata is copied unchanged,
//!   streamed in bounded buffers.
//!
//! Neither ever panics on malformed input: truncation and corruption are [`MarkError`]s.

pub mod jpeg;
pub mod mp3;
pub mod mp4;
pub mod ooxml;
pub mod pdf;
pub mod png;
#[cfg(test)]
mod test_support;
pub mod text;
pub mod wav;
pub mod webp;

use std::io::{Read, Seek, Write};

use serde::Serialize;

use crate::error::MarkError;

/// A file format Warden can label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Png,
    Jpeg,
    Webp,
    Wav,
    Mp3,
    /// MP4, M4A and MOV (ISO base media files).
    Mp4,
    /// DOCX, XLSX and PPTX (Office Open XML packages).
    Ooxml,
    Pdf,
    Markdown,
    Text,
}

impl Format {
    /// Human name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Png => "PNG",
            Format::Jpeg => "JPEG",
            Format::Webp => "WebP",
            Format::Wav => "WAV",
            Format::Mp3 => "MP3",
            Format::Mp4 => "MP4",
            Format::Ooxml => "Office Open XML",
            Format::Pdf => "PDF",
            Format::Markdown => "Markdown",
            Format::Text => "plain text",
        }
    }

    /// Detect from the first bytes (at least 16 when the file has them) and the file extension.
    /// Magic numbers win; the extension decides only between zip packages and text formats.
    pub fn detect(head: &[u8], extension: Option<&str>) -> Result<Self, MarkError> {
        let extension = extension.map(str::to_ascii_lowercase);
        let ext = extension.as_deref();
        if head.starts_with(b"\x89PNG\r\n\x1a\n") {
            return Ok(Format::Png);
        }
        if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            return Ok(Format::Jpeg);
        }
        if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
            return Ok(Format::Webp);
        }
        if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WAVE" {
            return Ok(Format::Wav);
        }
        if head.starts_with(b"ID3")
            || (head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0 && ext == Some("mp3"))
        {
            return Ok(Format::Mp3);
        }
        if head.len() >= 8
            && matches!(
                &head[4..8],
                b"ftyp" | b"moov" | b"mdat" | b"free" | b"wide" | b"skip"
            )
        {
            return Ok(Format::Mp4);
        }
        if head.starts_with(b"%PDF-") {
            return Ok(Format::Pdf);
        }
        if head.starts_with(b"PK\x03\x04") {
            return match ext {
                Some("docx" | "xlsx" | "pptx" | "docm" | "xlsm" | "pptm") => Ok(Format::Ooxml),
                _ => Err(MarkError::Unsupported(format!(
                    "a zip archive with extension {:?}; only DOCX, XLSX and PPTX packages carry labels",
                    ext.unwrap_or("")
                ))),
            };
        }
        match ext {
            Some("md" | "markdown") => Ok(Format::Markdown),
            Some("txt" | "text") => Ok(Format::Text),
            _ if std::str::from_utf8(head).is_ok() || head.is_empty() => Err(MarkError::Unsupported(
                "text without a .md or .txt extension; name the file so Warden knows where the label goes".into(),
            )),
            _ => Err(MarkError::Unsupported("unrecognised file contents".into())),
        }
    }
}

/// Every label value in `input`.
pub fn read<R: Read + Seek>(format: Format, input: &mut R) -> Result<Vec<String>, MarkError> {
    match format {
        Format::Png => png::read(input),
        Format::Jpeg => jpeg::read(input),
        Format::Webp => webp::read(input),
        Format::Wav => wav::read(input),
        Format::Mp3 => mp3::read(input),
        Format::Mp4 => mp4::read(input),
        Format::Ooxml => ooxml::read(input),
        Format::Pdf => pdf::read(input),
        Format::Markdown => text::read_markdown(input),
        Format::Text => Err(MarkError::Unsupported(
            "plain text carries its label in a sidecar file (FILE.aigc.json); see text::sidecar_path".into(),
        )),
    }
}

/// Copy `input` to `output` with exactly one label holding `value`.
pub fn write<R: Read + Seek, W: Write + Seek>(
    format: Format,
    input: &mut R,
    output: &mut W,
    value: &str,
) -> Result<(), MarkError> {
    match format {
        Format::Png => png::write(input, output, value),
        Format::Jpeg => jpeg::write(input, output, value),
        Format::Webp => webp::write(input, output, value),
        Format::Wav => wav::write(input, output, value),
        Format::Mp3 => mp3::write(input, output, value),
        Format::Mp4 => mp4::write(input, output, value),
        Format::Ooxml => ooxml::write(input, output, value),
        Format::Pdf => pdf::write(input, output, value),
        Format::Markdown => text::write_markdown(input, output, value),
        Format::Text => Err(MarkError::Unsupported(
            "plain text carries its label in a sidecar file (FILE.aigc.json); see text::sidecar_path".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_magic_and_extension() {
        assert_eq!(
            Format::detect(b"\x89PNG\r\n\x1a\n0000", None).unwrap(),
            Format::Png
        );
        assert_eq!(
            Format::detect(b"RIFF\0\0\0\0WAVEfmt ", None).unwrap(),
            Format::Wav
        );
        assert_eq!(
            Format::detect(b"RIFF\0\0\0\0WEBPVP8 ", None).unwrap(),
            Format::Webp
        );
        assert_eq!(
            Format::detect(b"\0\0\0\x18ftypisom", None).unwrap(),
            Format::Mp4
        );
        assert_eq!(
            Format::detect(b"PK\x03\x04", Some("DOCX")).unwrap(),
            Format::Ooxml
        );
        assert!(Format::detect(b"PK\x03\x04", Some("zip")).is_err());
        assert_eq!(
            Format::detect(b"# Title", Some("md")).unwrap(),
            Format::Markdown
        );
        assert!(Format::detect(b"\x00\x01\x02", Some("bin")).is_err());
    }
}
