//! The journal: every upstream call of a run goes through it, so runs survive failure.
//!
//! A call is keyed by the SHA-256 of the canonical JSON of (target, request, sampling parameters,
//! epoch) — [`request_key`]. Before calling upstream, [`JournaledTarget`] looks the key up (a
//! preloaded map, else the store); after an answer it hands the answer to one writer task and
//! waits until that task has committed it. So an answer is durable before the run counts it, a
//! run killed with `kill -9` and resumed repeats no answered request, and the same request in a
//! later run is served from the cache. The writer commits whatever has queued up in one
//! transaction (group commit), which keeps the journal off the critical path at high concurrency.
//!
//! Upstream pressure is handled here too: a global concurrency limit, request-per-minute and
//! token-per-minute budgets ([`Limits`]), and retries with backoff on retryable failures that
//! honour `Retry-After` and pause every worker, not only the one that was told to wait.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;
use warden_store::StoreError;

use crate::store::{CachedResponse, EvalStore};

use crate::target::{CallError, ChatRequest, Completion, Target};

/// The journal key of one call: lowercase hex SHA-256 of the canonical JSON of
/// `{"epoch", "request", "target"}`. The API key is never part of it.
pub fn request_key(target: &str, request: &ChatRequest, epoch: u32) -> String {
    let value = json!({"target": target, "request": request, "epoch": epoch});
    let canonical = warden_core::canonical::to_string(&value).unwrap_or_else(|_| value.to_string());
    warden_core::hex::encode(&Sha256::digest(canonical.as_bytes()))
}

/// Upstream budgets for one target.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Limits {
    /// Requests in flight at once (at least 1).
    pub concurrency: usize,
    /// Requests per minute; `None` for no limit.
    pub requests_per_minute: Option<u32>,
    /// Tokens (prompt estimate + max_tokens) per minute; `None` for no limit.
    pub tokens_per_minute: Option<u64>,
    /// Retries of one call after retryable failures before it is an error.
    pub max_retries: u32,
}

/// A token bucket refilled continuously at `per_minute / 60` per second, holding one minute's worth.
#[derive(Debug)]
struct Bucket {
    capacity: f64,
    available: f64,
    refilled: Instant,
}

impl Bucket {
    fn new(per_minute: f64) -> Bucket {
        Bucket {
            capacity: per_minute,
            available: per_minute,
            refilled: Instant::now(),
        }
    }

    /// Take `amount` now, or say how long until it can be taken. Requests larger than the
    /// bucket wait for a full bucket rather than forever.
    fn take(&mut self, amount: f64, now: Instant) -> Option<Duration> {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.available = (self.available + elapsed * self.capacity / 60.0).min(self.capacity);
        self.refilled = now;
        let amount = amount.min(self.capacity);
        if self.available >= amount {
            self.available -= amount;
            None
        } else {
            let missing = amount - self.available;
            Some(Duration::from_secs_f64(missing * 60.0 / self.capacity))
        }
    }
}

/// Counters for progress and reports.
#[derive(Debug, Default)]
pub struct JournalStats {
    /// Calls answered from the journal or cache.
    pub cached: AtomicU64,
    /// Calls sent upstream (retries included).
    pub sent: AtomicU64,
    /// Retries after retryable failures.
    pub retries: AtomicU64,
    /// Calls that ended in an error.
    pub failed: AtomicU64,
    /// Calls answered (from upstream or cache).
    pub answered: AtomicU64,
}

type Ack = oneshot::Sender<Result<(), StoreError>>;

/// Shared by every [`JournaledTarget`] of a run: the store, the writer task, the limits.
pub struct Journal {
    store: Arc<dyn EvalStore>,
    writer: mpsc::Sender<(CachedResponse, Ack)>,
    known: Mutex<HashMap<String, Completion>>,
    in_flight: Semaphore,
    limits: Limits,
    rate: Mutex<(Option<Bucket>, Option<Bucket>)>,
    paused_until: Mutex<Option<Instant>>,
    /// The run's append-only journal file, when the run has one.
    file: Mutex<Option<std::fs::File>>,
    /// Counters, read by progress displays.
    pub stats: JournalStats,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Most answers committed in one transaction.
const MAX_GROUP: usize = 512;

impl Journal {
    /// A journal over `store`; spawns the writer task, so call it inside a Tokio runtime.
    pub fn new(store: Arc<dyn EvalStore>, limits: Limits) -> Arc<Journal> {
        let (writer, inbox) = mpsc::channel(MAX_GROUP * 2);
        tokio::spawn(write_loop(Arc::clone(&store), inbox));
        let rate = (
            limits
                .requests_per_minute
                .filter(|&n| n > 0)
                .map(|n| Bucket::new(f64::from(n))),
            limits
                .tokens_per_minute
                .filter(|&n| n > 0)
                .map(|n| Bucket::new(n as f64)),
        );
        Arc::new(Journal {
            store,
            writer,
            known: Mutex::new(HashMap::new()),
            in_flight: Semaphore::new(limits.concurrency.max(1)),
            limits,
            rate: Mutex::new(rate),
            paused_until: Mutex::new(None),
            file: Mutex::new(None),
            stats: JournalStats::default(),
        })
    }

    /// Also append every answer to `path` (one JSON line each, written with a single `write`
    /// before the answer goes to the store). A process killed with `kill -9` loses nothing the
    /// kernel has accepted, so the window in which an answer can be lost shrinks from a store
    /// commit to a system call; [`import_file`] brings the lines into the store on resume.
    pub fn append_to(&self, path: &Path) -> std::io::Result<()> {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        *self.file.lock().unwrap_or_else(PoisonError::into_inner) = Some(file);
        Ok(())
    }

    /// Load whichever of `keys` are journalled into memory (one query per 500 keys), so the
    /// calls that follow need no store lookups.
    pub async fn preload(&self, keys: &[String]) -> Result<usize, StoreError> {
        let found = self.store.eval_responses(keys).await?;
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let mut loaded = 0;
        for (key, body) in found {
            if let Ok(completion) = serde_json::from_str::<Completion>(&body) {
                known.insert(key, completion);
                loaded += 1;
            }
        }
        Ok(loaded)
    }

    fn remembered(&self, key: &str) -> Option<Completion> {
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    async fn lookup(&self, key: &str) -> Option<Completion> {
        if let Some(found) = self.remembered(key) {
            return Some(found);
        }
        let found = self.store.eval_responses(&[key.to_owned()]).await.ok()?;
        serde_json::from_str(found.get(key)?).ok()
    }

    async fn record(
        &self,
        key: String,
        target: &str,
        completion: &Completion,
    ) -> Result<(), StoreError> {
        let body =
            serde_json::to_string(completion).map_err(|e| StoreError::Database(e.to_string()))?;
        let (ack, done) = oneshot::channel();
        let row = CachedResponse {
            key: key.clone(),
            target: target.to_owned(),
            body,
            created_at: warden_ledger::entry::now_rfc3339(),
        };
        if let Some(file) = self
            .file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            let mut line = serde_json::to_string(&FileLine {
                key: row.key.as_str().into(),
                target: row.target.as_str().into(),
                body: row.body.as_str().into(),
            })
            .map_err(|e| StoreError::Database(e.to_string()))?;
            line.push('\n');
            file.write_all(line.as_bytes())
                .map_err(|e| StoreError::Database(format!("cannot write the journal file: {e}")))?;
        }
        let stopped = || StoreError::Database("the journal writer has stopped".into());
        self.writer.send((row, ack)).await.map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())??;
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, completion.clone());
        Ok(())
    }

    /// Wait until the rate budgets allow a request of about `tokens` tokens.
    async fn admit(&self, tokens: u64) {
        loop {
            let pause = *self
                .paused_until
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(until) = pause
                && until > Instant::now()
            {
                tokio::time::sleep_until(until).await;
                continue;
            }
            let wait = {
                let now = Instant::now();
                let mut rate = self.rate.lock().unwrap_or_else(PoisonError::into_inner);
                let (requests, token_bucket) = &mut *rate;
                // Check both before taking from either, so a refused request takes nothing.
                let request_wait = requests.as_mut().and_then(|b| b.take(1.0, now));
                match request_wait {
                    Some(wait) => Some(wait),
                    None => {
                        let token_wait = token_bucket
                            .as_mut()
                            .and_then(|b| b.take(tokens as f64, now));
                        if token_wait.is_some()
                            && let Some(bucket) = requests.as_mut()
                        {
                            bucket.available += 1.0;
                        }
                        token_wait
                    }
                }
            };
            match wait {
                None => return,
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Make every worker wait until `until`: one 429 means the whole target is saturated.
    fn pause(&self, until: Instant) {
        let mut paused = self
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }
}

#[derive(Serialize, serde::Deserialize)]
struct FileLine<'a> {
    #[serde(borrow)]
    key: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    target: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    body: std::borrow::Cow<'a, str>,
}

/// One answer read back from a journal file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalLine {
    pub key: String,
    pub target: String,
    pub body: String,
}

/// Parse the bytes of a journal file. Every line is written with a single `write` ending in a
/// newline, so only the final line may be torn (the process died mid-write): a final line without
/// its newline is dropped, since that answer was never counted. Any other line that is not a
/// journal entry means the file was damaged or edited, and is an error naming its line number.
pub fn parse_journal(bytes: &[u8]) -> Result<Vec<JournalLine>, String> {
    let mut lines: Vec<&[u8]> = bytes.split(|byte| *byte == b'\n').collect();
    // After the last newline: empty for a complete file, the torn line otherwise.
    lines.pop();
    lines
        .into_iter()
        .enumerate()
        .map(|(index, line)| {
            serde_json::from_slice::<FileLine>(line)
                .map(|line| JournalLine {
                    key: line.key.into_owned(),
                    target: line.target.into_owned(),
                    body: line.body.into_owned(),
                })
                .map_err(|error| {
                    format!(
                        "line {} is not a journal entry ({error}); only a torn last line is \
                         skipped, so the file was damaged or edited: restore it, or delete it \
                         to re-ask those requests",
                        index + 1
                    )
                })
        })
        .collect()
}

/// Copy the answers in a journal file into the store (keys already there are left alone). A torn
/// last line — the process died mid-write — is skipped: that answer was never counted; any other
/// bad line is an error naming it ([`parse_journal`]). Returns how many lines were read; a missing
/// file reads as none.
pub async fn import_file(store: &dyn EvalStore, path: &Path) -> Result<usize, StoreError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(error) => {
            return Err(StoreError::Database(format!(
                "cannot read the journal file {}: {error}",
                path.display()
            )));
        }
    };
    let created_at = warden_ledger::entry::now_rfc3339();
    let rows: Vec<CachedResponse> = parse_journal(&bytes)
        .map_err(|error| {
            StoreError::Database(format!("the journal file {}: {error}", path.display()))
        })?
        .into_iter()
        .map(|line| CachedResponse {
            key: line.key,
            target: line.target,
            body: line.body,
            created_at: created_at.clone(),
        })
        .collect();
    for chunk in rows.chunks(MAX_GROUP) {
        store.put_eval_responses(chunk).await?;
    }
    Ok(rows.len())
}

async fn write_loop(store: Arc<dyn EvalStore>, mut inbox: mpsc::Receiver<(CachedResponse, Ack)>) {
    let mut batch = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = inbox.recv().await {
        batch.push(first);
        while batch.len() < MAX_GROUP {
            match inbox.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (rows, acks): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        let result = store.put_eval_responses(&rows).await;
        for ack in acks {
            let _ = ack.send(result.clone());
        }
    }
}

/// A rough token count for budgeting before the server says: about 4 characters per token.
fn estimate_tokens(request: &ChatRequest) -> u64 {
    let characters: usize = request
        .messages
        .iter()
        .map(|m| m.content.chars().count())
        .sum();
    (characters as u64).div_ceil(4) + u64::from(request.sampling.max_tokens)
}

/// Backoff before retry `attempt` (0-based) when the server gave no `Retry-After`:
/// 0.5 s doubling to at most 30 s, with ±25 % jitter from the key so workers spread out.
fn backoff(attempt: u32, key: &str) -> Duration {
    let base = 0.5 * 2f64.powi(attempt.min(6) as i32);
    let jitter = key.bytes().take(4).fold(0u32, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u32::from(b) + attempt)
    });
    let factor = 0.75 + f64::from(jitter % 1000) / 2000.0;
    Duration::from_secs_f64((base * factor).min(30.0))
}

/// A target whose calls are journalled, cached, rate-limited and retried.
#[derive(Clone)]
pub struct JournaledTarget {
    inner: Arc<dyn Target>,
    journal: Arc<Journal>,
    epoch: u32,
}

impl JournaledTarget {
    /// Wrap `inner`; `epoch` tells repeated samples of the same request apart.
    pub fn new(inner: Arc<dyn Target>, journal: Arc<Journal>, epoch: u32) -> JournaledTarget {
        JournaledTarget {
            inner,
            journal,
            epoch,
        }
    }

    /// The same target and journal for another epoch.
    pub fn with_epoch(&self, epoch: u32) -> JournaledTarget {
        JournaledTarget {
            epoch,
            ..self.clone()
        }
    }

    /// Load whichever of `keys` are journalled, so the calls that follow skip the store.
    pub async fn preload(&self, keys: &[String]) -> Result<usize, StoreError> {
        self.journal.preload(keys).await
    }

    /// The journal's counters.
    pub fn stats(&self) -> &JournalStats {
        &self.journal.stats
    }

    /// The key this target would journal `request` under.
    pub fn key(&self, request: &ChatRequest) -> String {
        request_key(&self.inner.id(), request, self.epoch)
    }
}

#[async_trait]
impl Target for JournaledTarget {
    fn id(&self) -> String {
        self.inner.id()
    }

    async fn chat(&self, request: &ChatRequest) -> Result<Completion, CallError> {
        let journal = &self.journal;
        let target = self.inner.id();
        let key = request_key(&target, request, self.epoch);
        if let Some(found) = journal.lookup(&key).await {
            journal.stats.cached.fetch_add(1, Ordering::Relaxed);
            journal.stats.answered.fetch_add(1, Ordering::Relaxed);
            return Ok(found);
        }
        let _slot = journal
            .in_flight
            .acquire()
            .await
            .map_err(|_| CallError::Fatal {
                message: "the run is shutting down".into(),
            })?;
        let tokens = estimate_tokens(request);
        let mut attempt = 0;
        loop {
            journal.admit(tokens).await;
            journal.stats.sent.fetch_add(1, Ordering::Relaxed);
            match self.inner.chat(request).await {
                Ok(completion) => {
                    journal
                        .record(key, &target, &completion)
                        .await
                        .map_err(|e| CallError::Fatal {
                            message: format!("the answer could not be journalled: {e}"),
                        })?;
                    journal.stats.answered.fetch_add(1, Ordering::Relaxed);
                    return Ok(completion);
                }
                Err(CallError::Retryable {
                    message,
                    retry_after,
                }) if attempt < journal.limits.max_retries => {
                    let wait = retry_after.unwrap_or_else(|| backoff(attempt, &key));
                    if retry_after.is_some() {
                        journal.pause(Instant::now() + wait);
                    }
                    tracing::debug!(%message, ?wait, attempt, "retrying");
                    journal.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(CallError::Retryable { message, .. }) => {
                    journal.stats.failed.fetch_add(1, Ordering::Relaxed);
                    return Err(CallError::Fatal {
                        message: format!("gave up after {} retries: {message}", attempt),
                    });
                }
                Err(fatal) => {
                    journal.stats.failed.fetch_add(1, Ordering::Relaxed);
                    return Err(fatal);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::Message;
    use crate::target::Sampling;

    fn request(text: &str) -> ChatRequest {
        ChatRequest {
            messages: vec![Message::user(text)],
            sampling: Sampling::default(),
        }
    }

    #[tokio::test]
    async fn journal_files_survive_torn_lines_and_import_into_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        let store: Arc<dyn EvalStore> = crate::store::open(
            &warden_store::connect(&url, &[&crate::store::MIGRATIONS])
                .await
                .unwrap(),
        );
        let path = dir.path().join("journal").join("run.jsonl");
        let journal = Journal::new(Arc::clone(&store), Limits::default());
        journal.append_to(&path).unwrap();
        let completion = Completion {
            text: "answer".into(),
            finish_reason: Some("stop".into()),
            prompt_tokens: 1,
            completion_tokens: 1,
        };
        journal.record("k1".into(), "t", &completion).await.unwrap();
        // A second process died mid-line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"key\":\"k2\",\"tar")
            .unwrap();
        let other_dir = tempfile::tempdir().unwrap();
        let other_url = format!("sqlite://{}", other_dir.path().join("w.db").display());
        let other: Arc<dyn EvalStore> = crate::store::open(
            &warden_store::connect(&other_url, &[&crate::store::MIGRATIONS])
                .await
                .unwrap(),
        );
        assert_eq!(import_file(other.as_ref(), &path).await.unwrap(), 1);
        let found = other
            .eval_responses(&["k1".into(), "k2".into()])
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        let back: Completion = serde_json::from_str(&found["k1"]).unwrap();
        assert_eq!(back, completion);
        assert_eq!(
            import_file(other.as_ref(), &dir.path().join("none"))
                .await
                .unwrap(),
            0
        );
    }

    #[test]
    fn keys_depend_on_target_request_sampling_and_epoch() {
        let base = request_key("t", &request("q"), 0);
        assert_eq!(base.len(), 64);
        assert_eq!(base, request_key("t", &request("q"), 0));
        assert_ne!(base, request_key("u", &request("q"), 0));
        assert_ne!(base, request_key("t", &request("r"), 0));
        assert_ne!(base, request_key("t", &request("q"), 1));
        let mut hotter = request("q");
        hotter.sampling.temperature = 0.7;
        assert_ne!(base, request_key("t", &hotter, 0));
    }

    #[test]
    fn buckets_refill_at_the_budgeted_rate() {
        let start = Instant::now();
        let mut bucket = Bucket::new(60.0);
        for _ in 0..60 {
            assert_eq!(bucket.take(1.0, start), None);
        }
        // Empty: the next request waits one second (60 per minute).
        let wait = bucket.take(1.0, start).unwrap();
        assert!((wait.as_secs_f64() - 1.0).abs() < 1e-9, "{wait:?}");
        assert_eq!(bucket.take(1.0, start + Duration::from_secs(1)), None);
        // A request bigger than the whole budget waits for a full bucket, not forever.
        let mut tokens = Bucket::new(100.0);
        assert_eq!(tokens.take(500.0, start), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let first = backoff(0, "abcd");
        let later = backoff(3, "abcd");
        assert!(first >= Duration::from_millis(375) && first <= Duration::from_millis(625));
        assert!(later > first);
        assert!(backoff(20, "abcd") <= Duration::from_secs(30));
    }

    #[test]
    fn issue_10_journal_drops_only_a_torn_final_line() {
        let good = r#"{"key":"k1","target":"t","body":"b"}"#;
        let complete = format!("{good}\n{good}\n");
        assert_eq!(parse_journal(complete.as_bytes()).unwrap().len(), 2);
        // A torn final line (even one cut inside a UTF-8 character) is dropped.
        let mut torn = complete.clone().into_bytes();
        torn.extend_from_slice(b"{\"key\":\"k2\",\"body\":\"\xE4\xB8");
        assert_eq!(parse_journal(&torn).unwrap().len(), 2);
        assert_eq!(parse_journal(b"").unwrap(), Vec::new());
        // A bad line anywhere else is an error naming it.
        for (text, line) in [
            (format!("{good}\n{{\"key\":\"k2\"\n{good}\n"), 2),
            (format!("not json\n{good}\n"), 1),
            (format!("{good}\n\n{good}\n"), 2),
            (format!("{good}\n{good}\n{{\"key\":1}}\n"), 3),
        ] {
            let error = parse_journal(text.as_bytes()).unwrap_err();
            assert!(error.starts_with(&format!("line {line} ")), "{error}");
        }
    }
}
