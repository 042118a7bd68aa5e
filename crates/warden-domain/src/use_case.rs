//! A use case (alert family) as the later stages see it: who owns it, how
//! far it is trusted, and what it may do. The playbook that defines it
//! lives in `warden-playbook`; this is the part assessors, policy and the
//! escalation triggers read.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::action::ActionName;

/// The trust ladder, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Autonomy {
    /// Assess and record only; nothing is proposed to anyone.
    Shadow,
    /// Proposals are drafts for an analyst; nothing runs.
    Draft,
    /// Proposals run once policy and the required approvals allow them.
    Assisted,
    /// Proposals policy allows without approval run at once.
    Autonomous,
}

impl Autonomy {
    pub const ALL: [Autonomy; 4] = [
        Autonomy::Shadow,
        Autonomy::Draft,
        Autonomy::Assisted,
        Autonomy::Autonomous,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Autonomy::Shadow => "shadow",
            Autonomy::Draft => "draft",
            Autonomy::Assisted => "assisted",
            Autonomy::Autonomous => "autonomous",
        }
    }
}

impl fmt::Display for Autonomy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Autonomy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                format!("autonomy must be shadow, draft, assisted or autonomous, not {s:?}")
            })
    }
}

/// A use case's authority and settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UseCase {
    /// The playbook name; its agent is the Cedar principal
    /// `Warden::Agent::"<name>"`.
    pub name: String,
    /// Team or mailbox answerable for it.
    pub owner: String,
    pub autonomy: Autonomy,
    /// Catalogue actions its proposals may use; anything else is beyond its
    /// authority.
    pub allowed_actions: BTreeSet<ActionName>,
    /// Below this assessor confidence a person decides (overrides the
    /// global `[escalation] min_confidence`).
    pub min_confidence: Option<f64>,
    /// Likelihood score (the assessor's attack factors, not impact) at or
    /// above which the deterministic assessor says malicious (overrides
    /// `[assessor.thresholds] malicious`).
    pub malicious_risk: Option<f64>,
    /// Likelihood score at or above which it says suspicious.
    pub suspicious_risk: Option<f64>,
    /// When the use case steps down the ladder by itself.
    #[serde(default)]
    pub trust: TrustLadder,
}

/// Automatic step-down: when analysts override more than
/// `max_override_rate` of the last `window` reviewed cases (once at least
/// `min_reviews` exist), autonomy drops one level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrustLadder {
    pub max_override_rate: f64,
    pub window: u32,
    pub min_reviews: u32,
}

impl Default for TrustLadder {
    fn default() -> Self {
        Self {
            max_override_rate: 0.2,
            window: 20,
            min_reviews: 10,
        }
    }
}

impl Autonomy {
    /// One level down the ladder (shadow stays shadow).
    pub fn step_down(self) -> Autonomy {
        match self {
            Autonomy::Autonomous => Autonomy::Assisted,
            Autonomy::Assisted => Autonomy::Draft,
            Autonomy::Draft | Autonomy::Shadow => Autonomy::Shadow,
        }
    }
}

impl UseCase {
    /// Whether `action` is within this use case's authority.
    pub fn allows(&self, action: ActionName) -> bool {
        self.allowed_actions.contains(&action)
    }

    /// An assisted use case owned by nobody in particular that may take
    /// exactly `actions`, with the global thresholds (tests, and the
    /// starting point of a playbook built in code).
    pub fn allowing(name: &str, actions: impl IntoIterator<Item = ActionName>) -> Self {
        Self {
            name: name.to_owned(),
            owner: "unassigned".into(),
            autonomy: Autonomy::Assisted,
            allowed_actions: actions.into_iter().collect(),
            min_confidence: None,
            malicious_risk: None,
            suspicious_risk: None,
            trust: TrustLadder::default(),
        }
    }
}
