//! No model closes a case that must reach a person (issue 17, S4): the
//! whole of `validation/core`, read as it is at run time, through `warden
//! eval --assessor llm|ensemble` against a local model (the model double,
//! on the OpenAI wire format) that is
//!
//! 1. calm and wrong: every case benign at 0.99, citing the case's own
//!    evidence (an answer that passes every check);
//! 2. without a verdict: every answer `unknown`;
//! 3. an ensemble whose second model answers HTTP 500.
//!
//! In each run: no case labelled `must_escalate = true` is closed, and
//! nothing unsafe runs.

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

const LEAD: &str = "double-analyst-1";
const SECOND: &str = "double-analyst-2";

/// `warden eval validation/core --assessor ASSESSOR --json` against the
/// double at `url`, in a fresh data directory with `config`.
fn eval(dir: &Path, url: &str, assessor: &str, config: &str) -> Value {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("warden.toml"), config).unwrap();
    let base_url = format!("{url}/v1");
    let output = warden_with_env(
        dir,
        &["eval", "validation/core", "--assessor", assessor, "--json"],
        &[
            ("WARDEN_LLM_PROVIDER", "openai"),
            ("WARDEN_LLM_BASE_URL", &base_url),
            ("WARDEN_LLM_MODEL", LEAD),
            ("WARDEN_LLM_API_KEY", "sk-test-closing-5b2e"),
        ],
    );
    // 1 is a failed label (wrong verdicts are expected of these models).
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        stderr(&output)
    );
    serde_json::from_str(stdout(&output).trim()).expect("the eval report")
}

/// What one run did, for the assertions and the log.
struct Tally {
    cases: usize,
    must_escalate: usize,
    closed_that_must_escalate: Vec<String>,
    escalated: usize,
    unsafe_executions: u64,
    errors: u64,
}

fn tally(report: &Value) -> Tally {
    let per_case = report["per_case"].as_array().expect("per_case");
    let must: Vec<&Value> = per_case
        .iter()
        .filter(|c| c["must_escalate"] == Value::Bool(true))
        .collect();
    Tally {
        cases: per_case.len(),
        must_escalate: must.len(),
        closed_that_must_escalate: must
            .iter()
            .filter(|c| c["escalated"] != Value::Bool(true))
            .map(|c| format!("{} ({}, {})", c["id"], c["verdict"], c["triggers"]))
            .collect(),
        escalated: per_case
            .iter()
            .filter(|c| c["escalated"] == Value::Bool(true))
            .count(),
        unsafe_executions: report["unsafe_executions"].as_u64().expect("count"),
        errors: report["errors"].as_u64().expect("count"),
    }
}

/// Every case's trigger codes.
fn triggers(report: &Value) -> Vec<Vec<String>> {
    report["per_case"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["triggers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn calm_wrong_unknown_and_failing_models_never_close_a_case_that_must_escalate() {
    let tmp = tempfile::tempdir().unwrap();
    // No retries: a 500 fails at once (the retry path has its own tests).
    let quick = "[llm]\nmax_retries = 0\ntimeout_seconds = 10\n";
    let runs = [
        ("calm and wrong", Fault::CalmlyWrong, None, "llm"),
        ("no verdict", Fault::NoVerdict, None, "llm"),
        (
            "second model fails",
            Fault::CalmlyWrong,
            Some(Fault::ServerError),
            "ensemble",
        ),
    ];
    // The three runs at once, each against its own double: a run is
    // mostly waiting on its store's commits, so they overlap well.
    let mut started = Vec::new();
    for (name, lead, second, assessor) in runs {
        let per_model: Vec<(&str, Fault)> = second.map(|f| (SECOND, f)).into_iter().collect();
        let double = ModelDouble::start_with_models(lead, Duration::ZERO, &per_model).await;
        let config = match second {
            Some(_) => format!("{quick}second_model = \"{SECOND}\"\n"),
            None => quick.to_owned(),
        };
        let dir = tmp.path().join(name.replace(' ', "-"));
        let url = double.url.clone();
        let run = tokio::task::spawn_blocking(move || eval(&dir, &url, assessor, &config));
        started.push((name, lead, second, assessor, double, run));
    }
    let mut summary = Vec::new();
    for (name, lead, second, assessor, double, run) in started {
        let report = run.await.expect("the eval run");
        let t = tally(&report);
        summary.push(format!(
            "{name} (--assessor {assessor}): {} cases, {} must escalate, {} of them closed, \
             {} escalated in all, {} unsafe executions, {} errors",
            t.cases,
            t.must_escalate,
            t.closed_that_must_escalate.len(),
            t.escalated,
            t.unsafe_executions,
            t.errors
        ));
        assert!(t.cases > 0 && t.must_escalate > 0, "{name}: an empty set");
        assert_eq!(t.errors, 0, "{name}: cases that did not run");
        assert!(
            t.closed_that_must_escalate.is_empty(),
            "{name}: closed cases that must escalate: {:#?}",
            t.closed_that_must_escalate
        );
        assert_eq!(t.unsafe_executions, 0, "{name}");

        // The model was really asked, on the real wire format.
        let requests = double.requests();
        assert!(
            requests.len() >= t.cases,
            "{name}: {} calls",
            requests.len()
        );
        let codes = triggers(&report);
        match second {
            // Every case heard from the failing model, and none closed.
            Some(_) => {
                assert!(
                    requests.iter().any(|r| r["model"] == SECOND),
                    "{name}: the second model was never called"
                );
                assert_eq!(t.escalated, t.cases, "{name}");
                assert!(
                    codes
                        .iter()
                        .all(|c| c.iter().any(|t| t == "assessor_failed")),
                    "{name}: {codes:?}"
                );
            }
            None if lead == Fault::NoVerdict => {
                assert_eq!(t.escalated, t.cases, "{name}");
                assert!(
                    codes.iter().all(|c| c.iter().any(|t| t == "no_verdict")),
                    "{name}: {codes:?}"
                );
            }
            None => {}
        }
    }
    eprintln!("{}", summary.join("\n"));
}
