//! Schema parity: every capability's migrations, applied to SQLite and to PostgreSQL, give the
//! same tables, columns, logical types, nullability and primary keys.

#![allow(clippy::unwrap_used, clippy::panic)]

use warden_home::MIGRATIONS;
use warden_store::testing::{Backend, describe, fresh_database};

#[tokio::test]
async fn sqlite_and_postgres_reach_the_same_logical_schema_with_every_migration() {
    let sqlite = fresh_database(Backend::Sqlite).await.unwrap();
    let postgres = fresh_database(Backend::Postgres)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut left = describe(&sqlite.connect(&MIGRATIONS).await.unwrap())
        .await
        .unwrap();
    let mut right = describe(&postgres.connect(&MIGRATIONS).await.unwrap())
        .await
        .unwrap();
    left.sort();
    right.sort();
    assert!(left.len() >= 15, "{left:?}");
    assert!(left.iter().all(|c| c.logical_type != "unknown"), "{left:?}");
    assert_eq!(left, right);
}
