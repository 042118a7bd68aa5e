//! Enrichment: read-only context gathered for a case, as citable evidence.
//!
//! # Layout
//!
//! - [`context`]: the context folder of the embedded mode (`assets.csv`,
//!   `identities.csv`, `vulnerabilities.csv`, `intel.csv`, `history.csv`,
//!   `kev.json`), loaded into typed records with each file's age.
//! - [`enrich`] (this file): looks up a case's entities in that context and
//!   returns [`Evidence`] items with ids the assessors cite, plus
//!   [`EvidenceGap`]s for every source that was needed but missing,
//!   unreadable or silent about an entity it should know.
//!
//! INVARIANT (S4): a source that is absent, broken or stale is never skipped
//! silently; it becomes a gap or a stale evidence item, which escalates.

pub mod context;
pub mod redact;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use time::OffsetDateTime;
use warden_domain::evidence::EvidenceKind;
use warden_domain::observable::account_name;
use warden_domain::{Alert, Evidence, EvidenceGap, EvidenceId, Freshness, ObservableKind};

pub use context::{Context, ContextConfig, ContextError, Source};

/// What enrichment produced for one case.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Enrichment {
    pub evidence: Vec<Evidence>,
    pub gaps: Vec<EvidenceGap>,
}

impl Enrichment {
    /// Ids of every evidence item (what rationale may cite).
    pub fn ids(&self) -> Vec<EvidenceId> {
        self.evidence.iter().map(|e| e.id.clone()).collect()
    }

    /// Sources consulted, for the audit record.
    pub fn sources(&self) -> Vec<String> {
        let sources: BTreeSet<&str> = self.evidence.iter().map(|e| e.source.as_str()).collect();
        sources.into_iter().map(str::to_owned).collect()
    }

    fn push(
        &mut self,
        kind: EvidenceKind,
        source: &Source,
        subject: Option<(ObservableKind, String)>,
        summary: String,
        facts: serde_json::Value,
        now: OffsetDateTime,
    ) -> EvidenceId {
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
            freshness: source.freshness(now),
        });
        id
    }

    fn gap(&mut self, source: &Source, reason: impl Into<String>) {
        let gap = EvidenceGap {
            source: source.label(),
            reason: reason.into(),
        };
        if !self.gaps.contains(&gap) {
            self.gaps.push(gap);
        }
    }
}

/// Gather evidence for a case made of `alerts` from `context`.
pub fn enrich(alerts: &[Alert], context: &Context, now: OffsetDateTime) -> Enrichment {
    let mut out = Enrichment::default();

    // The alerts themselves are evidence (ev-alert-N).
    for alert in alerts {
        let techniques: Vec<&str> = alert.attacks.iter().map(|a| a.id.as_str()).collect();
        out.push(
            EvidenceKind::Alert,
            &Source::alert(&alert.origin),
            None,
            format!(
                "{} alert \"{}\" from {} ({})",
                alert.severity.level, alert.rule.name, alert.product, alert.format
            ),
            json!({
                "alert_id": alert.id,
                "rule": alert.rule.name,
                "rule_uid": alert.rule.uid,
                "severity": alert.severity.level,
                "vendor_severity": alert.severity.original,
                "product": alert.product,
                "time": alert.time.unix_timestamp(),
                "techniques": techniques,
            }),
            now,
        );
    }

    let structured = |kind: ObservableKind| -> BTreeSet<String> {
        alerts
            .iter()
            .flat_map(|a| a.structured(kind))
            .map(|o| o.value.clone())
            .collect()
    };
    let hosts = structured(ObservableKind::Host);
    let ips = structured(ObservableKind::Ip);
    let users = structured(ObservableKind::User);

    // Assets: by host name, then by address for IPs no host name covered.
    let mut matched_assets: BTreeSet<String> = BTreeSet::new();
    if !hosts.is_empty() || !ips.is_empty() {
        match context.assets() {
            Err(reason) => out.gap(&context.source(context::SourceKind::Assets), reason),
            Ok((source, assets)) => {
                for host in &hosts {
                    match assets
                        .iter()
                        .find(|a| a.hostname.eq_ignore_ascii_case(host))
                    {
                        Some(asset) => {
                            matched_assets.insert(asset.hostname.to_ascii_lowercase());
                        }
                        None => out.gap(source, format!("no asset record for host {host}")),
                    }
                }
                for ip in &ips {
                    if let Some(asset) =
                        assets.iter().find(|a| a.ips.iter().any(|i| same_ip(i, ip)))
                    {
                        matched_assets.insert(asset.hostname.to_ascii_lowercase());
                    }
                }
                for asset in assets
                    .iter()
                    .filter(|a| matched_assets.contains(&a.hostname.to_ascii_lowercase()))
                {
                    out.push(
                        EvidenceKind::Asset,
                        source,
                        Some((ObservableKind::Host, asset.hostname.to_ascii_lowercase())),
                        format!(
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
                        serde_json::to_value(asset).unwrap_or_default(),
                        now,
                    );
                }
            }
        }
    }

    // Identities, by account name without domain or UPN suffix.
    if !users.is_empty() {
        match context.identities() {
            Err(reason) => out.gap(&context.source(context::SourceKind::Identities), reason),
            Ok((source, identities)) => {
                for user in &users {
                    let name = account_name(user);
                    match identities
                        .iter()
                        .find(|i| account_name(&i.user).eq_ignore_ascii_case(name))
                    {
                        Some(identity) => {
                            out.push(
                                EvidenceKind::Identity,
                                source,
                                Some((ObservableKind::User, user.clone())),
                                format!(
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
                                serde_json::to_value(identity).unwrap_or_default(),
                                now,
                            );
                        }
                        None => out.gap(source, format!("no identity record for user {user}")),
                    }
                }
            }
        }
    }

    // Vulnerabilities on the matched assets, marked when CISA KEV lists them.
    if !matched_assets.is_empty() {
        match context.vulnerabilities() {
            Err(reason) => out.gap(
                &context.source(context::SourceKind::Vulnerabilities),
                reason,
            ),
            Ok((source, vulns)) => {
                let kev = context.kev();
                if let Err(reason) = &kev {
                    out.gap(&context.source(context::SourceKind::Kev), reason.clone());
                }
                for host in &matched_assets {
                    for vuln in vulns
                        .iter()
                        .filter(|v| v.hostname.eq_ignore_ascii_case(host))
                    {
                        let known = kev.as_ref().ok().and_then(|(_, catalogue)| {
                            catalogue.get(&vuln.cve.to_ascii_uppercase())
                        });
                        let id = out.push(
                            EvidenceKind::Vulnerability,
                            source,
                            Some((ObservableKind::Host, host.clone())),
                            match known {
                                Some(entry) => format!(
                                    "{host} has {}, on the CISA KEV list ({})",
                                    vuln.cve, entry.vulnerability_name
                                ),
                                None => format!("{host} has {} (not on the KEV list)", vuln.cve),
                            },
                            json!({
                                "hostname": host,
                                "cve": vuln.cve,
                                "kev": known.is_some(),
                                "kev_entry": known,
                            }),
                            now,
                        );
                        // The KEV status is part of this item: a stale
                        // catalogue makes the item stale too.
                        if let Ok((kev_source, _)) = &kev
                            && let stale @ Freshness::Stale { .. } = kev_source.freshness(now)
                            && let Some(item) = out.evidence.iter_mut().find(|e| e.id == id)
                            && item.freshness == Freshness::Fresh
                        {
                            item.freshness = stale;
                        }
                    }
                }
            }
        }
    }

    // Threat intelligence, over every observable (text-derived ones too:
    // an intel hit on a mentioned address is worth knowing, though it can
    // never be a target).
    let mut observables: BTreeMap<(ObservableKind, String), bool> = BTreeMap::new();
    for alert in alerts {
        for o in &alert.observables {
            *observables.entry((o.kind, o.value.clone())).or_default() |= o.is_structured();
        }
    }
    if !observables.is_empty() {
        match context.intel() {
            Err(reason) => out.gap(&context.source(context::SourceKind::Intel), reason),
            Ok((source, intel)) => {
                for ((kind, value), structured) in &observables {
                    for hit in intel.iter().filter(|i| i.matches(*kind, value)) {
                        out.push(
                            EvidenceKind::Intel,
                            source,
                            Some((*kind, value.clone())),
                            format!(
                                "{value} is {} per {} (confidence {}){}",
                                hit.verdict,
                                hit.source,
                                hit.confidence,
                                if *structured {
                                    ""
                                } else {
                                    "; seen only in alert text"
                                }
                            ),
                            json!({
                                "indicator": hit.indicator,
                                "type": hit.indicator_type,
                                "verdict": hit.verdict,
                                "source": hit.source,
                                "confidence": hit.confidence,
                                "tags": hit.tags,
                                "structured": structured,
                            }),
                            now,
                        );
                    }
                }
            }
        }
    }

    // History: past cases of the same rule on the same entity.
    match context.history() {
        Err(reason) => out.gap(&context.source(context::SourceKind::History), reason),
        Ok((source, history)) => {
            let rules: BTreeSet<String> =
                alerts.iter().map(|a| a.rule.name.to_lowercase()).collect();
            let entities: BTreeSet<String> = observables
                .iter()
                .filter(|(_, structured)| **structured)
                .map(|((_, value), _)| value.to_lowercase())
                .collect();
            let mut tally: BTreeMap<(String, String), Vec<&context::HistoryRecord>> =
                BTreeMap::new();
            for record in history.iter().filter(|r| {
                rules.contains(&r.rule.to_lowercase())
                    && entities.contains(&r.entity.to_lowercase())
            }) {
                tally
                    .entry((record.rule.clone(), record.entity.to_lowercase()))
                    .or_default()
                    .push(record);
            }
            for ((rule, entity), records) in tally {
                let count = |d: &str| records.iter().filter(|r| r.disposition == d).count();
                let escalated = records.iter().filter(|r| r.escalated).count();
                out.push(
                    EvidenceKind::History,
                    source,
                    None,
                    format!(
                        "\"{rule}\" on {entity} before: {} true positive, {} false positive, \
                         {} benign, {escalated} escalated",
                        count("true_positive"),
                        count("false_positive"),
                        count("benign"),
                    ),
                    json!({
                        "rule": rule,
                        "entity": entity,
                        "true_positive": count("true_positive"),
                        "false_positive": count("false_positive"),
                        "benign": count("benign"),
                        "escalated": escalated,
                        "last_closed_at": records.iter().map(|r| r.closed_at.as_str()).max(),
                    }),
                    now,
                );
            }
        }
    }
    out
}

/// Whether two address texts are the same IP (`2001:DB8::1` and
/// `2001:db8:0::1` are); non-addresses compare as text.
fn same_ip(listed: &str, canonical: &str) -> bool {
    match listed.trim().parse::<std::net::IpAddr>() {
        Ok(ip) => ip.to_string() == canonical,
        Err(_) => listed.trim() == canonical,
    }
}

#[cfg(test)]
mod tests;
