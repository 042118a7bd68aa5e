//! Property tests for the line parsers that read attacker-controlled text
//! from the network: CEF, LEEF and the syslog header split. They never
//! panic, read the same text the same way, and CEF's escaping round-trips.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "integration tests fail by panicking"
)]

use proptest::prelude::*;
use serde_json::Value;
use warden_domain::SourceFormat;
use warden_ingest::formats::{cef, leef};
use warden_ingest::{normalise, syslog};

/// A value as a sender means it: any text, spaces, `=`, `\`, `|` and line
/// breaks included, but not ending in whitespace (the separator before the
/// next key is not part of a value).
fn value() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 =\\\\|\\n\\r.:/_-]{0,24}".prop_map(|v| v.trim_end().to_owned())
}

/// A value written the CEF way.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

proptest! {
    #[test]
    fn cef_extension_escaping_round_trips(
        pairs in prop::collection::vec(("[a-z][a-zA-Z0-9]{0,8}", value()), 0..12),
        separator in prop::sample::select(vec![" ", "  ", "\t"]),
    ) {
        let extension = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", escape(v)))
            .collect::<Vec<_>>()
            .join(separator);
        let line = format!("CEF:0|v|p|1|id|n|5|{extension}");
        let event = cef::parse(&line).expect("parses");
        prop_assert_eq!(event.extension, pairs, "line: {:?}", line);
    }

    #[test]
    fn cef_header_escaping_round_trips(
        fields in prop::collection::vec("[a-zA-Z0-9 |\\\\=.]{0,12}", 5),
    ) {
        let escaped: Vec<String> = fields
            .iter()
            .map(|f| f.replace('\\', "\\\\").replace('|', "\\|"))
            .collect();
        let line = format!("CEF:0|{}|7|src=10.0.0.1", escaped.join("|"));
        let event = cef::parse(&line).expect("parses");
        prop_assert_eq!(event.get("src"), Some("10.0.0.1"));
        prop_assert_eq!(
            [event.device_vendor, event.device_product, event.device_version,
             event.event_class_id, event.name].to_vec(),
            fields
        );
    }

    #[test]
    fn line_parsers_never_panic_and_are_deterministic(text in "\\PC{0,160}") {
        for prefixed in [
            text.clone(),
            format!("CEF:0|{text}"),
            format!("LEEF:2.0|{text}"),
            format!("<13>Jan 18 11:07:53 host CEF:{text}"),
            format!("<13>1 {text} LEEF:1.0|{text}"),
        ] {
            prop_assert_eq!(cef::parse(&prefixed), cef::parse(&prefixed));
            prop_assert_eq!(leef::parse(&prefixed), leef::parse(&prefixed));
            prop_assert_eq!(syslog::split(&prefixed), syslog::split(&prefixed));
            let payload = Value::String(prefixed.clone());
            for format in [SourceFormat::Cef, SourceFormat::Leef] {
                let first = normalise(format, &payload, "p", "h").map(|a| a.fingerprint());
                let second = normalise(format, &payload, "p", "h").map(|a| a.fingerprint());
                prop_assert_eq!(first, second);
            }
        }
    }

    #[test]
    fn leef_attributes_round_trip_with_any_delimiter(
        pairs in prop::collection::vec(("[a-z][a-zA-Z0-9]{0,8}", "[a-zA-Z0-9 .:/_-]{1,16}"), 1..10),
        delimiter in prop::sample::select(vec!['\t', '^', '|', '#', ';']),
    ) {
        let attributes = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(&delimiter.to_string());
        let code = format!("x{:02X}", u32::from(delimiter));
        let line = format!("LEEF:2.0|V|P|1|E|{code}|{attributes}");
        let event = leef::parse(&line).expect("parses");
        prop_assert_eq!(event.delimiter, delimiter);
        prop_assert_eq!(event.attributes, pairs, "line: {:?}", line);
    }
}
