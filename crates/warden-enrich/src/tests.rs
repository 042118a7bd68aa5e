use std::path::Path;

use warden_domain::{Alert, Freshness};
use warden_ingest::{ReadOptions, read_paths};

use super::*;

use warden_testkit::repo;

fn example_alert(name: &str) -> Alert {
    let report = read_paths(
        &[repo().join("examples/alerts").join(name)],
        &ReadOptions::default(),
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    report.alerts.into_iter().next().expect("one alert")
}

fn example_context() -> Context {
    Context::load(&repo().join("examples/context"), &ContextConfig::default()).expect("loads")
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

#[test]
fn example_context_loads_cleanly() {
    let context = example_context();
    assert_eq!(context.problems(), Vec::<String>::new());
    assert!(context.assets().map(|(_, a)| a.len()).unwrap_or(0) >= 4);
    assert!(
        context
            .kev()
            .map(|(_, k)| k.contains_key("CVE-2020-1472"))
            .unwrap_or(false)
    );
}

#[test]
fn domain_controller_alert_gathers_asset_identity_and_kev() {
    let alert = example_alert("ecs-lsass-access.json");
    let result = enrich(std::slice::from_ref(&alert), &example_context(), now());
    let kinds: Vec<EvidenceKind> = result.evidence.iter().map(|e| e.kind).collect();
    assert_eq!(kinds.first(), Some(&EvidenceKind::Alert));
    assert_eq!(result.evidence[0].id.as_str(), "ev-alert-1");
    let asset = result
        .evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::Asset)
        .expect("asset");
    assert_eq!(asset.facts["criticality"], "tier_0");
    assert_eq!(asset.id.as_str(), "ev-1");
    let identity = result
        .evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::Identity)
        .expect("identity");
    assert_eq!(identity.facts["user_type"], "service_account");
    let vuln = result
        .evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::Vulnerability)
        .expect("vulnerability");
    assert_eq!(vuln.facts["cve"], "CVE-2020-1472");
    assert_eq!(vuln.facts["kev"], true);
    assert!(result.gaps.is_empty(), "{:?}", result.gaps);
}

#[test]
fn intel_hits_and_history_are_found() {
    let alert = example_alert("ecs-outbound-malicious-ip.json");
    let result = enrich(&[alert], &example_context(), now());
    let intel = result
        .evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::Intel)
        .expect("intel");
    assert_eq!(intel.facts["indicator"], "185.220.101.45");
    assert_eq!(intel.facts["verdict"], "malicious");

    let scans = read_paths(
        &[repo().join("examples/alerts/ocsf-port-scan.jsonl")],
        &ReadOptions::default(),
    );
    let result = enrich(&scans.alerts, &example_context(), now());
    let history = result
        .evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::History)
        .expect("history");
    assert_eq!(history.facts["false_positive"], 5);
}

#[test]
fn no_context_makes_every_needed_source_a_gap() {
    let alert = example_alert("ecs-lsass-access.json");
    let result = enrich(&[alert], &Context::none(), now());
    let sources: Vec<&str> = result.gaps.iter().map(|g| g.source.as_str()).collect();
    for needed in [
        "context/assets.csv",
        "context/identities.csv",
        "context/intel.csv",
        "context/history.csv",
    ] {
        assert!(sources.contains(&needed), "{sources:?}");
    }
    assert_eq!(result.evidence.len(), 1, "only the alert itself");
}

fn copy_context(to: &Path) {
    for entry in std::fs::read_dir(repo().join("examples/context")).expect("dir") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, to.join(path.file_name().expect("name"))).expect("copy");
    }
}

#[test]
fn malformed_rows_are_named_and_become_gaps() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_context(dir.path());
    std::fs::write(
        dir.path().join("assets.csv"),
        "hostname,ips,owner,environment,criticality,internet_exposed,tags\n\
         dc01,10.0.0.10,x,production,tier_0,false,\n\
         web-01,10.0.0.11,x,prod,tier_1,maybe,\n",
    )
    .expect("write");
    std::fs::remove_file(dir.path().join("intel.csv")).expect("rm");
    let context = Context::load(dir.path(), &ContextConfig::default()).expect("loads");
    let problems = context.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("context/assets.csv: line 3"),
        "{problems:?}"
    );
    let result = enrich(&[example_alert("ecs-lsass-access.json")], &context, now());
    let reasons: Vec<&str> = result.gaps.iter().map(|g| g.reason.as_str()).collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("context/assets.csv: line 3")),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"context/intel.csv not present"),
        "{reasons:?}"
    );
}

#[test]
fn old_files_give_stale_evidence() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_context(dir.path());
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(90 * 24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(dir.path().join("assets.csv"))
        .and_then(|f| f.set_modified(old))
        .expect("set mtime");
    let context = Context::load(dir.path(), &ContextConfig::default()).expect("loads");
    let result = enrich(&[example_alert("ecs-lsass-access.json")], &context, now());
    let asset = result
        .evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::Asset)
        .expect("asset");
    assert!(
        matches!(asset.freshness, Freshness::Stale { age_seconds } if age_seconds > 89 * 24 * 3600)
    );
    let identity = result
        .evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::Identity)
        .expect("identity");
    assert_eq!(identity.freshness, Freshness::Fresh);
}

#[test]
fn the_real_kev_catalogue_loads() {
    let Some(kev) = warden_testkit::shared_data("context/kev/known_exploited_vulnerabilities.json")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(&kev, dir.path().join("kev.json")).expect("copy");
    let context = Context::load(dir.path(), &ContextConfig::default()).expect("loads");
    let (_, catalogue) = context.kev().expect("kev parses");
    assert_eq!(catalogue.len(), 1404);
    assert!(catalogue.contains_key("CVE-2020-1472"));
}

#[test]
fn context_side_spellings_are_normalised_and_old_kev_is_stale() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_context(dir.path());
    let identities = std::fs::read_to_string(dir.path().join("identities.csv")).expect("read");
    std::fs::write(
        dir.path().join("identities.csv"),
        identities.replace("\nsvc_backup,", "\nCORP\\svc_backup,"),
    )
    .expect("write");
    let assets = std::fs::read_to_string(dir.path().join("assets.csv")).expect("read");
    std::fs::write(
        dir.path().join("assets.csv"),
        assets.replace("dc01,10.0.0.10,", "dc01,010.0.0.10;10.0.0.010,"),
    )
    .expect("write");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60 * 24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(dir.path().join("kev.json"))
        .and_then(|f| f.set_modified(old))
        .expect("set mtime");
    let context = Context::load(dir.path(), &ContextConfig::default()).expect("loads");
    let result = enrich(&[example_alert("ecs-lsass-access.json")], &context, now());
    let identity = result
        .evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::Identity)
        .unwrap_or_else(|| panic!("{:?} {:?}", result.gaps, context.problems()));
    assert_eq!(identity.facts["user"], "CORP\\svc_backup");
    let vuln = result
        .evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::Vulnerability)
        .expect("vuln");
    assert!(matches!(vuln.freshness, Freshness::Stale { .. }));
}

#[test]
fn ips_in_the_inventory_match_whatever_their_spelling() {
    assert!(same_ip("2001:DB8:0:0::1", "2001:db8::1"));
    assert!(same_ip(" 10.0.0.10 ", "10.0.0.10"));
    assert!(!same_ip("10.0.0.11", "10.0.0.10"));
}
