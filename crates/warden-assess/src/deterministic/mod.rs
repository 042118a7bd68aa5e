//! The deterministic assessor: a composite risk score from detection
//! severity, asset criticality and exposure, exploitability (KEV), identity
//! risk, threat intelligence, blast radius and history, with every factor
//! written into the rationale with the evidence it rests on.

mod config;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use warden_domain::evidence::EvidenceKind;
use warden_domain::{
    ActionName, ActionProposal, Assessment, Evidence, EvidenceId, Freshness, ObservableKind,
    RationaleItem, Severity, Target, Verdict,
};

pub use config::{AssessorConfig, Thresholds, Weights};

use crate::{AssessmentInput, Assessor, AssessorHost, AssessorRun};

/// The always-available, network-free assessor.
#[derive(Debug, Clone, Default)]
pub struct DeterministicAssessor {
    config: AssessorConfig,
}

impl DeterministicAssessor {
    pub fn new(config: AssessorConfig) -> Self {
        Self { config }
    }
}

/// Factors that measure what is at stake rather than whether it is an
/// attack.
const IMPACT_FACTORS: &[&str] = &["asset_criticality", "blast_radius", "identity_risk"];

/// Accumulates factors as they are scored.
#[derive(Default)]
struct Score {
    /// How likely the activity is malicious: decides the verdict.
    likelihood: f64,
    /// How much is at stake (asset criticality, privileged accounts, blast
    /// radius): raises severity, never the verdict. A benign admin task on
    /// a domain controller stays benign; it escalates for its asset.
    impact: f64,
    rationale: Vec<RationaleItem>,
    /// Evidence saying this activity is expected (scanner, pentest, past
    /// false positives, allow-listed indicators).
    known_false_positive: Vec<EvidenceId>,
    /// Below the suspicious threshold, which closing verdict the evidence
    /// supports: `FalsePositive` when analysts closed it so before (by
    /// majority), `Benign` when the activity is real and authorised
    /// (pentest, scanner, an allow-listed counterpart, closed benign before).
    /// Earlier entries are stronger (history first).
    closing: Vec<(u8, Verdict)>,
    /// Evidence a suppression may rest on (not pentest engagements, which
    /// end).
    suppressible: Vec<EvidenceId>,
}

impl Score {
    fn add(&mut self, factor: &str, weight: f64, text: String, evidence: Vec<EvidenceId>) {
        if evidence.is_empty() {
            return;
        }
        if IMPACT_FACTORS.contains(&factor) {
            self.impact += weight;
        } else {
            self.likelihood += weight;
        }
        self.rationale.push(RationaleItem {
            factor: factor.to_owned(),
            text,
            weight,
            evidence,
        });
    }
}

fn of_kind(evidence: &[Evidence], kind: EvidenceKind) -> impl Iterator<Item = &Evidence> {
    evidence.iter().filter(move |e| e.kind == kind)
}

#[async_trait::async_trait]
impl Assessor for DeterministicAssessor {
    fn name(&self) -> &str {
        "deterministic"
    }

    async fn assess(&self, input: &AssessmentInput<'_>, _host: &dyn AssessorHost) -> AssessorRun {
        AssessorRun::of(Ok(self.score(input)))
    }
}

impl DeterministicAssessor {
    /// The composite risk score and what follows from it; never fails.
    pub fn score(&self, input: &AssessmentInput<'_>) -> Assessment {
        let w = &self.config.weights;
        let mut score = Score::default();
        let evidence = input.evidence;

        // Detection: the most severe alert sets the base.
        let alerts: Vec<&Evidence> = of_kind(evidence, EvidenceKind::Alert).collect();
        let top = input
            .alerts
            .iter()
            .map(|a| a.severity.level)
            .max()
            .unwrap_or(Severity::Medium);
        score.add(
            "detection",
            w.severity(top),
            format!(
                "{} alert{} from the detection, highest severity {top}",
                input.alerts.len(),
                if input.alerts.len() == 1 { "" } else { "s" }
            ),
            alerts.iter().map(|e| e.id.clone()).collect(),
        );
        let rules: BTreeSet<&str> = input.alerts.iter().map(|a| a.rule.name.as_str()).collect();
        if rules.len() > 1 {
            let extra = (rules.len() - 1) as f64;
            score.add(
                "correlation",
                (extra * w.per_extra_rule).min(w.per_extra_rule * 3.0),
                format!(
                    "{} different detections fired on related entities",
                    rules.len()
                ),
                alerts.iter().map(|e| e.id.clone()).collect(),
            );
        }

        // Assets: criticality, environment, exposure, known noisy sources.
        let assets: Vec<&Evidence> = of_kind(evidence, EvidenceKind::Asset).collect();
        if let Some(crown) = assets.iter().min_by_key(|e| e.fact_str("criticality")) {
            let tier = crown.fact_str("criticality");
            let env = crown.fact_str("environment");
            let mut weight = w.criticality(tier);
            let mut why = format!("most critical asset is {tier}");
            if env == "production" {
                weight += w.production;
                why.push_str(", in production");
            }
            if crown.fact_bool("internet_exposed") {
                weight += w.internet_exposed;
                why.push_str(", internet-exposed");
            }
            score.add("asset_criticality", weight, why, vec![crown.id.clone()]);
        }
        if assets.len() > 1 {
            score.add(
                "blast_radius",
                ((assets.len() - 1) as f64 * w.per_extra_asset).min(w.per_extra_asset * 3.0),
                format!("{} assets involved", assets.len()),
                assets.iter().map(|e| e.id.clone()).collect(),
            );
        }
        let noisy_assets: Vec<EvidenceId> = assets
            .iter()
            .filter(|e| {
                e.tags()
                    .iter()
                    .any(|t| t == "vuln_scanner" || t == "pentest")
            })
            .map(|e| e.id.clone())
            .collect();
        for asset in assets.iter().filter(|e| noisy_assets.contains(&e.id)) {
            // A scanner or a pentest box doing its job: real, authorised.
            score.closing.push((2, Verdict::Benign));
            if asset.has_tag("vuln_scanner") {
                score.suppressible.push(asset.id.clone());
            }
        }
        score
            .known_false_positive
            .extend(noisy_assets.iter().cloned());
        score.add(
            "known_benign_source",
            w.known_benign_source,
            "activity comes from a vulnerability scanner or pentest asset".into(),
            noisy_assets,
        );

        // Exploitability: KEV-listed vulnerabilities on involved assets.
        let kev: Vec<&Evidence> = of_kind(evidence, EvidenceKind::Vulnerability)
            .filter(|e| e.fact_bool("kev"))
            .collect();
        score.add(
            "exploitability",
            w.kev,
            format!(
                "known exploited vulnerabilit{} on an involved asset: {}",
                if kev.len() == 1 { "y" } else { "ies" },
                kev.iter()
                    .map(|e| e.fact_str("cve"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            kev.iter().map(|e| e.id.clone()).collect(),
        );

        // Identity risk.
        let countries: BTreeSet<String> = input
            .alerts
            .iter()
            .flat_map(|a| a.source_countries())
            .collect();
        for identity in of_kind(evidence, EvidenceKind::Identity) {
            let user = identity.fact_str("user");
            let mut weight = 0.0;
            let mut why = Vec::new();
            let cited = vec![identity.id.clone()];
            if identity.fact_bool("privileged") {
                weight += w.privileged;
                why.push("privileged".to_owned());
            }
            if identity.fact_str("user_type") == "service_account" {
                weight += w.service_account;
                why.push("a service account".to_owned());
            }
            if identity.fact_str("mfa") == "disabled" {
                weight += w.mfa_disabled;
                why.push("without MFA".to_owned());
            }
            let identity_tags = identity.tags();
            if identity_tags
                .iter()
                .any(|t| t == "vip" || t == "break_glass")
            {
                weight += w.vip;
                why.push("a VIP or break-glass account".to_owned());
            }
            // Unusual country: the alert geolocates the activity somewhere
            // the account is not known to work from.
            let usual: BTreeSet<String> = identity
                .facts
                .get("usual_countries")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_ascii_uppercase)
                        .collect()
                })
                .unwrap_or_default();
            let unusual: Vec<&String> = countries.iter().filter(|c| !usual.contains(*c)).collect();
            if !usual.is_empty() && !unusual.is_empty() {
                // Where the account acts from says whether this is an
                // attack: likelihood, not impact.
                let mut anomaly_cited = cited.clone();
                anomaly_cited.extend(alerts.iter().map(|e| e.id.clone()));
                let list = |items: Vec<&str>| items.join(", ");
                score.add(
                    "identity_anomaly",
                    w.unusual_country,
                    format!(
                        "{user} active from {} (usually {})",
                        list(unusual.iter().map(|c| c.as_str()).collect()),
                        list(usual.iter().map(String::as_str).collect())
                    ),
                    anomaly_cited,
                );
            }
            if identity_tags.iter().any(|t| t == "pentest") {
                score.known_false_positive.push(identity.id.clone());
                score.closing.push((2, Verdict::Benign));
                score.add(
                    "known_benign_source",
                    w.known_benign_source / 2.0,
                    format!("{user} is a sanctioned penetration tester"),
                    vec![identity.id.clone()],
                );
            }
            if !why.is_empty() {
                score.add(
                    "identity_risk",
                    weight,
                    format!("{user} is {}", why.join(", ")),
                    cited,
                );
            }
        }

        // Threat intelligence.
        for hit in of_kind(evidence, EvidenceKind::Intel) {
            let confidence = hit
                .facts
                .get("confidence")
                .and_then(Value::as_f64)
                .unwrap_or(50.0)
                / 100.0;
            let base = match hit.fact_str("verdict") {
                "malicious" => w.intel_malicious,
                "suspicious" => w.intel_suspicious,
                "benign" => w.intel_benign,
                _ => 0.0,
            };
            let structured = hit.fact_bool("structured");
            if structured && hit.fact_str("verdict") == "benign" {
                // The counterpart is a known, authorised party (our VPN,
                // a vendor, the test file): real activity, allowed.
                score.known_false_positive.push(hit.id.clone());
                score.suppressible.push(hit.id.clone());
                score.closing.push((1, Verdict::Benign));
            }
            let weight = base
                * confidence
                * if structured {
                    1.0
                } else {
                    w.intel_text_only_factor
                };
            score.add(
                "threat_intel",
                weight,
                format!(
                    "{} is {} per {}{}",
                    hit.fact_str("indicator"),
                    hit.fact_str("verdict"),
                    hit.fact_str("source"),
                    if structured {
                        ""
                    } else {
                        " (mentioned only in alert text)"
                    }
                ),
                vec![hit.id.clone()],
            );
        }

        // History of the same rule on the same entity.
        for past in of_kind(evidence, EvidenceKind::History) {
            let count = |k: &str| past.fact_u64(k).unwrap_or(0);
            let (tp, fp) = (
                count("true_positive"),
                count("false_positive") + count("benign"),
            );
            if fp >= 2 && tp == 0 {
                score.known_false_positive.push(past.id.clone());
                score.suppressible.push(past.id.clone());
                // How analysts closed it before decides which kind of
                // non-threat it is.
                score.closing.push((
                    0,
                    if count("false_positive") >= count("benign") {
                        Verdict::FalsePositive
                    } else {
                        Verdict::Benign
                    },
                ));
                score.add(
                    "history",
                    w.history_false_positive,
                    format!(
                        "closed {} times as false positive and {} as benign before, never a true positive",
                        count("false_positive"),
                        count("benign")
                    ),
                    vec![past.id.clone()],
                );
            } else if tp > 0 {
                score.add(
                    "history",
                    w.history_true_positive,
                    format!(
                        "{tp} earlier true positive{}",
                        if tp == 1 { "" } else { "s" }
                    ),
                    vec![past.id.clone()],
                );
            }
        }

        // Active incidents on the case's entities.
        let incidents: Vec<&Evidence> = of_kind(evidence, EvidenceKind::Incident).collect();
        score.add(
            "active_incident",
            w.active_incident,
            format!(
                "involved entities are part of {} active incident{}: {}",
                incidents.len(),
                if incidents.len() == 1 { "" } else { "s" },
                incidents
                    .iter()
                    .map(|e| e.fact_str("incident_id"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            incidents.iter().map(|e| e.id.clone()).collect(),
        );

        // Earlier cases in the store on the same entities.
        let past_threats: Vec<&Evidence> = of_kind(evidence, EvidenceKind::PastCase)
            .filter(|e| matches!(e.fact_str("verdict"), "malicious" | "suspicious"))
            .collect();
        score.add(
            "past_cases",
            w.past_threat_case,
            format!(
                "{} earlier case{} on the same entities ended as a threat",
                past_threats.len(),
                if past_threats.len() == 1 { "" } else { "s" }
            ),
            past_threats.iter().map(|e| e.id.clone()).collect(),
        );

        let likelihood = score.likelihood.clamp(0.0, 100.0);
        let risk = (score.likelihood + score.impact).clamp(0.0, 100.0);
        let t = &self.config.thresholds;
        // The use case may set its own verdict cut-offs.
        let malicious_at = input.use_case.malicious_risk.unwrap_or(t.malicious);
        let suspicious_at = input.use_case.suspicious_risk.unwrap_or(t.suspicious);
        let verdict = if likelihood >= malicious_at {
            Verdict::Malicious
        } else if likelihood >= suspicious_at {
            Verdict::Suspicious
        } else {
            score
                .closing
                .iter()
                .min_by_key(|(strength, _)| *strength)
                .map(|(_, verdict)| *verdict)
                .unwrap_or(Verdict::Benign)
        };
        let severity = match risk {
            r if r >= t.critical_severity => Severity::Critical,
            r if r >= t.high_severity => Severity::High,
            r if r >= t.medium_severity => Severity::Medium,
            r if r >= t.low_severity => Severity::Low,
            _ => Severity::Informational,
        };
        // A case judged not to be an attack is at most of low severity,
        // whatever it touched.
        let severity = if verdict.is_threat() {
            severity
        } else {
            severity.min(Severity::Low)
        };

        // Confidence: lower near a threshold, with gaps, with stale evidence,
        // and with no context about the entities at all.
        let nearest = [malicious_at, suspicious_at]
            .iter()
            .map(|threshold| (likelihood - threshold).abs())
            .fold(f64::MAX, f64::min);
        let mut confidence = 0.92;
        if nearest < t.margin {
            confidence -= 0.15 * (1.0 - nearest / t.margin);
        }
        confidence -= (input.gaps.len() as f64 * 0.1).min(0.3);
        let stale = evidence
            .iter()
            .filter(|e| matches!(e.freshness, Freshness::Stale { .. }))
            .count();
        confidence -= (stale as f64 * 0.05).min(0.2);
        if assets.is_empty() && of_kind(evidence, EvidenceKind::Identity).next().is_none() {
            confidence -= 0.1;
        }
        // Conflicting evidence: something says attack (intel, an incident,
        // an earlier true positive) and something says expected (a past
        // closure, an allow-list, a scanner). A pentest is not a conflict:
        // attack tooling is what it is expected to show.
        let says_threat = score.rationale.iter().any(|r| {
            r.weight > 0.0
                && matches!(
                    r.factor.as_str(),
                    "threat_intel"
                        | "active_incident"
                        | "past_cases"
                        | "history"
                        | "identity_anomaly"
                )
        });
        if says_threat && !score.suppressible.is_empty() {
            confidence -= 0.25;
        }
        let confidence = (confidence.clamp(0.05, 0.99) * 100.0).round() / 100.0;

        let proposals = propose(input, verdict, &score, risk);
        Assessment {
            assessor: self.name().to_owned(),
            verdict,
            severity,
            confidence,
            risk_score: (risk * 10.0).round() / 10.0,
            rationale: score.rationale,
            proposed_actions: proposals,
        }
    }
}

/// Actions from the catalogue that fit the verdict. Targets come only from
/// structured observables (S2), never from text.
fn propose(
    input: &AssessmentInput<'_>,
    verdict: Verdict,
    score: &Score,
    risk: f64,
) -> Vec<ActionProposal> {
    let case_id = input.case.id;
    let all_evidence: Vec<EvidenceId> = score
        .rationale
        .iter()
        .flat_map(|r| r.evidence.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut proposals = Vec::new();
    let mut push = |action: ActionName,
                    target: Target,
                    params: &[(&str, String)],
                    evidence: Vec<EvidenceId>| {
        proposals.push(ActionProposal {
            case_id,
            action,
            target,
            parameters: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
            proposed_by: "deterministic".into(),
            evidence,
        });
    };

    let summary = format!(
        "Deterministic triage: {verdict} (risk {risk:.0}/100) from {} factor{}.",
        score.rationale.len(),
        if score.rationale.len() == 1 { "" } else { "s" }
    );
    push(
        ActionName::CaseNote,
        Target::case(case_id),
        &[("text", summary)],
        all_evidence.clone(),
    );

    let structured = |kind: ObservableKind| -> Vec<Target> {
        let targets: BTreeSet<Target> = input
            .alerts
            .iter()
            .flat_map(|a| a.structured(kind))
            .filter_map(Target::from_observable)
            .collect();
        targets.into_iter().collect()
    };
    let malicious_intel = |value: &str| -> Option<EvidenceId> {
        of_kind(input.evidence, EvidenceKind::Intel)
            .find(|e| {
                e.fact_str("verdict") == "malicious"
                    && e.fact_bool("structured")
                    && e.subject.as_ref().is_some_and(|(_, v)| v == value)
            })
            .map(|e| e.id.clone())
    };

    // Containment that would take a crown jewel down is a person's call:
    // for those hosts and accounts the owner is told instead.
    let sensitive = |target: &Target| -> bool {
        let Target::Entity { kind, value } = target else {
            return false;
        };
        input.evidence.iter().any(|e| {
            e.subject
                .as_ref()
                .is_some_and(|(k, v)| k == kind && v == value)
                && match e.kind {
                    EvidenceKind::Asset => {
                        e.fact_str("criticality") == "tier_0"
                            || e.has_tag("domain_controller")
                            || e.has_tag("regulated")
                    }
                    EvidenceKind::Identity => e.has_tag("break_glass"),
                    _ => false,
                }
        })
    };

    let users = structured(ObservableKind::User);
    // An access key in the finding is what a cloud attacker holds.
    let access_keys: Vec<Target> = structured(ObservableKind::CloudResource)
        .into_iter()
        .filter(|t| matches!(t, Target::Entity { value, .. } if is_access_key(value)))
        .collect();
    let unless_sensitive = |target: &Target, action: ActionName| {
        if sensitive(target) {
            ActionName::NotifyOwner
        } else {
            action
        }
    };

    // Actions that rest on every factor of the rationale.
    let mut planned: Vec<(ActionName, Target)> = Vec::new();
    match verdict {
        Verdict::Malicious => {
            planned.push((ActionName::TicketCreate, Target::case(case_id)));
            for host in structured(ObservableKind::Host) {
                planned.push((unless_sensitive(&host, ActionName::EdrIsolateHost), host));
            }
            for user in &users {
                planned.push((
                    unless_sensitive(user, ActionName::IdpRevokeSessions),
                    user.clone(),
                ));
            }
            for key in &access_keys {
                planned.push((ActionName::CloudDisableAccessKey, key.clone()));
            }
            for email in structured(ObservableKind::Email) {
                planned.push((ActionName::EmailQuarantine, email));
            }
            for process in structured(ObservableKind::Process) {
                planned.push((ActionName::EdrKillProcess, process));
            }
            // MFA fatigue: the attacker's push was accepted, so the factor
            // itself is suspect.
            let mfa_fatigue = input
                .alerts
                .iter()
                .any(|a| a.attacks.iter().any(|t| t.id.starts_with("T1621")));
            if mfa_fatigue {
                for user in users.iter().filter(|u| !sensitive(u)) {
                    planned.push((ActionName::IdpResetMfa, user.clone()));
                }
            }
        }
        Verdict::Suspicious => {
            planned.push((ActionName::TicketCreate, Target::case(case_id)));
            for host in structured(ObservableKind::Host) {
                planned.push((ActionName::NotifyOwner, host));
            }
            // Cheap, reversible containment for a possibly stolen
            // credential: end its sessions, disable the key.
            for user in users.iter().filter(|u| !sensitive(u)) {
                planned.push((ActionName::IdpRevokeSessions, user.clone()));
            }
            for key in &access_keys {
                planned.push((ActionName::CloudDisableAccessKey, key.clone()));
            }
        }
        _ => {}
    }
    for (action, target) in planned {
        push(action, target, &[], all_evidence.clone());
    }

    // Blocking and quarantine need a malicious intel hit on the structured
    // indicator itself, and cite only that.
    if verdict == Verdict::Malicious {
        for (kind, action) in [
            (ObservableKind::Ip, ActionName::NetBlockIndicator),
            (ObservableKind::Domain, ActionName::NetBlockIndicator),
            (ObservableKind::Url, ActionName::NetBlockIndicator),
            (ObservableKind::FileHash, ActionName::EdrQuarantineFile),
        ] {
            for target in structured(kind) {
                if let Target::Entity { value, .. } = &target
                    && let Some(hit) = malicious_intel(value)
                {
                    push(action, target.clone(), &[], vec![hit]);
                }
            }
        }
    }
    // A suppression cites only what shows the pattern is expected.
    if matches!(verdict, Verdict::FalsePositive | Verdict::Benign) && !score.suppressible.is_empty()
    {
        push(
            ActionName::AlertSuppress,
            Target::case(case_id),
            &[],
            score.suppressible.clone(),
        );
    }
    // The deterministic assessor stays within its use case's authority; the
    // policy layer enforces the same limit on every other assessor.
    proposals.retain(|p| input.use_case.allows(p.action));
    proposals
}

/// AWS access key ids (`AKIA...` long-term, `ASIA...` temporary), bare or
/// after a `kind:` prefix.
fn is_access_key(value: &str) -> bool {
    let id = value.rsplit([':', '/']).next().unwrap_or(value);
    let upper = id.to_ascii_uppercase();
    (upper.starts_with("AKIA") || upper.starts_with("ASIA"))
        && upper.len() >= 16
        && upper.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests;
