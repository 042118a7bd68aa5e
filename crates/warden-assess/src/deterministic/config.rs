//! Weights and thresholds of the deterministic assessor (`[assessor]` in
//! `warden.toml`; documented in `docs/configuration.md`).

use serde::{Deserialize, Serialize};

/// The deterministic assessor's settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssessorConfig {
    /// Points each factor adds to (or takes from) the 0-100 risk score.
    pub weights: Weights,
    /// Where the risk score turns into verdicts and severities.
    pub thresholds: Thresholds,
}

/// Points per factor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    /// Base points for the most severe alert: informational.
    pub severity_informational: f64,
    /// Base points: low.
    pub severity_low: f64,
    /// Base points: medium.
    pub severity_medium: f64,
    /// Base points: high.
    pub severity_high: f64,
    /// Base points: critical.
    pub severity_critical: f64,
    /// The alert names post-access activity (credential theft, lateral
    /// movement, persistence, command and control, log clearing,
    /// exfiltration, impact) by ATT&CK technique or in its text: what the
    /// detection reports is itself a sign of an attack.
    pub post_access_activity: f64,
    /// Per distinct rule beyond the first in the case (at most three times).
    pub per_extra_rule: f64,
    /// Most critical asset is tier_0.
    pub tier_0: f64,
    /// Most critical asset is tier_1.
    pub tier_1: f64,
    /// Most critical asset is tier_2.
    pub tier_2: f64,
    /// Most critical asset is tier_3.
    pub tier_3: f64,
    /// That asset is in production.
    pub production: f64,
    /// That asset is reachable from the internet.
    pub internet_exposed: f64,
    /// Per involved asset beyond the first (at most three times).
    pub per_extra_asset: f64,
    /// An involved asset has a CISA KEV vulnerability.
    pub kev: f64,
    /// The account is privileged.
    pub privileged: f64,
    /// The account is a service account.
    pub service_account: f64,
    /// The account has MFA disabled.
    pub mfa_disabled: f64,
    /// The account is tagged vip or break_glass.
    pub vip: f64,
    /// The activity came from a country the account does not usually use
    /// (per `usual_countries`).
    pub unusual_country: f64,
    /// An involved entity is part of an open or contained incident.
    pub active_incident: f64,
    /// An earlier case in the store on a shared entity ended with a threat
    /// verdict.
    pub past_threat_case: f64,
    /// A structured indicator is malicious per intel (scaled by confidence).
    pub intel_malicious: f64,
    /// ... suspicious per intel.
    pub intel_suspicious: f64,
    /// ... benign per intel (negative).
    pub intel_benign: f64,
    /// Multiplier for intel hits on indicators seen only in alert text.
    pub intel_text_only_factor: f64,
    /// The activity comes from a vulnerability scanner or pentest asset
    /// (negative; half of it for a pentester account).
    pub known_benign_source: f64,
    /// The same rule on the same entity was a false positive at least twice
    /// and never a true positive (negative).
    pub history_false_positive: f64,
    /// The same rule on the same entity was a true positive before.
    pub history_true_positive: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            severity_informational: 5.0,
            severity_low: 15.0,
            severity_medium: 30.0,
            severity_high: 45.0,
            severity_critical: 60.0,
            post_access_activity: 15.0,
            per_extra_rule: 5.0,
            tier_0: 20.0,
            tier_1: 10.0,
            tier_2: 4.0,
            tier_3: 0.0,
            production: 5.0,
            internet_exposed: 5.0,
            per_extra_asset: 5.0,
            kev: 10.0,
            privileged: 10.0,
            service_account: 5.0,
            mfa_disabled: 5.0,
            vip: 5.0,
            unusual_country: 15.0,
            active_incident: 20.0,
            past_threat_case: 10.0,
            intel_malicious: 30.0,
            intel_suspicious: 20.0,
            intel_benign: -10.0,
            intel_text_only_factor: 0.5,
            known_benign_source: -50.0,
            history_false_positive: -25.0,
            history_true_positive: 10.0,
        }
    }
}

impl Weights {
    pub(crate) fn severity(&self, level: warden_domain::Severity) -> f64 {
        use warden_domain::Severity::*;
        match level {
            Informational => self.severity_informational,
            Low => self.severity_low,
            Medium => self.severity_medium,
            High => self.severity_high,
            Critical => self.severity_critical,
        }
    }

    pub(crate) fn criticality(&self, tier: &str) -> f64 {
        match tier {
            "tier_0" => self.tier_0,
            "tier_1" => self.tier_1,
            "tier_2" => self.tier_2,
            _ => self.tier_3,
        }
    }
}

/// Risk score cut-offs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Likelihood (the risk factors about whether this is an attack, not
    /// what is at stake) at or above this is malicious.
    pub malicious: f64,
    /// Likelihood at or above this (and below malicious) is suspicious.
    pub suspicious: f64,
    /// Severity critical at or above this risk.
    pub critical_severity: f64,
    /// Severity high at or above this risk.
    pub high_severity: f64,
    /// Severity medium at or above this risk.
    pub medium_severity: f64,
    /// Severity low at or above this risk; below it, informational.
    pub low_severity: f64,
    /// Within this many points of a verdict threshold, confidence drops.
    pub margin: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            malicious: 55.0,
            suspicious: 38.0,
            critical_severity: 85.0,
            high_severity: 65.0,
            medium_severity: 40.0,
            low_severity: 20.0,
            margin: 8.0,
        }
    }
}
