//! What enrichment found, or failed to find.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::EvidenceId;
use crate::observable::ObservableKind;

/// How current an evidence item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Freshness {
    /// Within its source's freshness limit.
    Fresh,
    /// Older than its source's freshness limit.
    Stale { age_seconds: i64 },
}

/// What kind of fact an evidence item holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// An alert of the case itself.
    Alert,
    /// An asset inventory record.
    Asset,
    /// An identity (account) record.
    Identity,
    /// A known vulnerability on an asset, with its KEV status.
    Vulnerability,
    /// A threat intelligence match.
    Intel,
    /// Past cases for the same rule or entity.
    History,
}

/// One fact gathered for a case, citable by its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub id: EvidenceId,
    pub kind: EvidenceKind,
    /// The tool or file it came from (`context/assets.csv`).
    pub source: String,
    /// The entity it is about, if any.
    pub subject: Option<(ObservableKind, String)>,
    /// One line for a person.
    pub summary: String,
    /// The structured facts, as the source gave them (after redaction).
    pub facts: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub collected_at: OffsetDateTime,
    pub freshness: Freshness,
}

/// A source that should have been asked but could not answer: recorded so
/// that its absence is visible and escalates (S4), never silently ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceGap {
    pub source: String,
    pub reason: String,
}
