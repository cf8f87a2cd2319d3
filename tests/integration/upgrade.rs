//! Upgrading: homes made by the release before issue 10 (`tests/fixtures/home-0.1.0*`, made by
//! that release's binary) open unchanged with this one, keep every row and still verify, on
//! SQLite and on PostgreSQL. A moved or edited migration would fail here: sqlx refuses a database
//! whose applied migrations' checksums no longer match.

use serde_json::Value;
use warden_store::testing::{Backend, fresh_database};

use crate::support::{TestHome, json, repo_root, stderr};

/// A temporary home holding a copy of the fixture home `name`.
fn fixture_home(name: &str) -> TestHome {
    let home = TestHome::empty();
    std::fs::create_dir_all(home.path()).unwrap();
    let source = repo_root().join("tests/fixtures").join(name);
    let files: &[&str] = if name.ends_with("postgres") {
        &["warden.toml", "ledger.key", "ledger.pub"]
    } else {
        &["warden.toml", "ledger.key", "ledger.pub", "warden.db"]
    };
    for file in files {
        let from = source.join(file);
        assert!(from.exists(), "the fixture {} is missing", from.display());
        std::fs::copy(&from, home.path().join(file)).unwrap();
    }
    // Git keeps no file modes; the key must be private, as on the operator's disk.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(
        home.path().join("ledger.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    home
}

/// What a user checks after an upgrade, against what the old release wrote.
fn check_upgraded(home: &TestHome, url: Option<&str>, entries: u64, keys: usize) {
    let run = |args: &[&str]| {
        let mut command = home.command();
        if let Some(url) = url {
            command.env("WARDEN_DATABASE_URL", url);
        }
        let out = command.args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        out
    };
    let verified = json(&run(&["ledger", "verify", "--json"]));
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(verified["size"], entries, "{verified}");
    let listed = json(&run(&["keys", "list", "--json"]));
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), keys);
    assert!(
        listed.iter().all(|k| k["person"] == k["name"]),
        "old keys belong to their name: {listed:?}"
    );
    let runs = crate::support::stdout(&run(&["eval", "runs"]));
    assert!(runs.contains("prev-run"), "{runs}");
    let policy = repo_root().join("policies/gbt45654.toml");
    let assessed = json(&run(&[
        "gate",
        "assess",
        "--model",
        "m",
        "--checkpoint",
        "c1",
        "--policy",
        policy.to_str().unwrap(),
        "--json",
    ]));
    let evidence: Vec<&Value> = assessed["evidence"].as_array().unwrap().iter().collect();
    assert_eq!(
        evidence.len(),
        1,
        "the old run still counts: its ledger entry vouches for it: {assessed}"
    );
    assert_eq!(evidence[0]["run"], "prev-run");
    // New writes land on the old tree, and the home now keeps its signed checkpoint.
    run(&[
        "ledger",
        "append",
        "--kind",
        "note.upgrade",
        "--subject",
        "home",
    ]);
    run(&["ledger", "checkpoint"]);
    assert!(home.path().join("ledger.checkpoint").exists());
    let verified = json(&run(&["ledger", "verify", "--json"]));
    assert_eq!(verified["ok"], true, "{verified}");
}

#[test]
fn issue_10_a_sqlite_home_of_the_previous_release_upgrades_in_place() {
    let home = fixture_home("home-0.1.0");
    check_upgraded(&home, None, 5, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_10_a_postgres_home_of_the_previous_release_upgrades_in_place() {
    let db = fresh_database(Backend::Postgres)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let dump = repo_root().join("tests/fixtures/home-0.1.0-postgres/dump.sql");
    let loaded = std::process::Command::new("psql")
        .args([
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &db.url,
            "-f",
            dump.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    let home = fixture_home("home-0.1.0-postgres");
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || check_upgraded(&home, Some(&url), 3, 1))
        .await
        .unwrap();
}
