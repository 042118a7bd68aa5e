//! Limits on pushed alerts, so that one sender cannot fill the server's
//! memory or crowd the others out:
//!
//! - at most `[server] ingest_max_batch_alerts` records in one push (413);
//! - a token bucket per principal (API token or account): it holds up to
//!   `ingest_burst_alerts` alerts and refills at `ingest_alerts_per_minute`;
//!   a push that costs more than is left is refused with 429 and
//!   `Retry-After` saying when it would pass;
//! - the bytes waiting for triage, from every sender together, at most
//!   `triage_queue_max_bytes` (429 with `Retry-After` when over; one push
//!   always fits an empty queue). A push's bytes are held until the
//!   triage worker is done with its alerts.
//!
//! Buckets live in memory, one per principal that pushed (tokens and
//! accounts are made by administrators, so their number is bounded); a
//! restart refills them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use warden_pipeline::ServerConfig;

/// How long a sender is asked to wait when the triage queue is full.
pub const QUEUE_RETRY_AFTER: Duration = Duration::from_secs(5);

/// The limits in force and what each principal has left.
#[derive(Debug)]
pub struct IngestLimits {
    max_batch: usize,
    /// Alerts a bucket holds when full.
    capacity: f64,
    /// Alerts added to a bucket per second.
    refill: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
    queued: Arc<AtomicUsize>,
    max_queued: usize,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl IngestLimits {
    pub fn new(config: &ServerConfig) -> Self {
        let max_batch = config.ingest_max_batch_alerts.max(1);
        // A full batch must be able to pass a full bucket.
        let capacity = f64::from(config.ingest_burst_alerts).max(max_batch as f64);
        Self {
            max_batch,
            capacity,
            refill: f64::from(config.ingest_alerts_per_minute.max(1)) / 60.0,
            buckets: Mutex::new(HashMap::new()),
            queued: Arc::new(AtomicUsize::new(0)),
            max_queued: config.triage_queue_max_bytes.max(1),
        }
    }

    /// Most records one push may carry.
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// Take `alerts` from `principal`'s bucket at `now`, or say how long
    /// until they would pass (nothing is taken then).
    pub fn take(&self, principal: &str, alerts: usize, now: Instant) -> Result<(), Duration> {
        let cost = (alerts as f64).min(self.capacity);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(principal.to_owned()).or_insert(Bucket {
            tokens: self.capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.refill).min(self.capacity);
        bucket.at = now;
        if bucket.tokens >= cost {
            bucket.tokens -= cost;
            return Ok(());
        }
        let wait = ((cost - bucket.tokens) / self.refill).ceil().max(1.0);
        Err(Duration::from_secs_f64(wait))
    }

    /// Hold `bytes` in the triage queue until the returned reservation is
    /// dropped, or `None` when that would take the queue over its bound.
    pub fn reserve(&self, bytes: usize) -> Option<Reservation> {
        let max = self.max_queued;
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                let after = queued.saturating_add(bytes);
                (queued == 0 || after <= max).then_some(after)
            })
            .ok()?;
        Some(Reservation {
            queued: self.queued.clone(),
            bytes,
        })
    }

    /// Bytes of pushed alerts waiting for (or in) triage now.
    pub fn queued_bytes(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }
}

/// Bytes held in the triage queue; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    queued: Arc<AtomicUsize>,
    bytes: usize,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.queued.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn limits(burst: u32, per_minute: u32, max_bytes: usize) -> IngestLimits {
        IngestLimits::new(&ServerConfig {
            ingest_max_batch_alerts: 2,
            ingest_burst_alerts: burst,
            ingest_alerts_per_minute: per_minute,
            triage_queue_max_bytes: max_bytes,
            ..ServerConfig::default()
        })
    }

    #[test]
    fn a_bucket_empties_refills_and_is_per_principal() {
        let limits = limits(3, 60, 100);
        let t0 = Instant::now();
        assert!(limits.take("token:a", 3, t0).is_ok());
        let wait = limits.take("token:a", 2, t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(2));
        assert!(limits.take("token:b", 3, t0).is_ok());
        assert!(
            limits
                .take("token:a", 2, t0 + Duration::from_secs(2))
                .is_ok()
        );
        // A batch larger than the burst still passes a full bucket.
        let small = self::limits(1, 60, 100);
        assert!(small.take("token:a", 2, t0).is_ok());
    }

    #[test]
    fn the_queue_is_bounded_in_bytes_and_released_on_drop() {
        let limits = limits(10, 60, 100);
        let first = limits.reserve(150).unwrap();
        assert!(limits.reserve(1).is_none(), "over the bound");
        drop(first);
        assert_eq!(limits.queued_bytes(), 0);
        let a = limits.reserve(60).unwrap();
        assert!(limits.reserve(41).is_none());
        let b = limits.reserve(40).unwrap();
        assert_eq!(limits.queued_bytes(), 100);
        drop((a, b));
        assert_eq!(limits.queued_bytes(), 0);
    }
}
