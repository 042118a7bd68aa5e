//! What Warden's std-only benchmarks share: how long and how often to
//! measure (quick in CI with `WARDEN_BENCH_QUICK`), whether to enforce the
//! target ratio (`WARDEN_BENCH_ENFORCE`), and the median.

use std::time::Duration;

/// How long and how often to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Shortest time one measurement covers (the measured work is repeated
    /// until it does).
    pub min_sample: Duration,
    /// Measurements of each kind; the median is reported.
    pub rounds: usize,
}

impl Plan {
    /// `quick` when `WARDEN_BENCH_QUICK` is set, else `full`.
    pub fn from_env(quick: Plan, full: Plan) -> Self {
        if env_flag("WARDEN_BENCH_QUICK") {
            quick
        } else {
            full
        }
    }
}

/// Whether the environment variable `name` is set to something other than
/// empty or `0`.
pub fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The median of `samples` (the upper middle of an even count); zero when
/// empty.
pub fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_is_the_middle_or_upper_middle() {
        let ms = Duration::from_millis;
        assert_eq!(median(&[ms(3), ms(1), ms(2)]), ms(2));
        assert_eq!(median(&[ms(4), ms(1), ms(3), ms(2)]), ms(3));
        assert_eq!(median(&[]), Duration::ZERO);
    }
}
