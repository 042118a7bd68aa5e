//! Assessors: read a case and its evidence, propose a verdict and actions.
//!
//! # Layout
//!
//! - [`Assessor`], [`AssessmentInput`] and [`AssessorHost`]: the interface
//!   every assessor implements, and the pipeline's side of it (vetted read
//!   tools, the record). The LLM assessor lives in `warden-llm`.
//! - [`deterministic`]: the composite risk scorer, which always runs and
//!   needs no network. Its weights and thresholds are configuration.
//! - [`chaos`]: the adversarial test model.
//!
//! INVARIANT (S1): this crate depends on the domain model only. It cannot
//! reach the executor, connectors or store writes (its `Cargo.toml` shows it,
//! and a test in `warden-cli` checks the crate graph): an assessor's output
//! is a proposal, and nothing more.

pub mod chaos;
pub mod deterministic;

use serde::{Deserialize, Serialize};
use warden_domain::{Alert, Assessment, Case, Evidence, EvidenceGap, ModelExchange, UseCase};

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

impl AssessmentInput<'_> {
    /// SHA-256 over the case's alerts' payload hashes, sorted: the same
    /// alerts give the same value in any run (the replay key of model
    /// calls, and the chaos model's pick).
    pub fn payload_fingerprint(&self) -> String {
        let mut hashes: Vec<&str> = self.alerts.iter().map(|a| a.raw_sha256.as_str()).collect();
        hashes.sort_unstable();
        warden_domain::hashing::sha256_fields(hashes)
    }
}

/// A read tool an assessor may call, as the playbook's plan allows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    /// What it answers, for the model.
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: serde_json::Value,
}

/// What an allowed tool call found: new evidence (citable by id from then
/// on) and the lookups that came back empty or failed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolAnswer {
    pub evidence: Vec<Evidence>,
    pub gaps: Vec<EvidenceGap>,
}

/// The pipeline's side of one assessment. An assessor reaches context and
/// the record only through it: the host runs a tool call only when the
/// playbook's plan lists the tool and every argument is one of the case's
/// own structured entities (S2), and puts every model exchange and tool
/// call on the audit log before the assessor sees its result (S5).
#[async_trait::async_trait]
pub trait AssessorHost: Send + Sync {
    /// The read tools the playbook allows for this case.
    fn tools(&self) -> Vec<ToolSpec>;

    /// Run `request` if it is allowed; otherwise the reason it was
    /// refused. Refusals are recorded and escalate the case.
    async fn call_tool(&self, request: &ToolRequest) -> Result<ToolAnswer, String>;

    /// Record a model call (prompt and output) before its answer is used.
    /// An error means it could not be recorded: the assessor must stop.
    async fn record_exchange(&self, exchange: ModelExchange) -> Result<(), String>;
}

/// A reason to ask a person that the assessor itself found (the model
/// contradicted the evidence, the output needed repair...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssessorFlag {
    /// Stable code, used as an escalation trigger (`hallucination`,
    /// `budget_exhausted`).
    pub code: &'static str,
    pub reason: String,
}

/// One assessment run: the answer (or why there is none), with the flags
/// raised on the way and the tokens spent.
#[derive(Debug, Clone, PartialEq)]
pub struct AssessorRun {
    pub outcome: Result<Assessment, AssessorFailure>,
    pub flags: Vec<AssessorFlag>,
    /// Model tokens used (0 for rule engines).
    pub tokens: u64,
}

impl AssessorRun {
    /// A run that produced `outcome` with nothing else to say.
    pub fn of(outcome: Result<Assessment, AssessorFailure>) -> Self {
        Self {
            outcome,
            flags: Vec::new(),
            tokens: 0,
        }
    }
}

/// Something that assesses cases.
#[async_trait::async_trait]
pub trait Assessor: Send + Sync {
    /// A short, stable name recorded with every assessment.
    fn name(&self) -> &str;

    /// The model (or rule engine) and version behind the assessor, for the
    /// audit record.
    fn model(&self) -> String {
        format!("warden-{}/{}", self.name(), env!("CARGO_PKG_VERSION"))
    }

    /// Assess one case, asking `host` for any further context. The output
    /// is checked against the evidence before anything uses it
    /// (`Assessment::check`); a failure escalates.
    async fn assess(&self, input: &AssessmentInput<'_>, host: &dyn AssessorHost) -> AssessorRun;
}
