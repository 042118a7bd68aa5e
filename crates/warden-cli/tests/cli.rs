//! The `warden` binary, driven as a user would, on the repository's
//! examples.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "integration tests fail by panicking"
)]

mod common;
use common::{stderr, stdout, warden};

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use serde_json::Value;
use warden_audit::{AuditLog, StoreAuditLog, stages_of};
use warden_domain::{CaseId, Stage, SystemClock};
use warden_store::SqliteStore;

use warden_testkit::repo;

fn triage_json(data_dir: &Path, extra: &[&str]) -> (Output, Vec<Value>) {
    let mut args = vec![
        "triage",
        "examples/alerts",
        "--context",
        "examples/context",
        "--json",
    ];
    args.extend_from_slice(extra);
    let output = warden(data_dir, &args);
    let cases = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is a JSON object"))
        .collect();
    (output, cases)
}

#[test]
fn triage_json_has_the_contract_keys_for_every_case() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (output, cases) = triage_json(dir.path(), &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(cases.len(), 5);
    for case in &cases {
        for key in [
            "case_id",
            "alerts",
            "verdict",
            "severity",
            "confidence",
            "disposition",
            "escalation_reasons",
            "rationale",
            "proposed_actions",
        ] {
            assert!(case.get(key).is_some(), "missing {key} in {case}");
        }
        let evidence: BTreeSet<&str> = case["evidence"]
            .as_array()
            .expect("evidence")
            .iter()
            .filter_map(|e| e["id"].as_str())
            .collect();
        for item in case["rationale"].as_array().expect("rationale") {
            let cited = item["evidence"].as_array().expect("citations");
            assert!(!cited.is_empty(), "uncited rationale {item}");
            for id in cited {
                assert!(
                    evidence.contains(id.as_str().expect("id")),
                    "cites unknown {id}"
                );
            }
        }
        for action in case["proposed_actions"].as_array().expect("actions") {
            for key in ["action", "target", "decision", "policy_ids"] {
                assert!(action.get(key).is_some(), "missing {key} in {action}");
            }
        }
        let disposition = case["disposition"].as_str().expect("disposition");
        assert!(
            ["auto_closed", "escalated", "awaiting_approval", "actioned"].contains(&disposition)
        );
    }
}

#[test]
fn each_case_has_audit_events_for_every_stage_it_went_through() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (output, cases) = triage_json(dir.path(), &[]);
    assert!(output.status.success());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = Arc::new(
            SqliteStore::open(&dir.path().join("warden.db"))
                .await
                .expect("store"),
        );
        let audit = StoreAuditLog::new(store, Arc::new(SystemClock));
        for case in &cases {
            let id = CaseId::parse(case["case_id"].as_str().expect("id")).expect("case id");
            let records = audit.records(Some(id)).await.expect("records");
            let expected: BTreeSet<Stage> = [
                Stage::Correlate,
                Stage::Enrich,
                Stage::Assess,
                Stage::Decide,
                Stage::Approve,
                Stage::Execute,
                Stage::Case,
            ]
            .into();
            assert_eq!(stages_of(&records), expected, "{}", case["title"]);
            // The pipeline decides each proposal once; the executor decides
            // again, with the approvals verified, for each order it runs.
            let decided = records
                .iter()
                .filter(|r| {
                    r.entry.event.kind() == "policy_decided" && r.entry.actor == "system:pipeline"
                })
                .count();
            assert_eq!(
                decided,
                case["proposed_actions"].as_array().map_or(0, Vec::len)
            );
        }
        let all = audit.records(None).await.expect("records");
        assert_eq!(
            all.iter()
                .filter(|r| r.entry.event.stage() == Stage::Ingest)
                .count(),
            8
        );
    });
}

#[test]
fn a_malformed_file_exits_2_names_file_and_reason_and_the_rest_is_triaged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs = tempfile::tempdir().expect("tempdir");
    std::fs::write(inputs.path().join("broken.json"), "{\"class_uid\": 2004, ").expect("write");
    std::fs::copy(
        repo().join("examples/alerts/ocsf-mfa-fatigue.json"),
        inputs.path().join("good.json"),
    )
    .expect("copy");
    let missing = inputs.path().join("missing.json");
    let output = warden(
        dir.path(),
        &[
            "triage",
            inputs.path().to_str().expect("utf-8 path"),
            missing.to_str().expect("utf-8 path"),
            "--context",
            "examples/context",
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("broken.json: malformed JSON at line 1 column"),
        "{err}"
    );
    assert!(err.contains("missing.json: cannot read file"), "{err}");
    assert!(
        stdout(&output).contains("MFA push fatigue"),
        "the good file is still triaged"
    );
}

#[test]
fn untrusted_text_cannot_forge_lines_on_the_card() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs = tempfile::tempdir().expect("tempdir");
    let alert = serde_json::json!({
        "@timestamp": "2026-11-17T10:00:00Z",
        "kibana.alert.rule.name": "Rule",
        "kibana.alert.severity": "low",
        "kibana.alert.reason": "x\u{1b}[2J\nverdict: BENIGN · auto_closed\u{202e}",
        "host": {"name": "ws-1"}
    });
    std::fs::write(inputs.path().join("a.json"), alert.to_string()).expect("write");
    let output = warden(
        dir.path(),
        &["triage", inputs.path().to_str().expect("path")],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let card = stdout(&output);
    assert!(!card.contains('\u{1b}'));
    assert!(!card.contains('\u{202e}'));
    assert!(
        !card.lines().any(|l| l.starts_with("verdict: BENIGN")),
        "{card}"
    );
}

#[test]
fn init_says_what_it_made_and_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let first = warden(&data, &["init"]);
    assert!(first.status.success());
    let text = stdout(&first);
    for made in ["data\n", "warden.toml", "warden.db"] {
        assert!(text.contains(made), "{text}");
    }
    assert!(text.contains("default.case-note"));
    let second = warden(&data, &["init"]);
    assert!(stdout(&second).contains("nothing to create"));
}

#[test]
fn actions_lists_the_catalogue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = warden(dir.path(), &["actions", "--json"]);
    let actions: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(actions.len(), 20);
    assert!(
        actions
            .iter()
            .any(|a| a["action"] == "edr.isolate_host" && a["reverse"] == "edr.release_host")
    );
    let table = stdout(&warden(dir.path(), &["actions"]));
    assert!(table.contains("cloud.disable_access_key"));
}

#[test]
fn unknown_assessor_and_format_are_refused_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = warden(
        dir.path(),
        &["triage", "examples/alerts", "--assessor", "gpt"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("assessor \"gpt\" is not available"));
    // The LLM assessor without a provider says which setting to make.
    let output = warden(
        dir.path(),
        &["triage", "examples/alerts", "--assessor", "llm"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("set WARDEN_LLM_PROVIDER"),
        "{}",
        stderr(&output)
    );
    let output = warden(
        dir.path(),
        &["triage", "examples/alerts", "--format", "asff"],
    );
    assert_eq!(output.status.code(), Some(2), "clap usage error");
    assert!(stderr(&output).contains("unknown format \"asff\""));
}

#[test]
fn dead_letters_can_be_listed_shown_and_retried() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inputs = tempfile::tempdir().expect("tempdir");
    // An ECS event that is not marked as an alert: detection refuses it,
    // forcing the format accepts it.
    let odd = serde_json::json!({
        "@timestamp": "2026-11-17T10:00:00Z",
        "event": {"kind": "event"},
        "rule": {"name": "Custom rule"},
        "host": {"name": "ws-1"},
        "message": "\u{1b}[31mred"
    });
    std::fs::write(inputs.path().join("odd.json"), odd.to_string()).expect("write");
    let triage = warden(
        dir.path(),
        &["triage", inputs.path().to_str().expect("path")],
    );
    assert_eq!(triage.status.code(), Some(2));

    let list = warden(dir.path(), &["deadletter", "list", "--json"]);
    let letters: Vec<Value> = stdout(&list)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(letters.len(), 1);
    let id = letters[0]["id"].as_str().expect("id").to_owned();
    assert!(
        letters[0]["reason"]
            .as_str()
            .expect("reason")
            .starts_with("unknown alert format")
    );
    assert!(
        letters[0]["origin"]
            .as_str()
            .expect("origin")
            .ends_with("odd.json")
    );

    let show = stdout(&warden(dir.path(), &["deadletter", "show", &id]));
    assert!(show.contains("Custom rule"), "{show}");
    assert!(!show.contains('\u{1b}'), "payload is escaped");

    let again = warden(dir.path(), &["deadletter", "retry", &id]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stdout(&again).contains("still rejected: unknown alert format"));

    let forced = warden(dir.path(), &["deadletter", "retry", &id, "--format", "ecs"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert!(
        stdout(&forced).contains("ingested; case-"),
        "{}",
        stdout(&forced)
    );

    assert!(stdout(&warden(dir.path(), &["deadletter", "list"])).is_empty());
    let all = stdout(&warden(
        dir.path(),
        &["deadletter", "list", "--all", "--json"],
    ));
    assert!(all.contains("ingested as alert-"), "{all}");
    let twice = warden(dir.path(), &["deadletter", "retry", &id]);
    assert!(stdout(&twice).contains("already resolved"));
}

#[test]
fn a_configured_attack_catalogue_names_techniques_on_the_card() {
    let Some(catalogue) = warden_testkit::shared_data("context/attack/enterprise_techniques.json")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("warden.toml"),
        format!(
            "[ingest]\nattack_catalogue = {:?}\n",
            catalogue.display().to_string()
        ),
    )
    .expect("config");
    let output = warden(
        dir.path(),
        &["triage", "examples/alerts/ecs-lsass-access.json"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("ATT&CK: T1003 OS Credential Dumping (Credential Access); T1003.001 LSASS Memory (Credential Access)"),
        "{}",
        stdout(&output)
    );

    std::fs::write(
        dir.path().join("warden.toml"),
        "[ingest]\nattack_catalogue = \"missing.json\"\n",
    )
    .expect("config");
    let output = warden(
        dir.path(),
        &["triage", "examples/alerts/ecs-lsass-access.json"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("attack_catalogue"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_mapping_file_adds_a_source_without_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let samples = "crates/warden-ingest/testdata/mapped";
    // Unknown without the mapping: refused and kept.
    let output = warden(dir.path(), &["triage", samples, "--json"]);
    assert!(stderr(&output).contains("unknown alert format"));

    // With --mapping: one case from the three related Wazuh alerts.
    let output = warden(
        dir.path(),
        &[
            "triage",
            samples,
            "--json",
            "--mapping",
            "examples/mappings/wazuh.toml",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let cases: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(cases.len(), 1);
    let alerts = cases[0]["alerts"].as_array().expect("alerts");
    assert_eq!(alerts.len(), 3);
    assert!(
        alerts
            .iter()
            .all(|a| a["format"] == "mapped" && a["product"] == "Wazuh")
    );

    // The same from warden.toml, and --format takes the mapping's name.
    std::fs::copy(
        repo().join("examples/mappings/wazuh.toml"),
        dir.path().join("wazuh.toml"),
    )
    .expect("copy");
    std::fs::write(
        dir.path().join("warden.toml"),
        "[ingest]\nmappings = [\"wazuh.toml\"]\n",
    )
    .expect("config");
    let output = warden(dir.path(), &["triage", samples, "--format", "wazuh"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("1 case triaged"),
        "{}",
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("[mapped: Wazuh]"),
        "{}",
        stdout(&output)
    );

    // A broken mapping is refused, naming the file and the problem.
    std::fs::write(dir.path().join("wazuh.toml"), "name = \"wazuh\"\n").expect("break");
    let output = warden(dir.path(), &["triage", samples]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("[ingest] mappings") && err.contains("missing field"),
        "{err}"
    );
}

#[test]
fn eval_scores_the_repository_set_with_no_false_negative_or_unsafe_execution() {
    let data = tempfile::tempdir().expect("dir");
    let set = repo().join("validation/core");
    let out = warden(
        data.path(),
        &["eval", set.to_str().expect("utf-8"), "--json"],
    );
    // 0 when every case passes, 1 when some label is missed; never 2.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert!(report["cases"].as_u64().expect("cases") >= 60);
    assert_eq!(report["errors"], 0);
    assert_eq!(report["false_negatives"], 0);
    assert_eq!(report["unsafe_executions"], 0);
    // The two sides of the trade-off (issue 17): no threat closed, and few
    // cases that need no person sent to one.
    assert!(report["needless_escalation_rate"].as_f64().expect("rate") <= 0.10);
    // Exact accuracy counts abstentions (`unknown`, always escalated) as
    // misses; the side of the threat line is what decides closing.
    assert!(report["verdict_side_accuracy"].as_f64().expect("side") >= 0.95);
    assert!(report["verdict_accuracy"].as_f64().expect("accuracy") >= 0.84);
    let per_case = report["per_case"].as_array().expect("per_case");
    for playbook in [
        "cloud-access-key",
        "phishing",
        "suspicious-sign-in",
        "credential-access",
        "endpoint-malware",
        "network-ids",
        "suspicious-process",
        "default",
    ] {
        assert!(
            per_case.iter().any(|c| c["use_case"] == playbook),
            "no case for {playbook}"
        );
        let figures = &report["per_playbook"][playbook];
        assert!(figures["cases"].as_u64().expect("cases") >= 1, "{playbook}");
        assert!(
            figures["needless_escalation_rate"].is_f64(),
            "{playbook}: {figures}"
        );
    }
    assert!(report["needless_escalations"].is_u64(), "{report}");
    assert!(report["needless_escalation_rate"].is_f64(), "{report}");
}

#[test]
fn eval_prints_the_needless_escalation_rate_per_playbook() {
    let data = tempfile::tempdir().expect("dir");
    let set = tempfile::tempdir().expect("set");
    std::fs::write(set.path().join("set.toml"), "name = \"mini\"\n").expect("write");
    let case = set.path().join("cases/scan");
    std::fs::create_dir_all(&case).expect("dir");
    std::fs::copy(
        repo().join("examples/alerts/ocsf-port-scan.jsonl"),
        case.join("alert.jsonl"),
    )
    .expect("copy");
    std::fs::write(
        case.join("expect.toml"),
        "verdict = \"any\"\nmust_escalate = false\n",
    )
    .expect("write");
    let out = warden(data.path(), &["eval", set.path().to_str().expect("utf-8")]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("needless escalations"), "{text}");
    let row = text
        .lines()
        .find(|l| l.contains("network-ids") && !l.contains("scan"))
        .unwrap_or_else(|| panic!("no per-playbook row: {text}"));
    // One case, labelled must-not escalate: a rate of 0 or 1.
    let cells: Vec<&str> = row
        .split(['│', '┆'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(cells.len(), 9, "{row}");
    assert_eq!(cells[1], "1", "{row}");
    assert_eq!(cells[6], "1", "must not escalate: {row}");
    assert!(matches!(cells[8], "0.000" | "1.000"), "{row}");
}

#[test]
fn eval_of_an_invalid_set_exits_2_naming_the_file() {
    let data = tempfile::tempdir().expect("dir");
    let set = tempfile::tempdir().expect("set");
    std::fs::write(set.path().join("set.toml"), "name = \"bad\"\n").expect("write");
    let case = set.path().join("cases/c1");
    std::fs::create_dir_all(&case).expect("dir");
    std::fs::copy(
        repo().join("examples/alerts/ocsf-port-scan.jsonl"),
        case.join("alert.jsonl"),
    )
    .expect("copy");
    std::fs::write(
        case.join("expect.toml"),
        "verdict = \"benign\"\nforbid_actions = [\"edr.reboot\"]\n",
    )
    .expect("write");
    let out = warden(data.path(), &["eval", set.path().to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("expect.toml") && stderr.contains("line 2"),
        "{stderr}"
    );
    let unknown = warden(
        data.path(),
        &[
            "eval",
            set.path().to_str().expect("utf-8"),
            "--assessor",
            "oracle",
        ],
    );
    assert_eq!(unknown.status.code(), Some(2));
}
