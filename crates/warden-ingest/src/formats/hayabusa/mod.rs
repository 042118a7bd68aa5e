//! Sigma detections as hayabusa `json-timeline` writes them (one object per
//! detection; `-L` gives JSONL). Every output profile carries `Timestamp`,
//! `Computer`, `Channel`, `EventID`, `Level`, `RecordID`, `RuleTitle` and
//! `Details`; the verbose ones add `MitreTactics`, `MitreTags`, `OtherTags`,
//! `RuleFile`, `EvtxFile`, and super-verbose adds `RuleID`, `RuleAuthor`,
//! `Provider` and more. `Details` holds the rule's chosen event fields under
//! hayabusa's short names (`Cmdline`, `Proc`, `TgtUser`, `SrcIP`...);
//! `ExtraFieldInfo` (or `AllFieldInfo`) holds the rest under their Windows
//! names.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use warden_domain::{ObservableKind, RuleRef, Severity, VendorSeverity};

use super::{AlertDraft, FormatError, named_severity, parse_rfc3339, sysmon_hashes};
use crate::fields::{string, strings};

/// Hayabusa's field names, short or Windows, and the observable each holds.
const STRUCTURED: &[(&str, ObservableKind)] = &[
    ("User", ObservableKind::User),
    ("SrcUser", ObservableKind::User),
    ("TgtUser", ObservableKind::User),
    ("TargetUserName", ObservableKind::User),
    ("SubjectUserName", ObservableKind::User),
    ("SrcIP", ObservableKind::Ip),
    ("TgtIP", ObservableKind::Ip),
    ("IpAddress", ObservableKind::Ip),
    ("SourceIp", ObservableKind::Ip),
    ("DestinationIp", ObservableKind::Ip),
    ("SrcComp", ObservableKind::Host),
    ("SrcHost", ObservableKind::Host),
    ("TgtHost", ObservableKind::Host),
    ("WorkstationName", ObservableKind::Host),
    ("Proc", ObservableKind::Process),
    ("SrcProc", ObservableKind::Process),
    ("TgtProc", ObservableKind::Process),
    ("ParentImage", ObservableKind::Process),
    ("Image", ObservableKind::Process),
    ("Query", ObservableKind::Domain),
    ("QueryName", ObservableKind::Domain),
];

/// A hayabusa detection has a `RuleTitle`, a `Timestamp` and the Windows
/// event's `Channel` or `EventID`.
pub fn matches(payload: &Value) -> bool {
    payload.get("RuleTitle").is_some_and(Value::is_string)
        && payload.get("Timestamp").is_some()
        && (payload.get("Channel").is_some() || payload.get("EventID").is_some())
}

/// Fill `draft` from a hayabusa detection.
pub fn normalise(payload: &Value, draft: &mut AlertDraft) -> Result<(), FormatError> {
    draft.product = Some("hayabusa (Sigma)".into());
    let timestamp = string(payload, "Timestamp").ok_or(FormatError::Missing("Timestamp"))?;
    draft.time = Some(parse_time(&timestamp).ok_or(FormatError::WrongType {
        field: "Timestamp",
        expected: "a hayabusa time (2026-11-17 10:00:00.000 +00:00, ISO 8601 or RFC 2822)",
    })?);
    let title = string(payload, "RuleTitle").ok_or(FormatError::Missing("RuleTitle"))?;
    draft.rule = Some(RuleRef {
        uid: string(payload, "RuleID")
            .or_else(|| string(payload, "RuleFile"))
            .or_else(|| Some(format!("hayabusa:{title}"))),
        name: title.clone(),
    });
    draft.title = Some(title);
    draft.vendor_id = match (string(payload, "Computer"), string(payload, "RecordID")) {
        (Some(computer), Some(record)) => Some(format!("{computer}:{record}")),
        _ => None,
    };
    draft.severity = Some(level(string(payload, "Level")));
    let channel = string(payload, "Channel").unwrap_or_else(|| "?".into());
    let event_id = string(payload, "EventID").unwrap_or_else(|| "?".into());
    draft.description = Some(format!(
        "hayabusa detection on {channel} event {event_id}{}",
        details_text(payload)
    ));

    // Tags: arrays since hayabusa 2.12, "a ¦ b" strings before.
    let tactics: Vec<String> = tag_list(payload, "MitreTactics");
    for tag in tag_list(payload, "MitreTags") {
        for tactic in &tactics {
            draft.attack(&tag, None, Some(tactic_name(tactic).to_owned()));
        }
        if tactics.is_empty() {
            draft.attack(&tag, None, None);
        }
    }

    if let Some(computer) = string(payload, "Computer") {
        draft.field(ObservableKind::Host, "Computer", &computer);
    }
    for section in ["Details", "ExtraFieldInfo", "AllFieldInfo"] {
        if let Some(fields) = payload.get(section).and_then(Value::as_object) {
            event_fields(section, fields, draft);
        }
    }
    Ok(())
}

fn event_fields(section: &str, fields: &Map<String, Value>, draft: &mut AlertDraft) {
    for (key, value) in fields {
        let Some(text) = scalar(value) else {
            continue;
        };
        let path = || format!("{section}.{key}");
        if key == "Hashes" {
            for hash in sysmon_hashes(&text) {
                draft.field(ObservableKind::FileHash, &path(), hash);
            }
            continue;
        }
        match STRUCTURED.iter().find(|(name, _)| name == key) {
            // Windows writes "-" for none and "HOST$" for machine accounts.
            Some(_) if text == "-" => {}
            Some((_, ObservableKind::User)) if text.ends_with('$') => {}
            Some((_, kind)) => draft.field(*kind, &path(), &text),
            // Everything else (command lines, script blocks, paths) is
            // attacker-influenced text: scanned, never trusted. Most of it
            // (ids, flags, numbers) cannot hold an observable at all.
            None if crate::extract::worth_scanning(&text) => draft.text(&path(), text),
            None => {}
        }
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() && s != "n/a" => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `Details` as `key: value` text for the description (untrusted).
fn details_text(payload: &Value) -> String {
    match payload.get("Details") {
        Some(Value::Object(fields)) => {
            let mut text = String::new();
            for (key, value) in fields {
                let Some(value) = scalar(value) else {
                    continue;
                };
                text.push_str(if text.is_empty() { ": " } else { " ¦ " });
                text.push_str(key);
                text.push_str(": ");
                text.push_str(&value);
            }
            text
        }
        Some(Value::String(text)) if text != "-" => format!(": {text}"),
        _ => String::new(),
    }
}

fn tag_list(payload: &Value, key: &str) -> Vec<String> {
    strings(payload, key)
        .iter()
        .flat_map(|tag| tag.split('¦'))
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Hayabusa abbreviates tactic names; the ATT&CK catalogue knows the full
/// ones.
fn tactic_name(short: &str) -> &str {
    match short {
        "Recon" => "Reconnaissance",
        "ResDev" => "Resource Development",
        "InitAccess" => "Initial Access",
        "Exec" => "Execution",
        "Persis" => "Persistence",
        "PrivEsc" => "Privilege Escalation",
        "Evas" => "Defense Evasion",
        "CredAccess" => "Credential Access",
        "Disc" => "Discovery",
        "LatMov" => "Lateral Movement",
        "Collect" => "Collection",
        "C2" => "Command and Control",
        "Exfil" => "Exfiltration",
        "Impact" => "Impact",
        other => other,
    }
}

/// `crit`, `high`, `med`, `low`, `info` (and the long spellings of older
/// versions).
fn level(name: Option<String>) -> VendorSeverity {
    let level = match name.as_deref().map(str::trim) {
        Some("crit") => Some(Severity::Critical),
        Some("med") => Some(Severity::Medium),
        _ => None,
    };
    match (level, name) {
        (Some(level), Some(original)) => VendorSeverity { level, original },
        (_, name) => named_severity(name, ""),
    }
}

/// Hayabusa's default `2026-11-17 10:00:00.123 +09:00`, or the ISO 8601 /
/// RFC 3339 and RFC 2822 forms its options select.
fn parse_time(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    if let Some(time) = parse_rfc3339(text) {
        return Some(time);
    }
    if let Ok(time) = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc2822) {
        return Some(time);
    }
    // "date time offset" -> "dateTtimeoffset"
    let (date, rest) = text.split_once(' ')?;
    let (clock, offset) = rest.rsplit_once(' ')?;
    parse_rfc3339(&format!("{date}T{clock}{offset}"))
}

#[cfg(test)]
mod tests;
