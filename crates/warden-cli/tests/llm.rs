//! `--assessor llm` as a user runs it: `warden triage` against a served
//! model (a local server speaking the OpenAI wire format), recorded; then
//! `warden replay CASE` from the audit record; then the same triage and
//! `warden eval --assessor llm` offline from the recording; and the
//! recordings committed in the repository still replay.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{stderr, stdout, warden_with_env};
use serde_json::Value;
use warden_testkit::model_double::{Fault, ModelDouble};
use warden_testkit::repo;

fn cases(output: &std::process::Output) -> Vec<Value> {
    assert!(output.status.success(), "{}", stderr(output));
    stdout(output)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line per case"))
        .collect()
}

/// What must hold of every LLM card: the model assessed, every cited id is
/// one of the case's evidence ids, and the answer passed its checks.
fn assert_cites_evidence(case: &Value) {
    assert_eq!(case["assessor"], "llm", "{case}");
    let known: Vec<&str> = case["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let rationale = case["rationale"].as_array().unwrap();
    assert!(!rationale.is_empty());
    for item in rationale {
        for id in item["evidence"].as_array().unwrap() {
            assert!(
                known.contains(&id.as_str().unwrap()),
                "{id} not in {known:?}"
            );
        }
    }
    let codes: Vec<&str> = case["escalation_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(!codes.contains(&"invalid_assessment"), "{case}");
}

/// (verdict, actions) per case title, to compare runs.
fn outcomes(cases: &[Value]) -> Vec<(String, String, Vec<String>)> {
    let mut out: Vec<_> = cases
        .iter()
        .map(|c| {
            let mut actions: Vec<String> = c["proposed_actions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| format!("{} {}", a["action"], a["decision"]))
                .collect();
            actions.sort();
            (c["title"].to_string(), c["verdict"].to_string(), actions)
        })
        .collect();
    out.sort();
    out
}

fn served_env(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("WARDEN_LLM_PROVIDER", "openai".to_owned()),
        ("WARDEN_LLM_BASE_URL", format!("{url}/v1")),
        ("WARDEN_LLM_MODEL", "double-analyst-1".to_owned()),
        ("WARDEN_LLM_API_KEY", "sk-test-cli-7d3e".to_owned()),
    ]
}

fn vars<'a>(list: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    list.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn write_config(dir: &Path, body: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("warden.toml"), body).unwrap();
}

/// `[llm] record_to = recording`, then `extra` settings.
fn record_to(dir: &Path, recording: &Path, extra: &str) {
    write_config(
        dir,
        &format!(
            "[llm]\nrecord_to = {:?}\n{extra}",
            recording.to_str().unwrap()
        ),
    );
}

/// The environment that answers every model call from `recording`.
fn replay_from(recording: &Path) -> [(&'static str, &str); 2] {
    [
        ("WARDEN_LLM_PROVIDER", "replay"),
        ("WARDEN_LLM_RECORDINGS", recording.to_str().unwrap()),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn served_then_replayed_then_offline_triage_agree() {
    let double = ModelDouble::start(Fault::None, Duration::ZERO).await;
    let tmp = tempfile::tempdir().unwrap();
    let served_dir = tmp.path().join("served");
    let recording = tmp.path().join("recording.jsonl");
    record_to(&served_dir, &recording, "");
    let env = served_env(&double.url);
    let served = cases(&warden_with_env(
        &served_dir,
        &[
            "triage",
            "examples/alerts",
            "--context",
            "examples/context",
            "--assessor",
            "llm",
            "--json",
        ],
        &vars(&env),
    ));
    assert!(served.len() >= 4);
    served.iter().for_each(assert_cites_evidence);
    assert!(double.requests().len() >= served.len());

    // The human card cites evidence too.
    let card = stdout(&warden_with_env(
        &tmp.path().join("cards"),
        &[
            "triage",
            "examples/alerts/ecs-outbound-malicious-ip.json",
            "--context",
            "examples/context",
            "--assessor",
            "llm",
        ],
        &vars(&env),
    ));
    assert!(card.contains("ev-alert-1"), "{card}");
    assert!(card.contains("net.block_indicator"), "{card}");

    // Replay one case from its audit record: nothing changed.
    let case_id = served[0]["case_id"].as_str().unwrap();
    let replay = warden_with_env(
        &served_dir,
        &["replay", case_id, "--context", "examples/context"],
        &[],
    );
    let text = stdout(&replay);
    assert!(replay.status.success(), "{}{text}", stderr(&replay));
    assert!(text.contains("outcome: unchanged"), "{text}");
    assert!(text.contains("same request"), "{text}");
    assert!(!text.contains("request changed"), "{text}");

    let json = stdout(&warden_with_env(
        &served_dir,
        &["replay", case_id, "--context", "examples/context", "--json"],
        &[],
    ));
    let report: Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(report["recorded"], report["replayed"]);

    // Under a stricter configuration the same recorded answers lead
    // elsewhere: the model's 0.85 is now below the confidence threshold.
    // The requests are the same (the prompt did not change).
    let malicious = served
        .iter()
        .find(|c| c["verdict"] == "malicious")
        .expect("a malicious case")["case_id"]
        .as_str()
        .unwrap();
    record_to(
        &served_dir,
        &recording,
        "\n[escalation]\nmin_confidence = 0.95\n",
    );
    let stricter = stdout(&warden_with_env(
        &served_dir,
        &["replay", malicious, "--context", "examples/context"],
        &[],
    ));
    assert!(stricter.contains("outcome: CHANGED"), "{stricter}");
    let replayed = stricter.split("replayed:").nth(1).unwrap();
    assert!(replayed.contains("low_confidence"), "{stricter}");
    assert!(!stricter.contains("request changed"), "{stricter}");

    // Offline: a fresh data directory answers from the recording alone.
    let offline = cases(&warden_with_env(
        &tmp.path().join("offline"),
        &[
            "triage",
            "examples/alerts",
            "--context",
            "examples/context",
            "--assessor",
            "llm",
            "--json",
        ],
        &replay_from(&recording),
    ));
    offline.iter().for_each(assert_cites_evidence);
    assert_eq!(outcomes(&served), outcomes(&offline));

    // An unknown case, and a case triaged without an LLM, are refused.
    let none = warden_with_env(
        &served_dir,
        &["replay", "case-0190b6a4-0000-7000-8000-000000000000"],
        &[],
    );
    assert_eq!(none.status.code(), Some(2), "{}", stderr(&none));
    // Refreshing the committed recordings is this test's job too.
    if std::env::var_os("WARDEN_UPDATE_RECORDINGS").is_some() {
        std::fs::copy(
            &recording,
            repo().join("examples/recordings/example-alerts.jsonl"),
        )
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn eval_runs_from_recordings_and_the_committed_ones_still_replay() {
    let double = ModelDouble::start(Fault::None, Duration::ZERO).await;
    let tmp = tempfile::tempdir().unwrap();
    let recording = tmp.path().join("core.jsonl");
    let served_dir = tmp.path().join("served");
    record_to(&served_dir, &recording, "");
    let env = served_env(&double.url);
    let served = warden_with_env(
        &served_dir,
        &["eval", "validation/core", "--assessor", "llm", "--json"],
        &vars(&env),
    );
    assert!(
        matches!(served.status.code(), Some(0 | 1)),
        "{}",
        stderr(&served)
    );
    let served: Value = serde_json::from_str(stdout(&served).trim()).unwrap();
    let offline = warden_with_env(
        &tmp.path().join("offline"),
        &["eval", "validation/core", "--assessor", "llm", "--json"],
        &replay_from(&recording),
    );
    assert!(
        matches!(offline.status.code(), Some(0 | 1)),
        "{}",
        stderr(&offline)
    );
    let offline: Value = serde_json::from_str(stdout(&offline).trim()).unwrap();
    assert_eq!(offline["unsafe_executions"], 0);
    for key in [
        "verdict_accuracy",
        "false_negatives",
        "escalation_recall",
        "unsafe_executions",
        "errors",
    ] {
        assert_eq!(served[key], offline[key], "{key}");
    }
    if std::env::var_os("WARDEN_UPDATE_RECORDINGS").is_some() {
        std::fs::copy(&recording, repo().join("validation/recordings/core.jsonl")).unwrap();
    }

    // The committed recordings answer every call (no step missing).
    for (args, recording) in [
        (
            vec![
                "triage",
                "examples/alerts",
                "--context",
                "examples/context",
                "--assessor",
                "llm",
                "--json",
            ],
            "examples/recordings/example-alerts.jsonl",
        ),
        (
            vec!["eval", "validation/core", "--assessor", "llm", "--json"],
            "validation/recordings/core.jsonl",
        ),
    ] {
        let path = repo().join(recording);
        let output = warden_with_env(
            &tmp.path().join(recording.replace('/', "_")),
            &args,
            &replay_from(&path),
        );
        let text = stdout(&output);
        assert!(
            matches!(output.status.code(), Some(0 | 1)),
            "{recording}: {}",
            stderr(&output)
        );
        assert!(
            !text.contains("not_recorded"),
            "{recording}: a call is missing"
        );
        assert!(!text.contains("invalid_assessment"), "{recording}");
    }
}
