//! Warden's evaluation harness (practice 1), first part: **suites as data**.
//!
//! So far this crate holds suites, targets, judge-free scorers and attacks. Model judges, runs and
//! reports are to come, and will consume the types defined here.
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
//! - [`attack`]: transform attacks on any suite (encodings, perturbations, jailbreak templates,
//!   many-shot, language switching) and attacker-driven ones (PAIR, crescendo) under a query and
//!   token budget, with attack success rate and cost per success.
//!
//! **Invariant:** loading never panics; bad data is an [`EvalError`] naming the file, the line
//! and what to fix.

pub mod attack;
pub mod builtin;
mod error;
pub mod score;
pub mod stats;
pub mod suite;
pub mod target;
pub mod user;

pub use builtin::{builtin_suites, check_sha256, load_builtin};
pub use error::EvalError;
pub use suite::{Expected, Item, Message, Role, ScorerKind, SourceFile, Suite, SuiteInfo};
pub use user::load_suite_file;
