//! Who is calling and what they may do.
//!
//! A caller is a [`Principal`]: a person signed in with a browser session,
//! or an integration holding an API token. People get their rights from
//! their roles, tokens from their scopes, both through [`Permission`]s that
//! the route table (`crate::routes`) attaches to every route. Approving,
//! closing cases, autonomy and the kill switch are for people only: no
//! token scope grants them (S3: a person decides).

pub mod session;
pub mod throttle;
pub mod token;

use serde::Serialize;
use warden_store::{ApiToken, Person, Session};

/// One thing a route lets its caller do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Cases, alerts, evidence, approvals, executions, use cases, policy.
    ReadCases,
    /// The audit log, its verification and proofs.
    ReadAudit,
    /// Prometheus metrics and the metrics page.
    ReadMetrics,
    /// Push alerts.
    Ingest,
    /// Notes on cases, and closing them with a verdict.
    Triage,
    /// Answer approval requests (the request's own role rules still apply).
    Approve,
    /// Change a use case's autonomy level.
    SetAutonomy,
    /// Pull and release the kill switch.
    KillSwitch,
    /// Create, list and revoke API tokens; sign audit checkpoints.
    Administer,
}

impl Permission {
    pub const ALL: [Permission; 9] = [
        Permission::ReadCases,
        Permission::ReadAudit,
        Permission::ReadMetrics,
        Permission::Ingest,
        Permission::Triage,
        Permission::Approve,
        Permission::SetAutonomy,
        Permission::KillSwitch,
        Permission::Administer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ReadCases => "read_cases",
            Permission::ReadAudit => "read_audit",
            Permission::ReadMetrics => "read_metrics",
            Permission::Ingest => "ingest",
            Permission::Triage => "triage",
            Permission::Approve => "approve",
            Permission::SetAutonomy => "set_autonomy",
            Permission::KillSwitch => "kill_switch",
            Permission::Administer => "administer",
        }
    }
}

const READ: [Permission; 3] = [
    Permission::ReadCases,
    Permission::ReadAudit,
    Permission::ReadMetrics,
];

/// What a role grants. Unknown roles grant nothing.
///
/// - viewer: read everything (cases, audit, metrics).
/// - analyst: viewer, plus push alerts, notes and closing cases, approving.
/// - soc_lead: analyst, plus autonomy levels and the kill switch.
/// - incident_commander: analyst, plus the kill switch.
/// - admin: viewer, plus API tokens, checkpoints, autonomy levels and the
///   kill switch (an administrator runs the system: may stop it and set
///   how far it is trusted), but never approves or closes cases.
pub fn role_grants(role: &str) -> Vec<Permission> {
    use Permission::*;
    let mut grants = READ.to_vec();
    match role {
        "viewer" => {}
        "analyst" => grants.extend([Ingest, Triage, Approve]),
        "soc_lead" => grants.extend([Ingest, Triage, Approve, SetAutonomy, KillSwitch]),
        "incident_commander" => grants.extend([Ingest, Triage, Approve, KillSwitch]),
        "admin" => grants.extend([Administer, SetAutonomy, KillSwitch]),
        _ => grants.clear(),
    }
    grants
}

/// Whether one of `roles` grants `permission` (people, here and in the
/// CLI).
pub fn roles_grant(roles: &[String], permission: Permission) -> bool {
    roles
        .iter()
        .any(|role| role_grants(role).contains(&permission))
}

/// API token scopes, and what each grants.
pub const SCOPES: [&str; 3] = ["alerts:write", "read", "metrics:read"];

/// What a token scope grants. Unknown scopes grant nothing.
pub fn scope_grants(scope: &str) -> Vec<Permission> {
    match scope {
        "alerts:write" => vec![Permission::Ingest],
        "read" => vec![Permission::ReadCases, Permission::ReadAudit],
        "metrics:read" => vec![Permission::ReadMetrics],
        _ => Vec::new(),
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A person, through a browser session.
    Person { person: Person, session: Session },
    /// An integration, through an API token.
    Token(ApiToken),
}

impl Principal {
    /// Whether this caller holds `permission`.
    pub fn can(&self, permission: Permission) -> bool {
        match self {
            Principal::Person { person, .. } => roles_grant(&person.roles, permission),
            Principal::Token(token) => token
                .scopes
                .iter()
                .any(|scope| scope_grants(scope).contains(&permission)),
        }
    }

    /// The audit log's name for this caller (`person:alice`, `token:splunk`).
    pub fn actor(&self) -> String {
        match self {
            Principal::Person { person, .. } => format!("person:{}", person.name),
            Principal::Token(token) => format!("token:{}", token.name),
        }
    }

    /// The name alone.
    pub fn name(&self) -> &str {
        match self {
            Principal::Person { person, .. } => &person.name,
            Principal::Token(token) => &token.name,
        }
    }

    /// The signed-in person, if this is one.
    pub fn person(&self) -> Option<&Person> {
        match self {
            Principal::Person { person, .. } => Some(person),
            Principal::Token(_) => None,
        }
    }

    /// The session's CSRF token, if this is a person.
    pub fn csrf(&self) -> Option<&str> {
        match self {
            Principal::Person { session, .. } => Some(&session.csrf_token),
            Principal::Token(_) => None,
        }
    }

    /// Every permission held, in order.
    pub fn permissions(&self) -> Vec<Permission> {
        Permission::ALL
            .into_iter()
            .filter(|p| self.can(*p))
            .collect()
    }
}

/// A fresh 256-bit secret, as hex.
pub fn new_secret() -> String {
    use rand_core_06::RngCore as _;
    let mut bytes = [0u8; 32];
    rand_core_06::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// SHA-256 of a secret, as hex: what the store keeps.
pub fn secret_hash(secret: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// Constant-time comparison of two secrets.
pub fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_reads_and_only_people_decide() {
        for role in warden_pipeline::control::ROLES {
            let grants = role_grants(role);
            for read in READ {
                assert!(grants.contains(&read), "{role} reads");
            }
        }
        assert!(role_grants("admin").contains(&Permission::Administer));
        assert!(!role_grants("admin").contains(&Permission::Approve));
        assert!(!role_grants("viewer").contains(&Permission::Triage));
        assert!(role_grants("soc_lead").contains(&Permission::SetAutonomy));
        assert!(!role_grants("incident_commander").contains(&Permission::SetAutonomy));
        assert!(role_grants("no-such-role").is_empty());
        for scope in SCOPES {
            for people_only in [
                Permission::Approve,
                Permission::Triage,
                Permission::SetAutonomy,
                Permission::KillSwitch,
                Permission::Administer,
            ] {
                assert!(!scope_grants(scope).contains(&people_only), "{scope}");
            }
        }
    }

    #[test]
    fn secrets_are_random_and_compared_exactly() {
        let a = new_secret();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_secret());
        assert!(same_secret(&a, &a.clone()));
        assert!(!same_secret(&a, &new_secret()));
        assert!(!same_secret(&a, &a[..63]));
        assert_eq!(secret_hash("abc").len(), 64);
    }
}
