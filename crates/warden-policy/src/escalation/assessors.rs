//! Every assessor can stop a closure (S4).
//!
//! A case closes without a person only when every assessor that ran (the
//! leading one, the deterministic baseline beside a model, an ensemble's
//! other models) gave a verdict on the no-threat side, each at or above
//! its confidence threshold. These triggers name the assessor that stands
//! in the way:
//!
//! - `assessor_failed`: its run gave no usable answer (the pipeline says
//!   which runs failed: [`FailedAssessor`]; never inferred from a zero
//!   confidence);
//! - `no_verdict`: it answered `unknown` (no verdict is a default);
//! - `low_confidence`: a further assessor's confidence is below the
//!   threshold (the leading assessor's own is checked with the other
//!   triggers);
//! - `suspected_injection`: its rationale reports that the alert tries to
//!   steer it (an item whose factor names injection, as the LLM is told to
//!   say).
//!
//! Splits between threat and no threat stay `assessor_disagreement`.

use warden_domain::Assessment;

use super::{EscalationInput, Trigger};

/// An assessor whose run gave no usable answer: the run failed (a model
/// call that timed out or answered 5xx, an answer off-schema after its
/// repair...), or its output broke the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedAssessor {
    /// The assessor's name (`llm`, `llm-second`, `deterministic`).
    pub assessor: String,
    /// Why, as the pipeline recorded it.
    pub reason: String,
}

/// Whether `assessment`'s rationale reports that the case's text tries to
/// steer the assessor: an item whose factor names injection (`injection`,
/// `prompt_injection`, any case).
pub fn reports_injection(assessment: &Assessment) -> bool {
    assessment
        .rationale
        .iter()
        .any(|item| item.factor.to_ascii_lowercase().contains("injection"))
}

/// The per-assessor triggers, in order: failures, then for each assessor
/// that answered (the leading one first) no verdict, low confidence (the
/// further ones), reported injection.
pub(super) fn triggers(input: &EscalationInput<'_>, min_confidence: f64) -> Vec<Trigger> {
    let mut fired = Vec::new();
    for failure in input.failed {
        fired.push(Trigger {
            code: "assessor_failed",
            reason: format!(
                "{} gave no usable answer ({}): every assessor that runs must agree before a case closes",
                failure.assessor, failure.reason
            ),
        });
    }
    let failed = |name: &str| input.failed.iter().any(|f| f.assessor == name);
    let views = std::iter::once((input.assessment, true))
        .chain(input.second_opinions.iter().map(|a| (a, false)));
    for (view, leading) in views {
        if failed(&view.assessor) {
            continue;
        }
        if view.verdict.side().is_none() {
            fired.push(Trigger {
                code: "no_verdict",
                reason: format!(
                    "{} gave no verdict ({}): without one a person decides",
                    view.assessor, view.verdict
                ),
            });
        }
        if !leading && view.confidence < min_confidence {
            fired.push(Trigger {
                code: "low_confidence",
                reason: format!(
                    "{} confidence {:.2} is below the threshold {min_confidence:.2}",
                    view.assessor, view.confidence
                ),
            });
        }
        if reports_injection(view) {
            fired.push(Trigger {
                code: "suspected_injection",
                reason: format!(
                    "{} reports that the case's text tries to steer it (a rationale item on injection)",
                    view.assessor
                ),
            });
        }
    }
    fired
}

#[cfg(test)]
mod tests;
