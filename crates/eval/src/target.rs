//! Targets: what is evaluated (and what judges and attacker models run on).
//!
//! A [`Target`] answers one chat request. [`OpenAiTarget`] speaks the OpenAI chat-completions API
//! to any URL (hosted services, vLLM, llama.cpp's server, Warden's own `/v1/chat/completions`), so
//! the local runtime is just another URL. Failures are sorted into [`CallError::Retryable`] (429,
//! 5xx, timeouts, connection resets: the runner backs off and retries, honouring `Retry-After`) and
//! [`CallError::Fatal`] (anything retrying cannot fix).

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::suite::Message;

/// Sampling parameters sent with every request; part of the cache key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// 0 is greedy.
    pub temperature: f64,
    /// Most tokens to generate.
    pub max_tokens: u32,
    /// Seed, for servers that honour one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Extra body fields (`top_p`, provider options …), merged into the request as given.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 0.0,
            max_tokens: 256,
            seed: Some(0),
            extra: Map::new(),
        }
    }
}

/// One chat request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    pub sampling: Sampling,
}

/// A model's answer with what the server said about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    pub text: String,
    /// `stop`, `length`, `content_filter` …; `None` when the server sent none.
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
}

/// Why a call failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CallError {
    /// Worth retrying after a pause (the server's `Retry-After` when it sent one).
    #[error("{message}")]
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Retrying will not help.
    #[error("{message}")]
    Fatal { message: String },
    /// The endpoint refused the caller or does not exist (HTTP 401, 403 or 404): every other
    /// call would get the same answer, so a run stops at once instead of erroring every item.
    #[error("{message}")]
    Denied { status: u16, message: String },
}

/// Something that answers chat requests.
#[async_trait]
pub trait Target: Send + Sync {
    /// A stable description for cache keys and reports: URL and model, never a secret.
    fn id(&self) -> String;
    /// Answer one request.
    async fn chat(&self, request: &ChatRequest) -> Result<Completion, CallError>;
}

/// Where and how to reach an OpenAI-compatible endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetSpec {
    /// The base URL (`http://host:8000/v1`) or the full `…/chat/completions` URL.
    pub url: String,
    /// The `model` field sent.
    pub model: String,
    /// The environment variable holding the bearer key, if the endpoint needs one. The key itself
    /// is never stored, logged or part of a cache key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Per-request timeout in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_timeout() -> u64 {
    120
}

/// The chat-completions URL for a user-given base URL.
pub fn completions_url(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    if trimmed.ends_with("/chat/completions") {
        return trimmed.to_owned();
    }
    let after_scheme = trimmed.split_once("://").map_or(trimmed, |(_, rest)| rest);
    if after_scheme.contains('/') {
        format!("{trimmed}/chat/completions")
    } else {
        format!("{trimmed}/v1/chat/completions")
    }
}

/// A target behind an OpenAI-compatible chat-completions endpoint.
#[derive(Clone, Debug)]
pub struct OpenAiTarget {
    spec: TargetSpec,
    endpoint: String,
    key: Option<String>,
    client: reqwest::Client,
    name: Option<String>,
}

impl OpenAiTarget {
    /// Build a client for `spec`. Fails when the key's variable is named but unset, or the URL is
    /// not http(s).
    pub fn new(spec: TargetSpec) -> Result<OpenAiTarget, String> {
        let endpoint = completions_url(&spec.url);
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(format!(
                "target URL `{}` is not http(s); give the endpoint's base URL, e.g. http://127.0.0.1:8000/v1, or `local` for Warden's runtime",
                spec.url
            ));
        }
        let key = match &spec.api_key_env {
            None => None,
            Some(name) => Some(std::env::var(name).map_err(|_| {
                format!("the API key variable {name} is not set; export it or drop --api-key-env")
            })?),
        };
        let client = warden_net::client_builder()
            .map_err(|e| e.to_string())?
            .timeout(Duration::from_secs(spec.timeout_secs.max(1)))
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(256)
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        Ok(OpenAiTarget {
            spec,
            endpoint,
            key,
            client,
            name: None,
        })
    }

    /// Identify the target by `name` instead of its URL, for endpoints whose URL changes from
    /// one process to the next (the local runtime on a fresh loopback port): the journal keys and
    /// reports then stay the same, so `--resume` and the cache work across processes.
    pub fn named(mut self, name: impl Into<String>) -> OpenAiTarget {
        self.name = Some(name.into());
        self
    }

    /// The URL requests go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Check the endpoint answers at all (any HTTP status counts), so an unreachable target
    /// fails in seconds with its URL rather than after a run's worth of retries.
    pub async fn probe(&self) -> Result<(), String> {
        let request = self
            .client
            .get(&self.endpoint)
            .timeout(Duration::from_secs(10));
        match request.send().await {
            Ok(_) => Ok(()),
            Err(error) => Err(format!(
                "target {} is unreachable ({}); check the URL and that the server is running",
                self.endpoint,
                without_url(&error)
            )),
        }
    }

    fn body(&self, request: &ChatRequest) -> Value {
        let mut body = Map::new();
        body.insert("model".into(), json!(self.spec.model));
        body.insert("messages".into(), json!(request.messages));
        body.insert("temperature".into(), json!(request.sampling.temperature));
        body.insert("max_tokens".into(), json!(request.sampling.max_tokens));
        if let Some(seed) = request.sampling.seed {
            body.insert("seed".into(), json!(seed));
        }
        for (key, value) in &request.sampling.extra {
            body.insert(key.clone(), value.clone());
        }
        Value::Object(body)
    }
}

fn without_url(error: &reqwest::Error) -> String {
    warden_net::describe(error)
}

/// Seconds in a `Retry-After` header (the delta-seconds form; HTTP dates are rare from APIs).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(3600.0)))
}

#[derive(Deserialize)]
struct WireResponse {
    #[serde(default)]
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    #[serde(default)]
    message: Option<WireMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

#[async_trait]
impl Target for OpenAiTarget {
    fn id(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => format!("{} model={}", self.endpoint, self.spec.model),
        }
    }

    async fn chat(&self, request: &ChatRequest) -> Result<Completion, CallError> {
        let mut call = self.client.post(&self.endpoint).json(&self.body(request));
        if let Some(key) = &self.key {
            call = call.bearer_auth(key);
        }
        let response = call.send().await.map_err(|error| CallError::Retryable {
            message: format!(
                "request to {} failed: {}",
                self.endpoint,
                without_url(&error)
            ),
            retry_after: None,
        })?;
        let status = response.status();
        let wait = retry_after(response.headers());
        let bytes = response
            .bytes()
            .await
            .map_err(|error| CallError::Retryable {
                message: format!(
                    "reading the answer from {} failed: {}",
                    self.endpoint,
                    without_url(&error)
                ),
                retry_after: None,
            })?;
        if !status.is_success() {
            let snippet: String = String::from_utf8_lossy(&bytes).chars().take(300).collect();
            let message = format!("{} answered {status}: {snippet}", self.endpoint);
            let code = status.as_u16();
            return Err(match code {
                _ if code == 429 || code == 408 || status.is_server_error() => {
                    CallError::Retryable {
                        message,
                        retry_after: wait,
                    }
                }
                401 | 403 => CallError::Denied {
                    status: code,
                    message: format!(
                        "{message} — the endpoint refused the key: check --api-key-env names a variable holding a valid key with access to model `{}`",
                        self.spec.model
                    ),
                },
                404 => CallError::Denied {
                    status: code,
                    message: format!(
                        "{message} — no such endpoint or model: check the URL (…/v1) and the model name `{}`",
                        self.spec.model
                    ),
                },
                _ => CallError::Fatal { message },
            });
        }
        let wire: WireResponse = serde_json::from_slice(&bytes).map_err(|e| CallError::Fatal {
            message: format!(
                "{} did not answer in the chat-completions shape ({e})",
                self.endpoint
            ),
        })?;
        let choice = wire
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| CallError::Fatal {
                message: format!("{} answered with no choices", self.endpoint),
            })?;
        let usage = wire.usage.unwrap_or(WireUsage {
            prompt_tokens: 0,
            completion_tokens: 0,
        });
        Ok(Completion {
            text: choice.message.and_then(|m| m.content).unwrap_or_default(),
            finish_reason: choice.finish_reason,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_url_accepts_base_or_full_urls() {
        for (given, expected) in [
            (
                "http://127.0.0.1:8440",
                "http://127.0.0.1:8440/v1/chat/completions",
            ),
            (
                "http://127.0.0.1:8440/",
                "http://127.0.0.1:8440/v1/chat/completions",
            ),
            ("http://h:1/v1", "http://h:1/v1/chat/completions"),
            (
                "https://api.example/v1/",
                "https://api.example/v1/chat/completions",
            ),
            (
                "http://h/v1/chat/completions",
                "http://h/v1/chat/completions",
            ),
        ] {
            assert_eq!(completions_url(given), expected, "{given}");
        }
    }

    #[test]
    fn bad_urls_and_missing_keys_say_what_to_fix() {
        let spec = |url: &str, env: Option<&str>| TargetSpec {
            url: url.into(),
            model: "m".into(),
            api_key_env: env.map(str::to_owned),
            timeout_secs: 5,
        };
        let error = OpenAiTarget::new(spec("ftp://x", None)).unwrap_err();
        assert!(error.contains("not http(s)"), "{error}");
        let error =
            OpenAiTarget::new(spec("http://x", Some("WARDEN_TEST_SURELY_UNSET_KEY"))).unwrap_err();
        assert!(
            error.contains("WARDEN_TEST_SURELY_UNSET_KEY is not set"),
            "{error}"
        );
    }

    #[test]
    fn retry_after_reads_seconds() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(reqwest::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
