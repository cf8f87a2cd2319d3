//! The transparency ledger API: append, read, checkpoints, proofs and audit.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::{Value, json};
use warden_ledger::entry::{Entry, EntryDraft};
use warden_ledger::proof::ProofBundle;
use warden_ledger::query::{self, EntryFilter};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};

/// Most entries one batch append takes.
pub const MAX_BATCH: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppendRequest {
    kind: String,
    subject: String,
    #[serde(default)]
    payload: Value,
}

impl AppendRequest {
    fn into_draft(self, caller: &Caller) -> EntryDraft {
        EntryDraft::now(self.kind, caller.actor(), self.subject, self.payload)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    entries: Vec<AppendRequest>,
}

/// `POST /v1/ledger/entries`: append one entry; the actor is the calling key.
pub async fn append(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<AppendRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let sealed = state
        .ledger
        .append_generic(body.into_draft(&caller))
        .await?;
    let entry: Value = serde_json::from_str(&sealed.text).unwrap_or(Value::Null);
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"index": sealed.index, "leaf_hash": BASE64.encode(sealed.leaf), "entry": entry}),
        ),
    ))
}

/// `POST /v1/ledger/batch`: append up to [`MAX_BATCH`] entries in one transaction.
pub async fn append_batch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<BatchRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if body.entries.is_empty() || body.entries.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_batch",
            format!(
                "a batch holds 1 to {MAX_BATCH} entries; this one has {}",
                body.entries.len()
            ),
        ));
    }
    let drafts: Vec<EntryDraft> = body
        .entries
        .into_iter()
        .map(|request| request.into_draft(&caller))
        .collect();
    let sealed = state.ledger.append_batch_generic(&drafts).await?;
    let indexes: Vec<u64> = sealed.iter().map(|entry| entry.index).collect();
    Ok((
        StatusCode::CREATED,
        Json(json!({"count": indexes.len(), "indexes": indexes})),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    #[serde(default)]
    start: u64,
    #[serde(default = "default_limit")]
    limit: u64,
    /// An exact kind, or a prefix ending in `.`.
    kind: Option<String>,
    subject: Option<String>,
}

fn default_limit() -> u64 {
    100
}

/// `GET /v1/ledger/entries?start=&limit=&kind=&subject=`: `next` is where the following page
/// starts (null at the end of the ledger).
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Value>, ApiError> {
    let size = state.ledger.size().await?;
    let filter = EntryFilter {
        kind: page.kind,
        subject: page.subject,
    };
    let limit = page.limit.clamp(1, warden_ledger::log::MAX_PAGE);
    let found = query::find(&state.ledger, &filter, page.start, limit).await?;
    Ok(Json(
        json!({"size": size, "start": page.start, "next": found.next, "entries": found.entries}),
    ))
}

/// `GET /v1/ledger/entries/{index}`.
pub async fn get(
    State(state): State<AppState>,
    ApiPath(index): ApiPath<u64>,
) -> Result<Json<Entry>, ApiError> {
    state
        .ledger
        .entries(index, 1)
        .await?
        .pop()
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no ledger entry {index}")))
}

fn plain_text(body: String) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// `GET /v1/ledger/checkpoint`: the C2SP signed checkpoint at the current size.
pub async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(plain_text(state.ledger.checkpoint().await?.note))
}

/// `GET /v1/ledger/key`: the verifier key that checks checkpoints.
pub async fn verifier_key(State(state): State<AppState>) -> Response {
    plain_text(format!("{}\n", state.ledger.verifier()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    index: u64,
    size: Option<u64>,
}

/// `GET /v1/ledger/proofs/inclusion?index=&size=`.
pub async fn inclusion(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<InclusionQuery>,
) -> Result<Json<ProofBundle>, ApiError> {
    Ok(Json(ProofBundle::Inclusion(
        state.ledger.inclusion(query.index, query.size).await?,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    old: u64,
    new: Option<u64>,
}

/// `GET /v1/ledger/proofs/consistency?old=&new=`.
pub async fn consistency(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> Result<Json<ProofBundle>, ApiError> {
    Ok(Json(ProofBundle::Consistency(
        state.ledger.consistency(query.old, query.new).await?,
    )))
}

/// `GET /v1/ledger/audit`: recompute the whole ledger from its rows.
pub async fn audit(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let report = state.ledger.audit().await?;
    Ok(Json(serde_json::to_value(report).unwrap_or(Value::Null)))
}
