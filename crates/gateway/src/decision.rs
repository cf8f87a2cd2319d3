//! Decision records: one per request, whatever happened to it, written in the background in
//! batches so the request path never waits on the database, and flushed before the gateway
//! stops. A filter that did not run is recorded as not run, never as passed.
//!
//! End users appear only as a pseudonym: HMAC-SHA256 of their id under a key kept in the home.
//! Destroying the key when the retention period ends leaves the records unlinkable to anyone.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use warden_guard::Verdict;

use crate::store::{DecisionRow, DecisionStore, ReviewRow};

/// What one filter did in one stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterRun {
    /// `input` or `output`.
    pub stage: String,
    /// `lexicon+pii`, …
    pub filter: String,
    /// Whether it ran to the end; a filter that did not run never counts as passed.
    pub ran: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
}

/// One request's decision record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub id: String,
    pub at: String,
    /// The calling Warden key's id.
    pub key: String,
    /// The end user's pseudonym, if the request named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The end user's trust tier, if tiers are configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// The version of the lexicon that judged the request.
    #[serde(default)]
    pub lexicon: String,
    pub stream: bool,
    pub status: u16,
    /// `allow`, `flag`, `redact`, `block`, or why nothing was served (`withdrawn`,
    /// `gate_refused`, `upstream_error`, `invalid_request`, `client_gone`, …).
    pub action: String,
    pub categories: Vec<String>,
    pub filters: Vec<FilterRun>,
    pub input_sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_sha256: Option<String>,
    /// Request and answer text, only when the gateway keeps content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<serde_json::Value>,
    /// Characters of a blocked match the client already had (async stream mode).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub leaked_chars: usize,
    pub total_us: u64,
    pub upstream_us: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Sampled for the review queue: the stratum and the text (never part of the record).
    #[serde(skip)]
    pub review: Option<(String, serde_json::Value)>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Decision {
    /// Time spent in the gateway itself.
    pub fn overhead_us(&self) -> u64 {
        self.total_us.saturating_sub(self.upstream_us)
    }
}

/// SHA-256 of a text, hex.
pub fn sha256_hex(text: &str) -> String {
    warden_core::hex::encode(&Sha256::digest(text.as_bytes()))
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`, hex: the end-user pseudonym.
pub fn pseudonym(key: &[u8], message: &str) -> String {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message.as_bytes())
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    warden_core::hex::encode(&outer)
}

/// The background writer's handle. Cloning shares the writer.
#[derive(Clone)]
pub struct DecisionLog {
    sender: mpsc::Sender<Decision>,
}

/// Waits for the writer to flush; see [`DecisionLog::start`].
pub struct DecisionWriter(tokio::task::JoinHandle<()>);

impl DecisionWriter {
    /// Wait until every record sent before all [`DecisionLog`] handles were dropped is stored.
    pub async fn flushed(self) {
        let _ = self.0.await;
    }
}

impl DecisionLog {
    /// Start the writer on `store`.
    pub fn start(store: Arc<dyn DecisionStore>) -> (Self, DecisionWriter) {
        let (sender, receiver) = mpsc::channel(8192);
        let task = tokio::spawn(write_batches(store, receiver));
        (Self { sender }, DecisionWriter(task))
    }

    /// Queue a record. Waits when the queue is full rather than drop a record.
    pub async fn record(&self, decision: Decision) {
        if self.sender.send(decision).await.is_err() {
            tracing::error!("the decision writer has stopped; a decision record was not stored");
        }
    }
}

async fn write_batches(store: Arc<dyn DecisionStore>, mut receiver: mpsc::Receiver<Decision>) {
    let mut batch: Vec<Decision> = Vec::new();
    loop {
        if batch.is_empty() {
            match receiver.recv().await {
                Some(decision) => batch.push(decision),
                None => return,
            }
        }
        while batch.len() < 512 {
            match receiver.try_recv() {
                Ok(decision) => batch.push(decision),
                Err(_) => break,
            }
        }
        let rows: Vec<DecisionRow> = batch.iter().map(row).collect();
        let reviews: Vec<ReviewRow> = batch.iter().filter_map(review_row).collect();
        let stored = match store.put_decisions(&rows).await {
            Ok(()) => store.put_reviews(&reviews).await,
            Err(error) => Err(error),
        };
        match stored {
            Ok(()) => batch.clear(),
            Err(error) => {
                // Keep the batch and try again: a database hiccup must not lose records.
                tracing::error!(%error, records = batch.len(), "storing decision records failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

fn review_row(decision: &Decision) -> Option<ReviewRow> {
    let (stratum, content) = decision.review.as_ref()?;
    let mut filters: Vec<&str> = decision
        .filters
        .iter()
        .filter_map(|f| f.verdict.as_ref())
        .flat_map(|v| v.findings.iter().map(|f| f.filter.as_str()))
        .collect();
    filters.sort_unstable();
    filters.dedup();
    Some(ReviewRow {
        decision_id: decision.id.clone(),
        sampled_at: decision.at.clone(),
        stratum: stratum.clone(),
        filters: serde_json::to_string(&filters).unwrap_or_else(|_| "[]".to_owned()),
        content: content.to_string(),
        label: None,
        reviewer: None,
        labelled_at: None,
    })
}

fn row(decision: &Decision) -> DecisionRow {
    DecisionRow {
        id: decision.id.clone(),
        at: decision.at.clone(),
        model: decision.model.clone(),
        user: decision.user.clone(),
        action: decision.action.clone(),
        status: i64::from(decision.status),
        record: serde_json::to_string(decision).unwrap_or_else(|_| "{}".to_owned()),
    }
}

/// `time` as fixed-width UTC RFC 3339 with microseconds (the ledger's own form), so stored and
/// compared text sorts as time.
pub fn fixed(time: jiff::Timestamp) -> String {
    format!("{time:.6}")
}

/// The current time, [`fixed`].
pub fn now_fixed() -> String {
    fixed(jiff::Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_as_they_were_written() {
        let decision = Decision {
            id: "gwd-1".into(),
            action: "block".into(),
            filters: vec![FilterRun {
                stage: "input".into(),
                filter: "lexicon+pii".into(),
                ran: false,
                verdict: None,
            }],
            ..Decision::default()
        };
        let text = serde_json::to_string(&decision).unwrap_or_default();
        let back: Result<Decision, _> = serde_json::from_str(&text);
        assert_eq!(back.ok(), Some(decision), "{text}");
    }

    #[test]
    fn pseudonyms_are_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            pseudonym(b"Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        assert_eq!(
            pseudonym(
                &[0xaa; 131],
                "Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
