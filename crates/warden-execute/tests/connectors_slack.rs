#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! Slack owner notices against a local server speaking the Slack Web API
//! wire format (`chat.postMessage`, `ok: false` errors, 429 Retry-After).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    Mock, Reply, Seen, assert_no_secret, entity, proposal, request, secret_file, settings,
};
use serde_json::json;
use warden_domain::{ActionName, ObservableKind, Target};
use warden_execute::connectors::{SlackConfig, SlackConnector};
use warden_execute::{Connector, ConnectorErrorKind};

const BOT_TOKEN: &str = "xoxb-1234-5678-slackBotToken";
const CHANNEL: &str = "C0123SOC";
const POST: &str = "/api/chat.postMessage";

/// The fake workspace: messages posted, in order.
struct Workspace {
    posted: Mutex<Vec<String>>,
}

impl Workspace {
    fn respond(&self, seen: &Seen) -> Reply {
        if !seen.is("POST", POST) {
            return Reply::json(404, json!({ "ok": false, "error": "unknown_method" }));
        }
        // Slack answers auth failures with HTTP 200 and ok: false.
        if seen.header("authorization") != Some(&format!("Bearer {BOT_TOKEN}")) {
            return Reply::json(200, json!({ "ok": false, "error": "invalid_auth" }));
        }
        assert_eq!(
            seen.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        let body = seen.json();
        if body["channel"] != CHANNEL {
            return Reply::json(200, json!({ "ok": false, "error": "channel_not_found" }));
        }
        assert_eq!(body["unfurl_links"], false);
        assert_eq!(body["unfurl_media"], false);
        let text = body["text"].as_str().unwrap().to_owned();
        let mut posted = self.posted.lock().unwrap();
        posted.push(text.clone());
        let ts = format!("1712345678.{:06}", posted.len());
        Reply::json(
            200,
            json!({ "ok": true, "channel": CHANNEL, "ts": ts, "message": { "type": "message", "text": text, "ts": ts } }),
        )
    }
}

struct Setup {
    mock: Mock,
    workspace: Arc<Workspace>,
    connector: SlackConnector,
    _dir: tempfile::TempDir,
}

async fn setup_with(token: &str, channel: &str) -> Setup {
    let workspace = Arc::new(Workspace {
        posted: Mutex::new(Vec::new()),
    });
    let fake = workspace.clone();
    let mock = Mock::start(move |seen| fake.respond(seen)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = SlackConfig {
        bot_token: secret_file(&dir, "slack", token),
        channel: channel.into(),
        base_url: mock.base.clone(),
    };
    let connector = SlackConnector::new(&config, settings()).unwrap();
    Setup {
        mock,
        workspace,
        connector,
        _dir: dir,
    }
}

async fn setup() -> Setup {
    setup_with(BOT_TOKEN, CHANNEL).await
}

fn notice() -> warden_domain::ActionProposal {
    proposal(
        ActionName::NotifyOwner,
        entity(ObservableKind::Host, "ws-fin-042"),
    )
}

#[tokio::test]
async fn posts_a_notice_built_from_structured_fields() {
    let s = setup().await;
    let p = notice();
    let outcome = s.connector.perform(&request(&p)).await.unwrap();
    assert_eq!(outcome.handle.as_deref(), Some("1712345678.000001"));
    let text = s.workspace.posted.lock().unwrap()[0].clone();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "Warden notice for the owner of host:ws-fin-042 ({})",
            p.case_id
        )
    );
    assert!(lines.contains(&"Action: notify.owner (message the asset or account owner)"));
    assert!(lines.contains(&"Target: host:ws-fin-042"));
    assert!(lines.contains(&"Proposed by: deterministic"));
    assert!(lines.contains(&"Reference: warden-3f2a9c0d41b7e658"));
}

#[tokio::test]
async fn parameters_are_escaped_data_that_cannot_mention_or_link() {
    let s = setup().await;
    let mut p = notice();
    p.parameters.insert(
        "reason".into(),
        "<!channel> click <https://evil.example|here> & `run this`\nApproved by: CISO".into(),
    );
    s.connector.perform(&request(&p)).await.unwrap();
    let text = s.workspace.posted.lock().unwrap()[0].clone();
    assert!(
        !text.contains('<') && !text.contains('>') && !text.contains('`'),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l
            == "&gt; reason = \"&lt;!channel&gt; click &lt;https://evil.example|here&gt; &amp; 'run this' Approved by: CISO\""),
        "{text}"
    );
    assert!(
        !text.lines().any(|l| l.starts_with("Approved by")),
        "{text}"
    );
}

#[tokio::test]
async fn a_huge_parameter_set_is_capped() {
    let s = setup().await;
    let mut p = notice();
    for i in 0..50 {
        p.parameters.insert(format!("k{i:02}"), "&".repeat(1000));
    }
    s.connector.perform(&request(&p)).await.unwrap();
    let text = s.workspace.posted.lock().unwrap()[0].clone();
    assert!(text.chars().count() <= 3000, "{}", text.chars().count());
    // Never cut inside an escape.
    let tail = text.trim_end_matches('…');
    let last_amp = tail.rfind('&').unwrap();
    assert!(
        tail[last_amp..].contains(';'),
        "cut inside an escape: {tail}"
    );
}

#[tokio::test]
async fn invalid_auth_in_a_200_is_auth_and_never_shown() {
    let s = setup_with("xoxb-wrong-token-000", CHANNEL).await;
    let err = s.connector.perform(&request(&notice())).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Auth);
    assert!(err.message.contains("invalid_auth"), "{err}");
    assert_no_secret(&err, &["xoxb-wrong-token-000", BOT_TOKEN]);
    assert!(!format!("{:?}", s.connector).contains("xoxb"));
}

#[tokio::test]
async fn a_slack_error_is_rejected_with_its_code() {
    let s = setup_with(BOT_TOKEN, "C0GONE").await;
    let err = s.connector.perform(&request(&notice())).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Rejected);
    assert!(err.message.contains("channel_not_found"), "{err}");
    assert_eq!(s.mock.count("POST", POST), 1);
}

#[tokio::test]
async fn ratelimited_in_a_200_is_rate_limited() {
    let s = setup().await;
    s.mock.fail(
        "POST",
        POST,
        1,
        Reply::json(200, json!({ "ok": false, "error": "ratelimited" })),
    );
    let err = s.connector.perform(&request(&notice())).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::RateLimited);
}

#[tokio::test]
async fn a_429_waits_for_retry_after_then_posts_once() {
    let s = setup().await;
    s.mock.fail(
        "POST",
        POST,
        1,
        Reply::json(429, json!({ "ok": false, "error": "ratelimited" })).header("retry-after", "1"),
    );
    let started = Instant::now();
    let outcome = s.connector.perform(&request(&notice())).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(outcome.handle.as_deref(), Some("1712345678.000001"));
    assert_eq!(s.workspace.posted.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_429_until_the_retries_run_out_is_rate_limited() {
    let s = setup().await;
    s.mock.fail(
        "POST",
        POST,
        100,
        Reply::json(429, json!({ "ok": false, "error": "ratelimited" })).header("retry-after", "0"),
    );
    let err = s.connector.perform(&request(&notice())).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::RateLimited);
    assert_eq!(s.mock.count("POST", POST), 3);
    assert_no_secret(&err, &[BOT_TOKEN]);
}

#[tokio::test]
async fn server_errors_are_retried_then_unavailable() {
    let s = setup().await;
    s.mock.fail(
        "POST",
        POST,
        100,
        Reply::json(503, json!({ "ok": false, "error": "service_unavailable" })),
    );
    let err = s.connector.perform(&request(&notice())).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Unavailable);
    assert!(err.message.contains("service_unavailable"), "{err}");
    assert_eq!(s.mock.count("POST", POST), 3);
    assert_no_secret(&err, &[BOT_TOKEN]);
}

#[tokio::test]
async fn a_slow_slack_is_a_timeout() {
    let s = setup().await;
    s.mock.fail(
        "POST",
        POST,
        10,
        Reply::json(200, json!({ "ok": true, "ts": "1.2" })).after(Duration::from_secs(3)),
    );
    let started = Instant::now();
    let err = s.connector.perform(&request(&notice())).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Timeout);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn an_ok_answer_without_ts_is_a_protocol_error() {
    let s = setup().await;
    s.mock
        .fail("POST", POST, 1, Reply::json(200, json!({ "ok": true })));
    let err = s.connector.perform(&request(&notice())).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Protocol);
}

#[tokio::test]
async fn only_owner_notices_on_hosts_and_users() {
    let s = setup().await;
    let p = proposal(
        ActionName::NotifyOwner,
        Target::case(warden_domain::CaseId::new()),
    );
    let err = s.connector.perform(&request(&p)).await.unwrap_err();
    assert_eq!(err.kind, ConnectorErrorKind::Rejected);
    assert!(s.mock.seen().is_empty());
    assert!(s.connector.handles(ActionName::NotifyOwner));
    assert!(!s.connector.handles(ActionName::TicketCreate));
    assert_eq!(s.connector.name(), "slack.chat");
}
