//! `warden serve` as a user starts it: a real process on a loopback port, stopped by SIGTERM.

use serde_json::{Value, json};
use warden_store::testing::{Backend, fresh_database};

use crate::support::{ServerProcess, TestHome, json, stderr, stdout};

fn start(home: &TestHome, database_url: Option<&str>) -> ServerProcess {
    let mut command = home.command();
    if let Some(url) = database_url {
        command.env("WARDEN_DATABASE_URL", url);
    }
    command.args(["serve", "--addr", "127.0.0.1:0"]);
    ServerProcess::start(command)
}

async fn scenario(home: &TestHome, database_url: Option<&str>) {
    let mut command = home.command();
    if let Some(url) = database_url {
        command.env("WARDEN_DATABASE_URL", url);
    }
    let out = command
        .args(["keys", "create", "--name", "ops", "--role", "admin"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let secret = stdout(&out).trim().to_owned();
    let server = start(home, database_url);
    let client = reqwest::Client::new();
    let health: Value = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    for n in 0..3 {
        let response = client
            .post(format!("{}/v1/ledger/entries", server.base))
            .bearer_auth(&secret)
            .json(&json!({"kind": "incident.opened", "subject": format!("inc-{n}"), "payload": {"severity": "low"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let anonymous = client
        .get(format!("{}/v1/ledger/entries", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(
        server.terminate().success(),
        "SIGTERM must shut down cleanly with exit 0"
    );

    let mut command = home.command();
    if let Some(url) = database_url {
        command.env("WARDEN_DATABASE_URL", url);
    }
    let out = command
        .args(["ledger", "verify", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["size"], 4, "one key grant and three API appends");
}

#[tokio::test]
async fn serve_on_the_embedded_database_then_verify_from_the_cli() {
    let home = TestHome::init();
    scenario(&home, None).await;
}

#[tokio::test]
async fn serve_on_postgres_chosen_by_url() {
    let db = fresh_database(Backend::Postgres)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let home = TestHome::empty();
    let out = home
        .command()
        .args(["init", "--json"])
        .env("WARDEN_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert_eq!(json(&out)["database"], "postgres", "{}", stderr(&out));
    scenario(&home, Some(&db.url)).await;
    assert!(
        !home.path().join("warden.db").exists(),
        "no SQLite file when PostgreSQL is configured"
    );
}
