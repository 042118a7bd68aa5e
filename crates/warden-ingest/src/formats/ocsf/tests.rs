use serde_json::json;
use warden_domain::{ObservableKind, Severity, SourceFormat};

use crate::formats::{FormatError, detect, normalise};

use warden_testkit::example_json as example;

#[test]
fn mimikatz_example_normalises_with_structured_entities() {
    let payload = example("ocsf-test-vm-mimikatz.json");
    assert_eq!(detect(&payload), Ok(SourceFormat::Ocsf));
    let alert = normalise(SourceFormat::Ocsf, &payload, "x.json", "h").expect("normalises");
    assert_eq!(alert.class_uid, 2004);
    assert_eq!(alert.severity.level, Severity::Critical);
    assert_eq!(alert.product, "CrowdStrike Falcon");
    assert_eq!(alert.rule.uid.as_deref(), Some("10171"));
    let has = |kind, value: &str| {
        alert
            .observables
            .iter()
            .any(|o| o.kind == kind && o.value == value && o.is_structured())
    };
    assert!(has(ObservableKind::Host, "test-vm-07"));
    assert!(has(ObservableKind::Ip, "10.50.0.7"));
    assert!(has(ObservableKind::User, "pentester1"));
    assert!(has(
        ObservableKind::FileHash,
        "0edf54b5f8bc35b0bf0ca810d9fb1a96132b92c00db01766074d76e06c5a6982"
    ));
    assert_eq!(
        alert.attacks.first().map(|a| a.id.as_str()),
        Some("T1003.001")
    );
    assert_eq!(alert.time.year(), 2026);
}

#[test]
fn other_classes_are_refused_with_their_number() {
    let payload = json!({"class_uid": 1007, "time": 1});
    let err = normalise(SourceFormat::Ocsf, &payload, "x", "h").expect_err("refused");
    assert!(err.to_string().contains("1007"), "{err}");
}

#[test]
fn missing_title_and_bad_time_are_named() {
    let no_title = json!({"class_uid": 2004, "time": 1_700_000_000_000_i64, "finding_info": {}});
    assert_eq!(
        normalise(SourceFormat::Ocsf, &no_title, "x", "h").err(),
        Some(FormatError::Missing("finding_info.title"))
    );
    let bad_time = json!({"class_uid": 2004, "time": "yesterday", "finding_info": {"title": "t"}});
    let err = normalise(SourceFormat::Ocsf, &bad_time, "x", "h").expect_err("bad time");
    assert!(err.to_string().contains("time"), "{err}");
}

#[test]
fn unknown_severity_falls_back_to_caption_then_medium() {
    let base = |sev: serde_json::Value| {
        let mut p = json!({"class_uid": 2004, "time": 1_700_000_000_000_i64,
                           "finding_info": {"title": "t"}});
        if let Some(obj) = p.as_object_mut()
            && let Some(extra) = sev.as_object()
        {
            obj.extend(extra.clone());
        }
        normalise(SourceFormat::Ocsf, &p, "x", "h")
            .expect("ok")
            .severity
    };
    assert_eq!(
        base(json!({"severity_id": 99, "severity": "High"})).level,
        Severity::High
    );
    assert_eq!(base(json!({"severity_id": 0})).level, Severity::Medium);
    assert_eq!(base(json!({"severity_id": 2})).original, "2");
}
