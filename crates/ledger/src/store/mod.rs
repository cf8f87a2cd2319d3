//! The ledger's own storage: [`LedgerStore`] (entries, tree nodes, checkpoints) and [`KeyStore`]
//! (API keys, whose grants and revocations are ledger entries in the same transaction), with one
//! implementation per database ([`sqlite::SqliteStore`], [`postgres::PgStore`]) built on the
//! shared handle of `warden-store` ([`open`]). The migrations in `migrations/{sqlite,postgres}`
//! ([`MIGRATIONS`]) hold versions 1 and 3–999.
//!
//! **Invariant:** a ledger append is one transaction holding the database's writer lock
//! (`BEGIN IMMEDIATE` on SQLite, a transaction-scoped advisory lock on PostgreSQL), so appends
//! from any number of tasks or processes are serialised and the tree never forks.

pub mod postgres;
pub mod sqlite;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use warden_core::Role;

use crate::entry::{EntryDraft, SealedEntry};
use crate::merkle::{Frontier, Hash, NodeId, decompose};

pub use warden_store::{Db, StoreError, redact_url, to_i64};

/// A signed checkpoint as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: Hash,
    pub note: String,
    pub created_at: String,
}

/// The transparency ledger's rows. Only appends; no method updates or deletes.
#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// Append `drafts` in order, in one transaction; all or nothing.
    async fn append(&self, drafts: &[EntryDraft]) -> Result<Vec<SealedEntry>, StoreError>;
    /// Number of entries (one past the highest index).
    async fn size(&self) -> Result<u64, StoreError>;
    /// Stored `(index, canonical text)` rows with `start <= index < end`, in index order.
    async fn entries(&self, start: u64, end: u64) -> Result<Vec<(u64, String)>, StoreError>;
    /// Hashes of the given perfect subtrees; absent ones are missing from the map.
    async fn nodes(&self, ids: &[NodeId]) -> Result<HashMap<NodeId, Hash>, StoreError>;
    /// Every stored subtree hash, for a full audit.
    async fn all_nodes(&self) -> Result<Vec<(NodeId, Hash)>, StoreError>;
    /// Record a signed checkpoint; a second one at the same size is ignored.
    async fn put_checkpoint(&self, checkpoint: &StoredCheckpoint) -> Result<(), StoreError>;
    /// The stored checkpoint at `size`, if any.
    async fn checkpoint_at(&self, size: u64) -> Result<Option<StoredCheckpoint>, StoreError>;
    /// Every stored checkpoint, smallest first.
    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError>;
}

/// An API key as stored: never the secret, only its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub name: String,
    /// The person the key was issued to, case-folded ([`crate::access::person_id`]).
    pub person: String,
    /// The first characters of the secret, to recognise a key in lists.
    pub prefix: String,
    pub secret_hash: Hash,
    pub roles: Vec<Role>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// API keys. Each change is recorded in the ledger in the same transaction.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Store a new key and append `event` to the ledger, atomically.
    async fn insert_key(
        &self,
        key: &ApiKeyRecord,
        event: &EntryDraft,
    ) -> Result<SealedEntry, StoreError>;
    /// The key whose secret hashes to `secret_hash`.
    async fn key_by_hash(&self, secret_hash: &Hash) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// The key with this id.
    async fn key_by_id(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// Every key, oldest first.
    async fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Mark a live key revoked and append `event`, atomically. `None` when no live key has this id.
    async fn revoke_key(
        &self,
        id: &str,
        at: &str,
        event: &EntryDraft,
    ) -> Result<Option<SealedEntry>, StoreError>;
}

/// The ledger's and the keys' storage on one database.
#[async_trait]
pub trait Store: LedgerStore + KeyStore {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Run one SQL statement behind the store's back, as an attacker with database access
    /// would (tamper tests only; feature `testing`).
    #[cfg(feature = "testing")]
    async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError>;
}

/// The ledger's migrations (versions 1 and 3–999).
pub static MIGRATIONS: warden_store::Migrations = warden_store::Migrations {
    owner: "warden-ledger",
    sqlite: sqlx::migrate!("./migrations/sqlite"),
    postgres: sqlx::migrate!("./migrations/postgres"),
};

/// The ledger's store on `db`.
pub fn open(db: &Db) -> Arc<dyn Store> {
    match db {
        Db::Sqlite(pool) => Arc::new(sqlite::SqliteStore::new(pool.clone())),
        Db::Postgres(pool) => Arc::new(postgres::PgStore::new(pool.clone())),
    }
}

/// Connect to `url` for the ledger's tables alone (tests and tools that need nothing else);
/// other capabilities' tables and migrations in the same database are left alone.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    Ok(open(
        &warden_store::connect_part(url, &[&MIGRATIONS]).await?,
    ))
}

/// What an append writes, planned from the tree's right edge before any row is inserted.
pub(crate) struct AppendPlan {
    pub entries: Vec<SealedEntry>,
    pub nodes: Vec<(NodeId, Hash)>,
}

/// Seal `drafts` from index `size` on and compute the subtrees they complete.
pub(crate) fn plan_append(
    size: u64,
    frontier: &HashMap<NodeId, Hash>,
    drafts: &[EntryDraft],
) -> Result<AppendPlan, StoreError> {
    let ids = decompose(0, size);
    let hashes: Option<Vec<Hash>> = ids.iter().map(|id| frontier.get(id).copied()).collect();
    let mut tree = hashes
        .and_then(|hashes| Frontier::from_parts(size, hashes))
        .ok_or_else(|| {
            StoreError::Corrupt(format!(
                "the Merkle subtrees covering the first {size} entries are missing"
            ))
        })?;
    let mut entries = Vec::with_capacity(drafts.len());
    let mut nodes = Vec::with_capacity(drafts.len() * 2);
    for (offset, draft) in drafts.iter().enumerate() {
        let sealed = draft.seal(size + offset as u64)?;
        tree.push(sealed.leaf, &mut nodes);
        entries.push(sealed);
    }
    Ok(AppendPlan { entries, nodes })
}

/// The stored person, or (for keys made before keys recorded people) one named after the key.
fn person_or_name(person: Option<String>, name: String) -> String {
    person.unwrap_or_else(|| crate::access::person_id(&name))
}

fn to_hash(bytes: Vec<u8>) -> Result<Hash, StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("a stored hash is not 32 bytes".into()))
}

fn roles_to_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|role| role.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn roles_from_text(text: &str) -> Result<Vec<Role>, StoreError> {
    text.split(',')
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse()
                .map_err(|e: warden_core::UnknownRole| StoreError::Corrupt(e.to_string()))
        })
        .collect()
}

/// Node ids as `[[level, index], …]` JSON, the single parameter the node lookup queries take.
fn node_ids_json(ids: &[NodeId]) -> String {
    let pairs: Vec<String> = ids
        .iter()
        .map(|id| format!("[{},{}]", id.level, id.index))
        .collect();
    format!("[{}]", pairs.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_text() {
        let roles = vec![Role::Admin, Role::ExternalEvaluator];
        assert_eq!(roles_from_text(&roles_to_text(&roles)).unwrap(), roles);
        assert!(roles_from_text("admin,root").is_err());
    }
}
