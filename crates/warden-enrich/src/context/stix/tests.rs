#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use time::macros::datetime;

use super::pattern::{
    Comparison, Harvest, Literal, ObjectPath, Observation, Operator, Qualifier, Step, harvest,
    parse,
};
use super::*;
use crate::context::records::IndicatorType;

const ACME: &str = include_str!("testdata/acme-cti.json");
const NOW: OffsetDateTime = datetime!(2025-06-01 00:00 UTC);

fn values(pattern: &str) -> Vec<(IndicatorType, String)> {
    harvest(&parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"))).values
}

fn passed_over(pattern: &str) -> Vec<String> {
    harvest(&parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"))).passed_over
}

fn parse_error(pattern: &str) -> String {
    match parse(pattern) {
        Ok(parsed) => panic!("{pattern} parsed: {parsed:?}"),
        Err(err) => err.to_string(),
    }
}

fn path(object_type: &str, steps: &[&str]) -> ObjectPath {
    ObjectPath {
        object_type: object_type.into(),
        steps: steps.iter().map(|s| Step::Property((*s).into())).collect(),
    }
}

// --- the parser -------------------------------------------------------------

#[test]
fn one_equality_parses_to_one_test() {
    assert_eq!(
        parse("[ipv4-addr:value = '198.51.100.1']"),
        Ok(Observation::Match(Comparison::Test {
            path: path("ipv4-addr", &["value"]),
            negated: false,
            op: Operator::Eq,
            value: Literal::String("198.51.100.1".into()),
        }))
    );
}

#[test]
fn quoted_path_steps_and_escapes_are_read() {
    let parsed = parse(r"[file:hashes.'SHA-256' = 'it\'s a \\ path']").expect("parses");
    let Observation::Match(Comparison::Test { path, value, .. }) = parsed else {
        panic!("{parsed:?}");
    };
    assert_eq!(path, self::path("file", &["hashes", "SHA-256"]));
    assert_eq!(path.to_string(), "file:hashes.'SHA-256'");
    assert_eq!(value, Literal::String(r"it's a \ path".into()));
}

#[test]
fn and_binds_tighter_than_or_in_both_levels() {
    let parsed = parse("[a:x = 1 OR a:y = 2 AND a:z = 3]").expect("parses");
    let Observation::Match(Comparison::Or(all)) = parsed else {
        panic!("{parsed:?}");
    };
    assert_eq!(all.len(), 2);
    assert!(matches!(&all[1], Comparison::And(and) if and.len() == 2));

    let parsed =
        parse("[a:x = 1] OR [a:y = 2] AND [a:z = 3] FOLLOWEDBY [a:w = 4]").expect("parses");
    let Observation::FollowedBy(all) = parsed else {
        panic!("{parsed:?}");
    };
    let Observation::Or(or) = &all[0] else {
        panic!("{all:?}");
    };
    assert!(matches!(&or[1], Observation::And(and) if and.len() == 2));
}

#[test]
fn the_whole_grammar_parses() {
    for pattern in [
        "[file:size > 1024 AND file:size <= 4096.5]",
        "[file:name NOT = 'a.exe' AND file:name != 'b.exe' AND file:name <> 'c.exe']",
        "[process:pid IN (1, 2, 3) AND process:name NOT IN ('a', 'b')]",
        "[file:name LIKE '%.exe' AND file:name MATCHES '^inv.*' ]",
        "[ipv4-addr:value ISSUBSET '10.0.0.0/8'] OR [ipv4-addr:value ISSUPERSET '10.1.1.0/24']",
        "[EXISTS windows-registry-key:values[*].name]",
        "[network-traffic:extensions.'http-request-ext'.request_header.'Accept-Encoding' = 'gzip']",
        "[email-message:to_refs[0].value = 'a@b.example']",
        "[file:created = t'2025-01-01T00:00:00Z' AND file:contents = b'aGVsbG8=' AND file:magic = h'4d5a']",
        "[x-custom:flag = true AND x-custom:other = false]",
        "([a:x = 1] AND [a:y = 2]) WITHIN 60 SECONDS",
        "[a:x = 1] REPEATS 5 TIMES",
        "[a:x = 1] START t'2025-01-01T00:00:00Z' STOP t'2025-02-01T00:00:00Z'",
        "[a:x = 1] WITHIN 1.5 SECONDS REPEATS 2 TIMES",
        "[file:name LIKE'%.exe']",
        "[ ( a:x = 1 OR a:y = 2 ) AND a:z = -3 ]",
        "[a:x = 1] or [a:y = 2] and [a:z = 3]",
    ] {
        if let Err(err) = parse(pattern) {
            panic!("{pattern}: {err}");
        }
    }
}

#[test]
fn bad_patterns_say_where_and_what() {
    assert_eq!(parse_error(""), "at offset 0: pattern is empty");
    assert_eq!(
        parse_error("[a:x = 'open"),
        "at offset 7: string is not closed"
    );
    assert_eq!(
        parse_error(r"[a:x = 'bad \n escape']"),
        r"at offset 12: unknown escape \n in string"
    );
    assert_eq!(
        parse_error("[a:x = 1"),
        "at offset 8: expected ']', found the end"
    );
    assert_eq!(
        parse_error("[a:x = 1] [a:y = 2]"),
        "at offset 10: unexpected '['"
    );
    assert_eq!(
        parse_error("a:x = 1"),
        "at offset 0: expected '[' or '(', found \"a\""
    );
    assert_eq!(
        parse_error("[a:x LIKE 5]"),
        "at offset 10: this kind of value cannot follow LIKE"
    );
    assert_eq!(
        parse_error("[a:x = t'yesterday']"),
        "at offset 7: timestamp \"yesterday\" is not RFC 3339"
    );
    assert_eq!(
        parse_error("[a:x = 1] WITHIN 0 SECONDS"),
        "at offset 17: WITHIN needs a positive number of seconds"
    );
    assert_eq!(
        parse_error("[a:x = 1] REPEATS 2"),
        "at offset 19: expected TIMES, found the end"
    );
    assert_eq!(
        parse_error("[a:x ~ 1]"),
        "at offset 5: unexpected character '~'"
    );
    assert_eq!(
        parse_error("[a:x = 99999999999999999999]"),
        "at offset 7: \"99999999999999999999\" is out of range"
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!("{}[a:x = 1]{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(parse_error(&deep).contains("nested too deeply"));
    let deep = format!("[{}a:x = 1{}]", "(".repeat(10_000), ")".repeat(10_000));
    assert!(parse_error(&deep).contains("nested too deeply"));
    let fine = format!("{}[a:x = 1]{}", "(".repeat(20), ")".repeat(20));
    assert!(parse(&fine).is_ok());
}

#[test]
fn long_chains_stay_flat() {
    let many: Vec<String> = (0..50_000)
        .map(|i| format!("[ipv4-addr:value = '10.0.{}.{}']", i / 256 % 256, i % 256))
        .collect();
    let found = values(&many.join(" OR "));
    assert_eq!(found.len(), 50_000 / 256 * 256 + 50_000 % 256);
    let inner: Vec<String> = (0..50_000)
        .map(|i| format!("url:value = 'http://a.example/{i}'"))
        .collect();
    assert_eq!(values(&format!("[{}]", inner.join(" AND "))).len(), 50_000);
    let qualified = format!("[a:x = 1]{}", " REPEATS 2 TIMES".repeat(50_000));
    assert_eq!(passed_over(&qualified), vec!["qualifier REPEATS"]);
    let ranges: Vec<String> = (0..1000)
        .map(|i| format!("[ipv4-addr:value = '10.{}.{}.0/24']", i / 256, i % 256))
        .collect();
    let found = harvest(&parse(&ranges.join(" OR ")).expect("parses"));
    assert_eq!((found.passed_over.len(), found.more), (5, 995));
}

#[test]
fn qualifiers_are_kept() {
    let parsed = parse("[a:x = 1] WITHIN 300 SECONDS REPEATS 2 TIMES").expect("parses");
    let Observation::Qualified(_, qualifiers) = parsed else {
        panic!("{parsed:?}");
    };
    assert_eq!(
        qualifiers,
        vec![Qualifier::Within("300".into()), Qualifier::Repeats(2)]
    );
}

// --- harvesting -------------------------------------------------------------

#[test]
fn equalities_on_known_properties_are_harvested() {
    assert_eq!(
        values(
            "[ipv4-addr:value = '198.51.100.1'] OR [ipv6-addr:value = '2001:DB8:0:0::1'] \
             OR [domain-name:value = 'Evil.Example.'] OR [url:value = 'https://evil.example/a?b=1'] \
             OR [email-addr:value = 'ceo@evil.example']"
        ),
        vec![
            (IndicatorType::Ip, "198.51.100.1".into()),
            (IndicatorType::Ip, "2001:db8::1".into()),
            (IndicatorType::Domain, "evil.example".into()),
            (IndicatorType::Url, "https://evil.example/a?b=1".into()),
            (IndicatorType::Email, "ceo@evil.example".into()),
        ]
    );
}

#[test]
fn hash_names_are_matched_in_every_spelling() {
    let sha256 = "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c";
    let sha1 = "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12";
    let md5 = "3773a88f65a5e780c8dff9cdc3a056f3";
    for (name, value, kind) in [
        ("'SHA-256'", sha256, IndicatorType::Sha256),
        ("SHA256", sha256, IndicatorType::Sha256),
        ("'sha-256'", sha256, IndicatorType::Sha256),
        ("'SHA-1'", sha1, IndicatorType::Sha1),
        ("sha1", sha1, IndicatorType::Sha1),
        ("MD5", md5, IndicatorType::Md5),
        ("'md5'", md5, IndicatorType::Md5),
    ] {
        let pattern = format!("[file:hashes.{name} = '{}']", value.to_uppercase());
        assert_eq!(
            values(&pattern),
            vec![(kind, value.to_owned())],
            "{pattern}"
        );
    }
    assert_eq!(
        passed_over(&format!("[file:hashes.'SHA-256' = '{md5}']")),
        vec![format!(
            "file:hashes.'SHA-256' '{md5}' is not a valid SHA-256 hash"
        )]
    );
    assert_eq!(
        passed_over(&format!("[file:hashes.'SHA-512' = '{sha256}']")),
        vec!["file:hashes.'SHA-512' is not matched".to_owned()]
    );
}

#[test]
fn single_address_networks_are_addresses_and_ranges_are_not() {
    assert_eq!(
        values("[ipv4-addr:value = '198.51.100.7/32' OR ipv6-addr:value = '2001:db8::7/128']"),
        vec![
            (IndicatorType::Ip, "198.51.100.7".into()),
            (IndicatorType::Ip, "2001:db8::7".into()),
        ]
    );
    let Harvest {
        values,
        passed_over,
        ..
    } = harvest(
        &parse("[ipv4-addr:value = '203.0.113.0/24' OR ipv4-addr:value = '2001:db8::1']")
            .expect("parses"),
    );
    assert!(values.is_empty());
    assert_eq!(
        passed_over,
        vec![
            "ipv4-addr:value '203.0.113.0/24' is a network range".to_owned(),
            "ipv4-addr:value '2001:db8::1' is not an IPv4 address".to_owned(),
        ]
    );
}

#[test]
fn long_values_are_cut_short_in_notes() {
    let long = "x".repeat(500);
    assert_eq!(
        passed_over(&format!("[domain-name:value = '{long} y']")),
        vec![format!(
            "domain-name:value '{}...' is not a domain name",
            "x".repeat(80)
        )]
    );
}

#[test]
fn only_plain_equality_is_harvested() {
    assert!(values("[domain-name:value != 'a.example']").is_empty());
    assert!(values("[domain-name:value NOT = 'a.example']").is_empty());
    assert!(values("[domain-name:value LIKE '%.example']").is_empty());
    assert!(values("[domain-name:value IN ('a.example', 'b.example')]").is_empty());
    assert!(values("[domain-name:value = 5]").is_empty());
    assert!(values("[file:name = 'a.example']").is_empty());
    assert_eq!(
        passed_over("[domain-name:value NOT = 'a.example' OR url:value MATCHES '^x']"),
        vec!["domain-name:value NOT =", "url:value MATCHES"]
    );
}

#[test]
fn comparisons_joined_by_and_inside_one_observation_are_harvested() {
    assert_eq!(
        values("[url:value = 'http://a.example/x' AND url:value LIKE '%x']"),
        vec![(IndicatorType::Url, "http://a.example/x".into())]
    );
}

#[test]
fn observations_joined_by_and_or_followedby_or_qualified_are_not_harvested() {
    for (pattern, why) in [
        (
            "[ipv4-addr:value = '198.51.100.1'] AND [domain-name:value = 'a.example']",
            "observations joined by AND",
        ),
        (
            "[ipv4-addr:value = '198.51.100.1'] FOLLOWEDBY [domain-name:value = 'a.example']",
            "observations joined by FOLLOWEDBY",
        ),
        (
            "[ipv4-addr:value = '198.51.100.1'] REPEATS 3 TIMES",
            "qualifier REPEATS",
        ),
        (
            "[ipv4-addr:value = '198.51.100.1'] START t'2025-01-01T00:00:00Z' STOP t'2025-01-02T00:00:00Z'",
            "qualifier START/STOP",
        ),
    ] {
        assert!(values(pattern).is_empty(), "{pattern}");
        assert_eq!(passed_over(pattern), vec![why.to_owned()], "{pattern}");
    }
    // An OR of observations is walked; a qualified one among them is not.
    assert_eq!(
        values(
            "[url:value = 'http://a.example/'] OR ([domain-name:value = 'b.example'] WITHIN 5 SECONDS)"
        ),
        vec![(IndicatorType::Url, "http://a.example/".into())]
    );
}

#[test]
fn repeated_values_are_harvested_once() {
    assert_eq!(
        values("[domain-name:value = 'a.example'] OR [domain-name:value = 'A.EXAMPLE.']"),
        vec![(IndicatorType::Domain, "a.example".into())]
    );
}

proptest! {
    #[test]
    fn the_parser_never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
        if let Ok(parsed) = parse(&text) {
            let _ = harvest(&parsed);
        }
    }

    #[test]
    fn the_parser_never_panics_on_pattern_like_text(
        text in proptest::collection::vec(
            prop_oneof![
                Just("["), Just("]"), Just("("), Just(")"), Just(" AND "), Just(" OR "),
                Just(" FOLLOWEDBY "), Just(" NOT "), Just("="), Just("!="), Just("<="), Just(">"),
                Just("ipv4-addr:value"), Just("file:hashes.'SHA-256'"), Just("a:b[*].c"),
                Just("'198.51.100.1'"), Just("'x\\'y'"), Just("'\\"), Just("'"), Just("t'"),
                Just("1"), Just("-2.5"), Just(" WITHIN 5 SECONDS"), Just(" REPEATS "), Just(","),
                Just(" IN "), Just("EXISTS "), Just("h'0a'"), Just("b'=='"), Just(":"), Just("."),
            ],
            0..40,
        )
    ) {
        let text = text.concat();
        if let Ok(parsed) = parse(&text) {
            let _ = harvest(&parsed);
        }
    }

    /// A well-formed single-equality pattern on an address always yields that address.
    #[test]
    fn any_ipv4_equality_is_harvested(a: u8, b: u8, c: u8, d: u8) {
        let address = format!("{a}.{b}.{c}.{d}");
        let found = values(&format!("[ipv4-addr:value = '{address}']"));
        prop_assert_eq!(found, vec![(IndicatorType::Ip, address)]);
    }
}

// --- bundles ----------------------------------------------------------------

#[test]
fn a_realistic_bundle_yields_its_matchable_indicators() {
    let bundle = parse_bundle(ACME.as_bytes(), "acme-cti.json", NOW).expect("parses");
    let got: Vec<(IndicatorType, &str, IntelVerdict, &str, u8)> = bundle
        .records
        .iter()
        .map(|r| {
            (
                r.indicator_type,
                r.indicator.as_str(),
                r.verdict,
                r.source.as_str(),
                r.confidence,
            )
        })
        .collect();
    let sha256 = "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c";
    assert_eq!(
        got,
        vec![
            (
                IndicatorType::Url,
                "http://x4z9arb.cn/4712/",
                IntelVerdict::Malicious,
                "ACME CTI",
                85
            ),
            (
                IndicatorType::Sha256,
                sha256,
                IntelVerdict::Malicious,
                "ACME CTI",
                90
            ),
            (
                IndicatorType::Md5,
                "3773a88f65a5e780c8dff9cdc3a056f3",
                IntelVerdict::Malicious,
                "ACME CTI",
                90
            ),
            (
                IndicatorType::Ip,
                "198.51.100.3",
                IntelVerdict::Suspicious,
                "ACME CTI",
                50
            ),
            (
                IndicatorType::Ip,
                "2001:db8::53",
                IntelVerdict::Suspicious,
                "ACME CTI",
                50
            ),
            (
                IndicatorType::Domain,
                "update.vendor.example",
                IntelVerdict::Benign,
                "STIX acme-cti.json",
                70
            ),
        ]
    );
    assert_eq!(
        bundle.records[0].tags,
        vec!["downloader", "malicious-activity", "stix"]
    );
    assert_eq!(
        bundle.records[1].tags,
        vec!["malicious-activity", "attribution", "stix"]
    );
    assert_eq!(
        bundle.skipped,
        vec![
            "indicator--b5a1a3f2-2d1b-4a5c-8f44-3c1a1c9b1f01: revoked",
            "indicator--c7f3d2e1-8a9b-4c0d-9e1f-2a3b4c5d6e7f: expired (valid_until 2024-07-01T00:00:00Z)",
            "indicator--d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6: pattern_type \"sigma\" is not read (only \"stix\")",
            "indicator--e0f1a2b3-c4d5-4e6f-8a9b-0c1d2e3f4a5b: nothing in the pattern can be matched (observations joined by FOLLOWEDBY)",
        ]
    );
}

#[test]
fn the_same_bundle_read_later_has_expired_more() {
    let later = datetime!(2026-04-01 00:00 UTC);
    let bundle = parse_bundle(ACME.as_bytes(), "acme-cti.json", later).expect("parses");
    assert!(
        !bundle
            .records
            .iter()
            .any(|r| r.indicator_type == IndicatorType::Sha256)
    );
    assert!(bundle.skipped.iter().any(|s| s.starts_with(
        "indicator--a932fcc6-e032-476c-826f-cb970a5a1ade: expired (valid_until 2026-03-02T10:00:00Z)"
    )));
    let earlier = datetime!(2025-03-01 00:00 UTC);
    let bundle = parse_bundle(ACME.as_bytes(), "acme-cti.json", earlier).expect("parses");
    assert!(
        bundle
            .skipped
            .iter()
            .any(|s| s.ends_with("not valid yet (valid_from 2025-03-01T09:12:44.000Z)"))
    );
}

fn indicator(extra: &str) -> String {
    format!(
        r#"{{"type": "bundle", "id": "bundle--1", "objects": [{{
            "type": "indicator", "spec_version": "2.1", "id": "indicator--1",
            "created": "2025-01-01T00:00:00Z", "modified": "2025-01-01T00:00:00Z",
            "pattern": "[domain-name:value = 'a.example']", "pattern_type": "stix",
            "valid_from": "2025-01-01T00:00:00Z"{extra}}}]}}"#
    )
}

#[test]
fn verdicts_follow_indicator_types() {
    for (types, verdict) in [
        ("[]", IntelVerdict::Malicious),
        (r#"["malicious-activity"]"#, IntelVerdict::Malicious),
        (r#"["compromised"]"#, IntelVerdict::Malicious),
        (r#"["attribution"]"#, IntelVerdict::Malicious),
        (r#"["unknown"]"#, IntelVerdict::Suspicious),
        (
            r#"["anomalous-activity", "unknown"]"#,
            IntelVerdict::Suspicious,
        ),
        (
            r#"["anomalous-activity", "attribution"]"#,
            IntelVerdict::Malicious,
        ),
        (r#"["benign", "malicious-activity"]"#, IntelVerdict::Benign),
    ] {
        let text = indicator(&format!(r#", "indicator_types": {types}"#));
        let bundle = parse_bundle(text.as_bytes(), "t.json", NOW).expect("parses");
        assert_eq!(bundle.records[0].verdict, verdict, "{types}");
    }
}

#[test]
fn malformed_bundles_are_errors_that_say_what() {
    for (text, want) in [
        (
            "{",
            "not JSON: EOF while parsing an object at line 1 column 1",
        ),
        (
            "[]",
            "not a STIX bundle (the top level must be an object with \"type\": \"bundle\")",
        ),
        (
            r#"{"type": "indicator", "id": "indicator--1"}"#,
            "not a STIX bundle (the top level must be an object with \"type\": \"bundle\")",
        ),
        (
            r#"{"type": "bundle", "objects": {}}"#,
            "`objects` is not a list",
        ),
        (
            r#"{"type": "bundle", "objects": [{"id": "x"}]}"#,
            "objects[0] has no `type`",
        ),
    ] {
        assert_eq!(
            parse_bundle(text.as_bytes(), "t.json", NOW).map(|b| b.records),
            Err(want.to_owned()),
            "{text}"
        );
    }
    let missing =
        indicator("").replace(r#""valid_from": "2025-01-01T00:00:00Z""#, r#""name": "x""#);
    assert_eq!(
        parse_bundle(missing.as_bytes(), "t.json", NOW).map(|b| b.records),
        Err("objects[0] (indicator--1): missing field `valid_from`".to_owned())
    );
    let stix20 = indicator("").replace(r#""pattern_type": "stix","#, "");
    assert_eq!(
        parse_bundle(stix20.as_bytes(), "t.json", NOW).map(|b| b.records),
        Err("objects[0] (indicator--1): missing field `pattern_type` \
             (STIX 2.1 requires it; is this a STIX 2.0 bundle?)"
            .to_owned())
    );
    assert_eq!(
        parse_bundle(
            indicator(r#", "confidence": 101"#).as_bytes(),
            "t.json",
            NOW
        )
        .map(|b| b.records),
        Err("objects[0] (indicator--1): confidence 101 is over 100".to_owned())
    );
    assert_eq!(
        parse_bundle(
            indicator(r#", "valid_until": "soon""#).as_bytes(),
            "t.json",
            NOW
        )
        .map(|b| b.records),
        Err("objects[0] (indicator--1): valid_until \"soon\" is not an RFC 3339 time".to_owned())
    );
}

#[test]
fn an_empty_bundle_is_an_empty_source() {
    let bundle =
        parse_bundle(br#"{"type": "bundle", "id": "bundle--1"}"#, "t.json", NOW).expect("parses");
    assert!(bundle.records.is_empty() && bundle.skipped.is_empty());
}

#[test]
fn a_pattern_that_does_not_parse_skips_only_its_indicator() {
    let text = indicator("").replace(
        "[domain-name:value = 'a.example']",
        "[domain-name:value = 'a.example'",
    );
    let bundle = parse_bundle(text.as_bytes(), "t.json", NOW).expect("parses");
    assert_eq!(
        bundle.skipped,
        vec!["indicator--1: pattern does not parse: at offset 32: expected ']', found the end"]
    );
}
