//! Suites and items: the data shape every evaluation suite has, shipped or user-written.
//!
//! An [`Item`] is one prompt (one or more chat [`Message`]s) with what a safe model should do with
//! it ([`Expected`]), and, for multiple-choice items, the options and the index of the right one.
//! A [`Suite`] is a named list of items with the scorer that grades them, the data's licence and
//! source, and the SHA-256 of every file the items came from.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use warden_core::risk::RiskId;

/// Who speaks a chat message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A system prompt.
    System,
    /// The user (the prompt under test is the last user message).
    User,
    /// An earlier model turn, for multi-turn items.
    Assistant,
}

/// One chat message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// Who speaks.
    pub role: Role,
    /// The text.
    pub content: String,
}

impl Message {
    /// A user message.
    pub fn user(content: impl Into<String>) -> Message {
        Message {
            role: Role::User,
            content: content.into(),
        }
    }
}

/// What a safe, helpful model should do with an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expected {
    /// Decline, or (under a judge) answer without doing the harm asked for.
    Refuse,
    /// Answer helpfully; refusing is over-refusal.
    Comply,
    /// Pick the option at [`Item::answer`].
    Choose,
}

impl Expected {
    /// What a safe model gives, in words: "expected {}".
    pub fn wanted(self) -> &'static str {
        match self {
            Expected::Refuse => "a refusal",
            Expected::Comply => "an answer",
            Expected::Choose => "the right option",
        }
    }
}

/// How a suite's items are graded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScorerKind {
    /// Did the model refuse? Compared with [`Expected::Refuse`] / [`Expected::Comply`].
    Refusal,
    /// Which option did the model pick? Compared with [`Item::answer`].
    MultipleChoice,
    /// A judge model grades the response for safety. Items with [`Expected::Choose`] in a judged
    /// suite (FINE's multiple-choice halves) are still graded by their answer index.
    Judge,
}

impl fmt::Display for ScorerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScorerKind::Refusal => "refusal",
            ScorerKind::MultipleChoice => "multiple-choice",
            ScorerKind::Judge => "judge",
        })
    }
}

/// One evaluation item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Unique within its suite.
    pub id: String,
    /// The conversation to send; a single prompt is one user message.
    pub messages: Vec<Message>,
    /// Multiple-choice options, in the order shown; empty for open-ended items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// Index into `options` of the right option.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<usize>,
    /// The source data set's own category (free text).
    #[serde(default)]
    pub category: String,
    /// The risks this item probes; empty where no honest mapping exists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<RiskId>,
    /// Language code: `en` or `zh`.
    pub language: String,
    /// What a safe model does.
    pub expected: Expected,
    /// Items that share a `pair` value are forms of the same question (e.g. multiple-choice and
    /// open-ended), compared by consistency checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<String>,
}

impl Item {
    /// A single-prompt item with no options.
    pub fn prompt(
        id: impl Into<String>,
        prompt: impl Into<String>,
        language: &str,
        expected: Expected,
    ) -> Item {
        Item {
            id: id.into(),
            messages: vec![Message::user(prompt)],
            options: Vec::new(),
            answer: None,
            category: String::new(),
            risks: Vec::new(),
            language: language.to_owned(),
            expected,
            pair: None,
        }
    }

    /// The last user message: the prompt under test.
    pub fn last_prompt(&self) -> Option<&str> {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.as_str())
    }

    /// Every message's content, one per line: the text a prompt filter sees.
    pub fn messages_text(&self) -> String {
        self.messages
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The number that ends the id (`xstest-17` is 17; 0 when there is none): splits by its
    /// parity are stable held-out halves of a shipped suite.
    pub fn id_number(&self) -> u64 {
        self.id
            .rsplit('-')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// Checks the item on its own; the error says what is wrong and how to fix it.
    pub fn validate(&self) -> Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("item has an empty `id`; give every item a unique id".into());
        }
        match self.messages.last() {
            None => {
                return Err(format!(
                    "item `{}` has no prompt: `messages` must hold at least one {{\"role\": \"user\", \"content\": \"...\"}}",
                    self.id
                ));
            }
            Some(last) if last.role != Role::User || last.content.trim().is_empty() => {
                return Err(format!(
                    "item `{}` has no prompt: the last message must be a non-empty user message",
                    self.id
                ));
            }
            Some(_) => {}
        }
        if self.language.trim().is_empty() {
            return Err(format!(
                "item `{}` has an empty `language`; use `en` or `zh`",
                self.id
            ));
        }
        if let Some(answer) = self.answer
            && answer >= self.options.len()
        {
            return Err(format!(
                "item `{}`: answer index {answer} is out of range for {} option(s); `answer` is 0-based",
                self.id,
                self.options.len()
            ));
        }
        if self.expected == Expected::Choose {
            if self.options.len() < 2 {
                return Err(format!(
                    "item `{}` expects a choice but has {} option(s); give at least two `options`",
                    self.id,
                    self.options.len()
                ));
            }
            if self.answer.is_none() {
                return Err(format!(
                    "item `{}` expects a choice but has no `answer`; give the 0-based index of the right option",
                    self.id
                ));
            }
        }
        Ok(())
    }
}

/// A data file a suite was built from, with its SHA-256 (lowercase hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFile {
    /// Path as the suite names it (relative to `crates/eval/data` for shipped suites).
    pub path: String,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
}

/// A named list of items with how to grade them and where they came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suite {
    /// Short, stable name (`xstest`, `safetybench-zh`, …).
    pub name: String,
    /// One line on what it measures.
    pub description: String,
    /// How items are graded.
    pub scorer: ScorerKind,
    /// SPDX licence id of the data.
    pub licence: String,
    /// Where the data comes from (repository or URL).
    pub source: String,
    /// The files the items were built from, with their hashes.
    pub files: Vec<SourceFile>,
    /// The items.
    pub items: Vec<Item>,
}

impl Suite {
    /// Checks every item and that ids are unique; returns the index of the first bad item and why.
    pub fn validate(&self) -> Result<(), (usize, String)> {
        let mut ids = HashSet::new();
        for (i, item) in self.items.iter().enumerate() {
            item.validate().map_err(|m| (i, m))?;
            if !ids.insert(item.id.as_str()) {
                return Err((
                    i,
                    format!("duplicate item id `{}`; ids must be unique", item.id),
                ));
            }
        }
        Ok(())
    }
}

/// A shipped suite's summary, without its items.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SuiteInfo {
    /// Name to pass to `load_builtin`.
    pub name: &'static str,
    /// One line on what it measures.
    pub description: &'static str,
    /// Number of items.
    pub items: usize,
    /// SPDX licence id of the data.
    pub licence: &'static str,
    /// How items are graded.
    pub scorer: ScorerKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_round_trips_through_json() {
        let item = Item {
            id: "x-1".into(),
            messages: vec![
                Message {
                    role: Role::System,
                    content: "Be brief.".into(),
                },
                Message::user("哪个更安全？"),
            ],
            options: vec!["A".into(), "B".into()],
            answer: Some(1),
            category: "Privacy".into(),
            risks: vec![RiskId::A_4_5, RiskId::CYBER],
            language: "zh".into(),
            expected: Expected::Choose,
            pair: Some("x".into()),
        };
        let json = serde_json::to_string(&item).unwrap();
        assert!(json.contains(r#""risks":["A.4.5","cyber"]"#), "{json}");
        assert!(json.contains(r#""expected":"choose""#), "{json}");
        let back: Item = serde_json::from_str(&json).unwrap();
        assert_eq!(back, item);
        assert_eq!(back.last_prompt(), Some("哪个更安全？"));

        let minimal = Item::prompt("m", "hi", "en", Expected::Comply);
        let json = serde_json::to_string(&minimal).unwrap();
        assert_eq!(serde_json::from_str::<Item>(&json).unwrap(), minimal);
    }

    #[test]
    fn validate_names_the_problem() {
        let mut item = Item::prompt("a", "q", "en", Expected::Choose);
        assert!(item.validate().unwrap_err().contains("at least two"));
        item.options = vec!["x".into(), "y".into()];
        assert!(item.validate().unwrap_err().contains("no `answer`"));
        item.answer = Some(2);
        assert!(item.validate().unwrap_err().contains("out of range"));
        item.answer = Some(1);
        assert_eq!(item.validate(), Ok(()));
        item.messages.clear();
        assert!(item.validate().unwrap_err().contains("no prompt"));
    }

    #[test]
    fn suite_rejects_duplicate_ids() {
        let item = Item::prompt("a", "q", "en", Expected::Refuse);
        let suite = Suite {
            name: "s".into(),
            description: String::new(),
            scorer: ScorerKind::Refusal,
            licence: String::new(),
            source: String::new(),
            files: Vec::new(),
            items: vec![item.clone(), item],
        };
        let (i, msg) = suite.validate().unwrap_err();
        assert_eq!(i, 1);
        assert!(msg.contains("duplicate"), "{msg}");
    }
}
