//! `[gateway]` in `warden.toml`: routes (model names clients ask for, each a list of versions
//! with one current and some known-good), filters and their policy, labels and retention.
//!
//! ```toml
//! [gateway]
//! addr = "127.0.0.1:8450"
//! lexicons = ["lexicons/ours.tsv"]      # added to the shipped starter lexicon
//! [gateway.policy]
//! "A.1.6" = "block"
//! "pii.email" = "redact"
//! [[gateway.routes]]
//! model = "chat"
//! system_prompt = "You are a careful assistant."
//! text_mark = "【本回答由人工智能生成】"
//! [[gateway.routes.versions]]
//! name = "v2"
//! upstream = "https://models.example/v1"
//! upstream_model = "chat-2"
//! api_key_env = "CHAT_API_KEY"
//! gate_model = "chat-2"                 # the gate must allow api-deployment of chat-2
//! current = true
//! [[gateway.routes.versions]]
//! name = "v1"
//! upstream = "https://models.example/v1"
//! upstream_model = "chat-1"
//! gate_model = "chat-1"
//! known_good = true
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use warden_guard::Action;

use crate::abuse::{AbuseConfig, TierConfig};

/// Default gateway address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8450";

/// `[gateway]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    #[serde(default = "default_addr")]
    pub addr: String,
    /// Serve the shipped starter lexicon (on by default).
    #[serde(default = "yes")]
    pub starter_lexicon: bool,
    /// More lexicon files (`term<TAB>tier<TAB>risks`), relative to the home.
    #[serde(default)]
    pub lexicons: Vec<PathBuf>,
    /// A plain list of terms to block (one per line), relative to the home.
    #[serde(default)]
    pub block_terms: Option<PathBuf>,
    /// A classifier trained with `warden guard train` (a JSON model file, relative to the home),
    /// judging requests and unstreamed answers under the policy category `classifier`.
    #[serde(default)]
    pub classifier: Option<PathBuf>,
    /// Category → action (`block`, `redact`, `flag`, `allow`) over the defaults.
    #[serde(default)]
    pub policy: BTreeMap<String, String>,
    /// `window` (nothing unchecked reaches the client) or `none` (lowest latency; a block
    /// stops the stream and the decision record counts what leaked).
    #[serde(default = "default_hold")]
    pub stream_hold: String,
    /// Keep request and answer text in decision records (by default only their SHA-256).
    #[serde(default)]
    pub store_content: bool,
    /// Days decision records are kept.
    #[serde(default = "default_retention")]
    pub retention_days: u32,
    /// How often the gateway reads new withdrawals, rollbacks and gate decisions from the
    /// ledger, in milliseconds.
    #[serde(default = "default_poll")]
    pub control_poll_ms: u64,
    /// Refuse every request when the ledger could not be read for this many seconds (the
    /// gateway fails closed).
    #[serde(default = "default_stale")]
    pub control_stale_s: u64,
    /// Seconds to wait for an upstream's answer (or its next streamed event).
    #[serde(default = "default_timeout")]
    pub upstream_timeout_s: u64,
    /// Largest request body in bytes.
    #[serde(default = "default_body")]
    pub max_body_bytes: usize,
    /// Add the AI-disclosure header to every answer.
    #[serde(default = "yes")]
    pub disclosure_header: bool,
    /// The explicit text mark added to answers of routes that do not set their own.
    #[serde(default)]
    pub text_mark: Option<String>,
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// A safety model judging requests (`[gateway.llm_guard]`).
    #[serde(default)]
    pub llm_guard: Option<crate::llm_guard::LlmGuardConfig>,
    /// Abuse escalation (`[gateway.abuse]`).
    #[serde(default)]
    pub abuse: AbuseConfig,
    /// Trust tiers (`[[gateway.tiers]]`).
    #[serde(default)]
    pub tiers: Vec<TierConfig>,
    /// The tier of users with no assigned one (unset: no tier limits).
    #[serde(default)]
    pub default_tier: Option<String>,
    /// One in this many blocked or flagged requests goes to the review queue, with its text
    /// (0: none).
    #[serde(default = "default_review_flagged")]
    pub review_every_flagged: u32,
    /// One in this many passed requests goes to the review queue, with its text (0: none).
    #[serde(default = "default_review_passed")]
    pub review_every_passed: u32,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            addr: default_addr(),
            starter_lexicon: true,
            lexicons: Vec::new(),
            block_terms: None,
            classifier: None,
            policy: BTreeMap::new(),
            stream_hold: default_hold(),
            store_content: false,
            retention_days: default_retention(),
            control_poll_ms: default_poll(),
            control_stale_s: default_stale(),
            upstream_timeout_s: default_timeout(),
            max_body_bytes: default_body(),
            disclosure_header: true,
            text_mark: None,
            routes: Vec::new(),
            llm_guard: None,
            abuse: AbuseConfig::default(),
            tiers: Vec::new(),
            default_tier: None,
            review_every_flagged: default_review_flagged(),
            review_every_passed: default_review_passed(),
        }
    }
}

impl GatewayConfig {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Every problem with the configuration, each saying what to fix.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (category, action) in &self.policy {
            if let Err(e) = action.parse::<Action>() {
                problems.push(format!("[gateway.policy] `{category}`: {e}"));
            }
        }
        if !matches!(self.stream_hold.as_str(), "window" | "none") {
            problems.push(format!(
                "[gateway] stream_hold `{}` must be `window` or `none`",
                self.stream_hold
            ));
        }
        let tiers: Vec<String> = self.tiers.iter().map(|t| t.name.clone()).collect();
        problems.extend(self.abuse.problems(&tiers));
        if let Some(guard) = &self.llm_guard {
            problems.extend(guard.problems());
        }
        if let Some(tier) = &self.default_tier
            && !tiers.contains(tier)
        {
            problems.push(format!(
                "[gateway] default_tier `{tier}` is not one of [[gateway.tiers]]"
            ));
        }
        let mut models = std::collections::BTreeSet::new();
        for route in &self.routes {
            if !models.insert(&route.model) {
                problems.push(format!("route `{}` is defined twice", route.model));
            }
            let current = route.versions.iter().filter(|v| v.current).count();
            if current != 1 {
                problems.push(format!(
                    "route `{}` must mark exactly one version `current = true` (it marks {current})",
                    route.model
                ));
            }
            let mut names = std::collections::BTreeSet::new();
            for version in &route.versions {
                if !names.insert(&version.name) {
                    problems.push(format!(
                        "route `{}` has two versions named `{}`",
                        route.model, version.name
                    ));
                }
                if let Err(e) = check_upstream(&version.upstream) {
                    problems.push(format!(
                        "route `{}` version `{}`: {e}",
                        route.model, version.name
                    ));
                }
            }
        }
        problems
    }

    /// The tier called `name`.
    pub fn tier(&self, name: &str) -> Option<&TierConfig> {
        self.tiers.iter().find(|t| t.name == name)
    }

    /// The route clients reach as `model`.
    pub fn route(&self, model: &str) -> Option<&RouteConfig> {
        self.routes.iter().find(|r| r.model == model)
    }
}

/// An upstream must be https, or http on a loopback address.
pub fn check_upstream(url: &str) -> Result<(), String> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| format!("upstream `{url}` is not a URL ({e})"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            let host = parsed.host_str().unwrap_or("");
            let loopback = host == "localhost"
                || host
                    .trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(())
            } else {
                Err(format!(
                    "upstream `{url}` must use https (plain http only to a loopback address)"
                ))
            }
        }
        other => Err(format!("upstream `{url}` has scheme `{other}`; use https")),
    }
}

/// One route: the model name clients ask for and the versions behind it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub model: String,
    /// A safety system prompt put before the client's messages.
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// The explicit text mark for this route's answers (overrides `[gateway] text_mark`).
    #[serde(default)]
    pub text_mark: Option<String>,
    pub versions: Vec<VersionConfig>,
}

impl RouteConfig {
    pub fn current(&self) -> Option<&VersionConfig> {
        self.versions.iter().find(|v| v.current)
    }

    pub fn version(&self, name: &str) -> Option<&VersionConfig> {
        self.versions.iter().find(|v| v.name == name)
    }
}

/// One model version behind a route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionConfig {
    pub name: String,
    /// OpenAI-compatible base URL (`…/v1`).
    pub upstream: String,
    /// The model name sent upstream (default: the version's name).
    #[serde(default)]
    pub upstream_model: Option<String>,
    /// Environment variable holding the upstream's API key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// The gate model this version answers to; unset makes it ungated.
    #[serde(default)]
    pub gate_model: Option<String>,
    #[serde(default)]
    pub current: bool,
    /// May be rolled back to.
    #[serde(default)]
    pub known_good: bool,
}

impl VersionConfig {
    pub fn upstream_model(&self) -> &str {
        self.upstream_model.as_deref().unwrap_or(&self.name)
    }
}

fn default_review_flagged() -> u32 {
    5
}
fn default_review_passed() -> u32 {
    200
}

fn yes() -> bool {
    true
}
fn default_addr() -> String {
    DEFAULT_ADDR.to_owned()
}
fn default_hold() -> String {
    "window".to_owned()
}
fn default_retention() -> u32 {
    30
}
fn default_poll() -> u64 {
    250
}
fn default_stale() -> u64 {
    15
}
fn default_timeout() -> u64 {
    120
}
fn default_body() -> usize {
    4 * 1024 * 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_say_what_to_fix() {
        let config: Result<GatewayConfig, _> = toml_like(
            r#"{"policy": {"A.1.6": "stop"}, "stream_hold": "later",
                "routes": [{"model": "m", "versions": [
                  {"name": "a", "upstream": "http://10.0.0.1/v1"},
                  {"name": "a", "upstream": "https://x.example/v1"}]}]}"#,
        );
        let problems = config.map(|c| c.problems()).unwrap_or_default().join("\n");
        for expected in [
            "`stop` is not an action",
            "stream_hold `later`",
            "exactly one version",
            "two versions named `a`",
            "must use https",
        ] {
            assert!(
                problems.contains(expected),
                "{expected} missing in:\n{problems}"
            );
        }
        assert!(check_upstream("http://127.0.0.1:9/v1").is_ok());
        assert!(check_upstream("http://[::1]:9/v1").is_ok());
    }

    fn toml_like(json: &str) -> Result<GatewayConfig, serde_json::Error> {
        serde_json::from_str(json)
    }
}
