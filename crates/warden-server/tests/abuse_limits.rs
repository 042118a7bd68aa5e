#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! The push limits (issue 18, "the server under abuse"), route by route:
//! every route of the table that takes alerts refuses a batch over
//! `[server] ingest_max_batch_alerts` with 413 and a sender over its token
//! bucket (`ingest_burst_alerts`, refilled at `ingest_alerts_per_minute`)
//! with 429 and a `Retry-After` that holds; the bucket belongs to the
//! principal (an API token, or a person whatever their session), so other
//! senders are unaffected; a refused push takes nothing from the bucket
//! and leaves nothing on the record.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;
use warden_pipeline::Config;
use warden_server::auth::Permission;
use warden_server::guard::Access;

use common::{PASSWORD, Server, example};

/// Who pushes: a bearer token, or a person's session cookie and CSRF
/// token.
#[derive(Clone)]
enum Sender {
    Token(String),
    Person { cookie: String, csrf: String },
}

/// An answer: status, `Retry-After`, and the body as JSON.
struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    json: Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or_default()
    }

    /// `Retry-After` in whole seconds; it must be there.
    fn seconds(&self) -> u64 {
        self.retry_after
            .as_deref()
            .unwrap_or_else(|| panic!("a {} without Retry-After: {}", self.status, self.json))
            .parse()
            .unwrap()
    }
}

async fn push(server: &Server, sender: &Sender, uri: &str, body: Body) -> Answer {
    let content_type = if uri.ends_with("ndjson") {
        "application/x-ndjson"
    } else {
        "application/json"
    };
    let uri = uri.trim_end_matches("#ndjson");
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::HOST, "localhost")
        .header(header::CONTENT_TYPE, content_type);
    request = match sender {
        Sender::Token(secret) => request.header(header::AUTHORIZATION, format!("Bearer {secret}")),
        Sender::Person { cookie, csrf } => request
            .header(header::COOKIE, cookie)
            .header("x-csrf-token", csrf),
    };
    let response = server
        .router
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        retry_after,
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// `n` example alerts as a JSON array, or as JSON lines when `ndjson`.
fn alerts(n: usize, ndjson: bool) -> Body {
    let one: Value = serde_json::from_slice(&example("ecs-lsass-access.json")).unwrap();
    let items: Vec<String> = (0..n).map(|_| one.to_string()).collect();
    Body::from(if ndjson {
        items.join("\n")
    } else {
        format!("[{}]", items.join(","))
    })
}

async fn token(server: &Server, name: &str) -> Sender {
    Sender::Token(common::token(&server.state, name, &["alerts:write"]).await)
}

/// A new account holding `role`, signed in through the form.
async fn person(server: &Server, name: &str, role: &str) -> Sender {
    server
        .state
        .pipeline()
        .control()
        .add_person(name, &[role.to_owned()], PASSWORD, "test")
        .await
        .unwrap();
    sign_in(server, name).await
}

/// A new session of the account `name`.
async fn sign_in(server: &Server, name: &str) -> Sender {
    let secure = server.state.config().secure_cookies;
    let (_, response) = common::sign_in(&server.router, secure, name, PASSWORD, None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{name} signs in");
    let cookie = common::session_cookie(&response, secure);
    let me = server
        .router
        .clone()
        .oneshot(
            Request::get("/api/v1/me")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let bytes = me.into_body().collect().await.unwrap().to_bytes();
    let me: Value = serde_json::from_slice(&bytes).unwrap();
    Sender::Person {
        cookie,
        csrf: me["csrf_token"].as_str().unwrap().to_owned(),
    }
}

/// How many entries the audit log holds.
async fn recorded(server: &Server) -> u64 {
    server.state.store().audit_size().await.unwrap()
}

/// The routes of the table that take alerts.
fn push_routes() -> Vec<&'static str> {
    let routes: Vec<&'static str> = warden_server::routes::table()
        .into_iter()
        .filter(|r| r.access == Access::Needs(Permission::Ingest))
        .map(|r| {
            assert_eq!(r.method, Method::POST, "{}", r.path);
            r.path
        })
        .collect();
    assert!(
        routes.contains(&"/api/v1/alerts") && routes.contains(&"/api/v1/alerts/batch"),
        "{routes:?}"
    );
    routes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_push_route_answers_413_over_the_batch_cap_and_429_with_retry_after_over_the_rate() {
    let mut config = Config::default();
    config.server.ingest_max_batch_alerts = 2;
    config.server.ingest_burst_alerts = 2;
    config.server.ingest_alerts_per_minute = 1;
    let server = common::Parts::with_role_accounts(config).await.serve();

    // Each route as sent each way it takes, by a token and by a person,
    // each sender new (with a full bucket).
    let mut uris: Vec<String> = push_routes().into_iter().map(str::to_owned).collect();
    uris.push("/api/v1/alerts/batch#ndjson".to_owned());
    let mut checked = 0;
    for (n, uri) in uris.iter().enumerate() {
        let ndjson = uri.ends_with("ndjson");
        for kind in ["token", "person"] {
            let sender = match kind {
                "token" => token(&server, &format!("flood-{n}")).await,
                _ => person(&server, &format!("flooder-{n}"), "analyst").await,
            };
            let who = format!("{kind} on {uri}");

            // More alerts than a batch may hold: refused whole, recorded
            // nowhere, and nothing taken from the sender's bucket.
            let before = recorded(&server).await;
            let over = push(&server, &sender, uri, alerts(3, ndjson)).await;
            assert_eq!(
                over.status,
                StatusCode::PAYLOAD_TOO_LARGE,
                "{who}: {}",
                over.json
            );
            assert_eq!(over.code(), "too_many_alerts", "{who}: {}", over.json);
            assert_eq!(recorded(&server).await, before, "{who}: nothing recorded");

            // The whole burst still passes.
            let burst = push(&server, &sender, uri, alerts(2, ndjson)).await;
            assert_eq!(burst.status, StatusCode::ACCEPTED, "{who}: {}", burst.json);
            let before = recorded(&server).await;

            // The bucket is empty: one more alert is over the rate, with a
            // Retry-After that a refill of 1 a minute can meet.
            let late = push(&server, &sender, uri, alerts(1, ndjson)).await;
            assert_eq!(
                late.status,
                StatusCode::TOO_MANY_REQUESTS,
                "{who}: {}",
                late.json
            );
            assert_eq!(late.code(), "rate_limited", "{who}: {}", late.json);
            let seconds = late.seconds();
            assert!((59..=60).contains(&seconds), "{who}: Retry-After {seconds}");
            assert_eq!(recorded(&server).await, before, "{who}: nothing recorded");
            // Asked again at once, the answer is the same.
            let again = push(&server, &sender, uri, alerts(1, ndjson)).await;
            assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS, "{who}");
            assert!(again.retry_after.is_some(), "{who}");

            // Senders of the other kind and of the same kind are unaffected.
            for other in [
                token(&server, &format!("quiet-{n}-{kind}")).await,
                person(&server, &format!("quiet-{n}-{kind}"), "soc_lead").await,
            ] {
                let answer = push(&server, &other, uri, alerts(1, ndjson)).await;
                assert_eq!(
                    answer.status,
                    StatusCode::ACCEPTED,
                    "{who}: {}",
                    answer.json
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * uris.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_bucket_is_theirs_across_sessions_and_apart_from_everyone_elses() {
    let mut config = Config::default();
    config.server.ingest_max_batch_alerts = 2;
    config.server.ingest_burst_alerts = 2;
    config.server.ingest_alerts_per_minute = 1;
    let server = common::Parts::with_role_accounts(config).await.serve();
    let first = sign_in(&server, "analyst").await;
    let second = sign_in(&server, "analyst").await;
    let answer = push(&server, &first, "/api/v1/alerts/batch", alerts(2, false)).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.json);
    // A new session is the same person, with the same empty bucket.
    let answer = push(&server, &second, "/api/v1/alerts", alerts(1, false)).await;
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        answer.json
    );
    assert_eq!(answer.code(), "rate_limited");
    assert!((59..=60).contains(&answer.seconds()));
    // A token named like the person is another principal; so is another
    // person.
    let namesake = token(&server, "analyst").await;
    let answer = push(&server, &namesake, "/api/v1/alerts", alerts(1, false)).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.json);
    let lead = sign_in(&server, "soc_lead").await;
    let answer = push(&server, &lead, "/api/v1/alerts", alerts(2, false)).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.json);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_sent_again_after_its_retry_after_passes() {
    let mut config = Config::default();
    config.server.ingest_max_batch_alerts = 1;
    config.server.ingest_burst_alerts = 1;
    config.server.ingest_alerts_per_minute = 60;
    let server = common::Parts::with_role_accounts(config).await.serve();
    let sender = token(&server, "steady").await;
    let answer = push(&server, &sender, "/api/v1/alerts", alerts(1, false)).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.json);
    let refused = push(&server, &sender, "/api/v1/alerts", alerts(1, false)).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.json
    );
    let seconds = refused.seconds();
    assert_eq!(seconds, 1, "one alert a second refills in a second");
    tokio::time::sleep(Duration::from_secs(seconds) + Duration::from_millis(50)).await;
    let answer = push(&server, &sender, "/api/v1/alerts", alerts(1, false)).await;
    assert_eq!(
        answer.status,
        StatusCode::ACCEPTED,
        "after Retry-After: {}",
        answer.json
    );
}
