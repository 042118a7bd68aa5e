//! A mapped source's event time: which form it is written in, and what to
//! do when a payload has none.
//!
//! `format` is `auto` (the default: RFC 3339, or Unix seconds or
//! milliseconds told apart by size), `rfc3339`, `epoch_seconds`,
//! `epoch_milliseconds`, `rfc2822`, `http_date` (RFC 9110's IMF-fixdate
//! and the two obsolete forms, as in an HTTP `Date:` header), or a
//! `strftime` pattern (`%d/%b/%Y:%H:%M:%S %z`), read with the `time`
//! crate's strftime descriptions. A pattern without `%z` must say which
//! `offset` its times are in: a guessed zone would shift every alert.

use time::format_description::OwnedFormatItem;
use time::format_description::well_known::Rfc2822;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use super::spec::{Failure, RawSpec, RawValue, ValueSpec};
use crate::formats::{from_epoch, parse_rfc3339};

/// How a time is written.
#[derive(Debug, Clone)]
pub(super) enum TimeFormat {
    Auto,
    Rfc3339,
    EpochSeconds,
    EpochMilliseconds,
    Rfc2822,
    HttpDate,
    Pattern {
        pattern: String,
        items: OwnedFormatItem,
        /// The offset to assume when the pattern has no `%z`.
        offset: Option<UtcOffset>,
    },
}

impl TimeFormat {
    /// What a value was expected to be, for messages.
    fn expected(&self) -> String {
        match self {
            TimeFormat::Auto => "an RFC 3339 time or Unix seconds/milliseconds".into(),
            TimeFormat::Rfc3339 => "an RFC 3339 time".into(),
            TimeFormat::EpochSeconds => "Unix seconds".into(),
            TimeFormat::EpochMilliseconds => "Unix milliseconds".into(),
            TimeFormat::Rfc2822 => "an RFC 2822 date".into(),
            TimeFormat::HttpDate => "an HTTP-date (Sun, 06 Nov 1994 08:49:37 GMT)".into(),
            TimeFormat::Pattern { pattern, .. } => format!("a time in the pattern {pattern:?}"),
        }
    }

    fn parse_text(&self, text: &str) -> Option<OffsetDateTime> {
        let text = text.trim();
        match self {
            TimeFormat::Auto => {
                parse_rfc3339(text).or_else(|| text.parse().ok().and_then(from_epoch))
            }
            TimeFormat::Rfc3339 => parse_rfc3339(text),
            TimeFormat::EpochSeconds => text.parse().ok().and_then(epoch_seconds),
            TimeFormat::EpochMilliseconds => text
                .parse::<f64>()
                .ok()
                .and_then(|ms| epoch_seconds(ms / 1000.0)),
            TimeFormat::Rfc2822 => OffsetDateTime::parse(text, &Rfc2822)
                .ok()
                .or_else(|| http_date(text)),
            TimeFormat::HttpDate => http_date(text),
            TimeFormat::Pattern { items, offset, .. } => match offset {
                Some(offset) => PrimitiveDateTime::parse(text, items)
                    .ok()
                    .map(|t| t.assume_offset(*offset)),
                None => OffsetDateTime::parse(text, items).ok(),
            },
        }
    }

    fn parse_number(&self, number: f64) -> Option<OffsetDateTime> {
        match self {
            TimeFormat::Auto => from_epoch(number),
            TimeFormat::EpochSeconds => epoch_seconds(number),
            TimeFormat::EpochMilliseconds => epoch_seconds(number / 1000.0),
            _ => None,
        }
    }
}

/// Unix seconds (fractions kept to the nanosecond).
fn epoch_seconds(seconds: f64) -> Option<OffsetDateTime> {
    if !seconds.is_finite() {
        return None;
    }
    let nanos = (seconds * 1e9).round();
    if nanos.abs() > 1e28 {
        return None;
    }
    OffsetDateTime::from_unix_timestamp_nanos(nanos as i128).ok()
}

/// An HTTP-date in any of the three forms RFC 9110 says to accept.
fn http_date(text: &str) -> Option<OffsetDateTime> {
    httpdate::parse_http_date(text)
        .ok()
        .map(OffsetDateTime::from)
}

/// `fields.time`, checked.
#[derive(Debug, Clone)]
pub(super) struct TimeSpec {
    pub spec: ValueSpec,
    pub format: TimeFormat,
    /// Use the time of ingest when the payload has no time.
    pub default_ingest_time: bool,
}

/// Why a payload's time could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TimeError {
    /// Nothing at the pointer, and no default.
    Missing,
    /// A value that is not in the declared form.
    Unreadable { value: String, expected: String },
    /// A transform did not apply to the value.
    Transform(Failure),
}

impl TimeSpec {
    /// Check `fields.time` as written.
    pub fn new(raw: RawSpec) -> Result<Self, String> {
        let spec = ValueSpec::new(raw.pointer, raw.value, &raw.transforms)?;
        let default_ingest_time = match raw.default.as_deref() {
            None => false,
            Some("ingest_time") => true,
            Some(other) => {
                return Err(format!(
                    "default {other:?} is not \"ingest_time\" (the only default a time can have)"
                ));
            }
        };
        let offset = raw.offset.as_deref().map(parse_offset).transpose()?;
        let format = match raw.format.as_deref().unwrap_or("auto") {
            "auto" => TimeFormat::Auto,
            "rfc3339" => TimeFormat::Rfc3339,
            "epoch_seconds" => TimeFormat::EpochSeconds,
            "epoch_milliseconds" => TimeFormat::EpochMilliseconds,
            "rfc2822" => TimeFormat::Rfc2822,
            "http_date" => TimeFormat::HttpDate,
            pattern if pattern.contains('%') => {
                let items =
                    time::format_description::parse_strftime_owned(pattern).map_err(|err| {
                        format!("format {pattern:?} is not a strftime pattern: {err}")
                    })?;
                let has_offset = pattern.contains("%z");
                if has_offset && offset.is_some() {
                    return Err(format!(
                        "format {pattern:?} reads the offset (%z); remove offset"
                    ));
                }
                if !has_offset && offset.is_none() {
                    return Err(format!(
                        "format {pattern:?} has no offset (%z): say which one its times are in, \
                         such as offset = \"+00:00\""
                    ));
                }
                TimeFormat::Pattern {
                    pattern: pattern.to_owned(),
                    items,
                    offset,
                }
            }
            other => {
                return Err(format!(
                    "format {other:?} is not auto, rfc3339, epoch_seconds, epoch_milliseconds, \
                     rfc2822, http_date or a strftime pattern (with %)"
                ));
            }
        };
        if offset.is_some() && !matches!(format, TimeFormat::Pattern { .. }) {
            return Err("offset applies to a strftime pattern without %z only".into());
        }
        Ok(Self {
            spec,
            format,
            default_ingest_time,
        })
    }

    /// The time of `payload`; `now` is the time of ingest.
    pub fn read(
        &self,
        payload: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<OffsetDateTime, TimeError> {
        let mut failed = Vec::new();
        let candidates: Vec<RawValue> = if self.spec.has_transforms() {
            self.spec
                .raw(payload)
                .into_iter()
                .flat_map(|raw| {
                    let text = match raw {
                        RawValue::Number(n) => n.to_string(),
                        RawValue::Text(t) => t,
                    };
                    self.spec.transform_one(text, &mut failed)
                })
                .map(RawValue::Text)
                .collect()
        } else {
            self.spec.raw(payload)
        };
        let Some(first) = candidates.into_iter().next() else {
            if let Some(failure) = failed.into_iter().next() {
                return Err(TimeError::Transform(failure));
            }
            return if self.default_ingest_time {
                Ok(now)
            } else {
                Err(TimeError::Missing)
            };
        };
        let (parsed, shown) = match first {
            RawValue::Number(n) => (self.format.parse_number(n), n.to_string()),
            RawValue::Text(t) => (self.format.parse_text(&t), t),
        };
        parsed.ok_or_else(|| TimeError::Unreadable {
            value: shown,
            expected: self.format.expected(),
        })
    }
}

/// `+02:00`, `-0500`, `Z` or `UTC`.
fn parse_offset(text: &str) -> Result<UtcOffset, String> {
    let bad = || format!("offset {text:?} is not +HH:MM, -HH:MM or Z");
    let trimmed = text.trim();
    if matches!(trimmed, "Z" | "z" | "UTC") {
        return Ok(UtcOffset::UTC);
    }
    let (sign, rest) = match trimmed.chars().next() {
        Some('+') => (1i8, trimmed.get(1..).unwrap_or_default()),
        Some('-') => (-1i8, trimmed.get(1..).unwrap_or_default()),
        _ => return Err(bad()),
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let hours: i8 = digits
        .get(..2)
        .and_then(|h| h.parse().ok())
        .ok_or_else(bad)?;
    let minutes: i8 = digits
        .get(2..)
        .and_then(|m| m.parse().ok())
        .ok_or_else(bad)?;
    if hours > 23 || minutes > 59 {
        return Err(bad());
    }
    UtcOffset::from_hms(sign * hours, sign * minutes, 0).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    fn time_spec(toml_text: &str) -> Result<TimeSpec, String> {
        let value: toml::Value = toml::from_str::<toml::Table>(toml_text)
            .map(toml::Value::Table)
            .expect("toml");
        TimeSpec::new(RawSpec::from_toml(&value)?)
    }

    const NOW: OffsetDateTime = datetime!(2026-12-07 20:00:00 UTC);

    fn read(toml_text: &str, doc: serde_json::Value) -> Result<OffsetDateTime, TimeError> {
        time_spec(toml_text).expect("valid").read(&doc, NOW)
    }

    #[test]
    fn every_declared_form_reads() {
        let want = datetime!(2022-05-10 04:52:05 UTC);
        for (spec, value) in [
            (r#"pointer = "/t""#, json!("2022-05-10T04:52:05Z")),
            (r#"pointer = "/t""#, json!(1_652_158_325)),
            (r#"pointer = "/t""#, json!("1652158325000")),
            (
                r#"pointer = "/t"
format = "rfc3339""#,
                json!("2022-05-10T06:52:05+02:00"),
            ),
            (
                r#"pointer = "/t"
format = "epoch_seconds""#,
                json!("1652158325"),
            ),
            (
                r#"pointer = "/t"
format = "epoch_milliseconds""#,
                json!(1_652_158_325_000_i64),
            ),
            (
                r#"pointer = "/t"
format = "rfc2822""#,
                json!("Tue, 10 May 2022 06:52:05 +0200"),
            ),
            (
                r#"pointer = "/t"
format = "rfc2822""#,
                json!("Tue, 10 May 2022 04:52:05 GMT"),
            ),
            (
                r#"pointer = "/t"
format = "http_date""#,
                json!("Tue, 10 May 2022 04:52:05 GMT"),
            ),
            (
                r#"pointer = "/t"
format = "http_date""#,
                json!("Tuesday, 10-May-22 04:52:05 GMT"),
            ),
            (
                r#"pointer = "/t"
format = "http_date""#,
                json!("Tue May 10 04:52:05 2022"),
            ),
            (
                r#"pointer = "/t"
format = "%d/%b/%Y:%H:%M:%S %z""#,
                json!("10/May/2022:06:52:05 +0200"),
            ),
            (
                r#"pointer = "/t"
format = "%a %b %e %H:%M:%S %Y"
offset = "+00:00""#,
                json!("Tue May 10 04:52:05 2022"),
            ),
            (
                r#"pointer = "/t"
format = "%Y-%m-%d %H:%M:%S"
offset = "-05:00""#,
                json!("2022-05-09 23:52:05"),
            ),
            (
                r#"pointer = "/t"
transforms = [{ regex = 'at (.+) by' }]
format = "http_date""#,
                json!("seen at Tue, 10 May 2022 04:52:05 GMT by waf-2"),
            ),
        ] {
            assert_eq!(read(spec, json!({"t": value})), Ok(want), "{spec} {value}");
        }
        let padded = read(
            "pointer = \"/t\"\nformat = \"%a %b %e %H:%M:%S %Y\"\noffset = \"Z\"",
            json!({"t": "Mon May  9 09:41:59 2022"}),
        );
        assert_eq!(padded, Ok(datetime!(2022-05-09 09:41:59 UTC)));
    }

    #[test]
    fn absent_time_is_missing_unless_ingest_time_is_declared() {
        assert_eq!(
            read(r#"pointer = "/t""#, json!({})),
            Err(TimeError::Missing)
        );
        assert_eq!(
            read("pointer = \"/t\"\ndefault = \"ingest_time\"", json!({})),
            Ok(NOW)
        );
        // A value that is there but unreadable is an error even with a
        // default: the default is for absence, not for bad data.
        let bad = read(
            "pointer = \"/t\"\nformat = \"http_date\"\ndefault = \"ingest_time\"",
            json!({"t": "yesterday"}),
        );
        assert_eq!(
            bad,
            Err(TimeError::Unreadable {
                value: "yesterday".into(),
                expected: "an HTTP-date (Sun, 06 Nov 1994 08:49:37 GMT)".into()
            })
        );
        assert!(matches!(
            read(
                "pointer = \"/t\"\nformat = \"rfc3339\"",
                json!({"t": 1_652_158_325})
            ),
            Err(TimeError::Unreadable { .. })
        ));
    }

    #[test]
    fn bad_time_declarations_are_refused() {
        for (spec, expected) in [
            ("pointer = \"/t\"\nformat = \"%H:%M\"", "has no offset"),
            (
                "pointer = \"/t\"\nformat = \"%H:%M %z\"\noffset = \"Z\"",
                "remove offset",
            ),
            (
                "pointer = \"/t\"\nformat = \"%Q\"",
                "not a strftime pattern",
            ),
            (
                "pointer = \"/t\"\nformat = \"%H %Z\"",
                "not a strftime pattern",
            ),
            (
                "pointer = \"/t\"\nformat = \"iso\"",
                "format \"iso\" is not",
            ),
            ("pointer = \"/t\"\ndefault = \"now\"", "ingest_time"),
            (
                "pointer = \"/t\"\nformat = \"%H\"\noffset = \"+25:00\"",
                "offset \"+25:00\"",
            ),
            (
                "pointer = \"/t\"\noffset = \"Z\"",
                "strftime pattern without %z only",
            ),
            ("pointer = \"/t\"\nfromat = \"rfc3339\"", "fromat"),
        ] {
            let err = time_spec(spec).expect_err(spec);
            assert!(err.contains(expected), "{spec}: {err}");
        }
    }
}
