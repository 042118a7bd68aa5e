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
