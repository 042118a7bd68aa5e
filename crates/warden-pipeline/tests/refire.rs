#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! Re-fires keep the worst (issue 17): a re-fire of the same rule on the
//! same entities that says more than the first copy (a higher severity,
//! other detection text) is not merged away, and the case is scored on it.

use std::sync::Arc;

use serde_json::json;
use time::OffsetDateTime;
use warden_audit::StoreAuditLog;
use warden_domain::{Clock, Disposition, FixedClock, Severity, Verdict};
use warden_enrich::{Context, ContextConfig};
use warden_pipeline::{CaseOutcome, Config, Pipeline};
use warden_policy::PolicyEngine;
use warden_store::SqliteStore;
use warden_testkit::repo;

fn as_of() -> OffsetDateTime {
    OffsetDateTime::parse(
        "2026-11-21T12:00:00Z",
        &time::format_description::well_known::Rfc3339,
    )
    .expect("as_of")
}

/// One OCSF detection of the same rule on the same host and destination;
/// only the time, the vendor's ids, the severity and the text change.
fn transfer(minute: i64, severity_id: u8, severity: &str, uid: &str, message: &str) -> String {
    let time_ms = 1_794_968_104_220_i64 + minute * 60_000;
    json!({
        "activity_id": 1,
        "category_uid": 2,
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "type_uid": 200401,
        "severity_id": severity_id,
        "severity": severity,
        "status_id": 1,
        "time": time_ms,
        "message": message,
        "metadata": {
            "version": "1.3.0",
            "uid": uid,
            "product": {"name": "Corelight Sensor", "vendor_name": "Corelight"}
        },
        "finding_info": {
            "uid": format!("finding-{uid}"),
            "title": "Large outbound transfer",
            "desc": message,
            "analytic": {"uid": "Exfil::Large_Upload", "name": "Large outbound transfer", "type_id": 1},
            "attacks": [{"technique": {"uid": "T1048", "name": "Exfiltration Over Alternative Protocol"},
                          "tactic": {"uid": "TA0010", "name": "Exfiltration"}}]
        },
        "device": {"hostname": "ws-mkt-031", "ip": "10.20.7.31"},
        "dst_endpoint": {"ip": "203.0.113.50"},
        "observables": [
            {"name": "device.hostname", "type": "Hostname", "type_id": 1, "value": "ws-mkt-031"},
            {"name": "device.ip", "type": "IP Address", "type_id": 2, "value": "10.20.7.31"},
            {"name": "dst_endpoint.ip", "type": "IP Address", "type_id": 2, "value": "203.0.113.50"}
        ]
    })
    .to_string()
}

async fn triage(lines: &[String]) -> Vec<CaseOutcome> {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("transfers.jsonl");
    std::fs::write(&file, lines.join("\n")).expect("write alerts");
    let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(as_of()));
    let audit = Arc::new(StoreAuditLog::new(store.clone(), clock.clone()));
    let context = Context::load_at(
        &repo().join("examples/context"),
        &ContextConfig::default(),
        as_of(),
    )
    .expect("examples/context");
    let pipeline = Pipeline::new(
        Config::default(),
        store,
        audit,
        clock,
        PolicyEngine::default_set().expect("policy"),
        context,
    )
    .expect("pipeline");
    let run = pipeline.triage_paths(&[file], None).await.expect("triage");
    assert!(run.rejected.is_empty(), "{:?}", run.rejected);
    run.outcomes
}

const LOW: &str = "2 KB uploaded to 203.0.113.50";
const CRITICAL: &str = "40 MB exfiltrated to 203.0.113.50";

#[tokio::test]
async fn a_critical_re_fire_after_a_low_copy_is_scored_critical_and_not_closed() {
    let low = || transfer(0, 2, "Low", "a-1", LOW);
    let critical = || transfer(7, 5, "Critical", "a-2", CRITICAL);
    let outcomes = triage(&[low(), critical()]).await;
    assert_eq!(outcomes.len(), 1, "one case for one detection");
    let case = &outcomes[0];
    assert_eq!(case.alerts.len(), 2, "{:?}", case.case.grouping_reasons);
    assert_eq!(case.case.alert_count, 2);
    let worst = case.alerts.iter().map(|(a, _)| a.severity.level).max();
    assert_eq!(worst, Some(Severity::Critical));
    // Both descriptions are in what was assessed.
    let descriptions: Vec<&str> = case
        .alerts
        .iter()
        .map(|(a, _)| a.description.as_untrusted_str())
        .collect();
    assert_eq!(descriptions, [LOW, CRITICAL]);
    assert!(
        case.case
            .grouping_reasons
            .iter()
            .any(|r| r.starts_with("re-fire of \"Large outbound transfer\"")),
        "{:?}",
        case.case.grouping_reasons
    );

    // Scored on the worst copy: as the critical copy alone would be, and
    // above the low copy alone.
    let alone = |outcomes: Vec<CaseOutcome>| outcomes.into_iter().next().expect("one case");
    let low_alone = alone(triage(&[low()]).await);
    let critical_alone = alone(triage(&[critical()]).await);
    assert!(
        case.assessment.severity >= critical_alone.assessment.severity,
        "{:?} < {:?}",
        case.assessment.severity,
        critical_alone.assessment.severity
    );
    assert!(
        case.assessment.severity > low_alone.assessment.severity,
        "{:?} <= {:?}",
        case.assessment.severity,
        low_alone.assessment.severity
    );
    assert!(case.assessment.risk_score >= critical_alone.assessment.risk_score);

    let closed_benign = case.case.disposition == Some(Disposition::AutoClosed)
        && matches!(
            case.assessment.verdict,
            Verdict::Benign | Verdict::FalsePositive
        );
    assert!(
        !closed_benign,
        "closed as {:?}: {:?}",
        case.assessment.verdict, case.triggers
    );
}

#[tokio::test]
async fn an_identical_re_fire_still_merges_into_one_alert_with_a_count() {
    let line = |minute, uid| transfer(minute, 3, "Medium", uid, LOW);
    let outcomes = triage(&[line(0, "b-1"), line(3, "b-2"), line(9, "b-3")]).await;
    assert_eq!(outcomes.len(), 1);
    let case = &outcomes[0];
    assert_eq!(case.alerts.len(), 1);
    assert_eq!(case.alerts[0].1, 2);
    assert_eq!(case.alerts[0].0.severity.level, Severity::Medium);
    assert_eq!(case.case.alert_count, 3);
}
