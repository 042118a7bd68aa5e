//! IBM QRadar Log Event Extended Format (LEEF) lines, 1.0 and 2.0.
//!
//! `LEEF:1.0|Vendor|Product|Version|EventID|` then tab-separated
//! `key=value` attributes, or `LEEF:2.0|...|EventID|Delimiter|` with the
//! delimiter of the sender's choice; alone or after a syslog header, held as
//! a JSON string. [`parse`] reads the line; [`normalise`] maps it: the rule
//! is the product's event id (and `cat`, which QRadar's QID map pairs with
//! it), the severity from `sev` (see [`severity`]), the time from `devTime`
//! read with `devTimeFormat` when given, and entities from the predefined
//! attributes in [`ENTITY_KEYS`] and the CEF dictionary keys LEEF senders
//! also use (`shost`, `duser`, `fileHash`...). Custom attributes are kept in
//! the alert's raw line.
//!
//! Layout: `parse.rs` reads the line; `time.rs` reads `devTime` with a
//! Java date pattern; this file maps it; `tests.rs` holds the golden tests
//! on vendors' published examples (`testdata/leef/`).

mod parse;
#[cfg(test)]
mod tests;
mod time;

pub use parse::{LeefError, LeefEvent, parse};

use serde_json::Value;
use warden_domain::{ObservableKind, RuleRef, Severity, VendorSeverity};

use super::cef::{product_name, record_pairs, rule_uid};
use super::text::{self, DateError, LineFormat};
use super::{AlertDraft, FormatError};

/// A JSON string holding a LEEF line (after an optional syslog header).
pub fn matches(payload: &Value) -> bool {
    text::locate(payload).is_some_and(|(format, _)| format == LineFormat::Leef)
}

/// Fill `draft` from a LEEF line.
pub fn normalise(payload: &Value, draft: &mut AlertDraft) -> Result<(), FormatError> {
    let line = payload.as_str().ok_or(FormatError::WrongType {
        field: "payload",
        expected: "a LEEF line (a JSON string)",
    })?;
    let start = match text::locate_text(line) {
        Some((LineFormat::Leef, at)) => at,
        _ => return Err(FormatError::Malformed(LeefError::NoMarker.to_string())),
    };
    let event = line
        .get(start..)
        .ok_or_else(|| FormatError::Malformed(LeefError::NoMarker.to_string()))
        .and_then(|leef| {
            parse(leef).map_err(|err| {
                let err = match err {
                    LeefError::Stray { at } => LeefError::Stray { at: at + start },
                    other => other,
                };
                FormatError::Malformed(err.to_string())
            })
        })?;

    let vendor = event.vendor.trim();
    let product = event.product.trim();
    let event_id = event.event_id.trim();
    if event_id.is_empty() {
        return Err(FormatError::Missing("event id"));
    }
    let category = event.get("cat").map(str::trim).filter(|c| !c.is_empty());
    let mut parts = vec![vendor, product, event_id];
    parts.extend(category);
    draft.product = Some(product_name(vendor, product));
    draft.rule = Some(RuleRef {
        uid: Some(rule_uid(&parts)),
        name: product_name(vendor, &product_name(product, event_id)),
    });
    draft.title = Some(match category {
        Some(category) => format!("{event_id} ({category})"),
        None => event_id.to_owned(),
    });
    draft.description = event.get("msg").map(str::to_owned);
    draft.severity = Some(severity(event.get("sev")));
    draft.time = match event_time(&event, draft.time)? {
        Some(time) => Some(time),
        None => return Err(FormatError::Missing("devTime (the event time)")),
    };
    record_pairs(draft, &event.attributes, ENTITY_KEYS, TEXT_KEYS);
    Ok(())
}

/// `devTime`, read with `devTimeFormat` (a Java date pattern) when the
/// event gives one, else in the forms CEF dates take (epoch milliseconds,
/// `MMM dd yyyy HH:mm:ss[.SSS][ zone]`, RFC 3339). A date without a year
/// gives way to the received time when there is one.
fn event_time(
    event: &LeefEvent,
    fallback: Option<::time::OffsetDateTime>,
) -> Result<Option<::time::OffsetDateTime>, FormatError> {
    let Some(value) = event.get("devTime").filter(|v| !v.trim().is_empty()) else {
        return Ok(fallback);
    };
    let pattern = event
        .get("devTimeFormat")
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let parsed = match pattern {
        Some(pattern) => time::parse_with_pattern(value, pattern)
            .or_else(|err| text::parse_date(value).map_err(|_| err)),
        None => text::parse_date(value),
    };
    match parsed {
        Ok(time) => Ok(Some(time)),
        Err(DateError::NoYear) if fallback.is_some() => Ok(fallback),
        Err(err) => Err(FormatError::Malformed(match pattern {
            Some(pattern) => format!(
                "field devTime has the wrong value {value:?} for devTimeFormat {pattern:?}: {}",
                err.reason()
            ),
            None => format!(
                "field devTime has the wrong value {value:?}: {}",
                err.reason()
            ),
        })),
    }
}

/// LEEF `sev` (1 lowest to 10 highest) to Warden's severity, on the same
/// bands as CEF: `0` informational, `1`-`3` low, `4`-`6` medium, `7`-`8`
/// high, `9`-`10` critical. Absent is medium (`absent`); anything else is
/// medium with the value kept, marked as not a LEEF severity.
pub fn severity(sev: Option<&str>) -> VendorSeverity {
    let Some(text) = sev.map(str::trim).filter(|s| !s.is_empty()) else {
        return VendorSeverity {
            level: Severity::Medium,
            original: "absent".into(),
        };
    };
    let level = match text.parse::<u8>() {
        Ok(0) => Some(Severity::Informational),
        Ok(1..=3) => Some(Severity::Low),
        Ok(4..=6) => Some(Severity::Medium),
        Ok(7..=8) => Some(Severity::High),
        Ok(9..=10) => Some(Severity::Critical),
        _ => None,
    };
    match level {
        Some(level) => VendorSeverity {
            level,
            original: format!("sev {text}"),
        },
        None => VendorSeverity {
            level: Severity::Medium,
            original: format!("sev {text} (not a LEEF severity)"),
        },
    }
}

/// The predefined LEEF attributes that name entities: (key, path, kind).
/// The key is the path: its words give the role (`src...` the actor,
/// `dst...` and `url` the target). `identSrc`, `identHostName` and
/// `identUsrName` are the identity QRadar learns from the event (the
/// actor).
pub const ENTITY_KEYS: &[(&str, &str, ObservableKind)] = &[
    ("src", "src", ObservableKind::Ip),
    ("dst", "dst", ObservableKind::Ip),
    ("srcPreNAT", "srcPreNAT", ObservableKind::Ip),
    ("dstPreNAT", "dstPreNAT", ObservableKind::Ip),
    ("srcPostNAT", "srcPostNAT", ObservableKind::Ip),
    ("dstPostNAT", "dstPostNAT", ObservableKind::Ip),
    ("identSrc", "identSrc", ObservableKind::Ip),
    ("usrName", "usrName", ObservableKind::User),
    ("identUsrName", "identUsrName", ObservableKind::User),
    ("accountName", "accountName", ObservableKind::User),
    ("identHostName", "identHostName", ObservableKind::Host),
    ("url", "url", ObservableKind::Url),
];

/// LEEF attributes whose values are free text (the CEF ones apply too).
pub const TEXT_KEYS: &[(&str, &str)] = &[("resource", "resource"), ("policy", "policy")];
