use std::collections::BTreeMap;

use time::OffsetDateTime;
use warden_audit::StoreAuditLog;
use warden_domain::{Case, Decision, DecisionOutcome, FixedClock, Severity, Target};
use warden_store::{CaseReader, SqliteStore};

use super::*;

struct Fixture {
    store: Arc<SqliteStore>,
    audit: Arc<StoreAuditLog<SqliteStore>>,
    executor: Executor,
    case: Case,
}

async fn fixture() -> Fixture {
    let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(OffsetDateTime::now_utc()));
    let audit = Arc::new(StoreAuditLog::new(store.clone(), clock.clone()));
    let case = Case::open("c".into(), vec![], 1, vec![], Severity::Low, clock.now());
    store.insert_case(&case, &[]).await.expect("case");
    let executor = Executor::new(
        store.clone(),
        audit.clone(),
        clock.clone(),
        vec![Arc::new(CaseNoteConnector::new(store.clone(), clock))],
    );
    Fixture {
        store,
        audit,
        executor,
        case,
    }
}

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

async fn put_on_record(f: &Fixture, d: &Decision) {
    f.audit
        .append("system:test", AuditEvent::policy_decided(f.case.id, d))
        .await
        .expect("audit");
}

#[tokio::test]
async fn runs_once_and_records_every_attempt() {
    let f = fixture().await;
    let p = note(&f.case);
    let d = allow(&p);
    put_on_record(&f, &d).await;
    let order = warden_approve::release(p, d, &[], "agent:default", OffsetDateTime::now_utc())
        .expect("released");
    let first = f
        .executor
        .execute(&order, "default")
        .await
        .expect("execute");
    let second = f
        .executor
        .execute(&order, "default")
        .await
        .expect("execute");
    assert_eq!(first.status, ExecutionStatus::Succeeded);
    assert_eq!(second.status, ExecutionStatus::Refused);
    assert!(second.detail.contains("already executed"));
    assert_eq!(
        f.store.notes_of_case(f.case.id).await.expect("notes").len(),
        1
    );
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
async fn kill_switch_stops_execution() {
    let f = fixture().await;
    let p = note(&f.case);
    let d = allow(&p);
    put_on_record(&f, &d).await;
    f.store
        .pause("*", "lead", "drill", OffsetDateTime::now_utc())
        .await
        .expect("pause");
    let order = warden_approve::release(p, d, &[], "agent:default", OffsetDateTime::now_utc())
        .expect("released");
    let execution = f
        .executor
        .execute(&order, "default")
        .await
        .expect("execute");
    assert_eq!(execution.status, ExecutionStatus::Refused);
    assert!(execution.detail.contains("kill switch"));
    assert!(
        f.store
            .notes_of_case(f.case.id)
            .await
            .expect("notes")
            .is_empty()
    );
}

#[tokio::test]
async fn a_decision_missing_from_the_audit_log_is_refused() {
    let f = fixture().await;
    let p = note(&f.case);
    let order = warden_approve::release(
        p.clone(),
        allow(&p),
        &[],
        "agent:default",
        OffsetDateTime::now_utc(),
    )
    .expect("released");
    let execution = f
        .executor
        .execute(&order, "default")
        .await
        .expect("execute");
    assert_eq!(execution.status, ExecutionStatus::Refused);
    assert!(execution.detail.contains("not in the audit log"));
}
