//! `warden policy validate|test|explain`, driven as a user would.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;
use common::{stderr, stdout, warden};

use std::path::PathBuf;

use serde_json::Value;
use warden_domain::ActionName;
use warden_testkit::repo;

fn shipped_fixtures() -> Vec<PathBuf> {
    let dir = repo().join("crates/warden-policy/policies/tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn validate_reports_the_configured_set_its_count_and_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = warden(dir.path(), &["policy", "validate", "--list"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("the shipped default set"), "{text}");
    assert!(text.contains(" built-in guards)"), "{text}");
    assert!(text.contains("version "), "{text}");
    for id in [
        "default.case-note",
        "isolate-endpoint.permit",
        "warden.playbook-authority",
        "warden.target-in-case",
    ] {
        assert!(text.contains(id), "{id} not listed: {text}");
    }
}

#[test]
fn validate_checks_given_files_and_fails_with_the_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.cedar");
    std::fs::write(
        &good,
        r#"@id("ops.tickets") permit (principal, action == Warden::Action::"ticket.create", resource);"#,
    )
    .expect("write");
    let output = warden(
        &dir.path().join("data"),
        &["policy", "validate", good.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains(" policies (1 yours, "),
        "{}",
        stdout(&output)
    );

    let bad = dir.path().join("bad.cedar");
    std::fs::write(
        &bad,
        r#"@id("typo") permit (principal, action == Warden::Action::"ticket.create", resource) when { context.severty > 2 };"#,
    )
    .expect("write");
    let output = warden(
        &dir.path().join("data"),
        &[
            "policy",
            "validate",
            good.to_str().unwrap(),
            bad.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let errors = stderr(&output);
    assert!(errors.contains("schema validation"), "{errors}");
    assert!(errors.contains("severty"), "{errors}");

    let unparsable = dir.path().join("broken.cedar");
    std::fs::write(&unparsable, "permit (").expect("write");
    let output = warden(
        &dir.path().join("data"),
        &["policy", "validate", unparsable.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("broken.cedar"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_shipped_fixtures_pass_and_cover_every_catalogue_action() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixtures = shipped_fixtures();
    assert!(fixtures.len() >= 8, "{fixtures:?}");
    let mut args = vec!["policy", "test"];
    args.extend(fixtures.iter().map(|p| p.to_str().unwrap()));
    let output = warden(dir.path(), &args);
    let text = stdout(&output);
    assert!(output.status.success(), "{text}\n{}", stderr(&output));
    assert!(text.contains(" 0 failed"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");

    let all: String = fixtures
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("read"))
        .collect();
    for action in ActionName::ALL {
        assert!(
            all.contains(&format!("action = \"{action}\"")),
            "no shipped fixture for {action}"
        );
    }
}

#[test]
fn a_failing_or_malformed_fixture_fails_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wrong = dir.path().join("wrong.toml");
    std::fs::write(
        &wrong,
        r#"
[defaults]
principal = "agent:endpoint-malware"
severity = "high"
confidence = 0.9
verdict = "malicious"

[[test]]
name = "isolation without approval is claimed to run"
action = "edr.isolate_host"
target = "host:ws-1"
asset_environment = "staging"
asset_criticality = "tier_2"
expect = "allow"

[[test]]
name = "a note"
action = "case.note"
expect = "allow"
"#,
    )
    .expect("write");
    let output = warden(
        &dir.path().join("data"),
        &["policy", "test", wrong.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("FAIL"), "{text}");
    assert!(
        text.contains("expected allow, got needs_approval (1 of incident_commander,soc_lead)"),
        "{text}"
    );
    assert!(text.contains("1 passed, 1 failed"), "{text}");

    let typo = dir.path().join("typo.toml");
    std::fs::write(
        &typo,
        "[[test]]\nname = \"x\"\nprincipal = \"agent:a\"\naction = \"case.note\"\nexpect = \"allow\"\nseverty = \"high\"\n",
    )
    .expect("write");
    let output = warden(
        &dir.path().join("data"),
        &["policy", "test", typo.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("severty"), "{}", stderr(&output));

    let unknown_action = dir.path().join("unknown.toml");
    std::fs::write(
        &unknown_action,
        "[[test]]\nname = \"x\"\nprincipal = \"agent:a\"\naction = \"edr.format_disk\"\nexpect = \"deny\"\n",
    )
    .expect("write");
    let output = warden(
        &dir.path().join("data"),
        &["policy", "test", unknown_action.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("invalid test"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn test_runs_fixtures_against_given_policy_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policies = dir.path().join("ops.cedar");
    std::fs::write(
        &policies,
        r#"@id("ops.block") permit (principal, action == Warden::Action::"net.block_indicator", resource);"#,
    )
    .expect("write");
    let fixture = dir.path().join("ops.toml");
    std::fs::write(
        &fixture,
        r#"
[[test]]
name = "autonomous block under the operator's set"
principal = "agent:network-ids"
action = "net.block_indicator"
target = "ip:203.0.113.5"
autonomy = "autonomous"
expect = "allow"
expect_policies = ["ops.block"]

[[test]]
name = "the trust ladder still asks a person when assisted"
principal = "agent:network-ids"
action = "net.block_indicator"
target = "ip:203.0.113.5"
autonomy = "assisted"
expect = "needs_approval"
expect_approvals = 1
expect_roles = ["analyst", "incident_commander", "soc_lead"]
"#,
    )
    .expect("write");
    let output = warden(
        &dir.path().join("data"),
        &[
            "policy",
            "test",
            "--policies",
            policies.to_str().unwrap(),
            fixture.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", stdout(&output));
    assert!(stdout(&output).contains("2 passed, 0 failed"));
}

#[test]
fn explain_shows_each_decision_with_its_policies_and_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = warden(
        dir.path(),
        &[
            "triage",
            "examples/alerts",
            "--context",
            "examples/context",
            "--json",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let cases: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let case_id = cases[0]["case_id"].as_str().expect("case id").to_owned();

    let output = warden(dir.path(), &["policy", "explain", &case_id]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("case.note on case:"), "{text}");
    assert!(
        text.contains(
            "default.case-note (permit): Notes change nothing outside Warden's own case record."
        ),
        "{text}"
    );
    assert!(text.contains("(the current set)"), "{text}");
    assert!(!text.contains("NOT the current set"), "{text}");

    let output = warden(dir.path(), &["policy", "explain", &case_id, "--json"]);
    assert!(output.status.success());
    let decisions: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert!(!decisions.is_empty());
    assert!(decisions.iter().all(|d| d["current_version"] == true));
    let note = decisions
        .iter()
        .find(|d| d["action"] == "case.note")
        .expect("a note decision");
    assert_eq!(note["outcome"]["outcome"], "allow");
    assert_eq!(note["policies"][0]["id"], "default.case-note");

    // Another policy set configured: the stored decisions were made by a
    // set that is no longer the current one.
    std::fs::write(
        dir.path().join("ops.cedar"),
        r#"@id("ops.notes") permit (principal, action == Warden::Action::"case.note", resource);"#,
    )
    .expect("write");
    let config = std::fs::read_to_string(dir.path().join("warden.toml")).expect("config");
    std::fs::write(
        dir.path().join("warden.toml"),
        config.replace("[policy]\n", "[policy]\npolicies = \"ops.cedar\"\n"),
    )
    .expect("write");
    let output = warden(dir.path(), &["policy", "explain", &case_id]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("NOT the current set"), "{text}");
    assert!(
        text.contains("default.case-note (not in the current policy set)"),
        "{text}"
    );
}

#[test]
fn explain_refuses_unknown_cases() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = warden(
        dir.path(),
        &[
            "policy",
            "explain",
            "case-01900000-0000-7000-8000-000000000000",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("no case"), "{}", stderr(&output));
    let output = warden(dir.path(), &["policy", "explain", "not-an-id"]);
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn a_case_closed_without_a_person_names_the_policy_on_its_card_and_in_explain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = [
        "triage",
        "examples/alerts",
        "--context",
        "examples/context",
        "--json",
    ];
    let output = warden(dir.path(), &args);
    assert!(output.status.success(), "{}", stderr(&output));
    let closed: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .filter(|c: &Value| c["disposition"] == "auto_closed")
        .collect();
    assert!(!closed.is_empty(), "no example closes without a person");
    for case in &closed {
        assert_eq!(case["auto_close"]["allowed"], true, "{case}");
        assert_eq!(case["auto_close"]["policy_ids"][0], "auto-close.permit");
    }
    let case_id = closed[0]["case_id"].as_str().expect("id").to_owned();

    let text = stdout(&warden(dir.path(), &["policy", "explain", &case_id]));
    assert!(text.contains("case.auto_close on case: allow"), "{text}");
    assert!(text.contains("auto-close.permit (permit): "), "{text}");
    let output = warden(dir.path(), &["policy", "explain", &case_id, "--json"]);
    let closure = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .find(|d| d["action"] == "case.auto_close")
        .expect("the closure decision");
    assert_eq!(closure["outcome"]["outcome"], "allow");
    assert_eq!(closure["policies"][0]["id"], "auto-close.permit");
    assert_eq!(closure["current_version"], true);

    // The human card says it too.
    let card = stdout(&warden(&dir.path().join("cards"), &args[..args.len() - 1]));
    assert!(
        card.contains("closed under policy auto-close.permit"),
        "{card}"
    );
}
