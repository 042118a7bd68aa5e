//! `[context]` in `warden.toml`: how old each context source may be.

use serde::{Deserialize, Serialize};

/// How old each context source may be before its evidence counts as stale
/// (`[context]` in `warden.toml`). The age is the source's as-of time: the
/// file's modification time, or the time `freshness.toml` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContextConfig {
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
}

impl Default for ContextConfig {
    fn default() -> Self {
        Self {
            assets_max_age_days: 30,
            identities_max_age_days: 30,
            vulnerabilities_max_age_days: 30,
            intel_max_age_days: 7,
            history_max_age_days: 365,
            kev_max_age_days: 30,
            stix_max_age_days: 7,
            incidents_max_age_days: 7,
        }
    }
}
