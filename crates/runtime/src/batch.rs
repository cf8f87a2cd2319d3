//! Continuous batching: several generations decoded together in one llama.cpp context, so
//! concurrent requests share the CPU instead of queueing behind each other.
//!
//! A [`Batcher`] owns one worker thread and one context with a KV cache split into
//! `max_sequences` sequences (each as long as [`Runtime::context_tokens`]). Every step the worker
//! builds one llama.cpp batch holding the next token of every decoding sequence and as much of
//! the waiting prompts as fits, decodes it once, and samples each sequence from its own row of
//! logits, in Rust and over the full vocabulary, exactly as [`Runtime::generate`] does (the
//! logits hook and watermarking depend on that). A sequence that finishes has its KV cells
//! removed before its slot takes the next request, so requests never see each other's state.
//!
//! [`Batcher::generate`] has the signature of [`Runtime::generate`]: the caller's thread receives
//! the text as it is decoded and runs the callback, whose `false` cancels at the next step.
//! Greedy output matches single-sequence decoding except where the top two logits are nearly
//! tied: batched matrix products round differently, which can flip such a tie.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;

use crate::RuntimeError;
use crate::engine::{Completion, Decoded, FinishReason, Runtime, Step};
use crate::sampling::Sampler;

/// What the worker tells the caller of one generation.
enum Event {
    Text(String),
    Done(Result<Completion, RuntimeError>),
}

/// One generation handed to the worker.
struct Job {
    tokens: Vec<LlamaToken>,
    sampler: Sampler,
    cancelled: Arc<AtomicBool>,
    events: mpsc::Sender<Event>,
}

/// A running generation in a KV sequence.
struct Sequence {
    id: i32,
    job: Job,
    /// Prompt tokens already decoded into the KV cache.
    prefilled: usize,
    /// The position the next token takes.
    position: usize,
    history: Vec<i32>,
    /// The token sampled last, to be decoded next.
    next: Option<LlamaToken>,
    /// The row of this step's logits that belongs to this sequence.
    logits_row: Option<i32>,
    generated: u32,
    max_new: u32,
    decoded: Decoded,
    admitted: Instant,
    prompt_time: Option<Duration>,
}

/// Generations decoded together; see the module documentation.
pub struct Batcher {
    jobs: Option<mpsc::Sender<Job>>,
    runtime: Arc<Runtime>,
    max_sequences: u32,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("max_sequences", &self.max_sequences)
            .finish_non_exhaustive()
    }
}

impl Batcher {
    /// Start the worker for `runtime` with room for `max_sequences` generations at once
    /// (1 to 64). Fails when llama.cpp cannot make the context.
    pub fn start(runtime: Arc<Runtime>, max_sequences: u32) -> Result<Batcher, RuntimeError> {
        if !(1..=64).contains(&max_sequences) {
            return Err(RuntimeError::BadRequest(format!(
                "parallel sequences must be 1 to 64, not {max_sequences}"
            )));
        }
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready, started) = mpsc::channel::<Result<(), RuntimeError>>();
        let worker_runtime = Arc::clone(&runtime);
        let worker = std::thread::Builder::new()
            .name("warden-batcher".into())
            .spawn(move || {
                let runtime = worker_runtime;
                match new_context(&runtime, max_sequences) {
                    Ok(ctx) => {
                        let _ = ready.send(Ok(()));
                        work(&runtime, ctx, max_sequences, &queue);
                    }
                    Err(error) => {
                        let _ = ready.send(Err(error));
                    }
                }
            })
            .map_err(|e| RuntimeError::Engine(format!("cannot start the batch worker: {e}")))?;
        started
            .recv()
            .map_err(|_| RuntimeError::Engine("the batch worker died while starting".into()))??;
        Ok(Batcher {
            jobs: Some(jobs),
            runtime,
            max_sequences,
            worker: Some(worker),
        })
    }

    /// How many generations decode at once.
    pub fn max_sequences(&self) -> u32 {
        self.max_sequences
    }

    /// Generate from `prompt` in the shared batch, streaming text to `on_text` on this thread;
    /// returning `false` from it cancels. Blocks until the generation ends.
    pub fn generate(
        &self,
        prompt: &str,
        sampler: Sampler,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Completion, RuntimeError> {
        sampler.params().validate()?;
        let tokens = self.runtime.prompt_tokens(prompt)?;
        let cancelled = Arc::new(AtomicBool::new(false));
        let (events, receiver) = mpsc::channel();
        let job = Job {
            tokens,
            sampler,
            cancelled: Arc::clone(&cancelled),
            events,
        };
        let gone = || RuntimeError::Engine("the batch worker has stopped".into());
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send(job)
            .map_err(|_| gone())?;
        loop {
            match receiver.recv().map_err(|_| gone())? {
                Event::Text(text) => {
                    if !cancelled.load(Ordering::Relaxed) && !on_text(&text) {
                        cancelled.store(true, Ordering::Relaxed);
                    }
                }
                Event::Done(result) => return result,
            }
        }
    }
}

/// Aggregate speed of concurrent generations, measured by [`Batcher::bench`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StreamsBench {
    /// Generations run at once.
    pub streams: u32,
    /// Tokens generated by all of them.
    pub tokens: u64,
    /// Wall time from the first request to the last token, prompts included.
    pub seconds: f64,
    /// `tokens / seconds`.
    pub tokens_per_s: f64,
    /// Tokens over the longest decoding phase of any stream (its prompt excluded): the aggregate
    /// decode rate, comparable with [`crate::engine::BenchResult::decode_tokens_per_s`].
    pub decode_tokens_per_s: f64,
}

impl Batcher {
    /// Run `streams` greedy generations of `tokens` tokens each at once (end-of-turn banned, so
    /// each decodes exactly `tokens`) and measure the aggregate rate.
    pub fn bench(
        &self,
        prompt: &str,
        tokens: u32,
        streams: u32,
    ) -> Result<StreamsBench, RuntimeError> {
        let banned = self.runtime.end_of_generation_tokens();
        let started = Instant::now();
        let results: Vec<Result<Completion, RuntimeError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..streams.max(1))
                .map(|_| {
                    let banned = banned.clone();
                    scope.spawn(move || {
                        let sampler = Sampler::new(crate::sampling::SamplingParams::greedy(tokens))
                            .with_processor(Box::new(crate::sampling::BanTokens(banned)));
                        self.generate(prompt, sampler, &mut |_| true)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(RuntimeError::Engine("a benchmark stream panicked".into()))
                    })
                })
                .collect()
        });
        let seconds = started.elapsed().as_secs_f64().max(1e-9);
        let mut total = 0u64;
        let mut decoding = 0f64;
        for result in results {
            let completion = result?;
            total += u64::from(completion.completion_tokens);
            decoding = decoding.max(completion.decode_time.as_secs_f64());
        }
        Ok(StreamsBench {
            streams: streams.max(1),
            tokens: total,
            seconds,
            tokens_per_s: total as f64 / seconds,
            decode_tokens_per_s: total as f64 / decoding.max(1e-9),
        })
    }
}

impl Drop for Batcher {
    fn drop(&mut self) {
        // Closing the queue ends the worker once its running generations finish.
        self.jobs.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

fn new_context(runtime: &Runtime, sequences: u32) -> Result<LlamaContext<'_>, RuntimeError> {
    let per_sequence = runtime.context_tokens();
    let batch = batch_capacity(runtime, sequences);
    let threads = runtime.thread_count();
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(per_sequence.saturating_mul(sequences)))
        .with_n_seq_max(sequences)
        .with_kv_unified(false)
        .with_n_batch(batch)
        .with_n_ubatch(batch)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    runtime
        .model()
        .new_context(crate::engine::backend()?, params)
        .map_err(|e| RuntimeError::Engine(format!("cannot create a llama.cpp context: {e}")))
}

/// Tokens per step: one per decoding sequence plus the prompt budget.
fn batch_capacity(runtime: &Runtime, sequences: u32) -> u32 {
    runtime
        .batch_tokens()
        .clamp(1, runtime.context_tokens())
        .saturating_add(sequences)
}

/// The worker loop: admit, batch, decode, sample, finish; returns when the queue is closed and
/// nothing is running.
fn work(runtime: &Runtime, mut ctx: LlamaContext<'_>, sequences: u32, queue: &mpsc::Receiver<Job>) {
    let capacity = batch_capacity(runtime, sequences) as usize;
    let mut batch = LlamaBatch::new(capacity, 1);
    let mut slots: Vec<Option<Sequence>> = (0..sequences).map(|_| None).collect();
    let mut open = true;
    let mut logits: Vec<f32> = Vec::new();
    let vocab = runtime.model().vocab();
    let n_ctx = runtime.context_tokens();
    loop {
        // Admit: wait when idle, otherwise take whatever is queued into free slots.
        let idle = slots.iter().all(Option::is_none);
        if idle {
            if !open {
                return;
            }
            match queue.recv() {
                Ok(job) => admit(&mut slots, job, n_ctx),
                Err(_) => return,
            }
        }
        while open && slots.iter().any(Option::is_none) {
            match queue.try_recv() {
                Ok(job) => admit(&mut slots, job, n_ctx),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => open = false,
            }
        }

        // One batch: every decoding sequence's next token, then prompt chunks while room lasts.
        batch.clear();
        let mut room = capacity;
        let mut failed: Option<String> = None;
        for sequence in slots.iter_mut().flatten() {
            sequence.logits_row = None;
            if let Some(token) = sequence.next.take() {
                if let Err(e) = batch.add(token, sequence.position as i32, &[sequence.id], true) {
                    failed = Some(format!("batch: {e}"));
                    break;
                }
                sequence.position += 1;
                sequence.logits_row = Some(batch.n_tokens() - 1);
                room -= 1;
            }
        }
        for sequence in slots.iter_mut().flatten() {
            if failed.is_some() || room == 0 || sequence.prefilled >= sequence.job.tokens.len() {
                continue;
            }
            let end = (sequence.prefilled + room).min(sequence.job.tokens.len());
            for index in sequence.prefilled..end {
                let last = index + 1 == sequence.job.tokens.len();
                if let Err(e) = batch.add(
                    sequence.job.tokens[index],
                    index as i32,
                    &[sequence.id],
                    last,
                ) {
                    failed = Some(format!("batch: {e}"));
                    break;
                }
                if last {
                    sequence.logits_row = Some(batch.n_tokens() - 1);
                }
            }
            room -= end - sequence.prefilled;
            sequence.prefilled = end;
            sequence.position = end;
        }
        if failed.is_none()
            && batch.n_tokens() > 0
            && let Err(e) = ctx.decode(&mut batch)
        {
            failed = Some(format!("decoding failed: {e}"));
        }
        if let Some(message) = failed {
            // The batch is lost for every sequence in it: end them all with the reason.
            for slot in &mut slots {
                if let Some(sequence) = slot.take() {
                    let _ = ctx.clear_kv_cache_seq(Some(sequence.id as u32), None, None);
                    let _ = sequence
                        .job
                        .events
                        .send(Event::Done(Err(RuntimeError::Engine(message.clone()))));
                }
            }
            continue;
        }

        // Sample every sequence that has logits this step.
        for slot in &mut slots {
            let Some(sequence) = slot.as_mut() else {
                continue;
            };
            let Some(row) = sequence.logits_row else {
                continue;
            };
            if sequence.prompt_time.is_none() {
                sequence.prompt_time = Some(sequence.admitted.elapsed());
            }
            logits.clear();
            logits.extend_from_slice(ctx.get_logits_ith(row));
            let finish = step(
                sequence,
                &mut logits,
                |token| vocab.token_to_piece(token, false, None),
                |token| vocab.is_eog(token),
            );
            if let Some(finish) = finish
                && let Some(done) = slot.take()
            {
                let _ = ctx.clear_kv_cache_seq(Some(done.id as u32), None, None);
                finish_sequence(done, finish);
            }
        }
    }
}

fn admit(slots: &mut [Option<Sequence>], job: Job, n_ctx: u32) {
    let Some((id, slot)) = slots.iter_mut().enumerate().find(|(_, s)| s.is_none()) else {
        return;
    };
    let prompt_tokens = u32::try_from(job.tokens.len()).unwrap_or(u32::MAX);
    let max_new = job
        .sampler
        .params()
        .max_tokens
        .min(n_ctx.saturating_sub(prompt_tokens));
    let history = job.tokens.iter().map(|t| t.0).collect();
    let stops = job.sampler.params().stop.clone();
    *slot = Some(Sequence {
        id: id as i32,
        job,
        prefilled: 0,
        position: 0,
        history,
        next: None,
        logits_row: None,
        generated: 0,
        max_new,
        decoded: Decoded::new(stops),
        admitted: Instant::now(),
        prompt_time: None,
    });
}

/// Sample one token for `sequence` from `logits`; `Some` when the generation ends.
fn step(
    sequence: &mut Sequence,
    logits: &mut [f32],
    piece: impl Fn(LlamaToken) -> Vec<u8>,
    is_end: impl Fn(LlamaToken) -> bool,
) -> Option<FinishReason> {
    if sequence.job.cancelled.load(Ordering::Relaxed) {
        return Some(FinishReason::Cancelled);
    }
    if sequence.max_new == 0 {
        return Some(FinishReason::Length);
    }
    let token = sequence.job.sampler.sample(&sequence.history, logits);
    sequence.generated += 1;
    if is_end(LlamaToken(token)) {
        return Some(FinishReason::Stop);
    }
    sequence.history.push(token);
    match sequence.decoded.push(&piece(LlamaToken(token))) {
        Step::Stop => return Some(FinishReason::Stop),
        Step::Emit(text) => {
            if sequence
                .job
                .events
                .send(Event::Text(text.to_owned()))
                .is_err()
            {
                return Some(FinishReason::Cancelled);
            }
        }
        Step::Hold => {}
    }
    if sequence.generated >= sequence.max_new {
        return Some(FinishReason::Length);
    }
    sequence.next = Some(LlamaToken(token));
    None
}

fn finish_sequence(mut sequence: Sequence, finish: FinishReason) {
    if finish != FinishReason::Cancelled
        && let Some(rest) = sequence.decoded.finish()
    {
        let _ = sequence.job.events.send(Event::Text(rest.to_owned()));
    }
    let prompt_time = sequence.prompt_time.unwrap_or_default();
    let completion = Completion {
        text: std::mem::take(&mut sequence.decoded.text),
        prompt_tokens: u32::try_from(sequence.job.tokens.len()).unwrap_or(u32::MAX),
        completion_tokens: sequence.generated,
        finish_reason: finish,
        prompt_time,
        decode_time: sequence.admitted.elapsed().saturating_sub(prompt_time),
    };
    let _ = sequence.job.events.send(Event::Done(Ok(completion)));
}
