//! Markdown and plain text: not implemented yet.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::MarkError;

/// Where a plain-text file's sidecar label lives: `FILE.aigc.json`.
pub fn sidecar_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".aigc.json");
    PathBuf::from(name)
}

/// Every label value in a Markdown file's front matter.
pub fn read_markdown<R: Read + Seek>(_input: &mut R) -> Result<Vec<String>, MarkError> {
    Err(MarkError::Unsupported("Markdown labels are not implemented yet".into()))
}

/// Copy with exactly one front-matter label holding `value`.
pub fn write_markdown<R: Read + Seek, W: Write + Seek>(_input: &mut R, _output: &mut W, _value: &str) -> Result<(), MarkError> {
    Err(MarkError::Unsupported("Markdown labels are not implemented yet".into()))
}
