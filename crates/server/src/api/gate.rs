//! `GET /v1/gate/{model}/{stage}`: may this model operate at this stage? The answer comes from
//! the gate's decisions and pauses as recorded in the ledger, folded incrementally: each call
//! reads only the entries appended since the last one, so a pause takes effect on the next call.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;
use warden_gate::Stage;
use warden_gate::decision::{Answer, GateState};
use warden_ledger::{Ledger, LedgerError};

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
