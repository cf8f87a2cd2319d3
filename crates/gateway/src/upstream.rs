//! Calls to OpenAI-compatible upstreams: JSON answers, server-sent-event streams (parsed here,
//! tolerant of events split anywhere, strict about what an event may contain) and model lists.

use std::time::Duration;

use serde_json::Value;

use crate::config::VersionConfig;

/// Why an upstream call failed; each becomes an OpenAI-style error for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    #[error("the upstream could not be reached: {0}")]
    Unreachable(String),
    #[error("the upstream did not answer within {0} s")]
    Timeout(u64),
    #[error("the upstream answered HTTP {status}: {message}")]
    Status { status: u16, message: String },
    #[error("the upstream sent a broken answer: {0}")]
    Broken(String),
}

/// An HTTP client for upstreams.
#[derive(Clone)]
pub struct Upstream {
    client: reqwest::Client,
    timeout: Duration,
}

impl Upstream {
    /// A client trusting the system's roots and the home's extra CA file.
    pub fn new(timeout: Duration) -> Result<Self, String> {
        let client = warden_net::client_builder()
            .map_err(|e| e.to_string())?
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| warden_net::describe(&e))?;
        Ok(Self { client, timeout })
    }

    /// A request to `path` under the version's base URL, with its API key if it has one.
    fn request(
        &self,
        method: reqwest::Method,
        version: &VersionConfig,
        path: &str,
    ) -> reqwest::RequestBuilder {
        let url = format!("{}/{path}", version.upstream.trim_end_matches('/'));
        let request = self.client.request(method, url);
        match version
            .api_key_env
            .as_deref()
            .and_then(|name| std::env::var(name).ok())
        {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    fn seconds(&self) -> u64 {
        self.timeout.as_secs()
    }

    fn failed(&self, error: &reqwest::Error) -> UpstreamError {
        if error.is_timeout() {
            UpstreamError::Timeout(self.seconds())
        } else {
            UpstreamError::Unreachable(warden_net::describe(error))
        }
    }

    /// Send `request` and read the whole answer as JSON; `what` names it in errors.
    async fn json(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Value, UpstreamError> {
        let response = request
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| self.failed(&e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.failed(&e))?;
        if !status.is_success() {
            return Err(UpstreamError::Status {
                status: status.as_u16(),
                message: error_message(&bytes),
            });
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| UpstreamError::Broken(format!("{what} is not JSON ({e})")))
    }

    /// A non-streamed chat completion.
    pub async fn complete(
        &self,
        version: &VersionConfig,
        body: &Value,
    ) -> Result<Value, UpstreamError> {
        let request = self
            .request(reqwest::Method::POST, version, "chat/completions")
            .json(body);
        self.json(request, "the answer").await
    }

    /// Open a streamed chat completion; read events with [`EventStream::next`].
    pub async fn stream(
        &self,
        version: &VersionConfig,
        body: &Value,
    ) -> Result<EventStream, UpstreamError> {
        let request = self
            .request(reqwest::Method::POST, version, "chat/completions")
            .json(body);
        let response = tokio::time::timeout(self.timeout, request.send())
            .await
            .map_err(|_| UpstreamError::Timeout(self.seconds()))?
            .map_err(|e| self.failed(&e))?;
        let status = response.status();
        if !status.is_success() {
            let bytes = response.bytes().await.unwrap_or_default();
            return Err(UpstreamError::Status {
                status: status.as_u16(),
                message: error_message(&bytes),
            });
        }
        Ok(EventStream {
            response,
            parser: SseParser::default(),
            idle: self.timeout,
            ended: false,
        })
    }

    /// The model ids an upstream lists at `GET {base}/models`.
    pub async fn models(&self, version: &VersionConfig) -> Result<Vec<String>, UpstreamError> {
        let request = self.request(reqwest::Method::GET, version, "models");
        let list = self.json(request, "the model list").await?;
        Ok(list["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["id"].as_str().map(str::to_owned))
            .collect())
    }
}

/// The upstream's own error message, if its body carries one.
fn error_message(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| text.chars().take(200).collect())
}

/// A streamed answer's events.
pub struct EventStream {
    response: reqwest::Response,
    parser: SseParser,
    idle: Duration,
    ended: bool,
}

/// One server-sent event's data.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A JSON chunk.
    Chunk(Value),
    /// `[DONE]`.
    Done,
}

impl EventStream {
    /// The next event; `None` when the upstream closed the stream.
    pub async fn next(&mut self) -> Option<Result<Event, UpstreamError>> {
        loop {
            if let Some(data) = self.parser.next_data() {
                return Some(data.and_then(|data| {
                    if data.trim() == "[DONE]" {
                        return Ok(Event::Done);
                    }
                    let value: Value = serde_json::from_str(&data).map_err(|e| {
                        UpstreamError::Broken(format!("an event that is not JSON ({e})"))
                    })?;
                    if let Some(message) = value.get("error").map(|e| {
                        e["message"]
                            .as_str()
                            .map_or_else(|| e.to_string(), str::to_owned)
                    }) {
                        return Err(UpstreamError::Status {
                            status: 502,
                            message,
                        });
                    }
                    Ok(Event::Chunk(value))
                }));
            }
            if self.ended {
                return None;
            }
            match tokio::time::timeout(self.idle, self.response.chunk()).await {
                Err(_) => return Some(Err(UpstreamError::Timeout(self.idle.as_secs()))),
                Ok(Err(e)) => {
                    self.ended = true;
                    return Some(Err(UpstreamError::Unreachable(format!(
                        "the stream broke off: {}",
                        warden_net::describe(&e)
                    ))));
                }
                Ok(Ok(None)) => {
                    self.ended = true;
                    self.parser.end();
                }
                Ok(Ok(Some(bytes))) => self.parser.push(&bytes),
            }
        }
    }
}

/// Splits a byte stream into server-sent events and yields each event's `data`.
#[derive(Default)]
pub struct SseParser {
    buffer: Vec<u8>,
    ready: std::collections::VecDeque<Result<String, UpstreamError>>,
}

impl SseParser {
    /// Add bytes as they arrive.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
        while let Some((end, separator)) = find_blank_line(&self.buffer) {
            let event: Vec<u8> = self.buffer.drain(..end + separator).collect();
            self.take(&event[..end]);
        }
    }

    /// The stream ended: a last event without its blank line still counts.
    pub fn end(&mut self) {
        let rest = std::mem::take(&mut self.buffer);
        if !rest.iter().all(u8::is_ascii_whitespace) {
            self.take(&rest);
        }
    }

    /// The next complete event's data.
    pub fn next_data(&mut self) -> Option<Result<String, UpstreamError>> {
        self.ready.pop_front()
    }

    fn take(&mut self, event: &[u8]) {
        let text = match std::str::from_utf8(event) {
            Ok(text) => text,
            Err(_) => {
                self.ready.push_back(Err(UpstreamError::Broken(
                    "an event that is not UTF-8".to_owned(),
                )));
                return;
            }
        };
        let mut data: Vec<&str> = Vec::new();
        for line in text.lines() {
            if let Some(value) = line.strip_prefix("data:") {
                data.push(value.strip_prefix(' ').unwrap_or(value));
            }
        }
        if !data.is_empty() {
            self.ready.push_back(Ok(data.join("\n")));
        }
    }
}

fn find_blank_line(buffer: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i + 1 < buffer.len() {
        if buffer[i] == b'\n' && buffer[i + 1] == b'\n' {
            return Some((i, 2));
        }
        if buffer[i..].starts_with(b"\r\n\r\n") {
            return Some((i, 4));
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_come_out_whole() {
        let stream =
            "data: {\"a\":1}\n\n: comment\n\ndata: {\"b\":\ndata: 2}\r\n\r\ndata: [DONE]\n\n";
        for split in 0..stream.len() {
            let mut parser = SseParser::default();
            parser.push(&stream.as_bytes()[..split]);
            parser.push(&stream.as_bytes()[split..]);
            parser.end();
            let mut data = Vec::new();
            while let Some(Ok(d)) = parser.next_data() {
                data.push(d);
            }
            assert_eq!(
                data,
                ["{\"a\":1}", "{\"b\":\n2}", "[DONE]"],
                "split at {split}"
            );
        }
    }

    #[test]
    fn invalid_utf8_is_an_error_not_a_panic() {
        let mut parser = SseParser::default();
        parser.push(b"data: \xff\xfe\n\n");
        assert!(matches!(
            parser.next_data(),
            Some(Err(UpstreamError::Broken(_)))
        ));
    }
}
