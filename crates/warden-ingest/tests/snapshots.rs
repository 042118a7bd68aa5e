//! The normalised form of one real sample per format, pinned with insta.
//! A change to a normaliser shows here as a reviewed snapshot diff.
//!
//! Samples come from `../shared/data` (real vendor output; skipped where
//! absent unless `WARDEN_REQUIRE_SHARED_DATA` is set) and, for formats with
//! no real sample there, from `crates/warden-ingest/testdata/` (built from
//! the vendors' documented schemas). The random alert id is left out and
//! the raw payload is replaced by its size: its hash stays in
//! `raw_sha256`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "integration tests fail by panicking"
)]

use std::path::Path;

use serde_json::{Value, json};
use warden_ingest::{Formats, Mapping, ReadOptions, parse_record};

/// The first record of `file` (a JSONL, CEF or LEEF line, a JSON array's
/// first element or a JSON file), normalised, in snapshot form. `label` is
/// the origin recorded, so snapshots do not depend on where the checkout
/// lives.
fn first_alert(file: &Path, label: &str, options: &ReadOptions) -> Value {
    let text = std::fs::read_to_string(file).expect("sample readable");
    let record = if [".jsonl", ".cef", ".leef"]
        .iter()
        .any(|ext| label.ends_with(ext))
    {
        text.lines().next().expect("a line").to_owned()
    } else {
        match serde_json::from_str::<Value>(&text).expect("JSON") {
            Value::Array(items) => serde_json::to_string(&items[0]).expect("serialise"),
            Value::Object(map) if map.contains_key("Findings") => {
                serde_json::to_string(&map["Findings"][0]).expect("serialise")
            }
            _ => text.clone(),
        }
    };
    let alert = parse_record(&format!("{label}:1"), record.as_bytes(), options)
        .unwrap_or_else(|err| panic!("{label}: {err}"));
    let mut value = serde_json::to_value(&alert).expect("alert serialises");
    let object = value.as_object_mut().expect("object");
    object.remove("id");
    object.insert("raw".into(), json!({"bytes": record.len()}));
    value
}

/// Snapshot with map keys sorted: serde_json keeps insertion order when a
/// dependency elsewhere in the workspace turns on `preserve_order`, and the
/// snapshot must not depend on which crates were built together.
macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({sort_maps => true}, {
            insta::assert_json_snapshot!($name, $value);
        })
    };
}

fn shared(relative: &str) -> Option<std::path::PathBuf> {
    warden_testkit::shared_data(relative)
}

fn testdata(relative: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(relative)
}

macro_rules! shared_snapshot {
    ($test:ident, $relative:expr) => {
        #[test]
        fn $test() {
            let Some(file) = shared($relative) else {
                return;
            };
            let alert = first_alert(&file, $relative, &ReadOptions::default());
            snapshot!(stringify!($test), alert);
        }
    };
}

shared_snapshot!(
    snapshot_ocsf_detection_finding,
    "ocsf/examples/okta.detection_finding.ocsf.json"
);
shared_snapshot!(
    snapshot_ocsf_security_finding,
    "ocsf/examples/falco.security_finding.ocsf.json"
);
shared_snapshot!(
    snapshot_ecs_elastic_alert,
    "alerts/ecs/elastic-security-alert.kibana-8.1.0.es_archive-doc1.json"
);
shared_snapshot!(
    snapshot_suricata_eve_alert,
    "alerts/suricata-eve/et-open-2019.eve.jsonl"
);
shared_snapshot!(
    snapshot_chainsaw_sigma_detection,
    "alerts/sigma-chainsaw/detections.jsonl"
);
shared_snapshot!(
    snapshot_splunk_notable_rest_api,
    "alerts/splunk-notable/splunk-es-notable.api.jsonl"
);
shared_snapshot!(
    snapshot_msgraph_defender_alert,
    "alerts/vendor-raw/m365-defender.graph-security-alert.json"
);

#[test]
fn snapshot_hayabusa_json_timeline() {
    let file = testdata("hayabusa/json-timeline.jsonl");
    let alert = first_alert(
        &file,
        "hayabusa/json-timeline.jsonl",
        &ReadOptions::default(),
    );
    snapshot!("snapshot_hayabusa_json_timeline", alert);
}

#[test]
fn snapshot_falcon_detection_summary() {
    let file = testdata("falcon/detection-summary.jsonl");
    let alert = first_alert(
        &file,
        "falcon/detection-summary.jsonl",
        &ReadOptions::default(),
    );
    snapshot!("snapshot_falcon_detection_summary", alert);
}

#[test]
fn snapshot_guardduty_eventbridge_finding() {
    let file = testdata("guardduty/eventbridge-port-probe.json");
    let alert = first_alert(
        &file,
        "guardduty/eventbridge-port-probe.json",
        &ReadOptions::default(),
    );
    snapshot!("snapshot_guardduty_eventbridge_finding", alert);
}

#[test]
fn snapshot_guardduty_cli_finding() {
    let file = testdata("guardduty/cli-get-findings.json");
    let alert = first_alert(
        &file,
        "guardduty/cli-get-findings.json",
        &ReadOptions::default(),
    );
    snapshot!("snapshot_guardduty_cli_finding", alert);
}

#[test]
fn snapshot_mapped_wazuh_alert() {
    let mapping = Mapping::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/mappings/wazuh.toml"),
    )
    .expect("mapping");
    let options = ReadOptions {
        formats: Formats::with_mappings(vec![mapping]).expect("formats"),
        ..ReadOptions::default()
    };
    let file = testdata("mapped/wazuh-alerts.jsonl");
    let alert = first_alert(&file, "mapped/wazuh-alerts.jsonl", &options);
    snapshot!("snapshot_mapped_wazuh_alert", alert);
}

#[test]
fn snapshot_cef_trend_micro_apex_central() {
    let file = testdata("cef/vendor-examples.cef");
    let alert = first_alert(&file, "cef/vendor-examples.cef", &ReadOptions::default());
    snapshot!("snapshot_cef_trend_micro_apex_central", alert);
}

#[test]
fn snapshot_leef_trend_micro_ddei_system_event() {
    let file = testdata("leef/vendor-examples.leef");
    let alert = first_alert(&file, "leef/vendor-examples.leef", &ReadOptions::default());
    snapshot!("snapshot_leef_trend_micro_ddei_system_event", alert);
}
