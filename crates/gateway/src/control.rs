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

/// Withdrawals and rollbacks folded from the ledger.
#[derive(Clone, Debug, Default)]
pub struct ControlState {
    access: AccessState,
    origin: String,
    pub withdrawn: BTreeMap<String, Withdrawal>,
    pub rolled_back: BTreeMap<String, Rollback>,
    /// `guard.*` entries that changed nothing, with why.
    pub rejected: Vec<(u64, String)>,
    /// How much of the ledger has been folded.
    pub size: u64,
}

/// Entries the control state reads.
pub fn is_control_input(kind: &str) -> bool {
    kind.starts_with("access.") || kind == WITHDRAWN || kind == RESTORED || kind == ROLLED_BACK
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
        if !entry.kind.starts_with("guard.") || entry.kind == DRILL {
            return Ok(());
        }
        self.access
            .vouched(&entry.kind, &entry.subject, &entry.payload)?;
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

/// The payload of a withdrawal.
pub fn withdrawal_payload(model: &str, reason: &str) -> Value {
    json!({"model": model, "reason": reason})
}
