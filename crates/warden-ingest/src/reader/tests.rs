use std::io::Write;

use super::*;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    let mut file = fs::File::create(&path).expect("create");
    file.write_all(bytes).expect("write");
    path
}

const GOOD: &str = r#"{"class_uid":2004,"time":1794904867512,"severity_id":3,"finding_info":{"title":"t","analytic":{"uid":"a1","name":"Rule A"}},"device":{"hostname":"h1"}}"#;

#[test]
fn jsonl_errors_name_file_and_line_and_keep_going() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = format!("{GOOD}\n{{not json\n\n[1,2]\n{GOOD}\n");
    let path = write(dir.path(), "a.jsonl", body.as_bytes());
    let report = read_paths(&[path], &ReadOptions::default());
    assert_eq!(report.alerts.len(), 2);
    assert_eq!(report.errors.len(), 2);
    let first = &report.errors[0];
    assert!(first.origin.ends_with("a.jsonl:2"), "{}", first.origin);
    assert!(
        first.reason.starts_with("malformed JSON at line 1 column"),
        "{}",
        first.reason
    );
    assert_eq!(first.payload, b"{not json");
    assert!(report.errors[1].origin.ends_with("a.jsonl:4"));
    assert!(
        report.errors[1].reason.contains("not an object"),
        "{}",
        report.errors[1].reason
    );
}

#[test]
fn oversize_deep_and_invalid_utf8_records_are_refused_with_reasons() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = Limits {
        max_alert_bytes: 300,
        max_depth: 10,
    };
    let big = format!(r#"{{"class_uid":2004,"pad":"{}"}}"#, "x".repeat(400));
    let deep = format!("{}{}", "[".repeat(50), "]".repeat(50));
    let mut utf8 = GOOD.as_bytes().to_vec();
    utf8.extend_from_slice(b"\n{\"a\":\"\xff\"}\n");
    let files = [
        write(dir.path(), "big.json", big.as_bytes()),
        write(dir.path(), "deep.json", deep.as_bytes()),
        write(dir.path(), "utf8.jsonl", &utf8),
    ];
    let report = read_paths(
        &files,
        &ReadOptions {
            limits,
            ..ReadOptions::default()
        },
    );
    let reasons: Vec<&str> = report.errors.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(report.alerts.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].contains("over the limit of 300 bytes"),
        "{reasons:?}"
    );
    assert_eq!(
        report.errors[0].payload.len(),
        301,
        "dead letter keeps limit+1 bytes"
    );
    assert!(reasons[1].contains("nested 50 levels"), "{reasons:?}");
    assert!(
        reasons[2].contains("invalid UTF-8 at byte 6"),
        "{reasons:?}"
    );
    assert!(report.errors[2].origin.ends_with("utf8.jsonl:2"));
}

#[test]
fn arrays_folders_and_unknown_formats() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "b.json",
        format!("[{GOOD}, {{\"hello\": 1}}]").as_bytes(),
    );
    write(
        dir.path(),
        "notes.txt",
        b"ignored: not an alert file extension",
    );
    fs::create_dir(dir.path().join("sub")).expect("mkdir");
    write(&dir.path().join("sub"), "c.json", GOOD.as_bytes());
    let report = read_paths(&[dir.path().to_path_buf()], &ReadOptions::default());
    assert_eq!(report.files, 2);
    assert_eq!(report.alerts.len(), 2);
    assert_eq!(report.errors.len(), 1);
    assert!(report.errors[0].origin.ends_with("b.json[1]"));
    assert!(report.errors[0].reason.contains("unknown alert format"));
}

#[test]
fn missing_file_is_an_error_not_a_panic() {
    let report = read_paths(
        &[PathBuf::from("/nonexistent/x.json")],
        &ReadOptions::default(),
    );
    assert_eq!(report.errors.len(), 1);
    assert!(report.errors[0].reason.starts_with("cannot read file"));
}

#[test]
fn raw_hash_is_of_the_exact_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "one.json", GOOD.as_bytes());
    let report = read_paths(&[path], &ReadOptions::default());
    assert_eq!(report.alerts[0].raw_sha256, sha256_hex(GOOD.as_bytes()));
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), "fuzz.jsonl", &bytes);
        let report = read_paths(&[path], &ReadOptions::default());
        // Every non-blank line is accounted for: an alert or an error.
        let lines = bytes.split(|b| *b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)).count();
        proptest::prop_assert_eq!(report.alerts.len() + report.errors.len(), lines);
    }
}

#[test]
fn api_response_envelopes_are_read_as_their_lists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let splunk = write(
        dir.path(),
        "splunk.json",
        format!(r#"{{"preview": false, "init_offset": 0, "results": [{GOOD}, {GOOD}]}}"#)
            .as_bytes(),
    );
    let elastic = write(
        dir.path(),
        "search.json",
        format!(r#"{{"took": 3, "hits": {{"total": {{"value": 1}}, "hits": [{GOOD}]}}}}"#)
            .as_bytes(),
    );
    // An empty list is not an envelope: the object is refused, not dropped.
    let empty = write(dir.path(), "empty.json", br#"{"results": []}"#);
    let report = read_paths(&[splunk, elastic, empty], &ReadOptions::default());
    assert_eq!(report.alerts.len(), 3);
    assert!(report.alerts[1].origin.ends_with("splunk.json[1]"));
    assert_eq!(report.errors.len(), 1);
    assert!(report.errors[0].origin.ends_with("empty.json"));
}

#[test]
fn every_vendor_sample_in_testdata_ingests() {
    use warden_domain::SourceFormat;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mappings = ["wazuh", "modsecurity", "azure-firewall"]
        .map(|name| {
            crate::Mapping::load(&repo.join(format!("examples/mappings/{name}.toml")))
                .expect("mapping")
        })
        .to_vec();
    let options = ReadOptions {
        formats: Formats::with_mappings(mappings).expect("formats"),
        ..ReadOptions::default()
    };
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let report = read_paths(std::slice::from_ref(&testdata), &options);
    // The one error is on purpose: an Azure Firewall connection log that is
    // no detection, refused by the worked mapping's rule-name regex.
    assert_eq!(report.errors.len(), 1, "{:#?}", report.errors);
    assert!(
        report.errors[0]
            .origin
            .ends_with("azure-firewall/network-rule.jsonl:4")
    );
    assert!(report.errors[0].reason.contains("fields.rule_name"));
    let count = |format| report.alerts.iter().filter(|a| a.format == format).count();
    assert_eq!(count(SourceFormat::Hayabusa), 4);
    assert_eq!(count(SourceFormat::Falcon), 2);
    assert_eq!(count(SourceFormat::Guardduty), 3);
    assert_eq!(count(SourceFormat::Mapped), 3 + 3 + 3);
    assert_eq!(count(SourceFormat::Cef), 1);
    assert_eq!(count(SourceFormat::Leef), 2);
    // Without the mappings, the mapped sources are refused (and kept), not
    // guessed at.
    let bare = read_paths(
        &["mapped", "modsecurity", "azure-firewall"].map(|dir| testdata.join(dir)),
        &ReadOptions::default(),
    );
    assert_eq!(bare.errors.len(), 3 + 3 + 4);
    assert!(
        bare.errors
            .iter()
            .all(|e| e.reason.starts_with("unknown alert format"))
    );
}

#[test]
fn nesting_depth_ignores_brackets_in_strings_and_escapes() {
    assert_eq!(nesting_depth(br#"[[[]]]"#), 3);
    assert_eq!(nesting_depth(br#"{"a":"[[[[\"]]]{{","b":[1]}"#), 2);
    assert_eq!(nesting_depth(br#"{"a":"\\","b":{"c":{}}}"#), 3);
    assert_eq!(nesting_depth(br#"{"a":"unterminated [[[["#), 1);
    assert_eq!(nesting_depth(b""), 0);
}
