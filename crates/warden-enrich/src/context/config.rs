//! `[context]` in `warden.toml`: which context sources the deployment uses,
//! and how old each one may be.

use serde::{Deserialize, Serialize};

use super::SourceKind;

/// Which context sources this deployment uses, and how old each may be
/// before its evidence counts as stale (`[context]` in `warden.toml`). The
/// age is the source's as-of time: the file's modification time, or the
/// time `freshness.toml` gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContextConfig {
    /// The sources this deployment uses (`assets`, `identities`,
    /// `vulnerabilities`, `intel`, `history`, `kev`, `stix`, `incidents`).
    /// A configured source that is missing, unreadable, failing or stale is
    /// an evidence gap; one not configured is never consulted and is not a
    /// gap. Unset: the sources present in the context folder when it is
    /// loaded (none without a folder). Set it in production, so that a file
    /// that vanishes is a gap rather than a silently smaller context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<SourceKind>>,
    /// Maximum age of `assets.csv`, in days.
    pub assets_max_age_days: i64,
    /// Maximum age of `identities.csv`, in days.
    pub identities_max_age_days: i64,
    /// Maximum age of `vulnerabilities.csv`, in days.
    pub vulnerabilities_max_age_days: i64,
    /// Maximum age of `intel.csv`, in days (intel goes stale fastest).
    pub intel_max_age_days: i64,
    /// Maximum age of `history.csv`, in days.
    pub history_max_age_days: i64,
    /// Maximum age of `kev.json`, in days.
    pub kev_max_age_days: i64,
    /// Maximum age of the `stix/` folder (its newest bundle), in days.
    pub stix_max_age_days: i64,
    /// Maximum age of `incidents.csv`, in days (an exported incident list is
    /// stale once a week old; lower it if yours is refreshed continuously).
    pub incidents_max_age_days: i64,
    /// The domains of the organisation's directory (`corp.example`, the
    /// NetBIOS `corp`), for `identity_lookup`: an `identities.csv` row
    /// that names no domain stands for its account in these domains, so
    /// `jdoe@contractor.example` is not the row `jdoe` (an unverified
    /// match, without the row's facts). Empty: such a row stands for its
    /// name in any domain; set it, or name the domain in each row.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub identity_domains: Vec<String>,
}

impl Default for ContextConfig {
    fn default() -> Self {
        Self {
            sources: None,
            assets_max_age_days: 30,
            identities_max_age_days: 30,
            vulnerabilities_max_age_days: 30,
            intel_max_age_days: 7,
            history_max_age_days: 365,
            kev_max_age_days: 30,
            stix_max_age_days: 7,
            incidents_max_age_days: 7,
            identity_domains: Vec::new(),
        }
    }
}
