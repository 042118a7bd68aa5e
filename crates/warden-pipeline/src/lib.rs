//! The triage pipeline: alerts in, decided cases out, every step on the
//! audit record.
//!
//! # Layout
//!
//! - [`Pipeline`] (this file): runs ingest -> correlate -> enrich -> assess
//!   -> decide -> approve -> execute for a batch of alerts, persisting each
//!   stage's output and appending its audit events before moving on (S5).
//! - [`config`]: the `warden.toml` settings.
//! - [`report`]: a triaged case as the CLI and API show it (`--json` lines,
//!   human cards).
//!
//! Each stage's logic lives in its own crate; this crate only wires them in
//! order, so the data flow reads top to bottom in [`Pipeline::triage_case`].

pub mod config;
pub mod report;

use std::path::PathBuf;
use std::sync::Arc;

use warden_approve::{Withheld, release};
use warden_assess::{AssessmentInput, Assessor, DeterministicAssessor};
use warden_audit::{AuditError, AuditLog};
use warden_domain::audit::ProposalRecord;
use warden_domain::hashing::sha256_hex;
use warden_domain::{
    Alert, AuditEvent, Case, CaseState, Clock, Decision, DecisionOutcome, Execution,
    ExecutionStatus,
};
use warden_enrich::{Context, enrich};
use warden_execute::{CaseNoteConnector, Executor};
use warden_ingest::{
    AttackCatalogue, CaseDraft, FormatChoice, Formats, IngestError, Limits, ReadOptions, correlate,
    parse_record, read_paths,
};
use warden_policy::{
    ApprovalTally, CaseFacts, EscalationInput, PolicyEngine, TargetFacts, Trigger,
    escalation_triggers,
};
use warden_store::{DeadLetter, Store, StoreError};

pub use config::Config;
pub use report::CaseOutcome;

/// What stops the pipeline (bad input does not: it is dead-lettered).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("audit log: {0}")]
    Audit(#[from] AuditError),
    #[error("executor: {0}")]
    Execute(#[from] warden_execute::ExecuteError),
    #[error("case state: {0}")]
    State(#[from] warden_domain::InvalidTransition),
}

/// The result of one triage run.
#[derive(Debug)]
pub struct TriageRun {
    pub outcomes: Vec<CaseOutcome>,
    /// Records that could not be ingested (each dead-lettered).
    pub rejected: Vec<IngestError>,
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
    assessor: Box<dyn Assessor>,
    executor: Executor,
    context: Context,
    attack: Option<AttackCatalogue>,
    formats: Formats,
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
    /// Wire the stages. The deterministic assessor is the default.
    pub fn new(
        config: Config,
        store: Arc<dyn Store>,
        audit: Arc<dyn AuditLog>,
        clock: Arc<dyn Clock>,
        policy: PolicyEngine,
        context: Context,
    ) -> Self {
        let executor = Executor::new(
            store.clone(),
            audit.clone(),
            clock.clone(),
            vec![Arc::new(CaseNoteConnector::new(
                store.clone(),
                clock.clone(),
            ))],
        );
        let assessor = Box::new(DeterministicAssessor::new(config.assessor.clone()));
        Self {
            config,
            store,
            audit,
            clock,
            policy,
            assessor,
            executor,
            context,
            attack: None,
            formats: Formats::default(),
        }
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

    /// The agent principal of the configured use case.
    fn agent(&self) -> String {
        format!("agent:{}", self.config.use_case.name)
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

    /// Keep a rejected record with its reason, on the record.
    async fn dead_letter(&self, error: &IngestError) -> Result<(), PipelineError> {
        let sha256 = sha256_hex(&error.payload);
        self.audit
            .append(
                PIPELINE,
                AuditEvent::IngestRejected {
                    origin: error.origin.clone(),
                    reason: error.reason.clone(),
                    raw_sha256: sha256.clone(),
                },
            )
            .await?;
        self.store
            .add_dead_letter(&DeadLetter {
                id: format!("dl-{}", uuid::Uuid::now_v7()),
                origin: error.origin.clone(),
                reason: error.reason.clone(),
                payload: error.payload.clone(),
                sha256,
                received_at: self.clock.now(),
                resolved_at: None,
                resolution: None,
            })
            .await?;
        Ok(())
    }

    /// Triage parsed alerts: record their ingestion, group them, and run
    /// each case through the remaining stages.
    pub async fn triage_alerts(
        &self,
        alerts: Vec<Alert>,
    ) -> Result<Vec<CaseOutcome>, PipelineError> {
        for alert in &alerts {
            self.audit
                .append(
                    PIPELINE,
                    AuditEvent::AlertIngested {
                        alert_id: alert.id,
                        format: alert.format,
                        origin: alert.origin.clone(),
                        rule: alert.rule.name.clone(),
                        raw_sha256: alert.raw_sha256.clone(),
                    },
                )
                .await?;
        }
        let mut outcomes = Vec::new();
        for draft in correlate(alerts, &self.config.correlation) {
            outcomes.push(self.triage_case(draft).await?);
        }
        Ok(outcomes)
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
    async fn triage_case(&self, draft: CaseDraft) -> Result<CaseOutcome, PipelineError> {
        let now = self.clock.now();
        let alerts: Vec<Alert> = draft.alerts.iter().map(|(a, _)| a.clone()).collect();
        let severity = alerts
            .iter()
            .map(|a| a.severity.level)
            .max()
            .unwrap_or(warden_domain::Severity::Medium);
        let title = alerts
            .first()
            .map(|a| a.rule.name.clone())
            .unwrap_or_default();

        // Correlate: the case exists once it is stored and on the record.
        let mut case = Case::open(
            title,
            alerts.iter().map(|a| a.id).collect(),
            draft.alert_count,
            draft.reasons.clone(),
            severity,
            now,
        );
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

        // Enrich.
        let enrichment = enrich(&alerts, &self.context, self.clock.now());
        self.audit
            .append(
                PIPELINE,
                AuditEvent::EvidenceCollected {
                    case_id: case.id,
                    evidence: enrichment.ids(),
                    sources: enrichment.sources(),
                    gaps: enrichment.gaps.clone(),
                },
            )
            .await?;
        self.store
            .save_evidence(case.id, &enrichment.evidence, &enrichment.gaps)
            .await?;
        self.advance(&mut case, CaseState::Enriched).await?;

        // Assess. An output that cites evidence that does not exist, or
        // targets what its action cannot take, loses its proposals and
        // escalates (S4).
        let mut assessment = self.assessor.assess(&AssessmentInput {
            case: &case,
            alerts: &alerts,
            evidence: &enrichment.evidence,
            gaps: &enrichment.gaps,
        });
        let invalid = assessment.check(&enrichment.ids()).err();
        if invalid.is_some() {
            assessment.proposed_actions.clear();
        }
        self.audit
            .append(
                &format!("assessor:{}", assessment.assessor),
                AuditEvent::Assessed {
                    case_id: case.id,
                    assessor: assessment.assessor.clone(),
                    verdict: assessment.verdict,
                    severity: assessment.severity,
                    confidence: assessment.confidence,
                    risk_score: assessment.risk_score,
                    proposals: assessment
                        .proposed_actions
                        .iter()
                        .map(ProposalRecord::of)
                        .collect(),
                },
            )
            .await?;
        self.store.save_assessment(case.id, &assessment).await?;
        self.advance(&mut case, CaseState::Assessed).await?;

        // Decide: policy for every proposal, then the escalation triggers.
        let case_facts = CaseFacts {
            use_case: self.config.use_case.name.clone(),
            autonomy: self.config.use_case.autonomy.clone(),
            severity: assessment.severity,
            confidence: assessment.confidence,
            verdict: assessment.verdict,
            evidence_gaps: enrichment.gaps.len(),
            stale_evidence: CaseFacts::count_stale(&enrichment.evidence),
        };
        let mut decisions: Vec<Decision> = Vec::new();
        for proposal in &assessment.proposed_actions {
            let target = TargetFacts::from_evidence(&proposal.target, &enrichment.evidence);
            let decision = self.policy.decide(
                &self.config.use_case.name,
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
        let mut triggers = escalation_triggers(
            &EscalationInput {
                assessment: &assessment,
                alerts: &alerts,
                evidence: &enrichment.evidence,
                gaps: &enrichment.gaps,
                decisions: &decisions,
            },
            &self.config.escalation,
        );
        if let Some(err) = invalid {
            triggers.push(Trigger {
                code: "invalid_assessment",
                reason: format!("assessor output rejected: {err}"),
            });
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

        // Approve, then execute what is cleared.
        let mut executions: Vec<Execution> = Vec::new();
        for (proposal, decision) in assessment.proposed_actions.iter().zip(&decisions) {
            if decision.outcome == DecisionOutcome::Deny {
                continue;
            }
            let released = release(
                proposal.clone(),
                decision.clone(),
                &[],
                &self.agent(),
                self.clock.now(),
            );
            let (outcome, required, roles) = match (&released, &decision.outcome) {
                (Ok(_), _) => ("not_required", 0, Vec::new()),
                (Err(Withheld::AwaitingApproval { needed, roles, .. }), _) => {
                    ("requested", *needed, roles.clone())
                }
                (Err(_), _) => ("withheld", 0, Vec::new()),
            };
            self.audit
                .append(
                    PIPELINE,
                    AuditEvent::ApprovalEvaluated {
                        case_id: case.id,
                        proposal_hash: decision.proposal_hash.clone(),
                        outcome: outcome.into(),
                        approvals_required: required,
                        roles,
                    },
                )
                .await?;
            if let Ok(order) = released {
                executions.push(
                    self.executor
                        .execute(&order, &self.config.use_case.name)
                        .await?,
                );
            }
        }

        let side_effects_ran = executions
            .iter()
            .any(|e| e.status == ExecutionStatus::Succeeded && e.action.has_side_effect());
        let disposition = warden_policy::disposition(triggers.len(), &decisions, side_effects_ran);
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
            case,
            alerts: draft.alerts,
            evidence: enrichment.evidence,
            gaps: enrichment.gaps,
            assessment,
            decisions,
            triggers,
            executions,
        })
    }
}

#[cfg(test)]
mod tests;
