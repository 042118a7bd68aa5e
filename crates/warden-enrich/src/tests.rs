#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::path::Path;
use std::sync::Arc;

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

/// The example context, copied so that its files are as fresh as the test:
/// a checkout older than a source's age limit (one day for incidents) must
/// not turn a silent source into a stale-silence gap.
fn example_context() -> Context {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_context(dir.path());
    Context::load(dir.path(), &ContextConfig::default()).expect("loads")
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Every embedded tool over `context`, with the default guard rails.
fn toolbox(context: Context) -> ToolBox {
    let mut tools = ToolBox::new(ToolConfig::default());
    register_embedded(&mut tools, Arc::new(context), None).expect("registers");
    tools
}

/// Enrich `alerts` with every embedded tool over `context` (the default
/// plan, no store).
async fn enrich_with(alerts: &[Alert], context: Context) -> Enrichment {
    let tools = toolbox(context);
    let request = EnrichRequest {
        alerts,
        case_id: None,
        plan: &[],
    };
    enrich(&request, &tools, now()).await
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

#[tokio::test]
async fn domain_controller_alert_gathers_asset_identity_and_kev() {
    let alert = example_alert("ecs-lsass-access.json");
    let result = enrich_with(std::slice::from_ref(&alert), example_context()).await;
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

#[tokio::test]
async fn intel_hits_and_history_are_found() {
    let alert = example_alert("ecs-outbound-malicious-ip.json");
    let result = enrich_with(&[alert], example_context()).await;
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
    let result = enrich_with(&scans.alerts, example_context()).await;
    let history = result
        .evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::History)
        .expect("history");
    assert_eq!(history.facts["false_positive"], 5);
}

/// Every context source, as `[context] sources` names them.
const ALL_SOURCES: &str = r#"sources = ["assets", "identities", "vulnerabilities", "intel", "history", "kev", "stix", "incidents"]"#;

fn config(text: &str) -> ContextConfig {
    toml::from_str(text).expect("config parses")
}

#[tokio::test]
async fn no_context_folder_consults_nothing_and_has_no_gap() {
    let alert = example_alert("ecs-lsass-access.json");
    let result = enrich_with(&[alert], Context::none()).await;
    assert!(result.gaps.is_empty(), "{:?}", result.gaps);
    assert!(result.calls.is_empty(), "{:?}", result.calls);
    assert_eq!(
        result.not_consulted,
        vec![
            "assets (not configured)",
            "identities (not configured)",
            "vulnerabilities (not configured)",
            "kev (not configured)",
            "intel (not configured)",
            "stix (not configured)",
            "history (not configured)",
            "incidents (not configured)",
        ]
    );
    assert_eq!(result.evidence.len(), 1, "only the alert itself");
}

#[tokio::test]
async fn configured_sources_without_a_context_folder_are_each_a_gap() {
    let alert = example_alert("ecs-lsass-access.json");
    let context = Context::without_folder(&config(ALL_SOURCES));
    let result = enrich_with(&[alert], context).await;
    let sources: Vec<&str> = result.gaps.iter().map(|g| g.source.as_str()).collect();
    for needed in [
        "context/assets.csv",
        "context/identities.csv",
        "context/intel.csv",
        "context/history.csv",
    ] {
        assert!(sources.contains(&needed), "{sources:?}");
    }
    assert!(
        result
            .gaps
            .iter()
            .all(|g| g.reason == "no context folder given (--context)"),
        "{:?}",
        result.gaps
    );
    assert!(
        result.not_consulted.is_empty(),
        "{:?}",
        result.not_consulted
    );
    assert_eq!(result.evidence.len(), 1, "only the alert itself");
}

/// A folder written to the public contract alone: the six files it names,
/// no `stix/`, no `incidents.csv`.
fn contract_only_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in [
        "assets.csv",
        "identities.csv",
        "vulnerabilities.csv",
        "intel.csv",
        "history.csv",
        "kev.json",
    ] {
        std::fs::copy(
            repo().join("examples/context").join(name),
            dir.path().join(name),
        )
        .expect("copy");
    }
    dir
}

#[tokio::test]
async fn a_contract_only_context_folder_gives_no_gap_on_a_routine_case() {
    let dir = contract_only_dir();
    let context = Context::load(dir.path(), &ContextConfig::default()).expect("loads");
    assert!(context.problems().is_empty(), "{:?}", context.problems());
    // The scanner's routine scan, with five false-positive closures.
    let scans = read_paths(
        &[repo().join("examples/alerts/ocsf-port-scan.jsonl")],
        &ReadOptions::default(),
    );
    let result = enrich_with(&scans.alerts, context).await;
    assert!(result.gaps.is_empty(), "{:?}", result.gaps);
    assert_eq!(
        result.not_consulted,
        vec!["stix (not configured)", "incidents (not configured)"]
    );
    assert!(
        result
            .calls
            .iter()
            .all(|c| !c.starts_with("stix_lookup") && !c.starts_with("incident_lookup")),
        "{:?}",
        result.calls
    );
    let history = result
        .evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::History)
        .expect("history");
    assert_eq!(history.facts["false_positive"], 5);
}

#[tokio::test]
async fn an_explicitly_configured_source_that_is_absent_is_a_gap() {
    let dir = contract_only_dir();
    let context = Context::load(dir.path(), &config(ALL_SOURCES)).expect("loads");
    let scans = read_paths(
        &[repo().join("examples/alerts/ocsf-port-scan.jsonl")],
        &ReadOptions::default(),
    );
    let result = enrich_with(&scans.alerts, context).await;
    let gaps: Vec<(&str, &str)> = result
        .gaps
        .iter()
        .map(|g| (g.source.as_str(), g.reason.as_str()))
        .collect();
    assert_eq!(
        gaps,
        vec![
            ("context/stix/", "context/stix/ not present"),
            ("context/incidents.csv", "context/incidents.csv not present"),
        ]
    );
    assert!(
        result.not_consulted.is_empty(),
        "{:?}",
        result.not_consulted
    );
}

#[tokio::test]
async fn a_case_context_merged_over_its_sets_consults_what_either_part_has() {
    // The set is contract-only; the case brings the STIX bundles.
    let set = contract_only_dir();
    let case = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(case.path().join("stix")).expect("mkdir");
    copy_dir(
        &repo().join("examples/context/stix"),
        &case.path().join("stix"),
    );
    let case_context = Context::load(case.path(), &ContextConfig::default()).expect("case");
    let set_context = Context::load(set.path(), &ContextConfig::default()).expect("set");
    let merged = case_context.merged_over(&set_context);
    let alert = example_alert("ecs-outbound-malicious-ip.json");
    let result = enrich_with(&[alert], merged).await;
    assert!(result.gaps.is_empty(), "{:?}", result.gaps);
    assert_eq!(result.not_consulted, vec!["incidents (not configured)"]);
    let feeds: Vec<&str> = result
        .evidence
        .iter()
        .filter(|e| e.kind == EvidenceKind::Intel)
        .map(|e| e.source.as_str())
        .collect();
    assert_eq!(
        feeds,
        vec!["context/intel.csv (set)", "context/stix/ (case)"]
    );
}

/// `name` from the examples with `edit` applied to its JSON.
fn edited_alert(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Alert {
    let text = std::fs::read_to_string(repo().join("examples/alerts").join(name)).expect("example");
    let mut value: serde_json::Value = serde_json::from_str(&text).expect("json");
    edit(&mut value);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, value.to_string()).expect("write");
    let report = read_paths(&[path], &ReadOptions::default());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    report.alerts.into_iter().next().expect("one alert")
}

#[tokio::test]
async fn an_internal_entity_a_configured_inventory_does_not_know_is_a_gap() {
    // ws-fin-042 (10.20.4.42) by jdoe, to 185.220.101.45: all known, or
    // external.
    let known = enrich_with(
        &[example_alert("ecs-outbound-malicious-ip.json")],
        example_context(),
    )
    .await;
    assert!(known.gaps.is_empty(), "{:?}", known.gaps);

    // The same connection from an unknown internal address, host and user.
    let alert = edited_alert("ecs-outbound-malicious-ip.json", |v| {
        v["source"]["ip"] = "10.77.0.9".into();
        v["source"]["address"] = "10.77.0.9".into();
        v["host"]["name"] = "ws-x".into();
        v["host"]["hostname"] = "ws-x".into();
        v["host"]["ip"] = serde_json::json!(["10.77.0.9"]);
        v["agent"]["name"] = "ws-x".into();
        v["user"]["name"] = "mallory".into();
        v["related"] = serde_json::json!({});
    });
    let result = enrich_with(&[alert], example_context()).await;
    let gaps: Vec<(&str, &str)> = result
        .gaps
        .iter()
        .map(|g| (g.source.as_str(), g.reason.as_str()))
        .collect();
    assert_eq!(
        gaps,
        vec![
            ("context/assets.csv", "no asset record for host ws-x"),
            (
                "context/assets.csv",
                "no asset record for internal address 10.77.0.9"
            ),
            (
                "context/identities.csv",
                "no identity record for user mallory"
            ),
        ]
    );
}

#[tokio::test]
async fn an_unknown_entity_is_not_a_gap_when_its_inventory_is_not_configured() {
    let alert = edited_alert("ecs-outbound-malicious-ip.json", |v| {
        v["source"]["ip"] = "10.77.0.9".into();
        v["host"]["name"] = "ws-x".into();
        v["host"]["hostname"] = "ws-x".into();
        v["host"]["ip"] = serde_json::json!(["10.77.0.9"]);
        v["agent"]["name"] = "ws-x".into();
        v["user"]["name"] = "mallory".into();
        v["related"] = serde_json::json!({});
    });
    let dir = contract_only_dir();
    std::fs::remove_file(dir.path().join("assets.csv")).expect("rm");
    std::fs::remove_file(dir.path().join("identities.csv")).expect("rm");
    let context = Context::load(dir.path(), &ContextConfig::default()).expect("loads");
    let result = enrich_with(&[alert], context).await;
    assert!(result.gaps.is_empty(), "{:?}", result.gaps);
    assert!(
        result.not_consulted.starts_with(&[
            "assets (not configured)".into(),
            "identities (not configured)".into()
        ]),
        "{:?}",
        result.not_consulted
    );
    // The intel hit on the external address is still found.
    assert!(
        result
            .evidence
            .iter()
            .any(|e| e.kind == EvidenceKind::Intel && e.facts["indicator"] == "185.220.101.45")
    );
}

#[tokio::test]
async fn an_assessor_asking_for_a_source_never_configured_gets_nothing_and_no_gap() {
    let dir = contract_only_dir();
    let context = Context::load(dir.path(), &ContextConfig::default()).expect("loads");
    let tools = toolbox(context);
    let alert = example_alert("ecs-outbound-malicious-ip.json");
    let request = EnrichRequest {
        alerts: std::slice::from_ref(&alert),
        case_id: None,
        plan: &[],
    };
    let mut result = enrich(&request, &tools, now()).await;
    let before = result.evidence.len();
    let (evidence, gaps) = result
        .follow_up(
            &tools,
            "stix_lookup",
            serde_json::json!({"indicators": [{"kind": "ip", "value": "185.220.101.45"}]}),
            now(),
        )
        .await;
    assert!(
        evidence.is_empty() && gaps.is_empty(),
        "{evidence:?} {gaps:?}"
    );
    assert!(result.gaps.is_empty(), "{:?}", result.gaps);
    assert_eq!(result.evidence.len(), before);
    let call = result.tool_calls.last().expect("recorded");
    assert_eq!(call.tool, "stix_lookup");
    assert_eq!(call.outcome, "not consulted, stix (not configured)");
}

/// Copy the example context folder (with its `stix/` folder) into `to`.
fn copy_context(to: &Path) {
    copy_dir(&repo().join("examples/context"), to);
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("dir") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

#[tokio::test]
async fn malformed_rows_are_named_and_become_gaps() {
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
    // Intel is configured, so its absence is a gap.
    let context = Context::load(dir.path(), &config(ALL_SOURCES)).expect("loads");
    let problems = context.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("context/assets.csv: line 3"),
        "{problems:?}"
    );
    let result = enrich_with(&[example_alert("ecs-lsass-access.json")], context).await;
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

#[tokio::test]
async fn old_files_give_stale_evidence() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_context(dir.path());
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(90 * 24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(dir.path().join("assets.csv"))
        .and_then(|f| f.set_modified(old))
        .expect("set mtime");
    let context = Context::load(dir.path(), &ContextConfig::default()).expect("loads");
    let result = enrich_with(&[example_alert("ecs-lsass-access.json")], context).await;
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

#[tokio::test]
async fn context_side_spellings_are_normalised_and_old_kev_is_stale() {
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
    let problems = context.problems();
    let result = enrich_with(&[example_alert("ecs-lsass-access.json")], context).await;
    let identity = result
        .evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::Identity)
        .unwrap_or_else(|| panic!("{:?} {:?}", result.gaps, problems));
    // The row names its domain and the alert's user observable does not
    // (issue 18): the account name is recognised through the spelling,
    // but without the domain it is not verified as that account.
    assert_eq!(identity.facts["partial_match"], "CORP\\svc_backup");
    assert_eq!(identity.facts["match"], "unverified");
    assert!(identity.facts.get("privileged").is_none());
    let vuln = result
        .evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::Vulnerability)
        .expect("vuln");
    assert!(matches!(vuln.freshness, Freshness::Stale { .. }));
}

#[tokio::test]
async fn an_indicator_in_both_intel_and_a_stix_bundle_is_reported_by_each() {
    let alert = example_alert("ecs-outbound-malicious-ip.json");
    let result = enrich_with(&[alert], example_context()).await;
    let feeds: Vec<(&str, &str)> = result
        .evidence
        .iter()
        .filter(|e| e.kind == EvidenceKind::Intel && e.facts["indicator"] == "185.220.101.45")
        .map(|e| {
            (
                e.source.as_str(),
                e.facts["feed"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        feeds,
        vec![
            ("context/intel.csv", "intel.csv"),
            ("context/stix/", "stix")
        ]
    );
    let stix = result
        .evidence
        .iter()
        .find(|e| e.source == "context/stix/")
        .expect("stix evidence");
    assert_eq!(stix.facts["source"], "Corp CTI team");
    assert_eq!(stix.facts["structured"], true);
}

#[tokio::test]
async fn a_host_named_as_a_domain_indicator_is_an_intel_hit() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_context(dir.path());
    std::fs::write(
        dir.path().join("intel.csv"),
        "indicator,type,verdict,source,confidence,tags\n\
         DC01,domain,suspicious,internal-cti,40,\n",
    )
    .expect("write");
    let context = Context::load(dir.path(), &ContextConfig::default()).expect("loads");
    let result = enrich_with(&[example_alert("ecs-lsass-access.json")], context).await;
    let intel = result
        .evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::Intel)
        .unwrap_or_else(|| panic!("no intel hit: {:?}", result.calls));
    assert_eq!(intel.subject, Some((ObservableKind::Host, "dc01".into())));
    assert_eq!(intel.facts["verdict"], "suspicious");
}

#[tokio::test]
async fn an_active_incident_on_an_entity_is_evidence_and_a_closed_one_is_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_context(dir.path());
    std::fs::write(
        dir.path().join("incidents.csv"),
        "id,title,status,severity,entities,opened_at\n\
         IR-1,Credential theft on DC,open,critical,DC01;svc_backup,2026-01-01T00:00:00Z\n\
         IR-2,Old DC outage,closed,low,dc01,2025-01-01T00:00:00Z\n",
    )
    .expect("write");
    let context = Context::load(dir.path(), &ContextConfig::default()).expect("loads");
    let result = enrich_with(&[example_alert("ecs-lsass-access.json")], context).await;
    let incidents: Vec<&Evidence> = result
        .evidence
        .iter()
        .filter(|e| e.kind == EvidenceKind::Incident)
        .collect();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(incidents[0].source, "context/incidents.csv");
    assert_eq!(incidents[0].facts["incident_id"], "IR-1");
    assert_eq!(
        incidents[0].facts["shared"],
        serde_json::json!(["dc01", "svc_backup"])
    );
    assert!(
        result
            .calls
            .contains(&"incident_lookup: 1 finding".to_owned()),
        "{:?}",
        result.calls
    );
}

#[tokio::test]
async fn a_playbook_plan_runs_only_the_tools_it_names() {
    let alert = example_alert("ecs-lsass-access.json");
    let tools = toolbox(example_context());
    let plan = vec!["identity_lookup".to_owned(), "history_lookup".to_owned()];
    let request = EnrichRequest {
        alerts: std::slice::from_ref(&alert),
        case_id: None,
        plan: &plan,
    };
    let result = enrich(&request, &tools, now()).await;
    let called: Vec<&str> = result
        .calls
        .iter()
        .map(|c| c.split(':').next().unwrap_or_default())
        .collect();
    assert_eq!(called, vec!["identity_lookup", "history_lookup"]);
    assert!(
        result
            .evidence
            .iter()
            .all(|e| matches!(e.kind, EvidenceKind::Alert | EvidenceKind::Identity)),
        "{:?}",
        result.evidence
    );
}

#[tokio::test]
async fn secrets_in_context_facts_are_redacted_before_they_become_evidence() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_context(dir.path());
    let assets = std::fs::read_to_string(dir.path().join("assets.csv")).expect("read");
    std::fs::write(
        dir.path().join("assets.csv"),
        assets.replace(
            "dc01,10.0.0.10,identity-team@corp.example,",
            "dc01,10.0.0.10,identity-team password=Hunter2Hunter2,",
        ),
    )
    .expect("write");
    let context = Context::load(dir.path(), &ContextConfig::default()).expect("loads");
    let result = enrich_with(&[example_alert("ecs-lsass-access.json")], context).await;
    let asset = result
        .evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::Asset)
        .expect("asset");
    assert_eq!(
        asset.facts["owner"],
        "identity-team password=[REDACTED:password]"
    );
    assert!(
        asset.summary.contains("password=[REDACTED:password]"),
        "{}",
        asset.summary
    );
    let everything = serde_json::to_string(&result.evidence).expect("json");
    assert!(!everything.contains("Hunter2"), "{everything}");
    assert_eq!(result.redacted, vec!["password", "password"]);
}
