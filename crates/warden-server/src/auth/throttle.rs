//! Sign-in throttling: after `max_failures` failed sign-ins for one account
//! (or four times as many from one address) further attempts are refused
//! for a lock-out that doubles with every further failure, up to 15
//! minutes. A success clears the account's count. Counts live in memory:
//! a restart forgets them, which costs an attacker a restart they cannot
//! cause.

use std::collections::HashMap;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

/// The longest lock-out.
const MAX_LOCKOUT: Duration = Duration::minutes(15);
/// Failures older than this are forgotten.
const WINDOW: Duration = Duration::minutes(15);

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: OffsetDateTime,
}

/// Failed sign-ins by account and by address.
#[derive(Debug)]
pub struct Throttle {
    max_failures: u32,
    first_lockout: Duration,
    failures: Mutex<HashMap<String, Failures>>,
}

impl Throttle {
    pub fn new(max_failures: u32, first_lockout_seconds: u32) -> Self {
        Self {
            max_failures: max_failures.max(1),
            first_lockout: Duration::seconds(i64::from(first_lockout_seconds.max(1))),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(account: &str, address: Option<&str>) -> Vec<(String, u32)> {
        let mut keys = vec![(format!("account:{}", account.to_lowercase()), 1)];
        if let Some(address) = address {
            keys.push((format!("address:{address}"), 4));
        }
        keys
    }

    /// How long the caller must wait before trying again, if locked out.
    pub fn wait(
        &self,
        account: &str,
        address: Option<&str>,
        now: OffsetDateTime,
    ) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        Self::keys(account, address)
            .into_iter()
            .filter_map(|(key, factor)| {
                let f = failures.get(&key)?;
                let allowed = self.max_failures * factor;
                if f.count < allowed || now - f.last > WINDOW {
                    return None;
                }
                let doublings = (f.count - allowed).min(10);
                let lockout = (self.first_lockout * 2_i32.pow(doublings)).min(MAX_LOCKOUT);
                let until = f.last + lockout;
                (until > now).then_some(until - now)
            })
            .max()
    }

    pub fn failed(&self, account: &str, address: Option<&str>, now: OffsetDateTime) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        // Bound memory under a spray of names: forget stale entries first.
        if failures.len() > 100_000 {
            failures.retain(|_, f| now - f.last <= WINDOW);
        }
        for (key, _) in Self::keys(account, address) {
            let entry = failures.entry(key).or_insert(Failures {
                count: 0,
                last: now,
            });
            if now - entry.last > WINDOW {
                entry.count = 0;
            }
            entry.count += 1;
            entry.last = now;
        }
    }

    pub fn succeeded(&self, account: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&format!("account:{}", account.to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_out_after_the_limit_and_doubles() {
        let throttle = Throttle::new(3, 10);
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
        for _ in 0..2 {
            throttle.failed("Alice", Some("10.0.0.1"), t0);
        }
        assert_eq!(throttle.wait("alice", Some("10.0.0.1"), t0), None);
        throttle.failed("alice", Some("10.0.0.1"), t0);
        assert_eq!(
            throttle.wait("ALICE", None, t0),
            Some(Duration::seconds(10))
        );
        throttle.failed("alice", None, t0);
        assert_eq!(
            throttle.wait("alice", None, t0),
            Some(Duration::seconds(20))
        );
        assert_eq!(
            throttle.wait("alice", None, t0 + Duration::seconds(21)),
            None
        );
        // Another account from the same address is not yet locked.
        assert_eq!(throttle.wait("bob", Some("10.0.0.1"), t0), None);
        throttle.succeeded("alice");
        assert_eq!(throttle.wait("alice", None, t0), None);
    }

    #[test]
    fn an_address_spraying_names_is_locked_out() {
        let throttle = Throttle::new(2, 5);
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
        for n in 0..8 {
            throttle.failed(&format!("user{n}"), Some("192.0.2.9"), t0);
        }
        assert!(throttle.wait("fresh-name", Some("192.0.2.9"), t0).is_some());
        assert!(
            throttle
                .wait("fresh-name", Some("192.0.2.10"), t0)
                .is_none()
        );
    }
}
