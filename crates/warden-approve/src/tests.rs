use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};
use warden_domain::{ActionName, CaseId, ObservableKind, Target};

use super::*;

fn proposal() -> ActionProposal {
    ActionProposal {
        case_id: CaseId::new(),
        action: ActionName::EdrIsolateHost,
        target: Target::Entity {
            kind: ObservableKind::Host,
            value: "ws-1".into(),
        },
        parameters: BTreeMap::new(),
        proposed_by: "agent:default".into(),
        evidence: vec![],
    }
}

fn decision(p: &ActionProposal, outcome: DecisionOutcome) -> Decision {
    Decision {
        proposal_hash: p.hash(),
        action: p.action,
        target: p.target.clone(),
        outcome,
        policy_ids: vec!["p".into()],
        reasons: vec!["r".into()],
        policy_version: "v".into(),
    }
}

fn approval(p: &ActionProposal, who: &str, role: &str, now: OffsetDateTime) -> Approval {
    Approval {
        proposal_hash: p.hash(),
        approver: who.into(),
        role: role.into(),
        approved: true,
        reason: None,
        decided_at: now,
        expires_at: now + Duration::hours(1),
    }
}

fn two_leads() -> DecisionOutcome {
    DecisionOutcome::NeedsApproval {
        approvals: 2,
        roles: vec!["soc_lead".into()],
    }
}

#[test]
fn allow_releases_and_deny_does_not() {
    let now = OffsetDateTime::now_utc();
    let p = proposal();
    assert!(
        release(
            p.clone(),
            decision(&p, DecisionOutcome::Allow),
            &[],
            "agent",
            now
        )
        .is_ok()
    );
    assert!(matches!(
        release(
            p.clone(),
            decision(&p, DecisionOutcome::Deny),
            &[],
            "agent",
            now
        ),
        Err(Withheld::Denied(_))
    ));
}

#[test]
fn two_person_rule_needs_two_distinct_authorised_people() {
    let now = OffsetDateTime::now_utc();
    let p = proposal();
    let d = decision(&p, two_leads());
    let alice = approval(&p, "alice", "soc_lead", now);
    let same_again = approval(&p, "alice", "soc_lead", now);
    let analyst = approval(&p, "bob", "analyst", now);
    let requester = approval(&p, "carol", "soc_lead", now);
    for set in [
        vec![alice.clone()],
        vec![alice.clone(), same_again],
        vec![alice.clone(), analyst],
        vec![alice.clone(), requester],
    ] {
        assert!(
            matches!(
                release(p.clone(), d.clone(), &set, "carol", now),
                Err(Withheld::AwaitingApproval { valid: 1, .. })
            ),
            "{set:?}"
        );
    }
    let dave = approval(&p, "dave", "soc_lead", now);
    let order = release(p.clone(), d, &[alice, dave], "carol", now).expect("released");
    assert_eq!(order.approvals().len(), 2);
}

#[test]
fn expired_approvals_do_not_count_and_recheck_notices() {
    let now = OffsetDateTime::now_utc();
    let p = proposal();
    let d = decision(
        &p,
        DecisionOutcome::NeedsApproval {
            approvals: 1,
            roles: vec![],
        },
    );
    let order = release(
        p.clone(),
        d,
        &[approval(&p, "alice", "soc_lead", now)],
        "agent",
        now,
    )
    .expect("released");
    assert!(order.recheck(now).is_ok());
    assert!(matches!(
        order.recheck(now + Duration::hours(2)),
        Err(Withheld::AwaitingApproval { .. })
    ));
}

#[test]
fn a_changed_proposal_voids_decision_and_approvals() {
    let now = OffsetDateTime::now_utc();
    let p = proposal();
    let d = decision(
        &p,
        DecisionOutcome::NeedsApproval {
            approvals: 1,
            roles: vec![],
        },
    );
    let a = approval(&p, "alice", "soc_lead", now);
    let mut wider = p.clone();
    wider.target = Target::Entity {
        kind: ObservableKind::Host,
        value: "dc01".into(),
    };
    assert!(matches!(
        release(
            wider.clone(),
            d.clone(),
            std::slice::from_ref(&a),
            "agent",
            now
        ),
        Err(Withheld::Mismatch { .. })
    ));
    // Even with a decision re-made for the new target, the old approval is void.
    let d2 = decision(
        &wider,
        DecisionOutcome::NeedsApproval {
            approvals: 1,
            roles: vec![],
        },
    );
    assert!(matches!(
        release(wider, d2, &[a], "agent", now),
        Err(Withheld::AwaitingApproval { valid: 0, .. })
    ));
}

#[test]
fn ingest_principals_are_read_from_http_origins_only() {
    assert_eq!(ingest_principal("http:alice"), Some("alice"));
    assert_eq!(ingest_principal("http:splunk-prod:12"), Some("splunk-prod"));
    assert_eq!(
        ingest_principal("http:j.doe@corp.example[3]"),
        Some("j.doe@corp.example")
    );
    assert_eq!(ingest_principal("alerts/x.json:4"), None);
    assert_eq!(ingest_principal("http:"), None);
}

#[test]
fn a_principal_that_pushed_an_alert_of_the_case_does_not_count() {
    let now = OffsetDateTime::now_utc();
    let p = proposal();
    let one = DecisionOutcome::NeedsApproval {
        approvals: 1,
        roles: vec![],
    };
    let approvals = [approval(&p, "Alice", "analyst", now)];
    let mut requesters = Requesters::new("agent:default");
    requesters.add("alice");
    assert_eq!(tally(&p.hash(), &approvals, &requesters, &[], now).0, 0);
    assert!(matches!(
        release(
            p.clone(),
            decision(&p, one.clone()),
            &approvals,
            &requesters,
            now
        ),
        Err(Withheld::AwaitingApproval { valid: 0, .. })
    ));
    assert!(
        release(
            p.clone(),
            decision(&p, one),
            &approvals,
            "agent:default",
            now
        )
        .is_ok()
    );
}
