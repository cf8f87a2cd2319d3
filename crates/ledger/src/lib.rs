//! Warden's store and transparency ledger.
//!
//! Brief overview:
//! - [`store`]: per-capability storage traits ([`store::LedgerStore`], [`store::KeyStore`]) with a
//!   SQLite and a PostgreSQL implementation, chosen by URL.
//! - [`merkle`]: RFC 6962/9162 tree arithmetic and proof verification (pure).
//! - [`entry`]: ledger entries and their canonical JSON.
//! - [`note`]: C2SP signed notes, checkpoints and Ed25519 keys.
//! - [`log::Ledger`]: the service that appends, signs checkpoints and builds proofs.
//! - [`proof`]: self-contained proof bundles that outsiders verify with the public key alone.
//! - [`audit`]: recompute everything from stored rows and name the first bad index.
//! - [`query`]: entries by kind and subject, across pages.
//! - [`access`]: API keys and roles; [`home`]: the Warden home folder.

pub mod access;
pub mod audit;
pub mod entry;
pub mod home;
pub mod log;
pub mod merkle;
pub mod note;
pub mod proof;
pub mod query;
pub mod store;
#[doc(hidden)]
pub mod testing;

pub use log::{Ledger, LedgerError};
