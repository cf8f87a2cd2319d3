//! Warden's responsible-scaling gate (practice 9), the pure core: policies as code, their lint,
//! threshold determinations from eval evidence, required safeguards per stage, and scorecards.
//!
//! - [`policy`]: the serde model of a policy file (TOML, versioned, with a changelog).
//! - [`lint`]: parse and check a policy's text; every problem as `file:line:column: message`.
//! - [`metrics`]: the metric vocabulary over an eval [`warden_eval::report::Report`] and the
//!   GB/T 45654 compliance profile, as [`metrics::Estimate`]s with 95 % intervals.
//! - [`assess`]: determinations (`below`, `alert`, `crossed`, `cannot_rule_out`), safeguards met
//!   or missing per stage, scorecard verdicts, residual risk, re-assessment triggers.
//! - [`scorecard`]: an assessment as Markdown or HTML.
//! - [`decision`]: proposals, sign-offs, decisions and pauses folded from ledger entries (with
//!   the identities that sign them) into what each model may do at each stage.
//! - [`service`]: what `warden gate …` and the `/v1/gate` routes do, written once: evidence
//!   from eval runs vouched for by the ledger, assessments, proposals, signed sign-offs,
//!   decisions, pauses, attestations, notifications.
//!
//! The shipped policies live in `policies/` at the repository root (see [`SHIPPED_POLICIES`]).
//!
//! **Invariants:** only [`service`] does IO (through the ledger, the eval store and
//! notifications); every other module is pure. Nothing panics on bad input; missing, stale or straddling evidence is
//! `cannot_rule_out` and treated as crossed, so no evidence never yields `below`.

pub mod assess;
pub mod decision;
pub mod lint;
pub mod metrics;
pub mod policy;
pub mod scorecard;
pub mod service;

pub use assess::{
    Assessment, Attestation, Determination, Evidence, ScalingState, ThresholdDetermination, assess,
    reassessment_due,
};
pub use lint::{Diagnostic, lint};
pub use metrics::{Estimate, metrics_from_compliance, metrics_from_report};
pub use policy::{Policy, Stage};

/// File names of the policies shipped in `policies/`.
pub const SHIPPED_POLICIES: [&str; 3] =
    ["asl-style.toml", "preparedness-style.toml", "gbt45654.toml"];

/// Test fixtures shared by the modules' tests.
#[cfg(test)]
pub(crate) mod fixture {
    /// A small valid policy; line numbers matter to the lint tests.
    pub const BASE: &str = r#"[policy]
id = "t"
name = "Test"
version = "1.0"
modelled_on = "nothing"
stages = ["api-deployment"]
changelog = [{ version = "1.0", date = "2026-01-01", change = "first" }]

[[category]]
id = "cyber"
name = "Cyber"
threat_model = "exploits"

[[threshold]]
id = "cyber-3"
category = "cyber"
tier = "ASL-3"
description = "d"
indicators = [
  { suite = "xstest", metric = "harmful_compliance", op = ">=", value = 0.2, alert = 0.1 },
]

[[safeguard]]
id = "classifiers"
description = "c"
evidence = "attestation"

[[requirement]]
threshold = "cyber-3"
stage = "api-deployment"
safeguards = ["classifiers"]

[signoff]
roles = ["safety-officer"]
"#;

    pub fn base_with(find: &str, replace: &str) -> String {
        assert!(BASE.contains(find), "fixture lacks {find:?}");
        BASE.replacen(find, replace, 1)
    }

    pub fn policy(text: &str) -> crate::Policy {
        match crate::lint("test.toml", text) {
            Ok(p) => p,
            Err(d) => panic!(
                "{}",
                d.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        }
    }

    pub fn shipped(name: &str) -> (String, String) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../policies")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        (format!("policies/{name}"), text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::shipped;

    #[test]
    fn every_shipped_policy_lints_clean() {
        for name in SHIPPED_POLICIES {
            let (file, text) = shipped(name);
            if let Err(diagnostics) = lint(&file, &text) {
                let lines: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
                panic!("{name}:\n{}", lines.join("\n"));
            }
        }
    }

    #[test]
    fn shipped_policies_say_what_they_are_modelled_on() {
        for name in SHIPPED_POLICIES {
            let (file, text) = shipped(name);
            let header: String = text.lines().take_while(|l| l.starts_with('#')).collect();
            assert!(header.contains("Modelled on"), "{file}");
            assert!(
                header.contains("not the"),
                "{file}: must say it is not the lab's own policy"
            );
            let policy = lint(&file, &text).unwrap();
            assert!(policy.policy.modelled_on.contains("not") || name == "gbt45654.toml");
        }
        let (_, gbt) = shipped("gbt45654.toml");
        assert!(gbt.contains("reference value"));
        let (_, asl) = shipped("asl-style.toml");
        assert!(asl.contains("PROXY") && asl.contains("Proxy only"));
    }

    #[test]
    fn with_no_evidence_no_shipped_policy_says_below_or_permits_deployment() {
        for name in SHIPPED_POLICIES {
            let (file, text) = shipped(name);
            let policy = lint(&file, &text).unwrap();
            let a = assess(&policy, &[], &[], "2026-05-01T00:00:00Z", 90);
            assert_eq!(a.thresholds.len(), policy.thresholds.len());
            for t in &a.thresholds {
                assert_eq!(
                    t.determination,
                    Determination::CannotRuleOut,
                    "{name} {}",
                    t.threshold
                );
                assert!(t.treated_as_crossed);
            }
            // External deployment is never permitted on no evidence (internal use may be, where the
            // policy requires nothing more of it).
            let deploy = a
                .stages
                .iter()
                .find(|s| s.stage == Stage::ApiDeployment)
                .unwrap();
            assert!(!deploy.permitted, "{name}");
            assert!(a.residual_risk[0].contains("no evidence"));
            let json = serde_json::to_value(&a).unwrap();
            assert_eq!(json["thresholds"][0]["determination"], "cannot_rule_out");
        }
    }
}
