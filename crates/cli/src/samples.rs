//! `warden eval samples` and `warden eval diff`: the evidence behind a report, item by item —
//! which prompts failed, what the model said, which scorer decided and why.

use std::collections::HashMap;

use serde_json::{Value, json};
use warden_eval::run::{Outcome, Sample};
use warden_eval::store::EvalStore;

use crate::args::{Global, SampleFormat, SampleOutcome};
use crate::commands::print_json;
use crate::exit::{self, Failure};

/// Characters of a prompt or answer shown in the terminal listing; `--format jsonl` has them all.
const CLIP: usize = 160;

/// The category as reports name it.
fn category(sample: &Sample) -> String {
    warden_eval::report::display_category(&sample.category)
}

/// ` epoch N` after an item id, for repeated samples; nothing for the first.
fn epoch_suffix(epoch: u32) -> String {
    if epoch > 0 {
        format!(" epoch {epoch}")
    } else {
        String::new()
    }
}

/// Why the scorer gave this outcome, in a few words.
fn why(sample: &Sample) -> String {
    if let Some(error) = &sample.error {
        return format!("error: {error}");
    }
    if let Some(choice) = &sample.choice {
        return format!("multiple choice, both option orders: {choice:?}").to_lowercase();
    }
    let expected = sample.expected.wanted();
    let read = match sample.refused {
        Some(true) => "read as a refusal",
        Some(false) => "read as an answer",
        None => "not read",
    };
    match &sample.verdict {
        // An attack's verdict carries every attempt: summarise it; `--format jsonl` has it whole.
        Some(verdict) if verdict.get("attempts").is_some() => format!(
            "best judge score {}/10 after {} queries, {} attempts kept (--format jsonl lists them)",
            verdict["best_score"],
            verdict["queries"],
            verdict["attempts"].as_array().map_or(0, Vec::len)
        ),
        Some(verdict) => format!("{read}, expected {expected}; judge verdict {verdict}"),
        None => format!("{read}, expected {expected}"),
    }
}

fn clip(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= CLIP {
        flat
    } else {
        format!("{}…", flat.chars().take(CLIP).collect::<String>())
    }
}

fn sample_json(sample: &Sample) -> Value {
    json!({
        "item_id": sample.item_id,
        "epoch": sample.epoch,
        "transform": sample.transform,
        "category": sample.category,
        "language": sample.language,
        "expected": sample.expected,
        "prompt": sample.prompt,
        "response": sample.response,
        "finish_reason": sample.finish_reason,
        "outcome": sample.outcome,
        "scored_by": sample.scored_by,
        "refused": sample.refused,
        "choice": sample.choice,
        "verdict": sample.verdict,
        "error": sample.error,
        "why": why(sample),
    })
}

/// The samples of a finished run, prompts filled in from the suite for runs stored before
/// samples kept them.
async fn load(store: &dyn EvalStore, id: &str) -> Result<Vec<Sample>, Failure> {
    let run = store.eval_run(id).await?.ok_or_else(|| {
        Failure::usage(anyhow::anyhow!(
            "no evaluation run `{id}` in this home; `warden eval runs` lists them"
        ))
    })?;
    if run.status == "running" {
        return Err(Failure::usage(anyhow::anyhow!(
            "run `{id}` has not finished and has no samples yet; finish it with `warden eval run --resume {id}`"
        )));
    }
    let mut samples = warden_eval::run::stored_samples(store, id).await?;
    if samples.iter().any(|s| s.prompt.is_empty())
        && let Ok(config) = serde_json::from_str::<warden_eval::run::RunConfig>(&run.config)
        && let Ok(suite) = crate::eval::load_suite(&config.suite)
        && warden_eval::run::suite_digest(&suite.items) == config.suite_sha256
    {
        let prompts: HashMap<&str, &str> = suite
            .items
            .iter()
            .filter_map(|item| Some((item.id.as_str(), item.last_prompt()?)))
            .collect();
        for sample in samples
            .iter_mut()
            .filter(|s| s.prompt.is_empty() && s.transform.is_none())
        {
            if let Some(prompt) = prompts.get(sample.item_id.as_str()) {
                sample.prompt = (*prompt).to_owned();
            }
        }
    }
    Ok(samples)
}

/// `warden eval samples RUN [--outcome O] [--category C] [--format table|jsonl]`.
pub async fn samples(
    global: &Global,
    id: &str,
    outcome: Option<SampleOutcome>,
    wanted_category: Option<&str>,
    format: SampleFormat,
) -> Result<u8, Failure> {
    let (_home, stores) = crate::commands::open_stores(global).await?;
    let all = load(stores.eval.as_ref(), id).await?;
    if let Some(wanted) = wanted_category
        && !all.iter().any(|s| category(s) == wanted)
    {
        let mut names: Vec<String> = all.iter().map(category).collect();
        names.sort_unstable();
        names.dedup();
        return Err(Failure::usage(anyhow::anyhow!(
            "run `{id}` has no category `{wanted}`; its categories: {}",
            names.join(", ")
        )));
    }
    let outcome = outcome.map(|o| match o {
        SampleOutcome::Pass => Outcome::Pass,
        SampleOutcome::Fail => Outcome::Fail,
        SampleOutcome::Error => Outcome::Error,
    });
    let chosen: Vec<&Sample> = all
        .iter()
        .filter(|s| outcome.is_none_or(|o| s.outcome == o))
        .filter(|s| wanted_category.is_none_or(|c| category(s) == c))
        .collect();
    if global.json {
        print_json(&Value::Array(
            chosen.iter().map(|s| sample_json(s)).collect(),
        ));
        return Ok(exit::OK);
    }
    match format {
        SampleFormat::Jsonl => {
            for sample in &chosen {
                println!("{}", sample_json(sample));
            }
        }
        SampleFormat::Table => {
            for sample in &chosen {
                println!(
                    "{}{}  {}  [{}]  scored by {}",
                    sample.item_id,
                    epoch_suffix(sample.epoch),
                    sample.outcome.as_str().to_uppercase(),
                    category(sample),
                    if sample.scored_by.is_empty() {
                        "(none)"
                    } else {
                        &sample.scored_by
                    }
                );
                println!("  prompt:   {}", clip(&sample.prompt));
                println!("  response: {}", clip(&sample.response));
                println!("  why:      {}\n", why(sample));
            }
            eprintln!(
                "warden: {} of {} samples of run {id}{}",
                chosen.len(),
                all.len(),
                if chosen.is_empty() {
                    String::new()
                } else {
                    format!("; whole texts: warden eval samples {id} --format jsonl")
                }
            );
        }
    }
    Ok(exit::OK)
}

/// `warden eval diff FIRST SECOND [--format table|jsonl]`.
pub async fn diff(
    global: &Global,
    first: &str,
    second: &str,
    format: SampleFormat,
) -> Result<u8, Failure> {
    let (_home, stores) = crate::commands::open_stores(global).await?;
    let before = load(stores.eval.as_ref(), first).await?;
    let after = load(stores.eval.as_ref(), second).await?;
    let diff = warden_eval::compare::diff(&before, &after);
    if global.json {
        print_json(&json!({"first": first, "second": second, "diff": diff}));
        return Ok(exit::OK);
    }
    let change_json = |c: &warden_eval::compare::Change| {
        let mut value = serde_json::to_value(c).unwrap_or_default();
        value["change"] = Value::String(c.kind());
        value
    };
    match format {
        SampleFormat::Jsonl => {
            for change in &diff.changes {
                println!("{}", change_json(change));
            }
        }
        SampleFormat::Table => {
            let counts: Vec<String> = diff
                .counts
                .iter()
                .map(|(kind, n)| format!("{kind} {n}"))
                .collect();
            println!(
                "{first} → {second}: {} items in both, {} unchanged{}{}\n",
                diff.compared,
                diff.unchanged,
                if counts.is_empty() { "" } else { "; " },
                counts.join(", ")
            );
            for change in &diff.changes {
                println!(
                    "{}{}  {}  [{}]",
                    change.item_id,
                    epoch_suffix(change.epoch),
                    change.kind(),
                    change.category
                );
                println!("  prompt: {}", clip(&change.prompt));
                if change.before.is_some() {
                    println!("  before: {}", clip(&change.response_before));
                }
                if change.after.is_some() {
                    println!("  after:  {}", clip(&change.response_after));
                }
                println!();
            }
        }
    }
    Ok(exit::OK)
}
