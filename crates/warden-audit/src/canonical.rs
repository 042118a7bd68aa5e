//! Canonical JSON for hashing: object keys sorted by their UTF-16 code
//! units (as RFC 8785 orders them), no insignificant whitespace, strings
//! escaped by serde_json. Numbers are written as serde_json writes them;
//! audit events carry integers and short decimals only, so their text is
//! stable (full RFC 8785 number formatting arrives with the Merkle log).

use serde_json::Value;

/// `value` in canonical form.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*key).clone()).to_string());
                out.push(':');
                if let Some(item) = map.get(*key) {
                    write(item, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_keys_recursively_without_whitespace() {
        let value = serde_json::json!({"b": 1, "a": {"d": [true, null], "c": "x\n"}});
        assert_eq!(
            to_string(&value),
            r#"{"a":{"c":"x\n","d":[true,null]},"b":1}"#
        );
    }

    #[test]
    fn orders_by_utf16_code_units() {
        // U+1F600 (surrogate pair D83D..) sorts before U+FF21 in UTF-16,
        // after it in UTF-8 byte order.
        let value = serde_json::json!({"\u{FF21}": 1, "\u{1F600}": 2});
        assert_eq!(to_string(&value), "{\"\u{1F600}\":2,\"\u{FF21}\":1}");
    }
}
