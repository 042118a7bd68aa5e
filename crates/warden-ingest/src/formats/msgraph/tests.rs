use serde_json::json;
use warden_domain::{ObservableKind, Severity, SourceFormat};

use crate::formats::test_support::values;
use crate::formats::{detect, normalise};

#[test]
fn graph_alert_with_typed_evidence() {
    let payload = json!({
        "@odata.type": "#microsoft.graph.security.alert",
        "id": "da638700000000000000_123",
        "title": "Suspicious PowerShell command line",
        "description": "A suspicious PowerShell activity was observed on the machine.",
        "severity": "medium",
        "category": "Execution",
        "serviceSource": "microsoftDefenderForEndpoint",
        "detectionSource": "edr",
        "detectorId": "7c2a1b33-5d4e-4f60-8a71-9b2c3d4e5f60",
        "createdDateTime": "2026-11-17T14:05:00.1234567Z",
        "firstActivityDateTime": "2026-11-17T14:03:12.481Z",
        "mitreTechniques": ["T1059.001"],
        "evidence": [
            {"@odata.type": "#microsoft.graph.security.deviceEvidence", "deviceDnsName": "ws-fin-042.corp.example",
             "ipInterfaces": ["10.20.4.42", "fe80::1"], "loggedOnUsers": [{"accountName": "jdoe", "domainName": "CORP"}]},
            {"@odata.type": "#microsoft.graph.security.processEvidence", "processCommandLine": "powershell -enc SQBFAFgA",
             "imageFile": {"fileName": "powershell.exe", "sha256": "de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c"},
             "userAccount": {"accountName": "jdoe"}},
            {"@odata.type": "#microsoft.graph.security.ipEvidence", "ipAddress": "185.220.101.45"}
        ]
    });
    assert_eq!(detect(&payload), Ok(SourceFormat::Msgraph));
    let alert = normalise(SourceFormat::Msgraph, &payload, "x", "h").expect("normalises");
    assert_eq!(alert.severity.level, Severity::Medium);
    assert_eq!(
        alert.rule.uid.as_deref(),
        Some("7c2a1b33-5d4e-4f60-8a71-9b2c3d4e5f60")
    );
    assert_eq!(
        values(&alert, ObservableKind::Host),
        vec!["ws-fin-042.corp.example"]
    );
    assert_eq!(
        values(&alert, ObservableKind::Ip),
        vec!["10.20.4.42", "185.220.101.45", "fe80::1"]
    );
    assert_eq!(values(&alert, ObservableKind::User), vec!["jdoe"]);
    assert_eq!(values(&alert, ObservableKind::FileHash).len(), 1);
    assert_eq!(alert.attacks[0].id, "T1059.001");
}

#[test]
fn the_rule_name_of_a_graph_alert_is_its_title() {
    let payload = json!({
        "@odata.type": "#microsoft.graph.security.alert",
        "title": "mimikatz lsass dump", "detectorId": "d-1",
        "serviceSource": "microsoftDefenderForEndpoint", "detectionSource": "edr",
        "createdDateTime": "2026-11-17T14:05:00Z"
    });
    let alert = normalise(SourceFormat::Msgraph, &payload, "x", "h").expect("normalises");
    assert_eq!(alert.rule.name, "mimikatz lsass dump");
    assert!(super::rule_name_is_title(&payload));
    assert_eq!(super::signature_name(&payload), None);
    let mut antivirus = payload.clone();
    antivirus["threatDisplayName"] = "Backdoor:Win64/Sliver.A!MTB".into();
    assert_eq!(
        super::signature_name(&antivirus).as_deref(),
        Some("Backdoor:Win64/Sliver.A!MTB")
    );
}
