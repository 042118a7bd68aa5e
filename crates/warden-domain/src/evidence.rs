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
    /// An open or contained incident that involves one of the case's entities.
    Incident,
    /// An earlier case in the store that shared an entity with this one.
    PastCase,
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

impl Evidence {
    /// A text fact (`"tier_0"`), or `""` when absent or not text.
    pub fn fact_str(&self, key: &str) -> &str {
        self.facts
            .get(key)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
    }

    /// A boolean fact, false when absent or not a boolean.
    pub fn fact_bool(&self, key: &str) -> bool {
        self.facts
            .get(key)
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
    }

    /// A whole-number fact.
    pub fn fact_u64(&self, key: &str) -> Option<u64> {
        self.facts.get(key).and_then(serde_json::Value::as_u64)
    }

    /// The `tags` fact, lower-cased.
    pub fn tags(&self) -> Vec<String> {
        self.facts
            .get("tags")
            .and_then(serde_json::Value::as_array)
            .map(|tags| {
                tags.iter()
                    .filter_map(serde_json::Value::as_str)
                    .map(str::to_lowercase)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the `tags` fact holds `tag` (any case).
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags().iter().any(|t| t.eq_ignore_ascii_case(tag))
    }
}

/// A source that should have been asked but could not answer: recorded so
/// that its absence is visible and escalates (S4), never silently ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceGap {
    pub source: String,
    pub reason: String,
}
