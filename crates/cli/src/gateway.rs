//! `warden gateway` and `warden guard`: run the guard gateway, pull the kill switch, restore,
//! roll back, drill, read decision records and the misuse report; check text with the filters.
//! Thin over [`warden_gateway`] and [`warden_guard`].

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use serde_json::{Value, json};
use warden_gateway::config::RouteConfig;
use warden_gateway::service::{self, ServiceError};
use warden_guard::lexicon::REFERENCE_TOTAL;
use warden_ledger::Ledger;
use warden_ledger::entry::SealedEntry;
use warden_ledger::note::NoteSigner;

use crate::args::{GatewayArgs, GatewayCommand, GatewayRun, Global, GuardCommand};
use crate::commands::{local_actor, print_json};
use crate::exit::{self, Failure};

impl From<ServiceError> for Failure {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Refused(_) => Failure::usage(error),
            ServiceError::Ledger(error) => error.into(),
        }
    }
}

/// Run a `warden gateway` command.
pub async fn run(global: &Global, args: GatewayArgs) -> Result<u8, Failure> {
    let Some(command) = args.command else {
        return serve(global, args.run).await;
    };
    let (home, stores) = crate::commands::open_stores(global).await?;
    let ledger = &stores.ledger;
    let config = &home.config().gateway;
    match command {
        GatewayCommand::Withdraw { model, reason } => {
            let entry = service::withdraw(ledger, &model, &reason, &local_actor(None)).await?;
            report(
                global,
                &json!({"model": model, "withdrawn": true, "ledger_index": entry.index}),
                || {
                    format!(
                        "withdrew `{model}` (ledger entry {}): every gateway on this database refuses it from its next ledger read",
                        entry.index
                    )
                },
            );
        }
        GatewayCommand::Restore { model, signing_key } => {
            let (signer, person) = signer_and_person(ledger, &signing_key).await?;
            let entry = signed_restore(ledger, &model, &signer, &person).await?;
            report(
                global,
                &json!({"model": model, "restored": true, "person": person, "ledger_index": entry.index}),
                || {
                    format!(
                        "restored `{model}` as {person} (ledger entry {})",
                        entry.index
                    )
                },
            );
        }
        GatewayCommand::Rollback { model, to, current } => {
            let route = config.route(&model).ok_or_else(|| {
                Failure::usage(anyhow!(
                    "`{model}` has no route in warden.toml: rollback needs [[gateway.routes]] with known-good versions"
                ))
            })?;
            let to = if current { None } else { to };
            let entry = service::rollback(ledger, route, to.as_deref(), &local_actor(None)).await?;
            let serving = to
                .clone()
                .or_else(|| route.current().map(|v| v.name.clone()));
            report(
                global,
                &json!({"model": model, "version": serving, "ledger_index": entry.index}),
                || {
                    format!(
                        "`{model}` now routes to `{}` (ledger entry {})",
                        serving.as_deref().unwrap_or("?"),
                        entry.index
                    )
                },
            );
        }
        GatewayCommand::Status => {
            let state = service::load(ledger).await?;
            let status = json!({
                "withdrawn": state.withdrawn,
                "rolled_back": state.rolled_back,
                "rejected": state.rejected.iter().map(|(i, why)| json!({"ledger_index": i, "why": why})).collect::<Vec<_>>(),
                "routes": config.routes.iter().map(|r| &r.model).collect::<Vec<_>>(),
            });
            report(global, &status, || {
                let mut lines = Vec::new();
                for (model, w) in &state.withdrawn {
                    lines.push(format!(
                        "{model}: withdrawn by {} at ledger entry {}: {}",
                        w.actor, w.index, w.reason
                    ));
                }
                for (model, r) in &state.rolled_back {
                    lines.push(format!(
                        "{model}: rolled back to `{}` by {} (ledger entry {})",
                        r.version, r.actor, r.index
                    ));
                }
                for (index, why) in &state.rejected {
                    lines.push(format!("ledger entry {index} changed nothing: {why}"));
                }
                if lines.is_empty() {
                    lines.push("no model is withdrawn or rolled back".into());
                }
                lines.join("\n")
            });
        }
        GatewayCommand::Decisions { hours, limit } => {
            for row in stores.decisions.decisions(&since(hours), limit).await? {
                println!("{}", row.record);
            }
        }
        GatewayCommand::Report { hours } => {
            let rows = stores.decisions.decisions(&since(hours), i64::MAX).await?;
            let summary = misuse_report(rows.iter().map(|r| r.record.as_str()), hours);
            report(global, &summary, || render_report(&summary));
        }
        GatewayCommand::Prune => {
            let cutoff = since(u64::from(config.retention_days) * 24);
            let deleted = stores.decisions.prune_decisions(&cutoff).await?;
            report(
                global,
                &json!({"deleted": deleted, "before": cutoff}),
                || format!("deleted {deleted} decision records from before {cutoff}"),
            );
        }
        GatewayCommand::ForgetUsers => {
            let path = home.root().join(warden_gateway::USER_KEY_FILE);
            let key = std::fs::read(&path).map_err(|e| {
                Failure::usage(anyhow!(
                    "no pseudonym key at {} ({e}): nothing to forget",
                    path.display()
                ))
            })?;
            let fingerprint: String =
                warden_gateway::decision::sha256_hex(&String::from_utf8_lossy(&key))
                    .chars()
                    .take(16)
                    .collect();
            std::fs::remove_file(&path).map_err(Failure::environment)?;
            let entry =
                service::record_users_forgotten(ledger, &fingerprint, &local_actor(None)).await?;
            report(
                global,
                &json!({"forgotten": fingerprint, "ledger_index": entry.index}),
                || {
                    format!(
                        "destroyed the end-user pseudonym key {fingerprint}… (ledger entry {}); restart the gateways: they start a new key",
                        entry.index
                    )
                },
            );
        }
        GatewayCommand::Tier { user, tier, clear } => {
            let key = warden_gateway::user_key(home.root())
                .map_err(|e| Failure::environment(anyhow!(e)))?;
            let pseudonym = warden_gateway::decision::pseudonym(&key, &user);
            let tier = if clear { None } else { tier };
            if let Some(name) = &tier
                && config.tier(name).is_none()
            {
                return Err(Failure::usage(anyhow!(
                    "no tier `{name}` in [[gateway.tiers]] of warden.toml"
                )));
            }
            let entry =
                service::set_tier(ledger, &pseudonym, tier.as_deref(), &local_actor(None)).await?;
            report(
                global,
                &json!({"user": pseudonym, "tier": tier, "ledger_index": entry.index}),
                || {
                    format!(
                        "end user {}… now has tier {} (ledger entry {})",
                        &pseudonym[..12],
                        tier.as_deref().unwrap_or("(default)"),
                        entry.index
                    )
                },
            );
        }
        GatewayCommand::Appeals => {
            let state = service::load(ledger).await?;
            let mut appeals = Vec::new();
            for appeal in state.appeals.values() {
                let message = stores.decisions.appeal_message(&appeal.id).await?;
                appeals.push(warden_gateway::review::appeal_json(appeal, message));
            }
            report(global, &json!({"appeals": appeals}), || {
                if appeals.is_empty() {
                    return "no appeals".to_owned();
                }
                appeals
                    .iter()
                    .map(|a| {
                        format!(
                            "{} (ledger entry {}) against escalation {}: {}\n  {}",
                            a["appeal"].as_str().unwrap_or(""),
                            a["ledger_index"],
                            a["escalation"],
                            a["decision"]["outcome"].as_str().unwrap_or("open"),
                            a["message"].as_str().unwrap_or("(text pruned)")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        GatewayCommand::DecideAppeal {
            id,
            outcome,
            signing_key,
        } => {
            let (_, person) = signer_and_person(ledger, &signing_key).await?;
            let entry =
                service::decide_appeal(ledger, &id, &outcome, &person, &format!("person:{person}"))
                    .await?;
            report(
                global,
                &json!({"appeal": id, "outcome": outcome, "person": person, "ledger_index": entry.index}),
                || {
                    format!(
                        "appeal {id} {outcome} by {person} (ledger entry {})",
                        entry.index
                    )
                },
            );
        }
        GatewayCommand::Reviews { all, limit } => {
            for row in stores.decisions.reviews(!all, limit).await? {
                println!("{}", warden_gateway::review::review_json(&row));
            }
        }
        GatewayCommand::Label { id, label } => {
            let at = warden_gateway::decision::now_fixed();
            if !stores
                .decisions
                .label_review(&id, &label, &local_actor(None), &at)
                .await?
            {
                return Err(Failure::usage(anyhow!(
                    "no sampled request {id} in the review queue"
                )));
            }
            report(global, &json!({"decision": id, "label": label}), || {
                format!("{id}: {label}")
            });
        }
        GatewayCommand::FilterRates => {
            let rows = stores.decisions.reviews(false, i64::MAX).await?;
            let rates = warden_gateway::review::rates(&rows);
            report(global, &rates, || render_rates(&rates));
        }
        GatewayCommand::ExportLabels { out } => {
            let rows = stores.decisions.reviews(false, i64::MAX).await?;
            let jsonl = warden_gateway::review::training_jsonl(&rows);
            std::fs::write(&out, &jsonl).map_err(|e| {
                Failure::environment(anyhow!("cannot write {}: {e}", out.display()))
            })?;
            let lines = jsonl.lines().count();
            report(global, &json!({"out": out, "examples": lines}), || {
                format!("wrote {lines} labelled examples to {}", out.display())
            });
        }
        GatewayCommand::Drill {
            model,
            gateways,
            key,
            signing_key,
        } => {
            let (signer, person) = signer_and_person(ledger, &signing_key).await?;
            let client = reqwest::Client::new();
            for gateway in &gateways {
                if !listed(&client, gateway, &key, &model).await? {
                    return Err(Failure::usage(anyhow!(
                        "{gateway} does not serve `{model}` now; drill on a model that is being served"
                    )));
                }
            }
            let entry =
                service::withdraw(ledger, &model, "kill-switch drill", &local_actor(None)).await?;
            let refused = wait_all(&client, &gateways, &key, &model, false).await?;
            signed_restore(ledger, &model, &signer, &person).await?;
            let served = wait_all(&client, &gateways, &key, &model, true).await?;
            let measured = json!({"gateways": gateways, "withdrawn_at": entry.index, "ms_until_refused": refused, "ms_until_served_again": served});
            let drill = service::record_drill(
                ledger,
                &model,
                &format!("person:{person}"),
                measured.clone(),
            )
            .await?;
            report(
                global,
                &json!({"model": model, "measured": measured, "ledger_index": drill.index}),
                || {
                    format!(
                        "drill on `{model}`: refused after {refused:?} ms, served again after {served:?} ms (gateways: {}); recorded at ledger entry {}",
                        gateways.join(", "),
                        drill.index
                    )
                },
            );
        }
    }
    Ok(exit::OK)
}

/// The signing key at `path` and the person the ledger registered it to.
async fn signer_and_person(ledger: &Ledger, path: &Path) -> Result<(NoteSigner, String), Failure> {
    let signer = crate::signer::read_signing_key(path)?;
    let person = crate::signer::registered_person(&ledger.access_state().await?, &signer)?;
    Ok((signer, person))
}

/// Lift a withdrawal with `person`'s signed statement.
async fn signed_restore(
    ledger: &Ledger,
    model: &str,
    signer: &NoteSigner,
    person: &str,
) -> Result<SealedEntry, Failure> {
    let text = service::restore_text(ledger, model, person).await?;
    let note = signer.sign(&text).map_err(Failure::environment)?;
    Ok(service::restore(ledger, model, person, &note, &format!("person:{person}")).await?)
}

fn report(global: &Global, value: &Value, text: impl FnOnce() -> String) {
    if global.json {
        print_json(value);
    } else {
        println!("{}", text());
    }
}

/// RFC 3339 `hours` ago, in the decision records' fixed-width form.
fn since(hours: u64) -> String {
    let seconds = i64::try_from(hours.saturating_mul(3600)).unwrap_or(i64::MAX);
    let now = jiff::Timestamp::now();
    warden_gateway::decision::fixed(
        now.checked_sub(jiff::SignedDuration::from_secs(seconds))
            .unwrap_or(jiff::Timestamp::MIN),
    )
}

/// Whether `gateway` lists `model` at `/v1/models` (a withdrawn or gate-refused model is not).
async fn listed(
    client: &reqwest::Client,
    gateway: &str,
    key: &str,
    model: &str,
) -> Result<bool, Failure> {
    let url = format!("{}/v1/models", gateway.trim_end_matches('/'));
    let list: Value = client
        .get(&url)
        .bearer_auth(key)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| Failure::environment(anyhow!("{url}: {}", warden_net::describe(&e))))?
        .json()
        .await
        .map_err(|e| Failure::environment(anyhow!("{url}: {e}")))?;
    Ok(list["data"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| m["id"] == model))
}

/// Milliseconds until each gateway lists (`serving`) or stops listing `model`.
async fn wait_all(
    client: &reqwest::Client,
    gateways: &[String],
    key: &str,
    model: &str,
    serving: bool,
) -> Result<Vec<u64>, Failure> {
    let started = Instant::now();
    let mut times = vec![None; gateways.len()];
    while times.iter().any(Option::is_none) {
        if started.elapsed() > Duration::from_secs(60) {
            return Err(Failure::environment(anyhow!(
                "not every gateway {} `{model}` within 60 s: {times:?}",
                if serving { "serves" } else { "refuses" }
            )));
        }
        for (gateway, time) in gateways.iter().zip(times.iter_mut()) {
            if time.is_none() && listed(client, gateway, key, model).await? == serving {
                *time = Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(times.into_iter().flatten().collect())
}

/// Requests per action, category, model and day from decision records.
fn misuse_report<'a>(records: impl Iterator<Item = &'a str>, hours: u64) -> Value {
    let mut actions: BTreeMap<String, u64> = BTreeMap::new();
    let mut categories: BTreeMap<String, u64> = BTreeMap::new();
    let mut models: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut days: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut users: BTreeMap<String, u64> = BTreeMap::new();
    let mut tiers: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut total = 0u64;
    let mut unreadable = 0u64;
    for record in records {
        let Ok(decision) = serde_json::from_str::<warden_gateway::decision::Decision>(record)
        else {
            unreadable += 1;
            continue;
        };
        total += 1;
        *actions.entry(decision.action.clone()).or_default() += 1;
        for category in &decision.categories {
            *categories.entry(category.clone()).or_default() += 1;
        }
        *models
            .entry(decision.model.clone())
            .or_default()
            .entry(decision.action.clone())
            .or_default() += 1;
        *tiers
            .entry(decision.tier.clone().unwrap_or_else(|| "(none)".to_owned()))
            .or_default()
            .entry(decision.action.clone())
            .or_default() += 1;
        let day = decision.at.get(..10).unwrap_or("").to_owned();
        *days
            .entry(day)
            .or_default()
            .entry(decision.action.clone())
            .or_default() += 1;
        if decision.action == "block"
            && let Some(user) = &decision.user
        {
            *users.entry(user.clone()).or_default() += 1;
        }
    }
    let mut repeat: Vec<(String, u64)> = users.into_iter().filter(|(_, n)| *n > 1).collect();
    repeat.sort_by_key(|r| std::cmp::Reverse(r.1));
    repeat.truncate(20);
    json!({
        "hours": hours,
        "requests": total,
        "unreadable_records": unreadable,
        "by_action": actions,
        "by_category": categories,
        "by_model": models,
        "by_tier": tiers,
        "by_day": days,
        "users_blocked_repeatedly": repeat.iter().map(|(u, n)| json!({"user": u, "blocked": n})).collect::<Vec<_>>(),
    })
}

fn render_rates(rates: &Value) -> String {
    let share = |s: &Value| {
        format!(
            "{:>5.1}% [{:.1}, {:.1}] ({}/{})",
            100.0 * s["rate"].as_f64().unwrap_or(0.0),
            100.0 * s["low"].as_f64().unwrap_or(0.0),
            100.0 * s["high"].as_f64().unwrap_or(1.0),
            s["count"],
            s["of"]
        )
    };
    let mut out = format!(
        "{} labelled reviews ({} waiting)\n\n{:<12} {:<34} {}\n",
        rates["labelled"],
        rates["unlabelled"],
        "filter",
        "false positives (benign hits)",
        "false negatives (harmful missed)"
    );
    for filter in rates["filters"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:<12} {:<34} {}\n",
            filter["filter"].as_str().unwrap_or(""),
            share(&filter["false_positives"]),
            share(&filter["false_negatives"])
        ));
    }
    out.push_str(&format!(
        "\npassed traffic judged harmful: {}\n",
        share(&rates["passed_but_harmful"])
    ));
    out
}

fn render_report(summary: &Value) -> String {
    let mut out = format!(
        "Misuse report, last {} h: {} requests ({} unreadable records)\n",
        summary["hours"], summary["requests"], summary["unreadable_records"]
    );
    for (title, key) in [("by action", "by_action"), ("by category", "by_category")] {
        out.push_str(&format!("\n{title}:\n"));
        if let Some(map) = summary[key].as_object() {
            for (name, count) in map {
                out.push_str(&format!("  {name:<24} {count}\n"));
            }
        }
    }
    if let Some(users) = summary["users_blocked_repeatedly"].as_array()
        && !users.is_empty()
    {
        out.push_str("\nend users blocked more than once (pseudonyms):\n");
        for user in users {
            out.push_str(&format!(
                "  {} {}\n",
                &user["user"].as_str().unwrap_or("")
                    [..16.min(user["user"].as_str().unwrap_or("").len())],
                user["blocked"]
            ));
        }
    }
    out
}

async fn serve(global: &Global, run: GatewayRun) -> Result<u8, Failure> {
    let (home, stores) = crate::commands::open_stores(global).await?;
    let mut config = home.config().gateway.clone();
    if let Some(addr) = run.addr {
        config.addr = addr;
    }
    let problems = config.problems();
    if !problems.is_empty() {
        return Err(Failure::usage(anyhow!(
            "[gateway] in warden.toml has problems:\n  {}",
            problems.join("\n  ")
        )));
    }
    // Printed after the address line, which is the first line naming a URL.
    let mut notes = Vec::new();
    let routes: BTreeMap<String, RouteConfig> = if config.routes.is_empty() {
        let upstream = run.upstream.as_deref().ok_or_else(|| {
            Failure::usage(anyhow!(
                "no routes: pass --upstream URL (an OpenAI-compatible …/v1) or configure [[gateway.routes]] in warden.toml"
            ))
        })?;
        let routes = warden_gateway::discover_routes(
            upstream,
            Duration::from_secs(config.upstream_timeout_s),
        )
        .await
        .map_err(|e| Failure::environment(anyhow!(e)))?;
        notes.push(format!(
            "warden gateway: routing {} model(s) from the upstream as ungated routes ({}); gate enforcement applies to routes bound to a gate model in warden.toml",
            routes.len(),
            routes.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
        routes
    } else {
        if run.upstream.is_some() {
            notes.push(
                "warden gateway: --upstream is ignored: warden.toml configures routes".into(),
            );
        }
        config
            .routes
            .iter()
            .map(|r| (r.model.clone(), r.clone()))
            .collect()
    };
    let guard = warden_gateway::build_guard(&config, home.root(), run.block_terms.as_deref())
        .map_err(|e| Failure::usage(anyhow!(e)))?;
    let user_key =
        warden_gateway::user_key(home.root()).map_err(|e| Failure::environment(anyhow!(e)))?;
    let pruned = stores
        .decisions
        .prune_decisions(&since(u64::from(config.retention_days) * 24))
        .await?;
    let listener = tokio::net::TcpListener::bind(&config.addr)
        .await
        .map_err(|e| {
            Failure::environment(anyhow!(
                "cannot listen on {}: {e}; choose another --addr",
                config.addr
            ))
        })?;
    let local = listener.local_addr().map_err(Failure::environment)?;
    crate::commands::init_logging();
    eprintln!(
        "warden gateway: serving http://{local} (lexicon {} with {} active entries, stream hold {}, {} old decision records pruned); Ctrl-C stops",
        guard.lexicon.version(),
        guard.lexicon.active_len(),
        config.stream_hold,
        pruned
    );
    for note in notes {
        eprintln!("{note}");
    }
    let options = warden_gateway::Options {
        config,
        routes,
        guard,
        user_key: Some(user_key),
    };
    warden_gateway::serve(
        listener,
        stores.ledger,
        stores.decisions,
        options,
        crate::commands::shutdown_signal(),
    )
    .await
    .map_err(Failure::environment)?;
    eprintln!("warden gateway: stopped");
    Ok(exit::OK)
}

/// Run a `warden guard` command.
pub fn guard(global: &Global, command: GuardCommand) -> Result<u8, Failure> {
    match command {
        GuardCommand::Check { text, block_terms } => {
            let text = match text {
                Some(text) => text,
                None => {
                    let mut text = String::new();
                    std::io::stdin().read_to_string(&mut text).map_err(|e| {
                        Failure::usage(anyhow!("standard input is not UTF-8 text: {e}"))
                    })?;
                    text
                }
            };
            let config = warden_gateway::config::GatewayConfig::default();
            let guard =
                warden_gateway::build_guard(&config, Path::new("."), block_terms.as_deref())
                    .map_err(|e| Failure::usage(anyhow!(e)))?;
            let checked = guard.check(&text);
            let blocked = checked.verdict.action == warden_guard::Action::Block;
            report(
                global,
                &json!({"verdict": checked.verdict, "text": checked.text}),
                || {
                    let mut lines = vec![format!("verdict: {}", checked.verdict.action.as_str())];
                    for finding in &checked.verdict.findings {
                        lines.push(format!(
                            "  {} {} ({}) at {}..{}: {:?}",
                            finding.action.as_str(),
                            finding.category,
                            finding.filter,
                            finding.start,
                            finding.end,
                            &text[finding.start..finding.end]
                        ));
                    }
                    if checked.verdict.action != warden_guard::Action::Block {
                        lines.push(format!("passes as: {}", checked.text));
                    }
                    lines.join("\n")
                },
            );
            Ok(if blocked {
                exit::CHECK_FAILED
            } else {
                exit::OK
            })
        }
        GuardCommand::Train {
            data,
            out,
            calibrate,
        } => {
            use warden_guard::classifier::{Classifier, TrainOptions, parse_jsonl};
            let mut examples = Vec::new();
            for path in &data {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Failure::usage(anyhow!("cannot read {}: {e}", path.display())))?;
                examples.extend(
                    parse_jsonl(&text)
                        .map_err(|e| Failure::usage(anyhow!("{}: {e}", path.display())))?,
                );
            }
            let options = TrainOptions {
                calibration: calibrate,
                ..TrainOptions::default()
            };
            let classifier =
                Classifier::train(&examples, &options).map_err(|e| Failure::usage(anyhow!(e)))?;
            let correct = examples
                .iter()
                .filter(|(text, label)| classifier.classify(text) == *label)
                .count();
            std::fs::write(&out, classifier.to_json()).map_err(|e| {
                Failure::environment(anyhow!("cannot write {}: {e}", out.display()))
            })?;
            let positives = examples.iter().filter(|(_, l)| *l).count();
            report(
                global,
                &json!({"model": out, "version": classifier.version(), "examples": examples.len(),
                        "positives": positives, "threshold": classifier.threshold(),
                        "training_accuracy": correct as f64 / examples.len().max(1) as f64}),
                || {
                    format!(
                        "trained on {} examples ({positives} positive): {} written to {} (threshold {:.3}; accuracy on its own training data {:.1}%, which says nothing about new text: measure on held-out data)",
                        examples.len(),
                        classifier.version(),
                        out.display(),
                        classifier.threshold(),
                        100.0 * correct as f64 / examples.len().max(1) as f64
                    )
                },
            );
            Ok(exit::OK)
        }
        GuardCommand::Lexicon => {
            let lexicon =
                warden_guard::Lexicon::starter().map_err(|e| Failure::environment(anyhow!(e)))?;
            let coverage = lexicon.coverage();
            report(
                global,
                &json!({"version": lexicon.version(), "reference_total": REFERENCE_TOTAL, "coverage": coverage}),
                || {
                    let mut out = format!(
                        "starter lexicon {}: {} entries shipped, {} active (GB/T 45654 reference: >= {REFERENCE_TOTAL})\n\n{:<8} {:>8} {:>8} {:>10}\n",
                        lexicon.version(),
                        coverage.shipped,
                        coverage.active,
                        "risk",
                        "shipped",
                        "active",
                        "reference"
                    );
                    for risk in &coverage.per_risk {
                        let short = risk.reference.is_some_and(|r| risk.active < r);
                        out.push_str(&format!(
                            "{:<8} {:>8} {:>8} {:>10}{}\n",
                            risk.risk,
                            risk.shipped,
                            risk.active,
                            risk.reference.map_or("-".into(), |r| format!(">= {r}")),
                            if short { "  short" } else { "" }
                        ));
                    }
                    out
                },
            );
            Ok(exit::OK)
        }
    }
}
