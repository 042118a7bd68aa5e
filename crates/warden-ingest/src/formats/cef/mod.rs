//! ArcSight Common Event Format (CEF) lines.
//!
//! `CEF:Version|Device Vendor|Device Product|Device Version|Device Event
//! Class ID|Name|Severity|Extension`, alone or after a syslog header, held
//! as a JSON string (the reader and `parse_record` make one of a text line).
//! [`parse`] reads the line and undoes its escaping; [`normalise`] maps it:
//! the rule is the device event class id of the vendor's product, the
//! title the event's Name (sender text, untrusted like every title), the
//! severity from the header (see [`severity`]), the time from `rt`, else
//! `start`, else `end`, and entities from the dictionary keys in
//! [`ENTITY_KEYS`], each recorded under the key's full name
//! (`destinationHostName` for `dhost`) so that the field says whether it is
//! the source or the destination of the activity. Custom and unknown keys
//! are kept in the alert's raw line, as is the syslog header.
//!
//! Layout: `parse.rs` reads the line; this file maps it; `tests.rs` holds
//! the golden tests on vendors' published examples (`testdata/cef/`).

mod parse;
#[cfg(test)]
mod tests;

pub(crate) use parse::split_pairs;
pub use parse::{CefError, CefEvent, parse};

use serde_json::Value;
use time::OffsetDateTime;
use warden_domain::{ObservableKind, RuleRef, Severity, VendorSeverity};

use super::text::{self, DateError, LineFormat};
use super::{AlertDraft, FormatError};

/// A JSON string holding a CEF line (after an optional syslog header).
pub fn matches(payload: &Value) -> bool {
    text::locate(payload).is_some_and(|(format, _)| format == LineFormat::Cef)
}

/// The rule name stands in for the event's Name: the line's Device Event
/// Class ID is empty, so its Name (text the sender writes) named the rule.
/// A line that does not parse says nothing stable either.
pub fn rule_name_is_title(payload: &Value) -> bool {
    let Some(line) = payload.as_str() else {
        return true;
    };
    let Some((LineFormat::Cef, start)) = text::locate_text(line) else {
        return true;
    };
    line.get(start..)
        .and_then(|cef| parse(cef).ok())
        .is_none_or(|event| event.event_class_id.trim().is_empty())
}

/// Fill `draft` from a CEF line.
pub fn normalise(payload: &Value, draft: &mut AlertDraft) -> Result<(), FormatError> {
    let line = payload.as_str().ok_or(FormatError::WrongType {
        field: "payload",
        expected: "a CEF line (a JSON string)",
    })?;
    let start = match text::locate_text(line) {
        Some((LineFormat::Cef, at)) => at,
        _ => return Err(FormatError::Malformed(CefError::NoMarker.to_string())),
    };
    let event = line
        .get(start..)
        .ok_or_else(|| FormatError::Malformed(CefError::NoMarker.to_string()))
        .and_then(|cef| parse(cef).map_err(|err| located(err, start)))?;

    let vendor = event.device_vendor.trim();
    let product = event.device_product.trim();
    let class_id = event.event_class_id.trim();
    let name = event.name.trim();
    let id = if class_id.is_empty() { name } else { class_id };
    if id.is_empty() {
        return Err(FormatError::Missing("device event class id (or name)"));
    }
    draft.product = Some(product_name(vendor, product));
    draft.rule = Some(RuleRef {
        uid: Some(rule_uid(&[vendor, product, id])),
        name: product_name(vendor, &product_name(product, id)),
    });
    draft.title = Some(if name.is_empty() { id } else { name }.to_owned());
    draft.description = event.get("msg").map(str::to_owned);
    draft.vendor_id = event
        .get("externalId")
        .filter(|id| !id.trim().is_empty())
        .map(str::to_owned);
    draft.severity = Some(severity(&event.severity));

    let time = event_time(
        &event.extension,
        &[
            ("rt", "deviceReceiptTime"),
            ("start", "startTime"),
            ("end", "endTime"),
        ],
        draft.time,
    )?;
    draft.time = Some(time.ok_or(FormatError::Missing("rt, start or end (the event time)"))?);
    record_pairs(draft, &event.extension, &[], &[]);
    Ok(())
}

/// A parse error with its byte offset counted from the start of the line
/// (syslog header included), not of the CEF part.
fn located(err: CefError, start: usize) -> FormatError {
    let err = match err {
        CefError::Stray { at } => CefError::Stray { at: at + start },
        other => other,
    };
    FormatError::Malformed(err.to_string())
}

/// `Vendor Product`, without doubling a vendor the product already names
/// (`Trend Micro` + `Trend Micro Apex One`).
pub(crate) fn product_name(vendor: &str, product: &str) -> String {
    match (vendor.is_empty(), product.is_empty()) {
        (true, _) => product.to_owned(),
        (false, true) => vendor.to_owned(),
        (false, false) if product.starts_with(vendor) => product.to_owned(),
        (false, false) => format!("{vendor} {product}"),
    }
}

/// `Vendor|Product|Id` (and more parts, such as LEEF's category) spelt as
/// a CEF header spells it (`|` and `\` escaped), so that two vendors' ids
/// never collide and the uid reads back unambiguously.
pub(crate) fn rule_uid(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|part| part.replace('\\', "\\\\").replace('|', "\\|"))
        .collect::<Vec<_>>()
        .join("|")
}

/// CEF severity to Warden's: `0` informational, `1`-`3` low, `4`-`6`
/// medium, `7`-`8` high, `9`-`10` critical; the names `Low`, `Medium`,
/// `High`, `Very-High` (critical) and `Unknown` (medium, to be looked at).
/// Anything else is medium with the value kept, marked as not a CEF
/// severity, so the alert is looked at rather than dropped.
pub fn severity(text: &str) -> VendorSeverity {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return VendorSeverity {
            level: Severity::Medium,
            original: "absent".into(),
        };
    }
    let level = match trimmed.parse::<u8>() {
        Ok(0) => Some(Severity::Informational),
        Ok(1..=3) => Some(Severity::Low),
        Ok(4..=6) => Some(Severity::Medium),
        Ok(7..=8) => Some(Severity::High),
        Ok(9..=10) => Some(Severity::Critical),
        Ok(_) => None,
        Err(_) => match trimmed.to_ascii_lowercase().as_str() {
            "unknown" | "medium" => Some(Severity::Medium),
            "low" => Some(Severity::Low),
            "high" => Some(Severity::High),
            "very-high" | "very high" | "veryhigh" => Some(Severity::Critical),
            _ => None,
        },
    };
    match level {
        Some(level) => VendorSeverity {
            level,
            original: format!("severity {trimmed}"),
        },
        None => VendorSeverity {
            level: Severity::Medium,
            original: format!("severity {trimmed} (not a CEF severity)"),
        },
    }
}

/// The first time among `keys` (each a key and its full name) present in
/// `pairs`. An unreadable value is an error naming the key; a date without
/// a year is skipped when the message has a received time (`fallback`),
/// which is then the alert's time.
pub(crate) fn event_time(
    pairs: &[(String, String)],
    keys: &[(&str, &str)],
    fallback: Option<OffsetDateTime>,
) -> Result<Option<OffsetDateTime>, FormatError> {
    for (key, full) in keys {
        let Some((sent, value)) = pairs
            .iter()
            .find(|(k, v)| (k == key || k == full) && !v.trim().is_empty())
        else {
            continue;
        };
        match text::parse_date(value) {
            Ok(time) => return Ok(Some(time)),
            Err(DateError::NoYear) if fallback.is_some() => return Ok(fallback),
            Err(err) => {
                return Err(FormatError::Malformed(format!(
                    "field {sent} has the wrong value {value:?}: {}",
                    err.reason()
                )));
            }
        }
    }
    Ok(fallback)
}

/// The CEF dictionary keys that name entities: (key, full name, kind).
/// Entities are recorded under the full name, whose words give the role
/// (`source...` the actor, `destination...` and `requestUrl` the target).
/// The device fields (`dvc`, `dvchost`) name the reporting device, which
/// for an endpoint product is the affected host. Custom fields (`cs1`,
/// `c6a1`...) are not entities: their meaning is whatever their label
/// says.
pub const ENTITY_KEYS: &[(&str, &str, ObservableKind)] = &[
    ("src", "sourceAddress", ObservableKind::Ip),
    ("dst", "destinationAddress", ObservableKind::Ip),
    (
        "sourceTranslatedAddress",
        "sourceTranslatedAddress",
        ObservableKind::Ip,
    ),
    (
        "destinationTranslatedAddress",
        "destinationTranslatedAddress",
        ObservableKind::Ip,
    ),
    ("dvc", "deviceAddress", ObservableKind::Ip),
    ("shost", "sourceHostName", ObservableKind::Host),
    ("dhost", "destinationHostName", ObservableKind::Host),
    ("dvchost", "deviceHostName", ObservableKind::Host),
    ("suser", "sourceUserName", ObservableKind::User),
    ("duser", "destinationUserName", ObservableKind::User),
    ("request", "requestUrl", ObservableKind::Url),
    ("fileHash", "fileHash", ObservableKind::FileHash),
    ("oldFileHash", "oldFileHash", ObservableKind::FileHash),
    ("sproc", "sourceProcessName", ObservableKind::Process),
    ("dproc", "destinationProcessName", ObservableKind::Process),
    (
        "deviceProcessName",
        "deviceProcessName",
        ObservableKind::Process,
    ),
];

/// The CEF keys whose values are free text someone outside chose (the
/// message, file names and paths, the user agent, custom strings): kept
/// as untrusted text and scanned for indicators, never entities.
pub const TEXT_KEYS: &[(&str, &str)] = &[
    ("msg", "message"),
    ("reason", "reason"),
    ("requestClientApplication", "requestClientApplication"),
    ("requestContext", "requestContext"),
    ("fname", "fileName"),
    ("filePath", "filePath"),
    ("oldFileName", "oldFileName"),
    ("oldFilePath", "oldFilePath"),
    ("cs1", "deviceCustomString1"),
    ("cs2", "deviceCustomString2"),
    ("cs3", "deviceCustomString3"),
    ("cs4", "deviceCustomString4"),
    ("cs5", "deviceCustomString5"),
    ("cs6", "deviceCustomString6"),
    ("flexString1", "flexString1"),
    ("flexString2", "flexString2"),
];

/// The NT domain keys that qualify a user key (`sntdom` for `suser`).
const USER_DOMAINS: &[(&str, &str, &str)] = &[
    ("sourceUserName", "sntdom", "sourceNtDomain"),
    ("destinationUserName", "dntdom", "destinationNtDomain"),
];

/// Record the entities and free text of `pairs`: `entities` and `texts`
/// (a format's own keys, tried first) then the CEF dictionary. A key may be
/// sent as its short form or its full name.
pub(crate) fn record_pairs(
    draft: &mut AlertDraft,
    pairs: &[(String, String)],
    entities: &[(&str, &str, ObservableKind)],
    texts: &[(&str, &str)],
) {
    let lookup = |key: &str| -> Option<String> {
        pairs
            .iter()
            .find(|(k, v)| k == key && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_owned())
    };
    for (key, value) in pairs {
        if value.trim().is_empty() {
            continue;
        }
        let entity = entities
            .iter()
            .chain(ENTITY_KEYS)
            .find(|(k, full, _)| k == key || full == key);
        if let Some((_, full, kind)) = entity {
            let value = match USER_DOMAINS.iter().find(|(user, ..)| user == full) {
                Some((_, short, long)) => qualify(value, lookup(short).or_else(|| lookup(long))),
                None => value.clone(),
            };
            match entity_kind(*kind, &value) {
                Some(kind) => draft.field(kind, full, &value),
                // Not a valid value of its kind: text, never an entity.
                None => draft.text(full, value),
            }
            continue;
        }
        if let Some((_, full)) = texts
            .iter()
            .chain(TEXT_KEYS)
            .find(|(k, full)| k == key || full == key)
        {
            draft.text(full, value.clone());
        }
    }
}

/// The kind `value` is recorded as from a field of `kind`, or `None` when
/// it is not a plausible one: a host field holding an address is an IP; a
/// host name has only letters, digits, `-`, `_` and `.`; a URL field must
/// hold an absolute URL (`request=/` is a path). Values that fail stay
/// text, so an attacker-written `Host` such as `${jndi:ldap://x}` never
/// becomes an entity.
fn entity_kind(kind: ObservableKind, value: &str) -> Option<ObservableKind> {
    let value = value.trim();
    match kind {
        ObservableKind::Host if value.parse::<std::net::IpAddr>().is_ok() => {
            Some(ObservableKind::Ip)
        }
        ObservableKind::Host => {
            let plausible = !value.is_empty()
                && value.len() <= 253
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            plausible.then_some(kind)
        }
        ObservableKind::Url => {
            let (scheme, rest) = value.split_once("://")?;
            let absolute = !scheme.is_empty()
                && scheme.chars().all(|c| c.is_ascii_alphabetic())
                && !rest.is_empty()
                && !value.contains(char::is_whitespace);
            absolute.then_some(kind)
        }
        other => Some(other),
    }
}

/// `DOMAIN\user` when the user is not qualified already.
fn qualify(user: &str, domain: Option<String>) -> String {
    match domain {
        Some(domain) if !user.contains(['\\', '@']) => format!("{domain}\\{}", user.trim()),
        _ => user.to_owned(),
    }
}
