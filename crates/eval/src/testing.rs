//! A **test double**: an OpenAI-compatible upstream that answers instantly and injects faults on
//! request. No user ever runs this against a model; it exists so the harness itself can be
//! measured and tested without one:
//!
//! - benchmarks of harness overhead (requests per second, CPU per sample) where the model costs
//!   nothing, so every cycle measured is the harness's own;
//! - resume-after-kill tests: [`UpstreamOptions::stall_after`] holds requests after the first N
//!   answers, so a run can be killed at a known point, and [`Upstream::repeated_answers`] then
//!   shows whether a resumed run asked again for anything already answered;
//! - retry tests: [`UpstreamOptions::fail_first`] answers 429 with `Retry-After: 1`, and
//!   [`UpstreamOptions::server_errors_every`] answers 500.
//!
//! [`start`] binds `127.0.0.1` on a free port and serves, on a background task:
//!
//! - `POST /v1/chat/completions`: the chat-completions response shape (`id`, `object`, `created`,
//!   `model`, `choices[0].message`, `finish_reason: "stop"`, `usage`, with word counts for token
//!   counts); a `GET` there answers 405, which is enough for a reachability probe;
//! - `GET /v1/models`: one model, `instant`;
//! - `GET /stats`: the counters as JSON ([`Stats`]), so an out-of-process benchmark can read them.
//!
//! [`start_tls`] serves the same over HTTPS with a given certificate (a self-signed one in the
//! TLS tests), so `https://` targets and private CAs are tested end to end.
//!
//! The same server is the `instant-upstream` example (`cargo run --release -p warden-eval
//! --features testing --example instant-upstream -- --port 8440`), for benchmarks that run the harness as a process.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The reply the double gives to a request it answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    /// Always this text.
    Fixed(String),
    /// `refusal` when the last user message contains `marker`, `compliance` otherwise: lets a
    /// refusal scorer see both outcomes.
    RefuseOnMarker {
        marker: String,
        refusal: String,
        compliance: String,
    },
}

impl ReplyMode {
    /// The marker [`ReplyMode::default`] looks for.
    pub const DEFAULT_MARKER: &'static str = "[refuse]";
    /// The refusal [`ReplyMode::default`] gives.
    pub const DEFAULT_REFUSAL: &'static str = "I'm sorry, I can't help with that.";
    /// The compliance [`ReplyMode::default`] gives.
    pub const DEFAULT_COMPLIANCE: &'static str = "Sure: here is an answer.";

    fn reply(&self, last_user: &str) -> &str {
        match self {
            ReplyMode::Fixed(text) => text,
            ReplyMode::RefuseOnMarker {
                marker,
                refusal,
                compliance,
            } => {
                if last_user.contains(marker.as_str()) {
                    refusal
                } else {
                    compliance
                }
            }
        }
    }
}

impl Default for ReplyMode {
    /// Refuse when the last user message contains `[refuse]`, comply otherwise.
    fn default() -> Self {
        ReplyMode::RefuseOnMarker {
            marker: Self::DEFAULT_MARKER.into(),
            refusal: Self::DEFAULT_REFUSAL.into(),
            compliance: Self::DEFAULT_COMPLIANCE.into(),
        }
    }
}

/// How the double behaves. The default answers everything at once, refusing `[refuse]` prompts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpstreamOptions {
    /// What answered requests get.
    pub reply: ReplyMode,
    /// Answer the first N requests of each distinct body (by SHA-256 of the body bytes) with
    /// 429 and `Retry-After: 1`; the N+1st is served normally.
    pub fail_first: u32,
    /// Answer every Nth request received (counting all of them, 1-based) with 500, unless it is
    /// already one of the 429s above. `None` or `Some(0)`: never.
    pub server_errors_every: Option<u32>,
    /// After N requests are let through to be answered, hold every further one until
    /// [`Upstream::release`]. Requests answered with 429 or 500 do not count and are never held.
    pub stall_after: Option<u64>,
    /// Wait this long before answering each request (after any stall).
    pub delay: Duration,
}

/// The double's counters, as `GET /stats` gives them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// `POST /v1/chat/completions` requests received, whatever became of them.
    pub received: u64,
    /// Requests answered 200 with a completion.
    pub answered: u64,
    /// Distinct request bodies answered at least once.
    pub distinct_answered: u64,
    /// Answers beyond the first for the same body: `answered - distinct_answered`. A run that
    /// never asks twice for the same thing keeps this at 0.
    pub repeated_answers: u64,
    /// Requests answered 429.
    pub rate_limited: u64,
    /// Requests answered 500.
    pub server_errors: u64,
    /// Requests being held by the stall right now.
    pub held: u64,
}

/// What happens to held requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    Holding,
    Released,
    ShuttingDown,
}

#[derive(Default)]
struct PerBody {
    seen: u32,
    answered: u64,
}

struct Shared {
    options: UpstreamOptions,
    received: AtomicU64,
    answered: AtomicU64,
    rate_limited: AtomicU64,
    server_errors: AtomicU64,
    held: AtomicU64,
    /// Requests let past the fault checks towards an answer: the stall's ticket counter.
    admitted: AtomicU64,
    bodies: Mutex<HashMap<[u8; 32], PerBody>>,
    gate: watch::Sender<Gate>,
}

impl Shared {
    fn bodies(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], PerBody>> {
        self.bodies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stats(&self) -> Stats {
        // Read the body table first and the counters after, under the lock, so the distinct
        // count never exceeds the answered count.
        let bodies = self.bodies();
        let distinct_answered = bodies.values().filter(|b| b.answered > 0).count() as u64;
        let answered = self.answered.load(Ordering::SeqCst);
        Stats {
            received: self.received.load(Ordering::SeqCst),
            answered,
            distinct_answered,
            repeated_answers: answered.saturating_sub(distinct_answered),
            rate_limited: self.rate_limited.load(Ordering::SeqCst),
            server_errors: self.server_errors.load(Ordering::SeqCst),
            held: self.held.load(Ordering::SeqCst),
        }
    }
}

/// A running double. Dropping it stops the server without waiting; [`Upstream::shutdown`]
/// stops it and waits.
pub struct Upstream {
    /// The base URL to give a client: `http://127.0.0.1:PORT/v1`.
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// Start the double on `127.0.0.1` on a free port.
pub async fn start(options: UpstreamOptions) -> std::io::Result<Upstream> {
    start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), options).await
}

/// Start the double on `addr` (port 0 picks a free one).
pub async fn start_on(addr: SocketAddr, options: UpstreamOptions) -> std::io::Result<Upstream> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    serve(listener, addr, "http", options)
}

/// Start the double over HTTPS on `127.0.0.1` on a free port, presenting the PEM certificate
/// chain `cert_pem` with the PEM private key `key_pem`. Its URL is `https://127.0.0.1:PORT/v1`.
pub async fn start_tls(
    options: UpstreamOptions,
    cert_pem: &str,
    key_pem: &str,
) -> std::io::Result<Upstream> {
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(format!("certificate PEM: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| invalid(format!("private key PEM: {e}")))?;
    let config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid(e.to_string()))?;
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    let addr = listener.local_addr()?;
    let tls = TlsListener {
        tcp: listener,
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    };
    serve(tls, addr, "https", options)
}

/// A listener that completes the TLS handshake before handing a connection to axum; a client
/// that rejects the certificate costs one failed handshake and nothing else.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, peer)) = self.tcp.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, peer);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

fn serve<L>(
    listener: L,
    addr: SocketAddr,
    scheme: &str,
    options: UpstreamOptions,
) -> std::io::Result<Upstream>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let (gate, _) = watch::channel(Gate::Holding);
    let shared = Arc::new(Shared {
        options,
        received: AtomicU64::new(0),
        answered: AtomicU64::new(0),
        rate_limited: AtomicU64::new(0),
        server_errors: AtomicU64::new(0),
        held: AtomicU64::new(0),
        admitted: AtomicU64::new(0),
        bodies: Mutex::new(HashMap::new()),
        gate,
    });
    let app = Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(models))
        .route("/stats", get(stats))
        .with_state(Arc::clone(&shared));
    let mut stopping = shared.gate.subscribe();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                // An error means the sender is gone, which is a stop too.
                let _ = stopping.wait_for(|g| *g == Gate::ShuttingDown).await;
            })
            .await
    });
    Ok(Upstream {
        url: format!("{scheme}://{addr}/v1"),
        addr,
        shared,
        task: Some(task),
    })
}

impl Upstream {
    /// All the counters at once.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Chat requests received, whatever became of them.
    pub fn received(&self) -> u64 {
        self.shared.received.load(Ordering::SeqCst)
    }

    /// Chat requests answered 200.
    pub fn answered(&self) -> u64 {
        self.shared.answered.load(Ordering::SeqCst)
    }

    /// Distinct request bodies answered at least once.
    pub fn distinct_answered(&self) -> u64 {
        self.stats().distinct_answered
    }

    /// Answers beyond the first for the same request body (0 when nothing was asked twice).
    pub fn repeated_answers(&self) -> u64 {
        self.stats().repeated_answers
    }

    /// Requests being held by the stall right now.
    pub fn held(&self) -> u64 {
        self.shared.held.load(Ordering::SeqCst)
    }

    /// End the stall: held requests are answered, and later ones are not held.
    pub fn release(&self) {
        self.shared.gate.send_if_modified(|gate| {
            let holding = *gate == Gate::Holding;
            if holding {
                *gate = Gate::Released;
            }
            holding
        });
    }

    /// Stop serving: held requests get 503, open connections close once their answers are sent,
    /// and this returns when the server has stopped.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        self.shared.gate.send_replace(Gate::ShuttingDown);
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.shared.gate.send_replace(Gate::ShuttingDown);
    }
}

/// An OpenAI-shaped error answer.
fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "code": status.as_u16()}});
    (status, axum::Json(body)).into_response()
}

/// The text of a message's `content`: a string, or the `text` parts of a parts array.
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

async fn chat_completions(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let number = shared.received.fetch_add(1, Ordering::SeqCst) + 1;
    let hash: [u8; 32] = Sha256::digest(&body).into();
    let seen = {
        let mut bodies = shared.bodies();
        let entry = bodies.entry(hash).or_default();
        entry.seen = entry.seen.saturating_add(1);
        entry.seen
    };
    let options = &shared.options;
    if seen <= options.fail_first {
        shared.rate_limited.fetch_add(1, Ordering::SeqCst);
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            "injected rate limit: try again in 1 second",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return response;
    }
    if let Some(every) = options.server_errors_every.filter(|n| *n > 0)
        && number % u64::from(every) == 0
    {
        shared.server_errors.fetch_add(1, Ordering::SeqCst);
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "injected server error",
        );
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(value @ Value::Object(_)) => value,
        Ok(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "the body is not a JSON object",
            );
        }
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!("the body is not JSON: {e}"),
            );
        }
    };
    let ticket = shared.admitted.fetch_add(1, Ordering::SeqCst);
    if options.stall_after.is_some_and(|n| ticket >= n) {
        let mut gate = shared.gate.subscribe();
        shared.held.fetch_add(1, Ordering::SeqCst);
        // Count down even when the client goes away and this future is dropped.
        let _held = HeldGuard(&shared.held);
        let outcome = gate.wait_for(|g| *g != Gate::Holding).await.map(|g| *g);
        if !matches!(outcome, Ok(Gate::Released)) {
            let mut response = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "the upstream is shutting down",
            );
            response.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            return response;
        }
    }
    if !options.delay.is_zero() {
        tokio::time::sleep(options.delay).await;
    }

    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let last_user = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| content_text(m.get("content")))
        .unwrap_or_default();
    let prompt_tokens: u64 = messages
        .iter()
        .map(|m| words(&content_text(m.get("content"))))
        .sum();
    let text = options.reply.reply(&last_user);
    let completion_tokens = words(text);
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("instant");
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());

    let answer_number = {
        let mut bodies = shared.bodies();
        let entry = bodies.entry(hash).or_default();
        entry.answered += 1;
        shared.answered.fetch_add(1, Ordering::SeqCst) + 1
    };
    let body = json!({
        "id": format!("chatcmpl-instant-{answer_number}"),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    });
    axum::Json(body).into_response()
}

struct HeldGuard<'a>(&'a AtomicU64);

impl Drop for HeldGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn models() -> Response {
    axum::Json(json!({
        "object": "list",
        "data": [{"id": "instant", "object": "model", "created": 0, "owned_by": "warden-testing"}],
    }))
    .into_response()
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.stats()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat_body(prompt: &str) -> Value {
        json!({"model": "m", "messages": [{"role": "user", "content": prompt}], "temperature": 0.0})
    }

    async fn post(
        client: &reqwest::Client,
        upstream: &Upstream,
        body: &Value,
    ) -> reqwest::Response {
        client
            .post(format!("{}/chat/completions", upstream.url))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn answers_in_the_chat_completions_shape() {
        let upstream = start(UpstreamOptions::default()).await.unwrap();
        assert!(upstream.url.starts_with("http://127.0.0.1:"));
        assert!(upstream.url.ends_with("/v1"));
        let client = reqwest::Client::new();

        let response = post(&client, &upstream, &chat_body("hello there [refuse]")).await;
        assert_eq!(response.status(), 200);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["object"], "chat.completion");
        assert_eq!(answer["model"], "m");
        assert!(answer["id"].as_str().unwrap().starts_with("chatcmpl-"));
        assert!(answer["created"].as_u64().unwrap() > 0);
        assert_eq!(answer["choices"][0]["message"]["role"], "assistant");
        assert_eq!(
            answer["choices"][0]["message"]["content"],
            ReplyMode::DEFAULT_REFUSAL
        );
        assert_eq!(answer["choices"][0]["finish_reason"], "stop");
        assert_eq!(answer["usage"]["prompt_tokens"], 3);
        assert_eq!(answer["usage"]["completion_tokens"], 7);
        assert_eq!(answer["usage"]["total_tokens"], 10);

        // Content parts count as text too; no marker, so it complies.
        let parts = json!({"model": "m", "messages": [
            {"role": "user", "content": "[refuse] earlier turn"},
            {"role": "assistant", "content": "no"},
            {"role": "user", "content": [{"type": "text", "text": "fine now"}]},
        ]});
        let answer: Value = post(&client, &upstream, &parts).await.json().await.unwrap();
        assert_eq!(
            answer["choices"][0]["message"]["content"],
            ReplyMode::DEFAULT_COMPLIANCE
        );
        assert_eq!(answer["usage"]["prompt_tokens"], 6);

        let fixed = start(UpstreamOptions {
            reply: ReplyMode::Fixed("B".into()),
            ..UpstreamOptions::default()
        })
        .await
        .unwrap();
        let answer: Value = post(&client, &fixed, &chat_body("[refuse]"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(answer["choices"][0]["message"]["content"], "B");

        // A GET on the completions route is a 405, enough for a reachability probe.
        let probe = client
            .get(format!("{}/chat/completions", upstream.url))
            .send()
            .await
            .unwrap();
        assert_eq!(probe.status(), 405);
        let models: Value = client
            .get(format!("{}/models", upstream.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(models["data"][0]["id"], "instant");
        let bad = client
            .post(format!("{}/chat/completions", upstream.url))
            .body("not json")
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400);

        upstream.shutdown().await.unwrap();
        fixed.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn fail_first_rate_limits_each_body_and_counters_add_up() {
        let upstream = start(UpstreamOptions {
            fail_first: 2,
            ..UpstreamOptions::default()
        })
        .await
        .unwrap();
        let client = reqwest::Client::new();
        for prompt in ["a", "b"] {
            for _ in 0..2 {
                let response = post(&client, &upstream, &chat_body(prompt)).await;
                assert_eq!(response.status(), 429);
                assert_eq!(response.headers()[header::RETRY_AFTER.as_str()], "1");
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["error"]["type"], "rate_limit_exceeded");
            }
            let response = post(&client, &upstream, &chat_body(prompt)).await;
            assert_eq!(response.status(), 200);
        }
        // Asking again for an answered body is served and counted as a repeat.
        assert_eq!(
            post(&client, &upstream, &chat_body("a")).await.status(),
            200
        );
        let expected = Stats {
            received: 7,
            answered: 3,
            distinct_answered: 2,
            repeated_answers: 1,
            rate_limited: 4,
            server_errors: 0,
            held: 0,
        };
        assert_eq!(upstream.stats(), expected);
        assert_eq!(upstream.received(), 7);
        assert_eq!(upstream.answered(), 3);
        assert_eq!(upstream.distinct_answered(), 2);
        assert_eq!(upstream.repeated_answers(), 1);
        let over_http: Stats = client
            .get(format!("http://{}/stats", upstream.addr))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(over_http, expected);
        upstream.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn every_nth_request_is_a_server_error() {
        let upstream = start(UpstreamOptions {
            server_errors_every: Some(3),
            ..UpstreamOptions::default()
        })
        .await
        .unwrap();
        let client = reqwest::Client::new();
        let mut statuses = Vec::new();
        for n in 0..6 {
            let response = post(&client, &upstream, &chat_body(&format!("q{n}"))).await;
            statuses.push(response.status().as_u16());
        }
        assert_eq!(statuses, [200, 200, 500, 200, 200, 500]);
        let stats = upstream.stats();
        assert_eq!((stats.answered, stats.server_errors), (4, 2));
        upstream.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn stall_holds_requests_until_released() {
        let upstream = start(UpstreamOptions {
            stall_after: Some(1),
            ..UpstreamOptions::default()
        })
        .await
        .unwrap();
        let client = reqwest::Client::new();
        assert_eq!(
            post(&client, &upstream, &chat_body("first")).await.status(),
            200
        );
        let held: Vec<_> = (0..3)
            .map(|n| {
                let client = client.clone();
                let url = format!("{}/chat/completions", upstream.url);
                let body = chat_body(&format!("held {n}"));
                tokio::spawn(async move { client.post(url).json(&body).send().await })
            })
            .collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while upstream.held() < 3 {
            assert!(tokio::time::Instant::now() < deadline, "requests not held");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(upstream.answered(), 1);
        assert_eq!(upstream.received(), 4);
        assert!(held.iter().all(|task| !task.is_finished()));

        upstream.release();
        for task in held {
            assert_eq!(task.await.unwrap().unwrap().status(), 200);
        }
        assert_eq!(upstream.answered(), 4);
        assert_eq!(upstream.held(), 0);
        // Released for good: later requests are not held.
        assert_eq!(
            post(&client, &upstream, &chat_body("later")).await.status(),
            200
        );
        upstream.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn shutdown_turns_held_requests_away() {
        let upstream = start(UpstreamOptions {
            stall_after: Some(0),
            ..UpstreamOptions::default()
        })
        .await
        .unwrap();
        let url = format!("{}/chat/completions", upstream.url);
        let held = tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .json(&chat_body("x"))
                .send()
                .await
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while upstream.held() < 1 {
            assert!(tokio::time::Instant::now() < deadline, "request not held");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::timeout(Duration::from_secs(10), upstream.shutdown())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(held.await.unwrap().unwrap().status(), 503);
    }
}
