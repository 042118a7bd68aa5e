//! Cedar policy evaluation, closed on failure.
//!
//! INVARIANT (S4): any error ends in deny. Cedar itself skips a policy whose
//! evaluation errors, so a `forbid` that errors would not deny; therefore any
//! evaluation error reported in the diagnostics turns the answer into a
//! deny, whatever Cedar decided. A request that does not fit the schema is a
//! deny too. Only policy sets that pass strict schema validation load.
//!
//! INVARIANT (S1, trust ladder): after Cedar, in Rust, so that no policy
//! file can skip it: an agent of an `assisted` use case never gets a plain
//! allow for an action with a side effect; such an allow becomes "needs one
//! responder's approval" (see [`TRUST_LADDER_ROLES`]).

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    ActionConstraint, Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityId,
    EntityTypeName, EntityUid, Policy, PolicyId, PolicySet, PrincipalConstraint, Request,
    RestrictedExpression, Schema, ValidationMode, Validator,
};
use warden_domain::hashing::sha256_fields;
use warden_domain::{
    ActionName, ActionProposal, AutoCloseDecision, CaseId, Decision, DecisionOutcome,
    ObservableKind, Target,
};

use crate::auto_close::{AutoCloseFacts, auto_close_pairs};
use crate::request::{ApprovalTally, CaseFacts, TargetFacts, context_pairs};

/// The read-only context tools, each a Cedar action `tool.<name>` on a
/// `Warden::Case` (see [`PolicyEngine::may_call_tool`]).
pub const TOOLS: &[&str] = &[
    "asset_lookup",
    "identity_lookup",
    "vulnerability_lookup",
    "kev_lookup",
    "intel_lookup",
    "stix_lookup",
    "history_lookup",
    "incident_lookup",
    "case_history",
];

/// Who may approve when the trust ladder, not a policy, asks for a person.
pub const TRUST_LADDER_ROLES: &[&str] = &["analyst", "incident_commander", "soc_lead"];

/// The reason a decision carries when the trust ladder asked for a person.
pub const TRUST_LADDER_REASON: &str = "assisted use cases have a person approve every action \
     with a side effect (trust ladder): one analyst, incident commander or SOC lead";

/// The resource of a tool call: tools are decided for a use case's plan,
/// before any one case.
pub const TOOL_RESOURCE: &str = "*";

/// The Cedar action that decides whether a case closes without a person
/// (see [`PolicyEngine::decide_auto_close`]). Not a catalogue action: no
/// connector performs it, no assessor proposes it.
pub const AUTO_CLOSE: &str = "case.auto_close";

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

/// Who asks: a use case's agent, or a person with roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal<'a> {
    /// `Warden::Agent::"<use case>"`.
    Agent(&'a str),
    /// `Warden::Person::"<user name>"` with `roles`.
    Person { name: &'a str, roles: &'a [String] },
}

impl Principal<'_> {
    fn kind(&self) -> Kind {
        match self {
            Principal::Agent(_) => Kind::Agent,
            Principal::Person { .. } => Kind::Person,
        }
    }
}

/// The principal types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Agent,
    Person,
}

const KINDS: [Kind; 2] = [Kind::Agent, Kind::Person];

/// What one loaded policy is, for listings and explanations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInfo {
    /// The `@id`.
    pub id: String,
    /// `permit` or `forbid`.
    pub effect: &'static str,
    /// The `@description`, if any.
    pub description: Option<String>,
    /// `@approvals` (0 when none).
    pub approvals: u32,
    /// `@approver_roles`, sorted.
    pub approver_roles: Vec<String>,
    /// One of the built-in guards (`policies/guards.cedar`).
    pub built_in: bool,
    /// The source it came from (a file name, or `guards`).
    pub source: String,
}

/// The answer for one tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolDecision {
    pub tool: String,
    pub allowed: bool,
    /// Ids of the policies that decided; empty on a default deny.
    pub policy_ids: Vec<String>,
    pub reasons: Vec<String>,
    pub policy_version: String,
}

/// Approvals a permit asks for: how many, and from which roles.
type Requirement = (u32, BTreeSet<String>);

/// Cedar names built once per engine, not per request.
#[derive(Debug, Clone)]
struct Names {
    agent: EntityTypeName,
    person: EntityTypeName,
    case: EntityTypeName,
    actions: HashMap<ActionName, EntityUid>,
    tools: HashMap<&'static str, EntityUid>,
    /// `case.auto_close`.
    auto_close: EntityUid,
    resources: HashMap<&'static str, EntityTypeName>,
}

impl Names {
    fn new() -> Result<Self, String> {
        let type_name = |name: &str| {
            EntityTypeName::from_str(&format!("Warden::{name}")).map_err(|e| e.to_string())
        };
        let action_type = type_name("Action")?;
        let action =
            |id: &str| EntityUid::from_type_name_and_id(action_type.clone(), EntityId::new(id));
        let mut resources = HashMap::new();
        for name in [
            "Case",
            "Host",
            "Account",
            "Indicator",
            "File",
            "Process",
            "Message",
            "CloudKey",
        ] {
            resources.insert(name, type_name(name)?);
        }
        Ok(Self {
            agent: type_name("Agent")?,
            person: type_name("Person")?,
            case: type_name("Case")?,
            actions: ActionName::ALL
                .iter()
                .map(|a| (*a, action(a.as_str())))
                .collect(),
            tools: TOOLS
                .iter()
                .map(|t| (*t, action(&format!("tool.{t}"))))
                .collect(),
            auto_close: action(AUTO_CLOSE),
            resources,
        })
    }

    fn principal_type(&self, kind: Kind) -> &EntityTypeName {
        match kind {
            Kind::Agent => &self.agent,
            Kind::Person => &self.person,
        }
    }

    /// Every action uid: the catalogue's, the tools' and `case.auto_close`.
    fn all_actions(&self) -> impl Iterator<Item = &EntityUid> {
        self.actions
            .values()
            .chain(self.tools.values())
            .chain(std::iter::once(&self.auto_close))
    }

    fn uid(type_name: &EntityTypeName, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(type_name.clone(), EntityId::new(id))
    }

    fn resource(&self, type_name: &str, id: &str) -> Result<EntityUid, String> {
        self.resources
            .get(type_name)
            .map(|t| Self::uid(t, id))
            .ok_or_else(|| format!("no resource type {type_name}"))
    }
}

/// A validated policy set with its schema.
#[derive(Debug, Clone)]
pub struct PolicyEngine {
    schema: Schema,
    policies: PolicySet,
    authorizer: Authorizer,
    version: String,
    /// The schema's action entities: what `action in Warden::Action::"catalogue"`
    /// needs to see the action groups.
    actions: Entities,
    names: Names,
    requirements: HashMap<String, Requirement>,
    info: Vec<PolicyInfo>,
    /// For each (principal type, action): the policies whose scope can
    /// match it, so Cedar evaluates only those (see [`Slices`]).
    slices: Slices,
    /// Requests that do not fit the schema, found at load time; every
    /// other request is built without re-checking it (see [`Shapes`]).
    shapes: Shapes,
}

impl PolicyEngine {
    /// The shipped schema and default policies.
    pub fn default_set() -> Result<Self, PolicyLoadError> {
        Self::load(crate::DEFAULT_SCHEMA, crate::DEFAULT_POLICIES)
    }

    /// Parse, re-identify by `@id`, and validate (strict) a policy set.
    /// The built-in guards are added.
    pub fn load(schema_src: &str, policy_src: &str) -> Result<Self, PolicyLoadError> {
        Self::load_sources(schema_src, &[("policies", policy_src)])
    }

    /// As [`PolicyEngine::load`], from several named sources (files); parse
    /// errors name the source. The set is all of them and the guards.
    pub fn load_sources(
        schema_src: &str,
        sources: &[(&str, &str)],
    ) -> Result<Self, PolicyLoadError> {
        let (schema, _warnings) = Schema::from_cedarschema_str(schema_src)
            .map_err(|e| PolicyLoadError::Schema(e.to_string()))?;
        // The built-in guards come with every set (an operator's file
        // cannot drop them; an @id clash with them is an error).
        let guards = ("guards", crate::GUARD_POLICIES);
        let mut policies = PolicySet::new();
        let mut seen = HashSet::new();
        let mut requirements = HashMap::new();
        let mut info = Vec::new();
        for (index, (name, text)) in sources.iter().chain([&guards]).enumerate() {
            let built_in = index == sources.len();
            let parsed = PolicySet::from_str(text)
                .map_err(|e| PolicyLoadError::Parse(format!("{name}: {e}")))?;
            if parsed.templates().next().is_some() {
                return Err(PolicyLoadError::Parse(format!(
                    "{name}: templates are not supported"
                )));
            }
            let mut in_order: Vec<&Policy> = parsed.policies().collect();
            in_order.sort_by_key(|p| source_order(p));
            for policy in in_order {
                let id = policy
                    .annotation("id")
                    .ok_or_else(|| {
                        PolicyLoadError::MissingId(format!(
                            "#{} in {name}",
                            source_order(policy).saturating_add(1)
                        ))
                    })?
                    .to_owned();
                if !seen.insert(id.clone()) {
                    return Err(PolicyLoadError::DuplicateId(id));
                }
                let requirement = approval_requirement(
                    policy.annotation("approvals"),
                    policy.annotation("approver_roles"),
                )
                .map_err(|(annotation, reason)| PolicyLoadError::Annotation {
                    policy: id.clone(),
                    annotation,
                    reason,
                })?;
                info.push(PolicyInfo {
                    id: id.clone(),
                    effect: match policy.effect() {
                        cedar_policy::Effect::Permit => "permit",
                        cedar_policy::Effect::Forbid => "forbid",
                    },
                    description: policy.annotation("description").map(str::to_owned),
                    approvals: requirement.0,
                    approver_roles: requirement.1.iter().cloned().collect(),
                    built_in,
                    source: (*name).to_owned(),
                });
                requirements.insert(id.clone(), requirement);
                policies
                    .add(policy.new_id(PolicyId::new(&id)))
                    .map_err(|e| PolicyLoadError::Parse(e.to_string()))?;
            }
        }
        let validation = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if !validation.validation_passed() {
            let mut errors: Vec<String> = validation
                .validation_errors()
                .map(|e| format!("- {e}"))
                .collect();
            if errors.iter().any(|e| e.contains("Warden::Action::\"tool.")) {
                errors.push(
                    "(tool calls have their own context: a policy that reads decision \
                     fields should say `action in Warden::Action::\"catalogue\"`)"
                        .into(),
                );
            }
            return Err(PolicyLoadError::Invalid(errors.join("\n")));
        }
        let actions = schema
            .action_entities()
            .map_err(|e| PolicyLoadError::Schema(e.to_string()))?;
        let names = Names::new().map_err(PolicyLoadError::Schema)?;
        let slices = Slices::new(&policies, &actions, &names)?;
        let shapes = Shapes::new(&schema, &names);
        let mut fields: Vec<&str> = vec![schema_src];
        fields.extend(sources.iter().map(|(_, text)| *text));
        fields.push(crate::GUARD_POLICIES);
        let version = sha256_fields(fields);
        Ok(Self {
            schema,
            policies,
            authorizer: Authorizer::new(),
            version,
            actions,
            names,
            requirements,
            info,
            slices,
            shapes,
        })
    }

    /// Hash of the schema, policy and guard text: recorded with every
    /// decision.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Ids of the loaded policies, in source order (the guards last).
    pub fn policy_ids(&self) -> Vec<String> {
        self.info.iter().map(|p| p.id.clone()).collect()
    }

    /// Every loaded policy, in source order (the guards last).
    pub fn policies(&self) -> &[PolicyInfo] {
        &self.info
    }

    /// One loaded policy by `@id`.
    pub fn policy(&self, id: &str) -> Option<&PolicyInfo> {
        self.info.iter().find(|p| p.id == id)
    }

    /// The validated Cedar policy set (guards included), for tools and
    /// comparisons with raw Cedar.
    pub fn cedar_policies(&self) -> &PolicySet {
        &self.policies
    }

    /// The schema the set was validated against.
    pub fn cedar_schema(&self) -> &Schema {
        &self.schema
    }

    /// The entities an agent's request is evaluated against (the schema's
    /// action entities).
    pub fn cedar_entities(&self) -> &Entities {
        &self.actions
    }

    /// Decide one proposal made by `principal` (a use case's agent). The
    /// trust ladder applies: see the module documentation.
    pub fn decide(
        &self,
        principal: &str,
        proposal: &ActionProposal,
        case: &CaseFacts,
        target: &TargetFacts,
        approvals: &ApprovalTally,
    ) -> Decision {
        self.decide_for(
            Principal::Agent(principal),
            proposal,
            case,
            target,
            approvals,
        )
    }

    /// Decide one proposal made by a person acting in `roles`
    /// (`Warden::Person` with attribute `roles`). Neither the playbook
    /// guard nor the trust ladder applies: they bound agents.
    pub fn decide_as_person(
        &self,
        name: &str,
        roles: &[String],
        proposal: &ActionProposal,
        case: &CaseFacts,
        target: &TargetFacts,
        approvals: &ApprovalTally,
    ) -> Decision {
        self.decide_for(
            Principal::Person { name, roles },
            proposal,
            case,
            target,
            approvals,
        )
    }

    /// Decide one proposal for either kind of principal.
    pub fn decide_for(
        &self,
        principal: Principal<'_>,
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
        let (request, entities) =
            match self.request(principal, proposal, case, target, approvals, true) {
                Ok(parts) => parts,
                Err(reason) => {
                    decision.reasons.push(format!("request rejected: {reason}"));
                    return decision;
                }
            };
        let answer = self.authorize(principal.kind(), &request, &entities);
        decision.policy_ids = answer.policy_ids;
        if !answer.errors.is_empty() {
            // Fail closed: an erroring policy might have been a forbid.
            decision.reasons.extend(answer.errors);
            return decision;
        }
        if !answer.allowed {
            decision.reasons.push(if decision.policy_ids.is_empty() {
                format!("no policy permits {} (default deny)", proposal.action)
            } else {
                "forbidden by policy".into()
            });
            return decision;
        }
        let (mut needed, mut roles) = self.requirement(&decision.policy_ids);
        if needed == 0
            && matches!(principal, Principal::Agent(_))
            && case.autonomy == "assisted"
            && proposal.action.has_side_effect()
        {
            needed = 1;
            roles = TRUST_LADDER_ROLES.iter().map(|r| (*r).to_owned()).collect();
            decision.reasons.push(TRUST_LADDER_REASON.into());
        }
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
        decision
    }

    /// Whether `use_case`'s agent may call the read-only tool `tool`
    /// (`Warden::Action::"tool.<tool>"` on the placeholder case
    /// [`TOOL_RESOURCE`]); `in_playbook`: the playbook's plan lists it.
    /// Unknown tools and any error are a deny.
    pub fn may_call_tool(&self, use_case: &str, tool: &str, in_playbook: bool) -> ToolDecision {
        let mut decision = ToolDecision {
            tool: tool.to_owned(),
            allowed: false,
            policy_ids: Vec::new(),
            reasons: Vec::new(),
            policy_version: self.version.clone(),
        };
        let Some(action) = self.names.tools.get(tool) else {
            decision
                .reasons
                .push(format!("{tool:?} is not a known tool (see TOOLS)"));
            return decision;
        };
        let request = self
            .shapes
            .check(Kind::Agent, action, "Case")
            .and_then(|()| {
                Context::from_pairs(tool_context(use_case, in_playbook)).map_err(|e| e.to_string())
            })
            .and_then(|context| {
                // The shape was checked against the schema at load.
                Request::new(
                    Names::uid(&self.names.agent, use_case),
                    action.clone(),
                    Names::uid(&self.names.case, TOOL_RESOURCE),
                    context,
                    None,
                )
                .map_err(|e| e.to_string())
            });
        let request = match request {
            Ok(request) => request,
            Err(reason) => {
                decision.reasons.push(format!("request rejected: {reason}"));
                return decision;
            }
        };
        let answer = self.authorize(Kind::Agent, &request, &self.actions);
        decision.policy_ids = answer.policy_ids;
        if !answer.errors.is_empty() {
            decision.reasons.extend(answer.errors);
        } else if answer.allowed {
            decision.allowed = true;
        } else if decision.policy_ids.is_empty() {
            decision
                .reasons
                .push(format!("no policy permits tool.{tool} (default deny)"));
        } else {
            decision.reasons.push("forbidden by policy".into());
        }
        decision
    }

    /// May the case `case_id` of `use_case` close without a person
    /// (`Warden::Action::"case.auto_close"` by `Warden::Agent::"<use case>"`
    /// on `Warden::Case::"<case id>"`, context `AutoCloseContext`)?
    ///
    /// Fails closed: a request that does not fit the schema, any
    /// evaluation error, a forbid, no permit, or a permit that asks for
    /// approvals (closing without a person cannot wait for one) is a no.
    pub fn decide_auto_close(
        &self,
        use_case: &str,
        case_id: CaseId,
        facts: &AutoCloseFacts,
    ) -> AutoCloseDecision {
        let mut decision = AutoCloseDecision {
            allowed: false,
            policy_ids: Vec::new(),
            reasons: Vec::new(),
            policy_version: self.version.clone(),
        };
        let request = match self.auto_close_request(use_case, case_id, facts, true) {
            Ok(request) => request,
            Err(reason) => {
                decision.reasons.push(format!("request rejected: {reason}"));
                return decision;
            }
        };
        let answer = self.authorize(Kind::Agent, &request, &self.actions);
        decision.policy_ids = answer.policy_ids;
        if !answer.errors.is_empty() {
            // Fail closed: an erroring policy might have been a forbid.
            decision.reasons.extend(answer.errors);
            return decision;
        }
        if !answer.allowed {
            decision.reasons.push(if decision.policy_ids.is_empty() {
                format!("no policy permits {AUTO_CLOSE} (default deny)")
            } else {
                "forbidden by policy".into()
            });
            return decision;
        }
        let (needed, roles) = self.requirement(&decision.policy_ids);
        if needed > 0 {
            decision.reasons.push(format!(
                "the permit asks for {needed} approval(s) ({}): a case that waits for people \
                 does not close without one",
                roles.into_iter().collect::<Vec<_>>().join(",")
            ));
            return decision;
        }
        decision.allowed = true;
        decision
    }

    /// The complete Cedar request of [`PolicyEngine::decide_auto_close`]
    /// (every context attribute), for tools that ask Cedar themselves; the
    /// entities are [`PolicyEngine::cedar_entities`].
    pub fn cedar_auto_close_request(
        &self,
        use_case: &str,
        case_id: CaseId,
        facts: &AutoCloseFacts,
    ) -> Result<Request, String> {
        self.auto_close_request(use_case, case_id, facts, false)
    }

    /// The `case.auto_close` request; `trimmed`: with only the context
    /// attributes the policies of its slice read.
    fn auto_close_request(
        &self,
        use_case: &str,
        case_id: CaseId,
        facts: &AutoCloseFacts,
        trimmed: bool,
    ) -> Result<Request, String> {
        let action = &self.names.auto_close;
        self.shapes.check(Kind::Agent, action, "Case")?;
        let mut pairs = auto_close_pairs(facts)?;
        if trimmed && let Some(read) = self.slices.attributes(Kind::Agent, action) {
            pairs.retain(|(name, _)| read.contains(name));
        }
        let context = Context::from_pairs(pairs).map_err(|e| e.to_string())?;
        // The shape was checked against the schema at load (`Shapes`); the
        // context's types are fixed by `auto_close_pairs`.
        Request::new(
            Names::uid(&self.names.agent, use_case),
            action.clone(),
            self.names.resource("Case", &case_id.to_string())?,
            context,
            None,
        )
        .map_err(|e| e.to_string())
    }

    /// The complete Cedar request (every context attribute) and the
    /// entities to evaluate it against, for one proposal: what asking Cedar
    /// with the whole policy set ([`PolicyEngine::cedar_policies`]) takes.
    /// [`PolicyEngine::decide_for`] asks the same question of the policies
    /// that can apply, with the attributes they read.
    pub fn cedar_request(
        &self,
        principal: Principal<'_>,
        proposal: &ActionProposal,
        case: &CaseFacts,
        target: &TargetFacts,
        approvals: &ApprovalTally,
    ) -> Result<(Request, Cow<'_, Entities>), String> {
        self.request(principal, proposal, case, target, approvals, false)
    }

    /// The request for one proposal; `trimmed`: with only the context
    /// attributes the policies of its slice read.
    fn request(
        &self,
        principal: Principal<'_>,
        proposal: &ActionProposal,
        case: &CaseFacts,
        target: &TargetFacts,
        approvals: &ApprovalTally,
        trimmed: bool,
    ) -> Result<(Request, Cow<'_, Entities>), String> {
        let kind = principal.kind();
        let (principal, entities) = match principal {
            Principal::Agent(name) => (
                Names::uid(&self.names.agent, name),
                Cow::Borrowed(&self.actions),
            ),
            Principal::Person { name, roles } => {
                let uid = Names::uid(&self.names.person, name);
                let person = person_entity(uid.clone(), roles)?;
                // The person's shape was checked against the schema at
                // load (`Shapes`): `roles` is always a set of text.
                let entities = self
                    .actions
                    .clone()
                    .add_entities([person], None)
                    .map_err(|e| e.to_string())?;
                (uid, Cow::Owned(entities))
            }
        };
        let action = self
            .names
            .actions
            .get(&proposal.action)
            .ok_or_else(|| format!("{} is not in the schema", proposal.action))?;
        let resource_type = match &proposal.target {
            Target::Case { .. } => "Case",
            Target::Entity { kind, .. } => resource_type(proposal.action, *kind),
        };
        self.shapes.check(kind, action, resource_type)?;
        let resource = match &proposal.target {
            Target::Case { id } => self.names.resource(resource_type, &id.to_string())?,
            Target::Entity { value, .. } => self.names.resource(resource_type, value)?,
        };
        let mut pairs = context_pairs(proposal.action, case, target, approvals);
        if trimmed && let Some(read) = self.slices.attributes(kind, action) {
            pairs.retain(|(name, _)| read.contains(name));
        }
        let context = Context::from_pairs(pairs).map_err(|e| e.to_string())?;
        // The shape was checked against the schema at load (`Shapes`); the
        // context's types are fixed by `context_pairs`.
        let request = Request::new(principal, action.clone(), resource, context, None)
            .map_err(|e| e.to_string())?;
        Ok((request, entities))
    }

    /// Ask Cedar, with the policies that can apply to the request's
    /// principal type and action; collect the deciding policies and any
    /// evaluation error.
    fn authorize(&self, kind: Kind, request: &Request, entities: &Entities) -> Answer {
        let policies = request
            .action()
            .and_then(|action| self.slices.get(kind, action))
            .unwrap_or(&self.policies);
        let response = self.authorizer.is_authorized(request, policies, entities);
        let mut policy_ids: Vec<String> = response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        policy_ids.sort();
        Answer {
            allowed: response.decision() == CedarDecision::Allow,
            policy_ids,
            errors: response
                .diagnostics()
                .errors()
                .map(|e| format!("policy evaluation error: {e}"))
                .collect(),
        }
    }

    /// The strictest approval requirement among the deciding permits: the
    /// highest count, and the union of roles.
    fn requirement(&self, deciding: &[String]) -> Requirement {
        let mut needed = 0;
        let mut roles = BTreeSet::new();
        for (count, policy_roles) in deciding.iter().filter_map(|id| self.requirements.get(id)) {
            needed = needed.max(*count);
            roles.extend(policy_roles.iter().cloned());
        }
        (needed, roles)
    }
}

/// For each principal type and action, the policies whose scope can match
/// it. A policy left out has a scope that cannot match (an `action ==` or
/// `action in` naming neither the action nor a group it belongs to, or a
/// principal of another type), so Cedar would find it not satisfied
/// without evaluating its conditions: leaving it out changes neither the
/// decision, the deciding ids nor the errors (no condition of it could
/// have erred). Scopes it cannot rule out (`principal in ...`, resource
/// constraints) keep the policy in.
///
/// Each slice also knows the context attributes its policies read (`None`:
/// a policy uses the context otherwise than by attribute, so all of them).
/// Requests carry only those: an attribute no policy of the slice reads
/// cannot change its answer, and one it reads is always there (`has`
/// tests count as reads), so no evaluation error is added or lost.
#[derive(Debug, Clone)]
struct Slices(HashMap<(Kind, EntityUid), Slice>);

#[derive(Debug, Clone)]
struct Slice {
    policies: PolicySet,
    attributes: Option<BTreeSet<String>>,
}

impl Slices {
    fn new(
        policies: &PolicySet,
        actions: &Entities,
        names: &Names,
    ) -> Result<Self, PolicyLoadError> {
        let mut slices = HashMap::new();
        for kind in KINDS {
            let principal_type = names.principal_type(kind);
            for action in names.all_actions() {
                let groups: Vec<&EntityUid> = actions
                    .ancestors(action)
                    .map(Iterator::collect)
                    .unwrap_or_default();
                let mut slice = PolicySet::new();
                for policy in policies.policies() {
                    let principal_fits = match policy.principal_constraint() {
                        PrincipalConstraint::Any | PrincipalConstraint::In(_) => true,
                        PrincipalConstraint::Eq(uid) => uid.type_name() == principal_type,
                        PrincipalConstraint::Is(type_name)
                        | PrincipalConstraint::IsIn(type_name, _) => &type_name == principal_type,
                    };
                    let action_fits = match policy.action_constraint() {
                        ActionConstraint::Any => true,
                        ActionConstraint::Eq(uid) => &uid == action,
                        ActionConstraint::In(uids) => uids
                            .iter()
                            .any(|uid| uid == action || groups.contains(&uid)),
                    };
                    if principal_fits && action_fits {
                        slice
                            .add(policy.clone())
                            .map_err(|e| PolicyLoadError::Parse(e.to_string()))?;
                    }
                }
                let attributes = context_attributes(&slice);
                slices.insert(
                    (kind, action.clone()),
                    Slice {
                        policies: slice,
                        attributes,
                    },
                );
            }
        }
        Ok(Self(slices))
    }

    fn get(&self, kind: Kind, action: &EntityUid) -> Option<&PolicySet> {
        self.0.get(&(kind, action.clone())).map(|s| &s.policies)
    }

    fn attributes(&self, kind: Kind, action: &EntityUid) -> Option<&BTreeSet<String>> {
        self.0
            .get(&(kind, action.clone()))
            .and_then(|s| s.attributes.as_ref())
    }
}

/// The context attributes the policies read (`context.x`, `context has
/// x`); `None` when one uses the context as a whole or cannot be read.
fn context_attributes(policies: &PolicySet) -> Option<BTreeSet<String>> {
    let mut read = BTreeSet::new();
    for policy in policies.policies() {
        let json = policy.to_json().ok()?;
        if !reads(&json, &mut read) {
            return None;
        }
    }
    Some(read)
}

/// Collect the context attributes `node` (a policy's JSON form) reads into
/// `read`; false when it uses `context` otherwise.
fn reads(node: &serde_json::Value, read: &mut BTreeSet<String>) -> bool {
    use serde_json::Value;
    match node {
        Value::Array(items) => items.iter().all(|item| reads(item, read)),
        Value::Object(map) => {
            if map.get("Var").and_then(Value::as_str) == Some("context") {
                return false;
            }
            if map.contains_key("Value") {
                return true;
            }
            for access in [".", "has"] {
                if let Some(Value::Object(inner)) = map.get(access)
                    && let (Some(left), Some(Value::String(attr))) =
                        (inner.get("left"), inner.get("attr"))
                    && left.get("Var").and_then(Value::as_str) == Some("context")
                {
                    read.insert(attr.clone());
                    return map
                        .iter()
                        .filter(|(key, _)| *key != access)
                        .all(|(_, value)| reads(value, read));
                }
            }
            map.values().all(|value| reads(value, read))
        }
        _ => true,
    }
}

/// The requests Warden builds that do not fit the schema, by principal
/// type, action and resource type, with the schema's reason. The context's
/// attribute types are fixed by [`context_pairs`] and [`tool_context`]
/// (text, numbers, booleans, sets of text), so checking one request of
/// each shape at load is checking them all; requests are then built
/// without the per-request check, and a shape that failed is a deny.
#[derive(Debug, Clone, Default)]
struct Shapes {
    failed: HashMap<(Kind, EntityUid, &'static str), String>,
    /// Why a person's entity (`roles: Set<String>`) does not fit the
    /// schema, if it does not.
    person: Option<String>,
}

impl Shapes {
    fn new(schema: &Schema, names: &Names) -> Self {
        let case = CaseFacts {
            use_case: "shape".into(),
            autonomy: "assisted".into(),
            severity: warden_domain::Severity::Medium,
            confidence: 0.5,
            verdict: warden_domain::Verdict::Unknown,
            evidence_gaps: 0,
            stale_evidence: 0,
            allowed_actions: BTreeSet::new(),
            identity_types: ["human".to_owned()].into(),
            privileged_identity: false,
            assessors_agree: true,
        };
        let target = TargetFacts::from_evidence(&Target::case(warden_domain::CaseId::new()), &[]);
        let mut failed = HashMap::new();
        let mut check = |kind: Kind, action: &EntityUid, resource: &'static str, context| {
            let outcome = Context::from_pairs(context)
                .map_err(|e| e.to_string())
                .and_then(|context| {
                    let resource_uid = names.resource(resource, "shape")?;
                    Request::new(
                        Names::uid(names.principal_type(kind), "shape"),
                        action.clone(),
                        resource_uid,
                        context,
                        Some(schema),
                    )
                    .map_err(|e| e.to_string())
                });
            if let Err(reason) = outcome {
                failed.insert((kind, action.clone(), resource), reason);
            }
        };
        for kind in KINDS {
            for (name, action) in &names.actions {
                let mut resources: Vec<&'static str> = name
                    .target_kinds()
                    .iter()
                    .map(|k| resource_type(*name, *k))
                    .collect();
                if resources.is_empty() {
                    resources.push("Case");
                }
                resources.dedup();
                for resource in resources {
                    let context = context_pairs(*name, &case, &target, &ApprovalTally::default());
                    check(kind, action, resource, context);
                }
            }
        }
        for action in names.tools.values() {
            check(Kind::Agent, action, "Case", tool_context("shape", true));
        }
        let closing = AutoCloseFacts {
            use_case: "shape".into(),
            autonomy: "assisted".into(),
            severity: warden_domain::Severity::Medium,
            assessors: vec![crate::auto_close::AssessorView {
                assessor: "shape".into(),
                verdict: Some(warden_domain::Verdict::Benign),
                confidence: 0.5,
            }],
            injection_suspected: false,
            evidence_gaps: 0,
            stale_evidence: 0,
            evidence_total: 0,
            benign_evidence: 0,
            triggers: BTreeSet::from(["shape".to_owned()]),
        };
        match auto_close_pairs(&closing) {
            Ok(context) => check(Kind::Agent, &names.auto_close, "Case", context),
            Err(reason) => {
                failed.insert((Kind::Agent, names.auto_close.clone(), "Case"), reason);
            }
        }
        let person = person_entity(Names::uid(&names.person, "shape"), &["analyst".to_owned()])
            .and_then(|entity| {
                Entities::from_entities([entity], Some(schema)).map_err(|e| e.to_string())
            })
            .err();
        Self { failed, person }
    }

    /// `Err` with the schema's reason when requests of this shape do not
    /// fit the schema.
    fn check(&self, kind: Kind, action: &EntityUid, resource: &'static str) -> Result<(), String> {
        if kind == Kind::Person
            && let Some(reason) = &self.person
        {
            return Err(reason.clone());
        }
        match self.failed.get(&(kind, action.clone(), resource)) {
            Some(reason) => Err(reason.clone()),
            None => Ok(()),
        }
    }
}

/// A person as a Cedar entity: `Warden::Person` with its roles.
fn person_entity(uid: EntityUid, roles: &[String]) -> Result<Entity, String> {
    Entity::new(
        uid,
        HashMap::from([(
            "roles".to_owned(),
            RestrictedExpression::new_set(
                roles
                    .iter()
                    .map(|r| RestrictedExpression::new_string(r.clone())),
            ),
        )]),
        HashSet::new(),
    )
    .map_err(|e| e.to_string())
}

/// The Cedar context of a tool call (`ToolContext` in the schema).
fn tool_context(use_case: &str, in_playbook: bool) -> Vec<(String, RestrictedExpression)> {
    vec![
        (
            "use_case".to_owned(),
            RestrictedExpression::new_string(use_case.to_owned()),
        ),
        (
            "in_playbook".to_owned(),
            RestrictedExpression::new_bool(in_playbook),
        ),
    ]
}

/// What Cedar said about one request.
#[derive(Debug)]
struct Answer {
    allowed: bool,
    policy_ids: Vec<String>,
    errors: Vec<String>,
}

/// A parsed policy's position in its source (`policy0`, `policy1`, ...).
fn source_order(policy: &Policy) -> usize {
    policy
        .id()
        .to_string()
        .strip_prefix("policy")
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX)
}

/// Parse `@approvals("N")` and `@approver_roles("a,b")`.
fn approval_requirement(
    approvals: Option<&str>,
    roles: Option<&str>,
) -> Result<Requirement, (&'static str, String)> {
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

#[cfg(test)]
mod tests;
