//! Abuse escalation with appeals (7.4) and trust tiers.
//!
//! Every request whose filters block or flag something earns its end user points (`[gateway.abuse]`
//! `block_points`, `flag_points`) that halve every `half_life_hours`. When a user's points reach a
//! rung of the ladder, the gateway records `guard.user_escalated` with the rung's action:
//!
//! - `warn`: answers carry an `x-warden-warning` header;
//! - `rate_limit`: the user gets `rate_limit_per_minute` requests a minute (429 beyond);
//! - `tier:NAME`: the user is served under the stricter tier NAME;
//! - `suspend`: every request is refused (403 `user_suspended`, saying how to appeal).
//!
//! A rung lasts `hours` (0: until an appeal overturns it). The user, through the calling
//! application, appeals (`POST /v1/gateway/appeals`); a person with the reviewer, safety-officer
//! or admin role decides; an overturned escalation ends at once and the points before it no
//! longer count. Every step is a ledger entry (see [`crate::control`]); points are read from the
//! decision records shared by every gateway on the database.
//!
//! Trust tiers (`[[gateway.tiers]]`) set per-user request rates, the models a user may reach, and
//! categories blocked or allowed beyond the gateway's policy. A user's tier is the one an
//! escalation imposes, else the one an admin assigned (`warden gateway tier`), else
//! `[gateway] default_tier`.
//!
//! The arithmetic here is pure; the gateway supplies times and records.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// `[gateway.abuse]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbuseConfig {
    /// Escalate at all (on by default; users are only tracked when requests name one).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Points a request earns when a filter blocks something in it.
    #[serde(default = "three")]
    pub block_points: u32,
    /// Points a request earns when a filter flags something in it.
    #[serde(default = "one")]
    pub flag_points: u32,
    /// Hours after which a request's points count half.
    #[serde(default = "day")]
    pub half_life_hours: u32,
    /// The ladder, by ascending points.
    #[serde(default = "default_ladder")]
    pub ladder: Vec<Rung>,
}

impl Default for AbuseConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            block_points: 3,
            flag_points: 1,
            half_life_hours: 24,
            ladder: default_ladder(),
        }
    }
}

/// One rung of the ladder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rung {
    /// Points at which it applies.
    pub points: u32,
    /// `warn`, `rate_limit`, `tier:NAME` or `suspend`.
    pub action: String,
    /// How long it lasts, in hours (0: until an appeal overturns it).
    #[serde(default)]
    pub hours: u32,
    /// Requests a minute under `rate_limit`.
    #[serde(default = "five")]
    pub rate_limit_per_minute: u32,
}

fn default_ladder() -> Vec<Rung> {
    let rung = |points, action: &str, hours| Rung {
        points,
        action: action.to_owned(),
        hours,
        rate_limit_per_minute: 5,
    };
    vec![
        rung(3, "warn", 24),
        rung(9, "rate_limit", 24),
        rung(18, "suspend", 0),
    ]
}

/// `[[gateway.tiers]]`: what users of a tier may do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    pub name: String,
    /// Requests a minute per user (unset: no limit).
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
    /// Models the tier may reach (empty: all).
    #[serde(default)]
    pub models: Vec<String>,
    /// Categories blocked for this tier beyond the policy (risk ids, tiers, PII kinds).
    #[serde(default)]
    pub block: Vec<String>,
    /// Categories allowed for this tier (e.g. `tier.flag` for trusted researchers).
    #[serde(default)]
    pub allow: Vec<String>,
}

impl AbuseConfig {
    /// Problems, each saying what to fix; `tiers` are the configured tier names.
    pub fn problems(&self, tiers: &[String]) -> Vec<String> {
        let mut problems = Vec::new();
        let mut last = 0;
        for rung in &self.ladder {
            if rung.points <= last && last != 0 {
                problems.push(format!(
                    "[gateway.abuse] ladder: points must ascend ({} after {last})",
                    rung.points
                ));
            }
            last = rung.points;
            let known = match rung.action.strip_prefix("tier:") {
                Some(tier) => tiers.iter().any(|t| t == tier),
                None => matches!(rung.action.as_str(), "warn" | "rate_limit" | "suspend"),
            };
            if !known {
                problems.push(format!(
                    "[gateway.abuse] ladder action `{}` must be warn, rate_limit, suspend or tier:NAME of a configured tier",
                    rung.action
                ));
            }
        }
        if self.half_life_hours == 0 {
            problems.push("[gateway.abuse] half_life_hours must be at least 1".to_owned());
        }
        problems
    }

    /// Points a request earns for its strictest action.
    pub fn points_for(&self, action: &str) -> u32 {
        match action {
            "block" => self.block_points,
            "flag" | "redact" => self.flag_points,
            _ => 0,
        }
    }

    /// Decayed points of `(age in hours, action)` pairs. Ages count in whole hours, so the
    /// requests of the last hour count in full and a rung's threshold is reached exactly.
    pub fn points(&self, history: impl IntoIterator<Item = (f64, String)>) -> f64 {
        let half_life = f64::from(self.half_life_hours.max(1));
        history
            .into_iter()
            .map(|(age, action)| {
                f64::from(self.points_for(&action)) * 0.5f64.powf(age.max(0.0).floor() / half_life)
            })
            .sum()
    }

    /// The highest rung `points` reach, with its position.
    pub fn rung_for(&self, points: f64) -> Option<(usize, &Rung)> {
        self.ladder
            .iter()
            .enumerate()
            .filter(|(_, r)| points >= f64::from(r.points))
            .max_by_key(|(i, _)| *i)
    }
}

/// Per-user request counters for rate limits: a fixed one-minute window per key, enough to keep
/// one process honest. Limits are per gateway process.
#[derive(Default)]
pub struct RateLimiter(Mutex<HashMap<String, (Instant, u32)>>);

impl RateLimiter {
    /// Count a request by `who`; false when it is over `per_minute`.
    pub fn allow(&self, who: &str, per_minute: u32) -> bool {
        let Ok(mut windows) = self.0.lock() else {
            return true;
        };
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| start.elapsed().as_secs() < 60);
        }
        let window = windows.entry(who.to_owned()).or_insert((Instant::now(), 0));
        if window.0.elapsed().as_secs() >= 60 {
            *window = (Instant::now(), 0);
        }
        window.1 += 1;
        window.1 <= per_minute
    }
}

fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn three() -> u32 {
    3
}
fn five() -> u32 {
    5
}
fn day() -> u32 {
    24
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_decay_and_reach_rungs() {
        let config = AbuseConfig::default();
        let fresh = config.points(vec![(0.5, "block".to_owned()); 3]);
        assert!((fresh - 9.0).abs() < 1e-9);
        let day_old = config.points(vec![(24.0, "block".to_owned()); 3]);
        assert!((day_old - 4.5).abs() < 1e-9);
        assert_eq!(
            config.rung_for(fresh).map(|r| r.1.action.as_str()),
            Some("rate_limit")
        );
        assert_eq!(
            config.rung_for(day_old).map(|r| r.1.action.as_str()),
            Some("warn")
        );
        assert_eq!(config.rung_for(1.0), None);
        assert_eq!(config.points([(0.0, "allow".to_owned())]), 0.0);
    }

    #[test]
    fn ladder_problems_name_the_fix() {
        let config = AbuseConfig {
            ladder: vec![
                Rung {
                    points: 5,
                    action: "warn".into(),
                    hours: 1,
                    rate_limit_per_minute: 5,
                },
                Rung {
                    points: 4,
                    action: "tier:nope".into(),
                    hours: 1,
                    rate_limit_per_minute: 5,
                },
            ],
            ..AbuseConfig::default()
        };
        let problems = config.problems(&["restricted".to_owned()]).join("\n");
        assert!(problems.contains("points must ascend"), "{problems}");
        assert!(problems.contains("tier:nope"), "{problems}");
    }

    #[test]
    fn the_rate_limiter_counts_per_user() {
        let limiter = RateLimiter::default();
        assert!((0..3).all(|_| limiter.allow("a", 3)));
        assert!(!limiter.allow("a", 3));
        assert!(limiter.allow("b", 3));
    }
}
