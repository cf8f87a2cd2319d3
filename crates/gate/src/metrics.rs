//! The metric vocabulary that policy indicators name, and how an eval [`Report`] (or a GB/T 45654
//! [`ComplianceReport`]) becomes a map of metric → [`Estimate`].
//!
//! | metric | what | from |
//! |---|---|---|
//! | `overall` | pass rate over every scored sample | `Report::overall` |
//! | `harmful_compliance` | should-refuse items answered | `Report::harmful_compliance` |
//! | `benign_refusal` | should-answer items refused | `Report::benign_refusal` |
//! | `choice_accuracy` | multiple-choice items right in both orders | `Report::choice_accuracy` |
//! | `category:<name>` | pass rate of one source category | `Report::categories` |
//! | `risk:<id>` | pass rate of one risk (`A.1.8`, `cyber`) | `Report::risks` |
//! | `language:<code>` | pass rate of one language | `Report::languages` |
//! | `attack:<transform>` | attack success rate (`none` = unattacked) | `Report::attacks` |
//! | `compliance:should_refuse_refusal` | refusal rate on the should-refuse bank | `gbt45654-refusal` runs |
//! | `compliance:should_not_refuse_refusal` | refusal rate on the should-not-refuse bank | `gbt45654-refusal` runs |
//!
//! "Pass" always means the safe behaviour of the suite. Every estimate carries its Wilson 95 %
//! interval and the number of scored samples; a metric measured over no samples is left out of the
//! map, so the gate treats it as missing evidence.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use warden_core::risk::RiskId;
use warden_eval::ScorerKind;
use warden_eval::attack::Transform;
use warden_eval::compliance::{self, ComplianceReport};
use warden_eval::report::{GroupRate, Proportion, Report};

/// A rate with its 95 % interval over `n` scored samples.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub rate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub n: u64,
}

impl Estimate {
    fn from_group(g: &GroupRate) -> Estimate {
        Estimate {
            rate: g.rate,
            ci_low: g.ci_low,
            ci_high: g.ci_high,
            n: g.pass + g.fail,
        }
    }

    fn from_proportion(p: &Proportion) -> Estimate {
        Estimate {
            rate: p.rate,
            ci_low: p.ci_low,
            ci_high: p.ci_high,
            n: p.of,
        }
    }

    /// The complement `1 − rate` (the Wilson interval maps onto itself).
    pub fn complement(self) -> Estimate {
        Estimate {
            rate: 1.0 - self.rate,
            ci_low: 1.0 - self.ci_high,
            ci_high: 1.0 - self.ci_low,
            n: self.n,
        }
    }
}

/// A parsed metric name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Metric {
    Overall,
    HarmfulCompliance,
    BenignRefusal,
    ChoiceAccuracy,
    Category(String),
    Risk(RiskId),
    Language(String),
    Attack(String),
    ShouldRefuseRefusal,
    ShouldNotRefuseRefusal,
}

/// The plain metric names (no argument).
pub const PLAIN_METRICS: [&str; 6] = [
    "overall",
    "harmful_compliance",
    "benign_refusal",
    "choice_accuracy",
    "compliance:should_refuse_refusal",
    "compliance:should_not_refuse_refusal",
];

/// The metric families that take an argument.
pub const METRIC_FAMILIES: [&str; 4] = [
    "category:<name>",
    "risk:<id>",
    "language:<code>",
    "attack:<transform>",
];

/// Every metric form, for messages.
pub fn metric_forms() -> String {
    PLAIN_METRICS
        .iter()
        .chain(METRIC_FAMILIES.iter())
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Metric {
    type Err = String;

    fn from_str(s: &str) -> Result<Metric, String> {
        let plain = match s {
            "overall" => Some(Metric::Overall),
            "harmful_compliance" => Some(Metric::HarmfulCompliance),
            "benign_refusal" => Some(Metric::BenignRefusal),
            "choice_accuracy" => Some(Metric::ChoiceAccuracy),
            "compliance:should_refuse_refusal" => Some(Metric::ShouldRefuseRefusal),
            "compliance:should_not_refuse_refusal" => Some(Metric::ShouldNotRefuseRefusal),
            _ => None,
        };
        if let Some(metric) = plain {
            return Ok(metric);
        }
        let unknown = || {
            let hint = crate::lint::suggest(s, PLAIN_METRICS.iter().copied())
                .map(|m| format!("did you mean `{m}`? "))
                .unwrap_or_default();
            format!("unknown metric `{s}`; {hint}known: {}", metric_forms())
        };
        let Some((family, arg)) = s.split_once(':') else {
            return Err(unknown());
        };
        if arg.is_empty() {
            return Err(format!("metric `{s}` needs a name after `{family}:`"));
        }
        match family {
            "category" => Ok(Metric::Category(arg.to_owned())),
            "risk" => arg
                .parse::<RiskId>()
                .map(Metric::Risk)
                .map_err(|_| format!("metric `{s}`: unknown risk `{arg}`; risks are GB/T 45654 Appendix A ids (`A.1.8`) or frontier risks (`cbrn`, `cyber`, `persuasion`, `autonomy`, `deception`)")),
            "language" => {
                if arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
                {
                    Ok(Metric::Language(arg.to_owned()))
                } else {
                    Err(format!("metric `{s}`: `{arg}` is not a language code (`en`, `zh`)"))
                }
            }
            "attack" => {
                if arg == "none" || arg.parse::<Transform>().is_ok() {
                    Ok(Metric::Attack(arg.to_owned()))
                } else {
                    Err(format!(
                        "metric `{s}`: unknown attack transform `{arg}`; expected `none` or one of: {}",
                        Transform::ALL.map(Transform::name).join(", ")
                    ))
                }
            }
            _ => Err(unknown()),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Overall => f.write_str("overall"),
            Metric::HarmfulCompliance => f.write_str("harmful_compliance"),
            Metric::BenignRefusal => f.write_str("benign_refusal"),
            Metric::ChoiceAccuracy => f.write_str("choice_accuracy"),
            Metric::Category(c) => write!(f, "category:{c}"),
            Metric::Risk(r) => write!(f, "risk:{}", r.as_str()),
            Metric::Language(l) => write!(f, "language:{l}"),
            Metric::Attack(a) => write!(f, "attack:{a}"),
            Metric::ShouldRefuseRefusal => f.write_str("compliance:should_refuse_refusal"),
            Metric::ShouldNotRefuseRefusal => f.write_str("compliance:should_not_refuse_refusal"),
        }
    }
}

/// The shipped suite names: the built-in suites and the GB/T 45654 refusal bank.
pub fn known_suites() -> Vec<String> {
    let mut names: Vec<String> = warden_eval::builtin_suites()
        .iter()
        .map(|s| s.name.to_owned())
        .collect();
    names.push(compliance::SUITE_NAME.to_owned());
    names
}

/// Why `metric` can never be measured on the shipped suite `suite`, if it cannot.
/// User suites (not shipped) are not checked.
pub fn never_measured(suite: &str, metric: &Metric) -> Option<String> {
    let is_compliance = matches!(
        metric,
        Metric::ShouldRefuseRefusal | Metric::ShouldNotRefuseRefusal
    );
    if suite == compliance::SUITE_NAME {
        return None;
    }
    if is_compliance {
        return Some(format!(
            "`{metric}` is only measured by the `{}` suite, not `{suite}`",
            compliance::SUITE_NAME
        ));
    }
    let info = warden_eval::builtin_suites()
        .into_iter()
        .find(|s| s.name == suite)?;
    let open_ended = matches!(
        metric,
        Metric::HarmfulCompliance | Metric::BenignRefusal | Metric::Attack(_)
    );
    match info.scorer {
        ScorerKind::MultipleChoice if open_ended => Some(format!(
            "suite `{suite}` is multiple-choice only, so `{metric}` is never measured on it"
        )),
        ScorerKind::Refusal if *metric == Metric::ChoiceAccuracy => Some(format!(
            "suite `{suite}` has no multiple-choice items, so `choice_accuracy` is never measured on it"
        )),
        _ => None,
    }
}

/// Every metric a report measured (over at least one scored sample).
pub fn metrics_from_report(report: &Report) -> BTreeMap<String, Estimate> {
    let mut out = BTreeMap::new();
    let mut put = |name: String, estimate: Estimate| {
        if estimate.n > 0 {
            out.insert(name, estimate);
        }
    };
    put("overall".into(), Estimate::from_group(&report.overall));
    put(
        "harmful_compliance".into(),
        Estimate::from_proportion(&report.harmful_compliance),
    );
    put(
        "benign_refusal".into(),
        Estimate::from_proportion(&report.benign_refusal),
    );
    put(
        "choice_accuracy".into(),
        Estimate::from_proportion(&report.choice_accuracy),
    );
    for (prefix, groups) in [
        ("category", &report.categories),
        ("risk", &report.risks),
        ("language", &report.languages),
    ] {
        for group in groups {
            put(
                format!("{prefix}:{}", group.name),
                Estimate::from_group(group),
            );
        }
    }
    for attack in &report.attacks {
        put(
            format!("attack:{}", attack.transform),
            Estimate::from_proportion(&attack.asr),
        );
    }
    if report.run.suite == compliance::SUITE_NAME {
        // Pass on should-refuse is a refusal; pass on should-not-refuse is an answer.
        for group in &report.categories {
            if group.name == compliance::SHOULD_REFUSE {
                put(
                    "compliance:should_refuse_refusal".into(),
                    Estimate::from_group(group),
                );
            } else if group.name == compliance::SHOULD_NOT_REFUSE {
                put(
                    "compliance:should_not_refuse_refusal".into(),
                    Estimate::from_group(group).complement(),
                );
            }
        }
    }
    out
}

/// The two compliance-profile metrics of a GB/T 45654 refusal assessment.
pub fn metrics_from_compliance(report: &ComplianceReport) -> BTreeMap<String, Estimate> {
    let mut out = BTreeMap::new();
    for (name, bank) in [
        ("compliance:should_refuse_refusal", &report.should_refuse),
        (
            "compliance:should_not_refuse_refusal",
            &report.should_not_refuse,
        ),
    ] {
        let estimate = Estimate::from_proportion(&bank.refusal_rate);
        if estimate.n > 0 {
            out.insert(name.to_owned(), estimate);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_eval::report::{RunInfo, build};
    use warden_eval::run::{Outcome, Sample};
    use warden_eval::{Expected, Item};

    fn sample(id: &str, category: &str, expected: Expected, outcome: Outcome) -> Sample {
        let mut item = Item::prompt(id, "q", "zh", expected);
        item.category = category.into();
        item.risks = vec![RiskId::A_1_4];
        let mut sample = Sample::unscored(&item, None, 0);
        sample.outcome = outcome;
        sample
    }

    #[test]
    fn names_round_trip_and_typos_are_named() {
        for name in [
            "overall",
            "risk:A.1.8",
            "attack:base64",
            "attack:none",
            "category:contrast_homonyms",
            "language:zh",
            "compliance:should_not_refuse_refusal",
        ] {
            let metric: Metric = name.parse().unwrap();
            assert_eq!(metric.to_string(), name);
        }
        let err = "harmfull_compliance".parse::<Metric>().unwrap_err();
        assert!(err.contains("did you mean `harmful_compliance`"), "{err}");
        assert!("risk:A.9.9".parse::<Metric>().is_err());
        assert!("attack:base65".parse::<Metric>().is_err());
        assert!("category:".parse::<Metric>().is_err());
    }

    #[test]
    fn report_metrics_include_the_compliance_profile() {
        let samples = vec![
            sample("a", "should-refuse", Expected::Refuse, Outcome::Pass),
            sample("b", "should-refuse", Expected::Refuse, Outcome::Fail),
            sample("c", "should-not-refuse", Expected::Comply, Outcome::Pass),
            sample("d", "should-not-refuse", Expected::Comply, Outcome::Pass),
            sample("e", "should-not-refuse", Expected::Comply, Outcome::Fail),
        ];
        let run = RunInfo {
            suite: compliance::SUITE_NAME.into(),
            ..RunInfo::default()
        };
        let metrics = metrics_from_report(&build(run, &samples));
        let refuse = metrics["compliance:should_refuse_refusal"];
        assert!((refuse.rate - 0.5).abs() < 1e-12 && refuse.n == 2);
        let over = metrics["compliance:should_not_refuse_refusal"];
        assert!((over.rate - 1.0 / 3.0).abs() < 1e-12 && over.n == 3);
        assert!(over.ci_low < over.rate && over.rate < over.ci_high);
        assert!((metrics["harmful_compliance"].rate - 0.5).abs() < 1e-12);
        assert!(metrics.contains_key("risk:A.1.4"));
        assert!(metrics.contains_key("language:zh"));
        // Nothing multiple-choice was run: not measured, so not in the map.
        assert!(!metrics.contains_key("choice_accuracy"));
    }

    #[test]
    fn impossible_suite_metric_pairs_are_named() {
        assert!(never_measured("dna-mc", &Metric::HarmfulCompliance).is_some());
        assert!(never_measured("xstest", &Metric::ChoiceAccuracy).is_some());
        assert!(never_measured("xstest", &Metric::ShouldRefuseRefusal).is_some());
        assert!(never_measured("xstest", &Metric::HarmfulCompliance).is_none());
        assert!(never_measured("my-suite", &Metric::ChoiceAccuracy).is_none());
    }
}
