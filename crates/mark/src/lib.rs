//! AI-generated content labels per GB 45438-2025 and the TC260 practice guides.
//!
//! Brief overview:
//! - [`label`]: the Annex E implicit label (seven string keys), its rules and rule-by-rule checks.
//! - [`xmp`]: the TC260 XMP property, read and replaced inside existing packets.
//! - [`formats`]: one module per container with the same `read` / `write` pair, and
//!   [`formats::Format::detect`].
//! - [`verify`]: file-level verdicts and the platform duty (is / possibly / suspected).
//! - [`file`]: the same operations on paths, with atomic writes and plain-text sidecars.
//! - [`explicit`]: visible labels: text drawn on images, the Morse "AI" cue on audio, text marks.
//! - [`error::MarkError`]: the one error type.
//!
//! **Invariant:** writing an implicit label never re-encodes media: every byte outside the metadata is copied
//! unchanged, and no function holds a whole media file in memory.

pub mod error;
pub mod explicit;
pub mod file;
pub mod formats;
pub mod label;
pub mod verify;
pub mod xmp;

pub use error::MarkError;
pub use formats::Format;
pub use label::{AigcLabel, Generated};
