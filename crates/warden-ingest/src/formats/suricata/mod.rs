//! Suricata EVE JSON `alert` events.
//!
//! One EVE record per alert: `timestamp`, `flow_id`, `src_ip`/`dest_ip`,
//! `proto`, `alert.{signature_id, gid, rev, signature, category, severity,
//! metadata}` and the protocol objects of the flow (`http`, `tls`, `dns`,
//! `smb`, `files`, `fileinfo`...). Suricata's alert severity runs the other
//! way from Warden's: 1 is the most severe.

use serde_json::Value;
use warden_domain::{ObservableKind, RuleRef, Severity, VendorSeverity};

use super::{AlertDraft, FormatError, required_time};
use crate::fields::{array, lookup, number, string, strings};

/// An EVE record with `event_type: alert` and an `alert` object.
pub fn matches(payload: &Value) -> bool {
    payload.get("event_type").and_then(Value::as_str) == Some("alert")
        && payload.get("alert").is_some_and(Value::is_object)
}

/// Fill `draft` from an EVE alert.
pub fn normalise(payload: &Value, draft: &mut AlertDraft) -> Result<(), FormatError> {
    use ObservableKind as K;
    draft.product = Some("Suricata".into());
    draft.vendor_id = string(payload, "flow_id");
    draft.time = Some(required_time(
        string(payload, "timestamp"),
        "timestamp",
        "an ISO 8601 time",
    )?);

    let signature =
        string(payload, "alert.signature").ok_or(FormatError::Missing("alert.signature"))?;
    let sid = number(payload, "alert.signature_id");
    let gid = number(payload, "alert.gid").unwrap_or(1.0);
    draft.rule = Some(RuleRef {
        uid: sid.map(|sid| format!("{gid}:{sid}")),
        name: signature.clone(),
    });
    draft.title = Some(signature);
    draft.description = string(payload, "alert.category");

    let category = string(payload, "alert.category").unwrap_or_default();
    draft.severity = Some(match number(payload, "alert.severity") {
        Some(level) => VendorSeverity {
            level: match level as i64 {
                i64::MIN..=1 => Severity::High,
                2 => Severity::Medium,
                3 => Severity::Low,
                _ => Severity::Informational,
            },
            original: if category.is_empty() {
                format!("severity {level}")
            } else {
                format!("severity {level} ({category})")
            },
        },
        None => VendorSeverity {
            level: Severity::Medium,
            original: "absent".into(),
        },
    });

    for (kind, path) in [
        (K::Ip, "src_ip"),
        (K::Ip, "dest_ip"),
        (K::Domain, "http.hostname"),
        (K::Domain, "tls.sni"),
        (K::Domain, "dns.rrname"),
        (K::Domain, "dns.query.rrname"),
        (K::FileHash, "fileinfo.sha256"),
        (K::FileHash, "fileinfo.md5"),
        (K::Email, "smtp.mail_from"),
        (K::Email, "smtp.rcpt_to"),
    ] {
        draft.fields_at(payload, kind, path);
    }
    // DNS queries and answers (EVE v1 `query`/`answers`, v2 `queries`).
    for path in ["dns.queries", "dns.query", "dns.answers"] {
        for (index, entry) in array(payload, path).iter().enumerate() {
            if let Some(name) = string(entry, "rrname") {
                draft.field(K::Domain, &format!("{path}[{index}].rrname"), &name);
            }
        }
    }
    for (index, file) in array(payload, "files").iter().enumerate() {
        for algo in ["sha256", "md5", "sha1"] {
            if let Some(hash) = string(file, algo) {
                draft.field(K::FileHash, &format!("files[{index}].{algo}"), &hash);
            }
        }
    }
    // What a client sent is the attacker's to choose: text, not entities.
    for path in [
        "http.url",
        "http.http_user_agent",
        "http.http_refer",
        "tls.subject",
        "smb.filename",
        "payload_printable",
    ] {
        if let Some(text) = string(payload, path) {
            draft.text(path, text);
        }
    }

    // ATT&CK ids in the rule metadata (ET rules carry mitre_* keys).
    let tactic = strings(payload, "alert.metadata.mitre_tactic_name")
        .into_iter()
        .next();
    for technique in strings(payload, "alert.metadata.mitre_technique_id") {
        draft.attack(&technique, None, tactic.clone());
    }
    if lookup(payload, "alert.metadata").is_some_and(|m| !m.is_object()) {
        return Err(FormatError::WrongType {
            field: "alert.metadata",
            expected: "an object",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
