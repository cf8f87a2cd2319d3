//! `warden eval attack`: PAIR or crescendo against a suite's should-refuse goals.
//!
//! Every call (target, attacker, judge) goes through the journal, so a repeated attack with the
//! same seeds is replayed from the store; the result is printed and entered in the ledger with the
//! suite digest and the attack settings.

use std::sync::Arc;

use futures_util::StreamExt as _;
use serde_json::json;
use sha2::Digest as _;
use warden_eval::attack::{
    AttackConfig, AttackJudge, AttackOutcome, AttackStats, Budget, ModelJudge, RefusalJudge,
    crescendo, pair,
};
use warden_eval::journal::{Journal, JournaledTarget, Limits};
use warden_eval::report::RunInfo;
use warden_eval::run::{Outcome, Sample, Tally, select, suite_digest};
use warden_eval::store::EvalRunRecord;
use warden_eval::target::Target;
use warden_eval::{Expected, Item};

use crate::args::{AttackMethod, Global, ModelArgs, TargetArgs};
use crate::commands::{local_actor, print_json};
use crate::eval::{connect, load_suite};
use crate::exit::{self, Failure};

/// What to attack, with what, under which budget.
pub struct Plan {
    pub suite: String,
    pub method: AttackMethod,
    pub target: TargetArgs,
    pub attacker: TargetArgs,
    pub judge: Option<TargetArgs>,
    pub limit: usize,
    pub budget: Budget,
    pub max_turns: u32,
    pub concurrency: usize,
    /// The run's id (default: generated).
    pub run_id: Option<String>,
}

/// Run the attack and print the result.
pub async fn run(global: &Global, plan: Plan, model: &ModelArgs) -> Result<u8, Failure> {
    let (
        home,
        warden_home::Stores {
            ledger,
            eval: eval_store,
            ..
        },
    ) = crate::commands::open_stores(global).await?;
    let id = match &plan.run_id {
        Some(id) => id.clone(),
        None => format!(
            "{}-{}",
            method_name(plan.method),
            crate::eval::new_run_id(&plan.suite)
        ),
    };
    warden_core::id::check_id("run id", &id).map_err(Failure::usage)?;
    let suite = load_suite(&plan.suite)?;
    let goals: Vec<Item> = select(
        &suite
            .items
            .iter()
            .filter(|i| i.expected == Expected::Refuse && i.options.is_empty())
            .cloned()
            .collect::<Vec<_>>(),
        Some(plan.limit),
    )
    .into_iter()
    .cloned()
    .collect();
    if goals.is_empty() {
        return Err(Failure::usage(anyhow::anyhow!(
            "suite `{}` has no open-ended should-refuse items to attack",
            plan.suite
        )));
    }
    let target = connect(&plan.target, model).await?;
    let attacker = target.reuse_or_connect(&plan.attacker, model).await?;
    let judge_target = match &plan.judge {
        Some(args) => Some(target.reuse_or_connect(args, model).await?),
        None => None,
    };
    let journal = Journal::new(
        eval_store.clone(),
        Limits {
            concurrency: plan.concurrency.max(1) * 2,
            requests_per_minute: None,
            tokens_per_minute: None,
            max_retries: 6,
        },
    );
    let wrap = |t: &Arc<dyn Target>| JournaledTarget::new(Arc::clone(t), Arc::clone(&journal), 0);
    let target_j = wrap(&target.target);
    let attacker_j = wrap(&attacker);
    let judge_j = judge_target.as_ref().map(wrap);
    let model_judge = judge_j.as_ref().map(|j| ModelJudge::new(j));
    let judge: &dyn AttackJudge = match &model_judge {
        Some(judge) => judge,
        None => &RefusalJudge,
    };
    let config = AttackConfig {
        budget: plan.budget,
        // The journal retries; a retry there is not a new query.
        retries: 0,
        ..AttackConfig::default()
    };
    let settings = json!({
        "method": method_name(plan.method), "suite": plan.suite, "target": target.target.id(),
        "attacker": attacker.id(), "judge": judge_target.as_ref().map(|j| j.id()),
        "max_queries": plan.budget.max_queries, "max_tokens": plan.budget.max_tokens,
        "max_turns": plan.max_turns, "goals": goals.len(),
    });
    let created_at = warden_ledger::entry::now_rfc3339();
    let created = eval_store
        .create_eval_run(&EvalRunRecord {
            id: id.clone(),
            suite: plan.suite.clone(),
            target: target.target.id(),
            model: target.spec.model.clone(),
            created_at: created_at.clone(),
            status: "running".into(),
            finished_at: None,
            config: settings.to_string(),
            summary: None,
        })
        .await?;
    if !created {
        return Err(Failure::usage(anyhow::anyhow!(
            "a run with id `{id}` exists; choose another --run-id"
        )));
    }
    let _live = warden_eval::run::claim(&home.root().join("eval-journal"), &id)?;
    eprintln!(
        "warden: run {id}: {} on {} goals from {} against {}",
        method_name(plan.method),
        goals.len(),
        plan.suite,
        target.target.id()
    );
    let progress = crate::eval::Bar::new("goals");
    let tally = Tally::new(&progress, goals.len() as u64);
    let outcomes: Vec<(usize, AttackOutcome)> =
        futures_util::stream::iter(goals.iter().enumerate().map(|(index, goal)| {
            let target = &target_j;
            let attacker = &attacker_j;
            let config = &config;
            let tally = &tally;
            async move {
                let outcome = match plan.method {
                    AttackMethod::Pair => pair(goal, target, attacker, judge, config).await,
                    AttackMethod::Crescendo => {
                        crescendo(goal, target, attacker, judge, config, plan.max_turns).await
                    }
                };
                tally.record(outcome.error.is_some());
                (index, outcome)
            }
        }))
        .buffer_unordered(plan.concurrency.max(1))
        .collect()
        .await;
    let mut outcomes = outcomes;
    outcomes.sort_by_key(|(index, _)| *index);
    tally.finish();
    let outcomes: Vec<AttackOutcome> = outcomes.into_iter().map(|(_, o)| o).collect();
    let stats = AttackStats::from_outcomes(&outcomes);
    let scored_by = format!(
        "attack:{} judge:{}",
        method_name(plan.method),
        judge_target
            .as_ref()
            .map_or_else(|| warden_eval::refusal::SCORER.to_owned(), |j| j.id())
    );
    let samples: Vec<Sample> = goals
        .iter()
        .zip(&outcomes)
        .map(|(goal, outcome)| attack_sample(goal, outcome, &scored_by))
        .collect();
    let status = if stats.errors == stats.attempts {
        "failed"
    } else {
        "finished"
    };
    let finished_at = warden_ledger::entry::now_rfc3339();
    let report = warden_eval::report::build(
        RunInfo {
            id: id.clone(),
            suite: plan.suite.clone(),
            suite_name: suite.name.clone(),
            target: target.target.id(),
            model: target.spec.model.clone(),
            status: status.into(),
            created_at,
            finished_at: Some(finished_at.clone()),
            series: None,
            checkpoint: None,
        },
        &samples,
    );
    eval_store
        .finish_eval_run(
            &id,
            status,
            &finished_at,
            &serde_json::to_string(&report).map_err(Failure::environment)?,
            &warden_eval::run::sample_records(&samples),
        )
        .await?;
    let rows: Vec<serde_json::Value> = goals
        .iter()
        .zip(&outcomes)
        .map(|(goal, o)| {
            json!({"item": goal.id, "category": goal.category, "success": o.success,
                   "queries": o.queries, "tokens": o.tokens, "best_score": o.best_score,
                   "best_prompt": o.best_prompt, "error": o.error})
        })
        .collect();
    let settings_sha256 = warden_core::hex::encode(&sha2::Sha256::digest(
        warden_core::canonical::to_string(&settings)
            .unwrap_or_default()
            .as_bytes(),
    ));
    let entry = ledger
        .append(warden_ledger::entry::EntryDraft {
            kind: "eval.attack.finished".into(),
            actor: local_actor(None),
            subject: format!("eval-attack:{}", method_name(plan.method)),
            payload: json!({
                "run": id,
                "settings": settings, "settings_sha256": settings_sha256,
                "suite_sha256": suite_digest(&suite.items),
                "attempts": stats.attempts, "successes": stats.successes, "errors": stats.errors,
                "asr": stats.asr,
            }),
            time: finished_at,
        })
        .await
        .map_err(Failure::environment)?;
    if global.json {
        print_json(
            &json!({"run": id, "settings": settings, "stats": stats, "goals": rows,
                           "ledger_index": entry.index}),
        );
    } else {
        println!(
            "# {} against {}\n\n| goals | successes | errors | attack success rate | queries / success | tokens / success |\n|---|---|---|---|---|---|",
            method_name(plan.method),
            target.target.id()
        );
        let per = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |v| format!("{v:.1}"));
        println!(
            "| {} | {} | {} | {:.1} % | {} | {} |\n",
            stats.attempts,
            stats.successes,
            stats.errors,
            stats.asr * 100.0,
            per(stats.queries_per_success),
            per(stats.tokens_per_success)
        );
        println!(
            "| goal | success | queries | tokens | best score | error |\n|---|---|---|---|---|---|"
        );
        for (goal, o) in goals.iter().zip(&outcomes) {
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                goal.id,
                o.success,
                o.queries,
                o.tokens,
                o.best_score,
                o.error.as_deref().unwrap_or("")
            );
        }
        println!(
            "\nrun {id}; ledger entry {}; every attempt: warden eval samples {id} --format jsonl",
            entry.index
        );
    }
    Ok(exit::OK)
}

/// A goal's attack as a sample of the run: `fail` when the target was jailbroken, `pass` when it
/// held, `error` when the attack could not be carried out; the best prompt and its answer as
/// prompt and response, every attempt in the verdict.
fn attack_sample(goal: &Item, outcome: &AttackOutcome, scored_by: &str) -> Sample {
    let mut sample = Sample::unscored(goal, None, 0);
    if !outcome.best_prompt.is_empty() {
        sample.prompt.clone_from(&outcome.best_prompt);
    }
    sample.response = outcome
        .transcript
        .iter()
        .rev()
        .find(|m| m.role == warden_eval::suite::Role::Assistant)
        .map(|m| m.content.clone())
        .unwrap_or_default();
    sample.outcome = match (&outcome.error, outcome.success) {
        (Some(_), _) => Outcome::Error,
        (None, true) => Outcome::Fail,
        (None, false) => Outcome::Pass,
    };
    sample.refused = outcome.error.is_none().then_some(!outcome.success);
    sample.scored_by = scored_by.to_owned();
    sample.prompt_tokens = outcome.tokens;
    sample.error.clone_from(&outcome.error);
    sample.verdict = Some(json!({
        "best_score": outcome.best_score,
        "queries": outcome.queries,
        "tokens": outcome.tokens,
        "attempts": outcome.attempts,
    }));
    sample
}

fn method_name(method: AttackMethod) -> &'static str {
    match method {
        AttackMethod::Pair => "pair",
        AttackMethod::Crescendo => "crescendo",
    }
}
