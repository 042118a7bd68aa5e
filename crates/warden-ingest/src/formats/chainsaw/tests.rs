use serde_json::json;
use warden_domain::{ObservableKind, Severity, SourceFormat};

use crate::formats::{detect, normalise};

fn detection() -> serde_json::Value {
    json!({
        "group": "Sigma",
        "kind": "individual",
        "name": "Suspicious Encoded PowerShell Command Line",
        "id": "ca2092a1-c273-4878-9b4b-0d60115bf5ea",
        "timestamp": "2026-11-17T14:03:12.481000+00:00",
        "level": "high",
        "source": "sigma",
        "status": "test",
        "tags": ["attack.execution", "attack.t1059.001"],
        "logsource": {"category": "process_creation", "product": "windows"},
        "document": {"kind": "evtx", "path": "Security.evtx", "data": {"Event": {
            "System": {"EventID": 1, "Computer": "WS-FIN-042.corp.example", "Channel": "Microsoft-Windows-Sysmon/Operational"},
            "EventData": {
                "Image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                "CommandLine": "powershell.exe -nop -w hidden -enc SQBFAFgA",
                "ParentImage": "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE",
                "User": "CORP\\jdoe",
                "Hashes": "SHA1=0F1A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C,MD5=00112233445566778899AABBCCDDEEFF,IMPHASH=FFEEDDCCBBAA99887766554433221100"
            }
        }}}
    })
}

#[test]
fn sigma_hit_normalises_with_event_entities() {
    let payload = detection();
    assert_eq!(detect(&payload), Ok(SourceFormat::Chainsaw));
    let alert = normalise(SourceFormat::Chainsaw, &payload, "d.jsonl:1", "h").expect("normalises");
    assert_eq!(
        alert.rule.uid.as_deref(),
        Some("ca2092a1-c273-4878-9b4b-0d60115bf5ea")
    );
    assert_eq!(alert.severity.level, Severity::High);
    assert_eq!(alert.product, "chainsaw (Sigma)");
    assert_eq!(alert.attacks.len(), 1);
    assert_eq!(alert.attacks[0].id, "T1059.001");
    assert_eq!(alert.attacks[0].tactics, vec!["execution".to_owned()]);
    let structured = |kind| {
        alert
            .structured(kind)
            .map(|o| o.value.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        structured(ObservableKind::Host),
        vec!["ws-fin-042.corp.example"]
    );
    assert_eq!(structured(ObservableKind::User), vec!["corp\\jdoe"]);
    assert_eq!(
        structured(ObservableKind::FileHash).len(),
        2,
        "SHA1 and MD5, not IMPHASH"
    );
    assert_eq!(structured(ObservableKind::Process).len(), 2);
}

#[test]
fn chainsaw_rule_without_id_and_machine_accounts() {
    let mut payload = detection();
    payload["group"] = json!("Lateral Movement");
    payload["source"] = json!("chainsaw");
    payload["level"] = json!("info");
    payload.as_object_mut().map(|o| o.remove("id"));
    payload["document"]["data"]["Event"]["EventData"] = json!({
        "TargetUserName": "DC01$", "SubjectUserName": "admin", "SubjectDomainName": "CORP",
        "IpAddress": "-", "WorkstationName": "-"
    });
    let alert = normalise(SourceFormat::Chainsaw, &payload, "x", "h").expect("ok");
    assert_eq!(
        alert.rule.uid.as_deref(),
        Some("chainsaw:Lateral Movement:Suspicious Encoded PowerShell Command Line")
    );
    assert_eq!(alert.severity.level, Severity::Informational);
    let users: Vec<_> = alert
        .structured(ObservableKind::User)
        .map(|o| o.value.as_str())
        .collect();
    assert_eq!(users, vec!["corp\\admin"]);
    assert_eq!(alert.structured(ObservableKind::Ip).count(), 0);
}
