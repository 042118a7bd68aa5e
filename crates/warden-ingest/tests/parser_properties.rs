//! Property tests for the text parsers that see attacker-controlled input:
//! the Splunk `_raw` key=value reader and the observable extractor. These
//! are the stable twins of the `splunk_kv` and `extract_text` fuzz targets
//! in `fuzz/` (see docs/operations.md, "Fuzzing"); CI runs them with the
//! rest of `cargo test --workspace`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "integration tests fail by panicking"
)]

use std::net::Ipv4Addr;

use proptest::prelude::*;
use warden_domain::{IpClass, Observable, ObservableKind, Provenance, Untrusted};
use warden_ingest::extract;
use warden_ingest::formats::splunk::kv;

/// A key as Splunk's CIM writes them (`src`, `orig_tag`,
/// `annotations.mitre_attack.mitre_technique_id`), from a small set so that
/// keys repeat.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["src", "dest", "user", "orig_tag", "count"])
            .prop_map(str::to_owned),
        "[a-z_][a-z0-9_.]{0,15}",
    ]
}

/// A value and how it is written: quoted (any text, with `"` and `\`
/// escaped) or bare (no spaces, commas or quotes).
fn value() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        "\\PC{0,24}".prop_map(|v| {
            let escaped = v.replace('\\', "\\\\").replace('"', "\\\"");
            (v, format!("\"{escaped}\""))
        }),
        "[A-Za-z0-9._:/@-]{0,16}".prop_map(|v| (v.clone(), v)),
    ]
}

/// Whether every observable came from the text field `field` only.
fn only_from_text(observable: &Observable, field: &str) -> bool {
    !observable.provenance.is_empty()
        && observable
            .provenance
            .iter()
            .all(|p| matches!(p, Provenance::Text { field: f } if f == field))
}

proptest! {
    #[test]
    fn kv_parse_never_panics_and_is_deterministic(text in "\\PC{0,200}") {
        let first = kv::parse(&text);
        prop_assert_eq!(first, kv::parse(&text));
    }

    #[test]
    fn kv_parse_never_panics_on_kv_shaped_noise(text in r#"[a-z=", \\\t\n]{0,200}"#) {
        let first = kv::parse(&text);
        prop_assert_eq!(first, kv::parse(&text));
    }

    #[test]
    fn kv_parse_round_trips_generated_pairs(
        pairs in prop::collection::vec((key(), value()), 0..24),
        timestamp in prop::option::of(1_000_000_000u64..2_000_000_000),
        separator in prop::sample::select(vec![", ", ",", " , ", ",\n"]),
    ) {
        let mut written: Vec<String> = timestamp.map(|t| t.to_string()).into_iter().collect();
        let mut expected = kv::Pairs::new();
        for (key, (value, encoded)) in &pairs {
            written.push(format!("{key}={encoded}"));
            expected.entry(key.clone()).or_default().push(value.clone());
        }
        let text = written.join(separator);
        prop_assert_eq!(kv::parse(&text), expected, "raw: {}", text);
    }

    #[test]
    fn extract_never_panics_and_marks_everything_as_text(text in "\\PC{0,300}") {
        let found = extract::from_text("message", &Untrusted::new(text));
        for observable in &found {
            prop_assert!(only_from_text(observable, "message"), "{:?}", observable);
            prop_assert!(!observable.is_structured());
        }
    }

    #[test]
    fn extract_on_indicator_shaped_noise_marks_everything_as_text(
        text in "[a-f0-9.:/@ htps]{0,300}",
    ) {
        let found = extract::from_text("cmd", &Untrusted::new(text));
        prop_assert!(found.iter().all(|o| only_from_text(o, "cmd")), "{:?}", found);
    }

    /// Every host address standing alone in text is found; addresses that
    /// name no host (`0.0.0.0`, multicast, broadcast) never are.
    #[test]
    fn extract_finds_an_embedded_ipv4_address(
        before in "\\PC{0,60}",
        ip in any::<Ipv4Addr>(),
        after in "\\PC{0,60}",
    ) {
        let text = format!("{before} {ip} {after}");
        let found = extract::from_text("message", &Untrusted::new(text.clone()));
        let wanted = ip.to_string();
        let is_found = found.iter().any(|o| o.kind == ObservableKind::Ip && o.value == wanted);
        if IpClass::of(ip.into()).is_host() {
            prop_assert!(is_found, "{} not found in {:?}: {:?}", wanted, text, found);
        } else {
            prop_assert!(!is_found, "{} found in {:?}", wanted, text);
        }
        prop_assert!(found.iter().all(|o| only_from_text(o, "message")));
    }

    /// Issue 23: a product's version after a slash is never an address,
    /// whatever surrounds it (`Chrome/111.0.0.0`).
    #[test]
    fn a_version_after_a_slash_is_never_an_address(
        before in "\\PC{0,40}",
        product in "[A-Za-z]{1,12}",
        version in any::<Ipv4Addr>(),
        after in "[ ;)]\\PC{0,40}",
    ) {
        let text = format!("{before} {product}/{version}{after}");
        let found = extract::from_text("http.user_agent", &Untrusted::new(text.clone()));
        let version = version.to_string();
        let taken = found.iter().any(|o| o.kind == ObservableKind::Ip && o.value == version);
        let elsewhere = before.contains(&version) || after.contains(&version);
        prop_assert!(!taken || elsewhere, "{} taken from {:?}", version, text);
    }

    /// Issue 23: a hex string is a hash only where a label says so; a
    /// session cookie's value never is.
    #[test]
    fn unlabelled_hex_is_never_a_hash(
        name in "[A-Za-z_]{1,16}",
        hex in prop::sample::select(vec![32usize, 40, 64]).prop_flat_map(|n| proptest::string::string_regex(&format!("[0-9a-f]{{{n}}}")).expect("regex")),
    ) {
        prop_assume!(!["md5", "sha1", "sha256", "sha384", "sha512", "hash", "hashes", "filehash", "file_hash", "digest", "checksum", "md5sum", "sha1sum", "sha256sum"].contains(&name.to_ascii_lowercase().as_str()));
        prop_assume!(!name.to_ascii_lowercase().ends_with("_hash"));
        let cookie = format!("Cookie: {name}={hex}; theme=dark");
        let found = extract::from_text("http.cookie", &Untrusted::new(cookie));
        prop_assert!(found.iter().all(|o| o.kind != ObservableKind::FileHash), "{:?}", found);
        let labelled = format!("dropped {name}.exe SHA256: {hex}");
        let found = extract::from_text("message", &Untrusted::new(labelled));
        prop_assert!(found.iter().any(|o| o.kind == ObservableKind::FileHash && o.value == hex));
    }
}
