//! The one error type of the labelling crate. Every variant names the file format and says what
//! is wrong in terms a user can act on.

/// Why a label could not be read, written or checked.
#[derive(Debug, thiserror::Error)]
pub enum MarkError {
    /// The file ends before a structure it declares.
    #[error("truncated {format} file: {detail}")]
    Truncated {
        format: &'static str,
        detail: String,
    },
    /// The file's structure is invalid.
    #[error("corrupt {format} file: {detail}")]
    Corrupt {
        format: &'static str,
        detail: String,
    },
    /// The format is not one Warden can label.
    #[error(
        "unsupported format: {0}; Warden labels PNG, JPEG, WebP, WAV, MP3, MP4/M4A, DOCX/XLSX/PPTX, PDF, Markdown and plain text"
    )]
    Unsupported(String),
    /// The label value is not a valid GB 45438 Annex E label.
    #[error("invalid label: {0}")]
    InvalidLabel(String),
    /// A file named by the caller cannot be opened (missing, a folder, no permission).
    #[error("cannot read {}: {source}; check the path", path.display())]
    Input {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// The output cannot be created where the caller asked (e.g. its folder does not exist).
    #[error("cannot write {}: {source}; check that its folder exists and is writable", path.display())]
    Output {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl MarkError {
    pub fn truncated(format: &'static str, detail: impl Into<String>) -> Self {
        Self::Truncated {
            format,
            detail: detail.into(),
        }
    }

    pub fn corrupt(format: &'static str, detail: impl Into<String>) -> Self {
        Self::Corrupt {
            format,
            detail: detail.into(),
        }
    }

    /// Map an unexpected end of input to [`MarkError::Truncated`].
    pub fn from_read(format: &'static str, error: std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::UnexpectedEof {
            Self::truncated(format, "the file ends in the middle of a structure")
        } else {
            Self::Io(error)
        }
    }
}
