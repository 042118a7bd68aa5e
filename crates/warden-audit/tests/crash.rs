#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! A crash during append leaves a log that verifies.
//!
//! The parent test runs this test executable again as a child that appends
//! from several tasks at once (group commit) and signs checkpoints, forever;
//! the parent SIGKILLs it at some point after a few hundred entries,
//! restarts it, three times, and then verifies the log. Every append the
//! child saw acknowledged must still be there. The same on PostgreSQL: the
//! killed connection's transaction is rolled back and its advisory lock
//! released, and the next child carries on the one sequence.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use warden_audit::signing::PRIVATE_KEY_FILE;
use warden_audit::verify::verify;
use warden_audit::{AuditLog as _, Checkpointer, LogKey, StoreAuditLog};
use warden_domain::{AuditEvent, CaseId, SystemClock};
use warden_store::postgres::testing::TestSchema;
use warden_store::{Backend, PgStore, SqliteStore};

const CHILD_ENV: &str = "WARDEN_AUDIT_CRASH_CHILD";
/// Set for a child that appends to PostgreSQL: the store's URL.
const CHILD_URL_ENV: &str = "WARDEN_AUDIT_CRASH_CHILD_URL";
const CHILD_TEST: &str = "crash_child_appends_until_killed";
/// Entries each round must add before the child is killed.
const PER_ROUND: u64 = 300;
const ROUNDS: usize = 3;
const ORIGIN: &str = "warden.test/crash";

/// The child: only does anything when the parent set `CHILD_ENV`.
#[test]
fn crash_child_appends_until_killed() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    let url = std::env::var(CHILD_URL_ENV).ok();
    runtime.block_on(append_forever(PathBuf::from(path), url));
}

/// The store the parent names: PostgreSQL at `url`, else the file `path`.
async fn open(path: &Path, url: Option<&str>) -> Arc<dyn Backend> {
    match url {
        Some(url) => Arc::new(PgStore::connect(url).await.expect("store")),
        None => Arc::new(SqliteStore::open(path).await.expect("store")),
    }
}

async fn append_forever(path: PathBuf, url: Option<String>) {
    // A safety net should the parent die without killing us.
    let deadline = Instant::now() + Duration::from_secs(60);
    let key = LogKey::load(&path.with_file_name(PRIVATE_KEY_FILE)).expect("key");
    let store = open(&path, url.as_deref()).await;
    let log = Arc::new(
        StoreAuditLog::new(store, Arc::new(SystemClock))
            .with_checkpointer(Checkpointer::new(key, 25)),
    );
    let mut tasks = Vec::new();
    for worker in 0..8_u64 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0_u64;
            while Instant::now() < deadline {
                let event = if n.is_multiple_of(2) {
                    AuditEvent::Escalated {
                        case_id: CaseId::new(),
                        reasons: vec![format!("worker {worker} entry {n}")],
                    }
                } else {
                    AuditEvent::KillSwitchChanged {
                        scope: format!("use-case-{worker}"),
                        paused: n % 4 == 1,
                        by: "system:crash-test".into(),
                        reason: format!("entry {n}"),
                    }
                };
                let receipt = log
                    .append(&format!("agent:worker-{worker}"), event)
                    .await
                    .expect("append");
                // Seen by the parent: this entry is durable.
                println!("acked {}", receipt.seq);
                n += 1;
            }
        }));
    }
    let signer = log.clone();
    tasks.push(tokio::spawn(async move {
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(7)).await;
            signer.checkpoint().await.expect("checkpoint");
        }
    }));
    for task in tasks {
        task.await.expect("task");
    }
}

/// Kills the child however the parent test ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_child(path: &Path, url: Option<&str>) -> (Killed, std::thread::JoinHandle<u64>) {
    let mut command = Command::new(std::env::current_exe().expect("current exe"));
    if let Some(url) = url {
        command.env(CHILD_URL_ENV, url);
    }
    let mut child = command
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    // The highest sequence number the child saw acknowledged.
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| line.strip_prefix("acked ")?.trim().parse::<u64>().ok())
            .max()
            .unwrap_or(0)
    });
    (Killed(child), reader)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_append_leaves_a_log_that_verifies() {
    crash_rounds(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_a_crash_during_append_leaves_a_log_that_verifies() {
    let Some(schema) = TestSchema::create("crash")
        .await
        .unwrap_or_else(|why| panic!("{why}"))
    else {
        return;
    };
    crash_rounds(Some(&schema.url())).await;
}

/// Kill appending children `ROUNDS` times, on the SQLite file or on
/// PostgreSQL at `url`.
async fn crash_rounds(url: Option<&str>) {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("warden.db");
    let public = LogKey::create_files(dir.path(), ORIGIN)
        .expect("key files")
        .public()
        .clone();
    // The schema exists before any child opens the store.
    let store = open(&path, url).await;
    let mut seen = 0_u64;
    for round in 0..ROUNDS {
        let target = seen + PER_ROUND;
        let (mut child, reader) = spawn_child(&path, url);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let size = store.audit_size().await.expect("size");
            assert!(
                size >= seen,
                "round {round}: the log shrank from {seen} to {size}"
            );
            seen = size;
            if size >= target {
                break;
            }
            if let Some(status) = child.0.try_wait().expect("try_wait") {
                panic!("round {round}: the child exited on its own: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: only {size} entries after 15 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Mid-append, most likely: the child never stops appending.
        child.0.kill().expect("SIGKILL");
        let status = child.0.wait().expect("wait");
        assert!(!status.success(), "round {round}: {status}");
        let acked = reader.join().expect("reader");

        let size = store.audit_size().await.expect("size");
        assert!(
            size >= seen,
            "round {round}: the log shrank from {seen} to {size}"
        );
        assert!(
            size >= acked,
            "round {round}: entry {acked} was acknowledged but the log ends at {size}"
        );
        eprintln!("round {round}: killed at {size} entries, {acked} acknowledged");
        seen = size;
        let report = verify(store.as_ref(), &public).await.expect("verify");
        assert!(report.ok(), "round {round}: {report:?}");
        assert_eq!(report.entries, size);
    }
    drop(store);

    let store = open(&path, url).await;
    let report = verify(store.as_ref(), &public).await.expect("verify");
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.entries, seen);
    assert!(seen >= PER_ROUND * ROUNDS as u64);
    assert!(report.checkpoints > 0, "{report:?}");
    assert!(report.signed_entries <= seen);
    let rows = store.audit_rows(None).await.expect("rows");
    assert_eq!(
        rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=seen).collect::<Vec<_>>()
    );
}
