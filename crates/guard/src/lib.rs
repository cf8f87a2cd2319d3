//! Warden's content filters, shared by the guard gateway and the data audit.
//!
//! - [`fold`]: text folded against evasion (width, case, look-alikes, traditional characters,
//!   invisible and inserted characters), with the way back to the original spans.
//! - [`lexicon`]: keyword lexicons with tiers, GB/T 45654 Appendix A risks, an allowlist and an
//!   activation gate measured on benign text; the shipped starter lexicon.
//! - [`pii`]: personal-information detectors, Chinese first.
//! - [`policy`]: per-category actions, findings and verdicts.
//! - [`scan`]: the [`Guard`] over whole texts and streams (with a bounded hold-back window).
//! - [`classifier`]: a small linear classifier over hashed character n-grams that Warden trains
//!   itself on labelled JSONL (harmful prompts, refusals), fast enough for every request.
//!
//! **Invariant:** this crate does no IO and cannot fail on bad text: every input string gets a
//! verdict. Only lexicon sources, classifier training data and model files can be rejected, with
//! what to fix.

pub mod classifier;
pub mod fold;
pub mod lexicon;
pub mod pii;
pub mod policy;
pub mod scan;

pub use lexicon::{Lexicon, LexiconBuilder, LexiconError, Tier};
pub use policy::{Action, Finding, Policy, Verdict};
pub use scan::{Checked, Guard, Hold, REFUSAL, REJECTED, STOPPED, StreamScan, StreamStep};
