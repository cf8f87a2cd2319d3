//! `warden model`: try, measure and serve the local GGUF runtime.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::anyhow;
use serde_json::json;
use warden_runtime::sampling::{Sampler, SamplingParams};
use warden_runtime::template::ChatMessage;
use warden_runtime::{Runtime, RuntimeError, RuntimeOptions};
use warden_server::api::chat::{ModelService, standalone};

use crate::args::{Global, ModelArgs, ModelCommand};
use crate::exit::{self, Failure};

/// The prompt `warden model bench` measures with: a realistic chat turn of about 100 tokens.
pub const BENCH_PROMPT: &str = "You are reviewing a safety evaluation report for a small language model. The report lists refusal rates on benign and harmful prompts, attack success rates for several jailbreak transforms, and confidence intervals for each metric. Summarise the three most important findings for a safety officer, explain what evidence is missing, and recommend whether the model can move to a limited API deployment.";

impl From<RuntimeError> for Failure {
    fn from(error: RuntimeError) -> Self {
        match error {
            RuntimeError::Engine(_) => Failure::environment(error),
            other => Failure::usage(other),
        }
    }
}

/// Load the model `args` name, for `--target local`.
pub(crate) fn load_for_eval(args: &ModelArgs) -> Result<Runtime, Failure> {
    load(args)
}

/// The model file when neither `--gguf` nor `[model] gguf` names one.
pub(crate) const DEFAULT_GGUF: &str = ".models/SmolLM2-135M-Instruct.Q4_1.gguf";

/// The model file `args` names (after [`resolve_gguf`]), else the default.
pub(crate) fn gguf_path(args: &ModelArgs) -> &Path {
    args.gguf.as_deref().unwrap_or(Path::new(DEFAULT_GGUF))
}

/// Fill in `--gguf` from the home's `[model] gguf` when the flag is not given. A folder that is
/// not a Warden home leaves the default; a home that cannot be read is an error.
pub(crate) fn resolve_gguf(global: &Global, args: &mut ModelArgs) -> Result<(), Failure> {
    if args.gguf.is_some() {
        return Ok(());
    }
    match warden_home::Home::open(&global.home) {
        Ok(home) => args.gguf.clone_from(&home.config().model.gguf),
        Err(warden_home::HomeError::NotInitialized(_)) => {}
        Err(error) => return Err(error.into()),
    }
    Ok(())
}

/// A `--stop` value with the escapes `\n`, `\t`, `\r` and `\\` turned into the characters they
/// name (a shell passes `"\n\n"` as backslash-n twice); any other backslash is kept as it is.
pub(crate) fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn load(args: &ModelArgs) -> Result<Runtime, Failure> {
    Ok(Runtime::load(
        gguf_path(args),
        RuntimeOptions {
            context_tokens: args.context,
            threads: args.threads,
            ..RuntimeOptions::default()
        },
    )?)
}

/// The model `[model] gguf` names, loaded for `warden serve` behind the guard `[gateway]`
/// configures.
pub fn configured(
    home: &warden_home::Home,
) -> Result<warden_server::api::chat::ModelSlot, Failure> {
    let config = home.config();
    let Some(path) = &config.model.gguf else {
        return Ok(warden_server::api::chat::ModelSlot::default());
    };
    let context_tokens = if config.model.context_tokens == 0 {
        2048
    } else {
        config.model.context_tokens
    };
    let runtime = Runtime::load(
        path,
        RuntimeOptions {
            context_tokens,
            threads: config.model.threads,
            ..RuntimeOptions::default()
        },
    )?;
    eprintln!(
        "warden: serving model {} at /v1/chat/completions",
        runtime.id()
    );
    let guard = warden_gateway::build_guard(&config.gateway, home.root(), None)
        .map_err(|e| Failure::usage(anyhow!(e)))?;
    Ok(warden_server::api::chat::ModelSlot(Some(Arc::new(
        ModelService::guarded(runtime, Arc::new(guard), config.model.parallel)?,
    ))))
}

/// Run a `warden model` command.
pub async fn run(command: ModelCommand, json_output: bool) -> Result<u8, Failure> {
    match command {
        ModelCommand::Generate {
            model,
            prompt,
            raw,
            temperature,
            top_p,
            top_k,
            repetition_penalty,
            seed,
            max_tokens,
            stop,
        } => {
            let runtime = load(&model)?;
            let prompt = if raw {
                prompt
            } else {
                runtime.render_chat(&[ChatMessage::new("user", &prompt)])?
            };
            let params = SamplingParams {
                temperature,
                top_p,
                top_k,
                repetition_penalty,
                seed,
                max_tokens,
                stop: stop.iter().map(|s| unescape(s)).collect(),
            };
            let completion = tokio::task::block_in_place(|| {
                runtime.generate(&prompt, Sampler::new(params), &mut |text| {
                    if !json_output {
                        print!("{text}");
                        let _ = std::io::stdout().flush();
                    }
                    true
                })
            })?;
            if json_output {
                println!(
                    "{}",
                    json!({"text": completion.text, "finish_reason": completion.finish_reason,
                           "prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens})
                );
            } else {
                println!();
            }
            Ok(exit::OK)
        }
        ModelCommand::Bench {
            model,
            tokens,
            runs,
            show_prompt,
            streams,
        } => {
            let runtime = Arc::new(load(&model)?);
            let prompt = runtime.render_chat(&[ChatMessage::new("user", BENCH_PROMPT)])?;
            if show_prompt {
                print!("{prompt}");
                return Ok(exit::OK);
            }
            let progress = crate::eval::Bar::new("runs");
            let total = u64::from(runs.max(1)) * (1 + streams.len() as u64);
            let mut done = 0u64;
            // Batched streams first, on the batcher's thread, which ends before the single-stream
            // runs start on this one: llama.cpp's OpenMP threads spin between steps, and two
            // calling threads' teams spinning on the same cores slow each other down severalfold.
            let mut batched: Vec<warden_runtime::batch::StreamsBench> = Vec::new();
            if !streams.is_empty() {
                let most = streams.iter().copied().max().unwrap_or(1);
                let batcher = warden_runtime::Batcher::start(Arc::clone(&runtime), most)?;
                for &count in &streams {
                    let mut fastest: Option<warden_runtime::batch::StreamsBench> = None;
                    for _ in 0..runs.max(1) {
                        let result =
                            tokio::task::block_in_place(|| batcher.bench(&prompt, tokens, count))?;
                        if fastest
                            .as_ref()
                            .is_none_or(|f| result.decode_tokens_per_s > f.decode_tokens_per_s)
                        {
                            fastest = Some(result);
                        }
                    }
                    done += u64::from(runs.max(1));
                    warden_eval::run::Progress::advance(&progress, done, total, 0);
                    batched.extend(fastest);
                }
            }
            let mut best: Option<warden_runtime::engine::BenchResult> = None;
            for _ in 0..runs.max(1) {
                let result = tokio::task::block_in_place(|| runtime.bench(&prompt, tokens))?;
                done += 1;
                warden_eval::run::Progress::advance(&progress, done, total, 0);
                best = Some(match best {
                    Some(previous) => warden_runtime::engine::BenchResult {
                        prompt_tokens_per_s: previous
                            .prompt_tokens_per_s
                            .max(result.prompt_tokens_per_s),
                        decode_tokens_per_s: previous
                            .decode_tokens_per_s
                            .max(result.decode_tokens_per_s),
                        ..result
                    },
                    None => result,
                });
            }
            let best = best.ok_or_else(|| Failure::usage(anyhow!("no benchmark run")))?;
            warden_eval::run::Progress::finish(&progress);
            if json_output {
                let mut value = serde_json::to_value(&best).map_err(Failure::environment)?;
                if !batched.is_empty() {
                    value["streams"] =
                        serde_json::to_value(&batched).map_err(Failure::environment)?;
                }
                println!("{value}");
            } else {
                for row in &batched {
                    println!(
                        "{}: {} streams batched: decode {:.1} tokens/s in all, {:.1} tokens/s with prompts ({} tokens in {:.2} s), best of {runs}",
                        runtime.id(),
                        row.streams,
                        row.decode_tokens_per_s,
                        row.tokens_per_s,
                        row.tokens,
                        row.seconds
                    );
                }
                println!(
                    "{}: prompt {:.1} tokens/s ({} tokens), decode {:.1} tokens/s ({} greedy tokens), {} threads, best of {runs}",
                    runtime.id(),
                    best.prompt_tokens_per_s,
                    best.prompt_tokens,
                    best.decode_tokens_per_s,
                    best.decode_tokens,
                    best.threads
                );
            }
            Ok(exit::OK)
        }
        ModelCommand::Serve { model, addr } => {
            let runtime = load(&model)?;
            let id = runtime.id();
            let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| {
                Failure::environment(anyhow!(
                    "cannot listen on {addr}: {e}; choose another --addr"
                ))
            })?;
            let local = listener.local_addr().map_err(Failure::environment)?;
            eprintln!(
                "warden: serving model {id} at http://{local}/v1 (OpenAI-compatible); Ctrl-C stops"
            );
            crate::commands::init_logging();
            // The shipped starter lexicon and PII policy: a served model is never unguarded.
            let guard = warden_gateway::build_guard(
                &warden_gateway::config::GatewayConfig::default(),
                std::path::Path::new("."),
                None,
            )
            .map_err(|e| Failure::usage(anyhow!(e)))?;
            let service = Arc::new(ModelService::guarded(
                runtime,
                Arc::new(guard),
                model.parallel,
            )?);
            let app = standalone(Arc::clone(&service), 1 << 20);
            axum_serve(listener, app, async move {
                crate::commands::shutdown_signal().await;
                service.stop();
            })
            .await?;
            eprintln!("warden: stopped");
            Ok(exit::OK)
        }
    }
}

async fn axum_serve(
    listener: tokio::net::TcpListener,
    app: warden_server::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Failure> {
    warden_server::serve_router(listener, app, shutdown)
        .await
        .map_err(Failure::environment)
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn issue_10_stop_strings_are_unescaped() {
        assert_eq!(unescape(r"\n\n"), "\n\n");
        assert_eq!(unescape(r"a\tb\\n"), "a\tb\\n");
        assert_eq!(unescape(r"User:"), "User:");
        assert_eq!(unescape(r"\x\"), r"\x\");
    }
}
