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

/// [`append`] once the fold, dry-run on `state` (the ledger as it is now), accepts the record: a
/// record the replay would reject is refused now, naming it `what` and saying why.
async fn append_checked(
    ledger: &Ledger,
    mut state: ControlState,
    kind: &str,
    subject: &str,
    actor: &str,
    payload: Value,
    what: &str,
) -> Result<SealedEntry, ServiceError> {
    let payload = countersigned(ledger, kind, subject, payload)?;
    let before = state.rejected.len();
    let probe = warden_ledger::entry::Entry {
        index: state.size,
        kind: kind.to_owned(),
        actor: actor.to_owned(),
        time: warden_ledger::entry::now_rfc3339(),
        subject: subject.to_owned(),
        payload: payload.clone(),
    };
    state.fold([&probe]);
    if let Some((_, why)) = state.rejected.get(before) {
        return Err(ServiceError::Refused(format!(
            "the {what} would not hold: {why}"
        )));
    }
    Ok(ledger
        .append(EntryDraft::now(kind, actor, subject, payload))
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
    append_checked(
        ledger,
        load(ledger).await?,
        RESTORED,
        model,
        actor,
        payload,
        "restore",
    )
    .await
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

/// Record that `user` (a pseudonym) reached `rung` of the abuse ladder.
pub async fn escalate(
    ledger: &Ledger,
    user: &str,
    rung: usize,
    step: &crate::abuse::Rung,
    points: f64,
    decision: &str,
    actor: &str,
) -> Result<SealedEntry, ServiceError> {
    let until = (step.hours > 0).then(|| {
        jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_hours(i64::from(step.hours)))
            .map(crate::decision::fixed)
            .unwrap_or_default()
    });
    append(
        ledger,
        crate::control::USER_ESCALATED,
        user,
        actor,
        json!({"user": user, "action": step.action, "rung": rung, "until": until,
               "rate_limit_per_minute": step.rate_limit_per_minute,
               "points": (points * 100.0).round() / 100.0, "decision": decision}),
    )
    .await
}

/// Assign `user` (a pseudonym) a trust tier (`None`: back to the default).
pub async fn set_tier(
    ledger: &Ledger,
    user: &str,
    tier: Option<&str>,
    actor: &str,
) -> Result<SealedEntry, ServiceError> {
    append(
        ledger,
        crate::control::USER_TIER_SET,
        user,
        actor,
        json!({"user": user, "tier": tier}),
    )
    .await
}

/// File an appeal by `user` against the escalation in force; the text stays out of the ledger
/// (the entry carries its SHA-256).
pub async fn file_appeal(
    ledger: &Ledger,
    user: &str,
    message: &str,
    actor: &str,
) -> Result<(String, SealedEntry), ServiceError> {
    let state = load(ledger).await?;
    let escalation = state
        .users
        .get(user)
        .and_then(|u| u.escalation.as_ref())
        .ok_or_else(|| {
            ServiceError::Refused("this user has no escalation in force to appeal".into())
        })?;
    if let Some(open) = state
        .appeals
        .values()
        .find(|a| a.user == user && a.escalation == escalation.index && a.decision.is_none())
    {
        return Err(ServiceError::Refused(format!(
            "appeal {} against this escalation is still open",
            open.id
        )));
    }
    let id = format!("appeal-{}", uuid::Uuid::now_v7().simple());
    let entry = append(
        ledger,
        crate::control::APPEAL_FILED,
        user,
        actor,
        json!({"appeal": id, "user": user, "escalation": escalation.index,
               "message_sha256": crate::decision::sha256_hex(message)}),
    )
    .await?;
    Ok((id, entry))
}

/// Decide an appeal as `person` (who must hold the reviewer, safety-officer or admin role);
/// `overturned` ends the escalation and restarts the user's points.
pub async fn decide_appeal(
    ledger: &Ledger,
    appeal: &str,
    outcome: &str,
    person: &str,
    actor: &str,
) -> Result<SealedEntry, ServiceError> {
    let state = load(ledger).await?;
    let user = state
        .appeals
        .get(appeal)
        .map(|a| a.user.clone())
        .ok_or_else(|| ServiceError::Refused(format!("no appeal {appeal}")))?;
    let kind = crate::control::APPEAL_DECIDED;
    let payload = json!({"appeal": appeal, "outcome": outcome,
                         "person": warden_ledger::access::person_id(person)});
    append_checked(ledger, state, kind, &user, actor, payload, "decision").await
}
