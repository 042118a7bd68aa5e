//! What each listener counted since the server started, kept in atomics
//! (read by tests and logs) and mirrored to the Prometheus counters
//! `warden_syslog_*_total{listener="syslog+udp://..."}`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one listener. Every message received ends as exactly one
/// of parsed, dead-lettered or dropped; oversized messages are counted
/// again among the dead-lettered.
#[derive(Debug, Default)]
pub struct ListenerStats {
    received: AtomicU64,
    parsed: AtomicU64,
    dead_lettered: AtomicU64,
    dropped: AtomicU64,
    oversized: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Messages framed off the wire (oversized and unframeable ones too).
    pub received: u64,
    /// Messages that became an alert and went to the triage queue.
    pub parsed: u64,
    /// Messages kept in the dead-letter store with their reason.
    pub dead_lettered: u64,
    /// UDP messages dropped because the queue was full.
    pub dropped: u64,
    /// Messages over `max_message_bytes` (also dead-lettered).
    pub oversized: u64,
}

impl Snapshot {
    /// Messages received and not yet parsed, dead-lettered or dropped.
    pub fn in_flight(&self) -> u64 {
        self.received
            .saturating_sub(self.parsed + self.dead_lettered + self.dropped)
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Count {
    Received,
    Parsed,
    DeadLettered,
    Dropped,
    Oversized,
}

impl Count {
    fn metric(self) -> &'static str {
        match self {
            Count::Received => "warden_syslog_received_total",
            Count::Parsed => "warden_syslog_parsed_total",
            Count::DeadLettered => "warden_syslog_dead_lettered_total",
            Count::Dropped => "warden_syslog_dropped_total",
            Count::Oversized => "warden_syslog_oversized_total",
        }
    }
}

impl ListenerStats {
    /// Make every counter of `listener` visible on `/metrics` at 0.
    pub(crate) fn register(&self, listener: &str) {
        for what in [
            Count::Received,
            Count::Parsed,
            Count::DeadLettered,
            Count::Dropped,
            Count::Oversized,
        ] {
            self.add(listener, what, 0);
        }
    }

    pub(crate) fn add(&self, listener: &str, what: Count, n: u64) {
        let cell = match what {
            Count::Received => &self.received,
            Count::Parsed => &self.parsed,
            Count::DeadLettered => &self.dead_lettered,
            Count::Dropped => &self.dropped,
            Count::Oversized => &self.oversized,
        };
        cell.fetch_add(n, Ordering::Relaxed);
        metrics::counter!(what.metric(), "listener" => listener.to_owned()).increment(n);
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            received: self.received.load(Ordering::Relaxed),
            parsed: self.parsed.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            oversized: self.oversized.load(Ordering::Relaxed),
        }
    }
}
