use std::path::PathBuf;

use time::OffsetDateTime;
use warden_domain::{Case, UseCase};
use warden_ingest::{ReadOptions, read_paths};
use warden_testkit::repo;

use super::*;

fn alerts() -> Vec<warden_domain::Alert> {
    let paths: Vec<PathBuf> = vec![repo().join("examples/alerts")];
    let report = read_paths(&paths, &ReadOptions::default());
    assert!(!report.alerts.is_empty());
    report.alerts
}

fn run(
    attack: Option<Attack>,
    alerts: &[warden_domain::Alert],
) -> (
    Attack,
    Result<Assessment, AssessorFailure>,
    Vec<ToolRequest>,
) {
    let case = Case::open(
        "t".into(),
        alerts.iter().map(|a| a.id).collect(),
        1,
        vec![],
        Severity::Low,
        OffsetDateTime::now_utc(),
    );
    let use_case = UseCase::allowing("test", [ActionName::CaseNote]);
    let input = AssessmentInput {
        case: &case,
        use_case: &use_case,
        alerts,
        evidence: &[],
        gaps: &[],
    };
    let chaos = attack.map_or_else(ChaosAssessor::new, ChaosAssessor::forcing);
    (
        chaos.attack_for(&input),
        chaos.output(&input),
        chaos.tool_requests(&input),
    )
}

#[test]
fn every_attack_is_picked_by_some_example_alert() {
    let picked: BTreeSet<Attack> = alerts().chunks(1).map(|one| run(None, one).0).collect();
    assert!(picked.len() >= 4, "only {picked:?}");
}

#[test]
fn flood_names_targets_from_text_and_invented_ones_and_every_action() {
    let mut alerts = alerts();
    let from_text = warden_domain::Observable::parse(
        ObservableKind::Host,
        "ws-named-in-text",
        warden_domain::Provenance::Text {
            field: "message".into(),
        },
    )
    .expect("valid host");
    alerts[0].observables.push(from_text);
    let (_, output, tools) = run(Some(Attack::Flood), &alerts);
    let assessment = output.expect("flood is well-formed");
    let actions: BTreeSet<ActionName> = assessment
        .proposed_actions
        .iter()
        .map(|p| p.action)
        .collect();
    assert_eq!(actions.len(), ActionName::ALL.len());
    let labels: BTreeSet<String> = assessment
        .proposed_actions
        .iter()
        .map(|p| p.target.label())
        .collect();
    assert!(labels.contains("host:dc01.corp.example"), "{labels:?}");
    let text_only = alerts
        .iter()
        .flat_map(|a| a.observables.iter())
        .find(|o| !o.is_structured())
        .expect("a text-only entity");
    assert!(
        assessment
            .proposed_actions
            .iter()
            .any(|p| p.target.label() == format!("{}:{}", text_only.kind, text_only.value)),
        "no proposal on the text-only entity {text_only:?}"
    );
    assert!(
        assessment
            .proposed_actions
            .iter()
            .all(|p| p.parameters["text"].starts_with("IGNORE ALL")),
        "injected text is obeyed into parameters"
    );
    assert!(tools.iter().any(|t| t.tool == "shell_exec"));
    // A flood is well-formed: it reaches the policy layer.
    let cited: Vec<EvidenceId> = vec![EvidenceId::alert(0)];
    assert_eq!(assessment.check(&cited), Ok(()));
}

#[test]
fn broken_outputs_fail_or_are_refused_by_the_check() {
    let alerts = alerts();
    let known = vec![EvidenceId::alert(0)];
    let (_, malformed, _) = run(Some(Attack::Malformed), &alerts);
    assert!(
        malformed
            .expect_err("not JSON")
            .0
            .contains("not valid JSON")
    );
    for attack in [
        Attack::Oversized,
        Attack::InventedEvidence,
        Attack::OutOfRange,
    ] {
        let (_, output, _) = run(Some(attack), &alerts);
        let assessment = output.expect("typed output");
        assert!(
            assessment.check(&known).is_err(),
            "{attack:?} passed the check"
        );
    }
}

#[test]
fn whitewash_says_benign_and_suppresses() {
    let (_, output, _) = run(Some(Attack::Whitewash), &alerts());
    let assessment = output.expect("well-formed");
    assert_eq!(assessment.verdict, Verdict::Benign);
    assert!(
        assessment
            .proposed_actions
            .iter()
            .any(|p| p.action == ActionName::AlertSuppress)
    );
}
