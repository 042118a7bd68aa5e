//! The tools of the embedded mode: lookups in the context folder, and past
//! cases in the store.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use warden_domain::evidence::EvidenceKind;
use warden_domain::observable::account_name;
use warden_domain::{CaseId, ObservableKind};
use warden_store::CaseReader;

use super::{ContextTool, Finding, ToolBox, ToolError, ToolOutput, schema_of};
use crate::context::{Context, HistoryRecord, IntelRecord, Source, SourceKind};

/// Most entities one call may ask about.
const MAX_ITEMS: usize = 500;

/// Register every embedded tool over `context` and, when given, the store's
/// past cases.
pub fn register_embedded(
    tools: &mut ToolBox,
    context: Arc<Context>,
    past_cases: Option<Arc<dyn CaseReader>>,
) -> Result<(), String> {
    tools.register(Arc::new(AssetTool(context.clone())))?;
    tools.register(Arc::new(IdentityTool(context.clone())))?;
    tools.register(Arc::new(VulnerabilityTool(context.clone())))?;
    tools.register(Arc::new(KevTool(context.clone())))?;
    tools.register(Arc::new(IntelTool(context.clone())))?;
    tools.register(Arc::new(StixTool(context.clone())))?;
    tools.register(Arc::new(HistoryTool(context.clone())))?;
    tools.register(Arc::new(IncidentTool(context)))?;
    if let Some(store) = past_cases {
        tools.register(Arc::new(CaseHistoryTool(store)))?;
    }
    Ok(())
}

/// Parse validated parameters into their type (a mismatch here means the
/// schema and the type disagree, which the tests rule out).
fn params<T: for<'de> Deserialize<'de>>(value: Value) -> Result<T, ToolError> {
    serde_json::from_value(value)
        .map_err(|e| ToolError::Unavailable(format!("parameters do not fit: {e}")))
}

/// A context file as a tool result, or the reason it cannot answer.
fn ready<'a, T: ?Sized>(
    got: Result<(&'a Source, &'a T), String>,
) -> Result<(&'a Source, &'a T), ToolError> {
    got.map_err(ToolError::Unavailable)
}

/// An entity kind, as tools take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Host,
    User,
    Ip,
    Domain,
    Url,
    FileHash,
    Process,
    Email,
    CloudResource,
}

impl From<EntityKind> for ObservableKind {
    fn from(kind: EntityKind) -> Self {
        match kind {
            EntityKind::Host => ObservableKind::Host,
            EntityKind::User => ObservableKind::User,
            EntityKind::Ip => ObservableKind::Ip,
            EntityKind::Domain => ObservableKind::Domain,
            EntityKind::Url => ObservableKind::Url,
            EntityKind::FileHash => ObservableKind::FileHash,
            EntityKind::Process => ObservableKind::Process,
            EntityKind::Email => ObservableKind::Email,
            EntityKind::CloudResource => ObservableKind::CloudResource,
        }
    }
}

/// An entity to look up.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Entity {
    pub kind: EntityKind,
    #[schemars(length(min = 1, max = 2048))]
    pub value: String,
}

// ---------------------------------------------------------------- assets

/// `asset_lookup` parameters.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetParams {
    /// Host names (each one should be in the inventory).
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub hosts: Vec<String>,
    /// IP addresses (matched to an asset when one lists them).
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub ips: Vec<String>,
}

/// Asset inventory lookups (`assets.csv`).
#[derive(Debug)]
pub struct AssetTool(pub Arc<Context>);

#[async_trait]
impl ContextTool for AssetTool {
    fn name(&self) -> &'static str {
        "asset_lookup"
    }
    fn description(&self) -> &'static str {
        "Owner, environment, criticality, exposure and tags of hosts, by host name or IP address."
    }
    fn parameters(&self) -> Value {
        schema_of::<AssetParams>()
    }
    fn source_label(&self) -> String {
        self.0.source(SourceKind::Assets).label()
    }
    fn not_consulted(&self) -> Option<String> {
        self.0.not_consulted(SourceKind::Assets)
    }
    async fn call(&self, value: Value) -> Result<ToolOutput, ToolError> {
        let p: AssetParams = params(value)?;
        let (source, assets) = ready(self.0.assets())?;
        let mut matched: BTreeSet<usize> = BTreeSet::new();
        let mut misses = Vec::new();
        for host in p.hosts.iter().take(MAX_ITEMS) {
            match assets
                .iter()
                .position(|a| a.hostname.eq_ignore_ascii_case(host))
            {
                Some(i) => {
                    matched.insert(i);
                }
                None => misses.push(format!("no asset record for host {host}")),
            }
        }
        for ip in p.ips.iter().take(MAX_ITEMS) {
            match assets
                .iter()
                .position(|a| a.ips.iter().any(|listed| same_ip(listed, ip)))
            {
                Some(i) => {
                    matched.insert(i);
                }
                // An internal address is the inventory's to know; an
                // external one (the internet) is not.
                None if is_internal_address(ip) => {
                    misses.push(format!("no asset record for internal address {ip}"));
                }
                None => {}
            }
        }
        let findings = matched
            .into_iter()
            .filter_map(|i| assets.get(i))
            .map(|asset| Finding {
                kind: EvidenceKind::Asset,
                subject: Some((ObservableKind::Host, asset.hostname.to_ascii_lowercase())),
                summary: format!(
                    "{} is a {} {} asset owned by {}{}",
                    asset.hostname,
                    asset.environment,
                    asset.criticality,
                    asset.owner,
                    if asset.internet_exposed {
                        ", internet-exposed"
                    } else {
                        ""
                    }
                ),
                facts: serde_json::to_value(asset).unwrap_or_default(),
            })
            .collect();
        Ok(ToolOutput {
            source: source.clone(),
            findings,
            misses,
        })
    }
}

/// Whether `text` is an address of an internal network, one an asset
/// inventory should list: private (RFC 1918), loopback, link-local, unique
/// local (RFC 4193, `fc00::/7`), or shared carrier-grade NAT space
/// (`100.64.0.0/10`); an IPv4-mapped IPv6 address as its IPv4 address.
/// Not an address: `false`.
pub fn is_internal_address(text: &str) -> bool {
    use std::net::{IpAddr, Ipv4Addr};
    let internal_v4 = |ip: Ipv4Addr| {
        let [a, b, ..] = ip.octets();
        ip.is_private() || ip.is_loopback() || ip.is_link_local() || (a == 100 && b & 0xc0 == 64)
    };
    match text.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => internal_v4(ip),
        Ok(IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
            Some(v4) => internal_v4(v4),
            None => {
                let [first, ..] = ip.segments();
                ip.is_loopback() || first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfe80
            }
        },
        Err(_) => false,
    }
}

pub(super) use warden_domain::same_ip;

// ------------------------------------------------------------ identities

/// `identity_lookup` parameters.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityParams {
    /// Account names, with or without `DOMAIN\` or `@suffix`.
    #[schemars(length(max = 500))]
    pub users: Vec<String>,
}

/// Identity lookups (`identities.csv`).
#[derive(Debug)]
pub struct IdentityTool(pub Arc<Context>);

#[async_trait]
impl ContextTool for IdentityTool {
    fn name(&self) -> &'static str {
        "identity_lookup"
    }
    fn description(&self) -> &'static str {
        "Role, privilege, account type, MFA state, usual countries and tags of accounts."
    }
    fn parameters(&self) -> Value {
        schema_of::<IdentityParams>()
    }
    fn source_label(&self) -> String {
        self.0.source(SourceKind::Identities).label()
    }
    fn not_consulted(&self) -> Option<String> {
        self.0.not_consulted(SourceKind::Identities)
    }
    async fn call(&self, value: Value) -> Result<ToolOutput, ToolError> {
        let p: IdentityParams = params(value)?;
        let (source, identities) = ready(self.0.identities())?;
        let mut findings = Vec::new();
        let mut misses = Vec::new();
        for user in p.users.iter().take(MAX_ITEMS) {
            let (name, domain) = identity_parts(user);
            let same_name = || {
                identities
                    .iter()
                    .filter(|i| account_name(&i.user).eq_ignore_ascii_case(&name))
            };
            // The full identity: a row that names its domain is matched
            // only with it; a row that names none stands for the name in
            // the directory's own domains (`Context::home_domains`; any
            // domain when none is known) and for the bare name.
            let home = self.0.home_domains();
            let verified = same_name().find(|i| match (identity_parts(&i.user).1, &domain) {
                (Some(row_domain), _) => Some(&row_domain) == domain.as_ref(),
                (None, None) => true,
                (None, Some(domain)) => home.is_empty() || home.contains(domain),
            });
            match (verified, same_name().next()) {
                // The row's facts, as they are (a verified match carries no
                // flag: only an unverified one says so).
                (Some(identity), _) => {
                    let facts = serde_json::to_value(identity).unwrap_or_default();
                    findings.push(Finding {
                        kind: EvidenceKind::Identity,
                        subject: Some((ObservableKind::User, user.clone())),
                        summary: format!(
                            "{} ({}, {}) is a {}{} account, MFA {}",
                            identity.user,
                            identity.display_name,
                            identity.role,
                            if identity.privileged {
                                "privileged "
                            } else {
                                ""
                            },
                            identity.user_type,
                            identity.mfa
                        ),
                        facts,
                    });
                }
                // Same account name, other or missing domain: not the same
                // person. Said so, with none of the row's facts, and a gap.
                (None, Some(partial)) => {
                    findings.push(Finding {
                        kind: EvidenceKind::Identity,
                        subject: Some((ObservableKind::User, user.clone())),
                        summary: format!(
                            "{user} is not verified: only its account name matches {}",
                            partial.user
                        ),
                        facts: json!({
                            "match": "unverified",
                            "user": user,
                            "partial_match": partial.user,
                        }),
                    });
                    misses.push(format!(
                        "identity of user {user} not verified: only the account name matches {}",
                        partial.user
                    ));
                }
                (None, None) => misses.push(format!("no identity record for user {user}")),
            }
        }
        Ok(ToolOutput {
            source: source.clone(),
            findings,
            misses,
        })
    }
}

/// An account as `(name, domain)`, both lower case: `CORP\jdoe` gives
/// `("jdoe", Some("corp"))`, `jdoe@corp.example` gives `("jdoe",
/// Some("corp.example"))`, `jdoe` gives `("jdoe", None)`. A NetBIOS and a
/// DNS domain name are different domains here: only the same spelling
/// verifies.
fn identity_parts(user: &str) -> (String, Option<String>) {
    let user = user.trim().to_ascii_lowercase();
    if let Some((domain, name)) = user.rsplit_once('\\') {
        return (account_name(name).to_owned(), Some(domain.to_owned()));
    }
    match user.split_once('@') {
        Some((name, domain)) => (name.to_owned(), Some(domain.to_owned())),
        None => (user, None),
    }
}

// ------------------------------------------------------- vulnerabilities

/// `vulnerability_lookup` parameters.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VulnerabilityParams {
    /// Inventory host names.
    #[schemars(length(max = 500))]
    pub hosts: Vec<String>,
}

/// Known vulnerabilities per host (`vulnerabilities.csv`).
#[derive(Debug)]
pub struct VulnerabilityTool(pub Arc<Context>);

#[async_trait]
impl ContextTool for VulnerabilityTool {
    fn name(&self) -> &'static str {
        "vulnerability_lookup"
    }
    fn description(&self) -> &'static str {
        "CVEs known to be present on hosts."
    }
    fn parameters(&self) -> Value {
        schema_of::<VulnerabilityParams>()
    }
    fn source_label(&self) -> String {
        self.0.source(SourceKind::Vulnerabilities).label()
    }
    fn not_consulted(&self) -> Option<String> {
        self.0.not_consulted(SourceKind::Vulnerabilities)
    }
    async fn call(&self, value: Value) -> Result<ToolOutput, ToolError> {
        let p: VulnerabilityParams = params(value)?;
        let (source, vulns) = ready(self.0.vulnerabilities())?;
        let mut findings = Vec::new();
        for host in p.hosts.iter().take(MAX_ITEMS) {
            let host = host.to_ascii_lowercase();
            for vuln in vulns
                .iter()
                .filter(|v| v.hostname.eq_ignore_ascii_case(&host))
            {
                findings.push(Finding {
                    kind: EvidenceKind::Vulnerability,
                    subject: Some((ObservableKind::Host, host.clone())),
                    summary: format!("{host} has {}", vuln.cve),
                    facts: json!({"hostname": host, "cve": vuln.cve}),
                });
            }
        }
        Ok(ToolOutput {
            source: source.clone(),
            findings,
            misses: Vec::new(),
        })
    }
}

// ------------------------------------------------------------------- KEV

/// `kev_lookup` parameters.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KevParams {
    /// CVE ids (`CVE-2021-44228`).
    #[schemars(length(max = 500), inner(regex(pattern = r"^(?i)CVE-\d{4}-\d{4,}$")))]
    pub cves: Vec<String>,
}

/// The CISA Known Exploited Vulnerabilities catalogue (`kev.json`).
#[derive(Debug)]
pub struct KevTool(pub Arc<Context>);

#[async_trait]
impl ContextTool for KevTool {
    fn name(&self) -> &'static str {
        "kev_lookup"
    }
    fn description(&self) -> &'static str {
        "Whether CVEs are on the CISA Known Exploited Vulnerabilities list, with the entry."
    }
    fn parameters(&self) -> Value {
        schema_of::<KevParams>()
    }
    fn source_label(&self) -> String {
        self.0.source(SourceKind::Kev).label()
    }
    fn not_consulted(&self) -> Option<String> {
        self.0.not_consulted(SourceKind::Kev)
    }
    async fn call(&self, value: Value) -> Result<ToolOutput, ToolError> {
        let p: KevParams = params(value)?;
        let (source, catalogue) = ready(self.0.kev())?;
        let findings = p
            .cves
            .iter()
            .take(MAX_ITEMS)
            .filter_map(|cve| {
                let cve = cve.to_ascii_uppercase();
                catalogue.get(&cve).map(|entry| Finding {
                    kind: EvidenceKind::Vulnerability,
                    subject: None,
                    summary: format!(
                        "{cve} is on the CISA KEV list ({})",
                        entry.vulnerability_name
                    ),
                    facts: json!({"cve": cve, "kev_entry": entry}),
                })
            })
            .collect();
        Ok(ToolOutput {
            source: source.clone(),
            findings,
            misses: Vec::new(),
        })
    }
}

// ----------------------------------------------------------------- intel

/// `intel_lookup` and `stix_lookup` parameters.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IndicatorParams {
    #[schemars(length(max = 500))]
    pub indicators: Vec<Entity>,
}

fn intel_findings(records: &[IntelRecord], indicators: &[Entity], origin: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    for entity in indicators.iter().take(MAX_ITEMS) {
        let kind = ObservableKind::from(entity.kind);
        for hit in records.iter().filter(|i| i.matches(kind, &entity.value)) {
            findings.push(Finding {
                kind: EvidenceKind::Intel,
                subject: Some((kind, entity.value.clone())),
                summary: format!(
                    "{} is {} per {} (confidence {})",
                    entity.value, hit.verdict, hit.source, hit.confidence
                ),
                facts: json!({
                    "indicator": hit.indicator,
                    "type": hit.indicator_type,
                    "verdict": hit.verdict,
                    "source": hit.source,
                    "confidence": hit.confidence,
                    "tags": hit.tags,
                    "feed": origin,
                }),
            });
        }
    }
    findings
}

/// Threat intel matches (`intel.csv`).
#[derive(Debug)]
pub struct IntelTool(pub Arc<Context>);

#[async_trait]
impl ContextTool for IntelTool {
    fn name(&self) -> &'static str {
        "intel_lookup"
    }
    fn description(&self) -> &'static str {
        "Verdict, source and confidence of indicators (IPs, domains, URLs, hashes, emails) in the intel list."
    }
    fn parameters(&self) -> Value {
        schema_of::<IndicatorParams>()
    }
    fn source_label(&self) -> String {
        self.0.source(SourceKind::Intel).label()
    }
    fn not_consulted(&self) -> Option<String> {
        self.0.not_consulted(SourceKind::Intel)
    }
    async fn call(&self, value: Value) -> Result<ToolOutput, ToolError> {
        let p: IndicatorParams = params(value)?;
        let (source, records) = ready(self.0.intel())?;
        Ok(ToolOutput {
            source: source.clone(),
            findings: intel_findings(records, &p.indicators, "intel.csv"),
            misses: Vec::new(),
        })
    }
}

/// Threat intel matches in STIX 2.1 indicator bundles (`stix/`).
#[derive(Debug)]
pub struct StixTool(pub Arc<Context>);

#[async_trait]
impl ContextTool for StixTool {
    fn name(&self) -> &'static str {
        "stix_lookup"
    }
    fn description(&self) -> &'static str {
        "Indicators (IPs, domains, URLs, hashes, emails) matched against STIX 2.1 indicator bundles."
    }
    fn parameters(&self) -> Value {
        schema_of::<IndicatorParams>()
    }
    fn source_label(&self) -> String {
        self.0.source(SourceKind::Stix).label()
    }
    fn not_consulted(&self) -> Option<String> {
        self.0.not_consulted(SourceKind::Stix)
    }
    async fn call(&self, value: Value) -> Result<ToolOutput, ToolError> {
        let p: IndicatorParams = params(value)?;
        let (source, records) = ready(self.0.stix())?;
        Ok(ToolOutput {
            source: source.clone(),
            findings: intel_findings(records, &p.indicators, "stix"),
            misses: Vec::new(),
        })
    }
}

// --------------------------------------------------------------- history

/// `history_lookup` parameters.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    /// Rule names as alerts carry them.
    #[schemars(length(max = 100))]
    pub rules: Vec<String>,
    /// Entity values (host names, users, IPs, hashes...).
    #[schemars(length(max = 500))]
    pub entities: Vec<String>,
}

/// Past dispositions of the same rule on the same entity (`history.csv`).
#[derive(Debug)]
pub struct HistoryTool(pub Arc<Context>);

#[async_trait]
impl ContextTool for HistoryTool {
    fn name(&self) -> &'static str {
        "history_lookup"
    }
    fn description(&self) -> &'static str {
        "How earlier cases of the same rule on the same entity were closed, and whether they were escalated."
    }
    fn parameters(&self) -> Value {
        schema_of::<HistoryParams>()
    }
    fn source_label(&self) -> String {
        self.0.source(SourceKind::History).label()
    }
    fn not_consulted(&self) -> Option<String> {
        self.0.not_consulted(SourceKind::History)
    }
    async fn call(&self, value: Value) -> Result<ToolOutput, ToolError> {
        let p: HistoryParams = params(value)?;
        let (source, history) = ready(self.0.history())?;
        let rules: BTreeSet<String> = p.rules.iter().map(|r| r.to_lowercase()).collect();
        let entities: BTreeSet<String> = p
            .entities
            .iter()
            .take(MAX_ITEMS)
            .map(|e| e.to_lowercase())
            .collect();
        let mut tally: BTreeMap<(String, String), Vec<&HistoryRecord>> = BTreeMap::new();
        for record in history.iter().filter(|r| {
            rules.contains(&r.rule.to_lowercase()) && entities.contains(&r.entity.to_lowercase())
        }) {
            tally
                .entry((record.rule.clone(), record.entity.to_lowercase()))
                .or_default()
                .push(record);
        }
        let findings = tally
            .into_iter()
            .map(|((rule, entity), records)| {
                let count = |d: &str| records.iter().filter(|r| r.disposition == d).count();
                let escalated = records.iter().filter(|r| r.escalated).count();
                Finding {
                    kind: EvidenceKind::History,
                    subject: None,
                    summary: format!(
                        "\"{rule}\" on {entity} before: {} true positive, {} false positive, \
                         {} benign, {escalated} escalated",
                        count("true_positive"),
                        count("false_positive"),
                        count("benign"),
                    ),
                    facts: json!({
                        "rule": rule,
                        "entity": entity,
                        "true_positive": count("true_positive"),
                        "false_positive": count("false_positive"),
                        "benign": count("benign"),
                        "escalated": escalated,
                        "last_closed_at": records.iter().map(|r| r.closed_at.as_str()).max(),
                    }),
                }
            })
            .collect();
        Ok(ToolOutput {
            source: source.clone(),
            findings,
            misses: Vec::new(),
        })
    }
}

// ------------------------------------------------------------- incidents

/// `incident_lookup` parameters.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentParams {
    /// Entity values (host names, users, IPs, hashes, domains).
    #[schemars(length(max = 500))]
    pub entities: Vec<String>,
}

/// Active (open or contained) incidents that involve an entity
/// (`incidents.csv`).
#[derive(Debug)]
pub struct IncidentTool(pub Arc<Context>);

#[async_trait]
impl ContextTool for IncidentTool {
    fn name(&self) -> &'static str {
        "incident_lookup"
    }
    fn description(&self) -> &'static str {
        "Open or contained incidents that involve any of the given entities."
    }
    fn parameters(&self) -> Value {
        schema_of::<IncidentParams>()
    }
    fn source_label(&self) -> String {
        self.0.source(SourceKind::Incidents).label()
    }
    fn not_consulted(&self) -> Option<String> {
        self.0.not_consulted(SourceKind::Incidents)
    }
    async fn call(&self, value: Value) -> Result<ToolOutput, ToolError> {
        let p: IncidentParams = params(value)?;
        let (source, incidents) = ready(self.0.incidents())?;
        let wanted: BTreeSet<String> = p
            .entities
            .iter()
            .take(MAX_ITEMS)
            .map(|e| e.to_lowercase())
            .collect();
        let findings = incidents
            .iter()
            .filter(|i| i.is_active())
            .filter_map(|incident| {
                let shared: Vec<String> = incident
                    .entities
                    .iter()
                    .map(|e| e.to_lowercase())
                    .filter(|e| wanted.contains(e))
                    .collect();
                (!shared.is_empty()).then(|| Finding {
                    kind: EvidenceKind::Incident,
                    subject: None,
                    summary: format!(
                        "{} incident {} \"{}\" ({}) involves {}",
                        incident.status,
                        incident.id,
                        incident.title,
                        incident.severity,
                        shared.join(", ")
                    ),
                    facts: json!({
                        "incident_id": incident.id,
                        "title": incident.title,
                        "status": incident.status,
                        "severity": incident.severity,
                        "opened_at": incident.opened_at,
                        "shared": shared,
                    }),
                })
            })
            .collect();
        Ok(ToolOutput {
            source: source.clone(),
            findings,
            misses: Vec::new(),
        })
    }
}

// ------------------------------------------------------------ past cases

/// `case_history` parameters.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseHistoryParams {
    /// Structured entities of the case.
    #[schemars(length(max = 200))]
    pub entities: Vec<Entity>,
    /// The case being triaged, left out of the answer.
    #[serde(default)]
    pub exclude_case: Option<String>,
    /// Most cases returned.
    #[serde(default = "default_case_limit")]
    #[schemars(range(min = 1, max = 100))]
    pub limit: u32,
}

fn default_case_limit() -> u32 {
    20
}

/// Earlier cases in the store that shared an entity.
pub struct CaseHistoryTool(pub Arc<dyn CaseReader>);

impl std::fmt::Debug for CaseHistoryTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CaseHistoryTool")
    }
}

/// The source label of past cases.
const STORE_CASES: &str = "store: past cases";

#[async_trait]
impl ContextTool for CaseHistoryTool {
    fn name(&self) -> &'static str {
        "case_history"
    }
    fn description(&self) -> &'static str {
        "Earlier cases in Warden's store that involved the same entities: verdict, disposition, whether escalated, whether still open."
    }
    fn parameters(&self) -> Value {
        schema_of::<CaseHistoryParams>()
    }
    fn source_label(&self) -> String {
        STORE_CASES.into()
    }
    async fn call(&self, value: Value) -> Result<ToolOutput, ToolError> {
        let p: CaseHistoryParams = params(value)?;
        let exclude = match p.exclude_case.as_deref() {
            Some(text) => Some(CaseId::parse(text).map_err(|e| {
                ToolError::Unavailable(format!("exclude_case {text:?} is not a case id: {e}"))
            })?),
            None => None,
        };
        let entities: Vec<(ObservableKind, String)> = p
            .entities
            .into_iter()
            .map(|e| (ObservableKind::from(e.kind), e.value))
            .collect();
        let related = self
            .0
            .related_cases(&entities, exclude, p.limit)
            .await
            .map_err(|e| ToolError::Transient(format!("past cases unavailable: {e}")))?;
        let findings = related
            .into_iter()
            .map(|past| {
                let case = &past.case;
                let escalated = past.was_escalated();
                let open = past.is_open();
                let shared: Vec<String> = past
                    .shared
                    .iter()
                    .map(|(kind, value)| format!("{kind} {value}"))
                    .collect();
                Finding {
                    kind: EvidenceKind::PastCase,
                    subject: None,
                    summary: format!(
                        "earlier case {} \"{}\" ({}, {}{}) shared {}",
                        case.id,
                        case.title,
                        case.verdict.map(|v| v.as_str()).unwrap_or("no verdict"),
                        case.state,
                        if escalated { ", escalated" } else { "" },
                        shared.join(", ")
                    ),
                    facts: json!({
                        "case_id": case.id.to_string(),
                        "title": case.title,
                        "rules": past.rules,
                        "verdict": case.verdict.map(|v| v.as_str()),
                        "disposition": case.disposition,
                        "state": case.state,
                        "escalated": escalated,
                        "open": open,
                        "created_at": case.created_at.unix_timestamp(),
                        "shared": shared,
                    }),
                }
            })
            .collect();
        Ok(ToolOutput {
            source: Source::live(STORE_CASES),
            findings,
            misses: Vec::new(),
        })
    }
}
