//! A **test double** (feature `testing`): an OpenAI-compatible upstream with a scripted answer
//! and injected faults, which no user would ever put behind the gateway. It exists so the
//! gateway's streaming, filters and failure handling can be tested and its overhead measured
//! against an upstream that costs nothing:
//!
//! - the answer is a fixed text, streamed in chunks of `chunk_chars` characters with
//!   `chunk_delay` between them (`stream: true`) or returned whole;
//! - faults: stall after the first chunk, reset the connection mid-stream, send an event that is
//!   not JSON, answer HTTP 500;
//! - `GET /v1/models` lists one model, `scripted`.
//!
//! [`start`] binds `127.0.0.1` on a free port and serves on a background task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// A fault to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Send the first chunk, then nothing (the connection stays open).
    StallAfterFirstChunk,
    /// Send the first chunk, then drop the connection without `[DONE]`.
    ResetAfterFirstChunk,
    /// Send the first chunk, then an event that is not JSON.
    BrokenEvent,
    /// Answer HTTP 500.
    ServerError,
}

/// How the double answers.
#[derive(Clone, Debug)]
pub struct Script {
    pub reply: String,
    pub chunk_chars: usize,
    pub chunk_delay: Duration,
    pub fault: Option<Fault>,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            reply: "Hello from the scripted upstream.".to_owned(),
            chunk_chars: 4,
            chunk_delay: Duration::ZERO,
            fault: None,
        }
    }
}

struct Shared {
    script: Script,
    requests: AtomicU64,
    last_body: std::sync::Mutex<Value>,
}

/// A running double.
pub struct Scripted {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Scripted {
    /// `http://127.0.0.1:PORT/v1`.
    pub fn base(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Chat requests received.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// The body of the last chat request (what the gateway forwarded).
    pub fn last_body(&self) -> Value {
        self.shared
            .last_body
            .lock()
            .map(|b| b.clone())
            .unwrap_or_default()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Start the double on a free port.
pub async fn start(script: Script) -> std::io::Result<Scripted> {
    start_on(0, script).await
}

/// Start the double on `port` of 127.0.0.1 (0: a free one).
pub async fn start_on(port: u16, script: Script) -> std::io::Result<Scripted> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        script,
        requests: AtomicU64::new(0),
        last_body: std::sync::Mutex::new(Value::Null),
    });
    let router = axum::Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat))
        .with_state(Arc::clone(&shared));
    let task = tokio::spawn(async move {
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let _ = axum::serve(listener, router).await;
    });
    Ok(Scripted { addr, shared, task })
}

async fn models() -> Json<Value> {
    Json(
        json!({"object": "list", "data": [{"id": "scripted", "object": "model", "created": 0, "owned_by": "test"}]}),
    )
}

fn pieces(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(size.max(1))
        .map(|c| c.iter().collect())
        .collect()
}

async fn chat(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    if let Ok(mut last) = shared.last_body.lock() {
        *last = body.clone();
    }
    let script = shared.script.clone();
    if script.fault == Some(Fault::ServerError) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": {"message": "injected failure"}})),
        )
            .into_response();
    }
    let model = body["model"].as_str().unwrap_or("scripted").to_owned();
    if !body["stream"].as_bool().unwrap_or(false) {
        return Json(json!({
            "id": "chatcmpl-scripted", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": script.reply}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }))
        .into_response();
    }
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        let event = |value: Value| Ok(Bytes::from(format!("data: {value}\n\n")));
        let chunk = |delta: Value, finish: Value| {
            json!({"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 0, "model": model,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        };
        let _ = sender
            .send(event(chunk(
                json!({"role": "assistant", "content": ""}),
                Value::Null,
            )))
            .await;
        for (i, piece) in pieces(&script.reply, script.chunk_chars)
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                match script.fault {
                    Some(Fault::StallAfterFirstChunk) => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    Some(Fault::ResetAfterFirstChunk) => {
                        let _ = sender
                            .send(Err(std::io::Error::other("injected reset")))
                            .await;
                        return;
                    }
                    Some(Fault::BrokenEvent) => {
                        let _ = sender.send(Ok(Bytes::from("data: {not json\n\n"))).await;
                        return;
                    }
                    _ => {}
                }
            }
            if !script.chunk_delay.is_zero() {
                tokio::time::sleep(script.chunk_delay).await;
            }
            if sender
                .send(event(chunk(json!({"content": piece}), Value::Null)))
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = sender.send(event(chunk(json!({}), json!("stop")))).await;
        let _ = sender.send(Ok(Bytes::from("data: [DONE]\n\n"))).await;
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
