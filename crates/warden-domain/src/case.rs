//! A case: alerts grouped for one decision, persisted as a state machine so
//! that it outlives any process or model session.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::decision::AutoCloseDecision;
use crate::ids::{AlertId, CaseId};
use crate::severity::Severity;
use crate::verdict::{Disposition, Verdict};

/// Where a case is in its life.
///
/// ```text
/// new -> enriched -> assessed -> decided -+-> auto_closed ------------------+
///                                         +-> escalated -------+            |
///                                         +-> awaiting_approval +-> actioned -+-> closed
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    New,
    Enriched,
    Assessed,
    Decided,
    AutoClosed,
    Escalated,
    AwaitingApproval,
    Actioned,
    Closed,
}

impl CaseState {
    pub const ALL: [CaseState; 9] = [
        CaseState::New,
        CaseState::Enriched,
        CaseState::Assessed,
        CaseState::Decided,
        CaseState::AutoClosed,
        CaseState::Escalated,
        CaseState::AwaitingApproval,
        CaseState::Actioned,
        CaseState::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::New => "new",
            CaseState::Enriched => "enriched",
            CaseState::Assessed => "assessed",
            CaseState::Decided => "decided",
            CaseState::AutoClosed => "auto_closed",
            CaseState::Escalated => "escalated",
            CaseState::AwaitingApproval => "awaiting_approval",
            CaseState::Actioned => "actioned",
            CaseState::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The transitions the state machine allows.
    pub fn can_move_to(self, next: CaseState) -> bool {
        use CaseState::*;
        matches!(
            (self, next),
            (New, Enriched)
                | (Enriched, Assessed)
                | (Assessed, Decided)
                | (
                    Decided,
                    AutoClosed | Escalated | AwaitingApproval | Actioned
                )
                | (AwaitingApproval, Actioned | Escalated | Closed)
                | (Escalated, AwaitingApproval | Actioned | Closed)
                | (Actioned, Closed)
                | (AutoClosed, Closed | Escalated)
                // A triage that fails part-way goes to a person (S4).
                | (New | Enriched | Assessed, Escalated)
        )
    }

    /// The state a triage disposition puts a decided case in.
    pub fn for_disposition(disposition: Disposition) -> CaseState {
        match disposition {
            Disposition::AutoClosed => CaseState::AutoClosed,
            Disposition::Escalated => CaseState::Escalated,
            Disposition::AwaitingApproval => CaseState::AwaitingApproval,
            Disposition::Actioned => CaseState::Actioned,
        }
    }
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A transition the state machine does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("case {case} cannot move from {from} to {to}")]
pub struct InvalidTransition {
    pub case: CaseId,
    pub from: CaseState,
    pub to: CaseState,
}

/// A group of alerts triaged together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: CaseId,
    pub state: CaseState,
    /// A short title: the rule name of the first alert.
    pub title: String,
    /// Distinct alerts, first seen first.
    pub alert_ids: Vec<AlertId>,
    /// Alerts received including exact duplicates merged into the above.
    pub alert_count: u64,
    /// Why these alerts were grouped (shared entity, same rule, duplicate).
    pub grouping_reasons: Vec<String>,
    /// Highest alert severity (the assessed one once assessed).
    pub severity: Severity,
    pub verdict: Option<Verdict>,
    pub disposition: Option<Disposition>,
    /// The `case.auto_close` policy decision, when triage asked for one
    /// (a case no trigger escalated, with nothing waiting and nothing
    /// run): which policies let it close without a person, or refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_close: Option<AutoCloseDecision>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Case {
    /// A new case over `alert_ids`.
    pub fn open(
        title: String,
        alert_ids: Vec<AlertId>,
        alert_count: u64,
        grouping_reasons: Vec<String>,
        severity: Severity,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id: CaseId::new(),
            state: CaseState::New,
            title,
            alert_ids,
            alert_count,
            grouping_reasons,
            severity,
            verdict: None,
            disposition: None,
            auto_close: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Move to `next`, or refuse if the state machine does not allow it.
    pub fn transition(
        &mut self,
        next: CaseState,
        now: OffsetDateTime,
    ) -> Result<CaseState, InvalidTransition> {
        if !self.state.can_move_to(next) {
            return Err(InvalidTransition {
                case: self.id,
                from: self.state,
                to: next,
            });
        }
        let previous = self.state;
        self.state = next;
        self.updated_at = now;
        Ok(previous)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triage_path_is_allowed_and_skipping_is_not() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut case = Case::open("t".into(), vec![], 1, vec![], Severity::Low, now);
        assert!(case.transition(CaseState::Assessed, now).is_err());
        for next in [
            CaseState::Enriched,
            CaseState::Assessed,
            CaseState::Decided,
            CaseState::Escalated,
            CaseState::Closed,
        ] {
            assert!(case.transition(next, now).is_ok(), "to {next}");
        }
        // Closed is terminal.
        for next in CaseState::ALL {
            assert!(!CaseState::Closed.can_move_to(next));
        }
    }

    #[test]
    fn states_round_trip_their_names() {
        for state in CaseState::ALL {
            assert_eq!(CaseState::parse(state.as_str()), Some(state));
        }
    }
}
