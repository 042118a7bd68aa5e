//! Detections as chainsaw (`hunt ... --json` / `--jsonl`) emits them: Sigma
//! rule hits (`group: "Sigma"`, with `id`, `tags`, `logsource`) and
//! chainsaw's own rules (other groups), each with the matched Windows event
//! in `document.data.Event` (`System` and `EventData` or `UserData`).

use serde_json::Value;
use warden_domain::{ObservableKind, RuleRef};

use super::{AlertDraft, FormatError, named_severity, required_time, sysmon_hashes};
use crate::fields::{lookup, string, strings};

/// A chainsaw detection has a rule `name` and the matched `document`.
pub fn matches(payload: &Value) -> bool {
    payload.get("name").is_some_and(Value::is_string)
        && payload.get("document").is_some_and(Value::is_object)
        && (payload.get("group").is_some() || payload.get("kind").is_some())
}

/// Fill `draft` from a chainsaw detection.
pub fn normalise(payload: &Value, draft: &mut AlertDraft) -> Result<(), FormatError> {
    use ObservableKind as K;
    let group = string(payload, "group").unwrap_or_else(|| "chainsaw".into());
    draft.product = Some(match string(payload, "source").as_deref() {
        Some("sigma") => "chainsaw (Sigma)".into(),
        _ => format!("chainsaw ({group})"),
    });
    draft.time = Some(required_time(
        string(payload, "timestamp"),
        "timestamp",
        "an RFC 3339 time",
    )?);
    let name = string(payload, "name").ok_or(FormatError::Missing("name"))?;
    draft.rule = Some(RuleRef {
        uid: string(payload, "id").or_else(|| Some(format!("chainsaw:{group}:{name}"))),
        name: name.clone(),
    });
    draft.title = Some(name);
    draft.description = Some(
        match (
            string(payload, "logsource.product"),
            string(payload, "logsource.category"),
        ) {
            (Some(product), Some(category)) => format!("{group} detection on {product}/{category}"),
            _ => format!("{group} detection"),
        },
    );
    draft.severity = Some(named_severity(string(payload, "level"), ""));

    for tag in strings(payload, "tags") {
        if tag.starts_with("attack.t") {
            draft.attack(&tag, None, None);
        }
    }
    // Sigma tags carry tactics separately (attack.<tactic>): give them to
    // every technique of the detection.
    let tactics: Vec<String> = strings(payload, "tags")
        .into_iter()
        .filter_map(|t| t.strip_prefix("attack.").map(str::to_owned))
        .filter(|t| !t.starts_with('t') && !t.starts_with('g') && !t.starts_with('s'))
        .collect();
    for attack in &mut draft.attacks {
        for tactic in &tactics {
            if !attack.tactics.contains(tactic) {
                attack.tactics.push(tactic.clone());
            }
        }
    }

    let Some(event) = lookup(payload, "document.data.Event") else {
        return Ok(());
    };
    if let Some(computer) = string(event, "System.Computer") {
        draft.field(K::Host, "document.data.Event.System.Computer", &computer);
    }
    let data = lookup(event, "EventData")
        .filter(|d| d.is_object())
        .or_else(|| lookup(event, "UserData").and_then(first_object));
    let Some(data) = data else {
        return Ok(());
    };
    let prefix = "document.data.Event.EventData";
    for (kind, key) in [
        (K::User, "User"),
        (K::User, "SubjectUserName"),
        (K::User, "TargetUserName"),
        (K::Ip, "IpAddress"),
        (K::Ip, "SourceIp"),
        (K::Ip, "DestinationIp"),
        (K::Ip, "SourceAddress"),
        (K::Ip, "DestAddress"),
        (K::Host, "WorkstationName"),
        (K::Domain, "QueryName"),
        (K::Domain, "DestinationHostname"),
        (K::Process, "Image"),
        (K::Process, "ParentImage"),
        (K::Process, "NewProcessName"),
        (K::Process, "SourceImage"),
        (K::Process, "TargetImage"),
    ] {
        if let Some(value) = string(data, key) {
            // Windows writes "-" for none and "HOST$" for machine accounts.
            if kind == K::User && (value.ends_with('$') || value == "-") {
                continue;
            }
            if kind == K::User {
                let domain = string(data, key.replace("UserName", "DomainName").as_str())
                    .filter(|_| key.ends_with("UserName"));
                let qualified = match domain {
                    Some(domain) if !domain.is_empty() && domain != "-" => {
                        format!("{domain}\\{value}")
                    }
                    _ => value,
                };
                draft.field(kind, &format!("{prefix}.{key}"), &qualified);
                continue;
            }
            draft.field(kind, &format!("{prefix}.{key}"), &value);
        }
    }
    // Sysmon: Hashes = "SHA1=..,MD5=..,SHA256=..,IMPHASH=..".
    if let Some(hashes) = string(data, "Hashes") {
        for hash in sysmon_hashes(&hashes) {
            draft.field(K::FileHash, &format!("{prefix}.Hashes"), hash);
        }
    }
    for key in [
        "CommandLine",
        "ParentCommandLine",
        "ScriptBlockText",
        "Details",
        "TargetObject",
    ] {
        if let Some(text) = string(data, key) {
            draft.text(&format!("{prefix}.{key}"), text);
        }
    }
    Ok(())
}

/// `UserData` wraps its fields in one named object.
fn first_object(value: &Value) -> Option<&Value> {
    value.as_object()?.values().find(|v| v.is_object())
}

#[cfg(test)]
mod tests;
