//! Folding text against evasion, keeping the way back to the original.
//!
//! Every character folds to at most one character, so a match in folded text maps back to the
//! exact span of the original (which is what redaction and the streaming hold-back need):
//!
//! - full-width forms become half-width (`ｂｏｍｂ` → `bomb`), the ideographic space a space;
//! - letters are lower-cased, and Cyrillic and Greek look-alikes become the Latin letter they
//!   imitate (`bоmb` with a Cyrillic `о`);
//! - traditional Chinese characters become simplified (`賭博` → `赌博`), character by character
//!   from the table in `data/t2s.txt`;
//! - the Chinese numerals 〇/零 and 一 to 九 become the digits 0 to 9 (the starter lexicon writes
//!   `6合彩`, and text may write `六合彩`);
//! - zero-width and other invisible format characters vanish;
//! - whitespace, punctuation and symbols inserted between characters vanish too, but leave a word
//!   boundary behind, so Latin-script terms can require whole words (`kill` is not in `skill`)
//!   while `k i l l` and `毒.品` still match.
//!
//! Nothing here does IO or fails.

use std::sync::OnceLock;

/// Text after folding, with each folded byte's source span in the original.
#[derive(Clone, Debug, Default)]
pub struct Folded {
    /// The folded text: no separators, lower case, simplified, half-width.
    pub text: String,
    /// For each byte of `text`, the byte range of the original character it came from.
    origin: Vec<(u32, u32)>,
    /// For each byte of `text`, whether a word boundary precedes its character.
    boundary: Vec<bool>,
}

impl Folded {
    /// The original byte range of the folded byte range `start..end` (`end > start`).
    pub fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        let first = self.origin.get(start).map_or(0, |o| o.0 as usize);
        let last = self
            .origin
            .get(end.saturating_sub(1))
            .map_or(first, |o| o.1 as usize);
        (first, last)
    }

    /// Whether `start..end` of the folded text is a whole word: a boundary (or a non-Latin
    /// neighbour) on both sides.
    pub fn is_whole_word(&self, start: usize, end: usize) -> bool {
        let starts_word = start == 0
            || self.boundary.get(start).copied().unwrap_or(true)
            || !is_word_byte(self.text.as_bytes()[start - 1]);
        let ends_word = end >= self.text.len()
            || self.boundary.get(end).copied().unwrap_or(true)
            || !is_word_byte(self.text.as_bytes()[end]);
        starts_word && ends_word
    }

    /// Number of folded characters.
    pub fn chars(&self) -> usize {
        self.text.chars().count()
    }
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

/// Whether a folded term is Latin-script (ASCII letters and digits only): such terms match
/// whole words only.
pub fn is_latin_term(folded: &str) -> bool {
    !folded.is_empty() && folded.bytes().all(is_word_byte)
}

/// Fold `text` (see the module documentation).
pub fn fold(text: &str) -> Folded {
    let mut folded = Folded {
        text: String::with_capacity(text.len()),
        origin: Vec::with_capacity(text.len()),
        boundary: Vec::with_capacity(text.len()),
    };
    let mut at_boundary = true;
    for (start, c) in text.char_indices() {
        let end = start + c.len_utf8();
        match fold_char(c) {
            Fold::Invisible => {}
            Fold::Separator => at_boundary = true,
            Fold::Char(f) => {
                let before = folded.text.len();
                folded.text.push(f);
                for i in before..folded.text.len() {
                    folded.origin.push((to_u32(start), to_u32(end)));
                    folded.boundary.push(at_boundary && i == before);
                }
                at_boundary = false;
            }
        }
    }
    folded
}

/// Fold a lexicon term: the folded text alone.
pub fn fold_term(term: &str) -> String {
    fold(term).text
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// What one character folds to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fold {
    /// Dropped without trace (zero-width and format characters).
    Invisible,
    /// Dropped, leaving a word boundary (whitespace, punctuation, symbols).
    Separator,
    /// Kept as this character.
    Char(char),
}

/// Fold one character.
pub fn fold_char(c: char) -> Fold {
    // Fast paths for the two scripts most text is in: ASCII, and CJK ideographs (which have no
    // case, look-alikes, widths or invisibles to fold).
    if c.is_ascii() {
        return if c.is_ascii_alphanumeric() {
            Fold::Char(c.to_ascii_lowercase())
        } else {
            Fold::Separator
        };
    }
    if CJK.contains(&(c as u32)) {
        return Fold::Char(numeral(c).unwrap_or_else(|| simplified(c)));
    }
    if is_invisible(c) {
        return Fold::Invisible;
    }
    let c = half_width(c);
    if is_separator(c) {
        return Fold::Separator;
    }
    let c = lower(c);
    let c = homoglyph(c).or_else(|| numeral(c)).unwrap_or(c);
    Fold::Char(simplified(c))
}

fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

fn half_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || c.is_ascii_punctuation()
        || c.is_control()
        || matches!(
            c,
            '\u{00A1}'..='\u{00BF}'
                | '\u{00D7}'
                | '\u{00F7}'
                | '\u{2010}'..='\u{205E}'
                | '\u{2190}'..='\u{2BFF}'
                | '\u{2E00}'..='\u{2E7F}'
                | '\u{3001}'..='\u{3003}'
                | '\u{3008}'..='\u{3020}'
                | '\u{30FB}'
                | '\u{FE10}'..='\u{FE1F}'
                | '\u{FE30}'..='\u{FE6F}'
                | '\u{FF5F}'..='\u{FF65}'
                | '\u{FFE0}'..='\u{FFEE}'
                | '\u{1F000}'..='\u{1FAFF}'
        )
}

fn lower(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Cyrillic and Greek letters that pass for Latin ones (after lower-casing).
fn homoglyph(c: char) -> Option<char> {
    Some(match c {
        'а' | 'α' => 'a',
        'в' | 'β' => 'b',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'ε' | 'ё' => 'e',
        'ɡ' => 'g',
        'һ' | 'н' => 'h',
        'і' | 'ι' | 'ı' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'м' => 'm',
        'п' | 'η' => 'n',
        'о' | 'ο' | 'σ' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'υ' | 'μ' => 'u',
        'ν' => 'v',
        'ԝ' | 'ω' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' => 'y',
        _ => return None,
    })
}

fn numeral(c: char) -> Option<char> {
    Some(match c {
        '〇' | '零' => '0',
        '一' => '1',
        '二' => '2',
        '三' => '3',
        '四' => '4',
        '五' => '5',
        '六' => '6',
        '七' => '7',
        '八' => '8',
        '九' => '9',
        _ => return None,
    })
}

/// The CJK block the traditional → simplified table covers (every pair in `data/t2s.txt` is in it).
const CJK: std::ops::RangeInclusive<u32> = 0x3400..=0x9FFF;

fn simplified(c: char) -> char {
    let code = c as u32;
    if !CJK.contains(&code) {
        return c;
    }
    // A dense table over the block: one lookup per character, no hashing on the hot path.
    static TABLE: OnceLock<Vec<char>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table: Vec<char> = CJK
            .map(|code| char::from_u32(code).unwrap_or(' '))
            .collect();
        for line in include_str!("../data/t2s.txt").lines() {
            let mut chars = line.chars();
            if let (Some(traditional), Some(simplified)) = (chars.next(), chars.nth(1))
                && let Some(slot) = (traditional as u32)
                    .checked_sub(*CJK.start())
                    .and_then(|i| table.get_mut(i as usize))
            {
                *slot = simplified;
            }
        }
        table
    });
    table
        .get((code - CJK.start()) as usize)
        .copied()
        .unwrap_or(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(fold(input).text, expected, "folding {input:?}");
    }

    #[test]
    fn folds_the_evasions_the_issue_names() {
        check("ＢＯＭＢ", "bomb");
        check("b\u{200B}o\u{200D}mb", "bomb");
        check("bоmb", "bomb"); // Cyrillic о
        check("b o m b", "bomb");
        check("b.o-m_b", "bomb");
        check("賭博網站", "赌博网站");
        check("毒 品", "毒品");
        check("毒，品", "毒品");
        check("毒😀品", "毒品");
        check("毒\u{3000}品", "毒品");
        check("六合彩", "6合彩");
    }

    #[test]
    fn spans_map_back_to_the_original() {
        let text = "买 毒，品吧";
        let folded = fold(text);
        let start = folded.text.find("毒品").unwrap_or(usize::MAX);
        let (from, to) = folded.original_span(start, start + "毒品".len());
        assert_eq!(&text[from..to], "毒，品");
    }

    #[test]
    fn latin_terms_need_whole_words() {
        let skill = fold("a skill");
        let at = skill.text.find("kill").unwrap_or(usize::MAX);
        assert!(!skill.is_whole_word(at, at + 4));
        let spaced = fold("k i l l them");
        assert!(spaced.is_whole_word(0, 4));
        let cjk = fold("去kill他");
        let at = cjk.text.find("kill").unwrap_or(usize::MAX);
        assert!(cjk.is_whole_word(at, at + 4));
    }

    #[test]
    fn the_table_loads_every_pair() {
        assert_eq!(simplified('錢'), '钱');
        assert_eq!(simplified('钱'), '钱');
        assert_eq!(include_str!("../data/t2s.txt").lines().count(), 2734);
    }
}
