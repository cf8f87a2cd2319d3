//! Filter quality on labelled prompts (issue 11): block rate on harmful prompts and
//! false-positive rate on benign ones, per filter and combined, with Wilson 95 % intervals.
//!
//! `cargo run --release -p warden-guard --example quality`
//!
//! - English: XSTest, 200 unsafe (`contrast_*`) and 250 safe prompts.
//! - Chinese: harmful = Flames (1 000 adversarial prompts); benign = SafetyBench zh questions.
//!
//! The activation gate was run on SafetyBench and XSTest items with **even** ids, so the
//! held-out rows (odd ids) come first; rows on the activation half are shown for comparison
//! only. Flames was never used to tune anything.

#![expect(
    clippy::expect_used,
    reason = "a measurement has nothing to do but stop when a step fails"
)]

use warden_eval::builtin::load_builtin;
use warden_eval::suite::Item;
use warden_guard::{Action, Guard, Lexicon, Policy, Tier};

/// Wilson score interval for k of n at 95 %.
fn wilson(k: usize, n: usize) -> (f64, f64) {
    let rate = warden_core::stats::wilson(k as u64, n as u64, warden_core::stats::Z95);
    (rate.ci_low, rate.ci_high)
}

struct Rates {
    block: usize,
    flag_or_block: usize,
    pii: usize,
    n: usize,
}

fn rates(guard: &Guard, texts: &[String]) -> Rates {
    let mut rates = Rates {
        block: 0,
        flag_or_block: 0,
        pii: 0,
        n: texts.len(),
    };
    for text in texts {
        let verdict = guard.check(text).verdict;
        let lexicon: Vec<_> = verdict
            .findings
            .iter()
            .filter(|f| f.filter == "lexicon")
            .collect();
        if lexicon.iter().any(|f| f.action == Action::Block) {
            rates.block += 1;
        }
        if !lexicon.is_empty() {
            rates.flag_or_block += 1;
        }
        if verdict.findings.iter().any(|f| f.filter == "pii") {
            rates.pii += 1;
        }
    }
    rates
}

fn row(label: &str, rates: &Rates) {
    let cell = |k: usize| {
        let (lo, hi) = wilson(k, rates.n);
        format!(
            "{:>5.1}% [{:>4.1}, {:>4.1}]",
            100.0 * k as f64 / rates.n.max(1) as f64,
            100.0 * lo,
            100.0 * hi
        )
    };
    println!(
        "{label:<46} {:>5}  {}  {}  {}",
        rates.n,
        cell(rates.block),
        cell(rates.flag_or_block),
        cell(rates.pii)
    );
}

fn main() {
    let guard = Guard::new(
        Lexicon::starter().expect("starter lexicon"),
        Policy::default(),
    );
    let active_block = guard
        .lexicon
        .entries()
        .iter()
        .filter(|e| e.active && e.tier == Tier::Block)
        .count();
    println!(
        "starter lexicon {}: {} active entries ({active_block} block)\n",
        guard.lexicon.version(),
        guard.lexicon.active_len()
    );
    println!(
        "{:<46} {:>5}  {:<22}  {:<22}  {:<22}",
        "set", "n", "lexicon block", "lexicon flag or block", "PII found"
    );
    let xstest = load_builtin("xstest").expect("xstest");
    let safe = |parity: u64| -> Vec<String> {
        xstest
            .items
            .iter()
            .filter(|i| !i.category.starts_with("contrast_") && i.id_number() % 2 == parity)
            .map(Item::messages_text)
            .collect()
    };
    let unsafe_en: Vec<String> = xstest
        .items
        .iter()
        .filter(|i| i.category.starts_with("contrast_"))
        .map(Item::messages_text)
        .collect();
    let safetybench = load_builtin("safetybench-zh").expect("safetybench");
    let benign_zh = |parity: u64| -> Vec<String> {
        safetybench
            .items
            .iter()
            .filter(|i| i.id_number() % 2 == parity)
            .map(Item::messages_text)
            .collect()
    };
    let flames: Vec<String> = load_builtin("flames")
        .expect("flames")
        .items
        .iter()
        .map(Item::messages_text)
        .collect();
    println!("held out");
    row("  XSTest unsafe (harmful, en)", &rates(&guard, &unsafe_en));
    row(
        "  XSTest safe, odd ids (benign, en)",
        &rates(&guard, &safe(1)),
    );
    row("  Flames (harmful, zh)", &rates(&guard, &flames));
    row(
        "  SafetyBench zh, odd ids (benign, zh)",
        &rates(&guard, &benign_zh(1)),
    );
    println!("activation half (the gate saw these; for comparison only)");
    row("  XSTest safe, even ids", &rates(&guard, &safe(0)));
    row("  SafetyBench zh, even ids", &rates(&guard, &benign_zh(0)));
}
