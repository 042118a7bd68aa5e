#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! The server under abuse (issue 18): a sender over its rate or a full
//! triage queue is told to come back later (429 with `Retry-After`), not
//! queued without bound; a case whose triage fails is escalated, never
//! dropped with the rest of its batch; sign-in sends people back only to a
//! local path; the API reads the vendor envelopes the CLI reads.

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;
use warden_domain::CaseState;
use warden_pipeline::Config;
use warden_store::{AuditQuery, SqliteStore};

use common::{PASSWORD, example, repo};

/// Push `body` to `uri` with the bearer `token`: status, `Retry-After`,
/// and the body as JSON.
async fn push(
    router: &Router,
    token: &str,
    uri: &str,
    body: Vec<u8>,
) -> (StatusCode, Option<String>, Value) {
    let response = router
        .clone()
        .oneshot(
            Request::post(uri)
                .header(header::HOST, "localhost")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let retry = response
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, retry, json)
}

fn batch_of(names: &[&str]) -> Vec<u8> {
    let items: Vec<String> = names
        .iter()
        .map(|n| String::from_utf8(example(n)).unwrap())
        .collect();
    format!("[{}]", items.join(",")).into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_over_its_rate_or_a_full_queue_gets_429_with_retry_after() {
    let mut config = Config::default();
    config.server.ingest_max_batch_alerts = 3;
    config.server.ingest_burst_alerts = 3;
    config.server.ingest_alerts_per_minute = 1;
    let server = common::Parts::with_role_accounts(config).await.serve();
    let flood = common::token(&server.state, "flood", &["alerts:write"]).await;
    let quiet = common::token(&server.state, "quiet", &["alerts:write"]).await;

    // More alerts in one push than a batch may hold: refused whole.
    let four = batch_of(&[
        "ecs-lsass-access.json",
        "ecs-lsass-access.json",
        "ecs-lsass-access.json",
        "ecs-lsass-access.json",
    ]);
    let (status, _, body) = push(&server.router, &flood, "/api/v1/alerts/batch", four).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "too_many_alerts", "{body}");

    // The burst passes, the next alert is over the rate.
    let three = batch_of(&[
        "ecs-lsass-access.json",
        "ecs-powershell-encoded.json",
        "ocsf-mfa-fatigue.json",
    ]);
    let (status, _, body) = push(
        &server.router,
        &flood,
        "/api/v1/alerts/batch",
        three.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, retry, body) = push(
        &server.router,
        &flood,
        "/api/v1/alerts",
        example("ecs-lsass-access.json"),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    let seconds: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&seconds), "{seconds}");
    // Another sender has its own bucket.
    let (status, _, body) = push(
        &server.router,
        &quiet,
        "/api/v1/alerts",
        example("ecs-lsass-access.json"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    drop(server);

    // The OpenAPI document declares both refusals of both push routes.
    let doc = warden_server::api::openapi::build();
    for path in ["/api/v1/alerts", "/api/v1/alerts/batch"] {
        let responses = &doc["paths"][path]["post"]["responses"];
        assert!(responses["413"].is_object(), "{path}: 413");
        assert!(
            responses["429"]["headers"]["Retry-After"].is_object(),
            "{path}: 429 with Retry-After"
        );
        // 503 only for a shared stream that did not take the alerts (a
        // full queue is 429, never 503).
        let unavailable = responses["503"]["description"].as_str().unwrap_or("");
        assert!(
            unavailable.contains("alert stream"),
            "{path}: 503 is {unavailable:?}"
        );
        assert!(
            responses["503"]["headers"]["Retry-After"].is_object(),
            "{path}: 503 with Retry-After"
        );
    }

    // The queue's byte bound, for everyone (no worker drains it here).
    let mut config = Config::default();
    config.server.triage_queue_max_bytes = 4096;
    let server = common::Parts::with_role_accounts(config).await.serve();
    let first = common::token(&server.state, "first", &["alerts:write"]).await;
    let second = common::token(&server.state, "second", &["alerts:write"]).await;
    let (status, _, body) = push(&server.router, &first, "/api/v1/alerts/batch", three).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "one push fits an empty queue: {body}"
    );
    let (status, retry, body) = push(
        &server.router,
        &second,
        "/api/v1/alerts",
        example("ecs-lsass-access.json"),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "queue_full", "{body}");
    assert!(retry.is_some(), "Retry-After");
    // Nothing of the refused push is on the record.
    let ingested = server
        .state
        .store()
        .audit_search(&AuditQuery {
            kinds: vec!["ingest_rejected".into()],
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert!(ingested.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_whose_triage_fails_is_escalated_and_the_rest_of_its_batch_is_triaged() {
    let server = common::Parts::with_role_accounts(Config::default())
        .await
        .serve();
    let pusher = common::token(&server.state, "pusher", &["alerts:write"]).await;
    let (status, _, body) = push(
        &server.router,
        &pusher,
        "/api/v1/alerts/batch",
        batch_of(&["ecs-lsass-access.json", "ocsf-mfa-fatigue.json"]),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let failing = body["accepted"][0]["rule"].as_str().unwrap().to_owned();
    // The store refuses to move the first case on: its triage fails.
    let trigger = format!(
        "CREATE TRIGGER injected_failure BEFORE UPDATE ON cases \
         WHEN NEW.state = 'enriched' AND NEW.title = '{}' \
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
        failing.replace('\'', "''")
    );
    // The server holds its store behind the traits: reach the same SQLite
    // file through a second handle.
    let file = SqliteStore::open(&server.dir.path().join("warden.db"))
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(trigger))
        .execute(file.pool())
        .await
        .unwrap();
    let workers = warden_server::workers::spawn(&server.state, server.queue);
    workers.shutdown().await;

    let cases = server.state.store().cases(100).await.unwrap();
    assert_eq!(cases.len(), 2, "both cases exist: {cases:?}");
    let failed = cases.iter().find(|c| c.title == failing).unwrap();
    assert_eq!(failed.state, CaseState::Escalated, "{failed:?}");
    let other = cases.iter().find(|c| c.title != failing).unwrap();
    assert_ne!(other.state, CaseState::New, "triaged: {other:?}");
    let escalated = server
        .state
        .store()
        .audit_search(&AuditQuery {
            case: Some(failed.id),
            kinds: vec!["escalated".into()],
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert!(
        escalated
            .iter()
            .any(|e| e.entry.contains("triage_failed") && e.entry.contains("injected failure")),
        "{escalated:?}"
    );
    let completed = server
        .state
        .store()
        .audit_search(&AuditQuery {
            case: Some(other.id),
            kinds: vec!["triage_completed".into()],
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(completed.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_sends_people_back_only_to_a_local_path() {
    let server = common::Parts::with_role_accounts(Config::default())
        .await
        .serve();
    for (next, expected) in [
        ("/cases?state=new", "/cases?state=new"),
        ("/approvals/abc", "/approvals/abc"),
        ("/\t/evil.example", "/"),
        ("/\r\n/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/cases\\..\\evil", "/"),
        ("https://evil.example/", "/"),
        ("evil.example", "/"),
        ("/ok\u{7f}", "/"),
        ("/\u{0}/evil.example", "/"),
        ("", "/"),
    ] {
        let (_, response) =
            common::sign_in(&server.router, false, "analyst", PASSWORD, Some(next)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next:?}");
        let location = response.headers()[header::LOCATION].to_str().unwrap();
        assert_eq!(location, expected, "next={next:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_accepts_a_guardduty_findings_file_as_the_cli_does() {
    let server = common::Parts::with_role_accounts(Config::default())
        .await
        .serve();
    let pusher = common::token(&server.state, "pusher", &["alerts:write"]).await;
    let file =
        std::fs::read(repo().join("crates/warden-ingest/testdata/guardduty/cli-get-findings.json"))
            .unwrap();
    // What `warden triage` reads from this file.
    let read = warden_ingest::read_paths(
        &[repo().join("crates/warden-ingest/testdata/guardduty/cli-get-findings.json")],
        &warden_ingest::ReadOptions::default(),
    );
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert_eq!(read.alerts.len(), 2);
    for uri in ["/api/v1/alerts", "/api/v1/alerts/batch"] {
        let (status, _, body) = push(&server.router, &pusher, uri, file.clone()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{uri}: {body}");
        let accepted = body["accepted"].as_array().unwrap();
        assert_eq!(accepted.len(), 2, "{uri}: {body}");
        assert!(body["rejected"].as_array().unwrap().is_empty(), "{body}");
        for (answer, alert) in accepted.iter().zip(&read.alerts) {
            assert_eq!(answer["format"], alert.format.to_string());
            assert_eq!(answer["rule"], alert.rule.name);
        }
    }
}
