//! The facts a policy decision sees.
//!
//! INVARIANT (S2): everything here is computed by deterministic code from
//! the case, structured evidence and recorded approvals. No field is copied
//! from alert text, so an attacker's words cannot become a policy input.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use warden_domain::evidence::EvidenceKind;
use warden_domain::{Evidence, Freshness, Severity, Target, Verdict};

/// Approvals already verified and counted in Rust (distinct people, not the
/// requester, not expired, bound to this proposal's hash).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalTally {
    pub count: u32,
    pub roles: BTreeSet<String>,
}

/// Facts about the case as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFacts {
    pub use_case: String,
    pub autonomy: String,
    pub severity: Severity,
    pub confidence: f64,
    pub verdict: Verdict,
    pub evidence_gaps: usize,
    pub stale_evidence: usize,
}

impl CaseFacts {
    /// Count stale items among `evidence`.
    pub fn count_stale(evidence: &[Evidence]) -> usize {
        evidence
            .iter()
            .filter(|e| matches!(e.freshness, Freshness::Stale { .. }))
            .count()
    }
}

/// Facts about the action's target, from the evidence about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetFacts {
    pub asset_criticality: String,
    pub asset_environment: String,
    pub asset_tags: BTreeSet<String>,
    pub identity_type: String,
    pub identity_privileged: bool,
}

impl TargetFacts {
    /// What the evidence says about `target` ("unknown" where it says
    /// nothing, which policies should treat as the riskier case).
    pub fn from_evidence(target: &Target, evidence: &[Evidence]) -> Self {
        let mut facts = TargetFacts {
            asset_criticality: "unknown".into(),
            asset_environment: "unknown".into(),
            asset_tags: BTreeSet::new(),
            identity_type: "unknown".into(),
            identity_privileged: false,
        };
        let Target::Entity { kind, value } = target else {
            return facts;
        };
        for item in evidence {
            let about_target = item
                .subject
                .as_ref()
                .is_some_and(|(k, v)| k == kind && v == value);
            if !about_target {
                continue;
            }
            let text = |key: &str| {
                item.facts
                    .get(key)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let tags = || -> BTreeSet<String> {
                item.facts
                    .get("tags")
                    .and_then(Value::as_array)
                    .map(|t| {
                        t.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_lowercase)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            match item.kind {
                EvidenceKind::Asset => {
                    facts.asset_criticality =
                        text("criticality").unwrap_or(facts.asset_criticality);
                    facts.asset_environment =
                        text("environment").unwrap_or(facts.asset_environment);
                    facts.asset_tags = tags();
                }
                EvidenceKind::Identity => {
                    facts.identity_type = text("user_type").unwrap_or(facts.identity_type);
                    facts.identity_privileged = item
                        .facts
                        .get("privileged")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                }
                _ => {}
            }
        }
        facts
    }
}

/// The Cedar context record (see `DecisionContext` in the schema).
pub(crate) fn context_json(
    case: &CaseFacts,
    target: &TargetFacts,
    approvals: &ApprovalTally,
) -> Value {
    json!({
        "use_case": case.use_case,
        "autonomy": case.autonomy,
        "severity": case.severity.rank(),
        "confidence": (case.confidence.clamp(0.0, 1.0) * 100.0).round() as i64,
        "verdict": case.verdict.as_str(),
        "evidence_gaps": case.evidence_gaps as i64,
        "stale_evidence": case.stale_evidence as i64,
        "asset_criticality": target.asset_criticality,
        "asset_environment": target.asset_environment,
        "asset_tags": target.asset_tags,
        "identity_type": target.identity_type,
        "identity_privileged": target.identity_privileged,
        "approvals": i64::from(approvals.count),
        "approver_roles": approvals.roles,
    })
}
