//! Requests-per-minute and tokens-per-minute limits across every case.
//!
//! Providers enforce both per key; staying under them ourselves turns a
//! burst of cases into a queue instead of a storm of 429s (each of which
//! would end a case in escalation once its retries ran out).
//!
//! A sliding 60-second window: a call is let through when the calls of the
//! last 60 s, with this one, stay within both limits. This is exact (no
//! minute ever holds more than the limit), unlike a token bucket, which lets
//! a full burst through on top of the refill. Tokens are estimated before
//! the call and corrected with the provider's count after it
//! ([`RateLimiter::settle`]). Waiters are served in arrival order.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// The window providers count their limits over.
const WINDOW: Duration = Duration::from_secs(60);

/// Shared by every case (and by both models of an ensemble) through an
/// `Arc`. A limit of 0 means no limit.
#[derive(Debug)]
pub struct RateLimiter {
    requests_per_minute: u32,
    tokens_per_minute: u64,
    /// Held while a caller waits for room, so waiters go in arrival order
    /// (tokio's mutex is fair) and one large request cannot be starved by
    /// a stream of small ones.
    turn: tokio::sync::Mutex<()>,
    window: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    /// Calls let through in the last 60 s, oldest first.
    calls: VecDeque<Call>,
    next_id: u64,
}

#[derive(Debug)]
struct Call {
    id: u64,
    at: Instant,
    tokens: u64,
}

/// A call that was let through; hand it back to [`RateLimiter::settle`]
/// with the provider's count. Dropping it keeps the estimate.
#[derive(Debug)]
#[must_use = "settle the ticket with the tokens actually used"]
pub struct Ticket {
    /// `None` when the limiter keeps no window (no token limit).
    id: Option<u64>,
    estimated: u64,
}

impl Ticket {
    /// The tokens estimated when the call was let through.
    pub fn estimated(&self) -> u64 {
        self.estimated
    }
}

impl RateLimiter {
    /// A limiter allowing `requests_per_minute` calls and
    /// `tokens_per_minute` tokens in any 60 s (0: that limit is off).
    pub fn new(requests_per_minute: u32, tokens_per_minute: u64) -> Self {
        Self {
            requests_per_minute,
            tokens_per_minute,
            turn: tokio::sync::Mutex::new(()),
            window: Mutex::new(Window::default()),
        }
    }

    /// Whether both limits are off.
    pub fn is_unlimited(&self) -> bool {
        self.requests_per_minute == 0 && self.tokens_per_minute == 0
    }

    /// Wait until a call estimated at `estimated_tokens` fits in both
    /// limits, then count it. An estimate larger than the whole token
    /// limit waits for an empty window rather than forever.
    pub async fn acquire(&self, estimated_tokens: u64) -> Ticket {
        if self.is_unlimited() {
            return Ticket {
                id: None,
                estimated: estimated_tokens,
            };
        }
        let _turn = self.turn.lock().await;
        loop {
            let now = Instant::now();
            let ready_at = {
                let mut window = self.lock();
                window.expire(now);
                match self.ready_at(&window, estimated_tokens) {
                    None => {
                        let id = window.next_id;
                        window.next_id = id.wrapping_add(1);
                        window.calls.push_back(Call {
                            id,
                            at: now,
                            tokens: estimated_tokens,
                        });
                        return Ticket {
                            id: Some(id),
                            estimated: estimated_tokens,
                        };
                    }
                    Some(at) => at,
                }
            };
            tracing::debug!(
                wait_ms = u64::try_from(ready_at.saturating_duration_since(now).as_millis())
                    .unwrap_or(u64::MAX),
                "LLM rate limit: waiting for room"
            );
            tokio::time::sleep_until(ready_at).await;
        }
    }

    /// Replace a call's estimate with the tokens it actually used (more or
    /// fewer). A call that has already left the window changes nothing.
    pub fn settle(&self, ticket: Ticket, actual_tokens: u64) {
        let Some(id) = ticket.id else {
            return;
        };
        let mut window = self.lock();
        if let Some(call) = window.calls.iter_mut().find(|c| c.id == id) {
            call.tokens = actual_tokens;
        }
    }

    /// Calls and tokens counted in the current window.
    pub fn in_window(&self) -> (usize, u64) {
        let mut window = self.lock();
        window.expire(Instant::now());
        let tokens = window
            .calls
            .iter()
            .fold(0u64, |sum, c| sum.saturating_add(c.tokens));
        (window.calls.len(), tokens)
    }

    fn lock(&self) -> MutexGuard<'_, Window> {
        // The window holds plain counts: a panic elsewhere cannot leave it
        // inconsistent, so a poisoned lock is still usable.
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When a call of `estimated` tokens fits, or `None` if it fits now.
    fn ready_at(&self, window: &Window, estimated: u64) -> Option<Instant> {
        let mut ready: Option<Instant> = None;
        let mut later = |at: Instant| {
            ready = Some(ready.map_or(at, |r| r.max(at)));
        };
        let rpm = usize::try_from(self.requests_per_minute).unwrap_or(usize::MAX);
        if rpm > 0 && window.calls.len() >= rpm {
            // The oldest calls that must leave so this one is the rpm-th.
            let must_leave = window.calls.len().saturating_sub(rpm);
            if let Some(call) = window.calls.get(must_leave) {
                later(call.at + WINDOW);
            }
        }
        let tpm = self.tokens_per_minute;
        if tpm > 0 {
            let need = estimated.min(tpm);
            let mut used = window
                .calls
                .iter()
                .fold(0u64, |sum, c| sum.saturating_add(c.tokens));
            // Drop the oldest calls until this one fits.
            for call in &window.calls {
                if used.saturating_add(need) <= tpm {
                    break;
                }
                used = used.saturating_sub(call.tokens);
                later(call.at + WINDOW);
            }
        }
        ready
    }
}

impl Window {
    fn expire(&mut self, now: Instant) {
        while self.calls.front().is_some_and(|c| c.at + WINDOW <= now) {
            self.calls.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn secs(since: Instant) -> u64 {
        since.elapsed().as_secs()
    }

    #[tokio::test(start_paused = true)]
    async fn requests_per_minute_pace_the_calls_over_a_sliding_window() {
        let limiter = RateLimiter::new(3, 0);
        let start = Instant::now();
        for _ in 0..3 {
            let _ = limiter.acquire(10).await;
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
        // Calls at 0, 10 and 20 s; the fourth asks at 30 s.
        let _ = limiter.acquire(10).await;
        assert_eq!(secs(start), 60, "the fourth waits for the first to leave");
        assert_eq!(limiter.in_window().0, 3, "10 s, 20 s and 60 s");
        let _ = limiter.acquire(10).await;
        assert_eq!(secs(start), 70, "the fifth waits for the 10 s call");
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_per_minute_wait_for_room_and_settle_corrects_the_estimate() {
        let limiter = RateLimiter::new(0, 100);
        let start = Instant::now();
        let first = limiter.acquire(60).await;
        // The provider counted fewer: the room comes back at once.
        limiter.settle(first, 10);
        let second = limiter.acquire(60).await;
        assert_eq!(secs(start), 0);
        assert_eq!(limiter.in_window(), (2, 70));
        // The provider counted more than estimated: the next call waits.
        limiter.settle(second, 90);
        tokio::time::sleep(Duration::from_secs(10)).await;
        let _third = limiter.acquire(50).await;
        assert_eq!(secs(start), 60, "room only once both earlier calls left");
        assert_eq!(limiter.in_window(), (1, 50));
    }

    #[tokio::test(start_paused = true)]
    async fn an_estimate_above_the_whole_budget_waits_for_an_empty_window() {
        let limiter = RateLimiter::new(0, 100);
        let start = Instant::now();
        let _small = limiter.acquire(1).await;
        let _huge = limiter.acquire(500).await;
        assert_eq!(secs(start), 60);
        let _next = limiter.acquire(1).await;
        assert_eq!(secs(start), 120, "the huge call filled the minute");
    }

    #[tokio::test(start_paused = true)]
    async fn zero_means_unlimited() {
        let limiter = RateLimiter::new(0, 0);
        assert!(limiter.is_unlimited());
        let start = Instant::now();
        for _ in 0..1_000 {
            let ticket = limiter.acquire(1_000_000).await;
            limiter.settle(ticket, 2_000_000);
        }
        assert_eq!(secs(start), 0);
        assert_eq!(limiter.in_window(), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_the_limit_in_arrival_order() {
        let limiter = Arc::new(RateLimiter::new(2, 0));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for n in 0..5u64 {
            let limiter = Arc::clone(&limiter);
            tasks.push(tokio::spawn(async move {
                // Stagger the arrivals so their order is known.
                tokio::time::sleep(Duration::from_millis(n)).await;
                let _ = limiter.acquire(1).await;
                (n, start.elapsed())
            }));
        }
        let mut done = Vec::new();
        for task in tasks {
            done.push(task.await.unwrap());
        }
        let waited: Vec<u64> = done.iter().map(|(_, d)| d.as_secs()).collect();
        assert_eq!(waited, vec![0, 0, 60, 60, 120]);
    }

    #[tokio::test(start_paused = true)]
    async fn both_limits_apply_together() {
        let limiter = RateLimiter::new(10, 100);
        let start = Instant::now();
        let _a = limiter.acquire(80).await;
        let _b = limiter.acquire(30).await;
        assert_eq!(
            secs(start),
            60,
            "the token limit binds before the request limit"
        );
    }
}
