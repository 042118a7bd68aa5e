//! The execute stage: a separate executor that performs cleared actions
//! through connectors, exactly once, and records what happened.
//!
//! # Layout
//!
//! - [`Executor`]: accepts only `warden_approve::Executable` orders and
//!   re-checks S1 itself at execution time: the release checks again (an
//!   approval may have expired), the kill switch, and that the decision is on
//!   the audit record. Then it claims the idempotency key in the store, so an
//!   action runs at most once even across retries and restarts.
//! - [`connectors`]: one module per product; the [`Connector`] trait. The
//!   embedded default ships the case-note connector, which writes to
//!   Warden's own case record.

pub mod connectors;

use std::sync::Arc;

use async_trait::async_trait;
use warden_approve::Executable;
use warden_audit::AuditLog;
use warden_domain::{ActionName, ActionProposal, AuditEvent, Clock, Execution, ExecutionStatus};
use warden_store::{Claim, Store};

pub use connectors::case_note::CaseNoteConnector;
pub use connectors::sandbox::RecordingConnector;
pub use connectors::ConnectorsConfig;

/// What the executor hands a connector: the exact proposal and the key that
/// makes a repeat of the same order harmless (connectors pass it to products
/// that accept one, and must treat "already done" as success).
#[derive(Debug, Clone, Copy)]
pub struct ConnectorRequest<'a> {
    pub proposal: &'a ActionProposal,
    pub idempotency_key: &'a str,
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

/// How a connector call failed, so the executor and the record can tell a
/// refused credential from a product outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorErrorKind {
    /// Missing or unusable configuration or credentials on our side.
    Config,
    /// The product refused our credentials (401/403).
    Auth,
    /// The product asked us to slow down and retries ran out (429).
    RateLimited,
    /// The product failed (5xx) and retries ran out.
    Unavailable,
    /// No answer in time.
    Timeout,
    /// The product rejected the request itself (other 4xx, or an error
    /// body on a 200), or the target does not exist there.
    Rejected,
    /// The answer did not match the product's documented format.
    Protocol,
}

impl ConnectorErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorErrorKind::Config => "config",
            ConnectorErrorKind::Auth => "auth",
            ConnectorErrorKind::RateLimited => "rate_limited",
            ConnectorErrorKind::Unavailable => "unavailable",
            ConnectorErrorKind::Timeout => "timeout",
            ConnectorErrorKind::Rejected => "rejected",
            ConnectorErrorKind::Protocol => "protocol",
        }
    }
}

/// A connector's failure. The message never carries a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} error: {message}", kind.as_str())]
pub struct ConnectorError {
    pub kind: ConnectorErrorKind,
    pub message: String,
}

impl ConnectorError {
    pub fn new(kind: ConnectorErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

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

/// Why the executor did not run an order.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    #[error("store: {0}")]
    Store(#[from] warden_store::StoreError),
    #[error("audit log: {0}")]
    Audit(#[from] warden_audit::AuditError),
}

/// The executor.
pub struct Executor {
    store: Arc<dyn Store>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
    connectors: Vec<Arc<dyn Connector>>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.connectors.iter().map(|c| c.name()).collect();
        f.debug_struct("Executor")
            .field("connectors", &names)
            .finish_non_exhaustive()
    }
}

impl Executor {
    pub fn new(
        store: Arc<dyn Store>,
        audit: Arc<dyn AuditLog>,
        clock: Arc<dyn Clock>,
        connectors: Vec<Arc<dyn Connector>>,
    ) -> Self {
        Self {
            store,
            audit,
            clock,
            connectors,
        }
    }

    /// Execute `order` for `use_case`. Refusals are executions too (status
    /// `refused`, with the reason), recorded in the audit log; an `Err` means
    /// the executor could not even record.
    pub async fn execute(
        &self,
        order: &Executable,
        use_case: &str,
    ) -> Result<Execution, ExecuteError> {
        let proposal = order.proposal();
        let hash = proposal.hash();
        let key = hash.to_string();
        let now = self.clock.now();
        let refusal = |detail: String| Execution {
            proposal_hash: hash.clone(),
            idempotency_key: key.clone(),
            action: proposal.action,
            target: proposal.target.clone(),
            connector: "executor".into(),
            status: ExecutionStatus::Refused,
            detail,
            rollback: None,
            at: now,
        };

        // INVARIANT (S1): checked here, at execution time, whatever the
        // pipeline checked before.
        let refused = if let Err(withheld) = order.recheck(now) {
            Some(format!("no longer cleared: {withheld}"))
        } else if self.store.is_paused(use_case).await? {
            Some(format!("execution is paused (kill switch) for {use_case}"))
        } else if !self.decision_on_record(order).await? {
            Some("the decision for this proposal is not in the audit log".into())
        } else {
            None
        };
        if let Some(reason) = refused {
            let execution = refusal(reason);
            self.record(proposal, &execution).await?;
            return Ok(execution);
        }

        // INVARIANT (S3): at most once per proposal hash.
        if self
            .store
            .claim_execution(proposal.case_id, &key, &hash, now)
            .await?
            == Claim::AlreadyClaimed
        {
            let execution = refusal("already executed (idempotency key claimed)".into());
            self.record(proposal, &execution).await?;
            return Ok(execution);
        }
        let Some(connector) = self.connectors.iter().find(|c| c.handles(proposal.action)) else {
            let mut execution = refusal(format!(
                "no connector is configured for {}",
                proposal.action
            ));
            execution.status = ExecutionStatus::Failed;
            self.store
                .finish_execution(proposal.case_id, &execution)
                .await?;
            self.record(proposal, &execution).await?;
            return Ok(execution);
        };
        let request = ConnectorRequest {
            proposal,
            idempotency_key: &key,
        };
        let (status, detail, rollback) = match connector.perform(&request).await {
            Ok(outcome) => (
                ExecutionStatus::Succeeded,
                outcome.detail,
                rollback_of(proposal, outcome.handle.as_deref()),
            ),
            Err(err) => (ExecutionStatus::Failed, err.to_string(), None),
        };
        let execution = Execution {
            proposal_hash: hash.clone(),
            idempotency_key: key.clone(),
            action: proposal.action,
            target: proposal.target.clone(),
            connector: connector.name().to_owned(),
            status,
            detail,
            rollback,
            at: self.clock.now(),
        };
        self.store
            .finish_execution(proposal.case_id, &execution)
            .await?;
        self.record(proposal, &execution).await?;
        Ok(execution)
    }

    async fn decision_on_record(&self, order: &Executable) -> Result<bool, ExecuteError> {
        let hash = order.decision().proposal_hash.clone();
        let records = self.audit.records(Some(order.proposal().case_id)).await?;
        Ok(records.iter().any(|r| {
            matches!(&r.entry.event, AuditEvent::PolicyDecided { proposal, outcome, .. }
                if proposal.proposal_hash == hash && outcome == &order.decision().outcome)
        }))
    }

    async fn record(
        &self,
        proposal: &ActionProposal,
        execution: &Execution,
    ) -> Result<(), ExecuteError> {
        self.audit
            .append(
                "system:executor",
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

/// How to undo `proposal`: its catalogue reverse on the same target, with
/// the product's handle when the connector gave one.
fn rollback_of(proposal: &ActionProposal, handle: Option<&str>) -> Option<String> {
    let reverse = proposal.action.reverse()?;
    let target = proposal.target.label();
    Some(match handle {
        Some(handle) => format!("{reverse} {target} (handle {handle})"),
        None => format!("{reverse} {target}"),
    })
}

#[cfg(test)]
mod tests;
