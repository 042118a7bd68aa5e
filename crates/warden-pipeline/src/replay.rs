//! `warden replay CASE`: run a stored case again, offline, with its model
//! answers taken from the record, under today's configuration, policy,
//! playbooks and prompt, and show what changes.
//!
//! The recorded exchanges are the case's `model_called` audit entries. The
//! replay runs in a scratch store and log, with a sandbox connector in
//! place of every product: nothing it decides can act (S1). Each model call
//! is matched to its recording by step; a request that differs from the
//! recorded one (new prompt, evidence or tools) is reported as drift, and
//! a step the recording does not have ends in escalation like any other
//! model failure.

use std::collections::BTreeMap;
use std::sync::Arc;

use warden_assess::Assessor;
use warden_audit::{AuditLog, StoreAuditLog};
use warden_domain::{
    AuditEvent, CaseId, Clock, Disposition, ModelExchange, Severity, SystemClock, Verdict,
};
use warden_execute::RecordingConnector;
use warden_llm::{LlmAssessor, ReplayTransport};
use warden_store::SqliteStore;

use crate::{AssessorChoice, Pipeline, PipelineError};

/// What one run of a case concluded.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunSummary {
    pub verdict: Option<Verdict>,
    pub severity: Severity,
    pub disposition: Option<Disposition>,
    /// Escalation reasons, `code: reason`.
    pub escalations: Vec<String>,
    /// `action target → outcome`, one per proposal.
    pub decisions: Vec<String>,
}

/// One model call, recorded and replayed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StepDiff {
    pub assessor: String,
    pub step: u32,
    pub recorded_request: Option<String>,
    pub replayed_request: Option<String>,
}

impl StepDiff {
    /// Whether the replayed request is the recorded one, byte for byte.
    pub fn same(&self) -> bool {
        self.recorded_request == self.replayed_request
    }
}

/// What `warden replay` found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplayReport {
    pub case_id: CaseId,
    pub recorded: RunSummary,
    pub replayed: RunSummary,
    pub steps: Vec<StepDiff>,
}

impl ReplayReport {
    /// Whether the outcome changed.
    pub fn changed(&self) -> bool {
        self.recorded != self.replayed
    }
}

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("no case {0} in this data directory")]
    NoCase(CaseId),
    #[error("case {0} has no recorded model calls: it was triaged without an LLM assessor")]
    NothingRecorded(CaseId),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

/// What one run of a case put on the audit log: its model calls, the
/// escalation reasons and the policy decisions.
struct RunRecord {
    exchanges: Vec<ModelExchange>,
    escalations: Vec<String>,
    decisions: Vec<String>,
}

async fn run_record(
    audit: &Arc<dyn AuditLog>,
    case_id: CaseId,
) -> Result<RunRecord, PipelineError> {
    let mut run = RunRecord {
        exchanges: Vec::new(),
        escalations: Vec::new(),
        decisions: Vec::new(),
    };
    for record in audit.records(Some(case_id)).await? {
        match record.entry.event {
            AuditEvent::ModelCalled { exchange, .. } => run.exchanges.push(exchange),
            AuditEvent::Escalated { reasons, .. } => run.escalations.extend(reasons),
            AuditEvent::PolicyDecided {
                proposal, outcome, ..
            } => run.decisions.push(format!(
                "{} {} -> {}",
                proposal.action,
                target_label(&proposal.target),
                outcome_label(&outcome)
            )),
            _ => {}
        }
    }
    Ok(run)
}

/// A target as the summary shows it: each run opens its own case, so the
/// case itself is "this case", not its id.
fn target_label(target: &warden_domain::Target) -> String {
    match target {
        warden_domain::Target::Case { .. } => "this case".to_owned(),
        entity => entity.label(),
    }
}

fn outcome_label(outcome: &warden_domain::DecisionOutcome) -> String {
    match outcome {
        warden_domain::DecisionOutcome::Allow => "allow".into(),
        warden_domain::DecisionOutcome::Deny => "deny".into(),
        warden_domain::DecisionOutcome::NeedsApproval { approvals, .. } => {
            format!("needs {approvals} approval(s)")
        }
    }
}

impl Pipeline {
    /// Replay stored case `case_id` (see the module doc). With `live`, the
    /// model calls go to those assessors instead of the recording (a new
    /// model or provider, same case).
    pub async fn replay_case(
        &self,
        case_id: CaseId,
        live: Option<&AssessorChoice>,
    ) -> Result<ReplayReport, ReplayError> {
        let case = self
            .store
            .case(case_id)
            .await
            .map_err(PipelineError::from)?
            .ok_or(ReplayError::NoCase(case_id))?;
        let RunRecord {
            exchanges,
            escalations,
            decisions,
        } = run_record(&self.audit, case_id).await?;
        let recorded_run = RunSummary {
            verdict: case.verdict,
            severity: case.severity,
            disposition: case.disposition,
            escalations,
            decisions,
        };
        if exchanges.is_empty() && live.is_none() {
            return Err(ReplayError::NothingRecorded(case_id));
        }
        let alerts = self
            .store
            .alerts_of_case(case_id)
            .await
            .map_err(PipelineError::from)?;

        // The recorded assessors, each answering from its own exchanges.
        let choice = match live {
            Some(choice) => choice.clone(),
            None => {
                let mut by_assessor: BTreeMap<String, Vec<ModelExchange>> = BTreeMap::new();
                for exchange in &exchanges {
                    by_assessor
                        .entry(exchange.assessor.clone())
                        .or_default()
                        .push(exchange.clone());
                }
                let mut assessors: Vec<Arc<dyn Assessor>> = Vec::new();
                for (name, recorded) in by_assessor {
                    let transport = Arc::new(ReplayTransport::new(recorded, "recorded"));
                    let assessor: Arc<dyn Assessor> =
                        Arc::new(LlmAssessor::new(&name, transport, self.config.llm.clone()));
                    if name == "llm" {
                        assessors.insert(0, assessor);
                    } else {
                        assessors.push(assessor);
                    }
                }
                let mut assessors = assessors.into_iter();
                AssessorChoice {
                    primary: assessors.next(),
                    second_opinions: assessors.collect(),
                    cases_in_flight: 1,
                }
            }
        };

        // A scratch store and log, and a sandbox for every product.
        let scratch = Arc::new(
            SqliteStore::in_memory()
                .await
                .map_err(PipelineError::from)?,
        );
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let scratch_audit: Arc<dyn AuditLog> = Arc::new(StoreAuditLog::new(scratch.clone(), clock));
        let mut pipeline = self
            .scratch(
                scratch,
                scratch_audit.clone(),
                Arc::new(RecordingConnector::new()),
            )?
            .with_assessors(&choice);
        pipeline.replaying = Some(case_id);
        let outcomes = pipeline.triage_alerts(alerts).await?;

        // The scratch log holds only the replayed case, under its own id.
        let replayed_run = run_record(&scratch_audit, case_id).await?;
        let first = outcomes.first();
        let replayed = RunSummary {
            verdict: first.and_then(|o| o.case.verdict),
            severity: first.map_or(recorded_run.severity, |o| o.case.severity),
            disposition: first.and_then(|o| o.case.disposition),
            escalations: replayed_run.escalations,
            decisions: replayed_run.decisions,
        };
        // Each model call, by assessor and step: recorded, replayed, both.
        let mut steps: BTreeMap<(String, u32), StepDiff> = BTreeMap::new();
        for (exchange, recorded) in exchanges
            .into_iter()
            .map(|x| (x, true))
            .chain(replayed_run.exchanges.into_iter().map(|x| (x, false)))
        {
            let step = steps
                .entry((exchange.assessor.clone(), exchange.step))
                .or_insert_with(|| StepDiff {
                    assessor: exchange.assessor.clone(),
                    step: exchange.step,
                    recorded_request: None,
                    replayed_request: None,
                });
            if recorded {
                step.recorded_request = Some(exchange.request_sha256);
            } else {
                step.replayed_request = Some(exchange.request_sha256);
            }
        }
        Ok(ReplayReport {
            case_id,
            recorded: recorded_run,
            replayed,
            steps: steps.into_values().collect(),
        })
    }
}
