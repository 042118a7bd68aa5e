//! The LEEF line itself: the header and the event attributes.
//!
//! LEEF 1.0: `LEEF:1.0|Vendor|Product|Version|EventID|` then attributes
//! separated by tabs. LEEF 2.0 adds a sixth field, the attribute delimiter:
//! one character (`^`) or its code in hex (`x09`, `0x5E`); when it is left
//! out (the field after the event id already holds `key=value`) or empty,
//! the delimiter is a tab, as QRadar reads such events. LEEF defines no
//! escaping: values are taken as written. Two sender mistakes are read as
//! meant: an event read with a tab whose attributes hold no tab but are
//! separated by spaces (`src=10.50.1.1  dst=2.10.20.20`) is split before
//! each ` key=` (when that finds more than one attribute), and a piece with no `=` (a value that contained the delimiter) is joined
//! back to the value before it.

use std::fmt;

/// The header fields, in order.
pub(crate) const HEADER_FIELDS: [&str; 6] = [
    "version",
    "vendor",
    "product",
    "product version",
    "event id",
    "delimiter",
];

/// A parsed LEEF event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeefEvent {
    /// `1.0` or `2.0` as written.
    pub version: String,
    pub vendor: String,
    pub product: String,
    pub product_version: String,
    /// The event type's id (with `cat`, QRadar's QID map key).
    pub event_id: String,
    /// The attribute delimiter in force.
    pub delimiter: char,
    /// The attributes in the order sent, repeated keys kept.
    pub attributes: Vec<(String, String)>,
}

impl LeefEvent {
    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a line is not a LEEF event. `at` is a byte offset in the text
/// handed to [`parse`] (after any syslog header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeefError {
    /// No `LEEF:` at the start.
    NoMarker,
    /// The version is neither 1.0 nor 2.0.
    Version(String),
    /// The header ended before all its fields.
    ShortHeader { fields: usize, expected: usize },
    /// A 2.0 delimiter that is not one character or a hex code.
    Delimiter(String),
    /// An attribute with no `=` where no value came before it.
    Stray { at: usize },
}

impl fmt::Display for LeefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeefError::NoMarker => {
                f.write_str("malformed LEEF: the line does not start with LEEF:")
            }
            LeefError::Version(version) => write!(
                f,
                "malformed LEEF header: version {version:?} is not 1.0 or 2.0"
            ),
            LeefError::ShortHeader { fields, expected } => {
                let missing = HEADER_FIELDS.get(*fields).copied().unwrap_or("event id");
                write!(
                    f,
                    "malformed LEEF header: {fields} of {expected} pipe-separated fields, \
                     {missing} missing (LEEF:Version|Vendor|Product|Version|EventID|\
                     [Delimiter|] for 2.0)"
                )
            }
            LeefError::Delimiter(text) => write!(
                f,
                "malformed LEEF 2.0 header: delimiter {text:?} is not one character \
                 or a hex code such as x09"
            ),
            LeefError::Stray { at } => write!(
                f,
                "malformed LEEF attributes: text with no key= at byte {at}"
            ),
        }
    }
}

impl std::error::Error for LeefError {}

/// Parse `text`, which starts with `LEEF:` (a syslog header, if any,
/// already skipped).
pub fn parse(text: &str) -> Result<LeefEvent, LeefError> {
    let rest = text.strip_prefix("LEEF:").ok_or(LeefError::NoMarker)?;
    let offset = text.len() - rest.len();
    // The version decides how many header fields there are.
    let (version, after_version) = rest.split_once('|').ok_or(LeefError::ShortHeader {
        fields: 1,
        expected: 5,
    })?;
    let version = version.trim();
    let two = match version {
        "1.0" | "1" => false,
        "2.0" | "2" => true,
        other => return Err(LeefError::Version(other.to_owned())),
    };
    let mut fields = vec![version.to_owned()];
    let mut at = rest.len() - after_version.len();
    let mut remaining = after_version;
    while fields.len() < 5 {
        // An unterminated last field counts as found.
        let (field, tail) = remaining.split_once('|').ok_or(LeefError::ShortHeader {
            fields: fields.len() + usize::from(!remaining.is_empty()),
            expected: if two { 6 } else { 5 },
        })?;
        fields.push(field.to_owned());
        at += field.len() + 1;
        remaining = tail;
    }
    let mut delimiter = '\t';
    if two {
        // The delimiter field, unless the sender left it out.
        match remaining.split_once('|') {
            Some((field, tail)) if !field.contains('=') => {
                delimiter = parse_delimiter(field)?;
                at += field.len() + 1;
                remaining = tail;
            }
            _ => {}
        }
    }
    let attributes = parse_attributes(remaining, delimiter).map_err(|stray| LeefError::Stray {
        at: offset + at + stray,
    })?;
    let mut fields = fields.into_iter();
    let mut next = || fields.next().unwrap_or_default();
    Ok(LeefEvent {
        version: next(),
        vendor: next(),
        product: next(),
        product_version: next(),
        event_id: next(),
        delimiter,
        attributes,
    })
}

/// A 2.0 delimiter field: one character, or `x`/`0x` and hex digits.
/// Empty means a tab.
fn parse_delimiter(field: &str) -> Result<char, LeefError> {
    let mut chars = field.chars();
    match (chars.next(), chars.next()) {
        (None, _) => return Ok('\t'),
        (Some(c), None) => return Ok(c),
        _ => {}
    }
    let hex = field
        .strip_prefix("0x")
        .or_else(|| field.strip_prefix("0X"))
        .or_else(|| field.strip_prefix('x'))
        .or_else(|| field.strip_prefix('X'));
    hex.filter(|h| (1..=4).contains(&h.len()))
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .and_then(char::from_u32)
        .filter(|c| *c != '=')
        .ok_or_else(|| LeefError::Delimiter(field.to_owned()))
}

/// The attributes of `text` split on `delimiter`. `Err(at)` for a first
/// piece with no `=`.
fn parse_attributes(text: &str, delimiter: char) -> Result<Vec<(String, String)>, usize> {
    let text = text.trim_end_matches(['\r', '\n']);
    if delimiter == '\t' && !text.contains('\t') {
        // Spaces where tabs belong: split before each ` key=`, as CEF does,
        // when that finds more than one attribute (one attribute is taken
        // as written).
        if let Ok(pairs) = crate::formats::cef::split_pairs(text, false)
            && pairs.len() > 1
        {
            return Ok(pairs);
        }
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut at = 0;
    for piece in text.split(delimiter) {
        let start = at;
        at += piece.len() + delimiter.len_utf8();
        if piece.trim().is_empty() {
            continue;
        }
        match piece.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                pairs.push((key.trim().to_owned(), value.to_owned()));
            }
            _ => match pairs.last_mut() {
                Some((_, value)) => {
                    value.push(delimiter);
                    value.push_str(piece);
                }
                None => return Err(start),
            },
        }
    }
    Ok(pairs)
}
