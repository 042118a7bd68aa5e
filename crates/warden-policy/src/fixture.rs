//! Policy fixtures: a request and the decision it must get
//! (`warden policy test`; format in `docs/policy.md`).
//!
//! A fixture file holds `[defaults]` and any number of `[[test]]` tables
//! with the same keys; a test's keys win over the defaults. Facts neither
//! sets take the values of [`Entry`]'s field documentation.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use warden_domain::{
    ActionName, ActionProposal, AutoCloseDecision, Autonomy, CaseId, Decision, DecisionOutcome,
    ObservableKind, Severity, Target, Verdict,
};

use crate::auto_close::{AssessorView, AutoCloseFacts};
use crate::engine::{AUTO_CLOSE, PolicyEngine, Principal};
use crate::request::{ApprovalTally, CaseFacts, TargetFacts};

/// One fixture file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureFile {
    /// Keys every test of the file starts from.
    #[serde(default)]
    pub defaults: Entry,
    #[serde(default, rename = "test")]
    pub tests: Vec<Entry>,
}

/// A test (or the defaults): every key is optional here; a merged test
/// must name itself, its principal, action and expectation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub name: Option<String>,
    /// `agent:<use case>` or `person:<user name>`.
    pub principal: Option<String>,
    /// A person's roles (default none).
    pub roles: Option<Vec<String>>,
    /// A catalogue action (`edr.isolate_host`).
    pub action: Option<String>,
    /// `case` (default) or `<kind>:<value>` (`host:ws-1`, `user:alice`).
    pub target: Option<String>,
    /// Default: the agent's use case, else `default`.
    pub use_case: Option<String>,
    /// Default `assisted`.
    pub autonomy: Option<String>,
    /// Default `informational`.
    pub severity: Option<String>,
    /// 0 to 1 (default 0).
    pub confidence: Option<f64>,
    /// Default `unknown`.
    pub verdict: Option<String>,
    /// Default 0.
    pub evidence_gaps: Option<usize>,
    /// Default 0.
    pub stale_evidence: Option<usize>,
    /// Default true (the playbook allows the action).
    pub in_playbook: Option<bool>,
    /// Default `unknown`.
    pub asset_criticality: Option<String>,
    /// Default `unknown`.
    pub asset_environment: Option<String>,
    pub asset_tags: Option<Vec<String>>,
    /// Default `unknown`.
    pub identity_type: Option<String>,
    /// Default false.
    pub identity_privileged: Option<bool>,
    pub identity_tags: Option<Vec<String>>,
    /// Default true (the target is the case or one of its entities).
    pub target_in_case: Option<bool>,
    pub case_identity_types: Option<Vec<String>>,
    /// Default false.
    pub case_privileged: Option<bool>,
    /// Default true.
    pub assessors_agree: Option<bool>,
    /// Valid approvals recorded (default 0).
    pub approvals: Option<u32>,
    pub approver_roles: Option<Vec<String>>,
    /// `case.auto_close`: every assessor that ran (default: one,
    /// `deterministic`, with `verdict` and `confidence`).
    pub assessments: Option<Vec<AssessmentEntry>>,
    /// `case.auto_close`: default false.
    pub injection_suspected: Option<bool>,
    /// `case.auto_close`: default 1 (the alert).
    pub evidence_total: Option<usize>,
    /// `case.auto_close`: default 0.
    pub benign_evidence: Option<usize>,
    /// `case.auto_close`: trigger codes that fired (default none).
    pub triggers: Option<Vec<String>>,
    /// `allow`, `needs_approval` or `deny`.
    pub expect: Option<String>,
    /// The deciding policy ids, exactly (any order).
    pub expect_policies: Option<Vec<String>>,
    /// For `needs_approval`: how many approvals.
    pub expect_approvals: Option<u32>,
    /// For `needs_approval`: which roles (any order).
    pub expect_roles: Option<Vec<String>>,
}

/// One assessor of a `case.auto_close` test.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessmentEntry {
    pub assessor: String,
    /// A verdict, or `failed` for a run that gave no usable answer.
    pub verdict: String,
    /// 0 to 1 (default 0).
    #[serde(default)]
    pub confidence: f64,
}

macro_rules! merge_fields {
    ($test:expr, $defaults:expr, $($field:ident),*) => {
        Entry { $( $field: $test.$field.clone().or_else(|| $defaults.$field.clone()), )* }
    };
}

impl Entry {
    /// This test over `defaults`.
    pub fn over(&self, defaults: &Entry) -> Entry {
        merge_fields!(
            self,
            defaults,
            name,
            principal,
            roles,
            action,
            target,
            use_case,
            autonomy,
            severity,
            confidence,
            verdict,
            evidence_gaps,
            stale_evidence,
            in_playbook,
            asset_criticality,
            asset_environment,
            asset_tags,
            identity_type,
            identity_privileged,
            identity_tags,
            target_in_case,
            case_identity_types,
            case_privileged,
            assessors_agree,
            approvals,
            approver_roles,
            assessments,
            injection_suspected,
            evidence_total,
            benign_evidence,
            triggers,
            expect,
            expect_policies,
            expect_approvals,
            expect_roles
        )
    }
}

/// What one test got.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub name: String,
    /// `allow`, `needs_approval` or `deny` as expected.
    pub expected: String,
    /// The decision, when the test could be run (a catalogue action).
    pub decision: Option<Decision>,
    /// The decision of a `case.auto_close` test, when it could be run.
    pub auto_close: Option<AutoCloseDecision>,
    /// Why it failed; empty when it passed.
    pub failures: Vec<String>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// What was decided and by which policies (`allow [id, ...]`), or `-`
    /// when the test could not be run.
    pub fn got(&self) -> String {
        match (&self.decision, &self.auto_close) {
            (Some(d), _) => format!("{} [{}]", describe(&d.outcome), d.policy_ids.join(", ")),
            (None, Some(d)) => format!(
                "{} [{}]",
                if d.allowed { "allow" } else { "deny" },
                d.policy_ids.join(", ")
            ),
            (None, None) => "-".into(),
        }
    }
}

fn set(items: Option<&Vec<String>>) -> BTreeSet<String> {
    items.into_iter().flatten().cloned().collect()
}

/// Run every test of `file` against `engine`.
pub fn run_file(engine: &PolicyEngine, file: &FixtureFile) -> Vec<Outcome> {
    file.tests
        .iter()
        .enumerate()
        .map(|(index, test)| {
            let test = test.over(&file.defaults);
            let name = test
                .name
                .clone()
                .unwrap_or_else(|| format!("test #{}", index.saturating_add(1)));
            let expected = test.expect.clone().unwrap_or_default();
            let invalid = |invalid: String| Outcome {
                name: name.clone(),
                expected: expected.clone(),
                decision: None,
                auto_close: None,
                failures: vec![format!("invalid test: {invalid}")],
            };
            if test.action.as_deref() == Some(AUTO_CLOSE) {
                return match run_auto_close(engine, &test) {
                    Ok((decision, failures)) => Outcome {
                        name,
                        expected,
                        decision: None,
                        auto_close: Some(decision),
                        failures,
                    },
                    Err(reason) => invalid(reason),
                };
            }
            match run(engine, &test) {
                Ok((decision, failures)) => Outcome {
                    name,
                    expected,
                    decision: Some(decision),
                    auto_close: None,
                    failures,
                },
                Err(reason) => invalid(reason),
            }
        })
        .collect()
}

/// Decide one merged test; the decision and how it differs from the
/// expectation. `Err` when the test itself is malformed.
pub fn run(engine: &PolicyEngine, test: &Entry) -> Result<(Decision, Vec<String>), String> {
    let expect = test.expect.as_deref().ok_or("no expect")?;
    if !matches!(expect, "allow" | "needs_approval" | "deny") {
        return Err(format!(
            "expect must be allow, needs_approval or deny, not {expect:?}"
        ));
    }
    let action: ActionName = test
        .action
        .as_deref()
        .ok_or("no action")?
        .parse()
        .map_err(|e| format!("{e}"))?;
    let case_id = CaseId::new();
    let target = match test.target.as_deref().unwrap_or("case") {
        "case" => Target::case(case_id),
        text => {
            let (kind, value) = text
                .split_once(':')
                .ok_or_else(|| format!("target {text:?} is not case or <kind>:<value>"))?;
            let kind = ObservableKind::ALL
                .iter()
                .copied()
                .find(|k| k.as_str() == kind)
                .ok_or_else(|| format!("unknown target kind {kind:?}"))?;
            Target::Entity {
                kind,
                value: value.to_owned(),
            }
        }
    };
    let proposal = ActionProposal {
        case_id,
        action,
        target,
        parameters: BTreeMap::new(),
        proposed_by: "fixture".into(),
        evidence: Vec::new(),
    };
    let principal = test.principal.as_deref().ok_or("no principal")?;
    let autonomy: Autonomy = test.autonomy.as_deref().unwrap_or("assisted").parse()?;
    let severity: Severity = test
        .severity
        .as_deref()
        .unwrap_or("informational")
        .parse()
        .map_err(|e| format!("{e}"))?;
    let verdict: Verdict = test
        .verdict
        .as_deref()
        .unwrap_or("unknown")
        .parse()
        .map_err(|e| format!("{e}"))?;
    let confidence = test.confidence.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&confidence) {
        return Err(format!("confidence {confidence} is not between 0 and 1"));
    }
    let agent = principal.strip_prefix("agent:");
    let case = CaseFacts {
        use_case: test
            .use_case
            .clone()
            .or_else(|| agent.map(str::to_owned))
            .unwrap_or_else(|| "default".into()),
        autonomy: autonomy.as_str().to_owned(),
        severity,
        confidence,
        verdict,
        evidence_gaps: test.evidence_gaps.unwrap_or(0),
        stale_evidence: test.stale_evidence.unwrap_or(0),
        allowed_actions: if test.in_playbook.unwrap_or(true) {
            [action].into()
        } else {
            BTreeSet::new()
        },
        identity_types: set(test.case_identity_types.as_ref()),
        privileged_identity: test.case_privileged.unwrap_or(false),
        assessors_agree: test.assessors_agree.unwrap_or(true),
    };
    let unknown = || "unknown".to_owned();
    let target = TargetFacts {
        asset_criticality: test.asset_criticality.clone().unwrap_or_else(unknown),
        asset_environment: test.asset_environment.clone().unwrap_or_else(unknown),
        asset_tags: set(test.asset_tags.as_ref()),
        identity_type: test.identity_type.clone().unwrap_or_else(unknown),
        identity_privileged: test.identity_privileged.unwrap_or(false),
        identity_tags: set(test.identity_tags.as_ref()),
        in_case: test.target_in_case.unwrap_or(true),
    };
    let approvals = ApprovalTally {
        count: test.approvals.unwrap_or(0),
        roles: set(test.approver_roles.as_ref()),
    };
    let roles = test.roles.clone().unwrap_or_default();
    let principal = match (agent, principal.strip_prefix("person:")) {
        (Some(name), _) => Principal::Agent(name),
        (None, Some(name)) => Principal::Person {
            name,
            roles: &roles,
        },
        (None, None) => {
            return Err(format!(
                "principal {principal:?} is not agent:<use case> or person:<name>"
            ));
        }
    };
    let decision = engine.decide_for(principal, &proposal, &case, &target, &approvals);
    Ok((decision.clone(), differences(test, expect, &decision)))
}

/// Decide one merged `case.auto_close` test; the decision and how it
/// differs from the expectation. `Err` when the test itself is malformed.
pub fn run_auto_close(
    engine: &PolicyEngine,
    test: &Entry,
) -> Result<(AutoCloseDecision, Vec<String>), String> {
    let expect = test.expect.as_deref().ok_or("no expect")?;
    if !matches!(expect, "allow" | "deny") {
        return Err(format!(
            "expect of {AUTO_CLOSE} must be allow or deny, not {expect:?}"
        ));
    }
    let principal = test.principal.as_deref().ok_or("no principal")?;
    let agent = principal
        .strip_prefix("agent:")
        .ok_or_else(|| format!("{AUTO_CLOSE} is an agent's: principal {principal:?}"))?;
    let autonomy: Autonomy = test.autonomy.as_deref().unwrap_or("assisted").parse()?;
    let severity: Severity = test
        .severity
        .as_deref()
        .unwrap_or("informational")
        .parse()
        .map_err(|e| format!("{e}"))?;
    let confidence_in_range = |c: f64| {
        if (0.0..=1.0).contains(&c) {
            Ok(c)
        } else {
            Err(format!("confidence {c} is not between 0 and 1"))
        }
    };
    let assessors = match &test.assessments {
        Some(entries) => entries
            .iter()
            .map(|e| {
                Ok(AssessorView {
                    assessor: e.assessor.clone(),
                    verdict: match e.verdict.as_str() {
                        "failed" => None,
                        v => Some(v.parse::<Verdict>().map_err(|e| format!("{e}"))?),
                    },
                    confidence: confidence_in_range(e.confidence)?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?,
        None => vec![AssessorView {
            assessor: "deterministic".into(),
            verdict: Some(
                test.verdict
                    .as_deref()
                    .unwrap_or("unknown")
                    .parse()
                    .map_err(|e| format!("{e}"))?,
            ),
            confidence: confidence_in_range(test.confidence.unwrap_or(0.0))?,
        }],
    };
    let facts = AutoCloseFacts {
        use_case: test.use_case.clone().unwrap_or_else(|| agent.to_owned()),
        autonomy: autonomy.as_str().to_owned(),
        severity,
        assessors,
        injection_suspected: test.injection_suspected.unwrap_or(false),
        evidence_gaps: test.evidence_gaps.unwrap_or(0),
        stale_evidence: test.stale_evidence.unwrap_or(0),
        evidence_total: test.evidence_total.unwrap_or(1),
        benign_evidence: test.benign_evidence.unwrap_or(0),
        triggers: set(test.triggers.as_ref()),
    };
    let decision = engine.decide_auto_close(agent, CaseId::new(), &facts);
    let mut failures = Vec::new();
    let got = if decision.allowed { "allow" } else { "deny" };
    if got != expect {
        failures.push(format!("expected {expect}, got {got}"));
    }
    if let Some(ids) = &test.expect_policies {
        let want: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        let got: BTreeSet<&str> = decision.policy_ids.iter().map(String::as_str).collect();
        if want != got {
            failures.push(format!(
                "expected policies [{}], got [{}]",
                want.into_iter().collect::<Vec<_>>().join(", "),
                got.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if test.expect_approvals.is_some() || test.expect_roles.is_some() {
        failures.push(format!(
            "expect_approvals/expect_roles do not apply to {AUTO_CLOSE}"
        ));
    }
    Ok((decision, failures))
}

/// How `decision` differs from what `test` expects.
fn differences(test: &Entry, expect: &str, decision: &Decision) -> Vec<String> {
    let mut failures = Vec::new();
    if decision.outcome.as_str() != expect {
        failures.push(format!(
            "expected {expect}, got {}",
            describe(&decision.outcome)
        ));
    }
    if let Some(ids) = &test.expect_policies {
        let want: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        let got: BTreeSet<&str> = decision.policy_ids.iter().map(String::as_str).collect();
        if want != got {
            failures.push(format!(
                "expected policies [{}], got [{}]",
                want.into_iter().collect::<Vec<_>>().join(", "),
                got.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if test.expect_approvals.is_some() || test.expect_roles.is_some() {
        match &decision.outcome {
            DecisionOutcome::NeedsApproval { approvals, roles } => {
                if let Some(want) = test.expect_approvals
                    && want != *approvals
                {
                    failures.push(format!("expected {want} approval(s), got {approvals}"));
                }
                if let Some(want) = &test.expect_roles {
                    let want: BTreeSet<&String> = want.iter().collect();
                    let got: BTreeSet<&String> = roles.iter().collect();
                    if want != got {
                        failures.push(format!("expected roles {}, got {}", join(want), join(got)));
                    }
                }
            }
            _ => failures.push("expect_approvals/expect_roles need needs_approval".into()),
        }
    }
    failures
}

fn join(roles: BTreeSet<&String>) -> String {
    roles
        .into_iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// `allow`, `deny`, `needs_approval (2 of incident_commander,soc_lead)`.
pub fn describe(outcome: &DecisionOutcome) -> String {
    match outcome {
        DecisionOutcome::NeedsApproval { approvals, roles } => {
            format!("needs_approval ({approvals} of {})", roles.join(","))
        }
        other => other.as_str().to_owned(),
    }
}
