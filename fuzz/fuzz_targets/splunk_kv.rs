//! Arbitrary text through the Splunk notable `_raw` key=value reader. Must
//! never panic and must give the same pairs twice.

#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_ingest::formats::splunk::kv;

fuzz_target!(|text: &str| {
    let pairs = kv::parse(text);
    assert_eq!(pairs, kv::parse(text), "kv::parse is not deterministic");
});
