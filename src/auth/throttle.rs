//! A brake on guessing passwords: after [`MAX_FAILURES`] failed sign-ins
//! for one username within [`WINDOW`], that username is refused until the
//! oldest failure leaves the window. The count lives in memory, per daemon.
//!
//! The price is that someone who knows a username can keep its owner out
//! for a while by failing on purpose; the owner's API tokens and existing
//! sessions keep working meanwhile.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

pub const MAX_FAILURES: usize = 10;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Usernames remembered at most; beyond it, names with no recent failure
/// are forgotten first.
const MAX_NAMES: usize = 10_000;

#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Throttle {
    pub fn new() -> Throttle {
        Throttle::default()
    }

    /// Whether a sign-in for `username` may be tried now.
    pub fn allows(&self, username: &str) -> bool {
        let now = Instant::now();
        let mut failures = self.failures.lock().expect("throttle lock");
        match failures.get_mut(&key(username)) {
            Some(times) => {
                times.retain(|t| now.duration_since(*t) < WINDOW);
                times.len() < MAX_FAILURES
            }
            None => true,
        }
    }

    pub fn failed(&self, username: &str) {
        let now = Instant::now();
        let mut failures = self.failures.lock().expect("throttle lock");
        if failures.len() >= MAX_NAMES {
            failures.retain(|_, times| times.iter().any(|t| now.duration_since(*t) < WINDOW));
        }
        if failures.len() < MAX_NAMES {
            failures.entry(key(username)).or_default().push(now);
        }
    }

    pub fn succeeded(&self, username: &str) {
        self.failures
            .lock()
            .expect("throttle lock")
            .remove(&key(username));
    }
}

fn key(username: &str) -> String {
    username.trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_username_is_held_back_after_too_many_failures_then_let_go() {
        let throttle = Throttle::new();
        for _ in 0..MAX_FAILURES {
            assert!(throttle.allows("alice"));
            throttle.failed("Alice");
        }
        assert!(!throttle.allows("alice"), "names compare without case");
        assert!(throttle.allows("bob"), "other names are not held back");

        tokio::time::advance(WINDOW).await;
        assert!(throttle.allows("alice"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_clears_the_count() {
        let throttle = Throttle::new();
        for _ in 0..MAX_FAILURES - 1 {
            throttle.failed("alice");
        }
        throttle.succeeded("alice");
        throttle.failed("alice");
        assert!(throttle.allows("alice"));
    }
}
