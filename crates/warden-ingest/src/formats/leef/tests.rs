//! Golden tests on vendors' published LEEF examples
//! (`testdata/leef/vendor-examples.leef`, sources in `SOURCES.md` there),
//! the 2.0 delimiter forms, and malformed lines.

use serde_json::Value;
use time::OffsetDateTime;
use warden_domain::{Alert, ObservableKind, Severity, SourceFormat};

use super::{LeefError, parse, severity};
use crate::formats::test_support::values;
use crate::formats::{FormatError, detect, normalise, normalise_received};

fn samples() -> Vec<Value> {
    // Those with a time of their own, then those a syslog receiver dates.
    [
        include_str!("../../../testdata/leef/vendor-examples.leef"),
        include_str!("../../../testdata/leef/syslog-examples.log"),
    ]
    .iter()
    .flat_map(|text| text.lines())
    .map(|line| Value::String(line.to_owned()))
    .collect()
}

fn line(text: &str) -> Value {
    Value::String(text.to_owned())
}

fn received() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("valid")
}

fn leef_alert(payload: &Value) -> Alert {
    assert_eq!(detect(payload), Ok(SourceFormat::Leef), "{payload}");
    normalise(SourceFormat::Leef, payload, "x", "h").expect("normalises")
}

fn leef_alert_received(payload: &Value) -> Alert {
    assert_eq!(detect(payload), Ok(SourceFormat::Leef), "{payload}");
    normalise_received(
        SourceFormat::Leef,
        payload.clone(),
        "x",
        "h",
        Some(received()),
    )
    .expect("normalises")
}

#[test]
fn trend_micro_ddei_system_event() {
    let alert = leef_alert(&samples()[0]);
    assert_eq!(alert.format, SourceFormat::Leef);
    assert_eq!(alert.product, "Trend Micro Deep Discovery Email Inspector");
    assert_eq!(
        alert.rule.uid.as_deref(),
        Some("Trend Micro|Deep Discovery Email Inspector|SYSTEM_EVENT")
    );
    assert_eq!(alert.title.as_untrusted_str(), "SYSTEM_EVENT");
    assert_eq!(
        alert.description.as_untrusted_str(),
        "Logout: 'admin' logged off"
    );
    assert_eq!(alert.severity.level, Severity::Low);
    assert_eq!(alert.severity.original, "sev 3");
    // devTime=Apr 13 2015 06:52:00 GMT+00:00 read with devTimeFormat.
    assert_eq!(alert.time.unix_timestamp(), 1_428_907_920);
    assert_eq!(
        values(&alert, ObservableKind::Host),
        vec!["internalbeta.tapping.ddei"]
    );
    assert_eq!(values(&alert, ObservableKind::Ip), vec!["10.204.253.163"]);
}

#[test]
fn trend_micro_ddan_deny_list_change() {
    let alert = leef_alert(&samples()[1]);
    assert_eq!(alert.time.unix_timestamp(), 1_425_091_803);
    assert_eq!(
        values(&alert, ObservableKind::FileHash),
        vec!["cf1a6cf231bda185debf70b8562301798f286fad"]
    );
    assert_eq!(values(&alert, ObservableKind::Host), vec!["ddan"]);
}

#[test]
fn carbon_black_new_port_with_category() {
    let payload = &samples()[2];
    // No devTime: the received time dates it, and without one it is
    // refused, naming the field.
    assert_eq!(
        normalise(SourceFormat::Leef, payload, "x", "h").map(|a| a.id),
        Err(FormatError::Missing("devTime (the event time)"))
    );
    let alert = leef_alert_received(payload);
    assert_eq!(alert.time, received());
    assert_eq!(
        alert.rule.uid.as_deref(),
        Some("VMware Carbon_Black|App Control|NEW_PORT_DISCOVERD|anomaly")
    );
    assert_eq!(
        alert.title.as_untrusted_str(),
        "NEW_PORT_DISCOVERD (anomaly)"
    );
    assert_eq!(alert.severity.level, Severity::Medium);
    assert_eq!(
        alert.description.as_untrusted_str(),
        "there are spaces in this message"
    );
    let ips = values(&alert, ObservableKind::Ip);
    assert_eq!(ips, vec!["172.5.6.67", "172.50.123.1"]);
    let dst = alert
        .observables
        .iter()
        .find(|o| o.value == "172.50.123.1")
        .expect("dst");
    assert!(dst.is_target());
    let src = alert
        .observables
        .iter()
        .find(|o| o.value == "172.5.6.67")
        .expect("src");
    assert!(src.is_actor());
}

#[test]
fn lancope_leef_2_with_a_caret_delimiter() {
    let text = samples()[3].as_str().expect("line").to_owned();
    let event = parse(&text).expect("parses");
    assert_eq!(event.version, "2.0");
    assert_eq!(event.delimiter, '^');
    assert_eq!(event.event_id, "41");
    assert_eq!(
        event.attributes,
        [
            ("src", "10.0.1.8"),
            ("dst", "10.0.0.5"),
            ("sev", "5"),
            ("srcPort", "81"),
            ("dstPort", "21")
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    let alert = leef_alert_received(&samples()[3]);
    assert_eq!(alert.rule.name, "Lancope StealthWatch 41");
    assert_eq!(
        values(&alert, ObservableKind::Ip),
        vec!["10.0.0.5", "10.0.1.8"]
    );
}

#[test]
fn leef_2_delimiters_in_hex_omitted_or_empty() {
    let expected = parse(samples()[3].as_str().expect("line"))
        .expect("parses")
        .attributes;
    for (header, delimiter) in [
        ("x09", '\t'),
        ("0x09", '\t'),
        ("X5E", '^'),
        ("0x5e", '^'),
        ("", '\t'),
    ] {
        let attributes = expected
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(&delimiter.to_string());
        let text = format!("LEEF:2.0|Lancope|StealthWatch|1.0|41|{header}|{attributes}");
        let event = parse(&text).expect(&text);
        assert_eq!(event.delimiter, delimiter, "{header}");
        assert_eq!(event.attributes, expected, "{header}");
    }
    // Left out altogether (a known sender mistake): a tab.
    let event =
        parse("LEEF:2.0|Lancope|StealthWatch|1.0|41|src=10.0.1.8\tdst=10.0.0.5").expect("parses");
    assert_eq!(event.delimiter, '\t');
    assert_eq!(event.get("dst"), Some("10.0.0.5"));
}

#[test]
fn spaces_where_tabs_belong_are_split_as_meant() {
    let event = parse(samples()[4].as_str().expect("line")).expect("parses");
    assert_eq!(event.get("src"), Some("10.50.1.1"));
    assert_eq!(event.get("dst"), Some("2.10.20.20"));
    assert_eq!(event.get("spt"), Some("1200"));
}

#[test]
fn one_attribute_without_a_tab_is_taken_as_written() {
    // Found by the round-trip property test: not split on spaces.
    let event = parse("LEEF:2.0|V|P|1|E|x09|a= ").expect("parses");
    assert_eq!(event.attributes, vec![("a".to_owned(), " ".to_owned())]);
}

#[test]
fn a_value_holding_the_delimiter_is_joined_back() {
    let event = parse("LEEF:1.0|V|P|1|E|msg=first\tsecond half\tsrc=10.0.0.1").expect("parses");
    assert_eq!(event.get("msg"), Some("first\tsecond half"));
    assert_eq!(event.get("src"), Some("10.0.0.1"));
}

#[test]
fn the_category_tells_events_apart() {
    // IBM's example: the same EventID with two categories.
    let failed = leef_alert_received(&line(
        "LEEF:1.0|Microsoft|Exchange|2013|Login Event|cat=Failed",
    ));
    let success = leef_alert_received(&line(
        "LEEF:1.0|Microsoft|Exchange|2013|Login Event|cat=Success",
    ));
    assert_eq!(
        failed.rule.uid.as_deref(),
        Some("Microsoft|Exchange|Login Event|Failed")
    );
    assert_ne!(failed.rule.uid, success.rule.uid);
    assert_ne!(failed.detection_key(), success.detection_key());
}

#[test]
fn after_the_ibm_syslog_headers() {
    for header in [
        "<13>Jan 18 11:07:53 192.168.1.1",
        "<13>1 2019-01-18T11:07:53.520Z 192.168.1.1",
        "<133>1 2019-01-18T11:07:53.520+07:00 myhostname",
    ] {
        let payload = line(&format!(
            "{header} {}",
            samples()[3].as_str().expect("line")
        ));
        let alert = leef_alert_received(&payload);
        assert_eq!(alert.rule.name, "Lancope StealthWatch 41", "{header}");
    }
}

#[test]
fn malformed_headers_say_what_and_where() {
    assert_eq!(
        parse("LEEF:3.0|V|P|1|E|").map(|e| e.event_id),
        Err(LeefError::Version("3.0".into()))
    );
    let err = parse("LEEF:1.0|Vendor|Product").map(|e| e.event_id);
    assert_eq!(
        err,
        Err(LeefError::ShortHeader {
            fields: 3,
            expected: 5
        })
    );
    assert!(
        LeefError::ShortHeader {
            fields: 3,
            expected: 5
        }
        .to_string()
        .contains("product version missing")
    );
    assert_eq!(
        parse("LEEF:2.0|V|P|1|E|tab|src=1").map(|e| e.event_id),
        Err(LeefError::Delimiter("tab".into()))
    );
    // A first attribute with no `=`: the byte is counted from the line's
    // start, syslog header included.
    let text = "Jan 18 11:07:53 host LEEF:1.0|V|P|1|E|garbage\tsrc=10.0.0.1";
    let err = normalise(SourceFormat::Leef, &line(text), "x", "h")
        .map(|a| a.id)
        .expect_err("malformed");
    let at = text.find("garbage").expect("garbage");
    assert_eq!(
        err,
        FormatError::Malformed(LeefError::Stray { at }.to_string())
    );
    assert!(err.to_string().contains(&format!("byte {at}")));
    // No event id.
    assert_eq!(
        normalise(
            SourceFormat::Leef,
            &line("LEEF:1.0|V|P|1||src=10.0.0.1"),
            "x",
            "h"
        )
        .map(|a| a.id),
        Err(FormatError::Missing("event id"))
    );
}

#[test]
fn dev_time_forms_and_errors() {
    let at = |attributes: &str| {
        normalise(
            SourceFormat::Leef,
            &line(&format!("LEEF:1.0|V|P|1|E|{attributes}")),
            "x",
            "h",
        )
        .map(|a| a.time.unix_timestamp())
    };
    assert_eq!(at("devTime=1422410436000"), Ok(1_422_410_436));
    assert_eq!(at("devTime=Jan 28 2015 02:00:36"), Ok(1_422_410_436));
    assert_eq!(
        at("devTime=2015-01-28 03:00:36 +0100\tdevTimeFormat=yyyy-MM-dd HH:mm:ss Z"),
        Ok(1_422_410_436)
    );
    let err = at("devTime=28.01.2015\tdevTimeFormat=MMM dd yyyy HH:mm:ss z").expect_err("bad");
    assert!(
        err.to_string().contains("field devTime") && err.to_string().contains("devTimeFormat"),
        "{err}"
    );
}

#[test]
fn severity_table() {
    for (text, level) in [
        ("1", Severity::Low),
        ("3", Severity::Low),
        ("4", Severity::Medium),
        ("6", Severity::Medium),
        ("7", Severity::High),
        ("8", Severity::High),
        ("9", Severity::Critical),
        ("10", Severity::Critical),
    ] {
        assert_eq!(severity(Some(text)).level, level, "{text}");
    }
    assert_eq!(severity(None).original, "absent");
    let odd = severity(Some("High"));
    assert_eq!(odd.level, Severity::Medium);
    assert!(odd.original.ends_with("(not a LEEF severity)"));
}

#[test]
fn the_reader_takes_leef_files() {
    let testdata = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/leef");
    let options = crate::ReadOptions::default();
    let report = crate::read_paths(&[testdata.join("vendor-examples.leef")], &options);
    assert_eq!((report.alerts.len(), report.errors.len()), (2, 0));
    // No devTime: dead letters saying so when read from a file.
    let report = crate::read_paths(&[testdata.join("syslog-examples.log")], &options);
    assert_eq!(report.alerts.len(), 0);
    assert_eq!(report.errors.len(), 3);
    assert!(
        report.errors.iter().all(|e| e.reason.contains("devTime")),
        "{:?}",
        report.errors
    );
}
