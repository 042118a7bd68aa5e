use serde_json::{Value, json};
use warden_domain::{ObservableKind, Severity, SourceFormat};

use super::*;
use crate::formats::test_support::{jsonl, values};
use crate::formats::{FormatChoice, Formats};

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
