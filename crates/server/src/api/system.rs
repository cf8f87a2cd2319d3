//! Health, metrics, the OpenAPI document and `whoami`.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

/// `GET /healthz`: the server is up and its database answers.
pub async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let size = state.ledger.size().await?;
    Ok(Json(
        json!({"status": "ok", "database": state.ledger.store().backend(), "ledger_entries": size}),
    ))
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let size = state.ledger.size().await.ok();
    let mut response = state.metrics.render(size).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// `GET /openapi.json`.
pub async fn openapi(State(state): State<AppState>) -> Json<Value> {
    Json(state.openapi.as_ref().clone())
}

/// `GET /v1/whoami`: the calling key and its roles.
pub async fn whoami(Extension(caller): Extension<Caller>) -> Json<Value> {
    Json(json!({"key_id": caller.key_id, "name": caller.name, "roles": caller.roles}))
}
