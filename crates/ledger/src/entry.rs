//! Ledger entries: what a caller submits ([`EntryDraft`]), and the canonical JSON that is stored
//! and hashed once the entry has an index ([`SealedEntry`]).
//!
//! The canonical text carries its own `index`, so a row moved to another position no longer
//! matches the leaf hash the tree holds for that position.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use warden_core::canonical;

use crate::merkle::{Hash, leaf_hash};

/// Longest accepted `kind`.
pub const MAX_KIND_LEN: usize = 64;
/// Longest accepted `subject` or `actor`.
pub const MAX_SUBJECT_LEN: usize = 512;
/// Largest accepted canonical payload.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// An entry before it is appended.
#[derive(Clone, Debug, PartialEq)]
pub struct EntryDraft {
    /// Dotted lower-case event kind, such as `gate.decision` or `keys.created`.
    pub kind: String,
    /// Who caused the event: a key (`key:<id>:<name>`) or a local user (`local:<name>`).
    pub actor: String,
    /// What the event is about: a model, a run, a key id.
    pub subject: String,
    /// Event details; any JSON value.
    pub payload: Value,
    /// When the event happened, UTC RFC 3339.
    pub time: String,
}

/// Why a draft cannot be appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error(
        "kind `{0}` is invalid: use 1 to 64 characters of a-z, 0-9, `.`, `_` or `-`, starting with a letter (e.g. `gate.decision`)"
    )]
    BadKind(String),
    #[error("{0} must be 1 to {MAX_SUBJECT_LEN} characters with no control characters")]
    BadText(&'static str),
    #[error("payload is {0} bytes in canonical form; the limit is {MAX_PAYLOAD_BYTES}")]
    PayloadTooLarge(usize),
    #[error("payload has no canonical JSON form: {0}")]
    NotCanonical(#[from] canonical::CanonicalError),
    #[error(
        "kind `{kind}` belongs to a capability and is written only through {command}; the generic append takes other kinds (for example `note.incident`)"
    )]
    Reserved { kind: String, command: &'static str },
}

impl From<EntryError> for warden_store::StoreError {
    fn from(error: EntryError) -> Self {
        warden_store::StoreError::InvalidEntry(error.to_string())
    }
}

/// Entry kinds that belong to a capability, by prefix, with the commands that write them. Their
/// entries carry the capability's own checks (roles, signatures, evidence), so the generic append
/// (`POST /v1/ledger/entries`, `warden ledger append`) refuses them: a key that may record events
/// must not be able to write a gate decision or a key grant.
pub const RESERVED_KINDS: &[(&str, &str)] = &[
    ("access.", "`warden keys …` or the /v1/keys routes"),
    ("data.", "`warden data …`"),
    ("eval.", "`warden eval …`"),
    ("gate.", "`warden gate …` or the /v1/gate routes"),
    ("guard.", "`warden gateway` and the guard routes"),
    ("ledger.", "`warden ledger …`"),
    ("mark.", "`warden label …`"),
    ("registry.", "`warden registry …`"),
    ("watermark.", "`warden watermark …`"),
];

/// The command that owns `kind`, when a capability reserves it.
pub fn reserved_by(kind: &str) -> Option<&'static str> {
    RESERVED_KINDS
        .iter()
        .find(|(prefix, _)| kind.starts_with(prefix) || prefix.strip_suffix('.') == Some(kind))
        .map(|(_, command)| *command)
}

impl EntryDraft {
    /// A draft stamped with the current time.
    pub fn now(
        kind: impl Into<String>,
        actor: impl Into<String>,
        subject: impl Into<String>,
        payload: Value,
    ) -> Self {
        Self {
            kind: kind.into(),
            actor: actor.into(),
            subject: subject.into(),
            payload,
            time: now_rfc3339(),
        }
    }

    /// Check every field; a draft that passes always seals.
    pub fn validate(&self) -> Result<(), EntryError> {
        let kind_ok = !self.kind.is_empty()
            && self.kind.len() <= MAX_KIND_LEN
            && self.kind.starts_with(|c: char| c.is_ascii_lowercase())
            && self.kind.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
            });
        if !kind_ok {
            return Err(EntryError::BadKind(self.kind.clone()));
        }
        check_text("subject", &self.subject)?;
        check_text("actor", &self.actor)?;
        let size = canonical::to_string(&self.payload)?.len();
        if size > MAX_PAYLOAD_BYTES {
            return Err(EntryError::PayloadTooLarge(size));
        }
        Ok(())
    }

    /// Check the draft for the generic append: valid, and of a kind no capability reserves.
    pub fn validate_generic(&self) -> Result<(), EntryError> {
        self.validate()?;
        match reserved_by(&self.kind) {
            Some(command) => Err(EntryError::Reserved {
                kind: self.kind.clone(),
                command,
            }),
            None => Ok(()),
        }
    }

    /// Give the draft its index: canonical text and leaf hash.
    pub fn seal(&self, index: u64) -> Result<SealedEntry, EntryError> {
        self.validate()?;
        let value = json!({
            "index": index,
            "kind": self.kind,
            "actor": self.actor,
            "time": self.time,
            "subject": self.subject,
            "payload": self.payload,
        });
        let text = canonical::to_string(&value)?;
        let leaf = leaf_hash(text.as_bytes());
        Ok(SealedEntry { index, text, leaf })
    }
}

fn check_text(field: &'static str, text: &str) -> Result<(), EntryError> {
    if text.is_empty()
        || text.chars().count() > MAX_SUBJECT_LEN
        || text.chars().any(char::is_control)
    {
        return Err(EntryError::BadText(field));
    }
    Ok(())
}

/// An entry with its index, its canonical text (what is stored) and its leaf hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedEntry {
    pub index: u64,
    pub text: String,
    pub leaf: Hash,
}

/// A stored entry decoded for display and APIs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub index: u64,
    pub kind: String,
    pub actor: String,
    pub time: String,
    pub subject: String,
    pub payload: Value,
}

impl Entry {
    /// Decode stored canonical text.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// Current UTC time as RFC 3339 with microseconds, the form every Warden timestamp uses.
pub fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    format!("{now:.6}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_10_capability_kinds_are_refused_by_the_generic_append() {
        for kind in [
            "gate.decision",
            "gate.signoff",
            "access.key_created",
            "eval.run.finished",
            "gate",
        ] {
            let err = draft(kind).validate_generic().unwrap_err();
            assert!(matches!(err, EntryError::Reserved { .. }), "{kind}");
            assert!(err.to_string().contains("warden"), "{err}");
        }
        for kind in [
            "note.incident",
            "gateway-log",
            "evaluation",
            "incident.report",
        ] {
            draft(kind).validate_generic().unwrap();
        }
    }

    fn draft(kind: &str) -> EntryDraft {
        EntryDraft {
            kind: kind.into(),
            actor: "local:test".into(),
            subject: "model/smollm2".into(),
            payload: json!({"b": 1, "a": [1.5, "x"]}),
            time: "2026-11-27T20:00:00.000000Z".into(),
        }
    }

    #[test]
    fn sealed_text_is_canonical_and_carries_the_index() {
        let sealed = draft("gate.decision").seal(7).unwrap();
        assert_eq!(
            sealed.text,
            r#"{"actor":"local:test","index":7,"kind":"gate.decision","payload":{"a":[1.5,"x"],"b":1},"subject":"model/smollm2","time":"2026-11-27T20:00:00.000000Z"}"#
        );
        assert_eq!(sealed.leaf, leaf_hash(sealed.text.as_bytes()));
        assert_eq!(Entry::parse(&sealed.text).unwrap().index, 7);
    }

    #[test]
    fn bad_fields_are_named() {
        for kind in ["", "Gate", "1x", "a b", &"a".repeat(65)] {
            assert!(
                matches!(draft(kind).validate(), Err(EntryError::BadKind(_))),
                "{kind:?}"
            );
        }
        let mut bad = draft("ok");
        bad.subject = String::new();
        assert_eq!(bad.validate(), Err(EntryError::BadText("subject")));
        bad.subject = "x\u{0}".into();
        assert_eq!(bad.validate(), Err(EntryError::BadText("subject")));
        let mut big = draft("ok");
        big.payload = json!("x".repeat(MAX_PAYLOAD_BYTES));
        assert!(matches!(
            big.validate(),
            Err(EntryError::PayloadTooLarge(_))
        ));
    }

    #[test]
    fn timestamps_are_utc_with_microseconds() {
        let now = now_rfc3339();
        assert!(
            now.ends_with('Z') && now.len() == "2026-11-27T20:00:00.000000Z".len(),
            "{now}"
        );
    }
}
