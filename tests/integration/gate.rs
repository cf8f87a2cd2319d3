//! `warden gate` without a model: policy lint over the shipped and broken policies, and the
//! rules on proposals that need no evidence.

use crate::support::{TestHome, repo_root, stderr, stdout};

#[test]
fn shipped_policies_lint_clean_and_broken_ones_name_file_and_line() {
    let home = TestHome::empty();
    for name in ["asl-style.toml", "preparedness-style.toml", "gbt45654.toml"] {
        let path = repo_root().join("policies").join(name);
        let out = home.run(&["gate", "lint", path.to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert!(stdout(&out).contains(": ok"), "{}", stdout(&out));
    }
    let shipped = std::fs::read_to_string(repo_root().join("policies/gbt45654.toml")).unwrap();
    let broken = home.dir.path().join("broken.toml");
    let typo = shipped.replacen(
        "compliance:should_refuse_refusal",
        "compliance:should_refuse_refusl",
        1,
    );
    let line = typo
        .lines()
        .position(|l| l.contains("should_refuse_refusl"))
        .unwrap()
        + 1;
    std::fs::write(&broken, typo).unwrap();
    let out = home.run(&["gate", "lint", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert!(
        message.contains(&format!("broken.toml:{line}:")),
        "names the line {line}: {message}"
    );
    assert!(message.contains("should_refuse_refusl"), "{message}");

    // The same policy is refused by assess with the same diagnostics.
    let home = TestHome::init();
    let out = home.run(&[
        "gate",
        "assess",
        "--model",
        "m",
        "--checkpoint",
        "c",
        "--policy",
        broken.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(&format!("broken.toml:{line}:")));
}

#[test]
fn no_evidence_is_never_below_and_proceed_needs_a_permitting_assessment() {
    let home = TestHome::init();
    let policy = repo_root().join("policies/gbt45654.toml");
    let policy = policy.to_str().unwrap();
    let out = home.run(&[
        "gate",
        "assess",
        "--model",
        "m",
        "--checkpoint",
        "c",
        "--policy",
        policy,
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = crate::support::json(&out);
    let thresholds = report["thresholds"].as_array().unwrap();
    assert!(!thresholds.is_empty());
    assert!(
        thresholds
            .iter()
            .all(|t| t["determination"] == "cannot_rule_out"),
        "{report}"
    );
    // (stage, action, what the refusal says): no permitting assessment; conditions without a
    // reason; an unknown stage (the message lists the real ones).
    for (stage, action, says) in [
        ("api-deployment", "proceed", "halts api-deployment"),
        ("api-deployment", "proceed-with-conditions", "--reason"),
        ("launch", "proceed", "api-deployment"),
    ] {
        let out = home.run(&[
            "gate", "propose", "--model", "m", "--stage", stage, "--action", action, "--policy",
            policy,
        ]);
        assert_eq!(out.status.code(), Some(2), "{stage} {action}");
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
    }
}

#[test]
fn reassessment_triggers_are_due_when_nothing_is_known() {
    let home = TestHome::init();
    let policy = repo_root().join("policies/asl-style.toml");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "gate",
            "assess",
            "--model",
            "m",
            "--checkpoint",
            "c",
            "--policy",
            policy.to_str().unwrap(),
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = home.run(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        crate::support::json(&out)
    };
    let unknown = run(&[]);
    let triggers = unknown["triggers"].as_array().unwrap();
    assert_eq!(triggers.len(), 2);
    assert!(triggers.iter().all(|t| t["due"] == true), "{unknown}");
    let small_step = run(&["--compute-ratio", "1.5"]);
    let compute = small_step["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "effective-compute-ratio")
        .unwrap()
        .clone();
    assert_eq!(compute["due"], false, "{compute}");
}

/// A pause reaches every configured webhook as a JSON POST. The receiver is a bare loopback
/// socket standing in for the regulator's endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pauses_are_posted_to_configured_webhooks() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        // Read until the JSON body has arrived (it ends with a closing brace).
        while !request.ends_with(b"}") {
            let n = socket.read(&mut buffer).await.unwrap();
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buffer[..n]);
        }
        socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        String::from_utf8(request).unwrap()
    });
    let home = TestHome::init();
    let config = home.path().join("warden.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "notify_webhooks = []",
        &format!("notify_webhooks = [\"{url}\"]"),
    );
    std::fs::write(&config, text).unwrap();
    let out = home.run(&["gate", "pause", "--model", "m", "--reason", "incident 7"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let request = received.await.unwrap();
    assert!(request.starts_with("POST /hook"), "{request}");
    assert!(request.contains("\"event\":\"pause\""), "{request}");
    assert!(request.contains("incident 7"), "{request}");
}

/// Over the API a sign-off is made by the calling key, for a role that key holds, with the
/// statement signed by the key's person's own signing key; distinct people are distinct persons
/// (not keys), and the last sign-off flips the gate's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_signoffs_are_bound_to_the_calling_key_and_its_roles() {
    let home = TestHome::init();
    let policy = repo_root().join("policies/gbt45654.toml");
    let proposal = crate::support::json(&home.run(&[
        "gate",
        "propose",
        "--model",
        "m",
        "--stage",
        "internal-use",
        "--action",
        "proceed-with-conditions",
        "--reason",
        "internal red-team use only",
        "--policy",
        policy.to_str().unwrap(),
        "--json",
    ]));
    let id = proposal["id"].as_str().unwrap().to_owned();
    let (alice, alice_key) = home.person("alice", &["safety-officer", "reviewer"]);
    let (bob, bob_key) = home.person("bob", &["reviewer"]);
    // A second key of Alice's, under another spelling of her name: still one person.
    let mut command = home.command();
    command.args([
        "keys",
        "create",
        "--name",
        "alice-laptop",
        "--person",
        "ALICE",
        "--role",
        "reviewer",
    ]);
    let alice_laptop = stdout(&command.output().unwrap()).trim().to_owned();
    let note = |key: &std::path::Path, role: &str| {
        let out = home.run(&[
            "gate",
            "sign",
            &id,
            "--role",
            role,
            "--signing-key",
            key.to_str().unwrap(),
            "--print-note",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let mut serve = home.command();
    serve.args(["serve", "--addr", "127.0.0.1:0"]);
    let server = crate::support::ServerProcess::start(serve);
    let client = reqwest::Client::new();
    let sign = |secret: &str, role: &str, note: String| {
        client
            .post(format!("{}/v1/gate/proposals/{id}/signoffs", server.base))
            .bearer_auth(secret)
            .json(&serde_json::json!({"role": role, "note": note}))
            .send()
    };
    let allowed = || async {
        client
            .get(format!("{}/v1/gate/m/internal-use", server.base))
            .bearer_auth(&bob)
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()["allowed"]
            .clone()
    };
    // The statement route gives exactly what the CLI signs.
    let statement: serde_json::Value = client
        .get(format!(
            "{}/v1/gate/proposals/{id}/statement?role=safety-officer",
            server.base
        ))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let alice_note = note(&alice_key, "safety-officer");
    assert!(
        alice_note.starts_with(statement["statement"].as_str().unwrap()),
        "{statement}"
    );

    let wrong_role = sign(&bob, "safety-officer", note(&bob_key, "reviewer"))
        .await
        .unwrap();
    assert_eq!(wrong_role.status(), 409);
    assert!(
        wrong_role
            .text()
            .await
            .unwrap()
            .contains("does not hold the role")
    );
    // Bob's key with Alice's signed note: the server writes Bob as the signer, so it fails.
    let borrowed = sign(&bob, "reviewer", note(&alice_key, "reviewer"))
        .await
        .unwrap();
    assert_eq!(borrowed.status(), 409);
    let first = sign(&alice, "safety-officer", alice_note).await.unwrap();
    assert_eq!(first.status(), 200);
    let first: serde_json::Value = first.json().await.unwrap();
    assert_eq!(first["remaining_roles"], serde_json::json!(["reviewer"]));
    // Alice holds the reviewer role too (on both keys), but one person cannot fill both.
    let twice = sign(&alice_laptop, "reviewer", String::new())
        .await
        .unwrap();
    assert_eq!(twice.status(), 409);
    assert!(twice.text().await.unwrap().contains("different person"));
    assert_eq!(allowed().await, false);
    let last: serde_json::Value = sign(&bob, "reviewer", note(&bob_key, "reviewer"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(last["decision_index"].is_u64(), "{last}");
    assert_eq!(allowed().await, true);
    server.terminate();
    assert!(home.run(&["ledger", "verify"]).status.success());
}
