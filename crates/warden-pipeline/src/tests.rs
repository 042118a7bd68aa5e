use std::collections::BTreeSet;

use warden_audit::{StoreAuditLog, stages_of};
use warden_domain::{Disposition, Stage, SystemClock, Verdict};
use warden_enrich::ContextConfig;
use warden_store::{CaseReader, SqliteStore};

use super::*;

use warden_testkit::repo;

async fn pipeline(
    store: Arc<SqliteStore>,
    context: Context,
) -> (Pipeline, Arc<StoreAuditLog<SqliteStore>>) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let audit = Arc::new(StoreAuditLog::new(store.clone(), clock.clone()));
    let policy = PolicyEngine::default_set().expect("policy");
    (
        Pipeline::new(
            Config::default(),
            store,
            audit.clone(),
            clock,
            policy,
            context,
        )
        .expect("pipeline"),
        audit,
    )
}

#[tokio::test]
async fn every_case_leaves_a_record_of_every_stage_it_went_through() {
    let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let context =
        Context::load(&repo().join("examples/context"), &ContextConfig::default()).expect("ctx");
    let (pipeline, audit) = pipeline(store.clone(), context).await;
    pipeline.record_run("test").await.expect("run");
    let run = pipeline
        .triage_paths(&[repo().join("examples/alerts")], None)
        .await
        .expect("triage");
    assert!(run.rejected.is_empty(), "{:?}", run.rejected);
    assert_eq!(run.outcomes.len(), 5);

    for outcome in &run.outcomes {
        let records = audit.records(Some(outcome.case.id)).await.expect("records");
        let stages = stages_of(&records);
        // Every triaged case is correlated, enriched, assessed, decided, has
        // its note cleared by the approve stage and run by the executor.
        let expected: BTreeSet<Stage> = [
            Stage::Correlate,
            Stage::Enrich,
            Stage::Assess,
            Stage::Decide,
            Stage::Approve,
            Stage::Execute,
            Stage::Case,
        ]
        .into();
        assert_eq!(stages, expected, "case {}", outcome.case.title);
        // Decisions are on the record before the executions they allow.
        let decided = records
            .iter()
            .position(|r| matches!(r.entry.event, AuditEvent::PolicyDecided { .. }));
        let executed = records
            .iter()
            .position(|r| matches!(r.entry.event, AuditEvent::ActionExecuted { .. }));
        assert!(decided < executed);
        // Stored state matches what triage reported.
        let stored = store
            .case(outcome.case.id)
            .await
            .expect("read")
            .expect("case");
        assert_eq!(
            stored.state,
            CaseState::for_disposition(outcome.case.disposition.expect("disposition"))
        );
        assert_eq!(
            store
                .notes_of_case(outcome.case.id)
                .await
                .expect("notes")
                .len(),
            1
        );
    }
    // Ingest events, one per alert received (not per duplicate merged).
    let all = audit.records(None).await.expect("records");
    let ingested = all
        .iter()
        .filter(|r| r.entry.event.stage() == Stage::Ingest)
        .count();
    assert_eq!(ingested, 8);
    // Each stage recorded what S5 asks of it, before its effect.
    assert_eq!(warden_audit::expect::missing(&all), Vec::<String>::new());
    let tool_calls = all
        .iter()
        .filter(|r| matches!(&r.entry.event, AuditEvent::ToolCalled { parameters, .. } if !parameters.is_null()))
        .count();
    assert!(tool_calls >= 5, "{tool_calls} tool calls recorded");
    let Some(AuditEvent::RunStarted {
        config_sha256,
        policy_version,
        model,
        ..
    }) = all.first().map(|r| &r.entry.event)
    else {
        panic!("the log does not start with the run's configuration");
    };
    assert_eq!(config_sha256.len(), 64);
    assert_eq!(policy_version, pipeline.policy.version());
    assert!(model.starts_with("warden-deterministic/"), "{model}");
    let key = warden_audit::LogKey::generate("warden.test/audit")
        .expect("key")
        .0;
    let report = warden_audit::verify::verify(store.as_ref(), key.public())
        .await
        .expect("verify");
    assert!(report.ok(), "{report:?}");
}

/// The stage check itself: a log with an entry removed fails it.
#[tokio::test]
async fn the_stage_check_notices_what_a_stage_failed_to_record() {
    let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let context =
        Context::load(&repo().join("examples/context"), &ContextConfig::default()).expect("ctx");
    let (pipeline, audit) = pipeline(store.clone(), context).await;
    pipeline.record_run("test").await.expect("run");
    pipeline
        .triage_paths(&[repo().join("examples/alerts")], None)
        .await
        .expect("triage");
    let all = audit.records(None).await.expect("records");
    for kind in [
        "policy_decided",
        // The pentest case closes without a person: only under a
        // recorded case.auto_close decision.
        "auto_close_decided",
        "evidence_collected",
        "alert_ingested",
        "run_started",
    ] {
        let without: Vec<_> = all
            .iter()
            .filter(|r| r.entry.event.kind() != kind)
            .cloned()
            .collect();
        assert!(
            !warden_audit::expect::missing(&without).is_empty(),
            "removing every {kind} entry went unnoticed"
        );
    }
}

#[tokio::test]
async fn examples_reach_the_expected_outcomes() {
    let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let context =
        Context::load(&repo().join("examples/context"), &ContextConfig::default()).expect("ctx");
    let (pipeline, _) = pipeline(store, context).await;
    let run = pipeline
        .triage_paths(&[repo().join("examples/alerts")], None)
        .await
        .expect("triage");
    let by_title = |t: &str| run.outcomes.iter().find(|o| o.case.title == t).expect(t);

    let dc = by_title("LSASS Memory Access by Unusual Process");
    assert_eq!(dc.assessment.verdict, Verdict::Malicious);
    // Escalated, with its permitted responses (ticket, owner notice,
    // session revocation) waiting in the approval queue.
    assert_eq!(dc.case.disposition, Some(Disposition::AwaitingApproval));
    let codes: Vec<&str> = dc.triggers.iter().map(|t| t.code).collect();
    for code in [
        "critical_asset",
        "privileged_identity",
        "threat_verdict",
        "suspected_injection",
    ] {
        assert!(codes.contains(&code), "{codes:?}");
    }
    // The lab is not a crown jewel but dc01 is: its owner is told, it is
    // not isolated.
    assert!(
        dc.assessment
            .proposed_actions
            .iter()
            .all(|p| p.action != warden_domain::ActionName::EdrIsolateHost)
    );

    let scan = by_title("Zeek scan policy: port scan");
    assert_eq!(scan.assessment.verdict, Verdict::FalsePositive);
    // A false positive, but the scanner touched a regulated database: a
    // person still looks (critical_asset), and nothing else fires.
    let codes: Vec<&str> = scan.triggers.iter().map(|t| t.code).collect();
    assert_eq!(codes, vec!["critical_asset"]);
    assert_eq!(scan.case.alert_count, 3);

    // The sanctioned pentester on the pentest VM: real, authorised activity.
    let pentest = by_title("CredentialTheftMimikatz");
    assert_eq!(pentest.assessment.verdict, Verdict::Benign);
    assert_eq!(pentest.use_case, "credential-access");
    assert_eq!(
        pentest.case.disposition,
        Some(Disposition::AutoClosed),
        "{:?}",
        pentest.triggers
    );

    let ws = by_title("Suspicious PowerShell Encoded Command");
    assert_eq!(ws.alerts.len(), 2, "powershell and C2 alerts grouped");
    assert!(
        ws.case
            .grouping_reasons
            .iter()
            .any(|r| r.contains("ws-fin-042"))
    );
    // Nothing but the note ran anywhere: every side effect waits for people.
    for outcome in &run.outcomes {
        for execution in &outcome.executions {
            assert_eq!(execution.action, warden_domain::ActionName::CaseNote);
        }
    }
}

#[tokio::test]
async fn rejected_records_go_to_the_dead_letter_store_and_the_rest_is_triaged() {
    let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let dir = std::env::temp_dir().join(format!("warden-bad-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("bad.json"), b"{\"class_uid\": 2004,").expect("write");
    std::fs::copy(
        repo().join("examples/alerts/ocsf-mfa-fatigue.json"),
        dir.join("good.json"),
    )
    .expect("copy");
    let (pipeline, audit) = pipeline(store.clone(), Context::none()).await;
    let run = pipeline
        .triage_paths(std::slice::from_ref(&dir), None)
        .await
        .expect("triage");
    assert_eq!(run.outcomes.len(), 1);
    assert_eq!(run.rejected.len(), 1);
    let letters = store.dead_letters().await.expect("letters");
    assert_eq!(letters.len(), 1);
    assert!(letters[0].origin.ends_with("bad.json"));
    assert!(letters[0].reason.contains("malformed JSON"));
    assert_eq!(letters[0].payload, b"{\"class_uid\": 2004,");
    let rejected = audit
        .records(None)
        .await
        .expect("records")
        .into_iter()
        .filter(|r| matches!(r.entry.event, AuditEvent::IngestRejected { .. }))
        .count();
    assert_eq!(rejected, 1);
    // No context at all: no source is configured, so none is a gap and
    // the card says none was consulted; the case still goes to a person.
    let outcome = &run.outcomes[0];
    assert!(outcome.gaps.is_empty(), "{:?}", outcome.gaps);
    assert!(
        outcome
            .not_consulted
            .contains(&"identities (not configured)".to_owned()),
        "{:?}",
        outcome.not_consulted
    );
    assert!(!outcome.triggers.is_empty(), "{}", outcome.card());
    assert_ne!(outcome.case.disposition, Some(Disposition::AutoClosed));
    std::fs::remove_dir_all(&dir).ok();
}

/// A context folder written to the public contract alone (no `stix/`, no
/// `incidents.csv`) is not a gap: the scanner's routine scan is not
/// escalated for sources the deployment never set up, and the card says
/// which were not consulted.
#[tokio::test]
async fn a_contract_only_context_folder_is_not_an_evidence_gap() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in [
        "assets.csv",
        "identities.csv",
        "vulnerabilities.csv",
        "intel.csv",
        "history.csv",
        "kev.json",
    ] {
        std::fs::copy(
            repo().join("examples/context").join(name),
            dir.path().join(name),
        )
        .expect("copy");
    }
    let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let context = Context::load(dir.path(), &ContextConfig::default()).expect("ctx");
    let (pipeline, _) = pipeline(store, context).await;
    let run = pipeline
        .triage_paths(&[repo().join("examples/alerts")], None)
        .await
        .expect("triage");
    assert_eq!(run.outcomes.len(), 5);
    for outcome in &run.outcomes {
        assert!(
            outcome.gaps.is_empty(),
            "{}: {:?}",
            outcome.case.title,
            outcome.gaps
        );
        assert!(
            outcome.triggers.iter().all(|t| t.code != "evidence_gap"),
            "{}: {:?}",
            outcome.case.title,
            outcome.triggers
        );
        assert_eq!(
            outcome.not_consulted,
            vec!["stix (not configured)", "incidents (not configured)"]
        );
        assert!(
            outcome
                .card()
                .contains("not consulted: stix (not configured), incidents (not configured)"),
            "{}",
            outcome.card()
        );
        assert_eq!(
            outcome.to_json()["not_consulted"],
            serde_json::json!(["stix (not configured)", "incidents (not configured)"])
        );
    }
}
