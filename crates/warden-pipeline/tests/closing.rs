//! Closing a case without a person (S4): every assessor that ran can stop
//! it, and the closure itself is a Cedar decision (`case.auto_close`).
//!
//! The assessors here are scripted (the `Assessor` trait), the baseline
//! among them under the deterministic assessor's name, so each test fixes
//! exactly what every assessor says. The case is the sanctioned pentest
//! VM's Mimikatz alert with the example context, looked up in the asset
//! and identity inventories only: both know the VM and the pentester
//! (tagged `pentest`, evidence that speaks for benign), nothing is
//! missing, nothing is critical or privileged. What decides is the
//! assessors and the policy.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::sync::Arc;

use warden_assess::{AssessmentInput, Assessor, AssessorFailure, AssessorHost, AssessorRun};
use warden_audit::{AuditLog, StoreAuditLog};
use warden_domain::{
    Assessment, AuditEvent, CaseState, Clock, Disposition, RationaleItem, Severity, SystemClock,
    Verdict,
};
use warden_enrich::{Context, ContextConfig};
use warden_pipeline::{CaseOutcome, Config, Pipeline};
use warden_playbook::{Playbook, PlaybookSet};
use warden_policy::PolicyEngine;
use warden_store::{CaseReader, SqliteStore};
use warden_testkit::repo;

/// The use case of these tests: assets and accounts, notes only.
const USE_CASE: &str = "closing-test";

/// What a scripted assessor says.
#[derive(Debug, Clone)]
enum Says {
    /// A verdict at a confidence, with one rationale item of `factor`.
    Verdict {
        verdict: Verdict,
        confidence: f64,
        factor: &'static str,
    },
    /// The run fails (a model call that answered HTTP 500).
    Fails,
}

fn says(verdict: Verdict, confidence: f64) -> Says {
    Says::Verdict {
        verdict,
        confidence,
        factor: "detection",
    }
}

#[derive(Debug)]
struct Scripted {
    name: &'static str,
    says: Says,
}

#[async_trait::async_trait]
impl Assessor for Scripted {
    fn name(&self) -> &str {
        self.name
    }

    async fn assess(&self, input: &AssessmentInput<'_>, _host: &dyn AssessorHost) -> AssessorRun {
        let Says::Verdict {
            verdict,
            confidence,
            factor,
        } = self.says.clone()
        else {
            return AssessorRun::of(Err(AssessorFailure(
                "model call failed: HTTP 500 (server_error)".into(),
            )));
        };
        let cited = input
            .evidence
            .first()
            .map(|e| vec![e.id.clone()])
            .unwrap_or_default();
        AssessorRun::of(Ok(Assessment {
            assessor: self.name.to_owned(),
            verdict,
            severity: Severity::Low,
            confidence,
            risk_score: 10.0,
            rationale: vec![RationaleItem {
                factor: factor.to_owned(),
                text: format!("{factor}: scripted"),
                weight: 0.0,
                evidence: cited,
            }],
            proposed_actions: Vec::new(),
        }))
    }
}

fn scripted(name: &'static str, says: Says) -> Arc<dyn Assessor> {
    Arc::new(Scripted { name, says })
}

fn playbooks() -> PlaybookSet {
    let text = format!(
        "name = \"{USE_CASE}\"\nowner = \"soc@corp.example\"\nautonomy = \"assisted\"\n\
         [context]\ntools = [\"asset_lookup\", \"identity_lookup\"]\n[actions]\nallowed = [\"case.note\"]\n"
    );
    PlaybookSet::from_playbooks(vec![
        Playbook::parse("closing-test.toml", &text).expect("playbook"),
    ])
    .expect("playbook set")
}

struct Run {
    outcome: CaseOutcome,
    records: Vec<warden_audit::AuditRecord>,
    events: Vec<AuditEvent>,
    /// The case as the store holds it afterwards.
    stored: warden_domain::Case,
}

/// Triage the pentest VM's Mimikatz alert with `baseline` (under the
/// deterministic assessor's name), led by `lead` when given, with
/// `others` as further opinions, under `policy`.
async fn triage(
    baseline: Says,
    lead: Option<Says>,
    others: Vec<(&'static str, Says)>,
    policy: PolicyEngine,
) -> Run {
    let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let audit = Arc::new(StoreAuditLog::new(store.clone(), clock.clone()));
    let mut pipeline = Pipeline::new(
        Config::default(),
        store.clone(),
        audit.clone(),
        clock,
        policy,
        Context::load(&repo().join("examples/context"), &ContextConfig::default())
            .expect("example context"),
    )
    .expect("pipeline")
    .with_playbooks(playbooks())
    .expect("playbooks")
    // The scripted baseline takes the deterministic assessor's place...
    .with_assessor(scripted("deterministic", baseline));
    if let Some(lead) = lead {
        // ... and stays beside a lead as its second opinion.
        pipeline = pipeline.with_assessor(scripted("llm", lead));
    }
    for (name, says) in others {
        pipeline = pipeline.with_second_opinion(scripted(name, says));
    }
    pipeline.record_run("test").await.expect("run");
    let run = pipeline
        .triage_paths(
            &[repo().join("examples/alerts/ocsf-test-vm-mimikatz.json")],
            None,
        )
        .await
        .expect("triage");
    assert_eq!(run.outcomes.len(), 1);
    let records = audit.records(None).await.expect("records");
    let events = records.iter().map(|r| r.entry.event.clone()).collect();
    let outcome = run.outcomes.into_iter().next().expect("one case");
    let stored = store
        .case(outcome.case.id)
        .await
        .expect("read")
        .expect("stored");
    Run {
        outcome,
        records,
        events,
        stored,
    }
}

fn shipped() -> PolicyEngine {
    PolicyEngine::default_set().expect("shipped policies")
}

fn codes(outcome: &CaseOutcome) -> Vec<&'static str> {
    outcome.triggers.iter().map(|t| t.code).collect()
}

/// Escalated (not closed), with a trigger `code` whose reason contains
/// `naming`.
fn assert_escalated(run: &Run, code: &str, naming: &str) {
    let outcome = &run.outcome;
    assert_eq!(
        outcome.case.disposition,
        Some(Disposition::Escalated),
        "{:?}",
        outcome.triggers
    );
    assert!(
        outcome
            .triggers
            .iter()
            .any(|t| t.code == code && t.reason.contains(naming)),
        "expected {code} naming {naming:?} in {:?}",
        outcome.triggers
    );
    assert!(
        !run.events.iter().any(|e| matches!(
            e,
            AuditEvent::CaseStateChanged {
                to: CaseState::AutoClosed,
                ..
            }
        )),
        "closed anyway"
    );
}

#[tokio::test]
async fn a_confident_lead_does_not_close_a_case_its_baseline_is_unsure_of() {
    let run = triage(
        says(Verdict::Benign, 0.4),
        Some(says(Verdict::Benign, 0.99)),
        vec![],
        shipped(),
    )
    .await;
    assert_escalated(&run, "low_confidence", "deterministic");
}

#[tokio::test]
async fn a_lead_without_a_verdict_does_not_close_the_case() {
    let run = triage(
        says(Verdict::Benign, 0.9),
        Some(says(Verdict::Unknown, 0.9)),
        vec![],
        shipped(),
    )
    .await;
    assert_escalated(&run, "no_verdict", "llm");
}

#[tokio::test]
async fn a_single_deterministic_assessor_without_a_verdict_needs_a_person() {
    let run = triage(says(Verdict::Unknown, 0.9), None, vec![], shipped()).await;
    assert_escalated(&run, "no_verdict", "deterministic");
}

#[tokio::test]
async fn a_lead_reporting_injection_does_not_close_the_case() {
    let run = triage(
        says(Verdict::Benign, 0.9),
        Some(Says::Verdict {
            verdict: Verdict::Benign,
            confidence: 0.99,
            factor: "injection",
        }),
        vec![],
        shipped(),
    )
    .await;
    assert_escalated(&run, "suspected_injection", "llm");
}

#[tokio::test]
async fn an_ensemble_whose_second_model_fails_does_not_close_the_case() {
    let run = triage(
        says(Verdict::Benign, 0.9),
        Some(says(Verdict::Benign, 0.99)),
        vec![("llm-second", Says::Fails)],
        shipped(),
    )
    .await;
    assert_escalated(&run, "assessor_failed", "llm-second");
    // The failure is named once, as a failure, not also as "no verdict".
    assert!(!codes(&run.outcome).contains(&"no_verdict"));
}

#[tokio::test]
async fn assessors_agreeing_on_benign_close_the_case_under_the_permitting_policy() {
    let run = triage(
        says(Verdict::Benign, 0.9),
        Some(says(Verdict::Benign, 0.95)),
        vec![("llm-second", says(Verdict::FalsePositive, 0.85))],
        shipped(),
    )
    .await;
    let outcome = &run.outcome;
    assert_eq!(
        outcome.case.disposition,
        Some(Disposition::AutoClosed),
        "{:?}",
        outcome.triggers
    );
    let decision = outcome.case.auto_close.as_ref().expect("decided");
    assert!(decision.allowed, "{decision:?}");
    assert_eq!(decision.policy_ids, vec!["auto-close.permit".to_owned()]);
    // On the record before the case changed state (S5), with the facts the
    // policy saw.
    let decided = run
        .events
        .iter()
        .position(|e| matches!(e, AuditEvent::AutoCloseDecided { allowed: true, .. }))
        .expect("the closure decision is on the record");
    let closed = run
        .events
        .iter()
        .position(|e| {
            matches!(
                e,
                AuditEvent::CaseStateChanged {
                    to: CaseState::AutoClosed,
                    ..
                }
            )
        })
        .expect("closed");
    assert!(decided < closed);
    let AuditEvent::AutoCloseDecided {
        policy_ids,
        context,
        ..
    } = &run.events[decided]
    else {
        unreachable!()
    };
    assert_eq!(policy_ids, &vec!["auto-close.permit".to_owned()]);
    assert_eq!(context["min_confidence"], 85);
    assert_eq!(context["injection_suspected"], false);
    assert_eq!(context["benign_evidence"], 2, "{context}");
    // The card and the JSON say which policy allowed the closure.
    assert!(
        outcome
            .card()
            .contains("closed under policy auto-close.permit"),
        "{}",
        outcome.card()
    );
    let json = outcome.to_json();
    assert_eq!(json["auto_close"]["allowed"], true);
    assert_eq!(json["auto_close"]["policy_ids"][0], "auto-close.permit");
    // The store keeps the decision with the case.
    assert_eq!(run.stored.auto_close.as_ref(), Some(decision));
    // Each stage recorded what S5 asks of it.
    assert_eq!(
        warden_audit::expect::missing(&run.records),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_policy_forbidding_closure_for_the_use_case_escalates_naming_it() {
    let forbid = format!(
        "@id(\"ops.no-auto-close.{USE_CASE}\")\n\
         @description(\"Cases of this use case always get a person.\")\n\
         forbid (principal == Warden::Agent::\"{USE_CASE}\", \
         action == Warden::Action::\"case.auto_close\", resource);\n"
    );
    let mut sources: Vec<(&str, &str)> = warden_policy::DEFAULT_POLICY_FILES.to_vec();
    sources.push(("ops.cedar", &forbid));
    let policy =
        PolicyEngine::load_sources(warden_policy::DEFAULT_SCHEMA, &sources).expect("loads");
    let run = triage(
        says(Verdict::Benign, 0.9),
        Some(says(Verdict::Benign, 0.95)),
        vec![],
        policy,
    )
    .await;
    assert_escalated(&run, "auto_close_denied", "ops.no-auto-close.closing-test");
    let decision = run.outcome.case.auto_close.as_ref().expect("decided");
    assert!(!decision.allowed);
    assert_eq!(run.stored.auto_close.as_ref(), Some(decision));
    assert!(run.events.iter().any(|e| matches!(
        e,
        AuditEvent::AutoCloseDecided { allowed: false, policy_ids, .. }
            if policy_ids.contains(&format!("ops.no-auto-close.{USE_CASE}"))
    )));
}
