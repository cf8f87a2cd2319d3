//! Access roles. Every API route declares the roles it admits; a key holds one or more roles.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A role held by an API key.
///
/// The set is closed on purpose: a route's allowed list is checked against it at compile time,
/// and the route-table test walks every role against every route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Manages keys and configuration; may do everything.
    Admin,
    /// Owns scaling decisions and sign-offs.
    SafetyOfficer,
    /// Runs evaluations and red teaming.
    Evaluator,
    /// Reviews and signs off on evidence.
    Reviewer,
    /// Security team: weights, incidents, access.
    Security,
    /// Read-only access to records and proofs.
    Auditor,
    /// Internal researcher with read access to results.
    Researcher,
    /// Evaluator from outside the organisation, scoped access.
    ExternalEvaluator,
    /// End user of a guarded model endpoint.
    User,
}

impl Role {
    /// Every role, in declaration order.
    pub const ALL: [Role; 9] = [
        Role::Admin,
        Role::SafetyOfficer,
        Role::Evaluator,
        Role::Reviewer,
        Role::Security,
        Role::Auditor,
        Role::Researcher,
        Role::ExternalEvaluator,
        Role::User,
    ];

    /// The role's wire name, as used in `--role` flags, key records and the OpenAPI document.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::SafetyOfficer => "safety-officer",
            Role::Evaluator => "evaluator",
            Role::Reviewer => "reviewer",
            Role::Security => "security",
            Role::Auditor => "auditor",
            Role::Researcher => "researcher",
            Role::ExternalEvaluator => "external-evaluator",
            Role::User => "user",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown role `{0}`; expected one of: admin, safety-officer, evaluator, reviewer, security, auditor, researcher, external-evaluator, user"
)]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str_and_serde() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
        }
    }

    #[test]
    fn unknown_role_lists_the_valid_ones() {
        let err = "root".parse::<Role>().unwrap_err();
        assert!(err.to_string().contains("safety-officer"), "{err}");
    }
}
