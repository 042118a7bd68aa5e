//! The CEF line itself: the seven header fields and the extension's
//! key=value pairs, unescaped.
//!
//! Escaping (ArcSight "Implementing ArcSight CEF", character encoding):
//! in the header, `\|` is a pipe and `\\` a backslash; in the extension,
//! `\=` is an equals sign, `\\` a backslash, `\n` and `\r` a newline and a
//! carriage return. Extension values may hold spaces: a value runs until
//! the space before the next `key=`. Senders get this wrong in known ways,
//! read as they meant it: a backslash before any other character is kept
//! as written (`NTAUTHORITY\SYSTEM`), `\|` in a value is a pipe, an `=`
//! inside a value that is not preceded by a space and a key (`x=42` in
//! `request=http://h/?x=42`) is part of the value, and tabs separate pairs
//! as spaces do.

use std::fmt;

/// The header fields, in order, as the specification names them.
pub(crate) const HEADER_FIELDS: [&str; 7] = [
    "version",
    "device vendor",
    "device product",
    "device version",
    "device event class id",
    "name",
    "severity",
];

/// A parsed CEF event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CefEvent {
    /// `0` for CEF 0.x, `1` for CEF 1.x.
    pub version: u32,
    pub device_vendor: String,
    pub device_product: String,
    pub device_version: String,
    /// The event type's stable id (signature id).
    pub event_class_id: String,
    /// What happened, in the sender's words.
    pub name: String,
    /// As written: `0`-`10` or `Unknown`, `Low`, `Medium`, `High`,
    /// `Very-High`.
    pub severity: String,
    /// The extension's pairs in the order sent, repeated keys kept.
    pub extension: Vec<(String, String)>,
}

impl CefEvent {
    /// The first value of `key` (a key such as `src`, or its full name
    /// such as `sourceAddress`: senders use both).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.extension
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a line is not a CEF event. `at` is a byte offset in the text
/// handed to [`parse`] (after any syslog header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CefError {
    /// No `CEF:` at the start.
    NoMarker,
    /// The header ended before all seven fields.
    ShortHeader { fields: usize },
    /// The version is not a number.
    Version(String),
    /// The extension has text before its first `key=value`.
    Stray { at: usize },
}

impl fmt::Display for CefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CefError::NoMarker => f.write_str("malformed CEF: the line does not start with CEF:"),
            CefError::ShortHeader { fields } => {
                let missing = HEADER_FIELDS.get(*fields).copied().unwrap_or("severity");
                write!(
                    f,
                    "malformed CEF header: {fields} of 7 pipe-separated fields, \
                     {missing} missing (CEF:Version|Device Vendor|Device Product|\
                     Device Version|Device Event Class ID|Name|Severity|Extension)"
                )
            }
            CefError::Version(version) => {
                write!(
                    f,
                    "malformed CEF header: version {version:?} is not a number"
                )
            }
            CefError::Stray { at } => write!(
                f,
                "malformed CEF extension: text before the first key=value at byte {at}"
            ),
        }
    }
}

impl std::error::Error for CefError {}

/// Parse `text`, which starts with `CEF:` (a syslog header, if any, already
/// skipped). Spaces between `CEF:` and the version are tolerated (FortiOS
/// writes `CEF: 0`).
pub fn parse(text: &str) -> Result<CefEvent, CefError> {
    let rest = text.strip_prefix("CEF:").ok_or(CefError::NoMarker)?;
    let rest = rest.trim_start_matches(' ');
    let offset = text.len() - rest.len();
    let (fields, extension_at) = header_fields(rest);
    let extension = match extension_at {
        Some(at) => rest.get(at..).unwrap_or_default(),
        None => {
            // Six pipes: the header may end the line without the pipe
            // before an (empty) extension, but then the last field is the
            // severity and holds no pair.
            let complete =
                fields.len() == 7 && fields.last().is_some_and(|last| !last.contains('='));
            if !complete {
                return Err(CefError::ShortHeader {
                    fields: fields.len().min(6),
                });
            }
            ""
        }
    };
    let mut fields = fields.into_iter();
    let mut next = || fields.next().unwrap_or_default();
    let version_text = next();
    let version = version_text
        .trim()
        .parse()
        .map_err(|_| CefError::Version(version_text.clone()))?;
    let event = CefEvent {
        version,
        device_vendor: next(),
        device_product: next(),
        device_version: next(),
        event_class_id: next(),
        name: next(),
        severity: next(),
        extension: Vec::new(),
    };
    let extension_offset = offset + extension_at.unwrap_or(rest.len());
    let extension = parse_extension(extension).map_err(|at| CefError::Stray {
        at: extension_offset + at,
    })?;
    Ok(CefEvent { extension, ..event })
}

/// The header fields of `rest` (the text after `CEF:`), unescaped, and the
/// offset where the extension starts (after the seventh unescaped pipe),
/// or `None` when there are fewer than seven pipes: then every field found
/// is returned, the last one running to the end of the line.
fn header_fields(rest: &str) -> (Vec<String>, Option<usize>) {
    let mut fields = Vec::with_capacity(7);
    let mut current = String::new();
    let mut chars = rest.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => match chars.clone().next() {
                Some((_, escaped @ ('|' | '\\'))) => {
                    current.push(escaped);
                    chars.next();
                }
                _ => current.push('\\'),
            },
            '|' => {
                fields.push(std::mem::take(&mut current));
                if fields.len() == 7 {
                    return (fields, Some(at + 1));
                }
            }
            other => current.push(other),
        }
    }
    fields.push(current);
    (fields, None)
}

/// A character that may be part of an extension key: the dictionary's
/// keys, vendors' custom keys (`FTNTFGTlogid`, `ad.EventRecordID`) and
/// array-style keys (`ad.Key[0]`).
fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '[' | ']')
}

/// The extension's pairs, unescaped. `Err(at)` when text that is not a
/// pair comes before the first key (the offset of that text).
pub(crate) fn parse_extension(text: &str) -> Result<Vec<(String, String)>, usize> {
    split_pairs(text, true)
}

/// Space-separated `key=value` pairs, a value running to the space before
/// the next key; values unescaped the CEF way when `unescape` is set, else
/// taken as written. `Err(at)` as for [`parse_extension`].
pub(crate) fn split_pairs(text: &str, unescape: bool) -> Result<Vec<(String, String)>, usize> {
    let starts = key_starts(text);
    let Some(&(first, _)) = starts.first() else {
        return match text.find(|c: char| !c.is_whitespace()) {
            Some(at) => Err(at),
            None => Ok(Vec::new()),
        };
    };
    if let Some(at) = text
        .get(..first)
        .and_then(|lead| lead.find(|c: char| !c.is_whitespace()))
    {
        return Err(at);
    }
    let mut pairs = Vec::with_capacity(starts.len());
    for (index, &(key_at, equals_at)) in starts.iter().enumerate() {
        let value_end = starts
            .get(index + 1)
            .map_or(text.len(), |&(next_key, _)| next_key);
        let key = text.get(key_at..equals_at).unwrap_or_default();
        let raw = text.get(equals_at + 1..value_end).unwrap_or_default();
        // The separator before the next key (and the line's end) is not
        // part of the value.
        let raw = raw.trim_end_matches([' ', '\t', '\r', '\n']);
        let value = if unescape {
            unescape_value(raw)
        } else {
            raw.to_owned()
        };
        pairs.push((key.to_owned(), value));
    }
    Ok(pairs)
}

/// Where each pair starts: (key offset, `=` offset) for every unescaped `=`
/// whose key (a run of key characters) is at the start of the text or
/// after whitespace.
fn key_starts(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut starts = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match bytes.get(at) {
            Some(b'\\') => at += 2,
            Some(b'=') => {
                let key_at = text
                    .get(..at)
                    .and_then(|before| {
                        before
                            .char_indices()
                            .rev()
                            .take_while(|(_, c)| is_key_char(*c))
                            .last()
                            .map(|(i, _)| i)
                    })
                    .unwrap_or(at);
                let bounded = key_at == 0
                    || text
                        .get(..key_at)
                        .is_some_and(|before| before.ends_with([' ', '\t']));
                if key_at < at && bounded {
                    starts.push((key_at, at));
                }
                at += 1;
            }
            _ => at += 1,
        }
    }
    starts
}

/// A value with the extension's escapes undone.
fn unescape_value(raw: &str) -> String {
    let mut value = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            value.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some(escaped @ ('=' | '\\' | '|')) => {
                value.push(escaped);
                chars.next();
            }
            Some('n') => {
                value.push('\n');
                chars.next();
            }
            Some('r') => {
                value.push('\r');
                chars.next();
            }
            _ => value.push('\\'),
        }
    }
    value
}
