//! API key management for admins. A created key's secret appears in the response once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};
use warden_core::Role;
use warden_ledger::access;
use warden_ledger::store::ApiKeyRecord;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    name: String,
    roles: Vec<Role>,
    /// The person the key is issued to; defaults to the key's name.
    #[serde(default)]
    person: Option<String>,
}

/// The listing form of a key: never the secret or its hash.
pub fn describe(key: &ApiKeyRecord) -> Value {
    json!({
        "id": key.id,
        "name": key.name,
        "person": key.person,
        "prefix": key.prefix,
        "roles": key.roles,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    })
}

/// `POST /v1/keys`.
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<CreateKey>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (minted, entry) = access::create_key(
        &state.ledger,
        &body.name,
        body.person.as_deref(),
        &body.roles,
        &caller.actor(),
    )
    .await?;
    let mut answer = describe(&minted.record);
    answer["secret"] = json!(minted.secret);
    answer["ledger_index"] = json!(entry.index);
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `GET /v1/keys`.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let keys = state.ledger.store().list_keys().await?;
    Ok(Json(
        json!({"keys": keys.iter().map(describe).collect::<Vec<_>>()}),
    ))
}

/// `DELETE /v1/keys/{id}`: revoke.
pub async fn revoke(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let entry = access::revoke_key(state.ledger.store().as_ref(), &id, &caller.actor())
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("no live key with id `{id}` (see GET /v1/keys)"))
        })?;
    Ok(Json(
        json!({"id": id, "revoked": true, "ledger_index": entry.index}),
    ))
}
