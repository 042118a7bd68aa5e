//! Verdicts and dispositions, spelled as the public contract spells them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What an assessor concluded about a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Malicious,
    Suspicious,
    /// Real and authorised activity.
    Benign,
    /// The detection misfired.
    FalsePositive,
    Unknown,
}

impl Verdict {
    pub const ALL: [Verdict; 5] = [
        Verdict::Malicious,
        Verdict::Suspicious,
        Verdict::Benign,
        Verdict::FalsePositive,
        Verdict::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Malicious => "malicious",
            Verdict::Suspicious => "suspicious",
            Verdict::Benign => "benign",
            Verdict::FalsePositive => "false_positive",
            Verdict::Unknown => "unknown",
        }
    }

    /// Malicious or suspicious: a verdict that must not be closed silently.
    pub fn is_threat(self) -> bool {
        matches!(self, Verdict::Malicious | Verdict::Suspicious)
    }

    /// Which side of the line it falls on: `Some(true)` threat (malicious,
    /// suspicious), `Some(false)` no threat (benign, false positive), `None`
    /// for unknown. Agreement between assessors, and analyst overrides, are
    /// judged by side.
    pub fn side(self) -> Option<bool> {
        match self {
            Verdict::Malicious | Verdict::Suspicious => Some(true),
            Verdict::Benign | Verdict::FalsePositive => Some(false),
            Verdict::Unknown => None,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verdict name that is not in the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown verdict {0:?}")]
pub struct UnknownVerdict(pub String);

impl FromStr for Verdict {
    type Err = UnknownVerdict;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Verdict::ALL
            .into_iter()
            .find(|v| v.as_str() == s.trim())
            .ok_or_else(|| UnknownVerdict(s.to_owned()))
    }
}

/// Where a triaged case ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Closed without a person: benign or false positive, nothing to escalate.
    AutoClosed,
    /// A person must decide; the case carries the reasons.
    Escalated,
    /// Actions wait for approval (counts as escalated).
    AwaitingApproval,
    /// Actions ran under autonomous policy.
    Actioned,
}

impl Disposition {
    pub const ALL: [Disposition; 4] = [
        Disposition::AutoClosed,
        Disposition::Escalated,
        Disposition::AwaitingApproval,
        Disposition::Actioned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::AutoClosed => "auto_closed",
            Disposition::Escalated => "escalated",
            Disposition::AwaitingApproval => "awaiting_approval",
            Disposition::Actioned => "actioned",
        }
    }

    /// Whether a person is asked to look (the contract counts
    /// `awaiting_approval` as escalated).
    pub fn is_escalated(self) -> bool {
        matches!(self, Disposition::Escalated | Disposition::AwaitingApproval)
    }
}

impl fmt::Display for Disposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
