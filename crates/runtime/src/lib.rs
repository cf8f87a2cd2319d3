//! Warden's local model runtime: a GGUF model run by llama.cpp, sampled in Rust with an exact
//! logits hook, for the evaluation harness, the gateway and text watermarking.
//!
//! Brief overview:
//! - [`gguf`]: checks a GGUF file and reads its metadata before llama.cpp loads it.
//! - [`engine::Runtime`]: load, tokenize, render chats, generate with streaming and cancellation,
//!   benchmark.
//! - [`batch::Batcher`]: continuous batching: concurrent generations decoded together in one
//!   context with a KV cache split per sequence, sampled in Rust like single ones.
//! - [`sampling`]: temperature, top-k, top-p, repetition penalty, seeds, stop strings, and the
//!   [`sampling::LogitsProcessor`] / [`sampling::TokenPicker`] hooks.
//! - [`template`]: the model's Jinja chat template, rendered with minijinja.
//!
//! This crate knows nothing of HTTP: `warden-server` maps it onto the OpenAI API.

pub mod batch;
pub mod engine;
/// The GGUF header reader lives in `warden-gguf` (no llama.cpp, so it can be fuzzed alone).
pub use warden_gguf as gguf;
pub mod sampling;
pub mod template;

pub use batch::Batcher;
pub use engine::{Completion, FinishReason, Runtime, RuntimeOptions};

/// What went wrong, sorted by whose fault it is.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The model file is missing, not GGUF, truncated, or its template is broken.
    #[error("{0}")]
    BadModel(String),
    /// The GGUF's architecture has not been tested with Warden.
    #[error("unsupported model architecture `{0}`; Warden runs {supported}", supported = engine::SUPPORTED_ARCHITECTURES.join(", "))]
    UnsupportedArchitecture(String),
    /// The request cannot be served as given.
    #[error("{0}")]
    BadRequest(String),
    /// The prompt does not fit.
    #[error(
        "the prompt is {prompt_tokens} tokens but the context holds {context_tokens}; shorten the prompt or raise the context size"
    )]
    ContextOverflow {
        prompt_tokens: u32,
        context_tokens: u32,
    },
    /// llama.cpp failed.
    #[error("model runtime error: {0}")]
    Engine(String),
}

impl From<gguf::GgufError> for RuntimeError {
    fn from(error: gguf::GgufError) -> Self {
        RuntimeError::BadModel(error.0)
    }
}
