//! Writing the kill switch, restores, rollbacks and drills to the ledger, with the checks that
//! keep a record from saying something the fold would reject.

use serde_json::{Value, json};
use warden_ledger::access::countersigned;
use warden_ledger::entry::{EntryDraft, SealedEntry};
use warden_ledger::{Ledger, LedgerError};

use crate::config::RouteConfig;
use crate::control::{
    ControlState, DRILL, RESTORED, ROLLED_BACK, WITHDRAWN, is_control_input, restore_statement,
};

/// Why a gateway act was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// The control state as the ledger has it now.
pub async fn load(ledger: &Ledger) -> Result<ControlState, LedgerError> {
    let mut state = ControlState::new(ledger.verifier(), ledger.origin());
    let (entries, size) = ledger.scan(0, is_control_input).await?;
    state.fold(&entries);
    state.size = size;
    Ok(state)
}

async fn append(
    ledger: &Ledger,
    kind: &str,
    model: &str,
    actor: &str,
    payload: Value,
) -> Result<SealedEntry, ServiceError> {
    let payload = countersigned(ledger, kind, model, payload)?;
    Ok(ledger
        .append(EntryDraft::now(kind, actor, model, payload))
        .await?)
}

/// Stop serving `model` on every gateway that reads this ledger.
pub async fn withdraw(
    ledger: &Ledger,
    model: &str,
    reason: &str,
    actor: &str,
) -> Result<SealedEntry, ServiceError> {
    if reason.trim().is_empty() {
        return Err(ServiceError::Refused(
            "a withdrawal needs a reason (--reason) for the record".into(),
        ));
    }
    let state = load(ledger).await?;
    if let Some(existing) = state.withdrawn.get(model) {
        return Err(ServiceError::Refused(format!(
            "`{model}` is already withdrawn (ledger entry {})",
            existing.index
        )));
    }
    append(
        ledger,
        WITHDRAWN,
        model,
        actor,
        json!({"model": model, "reason": reason}),
    )
    .await
}

/// The statement `person` must sign to restore `model`, and the withdrawal it answers.
pub async fn restore_text(
    ledger: &Ledger,
    model: &str,
    person: &str,
) -> Result<String, ServiceError> {
    let state = load(ledger).await?;
    let withdrawal = state.withdrawn.get(model).ok_or_else(|| {
        ServiceError::Refused(format!("`{model}` is not withdrawn; nothing to restore"))
    })?;
    Ok(restore_statement(
        ledger.origin(),
        model,
        withdrawal.index,
        &warden_ledger::access::person_id(person),
    ))
}

/// Serve a withdrawn model again: `note` is [`restore_text`] signed by `person`'s registered
/// signing key; the fold must accept it or nothing is written.
pub async fn restore(
    ledger: &Ledger,
    model: &str,
    person: &str,
    note: &str,
    actor: &str,
) -> Result<SealedEntry, ServiceError> {
    let person = warden_ledger::access::person_id(person);
    let payload = json!({"model": model, "person": person, "note": note});
    // Dry-run the fold on a copy: a restore the replay would reject is refused now, with why.
    let mut state = load(ledger).await?;
    let before = state.rejected.len();
    let draft_payload = countersigned(ledger, RESTORED, model, payload.clone())?;
    let probe = warden_ledger::entry::Entry {
        index: state.size,
        kind: RESTORED.to_owned(),
        actor: actor.to_owned(),
        time: String::new(),
        subject: model.to_owned(),
        payload: draft_payload,
    };
    state.fold([&probe]);
    if let Some((_, why)) = state.rejected.get(before) {
        return Err(ServiceError::Refused(format!(
            "the restore would not hold: {why}"
        )));
    }
    append(ledger, RESTORED, model, actor, payload).await
}

/// Route `model` to its known-good version `to` (or back to the configured current version
/// with `None`).
pub async fn rollback(
    ledger: &Ledger,
    route: &RouteConfig,
    to: Option<&str>,
    actor: &str,
) -> Result<SealedEntry, ServiceError> {
    if let Some(to) = to {
        let version = route.version(to).ok_or_else(|| {
            let known: Vec<&str> = route.versions.iter().map(|v| v.name.as_str()).collect();
            ServiceError::Refused(format!(
                "`{}` has no version `{to}`; it has: {}",
                route.model,
                known.join(", ")
            ))
        })?;
        if !version.known_good && !version.current {
            return Err(ServiceError::Refused(format!(
                "version `{to}` of `{}` is not marked known_good in warden.toml; only a known-good version can be rolled back to",
                route.model
            )));
        }
        if let Some(gate_model) = &version.gate_model {
            let gate = warden_gate::service::load(ledger).await?;
            let answer = gate.answer(gate_model, warden_gate::policy::Stage::ApiDeployment);
            if !answer.allowed {
                return Err(ServiceError::Refused(format!(
                    "the gate does not allow api-deployment of `{gate_model}` (version `{to}`): {}",
                    answer.why
                )));
            }
        }
    }
    append(
        ledger,
        ROLLED_BACK,
        &route.model,
        actor,
        json!({"model": route.model, "to": to}),
    )
    .await
}

/// Record a drill and what it measured.
pub async fn record_drill(
    ledger: &Ledger,
    model: &str,
    actor: &str,
    measured: Value,
) -> Result<SealedEntry, ServiceError> {
    append(
        ledger,
        DRILL,
        model,
        actor,
        json!({"model": model, "measured": measured}),
    )
    .await
}

/// Record that the end-user pseudonym key with this fingerprint was destroyed.
pub async fn record_users_forgotten(
    ledger: &Ledger,
    fingerprint: &str,
    actor: &str,
) -> Result<SealedEntry, ServiceError> {
    append(
        ledger,
        crate::control::USERS_FORGOTTEN,
        "end-users",
        actor,
        json!({"key_sha256_prefix": fingerprint}),
    )
    .await
}
