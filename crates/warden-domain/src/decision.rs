//! The policy layer's answer for one proposal.

use serde::{Deserialize, Serialize};

use crate::action::{ActionName, ProposalHash, Target};

/// Allow, ask people, or refuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DecisionOutcome {
    Allow,
    /// Runs only once `approvals` distinct people holding one of `roles`
    /// (none of them the requester) have approved.
    NeedsApproval {
        approvals: u32,
        roles: Vec<String>,
    },
    Deny,
}

impl DecisionOutcome {
    /// `allow`, `needs_approval`, `deny`.
    pub fn as_str(&self) -> &'static str {
        match self {
            DecisionOutcome::Allow => "allow",
            DecisionOutcome::NeedsApproval { .. } => "needs_approval",
            DecisionOutcome::Deny => "deny",
        }
    }
}

/// A policy decision about one exact proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub proposal_hash: ProposalHash,
    pub action: ActionName,
    pub target: Target,
    pub outcome: DecisionOutcome,
    /// Ids of the policies that decided; empty when nothing permitted the
    /// request (default deny).
    pub policy_ids: Vec<String>,
    /// Why, in words (errors that forced a deny are listed here).
    pub reasons: Vec<String>,
    /// Hash of the policy set that decided.
    pub policy_version: String,
}

/// The policy layer's answer to `case.auto_close`: may this case close
/// without a person? Asked only of a case no escalation trigger sent to
/// people; anything but a permit with no forbid, no evaluation error and no
/// approval requirement is a no (the case escalates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoCloseDecision {
    /// Whether the policy let the case close without a person.
    pub allowed: bool,
    /// Ids of the policies that decided: the permits that allowed it, or
    /// the forbids that refused it; empty when nothing permitted it
    /// (default deny) or it could not be evaluated.
    pub policy_ids: Vec<String>,
    /// Why, in words (errors that forced a no are listed here).
    pub reasons: Vec<String>,
    /// Hash of the policy set that decided.
    pub policy_version: String,
}
