//! The embedded SQLite store: one file under the Warden home, WAL journal, a busy timeout, and
//! `BEGIN IMMEDIATE` for every write so concurrent writers queue instead of failing.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::sqlite::SqlitePool;
use sqlx::{Row, Sqlite, Transaction};

use super::{
    ApiKeyRecord, AppendPlan, KeyStore, LedgerStore, Store, StoreError, StoredCheckpoint,
    node_ids_json, person_or_name, plan_append, roles_from_text, roles_to_text, to_hash, to_i64,
};
use crate::entry::{EntryDraft, SealedEntry};
use crate::merkle::{Hash, NodeId, decompose};

const BACKEND: &str = "sqlite";

fn err(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(BACKEND, error)
}

/// SQLite implementation of every store trait.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// The ledger's store over an open pool (see [`super::open`]).
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(err)
    }
}

async fn size_in(tx: &mut Transaction<'static, Sqlite>) -> Result<u64, StoreError> {
    let next: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(idx) + 1, 0) FROM ledger_entries")
        .fetch_one(&mut **tx)
        .await
        .map_err(err)?;
    Ok(next as u64)
}

async fn nodes_in(
    executor: impl sqlx::SqliteExecutor<'_>,
    ids: &[NodeId],
) -> Result<HashMap<NodeId, Hash>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query(
        "SELECT n.level, n.idx, n.hash FROM json_each(?1) AS j \
         JOIN ledger_nodes AS n ON n.level = j.value ->> 0 AND n.idx = j.value ->> 1",
    )
    .bind(node_ids_json(ids))
    .fetch_all(executor)
    .await
    .map_err(err)?;
    rows.iter().map(node_from_row).collect()
}

fn node_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<(NodeId, Hash), StoreError> {
    let level: i64 = row.try_get(0).map_err(err)?;
    let index: i64 = row.try_get(1).map_err(err)?;
    Ok((
        NodeId {
            level: level as u8,
            index: index as u64,
        },
        to_hash(row.try_get(2).map_err(err)?)?,
    ))
}

async fn append_in(
    tx: &mut Transaction<'static, Sqlite>,
    drafts: &[EntryDraft],
) -> Result<Vec<SealedEntry>, StoreError> {
    let size = size_in(tx).await?;
    let frontier = nodes_in(&mut **tx, &decompose(0, size)).await?;
    let AppendPlan { entries, nodes } = plan_append(size, &frontier, drafts)?;
    // Each statement costs a round trip to SQLite's worker thread, so a batch goes in as one
    // JSON array per table rather than one INSERT per row.
    let entry_rows: Vec<(u64, &str)> = entries.iter().map(|e| (e.index, e.text.as_str())).collect();
    sqlx::query("INSERT INTO ledger_entries (idx, entry) SELECT j.value ->> 0, j.value ->> 1 FROM json_each(?1) AS j")
        .bind(serde_json::to_string(&entry_rows).map_err(|e| StoreError::Database(e.to_string()))?)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    let node_rows: Vec<(u8, u64, String)> = nodes
        .iter()
        .map(|(id, hash)| (id.level, id.index, warden_core::hex::encode(hash)))
        .collect();
    sqlx::query(
        "INSERT INTO ledger_nodes (level, idx, hash) SELECT j.value ->> 0, j.value ->> 1, unhex(j.value ->> 2) FROM json_each(?1) AS j",
    )
    .bind(serde_json::to_string(&node_rows).map_err(|e| StoreError::Database(e.to_string()))?)
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    Ok(entries)
}

fn key_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<ApiKeyRecord, StoreError> {
    Ok(ApiKeyRecord {
        id: row.try_get("id").map_err(err)?,
        name: row.try_get("name").map_err(err)?,
        person: person_or_name(
            row.try_get("person").map_err(err)?,
            row.try_get("name").map_err(err)?,
        ),
        prefix: row.try_get("prefix").map_err(err)?,
        secret_hash: to_hash(row.try_get("secret_hash").map_err(err)?)?,
        roles: roles_from_text(row.try_get("roles").map_err(err)?)?,
        created_at: row.try_get("created_at").map_err(err)?,
        revoked_at: row.try_get("revoked_at").map_err(err)?,
    })
}

fn checkpoint_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<StoredCheckpoint, StoreError> {
    let size: i64 = row.try_get("size").map_err(err)?;
    Ok(StoredCheckpoint {
        size: size as u64,
        root: to_hash(row.try_get("root").map_err(err)?)?,
        note: row.try_get("note").map_err(err)?,
        created_at: row.try_get("created_at").map_err(err)?,
    })
}

const KEY_COLUMNS: &str = "id, name, person, prefix, secret_hash, roles, created_at, revoked_at";

#[async_trait]
impl LedgerStore for SqliteStore {
    async fn append(&self, drafts: &[EntryDraft]) -> Result<Vec<SealedEntry>, StoreError> {
        for draft in drafts {
            draft.validate()?;
        }
        let mut tx = self.begin_write().await?;
        let entries = append_in(&mut tx, drafts).await?;
        tx.commit().await.map_err(err)?;
        Ok(entries)
    }

    async fn size(&self) -> Result<u64, StoreError> {
        let next: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(idx) + 1, 0) FROM ledger_entries")
            .fetch_one(&self.pool)
            .await
            .map_err(err)?;
        Ok(next as u64)
    }

    async fn entries(&self, start: u64, end: u64) -> Result<Vec<(u64, String)>, StoreError> {
        if start > i64::MAX as u64 {
            // No index the database can hold is that large.
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT idx, entry FROM ledger_entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
        )
        .bind(to_i64(start)?)
        .bind(to_i64(end.min(i64::MAX as u64))?)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|row| {
                let index: i64 = row.try_get(0).map_err(err)?;
                Ok((index as u64, row.try_get(1).map_err(err)?))
            })
            .collect()
    }

    async fn nodes(&self, ids: &[NodeId]) -> Result<HashMap<NodeId, Hash>, StoreError> {
        nodes_in(&self.pool, ids).await
    }

    async fn all_nodes(&self) -> Result<Vec<(NodeId, Hash)>, StoreError> {
        let rows = sqlx::query("SELECT level, idx, hash FROM ledger_nodes ORDER BY level, idx")
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        rows.iter().map(node_from_row).collect()
    }

    async fn put_checkpoint(&self, checkpoint: &StoredCheckpoint) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO ledger_checkpoints (size, root, note, created_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (size) DO NOTHING",
        )
        .bind(to_i64(checkpoint.size)?)
        .bind(checkpoint.root.as_slice())
        .bind(&checkpoint.note)
        .bind(&checkpoint.created_at)
        .execute(&self.pool)
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn checkpoint_at(&self, size: u64) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = sqlx::query(
            "SELECT size, root, note, created_at FROM ledger_checkpoints WHERE size = ?1",
        )
        .bind(to_i64(size)?)
        .fetch_optional(&self.pool)
        .await
        .map_err(err)?;
        row.as_ref().map(checkpoint_from_row).transpose()
    }

    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let rows = sqlx::query(
            "SELECT size, root, note, created_at FROM ledger_checkpoints ORDER BY size",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        rows.iter().map(checkpoint_from_row).collect()
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_key(
        &self,
        key: &ApiKeyRecord,
        event: &EntryDraft,
    ) -> Result<SealedEntry, StoreError> {
        event.validate()?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO api_keys (id, name, prefix, secret_hash, roles, created_at, revoked_at, person) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(&key.id)
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(key.secret_hash.as_slice())
        .bind(roles_to_text(&key.roles))
        .bind(&key.created_at)
        .bind(&key.revoked_at)
        .bind(&key.person)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        let mut sealed = append_in(&mut tx, std::slice::from_ref(event)).await?;
        tx.commit().await.map_err(err)?;
        sealed
            .pop()
            .ok_or_else(|| StoreError::Database("append returned no entry".into()))
    }

    async fn key_by_hash(&self, secret_hash: &Hash) -> Result<Option<ApiKeyRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE secret_hash = ?1"
        )))
        .bind(secret_hash.as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(err)?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn key_by_id(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(err)?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        rows.iter().map(key_from_row).collect()
    }

    async fn revoke_key(
        &self,
        id: &str,
        at: &str,
        event: &EntryDraft,
    ) -> Result<Option<SealedEntry>, StoreError> {
        event.validate()?;
        let mut tx = self.begin_write().await?;
        let changed =
            sqlx::query("UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL")
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(err)?
                .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        let mut sealed = append_in(&mut tx, std::slice::from_ref(event)).await?;
        tx.commit().await.map_err(err)?;
        Ok(sealed.pop())
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    #[cfg(feature = "testing")]
    async fn execute_raw(&self, sql: &str) -> Result<u64, StoreError> {
        let result = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&self.pool)
            .await
            .map_err(err)?;
        Ok(result.rows_affected())
    }
}
