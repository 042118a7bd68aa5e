//! Deterministic escalation triggers: the conditions under which a person
//! must decide, whatever the assessor concluded (S4).
//!
//! Each trigger has a stable code (for metrics and `warden eval`) and a
//! reason written for the analyst.

use warden_domain::evidence::EvidenceKind;
use warden_domain::{
    ActionName, Alert, Assessment, Decision, DecisionOutcome, Evidence, EvidenceGap, Freshness,
    UseCase,
};

use crate::injection;

pub mod assessors;
pub use assessors::FailedAssessor;

/// Escalation settings (`[escalation]` in `warden.toml`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EscalationConfig {
    /// Below this assessor confidence (0-1), a person decides.
    pub min_confidence: f64,
    /// Run the prompt-injection detector ([`crate::injection`]) over the
    /// alerts' text and raise `suspected_injection` when it matches. A
    /// signal, not the defence: the safety invariants hold with it off.
    pub injection_detector: bool,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        Self {
            min_confidence: 0.7,
            injection_detector: true,
        }
    }
}

/// One reason to ask a person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Trigger {
    /// Stable code: `low_confidence`, `evidence_gap`, `stale_evidence`,
    /// `critical_asset`, `privileged_identity`, `active_incident`,
    /// `threat_verdict`, `action_denied`, `similar_case_escalated`,
    /// `suspected_injection`, `assessor_disagreement`, `assessor_failed`,
    /// `no_verdict` (and `invalid_assessment` and `auto_close_denied`,
    /// raised by the pipeline).
    pub code: &'static str,
    pub reason: String,
}

/// What the triggers look at.
#[derive(Debug, Clone, Copy)]
pub struct EscalationInput<'a> {
    /// The use case the case falls under (its authority and thresholds).
    pub use_case: &'a UseCase,
    /// The primary assessment.
    pub assessment: &'a Assessment,
    /// Other assessors' views of the same case (an ensemble); empty when
    /// one assessor ran.
    pub second_opinions: &'a [Assessment],
    /// Assessors whose run gave no usable answer (the leading one or a
    /// further one), as the pipeline knows it; their views above are
    /// placeholders without a verdict.
    pub failed: &'a [FailedAssessor],
    pub alerts: &'a [Alert],
    pub evidence: &'a [Evidence],
    pub gaps: &'a [EvidenceGap],
    pub decisions: &'a [Decision],
}

/// Every trigger that fires, in a fixed order.
pub fn escalation_triggers(input: &EscalationInput<'_>, config: &EscalationConfig) -> Vec<Trigger> {
    let mut fired = Vec::new();
    let mut fire = |code: &'static str, reason: String| fired.push(Trigger { code, reason });
    let assessment = input.assessment;

    let min_confidence = input
        .use_case
        .min_confidence
        .unwrap_or(config.min_confidence);
    if assessment.confidence < min_confidence {
        fire(
            "low_confidence",
            format!(
                "confidence {:.2} is below the threshold {min_confidence:.2}",
                assessment.confidence
            ),
        );
    }
    for gap in input.gaps {
        fire(
            "evidence_gap",
            format!("evidence unavailable: {}", gap.reason),
        );
    }
    for item in input.evidence {
        if let Freshness::Stale { age_seconds } = item.freshness {
            fire(
                "stale_evidence",
                format!(
                    "{} ({}) is {} days old",
                    item.id,
                    item.source,
                    age_seconds / 86_400
                ),
            );
        }
    }
    for asset in input
        .evidence
        .iter()
        .filter(|e| e.kind == EvidenceKind::Asset)
    {
        let tier = asset.fact_str("criticality");
        let host = asset.fact_str("hostname");
        let regulated = asset.has_tag("regulated");
        if tier == "tier_0" || regulated {
            fire(
                "critical_asset",
                format!(
                    "{host} is {tier}{} ({})",
                    if regulated { ", regulated" } else { "" },
                    asset.id
                ),
            );
        }
    }
    for identity in input
        .evidence
        .iter()
        .filter(|e| e.kind == EvidenceKind::Identity)
    {
        let user = identity.fact_str("user");
        let privileged = identity.fact_bool("privileged");
        let vip = identity.has_tag("vip") || identity.has_tag("break_glass");
        if privileged || vip {
            fire(
                "privileged_identity",
                format!(
                    "{user} is {} ({})",
                    match (privileged, vip) {
                        (true, true) => "privileged and a VIP or break-glass account",
                        (true, false) => "privileged",
                        _ => "a VIP or break-glass account",
                    },
                    identity.id
                ),
            );
        }
    }
    for incident in input
        .evidence
        .iter()
        .filter(|e| e.kind == EvidenceKind::Incident)
    {
        fire(
            "active_incident",
            format!(
                "tied to {} incident {} ({})",
                incident.fact_str("status"),
                incident.fact_str("incident_id"),
                incident.id
            ),
        );
    }
    if assessment.verdict.is_threat() {
        fire(
            "threat_verdict",
            format!(
                "verdict {}: an analyst confirms before the case closes",
                assessment.verdict
            ),
        );
    }
    // Authority: what the use case's playbook does not allow, whatever the
    // verdict; and, on a threat, any response the policy refused.
    for decision in input.decisions {
        let outside = !input.use_case.allows(decision.action);
        let refused = assessment.verdict.is_threat()
            && decision.action != ActionName::CaseNote
            && matches!(decision.outcome, DecisionOutcome::Deny);
        if outside || refused {
            fire(
                "action_denied",
                format!(
                    "proposed {} on {} is beyond the {} use case's authority{}",
                    decision.action,
                    decision.target.label(),
                    input.use_case.name,
                    if outside {
                        " (not in its playbook)"
                    } else {
                        " (denied by policy)"
                    }
                ),
            );
        }
    }
    for past in input.evidence.iter().filter(|e| {
        (e.kind == EvidenceKind::History && e.fact_u64("escalated").unwrap_or(0) > 0)
            || (e.kind == EvidenceKind::PastCase && e.fact_bool("escalated"))
    }) {
        fire(
            "similar_case_escalated",
            format!(
                "a similar case was escalated before ({}: {})",
                past.id, past.summary
            ),
        );
    }
    if config.injection_detector {
        match injection::scan_alerts(input.alerts) {
            injection::AlertScan::Clean => {}
            injection::AlertScan::Found(found) => fire(
                "suspected_injection",
                format!(
                    "alert text reads like instructions to an AI ({}, rule {})",
                    found.field, found.pattern
                ),
            ),
            // Fail closed (S4): what the detector could not read may hide
            // an instruction.
            injection::AlertScan::Unscannable(part) => fire(
                "suspected_injection",
                format!("alert text could not be scanned whole for instructions to an AI: {part}"),
            ),
        }
    }
    for other in input.second_opinions {
        let verdicts_split = other.verdict.is_threat() != assessment.verdict.is_threat();
        let severity_gap = other.severity.rank().abs_diff(assessment.severity.rank()) >= 2;
        if verdicts_split || severity_gap {
            fire(
                "assessor_disagreement",
                format!(
                    "{} says {} ({}), {} says {} ({})",
                    assessment.assessor,
                    assessment.verdict,
                    assessment.severity,
                    other.assessor,
                    other.verdict,
                    other.severity
                ),
            );
        }
    }
    // Every assessor that ran can stop a closure (assessors.rs).
    fired.extend(assessors::triggers(input, min_confidence));
    fired
}

#[cfg(test)]
mod tests;
