//! Every assessor that ran can stop a closure: failed, unknown, unsure or
//! steered, each named.

use warden_domain::{
    ActionName, Assessment, EvidenceId, RationaleItem, Severity, UseCase, Verdict,
};

use super::super::{EscalationConfig, EscalationInput, FailedAssessor, escalation_triggers};
use crate::escalation::Trigger;

fn view(assessor: &str, verdict: Verdict, confidence: f64) -> Assessment {
    Assessment {
        assessor: assessor.into(),
        verdict,
        severity: Severity::Low,
        confidence,
        risk_score: 10.0,
        rationale: vec![RationaleItem {
            factor: "detection".into(),
            text: "one alert".into(),
            weight: 0.0,
            evidence: vec![EvidenceId::alert(1)],
        }],
        proposed_actions: vec![],
    }
}

fn with_factor(mut assessment: Assessment, factor: &str) -> Assessment {
    assessment.rationale.push(RationaleItem {
        factor: factor.into(),
        text: "the alert's description addresses the analyst model".into(),
        weight: 0.0,
        evidence: vec![EvidenceId::alert(1)],
    });
    assessment
}

fn use_case() -> UseCase {
    UseCase::allowing("test", ActionName::ALL.iter().copied())
}

fn fired(
    lead: &Assessment,
    others: &[Assessment],
    failed: &[FailedAssessor],
    use_case: &UseCase,
) -> Vec<Trigger> {
    escalation_triggers(
        &EscalationInput {
            use_case,
            assessment: lead,
            second_opinions: others,
            failed,
            alerts: &[],
            evidence: &[],
            gaps: &[],
            decisions: &[],
        },
        &EscalationConfig::default(),
    )
}

fn codes(triggers: &[Trigger]) -> Vec<&'static str> {
    triggers.iter().map(|t| t.code).collect()
}

/// The one trigger of `code`, whose reason must name `assessor`.
fn named(triggers: &[Trigger], code: &str, assessor: &str) {
    assert!(
        triggers
            .iter()
            .any(|t| t.code == code && t.reason.starts_with(assessor)),
        "expected {code} naming {assessor} in {triggers:?}"
    );
}

#[test]
fn every_assessor_agreeing_confidently_on_no_threat_fires_nothing() {
    let lead = view("llm", Verdict::Benign, 0.95);
    let others = [
        view("deterministic", Verdict::FalsePositive, 0.8),
        view("llm-second", Verdict::Benign, 0.9),
    ];
    assert!(fired(&lead, &others, &[], &use_case()).is_empty());
}

#[test]
fn unknown_from_any_assessor_is_no_verdict() {
    // The leading model.
    let lead = view("llm", Verdict::Unknown, 0.9);
    let baseline = [view("deterministic", Verdict::Benign, 0.9)];
    let triggers = fired(&lead, &baseline, &[], &use_case());
    assert_eq!(codes(&triggers), vec!["no_verdict"]);
    named(&triggers, "no_verdict", "llm");
    // The baseline beside a confident model.
    let lead = view("llm", Verdict::Benign, 0.99);
    let baseline = [view("deterministic", Verdict::Unknown, 0.9)];
    let triggers = fired(&lead, &baseline, &[], &use_case());
    assert_eq!(codes(&triggers), vec!["no_verdict"]);
    named(&triggers, "no_verdict", "deterministic");
    // The deterministic assessor alone.
    let alone = view("deterministic", Verdict::Unknown, 0.9);
    assert_eq!(
        codes(&fired(&alone, &[], &[], &use_case())),
        vec!["no_verdict"]
    );
}

#[test]
fn a_failed_assessor_is_named_once_as_failed() {
    let lead = view("llm", Verdict::Benign, 0.99);
    // What the pipeline puts in place of the failed run's answer.
    let placeholder = view("llm-second", Verdict::Unknown, 0.0);
    let others = [view("deterministic", Verdict::Benign, 0.9), placeholder];
    let failed = [FailedAssessor {
        assessor: "llm-second".into(),
        reason: "model call failed: HTTP 500".into(),
    }];
    let triggers = fired(&lead, &others, &failed, &use_case());
    assert_eq!(codes(&triggers), vec!["assessor_failed"], "{triggers:?}");
    named(&triggers, "assessor_failed", "llm-second");
    assert!(triggers[0].reason.contains("HTTP 500"));
    // The same placeholder without the failure on record is only a view
    // without a verdict, and at zero confidence.
    let triggers = fired(&lead, &others, &[], &use_case());
    assert_eq!(codes(&triggers), vec!["no_verdict", "low_confidence"]);
}

#[test]
fn a_further_assessor_below_its_threshold_is_low_confidence_by_name() {
    let lead = view("llm", Verdict::Benign, 0.99);
    let baseline = [view("deterministic", Verdict::Benign, 0.55)];
    let triggers = fired(&lead, &baseline, &[], &use_case());
    assert_eq!(codes(&triggers), vec!["low_confidence"]);
    named(&triggers, "low_confidence", "deterministic");
    assert!(triggers[0].reason.contains("0.55"), "{triggers:?}");
    // The use case's threshold is each assessor's threshold.
    let mut strict = use_case();
    strict.min_confidence = Some(0.95);
    let baseline = [view("deterministic", Verdict::Benign, 0.9)];
    let triggers = fired(&lead, &baseline, &[], &strict);
    named(&triggers, "low_confidence", "deterministic");
    assert!(triggers[0].reason.contains("0.95"), "{triggers:?}");
}

#[test]
fn a_rationale_reporting_injection_is_suspected_injection() {
    let baseline = [view("deterministic", Verdict::Benign, 0.9)];
    for factor in ["injection", "prompt_injection", "Injection"] {
        let lead = with_factor(view("llm", Verdict::Benign, 0.99), factor);
        let triggers = fired(&lead, &baseline, &[], &use_case());
        assert_eq!(codes(&triggers), vec!["suspected_injection"], "{factor}");
        named(&triggers, "suspected_injection", "llm");
        // The reason carries none of the model's text.
        assert!(!triggers[0].reason.contains("addresses"));
    }
    // From a further model too.
    let lead = view("llm", Verdict::Benign, 0.99);
    let others = [with_factor(
        view("llm-second", Verdict::Benign, 0.9),
        "injection",
    )];
    named(
        &fired(&lead, &others, &[], &use_case()),
        "suspected_injection",
        "llm-second",
    );
}
