//! Enrichment: read-only context gathered for a case, as citable evidence.
//!
//! # Layout
//!
//! - [`context`]: the context folder of the embedded mode (`assets.csv`,
//!   `identities.csv`, `vulnerabilities.csv`, `intel.csv`, `history.csv`,
//!   `kev.json`, `incidents.csv`, STIX 2.1 bundles in `stix/`, and
//!   `freshness.toml` for as-of times), loaded into typed records with each
//!   source's age, and a validation case's folder merged over its set's.
//! - [`tools`]: every context source as a [`tools::ContextTool`] (a name, a
//!   description, a JSON Schema for its parameters) and [`ToolBox`], the
//!   one wrapper every call goes through: schema validation, a time-out per
//!   attempt, retries with doubling backoff, a result size cap and the
//!   stale-source check. `tools/embedded.rs` holds the embedded tools: one
//!   per context file, plus `case_history` over the store's past cases.
//! - [`redact`]: secrets replaced by typed placeholders
//!   (`[REDACTED:aws_access_key]`) before any text is stored or assessed.
//! - [`enrich`] (this file): runs the tools a case's playbook names over
//!   the case's entities and returns [`Evidence`] items with ids the
//!   assessors cite, redacted, plus [`EvidenceGap`]s for every configured
//!   source that was needed but missing, unreadable, failed, or stale and
//!   silent (and for internal hosts, addresses and users a configured
//!   inventory does not list), the sources never configured and so not
//!   consulted, and a line per tool call for the record.
//!
//! INVARIANT (S4): a configured source that is absent, broken or stale is
//! never skipped silently; it becomes a gap or a stale evidence item, which
//! escalates. A source the deployment never configured is not consulted,
//! and [`Enrichment::not_consulted`] says so.

pub mod context;
/// Redaction lives in `warden-domain` (the executor and the server need it
/// too); its tests on real alert text stay here, beside the ingest they use.
pub mod redact {
    pub use warden_domain::redact::*;

    #[cfg(test)]
    mod tests;
}
pub mod tools;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use time::OffsetDateTime;
use warden_domain::evidence::EvidenceKind;
use warden_domain::{Alert, CaseId, Evidence, EvidenceGap, EvidenceId, Freshness, ObservableKind};

pub use context::{Context, ContextConfig, ContextError, Source};
pub use tools::{ToolBox, ToolConfig, ToolResult, register_embedded};

use tools::Finding;

/// One context tool call, as the audit log records it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub tool: String,
    pub parameters: serde_json::Value,
    /// `2 findings`, `1 finding after 2 attempts`, `failed`.
    pub outcome: String,
}

/// What enrichment produced for one case.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Enrichment {
    pub evidence: Vec<Evidence>,
    pub gaps: Vec<EvidenceGap>,
    /// One line per tool call (`asset_lookup: 2 findings`), for the record.
    pub calls: Vec<String>,
    /// Every tool call with its arguments, for the audit log.
    pub tool_calls: Vec<ToolCall>,
    /// Kinds of secrets redacted from evidence, one per secret.
    pub redacted: Vec<&'static str>,
    /// Sources the plan would have asked that this deployment never
    /// configured, with why (`stix (not configured)`): not consulted, and
    /// not gaps.
    pub not_consulted: Vec<String>,
}

impl Enrichment {
    /// Ids of every evidence item (what rationale may cite).
    pub fn ids(&self) -> Vec<EvidenceId> {
        self.evidence.iter().map(|e| e.id.clone()).collect()
    }

    /// Sources consulted, for the audit record.
    pub fn sources(&self) -> Vec<String> {
        sources_of(&self.evidence)
    }

    /// Record `finding` from `source` as the next evidence item.
    fn push(
        &mut self,
        source: &Source,
        finding: Finding,
        freshness: Freshness,
        now: OffsetDateTime,
    ) -> EvidenceId {
        let Finding {
            kind,
            subject,
            summary,
            mut facts,
        } = finding;
        // Nothing an assessor, the store or the audit log sees keeps a
        // secret the alert quoted.
        let summary = redact::redact(&summary);
        self.redacted.extend(summary.kinds);
        self.redacted.extend(redact::redact_value(&mut facts));
        let summary = summary.text;
        let subject = subject.map(|(kind, value)| (kind, redact::redacted(&value)));
        let id = match kind {
            EvidenceKind::Alert => EvidenceId::alert(
                self.evidence
                    .iter()
                    .filter(|e| e.kind == EvidenceKind::Alert)
                    .count()
                    + 1,
            ),
            _ => EvidenceId::enrichment(
                self.evidence
                    .iter()
                    .filter(|e| e.kind != EvidenceKind::Alert)
                    .count()
                    + 1,
            ),
        };
        self.evidence.push(Evidence {
            id: id.clone(),
            kind,
            source: source.label(),
            subject,
            summary,
            facts,
            collected_at: now,
            freshness,
        });
        id
    }

    fn note_not_consulted(&mut self, line: String) {
        if !self.not_consulted.contains(&line) {
            self.not_consulted.push(line);
        }
    }

    fn add_gap(&mut self, gap: EvidenceGap) {
        // A gap names what could not be looked up: redacted like evidence.
        let gap = EvidenceGap {
            source: redact::redacted(&gap.source),
            reason: redact::redacted(&gap.reason),
        };
        if !self.gaps.contains(&gap) {
            self.gaps.push(gap);
        }
    }
}

/// The distinct sources of `evidence`, sorted, for the audit record.
pub fn sources_of(evidence: &[Evidence]) -> Vec<String> {
    let sources: BTreeSet<&str> = evidence.iter().map(|e| e.source.as_str()).collect();
    sources.into_iter().map(str::to_owned).collect()
}

/// Tools run when a playbook does not list any: every embedded one.
pub const DEFAULT_PLAN: &[&str] = &[
    "asset_lookup",
    "identity_lookup",
    "vulnerability_lookup",
    "kev_lookup",
    "intel_lookup",
    "stix_lookup",
    "history_lookup",
    "incident_lookup",
    "case_history",
];

/// What to enrich: the case's alerts, the case itself (left out of its own
/// history), and which tools the use case's playbook runs.
#[derive(Debug, Clone, Copy)]
pub struct EnrichRequest<'a> {
    pub alerts: &'a [Alert],
    pub case_id: Option<CaseId>,
    pub plan: &'a [String],
}

impl EnrichRequest<'_> {
    fn runs(&self, tool: &str) -> bool {
        if self.plan.is_empty() {
            DEFAULT_PLAN.contains(&tool)
        } else {
            self.plan.iter().any(|t| t == tool)
        }
    }

    /// The plan runs `tool` and its source is configured.
    fn consults(&self, tools: &ToolBox, tool: &str) -> bool {
        self.runs(tool) && tools.not_consulted(tool).is_none()
    }
}

/// Gather evidence for a case through the tools its playbook names. Every
/// text that reaches evidence is redacted first.
pub async fn enrich(
    request: &EnrichRequest<'_>,
    tools: &ToolBox,
    now: OffsetDateTime,
) -> Enrichment {
    let alerts = request.alerts;
    let mut out = Enrichment::default();

    // Sources the plan names that the deployment never set up: not asked,
    // and said so (whether or not the case had anything to ask them).
    for tool in DEFAULT_PLAN.iter().filter(|tool| request.runs(tool)) {
        if let Some(line) = tools.not_consulted(tool) {
            out.note_not_consulted(line);
        }
    }

    // The alerts themselves are evidence (ev-alert-N).
    for alert in alerts {
        let techniques: Vec<&str> = alert.attacks.iter().map(|a| a.id.as_str()).collect();
        let finding = Finding {
            kind: EvidenceKind::Alert,
            subject: None,
            summary: format!(
                "{} alert \"{}\" from {} ({})",
                alert.severity.level, alert.rule.name, alert.product, alert.format
            ),
            facts: json!({
                "alert_id": alert.id,
                "rule": alert.rule.name,
                "rule_uid": alert.rule.uid,
                "severity": alert.severity.level,
                "vendor_severity": alert.severity.original,
                "product": alert.product,
                "time": alert.time.unix_timestamp(),
                "techniques": techniques,
                "source_countries": alert.source_countries(),
            }),
        };
        out.push(
            &Source::alert(&alert.origin),
            finding,
            Freshness::Fresh,
            now,
        );
    }

    let structured = |kind: ObservableKind| -> Vec<String> {
        let values: BTreeSet<String> = alerts
            .iter()
            .flat_map(|a| a.structured(kind))
            .map(|o| o.value.clone())
            .collect();
        values.into_iter().collect()
    };
    let hosts = structured(ObservableKind::Host);
    let ips = structured(ObservableKind::Ip);
    let users = structured(ObservableKind::User);

    // Every observable (text-derived ones too: an intel hit on a mentioned
    // address is worth knowing, though it can never be a target), with
    // whether it was structured.
    let mut observables: BTreeMap<(ObservableKind, String), bool> = BTreeMap::new();
    for alert in alerts {
        for o in &alert.observables {
            *observables.entry((o.kind, o.value.clone())).or_default() |= o.is_structured();
        }
    }
    let structured_entities: Vec<(ObservableKind, String)> = observables
        .iter()
        .filter(|(_, structured)| **structured)
        .map(|(key, _)| key.clone())
        .collect();
    let entity_values: Vec<String> = structured_entities
        .iter()
        .map(|(_, value)| value.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();

    // Assets, then what is known to be vulnerable on the matched ones.
    let mut matched_hosts: Vec<String> = Vec::new();
    if request.consults(tools, "asset_lookup")
        && (!hosts.is_empty() || !ips.is_empty())
        && let Some(result) = out
            .run(
                tools,
                "asset_lookup",
                json!({"hosts": hosts, "ips": ips}),
                now,
            )
            .await
    {
        for finding in &result.findings {
            if let Some((_, host)) = &finding.subject {
                matched_hosts.push(host.clone());
            }
        }
        out.add_all(result, now);
    }
    if request.consults(tools, "identity_lookup")
        && !users.is_empty()
        && let Some(result) = out
            .run(tools, "identity_lookup", json!({"users": users}), now)
            .await
    {
        out.add_all(result, now);
    }
    if request.consults(tools, "vulnerability_lookup")
        && !matched_hosts.is_empty()
        && let Some(vulns) = out
            .run(
                tools,
                "vulnerability_lookup",
                json!({"hosts": matched_hosts}),
                now,
            )
            .await
    {
        out.add_vulnerabilities(vulns, request.consults(tools, "kev_lookup"), tools, now)
            .await;
    }

    // Threat intel, from the intel list and from STIX bundles. A URL also
    // asks about the domain it reaches (structured when the URL is).
    let mut intel_subjects = observables.clone();
    for ((kind, value), structured) in &observables {
        if *kind == ObservableKind::Url
            && let Some(domain) = warden_domain::url_domain(value)
        {
            *intel_subjects
                .entry((ObservableKind::Domain, domain))
                .or_default() |= *structured;
        }
    }
    let observables = intel_subjects;
    if !observables.is_empty() {
        let indicators: Vec<serde_json::Value> = observables
            .keys()
            .filter(|(kind, _)| INDICATOR_KINDS.contains(kind))
            .map(|(kind, value)| json!({"kind": kind.as_str(), "value": value}))
            .collect();
        for tool in ["intel_lookup", "stix_lookup"] {
            if !request.consults(tools, tool) || indicators.is_empty() {
                continue;
            }
            if let Some(mut result) = out
                .run(tools, tool, json!({"indicators": indicators}), now)
                .await
            {
                for finding in &mut result.findings {
                    let structured = finding
                        .subject
                        .as_ref()
                        .and_then(|key| observables.get(key))
                        .copied()
                        .unwrap_or(false);
                    if let Some(facts) = finding.facts.as_object_mut() {
                        facts.insert("structured".into(), structured.into());
                    }
                    if !structured {
                        finding.summary.push_str("; seen only in alert text");
                    }
                }
                out.add_all(result, now);
            }
        }
    }

    // History: past dispositions of the same rule on the same entity, open
    // incidents on the entities, and earlier cases in the store.
    if request.consults(tools, "history_lookup") {
        let rules: BTreeSet<String> = alerts.iter().map(|a| a.rule.name.clone()).collect();
        if let Some(result) = out
            .run(
                tools,
                "history_lookup",
                json!({"rules": rules, "entities": entity_values}),
                now,
            )
            .await
        {
            out.add_all(result, now);
        }
    }
    if request.consults(tools, "incident_lookup")
        && !entity_values.is_empty()
        && let Some(result) = out
            .run(
                tools,
                "incident_lookup",
                json!({"entities": entity_values}),
                now,
            )
            .await
    {
        out.add_all(result, now);
    }
    if request.consults(tools, "case_history")
        && !structured_entities.is_empty()
        && tools.has("case_history")
    {
        let entities: Vec<serde_json::Value> = structured_entities
            .iter()
            .take(200)
            .map(|(kind, value)| json!({"kind": kind.as_str(), "value": value}))
            .collect();
        let mut params = json!({"entities": entities});
        if let (Some(id), Some(map)) = (request.case_id, params.as_object_mut()) {
            map.insert("exclude_case".into(), id.to_string().into());
        }
        if let Some(result) = out.run(tools, "case_history", params, now).await {
            out.add_all(result, now);
        }
    }
    out
}

/// Entity kinds intel can speak about (a `domain` indicator also speaks
/// about a host of that name).
const INDICATOR_KINDS: &[ObservableKind] = &[
    ObservableKind::Ip,
    ObservableKind::Host,
    ObservableKind::Domain,
    ObservableKind::Url,
    ObservableKind::FileHash,
    ObservableKind::Email,
];

impl Enrichment {
    /// Call a tool; a failure is recorded as a gap and gives `None`.
    async fn run(
        &mut self,
        tools: &ToolBox,
        name: &str,
        params: serde_json::Value,
        now: OffsetDateTime,
    ) -> Option<ToolResult> {
        // The call runs on the clear values; the record keeps them
        // redacted (S6).
        let mut parameters = params.clone();
        redact::redact_value(&mut parameters);
        let (outcome, result) = match tools.call(name, params, now).await {
            Ok(result) => {
                for gap in &result.gaps {
                    self.add_gap(gap.clone());
                }
                let outcome = format!(
                    "{} finding{}{}",
                    result.findings.len(),
                    if result.findings.len() == 1 { "" } else { "s" },
                    if result.attempts > 1 {
                        format!(" after {} attempts", result.attempts)
                    } else {
                        String::new()
                    }
                );
                (outcome, Some(result))
            }
            Err(gap) => {
                self.add_gap(gap);
                ("failed".to_owned(), None)
            }
        };
        self.calls.push(format!("{name}: {outcome}"));
        self.tool_calls.push(ToolCall {
            tool: name.to_owned(),
            parameters,
            outcome,
        });
        result
    }

    /// One more call, asked for by an assessor after the plan ran (the
    /// caller has vetted it: tool in the plan, arguments the case's own
    /// entities). A finding already held comes back as the existing item
    /// (same id), a new one becomes evidence with the next id. Returns the
    /// evidence and gaps of this call; the call itself is the last entry of
    /// [`Enrichment::tool_calls`].
    pub async fn follow_up(
        &mut self,
        tools: &ToolBox,
        name: &str,
        params: serde_json::Value,
        now: OffsetDateTime,
    ) -> (Vec<Evidence>, Vec<EvidenceGap>) {
        // A source never configured is not asked on request either.
        if let Some(line) = tools.not_consulted(name) {
            self.calls.push(format!("{name}: not consulted, {line}"));
            let mut parameters = params;
            redact::redact_value(&mut parameters);
            self.tool_calls.push(ToolCall {
                tool: name.to_owned(),
                parameters,
                outcome: format!("not consulted, {line}"),
            });
            self.note_not_consulted(line);
            return (Vec::new(), Vec::new());
        }
        let gaps_before = self.gaps.len();
        let Some(result) = self.run(tools, name, params, now).await else {
            // A gap already held is not added twice: say so instead.
            let mut gaps = self.gaps.get(gaps_before..).unwrap_or_default().to_vec();
            if gaps.is_empty() {
                gaps.push(EvidenceGap {
                    source: format!("tool {name}"),
                    reason: format!("{name} failed, as it did earlier for this case"),
                });
            }
            return (Vec::new(), gaps);
        };
        let gaps = result.gaps.clone();
        let mut found = Vec::new();
        for finding in result.findings {
            let held = self.evidence.iter().find(|e| {
                e.kind == finding.kind
                    && e.subject == finding.subject
                    && e.source == result.source.label()
            });
            let id = match held {
                Some(existing) => existing.id.clone(),
                None => self.push(&result.source, finding, result.freshness, now),
            };
            found.extend(self.evidence.iter().find(|e| e.id == id).cloned());
        }
        (found, gaps)
    }

    /// Every finding of `result` as evidence.
    fn add_all(&mut self, result: ToolResult, now: OffsetDateTime) {
        for finding in result.findings {
            self.push(&result.source, finding, result.freshness, now);
        }
    }

    /// Vulnerability findings, each marked with its KEV status (looked up
    /// when `with_kev`; otherwise the summary says the list was not
    /// consulted). A KEV-listed item is as stale as the older of the two
    /// sources.
    async fn add_vulnerabilities(
        &mut self,
        vulns: ToolResult,
        with_kev: bool,
        tools: &ToolBox,
        now: OffsetDateTime,
    ) {
        let cves: BTreeSet<String> = vulns
            .findings
            .iter()
            .map(|f| {
                f.facts
                    .get("cve")
                    .and_then(|c| c.as_str())
                    .unwrap_or_default()
                    .to_ascii_uppercase()
            })
            .filter(|c| !c.is_empty())
            .collect();
        let mut kev: BTreeMap<String, (serde_json::Value, Freshness)> = BTreeMap::new();
        if with_kev
            && !cves.is_empty()
            && let Some(result) = self
                .run(tools, "kev_lookup", json!({"cves": cves}), now)
                .await
        {
            for finding in result.findings {
                let cve = finding
                    .facts
                    .get("cve")
                    .and_then(|c| c.as_str())
                    .unwrap_or_default()
                    .to_owned();
                let entry = finding.facts.get("kev_entry").cloned().unwrap_or_default();
                kev.insert(cve, (entry, result.freshness));
            }
        }
        for finding in vulns.findings {
            let cve = finding
                .facts
                .get("cve")
                .and_then(|c| c.as_str())
                .unwrap_or_default()
                .to_ascii_uppercase();
            let host = finding
                .facts
                .get("hostname")
                .and_then(|c| c.as_str())
                .unwrap_or_default()
                .to_owned();
            let known = kev.get(&cve);
            let summary = match known {
                Some((entry, _)) => format!(
                    "{host} has {cve}, on the CISA KEV list ({})",
                    entry
                        .get("vulnerabilityName")
                        .and_then(|n| n.as_str())
                        .unwrap_or("listed")
                ),
                None if with_kev => format!("{host} has {cve} (not on the KEV list)"),
                None => format!("{host} has {cve} (KEV list not consulted)"),
            };
            let freshness = match known {
                Some((_, stale @ Freshness::Stale { .. }))
                    if vulns.freshness == Freshness::Fresh =>
                {
                    *stale
                }
                _ => vulns.freshness,
            };
            let finding = Finding {
                kind: EvidenceKind::Vulnerability,
                subject: finding.subject,
                summary,
                facts: json!({
                    "hostname": host,
                    "cve": cve,
                    "kev": known.is_some(),
                    "kev_entry": known.map(|(entry, _)| entry),
                }),
            };
            self.push(&vulns.source, finding, freshness, now);
        }
    }
}

#[cfg(test)]
mod tests;
