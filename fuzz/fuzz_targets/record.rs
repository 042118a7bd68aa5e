//! Arbitrary bytes through the auto-detect path of one record: UTF-8, size
//! and depth checks, JSON parse, format detection, normalisation. Must never
//! panic, whatever the bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_ingest::{ReadOptions, parse_record};

fuzz_target!(|data: &[u8]| {
    let _ = parse_record("fuzz", data, &ReadOptions::default());
});
