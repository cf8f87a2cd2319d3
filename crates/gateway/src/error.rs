//! The gateway's one error type, answered in OpenAI's error shape so every OpenAI client reads it:
//! `{"error": {"message", "type", "param", "code"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::upstream::UpstreamError;

/// An error answered to a gateway client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl GatewayError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// A request a filter blocked: 400 `content_blocked`.
    pub fn blocked() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "content_blocked",
            warden_guard::REJECTED,
        )
    }

    /// OpenAI's error `type` for the status.
    pub fn kind(&self) -> &'static str {
        match self.status {
            StatusCode::UNAUTHORIZED => "authentication_error",
            StatusCode::FORBIDDEN => "permission_error",
            StatusCode::NOT_FOUND => "invalid_request_error",
            StatusCode::TOO_MANY_REQUESTS => "rate_limit_error",
            s if s.is_server_error() => "api_error",
            _ => "invalid_request_error",
        }
    }

    /// The error as JSON (also the in-band frame of a stream).
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {
            "message": self.message,
            "type": self.kind(),
            "param": null,
            "code": self.code,
        }})
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(code = self.code, message = %self.message, "gateway request failed");
        }
        (self.status, Json(self.body())).into_response()
    }
}

impl From<UpstreamError> for GatewayError {
    fn from(error: UpstreamError) -> Self {
        let (status, code) = match &error {
            UpstreamError::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout"),
            UpstreamError::Status { status, .. } if *status == 429 => {
                (StatusCode::TOO_MANY_REQUESTS, "upstream_rate_limited")
            }
            _ => (StatusCode::BAD_GATEWAY, "upstream_error"),
        };
        Self::new(status, code, error.to_string())
    }
}
