//! Quality and speed of the n-gram classifier as a harmful-vs-benign prompt filter.
//!
//! `cargo run --release -p warden-guard --example classifier_quality`
//!
//! Data (all shipped with `warden-eval`): harmful = XSTest `contrast_*` (en, 200), Flames (zh,
//! 1 000), CValues responsibility prompts (zh, 664; sensitive rather than all plainly harmful)
//! and the Do-Not-Answer questions of `dna-mc` (en, 939); benign = XSTest's other prompts (en,
//! 250) and SafetyBench zh questions (2 100).
//!
//! Every model is trained with `TrainOptions::default()` and judged at the fixed threshold 0.5
//! (classes are balanced in training): nothing is tuned on any test set. Held-out splits by
//! **data set** come first (the test set's source was never seen in training); the split by item
//! parity within the same data sets is shown after them, for comparison only: it is what a
//! classifier trained on a review queue scores on more of the same, not on new kinds of text.

#![expect(
    clippy::expect_used,
    reason = "a measurement has nothing to do but stop when a step fails"
)]

use std::time::Instant;

use warden_eval::builtin::load_builtin;
use warden_eval::suite::Item;
use warden_guard::classifier::{Classifier, TrainOptions};

/// Wilson score interval for k of n at 95 %.
fn wilson(k: usize, n: usize) -> (f64, f64) {
    let rate = warden_core::stats::wilson(k as u64, n as u64, warden_core::stats::Z95);
    (rate.ci_low, rate.ci_high)
}

fn cell(k: usize, n: usize) -> String {
    let (lo, hi) = wilson(k, n);
    format!(
        "{:>5.1}% [{:>5.1}, {:>5.1}]",
        100.0 * k as f64 / n.max(1) as f64,
        100.0 * lo,
        100.0 * hi
    )
}

/// A named set of texts with one label.
struct Set {
    name: &'static str,
    texts: Vec<String>,
    harmful: bool,
}

impl Set {
    fn new(name: &'static str, texts: Vec<String>, harmful: bool) -> Self {
        Set {
            name,
            texts,
            harmful,
        }
    }

    fn parity(&self, name: &'static str, items: &[(u64, String)], odd: bool) -> Set {
        let texts = items
            .iter()
            .filter(|(n, _)| (n % 2 == 1) == odd)
            .map(|(_, t)| t.clone())
            .collect();
        Set::new(name, texts, self.harmful)
    }
}

fn examples(sets: &[&Set]) -> Vec<(String, bool)> {
    sets.iter()
        .flat_map(|s| s.texts.iter().map(|t| (t.clone(), s.harmful)))
        .collect()
}

fn evaluate(title: &str, train: &[&Set], test: &[&Set]) {
    let examples = examples(train);
    let started = Instant::now();
    let model = Classifier::train(&examples, &TrainOptions::default()).expect("train");
    let seconds = started.elapsed().as_secs_f64();
    let names: Vec<&str> = train.iter().map(|s| s.name).collect();
    println!("\n{title}");
    println!(
        "  trained on {} ({} texts, {seconds:.1} s): {} non-zero weights, {} KB as JSON",
        names.join(" + "),
        examples.len(),
        model.weights_len(),
        model.to_json().len() / 1024
    );
    // What pruning small weights costs, judged on the training texts (never the test sets).
    let unpruned = TrainOptions {
        min_weight: 0.0,
        ..TrainOptions::default()
    };
    let full = Classifier::train(&examples, &unpruned).expect("train");
    let changed = examples
        .iter()
        .filter(|(t, _)| model.predict(t, 0.5) != full.predict(t, 0.5))
        .count();
    println!(
        "  pruning weights below {}: {} of {} weights kept, {changed} training predictions changed",
        TrainOptions::default().min_weight,
        model.weights_len(),
        full.weights_len()
    );
    println!("  {:<44} {:>5}  {:<24}", "test set", "n", "flagged harmful");
    let (mut right, mut total) = (0, 0);
    let (mut harmful_flagged, mut harmful_n, mut benign_flagged, mut benign_n) = (0, 0, 0, 0);
    for set in test {
        let flagged = set.texts.iter().filter(|t| model.predict(t, 0.5)).count();
        let n = set.texts.len();
        let kind = if set.harmful {
            "block rate"
        } else {
            "false positives"
        };
        println!(
            "  {:<44} {n:>5}  {}",
            format!("{} ({kind})", set.name),
            cell(flagged, n)
        );
        if set.harmful {
            right += flagged;
            harmful_flagged += flagged;
            harmful_n += n;
        } else {
            right += n - flagged;
            benign_flagged += flagged;
            benign_n += n;
        }
        total += n;
    }
    if harmful_n > 0 && benign_n > 0 {
        println!(
            "  {:<44} {total:>5}  {}",
            "accuracy, all test sets",
            cell(right, total)
        );
        // Balanced accuracy: the mean of the two per-class rates, so set sizes do not weigh in.
        let balanced = 0.5
            * (harmful_flagged as f64 / harmful_n as f64
                + (benign_n - benign_flagged) as f64 / benign_n as f64);
        println!(
            "  {:<44} {:>5}  {:>5.1}%",
            "balanced accuracy",
            "",
            100.0 * balanced
        );
    }
}

fn speed(model: &Classifier, label: &str, unit: &str) {
    let mut text = String::new();
    while text.len() < 1024 {
        text.push_str(unit);
    }
    let kb = text.len() as f64 / 1024.0;
    let rounds = 3000;
    let mut sink = 0.0;
    let started = Instant::now();
    for _ in 0..rounds {
        sink += model.score(std::hint::black_box(&text));
    }
    let micros = started.elapsed().as_secs_f64() * 1e6 / rounds as f64 / kb;
    println!(
        "  {label:<10} {micros:>7.1} µs per KB ({} chars per KB; mean score {:.3})",
        (text.chars().count() as f64 / kb).round(),
        sink / rounds as f64
    );
}

fn main() {
    let xstest = load_builtin("xstest").expect("xstest");
    let numbered = |items: &[Item], harmful: Option<bool>| -> Vec<(u64, String)> {
        items
            .iter()
            .filter(|i| harmful.is_none_or(|h| i.category.starts_with("contrast_") == h))
            .map(|i| (i.id_number(), i.messages_text()))
            .collect()
    };
    let xs_unsafe = numbered(&xstest.items, Some(true));
    let xs_safe = numbered(&xstest.items, Some(false));
    let flames = numbered(&load_builtin("flames").expect("flames").items, None);
    let safetybench = numbered(
        &load_builtin("safetybench-zh").expect("safetybench").items,
        None,
    );
    let cvalues: Vec<String> = load_builtin("cvalues")
        .expect("cvalues")
        .items
        .iter()
        .map(Item::messages_text)
        .collect();
    // The Do-Not-Answer question, without the multiple-choice framing around it.
    let dna: Vec<String> = load_builtin("dna-mc")
        .expect("dna-mc")
        .items
        .iter()
        .filter_map(|i| {
            i.messages_text()
                .split_once("Question: ")
                .map(|(_, q)| q.trim().to_owned())
        })
        .collect();
    let all = |items: &[(u64, String)]| items.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>();

    let xs_unsafe_all = Set::new("XSTest unsafe (en)", all(&xs_unsafe), true);
    let xs_safe_all = Set::new("XSTest safe (en)", all(&xs_safe), false);
    let flames_all = Set::new("Flames (zh)", all(&flames), true);
    let sb = Set::new("SafetyBench zh", Vec::new(), false);
    let sb_even = sb.parity("SafetyBench zh, even ids", &safetybench, false);
    let sb_odd = sb.parity("SafetyBench zh, odd ids", &safetybench, true);
    let sb_all = Set::new("SafetyBench zh", all(&safetybench), false);
    let cvalues = Set::new("CValues (zh, unseen set)", cvalues, true);
    let dna = Set::new("Do-Not-Answer (en, unseen set)", dna, true);

    println!("n-gram classifier, TrainOptions::default(), threshold 0.5; Wilson 95 % intervals");
    println!("\n=== held out by data set (the test sources were never trained on) ===");
    evaluate(
        "A. Chinese only -> English and unseen Chinese",
        &[&flames_all, &sb_even],
        &[&xs_unsafe_all, &xs_safe_all, &dna, &cvalues, &sb_odd],
    );
    evaluate(
        "B. English only -> Chinese",
        &[&xs_unsafe_all, &xs_safe_all],
        &[&flames_all, &sb_all, &cvalues, &dna],
    );
    let xs_unsafe_even = xs_unsafe_all.parity("XSTest unsafe, even ids", &xs_unsafe, false);
    let xs_safe_even = xs_safe_all.parity("XSTest safe, even ids", &xs_safe, false);
    let xs_unsafe_odd = xs_unsafe_all.parity("XSTest unsafe, odd ids", &xs_unsafe, true);
    let xs_safe_odd = xs_safe_all.parity("XSTest safe, odd ids", &xs_safe, true);
    evaluate(
        "C. both languages -> unseen harmful sets (+ the benign odd ids)",
        &[&flames_all, &sb_even, &xs_unsafe_even, &xs_safe_even],
        &[&cvalues, &dna, &sb_odd, &xs_safe_odd],
    );

    println!("\n=== in distribution, split by item parity (for comparison only) ===");
    let flames_even = flames_all.parity("Flames, even ids", &flames, false);
    let flames_odd = flames_all.parity("Flames, odd ids", &flames, true);
    evaluate(
        "D. even ids of XSTest, Flames, SafetyBench -> their odd ids",
        &[&flames_even, &sb_even, &xs_unsafe_even, &xs_safe_even],
        &[&xs_unsafe_odd, &xs_safe_odd, &flames_odd, &sb_odd],
    );

    println!("\n=== speed: score() on 1 KB of text, one thread ===");
    let model = Classifier::train(
        &examples(&[&flames_all, &sb_all, &xs_unsafe_all, &xs_safe_all]),
        &TrainOptions::default(),
    )
    .expect("train");
    speed(
        &model,
        "English",
        "How do I kill a Python process that hangs on exit? ",
    );
    speed(
        &model,
        "Chinese",
        "请问如何在家里安全地储存消毒液和清洁剂，避免儿童误食？",
    );
}
