//! A person's answer to an approval request.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::action::ProposalHash;

/// One person's approval or rejection of one exact proposal (S3: bound by the
/// proposal hash; any change to the proposal voids it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub proposal_hash: ProposalHash,
    pub approver: String,
    /// The role the approver acted in.
    pub role: String,
    pub approved: bool,
    /// Required for a rejection.
    pub reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub decided_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}
