//! The OpenAI-compatible chat API over the local runtime: `POST /v1/chat/completions` (JSON or
//! SSE streaming) and `GET /v1/models`.
//!
//! Generations queue first come, first served (a fair semaphore of one: on a small CPU two
//! generations at once only halve each other's speed). A client that disconnects stops its
//! generation at the next token.
//!
//! Served to users, the model is behind the same guard as the gateway's (`warden-guard`): a
//! blocked request gets 400 `content_blocked` before generation starts, and answers pass the
//! output filters (streams through the hold-back window) before any text leaves. Only the
//! evaluation harness, on a private loopback port, talks to the model unguarded, because it
//! measures the model itself.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};
use warden_guard::{Action, Guard, Hold, REFUSAL, REJECTED, STOPPED, StreamStep};
use warden_runtime::sampling::{Sampler, SamplingParams};
use warden_runtime::template::ChatMessage;
use warden_runtime::{Batcher, Completion, FinishReason, Runtime, RuntimeError};

use crate::error::ApiError;
use crate::extract::ApiJson;

/// A loaded model, its batch of running generations, its queue and its guard.
pub struct ModelService {
    pub runtime: Arc<Runtime>,
    /// Up to `parallel` generations decode together; the queue admits that many at once.
    batcher: Arc<Batcher>,
    guard: Option<Arc<Guard>>,
    queue: Arc<Semaphore>,
    /// Set on shutdown: running generations stop at their next token, queued ones never start.
    stopping: Arc<AtomicBool>,
}

/// Generations decoded together when a config says 0.
pub const DEFAULT_PARALLEL: u32 = 8;

impl ModelService {
    fn new(
        runtime: Runtime,
        parallel: u32,
        guard: Option<Arc<Guard>>,
    ) -> Result<Self, RuntimeError> {
        let runtime = Arc::new(runtime);
        let parallel = if parallel == 0 {
            DEFAULT_PARALLEL
        } else {
            parallel
        };
        let batcher = Arc::new(Batcher::start(Arc::clone(&runtime), parallel)?);
        Ok(Self {
            runtime,
            queue: Arc::new(Semaphore::new(batcher.max_sequences() as usize)),
            batcher,
            guard,
            stopping: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The model as users reach it: behind `guard`, `parallel` generations at once (0: 8).
    pub fn guarded(
        runtime: Runtime,
        guard: Arc<Guard>,
        parallel: u32,
    ) -> Result<Self, RuntimeError> {
        Self::new(runtime, parallel, Some(guard))
    }

    /// The model with no filters, for the evaluation harness only (which measures the model
    /// itself and serves it on a private loopback port).
    pub fn for_evaluation(runtime: Runtime, parallel: u32) -> Result<Self, RuntimeError> {
        Self::new(runtime, parallel, None)
    }

    /// Cancel the running generation and refuse new ones (503 `shutting_down`), so a server
    /// shutting down does not wait for a long generation to finish.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        self.queue.close();
    }
}

/// The model a server may have: handlers answer 503 when there is none.
#[derive(Clone, Default)]
pub struct ModelSlot(pub Option<Arc<ModelService>>);

impl axum::extract::FromRef<crate::AppState> for ModelSlot {
    fn from_ref(state: &crate::AppState) -> Self {
        state.model.clone()
    }
}

impl From<RuntimeError> for ApiError {
    fn from(error: RuntimeError) -> Self {
        match error {
            RuntimeError::BadRequest(_) | RuntimeError::ContextOverflow { .. } => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                error.to_string(),
            ),
            RuntimeError::UnsupportedArchitecture(_) | RuntimeError::BadModel(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "model_error",
                error.to_string(),
            ),
            RuntimeError::Engine(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "engine_error",
                error.to_string(),
            ),
        }
    }
}

/// `content` as a string or as an array of `{"type":"text","text":…}` parts.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Value>),
}

#[derive(Deserialize)]
pub struct Message {
    role: String,
    content: Option<Content>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize, Default)]
pub struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

/// The request fields Warden honours; other OpenAI fields are accepted and ignored.
#[derive(Deserialize)]
pub struct ChatRequest {
    #[serde(default)]
    model: Option<String>,
    messages: Vec<Message>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    top_k: Option<u32>,
    repetition_penalty: Option<f32>,
    seed: Option<u64>,
    max_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
    stop: Option<Stop>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    n: Option<u32>,
}

fn service(slot: &ModelSlot) -> Result<Arc<ModelService>, ApiError> {
    slot.0.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_model",
            "no model is configured: set [model] gguf in warden.toml, or run `warden model serve --gguf PATH`",
        )
    })
}

fn messages(request: &ChatRequest) -> Result<Vec<ChatMessage>, ApiError> {
    if request.messages.is_empty() {
        return Err(ApiError::bad_request(
            "messages must hold at least one message",
        ));
    }
    request
        .messages
        .iter()
        .map(|message| {
            let content = match &message.content {
                None => String::new(),
                Some(Content::Text(text)) => text.clone(),
                Some(Content::Parts(parts)) => parts
                    .iter()
                    .map(|part| {
                        match (
                            part.get("type").and_then(Value::as_str),
                            part.get("text").and_then(Value::as_str),
                        ) {
                            (Some("text"), Some(text)) => Ok(text.to_owned()),
                            _ => Err(ApiError::bad_request(
                                "only text content parts are supported by the local model",
                            )),
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?
                    .join(""),
            };
            Ok(ChatMessage {
                role: message.role.clone(),
                content,
            })
        })
        .collect()
}

fn params(request: &ChatRequest) -> Result<SamplingParams, ApiError> {
    if request.n.is_some_and(|n| n != 1) {
        return Err(ApiError::bad_request(
            "n must be 1: the local model returns one choice",
        ));
    }
    let defaults = SamplingParams::default();
    let params = SamplingParams {
        temperature: request.temperature.unwrap_or(defaults.temperature),
        top_p: request.top_p.unwrap_or(defaults.top_p),
        top_k: request.top_k.unwrap_or(defaults.top_k),
        repetition_penalty: request
            .repetition_penalty
            .unwrap_or(defaults.repetition_penalty),
        seed: request.seed.unwrap_or(defaults.seed),
        max_tokens: request
            .max_completion_tokens
            .or(request.max_tokens)
            .unwrap_or(defaults.max_tokens),
        stop: match &request.stop {
            None => Vec::new(),
            Some(Stop::One(stop)) => vec![stop.clone()],
            Some(Stop::Many(stops)) => stops.clone(),
        },
    };
    params.validate()?;
    Ok(params)
}

fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop | FinishReason::Cancelled => "stop",
        FinishReason::Length => "length",
    }
}

fn usage(completion: &Completion) -> Value {
    json!({
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "total_tokens": completion.prompt_tokens + completion.completion_tokens,
    })
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Sets the flag when dropped: the request future is dropped when its client goes away.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// `POST /v1/chat/completions`.
pub async fn completions(
    State(slot): State<ModelSlot>,
    ApiJson(request): ApiJson<ChatRequest>,
) -> Result<Response, ApiError> {
    let service = service(&slot)?;
    let id = service.runtime.id();
    if let Some(asked) = request
        .model
        .as_deref()
        .filter(|m| !m.is_empty() && *m != id)
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "model_not_found",
            format!("model `{asked}` is not served here; GET /v1/models lists `{id}`"),
        ));
    }
    let mut messages = messages(&request)?;
    if let Some(guard) = &service.guard {
        for message in &mut messages {
            let checked = guard.check(&message.content);
            match checked.verdict.action {
                Action::Block => {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "content_blocked",
                        REJECTED,
                    ));
                }
                Action::Redact => message.content = checked.text,
                _ => {}
            }
        }
    }
    let params = params(&request)?;
    let prompt = service.runtime.render_chat(&messages)?;
    let completion_id = format!("chatcmpl-{}", uuid::Uuid::now_v7().simple());
    let created = now();
    let permit = Arc::clone(&service.queue)
        .acquire_owned()
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the model queue is closed",
            )
        })?;
    let batcher = Arc::clone(&service.batcher);
    let stopping = Arc::clone(&service.stopping);
    let guard = service.guard.clone();
    if !request.stream {
        let cancelled = Arc::new(AtomicBool::new(false));
        let _guard = CancelOnDrop(Arc::clone(&cancelled));
        let completion = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            batcher.generate(&prompt, Sampler::new(params), &mut |_| {
                !cancelled.load(Ordering::Relaxed) && !stopping.load(Ordering::Relaxed)
            })
        })
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "engine_error",
                e.to_string(),
            )
        })??;
        let (text, finish) = match &service.guard {
            Some(guard) => {
                let checked = guard.check(&completion.text);
                match checked.verdict.action {
                    Action::Block => (REFUSAL.to_owned(), "content_filter"),
                    _ => (checked.text, finish_reason(completion.finish_reason)),
                }
            }
            None => (
                completion.text.clone(),
                finish_reason(completion.finish_reason),
            ),
        };
        return Ok(Json(json!({
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": id,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
            }],
            "usage": usage(&completion),
        }))
        .into_response());
    }
    let include_usage = request.stream_options.unwrap_or_default().include_usage;
    let (sender, mut receiver) = mpsc::channel::<Result<Event, Infallible>>(64);
    let chunk = move |delta: Value, finish: Option<&str>| {
        Event::default().data(
            json!({
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": id,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            })
            .to_string(),
        )
    };
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        if sender
            .blocking_send(Ok(chunk(json!({"role": "assistant", "content": ""}), None)))
            .is_err()
        {
            return;
        }
        let policy = guard.as_ref().map(|g| g.policy.clone()).unwrap_or_default();
        let mut scan = guard.as_ref().map(|g| g.stream(&policy, Hold::Window));
        let mut blocked = false;
        let send_text = |text: &str| {
            text.is_empty()
                || sender
                    .blocking_send(Ok(chunk(json!({"content": text}), None)))
                    .is_ok()
        };
        let result = batcher.generate(&prompt, Sampler::new(params), &mut |text| {
            // A held-back token sends nothing, so ask the channel whether the client left.
            if stopping.load(Ordering::Relaxed) || sender.is_closed() {
                return false;
            }
            match scan.as_mut().map(|scan| scan.push(text)) {
                None => send_text(text),
                Some(StreamStep::Release(released)) => send_text(&released),
                Some(StreamStep::Blocked(_)) => {
                    blocked = true;
                    false
                }
            }
        });
        if !blocked
            && result.is_ok()
            && let Some(scan) = scan.as_mut()
        {
            match scan.finish() {
                StreamStep::Release(rest) => {
                    send_text(&rest);
                }
                StreamStep::Blocked(_) => blocked = true,
            }
        }
        if blocked {
            let _ = sender.blocking_send(Ok(chunk(
                json!({"content": REFUSAL}),
                Some("content_filter"),
            )));
            let _ = sender.blocking_send(Ok(Event::default().data(
                json!({"error": {"message": STOPPED, "type": "invalid_request_error", "code": "content_blocked"}}).to_string(),
            )));
            return;
        }
        match result {
            Ok(completion) if completion.finish_reason != FinishReason::Cancelled => {
                let _ = sender.blocking_send(Ok(chunk(
                    json!({}),
                    Some(finish_reason(completion.finish_reason)),
                )));
                if include_usage {
                    let _ = sender.blocking_send(Ok(Event::default().data(
                        json!({"object": "chat.completion.chunk", "choices": [], "usage": usage(&completion)}).to_string(),
                    )));
                }
                let _ = sender.blocking_send(Ok(Event::default().data("[DONE]")));
            }
            Ok(_) => {}
            Err(error) => {
                let _ = sender.blocking_send(Ok(Event::default()
                    .data(json!({"error": {"message": error.to_string()}}).to_string())));
                let _ = sender.blocking_send(Ok(Event::default().data("[DONE]")));
            }
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// `GET /v1/models`.
pub async fn models(State(slot): State<ModelSlot>) -> Result<Json<Value>, ApiError> {
    let service = service(&slot)?;
    Ok(Json(json!({
        "object": "list",
        "data": [{"id": service.runtime.id(), "object": "model", "created": 0, "owned_by": "warden", "name": service.runtime.name()}],
    })))
}

/// `GET /healthz` of a standalone model server.
async fn model_health(State(slot): State<ModelSlot>) -> Result<Json<Value>, ApiError> {
    let service = service(&slot)?;
    Ok(Json(json!({"status": "ok", "model": service.runtime.id()})))
}

/// A server with only the model routes and no keys, for `warden model serve` (a local model
/// server, like llama.cpp's own, bound to loopback by default).
pub fn standalone(service: Arc<ModelService>, max_body_bytes: usize) -> axum::Router {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/healthz", get(model_health))
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(completions))
        .fallback(|| async {
            ApiError::not_found(
                "no such route: this server has /v1/chat/completions, /v1/models and /healthz",
            )
        })
        .layer(axum::extract::DefaultBodyLimit::max(max_body_bytes))
        .with_state(ModelSlot(Some(service)))
}
