//! Test support shared by every crate's store tests: a fresh, empty database of either kind.
//!
//! PostgreSQL tests need `TEST_DATABASE_URL` (the test script starts a server on loopback and
//! sets it); each test gets its own database on that server. Without the variable a PostgreSQL
//! test fails and says how to fix it. Every PostgreSQL test has `postgres` in its name, so
//! `cargo nextest run --profile sqlite` leaves that tier out and reports those tests as skipped,
//! never as passed.

use std::path::PathBuf;
use std::sync::Arc;

use sqlx::Connection as _;

use crate::store::{self, Store, StoreError};

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
    /// Connect a store to this database.
    pub async fn store(&self) -> Result<Arc<dyn Store>, StoreError> {
        store::connect(&self.url).await
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
