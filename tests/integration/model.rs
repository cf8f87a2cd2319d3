//! `warden model`: the local runtime as a user runs it, served over loopback and called by the
//! official `openai` Python client (installed from PyPI into a venv under target/).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{ServerProcess, TestHome, json, repo_root, stderr, warden_bin};

fn gguf() -> PathBuf {
    let path = repo_root().join(".models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.exists(),
        "the test model is missing: run scripts/fetch-model.sh (scripts/test does)"
    );
    path
}

/// `warden model serve` on the test model.
fn start_model_server() -> ServerProcess {
    let mut command = Command::new(warden_bin());
    command.args([
        "model",
        "serve",
        "--gguf",
        gguf().to_str().unwrap(),
        "--addr",
        "127.0.0.1:0",
        "--threads",
        "2",
    ]);
    ServerProcess::start(command)
}

fn chat(content: &str, extra: Value) -> Value {
    let mut body = json!({"messages": [{"role": "user", "content": content}], "temperature": 0, "max_tokens": 16});
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

/// The official client, both modes. Creates target/openai-venv on first use.
#[test]
fn the_openai_python_client_works_in_both_modes() {
    let venv = repo_root().join("target/openai-venv");
    let python = venv.join("bin/python");
    if Command::new(&python)
        .args(["-c", "import openai"])
        .output()
        .map_or(true, |o| !o.status.success())
    {
        let created = Command::new("python3")
            .args(["-m", "venv", venv.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(created.success(), "python3 -m venv failed");
        let installed = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "openai"])
            .status()
            .unwrap();
        assert!(
            installed.success(),
            "pip install openai failed (PyPI must be reachable)"
        );
    }
    let server = start_model_server();
    let script = r#"
import json, sys
from openai import OpenAI
client = OpenAI(base_url=sys.argv[1] + "/v1", api_key="unused")
model = client.models.list().data[0].id
reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Say hello."}], max_tokens=12, temperature=0)
chunks = list(client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Say hello."}], max_tokens=12, temperature=0, stream=True, stream_options={"include_usage": True}))
streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
print(json.dumps({"model": model, "text": reply.choices[0].message.content, "finish": reply.choices[0].finish_reason,
                  "usage": reply.usage.total_tokens, "streamed": streamed,
                  "stream_finish": [c.choices[0].finish_reason for c in chunks if c.choices][-1],
                  "stream_usage": chunks[-1].usage.completion_tokens}))
"#;
    let out = Command::new(&python)
        .args(["-c", script, &server.base])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = json(&out);
    assert_eq!(result["model"], "SmolLM2-135M-Instruct.Q4_1");
    assert!(!result["text"].as_str().unwrap().is_empty());
    assert_eq!(
        result["text"], result["streamed"],
        "greedy: streaming and non-streaming agree"
    );
    assert!(matches!(result["finish"].as_str(), Some("stop" | "length")));
    assert_eq!(result["finish"], result["stream_finish"]);
    assert!(
        result["usage"].as_u64().unwrap() > 12 && result["stream_usage"].as_u64().unwrap() <= 12
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_400s_and_the_server_keeps_serving() {
    let server = start_model_server();
    let client = reqwest::Client::new();
    let url = format!("{}/v1/chat/completions", server.base);
    let cases = [
        (chat("hi", json!({"temperature": -1})), 400, "temperature"),
        (chat("hi", json!({"top_p": 0})), 400, "top_p"),
        (chat("hi", json!({"max_tokens": 0})), 400, "max_tokens"),
        (chat("hi", json!({"n": 3})), 400, "n must be 1"),
        (chat(&"word ".repeat(3000), json!({})), 400, "context holds"),
        (
            chat("hi", json!({"model": "gpt-9"})),
            404,
            "not served here",
        ),
        (json!({"messages": []}), 400, "at least one message"),
        (json!({"messages": "nope"}), 422, "messages"),
    ];
    for (body, status, message) in cases {
        let response = client.post(&url).json(&body).send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains(message),
            "{error}"
        );
    }
    let ok: Value = client
        .post(&url)
        .json(&chat("Say hi.", json!({})))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok["object"], "chat.completion", "{ok}");
    let models: Value = client
        .get(format!("{}/v1/models", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], "SmolLM2-135M-Instruct.Q4_1");
}

/// A client that disconnects mid-stream frees the queue: the next request does not wait for the
/// abandoned generation to run to its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnected_client_stops_its_generation() {
    let server = start_model_server();
    let client = reqwest::Client::new();
    let url = format!("{}/v1/chat/completions", server.base);
    let long = chat(
        "Write a very long story about a lighthouse keeper.",
        json!({"max_tokens": 1900, "stream": true}),
    );
    let mut response = client.post(&url).json(&long).send().await.unwrap();
    let first = response.chunk().await.unwrap().unwrap();
    assert!(
        String::from_utf8_lossy(&first).starts_with("data: "),
        "SSE framing"
    );
    drop(response);
    let started = Instant::now();
    let next: Value = client
        .post(&url)
        .json(&chat("Say hi.", json!({})))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(next["object"], "chat.completion");
    // 1900 tokens take over 10 s on this machine; a freed queue answers in about one second.
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "waited {:?}",
        started.elapsed()
    );
}

#[test]
fn bench_prints_the_contract_json_and_bad_models_exit_2() {
    let home = TestHome::empty();
    let out = home.run(&[
        "model",
        "bench",
        "--gguf",
        gguf().to_str().unwrap(),
        "--threads",
        "2",
        "--tokens",
        "16",
        "--runs",
        "1",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result = json(&out);
    assert!(
        result["prompt_tokens_per_s"].as_f64().unwrap() > 0.0
            && result["decode_tokens_per_s"].as_f64().unwrap() > 0.0
    );
    let fake = home.dir.path().join("fake.gguf");
    std::fs::write(&fake, b"not a model").unwrap();
    for (path, message) in [
        (fake.to_str().unwrap(), "not a GGUF model"),
        ("/nonexistent.gguf", "cannot open model"),
    ] {
        let out = home.run(&["model", "generate", "--gguf", path, "--prompt", "hi"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains(message), "{}", stderr(&out));
    }
}

/// `warden serve` with `[model] gguf` set serves the chat API behind API keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warden_serve_offers_the_configured_model_to_key_holders() {
    let home = TestHome::init();
    let config_path = home.path().join("warden.toml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    let configured = config.replace("[model]\n# gguf = \".models/SmolLM2-135M-Instruct.Q4_1.gguf\"  # serve a local model at /v1/chat/completions\nthreads = 0", &format!("[model]\ngguf = {:?}\nthreads = 2", gguf().to_str().unwrap()));
    assert_ne!(configured, config, "warden init writes a [model] table");
    std::fs::write(&config_path, configured).unwrap();
    let key = String::from_utf8(
        home.run(&["keys", "create", "--name", "app", "--role", "user"])
            .stdout,
    )
    .unwrap();
    let mut command = home.command();
    command.args(["serve", "--addr", "127.0.0.1:0"]);
    let server = ServerProcess::start(command);
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let url = format!("{base}/v1/chat/completions");
    let anonymous = client
        .post(&url)
        .json(&chat("hi", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let reply: Value = client
        .post(&url)
        .bearer_auth(key.trim())
        .json(&chat("Say hi.", json!({})))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["object"], "chat.completion", "{reply}");
}

/// Issue 3: `--target local` evaluates the runtime through its own OpenAI-compatible API, and
/// the run is stored, reported and entered in the ledger like any other.
#[test]
fn eval_runs_against_the_local_runtime() {
    let home = TestHome::init();
    let out = home.run(&[
        "eval",
        "run",
        "--suite",
        "xstest",
        "--target",
        "local",
        "--gguf",
        gguf().to_str().unwrap(),
        "--threads",
        "2",
        "--limit",
        "4",
        "--max-tokens",
        "96",
        "--run-id",
        "local",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(
        ["pass", "fail", "error"]
            .iter()
            .map(|k| report[k].as_u64().unwrap())
            .sum::<u64>(),
        4
    );
    assert!(
        report["run"]["target"]
            .as_str()
            .unwrap()
            .contains("SmolLM2-135M-Instruct"),
        "{report}"
    );
    // --limit 4 spreads over XSTest's categories: both safe prompts and unsafe contrasts.
    let categories = report["categories"].as_array().unwrap().len();
    assert_eq!(categories, 4, "{report}");
    assert!(report["completion_tokens"].as_u64().unwrap() > 0);
    let stored = json(&home.run(&["eval", "report", "local", "--format", "json"]));
    assert_eq!(stored, report);
}
