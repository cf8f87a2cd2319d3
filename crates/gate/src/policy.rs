//! The policy file: a responsible-scaling policy as data (TOML), one schema for ASL-style tiers,
//! Preparedness-style scorecards and compliance profiles.
//!
//! ```toml
//! [policy]                       # id, name, version, modelled_on, stages, user_suites, changelog
//! [[category]]                   # id, name, threat_model, notes
//! [[threshold]]                  # id, category, tier, description, combine, implies, mitigation
//! [[threshold.indicators]]       # suite, metric, statistic, op, value, alert
//! [[safeguard]]                  # id, description, evidence = attestation | eval_run | document
//! [[requirement]]                # threshold (absent: baseline), stage, safeguards, halt, note
//! [[trigger]]                    # kind = effective-compute-ratio | months-since-elicitation, value
//! [signoff]                      # roles (warden_core::Role names), distinct
//! [scorecard]                    # levels, deploy_max, develop_max (Preparedness-style only)
//! ```
//!
//! Every table denies unknown keys, so a typo is an error rather than a silently ignored line.
//! Key fields are [`toml::Spanned`] so that [`crate::lint`] can name the line of a bad value.
//! Rates are fractions in `[0, 1]`. A threshold is *crossed when* `statistic op value` holds for
//! its indicators (`combine = "any"` or `"all"`); `alert` is an early-warning value on the safe
//! side of `value`. Parsing and checking live in [`crate::lint`]; this module is only the shape.

use std::fmt;

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// A whole policy file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub policy: PolicyInfo,
    #[serde(default, rename = "category")]
    pub categories: Vec<Category>,
    #[serde(default, rename = "threshold")]
    pub thresholds: Vec<Threshold>,
    #[serde(default, rename = "safeguard")]
    pub safeguards: Vec<Safeguard>,
    #[serde(default, rename = "requirement")]
    pub requirements: Vec<Requirement>,
    #[serde(default, rename = "trigger")]
    pub triggers: Vec<Trigger>,
    pub signoff: Signoff,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scorecard: Option<Scorecard>,
}

/// `[policy]`: identity, version history and scope.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyInfo {
    pub id: Spanned<String>,
    pub name: String,
    pub version: Spanned<String>,
    /// The published framework this policy is modelled on (never claimed to be that framework).
    pub modelled_on: String,
    /// The stages this policy governs; every threshold needs a requirement for each.
    pub stages: Vec<Spanned<Stage>>,
    /// Suites outside the shipped ones that indicators may name (so a typo is still caught).
    #[serde(default)]
    pub user_suites: Vec<Spanned<String>>,
    pub changelog: Vec<ChangelogEntry>,
}

/// One version's change.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangelogEntry {
    pub version: Spanned<String>,
    /// `YYYY-MM-DD`.
    pub date: Spanned<String>,
    pub change: String,
}

/// `[[category]]`: a risk category and its threat model.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub id: Spanned<String>,
    pub name: String,
    pub threat_model: String,
    /// Caveats carried into every assessment's residual-risk notes (e.g. "indicators are proxies").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
}

/// `[[threshold]]`: a capability threshold in a category, at a tier.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    pub id: Spanned<String>,
    pub category: Spanned<String>,
    /// `ASL-3`, `CCL-1`, or with a `[scorecard]` one of its levels (`high`).
    pub tier: Spanned<String>,
    pub description: String,
    pub indicators: Vec<Indicator>,
    #[serde(default)]
    pub combine: Combine,
    /// Thresholds this one implies: when this one is treated as crossed, so are they.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub implies: Vec<Spanned<String>>,
    /// Pre- or post-mitigation (scorecard policies only; required there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigation: Option<Spanned<Mitigation>>,
}

/// One indicator: crossed when `statistic(suite.metric) op value`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    pub suite: Spanned<String>,
    /// A metric of [`crate::metrics`]: `harmful_compliance`, `risk:A.1.8`, `attack:base64`, ...
    pub metric: Spanned<String>,
    #[serde(default)]
    pub statistic: Statistic,
    pub op: Spanned<Op>,
    pub value: Spanned<f64>,
    /// Early-warning value, on the safe side of `value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<Spanned<f64>>,
}

/// Which number of an estimate an indicator compares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Statistic {
    /// The point estimate, judged with its 95 % interval: an interval across the line is
    /// `cannot_rule_out`.
    #[default]
    Rate,
    /// The lower bound of the 95 % interval, compared as one number.
    CiLow,
    /// The upper bound of the 95 % interval, compared as one number.
    CiHigh,
}

impl Statistic {
    pub fn as_str(self) -> &'static str {
        match self {
            Statistic::Rate => "rate",
            Statistic::CiLow => "ci_low",
            Statistic::CiHigh => "ci_high",
        }
    }
}

/// Comparison operator: the threshold is crossed when `observed op value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "<")]
    Lt,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Ge => ">=",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Lt => "<",
        }
    }

    /// Whether `x op value` holds.
    pub fn holds(self, x: f64, value: f64) -> bool {
        match self {
            Op::Ge => x >= value,
            Op::Gt => x > value,
            Op::Le => x <= value,
            Op::Lt => x < value,
        }
    }

    /// True for `>=` and `>`: larger numbers are closer to crossing.
    pub fn upward(self) -> bool {
        matches!(self, Op::Ge | Op::Gt)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a threshold's indicators combine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// Crossed when any indicator is crossed.
    #[default]
    Any,
    /// Crossed only when every indicator is crossed.
    All,
}

/// Pre- or post-mitigation (Preparedness-style scorecards).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mitigation {
    Pre,
    Post,
}

impl Mitigation {
    pub fn as_str(self) -> &'static str {
        match self {
            Mitigation::Pre => "pre",
            Mitigation::Post => "post",
        }
    }
}

/// A stage of development or deployment that a policy gates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    ContinuedTraining,
    InternalUse,
    ApiDeployment,
    ToolAccess,
    OpenWeights,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::ContinuedTraining,
        Stage::InternalUse,
        Stage::ApiDeployment,
        Stage::ToolAccess,
        Stage::OpenWeights,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::ContinuedTraining => "continued-training",
            Stage::InternalUse => "internal-use",
            Stage::ApiDeployment => "api-deployment",
            Stage::ToolAccess => "tool-access",
            Stage::OpenWeights => "open-weights",
        }
    }

    /// External deployment (a scorecard's deploy rule applies); otherwise development.
    pub fn is_deployment(self) -> bool {
        matches!(
            self,
            Stage::ApiDeployment | Stage::ToolAccess | Stage::OpenWeights
        )
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[[safeguard]]`: a protective measure and the kind of evidence that shows it is in place.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Safeguard {
    pub id: Spanned<String>,
    pub description: String,
    pub evidence: EvidenceKind,
}

/// What shows a safeguard is met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    Attestation,
    EvalRun,
    Document,
}

impl EvidenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Attestation => "attestation",
            EvidenceKind::EvalRun => "eval_run",
            EvidenceKind::Document => "document",
        }
    }
}

/// `[[requirement]]`: what a stage needs while a threshold is treated as crossed (or always, for a
/// baseline requirement without `threshold`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<Spanned<String>>,
    pub stage: Spanned<Stage>,
    #[serde(default)]
    pub safeguards: Vec<Spanned<String>>,
    /// The stage is not permitted at all while the threshold is treated as crossed.
    #[serde(default)]
    pub halt: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// `[[trigger]]`: when a fresh assessment is due.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    pub kind: Spanned<TriggerKind>,
    pub value: Spanned<f64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// Re-assessment trigger kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerKind {
    /// Effective compute of this checkpoint over the last assessed one is at least `value`.
    EffectiveComputeRatio,
    /// At least `value` months since the last capability elicitation.
    MonthsSinceElicitation,
}

impl TriggerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::EffectiveComputeRatio => "effective-compute-ratio",
            TriggerKind::MonthsSinceElicitation => "months-since-elicitation",
        }
    }
}

/// `[signoff]`: who must sign a decision under this policy.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signoff {
    /// [`warden_core::Role`] names.
    pub roles: Vec<Spanned<String>>,
    /// Each role signed by a different person.
    #[serde(default = "yes")]
    pub distinct: bool,
    /// Roles that must also sign to override a halt. Empty (the default): a halted stage cannot
    /// be opened at all until a new assessment lifts the halt.
    #[serde(default)]
    pub override_roles: Vec<Spanned<String>>,
}

fn yes() -> bool {
    true
}

/// `[scorecard]`: Preparedness-style levels and the deploy / develop rule.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scorecard {
    /// Ordered from least to most severe.
    pub levels: Vec<Spanned<String>>,
    /// Deploy only if every post-mitigation level is at most this.
    pub deploy_max: Spanned<String>,
    /// Develop further only if every post-mitigation level is at most this.
    pub develop_max: Spanned<String>,
}

impl Scorecard {
    /// Index of `level` in `levels`.
    pub fn rank(&self, level: &str) -> Option<usize> {
        self.levels.iter().position(|l| l.get_ref() == level)
    }
}

impl Policy {
    pub fn category(&self, id: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.id.get_ref() == id)
    }

    pub fn threshold(&self, id: &str) -> Option<&Threshold> {
        self.thresholds.iter().find(|t| t.id.get_ref() == id)
    }

    pub fn safeguard(&self, id: &str) -> Option<&Safeguard> {
        self.safeguards.iter().find(|s| s.id.get_ref() == id)
    }

    /// The stages the policy declares, in declaration order.
    pub fn stages(&self) -> Vec<Stage> {
        self.policy.stages.iter().map(|s| *s.get_ref()).collect()
    }
}
