//! Exit codes and the error that carries one.

use std::fmt;

pub const OK: u8 = 0;
/// A check ran and found a problem.
pub const CHECK_FAILED: u8 = 1;
/// The command line or its input was wrong.
pub const USAGE: u8 = 2;
/// The environment failed: home, database, files.
pub const ENVIRONMENT: u8 = 3;

/// A failed command: what to print and which code to exit with.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: USAGE,
            error: error.into(),
        }
    }

    pub fn environment(error: impl Into<anyhow::Error>) -> Self {
        Self {
            code: ENVIRONMENT,
            error: error.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl From<warden_home::HomeError> for Failure {
    fn from(error: warden_home::HomeError) -> Self {
        use warden_home::HomeError;
        match error {
            HomeError::AlreadyInitialized(_) | HomeError::BadOrigin(_) => Self::usage(error),
            _ => Self::environment(error),
        }
    }
}

impl From<warden_ledger::store::StoreError> for Failure {
    fn from(error: warden_ledger::store::StoreError) -> Self {
        use warden_ledger::store::StoreError;
        match error {
            StoreError::InvalidEntry(_) | StoreError::UnsupportedUrl(_) => Self::usage(error),
            _ => Self::environment(error),
        }
    }
}

impl From<warden_ledger::LedgerError> for Failure {
    fn from(error: warden_ledger::LedgerError) -> Self {
        use warden_ledger::LedgerError;
        match error {
            LedgerError::Store(store) => store.into(),
            LedgerError::InvalidEntry(_) | LedgerError::OutOfRange(_) => Self::usage(error),
            other => Self::environment(other),
        }
    }
}

impl From<warden_ledger::access::AccessError> for Failure {
    fn from(error: warden_ledger::access::AccessError) -> Self {
        use warden_ledger::access::AccessError;
        match error {
            AccessError::Store(store) => store.into(),
            AccessError::Ledger(ledger) => ledger.into(),
            AccessError::BadName
            | AccessError::BadPerson
            | AccessError::NoRoles
            | AccessError::Signer(_) => Self::usage(error),
            AccessError::Random => Self::environment(error),
        }
    }
}
