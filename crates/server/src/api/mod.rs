//! Route handlers, one module per capability. Handlers are thin: they parse, call a library crate
//! and shape the answer.

pub mod chat;
pub mod gate;
pub mod keys;
pub mod labels;
pub mod ledger;
pub mod system;
