//! The control plane people use: answering approval requests, the kill
//! switch, run-time autonomy and the trust ladder's automatic step-down.
//!
//! Every change is appended to the audit log before it is stored (S5), and
//! every rule that matters for S1 and S3 is also held by the store (one
//! answer per person, compare-and-set on request status) and checked again
//! by the executor, so a bug here cannot open a way around them.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use warden_approve::{Requesters, tally};
use warden_audit::{AuditError, AuditLog};
use warden_domain::audit::ProposalRecord;
use warden_domain::{
    Approval, ApprovalRequest, AuditEvent, Autonomy, CaseId, CaseState, Clock, DecisionOutcome,
    OverrideReason, ProposalHash, RejectionReason, RequestStatus, Review, UseCase, Verdict,
};
use warden_store::{CaseNote, GLOBAL_SCOPE, Person, Store, StoreError};

/// Roles that may approve an action when a policy names none.
pub const APPROVER_ROLES: &[&str] = &["analyst", "soc_lead", "incident_commander"];
/// Every role there is (see `docs/operations.md`).
pub const ROLES: &[&str] = &[
    "viewer",
    "analyst",
    "soc_lead",
    "incident_commander",
    "admin",
];

/// `[approvals]` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApprovalConfig {
    /// How long a request waits for people before it expires, in minutes.
    pub request_ttl_minutes: u32,
    /// How long one approval stays valid (until the action runs), in minutes.
    pub approval_ttl_minutes: u32,
}

impl Default for ApprovalConfig {
    fn default() -> Self {
        Self {
            request_ttl_minutes: 24 * 60,
            approval_ttl_minutes: 4 * 60,
        }
    }
}

/// Why a control action was refused.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("audit log: {0}")]
    Audit(#[from] AuditError),
    #[error("no approval request for proposal {0}")]
    NoSuchRequest(ProposalHash),
    #[error("the request is {0}; only pending requests can be answered")]
    NotPending(RequestStatus),
    #[error("the request expired at {0}")]
    Expired(String),
    #[error("{person} does not hold the role {role}")]
    RoleNotHeld { person: String, role: String },
    #[error("the role {role} cannot approve this request (it needs one of: {wanted})")]
    RoleNotAccepted { role: String, wanted: String },
    #[error("{0} asked for this action and cannot approve it")]
    SelfApproval(String),
    #[error(
        "{0} pushed an alert of this case and cannot approve its actions (separation of duties: whoever sent the alert counts as a requester)"
    )]
    PushedAlert(String),
    #[error("{0} already answered this request")]
    AlreadyAnswered(String),
    #[error("a note saying why is needed")]
    EmptyNote,
    #[error(
        "the stored request for {0} no longer matches its proposal (changed outside Warden): nobody can answer it"
    )]
    Tampered(ProposalHash),
    #[error(
        "your verdict ({analyst}) differs from the agent's ({agent}): pick the reason it was wrong (wrong_entity, known_benign_activity, missing_context, bad_detection, insufficient_evidence or other)"
    )]
    OverrideReasonMissing { agent: Verdict, analyst: Verdict },
    #[error("the reason other needs a few words saying what was wrong")]
    OverrideTextMissing,
    #[error(transparent)]
    Transition(warden_domain::InvalidTransition),
    #[error("unknown use case {0}")]
    UnknownUseCase(String),
    #[error(transparent)]
    Account(#[from] crate::accounts::AccountError),
}

/// A person's reason for overriding the agent's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    pub reason: OverrideReason,
    /// The person's words (required with [`OverrideReason::Other`]);
    /// `None` when blank.
    pub text: Option<String>,
}

impl Feedback {
    /// A reason with its words, blank words counting as none.
    pub fn new(reason: OverrideReason, text: &str) -> Self {
        let text = text.trim();
        Self {
            reason,
            text: (!text.is_empty()).then(|| text.to_owned()),
        }
    }
}

/// What an approval achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalProgress {
    /// Valid approvals now, and how many are needed.
    pub valid: u32,
    pub needed: u32,
    /// The request is now an order for the executor.
    pub ready: bool,
}

/// The control plane over one store and audit log.
#[derive(Clone)]
pub struct Control {
    store: Arc<dyn Store>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    config: ApprovalConfig,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Control {
    pub fn new(
        store: Arc<dyn Store>,
        audit: Arc<dyn AuditLog>,
        clock: Arc<dyn Clock>,
        config: ApprovalConfig,
    ) -> Self {
        Self {
            store,
            audit,
            clock,
            config,
        }
    }

    /// Open a request for `request.proposal` (status `ready` when it needs
    /// no approval, else `pending`), on the record first.
    pub async fn open_request(
        &self,
        mut request: ApprovalRequest,
    ) -> Result<ApprovalRequest, ControlError> {
        let now = self.clock.now();
        request.created_at = now;
        request.expires_at =
            now + time::Duration::minutes(i64::from(self.config.request_ttl_minutes));
        request.status = if request.card.approvals_required == 0 {
            RequestStatus::Ready
        } else {
            RequestStatus::Pending
        };
        self.audit
            .append(
                &request.requester,
                AuditEvent::ApprovalEvaluated {
                    case_id: request.proposal.case_id,
                    proposal_hash: request.proposal_hash.clone(),
                    outcome: if request.status == RequestStatus::Ready {
                        "not_required".into()
                    } else {
                        "requested".into()
                    },
                    approvals_required: request.card.approvals_required,
                    roles: request.card.roles.clone(),
                },
            )
            .await?;
        if !self.store.save_approval_request(&request).await? {
            // Proposed again (the same case triaged twice): the first
            // request stands.
            if let Some(existing) = self.store.approval_request(&request.proposal_hash).await? {
                return Ok(existing);
            }
        }
        Ok(request)
    }

    /// `person` approves the proposal with `hash`, acting in `role` (or the
    /// first of their roles the request accepts).
    pub async fn approve(
        &self,
        hash: &ProposalHash,
        person: &Person,
        role: Option<&str>,
    ) -> Result<ApprovalProgress, ControlError> {
        let request = self.pending(hash).await?;
        let requesters = self.requesters(&request).await?;
        let role = self.acting_role(&request, &requesters, person, role)?;
        let now = self.clock.now();
        let approval = Approval {
            proposal_hash: hash.clone(),
            approver: person.name.clone(),
            role: role.clone(),
            approved: true,
            reason: None,
            decided_at: now,
            expires_at: (now
                + time::Duration::minutes(i64::from(self.config.approval_ttl_minutes)))
            .min(request.expires_at),
        };
        self.answer(&request, &approval).await?;

        let approvals = self.store.approvals_of(hash).await?;
        let (valid, _) = tally(hash, &approvals, &requesters, &request.card.roles, now);
        let needed = request.card.approvals_required;
        let ready = valid >= needed
            && self
                .store
                .set_request_status(hash, RequestStatus::Pending, RequestStatus::Ready, now)
                .await?;
        if ready {
            self.audit
                .append(
                    &format!("person:{}", person.name),
                    AuditEvent::ApprovalEvaluated {
                        case_id: request.proposal.case_id,
                        proposal_hash: hash.clone(),
                        outcome: "approved".into(),
                        approvals_required: needed,
                        roles: request.card.roles.clone(),
                    },
                )
                .await?;
        } else {
            // Rejected, expired or made ready by someone else meanwhile:
            // say so rather than report progress on a closed request.
            let status = self.current_status(hash).await?;
            if status != RequestStatus::Pending {
                return Err(ControlError::NotPending(status));
            }
        }
        Ok(ApprovalProgress {
            valid,
            needed,
            ready,
        })
    }

    /// `person` rejects the proposal, with a structured reason and a note.
    pub async fn reject(
        &self,
        hash: &ProposalHash,
        person: &Person,
        reason: RejectionReason,
        note: &str,
    ) -> Result<(), ControlError> {
        if note.trim().is_empty() {
            return Err(ControlError::EmptyNote);
        }
        let request = self.pending(hash).await?;
        let role = person
            .roles
            .iter()
            .find(|r| r.as_str() != "viewer")
            .cloned()
            .ok_or_else(|| ControlError::RoleNotHeld {
                person: person.name.clone(),
                role: "analyst".into(),
            })?;
        let now = self.clock.now();
        let reason_text = format!("{reason}: {}", note.trim());
        let approval = Approval {
            proposal_hash: hash.clone(),
            approver: person.name.clone(),
            role,
            approved: false,
            reason: Some(reason_text.clone()),
            decided_at: now,
            expires_at: request.expires_at,
        };
        self.not_answered_yet(hash, &person.name).await?;
        // On the record first (S5), then the request closes: a rejection
        // that reports success has stopped the order, even against an
        // approval racing it (which then finds the request no longer
        // pending); and once the rejection is on the record the executor
        // refuses the order whatever the store says.
        self.close(&request, RequestStatus::Rejected, &reason_text)
            .await?;
        self.answer(&request, &approval).await
    }

    /// `person` changes the proposal's parameters. The change is a new
    /// proposal, requested by `person` (who therefore cannot approve it),
    /// with the same approval requirement; the old request is superseded.
    /// The new proposal still goes through the executor's policy re-check.
    pub async fn modify(
        &self,
        hash: &ProposalHash,
        person: &Person,
        parameters: std::collections::BTreeMap<String, String>,
    ) -> Result<ApprovalRequest, ControlError> {
        let old = self.pending(hash).await?;
        // A modification must come from someone who could approve.
        let requesters = self.requesters(&old).await?;
        self.acting_role(&old, &requesters, person, None)?;
        let mut proposal = old.proposal.clone();
        proposal.parameters = parameters;
        proposal.proposed_by = format!("person:{}", person.name);
        let new_hash = proposal.hash();
        let mut decision = old.decision.clone();
        decision.proposal_hash = new_hash.clone();
        if matches!(decision.outcome, DecisionOutcome::Allow) {
            decision.outcome = DecisionOutcome::NeedsApproval {
                approvals: old.card.approvals_required.max(1),
                roles: old.card.roles.clone(),
            };
        }
        decision
            .reasons
            .push(format!("modified by {} from proposal {hash}", person.name));
        let mut card = old.card.clone();
        card.approvals_required = card.approvals_required.max(1);
        card.parameters = proposal
            .parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.audit
            .append(
                &format!("person:{}", person.name),
                AuditEvent::ProposalModified {
                    case_id: proposal.case_id,
                    from: hash.clone(),
                    to: ProposalRecord::of(&proposal),
                    by: person.name.clone(),
                },
            )
            .await?;
        // The executor requires the request's decision on the record.
        self.audit
            .append(
                &format!("person:{}", person.name),
                AuditEvent::policy_decided(proposal.case_id, &decision),
            )
            .await?;
        self.close(
            &old,
            RequestStatus::Superseded,
            &format!("modified into {new_hash}"),
        )
        .await?;
        let request = ApprovalRequest {
            proposal,
            proposal_hash: new_hash,
            decision,
            use_case: old.use_case.clone(),
            requester: person.name.clone(),
            card,
            status: RequestStatus::Pending,
            created_at: old.created_at,
            expires_at: old.expires_at,
            supersedes: Some(hash.clone()),
        };
        self.open_request(request).await
    }

    /// Expire pending requests past their time; returns how many.
    pub async fn expire_due(&self) -> Result<usize, ControlError> {
        let now = self.clock.now();
        let mut expired = 0;
        for request in self
            .store
            .approval_requests(Some(RequestStatus::Pending), None)
            .await?
        {
            if request.expires_at <= now {
                self.close(&request, RequestStatus::Expired, "nobody decided in time")
                    .await?;
                expired += 1;
            }
        }
        Ok(expired)
    }

    /// Create a local account, on the record before it exists (a
    /// configuration change). `by` is who asked (`local:cli`, a person).
    pub async fn add_person(
        &self,
        name: &str,
        roles: &[String],
        password: &str,
        by: &str,
    ) -> Result<Person, ControlError> {
        let person = crate::accounts::new_person(name, roles, password, self.clock.now())?;
        let exists = || crate::accounts::AccountError::Exists(person.name.clone());
        if self.store.person(&person.name).await?.is_some() {
            return Err(exists().into());
        }
        self.audit
            .append(
                by,
                AuditEvent::UserAdded {
                    name: person.name.clone(),
                    roles: person.roles.clone(),
                    by: by.to_owned(),
                },
            )
            .await?;
        if !self.store.add_person(&person).await? {
            return Err(exists().into());
        }
        Ok(person)
    }

    /// Pull the kill switch for `use_case` (all of them when `None`).
    pub async fn pause(
        &self,
        use_case: Option<&str>,
        by: &str,
        reason: &str,
    ) -> Result<(), ControlError> {
        let scope = use_case.unwrap_or(GLOBAL_SCOPE);
        self.audit
            .append(
                by,
                AuditEvent::KillSwitchChanged {
                    scope: scope.to_owned(),
                    paused: true,
                    by: by.to_owned(),
                    reason: reason.to_owned(),
                },
            )
            .await?;
        self.store
            .pause(scope, by, reason, self.clock.now())
            .await?;
        Ok(())
    }

    /// Release the kill switch for `use_case` (the global one when `None`).
    pub async fn resume(
        &self,
        use_case: Option<&str>,
        by: &str,
        reason: &str,
    ) -> Result<(), ControlError> {
        let scope = use_case.unwrap_or(GLOBAL_SCOPE);
        self.audit
            .append(
                by,
                AuditEvent::KillSwitchChanged {
                    scope: scope.to_owned(),
                    paused: false,
                    by: by.to_owned(),
                    reason: reason.to_owned(),
                },
            )
            .await?;
        self.store.resume(scope).await?;
        Ok(())
    }

    /// The autonomy in force for `use_case`: set at run time, or its
    /// playbook's.
    pub async fn autonomy(&self, use_case: &UseCase) -> Result<Autonomy, ControlError> {
        Ok(self
            .store
            .autonomy_override(&use_case.name)
            .await?
            .unwrap_or(use_case.autonomy))
    }

    /// Set `use_case`'s autonomy (a lead's decision, or the ladder's).
    pub async fn set_autonomy(
        &self,
        use_case: &UseCase,
        to: Autonomy,
        by: &str,
        reason: &str,
    ) -> Result<(), ControlError> {
        let from = self.autonomy(use_case).await?;
        self.audit
            .append(
                by,
                AuditEvent::AutonomyChanged {
                    use_case: use_case.name.clone(),
                    from,
                    to,
                    by: by.to_owned(),
                    reason: reason.to_owned(),
                },
            )
            .await?;
        self.store
            .set_autonomy(&use_case.name, to, by, reason, self.clock.now())
            .await?;
        Ok(())
    }

    /// An analyst's own verdict on a triaged case. When analysts have
    /// overridden the agent too often lately, the use case steps down one
    /// level; returns the new level when it did.
    pub async fn review(
        &self,
        case_id: CaseId,
        use_case: &UseCase,
        analyst: &Person,
        analyst_verdict: Verdict,
    ) -> Result<Option<Autonomy>, ControlError> {
        self.review_with(case_id, use_case, analyst, analyst_verdict, None)
            .await
    }

    /// [`Control::review`] with the analyst's reason for overriding the
    /// agent, stored with the review and on its audit record.
    async fn review_with(
        &self,
        case_id: CaseId,
        use_case: &UseCase,
        analyst: &Person,
        analyst_verdict: Verdict,
        feedback: Option<Feedback>,
    ) -> Result<Option<Autonomy>, ControlError> {
        let agent_verdict = self
            .store
            .case(case_id)
            .await?
            .and_then(|c| c.verdict)
            .unwrap_or(Verdict::Unknown);
        let (override_reason, override_text) = match feedback {
            Some(f) => (Some(f.reason), f.text),
            None => (None, None),
        };
        let review = Review {
            case_id,
            use_case: use_case.name.clone(),
            analyst: analyst.name.clone(),
            agent_verdict,
            analyst_verdict,
            reviewed_at: self.clock.now(),
            override_reason,
            override_text: override_text.clone(),
        };
        self.audit
            .append(
                &format!("person:{}", analyst.name),
                AuditEvent::CaseReviewed {
                    case_id,
                    use_case: use_case.name.clone(),
                    analyst: analyst.name.clone(),
                    agent_verdict,
                    analyst_verdict,
                    overridden: review.is_override(),
                    override_reason,
                    override_text,
                },
            )
            .await?;
        self.store.add_review(&review).await?;

        let ladder = use_case.trust;
        let recent = self.store.reviews(&use_case.name, ladder.window).await?;
        if recent.len() < ladder.min_reviews as usize || recent.is_empty() {
            return Ok(None);
        }
        let overrides = recent.iter().filter(|r| r.is_override()).count();
        let rate = overrides as f64 / recent.len() as f64;
        let current = self.autonomy(use_case).await?;
        if rate <= ladder.max_override_rate || current == Autonomy::Shadow {
            return Ok(None);
        }
        let lower = current.step_down();
        self.set_autonomy(
            use_case,
            lower,
            "system:trust-ladder",
            &format!(
                "analysts overrode {overrides} of the last {} reviewed cases ({:.0}% > {:.0}%)",
                recent.len(),
                rate * 100.0,
                ladder.max_override_rate * 100.0
            ),
        )
        .await?;
        Ok(Some(lower))
    }

    /// A person's note on a case, on the record first.
    pub async fn add_note(
        &self,
        case_id: CaseId,
        author: &Person,
        text: &str,
    ) -> Result<(), ControlError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ControlError::EmptyNote);
        }
        if self.store.case(case_id).await?.is_none() {
            return Err(ControlError::Store(StoreError::NoSuchCase(case_id)));
        }
        self.audit
            .append(
                &format!("person:{}", author.name),
                AuditEvent::CaseNoteAdded {
                    case_id,
                    author: author.name.clone(),
                    text: text.to_owned(),
                },
            )
            .await?;
        self.store
            .add_note(
                case_id,
                &CaseNote {
                    author: author.name.clone(),
                    text: text.to_owned(),
                    created_at: self.clock.now(),
                },
            )
            .await?;
        Ok(())
    }

    /// A person closes a case with their own verdict and a note saying why.
    /// The verdict is recorded as a review (the trust ladder counts it);
    /// when it differs from the agent's, `feedback` must say why (a reason
    /// from the fixed list; `other` with words), and is stored with the
    /// review and on the audit record. Returns the use case's new autonomy
    /// when the review stepped it down.
    pub async fn close_case(
        &self,
        case_id: CaseId,
        use_case: &UseCase,
        person: &Person,
        verdict: Verdict,
        note: &str,
        feedback: Option<Feedback>,
    ) -> Result<Option<Autonomy>, ControlError> {
        if note.trim().is_empty() {
            return Err(ControlError::EmptyNote);
        }
        let mut case = self
            .store
            .case(case_id)
            .await?
            .ok_or(ControlError::Store(StoreError::NoSuchCase(case_id)))?;
        let agent = case.verdict.unwrap_or(Verdict::Unknown);
        // A reason is asked for, and kept, only when the verdicts differ:
        // there is nothing to explain when the person agrees.
        let feedback = match feedback {
            _ if agent == verdict => None,
            None => {
                return Err(ControlError::OverrideReasonMissing {
                    agent,
                    analyst: verdict,
                });
            }
            Some(f) if f.reason == OverrideReason::Other && f.text.is_none() => {
                return Err(ControlError::OverrideTextMissing);
            }
            given => given,
        };
        let now = self.clock.now();
        let from = case
            .transition(CaseState::Closed, now)
            .map_err(ControlError::Transition)?;
        let overriding = match &feedback {
            Some(f) => format!(
                " (overrides the agent's {}: {}{})",
                agent.as_str(),
                f.reason.as_str(),
                f.text
                    .as_deref()
                    .map(|t| format!(", {t}"))
                    .unwrap_or_default()
            ),
            _ => String::new(),
        };
        let stepped = self
            .review_with(case_id, use_case, person, verdict, feedback)
            .await?;
        self.add_note(
            case_id,
            person,
            &format!(
                "closed as {}{overriding}: {}",
                verdict.as_str(),
                note.trim()
            ),
        )
        .await?;
        self.audit
            .append(
                &format!("person:{}", person.name),
                AuditEvent::CaseStateChanged {
                    case_id,
                    from,
                    to: CaseState::Closed,
                },
            )
            .await?;
        self.store.update_case(&case, from).await?;
        Ok(stepped)
    }

    async fn pending(&self, hash: &ProposalHash) -> Result<ApprovalRequest, ControlError> {
        let request = self
            .store
            .approval_request(hash)
            .await?
            .ok_or_else(|| ControlError::NoSuchRequest(hash.clone()))?;
        if request.status != RequestStatus::Pending {
            return Err(ControlError::NotPending(request.status));
        }
        // A person answers the proposal the card shows; a row whose
        // proposal no longer hashes to its key was changed under the
        // application's feet, and no answer to it means anything.
        if &request.proposal_hash != hash || &request.proposal.hash() != hash {
            return Err(ControlError::Tampered(hash.clone()));
        }
        if self.clock.now() >= request.expires_at {
            self.close(&request, RequestStatus::Expired, "nobody decided in time")
                .await?;
            return Err(ControlError::Expired(request.expires_at.to_string()));
        }
        Ok(request)
    }

    /// Who counts as asking for `request` (S1): its requester, and every
    /// principal (person or API token) whose push produced one of its
    /// case's alerts. None of them approves it; the executor counts again.
    pub async fn requesters(&self, request: &ApprovalRequest) -> Result<Requesters, ControlError> {
        let alerts = self.store.alerts_of_case(request.proposal.case_id).await?;
        Ok(Requesters::new(&request.requester).with_ingest_of(&alerts))
    }

    /// The role `person` acts in for `request`, checked: held by them,
    /// accepted by the request, and not one of its `requesters`.
    fn acting_role(
        &self,
        request: &ApprovalRequest,
        requesters: &Requesters,
        person: &Person,
        role: Option<&str>,
    ) -> Result<String, ControlError> {
        if person.name.eq_ignore_ascii_case(&request.requester) {
            return Err(ControlError::SelfApproval(person.name.clone()));
        }
        if requesters.contains(&person.name) {
            return Err(ControlError::PushedAlert(person.name.clone()));
        }
        let accepted: BTreeSet<&str> = if request.card.roles.is_empty() {
            APPROVER_ROLES.iter().copied().collect()
        } else {
            request.card.roles.iter().map(String::as_str).collect()
        };
        let wanted = || accepted.iter().copied().collect::<Vec<_>>().join(", ");
        match role {
            Some(role) => {
                if !person.roles.iter().any(|r| r == role) {
                    return Err(ControlError::RoleNotHeld {
                        person: person.name.clone(),
                        role: role.to_owned(),
                    });
                }
                if !accepted.contains(role) {
                    return Err(ControlError::RoleNotAccepted {
                        role: role.to_owned(),
                        wanted: wanted(),
                    });
                }
                Ok(role.to_owned())
            }
            None => person
                .roles
                .iter()
                .find(|r| accepted.contains(r.as_str()))
                .cloned()
                .ok_or_else(|| ControlError::RoleNotAccepted {
                    role: person.roles.join(", "),
                    wanted: wanted(),
                }),
        }
    }

    /// Record one answer: on the audit record first, then stored (the
    /// store's unique key keeps one answer per person even under a race).
    async fn answer(
        &self,
        request: &ApprovalRequest,
        approval: &Approval,
    ) -> Result<(), ControlError> {
        let hash = &request.proposal_hash;
        self.not_answered_yet(hash, &approval.approver).await?;
        self.audit
            .append(
                &format!("person:{}", approval.approver),
                AuditEvent::ApprovalRecorded {
                    case_id: request.proposal.case_id,
                    proposal_hash: hash.clone(),
                    approver: approval.approver.clone(),
                    role: approval.role.clone(),
                    approved: approval.approved,
                    reason: approval.reason.clone(),
                },
            )
            .await?;
        if !self.store.add_approval(approval).await? {
            return Err(ControlError::AlreadyAnswered(approval.approver.clone()));
        }
        Ok(())
    }

    /// One answer per person per proposal (names compare case-insensitively;
    /// the store's unique key holds it under a race too).
    async fn not_answered_yet(&self, hash: &ProposalHash, name: &str) -> Result<(), ControlError> {
        let answered = self
            .store
            .approvals_of(hash)
            .await?
            .iter()
            .any(|a| a.approver.eq_ignore_ascii_case(name));
        if answered {
            return Err(ControlError::AlreadyAnswered(name.to_owned()));
        }
        Ok(())
    }

    /// Close a pending request: its record first (S5), then the status
    /// change (compare-and-set, so a request that became ready or closed
    /// meanwhile is reported, not silently left as it was). A record whose
    /// change then lost such a race still takes authority away: the
    /// executor refuses an order whose closing is on the record.
    async fn close(
        &self,
        request: &ApprovalRequest,
        status: RequestStatus,
        reason: &str,
    ) -> Result<(), ControlError> {
        self.record_closed(request, status, reason).await?;
        self.transition(request, status).await
    }

    /// Pending -> `status`, or the status it has instead.
    async fn transition(
        &self,
        request: &ApprovalRequest,
        status: RequestStatus,
    ) -> Result<(), ControlError> {
        let hash = &request.proposal_hash;
        let moved = self
            .store
            .set_request_status(hash, RequestStatus::Pending, status, self.clock.now())
            .await?;
        if moved {
            return Ok(());
        }
        Err(ControlError::NotPending(self.current_status(hash).await?))
    }

    async fn current_status(&self, hash: &ProposalHash) -> Result<RequestStatus, ControlError> {
        Ok(self
            .store
            .approval_request(hash)
            .await?
            .map_or(RequestStatus::Refused, |r| r.status))
    }

    async fn record_closed(
        &self,
        request: &ApprovalRequest,
        status: RequestStatus,
        reason: &str,
    ) -> Result<(), ControlError> {
        self.audit
            .append(
                "system:approvals",
                AuditEvent::RequestClosed {
                    case_id: request.proposal.case_id,
                    proposal_hash: request.proposal_hash.clone(),
                    status,
                    reason: reason.to_owned(),
                },
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
