//! Store and ledger behaviour, every test run on SQLite and on PostgreSQL.

// Test code: a failed unwrap is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::json;
use warden_core::Role;
use warden_ledger::access;
use warden_ledger::entry::EntryDraft;
use warden_ledger::note::NoteSigner;
use warden_ledger::proof::ProofBundle;
use warden_ledger::store::{self, StoreError};
use warden_ledger::{Ledger, LedgerError};
use warden_store::testing::{Backend, TestDatabase, fresh_database};

const ORIGIN: &str = "warden.test/ledger";

/// One test per database: `name::sqlite` and `name::postgres`.
macro_rules! on_both {
    ($name:ident, $test:expr) => {
        warden_store::on_both_databases!(warden_store::testing::with_fresh_database, $name, $test);
    };
}

/// The ledger's store on a test database.
async fn open(db: &TestDatabase) -> Arc<dyn store::Store> {
    store::open(&db.connect(&[&store::MIGRATIONS]).await.unwrap())
}

async fn ledger(db: &TestDatabase, signer: NoteSigner) -> Ledger {
    Ledger::new(open(db).await, signer, ORIGIN.into())
}

fn signer() -> NoteSigner {
    NoteSigner::generate(ORIGIN).unwrap()
}

fn draft(n: u64) -> EntryDraft {
    EntryDraft::now(
        "test.event",
        "local:tester",
        format!("subject-{n}"),
        json!({"n": n, "ratio": 0.25}),
    )
}

async fn fill(ledger: &Ledger, count: u64) {
    let drafts: Vec<EntryDraft> = (0..count).map(draft).collect();
    ledger.append_batch(&drafts).await.unwrap();
}

on_both!(appends_get_sequential_indexes_and_read_back, async |db| {
    let ledger = ledger(&db, signer()).await;
    assert_eq!(ledger.size().await.unwrap(), 0);
    let first = ledger.append(draft(0)).await.unwrap();
    assert_eq!(first.index, 0);
    let batch = ledger
        .append_batch(&[draft(1), draft(2), draft(3)])
        .await
        .unwrap();
    assert_eq!(
        batch.iter().map(|e| e.index).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let entries = ledger.entries(1, 2).await.unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].subject, "subject-1");
    assert_eq!(entries[1].payload, json!({"n": 2, "ratio": 0.25}));
    assert_eq!(ledger.size().await.unwrap(), 4);
    assert!(ledger.audit().await.unwrap().ok);
});

on_both!(a_batch_with_one_bad_entry_writes_nothing, async |db| {
    let ledger = ledger(&db, signer()).await;
    fill(&ledger, 3).await;
    let mut bad = draft(9);
    bad.kind = "Not A Kind".into();
    let err = ledger.append_batch(&[draft(3), bad]).await.unwrap_err();
    assert!(
        err.to_string().contains("kind `Not A Kind` is invalid"),
        "{err}"
    );
    assert_eq!(ledger.size().await.unwrap(), 3);
    assert!(ledger.audit().await.unwrap().ok);
});

on_both!(
    concurrent_appends_from_many_tasks_and_two_processes_never_fork,
    async |db| {
        // Two Ledger values over two connection pools behave like two Warden processes.
        let first = ledger(&db, signer()).await;
        let second_store = open(&db).await;
        let second = Ledger::new(
            second_store,
            NoteSigner::from_private_key(&signer().private_key()).unwrap(),
            ORIGIN.into(),
        );
        let mut tasks = Vec::new();
        for writer in 0..16u64 {
            let ledger = if writer % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            tasks.push(tokio::spawn(async move {
                let mut indexes = Vec::new();
                for n in 0..25 {
                    indexes.push(ledger.append(draft(writer * 100 + n)).await.unwrap().index);
                }
                indexes
            }));
        }
        let mut all = BTreeSet::new();
        for task in tasks {
            for index in task.await.unwrap() {
                assert!(all.insert(index), "index {index} was handed out twice");
            }
        }
        assert_eq!(all, (0..400).collect::<BTreeSet<u64>>());
        let report = first.audit().await.unwrap();
        assert!(report.ok, "{report:?}");
        assert_eq!(report.size, 400);
    }
);

on_both!(proofs_verify_with_the_public_key_alone, async |db| {
    let key = signer();
    let verifier = key.verifier();
    let ledger = ledger(&db, key).await;
    fill(&ledger, 37).await;
    for index in 0..37 {
        let bundle = ProofBundle::Inclusion(ledger.inclusion(index, None).await.unwrap());
        let verified = bundle.verify(&verifier, Some(ORIGIN)).unwrap();
        assert_eq!((verified.index, verified.tree_size), (Some(index), 37));
    }
    let old = ledger.inclusion(5, Some(9)).await.unwrap();
    ProofBundle::Inclusion(old.clone())
        .verify(&verifier, None)
        .unwrap();
    for (from, to) in [(0, 37), (1, 37), (8, 37), (13, 20), (37, 37)] {
        let bundle = ProofBundle::Consistency(ledger.consistency(from, Some(to)).await.unwrap());
        bundle
            .verify(&verifier, Some(ORIGIN))
            .unwrap_or_else(|e| panic!("{from}->{to}: {e}"));
    }
    // A bundle whose entry was altered in transit fails.
    let mut forged = old.clone();
    forged.entry = forged.entry.replace("subject-5", "subject-X");
    assert!(
        ProofBundle::Inclusion(forged)
            .verify(&verifier, None)
            .is_err()
    );
    // So does one checked with another log's key.
    assert!(
        ProofBundle::Inclusion(old)
            .verify(&signer().verifier(), None)
            .is_err()
    );
    // Sizes beyond the log are refused with a clear message.
    let err = ledger.inclusion(40, None).await.unwrap_err();
    assert!(matches!(err, LedgerError::OutOfRange(_)), "{err}");
    assert!(ledger.consistency(38, None).await.is_err());
});

on_both!(
    checkpoints_are_signed_once_per_size_and_audited,
    async |db| {
        let key = signer();
        let verifier = key.verifier();
        let ledger = ledger(&db, key).await;
        let empty = ledger.checkpoint().await.unwrap();
        assert_eq!(empty.size, 0);
        fill(&ledger, 10).await;
        let first = ledger.checkpoint().await.unwrap();
        let again = ledger.checkpoint().await.unwrap();
        assert_eq!(first, again);
        let opened =
            warden_ledger::note::Checkpoint::open(&first.note, &verifier, Some(ORIGIN)).unwrap();
        assert_eq!((opened.size, opened.root), (10, first.root));
        let report = ledger.audit().await.unwrap();
        assert!(report.ok && report.checkpoints_checked == 2, "{report:?}");
    }
);

on_both!(
    the_database_refuses_updates_and_deletes_of_ledger_rows,
    async |db| {
        let ledger = ledger(&db, signer()).await;
        fill(&ledger, 2).await;
        let store = ledger.store();
        for sql in [
            "UPDATE ledger_entries SET entry = 'x' WHERE idx = 0",
            "DELETE FROM ledger_entries WHERE idx = 1",
            "UPDATE ledger_nodes SET hash = hash WHERE idx = 0",
            "DELETE FROM ledger_nodes",
        ] {
            let err = store.execute_raw(sql).await.unwrap_err();
            assert!(err.to_string().contains("append-only"), "{sql}: {err}");
        }
        assert!(ledger.audit().await.unwrap().ok);
    }
);

/// Disable the append-only triggers, as an attacker with database access could.
async fn drop_guards(ledger: &Ledger) {
    let store = ledger.store();
    let statements: &[&str] = if store.backend() == "sqlite" {
        &[
            "DROP TRIGGER ledger_entries_append_only_update",
            "DROP TRIGGER ledger_entries_append_only_delete",
            "DROP TRIGGER ledger_nodes_append_only_update",
            "DROP TRIGGER ledger_nodes_append_only_delete",
        ]
    } else {
        &[
            "DROP TRIGGER ledger_entries_append_only ON ledger_entries",
            "DROP TRIGGER ledger_nodes_append_only ON ledger_nodes",
        ]
    };
    for sql in statements {
        store.execute_raw(sql).await.unwrap();
    }
}

async fn first_bad_after(db: &TestDatabase, tamper: &[&str]) -> (bool, Option<u64>) {
    let ledger = ledger(db, signer()).await;
    fill(&ledger, 20).await;
    ledger.checkpoint().await.unwrap();
    fill(&ledger, 5).await;
    assert!(ledger.audit().await.unwrap().ok);
    drop_guards(&ledger).await;
    for sql in tamper {
        ledger.store().execute_raw(sql).await.unwrap();
    }
    let report = ledger.audit().await.unwrap();
    (report.ok, report.first_bad_index)
}

on_both!(audit_names_an_edited_row, async |db| {
    let sql =
        "UPDATE ledger_entries SET entry = REPLACE(entry, 'subject-7', 'subject-x') WHERE idx = 7";
    assert_eq!(first_bad_after(&db, &[sql]).await, (false, Some(7)));
});

on_both!(audit_names_a_removed_row, async |db| {
    assert_eq!(
        first_bad_after(&db, &["DELETE FROM ledger_entries WHERE idx = 11"]).await,
        (false, Some(11))
    );
});

on_both!(audit_names_rows_removed_from_the_end, async |db| {
    let tamper = [
        "DELETE FROM ledger_entries WHERE idx >= 15",
        "DELETE FROM ledger_nodes WHERE idx >= 15 AND level = 0",
    ];
    assert_eq!(first_bad_after(&db, &tamper).await, (false, Some(15)));
});

on_both!(audit_names_reordered_rows, async |db| {
    let tamper = [
        "UPDATE ledger_entries SET idx = 1000 WHERE idx = 3",
        "UPDATE ledger_entries SET idx = 3 WHERE idx = 4",
        "UPDATE ledger_entries SET idx = 4 WHERE idx = 1000",
    ];
    assert_eq!(first_bad_after(&db, &tamper).await, (false, Some(3)));
});

on_both!(
    audit_catches_an_entry_rewritten_together_with_its_leaf_hash,
    async |db| {
        let ledger = ledger(&db, signer()).await;
        fill(&ledger, 12).await;
        drop_guards(&ledger).await;
        let (_, text) = ledger.store().entries(6, 7).await.unwrap().pop().unwrap();
        let forged = text.replace("subject-6", "subject-y");
        let leaf = warden_core::hex::encode(&warden_ledger::merkle::leaf_hash(forged.as_bytes()));
        let store = ledger.store();
        store
            .execute_raw(&format!(
                "UPDATE ledger_entries SET entry = '{forged}' WHERE idx = 6"
            ))
            .await
            .unwrap();
        let set_leaf = if store.backend() == "sqlite" {
            format!("UPDATE ledger_nodes SET hash = X'{leaf}' WHERE level = 0 AND idx = 6")
        } else {
            format!("UPDATE ledger_nodes SET hash = '\\x{leaf}'::BYTEA WHERE level = 0 AND idx = 6")
        };
        store.execute_raw(&set_leaf).await.unwrap();
        let report = ledger.audit().await.unwrap();
        assert!(!report.ok);
        assert_eq!(report.first_bad_index, Some(6), "{report:?}");
    }
);

on_both!(keys_are_stored_hashed_recorded_and_revocable, async |db| {
    let ledger = ledger(&db, signer()).await;
    let store = ledger.store().as_ref();
    let (minted, grant) = access::create_key(&ledger, "ci", None, &[Role::Evaluator], "local:root")
        .await
        .unwrap();
    assert_eq!(grant.index, 0);
    let found = access::authenticate(store, &minted.secret)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.roles, vec![Role::Evaluator]);
    assert!(
        access::authenticate(store, "wdn_not-a-key")
            .await
            .unwrap()
            .is_none()
    );
    let listed = store.list_keys().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_ne!(
        listed[0].prefix, minted.secret,
        "the secret itself is never stored"
    );
    let revoked = access::revoke_key(store, &minted.record.id, "local:root")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.index, 1);
    assert!(
        access::authenticate(store, &minted.secret)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        access::revoke_key(store, &minted.record.id, "local:root")
            .await
            .unwrap()
            .is_none()
    );
    let kinds: Vec<String> = ledger
        .entries(0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec!["access.key_created", "access.key_revoked"]);
    assert!(ledger.audit().await.unwrap().ok);
});

#[tokio::test]
async fn a_store_shared_between_ledgers_is_one_log() {
    let db = fresh_database(Backend::Sqlite).await.unwrap();
    let store = open(&db).await;
    let one = Ledger::new(Arc::clone(&store), signer(), ORIGIN.into());
    one.append(draft(0)).await.unwrap();
    let two = Ledger::new(store, signer(), ORIGIN.into());
    assert_eq!(two.append(draft(1)).await.unwrap().index, 1);
}

#[tokio::test]
async fn a_database_that_is_down_gets_a_clear_error() {
    // Port 9 (discard) on loopback has no PostgreSQL listening.
    let err = store::connect("postgres://warden:hunter2@127.0.0.1:9/warden")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("check that the server is running") && !message.contains("hunter2"),
        "{message}"
    );
    let err = store::connect("sqlite:///nonexistent-dir/x/warden.db")
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("sqlite"), "{err}");
    let err = store::connect("mysql://x/y").await.err().unwrap();
    assert!(
        err.to_string().contains("sqlite://PATH or postgres://"),
        "{err}"
    );
}

on_both!(issue_10_a_scan_folds_up_to_the_size_it_read, async |db| {
    let ledger = ledger(&db, signer()).await;
    for n in 0..3 {
        ledger.append(draft(n)).await.unwrap();
    }
    let (first, size) = ledger.scan(0, |_| true).await.unwrap();
    assert_eq!((first.len(), size), (3, 3));
    // An entry appended after the read is not claimed as read: the next scan from the returned
    // size finds it, so a fold that resumes there never skips it.
    ledger.append(draft(3)).await.unwrap();
    let (next, size) = ledger.scan(size, |_| true).await.unwrap();
    assert_eq!(next.iter().map(|e| e.index).collect::<Vec<_>>(), vec![3]);
    assert_eq!(size, 4);
    let (filtered, _) = ledger.scan(0, |kind| kind == "none").await.unwrap();
    assert!(filtered.is_empty());
});
