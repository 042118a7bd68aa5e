//! What the executor did.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::action::{ActionName, ProposalHash, Target};

/// How an execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Succeeded,
    Failed,
    /// The executor's own checks refused it (S1).
    Refused,
}

impl ExecutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Succeeded => "succeeded",
            ExecutionStatus::Failed => "failed",
            ExecutionStatus::Refused => "refused",
        }
    }
}

/// One action performed (or refused) by the executor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    pub proposal_hash: ProposalHash,
    /// Runs at most once per key.
    pub idempotency_key: String,
    pub action: ActionName,
    pub target: Target,
    pub connector: String,
    pub status: ExecutionStatus,
    pub detail: String,
    /// What undoes it, when something can.
    pub rollback: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}
