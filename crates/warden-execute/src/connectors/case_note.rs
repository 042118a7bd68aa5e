//! `case.note`: a note on Warden's own case record.

use std::sync::Arc;

use async_trait::async_trait;
use warden_domain::{ActionName, Clock};
use warden_store::{CaseNote, Store};

use crate::{Connector, ConnectorError, ConnectorErrorKind, ConnectorOutcome, ConnectorRequest};

/// Longest note stored.
const MAX_NOTE_CHARS: usize = 4000;

/// Writes notes to the case store.
pub struct CaseNoteConnector {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for CaseNoteConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CaseNoteConnector")
    }
}

impl CaseNoteConnector {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }
}

#[async_trait]
impl Connector for CaseNoteConnector {
    fn name(&self) -> &str {
        "warden.case_notes"
    }

    fn handles(&self, action: ActionName) -> bool {
        action == ActionName::CaseNote
    }

    async fn perform(
        &self,
        request: &ConnectorRequest<'_>,
    ) -> Result<ConnectorOutcome, ConnectorError> {
        let proposal = request.proposal;
        let text: String = proposal
            .parameters
            .get("text")
            .ok_or_else(|| {
                ConnectorError::new(
                    ConnectorErrorKind::Rejected,
                    "a note needs a text parameter",
                )
            })?
            .chars()
            .take(MAX_NOTE_CHARS)
            .collect();
        self.store
            .add_note(
                proposal.case_id,
                &CaseNote {
                    author: proposal.proposed_by.clone(),
                    text,
                    created_at: self.clock.now(),
                },
            )
            .await
            .map_err(|e| {
                ConnectorError::new(
                    ConnectorErrorKind::Unavailable,
                    format!("cannot store the note: {e}"),
                )
            })?;
        Ok(ConnectorOutcome {
            detail: "note added to the case".into(),
            handle: None,
        })
    }
}
