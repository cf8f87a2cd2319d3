//! File-level conformance and the platform duty.
//!
//! [`report`] turns the label values found in a file into a verdict with every rule checked:
//! `present`, `one_label`, then the Annex E rules of [`crate::label::inspect`]. [`platform_display`]
//! answers a propagating platform's question (Art. 6 of the CAC labelling measures): must this
//! content be shown as "is", "possibly" or "suspected" AI-generated, and what label should the
//! platform write?

use serde::Serialize;

use crate::formats::Format;
use crate::label::{AigcLabel, Check, Generated, inspect};

/// The verdict on one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileReport {
    pub file: String,
    pub format: Option<Format>,
    pub conformant: bool,
    /// The first label found, as read (even when it breaks rules).
    pub label: Option<AigcLabel>,
    pub labels_found: usize,
    pub checks: Vec<Check>,
    /// Why no checks could run (unreadable or unsupported file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Check the label values read from a file.
pub fn report(file: &str, format: Format, values: &[String]) -> FileReport {
    let mut checks = vec![Check {
        rule: "present",
        passed: !values.is_empty(),
        detail: if values.is_empty() {
            format!("no AIGC label in this {} file", format.name())
        } else {
            format!("AIGC label found in the {} metadata", format.name())
        },
    }];
    checks.push(Check {
        rule: "one_label",
        passed: values.len() == 1,
        detail: match values.len() {
            0 => "exactly one label is required".to_owned(),
            1 => "exactly one label".to_owned(),
            n => format!(
                "{n} labels found; GB 45438 6.1 c) allows exactly one (re-embed to replace them)"
            ),
        },
    });
    let mut label = None;
    if let Some(first) = values.first() {
        let inspection = inspect(first);
        label = inspection.label;
        checks.extend(inspection.checks);
    }
    let conformant = checks.iter().all(|check| check.passed);
    FileReport {
        file: file.to_owned(),
        format: Some(format),
        conformant,
        label,
        labels_found: values.len(),
        checks,
        error: None,
    }
}

/// A report for a file that could not be examined.
pub fn unreadable(file: &str, format: Option<Format>, error: String) -> FileReport {
    FileReport {
        file: file.to_owned(),
        format,
        conformant: false,
        label: None,
        labels_found: 0,
        checks: Vec::new(),
        error: Some(error),
    }
}

/// What a platform must show, and the label it should carry on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Display {
    /// `None` when nothing indicates AI generation: no notice is required.
    pub generated: Option<Generated>,
    pub notice: Option<&'static str>,
    pub reason: String,
}

/// Art. 6: a valid implicit label saying "1" → is; otherwise the user's declaration → possibly;
/// otherwise a label that is present but invalid, or the platform's own detection → suspected.
/// An existing "2" or "3" label is carried over.
pub fn platform_display(values: &[String], user_declared: bool, detected: bool) -> Display {
    let parsed: Vec<AigcLabel> = values
        .iter()
        .filter_map(|value| AigcLabel::parse(value).ok())
        .collect();
    let show = |generated: Generated, reason: String| Display {
        generated: Some(generated),
        notice: Some(generated.notice()),
        reason,
    };
    if let Some(generated) = parsed
        .iter()
        .filter_map(AigcLabel::generated)
        .min_by_key(|g| g.code())
    {
        return show(
            generated,
            format!(
                "the file's implicit label says Label=\"{}\"",
                generated.code()
            ),
        );
    }
    if user_declared {
        return show(
            Generated::Possibly,
            "the uploader declared the content AI-generated".into(),
        );
    }
    if !values.is_empty() {
        return show(
            Generated::Suspected,
            "the file carries an AIGC label that does not conform to Annex E".into(),
        );
    }
    if detected {
        return show(
            Generated::Suspected,
            "the platform's own detection found traces of AI generation".into(),
        );
    }
    Display {
        generated: None,
        notice: None,
        reason: "no label, declaration or detection: no notice required".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(generated: Generated) -> String {
        AigcLabel::new(generated, "P", "1").unwrap().to_json()
    }

    #[test]
    fn a_single_valid_label_conforms() {
        let report = report("a.png", Format::Png, &[value(Generated::Is)]);
        assert!(report.conformant, "{report:?}");
        let rules: Vec<&str> = report.checks.iter().map(|c| c.rule).collect();
        assert_eq!(
            rules,
            vec![
                "present",
                "one_label",
                "json",
                "keys",
                "values",
                "label",
                "charset",
                "producer",
                "propagator"
            ]
        );
    }

    #[test]
    fn missing_and_duplicate_labels_fail_by_name() {
        let failing = |values: &[String]| -> Vec<&'static str> {
            report("f", Format::Wav, values)
                .checks
                .into_iter()
                .filter(|c| !c.passed)
                .map(|c| c.rule)
                .collect()
        };
        assert_eq!(failing(&[]), vec!["present", "one_label"]);
        assert_eq!(
            failing(&[value(Generated::Is), value(Generated::Is)]),
            vec!["one_label"]
        );
        assert_eq!(
            failing(&["{\"Label\":1}".to_owned()]),
            vec!["keys", "values", "producer"]
        );
    }

    #[test]
    fn platform_duty_follows_article_6() {
        let is = platform_display(&[value(Generated::Is)], false, false);
        assert_eq!(is.generated, Some(Generated::Is));
        assert_eq!(
            platform_display(&[], true, true).generated,
            Some(Generated::Possibly)
        );
        assert_eq!(
            platform_display(&[], false, true).generated,
            Some(Generated::Suspected)
        );
        assert_eq!(
            platform_display(&["junk".into()], false, false).generated,
            Some(Generated::Suspected)
        );
        assert_eq!(
            platform_display(&[value(Generated::Suspected)], true, false).generated,
            Some(Generated::Suspected)
        );
        let none = platform_display(&[], false, false);
        assert_eq!((none.generated, none.notice), (None, None));
    }
}
