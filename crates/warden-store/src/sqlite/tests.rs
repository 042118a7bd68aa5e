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
async fn audit_rows_tree_and_checkpoints_cannot_be_updated_or_deleted() {
    let store = SqliteStore::in_memory().await.expect("open");
    let row = NewAuditRow {
        at: OffsetDateTime::now_utc(),
        actor: "t".into(),
        stage: "ingest".into(),
        kind: "k".into(),
        case_id: None,
        entry: "{}".into(),
        leaf_hash: "00".repeat(32),
    };
    store.append_audit(&[row]).await.expect("append");
    store
        .add_checkpoint(&crate::StoredCheckpoint {
            size: 1,
            root: "r".into(),
            note: "n".into(),
            at: OffsetDateTime::now_utc(),
        })
        .await
        .expect("checkpoint");
    let mut attempts = Vec::new();
    for sql in [
        "UPDATE audit_log SET entry = '{\"x\":1}'",
        "DELETE FROM audit_log",
        "UPDATE audit_tree SET hash = x'00'",
        "DELETE FROM audit_tree",
        "UPDATE audit_checkpoints SET note = 'forged'",
        "DELETE FROM audit_checkpoints",
    ] {
        attempts.push(sqlx::query(sql).execute(store.pool()).await);
    }
    for result in attempts {
        let err = result.expect_err("must be refused").to_string();
        assert!(err.contains("append-only"), "{err}");
    }
}

#[tokio::test]
async fn related_cases_query_searches_the_entity_index() {
    let store = SqliteStore::in_memory().await.expect("open");
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "EXPLAIN QUERY PLAN {RELATED_CASES_SQL}"
    )))
    .bind(r#"[["host","ws-1"]]"#)
    .bind(None::<String>)
    .bind(10_i64)
    .fetch_all(store.pool())
    .await
    .expect("plan");
    let plan: Vec<String> = rows.iter().map(|r| r.get::<String, _>(3)).collect();
    assert!(
        plan.iter()
            .any(|step| step.starts_with("SEARCH e USING COVERING INDEX case_entities_by_value")),
        "{plan:#?}"
    );
    assert!(
        !plan.iter().any(|step| step.starts_with("SCAN e")),
        "{plan:#?}"
    );
}

/// A store created before migration 0003 upgrades in place. Its old cases
/// stay readable but have no entity rows, so they are not found as related
/// cases (nothing is backfilled); cases stored afterwards are.
#[tokio::test]
async fn store_from_before_case_entities_upgrades() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("warden.db");
    let at = OffsetDateTime::UNIX_EPOCH + time::Duration::days(19_800);
    let old_alert = crate::conformance::sample_alert("legacy-host", at);
    let old_case = Case::open(
        "Test rule".into(),
        vec![old_alert.id],
        1,
        vec![],
        warden_domain::Severity::High,
        at,
    );
    {
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("connect");
        migrator().run_to(2, &pool).await.expect("migrate to 0002");
        // What `insert_case` wrote before 0003.
        sqlx::query(
            "INSERT INTO cases (id, state, title, severity, alert_count, created_at, updated_at, \
             body) VALUES (?, 'new', 'Test rule', 'high', 1, ?, ?, ?)",
        )
        .bind(old_case.id.to_string())
        .bind(ts(at).expect("ts"))
        .bind(ts(at).expect("ts"))
        .bind(encode("case", &old_case).expect("encode"))
        .execute(&pool)
        .await
        .expect("old case");
        sqlx::query(
            "INSERT INTO alerts (id, case_id, format, fingerprint, rule, severity, occurred_at, \
             origin, raw_sha256, body, ingested_at) VALUES (?, ?, 'ecs', 'f', 'Test rule', \
             'high', ?, 'test.json', '00', ?, ?)",
        )
        .bind(old_alert.id.to_string())
        .bind(old_case.id.to_string())
        .bind(ts(at).expect("ts"))
        .bind(encode("alert", &old_alert).expect("encode"))
        .bind(ts(at).expect("ts"))
        .execute(&pool)
        .await
        .expect("old alert");
        // Audit entries written before the store kept a Merkle tree.
        migrator().run_to(4, &pool).await.expect("migrate to 0004");
        for n in 1..=3_u8 {
            sqlx::query(
                "INSERT INTO audit_log (at, actor, stage, kind, case_id, entry, leaf_hash) \
                 VALUES (?, 't', 'ingest', 'k', NULL, '{}', ?)",
            )
            .bind(ts(at).expect("ts"))
            .bind(format!("{n:064x}"))
            .execute(&pool)
            .await
            .expect("old audit entry");
        }
        pool.close().await;
    }

    let store = SqliteStore::open(&path).await.expect("upgrade");
    // The upgrade built the tree over the old entries, and appends extend it.
    let leaves: Vec<crate::merkle::Hash> = (1..=3_u8)
        .map(|n| {
            let mut bytes = [0_u8; 32];
            bytes[31] = n;
            crate::merkle::Hash(bytes)
        })
        .collect();
    let rebuilt = crate::merkle::extend(0, &[], &leaves).expect("rebuild");
    assert_eq!(store.audit_tree().await.expect("tree"), rebuilt.hashes);
    let applied: Vec<i64> = sqlx::query("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(store.pool())
        .await
        .expect("migrations")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(applied, vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(store.case(old_case.id).await.expect("read"), Some(old_case));
    let host = vec![(ObservableKind::Host, "legacy-host".to_owned())];
    assert!(
        store
            .related_cases(&host, None, 10)
            .await
            .expect("related")
            .is_empty()
    );

    let later = at + time::Duration::hours(1);
    let new_alert = crate::conformance::sample_alert("legacy-host", later);
    let new_case = Case::open(
        "Test rule".into(),
        vec![new_alert.id],
        1,
        vec![],
        warden_domain::Severity::High,
        later,
    );
    store
        .insert_case(&new_case, &[(new_alert, 0)])
        .await
        .expect("insert");
    let related = store.related_cases(&host, None, 10).await.expect("related");
    assert_eq!(
        related.iter().map(|r| r.case.id).collect::<Vec<_>>(),
        vec![new_case.id]
    );
    assert_eq!(related[0].rules, vec!["Test rule".to_owned()]);
}
