//! The HTTP API driven over a real loopback socket, on SQLite and on PostgreSQL.

// Test code: a failed unwrap is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use warden_core::Role;
use warden_ledger::Ledger;
use warden_ledger::access;
use warden_ledger::note::NoteSigner;
use warden_ledger::proof::ProofBundle;
use warden_server::auth::Access;
use warden_server::{ServerOptions, routes};
use warden_store::testing::{Backend, TestDatabase, fresh_database};

const ORIGIN: &str = "warden.test/api";
const MAX_BODY: usize = 64 * 1024;
const MAX_UPLOAD: usize = 256 * 1024;

struct Server {
    base: String,
    ledger: Ledger,
    verifier: warden_ledger::note::NoteVerifier,
    admin: String,
    client: Client,
    _db: TestDatabase,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("person-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

impl Server {
    async fn start(db: TestDatabase) -> Self {
        let signer = NoteSigner::generate(ORIGIN).unwrap();
        let verifier = signer.verifier();
        let ledger = Ledger::new(
            warden_ledger::store::open(
                &db.connect(&[&warden_ledger::store::MIGRATIONS])
                    .await
                    .unwrap(),
            ),
            signer,
            ORIGIN.into(),
        );
        let (minted, _) = access::create_key(&ledger, "root", None, &[Role::Admin], "local:test")
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = ledger.clone();
        tokio::spawn(async move {
            let options = ServerOptions {
                max_body_bytes: MAX_BODY,
                max_upload_bytes: MAX_UPLOAD,
                model: Default::default(),
            };
            warden_server::serve(listener, served, &options, async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Self {
            base,
            ledger,
            verifier,
            admin: minted.secret,
            client: Client::new(),
            _db: db,
            shutdown: Some(stop),
        }
    }

    async fn key(&self, roles: &[Role]) -> String {
        // Each test key is its own person, as keys of different people would be.
        let person = uuid_like();
        access::create_key(&self.ledger, "k", Some(&person), roles, "local:test")
            .await
            .unwrap()
            .0
            .secret
    }

    fn request(&self, method: Method, path: &str, key: Option<&str>) -> reqwest::RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.request(method, path, key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

async fn run<F: AsyncFnOnce(Server)>(backend: Backend, test: F) {
    let db = fresh_database(backend)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    test(Server::start(db).await).await;
}

/// One test per database: `name::sqlite` and `name::postgres`.
macro_rules! on_both {
    ($name:ident, $test:expr) => {
        warden_store::on_both_databases!(run, $name, $test);
    };
}

/// A concrete path for a route template, with valid query parameters.
fn concrete(route: &routes::Route) -> String {
    let path = route
        .path
        .replace("{index}", "0")
        .replace("{model}", "m")
        .replace("{stage}", "api-deployment")
        .replace("{id}", "00000000-0000-0000-0000-000000000000");
    let query: Vec<String> = route
        .query
        .iter()
        .filter(|(_, required, _)| *required)
        .map(|(name, _, _)| format!("{name}=0"))
        .collect();
    if query.is_empty() {
        path
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

fn body_for(route: &routes::Route) -> Option<Value> {
    route.request.map(|schema| match schema {
        "AppendRequest" => json!({"kind": "test.event", "subject": "s"}),
        "BatchRequest" => json!({"entries": [{"kind": "test.event", "subject": "s"}]}),
        "CreateKeyRequest" => json!({"name": "n", "roles": ["user"]}),
        "SignRequest" => json!({"role": "user"}),
        "Upload" => json!({"not": "a labelled file"}),
        "ChatCompletionRequest" => {
            json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1})
        }
        other => panic!("add a sample body for {other}"),
    })
}

on_both!(every_route_enforces_its_roles, async |server| {
    let table = routes::table();
    let public: Vec<&str> = table
        .iter()
        .filter(|r| r.access == Access::Public)
        .map(|r| r.path)
        .collect();
    assert_eq!(
        public,
        vec!["/healthz", "/openapi.json", "/metrics"],
        "only health, the API description and the (label-bounded) metrics are public"
    );
    server
        .ledger
        .append_batch(&[warden_ledger::entry::EntryDraft::now(
            "test.seed",
            "local:test",
            "s",
            json!({}),
        )])
        .await
        .unwrap();
    let revoked = server.key(&[Role::Admin]).await;
    let revoked_id = access::authenticate(server.ledger.store().as_ref(), &revoked)
        .await
        .unwrap()
        .unwrap()
        .id;
    access::revoke_key(server.ledger.store().as_ref(), &revoked_id, "local:test")
        .await
        .unwrap();
    let mut keys = Vec::new();
    for role in Role::ALL {
        keys.push((role, server.key(&[role]).await));
    }
    for route in &table {
        let path = concrete(route);
        let method = Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
        let Access::Roles(allowed) = route.access else {
            continue;
        };
        for (label, key) in [
            ("no key", None),
            ("bad key", Some("wdn_bogus")),
            ("revoked key", Some(revoked.as_str())),
        ] {
            let (status, body) = server
                .send(method.clone(), &path, key, body_for(route))
                .await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{} {path} with {label}: {body}",
                route.method
            );
        }
        for (role, key) in &keys {
            let (status, body) = server
                .send(method.clone(), &path, Some(key), body_for(route))
                .await;
            if allowed.contains(role) {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{} {path} must admit {role}: {status} {body}",
                    route.method
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{} {path} must refuse {role}: {body}",
                    route.method
                );
                assert!(
                    body["error"]["message"]
                        .as_str()
                        .unwrap()
                        .contains("needs one of the roles")
                );
            }
        }
    }
});

on_both!(
    appended_entries_prove_against_signed_checkpoints,
    async |server| {
        let writer = server.key(&[Role::Evaluator]).await;
        let reader = server.key(&[Role::Auditor]).await;
        for n in 0..5 {
            let (status, body) = server
            .send(Method::POST, "/v1/ledger/entries", Some(&writer), Some(json!({"kind": "note.run_finished", "subject": format!("run-{n}"), "payload": {"asr": 0.1}})))
            .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            assert!(
                body["entry"]["actor"].as_str().unwrap().starts_with("key:"),
                "the actor is the key, not the client's claim"
            );
        }
        let (status, body) = server
        .send(Method::POST, "/v1/ledger/batch", Some(&writer), Some(json!({"entries": [{"kind": "a.b", "subject": "x"}, {"kind": "a.c", "subject": "y"}]})))
        .await;
        // Three key grants (admin, writer, reader) come first, then the five single appends.
        assert_eq!(
            (status, body["indexes"].clone()),
            (StatusCode::CREATED, json!([8, 9])),
            "{body}"
        );
        let (_, page) = server
            .send(
                Method::GET,
                "/v1/ledger/entries?start=3&limit=2",
                Some(&reader),
                None,
            )
            .await;
        assert_eq!(page["size"], 10);
        assert_eq!(page["entries"].as_array().unwrap().len(), 2);
        assert_eq!(page["entries"][0]["subject"], "run-0");
        let (status, proof) = server
            .send(
                Method::GET,
                "/v1/ledger/proofs/inclusion?index=3",
                Some(&reader),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{proof}");
        let bundle: ProofBundle = serde_json::from_value(proof).unwrap();
        let key_text = server
            .request(Method::GET, "/v1/ledger/key", Some(&reader))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let verifier = warden_ledger::note::NoteVerifier::parse(&key_text).unwrap();
        assert_eq!(verifier, server.verifier);
        assert_eq!(
            bundle.verify(&verifier, Some(ORIGIN)).unwrap().tree_size,
            10
        );
        let (_, consistency) = server
            .send(
                Method::GET,
                "/v1/ledger/proofs/consistency?old=2",
                Some(&reader),
                None,
            )
            .await;
        let bundle: ProofBundle = serde_json::from_value(consistency).unwrap();
        assert_eq!(
            bundle
                .verify(&verifier, Some(ORIGIN))
                .unwrap()
                .old_tree_size,
            Some(2)
        );
        let note = server
            .request(Method::GET, "/v1/ledger/checkpoint", Some(&reader))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(note.starts_with(&format!("{ORIGIN}\n10\n")), "{note}");
        let (_, audit) = server
            .send(Method::GET, "/v1/ledger/audit", Some(&reader), None)
            .await;
        assert_eq!(
            (audit["ok"].clone(), audit["size"].clone()),
            (json!(true), json!(10)),
            "{audit}"
        );
    }
);

on_both!(
    bad_requests_get_precise_errors_and_store_nothing,
    async |server| {
        let key = server.admin.clone();
        let size_before = server.ledger.size().await.unwrap();
        let raw = |body: &'static str, content_type: &'static str| {
            server
                .request(Method::POST, "/v1/ledger/entries", Some(&key))
                .header("content-type", content_type)
                .body(body)
        };
        let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
            (
                raw("{\"kind\": ", "application/json"),
                StatusCode::BAD_REQUEST,
                "malformed_json",
            ),
            (
                raw(
                    "{\"kind\":\"a.b\",\"subject\":\"s\",\"colour\":1}",
                    "application/json",
                ),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
            ),
            (
                raw("{\"kind\":\"a.b\"}", "application/json"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
            ),
            (
                raw(
                    "{\"kind\":\"Bad Kind\",\"subject\":\"s\"}",
                    "application/json",
                ),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_entry",
            ),
            (
                raw(
                    "{\"kind\":\"a.b\",\"subject\":\"s\",\"payload\":18014398509481985}",
                    "application/json",
                ),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_entry",
            ),
            (
                raw("kind=a", "text/plain"),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
        ];
        for (request, status, code) in cases {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), status);
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], code, "{body}");
            assert!(body["error"]["message"].as_str().unwrap().len() > 10);
        }
        let huge = json!({"kind": "a.b", "subject": "s", "payload": "x".repeat(MAX_BODY)});
        let (status, body) = server
            .send(Method::POST, "/v1/ledger/entries", Some(&key), Some(huge))
            .await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (StatusCode::PAYLOAD_TOO_LARGE, json!("body_too_large"))
        );
        let (status, body) = server
            .send(
                Method::POST,
                "/v1/ledger/batch",
                Some(&key),
                Some(json!({"entries": []})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        for (path, expected) in [
            ("/v1/ledger/entries/99", StatusCode::NOT_FOUND),
            ("/v1/ledger/entries/minus-one", StatusCode::BAD_REQUEST),
            (
                "/v1/ledger/proofs/inclusion?index=x",
                StatusCode::BAD_REQUEST,
            ),
            (
                "/v1/ledger/proofs/inclusion?index=50",
                StatusCode::NOT_FOUND,
            ),
        ] {
            let (status, body) = server.send(Method::GET, path, Some(&key), None).await;
            assert_eq!(status, expected, "{path}: {body}");
        }
        let (status, body) = server.send(Method::GET, "/nowhere", None, None).await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (StatusCode::NOT_FOUND, json!("not_found"))
        );
        let (status, _) = server
            .send(Method::PUT, "/v1/ledger/entries", Some(&key), None)
            .await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        let (status, body) = server
            .send(
                Method::POST,
                "/v1/keys",
                Some(&key),
                Some(json!({"name": "x", "roles": ["root"]})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("unknown variant"),
            "{body}"
        );
        assert_eq!(
            server.ledger.size().await.unwrap(),
            size_before,
            "no bad request may write"
        );
    }
);

on_both!(keys_can_be_managed_over_the_api, async |server| {
    let (status, created) = server
        .send(
            Method::POST,
            "/v1/keys",
            Some(&server.admin),
            Some(json!({"name": "ci", "roles": ["evaluator"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    let (status, me) = server
        .send(Method::GET, "/v1/whoami", Some(&secret), None)
        .await;
    assert_eq!(
        (status, me["roles"].clone()),
        (StatusCode::OK, json!(["evaluator"]))
    );
    let (_, listed) = server
        .send(Method::GET, "/v1/keys", Some(&server.admin), None)
        .await;
    assert!(
        !listed.to_string().contains(&secret),
        "listings never show secrets"
    );
    let id = created["id"].as_str().unwrap();
    let (status, _) = server
        .send(
            Method::DELETE,
            &format!("/v1/keys/{id}"),
            Some(&server.admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .send(Method::GET, "/v1/whoami", Some(&secret), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = server
        .send(
            Method::DELETE,
            &format!("/v1/keys/{id}"),
            Some(&server.admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
});

#[tokio::test]
async fn health_metrics_openapi_and_request_ids() {
    let server = Server::start(fresh_database(Backend::Sqlite).await.unwrap()).await;
    let response = server
        .request(Method::GET, "/healthz", None)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let id = response
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);
    let echoed = server
        .request(Method::GET, "/healthz", None)
        .header("x-request-id", "trace-me")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-me");
    let (_, doc) = server.send(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(doc["openapi"], "3.1.0");
    for route in routes::table() {
        let operation = &doc["paths"][route.path][route.method.as_str().to_lowercase()];
        assert!(
            operation["x-warden-roles"].is_array() || operation["x-warden-roles"] == "public",
            "{}",
            route.path
        );
    }
    let auditor = server.key(&[Role::Auditor]).await;
    let text = server
        .request(Method::GET, "/metrics", Some(&auditor))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            "warden_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 2"
        ),
        "{text}"
    );
    assert!(text.contains("warden_ledger_entries 2"), "{text}");
}

/// Issue 10: an index past what the database holds is a 404, a body that repeats a key is a 400
/// naming it (nothing written), and entries can be listed by kind and subject.
#[tokio::test]
async fn issue_10_huge_indexes_duplicate_keys_and_filtered_lists() {
    let server = Server::start(fresh_database(Backend::Sqlite).await.unwrap()).await;
    let key = server.admin.clone();
    for path in [
        "/v1/ledger/entries/18446744073709551615",
        "/v1/ledger/entries/9223372036854775808",
        "/v1/ledger/entries/9223372036854775807",
    ] {
        let (status, body) = server.send(Method::GET, path, Some(&key), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert!(body["error"]["message"].is_string(), "{path}: {body}");
    }
    let (status, body) = server
        .send(
            Method::GET,
            "/v1/ledger/entries?start=18446744073709551615",
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["entries"], json!([]));

    let size_before = server.ledger.size().await.unwrap();
    for raw in [
        r#"{"kind":"note.x","subject":"s","payload":{"stage":"a","stage":"b"}}"#,
        r#"{"kind":"note.x","kind":"note.y","subject":"s"}"#,
    ] {
        let response = server
            .request(Method::POST, "/v1/ledger/entries", Some(&key))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{raw}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "duplicate_key", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(r#"duplicate key "stage" in the object at /payload"#)
                || message.contains(r#"duplicate key "kind""#),
            "{message}"
        );
    }
    assert_eq!(server.ledger.size().await.unwrap(), size_before);

    for (kind, subject) in [
        ("note.a", "m1"),
        ("note.b", "m2"),
        ("other.c", "m1"),
        ("note.a", "m2"),
    ] {
        let (status, body) = server
            .send(
                Method::POST,
                "/v1/ledger/entries",
                Some(&key),
                Some(json!({"kind": kind, "subject": subject})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let kinds = async |query: &str| -> Vec<(String, String)> {
        let (status, body) = server
            .send(
                Method::GET,
                &format!("/v1/ledger/entries?{query}"),
                Some(&key),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_owned(),
                    e["subject"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let pair = |k: &str, s: &str| (k.to_owned(), s.to_owned());
    assert_eq!(
        kinds("kind=note.").await,
        vec![
            pair("note.a", "m1"),
            pair("note.b", "m2"),
            pair("note.a", "m2")
        ]
    );
    assert_eq!(
        kinds("kind=note.a&subject=m2").await,
        vec![pair("note.a", "m2")]
    );
    assert_eq!(
        kinds("subject=m1").await,
        vec![pair("note.a", "m1"), pair("other.c", "m1")]
    );
    assert!(
        kinds("kind=note").await.is_empty(),
        "no prefix without a dot"
    );
    let (_, body) = server
        .send(
            Method::GET,
            "/v1/ledger/entries?kind=note.&limit=1",
            Some(&key),
            None,
        )
        .await;
    let next = body["next"].as_u64().unwrap();
    let (_, body) = server
        .send(
            Method::GET,
            &format!("/v1/ledger/entries?kind=note.&limit=5&start={next}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(body["entries"].as_array().unwrap().len(), 2, "{body}");
    assert_eq!(body["next"], Value::Null, "{body}");
}

/// Issue 10: operators scrape `/metrics` without a key, and no client can add label values to it:
/// invented methods count as `other`, unrouted paths as `unmatched`.
#[tokio::test]
async fn issue_10_metrics_are_public_and_their_labels_bounded() {
    let server = Server::start(fresh_database(Backend::Sqlite).await.unwrap()).await;
    let brew = Method::from_bytes(b"BREW").unwrap();
    let (status, _) = server.send(brew.clone(), "/healthz", None, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, _) = server.send(brew, "/no/such/route-12345", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server
        .send(Method::GET, "/also/not/here-67890", None, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = server
        .request(Method::GET, "/metrics", None)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "/metrics needs no key");
    let text = response.text().await.unwrap();
    assert!(!text.contains("BREW"), "{text}");
    assert!(!text.contains("12345") && !text.contains("67890"), "{text}");
    assert!(
        text.contains(
            "warden_http_requests_total{route=\"/healthz\",method=\"other\",status=\"405\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "warden_http_requests_total{route=\"unmatched\",method=\"other\",status=\"404\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "warden_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn a_postgres_database_that_goes_down_answers_503_not_a_crash() {
    let db = fresh_database(Backend::Postgres)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    let server = Server::start(db).await;
    let (status, _) = server.send(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let admin_url = std::env::var("TEST_DATABASE_URL").unwrap();
    let admin = warden_ledger::store::connect(&admin_url).await.unwrap();
    admin
        .execute_raw(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
    let (status, body) = server.send(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
    let (status, _) = server
        .send(
            Method::POST,
            "/v1/ledger/entries",
            Some(&server.admin),
            Some(json!({"kind": "a.b", "subject": "s"})),
        )
        .await;
    assert!(
        status == StatusCode::SERVICE_UNAVAILABLE
            || status == StatusCode::UNAUTHORIZED
            || status.is_server_error(),
        "{status}"
    );
}

/// A tiny PCM WAV: 8 kHz mono 16-bit, 64 samples.
fn wav() -> Vec<u8> {
    let samples: Vec<u8> = (0..64u16).flat_map(|n| (n * 300).to_le_bytes()).collect();
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(4 + 24 + 8 + samples.len() as u32).to_le_bytes());
    file.extend_from_slice(b"WAVEfmt ");
    file.extend_from_slice(&16u32.to_le_bytes());
    file.extend_from_slice(&[1, 0, 1, 0]);
    file.extend_from_slice(&8000u32.to_le_bytes());
    file.extend_from_slice(&16000u32.to_le_bytes());
    file.extend_from_slice(&[2, 0, 16, 0]);
    file.extend_from_slice(b"data");
    file.extend_from_slice(&(samples.len() as u32).to_le_bytes());
    file.extend_from_slice(&samples);
    file
}

on_both!(
    labels_are_embedded_read_and_verified_over_http,
    async |server| {
        let evaluator = server.key(&[Role::Evaluator]).await;
        let user = server.key(&[Role::User]).await;
        let original = wav();
        let response = server
            .request(
                Method::POST,
                "/v1/labels/embed?producer=WARDEN-TEST&produce_id=clip-1&filename=clip.wav",
                Some(&evaluator),
            )
            .body(original.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-warden-format"], "WAV");
        let labelled = response.bytes().await.unwrap().to_vec();
        assert!(labelled.len() > original.len());
        let samples = &original[44..];
        assert!(
            labelled.windows(samples.len()).any(|w| w == samples),
            "the audio samples are copied unchanged"
        );

        let (status, read) = {
            let response = server
                .request(Method::POST, "/v1/labels/read", Some(&user))
                .body(labelled.clone())
                .send()
                .await
                .unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        };
        assert_eq!(status, StatusCode::OK, "{read}");
        assert_eq!(
            (
                read["count"].clone(),
                read["labels"][0]["ContentProducer"].clone()
            ),
            (json!(1), json!("WARDEN-TEST"))
        );

        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(labelled).file_name("clip.wav"),
        );
        let response = server
            .request(Method::POST, "/v1/labels/verify", Some(&user))
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let report: Value = response.json().await.unwrap();
        assert_eq!(report["conformant"], true, "{report}");
        assert_eq!(report["display"]["generated"], "is", "{report}");

        let response = server
            .request(Method::POST, "/v1/labels/verify?declared=true", Some(&user))
            .body(original)
            .send()
            .await
            .unwrap();
        let report: Value = response.json().await.unwrap();
        assert_eq!(
            (
                report["conformant"].clone(),
                report["display"]["generated"].clone()
            ),
            (json!(false), json!("possibly")),
            "{report}"
        );
    }
);

on_both!(bad_uploads_get_precise_errors, async |server| {
    let key = server.admin.clone();
    let post = |path: &str, body: Vec<u8>| {
        server
            .request(Method::POST, path, Some(&key))
            .body(body)
            .send()
    };
    let response = post(
        "/v1/labels/embed?producer=P&produce_id=1&filename=x.bin",
        vec![0, 1, 2, 3],
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let mut truncated = wav();
    truncated.truncate(60);
    let response = post("/v1/labels/embed?producer=P&produce_id=1", truncated)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "corrupt_file", "{body}");
    let response = post("/v1/labels/embed?producer=P%20Q&produce_id=1", wav())
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a space is outside the Annex E charset"
    );
    let response = post("/v1/labels/embed?produce_id=1", wav()).await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "producer is required"
    );
    let response = post("/v1/labels/read", vec![7; MAX_UPLOAD + 1])
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let form =
        reqwest::multipart::Form::new().part("other", reqwest::multipart::Part::bytes(wav()));
    let response = server
        .request(Method::POST, "/v1/labels/read", Some(&key))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
});

#[tokio::test]
async fn chat_without_a_configured_model_says_how_to_configure_one() {
    let server = Server::start(fresh_database(Backend::Sqlite).await.unwrap()).await;
    let user = server.key(&[Role::User]).await;
    let body = json!({"messages": [{"role": "user", "content": "hi"}]});
    let (status, error) = server
        .send(
            Method::POST,
            "/v1/chat/completions",
            Some(&user),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("[model] gguf"),
        "{error}"
    );
}
