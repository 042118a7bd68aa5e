#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use time::macros::datetime;
use warden_domain::Severity;

use super::*;

const NOW: OffsetDateTime = datetime!(2025-06-01 00:00 UTC);
const ACME: &str = include_str!("stix/testdata/acme-cti.json");

const ASSETS_HEADER: &str = "hostname,ips,owner,environment,criticality,internet_exposed,tags\n";
const INCIDENTS_HEADER: &str = "id,title,status,severity,entities,opened_at\n";

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(path, text).expect("write");
}

fn age(dir: &Path, name: &str, days: u64) {
    let then = SystemTime::now() - Duration::from_secs(days * 24 * 3600);
    fs::File::options()
        .write(true)
        .open(dir.join(name))
        .and_then(|f| f.set_modified(then))
        .expect("set mtime");
}

fn load(dir: &Path) -> Context {
    Context::load_at(dir, &ContextConfig::default(), NOW).expect("loads")
}

fn kev(entries: &[(&str, &str)]) -> String {
    let entries: Vec<serde_json::Value> = entries
        .iter()
        .map(|(cve, name)| {
            serde_json::json!({
                "cveID": cve, "vendorProject": "v", "product": "p",
                "vulnerabilityName": name, "dateAdded": "2024-01-01",
            })
        })
        .collect();
    serde_json::json!({ "vulnerabilities": entries }).to_string()
}

fn hostnames(context: &Context) -> Vec<String> {
    context
        .assets()
        .expect("assets")
        .1
        .iter()
        .map(|a| a.hostname.clone())
        .collect()
}

// --- configuration and the empty context ------------------------------------

#[test]
fn new_age_limits_have_defaults_and_are_configurable() {
    let config = ContextConfig::default();
    assert_eq!(
        (config.stix_max_age_days, config.incidents_max_age_days),
        (7, 7)
    );
    let config: ContextConfig =
        toml::from_str("stix_max_age_days = 3\nincidents_max_age_days = 2").expect("parses");
    assert_eq!(
        (
            config.stix_max_age_days,
            config.incidents_max_age_days,
            config.assets_max_age_days
        ),
        (3, 2, 30)
    );
}

#[test]
fn no_context_has_every_source_absent_and_no_problems() {
    let context = Context::none();
    assert_eq!(
        context.stix().err().as_deref(),
        Some("no context folder given (--context)")
    );
    assert!(context.incidents().is_err());
    assert_eq!(context.source(SourceKind::Stix).label(), "context/stix/");
    assert_eq!(
        context.source(SourceKind::Incidents).label(),
        "context/incidents.csv"
    );
    assert!(context.problems().is_empty());
    assert!(context.stix_skipped().is_empty());
}

#[test]
fn source_names_round_trip() {
    for kind in SourceKind::ALL {
        assert_eq!(SourceKind::from_name(kind.name()), Some(kind));
    }
}

// --- stix/ ------------------------------------------------------------------

#[test]
fn an_absent_stix_folder_is_not_present_and_not_a_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let context = load(dir.path());
    assert_eq!(
        context.stix().err().as_deref(),
        Some("context/stix/ not present")
    );
    assert!(context.problems().is_empty());
}

#[test]
fn bundles_load_in_file_name_order_and_other_files_are_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "stix/b-acme-cti.json", ACME);
    write(
        dir.path(),
        "stix/a-local.JSON",
        r#"{"type": "bundle", "id": "bundle--2", "objects": [{
            "type": "indicator", "spec_version": "2.1", "id": "indicator--local",
            "created": "2025-01-01T00:00:00Z", "modified": "2025-01-01T00:00:00Z",
            "pattern": "[ipv4-addr:value = '192.0.2.1']", "pattern_type": "stix",
            "valid_from": "2025-01-01T00:00:00Z"}]}"#,
    );
    write(dir.path(), "stix/README.txt", "not a bundle");
    write(dir.path(), "stix/old/ignored.json", "not even JSON");
    let context = load(dir.path());
    assert!(context.problems().is_empty(), "{:?}", context.problems());
    let (source, records) = context.stix().expect("stix");
    assert_eq!(source.label(), "context/stix/");
    let indicators: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r.indicator.as_str(), r.source.as_str()))
        .collect();
    assert_eq!(indicators.len(), 7);
    assert_eq!(indicators[0], ("192.0.2.1", "STIX a-local.JSON"));
    assert_eq!(indicators[1], ("http://x4z9arb.cn/4712/", "ACME CTI"));
    assert_eq!(context.stix_skipped().len(), 4);
    assert_eq!(
        context.stix_skipped()[0],
        "context/stix/b-acme-cti.json: indicator--b5a1a3f2-2d1b-4a5c-8f44-3c1a1c9b1f01: revoked"
    );
    // STIX records are not mixed into intel.csv's.
    assert_eq!(
        context.intel().err().as_deref(),
        Some("context/intel.csv not present")
    );
}

#[test]
fn stix_freshness_is_the_newest_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "stix/a.json", ACME);
    write(dir.path(), "stix/b.json", ACME);
    age(dir.path(), "stix/a.json", 30);
    age(dir.path(), "stix/b.json", 10);
    let context = load(dir.path());
    let (source, _) = context.stix().expect("stix");
    let now = OffsetDateTime::now_utc();
    assert!(matches!(
        source.freshness(now),
        Freshness::Stale { age_seconds } if (9 * 86_400..11 * 86_400).contains(&age_seconds)
    ));
    age(dir.path(), "stix/b.json", 2);
    let context = load(dir.path());
    assert_eq!(
        context.stix().expect("stix").0.freshness(now),
        Freshness::Fresh
    );
}

#[test]
fn one_malformed_bundle_makes_the_stix_source_unavailable() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "stix/a.json", ACME);
    write(dir.path(), "stix/b.json", r#"[{"type": "indicator"}]"#);
    let context = load(dir.path());
    let want = "context/stix/b.json: not a STIX bundle \
                (the top level must be an object with \"type\": \"bundle\")";
    assert_eq!(context.stix().err().as_deref(), Some(want));
    assert_eq!(context.problems(), vec![want.to_owned()]);
    assert!(context.stix_skipped().is_empty());
}

#[test]
fn a_stix_file_instead_of_a_folder_is_a_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "stix", ACME);
    let context = load(dir.path());
    let reason = context.stix().expect_err("unavailable");
    assert!(
        reason.starts_with("context/stix/ cannot be read: "),
        "{reason}"
    );
    assert_eq!(context.problems(), vec![reason]);
}

#[test]
fn an_empty_stix_folder_is_an_empty_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::create_dir(dir.path().join("stix")).expect("mkdir");
    let context = load(dir.path());
    assert_eq!(context.stix().map(|(_, r)| r.len()), Ok(0));
}

// --- incidents.csv ----------------------------------------------------------

#[test]
fn incidents_load_and_know_whether_they_are_active() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "incidents.csv",
        &format!(
            "{INCIDENTS_HEADER}\
             INC-1042,Ransomware on finance file server,contained,critical,fs-01;10.0.1.20;CORP\\jdoe,2025-05-30T22:14:00Z\n\
             INC-1043,Phishing wave,open,medium,evil.example;,2025-05-31T08:00:00+02:00\n\
             INC-0999,Old scan,closed,low,,2025-01-02T03:04:05Z\n"
        ),
    );
    let context = load(dir.path());
    assert!(context.problems().is_empty(), "{:?}", context.problems());
    let (source, incidents) = context.incidents().expect("incidents");
    assert_eq!(source.label(), "context/incidents.csv");
    assert_eq!(incidents.len(), 3);
    let first = &incidents[0];
    assert_eq!(first.id, "INC-1042");
    assert_eq!(first.status, IncidentStatus::Contained);
    assert_eq!(first.severity, Severity::Critical);
    assert_eq!(first.entities, vec!["fs-01", "10.0.1.20", "CORP\\jdoe"]);
    assert_eq!(first.opened_at, datetime!(2025-05-30 22:14 UTC));
    assert!(first.involves("FS-01") && first.involves("corp\\jdoe") && !first.involves("fs-02"));
    assert_eq!(incidents[1].opened_at, datetime!(2025-05-31 06:00 UTC));
    assert_eq!(incidents[1].entities, vec!["evil.example"]);
    let active: Vec<bool> = incidents.iter().map(IncidentRecord::is_active).collect();
    assert_eq!(active, vec![true, true, false]);
    assert!(incidents[2].entities.is_empty());
}

#[test]
fn a_bad_incident_row_makes_the_file_unusable() {
    for (row, want) in [
        (
            "INC-1,t,resolved,high,a,2025-01-01T00:00:00Z",
            "context/incidents.csv: line 2: unknown variant `resolved`, expected one of `open`, `contained`, `closed`",
        ),
        (
            "INC-1,t,open,severe,a,2025-01-01T00:00:00Z",
            "context/incidents.csv: line 2: unknown variant `severe`, expected one of `informational`, `low`, `medium`, `high`, `critical`",
        ),
        (
            "INC-1,t,open,high,a,yesterday",
            "context/incidents.csv: line 2: opened_at \"yesterday\" is not an RFC 3339 time",
        ),
        (
            "INC-1,t,open,high,a,2025-01-01T00:00:00Z\nINC-1,u,open,high,b,2025-01-01T00:00:00Z",
            "context/incidents.csv: line 3: incident id \"INC-1\" is already on line 2",
        ),
        (
            ",t,open,high,a,2025-01-01T00:00:00Z",
            "context/incidents.csv: line 2: id is empty",
        ),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            "incidents.csv",
            &format!("{INCIDENTS_HEADER}{row}\n"),
        );
        let context = load(dir.path());
        let reason = context.incidents().expect_err("unusable");
        assert!(reason.starts_with(want), "{reason}");
        assert_eq!(context.problems(), vec![reason]);
    }
}

#[test]
fn incidents_go_stale_after_a_week() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "incidents.csv",
        &format!("{INCIDENTS_HEADER}INC-1,t,open,high,a,2025-01-01T00:00:00Z\n"),
    );
    age(dir.path(), "incidents.csv", 6);
    let (source, _) = load(dir.path())
        .incidents()
        .map(|(s, r)| (s.clone(), r.len()))
        .expect("incidents");
    assert_eq!(
        source.freshness(OffsetDateTime::now_utc()),
        Freshness::Fresh
    );
    age(dir.path(), "incidents.csv", 8);
    let context = load(dir.path());
    let (source, _) = context.incidents().expect("incidents");
    assert!(matches!(
        source.freshness(OffsetDateTime::now_utc()),
        Freshness::Stale { .. }
    ));
}

// --- freshness.toml ---------------------------------------------------------

fn folder_with_intel_and_assets() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "intel.csv",
        "indicator,type,verdict,source,confidence,tags\n192.0.2.1,ip,malicious,x,80,\n",
    );
    write(
        dir.path(),
        "assets.csv",
        &format!("{ASSETS_HEADER}ws-1,10.0.0.1,it,production,tier_2,false,\n"),
    );
    dir
}

#[test]
fn freshness_toml_gives_the_as_of_time() {
    let dir = folder_with_intel_and_assets();
    write(dir.path(), "stix/a.json", ACME);
    write(
        dir.path(),
        "freshness.toml",
        "# a validation set checked out of git\n\
         intel = \"2025-05-01T00:00:00Z\"\n\
         stix = 2025-05-30T00:00:00Z\n\
         incidents = \"2025-05-31T00:00:00+02:00\"\n",
    );
    let context = load(dir.path());
    assert!(context.problems().is_empty(), "{:?}", context.problems());
    let (intel, _) = context.intel().expect("intel");
    assert_eq!(intel.as_of(), Some(datetime!(2025-05-01 00:00 UTC)));
    assert_eq!(
        intel.freshness(NOW),
        Freshness::Stale {
            age_seconds: 31 * 86_400
        }
    );
    let (stix, _) = context.stix().expect("stix");
    assert_eq!(stix.freshness(NOW), Freshness::Fresh);
    assert_eq!(stix.as_of(), Some(datetime!(2025-05-30 00:00 UTC)));
    // Sources it does not name keep their file time.
    let (assets, _) = context.assets().expect("assets");
    let modified = fs::metadata(dir.path().join("assets.csv"))
        .and_then(|m| m.modified())
        .map(OffsetDateTime::from)
        .expect("mtime");
    assert_eq!(assets.as_of(), Some(modified));
}

#[test]
fn a_bad_freshness_toml_is_a_problem_and_ignored() {
    for (text, want) in [
        (
            "intel = \"2025-05-01T00:00:00Z\"\nassets_csv = \"2025-05-01T00:00:00Z\"\n",
            "context/freshness.toml: unknown key `assets_csv` (expected one of assets, \
             identities, vulnerabilities, intel, history, kev, stix, incidents) \
             (file ignored; file times used)",
        ),
        (
            "intel = \"2025-05-01\"\n",
            "context/freshness.toml: `intel`: \"2025-05-01\" is not an RFC 3339 time \
             with a UTC offset (file ignored; file times used)",
        ),
        (
            "intel = 2025-05-01T00:00:00\n",
            "context/freshness.toml: `intel`: \"2025-05-01T00:00:00\" is not an RFC 3339 time \
             with a UTC offset (file ignored; file times used)",
        ),
        (
            "intel = 7\n",
            "context/freshness.toml: `intel` must be an RFC 3339 time in quotes \
             (file ignored; file times used)",
        ),
        (
            "assets = \"2025-05-01T00:00:00Z\"\nintel = \n",
            "context/freshness.toml: line 2: ",
        ),
    ] {
        let dir = folder_with_intel_and_assets();
        write(dir.path(), "freshness.toml", text);
        let context = load(dir.path());
        let problems = context.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with(want), "{problems:?}");
        // Ignored as a whole: the intel file's own time is used.
        let (intel, _) = context.intel().expect("intel");
        assert_ne!(intel.as_of(), Some(datetime!(2025-05-01 00:00 UTC)));
        assert_eq!(intel.freshness(OffsetDateTime::now_utc()), Freshness::Fresh);
    }
}

// --- merging ----------------------------------------------------------------

/// A set folder and a case folder.
fn set_and_case() -> (tempfile::TempDir, tempfile::TempDir) {
    let set = tempfile::tempdir().expect("tempdir");
    write(
        set.path(),
        "assets.csv",
        &format!(
            "{ASSETS_HEADER}dc01,10.0.0.10,id,production,tier_0,false,\n\
             ws-1,10.0.0.1,it,production,tier_2,false,\n"
        ),
    );
    write(
        set.path(),
        "intel.csv",
        "indicator,type,verdict,source,confidence,tags\n192.0.2.1,ip,malicious,set,80,\n",
    );
    write(
        set.path(),
        "kev.json",
        &kev(&[
            ("CVE-2020-1472", "set name"),
            ("CVE-2021-44228", "log4shell"),
        ]),
    );
    write(
        set.path(),
        "freshness.toml",
        "assets = \"2025-05-20T00:00:00Z\"\nintel = \"2025-05-30T00:00:00Z\"\n",
    );
    write(set.path(), "stix/set.json", ACME);

    let case = tempfile::tempdir().expect("tempdir");
    write(
        case.path(),
        "assets.csv",
        &format!("{ASSETS_HEADER}ws-1,10.0.0.1,case-owner,staging,tier_3,true,\n"),
    );
    write(
        case.path(),
        "kev.json",
        &kev(&[("CVE-2020-1472", "case name")]),
    );
    write(
        case.path(),
        "identities.csv",
        "user,display_name,department,role,privileged,user_type,mfa\n\
         jdoe,J,F,R,false,human,enabled\n",
    );
    write(
        case.path(),
        "freshness.toml",
        "assets = \"2025-04-01T00:00:00Z\"\n",
    );
    (set, case)
}

#[test]
fn merged_records_put_the_case_first() {
    let (set, case) = set_and_case();
    let merged = load(case.path()).merged_over(&load(set.path()));
    assert!(merged.problems().is_empty(), "{:?}", merged.problems());
    assert_eq!(hostnames(&merged), vec!["ws-1", "dc01", "ws-1"]);
    let (_, assets) = merged.assets().expect("assets");
    let first = assets.iter().find(|a| a.hostname == "ws-1").expect("ws-1");
    assert_eq!(first.owner, "case-owner");
    let (source, _) = merged.assets().expect("assets");
    assert_eq!(source.label(), "context/assets.csv (case+set)");
}

#[test]
fn merged_kev_is_a_union_where_the_case_wins() {
    let (set, case) = set_and_case();
    let merged = load(case.path()).merged_over(&load(set.path()));
    let (source, catalogue) = merged.kev().expect("kev");
    assert_eq!(source.label(), "context/kev.json (case+set)");
    assert_eq!(catalogue.len(), 2);
    assert_eq!(catalogue["CVE-2020-1472"].vulnerability_name, "case name");
    assert_eq!(catalogue["CVE-2021-44228"].vulnerability_name, "log4shell");
}

#[test]
fn a_source_on_one_side_only_is_used_and_labelled() {
    let (set, case) = set_and_case();
    let merged = load(case.path()).merged_over(&load(set.path()));
    let (source, identities) = merged.identities().expect("identities");
    assert_eq!(source.label(), "context/identities.csv (case)");
    assert_eq!(identities.len(), 1);
    let (source, intel) = merged.intel().expect("intel");
    assert_eq!(source.label(), "context/intel.csv (set)");
    assert_eq!(intel[0].source, "set");
    let (source, stix) = merged.stix().expect("stix");
    assert_eq!(source.label(), "context/stix/ (set)");
    assert_eq!(stix.len(), 6);
    assert!(
        merged
            .stix_skipped()
            .iter()
            .all(|s| s.starts_with("set: context/stix/set.json: indicator--")),
        "{:?}",
        merged.stix_skipped()
    );
    // Absent from both: the case's reason.
    assert_eq!(
        merged.history().err().as_deref(),
        Some("context/history.csv not present")
    );
    assert_eq!(
        merged.source(SourceKind::History).label(),
        "context/history.csv"
    );
}

#[test]
fn merged_freshness_is_the_older_part_and_each_freshness_toml_covers_its_own_folder() {
    let (set, case) = set_and_case();
    let set = load(set.path());
    let case = load(case.path());
    // The case's freshness.toml dates the case's assets only.
    assert_eq!(
        case.assets().expect("assets").0.as_of(),
        Some(datetime!(2025-04-01 00:00 UTC))
    );
    assert_eq!(
        set.assets().expect("assets").0.as_of(),
        Some(datetime!(2025-05-20 00:00 UTC))
    );
    let merged = case.merged_over(&set);
    let (assets, _) = merged.assets().expect("assets");
    assert_eq!(assets.as_of(), Some(datetime!(2025-04-01 00:00 UTC)));
    assert_eq!(
        assets.freshness(NOW),
        Freshness::Stale {
            age_seconds: 61 * 86_400
        }
    );
    // The other way round: the set's part is the older one.
    let (set_dir, case_dir) = set_and_case();
    write(
        case_dir.path(),
        "freshness.toml",
        "assets = \"2025-05-31T00:00:00Z\"\n",
    );
    let merged = load(case_dir.path()).merged_over(&load(set_dir.path()));
    assert_eq!(
        merged.assets().expect("assets").0.as_of(),
        Some(datetime!(2025-05-20 00:00 UTC))
    );
    assert_eq!(
        merged.assets().expect("assets").0.freshness(NOW),
        Freshness::Fresh
    );
}

#[test]
fn a_broken_part_makes_the_merged_source_broken() {
    let (set, case) = set_and_case();
    write(
        case.path(),
        "assets.csv",
        &format!("{ASSETS_HEADER}ws-9,10.0.0.9,x,prod,tier_2,false,\n"),
    );
    write(set.path(), "identities.csv", "user\njdoe\n");
    let merged = load(case.path()).merged_over(&load(set.path()));
    let assets = merged.assets().expect_err("broken");
    assert!(
        assets.starts_with("case: context/assets.csv: line 2: unknown variant `prod`"),
        "{assets}"
    );
    assert_eq!(
        merged.source(SourceKind::Assets).label(),
        "context/assets.csv (case)"
    );
    let identities = merged.identities().expect_err("broken");
    assert!(
        identities.starts_with("set: context/identities.csv: line 2: "),
        "{identities}"
    );
    assert_eq!(merged.problems(), vec![assets, identities]);
}

#[test]
fn problems_of_both_parts_are_kept_and_named() {
    let (set, case) = set_and_case();
    write(
        case.path(),
        "freshness.toml",
        "asets = \"2025-04-01T00:00:00Z\"\n",
    );
    write(set.path(), "history.csv", "rule,entity\nr,e\n");
    write(case.path(), "history.csv", "rule,entity\nr,e\n");
    let merged = load(case.path()).merged_over(&load(set.path()));
    let problems = merged.problems();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(problems[0].starts_with("case: context/freshness.toml: unknown key `asets`"));
    assert!(problems[1].starts_with("case: context/history.csv: line 2: "));
    assert!(problems[2].starts_with("set: context/history.csv: line 2: "));
    // The history gap carries the case's reason.
    assert_eq!(merged.history().err().as_ref(), Some(&problems[1]));
}

#[test]
fn merging_over_no_context_keeps_the_case() {
    let (_, case) = set_and_case();
    let merged = load(case.path()).merged_over(&Context::none());
    assert_eq!(hostnames(&merged), vec!["ws-1"]);
    assert_eq!(
        merged.source(SourceKind::Assets).label(),
        "context/assets.csv (case)"
    );
    assert!(merged.problems().is_empty());
}

// --- which sources a deployment uses ----------------------------------------

fn load_with(dir: &Path, config: &str) -> Context {
    let config: ContextConfig = toml::from_str(config).expect("config parses");
    Context::load_at(dir, &config, NOW).expect("loads")
}

#[test]
fn sources_are_unset_by_default_and_named_as_freshness_toml_names_them() {
    assert_eq!(ContextConfig::default().sources, None);
    let config: ContextConfig =
        toml::from_str(r#"sources = ["assets", "kev", "stix", "incidents"]"#).expect("parses");
    assert_eq!(
        config.sources,
        Some(vec![
            SourceKind::Assets,
            SourceKind::Kev,
            SourceKind::Stix,
            SourceKind::Incidents
        ])
    );
    for kind in SourceKind::ALL {
        let config: ContextConfig =
            toml::from_str(&format!("sources = [\"{}\"]", kind.name())).expect("parses");
        assert_eq!(config.sources, Some(vec![kind]));
    }
    let err = toml::from_str::<ContextConfig>(r#"sources = ["asset"]"#)
        .expect_err("a misspelt source is refused")
        .to_string();
    assert!(err.contains("asset") && err.contains("assets"), "{err}");
    // Unset stays unset when written out (`warden init`).
    let written = toml::to_string(&ContextConfig::default()).expect("writes");
    assert!(!written.contains("sources"), "{written}");
}

#[test]
fn unset_sources_are_those_the_folder_holds_broken_ones_included() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "assets.csv",
        &format!("{ASSETS_HEADER}dc01,10.0.0.10,id,production,tier_0,false,\n"),
    );
    write(dir.path(), "history.csv", "rule,entity\nr,e\n");
    write(dir.path(), "stix/feed.json", ACME);
    let context = load(dir.path());
    assert_eq!(
        context.configured(),
        vec![SourceKind::Assets, SourceKind::History, SourceKind::Stix]
    );
    assert_eq!(context.not_consulted(SourceKind::Assets), None);
    assert_eq!(
        context.not_consulted(SourceKind::Incidents).as_deref(),
        Some("incidents (not configured)")
    );
    // The broken history file is configured, so still a problem.
    assert_eq!(context.problems().len(), 1, "{:?}", context.problems());
}

#[test]
fn no_context_folder_configures_nothing_unless_sources_are_set() {
    assert!(Context::none().configured().is_empty());
    let config: ContextConfig = toml::from_str(r#"sources = ["assets", "stix"]"#).expect("parses");
    let context = Context::without_folder(&config);
    assert_eq!(
        context.configured(),
        vec![SourceKind::Assets, SourceKind::Stix]
    );
    assert_eq!(
        context.stix().err().as_deref(),
        Some("no context folder given (--context)")
    );
    assert!(context.problems().is_empty());
}

#[test]
fn set_sources_are_configured_present_or_not_and_others_are_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "assets.csv",
        &format!("{ASSETS_HEADER}dc01,10.0.0.10,id,production,tier_0,false,\n"),
    );
    write(dir.path(), "history.csv", "rule,entity\nr,e\n");
    let context = load_with(dir.path(), r#"sources = ["assets", "stix"]"#);
    assert_eq!(
        context.configured(),
        vec![SourceKind::Assets, SourceKind::Stix]
    );
    assert_eq!(
        context.stix().err().as_deref(),
        Some("context/stix/ not present")
    );
    // A broken file of a source the deployment does not use is not
    // consulted, so it is not a problem either.
    assert!(context.problems().is_empty(), "{:?}", context.problems());
    assert_eq!(
        context.not_consulted(SourceKind::History).as_deref(),
        Some("history (not configured)")
    );
}

#[test]
fn a_source_configured_in_either_part_is_configured_in_the_merge() {
    let (set, case) = set_and_case();
    // The set has assets, intel, kev and stix/; the case assets, kev and
    // identities.
    let case_context = load(case.path());
    assert!(!case_context.is_configured(SourceKind::Stix));
    let merged = case_context.merged_over(&load(set.path()));
    assert_eq!(
        merged.configured(),
        vec![
            SourceKind::Assets,
            SourceKind::Identities,
            SourceKind::Intel,
            SourceKind::Kev,
            SourceKind::Stix
        ]
    );
    assert!(merged.stix().is_ok());
    assert_eq!(
        merged.not_consulted(SourceKind::Incidents).as_deref(),
        Some("incidents (not configured)")
    );

    // Over no context, the case's own sources stay configured.
    let merged = load(case.path()).merged_over(&Context::none());
    assert_eq!(
        merged.configured(),
        vec![SourceKind::Assets, SourceKind::Identities, SourceKind::Kev]
    );
}
