use sqlx::{Postgres, Sqlite};
use warden_domain::{FixedClock, Stage};
use warden_store::postgres::testing::TestSchema;
use warden_store::{Backend, PgStore, SqliteStore};

use super::*;

async fn log() -> (Arc<SqliteStore>, StoreAuditLog<SqliteStore>) {
    let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let clock = Arc::new(FixedClock::new(OffsetDateTime::UNIX_EPOCH));
    (store.clone(), StoreAuditLog::new(store, clock))
}

/// The database under a test's store, for tampering with it directly.
enum Raw {
    Sqlite(sqlx::Pool<Sqlite>),
    Postgres(sqlx::Pool<Postgres>),
}

/// A store for a test that runs on both backends, with what keeps it
/// alive (a temporary directory, a PostgreSQL schema).
struct TestStore {
    store: Arc<dyn Backend>,
    raw: Raw,
    _dir: Option<tempfile::TempDir>,
    _schema: Option<TestSchema>,
}

impl TestStore {
    async fn sqlite_memory() -> Self {
        let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
        Self {
            raw: Raw::Sqlite(store.pool().clone()),
            store,
            _dir: None,
            _schema: None,
        }
    }

    /// A database file: durable appends, a pool of connections, as
    /// concurrency tests need.
    async fn sqlite_file() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(
            SqliteStore::open(&dir.path().join("w.db"))
                .await
                .expect("store"),
        );
        Self {
            raw: Raw::Sqlite(store.pool().clone()),
            store,
            _dir: Some(dir),
            _schema: None,
        }
    }

    /// A fresh PostgreSQL schema; `None` when the server is unreachable and
    /// not required (`WARDEN_REQUIRE_POSTGRES=1` fails instead).
    async fn postgres(test: &str) -> Option<Self> {
        let schema = match TestSchema::create(test).await {
            Ok(schema) => schema?,
            Err(why) => panic!("{why}"),
        };
        let store: Arc<PgStore> = Arc::new(schema.store().await.expect("store"));
        Some(Self {
            raw: Raw::Postgres(store.pool().clone()),
            store,
            _dir: None,
            _schema: Some(schema),
        })
    }

    fn log(&self) -> StoreAuditLog<dyn Backend> {
        StoreAuditLog::new(
            self.store.clone(),
            Arc::new(FixedClock::new(OffsetDateTime::UNIX_EPOCH)),
        )
    }

    /// Run `sql` on the database directly (`$1`-style parameters work on
    /// both).
    async fn execute(&self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match &self.raw {
            Raw::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
            Raw::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        }
        .expect("statement");
    }

    /// Drop append-only triggers (`<table>_no_<what>`), as someone with
    /// write access to the database would.
    async fn drop_triggers(&self, triggers: &[&str]) {
        for trigger in triggers {
            let table = trigger.rsplit_once("_no_").expect("trigger name").0;
            match &self.raw {
                Raw::Sqlite(_) => self.execute(&format!("DROP TRIGGER {trigger}")).await,
                Raw::Postgres(_) => {
                    self.execute(&format!("DROP TRIGGER {trigger} ON {table}"))
                        .await;
                }
            }
        }
    }
}

/// A test of `$check` on PostgreSQL, named `$name`.
macro_rules! on_postgres {
    ($name:ident, $check:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let Some(t) = TestStore::postgres(stringify!($name)).await else {
                return;
            };
            $check(t).await;
        }
    };
}

fn escalated(n: u64) -> AuditEvent {
    AuditEvent::Escalated {
        case_id: CaseId::new(),
        reasons: vec![n.to_string()],
    }
}

#[tokio::test]
async fn appends_are_ordered_typed_and_hashed() {
    check_appends_are_ordered_typed_and_hashed(TestStore::sqlite_memory().await).await;
}

on_postgres!(
    pg_appends_are_ordered_typed_and_hashed,
    check_appends_are_ordered_typed_and_hashed
);

async fn check_appends_are_ordered_typed_and_hashed(t: TestStore) {
    let (store, log) = (t.store.clone(), t.log());
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
        .append("system:test", escalated(1))
        .await
        .expect("append");
    assert_eq!((first.seq, second.seq), (1, 2));
    let records = log.records(Some(case_id)).await.expect("records");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].leaf_hash, first.leaf_hash);
    assert_eq!(stages_of(&records), [Stage::Decide].into());
    assert_eq!(store.audit_size().await.expect("size"), 2);
}

#[test]
fn leaf_hash_is_rfc6962() {
    // RFC 6962 leaf hash of the empty entry: SHA-256 of the single byte 0x00.
    assert_eq!(
        leaf_hash(b""),
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    );
}

/// Concurrent appenders share transactions; every one gets its own
/// sequence number and the tree covers them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_are_group_committed_without_loss() {
    check_concurrent_appends_are_group_committed_without_loss(TestStore::sqlite_file().await).await;
}

on_postgres!(
    pg_concurrent_appends_are_group_committed_without_loss,
    check_concurrent_appends_are_group_committed_without_loss
);

async fn check_concurrent_appends_are_group_committed_without_loss(t: TestStore) {
    let (store, log) = (t.store.clone(), Arc::new(t.log()));
    let mut tasks = Vec::new();
    for n in 0..200 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            log.append("system:test", escalated(n)).await
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.expect("join").expect("append").seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=200).collect::<Vec<u64>>());
    let key = LogKey::generate("warden.test/audit").expect("key").0;
    let report = verify::verify(store.as_ref(), key.public())
        .await
        .expect("verify");
    assert_eq!(report.problem, None);
    assert_eq!(report.entries, 200);
}

#[tokio::test]
async fn checkpoints_are_signed_every_n_entries_and_on_demand() {
    check_checkpoints_are_signed_every_n_entries_and_on_demand(TestStore::sqlite_memory().await)
        .await;
}

on_postgres!(
    pg_checkpoints_are_signed_every_n_entries_and_on_demand,
    check_checkpoints_are_signed_every_n_entries_and_on_demand
);

async fn check_checkpoints_are_signed_every_n_entries_and_on_demand(t: TestStore) {
    let (store, log) = (t.store.clone(), t.log());
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("checkpoint");
    let key = LogKey::generate("warden.test/audit").expect("key").0;
    let public = key.public().clone();
    let log = log.with_checkpointer(Checkpointer::new(key, 3).with_file(file.clone()));
    assert_eq!(log.checkpoint().await.expect("empty"), None);
    for n in 0..7 {
        log.append("system:test", escalated(n))
            .await
            .expect("append");
    }
    let sizes: Vec<u64> = store
        .checkpoints()
        .await
        .expect("checkpoints")
        .iter()
        .map(|c| c.size)
        .collect();
    assert_eq!(sizes, vec![3, 6]);
    let newest = log.checkpoint().await.expect("sign").expect("checkpoint");
    assert_eq!(newest.size, 7);
    // Nothing new: the same checkpoint comes back.
    assert_eq!(log.checkpoint().await.expect("again"), Some(newest.clone()));
    let shipped = std::fs::read_to_string(&file).expect("file");
    assert_eq!(shipped, newest.note);
    let head = public.open_checkpoint(&shipped).expect("verifies");
    assert_eq!(head.size, 7);
    assert_eq!(head.root.to_string(), newest.root);
    let report = verify::verify(store.as_ref(), &public)
        .await
        .expect("verify");
    assert!(report.ok(), "{report:?}");
    assert_eq!((report.checkpoints, report.signed_entries), (3, 7));
}

#[tokio::test]
async fn proofs_from_the_store_verify_with_the_public_key_alone() {
    check_proofs_from_the_store_verify_with_the_public_key_alone(TestStore::sqlite_memory().await)
        .await;
}

on_postgres!(
    pg_proofs_from_the_store_verify_with_the_public_key_alone,
    check_proofs_from_the_store_verify_with_the_public_key_alone
);

async fn check_proofs_from_the_store_verify_with_the_public_key_alone(t: TestStore) {
    let (store, log) = (t.store.clone(), t.log());
    let key = LogKey::generate("warden.test/audit").expect("key").0;
    let public = key.public().clone();
    let log = log.with_checkpointer(Checkpointer::new(key, 1000));
    for n in 0..5 {
        log.append("system:test", escalated(n))
            .await
            .expect("append");
    }
    let old = log.checkpoint().await.expect("sign").expect("checkpoint");
    for n in 5..13 {
        log.append("system:test", escalated(n))
            .await
            .expect("append");
    }
    let new = log.checkpoint().await.expect("sign").expect("checkpoint");
    for seq in 1..=13 {
        let proof = proof::prove_inclusion(store.as_ref(), seq, &new)
            .await
            .expect("prove");
        let text = serde_json::to_string(&proof).expect("json");
        let proven = proof::AnyProof::parse(&text)
            .expect("parse")
            .verify(&public)
            .expect("verifies");
        assert_eq!(proven.seq, Some(seq));
        // The same proof with another entry's text does not hold.
        let mut forged = proof.clone();
        forged.entry = forged.entry.replacen("\"reasons\"", "\"reasonz\"", 1);
        assert!(proof::verify_inclusion(&forged, &public).is_err());
    }
    let consistency = proof::prove_consistency(store.as_ref(), &old, &new)
        .await
        .expect("prove");
    assert!(proof::verify_consistency(&consistency, &public).is_ok());
    let mut forged = consistency.clone();
    forged.path.pop();
    assert!(proof::verify_consistency(&forged, &public).is_err());
    // A proof needs the entry inside the checkpoint.
    assert!(
        proof::prove_inclusion(store.as_ref(), 6, &old)
            .await
            .is_err()
    );
}

/// A truncation that also removes the stored checkpoints passes a check of
/// the store alone; a checkpoint kept elsewhere catches it.
#[tokio::test]
async fn a_checkpoint_kept_elsewhere_catches_a_truncated_log() {
    check_a_checkpoint_kept_elsewhere_catches_a_truncated_log(TestStore::sqlite_memory().await)
        .await;
}

on_postgres!(
    pg_a_checkpoint_kept_elsewhere_catches_a_truncated_log,
    check_a_checkpoint_kept_elsewhere_catches_a_truncated_log
);

async fn check_a_checkpoint_kept_elsewhere_catches_a_truncated_log(t: TestStore) {
    let (store, log) = (t.store.clone(), t.log());
    let key = LogKey::generate("warden.test/audit").expect("key").0;
    let public = key.public().clone();
    let dir = tempfile::tempdir().expect("dir");
    let log = log
        .with_checkpointer(Checkpointer::new(key, 1000).with_file(dir.path().join("checkpoint")));
    for n in 0..10 {
        log.append("system:test", escalated(n))
            .await
            .expect("append");
    }
    let shipped = log
        .checkpoint()
        .await
        .expect("sign")
        .expect("checkpoint")
        .note;
    t.drop_triggers(&[
        "audit_log_no_delete",
        "audit_tree_no_delete",
        "audit_checkpoints_no_delete",
    ])
    .await;
    t.execute("DELETE FROM audit_log WHERE seq > 7").await;
    t.execute("DELETE FROM audit_checkpoints").await;
    t.execute(&format!(
        "DELETE FROM audit_tree WHERE idx >= {}",
        warden_store::merkle::stored_hash_count(7)
    ))
    .await;
    let alone = verify::verify(store.as_ref(), &public)
        .await
        .expect("verify");
    assert!(alone.ok(), "the store alone cannot tell: {alone:?}");
    let report = verify::verify_with(store.as_ref(), &public, std::slice::from_ref(&shipped))
        .await
        .expect("verify");
    let problem = report.problem.expect("caught");
    assert_eq!(
        (problem.seq, problem.kind),
        (8, verify::ProblemKind::Missing)
    );

    // And the log's own key will not sign the cut-back log over it.
    log.append("system:test", escalated(99))
        .await
        .expect("append");
    let refused = log.checkpoint().await.expect_err("must refuse").to_string();
    assert!(refused.contains("refusing to sign"), "{refused}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("checkpoint")).expect("file"),
        shipped
    );
}

/// A caller cancelled while its batch is being written must not make the
/// others panic or lose their answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_appenders_do_not_break_the_others() {
    check_cancelled_appenders_do_not_break_the_others(TestStore::sqlite_file().await).await;
}

on_postgres!(
    pg_cancelled_appenders_do_not_break_the_others,
    check_cancelled_appenders_do_not_break_the_others
);

async fn check_cancelled_appenders_do_not_break_the_others(t: TestStore) {
    let (store, log) = (t.store.clone(), Arc::new(t.log()));
    for round in 0..40_u64 {
        let mut tasks = Vec::new();
        for n in 0..8_u64 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                let append = log.append("system:test", escalated(round * 8 + n));
                if n < 2 {
                    // Some callers give up almost at once.
                    let _ =
                        tokio::time::timeout(std::time::Duration::from_micros(300), append).await;
                    None
                } else {
                    Some(append.await)
                }
            }));
        }
        for task in tasks {
            // A panic inside `append` would surface here.
            if let Some(Err(error)) = task.await.expect("no appender panics") {
                assert!(error.to_string().contains("abandoned"), "{error}");
            }
        }
    }
    let key = LogKey::generate("warden.test/audit").expect("key").0;
    let report = verify::verify(store.as_ref(), key.public())
        .await
        .expect("verify");
    assert!(report.ok(), "{report:?}");
}

#[tokio::test]
async fn stage_check_wants_action_started_before_action_executed() {
    use warden_domain::{ActionName, ExecutionStatus, ProposalHash, Target};
    let (_store, log) = log().await;
    let case_id = CaseId::new();
    let hash = ProposalHash::from_stored("ab".repeat(32));
    let decided = AuditEvent::PolicyDecided {
        case_id,
        proposal: warden_domain::audit::ProposalRecord {
            proposal_hash: hash.clone(),
            action: ActionName::CaseNote,
            target: Target::case(case_id),
        },
        outcome: warden_domain::DecisionOutcome::Allow,
        policy_ids: vec!["p".into()],
        policy_version: "v".into(),
        reasons: vec![],
    };
    let executed = AuditEvent::ActionExecuted {
        case_id,
        proposal_hash: hash.clone(),
        idempotency_key: hash.to_string(),
        action: ActionName::CaseNote,
        target: Target::case(case_id),
        connector: "case-note".into(),
        status: ExecutionStatus::Succeeded,
        detail: "ok".into(),
    };
    log.append("system:test", run_started())
        .await
        .expect("append");
    log.append("system:test", decided).await.expect("append");
    let started = AuditEvent::ActionStarted {
        case_id,
        proposal_hash: hash.clone(),
        idempotency_key: hash.to_string(),
        action: ActionName::CaseNote,
        target: Target::case(case_id),
        connector: "case-note".into(),
    };
    // Without the start on the record first: a violation.
    let (_other, bare) = self::log().await;
    for event in [run_started(), executed.clone(), started.clone()] {
        bare.append("system:test", event).await.expect("append");
    }
    let problems = expect::missing(&bare.records(None).await.expect("records"));
    assert!(
        problems.iter().any(|p| p.contains("action_started")),
        "{problems:?}"
    );
    // Started, then executed, for the same key: nothing missing.
    log.append("system:test", started).await.expect("append");
    log.append("system:test", executed).await.expect("append");
    let problems = expect::missing(&log.records(None).await.expect("records"));
    assert_eq!(problems, Vec::<String>::new());
}

fn run_started() -> AuditEvent {
    AuditEvent::RunStarted {
        command: "test".into(),
        warden_version: "0".into(),
        config_sha256: String::new(),
        policy_version: "v".into(),
        playbooks_sha256: String::new(),
        assessor: "deterministic".into(),
        model: String::new(),
    }
}

/// The reproduction: whoever holds the data directory rewrites an
/// entry, rebuilds the tree and re-signs with the key beside the database;
/// the store alone verifies, the witness does not.
#[tokio::test]
async fn a_rewritten_and_re_signed_log_fails_verify_against_a_witness() {
    check_a_rewritten_and_re_signed_log_fails_verify_against_a_witness(
        TestStore::sqlite_memory().await,
    )
    .await;
}

on_postgres!(
    pg_a_rewritten_and_re_signed_log_fails_verify_against_a_witness,
    check_a_rewritten_and_re_signed_log_fails_verify_against_a_witness
);

async fn check_a_rewritten_and_re_signed_log_fails_verify_against_a_witness(t: TestStore) {
    let (store, log) = (t.store.clone(), t.log());
    let key_dir = tempfile::tempdir().expect("dir");
    let key = LogKey::create_files(key_dir.path(), "warden.test/audit").expect("key");
    let public = key.public().clone();
    let elsewhere = tempfile::tempdir().expect("dir");
    let url = format!(
        "file://{}",
        elsewhere.path().join("warden-checkpoints").display()
    );
    let witnesses = witness::parse_all(&[url.into()]).expect("witness");
    let log = log.with_checkpointer(Checkpointer::new(key, 1000).with_witnesses(witnesses.clone()));
    for n in 0..10 {
        log.append("system:test", escalated(n))
            .await
            .expect("append");
    }
    log.checkpoint().await.expect("sign").expect("checkpoint");
    let witnessed = witnesses[0].checkpoints().await.expect("read");
    assert_eq!(witnessed.len(), 1);
    let before = verify::verify_with(store.as_ref(), &public, &witnessed)
        .await
        .expect("verify");
    assert!(before.ok(), "{before:?}");

    // The rewrite: entry 5 onwards replaced (entry 5 changed, the rest
    // appended again), checkpoints deleted, the tree rebuilt by the store.
    t.drop_triggers(&[
        "audit_log_no_delete",
        "audit_tree_no_delete",
        "audit_checkpoints_no_delete",
    ])
    .await;
    t.execute("DELETE FROM audit_log WHERE seq >= 5").await;
    t.execute("DELETE FROM audit_checkpoints").await;
    t.execute(&format!(
        "DELETE FROM audit_tree WHERE idx >= {}",
        warden_store::merkle::stored_hash_count(4)
    ))
    .await;
    // Re-signed with the data directory's key (the attacker's
    // configuration names no witness).
    let stolen = LogKey::load(&key_dir.path().join(signing::PRIVATE_KEY_FILE)).expect("key");
    let forged = StoreAuditLog::new(
        store.clone(),
        Arc::new(FixedClock::new(OffsetDateTime::UNIX_EPOCH)),
    )
    .with_checkpointer(Checkpointer::new(stolen, 1000));
    forged
        .append("system:test", escalated(404))
        .await
        .expect("append");
    for n in 5..10 {
        forged
            .append("system:test", escalated(n))
            .await
            .expect("append");
    }
    forged
        .checkpoint()
        .await
        .expect("sign")
        .expect("checkpoint");

    let alone = verify::verify(store.as_ref(), &public)
        .await
        .expect("verify");
    assert!(alone.ok(), "the store alone cannot tell: {alone:?}");
    let report = verify::verify_with(store.as_ref(), &public, &witnessed)
        .await
        .expect("verify");
    let problem = report.problem.expect("the witness catches the rewrite");
    assert_eq!(problem.kind, verify::ProblemKind::Checkpoint, "{problem:?}");

    // And a log configured with the witness refuses to sign over it.
    let honest = StoreAuditLog::new(
        store.clone(),
        Arc::new(FixedClock::new(OffsetDateTime::UNIX_EPOCH)),
    )
    .with_checkpointer(
        Checkpointer::new(
            LogKey::load(&key_dir.path().join(signing::PRIVATE_KEY_FILE)).expect("key"),
            1000,
        )
        .with_witnesses(witnesses.clone()),
    );
    honest
        .append("system:test", escalated(11))
        .await
        .expect("append");
    assert!(honest.checkpoint().await.is_err());
}

/// Two replicas, each with its own pool and its own group-committing log,
/// appending at once: one sequence without gaps or duplicates, one tree,
/// and the checkpoints one of them signs meanwhile verify over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_two_replicas_group_commit_into_one_log() {
    let Some(t) = TestStore::postgres("pg_two_replicas").await else {
        return;
    };
    let schema = t._schema.as_ref().expect("schema");
    let other: Arc<dyn Backend> = Arc::new(schema.store().await.expect("second replica"));
    let key = LogKey::generate("warden.test/audit").expect("key").0;
    let public = key.public().clone();
    let logs = [
        Arc::new(t.log().with_checkpointer(Checkpointer::new(key, 50))),
        Arc::new(StoreAuditLog::new(
            other.clone(),
            Arc::new(warden_domain::SystemClock),
        )),
    ];
    let mut tasks = Vec::new();
    for n in 0..300_u64 {
        let log = logs[(n % 2) as usize].clone();
        tasks.push(tokio::spawn(async move {
            log.append("system:test", escalated(n)).await
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.expect("join").expect("append").seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=300).collect::<Vec<u64>>());
    let signed = logs[0]
        .checkpoint()
        .await
        .expect("sign")
        .expect("checkpoint");
    assert_eq!(signed.size, 300);
    let report = verify::verify(other.as_ref(), &public)
        .await
        .expect("verify");
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.entries, 300);
    assert_eq!(report.root, signed.root);
}
