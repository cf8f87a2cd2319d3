//! What reviewers' labels say about the filters: for each filter, the share of its labelled hits
//! that reviewers judged benign (false positives) and the share of labelled harmful requests it
//! did not catch (false negatives), and for the gateway as a whole the share of sampled passed
//! traffic judged harmful; each with a Wilson 95 % interval. And the labels as JSONL training
//! data for `warden guard train`.
//!
//! The queue samples blocked and flagged traffic more often than passed traffic
//! (`review_every_flagged`, `review_every_passed`), so a filter's false-negative share is over
//! the harmful requests in the sample, not over all traffic; the passed stratum's harmful share
//! is the unbiased miss rate. Pure: the rows come from the store.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use warden_core::stats::{Z95, wilson};

use crate::store::ReviewRow;

/// A share with its Wilson 95 % interval.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Share {
    pub count: usize,
    pub of: usize,
    pub rate: f64,
    pub low: f64,
    pub high: f64,
}

impl Share {
    pub fn new(count: usize, of: usize) -> Self {
        let rate = wilson(count as u64, of as u64, Z95);
        Self {
            count,
            of,
            rate: rate.rate,
            low: rate.ci_low,
            high: rate.ci_high,
        }
    }
}

/// One filter's measured error rates.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FilterRates {
    pub filter: String,
    /// Of its labelled hits, how many reviewers judged benign.
    pub false_positives: Share,
    /// Of the labelled harmful requests, how many it did not catch.
    pub false_negatives: Share,
}

/// Error rates per filter and for passed traffic, from labelled reviews.
pub fn rates(rows: &[ReviewRow]) -> Value {
    let labelled: Vec<(&ReviewRow, bool, Vec<String>)> = rows
        .iter()
        .filter_map(|row| {
            let harmful = match row.label.as_deref()? {
                "harmful" => true,
                "benign" => false,
                _ => return None,
            };
            let filters: Vec<String> = serde_json::from_str(&row.filters).unwrap_or_default();
            Some((row, harmful, filters))
        })
        .collect();
    let mut names: Vec<String> = labelled.iter().flat_map(|(_, _, f)| f.clone()).collect();
    names.sort();
    names.dedup();
    let harmful_total = labelled.iter().filter(|(_, h, _)| *h).count();
    let per_filter: Vec<FilterRates> = names
        .into_iter()
        .map(|name| {
            let hits: Vec<bool> = labelled
                .iter()
                .filter(|(_, _, f)| f.contains(&name))
                .map(|(_, h, _)| *h)
                .collect();
            let missed = labelled
                .iter()
                .filter(|(_, h, f)| *h && !f.contains(&name))
                .count();
            FilterRates {
                false_positives: Share::new(hits.iter().filter(|h| !**h).count(), hits.len()),
                false_negatives: Share::new(missed, harmful_total),
                filter: name,
            }
        })
        .collect();
    let passed: Vec<bool> = labelled
        .iter()
        .filter(|(row, _, _)| row.stratum == "passed")
        .map(|(_, h, _)| *h)
        .collect();
    let mut strata: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (row, harmful, _) in &labelled {
        let entry = strata.entry(row.stratum.as_str()).or_default();
        entry.0 += usize::from(*harmful);
        entry.1 += 1;
    }
    json!({
        "labelled": labelled.len(),
        "unlabelled": rows.len() - labelled.len(),
        "filters": per_filter,
        "passed_but_harmful": Share::new(passed.iter().filter(|h| **h).count(), passed.len()),
        "harmful_by_stratum": strata.iter().map(|(s, (h, n))| (s.to_string(), Share::new(*h, *n))).collect::<BTreeMap<_, _>>(),
    })
}

/// One review as the API and the CLI show it.
pub fn review_json(row: &ReviewRow) -> Value {
    json!({"decision": row.decision_id, "sampled_at": row.sampled_at, "stratum": row.stratum,
           "filters": serde_json::from_str::<Value>(&row.filters).unwrap_or(Value::Null),
           "content": serde_json::from_str::<Value>(&row.content).unwrap_or(Value::Null),
           "label": row.label, "reviewer": row.reviewer})
}

/// One appeal as the API and the CLI show it, with its text (`None` once pruned).
pub fn appeal_json(appeal: &crate::control::Appeal, message: Option<String>) -> Value {
    json!({
        "appeal": appeal.id, "ledger_index": appeal.index, "user": appeal.user,
        "escalation": appeal.escalation, "message": message,
        "decision": appeal.decision.as_ref().map(|(outcome, person, index)| json!({"outcome": outcome, "person": person, "ledger_index": index})),
    })
}

/// Labelled reviews as JSONL `{"text", "label"}` lines (the request's text; `label` true for
/// harmful), the training format of `warden guard train`.
pub fn training_jsonl(rows: &[ReviewRow]) -> String {
    let mut out = String::new();
    for row in rows {
        let label = match row.label.as_deref() {
            Some("harmful") => true,
            Some("benign") => false,
            _ => continue,
        };
        let content: Value = serde_json::from_str(&row.content).unwrap_or(Value::Null);
        let text: Vec<&str> = content["request"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["content"].as_str())
            .collect();
        if text.is_empty() {
            continue;
        }
        out.push_str(&json!({"text": text.join("\n"), "label": label}).to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(stratum: &str, filters: &[&str], label: Option<&str>) -> ReviewRow {
        ReviewRow {
            decision_id: format!("{stratum}-{filters:?}-{label:?}"),
            sampled_at: String::new(),
            stratum: stratum.into(),
            filters: serde_json::to_string(filters).unwrap_or_default(),
            content: json!({"request": [{"role": "user", "content": "text"}]}).to_string(),
            label: label.map(str::to_owned),
            reviewer: None,
            labelled_at: None,
        }
    }

    #[test]
    fn rates_count_what_reviewers_said() {
        let rows = vec![
            row("blocked", &["lexicon"], Some("harmful")),
            row("blocked", &["lexicon"], Some("benign")),
            row("flagged", &["pii"], Some("benign")),
            row("passed", &[], Some("harmful")),
            row("passed", &[], Some("benign")),
            row("passed", &[], None),
        ];
        let rates = rates(&rows);
        assert_eq!(rates["labelled"], 5);
        assert_eq!(rates["unlabelled"], 1);
        let lexicon = &rates["filters"][0];
        assert_eq!(lexicon["filter"], "lexicon");
        assert_eq!(lexicon["false_positives"]["count"], 1);
        assert_eq!(lexicon["false_positives"]["of"], 2);
        assert_eq!(
            lexicon["false_negatives"]["count"], 1,
            "the passed harmful one"
        );
        assert_eq!(lexicon["false_negatives"]["of"], 2);
        assert_eq!(rates["passed_but_harmful"]["of"], 2);
        let share = Share::new(1, 2);
        assert!(share.low < 0.5 && share.high > 0.5);
        assert_eq!(training_jsonl(&rows).lines().count(), 5);
    }
}
