//! OCSF Detection Finding (class 2004).
//!
//! Field paths follow the OCSF schema (1.1 to 1.9): `finding_info` for the
//! title, analytic and ATT&CK mapping, `severity_id` for severity, `time` in
//! epoch milliseconds, entities in `device`, `actor`, `src_endpoint`,
//! `dst_endpoint`, `evidences[]`, `resources[]` and the typed `observables[]`.
//! Producers' mappings are hand-made and vary, so parsing is tolerant: what is
//! absent is skipped, what is present but of the wrong type is an error only
//! where the field is required.

use serde_json::Value;
use warden_domain::{ObservableKind, RuleRef, Severity, VendorSeverity};

use super::{AlertDraft, FormatError, from_epoch, parse_rfc3339};
use crate::fields::{array, lookup, number, string};

/// OCSF class of Detection Finding.
pub const DETECTION_FINDING: u32 = 2004;
/// The older Security Finding class (deprecated in OCSF 1.1), still emitted
/// by many mappings. Its `finding` object plays the part of `finding_info`.
pub const SECURITY_FINDING: u32 = 2001;

/// `finding_info.<key>` (2004), else `finding.<key>` (2001).
fn info(payload: &Value, key: &str) -> Option<String> {
    string(payload, &format!("finding_info.{key}"))
        .or_else(|| string(payload, &format!("finding.{key}")))
}

/// The analytic (rule) that raised the finding, when it names one.
fn analytic_name(payload: &Value) -> Option<String> {
    info(payload, "analytic.name").or_else(|| string(payload, "analytic.name"))
}

/// Whether the alert's rule name is only the finding's title: the finding
/// names no analytic, so [`normalise`] took the title (free text the sender
/// writes, often quoting the activity) as the rule name. Playbooks do not
/// match such a name (S2).
pub fn rule_name_is_title(payload: &Value) -> bool {
    analytic_name(payload).is_none()
}

/// An object with a numeric `class_uid` is OCSF.
pub fn matches(payload: &Value) -> bool {
    payload.get("class_uid").is_some_and(Value::is_number)
}

/// Fill `draft` from an OCSF finding, its class included.
pub fn normalise(payload: &Value, draft: &mut AlertDraft) -> Result<(), FormatError> {
    let class_uid = payload
        .get("class_uid")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(FormatError::WrongType {
            field: "class_uid",
            expected: "a class number",
        })?;
    if class_uid != DETECTION_FINDING && class_uid != SECURITY_FINDING {
        return Err(FormatError::Unsupported(format!(
            "OCSF class {class_uid} is not a Detection Finding (2004) or Security Finding (2001)"
        )));
    }

    draft.product = string(payload, "metadata.product.name")
        .or_else(|| string(payload, "metadata.product.vendor_name"));
    draft.vendor_id = info(payload, "uid").or_else(|| string(payload, "metadata.uid"));
    draft.time = number(payload, "time")
        .and_then(from_epoch)
        .or_else(|| string(payload, "time_dt").and_then(|t| parse_rfc3339(&t)));
    if draft.time.is_none() && lookup(payload, "time").is_some() {
        return Err(FormatError::WrongType {
            field: "time",
            expected: "epoch milliseconds",
        });
    }

    let title = info(payload, "title").map(|t| t.trim().to_owned());
    let rule_name = analytic_name(payload)
        .or_else(|| title.clone())
        .ok_or(FormatError::Missing("finding_info.title"))?;
    draft.rule = Some(RuleRef {
        uid: info(payload, "analytic.uid").or_else(|| string(payload, "analytic.uid")),
        name: rule_name,
    });
    draft.title = title;
    draft.description = info(payload, "desc").or_else(|| string(payload, "message"));
    draft.severity = Some(severity(payload));

    for (path, text) in [
        ("message", string(payload, "message")),
        ("finding_info.title", info(payload, "title")),
        ("finding_info.desc", info(payload, "desc")),
        (
            "actor.process.cmd_line",
            string(payload, "actor.process.cmd_line"),
        ),
    ] {
        if let Some(text) = text {
            draft.text(path, text);
        }
    }

    entities(payload, "", draft);
    for (index, evidence) in array(payload, "evidences").iter().enumerate() {
        entities(evidence, &format!("evidences[{index}]."), draft);
    }
    for (index, resource) in array(payload, "resources").iter().enumerate() {
        if let Some(uid) = string(resource, "uid") {
            draft.field(
                ObservableKind::CloudResource,
                &format!("resources[{index}].uid"),
                &uid,
            );
        }
    }
    for observable in array(payload, "observables") {
        typed_observable(observable, draft);
    }

    // ATT&CK: `finding_info.attacks` since 1.1, top-level `attacks` before.
    for attack in array(payload, "finding_info.attacks")
        .iter()
        .chain(array(payload, "attacks"))
    {
        let tactic = string(attack, "tactic.name").or_else(|| string(attack, "tactic.uid"));
        if let Some(uid) = string(attack, "sub_technique.uid") {
            draft.attack(&uid, string(attack, "sub_technique.name"), tactic.clone());
        }
        if let Some(uid) = string(attack, "technique.uid") {
            draft.attack(&uid, string(attack, "technique.name"), tactic);
        }
    }
    draft.class_uid = Some(class_uid);
    Ok(())
}

/// OCSF `severity_id`: 1 informational to 5 critical, 6 fatal; 0 unknown and
/// 99 other fall back to the `severity` caption, then to medium so that an
/// unlabelled finding is looked at rather than ignored.
fn severity(payload: &Value) -> VendorSeverity {
    let id = payload.get("severity_id").and_then(Value::as_i64);
    let caption = string(payload, "severity");
    let original = match (&id, &caption) {
        (Some(id), Some(caption)) => format!("{id} ({caption})"),
        (Some(id), None) => id.to_string(),
        (None, Some(caption)) => caption.clone(),
        (None, None) => "absent".into(),
    };
    let level = match id {
        Some(1) => Severity::Informational,
        Some(2) => Severity::Low,
        Some(3) => Severity::Medium,
        Some(4) => Severity::High,
        Some(5 | 6) => Severity::Critical,
        _ => caption
            .as_deref()
            .and_then(|c| c.parse().ok())
            .unwrap_or(Severity::Medium),
    };
    VendorSeverity { level, original }
}

/// Entities of the OCSF objects that name hosts, users and addresses.
fn entities(object: &Value, prefix: &str, draft: &mut AlertDraft) {
    use ObservableKind as K;
    let paths: [(K, &str); 22] = [
        (K::Host, "device.hostname"),
        (K::Host, "device.name"),
        (K::Ip, "device.ip"),
        (K::Host, "src_endpoint.hostname"),
        (K::Ip, "src_endpoint.ip"),
        (K::Host, "dst_endpoint.hostname"),
        (K::Ip, "dst_endpoint.ip"),
        (K::Domain, "src_endpoint.domain"),
        (K::Domain, "dst_endpoint.domain"),
        (K::User, "actor.user.name"),
        (K::Email, "actor.user.email_addr"),
        (K::User, "user.name"),
        (K::Email, "user.email_addr"),
        (K::Process, "actor.process.name"),
        (K::Process, "process.name"),
        (K::FileHash, "actor.process.file.hashes.value"),
        (K::FileHash, "file.hashes.value"),
        (K::FileHash, "process.file.hashes.value"),
        (K::Url, "url.url_string"),
        (K::Domain, "query.hostname"),
        (K::CloudResource, "cloud.account.uid"),
        (K::Email, "email.from"),
    ];
    for (kind, path) in paths {
        if path.ends_with("hashes.value") {
            let hashes_path = path.trim_end_matches(".value");
            for (index, hash) in array(object, hashes_path).iter().enumerate() {
                if let Some(value) = string(hash, "value") {
                    draft.field(
                        kind,
                        &format!("{prefix}{hashes_path}[{index}].value"),
                        &value,
                    );
                }
            }
            continue;
        }
        if let Some(value) = string(object, path) {
            draft.field(kind, &format!("{prefix}{path}"), &value);
        }
    }
}

/// An entry of `observables[]`, typed by its `type_id` (OCSF dictionary:
/// 1 hostname, 2 IP, 4 user name, 5 email, 6 URL, 8 hash, 9 process name,
/// 10 resource uid).
fn typed_observable(observable: &Value, draft: &mut AlertDraft) {
    let kind = match observable.get("type_id").and_then(Value::as_i64) {
        Some(1) => ObservableKind::Host,
        Some(2) => ObservableKind::Ip,
        Some(4) => ObservableKind::User,
        Some(5) => ObservableKind::Email,
        Some(6) => ObservableKind::Url,
        Some(8) => ObservableKind::FileHash,
        Some(9) => ObservableKind::Process,
        Some(10) => ObservableKind::CloudResource,
        _ => return,
    };
    let (Some(name), Some(value)) = (string(observable, "name"), string(observable, "value"))
    else {
        return;
    };
    draft.field(kind, &format!("observables[{name}]"), &value);
}

#[cfg(test)]
mod tests;
