#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! Okta user actions against a local server speaking the Okta Management
//! API wire format (SSWS tokens, lifecycle operations, X-Rate-Limit-*).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::{
    Mock, Reply, Seen, assert_no_secret, entity, percent_decode, proposal, request, secret_file,
    settings,
};
use serde_json::json;
use warden_domain::{ActionName, ObservableKind, Target};
use warden_execute::connectors::{HttpSettings, OktaConfig, OktaConnector};
use warden_execute::{Connector, ConnectorErrorKind};

const TOKEN: &str = "00Okta-api-token-kX92";
const ALICE_ID: &str = "00ub0oNGTSWTBKOLGLNR";
const ALICE: &str = "alice@example.com";

fn okta_error(code: &str, summary: &str, causes: &[&str]) -> serde_json::Value {
    json!({
        "errorCode": code,
        "errorSummary": summary,
        "errorLink": code,
        "errorId": "oae-test-1",
        "errorCauses": causes.iter().map(|c| json!({ "errorSummary": c })).collect::<Vec<_>>(),
    })
}

/// The fake org: users as (id, login, status).
struct Org {
    users: Mutex<Vec<(String, String, String)>>,
    /// A status the user takes right after the next user read.
    after_read: Mutex<Option<String>>,
}

impl Org {
    fn new(users: &[(&str, &str, &str)]) -> Arc<Self> {
        Arc::new(Self {
            users: Mutex::new(
                users
                    .iter()
                    .map(|(i, l, s)| (i.to_string(), l.to_string(), s.to_string()))
                    .collect(),
            ),
            after_read: Mutex::new(None),
        })
    }

    fn status(&self, id: &str) -> String {
        let users = self.users.lock().unwrap();
        users.iter().find(|u| u.0 == id).unwrap().2.clone()
    }

    fn set_status(&self, id: &str, status: &str) {
        for user in self.users.lock().unwrap().iter_mut() {
            if user.0 == id {
                user.2 = status.into();
            }
        }
    }

    fn respond(&self, seen: &Seen) -> Reply {
        if seen.header("authorization") != Some(&format!("SSWS {TOKEN}")) {
            return Reply::json(401, okta_error("E0000011", "Invalid token provided", &[]));
        }
        assert_eq!(seen.header("accept"), Some("application/json"));
        let segments: Vec<String> = seen
            .path
            .trim_start_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let ["api", "v1", "users", who, rest @ ..] = segments.as_slice() else {
            return Reply::json(
                404,
                okta_error(
                    "E0000022",
                    "The endpoint does not support the provided HTTP method",
                    &[],
                ),
            );
        };
        let found = self
            .users
            .lock()
            .unwrap()
            .iter()
            .find(|u| u.0 == *who || u.1 == *who)
            .cloned();
        let Some((id, login, status)) = found else {
            return Reply::json(
                404,
                okta_error(
                    "E0000007",
                    &format!("Not found: Resource not found: {who} (User)"),
                    &[],
                ),
            );
        };
        match (seen.method.as_str(), rest) {
            ("GET", []) => {
                if let Some(next) = self.after_read.lock().unwrap().take() {
                    self.set_status(&id, &next);
                }
                Reply::json(
                    200,
                    json!({ "id": id, "status": status, "profile": { "login": login, "email": login } }),
                )
            }
            ("POST", ["lifecycle", op]) => {
                assert!(seen.body.is_empty(), "lifecycle operations take no body");
                let (from, to, refusal) = match *op {
                    "suspend" => (
                        "ACTIVE",
                        "SUSPENDED",
                        "Cannot suspend a user that is not active",
                    ),
                    "unsuspend" => (
                        "SUSPENDED",
                        "ACTIVE",
                        "Cannot unsuspend a user that is not suspended",
                    ),
                    other => panic!("unexpected lifecycle {other}"),
                };
                if status != from {
                    return Reply::json(
                        400,
                        okta_error("E0000001", "Api validation failed: lifecycle", &[refusal]),
                    );
                }
                self.set_status(&id, to);
                Reply::json(200, json!({}))
            }
            ("DELETE", ["sessions"]) => {
                assert_eq!(seen.query_param("oauthTokens").as_deref(), Some("true"));
                Reply::empty(204)
            }
            _ => Reply::json(405, okta_error("E0000022", "Unsupported", &[])),
        }
    }
}

struct Setup {
    mock: Mock,
    org: Arc<Org>,
    connector: OktaConnector,
    _dir: tempfile::TempDir,
}

async fn setup_with(users: &[(&str, &str, &str)], token: &str, settings: HttpSettings) -> Setup {
    let org = Org::new(users);
    let fake = org.clone();
    let mock = Mock::start(move |seen| fake.respond(seen)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = OktaConfig {
        base_url: mock.base.clone(),
        api_token: secret_file(&dir, "okta", token),
    };
    let connector = OktaConnector::new(&config, settings).unwrap();
    Setup {
        mock,
        org,
        connector,
        _dir: dir,
    }
}

async fn setup(status: &str) -> Setup {
    setup_with(&[(ALICE_ID, ALICE, status)], TOKEN, settings()).await
}

fn user(login: &str) -> Target {
    entity(ObservableKind::User, login)
}

fn user_path() -> String {
    format!("/api/v1/users/{ALICE}")
}

fn suspend_path() -> String {
    format!("/api/v1/users/{ALICE_ID}/lifecycle/suspend")
}

#[tokio::test]
async fn suspends_by_login_and_unsuspends() {
    let s = setup("ACTIVE").await;
    let p = proposal(ActionName::IdpDisableUser, user(ALICE));
    let outcome = s.connector.perform(&request(&p)).await.unwrap();
    assert_eq!(outcome.handle.as_deref(), Some(ALICE_ID));
    assert_eq!(s.org.status(ALICE_ID), "SUSPENDED");
    let seen = s.mock.seen();
    assert!(seen[0].is("GET", &user_path()));
    assert!(seen[1].is("POST", &suspend_path()));
    assert_eq!(seen[1].header("content-length"), Some("0"));

    let p = proposal(
        ActionName::IdpEnableUser,
        entity(ObservableKind::Email, ALICE),
    );
    let outcome = s.connector.perform(&request(&p)).await.unwrap();
    assert_eq!(outcome.handle.as_deref(), Some(ALICE_ID));
    assert_eq!(s.org.status(ALICE_ID), "ACTIVE");
    assert_eq!(
        s.mock.count(
            "POST",
            &format!("/api/v1/users/{ALICE_ID}/lifecycle/unsuspend")
        ),
        1
    );
}

#[tokio::test]
async fn an_already_suspended_or_active_user_is_success_without_a_call() {
    let s = setup("SUSPENDED").await;
    let p = proposal(ActionName::IdpDisableUser, user(ALICE));
    let outcome = s.connector.perform(&request(&p)).await.unwrap();
    assert!(
        outcome.detail.contains("already SUSPENDED"),
        "{}",
        outcome.detail
    );
    assert_eq!(s.mock.count("POST", &suspend_path()), 0);

    let s = setup("ACTIVE").await;
    let p = proposal(ActionName::IdpEnableUser, user(ALICE));
    let outcome = s.connector.perform(&request(&p)).await.unwrap();
    assert!(
        outcome.detail.contains("already ACTIVE"),
        "{}",
        outcome.detail
    );
    assert_eq!(s.mock.seen().len(), 1);
}

#[tokio::test]
async fn a_suspend_refused_because_it_happened_meanwhile_is_success() {
    let s = setup("ACTIVE").await;
    // An admin suspends Alice between our read and our call.
    *s.org.after_read.lock().unwrap() = Some("SUSPENDED".into());
    let p = proposal(ActionName::IdpDisableUser, user(ALICE));
    let outcome = s.connector.perform(&request(&p)).await.unwrap();
    assert!(
        outcome.detail.contains("already SUSPENDED"),
        "{}",
        outcome.detail
    );
    assert_eq!(s.mock.count("POST", &suspend_path()), 1);
    assert_eq!(
        s.mock.count("GET", &format!("/api/v1/users/{ALICE_ID}")),
        1,
        "read again by id"
    );
}

#[tokio::test]
async fn an_okta_error_body_is_rejected_with_its_summary_and_causes() {
    let s = setup("DEPROVISIONED").await;
    let p = proposal(ActionName::IdpEnableUser, user(ALICE));
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Rejected);
    assert!(
        err.message.contains("E0000001: Api validation failed: lifecycle (Cannot unsuspend a user that is not suspended)"),
        "{err}"
    );
    assert_no_secret(&err, &[TOKEN]);
}

#[tokio::test]
async fn a_deactivated_user_counts_as_disabled() {
    let s = setup("DEPROVISIONED").await;
    let p = proposal(ActionName::IdpDisableUser, user(ALICE));
    let outcome = s.connector.perform(&request(&p)).await.unwrap();
    assert!(
        outcome.detail.contains("already DEPROVISIONED"),
        "{}",
        outcome.detail
    );
    assert_eq!(s.mock.count("POST", &suspend_path()), 0);
}

#[tokio::test]
async fn revokes_sessions_and_oauth_tokens() {
    let s = setup("ACTIVE").await;
    let p = proposal(ActionName::IdpRevokeSessions, user(ALICE));
    let outcome = s.connector.perform(&request(&p)).await.unwrap();
    assert_eq!(outcome.handle.as_deref(), Some(ALICE_ID));
    let last = s.mock.seen().pop().unwrap();
    assert!(last.is("DELETE", &format!("/api/v1/users/{ALICE_ID}/sessions")));
    assert_eq!(last.query.as_deref(), Some("oauthTokens=true"));
}

#[tokio::test]
async fn an_unknown_user_is_rejected() {
    let s = setup("ACTIVE").await;
    let p = proposal(ActionName::IdpDisableUser, user("mallory@example.com"));
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Rejected);
    assert!(err.message.contains("no such user in Okta"), "{err}");
    assert!(err.message.contains("E0000007"), "{err}");
}

#[tokio::test]
async fn an_invalid_token_is_auth_at_once_and_never_shown() {
    let s = setup_with(
        &[(ALICE_ID, ALICE, "ACTIVE")],
        "00wrong-token-abc123",
        settings(),
    )
    .await;
    let p = proposal(ActionName::IdpDisableUser, user(ALICE));
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Auth);
    assert!(
        err.message.contains("E0000011: Invalid token provided"),
        "{err}"
    );
    assert_eq!(s.mock.seen().len(), 1, "an API token is not refreshed");
    assert_no_secret(&err, &["00wrong-token-abc123", TOKEN]);
    assert!(!format!("{:?}", s.connector).contains("00wrong-token"));

    // Even when Okta echoes it.
    let s = setup("ACTIVE").await;
    s.mock.fail(
        "GET",
        &user_path(),
        1,
        Reply::json(
            403,
            okta_error(
                "E0000006",
                &format!("You do not have permission (token {TOKEN})"),
                &[],
            ),
        ),
    );
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Auth);
    assert_no_secret(&err, &[TOKEN]);
}

fn rate_limited(reset_in: i64) -> Reply {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    Reply::json(
        429,
        okta_error(
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
            &[],
        ),
    )
    .header("x-rate-limit-limit", "600")
    .header("x-rate-limit-remaining", "0")
    .header("x-rate-limit-reset", &(now + reset_in).to_string())
}

#[tokio::test]
async fn a_429_waits_until_x_rate_limit_reset_then_succeeds() {
    let roomy = HttpSettings {
        max_retry_wait: Duration::from_secs(3),
        ..settings()
    };
    let s = setup_with(&[(ALICE_ID, ALICE, "ACTIVE")], TOKEN, roomy).await;
    // The reset is whole epoch seconds: two ahead means a wait of 1 to 2 s.
    s.mock.fail("POST", &suspend_path(), 1, rate_limited(2));
    let p = proposal(ActionName::IdpDisableUser, user(ALICE));
    let started = Instant::now();
    s.connector.perform(&request(&p)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(s.org.status(ALICE_ID), "SUSPENDED");
    assert_eq!(s.mock.count("POST", &suspend_path()), 2);
}

#[tokio::test]
async fn a_429_until_the_retries_run_out_is_rate_limited() {
    let s = setup("ACTIVE").await;
    s.mock.fail("GET", &user_path(), 100, rate_limited(-5));
    let p = proposal(ActionName::IdpDisableUser, user(ALICE));
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::RateLimited);
    assert_eq!(s.mock.count("GET", &user_path()), 3);

    // A reset further away than the allowed wait: no waiting at all.
    let s = setup("ACTIVE").await;
    s.mock.fail("GET", &user_path(), 100, rate_limited(60));
    let started = Instant::now();
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::RateLimited);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(s.mock.count("GET", &user_path()), 1);
}

#[tokio::test]
async fn server_errors_are_retried_then_unavailable() {
    let s = setup("ACTIVE").await;
    s.mock.fail(
        "POST",
        &suspend_path(),
        100,
        Reply::json(500, okta_error("E0000009", "Internal Server Error", &[])),
    );
    let p = proposal(ActionName::IdpDisableUser, user(ALICE));
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Unavailable);
    assert!(
        err.message.contains("E0000009: Internal Server Error"),
        "{err}"
    );
    assert_eq!(s.mock.count("POST", &suspend_path()), 3);
    assert_eq!(s.org.status(ALICE_ID), "ACTIVE");
    assert_no_secret(&err, &[TOKEN]);
}

#[tokio::test]
async fn a_slow_okta_is_a_timeout() {
    let s = setup("ACTIVE").await;
    s.mock.fail(
        "GET",
        &user_path(),
        10,
        Reply::json(200, json!({ "id": ALICE_ID, "status": "ACTIVE" }))
            .after(Duration::from_secs(3)),
    );
    let p = proposal(ActionName::IdpDisableUser, user(ALICE));
    let started = Instant::now();
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Timeout);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(s.org.status(ALICE_ID), "ACTIVE");
}

#[tokio::test]
async fn only_identity_actions_on_users() {
    let s = setup("ACTIVE").await;
    let p = proposal(
        ActionName::IdpDisableUser,
        entity(ObservableKind::Ip, "10.0.0.1"),
    );
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Rejected);
    assert!(s.mock.seen().is_empty());
    assert!(s.connector.handles(ActionName::IdpDisableUser));
    assert!(!s.connector.handles(ActionName::IdpResetMfa));
    assert_eq!(s.connector.name(), "okta.users");
}
