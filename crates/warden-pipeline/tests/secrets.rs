//! Least data (S6), end to end: credentials an alert carries in a URL, a
//! command line and a user name reach no audit export (JSON lines or
//! syslog), no model request and no log line, while the look-ups that
//! need the clear values still run.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use warden_audit::StoreAuditLog;
use warden_domain::{AuditEvent, Clock, SystemClock};
use warden_enrich::{Context, ContextConfig};
use warden_http::Secret;
use warden_llm::{LlmConfig, LlmEnv, ProviderKind};
use warden_pipeline::{AssessorChoice, Config, Pipeline};
use warden_policy::PolicyEngine;
use warden_store::{CaseReader, SqliteStore};
use warden_testkit::model_double::{Fault, ModelDouble};
use warden_testkit::repo;

/// The password in the URL's userinfo.
const URL_PASSWORD: &str = "Wint3r-Sky-42x";
/// A token in the URL's query.
const URL_TOKEN: &str = "ghp_Q7wErTy8UiOp1AsDfGh2JkLzXcVb3NmQwErT";
/// A signature in the URL's query.
const URL_SIG: &str = "Zm9vYmFyYmF6cXV4cXV1eA9z";
/// The password a command line passes to curl.
const CMD_PASSWORD: &str = "Hunter2-Blue-77";
/// A token typed as a user name (git over HTTPS takes one there).
const USER_TOKEN: &str = "ghp_L0gInAsTokEn9aBcDeFgHiJkLmNoPqRsTuVw";

const SECRETS: [&str; 5] = [URL_PASSWORD, URL_TOKEN, URL_SIG, CMD_PASSWORD, USER_TOKEN];

fn alert() -> serde_json::Value {
    let url = format!(
        "https://svc_deploy:{URL_PASSWORD}@files.corp.example/build.zip?access_token={URL_TOKEN}&sig={URL_SIG}&v=2"
    );
    let command = format!("curl.exe -u deploy:{CMD_PASSWORD} -o C:\\Temp\\b.zip {url}");
    serde_json::json!({
        "@timestamp": "2026-11-17T14:04:05.912Z",
        "kibana.alert.uuid": "5ec7e75ec7e75ec7e75ec7e75ec7e75e",
        "kibana.alert.original_time": "2026-11-17T14:03:12.481Z",
        "kibana.alert.severity": "high",
        "kibana.alert.reason": format!("process curl.exe by {USER_TOKEN} on ws-fin-042 ran {command}"),
        "kibana.alert.rule.rule_id": "b2c3d4e5-0000-4000-8000-5ec7e75ec7e7",
        "kibana.alert.rule.name": format!("Download with credentials {URL_TOKEN}"),
        "kibana.alert.rule.description": format!("Command line: {command}"),
        "host.name": "ws-fin-042",
        "user.name": USER_TOKEN,
        "process.name": "curl.exe",
        "process.executable": "C:\\Windows\\System32\\curl.exe",
        "process.command_line": command,
        "url.full": url,
        "url.original": url,
        "url.domain": "files.corp.example",
    })
}

/// Every log line the run writes, at every level.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn leaks(sink: &str, text: &str) -> Vec<String> {
    SECRETS
        .iter()
        .filter(|s| text.contains(*s))
        .map(|s| format!("{sink} holds {s}"))
        .collect()
}

#[tokio::test]
async fn planted_credentials_reach_no_audit_export_model_request_or_log_line() {
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alert.json");
    // Two alerts of the same download, so they make one case whose
    // grouping reasons quote the shared user and URL.
    let mut again = alert();
    again["kibana.alert.uuid"] = "5ec7e75ec7e75ec7e75ec7e75ec7e75f".into();
    again["@timestamp"] = "2026-11-17T14:06:05.912Z".into();
    again["host.name"] = "ws-fin-043".into();
    std::fs::write(
        &path,
        serde_json::to_vec(&serde_json::json!([alert(), again])).unwrap(),
    )
    .unwrap();

    for provider in [ProviderKind::Openai, ProviderKind::Anthropic] {
        let double = ModelDouble::start(Fault::None, Duration::ZERO).await;
        let config = Config {
            llm: LlmConfig {
                provider: Some(provider),
                base_url: Some(match provider {
                    ProviderKind::Openai => format!("{}/v1", double.url),
                    _ => double.url.clone(),
                }),
                model: Some("double-analyst-1".into()),
                timeout_seconds: 2,
                max_retries: 1,
                max_retry_wait_seconds: 2,
                ..LlmConfig::default()
            },
            ..Config::default()
        };
        let env = LlmEnv {
            api_key: Some(Secret::new("sk-test-4f1c9a7e0b2d")),
            ..LlmEnv::default()
        };
        let resolved = config.llm.resolve(&env).expect("settings resolve");
        let mut models = warden_llm::assessors(&resolved, false)
            .expect("assessors")
            .into_iter()
            .map(|a| Arc::new(a) as Arc<dyn warden_assess::Assessor>);
        let choice = AssessorChoice {
            primary: models.next(),
            second_opinions: models.collect(),
            cases_in_flight: 1,
        };
        let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let audit = Arc::new(StoreAuditLog::new(store.clone(), clock.clone()));
        let context = Context::load(&repo().join("examples/context"), &ContextConfig::default())
            .expect("context");
        let pipeline = Pipeline::new(
            config,
            store.clone(),
            audit.clone(),
            clock,
            PolicyEngine::default_set().expect("policy"),
            context,
        )
        .expect("pipeline")
        .with_assessors(&choice);
        let run = pipeline
            .triage_paths(std::slice::from_ref(&path), None)
            .await
            .expect("triage");
        assert_eq!(run.outcomes.len(), 1, "{provider:?}");
        let grouped = &run.outcomes[0].case;
        assert_eq!(grouped.alert_ids.len(), 2, "{provider:?}: one case");

        let mut found = Vec::new();
        // The case as the store keeps it and the API and UI show it: its
        // title (a rule name) and its grouping reasons (shared entities).
        let stored = store.case(grouped.id).await.expect("case").expect("stored");
        found.extend(leaks(
            "stored case",
            &serde_json::to_string(&stored).unwrap(),
        ));
        // The audit log, as `warden audit export` writes it.
        let rows = store.audit_rows(None).await.expect("rows");
        let events: Vec<AuditEvent> = rows
            .iter()
            .map(|r| serde_json::from_str::<serde_json::Value>(&r.entry).unwrap())
            .filter_map(|v| serde_json::from_value(v["event"].clone()).ok())
            .collect();
        for row in &rows {
            found.extend(leaks(
                "audit JSON line",
                &warden_audit::export::json_line(row),
            ));
            found.extend(leaks(
                "audit syslog line",
                &warden_audit::export::syslog_message(row, "warden-test", 1),
            ));
        }
        // Every request the model received.
        let requests = double.requests();
        assert!(!requests.is_empty(), "{provider:?}: the model was asked");
        for request in &requests {
            found.extend(leaks("model request", &request.to_string()));
        }
        assert!(found.is_empty(), "{provider:?}: {found:#?}");

        // The look-ups still ran, on the record with the redacted form.
        assert!(
            events.iter().any(|e| matches!(e,
                AuditEvent::ToolCalled { parameters, .. }
                    if parameters.to_string().contains("[REDACTED:"))),
            "{provider:?}: no tool call with a redacted argument: {events:#?}"
        );
        // The store keeps the alert as it came.
        let case = &run.outcomes[0].case;
        let alerts = store.alerts_of_case(case.id).await.expect("alerts");
        assert!(alerts[0].raw.to_string().contains(URL_PASSWORD));
        assert!(
            stored
                .grouping_reasons
                .iter()
                .any(|r| r.contains("[REDACTED:")),
            "{provider:?}: {:?}",
            stored.grouping_reasons
        );
    }
    let logged = String::from_utf8_lossy(&lines.0.lock().unwrap()).into_owned();
    let found = leaks("log line", &logged);
    assert!(found.is_empty(), "{found:#?}");
}
