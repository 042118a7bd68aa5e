//! The normalised alert, aligned with OCSF Detection Finding (class 2004).

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::hashing::sha256_fields;
use crate::ids::AlertId;
use crate::observable::{Observable, ObservableKind};
use crate::severity::VendorSeverity;
use crate::untrusted::Untrusted;

/// The vendor format an alert arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceFormat {
    /// OCSF Detection Finding (class 2004).
    Ocsf,
    /// Elastic Security detection alert (ECS, `kibana.alert.*`).
    Ecs,
    /// Suricata EVE JSON `alert` event.
    Suricata,
    /// A Sigma (or chainsaw rule) detection as chainsaw `hunt --json` emits it.
    Chainsaw,
    /// A Splunk Enterprise Security notable (REST API result or webhook).
    Splunk,
    /// A Microsoft Graph security alert (`alerts_v2`, Defender XDR).
    Msgraph,
    /// A Sigma detection as hayabusa `json-timeline` emits it (JSON or JSONL).
    Hayabusa,
    /// A CrowdStrike Falcon detection summary event (streaming API / SIEM
    /// connector: `DetectionSummaryEvent`, `EppDetectionSummaryEvent`).
    Falcon,
    /// An Amazon GuardDuty finding (API, CLI or EventBridge event).
    Guardduty,
    /// An ArcSight Common Event Format line (`CEF:0|...`), alone or after a
    /// syslog header.
    Cef,
    /// An IBM QRadar Log Event Extended Format line (`LEEF:1.0|...`,
    /// `LEEF:2.0|...`), alone or after a syslog header.
    Leef,
    /// A source described by a user's mapping file (JSON pointers to fields);
    /// the mapping's name is on the alert's `product`.
    Mapped,
}

impl SourceFormat {
    /// The built-in formats, each with its own normaliser. [`Mapped`]
    /// alerts need a mapping file, so it is not among them.
    ///
    /// [`Mapped`]: SourceFormat::Mapped
    pub const ALL: [SourceFormat; 11] = [
        SourceFormat::Ocsf,
        SourceFormat::Ecs,
        SourceFormat::Suricata,
        SourceFormat::Chainsaw,
        SourceFormat::Splunk,
        SourceFormat::Msgraph,
        SourceFormat::Hayabusa,
        SourceFormat::Falcon,
        SourceFormat::Guardduty,
        SourceFormat::Cef,
        SourceFormat::Leef,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::Ocsf => "ocsf",
            SourceFormat::Ecs => "ecs",
            SourceFormat::Suricata => "suricata",
            SourceFormat::Chainsaw => "chainsaw",
            SourceFormat::Splunk => "splunk",
            SourceFormat::Msgraph => "msgraph",
            SourceFormat::Hayabusa => "hayabusa",
            SourceFormat::Falcon => "falcon",
            SourceFormat::Guardduty => "guardduty",
            SourceFormat::Cef => "cef",
            SourceFormat::Leef => "leef",
            SourceFormat::Mapped => "mapped",
        }
    }

    /// A built-in format by name (`mapped` is not one: mappings are named
    /// by their own files).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The detection that fired (OCSF `finding_info.analytic`). Rule names come
/// from the detection product's configuration, not from the observed
/// activity, so they are plain text; the finding's title and message, which
/// often quote the activity, are [`Untrusted`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleRef {
    /// The vendor's rule id, when it has one.
    pub uid: Option<String>,
    pub name: String,
}

/// A MITRE ATT&CK technique the detection is tagged with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AttackTechnique {
    /// `T1059` or `T1059.001`, upper case.
    pub id: String,
    pub name: Option<String>,
    /// Tactic names or ids as the vendor gave them.
    pub tactics: Vec<String>,
}

impl AttackTechnique {
    /// Parse a technique id such as `t1059.001` or `attack.t1059.001`.
    pub fn parse_id(text: &str) -> Option<String> {
        let bare = text.trim().trim_start_matches("attack.");
        let upper = bare.to_ascii_uppercase();
        let digits = upper.strip_prefix('T')?;
        let (main, sub) = match digits.split_once('.') {
            Some((main, sub)) => (main, Some(sub)),
            None => (digits, None),
        };
        let main_ok = main.len() == 4 && main.chars().all(|c| c.is_ascii_digit());
        let sub_ok = sub.is_none_or(|s| s.len() == 3 && s.chars().all(|c| c.is_ascii_digit()));
        (main_ok && sub_ok).then_some(upper)
    }
}

/// One alert, normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: AlertId,
    pub format: SourceFormat,
    /// OCSF class of the finding (2004 for Detection Finding).
    pub class_uid: u32,
    /// Product that raised it (`Elastic Security`, `Okta`...).
    pub product: String,
    /// The vendor's own id for the alert, if any.
    pub vendor_id: Option<String>,
    /// When the detected activity happened (or the alert was raised).
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    pub rule: RuleRef,
    pub title: Untrusted,
    pub description: Untrusted,
    pub severity: VendorSeverity,
    /// Deduplicated, sorted by kind then value.
    pub observables: Vec<Observable>,
    pub attacks: Vec<AttackTechnique>,
    /// Where it came from: `file` or `file:line`.
    pub origin: String,
    /// SHA-256 of the exact bytes received.
    pub raw_sha256: String,
    /// The payload as received, parsed.
    pub raw: serde_json::Value,
}

impl Alert {
    /// Structured observables of one kind.
    pub fn structured(&self, kind: ObservableKind) -> impl Iterator<Item = &Observable> {
        self.observables
            .iter()
            .filter(move |o| o.kind == kind && o.is_structured())
    }

    /// Two-letter country codes the vendor geolocated the activity's
    /// source to (sign-in location, remote caller), upper case, from the
    /// structured fields each format has for it. Empty when the format does
    /// not say.
    pub fn source_countries(&self) -> Vec<String> {
        const POINTERS: &[(SourceFormat, &str)] = &[
            (SourceFormat::Ocsf, "/src_endpoint/location/country"),
            (SourceFormat::Ocsf, "/device/location/country"),
            (SourceFormat::Ecs, "/source/geo/country_iso_code"),
            (SourceFormat::Ecs, "/client/geo/country_iso_code"),
            (SourceFormat::Splunk, "/result/src_country"),
            (SourceFormat::Splunk, "/src_country"),
            (
                SourceFormat::Guardduty,
                "/service/action/awsApiCallAction/remoteIpDetails/country/countryCode",
            ),
            (
                SourceFormat::Guardduty,
                "/detail/service/action/awsApiCallAction/remoteIpDetails/country/countryCode",
            ),
            (
                SourceFormat::Guardduty,
                "/Service/Action/AwsApiCallAction/RemoteIpDetails/Country/CountryCode",
            ),
        ];
        let mut countries: Vec<String> = POINTERS
            .iter()
            .filter(|(format, _)| *format == self.format)
            .filter_map(|(_, pointer)| self.raw.pointer(pointer))
            .filter_map(serde_json::Value::as_str)
            .map(str::to_owned)
            .collect();
        if self.format == SourceFormat::Msgraph
            && let Some(items) = self.raw.get("evidence").and_then(|e| e.as_array())
        {
            countries.extend(
                items
                    .iter()
                    .filter_map(|item| item.get("countryLetterCode"))
                    .filter_map(serde_json::Value::as_str)
                    .map(str::to_owned),
            );
        }
        let mut countries: Vec<String> = countries
            .into_iter()
            .map(|c| c.trim().to_ascii_uppercase())
            .filter(|c| c.len() == 2 && c.chars().all(|ch| ch.is_ascii_alphabetic()))
            .collect();
        countries.sort();
        countries.dedup();
        countries
    }

    /// What makes two alerts "the same detection": format, rule (its id,
    /// else its name) and the structured entities. Time, vendor ids,
    /// severity and free text are left out, so every re-fire of one rule
    /// on the same entities has the same key, whatever it says.
    pub fn detection_key(&self) -> String {
        let rule = self.rule.uid.as_deref().unwrap_or(&self.rule.name);
        let mut entities: Vec<String> = self
            .observables
            .iter()
            .filter(|o| o.is_structured())
            .map(|o| format!("{}={}", o.kind, o.value))
            .collect();
        entities.sort();
        sha256_fields(
            [self.format.as_str(), rule]
                .into_iter()
                .chain(entities.iter().map(String::as_str)),
        )
    }

    /// What makes two alerts exact duplicates: the same detection
    /// ([`Alert::detection_key`]) with the same severity level, title and
    /// description. Time and vendor ids are left out, so an identical
    /// re-fire merges with the first copy; a re-fire with a higher (or
    /// lower) severity or other detection text ("40 MB exfiltrated" after
    /// "2 KB uploaded") does not, so the case keeps the worst copy and
    /// every distinct description.
    pub fn fingerprint(&self) -> String {
        sha256_fields([
            self.detection_key().as_str(),
            self.severity.level.as_str(),
            self.title.as_untrusted_str(),
            self.description.as_untrusted_str(),
        ])
    }
}

/// The entities `alerts` carry in structured fields, by kind and value:
/// what a case's actions may target and what relates cases (S2: an entity
/// seen only in alert text is not among them).
pub fn structured_entities<'a>(
    alerts: impl IntoIterator<Item = &'a Alert>,
) -> BTreeSet<(ObservableKind, String)> {
    alerts
        .into_iter()
        .flat_map(|a| a.observables.iter())
        .filter(|o| o.is_structured())
        .map(|o| (o.kind, o.value.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::severity::Severity;

    #[test]
    fn technique_ids_parse_in_their_usual_spellings() {
        assert_eq!(
            AttackTechnique::parse_id("attack.t1059.001").as_deref(),
            Some("T1059.001")
        );
        assert_eq!(AttackTechnique::parse_id("T1003").as_deref(), Some("T1003"));
        assert_eq!(AttackTechnique::parse_id("attack.execution"), None);
        assert_eq!(AttackTechnique::parse_id("T10"), None);
        assert_eq!(AttackTechnique::parse_id("T1059.1"), None);
    }

    fn sample(minute: i64, level: Severity, description: &str) -> Alert {
        Alert {
            id: AlertId::new(),
            format: SourceFormat::Ocsf,
            class_uid: 2004,
            product: "p".into(),
            vendor_id: Some(format!("v{minute}")),
            time: OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(minute),
            rule: RuleRef {
                uid: Some("r-1".into()),
                name: "Outbound transfer".into(),
            },
            title: Untrusted::new("Large outbound transfer"),
            description: Untrusted::new(description),
            severity: VendorSeverity {
                level,
                original: format!("{level} at {minute}"),
            },
            observables: Observable::parse(
                ObservableKind::Host,
                "ws-1",
                crate::Provenance::Field { path: "f".into() },
            )
            .into_iter()
            .collect(),
            attacks: vec![],
            origin: format!("o{minute}"),
            raw_sha256: format!("{minute}"),
            raw: serde_json::Value::Null,
        }
    }

    #[test]
    fn a_re_fire_is_the_same_detection_but_a_duplicate_only_when_it_says_the_same() {
        let first = sample(0, Severity::Low, "2 KB uploaded");
        let identical = sample(9, Severity::Low, "2 KB uploaded");
        assert_eq!(first.fingerprint(), identical.fingerprint());

        let worse = sample(9, Severity::Critical, "2 KB uploaded");
        let other_text = sample(9, Severity::Low, "40 MB exfiltrated");
        let mut other_title = sample(9, Severity::Low, "2 KB uploaded");
        other_title.title = Untrusted::new("Exfiltration");
        for refire in [&worse, &other_text, &other_title] {
            assert_eq!(first.detection_key(), refire.detection_key());
            assert_ne!(first.fingerprint(), refire.fingerprint());
        }
        // Text cannot be shifted between title and description.
        let mut a = sample(0, Severity::Low, "bc");
        a.title = Untrusted::new("a");
        let mut b = sample(0, Severity::Low, "c");
        b.title = Untrusted::new("ab");
        assert_ne!(a.fingerprint(), b.fingerprint());
    }
}
