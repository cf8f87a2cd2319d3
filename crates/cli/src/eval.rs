//! `warden eval`: suites, runs, reports, trends, judge calibration and the GB/T 45654 profile.
//!
//! Glue only: targets are built from flags (`local` loads the GGUF runtime and serves it on a
//! loopback port, so the local model is reached through the same OpenAI-compatible client as any
//! other), and the work is done by `warden-eval`.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use warden_eval::calibrate::LabelledSet;
use warden_eval::journal::Limits;
use warden_eval::judge::JudgeKind;
use warden_eval::report::{self, Report};
use warden_eval::run::{self, PlannedItem, Progress, RunConfig, Start};
use warden_eval::target::{OpenAiTarget, Sampling, Target, TargetSpec};
use warden_eval::{RunError, Suite};

use crate::args::{EvalCommand, EvalRunArgs, Global, ModelArgs, ReportFormat, TargetArgs};
use crate::commands::{local_actor, print_json};
use crate::exit::{self, Failure};

type Outcome = Result<u8, Failure>;

impl From<RunError> for Failure {
    fn from(error: RunError) -> Self {
        match error {
            RunError::Usage(_) => Failure::usage(error),
            _ => Failure::environment(error),
        }
    }
}

/// Run a `warden eval` command.
pub async fn run(global: &Global, command: EvalCommand) -> Outcome {
    match command {
        EvalCommand::Suites { files } => crate::commands::suites(global, &files),
        EvalCommand::Run(args) => eval_run(global, *args).await,
        EvalCommand::Report { id, format } => show_report(global, &id, format).await,
        EvalCommand::Runs => runs(global).await,
        EvalCommand::Samples {
            id,
            outcome,
            category,
            format,
        } => crate::samples::samples(global, &id, outcome, category.as_deref(), format).await,
        EvalCommand::Diff {
            first,
            second,
            format,
        } => crate::samples::diff(global, &first, &second, format).await,
        EvalCommand::Trend { series, format } => trend(global, &series, format).await,
        EvalCommand::Calibrate {
            judge,
            limit,
            concurrency,
            model,
        } => {
            let judge = match judge.target(120) {
                None => None,
                Some(args) => Some(connect(&args, &model).await?),
            };
            let judge_target = judge.as_ref().map(|j| j.target.as_ref());
            let mut reports = Vec::new();
            for set in [LabelledSet::English, LabelledSet::Chinese] {
                reports.push(
                    warden_eval::calibrate::calibrate(
                        set,
                        judge_target,
                        limit,
                        concurrency,
                        &Bar::new("judge calls"),
                    )
                    .await
                    .map_err(Failure::environment)?,
                );
            }
            let [english, chinese] = <[_; 2]>::try_from(reports)
                .map_err(|_| Failure::environment(anyhow::anyhow!("calibration incomplete")))?;
            let labelling =
                warden_eval::calibrate::zh_labelling_agreement().map_err(Failure::environment)?;
            if global.json {
                print_json(&json!({
                    "english": english,
                    "chinese": chinese,
                    "chinese_labelling": labelling,
                }));
            } else {
                print!(
                    "# English: XSTest's labelled completions\n\n{}\n# Chinese: Warden's labelled answers (crates/eval/data/refusal-zh)\n\nTwo independent labelling passes over {} answers agree on {:.3} of them, binary (κ {:.3}); {:.3} in three classes (κ {:.3}).\n\n{}",
                    english.to_markdown(),
                    labelling.items,
                    labelling.binary.accuracy,
                    labelling.binary.kappa,
                    labelling.three_class.accuracy,
                    labelling.three_class.kappa,
                    chinese.to_markdown()
                );
            }
            Ok(exit::OK)
        }
        EvalCommand::Attack {
            suite,
            method,
            target,
            attacker,
            attacker_model,
            attacker_api_key_env,
            judge_target,
            judge_model,
            limit,
            max_queries,
            max_tokens,
            max_turns,
            concurrency,
            run_id,
            model,
        } => {
            let attacker = TargetArgs {
                target: attacker,
                model: attacker_model,
                api_key_env: attacker_api_key_env,
                timeout: target.timeout,
            };
            let judge = judge_target.map(|url| TargetArgs {
                target: url,
                model: judge_model,
                api_key_env: None,
                timeout: target.timeout,
            });
            crate::attack::run(
                global,
                crate::attack::Plan {
                    suite,
                    method,
                    target,
                    attacker,
                    judge,
                    limit,
                    budget: warden_eval::attack::Budget {
                        max_queries,
                        max_tokens,
                    },
                    max_turns,
                    concurrency,
                    run_id,
                },
                &model,
            )
            .await
        }
        EvalCommand::Compliance(args) => crate::compliance::run(global, &args).await,
        EvalCommand::TrainRefusal { out } => train_refusal(global, &out),
    }
}

/// A connected target and, for `local`, the loopback server that keeps it reachable.
pub(crate) struct Connected {
    pub target: Arc<dyn Target>,
    pub spec: TargetSpec,
    /// The `--target` value it was made from (`local` or a URL).
    requested: String,
    _server: Option<tokio::task::JoinHandle<()>>,
}

impl Connected {
    /// This target again when `args` names the same endpoint and model (so `local` is loaded
    /// once), else a new connection.
    pub(crate) async fn reuse_or_connect(
        &self,
        args: &TargetArgs,
        model: &ModelArgs,
    ) -> Result<Arc<dyn Target>, Failure> {
        let same_model = args.model.as_ref().is_none_or(|m| *m == self.spec.model);
        if args.target == self.requested && same_model {
            return Ok(Arc::clone(&self.target));
        }
        Ok(connect(args, model).await?.target)
    }
}

/// Build the target `args` name; `local` loads the GGUF model and serves it on 127.0.0.1.
/// Fails fast, naming the URL, when the target does not answer at all.
pub(crate) async fn connect(args: &TargetArgs, model: &ModelArgs) -> Result<Connected, Failure> {
    let mut server = None;
    let (url, model_name) = if args.target == "local" {
        let runtime = crate::model::load_for_eval(model)?;
        let id = runtime.id().to_owned();
        let app = warden_server::api::chat::standalone(
            Arc::new(warden_server::api::chat::ModelService::for_evaluation(
                runtime,
                model.parallel,
            )?),
            8 << 20,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| {
                Failure::environment(anyhow::anyhow!("cannot bind a loopback port: {e}"))
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Failure::environment(anyhow::anyhow!("{e}")))?;
        server = Some(tokio::spawn(async move {
            let _ = warden_server::serve_router(listener, app, std::future::pending()).await;
        }));
        (
            format!("http://{addr}/v1"),
            args.model.clone().unwrap_or(id),
        )
    } else {
        let name = args.model.clone().ok_or_else(|| {
            Failure::usage(anyhow::anyhow!(
                "--model is required with --target {}: give the model name the endpoint serves",
                args.target
            ))
        })?;
        (args.target.clone(), name)
    };
    let spec = TargetSpec {
        url,
        model: model_name,
        api_key_env: args.api_key_env.clone(),
        timeout_secs: args.timeout,
    };
    let mut target =
        OpenAiTarget::new(spec.clone()).map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
    if server.is_some() {
        target = target.named(format!(
            "local gguf={} model={}",
            crate::model::gguf_path(model).display(),
            spec.model
        ));
    }
    target
        .probe()
        .await
        .map_err(|e| Failure::environment(anyhow::anyhow!(e)))?;
    Ok(Connected {
        target: Arc::new(target),
        spec,
        requested: args.target.clone(),
        _server: server,
    })
}

/// `warden eval train-refusal --out DIR`: the refusal classifier and its provenance.
fn train_refusal(global: &Global, out: &std::path::Path) -> Outcome {
    use warden_eval::calibrate::{self, LabelledCompletion};
    use warden_eval::refusal;
    let english = calibrate::labelled_completions().map_err(Failure::environment)?;
    let all: Vec<&LabelledCompletion> = english.iter().collect();
    let examples = refusal::examples(&all);
    // Say what the data look like before fitting: a bad set is refused here, warnings shown.
    let check = refusal::check_data(&examples).map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
    eprintln!(
        "warden: {} examples, {} refusals, {} compliances, {} duplicates, {} conflicting texts",
        check.examples, check.refusals, check.compliances, check.duplicates, check.conflicts
    );
    for warning in &check.warnings {
        eprintln!("warden: warning: {warning}");
    }
    let (model, _) = refusal::train(&all).map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
    let options = refusal::options();
    let provenance = refusal::Provenance {
        model: model.version().to_owned(),
        trained_on: calibrate::labelled_files()
            .into_iter()
            .map(|(path, sha256, source_model)| refusal::TrainingFile {
                path: format!("crates/eval/data/{path}"),
                sha256: sha256.to_owned(),
                source_model: source_model.to_owned(),
                licence: "prompts CC-BY-4.0 (XSTest); completions under the model provider's terms"
                    .to_owned(),
            })
            .collect(),
        examples: check.examples,
        refusals: check.refusals,
        compliances: check.compliances,
        window_chars: refusal::WINDOW,
        features: format!(
            "character {}..={}-grams, 2^{} hashed buckets",
            options.features.min_n, options.features.max_n, options.features.bits
        ),
        epochs: options.epochs,
        command: "warden eval train-refusal --out crates/eval/data/refusal".to_owned(),
    };
    std::fs::create_dir_all(out).map_err(|e| {
        Failure::environment(anyhow::anyhow!("cannot create {}: {e}", out.display()))
    })?;
    let write = |path: &std::path::Path, text: String| {
        std::fs::write(path, text).map_err(|e| {
            Failure::environment(anyhow::anyhow!("cannot write {}: {e}", path.display()))
        })
    };
    let path = out.join("refusal-classifier.json");
    write(&path, format!("{}\n", model.to_json()))?;
    let provenance_json =
        serde_json::to_string_pretty(&provenance).map_err(Failure::environment)?;
    write(
        &out.join("refusal-classifier.json.provenance.json"),
        format!("{provenance_json}\n"),
    )?;
    if global.json {
        print_json(&serde_json::to_value(&provenance).map_err(Failure::environment)?);
    } else {
        println!(
            "{}: {} ({} weights), trained on {} examples",
            path.display(),
            model.version(),
            model.weights_len(),
            check.examples
        );
    }
    Ok(exit::OK)
}

/// A shipped suite by name, else a JSONL file by path.
pub(crate) fn load_suite(name: &str) -> Result<Suite, Failure> {
    if name == warden_eval::compliance::SUITE_NAME {
        return warden_eval::compliance::bank().map_err(Failure::environment);
    }
    if warden_eval::builtin_suites().iter().any(|s| s.name == name) {
        return warden_eval::load_builtin(name).map_err(Failure::environment);
    }
    let path = std::path::Path::new(name);
    if path.exists() {
        return warden_eval::load_suite_file(path).map_err(Failure::usage);
    }
    let names: Vec<&str> = warden_eval::builtin_suites()
        .iter()
        .map(|s| s.name)
        .collect();
    Err(Failure::usage(anyhow::anyhow!(
        "no shipped suite or file named `{name}`; shipped suites: {}",
        names.join(", ")
    )))
}

fn parse_params(params: &[String]) -> Result<Map<String, Value>, Failure> {
    let mut extra = Map::new();
    for param in params {
        let (key, value) = param.split_once('=').ok_or_else(|| {
            Failure::usage(anyhow::anyhow!(
                "--param `{param}` is not KEY=JSON, e.g. --param top_p=0.9"
            ))
        })?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.into()));
        extra.insert(key.trim().to_owned(), value);
    }
    Ok(extra)
}

fn parse_attacks(names: &[String]) -> Result<Vec<String>, Failure> {
    names
        .iter()
        .filter(|n| !n.trim().is_empty())
        .map(|name| {
            name.trim()
                .parse::<warden_eval::attack::transform::Transform>()
                .map(|t| t.name().to_owned())
                .map_err(Failure::usage)
        })
        .collect()
}

fn transform(name: &str, item: &warden_eval::Item, suite: &Suite) -> Option<warden_eval::Item> {
    let transform = name
        .parse::<warden_eval::attack::transform::Transform>()
        .ok()?;
    warden_eval::attack::transform::apply(transform, item, suite)
}

pub(crate) fn new_run_id(suite: &str) -> String {
    let stem: String = std::path::Path::new(suite)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let unique = uuid::Uuid::now_v7().simple().to_string();
    format!("{stem}-{}", &unique[unique.len() - 8..])
}

async fn eval_run(global: &Global, args: EvalRunArgs) -> Outcome {
    for id in [&args.run_id, &args.resume].into_iter().flatten() {
        warden_core::id::check_id("run id", id).map_err(Failure::usage)?;
    }
    let (
        home,
        warden_home::Stores {
            ledger,
            eval: eval_store,
            ..
        },
    ) = crate::commands::open_stores(global).await?;
    let (start, config) = match &args.resume {
        Some(id) => {
            let config = run::stored_config(eval_store.as_ref(), id).await?;
            (Start::Resume(id.clone()), config)
        }
        None => {
            let suite_name = args.suite.clone().unwrap_or_default();
            let suite = load_suite(&suite_name)?;
            if !(0.0..=1.0).contains(&args.max_error_rate) {
                return Err(Failure::usage(anyhow::anyhow!(
                    "--max-error-rate must be between 0 and 1"
                )));
            }
            let judge = match &args.judge {
                None => None,
                Some(kind) => {
                    let kind: JudgeKind = kind
                        .parse()
                        .map_err(|e: String| Failure::usage(anyhow::anyhow!(e)))?;
                    Some(kind)
                }
            };
            let config = RunConfig {
                suite: suite_name.clone(),
                suite_sha256: run::suite_digest(&suite.items),
                target: args.target.spec(),
                sampling: Sampling {
                    temperature: args.temperature,
                    max_tokens: args.max_tokens,
                    seed: Some(args.seed),
                    extra: parse_params(&args.params)?,
                },
                epochs: args.epochs.max(1),
                limit: args.limit,
                limits: Limits {
                    concurrency: args.concurrency.max(1),
                    requests_per_minute: args.rpm,
                    tokens_per_minute: args.tpm,
                    max_retries: args.max_retries,
                },
                attacks: parse_attacks(&args.attacks)?,
                judge: judge.map(|kind| warden_eval::run::JudgeSpec {
                    kind: kind.name().to_owned(),
                    target: TargetSpec {
                        url: args
                            .judge_target
                            .clone()
                            .unwrap_or_else(|| args.target.target.clone()),
                        model: args
                            .judge_model
                            .clone()
                            .or_else(|| args.target.model.clone())
                            .unwrap_or_default(),
                        api_key_env: args
                            .judge_api_key_env
                            .clone()
                            .or_else(|| args.target.api_key_env.clone()),
                        timeout_secs: args.target.timeout,
                    },
                }),
                max_error_rate: args.max_error_rate,
                series: args.series.clone(),
                checkpoint: args.checkpoint.clone(),
                mitigation: args.mitigation.clone(),
            };
            let id = args
                .run_id
                .clone()
                .unwrap_or_else(|| new_run_id(&suite_name));
            (Start::New(id), config)
        }
    };
    let suite = load_suite(&config.suite)?;
    let target_args = TargetArgs {
        target: config.target.url.clone(),
        model: (!config.target.model.is_empty()).then(|| config.target.model.clone()),
        api_key_env: config.target.api_key_env.clone(),
        timeout: config.target.timeout_secs,
    };
    let connected = connect(&target_args, &args.model).await?;
    let judge = match &config.judge {
        None => None,
        Some(spec) => {
            let kind: JudgeKind = spec
                .kind
                .parse()
                .map_err(|e: String| Failure::usage(anyhow::anyhow!(e)))?;
            let judge_target = connected
                .reuse_or_connect(
                    &TargetArgs {
                        target: spec.target.url.clone(),
                        model: (!spec.target.model.is_empty()).then(|| spec.target.model.clone()),
                        api_key_env: spec.target.api_key_env.clone(),
                        timeout: spec.target.timeout_secs,
                    },
                    &args.model,
                )
                .await?;
            Some((kind, judge_target))
        }
    };
    let planned: Vec<PlannedItem> = run::plan_items(&suite, &config, &transform);
    let run_id = match &start {
        Start::New(id) | Start::Resume(id) => id.clone(),
    };
    eprintln!(
        "warden: run {run_id}: {} items{} against {}",
        planned.len(),
        if config.attacks.is_empty() {
            String::new()
        } else {
            format!(" (incl. {} attacked)", config.attacks.join(", "))
        },
        connected.target.id()
    );
    let progress = Bar::new("calls");
    let finished = run::run_suite(
        &ledger,
        Arc::clone(&eval_store),
        start,
        &config,
        &suite,
        &planned,
        Arc::clone(&connected.target),
        judge,
        &progress,
        &local_actor(None),
        Some(&home.root().join("eval-journal")),
    )
    .await?;
    eprintln!(
        "warden: run {run_id} {}: {} calls sent, {} from the journal; ledger entry {}",
        finished.report.run.status, finished.sent, finished.cached, finished.ledger_index
    );
    print_report(
        eval_store.as_ref(),
        &finished.report,
        if global.json {
            ReportFormat::Json
        } else {
            args.format
        },
    )
    .await?;
    if finished.report.run.status == "failed" {
        let scored = finished.report.pass + finished.report.fail + finished.report.error;
        eprintln!(
            "warden: run {run_id} FAILED: {} of {scored} samples are errors, above --max-error-rate {}; see the Errors table",
            finished.report.error, config.max_error_rate
        );
        return Ok(exit::CHECK_FAILED);
    }
    Ok(exit::OK)
}

async fn print_report(
    store: &dyn warden_eval::store::EvalStore,
    report: &Report,
    format: ReportFormat,
) -> Result<(), Failure> {
    match format {
        ReportFormat::Json => {
            print_json(&serde_json::to_value(report).map_err(Failure::environment)?);
        }
        ReportFormat::Md => print!("{}", report::to_markdown(report)),
        ReportFormat::Html => {
            let samples = run::stored_samples(store, &report.run.id).await?;
            print!("{}", report::to_html(report, &samples));
        }
    }
    Ok(())
}

async fn stored_report(
    store: &dyn warden_eval::store::EvalStore,
    id: &str,
) -> Result<(warden_eval::store::EvalRunRecord, Option<Report>), Failure> {
    let run = store.eval_run(id).await?.ok_or_else(|| {
        Failure::usage(anyhow::anyhow!(
            "no evaluation run `{id}` in this home; `warden eval runs` lists them"
        ))
    })?;
    let report = match &run.summary {
        None => None,
        Some(summary) => Some(serde_json::from_str(summary).map_err(|e| {
            Failure::environment(anyhow::anyhow!("run `{id}` has an unreadable summary: {e}"))
        })?),
    };
    Ok((run, report))
}

async fn show_report(global: &Global, id: &str, format: ReportFormat) -> Outcome {
    let (
        _home,
        warden_home::Stores {
            eval: eval_store, ..
        },
    ) = crate::commands::open_stores(global).await?;
    let (run, report) = stored_report(eval_store.as_ref(), id).await?;
    let Some(report) = report else {
        return Err(Failure::usage(anyhow::anyhow!(
            "run `{id}` is {} and has no report yet; finish it with `warden eval run --resume {id}`",
            run.status
        )));
    };
    print_report(
        eval_store.as_ref(),
        &report,
        if global.json {
            ReportFormat::Json
        } else {
            format
        },
    )
    .await?;
    Ok(exit::OK)
}

async fn runs(global: &Global) -> Outcome {
    let (
        home,
        warden_home::Stores {
            eval: eval_store, ..
        },
    ) = crate::commands::open_stores(global).await?;
    let mut runs = eval_store.eval_runs().await?;
    let journal_dir = home.root().join("eval-journal");
    // A run stored as running that no process holds was killed or crashed: say so, and how to
    // go on, rather than show it running forever.
    for run in &mut runs {
        if run.status == "running" && !run::is_live(&journal_dir, &run.id) {
            run.status = "interrupted".into();
        }
    }
    if global.json {
        let rows: Vec<Value> = runs
            .iter()
            .map(|r| {
                json!({"id": r.id, "suite": r.suite, "target": r.target, "model": r.model,
                       "status": r.status, "created_at": r.created_at, "finished_at": r.finished_at})
            })
            .collect();
        print_json(&Value::Array(rows));
    } else {
        for r in &runs {
            println!(
                "{:<28} {:<11} {:<16} {}  {}",
                r.id, r.status, r.suite, r.created_at, r.target
            );
        }
        if runs.iter().any(|r| r.status == "interrupted") {
            eprintln!("warden: interrupted runs go on with `warden eval run --resume ID`");
        }
    }
    Ok(exit::OK)
}

async fn trend(global: &Global, series: &str, format: ReportFormat) -> Outcome {
    let (
        _home,
        warden_home::Stores {
            eval: eval_store, ..
        },
    ) = crate::commands::open_stores(global).await?;
    let mut rows = Vec::new();
    for run in eval_store.eval_runs().await?.into_iter().rev() {
        let Some(summary) = &run.summary else {
            continue;
        };
        let Ok(report) = serde_json::from_str::<Report>(summary) else {
            continue;
        };
        if report.run.series.as_deref() == Some(series) {
            rows.push(report);
        }
    }
    if rows.is_empty() {
        return Err(Failure::usage(anyhow::anyhow!(
            "no finished runs in series `{series}`; run with --series {series} --checkpoint NAME"
        )));
    }
    let json_rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "checkpoint": r.run.checkpoint, "run": r.run.id, "suite": r.run.suite,
                "pass": r.pass, "fail": r.fail, "error": r.error,
                "rate": r.overall.rate, "ci_low": r.overall.ci_low, "ci_high": r.overall.ci_high,
                "harmful_compliance": r.harmful_compliance, "benign_refusal": r.benign_refusal,
            })
        })
        .collect();
    if global.json || format == ReportFormat::Json {
        print_json(&json!({"series": series, "checkpoints": json_rows}));
        return Ok(exit::OK);
    }
    println!("# Series {series}\n");
    println!(
        "| checkpoint | suite | run | pass rate | 95 % CI | harmful compliance | benign refusal | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let percent = |rate: f64, of: u64| {
        if of == 0 {
            "—".to_owned()
        } else {
            format!("{:.1} %", rate * 100.0)
        }
    };
    for r in &rows {
        let scored = r.pass + r.fail;
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.run.checkpoint.as_deref().unwrap_or("?"),
            r.run.suite,
            r.run.id,
            percent(r.overall.rate, scored),
            if scored == 0 {
                "—".to_owned()
            } else {
                format!(
                    "{:.1}–{:.1} %",
                    r.overall.ci_low * 100.0,
                    r.overall.ci_high * 100.0
                )
            },
            percent(r.harmful_compliance.rate, r.harmful_compliance.of),
            percent(r.benign_refusal.rate, r.benign_refusal.of),
            r.error
        );
    }
    Ok(exit::OK)
}

/// A one-line progress bar on a terminal's stderr (done / total, errors, rate, time left);
/// silent when stderr is piped.
pub(crate) struct Bar {
    enabled: bool,
    /// What is counted: `calls`, `goals`, `completions`, `runs`.
    unit: &'static str,
    started: Instant,
    last_drawn: AtomicU64,
}

impl Bar {
    pub(crate) fn new(unit: &'static str) -> Bar {
        Bar {
            enabled: std::io::stderr().is_terminal(),
            unit,
            started: Instant::now(),
            last_drawn: AtomicU64::new(0),
        }
    }
}

/// The progress line: bar, counts, rate and time left at that rate.
fn progress_line(unit: &str, done: u64, total: u64, errors: u64, elapsed: Duration) -> String {
    let width = 30u64;
    let filled = (done * width)
        .checked_div(total)
        .unwrap_or(width)
        .min(width);
    let seconds = elapsed.as_secs_f64().max(1e-3);
    let rate = done as f64 / seconds;
    let left = if done == 0 || done >= total {
        "—".to_owned()
    } else {
        let secs = ((total - done) as f64 / rate).round() as u64;
        format!("{}:{:02}", secs / 60, secs % 60)
    };
    format!(
        "[{}{}] {done}/{total} {unit}, {errors} errors, {rate:.1}/s, ETA {left} ",
        "#".repeat(filled as usize),
        " ".repeat((width - filled) as usize)
    )
}

impl Progress for Bar {
    fn advance(&self, done: u64, total: u64, errors: u64) {
        if !self.enabled {
            return;
        }
        let now = self.started.elapsed().as_millis() as u64;
        let last = self.last_drawn.load(Ordering::Relaxed);
        if done != total && now.saturating_sub(last) < 100 {
            return;
        }
        self.last_drawn.store(now, Ordering::Relaxed);
        let line = progress_line(self.unit, done, total, errors, Duration::from_millis(now));
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}");
        let _ = err.flush();
    }

    fn finish(&self) {
        if self.enabled {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_15_progress_line_shows_counts_rate_and_time_left() {
        let line = progress_line("calls", 25, 100, 2, Duration::from_secs(10));
        assert!(line.starts_with("[#######       "), "{line}");
        assert!(
            line.contains("25/100 calls, 2 errors, 2.5/s, ETA 0:30"),
            "{line}"
        );
        let start = progress_line("goals", 0, 10, 0, Duration::ZERO);
        assert!(
            start.contains("0/10 goals, 0 errors, 0.0/s, ETA —"),
            "{start}"
        );
        let done = progress_line("runs", 3, 3, 0, Duration::from_secs(200));
        assert!(
            done.contains("3/3 runs") && done.contains("ETA —"),
            "{done}"
        );
        let long = progress_line("calls", 1, 500, 0, Duration::from_secs(60));
        assert!(long.contains("ETA 499:00"), "{long}");
    }
}
