//! The ledger service: appends (with group commit), entries, signed checkpoints, proofs, audit.
//!
//! Concurrent [`Ledger::append`] calls in one process are coalesced by a single writer task into
//! one transaction per batch; appends from other processes serialise on the database's lock.
//! Either way each entry gets exactly one index and the tree never forks.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::audit::{AuditReport, audit};
use crate::entry::{Entry, EntryDraft, EntryError, SealedEntry, now_rfc3339};
use crate::merkle::{self, Hash, NodeId, decompose, fold};
use crate::note::{Checkpoint, NoteError, NoteSigner, NoteVerifier};
use crate::proof::{ConsistencyBundle, InclusionBundle, encode_hashes};
use crate::store::{LedgerStore, Store, StoreError, StoredCheckpoint};

/// Most drafts the writer task commits in one transaction.
const MAX_GROUP: usize = 512;
/// Most entries one listing returns.
pub const MAX_PAGE: u64 = 1000;

/// Why a ledger operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    InvalidEntry(#[from] EntryError),
    #[error("{0}")]
    OutOfRange(String),
    #[error("signing the checkpoint failed: {0}")]
    Signing(#[from] NoteError),
    #[error("the ledger writer has stopped; restart Warden")]
    WriterStopped,
}

type Reply = oneshot::Sender<Result<SealedEntry, StoreError>>;

/// A transparency log over a store, signed by the instance key.
#[derive(Clone)]
pub struct Ledger {
    store: Arc<dyn Store>,
    signer: Arc<NoteSigner>,
    origin: String,
    writer: mpsc::Sender<(EntryDraft, Reply)>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("origin", &self.origin)
            .field("backend", &self.store.backend())
            .finish()
    }
}

impl Ledger {
    /// Start a ledger over `store`. Spawns the writer task, so call it inside a Tokio runtime.
    pub fn new(store: Arc<dyn Store>, signer: NoteSigner, origin: String) -> Self {
        let (writer, inbox) = mpsc::channel(MAX_GROUP * 4);
        tokio::spawn(write_loop(Arc::clone(&store), inbox));
        Self {
            store,
            signer: Arc::new(signer),
            origin,
            writer,
        }
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The verifier key outsiders use to check checkpoints.
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Append one entry; concurrent calls share a transaction.
    pub async fn append(&self, draft: EntryDraft) -> Result<SealedEntry, LedgerError> {
        draft.validate()?;
        let (reply, answer) = oneshot::channel();
        self.writer
            .send((draft, reply))
            .await
            .map_err(|_| LedgerError::WriterStopped)?;
        Ok(answer.await.map_err(|_| LedgerError::WriterStopped)??)
    }

    /// Append many entries in one transaction, in order; all or nothing.
    pub async fn append_batch(
        &self,
        drafts: &[EntryDraft],
    ) -> Result<Vec<SealedEntry>, LedgerError> {
        Ok(self.store.append(drafts).await?)
    }

    /// Number of entries.
    pub async fn size(&self) -> Result<u64, LedgerError> {
        Ok(self.store.size().await?)
    }

    /// Up to `limit` (at most [`MAX_PAGE`]) decoded entries from index `start`.
    pub async fn entries(&self, start: u64, limit: u64) -> Result<Vec<Entry>, LedgerError> {
        let end = start.saturating_add(limit.clamp(1, MAX_PAGE));
        self.store
            .entries(start, end)
            .await?
            .into_iter()
            .map(|(index, text)| {
                Entry::parse(&text).map_err(|e| {
                    LedgerError::Store(StoreError::Corrupt(format!(
                        "entry {index} does not decode: {e}"
                    )))
                })
            })
            .collect()
    }

    /// The signed checkpoint for the current size, signing one if none exists yet.
    pub async fn checkpoint(&self) -> Result<StoredCheckpoint, LedgerError> {
        let size = self.size().await?;
        self.checkpoint_at(size).await
    }

    /// The signed checkpoint at `size` (≤ current size), signing one if none exists yet.
    pub async fn checkpoint_at(&self, size: u64) -> Result<StoredCheckpoint, LedgerError> {
        let current = self.size().await?;
        if size > current {
            return Err(LedgerError::OutOfRange(format!(
                "tree size {size} is larger than the ledger ({current} entries)"
            )));
        }
        if let Some(stored) = self.store.checkpoint_at(size).await? {
            return Ok(stored);
        }
        let root = self
            .range_hashes(&[(0, size)])
            .await?
            .pop()
            .unwrap_or_else(merkle::empty_root);
        let note = self.signer.sign(
            &Checkpoint {
                origin: self.origin.clone(),
                size,
                root,
            }
            .body(),
        )?;
        let stored = StoredCheckpoint {
            size,
            root,
            note,
            created_at: now_rfc3339(),
        };
        self.store.put_checkpoint(&stored).await?;
        // A concurrent signer may have stored its own first; return whichever the store kept.
        Ok(self.store.checkpoint_at(size).await?.unwrap_or(stored))
    }

    /// Inclusion proof of entry `index` at tree size `size` (default: current size).
    pub async fn inclusion(
        &self,
        index: u64,
        size: Option<u64>,
    ) -> Result<InclusionBundle, LedgerError> {
        let checkpoint = match size {
            Some(size) => self.checkpoint_at(size).await?,
            None => self.checkpoint().await?,
        };
        if index >= checkpoint.size {
            return Err(LedgerError::OutOfRange(format!(
                "entry {index} is not in a tree of {} entries",
                checkpoint.size
            )));
        }
        let entry = self
            .store
            .entries(index, index + 1)
            .await?
            .pop()
            .map(|(_, text)| text)
            .ok_or_else(|| {
                LedgerError::Store(StoreError::Corrupt(format!("entry {index} is missing")))
            })?;
        let path = self
            .range_hashes(&merkle::inclusion_ranges(index, checkpoint.size))
            .await?;
        Ok(InclusionBundle {
            index,
            entry,
            path: encode_hashes(&path),
            checkpoint: checkpoint.note,
        })
    }

    /// Consistency proof from tree size `old` to `new` (default: current size).
    pub async fn consistency(
        &self,
        old: u64,
        new: Option<u64>,
    ) -> Result<ConsistencyBundle, LedgerError> {
        let new_checkpoint = match new {
            Some(size) => self.checkpoint_at(size).await?,
            None => self.checkpoint().await?,
        };
        if old > new_checkpoint.size {
            return Err(LedgerError::OutOfRange(format!(
                "old size {old} is larger than new size {}",
                new_checkpoint.size
            )));
        }
        let old_checkpoint = self.checkpoint_at(old).await?;
        let path = self
            .range_hashes(&merkle::consistency_ranges(old, new_checkpoint.size))
            .await?;
        Ok(ConsistencyBundle {
            old_checkpoint: old_checkpoint.note,
            new_checkpoint: new_checkpoint.note,
            path: encode_hashes(&path),
        })
    }

    /// Recompute everything from the stored entries; see [`crate::audit`].
    pub async fn audit(&self) -> Result<AuditReport, LedgerError> {
        let store: &dyn LedgerStore = &*self.store;
        Ok(audit(store, &self.verifier(), &self.origin).await?)
    }

    /// `MTH` of each range, fetching every needed subtree hash in one query.
    async fn range_hashes(&self, ranges: &[(u64, u64)]) -> Result<Vec<Hash>, LedgerError> {
        let parts: Vec<Vec<NodeId>> = ranges
            .iter()
            .map(|&(start, end)| decompose(start, end))
            .collect();
        let mut wanted: Vec<NodeId> = parts.iter().flatten().copied().collect();
        wanted.sort_unstable();
        wanted.dedup();
        let found = self.store.nodes(&wanted).await?;
        parts
            .iter()
            .map(|ids| {
                let hashes: Option<Vec<Hash>> =
                    ids.iter().map(|id| found.get(id).copied()).collect();
                hashes.map(|hashes| fold(&hashes)).ok_or_else(|| {
                    LedgerError::Store(StoreError::Corrupt(
                        "a Merkle subtree needed for the proof is missing".into(),
                    ))
                })
            })
            .collect()
    }
}

async fn write_loop(store: Arc<dyn Store>, mut inbox: mpsc::Receiver<(EntryDraft, Reply)>) {
    loop {
        let mut batch = Vec::with_capacity(MAX_GROUP);
        if inbox.recv_many(&mut batch, MAX_GROUP).await == 0 {
            return;
        }
        let (drafts, replies): (Vec<EntryDraft>, Vec<Reply>) = batch.into_iter().unzip();
        match store.append(&drafts).await {
            Ok(sealed) => {
                for (reply, entry) in replies.into_iter().zip(sealed) {
                    let _ = reply.send(Ok(entry));
                }
            }
            Err(error) => {
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}
