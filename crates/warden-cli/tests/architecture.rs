//! The dependency rule, checked on the real crate graph: the assessing code
//! cannot reach the executor, the approval stage, the audit log or the store
//! (so it cannot write or act), whatever a later change adds to it.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "integration tests fail by panicking"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// Normal (non-dev) dependencies of every workspace package, by name.
fn workspace_graph() -> BTreeMap<String, BTreeSet<String>> {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--no-deps",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata JSON");
    let mut graph = BTreeMap::new();
    for package in metadata["packages"].as_array().expect("packages") {
        let name = package["name"].as_str().expect("name").to_owned();
        let deps = package["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str().map(str::to_owned))
            .collect();
        graph.insert(name, deps);
    }
    graph
}

fn reachable(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_owned()];
    while let Some(name) = stack.pop() {
        for dep in graph.get(&name).into_iter().flatten() {
            if seen.insert(dep.clone()) {
                stack.push(dep.clone());
            }
        }
    }
    seen
}

#[test]
fn the_assessors_cannot_reach_the_executor_or_store_writes() {
    let graph = workspace_graph();
    // The LLM assessor talks to a model over HTTP; like every assessor it
    // reaches context only through the pipeline's vetted tool gateway.
    for assessor in ["warden-assess", "warden-llm"] {
        let reach = reachable(&graph, assessor);
        assert!(
            graph.contains_key(assessor),
            "{assessor} is a workspace crate"
        );
        for forbidden in [
            "warden-execute",
            "warden-approve",
            "warden-store",
            "warden-audit",
            "warden-pipeline",
            "warden-enrich",
            "sqlx",
        ] {
            assert!(
                !reach.contains(forbidden),
                "{assessor} reaches {forbidden}: {reach:?}"
            );
        }
    }
}

#[test]
fn the_domain_model_does_no_io() {
    let graph = workspace_graph();
    let reach = reachable(&graph, "warden-domain");
    assert!(reach.iter().all(|d| !d.starts_with("warden-")), "{reach:?}");
    for forbidden in ["sqlx", "tokio", "cedar-policy"] {
        assert!(
            !reach.contains(forbidden),
            "warden-domain depends on {forbidden}"
        );
    }
}
