use serde_json::json;
use warden_domain::{ObservableKind, Severity, SourceFormat};

use crate::formats::{detect, normalise};

#[test]
fn rest_api_notable_reads_fields_from_raw() {
    let payload = json!({
        "index": "notable",
        "_time": "2026-11-17T10:05:00.000+01:00",
        "source": "Access - Brute Force Access Behavior Detected - Rule",
        "_raw": "1794906300, search_name=\"Access - Brute Force Access Behavior Detected - Rule\", src=\"203.0.113.77\", user=\"amartin\", dest=\"vpn-gw-01\", count=\"41\", annotations.mitre_attack.mitre_technique_id=\"T1110\""
    });
    assert_eq!(detect(&payload), Ok(SourceFormat::Splunk));
    let alert = normalise(SourceFormat::Splunk, &payload, "x", "h").expect("normalises");
    assert_eq!(
        alert.rule.name,
        "Access - Brute Force Access Behavior Detected - Rule"
    );
    assert_eq!(alert.time.unix_timestamp(), 1_794_906_300);
    let has = |kind, value: &str| alert.structured(kind).any(|o| o.value == value);
    assert!(has(ObservableKind::Ip, "203.0.113.77"));
    assert!(has(ObservableKind::User, "amartin"));
    assert!(has(ObservableKind::Host, "vpn-gw-01"));
    assert!(alert.attacks.iter().any(|a| a.id == "T1110"));
    assert_eq!(alert.severity.original, "absent");
}

#[test]
fn webhook_body_uses_search_name_and_result() {
    let payload = json!({
        "sid": "scheduler__admin__SplunkEnterpriseSecuritySuite__RMD5abc_at_1794906300_42",
        "search_name": "Threat - Malware Detected - Rule",
        "app": "SplunkEnterpriseSecuritySuite",
        "owner": "admin",
        "results_link": "https://splunk.example:8000/app/search/@go?sid=x",
        "result": {"_time": "1794906300", "dest": "ws-fin-042", "file_hash": "0EDF54B5F8BC35B0BF0CA810D9FB1A96132B92C00DB01766074D76E06C5A6982", "urgency": "high"}
    });
    assert_eq!(detect(&payload), Ok(SourceFormat::Splunk));
    let alert = normalise(SourceFormat::Splunk, &payload, "x", "h").expect("normalises");
    assert_eq!(alert.rule.name, "Threat - Malware Detected - Rule");
    assert_eq!(alert.severity.level, Severity::High);
    assert_eq!(
        alert.vendor_id.as_deref(),
        Some("scheduler__admin__SplunkEnterpriseSecuritySuite__RMD5abc_at_1794906300_42")
    );
    assert_eq!(alert.structured(ObservableKind::FileHash).count(), 1);
}
