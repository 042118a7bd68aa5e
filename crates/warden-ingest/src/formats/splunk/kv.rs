//! The `key="value", key2="value2"` text Splunk writes into a notable's
//! `_raw`. Values may be quoted (with `\"` and `\\` escapes) or bare; a key
//! may repeat (`orig_tag`), so each key maps to a list; a leading token with
//! no `=` (the event time) is skipped.

use serde_json::{Map, Value};

/// Most pairs read from one `_raw`.
const MAX_PAIRS: usize = 4096;

/// Keys to lists of values, in first-seen order of keys.
pub fn parse(text: &str) -> Map<String, Value> {
    let mut out: Map<String, Value> = Map::new();
    let mut rest = text;
    for _ in 0..MAX_PAIRS {
        rest = rest.trim_start_matches([',', ' ', '\n', '\r', '\t']);
        if rest.is_empty() {
            break;
        }
        let key_end = rest.find(['=', ',']).unwrap_or(rest.len());
        let key = rest.get(..key_end).unwrap_or_default().trim();
        rest = rest.get(key_end..).unwrap_or_default();
        if !rest.starts_with('=') {
            // A token without a value (the leading timestamp): skip it.
            continue;
        }
        rest = rest.get(1..).unwrap_or_default();
        let value = if let Some(quoted) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, escaped @ ('"' | '\\'))) => value.push(escaped),
                        Some((_, other)) => {
                            value.push('\\');
                            value.push(other);
                        }
                        None => value.push('\\'),
                    },
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    other => value.push(other),
                }
            }
            rest = quoted.get(end..).unwrap_or_default();
            value
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            let value = rest.get(..end).unwrap_or_default().trim().to_owned();
            rest = rest.get(end..).unwrap_or_default();
            value
        };
        if key.is_empty() {
            continue;
        }
        match out.get_mut(key) {
            Some(Value::Array(list)) => list.push(Value::String(value)),
            _ => {
                out.insert(key.to_owned(), Value::Array(vec![Value::String(value)]));
            }
        }
    }
    out
}

/// First value of `key`.
pub trait FirstValue {
    fn first_value(&self, key: &str) -> Option<&str>;
}

impl FirstValue for Map<String, Value> {
    fn first_value(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_array()?.first()?.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quoted_bare_repeated_and_escaped_values() {
        let raw = r#"1739168412, search_name="Access - Excessive Failed Logins - Rule", count=5, src="89.160.20.112", orig_tag="authentication", orig_tag="failure", path="C:\\Temp\\a \"b\"""#;
        let kv = parse(raw);
        assert_eq!(
            kv.first_value("search_name"),
            Some("Access - Excessive Failed Logins - Rule")
        );
        assert_eq!(kv.first_value("count"), Some("5"));
        assert_eq!(
            kv.get("orig_tag").and_then(Value::as_array).map(Vec::len),
            Some(2)
        );
        assert_eq!(kv.first_value("path"), Some(r#"C:\Temp\a "b""#));
        assert!(kv.get("1739168412").is_none());
    }

    #[test]
    fn unterminated_quotes_and_garbage_do_not_panic() {
        for text in ["a=\"unterminated", "=,=,,", "\\\"=\"\\", "k=\"v\\"] {
            let _ = parse(text);
        }
    }
}
