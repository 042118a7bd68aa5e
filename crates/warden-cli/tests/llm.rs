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

/// The request bodies a double received, in order.
fn bodies(double: &ModelDouble) -> Vec<Value> {
    double.requests()
}

fn tool_names(body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
        .collect()
}

/// Issue 19: the llama.cpp server turns `response_format` into a grammar
/// that admits only the answer, so a request carrying both `tools` and
/// `response_format` never gets a tool call back. Under `auto` (the
/// default) a step that offers read tools offers the answer as the
/// `submit_assessment` tool and sends no `response_format`: the model
/// looks the account up, the host vets the call, and the tool-less last
/// step asks for the schema.
#[tokio::test(flavor = "multi_thread")]
async fn a_grammar_server_gets_tool_calls_only_when_the_answer_is_a_tool() {
    let alert = "examples/alerts/ocsf-mfa-fatigue.json";
    let args = [
        "triage",
        alert,
        "--context",
        "examples/context",
        "--assessor",
        "llm",
        "--json",
    ];
    let tmp = tempfile::tempdir().unwrap();

    // As before issue 19: both at once, and no tool call comes back.
    let double = ModelDouble::start_llama_cpp(Fault::None, Duration::ZERO).await;
    let dir = tmp.path().join("response-format");
    write_config(&dir, "[llm]\nstructured_output = \"response_format\"\n");
    let env = served_env(&double.url);
    let case = &cases(&warden_with_env(&dir, &args, &vars(&env)))[0];
    let sent = bodies(&double);
    assert_eq!(sent.len(), 1, "answered at once: {sent:?}");
    assert!(sent[0].get("response_format").is_some());
    assert!(!tool_names(&sent[0]).is_empty(), "the tools were offered");
    assert!(!case["evidence"].to_string().contains("identity_lookup"));

    // `auto`: the tool call happens, on the record, then the answer.
    let double = ModelDouble::start_llama_cpp(Fault::None, Duration::ZERO).await;
    let dir = tmp.path().join("auto");
    let env = served_env(&double.url);
    let case = &cases(&warden_with_env(&dir, &args, &vars(&env)))[0];
    assert_cites_evidence(case);
    let sent = bodies(&double);
    assert_eq!(sent.len(), 2, "{sent:?}");
    let first = &sent[0];
    assert!(first.get("response_format").is_none(), "{first}");
    assert_eq!(first["tool_choice"], "required");
    let names = tool_names(first);
    assert!(names.contains(&"identity_lookup".to_owned()), "{names:?}");
    assert_eq!(names.last().map(String::as_str), Some("submit_assessment"));
    let messages = sent[1]["messages"].as_array().unwrap();
    assert!(
        messages.iter().any(|m| m["role"] == "tool"),
        "the tool result went back: {messages:?}"
    );
    let log = stdout(&warden_with_env(
        &dir,
        &["audit", "export", "--kind", "tool_called"],
        &[],
    ));
    assert!(log.contains("identity_lookup"), "{log}");
    assert!(log.contains("assessor:llm"), "{log}");
}

/// Issue 19: a repair request names the way the next request offers the
/// answer, and nothing that request does not offer.
#[tokio::test(flavor = "multi_thread")]
async fn a_repair_names_what_the_request_offers() {
    let tmp = tempfile::tempdir().unwrap();
    for (max_steps, offered, not) in [
        // The repair step still offers the read tools: the answer tool.
        (4, "calling the submit_assessment tool", "response format"),
        // The repair is the last step: the response format only.
        (2, "response format's schema", "tool"),
    ] {
        let double = ModelDouble::start(Fault::OffSchema, Duration::ZERO).await;
        let dir = tmp.path().join(format!("steps-{max_steps}"));
        write_config(&dir, &format!("[llm]\nmax_steps = {max_steps}\n"));
        let env = served_env(&double.url);
        let output = warden_with_env(
            &dir,
            &[
                "triage",
                "examples/alerts/ocsf-mfa-fatigue.json",
                "--context",
                "examples/context",
                "--assessor",
                "llm",
                "--json",
            ],
            &vars(&env),
        );
        let case = &cases(&output)[0];
        assert!(
            case["escalation_reasons"]
                .to_string()
                .contains("invalid_assessment"),
            "{case}"
        );
        let sent = bodies(&double);
        let repair_request = &sent[1];
        let last_user = repair_request["messages"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|m| m["role"] == "user")
            .unwrap();
        let repair: Value = serde_json::from_str(last_user["content"].as_str().unwrap()).unwrap();
        let instruction = repair["instruction"].as_str().unwrap();
        assert!(instruction.contains(offered), "{instruction}");
        assert!(!instruction.contains(not), "{instruction}");
        let has_submit_tool = tool_names(repair_request).contains(&"submit_assessment".to_owned());
        assert_eq!(has_submit_tool, max_steps == 4, "{repair_request}");
        assert_eq!(
            repair_request.get("response_format").is_some(),
            max_steps == 2
        );
    }
}

/// Issue 19: the record keeps the bytes. Each `model_called` entry holds
/// the request exactly as sent (its SHA-256 is the recorded one, though
/// the log stores entries as canonical JSON), and `warden audit export`
/// output replays as a recording as it is. A recording with no exchange is
/// refused, never a run where every call fails.
#[tokio::test(flavor = "multi_thread")]
async fn an_audit_export_replays_as_a_recording_and_an_empty_one_is_refused() {
    let double = ModelDouble::start(Fault::None, Duration::ZERO).await;
    let tmp = tempfile::tempdir().unwrap();
    let served_dir = tmp.path().join("served");
    let env = served_env(&double.url);
    let args = [
        "triage",
        "examples/alerts",
        "--context",
        "examples/context",
        "--assessor",
        "llm",
        "--json",
    ];
    let served = cases(&warden_with_env(&served_dir, &args, &vars(&env)));
    let export = tmp.path().join("export.jsonl");
    let output = warden_with_env(
        &served_dir,
        &["audit", "export", "--output", export.to_str().unwrap()],
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));

    let text = std::fs::read_to_string(&export).unwrap();
    let mut exchanges = 0;
    for line in text.lines() {
        let line: Value = serde_json::from_str(line).unwrap();
        let event = &line["entry"]["event"];
        if event["type"] != "model_called" {
            continue;
        }
        exchanges += 1;
        let exchange = &event["exchange"];
        let sent = exchange["request_text"].as_str().unwrap();
        assert_eq!(
            warden_domain::hashing::sha256_hex(sent.as_bytes()),
            exchange["request_sha256"].as_str().unwrap()
        );
        assert_eq!(
            warden_domain::hashing::sha256_hex(exchange["response"].as_str().unwrap().as_bytes()),
            exchange["response_sha256"].as_str().unwrap()
        );
        // The parsed form beside the text says the same.
        assert_eq!(
            serde_json::from_str::<Value>(sent).unwrap(),
            exchange["request"]
        );
    }
    assert_eq!(exchanges, double.requests().len());
    // The bytes the double received are the bytes on the record.
    let received: Vec<String> = double.requests().iter().map(Value::to_string).collect();
    assert!(text.lines().any(|l| {
        let l: Value = serde_json::from_str(l).unwrap();
        l["entry"]["event"]["exchange"]["request_text"]
            .as_str()
            .is_some_and(|t| received.contains(&t.to_owned()))
    }));

    let offline = cases(&warden_with_env(
        &tmp.path().join("offline"),
        &args,
        &replay_from(&export),
    ));
    offline.iter().for_each(assert_cites_evidence);
    assert_eq!(outcomes(&served), outcomes(&offline));

    // An export of a run with no model: nothing to answer from.
    let plain_dir = tmp.path().join("plain");
    let _ = warden_with_env(
        &plain_dir,
        &["triage", "examples/alerts", "--context", "examples/context"],
        &[],
    );
    let empty = tmp.path().join("empty.jsonl");
    let output = warden_with_env(
        &plain_dir,
        &["audit", "export", "--output", empty.to_str().unwrap()],
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let refused = warden_with_env(&tmp.path().join("refused"), &args, &replay_from(&empty));
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("holds no model exchange"),
        "{}",
        stderr(&refused)
    );
}
