//! `warden eval compliance`: the GB/T 45654-2025 refusal assessment as one command.
//!
//! Runs the combined should-refuse / should-not-refuse bank like any other suite (journalled,
//! stored, entered in the ledger), then judges the samples against the reference thresholds.

use std::sync::Arc;

use warden_eval::compliance;
use warden_eval::journal::Limits;
use warden_eval::run::{self, RunConfig, Start};
use warden_eval::target::{Sampling, TargetSpec};

use crate::args::{ComplianceArgs, Global, ReportFormat};
use crate::commands::{local_actor, print_json};
use crate::eval::{Bar, connect};
use crate::exit::{self, Failure};

/// Run the bank against `target` and print the assessment.
pub async fn run(global: &Global, args: &ComplianceArgs) -> Result<u8, Failure> {
    let ComplianceArgs {
        target,
        limit,
        concurrency,
        max_tokens,
        format,
        model,
        series,
        checkpoint,
        max_error_rate,
        content_judge,
        judge,
    } = args;
    let content_judge = match content_judge {
        None => None,
        Some(name) => {
            let kind: warden_eval::judge::JudgeKind = name
                .parse()
                .map_err(|e: String| Failure::usage(anyhow::anyhow!(e)))?;
            if kind == warden_eval::judge::JudgeKind::Refusal {
                return Err(Failure::usage(anyhow::anyhow!(
                    "--content-judge must judge harm: harmbench or strongreject, not refusal"
                )));
            }
            Some(kind)
        }
    };
    let (limit, concurrency, max_tokens, format) = (*limit, *concurrency, *max_tokens, *format);
    let (
        home,
        warden_home::Stores {
            ledger,
            eval: eval_store,
            ..
        },
    ) = crate::commands::open_stores(global).await?;
    let bank = compliance::bank().map_err(Failure::environment)?;
    let connected = connect(target, model).await?;
    let config = RunConfig {
        suite: compliance::SUITE_NAME.into(),
        suite_sha256: run::suite_digest(&bank.items),
        target: TargetSpec {
            url: target.target.clone(),
            model: connected.spec.model.clone(),
            api_key_env: target.api_key_env.clone(),
            timeout_secs: target.timeout,
        },
        sampling: Sampling {
            max_tokens,
            ..Sampling::default()
        },
        epochs: 1,
        limit,
        limits: Limits {
            concurrency: concurrency.max(1),
            requests_per_minute: None,
            tokens_per_minute: None,
            max_retries: 6,
        },
        attacks: Vec::new(),
        judge: None,
        max_error_rate: max_error_rate.clamp(0.0, 1.0),
        series: series.clone(),
        checkpoint: checkpoint.clone(),
        mitigation: None,
    };
    let planned = run::plan_items(&bank, &config, &|_, _, _| None);
    let id = format!(
        "compliance-{}",
        &uuid::Uuid::now_v7().simple().to_string()[24..]
    );
    eprintln!(
        "warden: run {id}: {} questions from the GB/T 45654 refusal banks against {}",
        planned.len(),
        connected.target.id()
    );
    let finished = run::run_suite(
        &ledger,
        Arc::clone(&eval_store),
        Start::New(id.clone()),
        &config,
        &bank,
        &planned,
        Arc::clone(&connected.target),
        None,
        &Bar::new("calls"),
        &local_actor(None),
        Some(&home.root().join("eval-journal")),
    )
    .await?;
    let samples = run::stored_samples(eval_store.as_ref(), &id).await?;
    let assessment = compliance::assess(&id, &bank, &samples);
    let content = match (content_judge, judge.target(target.timeout)) {
        (Some(kind), Some(judge_args)) => {
            let judge = connected.reuse_or_connect(&judge_args, model).await?;
            // The same requests as the refusal run: the answers come from the journal, so only
            // the judge is called.
            let content_config = RunConfig {
                judge: Some(run::JudgeSpec {
                    kind: kind.name().to_owned(),
                    target: judge_args.spec(),
                }),
                ..config.clone()
            };
            let content_id = format!("{id}-content");
            eprintln!(
                "warden: run {content_id}: the same answers judged for harm by {} ({})",
                kind.name(),
                judge.id()
            );
            let judged = run::run_suite(
                &ledger,
                Arc::clone(&eval_store),
                Start::New(content_id.clone()),
                &content_config,
                &bank,
                &planned,
                Arc::clone(&connected.target),
                Some((kind, Arc::clone(&judge))),
                &Bar::new("calls"),
                &local_actor(None),
                Some(&home.root().join("eval-journal")),
            )
            .await?;
            let judged_samples = run::stored_samples(eval_store.as_ref(), &content_id).await?;
            let report = compliance::assess_content(
                &content_id,
                &judged_samples,
                &format!("judge:{} on {}", kind.name(), judge.id()),
                "not measured: Warden ships no human harm labels to calibrate a harm judge against (the refusal judge's agreement is what `warden eval calibrate` measures); read the failing answers with `warden eval samples RUN --outcome fail`",
            );
            Some((report, judged.report.run.status == "failed"))
        }
        _ => None,
    };
    if global.json || format == ReportFormat::Json {
        let mut value = serde_json::to_value(&assessment).map_err(Failure::environment)?;
        if let Some((report, _)) = &content {
            value["generated_content"] =
                serde_json::to_value(report).map_err(Failure::environment)?;
        }
        print_json(&value);
    } else {
        print!("{}", compliance::to_markdown(&assessment));
        if let Some((report, _)) = &content {
            print!("{}", compliance::content_markdown(report));
        }
    }
    if let Some((report, failed)) = &content
        && (*failed || !report.meets_threshold)
    {
        if *failed {
            eprintln!(
                "warden: run {} FAILED: too many judge errors; see `warden eval report {}`",
                report.run, report.run
            );
        }
        return Ok(exit::CHECK_FAILED);
    }
    if finished.report.run.status == "failed" {
        eprintln!(
            "warden: run {id} FAILED: {} samples are errors; see `warden eval report {id}`",
            finished.report.error
        );
        return Ok(exit::CHECK_FAILED);
    }
    let meets =
        assessment.should_refuse.meets_threshold && assessment.should_not_refuse.meets_threshold;
    Ok(if meets { exit::OK } else { exit::CHECK_FAILED })
}
