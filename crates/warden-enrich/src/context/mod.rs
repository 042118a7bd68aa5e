//! The context folder of the embedded mode (format: `docs/context.md` and
//! the public contract). Every file is optional; each one that is present is
//! loaded into typed records, and each one that is absent or broken is kept
//! as the reason enrichment will record as a gap.

mod records;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use warden_domain::Freshness;

pub use records::{
    AssetRecord, Criticality, Environment, HistoryRecord, IdentityRecord, IntelRecord, KevEntry,
    VulnerabilityRecord,
};

/// How old each context file may be before its evidence counts as stale
/// (`[context]` in `warden.toml`).
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
        }
    }
}

/// The context files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    Assets,
    Identities,
    Vulnerabilities,
    Intel,
    History,
    Kev,
}

impl SourceKind {
    const ALL: [SourceKind; 6] = [
        SourceKind::Assets,
        SourceKind::Identities,
        SourceKind::Vulnerabilities,
        SourceKind::Intel,
        SourceKind::History,
        SourceKind::Kev,
    ];

    /// The file name in the context folder.
    pub fn file_name(self) -> &'static str {
        match self {
            SourceKind::Assets => "assets.csv",
            SourceKind::Identities => "identities.csv",
            SourceKind::Vulnerabilities => "vulnerabilities.csv",
            SourceKind::Intel => "intel.csv",
            SourceKind::History => "history.csv",
            SourceKind::Kev => "kev.json",
        }
    }

    fn max_age_days(self, config: &ContextConfig) -> i64 {
        match self {
            SourceKind::Assets => config.assets_max_age_days,
            SourceKind::Identities => config.identities_max_age_days,
            SourceKind::Vulnerabilities => config.vulnerabilities_max_age_days,
            SourceKind::Intel => config.intel_max_age_days,
            SourceKind::History => config.history_max_age_days,
            SourceKind::Kev => config.kev_max_age_days,
        }
    }
}

/// Where evidence came from, and how old that source is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    label: String,
    modified: Option<OffsetDateTime>,
    max_age: time::Duration,
}

impl Source {
    /// An alert of the case, which is as fresh as it gets.
    pub fn alert(origin: &str) -> Self {
        Self {
            label: format!("alert {origin}"),
            modified: None,
            max_age: time::Duration::MAX,
        }
    }

    /// `context/assets.csv`.
    pub fn label(&self) -> String {
        self.label.clone()
    }

    /// Fresh unless the file is older than its limit.
    pub fn freshness(&self, now: OffsetDateTime) -> Freshness {
        match self.modified {
            Some(modified) if now - modified > self.max_age => Freshness::Stale {
                age_seconds: (now - modified).whole_seconds(),
            },
            _ => Freshness::Fresh,
        }
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

#[derive(Debug)]
enum Loaded<T> {
    Ready(Source, T),
    /// Not usable; the reason becomes an evidence gap.
    Unavailable(Source, String),
}

impl<T> Loaded<T> {
    fn get(&self) -> Result<(&Source, &T), String> {
        match self {
            Loaded::Ready(source, value) => Ok((source, value)),
            Loaded::Unavailable(_, reason) => Err(reason.clone()),
        }
    }

    fn source(&self) -> &Source {
        match self {
            Loaded::Ready(source, _) | Loaded::Unavailable(source, _) => source,
        }
    }
}

/// Everything the context folder holds.
#[derive(Debug)]
pub struct Context {
    assets: Loaded<Vec<AssetRecord>>,
    identities: Loaded<Vec<IdentityRecord>>,
    vulnerabilities: Loaded<Vec<VulnerabilityRecord>>,
    intel: Loaded<Vec<IntelRecord>>,
    history: Loaded<Vec<HistoryRecord>>,
    kev: Loaded<HashMap<String, KevEntry>>,
}

fn unavailable<T>(kind: SourceKind, config: &ContextConfig, reason: &str) -> Loaded<T> {
    Loaded::Unavailable(
        Source {
            label: format!("context/{}", kind.file_name()),
            modified: None,
            max_age: time::Duration::days(kind.max_age_days(config)),
        },
        reason.to_owned(),
    )
}

impl Context {
    /// No context at all: every source is a gap.
    pub fn none() -> Self {
        let config = ContextConfig::default();
        let reason = "no context folder given (--context)";
        Self {
            assets: unavailable(SourceKind::Assets, &config, reason),
            identities: unavailable(SourceKind::Identities, &config, reason),
            vulnerabilities: unavailable(SourceKind::Vulnerabilities, &config, reason),
            intel: unavailable(SourceKind::Intel, &config, reason),
            history: unavailable(SourceKind::History, &config, reason),
            kev: unavailable(SourceKind::Kev, &config, reason),
        }
    }

    /// Load the folder at `dir`. Missing or malformed files do not fail the
    /// load: they are kept as reasons (see [`Context::problems`]).
    pub fn load(dir: &Path, config: &ContextConfig) -> Result<Self, ContextError> {
        fs::read_dir(dir).map_err(|source| ContextError::Folder {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(Self {
            assets: load_csv(dir, SourceKind::Assets, config, records::parse_assets),
            identities: load_csv(
                dir,
                SourceKind::Identities,
                config,
                records::parse_identities,
            ),
            vulnerabilities: load_csv(
                dir,
                SourceKind::Vulnerabilities,
                config,
                records::parse_vulnerabilities,
            ),
            intel: load_csv(dir, SourceKind::Intel, config, records::parse_intel),
            history: load_csv(dir, SourceKind::History, config, records::parse_history),
            kev: load_csv(dir, SourceKind::Kev, config, records::parse_kev),
        })
    }

    /// Files that exist but could not be read or parsed, with reasons.
    pub fn problems(&self) -> Vec<String> {
        SourceKind::ALL
            .into_iter()
            .filter_map(|kind| match self.loaded_reason(kind) {
                Some(reason)
                    if !reason.ends_with("not present") && !reason.starts_with("no context") =>
                {
                    Some(reason)
                }
                _ => None,
            })
            .collect()
    }

    fn loaded_reason(&self, kind: SourceKind) -> Option<String> {
        match kind {
            SourceKind::Assets => self.assets.get().err(),
            SourceKind::Identities => self.identities.get().err(),
            SourceKind::Vulnerabilities => self.vulnerabilities.get().err(),
            SourceKind::Intel => self.intel.get().err(),
            SourceKind::History => self.history.get().err(),
            SourceKind::Kev => self.kev.get().err(),
        }
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
}

fn load_csv<T>(
    dir: &Path,
    kind: SourceKind,
    config: &ContextConfig,
    parse: fn(&[u8]) -> Result<T, String>,
) -> Loaded<T> {
    let path = dir.join(kind.file_name());
    let label = format!("context/{}", kind.file_name());
    let max_age = time::Duration::days(kind.max_age_days(config));
    let modified = fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .map(OffsetDateTime::from);
    let source = Source {
        label: label.clone(),
        modified,
        max_age,
    };
    match fs::read(&path) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            Loaded::Unavailable(source, format!("{label} not present"))
        }
        Err(err) => Loaded::Unavailable(source, format!("{label} cannot be read: {err}")),
        Ok(bytes) => match parse(&bytes) {
            Ok(value) => Loaded::Ready(source, value),
            Err(reason) => Loaded::Unavailable(source, format!("{label}: {reason}")),
        },
    }
}
