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

pub mod deterministic;

use warden_domain::{Alert, Assessment, Case, Evidence, EvidenceGap, UseCase};

pub use deterministic::{AssessorConfig, DeterministicAssessor};

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

    /// Assess one case. The output is checked against the evidence before
    /// anything uses it (`Assessment::check`).
    fn assess(&self, input: &AssessmentInput<'_>) -> Assessment;
}
