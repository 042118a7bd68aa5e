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
    #[error("{count} proposed actions; at most {max} are accepted")]
    TooManyProposals { count: usize, max: usize },
    #[error("{count} rationale items; at most {max} are accepted")]
    TooManyReasons { count: usize, max: usize },
    #[error("{what} is {bytes} bytes; at most {max} are accepted")]
    TooLarge {
        what: String,
        bytes: usize,
        max: usize,
    },
}

/// Most proposals one assessment may carry.
pub const MAX_PROPOSALS: usize = 512;
/// Most rationale items one assessment may carry.
pub const MAX_RATIONALE_ITEMS: usize = 64;
/// Longest rationale text or parameter value, in bytes.
pub const MAX_TEXT_BYTES: usize = 4096;

/// At most `max` characters of `text`, for error messages.
fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

impl Assessment {
    /// Check the output against the evidence that exists for the case: every
    /// item cites at least one known evidence id, confidence is in range, and
    /// every proposal targets something its action can act on.
    ///
    /// Sizes are bounded too: an assessor that floods the pipeline with
    /// proposals or text is broken or attacked, and its output is refused
    /// whole rather than cut (a cut could keep the wrong part).
    pub fn check(&self, known: &[EvidenceId]) -> Result<(), InvalidAssessment> {
        if !(0.0..=1.0).contains(&self.confidence) || !(0.0..=100.0).contains(&self.risk_score) {
            return Err(InvalidAssessment::ConfidenceOutOfRange);
        }
        if self.proposed_actions.len() > MAX_PROPOSALS {
            return Err(InvalidAssessment::TooManyProposals {
                count: self.proposed_actions.len(),
                max: MAX_PROPOSALS,
            });
        }
        if self.rationale.len() > MAX_RATIONALE_ITEMS {
            return Err(InvalidAssessment::TooManyReasons {
                count: self.rationale.len(),
                max: MAX_RATIONALE_ITEMS,
            });
        }
        let too_large = |what: String, bytes: usize| InvalidAssessment::TooLarge {
            what,
            bytes,
            max: MAX_TEXT_BYTES,
        };
        for item in &self.rationale {
            if item.text.len() > MAX_TEXT_BYTES || item.factor.len() > MAX_TEXT_BYTES {
                return Err(too_large(
                    format!("rationale item {:?}", truncate(&item.factor, 40)),
                    item.text.len().max(item.factor.len()),
                ));
            }
        }
        for proposal in &self.proposed_actions {
            for (key, value) in &proposal.parameters {
                if key.len() + value.len() > MAX_TEXT_BYTES {
                    return Err(too_large(
                        format!("parameter {:?} of {}", truncate(key, 40), proposal.action),
                        key.len() + value.len(),
                    ));
                }
            }
            if proposal.target.label().len() > MAX_TEXT_BYTES {
                return Err(too_large(
                    format!("the target of {}", proposal.action),
                    proposal.target.label().len(),
                ));
            }
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
