//! Identities: API keys (minted at random, shown once, hashed at rest), the people they belong
//! to, and the people's signing keys; and [`AccessState`], the same facts folded from the ledger
//! alone.
//!
//! Every grant and revocation is a ledger entry written in the same transaction as the key row.
//! A grant (`access.key_created`) and a signing-key registration (`access.signer_registered`)
//! carry an `authority` field: the statement they make, signed by the instance's ledger key. The
//! fold accepts a grant only with a valid authority signature, so somebody who can write rows into
//! the database (but does not hold `ledger.key`) cannot give a person a role or a signing key.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use warden_core::Role;

use crate::entry::{EntryDraft, SealedEntry, now_rfc3339};
use crate::log::{Ledger, LedgerError};
use crate::merkle::Hash;
use crate::note::{NoteError, NoteVerifier};
use crate::store::{ApiKeyRecord, Store, StoreError};

/// Every Warden API key starts with this, so secret scanners can recognise one.
pub const KEY_PREFIX: &str = "wdn_";
/// Characters of the secret kept for display.
const DISPLAY_PREFIX_LEN: usize = 12;
/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("key name must be 1 to 64 characters with no control characters")]
    BadName,
    #[error("a person's name must be 1 to 64 characters with no control characters")]
    BadPerson,
    #[error("a key needs at least one role (--role admin, evaluator, …)")]
    NoRoles,
    #[error("the OS random source failed")]
    Random,
    #[error("signing key: {0}")]
    Signer(#[from] NoteError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// A freshly minted key: the record to store and the secret to show once.
#[derive(Debug)]
pub struct MintedKey {
    pub record: ApiKeyRecord,
    pub secret: String,
}

/// The at-rest hash of a key secret. Secrets carry 256 random bits, so one SHA-256 suffices.
pub fn hash_secret(secret: &str) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(b"warden-api-key\0");
    hasher.update(secret.as_bytes());
    hasher.finalize().into()
}

/// How a person's name is compared: trimmed, inner white space collapsed, lower-cased, so `Alice`,
/// ` alice ` and `ALICE` are one person.
pub fn person_id(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn valid_label(text: &str) -> bool {
    !text.trim().is_empty() && text.chars().count() <= 64 && !text.chars().any(char::is_control)
}

/// Create a key record and its secret for `person` (default: the key's name); nothing is stored yet.
pub fn mint(name: &str, person: Option<&str>, roles: &[Role]) -> Result<MintedKey, AccessError> {
    if !valid_label(name) {
        return Err(AccessError::BadName);
    }
    let person = person.unwrap_or(name);
    if !valid_label(person) {
        return Err(AccessError::BadPerson);
    }
    if roles.is_empty() {
        return Err(AccessError::NoRoles);
    }
    let mut random = [0u8; 32];
    getrandom::getrandom(&mut random).map_err(|_| AccessError::Random)?;
    let secret = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(random));
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    let record = ApiKeyRecord {
        id: uuid::Uuid::now_v7().to_string(),
        name: name.to_owned(),
        person: person_id(person),
        prefix: secret.chars().take(DISPLAY_PREFIX_LEN).collect(),
        secret_hash: hash_secret(&secret),
        roles,
        created_at: now_rfc3339(),
        revoked_at: None,
    };
    Ok(MintedKey { record, secret })
}

/// What the instance key signs when a key is granted: everything the grant confers.
pub fn grant_statement(origin: &str, key_id: &str, person: &str, roles: &[Role]) -> String {
    let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    format!(
        "warden access grant\norigin: {origin}\nkey: {key_id}\nperson: {person}\nroles: {}\n",
        roles.join(",")
    )
}

/// What the instance key signs when a person's signing key is registered.
pub fn signer_statement(origin: &str, person: &str, verifier: &str) -> String {
    format!("warden access signer\norigin: {origin}\nperson: {person}\nverifier: {verifier}\n")
}

/// What the instance key signs to vouch for a capability's record (a gate proposal or
/// assessment): the log, the entry's kind and subject, and its payload (without `authority`) in
/// canonical JSON, which holds no newline.
pub fn record_statement(origin: &str, kind: &str, subject: &str, payload: &Value) -> String {
    let mut payload = payload.clone();
    if let Some(object) = payload.as_object_mut() {
        object.remove("authority");
    }
    let canonical = warden_core::canonical::to_string(&payload).unwrap_or_default();
    format!(
        "warden record\norigin: {origin}\nkind: {kind}\nsubject: {subject}\npayload: {canonical}\n"
    )
}

/// `payload` with its `authority`: the [`record_statement`] countersigned by the instance key.
pub fn countersigned(
    ledger: &Ledger,
    kind: &str,
    subject: &str,
    mut payload: Value,
) -> Result<Value, LedgerError> {
    let authority =
        ledger.countersign(&record_statement(ledger.origin(), kind, subject, &payload))?;
    if let Some(object) = payload.as_object_mut() {
        object.insert("authority".into(), Value::String(authority));
    }
    Ok(payload)
}

/// Mint and store a key for `person`; the grant is recorded in the ledger with `actor` as its
/// author and countersigned by the instance key.
pub async fn create_key(
    ledger: &Ledger,
    name: &str,
    person: Option<&str>,
    roles: &[Role],
    actor: &str,
) -> Result<(MintedKey, SealedEntry), AccessError> {
    let minted = mint(name, person, roles)?;
    let record = &minted.record;
    let authority = ledger.countersign(&grant_statement(
        ledger.origin(),
        &record.id,
        &record.person,
        &record.roles,
    ))?;
    let event = EntryDraft::now(
        "access.key_created",
        actor,
        format!("key:{}", record.id),
        json!({
            "name": record.name,
            "person": record.person,
            "prefix": record.prefix,
            "roles": record.roles,
            "authority": authority,
        }),
    );
    let entry = ledger.store().insert_key(record, &event).await?;
    Ok((minted, entry))
}

/// The live key a presented secret belongs to, if any.
pub async fn authenticate(
    store: &dyn Store,
    secret: &str,
) -> Result<Option<ApiKeyRecord>, StoreError> {
    if !secret.starts_with(KEY_PREFIX) {
        return Ok(None);
    }
    let key = store.key_by_hash(&hash_secret(secret)).await?;
    Ok(key.filter(|key| key.revoked_at.is_none()))
}

/// Revoke a live key; `None` when no live key has this id.
pub async fn revoke_key(
    store: &dyn Store,
    id: &str,
    actor: &str,
) -> Result<Option<SealedEntry>, StoreError> {
    let event = EntryDraft::now("access.key_revoked", actor, format!("key:{id}"), json!({}));
    store.revoke_key(id, &now_rfc3339(), &event).await
}

/// Register `verifier` as a signing key of `person` (who keeps the private half): from then on a
/// gate sign-off in that person's name must carry a note signed by it.
pub async fn register_signer(
    ledger: &Ledger,
    person: &str,
    verifier: &NoteVerifier,
    actor: &str,
) -> Result<SealedEntry, AccessError> {
    if !valid_label(person) {
        return Err(AccessError::BadPerson);
    }
    let person = person_id(person);
    let verifier = verifier.to_string();
    let authority = ledger.countersign(&signer_statement(ledger.origin(), &person, &verifier))?;
    Ok(ledger
        .append(EntryDraft::now(
            "access.signer_registered",
            actor,
            format!("person:{person}"),
            json!({"person": person, "verifier": verifier, "authority": authority}),
        ))
        .await?)
}

/// Withdraw a signing key (lost or leaked): sign-offs it makes after this entry do not count.
pub async fn revoke_signer(
    ledger: &Ledger,
    person: &str,
    verifier: &NoteVerifier,
    actor: &str,
) -> Result<SealedEntry, AccessError> {
    let person = person_id(person);
    Ok(ledger
        .append(EntryDraft::now(
            "access.signer_revoked",
            actor,
            format!("person:{person}"),
            json!({"person": person, "verifier": verifier.to_string()}),
        ))
        .await?)
}

/// A key as the ledger grants it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyGrant {
    pub person: String,
    pub roles: Vec<Role>,
    /// Ledger index of the grant.
    pub index: u64,
    /// Ledger index of the revocation, if any.
    pub revoked: Option<u64>,
    /// Whether the instance key countersigned the grant; keys made before grants were
    /// countersigned authenticate, but confer no role on their person for sign-offs.
    pub authorised: bool,
}

/// A person's signing key as the ledger registers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerGrant {
    pub person: String,
    pub verifier: NoteVerifier,
    pub index: u64,
    pub revoked: Option<u64>,
}

/// Who holds which key, role and signing key, folded from `access.*` entries alone and checked
/// against the instance key. Pure: no IO.
#[derive(Clone, Debug, Default)]
pub struct AccessState {
    authority: Option<(NoteVerifier, String)>,
    pub keys: BTreeMap<String, KeyGrant>,
    pub signers: Vec<SignerGrant>,
    /// `access.*` entries that confer nothing, with why.
    pub rejected: Vec<(u64, String)>,
}

impl AccessState {
    /// An empty state that trusts grants countersigned by `authority` for the log `origin`.
    pub fn new(authority: NoteVerifier, origin: impl Into<String>) -> Self {
        Self {
            authority: Some((authority, origin.into())),
            ..Self::default()
        }
    }

    /// Apply one entry (other kinds are ignored).
    pub fn apply(&mut self, index: u64, kind: &str, subject: &str, payload: &Value) {
        if let Err(why) = self.try_apply(index, kind, subject, payload) {
            self.rejected.push((index, why));
        }
    }

    /// Whether `payload`'s `authority` is `statement` signed by the instance key; `what` names
    /// the entry (`grant`, `record`) in the reason.
    fn authorised(&self, what: &str, statement: &str, payload: &Value) -> Result<(), String> {
        let (verifier, _) = self
            .authority
            .as_ref()
            .ok_or_else(|| format!("no instance key to check the {what} against"))?;
        let note = payload
            .get("authority")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the {what} is not countersigned by the instance key"))?;
        let body = verifier
            .open(note)
            .map_err(|e| format!("the {what}'s countersignature does not verify: {e}"))?;
        if body != statement {
            return Err(format!(
                "the {what}'s countersignature is for a different {what}"
            ));
        }
        Ok(())
    }

    fn origin(&self) -> &str {
        self.authority.as_ref().map_or("", |(_, origin)| origin)
    }

    fn try_apply(
        &mut self,
        index: u64,
        kind: &str,
        subject: &str,
        payload: &Value,
    ) -> Result<(), String> {
        let text = |field: &str| {
            payload
                .get(field)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("{kind} entry without `{field}`"))
        };
        match kind {
            "access.key_created" => {
                let id = subject
                    .strip_prefix("key:")
                    .ok_or("key grant whose subject is not `key:ID`")?
                    .to_owned();
                let person = match payload.get("person").and_then(Value::as_str) {
                    Some(person) => person_id(person),
                    None => person_id(&text("name")?),
                };
                let roles: Vec<Role> = serde_json::from_value(payload["roles"].clone())
                    .map_err(|e| format!("key grant with unreadable roles: {e}"))?;
                if self.keys.contains_key(&id) {
                    return Err(format!("key `{id}` is granted twice"));
                }
                let statement = grant_statement(self.origin(), &id, &person, &roles);
                let authorised = self.authorised("grant", &statement, payload);
                self.keys.insert(
                    id,
                    KeyGrant {
                        person,
                        roles,
                        index,
                        revoked: None,
                        authorised: authorised.is_ok(),
                    },
                );
                authorised?;
            }
            "access.key_revoked" => {
                let id = subject
                    .strip_prefix("key:")
                    .ok_or("key revocation whose subject is not `key:ID`")?;
                let grant = self
                    .keys
                    .get_mut(id)
                    .ok_or_else(|| format!("revocation of unknown key `{id}`"))?;
                grant.revoked.get_or_insert(index);
            }
            "access.signer_registered" => {
                let person = person_id(&text("person")?);
                let verifier_text = text("verifier")?;
                let verifier = NoteVerifier::parse(&verifier_text)
                    .map_err(|e| format!("unreadable signing key: {e}"))?;
                self.authorised(
                    "grant",
                    &signer_statement(self.origin(), &person, &verifier_text),
                    payload,
                )?;
                self.signers.push(SignerGrant {
                    person,
                    verifier,
                    index,
                    revoked: None,
                });
            }
            "access.signer_revoked" => {
                let person = person_id(&text("person")?);
                let verifier = text("verifier")?;
                for signer in &mut self.signers {
                    if signer.person == person && signer.verifier.to_string() == verifier {
                        signer.revoked.get_or_insert(index);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether the instance key vouches for a capability's record (see [`countersigned`]).
    pub fn vouched(&self, kind: &str, subject: &str, payload: &Value) -> Result<(), String> {
        self.authorised(
            "record",
            &record_statement(self.origin(), kind, subject, payload),
            payload,
        )
    }

    /// The person an entry's actor stands for: the key's person for `key:ID:…`, the name for
    /// `local:NAME` and `person:NAME`, else the actor itself; always case-folded.
    pub fn person_of_actor(&self, actor: &str) -> String {
        if let Some(rest) = actor.strip_prefix("key:") {
            let id = rest.split(':').next().unwrap_or(rest);
            if let Some(grant) = self.keys.get(id) {
                return grant.person.clone();
            }
        }
        let name = actor
            .strip_prefix("local:")
            .or_else(|| actor.strip_prefix("person:"))
            .unwrap_or(actor);
        person_id(name)
    }

    /// Whether `person` holds `role` through a live, countersigned key.
    pub fn holds(&self, person: &str, role: &str) -> bool {
        let person = person_id(person);
        self.keys.values().any(|grant| {
            grant.authorised
                && grant.revoked.is_none()
                && grant.person == person
                && grant.roles.iter().any(|r| r.as_str() == role)
        })
    }

    /// The text of `note` if one of `person`'s live signing keys signed it.
    pub fn open_signed<'a>(&self, person: &str, note: &'a str) -> Result<&'a str, String> {
        let person = person_id(person);
        let mut registered = false;
        for signer in self.signers.iter().filter(|s| s.person == person) {
            registered = true;
            if signer.revoked.is_some() {
                continue;
            }
            if let Ok(body) = signer.verifier.open(note) {
                return Ok(body);
            }
        }
        Err(if registered {
            format!("the note is not signed by a live signing key of `{person}`")
        } else {
            format!(
                "`{person}` has no registered signing key (`warden keys signer add --person {person}`)"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_secrets_are_random_prefixed_and_stored_only_as_hashes() {
        let a = mint("ci", None, &[Role::Evaluator, Role::Admin, Role::Admin]).unwrap();
        let b = mint("ci", None, &[Role::Evaluator]).unwrap();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(KEY_PREFIX) && a.secret.len() == KEY_PREFIX.len() + 43);
        assert_eq!(a.record.secret_hash, hash_secret(&a.secret));
        assert!(a.secret.starts_with(&a.record.prefix));
        assert_eq!(a.record.roles, vec![Role::Admin, Role::Evaluator]);
        assert_eq!(a.record.person, "ci");
    }

    #[test]
    fn issue_10_people_compare_case_folded() {
        for (a, b) in [
            ("alice", "Alice"),
            (" Zhang  Wei", "zhang wei"),
            ("ALICE", "alice"),
        ] {
            assert_eq!(person_id(a), person_id(b));
        }
        assert_ne!(person_id("alice"), person_id("alicia"));
        let key = mint("laptop", Some("Alice"), &[Role::SafetyOfficer]).unwrap();
        assert_eq!(key.record.person, "alice");
    }

    #[test]
    fn bad_names_and_empty_roles_are_refused() {
        assert!(matches!(
            mint("", None, &[Role::Admin]),
            Err(AccessError::BadName)
        ));
        assert!(matches!(
            mint("a\nb", None, &[Role::Admin]),
            Err(AccessError::BadName)
        ));
        assert!(matches!(mint("ok", None, &[]), Err(AccessError::NoRoles)));
    }
}
