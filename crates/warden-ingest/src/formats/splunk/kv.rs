//! The `key="value", key2="value2"` text Splunk writes into a notable's
//! `_raw`. Values may be quoted (with `\"` and `\\` escapes) or bare; a key
//! may repeat (`orig_tag`), so each key maps to a list; a leading token with
//! no `=` (the event time) is skipped.

use std::collections::BTreeMap;

/// Each key with its values, in the order they appeared.
pub type Pairs = BTreeMap<String, Vec<String>>;

/// Most pairs read from one `_raw`.
const MAX_PAIRS: usize = 4096;

/// Keys to their values.
pub fn parse(text: &str) -> Pairs {
    let mut out = Pairs::new();
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
            // Copy the runs between escapes whole; stop at the closing quote
            // (or the end, for an unterminated value).
            let mut value = String::new();
            let mut tail = quoted;
            loop {
                let Some(at) = memchr::memchr2(b'"', b'\\', tail.as_bytes()) else {
                    // Unterminated: the value runs to the end.
                    value.push_str(tail);
                    tail = "";
                    break;
                };
                value.push_str(tail.get(..at).unwrap_or_default());
                let after = tail.get(at + 1..).unwrap_or_default();
                if tail.as_bytes().get(at) == Some(&b'"') {
                    tail = after;
                    break;
                }
                let mut chars = after.chars();
                match chars.next() {
                    Some(escaped @ ('"' | '\\')) => value.push(escaped),
                    Some(other) => {
                        value.push('\\');
                        value.push(other);
                    }
                    None => value.push('\\'),
                }
                tail = chars.as_str();
            }
            rest = tail;
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
        out.entry(key.to_owned()).or_default().push(value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first<'a>(pairs: &'a Pairs, key: &str) -> Option<&'a str> {
        pairs.get(key)?.first().map(String::as_str)
    }

    #[test]
    fn parses_quoted_bare_repeated_and_escaped_values() {
        let raw = r#"1739168412, search_name="Access - Excessive Failed Logins - Rule", count=5, src="89.160.20.112", orig_tag="authentication", orig_tag="failure", path="C:\\Temp\\a \"b\"""#;
        let kv = parse(raw);
        assert_eq!(
            first(&kv, "search_name"),
            Some("Access - Excessive Failed Logins - Rule")
        );
        assert_eq!(first(&kv, "count"), Some("5"));
        assert_eq!(kv.get("orig_tag").map(Vec::len), Some(2));
        assert_eq!(first(&kv, "path"), Some(r#"C:\Temp\a "b""#));
        assert!(!kv.contains_key("1739168412"));
    }

    #[test]
    fn unterminated_quotes_and_garbage_do_not_panic() {
        for text in ["a=\"unterminated", "=,=,,", "\\\"=\"\\", "k=\"v\\"] {
            let _ = parse(text);
        }
    }
}
