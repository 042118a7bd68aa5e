use super::*;

#[tokio::test]
async fn conformance_in_memory() {
    let store = SqliteStore::in_memory().await.expect("open");
    crate::conformance::run_all(&store)
        .await
        .expect("conformance");
}

#[tokio::test]
async fn conformance_on_disk_and_reopen_keeps_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("warden.db");
    let store = SqliteStore::open(&path).await.expect("open");
    crate::conformance::run_all(&store)
        .await
        .expect("conformance");
    let before = store.audit_rows(None).await.expect("rows").len();
    drop(store);
    let reopened = SqliteStore::open(&path).await.expect("reopen");
    assert_eq!(reopened.audit_rows(None).await.expect("rows").len(), before);
}

#[tokio::test]
async fn audit_rows_cannot_be_updated_or_deleted() {
    let store = SqliteStore::in_memory().await.expect("open");
    let row = NewAuditRow {
        at: OffsetDateTime::now_utc(),
        actor: "t".into(),
        stage: "ingest".into(),
        kind: "k".into(),
        case_id: None,
        entry: "{}".into(),
        leaf_hash: "00".into(),
    };
    store.append_audit(&row).await.expect("append");
    let update = sqlx::query("UPDATE audit_log SET entry = '{\"x\":1}'")
        .execute(store.pool())
        .await;
    let delete = sqlx::query("DELETE FROM audit_log")
        .execute(store.pool())
        .await;
    for result in [update, delete] {
        let err = result.expect_err("must be refused").to_string();
        assert!(err.contains("append-only"), "{err}");
    }
}
