//! The execute stage: a separate executor that performs cleared actions
//! through connectors, exactly once, and records what happened.
//!
//! # Layout
//!
//! - [`Executor`]: takes orders (approval requests in status `ready`) from
//!   the store and re-checks S1 itself at execution time: the use case's
//!   autonomy now, the kill switch, approvals verified and counted again,
//!   a fresh policy decision with them, the original decision and each
//!   approval on the audit record, and the `warden_approve::release`
//!   typestate. Then it claims the idempotency key in the store, so an
//!   action runs at most once even across retries and restarts, and
//!   [`Executor::recover`] finishes what a crash interrupted.
//! - [`facts`]: the policy facts, rebuilt from the stored case.
//! - [`connectors`]: one module per product; the [`Connector`] trait. The
//!   embedded default ships the case-note connector, which writes to
//!   Warden's own case record.

pub mod connectors;
pub mod facts;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;
use warden_approve::{Executable, Requesters, release, reverse_of, tally};
use warden_audit::AuditLog;
use warden_domain::{
    ActionName, ActionProposal, Alert, Approval, ApprovalRequest, AuditEvent, Autonomy, Clock,
    DecisionOutcome, Execution, ExecutionStatus, ProposalHash, RequestStatus, Target, UseCase,
};
use warden_policy::{ApprovalTally, PolicyEngine, TRUST_LADDER_ROLES};
use warden_store::{Claim, Store};

pub use facts::CaseView;

pub use connectors::ConnectorsConfig;
pub use connectors::case_note::CaseNoteConnector;
pub use connectors::sandbox::RecordingConnector;

/// What the executor hands a connector: the exact proposal and the key that
/// makes a repeat of the same order harmless (connectors pass it to products
/// that accept one, and must treat "already done" as success).
#[derive(Debug, Clone, Copy)]
pub struct ConnectorRequest<'a> {
    pub proposal: &'a ActionProposal,
    pub idempotency_key: &'a str,
    /// The executor's last check (the kill switch), asked through
    /// [`ConnectorRequest::go_ahead`] right before the call that has the
    /// side effect; `None` outside the executor (tests, previews).
    pub gate: Option<&'a dyn Gate>,
}

impl ConnectorRequest<'_> {
    /// Ask the executor whether the action may still take effect: call it
    /// after the read-only look-ups (which can take up to the time-out) and
    /// right before the call that changes something. An error (the kill
    /// switch was pulled meanwhile, or cannot be read) must stop the
    /// connector there.
    pub async fn go_ahead(&self) -> Result<(), ConnectorError> {
        match self.gate {
            Some(gate) => gate
                .check()
                .await
                .map_err(|reason| ConnectorError::new(ConnectorErrorKind::Rejected, reason)),
            None => Ok(()),
        }
    }
}

/// The executor's check right before a side effect (see
/// [`ConnectorRequest::go_ahead`]).
#[async_trait]
pub trait Gate: Send + Sync + std::fmt::Debug {
    /// `Err(reason)` when the action must not take effect now.
    async fn check(&self) -> Result<(), String>;
}

/// The kill switch, read again at the last moment (S1: no kill switch
/// covers the action when its side effect happens).
struct KillSwitchGate {
    store: Arc<dyn Store>,
    use_case: String,
    stopped: std::sync::Mutex<Option<String>>,
}

impl std::fmt::Debug for KillSwitchGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KillSwitchGate")
            .field("use_case", &self.use_case)
            .finish_non_exhaustive()
    }
}

impl KillSwitchGate {
    /// Why it stopped the action, if it did.
    fn stopped(&self) -> Option<String> {
        self.stopped.lock().ok().and_then(|s| s.clone())
    }
}

#[async_trait]
impl Gate for KillSwitchGate {
    async fn check(&self) -> Result<(), String> {
        let reason = match self.store.is_paused(&self.use_case).await {
            Ok(false) => return Ok(()),
            Ok(true) => format!(
                "execution is paused (kill switch) for {}: stopped before the side effect",
                self.use_case
            ),
            Err(err) => {
                format!("the kill switch cannot be read ({err}): stopped before the side effect")
            }
        };
        if let Ok(mut stopped) = self.stopped.lock() {
            *stopped = Some(reason.clone());
        }
        Err(reason)
    }
}

/// What a connector reports after acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorOutcome {
    pub detail: String,
    /// The product's own handle for what was done (a device id, a ticket
    /// key, a message timestamp), recorded with the execution so the
    /// reverse action can find it.
    pub handle: Option<String>,
}

pub use warden_http::{ConnectorError, ConnectorErrorKind};

/// Something that performs catalogue actions against a product.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Stable name, recorded with every execution.
    fn name(&self) -> &str;
    /// Whether it performs `action`.
    fn handles(&self, action: ActionName) -> bool;
    /// Perform exactly `request.proposal`, nothing wider.
    async fn perform(
        &self,
        request: &ConnectorRequest<'_>,
    ) -> Result<ConnectorOutcome, ConnectorError>;
}

/// Why the executor could not even record what it did (a refusal is not an
/// error: it is an execution with status `refused`).
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    #[error("store: {0}")]
    Store(#[from] warden_store::StoreError),
    #[error("audit log: {0}")]
    Audit(#[from] warden_audit::AuditError),
}

/// `[executor]` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecutorConfig {
    /// Longest a connector may take for one action, in milliseconds.
    pub timeout_ms: u64,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self { timeout_ms: 30_000 }
    }
}

/// The audit actor of the executor.
pub const EXECUTOR: &str = "system:executor";

/// How the executor derives a case's use case from its stored alerts (the
/// playbook selection the pipeline made), so that it never trusts the use
/// case stored with an order. `None`: no playbook takes these alerts.
pub type UseCaseOf = Arc<dyn Fn(&[Alert]) -> Option<String> + Send + Sync>;

/// The executor: a separate component that takes orders (approval requests
/// in status `ready`) from the store, checks S1 again itself, and performs
/// each through a connector at most once.
pub struct Executor {
    store: Arc<dyn Store>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    connectors: Vec<Arc<dyn Connector>>,
    policy: PolicyEngine,
    use_cases: BTreeMap<String, UseCase>,
    use_case_of: Option<UseCaseOf>,
    config: ExecutorConfig,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.connectors.iter().map(|c| c.name()).collect();
        f.debug_struct("Executor")
            .field("connectors", &names)
            .field("policy_version", &self.policy.version())
            .finish_non_exhaustive()
    }
}

/// Where an order stands after the executor looked at it.
enum Cleared {
    Go(Box<Executable>),
    Refuse(String),
}

impl Executor {
    /// An executor deciding with `policy` and the use cases' playbook
    /// settings (the autonomy in force is read from the store each time).
    pub fn new(
        store: Arc<dyn Store>,
        audit: Arc<dyn AuditLog>,
        clock: Arc<dyn Clock>,
        policy: PolicyEngine,
        use_cases: impl IntoIterator<Item = UseCase>,
    ) -> Self {
        Self {
            store,
            audit,
            clock,
            connectors: Vec::new(),
            policy,
            use_cases: use_cases.into_iter().map(|u| (u.name.clone(), u)).collect(),
            use_case_of: None,
            config: ExecutorConfig::default(),
        }
    }

    /// Derive each order's use case from its case's stored alerts with
    /// `use_case_of` (the pipeline passes its playbook selection); an order
    /// whose stored use case differs is refused. Without it, the stored use
    /// case must at least be one configured here.
    pub fn with_use_case_of(mut self, use_case_of: UseCaseOf) -> Self {
        self.use_case_of = Some(use_case_of);
        self
    }

    /// Add a connector; the first that handles an action performs it.
    pub fn with_connector(mut self, connector: Arc<dyn Connector>) -> Self {
        self.connectors.push(connector);
        self
    }

    pub fn with_config(mut self, config: ExecutorConfig) -> Self {
        self.config = config;
        self
    }

    /// Every order in status `ready`, oldest first. Call [`Executor::recover`]
    /// first after a restart.
    pub async fn run_ready(&self) -> Result<Vec<Execution>, ExecuteError> {
        let mut done = Vec::new();
        for request in self
            .store
            .approval_requests(Some(RequestStatus::Ready), None)
            .await?
        {
            done.push(self.execute(&request.proposal_hash).await?);
        }
        Ok(done)
    }

    /// Orders whose idempotency key was claimed but whose result was never
    /// recorded (the executor died in between): each is checked again and
    /// performed again with the same key, which the connectors make
    /// harmless, so the action takes effect exactly once.
    pub async fn recover(&self) -> Result<Vec<Execution>, ExecuteError> {
        let mut done = Vec::new();
        for unfinished in self.store.unfinished_executions().await? {
            let Some(request) = self
                .store
                .approval_request(&unfinished.proposal_hash)
                .await?
            else {
                continue;
            };
            let mut execution = match self.clear(&request).await? {
                Cleared::Refuse(reason) => self.refused(&request.proposal, reason),
                Cleared::Go(order) => {
                    tracing::warn!(
                        key = %unfinished.idempotency_key,
                        action = %request.proposal.action,
                        "resuming an execution interrupted before its result was recorded"
                    );
                    self.perform(&order, &unfinished.idempotency_key).await
                }
            };
            // The claim is open: close it, under its own key, with whatever
            // happened now (a tampered proposal no longer hashes to it).
            execution.idempotency_key = unfinished.idempotency_key.clone();
            self.store
                .finish_execution(request.proposal.case_id, &execution)
                .await?;
            self.settle(&request, &execution).await?;
            done.push(execution);
        }
        Ok(done)
    }

    /// Execute the order for `hash`: refused unless it is `ready` and every
    /// check passes now.
    pub async fn execute(&self, hash: &ProposalHash) -> Result<Execution, ExecuteError> {
        let Some(request) = self.store.approval_request(hash).await? else {
            let execution = Execution {
                proposal_hash: hash.clone(),
                idempotency_key: hash.to_string(),
                action: ActionName::CaseNote,
                target: Target::Entity {
                    kind: warden_domain::ObservableKind::Host,
                    value: "unknown".into(),
                },
                connector: "executor".into(),
                status: ExecutionStatus::Refused,
                detail: "no order exists for this proposal".into(),
                rollback: None,
                at: self.clock.now(),
            };
            return Ok(execution);
        };
        if request.status != RequestStatus::Ready {
            let execution = self.refused(
                &request.proposal,
                format!("the order is {}, not ready", request.status),
            );
            self.record(&request.proposal, &execution).await?;
            return Ok(execution);
        }
        let order = match self.clear(&request).await? {
            Cleared::Go(order) => order,
            Cleared::Refuse(reason) => {
                let execution = self.refused(&request.proposal, reason);
                self.record(&request.proposal, &execution).await?;
                self.settle(&request, &execution).await?;
                return Ok(execution);
            }
        };

        // INVARIANT (S3): at most once per proposal hash, across processes
        // and restarts: the claim is a unique row, committed before acting.
        let key = hash.to_string();
        let now = self.clock.now();
        if self
            .store
            .claim_execution(request.proposal.case_id, &key, hash, now)
            .await?
            == Claim::AlreadyClaimed
        {
            let execution = self.refused(
                &request.proposal,
                "already executed (idempotency key claimed)".into(),
            );
            self.record(&request.proposal, &execution).await?;
            return Ok(execution);
        }
        let execution = self.perform(&order, &key).await;
        self.store
            .finish_execution(request.proposal.case_id, &execution)
            .await?;
        self.settle(&request, &execution).await?;
        Ok(execution)
    }

    /// S1, checked here whatever the pipeline checked before: the use case
    /// may act at its current autonomy, no kill switch covers it, the policy
    /// still allows it with the approvals verified now, those approvals and
    /// the original decision are on the audit record.
    async fn clear(&self, request: &ApprovalRequest) -> Result<Cleared, ExecuteError> {
        let proposal = &request.proposal;
        let hash = &request.proposal_hash;
        let now = self.clock.now();
        if proposal.hash() != *hash {
            return Ok(Cleared::Refuse(
                "the stored proposal does not match its hash".into(),
            ));
        }
        // The case as it is now; its use case derived from its alerts
        // again, never taken from the order.
        let case_id = proposal.case_id;
        let alerts = self.store.alerts_of_case(case_id).await?;
        let derived = match &self.use_case_of {
            Some(use_case_of) => use_case_of(&alerts),
            None => Some(request.use_case.clone()),
        };
        let Some(derived) = derived else {
            return Ok(Cleared::Refuse(
                "no use case takes this case's alerts".into(),
            ));
        };
        if derived != request.use_case {
            return Ok(Cleared::Refuse(format!(
                "the order names use case {}, but the case's alerts belong to {derived}",
                request.use_case
            )));
        }
        let Some(playbook_use_case) = self.use_cases.get(&derived) else {
            return Ok(Cleared::Refuse(format!(
                "use case {derived} is not configured here"
            )));
        };
        let mut use_case = playbook_use_case.clone();
        if let Some(autonomy) = self.store.autonomy_override(&use_case.name).await? {
            use_case.autonomy = autonomy;
        }
        if use_case.autonomy < Autonomy::Assisted {
            return Ok(Cleared::Refuse(format!(
                "use case {} is at {} autonomy: nothing of it runs",
                use_case.name, use_case.autonomy
            )));
        }
        if self.store.is_paused(&use_case.name).await? {
            return Ok(Cleared::Refuse(format!(
                "execution is paused (kill switch) for {}",
                use_case.name
            )));
        }
        if now >= request.expires_at {
            return Ok(Cleared::Refuse("the order expired".into()));
        }

        // Stored second opinions first, the leading assessment last.
        let mut assessments = self.store.assessments_of_case(case_id).await?;
        let Some(assessment) = assessments.pop() else {
            return Ok(Cleared::Refuse("the case has no assessment".into()));
        };
        let evidence = self.store.evidence_of_case(case_id).await?;
        let gaps = self.store.gaps_of_case(case_id).await?;
        let view = CaseView {
            use_case: &use_case,
            assessment: &assessment,
            evidence: &evidence,
            gaps: &gaps,
            alerts: &alerts,
            second_opinions: &assessments,
        };

        let case_facts = view.case_facts();
        let target_facts = view.target_facts(&proposal.target, case_id);
        let records = self.audit.records(Some(case_id)).await?;

        // Who asked, recomputed (S1): the agent of the derived use case,
        // the requester stored with the order, whoever modified the
        // proposal (on the record), and every principal whose push
        // produced one of the case's alerts. None of them approves it.
        let mut requesters = Requesters::new(&request.requester);
        requesters.add(&format!("agent:{}", use_case.name));
        for record in &records {
            if let AuditEvent::ProposalModified { to, by, .. } = &record.entry.event
                && &to.proposal_hash == hash
            {
                requesters.add(by);
            }
        }
        let requesters = requesters.with_ingest_of(&alerts);

        // What approval the policy asks for now (how many, which roles),
        // decided again rather than read from the stored card.
        let required = self.policy.decide(
            &use_case.name,
            proposal,
            &case_facts,
            &target_facts,
            &ApprovalTally::default(),
        );
        // (A deny here may still turn into an allow with approvals, in a
        // policy that reads them: the decision with the tally settles it.)
        let (policy_needs, wanted_roles): (u32, Vec<String>) = match &required.outcome {
            DecisionOutcome::NeedsApproval { approvals, roles } => (*approvals, roles.clone()),
            DecisionOutcome::Deny | DecisionOutcome::Allow => (0, Vec::new()),
        };
        // A policy that names no roles leaves it to responders.
        let wanted_roles = if wanted_roles.is_empty() {
            TRUST_LADDER_ROLES.iter().map(|r| (*r).to_owned()).collect()
        } else {
            wanted_roles
        };

        // Approvals verified and counted here, for the roles the policy
        // asks for now.
        let approvals = self.store.approvals_of(hash).await?;
        let (count, roles) = tally(hash, &approvals, &requesters, &wanted_roles, now);
        // S4, held here too and not only by the stored card: in a case that
        // escalated, nothing with a side effect runs without a person.
        let escalated = records
            .iter()
            .any(|r| matches!(r.entry.event, AuditEvent::Escalated { .. }));
        let floor = u32::from(escalated && proposal.action.has_side_effect());
        let needed = request.card.approvals_required.max(policy_needs).max(floor);
        if count < needed {
            return Ok(Cleared::Refuse(format!(
                "{count} valid approval(s); the request needs {needed}{}",
                if escalated {
                    " (the case escalated: a person decides)"
                } else {
                    ""
                }
            )));
        }
        // Checked before the executor's own decision joins the record.
        if let Some(missing) = self.missing_from_record(request, &approvals, now).await? {
            return Ok(Cleared::Refuse(missing));
        }
        let decision = self.policy.decide(
            &use_case.name,
            proposal,
            &case_facts,
            &target_facts,
            &ApprovalTally { count, roles },
        );
        self.audit
            .append(EXECUTOR, AuditEvent::policy_decided(case_id, &decision))
            .await?;
        if decision.outcome != DecisionOutcome::Allow {
            return Ok(Cleared::Refuse(format!(
                "policy no longer allows it: {} ({})",
                decision.outcome.as_str(),
                decision.reasons.join("; ")
            )));
        }
        match release(proposal.clone(), decision, &approvals, requesters, now) {
            Ok(order) => Ok(Cleared::Go(Box::new(order))),
            Err(withheld) => Ok(Cleared::Refuse(format!("not cleared: {withheld}"))),
        }
    }

    /// The original decision and every counted approval must be on the
    /// audit record (S5 before S1): an order smuggled into the store
    /// without them is refused.
    async fn missing_from_record(
        &self,
        request: &ApprovalRequest,
        approvals: &[Approval],
        now: OffsetDateTime,
    ) -> Result<Option<String>, ExecuteError> {
        let hash = &request.proposal_hash;
        let records = self.audit.records(Some(request.proposal.case_id)).await?;
        // A closing (rejected, expired, superseded) is recorded before the
        // request changes: once on the record, it holds even if the store's
        // change lost a race with an approval.
        let closed = records.iter().find_map(|r| match &r.entry.event {
            AuditEvent::RequestClosed {
                proposal_hash,
                status,
                ..
            } if proposal_hash == hash => Some(*status),
            _ => None,
        });
        if let Some(status) = closed {
            return Ok(Some(format!(
                "the audit log records this request as {status}"
            )));
        }
        let decided = records.iter().any(|r| {
            matches!(&r.entry.event, AuditEvent::PolicyDecided { proposal, outcome, .. }
                if &proposal.proposal_hash == hash && outcome == &request.decision.outcome)
        });
        if !decided {
            return Ok(Some(
                "the decision for this proposal is not in the audit log".into(),
            ));
        }
        // The card as opened is on the record (S5 before S1): a stored card
        // that asks for fewer approvals or other roles was changed under
        // the application's feet, so the order is not trusted at all.
        let opened = records.iter().find_map(|r| match &r.entry.event {
            AuditEvent::ApprovalEvaluated {
                proposal_hash,
                approvals_required,
                roles,
                ..
            } if proposal_hash == hash => Some((*approvals_required, roles)),
            _ => None,
        });
        let Some((recorded_approvals, recorded_roles)) = opened else {
            return Ok(Some(
                "the opening of this request is not in the audit log".into(),
            ));
        };
        if request.card.approvals_required != recorded_approvals
            || &request.card.roles != recorded_roles
        {
            return Ok(Some(format!(
                "the stored card ({} approval(s) by {}) differs from the card on the record ({} by {})",
                request.card.approvals_required,
                request.card.roles.join(", "),
                recorded_approvals,
                recorded_roles.join(", ")
            )));
        }
        let counted: Vec<&Approval> = approvals
            .iter()
            .filter(|a| a.approved && a.expires_at > now)
            .collect();
        for approval in counted {
            let on_record = records.iter().any(|r| {
                matches!(&r.entry.event, AuditEvent::ApprovalRecorded { proposal_hash, approver, approved: true, .. }
                    if proposal_hash == hash && approver.eq_ignore_ascii_case(&approval.approver))
            });
            if !on_record {
                return Ok(Some(format!(
                    "the approval by {} is not in the audit log",
                    approval.approver
                )));
            }
        }
        Ok(None)
    }

    /// Run a cleared order through its connector, within the time limit.
    async fn perform(&self, order: &Executable, key: &str) -> Execution {
        let proposal = order.proposal();
        let mut execution = self.refused(proposal, String::new());
        execution.idempotency_key = key.to_owned();
        let Some(connector) = self.connectors.iter().find(|c| c.handles(proposal.action)) else {
            execution.status = ExecutionStatus::Failed;
            execution.detail = format!("no connector is configured for {}", proposal.action);
            return execution;
        };
        execution.connector = connector.name().to_owned();
        // The kill switch again, right before the connector is called (the
        // checks above take time), and once more by the connector itself
        // after its look-ups, right before the call with the side effect.
        let use_case = match self.store.approval_request(&proposal.hash()).await {
            Ok(Some(request)) => request.use_case,
            _ => {
                execution.detail = "the order cannot be read again before acting".into();
                return execution;
            }
        };
        let gate = KillSwitchGate {
            store: self.store.clone(),
            use_case,
            stopped: std::sync::Mutex::new(None),
        };
        if let Err(reason) = gate.check().await {
            execution.detail = reason;
            execution.at = self.clock.now();
            return execution;
        }
        // S5: the start is on the record before the external effect; if it
        // cannot be recorded, nothing is done.
        let started = AuditEvent::ActionStarted {
            case_id: proposal.case_id,
            proposal_hash: execution.proposal_hash.clone(),
            idempotency_key: key.to_owned(),
            action: proposal.action,
            target: proposal.target.clone(),
            connector: connector.name().to_owned(),
        };
        if let Err(err) = self.audit.append(EXECUTOR, started).await {
            execution.detail = format!("the start could not be recorded: {err}");
            execution.at = self.clock.now();
            return execution;
        }
        let request = ConnectorRequest {
            proposal,
            idempotency_key: key,
            gate: Some(&gate),
        };
        let limit = Duration::from_millis(self.config.timeout_ms);
        let result = tokio::time::timeout(limit, connector.perform(&request)).await;
        execution.at = self.clock.now();
        if let Some(reason) = gate.stopped() {
            // Stopped by the switch before anything changed.
            execution.status = ExecutionStatus::Refused;
            execution.detail = reason;
            return execution;
        }
        match result {
            Ok(Ok(outcome)) => {
                execution.status = ExecutionStatus::Succeeded;
                execution.detail = outcome.detail;
                execution.rollback = reverse_of(proposal, outcome.handle.as_deref());
            }
            Ok(Err(err)) => {
                execution.status = ExecutionStatus::Failed;
                execution.detail = err.to_string();
            }
            Err(_) => {
                execution.status = ExecutionStatus::Failed;
                execution.detail = format!(
                    "timeout error: {} did not answer within {} ms",
                    connector.name(),
                    self.config.timeout_ms
                );
            }
        }
        execution
    }

    /// Record the execution and move the order out of `ready`.
    async fn settle(
        &self,
        request: &ApprovalRequest,
        execution: &Execution,
    ) -> Result<(), ExecuteError> {
        if execution.status != ExecutionStatus::Refused
            || !execution.detail.starts_with("already executed")
        {
            self.record(&request.proposal, execution).await?;
        }
        let to = if execution.status == ExecutionStatus::Refused {
            RequestStatus::Refused
        } else {
            RequestStatus::Executed
        };
        self.store
            .set_request_status(
                &request.proposal_hash,
                RequestStatus::Ready,
                to,
                self.clock.now(),
            )
            .await?;
        Ok(())
    }

    fn refused(&self, proposal: &ActionProposal, detail: String) -> Execution {
        let hash = proposal.hash();
        Execution {
            idempotency_key: hash.to_string(),
            proposal_hash: hash,
            action: proposal.action,
            target: proposal.target.clone(),
            connector: "executor".into(),
            status: ExecutionStatus::Refused,
            detail,
            rollback: None,
            at: self.clock.now(),
        }
    }

    async fn record(
        &self,
        proposal: &ActionProposal,
        execution: &Execution,
    ) -> Result<(), ExecuteError> {
        self.audit
            .append(
                EXECUTOR,
                AuditEvent::ActionExecuted {
                    case_id: proposal.case_id,
                    proposal_hash: execution.proposal_hash.clone(),
                    idempotency_key: execution.idempotency_key.clone(),
                    action: execution.action,
                    target: execution.target.clone(),
                    connector: execution.connector.clone(),
                    status: execution.status,
                    detail: execution.detail.clone(),
                },
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
