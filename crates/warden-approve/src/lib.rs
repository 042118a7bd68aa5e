//! The approve stage: turns a decided proposal into an order the executor
//! accepts, or says what it still waits for.
//!
//! # Layout
//!
//! - [`release`]: the only way to make an [`Executable`]. It checks that the
//!   decision is for exactly this proposal (S3), that policy allowed it, and
//!   that every approval the policy requires is recorded by distinct,
//!   authorised people, none of them a requester (the agent, a person who
//!   modified it, a principal whose push produced one of the case's
//!   alerts), none expired (S1).
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
use warden_domain::{ActionProposal, Alert, Approval, Decision, DecisionOutcome, ProposalHash};

pub use card::{build_card, reverse_of};

/// A proposal cleared for execution.
#[derive(Debug, Clone, PartialEq)]
pub struct Executable {
    proposal: ActionProposal,
    decision: Decision,
    approvals: Vec<Approval>,
    requesters: Requesters,
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

    /// Everyone counted as asking for it (none of them approves it).
    pub fn requesters(&self) -> &Requesters {
        &self.requesters
    }

    /// Run the release checks again at `now` (the executor does, at
    /// execution time: an approval may have expired since).
    pub fn recheck(&self, now: OffsetDateTime) -> Result<(), Withheld> {
        release(
            self.proposal.clone(),
            self.decision.clone(),
            &self.approvals,
            self.requesters.clone(),
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

/// Who counts as asking for a proposal, so that none of them approves it
/// (S1, separation of duties): the requester (`agent:<use case>`, or the
/// person who modified the proposal) and every principal whose push
/// produced one of the case's alerts. Names compare case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requesters(BTreeSet<String>);

impl Requesters {
    /// Just `requester`.
    pub fn new(requester: &str) -> Self {
        let mut requesters = Self::default();
        requesters.add(requester);
        requesters
    }

    /// Count `name` as a requester too.
    pub fn add(&mut self, name: &str) {
        self.0.insert(name.to_ascii_lowercase());
    }

    /// Count the principals that pushed `alerts` as requesters too (see
    /// [`ingest_principal`]).
    pub fn with_ingest_of<'a>(mut self, alerts: impl IntoIterator<Item = &'a Alert>) -> Self {
        for alert in alerts {
            if let Some(name) = ingest_principal(&alert.origin) {
                self.add(name);
            }
        }
        self
    }

    /// Whether `name` is one of them.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(&name.to_ascii_lowercase())
    }

    /// The names, lower case, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl From<&str> for Requesters {
    fn from(requester: &str) -> Self {
        Self::new(requester)
    }
}

impl From<&Requesters> for Requesters {
    fn from(requesters: &Requesters) -> Self {
        requesters.clone()
    }
}

impl From<&String> for Requesters {
    fn from(requester: &String) -> Self {
        Self::new(requester)
    }
}

/// The principal whose push produced an alert with this `origin`: the
/// server records an alert pushed over HTTP as `http:<name>`,
/// `http:<name>:<line>` (JSON lines) or `http:<name>[<index>]` (a JSON
/// array), where `<name>` is the signed-in person or the API token (neither
/// kind of name may hold `:` or `[`). `None` for alerts read from files.
pub fn ingest_principal(origin: &str) -> Option<&str> {
    let rest = origin.strip_prefix("http:")?;
    let name = rest.split([':', '[']).next().unwrap_or_default();
    (!name.is_empty()).then_some(name)
}

/// Valid approvals of `hash`: approved, bound to this hash, not expired at
/// `now`, not by one of the requesters, by a holder of one of `roles` (any
/// role when empty). One per person: the same person twice counts once.
pub fn tally(
    hash: &ProposalHash,
    approvals: &[Approval],
    requesters: impl Into<Requesters>,
    roles: &[String],
    now: OffsetDateTime,
) -> (u32, BTreeSet<String>) {
    let requesters = requesters.into();
    let mut by_person: BTreeMap<&str, &str> = BTreeMap::new();
    for approval in approvals {
        let valid = approval.approved
            && &approval.proposal_hash == hash
            && approval.expires_at > now
            && approval.decided_at <= now
            && !requesters.contains(&approval.approver)
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
    requesters: impl Into<Requesters>,
    now: OffsetDateTime,
) -> Result<Executable, Withheld> {
    let requesters = requesters.into();
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
            let (valid, _) = tally(&hash, approvals, requesters.clone(), roles, now);
            if valid < *needed {
                return Err(Withheld::AwaitingApproval {
                    needed: *needed,
                    valid,
                    roles: roles.clone(),
                });
            }
            approvals
                .iter()
                .filter(|a| {
                    a.proposal_hash == hash && a.approved && !requesters.contains(&a.approver)
                })
                .cloned()
                .collect()
        }
    };
    Ok(Executable {
        proposal,
        decision,
        approvals: counted,
        requesters,
    })
}

#[cfg(test)]
mod tests;
