//! Comparing two runs sample by sample: which items changed outcome between two checkpoints (or
//! two targets), matched by item id, attack transform and epoch. Pure: reads samples only.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::run::{Outcome, Sample};

/// One item whose outcome differs between the runs, or that only one run has.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    pub item_id: String,
    pub epoch: u32,
    pub category: String,
    /// The outcome in the first run; `None` when only the second has the item.
    pub before: Option<Outcome>,
    /// The outcome in the second run; `None` when only the first has the item.
    pub after: Option<Outcome>,
    pub prompt: String,
    pub response_before: String,
    pub response_after: String,
}

impl Change {
    /// `pass→fail`, `fail→pass`, `→error`, `only in first`, …
    pub fn kind(&self) -> String {
        match (self.before, self.after) {
            (Some(before), Some(after)) => format!("{}→{}", before.as_str(), after.as_str()),
            (Some(_), None) => "only in first".into(),
            (None, Some(_)) => "only in second".into(),
            (None, None) => "absent".into(),
        }
    }
}

/// Every change, and how many items were compared.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Diff {
    /// Items both runs have.
    pub compared: u64,
    pub unchanged: u64,
    /// Count per change kind (`pass→fail`, …).
    pub counts: BTreeMap<String, u64>,
    pub changes: Vec<Change>,
}

/// The changes from `first` to `second`, in the first run's order, then the items only the
/// second run has.
pub fn diff(first: &[Sample], second: &[Sample]) -> Diff {
    let key = |s: &Sample| (s.item_id.clone(), s.epoch);
    let mut later: BTreeMap<(String, u32), &Sample> = second.iter().map(|s| (key(s), s)).collect();
    let mut out = Diff::default();
    let push = |out: &mut Diff, change: Change| {
        *out.counts.entry(change.kind()).or_default() += 1;
        out.changes.push(change);
    };
    for before in first {
        let after = later.remove(&key(before));
        if let Some(after) = after {
            out.compared += 1;
            if after.outcome == before.outcome {
                out.unchanged += 1;
                continue;
            }
        }
        let prompt = if before.prompt.is_empty() {
            after.map(|a| a.prompt.clone()).unwrap_or_default()
        } else {
            before.prompt.clone()
        };
        push(
            &mut out,
            Change {
                item_id: before.item_id.clone(),
                epoch: before.epoch,
                category: before.category.clone(),
                before: Some(before.outcome),
                after: after.map(|a| a.outcome),
                prompt,
                response_before: before.response.clone(),
                response_after: after.map(|a| a.response.clone()).unwrap_or_default(),
            },
        );
    }
    for after in second.iter().filter(|s| later.contains_key(&key(s))) {
        push(
            &mut out,
            Change {
                item_id: after.item_id.clone(),
                epoch: after.epoch,
                category: after.category.clone(),
                before: None,
                after: Some(after.outcome),
                prompt: after.prompt.clone(),
                response_before: String::new(),
                response_after: after.response.clone(),
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::{Expected, Item};

    fn sample(id: &str, epoch: u32, outcome: Outcome) -> Sample {
        let item = Item::prompt(id, format!("prompt {id}"), "en", Expected::Refuse);
        let mut sample = Sample::unscored(&item, None, epoch);
        sample.outcome = outcome;
        sample.response = format!("{id} {}", outcome.as_str());
        sample
    }

    #[track_caller]
    fn check(first: &[Sample], second: &[Sample], expected: &[(&str, &str)], unchanged: u64) {
        let diff = diff(first, second);
        let got: Vec<(String, String)> = diff
            .changes
            .iter()
            .map(|c| (c.item_id.clone(), c.kind()))
            .collect();
        let want: Vec<(String, String)> = expected
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(diff.unchanged, unchanged);
        assert_eq!(diff.counts.values().sum::<u64>(), diff.changes.len() as u64);
    }

    #[test]
    fn issue_15_diff_lists_items_whose_outcome_changed() {
        use Outcome::{Error, Fail, Pass};
        check(&[sample("a", 0, Pass)], &[sample("a", 0, Pass)], &[], 1);
        check(
            &[
                sample("a", 0, Pass),
                sample("b", 0, Fail),
                sample("c", 0, Pass),
            ],
            &[
                sample("c", 0, Error),
                sample("b", 0, Pass),
                sample("a", 0, Fail),
            ],
            &[("a", "pass→fail"), ("b", "fail→pass"), ("c", "pass→error")],
            0,
        );
        // Epochs are matched separately; items only one run has are listed, not dropped.
        check(
            &[
                sample("a", 0, Pass),
                sample("a", 1, Pass),
                sample("x", 0, Fail),
            ],
            &[
                sample("a", 0, Pass),
                sample("a", 1, Fail),
                sample("y", 0, Pass),
            ],
            &[
                ("a", "pass→fail"),
                ("x", "only in first"),
                ("y", "only in second"),
            ],
            1,
        );
        let diff = diff(&[sample("a", 0, Pass)], &[sample("a", 0, Fail)]);
        let change = &diff.changes[0];
        assert_eq!(change.prompt, "prompt a");
        assert_eq!(
            (
                change.response_before.as_str(),
                change.response_after.as_str()
            ),
            ("a pass", "a fail")
        );
        assert_eq!(diff.counts["pass→fail"], 1);
    }
}
