#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! The executor recomputes what it could read from the stored order (S1,
//! issue 18): who asked (the agent, whoever modified the proposal, whoever
//! pushed the case's alerts), the use case (from the case's alerts) and the
//! roles the policy asks for; and it reads the kill switch again right
//! before the side effect, after a connector's look-ups.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;
use warden_audit::{AuditLog, StoreAuditLog};
use warden_domain::alert::{RuleRef, SourceFormat};
use warden_domain::audit::ProposalRecord;
use warden_domain::severity::VendorSeverity;
use warden_domain::{
    ActionName, ActionProposal, Alert, AlertId, Approval, ApprovalCard, ApprovalRequest,
    Assessment, AuditEvent, Case, Clock, Decision, DecisionOutcome, ExecutionStatus, FixedClock,
    ProposalHash, RequestStatus, Severity, Target, Untrusted, UseCase, Verdict,
};
use warden_execute::{
    Connector, ConnectorError, ConnectorOutcome, ConnectorRequest, Executor, UseCaseOf,
};
use warden_policy::PolicyEngine;
use warden_store::{SqliteStore, Store};

const SCHEMA: &str = include_str!("../../warden-policy/policies/schema.cedarschema");

/// Notes need two SOC leads: a policy that asks for roles.
const TWO_LEADS: &str = r#"
@id("test.note.two-leads")
@approvals("2")
@approver_roles("soc_lead")
permit (principal, action == Warden::Action::"case.note", resource);
"#;

/// Notes need one approval from anyone who may approve.
const ONE_PERSON: &str = r#"
@id("test.note.one-person")
@approvals("1")
permit (principal, action == Warden::Action::"case.note", resource);
"#;

/// A connector that performs notes; `during_lookup` runs while it "looks
/// up" the target, before it asks the executor to go ahead.
struct Noting {
    performed: std::sync::Mutex<u32>,
    during_lookup: Option<Box<dyn Fn() -> futures_lookup::Hook + Send + Sync>>,
}

mod futures_lookup {
    pub type Hook = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
}

#[async_trait]
impl Connector for Noting {
    fn name(&self) -> &str {
        "noting"
    }
    fn handles(&self, _action: ActionName) -> bool {
        true
    }
    async fn perform(
        &self,
        request: &ConnectorRequest<'_>,
    ) -> Result<ConnectorOutcome, ConnectorError> {
        if let Some(hook) = &self.during_lookup {
            hook().await;
        }
        request.go_ahead().await?;
        *self.performed.lock().unwrap() += 1;
        Ok(ConnectorOutcome {
            detail: "noted".into(),
            handle: None,
        })
    }
}

struct Fixture {
    store: Arc<SqliteStore>,
    audit: Arc<StoreAuditLog<SqliteStore>>,
    clock: Arc<dyn Clock>,
    case: Case,
}

fn alert(origin: &str) -> Alert {
    Alert {
        id: AlertId::new(),
        format: SourceFormat::Ocsf,
        class_uid: 2004,
        product: "test".into(),
        vendor_id: None,
        time: OffsetDateTime::UNIX_EPOCH,
        rule: RuleRef {
            uid: Some("r-1".into()),
            name: "Sign-in from a new country".into(),
        },
        title: Untrusted::new("Sign-in"),
        description: Untrusted::new(""),
        severity: VendorSeverity {
            level: Severity::High,
            original: "high".into(),
        },
        observables: vec![],
        attacks: vec![],
        origin: origin.into(),
        raw_sha256: "00".into(),
        raw: serde_json::Value::Null,
    }
}

async fn fixture(origin: &str) -> Fixture {
    let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(OffsetDateTime::now_utc()));
    let audit = Arc::new(StoreAuditLog::new(store.clone(), clock.clone()));
    let pushed = alert(origin);
    let case = Case::open(
        "c".into(),
        vec![pushed.id],
        1,
        vec![],
        Severity::High,
        clock.now(),
    );
    store
        .insert_case(&case, &[(pushed, 0)])
        .await
        .expect("case");
    store
        .save_assessment(
            case.id,
            &Assessment {
                assessor: "deterministic".into(),
                verdict: Verdict::Suspicious,
                severity: Severity::High,
                confidence: 0.9,
                risk_score: 50.0,
                rationale: vec![],
                proposed_actions: vec![],
            },
        )
        .await
        .expect("assessment");
    Fixture {
        store,
        audit,
        clock,
        case,
    }
}

fn autonomous(name: &str) -> UseCase {
    let mut use_case = UseCase::allowing(name, [ActionName::CaseNote]);
    use_case.autonomy = warden_domain::Autonomy::Autonomous;
    use_case
}

fn executor(f: &Fixture, policy: &str, connector: Arc<Noting>) -> Executor {
    let use_case_of: UseCaseOf = Arc::new(|_alerts: &[Alert]| Some("default".to_owned()));
    Executor::new(
        f.store.clone(),
        f.audit.clone(),
        f.clock.clone(),
        PolicyEngine::load(SCHEMA, policy).expect("policy"),
        [autonomous("default"), autonomous("other")],
    )
    .with_use_case_of(use_case_of)
    .with_connector(connector)
}

fn noting() -> Arc<Noting> {
    Arc::new(Noting {
        performed: std::sync::Mutex::new(0),
        during_lookup: None,
    })
}

fn note(case: &Case, text: &str) -> ActionProposal {
    ActionProposal {
        case_id: case.id,
        action: ActionName::CaseNote,
        target: Target::case(case.id),
        parameters: BTreeMap::from([("text".to_owned(), text.to_owned())]),
        proposed_by: "deterministic".into(),
        evidence: vec![],
    }
}

/// A ready order on the record, as stored (after any tampering).
struct Order<'a> {
    use_case: &'a str,
    requester: &'a str,
    needed: u32,
    roles: &'a [&'a str],
}

async fn order(f: &Fixture, p: &ActionProposal, o: &Order<'_>) -> ProposalHash {
    let roles: Vec<String> = o.roles.iter().map(|r| (*r).to_owned()).collect();
    let decision = Decision {
        proposal_hash: p.hash(),
        action: p.action,
        target: p.target.clone(),
        outcome: DecisionOutcome::NeedsApproval {
            approvals: o.needed,
            roles: roles.clone(),
        },
        policy_ids: vec!["test".into()],
        reasons: vec![],
        policy_version: "v".into(),
    };
    f.audit
        .append(
            "system:test",
            AuditEvent::policy_decided(f.case.id, &decision),
        )
        .await
        .expect("audit");
    f.audit
        .append(
            o.requester,
            AuditEvent::ApprovalEvaluated {
                case_id: f.case.id,
                proposal_hash: p.hash(),
                outcome: "requested".into(),
                approvals_required: o.needed,
                roles: roles.clone(),
            },
        )
        .await
        .expect("audit");
    let now = f.clock.now();
    let request = ApprovalRequest {
        proposal: p.clone(),
        proposal_hash: p.hash(),
        decision,
        use_case: o.use_case.into(),
        requester: o.requester.into(),
        card: ApprovalCard {
            title: "note".into(),
            use_case: o.use_case.into(),
            verdict: Verdict::Suspicious,
            severity: Severity::High,
            confidence: 0.9,
            rationale: vec![],
            evidence: vec![],
            side_effects: "note".into(),
            parameters: vec![],
            rollback: "none".into(),
            approvals_required: o.needed,
            roles,
            policy_ids: vec![],
        },
        status: RequestStatus::Ready,
        created_at: now,
        expires_at: now + time::Duration::hours(1),
        supersedes: None,
    };
    assert!(f.store.save_approval_request(&request).await.expect("save"));
    p.hash()
}

/// An approval, stored and on the record.
async fn approve(f: &Fixture, hash: &ProposalHash, who: &str, role: &str) {
    let now = f.clock.now();
    f.audit
        .append(
            &format!("person:{who}"),
            AuditEvent::ApprovalRecorded {
                case_id: f.case.id,
                proposal_hash: hash.clone(),
                approver: who.into(),
                role: role.into(),
                approved: true,
                reason: None,
            },
        )
        .await
        .expect("audit");
    assert!(
        f.store
            .add_approval(&Approval {
                proposal_hash: hash.clone(),
                approver: who.into(),
                role: role.into(),
                approved: true,
                reason: None,
                decided_at: now,
                expires_at: now + time::Duration::hours(1),
            })
            .await
            .expect("approval")
    );
}

#[tokio::test]
async fn the_executor_refuses_an_approval_by_whoever_pushed_the_cases_alert() {
    let f = fixture("http:alice[0]").await;
    let connector = noting();
    let executor = executor(&f, ONE_PERSON, connector.clone());
    let p = note(&f.case, "pushed by alice");
    let hash = order(
        &f,
        &p,
        &Order {
            use_case: "default",
            requester: "agent:default",
            needed: 1,
            roles: &[],
        },
    )
    .await;
    approve(&f, &hash, "Alice", "analyst").await;
    let execution = executor.execute(&hash).await.expect("execute");
    assert_eq!(
        execution.status,
        ExecutionStatus::Refused,
        "{}",
        execution.detail
    );
    assert!(
        execution.detail.contains("0 valid approval"),
        "{}",
        execution.detail
    );
    assert_eq!(*connector.performed.lock().unwrap(), 0);

    // Someone else's approval counts.
    let other = note(&f.case, "pushed by alice, approved by bob");
    let hash = order(
        &f,
        &other,
        &Order {
            use_case: "default",
            requester: "agent:default",
            needed: 1,
            roles: &[],
        },
    )
    .await;
    approve(&f, &hash, "bob", "analyst").await;
    let execution = executor.execute(&hash).await.expect("execute");
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{}",
        execution.detail
    );
}

#[tokio::test]
async fn a_stored_requester_is_not_trusted_over_the_modification_on_record() {
    let f = fixture("alerts/signin.json").await;
    let connector = noting();
    let executor = executor(&f, ONE_PERSON, connector.clone());
    let p = note(&f.case, "modified by mallory");
    // Mallory modified the proposal (on the record), then the stored
    // requester was rewritten so that she could approve it herself.
    f.audit
        .append(
            "person:mallory",
            AuditEvent::ProposalModified {
                case_id: f.case.id,
                from: ProposalHash::from_stored("11".repeat(32)),
                to: ProposalRecord::of(&p),
                by: "mallory".into(),
            },
        )
        .await
        .expect("audit");
    let hash = order(
        &f,
        &p,
        &Order {
            use_case: "default",
            requester: "someone-else",
            needed: 1,
            roles: &[],
        },
    )
    .await;
    approve(&f, &hash, "mallory", "analyst").await;
    let execution = executor.execute(&hash).await.expect("execute");
    assert_eq!(
        execution.status,
        ExecutionStatus::Refused,
        "{}",
        execution.detail
    );
    assert_eq!(*connector.performed.lock().unwrap(), 0);
}

#[tokio::test]
async fn a_stored_use_case_other_than_the_cases_is_refused() {
    let f = fixture("alerts/signin.json").await;
    let connector = noting();
    let executor = executor(&f, ONE_PERSON, connector.clone());
    // The case's alerts belong to `default`, which is paused; the order
    // was rewritten to name `other`, which is not.
    f.store
        .pause("default", "lead", "drill", f.clock.now())
        .await
        .expect("pause");
    let p = note(&f.case, "under another use case");
    let hash = order(
        &f,
        &p,
        &Order {
            use_case: "other",
            requester: "agent:other",
            needed: 1,
            roles: &[],
        },
    )
    .await;
    approve(&f, &hash, "bob", "analyst").await;
    let execution = executor.execute(&hash).await.expect("execute");
    assert_eq!(
        execution.status,
        ExecutionStatus::Refused,
        "{}",
        execution.detail
    );
    assert!(
        execution.detail.contains("belong to default"),
        "{}",
        execution.detail
    );
    assert_eq!(*connector.performed.lock().unwrap(), 0);
}

#[tokio::test]
async fn roles_come_from_the_policy_not_the_stored_card() {
    let f = fixture("alerts/signin.json").await;
    let connector = noting();
    let executor = executor(&f, TWO_LEADS, connector.clone());
    let p = note(&f.case, "two leads");
    // The policy wants two SOC leads; the stored card was widened to
    // analysts, and one lead and one analyst approved.
    let hash = order(
        &f,
        &p,
        &Order {
            use_case: "default",
            requester: "agent:default",
            needed: 2,
            roles: &["soc_lead", "analyst"],
        },
    )
    .await;
    approve(&f, &hash, "carol", "soc_lead").await;
    approve(&f, &hash, "bob", "analyst").await;
    let execution = executor.execute(&hash).await.expect("execute");
    assert_eq!(
        execution.status,
        ExecutionStatus::Refused,
        "{}",
        execution.detail
    );
    assert_eq!(*connector.performed.lock().unwrap(), 0);
}

#[tokio::test]
async fn a_kill_switch_pulled_during_a_connectors_lookup_stops_the_side_effect() {
    let f = fixture("alerts/signin.json").await;
    let store = f.store.clone();
    let clock = f.clock.clone();
    let connector = Arc::new(Noting {
        performed: std::sync::Mutex::new(0),
        during_lookup: Some(Box::new(move || {
            let store = store.clone();
            let now = clock.now();
            Box::pin(async move {
                store
                    .pause("*", "lead", "stop everything", now)
                    .await
                    .expect("pause");
            })
        })),
    });
    let executor = executor(&f, ONE_PERSON, connector.clone());
    let p = note(&f.case, "slow look-up");
    let hash = order(
        &f,
        &p,
        &Order {
            use_case: "default",
            requester: "agent:default",
            needed: 1,
            roles: &[],
        },
    )
    .await;
    approve(&f, &hash, "bob", "analyst").await;
    let execution = executor.execute(&hash).await.expect("execute");
    assert_eq!(
        *connector.performed.lock().unwrap(),
        0,
        "acted while paused"
    );
    assert_eq!(
        execution.status,
        ExecutionStatus::Refused,
        "{}",
        execution.detail
    );
    assert!(
        execution.detail.contains("kill switch"),
        "{}",
        execution.detail
    );
}
