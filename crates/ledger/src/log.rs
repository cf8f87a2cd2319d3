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
    /// The database does not hold the tree this key has signed: missing, emptied, swapped for
    /// another or rolled back to an older backup.
    #[error("{0}")]
    Fork(String),
}

/// Where the checkpoints a key has signed are kept outside the database (the home's
/// `ledger.checkpoint`) and published. The ledger refuses to sign, or to open, a tree that does
/// not extend the latest one recorded here.
pub trait Witness: Send + Sync + std::fmt::Debug {
    /// The latest recorded checkpoint, as a signed note.
    fn latest(&self) -> Result<Option<String>, String>;
    /// Record (and publish) a newly signed checkpoint of `size` entries.
    fn record(&self, size: u64, note: &str) -> Result<(), String>;
}

type Reply = oneshot::Sender<Result<SealedEntry, StoreError>>;

/// A transparency log over a store, signed by the instance key.
#[derive(Clone)]
pub struct Ledger {
    store: Arc<dyn Store>,
    signer: Arc<NoteSigner>,
    origin: String,
    writer: mpsc::Sender<(EntryDraft, Reply)>,
    witness: Option<Arc<dyn Witness>>,
    /// Serialises checkpoint signing in this process, so the witness only moves forward.
    signing: Arc<tokio::sync::Mutex<()>>,
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
            witness: None,
            signing: Arc::default(),
        }
    }

    /// Keep every signed checkpoint with `witness`, and check the tree against it.
    pub fn with_witness(mut self, witness: Arc<dyn Witness>) -> Self {
        self.witness = Some(witness);
        self
    }

    /// The latest checkpoint the witness holds, checked against this log's key.
    fn witnessed(&self) -> Result<Option<(Checkpoint, String)>, LedgerError> {
        let Some(witness) = &self.witness else {
            return Ok(None);
        };
        let Some(note) = witness.latest().map_err(LedgerError::Fork)? else {
            return Ok(None);
        };
        let body = self.verifier().open(&note).map_err(|e| {
            LedgerError::Fork(format!(
                "the recorded latest checkpoint (ledger.checkpoint in the home) does not verify with this instance's key ({e}); restore it from a backup of this home"
            ))
        })?;
        let checkpoint = Checkpoint::parse_body(body).map_err(|e| {
            LedgerError::Fork(format!("the recorded latest checkpoint is unreadable: {e}"))
        })?;
        Ok(Some((checkpoint, note)))
    }

    /// Check that the database holds the tree the key has signed: at least as many entries as
    /// the latest recorded checkpoint, with the same root at that size. A home that recorded no
    /// checkpoint yet (made before checkpoints were kept outside the database) records the
    /// latest one the database holds.
    pub async fn check_continuity(&self) -> Result<(), LedgerError> {
        let Some(witness) = &self.witness else {
            return Ok(());
        };
        let Some((signed, _)) = self.witnessed()? else {
            if let Some(latest) = self.store.checkpoints().await?.pop() {
                witness
                    .record(latest.size, &latest.note)
                    .map_err(LedgerError::Fork)?;
            }
            return Ok(());
        };
        let size = self.size().await?;
        let backend = self.store.backend();
        if size < signed.size {
            return Err(LedgerError::Fork(format!(
                "the {backend} database holds {size} ledger entries, but this home's key has signed a checkpoint of {} entries (ledger.checkpoint): the database is missing, emptied or an older backup, and starting afresh would fork the log. Restore the current database; to go back to an older backup on purpose, run `warden ledger accept-rollback --reason TEXT`, which records it",
                signed.size
            )));
        }
        let root = self
            .range_hashes(&[(0, signed.size)])
            .await?
            .pop()
            .unwrap_or_else(merkle::empty_root);
        if root != signed.root {
            return Err(LedgerError::Fork(format!(
                "the {backend} database's first {} entries are not the tree this home's key signed (ledger.checkpoint): it is another log or a rewritten one. Restore the right database, or run `warden ledger verify` against it to see where it differs",
                signed.size
            )));
        }
        Ok(())
    }

    /// Accept that the database is an older state than the latest signed checkpoint (a restored
    /// backup): record the acknowledgement, with the checkpoint being abandoned, in the ledger,
    /// and sign on from the database as it is.
    pub async fn accept_rollback(
        &self,
        reason: &str,
        actor: &str,
    ) -> Result<SealedEntry, LedgerError> {
        let Some((signed, note)) = self.witnessed()? else {
            return Err(LedgerError::OutOfRange(
                "this home has recorded no signed checkpoint, so there is no rollback to accept"
                    .into(),
            ));
        };
        if self.check_continuity().await.is_ok() {
            return Err(LedgerError::OutOfRange(
                "the database extends the latest signed checkpoint; there is no rollback to accept"
                    .into(),
            ));
        }
        if reason.trim().is_empty() {
            return Err(LedgerError::OutOfRange(
                "say why the older state is accepted (--reason)".into(),
            ));
        }
        let entry = self
            .append(EntryDraft::now(
                "ledger.rollback_accepted",
                actor,
                format!("checkpoint:{}", signed.size),
                serde_json::json!({
                    "abandoned_checkpoint": note,
                    "abandoned_size": signed.size,
                    "database_size": self.size().await?,
                    "reason": reason,
                }),
            ))
            .await?;
        let _guard = self.signing.lock().await;
        let stored = self.sign_at(entry.index + 1).await?;
        if let Some(witness) = &self.witness {
            witness
                .record(stored.size, &stored.note)
                .map_err(LedgerError::Fork)?;
        }
        Ok(entry)
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The verifier key outsiders use to check checkpoints.
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }

    /// Sign `statement` (newline-terminated, no blank line) with the instance key as a signed
    /// note: the `authority` of records a fold must be able to tell from rows written straight
    /// into the database (grants, signing keys, gate proposals and assessments).
    pub fn countersign(&self, statement: &str) -> Result<String, LedgerError> {
        Ok(self.signer.sign(statement)?)
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

    /// Append one entry through the generic surface (`POST /v1/ledger/entries`,
    /// `warden ledger append`): kinds a capability reserves are refused.
    pub async fn append_generic(&self, draft: EntryDraft) -> Result<SealedEntry, LedgerError> {
        draft.validate_generic()?;
        self.append(draft).await
    }

    /// Append many entries through the generic surface, in one transaction; all or nothing.
    pub async fn append_batch_generic(
        &self,
        drafts: &[EntryDraft],
    ) -> Result<Vec<SealedEntry>, LedgerError> {
        for draft in drafts {
            draft.validate_generic()?;
        }
        self.append_batch(drafts).await
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

    /// Every entry from `start` up to the size the ledger had when the call began whose kind
    /// `wanted` accepts, and that size: fold up to it and resume from it, so an entry appended
    /// between two reads is never skipped.
    pub async fn scan(
        &self,
        start: u64,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<(Vec<Entry>, u64), LedgerError> {
        let size = self.size().await?;
        let mut out = Vec::new();
        // The walk never breaks; it stops at `size`, the resume point whatever it read.
        let _ = crate::query::walk(self, start, Some(size), |entry| {
            if wanted(&entry.kind) {
                out.push(entry);
            }
            std::ops::ControlFlow::Continue(())
        })
        .await?;
        Ok((out, size.max(start)))
    }

    /// The identities the ledger records (keys, people, signing keys), folded and checked
    /// against this instance's key.
    pub async fn access_state(&self) -> Result<crate::access::AccessState, LedgerError> {
        let mut state = crate::access::AccessState::new(self.verifier(), self.origin.clone());
        let (entries, _) = self.scan(0, |kind| kind.starts_with("access.")).await?;
        for entry in &entries {
            state.apply(entry.index, &entry.kind, &entry.subject, &entry.payload);
        }
        Ok(state)
    }

    /// The signed checkpoint for the current size, signing one if none exists yet.
    pub async fn checkpoint(&self) -> Result<StoredCheckpoint, LedgerError> {
        let size = self.size().await?;
        self.checkpoint_at(size).await
    }

    /// The signed checkpoint at `size` (≤ current size), signing one if none exists yet. With a
    /// witness, nothing is signed unless the tree extends the latest recorded checkpoint, so the
    /// key never signs two roots for one size; a new largest checkpoint is recorded and published.
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
        let _guard = self.signing.lock().await;
        self.check_continuity().await?;
        let stored = self.sign_at(size).await?;
        if let Some(witness) = &self.witness {
            let newer = self
                .witnessed()?
                .is_none_or(|(signed, _)| stored.size > signed.size);
            if newer {
                witness
                    .record(stored.size, &stored.note)
                    .map_err(LedgerError::Fork)?;
            }
        }
        Ok(stored)
    }

    async fn sign_at(&self, size: u64) -> Result<StoredCheckpoint, LedgerError> {
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
