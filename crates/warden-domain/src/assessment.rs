//! What an assessor concludes about a case.

use serde::{Deserialize, Serialize};

use crate::action::ActionProposal;
use crate::ids::EvidenceId;
use crate::severity::Severity;
use crate::verdict::Verdict;

/// One step of reasoning, citing the evidence it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RationaleItem {
    /// The factor (`asset_criticality`, `intel`, `detection`...).
    pub factor: String,
    /// What the factor contributed, in words.
    pub text: String,
    /// Signed contribution to the risk score (0 for purely informative items).
    pub weight: f64,
    /// Evidence ids this item rests on; never empty.
    pub evidence: Vec<EvidenceId>,
}

/// An assessor's output for one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// Which assessor (`deterministic`, `llm:model`...).
    pub assessor: String,
    pub verdict: Verdict,
    pub severity: Severity,
    /// 0.0 to 1.0.
    pub confidence: f64,
    /// The composite risk score the verdict came from (0 to 100).
    pub risk_score: f64,
    pub rationale: Vec<RationaleItem>,
    pub proposed_actions: Vec<ActionProposal>,
}

/// An assessment that breaks the contract (checked before anything trusts it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAssessment {
    #[error("confidence must be between 0 and 1")]
    ConfidenceOutOfRange,
    #[error("rationale item {factor:?} cites no evidence")]
    Uncited { factor: String },
    #[error("rationale item {factor:?} cites unknown evidence {id}")]
    UnknownEvidence { factor: String, id: EvidenceId },
    #[error("proposed {action} targets something it cannot act on")]
    TargetMismatch { action: String },
}

impl Assessment {
    /// Check the output against the evidence that exists for the case: every
    /// item cites at least one known evidence id, confidence is in range, and
    /// every proposal targets something its action can act on.
    pub fn check(&self, known: &[EvidenceId]) -> Result<(), InvalidAssessment> {
        if !(0.0..=1.0).contains(&self.confidence) {
            return Err(InvalidAssessment::ConfidenceOutOfRange);
        }
        for item in &self.rationale {
            if item.evidence.is_empty() {
                return Err(InvalidAssessment::Uncited {
                    factor: item.factor.clone(),
                });
            }
            if let Some(id) = item.evidence.iter().find(|id| !known.contains(id)) {
                return Err(InvalidAssessment::UnknownEvidence {
                    factor: item.factor.clone(),
                    id: id.clone(),
                });
            }
        }
        if let Some(bad) = self
            .proposed_actions
            .iter()
            .find(|p| !p.target_fits_action())
        {
            return Err(InvalidAssessment::TargetMismatch {
                action: bad.action.to_string(),
            });
        }
        Ok(())
    }
}
