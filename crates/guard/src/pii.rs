//! Personal-information detectors, Chinese first: resident identity numbers (GB 11643, with the
//! ISO 7064 MOD 11-2 check character and a plausible birth date), mainland mobile numbers, bank
//! cards (issuer prefix and Luhn), e-mail addresses, US social security numbers and US phone
//! numbers written with separators.
//!
//! Digits are read in runs that may contain single spaces, hyphens, dots or brackets between
//! groups (`138 0013 8000`, `6222-0212-3456-7890`); a run that is no match as a whole is tried
//! group by group, so two numbers side by side are both found. Nothing here does IO.

use serde::{Deserialize, Serialize};

/// What kind of personal information a match is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    CnResidentId,
    CnMobile,
    BankCard,
    Email,
    UsSsn,
    UsPhone,
}

impl PiiKind {
    pub const ALL: [PiiKind; 6] = [
        PiiKind::CnResidentId,
        PiiKind::CnMobile,
        PiiKind::BankCard,
        PiiKind::Email,
        PiiKind::UsSsn,
        PiiKind::UsPhone,
    ];

    /// The policy category: `pii.cn_resident_id`, ….
    pub fn category(self) -> &'static str {
        match self {
            PiiKind::CnResidentId => "pii.cn_resident_id",
            PiiKind::CnMobile => "pii.cn_mobile",
            PiiKind::BankCard => "pii.bank_card",
            PiiKind::Email => "pii.email",
            PiiKind::UsSsn => "pii.us_ssn",
            PiiKind::UsPhone => "pii.us_phone",
        }
    }
}

/// One match: its kind and byte range in the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PiiMatch {
    pub kind: PiiKind,
    pub start: usize,
    pub end: usize,
}

/// Every match in `text`, in order of position.
pub fn find(text: &str) -> Vec<PiiMatch> {
    let mut found = find_numbers(text);
    found.extend(find_emails(text));
    found.sort_by_key(|m| (m.start, m.end));
    found.dedup_by(|b, a| b.start < a.end);
    found
}

/// How many bytes at the end of `text` could still grow into a match when more text arrives:
/// a streaming scan must not release them yet.
pub fn open_tail(text: &str) -> usize {
    const LIMIT: usize = 256;
    let tail: Vec<(usize, char)> = text.char_indices().rev().take(LIMIT).collect();
    let mut start = text.len();
    for (k, &(i, c)) in tail.iter().enumerate() {
        let open = if c == ' ' {
            // A space only inside a digit run (`138 0013`), or right after one at the end.
            let right = k.checked_sub(1).map(|r| tail[r].1);
            let left = tail.get(k + 1).map(|l| l.1);
            right.is_none_or(|r| r.is_ascii_digit())
                && left.is_some_and(|l| l.is_ascii_digit() || l == ')')
        } else {
            c.is_ascii_alphanumeric() || "._%+-@()".contains(c)
        };
        if !open {
            break;
        }
        start = i;
    }
    text.len() - start
}

const SEPARATORS: &[u8] = b" -.()";

/// One run of digit groups.
struct Run {
    start: usize,
    end: usize,
    /// Each group's digits (the last may end in `X` for a resident id) and byte range.
    groups: Vec<(String, usize, usize)>,
    separators: Vec<u8>,
}

fn find_numbers(text: &str) -> Vec<PiiMatch> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() || (i > 0 && is_alnum(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let run = read_run(bytes, i);
        i = run.end.max(i + 1);
        if let Some(m) = classify(bytes, &run) {
            found.push(m);
            continue;
        }
        for (digits, start, end) in &run.groups {
            let single = Run {
                start: *start,
                end: *end,
                groups: vec![(digits.clone(), *start, *end)],
                separators: Vec::new(),
            };
            if let Some(m) = classify(bytes, &single) {
                found.push(m);
            }
        }
    }
    found
}

fn is_alnum(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

fn read_run(bytes: &[u8], start: usize) -> Run {
    let mut groups = Vec::new();
    let mut separators = Vec::new();
    let mut i = start;
    loop {
        let group_start = i;
        let mut digits = String::new();
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            digits.push(char::from(bytes[i]));
            i += 1;
        }
        if i < bytes.len() && (bytes[i] == b'X' || bytes[i] == b'x') && digits.len() == 17 {
            digits.push('X');
            i += 1;
        }
        groups.push((digits, group_start, i));
        // Up to two separators (`) `) may join the next group.
        let mut j = i;
        while j < bytes.len() && j - i < 2 && SEPARATORS.contains(&bytes[j]) {
            j += 1;
        }
        if j > i && j < bytes.len() && bytes[j].is_ascii_digit() {
            separators.push(bytes[i]);
            i = j;
        } else {
            break;
        }
    }
    Run {
        start,
        end: i,
        groups,
        separators,
    }
}

fn classify(bytes: &[u8], run: &Run) -> Option<PiiMatch> {
    if run.end < bytes.len() && is_alnum(bytes[run.end]) {
        return None;
    }
    let digits: String = run.groups.iter().map(|g| g.0.as_str()).collect();
    let lengths: Vec<usize> = run.groups.iter().map(|g| g.0.len()).collect();
    let dashed = !run.separators.is_empty() && run.separators.iter().all(|&s| s == b'-');
    let mut start = run.start;
    let matched = |kind, start| {
        Some(PiiMatch {
            kind,
            start,
            end: run.end,
        })
    };
    if digits.len() == 18 && resident_id_valid(&digits) {
        return matched(PiiKind::CnResidentId, start);
    }
    if dashed && lengths == [3, 2, 4] && ssn_valid(&digits) {
        return matched(PiiKind::UsSsn, start);
    }
    let plus = start > 0 && bytes[start - 1] == b'+';
    let (national, groups) = match digits.strip_prefix("86") {
        Some(rest) if rest.len() == 11 && (plus || lengths[0] == 2) => (
            rest,
            if lengths[0] == 2 {
                &lengths[1..]
            } else {
                &lengths[..]
            },
        ),
        _ => (digits.as_str(), &lengths[..]),
    };
    let mobile_grouping = matches!(groups, [11] | [13] | [3, 4, 4] | [3, 8]);
    if national.len() == 11 && mobile_grouping && mobile_valid(national) {
        if plus {
            start -= 1;
        }
        return matched(PiiKind::CnMobile, start);
    }
    if (13..=19).contains(&digits.len())
        && card_grouping(&lengths)
        && card_prefix(&digits)
        && luhn(&digits)
    {
        return matched(PiiKind::BankCard, start);
    }
    let us = digits
        .strip_prefix('1')
        .filter(|d| d.len() == 10 && lengths[0] == 1);
    let us_lengths = if us.is_some() {
        &lengths[1..]
    } else {
        &lengths[..]
    };
    let national = us.unwrap_or(&digits);
    if national.len() == 10
        && us_lengths == [3, 3, 4]
        && national.as_bytes()[0] >= b'2'
        && national.as_bytes()[3] >= b'2'
    {
        if start > 0 && bytes[start - 1] == b'(' {
            start -= 1;
        }
        if plus {
            start -= 1;
        }
        return matched(PiiKind::UsPhone, start);
    }
    None
}

/// GB 11643: 17 digits, a check character from ISO 7064 MOD 11-2, and a birth date.
pub fn resident_id_valid(id: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let bytes = id.as_bytes();
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = bytes[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let expected = CHECK[(sum % 11) as usize];
    if bytes[17].to_ascii_uppercase() != expected {
        return false;
    }
    let number = |range: std::ops::Range<usize>| id[range].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (number(6..10), number(10..12), number(12..14));
    (1900..=2100).contains(&year) && (1..=12).contains(&month) && (1..=31).contains(&day)
}

fn mobile_valid(digits: &str) -> bool {
    let bytes = digits.as_bytes();
    bytes.len() == 11 && bytes[0] == b'1' && (b'3'..=b'9').contains(&bytes[1])
}

fn ssn_valid(digits: &str) -> bool {
    let (area, rest) = digits.split_at(3);
    let (group, serial) = rest.split_at(2);
    area != "000" && area != "666" && !area.starts_with('9') && group != "00" && serial != "0000"
}

fn card_grouping(lengths: &[usize]) -> bool {
    match lengths {
        [_] => true,
        [init @ .., last] => init.iter().all(|&l| l == 4) && (1..=4).contains(last),
        [] => false,
    }
}

/// Issuer prefixes of the common card networks (UnionPay first).
fn card_prefix(digits: &str) -> bool {
    let two = digits
        .get(..2)
        .and_then(|d| d.parse::<u32>().ok())
        .unwrap_or(0);
    let four = digits
        .get(..4)
        .and_then(|d| d.parse::<u32>().ok())
        .unwrap_or(0);
    two == 62
        || digits.starts_with('4')
        || (51..=55).contains(&two)
        || (2221..=2720).contains(&four)
        || two == 34
        || two == 37
        || two == 35
        || four == 6011
        || two == 65
        || two == 30
        || two == 36
        || two == 38
}

/// The Luhn check.
pub fn luhn(digits: &str) -> bool {
    let mut sum = 0;
    for (i, b) in digits.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

fn find_emails(text: &str) -> Vec<PiiMatch> {
    let bytes = text.as_bytes();
    let local = |b: u8| b.is_ascii_alphanumeric() || b"._%+-".contains(&b);
    let domain = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
    let mut found = Vec::new();
    let mut from = 0;
    for (at, _) in text.match_indices('@') {
        if at < from {
            continue;
        }
        let mut start = at;
        while start > from && local(bytes[start - 1]) {
            start -= 1;
        }
        while start < at && bytes[start] == b'.' {
            start += 1;
        }
        let mut end = at + 1;
        while end < bytes.len() && domain(bytes[end]) {
            end += 1;
        }
        while end > at + 1 && matches!(bytes[end - 1], b'.' | b'-') {
            end -= 1;
        }
        let host = &text[at + 1..end];
        let tld_ok = host.rsplit_once('.').is_some_and(|(name, tld)| {
            !name.is_empty() && tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic())
        });
        if start < at && tld_ok {
            found.push(PiiMatch {
                kind: PiiKind::Email,
                start,
                end,
            });
            from = end;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: &[(PiiKind, &str)]) {
        let found: Vec<(PiiKind, &str)> = find(text)
            .into_iter()
            .map(|m| (m.kind, &text[m.start..m.end]))
            .collect();
        assert_eq!(found, expected, "in {text:?}");
    }

    #[test]
    fn finds_chinese_personal_information() {
        use PiiKind::*;
        // A resident id with a valid check character (the GB 11643 worked example).
        check(
            "身份证11010519491231002X号",
            &[(CnResidentId, "11010519491231002X")],
        );
        check("身份证110105194912310021", &[]);
        check("手机13800138000，", &[(CnMobile, "13800138000")]);
        check("call 138 0013 8000 now", &[(CnMobile, "138 0013 8000")]);
        check("+8613800138000", &[(CnMobile, "+8613800138000")]);
        check("12800138000", &[]);
        check("卡号6222 0212 3456 7899", &[]);
        check("卡号6222021234567894", &[(BankCard, "6222021234567894")]);
        check(
            "card 4111-1111-1111-1111.",
            &[(BankCard, "4111-1111-1111-1111")],
        );
        check(
            "13800138000 13900139000",
            &[(CnMobile, "13800138000"), (CnMobile, "13900139000")],
        );
    }

    #[test]
    fn finds_the_usual_english_ones() {
        use PiiKind::*;
        check(
            "mail a.b+c@example.co.uk.",
            &[(Email, "a.b+c@example.co.uk")],
        );
        check("user@localhost", &[]);
        check("SSN 123-45-6789", &[(UsSsn, "123-45-6789")]);
        check("SSN 000-45-6789", &[]);
        check("(415) 555-2671", &[(UsPhone, "(415) 555-2671")]);
        check("+1 415-555-2671", &[(UsPhone, "+1 415-555-2671")]);
        check("version 1.2.3 and 2024-01-15", &[]);
        check("order 12345678", &[]);
    }

    #[test]
    fn an_open_tail_is_held() {
        assert_eq!(open_tail("电话138 00"), "138 00".len());
        assert_eq!(open_tail("结束。"), 0);
        assert_eq!(open_tail("write to bob@exa"), "bob@exa".len());
        assert_eq!(open_tail("号码 138 "), "138 ".len());
    }
}
