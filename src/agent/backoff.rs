//! How long to wait before connecting again: 0.5 s, doubling up to 30 s,
//! each wait moved by up to a quarter either way so that the agents of a
//! whole office do not all reconnect in the same instant after a restart.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

const FIRST: Duration = Duration::from_millis(500);
const MAX: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff { next: FIRST }
    }
}

impl Backoff {
    pub fn new() -> Backoff {
        Backoff::default()
    }

    /// Back to the shortest wait: the connection worked.
    pub fn reset(&mut self) {
        self.next = FIRST;
    }

    /// The wait before the next try; the one after is twice as long.
    pub fn next_wait(&mut self) -> Duration {
        let base = self.next;
        self.next = (base * 2).min(MAX);
        jitter(base, random_unit())
    }
}

/// `base` moved by up to a quarter either way (`unit` in 0..1), never past
/// the longest wait.
fn jitter(base: Duration, unit: f64) -> Duration {
    base.mul_f64(0.75 + unit / 2.0).min(MAX)
}

/// A number in 0..1 that differs between calls and processes. The standard
/// library seeds every `RandomState` anew, which is random enough to spread
/// reconnections and needs no dependency.
fn random_unit() -> f64 {
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_thirty_seconds_and_reset() {
        let mut backoff = Backoff::new();
        let bases: Vec<f64> = (0..9)
            .map(|_| {
                let base = backoff.next.as_secs_f64();
                let wait = backoff.next_wait().as_secs_f64();
                assert!(
                    wait >= base * 0.75 && wait <= (base * 1.25).min(30.0),
                    "{wait}"
                );
                base
            })
            .collect();
        assert_eq!(bases, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]);

        backoff.reset();
        assert!(backoff.next_wait() <= Duration::from_millis(625));
    }

    #[test]
    fn jitter_stays_within_a_quarter_and_under_the_cap() {
        let second = Duration::from_secs(1);
        assert_eq!(jitter(second, 0.0), Duration::from_millis(750));
        assert_eq!(jitter(second, 0.5), second);
        assert!(jitter(second, 0.999_999) < Duration::from_millis(1250));
        assert_eq!(jitter(MAX, 0.999), MAX);
    }

    #[test]
    fn random_units_differ() {
        let draws: Vec<f64> = (0..8).map(|_| random_unit()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)), "{draws:?}");
        assert!(draws.windows(2).any(|w| w[0] != w[1]), "{draws:?}");
    }
}
