//! STIX 2.1 indicator bundles (`stix/*.json` in the context folder), read
//! into the same [`IntelRecord`]s as `intel.csv`.
//!
//! A file must be a bundle: `{"type": "bundle", "objects": [...]}`. Only
//! `indicator` objects are used, plus the `identity` objects their
//! `created_by_ref` names (for the source). A file that is not a bundle, or
//! an indicator without a property the standard requires, makes the file
//! unusable, like a bad CSV row. An indicator that is valid but cannot be
//! used (revoked, expired, another pattern language, nothing matchable in
//! its pattern) is skipped with a reason.
//!
//! - `pattern.rs`: STIX patterning, and which comparisons are matchable.

mod pattern;

use std::collections::HashMap;

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::records::{IntelRecord, IntelVerdict};

/// What one bundle file yields.
#[derive(Debug, Default)]
pub(super) struct Bundle {
    pub records: Vec<IntelRecord>,
    /// `indicator--...: revoked`, one line per skipped indicator.
    pub skipped: Vec<String>,
}

/// The confidence of an indicator that states none (STIX leaves it open;
/// 50 is the middle of the scale, neither trusted nor dismissed).
const DEFAULT_CONFIDENCE: u8 = 50;

/// The properties of an indicator Warden reads (STIX 2.1 section 4.7).
#[derive(Debug, Deserialize)]
struct Indicator {
    id: String,
    pattern: String,
    pattern_type: String,
    valid_from: String,
    #[serde(default)]
    valid_until: Option<String>,
    #[serde(default)]
    revoked: bool,
    #[serde(default)]
    confidence: Option<u8>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    indicator_types: Vec<String>,
    #[serde(default)]
    created_by_ref: Option<String>,
}

/// Read one bundle. `file_name` names the default source
/// (`STIX feed.json`); `now` decides what has expired.
pub(super) fn parse_bundle(
    bytes: &[u8],
    file_name: &str,
    now: OffsetDateTime,
) -> Result<Bundle, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|err| format!("not JSON: {err}"))?;
    let serde_json::Value::Object(top) = value else {
        return Err(not_a_bundle());
    };
    if top.get("type").and_then(|t| t.as_str()) != Some("bundle") {
        return Err(not_a_bundle());
    }
    let objects = match top.get("objects") {
        None => return Ok(Bundle::default()),
        Some(serde_json::Value::Array(objects)) => objects,
        Some(_) => return Err("`objects` is not a list".into()),
    };

    // Pass 1: every object has a type; identities give source names.
    let mut identities: HashMap<&str, &str> = HashMap::new();
    for (index, object) in objects.iter().enumerate() {
        let Some(kind) = object.get("type").and_then(|t| t.as_str()) else {
            return Err(format!("objects[{index}] has no `type`"));
        };
        if kind == "identity"
            && let (Some(id), Some(name)) = (
                object.get("id").and_then(|v| v.as_str()),
                object.get("name").and_then(|v| v.as_str()),
            )
            && !name.trim().is_empty()
        {
            identities.insert(id, name.trim());
        }
    }

    // Pass 2: indicators.
    let mut bundle = Bundle::default();
    for (index, object) in objects.iter().enumerate() {
        if object.get("type").and_then(|t| t.as_str()) != Some("indicator") {
            continue;
        }
        let id = object
            .get("id")
            .and_then(|v| v.as_str())
            .unwrap_or("indicator");
        let what = format!("objects[{index}] ({id})");
        let indicator = Indicator::deserialize(object).map_err(|err| {
            if object.get("pattern_type").is_none() && object.get("pattern").is_some() {
                format!("{what}: {err} (STIX 2.1 requires it; is this a STIX 2.0 bundle?)")
            } else {
                format!("{what}: {err}")
            }
        })?;
        let confidence = indicator.confidence.unwrap_or(DEFAULT_CONFIDENCE);
        if confidence > 100 {
            return Err(format!("{what}: confidence {confidence} is over 100"));
        }
        let valid_from =
            timestamp(&indicator.valid_from).map_err(|bad| format!("{what}: valid_from {bad}"))?;
        let valid_until = match &indicator.valid_until {
            Some(text) => {
                Some(timestamp(text).map_err(|bad| format!("{what}: valid_until {bad}"))?)
            }
            None => None,
        };

        let skip = |why: String| format!("{}: {why}", indicator.id);
        if indicator.revoked {
            bundle.skipped.push(skip("revoked".into()));
            continue;
        }
        if let Some(until) = valid_until
            && until < now
        {
            bundle.skipped.push(skip(format!(
                "expired (valid_until {})",
                indicator.valid_until.as_deref().unwrap_or_default()
            )));
            continue;
        }
        if valid_from > now {
            bundle.skipped.push(skip(format!(
                "not valid yet (valid_from {})",
                indicator.valid_from
            )));
            continue;
        }
        if indicator.pattern_type != "stix" {
            bundle.skipped.push(skip(format!(
                "pattern_type {:?} is not read (only \"stix\")",
                indicator.pattern_type
            )));
            continue;
        }
        let parsed = match pattern::parse(&indicator.pattern) {
            Ok(parsed) => parsed,
            Err(err) => {
                bundle
                    .skipped
                    .push(skip(format!("pattern does not parse: {err}")));
                continue;
            }
        };
        let harvest = pattern::harvest(&parsed);
        if harvest.values.is_empty() {
            let mut notes = harvest.passed_over;
            if harvest.more > 0 {
                notes.push(format!("and {} more", harvest.more));
            }
            let why = if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            };
            bundle
                .skipped
                .push(skip(format!("nothing in the pattern can be matched{why}")));
            continue;
        }

        let source = indicator
            .created_by_ref
            .as_deref()
            .and_then(|by| identities.get(by))
            .map_or_else(|| format!("STIX {file_name}"), |name| (*name).to_owned());
        let verdict = verdict(&indicator.indicator_types);
        let mut tags: Vec<String> = Vec::new();
        for tag in indicator
            .labels
            .iter()
            .chain(&indicator.indicator_types)
            .map(|t| t.trim())
            .chain(["stix"])
        {
            if !tag.is_empty() && !tags.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
                tags.push(tag.to_owned());
            }
        }
        for (indicator_type, value) in harvest.values {
            bundle.records.push(IntelRecord {
                indicator: value,
                indicator_type,
                verdict,
                source: source.clone(),
                confidence,
                tags: tags.clone(),
            });
        }
    }
    Ok(bundle)
}

fn not_a_bundle() -> String {
    "not a STIX bundle (the top level must be an object with \"type\": \"bundle\")".into()
}

fn timestamp(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| format!("{text:?} is not an RFC 3339 time"))
}

/// `benign` wins; only `anomalous-activity` and `unknown` make an indicator
/// merely suspicious; anything else (or nothing) is malicious, as an
/// indicator is published to detect something bad.
fn verdict(indicator_types: &[String]) -> IntelVerdict {
    let is = |t: &String, name: &str| t.trim().eq_ignore_ascii_case(name);
    if indicator_types.iter().any(|t| is(t, "benign")) {
        IntelVerdict::Benign
    } else if !indicator_types.is_empty()
        && indicator_types
            .iter()
            .all(|t| is(t, "anomalous-activity") || is(t, "unknown"))
    {
        IntelVerdict::Suspicious
    } else {
        IntelVerdict::Malicious
    }
}

#[cfg(test)]
mod tests;
