//! The one API error type and its one status mapping. Every failure a handler can meet becomes
//! an [`ApiError`] with a stable `code`, an HTTP status, and a message that says what to fix.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use warden_ledger::LedgerError;
use warden_ledger::access::AccessError;
use warden_ledger::store::StoreError;

/// An error answered to an API client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let body = Json(json!({"error": {"code": self.code, "message": self.message}}));
        let mut response = (self.status, body).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"warden\""),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        let status = match &error {
            StoreError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            StoreError::InvalidEntry(_) => StatusCode::UNPROCESSABLE_ENTITY,
            StoreError::Corrupt(_)
            | StoreError::UnsupportedUrl(_)
            | StoreError::Migration(_)
            | StoreError::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let code = match &error {
            StoreError::Unavailable { .. } => "database_unavailable",
            StoreError::InvalidEntry(_) => "invalid_entry",
            StoreError::Corrupt(_) => "ledger_corrupt",
            _ => "database_error",
        };
        Self::new(status, code, error.to_string())
    }
}

impl From<LedgerError> for ApiError {
    fn from(error: LedgerError) -> Self {
        match error {
            LedgerError::Store(store) => store.into(),
            LedgerError::InvalidEntry(
                entry @ warden_ledger::entry::EntryError::Reserved { .. },
            ) => Self::new(StatusCode::FORBIDDEN, "reserved_kind", entry.to_string()),
            LedgerError::InvalidEntry(entry) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_entry",
                entry.to_string(),
            ),
            LedgerError::OutOfRange(message) => {
                Self::new(StatusCode::NOT_FOUND, "out_of_range", message)
            }
            other @ (LedgerError::Signing(_)
            | LedgerError::WriterStopped
            | LedgerError::Fork(_)) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                other.to_string(),
            ),
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::Store(store) => store.into(),
            AccessError::Ledger(ledger) => ledger.into(),
            AccessError::Random => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                error.to_string(),
            ),
            other => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_key_request",
                other.to_string(),
            ),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let (code, hint) = match status {
            StatusCode::PAYLOAD_TOO_LARGE => (
                "body_too_large",
                "send a smaller body, or raise [server] max_body_bytes",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "unsupported_media_type",
                "send `Content-Type: application/json`",
            ),
            StatusCode::UNPROCESSABLE_ENTITY => (
                "invalid_body",
                "check the field names and types against /openapi.json",
            ),
            _ => ("malformed_json", "the body must be one valid JSON document"),
        };
        Self::new(status, code, format!("{}; {hint}", rejection.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::bad_request(format!(
            "{}; see /openapi.json for this route's parameters",
            rejection.body_text()
        ))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::bad_request(rejection.body_text())
    }
}
