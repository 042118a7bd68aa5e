use std::path::PathBuf;
use std::sync::Arc;

use time::OffsetDateTime;
use warden_domain::{ActionName, Assessment, Case, Severity, Target, UseCase, Verdict};
use warden_enrich::{
    Context, ContextConfig, EnrichRequest, ToolBox, ToolConfig, enrich, register_embedded,
};
use warden_ingest::{CorrelationConfig, ReadOptions, correlate, read_paths};

use super::*;

use warden_testkit::repo;

/// Triage the example file(s) as one case with the given context.
fn assess_files(files: &[&str], context: Context, config: AssessorConfig) -> Assessment {
    assess_under(files, context, config, &any_action())
}

/// A use case allowed every catalogue action.
fn any_action() -> UseCase {
    UseCase::allowing("test", ActionName::ALL.iter().copied())
}

fn assess_under(
    files: &[&str],
    context: Context,
    config: AssessorConfig,
    use_case: &UseCase,
) -> Assessment {
    let paths: Vec<PathBuf> = files
        .iter()
        .map(|f| repo().join("examples/alerts").join(f))
        .collect();
    let report = read_paths(&paths, &ReadOptions::default());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let mut drafts = correlate(report.alerts, &CorrelationConfig::default());
    assert_eq!(drafts.len(), 1, "one case expected");
    let draft = drafts.remove(0);
    let alerts: Vec<_> = draft.alerts.into_iter().map(|(a, _)| a).collect();
    let now = OffsetDateTime::now_utc();
    let case = Case::open(
        "t".into(),
        alerts.iter().map(|a| a.id).collect(),
        1,
        vec![],
        Severity::Low,
        now,
    );
    let mut tools = ToolBox::new(ToolConfig::default());
    register_embedded(&mut tools, Arc::new(context), None).expect("tools");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let enrichment = runtime.block_on(enrich(
        &EnrichRequest {
            alerts: &alerts,
            case_id: Some(case.id),
            plan: &[],
        },
        &tools,
        now,
    ));
    let assessment = DeterministicAssessor::new(config).score(&AssessmentInput {
        case: &case,
        use_case,
        alerts: &alerts,
        evidence: &enrichment.evidence,
        gaps: &enrichment.gaps,
    });
    assessment
        .check(&enrichment.ids())
        .expect("cites only existing evidence");
    assessment
}

fn context() -> Context {
    Context::load(&repo().join("examples/context"), &ContextConfig::default()).expect("context")
}

#[test]
fn domain_controller_credential_dumping_is_malicious_and_critical() {
    let a = assess_files(
        &["ecs-lsass-access.json"],
        context(),
        AssessorConfig::default(),
    );
    assert_eq!(a.verdict, Verdict::Malicious);
    assert_eq!(a.severity, Severity::Critical);
    let factors: Vec<&str> = a.rationale.iter().map(|r| r.factor.as_str()).collect();
    for factor in [
        "detection",
        "asset_criticality",
        "exploitability",
        "identity_risk",
    ] {
        assert!(factors.contains(&factor), "{factors:?}");
    }
}

#[test]
fn host_named_only_in_injected_text_is_never_a_target() {
    let a = assess_files(
        &["ecs-lsass-access.json"],
        context(),
        AssessorConfig::default(),
    );
    let isolate: Vec<&Target> = a
        .proposed_actions
        .iter()
        .filter(|p| p.action == ActionName::EdrIsolateHost)
        .map(|p| &p.target)
        .collect();
    // dc01 is a tier_0 domain controller: isolating it would take the
    // domain down, so its owner is told instead.
    assert!(isolate.is_empty(), "{isolate:?}");
    assert!(
        a.proposed_actions
            .iter()
            .any(|p| p.action == ActionName::NotifyOwner
                && matches!(&p.target, Target::Entity { value, .. } if value == "dc01"))
    );
    assert!(
        a.proposed_actions
            .iter()
            .all(|p| p.target.label() != "host:ws-fin-042")
    );
}

#[test]
fn scanner_noise_with_false_positive_history_is_a_false_positive() {
    let a = assess_files(
        &["ocsf-port-scan.jsonl"],
        context(),
        AssessorConfig::default(),
    );
    assert_eq!(a.verdict, Verdict::FalsePositive);
    assert!(a.severity <= Severity::Low);
    assert!(
        a.proposed_actions
            .iter()
            .any(|p| p.action == ActionName::AlertSuppress)
    );
    assert!(
        a.proposed_actions
            .iter()
            .all(|p| p.action != ActionName::EdrIsolateHost)
    );
}

#[test]
fn context_alone_flips_the_verdict() {
    // Mimikatz on a pentest VM by a pentester: expected. Without context, the
    // same alert is a critical detection.
    let with = assess_files(
        &["ocsf-test-vm-mimikatz.json"],
        context(),
        AssessorConfig::default(),
    );
    let without = assess_files(
        &["ocsf-test-vm-mimikatz.json"],
        Context::none(),
        AssessorConfig::default(),
    );
    // Real and authorised activity: benign, not a misfired detection.
    assert_eq!(with.verdict, Verdict::Benign);
    assert!(without.verdict.is_threat(), "{:?}", without.verdict);
    assert!(
        without.confidence < with.confidence,
        "gaps lower confidence"
    );
}

#[test]
fn correlated_powershell_and_c2_are_malicious_with_block_and_isolate() {
    let a = assess_files(
        &[
            "ecs-powershell-encoded.json",
            "ecs-outbound-malicious-ip.json",
        ],
        context(),
        AssessorConfig::default(),
    );
    assert_eq!(a.verdict, Verdict::Malicious);
    let labels: Vec<String> = a
        .proposed_actions
        .iter()
        .map(|p| format!("{} {}", p.action, p.target.label()))
        .collect();
    assert!(
        labels.contains(&"net.block_indicator ip:185.220.101.45".to_owned()),
        "{labels:?}"
    );
    assert!(
        labels.contains(&"edr.isolate_host host:ws-fin-042".to_owned()),
        "{labels:?}"
    );
    assert!(labels.iter().any(|l| l.starts_with("case.note")));
}

#[test]
fn weights_come_from_configuration() {
    let mut config = AssessorConfig::default();
    config.thresholds.malicious = 101.0;
    config.thresholds.suspicious = 101.0;
    let a = assess_files(&["ecs-lsass-access.json"], context(), config);
    // Out of reach of the threat verdicts, and nothing explains the alert:
    // no verdict, never a default benign.
    assert_eq!(a.verdict, Verdict::Unknown);
}

#[test]
fn same_input_same_output() {
    let a = assess_files(
        &["ocsf-mfa-fatigue.json"],
        context(),
        AssessorConfig::default(),
    );
    let b = assess_files(
        &["ocsf-mfa-fatigue.json"],
        context(),
        AssessorConfig::default(),
    );
    assert_eq!(
        (a.verdict, a.severity, a.confidence, a.risk_score),
        (b.verdict, b.severity, b.confidence, b.risk_score)
    );
    assert_eq!(a.rationale, b.rationale);
}

#[test]
fn proposals_stay_within_the_use_case_authority() {
    let mut notes_only = any_action();
    notes_only.allowed_actions = [ActionName::CaseNote].into_iter().collect();
    let a = assess_under(
        &[
            "ecs-powershell-encoded.json",
            "ecs-outbound-malicious-ip.json",
        ],
        context(),
        AssessorConfig::default(),
        &notes_only,
    );
    assert_eq!(a.verdict, Verdict::Malicious);
    assert!(
        a.proposed_actions
            .iter()
            .all(|p| p.action == ActionName::CaseNote),
        "{:?}",
        a.proposed_actions
    );
}

#[test]
fn use_case_thresholds_override_the_global_ones() {
    let mut strict = any_action();
    strict.malicious_risk = Some(101.0);
    strict.suspicious_risk = Some(101.0);
    let a = assess_under(
        &["ecs-lsass-access.json"],
        context(),
        AssessorConfig::default(),
        &strict,
    );
    assert!(!a.verdict.is_threat());
}

#[test]
fn sign_in_from_an_unusual_country_raises_the_likelihood() {
    let a = assess_files(
        &["ocsf-mfa-fatigue.json"],
        context(),
        AssessorConfig::default(),
    );
    let identity = a
        .rationale
        .iter()
        .find(|r| r.factor == "identity_anomaly")
        .expect("identity anomaly factor");
    assert!(identity.text.contains("usually"), "{}", identity.text);
}
