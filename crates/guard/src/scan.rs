//! The guard: a lexicon, the PII detectors and a policy, applied to a whole text or to a stream.
//!
//! A stream is scanned with a hold-back window ([`StreamScan`]): text is released only once no
//! term or personal-information match could still begin in it, so a term or a phone number split
//! across chunks is found before any of it leaves, and the window is bounded (the longest term
//! plus the longest allowlisted word, plus an open digit or e-mail run), never the whole answer.
//! In the low-latency mode ([`Hold::None`]) text leaves at once and the scan reports how much of a
//! blocked match had already leaked.

use std::collections::HashSet;

use crate::classifier::Classifier;
use crate::fold::{Folded, fold};
use crate::lexicon::Lexicon;
use crate::pii;
use crate::policy::{Action, Finding, Policy, Verdict};

/// A lexicon, the PII detectors and optionally a trained classifier, under one policy.
#[derive(Debug)]
pub struct Guard {
    pub lexicon: Lexicon,
    pub policy: Policy,
    /// Judges whole texts (requests and unstreamed answers) under the category `classifier`;
    /// streams are judged by the lexicon and PII filters only, because a classifier's verdict on
    /// a prefix says little and its verdict at the end comes after the text has left.
    pub classifier: Option<Classifier>,
}

/// A text after the guard: its verdict and the text with redactions applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    pub verdict: Verdict,
    pub text: String,
}

impl Guard {
    pub fn new(lexicon: Lexicon, policy: Policy) -> Self {
        Self {
            lexicon,
            policy,
            classifier: None,
        }
    }

    /// The same guard with a trained classifier on whole texts.
    pub fn with_classifier(mut self, classifier: Classifier) -> Self {
        self.classifier = Some(classifier);
        self
    }

    /// Check a whole text under the guard's policy.
    pub fn check(&self, text: &str) -> Checked {
        self.check_with(text, &self.policy)
    }

    /// Check a whole text under `policy` (the guard's, tightened by a request).
    pub fn check_with(&self, text: &str, policy: &Policy) -> Checked {
        let mut findings = self.findings(text, &fold(text), policy);
        if let Some(classifier) = &self.classifier {
            let action = policy.action(CLASSIFIER);
            if action != Action::Allow && classifier.classify(text) {
                findings.push(Finding {
                    filter: CLASSIFIER.to_owned(),
                    category: CLASSIFIER.to_owned(),
                    risks: Vec::new(),
                    action,
                    start: 0,
                    end: text.len(),
                });
            }
        }
        let redacted = redact(text, 0, text.len(), &findings);
        Checked {
            verdict: Verdict::from_findings(findings),
            text: redacted,
        }
    }

    /// Every finding with an action other than allow, in text order.
    fn findings(&self, text: &str, folded: &Folded, policy: &Policy) -> Vec<Finding> {
        let mut findings = Vec::new();
        for hit in self.lexicon.find(folded) {
            let entry = &self.lexicon.entries()[hit.entry];
            let action = policy.lexicon_action(entry.tier, &entry.risks);
            if action == Action::Allow {
                continue;
            }
            let category = entry
                .risks
                .iter()
                .map(|r| r.as_str())
                .find(|r| policy.action(r) == action)
                .map_or_else(|| format!("tier.{}", entry.tier.as_str()), str::to_owned);
            findings.push(Finding {
                filter: "lexicon".to_owned(),
                category,
                risks: entry.risks.iter().map(|r| r.as_str().to_owned()).collect(),
                action,
                start: hit.start,
                end: hit.end,
            });
        }
        for found in pii::find(text) {
            let action = policy.action(found.kind.category());
            if action == Action::Allow {
                continue;
            }
            findings.push(Finding {
                filter: "pii".to_owned(),
                category: found.kind.category().to_owned(),
                risks: Vec::new(),
                action,
                start: found.start,
                end: found.end,
            });
        }
        findings.sort_by_key(|f| (f.start, f.end));
        findings
    }

    /// A streaming scan under `policy`.
    pub fn stream<'a>(&'a self, policy: &'a Policy, hold: Hold) -> StreamScan<'a> {
        StreamScan {
            guard: self,
            policy,
            hold,
            text: String::new(),
            released: 0,
            findings: Vec::new(),
            seen: HashSet::new(),
            leaked: 0,
            blocked: false,
        }
    }

    /// How many folded characters a streaming scan holds back (before open PII runs).
    pub fn hold_chars(&self) -> usize {
        self.lexicon.longest_term_chars() + self.lookahead()
    }

    fn lookahead(&self) -> usize {
        self.lexicon.longest_allow_chars().max(1)
    }
}

/// The text a client gets in place of a blocked answer, wherever it is served.
pub const REFUSAL: &str = "抱歉，这个请求的回答包含不能提供的内容。Sorry, the answer to this request contains content that cannot be provided.";

/// The message of the error that refuses a request a filter blocked.
pub const REJECTED: &str = "the request contains content this service does not accept";

/// The message of the error that ends a stream stopped by a filter.
pub const STOPPED: &str =
    "the answer was stopped: it contains content this service does not provide";

/// The policy category (and filter name) of the trained classifier's findings.
pub const CLASSIFIER: &str = "classifier";

/// The text between `from` and `to` with every redacting finding inside it replaced.
fn redact(text: &str, from: usize, to: usize, findings: &[Finding]) -> String {
    let mut out = String::with_capacity(to - from);
    let mut at = from;
    for finding in findings
        .iter()
        .filter(|f| f.action == Action::Redact && f.start >= from && f.end <= to)
    {
        if finding.start < at {
            continue;
        }
        out.push_str(&text[at..finding.start]);
        out.push_str("[redacted:");
        out.push_str(finding.category.trim_start_matches("pii."));
        out.push(']');
        at = finding.end;
    }
    out.push_str(&text[at..to]);
    out
}

/// Whether a stream is held back until the filters pass it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    /// Nothing the filters have not passed is released.
    Window,
    /// Everything is released at once; a block stops the stream and counts what leaked.
    None,
}

/// What a stream step lets through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamStep {
    /// Text the client may have now (possibly empty).
    Release(String),
    /// A blocking finding: end the stream; nothing from its start on was released in
    /// [`Hold::Window`] mode.
    Blocked(Finding),
}

/// A streaming scan; see the module documentation.
pub struct StreamScan<'a> {
    guard: &'a Guard,
    policy: &'a Policy,
    hold: Hold,
    text: String,
    released: usize,
    findings: Vec<Finding>,
    seen: HashSet<(usize, usize, String)>,
    leaked: usize,
    blocked: bool,
}

impl StreamScan<'_> {
    /// Add a chunk of output.
    pub fn push(&mut self, chunk: &str) -> StreamStep {
        self.text.push_str(chunk);
        self.step(false)
    }

    /// The stream ended: judge and release the rest.
    pub fn finish(&mut self) -> StreamStep {
        self.step(true)
    }

    /// Everything found so far.
    pub fn verdict(&self) -> Verdict {
        Verdict::from_findings(self.findings.clone())
    }

    /// Characters of a blocked match that had already been released (always 0 with
    /// [`Hold::Window`]).
    pub fn leaked_chars(&self) -> usize {
        self.leaked
    }

    /// The whole text seen so far (for the decision record's hash).
    pub fn text(&self) -> &str {
        &self.text
    }

    fn step(&mut self, finished: bool) -> StreamStep {
        if self.blocked {
            return StreamStep::Release(String::new());
        }
        let folded = fold(&self.text);
        let chars = folded.chars();
        let settled_to = if finished || self.hold == Hold::None {
            self.text.len()
        } else {
            char_start(
                &folded,
                chars.checked_sub(self.guard.lookahead()),
                &self.text,
            )
        };
        let open_tail = if finished {
            0
        } else {
            pii::open_tail(&self.text)
        };
        let findings = self.guard.findings(&self.text, &folded, self.policy);
        // Never cut through a match: whatever straddles the release point waits whole.
        let straddled = |at: usize| {
            findings
                .iter()
                .filter(|f| f.start < at && at < f.end)
                .map(|f| f.start)
                .min()
                .unwrap_or(at)
        };
        let mut block = None;
        for finding in findings.iter().cloned() {
            // A match touching the unsettled end may still change (a longer allowlisted word,
            // a Latin word going on, a number growing): judge it on a later step.
            let unsettled = finding.end > settled_to
                || (finding.filter == "pii" && finding.end > self.text.len() - open_tail);
            if unsettled {
                continue;
            }
            let key = (finding.start, finding.end, finding.category.clone());
            if !self.seen.insert(key) {
                continue;
            }
            if finding.action == Action::Block && block.is_none() {
                block = Some(finding.clone());
            }
            self.findings.push(finding);
        }
        let release_to = match self.hold {
            Hold::None => self.text.len(),
            Hold::Window if finished => self.text.len(),
            Hold::Window => {
                let lexicon_limit = char_start(
                    &folded,
                    chars.checked_sub(self.guard.hold_chars()),
                    &self.text,
                );
                lexicon_limit
                    .min(self.text.len() - open_tail)
                    .max(self.released)
            }
        };
        if let Some(finding) = block {
            self.blocked = true;
            if finding.start < self.released {
                self.leaked = self.text[finding.start..self.released.min(finding.end)]
                    .chars()
                    .count();
            }
            return StreamStep::Blocked(finding);
        }
        let release_to = floor_char_boundary(&self.text, straddled(release_to).max(self.released));
        let out = redact(&self.text, self.released, release_to, &self.findings);
        self.released = release_to;
        StreamStep::Release(out)
    }
}

/// The original byte offset where folded character `index` starts (0 for `None`).
fn char_start(folded: &Folded, index: Option<usize>, text: &str) -> usize {
    let Some(index) = index else { return 0 };
    match folded.text.char_indices().nth(index) {
        Some((byte, _)) => folded.original_span(byte, byte + 1).0,
        None => text.len(),
    }
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while at > 0 && !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::LexiconBuilder;

    fn guard(tsv: &str) -> Guard {
        let lexicon = LexiconBuilder::new()
            .tsv("t.tsv", tsv)
            .and_then(|b| b.build("t"));
        match lexicon {
            Ok(lexicon) => Guard::new(lexicon, Policy::default()),
            Err(e) => panic!("{e}"),
        }
    }

    /// Stream `chunks` through a window scan: what the client received and whether it blocked.
    fn stream(guard: &Guard, chunks: &[&str]) -> (String, bool) {
        let policy = guard.policy.clone();
        let mut scan = guard.stream(&policy, Hold::Window);
        let mut out = String::new();
        for chunk in chunks {
            match scan.push(chunk) {
                StreamStep::Release(text) => out.push_str(&text),
                StreamStep::Blocked(_) => return (out, true),
            }
        }
        match scan.finish() {
            StreamStep::Release(text) => out.push_str(&text),
            StreamStep::Blocked(_) => return (out, true),
        }
        (out, false)
    }

    #[test]
    fn whole_texts_are_blocked_redacted_or_passed() {
        let guard = guard("制造炸药\tblock\tA.1.4\n");
        let checked = guard.check("教我制造 炸药");
        assert_eq!(checked.verdict.action, Action::Block);
        assert_eq!(checked.verdict.categories(), ["tier.block"]);
        let checked = guard.check("身份证11010519491231002X");
        assert_eq!(checked.verdict.action, Action::Redact);
        assert_eq!(checked.text, "身份证[redacted:cn_resident_id]");
        assert_eq!(guard.check("你好").verdict.action, Action::Allow);
    }

    #[test]
    fn a_term_split_across_chunks_never_reaches_the_client() {
        let guard = guard("制造炸药\tblock\tA.1.4\n");
        let (out, blocked) = stream(&guard, &["好的，先", "制造", "炸", "药的方法是"]);
        assert!(blocked);
        assert!(!out.contains('制'), "released {out:?}");
        assert_eq!(out, "好");
    }

    #[test]
    fn a_phone_number_split_across_chunks_is_redacted_or_flagged_before_release() {
        let mut guard = guard("无关词语\tflag\tA.1.8\n");
        guard.policy.tighten(["pii.cn_mobile"], Action::Redact);
        let (out, blocked) = stream(&guard, &["请拨打138", "0013", "8000联系我们。"]);
        assert!(!blocked);
        assert_eq!(out, "请拨打[redacted:cn_mobile]联系我们。");
    }

    #[test]
    fn clean_text_flows_before_the_stream_ends() {
        let guard = guard("制造炸药\tblock\tA.1.4\n");
        let policy = guard.policy.clone();
        let mut scan = guard.stream(&policy, Hold::Window);
        let mut early = String::new();
        for chunk in ["今天", "天气", "很好，", "我们去", "公园散步", "吧。"] {
            if let StreamStep::Release(text) = scan.push(chunk) {
                early.push_str(&text);
            }
        }
        assert!(
            early.starts_with("今天天气很好"),
            "released early: {early:?}"
        );
        assert!(
            matches!(scan.finish(), StreamStep::Release(rest) if early.clone() + &rest == "今天天气很好，我们去公园散步吧。")
        );
    }

    #[test]
    fn the_async_mode_counts_what_leaked() {
        let guard = guard("制造炸药\tblock\tA.1.4\n");
        let policy = guard.policy.clone();
        let mut scan = guard.stream(&policy, Hold::None);
        let mut leaked_text = String::new();
        for chunk in ["先制造", "炸药"] {
            if let StreamStep::Release(text) = scan.push(chunk) {
                leaked_text.push_str(&text);
            }
        }
        let _ = scan.finish();
        assert_eq!(leaked_text, "先制造");
        assert_eq!(scan.leaked_chars(), 2);
    }
}
