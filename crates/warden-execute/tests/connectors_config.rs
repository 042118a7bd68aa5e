#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! `[connectors]` as written in `warden.toml`: parsing, defaults, building,
//! and credential errors that name the source but never the value.

use std::time::Duration;

use serde::Deserialize;
use warden_domain::ActionName;
use warden_execute::ConnectorErrorKind;
use warden_execute::connectors::{ConnectorsConfig, SecretRef};

#[derive(Debug, Deserialize)]
struct WardenToml {
    connectors: ConnectorsConfig,
}

fn parse(text: &str) -> ConnectorsConfig {
    toml::from_str::<WardenToml>(text).unwrap().connectors
}

fn full_example(dir: &std::path::Path) -> String {
    for (name, value) in [
        ("falcon", "falcon-secret-1"),
        ("graph", "graph-secret-2"),
        ("jira", "jira-token-3"),
        ("slack", "xoxb-slack-4"),
    ] {
        std::fs::write(dir.join(name), format!("{value}\n")).unwrap();
    }
    let d = dir.display();
    format!(
        r#"
[connectors]
timeout_ms = 5000
max_retries = 2
max_retry_wait_ms = 20000

[connectors.crowdstrike]
base_url = "https://api.eu-1.crowdstrike.com"
client_id = "0123abcd"
client_secret = {{ file = "{d}/falcon" }}

[connectors.msgraph]
tenant_id = "contoso.onmicrosoft.com"
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = {{ file = "{d}/graph" }}

[connectors.jira]
base_url = "https://example.atlassian.net"
email = "soc-bot@example.com"
api_token = {{ file = "{d}/jira" }}
project_key = "SEC"

[connectors.slack]
bot_token = {{ file = "{d}/slack" }}
channel = "C0123SOC"
"#
    )
}

#[test]
fn the_documented_shape_parses_with_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let config = parse(&full_example(dir.path()));
    assert_eq!(config.timeout_ms, 5000);
    assert_eq!(config.max_retries, 2);
    assert_eq!(config.max_retry_wait_ms, 20000);
    assert_eq!(config.initial_backoff_ms, 500, "default");
    let settings = config.http_settings().unwrap();
    assert_eq!(settings.timeout, Duration::from_secs(5));
    let graph = config.msgraph.as_ref().unwrap();
    assert_eq!(graph.login_base, "https://login.microsoftonline.com");
    assert_eq!(graph.graph_base, "https://graph.microsoft.com");
    assert_eq!(graph.scope, "https://graph.microsoft.com/.default");
    assert_eq!(config.jira.as_ref().unwrap().issue_type, "Task");
    assert_eq!(config.slack.as_ref().unwrap().base_url, "https://slack.com");
    assert_eq!(
        config.slack.as_ref().unwrap().bot_token,
        SecretRef::File(dir.path().join("slack"))
    );

    let empty = parse("[connectors]\n");
    assert_eq!(empty, ConnectorsConfig::default());
    assert!(empty.build().unwrap().is_empty());
}

#[test]
fn build_reads_the_secrets_and_covers_the_actions() {
    let dir = tempfile::tempdir().unwrap();
    let connectors = parse(&full_example(dir.path())).build().unwrap();
    let names: Vec<&str> = connectors.iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        [
            "crowdstrike.falcon",
            "msgraph.users",
            "jira.cloud",
            "slack.chat"
        ]
    );
    for action in [
        ActionName::EdrIsolateHost,
        ActionName::EdrReleaseHost,
        ActionName::IdpRevokeSessions,
        ActionName::IdpDisableUser,
        ActionName::IdpEnableUser,
        ActionName::TicketCreate,
        ActionName::NotifyOwner,
    ] {
        let handling = connectors.iter().filter(|c| c.handles(action)).count();
        assert_eq!(handling, 1, "{action}");
    }
}

#[test]
fn a_missing_secret_names_its_source_not_a_value() {
    let dir = tempfile::tempdir().unwrap();
    let text = full_example(dir.path()).replace(
        &format!("{{ file = \"{}/falcon\" }}", dir.path().display()),
        "{ env = \"WARDEN_TEST_FALCON_SECRET_SURELY_UNSET\" }",
    );
    let err = parse(&text).build().err().unwrap();
    assert_eq!(err.kind, ConnectorErrorKind::Config);
    assert!(
        err.message
            .contains("WARDEN_TEST_FALCON_SECRET_SURELY_UNSET"),
        "{err}"
    );

    std::fs::remove_file(dir.path().join("jira")).unwrap();
    let err = parse(&full_example_without_writing(dir.path()))
        .build()
        .err()
        .unwrap();
    assert_eq!(err.kind, ConnectorErrorKind::Config);
    assert!(err.message.contains("jira"), "{err}");
    for secret in ["falcon-secret-1", "graph-secret-2", "xoxb-slack-4"] {
        assert!(!format!("{err} {err:?}").contains(secret));
    }
}

/// The example text, pointing at files as they are now.
fn full_example_without_writing(dir: &std::path::Path) -> String {
    let d = dir.display();
    format!(
        r#"
[connectors.jira]
base_url = "https://example.atlassian.net"
email = "soc-bot@example.com"
api_token = {{ file = "{d}/jira" }}
project_key = "SEC"
"#
    )
}

#[test]
fn inline_credentials_are_refused() {
    let text = r#"
[connectors.slack]
bot_token = "xoxb-inline-should-never-be-here"
channel = "C0123SOC"
"#;
    let err = toml::from_str::<WardenToml>(text).unwrap_err();
    assert!(
        err.message().contains("never written in the configuration"),
        "{}",
        err.message()
    );
    assert!(!err.message().contains("xoxb-inline"));
}

#[test]
fn two_identity_providers_and_bad_bounds_are_refused() {
    let text = r#"
[connectors.msgraph]
tenant_id = "contoso.onmicrosoft.com"
client_id = "x"
client_secret = { env = "A" }

[connectors.okta]
base_url = "https://example.okta.com"
api_token = { env = "B" }
"#;
    let err = parse(text).build().err().unwrap();
    assert_eq!(err.kind, ConnectorErrorKind::Config);
    assert!(err.message.contains("configure one"), "{err}");

    for bad in [
        "[connectors]\ntimeout_ms = 0\n",
        "[connectors]\nmax_retries = 50\n",
        "[connectors]\nmax_retry_wait_ms = 100\ninitial_backoff_ms = 1000\n",
    ] {
        let err = parse(bad).build().err().unwrap();
        assert_eq!(err.kind, ConnectorErrorKind::Config, "{bad}");
    }
    // Unknown keys are typos, not silently ignored.
    assert!(toml::from_str::<WardenToml>("[connectors]\ntimeout = 5\n").is_err());
    assert!(
        toml::from_str::<WardenToml>(
            "[connectors.slack]\nbot_token = { env = \"X\" }\nchannel = \"C1\"\nchanel = \"C2\"\n"
        )
        .is_err()
    );
}

#[test]
fn credentials_never_travel_in_clear_text() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("okta"), "00okta\n").unwrap();
    let text = format!(
        "[connectors.okta]\nbase_url = \"http://example.okta.com\"\napi_token = {{ file = \"{}/okta\" }}\n",
        dir.path().display()
    );
    let err = parse(&text).build().err().unwrap();
    assert_eq!(err.kind, ConnectorErrorKind::Config);
    assert!(err.message.contains("https"), "{err}");
}
