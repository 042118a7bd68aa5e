//! What `warden intake status` shows: each intake of a running `warden
//! serve` with its counts, and the shared alert stream with its backlog
//! and last error.
//!
//! The server writes a snapshot to `DATA_DIR/intake-status.json` every
//! [`EVERY`] and once more when it stops (replaced atomically, so a reader
//! never sees half of one); the command reads that file, so it needs no
//! credentials and works while the server is down (then it says since
//! when). Each replica writes its own file, named by its listen address.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::AppState;
use crate::intake::syslog::Listener;

/// How often a running server writes its status.
pub const EVERY: Duration = Duration::from_secs(5);

/// One server's intake at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntakeStatus {
    /// When this snapshot was taken.
    #[serde(with = "time::serde::rfc3339")]
    pub written_at: OffsetDateTime,
    /// The server's API address.
    pub server: String,
    /// Set in the last snapshot a server writes as it stops.
    pub stopped: bool,
    /// The syslog listeners (`[intake.syslog]`).
    pub listeners: Vec<ListenerStatus>,
    /// Pull sources (SIEM and EDR APIs); none exist yet, so always empty.
    pub pull_sources: Vec<PullSourceStatus>,
    /// The shared alert stream (`[queue] url`), when one is configured.
    pub stream: Option<StreamStatus>,
}

/// One syslog listener's counts since the server started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerStatus {
    pub name: String,
    pub received: u64,
    pub parsed: u64,
    pub dead_lettered: u64,
    pub dropped: u64,
    pub oversized: u64,
    /// Received and not yet parsed, dead-lettered or dropped.
    pub in_flight: u64,
}

/// A pull source's cursor, lag and last error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullSourceStatus {
    pub name: String,
    pub cursor: Option<String>,
    pub lag_seconds: Option<u64>,
    pub last_error: Option<String>,
}

/// The shared alert stream as this replica sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamStatus {
    /// Its URL, password masked.
    pub url: String,
    pub stream: String,
    pub consumer: String,
    /// Alerts on the stream not yet delivered to any replica (the lag).
    pub pending: Option<u64>,
    /// Alerts delivered to a replica and not yet acknowledged.
    pub in_triage: Option<u64>,
    /// The last failure talking to NATS, if the last attempt failed.
    pub last_error: Option<String>,
}

/// The status file of the server listening on `server`.
pub fn path_for(data_dir: &Path, server: &str) -> PathBuf {
    let name: String = server
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    data_dir.join(format!("intake-status-{name}.json"))
}

/// Every status file in `data_dir`, newest server first.
pub fn read_all(data_dir: &Path) -> std::io::Result<Vec<(PathBuf, Result<IntakeStatus, String>)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(data_dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !(name.starts_with("intake-status-") && name.ends_with(".json")) {
            continue;
        }
        let status = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()));
        found.push((path, status));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// Take a snapshot of `listeners` and the stream.
pub async fn snapshot(
    state: &AppState,
    server: &str,
    listeners: &[Arc<Listener>],
    stopped: bool,
) -> IntakeStatus {
    let listeners = listeners
        .iter()
        .map(|l| {
            let s = l.stats.snapshot();
            ListenerStatus {
                name: l.name.clone(),
                received: s.received,
                parsed: s.parsed,
                dead_lettered: s.dead_lettered,
                dropped: s.dropped,
                oversized: s.oversized,
                in_flight: s.in_flight(),
            }
        })
        .collect();
    let stream = match state.stream() {
        Some(stream) => Some(stream.status().await),
        None => None,
    };
    IntakeStatus {
        written_at: state.now(),
        server: server.to_owned(),
        stopped,
        listeners,
        pull_sources: Vec::new(),
        stream,
    }
}

/// Write `status` to `path`, replacing it atomically.
pub fn write(path: &Path, status: &IntakeStatus) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(status).map_err(std::io::Error::other)?;
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}

/// Write the status every [`EVERY`] until `stopped`.
pub async fn keep_writing(
    state: AppState,
    path: PathBuf,
    server: String,
    listeners: Vec<Arc<Listener>>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let status = snapshot(&state, &server, &listeners, false).await;
        if let Err(err) = write(&path, &status) {
            tracing::warn!(path = %path.display(), error = %err, "cannot write the intake status");
        }
        tokio::select! {
            _ = stopped.changed() => break,
            () = tokio::time::sleep(EVERY) => {}
        }
    }
}
