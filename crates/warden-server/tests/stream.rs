#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! The shared alert stream (`[queue] url = "nats://..."`) against the NATS
//! JetStream server on this machine (127.0.0.1:4222, or
//! `WARDEN_NATS_URL`). Each test makes its own stream, subject and
//! consumer and deletes them after. Without a reachable server the tests
//! print `skipping:` and pass, unless `WARDEN_REQUIRE_NATS=1` (CI).

mod common;

use std::time::Duration;

use async_nats::jetstream;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures_util::StreamExt as _;
use tower::ServiceExt as _;
use warden_pipeline::{Config, QueueConfig};
use warden_server::queue::{AlertStream, QueueError};

use common::{Parts, example, token};

/// The NATS URL to test against, or `None` (after saying so) when no
/// server answers and none is required.
async fn nats() -> Option<String> {
    let url = std::env::var("WARDEN_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let address = url.trim_start_matches("nats://").to_owned();
    let reachable = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(&address),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    if reachable {
        return Some(url);
    }
    if std::env::var("WARDEN_REQUIRE_NATS").is_ok_and(|v| v == "1") {
        panic!("NATS is required (WARDEN_REQUIRE_NATS=1) but nothing answers at {url}");
    }
    println!("skipping: no NATS server at {url}");
    None
}

/// A stream, subject and consumer of this test's own.
fn own_queue(url: &str, ack_wait_seconds: u64) -> QueueConfig {
    let tag = uuid::Uuid::now_v7().simple().to_string();
    QueueConfig {
        url: Some(url.to_owned()),
        stream: format!("WARDEN_TEST_{tag}"),
        subject: format!("warden.test.{tag}"),
        consumer: format!("triage-{tag}"),
        ack_wait_seconds,
        ..QueueConfig::default()
    }
}

async fn jetstream_of(url: &str) -> jetstream::Context {
    jetstream::new(async_nats::connect(url).await.expect("connect"))
}

/// Messages still on the stream (work-queue retention: unacknowledged).
async fn left_on(js: &jetstream::Context, queue: &QueueConfig) -> u64 {
    let mut stream = js.get_stream(&queue.stream).await.expect("stream");
    stream.info().await.expect("info").state.messages
}

/// Wait until `check` holds, for at most `seconds`.
async fn eventually<F, Fut>(seconds: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while tokio::time::Instant::now() < until {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not within {seconds} s: {what}");
}

/// Wait until the store holds `n` alerts in cases.
async fn alerts_in_cases(store: &std::sync::Arc<dyn warden_store::Backend>, n: usize, what: &str) {
    eventually(60, what, || {
        let store = store.clone();
        async move {
            let mut alerts = 0;
            for case in store.cases(100).await.unwrap() {
                alerts += store.alerts_of_case(case.id).await.unwrap().len();
            }
            alerts == n
        }
    })
    .await;
}

/// Wait until every message has left the stream.
async fn drained(js: &jetstream::Context, queue: &QueueConfig, what: &str) {
    eventually(30, what, || {
        let js = js.clone();
        let queue = queue.clone();
        async move { left_on(&js, &queue).await == 0 }
    })
    .await;
}

async fn push(router: &axum::Router, token: &str, body: Vec<u8>) -> (StatusCode, String) {
    let response = router
        .clone()
        .oneshot(
            Request::post("/api/v1/alerts/batch")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn three_alerts() -> Vec<u8> {
    format!(
        "[{}, {}, {}]",
        String::from_utf8(example("ecs-lsass-access.json")).unwrap(),
        String::from_utf8(example("ecs-powershell-encoded.json")).unwrap(),
        String::from_utf8(example("ocsf-mfa-fatigue.json")).unwrap()
    )
    .into_bytes()
}

#[tokio::test]
async fn pushed_alerts_reach_triage_through_the_stream_and_leave_it_once_triaged() {
    let Some(url) = nats().await else { return };
    let queue = own_queue(&url, 30);
    let server = Parts::with_role_accounts(Config::default()).await.serve();
    let stream = AlertStream::connect(&url, &queue).await.expect("stream");
    server.state.use_stream(stream);
    let pusher = token(&server.state, "siem", &["alerts:write"]).await;

    // Accepted before any worker runs: the stream holds them, nothing is
    // triaged yet, and a stopped replica loses nothing.
    let (status, text) = push(&server.router, &pusher, three_alerts()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    let js = jetstream_of(&url).await;
    assert_eq!(left_on(&js, &queue).await, 3, "the stream holds the push");
    assert!(server.state.store().cases(100).await.unwrap().is_empty());

    let workers = warden_server::workers::spawn(&server.state, server.queue);
    let store = server.state.store().clone();
    alerts_in_cases(&store, 3, "every alert in a case").await;
    drained(&js, &queue, "the stream empties once triaged").await;
    workers.shutdown().await;
    js.delete_stream(&queue.stream).await.expect("delete");
}

#[tokio::test]
async fn an_alert_delivered_again_after_its_case_committed_makes_no_second_case() {
    let Some(url) = nats().await else { return };
    let queue = own_queue(&url, 30);
    let server = Parts::with_role_accounts(Config::default()).await.serve();
    let stream = AlertStream::connect(&url, &queue).await.expect("stream");
    server.state.use_stream(stream.clone());
    let pusher = token(&server.state, "siem", &["alerts:write"]).await;
    let workers = warden_server::workers::spawn(&server.state, server.queue);
    let store = server.state.store().clone();

    let (status, text) = push(
        &server.router,
        &pusher,
        format!(
            "[{}]",
            String::from_utf8(example("ecs-lsass-access.json")).unwrap()
        )
        .into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    let alert_id = body["accepted"][0]["alert_id"].as_str().unwrap().to_owned();
    eventually(60, "the alert's case", || {
        let store = store.clone();
        async move { store.cases(10).await.unwrap().len() == 1 }
    })
    .await;
    let case = store.cases(10).await.unwrap().remove(0);
    let alert = store.alerts_of_case(case.id).await.unwrap().remove(0);
    assert_eq!(alert.id.to_string(), alert_id);

    let js = jetstream_of(&url).await;
    // The sender's retry within the duplicate window: JetStream keeps one.
    let ack = stream.publish(std::slice::from_ref(&alert)).await;
    assert!(ack.is_ok(), "{ack:?}");
    // A redelivery as after a crash between commit and acknowledgement
    // (outside the duplicate window: another message id, the same alert).
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, "redelivered-copy");
    js.publish_with_headers(
        queue.subject.clone(),
        headers,
        serde_json::to_vec(&alert).unwrap().into(),
    )
    .await
    .expect("publish")
    .await
    .expect("stored");
    drained(&js, &queue, "the copy taken off the stream").await;
    // Let a wrongly triaged copy land before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cases = store.cases(10).await.unwrap();
    assert_eq!(cases.len(), 1, "a second case from a redelivery");
    assert_eq!(store.alerts_of_case(cases[0].id).await.unwrap().len(), 1);
    workers.shutdown().await;
    js.delete_stream(&queue.stream).await.expect("delete");
}

#[tokio::test]
async fn alerts_a_dead_replica_held_are_redelivered_and_triaged_once() {
    let Some(url) = nats().await else { return };
    let queue = own_queue(&url, 2);
    let server = Parts::with_role_accounts(Config::default()).await.serve();
    let stream = AlertStream::connect(&url, &queue).await.expect("stream");
    server.state.use_stream(stream);
    let pusher = token(&server.state, "siem", &["alerts:write"]).await;
    let (status, text) = push(&server.router, &pusher, three_alerts()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");

    // Another replica takes the alerts from the shared consumer and dies
    // before acknowledging any.
    let js = jetstream_of(&url).await;
    let consumer: jetstream::consumer::PullConsumer = js
        .get_consumer_from_stream(&queue.consumer, &queue.stream)
        .await
        .expect("consumer");
    let mut taken = consumer
        .fetch()
        .max_messages(10)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .expect("fetch");
    let mut held = 0;
    while let Some(message) = taken.next().await {
        message.expect("message");
        held += 1;
    }
    assert_eq!(held, 3, "the dying replica held every alert");

    // This replica's workers get them once the ack wait lapses.
    let workers = warden_server::workers::spawn(&server.state, server.queue);
    let store = server.state.store().clone();
    alerts_in_cases(&store, 3, "every held alert in a case").await;
    drained(&js, &queue, "the stream empties").await;
    workers.shutdown().await;
    js.delete_stream(&queue.stream).await.expect("delete");
}

#[tokio::test]
async fn a_message_that_is_not_an_alert_is_dead_lettered_and_taken_off() {
    let Some(url) = nats().await else { return };
    let queue = own_queue(&url, 30);
    let server = Parts::with_role_accounts(Config::default()).await.serve();
    let stream = AlertStream::connect(&url, &queue).await.expect("stream");
    server.state.use_stream(stream);
    let workers = warden_server::workers::spawn(&server.state, server.queue);
    let js = jetstream_of(&url).await;
    js.publish(queue.subject.clone(), "{\"hello\": 1}".into())
        .await
        .expect("publish")
        .await
        .expect("stored");
    let store = server.state.store().clone();
    eventually(30, "a dead letter with its reason", || {
        let store = store.clone();
        async move {
            store
                .dead_letters()
                .await
                .unwrap()
                .iter()
                .any(|d| d.reason.starts_with("not an alert") && d.payload == b"{\"hello\": 1}")
        }
    })
    .await;
    drained(&js, &queue, "the stream empties").await;
    assert!(store.cases(10).await.unwrap().is_empty());
    workers.shutdown().await;
    js.delete_stream(&queue.stream).await.expect("delete");
}

#[tokio::test]
async fn a_full_stream_refuses_the_whole_push_with_429_and_queues_none_of_it() {
    let Some(url) = nats().await else { return };
    let mut queue = own_queue(&url, 30);
    queue.max_alerts = 2;
    let server = Parts::with_role_accounts(Config::default()).await.serve();
    let stream = AlertStream::connect(&url, &queue).await.expect("stream");
    server.state.use_stream(stream);
    let pusher = token(&server.state, "siem", &["alerts:write"]).await;
    // No worker drains the stream: three alerts do not fit in two places.
    let response = server
        .router
        .clone()
        .oneshot(
            Request::post("/api/v1/alerts/batch")
                .header(header::AUTHORIZATION, format!("Bearer {pusher}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(three_alerts()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    let js = jetstream_of(&url).await;
    assert_eq!(
        left_on(&js, &queue).await,
        0,
        "nothing of a refused push queued"
    );
    js.delete_stream(&queue.stream).await.expect("delete");
}

/// Needs no server: nothing listens on port 1.
#[tokio::test]
async fn an_unreachable_stream_is_a_start_error_naming_it_without_its_password() {
    let queue = QueueConfig::default();
    let err = AlertStream::connect("nats://warden:s3cret@127.0.0.1:1", &queue)
        .await
        .expect_err("nothing listens there");
    assert!(matches!(err, QueueError::Connect { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("cannot connect to NATS at nats://warden:***@127.0.0.1:1"),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
}
