//! The engine: a GGUF model loaded into llama.cpp (through `llama-cpp-2`), prompt processing in
//! batches, and a token loop that samples in Rust (see [`crate::sampling`]) so the logits hook sees
//! exactly what the model produced.
//!
//! One [`Runtime`] holds one model. Each generation gets a fresh llama.cpp context (its own KV
//! cache), so requests never see each other's state; callers queue generations (the server does,
//! first come first served).

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;
use serde::Serialize;

use crate::RuntimeError;
use crate::gguf::{self, GgufInfo};
use crate::sampling::{BanTokens, Sampler, SamplingParams};
use crate::template::{ChatMessage, ChatTemplate};

/// Architectures Warden has tested. llama.cpp runs the forward pass for all of them; adding one
/// means adding its name here and a tokenizer/template fixture (see ARCHITECTURE.md).
pub const SUPPORTED_ARCHITECTURES: &[&str] = &["llama", "qwen2", "qwen3"];

/// llama.cpp's backend may be initialised once per process.
static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

pub(crate) fn backend() -> Result<&'static LlamaBackend, RuntimeError> {
    BACKEND
        .get_or_init(|| {
            LlamaBackend::init()
                .map(|mut backend| {
                    backend.void_logs();
                    backend
                })
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| RuntimeError::Engine(format!("cannot start llama.cpp: {e}")))
}

/// How to run a model.
#[derive(Clone, Debug)]
pub struct RuntimeOptions {
    /// Context length in tokens (prompt + completion); 0 uses the model's training context.
    pub context_tokens: u32,
    /// CPU threads; 0 uses every available core.
    pub threads: u32,
    /// Prompt tokens evaluated per llama.cpp batch.
    pub batch_tokens: u32,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            context_tokens: 2048,
            threads: 0,
            batch_tokens: 512,
        }
    }
}

/// Why generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// End of turn, or a stop string.
    Stop,
    /// `max_tokens` or the context filled up.
    Length,
    /// The caller stopped listening.
    Cancelled,
}

/// A finished generation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Completion {
    pub text: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub finish_reason: FinishReason,
    #[serde(skip)]
    pub prompt_time: Duration,
    #[serde(skip)]
    pub decode_time: Duration,
}

/// A loaded model.
pub struct Runtime {
    model: LlamaModel,
    info: GgufInfo,
    template: Option<ChatTemplate>,
    path: PathBuf,
    options: RuntimeOptions,
    name: String,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("path", &self.path)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Check and load the GGUF model at `path`.
    pub fn load(path: &Path, options: RuntimeOptions) -> Result<Self, RuntimeError> {
        let info = gguf::read_info(path)?;
        let architecture = info.architecture().unwrap_or("unknown").to_owned();
        if !SUPPORTED_ARCHITECTURES.contains(&architecture.as_str()) {
            return Err(RuntimeError::UnsupportedArchitecture(architecture));
        }
        let backend = backend()?;
        let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
            .map_err(|e| {
                RuntimeError::BadModel(format!("llama.cpp could not load {}: {e}", path.display()))
            })?;
        let vocab = model.vocab();
        let token_text = |token: LlamaToken| {
            vocab
                .text(token)
                .and_then(|t| t.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let template = match info.chat_template() {
            Some(source) => Some(ChatTemplate::new(
                source,
                &token_text(vocab.bos()),
                &token_text(vocab.eos()),
            )?),
            None => None,
        };
        let name = info
            .metadata
            .get("general.name")
            .cloned()
            .or_else(|| path.file_stem().and_then(|s| s.to_str()).map(str::to_owned))
            .unwrap_or_else(|| "local-model".into());
        Ok(Self {
            model,
            info,
            template,
            path: path.to_owned(),
            options,
            name,
        })
    }

    /// The model id served in `/v1/models`: the file name without `.gguf`.
    pub fn id(&self) -> String {
        self.path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("local-model")
            .to_owned()
    }

    /// `general.name` from the GGUF, or the file name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn info(&self) -> &GgufInfo {
        &self.info
    }

    /// The context length generations get.
    pub fn context_tokens(&self) -> u32 {
        match self.options.context_tokens {
            0 => self.model.n_ctx_train(),
            n => n.min(self.model.n_ctx_train().max(1)),
        }
    }

    fn threads(&self) -> i32 {
        let threads = match self.options.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            n => n,
        };
        i32::try_from(threads).unwrap_or(1)
    }

    /// Token ids for `text` as the model's tokenizer splits it (special tokens parsed, BOS added
    /// when the model asks for one).
    pub fn tokenize(&self, text: &str) -> Vec<i32> {
        let vocab = self.model.vocab();
        vocab
            .tokenize(text.as_bytes(), vocab.should_add_bos(), true)
            .into_iter()
            .map(|t| t.0)
            .collect()
    }

    /// The prompt for a chat, rendered with the model's template.
    pub fn render_chat(&self, messages: &[ChatMessage]) -> Result<String, RuntimeError> {
        let template = self.template.as_ref().ok_or_else(|| {
            RuntimeError::BadModel(format!(
                "{} has no chat template (tokenizer.chat_template); send a plain prompt",
                self.path.display()
            ))
        })?;
        template.render(messages, true)
    }

    /// Generate from `prompt`, streaming text to `on_text`; returning `false` from it cancels.
    pub fn generate(
        &self,
        prompt: &str,
        mut sampler: Sampler,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Completion, RuntimeError> {
        sampler.params().validate()?;
        let started = Instant::now();
        let vocab = self.model.vocab();
        let tokens = self.prompt_tokens(prompt)?;
        let n_ctx = self.context_tokens();
        let prompt_tokens = u32::try_from(tokens.len()).unwrap_or(u32::MAX);
        let threads = self.threads();
        let batch_size = self.options.batch_tokens.clamp(1, n_ctx);
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(batch_size)
            .with_n_ubatch(batch_size)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        let mut ctx = self
            .model
            .new_context(backend()?, params)
            .map_err(|e| RuntimeError::Engine(format!("cannot create a llama.cpp context: {e}")))?;
        let mut batch = LlamaBatch::new(batch_size as usize, 1);
        let last = tokens.len() - 1;
        for (chunk_index, chunk) in tokens.chunks(batch_size as usize).enumerate() {
            batch.clear();
            for (offset, token) in chunk.iter().enumerate() {
                let position = chunk_index * batch_size as usize + offset;
                batch
                    .add(*token, position as i32, &[0], position == last)
                    .map_err(|e| RuntimeError::Engine(format!("batch: {e}")))?;
            }
            ctx.decode(&mut batch)
                .map_err(|e| RuntimeError::Engine(format!("prompt evaluation failed: {e}")))?;
        }
        let prompt_time = started.elapsed();
        let decode_started = Instant::now();
        let mut history: Vec<i32> = tokens.iter().map(|t| t.0).collect();
        let max_new = sampler.params().max_tokens.min(n_ctx - prompt_tokens);
        let mut decoded = Decoded::new(sampler.params().stop.clone());
        let mut generated = 0u32;
        let mut logits: Vec<f32> = Vec::new();
        let mut finish = FinishReason::Length;
        let mut position = tokens.len();
        while generated < max_new {
            logits.clear();
            logits.extend_from_slice(ctx.get_logits_ith(batch.n_tokens() - 1));
            let token = sampler.sample(&history, &mut logits);
            generated += 1;
            if vocab.is_eog(LlamaToken(token)) {
                finish = FinishReason::Stop;
                break;
            }
            history.push(token);
            match decoded.push(&vocab.token_to_piece(LlamaToken(token), false, None)) {
                Step::Stop => {
                    finish = FinishReason::Stop;
                    break;
                }
                Step::Emit(piece) => {
                    if !on_text(piece) {
                        finish = FinishReason::Cancelled;
                        break;
                    }
                }
                Step::Hold => {}
            }
            if generated == max_new {
                break;
            }
            batch.clear();
            batch
                .add(LlamaToken(token), position as i32, &[0], true)
                .map_err(|e| RuntimeError::Engine(format!("batch: {e}")))?;
            position += 1;
            ctx.decode(&mut batch)
                .map_err(|e| RuntimeError::Engine(format!("decoding failed: {e}")))?;
        }
        if finish != FinishReason::Cancelled
            && let Some(rest) = decoded.finish()
        {
            let _ = on_text(rest);
        }
        Ok(Completion {
            text: decoded.text,
            prompt_tokens,
            completion_tokens: generated,
            finish_reason: finish,
            prompt_time,
            decode_time: decode_started.elapsed(),
        })
    }

    /// The tokens of `prompt` for generation, checked against the context each sequence gets.
    pub(crate) fn prompt_tokens(&self, prompt: &str) -> Result<Vec<LlamaToken>, RuntimeError> {
        let vocab = self.model.vocab();
        let tokens = vocab.tokenize(prompt.as_bytes(), vocab.should_add_bos(), true);
        let n_ctx = self.context_tokens();
        let prompt_tokens = u32::try_from(tokens.len()).unwrap_or(u32::MAX);
        if tokens.is_empty() {
            return Err(RuntimeError::BadRequest("the prompt is empty".into()));
        }
        if prompt_tokens >= n_ctx {
            return Err(RuntimeError::ContextOverflow {
                prompt_tokens,
                context_tokens: n_ctx,
            });
        }
        Ok(tokens)
    }

    pub(crate) fn model(&self) -> &LlamaModel {
        &self.model
    }

    pub(crate) fn thread_count(&self) -> i32 {
        self.threads()
    }

    pub(crate) fn batch_tokens(&self) -> u32 {
        self.options.batch_tokens
    }

    /// Tokens that end a turn, for samplers that must not stop early (benchmarks).
    pub fn end_of_generation_tokens(&self) -> Vec<i32> {
        let vocab = self.model.vocab();
        vocab
            .tokens()
            .filter(|t| vocab.is_eog(*t))
            .map(|t| t.0)
            .collect()
    }

    /// Prompt and decode speed for `prompt` and `tokens` greedy tokens (end-of-turn banned so every
    /// run decodes the same count).
    pub fn bench(&self, prompt: &str, tokens: u32) -> Result<BenchResult, RuntimeError> {
        let sampler = Sampler::new(SamplingParams::greedy(tokens))
            .with_processor(Box::new(BanTokens(self.end_of_generation_tokens())));
        let completion = self.generate(prompt, sampler, &mut |_| true)?;
        Ok(BenchResult {
            prompt_tokens: completion.prompt_tokens,
            decode_tokens: completion.completion_tokens,
            prompt_tokens_per_s: f64::from(completion.prompt_tokens)
                / completion.prompt_time.as_secs_f64().max(1e-9),
            decode_tokens_per_s: f64::from(completion.completion_tokens.saturating_sub(1))
                / completion.decode_time.as_secs_f64().max(1e-9),
            threads: self.threads(),
        })
    }
}

/// Speeds measured by [`Runtime::bench`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchResult {
    pub prompt_tokens: u32,
    pub decode_tokens: u32,
    pub prompt_tokens_per_s: f64,
    pub decode_tokens_per_s: f64,
    pub threads: i32,
}

/// The text of a generation so far: token bytes decoded as UTF-8 (a character split across
/// tokens waits for its last byte), stop strings found, and the tail that could still become a
/// stop string held back from the caller.
pub(crate) struct Decoded {
    pub(crate) text: String,
    emitted: usize,
    pending: Vec<u8>,
    stops: Vec<String>,
    hold_back: usize,
}

/// What one more token means for the caller.
pub(crate) enum Step<'a> {
    /// A stop string ended the text (it is cut off before the stop string).
    Stop,
    /// New text the caller may see.
    Emit(&'a str),
    /// Nothing to show yet.
    Hold,
}

impl Decoded {
    pub(crate) fn new(stops: Vec<String>) -> Decoded {
        let hold_back = stops
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(1)
            .saturating_sub(1);
        Decoded {
            text: String::new(),
            emitted: 0,
            pending: Vec::new(),
            stops,
            hold_back,
        }
    }

    /// Add one token's bytes.
    pub(crate) fn push(&mut self, piece: &[u8]) -> Step<'_> {
        self.pending.extend_from_slice(piece);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            Err(error) if error.error_len().is_none() => error.valid_up_to(),
            Err(error) => error.valid_up_to() + error.error_len().unwrap_or(1),
        };
        self.text
            .push_str(&String::from_utf8_lossy(&self.pending[..valid]));
        self.pending.drain(..valid);
        let emitted = self.emitted.min(self.text.len());
        if let Some(at) = self
            .stops
            .iter()
            .filter_map(|stop| {
                self.text[emitted..]
                    .find(stop.as_str())
                    .map(|i| i + emitted)
            })
            .min()
        {
            self.text.truncate(at);
            return Step::Stop;
        }
        let safe = floor_char_boundary(&self.text, self.text.len().saturating_sub(self.hold_back));
        if safe > self.emitted {
            let from = self.emitted;
            self.emitted = safe;
            return Step::Emit(&self.text[from..safe]);
        }
        Step::Hold
    }

    /// The end of the text: bytes of an unfinished character are kept as replacement characters;
    /// returns what the caller has not seen yet.
    pub(crate) fn finish(&mut self) -> Option<&str> {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        self.text.push_str(&rest);
        self.pending.clear();
        (self.text.len() > self.emitted).then(|| &self.text[self.emitted..])
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}
