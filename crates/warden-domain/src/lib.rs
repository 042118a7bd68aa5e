//! The Warden domain model: the types an alert becomes on its way through
//! triage, with parsing and invariants but no I/O.
//!
//! # Layout
//!
//! - [`untrusted`]: [`Untrusted`], the wrapper for text that came from outside
//!   (alert messages, command lines, file names). It has no `Display`, so it
//!   cannot be formatted into an instruction or a prompt by accident.
//! - [`severity`], [`verdict`]: the five severities, verdicts and dispositions
//!   of the public contract.
//! - [`observable`]: typed entities (host, user, ip, ...) with their
//!   provenance: a structured field, or a pattern match inside untrusted text.
//! - [`alert`]: [`Alert`], aligned with OCSF Detection Finding (class 2004).
//! - [`case`]: [`Case`], the persisted state machine alerts are grouped into.
//! - [`evidence`]: what enrichment found, each item with an id that rationale
//!   cites, its source and its freshness.
//! - [`action`]: the action catalogue and [`ActionProposal`], bound by a hash.
//! - [`assessment`], [`decision`], [`approval`], [`execution`]: what assessors,
//!   the policy layer, people and the executor produce.
//! - [`exchange`]: a model call (prompt and output) as the record keeps it.
//! - [`audit`]: the typed audit events every stage appends.
//!
//! Data flows ingest -> correlate -> enrich -> assess -> decide -> approve ->
//! execute; each stage's output type lives here so that the crates doing the
//! work depend only on this crate and not on each other.

pub mod action;
pub mod alert;
pub mod approval;
pub mod assessment;
pub mod audit;
pub mod case;
pub mod clock;
pub mod decision;
pub mod evidence;
pub mod exchange;
pub mod execution;
pub mod hashing;
pub mod ids;
pub mod observable;
pub mod redact;
pub mod severity;
pub mod untrusted;
pub mod use_case;
pub mod verdict;

pub use action::{ActionName, ActionProposal, ProposalHash, Target, UnknownAction};
pub use alert::{Alert, AttackTechnique, RuleRef, SourceFormat};
pub use approval::{
    Approval, ApprovalCard, ApprovalRequest, CardEvidence, OverrideReason, RejectionReason,
    RequestStatus, Review,
};
pub use assessment::{Assessment, RationaleItem};
pub use audit::{AuditEvent, Stage};
pub use case::{Case, CaseState, InvalidTransition};
pub use clock::{Clock, FixedClock, SystemClock};
pub use decision::{AutoCloseDecision, Decision, DecisionOutcome};
pub use evidence::{Evidence, EvidenceGap, Freshness};
pub use exchange::ModelExchange;
pub use execution::{Execution, ExecutionStatus};
pub use ids::{AlertId, CaseId, EvidenceId};
pub use observable::{
    EntityRole, IpClass, Observable, ObservableKind, Provenance, same_ip, url_domain,
};
pub use severity::{Severity, VendorSeverity};
pub use untrusted::Untrusted;
pub use use_case::{Autonomy, TrustLadder, UseCase};
pub use verdict::{Disposition, Verdict};
