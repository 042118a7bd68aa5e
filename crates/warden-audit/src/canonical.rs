//! Canonical JSON (RFC 8785, JCS) for hashing: object keys sorted by their
//! UTF-16 code units, no insignificant whitespace, strings escaped as
//! serde_json escapes them (which is what RFC 8785 asks: the short escapes,
//! `\u00xx` for other control characters, everything else literal), and
//! numbers written as ECMAScript writes a double.

use serde_json::{Number, Value};

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
        Value::Number(number) => write_number(number, out),
        other => out.push_str(&other.to_string()),
    }
}

/// Integers that a double holds exactly keep their digits; everything else
/// is the shortest ECMAScript form of the double (`1e+30`, `0.002`, `4.5`).
fn write_number(number: &Number, out: &mut String) {
    const EXACT: u64 = 1 << 53;
    if let Some(n) = number.as_u64().filter(|n| *n <= EXACT) {
        out.push_str(&n.to_string());
    } else if let Some(n) = number.as_i64().filter(|n| n.unsigned_abs() <= EXACT) {
        out.push_str(&n.to_string());
    } else if let Some(f) = number.as_f64() {
        let mut buffer = ryu_js::Buffer::new();
        out.push_str(buffer.format(f));
    } else {
        out.push_str(&number.to_string());
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

    /// The example of RFC 8785 section 3.2.2.
    #[test]
    fn rfc_8785_example() {
        let input = r#"{
            "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
            "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
            "literals": [null, true, false]
        }"#;
        let value: Value = serde_json::from_str(input).unwrap_or_default();
        assert_eq!(
            to_string(&value),
            "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\
             \"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
        );
    }

    #[test]
    fn numbers_are_written_as_ecmascript_writes_them() {
        let value = serde_json::json!([1.0, -0.0, 0.5, 1e21, 1e-7, 100, -3, 9007199254740993_u64]);
        assert_eq!(
            to_string(&value),
            "[1,0,0.5,1e+21,1e-7,100,-3,9007199254740992]"
        );
    }
}
