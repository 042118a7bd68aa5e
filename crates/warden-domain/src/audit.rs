//! Typed audit events. Every stage appends one or more of these before its
//! effect is visible (S5); the audit log stores them as canonical JSON.

use serde::{Deserialize, Serialize};

use crate::action::{ActionName, ActionProposal, ProposalHash, Target};
use crate::alert::SourceFormat;
use crate::approval::RequestStatus;
use crate::case::CaseState;
use crate::decision::{Decision, DecisionOutcome};
use crate::evidence::EvidenceGap;
use crate::exchange::ModelExchange;
use crate::execution::ExecutionStatus;
use crate::ids::{AlertId, CaseId, EvidenceId};
use crate::severity::Severity;
use crate::use_case::Autonomy;
use crate::verdict::{Disposition, Verdict};

/// The pipeline stage an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Ingest,
    Correlate,
    Enrich,
    Assess,
    Decide,
    Approve,
    Execute,
    /// Case lifecycle (state changes, closing).
    Case,
    /// Operators steering the agent: kill switch, autonomy changes.
    Control,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Ingest => "ingest",
            Stage::Correlate => "correlate",
            Stage::Enrich => "enrich",
            Stage::Assess => "assess",
            Stage::Decide => "decide",
            Stage::Approve => "approve",
            Stage::Execute => "execute",
            Stage::Case => "case",
            Stage::Control => "control",
        }
    }
}

/// A proposal as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalRecord {
    pub proposal_hash: ProposalHash,
    pub action: ActionName,
    pub target: Target,
}

impl ProposalRecord {
    /// The record of `proposal`.
    pub fn of(proposal: &ActionProposal) -> Self {
        Self {
            proposal_hash: proposal.hash(),
            action: proposal.action,
            target: proposal.target.clone(),
        }
    }
}

/// Something that happened, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuditEvent {
    /// A command or server started working on this store: what it ran
    /// with, so every later entry can be traced to a configuration, policy
    /// set and agent version.
    RunStarted {
        /// `triage`, `eval`, `execute`, `serve`, ...
        command: String,
        warden_version: String,
        /// SHA-256 of the effective configuration (as loaded, in canonical
        /// TOML), connectors' secrets excluded.
        config_sha256: String,
        policy_version: String,
        /// SHA-256 over the playbooks in force.
        playbooks_sha256: String,
        assessor: String,
        model: String,
    },
    /// A context tool was called during enrichment.
    ToolCalled {
        case_id: CaseId,
        tool: String,
        /// The arguments, as validated against the tool's schema.
        parameters: serde_json::Value,
        /// `2 findings`, `failed`, ...
        outcome: String,
    },
    /// A local account was created (a configuration change).
    UserAdded {
        name: String,
        roles: Vec<String>,
        by: String,
    },
    /// An alert was parsed and stored.
    AlertIngested {
        alert_id: AlertId,
        format: SourceFormat,
        origin: String,
        rule: String,
        raw_sha256: String,
    },
    /// A payload could not be ingested and went to the dead-letter store.
    IngestRejected {
        origin: String,
        reason: String,
        raw_sha256: String,
    },
    /// Correlation opened a case over these alerts.
    CaseOpened {
        case_id: CaseId,
        alert_ids: Vec<AlertId>,
        alert_count: u64,
        grouping_reasons: Vec<String>,
    },
    /// Enrichment gathered evidence (and recorded what it could not get).
    EvidenceCollected {
        case_id: CaseId,
        evidence: Vec<EvidenceId>,
        sources: Vec<String>,
        gaps: Vec<EvidenceGap>,
    },
    /// An assessor produced an assessment.
    Assessed {
        case_id: CaseId,
        assessor: String,
        /// The model (or rule engine) and its version behind the assessor.
        #[serde(default)]
        model: String,
        verdict: Verdict,
        severity: Severity,
        confidence: f64,
        risk_score: f64,
        proposals: Vec<ProposalRecord>,
    },
    /// The policy engine decided one proposal.
    PolicyDecided {
        case_id: CaseId,
        proposal: ProposalRecord,
        outcome: DecisionOutcome,
        policy_ids: Vec<String>,
        policy_version: String,
        reasons: Vec<String>,
    },
    /// The policy engine decided whether a case may close without a
    /// person (`case.auto_close`), before the case changed state.
    AutoCloseDecided {
        case_id: CaseId,
        allowed: bool,
        /// The permits that allowed it, or the forbids that refused it.
        policy_ids: Vec<String>,
        policy_version: String,
        reasons: Vec<String>,
        /// The request's context as the policies saw it (assessors'
        /// verdicts and confidences, injection, gaps, evidence counts,
        /// trigger codes, use case and autonomy).
        context: serde_json::Value,
    },
    /// Deterministic escalation triggers fired.
    Escalated {
        case_id: CaseId,
        reasons: Vec<String>,
    },
    /// The approval stage ruled on an allowed or approval-bound proposal:
    /// released for execution, or queued for people.
    ApprovalEvaluated {
        case_id: CaseId,
        proposal_hash: ProposalHash,
        /// `not_required` (policy allows without approval), `requested`.
        outcome: String,
        approvals_required: u32,
        roles: Vec<String>,
    },
    /// A person (or, in `warden eval --approve-all`, the simulated approver)
    /// approved or rejected one exact proposal.
    ApprovalRecorded {
        case_id: CaseId,
        proposal_hash: ProposalHash,
        approver: String,
        role: String,
        approved: bool,
        /// A rejection's structured reason (`code: note`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A person changed a proposal: the change is a new proposal (with its
    /// own decision and approvals); the old request is superseded.
    ProposalModified {
        case_id: CaseId,
        from: ProposalHash,
        to: ProposalRecord,
        by: String,
    },
    /// An approval request left the queue without running: rejected,
    /// expired or superseded.
    RequestClosed {
        case_id: CaseId,
        proposal_hash: ProposalHash,
        status: RequestStatus,
        reason: String,
    },
    /// An assessor asked for a context tool call that was not allowed
    /// (outside the playbook, or arguments that are not the case's own
    /// entities).
    ToolRequestRejected {
        case_id: CaseId,
        assessor: String,
        tool: String,
        reason: String,
    },
    /// A model was called while assessing a case (the prompt as sent and
    /// the output as received), before its answer was used.
    ModelCalled {
        case_id: CaseId,
        exchange: ModelExchange,
    },
    /// An analyst gave their own verdict on a triaged case.
    CaseReviewed {
        case_id: CaseId,
        use_case: String,
        analyst: String,
        agent_verdict: Verdict,
        analyst_verdict: Verdict,
        overridden: bool,
        /// Why the analyst's verdict differs from the agent's, when it
        /// does (the agent's verdict it overrides is `agent_verdict`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        override_reason: Option<crate::approval::OverrideReason>,
        /// The analyst's words with the reason.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        override_text: Option<String>,
    },
    /// A person wrote a note on a case (closing notes included).
    CaseNoteAdded {
        case_id: CaseId,
        author: String,
        text: String,
    },
    /// Someone read a case's alerts as they came, unredacted (S6): the
    /// API serves them redacted unless a role that may asks.
    RawPayloadRead { case_id: CaseId, by: String },
    /// A use case's autonomy changed (by a person, or stepped down by the
    /// trust ladder).
    AutonomyChanged {
        use_case: String,
        from: Autonomy,
        to: Autonomy,
        by: String,
        reason: String,
    },
    /// An API token was created or revoked (its secret is never recorded).
    ApiTokenChanged {
        name: String,
        scopes: Vec<String>,
        /// `created` or `revoked`.
        change: String,
        by: String,
    },
    /// The kill switch was pulled or released (`*` is global).
    KillSwitchChanged {
        scope: String,
        paused: bool,
        by: String,
        reason: String,
    },
    /// The executor claimed an order's idempotency key and is about to
    /// hand it to a connector: recorded before the external effect (S5).
    ActionStarted {
        case_id: CaseId,
        proposal_hash: ProposalHash,
        idempotency_key: String,
        action: ActionName,
        target: Target,
        connector: String,
    },
    /// The executor ran, or refused, an action.
    ActionExecuted {
        case_id: CaseId,
        proposal_hash: ProposalHash,
        idempotency_key: String,
        action: ActionName,
        target: Target,
        connector: String,
        status: ExecutionStatus,
        detail: String,
    },
    /// The case moved in its state machine.
    CaseStateChanged {
        case_id: CaseId,
        from: CaseState,
        to: CaseState,
    },
    /// Triage finished for the case.
    TriageCompleted {
        case_id: CaseId,
        verdict: Verdict,
        severity: Severity,
        disposition: Disposition,
    },
}

impl AuditEvent {
    /// The record of a policy decision about one proposal of `case_id`.
    pub fn policy_decided(case_id: CaseId, decision: &Decision) -> Self {
        AuditEvent::PolicyDecided {
            case_id,
            proposal: ProposalRecord {
                proposal_hash: decision.proposal_hash.clone(),
                action: decision.action,
                target: decision.target.clone(),
            },
            outcome: decision.outcome.clone(),
            policy_ids: decision.policy_ids.clone(),
            policy_version: decision.policy_version.clone(),
            reasons: decision.reasons.clone(),
        }
    }

    /// The stage that emits this event.
    pub fn stage(&self) -> Stage {
        match self {
            AuditEvent::AlertIngested { .. } | AuditEvent::IngestRejected { .. } => Stage::Ingest,
            AuditEvent::ToolCalled { .. } => Stage::Enrich,
            AuditEvent::RunStarted { .. } | AuditEvent::UserAdded { .. } => Stage::Control,
            AuditEvent::CaseOpened { .. } => Stage::Correlate,
            AuditEvent::EvidenceCollected { .. } => Stage::Enrich,
            AuditEvent::Assessed { .. } | AuditEvent::ModelCalled { .. } => Stage::Assess,
            AuditEvent::PolicyDecided { .. }
            | AuditEvent::AutoCloseDecided { .. }
            | AuditEvent::Escalated { .. } => Stage::Decide,
            AuditEvent::ToolRequestRejected { .. } => Stage::Enrich,
            AuditEvent::ApprovalEvaluated { .. }
            | AuditEvent::ApprovalRecorded { .. }
            | AuditEvent::ProposalModified { .. }
            | AuditEvent::RequestClosed { .. } => Stage::Approve,
            AuditEvent::ActionStarted { .. } | AuditEvent::ActionExecuted { .. } => Stage::Execute,
            AuditEvent::CaseStateChanged { .. }
            | AuditEvent::TriageCompleted { .. }
            | AuditEvent::CaseReviewed { .. }
            | AuditEvent::CaseNoteAdded { .. }
            | AuditEvent::RawPayloadRead { .. } => Stage::Case,
            AuditEvent::AutonomyChanged { .. }
            | AuditEvent::KillSwitchChanged { .. }
            | AuditEvent::ApiTokenChanged { .. } => Stage::Control,
        }
    }

    /// The case it concerns, if any (ingest happens before there is one).
    pub fn case_id(&self) -> Option<CaseId> {
        match self {
            AuditEvent::AlertIngested { .. }
            | AuditEvent::IngestRejected { .. }
            | AuditEvent::RunStarted { .. }
            | AuditEvent::UserAdded { .. }
            | AuditEvent::AutonomyChanged { .. }
            | AuditEvent::KillSwitchChanged { .. }
            | AuditEvent::ApiTokenChanged { .. } => None,
            AuditEvent::ProposalModified { case_id, .. }
            | AuditEvent::ToolCalled { case_id, .. }
            | AuditEvent::RequestClosed { case_id, .. }
            | AuditEvent::ToolRequestRejected { case_id, .. }
            | AuditEvent::CaseReviewed { case_id, .. }
            | AuditEvent::CaseNoteAdded { case_id, .. }
            | AuditEvent::RawPayloadRead { case_id, .. }
            | AuditEvent::CaseOpened { case_id, .. }
            | AuditEvent::EvidenceCollected { case_id, .. }
            | AuditEvent::Assessed { case_id, .. }
            | AuditEvent::ModelCalled { case_id, .. }
            | AuditEvent::PolicyDecided { case_id, .. }
            | AuditEvent::AutoCloseDecided { case_id, .. }
            | AuditEvent::Escalated { case_id, .. }
            | AuditEvent::ApprovalEvaluated { case_id, .. }
            | AuditEvent::ApprovalRecorded { case_id, .. }
            | AuditEvent::ActionStarted { case_id, .. }
            | AuditEvent::ActionExecuted { case_id, .. }
            | AuditEvent::CaseStateChanged { case_id, .. }
            | AuditEvent::TriageCompleted { case_id, .. } => Some(*case_id),
        }
    }

    /// The alert it concerns, if it is an ingest event.
    pub fn alert_id(&self) -> Option<AlertId> {
        match self {
            AuditEvent::AlertIngested { alert_id, .. } => Some(*alert_id),
            _ => None,
        }
    }

    /// The event's `type` tag.
    pub fn kind(&self) -> &'static str {
        match self {
            AuditEvent::RunStarted { .. } => "run_started",
            AuditEvent::ToolCalled { .. } => "tool_called",
            AuditEvent::UserAdded { .. } => "user_added",
            AuditEvent::AlertIngested { .. } => "alert_ingested",
            AuditEvent::IngestRejected { .. } => "ingest_rejected",
            AuditEvent::CaseOpened { .. } => "case_opened",
            AuditEvent::EvidenceCollected { .. } => "evidence_collected",
            AuditEvent::Assessed { .. } => "assessed",
            AuditEvent::ModelCalled { .. } => "model_called",
            AuditEvent::PolicyDecided { .. } => "policy_decided",
            AuditEvent::AutoCloseDecided { .. } => "auto_close_decided",
            AuditEvent::Escalated { .. } => "escalated",
            AuditEvent::ApprovalEvaluated { .. } => "approval_evaluated",
            AuditEvent::ApprovalRecorded { .. } => "approval_recorded",
            AuditEvent::ActionStarted { .. } => "action_started",
            AuditEvent::ActionExecuted { .. } => "action_executed",
            AuditEvent::CaseStateChanged { .. } => "case_state_changed",
            AuditEvent::TriageCompleted { .. } => "triage_completed",
            AuditEvent::ProposalModified { .. } => "proposal_modified",
            AuditEvent::RequestClosed { .. } => "request_closed",
            AuditEvent::ToolRequestRejected { .. } => "tool_request_rejected",
            AuditEvent::CaseReviewed { .. } => "case_reviewed",
            AuditEvent::CaseNoteAdded { .. } => "case_note_added",
            AuditEvent::RawPayloadRead { .. } => "raw_payload_read",
            AuditEvent::AutonomyChanged { .. } => "autonomy_changed",
            AuditEvent::KillSwitchChanged { .. } => "kill_switch_changed",
            AuditEvent::ApiTokenChanged { .. } => "api_token_changed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_matches_the_serialised_tag() {
        let event = AuditEvent::Escalated {
            case_id: CaseId::new(),
            reasons: vec!["low confidence".into()],
        };
        let json = serde_json::to_value(&event).unwrap_or_default();
        assert_eq!(json["type"], event.kind());
        assert_eq!(event.stage(), Stage::Decide);
    }
}
