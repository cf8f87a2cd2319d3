//! Self-contained proof bundles: a signed checkpoint plus the hashes that tie an entry (or an
//! older checkpoint) to it. An outside auditor checks a bundle with the log's verifier key alone,
//! with no access to Warden's database.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::merkle::{self, Hash, ProofError, leaf_hash};
use crate::note::{Checkpoint, NoteError, NoteVerifier};

/// Proof that one entry is in the log at a signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionBundle {
    /// The entry's index.
    pub index: u64,
    /// The entry's canonical JSON; its leaf hash is recomputed from this text.
    pub entry: String,
    /// Base64 sibling hashes, leaf side first (RFC 9162 §2.1.3).
    pub path: Vec<String>,
    /// The signed checkpoint the path leads to.
    pub checkpoint: String,
}

/// Proof that a newer signed checkpoint extends an older one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyBundle {
    /// The older signed checkpoint.
    pub old_checkpoint: String,
    /// The newer signed checkpoint.
    pub new_checkpoint: String,
    /// Base64 hashes (RFC 9162 §2.1.4).
    pub path: Vec<String>,
}

/// Either kind of bundle, tagged so a file says what it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProofBundle {
    Inclusion(InclusionBundle),
    Consistency(ConsistencyBundle),
}

/// Why a bundle did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] NoteError),
    #[error("proof: {0}")]
    Proof(#[from] ProofError),
    #[error("proof hash {0} is not 32 bytes of base64")]
    BadHash(usize),
    #[error("the entry text says index {claimed} but the proof is for index {index}")]
    IndexMismatch { claimed: u64, index: u64 },
    #[error("the two checkpoints are for different logs")]
    OriginMismatch,
    /// The checkpoint the auditor kept cannot be related to the bundle.
    #[error("kept checkpoint: {0}")]
    Kept(String),
    /// The bundle shows a different tree at a size the auditor already holds: a split view.
    #[error(
        "SPLIT VIEW: the log signed a different root at size {size} than the checkpoint you kept; the operator has shown two versions of the log"
    )]
    SplitView { size: u64 },
}

/// What a verified bundle established.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verified {
    pub origin: String,
    pub tree_size: u64,
    pub root: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_tree_size: Option<u64>,
}

impl ProofBundle {
    /// Check that this bundle proves from `kept`, a signed checkpoint the auditor saved earlier:
    /// a checkpoint in the bundle at the kept size must have the kept root (else it is a split
    /// view), and the bundle must start from the kept size. Call after [`ProofBundle::verify`].
    pub fn extends_kept(&self, verifier: &NoteVerifier, kept: &str) -> Result<(), BundleError> {
        let body = verifier.open(kept)?;
        let kept = Checkpoint::parse_body(body)?;
        let notes: Vec<&str> = match self {
            ProofBundle::Inclusion(b) => vec![b.checkpoint.as_str()],
            ProofBundle::Consistency(b) => {
                vec![b.old_checkpoint.as_str(), b.new_checkpoint.as_str()]
            }
        };
        let mut sizes = Vec::new();
        for note in notes {
            let checkpoint = Checkpoint::parse_body(verifier.open(note)?)?;
            if checkpoint.origin != kept.origin {
                return Err(BundleError::OriginMismatch);
            }
            if checkpoint.size == kept.size {
                if checkpoint.root != kept.root {
                    return Err(BundleError::SplitView { size: kept.size });
                }
                return Ok(());
            }
            sizes.push(checkpoint.size);
        }
        Err(BundleError::Kept(format!(
            "the bundle is for tree size(s) {sizes:?}, not the size {} you kept; ask for `warden ledger proof --since {}` to prove the log extends your checkpoint",
            kept.size, kept.size
        )))
    }
}

/// Encode hashes for a bundle.
pub fn encode_hashes(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|hash| BASE64.encode(hash)).collect()
}

fn decode_hashes(encoded: &[String]) -> Result<Vec<Hash>, BundleError> {
    encoded
        .iter()
        .enumerate()
        .map(|(position, text)| {
            BASE64
                .decode(text)
                .ok()
                .and_then(|bytes| Hash::try_from(bytes).ok())
                .ok_or(BundleError::BadHash(position))
        })
        .collect()
}

impl ProofBundle {
    /// Check the bundle against the log's verifier key. `origin`, when given, must match.
    pub fn verify(
        &self,
        verifier: &NoteVerifier,
        origin: Option<&str>,
    ) -> Result<Verified, BundleError> {
        match self {
            ProofBundle::Inclusion(bundle) => {
                let checkpoint = Checkpoint::open(&bundle.checkpoint, verifier, origin)?;
                let claimed = serde_json::from_str::<serde_json::Value>(&bundle.entry)
                    .ok()
                    .and_then(|value| value.get("index").and_then(serde_json::Value::as_u64));
                if let Some(claimed) = claimed
                    && claimed != bundle.index
                {
                    return Err(BundleError::IndexMismatch {
                        claimed,
                        index: bundle.index,
                    });
                }
                let path = decode_hashes(&bundle.path)?;
                merkle::verify_inclusion(
                    bundle.index,
                    checkpoint.size,
                    &leaf_hash(bundle.entry.as_bytes()),
                    &path,
                    &checkpoint.root,
                )?;
                Ok(Verified {
                    origin: checkpoint.origin,
                    tree_size: checkpoint.size,
                    root: BASE64.encode(checkpoint.root),
                    index: Some(bundle.index),
                    old_tree_size: None,
                })
            }
            ProofBundle::Consistency(bundle) => {
                let old = Checkpoint::open(&bundle.old_checkpoint, verifier, origin)?;
                let new = Checkpoint::open(&bundle.new_checkpoint, verifier, origin)?;
                if old.origin != new.origin {
                    return Err(BundleError::OriginMismatch);
                }
                let path = decode_hashes(&bundle.path)?;
                merkle::verify_consistency(old.size, new.size, &old.root, &new.root, &path)?;
                Ok(Verified {
                    origin: new.origin,
                    tree_size: new.size,
                    root: BASE64.encode(new.root),
                    index: None,
                    old_tree_size: Some(old.size),
                })
            }
        }
    }
}
