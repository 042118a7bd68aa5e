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

/// `alert` with a severity and a description.
fn said(mut alert: Alert, level: Severity, description: &str) -> Alert {
    alert.severity = VendorSeverity {
        level,
        original: level.as_str().into(),
    };
    alert.description = Untrusted::new(description);
    alert
}

fn exfil(minute: i64, level: Severity, description: &str) -> Alert {
    said(
        alert(
            "Outbound transfer",
            minute,
            &[(Host, "ws-hr-017"), (Ip, "203.0.113.50")],
            None,
        ),
        level,
        description,
    )
}

#[test]
fn a_critical_re_fire_is_not_swallowed_by_an_earlier_low_copy() {
    let drafts = correlate(
        vec![
            exfil(0, Severity::Low, "2 KB uploaded"),
            exfil(5, Severity::Critical, "40 MB exfiltrated"),
        ],
        &CorrelationConfig::default(),
    );
    assert_eq!(drafts.len(), 1, "a re-fire stays in its first copy's case");
    let draft = &drafts[0];
    assert_eq!(draft.alerts.len(), 2, "{:?}", draft.reasons);
    assert_eq!(draft.alert_count, 2);
    let worst = draft.alerts.iter().map(|(a, _)| a.severity.level).max();
    assert_eq!(worst, Some(Severity::Critical));
    let descriptions: Vec<&str> = draft
        .alerts
        .iter()
        .map(|(a, _)| a.description.as_untrusted_str())
        .collect();
    assert_eq!(descriptions, ["2 KB uploaded", "40 MB exfiltrated"]);
    assert!(
        draft
            .reasons
            .iter()
            .any(|r| r.contains("re-fire") && r.contains("low -> critical")),
        "{:?}",
        draft.reasons
    );
    assert!(
        !draft.reasons.iter().any(|r| r.contains("exact duplicate")),
        "{:?}",
        draft.reasons
    );
}

#[test]
fn a_lower_copy_after_a_critical_one_is_kept_too() {
    let drafts = correlate(
        vec![
            exfil(0, Severity::Critical, "40 MB exfiltrated"),
            exfil(5, Severity::Low, "2 KB uploaded"),
        ],
        &CorrelationConfig::default(),
    );
    assert_eq!(drafts.len(), 1);
    assert_eq!(drafts[0].alerts.len(), 2);
    assert_eq!(drafts[0].alerts[0].0.severity.level, Severity::Critical);
}

#[test]
fn a_re_fire_with_other_detection_text_keeps_every_description() {
    let drafts = correlate(
        vec![
            exfil(0, Severity::Medium, "2 KB uploaded"),
            exfil(1, Severity::Medium, "40 MB exfiltrated"),
            exfil(2, Severity::Medium, "2 KB uploaded"),
        ],
        &CorrelationConfig::default(),
    );
    assert_eq!(drafts.len(), 1);
    let draft = &drafts[0];
    assert_eq!(draft.alerts.len(), 2, "{:?}", draft.reasons);
    assert_eq!(draft.alert_count, 3);
    // The identical third copy merged into the first.
    assert_eq!(draft.alerts[0].1, 1);
    assert_eq!(draft.alerts[1].1, 0);
    assert_eq!(
        draft.alerts[1].0.description.as_untrusted_str(),
        "40 MB exfiltrated"
    );
    assert!(
        draft
            .reasons
            .iter()
            .any(|r| r.contains("re-fire") && r.contains("different text")),
        "{:?}",
        draft.reasons
    );

    // A different title counts as different text too.
    let mut retitled = exfil(3, Severity::Medium, "2 KB uploaded");
    retitled.title = Untrusted::new("Exfiltration over HTTPS");
    let drafts = correlate(
        vec![exfil(0, Severity::Medium, "2 KB uploaded"), retitled],
        &CorrelationConfig::default(),
    );
    assert_eq!(drafts[0].alerts.len(), 2);
}

#[test]
fn true_duplicates_still_merge_and_count() {
    // Same severity, same text, other time and vendor id: one alert.
    let mut later = exfil(30, Severity::High, "40 MB exfiltrated");
    later.vendor_id = Some("other-id".into());
    later.severity.original = "73".into();
    let drafts = correlate(
        vec![exfil(0, Severity::High, "40 MB exfiltrated"), later],
        &CorrelationConfig::default(),
    );
    assert_eq!(drafts.len(), 1);
    assert_eq!(drafts[0].alerts.len(), 1);
    assert_eq!(drafts[0].alerts[0].1, 1);
    assert_eq!(drafts[0].alert_count, 2);
    assert!(
        drafts[0]
            .reasons
            .iter()
            .any(|r| r.contains("1 exact duplicate alert merged")),
        "{:?}",
        drafts[0].reasons
    );
}

#[test]
fn a_re_fire_joins_its_first_copy_even_outside_the_window() {
    // Duplicates always merged whatever the time between them; a re-fire
    // that says more still belongs with its first copy.
    let config = CorrelationConfig {
        window_minutes: 10,
        ..CorrelationConfig::default()
    };
    let drafts = correlate(
        vec![
            exfil(0, Severity::Low, "2 KB uploaded"),
            exfil(600, Severity::Critical, "40 MB exfiltrated"),
        ],
        &config,
    );
    assert_eq!(drafts.len(), 1);
    assert_eq!(drafts[0].alerts.len(), 2);
}
