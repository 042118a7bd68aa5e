use serde_json::json;
use warden_domain::{ObservableKind, Severity, SourceFormat};

use crate::formats::{detect, normalise};

use warden_testkit::example_json as example;

#[test]
fn lsass_example_keeps_injection_text_untrusted_and_untargetable() {
    let payload = example("ecs-lsass-access.json");
    assert_eq!(detect(&payload), Ok(SourceFormat::Ecs));
    let alert = normalise(SourceFormat::Ecs, &payload, "x.json", "h").expect("normalises");
    assert_eq!(alert.rule.name, "LSASS Memory Access by Unusual Process");
    assert_eq!(alert.severity.level, Severity::Critical);
    assert!(alert.severity.original.contains("99"));
    assert!(alert.attacks.iter().any(|a| a.id == "T1003.001"));
    assert!(alert.attacks.iter().any(|a| a.id == "T1003"));
    // dc01 is structured; ws-fin-042 appears only inside the injected text.
    let host = |value: &str| {
        alert
            .observables
            .iter()
            .find(|o| o.kind == ObservableKind::Host && o.value == value)
    };
    assert!(host("dc01").is_some_and(|o| o.is_structured()));
    assert!(host("ws-fin-042").is_none_or(|o| !o.is_structured()));
}

#[test]
fn es_archive_envelope_and_nested_kibana_fields_are_accepted() {
    let nested = json!({
        "type": "doc",
        "value": {"id": "abc", "source": {
            "@timestamp": "2026-11-17T10:00:00Z",
            "kibana": {"alert": {"rule": {"name": "Nested rule", "rule_id": "r1"},
                                 "severity": "low"}},
            "host": {"name": "Web-01", "ip": ["10.30.1.10", "not-an-ip"]}
        }}
    });
    assert_eq!(detect(&nested), Ok(SourceFormat::Ecs));
    let alert = normalise(SourceFormat::Ecs, &nested, "x", "h").expect("normalises");
    assert_eq!(alert.rule.name, "Nested rule");
    assert_eq!(alert.vendor_id.as_deref(), Some("abc"));
    assert_eq!(alert.severity.level, Severity::Low);
    let ips: Vec<_> = alert
        .observables
        .iter()
        .filter(|o| o.kind == ObservableKind::Ip)
        .map(|o| o.value.as_str())
        .collect();
    assert_eq!(ips, vec!["10.30.1.10"]);
}

#[test]
fn risk_score_bands_apply_without_a_severity_name() {
    for (risk, level) in [
        (10, Severity::Low),
        (30, Severity::Medium),
        (60, Severity::High),
        (90, Severity::Critical),
    ] {
        let doc = json!({"@timestamp": "2026-11-17T10:00:00Z",
                         "kibana.alert.rule.name": "r", "kibana.alert.risk_score": risk});
        let alert = normalise(SourceFormat::Ecs, &doc, "x", "h").expect("ok");
        assert_eq!(alert.severity.level, level, "risk {risk}");
    }
}

#[test]
fn bad_timestamp_is_a_clear_error() {
    let doc = json!({"@timestamp": 12, "kibana.alert.rule.name": "r"});
    let err = normalise(SourceFormat::Ecs, &doc, "x", "h").expect_err("bad");
    assert!(err.to_string().contains("@timestamp"), "{err}");
}
