use std::collections::BTreeMap;

use time::OffsetDateTime;
use warden_audit::StoreAuditLog;
use warden_domain::{ApprovalCard, Case, Decision, FixedClock, Severity, Target, Verdict};
use warden_store::{CaseReader, SqliteStore};

use super::*;

struct Fixture {
    store: Arc<SqliteStore>,
    audit: Arc<StoreAuditLog<SqliteStore>>,
    executor: Executor,
    case: Case,
    clock: Arc<dyn Clock>,
}

fn use_case() -> UseCase {
    UseCase::allowing("default", [ActionName::CaseNote])
}

async fn fixture() -> Fixture {
    let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(OffsetDateTime::now_utc()));
    let audit = Arc::new(StoreAuditLog::new(store.clone(), clock.clone()));
    let case = Case::open("c".into(), vec![], 1, vec![], Severity::Low, clock.now());
    store.insert_case(&case, &[]).await.expect("case");
    store
        .save_assessment(
            case.id,
            &Assessment {
                assessor: "deterministic".into(),
                verdict: Verdict::Suspicious,
                severity: Severity::Medium,
                confidence: 0.9,
                risk_score: 50.0,
                rationale: vec![],
                proposed_actions: vec![],
            },
        )
        .await
        .expect("assessment");
    let executor = Executor::new(
        store.clone(),
        audit.clone(),
        clock.clone(),
        PolicyEngine::default_set().expect("policy"),
        [use_case()],
    )
    .with_connector(Arc::new(CaseNoteConnector::new(
        store.clone(),
        clock.clone(),
    )));
    Fixture {
        store,
        audit,
        executor,
        case,
        clock,
    }
}

use warden_domain::Assessment;

fn note(case: &Case) -> ActionProposal {
    ActionProposal {
        case_id: case.id,
        action: ActionName::CaseNote,
        target: Target::case(case.id),
        parameters: BTreeMap::from([("text".to_owned(), "hello".to_owned())]),
        proposed_by: "deterministic".into(),
        evidence: vec![],
    }
}

fn allow(p: &ActionProposal) -> Decision {
    Decision {
        proposal_hash: p.hash(),
        action: p.action,
        target: p.target.clone(),
        outcome: DecisionOutcome::Allow,
        policy_ids: vec!["default.case-note".into()],
        reasons: vec![],
        policy_version: "v".into(),
    }
}

/// An order as the pipeline leaves it: on the record (unless `recorded`
/// is false) and in the store with `status`, needing `required` approvals.
async fn order(
    f: &Fixture,
    p: &ActionProposal,
    status: RequestStatus,
    required: u32,
    recorded: bool,
) -> ProposalHash {
    let decision = allow(p);
    if recorded {
        f.audit
            .append(
                "system:test",
                AuditEvent::policy_decided(f.case.id, &decision),
            )
            .await
            .expect("audit");
        f.audit
            .append(
                "agent:default",
                AuditEvent::ApprovalEvaluated {
                    case_id: f.case.id,
                    proposal_hash: p.hash(),
                    outcome: "requested".into(),
                    approvals_required: required,
                    roles: vec![],
                },
            )
            .await
            .expect("audit");
    }
    let now = f.clock.now();
    let request = ApprovalRequest {
        proposal: p.clone(),
        proposal_hash: p.hash(),
        decision,
        use_case: "default".into(),
        requester: "agent:default".into(),
        card: ApprovalCard {
            title: "note".into(),
            use_case: "default".into(),
            verdict: Verdict::Suspicious,
            severity: Severity::Medium,
            confidence: 0.9,
            rationale: vec![],
            evidence: vec![],
            side_effects: "note".into(),
            parameters: vec![],
            rollback: "none".into(),
            approvals_required: required,
            roles: vec![],
            policy_ids: vec![],
        },
        status,
        created_at: now,
        expires_at: now + time::Duration::hours(1),
        supersedes: None,
    };
    assert!(f.store.save_approval_request(&request).await.expect("save"));
    p.hash()
}

async fn notes(f: &Fixture) -> usize {
    f.store.notes_of_case(f.case.id).await.expect("notes").len()
}

#[tokio::test]
async fn a_ready_order_runs_once_and_every_attempt_is_recorded() {
    let f = fixture().await;
    let hash = order(&f, &note(&f.case), RequestStatus::Ready, 0, true).await;
    let first = f.executor.execute(&hash).await.expect("execute");
    let second = f.executor.execute(&hash).await.expect("execute");
    assert_eq!(first.status, ExecutionStatus::Succeeded, "{}", first.detail);
    assert_eq!(second.status, ExecutionStatus::Refused);
    assert!(second.detail.contains("not ready"), "{}", second.detail);
    assert_eq!(notes(&f).await, 1);
    let request = f
        .store
        .approval_request(&hash)
        .await
        .expect("read")
        .expect("request");
    assert_eq!(request.status, RequestStatus::Executed);
    let executed = f
        .audit
        .records(Some(f.case.id))
        .await
        .expect("records")
        .iter()
        .filter(|r| matches!(r.entry.event, AuditEvent::ActionExecuted { .. }))
        .count();
    assert_eq!(executed, 2);
}

#[tokio::test]
async fn the_kill_switch_stops_execution() {
    let f = fixture().await;
    let hash = order(&f, &note(&f.case), RequestStatus::Ready, 0, true).await;
    f.store
        .pause("default", "lead", "drill", f.clock.now())
        .await
        .expect("pause");
    let execution = f.executor.execute(&hash).await.expect("execute");
    assert_eq!(execution.status, ExecutionStatus::Refused);
    assert!(execution.detail.contains("kill switch"));
    assert_eq!(notes(&f).await, 0);
}

#[tokio::test]
async fn a_decision_missing_from_the_audit_log_is_refused() {
    let f = fixture().await;
    let hash = order(&f, &note(&f.case), RequestStatus::Ready, 0, false).await;
    let execution = f.executor.execute(&hash).await.expect("execute");
    assert_eq!(execution.status, ExecutionStatus::Refused);
    assert!(
        execution.detail.contains("not in the audit log"),
        "{}",
        execution.detail
    );
    assert_eq!(notes(&f).await, 0);
}

/// The card is not part of the proposal hash, so a store writer could
/// lower it after the opening was recorded; the record's card wins.
#[tokio::test]
async fn a_stored_card_that_differs_from_the_record_is_refused() {
    let f = fixture().await;
    let p = note(&f.case);
    // Opened on the record as needing one analyst, stored as needing nobody.
    let hash = order(&f, &p, RequestStatus::Ready, 0, false).await;
    f.audit
        .append(
            "system:test",
            AuditEvent::policy_decided(f.case.id, &allow(&p)),
        )
        .await
        .expect("audit");
    f.audit
        .append(
            "agent:default",
            AuditEvent::ApprovalEvaluated {
                case_id: f.case.id,
                proposal_hash: hash.clone(),
                outcome: "requested".into(),
                approvals_required: 1,
                roles: vec!["analyst".into()],
            },
        )
        .await
        .expect("audit");
    let execution = f.executor.execute(&hash).await.expect("execute");
    assert_eq!(execution.status, ExecutionStatus::Refused);
    assert!(
        execution
            .detail
            .contains("differs from the card on the record (1 by analyst)"),
        "{}",
        execution.detail
    );
    assert_eq!(notes(&f).await, 0);
}

#[tokio::test]
async fn shadow_and_draft_never_run_even_when_ready() {
    for autonomy in [Autonomy::Shadow, Autonomy::Draft] {
        let f = fixture().await;
        let hash = order(&f, &note(&f.case), RequestStatus::Ready, 0, true).await;
        f.store
            .set_autonomy("default", autonomy, "lead", "test", f.clock.now())
            .await
            .expect("autonomy");
        let execution = f.executor.execute(&hash).await.expect("execute");
        assert_eq!(execution.status, ExecutionStatus::Refused, "{autonomy}");
        assert!(
            execution.detail.contains("autonomy"),
            "{}",
            execution.detail
        );
        assert_eq!(notes(&f).await, 0);
    }
}

#[tokio::test]
async fn a_ready_order_without_its_approvals_is_refused() {
    let f = fixture().await;
    // Marked ready in the store, but nobody approved it.
    let hash = order(&f, &note(&f.case), RequestStatus::Ready, 1, true).await;
    let execution = f.executor.execute(&hash).await.expect("execute");
    assert_eq!(execution.status, ExecutionStatus::Refused);
    assert!(
        execution.detail.contains("0 valid approval"),
        "{}",
        execution.detail
    );
    assert_eq!(notes(&f).await, 0);
}

#[tokio::test]
async fn pending_or_unknown_orders_are_refused() {
    let f = fixture().await;
    let hash = order(&f, &note(&f.case), RequestStatus::Pending, 1, true).await;
    let execution = f.executor.execute(&hash).await.expect("execute");
    assert_eq!(execution.status, ExecutionStatus::Refused);
    let unknown = f
        .executor
        .execute(&ProposalHash::from_stored("00".repeat(32)))
        .await
        .expect("execute");
    assert_eq!(unknown.status, ExecutionStatus::Refused);
    assert_eq!(notes(&f).await, 0);
}

#[tokio::test]
async fn recovery_finishes_an_interrupted_execution_exactly_once() {
    let f = fixture().await;
    let p = note(&f.case);
    let hash = order(&f, &p, RequestStatus::Ready, 0, true).await;
    // The executor claimed the key and died before acting.
    f.store
        .claim_execution(f.case.id, hash.as_str(), &hash, f.clock.now())
        .await
        .expect("claim");
    let again = f.executor.execute(&hash).await.expect("execute");
    assert_eq!(again.status, ExecutionStatus::Refused, "the claim holds");
    assert_eq!(notes(&f).await, 0);
    let recovered = f.executor.recover().await.expect("recover");
    assert_eq!(recovered.len(), 1);
    assert_eq!(
        recovered[0].status,
        ExecutionStatus::Succeeded,
        "{}",
        recovered[0].detail
    );
    assert_eq!(notes(&f).await, 1);
    assert!(f.executor.recover().await.expect("recover").is_empty());
    assert!(f.executor.run_ready().await.expect("run").is_empty());
    assert_eq!(notes(&f).await, 1);
}

/// A connector that looks at the audit log when it is asked to act: the
/// start of the action must already be on the record (S5).
struct Witnessing {
    audit: Arc<dyn AuditLog>,
    case_id: warden_domain::CaseId,
    seen: std::sync::Mutex<Vec<bool>>,
}

#[async_trait]
impl Connector for Witnessing {
    fn name(&self) -> &str {
        "witnessing"
    }
    fn handles(&self, _action: ActionName) -> bool {
        true
    }
    async fn perform(
        &self,
        request: &ConnectorRequest<'_>,
    ) -> Result<ConnectorOutcome, ConnectorError> {
        let records = self
            .audit
            .records(Some(self.case_id))
            .await
            .expect("records");
        let started = records.iter().any(|r| {
            r.entry.event.kind() == "action_started"
                && serde_json::to_value(&r.entry.event).expect("json")["idempotency_key"]
                    == request.idempotency_key
        });
        self.seen.lock().expect("lock").push(started);
        Ok(ConnectorOutcome {
            detail: "done".into(),
            handle: None,
        })
    }
}

#[tokio::test]
async fn action_started_is_on_the_record_before_the_connector_acts() {
    let f = fixture().await;
    let witness = Arc::new(Witnessing {
        audit: f.audit.clone(),
        case_id: f.case.id,
        seen: std::sync::Mutex::new(Vec::new()),
    });
    let executor = Executor::new(
        f.store.clone(),
        f.audit.clone(),
        f.clock.clone(),
        PolicyEngine::default_set().expect("policy"),
        [use_case()],
    )
    .with_connector(witness.clone());
    let hash = order(&f, &note(&f.case), RequestStatus::Ready, 0, true).await;
    let execution = executor.execute(&hash).await.expect("execute");
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{}",
        execution.detail
    );
    assert_eq!(*witness.seen.lock().expect("lock"), vec![true]);
    // Started, then executed, for the same key, in that order.
    let kinds: Vec<&str> = f
        .audit
        .records(Some(f.case.id))
        .await
        .expect("records")
        .iter()
        .map(|r| r.entry.event.kind())
        .filter(|k| k.starts_with("action_"))
        .collect();
    assert_eq!(kinds, ["action_started", "action_executed"]);
}

#[tokio::test]
async fn an_order_closed_on_the_record_is_refused_whatever_the_store_says() {
    let f = fixture().await;
    let hash = order(&f, &note(&f.case), RequestStatus::Ready, 0, true).await;
    // The rejection was recorded, and its status change lost a race.
    f.audit
        .append(
            "system:approvals",
            AuditEvent::RequestClosed {
                case_id: f.case.id,
                proposal_hash: hash.clone(),
                status: RequestStatus::Rejected,
                reason: "wrong_target: no".into(),
            },
        )
        .await
        .expect("audit");
    let execution = f.executor.execute(&hash).await.expect("execute");
    assert_eq!(execution.status, ExecutionStatus::Refused);
    assert!(
        execution.detail.contains("rejected"),
        "{}",
        execution.detail
    );
    assert_eq!(notes(&f).await, 0);
}
