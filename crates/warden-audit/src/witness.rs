//! Witnesses: places outside the data directory that keep every signed
//! checkpoint, so whoever holds the data directory (the database and the
//! signing key beside it) cannot rewrite the log, re-sign it and still pass
//! `warden audit verify`: the witnessed checkpoints pin what the log held.
//!
//! A witness is named by URL in `[audit] witnesses`. Supported:
//!
//! - `file:///PATH`: each signed checkpoint is appended to PATH as one
//!   line (the signed note as a JSON string). Put PATH on another mount,
//!   writable by Warden's account only through append (`chattr +a`) or
//!   owned by another account that collects it.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::AuditError;

/// One configured witness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Witness {
    /// An append-only file of signed checkpoints, one per line.
    File(PathBuf),
}

impl Witness {
    /// Parse a witness URL (`file:///mnt/other/warden-checkpoints`).
    pub fn parse(url: &str) -> Result<Self, AuditError> {
        let bad = |reason: &str| AuditError::Witness {
            witness: url.to_owned(),
            reason: reason.to_owned(),
        };
        let Some(path) = url.strip_prefix("file://") else {
            return Err(bad("only file:///PATH witnesses are supported"));
        };
        if !path.starts_with('/') {
            return Err(bad("a file witness needs an absolute path (file:///PATH)"));
        }
        Ok(Witness::File(PathBuf::from(path)))
    }

    /// Where it is, for messages.
    pub fn name(&self) -> String {
        match self {
            Witness::File(path) => format!("file://{}", path.display()),
        }
    }

    /// Hand a signed checkpoint to the witness (appended, never replaced).
    pub fn push(&self, note: &str) -> Result<(), AuditError> {
        match self {
            Witness::File(path) => append_line(path, note).map_err(|e| AuditError::Witness {
                witness: self.name(),
                reason: e.to_string(),
            }),
        }
    }

    /// Every checkpoint the witness holds, oldest first. A witness that
    /// holds nothing yet (no file) holds no checkpoints.
    pub fn checkpoints(&self) -> Result<Vec<String>, AuditError> {
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
                text.lines()
                    .filter(|l| !l.trim().is_empty())
                    .enumerate()
                    .map(|(n, line)| {
                        serde_json::from_str::<String>(line).map_err(|e| AuditError::Witness {
                            witness: self.name(),
                            reason: format!("line {}: {e}", n + 1),
                        })
                    })
                    .collect()
            }
        }
    }
}

/// Parse every witness URL.
pub fn parse_all(urls: &[String]) -> Result<Vec<Witness>, AuditError> {
    urls.iter().map(|u| Witness::parse(u)).collect()
}

fn append_line(path: &Path, note: &str) -> std::io::Result<()> {
    let mut line = serde_json::to_string(note).map_err(std::io::Error::other)?;
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(line.as_bytes())?;
    file.sync_data()
}
