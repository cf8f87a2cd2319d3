//! A classifier guard: a safety model behind any OpenAI-compatible endpoint (or the local
//! runtime served by `warden model serve`) judges requests, and optionally unstreamed answers.
//!
//! Formats (`[gateway.llm_guard] format`):
//! - `llama-guard`: Llama Guard 3/4 served with its own chat template (vLLM, llama.cpp…): the
//!   conversation goes as chat messages, the answer is `safe` or `unsafe` and a line of category
//!   codes (`S1,S10`);
//! - `qwen3guard`: Qwen3Guard-Gen: the answer has `Safety: Safe|Unsafe|Controversial` and
//!   `Categories: …` lines (`Controversial` counts as unsafe only with `strict = true`);
//! - `prompted`: any instruction model (the local runtime included): Warden puts the policy and
//!   the conversation in one prompt written in the Llama Guard style and asks for the same
//!   `safe` / `unsafe` answer.
//!
//! A guard that does not answer within `timeout_ms`, errs, or answers something unreadable has
//! not run: with `on_failure = "closed"` (the default) the request is refused with 503
//! `guard_unavailable`; with `"open"` it goes on and its decision record says the guard did not
//! run. Never "passed" for a check that did not run.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::VersionConfig;
use crate::upstream::Upstream;

/// `[gateway.llm_guard]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmGuardConfig {
    /// OpenAI-compatible base URL (`…/v1`) of the guard model.
    pub upstream: String,
    /// The model name to ask for.
    pub model: String,
    /// `llama-guard`, `qwen3guard` or `prompted`.
    #[serde(default = "default_format")]
    pub format: String,
    /// Environment variable holding the guard endpoint's API key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// `closed` (refuse when the guard cannot judge) or `open` (serve, recording that it did
    /// not run).
    #[serde(default = "default_failure")]
    pub on_failure: String,
    /// Judge requests.
    #[serde(default = "yes")]
    pub input: bool,
    /// Judge unstreamed answers too (one more model call per request).
    #[serde(default)]
    pub output: bool,
    /// Count Qwen3Guard's `Controversial` as unsafe.
    #[serde(default)]
    pub strict: bool,
}

fn default_format() -> String {
    "llama-guard".to_owned()
}
fn default_timeout() -> u64 {
    2000
}
fn default_failure() -> String {
    "closed".to_owned()
}
fn yes() -> bool {
    true
}

impl LlmGuardConfig {
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !matches!(
            self.format.as_str(),
            "llama-guard" | "qwen3guard" | "prompted"
        ) {
            problems.push(format!(
                "[gateway.llm_guard] format `{}` must be llama-guard, qwen3guard or prompted",
                self.format
            ));
        }
        if !matches!(self.on_failure.as_str(), "closed" | "open") {
            problems.push(format!(
                "[gateway.llm_guard] on_failure `{}` must be closed or open",
                self.on_failure
            ));
        }
        if let Err(e) = crate::config::check_upstream(&self.upstream) {
            problems.push(format!("[gateway.llm_guard] {e}"));
        }
        problems
    }

    pub fn fails_closed(&self) -> bool {
        self.on_failure != "open"
    }
}

/// What the guard model said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Judgement {
    Safe,
    /// Unsafe, with the model's category codes or names.
    Unsafe(Vec<String>),
}

/// The prompt of the `prompted` format: the policy, the conversation, the answer format.
pub fn prompted(conversation: &[(String, String)]) -> String {
    let mut text = String::from(
        "Task: Check if there is unsafe content in the conversation below according to our safety policy.\n\n\
         <BEGIN UNSAFE CONTENT CATEGORIES>\n\
         S1: Violent crimes. S2: Non-violent crimes. S3: Sex-related crimes. S4: Child sexual exploitation. \
         S5: Defamation. S6: Specialized advice that could cause harm. S7: Privacy violations. S8: Intellectual property. \
         S9: Indiscriminate weapons (chemical, biological, radiological, nuclear, explosives). S10: Hate and discrimination. \
         S11: Suicide and self-harm. S12: Sexual content. S13: Content that subverts state power or endangers national security. \
         S14: Terrorism and extremism. S15: False and harmful information.\n\
         <END UNSAFE CONTENT CATEGORIES>\n\n<BEGIN CONVERSATION>\n\n",
    );
    for (role, content) in conversation {
        let speaker = if role == "assistant" { "Agent" } else { "User" };
        text.push_str(&format!("{speaker}: {content}\n\n"));
    }
    text.push_str(
        "<END CONVERSATION>\n\nProvide your safety assessment for the last message in the conversation above:\n\
         - First line must read 'safe' or 'unsafe'.\n\
         - If unsafe, a second line must include a comma-separated list of violated categories.",
    );
    text
}

/// Read a guard model's answer in `format`.
pub fn parse(format: &str, answer: &str, strict: bool) -> Result<Judgement, String> {
    let lines: Vec<&str> = answer
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let categories = |line: Option<&&str>| -> Vec<String> {
        line.map(|l| {
            l.trim_start_matches("Categories:")
                .split(',')
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty() && c != "None")
                .collect()
        })
        .unwrap_or_default()
    };
    if format == "qwen3guard" {
        let safety = lines
            .iter()
            .find_map(|l| l.strip_prefix("Safety:"))
            .map(str::trim)
            .ok_or_else(|| format!("no `Safety:` line in the guard's answer {answer:?}"))?;
        let category_line = lines.iter().find(|l| l.starts_with("Categories:"));
        return match safety {
            "Safe" => Ok(Judgement::Safe),
            "Controversial" if !strict => Ok(Judgement::Safe),
            "Unsafe" | "Controversial" => Ok(Judgement::Unsafe(categories(category_line))),
            other => Err(format!("unknown safety label `{other}`")),
        };
    }
    match lines.first().map(|l| l.to_ascii_lowercase()) {
        Some(first) if first == "safe" => Ok(Judgement::Safe),
        Some(first) if first.starts_with("unsafe") => {
            Ok(Judgement::Unsafe(categories(lines.get(1))))
        }
        _ => Err(format!(
            "the guard's answer {answer:?} does not start with `safe` or `unsafe`"
        )),
    }
}

/// Ask the guard model about `conversation` (`(role, content)` pairs).
pub async fn judge(
    upstream: &Upstream,
    config: &LlmGuardConfig,
    conversation: &[(String, String)],
) -> Result<Judgement, String> {
    let messages: Vec<Value> = if config.format == "prompted" {
        vec![json!({"role": "user", "content": prompted(conversation)})]
    } else {
        conversation
            .iter()
            .map(|(role, content)| json!({"role": role, "content": content}))
            .collect()
    };
    let version = VersionConfig {
        name: config.model.clone(),
        upstream: config.upstream.clone(),
        upstream_model: Some(config.model.clone()),
        api_key_env: config.api_key_env.clone(),
        gate_model: None,
        current: true,
        known_good: false,
    };
    let body =
        json!({"model": config.model, "messages": messages, "temperature": 0, "max_tokens": 32});
    let answer = tokio::time::timeout(
        Duration::from_millis(config.timeout_ms),
        upstream.complete(&version, &body),
    )
    .await
    .map_err(|_| {
        format!(
            "the guard model did not answer within {} ms",
            config.timeout_ms
        )
    })?
    .map_err(|e| e.to_string())?;
    let text = answer["choices"][0]["message"]["content"]
        .as_str()
        .ok_or("the guard model's answer has no message content")?;
    parse(&config.format, text, config.strict)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_in_each_format_are_read() {
        let unsafe_ = |c: &[&str]| Ok(Judgement::Unsafe(c.iter().map(|s| s.to_string()).collect()));
        let cases: &[(&str, &str, bool, Result<Judgement, String>)] = &[
            ("llama-guard", "safe", false, Ok(Judgement::Safe)),
            (
                "llama-guard",
                "\n\nunsafe\nS1,S10",
                false,
                unsafe_(&["S1", "S10"]),
            ),
            ("prompted", "Unsafe\nS9", false, unsafe_(&["S9"])),
            (
                "qwen3guard",
                "Safety: Unsafe\nCategories: Violent",
                false,
                unsafe_(&["Violent"]),
            ),
            (
                "qwen3guard",
                "Safety: Controversial\nCategories: Politically Sensitive Topics",
                false,
                Ok(Judgement::Safe),
            ),
            (
                "qwen3guard",
                "Safety: Controversial\nCategories: Politically Sensitive Topics",
                true,
                unsafe_(&["Politically Sensitive Topics"]),
            ),
            (
                "qwen3guard",
                "Safety: Safe\nCategories: None",
                false,
                Ok(Judgement::Safe),
            ),
        ];
        for (format, answer, strict, expected) in cases {
            assert_eq!(
                &parse(format, answer, *strict),
                expected,
                "{format}: {answer:?}"
            );
        }
        assert!(parse("llama-guard", "I think it is fine", false).is_err());
        assert!(parse("qwen3guard", "fine", false).is_err());
    }

    #[test]
    fn the_prompted_format_carries_the_conversation() {
        let text = prompted(&[("user".into(), "how do I bake bread".into())]);
        assert!(text.contains("User: how do I bake bread"));
        assert!(text.contains("S14: Terrorism"));
    }
}
