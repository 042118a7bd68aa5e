use serde_json::Value;
use warden_domain::{ObservableKind, Severity, SourceFormat};

use crate::formats::test_support::{jsonl, values};
use crate::formats::{detect, normalise};

fn samples() -> Vec<Value> {
    jsonl(include_str!(
        "../../../testdata/hayabusa/json-timeline.jsonl"
    ))
}

#[test]
fn every_sample_is_detected_and_normalised() {
    for sample in samples() {
        assert_eq!(detect(&sample), Ok(SourceFormat::Hayabusa));
        normalise(SourceFormat::Hayabusa, &sample, "x", "h").expect("normalises");
    }
}

#[test]
fn sysmon_process_detection_keeps_host_user_process_and_file_hashes() {
    let alert = normalise(SourceFormat::Hayabusa, &samples()[0], "x", "h").expect("normalises");
    assert_eq!(alert.rule.name, "Procdump Memory Dump of LSASS");
    assert_eq!(
        alert.rule.uid.as_deref(),
        Some("proc_access_win_lsass_dump_procdump.yml")
    );
    // 09:41:07 at +09:00 is 00:41:07 UTC.
    assert_eq!(alert.time.unix_timestamp() % 86_400, 41 * 60 + 7);
    assert_eq!(alert.severity.level, Severity::High);
    assert_eq!(
        values(&alert, ObservableKind::Host),
        vec!["ws-fin-042.corp.example"]
    );
    assert_eq!(values(&alert, ObservableKind::User), vec!["corp\\jdoe"]);
    // SHA1, MD5 and SHA256 from Hashes; IMPHASH is not a file hash.
    assert_eq!(values(&alert, ObservableKind::FileHash).len(), 3);
    assert!(
        values(&alert, ObservableKind::Process)
            .iter()
            .any(|p| p.ends_with("procdump64.exe"))
    );
    assert_eq!(alert.attacks[0].id, "T1003.001");
    assert_eq!(alert.attacks[0].tactics, vec!["Credential Access"]);
    assert_eq!(
        alert.vendor_id.as_deref(),
        Some("WS-FIN-042.corp.example:48213")
    );
}

#[test]
fn failed_logon_skips_placeholders_and_keeps_the_source() {
    let alert = normalise(SourceFormat::Hayabusa, &samples()[1], "x", "h").expect("normalises");
    assert_eq!(alert.severity.level, Severity::Medium);
    assert_eq!(alert.severity.original, "med");
    assert_eq!(values(&alert, ObservableKind::User), vec!["svc-backup"]);
    assert_eq!(values(&alert, ObservableKind::Ip), vec!["203.0.113.77"]);
    assert_eq!(
        values(&alert, ObservableKind::Host),
        vec!["dc01.corp.example", "kali"]
    );
    // "Proc": "-" is not a process.
    assert!(values(&alert, ObservableKind::Process).is_empty());
}

#[test]
fn script_block_text_is_scanned_but_never_structured() {
    let alert = normalise(SourceFormat::Hayabusa, &samples()[2], "x", "h").expect("normalises");
    assert_eq!(alert.severity.level, Severity::Critical);
    let domain = alert
        .observables
        .iter()
        .find(|o| o.value == "malicious-updates.example")
        .expect("domain extracted from the script block");
    assert!(!domain.is_structured());
    let ids: Vec<&str> = alert.attacks.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, vec!["T1027", "T1059.001"]);
    assert!(
        alert.attacks[1]
            .tactics
            .contains(&"Defense Evasion".to_owned())
    );
}

#[test]
fn older_string_tags_and_iso_times_are_read() {
    let payload = serde_json::json!({
        "Timestamp": "2026-11-17T01:05:01.992Z", "RuleTitle": "x", "Channel": "Sec",
        "EventID": 1, "Level": "low", "MitreTags": "T1059.001 ¦ T1027", "MitreTactics": "Exec"
    });
    let alert = normalise(SourceFormat::Hayabusa, &payload, "x", "h").expect("normalises");
    assert_eq!(alert.attacks.len(), 2);
    assert_eq!(alert.severity.level, Severity::Low);
}

#[test]
fn an_unreadable_timestamp_is_named() {
    let payload =
        serde_json::json!({"Timestamp": "17/11/2026 10:00", "RuleTitle": "x", "Channel": "Sec"});
    let err = normalise(SourceFormat::Hayabusa, &payload, "x", "h").expect_err("rejected");
    assert!(err.to_string().contains("Timestamp"), "{err}");
}
