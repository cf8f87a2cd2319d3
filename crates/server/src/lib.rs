//! Warden's HTTP API.
//!
//! Brief overview:
//! - [`routes::table`]: every route with its access rule; the router, auth and OpenAPI come from it.
//! - [`auth`]: bearer API keys and per-route roles.
//! - [`error::ApiError`]: the one error type with its one status mapping.
//! - [`api`]: thin handlers over the library crates.
//! - [`app`] builds the router; [`serve`] runs it until shutdown.
//!
//! **Invariant:** this crate and `warden-cli` are the only ones that know HTTP and JSON wire
//! formats; handlers hold no business logic.

pub mod api;
pub mod auth;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod openapi;
pub mod routes;

use std::future::{Future, IntoFuture as _};
use std::sync::Arc;
use std::time::Duration;

pub use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::middleware;
use serde_json::Value;
use tokio::net::TcpListener;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use warden_ledger::Ledger;

use crate::error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub ledger: Ledger,
    pub metrics: metrics::Metrics,
    pub openapi: Arc<Value>,
    /// Largest file accepted by the upload routes (labels).
    pub max_upload_bytes: usize,
    /// The local model, when one is configured.
    pub model: api::chat::ModelSlot,
    /// The gate's decisions, folded from the ledger and brought up to date on each query.
    pub gate: Arc<tokio::sync::Mutex<warden_gate::decision::GateState>>,
}

/// Server settings.
#[derive(Clone)]
pub struct ServerOptions {
    /// Largest accepted JSON request body in bytes.
    pub max_body_bytes: usize,
    /// Largest accepted file upload in bytes (streamed to disk, never held in memory).
    pub max_upload_bytes: usize,
    /// The local model served at /v1/chat/completions, if any.
    pub model: api::chat::ModelSlot,
}

#[derive(Clone, Copy)]
struct UuidV7;

impl MakeRequestId for UuidV7 {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        uuid::Uuid::now_v7()
            .to_string()
            .parse()
            .ok()
            .map(RequestId::new)
    }
}

/// The full router over `ledger`.
pub fn app(ledger: Ledger, options: &ServerOptions) -> Router {
    let table = routes::table();
    let state = AppState {
        ledger: ledger.clone(),
        metrics: metrics::Metrics::default(),
        openapi: Arc::new(openapi::document(&table)),
        max_upload_bytes: options.max_upload_bytes,
        model: options.model.clone(),
        gate: Arc::new(tokio::sync::Mutex::new(
            warden_gate::decision::GateState::new(ledger.verifier(), ledger.origin()),
        )),
    };
    let mut router: Router<AppState> = Router::new();
    for route in &table {
        let mut guarded = (route.handler)().route_layer(middleware::from_fn_with_state(
            (state.clone(), route.access),
            auth::require,
        ));
        if route.upload {
            guarded = guarded.layer(DefaultBodyLimit::max(options.max_upload_bytes));
        }
        router = router.route(route.path, guarded);
    }
    let request_id = HeaderName::from_static("x-request-id");
    router
        .fallback(|| async { ApiError::not_found("no such route; see /openapi.json") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method; see /openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(options.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, UuidV7))
        .with_state(state)
}

/// How long in-flight requests get to finish once shutdown begins; then the server returns and
/// whatever still runs is dropped (a dropped generation is cancelled).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serve any router until `shutdown` resolves, then give in-flight requests [`SHUTDOWN_GRACE`]
/// to finish and return.
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (begun, mut begins) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown.await;
        let _ = begun.send(true);
    };
    // Streamed tokens must leave at once, not wait for Nagle's algorithm and a delayed ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = axum::serve(listener, router)
        .with_graceful_shutdown(signal)
        .into_future();
    let deadline = async move {
        if begins.wait_for(|begun| *begun).await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!(
                "requests still running {} s after the shutdown signal were dropped",
                SHUTDOWN_GRACE.as_secs()
            );
            Ok(())
        }
    }
}

/// Serve until `shutdown` resolves; then cancel the running model generation (if any) and give
/// other requests [`SHUTDOWN_GRACE`] to finish.
pub async fn serve(
    listener: TcpListener,
    ledger: Ledger,
    options: &ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let model = options.model.clone();
    let shutdown = async move {
        shutdown.await;
        if let Some(service) = &model.0 {
            service.stop();
        }
    };
    serve_router(listener, app(ledger, options), shutdown).await
}
