//! The scope of reasons to close, on hand-built alerts and evidence: a tag
//! explains what its tagged actor does, only for the activity it covers,
//! only on the alert it was found on; without a reason there is no verdict.

use proptest::prelude::*;
use serde_json::json;
use time::OffsetDateTime;
use warden_domain::evidence::EvidenceKind;
use warden_domain::{
    ActionName, Alert, AlertId, Assessment, AttackTechnique, Case, Evidence, EvidenceId, Freshness,
    Observable, ObservableKind, Provenance, RuleRef, Severity, SourceFormat, Untrusted, UseCase,
    VendorSeverity, Verdict,
};

use super::*;

const SCANNER_IP: &str = "10.9.0.5";

fn observable(kind: ObservableKind, value: &str, path: &str) -> Observable {
    Observable {
        kind,
        value: value.to_owned(),
        provenance: vec![Provenance::Field { path: path.into() }],
    }
}

fn alert(
    rule: &str,
    severity: Severity,
    techniques: &[&str],
    observables: Vec<Observable>,
) -> Alert {
    Alert {
        id: AlertId::new(),
        format: SourceFormat::Ecs,
        class_uid: 2004,
        product: "test".into(),
        vendor_id: None,
        time: OffsetDateTime::UNIX_EPOCH,
        rule: RuleRef {
            uid: None,
            name: rule.to_owned(),
        },
        title: Untrusted::new(rule),
        description: Untrusted::new(""),
        severity: VendorSeverity {
            level: severity,
            original: severity.as_str().to_owned(),
        },
        observables,
        attacks: techniques
            .iter()
            .map(|t| AttackTechnique {
                id: (*t).to_owned(),
                name: None,
                tactics: Vec::new(),
            })
            .collect(),
        origin: "test".into(),
        raw_sha256: String::new(),
        raw: json!({}),
    }
}

fn alert_items(alerts: &[Alert]) -> Vec<Evidence> {
    alerts
        .iter()
        .enumerate()
        .map(|(i, a)| Evidence {
            id: EvidenceId::alert(i + 1),
            kind: EvidenceKind::Alert,
            source: "alert test".into(),
            subject: None,
            summary: a.rule.name.clone(),
            facts: json!({"alert_id": a.id, "rule": a.rule.name}),
            collected_at: OffsetDateTime::UNIX_EPOCH,
            freshness: Freshness::Fresh,
        })
        .collect()
}

fn context_item(
    n: usize,
    kind: EvidenceKind,
    subject: (ObservableKind, &str),
    facts: serde_json::Value,
) -> Evidence {
    Evidence {
        id: EvidenceId::enrichment(n),
        kind,
        source: "context/test".into(),
        subject: Some((subject.0, subject.1.to_owned())),
        summary: String::new(),
        facts,
        collected_at: OffsetDateTime::UNIX_EPOCH,
        freshness: Freshness::Fresh,
    }
}

/// The scanner's asset record: tier 3, tagged, named by a short host name.
fn scanner(n: usize) -> Evidence {
    context_item(
        n,
        EvidenceKind::Asset,
        (ObservableKind::Host, "scan01"),
        json!({"hostname": "scan01", "ips": [SCANNER_IP], "owner": "secops",
               "environment": "production", "criticality": "tier_3",
               "internet_exposed": false, "tags": ["vuln_scanner"]}),
    )
}

fn history(n: usize, rule: &str, entity: &str) -> Evidence {
    context_item(
        n,
        EvidenceKind::History,
        (ObservableKind::Host, entity),
        json!({"rule": rule, "entity": entity, "false_positive": 5, "benign": 0,
               "true_positive": 0, "escalated": 0}),
    )
}

fn assess(alerts: &[Alert], context: Vec<Evidence>) -> Assessment {
    let mut evidence = alert_items(alerts);
    evidence.extend(context);
    let case = Case::open(
        "t".into(),
        alerts.iter().map(|a| a.id).collect(),
        alerts.len() as u64,
        vec![],
        Severity::Low,
        OffsetDateTime::UNIX_EPOCH,
    );
    let use_case = UseCase::allowing("test", ActionName::ALL.iter().copied());
    let assessment = DeterministicAssessor::default().score(&AssessmentInput {
        case: &case,
        use_case: &use_case,
        alerts,
        evidence: &evidence,
        gaps: &[],
    });
    let ids: Vec<EvidenceId> = evidence.iter().map(|e| e.id.clone()).collect();
    assessment
        .check(&ids)
        .expect("cites only existing evidence");
    assessment
}

fn port_scan_from_scanner(target_ip: &str) -> Alert {
    alert(
        "Port scan detected",
        Severity::Low,
        &["T1046"],
        vec![
            observable(ObservableKind::Ip, SCANNER_IP, "source.ip"),
            observable(ObservableKind::Ip, target_ip, "destination.ip"),
        ],
    )
}

fn beacon_on(host: &str, ip: &str) -> Alert {
    alert(
        "Cobalt Strike beacon",
        Severity::Critical,
        &["T1071.001"],
        vec![
            observable(ObservableKind::Host, host, "host.name"),
            observable(ObservableKind::Ip, ip, "host.ip"),
        ],
    )
}

fn is_closing(verdict: Verdict) -> bool {
    matches!(verdict, Verdict::Benign | Verdict::FalsePositive)
}

#[test]
fn a_scanner_probing_as_the_verified_actor_is_benign() {
    let a = assess(&[port_scan_from_scanner("10.1.2.3")], vec![scanner(1)]);
    assert_eq!(a.verdict, Verdict::Benign, "{:#?}", a.rationale);
}

#[test]
fn the_scanner_as_destination_of_lateral_movement_excuses_nothing() {
    let psexec = alert(
        "PsExec service installed on a remote host",
        Severity::Critical,
        &["T1569.002", "T1021.002"],
        vec![
            observable(ObservableKind::Ip, "10.1.2.3", "source.ip"),
            observable(ObservableKind::Ip, SCANNER_IP, "destination.ip"),
        ],
    );
    let alone = assess(std::slice::from_ref(&psexec), vec![]);
    let with_scanner = assess(&[psexec], vec![scanner(1)]);
    assert!(
        with_scanner.verdict.is_threat(),
        "{:#?}",
        with_scanner.rationale
    );
    assert_eq!(with_scanner.verdict, alone.verdict);
    assert!(
        with_scanner
            .rationale
            .iter()
            .any(|r| r.factor == "known_benign_source"
                && r.weight == 0.0
                && r.text.contains("target")),
        "{:#?}",
        with_scanner.rationale
    );
}

#[test]
fn a_scanner_alert_in_the_same_case_does_not_close_a_beacon() {
    let beacon = beacon_on("ws-fin-007", "10.1.2.3");
    let alone = assess(std::slice::from_ref(&beacon), vec![]);
    let grouped = assess(
        &[port_scan_from_scanner("10.1.2.3"), beacon],
        vec![scanner(1), history(2, "Port scan detected", SCANNER_IP)],
    );
    assert!(grouped.verdict.is_threat(), "{:#?}", grouped.rationale);
    assert_eq!(grouped.verdict, alone.verdict);
}

#[test]
fn a_scanner_running_a_beacon_is_not_excused() {
    let a = assess(&[beacon_on("scan01", SCANNER_IP)], vec![scanner(1)]);
    assert!(a.verdict.is_threat(), "{:#?}", a.rationale);
}

#[test]
fn a_host_named_like_the_scanner_without_corroboration_is_unverified() {
    let probe = alert(
        "Network sweep",
        Severity::Low,
        &["T1046"],
        vec![observable(ObservableKind::Host, "scan01", "host.name")],
    );
    let a = assess(std::slice::from_ref(&probe), vec![scanner(1)]);
    // Unexplained, the sweep is an attempt like any other.
    assert_eq!(a.verdict, Verdict::Suspicious, "{:#?}", a.rationale);
    assert!(a.rationale.iter().any(|r| r.text.contains("unverified")));
    // The same host name with the scanner's address is the scanner.
    let mut corroborated = probe;
    corroborated
        .observables
        .push(observable(ObservableKind::Ip, SCANNER_IP, "host.ip"));
    let b = assess(&[corroborated], vec![scanner(1)]);
    assert_eq!(b.verdict, Verdict::Benign, "{:#?}", b.rationale);
}

#[test]
fn no_evidence_means_no_verdict() {
    let mimikatz = alert(
        "Mimikatz sekurlsa::logonpasswords",
        Severity::Medium,
        &[],
        vec![
            observable(ObservableKind::Ip, "10.20.0.4", "source.ip"),
            observable(ObservableKind::Ip, "10.20.0.9", "destination.ip"),
        ],
    );
    // Credential theft named by the rule is a sign of an attack on its own.
    let a = assess(&[mimikatz], vec![]);
    assert_eq!(a.verdict, Verdict::Suspicious, "{:#?}", a.rationale);
    let odd = alert(
        "Unusual process tree",
        Severity::Medium,
        &[],
        vec![observable(ObservableKind::Host, "ws-7", "host.name")],
    );
    let b = assess(&[odd], vec![]);
    assert_eq!(b.verdict, Verdict::Unknown, "{:#?}", b.rationale);
    assert!(b.rationale.iter().any(|r| r.factor == "unexplained"));
    let quiet = alert("Informational", Severity::Informational, &[], vec![]);
    assert_eq!(assess(&[quiet], vec![]).verdict, Verdict::Unknown);
}

#[test]
fn past_closures_apply_to_the_same_rule_on_the_same_actor_only() {
    let rule = "Encoded PowerShell";
    let on = |host: &str, rule: &str| {
        alert(
            rule,
            Severity::Low,
            &["T1059.001"],
            vec![observable(ObservableKind::Host, host, "host.name")],
        )
    };
    let same = assess(
        &[on("it-ops-01", rule)],
        vec![history(1, rule, "it-ops-01")],
    );
    assert_eq!(
        same.verdict,
        Verdict::FalsePositive,
        "{:#?}",
        same.rationale
    );
    let other_host = assess(&[on("ws-hr-03", rule)], vec![history(1, rule, "it-ops-01")]);
    assert!(!is_closing(other_host.verdict), "{:?}", other_host.verdict);
    let other_rule = assess(
        &[on("it-ops-01", "Mimikatz command line")],
        vec![history(1, rule, "it-ops-01")],
    );
    assert!(!is_closing(other_rule.verdict), "{:?}", other_rule.verdict);
    // The entity as the target of the rule is not its actor.
    let target = alert(
        rule,
        Severity::Low,
        &["T1059.001"],
        vec![
            observable(ObservableKind::Ip, "10.6.0.2", "source.ip"),
            observable(ObservableKind::Host, "it-ops-01", "destination.domain"),
        ],
    );
    let as_target = assess(&[target], vec![history(1, rule, "it-ops-01")]);
    assert!(!is_closing(as_target.verdict), "{:?}", as_target.verdict);
}

#[test]
fn a_benign_counterpart_explains_contact_not_exfiltration() {
    let mirror = context_item(
        1,
        EvidenceKind::Intel,
        (ObservableKind::Domain, "mirror.example"),
        json!({"indicator": "mirror.example", "verdict": "benign", "source": "allow-list",
               "confidence": 90, "structured": true}),
    );
    let contact = alert(
        "curl User-Agent Outbound",
        Severity::Low,
        &[],
        vec![
            observable(ObservableKind::Ip, "10.3.0.8", "source.ip"),
            observable(ObservableKind::Domain, "mirror.example", "http.hostname"),
        ],
    );
    assert_eq!(
        assess(&[contact], vec![mirror.clone()]).verdict,
        Verdict::Benign
    );
    let exfil = alert(
        "Large upload to a web service",
        Severity::Medium,
        &["T1567.002"],
        vec![
            observable(ObservableKind::Ip, "10.3.0.8", "source.ip"),
            observable(ObservableKind::Domain, "mirror.example", "http.hostname"),
        ],
    );
    assert!(!is_closing(assess(&[exfil], vec![mirror]).verdict));
}

#[test]
fn a_password_spray_through_the_corporate_vpn_is_not_excused_by_its_reputation() {
    let vpn = context_item(
        1,
        EvidenceKind::Intel,
        (ObservableKind::Ip, "198.51.100.7"),
        json!({"indicator": "198.51.100.7", "verdict": "benign", "source": "allow-list",
               "confidence": 95, "structured": true}),
    );
    let sign_in = |rule: &str, techniques: &[&str]| {
        alert(
            rule,
            Severity::Low,
            techniques,
            vec![observable(ObservableKind::Ip, "198.51.100.7", "source.ip")],
        )
    };
    let routine = assess(
        &[sign_in("Sign-in from a new country", &["T1078"])],
        vec![vpn.clone()],
    );
    assert_eq!(routine.verdict, Verdict::Benign, "{:#?}", routine.rationale);
    for spray in [
        sign_in("Many failed sign-ins", &["T1110.003"]),
        sign_in("Password spray detected", &[]),
    ] {
        let a = assess(&[spray], vec![vpn.clone()]);
        assert!(!is_closing(a.verdict), "{:?}", a.verdict);
    }
}

/// Verdict sides ordered by how much attention they ask for.
fn side(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Benign | Verdict::FalsePositive => 0,
        Verdict::Unknown => 1,
        Verdict::Suspicious => 2,
        Verdict::Malicious => 3,
    }
}

const TECHNIQUES: &[&str] = &[
    "T1046",
    "T1595",
    "T1003.001",
    "T1021.002",
    "T1071.001",
    "T1059.001",
    "T1110.001",
    "T1567.002",
    "T1486",
];

fn arb_alert() -> impl Strategy<Value = Alert> {
    (
        prop::sample::select(Severity::ALL.to_vec()),
        prop::collection::vec(prop::sample::select(TECHNIQUES.to_vec()), 0..3),
        prop::sample::select(vec!["Port scan", "Suspicious process", "Beacon", "Upload"]),
        0u8..4,
        any::<bool>(),
    )
        .prop_map(|(severity, techniques, rule, host, scanner_actor)| {
            let source = if scanner_actor {
                SCANNER_IP.to_owned()
            } else {
                format!("10.4.0.{host}")
            };
            alert(
                rule,
                severity,
                &techniques,
                vec![
                    observable(ObservableKind::Ip, &source, "source.ip"),
                    observable(
                        ObservableKind::Ip,
                        &format!("10.5.0.{host}"),
                        "destination.ip",
                    ),
                    observable(ObservableKind::Host, &format!("ws-{host}"), "host.name"),
                ],
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Tagging the destination of any alert as a scanner never moves the
    /// case towards closing.
    #[test]
    fn a_scanner_as_destination_never_lowers_the_verdict(
        alerts in prop::collection::vec(arb_alert(), 1..4),
        victim in 0usize..4,
        with_history in any::<bool>(),
    ) {
        let mut context = vec![scanner(1)];
        if with_history {
            context.push(history(2, "Port scan", SCANNER_IP));
        }
        let before = assess(&alerts, context.clone());
        let mut retargeted = alerts.clone();
        let index = victim % retargeted.len();
        if let Some(alert) = retargeted.get_mut(index) {
            alert.observables.push(observable(ObservableKind::Ip, SCANNER_IP, "destination.ip"));
        }
        let after = assess(&retargeted, context);
        prop_assert!(side(after.verdict) >= side(before.verdict),
            "{:?} -> {:?}", before.verdict, after.verdict);
    }

    /// Adding an unrelated scanner alert to a case never moves the case
    /// towards closing.
    #[test]
    fn an_added_scanner_alert_never_lowers_the_verdict(
        alerts in prop::collection::vec(arb_alert(), 1..4),
        with_history in any::<bool>(),
    ) {
        let mut context = vec![scanner(1)];
        if with_history {
            context.push(history(2, "Port scan detected", SCANNER_IP));
        }
        let before = assess(&alerts, context.clone());
        let mut grouped = alerts.clone();
        grouped.push(port_scan_from_scanner("10.5.0.1"));
        let after = assess(&grouped, context);
        prop_assert!(side(after.verdict) >= side(before.verdict),
            "{:?} -> {:?}", before.verdict, after.verdict);
    }
}

// How far the activity got bounds the verdict: an unexplained attempt is
// suspicious, an attempt that shows no access is no more than that, and data
// leaving with nothing pointing to an attacker is a person's call.

fn from_outside(rule: &str, severity: Severity, techniques: &[&str], ip: &str) -> Alert {
    alert(
        rule,
        severity,
        techniques,
        vec![
            observable(ObservableKind::Ip, ip, "source.ip"),
            observable(ObservableKind::Ip, "10.1.2.3", "destination.ip"),
        ],
    )
}

fn bad_address(n: usize, ip: &str) -> Evidence {
    context_item(
        n,
        EvidenceKind::Intel,
        (ObservableKind::Ip, ip),
        json!({"indicator": ip, "verdict": "malicious", "source": "feed",
               "confidence": 90, "structured": true}),
    )
}

#[test]
fn an_unexplained_attempt_is_suspicious() {
    for attempt in [
        from_outside(
            "Port scan detected",
            Severity::Low,
            &["T1046"],
            "10.20.5.40",
        ),
        from_outside("SSHBruteForce", Severity::Low, &[], "203.0.113.9"),
        from_outside(
            "Many failed sign-ins",
            Severity::Medium,
            &["T1110.003"],
            "203.0.113.9",
        ),
    ] {
        let a = assess(std::slice::from_ref(&attempt), vec![]);
        assert_eq!(a.verdict, Verdict::Suspicious, "{}", attempt.rule.name);
    }
    // An unexplained alert that is not an attempt stays without a verdict.
    let other = from_outside(
        "Unusual process",
        Severity::Low,
        &["T1059.001"],
        "10.20.5.40",
    );
    assert_eq!(assess(&[other], vec![]).verdict, Verdict::Unknown);
}

#[test]
fn an_attempt_that_shows_no_access_is_at_most_suspicious() {
    let ip = "203.0.113.77";
    let spray = from_outside("Password spray", Severity::Critical, &["T1110.003"], ip);
    let a = assess(std::slice::from_ref(&spray), vec![bad_address(1, ip)]);
    assert_eq!(a.verdict, Verdict::Suspicious, "{:#?}", a.rationale);
    assert!(a.severity >= Severity::Critical, "{:?}", a.severity);
    // A sign-in that got through from the same address is beyond an attempt.
    let success = from_outside(
        "Successful sign-in after failures",
        Severity::High,
        &["T1078"],
        ip,
    );
    let a = assess(&[spray, success], vec![bad_address(1, ip)]);
    assert_eq!(a.verdict, Verdict::Malicious, "{:#?}", a.rationale);
    // An exploit is not a mere attempt: it may have worked.
    let exploit = from_outside("ET EXPLOIT EternalBlue probe", Severity::Critical, &[], ip);
    assert_eq!(
        assess(&[exploit], vec![bad_address(1, ip)]).verdict,
        Verdict::Malicious
    );
}

#[test]
fn data_leaving_is_malicious_only_with_something_pointing_to_an_attacker() {
    let upload = alert(
        "Large upload to a file-sharing site",
        Severity::Critical,
        &["T1567.002"],
        vec![
            observable(ObservableKind::Ip, "10.3.0.8", "source.ip"),
            observable(ObservableKind::Ip, "203.0.113.140", "destination.ip"),
        ],
    );
    let a = assess(std::slice::from_ref(&upload), vec![]);
    assert_eq!(a.verdict, Verdict::Suspicious, "{:#?}", a.rationale);
    assert_eq!(a.severity, Severity::Critical);
    let a = assess(
        std::slice::from_ref(&upload),
        vec![bad_address(1, "203.0.113.140")],
    );
    assert_eq!(a.verdict, Verdict::Malicious, "{:#?}", a.rationale);
    // Credential theft beside the upload is an attacker's work.
    let dump = alert(
        "LSASS memory dump",
        Severity::High,
        &["T1003.001"],
        vec![observable(ObservableKind::Ip, "10.3.0.8", "source.ip")],
    );
    assert_eq!(assess(&[upload, dump], vec![]).verdict, Verdict::Malicious);
}

#[test]
fn reach_reads_techniques_then_the_rule_never_only_the_title() {
    use super::scope::{Reach, reach};
    let mut scan = from_outside("Port scan", Severity::Low, &["T1046"], "10.0.0.1");
    assert_eq!(reach(&scan), Reach::Attempt);
    // A title naming post-access activity takes it beyond an attempt...
    scan.title = Untrusted::new("port scan then cobalt strike beacon");
    assert_eq!(reach(&scan), Reach::Beyond);
    // ...but a title alone never makes an alert an attempt.
    let mut other = from_outside("Process started", Severity::Low, &[], "10.0.0.1");
    other.title = Untrusted::new("routine port scan");
    assert_eq!(reach(&other), Reach::Beyond);
    let exfil_by_name = from_outside(
        "InstanceCredentialExfiltration",
        Severity::High,
        &[],
        "10.0.0.1",
    );
    assert_eq!(reach(&exfil_by_name), Reach::Beyond);
    let dlp = from_outside("DLP policy matched", Severity::High, &[], "10.0.0.1");
    assert_eq!(reach(&dlp), Reach::DataLeaving);
    let mixed = from_outside("Upload", Severity::High, &["T1567", "T1003"], "10.0.0.1");
    assert_eq!(reach(&mixed), Reach::Beyond);
}

#[test]
fn a_shell_started_by_a_document_is_an_attack_stage_read_from_the_process_tree() {
    let shell = |parent_path: &str, parent: &str| {
        alert(
            "Suspicious Encoded PowerShell Command Line",
            Severity::High,
            &["T1059.001"],
            vec![
                observable(ObservableKind::Host, "ws-sal-014", "Computer"),
                observable(
                    ObservableKind::Process,
                    r"c:\windows\system32\windowspowershell\v1.0\powershell.exe",
                    "Image",
                ),
                observable(ObservableKind::Process, parent, parent_path),
            ],
        )
    };
    let delivered = shell("ParentImage", r"C:\Windows\SysWOW64\mshta.exe");
    let a = assess(std::slice::from_ref(&delivered), vec![]);
    assert_eq!(a.verdict, Verdict::Malicious, "{:#?}", a.rationale);
    assert!(a.rationale.iter().any(|r| r.factor == "attack_stage"));
    // The same shell under the task scheduler is not a delivery.
    let scheduled = shell("ParentImage", r"C:\Windows\System32\svchost.exe");
    assert_eq!(assess(&[scheduled], vec![]).verdict, Verdict::Suspicious);
    // Nor is Word named in a field that is not the parent's.
    let named = shell("CommandLine", r"C:\Program Files\Office16\WINWORD.EXE");
    assert_eq!(assess(&[named], vec![]).verdict, Verdict::Suspicious);
}
