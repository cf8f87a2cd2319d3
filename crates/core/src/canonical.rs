//! RFC 8785 JSON Canonicalization Scheme (JCS).
//!
//! Ledger entries are hashed in this form, so two parties that hold the same logical entry always
//! compute the same leaf hash, whatever JSON library produced it. Object members are sorted by
//! their UTF-16 code units, strings use the minimal escapes, and numbers are written the way
//! ECMAScript's `Number.prototype.toString` writes an IEEE-754 double.

use std::fmt::Write as _;

use serde_json::{Number, Value};

/// Why a value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// JCS numbers are IEEE-754 doubles; larger integers would silently change value.
    #[error(
        "the integer {0} is outside ±2^53 and cannot be represented exactly in canonical JSON; send it as a string"
    )]
    IntegerOutOfRange(String),
}

/// Largest integer magnitude a double holds exactly.
const MAX_EXACT_INTEGER: u64 = 1 << 53;

/// Serialize `value` in canonical form.
pub fn to_string(value: &Value) -> Result<String, CanonicalError> {
    let mut out = String::new();
    write_value(&mut out, value)?;
    Ok(out)
}

/// True when `text` is already the canonical serialization of the JSON it holds.
pub fn is_canonical(text: &str) -> bool {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|value| to_string(&value).ok())
        .is_some_and(|canonical| canonical == text)
}

fn write_value(out: &mut String, value: &Value) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => write_number(out, number)?,
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (position, item) in items.iter().enumerate() {
                if position > 0 {
                    out.push(',');
                }
                write_value(out, item)?;
            }
            out.push(']');
        }
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (position, (key, item)) in sorted.into_iter().enumerate() {
                if position > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{09}' => out.push_str("\\t"),
            '\u{0A}' => out.push_str("\\n"),
            '\u{0C}' => out.push_str("\\f"),
            '\u{0D}' => out.push_str("\\r"),
            control if (control as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", control as u32);
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

fn write_number(out: &mut String, number: &Number) -> Result<(), CanonicalError> {
    if let Some(unsigned) = number.as_u64() {
        if unsigned > MAX_EXACT_INTEGER {
            return Err(CanonicalError::IntegerOutOfRange(unsigned.to_string()));
        }
        let _ = write!(out, "{unsigned}");
        return Ok(());
    }
    if let Some(signed) = number.as_i64() {
        if signed.unsigned_abs() > MAX_EXACT_INTEGER {
            return Err(CanonicalError::IntegerOutOfRange(signed.to_string()));
        }
        let _ = write!(out, "{signed}");
        return Ok(());
    }
    // serde_json only builds finite floats, so `as_f64` always answers here.
    let float = number.as_f64().unwrap_or(0.0);
    write_double(out, float);
    Ok(())
}

/// ECMAScript `Number.prototype.toString` for a finite double.
fn write_double(out: &mut String, value: f64) {
    if value == 0.0 {
        out.push('0');
        return;
    }
    if value < 0.0 {
        out.push('-');
    }
    // Rust's `{:e}` prints the shortest digits that round-trip, as ECMAScript requires.
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let k = digits.len() as i32;
    // Value = 0.DIGITS × 10^n in ECMAScript's terms.
    let n = exponent + 1;
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        let (whole, fraction) = digits.split_at(n as usize);
        out.push_str(whole);
        out.push('.');
        out.push_str(fraction);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        let _ = write!(out, "{}", (n - 1).abs());
    }
}

/// The first object member name that appears twice in one object of the JSON `text`, described
/// with its location (`duplicate key "a" in the object at /payload`), or `None` when there is
/// none. RFC 8785 (and I-JSON, RFC 7493) forbid duplicate names, and serde_json would silently
/// keep the last one, so input that is to be hashed is checked with this first. Text that is not
/// JSON at all gives `None`: the caller's own parser reports that, with its usual message.
pub fn find_duplicate_key(text: &[u8]) -> Option<String> {
    use serde::de::DeserializeSeed as _;
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    match (DuplicateCheck { path: "" }).deserialize(&mut deserializer) {
        Err(error) if error.classify() == serde_json::error::Category::Data => {
            // The message is ours (the only data error a check over any JSON can raise), plus
            // serde_json's " at line L column C".
            Some(error.to_string())
        }
        _ => None,
    }
}

/// Walks any JSON value, failing on the first object that repeats a member name.
struct DuplicateCheck<'a> {
    /// JSON Pointer of the value being walked.
    path: &'a str,
}

impl<'de> serde::de::DeserializeSeed<'de> for DuplicateCheck<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for DuplicateCheck<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            let path = format!("{}/{index}", self.path);
            if seq
                .next_element_seed(DuplicateCheck { path: &path })?
                .is_none()
            {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = format!(
                "{}/{}",
                self.path,
                key.replace('~', "~0").replace('/', "~1")
            );
            if seen.contains(&key) {
                let at = if self.path.is_empty() {
                    "the top-level object".to_owned()
                } else {
                    format!("the object at {}", self.path)
                };
                return Err(serde::de::Error::custom(format!(
                    "duplicate key {key:?} in {at}"
                )));
            }
            seen.insert(key);
            map.next_value_seed(DuplicateCheck { path: &path })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[track_caller]
    fn check(input: &str, expected: &str) {
        let value: Value = serde_json::from_str(input).unwrap();
        assert_eq!(to_string(&value).unwrap(), expected);
        assert!(is_canonical(expected));
    }

    #[test]
    fn sorts_members_and_drops_whitespace() {
        check(
            r#"{ "b": 1, "a": [true, null, "x"] }"#,
            r#"{"a":[true,null,"x"],"b":1}"#,
        );
    }

    #[test]
    fn sorts_by_utf16_code_units_not_bytes() {
        // RFC 8785 §3.2.3: U+1F600 (a surrogate pair, 0xD83D…) sorts before U+FB33 in UTF-16,
        // though its UTF-8 bytes sort after.
        check(
            "{\"\u{fb33}\":1,\"\u{1f600}\":2}",
            "{\"\u{1f600}\":2,\"\u{fb33}\":1}",
        );
    }

    #[test]
    fn escapes_only_what_json_requires() {
        check(
            r#""\u0001\n\"\\/é\u2028""#,
            "\"\\u0001\\n\\\"\\\\/é\u{2028}\"",
        );
    }

    #[test]
    fn numbers_follow_ecmascript() {
        // Values from RFC 8785 Appendix B.
        check(
            "[0, -0, 1e21, 1e20, 333333333.3333333, 1e-7, 0.000001, 5e-324, 4.5, 2e-3]",
            "[0,0,1e+21,100000000000000000000,333333333.3333333,1e-7,0.000001,5e-324,4.5,0.002]",
        );
        check(
            "[-1.5e300, 123456789012345680000]",
            "[-1.5e+300,123456789012345680000]",
        );
    }

    #[test]
    fn rejects_integers_a_double_cannot_hold() {
        let err = to_string(&json!(9_007_199_254_740_993_u64)).unwrap_err();
        assert!(err.to_string().contains("send it as a string"));
        assert!(to_string(&json!(9_007_199_254_740_992_u64)).is_ok());
    }

    #[test]
    fn detects_non_canonical_text() {
        assert!(!is_canonical(r#"{"b":1,"a":2}"#));
        assert!(!is_canonical(r#"{"a": 2}"#));
        assert!(!is_canonical("not json"));
    }
    #[test]
    fn issue_10_duplicate_keys_are_found_with_their_place() {
        assert_eq!(
            find_duplicate_key(br#"{"a":1,"b":{"c":[1,{"d":2}]}}"#),
            None
        );
        let top = find_duplicate_key(br#"{"a":1,"a":2}"#).unwrap();
        assert!(
            top.starts_with(r#"duplicate key "a" in the top-level object"#),
            "{top}"
        );
        let nested = find_duplicate_key(br#"{"payload":{"x":[{"stage":1,"stage":2}]}}"#).unwrap();
        assert!(
            nested.starts_with(r#"duplicate key "stage" in the object at /payload/x/0"#),
            "{nested}"
        );
        // Not JSON: left to the caller's parser.
        assert_eq!(find_duplicate_key(b"{\"a\":"), None);
        assert_eq!(find_duplicate_key(b"[1, 2"), None);
    }
}
