//! CrowdStrike Falcon detection summaries as the Event Streams API and the
//! Falcon SIEM Connector deliver them: `{metadata: {eventType,
//! eventCreationTime, offset, customerIDString}, event: {...}}`, where
//! `eventType` is `DetectionSummaryEvent` (detection fields `DetectName`,
//! `DetectDescription`, `ComputerName`, `DetectId`) or the newer
//! `EppDetectionSummaryEvent` (`Name`, `Description`, `Hostname`,
//! `CompositeId`, with `TacticId`/`TechniqueId` and `PatternId`). A bare
//! `event` object, as some SIEM pipelines forward it, is accepted too.

use serde_json::Value;
use warden_domain::{ObservableKind, RuleRef, Severity, VendorSeverity};

use super::{AlertDraft, FormatError, from_epoch, named_severity};
use crate::fields::{array, number, string};

const EVENT_TYPES: [&str; 2] = ["DetectionSummaryEvent", "EppDetectionSummaryEvent"];

/// A streaming-API detection summary, or its bare `event` part.
pub fn matches(payload: &Value) -> bool {
    if let Some(kind) = payload
        .get("metadata")
        .and_then(|m| m.get("eventType"))
        .and_then(Value::as_str)
    {
        return EVENT_TYPES.contains(&kind) && payload.get("event").is_some_and(Value::is_object);
    }
    is_bare_event(payload)
}

fn is_bare_event(payload: &Value) -> bool {
    let has = |key: &str| payload.get(key).is_some();
    (has("DetectId") && has("DetectName"))
        || (has("CompositeId") && has("Name") && (has("Hostname") || has("AgentId")))
}

/// Fill `draft` from a detection summary.
pub fn normalise(payload: &Value, draft: &mut AlertDraft) -> Result<(), FormatError> {
    use ObservableKind as K;
    let (event, at) = match payload.get("event") {
        Some(event) if payload.get("metadata").is_some() => (event, "event."),
        _ => (payload, ""),
    };
    if !event.is_object() {
        return Err(FormatError::WrongType {
            field: "event",
            expected: "an object",
        });
    }
    let path = |field: &str| format!("{at}{field}");
    draft.product = Some("CrowdStrike Falcon".into());
    draft.vendor_id = string(event, "CompositeId").or_else(|| string(event, "DetectId"));
    let millis = number(payload, "metadata.eventCreationTime")
        .or_else(|| number(event, "Timestamp"))
        .or_else(|| number(event, "ContextTimeStamp"))
        .or_else(|| number(event, "ProcessStartTime"))
        .ok_or(FormatError::Missing("metadata.eventCreationTime"))?;
    draft.time = Some(from_epoch(millis).ok_or(FormatError::WrongType {
        field: "metadata.eventCreationTime",
        expected: "Unix milliseconds",
    })?);
    let name = string(event, "DetectName")
        .or_else(|| string(event, "Name"))
        .ok_or(FormatError::Missing("event.DetectName"))?;
    draft.rule = Some(RuleRef {
        uid: string(event, "PatternId").map(|id| format!("falcon:pattern:{id}")),
        name: name.clone(),
    });
    draft.title = Some(name);
    let description = string(event, "DetectDescription").or_else(|| string(event, "Description"));
    // The technique by name, for the many events that carry no id.
    let behaviour = [
        ("Objective", string(event, "Objective")),
        ("Tactic", string(event, "Tactic")),
        ("Technique", string(event, "Technique")),
    ]
    .into_iter()
    .filter_map(|(label, value)| value.map(|v| format!("{label}: {v}")))
    .collect::<Vec<_>>()
    .join("; ");
    draft.description = match (description, behaviour.is_empty()) {
        (Some(text), true) => Some(text),
        (Some(text), false) => Some(format!("{text} ({behaviour})")),
        (None, false) => Some(behaviour),
        (None, true) => None,
    };
    draft.severity = Some(severity(event));
    if let Some(technique) = string(event, "TechniqueId") {
        draft.attack(
            &technique,
            string(event, "Technique"),
            string(event, "Tactic"),
        );
    }

    let host = string(event, "ComputerName").or_else(|| string(event, "Hostname"));
    if let Some(host) = host {
        let field = if event.get("ComputerName").is_some() {
            "ComputerName"
        } else {
            "Hostname"
        };
        draft.field(K::Host, &path(field), &host);
    }
    if let Some(user) = string(event, "UserName").filter(|u| u != "N/A") {
        let domain = string(event, "MachineDomain").or_else(|| string(event, "LogonDomain"));
        let qualified = match domain {
            Some(domain) if !user.contains('\\') && !user.contains('@') => {
                format!("{domain}\\{user}")
            }
            _ => user,
        };
        draft.field(K::User, &path("UserName"), &qualified);
    }
    for key in ["LocalIP", "LocalIPv6", "ExternalIP"] {
        if let Some(ip) = string(event, key) {
            draft.field(K::Ip, &path(key), &ip);
        }
    }
    for key in ["SHA256String", "SHA1String", "MD5String"] {
        // Falcon fills hashes it did not compute with zeros.
        if let Some(hash) = string(event, key).filter(|h| h.chars().any(|c| c != '0')) {
            draft.field(K::FileHash, &path(key), &hash);
        }
    }
    for key in [
        "FileName",
        "ParentImageFileName",
        "GrandparentImageFileName",
    ] {
        if let Some(image) = string(event, key) {
            draft.field(K::Process, &path(key), &image);
        }
    }
    if let (Some(kind), Some(value)) = (string(event, "IOCType"), string(event, "IOCValue")) {
        let kind = match kind.as_str() {
            "hash_sha256" | "hash_md5" | "hash_sha1" => Some(K::FileHash),
            "domain" => Some(K::Domain),
            "ipv4" | "ipv6" => Some(K::Ip),
            _ => None,
        };
        if let Some(kind) = kind {
            draft.field(kind, &path("IOCValue"), &value);
        }
    }
    for (index, access) in array(event, "NetworkAccesses").iter().enumerate() {
        for key in ["RemoteAddress", "LocalAddress"] {
            if let Some(ip) = string(access, key) {
                draft.field(
                    K::Ip,
                    &path(&format!("NetworkAccesses[{index}].{key}")),
                    &ip,
                );
            }
        }
    }
    for (index, request) in array(event, "DnsRequests").iter().enumerate() {
        if let Some(domain) = string(request, "DomainName") {
            draft.field(
                K::Domain,
                &path(&format!("DnsRequests[{index}].DomainName")),
                &domain,
            );
        }
    }
    for key in [
        "CommandLine",
        "ParentCommandLine",
        "GrandparentCommandLine",
        "FilePath",
        "DetectDescription",
        "Description",
    ] {
        if let Some(text) = string(event, key) {
            draft.text(&path(key), text);
        }
    }
    Ok(())
}

/// `SeverityName` when present; else `Severity` 1 (informational) to 5
/// (critical), or a 0-100 score on the EPP events.
fn severity(event: &Value) -> VendorSeverity {
    if let Some(name) = string(event, "SeverityName") {
        return named_severity(Some(name), "");
    }
    let Some(value) = number(event, "Severity") else {
        return named_severity(None, "");
    };
    let level = if value > 5.0 {
        match value {
            v if v >= 90.0 => Severity::Critical,
            v if v >= 70.0 => Severity::High,
            v if v >= 40.0 => Severity::Medium,
            v if v >= 20.0 => Severity::Low,
            _ => Severity::Informational,
        }
    } else {
        match value.round() as i64 {
            5 => Severity::Critical,
            4 => Severity::High,
            3 => Severity::Medium,
            2 => Severity::Low,
            _ => Severity::Informational,
        }
    };
    VendorSeverity {
        level,
        original: format!("Severity {value}"),
    }
}

#[cfg(test)]
mod tests;
