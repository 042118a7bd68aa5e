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

#[test]
fn a_rule_name_taken_from_the_title_is_said_to_be_one() {
    let named = json!({
        "class_uid": 2004, "time": 1_763_000_000_000_i64,
        "finding_info": {"title": "mimikatz lsass dump", "uid": "f-1",
                         "analytic": {"name": "Port scan from a workstation", "uid": "R-17"}}
    });
    let alert = normalise(SourceFormat::Ocsf, &named, "x", "h").expect("normalises");
    assert_eq!(alert.rule.name, "Port scan from a workstation");
    assert!(!super::rule_name_is_title(&named));
    // The older Security Finding spells it `finding.analytic`.
    let older =
        json!({"class_uid": 2001, "time": 1, "finding": {"title": "t", "analytic": {"name": "R"}}});
    assert!(!super::rule_name_is_title(&older));

    let untitled = json!({
        "class_uid": 2004, "time": 1_763_000_000_000_i64,
        "finding_info": {"title": "  mimikatz lsass dump ", "uid": "f-2", "analytic": {"uid": "R-17"}}
    });
    let alert = normalise(SourceFormat::Ocsf, &untitled, "x", "h").expect("normalises");
    assert_eq!(
        alert.rule.name, "mimikatz lsass dump",
        "the title stands in"
    );
    assert!(super::rule_name_is_title(&untitled));
    let blank = json!({"class_uid": 2004, "time": 1, "finding_info": {"title": "t", "analytic": {"name": " "}}});
    assert!(super::rule_name_is_title(&blank));
}
