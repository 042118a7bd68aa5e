//! `freshness.toml`: the as-of time of a folder's sources, stated instead of
//! taken from modification times. Git does not keep modification times, so
//! a checked-in validation set could not otherwise say "this inventory is 90
//! days old".
//!
//! ```toml
//! assets = "2025-01-01T00:00:00Z"
//! intel = 2025-06-01T12:00:00Z      # a TOML date-time works too
//! ```

use std::collections::HashMap;
use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::SourceKind;

pub(super) const FILE_NAME: &str = "freshness.toml";

/// The as-of times `freshness.toml` in `dir` gives, none when it is absent,
/// or the one problem that makes the whole file ignored.
pub(super) fn read(dir: &Path) -> Result<HashMap<SourceKind, OffsetDateTime>, String> {
    let label = format!("context/{FILE_NAME}");
    match fs::read_to_string(dir.join(FILE_NAME)) {
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(HashMap::new()),
        Err(err) => Err(format!("{label} cannot be read: {err}")),
        Ok(text) => {
            parse(&text).map_err(|why| format!("{label}: {why} (file ignored; file times used)"))
        }
    }
}

pub(super) fn parse(text: &str) -> Result<HashMap<SourceKind, OffsetDateTime>, String> {
    let table: toml::Table = toml::from_str(text).map_err(|err| {
        let message = err.message().trim_end();
        match err.span() {
            Some(span) => {
                let line = text
                    .get(..span.start)
                    .map_or(0, |before| before.matches('\n').count())
                    + 1;
                format!("line {line}: {message}")
            }
            None => message.to_owned(),
        }
    })?;
    let mut as_of = HashMap::new();
    for (key, value) in &table {
        let Some(kind) = SourceKind::from_name(key) else {
            let known: Vec<&str> = SourceKind::ALL.iter().map(|k| k.name()).collect();
            return Err(format!(
                "unknown key `{key}` (expected one of {})",
                known.join(", ")
            ));
        };
        let text = match value {
            toml::Value::String(text) => text.clone(),
            toml::Value::Datetime(datetime) => datetime.to_string(),
            _ => return Err(format!("`{key}` must be an RFC 3339 time in quotes")),
        };
        let time = OffsetDateTime::parse(&text, &Rfc3339)
            .map_err(|_| format!("`{key}`: {text:?} is not an RFC 3339 time with a UTC offset"))?;
        as_of.insert(kind, time);
    }
    Ok(as_of)
}
