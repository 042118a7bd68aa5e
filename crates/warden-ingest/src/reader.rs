//! Reading alert files and folders.
//!
//! A `.json` file holds one alert or an array of alerts; a `.jsonl` (or
//! `.ndjson`) file holds one alert a line. A folder is read recursively in
//! name order, taking those extensions. Every record that cannot become an
//! alert gives an [`IngestError`] that names the file, the line or array
//! index, and the reason, and keeps the bytes for the dead-letter store.
//! Nothing is dropped silently and one bad record never stops the others.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use warden_domain::Alert;
use warden_domain::hashing::sha256_hex;

use crate::formats::{FormatChoice, Formats};

/// Limits on what one record may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest alert payload accepted, in bytes.
    pub max_alert_bytes: usize,
    /// Deepest JSON nesting accepted.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_alert_bytes: 1024 * 1024,
            max_depth: 64,
        }
    }
}

/// How to read: the limits, the formats known, and a format to force
/// instead of detecting one per record.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub limits: Limits,
    pub formats: Formats,
    pub forced: Option<FormatChoice>,
}

/// A record that could not be ingested.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {reason}")]
pub struct IngestError {
    /// `path`, `path:line` or `path[index]`.
    pub origin: String,
    pub reason: String,
    /// The bytes received, for the dead-letter store (may be cut at the size
    /// limit, or empty when the file could not be read at all).
    pub payload: Vec<u8>,
}

/// What a read produced.
#[derive(Debug, Default)]
pub struct IngestReport {
    pub alerts: Vec<Alert>,
    pub errors: Vec<IngestError>,
    /// Files read (including ones that failed).
    pub files: usize,
}

/// Read every path (files or folders).
pub fn read_paths(paths: &[PathBuf], options: &ReadOptions) -> IngestReport {
    let mut report = IngestReport::default();
    for path in paths {
        if path.is_dir() {
            match alert_files(path) {
                Ok(files) => {
                    for file in files {
                        read_file(&file, options, &mut report);
                    }
                }
                Err(err) => report.errors.push(IngestError {
                    origin: path.display().to_string(),
                    reason: format!("cannot read folder: {err}"),
                    payload: Vec::new(),
                }),
            }
        } else {
            read_file(path, options, &mut report);
        }
    }
    report
}

/// Alert files under `dir`, recursively, in name order.
fn alert_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            found.extend(alert_files(&entry)?);
        } else if matches!(
            entry.extension().and_then(|e| e.to_str()),
            Some("json" | "jsonl" | "ndjson" | "cef" | "leef")
        ) {
            found.push(entry);
        }
    }
    Ok(found)
}

fn read_file(path: &Path, options: &ReadOptions, report: &mut IngestReport) {
    let limits = &options.limits;
    report.files += 1;
    let name = path.display().to_string();
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) => {
            report.errors.push(IngestError {
                origin: name,
                reason: format!("cannot read file: {err}"),
                payload: Vec::new(),
            });
            return;
        }
    };
    let is_lines = match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl" | "ndjson" | "cef" | "leef") => true,
        Some("json") => false,
        // Unknown extension: a file whose first line is a whole JSON object
        // and that has more lines is JSON lines; one whose first line is a
        // CEF or LEEF line is read a line at a time too.
        _ => looks_like_json_lines(&bytes) || first_line_is_text_format(&bytes),
    };
    if is_lines {
        for (index, line) in bytes.split(|b| *b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let origin = format!("{name}:{}", index + 1);
            ingest_record(&origin, line, options, report);
        }
        return;
    }
    // A .json file: one object, or an array of them.
    if let Err(reason) = check_text(&bytes, limits, usize::MAX) {
        report.errors.push(error(&name, reason, &bytes, limits));
        return;
    }
    let parsed = parse_json(&bytes, limits).map(|value| unwrap_envelope(value, &options.formats));
    match parsed {
        Ok(Value::Array(items)) => {
            for (index, item) in items.into_iter().enumerate() {
                let origin = format!("{name}[{index}]");
                // Array elements are hashed in their compact serialised form:
                // the exact bytes of one element are not separable.
                let raw = serde_json::to_vec(&item).unwrap_or_default();
                if raw.len() > limits.max_alert_bytes {
                    report
                        .errors
                        .push(error(&origin, too_large(raw.len(), limits), &raw, limits));
                    continue;
                }
                convert(&origin, item, &raw, options, report);
            }
        }
        Ok(value) => {
            if bytes.len() > limits.max_alert_bytes {
                report
                    .errors
                    .push(error(&name, too_large(bytes.len(), limits), &bytes, limits));
                return;
            }
            convert(&name, value, &bytes, options, report);
        }
        Err(reason) => report.errors.push(error(&name, reason, &bytes, limits)),
    }
}

/// A JSON document as an alert file holds it: an API response wrapping a
/// list of alerts (an object no format reads, with a known key holding
/// them, such as GuardDuty's `{"Findings": [...]}`) counts as the list, an
/// array of alerts; anything else is handed back as it is. The file reader
/// and `warden serve`'s push API both read documents through this, so that
/// they take the same ones.
pub fn unwrap_envelope(value: Value, formats: &Formats) -> Value {
    match value {
        Value::Object(_) if formats.detect(&value).is_err() => match collection(value) {
            Ok(items) => Value::Array(items),
            Err(value) => value,
        },
        value => value,
    }
}

/// The keys under which vendor APIs return lists of alerts: GuardDuty
/// `GetFindings` (`findings`, or `Findings` from the CLI), the Splunk search
/// REST API (`results`), Microsoft Graph list responses (`value`), the
/// CrowdStrike API (`resources`) and Elasticsearch search responses
/// (`hits.hits`).
const COLLECTION_KEYS: [&str; 6] = [
    "findings",
    "Findings",
    "results",
    "value",
    "resources",
    "hits",
];

/// The alerts in an API response envelope: a known key holding a non-empty
/// array of objects. Anything else is handed back unchanged.
fn collection(value: Value) -> Result<Vec<Value>, Value> {
    let Value::Object(mut map) = value else {
        return Err(value);
    };
    let key = COLLECTION_KEYS.into_iter().find(|key| {
        let list = match map.get(*key) {
            Some(Value::Object(hits)) if *key == "hits" => hits.get("hits"),
            other => other,
        };
        list.and_then(Value::as_array)
            .is_some_and(|items| !items.is_empty() && items.iter().all(Value::is_object))
    });
    match key.and_then(|key| map.remove(key)) {
        Some(Value::Array(items)) => Ok(items),
        Some(Value::Object(mut hits)) => match hits.remove("hits") {
            Some(Value::Array(items)) => Ok(items),
            _ => Err(Value::Object(map)),
        },
        _ => Err(Value::Object(map)),
    }
}

fn looks_like_json_lines(bytes: &[u8]) -> bool {
    let mut lines = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace));
    let first_is_object = lines
        .next()
        .is_some_and(|l| serde_json::from_slice::<Value>(l).is_ok_and(|v| v.is_object()));
    first_is_object && lines.next().is_some()
}

fn first_line_is_text_format(bytes: &[u8]) -> bool {
    bytes
        .split(|b| *b == b'\n')
        .find(|l| !l.iter().all(u8::is_ascii_whitespace))
        .is_some_and(|line| line_payload(line).is_some())
}

/// A CEF or LEEF line (not JSON), as the JSON string the line formats
/// read: the text as received, without its line ending.
fn line_payload(bytes: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.trim_start().starts_with(['{', '[', '"']) {
        return None;
    }
    crate::formats::text::locate_text(text)?;
    Some(Value::String(
        text.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

fn ingest_record(origin: &str, bytes: &[u8], options: &ReadOptions, report: &mut IngestReport) {
    match parse_record(origin, bytes, options) {
        Ok(alert) => report.alerts.push(alert),
        Err(err) => report.errors.push(err),
    }
}

/// One record's bytes (a JSONL line, a CEF or LEEF line, a dead letter's
/// payload) to an alert, with the same checks as a file read.
pub fn parse_record(
    origin: &str,
    bytes: &[u8],
    options: &ReadOptions,
) -> Result<Alert, IngestError> {
    let limits = &options.limits;
    check_text(bytes, limits, limits.max_alert_bytes)
        .and_then(|()| match line_payload(bytes) {
            Some(line) => Ok(line),
            None => parse_json(bytes, limits),
        })
        .map_err(|reason| error(origin, reason, bytes, limits))
        .and_then(|value| {
            let mut report = IngestReport::default();
            convert(origin, value, bytes, options, &mut report);
            match (report.alerts.pop(), report.errors.pop()) {
                (Some(alert), _) => Ok(alert),
                (None, Some(err)) => Err(err),
                (None, None) => Err(error(origin, "no alert produced".into(), bytes, limits)),
            }
        })
}

fn convert(
    origin: &str,
    value: Value,
    raw: &[u8],
    options: &ReadOptions,
    report: &mut IngestReport,
) {
    let formats = &options.formats;
    let result = match &options.forced {
        Some(choice) if value.is_object() => Ok(choice.clone()),
        Some(_) | None => formats.detect(&value),
    }
    .and_then(|choice| formats.normalise_owned(&choice, value, origin, &sha256_hex(raw)));
    match result {
        Ok(alert) => report.alerts.push(alert),
        Err(err) => report.errors.push(IngestError {
            origin: origin.to_owned(),
            reason: err.to_string(),
            payload: raw.to_vec(),
        }),
    }
}

/// Size and encoding checks before parsing.
fn check_text(bytes: &[u8], limits: &Limits, max: usize) -> Result<(), String> {
    if bytes.len() > max {
        return Err(too_large(bytes.len(), limits));
    }
    if let Err(err) = std::str::from_utf8(bytes) {
        return Err(format!("invalid UTF-8 at byte {}", err.valid_up_to()));
    }
    Ok(())
}

fn too_large(size: usize, limits: &Limits) -> String {
    format!(
        "payload of {size} bytes is over the limit of {} bytes",
        limits.max_alert_bytes
    )
}

fn parse_json(bytes: &[u8], limits: &Limits) -> Result<Value, String> {
    let depth = nesting_depth(bytes);
    if depth > limits.max_depth {
        return Err(format!(
            "JSON nested {depth} levels deep, over the limit of {}",
            limits.max_depth
        ));
    }
    serde_json::from_slice(bytes).map_err(|err| {
        format!(
            "malformed JSON at line {} column {}: {}",
            err.line(),
            err.column(),
            describe(&err)
        )
    })
}

/// serde_json's message without its own " at line X column Y" suffix.
fn describe(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(at) => text.get(..at).unwrap_or(&text).to_owned(),
        None => text,
    }
}

/// Deepest bracket nesting, ignoring brackets inside strings. Checked before
/// parsing so that a hostile payload cannot make the parser recurse deeply.
/// Strings, most of a payload's bytes, are skipped with `memchr`.
fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest, mut at) = (0usize, 0usize, 0usize);
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'"' => {
                at += 1;
                loop {
                    let rest = bytes.get(at..).unwrap_or_default();
                    match memchr::memchr2(b'"', b'\\', rest) {
                        // An escape: skip it and the escaped byte.
                        Some(offset) if rest.get(offset) == Some(&b'\\') => at += offset + 2,
                        Some(offset) => {
                            at += offset + 1;
                            break;
                        }
                        // Unterminated: the parser will say so.
                        None => return deepest,
                    }
                }
                continue;
            }
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        at += 1;
    }
    deepest
}

fn error(origin: &str, reason: String, bytes: &[u8], limits: &Limits) -> IngestError {
    // Keep at most the size limit (plus one byte, showing it was over).
    let kept = bytes.len().min(limits.max_alert_bytes.saturating_add(1));
    IngestError {
        origin: origin.to_owned(),
        reason,
        payload: bytes.get(..kept).unwrap_or(bytes).to_vec(),
    }
}

#[cfg(test)]
mod tests;
