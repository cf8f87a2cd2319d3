//! Evaluation runs, their response journal and their scored samples ([`EvalStore`]), owned by
//! this crate: its tables (`eval_runs`, `eval_responses`, `eval_samples`), its migrations
//! ([`MIGRATIONS`], version 2 and 1000–1999) and its SQL.
//!
//! The SQL is the same text on both databases (`$n` placeholders, `ON CONFLICT DO NOTHING`), so
//! one macro writes both implementations; only the key-set lookup differs (`json_each` on SQLite,
//! `jsonb_array_elements_text` on PostgreSQL). These writes are not ledger entries, so they never
//! take the ledger's append lock: on PostgreSQL a plain transaction, on SQLite the database's
//! one writer slot (`BEGIN IMMEDIATE`) for the length of the write.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use warden_store::{Db, StoreError};

/// One evaluation run as stored. `config` and `summary` are JSON documents owned by `warden-eval`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalRunRecord {
    pub id: String,
    pub suite: String,
    pub target: String,
    pub model: String,
    pub created_at: String,
    /// `running`, `finished` or `failed`.
    pub status: String,
    pub finished_at: Option<String>,
    pub config: String,
    pub summary: Option<String>,
}

/// One answered upstream call, keyed by the hash of everything that determines it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedResponse {
    pub key: String,
    pub target: String,
    /// JSON of the completion (text, finish reason, usage).
    pub body: String,
    pub created_at: String,
}

/// One scored sample of a finished run. `record` is JSON owned by `warden-eval`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalSampleRecord {
    pub position: u64,
    pub item_id: String,
    /// `pass`, `fail` or `error`.
    pub outcome: String,
    pub record: String,
}

/// Evaluation runs. Responses are only ever added; a run's samples are written once, when it
/// finishes, in the same transaction as its status.
#[async_trait]
pub trait EvalStore: Send + Sync {
    /// Store a new run; `false` (and nothing written) when a run with this id exists.
    async fn create_eval_run(&self, run: &EvalRunRecord) -> Result<bool, StoreError>;
    /// The run with this id.
    async fn eval_run(&self, id: &str) -> Result<Option<EvalRunRecord>, StoreError>;
    /// Every run, newest first.
    async fn eval_runs(&self) -> Result<Vec<EvalRunRecord>, StoreError>;
    /// Journal answered calls in one transaction; keys already present are left as they are.
    async fn put_eval_responses(&self, responses: &[CachedResponse]) -> Result<(), StoreError>;
    /// The journalled bodies of whichever of `keys` are present.
    async fn eval_responses(&self, keys: &[String]) -> Result<HashMap<String, String>, StoreError>;
    /// Mark the run `status`, store its summary and samples; all or nothing. Fails when the run
    /// does not exist or already has samples.
    async fn finish_eval_run(
        &self,
        id: &str,
        status: &str,
        finished_at: &str,
        summary: &str,
        samples: &[EvalSampleRecord],
    ) -> Result<(), StoreError>;
    /// A run's samples in position order.
    async fn eval_samples(&self, run_id: &str) -> Result<Vec<EvalSampleRecord>, StoreError>;
}

/// Keys per lookup query: well under both databases' parameter and statement limits.
const LOOKUP_CHUNK: usize = 500;

/// Implements [`EvalStore`] for a store type with a `pool` field, a `begin_write` method and an
/// `err` function in scope; `$in_keys` is the SQL expression that expands `$1` (a JSON array of
/// strings) into a set of keys.
macro_rules! impl_eval_store {
    ($store:ty, $in_keys:literal) => {
        #[async_trait::async_trait]
        impl $crate::store::EvalStore for $store {
            async fn create_eval_run(
                &self,
                run: &$crate::store::EvalRunRecord,
            ) -> Result<bool, StoreError> {
                let inserted = sqlx::query(
                    "INSERT INTO eval_runs (id, suite, target, model, created_at, status, finished_at, config, summary) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
                )
                .bind(&run.id)
                .bind(&run.suite)
                .bind(&run.target)
                .bind(&run.model)
                .bind(&run.created_at)
                .bind(&run.status)
                .bind(&run.finished_at)
                .bind(&run.config)
                .bind(&run.summary)
                .execute(&self.pool)
                .await
                .map_err(err)?
                .rows_affected();
                Ok(inserted == 1)
            }

            async fn eval_run(
                &self,
                id: &str,
            ) -> Result<Option<$crate::store::EvalRunRecord>, StoreError> {
                let row = sqlx::query(
                    "SELECT id, suite, target, model, created_at, status, finished_at, config, summary \
                     FROM eval_runs WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(err)?;
                row.map(|row| run_from_row(&row)).transpose()
            }

            async fn eval_runs(
                &self,
            ) -> Result<Vec<$crate::store::EvalRunRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id, suite, target, model, created_at, status, finished_at, config, summary \
                     FROM eval_runs ORDER BY created_at DESC, id DESC",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(err)?;
                rows.iter().map(run_from_row).collect()
            }

            async fn put_eval_responses(
                &self,
                responses: &[$crate::store::CachedResponse],
            ) -> Result<(), StoreError> {
                if responses.is_empty() {
                    return Ok(());
                }
                let mut tx = self.begin_write().await?;
                for response in responses {
                    sqlx::query(
                        "INSERT INTO eval_responses (key, target, body, created_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (key) DO NOTHING",
                    )
                    .bind(&response.key)
                    .bind(&response.target)
                    .bind(&response.body)
                    .bind(&response.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
                }
                tx.commit().await.map_err(err)
            }

            async fn eval_responses(
                &self,
                keys: &[String],
            ) -> Result<std::collections::HashMap<String, String>, StoreError> {
                let mut found = std::collections::HashMap::new();
                for chunk in keys.chunks($crate::store::LOOKUP_CHUNK) {
                    let wanted = serde_json::to_string(chunk)
                        .map_err(|e| StoreError::Database(e.to_string()))?;
                    let rows = sqlx::query(concat!(
                        "SELECT key, body FROM eval_responses WHERE key IN (",
                        $in_keys,
                        ")"
                    ))
                    .bind(wanted)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(err)?;
                    for row in rows {
                        found.insert(
                            row.try_get("key").map_err(err)?,
                            row.try_get("body").map_err(err)?,
                        );
                    }
                }
                Ok(found)
            }

            async fn finish_eval_run(
                &self,
                id: &str,
                status: &str,
                finished_at: &str,
                summary: &str,
                samples: &[$crate::store::EvalSampleRecord],
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                let updated = sqlx::query(
                    "UPDATE eval_runs SET status = $1, finished_at = $2, summary = $3 WHERE id = $4 \
                     AND NOT EXISTS (SELECT 1 FROM eval_samples WHERE run_id = $4)",
                )
                .bind(status)
                .bind(finished_at)
                .bind(summary)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(err)?
                .rows_affected();
                if updated != 1 {
                    return Err(StoreError::Database(format!(
                        "evaluation run `{id}` does not exist or has already finished"
                    )));
                }
                for sample in samples {
                    sqlx::query(
                        "INSERT INTO eval_samples (run_id, position, item_id, outcome, record) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(id)
                    .bind(to_i64(sample.position)?)
                    .bind(&sample.item_id)
                    .bind(&sample.outcome)
                    .bind(&sample.record)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
                }
                tx.commit().await.map_err(err)
            }

            async fn eval_samples(
                &self,
                run_id: &str,
            ) -> Result<Vec<$crate::store::EvalSampleRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT position, item_id, outcome, record FROM eval_samples \
                     WHERE run_id = $1 ORDER BY position",
                )
                .bind(run_id)
                .fetch_all(&self.pool)
                .await
                .map_err(err)?;
                rows.iter()
                    .map(|row| {
                        let position: i64 = row.try_get("position").map_err(err)?;
                        Ok($crate::store::EvalSampleRecord {
                            position: u64::try_from(position).map_err(|_| {
                                StoreError::Corrupt(format!("negative sample position {position}"))
                            })?,
                            item_id: row.try_get("item_id").map_err(err)?,
                            outcome: row.try_get("outcome").map_err(err)?,
                            record: row.try_get("record").map_err(err)?,
                        })
                    })
                    .collect()
            }
        }

        fn run_from_row<R: sqlx::Row>(
            row: &R,
        ) -> Result<$crate::store::EvalRunRecord, StoreError>
        where
            for<'c> &'c str: sqlx::ColumnIndex<R>,
            for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        {
            Ok($crate::store::EvalRunRecord {
                id: row.try_get("id").map_err(err)?,
                suite: row.try_get("suite").map_err(err)?,
                target: row.try_get("target").map_err(err)?,
                model: row.try_get("model").map_err(err)?,
                created_at: row.try_get("created_at").map_err(err)?,
                status: row.try_get("status").map_err(err)?,
                finished_at: row.try_get("finished_at").map_err(err)?,
                config: row.try_get("config").map_err(err)?,
                summary: row.try_get("summary").map_err(err)?,
            })
        }
    };
}

/// This crate's migrations.
pub static MIGRATIONS: warden_store::Migrations = warden_store::Migrations {
    owner: "warden-eval",
    sqlite: sqlx::migrate!("./migrations/sqlite"),
    postgres: sqlx::migrate!("./migrations/postgres"),
};

/// The evaluation store on `db`.
pub fn open(db: &Db) -> Arc<dyn EvalStore> {
    match db {
        Db::Sqlite(pool) => Arc::new(sqlite::SqliteEvalStore { pool: pool.clone() }),
        Db::Postgres(pool) => Arc::new(postgres::PgEvalStore { pool: pool.clone() }),
    }
}

mod sqlite {
    use sqlx::{Row as _, Sqlite, SqlitePool, Transaction};
    use warden_store::{StoreError, to_i64};

    fn err(error: sqlx::Error) -> StoreError {
        StoreError::from_sqlx("sqlite", error)
    }

    pub(super) struct SqliteEvalStore {
        pub(super) pool: SqlitePool,
    }

    impl SqliteEvalStore {
        async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
            self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(err)
        }
    }

    impl_eval_store!(SqliteEvalStore, "SELECT value FROM json_each($1)");
}

mod postgres {
    use sqlx::{PgPool, Postgres, Row as _, Transaction};
    use warden_store::{StoreError, to_i64};

    fn err(error: sqlx::Error) -> StoreError {
        StoreError::from_sqlx("postgres", error)
    }

    pub(super) struct PgEvalStore {
        pub(super) pool: PgPool,
    }

    impl PgEvalStore {
        async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
            self.pool.begin().await.map_err(err)
        }
    }

    impl_eval_store!(PgEvalStore, "SELECT jsonb_array_elements_text($1::jsonb)");
}
