//! Typed rows of the context files, and their parsers.
//!
//! CSV files need a header row; extra columns are allowed; lists are
//! `;`-separated; booleans are `true`/`false`. A bad row is an error naming
//! its line and column, so a broken inventory is noticed, not half-used.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use warden_domain::ObservableKind;

/// Where an asset runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    Production,
    Staging,
    Development,
    Test,
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Environment::Production => "production",
            Environment::Staging => "staging",
            Environment::Development => "development",
            Environment::Test => "test",
        })
    }
}

/// Business criticality; tier 0 is the most critical (domain controllers,
/// identity providers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Criticality {
    #[serde(rename = "tier_0")]
    Tier0,
    #[serde(rename = "tier_1")]
    Tier1,
    #[serde(rename = "tier_2")]
    Tier2,
    #[serde(rename = "tier_3")]
    Tier3,
}

impl fmt::Display for Criticality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Criticality::Tier0 => "tier_0",
            Criticality::Tier1 => "tier_1",
            Criticality::Tier2 => "tier_2",
            Criticality::Tier3 => "tier_3",
        })
    }
}

/// A row of `assets.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetRecord {
    pub hostname: String,
    #[serde(deserialize_with = "list")]
    pub ips: Vec<String>,
    pub owner: String,
    pub environment: Environment,
    pub criticality: Criticality,
    #[serde(deserialize_with = "boolean")]
    pub internet_exposed: bool,
    #[serde(deserialize_with = "list", default)]
    pub tags: Vec<String>,
}

impl AssetRecord {
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
    }
}

/// A row of `identities.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityRecord {
    pub user: String,
    pub display_name: String,
    pub department: String,
    pub role: String,
    #[serde(deserialize_with = "boolean")]
    pub privileged: bool,
    /// `human` or `service_account`.
    pub user_type: UserType,
    /// `enabled` or `disabled`.
    pub mfa: MfaState,
    #[serde(deserialize_with = "list", default)]
    pub usual_countries: Vec<String>,
    #[serde(deserialize_with = "list", default)]
    pub tags: Vec<String>,
}

impl IdentityRecord {
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserType {
    Human,
    ServiceAccount,
}

impl fmt::Display for UserType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UserType::Human => "human",
            UserType::ServiceAccount => "service_account",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaState {
    Enabled,
    Disabled,
}

impl fmt::Display for MfaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MfaState::Enabled => "enabled",
            MfaState::Disabled => "disabled",
        })
    }
}

/// A row of `vulnerabilities.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VulnerabilityRecord {
    pub hostname: String,
    pub cve: String,
}

/// A row of `intel.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntelRecord {
    pub indicator: String,
    /// `ip`, `domain`, `url`, `sha256`, `sha1`, `md5` or `email`.
    #[serde(rename = "type")]
    pub indicator_type: IndicatorType,
    /// `malicious`, `suspicious` or `benign`.
    pub verdict: IntelVerdict,
    pub source: String,
    /// 0 to 100.
    pub confidence: u8,
    #[serde(deserialize_with = "list", default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndicatorType {
    Ip,
    Domain,
    Url,
    Sha256,
    Sha1,
    Md5,
    Email,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntelVerdict {
    Malicious,
    Suspicious,
    Benign,
}

impl fmt::Display for IntelVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IntelVerdict::Malicious => "malicious",
            IntelVerdict::Suspicious => "suspicious",
            IntelVerdict::Benign => "benign",
        })
    }
}

impl IntelRecord {
    /// Whether this indicator is the observable `value` of `kind`.
    pub fn matches(&self, kind: ObservableKind, value: &str) -> bool {
        let type_fits = matches!(
            (self.indicator_type, kind),
            (IndicatorType::Ip, ObservableKind::Ip)
                | (
                    IndicatorType::Domain,
                    ObservableKind::Domain | ObservableKind::Host
                )
                | (IndicatorType::Url, ObservableKind::Url)
                | (
                    IndicatorType::Sha256 | IndicatorType::Sha1 | IndicatorType::Md5,
                    ObservableKind::FileHash
                )
                | (IndicatorType::Email, ObservableKind::Email)
        );
        type_fits && self.indicator.trim().eq_ignore_ascii_case(value)
    }
}

/// A row of `history.csv`: a past case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRecord {
    pub rule: String,
    pub entity: String,
    /// `true_positive`, `false_positive` or `benign`.
    pub disposition: String,
    #[serde(deserialize_with = "boolean")]
    pub escalated: bool,
    pub closed_at: String,
}

/// A CISA KEV catalogue entry (the fields triage uses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KevEntry {
    #[serde(rename = "cveID")]
    pub cve_id: String,
    pub vendor_project: String,
    pub product: String,
    pub vulnerability_name: String,
    pub date_added: String,
    #[serde(default)]
    pub known_ransomware_campaign_use: String,
}

#[derive(Deserialize)]
struct KevCatalogue {
    vulnerabilities: Vec<KevEntry>,
}

fn list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
    Ok(text
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect())
}

fn boolean<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    let text = String::deserialize(deserializer)?;
    match text.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(serde::de::Error::custom(format!(
            "expected true or false, found {other:?}"
        ))),
    }
}

fn parse_rows<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<Vec<T>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut rows = Vec::new();
    for row in reader.deserialize() {
        rows.push(row.map_err(|err| match err.position() {
            Some(pos) => format!("line {}: {}", pos.line(), describe(&err)),
            None => describe(&err),
        })?);
    }
    Ok(rows)
}

/// The csv crate's message without its own position prefix.
fn describe(err: &csv::Error) -> String {
    match err.kind() {
        csv::ErrorKind::Deserialize { err, .. } => match err.field() {
            Some(field) => format!("column {}: {}", field + 1, err.kind()),
            None => err.kind().to_string(),
        },
        _ => err.to_string(),
    }
}

pub(super) fn parse_assets(bytes: &[u8]) -> Result<Vec<AssetRecord>, String> {
    parse_rows(bytes)
}

pub(super) fn parse_identities(bytes: &[u8]) -> Result<Vec<IdentityRecord>, String> {
    parse_rows(bytes)
}

pub(super) fn parse_vulnerabilities(bytes: &[u8]) -> Result<Vec<VulnerabilityRecord>, String> {
    parse_rows(bytes)
}

pub(super) fn parse_intel(bytes: &[u8]) -> Result<Vec<IntelRecord>, String> {
    let rows: Vec<IntelRecord> = parse_rows(bytes)?;
    if let Some((index, _)) = rows.iter().enumerate().find(|(_, r)| r.confidence > 100) {
        return Err(format!("line {}: confidence over 100", index + 2));
    }
    Ok(rows)
}

pub(super) fn parse_history(bytes: &[u8]) -> Result<Vec<HistoryRecord>, String> {
    let rows: Vec<HistoryRecord> = parse_rows(bytes)?;
    for (index, row) in rows.iter().enumerate() {
        if !matches!(
            row.disposition.as_str(),
            "true_positive" | "false_positive" | "benign"
        ) {
            return Err(format!(
                "line {}: disposition {:?} is not true_positive, false_positive or benign",
                index + 2,
                row.disposition
            ));
        }
    }
    Ok(rows)
}

pub(super) fn parse_kev(bytes: &[u8]) -> Result<HashMap<String, KevEntry>, String> {
    let catalogue: KevCatalogue =
        serde_json::from_slice(bytes).map_err(|err| format!("not a KEV catalogue: {err}"))?;
    Ok(catalogue
        .vulnerabilities
        .into_iter()
        .map(|entry| (entry.cve_id.to_ascii_uppercase(), entry))
        .collect())
}
