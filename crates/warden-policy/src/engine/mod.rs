//! Cedar policy evaluation, closed on failure.
//!
//! INVARIANT (S4): any error ends in deny. Cedar itself skips a policy whose
//! evaluation errors, so a `forbid` that errors would not deny; therefore any
//! evaluation error reported in the diagnostics turns the answer into a
//! deny, whatever Cedar decided. A request that does not fit the schema is a
//! deny too. Only policy sets that pass strict schema validation load.

use std::collections::{BTreeSet, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, EntityUid, PolicyId, PolicySet,
    Request, Schema, ValidationMode, Validator,
};
use warden_domain::hashing::sha256_fields;
use warden_domain::{
    ActionName, ActionProposal, Decision, DecisionOutcome, ObservableKind, Target,
};

use crate::request::{ApprovalTally, CaseFacts, TargetFacts, context_json};

/// Why a policy set could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    #[error("schema does not parse: {0}")]
    Schema(String),
    #[error("policies do not parse: {0}")]
    Parse(String),
    #[error("policy {0} has no @id annotation (decisions cite policies by it)")]
    MissingId(String),
    #[error("two policies share the @id {0:?}")]
    DuplicateId(String),
    #[error("policy {policy} has an invalid @{annotation}: {reason}")]
    Annotation {
        policy: String,
        annotation: &'static str,
        reason: String,
    },
    #[error("policies fail schema validation:\n{0}")]
    Invalid(String),
}

/// A validated policy set with its schema.
#[derive(Debug, Clone)]
pub struct PolicyEngine {
    schema: Schema,
    policies: PolicySet,
    authorizer: Authorizer,
    version: String,
}

impl PolicyEngine {
    /// The shipped schema and default policies.
    pub fn default_set() -> Result<Self, PolicyLoadError> {
        Self::load(crate::DEFAULT_SCHEMA, crate::DEFAULT_POLICIES)
    }

    /// Parse, re-identify by `@id`, and validate (strict) a policy set.
    pub fn load(schema_src: &str, policy_src: &str) -> Result<Self, PolicyLoadError> {
        let (schema, _warnings) = Schema::from_cedarschema_str(schema_src)
            .map_err(|e| PolicyLoadError::Schema(e.to_string()))?;
        // The built-in guards come with every set (an operator's file
        // cannot drop them; an @id clash with them is an error).
        let combined = format!("{policy_src}\n{}", crate::GUARD_POLICIES);
        let parsed =
            PolicySet::from_str(&combined).map_err(|e| PolicyLoadError::Parse(e.to_string()))?;
        if parsed.templates().next().is_some() {
            return Err(PolicyLoadError::Parse("templates are not supported".into()));
        }
        let mut policies = PolicySet::new();
        let mut seen = HashSet::new();
        for policy in parsed.policies() {
            let id = policy
                .annotation("id")
                .ok_or_else(|| PolicyLoadError::MissingId(policy.id().to_string()))?
                .to_owned();
            if !seen.insert(id.clone()) {
                return Err(PolicyLoadError::DuplicateId(id));
            }
            approval_requirement(
                policy.annotation("approvals"),
                policy.annotation("approver_roles"),
            )
            .map_err(|(annotation, reason)| PolicyLoadError::Annotation {
                policy: id.clone(),
                annotation,
                reason,
            })?;
            policies
                .add(policy.new_id(PolicyId::new(&id)))
                .map_err(|e| PolicyLoadError::Parse(e.to_string()))?;
        }
        let validation = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if !validation.validation_passed() {
            let errors: Vec<String> = validation
                .validation_errors()
                .map(|e| format!("- {e}"))
                .collect();
            return Err(PolicyLoadError::Invalid(errors.join("\n")));
        }
        let version = sha256_fields([schema_src, policy_src]);
        Ok(Self {
            schema,
            policies,
            authorizer: Authorizer::new(),
            version,
        })
    }

    /// Hash of the schema and policy text: recorded with every decision.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Ids of the loaded policies.
    pub fn policy_ids(&self) -> Vec<String> {
        self.policies
            .policies()
            .map(|p| p.id().to_string())
            .collect()
    }

    /// Decide one proposal made by `principal` (a use case's agent).
    pub fn decide(
        &self,
        principal: &str,
        proposal: &ActionProposal,
        case: &CaseFacts,
        target: &TargetFacts,
        approvals: &ApprovalTally,
    ) -> Decision {
        let mut decision = Decision {
            proposal_hash: proposal.hash(),
            action: proposal.action,
            target: proposal.target.clone(),
            outcome: DecisionOutcome::Deny,
            policy_ids: Vec::new(),
            reasons: Vec::new(),
            policy_version: self.version.clone(),
        };
        if !proposal.target_fits_action() {
            decision.reasons.push(format!(
                "{} cannot act on {}",
                proposal.action,
                proposal.target.label()
            ));
            return decision;
        }
        let request = match self.request(principal, proposal, case, target, approvals) {
            Ok(request) => request,
            Err(reason) => {
                decision.reasons.push(format!("request rejected: {reason}"));
                return decision;
            }
        };
        let response = self
            .authorizer
            .is_authorized(&request, &self.policies, &Entities::empty());
        let errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(|e| format!("policy evaluation error: {e}"))
            .collect();
        decision.policy_ids = response
            .diagnostics()
            .reason()
            .map(|id| id.to_string())
            .collect();
        decision.policy_ids.sort();
        if !errors.is_empty() {
            // Fail closed: an erroring policy might have been a forbid.
            decision.reasons.extend(errors);
            return decision;
        }
        match response.decision() {
            CedarDecision::Deny => {
                decision.reasons.push(if decision.policy_ids.is_empty() {
                    format!("no policy permits {} (default deny)", proposal.action)
                } else {
                    "forbidden by policy".into()
                });
            }
            CedarDecision::Allow => {
                let (needed, roles) = self.requirement(&decision.policy_ids);
                if needed == 0 {
                    decision.outcome = DecisionOutcome::Allow;
                } else if approvals.count >= needed
                    && (roles.is_empty() || approvals.roles.iter().any(|r| roles.contains(r)))
                {
                    decision.outcome = DecisionOutcome::Allow;
                    decision
                        .reasons
                        .push(format!("{} approval(s) recorded", approvals.count));
                } else {
                    decision.outcome = DecisionOutcome::NeedsApproval {
                        approvals: needed,
                        roles: roles.into_iter().collect(),
                    };
                }
            }
        }
        decision
    }

    fn request(
        &self,
        principal: &str,
        proposal: &ActionProposal,
        case: &CaseFacts,
        target: &TargetFacts,
        approvals: &ApprovalTally,
    ) -> Result<Request, String> {
        let principal = entity_uid("Agent", principal)?;
        let action = entity_uid("Action", proposal.action.as_str())?;
        let resource = match &proposal.target {
            Target::Case { id } => entity_uid("Case", &id.to_string())?,
            Target::Entity { kind, value } => {
                entity_uid(resource_type(proposal.action, *kind), value)?
            }
        };
        let context = Context::from_json_value(
            context_json(proposal.action, case, target, approvals),
            Some((&self.schema, &action)),
        )
        .map_err(|e| e.to_string())?;
        Request::new(principal, action, resource, context, Some(&self.schema))
            .map_err(|e| e.to_string())
    }

    /// The strictest approval requirement among the deciding permits: the
    /// highest count, and the union of roles.
    fn requirement(&self, deciding: &[String]) -> (u32, BTreeSet<String>) {
        let mut needed = 0;
        let mut roles = BTreeSet::new();
        for id in deciding {
            let policy_id = PolicyId::new(id);
            let Some(policy) = self.policies.policy(&policy_id) else {
                continue;
            };
            if let Ok((count, policy_roles)) = approval_requirement(
                policy.annotation("approvals"),
                policy.annotation("approver_roles"),
            ) {
                needed = needed.max(count);
                roles.extend(policy_roles);
            }
        }
        (needed, roles)
    }
}

/// Parse `@approvals("N")` and `@approver_roles("a,b")`.
fn approval_requirement(
    approvals: Option<&str>,
    roles: Option<&str>,
) -> Result<(u32, BTreeSet<String>), (&'static str, String)> {
    let count = match approvals {
        None => 0,
        Some(text) => text
            .trim()
            .parse::<u32>()
            .map_err(|_| ("approvals", format!("{text:?} is not a whole number")))?,
    };
    let roles: BTreeSet<String> = roles
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    if count == 0 && !roles.is_empty() {
        return Err(("approver_roles", "set without @approvals".into()));
    }
    if count > 5 {
        return Err(("approvals", format!("{count} is more than 5")));
    }
    Ok((count, roles))
}

/// The Cedar entity type of an action's target.
fn resource_type(action: ActionName, kind: ObservableKind) -> &'static str {
    match (action, kind) {
        (ActionName::EmailQuarantine | ActionName::EmailRelease, _) => "Message",
        (_, ObservableKind::Host) => "Host",
        (_, ObservableKind::User | ObservableKind::Email) => "Account",
        (_, ObservableKind::Ip | ObservableKind::Domain | ObservableKind::Url) => "Indicator",
        (_, ObservableKind::FileHash) => "File",
        (_, ObservableKind::Process) => "Process",
        (_, ObservableKind::CloudResource) => "CloudKey",
    }
}

fn entity_uid(type_name: &str, id: &str) -> Result<EntityUid, String> {
    let type_name = cedar_policy::EntityTypeName::from_str(&format!("Warden::{type_name}"))
        .map_err(|e| e.to_string())?;
    Ok(EntityUid::from_type_name_and_id(
        type_name,
        cedar_policy::EntityId::new(id),
    ))
}

#[cfg(test)]
mod tests;
