//! Typed rows of the context files, and their parsers.
//!
//! CSV files need a header row; extra columns are allowed; lists are
//! `;`-separated; booleans are `true`/`false`. A bad row is an error naming
//! its line and column, so a broken inventory is noticed, not half-used.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use warden_domain::{ObservableKind, Severity};

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
    /// The EDR agent's id for this host (optional column): with it, an
    /// alert that names the host and carries this agent id is proven to be
    /// about this asset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// A row of `incidents.csv`: an incident the SOC is working or has worked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentRecord {
    pub id: String,
    pub title: String,
    /// `open`, `contained` or `closed`.
    pub status: IncidentStatus,
    /// `informational`, `low`, `medium`, `high` or `critical`.
    pub severity: Severity,
    /// Host names, users, IPs, hashes, domains... as alerts carry them.
    #[serde(deserialize_with = "list")]
    pub entities: Vec<String>,
    /// RFC 3339.
    #[serde(
        deserialize_with = "opened_at_time",
        serialize_with = "time::serde::rfc3339::serialize"
    )]
    pub opened_at: OffsetDateTime,
}

impl IncidentRecord {
    /// Open or contained: the incident is still being worked.
    pub fn is_active(&self) -> bool {
        self.status.is_active()
    }

    /// Whether `entity` is one of the incident's entities (ignoring case).
    pub fn involves(&self, entity: &str) -> bool {
        self.entities
            .iter()
            .any(|e| e.eq_ignore_ascii_case(entity.trim()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    Open,
    Contained,
    Closed,
}

impl IncidentStatus {
    /// Open or contained.
    pub fn is_active(self) -> bool {
        matches!(self, IncidentStatus::Open | IncidentStatus::Contained)
    }
}

impl fmt::Display for IncidentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IncidentStatus::Open => "open",
            IncidentStatus::Contained => "contained",
            IncidentStatus::Closed => "closed",
        })
    }
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

/// `opened_at`: RFC 3339, named in the error (the csv crate gives no column
/// for a custom error).
fn opened_at_time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OffsetDateTime, D::Error> {
    let text = String::deserialize(deserializer)?;
    OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339).map_err(
        |_| serde::de::Error::custom(format!("opened_at {text:?} is not an RFC 3339 time")),
    )
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

pub(super) fn parse_incidents(bytes: &[u8]) -> Result<Vec<IncidentRecord>, String> {
    let rows: Vec<IncidentRecord> = parse_rows(bytes)?;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (index, row) in rows.iter().enumerate() {
        let line = index + 2;
        if row.id.is_empty() {
            return Err(format!("line {line}: id is empty"));
        }
        if let Some(first) = seen.insert(row.id.as_str(), line) {
            return Err(format!(
                "line {line}: incident id {:?} is already on line {first}",
                row.id
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
