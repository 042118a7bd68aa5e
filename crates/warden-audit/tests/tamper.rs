#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! Tampering with the audit log's SQLite file directly, as someone with
//! write access to the file would (append-only triggers dropped first), and
//! checking that `warden_audit::verify::verify` names the first bad entry
//! and the kind of change.

use std::sync::Arc;

use sqlx::Row as _;
use sqlx::sqlite::SqlitePool;
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};
use warden_audit::verify::{Problem, ProblemKind, Verification, verify};
use warden_audit::{
    AuditEntry, AuditLog as _, Checkpointer, LogKey, PublicKey, StoreAuditLog, leaf_digest,
    leaf_hash,
};
use warden_domain::{AuditEvent, Autonomy, CaseId, CaseState, FixedClock};
use warden_store::merkle::{self, Hash};
use warden_store::{CaseReader as _, SqliteStore};

/// Entries in every test log.
const N: u64 = 40;
/// A checkpoint is signed every `EVERY` entries; one more on demand at `N`.
const EVERY: u64 = 7;
/// The checkpoint sizes that result.
const CHECKPOINTS: [u64; 6] = [7, 14, 21, 28, 35, 40];
/// Renumbering goes through this offset so the primary key never collides.
const PARK: i64 = 1_000_000;

struct Fixture {
    _dir: TempDir,
    store: Arc<SqliteStore>,
    public: PublicKey,
}

impl Fixture {
    fn pool(&self) -> &SqlitePool {
        self.store.pool()
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

/// A log of `N` entries on a SQLite file, checkpoints signed, the
/// append-only triggers dropped.
async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("dir");
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("warden.db"))
            .await
            .expect("store"),
    );
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
    for trigger in [
        "audit_log_no_update",
        "audit_log_no_delete",
        "audit_tree_no_update",
        "audit_tree_no_delete",
        "audit_checkpoints_no_update",
        "audit_checkpoints_no_delete",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TRIGGER {trigger}")))
            .execute(store.pool())
            .await
            .expect("drop trigger");
    }
    Fixture {
        _dir: dir,
        store,
        public,
    }
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

async fn row(pool: &SqlitePool, seq: u64) -> Row {
    let row = sqlx::query(
        "SELECT at, actor, stage, kind, case_id, entry, leaf_hash FROM audit_log WHERE seq = ?",
    )
    .bind(i64::try_from(seq).expect("seq"))
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
}

async fn insert(pool: &SqlitePool, seq: u64, row: &Row) {
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, stage, kind, case_id, entry, leaf_hash) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(i64::try_from(seq).expect("seq"))
    .bind(&row.at)
    .bind(&row.actor)
    .bind(&row.stage)
    .bind(&row.kind)
    .bind(&row.case_id)
    .bind(&row.entry)
    .bind(&row.leaf_hash)
    .execute(pool)
    .await
    .expect("insert");
}

async fn set_entry(pool: &SqlitePool, seq: u64, entry: &str, leaf: &str) {
    let done = sqlx::query("UPDATE audit_log SET entry = ?, leaf_hash = ? WHERE seq = ?")
        .bind(entry)
        .bind(leaf)
        .bind(i64::try_from(seq).expect("seq"))
        .execute(pool)
        .await
        .expect("update");
    assert_eq!(done.rows_affected(), 1);
}

async fn delete(pool: &SqlitePool, seq: u64) {
    let done = sqlx::query("DELETE FROM audit_log WHERE seq = ?")
        .bind(i64::try_from(seq).expect("seq"))
        .execute(pool)
        .await
        .expect("delete");
    assert_eq!(done.rows_affected(), 1);
}

/// Renumber every row with seq > `after` by `by` (+1 or -1), through a
/// parking offset so the primary key never collides.
async fn renumber_after(pool: &SqlitePool, after: u64, by: i64) {
    let after = i64::try_from(after).expect("seq");
    sqlx::query("UPDATE audit_log SET seq = seq + ? WHERE seq > ?")
        .bind(PARK)
        .bind(after)
        .execute(pool)
        .await
        .expect("park");
    sqlx::query("UPDATE audit_log SET seq = seq - ? + ? WHERE seq > ?")
        .bind(PARK)
        .bind(by)
        .bind(PARK)
        .execute(pool)
        .await
        .expect("unpark");
}

async fn seqs(pool: &SqlitePool) -> Vec<u64> {
    sqlx::query_scalar::<_, i64>("SELECT seq FROM audit_log ORDER BY seq")
        .fetch_all(pool)
        .await
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
async fn rebuild_tree(pool: &SqlitePool) {
    let entries: Vec<String> = sqlx::query_scalar("SELECT entry FROM audit_log ORDER BY seq")
        .fetch_all(pool)
        .await
        .expect("entries");
    let leaves: Vec<Hash> = entries.iter().map(|e| leaf_digest(e.as_bytes())).collect();
    let extension = merkle::extend(0, &[], &leaves).expect("extend");
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("DELETE FROM audit_tree")
        .execute(&mut *tx)
        .await
        .expect("clear tree");
    for (index, hash) in &extension.hashes {
        sqlx::query("INSERT INTO audit_tree (idx, hash) VALUES (?, ?)")
            .bind(i64::try_from(*index).expect("index"))
            .bind(hash.0.as_slice())
            .execute(&mut *tx)
            .await
            .expect("insert hash");
    }
    tx.commit().await.expect("commit");
}

async fn note_of(pool: &SqlitePool, size: u64) -> String {
    sqlx::query_scalar("SELECT note FROM audit_checkpoints WHERE size = ?")
        .bind(i64::try_from(size).expect("size"))
        .fetch_one(pool)
        .await
        .expect("note")
}

async fn set_note(pool: &SqlitePool, size: u64, note: &str) {
    let done = sqlx::query("UPDATE audit_checkpoints SET note = ? WHERE size = ?")
        .bind(note)
        .bind(i64::try_from(size).expect("size"))
        .execute(pool)
        .await
        .expect("update note");
    assert_eq!(done.rows_affected(), 1);
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

/// Positions that are not lucky: first, middle, last but one.
const POSITIONS: [u64; 3] = [1, N / 2, N - 1];

#[tokio::test]
async fn an_untampered_log_verifies() {
    let f = fixture().await;
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

#[tokio::test]
async fn a_changed_entry_is_named() {
    for k in [1, N / 2, N - 1, N] {
        let f = fixture().await;
        let original = row(f.pool(), k).await;
        set_entry(f.pool(), k, &altered(&original.entry), &original.leaf_hash).await;
        f.expect(k, ProblemKind::Changed, &format!("entry {k} changed"))
            .await;
    }
}

#[tokio::test]
async fn a_changed_leaf_hash_column_is_named() {
    for k in [1, N / 2, N - 1, N] {
        let f = fixture().await;
        let original = row(f.pool(), k).await;
        let other = leaf_hash(b"something else");
        set_entry(f.pool(), k, &original.entry, &other).await;
        f.expect(k, ProblemKind::Changed, &format!("leaf hash {k} changed"))
            .await;
    }
}

#[tokio::test]
async fn a_deleted_entry_is_missing() {
    for k in POSITIONS {
        let f = fixture().await;
        delete(f.pool(), k).await;
        f.expect(k, ProblemKind::Missing, &format!("entry {k} deleted"))
            .await;
    }
}

#[tokio::test]
async fn a_deleted_entry_with_later_ones_renumbered_is_missing() {
    for k in POSITIONS {
        let f = fixture().await;
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

#[tokio::test]
async fn a_deleted_last_entry_is_missing() {
    let f = fixture().await;
    delete(f.pool(), N).await;
    f.expect(N, ProblemKind::Missing, "last entry deleted")
        .await;

    // Truncated together with its tree: the checkpoint of N entries
    // still records it.
    let f = fixture().await;
    delete(f.pool(), N).await;
    rebuild_tree(f.pool()).await;
    let problem = f
        .expect(N, ProblemKind::Missing, "last entry and its hashes deleted")
        .await;
    assert!(problem.detail.contains("checkpoint"), "{problem:?}");
}

#[tokio::test]
async fn an_entry_added_at_the_end_is_inserted() {
    let f = fixture().await;
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

#[tokio::test]
async fn an_entry_inserted_in_the_middle_is_inserted() {
    for k in [1, N / 2, N - 1, N] {
        let f = fixture().await;
        let like = row(f.pool(), k).await;
        renumber_after(f.pool(), k - 1, 1).await;
        insert(f.pool(), k, &forged_row(&like)).await;
        assert_eq!(seqs(f.pool()).await, (1..=N + 1).collect::<Vec<_>>());
        f.expect(k, ProblemKind::Inserted, &format!("entry inserted at {k}"))
            .await;
    }
}

#[tokio::test]
async fn a_copy_of_an_earlier_entry_inserted_is_inserted() {
    // (k, the earlier entry copied)
    for (k, copied) in [
        (2, 1),
        (N / 2, 3),
        (N / 2, N / 2 - 1),
        (N - 1, 1),
        (N, N - 1),
    ] {
        let f = fixture().await;
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

async fn swap(pool: &SqlitePool, a: u64, b: u64) {
    let (ra, rb) = (row(pool, a).await, row(pool, b).await);
    set_entry(pool, a, &rb.entry, &rb.leaf_hash).await;
    set_entry(pool, b, &ra.entry, &ra.leaf_hash).await;
}

#[tokio::test]
async fn entries_swapped_three_apart_are_reordered() {
    for k in [1, N / 2, N - 3] {
        let f = fixture().await;
        swap(f.pool(), k, k + 3).await;
        f.expect(
            k,
            ProblemKind::Reordered,
            &format!("entries {k} and {} swapped", k + 3),
        )
        .await;
    }
}

#[tokio::test]
async fn adjacent_entries_swapped_are_reordered() {
    for k in POSITIONS {
        let f = fixture().await;
        swap(f.pool(), k, k + 1).await;
        f.expect(
            k,
            ProblemKind::Reordered,
            &format!("entries {k} and {} swapped", k + 1),
        )
        .await;
    }
}

#[tokio::test]
async fn a_consistent_rewrite_is_caught_by_the_checkpoints() {
    for k in POSITIONS {
        let f = fixture().await;
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

#[tokio::test]
async fn a_consistent_rewrite_re_signed_with_another_key_is_caught() {
    let f = fixture().await;
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

#[tokio::test]
async fn a_forged_checkpoint_is_caught() {
    for size in [7, 21, 40] {
        let (before, _) = checkpoints_around(size);
        let expected = before + 1;

        // The size line changed.
        let f = fixture().await;
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
        let f = fixture().await;
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
        let f = fixture().await;
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

#[tokio::test]
async fn a_changed_subtree_hash_is_a_tree_problem() {
    // (level, n): the stored hash of leaves n<<level .. (n+1)<<level.
    for (level, n) in [(1_u8, 0_u64), (1, 5), (2, 3), (3, 4)] {
        let f = fixture().await;
        let index = merkle::stored_hash_index(level, n);
        let done = sqlx::query("UPDATE audit_tree SET hash = ? WHERE idx = ?")
            .bind(leaf_digest(b"forged subtree").0.as_slice())
            .bind(i64::try_from(index).expect("index"))
            .execute(f.pool())
            .await
            .expect("update hash");
        assert_eq!(done.rows_affected(), 1);
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
#[tokio::test]
async fn a_copy_of_a_later_entry_inserted_is_inserted() {
    for (k, copied) in [(1, 5), (N / 2, N / 2 + 3)] {
        let f = fixture().await;
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
#[tokio::test]
async fn a_changed_checkpoint_root_column_is_caught() {
    let f = fixture().await;
    let bogus = leaf_digest(b"bogus root").to_string();
    sqlx::query("UPDATE audit_checkpoints SET root = ? WHERE size = 21")
        .bind(&bogus)
        .execute(f.pool())
        .await
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
