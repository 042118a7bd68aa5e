//! Vendor formats: detection and normalisation.
//!
//! One folder per format. Each exposes `matches(&Value) -> bool` (does this
//! payload look like mine?) and `normalise(&Value, &mut AlertDraft)`. The
//! line formats (`cef/`, `leef/`) take a JSON string holding the line;
//! `text.rs` holds what they share.

pub mod cef;
pub mod chainsaw;
pub mod ecs;
pub mod falcon;
pub mod guardduty;
pub mod hayabusa;
pub mod leef;
pub mod mapped;
pub mod msgraph;
pub mod ocsf;
pub mod splunk;
pub mod suricata;
#[cfg(test)]
mod test_support;
pub(crate) mod text;

use std::sync::Arc;

use serde_json::Value;
use time::OffsetDateTime;
use warden_domain::observable::dedup_observables;
use warden_domain::{
    Alert, AlertId, AttackTechnique, Observable, ObservableKind, Provenance, RuleRef, Severity,
    SourceFormat, Untrusted, VendorSeverity,
};

use crate::extract;
pub use mapped::{Mapping, MappingError};

/// Why a payload could not become an alert.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("the payload is a JSON {0}, not an object")]
    NotAnObject(&'static str),
    #[error(
        "unknown alert format: not OCSF (class_uid), Elastic (kibana.alert.*), \
         Suricata EVE (event_type alert), chainsaw (document + name), \
         hayabusa (RuleTitle + Channel), Splunk notable (index notable / search_name), \
         Microsoft Graph alert, CrowdStrike Falcon detection summary, GuardDuty finding \
         or a configured mapping"
    )]
    Unknown,
    /// A line format's text that breaks its grammar (what and where).
    #[error("{0}")]
    Malformed(String),
    #[error("missing required field {0}")]
    Missing(&'static str),
    #[error("field {field} has the wrong type: expected {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("{0}")]
    Unsupported(String),
}

/// Which format a payload is in, if Warden knows it.
pub fn detect(payload: &Value) -> Result<SourceFormat, FormatError> {
    // A string is a line (CEF, LEEF); no JSON format is a string, so this
    // cannot take another format's payload.
    match text::locate(payload) {
        Some((text::LineFormat::Cef, _)) => return Ok(SourceFormat::Cef),
        Some((text::LineFormat::Leef, _)) => return Ok(SourceFormat::Leef),
        None => {}
    }
    if !payload.is_object() {
        return Err(FormatError::NotAnObject(json_type(payload)));
    }
    if ocsf::matches(payload) {
        Ok(SourceFormat::Ocsf)
    } else if chainsaw::matches(payload) {
        Ok(SourceFormat::Chainsaw)
    } else if suricata::matches(payload) {
        Ok(SourceFormat::Suricata)
    } else if msgraph::matches(payload) {
        Ok(SourceFormat::Msgraph)
    } else if falcon::matches(payload) {
        Ok(SourceFormat::Falcon)
    } else if guardduty::matches(payload) {
        Ok(SourceFormat::Guardduty)
    } else if hayabusa::matches(payload) {
        Ok(SourceFormat::Hayabusa)
    } else if splunk::matches(payload) {
        Ok(SourceFormat::Splunk)
    } else if ecs::matches(payload) {
        Ok(SourceFormat::Ecs)
    } else {
        Err(FormatError::Unknown)
    }
}

/// Turn `payload` (whose exact bytes hash to `raw_sha256`) into an alert in
/// `format`. `origin` names where it came from (`file:line`).
pub fn normalise(
    format: SourceFormat,
    payload: &Value,
    origin: &str,
    raw_sha256: &str,
) -> Result<Alert, FormatError> {
    normalise_owned(format, payload.clone(), origin, raw_sha256)
}

/// [`normalise`], keeping `payload` as the alert's raw copy instead of
/// cloning it (the reader's path: the copy was a third of the time).
pub fn normalise_owned(
    format: SourceFormat,
    payload: Value,
    origin: &str,
    raw_sha256: &str,
) -> Result<Alert, FormatError> {
    normalise_received(format, payload, origin, raw_sha256, None)
}

/// [`normalise_owned`] for a payload received at `received` (a syslog
/// message): that time is the alert's when the payload carries none (a CEF
/// line without `rt`, a LEEF line without `devTime`, or one whose date has
/// no year).
pub fn normalise_received(
    format: SourceFormat,
    payload: Value,
    origin: &str,
    raw_sha256: &str,
    received: Option<OffsetDateTime>,
) -> Result<Alert, FormatError> {
    let normaliser: fn(&Value, &mut AlertDraft) -> Result<(), FormatError> = match format {
        SourceFormat::Ocsf => ocsf::normalise,
        SourceFormat::Ecs => ecs::normalise,
        SourceFormat::Suricata => suricata::normalise,
        SourceFormat::Chainsaw => chainsaw::normalise,
        SourceFormat::Splunk => splunk::normalise,
        SourceFormat::Msgraph => msgraph::normalise,
        SourceFormat::Hayabusa => hayabusa::normalise,
        SourceFormat::Falcon => falcon::normalise,
        SourceFormat::Guardduty => guardduty::normalise,
        SourceFormat::Cef => cef::normalise,
        SourceFormat::Leef => leef::normalise,
        SourceFormat::Mapped => {
            return Err(FormatError::Unsupported(
                "a mapped format is read with its mapping file (see [ingest] mappings)".into(),
            ));
        }
    };
    let mut draft = AlertDraft {
        time: received,
        ..AlertDraft::default()
    };
    normaliser(&payload, &mut draft)?;
    draft.finish(format, payload, origin, raw_sha256)
}

/// The formats a reader knows: the built-ins, and the sources described by
/// mapping files. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Formats {
    mappings: Vec<Arc<Mapping>>,
}

/// The format a payload is read in, detected or forced.
#[derive(Debug, Clone, PartialEq)]
pub enum FormatChoice {
    Builtin(SourceFormat),
    Mapped(Arc<Mapping>),
}

impl FormatChoice {
    /// The name `--format` takes for it.
    pub fn name(&self) -> &str {
        match self {
            FormatChoice::Builtin(format) => format.as_str(),
            FormatChoice::Mapped(mapping) => mapping.name(),
        }
    }
}

impl Formats {
    /// The built-ins plus `mappings`, whose names must differ.
    pub fn with_mappings(mappings: Vec<Mapping>) -> Result<Self, MappingError> {
        let mut formats = Self::default();
        for mapping in mappings {
            formats.add(mapping)?;
        }
        Ok(formats)
    }

    /// Add a mapping; its name must not be taken.
    pub fn add(&mut self, mapping: Mapping) -> Result<(), MappingError> {
        if let Some(earlier) = self.mappings().find(|m| m.name() == mapping.name()) {
            return Err(MappingError {
                origin: mapping.origin().to_owned(),
                reason: format!(
                    "name {:?} is already used by {}",
                    mapping.name(),
                    earlier.origin()
                ),
            });
        }
        self.mappings.push(Arc::new(mapping));
        Ok(())
    }

    /// The loaded mappings.
    pub fn mappings(&self) -> impl Iterator<Item = &Mapping> {
        self.mappings.iter().map(AsRef::as_ref)
    }

    /// The format `payload` is in. Mappings are tried first: they are the
    /// user's own statement of what their source looks like, and their
    /// `[detect]` conditions are exact.
    pub fn detect(&self, payload: &Value) -> Result<FormatChoice, FormatError> {
        if payload.is_object()
            && let Some(mapping) = self.mappings.iter().find(|m| m.matches(payload))
        {
            return Ok(FormatChoice::Mapped(mapping.clone()));
        }
        detect(payload).map(FormatChoice::Builtin)
    }

    /// The format `--format NAME` names.
    pub fn choose(&self, name: &str) -> Result<FormatChoice, String> {
        if let Some(format) = SourceFormat::parse(name) {
            return Ok(FormatChoice::Builtin(format));
        }
        if let Some(mapping) = self.mappings.iter().find(|m| m.name() == name) {
            return Ok(FormatChoice::Mapped(mapping.clone()));
        }
        let known: Vec<&str> = SourceFormat::ALL
            .iter()
            .map(|f| f.as_str())
            .chain(self.mappings().map(Mapping::name))
            .collect();
        Err(format!(
            "unknown format {name:?} (known: {})",
            known.join(", ")
        ))
    }

    /// Turn `payload` into an alert in the chosen format.
    pub fn normalise(
        &self,
        choice: &FormatChoice,
        payload: &Value,
        origin: &str,
        raw_sha256: &str,
    ) -> Result<Alert, FormatError> {
        self.normalise_owned(choice, payload.clone(), origin, raw_sha256)
    }

    /// [`Formats::normalise`], moving `payload` into the alert.
    pub fn normalise_owned(
        &self,
        choice: &FormatChoice,
        payload: Value,
        origin: &str,
        raw_sha256: &str,
    ) -> Result<Alert, FormatError> {
        match choice {
            FormatChoice::Builtin(format) => normalise_owned(*format, payload, origin, raw_sha256),
            FormatChoice::Mapped(_) => self.normalise_at(
                choice,
                payload,
                origin,
                raw_sha256,
                OffsetDateTime::now_utc(),
            ),
        }
    }

    /// [`Formats::normalise_owned`] at the ingest time `now`: the time of an
    /// alert whose mapping declares `default = "ingest_time"` and whose
    /// payload has none.
    pub fn normalise_at(
        &self,
        choice: &FormatChoice,
        payload: Value,
        origin: &str,
        raw_sha256: &str,
        now: OffsetDateTime,
    ) -> Result<Alert, FormatError> {
        match choice {
            FormatChoice::Builtin(format) => normalise_owned(*format, payload, origin, raw_sha256),
            FormatChoice::Mapped(mapping) => {
                let mut draft = AlertDraft::default();
                mapping.normalise(&payload, &mut draft, now)?;
                draft.finish(SourceFormat::Mapped, payload, origin, raw_sha256)
            }
        }
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// What a format's normaliser fills in.
#[derive(Debug, Default)]
pub struct AlertDraft {
    /// The OCSF class the finding maps to; Detection Finding unless the
    /// format says otherwise.
    pub class_uid: Option<u32>,
    pub product: Option<String>,
    pub vendor_id: Option<String>,
    pub time: Option<OffsetDateTime>,
    pub rule: Option<RuleRef>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub severity: Option<VendorSeverity>,
    observables: Vec<Observable>,
    /// (field name, text) pairs an attacker may control, scanned for
    /// observables at the end.
    untrusted_text: Vec<(String, String)>,
    pub attacks: Vec<AttackTechnique>,
}

impl AlertDraft {
    /// Record a structured field's value as an observable. A value that is
    /// not valid for the kind (an `ip` of `"-"`, a host of
    /// `${jndi:ldap://...}`) is no entity: it stays text, scanned for
    /// indicators like any untrusted field, so it can never be a target.
    pub fn field(&mut self, kind: ObservableKind, path: &str, value: &str) {
        let provenance = Provenance::Field {
            path: path.to_owned(),
        };
        match Observable::parse(kind, value, provenance) {
            Ok(observable) => self.observables.push(observable),
            Err(_) if extract::worth_scanning(value) => self.text(path, value.to_owned()),
            Err(_) => {}
        }
    }

    /// Record a structured value that is already known to be valid.
    pub(crate) fn observable(&mut self, observable: Observable) {
        self.observables.push(observable);
    }

    /// Record every value at `path` of `payload` as an observable of `kind`.
    pub fn fields_at(&mut self, payload: &Value, kind: ObservableKind, path: &str) {
        for value in crate::fields::strings(payload, path) {
            self.field(kind, path, &value);
        }
    }

    /// Keep a free-text field for pattern extraction.
    pub fn text(&mut self, field: &str, text: String) {
        self.untrusted_text.push((field.to_owned(), text));
    }

    /// Add a technique unless it is already there (merging tactics).
    pub fn attack(&mut self, id: &str, name: Option<String>, tactic: Option<String>) {
        let Some(id) = AttackTechnique::parse_id(id) else {
            return;
        };
        if let Some(existing) = self.attacks.iter_mut().find(|a| a.id == id) {
            if existing.name.is_none() {
                existing.name = name;
            }
            if let Some(tactic) = tactic
                && !existing.tactics.contains(&tactic)
            {
                existing.tactics.push(tactic);
            }
            return;
        }
        self.attacks.push(AttackTechnique {
            id,
            name,
            tactics: tactic.into_iter().collect(),
        });
    }

    fn finish(
        mut self,
        format: SourceFormat,
        payload: Value,
        origin: &str,
        raw_sha256: &str,
    ) -> Result<Alert, FormatError> {
        let rule = self.rule.ok_or(FormatError::Missing("rule name"))?;
        let time = self.time.ok_or(FormatError::Missing("time"))?;
        for (field, text) in std::mem::take(&mut self.untrusted_text) {
            self.observables
                .extend(extract::from_text(&field, &Untrusted::new(text)));
        }
        self.attacks.sort();
        Ok(Alert {
            id: AlertId::new(),
            format,
            class_uid: self.class_uid.unwrap_or(ocsf::DETECTION_FINDING),
            product: self.product.unwrap_or_else(|| format.as_str().to_owned()),
            vendor_id: self.vendor_id,
            time,
            title: Untrusted::new(self.title.unwrap_or_else(|| rule.name.clone())),
            rule,
            description: Untrusted::new(self.description.unwrap_or_default()),
            severity: self.severity.unwrap_or(VendorSeverity {
                level: Severity::Medium,
                original: "absent".into(),
            }),
            observables: dedup_observables(self.observables),
            attacks: self.attacks,
            origin: origin.to_owned(),
            raw_sha256: raw_sha256.to_owned(),
            raw: payload,
        })
    }
}

/// A severity given by name (`critical`, `High`, `info`...): unknown names
/// map to medium so that the alert is looked at rather than ignored; the
/// vendor's value is kept, after `label` when there is one.
pub(crate) fn named_severity(name: Option<String>, label: &str) -> VendorSeverity {
    let Some(name) = name.filter(|n| !n.trim().is_empty()) else {
        return VendorSeverity {
            level: Severity::Medium,
            original: "absent".into(),
        };
    };
    let level = match name.trim().to_ascii_lowercase().as_str() {
        "info" => Severity::Informational,
        other => other.parse().unwrap_or(Severity::Medium),
    };
    let original = if label.is_empty() {
        name
    } else {
        format!("{label} {name}")
    };
    VendorSeverity { level, original }
}

/// The digests in a Sysmon `Hashes` value (`SHA1=..,MD5=..,SHA256=..,IMPHASH=..`);
/// IMPHASH is an import-table hash, not a file's.
pub(crate) fn sysmon_hashes(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').filter_map(|pair| {
        let (algo, value) = pair.split_once('=')?;
        matches!(algo.trim(), "SHA1" | "MD5" | "SHA256" | "SHA512").then_some(value.trim())
    })
}

/// A required time field: missing and unreadable are told apart, both
/// naming `field` (`expected` says what form was wanted).
pub(crate) fn required_time(
    text: Option<String>,
    field: &'static str,
    expected: &'static str,
) -> Result<OffsetDateTime, FormatError> {
    let text = text.ok_or(FormatError::Missing(field))?;
    parse_rfc3339(&text).ok_or(FormatError::WrongType { field, expected })
}

/// Parse an RFC 3339 timestamp, also accepting the `+0000` offset form
/// (no colon) that Suricata and many syslog-era tools write.
pub(crate) fn parse_rfc3339(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    if let Ok(time) = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        return Some(time);
    }
    // "...+0000" -> "...+00:00"
    let split = text.len().checked_sub(5)?;
    let (head, offset) = (text.get(..split)?, text.get(split..)?);
    let sign = offset.chars().next()?;
    if !matches!(sign, '+' | '-') || !offset.get(1..)?.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let fixed = format!("{head}{}:{}", offset.get(..3)?, offset.get(3..)?);
    OffsetDateTime::parse(&fixed, &time::format_description::well_known::Rfc3339).ok()
}

/// An epoch timestamp in milliseconds (OCSF) or, for values too small to be
/// milliseconds of this century, seconds (some producers get this wrong).
pub(crate) fn from_epoch(value: f64) -> Option<OffsetDateTime> {
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let millis = if value < 100_000_000_000.0 {
        value * 1000.0
    } else {
        value
    };
    let nanos = (millis as i128).checked_mul(1_000_000)?;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_accepts_millis_and_seconds() {
        let from_ms = from_epoch(1_723_564_700_000.0).map(|t| t.unix_timestamp());
        let from_s = from_epoch(1_723_564_700.0).map(|t| t.unix_timestamp());
        assert_eq!(from_ms, Some(1_723_564_700));
        assert_eq!(from_s, Some(1_723_564_700));
        assert_eq!(from_epoch(f64::NAN), None);
        assert_eq!(from_epoch(-1.0), None);
    }

    /// Issue 23: what an attacker writes into a structured field that is
    /// no valid entity of its kind stays text, in every format.
    #[test]
    fn attacker_values_in_structured_fields_stay_text() {
        let mut draft = AlertDraft {
            rule: Some(RuleRef {
                uid: None,
                name: "r".into(),
            }),
            time: Some(OffsetDateTime::UNIX_EPOCH),
            ..AlertDraft::default()
        };
        let jndi = "${jndi:ldap://198.51.100.66:1389/a}";
        draft.field(ObservableKind::Domain, "http.request.host", jndi);
        draft.field(ObservableKind::Host, "host.name", jndi);
        draft.field(ObservableKind::Ip, "source.ip", "Chrome/111.0.0.0");
        draft.field(ObservableKind::Ip, "destination.ip", "255.255.255.255");
        draft.field(ObservableKind::Domain, "dns.question.name", "Shop.Example.");
        let alert = draft
            .finish(SourceFormat::Ecs, serde_json::json!({}), "x", "h")
            .expect("an alert");
        let structured: Vec<(ObservableKind, &str)> = alert
            .observables
            .iter()
            .filter(|o| o.is_structured())
            .map(|o| (o.kind, o.value.as_str()))
            .collect();
        assert_eq!(structured, vec![(ObservableKind::Domain, "shop.example")]);
        // What the refused value mentions is still found, as text.
        let address = alert
            .observables
            .iter()
            .find(|o| o.value == "198.51.100.66")
            .expect("found in the refused value");
        assert_eq!(
            address.provenance,
            vec![
                Provenance::Text {
                    field: "host.name".into()
                },
                Provenance::Text {
                    field: "http.request.host".into()
                }
            ]
        );
    }

    #[test]
    fn detect_names_what_it_saw() {
        assert_eq!(
            detect(&serde_json::json!([1])),
            Err(FormatError::NotAnObject("array"))
        );
        assert_eq!(
            detect(&serde_json::json!({"a": 1})),
            Err(FormatError::Unknown)
        );
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    use super::*;

    /// Arbitrary JSON, biased towards the keys the parsers look at so that
    /// deep paths are actually exercised.
    fn json() -> impl Strategy<Value = Value> {
        let keys = prop::sample::select(vec![
            "class_uid",
            "time",
            "finding_info",
            "title",
            "analytic",
            "name",
            "uid",
            "severity_id",
            "device",
            "hostname",
            "ip",
            "observables",
            "type_id",
            "value",
            "kibana.alert.rule.name",
            "@timestamp",
            "host",
            "event_type",
            "alert",
            "signature",
            "timestamp",
            "document",
            "group",
            "data",
            "Event",
            "EventData",
            "index",
            "_raw",
            "search_name",
            "result",
            "evidence",
            "@odata.type",
            "tags",
            "attacks",
            "technique",
            "RuleTitle",
            "Timestamp",
            "Channel",
            "Details",
            "MitreTags",
            "metadata",
            "eventType",
            "eventCreationTime",
            "event",
            "DetectName",
            "ComputerName",
            "source",
            "detail",
            "type",
            "arn",
            "resource",
            "instanceDetails",
            "networkInterfaces",
            "service",
            "action",
            "createdAt",
            "severity",
            "x",
        ]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,20}".prop_map(Value::String),
            Just(Value::String("alert".into())),
            Just(Value::String("10.0.0.1".into())),
            Just(Value::String("2026-11-17T10:00:00Z".into())),
            Just(Value::from(2004)),
            Just(Value::String("DetectionSummaryEvent".into())),
            Just(Value::String("aws.guardduty".into())),
            Just(Value::String("guardduty".into())),
            Just(Value::String("2026-11-17 10:00:00.000 +09:00".into())),
        ];
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|pairs| {
                    let map: Map<String, Value> =
                        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
                    Value::Object(map)
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_json_in_any_format_never_panics_and_normalises_deterministically(value in json()) {
            for format in SourceFormat::ALL {
                let first = normalise(format, &value, "p", "h");
                let second = normalise(format, &value, "p", "h");
                match (first, second) {
                    (Ok(mut a), Ok(b)) => {
                        a.id = b.id;
                        prop_assert_eq!(a, b);
                    }
                    (Err(a), Err(b)) => prop_assert_eq!(a, b),
                    (a, b) => prop_assert!(false, "differs: {:?} vs {:?}", a, b),
                }
            }
            let _ = detect(&value);
        }
    }
}
