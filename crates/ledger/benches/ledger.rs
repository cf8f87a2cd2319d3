//! Ledger benchmarks for issue 2's targets: appends per second (single writer, 16 concurrent
//! writers, batched) on SQLite and PostgreSQL, full verify of 100 000 entries, and inclusion-proof
//! latency at 1 000 000 entries.
//!
//! Run: `cargo bench -p warden-ledger --bench ledger` (SQLite only), or with
//! `TEST_DATABASE_URL=postgres://…` for the PostgreSQL rows too (`source scripts/postgres.sh start`
//! starts one). `WARDEN_BENCH_PROOF_ENTRIES` sets the proof tree size (default 1 000 000).
//! A name (`appends`, `verify` or `proofs`) as the first argument runs only that part.

#![expect(
    clippy::expect_used,
    reason = "a benchmark has nothing to do but stop when a step fails"
)]

use std::time::{Duration, Instant};

use serde_json::json;
use warden_ledger::Ledger;
use warden_ledger::entry::EntryDraft;
use warden_ledger::note::NoteSigner;
use warden_ledger::proof::ProofBundle;
use warden_store::testing::{Backend, TestDatabase, fresh_database};

const ORIGIN: &str = "warden.bench/ledger";

fn draft(n: u64) -> EntryDraft {
    EntryDraft::now(
        "eval.run_finished",
        "key:0192f7c2-0000-7000-8000-000000000000:bench",
        format!("model/smollm2@ckpt-{}", n % 97),
        json!({"suite": "xstest", "n": n, "refusal_rate": 0.125, "ci95": [0.1, 0.15]}),
    )
}

/// The ledger's store on a benchmark database.
async fn store_of(db: &TestDatabase) -> std::sync::Arc<dyn warden_ledger::store::Store> {
    warden_ledger::store::open(
        &db.connect(&[&warden_ledger::store::MIGRATIONS])
            .await
            .expect("store"),
    )
}

async fn ledger_on(db: &TestDatabase) -> Ledger {
    let signer = NoteSigner::generate(ORIGIN).expect("key");
    Ledger::new(store_of(db).await, signer, ORIGIN.into())
}

fn rate(count: u64, elapsed: Duration) -> String {
    format!(
        "{:>10.0} appends/s  ({count} in {:.2} s)",
        count as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    )
}

async fn fill(ledger: &Ledger, count: u64, batch: u64) {
    let mut next = ledger.size().await.expect("size");
    let end = next + count;
    while next < end {
        let drafts: Vec<EntryDraft> = (next..end.min(next + batch)).map(draft).collect();
        ledger.append_batch(&drafts).await.expect("append");
        next += drafts.len() as u64;
    }
}

async fn appends(backend: Backend, label: &str) {
    let db = fresh_database(backend).await.expect("database");
    let ledger = ledger_on(&db).await;

    let count = 3_000;
    let started = Instant::now();
    for n in 0..count {
        ledger.append(draft(n)).await.expect("append");
    }
    println!(
        "{label:<9} single writer, one transaction each   {}",
        rate(count, started.elapsed())
    );

    let writers = 16;
    let per_writer = 1_000;
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                for n in 0..per_writer {
                    ledger
                        .append(draft(w * per_writer + n))
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer");
    }
    println!(
        "{label:<9} 16 concurrent writers (group commit)  {}",
        rate(writers * per_writer, started.elapsed())
    );

    let count = 50_000;
    let started = Instant::now();
    fill(&ledger, count, 1_000).await;
    println!(
        "{label:<9} batches of 1000                       {}",
        rate(count, started.elapsed())
    );
    assert!(ledger.audit().await.expect("audit").ok);
}

async fn verify_100k() {
    let db = fresh_database(Backend::Sqlite).await.expect("database");
    let ledger = ledger_on(&db).await;
    fill(&ledger, 100_000, 5_000).await;
    ledger.checkpoint().await.expect("checkpoint");
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let report = ledger.audit().await.expect("audit");
        best = best.min(started.elapsed());
        assert!(report.ok && report.size == 100_000);
    }
    println!(
        "sqlite    full verify of 100 000 entries        {:>10.3} s (best of 3)",
        best.as_secs_f64()
    );
}

async fn proofs(backend: Backend, label: &str) {
    let entries: u64 = std::env::var("WARDEN_BENCH_PROOF_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let db = fresh_database(backend).await.expect("database");
    let signer = NoteSigner::generate(ORIGIN).expect("key");
    let verifier = signer.verifier();
    let ledger = Ledger::new(store_of(&db).await, signer, ORIGIN.into());
    let started = Instant::now();
    fill(&ledger, entries, 5_000).await;
    println!(
        "{label:<9} fill {entries} entries in batches of 5000 {}",
        rate(entries, started.elapsed())
    );
    ledger.checkpoint().await.expect("checkpoint");
    let samples = 2_000;
    let mut latencies = Vec::with_capacity(samples);
    let mut index = 12_345u64;
    let mut bundle = None;
    for _ in 0..samples {
        index = (index * 6_364_136_223_846_793_005 + 1_442_695_040_888_963_407) % entries;
        let started = Instant::now();
        bundle = Some(ledger.inclusion(index, None).await.expect("proof"));
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let p50 = latencies[samples / 2];
    let p99 = latencies[samples * 99 / 100];
    println!(
        "{label:<9} inclusion proof at {entries} entries   p50 {:.3} ms, p99 {:.3} ms (from the store, with the signed checkpoint)",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    let bundle = ProofBundle::Inclusion(bundle.expect("a proof"));
    let started = Instant::now();
    for _ in 0..1_000 {
        bundle.verify(&verifier, Some(ORIGIN)).expect("verifies");
    }
    println!(
        "          verify one proof bundle (signature + path)  {:.3} ms",
        started.elapsed().as_secs_f64()
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let only = std::env::args().nth(1).filter(|arg| !arg.starts_with('-'));
        let want = |name: &str| only.as_deref().is_none_or(|only| only == name);
        if want("appends") {
            appends(Backend::Sqlite, "sqlite").await;
            if std::env::var("TEST_DATABASE_URL").is_ok() {
                appends(Backend::Postgres, "postgres").await;
            } else {
                println!(
                    "postgres  skipped: set TEST_DATABASE_URL (source scripts/postgres.sh start)"
                );
            }
        }
        if want("verify") {
            verify_100k().await;
        }
        if want("proofs") {
            proofs(Backend::Sqlite, "sqlite").await;
            if std::env::var("TEST_DATABASE_URL").is_ok() {
                proofs(Backend::Postgres, "postgres").await;
            }
        }
    });
}
