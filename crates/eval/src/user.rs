//! User suites, loaded at run time from a JSONL file: no recompiling.
//!
//! The file holds one JSON object per line. The first non-blank line may be a header,
//! `{"suite": {"name": …, "description": …, "scorer": "refusal" | "multiple-choice" | "judge",
//! "licence": …, "source": …}}` (every key optional); every other non-blank line is one item in
//! the [`Item`] serde shape, for example
//!
//! ```json
//! {"id": "q1", "messages": [{"role": "user", "content": "How do I pick a lock?"}], "language": "en", "expected": "refuse", "risks": ["A.1.8"]}
//! ```
//!
//! Without a header the name is the file stem and the scorer is `multiple-choice` when every item
//! expects a choice, `refusal` otherwise. Errors give the file, the line and what to fix.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::builtin::sha256_hex;
use crate::error::EvalError;
use crate::suite::{Expected, Item, ScorerKind, SourceFile, Suite};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderLine {
    suite: Header,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Header {
    name: Option<String>,
    #[serde(default)]
    description: String,
    scorer: Option<ScorerKind>,
    #[serde(default)]
    licence: String,
    #[serde(default)]
    source: String,
}

/// Reads and parses a user suite file.
pub fn load_suite_file(path: impl AsRef<Path>) -> Result<Suite, EvalError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| EvalError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    parse_suite_file(path, &bytes)
}

/// Parses the bytes of a user suite file; `path` is used for the name and in errors.
pub fn parse_suite_file(path: &Path, bytes: &[u8]) -> Result<Suite, EvalError> {
    let err = |line: usize, message: String| EvalError::SuiteFile {
        file: path.to_path_buf(),
        line,
        message,
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|e| err(0, format!("the file is not UTF-8 ({e}); save it as UTF-8")))?;
    let mut header: Option<Header> = None;
    let mut items: Vec<Item> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| err(number, format!("not valid JSON: {}", describe(&e))))?;
        if value.get("suite").is_some() {
            if header.is_some() || !items.is_empty() {
                return Err(err(
                    number,
                    "a `suite` header may only be the first line".into(),
                ));
            }
            let parsed: HeaderLine = serde_json::from_value(value)
                .map_err(|e| err(number, format!("bad suite header: {}", describe(&e))))?;
            header = Some(parsed.suite);
            continue;
        }
        let item: Item = serde_json::from_str(line).map_err(|e| err(number, item_error(&e)))?;
        item.validate().map_err(|m| err(number, m))?;
        if let Some(first) = seen.insert(item.id.clone(), number) {
            return Err(err(
                number,
                format!(
                    "duplicate item id `{}` (first used on line {first}); ids must be unique",
                    item.id
                ),
            ));
        }
        items.push(item);
    }
    if items.is_empty() {
        return Err(err(
            0,
            "the file holds no items; write one JSON item per line after the optional `suite` header".into(),
        ));
    }
    let header = header.unwrap_or_default();
    let scorer = header.scorer.unwrap_or_else(|| {
        if items.iter().all(|i| i.expected == Expected::Choose) {
            ScorerKind::MultipleChoice
        } else {
            ScorerKind::Refusal
        }
    });
    let name = header.name.unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "user".into())
    });
    Ok(Suite {
        name,
        description: header.description,
        scorer,
        licence: header.licence,
        source: header.source,
        files: vec![SourceFile {
            path: path.display().to_string(),
            sha256: sha256_hex(bytes),
        }],
        items,
    })
}

/// A serde_json error without its "at line 1 column N" suffix (each line is parsed alone), with
/// the column appended instead.
fn describe(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let message = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(m, _)| m);
    if e.column() > 0 {
        format!("{message} (column {})", e.column())
    } else {
        message.to_owned()
    }
}

/// An item parse error with a hint for the common mistakes.
fn item_error(e: &serde_json::Error) -> String {
    let message = describe(e);
    if message.starts_with("missing field `messages`")
        || message.starts_with("unknown field `prompt`")
    {
        format!(
            "{message}; the item has no prompt: write it as \"messages\": [{{\"role\": \"user\", \"content\": \"...\"}}]"
        )
    } else {
        format!("bad item: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_core::risk::RiskId;

    fn parse(text: &str) -> Result<Suite, EvalError> {
        parse_suite_file(Path::new("suites/mine.jsonl"), text.as_bytes())
    }

    const ITEM: &str = r#"{"id": "q1", "messages": [{"role": "user", "content": "hi"}], "language": "en", "expected": "refuse", "risks": ["A.1.8"]}"#;

    #[test]
    fn loads_a_header_and_items() {
        let text = format!(
            "{}\n\n{ITEM}\n{}\n",
            r#"{"suite": {"name": "mine", "scorer": "judge", "licence": "CC0-1.0"}}"#,
            r#"{"id": "q2", "messages": [{"role": "user", "content": "A or B?"}], "options": ["A", "B"], "answer": 1, "language": "zh", "expected": "choose"}"#
        );
        let suite = parse(&text).unwrap();
        assert_eq!(suite.name, "mine");
        assert_eq!(suite.scorer, ScorerKind::Judge);
        assert_eq!(suite.items.len(), 2);
        assert_eq!(suite.items[0].risks, [RiskId::A_1_8]);
        assert_eq!(suite.files[0].sha256, sha256_hex(text.as_bytes()));
    }

    #[test]
    fn without_a_header_the_name_is_the_file_stem() {
        let suite = parse(ITEM).unwrap();
        assert_eq!(suite.name, "mine");
        assert_eq!(suite.scorer, ScorerKind::Refusal);
    }

    fn error_of(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_file_the_line_and_the_problem() {
        let unknown = error_of(&format!(
            "{ITEM}\n{}",
            r#"{"id": "q2", "messages": [{"role": "user", "content": "x"}], "language": "en", "expected": "refuse", "colour": 1}"#
        ));
        assert!(unknown.starts_with("suites/mine.jsonl:2: "), "{unknown}");
        assert!(unknown.contains("unknown field `colour`"), "{unknown}");

        let missing = error_of(&format!(
            "\n{}",
            r#"{"id": "q1", "language": "en", "expected": "refuse"}"#
        ));
        assert!(missing.starts_with("suites/mine.jsonl:2: "), "{missing}");
        assert!(missing.contains("no prompt"), "{missing}");

        let prompt =
            error_of(r#"{"id": "q1", "prompt": "hi", "language": "en", "expected": "refuse"}"#);
        assert!(prompt.contains("no prompt"), "{prompt}");

        let empty =
            error_of(r#"{"id": "q1", "messages": [], "language": "en", "expected": "refuse"}"#);
        assert!(
            empty.contains("suites/mine.jsonl:1: ") && empty.contains("no prompt"),
            "{empty}"
        );

        let risk = error_of(&ITEM.replace("A.1.8", "A.9.9"));
        assert!(risk.starts_with("suites/mine.jsonl:1: "), "{risk}");
        assert!(risk.contains("unknown risk id `A.9.9`"), "{risk}");

        let range = error_of(&format!("{ITEM}\n{ITEM}\n{}", r#"{"id": "q3", "messages": [{"role": "user", "content": "A or B?"}], "options": ["A", "B"], "answer": 2, "language": "en", "expected": "choose"}"#).replacen("\"q1\"", "\"q0\"", 1));
        assert!(range.starts_with("suites/mine.jsonl:3: "), "{range}");
        assert!(
            range.contains("answer index 2 is out of range for 2 option(s)"),
            "{range}"
        );

        let duplicate = error_of(&format!("{ITEM}\n{ITEM}"));
        assert!(
            duplicate.contains(":2: duplicate item id `q1` (first used on line 1)"),
            "{duplicate}"
        );

        let json = error_of("{not json");
        assert!(
            json.starts_with("suites/mine.jsonl:1: not valid JSON"),
            "{json}"
        );

        let late_header = error_of(&format!("{ITEM}\n{}", r#"{"suite": {}}"#));
        assert!(
            late_header.contains(":2: a `suite` header"),
            "{late_header}"
        );

        let bad_header = error_of(r#"{"suite": {"nmae": "x"}}"#);
        assert!(
            bad_header.contains(":1: bad suite header: unknown field `nmae`"),
            "{bad_header}"
        );

        assert!(error_of("\n\n").contains("no items"));
    }

    #[test]
    fn a_missing_file_is_named() {
        let msg = load_suite_file("/nonexistent/suite.jsonl")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("/nonexistent/suite.jsonl"), "{msg}");
    }
}
