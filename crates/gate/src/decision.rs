//! Decisions: proposals, sign-offs, decisions and pauses, folded from the ledger into what each
//! model may do at each stage.
//!
//! The ledger is the only store of gate decisions. Each step is an entry (`gate.proposal`,
//! `gate.signoff`, `gate.decision`, `gate.pause`), so tampering with one fails
//! `warden ledger verify`, and entry order proves that every sign-off came before the decision
//! it completed. [`GateState::fold`] replays entries in index order and applies the rules again
//! (it trusts no entry's claim that a decision was valid):
//!
//! - a proposal names a model, a stage, an action and the roles that must sign;
//! - a sign-off counts only for a pending proposal, for a required role not yet filled, by a
//!   person who has not signed it already (distinct people) and who is not the proposer;
//! - a decision counts only once every required role has signed before it;
//! - the latest decision or pause covering a (model, stage) says whether it is allowed; with none,
//!   nothing is allowed.
//!
//! Pure: no IO; bad entries are skipped with a reason, never a panic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::policy::Stage;

/// What a proposal asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Proceed,
    ProceedWithConditions,
    PauseTraining,
    RestrictDeployment,
    WithdrawDeployment,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Proceed,
        Action::ProceedWithConditions,
        Action::PauseTraining,
        Action::RestrictDeployment,
        Action::WithdrawDeployment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Proceed => "proceed",
            Action::ProceedWithConditions => "proceed-with-conditions",
            Action::PauseTraining => "pause-training",
            Action::RestrictDeployment => "restrict-deployment",
            Action::WithdrawDeployment => "withdraw-deployment",
        }
    }

    /// Whether a decision with this action allows its stage.
    pub fn allows(self) -> bool {
        matches!(self, Action::Proceed | Action::ProceedWithConditions)
    }
}

impl std::str::FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
                format!(
                    "unknown action `{s}`; expected one of: {}",
                    names.join(", ")
                )
            })
    }
}

/// A `gate.proposal` entry's payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub id: String,
    pub model: String,
    pub stage: Stage,
    pub action: Action,
    /// Roles that must each sign, from the policy's `[signoff]`.
    pub roles: Vec<String>,
    /// Whether the signers must be distinct people.
    #[serde(default = "yes")]
    pub distinct: bool,
    /// Who proposed (the entry's actor).
    #[serde(default)]
    pub proposer: String,
    #[serde(default)]
    pub policy: String,
    #[serde(default)]
    pub reason: String,
    /// The ledger index of the assessment the proposal rests on, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment_index: Option<u64>,
}

fn yes() -> bool {
    true
}

/// A `gate.signoff` entry's payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignOff {
    pub proposal: String,
    pub role: String,
    /// The person signing.
    pub by: String,
}

/// A `gate.pause` entry's payload: stops a model at a stage (or every stage) at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pause {
    pub model: String,
    /// `None` pauses every stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    pub reason: String,
}

/// A proposal that became a decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The proposal id, which is the decision id.
    pub id: String,
    pub model: String,
    pub stage: Stage,
    pub action: Action,
    /// `(role, person, ledger index)` of every sign-off, in ledger order.
    pub signers: Vec<(String, String, u64)>,
    /// The ledger index of the `gate.decision` entry.
    pub index: u64,
}

/// A pending proposal and the sign-offs it has.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pending {
    pub proposal: Proposal,
    pub index: u64,
    pub signed: Vec<(String, String, u64)>,
}

impl Pending {
    /// Roles still to sign.
    pub fn missing_roles(&self) -> Vec<String> {
        self.proposal
            .roles
            .iter()
            .filter(|role| !self.signed.iter().any(|(r, _, _)| r == *role))
            .cloned()
            .collect()
    }

    /// Whether `by` may sign for `role` now; the error says why not.
    pub fn check_signoff(&self, role: &str, by: &str) -> Result<(), String> {
        if !self.proposal.roles.iter().any(|r| r == role) {
            return Err(format!(
                "role `{role}` is not asked to sign proposal `{}`; it needs: {}",
                self.proposal.id,
                self.proposal.roles.join(", ")
            ));
        }
        if by == self.proposal.proposer {
            return Err(format!(
                "`{by}` proposed `{}` and cannot approve their own proposal",
                self.proposal.id
            ));
        }
        if self.signed.iter().any(|(r, _, _)| r == role) {
            return Err(format!(
                "role `{role}` has already signed proposal `{}`",
                self.proposal.id
            ));
        }
        if self.proposal.distinct && self.signed.iter().any(|(_, person, _)| person == by) {
            return Err(format!(
                "`{by}` has already signed proposal `{}`; each role needs a different person",
                self.proposal.id
            ));
        }
        Ok(())
    }
}

/// What the gate says about one model at one stage.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Answer {
    pub model: String,
    pub stage: Stage,
    pub allowed: bool,
    /// The decision in force, if any.
    pub decision: Option<String>,
    /// The ledger index of the entry that settles it.
    pub ledger_index: Option<u64>,
    pub why: String,
}

/// The gate's state after replaying the ledger.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct GateState {
    pub pending: BTreeMap<String, Pending>,
    pub decisions: BTreeMap<String, Decision>,
    /// Per model: `(stage or every stage, reason, ledger index)`.
    pub pauses: BTreeMap<String, Vec<(Option<Stage>, String, u64)>>,
    /// Entries that were skipped, with why (shown by `warden gate status`).
    pub rejected: Vec<(u64, String)>,
    /// Entries read so far: the next fold starts here.
    pub size: u64,
}

impl GateState {
    /// Replay `(index, kind, actor, payload)` entries (in index order) into the state.
    pub fn fold<'a>(
        &mut self,
        entries: impl IntoIterator<Item = (u64, &'a str, &'a str, &'a Value)>,
    ) {
        for (index, kind, actor, payload) in entries {
            self.size = self.size.max(index + 1);
            if let Err(why) = self.apply(index, kind, actor, payload) {
                self.rejected.push((index, why));
            }
        }
    }

    fn apply(
        &mut self,
        index: u64,
        kind: &str,
        actor: &str,
        payload: &Value,
    ) -> Result<(), String> {
        let parse_error = |e: serde_json::Error| format!("unreadable {kind} payload: {e}");
        match kind {
            "gate.proposal" => {
                let mut proposal: Proposal =
                    serde_json::from_value(payload.clone()).map_err(parse_error)?;
                proposal.proposer = actor.to_owned();
                if proposal.roles.is_empty() {
                    return Err(format!("proposal `{}` names no roles to sign", proposal.id));
                }
                if self.pending.contains_key(&proposal.id)
                    || self.decisions.contains_key(&proposal.id)
                {
                    return Err(format!("proposal id `{}` is already used", proposal.id));
                }
                self.pending.insert(
                    proposal.id.clone(),
                    Pending {
                        proposal,
                        index,
                        signed: Vec::new(),
                    },
                );
            }
            "gate.signoff" => {
                let signoff: SignOff =
                    serde_json::from_value(payload.clone()).map_err(parse_error)?;
                let pending = self.pending.get_mut(&signoff.proposal).ok_or_else(|| {
                    format!("sign-off for `{}`, which is not pending", signoff.proposal)
                })?;
                pending.check_signoff(&signoff.role, &signoff.by)?;
                pending.signed.push((signoff.role, signoff.by, index));
            }
            "gate.decision" => {
                let id = payload
                    .get("proposal")
                    .and_then(Value::as_str)
                    .ok_or("decision entry without `proposal`")?;
                let pending = self
                    .pending
                    .get(id)
                    .ok_or_else(|| format!("decision on `{id}`, which is not pending"))?;
                let missing = pending.missing_roles();
                if !missing.is_empty() {
                    return Err(format!(
                        "decision on `{id}` before every role signed (missing: {})",
                        missing.join(", ")
                    ));
                }
                let pending = self.pending.remove(id).ok_or("vanished")?;
                self.decisions.insert(
                    id.to_owned(),
                    Decision {
                        id: id.to_owned(),
                        model: pending.proposal.model,
                        stage: pending.proposal.stage,
                        action: pending.proposal.action,
                        signers: pending.signed,
                        index,
                    },
                );
            }
            "gate.pause" => {
                let pause: Pause = serde_json::from_value(payload.clone()).map_err(parse_error)?;
                self.pauses.entry(pause.model).or_default().push((
                    pause.stage,
                    pause.reason,
                    index,
                ));
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether `model` may operate at `stage`: the latest decision or pause covering it decides.
    pub fn answer(&self, model: &str, stage: Stage) -> Answer {
        let decision = self
            .decisions
            .values()
            .filter(|d| d.model == model && d.stage == stage)
            .max_by_key(|d| d.index);
        let pause = self
            .pauses
            .get(model)
            .into_iter()
            .flatten()
            .filter(|(s, _, _)| s.is_none_or(|s| s == stage))
            .max_by_key(|(_, _, index)| *index);
        let base = Answer {
            model: model.to_owned(),
            stage,
            allowed: false,
            decision: None,
            ledger_index: None,
            why: String::new(),
        };
        match (decision, pause) {
            (_, Some((_, reason, index))) if decision.is_none_or(|d| d.index < *index) => Answer {
                ledger_index: Some(*index),
                decision: decision.map(|d| d.id.clone()),
                why: format!("paused at ledger entry {index}: {reason}"),
                ..base
            },
            (Some(d), _) => Answer {
                allowed: d.action.allows(),
                decision: Some(d.id.clone()),
                ledger_index: Some(d.index),
                why: format!(
                    "decision `{}` ({}), signed by {}",
                    d.id,
                    d.action.as_str(),
                    d.signers
                        .iter()
                        .map(|(role, person, _)| format!("{person} as {role}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                ..base
            },
            _ => Answer {
                why: format!(
                    "no decision allows `{model}` at {}; propose one with `warden gate propose`",
                    stage.as_str()
                ),
                ..base
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn proposal(id: &str, stage: &str, action: &str) -> Value {
        json!({"id": id, "model": "m", "stage": stage, "action": action,
               "roles": ["safety-officer", "reviewer"], "distinct": true})
    }

    fn fold(entries: &[(&str, &str, Value)]) -> GateState {
        let mut state = GateState::default();
        state.fold(
            entries
                .iter()
                .enumerate()
                .map(|(i, (kind, actor, payload))| (i as u64, *kind, *actor, payload)),
        );
        state
    }

    #[test]
    fn a_decision_needs_every_role_signed_by_distinct_people_other_than_the_proposer() {
        let signoff = |role: &str, by: &str| json!({"proposal": "p1", "role": role, "by": by});
        let state = fold(&[
            (
                "gate.proposal",
                "local:carol",
                proposal("p1", "api-deployment", "proceed"),
            ),
            (
                "gate.signoff",
                "local:carol",
                signoff("safety-officer", "local:carol"),
            ),
            (
                "gate.signoff",
                "local:alice",
                signoff("safety-officer", "local:alice"),
            ),
            (
                "gate.signoff",
                "local:alice",
                signoff("reviewer", "local:alice"),
            ),
            ("gate.decision", "local:alice", json!({"proposal": "p1"})),
            (
                "gate.signoff",
                "local:bob",
                signoff("reviewer", "local:bob"),
            ),
            ("gate.decision", "local:bob", json!({"proposal": "p1"})),
        ]);
        let reasons: Vec<&str> = state.rejected.iter().map(|(_, r)| r.as_str()).collect();
        assert!(
            reasons[0].contains("cannot approve their own"),
            "{reasons:?}"
        );
        assert!(reasons[1].contains("different person"), "{reasons:?}");
        assert!(
            reasons[2].contains("before every role signed"),
            "{reasons:?}"
        );
        assert_eq!(reasons.len(), 3);
        let decision = &state.decisions["p1"];
        assert_eq!(decision.index, 6);
        assert!(decision.signers.iter().all(|(_, _, i)| *i < decision.index));
        let answer = state.answer("m", Stage::ApiDeployment);
        assert!(answer.allowed, "{answer:?}");
        assert_eq!(answer.decision.as_deref(), Some("p1"));
        assert!(!state.answer("m", Stage::OpenWeights).allowed);
        assert!(!state.answer("other", Stage::ApiDeployment).allowed);
    }

    #[test]
    fn pauses_take_effect_until_a_later_decision() {
        let mut entries = vec![
            (
                "gate.proposal",
                "local:c",
                proposal("p1", "api-deployment", "proceed"),
            ),
            (
                "gate.signoff",
                "local:a",
                json!({"proposal": "p1", "role": "safety-officer", "by": "a"}),
            ),
            (
                "gate.signoff",
                "local:b",
                json!({"proposal": "p1", "role": "reviewer", "by": "b"}),
            ),
            ("gate.decision", "local:b", json!({"proposal": "p1"})),
            (
                "gate.pause",
                "local:a",
                json!({"model": "m", "reason": "threshold crossed"}),
            ),
        ];
        let state = fold(&entries);
        let answer = state.answer("m", Stage::ApiDeployment);
        assert!(!answer.allowed);
        assert!(answer.why.contains("paused"), "{answer:?}");
        entries.extend([
            (
                "gate.proposal",
                "local:c",
                proposal("p2", "api-deployment", "restrict-deployment"),
            ),
            (
                "gate.signoff",
                "local:a",
                json!({"proposal": "p2", "role": "safety-officer", "by": "a"}),
            ),
            (
                "gate.signoff",
                "local:b",
                json!({"proposal": "p2", "role": "reviewer", "by": "b"}),
            ),
            ("gate.decision", "local:b", json!({"proposal": "p2"})),
        ]);
        let state = fold(&entries);
        let answer = state.answer("m", Stage::ApiDeployment);
        assert!(!answer.allowed, "a restriction does not allow");
        assert_eq!(answer.decision.as_deref(), Some("p2"));
        assert!(state.rejected.is_empty(), "{:?}", state.rejected);
    }

    #[test]
    fn unreadable_entries_are_skipped_with_a_reason() {
        let state = fold(&[
            ("gate.proposal", "x", json!({"id": 3})),
            (
                "gate.signoff",
                "x",
                json!({"proposal": "none", "role": "r", "by": "b"}),
            ),
            ("ledger.note", "x", json!({})),
        ]);
        assert_eq!(state.rejected.len(), 2);
        assert_eq!(state.size, 3);
        assert!("launch".parse::<Action>().unwrap_err().contains("proceed"));
    }
}
