//! The evaluation store on both databases: runs are unique, responses are only ever added,
//! samples are written once with the run's status.

#![allow(clippy::unwrap_used, clippy::panic)]

use warden_eval::store::{CachedResponse, EvalRunRecord, EvalSampleRecord};

/// One test per database: `name::sqlite` and `name::postgres`.
macro_rules! on_both {
    ($name:ident, $test:expr) => {
        warden_store::on_both_databases!(warden_store::testing::with_fresh_database, $name, $test);
    };
}

on_both!(eval_runs_journal_responses_and_finish_once, async |db| {
    let store = warden_eval::store::open(
        &db.connect(&[&warden_eval::store::MIGRATIONS])
            .await
            .unwrap(),
    );
    let run = EvalRunRecord {
        id: "run-1".into(),
        suite: "xstest".into(),
        target: "http://127.0.0.1:1/v1 model=m".into(),
        model: "m".into(),
        created_at: "2026-11-27T00:00:00Z".into(),
        status: "running".into(),
        finished_at: None,
        config: "{}".into(),
        summary: None,
    };
    assert!(store.create_eval_run(&run).await.unwrap());
    assert!(
        !store.create_eval_run(&run).await.unwrap(),
        "ids are unique"
    );
    assert_eq!(store.eval_run("run-1").await.unwrap(), Some(run.clone()));

    let response = |key: &str, body: &str| CachedResponse {
        key: key.into(),
        target: run.target.clone(),
        body: body.into(),
        created_at: "2026-11-27T00:00:01Z".into(),
    };
    store
        .put_eval_responses(&[response("k1", "one"), response("k2", "two")])
        .await
        .unwrap();
    // A key journalled twice keeps its first body: answers are never rewritten.
    store
        .put_eval_responses(&[response("k1", "changed"), response("k3", "three")])
        .await
        .unwrap();
    let keys: Vec<String> = (0..1200).map(|i| format!("k{i}")).collect();
    let found = store.eval_responses(&keys).await.unwrap();
    assert_eq!(found.len(), 3);
    assert_eq!(found["k1"], "one");
    assert_eq!(found["k3"], "three");

    let samples = vec![
        EvalSampleRecord {
            position: 0,
            item_id: "a".into(),
            outcome: "pass".into(),
            record: "{}".into(),
        },
        EvalSampleRecord {
            position: 1,
            item_id: "b".into(),
            outcome: "error".into(),
            record: "{}".into(),
        },
    ];
    store
        .finish_eval_run(
            "run-1",
            "finished",
            "2026-11-27T00:01:00Z",
            "{\"ok\":1}",
            &samples,
        )
        .await
        .unwrap();
    assert_eq!(store.eval_samples("run-1").await.unwrap(), samples);
    let finished = store.eval_run("run-1").await.unwrap().unwrap();
    assert_eq!(finished.status, "finished");
    assert_eq!(finished.summary.as_deref(), Some("{\"ok\":1}"));
    let again = store
        .finish_eval_run("run-1", "finished", "x", "{}", &samples)
        .await
        .unwrap_err();
    assert!(again.to_string().contains("already finished"), "{again}");
    assert!(
        store
            .finish_eval_run("nope", "finished", "x", "{}", &[])
            .await
            .is_err()
    );
    assert_eq!(store.eval_runs().await.unwrap().len(), 1);
});
