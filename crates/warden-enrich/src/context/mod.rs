//! The context folder of the embedded mode (format: `docs/context.md` and
//! the public contract). Every file is optional; each one that is present is
//! loaded into typed records, and each one that is absent or broken is kept
//! as the reason enrichment will record as a gap.
//!
//! # Layout
//!
//! - `config.rs`: [`ContextConfig`], the sources a deployment uses and
//!   their age limits (`[context]`).
//! - `records.rs`: the typed rows of the CSV files and `kev.json`.
//! - `stix/`: STIX 2.1 indicator bundles (`stix/*.json`) and a parser for
//!   STIX patterning, mapped onto [`IntelRecord`]s.
//! - `freshness.rs`: `freshness.toml`, which states the as-of time of files
//!   whose modification time cannot be trusted (a git checkout).
//! - `load.rs`: reading a folder into a [`Context`].
//! - `merge.rs`: a validation case's context merged over its set's.
//!
//! INVARIANT (S4): a source is either wholly usable or unavailable with a
//! reason; a partly read file is never used, and merging never turns a
//! broken part into a silently smaller source. A source the deployment
//! configured (`[context] sources`, or present in the folder when that is
//! unset) is always consulted, so its absence is a gap; only a source never
//! configured is left out, and enrichment says so.

mod config;
mod freshness;
mod load;
mod merge;
mod records;
mod stix;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use warden_domain::Freshness;

pub use config::ContextConfig;
pub use records::{
    AssetRecord, Criticality, Environment, HistoryRecord, IdentityRecord, IncidentRecord,
    IncidentStatus, IndicatorType, IntelRecord, IntelVerdict, KevEntry, MfaState, UserType,
    VulnerabilityRecord,
};

use load::Loaded;

/// The context sources, named in `[context] sources` and `freshness.toml`
/// as [`SourceKind::name`] spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Assets,
    Identities,
    Vulnerabilities,
    Intel,
    History,
    Kev,
    /// The `stix/` folder of STIX 2.1 bundles.
    Stix,
    Incidents,
}

impl SourceKind {
    /// Every source, in the order problems are reported.
    pub const ALL: [SourceKind; 8] = [
        SourceKind::Assets,
        SourceKind::Identities,
        SourceKind::Vulnerabilities,
        SourceKind::Intel,
        SourceKind::History,
        SourceKind::Kev,
        SourceKind::Stix,
        SourceKind::Incidents,
    ];

    /// The name in the context folder (`stix/` is a folder).
    pub fn file_name(self) -> &'static str {
        match self {
            SourceKind::Assets => "assets.csv",
            SourceKind::Identities => "identities.csv",
            SourceKind::Vulnerabilities => "vulnerabilities.csv",
            SourceKind::Intel => "intel.csv",
            SourceKind::History => "history.csv",
            SourceKind::Kev => "kev.json",
            SourceKind::Stix => "stix/",
            SourceKind::Incidents => "incidents.csv",
        }
    }

    /// The short name, as `freshness.toml` keys spell it (`assets`).
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Assets => "assets",
            SourceKind::Identities => "identities",
            SourceKind::Vulnerabilities => "vulnerabilities",
            SourceKind::Intel => "intel",
            SourceKind::History => "history",
            SourceKind::Kev => "kev",
            SourceKind::Stix => "stix",
            SourceKind::Incidents => "incidents",
        }
    }

    /// `context/assets.csv`: the label of evidence from this source.
    pub fn label(self) -> String {
        format!("context/{}", self.file_name())
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    fn max_age_days(self, config: &ContextConfig) -> i64 {
        match self {
            SourceKind::Assets => config.assets_max_age_days,
            SourceKind::Identities => config.identities_max_age_days,
            SourceKind::Vulnerabilities => config.vulnerabilities_max_age_days,
            SourceKind::Intel => config.intel_max_age_days,
            SourceKind::History => config.history_max_age_days,
            SourceKind::Kev => config.kev_max_age_days,
            SourceKind::Stix => config.stix_max_age_days,
            SourceKind::Incidents => config.incidents_max_age_days,
        }
    }
}

/// Where evidence came from, and how old that source is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    label: String,
    /// When the source's content was current: the file's modification
    /// time, or what `freshness.toml` says. `None` when unknown.
    as_of: Option<OffsetDateTime>,
    max_age: time::Duration,
}

impl Source {
    /// An alert of the case, which is as fresh as it gets.
    pub fn alert(origin: &str) -> Self {
        Self {
            label: format!("alert {origin}"),
            as_of: None,
            max_age: time::Duration::MAX,
        }
    }

    /// A source read live at lookup time (the store's past cases): always
    /// fresh.
    pub fn live(label: &str) -> Self {
        Self {
            label: label.to_owned(),
            as_of: None,
            max_age: time::Duration::MAX,
        }
    }

    /// `context/assets.csv`; `context/assets.csv (case+set)` when merged.
    pub fn label(&self) -> String {
        self.label.clone()
    }

    /// When the content was current, if known.
    pub fn as_of(&self) -> Option<OffsetDateTime> {
        self.as_of
    }

    /// Fresh unless the source is older than its limit.
    pub fn freshness(&self, now: OffsetDateTime) -> Freshness {
        match self.as_of {
            Some(as_of) if now - as_of > self.max_age => Freshness::Stale {
                age_seconds: (now - as_of).whole_seconds(),
            },
            _ => Freshness::Fresh,
        }
    }

    /// When this source turns stale (`None`: never, or unknown).
    fn stale_after(&self) -> Option<OffsetDateTime> {
        self.as_of?.checked_add(self.max_age)
    }
}

/// A context folder that cannot be used at all.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("context folder {path} cannot be read: {source}")]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Everything the context folder holds.
#[derive(Debug, Clone)]
pub struct Context {
    assets: Loaded<Vec<AssetRecord>>,
    identities: Loaded<Vec<IdentityRecord>>,
    vulnerabilities: Loaded<Vec<VulnerabilityRecord>>,
    intel: Loaded<Vec<IntelRecord>>,
    history: Loaded<Vec<HistoryRecord>>,
    kev: Loaded<HashMap<String, KevEntry>>,
    stix: Loaded<Vec<IntelRecord>>,
    incidents: Loaded<Vec<IncidentRecord>>,
    /// Why STIX indicators were left out (revoked, expired, unmatched
    /// pattern...), one line each.
    stix_skipped: Vec<String>,
    /// Problems not held by one source: a bad `freshness.toml`, and the
    /// problems of both parts of a merged context.
    notes: Vec<String>,
    /// The sources the deployment uses: `[context] sources`, or those
    /// present in the folder when that is unset. Only these are consulted.
    configured: BTreeSet<SourceKind>,
    /// `[context] identity_domains`, lower case.
    identity_domains: BTreeSet<String>,
}

impl Context {
    /// No context folder, and no `[context] sources`: no source is
    /// configured, so none is consulted and none is a gap.
    pub fn none() -> Self {
        Self::without_folder(&ContextConfig::default())
    }

    /// No context folder under `config`: the sources `[context] sources`
    /// names are configured and absent, so each is a gap when needed;
    /// with `sources` unset, none is configured (as [`Context::none`]).
    pub fn without_folder(config: &ContextConfig) -> Self {
        let reason = "no context folder given (--context)";
        let config = config.clone();
        Self {
            assets: load::absent(SourceKind::Assets, &config, reason),
            identities: load::absent(SourceKind::Identities, &config, reason),
            vulnerabilities: load::absent(SourceKind::Vulnerabilities, &config, reason),
            intel: load::absent(SourceKind::Intel, &config, reason),
            history: load::absent(SourceKind::History, &config, reason),
            kev: load::absent(SourceKind::Kev, &config, reason),
            stix: load::absent(SourceKind::Stix, &config, reason),
            incidents: load::absent(SourceKind::Incidents, &config, reason),
            stix_skipped: Vec::new(),
            notes: Vec::new(),
            configured: config.sources.iter().flatten().copied().collect(),
            identity_domains: identity_domains(&config),
        }
    }

    /// `[context] identity_domains` as configured, lower case.
    pub fn identity_domains(&self) -> &BTreeSet<String> {
        &self.identity_domains
    }

    /// The domains a row of `identities.csv` without one stands for, lower
    /// case: `[context] identity_domains` when set; otherwise the site's own
    /// domains as its own context names them (the domains of
    /// `identities.csv` rows that carry one, and of the asset owners' mail
    /// addresses), each also by its first label as a NetBIOS name
    /// (`corp.example` and `corp`). Empty when neither says: then a bare
    /// row stands for its name in any domain.
    ///
    /// The context is the operator's own data, so it may say which domains
    /// are home; an alert's user name never does.
    pub fn home_domains(&self) -> BTreeSet<String> {
        if !self.identity_domains.is_empty() {
            return self.identity_domains.clone();
        }
        let mut home = BTreeSet::new();
        let mut add = |domain: &str| {
            let domain = domain.trim().to_ascii_lowercase();
            if domain.is_empty() {
                return;
            }
            if let Some((label, _)) = domain.split_once('.') {
                home.insert(label.to_owned());
            }
            home.insert(domain);
        };
        if let Ok((_, identities)) = self.identities() {
            for identity in identities {
                let user = identity.user.trim();
                if let Some((domain, _)) = user.rsplit_once('\\') {
                    add(domain);
                } else if let Some((_, domain)) = user.rsplit_once('@') {
                    add(domain);
                }
            }
        }
        if let Ok((_, assets)) = self.assets() {
            for asset in assets {
                if let Some((_, domain)) = asset.owner.trim().rsplit_once('@') {
                    add(domain);
                }
            }
        }
        home
    }

    /// Load the folder at `dir`, judging STIX validity against the current
    /// time. Missing or malformed files do not fail the load: they are kept
    /// as reasons (see [`Context::problems`]).
    pub fn load(dir: &Path, config: &ContextConfig) -> Result<Self, ContextError> {
        Self::load_at(dir, config, OffsetDateTime::now_utc())
    }

    /// [`Context::load`] with the time STIX indicators' `valid_from` and
    /// `valid_until` are compared with.
    pub fn load_at(
        dir: &Path,
        config: &ContextConfig,
        now: OffsetDateTime,
    ) -> Result<Self, ContextError> {
        load::load(dir, config, now)
    }

    /// This context (a validation case's) merged over `base` (its set's):
    /// records of both, this one's first, so a lookup that takes the first
    /// match prefers the case. See `docs/context.md`, "Merging".
    pub fn merged_over(self, base: &Context) -> Context {
        merge::merged_over(self, base)
    }

    /// Files of configured sources that exist but could not be read or
    /// parsed, and a bad `freshness.toml`, with reasons. Absent files are
    /// not problems, and neither are files of sources never consulted.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = self.notes.clone();
        for kind in SourceKind::ALL {
            if !self.is_configured(kind) {
                continue;
            }
            if let Some(reason) = self.broken_reason(kind)
                && !problems.iter().any(|p| p == reason)
            {
                problems.push(reason.to_owned());
            }
        }
        problems
    }

    /// Whether the file (or `stix/` folder) of `kind` is there.
    fn present(&self, kind: SourceKind) -> bool {
        match kind {
            SourceKind::Assets => self.assets.present(),
            SourceKind::Identities => self.identities.present(),
            SourceKind::Vulnerabilities => self.vulnerabilities.present(),
            SourceKind::Intel => self.intel.present(),
            SourceKind::History => self.history.present(),
            SourceKind::Kev => self.kev.present(),
            SourceKind::Stix => self.stix.present(),
            SourceKind::Incidents => self.incidents.present(),
        }
    }

    fn broken_reason(&self, kind: SourceKind) -> Option<&str> {
        match kind {
            SourceKind::Assets => self.assets.broken(),
            SourceKind::Identities => self.identities.broken(),
            SourceKind::Vulnerabilities => self.vulnerabilities.broken(),
            SourceKind::Intel => self.intel.broken(),
            SourceKind::History => self.history.broken(),
            SourceKind::Kev => self.kev.broken(),
            SourceKind::Stix => self.stix.broken(),
            SourceKind::Incidents => self.incidents.broken(),
        }
    }

    /// Whether the deployment uses `kind` (see [`ContextConfig::sources`]):
    /// a configured source is consulted, and its absence is a gap.
    pub fn is_configured(&self, kind: SourceKind) -> bool {
        self.configured.contains(&kind)
    }

    /// Why `kind` is not consulted (`stix (not configured)`), or `None`
    /// when it is configured.
    pub fn not_consulted(&self, kind: SourceKind) -> Option<String> {
        (!self.is_configured(kind)).then(|| format!("{} (not configured)", kind.name()))
    }

    /// The sources this deployment uses, in [`SourceKind::ALL`] order.
    pub fn configured(&self) -> Vec<SourceKind> {
        SourceKind::ALL
            .into_iter()
            .filter(|kind| self.is_configured(*kind))
            .collect()
    }

    /// The source record of one file (for gaps).
    pub fn source(&self, kind: SourceKind) -> Source {
        match kind {
            SourceKind::Assets => self.assets.source().clone(),
            SourceKind::Identities => self.identities.source().clone(),
            SourceKind::Vulnerabilities => self.vulnerabilities.source().clone(),
            SourceKind::Intel => self.intel.source().clone(),
            SourceKind::History => self.history.source().clone(),
            SourceKind::Kev => self.kev.source().clone(),
            SourceKind::Stix => self.stix.source().clone(),
            SourceKind::Incidents => self.incidents.source().clone(),
        }
    }

    pub fn assets(&self) -> Result<(&Source, &[AssetRecord]), String> {
        self.assets.get().map(|(s, v)| (s, v.as_slice()))
    }

    pub fn identities(&self) -> Result<(&Source, &[IdentityRecord]), String> {
        self.identities.get().map(|(s, v)| (s, v.as_slice()))
    }

    pub fn vulnerabilities(&self) -> Result<(&Source, &[VulnerabilityRecord]), String> {
        self.vulnerabilities.get().map(|(s, v)| (s, v.as_slice()))
    }

    pub fn intel(&self) -> Result<(&Source, &[IntelRecord]), String> {
        self.intel.get().map(|(s, v)| (s, v.as_slice()))
    }

    pub fn history(&self) -> Result<(&Source, &[HistoryRecord]), String> {
        self.history.get().map(|(s, v)| (s, v.as_slice()))
    }

    /// The KEV catalogue by upper-case CVE id.
    pub fn kev(&self) -> Result<(&Source, &HashMap<String, KevEntry>), String> {
        self.kev.get()
    }

    /// Indicators harvested from the STIX bundles in `stix/`, one record per
    /// matchable value, in file-name order then bundle order.
    pub fn stix(&self) -> Result<(&Source, &[IntelRecord]), String> {
        self.stix.get().map(|(s, v)| (s, v.as_slice()))
    }

    /// Why STIX indicators were left out of [`Context::stix`], one line
    /// each (`context/stix/feed.json: indicator--...: revoked`).
    pub fn stix_skipped(&self) -> &[String] {
        &self.stix_skipped
    }

    /// Incidents from `incidents.csv`, in file order.
    pub fn incidents(&self) -> Result<(&Source, &[IncidentRecord]), String> {
        self.incidents.get().map(|(s, v)| (s, v.as_slice()))
    }
}

#[cfg(test)]
mod tests;

/// `[context] identity_domains`, lower case and trimmed.
pub(crate) fn identity_domains(config: &ContextConfig) -> BTreeSet<String> {
    config
        .identity_domains
        .iter()
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect()
}
