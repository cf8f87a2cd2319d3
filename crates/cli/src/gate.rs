//! `warden gate`: lint policies, assess checkpoints on eval evidence, propose, sign, attest,
//! pause. Thin over [`warden_gate::service`], which records every step as a ledger entry; the
//! gate's state is folded from those entries, so it is exactly as trustworthy as the ledger and
//! the signatures in it.

use std::path::Path;

use anyhow::anyhow;
use serde_json::{Value, json};
use warden_gate::decision::{Action, GateState};
use warden_gate::service::{self, GateError, Notifier, ProposeRequest};
use warden_gate::{Policy, Stage};
use warden_home::Home;

use crate::args::{GateCommand, Global, ReportFormat};
use crate::commands::{local_actor, print_json};
use crate::exit::{self, Failure};

impl From<GateError> for Failure {
    fn from(error: GateError) -> Self {
        match error {
            GateError::Refused(_) => Failure::usage(error),
            GateError::Ledger(error) => error.into(),
            GateError::Store(error) => error.into(),
            GateError::Environment(_) => Failure::environment(error),
        }
    }
}

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
            is_override,
            actor,
        } => {
            let stage = parse_stage(&stage)?;
            let action: Action = action
                .parse()
                .map_err(|e: String| Failure::usage(anyhow!(e)))?;
            let policy = load_policy(&policy)?;
            let actor = local_actor(actor);
            let (_home, ledger) = crate::commands::open(global).await?;
            let mut state = service::load(&ledger).await?;
            let proposed = service::propose(
                &ledger,
                &mut state,
                &ProposeRequest {
                    model: &model,
                    stage,
                    action,
                    policy: &policy,
                    reason: &reason,
                    is_override,
                    actor: &actor,
                },
            )
            .await?;
            if global.json {
                print_json(&json!(proposed));
            } else {
                println!(
                    "proposal {} (ledger entry {}): {} {model} at {}{}; needs sign-off by: {}",
                    proposed.id,
                    proposed.ledger_index,
                    action.as_str(),
                    stage.as_str(),
                    if is_override {
                        " (override of a halt)"
                    } else {
                        ""
                    },
                    proposed.roles.join(", ")
                );
            }
            Ok(exit::OK)
        }
        GateCommand::Sign {
            id,
            role,
            signing_key,
            print_note,
        } => sign(global, &id, &role, &signing_key, print_note).await,
        GateCommand::Attest {
            model,
            safeguard,
            stage,
            link,
            actor,
        } => {
            let (_home, ledger) = crate::commands::open(global).await?;
            let stage = stage.as_deref().map(parse_stage).transpose()?;
            let entry = service::attest(
                &ledger,
                &model,
                &safeguard,
                stage,
                &link,
                &local_actor(actor),
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
            let entry =
                service::pause(&ledger, &model, stage, &reason, &local_actor(actor)).await?;
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

fn report_entry(global: &Global, entry: &warden_ledger::entry::SealedEntry, what: &str) {
    if global.json {
        print_json(&json!({"ledger_index": entry.index}));
    } else {
        println!("{what}: ledger entry {}", entry.index);
    }
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
    let (home, stores) = crate::commands::open_stores(global).await?;
    let assessed = service::assess(
        &stores.ledger,
        stores.eval.as_ref(),
        model,
        checkpoint,
        &policy,
        &policy_text,
        max_age_days,
        compute_ratio,
        &local_actor(None),
    )
    .await?;
    for excluded in &assessed.evidence.excluded {
        eprintln!("warden: {excluded}");
    }
    if !assessed.crossed.is_empty() {
        notify(
            &home,
            json!({"event": "threshold", "model": model, "checkpoint": checkpoint,
                   "policy": policy.policy.id, "crossed": assessed.crossed,
                   "ledger_index": assessed.ledger_index}),
        )
        .await;
    }
    let assessment = &assessed.assessment;
    if global.json || format == ReportFormat::Json {
        let mut out = serde_json::to_value(assessment).map_err(Failure::environment)?;
        out["ledger_index"] = json!(assessed.ledger_index);
        out["model"] = json!(model);
        out["checkpoint"] = json!(checkpoint);
        out["evidence"] = Value::Array(assessed.evidence.links.clone());
        out["excluded_evidence"] = json!(assessed.evidence.excluded);
        out["triggers"] = serde_json::to_value(&assessed.triggers).map_err(Failure::environment)?;
        print_json(&out);
    } else if format == ReportFormat::Html {
        print!("{}", warden_gate::scorecard::to_html(assessment));
    } else {
        print!("{}", warden_gate::scorecard::to_markdown(assessment));
        if !assessed.triggers.is_empty() {
            println!("\n## Re-assessment triggers\n");
            for trigger in &assessed.triggers {
                println!(
                    "- {}: {}",
                    if trigger.due { "DUE" } else { "not due" },
                    trigger.reason
                );
            }
        }
        println!("\nRecorded as ledger entry {}.", assessed.ledger_index);
    }
    Ok(exit::OK)
}

/// Sign with the person's own signing key: the person is whoever the ledger registered the key
/// to, never a name typed on the command line.
async fn sign(
    global: &Global,
    id: &str,
    role: &str,
    signing_key: &Path,
    print_note: bool,
) -> Result<u8, Failure> {
    let signer = crate::signer::read_signing_key(signing_key)?;
    let (_home, ledger) = crate::commands::open(global).await?;
    let mut state = service::load(&ledger).await?;
    let person = crate::signer::registered_person(&state.access, &signer)?;
    let statement = service::statement(&state, id, role, &person)?;
    let note = signer.sign(&statement).map_err(Failure::environment)?;
    if print_note {
        print!("{note}");
        return Ok(exit::OK);
    }
    let signed = service::sign(
        &ledger,
        &mut state,
        id,
        role,
        &person,
        &note,
        &format!("person:{person}"),
    )
    .await?;
    if global.json {
        print_json(&serde_json::to_value(&signed).map_err(Failure::environment)?);
    } else if let Some(index) = signed.decision_index {
        println!(
            "signed as {person} (ledger entry {}); every role has signed: decision {id} is in force (ledger entry {index})",
            signed.ledger_index
        );
    } else {
        println!(
            "signed as {person} (ledger entry {}); still to sign: {}",
            signed.ledger_index,
            signed.remaining_roles.join(", ")
        );
    }
    Ok(exit::OK)
}

async fn status(global: &Global, model: &str) -> Result<u8, Failure> {
    let (_home, ledger) = crate::commands::open(global).await?;
    let state: GateState = service::load(&ledger).await?;
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
    let mut rejected: Vec<(u64, String)> = state
        .rejected
        .iter()
        .chain(&state.access.rejected)
        .cloned()
        .collect();
    rejected.sort();
    if global.json {
        print_json(
            &json!({"model": model, "stages": answers, "pending": pending,
                           "rejected_entries": rejected}),
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
        for (index, why) in &rejected {
            println!("rejected ledger entry {index}: {why}");
        }
    }
    Ok(exit::OK)
}

/// Tell the configured recipients; a failed delivery is reported, never fatal (the ledger entry
/// is the record; notifications are a courtesy on top).
async fn notify(home: &Home, message: Value) {
    let config = &home.config().gate;
    let notifier = Notifier {
        dir: config.notify_dir.clone(),
        webhooks: config.notify_webhooks.clone(),
        // `open` already added the home's `[tls] ca_file` to the trusted roots.
        client: warden_net::client().unwrap_or_default(),
    };
    for failure in notifier.notify(&message).await {
        eprintln!("warden: {failure}");
    }
}
