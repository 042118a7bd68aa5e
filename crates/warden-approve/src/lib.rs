//! The approve stage: turns a decided proposal into an order the executor
//! accepts, or says what it still waits for.
//!
//! # Layout
//!
//! - [`release`]: the only way to make an [`Executable`]. It checks that the
//!   decision is for exactly this proposal (S3), that policy allowed it, and
//!   that every approval the policy requires is recorded by distinct,
//!   authorised people, none of them the requester, none expired (S1).
//! - [`tally`]: counts valid approvals, for the policy context and for the
//!   executor's re-check.
//! - [`card`]: the approval card people decide on.
//!
//! The typestate is the point: `Executable` has private fields and no public
//! constructor, so the executor's signature (`&Executable`) proves that
//! these checks ran.

pub mod card;

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;
use warden_domain::{ActionProposal, Approval, Decision, DecisionOutcome, ProposalHash};

pub use card::{build_card, reverse_of};

/// A proposal cleared for execution.
#[derive(Debug, Clone, PartialEq)]
pub struct Executable {
    proposal: ActionProposal,
    decision: Decision,
    approvals: Vec<Approval>,
    requester: String,
}

impl Executable {
    pub fn proposal(&self) -> &ActionProposal {
        &self.proposal
    }

    pub fn decision(&self) -> &Decision {
        &self.decision
    }

    /// The approvals that counted.
    pub fn approvals(&self) -> &[Approval] {
        &self.approvals
    }

    pub fn requester(&self) -> &str {
        &self.requester
    }

    /// Run the release checks again at `now` (the executor does, at
    /// execution time: an approval may have expired since).
    pub fn recheck(&self, now: OffsetDateTime) -> Result<(), Withheld> {
        release(
            self.proposal.clone(),
            self.decision.clone(),
            &self.approvals,
            &self.requester,
            now,
        )
        .map(|_| ())
    }
}

/// Why a proposal is not (yet) executable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Withheld {
    #[error("the decision is for proposal {decided}, not {proposal}")]
    Mismatch {
        decided: ProposalHash,
        proposal: ProposalHash,
    },
    #[error("denied by policy: {0}")]
    Denied(String),
    #[error("waiting for {needed} approval(s) from {roles:?}; {valid} valid so far")]
    AwaitingApproval {
        needed: u32,
        valid: u32,
        roles: Vec<String>,
    },
}

/// Valid approvals of `hash`: approved, bound to this hash, not expired at
/// `now`, not by the requester, by a holder of one of `roles` (any role when
/// empty). One per person: the same person twice counts once.
pub fn tally(
    hash: &ProposalHash,
    approvals: &[Approval],
    requester: &str,
    roles: &[String],
    now: OffsetDateTime,
) -> (u32, BTreeSet<String>) {
    let mut by_person: BTreeMap<&str, &str> = BTreeMap::new();
    for approval in approvals {
        let valid = approval.approved
            && &approval.proposal_hash == hash
            && approval.expires_at > now
            && approval.decided_at <= now
            && !approval.approver.eq_ignore_ascii_case(requester)
            && (roles.is_empty() || roles.contains(&approval.role));
        if valid {
            by_person
                .entry(approval.approver.as_str())
                .or_insert(approval.role.as_str());
        }
    }
    let count = u32::try_from(by_person.len()).unwrap_or(u32::MAX);
    let roles = by_person.values().map(|r| (*r).to_owned()).collect();
    (count, roles)
}

/// Clear `proposal` for execution under `decision`, or say why not.
pub fn release(
    proposal: ActionProposal,
    decision: Decision,
    approvals: &[Approval],
    requester: &str,
    now: OffsetDateTime,
) -> Result<Executable, Withheld> {
    let hash = proposal.hash();
    // INVARIANT (S3): the decision and approvals bind this exact proposal.
    if decision.proposal_hash != hash
        || decision.action != proposal.action
        || decision.target != proposal.target
    {
        return Err(Withheld::Mismatch {
            decided: decision.proposal_hash,
            proposal: hash,
        });
    }
    let counted = match &decision.outcome {
        DecisionOutcome::Deny => return Err(Withheld::Denied(decision.reasons.join("; "))),
        DecisionOutcome::Allow => Vec::new(),
        DecisionOutcome::NeedsApproval {
            approvals: needed,
            roles,
        } => {
            let (valid, _) = tally(&hash, approvals, requester, roles, now);
            if valid < *needed {
                return Err(Withheld::AwaitingApproval {
                    needed: *needed,
                    valid,
                    roles: roles.clone(),
                });
            }
            approvals
                .iter()
                .filter(|a| a.proposal_hash == hash && a.approved)
                .cloned()
                .collect()
        }
    };
    Ok(Executable {
        proposal,
        decision,
        approvals: counted,
        requester: requester.to_owned(),
    })
}

#[cfg(test)]
mod tests;
