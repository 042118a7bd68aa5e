//! Identifiers. Case and alert ids are UUIDv7 (time-ordered, so they sort by
//! creation in any store); evidence ids are short and case-local because
//! rationale text cites them.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($name:ident, $prefix:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wrap an existing UUID (from storage).
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Parse the prefixed form (`case-...`) or a bare UUID.
            pub fn parse(text: &str) -> Result<Self, uuid::Error> {
                let bare = text.strip_prefix(concat!($prefix, "-")).unwrap_or(text);
                Uuid::parse_str(bare).map(Self)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}-{}", $prefix, self.0)
            }
        }
    };
}

uuid_id!(CaseId, "case", "Identifies a case.");
uuid_id!(AlertId, "alert", "Identifies one ingested alert.");

/// Identifies an evidence item within its case: `ev-1`, `ev-2`, ... Alerts
/// themselves are evidence too (`ev-alert-1`), so rationale can cite them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EvidenceId(String);

impl EvidenceId {
    /// The id of the `n`-th enrichment result of a case.
    pub fn enrichment(n: usize) -> Self {
        Self(format!("ev-{n}"))
    }

    /// The id of the `n`-th alert of a case, as cited evidence.
    pub fn alert(n: usize) -> Self {
        Self(format!("ev-alert-{n}"))
    }

    /// An id as an assessor cited it. It may name nothing: citations are
    /// checked against the case's evidence before anything trusts them
    /// (`Assessment::check`).
    pub fn from_cited(text: &str) -> Self {
        Self(text.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EvidenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_id_round_trips_through_its_display_form() {
        let id = CaseId::new();
        assert_eq!(CaseId::parse(&id.to_string()), Ok(id));
        assert_eq!(CaseId::parse(&id.as_uuid().to_string()), Ok(id));
        assert!(CaseId::parse("case-nonsense").is_err());
    }

    #[test]
    fn ids_are_time_ordered() {
        let first = CaseId::new();
        let second = CaseId::new();
        assert!(first < second);
    }
}
