//! Issue 10: papercuts a new user met, one regression test each (named `issue_10_…`).

use std::io::Read as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{ServerProcess, TestHome, json, repo_root, stderr, stdout};

/// A home holding `count` entries of kinds `note.a`, `note.b` and `other.c` in turn, subjects
/// `s0` … `s4` in turn, appended in one batch.
fn home_with_entries(count: usize) -> TestHome {
    let home = TestHome::init();
    let kinds = ["note.a", "note.b", "other.c"];
    let lines: Vec<String> = (0..count)
        .map(|n| {
            json!({"kind": kinds[n % 3], "subject": format!("s{}", n % 5), "payload": {"n": n}})
                .to_string()
        })
        .collect();
    let file = home.dir.path().join("many.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = home.run(&["ledger", "append", "--jsonl", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    home
}

#[test]
fn issue_10_a_closed_stdout_ends_quietly() {
    let home = home_with_entries(3000);
    let mut child = home
        .command()
        .args(["ledger", "log", "--limit", "5000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Like `| head -c 100`: read a little, then close the pipe while warden still writes.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 100];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let mut errors = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut errors)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!errors.contains("panicked"), "{errors}");
    assert_eq!(status.code(), Some(0), "{errors}");
}

#[test]
fn issue_10_ledger_log_honours_its_limit_and_filters() {
    let home = home_with_entries(2400);
    let all = json(&home.run(&["ledger", "log", "--limit", "5000", "--json"]));
    assert_eq!(
        all.as_array().unwrap().len(),
        2400,
        "every entry, past one page"
    );
    let some = json(&home.run(&["ledger", "log", "--limit", "1500", "--json"]));
    assert_eq!(some.as_array().unwrap().len(), 1500);
    let notes = json(&home.run(&[
        "ledger", "log", "--limit", "5000", "--kind", "note.", "--json",
    ]));
    let notes = notes.as_array().unwrap();
    assert_eq!(notes.len(), 1600);
    assert!(
        notes
            .iter()
            .all(|e| e["kind"].as_str().unwrap().starts_with("note."))
    );
    let one = json(&home.run(&[
        "ledger",
        "log",
        "--limit",
        "5000",
        "--kind",
        "note.b",
        "--subject",
        "s3",
        "--json",
    ]));
    let one = one.as_array().unwrap();
    assert_eq!(
        one.len(),
        160,
        "n ≡ 1 mod 3 and n ≡ 3 mod 5: one in fifteen"
    );
    assert!(
        one.iter()
            .all(|e| e["kind"] == "note.b" && e["subject"] == "s3")
    );
    let none = json(&home.run(&["ledger", "log", "--kind", "note", "--json"]));
    assert_eq!(none, json!([]), "an exact kind is not a prefix");
    let far = home.run(&["ledger", "log", "--start", "18446744073709551615", "--json"]);
    assert_eq!(far.status.code(), Some(0), "{}", stderr(&far));
    assert_eq!(json(&far), json!([]));
}

#[test]
fn issue_10_duplicate_payload_keys_are_refused() {
    let home = TestHome::init();
    let out = home.run(&[
        "ledger",
        "append",
        "--kind",
        "note.incident",
        "--subject",
        "inc-1",
        "--payload",
        r#"{"severity":"low","detail":{"who":"a","who":"b"}}"#,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(r#"duplicate key "who" in the object at /detail"#),
        "{}",
        stderr(&out)
    );
    let file = home.dir.path().join("dup.jsonl");
    std::fs::write(
        &file,
        "{\"kind\":\"note.a\",\"subject\":\"s\"}\n{\"kind\":\"note.a\",\"subject\":\"s\",\"payload\":{\"n\":1,\"n\":2}}\n",
    )
    .unwrap();
    let out = home.run(&["ledger", "append", "--jsonl", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("dup.jsonl line 2")
            && stderr(&out).contains("duplicate key \"n\" in the object at /payload"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        json(&home.run(&["ledger", "verify", "--json"]))["size"],
        0,
        "nothing was written"
    );
}

#[test]
fn issue_10_missing_input_files_are_named_and_exit_2() {
    let home = TestHome::init();
    let dir = home.dir.path();
    let missing = dir.join("missing-input.png");
    let missing = missing.to_str().unwrap();
    let text = dir.join("in.txt");
    std::fs::write(&text, "generated").unwrap();
    let text = text.to_str().unwrap();
    let nowhere = dir.join("no-such-folder").join("out.txt");
    let nowhere = nowhere.to_str().unwrap();
    let key = format!("@{}", home.path().join("ledger.pub").display());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["label", "read", missing], "missing-input.png"),
        (vec!["label", "verify", text, missing], "missing-input.png"),
        (
            vec![
                "label",
                "embed",
                missing,
                "-o",
                "x.png",
                "--producer",
                "P",
                "--produce-id",
                "i",
            ],
            "missing-input.png",
        ),
        (
            vec![
                "label",
                "propagate",
                missing,
                "--in-place",
                "--propagator",
                "P",
                "--propagate-id",
                "i",
            ],
            "missing-input.png",
        ),
        (
            vec![
                "label",
                "embed",
                text,
                "-o",
                nowhere,
                "--producer",
                "P",
                "--produce-id",
                "i",
            ],
            "no-such-folder",
        ),
        (vec!["eval", "suites", missing], "missing-input.png"),
        (vec!["gate", "lint", missing], "missing-input.png"),
        (
            vec!["ledger", "verify-proof", "--key", &key, "--proof", missing],
            "missing-input.png",
        ),
        (
            vec!["ledger", "append", "--jsonl", missing],
            "missing-input.png",
        ),
    ];
    for (args, named) in cases {
        let out = home
            .command()
            .current_dir(dir)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(named), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn issue_10_run_ids_that_could_escape_the_journal_folder_are_refused() {
    let home = TestHome::init();
    for flag in ["--run-id", "--resume"] {
        let mut args = vec![
            "eval",
            "run",
            "--target",
            "http://127.0.0.1:9/v1",
            "--model",
            "m",
        ];
        if flag == "--run-id" {
            args.extend(["--suite", "xstest"]);
        }
        args.extend([flag, "../../etc/x"]);
        let out = home.run(&args);
        assert_eq!(out.status.code(), Some(2), "{flag}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("run id `../../etc/x` is not a valid id"),
            "{flag}: {}",
            stderr(&out)
        );
    }
    assert!(!home.path().join("eval-journal").exists());
}

/// With no `--gguf`, the model `[model] gguf` names is the one loaded (here a missing file, so
/// the error shows which one was tried).
#[test]
fn issue_10_model_commands_use_the_configured_gguf() {
    let home = TestHome::init();
    let config_path = home.path().join("warden.toml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    let configured = config.replacen(
        "[model]\n",
        "[model]\ngguf = \"/nonexistent/configured.gguf\"\n",
        1,
    );
    assert_ne!(configured, config);
    std::fs::write(&config_path, configured).unwrap();
    for args in [
        &["model", "generate", "--prompt", "hi"][..],
        &[
            "eval", "run", "--suite", "xstest", "--target", "local", "--limit", "1",
        ][..],
    ] {
        let out = home.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("/nonexistent/configured.gguf"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let explicit = home.run(&[
        "model",
        "generate",
        "--prompt",
        "hi",
        "--gguf",
        "/elsewhere.gguf",
    ]);
    assert!(
        stderr(&explicit).contains("/elsewhere.gguf"),
        "{}",
        stderr(&explicit)
    );
}

#[test]
fn issue_10_logs_written_to_a_file_have_no_colour_codes() {
    let home = TestHome::init();
    let log = home.dir.path().join("serve.log");
    let mut child = home
        .command()
        .env("WARDEN_LOG", "debug")
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let base = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(url) = text.split_whitespace().find(|w| w.starts_with("http://")) {
            break url.to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no address: {text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let status = http_get_ok(&format!("{base}/healthz"));
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    assert!(status, "the server answered");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("DEBUG"), "the request was logged: {text}");
    assert!(
        !text.contains('\u{1b}'),
        "ANSI escape codes in a log file: {text}"
    );
}

/// A GET over a plain TCP socket (these tests have no blocking HTTP client): true on a 200.
fn http_get_ok(url: &str) -> bool {
    use std::io::Write as _;
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

fn gguf() -> std::path::PathBuf {
    let path = repo_root().join(".models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.exists(),
        "the test model is missing: run scripts/fetch-model.sh (scripts/test does)"
    );
    path
}

/// Start a long streamed generation, wait for its first chunk, send SIGTERM: the server must be
/// gone within seconds, not after the generation.
async fn stops_mid_generation(server: ServerProcess, key: Option<&str>) {
    let client = reqwest::Client::new();
    let mut request = client
        .post(format!("{}/v1/chat/completions", server.base))
        .json(&json!({
            "messages": [{"role": "user", "content": "Write a very long story about a lighthouse keeper."}],
            "max_tokens": 1900,
            "stream": true,
        }));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let mut response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.chunk().await.unwrap().unwrap();
    let started = Instant::now();
    let status = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(waited < Duration::from_secs(4), "SIGTERM waited {waited:?}");
    drop(response);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_10_sigterm_cancels_a_running_generation() {
    let mut command = std::process::Command::new(crate::support::warden_bin());
    command
        .args(["model", "serve", "--addr", "127.0.0.1:0", "--gguf"])
        .arg(gguf());
    stops_mid_generation(ServerProcess::start(command), None).await;

    let home = TestHome::init();
    let config_path = home.path().join("warden.toml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    let configured = config.replacen("[model]\n", &format!("[model]\ngguf = {:?}\n", gguf()), 1);
    std::fs::write(&config_path, configured).unwrap();
    let out = home.run(&["keys", "create", "--name", "app", "--role", "user"]);
    let key = stdout(&out).trim().to_owned();
    let mut command = home.command();
    command.args(["serve", "--addr", "127.0.0.1:0"]);
    stops_mid_generation(ServerProcess::start(command), Some(&key)).await;
}
