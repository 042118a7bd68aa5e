//! Sources described by a mapping file instead of code.
//!
//! A mapping (TOML) names a source, says how to recognise its payloads, and
//! points at the fields Warden needs with JSON pointers (RFC 6901), plus one
//! extension: a `*` segment stands for every element of an array (or every
//! value of an object), so `/evidence/*/ip` reads the `ip` of each item.
//! `docs/formats.md` documents the file; `examples/mappings/` holds worked
//! ones (Wazuh, ModSecurity, Azure Firewall).
//!
//! # Layout
//!
//! - `mod.rs`: the file as written, loading and checking it, and turning a
//!   payload into an alert.
//! - `spec.rs`: where a field's values come from (a pointer or a constant)
//!   and the transforms that shape them (`split`, `first`, `last`,
//!   `lowercase`, `host_port`, `regex`).
//! - `timestamp.rs`: the event time's declared form and its default.
//! - `severity.rs`: vendor severities to Warden's levels by exact value,
//!   prefix or regular expression, with a declared default; an unlisted
//!   value is warned about once, never read silently as `medium`.
//!
//! A mapping is checked when it loads: unknown keys, a pointer that does
//! not start with `/`, an unknown observable kind, severity level or
//! transform, a regular expression or time pattern that does not compile,
//! and a name that clashes with a built-in format are errors naming the
//! file and the field. A payload whose value a required field cannot use is
//! dead-lettered with the mapping file, the field and the value named.

mod severity;
mod spec;
mod timestamp;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;
use warden_domain::{
    EntityRole, IpClass, Observable, ObservableKind, Provenance, RuleRef, Severity, SourceFormat,
};

use self::severity::{RawSeverityRules, SeverityRules};
use self::spec::{Failure, RawSpec, ValueSpec, scalar, scalars};
use self::timestamp::{TimeError, TimeSpec};
use super::{AlertDraft, FormatError};

/// A loaded, checked mapping.
#[derive(Debug, Clone)]
pub struct Mapping {
    name: String,
    product: Option<String>,
    detect: BTreeMap<String, String>,
    time: TimeSpec,
    rule_name: ValueSpec,
    rule_uid: Option<ValueSpec>,
    title: Option<ValueSpec>,
    description: Option<ValueSpec>,
    severity_field: Option<ValueSpec>,
    vendor_id: Option<ValueSpec>,
    techniques: Option<ValueSpec>,
    tactics: Option<ValueSpec>,
    severity: SeverityRules,
    observables: Vec<ObservableRule>,
    text: Vec<String>,
    /// Where it was loaded from, for messages.
    origin: String,
    /// The text it was parsed from: two mappings are equal when they were
    /// loaded from the same text at the same place.
    source_text: String,
}

impl PartialEq for Mapping {
    fn eq(&self, other: &Self) -> bool {
        self.origin == other.origin && self.source_text == other.source_text
    }
}

/// The file as written. Every field of `[fields]` and every observable is
/// a JSON pointer, or a table: `pointer` or a constant `value`, then
/// `transforms` (see `spec.rs`).
#[derive(Debug, Clone, Deserialize)]
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
    /// Vendor severity value -> level, matched exactly.
    #[serde(default)]
    severity: BTreeMap<String, Severity>,
    /// Prefixes, regular expressions and the default level.
    severity_rules: Option<RawSeverityRules>,
    #[serde(default)]
    observables: Vec<RawObservable>,
    /// Free text an attacker may control: scanned for observables, which
    /// are marked as found in text and can never be action targets alone.
    #[serde(default)]
    text: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    /// The event time (see `timestamp.rs` for `format` and `default`).
    time: toml::Value,
    rule_name: toml::Value,
    rule_uid: Option<toml::Value>,
    title: Option<toml::Value>,
    description: Option<toml::Value>,
    severity: Option<toml::Value>,
    vendor_id: Option<toml::Value>,
    /// Technique ids (a string, a list, or text to `split`).
    techniques: Option<toml::Value>,
    /// Tactic names given to every technique.
    tactics: Option<toml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObservable {
    kind: ObservableKind,
    pointer: Option<String>,
    /// A constant instead of a pointer.
    value: Option<String>,
    #[serde(default)]
    transforms: Vec<toml::Value>,
    /// For `ip`: the classes of address this field may hold (default every
    /// class that can be a host).
    allow: Option<Vec<IpClass>>,
    /// The part the entity plays, when the pointer does not say it
    /// (`destination`, `dst`, `target`... in a pointer mean the target).
    role: Option<EntityRole>,
}

/// An `[[observables]]` entry, checked.
#[derive(Debug, Clone)]
struct ObservableRule {
    kind: ObservableKind,
    spec: ValueSpec,
    /// The field name recorded as the provenance (the pointer, with the
    /// declared role when one is given).
    recorded_as: String,
    allow: Option<Vec<IpClass>>,
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
        for (at, pointer) in file
            .detect
            .keys()
            .map(|p| ("[detect]", p))
            .chain(file.text.iter().map(|p| ("text", p)))
        {
            if !pointer.starts_with('/') {
                return Err(error(format!(
                    "{at}: {pointer:?} is not a JSON pointer (it must start with /)"
                )));
            }
        }
        let fields = &file.fields;
        let raw_time =
            RawSpec::from_toml(&fields.time).map_err(|r| error(format!("fields.time: {r}")))?;
        let time = TimeSpec::new(raw_time).map_err(|r| error(format!("fields.time: {r}")))?;
        let field = |at: &str, value: &toml::Value| -> Result<ValueSpec, MappingError> {
            let raw = RawSpec::from_toml(value).map_err(|r| error(format!("{at}: {r}")))?;
            if raw.format.is_some() || raw.offset.is_some() || raw.default.is_some() {
                return Err(error(format!(
                    "{at}: format, offset and default apply to fields.time only"
                )));
            }
            ValueSpec::new(raw.pointer, raw.value, &raw.transforms)
                .map_err(|r| error(format!("{at}: {r}")))
        };
        let optional = |at: &str, value: &Option<toml::Value>| {
            value.as_ref().map(|v| field(at, v)).transpose()
        };
        let rule_name = field("fields.rule_name", &fields.rule_name)?;
        let rule_uid = optional("fields.rule_uid", &fields.rule_uid)?;
        let title = optional("fields.title", &fields.title)?;
        let description = optional("fields.description", &fields.description)?;
        let severity_field = optional("fields.severity", &fields.severity)?;
        let vendor_id = optional("fields.vendor_id", &fields.vendor_id)?;
        let techniques = optional("fields.techniques", &fields.techniques)?;
        let tactics = optional("fields.tactics", &fields.tactics)?;
        let severity = SeverityRules::new(file.severity.clone(), file.severity_rules.clone())
            .map_err(|r| error(format!("[severity_rules]: {r}")))?;
        let mut observables = Vec::new();
        for (index, raw) in file.observables.iter().enumerate() {
            let at = format!("observables[{index}] ({})", raw.kind);
            let spec = ValueSpec::new(raw.pointer.clone(), raw.value.clone(), &raw.transforms)
                .map_err(|r| error(format!("{at}: {r}")))?;
            if raw.allow.is_some() && raw.kind != ObservableKind::Ip {
                return Err(error(format!("{at}: allow applies to kind ip only")));
            }
            if let Some(class) = raw.allow.iter().flatten().find(|c| !c.is_host()) {
                return Err(error(format!(
                    "{at}: allow names {class}, which is never a host address"
                )));
            }
            let base = spec
                .pointer_str()
                .map_or_else(|| format!("mapping:{}", file.name), str::to_owned);
            let recorded_as = match raw.role {
                None => base,
                Some(role) => {
                    let named = format!(
                        "{base} ({})",
                        match role {
                            EntityRole::Actor => "actor",
                            EntityRole::Target => "target",
                        }
                    );
                    let read = Provenance::Field {
                        path: named.clone(),
                    }
                    .role();
                    if read != Some(role) {
                        return Err(error(format!(
                            "{at}: role {} contradicts the pointer {base:?}, which names the \
                             far end of the activity",
                            match role {
                                EntityRole::Actor => "actor",
                                EntityRole::Target => "target",
                            }
                        )));
                    }
                    named
                }
            };
            observables.push(ObservableRule {
                kind: raw.kind,
                spec,
                recorded_as,
                allow: raw.allow.clone(),
            });
        }
        Ok(Self {
            name: file.name,
            product: file.product,
            detect: file.detect,
            time,
            rule_name,
            rule_uid,
            title,
            description,
            severity_field,
            vendor_id,
            techniques,
            tactics,
            severity,
            observables,
            text: file.text,
            origin: origin.to_owned(),
            source_text: text.to_owned(),
        })
    }

    /// The format's name, as `--format` takes it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the mapping was loaded from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The unlisted severity values warned about so far (each once).
    pub fn unlisted_severities(&self) -> Vec<String> {
        self.severity.unlisted()
    }

    /// Whether every `[detect]` condition holds for `payload`.
    pub fn matches(&self, payload: &Value) -> bool {
        self.detect.iter().all(|(pointer, expected)| {
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

    /// A payload's problem with one of this mapping's fields, naming the
    /// mapping file, the field and the value.
    fn field_error(&self, at: &str, spec: &ValueSpec, failure: &Failure) -> FormatError {
        FormatError::Unsupported(format!(
            "mapping {}: {at}: {} does not apply to {:?} (from {})",
            self.origin,
            failure.transform,
            clip(&failure.value),
            spec.describe()
        ))
    }

    /// The first value of an optional field.
    fn first(&self, spec: &Option<ValueSpec>, payload: &Value) -> Option<String> {
        spec.as_ref()
            .and_then(|s| s.values(payload).values.into_iter().next())
    }

    /// Fill `draft` from a payload of this source; `now` is the time of
    /// ingest (the time of an alert whose mapping declares that default).
    pub fn normalise(
        &self,
        payload: &Value,
        draft: &mut AlertDraft,
        now: ::time::OffsetDateTime,
    ) -> Result<(), FormatError> {
        draft.product = Some(self.product.clone().unwrap_or_else(|| self.name.clone()));
        draft.vendor_id = self.first(&self.vendor_id, payload);
        draft.time = Some(self.time.read(payload, now).map_err(|err| match err {
            TimeError::Missing => FormatError::Unsupported(format!(
                "missing required field {} (fields.time of mapping {})",
                self.time.spec.describe(),
                self.origin
            )),
            TimeError::Unreadable { value, expected } => FormatError::Unsupported(format!(
                "mapping {}: fields.time: {:?} (from {}) is not {expected}",
                self.origin,
                clip(&value),
                self.time.spec.describe()
            )),
            TimeError::Transform(failure) => {
                self.field_error("fields.time", &self.time.spec, &failure)
            }
        })?);
        let names = self.rule_name.values(payload);
        let name = match (names.values.into_iter().next(), names.failed.first()) {
            (Some(name), _) => name,
            (None, Some(failure)) => {
                return Err(self.field_error("fields.rule_name", &self.rule_name, failure));
            }
            (None, None) => {
                return Err(FormatError::Unsupported(format!(
                    "missing required field {} (fields.rule_name of mapping {})",
                    self.rule_name.describe(),
                    self.origin
                )));
            }
        };
        // The mapping's name keeps two sources' rule ids apart.
        let uid = self
            .first(&self.rule_uid, payload)
            .unwrap_or_else(|| name.clone());
        draft.rule = Some(RuleRef {
            uid: Some(format!("{}:{uid}", self.name)),
            name: name.clone(),
        });
        draft.title = self.first(&self.title, payload).or(Some(name));
        draft.description = self.first(&self.description, payload);
        let severity_value = self.first(&self.severity_field, payload);
        draft.severity = Some(self.severity.level(severity_value, &self.origin));
        let tactics = self
            .tactics
            .as_ref()
            .map(|s| s.values(payload).values)
            .unwrap_or_default();
        for technique in self
            .techniques
            .as_ref()
            .map(|s| s.values(payload).values)
            .unwrap_or_default()
        {
            if tactics.is_empty() {
                draft.attack(&technique, None, None);
            }
            for tactic in &tactics {
                draft.attack(&technique, None, Some(tactic.clone()));
            }
        }
        for rule in &self.observables {
            let found = rule.spec.values(payload);
            // INVARIANT (S2): what a transform or the kind's check refuses
            // stays text: scanned for indicators, never an entity. (A regex
            // that found nothing refused no value: the field is absent.)
            for failure in found.failed.into_iter().filter(|f| !f.no_match) {
                draft.text(&rule.recorded_as, failure.value);
            }
            for value in found.values {
                self.observable(rule, value, draft);
            }
        }
        for pointer in &self.text {
            for value in scalars(payload, pointer) {
                draft.text(pointer, value);
            }
        }
        if let Some(text) = draft.description.clone() {
            draft.text("description", text);
        }
        Ok(())
    }

    /// Record one value of an observable rule: an entity when it is valid
    /// for the kind and, for an IP, of a class the rule allows; else text.
    fn observable(&self, rule: &ObservableRule, value: String, draft: &mut AlertDraft) {
        let provenance = Provenance::Field {
            path: rule.recorded_as.clone(),
        };
        let Ok(observable) = Observable::parse(rule.kind, &value, provenance) else {
            draft.text(&rule.recorded_as, value);
            return;
        };
        if let Some(allow) = &rule.allow {
            let class = observable.value.parse().ok().map(IpClass::of);
            if !class.is_some_and(|c| allow.contains(&c)) {
                draft.text(&rule.recorded_as, value);
                return;
            }
        }
        draft.observable(observable);
    }
}

/// A value cut for a message (attackers choose its length).
fn clip(value: &str) -> String {
    const MAX: usize = 200;
    if value.chars().count() <= MAX {
        return value.to_owned();
    }
    let mut cut: String = value.chars().take(MAX).collect();
    cut.push('…');
    cut
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

#[cfg(test)]
mod tests;
