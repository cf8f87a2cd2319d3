//! Warden's database layer, shared by every capability: a connection chosen by URL (the embedded
//! SQLite file by default, PostgreSQL by `postgres://…`), one migration history assembled from
//! each capability crate's own migrations, and a shared handle ([`Db`]) from which each crate
//! builds its own store. Capabilities own their traits, SQL and tables; this crate knows none.
//!
//! Migration versions are ranges, one per crate, in one history (`_sqlx_migrations`): the ledger
//! and its keys 1 and 3–999 (version 2 is the evaluation tables, which kept their number when
//! they moved to `warden-eval` so existing homes open unchanged), evaluations 2 and 1000–1999,
//! and each later capability the next thousand. [`connect`] refuses two crates claiming one
//! version.
//!
//! With the `testing` feature: fresh test databases of either kind ([`testing`]), raw SQL for
//! tamper tests and the logical schema for parity tests. Production code never sees them.

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::migrate::{Migration, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection as _, PgConnection};

#[cfg(feature = "testing")]
pub mod testing;

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
    /// A record failed validation; nothing was written.
    #[error("{0}")]
    InvalidEntry(String),
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
    /// Sort a database error by what the caller should do about it.
    pub fn from_sqlx(backend: &'static str, error: sqlx::Error) -> Self {
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

/// An open database: a pool the capability stores share.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Db {
    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }
}

/// One crate's migrations for both databases (`sqlx::migrate!` of its `migrations/sqlite` and
/// `migrations/postgres` folders, numbered alike).
#[derive(Debug)]
pub struct Migrations {
    /// The owning crate, for messages.
    pub owner: &'static str,
    pub sqlite: Migrator,
    pub postgres: Migrator,
}

/// Every migration of `sets` for `backend`, in version order, refusing a version two crates
/// claim.
fn history(backend: &str, sets: &[&Migrations]) -> Result<Migrator, StoreError> {
    let mut all: Vec<(&str, Migration)> = Vec::new();
    for set in sets {
        let migrator = if backend == "sqlite" {
            &set.sqlite
        } else {
            &set.postgres
        };
        all.extend(migrator.iter().map(|m| (set.owner, m.clone())));
    }
    all.sort_by_key(|(_, m)| m.version);
    for pair in all.windows(2) {
        if pair[0].1.version == pair[1].1.version {
            return Err(StoreError::Migration(format!(
                "migration version {} is claimed by both {} and {}; give each crate its own range",
                pair[0].1.version, pair[0].0, pair[1].0
            )));
        }
    }
    Ok(Migrator::with_migrations(
        all.into_iter().map(|(_, m)| m).collect(),
    ))
}

/// Open the database at `url` (creating an SQLite file if missing) and bring it up to date with
/// the migrations of `sets`, which must be every migration the database has seen: an applied
/// migration none of them knows (a newer Warden's, or a capability left out) is an error.
pub async fn connect(url: &str, sets: &[&Migrations]) -> Result<Db, StoreError> {
    open(url, sets, false).await
}

/// [`connect`] for a tool or test that works on some capabilities' tables of a database that
/// may hold others: migrations applied by capabilities outside `sets` are left alone.
pub async fn connect_part(url: &str, sets: &[&Migrations]) -> Result<Db, StoreError> {
    open(url, sets, true).await
}

async fn open(url: &str, sets: &[&Migrations], partial: bool) -> Result<Db, StoreError> {
    let db = if url.starts_with("sqlite:") {
        Db::Sqlite(open_sqlite(url).await?)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Db::Postgres(open_postgres(url).await?)
    } else {
        return Err(StoreError::UnsupportedUrl(redact_url(url)));
    };
    let mut migrator = history(db.backend(), sets)?;
    migrator.set_ignore_missing(partial);
    let applied = match &db {
        Db::Sqlite(pool) => migrator.run(pool).await,
        Db::Postgres(pool) => migrator.run(pool).await,
    };
    applied.map_err(|e| StoreError::Migration(e.to_string()))?;
    Ok(db)
}

async fn open_sqlite(url: &str) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::UnsupportedUrl(format!("{url} ({e})")))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(30))
        .foreign_keys(true);
    SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await
        .map_err(|e| StoreError::Unavailable {
            backend: "sqlite",
            detail: format!("cannot open {url}: {e}"),
        })
}

async fn open_postgres(url: &str) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::UnsupportedUrl(format!("{} ({e})", redact_url(url))))?;
    let unreachable = |e: sqlx::Error| match StoreError::from_sqlx("postgres", e) {
        StoreError::Unavailable { backend, detail } => StoreError::Unavailable {
            backend,
            detail: format!("{detail}; tried {}", redact_url(url)),
        },
        other => other,
    };
    // One direct attempt first: a pool would keep retrying a refused connection until its
    // acquire timeout, and a user who mistyped the port should hear so at once.
    PgConnection::connect_with(&options)
        .await
        .map_err(unreachable)?
        .close()
        .await
        .map_err(unreachable)?;
    PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(unreachable)
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

/// A `u64` as the databases' signed 64-bit integer.
pub fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value)
        .map_err(|_| StoreError::Database(format!("{value} exceeds the database's range")))
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
}
