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
    let config = CorrelationConfig {
        window_minutes: 30,
        ..CorrelationConfig::default()
    };
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

#[test]
fn a_hub_entity_does_not_chain_unrelated_alerts() {
    // A DNS resolver beside 60 different workstations, each with its own
    // detection: without the guard, one 60-alert case.
    let alerts: Vec<Alert> = (0..60)
        .map(|i| {
            alert(
                &format!("rule {i}"),
                i,
                &[
                    (ObservableKind::Ip, "10.0.0.53"),
                    (ObservableKind::Host, &format!("ws-{i}")),
                ],
                None,
            )
        })
        .collect();
    let drafts = correlate(alerts, &CorrelationConfig::default());
    assert_eq!(drafts.len(), 60);
    assert!(
        drafts[0]
            .reasons
            .iter()
            .any(|r| r.starts_with("not linked on hub ip 10.0.0.53 (seen with over 40")),
        "{:?}",
        drafts[0].reasons
    );

    // The same entity with few peers still links: a real incident's host.
    let few: Vec<Alert> = (0..5)
        .map(|i| {
            alert(
                &format!("rule {i}"),
                i,
                &[
                    (ObservableKind::Host, "ws-fin-042"),
                    (ObservableKind::Ip, "10.0.0.53"),
                ],
                None,
            )
        })
        .collect();
    assert_eq!(correlate(few, &CorrelationConfig::default()).len(), 1);
}

#[test]
fn placeholders_never_link() {
    let alerts = vec![
        alert(
            "a",
            0,
            &[(ObservableKind::User, "NT AUTHORITY\\SYSTEM")],
            None,
        ),
        alert("b", 1, &[(ObservableKind::User, "system")], None),
        alert("c", 2, &[(ObservableKind::Ip, "127.0.0.1")], None),
        alert("d", 3, &[(ObservableKind::Ip, "127.0.0.1")], None),
        alert("e", 4, &[(ObservableKind::Host, "localhost")], None),
        alert("f", 5, &[(ObservableKind::Host, "localhost")], None),
    ];
    let drafts = correlate(alerts, &CorrelationConfig::default());
    assert_eq!(drafts.len(), 6);
    assert!(
        drafts[2].reasons[0].contains("names nobody in particular"),
        "{:?}",
        drafts[2].reasons
    );
}
