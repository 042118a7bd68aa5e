//! Arbitrary bytes through a source read with a mapping file (the Wazuh
//! example in `examples/mappings/`): detected among the built-ins and the
//! mapping, then forced to the mapping as `--format wazuh` does. Must never
//! panic, and the forced read must be deterministic.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use warden_ingest::{FormatChoice, Formats, Mapping, ReadOptions, parse_record};

static OPTIONS: LazyLock<Option<(ReadOptions, ReadOptions)>> = LazyLock::new(|| {
    let text = include_str!("../../examples/mappings/wazuh.toml");
    let mapping = Mapping::parse(text, "examples/mappings/wazuh.toml").ok()?;
    let formats = Formats::with_mappings(vec![mapping]).ok()?;
    let forced = formats.choose("wazuh").ok()?;
    assert!(matches!(forced, FormatChoice::Mapped(_)));
    let detecting = ReadOptions {
        formats: formats.clone(),
        ..ReadOptions::default()
    };
    let forcing = ReadOptions {
        formats,
        forced: Some(forced),
        ..ReadOptions::default()
    };
    Some((detecting, forcing))
});

fuzz_target!(|data: &[u8]| {
    let Some((detecting, forcing)) = OPTIONS.as_ref() else {
        panic!("the example Wazuh mapping does not load");
    };
    let _ = parse_record("fuzz", data, detecting);
    let first = parse_record("fuzz", data, forcing);
    let second = parse_record("fuzz", data, forcing);
    match (first, second) {
        (Ok(mut a), Ok(b)) => {
            a.id = b.id;
            assert_eq!(a, b, "reading through the mapping is not deterministic");
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "reading through the mapping fails differently"),
        (a, b) => panic!("reading through the mapping twice differs: {a:?} vs {b:?}"),
    }
});
