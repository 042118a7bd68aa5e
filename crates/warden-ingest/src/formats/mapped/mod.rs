//! Sources described by a mapping file instead of code.
//!
//! A mapping (TOML) names a source, says how to recognise its payloads, and
//! points at the fields Warden needs with JSON pointers (RFC 6901), plus one
//! extension: a `*` segment stands for every element of an array (or every
//! value of an object), so `/evidence/*/ip` reads the `ip` of each item.
//! `docs/formats.md` documents the file; `examples/mappings/` holds one.
//!
//! A mapping is checked when it loads: unknown keys, a pointer that does
//! not start with `/`, an unknown observable kind or severity level, and a
//! name that clashes with a built-in format are errors naming the file.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;
use warden_domain::{ObservableKind, RuleRef, Severity, SourceFormat, VendorSeverity};

use super::{AlertDraft, FormatError, from_epoch, named_severity, parse_rfc3339};

/// A loaded, checked mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    file: MappingFile,
    /// Where it was loaded from, for messages.
    origin: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    /// The format's name: what `--format` takes and the product prefix.
    name: String,
    /// The product named on alerts (default: the name).
    product: Option<String>,
    /// Pointer -> the value it must hold (`"*"`: must merely exist). Every
    /// condition must hold for a payload to be this source.
    detect: BTreeMap<String, String>,
    fields: Fields,
    /// Vendor severity value -> level. Values not listed are read as a
    /// level name (`high`, `Critical`...) or else medium.
    #[serde(default)]
    severity: BTreeMap<String, Severity>,
    #[serde(default)]
    observables: Vec<ObservableRule>,
    /// Free text an attacker may control: scanned for observables, which
    /// are marked as found in text and can never be action targets alone.
    #[serde(default)]
    text: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    /// RFC 3339 text, or Unix seconds or milliseconds.
    time: String,
    rule_name: String,
    rule_uid: Option<String>,
    title: Option<String>,
    description: Option<String>,
    severity: Option<String>,
    vendor_id: Option<String>,
    /// Technique ids (a string or an array).
    techniques: Option<String>,
    /// Tactic names given to every technique.
    tactics: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObservableRule {
    kind: ObservableKind,
    pointer: String,
}

/// Why a mapping file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mapping {origin}: {reason}")]
pub struct MappingError {
    pub origin: String,
    pub reason: String,
}

impl Mapping {
    /// Load and check a mapping file.
    pub fn load(path: &Path) -> Result<Self, MappingError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|err| MappingError {
            origin: origin.clone(),
            reason: format!("cannot read: {err}"),
        })?;
        Self::parse(&text, &origin)
    }

    /// Parse and check mapping text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, MappingError> {
        let error = |reason: String| MappingError {
            origin: origin.to_owned(),
            reason,
        };
        let file: MappingFile = toml::from_str(text).map_err(|err| error(err.to_string()))?;
        let name_ok = file
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            && file
                .name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase());
        if !name_ok {
            return Err(error(format!(
                "name {:?} must be lower-case letters, digits, - or _, starting with a letter",
                file.name
            )));
        }
        if SourceFormat::parse(&file.name).is_some() || file.name == "mapped" {
            return Err(error(format!(
                "name {:?} is a built-in format; choose another",
                file.name
            )));
        }
        if file.detect.is_empty() {
            return Err(error(
                "[detect] needs at least one pointer, or every payload would match".into(),
            ));
        }
        let fields = &file.fields;
        let pointers = file
            .detect
            .keys()
            .map(|p| ("[detect]", p))
            .chain([
                ("fields.time", &fields.time),
                ("fields.rule_name", &fields.rule_name),
            ])
            .chain(
                [
                    ("fields.rule_uid", &fields.rule_uid),
                    ("fields.title", &fields.title),
                    ("fields.description", &fields.description),
                    ("fields.severity", &fields.severity),
                    ("fields.vendor_id", &fields.vendor_id),
                    ("fields.techniques", &fields.techniques),
                    ("fields.tactics", &fields.tactics),
                ]
                .into_iter()
                .filter_map(|(at, p)| p.as_ref().map(|p| (at, p))),
            )
            .chain(file.observables.iter().map(|o| ("observables", &o.pointer)))
            .chain(file.text.iter().map(|p| ("text", p)));
        for (at, pointer) in pointers {
            if !pointer.starts_with('/') {
                return Err(error(format!(
                    "{at}: {pointer:?} is not a JSON pointer (it must start with /)"
                )));
            }
        }
        Ok(Self {
            file,
            origin: origin.to_owned(),
        })
    }

    /// The format's name, as `--format` takes it.
    pub fn name(&self) -> &str {
        &self.file.name
    }

    /// Where the mapping was loaded from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Whether every `[detect]` condition holds for `payload`.
    pub fn matches(&self, payload: &Value) -> bool {
        self.file.detect.iter().all(|(pointer, expected)| {
            let found = resolve(payload, pointer);
            if expected == "*" {
                !found.is_empty()
            } else {
                found
                    .iter()
                    .any(|value| scalar(value).as_deref() == Some(expected))
            }
        })
    }

    /// Fill `draft` from a payload of this source.
    pub fn normalise(&self, payload: &Value, draft: &mut AlertDraft) -> Result<(), FormatError> {
        let fields = &self.file.fields;
        let first = |pointer: &Option<String>| {
            pointer
                .as_deref()
                .and_then(|p| resolve(payload, p).into_iter().find_map(scalar))
        };
        draft.product = Some(
            self.file
                .product
                .clone()
                .unwrap_or_else(|| self.file.name.clone()),
        );
        draft.vendor_id = first(&fields.vendor_id);
        let time = resolve(payload, &fields.time)
            .into_iter()
            .next()
            .ok_or_else(|| missing(&fields.time))?;
        draft.time = Some(
            match time {
                Value::Number(n) => n.as_f64().and_then(from_epoch),
                Value::String(s) => {
                    parse_rfc3339(s).or_else(|| s.trim().parse().ok().and_then(from_epoch))
                }
                _ => None,
            }
            .ok_or_else(|| {
                FormatError::Unsupported(format!(
                    "{} is not an RFC 3339 time or Unix seconds/milliseconds",
                    fields.time
                ))
            })?,
        );
        let name = resolve(payload, &fields.rule_name)
            .into_iter()
            .find_map(scalar)
            .ok_or_else(|| missing(&fields.rule_name))?;
        // The mapping's name keeps two sources' rule ids apart.
        let uid = first(&fields.rule_uid).unwrap_or_else(|| name.clone());
        draft.rule = Some(RuleRef {
            uid: Some(format!("{}:{uid}", self.file.name)),
            name: name.clone(),
        });
        draft.title = first(&fields.title).or(Some(name));
        draft.description = first(&fields.description);
        draft.severity = Some(self.severity(first(&fields.severity)));
        let tactics = fields
            .tactics
            .as_deref()
            .map(|p| strings(payload, p))
            .unwrap_or_default();
        for technique in fields
            .techniques
            .as_deref()
            .map(|p| strings(payload, p))
            .unwrap_or_default()
        {
            if tactics.is_empty() {
                draft.attack(&technique, None, None);
            }
            for tactic in &tactics {
                draft.attack(&technique, None, Some(tactic.clone()));
            }
        }
        for rule in &self.file.observables {
            for value in strings(payload, &rule.pointer) {
                draft.field(rule.kind, &rule.pointer, &value);
            }
        }
        for pointer in &self.file.text {
            for value in strings(payload, pointer) {
                draft.text(pointer, value);
            }
        }
        if let Some(text) = draft.description.clone() {
            draft.text("description", text);
        }
        Ok(())
    }

    fn severity(&self, value: Option<String>) -> VendorSeverity {
        match value {
            Some(value) => match self.file.severity.get(&value) {
                Some(level) => VendorSeverity {
                    level: *level,
                    original: value,
                },
                None => named_severity(Some(value), ""),
            },
            None => named_severity(None, ""),
        }
    }
}

fn missing(pointer: &str) -> FormatError {
    FormatError::Unsupported(format!("missing required field {pointer}"))
}

/// Every value `pointer` reaches: one, none, or with `*` segments many.
pub fn resolve<'v>(value: &'v Value, pointer: &str) -> Vec<&'v Value> {
    let Some(rest) = pointer.strip_prefix('/') else {
        return if pointer.is_empty() {
            vec![value]
        } else {
            Vec::new()
        };
    };
    // The common case, one value and no escapes: walk without allocating.
    if !rest.contains(['*', '~']) {
        let found = rest.split('/').try_fold(value, |node, segment| match node {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        });
        return found.into_iter().collect();
    }
    let mut current = vec![value];
    for segment in rest.split('/') {
        let key = segment.replace("~1", "/").replace("~0", "~");
        current = current
            .into_iter()
            .flat_map(|node| -> Vec<&Value> {
                match (node, segment) {
                    (Value::Array(items), "*") => items.iter().collect(),
                    (Value::Object(map), "*") => map.values().collect(),
                    (Value::Array(items), _) => key
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| items.get(i))
                        .into_iter()
                        .collect(),
                    (Value::Object(map), _) => map.get(&key).into_iter().collect(),
                    _ => Vec::new(),
                }
            })
            .collect();
    }
    current
}

/// A string or number as text (other types are not values).
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Every scalar at `pointer`, flattening arrays.
fn strings(payload: &Value, pointer: &str) -> Vec<String> {
    resolve(payload, pointer)
        .into_iter()
        .flat_map(|value| match value {
            Value::Array(items) => items.iter().filter_map(scalar).collect::<Vec<_>>(),
            other => scalar(other).into_iter().collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
