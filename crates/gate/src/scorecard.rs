//! Rendering an [`Assessment`] as Markdown and as a self-contained HTML page: a Preparedness-style
//! table per category (pre- and post-mitigation levels where the policy has a scorecard), every
//! threshold's determination with the evidence behind it, each stage's required safeguards (met
//! with links, or missing), and the residual-risk notes. Every cell is escaped for its format.

use warden_core::document::{Document, Table};

use crate::assess::{Assessment, Determination, ThresholdDetermination};

fn observed(t: &ThresholdDetermination) -> String {
    t.indicators
        .iter()
        .map(|i| {
            let seen = match &i.observed {
                Some(e) => format!(
                    "{:.3} [{:.3}, {:.3}] n={}",
                    e.rate, e.ci_low, e.ci_high, e.n
                ),
                None => "no evidence".into(),
            };
            let run = i
                .run_id
                .as_deref()
                .map_or(String::new(), |r| format!(" (run {r})"));
            format!(
                "{}:{} {} {} {}: {seen}{run}",
                i.suite,
                i.metric,
                i.statistic.as_str(),
                i.op.as_str(),
                i.value
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn tables(a: &Assessment) -> Vec<Table> {
    let mut tables = Vec::new();
    if let Some(card) = &a.scorecard {
        tables.push(Table {
            row_links: Vec::new(),
            title: format!(
                "Scorecard (deploy only if every post-mitigation level ≤ {}; develop further only if ≤ {})",
                card.deploy_max, card.develop_max
            ),
            header: ["category", "pre-mitigation", "post-mitigation"]
                .map(String::from)
                .to_vec(),
            rows: card
                .categories
                .iter()
                .map(|c| {
                    vec![
                        format!("{} ({})", c.name, c.category),
                        c.pre.clone().unwrap_or_else(|| "—".into()),
                        c.post.clone().unwrap_or_else(|| "—".into()),
                    ]
                })
                .collect(),
        });
    }
    let mut categories: Vec<&str> = Vec::new();
    for t in &a.thresholds {
        if !categories.contains(&t.category.as_str()) {
            categories.push(&t.category);
        }
    }
    for category in categories {
        tables.push(Table {
            row_links: Vec::new(),
            title: format!("Category {category}"),
            header: [
                "threshold",
                "tier",
                "mitigation",
                "determination",
                "evidence",
            ]
            .map(String::from)
            .to_vec(),
            rows: a
                .thresholds
                .iter()
                .filter(|t| t.category == category)
                .map(|t| {
                    vec![
                        t.threshold.clone(),
                        t.tier.clone(),
                        t.mitigation.map_or("—", |m| m.as_str()).to_owned(),
                        determination_cell(t.determination),
                        observed(t),
                    ]
                })
                .collect(),
        });
    }
    for stage in &a.stages {
        let verdict = if stage.permitted {
            "permitted"
        } else {
            "not permitted"
        };
        let mut rows: Vec<Vec<String>> = stage
            .required
            .iter()
            .map(|s| {
                let links = s
                    .evidence
                    .iter()
                    .map(|e| format!("{} by {} at {}", e.link, e.by, e.at))
                    .collect::<Vec<_>>()
                    .join("; ");
                vec![
                    s.safeguard.clone(),
                    s.description.clone(),
                    s.required_by.join(", "),
                    if s.met { "met" } else { "MISSING" }.to_owned(),
                    if links.is_empty() {
                        format!("needs {}", s.evidence_kind.as_str())
                    } else {
                        links
                    },
                ]
            })
            .collect();
        for halt in &stage.halted_by {
            rows.push(vec![
                "(halt)".into(),
                "stage halted while this threshold is treated as crossed".into(),
                halt.clone(),
                "HALTED".into(),
                String::new(),
            ]);
        }
        tables.push(Table {
            row_links: Vec::new(),
            title: format!("Stage {}: {verdict}", stage.stage),
            header: [
                "safeguard",
                "description",
                "required by",
                "status",
                "evidence",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        });
    }
    tables
}

fn determination_cell(d: Determination) -> String {
    match d {
        Determination::CannotRuleOut => "cannot_rule_out (treated as crossed)".into(),
        other => other.as_str().into(),
    }
}

fn headline(a: &Assessment) -> Vec<String> {
    vec![
        format!(
            "policy: {} {} ({})",
            a.policy, a.policy_version, a.policy_name
        ),
        format!("modelled on: {}", a.modelled_on),
        format!("assessed at: {}", a.assessed_at),
        format!(
            "evidence older than {} days counts as missing",
            a.max_evidence_age_days
        ),
        format!(
            "sign-off: {}{}",
            a.signoff_roles.join(", "),
            if a.signoff_distinct {
                " (distinct people)"
            } else {
                ""
            }
        ),
    ]
}

fn document(a: &Assessment) -> Document {
    Document {
        title: format!("Gate assessment: {}", a.policy),
        headline: headline(a),
        tables: tables(a),
        lists: vec![("Residual risk".into(), a.residual_risk.clone())],
        sections: Vec::new(),
    }
}

/// The assessment as Markdown.
pub fn to_markdown(a: &Assessment) -> String {
    document(a).to_markdown()
}

/// The assessment as one self-contained HTML page (no scripts, no external assets).
pub fn to_html(a: &Assessment) -> String {
    document(a).to_html()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assess::{Attestation, Evidence, assess};
    use crate::fixture::{base_with, policy, shipped};
    use crate::metrics::Estimate;

    #[test]
    fn markdown_and_html_escape_and_carry_the_determinations() {
        let p = policy(&base_with(
            "description = \"c\"",
            "description = \"<b>filter</b> | pipe & co\"",
        ));
        let evidence = [Evidence {
            suite: "xstest".into(),
            run_id: "run<1>".into(),
            finished_at: "2026-04-30T00:00:00Z".into(),
            mitigation: None,
            metrics: [(
                "harmful_compliance".to_owned(),
                Estimate {
                    rate: 0.3,
                    ci_low: 0.25,
                    ci_high: 0.35,
                    n: 400,
                },
            )]
            .into(),
        }];
        let attestation = Attestation {
            safeguard: "classifiers".into(),
            stage: None,
            by: "alice".into(),
            at: "2026-04-30T00:00:00Z".into(),
            link: "https://example.org/?a=1&b=<2>".into(),
        };
        let a = assess(&p, &evidence, &[attestation], "2026-05-01T00:00:00Z", 90);
        let md = to_markdown(&a);
        assert!(md.contains("# Gate assessment: t"), "{md}");
        assert!(md.contains("| cyber-3 | ASL-3 | — | crossed |"), "{md}");
        assert!(md.contains("<b>filter</b> \\| pipe"), "{md}");
        assert!(md.contains("## Stage api-deployment: permitted"), "{md}");
        assert!(md.contains("run run<1>"), "{md}");
        let html = to_html(&a);
        assert!(
            !html.contains("<b>filter")
                && html.contains("&lt;b&gt;filter&lt;/b&gt; | pipe &amp; co")
        );
        assert!(html.contains("a=1&amp;b=&lt;2&gt;"), "{html}");
        assert!(html.contains("<td>met</td>"));
    }

    #[test]
    fn scorecard_policies_render_pre_and_post_levels() {
        let (file, text) = shipped("preparedness-style.toml");
        let p = crate::lint(&file, &text).unwrap();
        let a = assess(&p, &[], &[], "2026-05-01T00:00:00Z", 90);
        let md = to_markdown(&a);
        assert!(
            md.contains("| category | pre-mitigation | post-mitigation |"),
            "{md}"
        );
        assert!(md.contains("| CBRN (cbrn) | critical | critical |"), "{md}");
        assert!(md.contains("cannot_rule_out (treated as crossed)"));
        assert!(md.contains("## Residual risk"));
        let html = to_html(&a);
        assert!(html.contains("<th>post-mitigation</th>"));
    }
}
