//! The gate's service layer: what `warden gate …` and the `/v1/gate` routes do, written once.
//! It gathers evidence from eval runs, records assessments, proposals, sign-offs, decisions,
//! pauses and attestations as ledger entries, and tells the configured recipients. The surfaces
//! parse, call and print; every rule lives here or in [`crate::decision`].
//!
//! Evidence counts only when the run's `eval.run.finished` entry exists and the stored summary
//! and config still hash to the digests it recorded: a report edited in the database is named
//! and treated as missing, so its thresholds are `cannot_rule_out`.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Value, json};
use sha2::Digest as _;
use warden_eval::report::Report;
use warden_eval::run::RunConfig;
use warden_eval::store::EvalStore;
use warden_ledger::entry::{Entry, EntryDraft, SealedEntry, now_rfc3339};
use warden_ledger::{Ledger, LedgerError};

use crate::decision::{Action, GateState, Pending, SignOff, signoff_statement};
use crate::{Assessment, Attestation, Evidence, Policy, Stage};

/// Why a gate operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The gate's rules refuse it; the message says which and what to do.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Store(#[from] warden_store::StoreError),
    /// Stored data could not be used (e.g. the compliance bank failed to load).
    #[error("{0}")]
    Environment(String),
}

fn sha256(bytes: &[u8]) -> String {
    warden_core::hex::encode(&sha2::Sha256::digest(bytes))
}

fn is_gate_input(kind: &str) -> bool {
    kind.starts_with("gate.") || kind.starts_with("access.")
}

/// The gate's state folded from the whole ledger.
pub async fn load(ledger: &Ledger) -> Result<GateState, LedgerError> {
    let mut state = GateState::new(ledger.verifier(), ledger.origin());
    refresh(&mut state, ledger).await?;
    Ok(state)
}

/// Bring `state` up to date: fold the entries appended since it was last refreshed, up to the
/// size read at the start, and resume from exactly there next time.
pub async fn refresh(state: &mut GateState, ledger: &Ledger) -> Result<(), LedgerError> {
    let (entries, size) = ledger.scan(state.size, is_gate_input).await?;
    state.fold(&entries);
    state.size = state.size.max(size);
    Ok(())
}

/// Evidence for one checkpoint, with the runs that were left out and why.
#[derive(Clone, Debug, Default)]
pub struct EvidenceSet {
    pub evidence: Vec<Evidence>,
    /// One JSON link per counted run (suite, run, finished_at, summary_sha256).
    pub links: Vec<Value>,
    /// Runs tagged for this checkpoint that do not count, each with why.
    pub excluded: Vec<String>,
}

/// The eval evidence for `model` at `checkpoint`: every finished run tagged with that series
/// and checkpoint whose ledger record vouches for its stored summary and config.
pub async fn evidence(
    ledger: &Ledger,
    store: &dyn EvalStore,
    model: &str,
    checkpoint: &str,
) -> Result<EvidenceSet, GateError> {
    let (finished, _) = ledger.scan(0, |kind| kind == "eval.run.finished").await?;
    let recorded = |run: &str| -> Option<&Entry> {
        finished
            .iter()
            .rev()
            .find(|e| e.payload.get("run").and_then(Value::as_str) == Some(run))
    };
    let mut set = EvidenceSet::default();
    for run in store.eval_runs().await? {
        if run.status != "finished" {
            continue;
        }
        let Ok(config) = serde_json::from_str::<RunConfig>(&run.config) else {
            continue;
        };
        if config.series.as_deref() != Some(model)
            || config.checkpoint.as_deref() != Some(checkpoint)
        {
            continue;
        }
        let Some(summary) = run.summary.as_ref() else {
            continue;
        };
        let summary_sha256 = sha256(summary.as_bytes());
        let Some(entry) = recorded(&run.id) else {
            set.excluded.push(format!(
                "run `{}` has no `eval.run.finished` ledger entry; it is not evidence",
                run.id
            ));
            continue;
        };
        if entry.payload["summary_sha256"] != summary_sha256.as_str() {
            set.excluded.push(format!(
                "run `{}`: the stored report does not match the digest in ledger entry {} (edited after the run?); it is not evidence",
                run.id, entry.index
            ));
            continue;
        }
        if entry.payload["config_sha256"] != sha256(run.config.as_bytes()).as_str() {
            set.excluded.push(format!(
                "run `{}`: the stored config does not match the digest in ledger entry {} (retagged after the run?); it is not evidence",
                run.id, entry.index
            ));
            continue;
        }
        let Ok(report) = serde_json::from_str::<Report>(summary) else {
            continue;
        };
        let mitigation = config
            .mitigation
            .as_deref()
            .and_then(|m| serde_json::from_value(Value::String(m.into())).ok());
        let mut item = Evidence::from_report(&report, mitigation);
        if run.suite == warden_eval::compliance::SUITE_NAME {
            let samples = warden_eval::run::stored_samples(store, &run.id)
                .await
                .map_err(|e| GateError::Environment(e.to_string()))?;
            let bank = warden_eval::compliance::bank()
                .map_err(|e| GateError::Environment(e.to_string()))?;
            let compliance = warden_eval::compliance::assess(&run.id, &bank, &samples);
            item.metrics
                .extend(crate::metrics_from_compliance(&compliance));
        }
        set.links.push(json!({
            "suite": run.suite, "run": run.id, "finished_at": run.finished_at,
            "summary_sha256": summary_sha256, "ledger_index": entry.index,
        }));
        set.evidence.push(item);
    }
    Ok(set)
}

/// The `gate.attestation` entries for `model`.
pub async fn attestations(ledger: &Ledger, model: &str) -> Result<Vec<Attestation>, LedgerError> {
    let (entries, _) = ledger.scan(0, |kind| kind == "gate.attestation").await?;
    Ok(entries
        .into_iter()
        .filter(|e| e.payload["model"] == model)
        .filter_map(|e| {
            Some(Attestation {
                safeguard: e.payload["safeguard"].as_str()?.to_owned(),
                stage: serde_json::from_value(e.payload["stage"].clone()).ok(),
                by: e.actor,
                at: format!("ledger entry {}", e.index),
                link: e.payload["link"].as_str().unwrap_or_default().to_owned(),
            })
        })
        .collect())
}

/// An assessment as recorded.
#[derive(Clone, Debug)]
pub struct Assessed {
    pub assessment: Assessment,
    pub evidence: EvidenceSet,
    pub triggers: Vec<crate::assess::TriggerStatus>,
    /// Thresholds the evidence shows crossed.
    pub crossed: Vec<String>,
    pub ledger_index: u64,
}

/// Assess `model` at `checkpoint` under `policy` and record a `gate.assessment` entry.
#[allow(clippy::too_many_arguments)]
pub async fn assess(
    ledger: &Ledger,
    store: &dyn EvalStore,
    model: &str,
    checkpoint: &str,
    policy: &Policy,
    policy_text: &[u8],
    max_age_days: u32,
    compute_ratio: Option<f64>,
    actor: &str,
) -> Result<Assessed, GateError> {
    let evidence = evidence(ledger, store, model, checkpoint).await?;
    let attestations = attestations(ledger, model).await?;
    let assessment = crate::assess(
        policy,
        &evidence.evidence,
        &attestations,
        &now_rfc3339(),
        max_age_days,
    );
    let last_elicitation = evidence
        .evidence
        .iter()
        .map(|e| e.finished_at.clone())
        .max();
    let triggers = crate::reassessment_due(
        policy,
        &crate::ScalingState {
            effective_compute_ratio: compute_ratio,
            last_elicitation_at: last_elicitation,
        },
        &now_rfc3339(),
    );
    let assessment_json =
        serde_json::to_value(&assessment).map_err(|e| GateError::Environment(e.to_string()))?;
    let determinations: Vec<Value> = assessment
        .thresholds
        .iter()
        .map(|t| json!({"threshold": t.threshold, "determination": t.determination}))
        .collect();
    // Recipients hear of thresholds the evidence shows crossed; `cannot_rule_out` (often just
    // missing evidence) is in the assessment and treated as crossed by the gate, but not news.
    let crossed: Vec<String> = assessment
        .thresholds
        .iter()
        .filter(|t| t.determination == crate::Determination::Crossed)
        .map(|t| t.threshold.clone())
        .collect();
    let subject = format!("{model}@{checkpoint}");
    let payload = warden_ledger::access::countersigned(
        ledger,
        "gate.assessment",
        &subject,
        json!({
                "model": model, "checkpoint": checkpoint,
                "policy": policy.policy.id, "policy_version": policy.policy.version,
                "policy_sha256": sha256(policy_text),
                "evidence": evidence.links, "excluded_evidence": evidence.excluded,
                "determinations": determinations,
                "stages": assessment.stages.iter()
                    .map(|s| json!({"stage": s.stage, "permitted": s.permitted, "halted_by": s.halted_by}))
                    .collect::<Vec<_>>(),
                "assessment_sha256": sha256(assessment_json.to_string().as_bytes()),
        }),
    )?;
    let entry = ledger
        .append(EntryDraft::now("gate.assessment", actor, subject, payload))
        .await?;
    Ok(Assessed {
        assessment,
        evidence,
        triggers,
        crossed,
        ledger_index: entry.index,
    })
}

/// What a proposal asks for.
#[derive(Clone, Debug)]
pub struct ProposeRequest<'a> {
    pub model: &'a str,
    pub stage: Stage,
    pub action: Action,
    pub policy: &'a Policy,
    pub reason: &'a str,
    /// Override a halt; needs the policy's override roles.
    pub is_override: bool,
    pub actor: &'a str,
}

/// A recorded proposal.
#[derive(Clone, Debug, Serialize)]
pub struct Proposed {
    pub id: String,
    pub ledger_index: u64,
    pub roles: Vec<String>,
}

/// Propose a decision. The fold's rules are checked first, so a proposal the gate would reject
/// on replay is never written.
pub async fn propose(
    ledger: &Ledger,
    state: &mut GateState,
    request: &ProposeRequest<'_>,
) -> Result<Proposed, GateError> {
    refresh(state, ledger).await?;
    let policy = request.policy;
    if request.action == Action::ProceedWithConditions && request.reason.trim().is_empty() {
        return Err(GateError::Refused(
            "proceed-with-conditions needs --reason stating the conditions".into(),
        ));
    }
    let override_roles: Vec<String> = policy
        .signoff
        .override_roles
        .iter()
        .map(|r| r.get_ref().clone())
        .collect();
    if request.is_override && override_roles.is_empty() {
        return Err(GateError::Refused(format!(
            "policy `{}` names no [signoff] override_roles, so it allows no override of a halt",
            policy.policy.id
        )));
    }
    let mut roles: Vec<String> = policy
        .signoff
        .roles
        .iter()
        .map(|r| r.get_ref().clone())
        .collect();
    if request.is_override {
        for role in &override_roles {
            if !roles.contains(role) {
                roles.push(role.clone());
            }
        }
    }
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let id = format!("dec-{}", &unique[unique.len() - 8..]);
    let latest_assessment = state.assessments.get(request.model).map(|(i, _)| *i);
    let subject = format!("gate-proposal:{id}");
    let payload = json!({
        "id": id, "model": request.model, "stage": request.stage, "action": request.action,
        "roles": roles, "distinct": policy.signoff.distinct, "policy": policy.policy.id,
        "reason": request.reason, "assessment_index": latest_assessment,
        "override": request.is_override,
        "override_roles": if request.is_override { override_roles } else { Vec::new() },
    });
    let payload = warden_ledger::access::countersigned(ledger, "gate.proposal", &subject, payload)?;
    // Dry-run the fold on the would-be entry so that the rules live in one place.
    let mut trial = state.clone();
    let probe = Entry {
        index: state.size,
        kind: "gate.proposal".into(),
        actor: request.actor.into(),
        time: now_rfc3339(),
        subject: subject.clone(),
        payload: payload.clone(),
    };
    trial.fold(std::iter::once(&probe));
    if let Some((_, why)) = trial.rejected.last().filter(|(i, _)| *i == probe.index) {
        return Err(GateError::Refused(why.clone()));
    }
    let entry = ledger
        .append(EntryDraft::now(
            "gate.proposal",
            request.actor,
            subject,
            payload,
        ))
        .await?;
    refresh(state, ledger).await?;
    Ok(Proposed {
        id,
        ledger_index: entry.index,
        roles,
    })
}

/// The pending proposal `id`, or why there is none.
pub fn pending<'a>(state: &'a GateState, id: &str) -> Result<&'a Pending, GateError> {
    state.pending.get(id).ok_or_else(|| {
        let why = if state.decisions.contains_key(id) {
            "has already been decided"
        } else {
            "does not exist"
        };
        GateError::Refused(format!(
            "proposal `{id}` {why}; `warden gate status --model M` lists pending proposals"
        ))
    })
}

/// The text `person` signs (with their signing key) to approve proposal `id` for `role`.
pub fn statement(
    state: &GateState,
    id: &str,
    role: &str,
    person: &str,
) -> Result<String, GateError> {
    let pending = pending(state, id)?;
    pending
        .check_signoff(role, person)
        .map_err(GateError::Refused)?;
    Ok(signoff_statement(&state.origin, pending, role, person))
}

/// What a sign-off did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Signed {
    pub ledger_index: u64,
    pub remaining_roles: Vec<String>,
    /// The `gate.decision` entry, when this sign-off was the last one needed.
    pub decision_index: Option<u64>,
}

/// Sign proposal `id` for `role` as `person` with `note` (the [`statement`] signed by one of the
/// person's registered signing keys), written by `actor` (the calling key over the API), and
/// append the decision when every role has signed. Checked exactly as the fold will check it.
/// Hold `state` locked across the call so two sign-offs in this process cannot both complete a
/// decision (the fold re-checks every entry anyway).
pub async fn sign(
    ledger: &Ledger,
    state: &mut GateState,
    id: &str,
    role: &str,
    person: &str,
    note: &str,
    actor: &str,
) -> Result<Signed, GateError> {
    refresh(state, ledger).await?;
    let pending = pending(state, id)?;
    let signoff = SignOff {
        proposal: id.to_owned(),
        role: role.to_owned(),
        by: warden_ledger::access::person_id(person),
        note: note.to_owned(),
    };
    state
        .check_signed(pending, &signoff, actor)
        .map_err(GateError::Refused)?;
    let remaining: Vec<String> = pending
        .missing_roles()
        .into_iter()
        .filter(|r| r != role)
        .collect();
    let subject = format!("gate-proposal:{id}");
    let payload =
        serde_json::to_value(&signoff).map_err(|e| GateError::Environment(e.to_string()))?;
    let entry = ledger
        .append(EntryDraft::now(
            "gate.signoff",
            actor,
            subject.clone(),
            payload,
        ))
        .await?;
    let mut decision_index = None;
    if remaining.is_empty() {
        let p = &pending.proposal;
        let decision = ledger
            .append(EntryDraft::now(
                "gate.decision",
                actor,
                subject,
                json!({"proposal": id, "model": p.model, "stage": p.stage, "action": p.action}),
            ))
            .await?;
        decision_index = Some(decision.index);
    }
    refresh(state, ledger).await?;
    if let Some(index) = decision_index
        && let Some((_, why)) = state.rejected.iter().find(|(i, _)| *i == index)
    {
        return Err(GateError::Refused(format!(
            "the sign-off is recorded (ledger entry {}), but the decision was not taken: {why}",
            entry.index
        )));
    }
    Ok(Signed {
        ledger_index: entry.index,
        remaining_roles: remaining,
        decision_index,
    })
}

/// Pause `model` at `stage` (every stage when `None`) at once.
pub async fn pause(
    ledger: &Ledger,
    model: &str,
    stage: Option<Stage>,
    reason: &str,
    actor: &str,
) -> Result<SealedEntry, GateError> {
    if reason.trim().is_empty() {
        return Err(GateError::Refused(
            "a pause needs a reason (--reason) for the record".into(),
        ));
    }
    Ok(ledger
        .append(EntryDraft::now(
            "gate.pause",
            actor,
            model,
            json!({"model": model, "stage": stage, "reason": reason}),
        ))
        .await?)
}

/// Record that `safeguard` is in place for `model` (at `stage`), with a link to the evidence.
pub async fn attest(
    ledger: &Ledger,
    model: &str,
    safeguard: &str,
    stage: Option<Stage>,
    link: &str,
    actor: &str,
) -> Result<SealedEntry, GateError> {
    Ok(ledger
        .append(EntryDraft::now(
            "gate.attestation",
            actor,
            model,
            json!({"model": model, "safeguard": safeguard, "stage": stage, "link": link}),
        ))
        .await?)
}

/// Who hears of crossed thresholds and pauses.
#[derive(Clone, Debug, Default)]
pub struct Notifier {
    /// A folder that gets one JSON file per notification.
    pub dir: Option<PathBuf>,
    /// URLs that get a JSON POST per notification.
    pub webhooks: Vec<String>,
    pub client: reqwest::Client,
}

impl Notifier {
    /// Tell every recipient; returns one line per failed delivery (never fatal: the ledger entry
    /// is the record, notifications are a courtesy on top).
    pub async fn notify(&self, message: &Value) -> Vec<String> {
        let mut failures = Vec::new();
        if let Some(dir) = &self.dir {
            let name = format!(
                "warden-{}-{}.json",
                message["event"].as_str().unwrap_or("event"),
                message["ledger_index"]
            );
            let written = std::fs::create_dir_all(dir).and_then(|()| {
                std::fs::write(
                    dir.join(&name),
                    serde_json::to_vec_pretty(message).unwrap_or_default(),
                )
            });
            if let Err(e) = written {
                failures.push(format!(
                    "could not drop notification in {}: {e}",
                    dir.display()
                ));
            }
        }
        for url in &self.webhooks {
            let sent = self
                .client
                .post(url)
                .timeout(std::time::Duration::from_secs(10))
                .json(message)
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => {
                    failures.push(format!("webhook {url} answered {}", response.status()))
                }
                Err(e) => failures.push(format!(
                    "webhook {url} failed: {}",
                    warden_net::describe(&e)
                )),
            }
        }
        failures
    }
}
