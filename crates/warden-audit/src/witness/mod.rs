//! Witnesses: places outside the data directory that keep every signed
//! checkpoint, so whoever holds the data directory (the database and the
//! signing key beside it) cannot rewrite the log, re-sign it and still pass
//! `warden audit verify`: the witnessed checkpoints pin what the log held.
//!
//! A witness is named by URL in `[audit] witnesses` ([`WitnessConfig`]).
//! Supported:
//!
//! - `file:///PATH`: each signed checkpoint is appended to PATH as one
//!   line (the signed note as a JSON string). Put PATH on another mount,
//!   writable by Warden's account only through append (`chattr +a`) or
//!   owned by another account that collects it.
//! - `https://HOST/PATH` (`http://` only to a loopback address): each
//!   checkpoint is POSTed there as `text/plain`, the exact signed-note
//!   bytes; a GET of the same URL answers every checkpoint held, in the
//!   file witness's format ([`http`]).
//! - `syslog+udp://HOST:PORT`, `syslog+tcp://HOST:PORT`: each checkpoint
//!   is sent as one RFC 5424 message ([`syslog`]). Push-only: nothing can
//!   be read back, so `verify` cannot check against it.
//!
//! Pushing is part of signing, whatever the kind: a witness that cannot
//! take a checkpoint fails the signing with an error naming it (the entries
//! stay durable; the next checkpoint tries again). Before signing, the log
//! reads the newest checkpoint of every readable witness and refuses to
//! sign a tree that does not extend it.
//!
//! # Layout
//!
//! - [`config`]: `[audit] witnesses` entries: a URL, or `{ url, token }`.
//! - [`http`]: the HTTP witness client and its small protocol.
//! - [`syslog`]: the RFC 5424 message and its UDP and TCP transports.

pub mod config;
pub mod http;
pub mod syslog;

use std::io::Write;
use std::path::{Path, PathBuf};

use warden_store::StoredCheckpoint;

pub use config::{SecretRef, WitnessConfig};

use crate::AuditError;

/// One configured witness.
#[derive(Debug, Clone)]
pub enum Witness {
    /// An append-only file of signed checkpoints, one per line.
    File(PathBuf),
    /// An HTTP endpoint that keeps what it is sent and lists it back.
    Http(http::HttpWitness),
    /// A syslog receiver (push-only).
    Syslog(syslog::SyslogWitness),
}

impl Witness {
    /// Parse a witness URL with no credential
    /// (`file:///mnt/other/warden-checkpoints`, `https://witness.example/warden`,
    /// `syslog+tcp://siem.example:6514`).
    pub fn parse(url: &str) -> Result<Self, AuditError> {
        Self::from_config(&WitnessConfig::url(url))
    }

    /// Build the witness a configuration entry names. A token is read now
    /// (from its environment variable or file), so a missing one is a
    /// configuration error at start-up, not at the first checkpoint.
    pub fn from_config(config: &WitnessConfig) -> Result<Self, AuditError> {
        let url = config.url.as_str();
        let bad = |reason: String| AuditError::Witness {
            witness: shown(url),
            reason,
        };
        let scheme = url.split_once("://").map(|(scheme, _)| scheme);
        if config.token.is_some() && !matches!(scheme, Some("https" | "http")) {
            return Err(bad("only an http(s) witness takes a token".into()));
        }
        match scheme {
            Some("file") => {
                let path = url.strip_prefix("file://").unwrap_or_default();
                if !path.starts_with('/') {
                    return Err(bad(
                        "a file witness needs an absolute path (file:///PATH)".into()
                    ));
                }
                Ok(Witness::File(PathBuf::from(path)))
            }
            Some("https" | "http") => {
                http::HttpWitness::new(url, config.token.as_ref()).map(Witness::Http)
            }
            Some("syslog+udp" | "syslog+tcp") => syslog::SyslogWitness::parse(url)
                .map(Witness::Syslog)
                .map_err(bad),
            _ => Err(bad(
                "not a witness URL: use file:///PATH, https://HOST/PATH, \
                 syslog+udp://HOST:PORT or syslog+tcp://HOST:PORT"
                    .into(),
            )),
        }
    }

    /// Where it is, for messages (never a credential).
    pub fn name(&self) -> String {
        match self {
            Witness::File(path) => format!("file://{}", path.display()),
            Witness::Http(http) => http.name(),
            Witness::Syslog(syslog) => syslog.name(),
        }
    }

    /// Whether `verify` can read back what it holds (syslog cannot).
    pub fn readable(&self) -> bool {
        !matches!(self, Witness::Syslog(_))
    }

    /// Hand a signed checkpoint to the witness (appended, never replaced).
    pub async fn push(&self, checkpoint: &StoredCheckpoint) -> Result<(), AuditError> {
        match self {
            Witness::File(path) => {
                append_line(path, &checkpoint.note).map_err(|e| AuditError::Witness {
                    witness: self.name(),
                    reason: e.to_string(),
                })
            }
            Witness::Http(http) => http.push(&checkpoint.note).await,
            Witness::Syslog(syslog) => syslog.push(checkpoint).await,
        }
    }

    /// Every checkpoint the witness holds, oldest first. A witness that
    /// holds nothing yet (no file) holds no checkpoints. A push-only
    /// witness is an error: it cannot be read.
    pub async fn checkpoints(&self) -> Result<Vec<String>, AuditError> {
        match self {
            Witness::File(path) => {
                let text = match std::fs::read_to_string(path) {
                    Ok(text) => text,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                    Err(e) => {
                        return Err(AuditError::Witness {
                            witness: self.name(),
                            reason: e.to_string(),
                        });
                    }
                };
                parse_lines(&text).map_err(|reason| AuditError::Witness {
                    witness: self.name(),
                    reason,
                })
            }
            Witness::Http(http) => http.checkpoints(false).await,
            Witness::Syslog(_) => Err(AuditError::Witness {
                witness: self.name(),
                reason: "a syslog witness is push-only: it cannot be read back".into(),
            }),
        }
    }

    /// The newest checkpoint the witness holds, if it can be read: what a
    /// new checkpoint must extend. `None` for a push-only witness.
    pub async fn newest(&self) -> Result<Option<String>, AuditError> {
        match self {
            Witness::File(_) => Ok(self.checkpoints().await?.pop()),
            Witness::Http(http) => Ok(http.checkpoints(true).await?.pop()),
            Witness::Syslog(_) => Ok(None),
        }
    }
}

/// Build every configured witness.
pub fn parse_all(configs: &[WitnessConfig]) -> Result<Vec<Witness>, AuditError> {
    configs.iter().map(Witness::from_config).collect()
}

/// The witness format: one checkpoint per line, each the signed note as a
/// JSON string; blank lines are skipped.
pub fn parse_lines(text: &str) -> Result<Vec<String>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(n, line)| {
            serde_json::from_str::<String>(line).map_err(|e| format!("line {}: {e}", n + 1))
        })
        .collect()
}

/// One checkpoint as a line of the witness format (with its newline).
pub fn line_of(note: &str) -> String {
    // A string always serialises; the fallback is never taken.
    let mut line = serde_json::to_string(note).unwrap_or_default();
    line.push('\n');
    line
}

/// `url` as it may be shown: everything up to the last `@` after the
/// scheme (a user name and password, however badly written) is replaced,
/// so a credential written into a witness URL is never echoed by an error.
pub fn shown(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rfind('@') {
        Some(at) => format!(
            "{scheme}://[redacted]@{}",
            rest.get(at + 1..).unwrap_or_default()
        ),
        None => url.to_owned(),
    }
}

fn append_line(path: &Path, note: &str) -> std::io::Result<()> {
    let line = line_of(note);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(line.as_bytes())?;
    file.sync_data()
}

#[cfg(test)]
mod tests;
