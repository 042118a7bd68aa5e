//! Assessors: read a case and its evidence, propose a verdict and actions.
//!
//! # Layout
//!
//! - [`Assessor`] and [`AssessmentInput`]: the interface every assessor
//!   implements (the deterministic scorer now; LLM assessors later).
//! - [`deterministic`]: the composite risk scorer, which always runs and
//!   needs no network. Its weights and thresholds are configuration.
//!
//! INVARIANT (S1): this crate depends on the domain model only. It cannot
//! reach the executor, connectors or store writes (its `Cargo.toml` shows it,
//! and a test in `warden-cli` checks the crate graph): an assessor's output
//! is a proposal, and nothing more.

pub mod chaos;
pub mod deterministic;

use serde::{Deserialize, Serialize};
use warden_domain::{Alert, Assessment, Case, Evidence, EvidenceGap, UseCase};

pub use chaos::ChaosAssessor;
pub use deterministic::{AssessorConfig, DeterministicAssessor};

/// An assessor that produced no usable assessment: its output did not
/// parse, broke the output schema, or was too large. The pipeline treats
/// it as an escalation, never as an answer (S4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AssessorFailure(pub String);

/// A context tool call an assessor asks for. The pipeline runs it only if
/// the use case's playbook lists the tool and every argument is one of the
/// case's own structured entities (S2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolRequest {
    pub tool: String,
    pub arguments: serde_json::Map<String, serde_json::Value>,
}

/// What an assessor sees: the case, its alerts and the evidence gathered
/// (all redacted), the gaps enrichment recorded, and the use case the case
/// falls under (its authority and thresholds).
#[derive(Debug, Clone, Copy)]
pub struct AssessmentInput<'a> {
    pub case: &'a Case,
    pub use_case: &'a UseCase,
    pub alerts: &'a [Alert],
    pub evidence: &'a [Evidence],
    pub gaps: &'a [EvidenceGap],
}

/// Something that assesses cases.
pub trait Assessor: Send + Sync {
    /// A short, stable name recorded with every assessment.
    fn name(&self) -> &str;

    /// The model (or rule engine) and version behind the assessor, for the
    /// audit record.
    fn model(&self) -> String {
        format!("warden-{}/{}", self.name(), env!("CARGO_PKG_VERSION"))
    }

    /// Assess one case. The output is checked against the evidence before
    /// anything uses it (`Assessment::check`); a failure escalates.
    fn assess(&self, input: &AssessmentInput<'_>) -> Result<Assessment, AssessorFailure>;

    /// Further context the assessor asks for (none by default).
    fn tool_requests(&self, _input: &AssessmentInput<'_>) -> Vec<ToolRequest> {
        Vec::new()
    }
}
