//! The facts a policy decision sees, rebuilt from what is stored about a
//! case. The pipeline uses them when it first decides; the executor uses
//! them again at execution time, so a re-check sees the case as it is now
//! (an autonomy that stepped down, evidence that changed).
//!
//! INVARIANT (S2): built from structured evidence, the assessment's typed
//! fields and the alerts' structured entities; never from alert text.

use warden_domain::alert::structured_entities;
use warden_domain::{Alert, Assessment, Evidence, EvidenceGap, Target, UseCase};
use warden_policy::{CaseFacts, TargetFacts};

/// What is known about a case, borrowed from wherever it lives.
#[derive(Debug, Clone, Copy)]
pub struct CaseView<'a> {
    /// With the autonomy in force now.
    pub use_case: &'a UseCase,
    pub assessment: &'a Assessment,
    pub evidence: &'a [Evidence],
    pub gaps: &'a [EvidenceGap],
    pub alerts: &'a [Alert],
    /// The other assessors' views of the case (the deterministic baseline
    /// when another assessor leads).
    pub second_opinions: &'a [Assessment],
}

impl CaseView<'_> {
    /// Facts about the case as a whole.
    pub fn case_facts(&self) -> CaseFacts {
        let (identity_types, privileged_identity) =
            CaseFacts::identities_from_evidence(self.evidence);
        CaseFacts {
            use_case: self.use_case.name.clone(),
            autonomy: self.use_case.autonomy.as_str().to_owned(),
            severity: self.assessment.severity,
            confidence: self.assessment.confidence,
            verdict: self.assessment.verdict,
            evidence_gaps: self.gaps.len(),
            stale_evidence: CaseFacts::count_stale(self.evidence),
            allowed_actions: self.use_case.allowed_actions.clone(),
            identity_types,
            privileged_identity,
            assessors_agree: assessors_agree(self.assessment, self.second_opinions),
        }
    }

    /// Facts about one target: what the evidence says about it, and
    /// whether it is the case itself or one of its own structured entities.
    ///
    /// A target an assessor named by its redacted form (S6: assessors see
    /// secrets as `[REDACTED:kind]`) is judged as the one clear entity of
    /// the case behind it; a placeholder that stands for none or for two
    /// is not in the case.
    pub fn target_facts(&self, target: &Target, case_id: warden_domain::CaseId) -> TargetFacts {
        let entities = structured_entities(self.alerts);
        let clear = match target {
            Target::Entity { kind, value } => {
                let unredact = warden_domain::redact::Unredact::of(
                    entities
                        .iter()
                        .filter(|(k, _)| k == kind)
                        .map(|(_, v)| v.as_str()),
                );
                Target::Entity {
                    kind: *kind,
                    value: unredact.clear(value).to_owned(),
                }
            }
            Target::Case { .. } => target.clone(),
        };
        let mut facts = TargetFacts::from_evidence(&clear, self.evidence);
        facts.in_case = match &clear {
            Target::Case { id } => *id == case_id,
            Target::Entity { kind, value } => entities.contains(&(*kind, value.clone())),
        };
        facts
    }
}

/// Whether every view lands on the same side: threat (malicious,
/// suspicious), no threat (benign, false positive), or unknown.
pub fn assessors_agree(primary: &Assessment, others: &[Assessment]) -> bool {
    others
        .iter()
        .all(|other| other.verdict.side() == primary.verdict.side())
}
