//! The facts a policy decision sees.
//!
//! INVARIANT (S2): everything here is computed by deterministic code from
//! the case, structured evidence and recorded approvals. No field is copied
//! from alert text, so an attacker's words cannot become a policy input.

use std::collections::BTreeSet;

use cedar_policy::RestrictedExpression;
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
    /// `user_type` of every identity record in the case's evidence
    /// (`context.case_identity_types`): `human`, `service_account`, or
    /// `unknown` for a record that does not say.
    pub identity_types: BTreeSet<String>,
    /// Whether any identity in the case's evidence is privileged
    /// (`context.case_privileged`).
    pub privileged_identity: bool,
    /// Whether every assessor that looked at the case (the deterministic
    /// baseline always among them when another assessor leads) lands on the
    /// same side, threat or not (`context.assessors_agree`).
    pub assessors_agree: bool,
}

impl CaseFacts {
    /// Count stale items among `evidence`.
    pub fn count_stale(evidence: &[Evidence]) -> usize {
        evidence
            .iter()
            .filter(|e| matches!(e.freshness, Freshness::Stale { .. }))
            .count()
    }

    /// The `user_type` of every identity record among `evidence` ("unknown"
    /// for a record without one), and whether any of them is privileged:
    /// the values of [`CaseFacts::identity_types`] and
    /// [`CaseFacts::privileged_identity`].
    pub fn identities_from_evidence(evidence: &[Evidence]) -> (BTreeSet<String>, bool) {
        let mut types = BTreeSet::new();
        let mut privileged = false;
        for item in evidence.iter().filter(|e| e.kind == EvidenceKind::Identity) {
            types.insert(known(item.fact_str("user_type")));
            privileged |= item.fact_bool("privileged");
        }
        (types, privileged)
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
    /// The target account's tags (`vip`, `break_glass`, ...), lower-cased.
    pub identity_tags: BTreeSet<String>,
    /// Whether the target is the case itself or one of the case's own
    /// structured entities (`context.target_in_case`). Not derivable from
    /// evidence: [`TargetFacts::from_evidence`] leaves it `false` (the safe
    /// value) and the caller, which knows the case, sets it.
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
            identity_tags: BTreeSet::new(),
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
                    facts.identity_tags = item.tags().into_iter().collect();
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

/// The Cedar context record (see `DecisionContext` in the schema), as
/// name/value pairs; `Request::new` checks them against the schema.
pub(crate) fn context_pairs(
    action: ActionName,
    case: &CaseFacts,
    target: &TargetFacts,
    approvals: &ApprovalTally,
) -> Vec<(String, RestrictedExpression)> {
    let text = |s: &str| RestrictedExpression::new_string(s.to_owned());
    let set = |items: &BTreeSet<String>| {
        RestrictedExpression::new_set(
            items
                .iter()
                .map(|s| RestrictedExpression::new_string(s.clone())),
        )
    };
    let long = |n: usize| RestrictedExpression::new_long(i64::try_from(n).unwrap_or(i64::MAX));
    let confidence = (case.confidence.clamp(0.0, 1.0) * 100.0).round() as i64;
    vec![
        ("use_case".into(), text(&case.use_case)),
        ("autonomy".into(), text(&case.autonomy)),
        (
            "severity".into(),
            RestrictedExpression::new_long(case.severity.rank()),
        ),
        (
            "confidence".into(),
            RestrictedExpression::new_long(confidence),
        ),
        ("verdict".into(), text(case.verdict.as_str())),
        ("evidence_gaps".into(), long(case.evidence_gaps)),
        ("stale_evidence".into(), long(case.stale_evidence)),
        (
            "in_playbook".into(),
            RestrictedExpression::new_bool(case.allowed_actions.contains(&action)),
        ),
        ("asset_criticality".into(), text(&target.asset_criticality)),
        ("asset_environment".into(), text(&target.asset_environment)),
        ("asset_tags".into(), set(&target.asset_tags)),
        ("identity_type".into(), text(&target.identity_type)),
        (
            "identity_privileged".into(),
            RestrictedExpression::new_bool(target.identity_privileged),
        ),
        ("identity_tags".into(), set(&target.identity_tags)),
        (
            "target_in_case".into(),
            RestrictedExpression::new_bool(target.in_case),
        ),
        ("case_identity_types".into(), set(&case.identity_types)),
        (
            "case_privileged".into(),
            RestrictedExpression::new_bool(case.privileged_identity),
        ),
        (
            "assessors_agree".into(),
            RestrictedExpression::new_bool(case.assessors_agree),
        ),
        (
            "approvals".into(),
            RestrictedExpression::new_long(i64::from(approvals.count)),
        ),
        ("approver_roles".into(), set(&approvals.roles)),
    ]
}
