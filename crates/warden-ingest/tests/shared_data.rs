//! Ingest of the real third-party samples in `../shared/data`. Skips with a
//! message where the folder is absent, unless `WARDEN_REQUIRE_SHARED_DATA`
//! is set (CI sets it): see `warden_testkit::shared_data`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "integration tests fail by panicking"
)]

use std::path::PathBuf;

use warden_domain::SourceFormat;
use warden_ingest::{ReadOptions, read_paths};

/// The shared data folder (see `warden_testkit::shared_data`).
fn shared_data() -> Option<PathBuf> {
    warden_testkit::shared_data("")
}

#[test]
fn ocsf_detection_finding_examples_ingest() {
    let Some(data) = shared_data() else { return };
    let examples = data.join("ocsf/examples");
    let files: Vec<PathBuf> = [
        "aws-securityhub-guardduty.detection_finding.ocsf.json",
        "okta.detection_finding.ocsf.json",
        "prowler.ocsf.json",
    ]
    .iter()
    .map(|f| examples.join(f))
    .collect();
    let report = read_paths(&files, &ReadOptions::default());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(report.alerts.len() >= 3);
    assert!(
        report
            .alerts
            .iter()
            .all(|a| a.format == SourceFormat::Ocsf && a.class_uid == 2004)
    );
    // The Okta sample gives time in seconds, not milliseconds.
    assert!(
        report.alerts.iter().all(|a| a.time.year() >= 2020),
        "{:?}",
        report.alerts.iter().map(|a| a.time).collect::<Vec<_>>()
    );
}

#[test]
fn elastic_alerts_ingest() {
    let Some(data) = shared_data() else { return };
    let report = read_paths(&[data.join("alerts/ecs")], &ReadOptions::default());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.alerts.len(), 2);
    let archive = report
        .alerts
        .iter()
        .find(|a| a.rule.name == "threat-match-rule")
        .expect("the es_archive alert");
    assert!(
        archive
            .observables
            .iter()
            .any(|o| o.value == "security-linux-1" && o.is_structured())
    );
}

#[test]
fn security_finding_examples_ingest_and_other_classes_are_refused_by_number() {
    let Some(data) = shared_data() else { return };
    let examples = data.join("ocsf/examples");
    let files: Vec<PathBuf> = [
        "falco.security_finding.ocsf.json",
        "qradar-offense.ocsf.json",
        "securityscorecard-malware.security_finding.ocsf.json",
    ]
    .iter()
    .map(|f| examples.join(f))
    .collect();
    let report = read_paths(&files, &ReadOptions::default());
    assert!(
        report.errors.is_empty(),
        "{:?}",
        report.errors.iter().map(|e| &e.reason).collect::<Vec<_>>()
    );
    assert!(report.alerts.len() >= 3);
    assert!(report.alerts.iter().all(|a| a.class_uid == 2001));
    let falco = report
        .alerts
        .iter()
        .find(|a| a.product.to_lowercase().contains("falco"))
        .expect("falco");
    assert!(
        falco.rule.name.starts_with("Linux Kernel Module Injection"),
        "{}",
        falco.rule.name
    );

    let process = read_paths(
        &[examples.join("win-4688.process_activity.ocsf.json")],
        &ReadOptions::default(),
    );
    assert_eq!(process.alerts.len(), 0);
    assert!(
        process.errors[0].reason.contains("OCSF class 1007"),
        "{:?}",
        process.errors.iter().map(|e| &e.reason).collect::<Vec<_>>()
    );
}

#[test]
fn every_suricata_eve_alert_ingests() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("alerts/suricata-eve");
    let files: Vec<PathBuf> = [
        "verify-test-rules.eve.jsonl",
        "builtin-event-rules.eve.jsonl",
        "et-open-2019.eve.jsonl",
    ]
    .iter()
    .map(|f| dir.join(f))
    .collect();
    let report = read_paths(&files, &ReadOptions::default());
    assert!(
        report.errors.is_empty(),
        "{} errors, first: {:?}",
        report.errors.len(),
        report.errors.first()
    );
    assert_eq!(report.alerts.len(), 903 + 292 + 255);
    assert!(
        report
            .alerts
            .iter()
            .all(|a| a.format == SourceFormat::Suricata)
    );
    // Decoder events on truncated packets carry no addresses (15 of them),
    // and a DHCP request from 0.0.0.0 to 255.255.255.255 names no host
    // (issue 23: the unspecified and broadcast addresses are no entities).
    let without_ip = report
        .alerts
        .iter()
        .filter(|a| a.structured(warden_domain::ObservableKind::Ip).count() == 0)
        .count();
    assert_eq!(without_ip, 16);
}

#[test]
fn every_chainsaw_detection_ingests_with_its_techniques() {
    let Some(data) = shared_data() else { return };
    let report = read_paths(
        &[data.join("alerts/sigma-chainsaw/detections.jsonl")],
        &ReadOptions::default(),
    );
    assert!(
        report.errors.is_empty(),
        "{} errors, first: {:?}",
        report.errors.len(),
        report.errors.first()
    );
    assert_eq!(report.alerts.len(), 1114);
    assert!(
        report
            .alerts
            .iter()
            .all(|a| a.format == SourceFormat::Chainsaw)
    );
    let with_technique = report
        .alerts
        .iter()
        .filter(|a| !a.attacks.is_empty())
        .count();
    let with_host = report
        .alerts
        .iter()
        .filter(|a| a.structured(warden_domain::ObservableKind::Host).count() > 0)
        .count();
    assert_eq!(with_host, 1114, "every EVTX event names its computer");
    assert!(
        with_technique > 900,
        "{with_technique} of 1114 carry ATT&CK ids"
    );
}

#[test]
fn every_alert_file_in_shared_data_ingests_without_error() {
    let Some(data) = shared_data() else { return };
    let alerts = data.join("alerts");
    // The folder's README: manifest.jsonl and *.provenance.jsonl describe
    // the alerts; by-sample/ repeats detections.jsonl split per sample.
    let mut files = Vec::new();
    let mut stack = vec![alerts.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            if path.is_dir() {
                if name != "by-sample" {
                    stack.push(path);
                }
            } else if (name.ends_with(".json") || name.ends_with(".jsonl"))
                && name != "manifest.jsonl"
                && !name.ends_with(".provenance.jsonl")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    let report = read_paths(&files, &ReadOptions::default());
    assert!(
        report.errors.is_empty(),
        "{} errors: {:?}",
        report.errors.len(),
        report.errors.iter().take(3).collect::<Vec<_>>()
    );
    let count = |format| report.alerts.iter().filter(|a| a.format == format).count();
    assert_eq!(count(SourceFormat::Chainsaw), 1114);
    assert_eq!(count(SourceFormat::Suricata), 1450);
    assert_eq!(count(SourceFormat::Ecs), 2);
    assert_eq!(count(SourceFormat::Splunk), 3);
    assert_eq!(count(SourceFormat::Msgraph), 1);
    assert_eq!(files.len(), 9, "{files:?}");
}

#[test]
fn attack_catalogue_names_techniques_and_maps_tactic_spellings() {
    let Some(data) = shared_data() else { return };
    let catalogue = warden_ingest::AttackCatalogue::load(
        &data.join("context/attack/enterprise_techniques.json"),
    )
    .expect("catalogue loads");
    assert_eq!(catalogue.len(), 691);
    let mut report = read_paths(
        &[data.join("alerts/sigma-chainsaw/detections.jsonl")],
        &ReadOptions::default(),
    );
    for alert in &mut report.alerts {
        catalogue.annotate(alert);
    }
    let techniques: Vec<_> = report.alerts.iter().flat_map(|a| &a.attacks).collect();
    let named = techniques.iter().filter(|t| t.name.is_some()).count();
    // Sigma tags carry ids only; the catalogue names all but revoked ones.
    assert!(
        named * 100 >= techniques.len() * 95,
        "{named} of {} named",
        techniques.len()
    );
    let lsass = techniques
        .iter()
        .find(|t| t.id == "T1003.001")
        .expect("an LSASS detection");
    assert_eq!(lsass.name.as_deref(), Some("LSASS Memory"));
    assert!(
        lsass.tactics.contains(&"Credential Access".to_owned()),
        "{:?}",
        lsass.tactics
    );
    // Sigma's `attack.credential-access` tag maps onto the same name, once.
    assert_eq!(
        lsass
            .tactics
            .iter()
            .filter(|t| *t == "Credential Access")
            .count(),
        1
    );
}
