//! Approval requests, the card people decide on, and their answers.
//!
//! INVARIANT (S3): everything here is bound to one exact proposal by its
//! hash. A request never changes its proposal: a modification is a new
//! proposal with a new hash, and the old request is superseded.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::action::{ActionProposal, ProposalHash};
use crate::decision::Decision;
use crate::severity::Severity;
use crate::verdict::Verdict;

/// One person's approval or rejection of one exact proposal (S3: bound by the
/// proposal hash; any change to the proposal voids it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub proposal_hash: ProposalHash,
    pub approver: String,
    /// The role the approver acted in.
    pub role: String,
    pub approved: bool,
    /// Required for a rejection: `code: note` with a [`RejectionReason`] code.
    pub reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub decided_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Why a person rejected a proposal: a fixed list, so that rejections can be
/// counted and fed back to the use case's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionReason {
    /// The detection misfired; nothing needs doing.
    FalsePositive,
    /// Right idea, but the side effects are worse than the threat.
    TooDisruptive,
    /// The evidence does not support the action.
    InsufficientEvidence,
    /// The action would hit the wrong host, account or indicator.
    WrongTarget,
    /// Policy or process forbids it here (change window, legal hold...).
    NotPermitted,
    /// Anything else; the note says what.
    Other,
}

impl RejectionReason {
    pub const ALL: [RejectionReason; 6] = [
        RejectionReason::FalsePositive,
        RejectionReason::TooDisruptive,
        RejectionReason::InsufficientEvidence,
        RejectionReason::WrongTarget,
        RejectionReason::NotPermitted,
        RejectionReason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectionReason::FalsePositive => "false_positive",
            RejectionReason::TooDisruptive => "too_disruptive",
            RejectionReason::InsufficientEvidence => "insufficient_evidence",
            RejectionReason::WrongTarget => "wrong_target",
            RejectionReason::NotPermitted => "not_permitted",
            RejectionReason::Other => "other",
        }
    }
}

impl fmt::Display for RejectionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RejectionReason {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|r| r.as_str()).collect();
                format!("rejection reason {s:?} is not one of {}", known.join(", "))
            })
    }
}

/// Why a person's verdict on a case differs from the agent's: a fixed
/// list, so that overrides can be counted per detection and per use case
/// and tell which part of triage was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverrideReason {
    /// The agent looked at the wrong host, account or indicator.
    WrongEntity,
    /// The activity is real and known to be allowed (a backup job, an
    /// administrator's routine, a sanctioned test).
    KnownBenignActivity,
    /// Context the agent did not have decides it (asset, identity, change).
    MissingContext,
    /// The detection itself misfired.
    BadDetection,
    /// The evidence does not support the agent's verdict.
    InsufficientEvidence,
    /// Anything else; the words given with it say what.
    Other,
}

impl OverrideReason {
    pub const ALL: [OverrideReason; 6] = [
        OverrideReason::WrongEntity,
        OverrideReason::KnownBenignActivity,
        OverrideReason::MissingContext,
        OverrideReason::BadDetection,
        OverrideReason::InsufficientEvidence,
        OverrideReason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OverrideReason::WrongEntity => "wrong_entity",
            OverrideReason::KnownBenignActivity => "known_benign_activity",
            OverrideReason::MissingContext => "missing_context",
            OverrideReason::BadDetection => "bad_detection",
            OverrideReason::InsufficientEvidence => "insufficient_evidence",
            OverrideReason::Other => "other",
        }
    }
}

impl fmt::Display for OverrideReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OverrideReason {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|r| r.as_str()).collect();
                format!("override reason {s:?} is not one of {}", known.join(", "))
            })
    }
}

/// Where an approval request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Waiting for people.
    Pending,
    /// Every required approval is in (or none was needed): the executor
    /// may take it, after its own checks.
    Ready,
    /// Someone rejected it.
    Rejected,
    /// Nobody decided in time.
    Expired,
    /// A person modified it; the modified proposal is a new request.
    Superseded,
    /// The executor ran it (see the execution for how it ended).
    Executed,
    /// The executor's own checks refused it at execution time.
    Refused,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 7] = [
        RequestStatus::Pending,
        RequestStatus::Ready,
        RequestStatus::Rejected,
        RequestStatus::Expired,
        RequestStatus::Superseded,
        RequestStatus::Executed,
        RequestStatus::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Ready => "ready",
            RequestStatus::Rejected => "rejected",
            RequestStatus::Expired => "expired",
            RequestStatus::Superseded => "superseded",
            RequestStatus::Executed => "executed",
            RequestStatus::Refused => "refused",
        }
    }

    /// Whether people can still answer it.
    pub fn is_open(self) -> bool {
        matches!(self, RequestStatus::Pending)
    }
}

impl fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RequestStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown request status {s:?}"))
    }
}

/// One piece of evidence as the card shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardEvidence {
    pub id: String,
    pub source: String,
    /// Redacted, one line. Rendered as text, never as markup.
    pub summary: String,
    /// `fresh`, `stale (...)`, or `unknown`.
    pub freshness: String,
}

/// What a person sees before deciding: the proposal, the evidence behind
/// it, how sure the assessor was, exactly what will change, and how to undo
/// it. Built by deterministic code from structured fields; free text in it
/// (evidence summaries) is redacted and shown as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalCard {
    /// `edr.isolate_host on host:ws-fin-042`.
    pub title: String,
    pub use_case: String,
    pub verdict: Verdict,
    pub severity: Severity,
    pub confidence: f64,
    /// The assessor's reasons, one line each, with the evidence ids cited.
    pub rationale: Vec<String>,
    pub evidence: Vec<CardEvidence>,
    /// Exactly what the action changes, and on which system.
    pub side_effects: String,
    /// The parameters, as they will be sent.
    pub parameters: Vec<(String, String)>,
    /// The reverse action, or why there is none.
    pub rollback: String,
    pub approvals_required: u32,
    pub roles: Vec<String>,
    /// The ids of the policies that asked for approval.
    pub policy_ids: Vec<String>,
}

/// A proposal waiting for (or past) people's decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    pub proposal: ActionProposal,
    pub proposal_hash: ProposalHash,
    /// The policy decision that asked for approval.
    pub decision: Decision,
    pub use_case: String,
    /// Who asked: `agent:<use case>`, or the person who modified a proposal.
    pub requester: String,
    pub card: ApprovalCard,
    pub status: RequestStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// After this, approvals no longer count and the request expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// The request this one replaces (a modification), if any.
    pub supersedes: Option<ProposalHash>,
}

/// An analyst's own verdict on a case the agent triaged: the trust ladder
/// counts how often analysts disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub case_id: crate::ids::CaseId,
    pub use_case: String,
    pub analyst: String,
    pub agent_verdict: Verdict,
    pub analyst_verdict: Verdict,
    #[serde(with = "time::serde::rfc3339")]
    pub reviewed_at: OffsetDateTime,
    /// Why the analyst's verdict differs from the agent's (asked whenever
    /// they differ; absent when they agree, and on reviews recorded before
    /// the reason was asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_reason: Option<OverrideReason>,
    /// The analyst's words with the reason (required with `other`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_text: Option<String>,
}

impl Review {
    /// The analyst overrode the agent: threat against no threat, either way
    /// (malicious and suspicious count as the same side, as do benign and
    /// false positive; `unknown` from the agent is always overridden by a
    /// definite answer).
    pub fn is_override(&self) -> bool {
        self.agent_verdict.side() != self.analyst_verdict.side()
    }
}
