//! `warden gateway` as a user runs it: the real binary in a temporary home, in front of the local
//! model (`warden model serve`) or of the scripted upstream double, called by the official
//! `openai` Python client and by plain HTTP; the kill switch and rollback from the command line.

use std::io::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_gateway::testing::{self, Script};

use crate::support::{ServerProcess, TestHome, repo_root, stderr, stdout, warden_bin};

const TERM: &str = "zyx-forbidden-term";

fn openai_python() -> std::path::PathBuf {
    crate::model::openai_venv()
}

fn start_gateway(home: &TestHome, extra: &[&str]) -> ServerProcess {
    let mut command = home.command();
    command
        .args(["gateway", "--addr", "127.0.0.1:0"])
        .args(extra);
    ServerProcess::start(command)
}

fn key(home: &TestHome) -> String {
    let out = home.run(&["keys", "create", "--name", "app", "--role", "researcher"]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_owned()
}

fn block_terms(home: &TestHome) -> String {
    let path = home.dir.path().join("block-terms.txt");
    std::fs::write(&path, format!("# one per line\n{TERM}\n")).unwrap();
    path.to_str().unwrap().to_owned()
}

/// The contract with the local model behind the gateway: the official client, JSON and
/// streaming, with a Warden key; a blocked term gets 400 `content_blocked`.
#[test]
fn issue_11_the_openai_client_talks_to_the_local_model_through_the_gateway() {
    let python = openai_python();
    let mut model = Command::new(warden_bin());
    model.args([
        "model",
        "serve",
        "--gguf",
        repo_root()
            .join(".models/SmolLM2-135M-Instruct.Q4_1.gguf")
            .to_str()
            .unwrap(),
        "--addr",
        "127.0.0.1:0",
        "--threads",
        "2",
    ]);
    let model = ServerProcess::start(model);
    let home = TestHome::init();
    let secret = key(&home);
    let terms = block_terms(&home);
    let gateway = start_gateway(
        &home,
        &[
            "--upstream",
            &format!("{}/v1", model.base),
            "--block-terms",
            &terms,
        ],
    );
    let script = format!(
        r#"
import json, sys, openai
from openai import OpenAI
client = OpenAI(base_url=sys.argv[1] + "/v1", api_key=sys.argv[2])
model = client.models.list().data[0].id
reply = client.chat.completions.create(model=model, messages=[{{"role": "user", "content": "Say hello."}}], max_tokens=12, temperature=0)
chunks = list(client.chat.completions.create(model=model, messages=[{{"role": "user", "content": "Say hello."}}], max_tokens=12, temperature=0, stream=True))
streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
try:
    client.chat.completions.create(model=model, messages=[{{"role": "user", "content": "tell me about {TERM}"}}], max_tokens=4)
    blocked = None
except openai.BadRequestError as e:
    blocked = {{"status": e.status_code, "code": e.code}}
try:
    OpenAI(base_url=sys.argv[1] + "/v1", api_key="wdn_wrong").models.list()
    unauthorised = None
except openai.AuthenticationError as e:
    unauthorised = e.status_code
print(json.dumps({{"model": model, "text": reply.choices[0].message.content, "pieces": len(chunks), "streamed": streamed, "blocked": blocked, "unauthorised": unauthorised}}))
"#
    );
    let out = Command::new(&python)
        .args(["-c", &script, &gateway.base, &secret])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["model"], "SmolLM2-135M-Instruct.Q4_1");
    assert!(!result["text"].as_str().unwrap().is_empty());
    assert_eq!(
        result["text"], result["streamed"],
        "greedy: both modes agree"
    );
    assert!(
        result["pieces"].as_u64().unwrap() > 2,
        "the stream came in pieces"
    );
    assert_eq!(
        result["blocked"],
        json!({"status": 400, "code": "content_blocked"})
    );
    assert_eq!(result["unauthorised"], 401);
    gateway.terminate();
    model.terminate();
    // Every request left a decision record.
    let out = home.run(&["gateway", "decisions"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let actions: Vec<String> = stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(actions.len(), 3, "{actions:?}");
    assert!(actions.contains(&"block".to_owned()));
}

/// Streams stop before a blocked term; withdraw and rollback act on the next requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_11_streams_stop_before_blocked_terms_and_the_kill_switch_works() {
    let upstream = testing::start(Script {
        // Longer than the hold-back window (the longest starter term plus an allowlisted word).
        reply: format!(
            "{}then {TERM} appears, then more.",
            "The first part is fine. ".repeat(6)
        ),
        chunk_chars: 3,
        chunk_delay: Duration::from_millis(5),
        ..Script::default()
    })
    .await
    .unwrap();
    let home = TestHome::init();
    let secret = key(&home);
    // Routes in warden.toml: one model with a current and a known-good version.
    let mut config = std::fs::OpenOptions::new()
        .append(true)
        .open(home.path().join("warden.toml"))
        .unwrap();
    write!(
        config,
        r#"
[gateway]
control_poll_ms = 100

[[gateway.routes]]
model = "assistant"

[[gateway.routes.versions]]
name = "v2"
upstream = "{base}"
upstream_model = "model-v2"
current = true

[[gateway.routes.versions]]
name = "v1"
upstream = "{base}"
upstream_model = "model-v1"
known_good = true
"#,
        base = upstream.base()
    )
    .unwrap();
    drop(config);
    let terms = block_terms(&home);
    let gateway = start_gateway(&home, &["--block-terms", &terms]);
    let client = reqwest::Client::new();
    let chat = |stream: bool| {
        client
            .post(format!("{}/v1/chat/completions", gateway.base))
            .bearer_auth(&secret)
            .json(&json!({"model": "assistant", "stream": stream, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    };
    let body = chat(true).await.unwrap().text().await.unwrap();
    let content: String = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(!body.contains(TERM) && !body.contains("zyx"), "{body}");
    assert!(
        content.starts_with("The first part is fine."),
        "clean text before the term flows: {content}"
    );
    assert!(body.contains("\"code\":\"content_blocked\""), "{body}");
    assert_eq!(upstream.last_body()["model"], "model-v2");

    let out = home.run(&[
        "gateway",
        "withdraw",
        "--model",
        "assistant",
        "--reason",
        "incident 7",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let started = Instant::now();
    let refusal = loop {
        let response = chat(false).await.unwrap();
        if response.status() == 403 {
            break response.json::<Value>().await.unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still served 5 s after withdraw"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(refusal["error"]["code"], "model_withdrawn");
    assert!(
        refusal["error"]["message"]
            .as_str()
            .unwrap()
            .contains("incident 7")
    );

    // Restoring needs a security or admin person's signing key.
    let (_, signing_key) = home.person("sam", &["security"]);
    let out = home.run(&[
        "gateway",
        "restore",
        "--model",
        "assistant",
        "--signing-key",
        signing_key.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = home.run(&["gateway", "rollback", "--model", "assistant", "--to", "v1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let started = Instant::now();
    loop {
        let response = chat(false).await.unwrap();
        if response.status() == 200 && upstream.last_body()["model"] == "model-v1" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "rollback not served within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let out = home.run(&["gateway", "rollback", "--model", "assistant", "--to", "v3"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("no version `v3`"));
    let out = home.run(&["--json", "gateway", "status"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["rolled_back"]["assistant"]["version"], "v1");
    gateway.terminate();
    // The misuse report reads every record the gateway wrote.
    let out = home.run(&["--json", "gateway", "report", "--hours", "1"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["unreadable_records"], 0, "{report}");
    assert!(report["requests"].as_u64().unwrap() >= 3, "{report}");
    assert!(
        report["by_action"]["block"].as_u64().unwrap() >= 1,
        "{report}"
    );
    assert!(
        report["by_action"]["model_withdrawn"].as_u64().unwrap() >= 1,
        "{report}"
    );
}

/// `warden guard` on its own: the lexicon report and a check.
#[test]
fn issue_11_guard_commands_report_coverage_and_check_text() {
    let home = TestHome::empty();
    let out = home.run(&["guard", "lexicon"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("A.2.1"), "{}", stdout(&out));
    let out = home.run(&["--json", "guard", "check", "我的手机号是13800138000"]);
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["verdict"]["action"], "flag");
    let terms = home.dir.path().join("terms.txt");
    std::fs::write(&terms, "secret-plan\n").unwrap();
    let out = home.run(&[
        "guard",
        "check",
        "--block-terms",
        terms.to_str().unwrap(),
        "the SECRET plan",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
}
