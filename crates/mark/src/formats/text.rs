//! Markdown and plain text.
//!
//! **Markdown** carries the label in YAML front matter at the very start of the file, the place
//! static-site generators, Pandoc and most editors already read metadata from, and where existing
//! labelling tools put it (whether the TC260 text guide specifies Markdown is unconfirmed):
//!
//! ```text
//! ---
//! AIGC: '{"Label":"1",…}'
//! ---
//! ```
//!
//! The value is written as a single-quoted YAML scalar (a `'` inside is doubled); a value holding
//! control characters, which a single-quoted scalar cannot keep, is written double-quoted with
//! escapes instead. Writing replaces the first top-level `AIGC` key (and removes duplicates) in
//! existing front matter and keeps every other key and every byte of the body; a file without
//! front matter gets a new block prepended (after a UTF-8 byte-order mark, if any). Line endings
//! follow the file's own (LF or CRLF). Reading accepts single-quoted, double-quoted, plain and
//! block (`|`, `>`) scalars, including continuation lines.
//!
//! **Plain text** has no metadata area, so its label lives in a sidecar file `FILE.aigc.json`
//! next to it ([`sidecar_path`]); the caller writes and reads that file, and the text itself is
//! never modified.
//!
//! Out of scope: a full YAML parser (only top-level `AIGC` keys are read or touched; nested
//! mappings and anchors are left alone), TOML (`+++`) front matter, and Markdown files over
//! 64 MiB. Markdown is read into memory (text files are small); the body need not be UTF-8.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::MarkError;

const FORMAT: &str = "Markdown";
/// Largest Markdown file handled.
const MAX_TEXT: u64 = 64 << 20;
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Where a plain-text file's sidecar label lives: `FILE.aigc.json`.
pub fn sidecar_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".aigc.json");
    PathBuf::from(name)
}

/// Every label value in a Markdown file's front matter.
pub fn read_markdown<R: Read + Seek>(input: &mut R) -> Result<Vec<String>, MarkError> {
    let bytes = read_all(input)?;
    let Some(front) = front_matter(&bytes) else {
        return Ok(Vec::new());
    };
    entries(&bytes, &front)
        .iter()
        .map(|entry| entry_value(&bytes, entry))
        .collect()
}

/// Copy with exactly one front-matter label holding `value`.
pub fn write_markdown<R: Read + Seek, W: Write + Seek>(
    input: &mut R,
    output: &mut W,
    value: &str,
) -> Result<(), MarkError> {
    let bytes = read_all(input)?;
    let out = with_label(&bytes, value);
    output.write_all(&out)?;
    output.flush()?;
    Ok(())
}

fn read_all<R: Read + Seek>(input: &mut R) -> Result<Vec<u8>, MarkError> {
    input.seek(SeekFrom::Start(0))?;
    let mut bytes = Vec::new();
    input
        .take(MAX_TEXT + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| MarkError::from_read(FORMAT, error))?;
    if bytes.len() as u64 > MAX_TEXT {
        return Err(MarkError::Unsupported(
            "a Markdown file over 64 MiB; Warden labels Markdown files up to 64 MiB".into(),
        ));
    }
    Ok(bytes)
}

/// `bytes` with exactly one front-matter label holding `value`.
fn with_label(bytes: &[u8], value: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + value.len() + 32);
    match front_matter(bytes) {
        Some(front) => {
            let line = label_line(value, front.eol);
            let found = entries(bytes, &front);
            match found.first() {
                Some(first) => {
                    out.extend_from_slice(bytes.get(..first.start).unwrap_or_default());
                    out.extend_from_slice(&line);
                    let mut cursor = first.end;
                    for duplicate in found.iter().skip(1) {
                        out.extend_from_slice(
                            bytes.get(cursor..duplicate.start).unwrap_or_default(),
                        );
                        cursor = duplicate.end;
                    }
                    out.extend_from_slice(bytes.get(cursor..).unwrap_or_default());
                }
                None => {
                    out.extend_from_slice(bytes.get(..front.close_start).unwrap_or_default());
                    out.extend_from_slice(&line);
                    out.extend_from_slice(bytes.get(front.close_start..).unwrap_or_default());
                }
            }
        }
        None => {
            let bom = if bytes.starts_with(BOM) { BOM.len() } else { 0 };
            let eol: &[u8] = match bytes.iter().position(|b| *b == b'\n') {
                Some(at) if at > 0 && bytes.get(at - 1) == Some(&b'\r') => b"\r\n",
                _ => b"\n",
            };
            out.extend_from_slice(bytes.get(..bom).unwrap_or_default());
            out.extend_from_slice(b"---");
            out.extend_from_slice(eol);
            out.extend_from_slice(&label_line(value, eol));
            out.extend_from_slice(b"---");
            out.extend_from_slice(eol);
            out.extend_from_slice(bytes.get(bom..).unwrap_or_default());
        }
    }
    out
}

/// `AIGC: '…'` and the line ending.
fn label_line(value: &str, eol: &[u8]) -> Vec<u8> {
    let mut line = b"AIGC: ".to_vec();
    line.extend_from_slice(yaml_scalar(value).as_bytes());
    line.extend_from_slice(eol);
    line
}

/// A YAML scalar that reads back as exactly `value`.
fn yaml_scalar(value: &str) -> String {
    let needs_escapes = value
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}'));
    if !needs_escapes {
        return format!("'{}'", value.replace('\'', "''"));
    }
    let mut out = String::with_capacity(value.len() + 8);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}') => {
                out.push_str(&format!("\\u{:04X}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Where the front matter sits.
#[derive(Debug, Clone, Copy)]
struct FrontMatter {
    /// Just after the opening `---` line.
    open_end: usize,
    /// Start of the closing `---` (or `...`) line.
    close_start: usize,
    /// The line ending of the opening line.
    eol: &'static [u8],
}

/// One line: `start..content_end` without its line ending, `end` after it.
#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    content_end: usize,
    end: usize,
}

fn line_at(bytes: &[u8], start: usize) -> Option<Line> {
    let rest = bytes.get(start..)?;
    if rest.is_empty() {
        return None;
    }
    let (content_len, end) = match rest.iter().position(|b| *b == b'\n') {
        Some(at) => (at, start + at + 1),
        None => (rest.len(), bytes.len()),
    };
    let mut content_end = start + content_len;
    if content_end > start && bytes.get(content_end - 1) == Some(&b'\r') {
        content_end -= 1;
    }
    Some(Line {
        start,
        content_end,
        end,
    })
}

fn content(bytes: &[u8], line: Line) -> &[u8] {
    bytes.get(line.start..line.content_end).unwrap_or_default()
}

fn trim_end(mut text: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = text {
        text = rest;
    }
    text
}

/// The front matter, when the file starts with a `---` line that a `---` or `...` line closes.
fn front_matter(bytes: &[u8]) -> Option<FrontMatter> {
    let bom = if bytes.starts_with(BOM) { BOM.len() } else { 0 };
    let open = line_at(bytes, bom)?;
    if trim_end(content(bytes, open)) != b"---" || open.end == open.content_end {
        return None;
    }
    let eol: &'static [u8] = if open.end - open.content_end == 2 {
        b"\r\n"
    } else {
        b"\n"
    };
    let mut at = open.end;
    while let Some(line) = line_at(bytes, at) {
        let text = trim_end(content(bytes, line));
        if text == b"---" || text == b"..." {
            return Some(FrontMatter {
                open_end: open.end,
                close_start: line.start,
                eol,
            });
        }
        at = line.end;
    }
    None
}

/// One top-level `AIGC` key with its continuation lines.
#[derive(Debug, Clone, Copy)]
struct Entry {
    start: usize,
    end: usize,
    /// Where the value starts on the key line.
    value_start: usize,
    key_line: Line,
}

/// The length of an `AIGC:` key at the start of `text`, up to and including the colon.
fn key_len(text: &[u8]) -> Option<usize> {
    let key = [&b"AIGC"[..], b"'AIGC'", b"\"AIGC\""]
        .into_iter()
        .find(|key| text.starts_with(key))?;
    let mut at = key.len();
    while matches!(text.get(at), Some(b' ' | b'\t')) {
        at += 1;
    }
    if text.get(at) != Some(&b':') {
        return None;
    }
    match text.get(at + 1) {
        None | Some(b' ' | b'\t') => Some(at + 1),
        Some(_) => None,
    }
}

fn entries(bytes: &[u8], front: &FrontMatter) -> Vec<Entry> {
    let mut found = Vec::new();
    let mut at = front.open_end;
    while at < front.close_start {
        let Some(line) = line_at(bytes, at) else {
            break;
        };
        at = line.end;
        let Some(len) = key_len(content(bytes, line)) else {
            continue;
        };
        let mut end = line.end;
        // Continuation lines: indented lines, and blank lines followed by an indented one.
        let mut next = line.end;
        while next < front.close_start {
            let Some(more) = line_at(bytes, next) else {
                break;
            };
            let text = content(bytes, more);
            if matches!(text.first(), Some(b' ' | b'\t')) && !trim_end(text).is_empty() {
                end = more.end;
            } else if !trim_end(text).is_empty() {
                break;
            }
            next = more.end;
        }
        found.push(Entry {
            start: line.start,
            end,
            value_start: line.start + len,
            key_line: line,
        });
        at = end;
    }
    found
}

fn entry_value(bytes: &[u8], entry: &Entry) -> Result<String, MarkError> {
    let not_utf8 = || MarkError::corrupt(FORMAT, "the AIGC front-matter value is not valid UTF-8");
    let first = std::str::from_utf8(
        bytes
            .get(entry.value_start..entry.key_line.content_end)
            .unwrap_or_default(),
    )
    .map_err(|_| not_utf8())?;
    let mut continuation = Vec::new();
    let mut at = entry.key_line.end;
    while at < entry.end {
        let Some(line) = line_at(bytes, at) else {
            break;
        };
        continuation.push(std::str::from_utf8(content(bytes, line)).map_err(|_| not_utf8())?);
        at = line.end;
    }
    parse_scalar(first, &continuation)
}

/// Join flow-scalar lines the YAML way: a line break becomes a space, `n` empty lines become
/// `n` newlines; whitespace around breaks is dropped.
fn fold(lines: &[&str]) -> String {
    let mut out = String::new();
    let last = lines.len().saturating_sub(1);
    let mut pending_empty = 0;
    for (index, line) in lines.iter().enumerate() {
        let text = match (index == 0, index == last) {
            (true, true) => *line,
            (true, false) => line.trim_end_matches([' ', '\t']),
            (false, true) => line.trim_start_matches([' ', '\t']),
            (false, false) => line.trim_matches([' ', '\t']),
        };
        if index > 0 && text.is_empty() && index != last {
            pending_empty += 1;
            continue;
        }
        if index > 0 {
            if pending_empty > 0 {
                out.push_str(&"\n".repeat(pending_empty));
            } else {
                out.push(' ');
            }
        }
        pending_empty = 0;
        out.push_str(text);
    }
    out
}

fn parse_scalar(first: &str, continuation: &[&str]) -> Result<String, MarkError> {
    let first = first.trim_start_matches([' ', '\t']);
    let mut joined = first.to_owned();
    for line in continuation {
        joined.push('\n');
        joined.push_str(line);
    }
    if let Some(rest) = joined.strip_prefix('\'') {
        let mut end = None;
        let mut chars = rest.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            if c == '\'' {
                if chars.peek().map(|(_, next)| *next) == Some('\'') {
                    chars.next();
                } else {
                    end = Some(at);
                    break;
                }
            }
        }
        let end = end.ok_or_else(|| {
            MarkError::corrupt(
                FORMAT,
                "the single-quoted AIGC front-matter value is not closed",
            )
        })?;
        let inner: Vec<&str> = rest.get(..end).unwrap_or_default().split('\n').collect();
        return Ok(fold(&inner).replace("''", "'"));
    }
    if let Some(rest) = joined.strip_prefix('"') {
        let mut end = None;
        let mut escaped = false;
        for (at, c) in rest.char_indices() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(at);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or_else(|| {
            MarkError::corrupt(
                FORMAT,
                "the double-quoted AIGC front-matter value is not closed",
            )
        })?;
        let inner: Vec<&str> = rest.get(..end).unwrap_or_default().split('\n').collect();
        return unescape_double(&fold(&inner));
    }
    if let Some(indicator) = first.strip_prefix(['|', '>']) {
        let literal = first.starts_with('|');
        let indicator = indicator.split(" #").next().unwrap_or_default().trim();
        return Ok(block_scalar(literal, indicator, continuation));
    }
    let mut lines: Vec<&str> = Vec::with_capacity(continuation.len() + 1);
    lines.push(first);
    lines.extend_from_slice(continuation);
    let folded = fold(&lines);
    let without_comment = match folded.find(" #") {
        Some(at) => folded.get(..at).unwrap_or_default(),
        None => &folded,
    };
    Ok(without_comment.trim().to_owned())
}

fn block_scalar(literal: bool, indicator: &str, lines: &[&str]) -> String {
    let indent = lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    let body: Vec<&str> = lines
        .iter()
        .map(|line| line.get(indent..).unwrap_or_default())
        .collect();
    let mut text = if literal {
        body.join("\n")
    } else {
        let mut out = String::new();
        for (index, line) in body.iter().enumerate() {
            if index > 0 {
                let previous_empty = body.get(index - 1).is_some_and(|l| l.is_empty());
                out.push(if line.is_empty() || previous_empty {
                    '\n'
                } else {
                    ' '
                });
            }
            out.push_str(line);
        }
        out
    };
    let trimmed_len = text.trim_end_matches('\n').len();
    text.truncate(trimmed_len);
    if indicator.contains('+') {
        let trailing = lines
            .iter()
            .rev()
            .take_while(|line| line.trim().is_empty())
            .count();
        text.push_str(&"\n".repeat(trailing + 1));
    } else if !indicator.contains('-') {
        text.push('\n');
    }
    text
}

fn unescape_double(text: &str) -> Result<String, MarkError> {
    let bad =
        |what: &str| MarkError::corrupt(FORMAT, format!("the AIGC front-matter value has {what}"));
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(escape) = chars.next() else {
            return Err(bad("a trailing backslash"));
        };
        let hex_len = match escape {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            _ => 0,
        };
        if hex_len > 0 {
            let digits: String = chars.by_ref().take(hex_len).collect();
            let code = u32::from_str_radix(&digits, 16)
                .ok()
                .filter(|_| digits.len() == hex_len)
                .and_then(char::from_u32)
                .ok_or_else(|| bad(&format!("an invalid escape \\{escape}{digits}")))?;
            out.push(code);
            continue;
        }
        out.push(match escape {
            '0' => '\0',
            'a' => '\u{07}',
            'b' => '\u{08}',
            't' | '\t' => '\t',
            'n' => '\n',
            'v' => '\u{0B}',
            'f' => '\u{0C}',
            'r' => '\r',
            'e' => '\u{1B}',
            ' ' => ' ',
            '"' => '"',
            '/' => '/',
            '\\' => '\\',
            'N' => '\u{85}',
            '_' => '\u{A0}',
            'L' => '\u{2028}',
            'P' => '\u{2029}',
            other => return Err(bad(&format!("an unknown escape \\{other}"))),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    const VALUE: &str = r#"{"Label":"1","ContentProducer":"P'Q","ProduceID":"a\"b","ReservedCode1":"","ContentPropagator":"P","PropagateID":"1","ReservedCode2":""}"#;

    fn write(input: &[u8], value: &str) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        write_markdown(&mut Cursor::new(input.to_vec()), &mut out, value).unwrap();
        out.into_inner()
    }

    fn read(input: &[u8]) -> Vec<String> {
        read_markdown(&mut Cursor::new(input.to_vec())).unwrap()
    }

    #[test]
    fn sidecar_sits_next_to_the_file() {
        assert_eq!(
            sidecar_path(Path::new("/a/b.txt")),
            PathBuf::from("/a/b.txt.aigc.json")
        );
    }

    #[test]
    fn prepends_front_matter_and_round_trips() {
        let body = b"# Title\n\nSome text.\n";
        let out = write(body, VALUE);
        assert!(out.starts_with(b"---\nAIGC: '{\"Label\":\"1\""));
        assert!(out.ends_with(body), "the body is kept byte for byte");
        assert_eq!(read(&out), vec![VALUE.to_owned()]);
        assert!(read(body).is_empty());
    }

    #[test]
    fn writing_twice_leaves_one_label_and_keeps_other_keys() {
        let input =
            b"---\ntitle: Hello\nAIGC: 'old'\ntags:\n  - a\nAIGC: \"dup\"\n---\nBody\n---\nmore\n";
        let out = write(input, VALUE);
        let again = write(&out, "{\"v\":2}");
        assert_eq!(read(&out), vec![VALUE.to_owned()]);
        assert_eq!(read(&again), vec!["{\"v\":2}".to_owned()]);
        let text = String::from_utf8(again).unwrap();
        assert!(text.starts_with("---\ntitle: Hello\nAIGC: '{\"v\":2}'\ntags:\n  - a\n---\n"));
        assert!(text.ends_with("---\nBody\n---\nmore\n"), "{text}");
    }

    #[test]
    fn adds_the_key_to_front_matter_without_one_and_keeps_crlf_and_bom() {
        let input = b"\xEF\xBB\xBF---\r\ntitle: x\r\n---\r\nBody\r\n";
        let out = write(input, VALUE);
        assert!(out.starts_with(b"\xEF\xBB\xBF---\r\ntitle: x\r\nAIGC: '"));
        assert!(out.ends_with(b"'\r\n---\r\nBody\r\n"));
        assert_eq!(read(&out), vec![VALUE.to_owned()]);
        let plain = write(b"\xEF\xBB\xBFBody\r\n", "v");
        assert_eq!(plain, b"\xEF\xBB\xBF---\r\nAIGC: 'v'\r\n---\r\nBody\r\n");
    }

    #[test]
    fn reads_every_scalar_style() {
        let doc = "---\nAIGC: 'it''s'\nAIGC: \"a\\\"b\\u0041\"\nAIGC: {\"k\":\"v\"} # note\nAIGC: |-\n  {\"x\":\n   1}\nAIGC: 'long\n  line'\n---\n";
        assert_eq!(
            read(doc.as_bytes()),
            vec![
                "it's",
                "a\"bA",
                "{\"k\":\"v\"}",
                "{\"x\":\n 1}",
                "long line"
            ]
        );
        assert!(read(b"---\nAIGCX: 1\nnotAIGC: 2\n---\n").is_empty());
        assert_eq!(read(b"---\n\"AIGC\" : v\n...\n"), vec!["v"]);
    }

    #[test]
    fn control_characters_round_trip_through_a_double_quoted_scalar() {
        let value = "{\n\t\"a\": \"b'c\"\r\n}";
        let out = write(b"text", value);
        assert_eq!(read(&out), vec![value.to_owned()]);
    }

    #[test]
    fn malformed_front_matter_is_an_error_not_a_panic() {
        for input in [
            &b"---\nAIGC: 'open\n---\n"[..],
            b"---\nAIGC: \"open\n---\n",
            b"---\nAIGC: \"bad \\q\"\n---\n",
            b"---\nAIGC: \"bad \\u12\"\n---\n",
            b"---\nAIGC: \xFF\xFE\n---\n",
        ] {
            assert!(
                read_markdown(&mut Cursor::new(input.to_vec())).is_err(),
                "{input:?}"
            );
        }
        // Unclosed front matter is not front matter: a new block is prepended.
        let out = write(b"---\ntitle: x\n", "v");
        assert_eq!(out, b"---\nAIGC: 'v'\n---\n---\ntitle: x\n");
        for len in 0..40 {
            let doc = b"---\nAIGC: 'a''b'\nk: |\n  x\n---\nbody\n";
            let cut = doc.get(..len.min(doc.len())).unwrap();
            let _ = read_markdown(&mut Cursor::new(cut.to_vec()));
            let _ = write(cut, VALUE);
        }
    }
}
