//! What to do about a finding: per-category actions, and findings and verdicts as records.
//!
//! A category is an Appendix A risk id (`A.1.6`), a lexicon tier (`tier.block`, `tier.flag`) or a
//! PII kind (`pii.cn_mobile`). A lexicon hit takes the strictest action among its risks' and its
//! tier's; a policy can only be tightened by a request ([`Policy::tighten`]), never loosened.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::lexicon::Tier;
use crate::pii::PiiKind;

/// An action, from the mildest to the strictest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Allow,
    Flag,
    Redact,
    Block,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Flag => "flag",
            Action::Redact => "redact",
            Action::Block => "block",
        }
    }
}

impl std::str::FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "allow" => Ok(Action::Allow),
            "flag" => Ok(Action::Flag),
            "redact" => Ok(Action::Redact),
            "block" => Ok(Action::Block),
            other => Err(format!(
                "`{other}` is not an action: use block, redact, flag or allow"
            )),
        }
    }
}

/// The action for each category.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Category → action; categories not listed take the defaults below.
    pub actions: BTreeMap<String, Action>,
}

impl Default for Policy {
    /// Block-tier terms block, flag-tier terms flag, identity numbers, bank cards and SSNs are
    /// redacted, phone numbers and e-mail addresses flagged; a trained classifier's positives
    /// are flagged (a reviewer's signal until its measured error rates say it may block).
    fn default() -> Self {
        let mut actions = BTreeMap::new();
        actions.insert("classifier".to_owned(), Action::Flag);
        actions.insert("tier.block".to_owned(), Action::Block);
        actions.insert("tier.flag".to_owned(), Action::Flag);
        for kind in PiiKind::ALL {
            let action = match kind {
                PiiKind::CnResidentId | PiiKind::BankCard | PiiKind::UsSsn => Action::Redact,
                PiiKind::CnMobile | PiiKind::Email | PiiKind::UsPhone => Action::Flag,
            };
            actions.insert(kind.category().to_owned(), action);
        }
        Self { actions }
    }
}

impl Policy {
    /// The action for a category (allow when nothing is set).
    pub fn action(&self, category: &str) -> Action {
        self.actions.get(category).copied().unwrap_or(Action::Allow)
    }

    /// The action for a lexicon hit: the strictest of its tier's and its risks'.
    pub fn lexicon_action(&self, tier: Tier, risks: &[warden_core::risk::RiskId]) -> Action {
        let tier_action = self.action(match tier {
            Tier::Block => "tier.block",
            Tier::Flag => "tier.flag",
        });
        risks
            .iter()
            .filter_map(|r| self.actions.get(r.as_str()).copied())
            .fold(tier_action, Action::max)
    }

    /// Raise each named category to at least `action`; a looser request is ignored.
    pub fn tighten<'a>(&mut self, categories: impl IntoIterator<Item = &'a str>, action: Action) {
        for category in categories {
            let current = self.action(category);
            self.actions
                .insert(category.to_owned(), current.max(action));
        }
    }
}

/// One finding of one filter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// `lexicon` or `pii`.
    pub filter: String,
    /// The category that set the action (a risk id, a tier or a PII kind).
    pub category: String,
    /// Every risk the finding maps to (lexicon hits).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<String>,
    pub action: Action,
    /// Byte range in the text checked.
    pub start: usize,
    pub end: usize,
}

/// A filter's verdict on one text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The strictest action among the findings (`allow` when there are none).
    pub action: Action,
    pub findings: Vec<Finding>,
}

impl Verdict {
    pub fn from_findings(findings: Vec<Finding>) -> Self {
        let action = findings
            .iter()
            .map(|f| f.action)
            .max()
            .unwrap_or(Action::Allow);
        Self { action, findings }
    }

    /// The categories found, each once, strictest finding first.
    pub fn categories(&self) -> Vec<String> {
        let mut categories: Vec<(Action, String)> = self
            .findings
            .iter()
            .map(|f| (f.action, f.category.clone()))
            .collect();
        categories.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut seen = Vec::new();
        for (_, category) in categories {
            if !seen.contains(&category) {
                seen.push(category);
            }
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_core::risk::RiskId;

    #[test]
    fn a_hit_takes_the_strictest_of_tier_and_risk() {
        let mut policy = Policy::default();
        assert_eq!(
            policy.lexicon_action(Tier::Flag, &[RiskId::A_1_6]),
            Action::Flag
        );
        policy.actions.insert("A.1.6".to_owned(), Action::Block);
        assert_eq!(
            policy.lexicon_action(Tier::Flag, &[RiskId::A_1_6]),
            Action::Block
        );
        assert_eq!(
            policy.lexicon_action(Tier::Flag, &[RiskId::A_1_1]),
            Action::Flag
        );
    }

    #[test]
    fn a_request_can_tighten_but_never_loosen() {
        let mut policy = Policy::default();
        policy.tighten(["pii.email", "tier.block"], Action::Flag);
        assert_eq!(policy.action("tier.block"), Action::Block);
        assert_eq!(policy.action("pii.email"), Action::Flag);
        policy.tighten(["pii.email"], Action::Block);
        assert_eq!(policy.action("pii.email"), Action::Block);
    }
}
