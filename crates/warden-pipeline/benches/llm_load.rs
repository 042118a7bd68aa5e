//! Load: the LLM assessor with a slow provider, many cases in flight.
//!
//! The issue: "with a provider that answers after 2 s, 500 cases in flight
//! complete with bounded memory; report throughput and peak memory".
//!
//! Set-up, per phase:
//!
//! - the provider: `warden_testkit::model_double::ModelDouble` (OpenAI chat
//!   completions on the wire, the scripted analyst, no fault) answering
//!   every request after [`FULL_DELAY`], on loopback;
//! - the pipeline as `warden triage --assessor llm` wires it: the real HTTP
//!   transport (`warden_llm::assessors`), an in-memory SQLite store, the
//!   store's audit log, the default policy, `examples/context`, with the
//!   phase's `cases_in_flight` (and `[llm] max_in_flight`), the rate limits
//!   off (`requests_per_minute` and `tokens_per_minute` 0) and a 30 s
//!   time-out, so only the provider's delay and Warden itself set the pace;
//! - the alerts: copies of `examples/alerts/ecs-outbound-malicious-ip.json`,
//!   each with its own host, user, source and destination address and
//!   process hash (and agent, alert id, `related.*`), so correlation keeps
//!   every copy a case of its own (checked), parsed with
//!   `warden_ingest::parse_record`, then `Pipeline::triage_alerts`.
//!
//! Phases: 100 and 500 cases with [`IN_FLIGHT`] (500) in flight, as the
//! issue asks, then the same 500 cases with 50 in flight, which shows what
//! the peak follows: the number in flight, not the number of cases.
//!
//! Measured: the wall time of `triage_alerts`, cases per second, the model
//! calls the double answered (and per case, from the audit log), the tokens
//! the pipeline counted, the in-memory database's size, and the process's
//! resident memory: `VmRSS` just before triage and the peak `VmHWM` at its
//! end (`/proc/self/status`).
//!
//! The lower bound a run could reach: each case's calls are sequential
//! (investigate, then answer), so with `cases` cases and `in_flight` at
//! once it is `ceil(cases / in_flight) x calls per case (the most any case
//! made) x delay`; the run's wall time is reported against it.
//!
//! Memory, and why each phase is its own process: the peak is a property of
//! a process, and freed memory stays with the allocator, so a later phase
//! in the same process would reuse an earlier one's and understate its own
//! growth. The bench therefore runs each phase in a fresh child process
//! (this same binary, told the phase by `WARDEN_LLM_LOAD_PHASE`), and each
//! child, after building its pipeline and parsing its alerts, resets the
//! peak (`5 > /proc/self/clear_refs`; where that is refused it keeps the
//! set-up's peak, said in the output) and reports peak minus the RSS
//! before triage. That growth is an upper bound on what triage holds: it
//! includes the in-memory store and audit log (which keep every case, by
//! design; their size is reported), the outcomes `triage_alerts` returns,
//! and the double's own copies of every request (test scaffolding; the
//! serialised size of its log is reported). A warm-up of [`WARM_UP`] cases
//! against an instant double runs first in each child, so one-time
//! initialisation is not counted as growth. Bounded memory shows as a peak
//! set by the number in flight: the table's last line derives what one
//! more case in flight costs from the two 500-case phases.
//!
//! Sanity, failing the run when broken: as many cases as alerts, one alert
//! each, every case assessed by `llm`, none with an `invalid_assessment`
//! trigger (a failed or rejected model call), every case with at least one
//! model call on the audit log, and the log's calls equal to the double's.
//!
//! `WARDEN_BENCH_QUICK=1` (CI) runs 10 and 50 cases (all in flight) and 50
//! with 5 in flight, at a 0.5 s delay; the full run is 100 and 500 cases
//! and 500 with 50 in flight, at 2 s.
//!
//! Measured on the 2-core shared machine (full run, three runs): 100 cases
//! in 2.8-2.9 s (1.41-1.46x the 2 s bound, ~35 cases/s), peak +99 MiB; 500
//! cases in 6.4-6.5 s (3.2x, ~78 cases/s: with 500 in flight, mostly Warden's own
//! work per case, on two cores and one in-memory SQLite connection, is what
//! remains), peak +496 MiB; 500 cases 50 at a time in 21.7-21.9 s (1.10x),
//! peak +161 MiB. One more case in flight costs ~0.76 MiB at the peak;
//! heaptrack puts most of it in `serde_json::Value` copies of the prompt
//! (the case document, the request body, the evidence the assessor
//! clones), the tool schemas, the redacted alerts and, ~0.1 MiB of it, the
//! double's copy of the request.
//!
//! Run with `cargo bench -p warden-pipeline --bench llm_load`.

use std::collections::HashMap;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_audit::{AuditLog, StoreAuditLog};
use warden_domain::{Alert, AuditEvent, Clock, SystemClock};
use warden_enrich::{Context, ContextConfig};
use warden_http::Secret;
use warden_ingest::{ReadOptions, parse_record};
use warden_llm::{LlmConfig, LlmEnv, ProviderKind};
use warden_pipeline::{AssessorChoice, CaseOutcome, Config, Pipeline};
use warden_policy::PolicyEngine;
use warden_store::SqliteStore;
use warden_testkit::bench::env_flag;
use warden_testkit::model_double::{Fault, ModelDouble};

/// Cases triaged at once (`cases_in_flight`) in the phases the issue asks
/// for.
const IN_FLIGHT: usize = 500;
/// The provider's answer delay, and the phases: (cases, cases in flight).
/// The last phase triages as many cases as the second with a tenth in
/// flight, to show what the peak follows.
const FULL_DELAY: Duration = Duration::from_secs(2);
const FULL_PHASES: [(usize, usize); 3] = [(100, IN_FLIGHT), (500, IN_FLIGHT), (500, 50)];
const QUICK_DELAY: Duration = Duration::from_millis(500);
const QUICK_PHASES: [(usize, usize); 3] = [(10, IN_FLIGHT), (50, IN_FLIGHT), (50, 5)];
/// Cases triaged against an instant double before measuring.
const WARM_UP: usize = 5;
/// The example every alert is a copy of.
const TEMPLATE: &str = "examples/alerts/ecs-outbound-malicious-ip.json";
/// Tells a child process which phase to run.
const PHASE_VAR: &str = "WARDEN_LLM_LOAD_PHASE";
/// The line a child reports its figures on.
const FIGURES: &str = "llm_load figures: ";

fn main() -> ExitCode {
    let result = match std::env::var(PHASE_VAR) {
        Ok(phase) => child(&phase),
        Err(_) => parent(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("llm_load bench: {err}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------- parent

/// Run each phase in its own process and print the table.
fn parent() -> Result<(), String> {
    let quick = env_flag("WARDEN_BENCH_QUICK");
    let (delay, phases) = if quick {
        (QUICK_DELAY, QUICK_PHASES)
    } else {
        (FULL_DELAY, FULL_PHASES)
    };
    let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
    println!(
        "LLM assessor under load: provider answers after {:.1} s (OpenAI wire format, local double), \
         rate limits off; each phase a fresh process{}",
        delay.as_secs_f64(),
        if quick { " (quick)" } else { "" },
    );
    let mut rows: Vec<Phase> = Vec::new();
    for (cases, in_flight) in phases {
        let output = Command::new(&exe)
            .env(
                PHASE_VAR,
                format!("{cases}:{in_flight}:{}", delay.as_millis()),
            )
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot start the {cases}-case phase: {e}"))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(format!(
                "the {cases}-case phase failed ({}): {stdout}",
                output.status
            ));
        }
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix(FIGURES))
            .ok_or_else(|| format!("the {cases}-case phase reported no figures: {stdout}"))?;
        let phase: Phase =
            serde_json::from_str(line).map_err(|e| format!("figures of {cases} cases: {e}"))?;
        rows.push(phase);
    }
    print_table(&rows);
    Ok(())
}

/// What one phase measured.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Phase {
    cases: usize,
    in_flight: usize,
    delay_ms: u64,
    wall_ms: f64,
    calls: usize,
    calls_per_case_min: usize,
    calls_per_case_max: usize,
    tokens: u64,
    rss_before_kib: u64,
    peak_kib: u64,
    rss_after_kib: u64,
    peak_was_reset: bool,
    /// The double's log of request bodies, serialised (test scaffolding
    /// held in the same process).
    double_log_bytes: usize,
    /// The in-memory database's size (pages x page size) after triage.
    store_bytes: u64,
}

impl Phase {
    fn ideal_ms(&self) -> f64 {
        let waves = self.cases.div_ceil(self.in_flight.max(1));
        (waves * self.calls_per_case_max) as f64 * self.delay_ms as f64
    }

    fn growth_kib(&self) -> u64 {
        self.peak_kib.saturating_sub(self.rss_before_kib)
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn print_table(rows: &[Phase]) {
    println!(
        "\n{:>5} {:>9} {:>5} {:>7} {:>7} {:>5} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>7} {:>7}",
        "cases",
        "in flight",
        "delay",
        "wall s",
        "cases/s",
        "calls",
        "calls/",
        "ideal s",
        "wall/",
        "RSS0",
        "peak",
        "growth",
        "growth/",
        "store",
        "double",
    );
    println!(
        "{:>5} {:>9} {:>5} {:>7} {:>7} {:>5} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>7} {:>7}",
        "",
        "",
        "s",
        "",
        "",
        "",
        "case",
        "",
        "ideal",
        "MiB",
        "MiB",
        "MiB",
        "case KiB",
        "MiB",
        "log MiB",
    );
    for row in rows {
        let per_case = if row.calls_per_case_min == row.calls_per_case_max {
            format!("{}", row.calls_per_case_max)
        } else {
            format!("{}-{}", row.calls_per_case_min, row.calls_per_case_max)
        };
        println!(
            "{:>5} {:>9} {:>5.1} {:>7.2} {:>7.1} {:>5} {:>6} {:>7.1} {:>6.2}x {:>7.1} {:>7.1} {:>7.1} {:>8.0} {:>7.1} {:>7.1}",
            row.cases,
            row.in_flight.min(row.cases),
            row.delay_ms as f64 / 1000.0,
            row.wall_ms / 1000.0,
            row.cases as f64 / (row.wall_ms / 1000.0),
            row.calls,
            per_case,
            row.ideal_ms() / 1000.0,
            row.wall_ms / row.ideal_ms(),
            mib(row.rss_before_kib),
            mib(row.peak_kib),
            mib(row.growth_kib()),
            row.growth_kib() as f64 / row.cases as f64,
            row.store_bytes as f64 / (1024.0 * 1024.0),
            row.double_log_bytes as f64 / (1024.0 * 1024.0),
        );
    }
    println!(
        "\nwall: Pipeline::triage_alerts; ideal: ceil(cases / in flight) x calls per case (the most) x delay"
    );
    println!(
        "RSS0: VmRSS before triage (after set-up and a {WARM_UP}-case warm-up); peak: VmHWM at the end; \
         growth: peak - RSS0, which includes the in-memory store and audit log ('store': its pages) and \
         the double's log of request bodies ('double log': serialised)"
    );
    // Same cases, different numbers in flight: what one more case in
    // flight costs at the peak.
    for (i, a) in rows.iter().enumerate() {
        for b in rows.iter().skip(i + 1) {
            if a.cases == b.cases && a.in_flight.min(a.cases) != b.in_flight.min(b.cases) {
                let (more, fewer) = if a.in_flight > b.in_flight {
                    (a, b)
                } else {
                    (b, a)
                };
                let extra = more.in_flight.min(more.cases) - fewer.in_flight.min(fewer.cases);
                println!(
                    "{} cases: {} in flight peak {:.1} MiB over {} in flight: {:.0} KiB per further case in flight",
                    more.cases,
                    more.in_flight.min(more.cases),
                    mib(more.growth_kib()) - mib(fewer.growth_kib()),
                    fewer.in_flight.min(fewer.cases),
                    (more.growth_kib() as f64 - fewer.growth_kib() as f64) / extra as f64,
                );
            }
        }
    }
    for row in rows.iter().filter(|r| !r.peak_was_reset) {
        println!(
            "note: the {}-case phase could not reset the peak (/proc/self/clear_refs refused): its peak includes set-up",
            row.cases
        );
    }
    for row in rows {
        println!(
            "{} cases, {} in flight: {} tokens counted, RSS after triage {:.1} MiB",
            row.cases,
            row.in_flight.min(row.cases),
            row.tokens,
            mib(row.rss_after_kib)
        );
    }
}

// ----------------------------------------------------------------- child

/// Run one phase, `"CASES:IN_FLIGHT:DELAY_MS"`, and print its figures.
fn child(phase: &str) -> Result<(), String> {
    let numbers: Vec<u64> = phase
        .split(':')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| format!("{PHASE_VAR}={phase:?} is not CASES:IN_FLIGHT:DELAY_MS"))?;
    let [cases, in_flight, delay_ms] = numbers[..] else {
        return Err(format!(
            "{PHASE_VAR}={phase:?} is not CASES:IN_FLIGHT:DELAY_MS"
        ));
    };
    let (cases, in_flight) = (
        usize::try_from(cases).map_err(|e| e.to_string())?,
        usize::try_from(in_flight).map_err(|e| e.to_string())?,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let figures = runtime.block_on(run_phase(cases, in_flight, Duration::from_millis(delay_ms)))?;
    let line = serde_json::to_string(&figures).map_err(|e| e.to_string())?;
    println!("{FIGURES}{line}");
    Ok(())
}

/// A pipeline wired to a double answering after `delay`, and the audit log
/// it writes to.
struct Wired {
    pipeline: Pipeline,
    store: Arc<SqliteStore>,
    audit: Arc<StoreAuditLog<SqliteStore>>,
    double: ModelDouble,
}

async fn wire(delay: Duration, in_flight: usize) -> Result<Wired, String> {
    let double = ModelDouble::start(Fault::None, delay).await;
    let config = Config {
        llm: LlmConfig {
            provider: Some(ProviderKind::Openai),
            base_url: Some(format!("{}/v1", double.url)),
            model: Some("double-analyst-1".into()),
            timeout_seconds: 30,
            max_retries: 1,
            requests_per_minute: 0,
            tokens_per_minute: 0,
            max_in_flight: in_flight,
            ..LlmConfig::default()
        },
        ..Config::default()
    };
    let env = LlmEnv {
        api_key: Some(Secret::new("sk-load-bench")),
        ..LlmEnv::default()
    };
    let resolved = config.llm.resolve(&env)?;
    let primary = warden_llm::assessors(&resolved, false)?
        .into_iter()
        .next()
        .map(|a| Arc::new(a) as Arc<dyn warden_assess::Assessor>);
    let choice = AssessorChoice {
        primary,
        second_opinions: Vec::new(),
        cases_in_flight: in_flight,
    };
    let store = Arc::new(
        SqliteStore::in_memory()
            .await
            .map_err(|e| format!("store: {e}"))?,
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let audit = Arc::new(StoreAuditLog::new(store.clone(), clock.clone()));
    let repo = warden_testkit::repo();
    let context = Context::load(&repo.join("examples/context"), &ContextConfig::default())
        .map_err(|e| format!("examples/context: {e}"))?;
    let policy = PolicyEngine::default_set().map_err(|e| format!("policy: {e}"))?;
    let pipeline = Pipeline::new(config, store.clone(), audit.clone(), clock, policy, context)
        .map_err(|e| format!("pipeline: {e}"))?
        .with_assessors(&choice);
    Ok(Wired {
        pipeline,
        store,
        audit,
        double,
    })
}

async fn run_phase(cases: usize, in_flight: usize, delay: Duration) -> Result<Phase, String> {
    // Warm-up: one-time initialisation (lazy statics, the HTTP client's
    // first connections, SQLite statements) is not what load adds.
    let warm = wire(Duration::ZERO, in_flight).await?;
    let outcomes = warm
        .pipeline
        .triage_alerts(alerts(WARM_UP, 10_000)?)
        .await
        .map_err(|e| format!("warm-up: {e}"))?;
    check(&outcomes, WARM_UP)?;
    drop(warm);

    let wired = wire(delay, in_flight).await?;
    let batch = alerts(cases, 0)?;
    let peak_was_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let rss_before = status_kib("VmRSS")?;

    let started = Instant::now();
    let outcomes = wired
        .pipeline
        .triage_alerts(batch)
        .await
        .map_err(|e| format!("triage: {e}"))?;
    let wall = started.elapsed();
    let peak = status_kib("VmHWM")?;
    let rss_after = status_kib("VmRSS")?;

    check(&outcomes, cases)?;
    let calls = wired
        .double
        .seen
        .calls
        .load(std::sync::atomic::Ordering::SeqCst);
    let requests = wired.double.requests();
    let double_log_bytes = requests.iter().map(|r| r.to_string().len()).sum();
    let mut per_case: HashMap<_, usize> = HashMap::new();
    for record in wired
        .audit
        .records(None)
        .await
        .map_err(|e| format!("audit: {e}"))?
    {
        if let AuditEvent::ModelCalled { case_id, .. } = record.entry.event {
            *per_case.entry(case_id).or_default() += 1;
        }
    }
    let pool = wired.store.pool();
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(pool)
        .await
        .map_err(|e| format!("store size: {e}"))?;
    let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(pool)
        .await
        .map_err(|e| format!("store size: {e}"))?;
    let recorded: usize = per_case.values().sum();
    if recorded != calls || per_case.len() != cases {
        return Err(format!(
            "the double answered {calls} calls, the audit log holds {recorded} over {} cases (of {cases})",
            per_case.len()
        ));
    }
    Ok(Phase {
        cases,
        in_flight,
        delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        wall_ms: wall.as_secs_f64() * 1000.0,
        calls,
        calls_per_case_min: per_case.values().copied().min().unwrap_or(0),
        calls_per_case_max: per_case.values().copied().max().unwrap_or(0),
        tokens: wired.pipeline.llm_tokens(),
        rss_before_kib: rss_before,
        peak_kib: peak,
        rss_after_kib: rss_after,
        peak_was_reset,
        double_log_bytes,
        store_bytes: u64::try_from(pages.saturating_mul(page_size)).unwrap_or(0),
    })
}

/// Every alert its own case, every case assessed by the model without a
/// rejected or failed answer.
fn check(outcomes: &[CaseOutcome], cases: usize) -> Result<(), String> {
    if outcomes.len() != cases {
        return Err(format!(
            "{cases} distinct alerts became {} cases (correlation merged some, or some were lost)",
            outcomes.len()
        ));
    }
    for outcome in outcomes {
        if outcome.alerts.len() != 1 {
            return Err(format!(
                "case {} holds {} alerts",
                outcome.case.id,
                outcome.alerts.len()
            ));
        }
        if outcome.assessment.assessor != "llm" {
            return Err(format!(
                "case {} was assessed by {:?}, not llm",
                outcome.case.id, outcome.assessment.assessor
            ));
        }
        if let Some(trigger) = outcome
            .triggers
            .iter()
            .find(|t| t.code == "invalid_assessment")
        {
            return Err(format!(
                "case {}: invalid_assessment: {}",
                outcome.case.id, trigger.reason
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- alerts

/// `count` copies of the template, numbered from `first`, each with its own
/// entities, parsed as `warden triage` parses a file.
fn alerts(count: usize, first: usize) -> Result<Vec<Alert>, String> {
    let path = warden_testkit::repo().join(TEMPLATE);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{TEMPLATE}: {e}"))?;
    let template: Value = serde_json::from_str(&text).map_err(|e| format!("{TEMPLATE}: {e}"))?;
    let options = ReadOptions::default();
    (first..first + count)
        .map(|n| {
            let doc = variant(&template, n);
            let bytes = serde_json::to_vec(&doc).map_err(|e| e.to_string())?;
            parse_record(&format!("load/alert-{n:05}.json"), &bytes, &options)
                .map_err(|e| format!("copy {n} does not ingest: {}", e.reason))
        })
        .collect()
}

/// Copy `n` of the template: its own host, user, addresses, hash and ids.
fn variant(template: &Value, n: usize) -> Value {
    let mut doc = template.clone();
    let (hi, lo) = (n / 250, n % 250 + 1);
    let host = format!("ws-load-{n:05}");
    let user = format!("load-user-{n:05}");
    let source = format!("10.60.{hi}.{lo}");
    // Documentation ranges (never contacted: the double is the only peer).
    let nets = ["192.0.2", "198.51.100", "203.0.113"];
    let destination = format!(
        "{}.{}",
        nets.get((n / 254) % nets.len())
            .copied()
            .unwrap_or("192.0.2"),
        n % 254 + 1
    );
    let set = |doc: &mut Value, pointer: &str, value: Value| {
        if let Some(slot) = doc.pointer_mut(pointer) {
            *slot = value;
        }
    };
    let set_key = |doc: &mut Value, key: &str, value: Value| {
        if let Some(map) = doc.as_object_mut() {
            map.insert(key.to_owned(), value);
        }
    };
    set_key(&mut doc, "kibana.alert.uuid", json!(format!("{n:064x}")));
    set_key(
        &mut doc,
        "kibana.alert.reason",
        json!(format!(
            "network event with process powershell.exe, source {source}:51544, destination {destination}:443, \
             by {user} on {host} created medium alert Connection to Known Malicious IP."
        )),
    );
    set(&mut doc, "/agent/name", json!(host));
    set(&mut doc, "/agent/id", json!(format!("agent-{n:05}")));
    set(&mut doc, "/host/name", json!(host));
    set(&mut doc, "/host/hostname", json!(host));
    set(&mut doc, "/host/id", json!(format!("host-{n:05}")));
    set(&mut doc, "/host/ip", json!([source]));
    set(&mut doc, "/user/name", json!(user));
    set(
        &mut doc,
        "/user/id",
        json!(format!("S-1-5-21-1-2-3-{}", 5000 + n)),
    );
    set(&mut doc, "/source/ip", json!(source));
    set(&mut doc, "/source/address", json!(source));
    set(&mut doc, "/destination/ip", json!(destination));
    set(&mut doc, "/destination/address", json!(destination));
    set(
        &mut doc,
        "/process/hash/sha256",
        json!(format!("{:064x}", 0x5eed_0000_u64 + n as u64)),
    );
    set(&mut doc, "/related/user", json!([user]));
    set(&mut doc, "/related/hosts", json!([host]));
    set(&mut doc, "/related/ip", json!([source, destination]));
    if let Some(enrichment) = doc.pointer_mut("/threat/enrichments/0") {
        set(enrichment, "/indicator/ip", json!(destination));
        set(enrichment, "/matched/atomic", json!(destination));
    }
    doc
}

// ---------------------------------------------------------------- memory

/// A `kB` line of `/proc/self/status`.
fn status_kib(field: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("/proc/self/status: {e}"))?;
    status
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.trim().trim_end_matches("kB").trim().parse().ok()
        })
        .ok_or_else(|| format!("no {field} in /proc/self/status"))
}
