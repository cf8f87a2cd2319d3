//! The gate over HTTP. `GET /v1/gate/{model}/{stage}`: may this model operate at this stage? The
//! answer comes from the gate's decisions and pauses as recorded in the ledger, folded
//! incrementally: each call reads only the entries appended since the last one, so a pause takes
//! effect on the next call. `POST /v1/gate/proposals/{id}/signoffs`: sign a proposal for a role
//! the calling key holds; the signer is the key, so "distinct people" means distinct keys.
//! [`sign`] is shared with `warden gate sign`.

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use warden_gate::Stage;
use warden_gate::decision::{Answer, GateState};
use warden_ledger::entry::EntryDraft;
use warden_ledger::{Ledger, LedgerError};

use crate::auth::Caller;
use crate::extract::{ApiJson, ApiPath};

use crate::AppState;
use crate::error::ApiError;

/// The `gate.*` entries from index `start` on, as `(index, kind, actor, payload)`.
pub async fn gate_entries(
    ledger: &Ledger,
    start: u64,
) -> Result<Vec<(u64, String, String, Value)>, LedgerError> {
    let size = ledger.size().await?;
    let mut out = Vec::new();
    let mut next = start;
    while next < size {
        let page = ledger.entries(next, warden_ledger::log::MAX_PAGE).await?;
        let Some(last) = page.last() else {
            break;
        };
        next = last.index + 1;
        out.extend(
            page.into_iter()
                .filter(|e| e.kind.starts_with("gate."))
                .map(|e| (e.index, e.kind, e.actor, e.payload)),
        );
    }
    Ok(out)
}

/// Bring `state` up to date with the ledger.
pub async fn refresh(state: &mut GateState, ledger: &Ledger) -> Result<(), LedgerError> {
    let entries = gate_entries(ledger, state.size).await?;
    state.fold(
        entries
            .iter()
            .map(|(i, kind, actor, payload)| (*i, kind.as_str(), actor.as_str(), payload)),
    );
    state.size = state.size.max(ledger.size().await?);
    Ok(())
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
    refresh(&mut gate, &state.ledger).await?;
    Ok(Json(gate.answer(&model, stage)))
}

/// What a sign-off did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Signed {
    pub ledger_index: u64,
    pub remaining_roles: Vec<String>,
    /// The `gate.decision` entry, when this sign-off was the last one needed.
    pub decision_index: Option<u64>,
}

/// Why a sign-off was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The rules forbid it; the message says which.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Sign proposal `id` for `role` as `by`, and append the decision when every role has signed.
/// `state` must be the caller's up-to-date fold; hold it locked across the call so two sign-offs
/// in this process cannot both complete a decision (the fold re-checks every entry anyway).
pub async fn sign(
    ledger: &Ledger,
    state: &mut GateState,
    id: &str,
    role: &str,
    by: &str,
) -> Result<Signed, SignError> {
    refresh(state, ledger).await?;
    let pending = state.pending.get(id).ok_or_else(|| {
        let why = if state.decisions.contains_key(id) {
            "has already been decided"
        } else {
            "does not exist"
        };
        SignError::Refused(format!(
            "proposal `{id}` {why}; `warden gate status --model M` lists pending proposals"
        ))
    })?;
    pending
        .check_signoff(role, by)
        .map_err(SignError::Refused)?;
    let remaining: Vec<String> = pending
        .missing_roles()
        .into_iter()
        .filter(|r| r != role)
        .collect();
    let (model, stage, action) = (
        pending.proposal.model.clone(),
        pending.proposal.stage,
        pending.proposal.action,
    );
    let subject = format!("gate-proposal:{id}");
    let entry = ledger
        .append(EntryDraft::now(
            "gate.signoff",
            by,
            subject.clone(),
            json!({"proposal": id, "role": role, "by": by}),
        ))
        .await?;
    let mut decision_index = None;
    if remaining.is_empty() {
        let decision = ledger
            .append(EntryDraft::now(
                "gate.decision",
                by,
                subject,
                json!({"proposal": id, "model": model, "stage": stage, "action": action}),
            ))
            .await?;
        decision_index = Some(decision.index);
    }
    refresh(state, ledger).await?;
    Ok(Signed {
        ledger_index: entry.index,
        remaining_roles: remaining,
        decision_index,
    })
}

/// The body of a sign-off.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    role: String,
}

/// `POST /v1/gate/proposals/{id}/signoffs`: sign for a role the calling key holds.
pub async fn sign_proposal(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<SignRequest>,
) -> Result<Json<Signed>, ApiError> {
    if !caller.roles.iter().any(|r| r.as_str() == body.role) {
        // The route admits every key; the gate's rules refuse this sign-off (409, like the others).
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "signoff_refused",
            format!(
                "this key does not hold the role `{}`; sign with a key that does",
                body.role
            ),
        ));
    }
    let mut gate = state.gate.lock().await;
    match sign(&state.ledger, &mut gate, &id, &body.role, &caller.actor()).await {
        Ok(signed) => Ok(Json(signed)),
        Err(SignError::Refused(message)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "signoff_refused",
            message,
        )),
        Err(SignError::Ledger(error)) => Err(error.into()),
    }
}
