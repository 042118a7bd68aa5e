//! Deterministic escalation triggers: the conditions under which a person
//! must decide, whatever the assessor concluded (S4).
//!
//! Each trigger has a stable code (for metrics and `warden eval`) and a
//! reason written for the analyst.

use std::sync::LazyLock;

use regex::RegexSet;
use serde_json::Value;
use warden_domain::evidence::EvidenceKind;
use warden_domain::{
    ActionName, Alert, Assessment, Decision, DecisionOutcome, Evidence, EvidenceGap, Freshness,
    UseCase,
};

/// Escalation settings (`[escalation]` in `warden.toml`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EscalationConfig {
    /// Below this assessor confidence (0-1), a person decides.
    pub min_confidence: f64,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        Self {
            min_confidence: 0.7,
        }
    }
}

/// One reason to ask a person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Trigger {
    /// Stable code: `low_confidence`, `evidence_gap`, `stale_evidence`,
    /// `critical_asset`, `privileged_identity`, `active_incident`,
    /// `threat_verdict`, `action_denied`, `similar_case_escalated`,
    /// `suspected_injection`, `assessor_disagreement` (and
    /// `invalid_assessment`, raised by the pipeline).
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
    if let Some(field) = input.alerts.iter().find_map(injection_field) {
        fire(
            "suspected_injection",
            format!("alert text reads like instructions to an AI ({field})"),
        );
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
    fired
}

/// Phrases that address an AI or try to steer triage. A signal, not the
/// defence: S1-S4 hold without it.
static INJECTION: LazyLock<Option<RegexSet>> = LazyLock::new(|| {
    RegexSet::new([
        r"(?i)\b(ignore|disregard|forget)\s+(all\s+|any\s+|the\s+|your\s+)?(previous|prior|above|earlier|preceding)\s+(instructions|prompts?|directions|rules)",
        // "Ignore any previous and following instructions", "disregard all
        // other rules": a few words may sit between verb and object.
        r"(?i)\b(ignore|disregard|forget|override)\s+(?:\w+\s+){0,4}?(previous|prior|above|earlier|preceding|following|all|any|other)\s+(?:\w+\s+){0,3}?(instructions|prompts?|directions|rules|guidelines|commands)",
        r"(?i)\bstop\s+everything\b.{0,40}\b(print|say|output|respond)",
        r#"(?i)\bjust\s+(print|say|output|respond\s+with)\s*[:"']"#,
        r"(?i)\b(note|message|instructions?)\s+(to|for)\s+(the\s+)?(ai|assistant|llm|model|agent|analyst\s+bot)\b",
        r"(?i)\b(close|mark|resolve|classify|label)\s+(this|the)\s+(case|alert|incident|ticket|detection)\s+as\s+(benign|false[\s_-]positive|resolved|safe|clean)",
        r"(?i)\bsystem\s+prompt\b",
        r"(?i)\byou\s+are\s+now\s+(a|an|in)\b",
        r"(?i)<\|?(im_start|im_end|system|endoftext)\|?>",
        r"(?i)\bAI\s+(assistant|agent|analyst)\s*[:,]",
    ])
    .ok()
});

/// Most bytes of one alert's text scanned for injection.
const MAX_SCAN: usize = 256 * 1024;

/// The first field of `alert` whose text looks like an injection attempt.
fn injection_field(alert: &Alert) -> Option<String> {
    let patterns = INJECTION.as_ref()?;
    if patterns.is_match(alert.title.as_untrusted_str()) {
        return Some("title".into());
    }
    if patterns.is_match(alert.description.as_untrusted_str()) {
        return Some("description".into());
    }
    // Every string of the raw payload could carry attacker text.
    let mut budget = MAX_SCAN;
    let mut stack: Vec<(&Value, String)> = vec![(&alert.raw, String::new())];
    while let Some((value, path)) = stack.pop() {
        match value {
            Value::String(text) => {
                if budget == 0 {
                    break;
                }
                budget = budget.saturating_sub(text.len());
                if patterns.is_match(text) {
                    return Some(if path.is_empty() {
                        "payload".into()
                    } else {
                        path
                    });
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate().rev() {
                    stack.push((item, format!("{path}[{i}]")));
                }
            }
            Value::Object(map) => {
                for (key, item) in map.iter().rev() {
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    stack.push((item, child));
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests;
