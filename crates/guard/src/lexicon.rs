//! Keyword lexicons: entries with a tier and GB/T 45654 Appendix A risks, matched with
//! Aho-Corasick over [folded](crate::fold) text, an allowlist of benign words that contain a term,
//! and an activation gate measured on benign text.
//!
//! A lexicon file is tab-separated: `term<TAB>tier<TAB>risks[<TAB>origin]`, tier `block` or
//! `flag`, risks a comma-separated list of Appendix A ids (`A.1.6,A.1.8`); `#` starts a comment
//! line. A plain term list (one term per line, as `--block-terms` takes) is read with one tier and
//! risk for all. A lexicon's version is the SHA-256 of everything it was built from, so a
//! decision record names exactly which list judged it.
//!
//! Nothing here does IO.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use warden_core::risk::RiskId;

use crate::fold::{Folded, fold_term, is_latin_term};

/// How strongly an entry speaks: a `block` entry is unambiguous in any context, a `flag` entry
/// is worth a reviewer's look.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Block,
    Flag,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Block => "block",
            Tier::Flag => "flag",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "block" => Some(Tier::Block),
            "flag" => Some(Tier::Flag),
            _ => None,
        }
    }
}

/// One lexicon entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// As written in the source.
    pub term: String,
    /// As matched.
    pub folded: String,
    pub tier: Tier,
    pub risks: Vec<RiskId>,
    /// Where it came from (`houbb:0`, `warden`, a file name).
    pub origin: String,
    /// Switched off by the activation gate.
    pub active: bool,
}

/// A lexicon that cannot be read, with the line to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name} line {line}: {message}")]
pub struct LexiconError {
    pub source_name: String,
    pub line: usize,
    pub message: String,
}

/// One match, with its span in the original text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// Index of the entry in [`Lexicon::entries`].
    pub entry: usize,
    pub tier: Tier,
    /// Byte range in the original (unfolded) text.
    pub start: usize,
    pub end: usize,
}

/// Collects entries from several sources; [`LexiconBuilder::build`] compiles them.
#[derive(Default)]
pub struct LexiconBuilder {
    entries: Vec<Entry>,
    allow: Vec<String>,
    inactive_tiers: Vec<Tier>,
    hasher: Sha256,
}

impl LexiconBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    fn error(source: &str, line: usize, message: impl Into<String>) -> LexiconError {
        LexiconError {
            source_name: source.to_owned(),
            line,
            message: message.into(),
        }
    }

    fn push(&mut self, source: &str, line: usize, entry: Entry) -> Result<(), LexiconError> {
        if entry.folded.is_empty() {
            return Err(Self::error(
                source,
                line,
                format!(
                    "the term `{}` is only spaces, punctuation or invisible characters; remove the line",
                    entry.term
                ),
            ));
        }
        self.entries.push(entry);
        Ok(())
    }

    fn absorb(&mut self, kind: &str, source: &str, text: &str) {
        self.hasher.update(kind.as_bytes());
        self.hasher.update(source.as_bytes());
        self.hasher.update([0]);
        self.hasher.update(text.as_bytes());
        self.hasher.update([0]);
    }

    /// Add the entries of a tab-separated lexicon file named `source`.
    pub fn tsv(mut self, source: &str, text: &str) -> Result<Self, LexiconError> {
        self.absorb("tsv", source, text);
        for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            if !(3..=4).contains(&fields.len()) {
                return Err(Self::error(
                    source,
                    number,
                    format!(
                        "expected `term<TAB>tier<TAB>risks[<TAB>origin]`, found {} field(s)",
                        fields.len()
                    ),
                ));
            }
            let tier = Tier::parse(fields[1].trim()).ok_or_else(|| {
                Self::error(
                    source,
                    number,
                    format!("tier `{}` is not `block` or `flag`", fields[1]),
                )
            })?;
            let risks = parse_risks(fields[2]).map_err(|m| Self::error(source, number, m))?;
            let term = fields[0].to_owned();
            let entry = Entry {
                folded: fold_term(&term),
                term,
                tier,
                risks,
                origin: fields
                    .get(3)
                    .map_or_else(|| source.to_owned(), |o| (*o).to_owned()),
                active: true,
            };
            self.push(source, number, entry)?;
        }
        Ok(self)
    }

    /// Add a plain term list (one term per line, `#` comments), every term with `tier` and
    /// `risks`.
    pub fn terms(
        mut self,
        source: &str,
        text: &str,
        tier: Tier,
        risks: &[RiskId],
    ) -> Result<Self, LexiconError> {
        self.absorb(tier.as_str(), source, text);
        for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
            let term = line.trim();
            if term.is_empty() || term.starts_with('#') {
                continue;
            }
            let entry = Entry {
                term: term.to_owned(),
                folded: fold_term(term),
                tier,
                risks: risks.to_vec(),
                origin: source.to_owned(),
                active: true,
            };
            self.push(source, number, entry)?;
        }
        Ok(self)
    }

    /// Add benign words (one per line) inside which a term does not count.
    pub fn allow(mut self, text: &str) -> Self {
        self.absorb("allow", "", text);
        self.allow.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(fold_term)
                .filter(|f| !f.is_empty()),
        );
        self
    }

    /// Switch off what an activation record lists: lines `term TERM` or `tier TIER`.
    pub fn inactive(mut self, source: &str, text: &str) -> Result<Self, LexiconError> {
        self.absorb("inactive", source, text);
        let mut terms = std::collections::HashSet::new();
        for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once('\t') {
                Some(("term", term)) => {
                    terms.insert(term.to_owned());
                }
                Some(("tier", tier)) => self.inactive_tiers.push(
                    Tier::parse(tier).ok_or_else(|| Self::error(source, number, "unknown tier"))?,
                ),
                _ => {
                    return Err(Self::error(
                        source,
                        number,
                        "expected `term<TAB>TERM` or `tier<TAB>block|flag`",
                    ));
                }
            }
        }
        for entry in &mut self.entries {
            if terms.contains(&entry.term) {
                entry.active = false;
            }
        }
        Ok(self)
    }

    /// Compile the lexicon named `name`.
    pub fn build(self, name: &str) -> Result<Lexicon, LexiconError> {
        let version = warden_core::hex::encode(&self.hasher.finalize()[..8]);
        let mut lexicon = Lexicon {
            name: name.to_owned(),
            version,
            entries: self.entries,
            inactive_tiers: self.inactive_tiers,
            allow_words: self.allow,
            compiled: Compiled::default(),
        };
        lexicon.compile()?;
        Ok(lexicon)
    }
}

fn parse_risks(text: &str) -> Result<Vec<RiskId>, String> {
    let risks = text
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| {
            r.parse::<RiskId>().map_err(|_| {
                format!("`{r}` is not a GB/T 45654 Appendix A risk id (A.1.1 … A.5.2) or a frontier risk")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if risks.is_empty() {
        return Err("an entry needs at least one risk id".to_owned());
    }
    Ok(risks)
}

#[derive(Default)]
struct Compiled {
    matcher: Option<AhoCorasick>,
    /// Pattern id → entries with that folded form.
    patterns: Vec<Vec<usize>>,
    latin: Vec<bool>,
    allow: Option<AhoCorasick>,
    longest_chars: usize,
    longest_allow_chars: usize,
}

/// A compiled lexicon.
pub struct Lexicon {
    pub name: String,
    version: String,
    entries: Vec<Entry>,
    inactive_tiers: Vec<Tier>,
    allow_words: Vec<String>,
    compiled: Compiled,
}

impl std::fmt::Debug for Lexicon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lexicon")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

/// The shipped starter lexicon (see `lexicons/README.md`), its allowlist and its activation
/// record.
pub const STARTER_TSV: &str = include_str!("../lexicons/starter.tsv");
pub const STARTER_ALLOW: &str = include_str!("../lexicons/allow.txt");
pub const STARTER_INACTIVE: &str = include_str!("../lexicons/inactive.tsv");

impl Lexicon {
    /// The shipped starter lexicon with its activation record applied.
    pub fn starter() -> Result<Self, LexiconError> {
        LexiconBuilder::new()
            .tsv("starter.tsv", STARTER_TSV)?
            .allow(STARTER_ALLOW)
            .inactive("inactive.tsv", STARTER_INACTIVE)?
            .build("starter")
    }

    /// The shipped starter lexicon with nothing switched off (what the activation gate starts
    /// from).
    pub fn starter_unactivated() -> Result<Self, LexiconError> {
        LexiconBuilder::new()
            .tsv("starter.tsv", STARTER_TSV)?
            .allow(STARTER_ALLOW)
            .build("starter")
    }

    fn compile(&mut self) -> Result<(), LexiconError> {
        let mut by_folded: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, entry) in self.entries.iter().enumerate() {
            if self.is_on(entry) {
                by_folded.entry(entry.folded.as_str()).or_default().push(i);
            }
        }
        let folded: Vec<&str> = by_folded.keys().copied().collect();
        let build_error = |e: aho_corasick::BuildError| LexiconError {
            source_name: self.name.clone(),
            line: 0,
            message: format!("the lexicon is too large to compile: {e}"),
        };
        let matcher = if folded.is_empty() {
            None
        } else {
            Some(
                // A contiguous NFA matches the 45 000-entry starter lexicon as fast as a full DFA
                // (benches/lexicon.rs) in a fifth of the memory (48 MB against 234 MB of process
                // RSS) and compiles in 0.1 s instead of 0.6 s.
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::ContiguousNFA))
                    .build(&folded)
                    .or_else(|_| AhoCorasick::builder().build(&folded))
                    .map_err(build_error)?,
            )
        };
        let allow = if self.allow_words.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .build(&self.allow_words)
                    .map_err(build_error)?,
            )
        };
        let compiled = Compiled {
            matcher,
            latin: folded.iter().map(|f| is_latin_term(f)).collect(),
            longest_chars: folded.iter().map(|f| f.chars().count()).max().unwrap_or(0),
            longest_allow_chars: self
                .allow_words
                .iter()
                .map(|w| w.chars().count())
                .max()
                .unwrap_or(0),
            patterns: by_folded.into_values().collect(),
            allow,
        };
        self.compiled = compiled;
        Ok(())
    }

    fn is_on(&self, entry: &Entry) -> bool {
        entry.active && !self.inactive_tiers.contains(&entry.tier)
    }

    /// Every entry, active or not.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The version: a digest of every source the lexicon was built from.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The longest active term, in folded characters: how much text a streaming scan must hold
    /// back.
    pub fn longest_term_chars(&self) -> usize {
        self.compiled.longest_chars
    }

    /// The longest allowlisted word, in folded characters: how far past a match a streaming scan
    /// must look before judging it.
    pub fn longest_allow_chars(&self) -> usize {
        self.compiled.longest_allow_chars
    }

    /// Whether a tier is switched off as a whole.
    pub fn tier_is_off(&self, tier: Tier) -> bool {
        self.inactive_tiers.contains(&tier)
    }

    /// Number of active entries.
    pub fn active_len(&self) -> usize {
        self.entries.iter().filter(|e| self.is_on(e)).count()
    }

    /// Every active-entry match in `folded`, leftmost first, minus those inside an allowlisted
    /// word and Latin terms that are not whole words.
    pub fn find(&self, folded: &Folded) -> Vec<Hit> {
        let Some(matcher) = &self.compiled.matcher else {
            return Vec::new();
        };
        let allowed: Vec<(usize, usize)> = match &self.compiled.allow {
            Some(allow) => allow
                .find_overlapping_iter(folded.text.as_str())
                .map(|m| (m.start(), m.end()))
                .collect(),
            None => Vec::new(),
        };
        let mut hits = Vec::new();
        for found in matcher.find_overlapping_iter(folded.text.as_str()) {
            let (start, end) = (found.start(), found.end());
            let pattern = found.pattern().as_usize();
            if self.compiled.latin.get(pattern).copied().unwrap_or(false)
                && !folded.is_whole_word(start, end)
            {
                continue;
            }
            if allowed.iter().any(|&(s, e)| s <= start && end <= e) {
                continue;
            }
            let (from, to) = folded.original_span(start, end);
            for &entry in self.compiled.patterns.get(pattern).into_iter().flatten() {
                hits.push(Hit {
                    entry,
                    tier: self.entries[entry].tier,
                    start: from,
                    end: to,
                });
            }
        }
        hits
    }

    /// Run the activation gate over `benign` documents: switch off every entry that hits more
    /// documents than its tier's bound allows, then every tier whose remaining entries still hit
    /// too large a share of the documents. Returns what was switched off and why.
    pub fn activate(&mut self, benign: &[&str], bounds: &ActivationBounds) -> ActivationReport {
        let documents = benign.len();
        let bytes = benign.iter().map(|d| d.len()).sum();
        let mut entry_documents: BTreeMap<usize, usize> = BTreeMap::new();
        let mut folded_docs = Vec::with_capacity(documents);
        for text in benign {
            let folded = crate::fold::fold(text);
            let mut seen: Vec<usize> = self.find(&folded).into_iter().map(|h| h.entry).collect();
            seen.sort_unstable();
            seen.dedup();
            for entry in seen {
                *entry_documents.entry(entry).or_default() += 1;
            }
            folded_docs.push(folded);
        }
        let mut switched_off = Vec::new();
        for (&entry, &hit_documents) in &entry_documents {
            let allowed = bounds.entry_documents(self.entries[entry].tier, documents);
            if hit_documents > allowed {
                self.entries[entry].active = false;
                switched_off.push((self.entries[entry].term.clone(), hit_documents));
            }
        }
        let _ = self.compile();
        let mut tier_documents: BTreeMap<Tier, usize> = BTreeMap::new();
        for folded in &folded_docs {
            let mut tiers: Vec<Tier> = self.find(folded).into_iter().map(|h| h.tier).collect();
            tiers.sort_unstable();
            tiers.dedup();
            for tier in tiers {
                *tier_documents.entry(tier).or_default() += 1;
            }
        }
        let mut tiers_off = Vec::new();
        for (&tier, &hit) in &tier_documents {
            let share = hit as f64 / documents.max(1) as f64;
            if share > bounds.tier_share(tier) {
                self.inactive_tiers.push(tier);
                tiers_off.push((tier, share));
            }
        }
        let _ = self.compile();
        ActivationReport {
            documents,
            bytes,
            switched_off,
            tiers_off,
            tier_documents,
        }
    }

    /// The activation record to ship with the lexicon: what [`LexiconBuilder::inactive`] reads.
    pub fn inactive_record(&self, header: &str) -> String {
        let mut out = String::new();
        for line in header.lines() {
            let _ = writeln!(out, "# {line}");
        }
        for tier in &self.inactive_tiers {
            let _ = writeln!(out, "tier\t{}", tier.as_str());
        }
        let mut terms: Vec<&str> = self
            .entries
            .iter()
            .filter(|e| !e.active)
            .map(|e| e.term.as_str())
            .collect();
        terms.sort_unstable();
        terms.dedup();
        for term in terms {
            let _ = writeln!(out, "term\t{term}");
        }
        out
    }

    /// Shipped and active entries per Appendix A risk, against GB/T 45654's reference values.
    pub fn coverage(&self) -> Coverage {
        let mut per_risk: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for risk in RiskId::appendix_a() {
            per_risk.insert(risk.as_str().to_owned(), (0, 0));
        }
        for entry in &self.entries {
            for risk in &entry.risks {
                let counts = per_risk.entry(risk.as_str().to_owned()).or_default();
                counts.0 += 1;
                if self.is_on(entry) {
                    counts.1 += 1;
                }
            }
        }
        Coverage {
            shipped: self.entries.len(),
            active: self.active_len(),
            per_risk: per_risk
                .into_iter()
                .map(|(risk, (shipped, active))| {
                    let reference = reference_per_risk(&risk);
                    RiskCoverage {
                        risk,
                        shipped,
                        active,
                        reference,
                    }
                })
                .collect(),
        }
    }
}

/// GB/T 45654's reference number of keywords for a risk: 200 per A.1 risk, 100 per A.2 risk,
/// none stated for the others.
fn reference_per_risk(risk: &str) -> Option<usize> {
    if risk.starts_with("A.1.") {
        Some(200)
    } else if risk.starts_with("A.2.") {
        Some(100)
    } else {
        None
    }
}

/// GB/T 45654's reference size of a whole keyword bank.
pub const REFERENCE_TOTAL: usize = 10_000;

/// The activation gate's bounds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ActivationBounds {
    /// Largest share of benign documents one `block` entry may hit (0: none).
    pub block_entry_share: f64,
    /// Largest share of benign documents one `flag` entry may hit.
    pub flag_entry_share: f64,
    /// Largest share of benign documents the `block` tier as a whole may hit.
    pub block_tier_share: f64,
    /// Largest share of benign documents the `flag` tier as a whole may hit.
    pub flag_tier_share: f64,
}

impl Default for ActivationBounds {
    fn default() -> Self {
        Self {
            block_entry_share: 0.0,
            flag_entry_share: 0.002,
            block_tier_share: 0.005,
            flag_tier_share: 0.05,
        }
    }
}

impl ActivationBounds {
    fn entry_documents(&self, tier: Tier, documents: usize) -> usize {
        let share = match tier {
            Tier::Block => self.block_entry_share,
            Tier::Flag => self.flag_entry_share,
        };
        (share * documents as f64).floor() as usize
    }

    fn tier_share(&self, tier: Tier) -> f64 {
        match tier {
            Tier::Block => self.block_tier_share,
            Tier::Flag => self.flag_tier_share,
        }
    }
}

/// What the activation gate measured and switched off.
#[derive(Clone, Debug)]
pub struct ActivationReport {
    pub documents: usize,
    pub bytes: usize,
    /// Entries switched off, with the number of benign documents each hit.
    pub switched_off: Vec<(String, usize)>,
    /// Tiers switched off, with the share of documents they hit.
    pub tiers_off: Vec<(Tier, f64)>,
    /// Documents each tier hit after entries were switched off.
    pub tier_documents: BTreeMap<Tier, usize>,
}

/// Entries per risk.
#[derive(Clone, Debug, Serialize)]
pub struct Coverage {
    pub shipped: usize,
    pub active: usize,
    pub per_risk: Vec<RiskCoverage>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RiskCoverage {
    pub risk: String,
    pub shipped: usize,
    pub active: usize,
    /// GB/T 45654's reference value for this risk, where it states one.
    pub reference: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fold::fold;

    fn lexicon(tsv: &str, allow: &str) -> Lexicon {
        match LexiconBuilder::new()
            .tsv("test.tsv", tsv)
            .map(|b| b.allow(allow).build("test"))
        {
            Ok(Ok(lexicon)) => lexicon,
            other => panic!("test lexicon: {other:?}"),
        }
    }

    fn terms_found(lexicon: &Lexicon, text: &str) -> Vec<String> {
        lexicon
            .find(&fold(text))
            .into_iter()
            .map(|h| text[h.start..h.end].to_owned())
            .collect()
    }

    #[test]
    fn finds_terms_through_evasions_and_reports_original_spans() {
        let lexicon = lexicon("毒品交易\tblock\tA.1.8\nbomb\tflag\tA.1.4\n", "");
        assert_eq!(terms_found(&lexicon, "哪里有毒 品 交 易"), ["毒 品 交 易"]);
        assert_eq!(terms_found(&lexicon, "毒品交易"), ["毒品交易"]);
        assert_eq!(terms_found(&lexicon, "make a ＢＯＭＢ now"), ["ＢＯＭＢ"]);
        assert_eq!(
            terms_found(&lexicon, "b\u{200B}o\u{200B}m\u{200B}b"),
            ["b\u{200B}o\u{200B}m\u{200B}b"]
        );
        assert!(terms_found(&lexicon, "a bombastic speech").is_empty());
    }

    #[test]
    fn allowlisted_words_do_not_count() {
        let lexicon = lexicon("法轮\tflag\tA.1.8\n", "齿轮法轮廓\n");
        assert!(terms_found(&lexicon, "齿轮法轮廓").is_empty());
        assert_eq!(terms_found(&lexicon, "法轮"), ["法轮"]);
    }

    #[test]
    fn bad_lines_name_the_line_and_the_fix() {
        let cases = [
            ("a\tblock\n", "line 1: expected"),
            ("# c\nabc\tmaybe\tA.1.1\n", "line 2: tier `maybe`"),
            ("abc\tblock\tA.9.9\n", "`A.9.9` is not"),
            ("abc\tblock\t\n", "at least one risk"),
            ("，，\tblock\tA.1.1\n", "only spaces"),
        ];
        for (tsv, expected) in cases {
            let error = LexiconBuilder::new().tsv("x.tsv", tsv).err();
            let message = error.map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains(expected), "{tsv:?} gave {message:?}");
        }
    }

    #[test]
    fn activation_switches_off_entries_and_tiers_that_hit_benign_text() {
        let mut lexicon = lexicon(
            "出售枪支\tblock\tA.1.8\n中国\tflag\tA.1.2\n炸药配方\tflag\tA.1.4\n",
            "",
        );
        let benign = ["中国的首都是北京", "今天天气很好", "我喜欢中国菜"];
        let report = lexicon.activate(&benign, &ActivationBounds::default());
        assert_eq!(report.switched_off, [("中国".to_owned(), 2)]);
        assert!(terms_found(&lexicon, "中国").is_empty());
        assert_eq!(terms_found(&lexicon, "出售枪支"), ["出售枪支"]);
        let record = lexicon.inactive_record("test");
        let rebuilt = LexiconBuilder::new()
            .tsv("t", "出售枪支\tblock\tA.1.8\n中国\tflag\tA.1.2\n")
            .and_then(|b| b.inactive("i", &record))
            .and_then(|b| b.build("t"));
        let rebuilt = rebuilt.map_err(|e| e.to_string());
        assert_eq!(rebuilt.map(|l| l.active_len()), Ok(1));
    }

    #[test]
    fn versions_change_with_the_content() {
        let a = lexicon("abc\tblock\tA.1.1\n", "");
        let b = lexicon("abd\tblock\tA.1.1\n", "");
        assert_ne!(a.version(), b.version());
        assert_eq!(a.version(), lexicon("abc\tblock\tA.1.1\n", "").version());
    }
}
