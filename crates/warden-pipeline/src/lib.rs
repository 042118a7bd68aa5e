//! The triage pipeline: alerts in, decided cases out, every step on the
//! audit record.
//!
//! # Layout
//!
//! - [`Pipeline`] (this file): runs ingest -> correlate -> enrich -> assess
//!   -> decide -> approve -> execute for a batch of alerts, persisting each
//!   stage's output and appending its audit events before moving on (S5).
//! - [`accounts`]: local accounts and their Argon2id passwords.
//! - [`config`]: the `warden.toml` settings.
//! - [`control`]: what people do between triage and execution: answer
//!   approval requests, pull the kill switch, set autonomy, review cases
//!   (the trust ladder).
//! - [`report`]: a triaged case as the CLI and API show it (`--json` lines,
//!   human cards).
//!
//! Each stage's logic lives in its own crate; this crate only wires them in
//! order, so the data flow reads top to bottom in [`Pipeline::triage_case`].

pub mod accounts;
pub mod config;
pub mod control;
pub mod eval;
mod host;
pub mod replay;
pub mod report;

use std::path::PathBuf;
use std::sync::Arc;

use warden_approve::build_card;
use warden_assess::{AssessmentInput, Assessor, DeterministicAssessor};
use warden_audit::{AuditError, AuditLog};
use warden_domain::alert::structured_entities;
use warden_domain::audit::ProposalRecord;
use warden_domain::hashing::sha256_hex;
use warden_domain::{
    Alert, ApprovalRequest, Assessment, AuditEvent, AutoCloseDecision, Autonomy, Case, CaseState,
    Clock, Decision, DecisionOutcome, Disposition, Execution, ExecutionStatus, RequestStatus,
    Verdict,
};
use warden_enrich::redact::{Unredact, redact_alert, redacted};
use warden_enrich::{Context, EnrichRequest, ToolBox, enrich, register_embedded};
use warden_execute::{CaseNoteConnector, CaseView, Connector, Executor};
use warden_ingest::{
    AttackCatalogue, CaseDraft, FormatChoice, Formats, IngestError, Limits, ReadOptions, correlate,
    parse_record, read_paths,
};
use warden_playbook::PlaybookSet;
use warden_policy::{
    ApprovalTally, AutoCloseFacts, EscalationInput, FailedAssessor, PolicyEngine, Trigger,
    escalation_triggers,
};
use warden_store::{DeadLetter, Person, Store, StoreError};

pub use config::{AuditConfig, Config, QueueConfig, ServerConfig};
pub use control::{Control, ControlError};
pub use report::CaseOutcome;
/// Redaction, for the server's views of a case (S6).
pub use warden_enrich::redact;

/// What stops the pipeline (bad input does not: it is dead-lettered).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("audit log: {0}")]
    Audit(#[from] AuditError),
    #[error("executor: {0}")]
    Execute(#[from] warden_execute::ExecuteError),
    #[error("approvals: {0}")]
    Control(#[from] ControlError),
    #[error("case state: {0}")]
    State(#[from] warden_domain::InvalidTransition),
    #[error("setup: {0}")]
    Setup(String),
}

/// A record the pipeline could not ingest, kept as a dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub origin: String,
    pub reason: String,
    /// The dead letter's id (`warden deadletter show ID`).
    pub dead_letter: String,
}

/// The result of one triage run.
#[derive(Debug)]
pub struct TriageRun {
    pub outcomes: Vec<CaseOutcome>,
    /// Records that could not be ingested (each dead-lettered).
    pub rejected: Vec<IngestError>,
}

/// A case whose triage failed part-way (see
/// [`Pipeline::triage_alerts_each`]), and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFailure {
    pub case_id: warden_domain::CaseId,
    pub alert_ids: Vec<warden_domain::AlertId>,
    /// The error that stopped its triage.
    pub error: String,
    pub handled: FailureHandling,
}

/// Where a failed case went: to a person, or its alerts to the dead-letter
/// store; only when neither could be recorded is it nowhere but the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureHandling {
    /// Escalated with the error (`triage_failed: ...`).
    Escalated,
    /// Never stored as a case: its alerts are dead letters with the reason.
    DeadLettered(Vec<String>),
    /// Neither could be recorded (the store or the log is failing).
    NotRecorded(String),
}

/// What a dead-letter retry did.
#[derive(Debug)]
pub enum RetryOutcome {
    /// Ingested and triaged.
    Ingested(Vec<CaseOutcome>),
    /// Still not an alert, with the reason.
    StillRejected(String),
    AlreadyResolved,
    NotFound,
}

/// The wired pipeline.
pub struct Pipeline {
    config: Config,
    store: Arc<dyn Store>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    policy: PolicyEngine,
    assessor: Arc<dyn Assessor>,
    /// Further assessors whose views are compared with the first one's
    /// (an ensemble); disagreement escalates. When the primary is not the
    /// deterministic assessor, the deterministic one is always among them.
    second_opinions: Vec<Arc<dyn Assessor>>,
    executor: Executor,
    connectors: Vec<Arc<dyn Connector>>,
    control: Control,
    tools: Arc<ToolBox>,
    playbooks: PlaybookSet,
    attack: Option<AttackCatalogue>,
    formats: Formats,
    /// `warden eval --approve-all`: every approval request is granted by a
    /// simulated approver (policy denials still hold).
    simulated_approver: bool,
    /// Model tokens the assessors used (`warden_llm_tokens_total`).
    llm_tokens: Arc<std::sync::atomic::AtomicU64>,
    /// Cases triaged at once.
    cases_in_flight: usize,
    /// `warden replay`: the stored case being run again.
    replaying: Option<warden_domain::CaseId>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("assessor", &self.assessor.name())
            .field("policy_version", &self.policy.version())
            .finish_non_exhaustive()
    }
}

/// The audit actor of the pipeline's own steps.
const PIPELINE: &str = "system:pipeline";

impl Pipeline {
    /// Wire the stages. The deterministic assessor is the default; the
    /// shipped playbooks decide use cases until [`Pipeline::with_playbooks`]
    /// replaces them; context tools read `context` and past cases in `store`.
    pub fn new(
        config: Config,
        store: Arc<dyn Store>,
        audit: Arc<dyn AuditLog>,
        clock: Arc<dyn Clock>,
        policy: PolicyEngine,
        context: Context,
    ) -> Result<Self, PipelineError> {
        let mut tools = ToolBox::new(config.tools);
        let past_cases: Arc<dyn warden_store::CaseReader> = store.clone();
        register_embedded(&mut tools, Arc::new(context), Some(past_cases))
            .map_err(PipelineError::Setup)?;
        let playbooks = PlaybookSet::shipped().map_err(|e| PipelineError::Setup(e.to_string()))?;
        Self::assemble(
            config,
            store,
            audit,
            clock,
            policy,
            Arc::new(tools),
            playbooks,
        )
    }

    /// Wire the stages around `tools` and `playbooks`.
    fn assemble(
        config: Config,
        store: Arc<dyn Store>,
        audit: Arc<dyn AuditLog>,
        clock: Arc<dyn Clock>,
        policy: PolicyEngine,
        tools: Arc<ToolBox>,
        playbooks: PlaybookSet,
    ) -> Result<Self, PipelineError> {
        // The configured products first (the first connector that handles
        // an action performs it), then Warden's own case notes.
        let mut connectors = config
            .connectors
            .build()
            .map_err(|e| PipelineError::Setup(format!("connectors: {e}")))?;
        connectors.push(Arc::new(CaseNoteConnector::new(
            store.clone(),
            clock.clone(),
        )));
        let control = Control::new(
            store.clone(),
            audit.clone(),
            clock.clone(),
            config.approvals,
        );
        let assessor: Arc<dyn Assessor> =
            Arc::new(DeterministicAssessor::new(config.assessor.clone()));
        let executor = build_executor(
            &config,
            &store,
            &audit,
            &clock,
            &policy,
            &playbooks,
            &connectors,
        );
        let pipeline = Self {
            config,
            store,
            audit,
            clock,
            policy,
            assessor,
            second_opinions: Vec::new(),
            executor,
            connectors,
            control,
            tools,
            playbooks,
            attack: None,
            formats: Formats::default(),
            simulated_approver: false,
            llm_tokens: Arc::default(),
            cases_in_flight: 1,
            replaying: None,
        };
        pipeline.check_playbooks(&pipeline.playbooks)?;
        Ok(pipeline)
    }

    /// The same stages over another store and log, with every product
    /// connector dropped and `sandbox` in their place (replays). Context
    /// tools are shared: they only read.
    fn scratch(
        &self,
        store: Arc<dyn Store>,
        audit: Arc<dyn AuditLog>,
        sandbox: Arc<dyn Connector>,
    ) -> Result<Self, PipelineError> {
        let mut config = self.config.clone();
        config.connectors = Default::default();
        let mut pipeline = Self::assemble(
            config,
            store,
            audit,
            self.clock.clone(),
            self.policy.clone(),
            self.tools.clone(),
            self.playbooks.clone(),
        )?
        .with_formats(self.formats.clone())
        .with_sandbox(sandbox);
        pipeline.attack = self.attack.clone();
        Ok(pipeline)
    }

    /// Every tool a playbook names must exist.
    fn check_playbooks(&self, playbooks: &PlaybookSet) -> Result<(), PipelineError> {
        for playbook in playbooks.iter() {
            for tool in &playbook.tools {
                if !self.tools.has(tool) {
                    return Err(PipelineError::Setup(format!(
                        "playbook {} ({}) names the context tool {tool:?}, which does not exist; known tools: {}",
                        playbook.name(),
                        playbook.origin,
                        self.tools.names().join(", ")
                    )));
                }
            }
        }
        Ok(())
    }

    /// Decide use cases with `playbooks` instead of the shipped ones.
    pub fn with_playbooks(mut self, playbooks: PlaybookSet) -> Result<Self, PipelineError> {
        self.check_playbooks(&playbooks)?;
        self.playbooks = playbooks;
        self.rebuild_executor();
        Ok(self)
    }

    /// The executor sees the same policy, playbooks and connectors.
    fn rebuild_executor(&mut self) {
        self.executor = build_executor(
            &self.config,
            &self.store,
            &self.audit,
            &self.clock,
            &self.policy,
            &self.playbooks,
            &self.connectors,
        );
    }

    /// The executor this pipeline hands orders to.
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// The control plane (approvals, kill switch, autonomy, reviews).
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// The playbooks in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The policy set deciding this pipeline's proposals.
    pub fn policy(&self) -> &PolicyEngine {
        &self.policy
    }

    /// Model tokens the assessors have used since the pipeline was built.
    pub fn llm_tokens(&self) -> u64 {
        self.llm_tokens.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The store this pipeline writes to.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn playbooks(&self) -> &PlaybookSet {
        &self.playbooks
    }

    /// Use `assessor` instead of the deterministic one. The deterministic
    /// assessor still runs beside it, as the baseline it must agree with.
    pub fn with_assessor(mut self, assessor: Arc<dyn Assessor>) -> Self {
        let baseline = std::mem::replace(&mut self.assessor, assessor);
        if baseline.name() == "deterministic" && self.assessor.name() != "deterministic" {
            self.second_opinions.insert(0, baseline);
        }
        self
    }

    /// Use the assessors of `choice` (see [`assessor_named`]).
    pub fn with_assessors(mut self, choice: &AssessorChoice) -> Self {
        if let Some(primary) = &choice.primary {
            self = self.with_assessor(primary.clone());
        }
        for other in &choice.second_opinions {
            self = self.with_second_opinion(other.clone());
        }
        self.cases_in_flight = choice.cases_in_flight.max(1);
        self
    }

    /// Also ask `assessor` and escalate when it disagrees with the primary.
    pub fn with_second_opinion(mut self, assessor: Arc<dyn Assessor>) -> Self {
        self.second_opinions.push(assessor);
        self
    }

    /// Add a connector to the executor, after the configured ones.
    pub fn with_connector(mut self, connector: Arc<dyn Connector>) -> Self {
        self.connectors.push(connector);
        self.rebuild_executor();
        self
    }

    /// Act on nothing real: drop every configured product connector and
    /// perform side effects through `sandbox` only (`warden eval`).
    pub fn with_sandbox(mut self, sandbox: Arc<dyn Connector>) -> Self {
        self.connectors = vec![
            Arc::new(CaseNoteConnector::new(
                self.store.clone(),
                self.clock.clone(),
            )),
            sandbox,
        ];
        self.rebuild_executor();
        self
    }

    /// Grant every approval request through a simulated approver (for
    /// `warden eval --approve-all`; never for production use).
    pub fn with_simulated_approver(mut self) -> Self {
        self.simulated_approver = true;
        self
    }

    /// Name ATT&CK techniques and tactics from `catalogue` at ingest.
    pub fn with_attack_catalogue(mut self, catalogue: AttackCatalogue) -> Self {
        self.attack = Some(catalogue);
        self
    }

    /// Read sources described by mapping files besides the built-in formats.
    pub fn with_formats(mut self, formats: Formats) -> Self {
        self.formats = formats;
        self
    }

    /// The formats this pipeline reads (to resolve `--format NAME`).
    pub fn formats(&self) -> &Formats {
        &self.formats
    }

    /// The agent principal of a use case.
    fn agent(use_case: &str) -> String {
        format!("agent:{use_case}")
    }

    /// Record what this run works with (S5): the configuration, policy set,
    /// playbooks and agent behind every entry that follows.
    pub async fn record_run(&self, command: &str) -> Result<(), PipelineError> {
        use sha2::Digest as _;
        let config = serde_json::to_value(&self.config)
            .map(|v| warden_audit::canonical::to_string(&v))
            .unwrap_or_default();
        self.audit
            .append(
                PIPELINE,
                AuditEvent::RunStarted {
                    command: command.to_owned(),
                    warden_version: env!("CARGO_PKG_VERSION").to_owned(),
                    config_sha256: hex::encode(sha2::Sha256::digest(config.as_bytes())),
                    policy_version: self.policy.version().to_owned(),
                    playbooks_sha256: self.playbooks.digest(),
                    assessor: self.assessor.name().to_owned(),
                    model: self.assessor.model(),
                },
            )
            .await?;
        Ok(())
    }

    /// Read, ingest and triage files and folders.
    pub async fn triage_paths(
        &self,
        paths: &[PathBuf],
        format: Option<FormatChoice>,
    ) -> Result<TriageRun, PipelineError> {
        let report = read_paths(paths, &self.read_options(format));
        for error in &report.errors {
            self.dead_letter(error).await?;
        }
        let outcomes = self.triage_alerts(report.alerts).await?;
        Ok(TriageRun {
            outcomes,
            rejected: report.errors,
        })
    }

    fn read_options(&self, forced: Option<FormatChoice>) -> ReadOptions {
        ReadOptions {
            limits: Limits {
                max_alert_bytes: self.config.ingest.max_alert_bytes,
                max_depth: self.config.ingest.max_depth,
            },
            formats: self.formats.clone(),
            forced,
        }
    }

    /// Ingest a dead letter's payload again (after a parser fix, or with a
    /// forced `format`). On success the alert is triaged and the letter is
    /// marked resolved; on failure it stays, and the new reason is returned.
    pub async fn retry_dead_letter(
        &self,
        id: &str,
        format: Option<FormatChoice>,
    ) -> Result<RetryOutcome, PipelineError> {
        let Some(letter) = self.store.dead_letter(id).await? else {
            return Ok(RetryOutcome::NotFound);
        };
        if letter.resolved_at.is_some() {
            return Ok(RetryOutcome::AlreadyResolved);
        }
        if letter.payload.is_empty() {
            return Ok(RetryOutcome::StillRejected(format!(
                "nothing to retry: {} could not be read at all; triage it again",
                letter.origin
            )));
        }
        match parse_record(&letter.origin, &letter.payload, &self.read_options(format)) {
            Err(err) => Ok(RetryOutcome::StillRejected(err.reason)),
            Ok(alert) => {
                let alert_id = alert.id;
                let outcomes = self.triage_alerts(vec![alert]).await?;
                self.store
                    .resolve_dead_letter(id, &format!("ingested as {alert_id}"), self.clock.now())
                    .await?;
                Ok(RetryOutcome::Ingested(outcomes))
            }
        }
    }

    /// Parse records received over the network (one alert each), keeping
    /// every one that fails in the dead-letter store with its reason. Each
    /// result is the parsed alert, or the rejection with its dead letter's
    /// id. Parsed alerts are not yet triaged: pass them to
    /// [`Pipeline::triage_alerts`].
    pub async fn accept_records(
        &self,
        records: Vec<(String, Vec<u8>)>,
        format: Option<FormatChoice>,
    ) -> Result<Vec<Result<Alert, Rejected>>, PipelineError> {
        let options = self.read_options(format);
        let mut results = Vec::with_capacity(records.len());
        for (origin, bytes) in records {
            match parse_record(&origin, &bytes, &options) {
                Ok(alert) => results.push(Ok(alert)),
                Err(error) => {
                    let dead_letter = self.dead_letter(&error).await?;
                    results.push(Err(Rejected {
                        origin: error.origin,
                        reason: error.reason,
                        dead_letter,
                    }));
                }
            }
        }
        Ok(results)
    }

    /// Keep a rejected record with its reason, on the record; returns the
    /// dead letter's id.
    async fn dead_letter(&self, error: &IngestError) -> Result<String, PipelineError> {
        let sha256 = sha256_hex(&error.payload);
        self.audit
            .append(
                PIPELINE,
                AuditEvent::IngestRejected {
                    origin: error.origin.clone(),
                    reason: redacted(&error.reason),
                    raw_sha256: sha256.clone(),
                },
            )
            .await?;
        let id = format!("dl-{}", uuid::Uuid::now_v7());
        self.store
            .add_dead_letter(&DeadLetter {
                id: id.clone(),
                origin: error.origin.clone(),
                reason: error.reason.clone(),
                payload: error.payload.clone(),
                sha256,
                received_at: self.clock.now(),
                resolved_at: None,
                resolution: None,
            })
            .await?;
        Ok(id)
    }

    /// Triage parsed alerts: record their ingestion, group them, and run
    /// each case through the remaining stages.
    pub async fn triage_alerts(
        &self,
        alerts: Vec<Alert>,
    ) -> Result<Vec<CaseOutcome>, PipelineError> {
        self.record_receipt(&alerts).await?;
        in_draft_order(
            correlate(alerts, &self.config.correlation),
            self.cases_in_flight,
            |draft| self.triage_case(draft, self.new_case_id()),
        )
        .await
        .into_iter()
        .collect()
    }

    /// Triage parsed alerts as [`Pipeline::triage_alerts`] does, but each
    /// case on its own: one whose triage fails stops no other, and is never
    /// dropped (S4). It is escalated to a person with the error, or, when
    /// it was never stored, its alerts go to the dead-letter store with the
    /// reason. Only a failure to record the alerts' receipt fails the call.
    pub async fn triage_alerts_each(
        &self,
        alerts: Vec<Alert>,
    ) -> Result<Vec<Result<CaseOutcome, CaseFailure>>, PipelineError> {
        self.record_receipt(&alerts).await?;
        Ok(in_draft_order(
            correlate(alerts, &self.config.correlation),
            self.cases_in_flight,
            |draft| self.triage_case_or_escalate(draft),
        )
        .await)
    }

    /// One `alert_ingested` entry per alert, in the alerts' order, rule
    /// names redacted (S6). Appended together, so the audit log's group
    /// commit writes a file or a pushed batch in a few transactions
    /// instead of one per alert.
    async fn record_receipt(&self, alerts: &[Alert]) -> Result<(), PipelineError> {
        let appends = alerts.iter().map(|alert| {
            self.audit.append(
                PIPELINE,
                AuditEvent::AlertIngested {
                    alert_id: alert.id,
                    format: alert.format,
                    origin: alert.origin.clone(),
                    rule: redacted(&alert.rule.name),
                    raw_sha256: alert.raw_sha256.clone(),
                },
            )
        });
        futures_util::future::try_join_all(appends).await?;
        Ok(())
    }

    /// A new case's id (a replay re-opens the stored case under its own).
    fn new_case_id(&self) -> warden_domain::CaseId {
        // `CaseId::default()` is a fresh id.
        self.replaying.unwrap_or_default()
    }

    async fn triage_case_or_escalate(&self, draft: CaseDraft) -> Result<CaseOutcome, CaseFailure> {
        let case_id = self.new_case_id();
        let alerts: Vec<Alert> = draft.alerts.iter().map(|(a, _)| a.clone()).collect();
        // The error may quote alert values (a field that failed to parse,
        // an entity): it goes to the record and the logs redacted (S6).
        let error = match self.triage_case(draft, case_id).await {
            Ok(outcome) => return Ok(outcome),
            Err(err) => redacted(&err.to_string()),
        };
        let handled = match self.escalate_failed(case_id, &error).await {
            Ok(true) => FailureHandling::Escalated,
            Ok(false) => self.dead_letter_failed(&alerts, &error, None).await,
            Err(escalation) => {
                let escalation = escalation.to_string();
                self.dead_letter_failed(&alerts, &error, Some(escalation))
                    .await
            }
        };
        Err(CaseFailure {
            case_id,
            alert_ids: alerts.iter().map(|a| a.id).collect(),
            error,
            handled,
        })
    }

    /// Escalate a stored case whose triage failed, with the error, on the
    /// record first. `false` when the case was never stored.
    async fn escalate_failed(
        &self,
        case_id: warden_domain::CaseId,
        error: &str,
    ) -> Result<bool, PipelineError> {
        let Some(mut case) = self.store.case(case_id).await? else {
            return Ok(false);
        };
        self.audit
            .append(
                PIPELINE,
                AuditEvent::Escalated {
                    case_id,
                    reasons: vec![format!("triage_failed: {error}")],
                },
            )
            .await?;
        if case.state.can_move_to(CaseState::Escalated) {
            case.disposition = Some(Disposition::Escalated);
            self.advance(&mut case, CaseState::Escalated).await?;
        }
        Ok(true)
    }

    /// Keep the alerts of a case that could not be stored or escalated as
    /// dead letters, with the reason.
    async fn dead_letter_failed(
        &self,
        alerts: &[Alert],
        error: &str,
        escalation: Option<String>,
    ) -> FailureHandling {
        let reason = match &escalation {
            None => format!("triage failed before its case was stored: {error}"),
            Some(escalation) => {
                format!("triage failed: {error}; escalating it failed too: {escalation}")
            }
        };
        let mut ids = Vec::new();
        for alert in alerts {
            let letter = IngestError {
                origin: alert.origin.clone(),
                reason: reason.clone(),
                payload: serde_json::to_vec(&alert.raw).unwrap_or_default(),
            };
            match self.dead_letter(&letter).await {
                Ok(id) => ids.push(id),
                Err(err) => return FailureHandling::NotRecorded(format!("{reason}; {err}")),
            }
        }
        FailureHandling::DeadLettered(ids)
    }

    /// With the simulated approver on, grant `request` as many distinct
    /// simulated people as it needs, through the same checks as real ones.
    async fn simulate_approvals(&self, request: &ApprovalRequest) -> Result<(), PipelineError> {
        if !self.simulated_approver || request.status != RequestStatus::Pending {
            return Ok(());
        }
        let role = request
            .card
            .roles
            .first()
            .cloned()
            .unwrap_or_else(|| "analyst".into());
        for n in 1..=request.card.approvals_required {
            let person = Person {
                name: format!("simulated-approver-{n}"),
                roles: vec![role.clone()],
                password_hash: String::new(),
                created_at: self.clock.now(),
            };
            self.control
                .approve(&request.proposal_hash, &person, Some(&role))
                .await?;
        }
        Ok(())
    }

    /// Move `case` to `next`, persisting and recording the change.
    async fn advance(&self, case: &mut Case, next: CaseState) -> Result<(), PipelineError> {
        let from = case.transition(next, self.clock.now())?;
        self.audit
            .append(
                PIPELINE,
                AuditEvent::CaseStateChanged {
                    case_id: case.id,
                    from,
                    to: next,
                },
            )
            .await?;
        self.store.update_case(case, from).await?;
        Ok(())
    }

    /// One case through correlate (already grouped), enrich, assess, decide,
    /// approve and execute.
    async fn triage_case(
        &self,
        draft: CaseDraft,
        case_id: warden_domain::CaseId,
    ) -> Result<CaseOutcome, PipelineError> {
        let now = self.clock.now();
        let alerts: Vec<Alert> = draft.alerts.iter().map(|(a, _)| a.clone()).collect();
        let severity = alerts
            .iter()
            .map(|a| a.severity.level)
            .max()
            .unwrap_or(warden_domain::Severity::Medium);
        // The title (the first rule's name) and the grouping reasons (which
        // quote shared entities) are alert-origin text that every sink
        // shows: the store, the record, prompts, the API, the UI. Kept
        // redacted from the start (S6); the alerts keep the clear values.
        let title = alerts
            .first()
            .map(|a| redacted(&a.rule.name))
            .unwrap_or_default();
        let reasons = draft.reasons.iter().map(|r| redacted(r)).collect();

        // Correlate: the case exists once it is stored and on the record.
        let mut case = Case::open(
            title,
            alerts.iter().map(|a| a.id).collect(),
            draft.alert_count,
            reasons,
            severity,
            now,
        );
        // A replay re-opens the stored case under its own id (in a scratch
        // store): history lookups leave it out as they did.
        case.id = case_id;
        self.audit
            .append(
                PIPELINE,
                AuditEvent::CaseOpened {
                    case_id: case.id,
                    alert_ids: case.alert_ids.clone(),
                    alert_count: case.alert_count,
                    grouping_reasons: case.grouping_reasons.clone(),
                },
            )
            .await?;
        self.store.insert_case(&case, &draft.alerts).await?;

        // The use case: the first playbook that takes one of the alerts.
        let playbook = self.playbooks.select(&alerts);
        let mut use_case = playbook.use_case.clone();
        use_case.autonomy = self.control.autonomy(&use_case).await?;
        let use_case = &use_case;

        // Enrich, through the playbook's context tools.
        let enrichment = enrich(
            &EnrichRequest {
                alerts: &alerts,
                case_id: Some(case.id),
                plan: &playbook.tools,
            },
            &self.tools,
            self.clock.now(),
        )
        .await;
        for call in &enrichment.tool_calls {
            self.audit
                .append(
                    PIPELINE,
                    AuditEvent::ToolCalled {
                        case_id: case.id,
                        tool: call.tool.clone(),
                        parameters: redacted_value(&call.parameters),
                        outcome: redacted(&call.outcome),
                    },
                )
                .await?;
        }
        self.audit
            .append(
                PIPELINE,
                AuditEvent::EvidenceCollected {
                    case_id: case.id,
                    evidence: enrichment.ids(),
                    sources: enrichment.sources(),
                    gaps: redacted_gaps(&enrichment.gaps),
                },
            )
            .await?;
        self.store
            .save_evidence(case.id, &enrichment.evidence, &enrichment.gaps)
            .await?;
        self.advance(&mut case, CaseState::Enriched).await?;

        // Assess, on redacted alerts. Assessors may ask for more context
        // through the host, which runs only what the plan allows on the
        // case's own entities (S2) and records every model call first (S5).
        // An output that cites evidence that does not exist, or targets
        // what its action cannot take, loses its proposals and escalates
        // (S4).
        // Assessors see every alert-origin value redacted (S6); a tool call
        // asked with a redacted entity value runs on the clear one, and the
        // record keeps the redacted form.
        let shown: Vec<Alert> = alerts.iter().map(redact_alert).collect();
        let clear_entities: Vec<String> = structured_entities(&alerts)
            .into_iter()
            .map(|(_, value)| value)
            .collect();
        let unredact = Unredact::of(clear_entities.iter().map(String::as_str));
        let entities: std::collections::BTreeSet<String> = structured_entities(&shown)
            .into_iter()
            .map(|(_, value)| value)
            .chain(clear_entities)
            .collect();
        // What the plan found is the assessors' input; their own tool calls
        // add to the case's enrichment, shared through the context.
        let (planned_evidence, planned_gaps) =
            (enrichment.evidence.clone(), enrichment.gaps.clone());
        let context = host::CaseContext::new(enrichment);
        let plan = host::CaseHost::plan_of(&playbook.tools);
        let input = AssessmentInput {
            case: &case,
            use_case,
            alerts: &shown,
            evidence: &planned_evidence,
            gaps: &planned_gaps,
        };
        let host_for = |assessor: &dyn Assessor| host::CaseHost {
            audit: &self.audit,
            clock: &self.clock,
            tools: &self.tools,
            case_id: case.id,
            assessor: assessor.name().to_owned(),
            plan: plan.clone(),
            entities: entities.clone(),
            unredact: unredact.clone(),
            context: &context,
            calls: std::sync::atomic::AtomicU32::new(0),
        };
        let run = self
            .assessor
            .assess(&input, &host_for(self.assessor.as_ref()))
            .await;
        let mut flags = run.flags;
        let mut tokens = run.tokens;
        let (mut assessment, failure) = match run.outcome {
            Ok(assessment) => (assessment, None),
            Err(failure) => (unusable(self.assessor.name()), Some(failure.0)),
        };
        // Every assessor that runs can stop a closure (S4): a run that
        // failed is named as failed, never read as an answer.
        let mut second_opinions: Vec<Assessment> = Vec::new();
        let mut failed_seconds: Vec<FailedAssessor> = Vec::new();
        for assessor in &self.second_opinions {
            let run = assessor.assess(&input, &host_for(assessor.as_ref())).await;
            tokens = tokens.saturating_add(run.tokens);
            flags.extend(run.flags);
            second_opinions.push(match run.outcome {
                Ok(view) => view,
                Err(failure) => {
                    failed_seconds.push(FailedAssessor {
                        assessor: assessor.name().to_owned(),
                        reason: failure.0,
                    });
                    unusable(assessor.name())
                }
            });
        }
        self.llm_tokens
            .fetch_add(tokens, std::sync::atomic::Ordering::Relaxed);

        // Evidence the assessors' tool calls added is kept like the rest.
        let rejected_tools = context.refusals();
        let enrichment = context.enrichment.into_inner();
        let added = enrichment
            .evidence
            .get(planned_evidence.len()..)
            .unwrap_or_default();
        let added_gaps = enrichment
            .gaps
            .get(planned_gaps.len()..)
            .unwrap_or_default();
        if !added.is_empty() || !added_gaps.is_empty() {
            self.audit
                .append(
                    PIPELINE,
                    AuditEvent::EvidenceCollected {
                        case_id: case.id,
                        evidence: added.iter().map(|e| e.id.clone()).collect(),
                        sources: warden_enrich::sources_of(added),
                        gaps: redacted_gaps(added_gaps),
                    },
                )
                .await?;
            self.store.save_evidence(case.id, added, added_gaps).await?;
        }
        let invalid = failure.or_else(|| {
            assessment
                .check(&enrichment.ids())
                .err()
                .map(|e| e.to_string())
        });
        let mut failed: Vec<FailedAssessor> = Vec::new();
        if let Some(err) = &invalid {
            // S4: an output that breaks the contract is not an answer.
            assessment = unusable(self.assessor.name());
            failed.push(FailedAssessor {
                assessor: self.assessor.name().to_owned(),
                reason: err.clone(),
            });
        }
        failed.extend(failed_seconds);
        // The further views are held to the same contract as the leading
        // one: one that cites evidence the case does not have is no answer.
        for view in &mut second_opinions {
            if failed.iter().any(|f| f.assessor == view.assessor) {
                continue;
            }
            if let Err(err) = view.check(&enrichment.ids()) {
                failed.push(FailedAssessor {
                    assessor: view.assessor.clone(),
                    reason: format!("output rejected: {err}"),
                });
                *view = unusable(&view.assessor);
            }
        }
        let models = std::iter::once(self.assessor.model())
            .chain(self.second_opinions.iter().map(|a| a.model()));
        for (view, model) in std::iter::once(&assessment)
            .chain(&second_opinions)
            .zip(models)
        {
            self.audit
                .append(
                    &format!("assessor:{}", view.assessor),
                    AuditEvent::Assessed {
                        case_id: case.id,
                        assessor: view.assessor.clone(),
                        model,
                        verdict: view.verdict,
                        severity: view.severity,
                        confidence: view.confidence,
                        risk_score: view.risk_score,
                        proposals: view
                            .proposed_actions
                            .iter()
                            .map(ProposalRecord::of)
                            .collect(),
                    },
                )
                .await?;
        }
        // Second opinions first: the executor reads the last one stored as
        // the leading assessment and the others for agreement.
        for view in &second_opinions {
            self.store.save_assessment(case.id, view).await?;
        }
        self.store.save_assessment(case.id, &assessment).await?;
        self.advance(&mut case, CaseState::Assessed).await?;

        // Decide: policy for every proposal, then the escalation triggers.
        let view = CaseView {
            use_case,
            assessment: &assessment,
            evidence: &enrichment.evidence,
            gaps: &enrichment.gaps,
            alerts: &alerts,
            second_opinions: &second_opinions,
        };
        let case_facts = view.case_facts();
        let mut decisions: Vec<Decision> = Vec::new();
        for proposal in &assessment.proposed_actions {
            let target = view.target_facts(&proposal.target, case.id);
            let decision = self.policy.decide(
                &use_case.name,
                proposal,
                &case_facts,
                &target,
                &ApprovalTally::default(),
            );
            self.audit
                .append(PIPELINE, AuditEvent::policy_decided(case.id, &decision))
                .await?;
            self.store.save_decision(case.id, &decision).await?;
            decisions.push(decision);
        }
        let escalation = EscalationInput {
            use_case,
            assessment: &assessment,
            second_opinions: &second_opinions,
            failed: &failed,
            alerts: &alerts,
            evidence: &enrichment.evidence,
            gaps: &enrichment.gaps,
            decisions: &decisions,
        };
        let mut triggers = escalation_triggers(&escalation, &self.config.escalation);
        if let Some(err) = invalid {
            triggers.push(Trigger {
                code: "invalid_assessment",
                reason: format!("assessor output rejected: {err}"),
            });
        }
        for flag in flags {
            triggers.push(Trigger {
                code: flag.code,
                reason: flag.reason,
            });
        }
        if !rejected_tools.is_empty() {
            triggers.push(Trigger {
                code: "tool_request_rejected",
                reason: format!(
                    "the assessor asked for context it may not have: {}",
                    rejected_tools.join("; ")
                ),
            });
        }
        // Reasons quote entity values of the alerts: redacted for every
        // sink (the record, the case, the card).
        for trigger in &mut triggers {
            trigger.reason = redacted(&trigger.reason);
        }
        if !triggers.is_empty() {
            self.audit
                .append(
                    PIPELINE,
                    AuditEvent::Escalated {
                        case_id: case.id,
                        reasons: triggers
                            .iter()
                            .map(|t| format!("{}: {}", t.code, t.reason))
                            .collect(),
                    },
                )
                .await?;
        }
        self.advance(&mut case, CaseState::Decided).await?;

        // Approve, then execute what is cleared. Shadow and draft use cases
        // stop at the decision: nothing of theirs is requested or runs. A
        // case that escalated runs nothing on its own either (S4): what the
        // policy would allow outright waits for one person instead.
        let mut executions: Vec<Execution> = Vec::new();
        let may_request = use_case.autonomy >= Autonomy::Assisted;
        let agent = Self::agent(&use_case.name);
        for (proposal, decision) in assessment.proposed_actions.iter().zip(&decisions) {
            if !may_request {
                continue;
            }
            let (required, roles) = match &decision.outcome {
                DecisionOutcome::Deny => continue,
                DecisionOutcome::NeedsApproval { approvals, roles } => (*approvals, roles.clone()),
                DecisionOutcome::Allow
                    if !triggers.is_empty() && proposal.action.has_side_effect() =>
                {
                    (1, Vec::new())
                }
                DecisionOutcome::Allow => (0, Vec::new()),
            };
            let card = build_card(
                proposal,
                decision,
                &assessment,
                &enrichment.evidence,
                &use_case.name,
                required,
                &roles,
            );
            let request = self
                .control
                .open_request(ApprovalRequest {
                    proposal: proposal.clone(),
                    proposal_hash: decision.proposal_hash.clone(),
                    decision: decision.clone(),
                    use_case: use_case.name.clone(),
                    requester: agent.clone(),
                    card,
                    status: RequestStatus::Pending,
                    created_at: now,
                    expires_at: now,
                    supersedes: None,
                })
                .await?;
            self.simulate_approvals(&request).await?;
            let ready = self
                .store
                .approval_request(&request.proposal_hash)
                .await?
                .is_some_and(|r| r.status == RequestStatus::Ready);
            if ready {
                executions.push(self.executor.execute(&request.proposal_hash).await?);
            }
        }

        let side_effects_ran = executions
            .iter()
            .any(|e| e.status == ExecutionStatus::Succeeded && e.action.has_side_effect());
        let waiting = !self
            .store
            .approval_requests(Some(RequestStatus::Pending), Some(case.id))
            .await?
            .is_empty();
        let mut disposition = warden_policy::disposition(triggers.len(), waiting, side_effects_ran);
        if disposition == Disposition::AutoClosed {
            // Closing without a person is a policy decision of its own
            // (`case.auto_close`), on the record before the case changes
            // state (S5); anything but a clean permit escalates (S4).
            let facts = AutoCloseFacts::of(&escalation, &triggers);
            let decision = self
                .policy
                .decide_auto_close(&use_case.name, case.id, &facts);
            self.audit
                .append(
                    PIPELINE,
                    AuditEvent::AutoCloseDecided {
                        case_id: case.id,
                        allowed: decision.allowed,
                        policy_ids: decision.policy_ids.clone(),
                        policy_version: decision.policy_version.clone(),
                        reasons: decision.reasons.clone(),
                        context: facts.to_json(),
                    },
                )
                .await?;
            if !decision.allowed {
                let denied = Trigger {
                    code: "auto_close_denied",
                    reason: redacted(&auto_close_denial(&decision)),
                };
                self.audit
                    .append(
                        PIPELINE,
                        AuditEvent::Escalated {
                            case_id: case.id,
                            reasons: vec![format!("{}: {}", denied.code, denied.reason)],
                        },
                    )
                    .await?;
                triggers.push(denied);
                disposition = Disposition::Escalated;
            }
            case.auto_close = Some(decision);
        }
        case.verdict = Some(assessment.verdict);
        case.severity = assessment.severity;
        case.disposition = Some(disposition);
        self.advance(&mut case, CaseState::for_disposition(disposition))
            .await?;
        self.audit
            .append(
                PIPELINE,
                AuditEvent::TriageCompleted {
                    case_id: case.id,
                    verdict: assessment.verdict,
                    severity: assessment.severity,
                    disposition,
                },
            )
            .await?;

        Ok(CaseOutcome {
            use_case: use_case.name.clone(),
            case,
            alerts: draft.alerts,
            evidence: enrichment.evidence,
            gaps: enrichment.gaps,
            not_consulted: enrichment.not_consulted,
            assessment,
            second_opinions,
            decisions,
            triggers,
            executions,
        })
    }
}

/// The assessors `--assessor NAME` names (shared: one client, one rate
/// limit, for every case of a run).
#[derive(Clone)]
pub struct AssessorChoice {
    /// `None`: the deterministic assessor leads (the default).
    pub primary: Option<Arc<dyn Assessor>>,
    /// Further views that must agree (the ensemble's second model).
    pub second_opinions: Vec<Arc<dyn Assessor>>,
    /// Cases assessed at once (an LLM answers in seconds, not micros).
    pub cases_in_flight: usize,
}

impl std::fmt::Debug for AssessorChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssessorChoice")
            .field(
                "primary",
                &self.primary.as_ref().map(|a| a.name().to_owned()),
            )
            .field("cases_in_flight", &self.cases_in_flight)
            .finish_non_exhaustive()
    }
}

/// Cases triaged at once by the local assessors (deterministic, chaos).
/// [`in_draft_order`] keeps cases that share an entity in order whatever
/// the number, so outcomes do not depend on timing.
pub const LOCAL_CASES_IN_FLIGHT: usize = 8;

/// Every name `--assessor` takes.
pub const ASSESSOR_NAMES: &[&str] = &["deterministic", "llm", "ensemble", "chaos"];

/// The assessors `--assessor NAME` names, or an error naming the ones that
/// exist or the LLM setting that is missing:
///
/// - `deterministic`: the composite risk scorer alone (the default).
/// - `llm`: the LLM leads; the deterministic assessor runs beside it and
///   disagreement escalates.
/// - `ensemble`: the same, plus `[llm] second_model` when set; any
///   disagreement escalates.
/// - `chaos`: the adversarial test model.
pub fn assessor_named(name: &str, config: &Config) -> Result<AssessorChoice, String> {
    let mut choice = AssessorChoice {
        primary: None,
        second_opinions: Vec::new(),
        cases_in_flight: LOCAL_CASES_IN_FLIGHT,
    };
    match name {
        "deterministic" => {}
        "chaos" => choice.primary = Some(Arc::new(warden_assess::ChaosAssessor::new())),
        "llm" | "ensemble" => {
            let resolved = config.llm.resolve(&warden_llm::LlmEnv::from_process())?;
            let mut models = warden_llm::assessors(&resolved, name == "ensemble")?.into_iter();
            choice.primary = models.next().map(|a| Arc::new(a) as Arc<dyn Assessor>);
            choice.second_opinions = models.map(|a| Arc::new(a) as Arc<dyn Assessor>).collect();
            choice.cases_in_flight = resolved.config.max_in_flight;
        }
        other => {
            return Err(format!(
                "assessor {other:?} is not available: use one of {} (chaos is the adversarial test model)",
                ASSESSOR_NAMES.join(", ")
            ));
        }
    }
    Ok(choice)
}

/// Why closing without a person was refused, naming the policies.
fn auto_close_denial(decision: &AutoCloseDecision) -> String {
    let by = if decision.policy_ids.is_empty() {
        String::new()
    } else {
        format!(" by {}", decision.policy_ids.join(", "))
    };
    format!(
        "closing without a person was refused{by}: {}",
        decision.reasons.join("; ")
    )
}

/// `value` with every string redacted, for the record (S6).
/// Run `triage` on every draft, up to `limit` at once, and return the
/// results in draft order. A draft starts only once every earlier case
/// that shares a structured entity with it has finished, so what a case
/// reads of earlier ones (past cases on its entities) is what it would read
/// one case at a time: the outcome does not depend on timing. Cases in
/// flight together share the audit log's group commits.
async fn in_draft_order<T, F, Fut>(drafts: Vec<CaseDraft>, limit: usize, triage: F) -> Vec<T>
where
    F: Fn(CaseDraft) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    use futures_util::StreamExt as _;
    use futures_util::stream::FuturesUnordered;
    let limit = limit.max(1);
    let mut results: Vec<Option<T>> = drafts.iter().map(|_| None).collect();
    let mut running = FuturesUnordered::new();
    let mut entities_of_running: std::collections::BTreeMap<
        usize,
        std::collections::BTreeSet<(warden_domain::ObservableKind, String)>,
    > = std::collections::BTreeMap::new();
    for (index, draft) in drafts.into_iter().enumerate() {
        let entities = structured_entities(draft.alerts.iter().map(|(alert, _)| alert));
        while running.len() >= limit
            || entities_of_running
                .values()
                .any(|other| !other.is_disjoint(&entities))
        {
            let Some((done, result)) = running.next().await else {
                break;
            };
            entities_of_running.remove(&done);
            if let Some(slot) = results.get_mut(done) {
                *slot = Some(result);
            }
        }
        entities_of_running.insert(index, entities);
        let case = triage(draft);
        running.push(async move { (index, case.await) });
    }
    while let Some((done, result)) = running.next().await {
        if let Some(slot) = results.get_mut(done) {
            *slot = Some(result);
        }
    }
    results.into_iter().flatten().collect()
}

fn redacted_value(value: &serde_json::Value) -> serde_json::Value {
    let mut value = value.clone();
    warden_enrich::redact::redact_value(&mut value);
    value
}

/// Gaps with their sources and reasons redacted, for the record (S6).
fn redacted_gaps(gaps: &[warden_domain::EvidenceGap]) -> Vec<warden_domain::EvidenceGap> {
    gaps.iter()
        .map(|gap| warden_domain::EvidenceGap {
            source: redacted(&gap.source),
            reason: redacted(&gap.reason),
        })
        .collect()
}

/// What stands in for an assessment that failed or broke the contract:
/// no verdict, no confidence, nothing proposed.
fn unusable(assessor: &str) -> Assessment {
    Assessment {
        assessor: assessor.to_owned(),
        verdict: Verdict::Unknown,
        severity: warden_domain::Severity::Medium,
        confidence: 0.0,
        risk_score: 0.0,
        rationale: Vec::new(),
        proposed_actions: Vec::new(),
    }
}

/// The executor, wired to the same store, log, policy and connectors, with
/// the playbooks' use cases.
fn build_executor(
    config: &Config,
    store: &Arc<dyn Store>,
    audit: &Arc<dyn AuditLog>,
    clock: &Arc<dyn Clock>,
    policy: &PolicyEngine,
    playbooks: &PlaybookSet,
    connectors: &[Arc<dyn Connector>],
) -> Executor {
    let mut executor = Executor::new(
        store.clone(),
        audit.clone(),
        clock.clone(),
        policy.clone(),
        playbooks.iter().map(|p| p.use_case.clone()),
    )
    .with_use_case_of({
        // The executor derives each order's use case again, as triage did.
        let playbooks = playbooks.clone();
        Arc::new(move |alerts: &[Alert]| Some(playbooks.select(alerts).name().to_owned()))
    })
    .with_config(config.executor);
    for connector in connectors {
        executor = executor.with_connector(connector.clone());
    }
    executor
}

#[cfg(test)]
mod tests;
