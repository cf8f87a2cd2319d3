//! The route table: every route's method, path, access rule and documentation in one place. The
//! router, the auth middleware and the OpenAPI document are all built from it, and the access
//! test walks it, so a route cannot exist without declaring who may call it.

use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, post};

use crate::AppState;
use crate::api::{keys, ledger, system};
use crate::auth::{ADMINS, ANY_ROLE, Access, OVERSEERS, READERS, RECORDERS};

/// One API route.
pub struct Route {
    pub method: Method,
    /// Axum path template, which is also the OpenAPI path.
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    /// Query parameters: (name, required, description).
    pub query: &'static [(&'static str, bool, &'static str)],
    /// Component schema of the JSON body, if any.
    pub request: Option<&'static str>,
    /// Success status and a description of the answer.
    pub success: (u16, &'static str),
    pub handler: fn() -> MethodRouter<AppState>,
}

/// Every route Warden serves.
pub fn table() -> Vec<Route> {
    vec![
        Route {
            method: Method::GET,
            path: "/healthz",
            access: Access::Public,
            summary: "Liveness and database reachability",
            query: &[],
            request: None,
            success: (200, "the server and its database are up"),
            handler: || get(system::healthz),
        },
        Route {
            method: Method::GET,
            path: "/openapi.json",
            access: Access::Public,
            summary: "This API description",
            query: &[],
            request: None,
            success: (200, "OpenAPI 3.1 document"),
            handler: || get(system::openapi),
        },
        Route {
            method: Method::GET,
            path: "/metrics",
            access: Access::Roles(OVERSEERS),
            summary: "Prometheus metrics",
            query: &[],
            request: None,
            success: (200, "Prometheus text exposition"),
            handler: || get(system::metrics),
        },
        Route {
            method: Method::GET,
            path: "/v1/whoami",
            access: Access::Roles(ANY_ROLE),
            summary: "The calling key and its roles",
            query: &[],
            request: None,
            success: (200, "key id, name and roles"),
            handler: || get(system::whoami),
        },
        Route {
            method: Method::POST,
            path: "/v1/ledger/entries",
            access: Access::Roles(RECORDERS),
            summary: "Append one governance event; the actor is the calling key",
            query: &[],
            request: Some("AppendRequest"),
            success: (201, "the new entry with its index and leaf hash"),
            handler: || post(ledger::append),
        },
        Route {
            method: Method::GET,
            path: "/v1/ledger/entries",
            access: Access::Roles(READERS),
            summary: "List entries in index order",
            query: &[
                ("start", false, "first index (default 0)"),
                ("limit", false, "at most this many, 1 to 1000 (default 100)"),
            ],
            request: None,
            success: (200, "the ledger size and a page of entries"),
            handler: || get(ledger::list),
        },
        Route {
            method: Method::GET,
            path: "/v1/ledger/entries/{index}",
            access: Access::Roles(READERS),
            summary: "One entry",
            query: &[],
            request: None,
            success: (200, "the entry"),
            handler: || get(ledger::get),
        },
        Route {
            method: Method::POST,
            path: "/v1/ledger/batch",
            access: Access::Roles(RECORDERS),
            summary: "Append up to 1000 events in one transaction, all or nothing",
            query: &[],
            request: Some("BatchRequest"),
            success: (201, "the new indexes"),
            handler: || post(ledger::append_batch),
        },
        Route {
            method: Method::GET,
            path: "/v1/ledger/checkpoint",
            access: Access::Roles(READERS),
            summary: "The signed checkpoint (C2SP signed note) at the current size",
            query: &[],
            request: None,
            success: (200, "text/plain signed note"),
            handler: || get(ledger::checkpoint),
        },
        Route {
            method: Method::GET,
            path: "/v1/ledger/key",
            access: Access::Roles(READERS),
            summary: "The verifier key that checks this log's checkpoints",
            query: &[],
            request: None,
            success: (200, "text/plain verifier key"),
            handler: || get(ledger::verifier_key),
        },
        Route {
            method: Method::GET,
            path: "/v1/ledger/proofs/inclusion",
            access: Access::Roles(READERS),
            summary: "Inclusion proof bundle for one entry",
            query: &[
                ("index", true, "entry index"),
                ("size", false, "tree size (default: current)"),
            ],
            request: None,
            success: (200, "proof bundle: entry, path and signed checkpoint"),
            handler: || get(ledger::inclusion),
        },
        Route {
            method: Method::GET,
            path: "/v1/ledger/proofs/consistency",
            access: Access::Roles(READERS),
            summary: "Consistency proof bundle between two tree sizes",
            query: &[
                ("old", true, "older tree size"),
                ("new", false, "newer tree size (default: current)"),
            ],
            request: None,
            success: (200, "proof bundle: two signed checkpoints and the path"),
            handler: || get(ledger::consistency),
        },
        Route {
            method: Method::GET,
            path: "/v1/ledger/audit",
            access: Access::Roles(OVERSEERS),
            summary: "Recompute the ledger from its rows and report the first bad index",
            query: &[],
            request: None,
            success: (200, "audit report"),
            handler: || get(ledger::audit),
        },
        Route {
            method: Method::POST,
            path: "/v1/keys",
            access: Access::Roles(ADMINS),
            summary: "Create an API key; the secret is in this answer only",
            query: &[],
            request: Some("CreateKeyRequest"),
            success: (201, "the key with its secret"),
            handler: || post(keys::create),
        },
        Route {
            method: Method::GET,
            path: "/v1/keys",
            access: Access::Roles(ADMINS),
            summary: "List keys (never secrets)",
            query: &[],
            request: None,
            success: (200, "keys"),
            handler: || get(keys::list),
        },
        Route {
            method: Method::DELETE,
            path: "/v1/keys/{id}",
            access: Access::Roles(ADMINS),
            summary: "Revoke a key",
            query: &[],
            request: None,
            success: (200, "revocation recorded"),
            handler: || delete(keys::revoke),
        },
    ]
}
