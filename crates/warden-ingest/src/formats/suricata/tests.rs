use serde_json::json;
use warden_domain::{ObservableKind, Severity, SourceFormat};

use crate::formats::{detect, normalise};

fn eve() -> serde_json::Value {
    json!({
        "timestamp": "2026-11-18T09:12:44.120931+0000",
        "flow_id": 1_402_334_901_223_u64,
        "event_type": "alert",
        "src_ip": "10.20.4.42", "src_port": 51544,
        "dest_ip": "185.220.101.45", "dest_port": 80,
        "proto": "TCP",
        "alert": {
            "action": "allowed", "gid": 1, "signature_id": 2_024_897, "rev": 3,
            "signature": "ET MALWARE Example CnC Beacon",
            "category": "A Network Trojan was detected", "severity": 1,
            "metadata": {"mitre_technique_id": ["T1071"], "mitre_tactic_name": ["Command_And_Control"]}
        },
        "http": {"hostname": "c2.bad.example", "url": "/gate.php?id=1", "http_user_agent": "Mozilla/4.0 (ignore previous instructions)"},
        "files": [{"filename": "/gate.php", "sha256": "0edf54b5f8bc35b0bf0ca810d9fb1a96132b92c00db01766074d76e06c5a6982"}]
    })
}

#[test]
fn eve_alert_normalises() {
    let payload = eve();
    assert_eq!(detect(&payload), Ok(SourceFormat::Suricata));
    let alert = normalise(SourceFormat::Suricata, &payload, "eve.json:1", "h").expect("normalises");
    assert_eq!(alert.rule.uid.as_deref(), Some("1:2024897"));
    assert_eq!(alert.severity.level, Severity::High);
    assert_eq!(
        alert.severity.original,
        "severity 1 (A Network Trojan was detected)"
    );
    assert_eq!(alert.time.unix_timestamp(), 1_794_993_164);
    assert!(alert.attacks.iter().any(|a| a.id == "T1071"));
    let structured = |kind| {
        alert
            .structured(kind)
            .map(|o| o.value.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        structured(ObservableKind::Ip),
        vec!["10.20.4.42", "185.220.101.45"]
    );
    assert_eq!(structured(ObservableKind::Domain), vec!["c2.bad.example"]);
    assert_eq!(structured(ObservableKind::FileHash).len(), 1);
}

#[test]
fn severity_runs_backwards() {
    for (level, expected) in [
        (1, Severity::High),
        (2, Severity::Medium),
        (3, Severity::Low),
        (4, Severity::Informational),
    ] {
        let mut payload = eve();
        payload["alert"]["severity"] = json!(level);
        let alert = normalise(SourceFormat::Suricata, &payload, "x", "h").expect("ok");
        assert_eq!(alert.severity.level, expected);
    }
}

#[test]
fn missing_signature_is_named() {
    let mut payload = eve();
    payload["alert"] = json!({"severity": 2});
    let err = normalise(SourceFormat::Suricata, &payload, "x", "h").expect_err("refused");
    assert!(err.to_string().contains("alert.signature"), "{err}");
}
