//! Amazon GuardDuty findings, in the three shapes they travel in: the
//! EventBridge event (`source: aws.guardduty`, `detail-type: GuardDuty
//! Finding`, the finding in `detail`), the finding as the `GetFindings` API
//! returns it (camelCase keys), and as the AWS CLI and SDKs print it
//! (PascalCase keys, which are folded to camelCase first).
//!
//! The finding type (`Recon:EC2/PortProbeUnprotectedPort`) is the rule; the
//! affected resource (`resource.*Details`) and the remote side of the
//! activity (`service.action.*Action`) give the observables.

use serde_json::{Map, Value};
use warden_domain::{ObservableKind, RuleRef, Severity, VendorSeverity};

use super::{AlertDraft, FormatError, required_time};
use crate::fields::{array, lookup, number, string, strings};

/// An EventBridge GuardDuty event, or a finding (either key case) with a
/// GuardDuty ARN or `service.serviceName: guardduty`.
pub fn matches(payload: &Value) -> bool {
    if payload.get("source").and_then(Value::as_str) == Some("aws.guardduty") {
        return payload.get("detail").is_some_and(Value::is_object);
    }
    let arn = payload
        .get("arn")
        .or_else(|| payload.get("Arn"))
        .and_then(Value::as_str);
    let service = payload
        .get("service")
        .and_then(|s| s.get("serviceName"))
        .or_else(|| payload.get("Service").and_then(|s| s.get("ServiceName")))
        .and_then(Value::as_str);
    let has_type = payload.get("type").is_some() || payload.get("Type").is_some();
    has_type && (arn.is_some_and(|a| a.contains(":guardduty:")) || service == Some("guardduty"))
}

/// Fill `draft` from a finding.
pub fn normalise(payload: &Value, draft: &mut AlertDraft) -> Result<(), FormatError> {
    let (finding, at) = match payload.get("detail") {
        Some(detail) if payload.get("source").is_some() => (detail, "detail."),
        _ => (payload, ""),
    };
    if !finding.is_object() {
        return Err(FormatError::WrongType {
            field: "detail",
            expected: "an object",
        });
    }
    let folded;
    let finding = if finding.get("Type").is_some() || finding.get("Arn").is_some() {
        folded = camel_case_keys(finding);
        &folded
    } else {
        finding
    };
    let path = |field: &str| format!("{at}{field}");
    use ObservableKind as K;

    let region = string(finding, "region");
    draft.product = Some(match &region {
        Some(region) => format!("Amazon GuardDuty ({region})"),
        None => "Amazon GuardDuty".into(),
    });
    draft.vendor_id = string(finding, "arn").or_else(|| string(finding, "id"));
    let time = string(finding, "service.eventFirstSeen").or_else(|| string(finding, "createdAt"));
    draft.time = Some(required_time(time, "createdAt", "an ISO 8601 time")?);
    let finding_type = string(finding, "type").ok_or(FormatError::Missing("type"))?;
    draft.rule = Some(RuleRef {
        uid: Some(format!("guardduty:{finding_type}")),
        name: finding_type.clone(),
    });
    draft.title = string(finding, "title").or(Some(finding_type));
    draft.description = string(finding, "description");
    if let Some(text) = string(finding, "description") {
        draft.text(&path("description"), text);
    }
    draft.severity = Some(severity(number(finding, "severity")));

    // Attack sequences name techniques and tactics as indicators.
    for indicator in array(finding, "service.detection.sequence.indicators") {
        let values = strings(indicator, "values");
        match string(indicator, "key").as_deref() {
            Some("ATTACK_TECHNIQUE") => {
                for value in values {
                    draft.attack(&value, None, None);
                }
            }
            Some("ATTACK_TACTIC") => {
                for attack in &mut draft.attacks {
                    attack.tactics.extend(values.iter().cloned());
                }
            }
            _ => {}
        }
    }

    // The affected resource.
    let resource = |field: &str| path(&format!("resource.{field}"));
    if let Some(instance) = lookup(finding, "resource.instanceDetails") {
        if let Some(id) = string(instance, "instanceId") {
            draft.field(
                K::CloudResource,
                &resource("instanceDetails.instanceId"),
                &id,
            );
        }
        for (index, nic) in array(instance, "networkInterfaces").iter().enumerate() {
            let nic_path =
                |f: &str| resource(&format!("instanceDetails.networkInterfaces[{index}].{f}"));
            for key in ["privateIpAddress", "publicIp"] {
                if let Some(ip) = string(nic, key) {
                    draft.field(K::Ip, &nic_path(key), &ip);
                }
            }
            for (n, private) in array(nic, "privateIpAddresses").iter().enumerate() {
                if let Some(ip) = string(private, "privateIpAddress") {
                    draft.field(K::Ip, &nic_path(&format!("privateIpAddresses[{n}]")), &ip);
                }
            }
            for ip in strings(nic, "ipv6Addresses") {
                draft.field(K::Ip, &nic_path("ipv6Addresses"), &ip);
            }
            for key in ["privateDnsName", "publicDnsName"] {
                if let Some(name) = string(nic, key) {
                    draft.field(K::Host, &nic_path(key), &name);
                }
            }
        }
    }
    if let Some(user) = string(finding, "resource.accessKeyDetails.userName") {
        draft.field(K::User, &resource("accessKeyDetails.userName"), &user);
    }
    if let Some(key) = string(finding, "resource.accessKeyDetails.accessKeyId") {
        draft.field(
            K::CloudResource,
            &resource("accessKeyDetails.accessKeyId"),
            &key,
        );
    }
    for (index, bucket) in array(finding, "resource.s3BucketDetails")
        .iter()
        .enumerate()
    {
        if let Some(arn) = string(bucket, "arn") {
            draft.field(
                K::CloudResource,
                &resource(&format!("s3BucketDetails[{index}].arn")),
                &arn,
            );
        }
    }
    for (field, kind) in [
        ("eksClusterDetails.arn", K::CloudResource),
        ("ecsClusterDetails.arn", K::CloudResource),
        ("lambdaDetails.functionArn", K::CloudResource),
        ("rdsDbInstanceDetails.dbInstanceArn", K::CloudResource),
        ("rdsDbUserDetails.user", K::User),
        ("kubernetesDetails.kubernetesUserDetails.username", K::User),
    ] {
        // Look only where the resource has that part at all.
        let part = field.split('.').next().unwrap_or(field);
        if let Some(resource_value) = finding.get("resource").filter(|r| r.get(part).is_some())
            && let Some(value) = string(resource_value, field)
        {
            draft.field(kind, &resource(field), &value);
        }
    }

    // The other side of the activity: walk only the action kinds present.
    let action = |field: &str| path(&format!("service.action.{field}"));
    let actions = finding
        .get("service")
        .and_then(|s| s.get("action"))
        .and_then(Value::as_object);
    for (kind, body) in actions.into_iter().flatten() {
        for side in ["remoteIpDetails", "localIpDetails"] {
            let Some(details) = body.get(side) else {
                continue;
            };
            for version in ["ipAddressV4", "ipAddressV6"] {
                if let Some(ip) = details.get(version).and_then(Value::as_str) {
                    draft.field(K::Ip, &action(&format!("{kind}.{side}.{version}")), ip);
                }
            }
        }
        for (index, probe) in array(body, "portProbeDetails").iter().enumerate() {
            if let Some(ip) = string(probe, "remoteIpDetails.ipAddressV4") {
                let field = format!("{kind}.portProbeDetails[{index}].remoteIpDetails.ipAddressV4");
                draft.field(K::Ip, &action(&field), &ip);
            }
        }
        for field in ["domain", "domainDetails.domain"] {
            if let Some(domain) = string(body, field) {
                draft.field(K::Domain, &action(&format!("{kind}.{field}")), &domain);
            }
        }
    }
    // Runtime Monitoring: the process that did it.
    if let Some(process) = lookup(finding, "service.runtimeDetails.process") {
        let at = |f: &str| path(&format!("service.runtimeDetails.process.{f}"));
        if let Some(exe) = string(process, "executablePath") {
            draft.field(K::Process, &at("executablePath"), &exe);
        }
        if let Some(hash) = string(process, "executableSha256") {
            draft.field(K::FileHash, &at("executableSha256"), &hash);
        }
    }
    Ok(())
}

/// GuardDuty's scale: 1.0-3.9 low, 4.0-6.9 medium, 7.0-8.9 high,
/// 9.0-10.0 critical (attack sequences).
fn severity(value: Option<f64>) -> VendorSeverity {
    let Some(value) = value.filter(|v| v.is_finite()) else {
        return VendorSeverity {
            level: Severity::Medium,
            original: "absent".into(),
        };
    };
    let level = match value {
        v if v >= 9.0 => Severity::Critical,
        v if v >= 7.0 => Severity::High,
        v if v >= 4.0 => Severity::Medium,
        v if v >= 1.0 => Severity::Low,
        _ => Severity::Informational,
    };
    VendorSeverity {
        level,
        original: format!("severity {value}"),
    }
}

/// The CLI's `InstanceDetails` -> the API's `instanceDetails`, at every
/// level. Only the first character changes, which is all the two spellings
/// differ by.
fn camel_case_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let mut chars = key.chars();
                    let folded = match chars.next() {
                        Some(first) => first.to_lowercase().chain(chars).collect(),
                        None => String::new(),
                    };
                    (folded, camel_case_keys(value))
                })
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(camel_case_keys).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests;
