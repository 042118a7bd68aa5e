#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark: a failed step ends the run with its message"
)]
//! End-to-end triage on a durable store, against the store's own bare
//! transaction rates measured in the same run (issue 20).
//!
//! For each shape of input, a fresh data directory: a file of Suricata EVE
//! alerts is read, correlated, enriched, assessed, decided and recorded by
//! `Pipeline::triage_paths` (the path `warden triage` takes), on a
//! `SqliteStore` file (WAL, `synchronous = FULL`) with the audit log on and
//! checkpoints signed, the deterministic assessor choosing how many cases
//! run at once (`assessor_named("deterministic")`). Shapes:
//!
//! - `distinct`: every alert its own case (no shared entity or rule);
//! - `groups of 10`: ten alerts of one rule between the same two hosts;
//! - `storm`: every alert the same rule between the same two hosts.
//!
//! Reported per shape: alerts/s, cases/s, bytes written per case (the
//! process's `write_bytes` in `/proc/self/io`), bytes stored per case (the
//! database and its WAL after the run), and the ratio of cases/s to the
//! bare durable single-row transaction rate of a table in the same
//! directory kind, measured in the same run (the machine is shared: only
//! the ratio means something). `audit verify`'s check (the whole log
//! replayed into the Merkle tree) runs after each shape. Peak RSS of the
//! process is printed at the end.
//!
//! `WARDEN_BENCH_QUICK=1`: 1,000 alerts per shape instead of 10,000.
//!
//! Run with `cargo bench -p warden-pipeline --bench end_to_end`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use warden_audit::{AuditLog as _, StoreAuditLog};
use warden_domain::SystemClock;
use warden_pipeline::{Config, Pipeline, assessor_named};
use warden_policy::PolicyEngine;
use warden_store::SqliteStore;
use warden_testkit::bench::env_flag;

#[derive(Clone, Copy)]
enum Shape {
    Distinct,
    GroupsOfTen,
    Storm,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Distinct => "distinct",
            Shape::GroupsOfTen => "groups of 10",
            Shape::Storm => "storm",
        }
    }

    /// The group alert `i` belongs to.
    fn group(self, i: usize) -> usize {
        match self {
            Shape::Distinct => i,
            Shape::GroupsOfTen => i / 10,
            Shape::Storm => 0,
        }
    }
}

/// `count` Suricata EVE alert lines of `shape`, one second apart.
fn alerts(shape: Shape, count: usize) -> String {
    let mut out = String::new();
    for i in 0..count {
        let g = shape.group(i);
        let line = serde_json::json!({
            "timestamp": format!("2026-12-07T{:02}:{:02}:{:02}.000000+0000", (i / 3600) % 24, (i / 60) % 60, i % 60),
            "flow_id": 1_000_000 + i,
            "event_type": "alert",
            "src_ip": format!("10.{}.{}.{}", g % 200, (g / 200) % 250, 1 + g % 250),
            "src_port": 40_000 + i % 20_000,
            "dest_ip": format!("100.64.{}.{}", (g / 250) % 250, 1 + g % 250),
            "dest_port": 443,
            "proto": "TCP",
            "alert": {
                "action": "allowed", "gid": 1, "signature_id": 2_100_000 + g, "rev": 1,
                "signature": format!("ET POLICY benchmark signature {g}"),
                "category": "Potential Corporate Privacy Violation", "severity": 3
            }
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

/// Bytes this process has caused to be written to storage so far.
fn written() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|io| {
            io.lines()
                .find_map(|l| l.strip_prefix("write_bytes:").map(|v| v.trim().to_owned()))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmHWM:")
                    .map(|v| v.trim().trim_end_matches(" kB").to_owned())
            })
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn size_of(dir: &Path) -> u64 {
    ["warden.db", "warden.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

/// Durable single-row transactions per second, and rows per second in one
/// batched transaction, on a fresh database in `dir` with the store's
/// settings.
async fn bare_rates(dir: &Path) -> (f64, f64) {
    let options = SqliteConnectOptions::new()
        .filename(dir.join("bare.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("bare database");
    sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        .execute(&pool)
        .await
        .expect("table");
    let body = "x".repeat(512);
    let singles = 400;
    let started = Instant::now();
    for _ in 0..singles {
        sqlx::query("INSERT INTO t (body) VALUES (?)")
            .bind(&body)
            .execute(&pool)
            .await
            .expect("insert");
    }
    let single_rate = f64::from(singles) / started.elapsed().as_secs_f64();
    let batch = 10_000;
    let started = Instant::now();
    let mut tx = pool.begin().await.expect("begin");
    for _ in 0..batch {
        sqlx::query("INSERT INTO t (body) VALUES (?)")
            .bind(&body)
            .execute(&mut *tx)
            .await
            .expect("insert");
    }
    tx.commit().await.expect("commit");
    let batch_rate = f64::from(batch) / started.elapsed().as_secs_f64();
    (single_rate, batch_rate)
}

struct Row {
    shape: &'static str,
    alerts: usize,
    cases: usize,
    seconds: f64,
    written_per_case: f64,
    stored_per_case: f64,
}

async fn run(shape: Shape, count: usize, root: &Path) -> Row {
    let dir = root.join(shape.name().replace(' ', "-"));
    std::fs::create_dir_all(&dir).expect("dir");
    let file: PathBuf = dir.join("alerts.eve.jsonl");
    std::fs::write(&file, alerts(shape, count)).expect("alerts");
    let store = Arc::new(
        SqliteStore::open(&dir.join("warden.db"))
            .await
            .expect("store"),
    );
    let clock = Arc::new(SystemClock);
    let (key, _) = warden_audit::LogKey::generate("bench.warden").expect("key");
    let public = key.public().clone();
    let audit = Arc::new(
        StoreAuditLog::new(store.clone(), clock.clone())
            .with_checkpointer(warden_audit::Checkpointer::new(key, 1_000)),
    );
    let config = Config::default();
    let context = warden_enrich::Context::load(
        &warden_testkit::repo().join("examples/context"),
        &config.context,
    )
    .expect("examples/context");
    let choice = assessor_named("deterministic", &config).expect("deterministic");
    let pipeline = Pipeline::new(
        config,
        store.clone(),
        audit.clone(),
        clock,
        PolicyEngine::default_set().expect("policy"),
        context,
    )
    .expect("pipeline")
    .with_assessors(&choice);

    let before = written();
    let started = Instant::now();
    let run = pipeline.triage_paths(&[file], None).await.expect("triage");
    let seconds = started.elapsed().as_secs_f64();
    let after = written();
    assert!(run.rejected.is_empty(), "{:?}", run.rejected.first());
    let cases = run.outcomes.len();
    let entries = audit.records(None).await.expect("records").len();
    assert!(entries > count, "the audit log holds {entries} entries");
    let verified = warden_audit::verify::verify(store.as_ref(), &public)
        .await
        .expect("audit verify");
    assert!(verified.problem.is_none(), "{:?}", verified.problem);
    Row {
        shape: shape.name(),
        alerts: count,
        cases,
        seconds,
        written_per_case: (after - before) as f64 / cases.max(1) as f64,
        stored_per_case: size_of(&dir) as f64 / cases.max(1) as f64,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let count = if env_flag("WARDEN_BENCH_QUICK") {
        1_000
    } else {
        10_000
    };
    let root = tempfile::tempdir().expect("tempdir");
    let (single_before, batch) = bare_rates(root.path()).await;
    let mut rows = Vec::new();
    for shape in [Shape::Distinct, Shape::GroupsOfTen, Shape::Storm] {
        rows.push(run(shape, count, root.path()).await);
    }
    // Once more after, so a change in the machine's load shows.
    let after_dir = root.path().join("after");
    std::fs::create_dir_all(&after_dir).expect("dir");
    let (single_after, _) = bare_rates(&after_dir).await;
    let single = (single_before + single_after) / 2.0;

    println!(
        "bare durable single-row transactions: {single_before:.0}/s before, {single_after:.0}/s after; \
         batched insert: {batch:.0} rows/s"
    );
    println!(
        "{:<13} {:>7} {:>6} {:>8} {:>9} {:>8} {:>13} {:>12} {:>8}",
        "shape",
        "alerts",
        "cases",
        "seconds",
        "alerts/s",
        "cases/s",
        "written/case",
        "stored/case",
        "x bare"
    );
    for r in &rows {
        let cases_per_s = r.cases as f64 / r.seconds;
        println!(
            "{:<13} {:>7} {:>6} {:>8.1} {:>9.0} {:>8.1} {:>11.0} B {:>10.0} B {:>8.2}",
            r.shape,
            r.alerts,
            r.cases,
            r.seconds,
            r.alerts as f64 / r.seconds,
            cases_per_s,
            r.written_per_case,
            r.stored_per_case,
            cases_per_s / single
        );
    }
    println!(
        "written/stored per case: {}; peak RSS {} MiB",
        rows.iter()
            .map(|r| format!(
                "{} {:.1}x",
                r.shape,
                r.written_per_case / r.stored_per_case.max(1.0)
            ))
            .collect::<Vec<_>>()
            .join(", "),
        peak_rss_kib() / 1024
    );
}
