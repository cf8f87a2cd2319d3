//! Lint: parse a policy file and check it, reporting every problem as `file:line:column: message`.
//!
//! Syntax and shape errors (bad TOML, unknown keys, wrong types, unknown enum values) come from the
//! `toml` parser with its byte span. Semantic checks then use the spans kept on key fields:
//! duplicate ids; thresholds in unknown categories; unknown suites (shipped ones plus those the
//! policy declares in `user_suites`), metrics and suite/metric pairs that can never be measured;
//! values outside `[0, 1]` (percent written for a fraction), unreachable or always-crossed
//! thresholds; alert values not strictly on the safe side of the threshold; requirements naming
//! unknown thresholds, safeguards or undeclared stages; thresholds lacking a requirement for a
//! declared stage; cycles in `implies`; unknown or repeated sign-off roles; scorecard levels and
//! pre/post mitigation; changelog without the current version; trigger values that always fire.
//! Lint never panics and reports all problems it finds, not just the first.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use toml::Spanned;
use warden_core::Role;

use crate::metrics::{Metric, known_suites, never_measured};
use crate::policy::{Mitigation, Op, Policy, Stage, TriggerKind};

/// One problem in a policy file, at a 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Parse and check a policy file's text; `file_name` is only used in messages.
pub fn lint(file_name: &str, text: &str) -> Result<Policy, Vec<Diagnostic>> {
    let mut lint = Linter {
        file: file_name,
        text,
        diagnostics: Vec::new(),
    };
    let policy = match toml::from_str::<Policy>(text) {
        Ok(policy) => policy,
        Err(err) => {
            let at = err.span().map_or(0, |s| s.start);
            lint.push(at, err.message().trim_end().to_owned());
            return Err(lint.diagnostics);
        }
    };
    lint.check(&policy);
    if lint.diagnostics.is_empty() {
        Ok(policy)
    } else {
        lint.diagnostics
            .sort_by_key(|d| (d.line, d.column, d.message.clone()));
        lint.diagnostics.dedup();
        Err(lint.diagnostics)
    }
}

/// The closest of `candidates` to `word`, if close enough to be a likely typo.
pub(crate) fn suggest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(previous + 1).min(row[j] + 1);
        }
    }
    row[b.len()]
}

fn list<'a>(keys: impl Iterator<Item = &'a String>) -> String {
    keys.map(String::as_str).collect::<Vec<_>>().join(", ")
}

fn did_you_mean<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    suggest(word, candidates)
        .map(|c| format!("did you mean `{c}`? "))
        .unwrap_or_default()
}

struct Linter<'a> {
    file: &'a str,
    text: &'a str,
    diagnostics: Vec<Diagnostic>,
}

impl Linter<'_> {
    fn push(&mut self, offset: usize, message: String) {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        self.diagnostics.push(Diagnostic {
            file: self.file.to_owned(),
            line,
            column,
            message,
        });
    }

    fn at<T>(&mut self, spanned: &Spanned<T>, message: String) {
        self.push(spanned.span().start, message);
    }

    fn check(&mut self, policy: &Policy) {
        self.check_header(policy);
        let categories = self.unique_ids("category", policy.categories.iter().map(|c| &c.id));
        let thresholds = self.unique_ids("threshold", policy.thresholds.iter().map(|t| &t.id));
        let safeguards = self.unique_ids("safeguard", policy.safeguards.iter().map(|s| &s.id));
        for category in &policy.categories {
            if category.threat_model.trim().is_empty() {
                self.at(
                    &category.id,
                    format!(
                        "category `{}` has an empty threat_model",
                        category.id.get_ref()
                    ),
                );
            }
        }
        self.check_thresholds(policy, &categories);
        self.check_implies(policy, &thresholds);
        self.check_requirements(policy, &thresholds, &safeguards);
        self.check_triggers(policy);
        self.check_signoff(policy);
        self.check_scorecard(policy);
    }

    fn check_header(&mut self, policy: &Policy) {
        let info = &policy.policy;
        if info.id.get_ref().trim().is_empty() {
            self.at(&info.id, "policy id is empty".into());
        }
        if info.version.get_ref().trim().is_empty() {
            self.at(&info.version, "policy version is empty".into());
        }
        for entry in &info.changelog {
            if entry.date.get_ref().parse::<jiff::civil::Date>().is_err() {
                self.at(
                    &entry.date,
                    format!(
                        "changelog date `{}` is not a date (write YYYY-MM-DD)",
                        entry.date.get_ref()
                    ),
                );
            }
        }
        if !info
            .changelog
            .iter()
            .any(|e| e.version.get_ref() == info.version.get_ref())
        {
            self.at(
                &info.version,
                format!(
                    "the changelog has no entry for the current version `{}`",
                    info.version.get_ref()
                ),
            );
        }
        if info.stages.is_empty() {
            self.at(
                &info.id,
                format!(
                    "the policy declares no stages; declare some of: {}",
                    Stage::ALL.map(Stage::as_str).join(", ")
                ),
            );
        }
        let mut seen = BTreeSet::new();
        for stage in &info.stages {
            if !seen.insert(*stage.get_ref()) {
                self.at(
                    stage,
                    format!("stage `{}` is declared twice", stage.get_ref()),
                );
            }
        }
        let shipped = known_suites();
        for suite in &info.user_suites {
            if shipped.iter().any(|s| s == suite.get_ref()) {
                self.at(
                    suite,
                    format!(
                        "user suite `{}` is a shipped suite; list only suites you add",
                        suite.get_ref()
                    ),
                );
            }
        }
    }

    /// Ids in declaration order, reporting duplicates; returns id → span start.
    fn unique_ids<'p>(
        &mut self,
        what: &str,
        ids: impl Iterator<Item = &'p Spanned<String>>,
    ) -> BTreeMap<String, usize> {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for id in ids {
            if id.get_ref().trim().is_empty() {
                self.at(id, format!("{what} id is empty"));
            } else if let Some(first) = seen.get(id.get_ref()) {
                let first_line = self
                    .text
                    .get(..*first)
                    .map_or(0, |s| s.matches('\n').count())
                    + 1;
                self.at(
                    id,
                    format!(
                        "duplicate {what} id `{}` (first defined on line {first_line})",
                        id.get_ref()
                    ),
                );
            } else {
                seen.insert(id.get_ref().clone(), id.span().start);
            }
        }
        seen
    }

    fn check_thresholds(&mut self, policy: &Policy, categories: &BTreeMap<String, usize>) {
        let mut suites = known_suites();
        suites.extend(
            policy
                .policy
                .user_suites
                .iter()
                .map(|s| s.get_ref().clone()),
        );
        let shipped = known_suites();
        for threshold in &policy.thresholds {
            let id = threshold.id.get_ref();
            if !categories.contains_key(threshold.category.get_ref()) {
                let hint = did_you_mean(
                    threshold.category.get_ref(),
                    categories.keys().map(String::as_str),
                );
                self.at(
                    &threshold.category,
                    format!(
                        "threshold `{id}`: unknown category `{}`; {hint}known: {}",
                        threshold.category.get_ref(),
                        categories.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                );
            }
            if threshold.indicators.is_empty() {
                self.at(
                    &threshold.id,
                    format!("threshold `{id}` has no indicators, so it can never be assessed"),
                );
            }
            for (n, indicator) in threshold.indicators.iter().enumerate() {
                let label = format!("threshold `{id}` indicator {}", n + 1);
                let suite = indicator.suite.get_ref();
                if !suites.iter().any(|s| s == suite) {
                    let hint = did_you_mean(suite, suites.iter().map(String::as_str));
                    self.at(
                        &indicator.suite,
                        format!(
                            "{label}: unknown suite `{suite}`; {hint}known: {} (declare others in [policy] user_suites)",
                            suites.join(", ")
                        ),
                    );
                }
                match indicator.metric.get_ref().parse::<Metric>() {
                    Err(message) => self.at(&indicator.metric, format!("{label}: {message}")),
                    Ok(metric) => {
                        if shipped.iter().any(|s| s == suite)
                            && let Some(why) = never_measured(suite, &metric)
                        {
                            self.at(&indicator.metric, format!("{label}: {why}"));
                        }
                    }
                }
                self.check_value(&label, *indicator.op.get_ref(), &indicator.value);
                if let Some(alert) = &indicator.alert {
                    self.check_alert(
                        &label,
                        *indicator.op.get_ref(),
                        *indicator.value.get_ref(),
                        alert,
                    );
                }
            }
        }
    }

    fn check_value(&mut self, label: &str, op: Op, value: &Spanned<f64>) {
        let v = *value.get_ref();
        if !(0.0..=1.0).contains(&v) {
            let hint = if v > 1.0 && v <= 100.0 {
                format!(" (write {} for {v} %)", v / 100.0)
            } else {
                String::new()
            };
            self.at(
                value,
                format!(
                    "{label}: value {v} is outside [0, 1], so the threshold is unreachable or always crossed: rates are fractions{hint}"
                ),
            );
            return;
        }
        let message = match op {
            Op::Gt if v >= 1.0 => Some("no rate is > 1, so it can never be crossed"),
            Op::Lt if v <= 0.0 => Some("no rate is < 0, so it can never be crossed"),
            Op::Ge if v <= 0.0 => Some("every rate is >= 0, so it is crossed by any result"),
            Op::Le if v >= 1.0 => Some("every rate is <= 1, so it is crossed by any result"),
            _ => None,
        };
        if let Some(message) = message {
            self.at(value, format!("{label}: `{} {v}`: {message}", op.as_str()));
        }
    }

    fn check_alert(&mut self, label: &str, op: Op, value: f64, alert: &Spanned<f64>) {
        let a = *alert.get_ref();
        if !(0.0..=1.0).contains(&a) {
            self.at(
                alert,
                format!("{label}: alert {a} is outside [0, 1]: rates are fractions"),
            );
            return;
        }
        let before = if op.upward() { a < value } else { a > value };
        if !before {
            let side = if op.upward() { "below" } else { "above" };
            self.at(
                alert,
                format!(
                    "{label}: alert {a} must come before crossing: for `{} {value}` it must be {side} {value}",
                    op.as_str()
                ),
            );
        }
    }

    fn check_implies(&mut self, policy: &Policy, thresholds: &BTreeMap<String, usize>) {
        let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for threshold in &policy.thresholds {
            let id = threshold.id.get_ref();
            for target in &threshold.implies {
                if target.get_ref() == id {
                    self.at(target, format!("threshold `{id}` implies itself"));
                } else if !thresholds.contains_key(target.get_ref()) {
                    let hint =
                        did_you_mean(target.get_ref(), thresholds.keys().map(String::as_str));
                    self.at(
                        target,
                        format!(
                            "threshold `{id}` implies unknown threshold `{}`; {hint}known: {}",
                            target.get_ref(),
                            list(thresholds.keys())
                        ),
                    );
                } else {
                    edges.entry(id).or_default().push(target.get_ref());
                }
            }
        }
        // Depth-first search; a grey node reached again closes a cycle.
        let mut colour: HashMap<&str, u8> = HashMap::new();
        let mut reported: BTreeSet<Vec<&str>> = BTreeSet::new();
        for start in edges.keys().copied() {
            let mut path: Vec<&str> = Vec::new();
            let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
            while let Some((node, next)) = stack.pop() {
                if next == 0 {
                    if colour.get(node) == Some(&2) {
                        continue;
                    }
                    colour.insert(node, 1);
                    path.push(node);
                }
                let children = edges.get(node).map_or(&[][..], Vec::as_slice);
                if let Some(child) = children.get(next).copied() {
                    stack.push((node, next + 1));
                    match colour.get(child) {
                        Some(1) => {
                            let from = path.iter().position(|p| *p == child).unwrap_or(0);
                            let mut cycle: Vec<&str> = path[from..].to_vec();
                            cycle.push(child);
                            let mut key = cycle[..cycle.len() - 1].to_vec();
                            key.sort_unstable();
                            if reported.insert(key)
                                && let Some(t) = policy.threshold(child)
                            {
                                self.at(
                                    &t.id,
                                    format!("cycle in `implies`: {}", cycle.join(" → ")),
                                );
                            }
                        }
                        Some(2) => {}
                        _ => stack.push((child, 0)),
                    }
                } else {
                    colour.insert(node, 2);
                    path.pop();
                }
            }
        }
    }

    fn check_requirements(
        &mut self,
        policy: &Policy,
        thresholds: &BTreeMap<String, usize>,
        safeguards: &BTreeMap<String, usize>,
    ) {
        let declared: Vec<Stage> = policy.stages();
        let mut covered: BTreeMap<(&str, Stage), usize> = BTreeMap::new();
        for requirement in &policy.requirements {
            let stage = *requirement.stage.get_ref();
            if !declared.contains(&stage) {
                self.at(
                    &requirement.stage,
                    format!(
                        "requirement for stage `{stage}`, which [policy] stages does not declare ({})",
                        declared.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
            if let Some(threshold) = &requirement.threshold {
                let id = threshold.get_ref();
                if !thresholds.contains_key(id) {
                    let hint = did_you_mean(id, thresholds.keys().map(String::as_str));
                    self.at(
                        threshold,
                        format!(
                            "requirement names unknown threshold `{id}`; {hint}known: {}",
                            list(thresholds.keys())
                        ),
                    );
                } else if let Some(first) =
                    covered.insert((id.as_str(), stage), threshold.span().start)
                {
                    let first_line = self
                        .text
                        .get(..first)
                        .map_or(0, |s| s.matches('\n').count())
                        + 1;
                    self.at(
                        threshold,
                        format!(
                            "second requirement for threshold `{id}` at stage `{stage}` (first on line {first_line}); merge them"
                        ),
                    );
                }
            }
            for safeguard in &requirement.safeguards {
                if !safeguards.contains_key(safeguard.get_ref()) {
                    let hint =
                        did_you_mean(safeguard.get_ref(), safeguards.keys().map(String::as_str));
                    self.at(
                        safeguard,
                        format!(
                            "requirement names unknown safeguard `{}`; {hint}known: {}",
                            safeguard.get_ref(),
                            list(safeguards.keys())
                        ),
                    );
                }
            }
        }
        for threshold in &policy.thresholds {
            let id = threshold.id.get_ref();
            let missing: Vec<&str> = declared
                .iter()
                .filter(|s| !covered.contains_key(&(id.as_str(), **s)))
                .map(|s| s.as_str())
                .collect();
            if !missing.is_empty() {
                self.at(
                    &threshold.id,
                    format!(
                        "threshold `{id}` has no requirement for stage(s) {}; add a [[requirement]] for each (safeguards = [] if none are needed, or halt = true)",
                        missing.join(", ")
                    ),
                );
            }
        }
    }

    fn check_triggers(&mut self, policy: &Policy) {
        let mut seen = BTreeSet::new();
        for trigger in &policy.triggers {
            let kind = *trigger.kind.get_ref();
            if !seen.insert(kind.as_str()) {
                self.at(
                    &trigger.kind,
                    format!("trigger `{}` is given twice", kind.as_str()),
                );
            }
            let v = *trigger.value.get_ref();
            match kind {
                TriggerKind::EffectiveComputeRatio if v <= 1.0 => self.at(
                    &trigger.value,
                    format!("effective-compute-ratio {v} must be > 1 (a ratio to the last assessed checkpoint; 4 means 4×)"),
                ),
                TriggerKind::MonthsSinceElicitation if v <= 0.0 => self.at(
                    &trigger.value,
                    format!("months-since-elicitation {v} must be > 0"),
                ),
                _ => {}
            }
        }
    }

    fn check_signoff(&mut self, policy: &Policy) {
        let signoff = &policy.signoff;
        if signoff.roles.is_empty() {
            self.push(
                0,
                "[signoff] roles is empty: name at least one role that must sign decisions".into(),
            );
        }
        for role in &signoff.override_roles {
            if role.get_ref().parse::<Role>().is_err() {
                let hint = did_you_mean(role.get_ref(), Role::ALL.iter().map(|r| r.as_str()));
                self.at(
                    role,
                    format!(
                        "override: unknown role `{}`; {hint}known: {}",
                        role.get_ref(),
                        Role::ALL.map(Role::as_str).join(", ")
                    ),
                );
            }
        }
        let mut seen = BTreeSet::new();
        for role in &signoff.roles {
            if role.get_ref().parse::<Role>().is_err() {
                let hint = did_you_mean(role.get_ref(), Role::ALL.iter().map(|r| r.as_str()));
                self.at(
                    role,
                    format!(
                        "sign-off: unknown role `{}`; {hint}known: {}",
                        role.get_ref(),
                        Role::ALL.map(Role::as_str).join(", ")
                    ),
                );
            } else if !seen.insert(role.get_ref()) && signoff.distinct {
                self.at(
                    role,
                    format!(
                        "sign-off role `{}` is listed twice while distinct = true",
                        role.get_ref()
                    ),
                );
            }
        }
    }

    fn check_scorecard(&mut self, policy: &Policy) {
        let Some(scorecard) = &policy.scorecard else {
            for threshold in &policy.thresholds {
                if let Some(mitigation) = &threshold.mitigation {
                    self.at(
                        mitigation,
                        format!(
                            "threshold `{}`: mitigation is only meaningful with a [scorecard]",
                            threshold.id.get_ref()
                        ),
                    );
                }
            }
            return;
        };
        let levels: Vec<&str> = scorecard
            .levels
            .iter()
            .map(|l| l.get_ref().as_str())
            .collect();
        if levels.len() < 2 {
            self.push(0, "[scorecard] needs at least two levels".into());
        }
        let mut seen = BTreeSet::new();
        for level in &scorecard.levels {
            if !seen.insert(level.get_ref()) {
                self.at(
                    level,
                    format!("scorecard level `{}` is listed twice", level.get_ref()),
                );
            }
        }
        for (key, value) in [
            ("deploy_max", &scorecard.deploy_max),
            ("develop_max", &scorecard.develop_max),
        ] {
            if scorecard.rank(value.get_ref()).is_none() {
                let hint = did_you_mean(value.get_ref(), levels.iter().copied());
                self.at(
                    value,
                    format!(
                        "{key} `{}` is not a scorecard level; {hint}levels: {}",
                        value.get_ref(),
                        levels.join(", ")
                    ),
                );
            }
        }
        if let (Some(deploy), Some(develop)) = (
            scorecard.rank(scorecard.deploy_max.get_ref()),
            scorecard.rank(scorecard.develop_max.get_ref()),
        ) && deploy > develop
        {
            self.at(
                &scorecard.deploy_max,
                "deploy_max is above develop_max: a model that may not be developed further could be deployed".into(),
            );
        }
        let mut present: BTreeMap<&str, BTreeSet<Mitigation>> = BTreeMap::new();
        for threshold in &policy.thresholds {
            let id = threshold.id.get_ref();
            if scorecard.rank(threshold.tier.get_ref()).is_none() {
                let hint = did_you_mean(threshold.tier.get_ref(), levels.iter().copied());
                self.at(
                    &threshold.tier,
                    format!(
                        "threshold `{id}`: tier `{}` is not a scorecard level; {hint}levels: {}",
                        threshold.tier.get_ref(),
                        levels.join(", ")
                    ),
                );
            }
            match &threshold.mitigation {
                None => self.at(
                    &threshold.id,
                    format!("threshold `{id}` needs mitigation = \"pre\" or \"post\" in a scorecard policy"),
                ),
                Some(m) => {
                    present
                        .entry(threshold.category.get_ref())
                        .or_default()
                        .insert(*m.get_ref());
                }
            }
        }
        for category in &policy.categories {
            let have = present.get(category.id.get_ref().as_str());
            let Some(have) = have else { continue };
            for m in [Mitigation::Pre, Mitigation::Post] {
                if !have.contains(&m) {
                    self.at(
                        &category.id,
                        format!(
                            "category `{}` has no {}-mitigation thresholds, so its {}-mitigation level cannot be scored",
                            category.id.get_ref(),
                            m.as_str(),
                            m.as_str()
                        ),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{BASE, base_with};

    /// `text` fails lint with a diagnostic on `line` whose message contains `fragment`.
    fn check(text: &str, line: usize, fragment: &str) {
        let diagnostics = match lint("policies/x.toml", text) {
            Ok(_) => panic!("expected a diagnostic containing {fragment:?} on line {line}"),
            Err(d) => d,
        };
        let rendered: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
        assert!(
            diagnostics
                .iter()
                .any(|d| d.line == line && d.message.contains(fragment)),
            "wanted line {line} with {fragment:?}, got:\n{}",
            rendered.join("\n")
        );
        assert!(rendered.iter().all(|r| r.starts_with("policies/x.toml:")));
    }

    const INDICATOR: &str = r#"{ suite = "xstest", metric = "harmful_compliance", op = ">=", value = 0.2, alert = 0.1 }"#;

    fn indicator(replacement: &str) -> String {
        base_with(INDICATOR, replacement)
    }

    #[test]
    fn the_base_fixture_is_clean() {
        assert!(lint("x.toml", BASE).is_ok());
    }

    #[test]
    fn broken_policies_are_named_by_line() {
        let cases: Vec<(String, usize, &str)> = vec![
            // TOML and shape errors, from the parser's span.
            (base_with("threshold = \"cyber-3\"", "thrshold = \"cyber-3\""), 29, "unknown field `thrshold`"),
            (base_with("[[threshold]]", "[[treshold]]"), 14, "unknown field `treshold`"),
            (base_with("tier = \"ASL-3\"", "tier = ASL-3"), 17, ""),
            (base_with("stage = \"api-deployment\"", "stage = \"api-deploy\""), 30, "unknown variant `api-deploy`"),
            (indicator(r#"{ suite = "xstest", metric = "harmful_compliance", statistic = "median", op = ">=", value = 0.2 }"#), 20, "unknown variant `median`"),
            (indicator(r#"{ suite = "xstest", metric = "harmful_compliance", op = "=>", value = 0.2 }"#), 20, "unknown variant `=>`"),
            (indicator(r#"{ suite = "xstest", metric = "harmful_compliance", op = ">=", value = "95%" }"#), 20, "invalid type"),
            (base_with("evidence = \"attestation\"", "evidence = \"email\""), 26, "unknown variant `email`"),
            // Unknown names.
            (indicator(r#"{ suite = "xstest", metric = "harmfull_compliance", op = ">=", value = 0.2 }"#), 20, "unknown metric `harmfull_compliance`; did you mean `harmful_compliance`?"),
            (indicator(r#"{ suite = "xstset", metric = "harmful_compliance", op = ">=", value = 0.2 }"#), 20, "unknown suite `xstset`; did you mean `xstest`?"),
            (indicator(r#"{ suite = "xstest", metric = "attack:base65", op = ">=", value = 0.2 }"#), 20, "unknown attack transform `base65`"),
            (indicator(r#"{ suite = "xstest", metric = "risk:A.9.1", op = ">=", value = 0.2 }"#), 20, "unknown risk `A.9.1`"),
            (indicator(r#"{ suite = "dna-mc", metric = "harmful_compliance", op = ">=", value = 0.2 }"#), 20, "multiple-choice only"),
            (indicator(r#"{ suite = "xstest", metric = "compliance:should_refuse_refusal", op = "<", value = 0.95 }"#), 20, "only measured by the `gbt45654-refusal` suite"),
            (base_with("category = \"cyber\"", "category = \"cybr\""), 16, "unknown category `cybr`; did you mean `cyber`?"),
            (base_with("safeguards = [\"classifiers\"]", "safeguards = [\"clasifiers\"]"), 31, "unknown safeguard `clasifiers`"),
            (base_with("threshold = \"cyber-3\"", "threshold = \"cyber-4\""), 29, "unknown threshold `cyber-4`"),
            (base_with("roles = [\"safety-officer\"]", "roles = [\"safety-oficer\"]"), 34, "unknown role `safety-oficer`"),
            (base_with("roles = [\"safety-officer\"]", "roles = [\"reviewer\", \"reviewer\"]"), 34, "listed twice while distinct = true"),
            // Units and reachability.
            (indicator(r#"{ suite = "xstest", metric = "harmful_compliance", op = ">=", value = 95 }"#), 20, "outside [0, 1]"),
            (indicator(r#"{ suite = "xstest", metric = "harmful_compliance", op = ">=", value = 95 }"#), 20, "write 0.95 for 95 %"),
            (indicator(r#"{ suite = "xstest", metric = "harmful_compliance", op = ">=", value = -0.1 }"#), 20, "outside [0, 1]"),
            (indicator(r#"{ suite = "xstest", metric = "harmful_compliance", op = ">", value = 1.0 }"#), 20, "can never be crossed"),
            (indicator(r#"{ suite = "xstest", metric = "overall", op = "<", value = 0 }"#), 20, "can never be crossed"),
            (indicator(r#"{ suite = "xstest", metric = "overall", op = "<=", value = 1 }"#), 20, "crossed by any result"),
            (indicator(r#"{ suite = "xstest", metric = "harmful_compliance", op = ">=", value = 0.2, alert = 0.3 }"#), 20, "alert 0.3 must come before crossing"),
            (indicator(r#"{ suite = "xstest", metric = "harmful_compliance", op = ">=", value = 0.2, alert = 0.2 }"#), 20, "must be below 0.2"),
            (indicator(r#"{ suite = "xstest", metric = "overall", op = "<", value = 0.8, alert = 0.7 }"#), 20, "must be above 0.8"),
            (base_with("indicators = [\n  ", "indicators = [\n]\nx = [\n  "), 21, "unknown field `x`"),
            // Stages and requirements.
            (base_with("stages = [\"api-deployment\"]", "stages = [\"api-deployment\", \"open-weights\"]"), 15, "no requirement for stage(s) open-weights"),
            (base_with("stage = \"api-deployment\"", "stage = \"open-weights\""), 30, "which [policy] stages does not declare"),
            (base_with("stages = [\"api-deployment\"]", "stages = []"), 2, "declares no stages"),
            (base_with("[signoff]", "[[requirement]]\nthreshold = \"cyber-3\"\nstage = \"api-deployment\"\n\n[signoff]"), 34, "second requirement for threshold `cyber-3`"),
            // Ids, versions, triggers, implies.
            (base_with("[[threshold]]", "[[category]]\nid = \"cyber\"\nname = \"x\"\nthreat_model = \"y\"\n\n[[threshold]]"), 15, "duplicate category id `cyber` (first defined on line 10)"),
            (base_with("version = \"1.0\"", "version = \"1.1\""), 4, "no entry for the current version `1.1`"),
            (base_with("2026-01-01", "2026-13-01"), 7, "not a date"),
            (base_with("[signoff]", "[[trigger]]\nkind = \"effective-compute-ratio\"\nvalue = 1\n\n[signoff]"), 35, "must be > 1"),
            (base_with("[signoff]", "[[trigger]]\nkind = \"flops\"\nvalue = 4\n\n[signoff]"), 34, "unknown variant `flops`"),
            (base_with("]\n\n[[safeguard]]", "]\nimplies = [\"cyber-3\"]\n\n[[safeguard]]"), 22, "implies itself"),
            (base_with("]\n\n[[safeguard]]", "]\nimplies = [\"cyber-9\"]\n\n[[safeguard]]"), 22, "implies unknown threshold `cyber-9`"),
            (
                base_with(
                    "]\n\n[[safeguard]]",
                    "]\nimplies = [\"cyber-4\"]\n\n[[threshold]]\nid = \"cyber-4\"\ncategory = \"cyber\"\ntier = \"ASL-4\"\ndescription = \"d\"\nimplies = [\"cyber-3\"]\nindicators = [{ suite = \"xstest\", metric = \"overall\", op = \"<\", value = 0.5 }]\n\n[[safeguard]]",
                ),
                15,
                "cycle in `implies`: cyber-3 → cyber-4 → cyber-3",
            ),
            // Scorecard shape.
            (base_with("tier = \"ASL-3\"\n", "tier = \"ASL-3\"\nmitigation = \"pre\"\n"), 18, "only meaningful with a [scorecard]"),
            (
                base_with("[signoff]", "[scorecard]\nlevels = [\"low\", \"medium\", \"high\"]\ndeploy_max = \"medum\"\ndevelop_max = \"high\"\n\n[signoff]"),
                17,
                "tier `ASL-3` is not a scorecard level",
            ),
            (
                base_with("[signoff]", "[scorecard]\nlevels = [\"low\", \"medium\", \"high\"]\ndeploy_max = \"medum\"\ndevelop_max = \"high\"\n\n[signoff]"),
                35,
                "deploy_max `medum` is not a scorecard level; did you mean `medium`?",
            ),
            (
                base_with("tier = \"ASL-3\"\n", "tier = \"high\"\nmitigation = \"pre\"\n")
                    .replace("[signoff]", "[scorecard]\nlevels = [\"low\", \"medium\", \"high\"]\ndeploy_max = \"medium\"\ndevelop_max = \"high\"\n\n[signoff]"),
                10,
                "category `cyber` has no post-mitigation thresholds",
            ),
            // User suites: declared ones are allowed, typos of them still caught.
            (
                base_with("stages =", "user_suites = [\"autonomy-tasks\"]\nstages =")
                    .replace("suite = \"xstest\"", "suite = \"autonomy-task\""),
                21,
                "unknown suite `autonomy-task`; did you mean `autonomy-tasks`?",
            ),
        ];
        for (text, line, fragment) in &cases {
            check(text, *line, fragment);
        }
    }

    #[test]
    fn declared_user_suites_lint_clean() {
        let text = base_with("stages =", "user_suites = [\"autonomy-tasks\"]\nstages =")
            .replace("suite = \"xstest\"", "suite = \"autonomy-tasks\"");
        assert!(lint("x.toml", &text).is_ok());
    }

    #[test]
    fn every_problem_is_reported_not_just_the_first() {
        let text = base_with("category = \"cyber\"", "category = \"cybr\"")
            .replace("safeguards = [\"classifiers\"]", "safeguards = [\"nope\"]");
        let diagnostics = lint("x.toml", &text).unwrap_err();
        assert!(diagnostics.len() >= 2, "{diagnostics:?}");
        assert_eq!(diagnostics[0].to_string().split(':').next(), Some("x.toml"));
        assert!(diagnostics[0].line <= diagnostics[1].line);
    }

    #[test]
    fn columns_count_characters() {
        let text = base_with("name = \"Cyber\"", "name = \"网络\"")
            .replace("category = \"cyber\"", "category = \"cybr\"");
        let d = lint("x.toml", &text).unwrap_err();
        let cat = d.iter().find(|d| d.message.contains("cybr")).unwrap();
        assert_eq!((cat.line, cat.column), (16, 12));
    }
}
