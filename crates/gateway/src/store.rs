//! Decision records ([`DecisionStore`]), owned by this crate: the `guard_decisions` table, its
//! migrations ([`MIGRATIONS`], versions 2000–2999) and its SQL, the same text on SQLite and
//! PostgreSQL. Decision records are operational data with a retention period, not ledger
//! entries: they never take the ledger's append lock.

use std::sync::Arc;

use async_trait::async_trait;
use warden_store::{Db, StoreError};

/// One stored decision. `record` is the JSON [`crate::decision::Decision`].
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct DecisionRow {
    pub id: String,
    /// UTC RFC 3339 with a fixed width, so text order is time order.
    pub at: String,
    pub model: String,
    /// The end user's pseudonym.
    #[sqlx(rename = "user_ref")]
    pub user: Option<String>,
    pub action: String,
    pub status: i64,
    pub record: String,
}

/// One sampled request in the review queue.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ReviewRow {
    pub decision_id: String,
    pub sampled_at: String,
    /// `blocked`, `flagged` or `passed`: what the gateway did.
    pub stratum: String,
    /// JSON list of the filters that found something.
    pub filters: String,
    /// JSON `{request, answer}`.
    pub content: String,
    /// `harmful` or `benign`, once a reviewer has looked.
    pub label: Option<String>,
    pub reviewer: Option<String>,
    pub labelled_at: Option<String>,
}

/// Decision records.
#[async_trait]
pub trait DecisionStore: Send + Sync {
    /// Store a batch in one transaction; ids already present are left alone.
    async fn put_decisions(&self, rows: &[DecisionRow]) -> Result<(), StoreError>;
    /// Records at or after `since` (RFC 3339), newest first, at most `limit`.
    async fn decisions(&self, since: &str, limit: i64) -> Result<Vec<DecisionRow>, StoreError>;
    /// Delete records (and sampled reviews and appeal texts) before `before`; returns how many
    /// decision records.
    async fn prune_decisions(&self, before: &str) -> Result<u64, StoreError>;
    /// `(id, at, action)` of one end user's requests at or after `since`.
    async fn user_actions(
        &self,
        user: &str,
        since: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError>;
    /// Keep an appeal's text.
    async fn put_appeal(
        &self,
        id: &str,
        user: &str,
        filed_at: &str,
        message: &str,
    ) -> Result<(), StoreError>;
    /// An appeal's text.
    async fn appeal_message(&self, id: &str) -> Result<Option<String>, StoreError>;
    /// Add sampled requests to the review queue (ids already there are left alone).
    async fn put_reviews(&self, rows: &[ReviewRow]) -> Result<(), StoreError>;
    /// Reviews, oldest first: only unlabelled ones when `pending`.
    async fn reviews(&self, pending: bool, limit: i64) -> Result<Vec<ReviewRow>, StoreError>;
    /// Label a sampled request; false when there is no such review.
    async fn label_review(
        &self,
        id: &str,
        label: &str,
        reviewer: &str,
        at: &str,
    ) -> Result<bool, StoreError>;
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
                        "INSERT INTO guard_decisions (id, at, model, user_ref, action, status, record) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(&row.id)
                    .bind(&row.at)
                    .bind(&row.model)
                    .bind(&row.user)
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
                sqlx::query_as(
                    "SELECT id, at, model, user_ref, action, status, record FROM guard_decisions \
                     WHERE at >= $1 ORDER BY at DESC, id DESC LIMIT $2",
                )
                .bind(since)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
                .map_err(err)
            }

            async fn prune_decisions(&self, before: &str) -> Result<u64, StoreError> {
                let mut tx = self.begin_write().await?;
                for statement in [
                    "DELETE FROM guard_reviews WHERE sampled_at < $1",
                    "DELETE FROM guard_appeals WHERE filed_at < $1",
                ] {
                    sqlx::query(statement)
                        .bind(before)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                }
                let deleted = sqlx::query("DELETE FROM guard_decisions WHERE at < $1")
                    .bind(before)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?
                    .rows_affected();
                tx.commit().await.map_err(err)?;
                Ok(deleted)
            }

            async fn user_actions(
                &self,
                user: &str,
                since: &str,
            ) -> Result<Vec<(String, String, String)>, StoreError> {
                sqlx::query_as(
                    "SELECT id, at, action FROM guard_decisions WHERE user_ref = $1 AND at >= $2",
                )
                .bind(user)
                .bind(since)
                .fetch_all(&self.pool)
                .await
                .map_err(err)
            }

            async fn put_appeal(
                &self,
                id: &str,
                user: &str,
                filed_at: &str,
                message: &str,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO guard_appeals (id, user_ref, filed_at, message) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(id)
                .bind(user)
                .bind(filed_at)
                .bind(message)
                .execute(&self.pool)
                .await
                .map_err(err)?;
                Ok(())
            }

            async fn appeal_message(&self, id: &str) -> Result<Option<String>, StoreError> {
                let row = sqlx::query("SELECT message FROM guard_appeals WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(err)?;
                row.map(|row| row.try_get("message").map_err(err)).transpose()
            }

            async fn put_reviews(
                &self,
                rows: &[$crate::store::ReviewRow],
            ) -> Result<(), StoreError> {
                if rows.is_empty() {
                    return Ok(());
                }
                let mut tx = self.begin_write().await?;
                for row in rows {
                    sqlx::query(
                        "INSERT INTO guard_reviews (decision_id, sampled_at, stratum, filters, content) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (decision_id) DO NOTHING",
                    )
                    .bind(&row.decision_id)
                    .bind(&row.sampled_at)
                    .bind(&row.stratum)
                    .bind(&row.filters)
                    .bind(&row.content)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
                }
                tx.commit().await.map_err(err)
            }

            async fn reviews(
                &self,
                pending: bool,
                limit: i64,
            ) -> Result<Vec<$crate::store::ReviewRow>, StoreError> {
                // `pending` keeps only unlabelled rows; otherwise every row.
                sqlx::query_as(
                    "SELECT decision_id, sampled_at, stratum, filters, content, label, reviewer, labelled_at \
                     FROM guard_reviews WHERE label IS NULL OR NOT $1 \
                     ORDER BY sampled_at, decision_id LIMIT $2",
                )
                .bind(pending)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
                .map_err(err)
            }

            async fn label_review(
                &self,
                id: &str,
                label: &str,
                reviewer: &str,
                at: &str,
            ) -> Result<bool, StoreError> {
                Ok(sqlx::query(
                    "UPDATE guard_reviews SET label = $1, reviewer = $2, labelled_at = $3 WHERE decision_id = $4",
                )
                .bind(label)
                .bind(reviewer)
                .bind(at)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(err)?
                .rows_affected()
                    == 1)
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
