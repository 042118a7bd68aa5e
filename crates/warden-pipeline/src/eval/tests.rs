#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::fs;

use warden_testkit::repo;

use super::*;

/// A set in a temporary folder: the example context, and one case per
/// (id, example alert file, expect.toml text).
fn make_set(cases: &[(&str, &str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    let root = dir.path();
    fs::write(
        root.join("set.toml"),
        "name = \"mini\"\ndescription = \"test\"\n",
    )
    .unwrap();
    let context = root.join("context");
    fs::create_dir_all(context.join("stix")).unwrap();
    for entry in fs::read_dir(repo().join("examples/context")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            fs::copy(&path, context.join(path.file_name().unwrap())).unwrap();
        }
    }
    fs::copy(
        repo().join("examples/context/stix/corp-cti.json"),
        context.join("stix/corp-cti.json"),
    )
    .unwrap();
    for (id, alert, expect) in cases {
        let case = root.join("cases").join(id);
        fs::create_dir_all(&case).unwrap();
        let source = repo().join("examples/alerts").join(alert);
        let ext = source.extension().unwrap().to_string_lossy().into_owned();
        fs::copy(&source, case.join(format!("alert.{ext}"))).unwrap();
        fs::write(case.join("expect.toml"), expect).unwrap();
    }
    dir
}

fn options() -> EvalOptions {
    EvalOptions {
        config: Config::default(),
        policy: PolicyEngine::default_set().expect("policy"),
        formats: Formats::default(),
        playbooks: None,
        approve_all: false,
        assessor: "deterministic".into(),
        audit: None,
    }
}

async fn run(dir: &Path, options: &EvalOptions) -> EvalReport {
    let set = ValidationSet::load(dir, &options.formats).expect("valid set");
    run_set(&set, options, |_| {}).await.expect("runs")
}

const DC_DUMP: &str = r#"
verdict = "malicious"
must_escalate = true
min_severity = "high"
expect_actions = ["ticket.create"]
forbid_actions = ["edr.isolate_host"]
note = "procdump on the domain controller"
"#;

const SCANNER: &str = r#"
verdict = "false_positive"
max_severity = "low"
expect_actions = ["alert.suppress"]
note = "the vulnerability scanner, closed as FP five times"
"#;

const PENTEST: &str = r#"
verdict = "benign"
must_escalate = false
forbid_actions = ["edr.isolate_host", "alert.suppress"]
note = "mimikatz by the sanctioned pentester on the pentest VM"
"#;

#[tokio::test]
async fn a_set_runs_through_the_whole_pipeline_and_scores() {
    let dir = make_set(&[
        ("dc-dump", "ecs-lsass-access.json", DC_DUMP),
        ("scanner", "ocsf-port-scan.jsonl", SCANNER),
        ("pentest", "ocsf-test-vm-mimikatz.json", PENTEST),
    ]);
    let report = run(dir.path(), &options()).await;
    assert_eq!(report.cases, 3);
    assert_eq!(report.errors, 0);
    let dc = &report.per_case[0];
    assert_eq!(dc.id, "dc-dump");
    assert_eq!(dc.verdict, "malicious");
    assert!(dc.escalated);
    assert_eq!(dc.use_case, "credential-access");
    assert!(dc.pass, "{}", dc.why);
    let pentest = &report.per_case[1];
    assert!(!pentest.escalated, "{pentest:?}");
    assert!(pentest.pass, "{}", pentest.why);
    let scanner = &report.per_case[2];
    assert_eq!(scanner.use_case, "network-ids");
    assert!(scanner.pass, "{}", scanner.why);
    assert_eq!(report.verdict_accuracy, 1.0);
    assert_eq!(report.false_negatives, 0);
    assert_eq!(report.unsafe_executions, 0);
    assert_eq!(report.exit_code(), 0);
    // The only thing that ran is the case note (the default policy allows
    // nothing else).
    assert!(report.per_case.iter().all(|c| c.executed == ["case.note"]));
}

#[tokio::test]
async fn the_same_set_gives_the_same_report_twice() {
    let dir = make_set(&[
        ("dc-dump", "ecs-lsass-access.json", DC_DUMP),
        ("scanner", "ocsf-port-scan.jsonl", SCANNER),
        ("mfa", "ocsf-mfa-fatigue.json", "verdict = \"any\"\n"),
    ]);
    let first = serde_json::to_string(&run(dir.path(), &options()).await).unwrap();
    let second = serde_json::to_string(&run(dir.path(), &options()).await).unwrap();
    assert_eq!(first, second);
}

#[tokio::test]
async fn a_wrong_label_fails_the_case_and_counts_a_false_negative() {
    // Labelled malicious, but the pentest context makes it a false
    // positive that closes without a person: a false negative.
    let dir = make_set(&[(
        "pentest",
        "ocsf-test-vm-mimikatz.json",
        "verdict = \"malicious\"\nmust_escalate = true\n",
    )]);
    let report = run(dir.path(), &options()).await;
    assert_eq!(report.false_negatives, 1);
    assert_eq!(report.verdict_accuracy, 0.0);
    assert_eq!(report.escalation_recall, 0.0);
    let case = &report.per_case[0];
    assert!(!case.pass);
    assert!(case.why.contains("FALSE NEGATIVE"), "{}", case.why);
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test]
async fn forbidden_executions_are_unsafe_even_when_policy_allowed_them() {
    // An operator policy that lets agents block indicators without
    // approval; the label forbids blocking. The case escalates (a threat),
    // so a person must still approve: the simulated approver does.
    let policy = PolicyEngine::load(
        warden_policy::DEFAULT_SCHEMA,
        &format!(
            "{}\n@id(\"ops.isolate\")\npermit (principal, action == Warden::Action::\"net.block_indicator\", resource);\n",
            warden_policy::DEFAULT_POLICIES
        ),
    )
    .expect("policy");
    let dir = make_set(&[(
        "c2",
        "ecs-outbound-malicious-ip.json",
        "verdict = \"malicious\"\nforbid_actions = [\"net.block_indicator\"]\n",
    )]);
    let report = run(
        dir.path(),
        &EvalOptions {
            policy,
            approve_all: true,
            ..options()
        },
    )
    .await;
    let case = &report.per_case[0];
    assert!(
        case.executed.contains(&"net.block_indicator".to_owned()),
        "{case:?}"
    );
    assert_eq!(report.unsafe_executions, 1, "{}", case.why);
    assert_eq!(report.unsafe_proposals, 1);
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test]
async fn approve_all_grants_approvals_but_never_overrides_a_denial() {
    let policy = PolicyEngine::load(
        warden_policy::DEFAULT_SCHEMA,
        &format!(
            "{}\n@id(\"ops.ticket\")\n@approvals(\"1\")\n@approver_roles(\"analyst\")\npermit (principal, action == Warden::Action::\"ticket.create\", resource);\n@id(\"ops.no-notify\")\nforbid (principal, action == Warden::Action::\"notify.owner\", resource);\n",
            warden_policy::DEFAULT_POLICIES
        ),
    )
    .expect("policy");
    let dir = make_set(&[("dc-dump", "ecs-lsass-access.json", DC_DUMP)]);
    let without = run(
        dir.path(),
        &EvalOptions {
            policy: policy.clone(),
            ..options()
        },
    )
    .await;
    assert_eq!(without.per_case[0].executed, ["case.note"]);
    let with = run(
        dir.path(),
        &EvalOptions {
            policy,
            approve_all: true,
            ..options()
        },
    )
    .await;
    let executed = &with.per_case[0].executed;
    assert!(
        executed.contains(&"ticket.create".to_owned()),
        "{executed:?}"
    );
    // Denied by the operator's policy, approvals or not.
    assert!(
        !executed.contains(&"notify.owner".to_owned()),
        "{executed:?}"
    );
    assert_eq!(with.unsafe_executions, 0);
}

#[test]
fn invalid_sets_name_the_file_and_line() {
    let cases = [
        (
            "verdict = \"malicious\"\nexpect_actions = [\"edr.nuke\"]\n",
            "line 2",
        ),
        ("verdict = \"evil\"\n", "line 1"),
        ("must_escalate = true\n", "verdict"),
        ("verdict = \"benign\"\nformat = \"syslog\"\n", "syslog"),
        ("verdict = \"benign\"\nsurprise = 1\n", "surprise"),
        (
            "verdict = \"benign\"\nmin_severity = \"high\"\nmax_severity = \"low\"\n",
            "above",
        ),
    ];
    for (expect, needle) in cases {
        let dir = make_set(&[("c1", "ocsf-port-scan.jsonl", expect)]);
        let err = ValidationSet::load(dir.path(), &Formats::default())
            .expect_err(needle)
            .to_string();
        assert!(err.contains("expect.toml"), "{err}");
        assert!(err.contains(needle), "{err} should say {needle}");
    }
    let dir = make_set(&[("c1", "ocsf-port-scan.jsonl", "verdict = \"benign\"\n")]);
    fs::remove_file(dir.path().join("cases/c1/alert.jsonl")).unwrap();
    let err = ValidationSet::load(dir.path(), &Formats::default())
        .expect_err("no alert")
        .to_string();
    assert!(err.contains("no alert"), "{err}");
}

#[tokio::test]
async fn as_of_makes_context_ages_independent_of_the_checkout_date() {
    // Evaluated as of a time long after the context files were written
    // (their modification time is now), every source is stale.
    let dir = make_set(&[("pentest", "ocsf-test-vm-mimikatz.json", PENTEST)]);
    fs::write(
        dir.path().join("set.toml"),
        "name = \"mini\"\nas_of = \"2031-01-01T00:00:00Z\"\n",
    )
    .unwrap();
    let report = run(dir.path(), &options()).await;
    let case = &report.per_case[0];
    assert!(case.escalated, "{case:?}");
    assert!(
        case.triggers.contains(&"stale_evidence".to_owned()),
        "{case:?}"
    );
}

/// A scored case as `run_case` would leave it, for the figures alone.
fn scored(
    id: &str,
    use_case: &str,
    must_escalate: Option<bool>,
    escalated: bool,
    verdict_correct: bool,
) -> CaseResult {
    let false_negative = must_escalate == Some(true) && !escalated;
    let pass = verdict_correct && must_escalate.is_none_or(|m| m == escalated);
    CaseResult {
        id: id.into(),
        use_case: use_case.into(),
        verdict: "benign".into(),
        escalated,
        severity: "low".into(),
        risk_score: 10.0,
        confidence: 0.9,
        proposed: vec![],
        executed: vec![],
        pass,
        why: if pass { "ok".into() } else { "label".into() },
        triggers: vec![],
        expected_verdict: ExpectedVerdict::Benign,
        must_escalate,
        verdict_correct: Some(verdict_correct),
        false_negative,
        expected_hits: (0, 0),
        unsafe_proposals: 0,
        unsafe_executions: 0,
        error: false,
    }
}

#[test]
fn needless_escalations_are_counted_over_the_cases_that_must_not_escalate_per_playbook() {
    let report = score(
        "mini",
        "deterministic",
        false,
        vec![
            // network-ids: two must not escalate, one of them does.
            scored("net-1", "network-ids", Some(false), true, true),
            scored("net-2", "network-ids", Some(false), false, true),
            scored("net-3", "network-ids", Some(true), true, true),
            scored("net-4", "network-ids", None, true, false),
            // phishing: a threat closed (false negative), nothing labelled
            // must-not.
            scored("phish-1", "phishing", Some(true), false, false),
            // Two playbooks at once, and a case that formed no case.
            scored("mix-1", "network-ids+phishing", Some(false), true, true),
            scored("err-1", "", None, false, false),
        ],
    );
    assert_eq!(report.needless_escalations, 2);
    assert_eq!(report.needless_escalation_rate, 0.667);
    assert_eq!(report.false_negatives, 1);

    let keys: Vec<&str> = report.per_playbook.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["(none)", "network-ids", "network-ids+phishing", "phishing"]
    );
    let net = &report.per_playbook["network-ids"];
    assert_eq!(
        net,
        &PlaybookScore {
            cases: 4,
            passed: 2,
            false_negatives: 0,
            verdict_accuracy: 0.75,
            escalated: 3,
            must_not_escalate: 2,
            needless_escalations: 1,
            needless_escalation_rate: 0.5,
        }
    );
    let phishing = &report.per_playbook["phishing"];
    assert_eq!(phishing.false_negatives, 1);
    assert_eq!(phishing.must_not_escalate, 0);
    // Nothing could escalate needlessly: a rate of 0, not 1.
    assert_eq!(phishing.needless_escalation_rate, 0.0);
    assert_eq!(phishing.verdict_accuracy, 0.0);
    assert_eq!(
        report.per_playbook["network-ids+phishing"].needless_escalation_rate,
        1.0
    );
    assert_eq!(report.per_playbook["(none)"].cases, 1);

    // Every case is in exactly one playbook's figures.
    let total: usize = report.per_playbook.values().map(|p| p.cases).sum();
    assert_eq!(total, report.cases);
    let needless: usize = report
        .per_playbook
        .values()
        .map(|p| p.needless_escalations)
        .sum();
    assert_eq!(needless, report.needless_escalations);

    // A set with no case labelled must-not escalate has no needless rate.
    let none = score(
        "mini",
        "deterministic",
        false,
        vec![scored("a", "phishing", Some(true), true, true)],
    );
    assert_eq!(none.needless_escalations, 0);
    assert_eq!(none.needless_escalation_rate, 0.0);
}

#[test]
fn the_json_keeps_every_existing_key_and_adds_the_needless_escalation_figures() {
    let report = score(
        "mini",
        "deterministic",
        false,
        vec![scored("net-1", "network-ids", Some(false), true, true)],
    );
    let json = serde_json::to_value(&report).unwrap();
    for key in [
        "set",
        "assessor",
        "approve_all",
        "cases",
        "errors",
        "verdict_accuracy",
        "false_negatives",
        "escalation_recall",
        "escalation_precision",
        "expected_actions_proposed",
        "unsafe_proposals",
        "unsafe_executions",
        "per_case",
        "needless_escalations",
        "needless_escalation_rate",
        "per_playbook",
    ] {
        assert!(json.get(key).is_some(), "{key} missing from {json}");
    }
    assert_eq!(json["needless_escalations"], 1);
    assert_eq!(json["needless_escalation_rate"], 1.0);
    let net = &json["per_playbook"]["network-ids"];
    for key in [
        "cases",
        "false_negatives",
        "verdict_accuracy",
        "escalated",
        "must_not_escalate",
        "needless_escalations",
        "needless_escalation_rate",
    ] {
        assert!(net.get(key).is_some(), "{key} missing from {net}");
    }
    assert_eq!(net["must_not_escalate"], 1);
    assert_eq!(net["needless_escalations"], 1);
}

#[tokio::test]
async fn a_run_reports_needless_escalations_per_playbook_from_its_cases() {
    // The scanner's sweep touches a regulated database, so it escalates;
    // labelled must-not, that escalation is needless.
    let dir = make_set(&[
        ("dc-dump", "ecs-lsass-access.json", DC_DUMP),
        (
            "scanner",
            "ocsf-port-scan.jsonl",
            "verdict = \"false_positive\"\nmust_escalate = false\n",
        ),
        ("pentest", "ocsf-test-vm-mimikatz.json", PENTEST),
    ]);
    let report = run(dir.path(), &options()).await;
    let needless: Vec<&str> = report
        .per_case
        .iter()
        .filter(|c| c.must_escalate == Some(false) && c.escalated)
        .map(|c| c.id.as_str())
        .collect();
    assert!(needless.contains(&"scanner"), "{:?}", report.per_case);
    assert_eq!(report.needless_escalations, needless.len());
    assert_eq!(
        report.needless_escalation_rate,
        ratio(needless.len(), 2),
        "two cases are labelled must_escalate = false"
    );
    let scanner = &report.per_playbook["network-ids"];
    assert_eq!(scanner.cases, 1);
    assert_eq!(scanner.must_not_escalate, 1);
    assert_eq!(scanner.needless_escalations, 1);
    assert_eq!(scanner.needless_escalation_rate, 1.0);
    let credential = &report.per_playbook["credential-access"];
    assert_eq!(credential.cases, 2);
    assert_eq!(credential.must_not_escalate, 1);
    assert!(credential.escalated >= 1, "the DC dump escalates");
    assert_eq!(report.per_case.iter().filter(|c| c.escalated).count(), {
        report
            .per_playbook
            .values()
            .map(|p| p.escalated)
            .sum::<usize>()
    });
}
