//! The shipped starter lexicon: it loads, its activation record is the one the activation gate
//! computes today, and its quality on held-out text.
//!
//! Activation text (the gate's input): SafetyBench (zh) questions with an even id and XSTest's
//! safe prompts with an even id. Held out for measuring false positives: the odd ids. To
//! regenerate the record after changing the lexicon or the gate:
//! `WARDEN_BLESS=1 cargo nextest run -p warden-guard --test starter`.

// Test code: a failed unwrap is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_eval::builtin::load_builtin;
use warden_eval::suite::Item;
use warden_guard::lexicon::{ActivationBounds, STARTER_INACTIVE};
use warden_guard::{Guard, Lexicon, Policy, Tier};

fn text(item: &Item) -> String {
    let mut text: Vec<&str> = item.messages.iter().map(|m| m.content.as_str()).collect();
    text.extend(item.options.iter().map(String::as_str));
    text.join("\n")
}

/// Benign texts with even (`activation`) or odd (held-out) ids.
fn benign(activation: bool) -> Vec<String> {
    let parity = u64::from(!activation);
    let mut texts = Vec::new();
    for suite in ["safetybench-zh", "xstest"] {
        let loaded = load_builtin(suite).unwrap_or_else(|e| panic!("{suite}: {e}"));
        for item in &loaded.items {
            let safe = suite != "xstest" || !item.category.starts_with("contrast_");
            if safe && item.id_number() % 2 == parity {
                texts.push(text(item));
            }
        }
    }
    texts
}

const HEADER: &str = "Activation record of starter.tsv, written by the activation gate (crates/guard/tests/starter.rs).\nInput: SafetyBench zh questions and XSTest safe prompts with even ids; bounds: ActivationBounds::default().\nRegenerate: WARDEN_BLESS=1 cargo nextest run -p warden-guard --test starter";

#[test]
fn the_activation_record_is_what_the_gate_computes_today() {
    let mut lexicon = Lexicon::starter_unactivated().unwrap_or_else(|e| panic!("{e}"));
    let texts = benign(true);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let report = lexicon.activate(&refs, &ActivationBounds::default());
    let record = lexicon.inactive_record(HEADER);
    if std::env::var_os("WARDEN_BLESS").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/lexicons/inactive.tsv");
        std::fs::write(path, &record).unwrap_or_else(|e| panic!("{path}: {e}"));
        eprintln!(
            "wrote {path}: {} documents, {} entries and {} tiers switched off",
            report.documents,
            report.switched_off.len(),
            report.tiers_off.len()
        );
        return;
    }
    assert_eq!(
        STARTER_INACTIVE, record,
        "lexicons/inactive.tsv is stale: regenerate it (see this file's header)"
    );
}

#[test]
fn the_starter_lexicon_loads_with_its_record_applied() {
    let lexicon = Lexicon::starter().unwrap_or_else(|e| panic!("{e}"));
    assert!(lexicon.entries().len() > 10_000);
    assert!(lexicon.active_len() > 10_000);
    assert!(!lexicon.tier_is_off(Tier::Block));
    let coverage = lexicon.coverage();
    assert_eq!(coverage.per_risk.len(), 31);
}

#[test]
fn block_tier_false_positives_on_held_out_benign_text_stay_rare() {
    let lexicon = Lexicon::starter().unwrap_or_else(|e| panic!("{e}"));
    let guard = Guard::new(lexicon, Policy::default());
    let texts = benign(false);
    let blocked = texts
        .iter()
        .filter(|t| guard.check(t).verdict.action == warden_guard::Action::Block)
        .count();
    // The gate's bound on its own input is 0.5 % of documents per tier; held-out text gets the
    // same bound. This is a measurement, not a tuned number: see lexicons/README.md.
    let share = blocked as f64 / texts.len() as f64;
    assert!(
        share <= 0.005,
        "{blocked} of {} held-out benign texts blocked",
        texts.len()
    );
}

/// The streaming modes on the shipped lexicon's longest block term, sent one character at a
/// time: the window leaks nothing; the low-latency mode leaks part of the first block term to
/// complete (a shorter term inside the longest may complete first), never more than the longest
/// term's length less one character, its worst case.
#[test]
fn issue_11_the_window_leaks_nothing_and_the_async_mode_says_what_it_leaked() {
    use warden_guard::{Hold, StreamStep};
    let lexicon = Lexicon::starter().unwrap_or_else(|e| panic!("{e}"));
    let longest = lexicon
        .entries()
        .iter()
        .filter(|e| e.active && e.tier == Tier::Block)
        .max_by_key(|e| e.term.chars().count())
        .map(|e| e.term.clone())
        .unwrap_or_default();
    let guard = Guard::new(lexicon, Policy::default());
    let text = format!("前面的内容没有问题。{longest}后面的内容。");
    let mut leaks = Vec::new();
    for hold in [Hold::Window, Hold::None] {
        let policy = guard.policy.clone();
        let mut scan = guard.stream(&policy, hold);
        let mut released = String::new();
        let mut blocked = false;
        for c in text.chars() {
            match scan.push(&c.to_string()) {
                StreamStep::Release(text) => released.push_str(&text),
                StreamStep::Blocked(_) => {
                    blocked = true;
                    break;
                }
            }
        }
        assert!(blocked, "{hold:?} did not block {longest}");
        leaks.push((released.contains(&longest), scan.leaked_chars()));
    }
    let term_chars = longest.chars().count();
    assert_eq!(leaks[0], (false, 0), "the window leaked");
    assert!(!leaks[1].0, "async mode released a whole term");
    assert!(
        (1..term_chars).contains(&leaks[1].1),
        "async mode leaked {} characters of a {term_chars}-character term",
        leaks[1].1
    );
}
