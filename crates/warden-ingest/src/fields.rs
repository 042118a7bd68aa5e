//! Tolerant JSON field lookups.
//!
//! Vendors mix nesting styles: Elastic alerts hold `"kibana.alert.rule.name"`
//! as one flat key beside nested `host: {name}` objects, and es_archive or
//! API exports may nest either. [`lookup`] finds `a.b.c` whichever way the
//! path was split.

use serde_json::Value;

/// The value at a dotted `path`, trying at every level both a flat key made
/// of the remaining segments and a nested object.
pub fn lookup<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    let object = value.as_object()?;
    // The rest of the path as one flat key first ("kibana.alert.rule.name"),
    // then ever shorter heads ("kibana.alert.rule", ..., "kibana") with the
    // remainder looked up inside. Heads are slices of `path`: no allocation.
    if let Some(found) = object.get(path) {
        return Some(found);
    }
    for (dot, _) in path.rmatch_indices('.') {
        let (Some(head), Some(rest)) = (path.get(..dot), path.get(dot + 1..)) else {
            continue;
        };
        if let Some(child) = object.get(head)
            && let Some(found) = lookup(child, rest)
        {
            return Some(found);
        }
    }
    None
}

/// A non-empty string at `path` (numbers are rendered as text).
pub fn string(value: &Value, path: &str) -> Option<String> {
    match lookup(value, path)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Every non-empty string at `path`: a single string, or each string of an
/// array.
pub fn strings(value: &Value, path: &str) -> Vec<String> {
    match lookup(value, path) {
        Some(Value::String(s)) if !s.trim().is_empty() => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| item.as_str())
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// A number at `path`, also accepting a numeric string.
pub fn number(value: &Value, path: &str) -> Option<f64> {
    match lookup(value, path)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The array at `path`, or an empty slice.
pub fn array<'v>(value: &'v Value, path: &str) -> &'v [Value] {
    lookup(value, path)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_flat_nested_and_mixed_paths() {
        let doc = json!({
            "kibana.alert.rule.name": "flat",
            "host": {"name": "nested"},
            "kibana": {"alert": {"severity": "high"}},
            "process.parent": {"name": "mixed"},
        });
        assert_eq!(
            string(&doc, "kibana.alert.rule.name").as_deref(),
            Some("flat")
        );
        assert_eq!(string(&doc, "host.name").as_deref(), Some("nested"));
        assert_eq!(
            string(&doc, "kibana.alert.severity").as_deref(),
            Some("high")
        );
        assert_eq!(
            string(&doc, "process.parent.name").as_deref(),
            Some("mixed")
        );
        assert_eq!(string(&doc, "host.ip"), None);
    }

    #[test]
    fn strings_accepts_one_or_many() {
        let doc = json!({"a": "x", "b": ["y", "", 3, "z"]});
        assert_eq!(strings(&doc, "a"), vec!["x"]);
        assert_eq!(strings(&doc, "b"), vec!["y", "z"]);
    }
}
