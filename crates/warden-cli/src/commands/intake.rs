//! `warden intake status [--json]`: each listener and pull source of the
//! `warden serve` processes on this data directory, with its counts,
//! cursor, lag and last error, and the shared alert stream's backlog.
//!
//! Read from the snapshot each server writes to the data directory every
//! few seconds (`intake-status-ADDRESS.json`), so no credentials are
//! needed and a stopped server's last counts stay readable.

use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use warden_server::intake::status::{self, IntakeStatus};

#[derive(Debug, Parser)]
pub struct Args {
    #[command(subcommand)]
    pub command: IntakeCommand,
}

#[derive(Debug, Subcommand)]
pub enum IntakeCommand {
    /// Each listener and pull source with its counts, cursor, lag and last error.
    Status {
        /// One JSON object per server, one per line.
        #[arg(long)]
        json: bool,
    },
}

/// A snapshot older than this many write intervals means the server that
/// wrote it is no longer running (or is stuck).
const STALE_AFTER_INTERVALS: u32 = 3;

pub fn run(data_dir: &Path, args: &Args) -> anyhow::Result<ExitCode> {
    let IntakeCommand::Status { json } = args.command;
    let found = status::read_all(data_dir).map_err(|err| {
        anyhow::anyhow!(
            "cannot read the data directory {}: {err}",
            data_dir.display()
        )
    })?;
    if found.is_empty() {
        if !json {
            println!(
                "no intake status in {}: no `warden serve` has run on this data directory",
                data_dir.display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let now = time::OffsetDateTime::now_utc();
    let stale = time::Duration::try_from(status::EVERY * STALE_AFTER_INTERVALS)
        .unwrap_or(time::Duration::seconds(15));
    for (path, snapshot) in found {
        let snapshot = match snapshot {
            Ok(snapshot) => snapshot,
            Err(err) => {
                eprintln!("warden: warning: {} is unreadable: {err}", path.display());
                continue;
            }
        };
        if json {
            println!("{}", serde_json::to_string(&snapshot)?);
        } else {
            print!("{}", render(&snapshot, now, stale));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The human form of one server's snapshot.
fn render(s: &IntakeStatus, now: time::OffsetDateTime, stale: time::Duration) -> String {
    let age = now - s.written_at;
    let state = if s.stopped {
        format!("stopped at {}", s.written_at)
    } else if age > stale {
        format!(
            "not running: last status at {} ({} s ago)",
            s.written_at,
            age.whole_seconds()
        )
    } else {
        format!("running (status {} s old)", age.whole_seconds().max(0))
    };
    let mut out = format!("server {}: {state}\n", s.server);
    if s.listeners.is_empty() {
        out.push_str("  syslog: not configured\n");
    }
    for l in &s.listeners {
        out.push_str(&format!(
            "  {}: received {}, parsed {}, dead-lettered {}, dropped {}, oversized {}, in flight {}\n",
            l.name, l.received, l.parsed, l.dead_lettered, l.dropped, l.oversized, l.in_flight
        ));
    }
    if s.pull_sources.is_empty() {
        out.push_str("  pull sources: none configured\n");
    }
    for p in &s.pull_sources {
        out.push_str(&format!(
            "  {}: cursor {}, lag {}, last error {}\n",
            p.name,
            p.cursor.as_deref().unwrap_or("none"),
            p.lag_seconds
                .map_or_else(|| "unknown".to_owned(), |s| format!("{s} s")),
            p.last_error.as_deref().unwrap_or("none")
        ));
    }
    match &s.stream {
        None => out.push_str("  queue: in process\n"),
        Some(q) => out.push_str(&format!(
            "  queue: NATS JetStream {} stream {} consumer {}: {} waiting, {} in triage, last error {}\n",
            q.url,
            q.stream,
            q.consumer,
            q.pending
                .map_or_else(|| "unknown".to_owned(), |n| n.to_string()),
            q.in_triage
                .map_or_else(|| "unknown".to_owned(), |n| n.to_string()),
            q.last_error.as_deref().unwrap_or("none")
        )),
    }
    out
}
