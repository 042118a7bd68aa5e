//! `case.auto_close`: the shipped rule, its fixtures, an operator's
//! tightening, and failing closed.

use std::collections::BTreeSet;

use cedar_policy::{Authorizer, Decision as CedarDecision};
use serde_json::json;
use time::OffsetDateTime;
use warden_domain::evidence::EvidenceKind;
use warden_domain::{CaseId, Evidence, EvidenceId, Freshness, Severity, Verdict};

use super::*;
use crate::PolicyEngine;
use crate::fixture::{FixtureFile, run_file};

fn view(assessor: &str, verdict: Option<Verdict>, confidence: f64) -> AssessorView {
    AssessorView {
        assessor: assessor.into(),
        verdict,
        confidence,
    }
}

/// A model and the deterministic baseline agreeing on benign, no trigger.
fn agreeing() -> AutoCloseFacts {
    AutoCloseFacts {
        use_case: "network-ids".into(),
        autonomy: "assisted".into(),
        severity: Severity::Low,
        assessors: vec![
            view("llm", Some(Verdict::Benign), 0.95),
            view("deterministic", Some(Verdict::FalsePositive), 0.8),
        ],
        injection_suspected: false,
        evidence_gaps: 0,
        stale_evidence: 0,
        evidence_total: 3,
        benign_evidence: 1,
        triggers: BTreeSet::new(),
    }
}

fn shipped() -> PolicyEngine {
    PolicyEngine::default_set().expect("shipped set")
}

fn with(extra: &str) -> PolicyEngine {
    let mut sources: Vec<(&str, &str)> = crate::DEFAULT_POLICY_FILES.to_vec();
    sources.push(("ops.cedar", extra));
    PolicyEngine::load_sources(crate::DEFAULT_SCHEMA, &sources).expect("loads")
}

#[test]
fn the_shipped_rule_closes_only_what_every_assessor_calls_no_threat() {
    let engine = shipped();
    let decide =
        |facts: &AutoCloseFacts| engine.decide_auto_close("network-ids", CaseId::new(), facts);
    let ok = decide(&agreeing());
    assert!(ok.allowed, "{ok:?}");
    assert_eq!(ok.policy_ids, vec!["auto-close.permit".to_owned()]);
    assert_eq!(ok.policy_version, engine.version());

    let mut unknown = agreeing();
    unknown.assessors[0].verdict = Some(Verdict::Unknown);
    let mut failed = agreeing();
    failed.assessors.push(view("llm-second", None, 0.0));
    let mut split = agreeing();
    split.assessors[1].verdict = Some(Verdict::Malicious);
    let mut triggered = agreeing();
    triggered.triggers.insert("low_confidence".into());
    let mut threat = agreeing();
    threat.assessors = vec![view("deterministic", Some(Verdict::Suspicious), 0.9)];
    let mut none = agreeing();
    none.assessors.clear();
    for (what, facts) in [
        ("unknown", unknown),
        ("failed", failed),
        ("split", split),
        ("triggered", triggered),
        ("threat", threat),
        ("no assessor", none),
    ] {
        let decision = decide(&facts);
        assert!(!decision.allowed, "{what}: {decision:?}");
        assert!(decision.policy_ids.is_empty(), "{what}: {decision:?}");
        assert!(
            decision.reasons[0].contains("no policy permits case.auto_close"),
            "{what}: {decision:?}"
        );
    }
    let mut unexplained = agreeing();
    unexplained.benign_evidence = 0;
    let decision = decide(&unexplained);
    assert!(!decision.allowed);
    assert_eq!(
        decision.policy_ids,
        vec!["auto-close.forbid-without-positive-evidence".to_owned()]
    );
    let mut injected = agreeing();
    injected.injection_suspected = true;
    let decision = decide(&injected);
    assert!(!decision.allowed);
    assert_eq!(
        decision.policy_ids,
        vec!["auto-close.forbid-injection".to_owned()]
    );
}

#[test]
fn the_shipped_fixtures_and_the_tightening_example_pass() {
    let dir = warden_testkit::repo().join("crates/warden-policy/policies");
    let read = |path: &str| -> FixtureFile {
        toml::from_str(&std::fs::read_to_string(dir.join(path)).expect("read")).expect("parse")
    };
    for outcome in run_file(&shipped(), &read("tests/auto-close.toml")) {
        assert!(outcome.passed(), "{}: {:?}", outcome.name, outcome.failures);
        assert!(outcome.auto_close.is_some());
    }
    let tightened = std::fs::read_to_string(dir.join("examples/auto-close-tightened.cedar"))
        .expect("example policy");
    let engine = with(&tightened);
    let outcomes = run_file(&engine, &read("tests/examples/auto-close-tightened.toml"));
    assert!(outcomes.len() >= 4);
    for outcome in outcomes {
        assert!(outcome.passed(), "{}: {:?}", outcome.name, outcome.failures);
    }
    // The tightening fixture fails against the shipped set alone: it
    // tests the tightening.
    assert!(
        run_file(
            &shipped(),
            &read("tests/examples/auto-close-tightened.toml")
        )
        .iter()
        .any(|o| !o.passed())
    );
}

#[test]
fn a_closure_is_decided_exactly_as_cedar_decides_over_the_whole_set() {
    let extra = r#"
        @id("x.any-action")
        forbid (principal, action, resource) when { context.use_case == "phishing" };
        @id("x.confident")
        forbid (principal, action == Warden::Action::"case.auto_close", resource)
        when { context.min_confidence < 90 };
        @id("x.erring")
        forbid (principal is Warden::Agent, action == Warden::Action::"case.auto_close", resource)
        when { context.evidence_total * 9223372036854775807 > 9 };
    "#;
    let engine = with(extra);
    let authorizer = Authorizer::new();
    let mut cases = vec![agreeing()];
    let mut sure = agreeing();
    sure.assessors[1].confidence = 0.95;
    cases.push(sure.clone());
    let mut phishing = sure.clone();
    phishing.use_case = "phishing".into();
    cases.push(phishing);
    let mut erring = sure;
    erring.evidence_total = 2;
    cases.push(erring);
    for facts in cases {
        let id = CaseId::new();
        let decision = engine.decide_auto_close(&facts.use_case, id, &facts);
        let request = engine
            .cedar_auto_close_request(&facts.use_case, id, &facts)
            .expect("request");
        let whole =
            authorizer.is_authorized(&request, engine.cedar_policies(), engine.cedar_entities());
        let errors = whole.diagnostics().errors().count();
        let mut ids: Vec<String> = whole
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        ids.sort();
        assert_eq!(decision.policy_ids, ids, "{facts:?}");
        assert_eq!(
            decision.allowed,
            whole.decision() == CedarDecision::Allow && errors == 0,
            "{facts:?}"
        );
        if errors > 0 {
            assert!(!decision.allowed);
            assert!(
                decision.reasons[0].contains("evaluation error"),
                "{decision:?}"
            );
        }
    }
}

#[test]
fn closing_fails_closed() {
    // A permit that asks for approvals cannot close without a person.
    let engine = with(
        r#"
        @id("x.approved-closure")
        @approvals("1")
        @approver_roles("soc_lead")
        permit (principal, action == Warden::Action::"case.auto_close", resource);
        "#,
    );
    let mut triggered = agreeing();
    triggered.triggers.insert("evidence_gap".into());
    let decision = engine.decide_auto_close("network-ids", CaseId::new(), &triggered);
    assert!(!decision.allowed, "{decision:?}");
    assert_eq!(decision.policy_ids, vec!["x.approved-closure".to_owned()]);
    assert!(decision.reasons[0].contains("approval"), "{decision:?}");

    // A schema without the action: every closure is refused, saying why.
    let schema = crate::DEFAULT_SCHEMA.replace(
        "action \"case.auto_close\" appliesTo { principal: [Agent], resource: [Case], context: AutoCloseContext };",
        "",
    );
    let policies: String = crate::DEFAULT_POLICY_FILES
        .iter()
        .filter(|(name, _)| *name != "auto-close.cedar")
        .map(|(_, text)| format!("{text}\n"))
        .collect();
    let engine = PolicyEngine::load(&schema, &policies).expect("loads without the action");
    let decision = engine.decide_auto_close("network-ids", CaseId::new(), &agreeing());
    assert!(!decision.allowed);
    assert!(
        decision.reasons[0].starts_with("request rejected"),
        "{decision:?}"
    );
}

fn evidence(kind: EvidenceKind, facts: serde_json::Value) -> Evidence {
    Evidence {
        id: EvidenceId::enrichment(1),
        kind,
        source: "context/x.csv".into(),
        subject: None,
        summary: String::new(),
        facts,
        collected_at: OffsetDateTime::UNIX_EPOCH,
        freshness: Freshness::Fresh,
    }
}

#[test]
fn what_speaks_for_benign() {
    let yes = [
        evidence(EvidenceKind::Asset, json!({"tags": ["vuln_scanner"]})),
        evidence(EvidenceKind::Identity, json!({"tags": ["Pentest"]})),
        evidence(EvidenceKind::Intel, json!({"verdict": "benign"})),
        evidence(
            EvidenceKind::History,
            json!({"false_positive": 5, "benign": 0, "true_positive": 0, "escalated": 0}),
        ),
        evidence(
            EvidenceKind::PastCase,
            json!({"verdict": "false_positive", "escalated": false}),
        ),
    ];
    for item in &yes {
        assert!(speaks_for_benign(item), "{item:?}");
    }
    let no = [
        evidence(EvidenceKind::Asset, json!({"tags": ["workstation"]})),
        evidence(EvidenceKind::Intel, json!({"verdict": "malicious"})),
        evidence(
            EvidenceKind::History,
            json!({"false_positive": 5, "benign": 0, "true_positive": 1, "escalated": 0}),
        ),
        evidence(
            EvidenceKind::PastCase,
            json!({"verdict": "benign", "escalated": true}),
        ),
        evidence(EvidenceKind::Alert, json!({})),
    ];
    for item in &no {
        assert!(!speaks_for_benign(item), "{item:?}");
    }
}

#[test]
fn the_context_on_the_record_is_what_cedar_sees() {
    let mut facts = agreeing();
    facts.assessors.push(view("llm-second", None, 0.0));
    let json = facts.to_json();
    assert_eq!(json["min_confidence"], 0);
    assert_eq!(json["verdict"], "benign");
    assert_eq!(json["confidence"], 95);
    assert_eq!(json["failed_assessors"], json!(["llm-second"]));
    assert_eq!(
        json["verdicts"],
        json!(["benign", "failed", "false_positive"])
    );
    assert_eq!(json["assessors_agree"], false);
    assert_eq!(json["assessments"][2]["verdict"], "failed");
    let names: BTreeSet<String> = auto_close_pairs(&facts)
        .expect("pairs")
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let recorded: BTreeSet<String> = json.as_object().expect("object").keys().cloned().collect();
    assert_eq!(names, recorded);
}
