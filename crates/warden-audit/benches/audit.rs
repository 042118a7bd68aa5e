//! The audit log's write, verification and proof paths, each against a
//! baseline measured in the same run (the ratios absorb the machine's noise).
//!
//! 1. **Durable appends, group-committed.** [`APPENDERS`] tokio tasks on a
//!    multi-thread runtime each call `StoreAuditLog::append` in a loop with
//!    realistic events (policy decisions, assessments, approvals, tool calls:
//!    a few hundred bytes of canonical JSON), into `SqliteStore::open` on a
//!    file (WAL, `synchronous = FULL`), with a `Checkpointer` signing every
//!    [`CHECKPOINT_EVERY`] entries as the default configuration does.
//!    Transactions are counted with an SQLite commit hook on every pooled
//!    connection, so the average batch the group commit reached is known
//!    (checkpoint inserts subtracted). Baselines, through the same pool:
//!    plain `INSERT`s of the same rows (entry text and leaf hash prepared
//!    beforehand) into `bench_bare`, a table with `audit_log`'s columns but
//!    no index, trigger or tree, in `BEGIN IMMEDIATE` transactions
//!    - of the group commit's average batch size ("bare", matched; in the
//!      rounds where it runs before the group commit, the previous round's
//!      average), and
//!    - of one row each ("1-row"; for a fixed time).
//!
//!    Between the two, to tell the store's cost from the log's:
//!    `Store::append_audit` of the same prepared rows in the same batches,
//!    one after another ("store": indexes and tree, no encoding, hashing
//!    or group commit).
//!
//!    Target: appends/s at least half the matched bare baseline's rows/s,
//!    and at least [`TARGET_APPENDS`] appends/s.
//! 2. **Verification.** `warden_audit::verify::verify` of a log of
//!    100,000 entries (20,000 quick) with a checkpoint every 1,000, against
//!    SHA-256 of the same entry texts, once each. Target: ratio at least
//!    0.5. Then where verification's time goes: reading the stored tree,
//!    paging through the entries, and the verification proper
//!    (`Verifier`: hashing, checks, tree rebuild, checkpoints), beside a
//!    bare `SELECT seq, entry, leaf_hash` of the same rows for reference;
//!    the verification proper is also set against SHA-256 of the same bytes
//!    on its own (what verifying costs beyond reading the database).
//! 3. **Inclusion proofs** at 1,000,000 entries (100,000 quick): the log is
//!    extended by `append_audit` in large batches (setup, timed apart), a
//!    checkpoint signed on demand (`StoreAuditLog::checkpoint`), then
//!    `prove_inclusion` and `verify_inclusion` for random entries against a
//!    point read of one `audit_log` row by `seq` in the same database.
//!
//! Rounds alternate which side goes first; medians over rounds are
//! reported. `WARDEN_BENCH_QUICK=1` makes it short (CI);
//! `WARDEN_BENCH_ENFORCE=1` fails the run when a target is missed.
//!
//! Run with `cargo bench -p warden-audit --bench audit`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "benchmark"
)]

use std::collections::BTreeMap;
use std::fmt::Display;
use std::hint::black_box;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::sqlite::SqlitePool;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use warden_audit::proof::{prove_inclusion, verify_inclusion};
use warden_audit::verify::{Verifier, verify};
use warden_audit::{AuditEntry, AuditLog, Checkpointer, LogKey, PublicKey, StoreAuditLog};
use warden_domain::audit::ProposalRecord;
use warden_domain::{
    ActionName, ActionProposal, AuditEvent, CaseId, DecisionOutcome, EvidenceId, Severity,
    SystemClock, Target, Verdict,
};
use warden_store::merkle::Hash;
use warden_store::{CaseReader, NewAuditRow, SqliteStore, Store, StoredCheckpoint};

/// Concurrent appenders.
const APPENDERS: usize = 64;
/// The default `[audit] checkpoint_every`.
const CHECKPOINT_EVERY: u64 = 1000;
/// Durable appends per second the group commit must reach.
const TARGET_APPENDS: f64 = 3000.0;
/// Appends/s over the matched bare baseline's rows/s, at least.
const TARGET_APPEND_RATIO: f64 = 0.5;
/// Verified entries/s over raw SHA-256 entries/s, at least.
const TARGET_VERIFY_RATIO: f64 = 0.5;
/// Entries per `append_audit` call when building the large log.
const SETUP_BATCH: u64 = 20_000;
/// Proofs timed before the measured ones.
const PROOF_WARMUP: usize = 20;

const BARE_TABLE: &str = "CREATE TABLE IF NOT EXISTS bench_bare (
    seq        INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    stage      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    case_id    TEXT,
    entry      TEXT NOT NULL,
    leaf_hash  TEXT NOT NULL
)";

const BARE_INSERT: &str = "INSERT INTO bench_bare (seq, at, actor, stage, kind, case_id, entry, \
                           leaf_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

const POINT_READ: &str = "SELECT seq, at, actor, stage, kind, case_id, entry, leaf_hash \
                          FROM audit_log WHERE seq = ?";

#[derive(Debug, Clone, Copy)]
struct Plan {
    quick: bool,
    appends_per_task: usize,
    append_rounds: usize,
    /// How long the one-row-per-transaction baseline runs per round.
    single_budget: Duration,
    verify_entries: u64,
    verify_rounds: usize,
    proof_entries: u64,
    proofs: usize,
}

impl Plan {
    fn from_env() -> Self {
        if env_flag("WARDEN_BENCH_QUICK") {
            Plan {
                quick: true,
                appends_per_task: 60,
                append_rounds: 3,
                single_budget: Duration::from_millis(400),
                verify_entries: 20_000,
                verify_rounds: 3,
                proof_entries: 100_000,
                proofs: 100,
            }
        } else {
            Plan {
                quick: false,
                appends_per_task: 120,
                append_rounds: 7,
                single_budget: Duration::from_millis(1500),
                verify_entries: 100_000,
                verify_rounds: 5,
                proof_entries: 1_000_000,
                proofs: 200,
            }
        }
    }
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

fn median_f64(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn quantile(values: &[Duration], q: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
    sorted.get(rank - 1).copied().unwrap_or_default()
}

/// `12,345`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Error context for `?`.
trait Ctx<T> {
    fn ctx(self, what: &str) -> Result<T, String>;
}

impl<T, E: Display> Ctx<T> for Result<T, E> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

/// A small deterministic generator (64-bit LCG, high bits).
#[derive(Debug, Clone)]
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const ACTIONS: &[ActionName] = &[
    ActionName::CaseNote,
    ActionName::TicketCreate,
    ActionName::NotifyOwner,
    ActionName::AlertSuppress,
    ActionName::EdrIsolateHost,
    ActionName::EdrKillProcess,
    ActionName::EdrQuarantineFile,
    ActionName::IdpRevokeSessions,
    ActionName::IdpDisableUser,
    ActionName::EmailQuarantine,
    ActionName::NetBlockIndicator,
];

const ACTORS: &[&str] = &[
    "system:pipeline",
    "agent:endpoint-malware",
    "agent:phishing",
    "agent:suspicious-sign-in",
    "person:alice",
];

fn proposal(rng: &mut Seeded, case_id: CaseId) -> ProposalRecord {
    let action = *rng.pick(ACTIONS);
    let target = match action.target_kinds().first() {
        None => Target::case(case_id),
        Some(kind) => Target::Entity {
            kind: *kind,
            value: format!("{kind}-{:05}.corp.example.com", rng.next() % 50_000),
        },
    };
    let mut parameters = BTreeMap::new();
    if rng.next().is_multiple_of(2) {
        parameters.insert("duration".to_owned(), "24h".to_owned());
    }
    ProposalRecord::of(&ActionProposal {
        case_id,
        action,
        target,
        parameters,
        proposed_by: "deterministic".into(),
        evidence: vec![EvidenceId::enrichment(rng.below(8))],
    })
}

/// One event of the mix the pipeline writes most: policy decisions,
/// assessments, approval rulings and tool calls.
fn event(rng: &mut Seeded) -> AuditEvent {
    let case_id = CaseId::new();
    match rng.next() % 20 {
        0..=9 => AuditEvent::PolicyDecided {
            case_id,
            proposal: proposal(rng, case_id),
            outcome: match rng.next() % 3 {
                0 => DecisionOutcome::Allow,
                1 => DecisionOutcome::NeedsApproval {
                    approvals: 1,
                    roles: vec!["soc_lead".into(), "incident_commander".into()],
                },
                _ => DecisionOutcome::Deny,
            },
            policy_ids: vec![
                "assisted-containment-needs-approval".into(),
                "guard-tier0-assets".into(),
            ],
            policy_version:
                "sha256:5d41402abc4b2a76b9719d911017c592ae2f5c1b9d0e8f7a6b5c4d3e2f1a0b9c".into(),
            reasons: vec![
                "containment of a tier_1 production host in an assisted use case needs one \
                 approval"
                    .into(),
            ],
        },
        10..=14 => AuditEvent::Assessed {
            case_id,
            assessor: "deterministic".into(),
            model: "warden-rules 0.9.0".into(),
            verdict: *rng.pick(&[
                Verdict::Malicious,
                Verdict::Suspicious,
                Verdict::Benign,
                Verdict::FalsePositive,
            ]),
            severity: *rng.pick(&Severity::ALL),
            confidence: 0.5 + (rng.next() % 50) as f64 / 100.0,
            risk_score: (rng.next() % 100) as f64 / 10.0,
            proposals: vec![proposal(rng, case_id), proposal(rng, case_id)],
        },
        15..=17 => AuditEvent::ApprovalEvaluated {
            case_id,
            proposal_hash: proposal(rng, case_id).proposal_hash,
            outcome: "requested".into(),
            approvals_required: 1,
            roles: vec!["soc_lead".into(), "incident_commander".into()],
        },
        _ => AuditEvent::ToolCalled {
            case_id,
            tool: "edr.process_tree".into(),
            parameters: serde_json::json!({
                "host": format!("ws-{:05}.corp.example.com", rng.next() % 50_000),
                "window": "24h",
                "limit": 50,
                "include_children": true,
            }),
            outcome: format!("{} findings", rng.next() % 20),
        },
    }
}

/// A row as `StoreAuditLog` stores it.
fn new_row(actor: &str, at: OffsetDateTime, event: AuditEvent) -> Result<NewAuditRow, String> {
    AuditEntry {
        at,
        actor: actor.to_owned(),
        event,
    }
    .into_row()
    .ctx("audit row")
}

/// `n` rows from seed `seed`, the first at `first` (one every 250 ms).
fn rows_from(seed: u64, first: OffsetDateTime, n: u64) -> Result<Vec<NewAuditRow>, String> {
    let mut rng = Seeded(seed);
    (0..n)
        .map(|i| {
            let at = first + time::Duration::milliseconds(i as i64 * 250);
            let actor = *rng.pick(ACTORS);
            new_row(actor, at, event(&mut rng))
        })
        .collect()
}

/// Count committed write transactions on every connection of `pool`.
async fn hook_commits(pool: &SqlitePool, commits: &Arc<AtomicU64>) -> Result<usize, String> {
    let max = pool.options().get_max_connections();
    let mut held = Vec::new();
    for _ in 0..max {
        held.push(pool.acquire().await.ctx("acquire a connection")?);
    }
    for conn in &mut held {
        let commits = commits.clone();
        conn.lock_handle()
            .await
            .ctx("lock a connection")?
            .set_commit_hook(move || {
                commits.fetch_add(1, Ordering::Relaxed);
                true
            });
    }
    Ok(held.len())
}

/// Plain inserts of `rows` into `bench_bare`, `batch` per transaction.
async fn bare_insert(
    pool: &SqlitePool,
    rows: &[NewAuditRow],
    batch: usize,
    seq: &mut i64,
    budget: Option<Duration>,
) -> Result<(usize, Duration), String> {
    let started = Instant::now();
    let mut written = 0;
    for chunk in rows.chunks(batch.max(1)) {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.ctx("begin")?;
        for row in chunk {
            *seq += 1;
            sqlx::query(BARE_INSERT)
                .bind(*seq)
                .bind(row.at.format(&Rfc3339).ctx("timestamp")?)
                .bind(&row.actor)
                .bind(&row.stage)
                .bind(&row.kind)
                .bind(row.case_id.map(|id| id.to_string()))
                .bind(&row.entry)
                .bind(&row.leaf_hash)
                .execute(&mut *tx)
                .await
                .ctx("bare insert")?;
        }
        tx.commit().await.ctx("bare commit")?;
        written += chunk.len();
        if budget.is_some_and(|b| started.elapsed() >= b) {
            break;
        }
    }
    Ok((written, started.elapsed()))
}

#[derive(Debug, Default)]
struct AppendFigures {
    appends_per_s: f64,
    store_per_s: f64,
    matched_per_s: f64,
    single_per_s: f64,
    ratio_matched: f64,
    ratio_store: f64,
    ratio_single: f64,
    batch: f64,
    entry_bytes: f64,
    checkpoints: usize,
}

/// Records the stored hashes a `tlog_tiles` computation asks for (as
/// `prove_inclusion` does before fetching them).
#[derive(Debug, Default)]
struct Recorder(std::cell::RefCell<Vec<u64>>);

impl tlog_tiles::HashReader for Recorder {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        self.0.borrow_mut().extend_from_slice(indexes);
        Err(tlog_tiles::Error::IndexesNotInTree)
    }
}

/// What one append round measured.
#[derive(Debug, Clone, Copy)]
struct AppendRound {
    /// `StoreAuditLog::append`, appends/s.
    group: f64,
    /// `Store::append_audit` of the prepared rows in the same batches, rows/s.
    store: f64,
    /// Bare inserts in the same batches, rows/s.
    bare: f64,
    /// Bare inserts, one per transaction, rows/s.
    single: f64,
    /// The group commit's average batch.
    batch: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Group,
    Store,
    Bare,
}

async fn bench_append(plan: Plan, key_text: &str, dir: &Path) -> Result<AppendFigures, String> {
    let store = Arc::new(
        SqliteStore::open(&dir.join("append.db"))
            .await
            .ctx("open the append store")?,
    );
    let pool = store.pool().clone();
    sqlx::query(BARE_TABLE)
        .execute(&pool)
        .await
        .ctx("create bench_bare")?;
    let commits = Arc::new(AtomicU64::new(0));
    let hooked = hook_commits(&pool, &commits).await?;
    let key = LogKey::parse(key_text).ctx("key")?;
    let log = Arc::new(
        StoreAuditLog::new(store.clone(), Arc::new(SystemClock))
            .with_checkpointer(Checkpointer::new(key, CHECKPOINT_EVERY)),
    );
    println!(
        "\n1. durable appends: {APPENDERS} tasks x {} appends per round, {} rounds (+1 warm-up); \
         SQLite file, WAL, synchronous=FULL, {hooked} pooled connections (commits counted on \
         each), checkpoint every {CHECKPOINT_EVERY}.\n   \
         group = StoreAuditLog::append; store = Store::append_audit of the prepared rows, \
         sequential, in batches of the group commit's average (b); bare = plain INSERTs into \
         bench_bare, same batches; 1-row = bare, one row per transaction",
        plan.appends_per_task, plan.append_rounds
    );
    println!(
        "{:>5} {:>6} {:>10} {:>6} {:>10} {:>16} {:>10} {:>11} {:>11} {:>10}",
        "round",
        "first",
        "group /s",
        "batch",
        "store /s",
        "bare /s (b)",
        "1-row /s",
        "group/bare",
        "store/bare",
        "group/1row"
    );
    let mut rng = Seeded(0xa0d1_7000_0001);
    let mut bare_seq = 0_i64;
    let mut last_batch = APPENDERS as f64 / 2.0;
    let mut rounds: Vec<AppendRound> = Vec::new();
    let mut bytes = Vec::new();
    let sides = [Side::Group, Side::Store, Side::Bare];
    for round in 0..=plan.append_rounds {
        let warm = round == 0;
        let per_task = if warm { 10 } else { plan.appends_per_task };
        let work: Vec<Vec<(&'static str, AuditEvent)>> = (0..APPENDERS)
            .map(|_| {
                (0..per_task)
                    .map(|_| (*rng.pick(ACTORS), event(&mut rng)))
                    .collect()
            })
            .collect();
        let now = OffsetDateTime::now_utc();
        let rows: Vec<NewAuditRow> = work
            .iter()
            .flatten()
            .map(|(actor, e)| new_row(actor, now, e.clone()))
            .collect::<Result<_, _>>()?;
        bytes.extend(rows.iter().map(|r| r.entry.len() as f64));
        let entries = rows.len();
        let first = sides[round % sides.len()];

        let mut work = Some(work);
        let mut batch: Option<f64> = None;
        let mut group = Duration::ZERO;
        let mut store_time = Duration::ZERO;
        let mut bare = (0, Duration::ZERO);
        let mut checkpoints = 0;
        let mut used_batch = last_batch;
        for k in 0..sides.len() {
            match sides[(round + k) % sides.len()] {
                Side::Group => {
                    let work = work.take().ok_or("work used twice")?;
                    let checkpoints_before = store.checkpoints().await.ctx("checkpoints")?.len();
                    let commits_before = commits.load(Ordering::SeqCst);
                    let started = Instant::now();
                    let tasks: Vec<_> = work
                        .into_iter()
                        .map(|events| {
                            let log = log.clone();
                            tokio::spawn(async move {
                                for (actor, event) in events {
                                    log.append(actor, event).await?;
                                }
                                Ok::<_, warden_audit::AuditError>(())
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.ctx("appender")?.ctx("append")?;
                    }
                    group = started.elapsed();
                    let transactions = commits.load(Ordering::SeqCst) - commits_before;
                    checkpoints =
                        store.checkpoints().await.ctx("checkpoints")?.len() - checkpoints_before;
                    let appends = transactions.saturating_sub(checkpoints as u64).max(1);
                    batch = Some(entries as f64 / appends as f64);
                }
                Side::Store => {
                    used_batch = batch.unwrap_or(last_batch);
                    let size = (used_batch.round() as usize).max(1);
                    let started = Instant::now();
                    for chunk in rows.chunks(size) {
                        store.append_audit(chunk).await.ctx("append_audit")?;
                    }
                    store_time = started.elapsed();
                }
                Side::Bare => {
                    let size = batch.unwrap_or(last_batch).round() as usize;
                    bare = bare_insert(&pool, &rows, size, &mut bare_seq, None).await?;
                }
            }
        }
        let batch = batch.ok_or("no group round")?;
        last_batch = batch;
        let single = bare_insert(
            &pool,
            &rows,
            1,
            &mut bare_seq,
            Some(if warm {
                plan.single_budget / 4
            } else {
                plan.single_budget
            }),
        )
        .await?;
        let measured = AppendRound {
            group: entries as f64 / group.as_secs_f64(),
            store: entries as f64 / store_time.as_secs_f64(),
            bare: bare.0 as f64 / bare.1.as_secs_f64(),
            single: single.0 as f64 / single.1.as_secs_f64(),
            batch,
        };
        println!(
            "{:>5} {:>6} {:>10} {:>6.1} {:>10} {:>16} {:>10} {:>11.2} {:>11.2} {:>9.1}x{}",
            if warm {
                "warm".to_owned()
            } else {
                round.to_string()
            },
            match first {
                Side::Group => "group",
                Side::Store => "store",
                Side::Bare => "bare",
            },
            thousands(measured.group),
            batch,
            thousands(measured.store),
            format!("{} ({:.0})", thousands(measured.bare), used_batch.round()),
            thousands(measured.single),
            measured.group / measured.bare,
            measured.store / measured.bare,
            measured.group / measured.single,
            if checkpoints > 0 {
                format!("  ({checkpoints} checkpoints)")
            } else {
                String::new()
            }
        );
        if !warm {
            rounds.push(measured);
        }
    }
    if store.pool().size() as usize != hooked {
        println!(
            "warning: the pool now holds {} connections, {hooked} were hooked: \
             transactions may be undercounted",
            store.pool().size()
        );
    }
    let column = |f: fn(&AppendRound) -> f64| -> f64 {
        median_f64(&rounds.iter().map(f).collect::<Vec<_>>())
    };
    Ok(AppendFigures {
        appends_per_s: column(|r| r.group),
        store_per_s: column(|r| r.store),
        matched_per_s: column(|r| r.bare),
        single_per_s: column(|r| r.single),
        ratio_matched: column(|r| r.group / r.bare),
        ratio_store: column(|r| r.store / r.bare),
        ratio_single: column(|r| r.group / r.single),
        batch: column(|r| r.batch),
        entry_bytes: bytes.iter().sum::<f64>() / bytes.len().max(1) as f64,
        checkpoints: store.checkpoints().await.ctx("checkpoints")?.len(),
    })
}

/// Extend the log in `store` from `from` to `to` entries, `batch` at a
/// time (the next batch is generated while the current one is written).
/// With `key`, a checkpoint is signed after every batch. Returns the
/// entries' texts when `keep` is set, and how long each `append_audit`
/// call took.
async fn extend_log(
    store: &SqliteStore,
    from: u64,
    to: u64,
    batch: u64,
    key: Option<&LogKey>,
    keep: bool,
) -> Result<(Vec<String>, Vec<Duration>), String> {
    let base = OffsetDateTime::now_utc() - time::Duration::days(30);
    let generate = |start: u64| {
        let n = batch.min(to - start);
        let first = base + time::Duration::milliseconds(start as i64 * 250);
        tokio::task::spawn_blocking(move || rows_from(0x5e70_0000 ^ start, first, n))
    };
    let mut texts = Vec::new();
    let mut calls = Vec::new();
    let mut at = from;
    let mut next = (at < to).then(|| generate(at));
    while let Some(pending) = next.take() {
        let rows = pending.await.ctx("generate")??;
        let count = rows.len() as u64;
        if at + count < to {
            next = Some(generate(at + count));
        }
        let t = Instant::now();
        let appended = store.append_audit(&rows).await.ctx("append_audit")?;
        calls.push(t.elapsed());
        if let Some(key) = key {
            let note = key
                .sign_checkpoint(appended.size, appended.root)
                .ctx("sign")?;
            store
                .add_checkpoint(&StoredCheckpoint {
                    size: appended.size,
                    root: appended.root.to_string(),
                    note,
                    at: OffsetDateTime::now_utc(),
                })
                .await
                .ctx("add checkpoint")?;
        }
        if keep {
            texts.extend(rows.into_iter().map(|r| r.entry));
        }
        at += count;
    }
    Ok((texts, calls))
}

/// SHA-256 of every text, passes repeated until `min` has elapsed;
/// entries per second.
fn raw_sha(texts: &[String], min: Duration) -> f64 {
    let started = Instant::now();
    let mut hashed = 0_usize;
    loop {
        for text in texts {
            black_box(Sha256::digest(black_box(text.as_bytes())));
        }
        hashed += texts.len();
        if started.elapsed() >= min {
            return hashed as f64 / started.elapsed().as_secs_f64();
        }
    }
}

/// Where verification's time goes: `verify` is reading the stored tree,
/// paging through the entries (`audit_entries`), and the verification
/// proper ([`Verifier`]: leaf hashes on two threads, the leaf-hash column,
/// entry checks, the one-pass tree rebuild and comparison, checkpoints).
/// The phases are redone here through the same public API.
#[derive(Debug, Default, Clone)]
struct Phases {
    /// Reference: `SELECT seq, entry, leaf_hash` through sqlx, no decoding.
    bare_read: Duration,
    read_tree: Duration,
    read_entries: Duration,
    core: Duration,
}

impl Phases {
    fn named(&self) -> [(&'static str, Duration); 3] {
        [
            ("read stored tree (audit_tree)", self.read_tree),
            ("read entries (audit_entries pages)", self.read_entries),
            (
                "verification proper (Verifier: hash, check, rebuild)",
                self.core,
            ),
        ]
    }
}

/// Entries per query when `verify` pages through the log.
const VERIFY_PAGE: u32 = 10_000;

async fn verify_phases(store: &SqliteStore, key: &PublicKey) -> Result<Phases, String> {
    let mut phases = Phases::default();

    // Reference, not part of verify: the same rows' text read bare.
    let t = Instant::now();
    let bare = sqlx::query("SELECT seq, entry, leaf_hash FROM audit_log ORDER BY seq")
        .fetch_all(store.pool())
        .await
        .ctx("bare read")?;
    phases.bare_read = t.elapsed();
    black_box(bare.len());
    drop(bare);

    let t = Instant::now();
    let stored = store.audit_tree().await.ctx("tree")?;
    let checkpoints = store.checkpoints().await.ctx("checkpoints")?;
    phases.read_tree = t.elapsed();

    let t = Instant::now();
    let mut pages = Vec::new();
    let mut after = 0;
    loop {
        let page = store
            .audit_entries(after, VERIFY_PAGE)
            .await
            .ctx("entries")?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        pages.push(page);
    }
    phases.read_entries = t.elapsed();

    let t = Instant::now();
    let mut verifier = Verifier::default();
    for page in &pages {
        verifier.add_page(page);
    }
    let report = verifier.finish(&stored, &checkpoints, key);
    phases.core = t.elapsed();
    if !report.ok() {
        return Err(format!("verification proper: {report:?}"));
    }
    Ok(phases)
}

#[derive(Debug, Default)]
struct VerifyFigures {
    entries: u64,
    checkpoints: usize,
    verify_per_s: f64,
    sha_per_s: f64,
    ratio: f64,
    verify_time: Duration,
    setup: Duration,
    /// The verification proper over entries already read.
    core_per_s: f64,
    core_ratio: f64,
}

async fn bench_verify(
    plan: Plan,
    store: &SqliteStore,
    key: &LogKey,
) -> Result<VerifyFigures, String> {
    let n = plan.verify_entries;
    let started = Instant::now();
    let (texts, _) = extend_log(store, 0, n, CHECKPOINT_EVERY, Some(key), true).await?;
    let setup = started.elapsed();
    let checkpoints = store.checkpoints().await.ctx("checkpoints")?.len();
    let mean = texts.iter().map(String::len).sum::<usize>() as f64 / texts.len().max(1) as f64;
    println!(
        "\n2. verify: {} entries (mean {mean:.0} bytes), {checkpoints} checkpoints; \
         set up in {:.1} s; {} rounds",
        thousands(n as f64),
        setup.as_secs_f64(),
        plan.verify_rounds
    );
    println!(
        "{:>5} {:>9} {:>16} {:>18} {:>7}",
        "round", "verify s", "verify entries/s", "SHA-256 entries/s", "ratio"
    );
    let public = key.public().clone();
    let mut rounds = Vec::new();
    let mut times = Vec::new();
    for round in 0..plan.verify_rounds {
        let mut sha = 0.0;
        if round % 2 == 1 {
            sha = raw_sha(&texts, Duration::from_millis(300));
        }
        let t = Instant::now();
        let report = verify(store, &public).await.ctx("verify")?;
        let took = t.elapsed();
        if !report.ok() || report.entries != n || report.checkpoints != checkpoints {
            return Err(format!("verify: unexpected report {report:?}"));
        }
        if round % 2 == 0 {
            sha = raw_sha(&texts, Duration::from_millis(300));
        }
        let rate = n as f64 / took.as_secs_f64();
        println!(
            "{round:>5} {:>9.3} {:>16} {:>18} {:>7.3}",
            took.as_secs_f64(),
            thousands(rate),
            thousands(sha),
            rate / sha
        );
        rounds.push((rate, sha));
        times.push(took);
    }
    let verify_time = median(&times);
    let figures = VerifyFigures {
        entries: n,
        checkpoints,
        verify_per_s: median_f64(&rounds.iter().map(|r| r.0).collect::<Vec<_>>()),
        sha_per_s: median_f64(&rounds.iter().map(|r| r.1).collect::<Vec<_>>()),
        ratio: median_f64(&rounds.iter().map(|r| r.0 / r.1).collect::<Vec<_>>()),
        verify_time,
        setup,
        core_per_s: 0.0,
        core_ratio: 0.0,
    };

    // Where the time goes.
    let mut runs = Vec::new();
    for _ in 0..plan.verify_rounds.min(3) {
        runs.push(verify_phases(store, &public).await?);
    }
    let pick = |f: fn(&Phases) -> Duration| median(&runs.iter().map(f).collect::<Vec<_>>());
    let phases = Phases {
        bare_read: pick(|p| p.bare_read),
        read_tree: pick(|p| p.read_tree),
        read_entries: pick(|p| p.read_entries),
        core: pick(|p| p.core),
    };
    // The verification proper against SHA-256 of the same bytes, round by
    // round: what verifying costs beyond reading the database.
    let mut core_ratios = Vec::new();
    let mut core_rates = Vec::new();
    for run in &runs {
        let sha = raw_sha(&texts, Duration::from_millis(300));
        let rate = n as f64 / run.core.as_secs_f64();
        core_rates.push(rate);
        core_ratios.push(rate / sha);
    }
    let total: Duration = phases.named().iter().map(|(_, d)| *d).sum();
    println!(
        "where verify's time goes (phases redone through the public API, median of {}; \
         sum {:.0} ms, verify itself {:.0} ms):",
        runs.len(),
        millis(total),
        millis(verify_time)
    );
    for (name, d) in phases.named() {
        println!(
            "  {name:<54} {:>8.1} ms {:>5.1}%  {:>6.2} µs/entry",
            millis(d),
            100.0 * d.as_secs_f64() / total.as_secs_f64().max(1e-9),
            micros(d) / n as f64
        );
    }
    println!(
        "  {:<54} {:>8.1} ms {:>6}  {:>6.2} µs/entry",
        "(reference: SELECT seq, entry, leaf_hash, bare)",
        millis(phases.bare_read),
        "",
        micros(phases.bare_read) / n as f64
    );
    Ok(VerifyFigures {
        core_per_s: median_f64(&core_rates),
        core_ratio: median_f64(&core_ratios),
        ..figures
    })
}

#[derive(Debug, Default)]
struct ProofFigures {
    entries: u64,
    /// Stored hashes `prove_inclusion` fetches per proof (in one query).
    fetched: f64,
    setup: Duration,
    sign: Duration,
    path_len: f64,
    prove: (Duration, Duration),
    check: (Duration, Duration),
    point: (Duration, Duration),
}

async fn bench_proofs(
    plan: Plan,
    store: &Arc<SqliteStore>,
    key_text: &str,
) -> Result<ProofFigures, String> {
    let from = store.audit_size().await.ctx("size")?;
    let n = plan.proof_entries;
    let started = Instant::now();
    let (_, calls) = extend_log(store, from, n, SETUP_BATCH, None, false).await?;
    let setup = started.elapsed();
    // append_audit's rate early and late in the build (the log grows).
    let tenth = (calls.len() / 10).max(1);
    let rate = |slice: &[Duration]| {
        (slice.len() as u64 * SETUP_BATCH) as f64 / slice.iter().sum::<Duration>().as_secs_f64()
    };
    let early = rate(&calls[..tenth.min(calls.len())]);
    let late = rate(&calls[calls.len().saturating_sub(tenth)..]);

    let key = LogKey::parse(key_text).ctx("key")?;
    let public = key.public().clone();
    let log = StoreAuditLog::new(store.clone(), Arc::new(SystemClock))
        .with_checkpointer(Checkpointer::new(key, CHECKPOINT_EVERY));
    let t = Instant::now();
    let checkpoint = log
        .checkpoint()
        .await
        .ctx("checkpoint")?
        .ok_or("no checkpoint")?;
    let sign = t.elapsed();
    if checkpoint.size != n {
        return Err(format!(
            "checkpoint of {} entries, not {n}",
            checkpoint.size
        ));
    }
    println!(
        "\n3. inclusion proofs at {} entries{}: extended from {} by append_audit in batches of \
         {} in {:.1} s; checkpoint signed on demand in {:.1} ms; {} proofs (+{PROOF_WARMUP} \
         warm-up)",
        thousands(n as f64),
        if plan.quick {
            " (quick run: not 1,000,000)"
        } else {
            ""
        },
        thousands(from as f64),
        thousands(SETUP_BATCH as f64),
        setup.as_secs_f64(),
        millis(sign),
        plan.proofs
    );
    println!(
        "   append_audit during the build: {} rows/s over the first tenth of the calls, \
         {} rows/s over the last",
        thousands(early),
        thousands(late)
    );

    let pool = store.pool();
    let mut rng = Seeded(0x9f00_f000_0003);
    let (mut prove, mut check, mut point) = (Vec::new(), Vec::new(), Vec::new());
    let mut path_len = 0_usize;
    let mut fetched = 0_usize;
    for i in 0..PROOF_WARMUP + plan.proofs {
        let seq = 1 + rng.next() % n;
        let read_first = i % 2 == 0;
        let read = || async {
            let t = Instant::now();
            let row = sqlx::query(POINT_READ)
                .bind(seq as i64)
                .fetch_one(pool)
                .await
                .ctx("point read")?;
            black_box(row.get::<String, _>(6));
            Ok::<_, String>(t.elapsed())
        };
        let mut read_time = Duration::ZERO;
        if read_first {
            read_time = read().await?;
        }
        let t = Instant::now();
        let proof = prove_inclusion(store.as_ref(), seq, &checkpoint)
            .await
            .ctx("prove")?;
        let prove_time = t.elapsed();
        let t = Instant::now();
        let proven = verify_inclusion(black_box(&proof), &public).ctx("verify_inclusion")?;
        let check_time = t.elapsed();
        if proven.seq != Some(seq) || proven.tree_size != n {
            return Err(format!("proof of {seq} proves {proven:?}"));
        }
        if !read_first {
            read_time = read().await?;
        }
        if i >= PROOF_WARMUP {
            prove.push(prove_time);
            check.push(check_time);
            point.push(read_time);
            path_len += proof.path.len();
            let recorder = Recorder::default();
            if tlog_tiles::prove_record(n, seq - 1, &recorder).is_err() {
                fetched += recorder.0.borrow().len();
            }
        }
    }
    let q = |v: &[Duration]| (quantile(v, 0.5), quantile(v, 0.99));
    let figures = ProofFigures {
        entries: n,
        setup,
        sign,
        path_len: path_len as f64 / plan.proofs.max(1) as f64,
        fetched: fetched as f64 / plan.proofs.max(1) as f64,
        prove: q(&prove),
        check: q(&check),
        point: q(&point),
    };
    println!("{:<32} {:>10} {:>10}", "", "p50 µs", "p99 µs");
    for (name, (p50, p99)) in [
        ("prove_inclusion", figures.prove),
        ("verify_inclusion", figures.check),
        ("point read of one row (baseline)", figures.point),
    ] {
        println!("{name:<32} {:>10.1} {:>10.1}", micros(p50), micros(p99));
    }
    println!(
        "mean audit path: {:.1} hashes; stored hashes fetched per proof: {:.1} (in one \
         query, after one audit_search for the entry); prove / point read: {:.1}x at p50, \
         {:.1}x at p99",
        figures.path_len,
        figures.fetched,
        micros(figures.prove.0) / micros(figures.point.0),
        micros(figures.prove.1) / micros(figures.point.1)
    );
    Ok(figures)
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("audit bench: runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("audit bench: {err}");
            ExitCode::FAILURE
        }
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISS" }
}

async fn run() -> Result<ExitCode, String> {
    let plan = Plan::from_env();
    let started = Instant::now();
    let dir = tempfile::tempdir().ctx("temporary directory")?;
    let (key, key_text) = LogKey::generate("warden.bench/audit").ctx("key")?;
    println!(
        "audit log benchmarks ({} run), {} worker threads, data in {}",
        if plan.quick { "quick" } else { "full" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        dir.path().display()
    );

    let append = bench_append(plan, &key_text, dir.path()).await?;

    let store = Arc::new(
        SqliteStore::open(&dir.path().join("log.db"))
            .await
            .ctx("open the log store")?,
    );
    let verified = bench_verify(plan, &store, &key).await?;
    let proofs = bench_proofs(plan, &store, &key_text).await?;

    let append_ok =
        append.ratio_matched >= TARGET_APPEND_RATIO && append.appends_per_s >= TARGET_APPENDS;
    let verify_ok = verified.ratio >= TARGET_VERIFY_RATIO;
    let core_ok = verified.core_ratio >= TARGET_VERIFY_RATIO;
    println!(
        "\nsummary ({} run{}; medians over rounds; ratio: median over rounds of measured / baseline \
         in the same round)",
        if plan.quick { "quick" } else { "full" },
        if plan.quick {
            ": 20,000-entry verify, 100,000-entry proofs"
        } else {
            ""
        }
    );
    println!(
        "{:<36} {:>24} {:>36} {:>8}  target",
        "measurement", "measured", "baseline", "ratio"
    );
    println!(
        "{:<36} {:>24} {:>36} {:>8.2}  >= {TARGET_APPEND_RATIO} and >= {} /s: {}",
        format!("durable appends, {APPENDERS} appenders"),
        format!("{} appends/s", thousands(append.appends_per_s)),
        format!(
            "bare, {:.0} rows/tx: {} rows/s",
            append.batch,
            thousands(append.matched_per_s)
        ),
        append.ratio_matched,
        thousands(TARGET_APPENDS),
        verdict(append_ok)
    );
    println!(
        "{:<36} {:>24} {:>36} {:>8.2}  (group commit's gain)",
        "  same, vs one row per transaction",
        format!("{} appends/s", thousands(append.appends_per_s)),
        format!("bare, 1 row/tx: {} rows/s", thousands(append.single_per_s)),
        append.ratio_single,
    );
    println!(
        "{:<36} {:>24} {:>36} {:>8.2}  (store's share of the gap)",
        "  store.append_audit alone, same b",
        format!("{} rows/s", thousands(append.store_per_s)),
        format!(
            "bare, {:.0} rows/tx: {} rows/s",
            append.batch,
            thousands(append.matched_per_s)
        ),
        append.ratio_store,
    );
    println!(
        "{:<36} {:>24}",
        "  average group-commit batch",
        format!("{:.1} entries/tx", append.batch)
    );
    println!(
        "{:<36} {:>24}",
        "  mean entry (canonical JSON)",
        format!("{:.0} bytes", append.entry_bytes)
    );
    println!(
        "{:<36} {:>24} {:>36} {:>8.3}  >= {TARGET_VERIFY_RATIO}: {}",
        format!("verify, {} entries", thousands(verified.entries as f64)),
        format!("{} entries/s", thousands(verified.verify_per_s)),
        format!("SHA-256: {} entries/s", thousands(verified.sha_per_s)),
        verified.ratio,
        verdict(verify_ok),
    );
    println!(
        "{:<36} {:>24} {:>36} {:>8.3}  >= {TARGET_VERIFY_RATIO}: {}",
        "  verification proper (read done)",
        format!("{} entries/s", thousands(verified.core_per_s)),
        "SHA-256, same bytes",
        verified.core_ratio,
        verdict(core_ok),
    );
    println!(
        "{:<36} {:>24} {:>36} {:>8.1}  (cost multiple)",
        format!(
            "prove_inclusion p50, {} entries",
            thousands(proofs.entries as f64)
        ),
        format!("{:.1} µs", micros(proofs.prove.0)),
        format!("point read: {:.1} µs", micros(proofs.point.0)),
        micros(proofs.prove.0) / micros(proofs.point.0)
    );
    println!(
        "{:<36} {:>24} {:>36} {:>8.1}  (cost multiple)",
        format!(
            "prove_inclusion p99, {} entries",
            thousands(proofs.entries as f64)
        ),
        format!("{:.1} µs", micros(proofs.prove.1)),
        format!("point read: {:.1} µs", micros(proofs.point.1)),
        micros(proofs.prove.1) / micros(proofs.point.1)
    );
    println!(
        "{:<36} {:>24} {:>36} {:>8.1}  (cost multiple)",
        "verify_inclusion p50 / p99",
        format!(
            "{:.1} / {:.1} µs",
            micros(proofs.check.0),
            micros(proofs.check.1)
        ),
        format!(
            "point read: {:.1} / {:.1} µs",
            micros(proofs.point.0),
            micros(proofs.point.1)
        ),
        micros(proofs.check.0) / micros(proofs.point.0)
    );
    println!(
        "setup: verify log {} entries + {} checkpoints in {:.1} s (verify itself {:.2} s); \
         proof log to {} entries in {:.1} s; checkpoint signed in {:.1} ms",
        thousands(verified.entries as f64),
        verified.checkpoints,
        verified.setup.as_secs_f64(),
        verified.verify_time.as_secs_f64(),
        thousands(proofs.entries as f64),
        proofs.setup.as_secs_f64(),
        millis(proofs.sign)
    );
    println!(
        "append store: {} checkpoints signed along the way",
        append.checkpoints
    );
    println!("(took {:.1} s)", started.elapsed().as_secs_f64());
    if append_ok && verify_ok {
        return Ok(ExitCode::SUCCESS);
    }
    Ok(if env_flag("WARDEN_BENCH_ENFORCE") {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
