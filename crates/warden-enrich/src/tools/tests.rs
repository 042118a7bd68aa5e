#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::json;
use time::macros::datetime;
use warden_domain::{CaseState, Disposition, Severity, Verdict};
use warden_store::{SqliteStore, Store};

use super::embedded::same_ip;
use super::*;
use crate::context::{Context, ContextConfig, SourceKind};
use crate::{EnrichRequest, enrich};

const NOW: OffsetDateTime = datetime!(2025-06-01 00:00 UTC);
const ACME: &str = include_str!("../context/stix/testdata/acme-cti.json");

// ------------------------------------------------------------ test tools

/// What the probe does when called.
#[derive(Debug, Clone, Copy)]
enum Act {
    /// Answer at once.
    Answer,
    /// Sleep this long, then answer.
    Sleep(Duration),
    /// Fail transiently on the first `n` calls, then answer.
    FailFirst(u32),
    /// Refuse for good.
    Unavailable,
}

/// A test tool that counts its calls.
#[derive(Debug)]
struct Probe {
    act: Act,
    source: Source,
    findings: Vec<Finding>,
    misses: Vec<String>,
    calls: AtomicU32,
}

impl Probe {
    fn new(act: Act) -> Self {
        Self {
            act,
            source: Source::live("probe source"),
            findings: vec![finding(1)],
            misses: Vec::new(),
            calls: AtomicU32::new(0),
        }
    }

    fn with_source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    fn with_findings(mut self, findings: Vec<Finding>) -> Self {
        self.findings = findings;
        self
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl ContextTool for Probe {
    fn name(&self) -> &'static str {
        "probe"
    }
    fn description(&self) -> &'static str {
        "A test tool."
    }
    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "hosts": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
            },
            "required": ["hosts"],
            "additionalProperties": false,
        })
    }
    fn source_label(&self) -> String {
        "context/probe.csv".into()
    }
    async fn call(&self, _params: Value) -> Result<ToolOutput, ToolError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        match self.act {
            Act::Answer => {}
            Act::Sleep(duration) => tokio::time::sleep(duration).await,
            Act::FailFirst(n) if call <= n => {
                return Err(ToolError::Transient(format!("probe busy (call {call})")));
            }
            Act::FailFirst(_) => {}
            Act::Unavailable => return Err(ToolError::Unavailable("probe source is gone".into())),
        }
        Ok(ToolOutput {
            source: self.source.clone(),
            findings: self.findings.clone(),
            misses: self.misses.clone(),
        })
    }
}

/// Finding number `n`; all findings under 10 have the same JSON size.
fn finding(n: u32) -> Finding {
    Finding {
        kind: EvidenceKind::Asset,
        subject: Some((ObservableKind::Host, format!("host-{n}"))),
        summary: format!("host-{n} is known"),
        facts: json!({"n": n}),
    }
}

fn size_of(finding: &Finding) -> usize {
    serde_json::to_vec(finding).expect("serialises").len()
}

/// A tool box holding only `probe`, under `config`.
fn probe_box(probe: &Arc<Probe>, config: ToolConfig) -> ToolBox {
    let mut tools = ToolBox::new(config);
    tools.register(probe.clone()).expect("registers");
    tools
}

fn hosts() -> Value {
    json!({"hosts": ["h1"]})
}

// ------------------------------------------------------------ the wrapper

#[tokio::test]
async fn parameters_the_schema_rejects_are_a_gap_and_the_tool_is_not_called() {
    let probe = Arc::new(Probe::new(Act::Answer));
    let tools = probe_box(&probe, ToolConfig::default());
    for params in [
        json!({"hosts": "h1"}),
        json!({"hosts": ["h1"], "extra": true}),
        json!({"hosts": ["a", "b", "c", "d"]}),
        json!({}),
    ] {
        let gap = tools
            .call("probe", params.clone(), NOW)
            .await
            .expect_err("rejected");
        assert_eq!(gap.source, "context/probe.csv");
        assert!(
            gap.reason
                .starts_with("probe: parameters rejected by its schema: "),
            "{params}: {}",
            gap.reason
        );
    }
    let gap = tools
        .call("probe", json!({"hosts": "h1"}), NOW)
        .await
        .expect_err("rejected");
    assert!(
        gap.reason.contains("is not of type \"array\"") && gap.reason.ends_with("(at /hosts)"),
        "{}",
        gap.reason
    );
    let gap = tools
        .call("probe", json!({"hosts": ["h1"], "extra": true}), NOW)
        .await
        .expect_err("rejected");
    assert_eq!(
        gap.reason,
        "probe: parameters rejected by its schema: Additional properties are not allowed \
         ('extra' was unexpected) (at /)"
    );
    assert_eq!(probe.calls(), 0, "a rejected call never reaches the tool");

    let result = tools.call("probe", hosts(), NOW).await.expect("valid");
    assert_eq!(result.findings, vec![finding(1)]);
    assert_eq!(result.attempts, 1);
    assert_eq!(probe.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_tool_that_times_out_is_retried_then_becomes_a_gap() {
    let probe = Arc::new(Probe::new(Act::Sleep(Duration::from_secs(10))));
    let config = ToolConfig {
        timeout_ms: 50,
        retries: 2,
        backoff_ms: 10,
        ..ToolConfig::default()
    };
    let tools = probe_box(&probe, config);
    let gap = tools
        .call("probe", hosts(), NOW)
        .await
        .expect_err("times out");
    assert_eq!(gap.source, "context/probe.csv");
    assert_eq!(
        gap.reason,
        "probe timed out after 50 ms (gave up after 3 attempts)"
    );
    assert_eq!(probe.calls(), 3, "the first attempt and two retries");
}

#[tokio::test(start_paused = true)]
async fn no_retries_means_one_attempt() {
    let probe = Arc::new(Probe::new(Act::FailFirst(5)));
    let config = ToolConfig {
        retries: 0,
        ..ToolConfig::default()
    };
    let gap = probe_box(&probe, config)
        .call("probe", hosts(), NOW)
        .await
        .expect_err("fails");
    assert_eq!(gap.reason, "probe busy (call 1) (gave up after 1 attempt)");
    assert_eq!(probe.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_transient_failure_is_retried_until_it_succeeds() {
    let probe = Arc::new(Probe::new(Act::FailFirst(2)));
    let tools = probe_box(&probe, ToolConfig::default());
    let result = tools.call("probe", hosts(), NOW).await.expect("third try");
    assert_eq!(result.attempts, 3);
    assert_eq!(probe.calls(), 3);
    assert_eq!(result.findings, vec![finding(1)]);
    assert!(result.gaps.is_empty(), "{:?}", result.gaps);
}

#[tokio::test(start_paused = true)]
async fn an_unavailable_source_is_not_retried() {
    let probe = Arc::new(Probe::new(Act::Unavailable));
    let tools = probe_box(&probe, ToolConfig::default());
    let gap = tools
        .call("probe", hosts(), NOW)
        .await
        .expect_err("unavailable");
    assert_eq!(gap.source, "context/probe.csv");
    assert_eq!(gap.reason, "probe source is gone");
    assert_eq!(probe.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn backoff_doubles_between_retries() {
    let probe = Arc::new(Probe::new(Act::FailFirst(2)));
    let config = ToolConfig {
        backoff_ms: 100,
        retries: 2,
        ..ToolConfig::default()
    };
    let tools = probe_box(&probe, config);
    let started = tokio::time::Instant::now();
    let result = tools.call("probe", hosts(), NOW).await.expect("third try");
    let waited = started.elapsed();
    assert_eq!(result.attempts, 3);
    // 100 ms before the first retry, 200 ms before the second; a constant
    // backoff would wait 200 ms, one more doubling 700 ms.
    assert!(waited >= Duration::from_millis(100 + 2 * 100), "{waited:?}");
    assert!(waited < Duration::from_millis(700), "{waited:?}");
}

#[tokio::test]
async fn the_size_cap_keeps_whole_findings_and_records_the_truncation() {
    let findings: Vec<Finding> = (1..=5).map(finding).collect();
    let size = size_of(&findings[0]);
    assert!(findings.iter().all(|f| size_of(f) == size));
    let cap = 2 * size + size / 2;
    let probe = Arc::new(Probe::new(Act::Answer).with_findings(findings.clone()));
    let config = ToolConfig {
        max_result_bytes: cap,
        ..ToolConfig::default()
    };
    let result = probe_box(&probe, config)
        .call("probe", hosts(), NOW)
        .await
        .expect("answers");
    assert_eq!(result.findings, findings[..2].to_vec());
    assert_eq!(
        result.gaps,
        vec![EvidenceGap {
            source: "probe source".into(),
            reason: format!("probe returned 5 findings; only 2 fit the {cap} byte result cap"),
        }]
    );

    // Exactly at the cap, everything is kept.
    let config = ToolConfig {
        max_result_bytes: 5 * size,
        ..ToolConfig::default()
    };
    let result = probe_box(&probe, config)
        .call("probe", hosts(), NOW)
        .await
        .expect("answers");
    assert_eq!(result.findings, findings);
    assert!(result.gaps.is_empty(), "{:?}", result.gaps);
}

#[tokio::test]
async fn misses_become_gaps_under_the_source_label() {
    let mut probe = Probe::new(Act::Answer);
    probe.misses = vec!["no asset record for host h1".into()];
    let probe = Arc::new(probe);
    let result = probe_box(&probe, ToolConfig::default())
        .call("probe", hosts(), NOW)
        .await
        .expect("answers");
    assert_eq!(
        result.gaps,
        vec![EvidenceGap {
            source: "probe source".into(),
            reason: "no asset record for host h1".into(),
        }]
    );
}

/// The assets source of a folder whose `freshness.toml` dates it
/// 2025-01-01: 151 days old at [`NOW`], past the 30-day limit.
fn stale_source() -> Source {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "assets.csv",
        "hostname,ips,owner,environment,criticality,internet_exposed,tags\n",
    );
    write(
        dir.path(),
        "freshness.toml",
        "assets = \"2025-01-01T00:00:00Z\"\n",
    );
    let context = Context::load_at(dir.path(), &ContextConfig::default(), NOW).expect("loads");
    assert!(context.problems().is_empty(), "{:?}", context.problems());
    context.source(SourceKind::Assets)
}

#[tokio::test]
async fn a_stale_source_with_findings_returns_them_marked_stale() {
    let probe = Arc::new(Probe::new(Act::Answer).with_source(stale_source()));
    let result = probe_box(&probe, ToolConfig::default())
        .call("probe", hosts(), NOW)
        .await
        .expect("answers");
    assert_eq!(result.findings, vec![finding(1)]);
    assert_eq!(
        result.freshness,
        Freshness::Stale {
            age_seconds: 151 * 86_400
        }
    );
    assert!(result.gaps.is_empty(), "{:?}", result.gaps);
}

#[tokio::test]
async fn a_stale_source_that_found_nothing_is_a_gap() {
    let probe = Arc::new(
        Probe::new(Act::Answer)
            .with_source(stale_source())
            .with_findings(Vec::new()),
    );
    let result = probe_box(&probe, ToolConfig::default())
        .call("probe", hosts(), NOW)
        .await
        .expect("answers");
    assert!(result.findings.is_empty());
    assert!(matches!(result.freshness, Freshness::Stale { .. }));
    assert_eq!(
        result.gaps,
        vec![EvidenceGap {
            source: "context/assets.csv".into(),
            reason: "context/assets.csv is 151 days old: it found nothing, \
                     and a stale source's silence proves nothing"
                .into(),
        }]
    );

    // A fresh source that found nothing is simply silent.
    let probe = Arc::new(Probe::new(Act::Answer).with_findings(Vec::new()));
    let result = probe_box(&probe, ToolConfig::default())
        .call("probe", hosts(), NOW)
        .await
        .expect("answers");
    assert_eq!(result.freshness, Freshness::Fresh);
    assert!(result.gaps.is_empty(), "{:?}", result.gaps);
}

#[tokio::test]
async fn an_unknown_tool_is_a_gap() {
    let tools = ToolBox::new(ToolConfig::default());
    let gap = tools
        .call("whois_lookup", json!({}), NOW)
        .await
        .expect_err("unknown");
    assert_eq!(
        gap,
        EvidenceGap {
            source: "tool whois_lookup".into(),
            reason: "no context tool named whois_lookup".into(),
        }
    );
}

#[tokio::test]
async fn a_name_can_be_registered_once() {
    let mut tools = ToolBox::new(ToolConfig::default());
    tools
        .register(Arc::new(Probe::new(Act::Answer)))
        .expect("first");
    let err = tools
        .register(Arc::new(Probe::new(Act::Unavailable)))
        .expect_err("second");
    assert_eq!(err, "tool probe is registered twice");
    assert_eq!(tools.names(), vec!["probe"]);

    let mut tools = ToolBox::new(ToolConfig::default());
    let context = Arc::new(Context::none());
    register_embedded(&mut tools, context.clone(), None).expect("first");
    let err = register_embedded(&mut tools, context, None).expect_err("second");
    assert_eq!(err, "tool asset_lookup is registered twice");
}

#[test]
fn tool_settings_default_to_the_documented_values_and_refuse_unknown_keys() {
    let config: ToolConfig = toml::from_str("").expect("empty");
    assert_eq!(
        config,
        ToolConfig {
            timeout_ms: 2_000,
            retries: 2,
            backoff_ms: 100,
            max_result_bytes: 262_144,
        }
    );
    let config: ToolConfig = toml::from_str("retries = 0").expect("partial");
    assert_eq!(config.retries, 0);
    assert_eq!(config.timeout_ms, 2_000);
    assert!(toml::from_str::<ToolConfig>("timeout = 5").is_err());
}

// --------------------------------------------------------- embedded tools

/// Every embedded tool over `context`, with past cases from an empty store.
async fn embedded_box(context: Context) -> ToolBox {
    let store = SqliteStore::in_memory().await.expect("store");
    let mut tools = ToolBox::new(ToolConfig::default());
    register_embedded(&mut tools, Arc::new(context), Some(Arc::new(store))).expect("registers");
    tools
}

/// A smallest valid parameters object of each embedded tool.
fn minimal_calls() -> Vec<(&'static str, Value)> {
    vec![
        ("asset_lookup", json!({})),
        ("identity_lookup", json!({"users": []})),
        ("vulnerability_lookup", json!({"hosts": []})),
        ("kev_lookup", json!({"cves": ["CVE-2021-44228"]})),
        (
            "intel_lookup",
            json!({"indicators": [{"kind": "ip", "value": "192.0.2.1"}]}),
        ),
        (
            "stix_lookup",
            json!({"indicators": [{"kind": "domain", "value": "evil.example"}]}),
        ),
        ("history_lookup", json!({"rules": [], "entities": []})),
        ("incident_lookup", json!({"entities": []})),
        ("case_history", json!({"entities": []})),
    ]
}

#[tokio::test]
async fn every_embedded_tool_is_described_and_its_schema_is_strict() {
    let tools = embedded_box(Context::none()).await;
    let described = tools.describe();
    let mut names: Vec<&str> = described.iter().map(|d| d.name).collect();
    let mut planned = crate::DEFAULT_PLAN.to_vec();
    names.sort_unstable();
    planned.sort_unstable();
    assert_eq!(names, planned, "every embedded tool, in the default plan");
    let calls = minimal_calls();
    assert_eq!(calls.len(), described.len());

    for tool in &described {
        assert!(!tool.description.is_empty(), "{}", tool.name);
        assert_eq!(tool.parameters["type"], "object", "{}", tool.name);
        assert_eq!(
            tool.parameters["additionalProperties"], false,
            "{}: deny_unknown_fields",
            tool.name
        );
        let validator = jsonschema::validator_for(&tool.parameters).expect("compiles");
        let (_, minimal) = calls
            .iter()
            .find(|(name, _)| *name == tool.name)
            .unwrap_or_else(|| panic!("no minimal call for {}", tool.name));
        assert!(validator.is_valid(minimal), "{}: {minimal}", tool.name);
        let mut unknown = minimal.clone();
        unknown["verbose"] = json!(true);
        assert!(!validator.is_valid(&unknown), "{}: {unknown}", tool.name);

        // Through the wrapper: the minimal call passes the schema (it may
        // still fail, as there is no context), the other does not.
        if let Err(gap) = tools.call(tool.name, minimal.clone(), NOW).await {
            assert!(
                !gap.reason.contains("rejected by its schema"),
                "{}: {}",
                tool.name,
                gap.reason
            );
        }
        let gap = tools
            .call(tool.name, unknown, NOW)
            .await
            .expect_err("unknown property");
        assert!(
            gap.reason.starts_with(&format!(
                "{}: parameters rejected by its schema: ",
                tool.name
            )),
            "{}",
            gap.reason
        );
    }
}

#[tokio::test]
async fn an_entity_refuses_unknown_fields_and_kinds() {
    let tools = embedded_box(Context::none()).await;
    for indicator in [
        json!({"kind": "ip", "value": "192.0.2.1", "note": "x"}),
        json!({"kind": "asn", "value": "64496"}),
        json!({"kind": "ip", "value": ""}),
    ] {
        let gap = tools
            .call("intel_lookup", json!({"indicators": [indicator]}), NOW)
            .await
            .expect_err("rejected");
        assert!(
            gap.reason.contains("rejected by its schema"),
            "{indicator}: {}",
            gap.reason
        );
    }
}

#[tokio::test]
async fn kev_lookup_takes_only_cve_ids() {
    let tools = embedded_box(Context::none()).await;
    let gap = tools
        .call("kev_lookup", json!({"cves": ["CVE-12"]}), NOW)
        .await
        .expect_err("rejected");
    assert_eq!(gap.source, "context/kev.json");
    assert!(
        gap.reason
            .starts_with("kev_lookup: parameters rejected by its schema: ")
            && gap.reason.contains("CVE-12")
            && gap.reason.ends_with("(at /cves/0)"),
        "{}",
        gap.reason
    );
    // Any case passes the schema; the catalogue is what is missing here.
    let gap = tools
        .call("kev_lookup", json!({"cves": ["cve-2021-44228"]}), NOW)
        .await
        .expect_err("no catalogue");
    assert!(
        !gap.reason.contains("rejected by its schema"),
        "{}",
        gap.reason
    );
}

#[tokio::test]
async fn a_rejected_list_is_not_quoted_whole_in_the_gap() {
    let tools = embedded_box(Context::none()).await;
    let hosts: Vec<String> = (0..501).map(|i| format!("host-{i}")).collect();
    let gap = tools
        .call("asset_lookup", json!({"hosts": hosts}), NOW)
        .await
        .expect_err("too many");
    assert_eq!(gap.source, "context/assets.csv");
    assert_eq!(
        gap.reason,
        "asset_lookup: parameters rejected by its schema: \
         the value has more than 500 items (at /hosts)"
    );
}

#[test]
fn ips_in_the_inventory_match_whatever_their_spelling() {
    assert!(same_ip("2001:DB8:0:0::1", "2001:db8::1"));
    assert!(same_ip(" 10.0.0.10 ", "10.0.0.10"));
    assert!(!same_ip("10.0.0.11", "10.0.0.10"));
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

/// A case over one alert on `host`, created at `at`, stored.
async fn stored_case(
    store: &SqliteStore,
    host: &str,
    at: OffsetDateTime,
    outcome: Option<(CaseState, Verdict, Disposition)>,
) -> (warden_domain::Case, warden_domain::Alert) {
    let alert = warden_store::conformance::sample_alert(host, at);
    let mut case = warden_domain::Case::open(
        alert.rule.name.clone(),
        vec![alert.id],
        1,
        vec![],
        Severity::High,
        at,
    );
    if let Some((state, verdict, disposition)) = outcome {
        case.state = state;
        case.verdict = Some(verdict);
        case.disposition = Some(disposition);
    }
    store
        .insert_case(&case, &[(alert.clone(), 0)])
        .await
        .expect("insert");
    (case, alert)
}

#[tokio::test]
async fn case_history_finds_earlier_cases_on_a_host_but_not_the_case_itself() {
    let store = SqliteStore::in_memory().await.expect("store");
    let (earlier, _) = stored_case(
        &store,
        "ws-7",
        NOW - time::Duration::days(3),
        Some((
            CaseState::Escalated,
            Verdict::Malicious,
            Disposition::Escalated,
        )),
    )
    .await;
    let (_, _) = stored_case(&store, "ws-9", NOW - time::Duration::days(2), None).await;
    let (current, alert) = stored_case(&store, "ws-7", NOW, None).await;

    let mut tools = ToolBox::new(ToolConfig::default());
    register_embedded(&mut tools, Arc::new(Context::none()), Some(Arc::new(store)))
        .expect("registers");

    let entities = json!([{"kind": "host", "value": "ws-7"}]);
    let result = tools
        .call(
            "case_history",
            json!({"entities": entities, "exclude_case": current.id.to_string()}),
            NOW,
        )
        .await
        .expect("answers");
    assert_eq!(result.source.label(), "store: past cases");
    assert_eq!(result.freshness, Freshness::Fresh);
    assert_eq!(result.findings.len(), 1, "{:?}", result.findings);
    let past = &result.findings[0];
    assert_eq!(past.kind, EvidenceKind::PastCase);
    assert_eq!(past.facts["case_id"], earlier.id.to_string());
    assert_eq!(past.facts["shared"], json!(["host ws-7"]));
    assert_eq!(past.facts["escalated"], true);
    assert_eq!(past.facts["open"], true);
    assert!(
        past.summary
            .starts_with(&format!("earlier case {}", earlier.id)),
        "{}",
        past.summary
    );

    // Without the exclusion the case under triage would be its own history.
    let result = tools
        .call("case_history", json!({"entities": entities}), NOW)
        .await
        .expect("answers");
    let ids: Vec<&Value> = result
        .findings
        .iter()
        .map(|f| &f.facts["case_id"])
        .collect();
    assert_eq!(
        ids,
        vec![
            &json!(current.id.to_string()),
            &json!(earlier.id.to_string())
        ]
    );

    // A bad case id is a gap, not a silent "no history".
    let gap = tools
        .call(
            "case_history",
            json!({"entities": entities, "exclude_case": "case-nope"}),
            NOW,
        )
        .await
        .expect_err("not a case id");
    assert_eq!(gap.source, "store: past cases");
    assert!(
        gap.reason
            .starts_with("exclude_case \"case-nope\" is not a case id"),
        "{}",
        gap.reason
    );

    // Through enrichment, with a playbook that runs only this tool.
    let plan = vec!["case_history".to_owned()];
    let request = EnrichRequest {
        alerts: std::slice::from_ref(&alert),
        case_id: Some(current.id),
        plan: &plan,
    };
    let enrichment = enrich(&request, &tools, NOW).await;
    let kinds: Vec<EvidenceKind> = enrichment.evidence.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![EvidenceKind::Alert, EvidenceKind::PastCase]);
    assert_eq!(
        enrichment.evidence[1].facts["case_id"],
        earlier.id.to_string()
    );
    assert_eq!(enrichment.calls, vec!["case_history: 1 finding"]);
    assert!(enrichment.gaps.is_empty(), "{:?}", enrichment.gaps);
}

#[tokio::test]
async fn incident_lookup_finds_only_active_incidents() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "incidents.csv",
        "id,title,status,severity,entities,opened_at\n\
         INC-1,Ransomware on file server,open,critical,fs-01;10.0.1.20,2025-05-30T22:14:00Z\n\
         INC-2,Lateral movement,contained,high,FS-01,2025-05-29T10:00:00Z\n\
         INC-3,Old scan,closed,low,fs-01,2025-01-02T03:04:05Z\n\
         INC-4,Phishing wave,open,medium,evil.example,2025-05-31T08:00:00Z\n",
    );
    let context = Context::load(dir.path(), &ContextConfig::default()).expect("loads");
    assert!(context.problems().is_empty(), "{:?}", context.problems());
    let tools = embedded_box(context).await;
    let result = tools
        .call(
            "incident_lookup",
            json!({"entities": ["fs-01", "ws-2"]}),
            OffsetDateTime::now_utc(),
        )
        .await
        .expect("answers");
    assert_eq!(result.source.label(), "context/incidents.csv");
    let ids: Vec<&Value> = result
        .findings
        .iter()
        .map(|f| &f.facts["incident_id"])
        .collect();
    assert_eq!(ids, vec!["INC-1", "INC-2"]);
    assert!(
        result
            .findings
            .iter()
            .all(|f| f.kind == EvidenceKind::Incident && f.facts["shared"] == json!(["fs-01"]))
    );
    assert_eq!(
        result.findings[0].summary,
        "open incident INC-1 \"Ransomware on file server\" (critical) involves fs-01"
    );
    assert!(result.gaps.is_empty(), "{:?}", result.gaps);

    // Only a closed incident involves the entity: nothing to report.
    let result = tools
        .call(
            "incident_lookup",
            json!({"entities": ["10.0.1.21", "INC-3"]}),
            OffsetDateTime::now_utc(),
        )
        .await
        .expect("answers");
    assert!(result.findings.is_empty(), "{:?}", result.findings);
}

#[tokio::test]
async fn stix_lookup_finds_an_indicator_of_a_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "stix/acme-cti.json", ACME);
    let context = Context::load(dir.path(), &ContextConfig::default()).expect("loads");
    assert!(context.problems().is_empty(), "{:?}", context.problems());
    let tools = embedded_box(context).await;
    let result = tools
        .call(
            "stix_lookup",
            json!({"indicators": [
                {"kind": "url", "value": "http://x4z9arb.cn/4712/"},
                {"kind": "ip", "value": "192.0.2.99"},
            ]}),
            OffsetDateTime::now_utc(),
        )
        .await
        .expect("answers");
    assert_eq!(result.source.label(), "context/stix/");
    assert_eq!(result.freshness, Freshness::Fresh);
    assert_eq!(result.findings.len(), 1, "{:?}", result.findings);
    let hit = &result.findings[0];
    assert_eq!(hit.kind, EvidenceKind::Intel);
    assert_eq!(
        hit.subject,
        Some((ObservableKind::Url, "http://x4z9arb.cn/4712/".into()))
    );
    assert_eq!(hit.facts["indicator"], "http://x4z9arb.cn/4712/");
    assert_eq!(hit.facts["source"], "ACME CTI");
    assert_eq!(hit.facts["feed"], "stix");
    assert!(result.gaps.is_empty(), "{:?}", result.gaps);

    // The bundle is not the intel list.
    let gap = tools
        .call(
            "intel_lookup",
            json!({"indicators": [{"kind": "url", "value": "http://x4z9arb.cn/4712/"}]}),
            OffsetDateTime::now_utc(),
        )
        .await
        .expect_err("no intel.csv");
    assert_eq!(gap.reason, "context/intel.csv not present");
}

// --- sources a deployment never set up, and what an inventory should know ----

#[test]
fn internal_addresses_are_the_private_loopback_link_local_ula_and_cgnat_ranges() {
    for internal in [
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.10.1",
        "100.64.0.1",
        "100.127.255.254",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "::ffff:10.1.2.3",
    ] {
        assert!(is_internal_address(internal), "{internal} is internal");
    }
    for external in [
        "8.8.8.8",
        "172.32.0.1",
        "100.128.0.1",
        "100.63.255.255",
        "185.220.101.45",
        "2001:db8::1",
        "2606:4700::1111",
        "::ffff:8.8.8.8",
        "ws-01",
        "",
    ] {
        assert!(!is_internal_address(external), "{external} is not internal");
    }
}

/// A context folder holding only `assets.csv` (one host, `fs-01`) and
/// `identities.csv` (one user, `jdoe`).
fn inventory_only() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "assets.csv",
        "hostname,ips,owner,environment,criticality,internet_exposed,tags\n\
         fs-01,10.0.1.20;fd00::20,infra-ops,production,tier_1,false,\n",
    );
    write(
        dir.path(),
        "identities.csv",
        "user,display_name,department,role,privileged,user_type,mfa\n\
         jdoe,John Doe,Finance,Analyst,false,human,enabled\n",
    );
    dir
}

#[tokio::test]
async fn an_internal_address_missing_from_the_inventory_is_a_gap_and_an_external_one_is_not() {
    let dir = inventory_only();
    let context = Context::load(dir.path(), &ContextConfig::default()).expect("loads");
    let tools = embedded_box(context).await;
    let result = tools
        .call(
            "asset_lookup",
            json!({"ips": ["10.0.1.20", "FD00:0::20", "10.9.9.9", "100.64.3.4", "fd00::99",
                           "185.220.101.45", "2606:4700::1111"]}),
            OffsetDateTime::now_utc(),
        )
        .await
        .expect("answers");
    assert_eq!(result.findings.len(), 1, "{:?}", result.findings);
    let reasons: Vec<(&str, &str)> = result
        .gaps
        .iter()
        .map(|g| (g.source.as_str(), g.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (
                "context/assets.csv",
                "no asset record for internal address 10.9.9.9"
            ),
            (
                "context/assets.csv",
                "no asset record for internal address 100.64.3.4"
            ),
            (
                "context/assets.csv",
                "no asset record for internal address fd00::99"
            ),
        ]
    );
}

#[tokio::test]
async fn a_host_or_user_missing_from_a_configured_inventory_is_a_gap_naming_it() {
    let dir = inventory_only();
    let context = Context::load(dir.path(), &ContextConfig::default()).expect("loads");
    let tools = embedded_box(context).await;
    let now = OffsetDateTime::now_utc();
    let assets = tools
        .call("asset_lookup", json!({"hosts": ["fs-01", "ws-x"]}), now)
        .await
        .expect("answers");
    let gaps: Vec<&str> = assets.gaps.iter().map(|g| g.reason.as_str()).collect();
    assert_eq!(gaps, vec!["no asset record for host ws-x"]);
    let identities = tools
        .call(
            "identity_lookup",
            json!({"users": ["CORP\\jdoe", "mallory"]}),
            now,
        )
        .await
        .expect("answers");
    let gaps: Vec<(&str, &str)> = identities
        .gaps
        .iter()
        .map(|g| (g.source.as_str(), g.reason.as_str()))
        .collect();
    assert_eq!(
        gaps,
        vec![(
            "context/identities.csv",
            "no identity record for user mallory"
        )]
    );
}

#[tokio::test]
async fn a_tool_says_whether_its_source_is_consulted() {
    // Unset `sources`: what the folder holds.
    let dir = inventory_only();
    let context = Context::load(dir.path(), &ContextConfig::default()).expect("loads");
    let tools = embedded_box(context).await;
    assert_eq!(tools.not_consulted("asset_lookup"), None);
    assert_eq!(tools.not_consulted("identity_lookup"), None);
    assert_eq!(
        tools.not_consulted("stix_lookup").as_deref(),
        Some("stix (not configured)")
    );
    assert_eq!(
        tools.not_consulted("kev_lookup").as_deref(),
        Some("kev (not configured)")
    );
    assert_eq!(tools.not_consulted("no_such_tool"), None);

    // No folder: no context source (past cases are Warden's own store).
    let tools = embedded_box(Context::none()).await;
    for name in tools.names() {
        assert_eq!(
            tools.not_consulted(name).is_some(),
            name != "case_history",
            "{name}"
        );
    }

    // Set: exactly those, present or not.
    let config: ContextConfig = toml::from_str(r#"sources = ["assets", "stix"]"#).expect("parses");
    let context = Context::load(dir.path(), &config).expect("loads");
    let tools = embedded_box(context).await;
    assert_eq!(tools.not_consulted("asset_lookup"), None);
    assert_eq!(tools.not_consulted("stix_lookup"), None);
    assert_eq!(
        tools.not_consulted("identity_lookup").as_deref(),
        Some("identities (not configured)")
    );
}

/// Issue 18: an identity row that names its domain is matched only by the
/// full identity. The same account name in another domain, or with none,
/// is not the same person: its finding says `"match": "unverified"`,
/// carries none of the row's privilege, type, MFA, country or tag facts,
/// and the lookup records a gap for it.
#[tokio::test]
async fn an_account_name_in_another_domain_is_unverified_and_carries_no_facts() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "identities.csv",
        "user,display_name,department,role,privileged,user_type,mfa,usual_countries,tags\n\
         amartin@corp.example,Alex Martin,IT,Global Administrator,true,human,enabled,US,vip\n",
    );
    let context = Context::load(dir.path(), &ContextConfig::default()).expect("loads");
    let tools = embedded_box(context).await;
    let now = OffsetDateTime::now_utc();
    let result = tools
        .call(
            "identity_lookup",
            json!({"users": ["AMartin@Corp.Example", "amartin@contractor.example", "amartin"]}),
            now,
        )
        .await
        .expect("answers");
    let facts = |user: &str| {
        result
            .findings
            .iter()
            .find(|e| e.subject.as_ref().is_some_and(|(_, v)| v == user))
            .map(|e| e.facts.clone())
            .unwrap_or_else(|| panic!("evidence for {user}"))
    };
    let verified = facts("AMartin@Corp.Example");
    assert!(verified.get("match").is_none(), "{verified}");
    assert_eq!(verified["privileged"], true);
    for other in ["amartin@contractor.example", "amartin"] {
        let partial = facts(other);
        assert_eq!(partial["match"], "unverified", "{other}: {partial}");
        for fact in ["privileged", "tags", "user_type", "mfa", "usual_countries"] {
            assert!(partial.get(fact).is_none(), "{other} got {fact}: {partial}");
        }
    }
    let gaps: Vec<&str> = result.gaps.iter().map(|g| g.reason.as_str()).collect();
    assert_eq!(gaps.len(), 2, "{gaps:?}");
    assert!(
        gaps.iter()
            .all(|g| g.contains("not verified") && g.contains("amartin@corp.example")),
        "{gaps:?}"
    );
}

/// Issue 18, with `[context] identity_domains` unset: the site's own
/// context says which domains are home (here an asset owner's mail
/// address), so `jdoe@contractor.example` is still not the row `jdoe`.
#[tokio::test]
async fn unset_identity_domains_are_the_ones_the_sites_own_context_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "assets.csv",
        "hostname,ips,owner,environment,criticality,internet_exposed,tags\n\
         fs-01,10.0.1.20,infra-ops@Corp.Example,production,tier_1,false,\n",
    );
    write(
        dir.path(),
        "identities.csv",
        "user,display_name,department,role,privileged,user_type,mfa\n\
         jdoe,John Doe,Finance,Analyst,false,human,enabled\n",
    );
    let context = Context::load(dir.path(), &ContextConfig::default()).expect("loads");
    let tools = embedded_box(context).await;
    let result = tools
        .call(
            "identity_lookup",
            json!({"users": ["jdoe@corp.example", "CORP\\jdoe", "jdoe@contractor.example"]}),
            OffsetDateTime::now_utc(),
        )
        .await
        .expect("answers");
    let matched: Vec<&str> = result
        .findings
        .iter()
        .map(|f| f.facts["match"].as_str().unwrap_or("verified"))
        .collect();
    assert_eq!(matched, vec!["verified", "verified", "unverified"]);
    assert_eq!(result.gaps.len(), 1, "{:?}", result.gaps);
}

/// Issue 18, a row without a domain (`jdoe`): with `[context]
/// identity_domains` set, only the directory's own domains (and the bare
/// name) verify; `jdoe@contractor.example` is unverified, with no facts.
#[tokio::test]
async fn a_row_without_a_domain_stands_for_the_directorys_domains_only() {
    let dir = inventory_only();
    let config = ContextConfig {
        identity_domains: vec!["Corp.Example".into(), "CORP".into()],
        ..ContextConfig::default()
    };
    let context = Context::load(dir.path(), &config).expect("loads");
    let tools = embedded_box(context).await;
    let result = tools
        .call(
            "identity_lookup",
            json!({"users": ["jdoe@corp.example", "CORP\\jdoe", "jdoe", "jdoe@contractor.example"]}),
            OffsetDateTime::now_utc(),
        )
        .await
        .expect("answers");
    let matched: Vec<(String, String)> = result
        .findings
        .iter()
        .map(|f| {
            (
                f.subject.clone().expect("subject").1,
                f.facts["match"].as_str().unwrap_or("verified").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        matched,
        vec![
            ("jdoe@corp.example".to_owned(), "verified".to_owned()),
            ("CORP\\jdoe".to_owned(), "verified".to_owned()),
            ("jdoe".to_owned(), "verified".to_owned()),
            (
                "jdoe@contractor.example".to_owned(),
                "unverified".to_owned()
            ),
        ]
    );
    let contractor = &result.findings[3].facts;
    assert!(contractor.get("user_type").is_none(), "{contractor}");
    assert_eq!(result.gaps.len(), 1, "{:?}", result.gaps);
}
