//! Warden's evaluation harness (practice 1): safety suites as data, run against any
//! OpenAI-compatible target, scored by string match, multiple choice or calibrated judges,
//! journalled so that runs survive failure, and reported with honest intervals.
//!
//! - [`suite`]: [`Item`], [`Suite`] and friends: the shape of every suite, shipped or user-written.
//! - [`builtin`]: the shipped suites (XSTest, SafetyBench zh, Flames, CValues, FINE, Do-Not-Answer
//!   as multiple choice), embedded from `crates/eval/data/` with their licences and checked
//!   against recorded SHA-256 sums at load; also their mapping onto the GB/T 45654 Appendix A risks
//!   in [`warden_core::risk`].
//! - [`user`]: user suites from a JSONL file, loaded at run time.
//! - [`stats`]: Wilson intervals for rates; judge agreement (accuracy, Cohen's κ).
//! - [`score`]: judge-free scorers: string-match refusal detection, multiple-choice answer parsing,
//!   position debiasing.
//! - [`target`]: what is evaluated (and what judges run on): any OpenAI-compatible endpoint.
//! - [`judge`]: LLM judges on any target: refusal (XSTest's three classes), HarmBench-style
//!   yes/no and StrongREJECT-style graded rubrics; unparseable judge output is an error, never a
//!   score.
//! - [`refusal`]: the refusal detector open-ended items are scored with: string rules or a small
//!   character n-gram classifier (shipped, trained on labelled completions, reproducible by
//!   `warden eval train-refusal`).
//! - [`calibrate`]: agreement (accuracy, Cohen's κ, confusion matrix) of every refusal rater
//!   with XSTest's human-labelled completions, per source model, with the classifier retrained
//!   leaving each model out; the headline is the worst held-out model.
//!
//! - [`journal`]: every upstream call keyed by a hash of (target, request, sampling, epoch),
//!   journalled before it counts, served from the journal when asked again; rate limits, retries
//!   and backoff that honours `Retry-After`.
//! - [`run`]: plan a run's calls, make them, score answers into pass / fail / error samples.
//! - [`compliance`]: the GB/T 45654 refusal profile: banks from the shipped Chinese data, refusal
//!   rates against the reference thresholds, coverage per Appendix A risk.
//! - [`compare`]: two runs sample by sample: the items whose outcome changed.
//! - [`report`]: per category, risk, language and attack rates with Wilson intervals; harmful
//!   compliance next to benign refusal; consistency 2×2 tables; JSON, Markdown and HTML.
//! - [`store`]: the evaluation tables, their migrations and SQL (this crate owns them).
//! - `testing` (feature `testing`, never in a user's build): a test double, an
//!   instantly-answering, fault-injecting OpenAI-compatible upstream (HTTP or HTTPS) for
//!   harness-overhead benchmarks and retry, resume and TLS tests.
//! - [`attack`]: transform attacks on any suite (encodings, perturbations, jailbreak templates,
//!   many-shot, language switching) and attacker-driven ones (PAIR, crescendo) under a query and
//!   token budget, with attack success rate and cost per success.
//!
//! **Invariant:** loading never panics; bad data is an [`EvalError`] naming the file, the line
//! and what to fix.

pub mod attack;
pub mod builtin;
pub mod calibrate;
pub mod compare;
pub mod compliance;
mod error;
pub mod journal;
pub mod judge;
pub mod refusal;
pub mod report;
pub mod run;
pub mod score;
/// Statistics live in `warden-core`, shared with the guard and the gateway.
pub use warden_core::stats;
pub mod store;
pub mod suite;
pub mod target;
#[cfg(feature = "testing")]
pub mod testing;
pub mod user;

pub use builtin::{builtin_suites, check_sha256, load_builtin};
pub use error::{EvalError, RunError};
pub use suite::{Expected, Item, Message, Role, ScorerKind, SourceFile, Suite, SuiteInfo};
pub use user::load_suite_file;
