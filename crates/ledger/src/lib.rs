//! Warden's store and transparency ledger.
//!
//! Brief overview:
//! - [`store`]: the ledger's storage traits ([`store::LedgerStore`], [`store::KeyStore`]) with a
//!   SQLite and a PostgreSQL implementation on `warden-store`'s shared handle.
//! - [`merkle`]: RFC 6962/9162 tree arithmetic and proof verification (pure).
//! - [`entry`]: ledger entries and their canonical JSON.
//! - [`note`]: C2SP signed notes, checkpoints and Ed25519 keys.
//! - [`log::Ledger`]: the service that appends, signs checkpoints and builds proofs.
//! - [`proof`]: self-contained proof bundles that outsiders verify with the public key alone.
//! - [`audit`]: recompute everything from stored rows and name the first bad index.
//! - [`query`]: entries by kind and subject, across pages.
//! - [`access`]: API keys, the people they belong to and their signing keys, and the same
//!   facts folded from the ledger alone.

pub mod access;
pub mod audit;
pub mod entry;
pub mod log;
pub mod merkle;
pub mod note;
pub mod proof;
pub mod query;
pub mod store;

pub use log::{Ledger, LedgerError};
