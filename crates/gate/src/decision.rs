//! Decisions: proposals, sign-offs, decisions and pauses, folded from the ledger into what each
//! model may do at each stage.
//!
//! The ledger is the only store of gate decisions. Each step is an entry (`gate.proposal`,
//! `gate.signoff`, `gate.decision`, `gate.pause`), so tampering with one fails
//! `warden ledger verify`, and entry order proves that every sign-off came before the decision
//! it completed. Entries prove integrity, not authority, so [`GateState::fold`] replays the
//! identities too (`access.*` entries, checked against the instance key by
//! [`AccessState`]) and applies every rule again; it trusts no entry's claim that it was valid:
//!
//! - a proposal names a model, a stage, an action and the roles that must sign; a proposal that
//!   would open a stage the model's latest assessment halts is refused whatever its action or
//!   reason, unless it is an override naming the policy's override roles; a plain `proceed`
//!   needs a latest assessment that permits the stage;
//! - a sign-off counts only for a pending proposal, for a required role not yet filled, by a
//!   person who holds that role through a live key at that moment, who has not signed it already
//!   (people compared case-folded, however many keys they hold) and who is not the proposer; and
//!   it must carry the [`signoff_statement`] signed by one of that person's registered signing
//!   keys, so a row written straight into the database cannot sign in someone else's name;
//! - a decision counts only once every required role has signed before it, and only if the
//!   latest assessment still does not halt the stage;
//! - the latest decision or pause covering a (model, stage) says whether it is allowed; with none,
//!   nothing is allowed.
//!
//! Pure: no IO; bad entries are skipped with a reason (listed by `warden gate status`), never a
//! panic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use warden_ledger::access::{AccessState, person_id};
use warden_ledger::entry::Entry;
use warden_ledger::note::NoteVerifier;

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
    /// An override of a halt: allowed only when the policy names override roles, all of which
    /// must sign.
    #[serde(default, rename = "override")]
    pub is_override: bool,
    /// The policy's override roles (included in `roles`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub override_roles: Vec<String>,
}

fn yes() -> bool {
    true
}

/// A `gate.signoff` entry's payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignOff {
    pub proposal: String,
    pub role: String,
    /// The person signing (case-folded).
    pub by: String,
    /// The [`signoff_statement`] signed by one of `by`'s registered signing keys (a C2SP note).
    #[serde(default)]
    pub note: String,
}

/// The text a person signs to approve proposal `id` (at ledger `index`) for `role`. It names what
/// is approved (model, stage, action) and the log, so a signature cannot be moved to another
/// proposal, role or instance.
pub fn signoff_statement(origin: &str, pending: &Pending, role: &str, person: &str) -> String {
    let p = &pending.proposal;
    format!(
        "warden gate sign-off\norigin: {origin}\nproposal: {} at entry {}\nmodel: {}\nstage: {}\naction: {}{}\nrole: {role}\nperson: {}\n",
        p.id,
        pending.index,
        p.model,
        p.stage.as_str(),
        p.action.as_str(),
        if p.is_override {
            " (override of a halt)"
        } else {
            ""
        },
        person_id(person),
    )
}

/// What the latest `gate.assessment` of a model says of one stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageStatus {
    pub stage: Stage,
    pub permitted: bool,
    /// Thresholds whose requirement halts the stage; `None` in assessments recorded before halts
    /// were recorded, which count as halting every stage they do not permit.
    #[serde(default)]
    pub halted_by: Option<Vec<String>>,
}

impl StageStatus {
    fn halted(&self) -> bool {
        match &self.halted_by {
            Some(by) => !by.is_empty(),
            None => !self.permitted,
        }
    }
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
    /// Whether it overrides a halt.
    #[serde(default)]
    pub is_override: bool,
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

    /// Whether `by` may sign for `role` now by the proposal's own rules (roles, proposer, distinct
    /// people); the error says why not. Identity and signature are checked by the fold.
    pub fn check_signoff(&self, role: &str, by: &str) -> Result<(), String> {
        let by = &person_id(by);
        if !self.proposal.roles.iter().any(|r| r == role) {
            return Err(format!(
                "role `{role}` is not asked to sign proposal `{}`; it needs: {}",
                self.proposal.id,
                self.proposal.roles.join(", ")
            ));
        }
        if *by == person_id(&self.proposal.proposer) {
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
#[derive(Clone, Debug, Default, Serialize)]
pub struct GateState {
    /// Keys, people and signing keys, as the ledger grants them.
    #[serde(skip)]
    pub access: AccessState,
    /// The log's origin, which every sign-off statement names.
    #[serde(skip)]
    pub origin: String,
    /// Per model: the ledger index of its latest assessment and what it says per stage.
    pub assessments: BTreeMap<String, (u64, Vec<StageStatus>)>,
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
    /// An empty state for the log `origin`, whose grants the instance key `authority` signs.
    pub fn new(authority: NoteVerifier, origin: impl Into<String>) -> Self {
        let origin = origin.into();
        Self {
            access: AccessState::new(authority, origin.clone()),
            origin,
            ..Self::default()
        }
    }

    /// Replay entries (in index order, from [`GateState::size`] on) into the state; kinds other
    /// than `gate.*` and `access.*` are passed over.
    pub fn fold<'a>(&mut self, entries: impl IntoIterator<Item = &'a Entry>) {
        for entry in entries {
            self.size = self.size.max(entry.index + 1);
            if entry.kind.starts_with("access.") {
                self.access
                    .apply(entry.index, &entry.kind, &entry.subject, &entry.payload);
                continue;
            }
            if let Err(why) = self.apply(entry) {
                self.rejected.push((entry.index, why));
            }
        }
    }

    /// Whether the latest assessment of `model` halts `stage`: `Some(why)` if it does.
    fn halt(&self, model: &str, stage: Stage) -> Option<String> {
        let (index, stages) = self.assessments.get(model)?;
        let status = stages.iter().find(|s| s.stage == stage)?;
        status.halted().then(|| {
            let by = status.halted_by.as_ref().map_or(
                "an assessment recorded before halts were named".to_owned(),
                |by| by.join(", "),
            );
            format!(
                "the latest assessment of `{model}` (ledger entry {index}) halts {} ({by})",
                stage.as_str()
            )
        })
    }

    /// Whether `proposal` may open its stage now: the rules a proposal and its decision share.
    fn check_opening(&self, proposal: &Proposal) -> Result<(), String> {
        if !proposal.action.allows() {
            return Ok(());
        }
        if let Some(why) = self.halt(&proposal.model, proposal.stage) {
            let overrides = proposal.is_override
                && !proposal.override_roles.is_empty()
                && proposal
                    .override_roles
                    .iter()
                    .all(|r| proposal.roles.contains(r));
            if !overrides {
                return Err(format!(
                    "{why}; no action or reason opens a halted stage: mitigate and re-assess, or, where the policy names override roles, propose an override"
                ));
            }
        }
        if proposal.action == Action::Proceed {
            let permitted = self
                .assessments
                .get(&proposal.model)
                .and_then(|(_, stages)| stages.iter().find(|s| s.stage == proposal.stage))
                .is_some_and(|s| s.permitted || proposal.is_override);
            if !permitted {
                return Err(format!(
                    "the latest assessment of `{}` does not permit {}; `proceed` needs one that does (re-assess, or propose proceed-with-conditions stating them)",
                    proposal.model,
                    proposal.stage.as_str()
                ));
            }
        }
        Ok(())
    }

    /// Check a sign-off entry against identities and the signature; `Ok(person)` if it counts.
    pub fn check_signed(
        &self,
        pending: &Pending,
        signoff: &SignOff,
        actor: &str,
    ) -> Result<String, String> {
        let person = person_id(&signoff.by);
        pending.check_signoff(&signoff.role, &person)?;
        if actor.starts_with("key:") && self.access.person_of_actor(actor) != person {
            return Err(format!(
                "the sign-off names `{person}` but was written by a key of `{}`",
                self.access.person_of_actor(actor)
            ));
        }
        if !self.access.holds(&person, &signoff.role) {
            return Err(format!(
                "`{person}` holds no live key with the role `{}`",
                signoff.role
            ));
        }
        let body = self.access.open_signed(&person, &signoff.note)?;
        if body != signoff_statement(&self.origin, pending, &signoff.role, &person) {
            return Err(format!(
                "the signed note of `{person}` is not the sign-off statement for `{}` as {}",
                pending.proposal.id, signoff.role
            ));
        }
        Ok(person)
    }

    fn apply(&mut self, entry: &Entry) -> Result<(), String> {
        let (index, kind, actor, payload) = (
            entry.index,
            entry.kind.as_str(),
            entry.actor.as_str(),
            &entry.payload,
        );
        let parse_error = |e: serde_json::Error| format!("unreadable {kind} payload: {e}");
        match kind {
            "gate.assessment" => {
                let model = payload
                    .get("model")
                    .and_then(Value::as_str)
                    .ok_or("assessment entry without `model`")?;
                let mut stages: Vec<StageStatus> =
                    serde_json::from_value(payload["stages"].clone()).map_err(parse_error)?;
                // An assessment the instance key does not vouch for (forged, or recorded before
                // assessments were countersigned) may still halt a stage, never permit one.
                let vouched = self.access.vouched(kind, &entry.subject, payload);
                if vouched.is_err() {
                    for stage in &mut stages {
                        stage.permitted = false;
                    }
                }
                self.assessments.insert(model.to_owned(), (index, stages));
                vouched.map_err(|why| format!("{why}; it can halt stages but permits none"))?;
            }
            "gate.proposal" => {
                self.access
                    .vouched(kind, &entry.subject, payload)
                    .map_err(|why| {
                        format!("{why}: proposals are written by `warden gate propose`")
                    })?;
                let mut proposal: Proposal =
                    serde_json::from_value(payload.clone()).map_err(parse_error)?;
                proposal.proposer = self.access.person_of_actor(actor);
                if proposal.roles.is_empty() {
                    return Err(format!("proposal `{}` names no roles to sign", proposal.id));
                }
                if self.pending.contains_key(&proposal.id)
                    || self.decisions.contains_key(&proposal.id)
                {
                    return Err(format!("proposal id `{}` is already used", proposal.id));
                }
                self.check_opening(&proposal)?;
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
                let pending = self.pending.get(&signoff.proposal).ok_or_else(|| {
                    format!("sign-off for `{}`, which is not pending", signoff.proposal)
                })?;
                let person = self.check_signed(pending, &signoff, actor)?;
                if let Some(pending) = self.pending.get_mut(&signoff.proposal) {
                    pending.signed.push((signoff.role, person, index));
                }
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
                self.check_opening(&pending.proposal)?;
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
                        is_override: pending.proposal.is_override,
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
                    "decision `{}` ({}{}), signed by {}",
                    d.id,
                    d.action.as_str(),
                    if d.is_override {
                        ", overriding a halt"
                    } else {
                        ""
                    },
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
    use warden_core::Role;
    use warden_ledger::access::{grant_statement, record_statement, signer_statement};
    use warden_ledger::note::NoteSigner;

    const ORIGIN: &str = "test.example/log";

    /// A ledger's worth of entries with real identities: an instance key that countersigns
    /// grants, and people with their own signing keys.
    struct World {
        instance: NoteSigner,
        people: BTreeMap<String, NoteSigner>,
        entries: Vec<Entry>,
        keys: u32,
    }

    impl World {
        fn new() -> Self {
            Self {
                instance: NoteSigner::generate(ORIGIN).unwrap(),
                people: BTreeMap::new(),
                entries: Vec::new(),
                keys: 0,
            }
        }

        fn push(&mut self, kind: &str, actor: &str, subject: &str, payload: Value) -> u64 {
            let index = self.entries.len() as u64;
            self.entries.push(Entry {
                index,
                kind: kind.into(),
                actor: actor.into(),
                time: "2026-12-01T00:00:00.000000Z".into(),
                subject: subject.into(),
                payload,
            });
            index
        }

        /// Push a record the instance key vouches for, as `warden gate` writes it.
        fn vouched(&mut self, kind: &str, actor: &str, subject: &str, mut payload: Value) -> u64 {
            let authority = self
                .instance
                .sign(&record_statement(ORIGIN, kind, subject, &payload))
                .unwrap();
            payload["authority"] = Value::String(authority);
            self.push(kind, actor, subject, payload)
        }

        /// Grant `person` a key with `roles` (countersigned) and register a signing key.
        fn person(&mut self, person: &str, roles: &[Role]) -> String {
            self.keys += 1;
            let id = format!("k{}", self.keys);
            let folded = person_id(person);
            let authority = self
                .instance
                .sign(&grant_statement(ORIGIN, &id, &folded, roles))
                .unwrap();
            self.push(
                "access.key_created",
                "local:admin",
                &format!("key:{id}"),
                json!({"name": id, "person": folded, "roles": roles, "authority": authority}),
            );
            if !self.people.contains_key(&folded) {
                let signer = NoteSigner::generate(&format!("signer-{}", self.keys)).unwrap();
                let verifier = signer.verifier().to_string();
                let authority = self
                    .instance
                    .sign(&signer_statement(ORIGIN, &folded, &verifier))
                    .unwrap();
                self.push(
                    "access.signer_registered",
                    "local:admin",
                    &format!("person:{folded}"),
                    json!({"person": folded, "verifier": verifier, "authority": authority}),
                );
                self.people.insert(folded, signer);
            }
            id
        }

        fn propose(&mut self, id: &str, stage: &str, action: &str, proposer: &str) {
            self.vouched(
                "gate.proposal",
                &format!("local:{proposer}"),
                &format!("gate-proposal:{id}"),
                json!({"id": id, "model": "m", "stage": stage, "action": action,
                       "roles": ["safety-officer", "reviewer"], "distinct": true}),
            );
        }

        /// `signer` signs the statement for `role` on `id`, naming `by` in the entry.
        fn sign_as(&mut self, id: &str, role: &str, signer: &str, by: &str) {
            let state = self.state();
            let note = match state.pending.get(id) {
                Some(pending) => self.people[&person_id(signer)]
                    .sign(&signoff_statement(ORIGIN, pending, role, by))
                    .unwrap(),
                None => String::new(),
            };
            self.push(
                "gate.signoff",
                &format!("person:{by}"),
                &format!("gate-proposal:{id}"),
                json!({"proposal": id, "role": role, "by": by, "note": note}),
            );
        }

        fn sign(&mut self, id: &str, role: &str, by: &str) {
            self.sign_as(id, role, by, by);
        }

        fn decide(&mut self, id: &str) {
            self.push(
                "gate.decision",
                "local:x",
                &format!("gate-proposal:{id}"),
                json!({"proposal": id}),
            );
        }

        fn assess(&mut self, stage: &str, permitted: bool, halted_by: &[&str]) -> u64 {
            self.vouched(
                "gate.assessment",
                "local:x",
                "m@c1",
                json!({"model": "m", "stages": [
                    {"stage": stage, "permitted": permitted, "halted_by": halted_by}]}),
            )
        }

        fn state(&self) -> GateState {
            let mut state = GateState::new(self.instance.verifier(), ORIGIN);
            state.fold(&self.entries);
            state
        }

        fn reasons(&self) -> Vec<String> {
            self.state().rejected.into_iter().map(|(_, r)| r).collect()
        }
    }

    fn officers() -> World {
        let mut world = World::new();
        world.person("alice", &[Role::SafetyOfficer, Role::Reviewer]);
        world.person("bob", &[Role::Reviewer]);
        world.person("carol", &[Role::SafetyOfficer, Role::Reviewer]);
        world.assess("api-deployment", true, &[]);
        world
    }

    #[test]
    fn a_decision_needs_every_role_signed_by_distinct_people_other_than_the_proposer() {
        let mut w = officers();
        w.propose("p1", "api-deployment", "proceed", "carol");
        w.sign("p1", "safety-officer", "carol");
        w.sign("p1", "safety-officer", "alice");
        w.sign("p1", "reviewer", "alice");
        w.decide("p1");
        w.sign("p1", "reviewer", "bob");
        w.decide("p1");
        let reasons = w.reasons();
        assert!(
            reasons[0].contains("cannot approve their own"),
            "{reasons:?}"
        );
        assert!(reasons[1].contains("different person"), "{reasons:?}");
        assert!(
            reasons[2].contains("before every role signed"),
            "{reasons:?}"
        );
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        let state = w.state();
        let decision = &state.decisions["p1"];
        assert_eq!(decision.index, w.entries.len() as u64 - 1);
        assert!(decision.signers.iter().all(|(_, _, i)| *i < decision.index));
        let answer = state.answer("m", Stage::ApiDeployment);
        assert!(answer.allowed, "{answer:?}");
        assert_eq!(answer.decision.as_deref(), Some("p1"));
        assert!(!state.answer("m", Stage::OpenWeights).allowed);
        assert!(!state.answer("other", Stage::ApiDeployment).allowed);
    }

    #[test]
    fn pauses_take_effect_until_a_later_decision() {
        let mut w = officers();
        w.propose("p1", "api-deployment", "proceed", "carol");
        w.sign("p1", "safety-officer", "alice");
        w.sign("p1", "reviewer", "bob");
        w.decide("p1");
        w.push(
            "gate.pause",
            "local:a",
            "m",
            json!({"model": "m", "reason": "threshold crossed"}),
        );
        let answer = w.state().answer("m", Stage::ApiDeployment);
        assert!(!answer.allowed);
        assert!(answer.why.contains("paused"), "{answer:?}");
        w.propose("p2", "api-deployment", "restrict-deployment", "carol");
        w.sign("p2", "safety-officer", "alice");
        w.sign("p2", "reviewer", "bob");
        w.decide("p2");
        let state = w.state();
        let answer = state.answer("m", Stage::ApiDeployment);
        assert!(!answer.allowed, "a restriction does not allow");
        assert_eq!(answer.decision.as_deref(), Some("p2"));
        assert!(state.rejected.is_empty(), "{:?}", state.rejected);
    }

    #[test]
    fn unreadable_entries_are_skipped_with_a_reason() {
        let mut w = World::new();
        w.push("gate.proposal", "x", "s", json!({"id": 3}));
        w.push(
            "gate.signoff",
            "x",
            "s",
            json!({"proposal": "none", "role": "r", "by": "b"}),
        );
        w.push("ledger.note", "x", "s", json!({}));
        let state = w.state();
        assert_eq!(state.rejected.len(), 2);
        assert_eq!(state.size, 3);
        assert!("launch".parse::<Action>().unwrap_err().contains("proceed"));
    }

    /// Forged sign-offs, as an attacker who can write entries (but holds neither the instance
    /// key nor anyone's signing key) would write them: none counts, and nothing is allowed.
    #[test]
    fn issue_10_forged_signoffs_are_rejected_on_replay() {
        type Forgery = fn(&mut World);
        let cases: &[(&str, Forgery, &str)] = &[
            (
                "made-up names, no signature",
                |w| {
                    w.push(
                        "gate.signoff",
                        "local:x",
                        "s",
                        json!({"proposal": "p1", "role": "safety-officer", "by": "mallory"}),
                    );
                    w.push(
                        "gate.signoff",
                        "local:x",
                        "s",
                        json!({"proposal": "p1", "role": "reviewer", "by": "trent"}),
                    );
                },
                "holds no live key",
            ),
            (
                "a real officer's name, no signature",
                |w| {
                    w.push("gate.signoff", "local:x", "s",
                    json!({"proposal": "p1", "role": "safety-officer", "by": "alice", "note": ""}));
                    w.sign("p1", "reviewer", "bob");
                },
                "not signed by a live signing key",
            ),
            (
                "alice's key signing in bob's name",
                |w| {
                    w.sign("p1", "safety-officer", "alice");
                    w.sign_as("p1", "reviewer", "alice", "bob");
                },
                "not signed by a live signing key",
            ),
            (
                "a person without the role",
                |w| {
                    w.sign("p1", "safety-officer", "bob");
                    w.sign("p1", "reviewer", "alice");
                },
                "holds no live key with the role `safety-officer`",
            ),
            (
                "a grant that the instance key did not countersign",
                |w| {
                    w.push(
                        "access.key_created",
                        "local:x",
                        "key:forged",
                        json!({"name": "forged", "person": "bob", "roles": ["safety-officer"]}),
                    );
                    w.sign("p1", "safety-officer", "bob");
                    w.sign("p1", "reviewer", "alice");
                },
                "holds no live key with the role `safety-officer`",
            ),
            (
                "a revoked key",
                |w| {
                    w.push("access.key_revoked", "local:admin", "key:k1", json!({}));
                    w.sign("p1", "safety-officer", "alice");
                    w.sign("p1", "reviewer", "bob");
                },
                "holds no live key with the role `safety-officer`",
            ),
            (
                "one person under two spellings",
                |w| {
                    w.person("Alice", &[Role::Reviewer]);
                    w.sign("p1", "safety-officer", "alice");
                    w.sign("p1", "reviewer", "ALICE");
                },
                "different person",
            ),
        ];
        for (name, forge, expected) in cases {
            let mut w = officers();
            w.propose("p1", "api-deployment", "proceed", "carol");
            forge(&mut w);
            w.decide("p1");
            let state = w.state();
            assert!(
                !state.answer("m", Stage::ApiDeployment).allowed,
                "{name}: {:?}",
                state.answer("m", Stage::ApiDeployment)
            );
            let reasons = w.reasons();
            assert!(
                reasons.iter().any(|r| r.contains(expected)),
                "{name}: expected `{expected}` in {reasons:?}"
            );
        }
    }

    /// Proposals and assessments written straight into the database, without the instance
    /// key's countersignature: the proposal opens nothing, the assessment permits nothing.
    #[test]
    fn issue_10_unvouched_proposals_and_assessments_open_nothing() {
        let mut w = officers();
        w.push(
            "gate.assessment",
            "local:x",
            "m@c2",
            json!({"model": "m", "stages": [{"stage": "open-weights", "permitted": true, "halted_by": []}]}),
        );
        w.push(
            "gate.proposal",
            "local:carol",
            "gate-proposal:p1",
            json!({"id": "p1", "model": "m", "stage": "open-weights", "action": "proceed",
                   "roles": ["safety-officer", "reviewer"]}),
        );
        w.sign("p1", "safety-officer", "alice");
        w.sign("p1", "reviewer", "bob");
        w.decide("p1");
        let state = w.state();
        assert!(!state.answer("m", Stage::OpenWeights).allowed);
        let reasons = w.reasons();
        assert!(reasons[0].contains("permits none"), "{reasons:?}");
        assert!(reasons[1].contains("warden gate propose"), "{reasons:?}");
        // A vouched proposal on the unvouched assessment: `proceed` finds no permit.
        w.propose("p2", "open-weights", "proceed", "carol");
        assert!(
            w.reasons().last().unwrap().contains("does not permit"),
            "{:?}",
            w.reasons()
        );
    }

    #[test]
    fn issue_10_a_halted_stage_opens_for_no_action_or_reason() {
        for action in ["proceed", "proceed-with-conditions"] {
            let mut w = officers();
            w.assess("api-deployment", false, &["cbrn-high"]);
            w.propose("p1", "api-deployment", action, "carol");
            w.sign("p1", "safety-officer", "alice");
            w.sign("p1", "reviewer", "bob");
            w.decide("p1");
            let state = w.state();
            assert!(!state.answer("m", Stage::ApiDeployment).allowed, "{action}");
            assert!(
                w.reasons()[0].contains("halts api-deployment (cbrn-high)"),
                "{:?}",
                w.reasons()
            );
        }
        // A halt assessed after the proposal blocks its decision too.
        let mut w = officers();
        w.propose("p1", "api-deployment", "proceed-with-conditions", "carol");
        w.sign("p1", "safety-officer", "alice");
        w.sign("p1", "reviewer", "bob");
        w.assess("api-deployment", false, &["cyber-high"]);
        w.decide("p1");
        assert!(!w.state().answer("m", Stage::ApiDeployment).allowed);
        // An override names its own roles, all of which sign; it is recorded as an override.
        let mut w = officers();
        w.person("dave", &[Role::Admin]);
        w.assess("api-deployment", false, &["cbrn-high"]);
        w.vouched("gate.proposal", "local:carol", "s", json!({
            "id": "o1", "model": "m", "stage": "api-deployment", "action": "proceed-with-conditions",
            "roles": ["safety-officer", "reviewer", "admin"], "override": true,
            "override_roles": ["admin"], "reason": "board exception"}));
        w.sign("o1", "safety-officer", "alice");
        w.sign("o1", "reviewer", "bob");
        w.decide("o1");
        assert!(
            !w.state().answer("m", Stage::ApiDeployment).allowed,
            "admin has not signed"
        );
        w.sign("o1", "admin", "dave");
        w.decide("o1");
        let answer = w.state().answer("m", Stage::ApiDeployment);
        assert!(
            answer.allowed && answer.why.contains("overriding a halt"),
            "{answer:?}"
        );
    }
}
