//! Validation sets and their scoring (`warden eval`; the contract is
//! `spec/validation-set.md`).
//!
//! A set is loaded and checked whole before anything runs: an unknown
//! format or action name, or a malformed label, makes the set invalid
//! (exit 2) with the file and line, never a skipped case. Each case then
//! runs through the whole pipeline on a fresh in-memory store, so cases
//! cannot influence each other and the run is repeatable; the executor acts
//! only through the recording sandbox.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use warden_audit::{AuditLog, StoreAuditLog};
use warden_domain::{
    ActionName, Clock, DecisionOutcome, ExecutionStatus, FixedClock, Severity, SystemClock, Verdict,
};
use warden_enrich::{Context, ContextConfig};
use warden_execute::RecordingConnector;
use warden_ingest::{FormatChoice, Formats};
use warden_playbook::PlaybookSet;
use warden_policy::PolicyEngine;
use warden_store::SqliteStore;

use crate::{Config, Pipeline, PipelineError};

/// A set that cannot be run as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SetError {
    pub path: String,
    pub message: String,
}

fn set_error(path: &Path, message: impl Into<String>) -> SetError {
    SetError {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// `set.toml`.
#[derive(Debug, Clone, Deserialize)]
struct SetFile {
    name: String,
    #[serde(default)]
    description: String,
    /// Evaluate as of this time (RFC 3339) instead of now: context ages and
    /// STIX validity are measured from it, so a checked-in set gives the
    /// same results next year. An extension of the contract.
    #[serde(default)]
    as_of: Option<String>,
}

/// The expected verdict (`any` accepts every verdict).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedVerdict {
    Malicious,
    Suspicious,
    Benign,
    FalsePositive,
    Any,
}

impl ExpectedVerdict {
    fn accepts(self, got: Verdict) -> bool {
        match self {
            ExpectedVerdict::Any => true,
            ExpectedVerdict::Malicious => got == Verdict::Malicious,
            ExpectedVerdict::Suspicious => got == Verdict::Suspicious,
            ExpectedVerdict::Benign => got == Verdict::Benign,
            ExpectedVerdict::FalsePositive => got == Verdict::FalsePositive,
        }
    }

    fn is_threat(self) -> bool {
        matches!(
            self,
            ExpectedVerdict::Malicious | ExpectedVerdict::Suspicious
        )
    }
}

/// `expect.toml`: the label of one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    pub format: Option<String>,
    pub verdict: ExpectedVerdict,
    pub must_escalate: Option<bool>,
    pub min_severity: Option<Severity>,
    pub max_severity: Option<Severity>,
    #[serde(default)]
    pub expect_actions: Vec<ActionName>,
    #[serde(default)]
    pub forbid_actions: Vec<ActionName>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub note: String,
}

/// One labelled case, checked.
#[derive(Debug, Clone)]
pub struct LabelledCase {
    pub id: String,
    pub dir: PathBuf,
    pub alert_files: Vec<PathBuf>,
    /// The case's own context folder, if it has one.
    pub context_dir: Option<PathBuf>,
    pub expect: Expectation,
    /// The format `expect.format` names.
    pub format: Option<FormatChoice>,
}

/// A loaded, checked validation set.
#[derive(Debug, Clone)]
pub struct ValidationSet {
    pub name: String,
    pub description: String,
    /// The time the set is evaluated at (`as_of` in set.toml); `None`: now.
    pub as_of: Option<time::OffsetDateTime>,
    pub root: PathBuf,
    pub context_dir: Option<PathBuf>,
    pub cases: Vec<LabelledCase>,
}

impl ValidationSet {
    /// Load and check the set at `root`. `formats` resolves `format =`.
    pub fn load(root: &Path, formats: &Formats) -> Result<Self, SetError> {
        let set_path = root.join("set.toml");
        let text = std::fs::read_to_string(&set_path)
            .map_err(|e| set_error(&set_path, format!("cannot read: {e}")))?;
        let set: SetFile =
            toml::from_str(&text).map_err(|e| set_error(&set_path, e.to_string()))?;
        let as_of = match &set.as_of {
            None => None,
            Some(text) => Some(
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .map_err(|e| set_error(&set_path, format!("as_of {text:?}: {e}")))?,
            ),
        };
        let context_dir = Some(root.join("context")).filter(|d| d.is_dir());
        let cases_dir = root.join("cases");
        let entries = std::fs::read_dir(&cases_dir)
            .map_err(|e| set_error(&cases_dir, format!("cannot read: {e}")))?;
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        if dirs.is_empty() {
            return Err(set_error(&cases_dir, "holds no cases"));
        }
        let mut cases = Vec::with_capacity(dirs.len());
        for dir in dirs {
            cases.push(load_case(&dir, formats)?);
        }
        Ok(Self {
            name: set.name,
            description: set.description,
            as_of,
            root: root.to_path_buf(),
            context_dir,
            cases,
        })
    }
}

fn load_case(dir: &Path, formats: &Formats) -> Result<LabelledCase, SetError> {
    let id = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let expect_path = dir.join("expect.toml");
    let text = std::fs::read_to_string(&expect_path)
        .map_err(|e| set_error(&expect_path, format!("cannot read: {e}")))?;
    let expect: Expectation =
        toml::from_str(&text).map_err(|e| set_error(&expect_path, e.to_string()))?;
    if let (Some(min), Some(max)) = (expect.min_severity, expect.max_severity)
        && min > max
    {
        return Err(set_error(
            &expect_path,
            format!("min_severity {min} is above max_severity {max}"),
        ));
    }
    if let Some(both) = expect
        .expect_actions
        .iter()
        .find(|a| expect.forbid_actions.contains(a))
    {
        return Err(set_error(
            &expect_path,
            format!("{both} is both expected and forbidden"),
        ));
    }
    let format = match &expect.format {
        None => None,
        Some(name) => Some(
            formats
                .choose(name)
                .map_err(|e| set_error(&expect_path, format!("format: {e}")))?,
        ),
    };
    let mut alert_files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| set_error(dir, format!("cannot read: {e}")))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("alert"))
        })
        .collect();
    alert_files.sort();
    if alert_files.is_empty() {
        return Err(set_error(dir, "has no alert.* file"));
    }
    Ok(LabelledCase {
        id,
        dir: dir.to_path_buf(),
        alert_files,
        context_dir: Some(dir.join("context")).filter(|d| d.is_dir()),
        expect,
        format,
    })
}

/// What the pipeline did with one case, and how it scored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseResult {
    pub id: String,
    /// The playbook(s) the case's alerts were triaged under.
    pub use_case: String,
    pub verdict: String,
    pub escalated: bool,
    pub severity: String,
    /// The primary assessor's risk score and confidence (the highest risk
    /// among the case's cases).
    pub risk_score: f64,
    pub confidence: f64,
    pub proposed: Vec<String>,
    pub executed: Vec<String>,
    pub pass: bool,
    pub why: String,
    /// Escalation trigger codes that fired.
    pub triggers: Vec<String>,
    pub expected_verdict: ExpectedVerdict,
    pub must_escalate: Option<bool>,
    #[serde(skip)]
    verdict_correct: Option<bool>,
    #[serde(skip)]
    false_negative: bool,
    #[serde(skip)]
    expected_hits: (usize, usize),
    #[serde(skip)]
    unsafe_proposals: usize,
    #[serde(skip)]
    unsafe_executions: usize,
    #[serde(skip)]
    error: bool,
}

/// The scored run (the JSON object of the contract).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    pub set: String,
    pub assessor: String,
    pub approve_all: bool,
    pub cases: usize,
    pub errors: usize,
    pub verdict_accuracy: f64,
    /// Judged cases (label not `any`) where the assessor gave no verdict
    /// (`unknown`, which always goes to a person). `verdict_accuracy`
    /// counts them as misses.
    pub abstentions: usize,
    /// `verdict_accuracy` over the judged cases that got a verdict.
    pub decided_verdict_accuracy: f64,
    /// Over the same cases, the share on the right side: a threat
    /// (malicious or suspicious) for a threat label, a non-threat (benign or
    /// false positive) for a non-threat label. The side decides closing
    /// against escalating; the level within a side decides the response.
    pub verdict_side_accuracy: f64,
    pub false_negatives: usize,
    pub escalation_recall: f64,
    pub escalation_precision: f64,
    /// Cases labelled `must_escalate = false` that escalated anyway: the
    /// other side of the trade-off from false negatives.
    pub needless_escalations: usize,
    /// `needless_escalations` over the cases labelled
    /// `must_escalate = false` (0.0 when there are none).
    pub needless_escalation_rate: f64,
    pub expected_actions_proposed: f64,
    pub unsafe_proposals: usize,
    pub unsafe_executions: usize,
    /// The same figures for each playbook, keyed by the case's `use_case`.
    pub per_playbook: BTreeMap<String, PlaybookScore>,
    pub per_case: Vec<CaseResult>,
}

/// The figures of the cases triaged under one playbook (or one
/// combination of playbooks, `a+b`, when a case folder's alerts formed
/// cases under several).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlaybookScore {
    pub cases: usize,
    pub passed: usize,
    pub false_negatives: usize,
    pub verdict_accuracy: f64,
    /// Cases that escalated, labelled or not.
    pub escalated: usize,
    /// Cases labelled `must_escalate = false`.
    pub must_not_escalate: usize,
    /// Of those, the ones that escalated.
    pub needless_escalations: usize,
    /// `needless_escalations / must_not_escalate` (0.0 when there are none).
    pub needless_escalation_rate: f64,
}

/// The key of a case in `per_playbook`: a case that formed no Warden case
/// (nothing was read) has no playbook.
const NO_PLAYBOOK: &str = "(none)";

impl EvalReport {
    /// The contract's exit status: 0 all passed and nothing unsafe ran, 1
    /// otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.unsafe_executions == 0 && self.per_case.iter().all(|c| c.pass) {
            0
        } else {
            1
        }
    }

    pub fn passed(&self) -> usize {
        self.per_case.iter().filter(|c| c.pass).count()
    }
}

/// How to run a set.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub config: Config,
    pub policy: PolicyEngine,
    pub formats: Formats,
    pub playbooks: Option<PlaybookSet>,
    pub approve_all: bool,
    /// `--assessor NAME` (see [`crate::assessor_named`]).
    pub assessor: String,
    /// The log every case's entries go to (the data directory's, so the
    /// run can be verified and proven). `None`: a private log per case.
    pub audit: Option<SharedAudit>,
}

/// An audit log shared by the cases of a run.
#[derive(Clone)]
pub struct SharedAudit(pub Arc<dyn AuditLog>);

impl std::fmt::Debug for SharedAudit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedAudit")
    }
}

/// Run every case of `set`; `progress` is called after each one.
pub async fn run_set(
    set: &ValidationSet,
    options: &EvalOptions,
    mut progress: impl FnMut(&CaseResult),
) -> Result<EvalReport, PipelineError> {
    let now = set.as_of.unwrap_or_else(time::OffsetDateTime::now_utc);
    let set_context = match &set.context_dir {
        Some(dir) => Some(load_context(dir, &options.config.context, now)?),
        None => None,
    };
    // One set of assessors for the run: one client and one rate limit.
    let assessors =
        crate::assessor_named(&options.assessor, &options.config).map_err(PipelineError::Setup)?;
    if let Some(shared) = &options.audit {
        // What the whole run works with, once, before its first case.
        let store = Arc::new(SqliteStore::in_memory().await?);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        wire(
            options,
            &assessors,
            store,
            shared.0.clone(),
            clock,
            Context::none(),
        )?
        .record_run(&format!("eval {}", set.name))
        .await?;
    }
    let mut per_case = Vec::with_capacity(set.cases.len());
    for case in &set.cases {
        let result = run_case(case, set_context.as_ref(), options, &assessors, set.as_of).await?;
        progress(&result);
        per_case.push(result);
    }
    Ok(score(
        &set.name,
        &options.assessor,
        options.approve_all,
        per_case,
    ))
}

fn load_context(
    dir: &Path,
    config: &ContextConfig,
    now: time::OffsetDateTime,
) -> Result<Context, PipelineError> {
    Context::load_at(dir, config, now).map_err(|e| PipelineError::Setup(e.to_string()))
}

/// The worst verdict first: what a case of several cases "is".
fn verdict_rank(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Malicious => 4,
        Verdict::Suspicious => 3,
        Verdict::Unknown => 2,
        Verdict::Benign => 1,
        Verdict::FalsePositive => 0,
    }
}

/// A pipeline as `options` asks for, over `store` and `audit`.
fn wire(
    options: &EvalOptions,
    assessors: &crate::AssessorChoice,
    store: Arc<SqliteStore>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    context: Context,
) -> Result<Pipeline, PipelineError> {
    // A validation run never reaches a real product.
    let mut config = options.config.clone();
    config.connectors = Default::default();
    let mut pipeline = Pipeline::new(config, store, audit, clock, options.policy.clone(), context)?
        .with_formats(options.formats.clone());
    if let Some(playbooks) = &options.playbooks {
        pipeline = pipeline.with_playbooks(playbooks.clone())?;
    }
    if options.approve_all {
        pipeline = pipeline.with_simulated_approver();
    }
    pipeline = pipeline.with_assessors(assessors);
    Ok(pipeline)
}

async fn run_case(
    case: &LabelledCase,
    set_context: Option<&Context>,
    options: &EvalOptions,
    assessors: &crate::AssessorChoice,
    as_of: Option<time::OffsetDateTime>,
) -> Result<CaseResult, PipelineError> {
    let now = as_of.unwrap_or_else(time::OffsetDateTime::now_utc);
    let context = match (&case.context_dir, set_context) {
        (Some(dir), Some(base)) => {
            load_context(dir, &options.config.context, now)?.merged_over(base)
        }
        (Some(dir), None) => load_context(dir, &options.config.context, now)?,
        (None, Some(base)) => base.clone(),
        (None, None) => Context::without_folder(&options.config.context),
    };
    let store = Arc::new(SqliteStore::in_memory().await?);
    let clock: Arc<dyn Clock> = match as_of {
        Some(at) => Arc::new(FixedClock::new(at)),
        None => Arc::new(SystemClock),
    };
    let audit: Arc<dyn AuditLog> = match &options.audit {
        Some(shared) => shared.0.clone(),
        None => Arc::new(StoreAuditLog::new(store.clone(), clock.clone())),
    };
    let sandbox = Arc::new(RecordingConnector::new());
    let pipeline =
        wire(options, assessors, store, audit, clock, context)?.with_sandbox(sandbox.clone());
    let run = pipeline
        .triage_paths(&case.alert_files, case.format.clone())
        .await?;

    let expect = &case.expect;
    let mut failures: Vec<String> = Vec::new();
    for rejected in &run.rejected {
        failures.push(format!(
            "not ingested: {}: {}",
            rejected.origin, rejected.reason
        ));
    }
    if run.outcomes.is_empty() && run.rejected.is_empty() {
        failures.push("no alerts were read".into());
    }
    let error = !failures.is_empty();

    let verdict = run
        .outcomes
        .iter()
        .map(|o| o.assessment.verdict)
        .max_by_key(|v| verdict_rank(*v))
        .unwrap_or(Verdict::Unknown);
    let severity = run
        .outcomes
        .iter()
        .map(|o| o.assessment.severity)
        .max()
        .unwrap_or(Severity::Informational);
    let escalated = run.outcomes.iter().any(|o| {
        o.case
            .disposition
            .is_some_and(warden_domain::Disposition::is_escalated)
    });
    let use_cases: BTreeSet<&str> = run.outcomes.iter().map(|o| o.use_case.as_str()).collect();
    let triggers: BTreeSet<&str> = run
        .outcomes
        .iter()
        .flat_map(|o| o.triggers.iter().map(|t| t.code))
        .collect();
    let proposed: BTreeSet<ActionName> = run
        .outcomes
        .iter()
        .flat_map(|o| o.assessment.proposed_actions.iter().map(|p| p.action))
        .collect();
    let executed: BTreeSet<ActionName> = run
        .outcomes
        .iter()
        .flat_map(|o| o.executions.iter())
        .filter(|e| e.status == ExecutionStatus::Succeeded)
        .map(|e| e.action)
        .collect();

    // Unsafe executions: forbidden, or not permitted by the policy, or
    // without the approvals it required.
    let mut unsafe_executions = 0;
    for outcome in &run.outcomes {
        for execution in outcome
            .executions
            .iter()
            .filter(|e| e.status == ExecutionStatus::Succeeded)
        {
            let decision = outcome
                .decisions
                .iter()
                .find(|d| d.proposal_hash == execution.proposal_hash);
            let permitted = match decision.map(|d| &d.outcome) {
                Some(DecisionOutcome::Allow) => true,
                Some(DecisionOutcome::NeedsApproval { .. }) => options.approve_all,
                Some(DecisionOutcome::Deny) | None => false,
            };
            if !permitted || expect.forbid_actions.contains(&execution.action) {
                unsafe_executions += 1;
                failures.push(format!(
                    "UNSAFE: executed {} on {}",
                    execution.action,
                    execution.target.label()
                ));
            }
        }
    }
    // Sandbox cross-check: nothing reached a connector without showing up
    // as an execution of this case.
    let performed = sandbox.performed().len();
    let side_effects = run
        .outcomes
        .iter()
        .flat_map(|o| o.executions.iter())
        .filter(|e| e.status == ExecutionStatus::Succeeded && e.action.has_side_effect())
        .count();
    if performed != side_effects {
        unsafe_executions += performed.abs_diff(side_effects);
        failures.push(format!(
            "UNSAFE: the sandbox recorded {performed} actions, the executor reported {side_effects}"
        ));
    }
    let unsafe_proposals = proposed
        .iter()
        .filter(|a| expect.forbid_actions.contains(a))
        .count();
    for action in proposed
        .iter()
        .filter(|a| expect.forbid_actions.contains(a))
    {
        failures.push(format!("proposed forbidden {action}"));
    }

    let verdict_correct =
        (expect.verdict != ExpectedVerdict::Any && !error).then(|| expect.verdict.accepts(verdict));
    if !error && !expect.verdict.accepts(verdict) {
        failures.push(format!("verdict {verdict}, expected {:?}", expect.verdict).to_lowercase());
    }
    let false_negative = expect.verdict.is_threat()
        && matches!(
            verdict,
            Verdict::Benign | Verdict::FalsePositive | Verdict::Unknown
        )
        && !escalated;
    if false_negative {
        failures.push("FALSE NEGATIVE: a threat closed without a person".into());
    }
    if let Some(must) = expect.must_escalate
        && must != escalated
    {
        failures.push(if must {
            "not escalated, expected escalation".into()
        } else {
            format!(
                "escalated ({}), expected no escalation",
                triggers.iter().copied().collect::<Vec<_>>().join(", ")
            )
        });
    }
    if let Some(min) = expect.min_severity
        && severity < min
    {
        failures.push(format!("severity {severity} below {min}"));
    }
    if let Some(max) = expect.max_severity
        && severity > max
    {
        failures.push(format!("severity {severity} above {max}"));
    }
    let hits = expect
        .expect_actions
        .iter()
        .filter(|a| proposed.contains(a))
        .count();
    for missing in expect
        .expect_actions
        .iter()
        .filter(|a| !proposed.contains(a))
    {
        failures.push(format!("{missing} not proposed"));
    }

    Ok(CaseResult {
        id: case.id.clone(),
        use_case: use_cases.into_iter().collect::<Vec<_>>().join("+"),
        verdict: verdict.as_str().to_owned(),
        escalated,
        severity: severity.as_str().to_owned(),
        risk_score: run
            .outcomes
            .iter()
            .map(|o| o.assessment.risk_score)
            .fold(0.0, f64::max),
        confidence: run
            .outcomes
            .iter()
            .map(|o| o.assessment.confidence)
            .fold(1.0, f64::min),
        proposed: proposed.iter().map(|a| a.as_str().to_owned()).collect(),
        executed: executed.iter().map(|a| a.as_str().to_owned()).collect(),
        pass: failures.is_empty(),
        why: if failures.is_empty() {
            "ok".into()
        } else {
            failures.join("; ")
        },
        triggers: triggers.iter().map(|t| (*t).to_owned()).collect(),
        expected_verdict: expect.verdict,
        must_escalate: expect.must_escalate,
        verdict_correct,
        false_negative,
        expected_hits: (hits, expect.expect_actions.len()),
        unsafe_proposals,
        unsafe_executions,
        error,
    })
}

fn ratio(numerator: usize, denominator: usize) -> f64 {
    if denominator == 0 {
        1.0
    } else {
        ((numerator as f64 / denominator as f64) * 1000.0).round() / 1000.0
    }
}

/// The share of `denominator` cases that went wrong: 0.0 when there are
/// none to go wrong (unlike [`ratio`], whose empty value is a success).
fn failure_rate(numerator: usize, denominator: usize) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        ratio(numerator, denominator)
    }
}

/// The share of the judged cases (label not `any`) with the right verdict.
fn verdict_accuracy<'a>(cases: impl IntoIterator<Item = &'a CaseResult>) -> f64 {
    let judged: Vec<bool> = cases
        .into_iter()
        .filter(|c| c.expected_verdict != ExpectedVerdict::Any)
        .map(|c| c.verdict_correct == Some(true))
        .collect();
    ratio(judged.iter().filter(|ok| **ok).count(), judged.len())
}

/// Judged cases (label not `any`) that got a verdict other than `unknown`.
fn decided<'a>(cases: &[&'a CaseResult]) -> Vec<&'a CaseResult> {
    cases
        .iter()
        .copied()
        .filter(|c| c.expected_verdict != ExpectedVerdict::Any && !c.error)
        .filter(|c| c.verdict != Verdict::Unknown.as_str())
        .collect()
}

/// The share of `cases` whose verdict is on the side of its label.
fn side_accuracy(cases: &[&CaseResult]) -> f64 {
    let right = cases
        .iter()
        .filter(|c| {
            let threat = matches!(c.verdict.as_str(), "malicious" | "suspicious");
            threat == c.expected_verdict.is_threat()
        })
        .count();
    ratio(right, cases.len())
}

impl CaseResult {
    /// Labelled `must_escalate = false` and escalated.
    fn needless_escalation(&self) -> bool {
        self.must_escalate == Some(false) && self.escalated
    }
}

/// The figures of `cases`, all triaged under one playbook.
fn playbook_score(cases: &[&CaseResult]) -> PlaybookScore {
    let must_not_escalate = cases
        .iter()
        .filter(|c| c.must_escalate == Some(false))
        .count();
    let needless_escalations = cases.iter().filter(|c| c.needless_escalation()).count();
    PlaybookScore {
        cases: cases.len(),
        passed: cases.iter().filter(|c| c.pass).count(),
        false_negatives: cases.iter().filter(|c| c.false_negative).count(),
        verdict_accuracy: verdict_accuracy(cases.iter().copied()),
        escalated: cases.iter().filter(|c| c.escalated).count(),
        must_not_escalate,
        needless_escalations,
        needless_escalation_rate: failure_rate(needless_escalations, must_not_escalate),
    }
}

/// The set-level figures.
pub fn score(
    set: &str,
    assessor: &str,
    approve_all: bool,
    per_case: Vec<CaseResult>,
) -> EvalReport {
    let must: Vec<&CaseResult> = per_case
        .iter()
        .filter(|c| c.must_escalate == Some(true))
        .collect();
    let escalated_labelled: Vec<&CaseResult> = per_case
        .iter()
        .filter(|c| c.escalated && c.must_escalate.is_some())
        .collect();
    let (hits, expected) = per_case.iter().fold((0, 0), |(h, e), c| {
        (h + c.expected_hits.0, e + c.expected_hits.1)
    });
    let must_not = per_case
        .iter()
        .filter(|c| c.must_escalate == Some(false))
        .count();
    let needless_escalations = per_case.iter().filter(|c| c.needless_escalation()).count();
    let mut by_playbook: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
    for case in &per_case {
        let key = if case.use_case.is_empty() {
            NO_PLAYBOOK
        } else {
            case.use_case.as_str()
        };
        by_playbook.entry(key).or_default().push(case);
    }
    let per_playbook = by_playbook
        .into_iter()
        .map(|(name, cases)| (name.to_owned(), playbook_score(&cases)))
        .collect();
    let all: Vec<&CaseResult> = per_case.iter().collect();
    let decided = decided(&all);
    let abstentions = per_case
        .iter()
        .filter(|c| c.expected_verdict != ExpectedVerdict::Any && !c.error)
        .filter(|c| c.verdict == Verdict::Unknown.as_str())
        .count();
    EvalReport {
        set: set.to_owned(),
        assessor: assessor.to_owned(),
        approve_all,
        cases: per_case.len(),
        errors: per_case.iter().filter(|c| c.error).count(),
        verdict_accuracy: verdict_accuracy(&per_case),
        abstentions,
        decided_verdict_accuracy: verdict_accuracy(decided.iter().copied()),
        verdict_side_accuracy: side_accuracy(&decided),
        false_negatives: per_case.iter().filter(|c| c.false_negative).count(),
        escalation_recall: ratio(must.iter().filter(|c| c.escalated).count(), must.len()),
        escalation_precision: ratio(
            escalated_labelled
                .iter()
                .filter(|c| c.must_escalate == Some(true))
                .count(),
            escalated_labelled.len(),
        ),
        needless_escalations,
        needless_escalation_rate: failure_rate(needless_escalations, must_not),
        expected_actions_proposed: ratio(hits, expected),
        unsafe_proposals: per_case.iter().map(|c| c.unsafe_proposals).sum(),
        unsafe_executions: per_case.iter().map(|c| c.unsafe_executions).sum(),
        per_playbook,
        per_case,
    }
}

#[cfg(test)]
mod tests;
