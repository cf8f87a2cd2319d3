//! Labelling files on disk: detect the format, read, embed atomically, verify, propagate.
//!
//! Output is written to a temporary file beside the destination and renamed into place, so a
//! failure never leaves a half-written file and the input is never modified unless the caller
//! passes the same path as input and output (`--in-place`). Plain text keeps its label in a
//! sidecar (`FILE.aigc.json`); the text itself is copied unchanged.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::MarkError;
use crate::formats::{self, Format, text};
use crate::label::AigcLabel;
use crate::verify::{self, Display, FileReport};

/// Open a file the caller named, saying which one when that fails. A folder is refused here too
/// (opening one succeeds on Unix, and reading it fails with a less helpful message).
fn open_input(path: &Path) -> Result<File, MarkError> {
    let input = |source| MarkError::Input {
        path: path.to_owned(),
        source,
    };
    if path.is_dir() {
        return Err(input(std::io::Error::other("it is a folder, not a file")));
    }
    File::open(path).map_err(input)
}

/// Open `path` and detect its format.
pub fn detect(path: &Path) -> Result<Format, MarkError> {
    let mut head = [0u8; 16];
    let mut file = open_input(path)?;
    let mut filled = 0;
    while filled < head.len() {
        let read = file.read(&mut head[filled..])?;
        if read == 0 {
            break;
        }
        filled += read;
    }
    let extension = path.extension().and_then(|ext| ext.to_str());
    Format::detect(&head[..filled], extension)
}

/// Every label value in the file (for plain text: in its sidecar).
pub fn read_values(path: &Path, format: Format) -> Result<Vec<String>, MarkError> {
    if format == Format::Text {
        let sidecar = text::sidecar_path(path);
        return match fs::read_to_string(&sidecar) {
            Ok(value) => Ok(vec![value.trim().to_owned()]),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(error) => Err(error.into()),
        };
    }
    let mut input = BufReader::with_capacity(64 * 1024, open_input(path)?);
    formats::read(format, &mut input)
}

/// Write `output` as a copy of `input` carrying exactly one label `value`. Atomic: the result is
/// renamed into place only when complete.
pub fn write_value(
    input: &Path,
    output: &Path,
    format: Format,
    value: &str,
) -> Result<(), MarkError> {
    if format == Format::Text {
        if input != output {
            atomic_write(output, |out| {
                std::io::copy(&mut File::open(input)?, out)?;
                Ok(())
            })?;
        }
        return atomic_write(&text::sidecar_path(output), |out| {
            Ok(out.write_all(value.as_bytes())?)
        });
    }
    let mut source = BufReader::with_capacity(64 * 1024, File::open(input)?);
    atomic_write(output, |out| {
        formats::write(format, &mut source, out, value)
    })
}

/// Embed `label` into `input`, writing `output`.
pub fn embed(input: &Path, output: &Path, label: &AigcLabel) -> Result<Format, MarkError> {
    label.validate()?;
    let format = detect(input)?;
    write_value(input, output, format, &label.to_json())?;
    Ok(format)
}

/// Verify one file; never fails: problems are in the report.
pub fn verify(path: &Path) -> FileReport {
    let name = path.display().to_string();
    let format = match detect(path) {
        Ok(format) => format,
        Err(error) => return verify::unreadable(&name, None, error.to_string()),
    };
    match read_values(path, format) {
        Ok(values) => verify::report(&name, format, &values),
        Err(error) => verify::unreadable(&name, Some(format), error.to_string()),
    }
}

/// What a platform must display for this file.
pub fn display(path: &Path, user_declared: bool, detected: bool) -> Result<Display, MarkError> {
    let format = detect(path)?;
    let values = read_values(path, format)?;
    Ok(verify::platform_display(&values, user_declared, detected))
}

/// A platform's propagation: keep the producer's fields, set its own, or label content that had
/// none according to the user's declaration or its detection. Returns the written label, or `None`
/// when nothing indicates AI generation (no label is written then).
pub fn propagate(
    input: &Path,
    output: &Path,
    propagator: &str,
    propagate_id: &str,
    reserved_code2: Option<&str>,
    user_declared: bool,
    detected: bool,
) -> Result<Option<AigcLabel>, MarkError> {
    let format = detect(input)?;
    let values = read_values(input, format)?;
    let existing = values.iter().find_map(|value| AigcLabel::parse(value).ok());
    let mut label = match existing {
        Some(label) => label,
        None => {
            let Some(generated) =
                verify::platform_display(&values, user_declared, detected).generated
            else {
                return Ok(None);
            };
            AigcLabel {
                label: generated.code().to_owned(),
                ..AigcLabel::default()
            }
        }
    };
    label.propagate(propagator, propagate_id, reserved_code2)?;
    write_value(input, output, format, &label.to_json())?;
    Ok(Some(label))
}

/// Write through a temporary file in the destination's folder, then rename.
pub fn atomic_write(
    destination: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<(), MarkError>,
) -> Result<(), MarkError> {
    let folder = destination
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let temporary: PathBuf = folder.join(format!(
        ".{}.warden-{}.tmp",
        destination
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("out"),
        std::process::id()
    ));
    let result = (|| {
        let created = File::create(&temporary).map_err(|source| MarkError::Output {
            path: destination.to_owned(),
            source,
        })?;
        let mut out = BufWriter::with_capacity(64 * 1024, created);
        fill(&mut out)?;
        let file = out
            .into_inner()
            .map_err(|e| MarkError::Io(e.into_error()))?;
        file.sync_all()?;
        fs::rename(&temporary, destination)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::Generated;

    #[test]
    fn plain_text_keeps_its_label_in_a_sidecar_and_its_bytes_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("answer.txt");
        fs::write(&input, "生成的回答").unwrap();
        let output = dir.path().join("labelled.txt");
        let label = AigcLabel::new(Generated::Is, "P", "t-1").unwrap();
        assert_eq!(embed(&input, &output, &label).unwrap(), Format::Text);
        assert_eq!(fs::read_to_string(&output).unwrap(), "生成的回答");
        let report = verify(&output);
        assert!(report.conformant, "{report:?}");
        assert!(!verify(&input).conformant);
    }

    #[test]
    fn a_failed_write_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let destination = dir.path().join("out.bin");
        let result = atomic_write(&destination, |out| {
            out.write_all(b"partial")?;
            Err(MarkError::corrupt("test", "stop"))
        });
        assert!(result.is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn unsupported_files_get_a_report_not_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob.bin");
        fs::write(&path, [0u8, 1, 2, 3]).unwrap();
        let report = verify(&path);
        assert!(
            !report.conformant
                && report
                    .error
                    .as_deref()
                    .is_some_and(|e| e.contains("unsupported"))
        );
    }

    #[test]
    fn issue_10_missing_inputs_and_output_folders_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.png");
        let error = detect(&missing).unwrap_err();
        assert!(matches!(error, MarkError::Input { .. }), "{error:?}");
        assert!(error.to_string().contains("missing.png"), "{error}");
        let error = detect(dir.path()).unwrap_err();
        assert!(error.to_string().contains("folder"), "{error}");
        let input = dir.path().join("in.txt");
        fs::write(&input, "text").unwrap();
        let nowhere = dir.path().join("no-such-folder").join("out.txt");
        let label = AigcLabel::new(Generated::Is, "P", "id-1").unwrap();
        let error = embed(&input, &nowhere, &label).unwrap_err();
        assert!(matches!(error, MarkError::Output { .. }), "{error:?}");
        assert!(error.to_string().contains("no-such-folder"), "{error}");
    }
}

/// How to add the visible label when embedding.
#[derive(Clone, Debug, Default)]
pub struct ExplicitOptions {
    pub image: crate::explicit::image::ImageLabelOptions,
    /// Before or after audio content.
    pub cue: Option<crate::explicit::audio::CuePlacement>,
    /// Where in a text the mark goes (default: prefix).
    pub text_mark: Option<crate::explicit::text::TextMark>,
    /// Custom wording for text marks.
    pub wording: Option<String>,
}

/// What visible label was added.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ExplicitOutcome {
    /// `image-text`, `audio-cue` or `text-mark`.
    pub kind: &'static str,
    /// For images: where the text was drawn and its measured height.
    pub label_box: Option<crate::explicit::image::LabelBox>,
    /// For images: measured text height ÷ shortest side (GB 45438 5.2 requires ≥ 0.05).
    pub height_ratio: Option<f32>,
}

/// Add the explicit (visible) label, then the implicit one, writing `output` atomically.
/// Images are re-encoded (drawing changes pixels); audio and text keep the content and add the
/// cue or mark outside it. Video explicit labels are not implemented.
pub fn embed_explicit(
    input: &Path,
    output: &Path,
    label: &AigcLabel,
    options: &ExplicitOptions,
) -> Result<(Format, ExplicitOutcome), MarkError> {
    use crate::explicit::{audio, image as image_label, text as text_label};
    label.validate()?;
    let format = detect(input)?;
    let value = label.to_json();
    let outcome = match format {
        Format::Png | Format::Jpeg => {
            let kind = if format == Format::Png {
                ::image::ImageFormat::Png
            } else {
                ::image::ImageFormat::Jpeg
            };
            let (pixels, label_box) =
                image_label::label_file(&fs::read(input)?, kind, &options.image)?;
            let mut source = std::io::Cursor::new(pixels);
            atomic_write(output, |out| {
                formats::write(format, &mut source, out, &value)
            })?;
            ExplicitOutcome {
                kind: "image-text",
                height_ratio: Some(label_box.ratio()),
                label_box: Some(label_box),
            }
        }
        Format::Wav => {
            let staged = output.with_file_name(format!(
                ".{}.cue-{}.tmp",
                output.file_name().and_then(|n| n.to_str()).unwrap_or("out"),
                std::process::id()
            ));
            let result = (|| {
                let mut source = BufReader::with_capacity(64 * 1024, File::open(input)?);
                atomic_write(&staged, |out| {
                    audio::add_cue(
                        &mut source,
                        out,
                        options.cue.unwrap_or(audio::CuePlacement::Start),
                    )
                })?;
                write_value(&staged, output, format, &value)
            })();
            let _ = fs::remove_file(&staged);
            result?;
            ExplicitOutcome {
                kind: "audio-cue",
                label_box: None,
                height_ratio: None,
            }
        }
        Format::Markdown | Format::Text => {
            let original = fs::read_to_string(input)?;
            let mark = options.text_mark.unwrap_or(text_label::TextMark::Prefix);
            let marked = text_label::mark_text(&original, mark, options.wording.as_deref())?;
            if format == Format::Text {
                atomic_write(output, |out| Ok(out.write_all(marked.as_bytes())?))?;
                atomic_write(&text::sidecar_path(output), |out| {
                    Ok(out.write_all(value.as_bytes())?)
                })?;
            } else {
                let mut source = std::io::Cursor::new(marked.into_bytes());
                atomic_write(output, |out| {
                    formats::write(format, &mut source, out, &value)
                })?;
            }
            ExplicitOutcome {
                kind: "text-mark",
                label_box: None,
                height_ratio: None,
            }
        }
        other => {
            return Err(MarkError::Unsupported(format!(
                "explicit labels for {} files are not implemented (images, WAV audio and text are; video explicit labels are planned); embed without --explicit for the implicit label",
                other.name()
            )));
        }
    };
    Ok((format, outcome))
}
