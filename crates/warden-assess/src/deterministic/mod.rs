//! The deterministic assessor: a composite risk score from detection
//! severity, asset criticality and exposure, exploitability (KEV), identity
//! risk, threat intelligence, blast radius and history, with every factor
//! written into the rationale with the evidence it rests on.
//!
//! A case is judged by its worst alert. Signals that something is an attack
//! (intel, incidents, earlier true positives) count for every alert of the
//! case; reasons to close (a scanner doing its job, a pentest, a benign
//! counterpart, past closures of the same rule on the same actor) count
//! only for the alert they explain (see `scope.rs`). A case closes without
//! a person only when every one of its alerts is explained; otherwise the
//! verdict is `unknown`: there is no default verdict.

mod config;
mod scope;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use warden_domain::evidence::EvidenceKind;
use warden_domain::{
    ActionName, ActionProposal, Alert, Assessment, Evidence, EvidenceId, Freshness, ObservableKind,
    RationaleItem, Severity, Target, Verdict,
};

pub use config::{AssessorConfig, Thresholds, Weights};

use crate::{AssessmentInput, Assessor, AssessorHost, AssessorRun};
use scope::{AssetMatch, Reach};

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

/// Accumulates factors as they are scored.
#[derive(Default)]
struct Score {
    /// Case-wide signals about whether this is an attack (intel, incidents,
    /// history, correlation): added to every alert's likelihood.
    threat: f64,
    /// How much is at stake (asset criticality, privileged accounts, blast
    /// radius): raises severity, never the verdict. A benign admin task on
    /// a domain controller stays benign; it escalates for its asset.
    impact: f64,
    rationale: Vec<RationaleItem>,
    /// Evidence a suppression may rest on (not pentest engagements, which
    /// end).
    suppressible: BTreeSet<EvidenceId>,
}

/// One alert as scored: its own detection points, the reasons that explain
/// it, and which closing verdict they support.
struct AlertScore {
    evidence: EvidenceId,
    base: f64,
    /// Points for naming post-access activity.
    stage: f64,
    discount: f64,
    /// How far the alert says the activity got.
    reach: Reach,
    /// The strongest reason to close this alert: `(strength, verdict)`,
    /// lower is stronger (history first). `None`: nothing explains it.
    closing: Option<(u8, Verdict)>,
}

impl AlertScore {
    fn explain(&mut self, strength: u8, verdict: Verdict) {
        if self.closing.is_none_or(|(held, _)| strength < held) {
            self.closing = Some((strength, verdict));
        }
    }
}

impl Score {
    /// A case-wide factor. Impact factors go to severity, the rest to the
    /// likelihood of every alert.
    fn add(&mut self, factor: &str, weight: f64, text: String, evidence: Vec<EvidenceId>) {
        if evidence.is_empty() {
            return;
        }
        if IMPACT_FACTORS.contains(&factor) {
            self.impact += weight;
        } else {
            self.threat += weight;
        }
        self.note(factor, weight, text, evidence);
    }

    /// A rationale line whose weight is accounted elsewhere (one alert's
    /// discount, or zero for a reason that did not apply).
    fn note(&mut self, factor: &str, weight: f64, text: String, evidence: Vec<EvidenceId>) {
        if evidence.is_empty() {
            return;
        }
        self.rationale.push(RationaleItem {
            factor: factor.to_owned(),
            text,
            weight,
            evidence,
        });
    }
}

/// Factors that measure what is at stake rather than whether it is an
/// attack.
const IMPACT_FACTORS: &[&str] = &["asset_criticality", "blast_radius", "identity_risk"];

fn of_kind(evidence: &[Evidence], kind: EvidenceKind) -> impl Iterator<Item = &Evidence> {
    evidence.iter().filter(move |e| e.kind == kind)
}

/// The evidence item of `alert` (`ev-alert-N`), by the alert id in its
/// facts, else by position.
fn alert_evidence(evidence: &[Evidence], alert: &Alert, position: usize) -> EvidenceId {
    of_kind(evidence, EvidenceKind::Alert)
        .find(|e| e.fact_str("alert_id") == alert.id.to_string())
        .map(|e| e.id.clone())
        .unwrap_or_else(|| EvidenceId::alert(position + 1))
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

        // Detection: each alert starts from its own severity.
        let alert_items: Vec<&Evidence> = of_kind(evidence, EvidenceKind::Alert).collect();
        let mut per_alert: Vec<AlertScore> = input
            .alerts
            .iter()
            .enumerate()
            .map(|(i, alert)| AlertScore {
                evidence: alert_evidence(evidence, alert, i),
                base: w.severity(alert.severity.level),
                stage: if scope::names_post_access(alert) || scope::started_by_a_document(alert) {
                    w.post_access_activity
                } else {
                    0.0
                },
                discount: 0.0,
                reach: scope::reach(alert),
                closing: None,
            })
            .collect();
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
                alert_items.iter().map(|e| e.id.clone()).collect(),
            );
        }

        // Assets: criticality, environment, exposure (what is at stake).
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

        // Known noisy sources: a scanner or pentest asset doing its job
        // explains the alerts it is the verified actor of, for the activity
        // its tag covers.
        for asset in assets
            .iter()
            .filter(|e| e.has_tag("vuln_scanner") || e.has_tag("pentest"))
        {
            let host = asset.fact_str("hostname");
            let pentest = asset.has_tag("pentest");
            for (alert, scored) in input.alerts.iter().zip(per_alert.iter_mut()) {
                let cited = vec![asset.id.clone(), scored.evidence.clone()];
                let withheld = |why: String| (0.0, why);
                let (weight, text) = match scope::asset_in_alert(asset, alert) {
                    AssetMatch::Absent => continue,
                    AssetMatch::Target => withheld(format!(
                        "{host} is tagged {} but is the target of {}, not its actor: not applied",
                        if pentest { "pentest" } else { "vuln_scanner" },
                        scored.evidence
                    )),
                    AssetMatch::UnverifiedActor => withheld(format!(
                        "{} names host {host} by its short name only (no address or fully \
                         qualified name on the asset record): the tag is unverified and not applied",
                        scored.evidence
                    )),
                    AssetMatch::VerifiedActor(how) if pentest => {
                        scored.explain(2, Verdict::Benign);
                        (
                            w.known_benign_source,
                            format!(
                                "{} comes from {host}, a pentest asset (matched by {how})",
                                scored.evidence
                            ),
                        )
                    }
                    AssetMatch::VerifiedActor(how) if scope::is_probing(alert) => {
                        scored.explain(2, Verdict::Benign);
                        score.suppressible.insert(asset.id.clone());
                        (
                            w.known_benign_source,
                            format!(
                                "{} is {host}, a vulnerability scanner (matched by {how}), probing",
                                scored.evidence
                            ),
                        )
                    }
                    AssetMatch::VerifiedActor(_) => withheld(format!(
                        "{host} is a vulnerability scanner, but {} is not scanning or probing: not applied",
                        scored.evidence
                    )),
                };
                scored.discount += weight;
                score.note("known_benign_source", weight, text, cited);
            }
        }

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
                anomaly_cited.extend(alert_items.iter().map(|e| e.id.clone()));
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
                // A sanctioned tester explains what the account does, not
                // what is done to it.
                let subject = identity.subject.as_ref().map(|(_, v)| v.as_str());
                for (alert, scored) in input.alerts.iter().zip(per_alert.iter_mut()) {
                    let Some(value) = subject else { break };
                    let cited = vec![identity.id.clone(), scored.evidence.clone()];
                    if scope::is_actor_in(alert, ObservableKind::User, value) {
                        scored.explain(2, Verdict::Benign);
                        scored.discount += w.known_benign_source / 2.0;
                        score.note(
                            "known_benign_source",
                            w.known_benign_source / 2.0,
                            format!(
                                "{user}, a sanctioned penetration tester, is the actor of {}",
                                scored.evidence
                            ),
                            cited,
                        );
                    } else if scope::carries(alert, ObservableKind::User, value) {
                        score.note(
                            "known_benign_source",
                            0.0,
                            format!(
                                "{user} is a penetration tester but the target of {}: not applied",
                                scored.evidence
                            ),
                            cited,
                        );
                    }
                }
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

        // Threat intelligence. Bad reputation counts for the whole case; a
        // benign one explains contact with that counterpart, alert by alert.
        for hit in of_kind(evidence, EvidenceKind::Intel) {
            let confidence = hit
                .facts
                .get("confidence")
                .and_then(Value::as_f64)
                .unwrap_or(50.0)
                / 100.0;
            let verdict = hit.fact_str("verdict");
            let structured = hit.fact_bool("structured");
            let scale = confidence
                * if structured {
                    1.0
                } else {
                    w.intel_text_only_factor
                };
            let text = format!(
                "{} is {verdict} per {}{}",
                hit.fact_str("indicator"),
                hit.fact_str("source"),
                if structured {
                    ""
                } else {
                    " (mentioned only in alert text)"
                }
            );
            match verdict {
                "malicious" | "suspicious" => {
                    let base = if verdict == "malicious" {
                        w.intel_malicious
                    } else {
                        w.intel_suspicious
                    };
                    score.add("threat_intel", base * scale, text, vec![hit.id.clone()]);
                }
                "benign" if structured => {
                    let Some((kind, value)) = hit.subject.as_ref() else {
                        continue;
                    };
                    let weight = w.intel_benign * scale;
                    for (alert, scored) in input.alerts.iter().zip(per_alert.iter_mut()) {
                        if !scope::carries(alert, *kind, value) {
                            continue;
                        }
                        let cited = vec![hit.id.clone(), scored.evidence.clone()];
                        if scope::beyond_contact(alert) {
                            score.note(
                                "threat_intel",
                                0.0,
                                format!(
                                    "{text}, but {} reports more than contact with it: not applied",
                                    scored.evidence
                                ),
                                cited,
                            );
                            continue;
                        }
                        // The counterpart is a known, authorised party (our
                        // VPN, a vendor, the test file): real activity,
                        // allowed.
                        scored.explain(1, Verdict::Benign);
                        scored.discount += weight;
                        score.suppressible.insert(hit.id.clone());
                        score.note(
                            "threat_intel",
                            weight,
                            format!("{text}: explains {}", scored.evidence),
                            cited,
                        );
                    }
                }
                _ => {}
            }
        }

        // History of the same rule on the same entity: earlier true
        // positives count for the case; earlier closures explain the alert
        // of that rule whose actor that entity is.
        for past in of_kind(evidence, EvidenceKind::History) {
            let count = |k: &str| past.fact_u64(k).unwrap_or(0);
            let (tp, fp) = (
                count("true_positive"),
                count("false_positive") + count("benign"),
            );
            if tp > 0 {
                score.add(
                    "history",
                    w.history_true_positive,
                    format!(
                        "{tp} earlier true positive{}",
                        if tp == 1 { "" } else { "s" }
                    ),
                    vec![past.id.clone()],
                );
                continue;
            }
            if fp < 2 {
                continue;
            }
            let rule = past.fact_str("rule");
            let entity = past.fact_str("entity").to_lowercase();
            // How analysts closed it before decides which kind of
            // non-threat it is.
            let closed_as = if count("false_positive") >= count("benign") {
                Verdict::FalsePositive
            } else {
                Verdict::Benign
            };
            for (alert, scored) in input.alerts.iter().zip(per_alert.iter_mut()) {
                if !alert.rule.name.eq_ignore_ascii_case(rule) {
                    continue;
                }
                let cited = vec![past.id.clone(), scored.evidence.clone()];
                if !scope::actor_values(alert).contains(&entity) {
                    score.note(
                        "history",
                        0.0,
                        format!(
                            "\"{rule}\" was closed before on {entity}, which is not the actor of {}: not applied",
                            scored.evidence
                        ),
                        cited,
                    );
                    continue;
                }
                scored.explain(0, closed_as);
                scored.discount += w.history_false_positive;
                score.suppressible.insert(past.id.clone());
                score.note(
                    "history",
                    w.history_false_positive,
                    format!(
                        "{}: closed {} times as false positive and {} as benign before on {entity}, never a true positive",
                        scored.evidence,
                        count("false_positive"),
                        count("benign")
                    ),
                    cited,
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

        // The case is judged by its worst alert: its own points and
        // discounts, plus every case-wide threat signal.
        let own = |s: &AlertScore| s.base + s.stage + s.discount;
        let worst = per_alert.iter().zip(input.alerts).max_by(|(a, _), (b, _)| {
            own(a)
                .partial_cmp(&own(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let (alert_likelihood, worst_base) = worst
            .map(|(s, _)| (own(s), s.base))
            .unwrap_or((w.severity(Severity::Medium), w.severity(Severity::Medium)));
        if let Some((scored, alert)) = worst {
            let detection = RationaleItem {
                factor: "detection".to_owned(),
                text: format!(
                    "{} alert{}; judged by the worst, {} \"{}\" ({})",
                    input.alerts.len(),
                    if input.alerts.len() == 1 { "" } else { "s" },
                    scored.evidence,
                    alert.rule.name,
                    alert.severity.level
                ),
                weight: worst_base,
                evidence: vec![scored.evidence.clone()],
            };
            score.rationale.insert(0, detection);
            if scored.stage > 0.0 {
                let what = if scope::started_by_a_document(alert) {
                    "a shell or interpreter started by a document reader or script host, \
                     the way a document delivers its payload"
                } else {
                    "post-access activity (credential theft, lateral movement, persistence, \
                     command and control, log clearing, exfiltration or impact)"
                };
                score.note(
                    "attack_stage",
                    scored.stage,
                    format!("{} reports {what}", scored.evidence),
                    vec![scored.evidence.clone()],
                );
            }
        }
        let likelihood = (alert_likelihood + score.threat).clamp(0.0, 100.0);
        let risk = (likelihood + score.impact).clamp(0.0, 100.0);
        let t = &self.config.thresholds;
        // The use case may set its own verdict cut-offs.
        let malicious_at = input.use_case.malicious_risk.unwrap_or(t.malicious);
        let suspicious_at = input.use_case.suspicious_risk.unwrap_or(t.suspicious);
        // Below the threat thresholds, a closing verdict needs every alert
        // explained; history closes as analysts did (false positive) when
        // every alert was closed so, otherwise the activity is benign.
        let unexplained: Vec<&EvidenceId> = per_alert
            .iter()
            .filter(|s| s.closing.is_none())
            .map(|s| &s.evidence)
            .collect();
        let verdict = if likelihood >= malicious_at {
            Verdict::Malicious
        } else if likelihood >= suspicious_at {
            Verdict::Suspicious
        } else if !unexplained.is_empty() || per_alert.is_empty() {
            Verdict::Unknown
        } else if per_alert
            .iter()
            .all(|s| matches!(s.closing, Some((_, Verdict::FalsePositive))))
        {
            Verdict::FalsePositive
        } else {
            Verdict::Benign
        };
        // How far the activity got bounds the verdict. An attempt that
        // nothing explains is an attack attempt (suspicious), and one that
        // shows no access is no more than that. Data leaving, with nothing
        // that points to an attacker, is suspicious: a person decides whose
        // intent it was.
        let all_reach = |allowed: &[Reach]| {
            !per_alert.is_empty() && per_alert.iter().all(|s| allowed.contains(&s.reach))
        };
        let attacker_evidence = score.rationale.iter().any(|r| {
            r.weight > 0.0
                && matches!(
                    r.factor.as_str(),
                    "threat_intel" | "active_incident" | "past_cases" | "history"
                )
        });
        let unexplained_attempt = per_alert
            .iter()
            .any(|s| s.closing.is_none() && s.reach == Reach::Attempt);
        let verdict = match verdict {
            Verdict::Unknown if unexplained_attempt => {
                score.note(
                    "attack_stage",
                    0.0,
                    "an attempt to get in (scanning or password guessing) that nothing explains: \
                     suspicious"
                        .to_owned(),
                    per_alert
                        .iter()
                        .filter(|s| s.closing.is_none() && s.reach == Reach::Attempt)
                        .map(|s| s.evidence.clone())
                        .collect(),
                );
                Verdict::Suspicious
            }
            Verdict::Malicious if all_reach(&[Reach::Attempt]) => {
                score.note(
                    "attack_stage",
                    0.0,
                    "every alert is an attempt (scanning or password guessing) and none shows \
                     access: suspicious, not malicious"
                        .to_owned(),
                    per_alert.iter().map(|s| s.evidence.clone()).collect(),
                );
                Verdict::Suspicious
            }
            Verdict::Malicious
                if all_reach(&[Reach::Attempt, Reach::DataLeaving]) && !attacker_evidence =>
            {
                score.note(
                    "attack_stage",
                    0.0,
                    "data left, and no intel, incident or earlier true positive points to an \
                     attacker: suspicious until a person decides whose intent it was"
                        .to_owned(),
                    per_alert.iter().map(|s| s.evidence.clone()).collect(),
                );
                Verdict::Suspicious
            }
            other => other,
        };
        if verdict == Verdict::Unknown && !unexplained.is_empty() {
            score.note(
                "unexplained",
                0.0,
                format!(
                    "no evidence says {} benign or a false positive: a person decides",
                    unexplained
                        .iter()
                        .map(|id| id.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                unexplained.into_iter().cloned().collect(),
            );
        }
        let severity = match risk {
            r if r >= t.critical_severity => Severity::Critical,
            r if r >= t.high_severity => Severity::High,
            r if r >= t.medium_severity => Severity::Medium,
            r if r >= t.low_severity => Severity::Low,
            _ => Severity::Informational,
        };
        // A case judged not to be an attack is at most of low severity,
        // whatever it touched.
        // One judged an attack is at least as severe as the worst alert
        // it was judged by: context may raise the detector's level, not
        // lower it.
        let worst_level = worst.map(|(_, alert)| alert.severity.level);
        let severity = match verdict {
            Verdict::Benign | Verdict::FalsePositive => severity.min(Severity::Low),
            Verdict::Malicious | Verdict::Suspicious => {
                worst_level.map_or(severity, |level| severity.max(level))
            }
            _ => severity,
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
            score.suppressible.iter().cloned().collect(),
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
    // Shown redacted (S6): the placeholder says which kind of secret it
    // was, and the executor acts on the clear value behind it.
    if value.contains("[REDACTED:aws_access_key]") {
        return true;
    }
    let id = value.rsplit([':', '/']).next().unwrap_or(value);
    let upper = id.to_ascii_uppercase();
    (upper.starts_with("AKIA") || upper.starts_with("ASIA"))
        && upper.len() >= 16
        && upper.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod scope_tests;
