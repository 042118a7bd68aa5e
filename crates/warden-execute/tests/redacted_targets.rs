#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! Assessors see a case with its secrets redacted (S6), so a proposal may
//! name an access key by its placeholder, `[REDACTED:aws_access_key]`. The
//! policy judges the one clear entity of the case behind it (so the
//! built-in "target in case" guard holds), the connector is handed the
//! approved proposal exactly as approved, and the record keeps the
//! placeholder. A placeholder that stands for no entity of the case, or
//! for two, is not in the case, and nothing runs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use time::OffsetDateTime;
use warden_audit::{AuditLog, StoreAuditLog};
use warden_domain::alert::{RuleRef, SourceFormat};
use warden_domain::severity::VendorSeverity;
use warden_domain::{
    ActionName, ActionProposal, Alert, AlertId, Approval, ApprovalCard, ApprovalRequest,
    Assessment, AuditEvent, Case, Clock, Decision, DecisionOutcome, ExecutionStatus, FixedClock,
    Observable, ObservableKind, Provenance, RequestStatus, Severity, Target, Untrusted, UseCase,
    Verdict,
};
use warden_execute::{Connector, ConnectorError, ConnectorOutcome, ConnectorRequest, Executor};
use warden_policy::PolicyEngine;
use warden_store::{SqliteStore, Store};

const SCHEMA: &str = include_str!("../../warden-policy/policies/schema.cedarschema");

/// Disabling a key needs one person, and (like the shipped set) only a
/// target that is one of the case's own entities.
const ONE_PERSON: &str = r#"
@id("test.disable.one-person")
@approvals("1")
permit (principal, action == Warden::Action::"cloud.disable_access_key", resource);

@id("test.target-in-case")
forbid (principal, action in Warden::Action::"catalogue", resource)
unless { context.target_in_case };
"#;

const KEY: &str = "AKIA4CORPCIDEPLOY7KQ";

/// A connector that keeps the targets it was handed.
#[derive(Default)]
struct Keeping {
    targets: Mutex<Vec<Target>>,
}

#[async_trait]
impl Connector for Keeping {
    fn name(&self) -> &str {
        "keeping"
    }
    fn handles(&self, _action: ActionName) -> bool {
        true
    }
    async fn perform(
        &self,
        request: &ConnectorRequest<'_>,
    ) -> Result<ConnectorOutcome, ConnectorError> {
        request.go_ahead().await?;
        self.targets
            .lock()
            .unwrap()
            .push(request.proposal.target.clone());
        Ok(ConnectorOutcome {
            detail: "disabled".into(),
            handle: None,
        })
    }
}

fn alert(keys: &[&str]) -> Alert {
    Alert {
        id: AlertId::new(),
        format: SourceFormat::Guardduty,
        class_uid: 2004,
        product: "test".into(),
        vendor_id: None,
        time: OffsetDateTime::UNIX_EPOCH,
        rule: RuleRef {
            uid: Some("r-1".into()),
            name: "UnauthorizedAccess:IAMUser/TorIPCaller".into(),
        },
        title: Untrusted::new("Tor caller"),
        description: Untrusted::new(""),
        severity: VendorSeverity {
            level: Severity::High,
            original: "high".into(),
        },
        observables: keys
            .iter()
            .map(|key| Observable {
                kind: ObservableKind::CloudResource,
                value: (*key).to_owned(),
                provenance: vec![Provenance::Field {
                    path: "resource.accessKeyDetails.accessKeyId".into(),
                }],
            })
            .collect(),
        attacks: vec![],
        origin: "file:test".into(),
        raw_sha256: "00".into(),
        raw: serde_json::Value::Null,
    }
}

struct Run {
    status: ExecutionStatus,
    detail: String,
    handed: Vec<Target>,
    record: String,
}

/// One ready, approved order to disable `target` on a case whose alert
/// carries `keys`, run through the executor.
async fn run(keys: &[&str], target: &str) -> Run {
    let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(OffsetDateTime::now_utc()));
    let audit = Arc::new(StoreAuditLog::new(store.clone(), clock.clone()));
    let pushed = alert(keys);
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
                verdict: Verdict::Malicious,
                severity: Severity::High,
                confidence: 0.9,
                risk_score: 70.0,
                rationale: vec![],
                proposed_actions: vec![],
            },
        )
        .await
        .expect("assessment");
    let proposal = ActionProposal {
        case_id: case.id,
        action: ActionName::CloudDisableAccessKey,
        target: Target::Entity {
            kind: ObservableKind::CloudResource,
            value: target.to_owned(),
        },
        parameters: BTreeMap::new(),
        proposed_by: "deterministic".into(),
        evidence: vec![],
    };
    let hash = proposal.hash();
    let decision = Decision {
        proposal_hash: hash.clone(),
        action: proposal.action,
        target: proposal.target.clone(),
        outcome: DecisionOutcome::NeedsApproval {
            approvals: 1,
            roles: vec![],
        },
        policy_ids: vec!["test.disable.one-person".into()],
        reasons: vec![],
        policy_version: "v".into(),
    };
    audit
        .append(
            "system:test",
            AuditEvent::policy_decided(case.id, &decision),
        )
        .await
        .expect("audit");
    audit
        .append(
            "agent:cloud",
            AuditEvent::ApprovalEvaluated {
                case_id: case.id,
                proposal_hash: hash.clone(),
                outcome: "requested".into(),
                approvals_required: 1,
                roles: vec![],
            },
        )
        .await
        .expect("audit");
    let now = clock.now();
    assert!(
        store
            .save_approval_request(&ApprovalRequest {
                proposal: proposal.clone(),
                proposal_hash: hash.clone(),
                decision,
                use_case: "cloud".into(),
                requester: "agent:cloud".into(),
                card: ApprovalCard {
                    title: "disable".into(),
                    use_case: "cloud".into(),
                    verdict: Verdict::Malicious,
                    severity: Severity::High,
                    confidence: 0.9,
                    rationale: vec![],
                    evidence: vec![],
                    side_effects: "disables the key".into(),
                    parameters: vec![],
                    rollback: "cloud.enable_access_key".into(),
                    approvals_required: 1,
                    roles: vec![],
                    policy_ids: vec![],
                },
                status: RequestStatus::Ready,
                created_at: now,
                expires_at: now + time::Duration::hours(1),
                supersedes: None,
            })
            .await
            .expect("save")
    );
    audit
        .append(
            "person:bob",
            AuditEvent::ApprovalRecorded {
                case_id: case.id,
                proposal_hash: hash.clone(),
                approver: "bob".into(),
                role: "incident_commander".into(),
                approved: true,
                reason: None,
            },
        )
        .await
        .expect("audit");
    assert!(
        store
            .add_approval(&Approval {
                proposal_hash: hash.clone(),
                approver: "bob".into(),
                role: "incident_commander".into(),
                approved: true,
                reason: None,
                decided_at: now,
                expires_at: now + time::Duration::hours(1),
            })
            .await
            .expect("approval")
    );
    let mut use_case = UseCase::allowing("cloud", [ActionName::CloudDisableAccessKey]);
    use_case.autonomy = warden_domain::Autonomy::Autonomous;
    let connector = Arc::new(Keeping::default());
    let executor = Executor::new(
        store.clone(),
        audit.clone(),
        clock.clone(),
        PolicyEngine::load(SCHEMA, ONE_PERSON).expect("policy"),
        [use_case],
    )
    .with_connector(connector.clone());
    let execution = executor.execute(&hash).await.expect("execute");
    let record = audit
        .records(Some(case.id))
        .await
        .expect("records")
        .iter()
        .map(|r| serde_json::to_string(&r.entry).expect("json"))
        .collect::<Vec<_>>()
        .join("\n");
    let handed = connector.targets.lock().unwrap().clone();
    Run {
        status: execution.status,
        detail: execution.detail,
        handed,
        record,
    }
}

#[tokio::test]
async fn a_redacted_key_is_judged_as_the_one_clear_key_behind_it_and_recorded_redacted() {
    let shown = warden_domain::redact::redacted(KEY);
    assert_eq!(shown, "[REDACTED:aws_access_key]");
    let run = run(&[KEY], &shown).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{}", run.detail);
    // The connector gets the approved proposal as it was approved.
    assert_eq!(
        run.handed,
        vec![Target::Entity {
            kind: ObservableKind::CloudResource,
            value: shown.clone()
        }]
    );
    assert!(run.record.contains("action_started"), "{}", run.record);
    assert!(run.record.contains(&shown));
    assert!(!run.record.contains(KEY), "the clear key is on the record");
}

#[tokio::test]
async fn a_placeholder_behind_two_keys_or_none_is_not_in_the_case() {
    let shown = warden_domain::redact::redacted(KEY);
    for keys in [&[KEY, "AKIA4CORPOTHERKEY7KQ"][..], &[][..]] {
        let run = run(keys, &shown).await;
        assert_ne!(run.status, ExecutionStatus::Succeeded, "{}", run.detail);
        assert!(run.handed.is_empty(), "{:?}", run.handed);
    }
}
