//! The facts a policy decision sees.
//!
//! INVARIANT (S2): everything here is computed by deterministic code from
//! the case, structured evidence and recorded approvals. No field is copied
//! from alert text, so an attacker's words cannot become a policy input.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use warden_domain::evidence::EvidenceKind;
use warden_domain::{ActionName, Evidence, Freshness, Severity, Target, Verdict};

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
    /// Actions the use case's playbook allows (`context.in_playbook`).
    pub allowed_actions: BTreeSet<ActionName>,
    /// `user_type` of every identity record in the case's evidence.
    pub identity_types: BTreeSet<String>,
    /// Whether any identity in the case's evidence is privileged.
    pub privileged_identity: bool,
}

impl CaseFacts {
    /// The identity types and whether any is privileged, from the case's
    /// identity evidence.
    pub fn identities_from_evidence(evidence: &[Evidence]) -> (BTreeSet<String>, bool) {
        let mut types = BTreeSet::new();
        let mut privileged = false;
        for item in evidence.iter().filter(|e| e.kind == EvidenceKind::Identity) {
            let user_type = item.fact_str("user_type");
            if !user_type.is_empty() {
                types.insert(user_type.to_owned());
            }
            privileged |= item.fact_bool("privileged");
        }
        (types, privileged)
    }

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
    /// The target is the case itself or one of the case's own structured
    /// entities (set by the caller, which knows the case).
    pub in_case: bool,
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
            in_case: false,
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
            match item.kind {
                EvidenceKind::Asset => {
                    facts.asset_criticality = known(item.fact_str("criticality"));
                    facts.asset_environment = known(item.fact_str("environment"));
                    facts.asset_tags = item.tags().into_iter().collect();
                }
                EvidenceKind::Identity => {
                    facts.identity_type = known(item.fact_str("user_type"));
                    facts.identity_privileged = item.fact_bool("privileged");
                }
                _ => {}
            }
        }
        facts
    }
}

/// A fact's text, or "unknown" when the evidence does not say.
fn known(text: &str) -> String {
    if text.is_empty() {
        "unknown".into()
    } else {
        text.to_owned()
    }
}

/// The Cedar context record (see `DecisionContext` in the schema).
pub(crate) fn context_json(
    action: ActionName,
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
        "in_playbook": case.allowed_actions.contains(&action),
        "asset_criticality": target.asset_criticality,
        "asset_environment": target.asset_environment,
        "asset_tags": target.asset_tags,
        "identity_type": target.identity_type,
        "identity_privileged": target.identity_privileged,
        "approvals": i64::from(approvals.count),
        "approver_roles": approvals.roles,
    })
}
