//! What the line formats (CEF and LEEF) share: finding where the event
//! starts after an optional syslog header, and reading the dates they
//! carry.
//!
//! A line format's payload is a JSON string holding the line as received:
//! the alert's `raw` keeps it whole, syslog header included.

use serde_json::Value;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// The longest syslog header skipped before a `CEF:` or `LEEF:` marker.
/// RFC 5424 headers with structured data can be long, but a marker further
/// in is text inside something else, not the start of an event.
const MAX_PREFIX_BYTES: usize = 2048;

/// Which line format a text payload is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineFormat {
    Cef,
    Leef,
}

/// The line format of `payload` and the byte offset where its marker
/// (`CEF:` or `LEEF:`) starts, if it is a JSON string that holds one at its
/// start or after a syslog header (the marker preceded by a space). The
/// earliest marker wins, so a CEF line quoting `LEEF:` in a value stays CEF.
pub(crate) fn locate(payload: &Value) -> Option<(LineFormat, usize)> {
    let text = payload.as_str()?;
    locate_text(text)
}

/// [`locate`] on the text itself.
pub(crate) fn locate_text(text: &str) -> Option<(LineFormat, usize)> {
    let head = prefix_window(text);
    let cef = find_marker(head, "CEF:").map(|at| (LineFormat::Cef, at));
    let leef = find_marker(head, "LEEF:").map(|at| (LineFormat::Leef, at));
    match (cef, leef) {
        (Some(c), Some(l)) => Some(if c.1 <= l.1 { c } else { l }),
        (c, l) => c.or(l),
    }
}

/// The start of `text` where a marker may be: the first
/// [`MAX_PREFIX_BYTES`] bytes plus room for the marker, cut on a character
/// boundary.
fn prefix_window(text: &str) -> &str {
    let mut end = text.len().min(MAX_PREFIX_BYTES + 8);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or(text)
}

fn find_marker(head: &str, marker: &str) -> Option<usize> {
    let trimmed = head.trim_start();
    let lead = head.len() - trimmed.len();
    if trimmed.starts_with(marker) {
        return Some(lead);
    }
    head.match_indices(marker).map(|(at, _)| at).find(|&at| {
        at <= MAX_PREFIX_BYTES
            && head
                .get(..at)
                .is_some_and(|before| before.ends_with([' ', '\t']))
    })
}

/// Why a date could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DateError {
    /// The date names no year (`MMM dd HH:mm:ss`): which year it is would
    /// depend on when it is read.
    NoYear,
    /// A time zone other than UTC, GMT, Z or a numeric offset.
    Zone(String),
    /// Not one of the forms read.
    Unreadable,
}

impl DateError {
    /// A short reason for an error message.
    pub(crate) fn reason(&self) -> String {
        match self {
            DateError::NoYear => "the date has no year".into(),
            DateError::Zone(zone) => format!(
                "time zone {zone:?} is not read (use UTC, GMT, Z or an offset such as GMT+02:00)"
            ),
            DateError::Unreadable => "not a date in a form CEF or LEEF define".into(),
        }
    }
}

/// A CEF or LEEF date in one of the forms the ArcSight CEF specification
/// lists (and LEEF's default `devTime` form): milliseconds since the epoch,
/// `MMM dd yyyy HH:mm:ss[.SSS][ zone]`, or RFC 3339, which some senders use.
/// A date without a zone is taken as UTC. The year-less forms (`MMM dd
/// HH:mm:ss`) are refused: the year would have to be guessed.
pub(crate) fn parse_date(text: &str) -> Result<OffsetDateTime, DateError> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let value: f64 = text.parse().map_err(|_| DateError::Unreadable)?;
        return super::from_epoch(value).ok_or(DateError::Unreadable);
    }
    if let Some(time) = super::parse_rfc3339(text) {
        return Ok(time);
    }
    month_name_date(text)
}

/// `MMM dd yyyy HH:mm:ss[.SSS][ zone]` (the year may be missing, which is
/// an error of its own).
fn month_name_date(text: &str) -> Result<OffsetDateTime, DateError> {
    let mut words = text.split_whitespace();
    let month = words.next().and_then(month).ok_or(DateError::Unreadable)?;
    let day: u8 = words
        .next()
        .and_then(|d| d.parse().ok())
        .ok_or(DateError::Unreadable)?;
    let year = words.next().ok_or(DateError::Unreadable)?;
    if year.contains(':') {
        // `MMM dd HH:mm:ss`: the clock where the year belongs.
        return Err(DateError::NoYear);
    }
    let year: i32 = year.parse().map_err(|_| DateError::Unreadable)?;
    let clock = words.next().ok_or(DateError::Unreadable)?;
    let zone: Vec<&str> = words.collect();
    let offset = match zone.as_slice() {
        [] => UtcOffset::UTC,
        [zone] => parse_zone(zone)?,
        _ => return Err(DateError::Unreadable),
    };
    let date = Date::from_calendar_date(year, month, day).map_err(|_| DateError::Unreadable)?;
    let time = parse_clock(clock).ok_or(DateError::Unreadable)?;
    Ok(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

fn month(name: &str) -> Option<Month> {
    const MONTHS: [(&str, Month); 12] = [
        ("jan", Month::January),
        ("feb", Month::February),
        ("mar", Month::March),
        ("apr", Month::April),
        ("may", Month::May),
        ("jun", Month::June),
        ("jul", Month::July),
        ("aug", Month::August),
        ("sep", Month::September),
        ("oct", Month::October),
        ("nov", Month::November),
        ("dec", Month::December),
    ];
    let lower = name.to_ascii_lowercase();
    let short = lower.get(..3)?;
    MONTHS
        .iter()
        .find(|(n, _)| *n == short)
        .map(|(_, month)| *month)
}

/// `HH:mm:ss` with optional `.SSS` (any number of fraction digits).
fn parse_clock(text: &str) -> Option<Time> {
    let (clock, fraction) = match text.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (text, None),
    };
    let mut parts = clock.split(':');
    let hour: u8 = parts.next()?.parse().ok()?;
    let minute: u8 = parts.next()?.parse().ok()?;
    let second: u8 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    let nanos = match fraction {
        None => 0,
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            let kept: String = digits.chars().take(9).collect();
            let scale = 10u32.pow(9 - u32::try_from(kept.len()).ok()?);
            kept.parse::<u32>().ok()?.checked_mul(scale)?
        }
        Some(_) => return None,
    };
    Time::from_hms_nano(hour, minute, second, nanos).ok()
}

/// `UTC`, `GMT`, `Z`, `GMT+02:00`, `UTC-0500`, `+02:00`, `-0500`.
pub(crate) fn parse_zone(zone: &str) -> Result<UtcOffset, DateError> {
    let upper = zone.to_ascii_uppercase();
    let numeric = upper
        .strip_prefix("GMT")
        .or_else(|| upper.strip_prefix("UTC"))
        .unwrap_or(&upper);
    if numeric.is_empty() || numeric == "Z" {
        return Ok(UtcOffset::UTC);
    }
    numeric_offset(numeric).ok_or_else(|| DateError::Zone(zone.to_owned()))
}

/// `+02:00`, `-0500`, `+2`.
fn numeric_offset(text: &str) -> Option<UtcOffset> {
    let sign: i8 = match text.chars().next()? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    let digits: String = text.get(1..)?.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = if digits.len() <= 2 {
        (digits.parse::<i8>().ok()?, 0)
    } else {
        let split = digits.len() - 2;
        (
            digits.get(..split)?.parse::<i8>().ok()?,
            digits.get(split..)?.parse::<i8>().ok()?,
        )
    };
    UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn markers_are_found_at_the_start_or_after_a_syslog_header() {
        assert_eq!(
            locate(&json!("CEF:0|a|b|c|d|e|5|")),
            Some((LineFormat::Cef, 0))
        );
        assert_eq!(
            locate(&json!("<13>Jan 18 11:07:53 host LEEF:1.0|a|b|c|d|")),
            Some((LineFormat::Leef, 25))
        );
        // The earliest marker wins.
        assert_eq!(
            locate(&json!("CEF:0|a|b|c|d|e|5|msg=quoted LEEF:1.0|x")),
            Some((LineFormat::Cef, 0))
        );
        // Not after a space: part of a word, not a marker.
        assert_eq!(locate(&json!("xCEF:0|a|b|c|d|e|5|")), None);
        assert_eq!(locate(&json!({"CEF:": 1})), None);
        assert_eq!(locate(&json!("plain text")), None);
    }

    #[test]
    fn a_marker_far_into_the_text_is_not_an_event_start() {
        let text = format!("{} CEF:0|a|b|c|d|e|5|", "x".repeat(MAX_PREFIX_BYTES + 10));
        assert_eq!(locate_text(&text), None);
    }

    #[test]
    fn dates_in_the_forms_the_specifications_list() {
        let at = |text: &str| parse_date(text).map(|t| t.unix_timestamp());
        assert_eq!(at("1723564700000"), Ok(1_723_564_700));
        assert_eq!(at("Jun 27 2012 03:14:03 GMT+00:00"), Ok(1_340_766_843));
        assert_eq!(at("Jun 27 2012 05:14:03 GMT+02:00"), Ok(1_340_766_843));
        assert_eq!(at("Jun 27 2012 03:14:03.250 UTC"), Ok(1_340_766_843));
        assert_eq!(at("Jun 27 2012 03:14:03"), Ok(1_340_766_843));
        assert_eq!(at("2012-06-27T03:14:03Z"), Ok(1_340_766_843));
        assert_eq!(at("Jun 27 03:14:03"), Err(DateError::NoYear));
        assert_eq!(
            at("Jun 27 2012 03:14:03 EDT"),
            Err(DateError::Zone("EDT".into()))
        );
        assert_eq!(at("yesterday"), Err(DateError::Unreadable));
        assert_eq!(at("Jun 31 2012 03:14:03"), Err(DateError::Unreadable));
    }
}
