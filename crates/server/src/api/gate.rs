//! The gate over HTTP, thin over [`warden_gate::service`].
//!
//! - `GET /v1/gate/{model}/{stage}`: may this model operate at this stage? Folded incrementally
//!   from the ledger on each call, so a pause takes effect on the next call.
//! - `GET /v1/gate/proposals/{id}/statement?role=R`: the text the calling key's person signs
//!   with their own signing key to approve the proposal for role R.
//! - `POST /v1/gate/proposals/{id}/signoffs` `{role, note}`: sign for a role the calling key
//!   holds. The server writes who signed (the calling key's person); the note must be the
//!   statement signed by that person's registered signing key.

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use warden_gate::Stage;
use warden_gate::decision::Answer;
use warden_gate::service::{self, GateError, Signed};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};

impl From<GateError> for ApiError {
    fn from(error: GateError) -> Self {
        match error {
            GateError::Refused(message) => {
                ApiError::new(StatusCode::CONFLICT, "gate_refused", message)
            }
            GateError::Ledger(error) => error.into(),
            GateError::Store(error) => error.into(),
            GateError::Environment(message) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
            }
        }
    }
}

/// `GET /v1/gate/{model}/{stage}`.
pub async fn answer(
    State(state): State<AppState>,
    Path((model, stage)): Path<(String, String)>,
) -> Result<Json<Answer>, ApiError> {
    let stage: Stage = serde_json::from_value(Value::String(stage.clone())).map_err(|_| {
        let names: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).collect();
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "unknown stage `{stage}`; expected one of: {}",
                names.join(", ")
            ),
        )
    })?;
    let mut gate = state.gate.lock().await;
    service::refresh(&mut gate, &state.ledger).await?;
    Ok(Json(gate.answer(&model, stage)))
}

fn require_role(caller: &Caller, role: &str) -> Result<(), ApiError> {
    if caller.roles.iter().any(|r| r.as_str() == role) {
        return Ok(());
    }
    // The route admits every key; the gate's rules refuse this sign-off (409, like the others).
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "gate_refused",
        format!("this key does not hold the role `{role}`; sign with a key that does"),
    ))
}

/// The query of the statement route.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    role: String,
}

/// `GET /v1/gate/proposals/{id}/statement?role=R`.
pub async fn statement(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<StatementQuery>,
) -> Result<Json<Value>, ApiError> {
    require_role(&caller, &query.role)?;
    let mut gate = state.gate.lock().await;
    service::refresh(&mut gate, &state.ledger).await?;
    let text = service::statement(&gate, &id, &query.role, &caller.person)?;
    Ok(Json(json!({
        "statement": text,
        "person": caller.person,
        "sign_with": "the person's registered signing key, as a C2SP signed note (`warden gate sign --print-note`)",
    })))
}

/// The body of a sign-off.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    role: String,
    /// The statement signed by the caller's person's signing key, as a C2SP signed note.
    note: String,
}

/// `POST /v1/gate/proposals/{id}/signoffs`: sign for a role the calling key holds.
pub async fn sign_proposal(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<SignRequest>,
) -> Result<Json<Signed>, ApiError> {
    require_role(&caller, &body.role)?;
    let mut gate = state.gate.lock().await;
    let signed = service::sign(
        &state.ledger,
        &mut gate,
        &id,
        &body.role,
        &caller.person,
        &body.note,
        &caller.actor(),
    )
    .await?;
    Ok(Json(signed))
}
