//! Elastic Security detection alerts (ECS with `kibana.alert.*`).
//!
//! Accepts the document as stored in `.alerts-security.alerts-*` (flat dotted
//! `kibana.alert.*` keys beside nested ECS objects), the same document nested,
//! the legacy `signal.*` form, an ECS `event.kind: alert` document with
//! `rule.*`, and Kibana's es_archive envelope (`{type: "doc", value:
//! {source}}`) or a search hit (`{_source}`) around any of them.

use serde_json::Value;
use warden_domain::{ObservableKind, RuleRef, Severity, VendorSeverity};

use super::{AlertDraft, FormatError, required_time};
use crate::fields::{array, lookup, number, string};

/// The alert document inside an es_archive envelope or a search hit.
fn document(payload: &Value) -> &Value {
    if let Some(source) = lookup(payload, "value.source").filter(|v| v.is_object()) {
        return source;
    }
    if let Some(source) = payload.get("_source").filter(|v| v.is_object()) {
        return source;
    }
    payload
}

/// An Elastic alert has `kibana.alert.rule.name` (8.x), `signal.rule.name`
/// (7.x), or is an ECS alert event with a rule name.
pub fn matches(payload: &Value) -> bool {
    let doc = document(payload);
    lookup(doc, "kibana.alert.rule.name").is_some()
        || lookup(doc, "signal.rule.name").is_some()
        || (matches!(
            string(doc, "event.kind").as_deref(),
            Some("alert" | "signal")
        ) && lookup(doc, "rule.name").is_some())
}

/// Fill `draft` from an Elastic alert.
pub fn normalise(payload: &Value, draft: &mut AlertDraft) -> Result<(), FormatError> {
    use ObservableKind as K;
    let doc = document(payload);

    draft.product = Some("Elastic Security".into());
    draft.vendor_id = string(doc, "kibana.alert.uuid")
        .or_else(|| string(payload, "value.id"))
        .or_else(|| string(payload, "_id"))
        .or_else(|| string(doc, "event.id"));
    let time_text = string(doc, "kibana.alert.original_time")
        .or_else(|| string(doc, "signal.original_time"))
        .or_else(|| string(doc, "@timestamp"));
    draft.time = Some(required_time(time_text, "@timestamp", "an RFC 3339 time")?);

    let rule_name = string(doc, "kibana.alert.rule.name")
        .or_else(|| string(doc, "signal.rule.name"))
        .or_else(|| string(doc, "rule.name"))
        .ok_or(FormatError::Missing("kibana.alert.rule.name"))?;
    draft.rule = Some(RuleRef {
        uid: string(doc, "kibana.alert.rule.rule_id")
            .or_else(|| string(doc, "kibana.alert.rule.uuid"))
            .or_else(|| string(doc, "signal.rule.rule_id"))
            .or_else(|| string(doc, "rule.id")),
        name: rule_name,
    });
    draft.title = string(doc, "kibana.alert.reason")
        .or_else(|| string(doc, "signal.reason"))
        .or_else(|| string(doc, "message"));
    draft.description =
        string(doc, "kibana.alert.rule.description").or_else(|| string(doc, "rule.description"));
    draft.severity = Some(severity(doc));

    for path in [
        "kibana.alert.reason",
        "message",
        "process.command_line",
        "process.parent.command_line",
        "file.path",
        "url.original",
    ] {
        if let Some(text) = string(doc, path) {
            draft.text(path, text);
        }
    }

    let paths: [(K, &str); 22] = [
        (K::Host, "host.name"),
        (K::Host, "host.hostname"),
        (K::Ip, "host.ip"),
        (K::User, "user.name"),
        (K::Email, "user.email"),
        (K::User, "user.target.name"),
        (K::Ip, "source.ip"),
        (K::Ip, "destination.ip"),
        (K::Domain, "source.domain"),
        (K::Domain, "destination.domain"),
        (K::Domain, "dns.question.name"),
        (K::Domain, "url.domain"),
        (K::Url, "url.full"),
        (K::Process, "process.name"),
        (K::Process, "process.executable"),
        (K::FileHash, "process.hash.sha256"),
        (K::FileHash, "process.hash.sha1"),
        (K::FileHash, "process.hash.md5"),
        (K::FileHash, "file.hash.sha256"),
        (K::FileHash, "file.hash.sha1"),
        (K::FileHash, "file.hash.md5"),
        (K::Email, "email.from.address"),
    ];
    for (kind, path) in paths {
        draft.fields_at(doc, kind, path);
    }
    draft.fields_at(doc, K::CloudResource, "cloud.instance.id");

    // ATT&CK as Elastic writes it: threat[] with tactic, technique[] and
    // technique[].subtechnique[].
    for threat in array(doc, "kibana.alert.rule.threat")
        .iter()
        .chain(array(doc, "signal.rule.threat"))
        .chain(array(doc, "threat"))
    {
        let tactic = string(threat, "tactic.name");
        for technique in array(threat, "technique") {
            for sub in array(technique, "subtechnique") {
                if let Some(id) = string(sub, "id") {
                    draft.attack(&id, string(sub, "name"), tactic.clone());
                }
            }
            if let Some(id) = string(technique, "id") {
                draft.attack(&id, string(technique, "name"), tactic.clone());
            }
        }
    }
    Ok(())
}

/// `kibana.alert.severity` (low, medium, high, critical); else the risk score
/// by Elastic's bands (0-21 low, 22-47 medium, 48-73 high, 74-100 critical);
/// else ECS `event.severity`.
fn severity(doc: &Value) -> VendorSeverity {
    let named = string(doc, "kibana.alert.severity")
        .or_else(|| string(doc, "signal.rule.severity"))
        .or_else(|| string(doc, "kibana.alert.rule.severity"));
    let risk = number(doc, "kibana.alert.risk_score")
        .or_else(|| number(doc, "signal.rule.risk_score"))
        .or_else(|| number(doc, "event.risk_score"));
    if let Some(name) = &named
        && let Ok(level) = name.parse::<Severity>()
    {
        let original = match risk {
            Some(risk) => format!("{name} (risk {risk})"),
            None => name.clone(),
        };
        return VendorSeverity { level, original };
    }
    if let Some(risk) = risk {
        let level = match risk {
            r if r >= 74.0 => Severity::Critical,
            r if r >= 48.0 => Severity::High,
            r if r >= 22.0 => Severity::Medium,
            _ => Severity::Low,
        };
        return VendorSeverity {
            level,
            original: format!("risk {risk}"),
        };
    }
    match number(doc, "event.severity") {
        Some(n) => VendorSeverity {
            level: Severity::from_rank((n / 25.0).round() as i64),
            original: format!("event.severity {n}"),
        },
        None => VendorSeverity {
            level: Severity::Medium,
            original: "absent".into(),
        },
    }
}

#[cfg(test)]
mod tests;
