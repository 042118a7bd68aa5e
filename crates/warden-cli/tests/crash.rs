#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! A crash between approval and execution, then a restart: the action takes
//! effect exactly once. The executor is a real `warden execute` process,
//! killed with SIGKILL while the product (a local server speaking Jira
//! Cloud's REST v3 wire format) has acted but not yet answered; the
//! restarted executor finds the claimed, unfinished order and finishes it
//! with the same idempotency key, and the Jira connector's label search
//! turns the repeat into "already done".

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use serde_json::{Value, json};
use warden_testkit::repo;

const PASSWORD: &str = "a long enough password";

/// The fake Jira site: issues with their labels; the first create is slow
/// to answer (the issue exists at once, the answer comes much later).
#[derive(Default)]
struct Jira {
    issues: Mutex<Vec<(String, Vec<String>)>>,
    creates: Mutex<u32>,
    slow_first_answer: Mutex<bool>,
}

async fn search(
    State(site): State<Arc<Jira>>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Json<Value> {
    let jql = query.get("jql").cloned().unwrap_or_default();
    let issues: Vec<Value> = site
        .issues
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, labels)| labels.iter().any(|l| jql.contains(&format!("\"{l}\""))))
        .map(|(key, _)| json!({ "id": "10001", "key": key }))
        .collect();
    Json(json!({ "issues": issues, "isLast": true }))
}

async fn create(
    State(site): State<Arc<Jira>>,
    Json(body): Json<Value>,
) -> (axum::http::StatusCode, Json<Value>) {
    let labels: Vec<String> = body["fields"]["labels"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let key = {
        let mut issues = site.issues.lock().unwrap();
        let key = format!("SEC-{}", issues.len() + 1);
        issues.push((key.clone(), labels));
        key
    };
    *site.creates.lock().unwrap() += 1;
    let slow = std::mem::take(&mut *site.slow_first_answer.lock().unwrap());
    if slow {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
    (
        axum::http::StatusCode::CREATED,
        Json(
            json!({ "id": "10001", "key": key, "self": "https://example.atlassian.net/rest/api/3/issue/10001" }),
        ),
    )
}

fn warden(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("WARDEN_TEST_JIRA_TOKEN", "jira-api-token")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("warden runs");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{text}\n").as_bytes())
            .unwrap();
    }
    child.wait_with_output().expect("warden ends")
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "warden failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn an_executor_killed_mid_action_finishes_it_exactly_once_after_restart() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let site = Arc::new(Jira::default());
    *site.slow_first_answer.lock().unwrap() = true;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new()
        .route("/rest/api/3/search/jql", get(search))
        .route("/rest/api/3/issue", post(create))
        .with_state(site.clone());
    runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    ok(&warden(data, &["init"], None));
    let config = data.join("warden.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[connectors.jira]\nbase_url = \"http://127.0.0.1:{port}\"\nemail = \"warden@example.com\"\napi_token = {{ env = \"WARDEN_TEST_JIRA_TOKEN\" }}\nproject_key = \"SEC\"\n"
    ));
    std::fs::write(&config, text).unwrap();

    let alerts = repo().join("examples/alerts");
    let context = repo().join("examples/context");
    ok(&warden(
        data,
        &[
            "triage",
            alerts.to_str().unwrap(),
            "--context",
            context.to_str().unwrap(),
            "--json",
        ],
        None,
    ));
    ok(&warden(
        data,
        &["user", "add", "lead", "--role", "soc_lead"],
        Some(PASSWORD),
    ));
    let pending = ok(&warden(data, &["approvals", "--json"], None));
    let ticket: Value = pending
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["title"].as_str().unwrap().starts_with("ticket.create"))
        .expect("a ticket request is pending");
    let hash = ticket["proposal_hash"].as_str().unwrap();
    // Approved: the order is ready. The approving process ends here; no
    // execution has happened ("a crash between approval and execution").
    let approved = ok(&warden(
        data,
        &["approve", hash, "--as", "lead"],
        Some(PASSWORD),
    ));
    assert!(approved.contains("ready"), "{approved}");
    assert_eq!(*site.creates.lock().unwrap(), 0);

    // The executor starts, Jira creates the issue, and the executor is
    // killed before the answer arrives.
    let mut executor = Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("--data-dir")
        .arg(data)
        .arg("execute")
        .env("WARDEN_TEST_JIRA_TOKEN", "jira-api-token")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while *site.creates.lock().unwrap() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "Jira was never called"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    executor.kill().unwrap();
    executor.wait().unwrap();
    assert_eq!(site.issues.lock().unwrap().len(), 1);

    // Restart: the unfinished order is found and finished, without a second
    // issue; a third run has nothing to do.
    let first = ok(&warden(data, &["execute", "--json"], None));
    let runs: Vec<Value> = first
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ticket_runs: Vec<&Value> = runs.iter().filter(|r| r["proposal_hash"] == hash).collect();
    assert_eq!(ticket_runs.len(), 1, "{first}");
    assert_eq!(ticket_runs[0]["status"], "succeeded", "{first}");
    assert!(
        ticket_runs[0]["detail"].as_str().unwrap().contains("SEC-1"),
        "{first}"
    );
    assert_eq!(site.issues.lock().unwrap().len(), 1, "exactly one issue");
    assert_eq!(*site.creates.lock().unwrap(), 1, "created once");

    let second = ok(&warden(data, &["execute"], None));
    assert!(second.contains("0 order(s) run"), "{second}");
    assert_eq!(site.issues.lock().unwrap().len(), 1);
    let shown = ok(&warden(data, &["approvals", "--all", "--json"], None));
    let status = shown
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["proposal_hash"] == hash)
        .unwrap()["status"]
        .clone();
    assert_eq!(status, "executed");
}
