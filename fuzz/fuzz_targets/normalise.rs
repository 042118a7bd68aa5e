//! Any JSON through any format's normaliser: the first byte picks the format
//! (forcing it, as `--format` does), the rest is the payload. Must never
//! panic, and normalising the same payload twice gives the same alert (apart
//! from its fresh id) or the same error.

#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_domain::SourceFormat;
use warden_ingest::formats::normalise;

fuzz_target!(|data: &[u8]| {
    let Some((selector, payload)) = data.split_first() else {
        return;
    };
    let formats = SourceFormat::ALL;
    let Some(&format) = formats.get(usize::from(*selector) % formats.len()) else {
        return;
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(payload) else {
        return;
    };
    let first = normalise(format, &value, "fuzz", "hash");
    let second = normalise(format, &value, "fuzz", "hash");
    match (first, second) {
        (Ok(mut a), Ok(b)) => {
            a.id = b.id;
            assert_eq!(a, b, "normalising {format} is not deterministic");
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "normalising {format} fails differently"),
        (a, b) => panic!("normalising {format} twice differs: {a:?} vs {b:?}"),
    }
});
