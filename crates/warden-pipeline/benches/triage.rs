//! Enrichment and assessment time per case, against ingesting the case.
//!
//! For every case, on the path `Pipeline::triage_case` takes, with the
//! default `warden.toml` settings:
//!
//! - baseline: `warden_ingest::read_paths` of the case's alert files with
//!   the default read options (every case pays it, so it scales the run's
//!   noise out of the ratio);
//! - enrich: `warden_enrich::enrich` over the case's alerts with the plan of
//!   the playbook `PlaybookSet::shipped().select` picks, through a `ToolBox`
//!   holding the embedded tools (`register_embedded`) over the loaded
//!   context and an in-memory SQLite store;
//! - assess: the alerts redacted with `redact_alert`, the deterministic
//!   assessor's `assess` over them and the evidence, and the evidence check
//!   the pipeline makes of its output (`Assessment::check`).
//!
//! The store holds, per set, 200 earlier cases built from the set's own
//! alerts (fresh ids, a mix of states and verdicts) and the cases being
//! measured (inserted before enrichment, as the pipeline does), so
//! `case_history` queries a store with real history. Nothing measured
//! writes to it, so every pass sees the same store.
//!
//! Sets: `examples/alerts` with `examples/context`, correlated into cases;
//! and, when it exists, the labelled set `validation/core`, one row per
//! labelled case (its alert files; its drafts, if correlation makes several,
//! summed), with the set's context and a case's own `context/` merged over
//! it as `warden eval` does.
//!
//! The three measurements of a case are interleaved round by round, in a
//! rotating order; per round the ratio (enrich + assess) / ingest is taken,
//! and the median over rounds reported. Target: the median ratio of each
//! set at most [`TARGET_RATIO`]. The table is printed; with
//! `WARDEN_BENCH_ENFORCE=1` a set over the target fails the run.
//! `WARDEN_BENCH_QUICK=1` takes fewer, shorter rounds (for CI).
//!
//! Run with `cargo bench -p warden-pipeline --bench triage`.

use std::collections::{BTreeSet, HashMap};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use warden_assess::{AssessmentInput, DeterministicAssessor};
use warden_domain::{Alert, AlertId, Case, CaseState, Disposition, Severity, UseCase, Verdict};
use warden_enrich::redact::redact_alert;
use warden_enrich::{Context, EnrichRequest, Enrichment, ToolBox, enrich, register_embedded};
use warden_ingest::{CaseDraft, Formats, ReadOptions, correlate, read_paths};
use warden_pipeline::Config;
use warden_pipeline::eval::ValidationSet;
use warden_playbook::PlaybookSet;
use warden_store::{CaseReader, SqliteStore, Store};
use warden_testkit::bench::{Plan, env_flag, median};

/// Enrichment plus assessment may take at most this many times the
/// ingest of the same case (median over a set's cases). Measured over
/// several runs: 14x to 19x on the examples, 19x to 21x on
/// `validation/core`; 60x leaves a factor of three over the larger for a
/// noisy machine. (See `docs/operations.md`,
/// "Benchmarks", for the figures.)
const TARGET_RATIO: f64 = 60.0;

/// Earlier cases in each set's store.
const EARLIER_CASES: usize = 200;

/// One case as the pipeline would triage it: the correlated draft, opened
/// and stored, with its playbook chosen and its evidence gathered once (the
/// evidence the assessment measurement uses).
#[derive(Debug)]
struct Draft {
    alerts: Vec<Alert>,
    case: Case,
    use_case: UseCase,
    plan: Vec<String>,
    enrichment: Enrichment,
}

/// One row of the table: what is read, and what it becomes.
#[derive(Debug)]
struct BenchCase {
    name: String,
    files: Vec<PathBuf>,
    read: ReadOptions,
    tools: Arc<ToolBox>,
    now: OffsetDateTime,
    drafts: Vec<Draft>,
    /// Records `read_paths` rejected (still timed: part of the real path).
    rejected: usize,
}

impl BenchCase {
    fn alerts(&self) -> usize {
        self.drafts.iter().map(|d| d.alerts.len()).sum()
    }
}

/// A case before it is opened: where its alerts come from, and the
/// context its tools read.
#[derive(Debug)]
struct Pending {
    name: String,
    files: Vec<PathBuf>,
    read: ReadOptions,
    context: Arc<Context>,
    now: OffsetDateTime,
    drafts: Vec<CaseDraft>,
    rejected: usize,
}

/// What was measured on one case (medians over the rounds).
#[derive(Debug, Clone, Copy)]
struct Row {
    ingest: Duration,
    enrich: Duration,
    assess: Duration,
    both: Duration,
    ratio: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Ingest,
    Enrich,
    Assess,
}

const OPS: [Op; 3] = [Op::Ingest, Op::Enrich, Op::Assess];

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("triage bench: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("triage bench: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<ExitCode, String> {
    let plan = Plan::from_env(
        Plan {
            min_sample: Duration::from_millis(1),
            rounds: 3,
        },
        Plan {
            min_sample: Duration::from_millis(10),
            rounds: 9,
        },
    );
    let started = Instant::now();
    let config = Config::default();
    let playbooks = PlaybookSet::shipped().map_err(|e| format!("shipped playbooks: {e}"))?;
    let assessor = DeterministicAssessor::new(config.assessor.clone());
    let repo = warden_testkit::repo();

    let mut sets: Vec<(String, Vec<BenchCase>)> = Vec::new();
    let examples = examples_set(&repo, &config)?;
    sets.push((
        "examples".into(),
        open_cases(examples, &config, &playbooks).await?,
    ));
    let core = repo.join("validation/core");
    if core.is_dir() {
        let (name, pending) = validation_set(&core, &config)?;
        sets.push((name, open_cases(pending, &config, &playbooks).await?));
    } else {
        println!("validation/core not found: measuring the examples only");
    }
    println!(
        "enrich + assess per case, against ingest of the case's files: \
         {} rounds of at least {} ms each per measurement, median \
         (set-up {} ms)",
        plan.rounds,
        plan.min_sample.as_millis(),
        started.elapsed().as_millis(),
    );

    let mut over = Vec::new();
    for (name, cases) in &sets {
        let mut rows = Vec::with_capacity(cases.len());
        for case in cases {
            rows.push(measure(case, &assessor, plan).await);
        }
        print_table(name, cases, &rows);
        let median_ratio = quantile(rows.iter().map(|r| r.ratio), 0.5);
        if median_ratio > TARGET_RATIO {
            over.push(format!("{name} ({median_ratio:.2}x)"));
        }
    }
    println!("\n(took {:.1} s)", started.elapsed().as_secs_f64());
    if over.is_empty() {
        println!("every set's median ratio within {TARGET_RATIO}x ingest");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "median ratio over {TARGET_RATIO}x ingest: {}",
        over.join(", ")
    );
    Ok(if env_flag("WARDEN_BENCH_ENFORCE") {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

// ------------------------------------------------------------------ sets

/// The example alerts, read file by file (what reading the folder does)
/// and correlated together; each case's files are the ones its alerts came
/// from.
fn examples_set(repo: &Path, config: &Config) -> Result<Vec<Pending>, String> {
    let dir = repo.join("examples/alerts");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let read = ReadOptions::default();
    let mut alerts = Vec::new();
    let mut file_of: HashMap<AlertId, usize> = HashMap::new();
    let mut rejected_in: HashMap<usize, usize> = HashMap::new();
    for (index, file) in files.iter().enumerate() {
        let report = read_paths(std::slice::from_ref(file), &read);
        if !report.errors.is_empty() {
            rejected_in.insert(index, report.errors.len());
        }
        for alert in report.alerts {
            file_of.insert(alert.id, index);
            alerts.push(alert);
        }
    }
    let now = OffsetDateTime::now_utc();
    let context = Arc::new(load_context(&repo.join("examples/context"), config, now)?);
    let mut pending = Vec::new();
    for draft in correlate(alerts, &config.correlation) {
        let indexes: BTreeSet<usize> = draft
            .alerts
            .iter()
            .filter_map(|(a, _)| file_of.get(&a.id).copied())
            .collect();
        let case_files: Vec<PathBuf> = indexes
            .iter()
            .filter_map(|i| files.get(*i).cloned())
            .collect();
        let name = case_files
            .iter()
            .filter_map(|f| f.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" + ");
        pending.push(Pending {
            name,
            files: case_files,
            read: read.clone(),
            context: context.clone(),
            now,
            drafts: vec![draft],
            rejected: indexes.iter().filter_map(|i| rejected_in.get(i)).sum(),
        });
    }
    Ok(pending)
}

/// The labelled set at `root`, loaded as `warden eval` loads it: one case
/// per labelled case, its own context merged over the set's.
fn validation_set(root: &Path, config: &Config) -> Result<(String, Vec<Pending>), String> {
    let set = ValidationSet::load(root, &Formats::default()).map_err(|e| e.to_string())?;
    let now = set.as_of.unwrap_or_else(OffsetDateTime::now_utc);
    let base = match &set.context_dir {
        Some(dir) => Some(load_context(dir, config, now)?),
        None => None,
    };
    let shared = Arc::new(base.clone().unwrap_or_else(Context::none));
    let mut pending = Vec::with_capacity(set.cases.len());
    for case in &set.cases {
        let context = match (&case.context_dir, &base) {
            (None, _) => shared.clone(),
            (Some(dir), Some(base)) => Arc::new(load_context(dir, config, now)?.merged_over(base)),
            (Some(dir), None) => Arc::new(load_context(dir, config, now)?),
        };
        let read = ReadOptions {
            forced: case.format.clone(),
            ..ReadOptions::default()
        };
        let report = read_paths(&case.alert_files, &read);
        pending.push(Pending {
            name: case.id.clone(),
            files: case.alert_files.clone(),
            read,
            context,
            now,
            drafts: correlate(report.alerts, &config.correlation),
            rejected: report.errors.len(),
        });
    }
    Ok((format!("validation/core ({})", set.name), pending))
}

fn load_context(dir: &Path, config: &Config, now: OffsetDateTime) -> Result<Context, String> {
    Context::load_at(dir, &config.context, now)
        .map_err(|e| format!("context {}: {e}", dir.display()))
}

// ------------------------------------------------------------ the store

/// Open and store every pending case, as `triage_case` does before
/// enriching, in a store that already holds [`EARLIER_CASES`] cases built
/// from the same alerts; wire the tools over each context and that store;
/// then gather each case's evidence once (what the assessment measurement
/// assesses).
async fn open_cases(
    pending: Vec<Pending>,
    config: &Config,
    playbooks: &PlaybookSet,
) -> Result<Vec<BenchCase>, String> {
    let store = Arc::new(
        SqliteStore::in_memory()
            .await
            .map_err(|e| format!("store: {e}"))?,
    );
    let all: Vec<&CaseDraft> = pending.iter().flat_map(|p| &p.drafts).collect();
    let now = OffsetDateTime::now_utc();
    for n in 0..EARLIER_CASES {
        let Some(draft) = all.get(n % all.len().max(1)) else {
            break;
        };
        let alerts: Vec<(Alert, u64)> = draft
            .alerts
            .iter()
            .map(|(alert, duplicates)| {
                let mut alert = alert.clone();
                alert.id = AlertId::new();
                (alert, *duplicates)
            })
            .collect();
        let hours_ago = i64::try_from(EARLIER_CASES - n).unwrap_or(i64::MAX);
        let mut case = open_case(draft, now - time::Duration::hours(hours_ago));
        (case.state, case.verdict, case.disposition) = match n % 4 {
            0 => (
                CaseState::AutoClosed,
                Some(Verdict::Benign),
                Some(Disposition::AutoClosed),
            ),
            1 => (
                CaseState::Escalated,
                Some(Verdict::Suspicious),
                Some(Disposition::Escalated),
            ),
            2 => (
                CaseState::Closed,
                Some(Verdict::Malicious),
                Some(Disposition::Actioned),
            ),
            _ => (CaseState::New, None, None),
        };
        store
            .insert_case(&case, &alerts)
            .await
            .map_err(|e| format!("store: {e}"))?;
    }

    // One tool box per context (the examples and most validation cases
    // share theirs), as one `Pipeline` holds one.
    let mut boxes: Vec<(Arc<Context>, Arc<ToolBox>)> = Vec::new();
    let mut cases = Vec::with_capacity(pending.len());
    for p in pending {
        let tools = match boxes.iter().find(|(c, _)| Arc::ptr_eq(c, &p.context)) {
            Some((_, tools)) => tools.clone(),
            None => {
                let mut tools = ToolBox::new(config.tools);
                let past: Arc<dyn CaseReader> = store.clone();
                register_embedded(&mut tools, p.context.clone(), Some(past))?;
                let tools = Arc::new(tools);
                boxes.push((p.context.clone(), tools.clone()));
                tools
            }
        };
        let mut drafts = Vec::with_capacity(p.drafts.len());
        for draft in &p.drafts {
            let mut case = open_case(draft, p.now);
            store
                .insert_case(&case, &draft.alerts)
                .await
                .map_err(|e| format!("store: {e}"))?;
            let alerts: Vec<Alert> = draft.alerts.iter().map(|(a, _)| a.clone()).collect();
            let playbook = playbooks.select(&alerts);
            let enrichment = enrich(
                &EnrichRequest {
                    alerts: &alerts,
                    case_id: Some(case.id),
                    plan: &playbook.tools,
                },
                &tools,
                p.now,
            )
            .await;
            case.transition(CaseState::Enriched, p.now)
                .map_err(|e| e.to_string())?;
            drafts.push(Draft {
                alerts,
                case,
                use_case: playbook.use_case.clone(),
                plan: playbook.tools.clone(),
                enrichment,
            });
        }
        cases.push(BenchCase {
            name: p.name,
            files: p.files,
            read: p.read,
            tools,
            now: p.now,
            drafts,
            rejected: p.rejected,
        });
    }
    Ok(cases)
}

/// The case `triage_case` opens for `draft`.
fn open_case(draft: &CaseDraft, now: OffsetDateTime) -> Case {
    let severity = draft
        .alerts
        .iter()
        .map(|(a, _)| a.severity.level)
        .max()
        .unwrap_or(Severity::Medium);
    let title = draft
        .alerts
        .first()
        .map(|(a, _)| a.rule.name.clone())
        .unwrap_or_default();
    Case::open(
        title,
        draft.alerts.iter().map(|(a, _)| a.id).collect(),
        draft.alert_count,
        draft.reasons.clone(),
        severity,
        now,
    )
}

// --------------------------------------------------------- measurement

/// One pass of `op` over the case.
async fn pass(op: Op, case: &BenchCase, assessor: &DeterministicAssessor) {
    match op {
        Op::Ingest => {
            black_box(read_paths(black_box(&case.files), &case.read));
        }
        Op::Enrich => {
            for draft in &case.drafts {
                black_box(
                    enrich(
                        &EnrichRequest {
                            alerts: black_box(&draft.alerts),
                            case_id: Some(draft.case.id),
                            plan: &draft.plan,
                        },
                        &case.tools,
                        case.now,
                    )
                    .await,
                );
            }
        }
        Op::Assess => {
            for draft in &case.drafts {
                let redacted: Vec<Alert> =
                    black_box(&draft.alerts).iter().map(redact_alert).collect();
                let evidence = &draft.enrichment;
                let assessment = assessor.score(&AssessmentInput {
                    case: &draft.case,
                    use_case: &draft.use_case,
                    alerts: &redacted,
                    evidence: &evidence.evidence,
                    gaps: &evidence.gaps,
                });
                let checked = assessment.check(&evidence.ids());
                let _ = black_box((assessment, checked));
            }
        }
    }
}

/// Time for one pass, measured over `passes` passes.
async fn per_pass(
    op: Op,
    passes: u32,
    case: &BenchCase,
    assessor: &DeterministicAssessor,
) -> Duration {
    let started = Instant::now();
    for _ in 0..passes {
        pass(op, case, assessor).await;
    }
    started.elapsed() / passes
}

/// How many passes one measurement needs to last at least `min` (after
/// one warm-up pass).
async fn passes_for(
    op: Op,
    min: Duration,
    case: &BenchCase,
    assessor: &DeterministicAssessor,
) -> u32 {
    pass(op, case, assessor).await;
    let mut passes: u32 = 1;
    loop {
        let started = Instant::now();
        for _ in 0..passes {
            pass(op, case, assessor).await;
        }
        let took = started.elapsed();
        if took >= min || passes >= u32::MAX / 2 {
            return passes;
        }
        let scale = if took < min / 100 {
            2.0
        } else {
            (min.as_secs_f64() / took.as_secs_f64() * 1.1).max(1.1)
        };
        passes = ((f64::from(passes) * scale).ceil() as u32).max(passes + 1);
    }
}

/// Time the three operations on `case`, interleaving their rounds in a
/// rotating order so that noise on the machine hits all alike; the ratio is
/// taken within each round.
async fn measure(case: &BenchCase, assessor: &DeterministicAssessor, plan: Plan) -> Row {
    let mut passes = [1_u32; 3];
    for (slot, op) in passes.iter_mut().zip(OPS) {
        *slot = passes_for(op, plan.min_sample, case, assessor).await;
    }
    let mut samples: [Vec<Duration>; 3] = Default::default();
    let mut ratios = Vec::with_capacity(plan.rounds);
    let mut both = Vec::with_capacity(plan.rounds);
    for round in 0..plan.rounds {
        let mut took = [Duration::ZERO; 3];
        for k in 0..OPS.len() {
            let at = (round + k) % OPS.len();
            if let (Some(op), Some(n), Some(slot)) = (OPS.get(at), passes.get(at), took.get_mut(at))
            {
                *slot = per_pass(*op, *n, case, assessor).await;
            }
        }
        let [ingest, enriching, assessing] = took;
        both.push(enriching + assessing);
        ratios.push((enriching + assessing).as_secs_f64() / ingest.as_secs_f64());
        for (kind, sample) in samples.iter_mut().zip(took) {
            kind.push(sample);
        }
    }
    let [ingest, enriching, assessing] = samples.map(|s| median(&s));
    Row {
        ingest,
        enrich: enriching,
        assess: assessing,
        both: median(&both),
        ratio: quantile(ratios, 0.5),
    }
}

/// The `q` quantile by nearest rank (the 0.95 of five values is the
/// largest; the 0.5 of an even count the upper middle).
fn quantile(values: impl IntoIterator<Item = f64>, q: f64) -> f64 {
    let mut sorted: Vec<f64> = values.into_iter().collect();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
    sorted.get(rank - 1).copied().unwrap_or(f64::NAN)
}

// --------------------------------------------------------------- output

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn print_table(set: &str, cases: &[BenchCase], rows: &[Row]) {
    let width = cases
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 60);
    println!(
        "\n{set}: {} cases, {} alerts, {EARLIER_CASES} earlier cases in the store",
        cases.len(),
        cases.iter().map(BenchCase::alerts).sum::<usize>(),
    );
    println!(
        "{:<width$} {:>6} {:>10} {:>10} {:>10} {:>10} {:>7}",
        "case", "alerts", "ingest µs", "enrich µs", "assess µs", "e+a µs", "ratio"
    );
    for (case, row) in cases.iter().zip(rows) {
        let name: String = case.name.chars().take(width).collect();
        let mut notes = Vec::new();
        if case.drafts.len() > 1 {
            notes.push(format!("{} cases after correlation", case.drafts.len()));
        }
        if case.rejected > 0 {
            notes.push(format!("{} records rejected at ingest", case.rejected));
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!("  ({})", notes.join("; "))
        };
        println!(
            "{name:<width$} {:>6} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>6.2}x{notes}",
            case.alerts(),
            micros(row.ingest),
            micros(row.enrich),
            micros(row.assess),
            micros(row.both),
            row.ratio,
        );
    }
    let column = |f: fn(&Row) -> Duration| -> [f64; 3] {
        let values: Vec<f64> = rows.iter().map(|r| micros(f(r))).collect();
        [
            quantile(values.iter().copied(), 0.5),
            quantile(values.iter().copied(), 0.95),
            values.iter().sum(),
        ]
    };
    let ingest = column(|r| r.ingest);
    let enriching = column(|r| r.enrich);
    let assessing = column(|r| r.assess);
    let both = column(|r| r.both);
    let ratio = [
        quantile(rows.iter().map(|r| r.ratio), 0.5),
        quantile(rows.iter().map(|r| r.ratio), 0.95),
        both[2] / ingest[2],
    ];
    for (i, label) in ["median", "p95", "total"].iter().enumerate() {
        let at = |values: &[f64; 3]| values.get(i).copied().unwrap_or(f64::NAN);
        println!(
            "{:<width$} {:>6} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>6.2}x",
            label,
            "",
            at(&ingest),
            at(&enriching),
            at(&assessing),
            at(&both),
            at(&ratio),
        );
    }
}
