use std::collections::BTreeMap;

use warden_domain::{ActionProposal, CaseId, Severity, Verdict};

use super::*;

fn case_facts() -> CaseFacts {
    CaseFacts {
        use_case: "default".into(),
        autonomy: "assisted".into(),
        severity: Severity::High,
        confidence: 0.9,
        verdict: Verdict::Malicious,
        evidence_gaps: 0,
        stale_evidence: 0,
        allowed_actions: ActionName::ALL.iter().copied().collect(),
        identity_types: Default::default(),
        privileged_identity: false,
    }
}

fn target_facts() -> TargetFacts {
    TargetFacts {
        asset_criticality: "tier_2".into(),
        asset_environment: "test".into(),
        asset_tags: Default::default(),
        identity_type: "unknown".into(),
        identity_privileged: false,
        in_case: true,
    }
}

fn proposal(action: ActionName, target: Option<(ObservableKind, &str)>) -> ActionProposal {
    let case_id = CaseId::new();
    ActionProposal {
        case_id,
        action,
        target: match target {
            Some((kind, value)) => Target::Entity {
                kind,
                value: value.into(),
            },
            None => Target::case(case_id),
        },
        parameters: BTreeMap::new(),
        proposed_by: "test".into(),
        evidence: vec![],
    }
}

fn decide(engine: &PolicyEngine, p: &ActionProposal, approvals: &ApprovalTally) -> Decision {
    engine.decide("default", p, &case_facts(), &target_facts(), approvals)
}

#[test]
fn default_set_permits_notes_and_denies_every_other_action() {
    let engine = PolicyEngine::default_set().expect("default set loads");
    let note = decide(
        &engine,
        &proposal(ActionName::CaseNote, None),
        &ApprovalTally::default(),
    );
    assert_eq!(note.outcome, DecisionOutcome::Allow);
    assert_eq!(note.policy_ids, vec!["default.case-note".to_owned()]);
    for &action in ActionName::ALL
        .iter()
        .filter(|a| **a != ActionName::CaseNote)
    {
        let target = action.target_kinds().first().map(|kind| (*kind, "x-1"));
        let decision = decide(
            &engine,
            &proposal(action, target),
            &ApprovalTally::default(),
        );
        assert_eq!(decision.outcome, DecisionOutcome::Deny, "{action}");
        assert!(decision.policy_ids.is_empty());
        assert!(
            decision.reasons[0].contains("default deny"),
            "{:?}",
            decision.reasons
        );
    }
}

#[test]
fn an_erroring_forbid_still_denies() {
    // The forbid overflows at evaluation time; Cedar skips it and would
    // answer Allow from the permit. Warden must deny.
    let policies = r#"
        @id("allow-isolate")
        permit (principal, action == Warden::Action::"edr.isolate_host", resource);
        @id("broken-forbid")
        forbid (principal, action == Warden::Action::"edr.isolate_host", resource)
        when { context.severity * 9223372036854775807 > 0 };
    "#;
    let engine = PolicyEngine::load(crate::DEFAULT_SCHEMA, policies).expect("validates");
    let p = proposal(
        ActionName::EdrIsolateHost,
        Some((ObservableKind::Host, "ws-1")),
    );
    let decision = decide(&engine, &p, &ApprovalTally::default());
    assert_eq!(decision.outcome, DecisionOutcome::Deny);
    assert!(
        decision
            .reasons
            .iter()
            .any(|r| r.contains("evaluation error")),
        "{:?}",
        decision.reasons
    );
}

#[test]
fn forbid_wins_over_permit() {
    let policies = r#"
        @id("allow-isolate")
        permit (principal, action == Warden::Action::"edr.isolate_host", resource);
        @id("no-service-accounts")
        forbid (principal, action, resource) when { context.asset_environment == "test" };
    "#;
    let engine = PolicyEngine::load(crate::DEFAULT_SCHEMA, policies).expect("validates");
    let p = proposal(
        ActionName::EdrIsolateHost,
        Some((ObservableKind::Host, "ws-1")),
    );
    let decision = decide(&engine, &p, &ApprovalTally::default());
    assert_eq!(decision.outcome, DecisionOutcome::Deny);
    assert_eq!(decision.policy_ids, vec!["no-service-accounts".to_owned()]);
}

#[test]
fn approval_annotations_give_needs_approval_until_satisfied() {
    let policies = r#"
        @id("isolate-with-lead")
        @approvals("1")
        @approver_roles("soc_lead,incident_commander")
        permit (principal, action == Warden::Action::"edr.isolate_host", resource)
        when { context.severity >= 3 };
    "#;
    let engine = PolicyEngine::load(crate::DEFAULT_SCHEMA, policies).expect("validates");
    let p = proposal(
        ActionName::EdrIsolateHost,
        Some((ObservableKind::Host, "ws-1")),
    );
    let waiting = decide(&engine, &p, &ApprovalTally::default());
    assert_eq!(
        waiting.outcome,
        DecisionOutcome::NeedsApproval {
            approvals: 1,
            roles: vec!["incident_commander".into(), "soc_lead".into()]
        }
    );
    let wrong_role = ApprovalTally {
        count: 1,
        roles: ["analyst".to_owned()].into(),
    };
    assert!(matches!(
        decide(&engine, &p, &wrong_role).outcome,
        DecisionOutcome::NeedsApproval { .. }
    ));
    let approved = ApprovalTally {
        count: 1,
        roles: ["soc_lead".to_owned()].into(),
    };
    assert_eq!(
        decide(&engine, &p, &approved).outcome,
        DecisionOutcome::Allow
    );
}

#[test]
fn only_valid_policy_sets_load() {
    let unknown_attribute =
        r#"@id("x") permit (principal, action, resource) when { context.no_such_field == 1 };"#;
    assert!(matches!(
        PolicyEngine::load(crate::DEFAULT_SCHEMA, unknown_attribute),
        Err(PolicyLoadError::Invalid(_))
    ));
    let no_id = r#"permit (principal, action == Warden::Action::"case.note", resource);"#;
    assert!(matches!(
        PolicyEngine::load(crate::DEFAULT_SCHEMA, no_id),
        Err(PolicyLoadError::MissingId(_))
    ));
    let dup = r#"@id("a") permit (principal, action == Warden::Action::"case.note", resource);
                 @id("a") permit (principal, action == Warden::Action::"ticket.create", resource);"#;
    assert!(matches!(
        PolicyEngine::load(crate::DEFAULT_SCHEMA, dup),
        Err(PolicyLoadError::DuplicateId(_))
    ));
    let bad_count = r#"@id("a") @approvals("many") permit (principal, action == Warden::Action::"case.note", resource);"#;
    assert!(matches!(
        PolicyEngine::load(crate::DEFAULT_SCHEMA, bad_count),
        Err(PolicyLoadError::Annotation { .. })
    ));
    assert!(matches!(
        PolicyEngine::load("not a schema {", ""),
        Err(PolicyLoadError::Schema(_))
    ));
}

#[test]
fn a_target_the_action_cannot_take_is_denied_before_cedar() {
    let engine = PolicyEngine::default_set().expect("loads");
    let p = proposal(ActionName::CaseNote, Some((ObservableKind::Host, "ws-1")));
    let decision = decide(&engine, &p, &ApprovalTally::default());
    assert_eq!(decision.outcome, DecisionOutcome::Deny);
    assert!(decision.reasons[0].contains("cannot act on"));
}

#[test]
fn an_agent_cannot_act_outside_its_playbook_even_when_a_policy_permits() {
    let engine = PolicyEngine::load(
        crate::DEFAULT_SCHEMA,
        r#"
@id("ops.isolate")
permit (principal, action == Warden::Action::"edr.isolate_host", resource);
"#,
    )
    .expect("valid");
    let isolate = proposal(
        ActionName::EdrIsolateHost,
        Some((ObservableKind::Host, "ws-1")),
    );
    let inside = engine.decide(
        "endpoint",
        &isolate,
        &case_facts(),
        &target_facts(),
        &ApprovalTally::default(),
    );
    assert_eq!(inside.outcome, DecisionOutcome::Allow, "{inside:?}");
    let mut narrow = case_facts();
    narrow.allowed_actions = [ActionName::CaseNote].into_iter().collect();
    let outside = engine.decide(
        "endpoint",
        &isolate,
        &narrow,
        &target_facts(),
        &ApprovalTally::default(),
    );
    assert_eq!(outside.outcome, DecisionOutcome::Deny);
    assert!(
        outside
            .policy_ids
            .iter()
            .any(|id| id == "warden.playbook-authority"),
        "{outside:?}"
    );
}
