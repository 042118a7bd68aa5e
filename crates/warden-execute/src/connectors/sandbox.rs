//! The recording sandbox: a connector for every catalogue action that
//! changes nothing and remembers what it was asked to do. `warden eval`
//! runs the executor against it, so a validation set exercises the whole
//! path (policy, approvals, executor re-checks) without touching a product.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use warden_domain::{ActionName, ActionProposal};

use crate::{Connector, ConnectorError, ConnectorErrorKind, ConnectorOutcome, ConnectorRequest};

/// Records every action it is given; performs none.
#[derive(Debug, Default, Clone)]
pub struct RecordingConnector {
    performed: Arc<Mutex<Vec<ActionProposal>>>,
}

impl RecordingConnector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything performed so far, in order.
    pub fn performed(&self) -> Vec<ActionProposal> {
        self.performed
            .lock()
            .map(|list| list.clone())
            .unwrap_or_default()
    }
}

#[async_trait]
impl Connector for RecordingConnector {
    fn name(&self) -> &str {
        "sandbox.recording"
    }

    /// Every action with a side effect; notes stay with the case-note
    /// connector, which writes only to Warden's own record.
    fn handles(&self, action: ActionName) -> bool {
        action.has_side_effect()
    }

    async fn perform(
        &self,
        request: &ConnectorRequest<'_>,
    ) -> Result<ConnectorOutcome, ConnectorError> {
        let proposal = request.proposal;
        self.performed
            .lock()
            .map_err(|_| {
                ConnectorError::new(
                    ConnectorErrorKind::Unavailable,
                    "sandbox record is unusable",
                )
            })?
            .push(proposal.clone());
        Ok(ConnectorOutcome {
            detail: format!(
                "sandbox: recorded {} on {} (nothing was changed)",
                proposal.action,
                proposal.target.label()
            ),
            handle: None,
        })
    }
}
