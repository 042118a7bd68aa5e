//! `warden.toml`: every setting, with its default. Unknown keys are errors,
//! so a typo is caught instead of silently ignored. The doc comments here are
//! the reference (`docs/configuration.md` mirrors them).

use std::path::Path;

use serde::{Deserialize, Serialize};
use warden_assess::AssessorConfig;
use warden_enrich::ContextConfig;
use warden_ingest::CorrelationConfig;
use warden_policy::EscalationConfig;

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Limits on incoming alerts.
    pub ingest: IngestConfig,
    /// How alerts are grouped into cases.
    pub correlation: CorrelationConfig,
    /// How old context files may be.
    pub context: ContextConfig,
    /// The deterministic assessor's weights and thresholds.
    pub assessor: AssessorConfig,
    /// When a person must decide.
    pub escalation: EscalationConfig,
    /// Which policies decide.
    pub policy: PolicyConfig,
    /// The use case (alert family) cases are triaged under.
    pub use_case: UseCaseConfig,
}

/// `[ingest]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Largest alert payload accepted, in bytes (larger ones go to the
    /// dead-letter store).
    pub max_alert_bytes: usize,
    /// Deepest JSON nesting accepted.
    pub max_depth: usize,
    /// An ATT&CK technique table (`{tactics, techniques}` JSON, such as the
    /// compact Enterprise table) used to name techniques and tactics;
    /// relative to the data directory. Unset: ids are kept as sent.
    pub attack_catalogue: Option<String>,
    /// Mapping files (TOML) describing further JSON sources with JSON
    /// pointers, relative to the data directory; see `docs/formats.md`.
    pub mappings: Vec<String>,
}

impl Default for IngestConfig {
    fn default() -> Self {
        let limits = warden_ingest::Limits::default();
        Self {
            max_alert_bytes: limits.max_alert_bytes,
            max_depth: limits.max_depth,
            attack_catalogue: None,
            mappings: Vec::new(),
        }
    }
}

/// `[policy]`
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// A Cedar policy file to use instead of the shipped default set
    /// (relative paths are relative to the data directory). It must
    /// validate against the shipped schema.
    pub policies: Option<String>,
}

/// `[use_case]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UseCaseConfig {
    /// Name of the use case; its agent is the Cedar principal
    /// `Warden::Agent::"<name>"`.
    pub name: String,
    /// shadow, draft, assisted or autonomous (passed to policies as
    /// `context.autonomy`).
    pub autonomy: String,
}

impl Default for UseCaseConfig {
    fn default() -> Self {
        Self {
            name: "default".into(),
            autonomy: "assisted".into(),
        }
    }
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error(
        "{path}: use_case.autonomy must be shadow, draft, assisted or autonomous, not {value:?}"
    )]
    Autonomy { path: String, value: String },
}

impl Config {
    /// Load `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        let config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        if !matches!(
            config.use_case.autonomy.as_str(),
            "shadow" | "draft" | "assisted" | "autonomous"
        ) {
            return Err(ConfigError::Autonomy {
                path: path.display().to_string(),
                value: config.use_case.autonomy,
            });
        }
        Ok(config)
    }

    /// The defaults as a commented TOML file (written by `warden init`).
    pub fn default_file() -> String {
        let body = toml::to_string_pretty(&Config::default()).unwrap_or_default();
        format!(
            "# Warden configuration. Every key is optional; these are the defaults.\n\
             # Reference: docs/configuration.md\n\n{body}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_round_trips() {
        let parsed: Config = toml::from_str(&Config::default_file()).expect("parses");
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let dir = std::env::temp_dir().join(format!("warden-cfg-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("warden.toml");
        std::fs::write(&path, "[correlation]\nwindow_minuts = 5\n").expect("write");
        let err = Config::load(&path).expect_err("typo refused").to_string();
        assert!(err.contains("window_minuts"), "{err}");
        std::fs::write(&path, "[use_case]\nautonomy = \"yolo\"\n").expect("write");
        assert!(Config::load(&path).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
