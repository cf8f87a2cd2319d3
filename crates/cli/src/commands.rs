//! Command implementations: thin glue from parsed arguments to the library crates.

use std::io::Read as _;

use anyhow::{Context as _, anyhow};
use serde::Deserialize;
use serde_json::{Value, json};
use warden_home::{Home, Stores};
use warden_ledger::entry::{EntryDraft, EntryError};
use warden_ledger::note::NoteVerifier;
use warden_ledger::proof::ProofBundle;
use warden_ledger::{Ledger, access};
use warden_server::ServerOptions;

use crate::args::{
    Cli, Command, EvalCommand, Global, KeysCommand, LedgerCommand, ModelArgs, ModelCommand,
};
use crate::exit::{self, Failure};

type Outcome = Result<u8, Failure>;

/// Run one parsed command.
pub async fn run(cli: Cli) -> Outcome {
    let global = cli.global;
    let mut command = cli.command;
    if let Some(model) = model_args(&mut command) {
        crate::model::resolve_gguf(&global, model)?;
    }
    match command {
        Command::Init { origin } => init(&global, origin).await,
        Command::Serve { addr } => serve(&global, addr).await,
        Command::Keys(command) => keys(&global, command).await,
        Command::Ledger(LedgerCommand::VerifyProof {
            key,
            proof,
            origin,
            checkpoint,
        }) => verify_proof(
            &global,
            &key,
            &proof,
            origin.as_deref(),
            checkpoint.as_deref(),
        ),
        Command::Ledger(LedgerCommand::AcceptRollback { reason, actor }) => {
            let home = open_home(&global)?;
            let ledger = home
                .open_ledger_unchecked(global.database_url.as_deref())
                .await?;
            let entry = ledger.accept_rollback(&reason, &local_actor(actor)).await?;
            if global.json {
                print_json(&json!({"ledger_index": entry.index}));
            } else {
                println!(
                    "rollback accepted and recorded (ledger entry {}); the abandoned checkpoint is in its payload",
                    entry.index
                );
            }
            Ok(exit::OK)
        }
        Command::Ledger(command) => ledger(&global, command).await,
        Command::Label(command) => crate::label::run(command, global.json),
        Command::Model(command) => crate::model::run(command, global.json).await,
        Command::Eval(command) => crate::eval::run(&global, command).await,
        Command::Gate(command) => crate::gate::run(&global, command).await,
        Command::Gateway(args) => crate::gateway::run(&global, args).await,
        Command::Guard(command) => crate::gateway::guard(&global, command),
    }
}

/// The model flags of a command that may load the local model.
fn model_args(command: &mut Command) -> Option<&mut ModelArgs> {
    match command {
        Command::Model(
            ModelCommand::Generate { model, .. }
            | ModelCommand::Bench { model, .. }
            | ModelCommand::Serve { model, .. },
        )
        | Command::Eval(EvalCommand::Calibrate { model, .. } | EvalCommand::Attack { model, .. }) => {
            Some(model)
        }
        Command::Eval(EvalCommand::Run(args)) => Some(&mut args.model),
        Command::Eval(EvalCommand::Compliance(args)) => Some(&mut args.model),
        _ => None,
    }
}

/// Logs (`WARDEN_LOG`, default `warn`) on standard error, coloured only on a terminal.
pub(crate) fn init_logging() {
    use std::io::IsTerminal as _;
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WARDEN_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .try_init();
}

pub(crate) fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

pub(crate) fn local_actor(actor: Option<String>) -> String {
    actor.unwrap_or_else(|| {
        format!(
            "local:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        )
    })
}

/// Open the home, and trust its `[tls] ca_file` for every outbound client from now on.
fn open_home(global: &Global) -> Result<Home, Failure> {
    let home = Home::open(&global.home)?;
    if let Some(ca) = &home.config().tls.ca_file {
        warden_net::set_extra_ca_file(&home.root().join(ca));
    }
    Ok(home)
}

pub(crate) async fn open(global: &Global) -> Result<(Home, Ledger), Failure> {
    let (home, stores) = open_stores(global).await?;
    Ok((home, stores.ledger))
}

/// Open the home with every store (the ledger and the evaluation store).
pub(crate) async fn open_stores(global: &Global) -> Result<(Home, Stores), Failure> {
    let home = open_home(global)?;
    let stores = home.open_stores(global.database_url.as_deref()).await?;
    Ok((home, stores))
}

async fn init(global: &Global, origin: Option<String>) -> Outcome {
    let home = Home::init(&global.home, origin, None)?;
    // Connecting applies the migrations, so a fresh home is ready to serve.
    let ledger = home.open_ledger(global.database_url.as_deref()).await?;
    let checkpoint = ledger.checkpoint().await?;
    let backend = ledger.store().backend();
    if global.json {
        print_json(&json!({
            "home": home.root(),
            "origin": home.config().ledger.origin,
            "verifier_key": ledger.verifier().to_string(),
            "database": backend,
            "size": checkpoint.size,
        }));
    } else {
        println!("Initialised Warden home {}", home.root().display());
        println!("  origin:       {}", home.config().ledger.origin);
        println!("  database:     {backend}");
        println!(
            "  verifier key: {} (also in {})",
            ledger.verifier(),
            home.verifier_path().display()
        );
        println!("Next: `warden keys create --name me --role admin`, then `warden serve`.");
    }
    Ok(exit::OK)
}

async fn serve(global: &Global, addr: Option<String>) -> Outcome {
    let (home, ledger) = open(global).await?;
    let addr = addr.unwrap_or_else(|| home.config().server.addr.clone());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}; choose another --addr"))
        .map_err(Failure::environment)?;
    let local = listener.local_addr().map_err(Failure::environment)?;
    init_logging();
    eprintln!(
        "warden: serving http://{local} (database: {}, ledger: {} entries); Ctrl-C stops",
        ledger.store().backend(),
        ledger.size().await?
    );
    let options = ServerOptions {
        max_body_bytes: home.config().server.max_body_bytes,
        max_upload_bytes: home.config().server.max_upload_bytes,
        model: crate::model::configured(&home)?,
    };
    warden_server::serve(listener, ledger, &options, shutdown_signal())
        .await
        .map_err(Failure::environment)?;
    eprintln!("warden: stopped");
    Ok(exit::OK)
}

pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

async fn keys(global: &Global, command: KeysCommand) -> Outcome {
    let (_, ledger) = open(global).await?;
    let store = ledger.store().as_ref();
    match command {
        KeysCommand::Create {
            name,
            roles,
            person,
            actor,
        } => {
            let (minted, entry) = access::create_key(
                &ledger,
                &name,
                person.as_deref(),
                &roles,
                &local_actor(actor),
            )
            .await?;
            if global.json {
                let mut described = warden_server::api::keys::describe(&minted.record);
                described["secret"] = json!(minted.secret);
                described["ledger_index"] = json!(entry.index);
                print_json(&described);
            } else {
                println!("{}", minted.secret);
                eprintln!(
                    "Created key {} ({}, person `{}`) with roles [{}]. The secret above is shown once; store it now.",
                    minted.record.id,
                    minted.record.name,
                    minted.record.person,
                    minted
                        .record
                        .roles
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        KeysCommand::Signer(command) => return crate::signer::run(global, &ledger, command).await,
        KeysCommand::List => {
            let keys = store.list_keys().await?;
            if global.json {
                print_json(&json!(
                    keys.iter()
                        .map(warden_server::api::keys::describe)
                        .collect::<Vec<_>>()
                ));
            } else {
                for key in keys {
                    let state = key
                        .revoked_at
                        .as_deref()
                        .map_or("live".to_owned(), |at| format!("revoked {at}"));
                    let roles: Vec<&str> = key.roles.iter().map(|r| r.as_str()).collect();
                    println!(
                        "{}  {:<12}  {:<20}  [{}]  {state}",
                        key.id,
                        key.prefix,
                        key.name,
                        roles.join(", ")
                    );
                }
            }
        }
        KeysCommand::Revoke { id, actor } => {
            let entry = access::revoke_key(store, &id, &local_actor(actor))
                .await?
                .ok_or_else(|| {
                    Failure::usage(anyhow!(
                        "no live key with id `{id}`; see `warden keys list`"
                    ))
                })?;
            if global.json {
                print_json(&json!({"id": id, "revoked": true, "ledger_index": entry.index}));
            } else {
                println!("Revoked key {id} (ledger entry {})", entry.index);
            }
        }
    }
    Ok(exit::OK)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonlEntry {
    kind: String,
    subject: String,
    #[serde(default)]
    payload: Value,
}

fn parse_payload(text: Option<&str>) -> Result<Value, Failure> {
    match text {
        None => Ok(json!({})),
        Some(text) => serde_json::from_str(text).map_err(|e| {
            Failure::usage(anyhow!(
                "--payload is not valid JSON ({e}); quote it, e.g. --payload '{{\"score\": 0.4}}'"
            ))
        }).and_then(|value| refuse_duplicate_keys("--payload", text).map(|()| value)),
    }
}

/// Canonical JSON (RFC 8785) has no duplicate keys, and serde keeps the last one silently.
fn refuse_duplicate_keys(what: &str, text: &str) -> Result<(), Failure> {
    match warden_core::canonical::find_duplicate_key(text.as_bytes()) {
        Some(duplicate) => Err(Failure::usage(anyhow!(
            "{what}: {duplicate}; JSON objects must not repeat a key (RFC 8785): give each key once"
        ))),
        None => Ok(()),
    }
}

fn read_jsonl(path: &std::path::Path, actor: &str) -> Result<Vec<EntryDraft>, Failure> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}", path.display()))
        .map_err(Failure::usage)?;
    let mut drafts = Vec::new();
    for (number, line) in text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
    {
        let entry: JsonlEntry = serde_json::from_str(line).map_err(|e| {
            Failure::usage(anyhow!(
                "{} line {}: {e}; each line must be {{\"kind\":…,\"subject\":…,\"payload\":…}}",
                path.display(),
                number + 1
            ))
        })?;
        refuse_duplicate_keys(&format!("{} line {}", path.display(), number + 1), line)?;
        let draft = EntryDraft::now(entry.kind, actor, entry.subject, entry.payload);
        draft.validate_generic().map_err(|e: EntryError| {
            Failure::usage(anyhow!("{} line {}: {e}", path.display(), number + 1))
        })?;
        drafts.push(draft);
    }
    if drafts.is_empty() {
        return Err(Failure::usage(anyhow!(
            "{} holds no entries",
            path.display()
        )));
    }
    Ok(drafts)
}

async fn ledger(global: &Global, command: LedgerCommand) -> Outcome {
    let (_, ledger) = open(global).await?;
    match command {
        LedgerCommand::Append {
            kind,
            subject,
            payload,
            jsonl,
            actor,
        } => {
            let actor = local_actor(actor);
            let drafts = match jsonl {
                Some(path) => read_jsonl(&path, &actor)?,
                None => vec![EntryDraft::now(
                    kind.unwrap_or_default(),
                    actor,
                    subject.unwrap_or_default(),
                    parse_payload(payload.as_deref())?,
                )],
            };
            let sealed = ledger.append_batch_generic(&drafts).await?;
            if global.json {
                let entries: Vec<Value> = sealed
                    .iter()
                    .map(|e| serde_json::from_str(&e.text).unwrap_or(Value::Null))
                    .collect();
                print_json(
                    &json!({"indexes": sealed.iter().map(|e| e.index).collect::<Vec<_>>(), "entries": entries}),
                );
            } else {
                for entry in &sealed {
                    println!("{}", entry.index);
                }
            }
        }
        LedgerCommand::Log {
            start,
            limit,
            kind,
            subject,
        } => {
            let filter = warden_ledger::query::EntryFilter { kind, subject };
            let entries = warden_ledger::query::find(&ledger, &filter, start, limit)
                .await?
                .entries;
            if global.json {
                print_json(&json!(entries));
            } else {
                for entry in entries {
                    println!(
                        "{:>6}  {}  {:<24}  {:<32}  {}  {}",
                        entry.index,
                        entry.time,
                        entry.kind,
                        entry.subject,
                        entry.actor,
                        entry.payload
                    );
                }
            }
        }
        LedgerCommand::Checkpoint => {
            let checkpoint = ledger.checkpoint().await?;
            if global.json {
                print_json(
                    &json!({"size": checkpoint.size, "note": checkpoint.note, "created_at": checkpoint.created_at}),
                );
            } else {
                print!("{}", checkpoint.note);
            }
        }
        LedgerCommand::Proof { index, since, size } => {
            let bundle = match (index, since) {
                (Some(index), _) => ProofBundle::Inclusion(ledger.inclusion(index, size).await?),
                (None, Some(old)) => ProofBundle::Consistency(ledger.consistency(old, size).await?),
                (None, None) => {
                    return Err(Failure::usage(anyhow!("give --index N or --since SIZE")));
                }
            };
            print_json(&serde_json::to_value(bundle).map_err(Failure::environment)?);
        }
        LedgerCommand::Verify => {
            let report = ledger.audit().await?;
            if global.json {
                print_json(&serde_json::to_value(&report).map_err(Failure::environment)?);
            } else if report.ok {
                println!(
                    "ok: {} entries, root {}, {} signed checkpoints consistent",
                    report.size, report.root, report.checkpoints_checked
                );
            } else {
                println!(
                    "DAMAGED: first bad index {}",
                    report
                        .first_bad_index
                        .map_or("unknown".into(), |i| i.to_string())
                );
                for problem in &report.problems {
                    println!("  - {}", problem.message);
                }
                if report.problem_count > report.problems.len() {
                    println!(
                        "  … and {} more",
                        report.problem_count - report.problems.len()
                    );
                }
            }
            if !report.ok {
                return Ok(exit::CHECK_FAILED);
            }
        }
        LedgerCommand::Key => println!("{}", ledger.verifier()),
        LedgerCommand::VerifyProof { .. } | LedgerCommand::AcceptRollback { .. } => {
            return Err(Failure::usage(anyhow!(
                "this command is dispatched elsewhere"
            )));
        }
    }
    Ok(exit::OK)
}

fn verify_proof(
    global: &Global,
    key: &str,
    proof: &std::path::Path,
    origin: Option<&str>,
    kept: Option<&std::path::Path>,
) -> Outcome {
    let key_text = match key.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read key file {path}"))
            .map_err(Failure::usage)?,
        None => key.to_owned(),
    };
    let verifier =
        NoteVerifier::parse(&key_text).map_err(|e| Failure::usage(anyhow!("--key: {e}")))?;
    let text = if proof.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(Failure::usage)?;
        text
    } else {
        std::fs::read_to_string(proof)
            .with_context(|| format!("cannot read {}", proof.display()))
            .map_err(Failure::usage)?
    };
    let bundle: ProofBundle = serde_json::from_str(&text).map_err(|e| {
        Failure::usage(anyhow!(
            "{} is not a Warden proof bundle: {e}",
            proof.display()
        ))
    })?;
    let verdict = bundle
        .verify(&verifier, origin)
        .and_then(|verified| match kept {
            None => Ok(verified),
            Some(path) => {
                let note = std::fs::read_to_string(path).map_err(|e| {
                    warden_ledger::proof::BundleError::Kept(format!(
                        "cannot read {}: {e}",
                        path.display()
                    ))
                })?;
                bundle.extends_kept(&verifier, &note)?;
                Ok(verified)
            }
        });
    match verdict {
        Ok(verified) => {
            if global.json {
                let mut value = serde_json::to_value(&verified).map_err(Failure::environment)?;
                value["ok"] = json!(true);
                print_json(&value);
            } else if let Some(index) = verified.index {
                println!(
                    "ok: entry {index} is in {} at tree size {} (root {})",
                    verified.origin, verified.tree_size, verified.root
                );
            } else {
                println!(
                    "ok: {} at tree size {} extends tree size {}",
                    verified.origin,
                    verified.tree_size,
                    verified.old_tree_size.unwrap_or(0)
                );
            }
            Ok(exit::OK)
        }
        Err(error) => {
            if global.json {
                print_json(&json!({"ok": false, "error": error.to_string()}));
            } else {
                println!("FAILED: {error}");
            }
            Ok(exit::CHECK_FAILED)
        }
    }
}

pub(crate) fn suites(global: &Global, files: &[std::path::PathBuf]) -> Outcome {
    if files.is_empty() {
        // Loading each suite checks its data files' SHA-256, so a listed suite is a usable one.
        let mut listed = Vec::new();
        for info in warden_eval::builtin_suites() {
            warden_eval::load_builtin(info.name).map_err(Failure::environment)?;
            listed.push(serde_json::to_value(info).map_err(Failure::environment)?);
        }
        // The GB/T 45654 banks are built from shipped suites; `eval run --suite` takes the name.
        let bank = warden_eval::compliance::bank().map_err(Failure::environment)?;
        listed.push(json!({
            "name": bank.name, "description": bank.description, "items": bank.items.len(),
            "licence": bank.licence, "scorer": bank.scorer,
        }));
        if global.json {
            print_json(&Value::Array(listed));
        } else {
            for info in listed {
                println!(
                    "{:<18} {:>5} items  {:<18}  {}",
                    info["name"].as_str().unwrap_or_default(),
                    info["items"],
                    info["licence"].as_str().unwrap_or_default(),
                    info["description"].as_str().unwrap_or_default()
                );
            }
        }
        return Ok(exit::OK);
    }
    let mut reports = Vec::new();
    for path in files {
        let suite = warden_eval::load_suite_file(path).map_err(Failure::usage)?;
        reports.push(json!({"file": path, "name": suite.name, "items": suite.items.len()}));
        if !global.json {
            println!(
                "{}: suite `{}`, {} items, ok",
                path.display(),
                suite.name,
                suite.items.len()
            );
        }
    }
    if global.json {
        print_json(&Value::Array(reports));
    }
    Ok(exit::OK)
}
