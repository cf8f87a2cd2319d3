//! `warden gate`: lint policies, assess checkpoints on eval evidence, propose, sign, attest, pause.
//!
//! Every step that matters is a ledger entry (`gate.assessment`, `gate.attestation`,
//! `gate.proposal`, `gate.signoff`, `gate.decision`, `gate.pause`); the gate's state is folded
//! from those entries by `warden_gate::decision`, so it is exactly as trustworthy as the ledger.

use std::path::Path;

use serde_json::{Value, json};
use sha2::Digest as _;
use warden_eval::report::Report;
use warden_eval::run::{RunConfig, Sample};
use warden_gate::decision::{Action, GateState};
use warden_gate::{Attestation, Evidence, Policy, Stage};
use warden_ledger::Ledger;
use warden_ledger::entry::{EntryDraft, now_rfc3339};
use warden_ledger::home::Home;

use crate::args::{GateCommand, Global, ReportFormat};
use crate::commands::{local_actor, print_json};
use crate::exit::{self, Failure};

/// Run a `warden gate` command.
pub async fn run(global: &Global, command: GateCommand) -> Result<u8, Failure> {
    match command {
        GateCommand::Lint { files } => lint(global, &files),
        GateCommand::Assess {
            model,
            checkpoint,
            policy,
            max_age_days,
            compute_ratio,
            format,
        } => {
            assess(
                global,
                &model,
                &checkpoint,
                &policy,
                (max_age_days, compute_ratio),
                format,
            )
            .await
        }
        GateCommand::Propose {
            model,
            stage,
            action,
            policy,
            reason,
            actor,
        } => propose(global, &model, &stage, &action, &policy, &reason, actor).await,
        GateCommand::Sign { id, role, actor } => sign(global, &id, &role, actor).await,
        GateCommand::Attest {
            model,
            safeguard,
            stage,
            link,
            actor,
        } => {
            let (_home, ledger) = crate::commands::open(global).await?;
            let stage = stage.as_deref().map(parse_stage).transpose()?;
            let entry = append(
                &ledger,
                "gate.attestation",
                actor,
                &model,
                json!({"model": model, "safeguard": safeguard, "stage": stage, "link": link}),
            )
            .await?;
            report_entry(global, &entry, "attestation recorded");
            Ok(exit::OK)
        }
        GateCommand::Pause {
            model,
            stage,
            reason,
            actor,
        } => {
            let (home, ledger) = crate::commands::open(global).await?;
            let stage = stage.as_deref().map(parse_stage).transpose()?;
            let entry = append(
                &ledger,
                "gate.pause",
                actor,
                &model,
                json!({"model": model, "stage": stage, "reason": reason}),
            )
            .await?;
            notify(
                &home,
                json!({"event": "pause", "model": model, "stage": stage, "reason": reason,
                       "ledger_index": entry.index}),
            )
            .await;
            report_entry(global, &entry, "paused");
            Ok(exit::OK)
        }
        GateCommand::Status { model } => status(global, &model).await,
    }
}

fn parse_stage(text: &str) -> Result<Stage, Failure> {
    serde_json::from_value(Value::String(text.to_owned())).map_err(|_| {
        let names: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).collect();
        Failure::usage(anyhow::anyhow!(
            "unknown stage `{text}`; expected one of: {}",
            names.join(", ")
        ))
    })
}

fn load_policy(path: &Path) -> Result<Policy, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::usage(anyhow::anyhow!(
            "cannot read policy {}: {e}",
            path.display()
        ))
    })?;
    warden_gate::lint(&path.display().to_string(), &text).map_err(|diagnostics| {
        let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
        Failure::usage(anyhow::anyhow!(
            "the policy has problems; fix them (`warden gate lint` lists them):\n{}",
            lines.join("\n")
        ))
    })
}

fn lint(global: &Global, files: &[std::path::PathBuf]) -> Result<u8, Failure> {
    let mut all = Vec::new();
    for path in files {
        match std::fs::read_to_string(path) {
            Err(e) => all.push(format!("{}: cannot read: {e}", path.display())),
            Ok(text) => match warden_gate::lint(&path.display().to_string(), &text) {
                Ok(policy) => {
                    if !global.json {
                        println!(
                            "{}: ok (policy `{}` version {})",
                            path.display(),
                            policy.policy.id,
                            policy.policy.version
                        );
                    }
                }
                Err(diagnostics) => all.extend(diagnostics.iter().map(ToString::to_string)),
            },
        }
    }
    if global.json {
        print_json(&json!({"ok": all.is_empty(), "problems": all}));
    } else {
        for line in &all {
            eprintln!("{line}");
        }
    }
    Ok(if all.is_empty() {
        exit::OK
    } else {
        exit::USAGE
    })
}

fn actor_name(actor: Option<String>) -> String {
    actor.unwrap_or_else(|| local_actor(None))
}

async fn append(
    ledger: &Ledger,
    kind: &str,
    actor: Option<String>,
    subject: &str,
    payload: Value,
) -> Result<warden_ledger::entry::SealedEntry, Failure> {
    ledger
        .append(EntryDraft {
            kind: kind.into(),
            actor: actor_name(actor),
            subject: subject.into(),
            payload,
            time: now_rfc3339(),
        })
        .await
        .map_err(Failure::environment)
}

fn report_entry(global: &Global, entry: &warden_ledger::entry::SealedEntry, what: &str) {
    if global.json {
        print_json(&json!({"ledger_index": entry.index}));
    } else {
        println!("{what}: ledger entry {}", entry.index);
    }
}

/// Every `gate.*` ledger entry as `(index, kind, actor, payload)`.
async fn gate_entries(ledger: &Ledger) -> Result<Vec<(u64, String, String, Value)>, Failure> {
    warden_server::api::gate::gate_entries(ledger, 0)
        .await
        .map_err(Failure::environment)
}

async fn gate_state(ledger: &Ledger) -> Result<GateState, Failure> {
    let mut state = GateState::default();
    warden_server::api::gate::refresh(&mut state, ledger)
        .await
        .map_err(Failure::environment)?;
    Ok(state)
}

/// The eval evidence for `model` at `checkpoint`: every finished run tagged with that series
/// and checkpoint, compliance runs with their refusal-rate metrics added.
async fn evidence(
    ledger: &Ledger,
    model: &str,
    checkpoint: &str,
) -> Result<(Vec<Evidence>, Vec<Value>), Failure> {
    let mut evidence = Vec::new();
    let mut links = Vec::new();
    for run in ledger.store().eval_runs().await? {
        if run.status != "finished" {
            continue;
        }
        let (Ok(config), Some(summary)) = (
            serde_json::from_str::<RunConfig>(&run.config),
            run.summary.as_ref(),
        ) else {
            continue;
        };
        if config.series.as_deref() != Some(model)
            || config.checkpoint.as_deref() != Some(checkpoint)
        {
            continue;
        }
        let Ok(report) = serde_json::from_str::<Report>(summary) else {
            continue;
        };
        let mitigation = config
            .mitigation
            .as_deref()
            .and_then(|m| serde_json::from_value(Value::String(m.into())).ok());
        let mut item = Evidence::from_report(&report, mitigation);
        if run.suite == warden_eval::compliance::SUITE_NAME {
            let samples: Vec<Sample> = ledger
                .store()
                .eval_samples(&run.id)
                .await?
                .iter()
                .filter_map(|s| serde_json::from_str(&s.record).ok())
                .collect();
            let bank = warden_eval::compliance::bank().map_err(Failure::environment)?;
            let compliance = warden_eval::compliance::assess(&run.id, &bank, &samples);
            item.metrics
                .extend(warden_gate::metrics_from_compliance(&compliance));
        }
        links.push(json!({
            "suite": run.suite, "run": run.id, "finished_at": run.finished_at,
            "summary_sha256": warden_core::hex::encode(&sha2::Sha256::digest(summary.as_bytes())),
        }));
        evidence.push(item);
    }
    Ok((evidence, links))
}

async fn attestations(ledger: &Ledger, model: &str) -> Result<Vec<Attestation>, Failure> {
    Ok(gate_entries(ledger)
        .await?
        .into_iter()
        .filter(|(_, kind, _, payload)| kind == "gate.attestation" && payload["model"] == model)
        .filter_map(|(index, _, actor, payload)| {
            Some(Attestation {
                safeguard: payload["safeguard"].as_str()?.to_owned(),
                stage: serde_json::from_value(payload["stage"].clone()).ok(),
                by: actor,
                at: format!("ledger entry {index}"),
                link: payload["link"].as_str().unwrap_or_default().to_owned(),
            })
        })
        .collect())
}

async fn assess(
    global: &Global,
    model: &str,
    checkpoint: &str,
    policy_path: &Path,
    (max_age_days, compute_ratio): (u32, Option<f64>),
    format: ReportFormat,
) -> Result<u8, Failure> {
    let policy = load_policy(policy_path)?;
    let policy_text = std::fs::read(policy_path).unwrap_or_default();
    let (home, ledger) = crate::commands::open(global).await?;
    let (evidence, links) = evidence(&ledger, model, checkpoint).await?;
    let attestations = attestations(&ledger, model).await?;
    let assessment = warden_gate::assess(
        &policy,
        &evidence,
        &attestations,
        &now_rfc3339(),
        max_age_days,
    );
    let last_elicitation = evidence.iter().map(|e| e.finished_at.clone()).max();
    let triggers = warden_gate::reassessment_due(
        &policy,
        &warden_gate::ScalingState {
            effective_compute_ratio: compute_ratio,
            last_elicitation_at: last_elicitation,
        },
        &now_rfc3339(),
    );
    let assessment_json = serde_json::to_value(&assessment).map_err(Failure::environment)?;
    let digest = |bytes: &[u8]| warden_core::hex::encode(&sha2::Sha256::digest(bytes));
    let determinations: Vec<Value> = assessment
        .thresholds
        .iter()
        .map(|t| json!({"threshold": t.threshold, "determination": t.determination}))
        .collect();
    // Recipients hear of thresholds the evidence shows crossed; `cannot_rule_out` (often just
    // missing evidence) is in the assessment and treated as crossed by the gate, but not news.
    let crossed: Vec<&str> = assessment
        .thresholds
        .iter()
        .filter(|t| t.determination == warden_gate::Determination::Crossed)
        .map(|t| t.threshold.as_str())
        .collect();
    let entry = append(
        &ledger,
        "gate.assessment",
        None,
        &format!("{model}@{checkpoint}"),
        json!({
            "model": model, "checkpoint": checkpoint,
            "policy": policy.policy.id, "policy_version": policy.policy.version,
            "policy_sha256": digest(&policy_text),
            "evidence": links, "determinations": determinations,
            "stages": assessment.stages.iter()
                .map(|s| json!({"stage": s.stage, "permitted": s.permitted}))
                .collect::<Vec<_>>(),
            "assessment_sha256": digest(assessment_json.to_string().as_bytes()),
        }),
    )
    .await?;
    if !crossed.is_empty() {
        notify(
            &home,
            json!({"event": "threshold", "model": model, "checkpoint": checkpoint,
                   "policy": policy.policy.id, "crossed": crossed,
                   "ledger_index": entry.index}),
        )
        .await;
    }
    if global.json || format == ReportFormat::Json {
        let mut out = assessment_json;
        out["ledger_index"] = json!(entry.index);
        out["model"] = json!(model);
        out["checkpoint"] = json!(checkpoint);
        out["evidence"] = Value::Array(links);
        out["triggers"] = serde_json::to_value(&triggers).map_err(Failure::environment)?;
        print_json(&out);
    } else if format == ReportFormat::Html {
        print!("{}", warden_gate::scorecard::to_html(&assessment));
    } else {
        print!("{}", warden_gate::scorecard::to_markdown(&assessment));
        if !triggers.is_empty() {
            println!("\n## Re-assessment triggers\n");
            for trigger in &triggers {
                println!(
                    "- {}: {}",
                    if trigger.due { "DUE" } else { "not due" },
                    trigger.reason
                );
            }
        }
        println!("\nRecorded as ledger entry {}.", entry.index);
    }
    Ok(exit::OK)
}

#[allow(clippy::too_many_arguments)]
async fn propose(
    global: &Global,
    model: &str,
    stage: &str,
    action: &str,
    policy_path: &Path,
    reason: &str,
    actor: Option<String>,
) -> Result<u8, Failure> {
    let stage = parse_stage(stage)?;
    let action: Action = action
        .parse()
        .map_err(|e: String| Failure::usage(anyhow::anyhow!(e)))?;
    let policy = load_policy(policy_path)?;
    let (_home, ledger) = crate::commands::open(global).await?;
    let latest = gate_entries(&ledger)
        .await?
        .into_iter()
        .rev()
        .find(|(_, kind, _, payload)| kind == "gate.assessment" && payload["model"] == model);
    let latest_assessment = latest.as_ref().map(|(index, ..)| *index);
    // A plain `proceed` must rest on an assessment that permits the stage; anything else needs
    // its conditions written down.
    if action == Action::Proceed {
        let permitted = latest.as_ref().is_some_and(|(_, _, _, payload)| {
            payload["stages"].as_array().is_some_and(|stages| {
                stages
                    .iter()
                    .any(|s| s["stage"] == stage.as_str() && s["permitted"] == true)
            })
        });
        if !permitted {
            return Err(Failure::usage(anyhow::anyhow!(
                "the latest assessment of `{model}` does not permit {}{}; run `warden gate assess`, or propose proceed-with-conditions with --reason stating the conditions",
                stage.as_str(),
                latest_assessment.map_or_else(
                    || " (there is none)".to_owned(),
                    |i| format!(" (ledger entry {i})")
                )
            )));
        }
    }
    if action == Action::ProceedWithConditions && reason.trim().is_empty() {
        return Err(Failure::usage(anyhow::anyhow!(
            "proceed-with-conditions needs --reason stating the conditions"
        )));
    }
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let id = format!("dec-{}", &unique[unique.len() - 8..]);
    let roles: Vec<String> = policy
        .signoff
        .roles
        .iter()
        .map(ToString::to_string)
        .collect();
    let entry = append(
        &ledger,
        "gate.proposal",
        actor,
        &format!("gate-proposal:{id}"),
        json!({
            "id": id, "model": model, "stage": stage, "action": action, "roles": roles,
            "distinct": policy.signoff.distinct, "policy": policy.policy.id, "reason": reason,
            "assessment_index": latest_assessment,
        }),
    )
    .await?;
    if global.json {
        print_json(&json!({"id": id, "ledger_index": entry.index, "roles": roles}));
    } else {
        println!(
            "proposal {id} (ledger entry {}): {} {model} at {}; needs sign-off by: {}",
            entry.index,
            action.as_str(),
            stage.as_str(),
            roles.join(", ")
        );
    }
    Ok(exit::OK)
}

async fn sign(global: &Global, id: &str, role: &str, actor: Option<String>) -> Result<u8, Failure> {
    use warden_server::api::gate::SignError;
    let (_home, ledger) = crate::commands::open(global).await?;
    let mut state = GateState::default();
    let signed = warden_server::api::gate::sign(&ledger, &mut state, id, role, &actor_name(actor))
        .await
        .map_err(|error| match error {
            SignError::Refused(message) => Failure::usage(anyhow::anyhow!(message)),
            SignError::Ledger(error) => Failure::environment(error),
        })?;
    if global.json {
        print_json(&serde_json::to_value(&signed).map_err(Failure::environment)?);
    } else if let Some(index) = signed.decision_index {
        println!(
            "signed (ledger entry {}); every role has signed: decision {id} is in force (ledger entry {index})",
            signed.ledger_index
        );
    } else {
        println!(
            "signed (ledger entry {}); still to sign: {}",
            signed.ledger_index,
            signed.remaining_roles.join(", ")
        );
    }
    Ok(exit::OK)
}

async fn status(global: &Global, model: &str) -> Result<u8, Failure> {
    let (_home, ledger) = crate::commands::open(global).await?;
    let state = gate_state(&ledger).await?;
    let answers: Vec<_> = Stage::ALL.iter().map(|s| state.answer(model, *s)).collect();
    let pending: Vec<Value> = state
        .pending
        .values()
        .filter(|p| p.proposal.model == model)
        .map(|p| {
            json!({"id": p.proposal.id, "stage": p.proposal.stage, "action": p.proposal.action,
                   "missing_roles": p.missing_roles(), "ledger_index": p.index})
        })
        .collect();
    if global.json {
        print_json(
            &json!({"model": model, "stages": answers, "pending": pending,
                           "rejected_entries": state.rejected}),
        );
    } else {
        for answer in &answers {
            println!(
                "{:<20} {:<8} {}",
                answer.stage.as_str(),
                if answer.allowed { "allowed" } else { "blocked" },
                answer.why
            );
        }
        for p in &pending {
            println!("pending {}: missing {}", p["id"], p["missing_roles"]);
        }
    }
    Ok(exit::OK)
}

/// Tell the configured recipients; a failed delivery is reported, never fatal (the ledger entry
/// is the record; notifications are a courtesy on top).
async fn notify(home: &Home, message: Value) {
    let config = &home.config().gate;
    if let Some(dir) = &config.notify_dir {
        let name = format!(
            "warden-{}-{}.json",
            message["event"].as_str().unwrap_or("event"),
            message["ledger_index"]
        );
        let written = std::fs::create_dir_all(dir).and_then(|()| {
            std::fs::write(
                dir.join(&name),
                serde_json::to_vec_pretty(&message).unwrap_or_default(),
            )
        });
        if let Err(e) = written {
            eprintln!(
                "warden: could not drop notification in {}: {e}",
                dir.display()
            );
        }
    }
    let client = reqwest::Client::new();
    for url in &config.notify_webhooks {
        let sent = client
            .post(url)
            .timeout(std::time::Duration::from_secs(10))
            .json(&message)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => eprintln!("warden: webhook {url} answered {}", response.status()),
            Err(e) => eprintln!("warden: webhook {url} failed: {e}"),
        }
    }
}
