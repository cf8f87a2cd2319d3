//! Keyword matching throughput (issue 11): MB/s on one core for folding, lexicon matching and the
//! whole guard (lexicon, PII, policy) over real Chinese and English text, with 10 000, the
//! shipped ~45 000 and 100 000 entries.
//!
//! Run: `cargo bench -p warden-guard --bench lexicon`. Text: the shipped SafetyBench (zh),
//! Flames, CValues and XSTest prompts, cut into request-sized documents and repeated to 8 MB. The
//! 100 000-entry lexicon is the shipped one plus random three-to-six-character Chinese terms
//! (seeded), which stresses the automaton the way a large bank would.

#![expect(
    clippy::expect_used,
    reason = "a benchmark has nothing to do but stop when a step fails"
)]

use std::hint::black_box;
use std::time::Instant;

use warden_eval::builtin::load_builtin;
use warden_guard::fold::fold;
use warden_guard::lexicon::{STARTER_ALLOW, STARTER_TSV};
use warden_guard::{Guard, Lexicon, LexiconBuilder, Policy};

fn corpus() -> Vec<String> {
    let mut documents = Vec::new();
    for suite in ["safetybench-zh", "flames", "cvalues", "xstest"] {
        let loaded = load_builtin(suite).expect("shipped suite");
        for item in loaded.items {
            let text: Vec<String> = item.messages.into_iter().map(|m| m.content).collect();
            documents.push(text.join("\n"));
        }
    }
    let base: usize = documents.iter().map(String::len).sum();
    let copies = (8 << 20) / base.max(1) + 1;
    let mut all = Vec::with_capacity(documents.len() * copies);
    for _ in 0..copies {
        all.extend(documents.iter().cloned());
    }
    all
}

fn first_entries(n: usize) -> String {
    STARTER_TSV
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .take(n)
        .collect::<Vec<_>>()
        .join("\n")
}

fn synthetic(n: usize) -> String {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = String::new();
    for _ in 0..n {
        let len = 3 + (next() % 4) as usize;
        for _ in 0..len {
            let c = char::from_u32(0x4E00 + (next() % 0x51A5) as u32).unwrap_or('字');
            out.push(c);
        }
        out.push_str("\tflag\tA.1.8\n");
    }
    out
}

fn build(tsv: &str) -> Lexicon {
    LexiconBuilder::new()
        .tsv("bench.tsv", tsv)
        .expect("lexicon")
        .allow(STARTER_ALLOW)
        .build("bench")
        .expect("compile")
}

fn measure(name: &str, bytes: usize, mut work: impl FnMut() -> usize) {
    let started = Instant::now();
    let hits = work();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{name:<44} {:>8.1} MB/s   ({hits} hits, {:.2} s)",
        bytes as f64 / 1e6 / seconds,
        seconds
    );
}

fn main() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown")
        .trim();
    let simd = if cpu.contains("avx512f") {
        "AVX-512"
    } else if cpu.contains("avx2") {
        "AVX2"
    } else {
        "no AVX2"
    };
    println!("cpu: {model} ({simd}); one thread");
    let documents = corpus();
    let bytes: usize = documents.iter().map(String::len).sum();
    println!(
        "text: {} documents, {:.1} MB\n",
        documents.len(),
        bytes as f64 / 1e6
    );
    measure("fold only", bytes, || {
        documents
            .iter()
            .map(|d| black_box(fold(d)).text.len() & 1)
            .sum()
    });
    let starter: String = STARTER_TSV.to_owned();
    let hundred_k = format!("{starter}\n{}", synthetic(100_000 - 44_886));
    for (label, tsv) in [
        ("10 000 entries", first_entries(10_000)),
        ("45 000 entries (shipped)", starter.clone()),
        ("100 000 entries", hundred_k),
    ] {
        let started = Instant::now();
        let lexicon = build(&tsv);
        println!(
            "{label}: {} entries, compiled in {:.2} s",
            lexicon.entries().len(),
            started.elapsed().as_secs_f64()
        );
        measure(&format!("  fold + match, {label}"), bytes, || {
            documents.iter().map(|d| lexicon.find(&fold(d)).len()).sum()
        });
        let guard = Guard::new(lexicon, Policy::default());
        measure(
            &format!("  whole guard (lexicon + PII), {label}"),
            bytes,
            || {
                documents
                    .iter()
                    .map(|d| guard.check(d).verdict.findings.len())
                    .sum()
            },
        );
    }
}
