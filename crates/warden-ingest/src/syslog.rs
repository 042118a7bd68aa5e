//! A syslog message carrying CEF or LEEF, split into its header fields and
//! the payload, without I/O (the syslog receiver reads with this).
//!
//! The payload starts at the `CEF:` or `LEEF:` marker (at the start, or
//! after a space within the first 2 KiB), found as format detection finds
//! it; what comes before is the header, read as RFC 5424 when it has a
//! version after the priority (`<13>1 2019-01-18T11:07:53.520Z host ...`)
//! and as RFC 3164 otherwise (`<13>Jan 18 11:07:53 host tag[1]:`). The
//! marker decides where the payload starts, not the header grammar: a
//! general syslog parser reads `host CEF:0|...` as a tag `CEF` and a
//! message `0|...`, and refuses the short RFC 5424 headers QRadar's own
//! LEEF guide shows (no app name, process id or message id). Header
//! fields that are not there are `None`; the header is never a reason to
//! refuse a message, except a priority that is not one.
//!
//! Header fields are the sender's word, like everything in the message: a
//! receiver records them as where the message says it came from, next to
//! the address it really came from.

use std::fmt;

use time::OffsetDateTime;

use crate::formats::text::{LineFormat, locate_text};

/// The line format of a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    Cef,
    Leef,
}

/// A syslog message split into header and payload; every field borrows
/// from the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogMessage<'a> {
    pub header: SyslogHeader<'a>,
    /// The CEF or LEEF text, from its marker to the end (line ending
    /// removed).
    pub payload: &'a str,
    pub format: PayloadFormat,
}

/// The header fields found, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyslogHeader<'a> {
    /// Everything before the payload, trimmed; empty when there is none.
    pub raw: &'a str,
    /// `<PRI>`: facility × 8 + severity, 0 to 191.
    pub priority: Option<u8>,
    /// `Some(1)` for RFC 5424; `None` for RFC 3164 (or no header).
    pub version: Option<u8>,
    /// The timestamp as written (`Jan 18 11:07:53`,
    /// `2019-01-18T11:07:53.520Z`).
    pub timestamp: Option<&'a str>,
    /// The RFC 5424 timestamp, read (an RFC 3164 one has no year: the
    /// receiver's own clock dates the message).
    pub time: Option<OffsetDateTime>,
    pub hostname: Option<&'a str>,
    pub app_name: Option<&'a str>,
    pub proc_id: Option<&'a str>,
    pub msg_id: Option<&'a str>,
    /// RFC 5424 structured data as written (`[ex@32473 iut="3"]`).
    pub structured_data: Option<&'a str>,
}

impl SyslogHeader<'_> {
    /// The facility (priority / 8).
    pub fn facility(&self) -> Option<u8> {
        self.priority.map(|p| p / 8)
    }

    /// The syslog severity (priority % 8; 0 emergency to 7 debug): the
    /// transport's, not the event's.
    pub fn severity(&self) -> Option<u8> {
        self.priority.map(|p| p % 8)
    }
}

/// Why a message could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyslogError {
    /// No `CEF:` or `LEEF:` marker where a payload may start.
    NoPayload,
    /// `<...>` at the start that is not a priority of 0 to 191.
    Priority(String),
}

impl fmt::Display for SyslogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyslogError::NoPayload => f.write_str(
                "no CEF or LEEF payload: no CEF: or LEEF: at the start or after the syslog header",
            ),
            SyslogError::Priority(text) => {
                write!(
                    f,
                    "malformed syslog priority <{text}>: not a number from 0 to 191"
                )
            }
        }
    }
}

impl std::error::Error for SyslogError {}

/// Split `message` into its syslog header and its CEF or LEEF payload.
pub fn split(message: &str) -> Result<SyslogMessage<'_>, SyslogError> {
    let message = message.trim_end_matches(['\r', '\n', '\0']);
    let (format, at) = locate_text(message).ok_or(SyslogError::NoPayload)?;
    let (head, payload) = message.split_at_checked(at).ok_or(SyslogError::NoPayload)?;
    let format = match format {
        LineFormat::Cef => PayloadFormat::Cef,
        LineFormat::Leef => PayloadFormat::Leef,
    };
    Ok(SyslogMessage {
        header: header(head.trim())?,
        payload,
        format,
    })
}

fn header(raw: &str) -> Result<SyslogHeader<'_>, SyslogError> {
    let mut header = SyslogHeader {
        raw,
        ..SyslogHeader::default()
    };
    let mut rest = raw;
    if let Some(after) = rest.strip_prefix('<') {
        let (digits, tail) = after
            .split_once('>')
            .ok_or_else(|| SyslogError::Priority(after.chars().take(8).collect()))?;
        let priority = (1..=3)
            .contains(&digits.len())
            .then(|| digits.parse::<u8>().ok())
            .flatten()
            .filter(|p| *p <= 191)
            .ok_or_else(|| SyslogError::Priority(digits.chars().take(8).collect()))?;
        header.priority = Some(priority);
        rest = tail;
    }
    // RFC 5424: a version right after the priority, then a space.
    let version = rest
        .split_once(' ')
        .filter(|(v, _)| header.priority.is_some() && !v.is_empty() && v.len() <= 2)
        .and_then(|(v, tail)| v.parse::<u8>().ok().map(|v| (v, tail)));
    match version {
        Some((version, tail)) => {
            header.version = Some(version);
            rfc5424(&mut header, tail);
        }
        None => rfc3164(&mut header, rest),
    }
    Ok(header)
}

/// `TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA`, `-` for a
/// missing field; trailing fields may be left out (as QRadar's examples
/// do).
fn rfc5424<'a>(header: &mut SyslogHeader<'a>, text: &'a str) {
    let mut rest = text.trim_start();
    let mut fields = [None; 5];
    for field in &mut fields {
        if rest.is_empty() || rest.starts_with('[') {
            break;
        }
        let (word, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        *field = (word != "-").then_some(word);
        rest = tail.trim_start();
    }
    let [timestamp, hostname, app_name, proc_id, msg_id] = fields;
    header.timestamp = timestamp;
    header.time = timestamp.and_then(crate::formats::parse_rfc3339);
    header.hostname = hostname;
    header.app_name = app_name;
    header.proc_id = proc_id;
    header.msg_id = msg_id;
    let rest = rest.trim();
    header.structured_data = (!rest.is_empty() && rest != "-").then_some(rest);
}

/// `Mmm dd hh:mm:ss HOSTNAME [TAG[PID]:]`. Senders add a year or a zone
/// after the time (`Jan 23 12:10:16 UTC egs-001`), kept in the timestamp.
fn rfc3164<'a>(header: &mut SyslogHeader<'a>, text: &'a str) {
    let text = text.trim_start();
    let words: Vec<(usize, &str)> = text
        .split(' ')
        .scan(0usize, |at, word| {
            let start = *at;
            *at += word.len() + 1;
            Some((start, word))
        })
        .filter(|(_, word)| !word.is_empty())
        .collect();
    let is_month = |w: &str| {
        [
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ]
        .contains(&w.to_ascii_lowercase().as_str())
    };
    let is_clock = |w: &str| w.len() >= 8 && w.bytes().filter(|b| *b == b':').count() == 2;
    let mut next = 0;
    if let (Some((start, month)), Some((_, day)), Some((clock_at, clock))) =
        (words.first(), words.get(1), words.get(2))
        && is_month(month)
        && day.trim_end_matches(',').parse::<u8>().is_ok()
        && is_clock(clock)
    {
        let mut end = clock_at + clock.len();
        next = 3;
        // A year or a zone some senders add.
        if let Some((at, extra)) = words.get(3)
            && (extra.parse::<u16>().is_ok_and(|y| y > 1970)
                || matches!(extra.to_ascii_uppercase().as_str(), "UTC" | "GMT" | "Z"))
            && words.len() > 4
        {
            end = at + extra.len();
            next = 4;
        }
        header.timestamp = text.get(*start..end);
    }
    match words.get(next..).unwrap_or_default() {
        [] => {}
        [host] => header.hostname = Some(host.1),
        [host, tag, ..] => {
            header.hostname = Some(host.1);
            if let Some(tag) = tag.1.strip_suffix(':') {
                match tag.split_once('[') {
                    Some((app, pid)) => {
                        header.app_name = Some(app);
                        header.proc_id = pid.strip_suffix(']');
                    }
                    None => header.app_name = Some(tag),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibm_rfc_3164_headers() {
        let m = split(
            "<13>Jan 18 11:07:53 192.168.1.1 LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8",
        )
        .expect("splits");
        assert_eq!(m.format, PayloadFormat::Leef);
        assert_eq!(
            m.payload,
            "LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8"
        );
        assert_eq!(m.header.priority, Some(13));
        assert_eq!(m.header.facility(), Some(1));
        assert_eq!(m.header.severity(), Some(5));
        assert_eq!(m.header.version, None);
        assert_eq!(m.header.timestamp, Some("Jan 18 11:07:53"));
        assert_eq!(m.header.hostname, Some("192.168.1.1"));
        assert_eq!(m.header.app_name, None);

        let m = split("Jan 18 11:07:53 myhostname LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|")
            .expect("splits");
        assert_eq!(m.header.priority, None);
        assert_eq!(m.header.hostname, Some("myhostname"));
    }

    #[test]
    fn ibm_rfc_5424_headers_without_app_fields() {
        let m = split("<133>1 2019-01-18T11:07:53.520+07:00 myhostname LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|")
            .expect("splits");
        assert_eq!(m.header.version, Some(1));
        assert_eq!(m.header.priority, Some(133));
        assert_eq!(m.header.timestamp, Some("2019-01-18T11:07:53.520+07:00"));
        assert_eq!(
            m.header.time.map(|t| t.unix_timestamp()),
            Some(1_547_784_473)
        );
        assert_eq!(m.header.hostname, Some("myhostname"));
        assert_eq!(m.header.app_name, None);
        assert_eq!(m.header.structured_data, None);
    }

    #[test]
    fn a_full_rfc_5424_header_with_structured_data() {
        let m = split(
            "<134>1 2026-12-07T10:00:00Z fw01 fortigate 4242 ID47 [ex@32473 iut=\"3\" note=\"a \\] b\"] CEF:0|Fortinet|Fortigate|7.4|13056|blocked|4|src=10.1.1.1\r\n",
        )
        .expect("splits");
        assert_eq!(m.header.hostname, Some("fw01"));
        assert_eq!(m.header.app_name, Some("fortigate"));
        assert_eq!(m.header.proc_id, Some("4242"));
        assert_eq!(m.header.msg_id, Some("ID47"));
        assert_eq!(
            m.header.structured_data,
            Some("[ex@32473 iut=\"3\" note=\"a \\] b\"]")
        );
        assert_eq!(
            m.payload,
            "CEF:0|Fortinet|Fortigate|7.4|13056|blocked|4|src=10.1.1.1"
        );
        // Nil fields.
        let m = split("<14>1 - - - - - - CEF:0|v|p|1|id|n|5|").expect("splits");
        assert_eq!(m.header.timestamp, None);
        assert_eq!(m.header.hostname, None);
        assert_eq!(m.header.structured_data, None);
    }

    #[test]
    fn vendor_rfc_3164_headers_with_tags_years_and_zones() {
        let m = split("<13>Jan 18 11:07:53 host myapp[123]: CEF:0|a|b|c|d|e|5|").expect("splits");
        assert_eq!(m.header.hostname, Some("host"));
        assert_eq!(m.header.app_name, Some("myapp"));
        assert_eq!(m.header.proc_id, Some("123"));
        // OPSWAT writes a zone after the time.
        let m = split("Jan 23 12:10:16 UTC egs-001 CEF:0|OPSWAT|MDEMAIL|5.7.4|email.workflow|Sending email|2|OMSmsgid=2407")
            .expect("splits");
        assert_eq!(m.header.timestamp, Some("Jan 23 12:10:16 UTC"));
        assert_eq!(m.header.hostname, Some("egs-001"));
        // FortiOS: `CEF: 0` is still the payload, not a tag.
        let m = split(
            "Dec 27 11:23:49 FGT-A-LOG CEF: 0|Fortinet|Fortigate|v6.0.3|13056|x|4|src=10.1.100.11",
        )
        .expect("splits");
        assert_eq!(m.header.hostname, Some("FGT-A-LOG"));
        assert_eq!(m.header.app_name, None);
        assert!(m.payload.starts_with("CEF: 0|Fortinet"));
        // A day padded with a space.
        let m = split("Jan  5 01:02:03 host CEF:0|a|b|c|d|e|5|").expect("splits");
        assert_eq!(m.header.timestamp, Some("Jan  5 01:02:03"));
        assert_eq!(m.header.hostname, Some("host"));
    }

    #[test]
    fn no_header_no_payload_and_bad_priorities() {
        let m = split("CEF:0|a|b|c|d|e|5|").expect("splits");
        assert_eq!(m.header, SyslogHeader::default());
        assert_eq!(
            split("<13>Jan 18 11:07:53 host hello"),
            Err(SyslogError::NoPayload)
        );
        assert_eq!(
            split("<999>Jan 18 11:07:53 host CEF:0|a|b|c|d|e|5|"),
            Err(SyslogError::Priority("999".into()))
        );
        assert!(
            SyslogError::Priority("x".into())
                .to_string()
                .contains("priority <x>")
        );
    }

    #[test]
    fn the_payload_goes_through_the_format_unchanged() {
        use serde_json::Value;
        use warden_domain::SourceFormat;
        let m = split("<13>Jan 18 11:07:53 192.168.1.1 LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^sev=5")
            .expect("splits");
        let payload = Value::String(m.payload.to_owned());
        assert_eq!(crate::detect(&payload), Ok(SourceFormat::Leef));
        let alert = crate::formats::normalise_received(
            SourceFormat::Leef,
            payload,
            "udp://0.0.0.0:514 from 192.0.2.7",
            "h",
            OffsetDateTime::from_unix_timestamp(1_800_000_000).ok(),
        )
        .expect("normalises");
        assert_eq!(alert.rule.name, "Lancope StealthWatch 41");
    }
}
