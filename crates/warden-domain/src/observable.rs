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
            // Strip the brackets that some products put around IPv6.
            let bare = trimmed.trim_start_matches('[').trim_end_matches(']');
            let ip = bare
                .parse::<IpAddr>()
                .map_err(|_| invalid(kind, raw, "not an IP address"))?
                // `::ffff:192.0.2.1` is the IPv4 address it carries.
                .to_canonical();
            match IpClass::of(ip) {
                IpClass::Unspecified => Err(invalid(kind, raw, "the unspecified address")),
                IpClass::Multicast => Err(invalid(kind, raw, "a multicast group, not a host")),
                IpClass::Broadcast => Err(invalid(kind, raw, "the broadcast address")),
                _ => Ok(ip.to_string()),
            }
        }
        ObservableKind::Host => {
            if trimmed == "-" {
                return Err(invalid(kind, raw, "empty"));
            }
            // A host field may hold the machine's address (`10.0.0.5`,
            // `2001:db8::5`): kept in canonical form.
            let bare = trimmed.trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = bare.parse::<IpAddr>() {
                return Ok(ip.to_canonical().to_string());
            }
            dns_name(trimmed).map_err(|reason| invalid(kind, raw, reason))
        }
        ObservableKind::Domain => {
            if trimmed == "-" {
                return Err(invalid(kind, raw, "empty"));
            }
            let bare = trimmed.trim_start_matches('[').trim_end_matches(']');
            if bare.parse::<IpAddr>().is_ok() {
                return Err(invalid(kind, raw, "an IP address, not a domain name"));
            }
            dns_name(trimmed).map_err(|reason| invalid(kind, raw, reason))
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

/// Longest DNS name (RFC 1035 2.3.4: 255 octets on the wire, so 253
/// characters written without the trailing dot).
const MAX_NAME_LEN: usize = 253;

/// Longest DNS label (RFC 1035 2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// `raw` as a DNS name in lower-case ASCII: internationalised names are
/// turned into their `xn--` form (IDNA, UTS 46), a trailing dot is dropped,
/// every label is 1 to 63 letters, digits, `-` (not first or last) or `_`
/// (service labels such as `_ldap._tcp`), the whole at most 253 characters,
/// and the last label of a dotted name is not all digits (no top-level
/// domain is, so `1.2.3.999` is a bad address, not a name).
///
/// INVARIANT (S2): a value an attacker wrote into a name field
/// (`${jndi:ldap://x/a}`, `evil.example/../`, `a b`) is not a name, so it
/// never becomes a host or domain entity, and so never a target.
fn dns_name(raw: &str) -> Result<String, &'static str> {
    let trimmed = raw.trim();
    let without_dot = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if without_dot.is_empty() {
        return Err("empty");
    }
    if without_dot.contains(char::is_whitespace) {
        return Err("contains whitespace");
    }
    let ascii = if without_dot.is_ascii() {
        without_dot.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii_cow(without_dot.as_bytes(), idna::AsciiDenyList::EMPTY)
            .map_err(|_| "not a valid internationalised domain name")?
            .into_owned()
    };
    if ascii.len() > MAX_NAME_LEN {
        return Err("longer than 253 characters");
    }
    let mut labels = 0;
    let mut last = "";
    for label in ascii.split('.') {
        if label.is_empty() {
            return Err("has an empty label");
        }
        if label.len() > MAX_LABEL_LEN {
            return Err("has a label longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err("has characters other than letters, digits, - and _");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("has a label that starts or ends with -");
        }
        labels += 1;
        last = label;
    }
    if labels > 1 && last.bytes().all(|b| b.is_ascii_digit()) {
        return Err("ends in a numeric label");
    }
    Ok(ascii)
}

/// What kind of address an IP is: the classes a field may allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpClass {
    /// `0.0.0.0/8`, `::`: no host (never an entity).
    Unspecified,
    /// `224.0.0.0/4`, `ff00::/8`: a group, not a host (never an entity).
    Multicast,
    /// `255.255.255.255` (never an entity).
    Broadcast,
    /// `127.0.0.0/8`, `::1`: the machine itself, whichever it is.
    Loopback,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// RFC 1918 (`10/8`, `172.16/12`, `192.168/16`) and unique local IPv6
    /// (`fc00::/7`).
    Private,
    /// Carrier-grade NAT, `100.64.0.0/10` (RFC 6598).
    Shared,
    /// The documentation ranges: `192.0.2.0/24`, `198.51.100.0/24`,
    /// `203.0.113.0/24` (RFC 5737), `2001:db8::/32` (RFC 3849).
    Documentation,
    /// Everything else: an address on the internet.
    Public,
}

impl IpClass {
    /// Every class, in declaration order.
    pub const ALL: [IpClass; 9] = [
        IpClass::Unspecified,
        IpClass::Multicast,
        IpClass::Broadcast,
        IpClass::Loopback,
        IpClass::LinkLocal,
        IpClass::Private,
        IpClass::Shared,
        IpClass::Documentation,
        IpClass::Public,
    ];

    /// The class of `ip` (an IPv4-mapped IPv6 address as its IPv4).
    pub fn of(ip: IpAddr) -> IpClass {
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                if a == 0 {
                    IpClass::Unspecified
                } else if v4.is_broadcast() {
                    IpClass::Broadcast
                } else if v4.is_multicast() {
                    IpClass::Multicast
                } else if v4.is_loopback() {
                    IpClass::Loopback
                } else if v4.is_link_local() {
                    IpClass::LinkLocal
                } else if v4.is_private() {
                    IpClass::Private
                } else if a == 100 && (64..128).contains(&b) {
                    IpClass::Shared
                } else if matches!((a, b, c), (192, 0, 2) | (198, 51, 100) | (203, 0, 113)) {
                    IpClass::Documentation
                } else {
                    IpClass::Public
                }
            }
            IpAddr::V6(v6) => {
                let [first, second, ..] = v6.segments();
                if v6.is_unspecified() {
                    IpClass::Unspecified
                } else if v6.is_multicast() {
                    IpClass::Multicast
                } else if v6.is_loopback() {
                    IpClass::Loopback
                } else if first & 0xffc0 == 0xfe80 {
                    IpClass::LinkLocal
                } else if first & 0xfe00 == 0xfc00 {
                    IpClass::Private
                } else if first == 0x2001 && second == 0x0db8 {
                    IpClass::Documentation
                } else {
                    IpClass::Public
                }
            }
        }
    }

    /// The name mapping files use (`link_local`).
    pub fn as_str(self) -> &'static str {
        match self {
            IpClass::Unspecified => "unspecified",
            IpClass::Multicast => "multicast",
            IpClass::Broadcast => "broadcast",
            IpClass::Loopback => "loopback",
            IpClass::LinkLocal => "link_local",
            IpClass::Private => "private",
            IpClass::Shared => "shared",
            IpClass::Documentation => "documentation",
            IpClass::Public => "public",
        }
    }

    /// Whether an address of this class can be a host entity at all.
    pub fn is_host(self) -> bool {
        !matches!(
            self,
            IpClass::Unspecified | IpClass::Multicast | IpClass::Broadcast
        )
    }
}

impl fmt::Display for IpClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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

    fn parse(kind: ObservableKind, raw: &str) -> Result<String, InvalidObservable> {
        Observable::parse(kind, raw, field("x")).map(|o| o.value)
    }

    #[test]
    fn names_follow_the_dns_label_rules() {
        for (raw, want) in [
            ("WS-FIN-042.corp.example.", "ws-fin-042.corp.example"),
            (
                "_ldap._tcp.dc._msdcs.corp.example",
                "_ldap._tcp.dc._msdcs.corp.example",
            ),
            (
                "ip-10-0-1-17.eu-west-1.compute.internal",
                "ip-10-0-1-17.eu-west-1.compute.internal",
            ),
            ("Bücher.Example", "xn--bcher-kva.example"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
            ("dc01", "dc01"),
        ] {
            assert_eq!(
                parse(ObservableKind::Domain, raw).as_deref(),
                Ok(want),
                "{raw}"
            );
            assert_eq!(
                parse(ObservableKind::Host, raw).as_deref(),
                Ok(want),
                "{raw}"
            );
        }
        let long_label = format!("{}.example", "a".repeat(64));
        let long_name = ["abcdefghi"; 26].join(".");
        for raw in [
            "${jndi:ldap://198.51.100.7:1389/a}",
            "${jndi:ldap://x}",
            "evil.example/../etc",
            "host.example:8080",
            "a b.example",
            "-lead.example",
            "trail-.example",
            "a..b",
            ".",
            "-",
            "<script>.example",
            "user@host.example",
            "1.2.3.999",
            "111.0.0.0.1",
            long_label.as_str(),
            long_name.as_str(),
        ] {
            assert!(parse(ObservableKind::Domain, raw).is_err(), "domain {raw}");
            assert!(parse(ObservableKind::Host, raw).is_err(), "host {raw}");
        }
        // A host field may hold the address; a domain field may not.
        assert_eq!(
            parse(ObservableKind::Host, "10.0.0.5").as_deref(),
            Ok("10.0.0.5")
        );
        assert!(parse(ObservableKind::Domain, "10.0.0.5").is_err());
    }

    #[test]
    fn addresses_must_be_host_addresses() {
        assert_eq!(
            parse(ObservableKind::Ip, "::ffff:192.0.2.1").as_deref(),
            Ok("192.0.2.1")
        );
        assert_eq!(
            parse(ObservableKind::Ip, "[2001:DB8::1]").as_deref(),
            Ok("2001:db8::1")
        );
        for raw in [
            "0.0.0.0",
            "::",
            "0.1.2.3",
            "224.0.0.251",
            "ff02::1",
            "255.255.255.255",
            "111.0.0.0.0",
            "Chrome/111.0.0.0",
            "10.0.0.1:443",
        ] {
            assert!(parse(ObservableKind::Ip, raw).is_err(), "{raw}");
        }
        for (raw, class) in [
            ("127.0.0.1", IpClass::Loopback),
            ("::1", IpClass::Loopback),
            ("169.254.1.1", IpClass::LinkLocal),
            ("fe80::1", IpClass::LinkLocal),
            ("10.1.2.3", IpClass::Private),
            ("172.31.0.1", IpClass::Private),
            ("fd00::1", IpClass::Private),
            ("100.64.0.1", IpClass::Shared),
            ("203.0.113.9", IpClass::Documentation),
            ("2001:db8::9", IpClass::Documentation),
            ("185.220.101.45", IpClass::Public),
            ("2a00:1450::1", IpClass::Public),
            ("0.0.0.0", IpClass::Unspecified),
            ("239.255.255.250", IpClass::Multicast),
        ] {
            let ip: IpAddr = raw.parse().expect("an address");
            assert_eq!(IpClass::of(ip), class, "{raw}");
        }
    }

    #[test]
    fn account_name_strips_domain_and_upn() {
        assert_eq!(account_name("corp\\jdoe"), "jdoe");
        assert_eq!(account_name("amartin@corp.example"), "amartin");
        assert_eq!(account_name("svc_backup"), "svc_backup");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn field() -> Provenance {
        Provenance::Field { path: "x".into() }
    }

    /// A label by the rules: letters, digits, `-` inside, `_` anywhere.
    fn label() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?"
    }

    proptest! {
        /// Any text either fails or gives a name that obeys every rule, and
        /// parsing that name again gives it back unchanged.
        #[test]
        fn any_text_is_a_valid_name_or_refused(raw in "\\PC{0,80}") {
            for kind in [ObservableKind::Host, ObservableKind::Domain] {
                if let Ok(o) = Observable::parse(kind, &raw, field()) {
                    let value = o.value.clone();
                    if value.parse::<IpAddr>().is_err() {
                        prop_assert!(value.len() <= 253);
                        prop_assert!(value.is_ascii());
                        for label in value.split('.') {
                            prop_assert!(!label.is_empty() && label.len() <= 63, "{}", value);
                            prop_assert!(label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'), "{}", value);
                            prop_assert!(!label.starts_with('-') && !label.ends_with('-'), "{}", value);
                        }
                    } else {
                        prop_assert_eq!(kind, ObservableKind::Host);
                    }
                    let again = Observable::parse(kind, &value, field()).map(|o| o.value);
                    prop_assert_eq!(again, Ok(value));
                }
            }
        }

        /// Names built by the rules are accepted, lower-cased.
        #[test]
        fn well_formed_names_are_accepted(labels in prop::collection::vec(label(), 1..5), tld in "[a-zA-Z]{2,10}") {
            let name = format!("{}.{tld}", labels.join("."));
            prop_assume!(name.len() <= 253);
            for kind in [ObservableKind::Host, ObservableKind::Domain] {
                let parsed = Observable::parse(kind, &name, field()).map(|o| o.value);
                prop_assert_eq!(parsed, Ok(name.to_ascii_lowercase()));
            }
        }

        /// A forbidden character anywhere in a name refuses it.
        #[test]
        fn a_forbidden_character_refuses_a_name(
            left in label(), right in label(),
            bad in prop::sample::select(vec!['$', '{', '}', ':', '/', '\\', '@', '<', '>', '"', '\'', ' ', '%', '?', '#', '|', '*', '(', '=']),
        ) {
            let name = format!("{left}{bad}{right}.example");
            for kind in [ObservableKind::Host, ObservableKind::Domain] {
                prop_assert!(Observable::parse(kind, &name, field()).is_err(), "{}", name);
            }
        }

        /// Every IPv4 address is either refused as no host (unspecified,
        /// multicast, broadcast) or kept in canonical form; the class says
        /// which, and an address never parses as a domain.
        #[test]
        fn addresses_parse_by_class(octets in any::<[u8; 4]>()) {
            let ip = IpAddr::from(octets);
            let text = ip.to_string();
            let parsed = Observable::parse(ObservableKind::Ip, &text, field()).map(|o| o.value);
            if IpClass::of(ip).is_host() {
                prop_assert_eq!(parsed, Ok(text.clone()));
            } else {
                prop_assert!(parsed.is_err());
            }
            prop_assert!(Observable::parse(ObservableKind::Domain, &text, field()).is_err());
        }

        /// A version token never parses as an address.
        #[test]
        fn version_strings_are_not_addresses(product in "[A-Za-z]{1,12}", parts in prop::collection::vec(0u16..1000, 4..6)) {
            let version = parts.iter().map(u16::to_string).collect::<Vec<_>>().join(".");
            let token = format!("{product}/{version}");
            prop_assert!(Observable::parse(ObservableKind::Ip, &token, field()).is_err());
        }

        /// IPv6 in any spelling comes out canonical, and mapped IPv4 as IPv4.
        #[test]
        fn ipv6_is_canonical(segments in any::<[u16; 8]>()) {
            let ip = IpAddr::from(segments);
            let upper = ip.to_string().to_ascii_uppercase();
            let parsed = Observable::parse(ObservableKind::Ip, &format!("[{upper}]"), field()).map(|o| o.value);
            let canonical = ip.to_canonical();
            if IpClass::of(canonical).is_host() {
                prop_assert_eq!(parsed, Ok(canonical.to_string()));
            } else {
                prop_assert!(parsed.is_err());
            }
        }
    }
}
