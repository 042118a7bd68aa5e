//! Splunk Enterprise Security notable events, in the two shapes Splunk
//! sends them:
//!
//! - as the REST search API returns them (`index=notable` results): `_time`,
//!   `source`, `_raw` (the notable as `key="value"` pairs written by the
//!   correlation search), and, when ES enriches the notable, fields at the
//!   top level (`rule_name`, `rule_title`, `urgency`, `src`, `dest`, `user`);
//! - as the webhook alert action posts them: `{sid, search_name, app, owner,
//!   results_link, result: {...first result...}}`.
//!
//! Field names follow the Splunk Common Information Model (`src`, `dest`,
//! `user`, `src_user`, `file_hash`, `url`...).

pub mod kv;

use serde_json::Value;
use warden_domain::{ObservableKind, RuleRef};

use super::{AlertDraft, FormatError, from_epoch, named_severity, parse_rfc3339};
use crate::fields::string;

/// A notable from the REST API (`index: notable`, or a `_raw` naming its
/// `search_name`), or a webhook alert-action body.
pub fn matches(payload: &Value) -> bool {
    let notable = payload.get("index").and_then(Value::as_str) == Some("notable")
        || payload
            .get("_raw")
            .and_then(Value::as_str)
            .is_some_and(|raw| raw.contains("search_name="));
    let webhook = payload.get("search_name").is_some_and(Value::is_string)
        && payload.get("result").is_some_and(Value::is_object)
        && (payload.get("sid").is_some() || payload.get("results_link").is_some());
    notable || webhook
}

/// Fill `draft` from a notable.
pub fn normalise(payload: &Value, draft: &mut AlertDraft) -> Result<(), FormatError> {
    use ObservableKind as K;
    // The webhook wraps the result; the API result is the notable itself.
    let (fields, webhook) = match payload.get("result").filter(|r| r.is_object()) {
        Some(result) if payload.get("search_name").is_some() => (result, true),
        _ => (payload, false),
    };
    let raw_text = string(fields, "_raw").unwrap_or_default();
    let raw = kv::parse(&raw_text);
    // A field from the top level, else from `_raw`.
    let get = |key: &str| -> Option<String> {
        string(fields, key)
            .or_else(|| raw.get(key).and_then(|v| v.first()).cloned())
            .filter(|v| !v.trim().is_empty())
    };

    draft.product = Some("Splunk Enterprise Security".into());
    let search_name = if webhook {
        string(payload, "search_name")
    } else {
        None
    }
    .or_else(|| get("search_name"))
    .or_else(|| string(fields, "source"))
    .ok_or(FormatError::Missing("search_name"))?;
    draft.rule = Some(RuleRef {
        uid: Some(search_name.clone()),
        name: search_name.clone(),
    });
    draft.title = get("rule_title")
        .or_else(|| get("rule_name"))
        .or(Some(search_name));
    draft.description = get("rule_description").or_else(|| get("savedsearch_description"));
    draft.vendor_id = get("event_id").or_else(|| {
        if webhook {
            string(payload, "sid")
        } else {
            None
        }
    });

    let time = get("_time")
        .and_then(|t| parse_rfc3339(&t).or_else(|| t.parse::<f64>().ok().and_then(from_epoch)))
        .or_else(|| {
            raw_text
                .split(',')
                .next()
                .and_then(|t| t.trim().parse::<f64>().ok())
                .and_then(from_epoch)
        })
        .ok_or(FormatError::Missing("_time"))?;
    draft.time = Some(time);

    draft.severity = Some(named_severity(
        get("urgency").or_else(|| get("severity")),
        "urgency",
    ));

    // CIM fields: addresses where they parse as IPs, host names otherwise.
    for key in [
        "src",
        "src_ip",
        "dest",
        "dest_ip",
        "dvc",
        "orig_host",
        "dest_host",
        "dest_dns",
        "src_host",
    ] {
        for value in values(fields, &raw, key) {
            let path = source_path(fields, key);
            let kind = if value.parse::<std::net::IpAddr>().is_ok() {
                K::Ip
            } else {
                K::Host
            };
            draft.field(kind, &path, &value);
        }
    }
    for (kind, key) in [
        (K::User, "user"),
        (K::User, "src_user"),
        (K::User, "target_user"),
        (K::User, "event.UserName"),
        (K::FileHash, "file_hash"),
        (K::Url, "url"),
        (K::Domain, "query"),
        (K::Email, "recipient"),
        (K::Email, "sender"),
    ] {
        for value in values(fields, &raw, key) {
            let path = source_path(fields, key);
            draft.field(kind, &path, &value);
        }
    }
    for key in [
        "orig_raw",
        "body",
        "message",
        "description",
        "file_path",
        "process",
    ] {
        if let Some(text) = get(key) {
            draft.text(key, text);
        }
    }
    for technique in values(fields, &raw, "annotations.mitre_attack.mitre_technique_id") {
        draft.attack(
            &technique,
            None,
            get("annotations.mitre_attack.mitre_tactic"),
        );
    }
    Ok(())
}

/// Where `key` was read: the top level, or `_raw`.
fn source_path(fields: &Value, key: &str) -> String {
    if string(fields, key).is_some() {
        key.to_owned()
    } else {
        format!("_raw.{key}")
    }
}

/// Every value of `key`: top-level (string or array), else from `_raw`.
fn values(fields: &Value, raw: &kv::Pairs, key: &str) -> Vec<String> {
    let mut found = crate::fields::strings(fields, key);
    if found.is_empty()
        && let Some(list) = raw.get(key)
    {
        found.extend(list.iter().cloned());
    }
    found.retain(|v| !v.trim().is_empty() && v != "unknown");
    found
}

#[cfg(test)]
mod tests;
