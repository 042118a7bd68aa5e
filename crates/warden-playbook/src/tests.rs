#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use warden_ingest::{ReadOptions, read_paths};
use warden_testkit::repo;

use super::*;

fn alerts(path: &str) -> Vec<Alert> {
    let report = read_paths(&[repo().join(path)], &ReadOptions::default());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    report.alerts
}

fn playbook_for(path: &str) -> String {
    let set = PlaybookSet::shipped().expect("shipped set is valid");
    set.select(&alerts(path)).name().to_owned()
}

#[test]
fn shipped_set_has_every_use_case_in_order_with_the_catch_all_last() {
    let set = PlaybookSet::shipped().expect("valid");
    let names: Vec<&str> = set.iter().map(Playbook::name).collect();
    assert_eq!(
        names,
        [
            "cloud-access-key",
            "phishing",
            "suspicious-sign-in",
            "credential-access",
            "endpoint-malware",
            "network-ids",
            "suspicious-process",
            "default"
        ]
    );
    for playbook in set.iter() {
        assert!(
            playbook.use_case.allows(ActionName::CaseNote),
            "{} must allow notes",
            playbook.name()
        );
        assert!(!playbook.use_case.owner.is_empty());
        assert!(
            !playbook.tools.is_empty(),
            "{} lists its tools",
            playbook.name()
        );
    }
    let default = set.get("default").expect("default");
    assert!(!default.use_case.allows(ActionName::EdrIsolateHost));
}

#[test]
fn real_alerts_reach_the_playbook_of_their_family() {
    assert_eq!(
        playbook_for("examples/alerts/ocsf-mfa-fatigue.json"),
        "suspicious-sign-in"
    );
    assert_eq!(
        playbook_for("examples/alerts/ecs-lsass-access.json"),
        "credential-access"
    );
    assert_eq!(
        playbook_for("examples/alerts/ocsf-port-scan.jsonl"),
        "network-ids"
    );
    assert_eq!(
        playbook_for("examples/alerts/ecs-powershell-encoded.json"),
        "suspicious-process"
    );
    // Falcon detections are malware cases unless ATT&CK says credential
    // theft, which the earlier playbook takes.
    let set = PlaybookSet::shipped().expect("valid");
    for alert in alerts("crates/warden-ingest/testdata/falcon") {
        let chosen = set.select(std::slice::from_ref(&alert)).name();
        let credential = alert.attacks.iter().any(|a| a.id.starts_with("T1003"))
            || alert.rule.name.to_lowercase().contains("credential");
        let expected = if credential {
            "credential-access"
        } else {
            "endpoint-malware"
        };
        assert_eq!(chosen, expected, "{}", alert.rule.name);
    }
}

#[test]
fn guardduty_access_key_findings_go_to_the_cloud_playbook() {
    let set = PlaybookSet::shipped().expect("valid");
    let found: Vec<String> = alerts("crates/warden-ingest/testdata/guardduty")
        .iter()
        .map(|a| {
            format!(
                "{} -> {}",
                a.rule.name,
                set.select(std::slice::from_ref(a)).name()
            )
        })
        .collect();
    assert!(
        found.iter().any(|f| f.ends_with("-> cloud-access-key")),
        "{found:#?}"
    );
}

#[test]
fn free_text_cannot_move_a_case_to_another_playbook() {
    let mut alert = alerts("examples/alerts/ocsf-port-scan.jsonl").remove(0);
    alert.title = warden_domain::Untrusted::new("phishing access key mimikatz");
    alert.description = warden_domain::Untrusted::new("T1566 T1003 malware");
    let set = PlaybookSet::shipped().expect("valid");
    assert_eq!(set.select(&[alert]).name(), "network-ids");
}

const MINIMAL: &str = r#"
name = "x"
owner = "team@corp.example"
autonomy = "draft"
[[match]]
formats = ["ecs"]
[actions]
allowed = ["case.note"]
"#;

#[test]
fn bad_files_are_refused_with_the_reason() {
    assert!(Playbook::parse("t", MINIMAL).is_ok());
    let cases = [
        (MINIMAL.replace("draft", "yolo"), "autonomy"),
        (
            MINIMAL.replace("\"case.note\"", "\"edr.nuke_host\""),
            "edr.nuke_host",
        ),
        (MINIMAL.replace("\"ecs\"", "\"syslog\""), "unknown format"),
        (
            MINIMAL.replace("name = \"x\"", "name = \"Bad Name\""),
            "name",
        ),
        (
            MINIMAL.replace("formats = [\"ecs\"]", "rules = [\"(unclosed\"]"),
            "regular expression",
        ),
        (
            MINIMAL.replace("formats = [\"ecs\"]", "techniques = [\"1003\"]"),
            "ATT&CK",
        ),
        (MINIMAL.replace("formats = [\"ecs\"]", ""), "empty"),
        (
            format!("{MINIMAL}\n[thresholds]\nmin_confidence = 1.5\n"),
            "out of range",
        ),
        (
            format!("{MINIMAL}\n[thresholds]\nmalicious = 40\nsuspicious = 60\n"),
            "above",
        ),
        (format!("{MINIMAL}\nsurprise = 1\n"), "surprise"),
        (
            MINIMAL.replace("owner = \"team@corp.example\"", "owner = \" \""),
            "owner",
        ),
    ];
    for (text, needle) in cases {
        let err = Playbook::parse("t.toml", &text)
            .expect_err(needle)
            .to_string();
        assert!(err.contains(needle), "{err} should mention {needle}");
        assert!(err.contains("t.toml"), "{err} names the file");
    }
}

#[test]
fn a_set_needs_exactly_one_catch_all_and_unique_names() {
    let specific = Playbook::parse("a", MINIMAL).expect("ok");
    assert!(PlaybookSet::from_playbooks(vec![specific.clone()]).is_err());
    let catch_all = Playbook::parse(
        "b",
        "name = \"all\"\nowner = \"o\"\nautonomy = \"shadow\"\n[actions]\nallowed = []\n",
    )
    .expect("ok");
    assert!(PlaybookSet::from_playbooks(vec![specific.clone(), catch_all.clone()]).is_ok());
    assert!(PlaybookSet::from_playbooks(vec![catch_all.clone(), catch_all.clone()]).is_err());
    assert!(PlaybookSet::from_playbooks(vec![specific.clone(), specific, catch_all]).is_err());
}

#[test]
fn sub_techniques_match_their_parent_but_not_a_longer_id() {
    let mut alert = alerts("examples/alerts/ocsf-port-scan.jsonl").remove(0);
    let rule = Playbook::parse(
        "t",
        &MINIMAL.replace("formats = [\"ecs\"]", "techniques = [\"T1003\"]"),
    )
    .expect("ok");
    alert.attacks = vec![warden_domain::AttackTechnique {
        id: "T1003.001".into(),
        name: None,
        tactics: vec!["Credential Access".into()],
    }];
    assert!(rule.matches(&alert));
    alert.attacks[0].id = "T10030".into();
    assert!(!rule.matches(&alert));
    let by_tactic = Playbook::parse(
        "t",
        &MINIMAL.replace("formats = [\"ecs\"]", "tactics = [\"credential-access\"]"),
    )
    .expect("ok");
    alert.attacks[0].tactics = vec!["credential_access".into()];
    assert!(by_tactic.matches(&alert));
}

#[test]
fn shipped_files_load_from_a_folder_too() {
    let dir = tempfile::tempdir().expect("dir");
    for (name, text) in PlaybookSet::shipped_files() {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    let set = PlaybookSet::load_dir(dir.path()).expect("loads");
    assert_eq!(set.iter().count(), 8);
    std::fs::remove_file(dir.path().join("default.toml")).expect("rm");
    let err = PlaybookSet::load_dir(dir.path())
        .expect_err("no catch-all")
        .to_string();
    assert!(err.contains("catch-all"), "{err}");
}

/// An alert from `payload` in `format`, as ingest makes it.
fn normalised(format: SourceFormat, payload: &serde_json::Value) -> Alert {
    warden_ingest::normalise(format, payload, "test", "h").expect("normalises")
}

/// An OCSF detection whose title says credential theft and whose analytic
/// (uid R-17, no name) and ATT&CK tag say a port scan, or nothing.
fn ocsf_titled(techniques: &[&str]) -> serde_json::Value {
    let attacks: Vec<serde_json::Value> = techniques
        .iter()
        .map(|t| serde_json::json!({"technique": {"uid": t}, "tactic": {"name": "Discovery"}}))
        .collect();
    serde_json::json!({
        "class_uid": 2004,
        "time": 1_763_000_000_000_i64,
        "metadata": {"product": {"name": "Acme NDR"}},
        "finding_info": {
            "uid": "f-1",
            "title": "mimikatz lsass dump",
            "analytic": {"uid": "R-17"},
            "attacks": attacks
        },
        "device": {"hostname": "ws-17.corp.example"}
    })
}

/// A Graph alert with the same title, its detector and ATT&CK tags.
fn graph_titled(techniques: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "@odata.type": "#microsoft.graph.security.alert",
        "id": "da-1",
        "title": "mimikatz lsass dump",
        "category": "Discovery",
        "serviceSource": "microsoftDefenderForEndpoint",
        "detectionSource": "edr",
        "detectorId": "7c2a1b33-5d4e-4f60-8a71-9b2c3d4e5f60",
        "createdDateTime": "2026-11-17T14:05:00Z",
        "mitreTechniques": techniques,
        "evidence": [{"@odata.type": "#microsoft.graph.security.deviceEvidence",
                      "deviceDnsName": "ws-17.corp.example"}]
    })
}

#[test]
fn a_title_that_stands_in_for_the_rule_name_does_not_choose_the_playbook() {
    let set = PlaybookSet::shipped().expect("valid");
    for (format, payload, expected) in [
        // The stable identifiers say a port scan: the scan's playbook.
        (SourceFormat::Ocsf, ocsf_titled(&["T1046"]), "network-ids"),
        (
            SourceFormat::Msgraph,
            graph_titled(&["T1046"]),
            "network-ids",
        ),
        // They say nothing: the catch-all, not credential theft.
        (SourceFormat::Ocsf, ocsf_titled(&[]), "default"),
        (SourceFormat::Msgraph, graph_titled(&[]), "default"),
    ] {
        let alert = normalised(format, &payload);
        assert_eq!(
            alert.rule.name, "mimikatz lsass dump",
            "the title stands in"
        );
        assert!(!rule_name_is_stable(&alert), "{format}");
        assert_eq!(
            set.select(std::slice::from_ref(&alert)).name(),
            expected,
            "{format} {:?}",
            alert.attacks
        );
        // Read back from the store, it is judged the same way.
        let stored: Alert =
            serde_json::from_str(&serde_json::to_string(&alert).expect("json")).expect("back");
        assert_eq!(set.select(&[stored]).name(), expected, "{format} stored");
        // A case with such an alert and a real credential-theft alert goes
        // by the real one.
        let lsass = alerts("examples/alerts/ecs-lsass-access.json").remove(0);
        assert_eq!(set.select(&[alert, lsass]).name(), "credential-access");
    }
}

#[test]
fn a_named_analytic_still_matches_rule_patterns_whatever_the_title() {
    let set = PlaybookSet::shipped().expect("valid");
    let mut payload = ocsf_titled(&[]);
    payload["finding_info"]["analytic"]["name"] = "LSASS memory read by an unsigned process".into();
    payload["finding_info"]["title"] = "weekly report".into();
    let alert = normalised(SourceFormat::Ocsf, &payload);
    assert!(rule_name_is_stable(&alert));
    assert_eq!(set.select(&[alert]).name(), "credential-access");
    // Every other built-in format reads its rule name from a rule field.
    for alert in alerts("examples/alerts") {
        if alert.format != SourceFormat::Ocsf && alert.format != SourceFormat::Msgraph {
            assert!(rule_name_is_stable(&alert), "{}", alert.origin);
        }
    }
}

#[test]
fn rule_uids_match_the_rule_id_exactly_ignoring_case() {
    let by_uid = Playbook::parse(
        "t",
        &MINIMAL.replace(
            "formats = [\"ecs\"]",
            "formats = [\"msgraph\"]\nrule_uids = [\"7C2A1B33-5D4E-4F60-8A71-9B2C3D4E5F60\"]",
        ),
    )
    .expect("ok");
    let alert = normalised(SourceFormat::Msgraph, &graph_titled(&[]));
    assert!(by_uid.matches(&alert));
    let mut other = graph_titled(&[]);
    other["detectorId"] = "7c2a1b33-5d4e-4f60-8a71-9b2c3d4e5f6".into();
    assert!(!by_uid.matches(&normalised(SourceFormat::Msgraph, &other)));
    // An alert without a rule id is not taken by a rule_uids block.
    let mut none = graph_titled(&[]);
    none.as_object_mut().expect("object").remove("detectorId");
    assert!(!by_uid.matches(&normalised(SourceFormat::Msgraph, &none)));

    let err = Playbook::parse(
        "t.toml",
        &MINIMAL.replace("formats = [\"ecs\"]", "rule_uids = [\" \"]"),
    )
    .expect_err("empty")
    .to_string();
    assert!(err.contains("empty rule id"), "{err}");
}

#[test]
fn a_graph_alerts_antivirus_signature_is_read_in_place_of_its_title() {
    let set = PlaybookSet::shipped().expect("valid");
    // The signature Defender Antivirus named, whatever the title says.
    let mut payload = graph_titled(&[]);
    payload["title"] = "weekly report".into();
    payload["threatDisplayName"] = "HackTool:Win32/Mimikatz.D".into();
    let alert = normalised(SourceFormat::Msgraph, &payload);
    assert!(!rule_name_is_stable(&alert));
    assert_eq!(
        rule_name_for_matching(&alert).as_deref(),
        Some("HackTool:Win32/Mimikatz.D")
    );
    assert_eq!(set.select(&[alert]).name(), "credential-access");
    let mut payload = graph_titled(&["T1071.001"]);
    payload["threatDisplayName"] = "Backdoor:Win64/Sliver.A!MTB".into();
    let alert = normalised(SourceFormat::Msgraph, &payload);
    assert_eq!(set.select(&[alert]).name(), "endpoint-malware");
    // Without one, the title is not read: the technique decides.
    let alert = normalised(SourceFormat::Msgraph, &graph_titled(&["T1071.001"]));
    assert_eq!(rule_name_for_matching(&alert), None);
    assert_eq!(set.select(&[alert]).name(), "network-ids");
}

#[test]
fn a_cef_name_standing_in_for_an_empty_event_class_id_does_not_choose_the_playbook() {
    let set = PlaybookSet::shipped().expect("valid");
    let line = |class_id: &str| {
        serde_json::Value::String(format!(
            "CEF:0|Acme|NDR|1.0|{class_id}|mimikatz lsass dump|5|rt=1763000000000 src=10.1.2.3 dst=10.1.2.4"
        ))
    };
    // No event class id: the Name (the sender's text) named the rule.
    let titled = normalised(SourceFormat::Cef, &line(""));
    assert!(
        titled.rule.name.contains("mimikatz"),
        "{}",
        titled.rule.name
    );
    assert!(!rule_name_is_stable(&titled));
    assert_eq!(set.select(std::slice::from_ref(&titled)).name(), "default");
    // A class id is the vendor's rule: its name matches as any rule's does.
    let ruled = normalised(SourceFormat::Cef, &line("mimikatz-sekurlsa"));
    assert!(rule_name_is_stable(&ruled));
    assert_eq!(set.select(&[ruled]).name(), "credential-access");
}
