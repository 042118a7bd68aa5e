use serde_json::Value;
use warden_domain::{ObservableKind, Severity, SourceFormat};

use crate::formats::test_support::values;
use crate::formats::{detect, normalise};

fn eventbridge() -> Value {
    serde_json::from_str(include_str!(
        "../../../testdata/guardduty/eventbridge-port-probe.json"
    ))
    .expect("sample is JSON")
}

fn cli_findings() -> Vec<Value> {
    let response: Value = serde_json::from_str(include_str!(
        "../../../testdata/guardduty/cli-get-findings.json"
    ))
    .expect("sample is JSON");
    response["Findings"].as_array().expect("a list").clone()
}

#[test]
fn eventbridge_port_probe() {
    let event = eventbridge();
    assert_eq!(detect(&event), Ok(SourceFormat::Guardduty));
    let alert = normalise(SourceFormat::Guardduty, &event, "x", "h").expect("normalises");
    assert_eq!(alert.rule.name, "Recon:EC2/PortProbeUnprotectedPort");
    assert_eq!(alert.severity.level, Severity::Low);
    assert_eq!(alert.severity.original, "severity 2");
    assert_eq!(alert.product, "Amazon GuardDuty (eu-west-1)");
    assert_eq!(
        values(&alert, ObservableKind::CloudResource),
        vec!["i-0a1b2c3d4e5f60718"]
    );
    assert_eq!(
        values(&alert, ObservableKind::Ip),
        vec!["10.40.1.17", "198.51.100.17", "203.0.113.77"]
    );
    let probe = alert
        .observables
        .iter()
        .find(|o| o.value == "203.0.113.77")
        .expect("prober");
    assert!(probe.is_structured());
}

#[test]
fn cli_output_in_pascal_case_reads_like_the_api() {
    let findings = cli_findings();
    assert_eq!(detect(&findings[0]), Ok(SourceFormat::Guardduty));
    let exfil = normalise(SourceFormat::Guardduty, &findings[0], "x", "h").expect("normalises");
    assert_eq!(exfil.severity.level, Severity::High);
    assert_eq!(
        values(&exfil, ObservableKind::User),
        vec!["web-frontend-role"]
    );
    assert_eq!(values(&exfil, ObservableKind::Ip), vec!["192.0.2.201"]);
    assert_eq!(
        values(&exfil, ObservableKind::CloudResource),
        vec!["ASIAEXAMPLEKEY123456"]
    );
    let mining = normalise(SourceFormat::Guardduty, &findings[1], "x", "h").expect("normalises");
    assert_eq!(mining.severity.level, Severity::Medium);
    assert_eq!(
        values(&mining, ObservableKind::Domain),
        vec!["pool.minexmr.example"]
    );
    // Both findings name the same instance: correlation can join them.
    assert_eq!(
        values(&mining, ObservableKind::CloudResource),
        vec!["i-0a1b2c3d4e5f60718"]
    );
}

#[test]
fn attack_sequence_indicators_give_techniques() {
    let mut finding = eventbridge()["detail"].clone();
    finding["severity"] = serde_json::json!(9.2);
    finding["service"]["detection"] = serde_json::json!({"sequence": {"indicators": [
        {"key": "ATTACK_TECHNIQUE", "values": ["T1078", "T1530"]},
        {"key": "ATTACK_TACTIC", "values": ["Initial Access"]}
    ]}});
    let alert = normalise(SourceFormat::Guardduty, &finding, "x", "h").expect("normalises");
    assert_eq!(alert.severity.level, Severity::Critical);
    assert_eq!(alert.attacks.len(), 2);
    assert_eq!(alert.attacks[0].tactics, vec!["Initial Access"]);
}

#[test]
fn a_finding_without_a_type_is_named() {
    let mut finding = eventbridge()["detail"].clone();
    finding.as_object_mut().expect("object").remove("type");
    let err = normalise(SourceFormat::Guardduty, &finding, "x", "h").expect_err("rejected");
    assert!(err.to_string().contains("type"), "{err}");
}
