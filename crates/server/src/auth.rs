//! Authentication and role checks. Every route declares an [`Access`]; the middleware resolves the
//! bearer key, refuses missing, unknown or revoked keys with 401 and keys without an allowed role
//! with 403, and hands the [`Caller`] to the handler.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use warden_core::Role;
use warden_ledger::access;

use crate::AppState;
use crate::error::ApiError;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No key needed: health and the API description only.
    Public,
    /// A live key holding at least one of these roles.
    Roles(&'static [Role]),
}

impl Access {
    /// Whether a key with `roles` may call the route.
    pub fn admits(self, roles: &[Role]) -> bool {
        match self {
            Access::Public => true,
            Access::Roles(allowed) => roles.iter().any(|role| allowed.contains(role)),
        }
    }
}

/// Every role but `user`: the people who read governance records.
pub const READERS: &[Role] = &[
    Role::Admin,
    Role::SafetyOfficer,
    Role::Evaluator,
    Role::Reviewer,
    Role::Security,
    Role::Auditor,
    Role::Researcher,
    Role::ExternalEvaluator,
];
/// Roles that record governance events. Auditors, researchers and outsiders only read.
pub const RECORDERS: &[Role] = &[
    Role::Admin,
    Role::SafetyOfficer,
    Role::Evaluator,
    Role::Reviewer,
    Role::Security,
];
/// Roles that may run a full audit or read operational metrics.
pub const OVERSEERS: &[Role] = &[Role::Admin, Role::Security, Role::Auditor];
/// Key management.
pub const ADMINS: &[Role] = &[Role::Admin];
/// Any key at all.
pub const ANY_ROLE: &[Role] = &Role::ALL;

/// The authenticated caller, available to handlers as an extension.
#[derive(Clone, Debug)]
pub struct Caller {
    pub key_id: String,
    pub name: String,
    /// The person the key was issued to (case-folded).
    pub person: String,
    pub roles: Vec<Role>,
}

impl Caller {
    /// The actor string written into ledger entries.
    pub fn actor(&self) -> String {
        format!("key:{}:{}", self.key_id, self.name)
    }
}

/// Middleware enforcing `access` for one route.
pub async fn require(
    State((state, access)): State<(AppState, Access)>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if access == Access::Public {
        return Ok(next.run(request).await);
    }
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthenticated("this route needs an API key: send `Authorization: Bearer wdn_…` (create one with `warden keys create`)"))?;
    let secret = header
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::unauthenticated("the Authorization header must be `Bearer <key>`")
        })?;
    let key = access::authenticate(state.ledger.store().as_ref(), secret)
        .await?
        .ok_or_else(|| ApiError::unauthenticated("the API key is unknown or revoked"))?;
    if !access.admits(&key.roles) {
        let Access::Roles(allowed) = access else {
            return Err(ApiError::forbidden("access denied"));
        };
        let allowed: Vec<&str> = allowed.iter().map(|role| role.as_str()).collect();
        return Err(ApiError::forbidden(format!(
            "this route needs one of the roles [{}]; the key `{}` has [{}]",
            allowed.join(", "),
            key.name,
            key.roles
                .iter()
                .map(|role| role.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    request.extensions_mut().insert(Caller {
        key_id: key.id,
        name: key.name,
        person: key.person,
        roles: key.roles,
    });
    Ok(next.run(request).await)
}
