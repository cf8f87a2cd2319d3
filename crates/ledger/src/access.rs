//! API keys: minting (random, shown once), hashing at rest, authentication and revocation.
//! Every grant and revocation is a ledger entry written in the same transaction as the key row.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};
use warden_core::Role;

use crate::entry::{EntryDraft, SealedEntry, now_rfc3339};
use crate::merkle::Hash;
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
    #[error("a key needs at least one role (--role admin, evaluator, …)")]
    NoRoles,
    #[error("the OS random source failed")]
    Random,
    #[error(transparent)]
    Store(#[from] StoreError),
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

/// Create a key record and its secret; nothing is stored yet.
pub fn mint(name: &str, roles: &[Role]) -> Result<MintedKey, AccessError> {
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(AccessError::BadName);
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
        prefix: secret.chars().take(DISPLAY_PREFIX_LEN).collect(),
        secret_hash: hash_secret(&secret),
        roles,
        created_at: now_rfc3339(),
        revoked_at: None,
    };
    Ok(MintedKey { record, secret })
}

/// Mint and store a key; the grant is recorded in the ledger with `actor` as its author.
pub async fn create_key(
    store: &dyn Store,
    name: &str,
    roles: &[Role],
    actor: &str,
) -> Result<(MintedKey, SealedEntry), AccessError> {
    let minted = mint(name, roles)?;
    let event = EntryDraft::now(
        "access.key_created",
        actor,
        format!("key:{}", minted.record.id),
        json!({
            "name": minted.record.name,
            "prefix": minted.record.prefix,
            "roles": minted.record.roles,
        }),
    );
    let entry = store.insert_key(&minted.record, &event).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_secrets_are_random_prefixed_and_stored_only_as_hashes() {
        let a = mint("ci", &[Role::Evaluator, Role::Admin, Role::Admin]).unwrap();
        let b = mint("ci", &[Role::Evaluator]).unwrap();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(KEY_PREFIX) && a.secret.len() == KEY_PREFIX.len() + 43);
        assert_eq!(a.record.secret_hash, hash_secret(&a.secret));
        assert!(a.secret.starts_with(&a.record.prefix));
        assert_eq!(a.record.roles, vec![Role::Admin, Role::Evaluator]);
    }

    #[test]
    fn bad_names_and_empty_roles_are_refused() {
        assert!(matches!(
            mint("", &[Role::Admin]),
            Err(AccessError::BadName)
        ));
        assert!(matches!(
            mint("a\nb", &[Role::Admin]),
            Err(AccessError::BadName)
        ));
        assert!(matches!(mint("ok", &[]), Err(AccessError::NoRoles)));
    }
}
