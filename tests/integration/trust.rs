//! Issue 10's contracts, tried as an attacker and as an operator would: capability-owned entry
//! kinds refused by the generic append, forged rows rejected on replay, a deleted or rolled-back
//! database refused instead of silently starting a second log, proofs checked against a
//! checkpoint the auditor kept, and https targets trusted through a private CA.

use serde_json::{Value, json};
use warden_eval::testing::{self, UpstreamOptions};
use warden_ledger::entry::EntryDraft;

use crate::support::{ServerProcess, TestHome, json as parse, repo_root, stderr, stdout};

/// Every `gate.*` write through the generic append is refused (API 403, CLI exit 2), and a full
/// forged decision written straight into the database leaves the gate closed and is listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_10_gate_entries_cannot_be_forged_through_the_generic_append_or_the_database() {
    let home = TestHome::init();
    let out = home.run(&[
        "ledger",
        "append",
        "--kind",
        "gate.decision",
        "--subject",
        "m",
        "--payload",
        "{}",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("warden gate"), "{}", stderr(&out));

    let mut command = home.command();
    command.args(["keys", "create", "--name", "ci", "--role", "evaluator"]);
    let evaluator = stdout(&command.output().unwrap()).trim().to_owned();
    let mut serve = home.command();
    serve.args(["serve", "--addr", "127.0.0.1:0"]);
    let server = ServerProcess::start(serve);
    let client = reqwest::Client::new();
    let proposal = json!({"id": "p1", "model": "m", "stage": "internal-use",
        "action": "proceed-with-conditions", "roles": ["evaluator"], "reason": "x"});
    for (path, body) in [
        (
            "/v1/ledger/entries",
            json!({"kind": "gate.proposal", "subject": "p1", "payload": proposal}),
        ),
        (
            "/v1/ledger/entries",
            json!({"kind": "access.key_created", "subject": "key:x", "payload": {}}),
        ),
        (
            "/v1/ledger/batch",
            json!({"entries": [
            {"kind": "note.ok", "subject": "s"},
            {"kind": "gate.decision", "subject": "p1", "payload": {"proposal": "p1"}}]}),
        ),
    ] {
        let response = client
            .post(format!("{}{path}", server.base))
            .bearer_auth(&evaluator)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{path}");
        let text = response.text().await.unwrap();
        assert!(text.contains("reserved_kind"), "{text}");
    }

    // Someone with database access writes a whole decision, with a key grant of their own.
    let store = warden_ledger::store::connect(&home.database())
        .await
        .unwrap();
    let forged = [
        (
            "access.key_created",
            "key:forged",
            json!({"name": "m", "person": "mallory", "roles": ["safety-officer", "reviewer"]}),
        ),
        (
            "gate.proposal",
            "gate-proposal:p1",
            json!({"id": "p1", "model": "m", "stage": "internal-use",
            "action": "proceed-with-conditions", "roles": ["safety-officer", "reviewer"], "reason": "x"}),
        ),
        (
            "gate.signoff",
            "gate-proposal:p1",
            json!({"proposal": "p1", "role": "safety-officer", "by": "mallory", "note": ""}),
        ),
        (
            "gate.signoff",
            "gate-proposal:p1",
            json!({"proposal": "p1", "role": "reviewer", "by": "trent"}),
        ),
        (
            "gate.decision",
            "gate-proposal:p1",
            json!({"proposal": "p1"}),
        ),
    ];
    let drafts: Vec<EntryDraft> = forged
        .into_iter()
        .map(|(kind, subject, payload)| EntryDraft::now(kind, "local:mallory", subject, payload))
        .collect();
    store.append(&drafts).await.unwrap();
    let answer: Value = client
        .get(format!("{}/v1/gate/m/internal-use", server.base))
        .bearer_auth(&evaluator)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["allowed"], false, "{answer}");
    server.terminate();
    let status = parse(&home.run(&["gate", "status", "--model", "m", "--json"]));
    let rejected = status["rejected_entries"].to_string();
    assert!(
        rejected.contains("proposals are written by `warden gate propose`"),
        "{status}"
    );
    assert!(rejected.contains("not pending"), "{status}");
    assert!(rejected.contains("not countersigned"), "{status}");
    let text = stdout(&home.run(&["gate", "status", "--model", "m"]));
    assert!(text.contains("rejected ledger entry"), "{text}");
    assert!(text.contains("not countersigned"), "{text}");
}

/// A policy halt opens for no action or reason: `proceed-with-conditions` with a reason and two
/// real sign-offs is refused at the proposal.
#[test]
fn issue_10_a_halted_stage_cannot_be_opened_with_conditions() {
    let home = TestHome::init();
    let policy = repo_root().join("policies/gbt45654.toml");
    let policy = policy.to_str().unwrap();
    // No evidence: every threshold is cannot_rule_out, which the GB/T policy's halts treat as
    // crossed.
    let assessed = parse(&home.run(&[
        "gate",
        "assess",
        "--model",
        "m",
        "--checkpoint",
        "c",
        "--policy",
        policy,
        "--json",
    ]));
    let halted: Vec<&str> = assessed["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| !s["halted_by"].as_array().unwrap().is_empty())
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert!(!halted.is_empty(), "{assessed}");
    for action in ["proceed", "proceed-with-conditions"] {
        let out = home.run(&[
            "gate",
            "propose",
            "--model",
            "m",
            "--stage",
            halted[0],
            "--action",
            action,
            "--reason",
            "we accept the risk",
            "--policy",
            policy,
        ]);
        assert_eq!(out.status.code(), Some(2), "{action}: {}", stderr(&out));
        assert!(stderr(&out).contains("halts"), "{}", stderr(&out));
    }
    let out = home.run(&[
        "gate",
        "propose",
        "--model",
        "m",
        "--stage",
        halted[0],
        "--action",
        "proceed-with-conditions",
        "--reason",
        "board",
        "--override",
        "--policy",
        policy,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("override_roles"), "{}", stderr(&out));
}

fn remove_database(home: &TestHome) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(home.path().join(format!("warden.db{suffix}")));
    }
}

fn copy_database(from: &std::path::Path, to: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let source = from.join(format!("warden.db{suffix}"));
        let target = to.join(format!("warden.db{suffix}"));
        let _ = std::fs::remove_file(&target);
        if source.exists() {
            std::fs::copy(&source, &target).unwrap();
        }
    }
}

fn append_notes(home: &TestHome, n: usize) {
    for i in 0..n {
        let out = home.run(&[
            "ledger",
            "append",
            "--kind",
            "note.test",
            "--subject",
            &format!("s{i}"),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

/// Deleting or emptying the database of a home whose key has signed checkpoints is an
/// environment error naming what is missing; an older backup is refused until the operator
/// accepts it, and the acceptance is recorded.
#[test]
fn issue_10_a_missing_or_rolled_back_database_is_refused_never_restarted() {
    let home = TestHome::init();
    append_notes(&home, 3);
    assert!(home.run(&["ledger", "checkpoint"]).status.success());
    let backup = tempfile::tempdir().unwrap();
    copy_database(&home.path(), backup.path());
    append_notes(&home, 2);
    let signed = parse(&home.run(&["ledger", "checkpoint", "--json"]));
    assert_eq!(signed["size"], 5);
    let kept = std::fs::read_to_string(home.path().join("ledger.checkpoint")).unwrap();

    remove_database(&home);
    for args in [
        &["ledger", "verify"][..],
        &["ledger", "checkpoint"],
        &["serve", "--addr", "127.0.0.1:0"],
    ] {
        let out = home.run(args);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("holds 0 ledger entries"),
            "{}",
            stderr(&out)
        );
    }
    std::fs::write(home.path().join("warden.db"), b"").unwrap();
    let out = home.run(&["ledger", "verify"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(home.path().join("ledger.checkpoint")).unwrap(),
        kept,
        "nothing signed a new root"
    );

    remove_database(&home);
    copy_database(backup.path(), &home.path());
    let out = home.run(&["ledger", "verify"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("accept-rollback"), "{}", stderr(&out));
    let out = home.run(&["ledger", "accept-rollback", "--reason", "restore drill"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(home.run(&["ledger", "verify"]).status.success());
    let log = parse(&home.run(&["ledger", "log", "--json"]));
    let acceptance = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "ledger.rollback_accepted")
        .unwrap()
        .clone();
    assert_eq!(acceptance["payload"]["abandoned_size"], 5);
    assert_eq!(acceptance["payload"]["abandoned_checkpoint"], kept.as_str());
}

/// An auditor who kept a checkpoint checks new proofs against it; a second history signed with
/// the same key is caught as a split view.
#[test]
fn issue_10_verify_proof_checks_against_a_kept_checkpoint() {
    let home = TestHome::init();
    append_notes(&home, 3);
    let kept_note = parse(&home.run(&["ledger", "checkpoint", "--json"]))["note"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("kept.txt");
    std::fs::write(&kept, &kept_note).unwrap();
    // An insider copies the home (key included) and grows a second history from size 2.
    let fork = TestHome::empty();
    let copied = std::process::Command::new("cp")
        .args([
            "-a",
            home.path().to_str().unwrap(),
            fork.path().to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(copied.success());
    append_notes(&home, 2);
    append_notes(&fork, 1);
    let key = format!("@{}", home.path().join("ledger.pub").display());
    let verify = |proof: &str| {
        let bundle = dir.path().join("bundle.json");
        std::fs::write(&bundle, proof).unwrap();
        home.run(&[
            "ledger",
            "verify-proof",
            "--key",
            &key,
            "--proof",
            bundle.to_str().unwrap(),
            "--checkpoint",
            kept.to_str().unwrap(),
        ])
    };
    let honest = verify(&stdout(&home.run(&["ledger", "proof", "--since", "3"])));
    assert!(
        honest.status.success(),
        "{}{}",
        stdout(&honest),
        stderr(&honest)
    );
    // A proof that does not start from the kept size is not accepted as extending it.
    let unrelated = verify(&stdout(&home.run(&["ledger", "proof", "--since", "1"])));
    assert_eq!(unrelated.status.code(), Some(1), "{}", stdout(&unrelated));
    assert!(
        stdout(&unrelated).contains("--since 3"),
        "{}",
        stdout(&unrelated)
    );
    // The copy of the home signed a different root at size 4. An auditor who kept the honest
    // size-4 checkpoint is shown the fork's proof from 3 to 4: a split view.
    let honest_four = parse(&home.run(&["ledger", "proof", "--since", "3", "--size", "4"]));
    std::fs::write(&kept, honest_four["new_checkpoint"].as_str().unwrap()).unwrap();
    let split = verify(&stdout(&fork.run(&["ledger", "proof", "--since", "3"])));
    assert_eq!(split.status.code(), Some(1), "{}", stdout(&split));
    assert!(stdout(&split).contains("SPLIT VIEW"), "{}", stdout(&split));
}

/// An eval report edited in the database after its run stops being evidence: the assessment
/// names it and its thresholds fall back to `cannot_rule_out`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_10_an_edited_eval_report_is_not_evidence() {
    let upstream = testing::start(UpstreamOptions::default()).await.unwrap();
    let home = TestHome::init();
    let out = home.run(&[
        "eval",
        "run",
        "--suite",
        "xstest",
        "--limit",
        "20",
        "--target",
        &upstream.url,
        "--model",
        "m",
        "--series",
        "m",
        "--checkpoint",
        "c1",
        "--run-id",
        "r1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let policy = repo_root().join("policies/asl-style.toml");
    let assess = || {
        parse(&home.run(&[
            "gate",
            "assess",
            "--model",
            "m",
            "--checkpoint",
            "c1",
            "--policy",
            policy.to_str().unwrap(),
            "--json",
        ]))
    };
    let honest = assess();
    assert_eq!(honest["evidence"].as_array().unwrap().len(), 1, "{honest}");
    // Someone with database access improves the run's pass counts.
    let store = warden_ledger::store::connect(&home.database())
        .await
        .unwrap();
    store
        .execute_raw("UPDATE eval_runs SET summary = REPLACE(summary, '\"fail\":', '\"fail\": ') WHERE id = 'r1'")
        .await
        .unwrap();
    let edited = assess();
    assert!(
        edited["evidence"].as_array().unwrap().is_empty(),
        "{edited}"
    );
    let excluded = edited["excluded_evidence"].to_string();
    assert!(
        excluded.contains("r1") && excluded.contains("does not match"),
        "{edited}"
    );
    assert!(
        edited["thresholds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["determination"] == "cannot_rule_out"),
        "{edited}"
    );
}

/// `SSL_CERT_FILE` names a private CA; without it the https target is refused naming the
/// certificate problem, never trusted blindly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_10_https_targets_are_trusted_through_a_private_ca() {
    let generated =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let cert_pem = generated.cert.pem();
    let upstream = testing::start_tls(
        UpstreamOptions::default(),
        &cert_pem,
        &generated.signing_key.serialize_pem(),
    )
    .await
    .unwrap();
    assert!(upstream.url.starts_with("https://127.0.0.1:"));
    let home = TestHome::init();
    let cert = home.dir.path().join("cert.pem");
    std::fs::write(&cert, &cert_pem).unwrap();
    let run = |with_ca: bool| {
        let mut command = home.command();
        command.env_remove("SSL_CERT_FILE");
        if with_ca {
            command.env("SSL_CERT_FILE", &cert);
        }
        command
            .args([
                "eval",
                "run",
                "--suite",
                "xstest",
                "--limit",
                "8",
                "--target",
                &upstream.url,
                "--model",
                "M",
            ])
            .output()
            .unwrap()
    };
    let refused = run(false);
    assert_ne!(refused.status.code(), Some(0));
    let message = stderr(&refused);
    assert!(message.contains("certificate"), "{message}");
    assert!(message.contains("SSL_CERT_FILE"), "{message}");
    let trusted = run(true);
    assert!(trusted.status.success(), "{}", stderr(&trusted));
    assert!(
        upstream.stats().answered >= 8,
        "{:?}",
        upstream.stats().answered
    );
}
