//! The one error type of the evaluation crate.

use std::path::PathBuf;

/// Everything that can go wrong loading a suite.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// `load_builtin` was given a name that is not a shipped suite.
    #[error("unknown suite `{name}`; the shipped suites are: {valid}")]
    UnknownSuite {
        /// The name asked for.
        name: String,
        /// The valid names, comma-separated.
        valid: String,
    },
    /// A shipped data file does not hash to the SHA-256 recorded for it.
    #[error(
        "data file `{file}` has SHA-256 {actual} but {expected} was expected: the file was changed; restore it byte for byte from its upstream source (see crates/eval/data/README.md)"
    )]
    Checksum {
        /// The data file, relative to `crates/eval/data`.
        file: String,
        /// The recorded SHA-256, lowercase hex.
        expected: String,
        /// The SHA-256 of the bytes found, lowercase hex.
        actual: String,
    },
    /// A shipped data file could not be parsed into items.
    #[error("shipped data file `{file}`, line {line}: {message}")]
    Data {
        /// The data file, relative to `crates/eval/data`.
        file: String,
        /// 1-based line (or record) number; 0 when the whole file is at fault.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A user suite file could not be read.
    #[error("cannot read suite file {}: {source}; check the path and its permissions", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A line of a user suite file is not a valid header or item.
    #[error("{}:{line}: {message}", file.display())]
    SuiteFile {
        /// The file.
        file: PathBuf,
        /// 1-based line number (0 when the file as a whole is at fault).
        line: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// Why a run could not start, continue or be stored.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The user asked for something that cannot be done; the message says what to change.
    #[error("{0}")]
    Usage(String),
    /// The target, the judge or the store is not there.
    #[error("{0}")]
    Environment(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] warden_store::StoreError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] warden_ledger::LedgerError),
}
