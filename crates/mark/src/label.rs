//! The GB 45438-2025 Annex E implicit label: seven string keys, the allowed character set, the
//! first-write and propagation rules, and rule-by-rule conformance checks.
//!
//! Written labels use the bare seven-key object (the form the TC260 container guides and real files
//! use); readers accept the bare object and the Annex E b) wrapped form `{"AIGC":{…}}`.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::MarkError;

/// The seven keys, in Annex E order.
pub const KEYS: [&str; 7] = [
    "Label",
    "ContentProducer",
    "ProduceID",
    "ReservedCode1",
    "ContentPropagator",
    "PropagateID",
    "ReservedCode2",
];

/// Annex E c): whether the content is AI-generated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Generated {
    /// "1" 属于: is AI-generated.
    Is,
    /// "2" 可能: possibly AI-generated (e.g. the user declared it).
    Possibly,
    /// "3" 疑似: suspected AI-generated (e.g. detected).
    Suspected,
}

impl Generated {
    /// The Annex E code.
    pub fn code(self) -> &'static str {
        match self {
            Generated::Is => "1",
            Generated::Possibly => "2",
            Generated::Suspected => "3",
        }
    }

    /// Parse an Annex E code.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "1" => Some(Generated::Is),
            "2" => Some(Generated::Possibly),
            "3" => Some(Generated::Suspected),
            _ => None,
        }
    }

    /// What a platform must show users (Art. 6 of the labelling measures).
    pub fn notice(self) -> &'static str {
        match self {
            Generated::Is => "AI生成 (AI-generated)",
            Generated::Possibly => "可能为AI生成 (possibly AI-generated)",
            Generated::Suspected => "疑似AI生成 (suspected AI-generated)",
        }
    }
}

/// True for a character Annex E j) allows in a value: printable ASCII without space or `\`
/// (`"` is allowed, and appears escaped in the JSON).
pub fn allowed_char(c: char) -> bool {
    matches!(c, '\u{21}'..='\u{5B}' | '\u{5D}'..='\u{7E}')
}

/// An implicit label. Fields are kept as strings so that a non-conformant label read from a file
/// can still be shown and checked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AigcLabel {
    pub label: String,
    pub content_producer: String,
    #[serde(rename = "ProduceID")]
    pub produce_id: String,
    pub reserved_code1: String,
    pub content_propagator: String,
    #[serde(rename = "PropagateID")]
    pub propagate_id: String,
    pub reserved_code2: String,
}

impl AigcLabel {
    /// A provider's first write: the propagator fields copy the producer fields (Annex E note 1).
    pub fn new(generated: Generated, producer: &str, produce_id: &str) -> Result<Self, MarkError> {
        let label = Self {
            label: generated.code().to_owned(),
            content_producer: producer.to_owned(),
            produce_id: produce_id.to_owned(),
            reserved_code1: String::new(),
            content_propagator: producer.to_owned(),
            propagate_id: produce_id.to_owned(),
            reserved_code2: String::new(),
        };
        label.validate()?;
        Ok(label)
    }

    /// A propagating platform's update: only its own fields change.
    pub fn propagate(
        &mut self,
        propagator: &str,
        propagate_id: &str,
        reserved_code2: Option<&str>,
    ) -> Result<(), MarkError> {
        let mut updated = self.clone();
        updated.content_propagator = propagator.to_owned();
        updated.propagate_id = propagate_id.to_owned();
        if let Some(reserved) = reserved_code2 {
            updated.reserved_code2 = reserved.to_owned();
        }
        updated.validate()?;
        *self = updated;
        Ok(())
    }

    fn get(&self, key: &str) -> &str {
        match key {
            "Label" => &self.label,
            "ContentProducer" => &self.content_producer,
            "ProduceID" => &self.produce_id,
            "ReservedCode1" => &self.reserved_code1,
            "ContentPropagator" => &self.content_propagator,
            "PropagateID" => &self.propagate_id,
            _ => &self.reserved_code2,
        }
    }

    fn set(&mut self, key: &str, value: String) {
        match key {
            "Label" => self.label = value,
            "ContentProducer" => self.content_producer = value,
            "ProduceID" => self.produce_id = value,
            "ReservedCode1" => self.reserved_code1 = value,
            "ContentPropagator" => self.content_propagator = value,
            "PropagateID" => self.propagate_id = value,
            _ => self.reserved_code2 = value,
        }
    }

    /// The bare seven-key JSON object, keys in Annex E order, no whitespace.
    pub fn to_json(&self) -> String {
        let members: Vec<String> = KEYS
            .iter()
            .map(|key| format!("\"{key}\":{}", Value::String(self.get(key).to_owned())))
            .collect();
        format!("{{{}}}", members.join(","))
    }

    /// The Annex E b) wrapped form `{"AIGC":{…}}`.
    pub fn to_wrapped_json(&self) -> String {
        format!("{{\"AIGC\":{}}}", self.to_json())
    }

    /// Parse a stored value (wrapped or bare) that passes every check.
    pub fn parse(text: &str) -> Result<Self, MarkError> {
        let inspection = inspect(text);
        match inspection.label {
            Some(label) if inspection.checks.iter().all(|check| check.passed) => Ok(label),
            _ => Err(MarkError::InvalidLabel(
                inspection
                    .checks
                    .iter()
                    .filter(|check| !check.passed)
                    .map(|check| check.detail.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
            )),
        }
    }

    /// Check the value rules; the error names every failing rule.
    pub fn validate(&self) -> Result<(), MarkError> {
        Self::parse(&self.to_json()).map(|_| ())
    }

    /// The Annex E code as a [`Generated`], when valid.
    pub fn generated(&self) -> Option<Generated> {
        Generated::from_code(&self.label)
    }
}

/// One rule checked on a label.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable rule id: `json`, `keys`, `values`, `label`, `charset`, `producer`, `propagator`.
    pub rule: &'static str,
    pub passed: bool,
    pub detail: String,
}

impl Check {
    fn new(rule: &'static str, passed: bool, detail: impl Into<String>) -> Self {
        Self {
            rule,
            passed,
            detail: detail.into(),
        }
    }
}

/// A label value examined rule by rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Inspection {
    /// The label, when the value is a JSON object whose keys could be read.
    pub label: Option<AigcLabel>,
    /// Whether the value used the wrapped `{"AIGC":{…}}` form.
    pub wrapped: bool,
    pub checks: Vec<Check>,
}

/// Examine a stored label value against every Annex E rule. Never fails: problems are checks.
pub fn inspect(text: &str) -> Inspection {
    let parsed: Result<Value, _> = serde_json::from_str(text.trim());
    let Ok(Value::Object(object)) = parsed else {
        let detail = match parsed {
            Err(error) => format!("the AIGC value is not valid JSON ({error})"),
            Ok(_) => "the AIGC value must be a JSON object".to_owned(),
        };
        return Inspection {
            label: None,
            wrapped: false,
            checks: vec![Check::new("json", false, detail)],
        };
    };
    let (object, wrapped): (Map<String, Value>, bool) = match object.get("AIGC") {
        Some(Value::Object(inner)) if object.len() == 1 => (inner.clone(), true),
        Some(_) if object.len() == 1 => {
            return Inspection {
                label: None,
                wrapped: true,
                checks: vec![Check::new(
                    "json",
                    false,
                    "the wrapped form needs an object under \"AIGC\"",
                )],
            };
        }
        _ => (object, false),
    };
    let mut checks = vec![Check::new("json", true, "the value is a JSON object")];
    let missing: Vec<&str> = KEYS
        .iter()
        .copied()
        .filter(|key| !object.contains_key(*key))
        .collect();
    let unknown: Vec<&str> = object
        .keys()
        .map(String::as_str)
        .filter(|key| !KEYS.contains(key))
        .collect();
    checks.push(Check::new(
        "keys",
        missing.is_empty() && unknown.is_empty(),
        match (missing.is_empty(), unknown.is_empty()) {
            (true, true) => "all seven Annex E keys are present".to_owned(),
            (false, true) => format!("missing keys: {}", missing.join(", ")),
            (true, false) => format!("keys Annex E does not define: {}", unknown.join(", ")),
            (false, false) => format!(
                "missing keys: {}; undefined keys: {}",
                missing.join(", "),
                unknown.join(", ")
            ),
        },
    ));
    let mut label = AigcLabel::default();
    let mut not_strings = Vec::new();
    for key in KEYS {
        match object.get(key) {
            Some(Value::String(value)) => label.set(key, value.clone()),
            Some(other) => {
                not_strings.push(key);
                label.set(key, other.to_string());
            }
            None => {}
        }
    }
    checks.push(Check::new(
        "values",
        not_strings.is_empty(),
        if not_strings.is_empty() {
            "every value is a string".to_owned()
        } else {
            format!(
                "values must be strings (e.g. \"Label\":\"1\", not 1): {}",
                not_strings.join(", ")
            )
        },
    ));
    checks.push(Check::new(
        "label",
        Generated::from_code(&label.label).is_some(),
        if Generated::from_code(&label.label).is_some() {
            format!("Label is \"{}\"", label.label)
        } else {
            format!(
                "Label must be \"1\" (is), \"2\" (possibly) or \"3\" (suspected), not \"{}\"",
                label.label
            )
        },
    ));
    let bad_chars: Vec<String> = KEYS
        .iter()
        .filter(|key| label.get(key).chars().any(|c| !allowed_char(c)))
        .map(|key| {
            let bad: String = label
                .get(key)
                .chars()
                .filter(|c| !allowed_char(*c))
                .take(3)
                .collect();
            format!("{key} ({bad:?})")
        })
        .collect();
    checks.push(Check::new(
        "charset",
        bad_chars.is_empty(),
        if bad_chars.is_empty() {
            "all values use the Annex E j) character set".to_owned()
        } else {
            format!(
                "values outside the Annex E j) character set (printable ASCII without space or backslash): {}",
                bad_chars.join(", ")
            )
        },
    ));
    // A provider's label ("1") names its producer; a platform that labels content on a user's
    // declaration ("2") or its own detection ("3") may not know the producer.
    let producer_ok = if label.label == "1" {
        !label.content_producer.is_empty() && !label.produce_id.is_empty()
    } else {
        label.content_producer.is_empty() == label.produce_id.is_empty()
    };
    checks.push(Check::new(
        "producer",
        producer_ok,
        if producer_ok {
            "ContentProducer and ProduceID are consistent"
        } else if label.label == "1" {
            "ContentProducer and ProduceID must not be empty when Label is \"1\""
        } else {
            "ContentProducer and ProduceID must both be set or both be empty"
        },
    ));
    let propagator_ok = label.content_propagator.is_empty() == label.propagate_id.is_empty();
    checks.push(Check::new(
        "propagator",
        propagator_ok,
        if propagator_ok {
            "ContentPropagator and PropagateID are set together"
        } else {
            "ContentPropagator and PropagateID must both be set or both be empty"
        },
    ));
    Inspection {
        label: Some(label),
        wrapped,
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_write_copies_the_producer_into_the_propagator_fields() {
        let label = AigcLabel::new(Generated::Is, "001191110102MACQD9K64010000", "img-42").unwrap();
        assert_eq!(
            label.to_json(),
            r#"{"Label":"1","ContentProducer":"001191110102MACQD9K64010000","ProduceID":"img-42","ReservedCode1":"","ContentPropagator":"001191110102MACQD9K64010000","PropagateID":"img-42","ReservedCode2":""}"#
        );
        assert_eq!(AigcLabel::parse(&label.to_json()).unwrap(), label);
        assert_eq!(AigcLabel::parse(&label.to_wrapped_json()).unwrap(), label);
    }

    #[test]
    fn a_platform_changes_only_its_own_fields() {
        let mut label = AigcLabel::new(Generated::Is, "PRODUCER", "p-1").unwrap();
        label.reserved_code1 = "e862483430d978cbf828b8b24296ef9328d843a0".into();
        label.propagate("PLATFORM", "q-9", Some("sig")).unwrap();
        assert_eq!(
            (label.content_producer.as_str(), label.produce_id.as_str()),
            ("PRODUCER", "p-1")
        );
        assert_eq!(
            label.reserved_code1,
            "e862483430d978cbf828b8b24296ef9328d843a0"
        );
        assert_eq!(
            (
                label.content_propagator.as_str(),
                label.propagate_id.as_str(),
                label.reserved_code2.as_str()
            ),
            ("PLATFORM", "q-9", "sig")
        );
        assert!(label.propagate("平台", "x", None).is_err());
        assert_eq!(
            label.content_propagator, "PLATFORM",
            "a refused update changes nothing"
        );
    }

    #[track_caller]
    fn failing(text: &str) -> Vec<&'static str> {
        inspect(text)
            .checks
            .into_iter()
            .filter(|c| !c.passed)
            .map(|c| c.rule)
            .collect()
    }

    #[test]
    fn each_rule_is_checked_on_its_own() {
        let good = AigcLabel::new(Generated::Possibly, "P", "1")
            .unwrap()
            .to_json();
        assert!(failing(&good).is_empty());
        assert_eq!(failing("not json"), vec!["json"]);
        assert_eq!(failing("[1]"), vec!["json"]);
        assert_eq!(failing(r#"{"AIGC":"x"}"#), vec!["json"]);
        assert_eq!(
            failing(&good.replace(r#""Label":"2""#, r#""Label":2"#)),
            vec!["values"]
        );
        assert_eq!(
            failing(&good.replace(r#""Label":"2""#, r#""Label":"4""#)),
            vec!["label"]
        );
        assert_eq!(
            failing(&good.replace(r#","ReservedCode2":"""#, "")),
            vec!["keys"]
        );
        assert_eq!(
            failing(&good.replace(r#""ReservedCode2":"""#, r#""ReservedCode2":"","Extra":"""#)),
            vec!["keys"]
        );
        assert_eq!(
            failing(&good.replace(r#""ProduceID":"1""#, r#""ProduceID":"a b""#)),
            vec!["charset"]
        );
        assert_eq!(
            failing(&good.replace(r#""ProduceID":"1""#, r#""ProduceID":"编号""#)),
            vec!["charset"]
        );
        assert_eq!(
            failing(&good.replace(r#""ContentProducer":"P""#, r#""ContentProducer":"""#)),
            vec!["producer"]
        );
        assert_eq!(
            failing(&good.replace(r#""PropagateID":"1""#, r#""PropagateID":"""#)),
            vec!["propagator"]
        );
    }

    #[test]
    fn quotes_are_allowed_escaped_but_backslashes_are_not() {
        assert!(
            allowed_char('"') && !allowed_char('\\') && !allowed_char(' ') && !allowed_char('é')
        );
        assert!(AigcLabel::new(Generated::Is, "A\"B", "1").is_ok());
        assert!(AigcLabel::new(Generated::Is, "A\\B", "1").is_err());
    }
}
