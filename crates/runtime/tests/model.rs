//! The runtime on the real local model, SmolLM2-135M-Instruct (fetched by `scripts/fetch-model.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::OnceLock;

use warden_runtime::sampling::{BanTokens, Sampler, SamplingParams};
use warden_runtime::template::ChatMessage;
use warden_runtime::{FinishReason, Runtime, RuntimeError, RuntimeOptions};

fn model_path() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../.models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.exists(),
        "the test model is missing: run scripts/fetch-model.sh (scripts/test does)"
    );
    path
}

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Runtime::load(
            &model_path(),
            RuntimeOptions {
                context_tokens: 512,
                ..RuntimeOptions::default()
            },
        )
        .unwrap()
    })
}

fn chat(question: &str) -> String {
    runtime()
        .render_chat(&[ChatMessage::new("user", question)])
        .unwrap()
}

#[test]
fn loads_the_model_and_its_chat_template() {
    let runtime = runtime();
    assert_eq!(runtime.info().architecture(), Some("llama"));
    assert_eq!(runtime.id(), "SmolLM2-135M-Instruct.Q4_1");
    let prompt = chat("What is 2+2?");
    assert!(
        prompt.contains("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"),
        "{prompt}"
    );
}

#[test]
fn greedy_is_deterministic_and_seeds_repeat() {
    let prompt = chat("Name a colour.");
    let run = |params: SamplingParams| {
        runtime()
            .generate(&prompt, Sampler::new(params), &mut |_| true)
            .unwrap()
    };
    let first = run(SamplingParams::greedy(24));
    assert!(!first.text.is_empty());
    assert_eq!(run(SamplingParams::greedy(24)).text, first.text);
    let sampled = SamplingParams {
        temperature: 1.2,
        seed: 7,
        max_tokens: 24,
        ..SamplingParams::default()
    };
    assert_eq!(run(sampled.clone()).text, run(sampled.clone()).text);
    assert!(first.prompt_tokens > 10 && first.completion_tokens <= 24);
}

#[test]
fn a_logits_processor_that_bans_a_token_changes_the_output() {
    let prompt = chat("Say hello.");
    let plain = runtime()
        .generate(
            &prompt,
            Sampler::new(SamplingParams::greedy(1)),
            &mut |_| true,
        )
        .unwrap();
    let first = runtime().tokenize(&plain.text);
    let banned = *first.last().unwrap();
    let sampler =
        Sampler::new(SamplingParams::greedy(8)).with_processor(Box::new(BanTokens(vec![banned])));
    let mut streamed = String::new();
    let changed = runtime()
        .generate(&prompt, sampler, &mut |text| {
            streamed.push_str(text);
            true
        })
        .unwrap();
    assert!(
        !runtime().tokenize(&changed.text).contains(&banned),
        "{:?} still holds token {banned}",
        changed.text
    );
    assert_eq!(
        streamed, changed.text,
        "streamed deltas add up to the completion"
    );
}

#[test]
fn max_tokens_stop_strings_and_cancellation_end_generation() {
    let prompt = chat("Count from one to twenty in words.");
    let length = runtime()
        .generate(
            &prompt,
            Sampler::new(SamplingParams::greedy(5)),
            &mut |_| true,
        )
        .unwrap();
    assert_eq!(
        (length.completion_tokens, length.finish_reason),
        (5, FinishReason::Length)
    );
    let full = runtime()
        .generate(
            &prompt,
            Sampler::new(SamplingParams::greedy(40)),
            &mut |_| true,
        )
        .unwrap();
    // Stop at a piece of text from the middle of the unconstrained answer.
    let chars: Vec<char> = full.text.chars().collect();
    assert!(chars.len() >= 12, "{:?}", full.text);
    let word: String = chars[chars.len() / 2..chars.len() / 2 + 3].iter().collect();
    let stopped = runtime()
        .generate(
            &prompt,
            Sampler::new(SamplingParams {
                stop: vec![word.clone()],
                ..SamplingParams::greedy(40)
            }),
            &mut |_| true,
        )
        .unwrap();
    assert_eq!(stopped.finish_reason, FinishReason::Stop);
    assert!(
        !stopped.text.contains(&word) && full.text.starts_with(&stopped.text),
        "{:?} / {:?}",
        stopped.text,
        full.text
    );
    let mut calls = 0;
    let cancelled = runtime()
        .generate(
            &prompt,
            Sampler::new(SamplingParams::greedy(40)),
            &mut |_| {
                calls += 1;
                calls < 3
            },
        )
        .unwrap();
    assert_eq!(cancelled.finish_reason, FinishReason::Cancelled);
    assert!(cancelled.completion_tokens < 40);
}

#[test]
fn a_prompt_longer_than_the_context_is_refused() {
    let long = "word ".repeat(2000);
    let err = runtime()
        .generate(&long, Sampler::new(SamplingParams::greedy(4)), &mut |_| {
            true
        })
        .unwrap_err();
    assert!(
        matches!(
            err,
            RuntimeError::ContextOverflow {
                context_tokens: 512,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("context holds 512"));
}

#[test]
fn bad_model_files_are_errors_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let missing =
        Runtime::load(&dir.path().join("none.gguf"), RuntimeOptions::default()).unwrap_err();
    assert!(missing.to_string().contains("cannot open"), "{missing}");
    let not_gguf = dir.path().join("x.gguf");
    std::fs::write(&not_gguf, b"not a model at all").unwrap();
    assert!(
        Runtime::load(&not_gguf, RuntimeOptions::default())
            .unwrap_err()
            .to_string()
            .contains("not a GGUF")
    );
    let truncated = dir.path().join("t.gguf");
    let bytes = std::fs::read(model_path()).unwrap();
    std::fs::write(&truncated, &bytes[..4096]).unwrap();
    let err = Runtime::load(&truncated, RuntimeOptions::default()).unwrap_err();
    assert!(matches!(err, RuntimeError::BadModel(_)), "{err}");
    let other = dir.path().join("m.gguf");
    let mut header = b"GGUF".to_vec();
    header.extend_from_slice(&3u32.to_le_bytes());
    header.extend_from_slice(&0u64.to_le_bytes());
    header.extend_from_slice(&1u64.to_le_bytes());
    header.extend_from_slice(&20u64.to_le_bytes());
    header.extend_from_slice(b"general.architecture");
    header.extend_from_slice(&8u32.to_le_bytes());
    header.extend_from_slice(&5u64.to_le_bytes());
    header.extend_from_slice(b"mamba");
    std::fs::write(&other, header).unwrap();
    let err = Runtime::load(&other, RuntimeOptions::default()).unwrap_err();
    assert!(
        matches!(err, RuntimeError::UnsupportedArchitecture(ref a) if a == "mamba"),
        "{err}"
    );
}

/// Token ids must match llama-cpp-python's for the same GGUF (fixture written once with
/// `scripts/runtime-reference.py tokens`), English, Chinese, special tokens and code alike.
#[test]
fn token_ids_match_the_reference_tokenizer() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/tokens.json")).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let expected: Vec<i32> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_i64().unwrap() as i32)
            .collect();
        assert_eq!(runtime().tokenize(text), expected, "{text:?}");
    }
}

/// Per step: the token greedy decoding picks and its lead over the runner-up.
type Steps = std::sync::Arc<std::sync::Mutex<Vec<(i32, f32)>>>;

/// Records [`Steps`] as a generation goes.
struct Recorder(Steps);

impl warden_runtime::sampling::LogitsProcessor for Recorder {
    fn process(&mut self, _history: &[i32], logits: &mut [f32]) {
        let best = warden_runtime::sampling::argmax(logits);
        let top = logits[best as usize];
        let second = logits
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != best as usize)
            .map(|(_, l)| *l)
            .fold(f32::NEG_INFINITY, f32::max);
        self.0.lock().unwrap().push((best, top - second));
    }
}

fn recorded(max_tokens: u32) -> (Sampler, Steps) {
    let steps = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sampler = Sampler::new(SamplingParams::greedy(max_tokens))
        .with_processor(Box::new(Recorder(std::sync::Arc::clone(&steps))));
    (sampler, steps)
}

/// A batcher over its own copy of the model (512-token context per sequence).
fn batcher(sequences: u32) -> warden_runtime::Batcher {
    let runtime = Runtime::load(
        &model_path(),
        RuntimeOptions {
            context_tokens: 512,
            ..RuntimeOptions::default()
        },
    )
    .unwrap();
    warden_runtime::Batcher::start(std::sync::Arc::new(runtime), sequences).unwrap()
}

/// Where two greedy token sequences part, that step is a near-tie in one of them (the top two
/// logits within `NEAR_TIE`); batched matrix products may round such a tie the other way.
const NEAR_TIE: f32 = 0.05;

#[test]
fn issue_15_batched_greedy_matches_single_sequences_except_at_near_ties() {
    let batcher = batcher(8);
    let questions = [
        "Name a colour.",
        "What is the capital of France?",
        "Write a haiku about rain.",
        "How do I boil an egg?",
        "Count from one to ten.",
        "What is 12 times 12?",
        "Give me a synonym for happy.",
        "Why is the sky blue?",
    ];
    let singles: Vec<_> = questions
        .iter()
        .map(|q| {
            let (sampler, steps) = recorded(32);
            let completion = runtime()
                .generate(&chat(q), sampler, &mut |_| true)
                .unwrap();
            let steps = steps.lock().unwrap().clone();
            (completion, steps)
        })
        .collect();
    let batched: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = questions
            .iter()
            .map(|q| {
                let batcher = &batcher;
                scope.spawn(move || {
                    let (sampler, steps) = recorded(32);
                    let mut streamed = String::new();
                    let completion = batcher
                        .generate(&chat(q), sampler, &mut |text| {
                            streamed.push_str(text);
                            true
                        })
                        .unwrap();
                    assert_eq!(streamed, completion.text, "streamed deltas add up");
                    let steps = steps.lock().unwrap().clone();
                    (completion, steps)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut identical = 0;
    for (question, ((single, a), (batch, b))) in questions.iter().zip(singles.iter().zip(&batched))
    {
        assert_eq!(single.prompt_tokens, batch.prompt_tokens);
        if single.text == batch.text {
            identical += 1;
            continue;
        }
        let parted = a
            .iter()
            .zip(b)
            .position(|(x, y)| x.0 != y.0)
            .unwrap_or(a.len().min(b.len()));
        let margin = a
            .get(parted)
            .map_or(0.0, |s| s.1)
            .min(b.get(parted).map_or(0.0, |s| s.1));
        eprintln!(
            "{question}: batched output parts from single at token {parted} (top-two margin {margin:.4})"
        );
        assert!(
            margin < NEAR_TIE,
            "{question}: outputs part at token {parted} with a margin of {margin}, not a near-tie:\n{:?}\n{:?}",
            single.text,
            batch.text
        );
    }
    eprintln!(
        "{identical} of {} batched greedy outputs identical to single-sequence decoding",
        questions.len()
    );
    assert!(
        identical >= questions.len() / 2,
        "only {identical} identical"
    );
}

#[test]
fn issue_15_batched_generations_stop_cancel_and_refuse_alone() {
    let batcher = batcher(3);
    let prompt = chat("Count from one to twenty in words.");
    std::thread::scope(|scope| {
        let short = scope.spawn(|| {
            batcher
                .generate(
                    &prompt,
                    Sampler::new(SamplingParams::greedy(5)),
                    &mut |_| true,
                )
                .unwrap()
        });
        let cancelled = scope.spawn(|| {
            let mut calls = 0;
            batcher
                .generate(
                    &prompt,
                    Sampler::new(SamplingParams::greedy(60)),
                    &mut |_| {
                        calls += 1;
                        calls < 3
                    },
                )
                .unwrap()
        });
        // More generations than sequences: the fourth and fifth wait for a free slot.
        let long: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    batcher
                        .generate(
                            &prompt,
                            Sampler::new(SamplingParams::greedy(40)),
                            &mut |_| true,
                        )
                        .unwrap()
                })
            })
            .collect();
        let short = short.join().unwrap();
        assert_eq!(
            (short.completion_tokens, short.finish_reason),
            (5, FinishReason::Length)
        );
        let cancelled = cancelled.join().unwrap();
        assert_eq!(cancelled.finish_reason, FinishReason::Cancelled);
        assert!(cancelled.completion_tokens < 60);
        let texts: Vec<String> = long.into_iter().map(|h| h.join().unwrap().text).collect();
        // The same greedy request three times, in slots reused after other requests: the same text.
        assert!(texts.iter().all(|t| t == &texts[0]), "{texts:?}");
        assert!(
            texts[0].starts_with(&short.text),
            "{texts:?} / {:?}",
            short.text
        );
    });
    let long = "word ".repeat(2000);
    let err = batcher
        .generate(&long, Sampler::new(SamplingParams::greedy(4)), &mut |_| {
            true
        })
        .unwrap_err();
    assert!(err.to_string().contains("context holds 512"), "{err}");
    assert!(
        warden_runtime::Batcher::start(
            std::sync::Arc::new(Runtime::load(&model_path(), RuntimeOptions::default()).unwrap()),
            0
        )
        .is_err()
    );
}
