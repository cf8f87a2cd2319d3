//! Domain types shared by every Warden crate.
//!
//! Brief overview:
//! - [`Role`]: the access roles an API key can hold, and what each may do.
//! - [`canonical`]: RFC 8785 (JCS) canonical JSON, the byte form that ledger entries are hashed in.
//! - [`id`]: identifiers that become file names, checked against a closed alphabet.
//! - [`document`]: report documents (headline, tables, lists) rendered as Markdown or HTML.
//! - [`risk`]: risk taxonomies as data: the 31 GB/T 45654 Appendix A risks and the frontier risks.
//! - [`stats`]: Wilson intervals for rates and judge agreement, for every measured figure.
//!
//! **Invariant:** this crate does no IO and cannot fail on bad input except by returning an error
//! value; nothing here panics.

pub mod canonical;
pub mod document;
pub mod hex;
pub mod id;
pub mod risk;
mod role;
pub mod stats;

pub use role::{Role, UnknownRole};
