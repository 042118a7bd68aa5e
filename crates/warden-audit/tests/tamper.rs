#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! Tampering with the audit log's database directly, as someone with
//! write access to it would (append-only triggers dropped first), and
//! checking that `warden_audit::verify::verify` names the first bad entry
//! and the kind of change. Every check runs on a SQLite file (the tests
//! named as below) and on PostgreSQL (`postgres::...`, each log in a schema
//! of its own).

use std::sync::Arc;

use sqlx::Row as _;
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};
use warden_audit::verify::{Problem, ProblemKind, Verification, verify};
use warden_audit::{
    AuditEntry, AuditLog as _, Checkpointer, LogKey, PublicKey, StoreAuditLog, leaf_digest,
    leaf_hash,
};
use warden_domain::{AuditEvent, Autonomy, CaseId, CaseState, FixedClock};
use warden_store::merkle::{self, Hash};
use warden_store::postgres::testing::TestSchema;
use warden_store::{Backend as StoreBackend, PgStore, SqliteStore};

/// Entries in every test log.
const N: u64 = 40;
/// A checkpoint is signed every `EVERY` entries; one more on demand at `N`.
const EVERY: u64 = 7;
/// The checkpoint sizes that result.
const CHECKPOINTS: [u64; 6] = [7, 14, 21, 28, 35, 40];
/// Renumbering goes through this offset so the primary key never collides.
const PARK: i64 = 1_000_000;

/// Which database a check tampers with.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// The database under the log, reached directly.
enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// Run `$body` with `$pool` bound to whichever pool `$db` holds (the SQL is
/// the same on both: `$1`-style parameters work on SQLite too).
macro_rules! on {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

struct Fixture {
    _dir: TempDir,
    _schema: Option<TestSchema>,
    store: Arc<dyn StoreBackend>,
    db: Db,
    public: PublicKey,
}

impl Fixture {
    fn pool(&self) -> &Db {
        &self.db
    }

    async fn report(&self) -> Verification {
        verify(self.store.as_ref(), &self.public)
            .await
            .expect("verify runs")
    }

    async fn problem(&self) -> Problem {
        let report = self.report().await;
        match report.problem {
            Some(problem) => problem,
            None => panic!("the tampering went unnoticed: {report:?}"),
        }
    }

    /// Assert the first problem is `kind` at `seq`.
    async fn expect(&self, seq: u64, kind: ProblemKind, what: &str) -> Problem {
        let problem = self.problem().await;
        assert_eq!(
            (problem.seq, problem.kind),
            (seq, kind),
            "{what}: {problem:?}"
        );
        problem
    }
}

fn event(i: u64) -> AuditEvent {
    match i % 7 {
        0 => AuditEvent::Escalated {
            case_id: CaseId::new(),
            reasons: vec![format!("reason {i}"), "ünïcödé ✓ \"quoted\"".into()],
        },
        1 => AuditEvent::KillSwitchChanged {
            scope: if i.is_multiple_of(2) { "*" } else { "phishing" }.into(),
            paused: i.is_multiple_of(2),
            by: "person:alice".into(),
            reason: format!("drill {i}"),
        },
        2 => AuditEvent::CaseStateChanged {
            case_id: CaseId::new(),
            from: CaseState::New,
            to: CaseState::Enriched,
        },
        3 => AuditEvent::AutonomyChanged {
            use_case: "phishing".into(),
            from: Autonomy::Shadow,
            to: Autonomy::Draft,
            by: "person:bob".into(),
            reason: format!("trust ladder step {i}"),
        },
        4 => AuditEvent::UserAdded {
            name: format!("user{i}"),
            roles: vec!["analyst".into(), "approver".into()],
            by: "person:root".into(),
        },
        5 => AuditEvent::IngestRejected {
            origin: "syslog:udp".into(),
            reason: format!("line {i}: bad \"json\"\n\ttab"),
            raw_sha256: leaf_hash(format!("raw {i}").as_bytes()),
        },
        _ => AuditEvent::ToolCalled {
            case_id: CaseId::new(),
            tool: "whois".into(),
            parameters: serde_json::json!({ "domain": format!("ex{i}.test"), "n": i, "f": 0.25 }),
            outcome: format!("{} findings", i % 3),
        },
    }
}

fn actor(i: u64) -> String {
    match i % 3 {
        0 => "system:pipeline".into(),
        1 => format!("agent:use-case-{i}"),
        _ => "person:carol".into(),
    }
}

/// A log of `N` entries on `backend`, checkpoints signed, the append-only
/// triggers dropped. `None`: PostgreSQL is unreachable and not required (a
/// `skipping:` line was printed; `WARDEN_REQUIRE_POSTGRES=1` fails instead).
async fn fixture(backend: Backend) -> Option<Fixture> {
    let dir = tempfile::tempdir().expect("dir");
    let (store, db, schema): (Arc<dyn StoreBackend>, Db, Option<TestSchema>) = match backend {
        Backend::Sqlite => {
            let store = SqliteStore::open(&dir.path().join("warden.db"))
                .await
                .expect("store");
            let db = Db::Sqlite(store.pool().clone());
            (Arc::new(store), db, None)
        }
        Backend::Postgres => {
            let schema = TestSchema::create("tamper")
                .await
                .unwrap_or_else(|why| panic!("{why}"))?;
            let store: PgStore = schema.store().await.expect("store");
            let db = Db::Postgres(store.pool().clone());
            (Arc::new(store), db, Some(schema))
        }
    };
    let clock = Arc::new(FixedClock::new(
        OffsetDateTime::UNIX_EPOCH + Duration::days(20_000),
    ));
    let (key, _) = LogKey::generate("warden.test/audit").expect("key");
    let public = key.public().clone();
    let log = StoreAuditLog::new(store.clone(), clock.clone())
        .with_checkpointer(Checkpointer::new(key, EVERY));
    for i in 0..N {
        clock.advance(Duration::milliseconds(
            1_500 + i64::try_from(i).expect("small"),
        ));
        let receipt = log.append(&actor(i), event(i)).await.expect("append");
        assert_eq!(receipt.seq, i + 1);
    }
    let newest = log.checkpoint().await.expect("sign").expect("checkpoint");
    assert_eq!(newest.size, N);
    let sizes: Vec<u64> = store
        .checkpoints()
        .await
        .expect("checkpoints")
        .iter()
        .map(|c| c.size)
        .collect();
    assert_eq!(sizes, CHECKPOINTS);
    for (trigger, table) in [
        ("audit_log_no_update", "audit_log"),
        ("audit_log_no_delete", "audit_log"),
        ("audit_tree_no_update", "audit_tree"),
        ("audit_tree_no_delete", "audit_tree"),
        ("audit_checkpoints_no_update", "audit_checkpoints"),
        ("audit_checkpoints_no_delete", "audit_checkpoints"),
    ] {
        let sql = match backend {
            Backend::Sqlite => format!("DROP TRIGGER {trigger}"),
            Backend::Postgres => format!("DROP TRIGGER {trigger} ON {table}"),
        };
        on!(&db, |pool| sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(pool)
            .await
            .map(|_| ()))
        .expect("drop trigger");
    }
    Some(Fixture {
        _dir: dir,
        _schema: schema,
        store,
        db,
        public,
    })
}

/// One stored row of `audit_log`.
#[derive(Debug, Clone)]
struct Row {
    at: String,
    actor: String,
    stage: String,
    kind: String,
    case_id: Option<String>,
    entry: String,
    leaf_hash: String,
}

async fn row(db: &Db, seq: u64) -> Row {
    let sql = "SELECT at, actor, stage, kind, case_id, entry, leaf_hash FROM audit_log \
               WHERE seq = $1";
    let seq = i64::try_from(seq).expect("seq");
    on!(db, |pool| {
        let row = sqlx::query(sql)
            .bind(seq)
            .fetch_one(pool)
            .await
            .expect("row");
        Row {
            at: row.get(0),
            actor: row.get(1),
            stage: row.get(2),
            kind: row.get(3),
            case_id: row.get(4),
            entry: row.get(5),
            leaf_hash: row.get(6),
        }
    })
}

async fn insert(db: &Db, seq: u64, row: &Row) {
    let sql = "INSERT INTO audit_log (seq, at, actor, stage, kind, case_id, entry, leaf_hash) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    let seq = i64::try_from(seq).expect("seq");
    on!(db, |pool| sqlx::query(sql)
        .bind(seq)
        .bind(&row.at)
        .bind(&row.actor)
        .bind(&row.stage)
        .bind(&row.kind)
        .bind(&row.case_id)
        .bind(&row.entry)
        .bind(&row.leaf_hash)
        .execute(pool)
        .await
        .map(|_| ()))
    .expect("insert");
}

async fn set_entry(db: &Db, seq: u64, entry: &str, leaf: &str) {
    let seq = i64::try_from(seq).expect("seq");
    let done = on!(db, |pool| sqlx::query(
        "UPDATE audit_log SET entry = $1, leaf_hash = $2 WHERE seq = $3"
    )
    .bind(entry)
    .bind(leaf)
    .bind(seq)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))
    .expect("update");
    assert_eq!(done, 1);
}

async fn delete(db: &Db, seq: u64) {
    let seq = i64::try_from(seq).expect("seq");
    let done = on!(db, |pool| sqlx::query(
        "DELETE FROM audit_log WHERE seq = $1"
    )
    .bind(seq)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))
    .expect("delete");
    assert_eq!(done, 1);
}

/// Renumber every row with seq > `after` by `by` (+1 or -1), through a
/// parking offset so the primary key never collides.
async fn renumber_after(db: &Db, after: u64, by: i64) {
    let after = i64::try_from(after).expect("seq");
    on!(db, |pool| sqlx::query(
        "UPDATE audit_log SET seq = seq + $1 WHERE seq > $2"
    )
    .bind(PARK)
    .bind(after)
    .execute(pool)
    .await
    .map(|_| ()))
    .expect("park");
    on!(db, |pool| sqlx::query(
        "UPDATE audit_log SET seq = seq - $1 + $2 WHERE seq > $3"
    )
    .bind(PARK)
    .bind(by)
    .bind(PARK)
    .execute(pool)
    .await
    .map(|_| ()))
    .expect("unpark");
}

async fn seqs(db: &Db) -> Vec<u64> {
    on!(db, |pool| sqlx::query_scalar::<_, i64>(
        "SELECT seq FROM audit_log ORDER BY seq"
    )
    .fetch_all(pool)
    .await)
    .expect("seqs")
    .into_iter()
    .map(|s| u64::try_from(s).expect("seq"))
    .collect()
}

/// The same entry with one visible change (still valid JSON).
fn altered(entry: &str) -> String {
    let changed = entry.replacen("\"actor\":\"", "\"actor\":\"mallory-", 1);
    assert_ne!(changed, entry);
    changed
}

/// A brand-new, well-formed entry that was never appended through the log.
fn forged_row(like: &Row) -> Row {
    let entry = AuditEntry {
        at: OffsetDateTime::UNIX_EPOCH + Duration::days(20_001),
        actor: "person:mallory".into(),
        event: AuditEvent::KillSwitchChanged {
            scope: "*".into(),
            paused: false,
            by: "person:mallory".into(),
            reason: "nothing to see here".into(),
        },
    };
    let canonical = entry.canonical().expect("canonical");
    Row {
        at: like.at.clone(),
        actor: entry.actor.clone(),
        stage: entry.event.stage().as_str().into(),
        kind: entry.event.kind().into(),
        case_id: None,
        leaf_hash: leaf_hash(canonical.as_bytes()),
        entry: canonical,
    }
}

/// Replace the whole `audit_tree` table with the tree of the entries as
/// they now are (what an attacker who knows the layout would do).
async fn rebuild_tree(db: &Db) {
    let entries: Vec<String> = on!(db, |pool| sqlx::query_scalar(
        "SELECT entry FROM audit_log ORDER BY seq"
    )
    .fetch_all(pool)
    .await)
    .expect("entries");
    let leaves: Vec<Hash> = entries.iter().map(|e| leaf_digest(e.as_bytes())).collect();
    let extension = merkle::extend(0, &[], &leaves).expect("extend");
    on!(db, |pool| {
        let mut tx = pool.begin().await.expect("begin");
        sqlx::query("DELETE FROM audit_tree")
            .execute(&mut *tx)
            .await
            .expect("clear tree");
        for (index, hash) in &extension.hashes {
            sqlx::query("INSERT INTO audit_tree (idx, hash) VALUES ($1, $2)")
                .bind(i64::try_from(*index).expect("index"))
                .bind(hash.0.as_slice())
                .execute(&mut *tx)
                .await
                .expect("insert hash");
        }
        tx.commit().await.expect("commit");
    })
}

async fn note_of(db: &Db, size: u64) -> String {
    let size = i64::try_from(size).expect("size");
    on!(db, |pool| sqlx::query_scalar(
        "SELECT note FROM audit_checkpoints WHERE size = $1"
    )
    .bind(size)
    .fetch_one(pool)
    .await)
    .expect("note")
}

async fn set_note(db: &Db, size: u64, note: &str) {
    let size = i64::try_from(size).expect("size");
    let done = on!(db, |pool| sqlx::query(
        "UPDATE audit_checkpoints SET note = $1 WHERE size = $2"
    )
    .bind(note)
    .bind(size)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))
    .expect("update note");
    assert_eq!(done, 1);
}

/// The first checkpoint size at or above `seq`, and the one before it.
fn checkpoints_around(seq: u64) -> (u64, u64) {
    let covering = CHECKPOINTS
        .iter()
        .copied()
        .find(|&c| c >= seq)
        .expect("covered");
    let before = CHECKPOINTS
        .iter()
        .copied()
        .filter(|&c| c < seq)
        .max()
        .unwrap_or(0);
    (before, covering)
}

/// The `from X to Y` range a checkpoint problem names.
fn named_range(detail: &str) -> (u64, u64) {
    let number_after = |marker: &str| -> u64 {
        let rest = &detail[detail.find(marker).expect(marker) + marker.len()..];
        rest.split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no number after {marker:?} in {detail:?}"))
    };
    (number_after("from "), number_after(" to "))
}

/// The checks, each run on both backends (see the end of the file).
mod checks {
    use super::*;

    /// Positions that are not lucky: first, middle, last but one.
    const POSITIONS: [u64; 3] = [1, N / 2, N - 1];

    pub(super) async fn an_untampered_log_verifies(backend: Backend) {
        let Some(f) = fixture(backend).await else {
            return;
        };
        let report = f.report().await;
        assert_eq!(report.problem, None, "{report:?}");
        assert!(report.ok());
        assert_eq!(report.entries, N);
        assert_eq!(report.checkpoints, CHECKPOINTS.len());
        assert_eq!(report.signed_entries, N);
        let newest = f
            .store
            .checkpoints()
            .await
            .expect("checkpoints")
            .pop()
            .expect("newest");
        assert_eq!(report.root, newest.root);
        let rows = f.store.audit_rows(None).await.expect("rows");
        let leaves: Vec<Hash> = rows
            .iter()
            .map(|r| leaf_digest(r.entry.as_bytes()))
            .collect();
        let rebuilt = merkle::extend(0, &[], &leaves).expect("extend");
        assert_eq!(report.root, rebuilt.root.to_string());
        assert_eq!(
            f.public.open_checkpoint(&newest.note).expect("opens").root,
            rebuilt.root
        );
    }

    pub(super) async fn a_changed_entry_is_named(backend: Backend) {
        for k in [1, N / 2, N - 1, N] {
            let Some(f) = fixture(backend).await else {
                return;
            };
            let original = row(f.pool(), k).await;
            set_entry(f.pool(), k, &altered(&original.entry), &original.leaf_hash).await;
            f.expect(k, ProblemKind::Changed, &format!("entry {k} changed"))
                .await;
        }
    }

    pub(super) async fn a_changed_leaf_hash_column_is_named(backend: Backend) {
        for k in [1, N / 2, N - 1, N] {
            let Some(f) = fixture(backend).await else {
                return;
            };
            let original = row(f.pool(), k).await;
            let other = leaf_hash(b"something else");
            set_entry(f.pool(), k, &original.entry, &other).await;
            f.expect(k, ProblemKind::Changed, &format!("leaf hash {k} changed"))
                .await;
        }
    }

    pub(super) async fn a_deleted_entry_is_missing(backend: Backend) {
        for k in POSITIONS {
            let Some(f) = fixture(backend).await else {
                return;
            };
            delete(f.pool(), k).await;
            f.expect(k, ProblemKind::Missing, &format!("entry {k} deleted"))
                .await;
        }
    }

    pub(super) async fn a_deleted_entry_with_later_ones_renumbered_is_missing(backend: Backend) {
        for k in POSITIONS {
            let Some(f) = fixture(backend).await else {
                return;
            };
            delete(f.pool(), k).await;
            renumber_after(f.pool(), k, -1).await;
            assert_eq!(seqs(f.pool()).await, (1..N).collect::<Vec<_>>());
            f.expect(
                k,
                ProblemKind::Missing,
                &format!("entry {k} deleted, renumbered"),
            )
            .await;
        }
    }

    pub(super) async fn a_deleted_last_entry_is_missing(backend: Backend) {
        let Some(f) = fixture(backend).await else {
            return;
        };
        delete(f.pool(), N).await;
        f.expect(N, ProblemKind::Missing, "last entry deleted")
            .await;

        // Truncated together with its tree: the checkpoint of N entries
        // still records it.
        let Some(f) = fixture(backend).await else {
            return;
        };
        delete(f.pool(), N).await;
        rebuild_tree(f.pool()).await;
        let problem = f
            .expect(N, ProblemKind::Missing, "last entry and its hashes deleted")
            .await;
        assert!(problem.detail.contains("checkpoint"), "{problem:?}");
    }

    pub(super) async fn an_entry_added_at_the_end_is_inserted(backend: Backend) {
        let Some(f) = fixture(backend).await else {
            return;
        };
        let last = row(f.pool(), N).await;
        insert(f.pool(), N + 1, &forged_row(&last)).await;
        let report = f.report().await;
        assert_eq!(report.entries, N + 1);
        f.expect(
            N + 1,
            ProblemKind::Inserted,
            "entry appended outside the log",
        )
        .await;
    }

    pub(super) async fn an_entry_inserted_in_the_middle_is_inserted(backend: Backend) {
        for k in [1, N / 2, N - 1, N] {
            let Some(f) = fixture(backend).await else {
                return;
            };
            let like = row(f.pool(), k).await;
            renumber_after(f.pool(), k - 1, 1).await;
            insert(f.pool(), k, &forged_row(&like)).await;
            assert_eq!(seqs(f.pool()).await, (1..=N + 1).collect::<Vec<_>>());
            f.expect(k, ProblemKind::Inserted, &format!("entry inserted at {k}"))
                .await;
        }
    }

    pub(super) async fn a_copy_of_an_earlier_entry_inserted_is_inserted(backend: Backend) {
        // (k, the earlier entry copied)
        for (k, copied) in [
            (2, 1),
            (N / 2, 3),
            (N / 2, N / 2 - 1),
            (N - 1, 1),
            (N, N - 1),
        ] {
            let Some(f) = fixture(backend).await else {
                return;
            };
            let copy = row(f.pool(), copied).await;
            renumber_after(f.pool(), k - 1, 1).await;
            insert(f.pool(), k, &copy).await;
            let problem = f
                .expect(
                    k,
                    ProblemKind::Inserted,
                    &format!("copy of {copied} inserted at {k}"),
                )
                .await;
            assert!(
                problem.detail.contains(&format!("copy of entry {copied}")),
                "{problem:?}"
            );
        }
    }

    async fn swap(db: &Db, a: u64, b: u64) {
        let (ra, rb) = (row(db, a).await, row(db, b).await);
        set_entry(db, a, &rb.entry, &rb.leaf_hash).await;
        set_entry(db, b, &ra.entry, &ra.leaf_hash).await;
    }

    pub(super) async fn entries_swapped_three_apart_are_reordered(backend: Backend) {
        for k in [1, N / 2, N - 3] {
            let Some(f) = fixture(backend).await else {
                return;
            };
            swap(f.pool(), k, k + 3).await;
            f.expect(
                k,
                ProblemKind::Reordered,
                &format!("entries {k} and {} swapped", k + 3),
            )
            .await;
        }
    }

    pub(super) async fn adjacent_entries_swapped_are_reordered(backend: Backend) {
        for k in POSITIONS {
            let Some(f) = fixture(backend).await else {
                return;
            };
            swap(f.pool(), k, k + 1).await;
            f.expect(
                k,
                ProblemKind::Reordered,
                &format!("entries {k} and {} swapped", k + 1),
            )
            .await;
        }
    }

    pub(super) async fn a_consistent_rewrite_is_caught_by_the_checkpoints(backend: Backend) {
        for k in POSITIONS {
            let Some(f) = fixture(backend).await else {
                return;
            };
            let original = row(f.pool(), k).await;
            let entry = altered(&original.entry);
            set_entry(f.pool(), k, &entry, &leaf_hash(entry.as_bytes())).await;
            rebuild_tree(f.pool()).await;
            let (before, covering) = checkpoints_around(k);
            let problem = f
                .expect(
                    before + 1,
                    ProblemKind::Checkpoint,
                    &format!("entry {k} rewritten with its hashes"),
                )
                .await;
            let (from, to) = named_range(&problem.detail);
            assert_eq!((from, to), (before + 1, covering), "{problem:?}");
            assert!((from..=to).contains(&k), "{k} not in {problem:?}");
        }
    }

    pub(super) async fn a_consistent_rewrite_re_signed_with_another_key_is_caught(
        backend: Backend,
    ) {
        let Some(f) = fixture(backend).await else {
            return;
        };
        let k = N / 2;
        let original = row(f.pool(), k).await;
        let entry = altered(&original.entry);
        set_entry(f.pool(), k, &entry, &leaf_hash(entry.as_bytes())).await;
        rebuild_tree(f.pool()).await;
        // The attacker signs fresh checkpoints with a key of the same name.
        let (theirs, _) = LogKey::generate("warden.test/audit").expect("key");
        for size in CHECKPOINTS {
            let root = warden_audit::proof::root_at(f.store.as_ref(), size)
                .await
                .expect("root");
            let note = theirs.sign_checkpoint(size, root).expect("sign");
            set_note(f.pool(), size, &note).await;
        }
        f.expect(1, ProblemKind::Checkpoint, "checkpoints re-signed")
            .await;
    }

    pub(super) async fn a_forged_checkpoint_is_caught(backend: Backend) {
        for size in [7, 21, 40] {
            let (before, _) = checkpoints_around(size);
            let expected = before + 1;

            // The size line changed.
            let Some(f) = fixture(backend).await else {
                return;
            };
            let note = note_of(f.pool(), size).await;
            let forged = note.replacen(&format!("\n{size}\n"), &format!("\n{}\n", size + 1), 1);
            assert_ne!(forged, note);
            set_note(f.pool(), size, &forged).await;
            f.expect(
                expected,
                ProblemKind::Checkpoint,
                &format!("size line of {size}"),
            )
            .await;

            // The root line changed.
            let Some(f) = fixture(backend).await else {
                return;
            };
            let note = note_of(f.pool(), size).await;
            let root_line = note.lines().nth(2).expect("root line").to_owned();
            let other = leaf_digest(b"another root").to_string();
            assert_ne!(root_line, other);
            let forged = note.replacen(&root_line, &other, 1);
            set_note(f.pool(), size, &forged).await;
            f.expect(
                expected,
                ProblemKind::Checkpoint,
                &format!("root line of {size}"),
            )
            .await;

            // A genuine note of another size stored under this one.
            let Some(f) = fixture(backend).await else {
                return;
            };
            let other_size = if size == 40 { 35 } else { size + 7 };
            let note = note_of(f.pool(), other_size).await;
            set_note(f.pool(), size, &note).await;
            f.expect(
                expected,
                ProblemKind::Checkpoint,
                &format!("note of {other_size} under {size}"),
            )
            .await;
        }
    }

    pub(super) async fn a_changed_subtree_hash_is_a_tree_problem(backend: Backend) {
        // (level, n): the stored hash of leaves n<<level .. (n+1)<<level.
        for (level, n) in [(1_u8, 0_u64), (1, 5), (2, 3), (3, 4)] {
            let Some(f) = fixture(backend).await else {
                return;
            };
            let index = merkle::stored_hash_index(level, n);
            let index = i64::try_from(index).expect("index");
            let forged = leaf_digest(b"forged subtree");
            let done = on!(f.pool(), |pool| sqlx::query(
                "UPDATE audit_tree SET hash = $1 WHERE idx = $2"
            )
            .bind(forged.0.as_slice())
            .bind(index)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
            .expect("update hash");
            assert_eq!(done, 1);
            f.expect(
                (n << level) + 1,
                ProblemKind::Tree,
                &format!("subtree {level}/{n}"),
            )
            .await;
        }
    }

    // Two findings of this suite, fixed in `verify`: keep them as regressions.

    /// A copy of a *later* entry inserted at k (later rows shifted up) is named
    /// `reordered`, though nothing was reordered and the log grew by one row;
    /// the same insertion of an *earlier* entry is named `inserted`.
    pub(super) async fn a_copy_of_a_later_entry_inserted_is_inserted(backend: Backend) {
        for (k, copied) in [(1, 5), (N / 2, N / 2 + 3)] {
            let Some(f) = fixture(backend).await else {
                return;
            };
            let copy = row(f.pool(), copied).await;
            renumber_after(f.pool(), k - 1, 1).await;
            insert(f.pool(), k, &copy).await;
            f.expect(
                k,
                ProblemKind::Inserted,
                &format!("copy of later entry {copied} inserted at {k}"),
            )
            .await;
        }
    }

    /// `audit_checkpoints.root` is never compared with the signed note, so a
    /// rewritten root column verifies OK, while `proof::prove_inclusion` (which
    /// checks against that column) refuses and says to run `verify`.
    pub(super) async fn a_changed_checkpoint_root_column_is_caught(backend: Backend) {
        let Some(f) = fixture(backend).await else {
            return;
        };
        let bogus = leaf_digest(b"bogus root").to_string();
        on!(f.pool(), |pool| sqlx::query(
            "UPDATE audit_checkpoints SET root = $1 WHERE size = 21"
        )
        .bind(&bogus)
        .execute(pool)
        .await
        .map(|_| ()))
        .expect("update root");
        let checkpoint = f
            .store
            .checkpoints()
            .await
            .expect("checkpoints")
            .into_iter()
            .find(|c| c.size == 21)
            .expect("21");
        assert!(
            warden_audit::proof::prove_inclusion(f.store.as_ref(), 3, &checkpoint)
                .await
                .is_err()
        );
        f.expect(15, ProblemKind::Checkpoint, "root column of 21")
            .await;
    }
}

/// Each check as a test on SQLite, named as the check, and on PostgreSQL,
/// as `postgres::<check>`.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                checks::$name(Backend::Sqlite).await;
            }
        )*

        mod postgres {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    checks::$name(Backend::Postgres).await;
                }
            )*
        }
    };
}

on_both_stores!(
    an_untampered_log_verifies,
    a_changed_entry_is_named,
    a_changed_leaf_hash_column_is_named,
    a_deleted_entry_is_missing,
    a_deleted_entry_with_later_ones_renumbered_is_missing,
    a_deleted_last_entry_is_missing,
    an_entry_added_at_the_end_is_inserted,
    an_entry_inserted_in_the_middle_is_inserted,
    a_copy_of_an_earlier_entry_inserted_is_inserted,
    entries_swapped_three_apart_are_reordered,
    adjacent_entries_swapped_are_reordered,
    a_consistent_rewrite_is_caught_by_the_checkpoints,
    a_consistent_rewrite_re_signed_with_another_key_is_caught,
    a_forged_checkpoint_is_caught,
    a_changed_subtree_hash_is_a_tree_problem,
    a_copy_of_a_later_entry_inserted_is_inserted,
    a_changed_checkpoint_root_column_is_caught,
);
