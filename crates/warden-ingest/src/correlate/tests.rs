use time::OffsetDateTime;
use warden_domain::{
    Alert, AlertId, Observable, ObservableKind, Provenance, RuleRef, Severity, SourceFormat,
    Untrusted, VendorSeverity,
};

use super::*;

fn alert(
    rule: &str,
    minute: i64,
    entities: &[(ObservableKind, &str)],
    text_host: Option<&str>,
) -> Alert {
    let mut observables: Vec<Observable> = entities
        .iter()
        .filter_map(|(kind, value)| {
            Observable::parse(*kind, value, Provenance::Field { path: "f".into() }).ok()
        })
        .collect();
    if let Some(host) = text_host {
        observables.extend(Observable::parse(
            ObservableKind::Host,
            host,
            Provenance::Text {
                field: "message".into(),
            },
        ));
    }
    Alert {
        id: AlertId::new(),
        format: SourceFormat::Ocsf,
        class_uid: 2004,
        product: "t".into(),
        vendor_id: None,
        time: OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(minute),
        rule: RuleRef {
            uid: None,
            name: rule.into(),
        },
        title: Untrusted::new("t"),
        description: Untrusted::default(),
        severity: VendorSeverity {
            level: Severity::Low,
            original: "2".into(),
        },
        observables,
        attacks: vec![],
        origin: format!("m{minute}"),
        raw_sha256: String::new(),
        raw: serde_json::Value::Null,
    }
}

use ObservableKind::{Host, Ip, Process, User};

#[test]
fn ten_thousand_identical_alerts_make_one_case_with_a_count() {
    let alerts: Vec<Alert> = (0..10_000)
        .map(|_| alert("Scan", 0, &[(Host, "scan-01")], None))
        .collect();
    let drafts = correlate(alerts, &CorrelationConfig::default());
    assert_eq!(drafts.len(), 1);
    assert_eq!(drafts[0].alerts.len(), 1);
    assert_eq!(drafts[0].alert_count, 10_000);
    assert_eq!(drafts[0].alerts[0].1, 9_999);
    assert!(
        drafts[0]
            .reasons
            .iter()
            .any(|r| r.contains("9999 exact duplicate"))
    );
}

#[test]
fn shared_entity_within_window_groups_and_says_why() {
    let drafts = correlate(
        vec![
            alert("PowerShell", 0, &[(Host, "ws-1"), (User, "jdoe")], None),
            alert(
                "Outbound",
                6,
                &[(Host, "ws-1"), (Ip, "185.220.101.45")],
                None,
            ),
            alert("Other", 7, &[(Host, "ws-2")], None),
        ],
        &CorrelationConfig::default(),
    );
    assert_eq!(drafts.len(), 2);
    assert_eq!(drafts[0].alerts.len(), 2);
    assert!(
        drafts[0].reasons.contains(&"shared host ws-1".to_owned()),
        "{:?}",
        drafts[0].reasons
    );
    assert_eq!(drafts[1].reasons, vec!["single alert".to_owned()]);
}

#[test]
fn window_text_only_entities_and_process_names_do_not_link() {
    let config = CorrelationConfig { window_minutes: 30 };
    let drafts = correlate(
        vec![
            alert("A", 0, &[(Host, "ws-1"), (Process, "powershell.exe")], None),
            alert("B", 120, &[(Host, "ws-1")], None),
            alert(
                "C",
                5,
                &[(Host, "ws-9"), (Process, "powershell.exe")],
                Some("ws-1"),
            ),
        ],
        &config,
    );
    assert_eq!(
        drafts.len(),
        3,
        "{:?}",
        drafts.iter().map(|d| &d.reasons).collect::<Vec<_>>()
    );
}

#[test]
fn chains_link_transitively_in_time_order() {
    let drafts = correlate(
        vec![
            alert("A", 0, &[(Host, "h1")], None),
            alert("B", 50, &[(Host, "h1"), (User, "u1")], None),
            alert("C", 100, &[(User, "u1")], None),
        ],
        &CorrelationConfig::default(),
    );
    assert_eq!(drafts.len(), 1);
    assert_eq!(drafts[0].alerts.len(), 3);
}
