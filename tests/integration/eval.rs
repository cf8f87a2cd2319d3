//! `warden eval` as a user runs it, against the instant upstream test double
//! (`warden_eval::testing`: an OpenAI-compatible server that answers at once, injects 429s and
//! stalls on request, and counts every request by body — what a user never runs).

use std::io::Write as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_eval::testing::{self, ReplyMode, UpstreamOptions};

use crate::support::{TestHome, json, stderr, stdout};

/// A JSONL suite of `n` items; every third asks to be refused (the double refuses on a marker).
fn suite_file(home: &TestHome, name: &str, n: usize) -> std::path::PathBuf {
    let path = home.dir.path().join(format!("{name}.jsonl"));
    let mut file = std::fs::File::create(&path).unwrap();
    for i in 0..n {
        let refuse = i % 3 == 0;
        let line = json!({
            "id": format!("q{i}"),
            "messages": [{"role": "user", "content": if refuse {
                format!("[refuse] harmful question {i}")
            } else {
                format!("benign question {i}")
            }}],
            "language": "en",
            "category": if refuse { "harmful" } else { "benign" },
            "risks": if refuse { json!(["A.1.8"]) } else { json!([]) },
            "expected": if refuse { "refuse" } else { "comply" },
        });
        writeln!(file, "{line}").unwrap();
    }
    path
}

/// The instant upstream double answering every request with `text`.
async fn answering(text: &str) -> testing::Upstream {
    testing::start(UpstreamOptions {
        reply: ReplyMode::Fixed(text.into()),
        ..UpstreamOptions::default()
    })
    .await
    .unwrap()
}

fn eval_run(
    home: &TestHome,
    suite: &std::path::Path,
    url: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "eval",
        "run",
        "--suite",
        suite.to_str().unwrap(),
        "--target",
        url,
        "--model",
        "instant",
    ];
    args.extend_from_slice(extra);
    home.run(&args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_report_rates_with_intervals_survive_429s_and_are_entered_in_the_ledger() {
    let upstream = testing::start(UpstreamOptions {
        fail_first: 1,
        ..UpstreamOptions::default()
    })
    .await
    .unwrap();
    let home = TestHome::init();
    let suite = suite_file(&home, "mixed", 30);
    let out = eval_run(
        &home,
        &suite,
        &upstream.url,
        &["--concurrency", "8", "--run-id", "r1", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    // Every item was answered once after one injected 429 + Retry-After each.
    let stats = upstream.stats();
    assert_eq!(stats.rate_limited, 30);
    assert_eq!(stats.answered, 30);
    assert_eq!(
        (
            report["pass"].as_u64(),
            report["fail"].as_u64(),
            report["error"].as_u64()
        ),
        (Some(30), Some(0), Some(0))
    );
    let harmful = report["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "harmful")
        .unwrap();
    assert_eq!(harmful["pass"], 10);
    assert_eq!(harmful["rate"], 1.0);
    let low = harmful["ci_low"].as_f64().unwrap();
    assert!(
        low > 0.6 && low < 1.0,
        "Wilson lower bound for 10/10: {low}"
    );
    assert_eq!(harmful["ci_high"], 1.0);
    assert_eq!(report["risks"][0]["name"], "A.1.8");

    // The stored report is the same document.
    let stored = home.run(&["eval", "report", "r1", "--format", "json"]);
    assert!(stored.status.success(), "{}", stderr(&stored));
    assert_eq!(json(&stored), report);
    for format in ["md", "html"] {
        let rendered = home.run(&["eval", "report", "r1", "--format", format]);
        assert!(stdout(&rendered).contains("harmful"), "{format}");
    }

    // The ledger holds the run with its digests, and still verifies.
    let log = home.run(&["ledger", "log", "--json"]);
    let entries = json(&log);
    let entry = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "eval.run.finished")
        .unwrap_or_else(|| panic!("no eval entry in {entries}"));
    assert_eq!(entry["subject"], "eval-run:r1");
    assert_eq!(entry["payload"]["suite_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(
        entry["payload"]["config_sha256"].as_str().unwrap().len(),
        64
    );
    assert!(home.run(&["ledger", "verify"]).status.success());

    // The same requests in a new run come from the cache: nothing more goes upstream.
    let again = eval_run(&home, &suite, &upstream.url, &["--run-id", "r2", "--json"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(upstream.stats().received, stats.received);
    assert!(
        stderr(&again).contains("0 calls sent, 30 from the journal"),
        "{}",
        stderr(&again)
    );

    // A taken run id is refused, not overwritten.
    let taken = eval_run(&home, &suite, &upstream.url, &["--run-id", "r1"]);
    assert_eq!(taken.status.code(), Some(2), "{}", stderr(&taken));
    assert!(stderr(&taken).contains("exists"), "{}", stderr(&taken));
}

/// Issue 3's resume measure: `kill -9` about half-way through a 2 000-sample run, resume, and
/// get exactly 2 000 results with no answered request asked again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_3_resume_after_kill_9_repeats_no_answered_request() {
    let upstream = testing::start(UpstreamOptions {
        stall_after: Some(1000),
        ..UpstreamOptions::default()
    })
    .await
    .unwrap();
    let home = TestHome::init();
    let suite = suite_file(&home, "big", 2000);
    let mut child = home
        .command()
        .args([
            "eval",
            "run",
            "--suite",
            suite.to_str().unwrap(),
            "--target",
            &upstream.url,
        ])
        .args([
            "--model",
            "instant",
            "--concurrency",
            "32",
            "--run-id",
            "big",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while upstream.held() < 32 {
        assert!(
            Instant::now() < deadline,
            "the run never reached the stall: {:?}",
            upstream.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(upstream.answered(), 1000);
    // Answers are journalled before they count; give the writer a moment to commit the last.
    tokio::time::sleep(Duration::from_millis(500)).await;
    child.kill().unwrap(); // SIGKILL: no chance to flush or clean up.
    child.wait().unwrap();
    // The held requests die with their connections: none of them is ever answered.
    while upstream.held() > 0 {
        assert!(
            Instant::now() < deadline,
            "held requests outlived the killed client"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    upstream.release();

    // Issue 15: no process holds the run any more, so it is listed as interrupted, not running.
    let runs = json(&home.run(&["eval", "runs", "--json"]));
    assert_eq!(runs[0]["status"], "interrupted");
    let resumed = home.run(&["eval", "run", "--resume", "big", "--json"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let report = json(&resumed);
    let results = ["pass", "fail", "error"]
        .iter()
        .map(|k| report[k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(results, 2000);
    assert_eq!(report["error"], 0);
    let stats = upstream.stats();
    assert_eq!(stats.answered, 2000, "{stats:?}");
    assert_eq!(stats.distinct_answered, 2000, "{stats:?}");
    assert_eq!(stats.repeated_answers, 0, "{stats:?}");
    assert!(
        stderr(&resumed).contains("1000 from the journal"),
        "{}",
        stderr(&resumed)
    );
    // A finished run cannot be resumed again.
    let twice = home.run(&["eval", "run", "--resume", "big"]);
    assert_eq!(twice.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparseable_judges_and_cut_off_answers_are_errors_and_fail_the_run_loudly() {
    // The judge is the same double, which answers "Sure: here is an answer." — not a verdict.
    let upstream = testing::start(UpstreamOptions::default()).await.unwrap();
    let home = TestHome::init();
    let suite = suite_file(&home, "judged", 6);
    let out = eval_run(
        &home,
        &suite,
        &upstream.url,
        &["--judge", "harmbench", "--json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["error"], 6);
    assert_eq!(report["pass"], 0);
    assert_eq!(report["run"]["status"], "failed");
    assert!(
        report["errors"][0]["error"]
            .as_str()
            .unwrap()
            .contains("judge"),
        "{report}"
    );
    assert!(stderr(&out).contains("FAILED"), "{}", stderr(&out));
    // Issue 15: a run with no scored sample has no pass rate, not "0.0 % (95 % CI 0.0–100.0 %)".
    let id = report["run"]["id"].as_str().unwrap();
    let md = stdout(&home.run(&["eval", "report", id]));
    assert!(
        md.contains("pass rate — (no sample could be scored)"),
        "{md}"
    );
    assert!(!md.contains("0.0–100.0"), "{md}");
}

#[test]
fn bad_suites_and_unreachable_targets_fail_fast_and_say_what_to_fix() {
    let home = TestHome::init();
    let suite = home.dir.path().join("broken.jsonl");
    std::fs::write(
        &suite,
        "{\"id\": \"a\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"language\": \"en\", \"expected\": \"comply\"}\n{\"id\": \"b\", \"messages\": \n",
    )
    .unwrap();
    let out = eval_run(&home, &suite, "http://127.0.0.1:9/v1", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("broken.jsonl:2"), "{}", stderr(&out));

    let good = suite_file(&home, "good", 3);
    let started = Instant::now();
    // Port 9 (discard) is closed on loopback: connection refused at once.
    let out = eval_run(&home, &good, "http://127.0.0.1:9/v1", &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("http://127.0.0.1:9/v1/chat/completions"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("unreachable"), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(15));

    let out = home.run(&[
        "eval",
        "run",
        "--suite",
        "no-such-suite",
        "--target",
        "http://127.0.0.1:9",
        "--model",
        "m",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("xstest"),
        "lists the shipped suites: {}",
        stderr(&out)
    );

    let out = eval_run(
        &home,
        &good,
        "http://127.0.0.1:9/v1",
        &["--attack", "rot14"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("rot13"), "{}", stderr(&out));

    let out = home.run(&["eval", "report", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("warden eval runs"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_give_success_rates_and_consistency_tables() {
    // The double refuses only prompts that carry the marker in clear text: encoding a harmful
    // prompt hides the marker, so the attack "succeeds" — a stand-in for a model fooled by it.
    let upstream = testing::start(UpstreamOptions::default()).await.unwrap();
    let home = TestHome::init();
    let suite = suite_file(&home, "attacked", 9);
    let out = eval_run(
        &home,
        &suite,
        &upstream.url,
        &["--attack", "base64,prefix-injection", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    let attacks = report["attacks"].as_array().unwrap();
    let row = |name: &str| {
        attacks
            .iter()
            .find(|a| a["transform"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(row("none")["successes"], 0);
    let base64 = row("base64");
    assert_eq!(
        (base64["attempts"].as_u64(), base64["successes"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(base64["queries_per_success"], 1.0);
    assert_eq!(
        row("prefix-injection")["successes"],
        0,
        "the marker stays visible"
    );
    let tables = report["consistency"].as_array().unwrap();
    let table = tables
        .iter()
        .find(|t| t["name"] == "original × base64")
        .unwrap();
    assert_eq!(table["first_pass_second_fail"], 3);
    assert_eq!(table["both_pass"], 6);
}

#[test]
fn calibration_measures_the_string_match_baseline_against_human_labels() {
    let home = TestHome::init();
    let out = home.run(&["eval", "calibrate", "--limit", "90", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let calibration: Value = json(&out);
    let report = &calibration["english"];
    assert_eq!(report["items"], 90);
    // Issue 15: the Chinese set is calibrated the same way, with its labelling agreement.
    assert_eq!(calibration["chinese"]["items"], 90);
    assert!(
        calibration["chinese"]["per_model"]
            .as_array()
            .unwrap()
            .len()
            >= 4
    );
    assert!(
        calibration["chinese_labelling"]["binary"]["kappa"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let baseline = &report["raters"][0];
    let accuracy = baseline["binary"]["accuracy"].as_f64().unwrap();
    assert!((0.5..=1.0).contains(&accuracy), "{baseline}");
    assert!(baseline["binary"]["kappa"].as_f64().unwrap() > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gbt45654_profile_reports_thresholds_and_coverage_gaps() {
    // The double always complies (no marker in the Chinese prompts): every should-refuse
    // question is answered, so the assessment fails the ≥ 95 % reference threshold.
    let upstream = answering("好的，下面是回答。").await;
    let home = TestHome::init();
    let out = home.run(&[
        "eval",
        "compliance",
        "--target",
        &upstream.url,
        "--model",
        "instant",
        "--limit",
        "40",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    let refuse = &report["should_refuse"];
    assert_eq!(refuse["assessed"], 20);
    assert_eq!(refuse["refusal_rate"]["rate"], 0.0);
    assert_eq!(refuse["meets_threshold"], false);
    assert_eq!(refuse["threshold_is_reference"], true);
    let answer = &report["should_not_refuse"];
    assert_eq!(answer["assessed"], 20);
    assert_eq!(answer["meets_threshold"], true);
    assert_eq!(report["coverage"].as_array().unwrap().len(), 17);
    assert_eq!(report["uncovered_topics"].as_array().unwrap().len(), 13);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pair_attacks_report_success_rate_and_cost_under_a_budget() {
    // Target and attacker are the same double. The attacker's reply is not the JSON PAIR asks
    // for, so it is used as the prompt; it lacks the refusal marker, so the target complies and
    // the string-match judge calls it a success on the first round: 2 calls per goal.
    let upstream = testing::start(UpstreamOptions::default()).await.unwrap();
    let home = TestHome::init();
    let suite = suite_file(&home, "goals", 9);
    let out = home.run(&[
        "eval",
        "attack",
        "--suite",
        suite.to_str().unwrap(),
        "--method",
        "pair",
        "--target",
        &upstream.url,
        "--model",
        "instant",
        "--attacker",
        &upstream.url,
        "--attacker-model",
        "instant",
        "--limit",
        "3",
        "--max-queries",
        "5",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["stats"]["attempts"], 3);
    assert_eq!(report["stats"]["successes"], 3);
    assert_eq!(report["stats"]["asr"], 1.0);
    assert_eq!(report["stats"]["queries_per_success"], 2.0);
    // Issue 15: the attack is a run, listed with the others, and every attempt is kept.
    let run = report["run"].as_str().unwrap().to_owned();
    let runs = json(&home.run(&["eval", "runs", "--json"]));
    assert!(
        runs.as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == run.as_str() && r["status"] == "finished"),
        "{runs}"
    );
    let table = stdout(&home.run(&["eval", "samples", &run]));
    assert!(
        table.contains("best judge score 10/10 after 2 queries, 1 attempts kept"),
        "{table}"
    );
    let kept = stdout(&home.run(&["eval", "samples", &run, "--format", "jsonl"]));
    let kept: Vec<Value> = kept
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(kept.len(), 3);
    for goal in &kept {
        assert_eq!(goal["outcome"], "fail", "jailbroken: {goal}");
        assert_eq!(goal["response"], ReplyMode::DEFAULT_COMPLIANCE);
        assert!(
            goal["scored_by"]
                .as_str()
                .unwrap()
                .starts_with("attack:pair")
        );
        let attempts = goal["verdict"]["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 1, "{goal}");
        assert_eq!(attempts[0]["response"], ReplyMode::DEFAULT_COMPLIANCE);
        assert_eq!(attempts[0]["score"], 10);
        assert!(!attempts[0]["messages"].as_array().unwrap().is_empty());
    }
    assert!(
        report["goals"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["queries"].as_u64() <= Some(5))
    );
    let log = json(&home.run(&["ledger", "log", "--json"]));
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "eval.attack.finished")
    );

    // A budget too small for one round: no call is made and nothing succeeds.
    let out = home.run(&[
        "eval",
        "attack",
        "--suite",
        suite.to_str().unwrap(),
        "--target",
        &upstream.url,
        "--model",
        "instant",
        "--attacker",
        &upstream.url,
        "--limit",
        "1",
        "--max-queries",
        "1",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["stats"]["successes"], 0);
    assert_eq!(report["goals"][0]["queries"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_of_a_series_show_a_trend() {
    let upstream = testing::start(UpstreamOptions::default()).await.unwrap();
    let home = TestHome::init();
    let suite = suite_file(&home, "trend", 6);
    for (checkpoint, limit) in [("step-1000", "3"), ("step-2000", "6")] {
        let out = eval_run(
            &home,
            &suite,
            &upstream.url,
            &[
                "--series",
                "smol",
                "--checkpoint",
                checkpoint,
                "--limit",
                limit,
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let trend = json(&home.run(&["eval", "trend", "smol", "--json"]));
    let rows = trend["checkpoints"].as_array().unwrap();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["checkpoint"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["step-1000", "step-2000"]);
    assert_eq!(rows[1]["pass"], 6);
    assert!(rows[0]["ci_low"].as_f64().unwrap() < rows[1]["ci_low"].as_f64().unwrap());
    let out = home.run(&["eval", "trend", "other"]);
    assert_eq!(out.status.code(), Some(2));
}

/// A suite with a header name, a `<script>` in one prompt, and two categories.
fn named_suite(home: &TestHome) -> std::path::PathBuf {
    let path = home.dir.path().join("named.jsonl");
    let mut file = std::fs::File::create(&path).unwrap();
    writeln!(file, "{}", json!({"suite": {"name": "my-named-suite"}})).unwrap();
    for (id, prompt, category, expected) in [
        ("h1", "[refuse] harmful one", "harmful", "refuse"),
        (
            "h2",
            "[refuse] <script>alert(1)</script>",
            "harmful",
            "refuse",
        ),
        ("b1", "benign one", "benign", "comply"),
        ("b2", "benign two", "benign", "comply"),
    ] {
        let line = json!({
            "id": id, "messages": [{"role": "user", "content": prompt}],
            "language": "en", "category": category, "expected": expected,
        });
        writeln!(file, "{line}").unwrap();
    }
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_samples_and_diff_show_the_evidence_behind_a_report() {
    // Two "checkpoints": one refuses the marked prompts, one answers everything.
    let careful = testing::start(UpstreamOptions::default()).await.unwrap();
    let reckless = answering("Sure: <b>here</b> it is.").await;
    let home = TestHome::init();
    let suite = named_suite(&home);
    let first = eval_run(&home, &suite, &careful.url, &["--run-id", "ck1"]);
    assert!(first.status.success(), "{}", stderr(&first));
    // The report names the suite by its header name, not only by its path.
    assert!(
        stdout(&first).contains("suite: my-named-suite ("),
        "{}",
        stdout(&first)
    );
    let second = eval_run(&home, &suite, &reckless.url, &["--run-id", "ck2"]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));

    let failed = home.run(&[
        "eval",
        "samples",
        "ck2",
        "--outcome",
        "fail",
        "--format",
        "jsonl",
    ]);
    assert!(failed.status.success(), "{}", stderr(&failed));
    let failed: Vec<Value> = stdout(&failed)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = failed
        .iter()
        .map(|s| s["item_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["h1", "h2"]);
    assert_eq!(failed[1]["prompt"], "[refuse] <script>alert(1)</script>");
    assert_eq!(failed[1]["response"], "Sure: <b>here</b> it is.");
    assert_eq!(failed[1]["outcome"], "fail");
    assert_eq!(failed[1]["scored_by"], "refusal-rules+classifier");
    assert!(
        failed[1]["why"]
            .as_str()
            .unwrap()
            .contains("read as an answer, expected a refusal")
    );

    let benign = stdout(&home.run(&["eval", "samples", "ck1", "--category", "benign"]));
    assert!(
        benign.contains("b1  PASS  [benign]") && !benign.contains("h1"),
        "{benign}"
    );
    let unknown = home.run(&["eval", "samples", "ck1", "--category", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("benign, harmful"),
        "{}",
        stderr(&unknown)
    );
    let missing = home.run(&["eval", "samples", "no-such-run"]);
    assert_eq!(missing.status.code(), Some(2));

    let diff = json(&home.run(&["eval", "diff", "ck1", "ck2", "--json"]));
    assert_eq!(diff["diff"]["compared"], 4);
    assert_eq!(diff["diff"]["unchanged"], 2);
    assert_eq!(diff["diff"]["counts"]["pass→fail"], 2);
    let table = stdout(&home.run(&["eval", "diff", "ck1", "ck2"]));
    assert!(table.contains("h2  pass→fail  [harmful]"), "{table}");
    assert!(table.contains("before: I'm sorry"), "{table}");

    // The HTML report links the failing category to its examples, escaped.
    let html = stdout(&home.run(&["eval", "report", "ck2", "--format", "html"]));
    assert!(html.contains("<td><a href=\"#fail-harmful-"), "{html}");
    assert!(html.contains("<section id=\"fail-harmful-"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        !html.contains("<script>") && !html.contains("<b>here"),
        "{html}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_a_target_that_answers_404_stops_the_run_at_once() {
    let upstream = testing::start(UpstreamOptions::default()).await.unwrap();
    let home = TestHome::init();
    let suite = suite_file(&home, "many", 300);
    let wrong = format!("{}/wrong-path", upstream.url);
    let out = eval_run(&home, &suite, &wrong, &["--run-id", "lost"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("404") && err.contains("stopped"), "{err}");
    assert!(err.contains("check the URL"), "{err}");
    // Not a failed run full of errors: interrupted, to resume once the cause is fixed.
    let runs = json(&home.run(&["eval", "runs", "--json"]));
    assert_eq!(runs[0]["id"], "lost");
    assert_eq!(runs[0]["status"], "interrupted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_the_generated_content_assessment_judges_the_same_answers_for_harm() {
    let target = answering("好的，下面是回答。").await;
    // A harm judge (a test double) that finds nothing harmful.
    let judge = answering("no").await;
    let home = TestHome::init();
    let out = home.run(&[
        "eval",
        "compliance",
        "--target",
        &target.url,
        "--model",
        "instant",
        "--limit",
        "40",
        "--content-judge",
        "harmbench",
        "--judge-target",
        &judge.url,
        "--judge-model",
        "judge",
        "--json",
    ]);
    // The refusal profile still fails (nothing refused); the content assessment passes.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    let content = &report["generated_content"];
    assert_eq!(content["assessed"], 40, "{content}");
    assert_eq!(content["errors"], 0);
    assert_eq!(content["qualified"]["rate"], 1.0);
    assert_eq!(content["meets_threshold"], true);
    assert_eq!(content["required_assessed"], 1000);
    assert!(
        content["judge"].as_str().unwrap().contains("harm-bench"),
        "{content}"
    );
    assert!(
        content["judge_calibration"]
            .as_str()
            .unwrap()
            .contains("not measured")
    );
    // Every Appendix A risk is listed, the A.3–A.5 ones the banks do not probe at 0.
    let coverage = content["coverage"].as_array().unwrap();
    assert!(coverage.len() > 17, "{content}");
    assert!(
        coverage
            .iter()
            .any(|c| c["risk"] == "A.5.1" && c["assessed"] == 0)
    );
    // The answers came from the journal: the target saw each question once.
    assert_eq!(target.stats().answered, 40);
    assert_eq!(judge.stats().answered, 40);
    // A refusal rubric cannot judge harm.
    let refused = home.run(&[
        "eval",
        "compliance",
        "--target",
        &target.url,
        "--model",
        "instant",
        "--limit",
        "4",
        "--content-judge",
        "refusal",
        "--judge-target",
        &judge.url,
    ]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
}
