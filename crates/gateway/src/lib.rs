//! Warden's guard gateway: an OpenAI-compatible proxy in the request path (practice 7, with 3.5
//! and 9.4–9.5 of the report).
//!
//! - [`config`]: `[gateway]` in `warden.toml` — routes, versions, filters, labels, retention.
//! - [`app`]: the HTTP surface and the request path (filters, gate, withdrawal, streaming).
//! - [`control`]: withdrawals, restores and rollbacks as ledger entries, folded and re-checked.
//! - [`service`]: writing those entries (the CLI's `warden gateway withdraw|restore|rollback`).
//! - [`decision`]: one decision record per request, written in the background; pseudonyms.
//! - [`store`]: the decision records' tables on SQLite and PostgreSQL (migrations 2000–2999).
//! - [`upstream`]: OpenAI-compatible upstream calls and the SSE parser.
//! - [`llm_guard`]: a safety model (Llama Guard, Qwen3Guard, or any model prompted) as a filter.
//! - [`abuse`]: abuse escalation (points with decay, a ladder), appeals, trust tiers.
//! - [`review`]: filter error rates from reviewers' labels; labels as training data.
//! - [`metrics`], [`error`].
//!
//! **Invariants:** no answer reaches a client without the output filters having passed it (in
//! the default `window` mode); a model is served only while the latest ledger state read within
//! `control_stale_s` allows it (the gateway fails closed); every request leaves a decision
//! record, and a filter that did not run is recorded as not run.

pub mod abuse;
pub mod app;
pub mod config;
pub mod control;
pub mod decision;
pub mod error;
pub mod llm_guard;
pub mod metrics;
pub mod review;
pub mod service;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod upstream;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use warden_gate::decision::GateState;
use warden_guard::Guard;
use warden_ledger::Ledger;

use crate::config::{GatewayConfig, RouteConfig, VersionConfig};
use crate::control::ControlState;
use crate::decision::DecisionLog;
use crate::store::DecisionStore;
use crate::upstream::Upstream;

pub use app::Gateway;

/// What a gateway process runs with.
pub struct Options {
    pub config: GatewayConfig,
    /// Routes by client-facing model name: the configured ones, or [`discover_routes`]'.
    pub routes: BTreeMap<String, RouteConfig>,
    pub guard: Guard,
    /// The end-user pseudonym key (absent once destroyed).
    pub user_key: Option<Vec<u8>>,
}

/// Routes for every model `upstream` lists, each ungated with one version: the defaults when
/// `warden.toml` configures no routes.
pub async fn discover_routes(
    upstream: &str,
    timeout: Duration,
) -> Result<BTreeMap<String, RouteConfig>, String> {
    config::check_upstream(upstream)?;
    let client = Upstream::new(timeout)?;
    let probe = VersionConfig {
        name: String::new(),
        upstream: upstream.to_owned(),
        upstream_model: None,
        api_key_env: Some("WARDEN_UPSTREAM_KEY".to_owned()),
        gate_model: None,
        current: true,
        known_good: false,
    };
    let models = client
        .models(&probe)
        .await
        .map_err(|e| format!("cannot list the models of {upstream}: {e}"))?;
    Ok(models
        .into_iter()
        .map(|model| {
            let route = RouteConfig {
                model: model.clone(),
                system_prompt: None,
                text_mark: None,
                versions: vec![VersionConfig {
                    name: model.clone(),
                    ..probe.clone()
                }],
            };
            (model, route)
        })
        .collect())
}

/// Serve the gateway on `listener` until `shutdown` resolves; then stop taking requests, let
/// running ones finish (up to 10 s) and store every decision record before returning.
pub async fn serve(
    listener: TcpListener,
    ledger: Ledger,
    decisions: Arc<dyn DecisionStore>,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (log, writer) = DecisionLog::start(Arc::clone(&decisions));
    let poll = Duration::from_millis(options.config.control_poll_ms.max(10));
    let gateway = Arc::new(
        Gateway::new(
            options.config,
            options.routes,
            options.guard,
            ledger.clone(),
            log,
            decisions,
            options.user_key,
        )
        .map_err(std::io::Error::other)?,
    );
    let mut control = ControlState::new(ledger.verifier(), ledger.origin());
    let mut gate = GateState::new(ledger.verifier(), ledger.origin());
    gateway.refresh(&mut control, &mut gate).await;
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let refresher = {
        let gateway = Arc::clone(&gateway);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(poll);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => gateway.refresh(&mut control, &mut gate).await,
                    _ = stopped.changed() => return,
                }
            }
        })
    };
    let router = app::router(Arc::clone(&gateway));
    // Small SSE frames must leave at once, not wait for Nagle's algorithm and a delayed ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop.send(true);
    let _ = refresher.await;
    drop(gateway);
    if tokio::time::timeout(Duration::from_secs(10), writer.flushed())
        .await
        .is_err()
    {
        tracing::error!("decision records of requests still running after 10 s were not stored");
    }
    served
}

/// The guard a gateway runs with: the starter lexicon (unless switched off), the lexicon files
/// and block-term lists `[gateway]` names (paths relative to `root`), `extra_block_terms`, and
/// the policy's defaults with `[gateway.policy]` over them. Errors name the file and line.
pub fn build_guard(
    config: &GatewayConfig,
    root: &std::path::Path,
    extra_block_terms: Option<&std::path::Path>,
) -> Result<Guard, String> {
    use warden_guard::lexicon::{STARTER_ALLOW, STARTER_INACTIVE, STARTER_TSV};
    use warden_guard::{LexiconBuilder, Policy, Tier};
    let read = |path: &std::path::Path| {
        let full = root.join(path);
        std::fs::read_to_string(&full).map_err(|e| format!("cannot read {}: {e}", full.display()))
    };
    let mut builder = LexiconBuilder::new();
    if config.starter_lexicon {
        builder = builder
            .tsv("starter.tsv", STARTER_TSV)
            .map_err(|e| e.to_string())?
            .allow(STARTER_ALLOW);
    }
    for path in &config.lexicons {
        builder = builder
            .tsv(&path.display().to_string(), &read(path)?)
            .map_err(|e| e.to_string())?;
    }
    let other = "A.1.8"
        .parse()
        .map_err(|e: warden_core::risk::UnknownRisk| e.to_string())?;
    for path in config
        .block_terms
        .iter()
        .map(|p| p.as_path())
        .chain(extra_block_terms)
    {
        builder = builder
            .terms(
                &path.display().to_string(),
                &read(path)?,
                Tier::Block,
                &[other],
            )
            .map_err(|e| e.to_string())?;
    }
    if config.starter_lexicon {
        builder = builder
            .inactive("inactive.tsv", STARTER_INACTIVE)
            .map_err(|e| e.to_string())?;
    }
    let lexicon = builder.build("gateway").map_err(|e| e.to_string())?;
    let mut policy = Policy::default();
    for (category, action) in &config.policy {
        let action = action
            .parse()
            .map_err(|e| format!("[gateway.policy] `{category}`: {e}"))?;
        policy.actions.insert(category.clone(), action);
    }
    let guard = Guard::new(lexicon, policy);
    match &config.classifier {
        None => Ok(guard),
        Some(path) => {
            let classifier = warden_guard::classifier::Classifier::from_json(&read(path)?)
                .map_err(|e| format!("{}: {e}", root.join(path).display()))?;
            Ok(guard.with_classifier(classifier))
        }
    }
}

/// The end-user pseudonym key in the home: created (32 random bytes, mode 0600) when missing.
pub fn user_key(root: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = root.join(USER_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => warden_core::hex::decode(text.trim())
            .filter(|key| !key.is_empty())
            .ok_or_else(|| {
                format!(
                    "{} is not a hex key; delete it to start a new one",
                    path.display()
                )
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = vec![0u8; 32];
            getrandom::getrandom(&mut key).map_err(|e| e.to_string())?;
            let hex = warden_core::hex::encode(&key);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            file.write_all(hex.as_bytes())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(key)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The file holding the end-user pseudonym key.
pub const USER_KEY_FILE: &str = "gateway-users.key";
