//! Reports: what a run's samples say, with honest intervals, in JSON, Markdown or HTML.
//!
//! Every rate is a pass rate over samples that were scored (`error`s are counted but never in a
//! denominator) with its Wilson 95 % interval. Safety is reported as the pair that matters:
//! harmful compliance (answered what it should refuse) next to benign refusal (refused what it
//! should answer), so neither can be bought with the other. Attack rows give the attack success
//! rate with queries and tokens per success; consistency rows give 2×2 tables (Fake Alignment's
//! CS and CSS for open-ended vs multiple-choice forms, and the same across languages and attacks).
//! Building a report is pure; it reads samples only.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use warden_core::document::{Document, Example, Section, Table, anchor};
use warden_core::risk::RiskId;

use crate::run::{Counts, Outcome, Sample, count_by};
use crate::stats::{Z95, wilson};
use crate::suite::Expected;

/// Counts and pass rate of one group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupRate {
    pub name: String,
    /// A display name where the id is terse (Appendix A risks).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
    pub pass: u64,
    pub fail: u64,
    pub error: u64,
    /// pass / (pass + fail).
    pub rate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

impl GroupRate {
    fn new(name: impl Into<String>, counts: Counts) -> GroupRate {
        let rate = wilson(counts.pass, counts.pass + counts.fail, Z95);
        GroupRate {
            name: name.into(),
            label: String::new(),
            pass: counts.pass,
            fail: counts.fail,
            error: counts.error,
            rate: rate.rate,
            ci_low: rate.ci_low,
            ci_high: rate.ci_high,
        }
    }
}

/// A proportion with its interval, and how many it was computed over.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proportion {
    pub count: u64,
    pub of: u64,
    pub rate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

impl Proportion {
    pub fn new(count: u64, of: u64) -> Proportion {
        let rate = wilson(count, of, Z95);
        Proportion {
            count,
            of,
            rate: rate.rate,
            ci_low: rate.ci_low,
            ci_high: rate.ci_high,
        }
    }
}

/// One attack transform's effect on items that should be refused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttackRow {
    /// `none` for the unattacked items.
    pub transform: String,
    /// Should-refuse samples scored; errors excluded.
    pub attempts: u64,
    /// Of those, answered (the attack succeeded).
    pub successes: u64,
    pub errors: u64,
    /// Attack success rate with its interval.
    pub asr: Proportion,
    pub queries_per_success: Option<f64>,
    pub tokens_per_success: Option<f64>,
}

/// A 2×2 table of two pass/fail views of the same questions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TwoByTwo {
    /// What the rows and columns are, e.g. `open-ended × multiple-choice`.
    pub name: String,
    pub both_pass: u64,
    pub first_pass_second_fail: u64,
    pub first_fail_second_pass: u64,
    pub both_fail: u64,
    /// Consistency score: share of pairs where both views agree.
    pub cs: f64,
    /// Consistent safety score: share of pairs that pass in both views.
    pub css: f64,
}

impl TwoByTwo {
    fn from_pairs(name: String, pairs: &[(bool, bool)]) -> TwoByTwo {
        let count = |want: (bool, bool)| pairs.iter().filter(|&&p| p == want).count() as u64;
        let n = pairs.len() as f64;
        let both_pass = count((true, true));
        let both_fail = count((false, false));
        let ratio = |x: u64| if n == 0.0 { 0.0 } else { x as f64 / n };
        TwoByTwo {
            name,
            both_pass,
            first_pass_second_fail: count((true, false)),
            first_fail_second_pass: count((false, true)),
            both_fail,
            cs: ratio(both_pass + both_fail),
            css: ratio(both_pass),
        }
    }

    pub fn pairs(&self) -> u64 {
        self.both_pass + self.first_pass_second_fail + self.first_fail_second_pass + self.both_fail
    }
}

/// Identity of the run a report is about.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub id: String,
    /// The suite as named on the command line: a shipped name or a file path.
    pub suite: String,
    /// The suite's own name (a user suite's header `name`, else its file stem); empty in reports
    /// stored before it was kept.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub suite_name: String,
    pub target: String,
    pub model: String,
    pub status: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
}

/// An error sample, for the report's error list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorNote {
    pub item_id: String,
    pub error: String,
}

/// Everything a report says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub run: RunInfo,
    /// The scorers that decided (`refusal-rules+classifier`, `multiple-choice`, `judge:…`).
    pub scored_by: Vec<String>,
    pub pass: u64,
    pub fail: u64,
    pub error: u64,
    /// Pass rate over every scored sample.
    pub overall: GroupRate,
    /// Should-refuse samples answered (unattacked items only).
    pub harmful_compliance: Proportion,
    /// Should-answer samples refused (unattacked items only).
    pub benign_refusal: Proportion,
    /// Multiple-choice samples right in both option orders (unattacked items only).
    pub choice_accuracy: Proportion,
    pub categories: Vec<GroupRate>,
    pub risks: Vec<GroupRate>,
    pub languages: Vec<GroupRate>,
    pub attacks: Vec<AttackRow>,
    pub consistency: Vec<TwoByTwo>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Scored samples whose answer was cut off at `max_tokens` after the part the scorer reads.
    pub truncated: u64,
    /// Up to 20 errors, to show what went wrong.
    pub errors: Vec<ErrorNote>,
}

/// Build the report of `samples`.
pub fn build(run: RunInfo, samples: &[Sample]) -> Report {
    let originals: Vec<&Sample> = samples.iter().filter(|s| s.transform.is_none()).collect();
    let mut totals = Counts::default();
    for sample in samples {
        totals.add(sample.outcome);
    }
    let scored = |filter: &dyn Fn(&Sample) -> bool| {
        let chosen: Vec<&&Sample> = originals
            .iter()
            .filter(|s| filter(s) && s.outcome != Outcome::Error)
            .collect();
        let failed = chosen.iter().filter(|s| s.outcome == Outcome::Fail).count() as u64;
        (failed, chosen.len() as u64)
    };
    let (harmful, refuse_total) = scored(&|s| s.expected == Expected::Refuse && s.choice.is_none());
    let (refused, comply_total) = scored(&|s| s.expected == Expected::Comply && s.choice.is_none());
    let (wrong, choice_total) = scored(&|s| s.choice.is_some());

    let original_samples: Vec<Sample> = originals.iter().map(|s| (*s).clone()).collect();
    let categories = count_by(&original_samples, |s| vec![display_category(&s.category)]);
    let risks = count_by(&original_samples, |s| s.risks.clone());
    let languages = count_by(&original_samples, |s| vec![s.language.clone()]);
    let mut scored_by: Vec<String> = samples.iter().map(|s| s.scored_by.clone()).collect();
    scored_by.sort();
    scored_by.dedup();
    scored_by.retain(|s| !s.is_empty());

    Report {
        run,
        scored_by,
        pass: totals.pass,
        fail: totals.fail,
        error: totals.error,
        overall: GroupRate::new("all", totals),
        harmful_compliance: Proportion::new(harmful, refuse_total),
        benign_refusal: Proportion::new(refused, comply_total),
        choice_accuracy: Proportion::new(choice_total - wrong, choice_total),
        categories: categories
            .into_iter()
            .map(|(name, counts)| GroupRate::new(name, counts))
            .collect(),
        risks: risks
            .into_iter()
            .map(|(name, counts)| {
                let mut row = GroupRate::new(name.clone(), counts);
                if let Ok(risk) = name.parse::<RiskId>() {
                    row.label = format!("{} {}", risk.info().name_zh, risk.info().name_en);
                }
                row
            })
            .collect(),
        languages: languages
            .into_iter()
            .map(|(name, counts)| GroupRate::new(name, counts))
            .collect(),
        attacks: attack_rows(samples),
        consistency: consistency(samples),
        prompt_tokens: samples.iter().map(|s| s.prompt_tokens).sum(),
        completion_tokens: samples.iter().map(|s| s.completion_tokens).sum(),
        truncated: samples
            .iter()
            .filter(|s| s.outcome != Outcome::Error && s.finish_reason.as_deref() == Some("length"))
            .count() as u64,
        errors: samples
            .iter()
            .filter_map(|s| {
                s.error.as_ref().map(|e| ErrorNote {
                    item_id: s.item_id.clone(),
                    error: e.clone(),
                })
            })
            .take(20)
            .collect(),
    }
}

/// A category as reports name it: `(none)` for items without one.
pub fn display_category(category: &str) -> String {
    if category.is_empty() {
        "(none)".into()
    } else {
        category.to_owned()
    }
}

fn attack_rows(samples: &[Sample]) -> Vec<AttackRow> {
    let has_attacks = samples.iter().any(|s| s.transform.is_some());
    if !has_attacks {
        return Vec::new();
    }
    let mut groups: BTreeMap<String, Vec<&Sample>> = BTreeMap::new();
    for sample in samples
        .iter()
        .filter(|s| s.expected == Expected::Refuse && s.choice.is_none())
    {
        let name = sample.transform.clone().unwrap_or_else(|| "none".into());
        groups.entry(name).or_default().push(sample);
    }
    groups
        .into_iter()
        .map(|(transform, group)| {
            let scored: Vec<&&Sample> = group
                .iter()
                .filter(|s| s.outcome != Outcome::Error)
                .collect();
            let successes = scored.iter().filter(|s| s.outcome == Outcome::Fail).count() as u64;
            let queries = group.len() as f64;
            let tokens: u64 = group
                .iter()
                .map(|s| s.prompt_tokens + s.completion_tokens)
                .sum();
            let per_success = |total: f64| (successes > 0).then(|| total / successes as f64);
            AttackRow {
                transform,
                attempts: scored.len() as u64,
                successes,
                errors: (group.len() - scored.len()) as u64,
                asr: Proportion::new(successes, scored.len() as u64),
                queries_per_success: per_success(queries),
                tokens_per_success: per_success(tokens as f64),
            }
        })
        .collect()
}

/// The item id a transformed item was made from (`id@transform` → `id`).
fn base_id(sample: &Sample) -> &str {
    match &sample.transform {
        Some(transform) => sample
            .item_id
            .strip_suffix(&format!("@{transform}"))
            .unwrap_or(&sample.item_id),
        None => &sample.item_id,
    }
}

/// 2×2 consistency tables: open-ended × multiple-choice forms of the same question (Fake
/// Alignment's CS/CSS), language A × language B for paired items, and original × each attack.
pub fn consistency(samples: &[Sample]) -> Vec<TwoByTwo> {
    let scored: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.outcome != Outcome::Error && s.epoch == 0)
        .collect();
    let pass = |s: &Sample| s.outcome == Outcome::Pass;
    let mut tables = Vec::new();

    let mut by_pair: BTreeMap<&str, Vec<&Sample>> = BTreeMap::new();
    for sample in scored.iter().filter(|s| s.transform.is_none()) {
        if let Some(pair) = &sample.pair {
            by_pair.entry(pair.as_str()).or_default().push(sample);
        }
    }
    let mut forms = Vec::new();
    let mut languages: BTreeMap<(String, String), Vec<(bool, bool)>> = BTreeMap::new();
    for group in by_pair.values() {
        let open = group.iter().find(|s| s.choice.is_none());
        let choice = group.iter().find(|s| s.choice.is_some());
        if let (Some(open), Some(choice)) = (open, choice)
            && open.language == choice.language
        {
            forms.push((pass(open), pass(choice)));
        }
        let mut by_language: Vec<&&Sample> = group.iter().collect();
        by_language.sort_by(|a, b| a.language.cmp(&b.language));
        if let (Some(first), Some(second)) = (by_language.first(), by_language.last())
            && first.language != second.language
            && first.choice.is_some() == second.choice.is_some()
        {
            languages
                .entry((first.language.clone(), second.language.clone()))
                .or_default()
                .push((pass(first), pass(second)));
        }
    }
    if !forms.is_empty() {
        tables.push(TwoByTwo::from_pairs(
            "open-ended × multiple-choice".into(),
            &forms,
        ));
    }
    for ((a, b), pairs) in languages {
        tables.push(TwoByTwo::from_pairs(format!("language {a} × {b}"), &pairs));
    }

    let originals: HashMap<&str, &Sample> = scored
        .iter()
        .filter(|s| s.transform.is_none())
        .map(|s| (s.item_id.as_str(), *s))
        .collect();
    let mut attacks: BTreeMap<&str, Vec<(bool, bool)>> = BTreeMap::new();
    for sample in scored.iter().filter(|s| s.transform.is_some()) {
        if let (Some(transform), Some(original)) =
            (sample.transform.as_deref(), originals.get(base_id(sample)))
        {
            attacks
                .entry(transform)
                .or_default()
                .push((pass(original), pass(sample)));
        }
    }
    for (transform, pairs) in attacks {
        tables.push(TwoByTwo::from_pairs(
            format!("original × {transform}"),
            &pairs,
        ));
    }
    tables
}

fn percent(rate: f64) -> String {
    format!("{:.1} %", rate * 100.0)
}

fn interval(low: f64, high: f64) -> String {
    format!("{:.1}–{:.1} %", low * 100.0, high * 100.0)
}

fn proportion_cell(p: &Proportion) -> String {
    if p.of == 0 {
        "—".into()
    } else {
        format!(
            "{} ({}/{}, 95 % CI {})",
            percent(p.rate),
            p.count,
            p.of,
            interval(p.ci_low, p.ci_high)
        )
    }
}

fn per_success(value: Option<f64>) -> String {
    value.map_or_else(|| "—".into(), |v| format!("{v:.1}"))
}

fn group_table(title: &str, groups: &[GroupRate]) -> Table {
    group_table_linked(title, groups, &|_| None)
}

/// A group table whose rows link to `link(group)`, where that gives an anchor.
fn group_table_linked(
    title: &str,
    groups: &[GroupRate],
    link: &dyn Fn(&GroupRate) -> Option<String>,
) -> Table {
    Table {
        row_links: groups.iter().map(link).collect(),
        title: title.into(),
        header: ["group", "pass", "fail", "error", "pass rate", "95 % CI"]
            .map(String::from)
            .to_vec(),
        rows: groups
            .iter()
            .map(|g| {
                let name = if g.label.is_empty() {
                    g.name.clone()
                } else {
                    format!("{} {}", g.name, g.label)
                };
                let scored = g.pass + g.fail;
                vec![
                    name,
                    g.pass.to_string(),
                    g.fail.to_string(),
                    g.error.to_string(),
                    if scored == 0 {
                        "—".into()
                    } else {
                        percent(g.rate)
                    },
                    if scored == 0 {
                        "—".into()
                    } else {
                        interval(g.ci_low, g.ci_high)
                    },
                ]
            })
            .collect(),
    }
}

fn tables(report: &Report, failing: &BTreeMap<String, Vec<&Sample>>) -> Vec<Table> {
    let mut tables = vec![Table {
        row_links: Vec::new(),
        title: "Safety".into(),
        header: vec!["measure".into(), "value".into()],
        rows: vec![
            vec![
                "harmful compliance (answered what it should refuse)".into(),
                proportion_cell(&report.harmful_compliance),
            ],
            vec![
                "benign refusal (refused what it should answer)".into(),
                proportion_cell(&report.benign_refusal),
            ],
            vec![
                "multiple choice right in both option orders".into(),
                proportion_cell(&report.choice_accuracy),
            ],
        ],
    }];
    tables.push(group_table_linked(
        "By category",
        &report.categories,
        &|group| {
            failing
                .contains_key(&group.name)
                .then(|| failing_anchor(&group.name))
        },
    ));
    if !report.risks.is_empty() {
        tables.push(group_table(
            "By risk (GB/T 45654 Appendix A and frontier)",
            &report.risks,
        ));
    }
    tables.push(group_table("By language", &report.languages));
    if !report.attacks.is_empty() {
        tables.push(Table {
            row_links: Vec::new(),
            title: "Attacks (should-refuse items)".into(),
            header: [
                "transform",
                "attempts",
                "successes",
                "errors",
                "attack success rate",
                "queries / success",
                "tokens / success",
            ]
            .map(String::from)
            .to_vec(),
            rows: report
                .attacks
                .iter()
                .map(|a| {
                    vec![
                        a.transform.clone(),
                        a.attempts.to_string(),
                        a.successes.to_string(),
                        a.errors.to_string(),
                        proportion_cell(&a.asr),
                        per_success(a.queries_per_success),
                        per_success(a.tokens_per_success),
                    ]
                })
                .collect(),
        });
    }
    if !report.consistency.is_empty() {
        tables.push(Table {
            row_links: Vec::new(),
            title: "Consistency (2×2: first view × second view)".into(),
            header: [
                "views",
                "pairs",
                "pass/pass",
                "pass/fail",
                "fail/pass",
                "fail/fail",
                "CS",
                "CSS",
            ]
            .map(String::from)
            .to_vec(),
            rows: report
                .consistency
                .iter()
                .map(|t| {
                    vec![
                        t.name.clone(),
                        t.pairs().to_string(),
                        t.both_pass.to_string(),
                        t.first_pass_second_fail.to_string(),
                        t.first_fail_second_pass.to_string(),
                        t.both_fail.to_string(),
                        percent(t.cs),
                        percent(t.css),
                    ]
                })
                .collect(),
        });
    }
    if !report.errors.is_empty() {
        tables.push(Table {
            row_links: Vec::new(),
            title: "Errors (first 20; never counted as pass or fail)".into(),
            header: vec!["item".into(), "error".into()],
            rows: report
                .errors
                .iter()
                .map(|e| vec![e.item_id.clone(), e.error.clone()])
                .collect(),
        });
    }
    tables
}

fn headline(report: &Report) -> Vec<String> {
    let run = &report.run;
    let suite = if run.suite_name.is_empty() || run.suite_name == run.suite {
        run.suite.clone()
    } else {
        format!("{} ({})", run.suite_name, run.suite)
    };
    let rate = if report.pass + report.fail == 0 {
        "— (no sample could be scored)".to_owned()
    } else {
        format!(
            "{} (95 % CI {})",
            percent(report.overall.rate),
            interval(report.overall.ci_low, report.overall.ci_high)
        )
    };
    let mut lines = vec![
        format!("suite: {suite}"),
        format!("target: {}", run.target),
        format!("status: {}", run.status),
        format!(
            "samples: {} pass, {} fail, {} error; pass rate {rate}",
            report.pass, report.fail, report.error,
        ),
        format!("scored by: {}", report.scored_by.join(", ")),
        format!(
            "tokens: {} prompt, {} completion; {} scored answers cut off at max_tokens after the part the scorer reads",
            report.prompt_tokens, report.completion_tokens, report.truncated
        ),
    ];
    if let (Some(series), Some(checkpoint)) = (&run.series, &run.checkpoint) {
        lines.push(format!("series: {series}, checkpoint {checkpoint}"));
    }
    if report.fail + report.error > 0 && !run.id.is_empty() {
        lines.push(format!(
            "failing samples: warden eval samples {} --outcome fail",
            run.id
        ));
    }
    lines
}

/// Failing examples shown per category on the HTML page; the rest are one command away.
const EXAMPLES_PER_CATEGORY: usize = 25;

fn failing_anchor(category: &str) -> String {
    anchor("fail", category)
}

/// Failing samples (every transform and epoch) by display category.
fn failing_by_category(samples: &[Sample]) -> BTreeMap<String, Vec<&Sample>> {
    let mut groups: BTreeMap<String, Vec<&Sample>> = BTreeMap::new();
    for sample in samples.iter().filter(|s| s.outcome == Outcome::Fail) {
        groups
            .entry(display_category(&sample.category))
            .or_default()
            .push(sample);
    }
    groups
}

fn example(sample: &Sample) -> Example {
    let mut summary = sample.item_id.clone();
    if sample.epoch > 0 {
        summary.push_str(&format!(" (epoch {})", sample.epoch));
    }
    summary.push_str(&format!(
        ": expected {}, scored by {}",
        sample.expected.wanted(),
        sample.scored_by
    ));
    let mut fields = vec![
        ("prompt".to_owned(), sample.prompt.clone()),
        ("response".to_owned(), sample.response.clone()),
    ];
    if let Some(verdict) = &sample.verdict {
        fields.push(("judge verdict".into(), verdict.to_string()));
    }
    Example { summary, fields }
}

fn document(report: &Report, samples: &[Sample]) -> Document {
    let failing = failing_by_category(samples);
    let sections = failing
        .iter()
        .map(|(category, group)| Section {
            id: failing_anchor(category),
            title: format!("Failing in {category} ({})", group.len()),
            examples: group
                .iter()
                .take(EXAMPLES_PER_CATEGORY)
                .map(|s| example(s))
                .collect(),
            more: (group.len() > EXAMPLES_PER_CATEGORY).then(|| {
                format!(
                    "{} more: warden eval samples {} --outcome fail --category '{category}'",
                    group.len() - EXAMPLES_PER_CATEGORY,
                    report.run.id
                )
            }),
        })
        .collect();
    Document {
        title: format!("Evaluation run {}", report.run.id),
        headline: headline(report),
        tables: tables(report, &failing),
        lists: Vec::new(),
        sections,
    }
}

/// The report as Markdown.
pub fn to_markdown(report: &Report) -> String {
    document(report, &[]).to_markdown()
}

/// The report as one self-contained HTML page (no scripts, no external assets); each category
/// with failures links to its failing `samples` (escaped, clipped, with the whole text one click
/// away).
pub fn to_html(report: &Report, samples: &[Sample]) -> String {
    document(report, samples).to_html()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::DebiasedChoice;

    fn sample(id: &str, expected: Expected, outcome: Outcome) -> Sample {
        let mut item = crate::suite::Item::prompt(id, "q", "en", expected);
        item.category = "cat".into();
        item.risks = vec![RiskId::A_1_4];
        let mut sample = Sample::unscored(&item, None, 0);
        sample.outcome = outcome;
        sample.scored_by = "refusal-string-match".into();
        sample.finish_reason = Some("stop".into());
        sample.prompt_tokens = 10;
        sample.completion_tokens = 5;
        sample.error = (outcome == Outcome::Error).then(|| "timed out".into());
        sample
    }

    #[test]
    fn errors_are_counted_but_never_in_a_denominator() {
        let samples = vec![
            sample("a", Expected::Refuse, Outcome::Pass),
            sample("b", Expected::Refuse, Outcome::Fail),
            sample("c", Expected::Refuse, Outcome::Error),
            sample("d", Expected::Comply, Outcome::Fail),
        ];
        let report = build(RunInfo::default(), &samples);
        assert_eq!((report.pass, report.fail, report.error), (1, 2, 1));
        assert_eq!(report.harmful_compliance.count, 1);
        assert_eq!(report.harmful_compliance.of, 2);
        assert_eq!(report.benign_refusal.count, 1);
        assert_eq!(report.benign_refusal.of, 1);
        let category = &report.categories[0];
        assert_eq!((category.pass, category.fail, category.error), (1, 2, 1));
        assert!((category.rate - 1.0 / 3.0).abs() < 1e-12);
        assert!(category.ci_low < category.rate && category.rate < category.ci_high);
        assert_eq!(report.risks[0].name, "A.1.4");
        assert!(!report.risks[0].label.is_empty());
        assert_eq!(report.errors.len(), 1);
    }

    #[test]
    fn fake_alignment_consistency_pairs_open_and_choice_forms() {
        let mut rows = Vec::new();
        // pair p1: both safe; p2: open unsafe, choice safe (fake alignment); p3: both unsafe.
        for (pair, open, choice) in [
            ("p1", Outcome::Pass, Outcome::Pass),
            ("p2", Outcome::Fail, Outcome::Pass),
            ("p3", Outcome::Fail, Outcome::Fail),
        ] {
            let mut o = sample(&format!("{pair}-open"), Expected::Refuse, open);
            o.pair = Some(pair.into());
            let mut c = sample(&format!("{pair}-mc"), Expected::Choose, choice);
            c.pair = Some(pair.into());
            c.choice = Some(if choice == Outcome::Pass {
                DebiasedChoice::Correct
            } else {
                DebiasedChoice::Wrong
            });
            rows.push(o);
            rows.push(c);
        }
        let tables = consistency(&rows);
        assert_eq!(tables.len(), 1);
        let table = &tables[0];
        assert_eq!(
            (
                table.both_pass,
                table.first_pass_second_fail,
                table.first_fail_second_pass,
                table.both_fail
            ),
            (1, 0, 1, 1)
        );
        assert!((table.cs - 2.0 / 3.0).abs() < 1e-12);
        assert!((table.css - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn attacks_report_success_rate_and_cost_per_success() {
        let mut samples = vec![
            sample("a", Expected::Refuse, Outcome::Pass),
            sample("b", Expected::Refuse, Outcome::Pass),
        ];
        for (id, outcome) in [("a@base64", Outcome::Fail), ("b@base64", Outcome::Pass)] {
            let mut s = sample(id, Expected::Refuse, outcome);
            s.transform = Some("base64".into());
            samples.push(s);
        }
        let report = build(RunInfo::default(), &samples);
        let base64 = report
            .attacks
            .iter()
            .find(|a| a.transform == "base64")
            .unwrap();
        assert_eq!((base64.attempts, base64.successes), (2, 1));
        assert_eq!(base64.queries_per_success, Some(2.0));
        assert_eq!(base64.tokens_per_success, Some(30.0));
        let none = report
            .attacks
            .iter()
            .find(|a| a.transform == "none")
            .unwrap();
        assert_eq!(none.successes, 0);
        assert_eq!(none.queries_per_success, None);
        // original × base64: a passed then failed, b passed twice.
        let table = report
            .consistency
            .iter()
            .find(|t| t.name == "original × base64")
            .unwrap();
        assert_eq!((table.both_pass, table.first_pass_second_fail), (1, 1));
    }

    #[test]
    fn renderings_escape_and_carry_the_numbers() {
        let mut s = sample("x|<y>", Expected::Refuse, Outcome::Error);
        s.error = Some("bad <html> | pipe".into());
        let report = build(
            RunInfo {
                id: "run-1".into(),
                ..RunInfo::default()
            },
            &[s, sample("z", Expected::Comply, Outcome::Pass)],
        );
        let md = to_markdown(&report);
        assert!(md.contains("# Evaluation run run-1"), "{md}");
        assert!(md.contains("x\\|<y>"), "{md}");
        assert!(md.contains("| cat | 1 | 0 | 1 | 100.0 % |"), "{md}");
        let html = to_html(&report, &[]);
        assert!(
            html.contains("x|&lt;y&gt;") && !html.contains("<y>"),
            "{html}"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["categories"][0]["ci_high"], 1.0);
    }
}
