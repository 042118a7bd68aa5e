//! The PostgreSQL backend against the shared contract, plus what only a
//! shared server can show: several pools (replicas) writing at once.

use std::sync::Arc;

use super::testing::TestSchema;
use super::*;

/// A fresh schema, or `None` when PostgreSQL is unreachable and not
/// required (see [`testing`]).
async fn schema(test: &str) -> Option<TestSchema> {
    match TestSchema::create(test).await {
        Ok(schema) => schema,
        Err(why) => panic!("{why}"),
    }
}

fn audit_row(n: u64) -> NewAuditRow {
    NewAuditRow {
        at: OffsetDateTime::now_utc(),
        actor: "test".into(),
        stage: "ingest".into(),
        kind: "k".into(),
        case_id: None,
        entry: format!("{{\"n\":{n}}}"),
        leaf_hash: format!("{n:064x}"),
    }
}

#[tokio::test]
async fn pg_conformance() {
    let Some(schema) = schema("pg_conformance").await else {
        return;
    };
    let store = schema.store().await.expect("open");
    crate::conformance::run_all(&store)
        .await
        .expect("conformance");
    // A second replica (its own pool) sees what the first wrote.
    let other = schema.store().await.expect("second pool");
    assert_eq!(
        other.audit_rows(None).await.expect("rows"),
        store.audit_rows(None).await.expect("rows")
    );
}

#[tokio::test]
async fn pg_audit_rows_tree_checkpoints_and_approvals_cannot_be_updated_or_deleted() {
    let Some(schema) = schema("pg_append_only").await else {
        return;
    };
    let store = schema.store().await.expect("open");
    store.append_audit(&[audit_row(1)]).await.expect("append");
    store
        .add_checkpoint(&StoredCheckpoint {
            size: 1,
            root: "r".into(),
            note: "n".into(),
            at: OffsetDateTime::now_utc(),
        })
        .await
        .expect("checkpoint");
    let mut refused = Vec::new();
    for sql in [
        "UPDATE audit_log SET entry = '{\"x\":1}'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "UPDATE audit_tree SET hash = '\\x00'",
        "DELETE FROM audit_tree",
        "TRUNCATE audit_tree",
        "UPDATE audit_checkpoints SET note = 'forged'",
        "DELETE FROM audit_checkpoints",
        "TRUNCATE audit_checkpoints",
        "UPDATE approvals SET approved = TRUE",
        "DELETE FROM approvals",
        "TRUNCATE approvals CASCADE",
    ] {
        let result = sqlx::query(sql).execute(store.pool()).await;
        refused.push((sql, result.map(|r| r.rows_affected())));
    }
    for (sql, result) in refused {
        let err = result.expect_err(sql).to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(store.audit_size().await.expect("size"), 1);
    assert_eq!(store.checkpoints().await.expect("checkpoints").len(), 1);
}

/// Appends from several pools (as from several replicas) at once form one
/// gap-free sequence, and the stored tree is the tree of that sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_appends_from_several_replicas_form_one_sequence_and_one_tree() {
    let Some(schema) = schema("pg_replica_appends").await else {
        return;
    };
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(Arc::new(schema.store().await.expect("open")));
    }
    let mut tasks = Vec::new();
    for (r, store) in replicas.iter().enumerate() {
        for t in 0..4_u64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut firsts = Vec::new();
                for i in 0..15_u64 {
                    let n = (r as u64) * 1_000 + t * 100 + i;
                    // Batches of one and of three, as group commit makes them.
                    let batch: Vec<NewAuditRow> = if i % 5 == 0 {
                        vec![audit_row(n), audit_row(n + 50), audit_row(n + 70)]
                    } else {
                        vec![audit_row(n)]
                    };
                    let appended = store.append_audit(&batch).await.expect("append");
                    firsts.push((appended.first_seq, batch.len() as u64));
                }
                firsts
            }));
        }
    }
    let mut claimed = Vec::new();
    for task in tasks {
        for (first, len) in task.await.expect("join") {
            claimed.extend(first..first + len);
        }
    }
    claimed.sort_unstable();
    let total = claimed.len() as u64;
    assert_eq!(claimed, (1..=total).collect::<Vec<u64>>(), "one sequence");
    let store = &replicas[0];
    let rows = store.audit_rows(None).await.expect("rows");
    assert_eq!(rows.len() as u64, total);
    let leaves: Vec<merkle::Hash> = rows
        .iter()
        .map(|r| {
            let mut bytes = [0_u8; 32];
            hex::decode_to_slice(&r.leaf_hash, &mut bytes).expect("hex");
            merkle::Hash(bytes)
        })
        .collect();
    let rebuilt = merkle::extend(0, &[], &leaves).expect("rebuild");
    assert_eq!(store.audit_tree().await.expect("tree"), rebuilt.hashes);
}

/// However many replicas race for one idempotency key, one claims it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_one_claim_per_key_across_replicas() {
    let Some(schema) = schema("pg_claims").await else {
        return;
    };
    let first = Arc::new(schema.store().await.expect("open"));
    let second = Arc::new(schema.store().await.expect("open"));
    let now = OffsetDateTime::now_utc();
    let case = Case::open(
        "c".into(),
        vec![],
        0,
        vec![],
        warden_domain::Severity::Low,
        now,
    );
    first.insert_case(&case, &[]).await.expect("case");
    let hash = ProposalHash::from_stored("p".repeat(64));
    for key in 0..20 {
        let mut tasks = Vec::new();
        for store in [&first, &second, &first, &second] {
            let store = store.clone();
            let hash = hash.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .claim_execution(case.id, &format!("key-{key}"), &hash, now)
                    .await
                    .expect("claim")
            }));
        }
        let mut claims = Vec::new();
        for task in tasks {
            claims.push(task.await.expect("join"));
        }
        assert_eq!(
            claims.iter().filter(|c| **c == Claim::Claimed).count(),
            1,
            "key-{key}: {claims:?}"
        );
    }
}

#[tokio::test]
async fn pg_sessions_and_tokens_round_trip() {
    let Some(schema) = schema("pg_auth").await else {
        return;
    };
    let store = schema.store().await.expect("open");
    let now = OffsetDateTime::now_utc();
    store
        .add_person(&Person {
            name: "alice".into(),
            roles: vec!["analyst".into()],
            password_hash: "$argon2id$x".into(),
            created_at: now,
        })
        .await
        .expect("person");
    let session = Session {
        token_hash: "a".repeat(64),
        person: "Alice".into(),
        csrf_token: "c".into(),
        created_at: now,
        expires_at: now + time::Duration::minutes(5),
    };
    store.add_session(&session).await.expect("session");
    let expired = Session {
        token_hash: "b".repeat(64),
        expires_at: now - time::Duration::seconds(1),
        ..session.clone()
    };
    store.add_session(&expired).await.expect("expired session");
    let loaded = store.session(&session.token_hash).await.expect("load");
    assert_eq!(
        loaded,
        Some(Session {
            person: "alice".into(),
            ..session.clone()
        })
    );
    assert_eq!(store.delete_expired_sessions(now).await.expect("sweep"), 1);
    assert!(
        store
            .session(&expired.token_hash)
            .await
            .expect("gone")
            .is_none()
    );
    store
        .delete_session(&session.token_hash)
        .await
        .expect("delete");
    assert!(
        store
            .session(&session.token_hash)
            .await
            .expect("gone")
            .is_none()
    );

    let token = ApiToken {
        id: "t1".into(),
        name: "splunk-prod".into(),
        token_hash: "d".repeat(64),
        scopes: vec!["alerts:write".into()],
        created_by: "alice".into(),
        created_at: now,
        revoked_at: None,
    };
    assert!(store.add_api_token(&token).await.expect("token"));
    assert!(
        !store
            .add_api_token(&ApiToken {
                id: "t2".into(),
                token_hash: "e".repeat(64),
                ..token.clone()
            })
            .await
            .expect("same name")
    );
    assert_eq!(
        store
            .api_token_by_hash(&token.token_hash)
            .await
            .expect("by hash"),
        Some(token.clone())
    );
    assert!(
        store
            .revoke_api_token("splunk-prod", now)
            .await
            .expect("revoke")
    );
    assert!(
        !store
            .revoke_api_token("splunk-prod", now)
            .await
            .expect("again")
    );
    let tokens = store.api_tokens().await.expect("tokens");
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].revoked_at, Some(now));
}

/// The same text orders the same way on both backends, whatever the
/// database's locale: names with mixed case and punctuation.
#[tokio::test]
async fn pg_lists_order_by_bytes_as_sqlite_does() {
    let Some(schema) = schema("pg_byte_order").await else {
        return;
    };
    let pg = schema.store().await.expect("open");
    let sqlite = crate::SqliteStore::in_memory().await.expect("sqlite");
    let now = OffsetDateTime::now_utc();
    for scope in ["b-case", "B_case", "a.case", "_z", "Zed", "*"] {
        for store in [&pg as &dyn Store, &sqlite as &dyn Store] {
            store.pause(scope, "t", "r", now).await.expect("pause");
        }
    }
    let scopes = |pauses: Vec<Pause>| pauses.into_iter().map(|p| p.scope).collect::<Vec<_>>();
    assert_eq!(
        scopes(pg.pauses().await.expect("pg")),
        scopes(sqlite.pauses().await.expect("sqlite"))
    );
}

#[test]
fn urls_are_masked() {
    assert_eq!(
        mask_url("postgres://warden:s3cr3t@db.example:5432/warden"),
        "postgres://warden:***@db.example:5432/warden"
    );
    assert_eq!(
        mask_url("postgres://warden@db/warden?sslmode=require&password=s3cr3t"),
        "postgres://warden@db/warden?sslmode=require&password=***"
    );
    assert_eq!(
        mask_url("postgres://w:p%40ss@host/db"),
        "postgres://w:***@host/db"
    );
    assert_eq!(mask_url("postgres://host/db"), "postgres://host/db");
}

/// Unreachable at start: the error names the URL (password masked) and
/// what failed.
#[tokio::test]
async fn an_unreachable_server_is_named_without_its_password() {
    // Port 1 on loopback: nothing listens there.
    let err = PgStore::connect("postgres://warden:s3cr3t@127.0.0.1:1/warden")
        .await
        .expect_err("nothing listens on port 1");
    let message = err.to_string();
    assert!(
        message.contains("postgres://warden:***@127.0.0.1:1/warden"),
        "{message}"
    );
    assert!(!message.contains("s3cr3t"), "{message}");
    assert!(
        message.to_lowercase().contains("connection refused"),
        "{message}"
    );
}

/// An embedded store copied into PostgreSQL reads back the same through
/// every reader call, keeps its audit tree and checkpoints, refuses a
/// second copy on top, and keeps working afterwards.
#[tokio::test]
async fn pg_copy_from_sqlite_reads_back_the_same() {
    let Some(schema) = schema("pg_copy").await else {
        return;
    };
    let sqlite = crate::SqliteStore::in_memory().await.expect("sqlite");
    crate::conformance::run_all(&sqlite)
        .await
        .expect("conformance on sqlite");
    let now = OffsetDateTime::now_utc();
    sqlite
        .add_session(&Session {
            token_hash: "f".repeat(64),
            person: "bob".into(),
            csrf_token: "c".into(),
            created_at: now,
            expires_at: now + time::Duration::hours(1),
        })
        .await
        .expect("session");
    let pg = schema.store().await.expect("open");
    let report = crate::copy::sqlite_to_postgres(&sqlite, &pg)
        .await
        .expect("copy");
    let audit = report
        .tables
        .iter()
        .find(|(name, _)| *name == "audit_log")
        .map(|(_, n)| *n);
    assert_eq!(audit, Some(sqlite.audit_size().await.expect("size")));

    assert_eq!(
        pg.audit_rows(None).await.expect("pg rows"),
        sqlite.audit_rows(None).await.expect("sqlite rows")
    );
    assert_eq!(
        pg.audit_tree().await.expect("pg tree"),
        sqlite.audit_tree().await.expect("sqlite tree")
    );
    assert_eq!(
        pg.checkpoints().await.expect("pg"),
        sqlite.checkpoints().await.expect("sqlite")
    );
    // Compared as sets: SQLite orders the case list by the RFC 3339 text,
    // which puts "00:00:00.25Z" before "00:00:00Z"; PostgreSQL orders by
    // the instant, as the contract says ("most recently updated first").
    let by_id = |mut cases: Vec<warden_domain::Case>| {
        cases.sort_by_key(|c| c.id.to_string());
        cases
    };
    let cases = by_id(sqlite.cases(1_000).await.expect("cases"));
    assert!(!cases.is_empty());
    assert_eq!(by_id(pg.cases(1_000).await.expect("pg cases")), cases);
    for case in &cases {
        assert_eq!(
            pg.alerts_of_case(case.id).await.expect("pg"),
            sqlite.alerts_of_case(case.id).await.expect("sqlite")
        );
        assert_eq!(
            pg.evidence_of_case(case.id).await.expect("pg"),
            sqlite.evidence_of_case(case.id).await.expect("sqlite")
        );
        assert_eq!(
            pg.notes_of_case(case.id).await.expect("pg"),
            sqlite.notes_of_case(case.id).await.expect("sqlite")
        );
        assert_eq!(
            pg.executions_of_case(case.id).await.expect("pg"),
            sqlite.executions_of_case(case.id).await.expect("sqlite")
        );
        assert_eq!(
            pg.gaps_of_case(case.id).await.expect("pg"),
            sqlite.gaps_of_case(case.id).await.expect("sqlite")
        );
    }
    assert_eq!(
        pg.approval_requests(None, None).await.expect("pg"),
        sqlite.approval_requests(None, None).await.expect("sqlite")
    );
    assert_eq!(
        pg.unfinished_executions().await.expect("pg"),
        sqlite.unfinished_executions().await.expect("sqlite")
    );
    assert_eq!(
        pg.people().await.expect("pg"),
        sqlite.people().await.expect("sqlite")
    );
    assert_eq!(
        pg.dead_letters().await.expect("pg"),
        sqlite.dead_letters().await.expect("sqlite")
    );
    assert_eq!(
        pg.reviews("endpoint-malware", 10).await.expect("pg"),
        sqlite
            .reviews("endpoint-malware", 10)
            .await
            .expect("sqlite")
    );
    assert_eq!(
        pg.session(&"f".repeat(64)).await.expect("pg"),
        sqlite.session(&"f".repeat(64)).await.expect("sqlite")
    );
    let host = vec![(ObservableKind::Host, "rel-host-1".to_owned())];
    assert_eq!(
        pg.related_cases(&host, None, 10).await.expect("pg"),
        sqlite.related_cases(&host, None, 10).await.expect("sqlite")
    );

    // Not on top of data.
    let again = crate::copy::sqlite_to_postgres(&sqlite, &pg).await;
    assert!(again.is_err(), "a second copy was accepted");

    // Identity columns continue after the copied rows, and appends extend
    // the copied tree.
    let case = cases.first().expect("a case");
    let note = CaseNote {
        author: "after".into(),
        text: "copy".into(),
        created_at: now,
    };
    pg.add_note(case.id, &note).await.expect("note after copy");
    assert_eq!(
        pg.notes_of_case(case.id).await.expect("notes").last(),
        Some(&note)
    );
    let size = pg.audit_size().await.expect("size");
    let appended = pg.append_audit(&[audit_row(9_999)]).await.expect("append");
    assert_eq!(appended.first_seq, size + 1);
}
