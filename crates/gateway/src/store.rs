//! Decision records ([`DecisionStore`]), owned by this crate: the `guard_decisions` table, its
//! migrations ([`MIGRATIONS`], versions 2000–2999) and its SQL, the same text on SQLite and
//! PostgreSQL. Decision records are operational data with a retention period, not ledger
//! entries: they never take the ledger's append lock.

use std::sync::Arc;

use async_trait::async_trait;
use warden_store::{Db, StoreError};

/// One stored decision. `record` is the JSON [`crate::decision::Decision`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionRow {
    pub id: String,
    /// UTC RFC 3339 with a fixed width, so text order is time order.
    pub at: String,
    pub model: String,
    pub action: String,
    pub status: i64,
    pub record: String,
}

/// Decision records.
#[async_trait]
pub trait DecisionStore: Send + Sync {
    /// Store a batch in one transaction; ids already present are left alone.
    async fn put_decisions(&self, rows: &[DecisionRow]) -> Result<(), StoreError>;
    /// Records at or after `since` (RFC 3339), newest first, at most `limit`.
    async fn decisions(&self, since: &str, limit: i64) -> Result<Vec<DecisionRow>, StoreError>;
    /// Delete records before `before`; returns how many.
    async fn prune_decisions(&self, before: &str) -> Result<u64, StoreError>;
}

/// This crate's migrations.
pub static MIGRATIONS: warden_store::Migrations = warden_store::Migrations {
    owner: "warden-gateway",
    sqlite: sqlx::migrate!("./migrations/sqlite"),
    postgres: sqlx::migrate!("./migrations/postgres"),
};

/// The decision store on `db`.
pub fn open(db: &Db) -> Arc<dyn DecisionStore> {
    match db {
        Db::Sqlite(pool) => Arc::new(sqlite::SqliteDecisions { pool: pool.clone() }),
        Db::Postgres(pool) => Arc::new(postgres::PgDecisions { pool: pool.clone() }),
    }
}

macro_rules! impl_decision_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::DecisionStore for $store {
            async fn put_decisions(
                &self,
                rows: &[$crate::store::DecisionRow],
            ) -> Result<(), StoreError> {
                if rows.is_empty() {
                    return Ok(());
                }
                let mut tx = self.begin_write().await?;
                for row in rows {
                    sqlx::query(
                        "INSERT INTO guard_decisions (id, at, model, action, status, record) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(&row.id)
                    .bind(&row.at)
                    .bind(&row.model)
                    .bind(&row.action)
                    .bind(row.status)
                    .bind(&row.record)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
                }
                tx.commit().await.map_err(err)
            }

            async fn decisions(
                &self,
                since: &str,
                limit: i64,
            ) -> Result<Vec<$crate::store::DecisionRow>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id, at, model, action, status, record FROM guard_decisions \
                     WHERE at >= $1 ORDER BY at DESC, id DESC LIMIT $2",
                )
                .bind(since)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
                .map_err(err)?;
                rows.iter()
                    .map(|row| {
                        Ok($crate::store::DecisionRow {
                            id: row.try_get("id").map_err(err)?,
                            at: row.try_get("at").map_err(err)?,
                            model: row.try_get("model").map_err(err)?,
                            action: row.try_get("action").map_err(err)?,
                            status: row.try_get("status").map_err(err)?,
                            record: row.try_get("record").map_err(err)?,
                        })
                    })
                    .collect()
            }

            async fn prune_decisions(&self, before: &str) -> Result<u64, StoreError> {
                Ok(sqlx::query("DELETE FROM guard_decisions WHERE at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await
                    .map_err(err)?
                    .rows_affected())
            }
        }
    };
}

mod sqlite {
    use sqlx::{Row as _, Sqlite, SqlitePool, Transaction};
    use warden_store::StoreError;

    fn err(error: sqlx::Error) -> StoreError {
        StoreError::from_sqlx("sqlite", error)
    }

    pub(super) struct SqliteDecisions {
        pub(super) pool: SqlitePool,
    }

    impl SqliteDecisions {
        async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
            self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(err)
        }
    }

    impl_decision_store!(SqliteDecisions);
}

mod postgres {
    use sqlx::{PgPool, Postgres, Row as _, Transaction};
    use warden_store::StoreError;

    fn err(error: sqlx::Error) -> StoreError {
        StoreError::from_sqlx("postgres", error)
    }

    pub(super) struct PgDecisions {
        pub(super) pool: PgPool,
    }

    impl PgDecisions {
        async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
            self.pool.begin().await.map_err(err)
        }
    }

    impl_decision_store!(PgDecisions);
}
