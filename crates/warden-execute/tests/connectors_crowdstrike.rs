#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! CrowdStrike Falcon host containment against a local server speaking the
//! Falcon Hosts API wire format.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    Mock, Reply, Seen, assert_no_secret, entity, proposal, request, secret_file, settings,
};
use serde_json::json;
use warden_domain::{ActionName, ObservableKind, Target};
use warden_execute::connectors::{CrowdStrikeConfig, CrowdStrikeConnector};
use warden_execute::{Connector, ConnectorErrorKind};

const CLIENT_ID: &str = "falcon-client-id";
const SECRET: &str = "falcon-secret-Zq81xPw";
const HOST_ID: &str = "0123456789abcdef0123456789abcdef";
const ACTIONS: &str = "/devices/entities/devices-actions/v2";
const QUERY: &str = "/devices/queries/devices/v1";
const DETAILS: &str = "/devices/entities/devices/v2";
const TOKEN: &str = "/oauth2/token";

/// The fake tenant: devices, the token it accepts, how many it issued.
struct Falcon {
    devices: Mutex<Vec<(String, String, String)>>,
    valid_token: Mutex<Option<String>>,
    issued: Mutex<u32>,
    /// A status every device takes right after the next details read.
    after_read: Mutex<Option<String>>,
}

fn errors(code: u16, message: &str) -> serde_json::Value {
    json!({
        "meta": { "query_time": 0.001, "powered_by": "fake", "trace_id": "t-1" },
        "resources": [],
        "errors": [{ "code": code, "message": message }],
    })
}

impl Falcon {
    fn new(devices: &[(&str, &str, &str)]) -> Arc<Self> {
        Arc::new(Self {
            devices: Mutex::new(
                devices
                    .iter()
                    .map(|(h, i, s)| (h.to_string(), i.to_string(), s.to_string()))
                    .collect(),
            ),
            valid_token: Mutex::new(None),
            issued: Mutex::new(0),
            after_read: Mutex::new(None),
        })
    }

    /// Forget the issued token, as on expiry or revocation.
    fn expire_token(&self) {
        *self.valid_token.lock().unwrap() = None;
    }

    fn set_status(&self, id: &str, status: &str) {
        for device in self.devices.lock().unwrap().iter_mut() {
            if device.1 == id {
                device.2 = status.into();
            }
        }
    }

    fn respond(&self, seen: &Seen) -> Reply {
        if seen.is("POST", TOKEN) {
            assert_eq!(
                seen.header("content-type"),
                Some("application/x-www-form-urlencoded")
            );
            let form = seen.form();
            if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
                || form.get("client_secret").map(String::as_str) != Some(SECRET)
            {
                return Reply::json(401, errors(401, "access denied, invalid client"));
            }
            let mut issued = self.issued.lock().unwrap();
            *issued += 1;
            let token = format!("falcon-token-{issued}");
            *self.valid_token.lock().unwrap() = Some(token.clone());
            return Reply::json(
                201,
                json!({ "access_token": token, "token_type": "bearer", "expires_in": 1799 }),
            );
        }
        let expected = self
            .valid_token
            .lock()
            .unwrap()
            .as_ref()
            .map(|t| format!("Bearer {t}"));
        if expected.is_none() || seen.header("authorization") != expected.as_deref() {
            return Reply::json(401, errors(401, "access denied, invalid bearer token"));
        }
        let devices = self.devices.lock().unwrap().clone();
        if seen.is("GET", QUERY) {
            let filter = seen.query_param("filter").unwrap_or_default();
            let name = filter
                .strip_prefix("hostname:'")
                .and_then(|f| f.strip_suffix('\''))
                .expect("an FQL hostname filter");
            let ids: Vec<&str> = devices
                .iter()
                .filter(|(h, _, _)| h.eq_ignore_ascii_case(name))
                .map(|(_, i, _)| i.as_str())
                .collect();
            return Reply::json(
                200,
                json!({
                    "meta": { "pagination": { "offset": 0, "limit": 100, "total": ids.len() } },
                    "resources": ids,
                    "errors": [],
                }),
            );
        }
        if seen.is("GET", DETAILS) {
            let id = seen.query_param("ids").unwrap_or_default();
            let found: Vec<_> = devices
                .iter()
                .filter(|(_, i, _)| *i == id)
                .map(|(h, i, s)| json!({ "device_id": i, "hostname": h, "status": s, "platform_name": "Windows" }))
                .collect();
            if let Some(next) = self.after_read.lock().unwrap().take() {
                self.set_status(&id, &next);
            }
            return Reply::json(200, json!({ "meta": {}, "resources": found, "errors": [] }));
        }
        if seen.is("POST", ACTIONS) {
            assert_eq!(seen.header("content-type"), Some("application/json"));
            let body = seen.json();
            let ids = body["ids"].as_array().expect("ids array");
            assert_eq!(ids.len(), 1, "never several devices at once");
            let id = ids[0].as_str().unwrap().to_owned();
            let Some(device) = devices.iter().find(|(_, i, _)| *i == id) else {
                return Reply::json(404, errors(404, "No matching device found for ID"));
            };
            let next = match seen.query_param("action_name").as_deref() {
                Some("contain") if device.2 == "contained" => {
                    return Reply::json(409, errors(409, "Device is already contained"));
                }
                Some("contain") => "containment_pending",
                Some("lift_containment") => "lift_containment_pending",
                other => panic!("unexpected action_name {other:?}"),
            };
            self.set_status(&id, next);
            return Reply::json(
                202,
                json!({ "meta": {}, "resources": [{ "id": id, "path": "" }], "errors": [] }),
            );
        }
        Reply::json(404, errors(404, "no such route"))
    }
}

struct Setup {
    mock: Mock,
    falcon: Arc<Falcon>,
    connector: CrowdStrikeConnector,
    _dir: tempfile::TempDir,
}

async fn setup(devices: &[(&str, &str, &str)]) -> Setup {
    let falcon = Falcon::new(devices);
    let fake = falcon.clone();
    let mock = Mock::start(move |seen| fake.respond(seen)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = CrowdStrikeConfig {
        base_url: mock.base.clone(),
        client_id: CLIENT_ID.into(),
        client_secret: secret_file(&dir, "falcon", SECRET),
        member_cid: None,
    };
    let connector = CrowdStrikeConnector::new(&config, settings()).unwrap();
    Setup {
        mock,
        falcon,
        connector,
        _dir: dir,
    }
}

fn host(name: &str) -> Target {
    entity(ObservableKind::Host, name)
}

fn secrets() -> [&'static str; 3] {
    [SECRET, "falcon-token-1", "falcon-token-2"]
}

#[tokio::test]
async fn contains_exactly_the_one_device_and_releases_it() {
    let s = setup(&[
        ("ws-fin-042", HOST_ID, "normal"),
        ("ws-fin-043", "ffffffffffffffffffffffffffffffff", "normal"),
    ])
    .await;
    let isolate = proposal(ActionName::EdrIsolateHost, host("ws-fin-042"));
    let outcome = s.connector.perform(&request(&isolate)).await.unwrap();
    assert_eq!(outcome.handle.as_deref(), Some(HOST_ID));
    assert!(
        outcome.detail.contains("containment requested"),
        "{}",
        outcome.detail
    );

    let seen = s.mock.seen();
    let paths: Vec<(&str, &str)> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        vec![
            ("POST", TOKEN),
            ("GET", QUERY),
            ("GET", DETAILS),
            ("POST", ACTIONS)
        ]
    );
    let token = &seen[0];
    assert_eq!(
        token.form().get("client_id").map(String::as_str),
        Some(CLIENT_ID)
    );
    assert_eq!(
        token.form().get("client_secret").map(String::as_str),
        Some(SECRET)
    );
    assert_eq!(
        seen[1].query_param("filter").as_deref(),
        Some("hostname:'ws-fin-042'")
    );
    assert_eq!(
        seen[1].header("authorization"),
        Some("Bearer falcon-token-1")
    );
    assert_eq!(seen[2].query_param("ids").as_deref(), Some(HOST_ID));
    assert_eq!(
        seen[3].query_param("action_name").as_deref(),
        Some("contain")
    );
    assert_eq!(seen[3].json(), json!({ "ids": [HOST_ID] }));

    // The token is cached: the release needs no new one.
    s.falcon.set_status(HOST_ID, "contained");
    let release = proposal(ActionName::EdrReleaseHost, host("ws-fin-042"));
    let outcome = s.connector.perform(&request(&release)).await.unwrap();
    assert_eq!(outcome.handle.as_deref(), Some(HOST_ID));
    assert_eq!(s.mock.count("POST", TOKEN), 1);
    let last = s.mock.seen().pop().unwrap();
    assert!(last.is("POST", ACTIONS));
    assert_eq!(
        last.query_param("action_name").as_deref(),
        Some("lift_containment")
    );
}

#[tokio::test]
async fn an_already_contained_host_is_success_without_acting() {
    let s = setup(&[("ws-1", HOST_ID, "contained")]).await;
    let isolate = proposal(ActionName::EdrIsolateHost, host("ws-1"));
    let outcome = s.connector.perform(&request(&isolate)).await.unwrap();
    assert!(
        outcome.detail.contains("already contained"),
        "{}",
        outcome.detail
    );
    assert_eq!(outcome.handle.as_deref(), Some(HOST_ID));
    assert_eq!(s.mock.count("POST", ACTIONS), 0);

    // Released already: the same for the reverse.
    s.falcon.set_status(HOST_ID, "normal");
    let release = proposal(ActionName::EdrReleaseHost, host("ws-1"));
    let outcome = s.connector.perform(&request(&release)).await.unwrap();
    assert!(
        outcome.detail.contains("already normal"),
        "{}",
        outcome.detail
    );
    assert_eq!(s.mock.count("POST", ACTIONS), 0);
}

#[tokio::test]
async fn a_refusal_because_someone_contained_it_meanwhile_is_success() {
    let s = setup(&[("ws-1", HOST_ID, "normal")]).await;
    // Right after our read, an analyst contains the host in the console:
    // Falcon refuses our duplicate with 409.
    *s.falcon.after_read.lock().unwrap() = Some("contained".into());
    let isolate = proposal(ActionName::EdrIsolateHost, host("ws-1"));
    let outcome = s.connector.perform(&request(&isolate)).await.unwrap();
    assert!(
        outcome.detail.contains("already contained"),
        "{}",
        outcome.detail
    );
    assert_eq!(s.mock.count("POST", ACTIONS), 1);
    assert_eq!(
        s.mock.count("GET", DETAILS),
        2,
        "state read again after the refusal"
    );

    // A refusal while the host is still not contained stays a refusal.
    let s = setup(&[("ws-1", HOST_ID, "normal")]).await;
    s.mock.fail(
        "POST",
        ACTIONS,
        1,
        Reply::json(409, errors(409, "Conflict")),
    );
    let err = s.connector.perform(&request(&isolate)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Rejected);
    assert!(err.message.contains("409: Conflict"), "{err}");
}

#[tokio::test]
async fn no_such_host_and_ambiguous_hostnames_are_rejected_without_acting() {
    let s = setup(&[
        ("ws-1", HOST_ID, "normal"),
        ("dup", "11111111111111111111111111111111", "normal"),
        ("dup", "22222222222222222222222222222222", "normal"),
    ])
    .await;
    let missing = proposal(ActionName::EdrIsolateHost, host("ws-404"));
    let err = s.connector.perform(&request(&missing)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Rejected);
    assert!(err.message.contains("no such host"), "{err}");

    let several = proposal(ActionName::EdrIsolateHost, host("dup"));
    let err = s.connector.perform(&request(&several)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Rejected);
    assert!(err.message.contains("matches 2"), "{err}");
    assert_eq!(s.mock.count("POST", ACTIONS), 0);
}

#[tokio::test]
async fn a_hostname_that_would_change_the_filter_is_refused_before_any_request() {
    let s = setup(&[("ws-1", HOST_ID, "normal")]).await;
    for name in ["ws-1' OR hostname:'*", "*", "ws 1", ""] {
        let p = proposal(ActionName::EdrIsolateHost, host(name));
        let err = s.connector.perform(&request(&p)).await.unwrap_err();
        assert_eq!(err.kind, ConnectorErrorKind::Rejected, "{name}");
    }
    // And a target of another kind.
    let p = proposal(
        ActionName::EdrIsolateHost,
        entity(ObservableKind::Ip, "10.0.0.1"),
    );
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Rejected);
    assert!(s.mock.seen().is_empty());
}

#[tokio::test]
async fn an_expired_token_is_fetched_again_once() {
    let s = setup(&[("ws-1", HOST_ID, "normal")]).await;
    let p = proposal(ActionName::EdrIsolateHost, host("ws-1"));
    s.connector.perform(&request(&p)).await.unwrap();
    s.falcon.set_status(HOST_ID, "normal");
    s.falcon.expire_token();
    let outcome = s.connector.perform(&request(&p)).await.unwrap();
    assert_eq!(outcome.handle.as_deref(), Some(HOST_ID));
    assert_eq!(s.mock.count("POST", TOKEN), 2);
}

#[tokio::test]
async fn a_token_refused_after_refresh_is_auth_and_never_shows_the_secret() {
    let s = setup(&[("ws-1", HOST_ID, "normal")]).await;
    // Every API call is refused, whatever the token; the body even echoes
    // the secret, which must not reach the error.
    s.mock.fail(
        "GET",
        QUERY,
        10,
        Reply::json(
            401,
            errors(401, &format!("access denied for secret {SECRET}")),
        ),
    );
    let p = proposal(ActionName::EdrIsolateHost, host("ws-1"));
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Auth);
    assert!(err.message.contains("access denied"), "{err}");
    assert!(err.message.contains("[redacted]"), "{err}");
    assert_eq!(s.mock.count("POST", TOKEN), 2, "one refresh, no more");
    assert_eq!(s.mock.count("GET", QUERY), 2);
    assert_no_secret(&err, &secrets());
}

#[tokio::test]
async fn wrong_client_credentials_are_auth() {
    let falcon = Falcon::new(&[("ws-1", HOST_ID, "normal")]);
    let fake = falcon.clone();
    let mock = Mock::start(move |seen| fake.respond(seen)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = CrowdStrikeConfig {
        base_url: mock.base.clone(),
        client_id: CLIENT_ID.into(),
        client_secret: secret_file(&dir, "falcon", "not-the-secret-9f8e7d"),
        member_cid: Some("child-cid".into()),
    };
    let connector = CrowdStrikeConnector::new(&config, settings()).unwrap();
    let p = proposal(ActionName::EdrIsolateHost, host("ws-1"));
    let err = connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Auth);
    assert!(err.message.contains("invalid client"), "{err}");
    assert_no_secret(&err, &["not-the-secret-9f8e7d"]);
    assert_eq!(
        mock.seen()[0].form().get("member_cid").map(String::as_str),
        Some("child-cid")
    );
    assert!(!format!("{connector:?}").contains("not-the-secret"));
}

#[tokio::test]
async fn a_429_waits_for_retry_after_then_succeeds() {
    let s = setup(&[("ws-1", HOST_ID, "normal")]).await;
    s.mock.fail(
        "POST",
        ACTIONS,
        1,
        Reply::json(429, errors(429, "API rate limit exceeded")).header("retry-after", "1"),
    );
    let p = proposal(ActionName::EdrIsolateHost, host("ws-1"));
    let started = Instant::now();
    let outcome = s.connector.perform(&request(&p)).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(outcome.handle.as_deref(), Some(HOST_ID));
    assert_eq!(s.mock.count("POST", ACTIONS), 2);
}

#[tokio::test]
async fn a_429_that_never_ends_is_rate_limited_after_the_retries() {
    let s = setup(&[("ws-1", HOST_ID, "normal")]).await;
    s.mock.fail(
        "GET",
        QUERY,
        100,
        Reply::json(429, errors(429, "API rate limit exceeded")).header("retry-after", "0"),
    );
    let p = proposal(ActionName::EdrIsolateHost, host("ws-1"));
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::RateLimited);
    assert_eq!(
        s.mock.count("GET", QUERY),
        3,
        "first attempt and two retries"
    );
    assert_no_secret(&err, &secrets());
}

#[tokio::test]
async fn a_retry_after_beyond_the_maximum_wait_is_not_waited_for() {
    let s = setup(&[("ws-1", HOST_ID, "normal")]).await;
    s.mock.fail(
        "GET",
        QUERY,
        100,
        Reply::json(429, errors(429, "API rate limit exceeded")).header("retry-after", "120"),
    );
    let p = proposal(ActionName::EdrIsolateHost, host("ws-1"));
    let started = Instant::now();
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::RateLimited);
    assert!(err.message.contains("120s"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(s.mock.count("GET", QUERY), 1);
}

#[tokio::test]
async fn server_errors_are_retried_then_unavailable() {
    let s = setup(&[("ws-1", HOST_ID, "normal")]).await;
    s.mock.fail(
        "POST",
        ACTIONS,
        100,
        Reply::json(503, errors(503, "service temporarily unavailable")),
    );
    let p = proposal(ActionName::EdrIsolateHost, host("ws-1"));
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Unavailable);
    assert!(
        err.message.contains("service temporarily unavailable"),
        "{err}"
    );
    assert_eq!(s.mock.count("POST", ACTIONS), 3);
    assert_no_secret(&err, &secrets());

    // One 500 is ridden out.
    let s = setup(&[("ws-1", HOST_ID, "normal")]).await;
    s.mock.fail(
        "POST",
        ACTIONS,
        1,
        Reply::json(500, errors(500, "internal error")),
    );
    let outcome = s.connector.perform(&request(&p)).await.unwrap();
    assert_eq!(outcome.handle.as_deref(), Some(HOST_ID));
}

#[tokio::test]
async fn a_slow_falcon_is_a_timeout() {
    let s = setup(&[("ws-1", HOST_ID, "normal")]).await;
    s.mock.fail(
        "GET",
        QUERY,
        10,
        Reply::json(200, json!({ "resources": [HOST_ID], "errors": [] }))
            .after(Duration::from_secs(3)),
    );
    let p = proposal(ActionName::EdrIsolateHost, host("ws-1"));
    let started = Instant::now();
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Timeout);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(s.mock.count("POST", ACTIONS), 0);
    assert_no_secret(&err, &secrets());
}

#[tokio::test]
async fn a_falcon_error_body_is_rejected_with_its_message() {
    let s = setup(&[("ws-1", HOST_ID, "normal")]).await;
    s.mock.fail(
        "POST",
        ACTIONS,
        1,
        Reply::json(
            400,
            errors(
                400,
                "Device is not eligible for containment: sensor offline",
            ),
        ),
    );
    let p = proposal(ActionName::EdrIsolateHost, host("ws-1"));
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Rejected);
    assert!(
        err.message
            .contains("400: Device is not eligible for containment"),
        "{err}"
    );
    assert_no_secret(&err, &secrets());
}

#[tokio::test]
async fn an_undecodable_answer_is_a_protocol_error() {
    let s = setup(&[("ws-1", HOST_ID, "normal")]).await;
    s.mock.fail(
        "GET",
        QUERY,
        1,
        Reply::json(200, json!({ "resources": "not a list" })),
    );
    let p = proposal(ActionName::EdrIsolateHost, host("ws-1"));
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Protocol);
    assert!(
        !err.message.contains("not a list"),
        "content is not echoed: {err}"
    );
}

#[tokio::test]
async fn only_containment_actions_are_handled() {
    let s = setup(&[]).await;
    assert!(s.connector.handles(ActionName::EdrIsolateHost));
    assert!(s.connector.handles(ActionName::EdrReleaseHost));
    assert!(!s.connector.handles(ActionName::EdrKillProcess));
    assert!(!s.connector.handles(ActionName::IdpDisableUser));
    assert_eq!(s.connector.name(), "crowdstrike.falcon");
    assert!(!format!("{:?}", s.connector).contains(SECRET));
}
