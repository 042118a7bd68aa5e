//! Microsoft Graph security alerts (`alerts_v2`, `#microsoft.graph.security.alert`):
//! Microsoft Defender XDR alerts from Defender for Endpoint, Office 365,
//! Identity, Cloud Apps and Entra ID Protection, with typed `evidence`
//! (device, user, process, file, IP, URL, mailbox, analysed message, cloud
//! resource...).

use serde_json::Value;
use warden_domain::{ObservableKind, RuleRef};

use super::{AlertDraft, FormatError, named_severity, required_time};
use crate::fields::{array, string, strings};

/// `@odata.type` names a Graph security alert, or the object has the
/// alert's distinctive fields.
pub fn matches(payload: &Value) -> bool {
    payload.get("@odata.type").and_then(Value::as_str) == Some("#microsoft.graph.security.alert")
        || (payload.get("serviceSource").is_some()
            && payload.get("detectionSource").is_some()
            && payload.get("title").is_some())
}

/// Whether the alert's rule name is only the alert's title. A Graph alert
/// names no rule (`detectorId` is the rule's id), so [`normalise`] always
/// takes its `title` as the rule name; playbooks do not match it (S2).
pub fn rule_name_is_title(_payload: &Value) -> bool {
    true
}

/// The antivirus signature that fired (`threatDisplayName`, such as
/// `Backdoor:Win64/Sliver.A!MTB`), when the alert has one: named by the
/// vendor's signature, not written by the sender like the title, so
/// playbooks' rule patterns read it in place of the rule name.
pub fn signature_name(payload: &Value) -> Option<String> {
    string(payload, "threatDisplayName")
}

/// Fill `draft` from a Graph alert.
pub fn normalise(payload: &Value, draft: &mut AlertDraft) -> Result<(), FormatError> {
    use ObservableKind as K;
    let service = string(payload, "serviceSource").unwrap_or_else(|| "microsoft".into());
    draft.product = Some(format!("Microsoft Graph security ({service})"));
    draft.vendor_id = string(payload, "id");
    let time =
        string(payload, "firstActivityDateTime").or_else(|| string(payload, "createdDateTime"));
    draft.time = Some(required_time(time, "createdDateTime", "an ISO 8601 time")?);
    let title = string(payload, "title").ok_or(FormatError::Missing("title"))?;
    draft.rule = Some(RuleRef {
        uid: string(payload, "detectorId"),
        name: title.clone(),
    });
    draft.title = Some(title);
    draft.description = string(payload, "description");
    if let Some(text) = string(payload, "description") {
        draft.text("description", text);
    }
    draft.severity = Some(named_severity(string(payload, "severity"), ""));
    let category = string(payload, "category");
    for technique in strings(payload, "mitreTechniques") {
        draft.attack(&technique, None, category.clone());
    }

    for (index, evidence) in array(payload, "evidence").iter().enumerate() {
        let at = |path: &str| format!("evidence[{index}].{path}");
        let kind_name = string(evidence, "@odata.type").unwrap_or_default();
        let fields: &[(K, &str)] = match kind_name.trim_start_matches("#microsoft.graph.security.")
        {
            "deviceEvidence" => &[
                (K::Host, "deviceDnsName"),
                (K::Ip, "ipInterfaces"),
                (K::User, "loggedOnUsers.accountName"),
            ],
            "userEvidence" => &[
                (K::User, "userAccount.accountName"),
                (K::Email, "userAccount.userPrincipalName"),
            ],
            "processEvidence" => &[
                (K::Process, "imageFile.fileName"),
                (K::FileHash, "imageFile.sha256"),
                (K::FileHash, "imageFile.sha1"),
                (K::User, "userAccount.accountName"),
            ],
            "fileEvidence" => &[
                (K::FileHash, "fileDetails.sha256"),
                (K::FileHash, "fileDetails.sha1"),
            ],
            "ipEvidence" => &[(K::Ip, "ipAddress")],
            "urlEvidence" => &[(K::Url, "url")],
            "mailboxEvidence" => &[
                (K::Email, "primaryAddress"),
                (K::User, "userAccount.accountName"),
            ],
            "analyzedMessageEvidence" => &[
                (K::Ip, "senderIp"),
                (K::Email, "recipientEmailAddress"),
                (K::Email, "p1Sender.emailAddress"),
                (K::Email, "p2Sender.emailAddress"),
            ],
            "azureResourceEvidence" | "cloudApplicationEvidence" => &[
                (K::CloudResource, "resourceId"),
                (K::CloudResource, "appId"),
            ],
            _ => &[],
        };
        for (kind, path) in fields {
            if let Some((list, key)) = path.split_once('.')
                && let Some(items) = evidence.get(list).and_then(Value::as_array)
            {
                // loggedOnUsers: [{accountName}]
                for item in items {
                    if let Some(value) = string(item, key) {
                        draft.field(*kind, &at(path), &value);
                    }
                }
                continue;
            }
            for value in strings(evidence, path) {
                draft.field(*kind, &at(path), &value);
            }
        }
        for text in [
            "processCommandLine",
            "subject",
            "registryKey",
            "registryValue",
        ] {
            if let Some(value) = string(evidence, text) {
                draft.text(&at(text), value);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
