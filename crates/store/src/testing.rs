//! Test support shared by every crate's store tests: a fresh, empty database of either kind.
//!
//! PostgreSQL tests need `TEST_DATABASE_URL` (the test script starts a server on loopback and
//! sets it); each test gets its own database on that server. Without the variable a PostgreSQL
//! test fails and says how to fix it. Every PostgreSQL test has `postgres` in its name, so
//! `cargo nextest run --profile sqlite` leaves that tier out and reports those tests as skipped,
//! never as passed.

use std::path::PathBuf;

use sqlx::{Connection as _, Row as _};

use crate::{Db, Migrations, StoreError};

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh database; the SQLite file lives as long as this value.
#[derive(Debug)]
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    /// Connect to this database with the migrations of `sets`.
    pub async fn connect(&self, sets: &[&Migrations]) -> Result<Db, StoreError> {
        crate::connect(&self.url, sets).await
    }
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

/// Run one SQL statement behind every store's back, the way an attacker with database access
/// would (tamper tests).
pub async fn execute_raw(db: &Db, sql: &str) -> Result<u64, StoreError> {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    let result = match db {
        Db::Sqlite(pool) => sqlx::raw_sql(sql)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
        Db::Postgres(pool) => sqlx::raw_sql(sql)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
    };
    result.map_err(|e| StoreError::from_sqlx(db.backend(), e))
}

/// Tables and columns as the database reports them, in logical types, for schema parity.
pub async fn describe(db: &Db) -> Result<Vec<ColumnInfo>, StoreError> {
    match db {
        Db::Sqlite(pool) => describe_sqlite(pool).await,
        Db::Postgres(pool) => describe_postgres(pool).await,
    }
}

/// Why no test database could be made.
#[derive(Debug, thiserror::Error)]
pub enum TestDatabaseError {
    #[error(
        "TEST_DATABASE_URL is not set: run the suite with `scripts/test` (it starts PostgreSQL), \
         or leave the PostgreSQL tier out with `cargo nextest run --profile sqlite` (reported as skipped)"
    )]
    NoPostgres,
    #[error("{0}")]
    Setup(String),
}

/// Run `test` on a fresh database of `backend`: the usual `$run` of [`on_both_databases!`]. A
/// database that cannot be made fails the test with the reason (how to start PostgreSQL).
#[expect(
    clippy::panic,
    reason = "test support: a missing database is a failed test"
)]
pub async fn with_fresh_database<F: AsyncFnOnce(TestDatabase)>(backend: Backend, test: F) {
    let db = fresh_database(backend)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    test(db).await;
}

/// A new, empty database of `backend`.
pub async fn fresh_database(backend: Backend) -> Result<TestDatabase, TestDatabaseError> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().map_err(|e| TestDatabaseError::Setup(e.to_string()))?;
            let path: PathBuf = dir.path().join("warden.db");
            Ok(TestDatabase {
                url: format!("sqlite://{}", path.display()),
                _dir: Some(dir),
            })
        }
        Backend::Postgres => {
            let admin_url =
                std::env::var("TEST_DATABASE_URL").map_err(|_| TestDatabaseError::NoPostgres)?;
            let name = format!("warden_test_{}", uuid::Uuid::now_v7().simple());
            let mut admin = sqlx::PgConnection::connect(&admin_url).await.map_err(|e| {
                TestDatabaseError::Setup(format!("cannot reach TEST_DATABASE_URL: {e}"))
            })?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await
                .map_err(|e| TestDatabaseError::Setup(e.to_string()))?;
            let (base, query) = match admin_url.split_once('?') {
                Some((base, query)) => (base, format!("?{query}")),
                None => (admin_url.as_str(), String::new()),
            };
            let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
            Ok(TestDatabase {
                url: format!("{server}/{name}{query}"),
                _dir: None,
            })
        }
    }
}

/// Define `mod $name { fn sqlite(); fn postgres(); }`: one Tokio test per database, each calling
/// `$run(backend, $test)`. `$run` makes the fixture (a database, a server…).
#[macro_export]
macro_rules! on_both_databases {
    ($run:path, $name:ident, $test:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $run($crate::testing::Backend::Sqlite, $test).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $run($crate::testing::Backend::Postgres, $test).await
            }
        }
    };
}

async fn describe_sqlite(pool: &sqlx::SqlitePool) -> Result<Vec<ColumnInfo>, StoreError> {
    let rows = sqlx::query(
            "SELECT m.name AS table_name, p.name AS column_name, p.type AS column_type, p.\"notnull\" AS not_null, p.pk AS pk \
             FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx_%' \
             ORDER BY m.name, p.cid",
        )
        .fetch_all(pool)
        .await
        .map_err(|e| StoreError::from_sqlx("sqlite", e))?;
    rows.into_iter()
        .map(|row| {
            let declared: String = row
                .try_get("column_type")
                .map_err(|e| StoreError::from_sqlx("sqlite", e))?;
            let not_null: i64 = row
                .try_get("not_null")
                .map_err(|e| StoreError::from_sqlx("sqlite", e))?;
            let pk: i64 = row
                .try_get("pk")
                .map_err(|e| StoreError::from_sqlx("sqlite", e))?;
            Ok(ColumnInfo {
                table: row
                    .try_get("table_name")
                    .map_err(|e| StoreError::from_sqlx("sqlite", e))?,
                column: row
                    .try_get("column_name")
                    .map_err(|e| StoreError::from_sqlx("sqlite", e))?,
                logical_type: match declared.to_ascii_uppercase().as_str() {
                    "INTEGER" => "integer",
                    "TEXT" => "text",
                    "BLOB" => "bytes",
                    _ => "unknown",
                }
                .to_owned(),
                nullable: not_null == 0 && pk == 0,
                primary_key: pk > 0,
            })
        })
        .collect()
}

async fn describe_postgres(pool: &sqlx::PgPool) -> Result<Vec<ColumnInfo>, StoreError> {
    let rows = sqlx::query(
            "SELECT c.table_name::TEXT AS table_name, c.column_name::TEXT AS column_name, c.data_type::TEXT AS data_type, \
                    (c.is_nullable = 'YES') AS nullable, \
                    EXISTS (SELECT 1 FROM information_schema.table_constraints AS t \
                            JOIN information_schema.key_column_usage AS k \
                              ON k.constraint_name = t.constraint_name AND k.table_schema = t.table_schema \
                            WHERE t.constraint_type = 'PRIMARY KEY' AND t.table_schema = c.table_schema \
                              AND t.table_name = c.table_name AND k.column_name = c.column_name) AS primary_key \
             FROM information_schema.columns AS c \
             WHERE c.table_schema = current_schema() AND c.table_name NOT LIKE '\\_sqlx\\_%' \
             ORDER BY c.table_name, c.ordinal_position",
        )
        .fetch_all(pool)
        .await
        .map_err(|e| StoreError::from_sqlx("postgres", e))?;
    rows.into_iter()
        .map(|row| {
            let data_type: String = row
                .try_get("data_type")
                .map_err(|e| StoreError::from_sqlx("postgres", e))?;
            Ok(ColumnInfo {
                table: row
                    .try_get("table_name")
                    .map_err(|e| StoreError::from_sqlx("postgres", e))?,
                column: row
                    .try_get("column_name")
                    .map_err(|e| StoreError::from_sqlx("postgres", e))?,
                logical_type: match data_type.as_str() {
                    "bigint" | "integer" | "smallint" => "integer",
                    "text" | "character varying" => "text",
                    "bytea" => "bytes",
                    _ => "unknown",
                }
                .to_owned(),
                nullable: row
                    .try_get("nullable")
                    .map_err(|e| StoreError::from_sqlx("postgres", e))?,
                primary_key: row
                    .try_get("primary_key")
                    .map_err(|e| StoreError::from_sqlx("postgres", e))?,
            })
        })
        .collect()
}
