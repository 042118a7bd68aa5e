//! Arbitrary text through the observable extractor. Must never panic, and
//! everything it returns must carry `Provenance::Text` for the field it was
//! given: an observable found by pattern in untrusted text must never claim
//! to come from a structured field (invariant S2).

#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_domain::{Provenance, Untrusted};
use warden_ingest::extract::from_text;

fuzz_target!(|text: &str| {
    for observable in from_text("field", &Untrusted::new(text)) {
        assert!(
            !observable.provenance.is_empty()
                && observable
                    .provenance
                    .iter()
                    .all(|p| matches!(p, Provenance::Text { field } if field == "field")),
            "extracted observable without text provenance: {observable:?}"
        );
        assert!(!observable.is_structured(), "{observable:?}");
    }
});
