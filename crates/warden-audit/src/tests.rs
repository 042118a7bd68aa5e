use warden_domain::{FixedClock, Stage};
use warden_store::SqliteStore;

use super::*;

async fn log() -> (Arc<SqliteStore>, StoreAuditLog<SqliteStore>) {
    let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let clock = Arc::new(FixedClock::new(OffsetDateTime::UNIX_EPOCH));
    (store.clone(), StoreAuditLog::new(store, clock))
}

#[tokio::test]
async fn appends_are_ordered_typed_and_hashed() {
    let (_store, log) = log().await;
    let case_id = CaseId::new();
    let first = log
        .append(
            "system:test",
            AuditEvent::Escalated {
                case_id,
                reasons: vec!["x".into()],
            },
        )
        .await
        .expect("append");
    let second = log
        .append(
            "system:test",
            AuditEvent::Escalated {
                case_id: CaseId::new(),
                reasons: vec![],
            },
        )
        .await
        .expect("append");
    assert!(second.seq > first.seq);
    let records = log.records(Some(case_id)).await.expect("records");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].leaf_hash, first.leaf_hash);
    assert_eq!(stages_of(&records), [Stage::Decide].into());
    assert_eq!(log.verify_leaves().await.expect("verify"), None);
}

#[test]
fn leaf_hash_is_rfc6962() {
    // RFC 6962 leaf hash of the empty entry: SHA-256 of the single byte 0x00.
    assert_eq!(
        leaf_hash(b""),
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    );
}

#[tokio::test]
async fn a_changed_entry_is_found_by_its_sequence_number() {
    let (store, log) = log().await;
    for n in 0..3 {
        log.append(
            "system:test",
            AuditEvent::Escalated {
                case_id: CaseId::new(),
                reasons: vec![n.to_string()],
            },
        )
        .await
        .expect("append");
    }
    // The table refuses UPDATE; drop the trigger as an attacker with file
    // access would, then change entry 2.
    sqlx::query("DROP TRIGGER audit_log_no_update")
        .execute(store.pool())
        .await
        .expect("drop");
    sqlx::query("UPDATE audit_log SET entry = replace(entry, '\"1\"', '\"9\"') WHERE seq = 2")
        .execute(store.pool())
        .await
        .expect("tamper");
    assert_eq!(log.verify_leaves().await.expect("verify"), Some(2));
}
