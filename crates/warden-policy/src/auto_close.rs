//! The facts a `case.auto_close` decision sees: may a case close without a
//! person?
//!
//! INVARIANT (S2): computed by deterministic code from the assessors'
//! outputs (verdicts, confidences, whether they ran), the case's structured
//! evidence and the escalation triggers; no field is alert text.
//!
//! INVARIANT (S4): the pipeline asks only about a case no trigger sent to
//! people, with nothing waiting for approval and nothing run; anything but
//! a clean permit is a no, and the case escalates (`auto_close_denied`).

use std::collections::BTreeSet;

use cedar_policy::RestrictedExpression;
use warden_domain::evidence::EvidenceKind;
use warden_domain::{Evidence, Severity, Verdict};

use crate::escalation::{EscalationInput, Trigger, assessors::reports_injection};
use crate::request::CaseFacts;

/// Tags that say an asset or account is expected to do alarming things
/// (a scanner scans, a pentest box attacks, an allow-listed source is
/// vouched for, a CI runner fetches and runs code).
pub const BENIGN_TAGS: &[&str] = &[
    "vuln_scanner",
    "scanner",
    "pentest",
    "allowlisted",
    "allow_listed",
    "ci_runner",
];

/// One assessor that ran, as the closure decision sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct AssessorView {
    pub assessor: String,
    /// `None`: its run gave no usable answer (failed).
    pub verdict: Option<Verdict>,
    /// 0 to 1 (0 for a failed run).
    pub confidence: f64,
}

impl AssessorView {
    /// The verdict as the policies see it: `failed` for a failed run.
    pub fn verdict_name(&self) -> &'static str {
        self.verdict.map_or("failed", Verdict::as_str)
    }
}

/// Facts about a case that might close without a person
/// (`AutoCloseContext` in the schema).
#[derive(Debug, Clone, PartialEq)]
pub struct AutoCloseFacts {
    pub use_case: String,
    /// `shadow`, `draft`, `assisted`, `autonomous`.
    pub autonomy: String,
    /// The leading assessment's severity.
    pub severity: Severity,
    /// Every assessor that ran, the leading one first.
    pub assessors: Vec<AssessorView>,
    /// The injection detector matched, or an assessor's rationale reports
    /// injection.
    pub injection_suspected: bool,
    pub evidence_gaps: usize,
    pub stale_evidence: usize,
    /// Evidence items of the case (its alerts included).
    pub evidence_total: usize,
    /// Evidence items that can speak for benign ([`speaks_for_benign`]).
    pub benign_evidence: usize,
    /// Codes of the escalation triggers that fired.
    pub triggers: BTreeSet<String>,
}

/// Whether an evidence item can speak for benign: a history of false
/// positive or benign closures of the rule and entity with no true positive
/// and no escalation; an earlier case closed benign or false positive
/// without escalation; intel calling an indicator benign; an asset or
/// account tagged as one of [`BENIGN_TAGS`]. Counting is not judging:
/// whether such an item explains this alert is the assessors' call.
pub fn speaks_for_benign(item: &Evidence) -> bool {
    match item.kind {
        EvidenceKind::Asset | EvidenceKind::Identity => item
            .tags()
            .iter()
            .any(|t| BENIGN_TAGS.contains(&t.as_str())),
        EvidenceKind::Intel => item.fact_str("verdict") == "benign",
        EvidenceKind::History => {
            let count = |key: &str| item.fact_u64(key).unwrap_or(0);
            count("false_positive").saturating_add(count("benign")) > 0
                && count("true_positive") == 0
                && count("escalated") == 0
        }
        EvidenceKind::PastCase => {
            matches!(item.fact_str("verdict"), "benign" | "false_positive")
                && !item.fact_bool("escalated")
        }
        EvidenceKind::Alert | EvidenceKind::Vulnerability | EvidenceKind::Incident => false,
    }
}

impl AutoCloseFacts {
    /// The facts of the case the triggers looked at, after `triggers`
    /// fired.
    pub fn of(input: &EscalationInput<'_>, triggers: &[Trigger]) -> Self {
        let failed = |name: &str| input.failed.iter().any(|f| f.assessor == name);
        let assessors: Vec<AssessorView> = std::iter::once(input.assessment)
            .chain(input.second_opinions)
            .map(|a| {
                let ran = !failed(&a.assessor);
                AssessorView {
                    assessor: a.assessor.clone(),
                    verdict: ran.then_some(a.verdict),
                    confidence: if ran { a.confidence } else { 0.0 },
                }
            })
            .collect();
        let injection_suspected = triggers.iter().any(|t| t.code == "suspected_injection")
            || std::iter::once(input.assessment)
                .chain(input.second_opinions)
                .any(reports_injection);
        Self {
            use_case: input.use_case.name.clone(),
            autonomy: input.use_case.autonomy.as_str().to_owned(),
            severity: input.assessment.severity,
            assessors,
            injection_suspected,
            evidence_gaps: input.gaps.len(),
            stale_evidence: CaseFacts::count_stale(input.evidence),
            evidence_total: input.evidence.len(),
            benign_evidence: input
                .evidence
                .iter()
                .filter(|e| speaks_for_benign(e))
                .count(),
            triggers: triggers.iter().map(|t| t.code.to_owned()).collect(),
        }
    }

    /// The lowest confidence among the assessors (0 when one failed or
    /// none ran), 0 to 1.
    pub fn min_confidence(&self) -> f64 {
        self.assessors
            .iter()
            .map(|a| a.confidence)
            .reduce(f64::min)
            .unwrap_or(0.0)
    }

    /// Every assessor gave a verdict, and all on the same side (threat or
    /// not).
    pub fn assessors_agree(&self) -> bool {
        let sides: BTreeSet<Option<bool>> = self
            .assessors
            .iter()
            .map(|a| a.verdict.and_then(Verdict::side))
            .collect();
        sides.len() == 1 && !sides.contains(&None)
    }

    /// The context record as JSON (what the audit entry keeps).
    pub fn to_json(&self) -> serde_json::Value {
        let lead = self.assessors.first();
        serde_json::json!({
            "use_case": self.use_case,
            "autonomy": self.autonomy,
            "severity": self.severity.rank(),
            "verdict": lead.map_or("unknown", AssessorView::verdict_name),
            "confidence": percent(lead.map_or(0.0, |a| a.confidence)),
            "assessments": self.assessors.iter().map(|a| serde_json::json!({
                "assessor": a.assessor,
                "verdict": a.verdict_name(),
                "confidence": percent(a.confidence),
            })).collect::<Vec<_>>(),
            "verdicts": self.verdicts(),
            "assessor_verdicts": self.assessor_verdicts(),
            "min_confidence": percent(self.min_confidence()),
            "failed_assessors": self.failed(),
            "assessors_agree": self.assessors_agree(),
            "injection_suspected": self.injection_suspected,
            "evidence_gaps": self.evidence_gaps,
            "stale_evidence": self.stale_evidence,
            "evidence_total": self.evidence_total,
            "benign_evidence": self.benign_evidence,
            "triggers": self.triggers,
        })
    }

    fn verdicts(&self) -> BTreeSet<String> {
        self.assessors
            .iter()
            .map(|a| a.verdict_name().to_owned())
            .collect()
    }

    fn assessor_verdicts(&self) -> BTreeSet<String> {
        self.assessors
            .iter()
            .map(|a| format!("{}:{}", a.assessor, a.verdict_name()))
            .collect()
    }

    fn failed(&self) -> BTreeSet<String> {
        self.assessors
            .iter()
            .filter(|a| a.verdict.is_none())
            .map(|a| a.assessor.clone())
            .collect()
    }
}

/// A 0-1 confidence in whole per cent, as every Cedar context has it.
fn percent(confidence: f64) -> i64 {
    (confidence.clamp(0.0, 1.0) * 100.0).round() as i64
}

/// The Cedar context record (`AutoCloseContext` in the schema), as
/// name/value pairs.
pub(crate) fn auto_close_pairs(
    facts: &AutoCloseFacts,
) -> Result<Vec<(String, RestrictedExpression)>, String> {
    let text = |s: &str| RestrictedExpression::new_string(s.to_owned());
    let set = |items: BTreeSet<String>| {
        RestrictedExpression::new_set(items.into_iter().map(RestrictedExpression::new_string))
    };
    let long = |n: usize| RestrictedExpression::new_long(i64::try_from(n).unwrap_or(i64::MAX));
    let lead = facts.assessors.first();
    let assessments = facts
        .assessors
        .iter()
        .map(|a| {
            RestrictedExpression::new_record([
                ("assessor".to_owned(), text(&a.assessor)),
                ("verdict".to_owned(), text(a.verdict_name())),
                (
                    "confidence".to_owned(),
                    RestrictedExpression::new_long(percent(a.confidence)),
                ),
            ])
            .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(vec![
        ("use_case".into(), text(&facts.use_case)),
        ("autonomy".into(), text(&facts.autonomy)),
        (
            "severity".into(),
            RestrictedExpression::new_long(facts.severity.rank()),
        ),
        (
            "verdict".into(),
            text(lead.map_or("unknown", AssessorView::verdict_name)),
        ),
        (
            "confidence".into(),
            RestrictedExpression::new_long(percent(lead.map_or(0.0, |a| a.confidence))),
        ),
        (
            "assessments".into(),
            RestrictedExpression::new_set(assessments),
        ),
        ("verdicts".into(), set(facts.verdicts())),
        ("assessor_verdicts".into(), set(facts.assessor_verdicts())),
        (
            "min_confidence".into(),
            RestrictedExpression::new_long(percent(facts.min_confidence())),
        ),
        ("failed_assessors".into(), set(facts.failed())),
        (
            "assessors_agree".into(),
            RestrictedExpression::new_bool(facts.assessors_agree()),
        ),
        (
            "injection_suspected".into(),
            RestrictedExpression::new_bool(facts.injection_suspected),
        ),
        ("evidence_gaps".into(), long(facts.evidence_gaps)),
        ("stale_evidence".into(), long(facts.stale_evidence)),
        ("evidence_total".into(), long(facts.evidence_total)),
        ("benign_evidence".into(), long(facts.benign_evidence)),
        ("triggers".into(), set(facts.triggers.clone())),
    ])
}

#[cfg(test)]
mod tests;
