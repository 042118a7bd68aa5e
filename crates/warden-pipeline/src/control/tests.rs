use std::collections::BTreeMap;

use time::OffsetDateTime;
use warden_audit::StoreAuditLog;
use warden_domain::{
    ActionName, ActionProposal, ApprovalCard, Case, Decision, FixedClock, ObservableKind, Severity,
    Target,
};
use warden_store::{CaseReader, SqliteStore};

use super::*;

struct Fixture {
    store: Arc<SqliteStore>,
    audit: Arc<StoreAuditLog<SqliteStore>>,
    clock: Arc<FixedClock>,
    control: Control,
    case: Case,
}

async fn fixture() -> Fixture {
    let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let clock = Arc::new(FixedClock::new(OffsetDateTime::now_utc()));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let audit = Arc::new(StoreAuditLog::new(store.clone(), dyn_clock.clone()));
    let case = Case::open("c".into(), vec![], 1, vec![], Severity::High, clock.now());
    store.insert_case(&case, &[]).await.expect("case");
    let control = Control::new(
        store.clone(),
        audit.clone(),
        dyn_clock,
        ApprovalConfig::default(),
    );
    Fixture {
        store,
        audit,
        clock,
        control,
        case,
    }
}

fn person(name: &str, roles: &[&str]) -> Person {
    Person {
        name: name.into(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        password_hash: String::new(),
        created_at: OffsetDateTime::now_utc(),
    }
}

/// An isolation request needing `required` approvals from `roles`.
async fn isolation(f: &Fixture, required: u32, roles: &[&str]) -> ApprovalRequest {
    let proposal = ActionProposal {
        case_id: f.case.id,
        action: ActionName::EdrIsolateHost,
        target: Target::Entity {
            kind: ObservableKind::Host,
            value: "ws-1".into(),
        },
        parameters: BTreeMap::new(),
        proposed_by: "deterministic".into(),
        evidence: vec![],
    };
    let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
    let decision = Decision {
        proposal_hash: proposal.hash(),
        action: proposal.action,
        target: proposal.target.clone(),
        outcome: DecisionOutcome::NeedsApproval {
            approvals: required,
            roles: roles.clone(),
        },
        policy_ids: vec!["isolate".into()],
        reasons: vec![],
        policy_version: "v".into(),
    };
    let now = f.clock.now();
    f.control
        .open_request(ApprovalRequest {
            proposal_hash: proposal.hash(),
            proposal,
            decision,
            use_case: "endpoint-malware".into(),
            requester: "agent:endpoint-malware".into(),
            card: ApprovalCard {
                title: "isolate".into(),
                use_case: "endpoint-malware".into(),
                verdict: Verdict::Malicious,
                severity: Severity::High,
                confidence: 0.9,
                rationale: vec![],
                evidence: vec![],
                side_effects: "isolates".into(),
                parameters: vec![],
                rollback: "release".into(),
                approvals_required: required,
                roles,
                policy_ids: vec![],
            },
            status: RequestStatus::Pending,
            created_at: now,
            expires_at: now,
            supersedes: None,
        })
        .await
        .expect("request")
}

async fn status(f: &Fixture, hash: &ProposalHash) -> RequestStatus {
    f.store
        .approval_request(hash)
        .await
        .expect("read")
        .expect("request")
        .status
}

#[tokio::test]
async fn two_person_review_needs_two_distinct_authorised_people() {
    let f = fixture().await;
    let request = isolation(&f, 2, &["soc_lead", "incident_commander"]).await;
    let hash = &request.proposal_hash;
    assert_eq!(request.status, RequestStatus::Pending);

    let alice = person("alice", &["soc_lead"]);
    let first = f
        .control
        .approve(hash, &alice, None)
        .await
        .expect("approve");
    assert_eq!((first.valid, first.needed, first.ready), (1, 2, false));
    // The same person twice is one answer.
    assert!(matches!(
        f.control.approve(hash, &alice, None).await,
        Err(ControlError::AlreadyAnswered(_))
    ));
    let shouting = person("ALICE", &["soc_lead"]);
    assert!(matches!(
        f.control.approve(hash, &shouting, None).await,
        Err(ControlError::AlreadyAnswered(_))
    ));
    // A role the request does not accept, a role not held, the requester.
    let bob = person("bob", &["analyst", "viewer"]);
    assert!(matches!(
        f.control.approve(hash, &bob, None).await,
        Err(ControlError::RoleNotAccepted { .. })
    ));
    assert!(matches!(
        f.control.approve(hash, &bob, Some("soc_lead")).await,
        Err(ControlError::RoleNotHeld { .. })
    ));
    let agent = person("agent:endpoint-malware", &["soc_lead"]);
    assert!(matches!(
        f.control.approve(hash, &agent, None).await,
        Err(ControlError::SelfApproval(_))
    ));
    assert_eq!(status(&f, hash).await, RequestStatus::Pending);

    let carol = person("carol", &["incident_commander"]);
    let second = f
        .control
        .approve(hash, &carol, None)
        .await
        .expect("approve");
    assert_eq!((second.valid, second.ready), (2, true));
    assert_eq!(status(&f, hash).await, RequestStatus::Ready);
    // Answers after the decision are refused.
    let dave = person("dave", &["soc_lead"]);
    assert!(matches!(
        f.control.approve(hash, &dave, None).await,
        Err(ControlError::NotPending(RequestStatus::Ready))
    ));
    let recorded = f
        .audit
        .records(Some(f.case.id))
        .await
        .expect("records")
        .iter()
        .filter(|r| matches!(r.entry.event, AuditEvent::ApprovalRecorded { .. }))
        .count();
    assert_eq!(recorded, 2);
}

#[tokio::test]
async fn approvals_after_expiry_are_refused_and_the_request_expires() {
    let f = fixture().await;
    let request = isolation(&f, 1, &[]).await;
    f.clock.advance(time::Duration::days(2));
    let alice = person("alice", &["analyst"]);
    assert!(matches!(
        f.control
            .approve(&request.proposal_hash, &alice, None)
            .await,
        Err(ControlError::Expired(_))
    ));
    assert_eq!(
        status(&f, &request.proposal_hash).await,
        RequestStatus::Expired
    );
    let other = isolation(&f, 1, &[]).await;
    assert_eq!(
        other.status,
        RequestStatus::Expired,
        "same proposal: the first request stands"
    );
}

#[tokio::test]
async fn rejection_needs_a_reason_and_closes_the_request() {
    let f = fixture().await;
    let request = isolation(&f, 1, &[]).await;
    let hash = &request.proposal_hash;
    let alice = person("alice", &["analyst"]);
    assert!(matches!(
        f.control
            .reject(hash, &alice, RejectionReason::TooDisruptive, "  ")
            .await,
        Err(ControlError::EmptyNote)
    ));
    f.control
        .reject(
            hash,
            &alice,
            RejectionReason::TooDisruptive,
            "payroll runs tonight",
        )
        .await
        .expect("reject");
    assert_eq!(status(&f, hash).await, RequestStatus::Rejected);
    let answers = f.store.approvals_of(hash).await.expect("answers");
    assert_eq!(
        answers[0].reason.as_deref(),
        Some("too_disruptive: payroll runs tonight")
    );
    let bob = person("bob", &["soc_lead"]);
    assert!(matches!(
        f.control.approve(hash, &bob, None).await,
        Err(ControlError::NotPending(RequestStatus::Rejected))
    ));
}

#[tokio::test]
async fn a_modification_is_a_new_proposal_the_modifier_cannot_approve() {
    let f = fixture().await;
    let request = isolation(&f, 1, &[]).await;
    let alice = person("alice", &["analyst"]);
    let modified = f
        .control
        .modify(
            &request.proposal_hash,
            &alice,
            BTreeMap::from([("duration".to_owned(), "2h".to_owned())]),
        )
        .await
        .expect("modify");
    assert_ne!(modified.proposal_hash, request.proposal_hash);
    assert_eq!(modified.supersedes.as_ref(), Some(&request.proposal_hash));
    assert_eq!(
        status(&f, &request.proposal_hash).await,
        RequestStatus::Superseded
    );
    assert!(matches!(
        f.control
            .approve(&modified.proposal_hash, &alice, None)
            .await,
        Err(ControlError::SelfApproval(_))
    ));
    let bob = person("bob", &["analyst"]);
    let progress = f
        .control
        .approve(&modified.proposal_hash, &bob, None)
        .await
        .expect("approve");
    assert!(progress.ready);
}

#[tokio::test]
async fn analyst_overrides_step_the_use_case_down_the_ladder() {
    let f = fixture().await;
    let mut case = f.case.clone();
    case.verdict = Some(Verdict::Malicious);
    let mut use_case = UseCase::allowing("endpoint-malware", [ActionName::CaseNote]);
    use_case.trust = warden_domain::TrustLadder {
        max_override_rate: 0.2,
        window: 10,
        min_reviews: 5,
    };
    // Keep the case's verdict as the agent's.
    let stored = f.store.case(case.id).await.expect("read").expect("case");
    f.store
        .update_case(&case, stored.state)
        .await
        .expect("update");
    let alice = person("alice", &["analyst"]);
    // Four agreements: too few reviews, and no overrides anyway.
    for _ in 0..4 {
        let changed = f
            .control
            .review(case.id, &use_case, &alice, Verdict::Malicious)
            .await
            .expect("review");
        assert_eq!(changed, None);
    }
    // One override in five: 20%, not above the threshold.
    assert_eq!(
        f.control
            .review(case.id, &use_case, &alice, Verdict::FalsePositive)
            .await
            .expect("review"),
        None
    );
    // Two in six: 33%: step down from assisted to draft.
    assert_eq!(
        f.control
            .review(case.id, &use_case, &alice, Verdict::Benign)
            .await
            .expect("review"),
        Some(Autonomy::Draft)
    );
    assert_eq!(
        f.control.autonomy(&use_case).await.expect("autonomy"),
        Autonomy::Draft
    );
    let changes: Vec<_> = f
        .audit
        .records(None)
        .await
        .expect("records")
        .into_iter()
        .filter(|r| matches!(r.entry.event, AuditEvent::AutonomyChanged { .. }))
        .collect();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].entry.actor, "system:trust-ladder");
}

#[tokio::test]
async fn the_kill_switch_is_on_the_record() {
    let f = fixture().await;
    f.control
        .pause(Some("phishing"), "lead", "bad rule deploy")
        .await
        .expect("pause");
    assert!(f.store.is_paused("phishing").await.expect("read"));
    assert!(!f.store.is_paused("endpoint-malware").await.expect("read"));
    f.control.pause(None, "lead", "drill").await.expect("pause");
    assert!(f.store.is_paused("endpoint-malware").await.expect("read"));
    f.control
        .resume(None, "lead", "drill over")
        .await
        .expect("resume");
    assert!(!f.store.is_paused("endpoint-malware").await.expect("read"));
    let switches = f
        .audit
        .records(None)
        .await
        .expect("records")
        .iter()
        .filter(|r| matches!(r.entry.event, AuditEvent::KillSwitchChanged { .. }))
        .count();
    assert_eq!(switches, 3);
}

/// A new account is on the record before it exists; a second one of the
/// same name is refused and recorded nowhere.
#[tokio::test]
async fn an_added_account_is_recorded_once_before_it_exists() {
    let f = fixture().await;
    let roles = vec!["analyst".to_owned()];
    let added = f
        .control
        .add_person("Alice", &roles, "correct horse battery", "local:cli")
        .await
        .expect("added");
    assert_eq!(added.name, "alice");
    assert!(f.store.person("alice").await.expect("read").is_some());
    let again = f
        .control
        .add_person("alice", &roles, "another long password", "local:cli")
        .await;
    assert!(matches!(again, Err(ControlError::Account(_))), "{again:?}");
    let recorded: Vec<_> = f
        .audit
        .records(None)
        .await
        .expect("records")
        .into_iter()
        .filter(|r| matches!(&r.entry.event, AuditEvent::UserAdded { name, .. } if name == "alice"))
        .collect();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].entry.actor, "local:cli");
}

/// An audit log that fails every `request_closed` append: the failure
/// injected between a request's record and its change.
struct FailingClosures {
    inner: Arc<StoreAuditLog<SqliteStore>>,
}

#[async_trait::async_trait]
impl AuditLog for FailingClosures {
    async fn append(
        &self,
        actor: &str,
        event: AuditEvent,
    ) -> Result<warden_audit::AuditReceipt, warden_audit::AuditError> {
        if event.kind() == "request_closed" {
            return Err(warden_audit::AuditError::Append("injected".into()));
        }
        self.inner.append(actor, event).await
    }
    async fn records(
        &self,
        case: Option<warden_domain::CaseId>,
    ) -> Result<Vec<warden_audit::AuditRecord>, warden_audit::AuditError> {
        self.inner.records(case).await
    }
}

/// Every request that left `pending` has its `request_closed` entry.
async fn closed_without_entry(f: &Fixture) -> Vec<String> {
    let records = f.audit.records(None).await.expect("records");
    let mut problems = Vec::new();
    for request in f.store.approval_requests(None, None).await.expect("read") {
        if !matches!(
            request.status,
            RequestStatus::Rejected | RequestStatus::Expired | RequestStatus::Superseded
        ) {
            continue;
        }
        let on_record = records.iter().any(|r| {
            matches!(&r.entry.event, AuditEvent::RequestClosed { proposal_hash, status, .. }
                if *proposal_hash == request.proposal_hash && *status == request.status)
        });
        if !on_record {
            problems.push(format!(
                "{} is {} with no entry",
                request.proposal_hash, request.status
            ));
        }
    }
    problems
}

#[tokio::test]
async fn a_failed_record_leaves_no_closed_request_without_its_entry() {
    let f = fixture().await;
    let failing = Control::new(
        f.store.clone(),
        Arc::new(FailingClosures {
            inner: f.audit.clone(),
        }),
        f.clock.clone(),
        ApprovalConfig::default(),
    );
    let alice = person("alice", &["analyst"]);
    // Reject.
    let request = isolation(&f, 1, &[]).await;
    let hash = &request.proposal_hash;
    assert!(
        failing
            .reject(hash, &alice, RejectionReason::TooDisruptive, "not now")
            .await
            .is_err()
    );
    assert_eq!(closed_without_entry(&f).await, Vec::<String>::new());
    assert_eq!(status(&f, hash).await, RequestStatus::Pending);
    // Supersede.
    assert!(
        failing
            .modify(
                hash,
                &alice,
                BTreeMap::from([("duration".to_owned(), "2h".to_owned())]),
            )
            .await
            .is_err()
    );
    assert_eq!(closed_without_entry(&f).await, Vec::<String>::new());
    assert_eq!(status(&f, hash).await, RequestStatus::Pending);
    // Expire.
    f.clock.advance(time::Duration::days(2));
    assert!(failing.expire_due().await.is_err());
    assert_eq!(closed_without_entry(&f).await, Vec::<String>::new());
    assert_eq!(status(&f, hash).await, RequestStatus::Pending);
    // With the log working, each closure is on the record.
    assert_eq!(f.control.expire_due().await.expect("expire"), 1);
    assert_eq!(status(&f, hash).await, RequestStatus::Expired);
    assert_eq!(closed_without_entry(&f).await, Vec::<String>::new());
}
