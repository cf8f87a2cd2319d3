//! The command line, end to end.

use serde_json::json;

use crate::support::{TestHome, json, stderr, stdout};

#[test]
fn init_creates_a_home_with_a_private_key_and_refuses_to_overwrite_it() {
    use std::os::unix::fs::PermissionsExt as _;
    let home = TestHome::empty();
    let out = home.run(&["init", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let info = json(&out);
    assert_eq!(info["database"], "sqlite");
    assert_eq!(info["size"], 0);
    let mode = std::fs::metadata(home.path().join("ledger.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let key_before = std::fs::read(home.path().join("ledger.key")).unwrap();
    let again = home.run(&["init"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("already holds a Warden home"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        std::fs::read(home.path().join("ledger.key")).unwrap(),
        key_before,
        "the key must survive"
    );
}

#[test]
fn append_prints_the_index_and_verify_follows_the_contract() {
    let home = TestHome::init();
    for expected in 0..3 {
        let out = home.run(&[
            "ledger",
            "append",
            "--kind",
            "note.decision",
            "--subject",
            "model/a",
            "--payload",
            r#"{"stage":"api"}"#,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(stdout(&out).trim(), expected.to_string());
    }
    let out = home.run(&["ledger", "verify", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let report = json(&out);
    assert_eq!(
        (
            report["ok"].clone(),
            report["size"].clone(),
            report["first_bad_index"].clone()
        ),
        (json!(true), json!(3), json!(null))
    );
    let log = json(&home.run(&["ledger", "log", "--json"]));
    assert_eq!(log[2]["actor"], "local:tester");
    assert_eq!(log[2]["payload"], json!({"stage": "api"}));
}

/// Issue 2: a row edited behind the store's back (plain SQL) makes `ledger verify` fail and
/// name the row.
#[tokio::test]
async fn issue_2_tampered_row_fails_verify_with_its_index() {
    let home = TestHome::init();
    let lines: String = (0..10).map(|n| format!("{{\"kind\":\"note.run_finished\",\"subject\":\"run-{n}\",\"payload\":{{\"n\":{n}}}}}\n")).collect();
    let file = home.dir.path().join("events.jsonl");
    std::fs::write(&file, lines).unwrap();
    let out = home.run(&["ledger", "append", "--jsonl", file.to_str().unwrap()]);
    assert_eq!(stdout(&out).lines().count(), 10, "{}", stderr(&out));
    assert_eq!(home.run(&["ledger", "checkpoint"]).status.code(), Some(0));

    let store = warden_ledger::store::connect(&home.database())
        .await
        .unwrap();
    store
        .execute_raw("DROP TRIGGER ledger_entries_append_only_update")
        .await
        .unwrap();
    store
        .execute_raw(
            "UPDATE ledger_entries SET entry = REPLACE(entry, 'run-4', 'run-X') WHERE idx = 4",
        )
        .await
        .unwrap();

    let out = home.run(&["ledger", "verify", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(
        (report["ok"].clone(), report["first_bad_index"].clone()),
        (json!(false), json!(4))
    );
    let text = home.run(&["ledger", "verify"]);
    assert_eq!(text.status.code(), Some(1));
    assert!(
        stdout(&text).contains("first bad index 4"),
        "{}",
        stdout(&text)
    );
}

#[test]
fn proofs_verify_with_only_the_public_key() {
    let home = TestHome::init();
    for n in 0..6 {
        home.run(&[
            "ledger",
            "append",
            "--kind",
            "a.b",
            "--subject",
            &format!("s{n}"),
        ]);
    }
    let proof_file = home.dir.path().join("proof.json");
    let out = home.run(&["ledger", "proof", "--index", "4"]);
    std::fs::write(&proof_file, &out.stdout).unwrap();
    let key = home.path().join("ledger.pub");
    // The auditor has no home: run from an empty folder with no WARDEN_HOME.
    let auditor = |proof: &std::path::Path| {
        std::process::Command::new(crate::support::warden_bin())
            .env_remove("WARDEN_HOME")
            .current_dir(home.dir.path())
            .args([
                "ledger",
                "verify-proof",
                "--key",
                &format!("@{}", key.display()),
                "--proof",
                proof.to_str().unwrap(),
                "--json",
            ])
            .output()
            .unwrap()
    };
    let out = auditor(&proof_file);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(json(&out)["index"], 4);
    let mut bundle = json(&home.run(&["ledger", "proof", "--since", "2"]));
    std::fs::write(&proof_file, bundle.to_string()).unwrap();
    assert_eq!(auditor(&proof_file).status.code(), Some(0));
    bundle["path"][0] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    std::fs::write(&proof_file, bundle.to_string()).unwrap();
    let out = auditor(&proof_file);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(json(&out)["ok"], false);
}

#[test]
fn keys_are_shown_once_listed_without_secrets_and_revocable() {
    let home = TestHome::init();
    let out = home.run(&[
        "keys", "create", "--name", "ops", "--role", "admin", "--role", "auditor",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let secret = stdout(&out).trim().to_owned();
    assert!(secret.starts_with("wdn_"));
    let listed = json(&home.run(&["keys", "list", "--json"]));
    assert_eq!(listed[0]["roles"], json!(["admin", "auditor"]));
    assert!(!listed.to_string().contains(&secret));
    let id = listed[0]["id"].as_str().unwrap();
    assert_eq!(home.run(&["keys", "revoke", id]).status.code(), Some(0));
    assert_eq!(home.run(&["keys", "revoke", id]).status.code(), Some(2));
    let kinds: Vec<String> = json(&home.run(&["ledger", "log", "--json"]))
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, vec!["access.key_created", "access.key_revoked"]);
}

#[test]
fn bad_input_gets_exit_2_and_a_message_that_names_the_fix() {
    let home = TestHome::init();
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "ledger",
                "append",
                "--kind",
                "a.b",
                "--subject",
                "s",
                "--payload",
                "{nope",
            ],
            "--payload is not valid JSON",
        ),
        (
            &["ledger", "append", "--kind", "Bad Kind", "--subject", "s"],
            "kind `Bad Kind` is invalid",
        ),
        (&["ledger", "append", "--kind", "a.b"], "--subject"),
        (
            &["keys", "create", "--name", "x", "--role", "root"],
            "unknown role `root`",
        ),
        (&["ledger", "proof", "--index", "99"], "not in a tree"),
        (&["ledger", "frobnicate"], "unrecognized subcommand"),
    ];
    for (args, message) in cases {
        let out = home.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(
        json(&home.run(&["ledger", "verify", "--json"]))["size"],
        0,
        "nothing was written"
    );
}

#[test]
fn a_missing_or_corrupt_home_gets_exit_3_and_the_fix() {
    let home = TestHome::empty();
    let out = home.run(&["ledger", "verify"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("warden init"), "{}", stderr(&out));

    let home = TestHome::init();
    std::fs::write(home.path().join("warden.toml"), "[ledger]\norigin = 5\n").unwrap();
    let out = home.run(&["ledger", "verify"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("warden.toml is not a valid Warden config"),
        "{}",
        stderr(&out)
    );

    let home = TestHome::init();
    let out = home
        .command()
        .args(["ledger", "verify"])
        .env("WARDEN_DATABASE_URL", "postgres://warden@127.0.0.1:9/none")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("database is unavailable"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn help_explains_exit_codes_and_commands() {
    let out = TestHome::empty().run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    for word in ["Exit codes", "init", "serve", "keys", "ledger"] {
        assert!(text.contains(word), "{word}: {text}");
    }
    let text = stdout(&TestHome::empty().run(&["ledger", "--help"]));
    for word in [
        "append",
        "log",
        "proof",
        "checkpoint",
        "verify",
        "verify-proof",
    ] {
        assert!(text.contains(word), "{word}: {text}");
    }
}

#[test]
fn eval_suites_lists_the_shipped_suites_and_checks_user_files() {
    let home = TestHome::empty();
    let listed = json(&home.run(&["eval", "suites", "--json"]));
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for name in [
        "xstest",
        "safetybench-zh",
        "flames",
        "cvalues",
        "fine",
        "gbt45654-refusal",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let file = home.dir.path().join("mine.jsonl");
    std::fs::write(&file, "{\"id\":\"a\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"language\":\"en\",\"expected\":\"comply\"}\n{\"id\":\"b\",\"bogus\":1}\n").unwrap();
    let out = home.run(&["eval", "suites", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("mine.jsonl:2"), "{}", stderr(&out));
}
