#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! Microsoft Graph user actions against a local server speaking the Entra
//! ID token endpoint and Graph v1.0 wire formats.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    Mock, Reply, Seen, assert_no_secret, entity, percent_decode, proposal, request, secret_file,
    settings,
};
use serde_json::json;
use warden_domain::{ActionName, ObservableKind, Target};
use warden_execute::connectors::{MsGraphConfig, MsGraphConnector};
use warden_execute::{Connector, ConnectorErrorKind};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
const SECRET: &str = "graph~Secret.Value_8Kq";
const SCOPE: &str = "https://graph.microsoft.com/.default";

fn token_path() -> String {
    format!("/{TENANT}/oauth2/v2.0/token")
}

fn graph_error(code: &str, message: &str) -> serde_json::Value {
    json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": { "date": "2026-01-01T00:00:00", "request-id": "r-1", "client-request-id": "c-1" },
        }
    })
}

/// The fake tenant: users (UPN -> accountEnabled) and the accepted token.
struct Entra {
    users: Mutex<BTreeMap<String, bool>>,
    valid_token: Mutex<Option<String>>,
    issued: Mutex<u32>,
}

impl Entra {
    fn new(users: &[&str]) -> Arc<Self> {
        Arc::new(Self {
            users: Mutex::new(users.iter().map(|u| (u.to_string(), true)).collect()),
            valid_token: Mutex::new(None),
            issued: Mutex::new(0),
        })
    }

    fn enabled(&self, user: &str) -> Option<bool> {
        self.users.lock().unwrap().get(user).copied()
    }

    fn respond(&self, seen: &Seen) -> Reply {
        if seen.is("POST", &token_path()) {
            let form = seen.form();
            assert_eq!(
                form.get("grant_type").map(String::as_str),
                Some("client_credentials")
            );
            assert_eq!(form.get("scope").map(String::as_str), Some(SCOPE));
            if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
                || form.get("client_secret").map(String::as_str) != Some(SECRET)
            {
                return Reply::json(
                    401,
                    json!({
                        "error": "invalid_client",
                        "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.",
                        "error_codes": [7000215],
                        "trace_id": "t-1",
                        "correlation_id": "c-1",
                    }),
                );
            }
            let mut issued = self.issued.lock().unwrap();
            *issued += 1;
            let token = format!("graph-token-{issued}");
            *self.valid_token.lock().unwrap() = Some(token.clone());
            return Reply::json(
                200,
                json!({ "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token }),
            );
        }
        let expected = self
            .valid_token
            .lock()
            .unwrap()
            .as_ref()
            .map(|t| format!("Bearer {t}"));
        if expected.is_none() || seen.header("authorization") != expected.as_deref() {
            return Reply::json(
                401,
                graph_error(
                    "InvalidAuthenticationToken",
                    "Access token has expired or is not yet valid.",
                ),
            );
        }
        let segments: Vec<&str> = seen.path.trim_start_matches('/').split('/').collect();
        let (user, rest) = match segments.as_slice() {
            ["v1.0", "users", user, rest @ ..] => (percent_decode(user), rest.to_vec()),
            ["v1.0", paren, rest @ ..] if paren.starts_with("users('") => (
                percent_decode(&paren["users('".len()..paren.len() - 2]),
                rest.to_vec(),
            ),
            _ => {
                return Reply::json(
                    400,
                    graph_error("BadRequest", "Resource not found for the segment."),
                );
            }
        };
        let Some(_) = self.enabled(&user) else {
            return Reply::json(
                404,
                graph_error(
                    "Request_ResourceNotFound",
                    &format!(
                        "Resource '{user}' does not exist or one of its queried reference-property objects are not present."
                    ),
                ),
            );
        };
        match (seen.method.as_str(), rest.as_slice()) {
            ("POST", ["revokeSignInSessions"]) => {
                assert_eq!(seen.header("content-length"), Some("0"));
                Reply::json(
                    200,
                    json!({ "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean", "value": true }),
                )
            }
            ("PATCH", []) => {
                assert_eq!(seen.header("content-type"), Some("application/json"));
                let body = seen.json();
                let enabled = body["accountEnabled"].as_bool().expect("accountEnabled");
                assert_eq!(
                    body.as_object().unwrap().len(),
                    1,
                    "only accountEnabled changes"
                );
                self.users.lock().unwrap().insert(user, enabled);
                Reply::empty(204)
            }
            _ => Reply::json(405, graph_error("Request_BadRequest", "Unsupported")),
        }
    }
}

struct Setup {
    mock: Mock,
    entra: Arc<Entra>,
    connector: MsGraphConnector,
    _dir: tempfile::TempDir,
}

async fn setup_with(users: &[&str], secret: &str) -> Setup {
    let entra = Entra::new(users);
    let fake = entra.clone();
    let mock = Mock::start(move |seen| fake.respond(seen)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = MsGraphConfig {
        tenant_id: TENANT.into(),
        client_id: CLIENT_ID.into(),
        client_secret: secret_file(&dir, "graph", secret),
        login_base: mock.base.clone(),
        graph_base: mock.base.clone(),
        scope: SCOPE.into(),
    };
    let connector = MsGraphConnector::new(&config, settings()).unwrap();
    Setup {
        mock,
        entra,
        connector,
        _dir: dir,
    }
}

async fn setup(users: &[&str]) -> Setup {
    setup_with(users, SECRET).await
}

fn user(upn: &str) -> Target {
    entity(ObservableKind::User, upn)
}

const ALICE: &str = "alice@contoso.com";

fn secrets() -> [&'static str; 3] {
    [SECRET, "graph-token-1", "graph-token-2"]
}

#[tokio::test]
async fn revokes_sessions_with_a_client_credentials_token() {
    let s = setup(&[ALICE]).await;
    let p = proposal(ActionName::IdpRevokeSessions, user(ALICE));
    let outcome = s.connector.perform(&request(&p)).await.unwrap();
    assert_eq!(outcome.handle.as_deref(), Some(ALICE));

    let seen = s.mock.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].is("POST", &token_path()));
    assert_eq!(
        seen[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        seen[0].form().get("client_id").map(String::as_str),
        Some(CLIENT_ID)
    );
    assert!(seen[1].is("POST", "/v1.0/users/alice@contoso.com/revokeSignInSessions"));
    assert_eq!(
        seen[1].header("authorization"),
        Some("Bearer graph-token-1")
    );
}

#[tokio::test]
async fn disables_and_enables_with_a_patch_and_repeats_harmlessly() {
    let s = setup(&[ALICE]).await;
    let disable = proposal(ActionName::IdpDisableUser, user(ALICE));
    let outcome = s.connector.perform(&request(&disable)).await.unwrap();
    assert!(
        outcome.detail.contains("accountEnabled=false"),
        "{}",
        outcome.detail
    );
    assert_eq!(s.entra.enabled(ALICE), Some(false));
    let patch = s.mock.seen().pop().unwrap();
    assert!(patch.is("PATCH", "/v1.0/users/alice@contoso.com"));
    assert_eq!(patch.json(), json!({ "accountEnabled": false }));

    // Disabling a disabled account: Graph answers 204 again.
    s.connector.perform(&request(&disable)).await.unwrap();
    assert_eq!(s.entra.enabled(ALICE), Some(false));

    let enable = proposal(
        ActionName::IdpEnableUser,
        entity(ObservableKind::Email, ALICE),
    );
    s.connector.perform(&request(&enable)).await.unwrap();
    assert_eq!(s.entra.enabled(ALICE), Some(true));
    assert_eq!(
        s.mock.count("POST", &token_path()),
        1,
        "the token is cached"
    );
}

#[tokio::test]
async fn the_user_is_one_encoded_path_segment() {
    let guest = "bob_fabrikam.com#EXT#@contoso.onmicrosoft.com";
    let dollar = "$adele@contoso.com";
    let s = setup(&[guest, dollar]).await;
    let p = proposal(ActionName::IdpRevokeSessions, user(guest));
    s.connector.perform(&request(&p)).await.unwrap();
    let seen = s.mock.seen().pop().unwrap();
    assert_eq!(
        seen.path,
        "/v1.0/users/bob_fabrikam.com%23EXT%23@contoso.onmicrosoft.com/revokeSignInSessions"
    );

    // A UPN starting with `$` takes the users('...') form.
    let p = proposal(ActionName::IdpDisableUser, user(dollar));
    s.connector.perform(&request(&p)).await.unwrap();
    let seen = s.mock.seen().pop().unwrap();
    assert_eq!(seen.path, "/v1.0/users('$adele@contoso.com')");
    assert_eq!(s.entra.enabled(dollar), Some(false));

    // A slash cannot reach another resource.
    let p = proposal(ActionName::IdpDisableUser, user("x/../../groups/g1"));
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Rejected);
    let seen = s.mock.seen().pop().unwrap();
    assert_eq!(seen.path, "/v1.0/users/x%2F..%2F..%2Fgroups%2Fg1");

    // Nor can a dot segment, which URL rules would drop.
    let before = s.mock.seen().len();
    let p = proposal(ActionName::IdpRevokeSessions, user(".."));
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Rejected);
    assert_eq!(s.mock.seen().len(), before);
}

#[tokio::test]
async fn an_unknown_user_is_rejected_with_graphs_message() {
    let s = setup(&[ALICE]).await;
    let p = proposal(ActionName::IdpDisableUser, user("nobody@contoso.com"));
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Rejected);
    assert!(
        err.message
            .contains("Request_ResourceNotFound: Resource 'nobody@contoso.com' does not exist"),
        "{err}"
    );
    assert_no_secret(&err, &secrets());
}

#[tokio::test]
async fn missing_permissions_are_auth_with_graphs_message() {
    let s = setup(&[ALICE]).await;
    s.mock.fail(
        "PATCH",
        "/v1.0/users/alice@contoso.com",
        1,
        Reply::json(
            403,
            graph_error(
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ),
        ),
    );
    let p = proposal(ActionName::IdpDisableUser, user(ALICE));
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Auth);
    assert!(err.message.contains("Insufficient privileges"), "{err}");
}

#[tokio::test]
async fn an_expired_token_is_fetched_again_once() {
    let s = setup(&[ALICE]).await;
    let p = proposal(ActionName::IdpRevokeSessions, user(ALICE));
    s.connector.perform(&request(&p)).await.unwrap();
    *s.entra.valid_token.lock().unwrap() = None;
    s.connector.perform(&request(&p)).await.unwrap();
    assert_eq!(s.mock.count("POST", &token_path()), 2);
}

#[tokio::test]
async fn a_token_refused_after_refresh_is_auth() {
    let s = setup(&[ALICE]).await;
    let path = "/v1.0/users/alice@contoso.com/revokeSignInSessions";
    s.mock.fail(
        "POST",
        path,
        10,
        Reply::json(
            401,
            graph_error(
                "InvalidAuthenticationToken",
                "Access token validation failure.",
            ),
        ),
    );
    let p = proposal(ActionName::IdpRevokeSessions, user(ALICE));
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Auth);
    assert!(err.message.contains("InvalidAuthenticationToken"), "{err}");
    assert_eq!(s.mock.count("POST", &token_path()), 2);
    assert_eq!(s.mock.count("POST", path), 2);
    assert_no_secret(&err, &secrets());
}

#[tokio::test]
async fn a_wrong_client_secret_is_auth_with_the_aadsts_message() {
    let s = setup_with(&[ALICE], "wrong-secret-value-77").await;
    let p = proposal(ActionName::IdpRevokeSessions, user(ALICE));
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Auth);
    assert!(
        err.message.contains("invalid_client: AADSTS7000215"),
        "{err}"
    );
    assert_no_secret(&err, &["wrong-secret-value-77"]);
    assert!(!format!("{:?}", s.connector).contains("wrong-secret"));
}

#[tokio::test]
async fn a_429_waits_for_retry_after_then_succeeds() {
    let s = setup(&[ALICE]).await;
    s.mock.fail(
        "PATCH",
        "/v1.0/users/alice@contoso.com",
        1,
        Reply::json(429, graph_error("TooManyRequests", "Too many requests"))
            .header("retry-after", "1"),
    );
    let p = proposal(ActionName::IdpDisableUser, user(ALICE));
    let started = Instant::now();
    s.connector.perform(&request(&p)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(s.entra.enabled(ALICE), Some(false));
}

#[tokio::test]
async fn a_429_until_the_retries_run_out_is_rate_limited() {
    let s = setup(&[ALICE]).await;
    let path = "/v1.0/users/alice@contoso.com/revokeSignInSessions";
    // Retry-After as an HTTP-date in the past: retry at once.
    s.mock.fail(
        "POST",
        path,
        100,
        Reply::json(429, graph_error("TooManyRequests", "Too many requests"))
            .header("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT"),
    );
    let p = proposal(ActionName::IdpRevokeSessions, user(ALICE));
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::RateLimited);
    assert_eq!(s.mock.count("POST", path), 3);
    assert_no_secret(&err, &secrets());
}

#[tokio::test]
async fn server_errors_are_retried_then_unavailable() {
    let s = setup(&[ALICE]).await;
    let path = "/v1.0/users/alice@contoso.com";
    s.mock.fail(
        "PATCH",
        path,
        100,
        Reply::json(
            503,
            graph_error(
                "serviceNotAvailable",
                "The service is temporarily unavailable.",
            ),
        ),
    );
    let p = proposal(ActionName::IdpDisableUser, user(ALICE));
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Unavailable);
    assert!(err.message.contains("serviceNotAvailable"), "{err}");
    assert_eq!(s.mock.count("PATCH", path), 3);
    assert_no_secret(&err, &secrets());
}

#[tokio::test]
async fn a_slow_token_endpoint_is_a_timeout() {
    let s = setup(&[ALICE]).await;
    s.mock.fail(
        "POST",
        &token_path(),
        10,
        Reply::json(200, json!({ "access_token": "late", "expires_in": 3599 }))
            .after(Duration::from_secs(3)),
    );
    let p = proposal(ActionName::IdpDisableUser, user(ALICE));
    let started = Instant::now();
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Timeout);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(s.entra.enabled(ALICE), Some(true));
    assert_no_secret(&err, &secrets());
}

#[tokio::test]
async fn a_revocation_graph_did_not_perform_is_rejected() {
    let s = setup(&[ALICE]).await;
    s.mock.fail(
        "POST",
        "/v1.0/users/alice@contoso.com/revokeSignInSessions",
        1,
        Reply::json(200, json!({ "value": false })),
    );
    let p = proposal(ActionName::IdpRevokeSessions, user(ALICE));
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Rejected);
}

#[tokio::test]
async fn only_user_targets_and_identity_actions() {
    let s = setup(&[ALICE]).await;
    let p = proposal(
        ActionName::IdpDisableUser,
        entity(ObservableKind::Host, "ws-1"),
    );
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Rejected);
    assert!(s.mock.seen().is_empty());
    assert!(s.connector.handles(ActionName::IdpRevokeSessions));
    assert!(s.connector.handles(ActionName::IdpDisableUser));
    assert!(s.connector.handles(ActionName::IdpEnableUser));
    assert!(!s.connector.handles(ActionName::IdpResetMfa));
    assert_eq!(s.connector.name(), "msgraph.users");
}
