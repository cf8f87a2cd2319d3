//! The kill switch and rollback, as ledger entries every gateway process folds.
//!
//! - `guard.model_withdrawn` stops serving a model everywhere. Stopping is the safe direction, so
//!   whoever holds the instance key (the home) or an admin or security key may do it; the entry
//!   is countersigned by the instance key and names its actor.
//! - `guard.model_restored` serves a withdrawn model again. Resuming is the dangerous direction:
//!   besides the countersignature it carries a statement naming the withdrawal's ledger index,
//!   signed by the registered signing key of a person who holds the admin or security role at
//!   that point of the log. A restore note cannot be replayed against a later withdrawal.
//! - `guard.model_rolled_back` routes a model to a known-good version (or back to the configured
//!   current one with `to: null`); countersigned.
//!
//! [`ControlState::fold`] re-checks all of this from the ledger alone, so a row written into the
//! database by someone without the instance key changes nothing. Pure: no IO.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};
use warden_ledger::access::AccessState;
use warden_ledger::entry::Entry;
use warden_ledger::note::NoteVerifier;

pub const WITHDRAWN: &str = "guard.model_withdrawn";
pub const RESTORED: &str = "guard.model_restored";
pub const ROLLED_BACK: &str = "guard.model_rolled_back";
pub const DRILL: &str = "guard.drill";
pub const USERS_FORGOTTEN: &str = "guard.users_forgotten";
pub const USER_ESCALATED: &str = "guard.user_escalated";
pub const USER_TIER_SET: &str = "guard.user_tier_set";
pub const APPEAL_FILED: &str = "guard.appeal_filed";
pub const APPEAL_DECIDED: &str = "guard.appeal_decided";

/// Roles whose holders may decide an appeal.
pub const APPEAL_ROLES: [&str; 3] = ["reviewer", "safety-officer", "admin"];

/// Roles whose holders may restore a withdrawn model.
pub const RESTORE_ROLES: [&str; 2] = ["admin", "security"];

/// The statement a restorer signs.
pub fn restore_statement(origin: &str, model: &str, withdrawal_index: u64, person: &str) -> String {
    format!(
        "warden gateway restore\norigin {origin}\nmodel {model}\nwithdrawal {withdrawal_index}\nperson {person}\n"
    )
}

/// A withdrawal in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Withdrawal {
    pub index: u64,
    pub actor: String,
    pub reason: String,
    pub time: String,
}

/// A rollback in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rollback {
    pub index: u64,
    pub version: String,
    pub actor: String,
}

/// An escalation in force for one end user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Escalation {
    pub index: u64,
    /// `warn`, `rate_limit`, `tier:NAME` or `suspend`.
    pub action: String,
    /// Position on the ladder.
    pub rung: u64,
    /// When it ends (RFC 3339); `None` until an appeal overturns it.
    pub until: Option<String>,
    pub rate_limit_per_minute: u32,
}

/// What the ledger says about one end user (by pseudonym).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UserState {
    pub escalation: Option<Escalation>,
    /// The tier an admin assigned.
    pub tier: Option<String>,
    /// Points earned before this time do not count (an overturned escalation).
    pub reset_at: Option<String>,
}

/// An appeal against an escalation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Appeal {
    pub id: String,
    pub index: u64,
    pub user: String,
    /// The escalation appealed against.
    pub escalation: u64,
    /// `upheld` or `overturned`, by whom, at which ledger entry.
    pub decision: Option<(String, String, u64)>,
}

/// Withdrawals, rollbacks, escalations and appeals folded from the ledger.
#[derive(Clone, Debug, Default)]
pub struct ControlState {
    access: AccessState,
    origin: String,
    pub withdrawn: BTreeMap<String, Withdrawal>,
    pub rolled_back: BTreeMap<String, Rollback>,
    pub users: BTreeMap<String, UserState>,
    pub appeals: BTreeMap<String, Appeal>,
    /// `guard.*` entries that changed nothing, with why.
    pub rejected: Vec<(u64, String)>,
    /// How much of the ledger has been folded.
    pub size: u64,
}

/// Entries the control state reads.
pub fn is_control_input(kind: &str) -> bool {
    kind.starts_with("access.")
        || [
            WITHDRAWN,
            RESTORED,
            ROLLED_BACK,
            USER_ESCALATED,
            USER_TIER_SET,
            APPEAL_FILED,
            APPEAL_DECIDED,
        ]
        .contains(&kind)
}

impl ControlState {
    pub fn new(authority: NoteVerifier, origin: &str) -> Self {
        Self {
            access: AccessState::new(authority, origin),
            origin: origin.to_owned(),
            ..Self::default()
        }
    }

    /// Apply entries in ledger order.
    pub fn fold<'a>(&mut self, entries: impl IntoIterator<Item = &'a Entry>) {
        for entry in entries {
            self.access
                .apply(entry.index, &entry.kind, &entry.subject, &entry.payload);
            if let Err(why) = self.apply(entry) {
                self.rejected.push((entry.index, why));
            }
        }
    }

    fn apply(&mut self, entry: &Entry) -> Result<(), String> {
        if !is_control_input(&entry.kind) || entry.kind.starts_with("access.") {
            return Ok(());
        }
        self.access
            .vouched(&entry.kind, &entry.subject, &entry.payload)?;
        if entry.kind.starts_with("guard.user_") || entry.kind.starts_with("guard.appeal_") {
            return self.apply_user(entry);
        }
        let model = entry.payload["model"]
            .as_str()
            .ok_or("entry without `model`")?
            .to_owned();
        match entry.kind.as_str() {
            WITHDRAWN => {
                self.withdrawn.entry(model).or_insert(Withdrawal {
                    index: entry.index,
                    actor: entry.actor.clone(),
                    reason: entry.payload["reason"].as_str().unwrap_or("").to_owned(),
                    time: entry.time.clone(),
                });
            }
            RESTORED => {
                let withdrawal = self
                    .withdrawn
                    .get(&model)
                    .ok_or_else(|| format!("restore of `{model}`, which is not withdrawn"))?;
                let person = entry.payload["person"]
                    .as_str()
                    .ok_or("restore without `person`")?;
                if !RESTORE_ROLES.iter().any(|r| self.access.holds(person, r)) {
                    return Err(format!(
                        "`{person}` holds neither the admin nor the security role"
                    ));
                }
                let note = entry.payload["note"]
                    .as_str()
                    .ok_or("restore without a signed `note`")?;
                let body = self.access.open_signed(person, note)?;
                if body != restore_statement(&self.origin, &model, withdrawal.index, person) {
                    return Err(format!(
                        "the signed note is not the restore statement for withdrawal {}",
                        withdrawal.index
                    ));
                }
                self.withdrawn.remove(&model);
            }
            ROLLED_BACK => match entry.payload["to"].as_str() {
                Some(version) => {
                    self.rolled_back.insert(
                        model,
                        Rollback {
                            index: entry.index,
                            version: version.to_owned(),
                            actor: entry.actor.clone(),
                        },
                    );
                }
                None => {
                    self.rolled_back.remove(&model);
                }
            },
            other => return Err(format!("unknown gateway entry kind `{other}`")),
        }
        Ok(())
    }
}

impl ControlState {
    fn apply_user(&mut self, entry: &Entry) -> Result<(), String> {
        let field = |name: &str| {
            entry.payload[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{} entry without `{name}`", entry.kind))
        };
        match entry.kind.as_str() {
            USER_ESCALATED => {
                let user = field("user")?;
                let escalation = Escalation {
                    index: entry.index,
                    action: field("action")?,
                    rung: entry.payload["rung"].as_u64().unwrap_or(0),
                    until: entry.payload["until"].as_str().map(str::to_owned),
                    rate_limit_per_minute: entry.payload["rate_limit_per_minute"]
                        .as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .unwrap_or(5),
                };
                // Escalations race (several requests, several gateways): one never replaces a
                // higher rung still in force when it was written.
                let state = self.users.entry(user).or_default();
                let stronger_in_force = state.escalation.as_ref().is_some_and(|current| {
                    current.rung >= escalation.rung
                        && current
                            .until
                            .as_deref()
                            .is_none_or(|until| until > entry.time.as_str())
                });
                if !stronger_in_force {
                    state.escalation = Some(escalation);
                }
            }
            USER_TIER_SET => {
                let user = field("user")?;
                self.users.entry(user).or_default().tier =
                    entry.payload["tier"].as_str().map(str::to_owned);
            }
            APPEAL_FILED => {
                let (id, user) = (field("appeal")?, field("user")?);
                let escalation = entry.payload["escalation"]
                    .as_u64()
                    .ok_or("appeal without the `escalation` it contests")?;
                let current = self.users.get(&user).and_then(|u| u.escalation.as_ref());
                if current.map(|e| e.index) != Some(escalation) {
                    return Err(format!(
                        "appeal {id} contests escalation {escalation}, which is not the one in force"
                    ));
                }
                if self.appeals.contains_key(&id) {
                    return Err(format!("appeal {id} is filed twice"));
                }
                self.appeals.insert(
                    id.clone(),
                    Appeal {
                        id,
                        index: entry.index,
                        user,
                        escalation,
                        decision: None,
                    },
                );
            }
            APPEAL_DECIDED => {
                let (id, outcome, person) = (field("appeal")?, field("outcome")?, field("person")?);
                if !APPEAL_ROLES.iter().any(|r| self.access.holds(&person, r)) {
                    return Err(format!(
                        "`{person}` holds none of the reviewer, safety-officer or admin roles"
                    ));
                }
                if !matches!(outcome.as_str(), "upheld" | "overturned") {
                    return Err(format!(
                        "appeal outcome `{outcome}` is not upheld or overturned"
                    ));
                }
                let appeal = self
                    .appeals
                    .get_mut(&id)
                    .ok_or_else(|| format!("decision on unknown appeal {id}"))?;
                if appeal.decision.is_some() {
                    return Err(format!("appeal {id} is decided twice"));
                }
                appeal.decision = Some((outcome.clone(), person, entry.index));
                if outcome == "overturned" {
                    let (user, contested) = (appeal.user.clone(), appeal.escalation);
                    let state = self.users.entry(user).or_default();
                    if state.escalation.as_ref().map(|e| e.index) == Some(contested) {
                        state.escalation = None;
                    }
                    state.reset_at = Some(entry.time.clone());
                }
            }
            other => return Err(format!("unknown gateway entry kind `{other}`")),
        }
        Ok(())
    }
}

/// The payload of a withdrawal.
pub fn withdrawal_payload(model: &str, reason: &str) -> Value {
    json!({"model": model, "reason": reason})
}
