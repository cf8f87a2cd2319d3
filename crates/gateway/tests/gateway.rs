//! The gateway over real loopback sockets, against the scripted upstream double, on SQLite and
//! on PostgreSQL: filters, streaming without leaks, withdrawal, rollback, restore, the gate,
//! bad input and upstream faults, and the decision log.

// Test code: a failed unwrap is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::{Value, json};
use warden_core::Role;
use warden_gateway::abuse::TierConfig;
use warden_gateway::config::{GatewayConfig, RouteConfig, VersionConfig};
use warden_gateway::store::DecisionStore;
use warden_gateway::testing::{self, Fault, Script, Scripted};
use warden_gateway::{Options, service};
use warden_guard::{Action, Guard, LexiconBuilder, Policy, Tier};
use warden_ledger::Ledger;
use warden_ledger::access;
use warden_ledger::note::NoteSigner;
use warden_store::testing::{Backend, TestDatabase, fresh_database};

const ORIGIN: &str = "warden.test/gateway";
const BLOCKED: &str = "forbidden-phrase";

struct Gateway {
    base: String,
    key: String,
    ledger: Ledger,
    decisions: Arc<dyn DecisionStore>,
    client: Client,
    _db: Arc<TestDatabase>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

impl Gateway {
    /// Stop the gateway and wait until its decision records are stored; the database lives as
    /// long as the returned handle.
    async fn stop(mut self) -> Stopped {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            done.await.unwrap();
        }
        Stopped {
            decisions: Arc::clone(&self.decisions),
            _db: Arc::clone(&self._db),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn chat(&self, body: Value) -> reqwest::Response {
        self.client
            .post(self.url("/v1/chat/completions"))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

struct Stopped {
    decisions: Arc<dyn DecisionStore>,
    _db: Arc<TestDatabase>,
}

impl std::ops::Deref for Stopped {
    type Target = dyn DecisionStore;
    fn deref(&self) -> &Self::Target {
        self.decisions.as_ref()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
    }
}

fn guard() -> Guard {
    let lexicon = LexiconBuilder::new()
        .terms(
            "block-terms",
            BLOCKED,
            Tier::Block,
            &["A.1.8".parse().unwrap()],
        )
        .unwrap()
        .build("test")
        .unwrap();
    let mut policy = Policy::default();
    policy.tighten(["pii.cn_mobile"], Action::Redact);
    Guard::new(lexicon, policy)
}

fn version(name: &str, upstream: &str, gate: Option<&str>, current: bool) -> VersionConfig {
    VersionConfig {
        name: name.into(),
        upstream: upstream.into(),
        upstream_model: Some(format!("upstream-{name}")),
        api_key_env: None,
        gate_model: gate.map(str::to_owned),
        current,
        known_good: !current,
    }
}

fn routes(upstream: &Scripted) -> BTreeMap<String, RouteConfig> {
    let base = upstream.base();
    let chat = RouteConfig {
        model: "chat".into(),
        system_prompt: Some("Be careful.".into()),
        text_mark: None,
        versions: vec![
            version("v2", &base, None, true),
            version("v1", &base, None, false),
        ],
    };
    let gated = RouteConfig {
        model: "gated".into(),
        system_prompt: None,
        text_mark: None,
        versions: vec![version("g1", &base, Some("acme-model"), true)],
    };
    [("chat".to_owned(), chat), ("gated".to_owned(), gated)]
        .into_iter()
        .collect()
}

async fn ledger_on(db: &TestDatabase) -> Ledger {
    let signer = NoteSigner::generate(ORIGIN).unwrap();
    let connected = db
        .connect(&[
            &warden_ledger::store::MIGRATIONS,
            &warden_gateway::store::MIGRATIONS,
        ])
        .await
        .unwrap();
    Ledger::new(
        warden_ledger::store::open(&connected),
        signer,
        ORIGIN.into(),
    )
}

async fn start_on(
    db: Arc<TestDatabase>,
    ledger: Ledger,
    upstream: &Scripted,
    config: GatewayConfig,
) -> Gateway {
    let connected = db
        .connect(&[
            &warden_ledger::store::MIGRATIONS,
            &warden_gateway::store::MIGRATIONS,
        ])
        .await
        .unwrap();
    let decisions = warden_gateway::store::open(&connected);
    let (minted, _) = access::create_key(&ledger, "app", None, &[Role::Researcher], "local:test")
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = Options {
        config,
        routes: routes(upstream),
        guard: guard(),
        user_key: Some(b"test pseudonym key".to_vec()),
    };
    let done = tokio::spawn({
        let ledger = ledger.clone();
        let decisions = Arc::clone(&decisions);
        async move {
            warden_gateway::serve(listener, ledger, decisions, options, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        }
    });
    Gateway {
        base,
        key: minted.secret,
        ledger,
        decisions,
        client: Client::new(),
        _db: db,
        shutdown: Some(shutdown),
        done: Some(done),
    }
}

fn fast_config() -> GatewayConfig {
    GatewayConfig {
        control_poll_ms: 50,
        upstream_timeout_s: 2,
        max_body_bytes: 64 * 1024,
        ..GatewayConfig::default()
    }
}

async fn start(backend: Backend, script: Script) -> (Gateway, Scripted) {
    let db = Arc::new(fresh_database(backend).await.unwrap());
    let ledger = ledger_on(&db).await;
    let upstream = testing::start(script).await.unwrap();
    let gateway = start_on(db, ledger, &upstream, fast_config()).await;
    (gateway, upstream)
}

fn ask(model: &str, text: &str, stream: bool) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}], "stream": stream, "user": "alice@example.com"})
}

/// Read a streamed answer: the content deltas, error frames, and whether `[DONE]` came.
async fn read_stream(response: reqwest::Response) -> (String, Vec<Value>, bool) {
    let text = response.text().await.unwrap();
    let mut content = String::new();
    let mut errors = Vec::new();
    let mut done = false;
    for line in text.lines() {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        if data == "[DONE]" {
            done = true;
            continue;
        }
        let value: Value = serde_json::from_str(data).unwrap();
        if value.get("error").is_some() {
            errors.push(value);
        } else if let Some(piece) = value["choices"][0]["delta"]["content"].as_str() {
            content.push_str(piece);
        }
    }
    (content, errors, done)
}

async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what} did not happen within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

async fn issue_11_blocked_terms_never_reach_the_upstream_or_the_client(backend: Backend) {
    let reply = format!("Here is the answer: {BLOCKED} and more text after it.");
    let (gateway, upstream) = start(
        backend,
        Script {
            reply,
            chunk_chars: 3,
            ..Script::default()
        },
    )
    .await;
    wait_until("first ledger read", async || {
        gateway.chat(ask("chat", "hi", false)).await.status() == 200
    })
    .await;
    let before = upstream.requests();

    let response = gateway
        .chat(ask("chat", &format!("please say {BLOCKED}"), false))
        .await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "content_blocked");
    assert_eq!(
        upstream.requests(),
        before,
        "the upstream saw a blocked request"
    );

    // Streamed: stopped with an in-band error before the term.
    let (content, errors, done) = read_stream(gateway.chat(ask("chat", "go on", true)).await).await;
    assert!(!content.contains("forbidden"), "leaked: {content:?}");
    // Text before the term flows (up to the hold-back window), then the refusal.
    assert!(content.starts_with("Here is the"), "{content:?}");
    assert!(
        content.ends_with(warden_gateway::app::REFUSAL),
        "{content:?}"
    );
    assert_eq!(errors.len(), 1, "one in-band error frame");
    assert_eq!(errors[0]["error"]["code"], "content_blocked");
    assert!(!done);

    // Non-streamed: the answer is replaced by the refusal.
    let answer: Value = gateway
        .chat(ask("chat", "go on", false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["choices"][0]["finish_reason"], "content_filter");
    assert!(!answer.to_string().contains(BLOCKED));

    // What the upstream got: the route's safety prompt first, its own model name, a pseudonym.
    let forwarded = upstream.last_body();
    assert_eq!(forwarded["messages"][0]["content"], "Be careful.");
    assert_eq!(forwarded["model"], "upstream-v2");
    assert_ne!(forwarded["user"], "alice@example.com");
    assert_eq!(forwarded["user"].as_str().unwrap().len(), 64);

    let decisions = gateway.stop().await;
    let rows = decisions.decisions("", 100).await.unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    // The first "hi" (its answer holds the term too), the request, the stream, the JSON answer.
    assert_eq!(actions, ["block"; 4], "{actions:?}");
    assert!(
        rows.iter().all(|r| !r.record.contains("alice")),
        "a raw user id was stored"
    );
}

async fn issue_11_clean_streams_flow_and_split_numbers_are_redacted(backend: Backend) {
    let reply = "Call 138 0013 8000 today. ".to_owned() + &"All is well. ".repeat(20);
    let (gateway, _upstream) = start(
        backend,
        Script {
            reply,
            chunk_chars: 5,
            chunk_delay: Duration::from_millis(20),
            ..Script::default()
        },
    )
    .await;
    wait_until("first ledger read", async || {
        gateway.chat(ask("chat", "hi", false)).await.status() == 200
    })
    .await;
    let started = Instant::now();
    let mut response = gateway.chat(ask("chat", "hello", true)).await;
    assert_eq!(response.headers()["x-ai-generated"], "true");
    let mut first_text_at = None;
    let mut body = String::new();
    while let Some(bytes) = response.chunk().await.unwrap() {
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        if first_text_at.is_none() && text.contains("\"content\":\"Call") {
            first_text_at = Some(started.elapsed());
        }
        body.push_str(&text);
    }
    let total = started.elapsed();
    let first = first_text_at.expect("the answer's first words arrived");
    // 60 chunks 20 ms apart: the upstream takes > 1.2 s; the first words must come long before.
    assert!(
        first < total / 2,
        "first text after {first:?} of {total:?}: the window is not bounded"
    );
    assert!(body.contains("[redacted:cn_mobile]"), "{body}");
    assert!(
        !body.contains("0013"),
        "a split phone number leaked: {body}"
    );
    assert!(body.contains("[DONE]"));
}

async fn issue_11_withdraw_rollback_restore_and_the_gate(backend: Backend) {
    let (gateway, upstream) = start(backend, Script::default()).await;
    wait_until("first ledger read", async || {
        gateway.chat(ask("chat", "hi", false)).await.status() == 200
    })
    .await;
    let ledger = gateway.ledger.clone();

    // Gated route: no gate decision yet, so it is refused (fail closed).
    let refused = gateway.chat(ask("gated", "hi", false)).await;
    assert_eq!(refused.status(), 403);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "gate_refused");

    // Withdraw: the next requests fail naming the withdrawal.
    let entry = service::withdraw(&ledger, "chat", "incident 42", "local:oncall")
        .await
        .unwrap();
    let took = wait_until("withdrawal", async || {
        gateway.chat(ask("chat", "hi", false)).await.status() == 403
    })
    .await;
    assert!(took < Duration::from_secs(2), "propagation took {took:?}");
    let error: Value = gateway
        .chat(ask("chat", "hi", false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(error["error"]["code"], "model_withdrawn");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("ledger entry {}", entry.index))
            && message.contains("incident 42"),
        "{message}"
    );
    let status: Value = gateway
        .client
        .get(gateway.url("/v1/gateway/status"))
        .bearer_auth(&gateway.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let chat = status["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "chat")
        .unwrap();
    assert_eq!(chat["state"], "model_withdrawn");
    let gated = status["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "gated")
        .unwrap();
    assert_eq!(gated["state"], "gate_refused");

    // A restore needs a person with the security or admin role and their signing key.
    let person_key = NoteSigner::generate("dana").unwrap();
    access::register_signer(&ledger, "dana", &person_key.verifier(), "local:test")
        .await
        .unwrap();
    let text = service::restore_text(&ledger, "chat", "dana")
        .await
        .unwrap();
    let note = person_key.sign(&text).unwrap();
    let refused = service::restore(&ledger, "chat", "dana", &note, "local:dana").await;
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("neither the admin nor the security role")
    );
    access::create_key(
        &ledger,
        "dana-key",
        Some("dana"),
        &[Role::Security],
        "local:test",
    )
    .await
    .unwrap();
    let other = NoteSigner::generate("mallory").unwrap();
    let forged = service::restore(
        &ledger,
        "chat",
        "dana",
        &other.sign(&text).unwrap(),
        "local:x",
    )
    .await;
    assert!(
        forged.is_err(),
        "a note signed by someone else restored the model"
    );
    service::restore(&ledger, "chat", "dana", &note, "local:dana")
        .await
        .unwrap();
    wait_until("restore", async || {
        gateway.chat(ask("chat", "hi", false)).await.status() == 200
    })
    .await;

    // Rollback to the known-good version: the upstream now gets v1's model name.
    let route = routes(&upstream).remove("chat").unwrap();
    assert!(
        service::rollback(&ledger, &route, Some("v9"), "local:x")
            .await
            .is_err()
    );
    service::rollback(&ledger, &route, Some("v1"), "local:oncall")
        .await
        .unwrap();
    wait_until("rollback", async || {
        gateway.chat(ask("chat", "hi", false)).await;
        upstream.last_body()["model"] == "upstream-v1"
    })
    .await;

    // A restore note cannot be replayed after a second withdrawal, here pulled over the API by
    // a security officer (the application's own key may not).
    let withdraw = |key: String| {
        gateway
            .client
            .post(gateway.url("/v1/gateway/withdrawals"))
            .bearer_auth(key)
            .json(&json!({"model": "chat", "reason": "again"}))
            .send()
    };
    assert_eq!(withdraw(gateway.key.clone()).await.unwrap().status(), 403);
    let (officer, _) = access::create_key(
        &ledger,
        "sec-key",
        Some("sol"),
        &[Role::Security],
        "local:test",
    )
    .await
    .unwrap();
    assert_eq!(withdraw(officer.secret).await.unwrap().status(), 201);
    let replayed = service::restore(&ledger, "chat", "dana", &note, "local:dana").await;
    assert!(
        replayed
            .unwrap_err()
            .to_string()
            .contains("not the restore statement")
    );
    gateway.stop().await;
}

async fn issue_11_bad_input_and_upstream_faults_get_openai_errors(backend: Backend) {
    let (gateway, _upstream) = start(backend, Script::default()).await;
    wait_until("first ledger read", async || {
        gateway.chat(ask("chat", "hi", false)).await.status() == 200
    })
    .await;
    let post = |body: Vec<u8>, kind: &'static str| {
        gateway
            .client
            .post(gateway.url("/v1/chat/completions"))
            .bearer_auth(&gateway.key)
            .header("content-type", kind)
            .body(body)
    };
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            post(b"{not json".to_vec(), "application/json"),
            400,
            "not valid JSON",
        ),
        (
            post(b"\xff\xfe".to_vec(), "application/json"),
            400,
            "not valid JSON",
        ),
        (post(b"{}".to_vec(), "text/plain"), 415, "application/json"),
        (
            post(vec![b' '; 100 * 1024], "application/json"),
            413,
            "max_body_bytes",
        ),
        (
            post(
                br#"{"model":"chat","messages":[]}"#.to_vec(),
                "application/json",
            ),
            400,
            "non-empty array",
        ),
        (
            post(
                br#"{"model":"nope","messages":[{"role":"user","content":"x"}]}"#.to_vec(),
                "application/json",
            ),
            404,
            "routes: chat, gated",
        ),
        (
            gateway
                .client
                .post(gateway.url("/v1/chat/completions"))
                .json(&ask("chat", "x", false)),
            401,
            "Authorization",
        ),
    ];
    for (request, status, message) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status);
        let error: Value = response.json().await.unwrap();
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains(message),
            "{error}"
        );
        assert!(error["error"]["type"].is_string());
    }
    gateway.stop().await;

    for (fault, expected) in [
        (Fault::StallAfterFirstChunk, "upstream_timeout"),
        (Fault::ResetAfterFirstChunk, "upstream_error"),
        (Fault::BrokenEvent, "upstream_error"),
    ] {
        let (gateway, _upstream) = start(
            backend,
            Script {
                reply: "one two three four five six".into(),
                chunk_chars: 4,
                fault: Some(fault),
                ..Script::default()
            },
        )
        .await;
        wait_until("first ledger read", async || {
            gateway.chat(ask("chat", "hi", false)).await.status() != 503
        })
        .await;
        let (_, errors, done) = read_stream(gateway.chat(ask("chat", "hi", true)).await).await;
        assert_eq!(errors.len(), 1, "{fault:?}");
        assert_eq!(errors[0]["error"]["code"], expected, "{fault:?}");
        assert!(!done);
        // The gateway keeps serving.
        assert_eq!(
            gateway.chat(ask("chat", "hi", false)).await.status(),
            200,
            "{fault:?}"
        );
        let decisions = gateway.stop().await;
        let rows = decisions.decisions("", 100).await.unwrap();
        assert!(
            rows.iter().any(|r| r.action == "upstream_error"),
            "{fault:?}: no decision record"
        );
    }
    let (gateway, _upstream) = start(
        backend,
        Script {
            fault: Some(Fault::ServerError),
            ..Script::default()
        },
    )
    .await;
    wait_until("first ledger read", async || {
        gateway.chat(ask("chat", "hi", false)).await.status() != 503
    })
    .await;
    let response = gateway.chat(ask("chat", "hi", false)).await;
    assert_eq!(response.status(), 502);
    gateway.stop().await;
}

async fn issue_11_gateways_sharing_a_database_obey_one_withdrawal(backend: Backend) {
    let db = Arc::new(fresh_database(backend).await.unwrap());
    let ledger = ledger_on(&db).await;
    let upstream = testing::start(Script::default()).await.unwrap();
    let mut gateways = Vec::new();
    for _ in 0..3 {
        // In-process instances sharing one database; the cross-process figure is the drill's.
        gateways.push(start_on(Arc::clone(&db), ledger.clone(), &upstream, fast_config()).await);
    }
    for gateway in &gateways {
        wait_until("first ledger read", async || {
            gateway.chat(ask("chat", "hi", false)).await.status() == 200
        })
        .await;
    }
    service::withdraw(&ledger, "chat", "drill", "local:oncall")
        .await
        .unwrap();
    for gateway in &gateways {
        let took = wait_until("withdrawal", async || {
            gateway.chat(ask("chat", "hi", false)).await.status() == 403
        })
        .await;
        assert!(took < Duration::from_secs(2), "propagation took {took:?}");
    }
}

fn ask_as(model: &str, text: &str, user: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}], "user": user})
}

async fn issue_11_abuse_escalates_users_appeal_and_tiers_limit_them(backend: Backend) {
    let db = Arc::new(fresh_database(backend).await.unwrap());
    let ledger = ledger_on(&db).await;
    let upstream = testing::start(Script::default()).await.unwrap();
    let config = GatewayConfig {
        review_every_flagged: 1,
        review_every_passed: 1,
        tiers: vec![TierConfig {
            name: "restricted".into(),
            requests_per_minute: Some(100),
            models: vec!["elsewhere".into()],
            block: Vec::new(),
            allow: Vec::new(),
        }],
        ..fast_config()
    };
    let gateway = start_on(db, ledger.clone(), &upstream, config).await;
    wait_until("first ledger read", async || {
        gateway.chat(ask("chat", "hi", false)).await.status() == 200
    })
    .await;
    let post = |path: &str, key: &str, body: Value| {
        gateway
            .client
            .post(gateway.url(path))
            .bearer_auth(key)
            .json(&body)
            .send()
    };

    // Six blocked requests: 18 points, the default ladder's `suspend` rung.
    for _ in 0..6 {
        let response = gateway
            .chat(ask_as("chat", &format!("say {BLOCKED}"), "mallory"))
            .await;
        assert_eq!(response.status(), 400);
    }
    wait_until("suspension", async || {
        gateway
            .chat(ask_as("chat", "hello", "mallory"))
            .await
            .status()
            == 403
    })
    .await;
    let error: Value = gateway
        .chat(ask_as("chat", "hello", "mallory"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(error["error"]["code"], "user_suspended");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/v1/gateway/appeals")
    );
    assert_eq!(
        gateway
            .chat(ask_as("chat", "hello", "alice"))
            .await
            .status(),
        200,
        "others are served"
    );

    // The application appeals for its user; a reviewer overturns; the user is served again.
    let filed = post(
        "/v1/gateway/appeals",
        &gateway.key,
        json!({"user": "mallory", "message": "I was quoting a news story."}),
    )
    .await
    .unwrap();
    assert_eq!(filed.status(), 201);
    let appeal = filed.json::<Value>().await.unwrap()["appeal"]
        .as_str()
        .unwrap()
        .to_owned();
    let again = post(
        "/v1/gateway/appeals",
        &gateway.key,
        json!({"user": "mallory", "message": "again"}),
    )
    .await
    .unwrap();
    assert_eq!(again.status(), 409, "one open appeal per escalation");
    let decision_path = format!("/v1/gateway/appeals/{appeal}/decision");
    let denied = post(
        &decision_path,
        &gateway.key,
        json!({"outcome": "overturned"}),
    )
    .await
    .unwrap();
    assert_eq!(
        denied.status(),
        403,
        "the application's own key cannot decide"
    );
    let (reviewer, _) = access::create_key(
        &ledger,
        "rita-key",
        Some("rita"),
        &[Role::Reviewer],
        "local:test",
    )
    .await
    .unwrap();
    let listed: Value = gateway
        .client
        .get(gateway.url("/v1/gateway/appeals"))
        .bearer_auth(&reviewer.secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["appeals"][0]["message"],
        "I was quoting a news story."
    );
    let decided = post(
        &decision_path,
        &reviewer.secret,
        json!({"outcome": "overturned"}),
    )
    .await
    .unwrap();
    assert_eq!(decided.status(), 200);
    wait_until("served after the appeal", async || {
        gateway
            .chat(ask_as("chat", "hello", "mallory"))
            .await
            .status()
            == 200
    })
    .await;

    // A tier an admin assigns: this user may not reach `chat`.
    let tess = warden_gateway::decision::pseudonym(b"test pseudonym key", "tess");
    service::set_tier(&ledger, &tess, Some("restricted"), "local:admin")
        .await
        .unwrap();
    wait_until("tier", async || {
        gateway.chat(ask_as("chat", "hello", "tess")).await.status() == 403
    })
    .await;
    let error: Value = gateway
        .chat(ask_as("chat", "hello", "tess"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(error["error"]["code"], "model_not_in_tier");

    // The review queue holds the sampled requests with their text; reviewers label them.
    let reviews: Value = gateway
        .client
        .get(gateway.url("/v1/gateway/reviews"))
        .bearer_auth(&reviewer.secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = reviews["reviews"].as_array().unwrap();
    let blocked = items
        .iter()
        .find(|r| r["stratum"] == "blocked")
        .expect("a blocked request was sampled");
    assert!(blocked["content"].to_string().contains(BLOCKED));
    assert!(items.iter().any(|r| r["stratum"] == "passed"));
    let path = format!(
        "/v1/gateway/reviews/{}",
        blocked["decision"].as_str().unwrap()
    );
    assert_eq!(
        post(&path, &reviewer.secret, json!({"label": "harmful"}))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        post(
            "/v1/gateway/reviews/nope",
            &reviewer.secret,
            json!({"label": "harmful"})
        )
        .await
        .unwrap()
        .status(),
        404
    );
    assert_eq!(
        post(&path, &reviewer.secret, json!({"label": "maybe"}))
            .await
            .unwrap()
            .status(),
        400
    );
    let stopped = gateway.stop().await;
    let labelled = stopped.reviews(false, 1000).await.unwrap();
    assert!(
        labelled
            .iter()
            .any(|r| r.label.as_deref() == Some("harmful"))
    );
    let pending = stopped.reviews(true, 1000).await.unwrap();
    assert_eq!(
        pending.len(),
        labelled.len() - 1,
        "the labelled row left the queue"
    );
    assert!(pending.iter().all(|r| r.label.is_none()));
}

warden_store::on_both_databases!(
    with,
    abuse_and_appeals,
    issue_11_abuse_escalates_users_appeal_and_tiers_limit_them
);
async fn issue_11_a_safety_model_judges_requests_and_its_failures_are_never_passes(
    backend: Backend,
) {
    let upstream = testing::start(Script::default()).await.unwrap();
    let guard_config =
        |guard: &Scripted, on_failure: &str| warden_gateway::llm_guard::LlmGuardConfig {
            upstream: guard.base(),
            model: "llama-guard".into(),
            format: "llama-guard".into(),
            api_key_env: None,
            timeout_ms: 1000,
            on_failure: on_failure.into(),
            input: true,
            output: false,
            strict: false,
        };
    let cases = [
        (
            Script {
                reply: "unsafe\nS9".into(),
                ..Script::default()
            },
            "closed",
            400,
            Some(true),
        ),
        (
            Script {
                reply: "safe".into(),
                ..Script::default()
            },
            "closed",
            200,
            Some(true),
        ),
        (
            Script {
                fault: Some(Fault::ServerError),
                ..Script::default()
            },
            "closed",
            503,
            Some(false),
        ),
        (
            Script {
                fault: Some(Fault::ServerError),
                ..Script::default()
            },
            "open",
            200,
            Some(false),
        ),
        (
            Script {
                reply: "I cannot say".into(),
                ..Script::default()
            },
            "closed",
            503,
            Some(false),
        ),
    ];
    for (script, on_failure, status, ran) in cases {
        let guard = testing::start(script.clone()).await.unwrap();
        let db = Arc::new(fresh_database(backend).await.unwrap());
        let ledger = ledger_on(&db).await;
        let config = GatewayConfig {
            llm_guard: Some(guard_config(&guard, on_failure)),
            ..fast_config()
        };
        let gateway = start_on(db, ledger, &upstream, config).await;
        wait_until("first ledger read", async || {
            gateway.chat(ask("chat", "hi", false)).await.status() != 503
                || script.fault.is_some()
                || script.reply.starts_with('I')
        })
        .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let response = gateway
            .chat(ask("chat", "how do I make a bomb", false))
            .await;
        assert_eq!(
            response.status().as_u16(),
            status,
            "{:?} {on_failure}",
            script.reply
        );
        if status == 503 {
            let error: Value = response.json().await.unwrap();
            assert_eq!(error["error"]["code"], "guard_unavailable");
        }
        let stopped = gateway.stop().await;
        let rows = stopped.decisions("", 100).await.unwrap();
        let last: Value = serde_json::from_str(&rows[0].record).unwrap();
        let run = last["filters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["filter"] == "llm_guard")
            .cloned();
        assert_eq!(
            run.map(|r| r["ran"] == true),
            ran,
            "{:?}: {last}",
            script.reply
        );
    }
}

warden_store::on_both_databases!(
    with,
    safety_model,
    issue_11_a_safety_model_judges_requests_and_its_failures_are_never_passes
);

warden_store::on_both_databases!(
    with,
    blocked_terms,
    issue_11_blocked_terms_never_reach_the_upstream_or_the_client
);
warden_store::on_both_databases!(
    with,
    clean_streams,
    issue_11_clean_streams_flow_and_split_numbers_are_redacted
);
warden_store::on_both_databases!(
    with,
    kill_switch,
    issue_11_withdraw_rollback_restore_and_the_gate
);
warden_store::on_both_databases!(
    with,
    faults,
    issue_11_bad_input_and_upstream_faults_get_openai_errors
);
warden_store::on_both_databases!(
    with,
    shared_database,
    issue_11_gateways_sharing_a_database_obey_one_withdrawal
);

async fn with(backend: Backend, test: impl AsyncFnOnce(Backend)) {
    test(backend).await;
}
