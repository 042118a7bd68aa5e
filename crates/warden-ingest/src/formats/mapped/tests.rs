use ::time::OffsetDateTime;
use serde_json::{Value, json};
use warden_domain::{Alert, ObservableKind, Provenance, Severity, SourceFormat};

use super::*;
use crate::formats::test_support::{jsonl, values};
use crate::formats::{FormatChoice, FormatError, Formats};

const WAZUH: &str = include_str!("../../../../../examples/mappings/wazuh.toml");

fn wazuh() -> Mapping {
    Mapping::parse(WAZUH, "wazuh.toml").expect("the example mapping loads")
}

fn samples() -> Vec<Value> {
    jsonl(include_str!("../../../testdata/mapped/wazuh-alerts.jsonl"))
}

#[test]
fn the_example_mapping_reads_wazuh_alerts() {
    let formats = Formats::with_mappings(vec![wazuh()]).expect("formats");
    let samples = samples();
    let choice = formats.detect(&samples[0]).expect("detected");
    assert_eq!(choice.name(), "wazuh");
    let alert = formats
        .normalise(&choice, &samples[0], "x", "h")
        .expect("normalises");
    assert_eq!(alert.format, SourceFormat::Mapped);
    assert_eq!(alert.product, "Wazuh");
    assert_eq!(alert.rule.uid.as_deref(), Some("wazuh:5763"));
    assert_eq!(alert.severity.level, Severity::High);
    assert_eq!(alert.severity.original, "10");
    assert_eq!(values(&alert, ObservableKind::Host), vec!["web-frontend-2"]);
    assert_eq!(
        values(&alert, ObservableKind::Ip),
        vec!["10.40.1.17", "203.0.113.77"]
    );
    assert_eq!(values(&alert, ObservableKind::User), vec!["root"]);
    assert_eq!(alert.attacks[0].id, "T1110");
    assert_eq!(alert.attacks[0].tactics, vec!["Credential Access"]);

    let integrity = formats
        .normalise(&choice, &samples[1], "x", "h")
        .expect("normalises");
    assert_eq!(integrity.severity.level, Severity::Medium);
    assert_eq!(values(&integrity, ObservableKind::FileHash).len(), 1);
}

#[test]
fn text_pointers_give_untrusted_observables_only() {
    let formats = Formats::with_mappings(vec![wazuh()]).expect("formats");
    let web = &samples()[2];
    let choice = formats.detect(web).expect("detected");
    let alert = formats
        .normalise(&choice, web, "x", "h")
        .expect("normalises");
    // The URL is a structured field; the attacker's user agent is only text.
    assert_eq!(values(&alert, ObservableKind::Url).len(), 1);
    assert!(alert.observables.iter().all(|o| o.value != "close"));
}

#[test]
fn a_forced_mapping_reads_a_payload_detection_would_miss() {
    let formats = Formats::with_mappings(vec![wazuh()]).expect("formats");
    let mut partial = samples()[0].clone();
    partial.as_object_mut().expect("object").remove("manager");
    assert!(formats.detect(&partial).is_err());
    let forced = formats.choose("wazuh").expect("named");
    assert!(matches!(forced, FormatChoice::Mapped(_)));
    formats
        .normalise(&forced, &partial, "x", "h")
        .expect("normalises");
}

#[test]
fn bad_mappings_are_refused_with_the_reason() {
    let cases = [
        (
            WAZUH.replace("name = \"wazuh\"", "name = \"ocsf\""),
            "built-in",
        ),
        (
            WAZUH.replace("name = \"wazuh\"", "name = \"Wazuh!\""),
            "lower-case",
        ),
        (
            WAZUH.replace("time = \"/timestamp\"", "time = \"timestamp\""),
            "fields.time",
        ),
        (
            WAZUH.replace("kind = \"host\"", "kind = \"hostname\""),
            "hostname",
        ),
        (WAZUH.replace("rule_uid =", "rule_id ="), "rule_id"),
        (
            WAZUH.replace(
                "\"/rule/level\" = \"*\"\n\"/decoder/name\" = \"*\"\n\"/manager/name\" = \"*\"\n",
                "",
            ),
            "[detect]",
        ),
        (
            WAZUH.replace("\"15\" = \"critical\"", "\"15\" = \"severe\""),
            "severe",
        ),
        (
            WAZUH.replace(
                "kind = \"host\"\npointer = \"/agent/name\"",
                "kind = \"host\"\npointer = \"/agent/name\"\nallow = [\"public\"]",
            ),
            "observables[0] (host): allow applies to kind ip only",
        ),
        (
            WAZUH.replace(
                "kind = \"ip\"\npointer = \"/agent/ip\"",
                "kind = \"ip\"\npointer = \"/agent/ip\"\nallow = [\"multicast\"]",
            ),
            "observables[1] (ip): allow names multicast, which is never a host address",
        ),
        (
            WAZUH.replace(
                "kind = \"ip\"\npointer = \"/data/srcip\"",
                "kind = \"ip\"\npointer = \"/data/dstip\"\nrole = \"actor\"",
            ),
            "observables[2] (ip): role actor contradicts the pointer \"/data/dstip\"",
        ),
        (
            WAZUH.replace(
                "kind = \"ip\"\npointer = \"/data/srcip\"",
                "kind = \"ip\"\npointer = \"/data/srcip\"\ntransforms = [\"frist\"]",
            ),
            "observables[2] (ip): unknown transform \"frist\"",
        ),
        (
            WAZUH.replace(
                "rule_uid = \"/rule/id\"",
                "rule_uid = { pointer = \"/rule/id\", transforms = [{ regex = \"(\" }] }",
            ),
            "fields.rule_uid: regex \"(\" does not compile",
        ),
        (
            WAZUH.replace(
                "rule_uid = \"/rule/id\"",
                "rule_uid = { pointer = \"/rule/id\", format = \"rfc3339\" }",
            ),
            "fields.rule_uid: format, offset and default apply to fields.time only",
        ),
        (
            WAZUH.replace(
                "time = \"/timestamp\"",
                "time = { pointer = \"/timestamp\", format = \"%d/%m %H:%M\" }",
            ),
            "fields.time: format \"%d/%m %H:%M\" has no offset",
        ),
        (
            format!(
                "{WAZUH}\n[severity_rules]\npatterns = [{{ regex = \"[\", level = \"high\" }}]\n"
            ),
            "[severity_rules]: patterns[0]: regex \"[\" does not compile",
        ),
    ];
    for (text, expected) in cases {
        let err = Mapping::parse(&text, "bad.toml").expect_err(expected);
        let message = err.to_string();
        assert!(message.starts_with("mapping bad.toml: "), "{message}");
        assert!(message.contains(expected), "{expected}: {message}");
    }
    let twice = Formats::with_mappings(vec![wazuh(), wazuh()]).expect_err("duplicate");
    assert!(twice.to_string().contains("already used"), "{twice}");
}

const MODSECURITY: &str = include_str!("../../../../../examples/mappings/modsecurity.toml");
const AZURE_FIREWALL: &str = include_str!("../../../../../examples/mappings/azure-firewall.toml");

fn formats_of(text: &str, origin: &str) -> Formats {
    let mapping = Mapping::parse(text, origin).expect("the example mapping loads");
    Formats::with_mappings(vec![mapping]).expect("formats")
}

const INGESTED_AT: OffsetDateTime = ::time::macros::datetime!(2026-11-17 12:00:00 UTC);

/// Detect and normalise one payload, at the fixed ingest time.
fn read(formats: &Formats, payload: &Value) -> Result<Alert, FormatError> {
    let choice = formats.detect(payload)?;
    formats.normalise_at(&choice, payload.clone(), "x", "h", INGESTED_AT)
}

/// Where each structured entity of `kind` was found, by value.
fn provenance(alert: &Alert, kind: ObservableKind) -> Vec<(String, Vec<String>)> {
    alert
        .structured(kind)
        .map(|o| {
            let paths = o
                .provenance
                .iter()
                .filter_map(|p| match p {
                    Provenance::Field { path } => Some(path.clone()),
                    Provenance::Text { .. } => None,
                })
                .collect();
            (o.value.clone(), paths)
        })
        .collect()
}

#[test]
fn every_example_mapping_loads() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/mappings");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("examples/mappings") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let mapping = Mapping::load(&path).unwrap_or_else(|e| panic!("{e}"));
            names.push(mapping.name().to_owned());
        }
    }
    names.sort();
    assert_eq!(names, vec!["azure-firewall", "modsecurity", "wazuh"]);
}

/// Issue 23: a WAF source's time from an HTTP Date header, a severity
/// from a list of messages, `host:port` and `X-Forwarded-For` values, and
/// the attacker's own headers kept out of the entities.
#[test]
fn the_modsecurity_mapping_reads_waf_transactions() {
    let formats = formats_of(MODSECURITY, "modsecurity.toml");
    let samples = jsonl(include_str!("../../../testdata/modsecurity/audit.jsonl"));

    let sqli = read(&formats, &samples[0]).expect("normalises");
    assert_eq!(sqli.product, "ModSecurity");
    assert_eq!(
        sqli.rule.name,
        "SQL Injection Attack Detected via libinjection"
    );
    assert_eq!(sqli.rule.uid.as_deref(), Some("modsecurity:942100"));
    assert_eq!(sqli.vendor_id.as_deref(), Some("179560571921.140928"));
    assert_eq!(
        sqli.time,
        ::time::macros::datetime!(2026-11-17 09:41:59 UTC)
    );
    assert_eq!(
        (sqli.severity.level, sqli.severity.original.as_str()),
        (Severity::High, "2")
    );
    assert_eq!(sqli.attacks[0].id, "T1190");
    assert_eq!(sqli.attacks[0].tactics, vec!["Initial Access"]);
    // The last X-Forwarded-For hop (the first, 127.0.0.1, is the client's
    // word and not allowed) and the server; the TCP peer is the proxy's
    // private address, which the mapping does not allow: text only.
    assert_eq!(
        values(&sqli, ObservableKind::Ip),
        vec!["10.20.1.30", "198.51.100.23"]
    );
    assert!(
        sqli.observables
            .iter()
            .filter(|o| o.value == "10.20.0.5" || o.value == "127.0.0.1")
            .all(|o| !o.is_structured())
    );
    assert_eq!(
        provenance(&sqli, ObservableKind::Domain),
        vec![(
            "shop.example".to_owned(),
            vec!["/transaction/request/headers/Host (target)".to_owned()]
        )]
    );
    let site = sqli
        .structured(ObservableKind::Domain)
        .next()
        .expect("the site");
    assert!(site.is_target() && !site.is_actor());
    // Session cookies are not file hashes; Chrome/111.0.0.0 is no address.
    assert!(
        sqli.observables
            .iter()
            .all(|o| o.kind != ObservableKind::FileHash)
    );
    assert!(sqli.observables.iter().all(|o| o.value != "111.0.0.0"));

    let log4shell = read(&formats, &samples[1]).expect("normalises");
    assert_eq!(log4shell.rule.uid.as_deref(), Some("modsecurity:944150"));
    // No response, so no Date header: dated when ingested, as declared.
    assert_eq!(log4shell.time, INGESTED_AT);
    // The ${jndi:...} Host header is no domain and no address: text only.
    assert!(
        log4shell
            .structured(ObservableKind::Domain)
            .next()
            .is_none()
    );
    assert_eq!(
        values(&log4shell, ObservableKind::Ip),
        vec!["10.20.1.30", "203.0.113.66"]
    );
    assert!(
        log4shell
            .observables
            .iter()
            .filter(|o| o.value.contains("198.51.100.66"))
            .all(|o| !o.is_structured())
    );

    let scan = read(&formats, &samples[2]).expect("normalises");
    // A Host header holding an address is the target IP, not a domain.
    assert_eq!(
        values(&scan, ObservableKind::Ip),
        vec!["10.20.1.30", "192.0.2.44", "203.0.113.10"]
    );
    assert!(scan.structured(ObservableKind::Domain).next().is_none());
}

/// Issue 23: a firewall whose details are one free-text message: regex
/// captures, `host:port`, declared roles, and severity by exact value,
/// prefix and default.
#[test]
fn the_azure_firewall_mapping_reads_idps_and_threat_intel_hits() {
    let formats = formats_of(AZURE_FIREWALL, "azure-firewall.toml");
    let samples = jsonl(include_str!(
        "../../../testdata/azure-firewall/network-rule.jsonl"
    ));

    let idps = read(&formats, &samples[0]).expect("normalises");
    assert_eq!(idps.product, "Azure Firewall");
    assert_eq!(idps.rule.name, "JA3 Hash - [Abuse.ch] Possible Tofsee");
    assert_eq!(idps.rule.uid.as_deref(), Some("azure-firewall:2028816"));
    assert_eq!(idps.severity.level, Severity::High);
    assert_eq!(idps.severity.original, "Priority: 1");
    assert_eq!(
        idps.time,
        ::time::macros::datetime!(2026-11-17 08:02:11.452538 UTC)
    );
    assert_eq!(
        provenance(&idps, ObservableKind::Ip),
        vec![
            ("10.1.0.4".to_owned(), vec!["/properties/msg".to_owned()]),
            (
                "203.0.113.80".to_owned(),
                vec!["/properties/msg (target)".to_owned()]
            ),
        ]
    );
    let [source, destination] = [&"10.1.0.4", &"203.0.113.80"].map(|ip| {
        idps.structured(ObservableKind::Ip)
            .find(|o| o.value == *ip)
            .expect("entity")
    });
    assert!(source.is_actor() && !source.is_target());
    assert!(destination.is_target() && !destination.is_actor());

    let intel = read(&formats, &samples[1]).expect("normalises");
    assert_eq!(intel.rule.name, "Bot Networks");
    assert_eq!(
        intel.rule.uid.as_deref(),
        Some("azure-firewall:Bot Networks")
    );
    assert_eq!(intel.severity.level, Severity::High);
    assert_eq!(
        values(&intel, ObservableKind::Domain),
        vec!["c2.bad.example"]
    );
    assert_eq!(values(&intel, ObservableKind::Ip), vec!["10.1.0.7"]);

    // "from 10.1.0.9: to 198.51.100.5:" (ICMP, empty ports); priority 4 is
    // no listed value but matches the prefix.
    let ping = read(&formats, &samples[2]).expect("normalises");
    assert_eq!(
        values(&ping, ObservableKind::Ip),
        vec!["10.1.0.9", "198.51.100.5"]
    );
    assert_eq!(ping.severity.level, Severity::Informational);
    assert!(
        formats
            .mappings()
            .all(|m| m.unlisted_severities().is_empty())
    );

    // A plain connection log is no detection: refused, naming the mapping
    // file, the field and the value.
    let err = read(&formats, &samples[3])
        .expect_err("not a detection")
        .to_string();
    assert!(
        err.starts_with("mapping azure-firewall.toml: fields.rule_name: regex ")
            && err.contains("does not apply to \"UDP request from 10.1.0.4:51106 to 192.0.2.53:53. Action: Allow. \" (from /properties/msg)"),
        "{err}"
    );
}

/// Issue 23: a value the mapping does not list is read as the declared
/// default, kept as `VALUE (unlisted)`, and reported once per value.
#[test]
fn unlisted_severities_are_the_declared_default_and_reported_once() {
    let formats = formats_of(MODSECURITY, "modsecurity.toml");
    let mut sample =
        jsonl(include_str!("../../../testdata/modsecurity/audit.jsonl")).swap_remove(0);
    let mut with_severity = |severity: &str| {
        sample["transaction"]["messages"][0]["details"]["severity"] = json!(severity);
        read(&formats, &sample).expect("normalises").severity
    };
    let emergency = with_severity("EMERGENCY");
    assert_eq!(emergency.level, Severity::Critical);
    for _ in 0..3 {
        let odd = with_severity("9");
        assert_eq!(
            (odd.level, odd.original.as_str()),
            (Severity::Medium, "9 (unlisted)")
        );
    }
    let named = with_severity("Low");
    assert_eq!(named.level, Severity::Low);
    with_severity("severe");
    let mapping = formats.mappings().next().expect("one mapping");
    assert_eq!(mapping.unlisted_severities(), vec!["9", "severe"]);
}

/// Issue 23: a value a required field cannot use is a dead letter whose
/// reason names the mapping file, the field and the value.
#[test]
fn unusable_values_name_the_mapping_the_field_and_the_value() {
    let formats = formats_of(MODSECURITY, "modsecurity.toml");
    let mut sample =
        jsonl(include_str!("../../../testdata/modsecurity/audit.jsonl")).swap_remove(0);
    sample["transaction"]["response"]["headers"]["Date"] = json!("yesterday at noon");
    let err = read(&formats, &sample).expect_err("bad date").to_string();
    assert_eq!(
        err,
        "mapping modsecurity.toml: fields.time: \"yesterday at noon\" (from \
         /transaction/response/headers/Date) is not an HTTP-date (Sun, 06 Nov 1994 08:49:37 GMT)"
    );
    sample["transaction"]["messages"] = json!([{"message": "x"}]);
    sample["transaction"]["response"]["headers"]["Date"] = json!("Tue, 17 Nov 2026 09:41:59 GMT");
    let strict = MODSECURITY.replace(
        "[fields.rule_name]\npointer = \"/transaction/messages/*/message\"\ntransforms = [\"first\"]",
        "[fields.rule_name]\npointer = \"/transaction/messages/*/message\"\ntransforms = [\"first\", { regex = 'Attack: (.+)' }]",
    );
    let err = read(&formats_of(&strict, "strict.toml"), &sample)
        .expect_err("no match")
        .to_string();
    assert_eq!(
        err,
        "mapping strict.toml: fields.rule_name: regex \"Attack: (.+)\" does not apply to \"x\" \
         (from /transaction/messages/*/message)"
    );
    sample["transaction"]["messages"] = json!([]);
    sample["transaction"]["producer"]["modsecurity"] = json!("v3");
    let forced = formats.choose("modsecurity").expect("named");
    let err = formats
        .normalise_at(&forced, sample, "x", "h", INGESTED_AT)
        .expect_err("no rule")
        .to_string();
    assert_eq!(
        err,
        "missing required field /transaction/messages/*/message (fields.rule_name of mapping \
         modsecurity.toml)"
    );
}

#[test]
fn missing_required_fields_are_named() {
    let formats = Formats::with_mappings(vec![wazuh()]).expect("formats");
    let forced = formats.choose("wazuh").expect("named");
    let err = formats
        .normalise(&forced, &json!({"rule": {"description": "x"}}), "x", "h")
        .expect_err("no time");
    assert!(err.to_string().contains("/timestamp"), "{err}");
    let err = formats
        .normalise(
            &forced,
            &json!({"timestamp": "soon", "rule": {"description": "x"}}),
            "x",
            "h",
        )
        .expect_err("bad time");
    assert!(err.to_string().contains("RFC 3339"), "{err}");
}

#[test]
fn pointers_follow_rfc_6901_with_a_wildcard() {
    let doc = json!({"a/b": {"m~n": 1}, "list": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {}]});
    assert_eq!(resolve(&doc, "/a~1b/m~0n"), vec![&json!(1)]);
    assert_eq!(resolve(&doc, "/list/1/ip"), vec![&json!("10.0.0.2")]);
    assert_eq!(resolve(&doc, "/list/*/ip").len(), 2);
    assert!(resolve(&doc, "/list/9/ip").is_empty());
    assert_eq!(resolve(&doc, ""), vec![&doc]);
    assert!(resolve(&doc, "nope").is_empty());
}

proptest::proptest! {
    /// Stable twin of the `mapping` fuzz target: any text is a mapping or a
    /// clear error, never a panic.
    #[test]
    fn any_text_loads_or_is_refused(text in ".{0,400}") {
        let _ = Mapping::parse(&text, "p.toml");
    }

    /// Mutating the example mapping line by line never panics, and what
    /// loads normalises any payload deterministically.
    #[test]
    fn mutated_mappings_never_panic(cut in 0usize..80, insert in "[a-z/*\"=\\[\\] ]{0,12}") {
        let lines: Vec<&str> = WAZUH.lines().collect();
        let at = cut % lines.len();
        let mut mutated: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        mutated[at] = format!("{}{insert}", mutated[at]);
        if let Ok(mapping) = Mapping::parse(&mutated.join("\n"), "m.toml") {
            let formats = Formats::with_mappings(vec![mapping]).expect("one mapping");
            for sample in samples() {
                if let Ok(choice) = formats.detect(&sample) {
                    let first = formats.normalise(&choice, &sample, "x", "h");
                    let second = formats.normalise(&choice, &sample, "x", "h");
                    match (first, second) {
                        (Ok(a), Ok(mut b)) => {
                            b.id = a.id;
                            proptest::prop_assert_eq!(a, b);
                        }
                        (Err(a), Err(b)) => proptest::prop_assert_eq!(a, b),
                        (a, b) => proptest::prop_assert!(false, "{:?} vs {:?}", a, b),
                    }
                }
            }
        }
    }
}
