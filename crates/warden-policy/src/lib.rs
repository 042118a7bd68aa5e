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
//! - [`injection`]: the prompt-injection detector behind the
//!   `suspected_injection` trigger (a signal, not the defence).
//! - [`auto_close`]: the facts of `case.auto_close`, the Cedar decision
//!   that lets a case close without a person.
//! - [`disposition`]: where a decided case ends up.
//!
//! The shipped schema, default policies (`policies/default/`, one file per
//! action family) and built-in guards (`policies/guards.cedar`) live in
//! `policies/`, with fixtures for `warden policy test` in
//! `policies/tests/`.

pub mod auto_close;
pub mod disposition;
pub mod engine;
pub mod escalation;
pub mod fixture;
pub mod injection;
pub mod request;

pub use auto_close::{AssessorView, AutoCloseFacts};
pub use disposition::disposition;
pub use engine::{
    AUTO_CLOSE, PolicyEngine, PolicyInfo, PolicyLoadError, Principal, TOOLS, TRUST_LADDER_ROLES,
    ToolDecision,
};
pub use escalation::{
    EscalationConfig, EscalationInput, FailedAssessor, Trigger, escalation_triggers,
};
pub use request::{ApprovalTally, CaseFacts, TargetFacts};

/// The shipped Cedar schema.
pub const DEFAULT_SCHEMA: &str = include_str!("../policies/schema.cedarschema");

/// Declares the shipped policy files once: [`DEFAULT_POLICY_FILES`] lists
/// them, [`DEFAULT_POLICIES`] is their concatenation.
macro_rules! shipped_policies {
    ($($file:literal),* $(,)?) => {
        /// The shipped default policy files (`policies/default/<name>`),
        /// as (name, text), in load order.
        pub const DEFAULT_POLICY_FILES: &[(&str, &str)] = &[
            $( ($file, include_str!(concat!("../policies/default/", $file))), )*
        ];
        /// The shipped default policy set: every file of
        /// [`DEFAULT_POLICY_FILES`], concatenated.
        pub const DEFAULT_POLICIES: &str = concat!(
            $( include_str!(concat!("../policies/default/", $file)), "\n", )*
        );
    };
}

shipped_policies!(
    "case.cedar",
    "auto-close.cedar",
    "notify.cedar",
    "alert.cedar",
    "isolate-endpoint.cedar",
    "edr.cedar",
    "identity.cedar",
    "email.cedar",
    "network.cedar",
    "cloud.cedar",
    "tools.cedar",
    "people.cedar",
);

/// Guards appended to every policy set (`policies/guards.cedar`).
pub const GUARD_POLICIES: &str = include_str!("../policies/guards.cedar");

/// A minimal alert with `title`, `description` and `raw` payload, for the
/// unit tests of the escalation triggers and the injection detector.
#[cfg(test)]
pub(crate) fn test_alert(
    title: &str,
    description: &str,
    raw: serde_json::Value,
) -> warden_domain::Alert {
    use warden_domain::{AlertId, RuleRef, Severity, SourceFormat, Untrusted, VendorSeverity};
    warden_domain::Alert {
        id: AlertId::new(),
        format: SourceFormat::Ecs,
        class_uid: 2004,
        product: "t".into(),
        vendor_id: None,
        time: time::OffsetDateTime::UNIX_EPOCH,
        rule: RuleRef {
            uid: None,
            name: "r".into(),
        },
        title: Untrusted::new(title),
        description: Untrusted::new(description),
        severity: VendorSeverity {
            level: Severity::Low,
            original: "low".into(),
        },
        observables: vec![],
        attacks: vec![],
        origin: "t".into(),
        raw_sha256: String::new(),
        raw,
    }
}
