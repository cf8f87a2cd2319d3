//! The PostgreSQL store, chosen by `WARDEN_DATABASE_URL=postgres://…`. Appends serialise on a
//! transaction-scoped advisory lock, so writers on many hosts share one tree.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Postgres, Row, Transaction};

use super::{
    ApiKeyRecord, AppendPlan, KeyStore, LedgerStore, Store, StoreError, StoredCheckpoint,
    node_ids_json, person_or_name, plan_append, roles_from_text, roles_to_text, to_hash, to_i64,
};
use crate::entry::{EntryDraft, SealedEntry};
use crate::merkle::{Hash, NodeId, decompose};

const BACKEND: &str = "postgres";
/// Advisory lock key held by every ledger append ("WARDEN" in ASCII).
const APPEND_LOCK: i64 = 0x5741_5244_454E;

fn err(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(BACKEND, error)
}

/// PostgreSQL implementation of every store trait.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// The ledger's store over an open pool (see [`super::open`]).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(err)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(APPEND_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        Ok(tx)
    }
}

async fn size_in(executor: impl sqlx::PgExecutor<'_>) -> Result<u64, StoreError> {
    let next: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(idx) + 1, 0)::BIGINT FROM ledger_entries")
            .fetch_one(executor)
            .await
            .map_err(err)?;
    Ok(next as u64)
}

async fn nodes_in(
    executor: impl sqlx::PgExecutor<'_>,
    ids: &[NodeId],
) -> Result<HashMap<NodeId, Hash>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query(
        // The LIMIT keeps the planner from turning this into a hash join over the whole table:
        // each id becomes one primary-key lookup, so the cost stays O(ids), not O(tree).
        "SELECT n.level, n.idx, n.hash FROM jsonb_array_elements($1::TEXT::JSONB) AS j(v) \
         CROSS JOIN LATERAL (SELECT level, idx, hash FROM ledger_nodes \
                             WHERE level = (j.v ->> 0)::INTEGER AND idx = (j.v ->> 1)::BIGINT LIMIT 1) AS n",
    )
    .bind(node_ids_json(ids))
    .fetch_all(executor)
    .await
    .map_err(err)?;
    rows.iter().map(node_from_row).collect()
}

fn node_from_row(row: &PgRow) -> Result<(NodeId, Hash), StoreError> {
    let level: i32 = row.try_get(0).map_err(err)?;
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
    tx: &mut Transaction<'static, Postgres>,
    drafts: &[EntryDraft],
) -> Result<Vec<SealedEntry>, StoreError> {
    let size = size_in(&mut **tx).await?;
    let frontier = nodes_in(&mut **tx, &decompose(0, size)).await?;
    let AppendPlan { entries, nodes } = plan_append(size, &frontier, drafts)?;
    // One multi-row insert per table keeps a large batch to two round trips.
    let indexes: Vec<i64> = entries
        .iter()
        .map(|e| to_i64(e.index))
        .collect::<Result<_, _>>()?;
    let texts: Vec<&str> = entries.iter().map(|e| e.text.as_str()).collect();
    sqlx::query(
        "INSERT INTO ledger_entries (idx, entry) SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[])",
    )
    .bind(&indexes)
    .bind(&texts)
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    let levels: Vec<i32> = nodes.iter().map(|(id, _)| i32::from(id.level)).collect();
    let node_indexes: Vec<i64> = nodes
        .iter()
        .map(|(id, _)| to_i64(id.index))
        .collect::<Result<_, _>>()?;
    let hashes: Vec<Vec<u8>> = nodes.iter().map(|(_, hash)| hash.to_vec()).collect();
    sqlx::query("INSERT INTO ledger_nodes (level, idx, hash) SELECT * FROM UNNEST($1::INTEGER[], $2::BIGINT[], $3::BYTEA[])")
        .bind(&levels)
        .bind(&node_indexes)
        .bind(&hashes)
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    Ok(entries)
}

fn key_from_row(row: &PgRow) -> Result<ApiKeyRecord, StoreError> {
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

fn checkpoint_from_row(row: &PgRow) -> Result<StoredCheckpoint, StoreError> {
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
impl LedgerStore for PgStore {
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
        size_in(&self.pool).await
    }

    async fn entries(&self, start: u64, end: u64) -> Result<Vec<(u64, String)>, StoreError> {
        if start > i64::MAX as u64 {
            // No index the database can hold is that large.
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT idx, entry FROM ledger_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx",
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
            "INSERT INTO ledger_checkpoints (size, root, note, created_at) VALUES ($1, $2, $3, $4) \
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
            "SELECT size, root, note, created_at FROM ledger_checkpoints WHERE size = $1",
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
impl KeyStore for PgStore {
    async fn insert_key(
        &self,
        key: &ApiKeyRecord,
        event: &EntryDraft,
    ) -> Result<SealedEntry, StoreError> {
        event.validate()?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO api_keys (id, name, prefix, secret_hash, roles, created_at, revoked_at, person) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
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
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE secret_hash = $1"
        )))
        .bind(secret_hash.as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(err)?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn key_by_id(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"
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
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
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
impl Store for PgStore {
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
