//! wav container: not implemented yet.

use std::io::{Read, Seek, Write};

use crate::error::MarkError;

/// Every label value in the file.
pub fn read<R: Read + Seek>(_input: &mut R) -> Result<Vec<String>, MarkError> {
    Err(MarkError::Unsupported("wav labels are not implemented yet".into()))
}

/// Copy with exactly one label holding `value`.
pub fn write<R: Read + Seek, W: Write + Seek>(_input: &mut R, _output: &mut W, _value: &str) -> Result<(), MarkError> {
    Err(MarkError::Unsupported("wav labels are not implemented yet".into()))
}
