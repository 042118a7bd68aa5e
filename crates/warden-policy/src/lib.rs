//! The decide stage: policy decisions and escalation triggers.
//!
//! # Layout
//!
//! - [`engine`]: Cedar policy sets, validated against `policies/schema.cedarschema`,
//!   turning one proposal into allow, needs-approval or deny with the ids
//!   of the deciding policies. Fails closed.
//! - [`request`]: the facts a decision sees, built from the case and its
//!   evidence by deterministic code (never from alert text).
//! - [`escalation`]: deterministic triggers that send a case to a person.
//! - [`disposition`]: where a decided case ends up.
//!
//! The shipped schema and default policy set live in `policies/`.

pub mod disposition;
pub mod engine;
pub mod escalation;
pub mod request;

pub use disposition::disposition;
pub use engine::{PolicyEngine, PolicyLoadError};
pub use escalation::{EscalationConfig, EscalationInput, Trigger, escalation_triggers};
pub use request::{ApprovalTally, CaseFacts, TargetFacts};

/// The shipped Cedar schema.
pub const DEFAULT_SCHEMA: &str = include_str!("../policies/schema.cedarschema");
/// The shipped default policy set (notes only).
pub const DEFAULT_POLICIES: &str = include_str!("../policies/default.cedar");
/// Guards appended to every policy set (`policies/guards.cedar`).
pub const GUARD_POLICIES: &str = include_str!("../policies/guards.cedar");
