//! Observables found by pattern inside untrusted free text.
//!
//! INVARIANT (S2): everything returned here carries `Provenance::Text`; the
//! pattern match is a hint for enrichment and correlation, never an action
//! target (see `warden_domain::Target::from_observable`).

use std::sync::LazyLock;

use regex::Regex;
use warden_domain::{Observable, ObservableKind, Provenance, Untrusted};

/// Longest text scanned; beyond this, an attacker could make extraction slow.
const MAX_SCAN_BYTES: usize = 64 * 1024;

/// Most observables taken from one text field.
const MAX_PER_FIELD: usize = 64;

struct Pattern {
    kind: ObservableKind,
    regex: Regex,
}

static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    let specs = [
        (ObservableKind::Url, r"\bhttps?://[^\s<>'\x22`]{3,}"),
        (
            ObservableKind::Email,
            // Unbounded runs: counted ones ({1,253}) push the regex engine
            // off its fast path; Observable::parse caps the length.
            r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,24}\b",
        ),
        (
            ObservableKind::Ip,
            r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b",
        ),
        (
            ObservableKind::FileHash,
            r"\b(?:[A-Fa-f0-9]{64}|[A-Fa-f0-9]{40}|[A-Fa-f0-9]{32})\b",
        ),
    ];
    specs
        .into_iter()
        .filter_map(|(kind, pattern)| {
            Regex::new(pattern)
                .ok()
                .map(|regex| Pattern { kind, regex })
        })
        .collect()
});

/// Observables mentioned in `text`, which came from the field `field`.
pub fn from_text(field: &str, text: &Untrusted) -> Vec<Observable> {
    let raw = text.as_untrusted_str();
    let mut end = raw.len().min(MAX_SCAN_BYTES);
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    let scanned = raw.get(..end).unwrap_or_default();
    let mut found = Vec::new();
    for pattern in PATTERNS.iter() {
        if !could_hold(pattern.kind, scanned) {
            continue;
        }
        for hit in pattern.regex.find_iter(scanned).take(MAX_PER_FIELD) {
            let value = hit.as_str().trim_end_matches(['.', ',', ')', ';', ']']);
            let provenance = Provenance::Text {
                field: field.to_owned(),
            };
            if let Ok(observable) = Observable::parse(pattern.kind, value, provenance.clone()) {
                found.push(observable);
            }
            // A URL's host is worth knowing on its own (intel lists domains).
            if pattern.kind == ObservableKind::Url
                && let Some(host) = url_host(value)
                && let Ok(observable) = Observable::parse(
                    if host.parse::<std::net::IpAddr>().is_ok() {
                        ObservableKind::Ip
                    } else {
                        ObservableKind::Domain
                    },
                    host,
                    provenance,
                )
            {
                found.push(observable);
            }
        }
    }
    found
}

/// Whether any pattern could match `text`: a field that cannot hold an
/// observable need not be kept for scanning at all.
pub fn worth_scanning(text: &str) -> bool {
    PATTERNS.iter().any(|p| could_hold(p.kind, text))
}

/// A cheap necessary condition for a pattern to match, so that the many
/// short fields of an alert (ids, flags, numbers) skip the regex search.
fn could_hold(kind: ObservableKind, text: &str) -> bool {
    match kind {
        ObservableKind::Url => text.contains("://"),
        ObservableKind::Email => text.contains('@'),
        ObservableKind::Ip => text.bytes().filter(|b| *b == b'.').nth(2).is_some(),
        // 32 hex digits in a row at least.
        ObservableKind::FileHash => {
            let mut run = 0;
            text.bytes().any(|b| {
                run = if b.is_ascii_hexdigit() { run + 1 } else { 0 };
                run >= 32
            })
        }
        _ => true,
    }
}

/// The host part of an http(s) URL.
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port
            .split_once(']')
            .map(|(h, _)| h.trim_start_matches('['))?
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typed_observables_marked_as_text() {
        let text = Untrusted::new(
            "beacon to 185.220.101.45 via https://cdn.bad.example/q/x.ps1, mail bob@corp.example \
             hash 0edf54b5f8bc35b0bf0ca810d9fb1a96132b92c00db01766074d76e06c5a6982",
        );
        let found = from_text("message", &text);
        let kinds: Vec<_> = found.iter().map(|o| (o.kind, o.value.as_str())).collect();
        assert!(kinds.contains(&(ObservableKind::Ip, "185.220.101.45")));
        assert!(kinds.contains(&(ObservableKind::Url, "https://cdn.bad.example/q/x.ps1")));
        assert!(kinds.contains(&(ObservableKind::Domain, "cdn.bad.example")));
        assert!(kinds.contains(&(ObservableKind::Email, "bob@corp.example")));
        assert!(kinds.iter().any(|(k, _)| *k == ObservableKind::FileHash));
        assert!(found.iter().all(|o| !o.is_structured()));
    }

    #[test]
    fn rejects_non_addresses() {
        let found = from_text("m", &Untrusted::new("version 1.2.3.999 and 300.1.1.1"));
        assert!(
            found.iter().all(|o| o.kind != ObservableKind::Ip),
            "{found:?}"
        );
    }

    #[test]
    fn url_host_handles_userinfo_ports_and_ipv6() {
        assert_eq!(
            url_host("https://u:p@host.example:8443/x"),
            Some("host.example")
        );
        assert_eq!(url_host("http://[2001:db8::1]:80/"), Some("2001:db8::1"));
    }
}
