//! Typed observables (entities) and where each was found.
//!
//! INVARIANT (S2): an observable seen only inside untrusted text (extracted by
//! pattern from a message or command line) has only [`Provenance::Text`] and
//! [`Observable::is_structured`] is false; such an observable can never become
//! the target of an action on its own (see `action::Target`).

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// The kinds of entity Warden tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservableKind {
    Host,
    User,
    Ip,
    Domain,
    Url,
    FileHash,
    Process,
    Email,
    CloudResource,
}

impl ObservableKind {
    pub const ALL: [ObservableKind; 9] = [
        ObservableKind::Host,
        ObservableKind::User,
        ObservableKind::Ip,
        ObservableKind::Domain,
        ObservableKind::Url,
        ObservableKind::FileHash,
        ObservableKind::Process,
        ObservableKind::Email,
        ObservableKind::CloudResource,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ObservableKind::Host => "host",
            ObservableKind::User => "user",
            ObservableKind::Ip => "ip",
            ObservableKind::Domain => "domain",
            ObservableKind::Url => "url",
            ObservableKind::FileHash => "file_hash",
            ObservableKind::Process => "process",
            ObservableKind::Email => "email",
            ObservableKind::CloudResource => "cloud_resource",
        }
    }
}

impl fmt::Display for ObservableKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an observable was found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Provenance {
    /// A structured field of the vendor payload, named by its path
    /// (`host.name`, `/device/hostname`).
    Field { path: String },
    /// Matched by pattern inside an untrusted free-text field.
    Text { field: String },
}

/// The part an entity plays in the activity an alert reports: the one
/// doing it (a connection's source, the host a process ran on, the sender),
/// or the one it was done to or reached (a destination, a queried name, a
/// recipient, the account or image acted upon).
///
/// Whatever excuses an activity (a scanner tag, a pentest engagement, past
/// closures) speaks about who did it, so it applies to the actor only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityRole {
    Actor,
    Target,
}

/// Words in a field path that name the far end of the activity. Matched on
/// the lower-case path, so `DestinationIp`, `dst_endpoint.ip`, `dest_ip`,
/// `TargetUserName`, `smtp.rcpt_to` and `dns.question.name` are all targets.
const TARGET_PATH_WORDS: &[&str] = &[
    "destination",
    "dest",
    "dst",
    "target",
    "recipient",
    "rcpt",
    "query",
    "rrname",
    "question",
    "sni",
    "http.hostname",
    "url",
];

impl Provenance {
    /// The role of the entity in this field; `None` for text matches, which
    /// say nothing about who did what.
    pub fn role(&self) -> Option<EntityRole> {
        match self {
            Provenance::Field { path } => {
                let path = path.to_ascii_lowercase();
                Some(if TARGET_PATH_WORDS.iter().any(|w| path.contains(w)) {
                    EntityRole::Target
                } else {
                    EntityRole::Actor
                })
            }
            Provenance::Text { .. } => None,
        }
    }
}

/// A typed, normalised entity of an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observable {
    pub kind: ObservableKind,
    /// The normalised value (lower-case host names, canonical IPs, ...).
    pub value: String,
    /// Every place it was found, deduplicated and sorted.
    pub provenance: Vec<Provenance>,
}

/// A value that is not a valid observable of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} value {value:?}: {reason}")]
pub struct InvalidObservable {
    pub kind: ObservableKind,
    pub value: String,
    pub reason: &'static str,
}

/// Longest value kept for any observable; longer input is not an entity.
const MAX_VALUE_LEN: usize = 2048;

impl Observable {
    /// Parse and normalise `raw` as an observable of `kind`.
    pub fn parse(
        kind: ObservableKind,
        raw: &str,
        provenance: Provenance,
    ) -> Result<Self, InvalidObservable> {
        let value = normalise(kind, raw)?;
        Ok(Self {
            kind,
            value,
            provenance: vec![provenance],
        })
    }

    /// Found in at least one structured field: may be an action target.
    pub fn is_structured(&self) -> bool {
        self.provenance
            .iter()
            .any(|p| matches!(p, Provenance::Field { .. }))
    }

    /// Found in a structured field that names the one doing the activity.
    pub fn is_actor(&self) -> bool {
        self.provenance
            .iter()
            .any(|p| p.role() == Some(EntityRole::Actor))
    }

    /// Found in a structured field that names the far end of the activity.
    pub fn is_target(&self) -> bool {
        self.provenance
            .iter()
            .any(|p| p.role() == Some(EntityRole::Target))
    }

    /// Same kind and value.
    pub fn same_entity(&self, other: &Observable) -> bool {
        self.kind == other.kind && self.value == other.value
    }
}

fn invalid(kind: ObservableKind, raw: &str, reason: &'static str) -> InvalidObservable {
    let mut value: String = raw.chars().take(80).collect();
    if raw.len() > value.len() {
        value.push('…');
    }
    InvalidObservable {
        kind,
        value,
        reason,
    }
}

fn normalise(kind: ObservableKind, raw: &str) -> Result<String, InvalidObservable> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(invalid(kind, raw, "empty"));
    }
    if trimmed.len() > MAX_VALUE_LEN {
        return Err(invalid(kind, raw, "too long"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(invalid(kind, raw, "contains control characters"));
    }
    match kind {
        ObservableKind::Ip => {
            // Strip an IPv6 zone or brackets that some products add.
            let bare = trimmed.trim_start_matches('[').trim_end_matches(']');
            bare.parse::<IpAddr>()
                .map(|ip| ip.to_string())
                .map_err(|_| invalid(kind, raw, "not an IP address"))
        }
        ObservableKind::Host | ObservableKind::Domain => {
            let lower = trimmed.trim_end_matches('.').to_ascii_lowercase();
            if lower.contains(char::is_whitespace) {
                return Err(invalid(kind, raw, "contains whitespace"));
            }
            if lower.is_empty() || lower == "-" {
                return Err(invalid(kind, raw, "empty"));
            }
            Ok(lower)
        }
        ObservableKind::FileHash => {
            let lower = trimmed.to_ascii_lowercase();
            let hex_len_ok = matches!(lower.len(), 32 | 40 | 64 | 128);
            if hex_len_ok && lower.chars().all(|c| c.is_ascii_hexdigit()) {
                Ok(lower)
            } else {
                Err(invalid(
                    kind,
                    raw,
                    "not an MD5, SHA-1, SHA-256 or SHA-512 hex digest",
                ))
            }
        }
        ObservableKind::Email => {
            let lower = trimmed.to_ascii_lowercase();
            match lower.split_once('@') {
                Some((local, domain))
                    if !local.is_empty() && domain.contains('.') && !lower.contains(' ') =>
                {
                    Ok(lower)
                }
                _ => Err(invalid(kind, raw, "not an email address")),
            }
        }
        ObservableKind::User => {
            if trimmed == "-" {
                return Err(invalid(kind, raw, "empty"));
            }
            Ok(trimmed.to_lowercase())
        }
        ObservableKind::Url | ObservableKind::Process | ObservableKind::CloudResource => {
            Ok(trimmed.to_owned())
        }
    }
}

/// Whether two address texts are the same IP (`2001:DB8::1` and
/// `2001:db8:0::1` are); texts that are not both addresses compare as
/// trimmed text. Context files list addresses as people write them.
pub fn same_ip(listed: &str, wanted: &str) -> bool {
    match (
        listed.trim().parse::<IpAddr>(),
        wanted.trim().parse::<IpAddr>(),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => listed.trim() == wanted.trim(),
    }
}

/// The host name a URL reaches, lower case, when it has one that is a
/// name (not an address): `https://user@Billing.Example:8443/x` gives
/// `billing.example`. Intel about a domain speaks about URLs on it.
pub fn url_domain(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    match parsed.host()? {
        url::Host::Domain(name) => Some(name.trim_end_matches('.').to_ascii_lowercase()),
        url::Host::Ipv4(_) | url::Host::Ipv6(_) => None,
    }
}

/// Merge observables with the same kind and value, uniting their provenance.
/// The result is sorted by kind then value, so it is deterministic.
pub fn dedup_observables(observables: impl IntoIterator<Item = Observable>) -> Vec<Observable> {
    let mut merged: std::collections::BTreeMap<(ObservableKind, String), Vec<Provenance>> =
        std::collections::BTreeMap::new();
    for obs in observables {
        merged
            .entry((obs.kind, obs.value))
            .or_default()
            .extend(obs.provenance);
    }
    merged
        .into_iter()
        .map(|((kind, value), mut provenance)| {
            provenance.sort();
            provenance.dedup();
            Observable {
                kind,
                value,
                provenance,
            }
        })
        .collect()
}

/// The account name without a Windows domain prefix or a UPN suffix:
/// `CORP\jdoe` and `jdoe@corp.example` both give `jdoe`. Context files name
/// accounts this way.
pub fn account_name(user: &str) -> &str {
    let after_domain = user.rsplit_once('\\').map_or(user, |(_, name)| name);
    after_domain
        .split_once('@')
        .map_or(after_domain, |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(path: &str) -> Provenance {
        Provenance::Field { path: path.into() }
    }

    #[test]
    fn normalises_by_kind() {
        let host = Observable::parse(ObservableKind::Host, " WS-FIN-042. ", field("host.name"));
        assert_eq!(host.map(|o| o.value), Ok("ws-fin-042".to_owned()));
        let ip = Observable::parse(ObservableKind::Ip, "2001:DB8::1", field("source.ip"));
        assert_eq!(ip.map(|o| o.value), Ok("2001:db8::1".to_owned()));
        assert!(Observable::parse(ObservableKind::Ip, "10.0.0.999", field("x")).is_err());
        assert!(Observable::parse(ObservableKind::FileHash, "xyz", field("x")).is_err());
        assert!(Observable::parse(ObservableKind::Host, "a\nb", field("x")).is_err());
    }

    #[test]
    fn dedup_unites_provenance_and_keeps_structured_flag() {
        let from_text = Observable::parse(
            ObservableKind::Ip,
            "10.0.0.1",
            Provenance::Text {
                field: "message".into(),
            },
        );
        let from_field = Observable::parse(ObservableKind::Ip, "10.0.0.1", field("source.ip"));
        let (Ok(from_text), Ok(from_field)) = (from_text, from_field) else {
            panic!("valid ips");
        };
        assert!(!from_text.is_structured());
        let merged = dedup_observables([from_text.clone(), from_field]);
        assert_eq!(merged.len(), 1);
        assert!(merged[0].is_structured());
        assert_eq!(merged[0].provenance.len(), 2);
        let only_text = dedup_observables([from_text]);
        assert!(!only_text[0].is_structured());
    }

    #[test]
    fn url_domain_is_the_named_host() {
        assert_eq!(
            url_domain("https://user@Billing.Example:8443/x?y=1").as_deref(),
            Some("billing.example")
        );
        assert_eq!(url_domain("http://10.0.0.1/x"), None);
        assert_eq!(url_domain("not a url"), None);
    }

    #[test]
    fn roles_follow_the_field_path() {
        for (path, role) in [
            ("source.ip", EntityRole::Actor),
            ("src_ip", EntityRole::Actor),
            ("host.name", EntityRole::Actor),
            ("device.hostname", EntityRole::Actor),
            ("destination.ip", EntityRole::Target),
            ("dest_ip", EntityRole::Target),
            ("DestinationIp", EntityRole::Target),
            ("dst_endpoint.hostname", EntityRole::Target),
            ("TargetUserName", EntityRole::Target),
            ("smtp.rcpt_to", EntityRole::Target),
            ("dns.question.name", EntityRole::Target),
            ("url.domain", EntityRole::Target),
        ] {
            assert_eq!(field(path).role(), Some(role), "{path}");
        }
        let text = Provenance::Text {
            field: "message".into(),
        };
        assert_eq!(text.role(), None);
    }

    #[test]
    fn account_name_strips_domain_and_upn() {
        assert_eq!(account_name("corp\\jdoe"), "jdoe");
        assert_eq!(account_name("amartin@corp.example"), "amartin");
        assert_eq!(account_name("svc_backup"), "svc_backup");
    }
}
