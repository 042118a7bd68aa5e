//! Observables found by pattern inside untrusted free text.
//!
//! Addresses are taken only where they stand alone (not a version after a
//! slash, `Chrome/111.0.0.0`), and hex strings only where a label names
//! them a digest (`SHA256=`, `md5:`): by shape alone, the hashes in HTTP
//! text are mostly session cookies.
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
            let before = scanned.get(..hit.start()).unwrap_or_default();
            let after = scanned.get(hit.end()..).unwrap_or_default();
            let fits = match pattern.kind {
                ObservableKind::Ip => standalone_address(before, after),
                ObservableKind::FileHash => labelled_as_hash(before),
                _ => true,
            };
            if !fits {
                continue;
            }
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

/// Whether a dotted quad between `before` and `after` stands alone as an
/// address. Not when it is part of a longer dotted number (`1.2.3.4.5`), a
/// product's version after a slash (`Chrome/111.0.0.0`, whose `111.0.0.0`
/// is no address of anyone's), or a network written with its prefix length
/// (`10.0.0.0/8`). An address in a URL is found with the URL.
fn standalone_address(before: &str, after: &str) -> bool {
    let mut back = before.chars().rev();
    let (b1, b2) = (back.next(), back.next());
    let mut ahead = after.chars();
    let (a1, a2) = (ahead.next(), ahead.next());
    let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
    let dotted_before = b1 == Some('.') && digit(b2);
    let dotted_after = a1 == Some('.') && digit(a2);
    let version = b1 == Some('/') && !before.ends_with("://");
    let prefix_length = a1 == Some('/') && digit(a2);
    !(dotted_before || dotted_after || version || prefix_length)
}

/// Words that say the hex string after them is a file's digest.
const HASH_LABELS: &[&str] = &[
    "md5",
    "sha1",
    "sha-1",
    "sha256",
    "sha-256",
    "sha384",
    "sha-384",
    "sha512",
    "sha-512",
    "hash",
    "hashes",
    "filehash",
    "file_hash",
    "digest",
    "checksum",
    "md5sum",
    "sha1sum",
    "sha256sum",
];

/// Whether the text just before a hex string labels it a file digest
/// (`SHA256=...`, `md5: ...`, `"sha1": "..."`, `file hash ...`). A hex
/// string's shape alone says nothing: in HTTP text most are session
/// cookies, CSRF tokens and request ids, which are not file hashes.
fn labelled_as_hash(before: &str) -> bool {
    let mut start = before.len().saturating_sub(48);
    while !before.is_char_boundary(start) {
        start += 1;
    }
    let window = before.get(start..).unwrap_or_default();
    // The separators a label is written with: `=`, `:`, quotes, spaces...
    let label_end = window.trim_end_matches(|c: char| {
        c.is_whitespace() || matches!(c, '=' | ':' | '"' | '\'' | '(' | '[' | '{' | ',' | '#')
    });
    if label_end.len() == window.len() {
        // Glued to the text before it (`id5d41...`): not labelled.
        return false;
    }
    let word_start = label_end
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .map_or(0, |i| i + 1);
    let word = label_end
        .get(word_start..)
        .unwrap_or_default()
        .to_ascii_lowercase();
    HASH_LABELS.contains(&word.as_str()) || word.ends_with("_hash") || word.ends_with("-hash")
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

    fn found(kind: ObservableKind, text: &str) -> Vec<String> {
        from_text("m", &Untrusted::new(text))
            .into_iter()
            .filter(|o| o.kind == kind)
            .map(|o| o.value)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    #[test]
    fn version_strings_are_not_addresses() {
        let agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                     (KHTML, like Gecko) Chrome/111.0.0.0 Safari/537.36 Edg/111.0.1661.44";
        assert!(found(ObservableKind::Ip, agent).is_empty());
        assert!(found(ObservableKind::Ip, "build 1.2.3.4.5 and net 10.0.0.0/8").is_empty());
        assert_eq!(
            found(
                ObservableKind::Ip,
                "from 198.51.100.7/ via http://203.0.113.9/x (10.1.2.3)"
            ),
            vec!["10.1.2.3", "198.51.100.7", "203.0.113.9"]
        );
    }

    #[test]
    fn hex_strings_are_hashes_only_where_labelled() {
        let cookie = "Cookie: PHPSESSID=5d41402abc4b2a76b9719d911017c592; \
                      csrf_token=0123456789abcdef0123456789abcdef01234567; \
                      request-id 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert!(found(ObservableKind::FileHash, cookie).is_empty());
        let labelled = "Hashes: SHA1=A94A8FE5CCB19BA61C4C0873D391E987982FBBD3,\
                        MD5=5D41402ABC4B2A76B9719D911017C592 file hash \
                        9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 \
                        {\"sha256\": \"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae\"}";
        assert_eq!(found(ObservableKind::FileHash, labelled).len(), 4);
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
