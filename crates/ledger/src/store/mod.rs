//! The store: small per-capability traits ([`LedgerStore`], [`KeyStore`], [`eval::EvalStore`]) with one
//! implementation per database ([`sqlite::SqliteStore`], [`postgres::PgStore`]).
//!
//! The database is chosen by URL: `sqlite://PATH` (the embedded default under the Warden home) or
//! `postgres://…`. Migrations for both live in `migrations/{sqlite,postgres}` with the same
//! numbering, are embedded in the binary and applied on connect.
//!
//! **Invariant:** a ledger append is one transaction holding the database's writer lock
//! (`BEGIN IMMEDIATE` on SQLite, a transaction-scoped advisory lock on PostgreSQL), so appends
//! from any number of tasks or processes are serialised and the tree never forks.

pub mod eval;
pub mod postgres;
pub mod sqlite;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use warden_core::Role;

use crate::entry::{EntryDraft, EntryError, SealedEntry};
use crate::merkle::{Frontier, Hash, NodeId, decompose};

/// A store failure, sorted by what the caller should do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached; retry once it is back.
    #[error(
        "the {backend} database is unavailable ({detail}); check that the server is running (PostgreSQL) or that the folder exists and is writable (SQLite), and that the URL is right"
    )]
    Unavailable {
        backend: &'static str,
        detail: String,
    },
    /// An entry failed validation; nothing was written.
    #[error(transparent)]
    InvalidEntry(#[from] EntryError),
    /// Stored data contradicts itself; `warden ledger verify` says where.
    #[error(
        "stored ledger data is inconsistent: {0}; run `warden ledger verify` to locate the damage"
    )]
    Corrupt(String),
    /// The URL names no supported database.
    #[error(
        "unsupported database URL `{0}`: use sqlite://PATH or postgres://USER@HOST/DB (set WARDEN_DATABASE_URL or [database] url in warden.toml)"
    )]
    UnsupportedUrl(String),
    /// Applying migrations failed.
    #[error("could not apply database migrations: {0}")]
    Migration(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(String),
}

impl StoreError {
    fn from_sqlx(backend: &'static str, error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable {
                backend,
                detail: error.to_string(),
            },
            sqlx::Error::Database(db)
                if db.code().is_some_and(|code| {
                    code.starts_with("08") || code.starts_with("57P") || code == "3D000"
                }) =>
            {
                StoreError::Unavailable {
                    backend,
                    detail: db.to_string(),
                }
            }
            other => StoreError::Database(other.to_string()),
        }
    }
}

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

/// Every capability of one database.
#[async_trait]
pub trait Store: LedgerStore + KeyStore + eval::EvalStore {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Tables and columns as the database reports them, in logical types, for schema parity.
    async fn describe(&self) -> Result<Vec<ColumnInfo>, StoreError>;
    /// Run one SQL statement behind the store's back. Only for tests that tamper with rows the
    /// way an attacker with database access would.
    #[doc(hidden)]
    async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError>;
}

/// One column of the logical schema.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ColumnInfo {
    pub table: String,
    pub column: String,
    /// `integer`, `text` or `bytes`.
    pub logical_type: String,
    pub nullable: bool,
    pub primary_key: bool,
}

/// Open the database at `url` and apply migrations.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(redact_url(url)))
    }
}

/// The URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
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

fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value)
        .map_err(|_| StoreError::Database(format!("index {value} exceeds the database's range")))
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
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://warden:s3cret@db:5432/w"),
            "postgres://warden:***@db:5432/w"
        );
        assert_eq!(
            redact_url("postgres://warden@db/w"),
            "postgres://warden@db/w"
        );
        assert_eq!(redact_url("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
        let err = StoreError::UnsupportedUrl(redact_url("mysql://u:pw@h/db"));
        assert!(!err.to_string().contains("pw"));
    }

    #[test]
    fn roles_round_trip_through_text() {
        let roles = vec![Role::Admin, Role::ExternalEvaluator];
        assert_eq!(roles_from_text(&roles_to_text(&roles)).unwrap(), roles);
        assert!(roles_from_text("admin,root").is_err());
    }
}
