use std::collections::BTreeMap;

use warden_domain::evidence::EvidenceKind;
use warden_domain::{ActionProposal, CaseId, Evidence, EvidenceId, Freshness, Severity, Verdict};

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
        identity_types: BTreeSet::new(),
        privileged_identity: false,
        assessors_agree: true,
    }
}

fn target_facts() -> TargetFacts {
    TargetFacts {
        asset_criticality: "tier_2".into(),
        asset_environment: "test".into(),
        asset_tags: Default::default(),
        identity_type: "unknown".into(),
        identity_privileged: false,
        identity_tags: Default::default(),
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

/// A proposal of `action` on the first kind of target it takes.
fn proposal_of(action: ActionName) -> ActionProposal {
    proposal(
        action,
        action.target_kinds().first().map(|kind| (*kind, "x-1")),
    )
}

fn decide(engine: &PolicyEngine, p: &ActionProposal, approvals: &ApprovalTally) -> Decision {
    engine.decide("default", p, &case_facts(), &target_facts(), approvals)
}

fn tally(count: u32, roles: &[&str]) -> ApprovalTally {
    ApprovalTally {
        count,
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
    }
}

fn roles(names: &[&str]) -> Vec<String> {
    names.iter().map(|r| (*r).to_owned()).collect()
}

fn needs(approvals: u32, names: &[&str]) -> DecisionOutcome {
    DecisionOutcome::NeedsApproval {
        approvals,
        roles: roles(names),
    }
}

const RESPONDERS: &[&str] = &["analyst", "incident_commander", "soc_lead"];
const LEADS: &[&str] = &["incident_commander", "soc_lead"];

#[test]
fn the_shipped_set_loads_with_its_files_in_order_and_the_guards_last() {
    let engine = PolicyEngine::default_set().expect("default set loads");
    let info = engine.policies();
    assert!(info.len() > 30, "{}", info.len());
    assert_eq!(
        info.first().map(|p| p.id.as_str()),
        Some("default.case-note")
    );
    let guards: Vec<&str> = info
        .iter()
        .filter(|p| p.built_in)
        .map(|p| p.id.as_str())
        .collect();
    for guard in ["warden.playbook-authority", "warden.target-in-case"] {
        assert!(guards.contains(&guard), "{guards:?}");
    }
    assert!(info.iter().rev().take(guards.len()).all(|p| p.built_in));
    // Every shipped policy says what it is for.
    for policy in info {
        assert!(
            policy.description.is_some(),
            "{} has no @description",
            policy.id
        );
    }
    // The files concatenate to the set's text.
    let joined: String = crate::DEFAULT_POLICY_FILES
        .iter()
        .map(|(_, text)| format!("{text}\n"))
        .collect();
    assert_eq!(joined, crate::DEFAULT_POLICIES);
    let isolate = engine.policy("isolate-endpoint.permit").expect("isolate");
    assert_eq!(isolate.approvals, 1);
    assert_eq!(isolate.approver_roles, roles(LEADS));
}

#[test]
fn default_set_has_a_policy_for_every_catalogue_action() {
    // Under the friendliest facts (an autonomous, confident, critical case
    // on a test asset), every action is decided by some policy under one
    // of the two verdict families: nothing is left to the default deny.
    let engine = PolicyEngine::default_set().expect("default set loads");
    for &action in ActionName::ALL {
        let decided = [Verdict::Malicious, Verdict::Benign]
            .into_iter()
            .any(|verdict| {
                let case = CaseFacts {
                    autonomy: "autonomous".into(),
                    severity: Severity::Critical,
                    confidence: 0.95,
                    verdict,
                    ..case_facts()
                };
                let decision = engine.decide(
                    "default",
                    &proposal_of(action),
                    &case,
                    &target_facts(),
                    &ApprovalTally::default(),
                );
                decision.outcome != DecisionOutcome::Deny
            });
        assert!(decided, "{action} has no shipped permit");
    }
}

#[test]
fn default_set_allows_notes_and_asks_people_for_everything_else_when_assisted() {
    let engine = PolicyEngine::default_set().expect("default set loads");
    let note = decide(
        &engine,
        &proposal(ActionName::CaseNote, None),
        &ApprovalTally::default(),
    );
    assert_eq!(note.outcome, DecisionOutcome::Allow);
    assert_eq!(note.policy_ids, vec!["default.case-note".to_owned()]);
    // A malicious, confident, high-severity case of an assisted use case:
    // nothing with a side effect runs without a person.
    for &action in ActionName::ALL.iter().filter(|a| a.has_side_effect()) {
        let decision = decide(&engine, &proposal_of(action), &ApprovalTally::default());
        assert_ne!(decision.outcome, DecisionOutcome::Allow, "{action}");
    }
    let ticket = decide(
        &engine,
        &proposal(ActionName::TicketCreate, None),
        &ApprovalTally::default(),
    );
    assert_eq!(ticket.outcome, needs(1, RESPONDERS));
    assert_eq!(
        ticket.policy_ids,
        vec!["default.ticket.approved".to_owned()]
    );
}

#[test]
fn low_risk_actions_run_alone_only_for_confident_autonomous_threats() {
    let engine = PolicyEngine::default_set().expect("loads");
    let autonomous = CaseFacts {
        autonomy: "autonomous".into(),
        ..case_facts()
    };
    let decide_with = |case: &CaseFacts, p: &ActionProposal| {
        engine.decide(
            "default",
            p,
            case,
            &target_facts(),
            &ApprovalTally::default(),
        )
    };
    let ticket = proposal(ActionName::TicketCreate, None);
    let notify = proposal(
        ActionName::NotifyOwner,
        Some((ObservableKind::Host, "ws-1")),
    );
    for p in [&ticket, &notify] {
        assert_eq!(
            decide_with(&autonomous, p).outcome,
            DecisionOutcome::Allow,
            "{p:?}"
        );
        for weaker in [
            CaseFacts {
                confidence: 0.6,
                ..autonomous.clone()
            },
            CaseFacts {
                severity: Severity::Low,
                ..autonomous.clone()
            },
            CaseFacts {
                verdict: Verdict::Benign,
                ..autonomous.clone()
            },
            CaseFacts {
                autonomy: "assisted".into(),
                ..autonomous.clone()
            },
        ] {
            assert_eq!(
                decide_with(&weaker, p).outcome,
                needs(1, RESPONDERS),
                "{weaker:?}"
            );
        }
    }
    // Telling a privileged account's owner waits for a person.
    let privileged = TargetFacts {
        identity_privileged: true,
        ..target_facts()
    };
    let owner = proposal(
        ActionName::NotifyOwner,
        Some((ObservableKind::User, "amartin")),
    );
    let decision = engine.decide(
        "default",
        &owner,
        &autonomous,
        &privileged,
        &ApprovalTally::default(),
    );
    assert_eq!(decision.outcome, needs(1, RESPONDERS));
    // Containment waits for people even when autonomous.
    let block = proposal(
        ActionName::NetBlockIndicator,
        Some((ObservableKind::Ip, "203.0.113.9")),
    );
    assert_eq!(
        decide_with(&autonomous, &block).outcome,
        needs(1, RESPONDERS)
    );
}

/// The design's example, condition by condition (`isolate-endpoint.cedar`).
#[test]
fn isolate_endpoint_table() {
    let engine = PolicyEngine::default_set().expect("loads");
    let host = proposal(
        ActionName::EdrIsolateHost,
        Some((ObservableKind::Host, "ws-1")),
    );
    let lead = tally(1, &["soc_lead"]);
    let commander = tally(1, &["incident_commander"]);
    let analyst = tally(1, &["analyst"]);
    let base_case = case_facts();
    let base_target = target_facts();
    type Row = (
        &'static str,
        CaseFacts,
        TargetFacts,
        ApprovalTally,
        DecisionOutcome,
        &'static str,
    );
    let rows: Vec<Row> = vec![
        (
            "high, staging tier_2, a lead approved",
            base_case.clone(),
            TargetFacts {
                asset_environment: "staging".into(),
                ..base_target.clone()
            },
            lead.clone(),
            DecisionOutcome::Allow,
            "isolate-endpoint.permit",
        ),
        (
            "critical, an incident commander approved",
            CaseFacts {
                severity: Severity::Critical,
                ..base_case.clone()
            },
            base_target.clone(),
            commander.clone(),
            DecisionOutcome::Allow,
            "isolate-endpoint.permit",
        ),
        (
            "no approval yet",
            base_case.clone(),
            base_target.clone(),
            ApprovalTally::default(),
            needs(1, LEADS),
            "isolate-endpoint.permit",
        ),
        (
            "an analyst's approval is not enough",
            base_case.clone(),
            base_target.clone(),
            analyst,
            needs(1, LEADS),
            "isolate-endpoint.permit",
        ),
        (
            "medium severity",
            CaseFacts {
                severity: Severity::Medium,
                ..base_case.clone()
            },
            base_target.clone(),
            lead.clone(),
            DecisionOutcome::Deny,
            "",
        ),
        (
            "production asset",
            base_case.clone(),
            TargetFacts {
                asset_environment: "production".into(),
                ..base_target.clone()
            },
            lead.clone(),
            DecisionOutcome::Deny,
            "",
        ),
        (
            "tier_0 asset",
            base_case.clone(),
            TargetFacts {
                asset_criticality: "tier_0".into(),
                ..base_target.clone()
            },
            lead.clone(),
            DecisionOutcome::Deny,
            "",
        ),
        (
            "a service account among the case's identities",
            CaseFacts {
                identity_types: ["human".to_owned(), "service_account".to_owned()].into(),
                ..base_case.clone()
            },
            base_target.clone(),
            lead.clone(),
            DecisionOutcome::Deny,
            "isolate-endpoint.no-service-accounts",
        ),
        (
            "the target is a service account",
            base_case.clone(),
            TargetFacts {
                identity_type: "service_account".into(),
                ..base_target.clone()
            },
            lead.clone(),
            DecisionOutcome::Deny,
            "isolate-endpoint.no-service-accounts",
        ),
        (
            "one evidence source missing is tolerated",
            CaseFacts {
                evidence_gaps: 1,
                ..base_case.clone()
            },
            base_target.clone(),
            lead.clone(),
            DecisionOutcome::Allow,
            "isolate-endpoint.permit",
        ),
        (
            "two evidence sources missing",
            CaseFacts {
                evidence_gaps: 2,
                ..base_case.clone()
            },
            base_target.clone(),
            lead.clone(),
            DecisionOutcome::Deny,
            "isolate-endpoint.evidence-gaps",
        ),
        (
            "confidence 0.85 is enough",
            CaseFacts {
                confidence: 0.85,
                ..base_case.clone()
            },
            base_target.clone(),
            lead.clone(),
            DecisionOutcome::Allow,
            "isolate-endpoint.permit",
        ),
        (
            "confidence 0.84",
            CaseFacts {
                confidence: 0.84,
                ..base_case.clone()
            },
            base_target.clone(),
            lead.clone(),
            DecisionOutcome::Deny,
            "isolate-endpoint.low-confidence",
        ),
    ];
    for (name, case, target, approvals, outcome, policy) in rows {
        let decision = engine.decide("endpoint-malware", &host, &case, &target, &approvals);
        assert_eq!(decision.outcome, outcome, "{name}: {decision:?}");
        if !policy.is_empty() {
            assert!(
                decision.policy_ids.iter().any(|id| id == policy),
                "{name}: {:?}",
                decision.policy_ids
            );
        }
    }
}

#[test]
fn disabling_a_privileged_account_takes_two_people() {
    let engine = PolicyEngine::default_set().expect("loads");
    let disable = proposal(
        ActionName::IdpDisableUser,
        Some((ObservableKind::User, "amartin")),
    );
    let privileged = TargetFacts {
        identity_type: "human".into(),
        identity_privileged: true,
        ..target_facts()
    };
    let decision = engine.decide(
        "default",
        &disable,
        &case_facts(),
        &privileged,
        &tally(1, &["soc_lead"]),
    );
    assert_eq!(decision.outcome, needs(2, LEADS));
    let decision = engine.decide(
        "default",
        &disable,
        &case_facts(),
        &privileged,
        &tally(2, &["soc_lead", "incident_commander"]),
    );
    assert_eq!(decision.outcome, DecisionOutcome::Allow);
    // A non-privileged account: one lead.
    let decision = engine.decide(
        "default",
        &disable,
        &case_facts(),
        &target_facts(),
        &ApprovalTally::default(),
    );
    assert_eq!(decision.outcome, needs(1, LEADS));
    // A person disabling a privileged account: two more people as well.
    let decision = engine.decide_as_person(
        "alice",
        &roles(&["analyst"]),
        &disable,
        &case_facts(),
        &privileged,
        &ApprovalTally::default(),
    );
    assert_eq!(decision.outcome, needs(2, LEADS));
}

#[test]
fn agents_never_suppress_threats_and_ask_only_when_autonomous() {
    let engine = PolicyEngine::default_set().expect("loads");
    let suppress = proposal(ActionName::AlertSuppress, None);
    let benign = CaseFacts {
        verdict: Verdict::FalsePositive,
        confidence: 0.95,
        ..case_facts()
    };
    let assisted = engine.decide(
        "default",
        &suppress,
        &benign,
        &target_facts(),
        &ApprovalTally::default(),
    );
    assert_eq!(assisted.outcome, DecisionOutcome::Deny);
    assert_eq!(
        assisted.policy_ids,
        vec!["default.alert-suppress.autonomous-agents-only".to_owned()]
    );
    let autonomous = CaseFacts {
        autonomy: "autonomous".into(),
        ..benign.clone()
    };
    let asks = engine.decide(
        "default",
        &suppress,
        &autonomous,
        &target_facts(),
        &ApprovalTally::default(),
    );
    assert_eq!(asks.outcome, needs(1, &["soc_lead"]));
    let threat = CaseFacts {
        verdict: Verdict::Suspicious,
        ..autonomous
    };
    let refused = engine.decide(
        "default",
        &suppress,
        &threat,
        &target_facts(),
        &tally(1, &["soc_lead"]),
    );
    assert_eq!(refused.outcome, DecisionOutcome::Deny);
    assert!(
        refused
            .policy_ids
            .contains(&"default.alert-suppress.never-a-threat".to_owned())
    );
}

#[test]
fn break_glass_accounts_are_never_touched_by_agents() {
    let engine = PolicyEngine::default_set().expect("loads");
    let break_glass = TargetFacts {
        identity_type: "human".into(),
        identity_privileged: true,
        identity_tags: ["break_glass".to_owned()].into(),
        ..target_facts()
    };
    for action in [
        ActionName::IdpRevokeSessions,
        ActionName::IdpDisableUser,
        ActionName::IdpResetMfa,
    ] {
        let p = proposal(action, Some((ObservableKind::User, "breakglass01")));
        let decision = engine.decide("default", &p, &case_facts(), &break_glass, &tally(2, LEADS));
        assert_eq!(decision.outcome, DecisionOutcome::Deny, "{action}");
        assert!(
            decision
                .policy_ids
                .contains(&"default.idp.break-glass-untouched".to_owned())
        );
    }
}

#[test]
fn an_erroring_forbid_still_denies() {
    // The forbid overflows at evaluation time; Cedar skips it and would
    // answer Allow from the permit. Warden must deny, for agents, people
    // and tool calls alike.
    let policies = r#"
        @id("allow-isolate")
        permit (principal, action == Warden::Action::"edr.isolate_host", resource);
        @id("broken-forbid")
        forbid (principal, action == Warden::Action::"edr.isolate_host", resource)
        when { context.severity * 9223372036854775807 > 0 };
        @id("allow-tools")
        permit (principal, action in Warden::Action::"tools", resource);
        @id("broken-tool-forbid")
        forbid (principal, action == Warden::Action::"tool.asset_lookup", resource)
        when { context.use_case like "*" && (9223372036854775807 + 1 > 0) };
    "#;
    let engine = PolicyEngine::load(crate::DEFAULT_SCHEMA, policies).expect("validates");
    let p = proposal(
        ActionName::EdrIsolateHost,
        Some((ObservableKind::Host, "ws-1")),
    );
    let agent = decide(&engine, &p, &ApprovalTally::default());
    let person = engine.decide_as_person(
        "alice",
        &roles(&["soc_lead"]),
        &p,
        &case_facts(),
        &target_facts(),
        &ApprovalTally::default(),
    );
    for decision in [agent, person] {
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
    let tool = engine.may_call_tool("default", "asset_lookup", true);
    assert!(!tool.allowed, "{tool:?}");
    assert!(
        tool.reasons.iter().any(|r| r.contains("evaluation error")),
        "{tool:?}"
    );
    assert!(
        engine
            .may_call_tool("default", "intel_lookup", true)
            .allowed
    );
}

#[test]
fn a_request_that_does_not_fit_the_schema_is_denied() {
    // A schema whose `confidence` is text: the request Warden builds (a
    // number) does not fit it, so nothing is asked and the answer is deny.
    let schema = crate::DEFAULT_SCHEMA.replace("confidence: Long", "confidence: String");
    let policies =
        r#"@id("all") permit (principal, action == Warden::Action::"ticket.create", resource);"#;
    let engine = PolicyEngine::load(&schema, policies).expect("validates");
    let decision = decide(
        &engine,
        &proposal(ActionName::TicketCreate, None),
        &ApprovalTally::default(),
    );
    assert_eq!(decision.outcome, DecisionOutcome::Deny);
    assert!(
        decision.reasons[0].starts_with("request rejected"),
        "{:?}",
        decision.reasons
    );
}

#[test]
fn forbid_wins_over_permit() {
    let policies = r#"
        @id("allow-isolate")
        permit (principal, action == Warden::Action::"edr.isolate_host", resource);
        @id("nothing-on-test-assets")
        forbid (principal, action in Warden::Action::"catalogue", resource)
        when { context.asset_environment == "test" };
    "#;
    let engine = PolicyEngine::load(crate::DEFAULT_SCHEMA, policies).expect("validates");
    let p = proposal(
        ActionName::EdrIsolateHost,
        Some((ObservableKind::Host, "ws-1")),
    );
    let decision = decide(&engine, &p, &ApprovalTally::default());
    assert_eq!(decision.outcome, DecisionOutcome::Deny);
    assert_eq!(
        decision.policy_ids,
        vec!["nothing-on-test-assets".to_owned()]
    );
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
    assert_eq!(waiting.outcome, needs(1, LEADS));
    assert!(matches!(
        decide(&engine, &p, &tally(1, &["analyst"])).outcome,
        DecisionOutcome::NeedsApproval { .. }
    ));
    assert_eq!(
        decide(&engine, &p, &tally(1, &["soc_lead"])).outcome,
        DecisionOutcome::Allow
    );
}

#[test]
fn the_trust_ladder_puts_a_person_before_every_assisted_side_effect() {
    // An operator's file that lets any agent open tickets and write notes
    // without approval: the ladder still holds for assisted use cases.
    let policies = r#"
        @id("ops.tickets")
        permit (principal, action in [Warden::Action::"ticket.create", Warden::Action::"case.note"], resource);
    "#;
    let engine = PolicyEngine::load(crate::DEFAULT_SCHEMA, policies).expect("validates");
    let ticket = proposal(ActionName::TicketCreate, None);
    let at = |autonomy: &str, approvals: &ApprovalTally| {
        let case = CaseFacts {
            autonomy: autonomy.into(),
            ..case_facts()
        };
        engine.decide("default", &ticket, &case, &target_facts(), approvals)
    };
    let assisted = at("assisted", &ApprovalTally::default());
    assert_eq!(assisted.outcome, needs(1, RESPONDERS));
    assert!(
        assisted.reasons.iter().any(|r| r.contains("trust ladder")),
        "{:?}",
        assisted.reasons
    );
    assert_eq!(assisted.policy_ids, vec!["ops.tickets".to_owned()]);
    // One responder's approval satisfies it; a viewer's does not.
    assert_eq!(
        at("assisted", &tally(1, &["analyst"])).outcome,
        DecisionOutcome::Allow
    );
    assert_eq!(
        at("assisted", &tally(1, &["viewer"])).outcome,
        needs(1, RESPONDERS)
    );
    // Autonomous keeps the policy's allow; shadow and draft keep the
    // policy's outcome too (the pipeline and executor run none of theirs).
    for autonomy in ["autonomous", "shadow", "draft"] {
        assert_eq!(
            at(autonomy, &ApprovalTally::default()).outcome,
            DecisionOutcome::Allow,
            "{autonomy}"
        );
    }
    // A note has no side effect: no person needed.
    let note = engine.decide(
        "default",
        &proposal(ActionName::CaseNote, None),
        &case_facts(),
        &target_facts(),
        &ApprovalTally::default(),
    );
    assert_eq!(note.outcome, DecisionOutcome::Allow);
    // The ladder bounds agents, not people.
    let person = engine.decide_as_person(
        "alice",
        &roles(&["analyst"]),
        &ticket,
        &case_facts(),
        &target_facts(),
        &ApprovalTally::default(),
    );
    assert_eq!(person.outcome, DecisionOutcome::Allow);
    // A policy's own requirement is not replaced by the ladder's.
    let strict = PolicyEngine::load(
        crate::DEFAULT_SCHEMA,
        r#"@id("two") @approvals("2") @approver_roles("soc_lead")
           permit (principal, action == Warden::Action::"ticket.create", resource);"#,
    )
    .expect("validates");
    let decision = strict.decide(
        "default",
        &ticket,
        &case_facts(),
        &target_facts(),
        &tally(1, &["analyst"]),
    );
    assert_eq!(decision.outcome, needs(2, &["soc_lead"]));
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
    let guard_clash = r#"@id("warden.target-in-case") permit (principal, action == Warden::Action::"case.note", resource);"#;
    assert!(matches!(
        PolicyEngine::load(crate::DEFAULT_SCHEMA, guard_clash),
        Err(PolicyLoadError::DuplicateId(_))
    ));
    let bad_count = r#"@id("a") @approvals("many") permit (principal, action == Warden::Action::"case.note", resource);"#;
    assert!(matches!(
        PolicyEngine::load(crate::DEFAULT_SCHEMA, bad_count),
        Err(PolicyLoadError::Annotation { .. })
    ));
    // Decision fields apply to catalogue actions, not to tool calls: a
    // policy over every action cannot read them.
    let every_action =
        r#"@id("x") forbid (principal, action, resource) when { context.severity > 3 };"#;
    assert!(matches!(
        PolicyEngine::load(crate::DEFAULT_SCHEMA, every_action),
        Err(PolicyLoadError::Invalid(_))
    ));
    assert!(matches!(
        PolicyEngine::load("not a schema {", ""),
        Err(PolicyLoadError::Schema(_))
    ));
    // Parse errors name their source.
    let Err(PolicyLoadError::Parse(message)) = PolicyEngine::load_sources(
        crate::DEFAULT_SCHEMA,
        &[("ok.cedar", ""), ("broken.cedar", "permit (")],
    ) else {
        panic!("a broken file must not load");
    };
    assert!(message.starts_with("broken.cedar"), "{message}");
}

#[test]
fn the_version_covers_schema_policies_and_guards() {
    let a = PolicyEngine::load(crate::DEFAULT_SCHEMA, crate::DEFAULT_POLICIES).expect("loads");
    let b = PolicyEngine::default_set().expect("loads");
    assert_eq!(a.version(), b.version());
    let c = PolicyEngine::load(
        crate::DEFAULT_SCHEMA,
        &format!("{}\n// a comment\n", crate::DEFAULT_POLICIES),
    )
    .expect("loads");
    assert_ne!(a.version(), c.version());
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
    let mut autonomous = case_facts();
    autonomous.autonomy = "autonomous".into();
    let inside = engine.decide(
        "endpoint",
        &isolate,
        &autonomous,
        &target_facts(),
        &ApprovalTally::default(),
    );
    assert_eq!(inside.outcome, DecisionOutcome::Allow, "{inside:?}");
    let mut narrow = autonomous.clone();
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
    // The guard bounds agents: a person is not held to a playbook.
    let person = engine.decide_as_person(
        "alice",
        &roles(&["soc_lead"]),
        &isolate,
        &narrow,
        &target_facts(),
        &ApprovalTally::default(),
    );
    assert_eq!(person.outcome, DecisionOutcome::Allow, "{person:?}");
}

#[test]
fn an_agent_acts_only_on_its_case_and_the_case_entities() {
    let engine = PolicyEngine::load(
        crate::DEFAULT_SCHEMA,
        r#"@id("ops.all") permit (principal, action in Warden::Action::"catalogue", resource);"#,
    )
    .expect("valid");
    let elsewhere = TargetFacts {
        in_case: false,
        ..target_facts()
    };
    for action in [ActionName::CaseNote, ActionName::EdrIsolateHost] {
        let p = proposal_of(action);
        let decision = engine.decide(
            "default",
            &p,
            &case_facts(),
            &elsewhere,
            &ApprovalTally::default(),
        );
        assert_eq!(decision.outcome, DecisionOutcome::Deny, "{action}");
        assert!(
            decision
                .policy_ids
                .contains(&"warden.target-in-case".to_owned()),
            "{decision:?}"
        );
        let person = engine.decide_as_person(
            "alice",
            &roles(&["soc_lead"]),
            &p,
            &case_facts(),
            &elsewhere,
            &ApprovalTally::default(),
        );
        assert_eq!(person.outcome, DecisionOutcome::Allow, "{person:?}");
    }
    // From evidence alone a target is never "in the case": the caller must
    // say so.
    let facts = TargetFacts::from_evidence(&Target::case(CaseId::new()), &[]);
    assert!(!facts.in_case);
}

#[test]
fn people_act_by_their_roles() {
    let engine = PolicyEngine::default_set().expect("loads");
    let as_person = |who: &[&str], p: &ActionProposal| {
        engine.decide_as_person(
            "alice",
            &roles(who),
            p,
            &case_facts(),
            &target_facts(),
            &ApprovalTally::default(),
        )
    };
    let ticket = proposal(ActionName::TicketCreate, None);
    let block = proposal(
        ActionName::NetBlockIndicator,
        Some((ObservableKind::Ip, "203.0.113.9")),
    );
    assert_eq!(
        as_person(&["analyst"], &ticket).outcome,
        DecisionOutcome::Allow
    );
    assert_eq!(as_person(&["analyst"], &block).outcome, needs(1, LEADS));
    let viewer = as_person(&["viewer"], &ticket);
    assert_eq!(viewer.outcome, DecisionOutcome::Deny);
    assert!(
        viewer
            .policy_ids
            .contains(&"default.people.responders-only".to_owned())
    );
    assert_eq!(as_person(&[], &ticket).outcome, DecisionOutcome::Deny);
    // People follow the isolation rules too.
    let isolate = proposal(
        ActionName::EdrIsolateHost,
        Some((ObservableKind::Host, "ws-1")),
    );
    assert_eq!(as_person(&["soc_lead"], &isolate).outcome, needs(1, LEADS));
    // A person's principal carries the roles a policy may read.
    let custom = PolicyEngine::load(
        crate::DEFAULT_SCHEMA,
        r#"@id("leads-block") permit (principal is Warden::Person, action == Warden::Action::"net.block_indicator", resource)
           when { principal.roles.contains("soc_lead") };"#,
    )
    .expect("valid");
    let decide_block = |who: &[&str]| {
        custom
            .decide_as_person(
                "bob",
                &roles(who),
                &block,
                &case_facts(),
                &target_facts(),
                &ApprovalTally::default(),
            )
            .outcome
    };
    assert_eq!(decide_block(&["soc_lead"]), DecisionOutcome::Allow);
    assert_eq!(decide_block(&["analyst"]), DecisionOutcome::Deny);
}

#[test]
fn tools_are_called_only_from_the_playbook() {
    let engine = PolicyEngine::default_set().expect("loads");
    for tool in TOOLS {
        let allowed = engine.may_call_tool("phishing", tool, true);
        assert!(allowed.allowed, "{allowed:?}");
        assert_eq!(
            allowed.policy_ids,
            vec!["default.tools.in-playbook".to_owned()]
        );
        assert_eq!(allowed.policy_version, engine.version());
        let outside = engine.may_call_tool("phishing", tool, false);
        assert!(!outside.allowed);
        assert!(
            outside
                .policy_ids
                .contains(&"warden.playbook-authority".to_owned()),
            "{outside:?}"
        );
    }
    let unknown = engine.may_call_tool("phishing", "shell_exec", true);
    assert!(!unknown.allowed);
    assert!(unknown.reasons[0].contains("not a known tool"));
    // A set without a tool permit denies by default.
    let notes_only = PolicyEngine::load(
        crate::DEFAULT_SCHEMA,
        r#"@id("n") permit (principal, action == Warden::Action::"case.note", resource);"#,
    )
    .expect("valid");
    let denied = notes_only.may_call_tool("phishing", "asset_lookup", true);
    assert!(!denied.allowed);
    assert!(denied.reasons[0].contains("default deny"), "{denied:?}");
}

fn identity(user: &str, facts: serde_json::Value) -> Evidence {
    Evidence {
        id: EvidenceId::enrichment(1),
        kind: EvidenceKind::Identity,
        source: "context/identities.csv".into(),
        subject: Some((ObservableKind::User, user.into())),
        summary: String::new(),
        facts,
        collected_at: time::OffsetDateTime::UNIX_EPOCH,
        freshness: Freshness::Fresh,
    }
}

#[test]
fn case_identities_come_from_every_identity_record() {
    let evidence = vec![
        identity(
            "jdoe",
            serde_json::json!({"user_type": "human", "privileged": false}),
        ),
        identity(
            "svc_backup",
            serde_json::json!({"user_type": "service_account", "privileged": true, "tags": ["Break_Glass"]}),
        ),
        identity("ghost", serde_json::json!({})),
    ];
    let (types, privileged) = CaseFacts::identities_from_evidence(&evidence);
    assert_eq!(
        types,
        ["human", "service_account", "unknown"]
            .map(str::to_owned)
            .into()
    );
    assert!(privileged);
    let (none, privileged) = CaseFacts::identities_from_evidence(&evidence[..1]);
    assert_eq!(none, ["human".to_owned()].into());
    assert!(!privileged);
    let target = TargetFacts::from_evidence(
        &Target::Entity {
            kind: ObservableKind::User,
            value: "svc_backup".into(),
        },
        &evidence,
    );
    assert_eq!(target.identity_type, "service_account");
    assert!(target.identity_privileged);
    assert_eq!(target.identity_tags, ["break_glass".to_owned()].into());
}

#[test]
fn slices_decide_exactly_as_the_whole_set() {
    // The shipped set plus scopes of every kind, some erring: for every
    // principal type, action and a spread of facts, Cedar over the slice
    // and Cedar over the whole set give the same decision, the same
    // deciding ids and the same errors.
    let extra = r#"
        @id("x.agent-eq")
        permit (principal == Warden::Agent::"phishing", action == Warden::Action::"email.quarantine", resource);
        @id("x.person-in")
        forbid (principal in Warden::Person::"bob", action in Warden::Action::"catalogue", resource);
        @id("x.list")
        forbid (principal, action in [Warden::Action::"net.block_indicator", Warden::Action::"tools"], resource)
        when { context.in_playbook && context.use_case == "network-ids" };
        @id("x.resource")
        permit (principal is Warden::Agent, action, resource is Warden::Host);
        @id("x.has")
        forbid (principal is Warden::Person, action == Warden::Action::"ticket.create", resource)
        when { context has case_privileged && context.case_privileged };
        @id("x.whole")
        permit (principal, action == Warden::Action::"net.unblock_indicator", resource)
        when { context == context };
        @id("x.erring")
        forbid (principal is Warden::Agent, action in Warden::Action::"catalogue", resource)
        when { context.severity * 9223372036854775807 > 9 };
    "#;
    let engine = PolicyEngine::load(
        crate::DEFAULT_SCHEMA,
        &format!("{}\n{extra}", crate::DEFAULT_POLICIES),
    )
    .expect("valid");
    let authorizer = Authorizer::new();
    let people = roles(&["analyst"]);
    let mut compared = 0;
    for &action in ActionName::ALL {
        for (severity, verdict, autonomy) in [
            (Severity::Informational, Verdict::Benign, "assisted"),
            (Severity::Low, Verdict::FalsePositive, "autonomous"),
            (Severity::High, Verdict::Malicious, "autonomous"),
            (Severity::Critical, Verdict::Suspicious, "assisted"),
        ] {
            let case = CaseFacts {
                severity,
                verdict,
                autonomy: autonomy.into(),
                use_case: "network-ids".into(),
                ..case_facts()
            };
            for principal in [
                Principal::Agent("network-ids"),
                Principal::Agent("phishing"),
                Principal::Person {
                    name: "bob",
                    roles: &people,
                },
                Principal::Person {
                    name: "alice",
                    roles: &people,
                },
            ] {
                let p = proposal_of(action);
                let (request, entities) = engine
                    .cedar_request(
                        principal,
                        &p,
                        &case,
                        &target_facts(),
                        &tally(1, &["soc_lead"]),
                    )
                    .expect("request");
                let whole = authorizer.is_authorized(&request, &engine.policies, &entities);
                let mut whole_ids: Vec<String> = whole
                    .diagnostics()
                    .reason()
                    .map(ToString::to_string)
                    .collect();
                whole_ids.sort();
                let sliced = engine.authorize(principal.kind(), &request, &entities);
                // The request decide builds: only the attributes the slice reads.
                let (trimmed, _) = engine
                    .request(
                        principal,
                        &p,
                        &case,
                        &target_facts(),
                        &tally(1, &["soc_lead"]),
                        true,
                    )
                    .expect("request");
                let lean = engine.authorize(principal.kind(), &trimmed, &entities);
                assert_eq!(lean.allowed, sliced.allowed, "{action} {principal:?}");
                assert_eq!(lean.policy_ids, sliced.policy_ids, "{action} {principal:?}");
                assert_eq!(
                    lean.errors.len(),
                    sliced.errors.len(),
                    "{action} {principal:?}"
                );
                assert_eq!(
                    sliced.allowed,
                    whole.decision() == CedarDecision::Allow,
                    "{action} {principal:?}"
                );
                assert_eq!(sliced.policy_ids, whole_ids, "{action} {principal:?}");
                assert_eq!(
                    sliced.errors.len(),
                    whole.diagnostics().errors().count(),
                    "{action} {principal:?}"
                );
                compared += 1;
            }
        }
    }
    for tool in TOOLS {
        for (use_case, in_playbook) in [("network-ids", true), ("phishing", true), ("x", false)] {
            let slice = engine.may_call_tool(use_case, tool, in_playbook);
            let context =
                Context::from_pairs(tool_context(use_case, in_playbook)).expect("context");
            let request = Request::new(
                Names::uid(&engine.names.agent, use_case),
                engine.names.tools.get(tool).expect("tool").clone(),
                Names::uid(&engine.names.case, TOOL_RESOURCE),
                context,
                Some(&engine.schema),
            )
            .expect("request");
            let whole = authorizer.is_authorized(&request, &engine.policies, &engine.actions);
            let mut whole_ids: Vec<String> = whole
                .diagnostics()
                .reason()
                .map(ToString::to_string)
                .collect();
            whole_ids.sort();
            assert_eq!(
                slice.allowed,
                whole.decision() == CedarDecision::Allow,
                "{tool}"
            );
            assert_eq!(slice.policy_ids, whole_ids, "{tool}");
        }
    }
    assert_eq!(compared, ActionName::ALL.len() * 16);
    // The slices are small: each holds a fraction of the set.
    let largest = engine
        .slices
        .0
        .values()
        .map(|slice| slice.policies.policies().count())
        .max()
        .unwrap_or_default();
    assert!(
        largest < engine.policies.policies().count() / 3,
        "{largest}"
    );
}

#[test]
fn a_person_that_does_not_fit_the_schema_is_denied() {
    // A schema whose people have no roles: Warden's person entity does not
    // fit it, so people's requests are denied; agents' still decide.
    let schema = crate::DEFAULT_SCHEMA.replace(
        "entity Person = {\n    roles: Set<String>,\n  };",
        "entity Person;",
    );
    assert_ne!(schema, crate::DEFAULT_SCHEMA);
    let policies =
        r#"@id("all") permit (principal, action == Warden::Action::"ticket.create", resource);"#;
    let engine = PolicyEngine::load(&schema, policies).expect("validates");
    let ticket = proposal(ActionName::TicketCreate, None);
    let person = engine.decide_as_person(
        "alice",
        &roles(&["analyst"]),
        &ticket,
        &case_facts(),
        &target_facts(),
        &ApprovalTally::default(),
    );
    assert_eq!(person.outcome, DecisionOutcome::Deny);
    assert!(
        person.reasons[0].starts_with("request rejected"),
        "{:?}",
        person.reasons
    );
    let agent = decide(&engine, &ticket, &ApprovalTally::default());
    assert_eq!(agent.outcome, needs(1, RESPONDERS), "{agent:?}");
}
