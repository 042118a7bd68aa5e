//! What the format tests share: reading JSONL samples and listing an
//! alert's structured observables.

use serde_json::Value;
use warden_domain::{Alert, ObservableKind};

/// Each line of a JSONL sample, parsed.
pub fn jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).expect("sample line is JSON"))
        .collect()
}

/// The values of `alert`'s structured observables of `kind`, sorted.
pub fn values(alert: &Alert, kind: ObservableKind) -> Vec<String> {
    alert.structured(kind).map(|o| o.value.clone()).collect()
}
