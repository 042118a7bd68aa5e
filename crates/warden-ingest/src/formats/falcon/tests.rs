use serde_json::{Value, json};
use warden_domain::{ObservableKind, Severity, SourceFormat};

use crate::formats::test_support::{jsonl, values};
use crate::formats::{detect, normalise};

fn samples() -> Vec<Value> {
    jsonl(include_str!(
        "../../../testdata/falcon/detection-summary.jsonl"
    ))
}

#[test]
fn detection_summary_event() {
    let sample = &samples()[0];
    assert_eq!(detect(sample), Ok(SourceFormat::Falcon));
    let alert = normalise(SourceFormat::Falcon, sample, "x", "h").expect("normalises");
    assert_eq!(alert.rule.name, "Credential Theft");
    assert_eq!(alert.severity.level, Severity::High);
    assert_eq!(alert.time.unix_timestamp(), 1_794_908_467);
    assert_eq!(values(&alert, ObservableKind::Host), vec!["ws-fin-042"]);
    assert_eq!(values(&alert, ObservableKind::User), vec!["corp\\jdoe"]);
    assert_eq!(values(&alert, ObservableKind::Ip), vec!["10.20.4.42"]);
    // SHA-256 and MD5; the all-zero SHA-1 placeholder is dropped.
    assert_eq!(values(&alert, ObservableKind::FileHash).len(), 2);
    assert_eq!(values(&alert, ObservableKind::Process).len(), 3);
    let description = alert.description.escaped(500);
    assert!(
        description.contains("Technique: OS Credential Dumping"),
        "{description}"
    );
    assert!(
        alert
            .vendor_id
            .as_deref()
            .is_some_and(|id| id.starts_with("ldt:"))
    );
}

#[test]
fn epp_detection_summary_event_with_technique_ids() {
    let sample = &samples()[1];
    assert_eq!(detect(sample), Ok(SourceFormat::Falcon));
    let alert = normalise(SourceFormat::Falcon, sample, "x", "h").expect("normalises");
    assert_eq!(alert.rule.uid.as_deref(), Some("falcon:pattern:10187"));
    assert_eq!(alert.attacks[0].id, "T1059.001");
    assert_eq!(alert.attacks[0].tactics, vec!["Execution"]);
    assert_eq!(
        values(&alert, ObservableKind::Ip),
        vec!["10.20.4.42", "198.51.100.23"]
    );
    assert_eq!(
        values(&alert, ObservableKind::Domain),
        vec!["malicious-updates.example"]
    );
}

#[test]
fn bare_event_and_numeric_severity() {
    let mut event = samples()[0]["event"].clone();
    event["SeverityName"] = Value::Null;
    event["Severity"] = json!(5);
    assert_eq!(detect(&event), Ok(SourceFormat::Falcon));
    let alert = normalise(SourceFormat::Falcon, &event, "x", "h").expect("normalises");
    assert_eq!(alert.severity.level, Severity::Critical);
    // No eventCreationTime: the process start (Unix seconds) dates it.
    assert_eq!(alert.time.unix_timestamp(), 1_794_908_462);
}

#[test]
fn other_stream_events_are_not_detections() {
    let audit = json!({"metadata": {"eventType": "AuthActivityAuditEvent", "eventCreationTime": 1}, "event": {"UserId": "x"}});
    assert!(detect(&audit).is_err());
}
