//! `warden triage --assessor llm` against a real model on a local llama.cpp
//! server (issue 19): Qwen2.5-Coder-0.5B-Instruct Q4_K_M, installed from
//! PyPI by `scripts/real-model.sh`. It proves the wire end to end, not the
//! model's judgement (no assertion on verdicts): the model calls a read
//! tool and the host vets it, every case ends in an answer that passed the
//! schema or a named escalation, every exchange is on the record as the
//! bytes sent and received, and the record replays byte for byte.
//!
//! Runs when `WARDEN_REAL_MODEL_URL` names a served model (`…/v1`), or
//! with `WARDEN_REQUIRE_REAL_MODEL=1`, which starts the server with the
//! script (stopped by its PID when the test ends) and fails, never skips,
//! when it cannot. Without either it does nothing (the default `cargo
//! test` has no model). `WARDEN_REAL_MODEL_CASES` (comma-separated alert
//! files) changes the cases.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::{stderr, stdout, warden_with_env};
use serde_json::Value;
use warden_domain::hashing::sha256_hex;
use warden_testkit::repo;

const CASES: &str =
    "examples/alerts/ocsf-mfa-fatigue.json,examples/alerts/ecs-powershell-encoded.json";

/// Stops the server the test started, by the PID the script recorded.
struct Served;

impl Drop for Served {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo().join("scripts/real-model.sh"))
            .arg("stop")
            .status();
    }
}

fn served() -> Option<(String, Option<Served>)> {
    if let Ok(url) = std::env::var("WARDEN_REAL_MODEL_URL") {
        return Some((url, None));
    }
    if std::env::var("WARDEN_REQUIRE_REAL_MODEL").as_deref() != Ok("1") {
        eprintln!(
            "real model: not run (no WARDEN_REAL_MODEL_URL; WARDEN_REQUIRE_REAL_MODEL=1 starts one)"
        );
        return None;
    }
    let output = Command::new("bash")
        .arg(repo().join("scripts/real-model.sh"))
        .args(["start", "0.5b"])
        .output()
        .expect("bash runs");
    let guard = Served;
    assert!(
        output.status.success(),
        "WARDEN_REQUIRE_REAL_MODEL=1 but the server did not start: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let url = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    Some((url, Some(guard)))
}

fn model_called(export: &Path) -> Vec<Value> {
    std::fs::read_to_string(export)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["entry"]["event"]["type"] == "model_called")
        .map(|l| l["entry"]["event"]["exchange"].clone())
        .collect()
}

fn codes(case: &Value) -> Vec<String> {
    case["escalation_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_real_model_calls_tools_answers_or_escalates_and_replays_byte_for_byte() {
    let Some((url, _server)) = served() else {
        return;
    };
    let cases_arg = std::env::var("WARDEN_REAL_MODEL_CASES").unwrap_or_else(|_| CASES.to_owned());
    let alerts: Vec<&str> = cases_arg.split(',').map(str::trim).collect();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("served");
    std::fs::create_dir_all(&dir).unwrap();
    // The local profile (long time-outs, one case in flight, a retry after
    // a time-out, short answers), with a tighter budget for CI.
    std::fs::write(
        dir.join("warden.toml"),
        "[llm]\nprofile = \"local\"\nmax_steps = 3\nmax_output_tokens = 512\n",
    )
    .unwrap();
    let env = [
        ("WARDEN_LLM_PROVIDER", "openai"),
        ("WARDEN_LLM_BASE_URL", url.as_str()),
        (
            "WARDEN_LLM_MODEL",
            "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        ),
    ];
    let mut args = vec!["triage"];
    args.extend(alerts.iter().copied());
    args.extend([
        "--context",
        "examples/context",
        "--assessor",
        "llm",
        "--json",
    ]);
    let started = Instant::now();
    let output = warden_with_env(&dir, &args, &env);
    let seconds = started.elapsed().as_secs_f64();
    assert!(output.status.success(), "{}", stderr(&output));
    let cases: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!cases.is_empty());

    // Every case: an answer that passed the schema, or a named escalation.
    for case in &cases {
        let codes = codes(case);
        let answered = !codes.iter().any(|c| c == "invalid_assessment")
            && !case["rationale"].as_array().unwrap().is_empty();
        let named = codes
            .iter()
            .any(|c| c == "invalid_assessment" || c == "assessor_failed");
        assert!(
            answered || named,
            "neither an answer nor a named escalation: {case}"
        );
    }

    // Every exchange is on the record as the bytes sent and received.
    let export = tmp.path().join("export.jsonl");
    let out = warden_with_env(
        &dir,
        &["audit", "export", "--output", export.to_str().unwrap()],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let exchanges = model_called(&export);
    assert!(exchanges.len() >= cases.len(), "{exchanges:?}");
    let (mut prompt, mut completion) = (0u64, 0u64);
    for exchange in &exchanges {
        let sent = exchange["request_text"].as_str().expect("request_text");
        assert_eq!(
            sha256_hex(sent.as_bytes()),
            exchange["request_sha256"].as_str().unwrap()
        );
        let received = exchange["response"].as_str().unwrap();
        if exchange["status"] == 200 {
            assert_eq!(
                sha256_hex(received.as_bytes()),
                exchange["response_sha256"].as_str().unwrap()
            );
        }
        prompt += exchange["prompt_tokens"].as_u64().unwrap();
        completion += exchange["completion_tokens"].as_u64().unwrap();
    }

    // The record replays byte for byte: each case from its audit entries,
    // and the whole run offline from the export as a recording.
    for case in &cases {
        let id = case["case_id"].as_str().unwrap();
        let replay = warden_with_env(&dir, &["replay", id, "--context", "examples/context"], &[]);
        let text = stdout(&replay);
        assert!(replay.status.success(), "{}{text}", stderr(&replay));
        assert!(text.contains("outcome: unchanged"), "{text}");
        assert!(!text.contains("request changed"), "{text}");
    }
    let offline = warden_with_env(
        &tmp.path().join("offline"),
        &args,
        &[
            ("WARDEN_LLM_PROVIDER", "replay"),
            ("WARDEN_LLM_RECORDINGS", export.to_str().unwrap()),
        ],
    );
    assert!(offline.status.success(), "{}", stderr(&offline));
    let offline: Vec<Value> = stdout(&offline)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = |cases: &[Value]| {
        let mut out: Vec<(String, String, Vec<String>)> = cases
            .iter()
            .map(|c| (c["title"].to_string(), c["verdict"].to_string(), codes(c)))
            .collect();
        out.sort();
        out
    };
    assert_eq!(summary(&cases), summary(&offline));

    // The tools the model asked for, each vetted by the host: run
    // (`tool_called` by the assessor) or refused (`tool_request_rejected`).
    let log = std::fs::read_to_string(&export).unwrap();
    let entries: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["entry"].clone())
        .collect();
    let called = entries
        .iter()
        .filter(|e| e["event"]["type"] == "tool_called" && e["actor"] == "assessor:llm")
        .count();
    let refused = entries
        .iter()
        .filter(|e| e["event"]["type"] == "tool_request_rejected")
        .count();
    let written_as_text = exchanges
        .iter()
        .filter(|x| x["outcome"] == "tool_calls written as text")
        .count();
    let n = cases.len() as f64;
    println!(
        "real model: {} case(s), {:.0} s ({:.0} s per case), {} model calls, {} prompt + {} completion tokens ({:.0} per case), tool calls: {called} run, {refused} refused, {written_as_text} replies with calls written as text; outcomes {:?}",
        cases.len(),
        seconds,
        seconds / n,
        exchanges.len(),
        prompt,
        completion,
        (prompt + completion) as f64 / n,
        summary(&cases)
    );
    assert!(
        called + refused >= 1,
        "the model made no tool call the host vetted ({} model calls)",
        exchanges.len()
    );
}
