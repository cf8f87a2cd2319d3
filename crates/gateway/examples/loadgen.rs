//! An open-loop load generator for OpenAI-compatible chat endpoints: requests leave on a fixed
//! schedule (`--rate` per second for `--seconds`), whether or not earlier ones have answered, and
//! each latency is measured from its scheduled start, so a slow server cannot hide its queueing
//! (no coordinated omission). The same generator measures the upstream alone, Warden's gateway
//! and a peer's, so their differences are the gateways' overhead.
//!
//! `loadgen --url http://…/v1/chat/completions [--key K] [--model M] --rate R --seconds S
//! [--stream] [--label NAME]` prints one JSON line: counts and latency percentiles in
//! milliseconds (with `--stream`, also the time to the first content chunk).

#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark tool has nothing to do but stop when a step fails"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Mutex;

/// A realistic prompt: Chinese and English, a phone number, about 600 bytes, so the filters
/// have work to do.
const PROMPT: &str = "请帮我写一封给客户的邮件，说明我们下周二会把合同的修改版发过去，如果有问题可以打电话13800138000联系我。\
Please also add a short English paragraph that thanks them for their patience during the review, \
mentions that the delivery schedule is unchanged, and asks whether the meeting on Thursday still works. \
另外请把语气写得正式一些，不要太长。";

struct Sample {
    total: Duration,
    first: Option<Duration>,
    ok: bool,
}

/// Whether a streamed body so far holds a non-empty content delta.
fn has_text(seen: &str) -> bool {
    const MARK: &str = "\"content\":\"";
    seen.match_indices(MARK).any(|(i, _)| {
        seen[i + MARK.len()..]
            .chars()
            .next()
            .is_some_and(|c| c != '"')
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let mut url = String::new();
    let mut key = String::from("unused");
    let mut model = String::from("scripted");
    let mut rate = 100.0f64;
    let mut seconds = 10.0f64;
    let mut stream = false;
    let mut label = String::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--stream" {
            stream = true;
            continue;
        }
        let value = args.next().expect("every flag but --stream takes a value");
        match flag.as_str() {
            "--url" => url = value,
            "--key" => key = value,
            "--model" => model = value,
            "--rate" => rate = value.parse().expect("--rate takes a number"),
            "--seconds" => seconds = value.parse().expect("--seconds takes a number"),
            "--label" => label = value,
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(!url.is_empty(), "--url is required");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .expect("client");
    let body = json!({"model": model, "stream": stream, "user": "bench-user",
        "messages": [{"role": "user", "content": PROMPT}]})
    .to_string();
    // A short warm-up so connection set-up is not measured.
    for _ in 0..20 {
        let _ = client
            .post(&url)
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await;
    }
    let count = (rate * seconds).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let samples = Arc::new(Mutex::new(Vec::with_capacity(count as usize)));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(count as usize);
    for i in 0..count {
        let scheduled = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let (client, url, key, body, samples) = (
            client.clone(),
            url.clone(),
            key.clone(),
            body.clone(),
            Arc::clone(&samples),
        );
        tasks.push(tokio::spawn(async move {
            let result = client
                .post(&url)
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            let mut sample = Sample {
                total: Duration::ZERO,
                first: None,
                ok: false,
            };
            if let Ok(mut response) = result {
                let ok = response.status().is_success();
                let mut seen = String::new();
                while let Ok(Some(chunk)) = response.chunk().await {
                    if sample.first.is_none() {
                        seen.push_str(&String::from_utf8_lossy(&chunk));
                        if !stream || has_text(&seen) {
                            sample.first = Some(scheduled.elapsed());
                        }
                    }
                }
                sample.ok = ok;
            }
            sample.total = scheduled.elapsed();
            samples.lock().await.push(sample);
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let samples = samples.lock().await;
    let ok = samples.iter().filter(|s| s.ok).count();
    let mut totals: Vec<f64> = samples
        .iter()
        .filter(|s| s.ok)
        .map(|s| s.total.as_secs_f64() * 1e3)
        .collect();
    totals.sort_by(f64::total_cmp);
    let mut firsts: Vec<f64> = samples
        .iter()
        .filter(|s| s.ok)
        .filter_map(|s| s.first)
        .map(|d| d.as_secs_f64() * 1e3)
        .collect();
    firsts.sort_by(f64::total_cmp);
    println!(
        "{}",
        json!({
            "label": label, "rate": rate, "stream": stream, "sent": samples.len(), "ok": ok,
            "errors": samples.len() - ok, "achieved_rate": samples.len() as f64 / elapsed,
            "p50_ms": percentile(&totals, 50.0), "p90_ms": percentile(&totals, 90.0),
            "p99_ms": percentile(&totals, 99.0), "max_ms": totals.last().copied().unwrap_or(f64::NAN),
            "first_p50_ms": percentile(&firsts, 50.0), "first_p99_ms": percentile(&firsts, 99.0),
        })
    );
}
