//! Back-off, then a temporary lock-out, after repeated failures to prove who one is (a wrong
//! password, two-factor code, recovery code or one-time code), per account.
//!
//! After [`FREE`] failures each further attempt must wait twice as long as the one before
//! (1 s, 2 s, 4 s, ...); after [`LOCK_AFTER`] the account is locked for [`LOCK`]. A success
//! clears the count. Kept in memory, per process: a restart or a takeover forgives (the per-IP
//! rate limit still holds), which keeps wrong guesses from writing to the journal. Bounded:
//! at most [`MAX_TRACKED`] accounts, entries idle for [`FORGET`] dropped.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bourse_core::AccountId;
use parking_lot::Mutex;

/// Failures allowed without waiting.
pub const FREE: u32 = 3;
/// Failures after which the account is locked.
pub const LOCK_AFTER: u32 = 10;
/// How long a lock lasts.
pub const LOCK: Duration = Duration::from_secs(15 * 60);
/// Failures are forgotten after this long without another.
pub const FORGET: Duration = Duration::from_secs(60 * 60);
/// Most accounts tracked at once (the oldest idle ones go first).
pub const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last: Instant,
}

/// Failure counts by account.
#[derive(Debug, Default)]
pub struct Lockout(Mutex<HashMap<AccountId, Entry>>);

impl Lockout {
    /// `Err(seconds to wait)` if the account may not try now.
    pub fn check(&self, account: AccountId) -> Result<(), u64> {
        self.check_at(account, Instant::now())
    }

    fn check_at(&self, account: AccountId, now: Instant) -> Result<(), u64> {
        let g = self.0.lock();
        let Some(e) = g.get(&account) else {
            return Ok(());
        };
        let wait = wait_for(e.failures);
        let since = now.saturating_duration_since(e.last);
        if since >= wait {
            Ok(())
        } else {
            Err((wait - since).as_secs().max(1))
        }
    }

    /// Counts a failure; returns whether the account is now locked.
    pub fn failed(&self, account: AccountId) -> bool {
        self.failed_at(account, Instant::now())
    }

    fn failed_at(&self, account: AccountId, now: Instant) -> bool {
        let mut g = self.0.lock();
        if g.len() >= MAX_TRACKED && !g.contains_key(&account) {
            g.retain(|_, e| now.saturating_duration_since(e.last) < FORGET);
            if g.len() >= MAX_TRACKED
                && let Some(oldest) = g.iter().min_by_key(|(_, e)| e.last).map(|(a, _)| *a)
            {
                g.remove(&oldest);
            }
        }
        let e = g.entry(account).or_insert(Entry {
            failures: 0,
            last: now,
        });
        if now.saturating_duration_since(e.last) >= FORGET {
            e.failures = 0;
        }
        e.failures = e.failures.saturating_add(1);
        e.last = now;
        e.failures >= LOCK_AFTER
    }

    /// A success: the count starts again.
    pub fn succeeded(&self, account: AccountId) {
        self.0.lock().remove(&account);
    }
}

fn wait_for(failures: u32) -> Duration {
    if failures >= LOCK_AFTER {
        LOCK
    } else if failures < FREE {
        Duration::ZERO
    } else {
        Duration::from_secs(1 << (failures - FREE).min(16))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_then_locks_and_a_success_forgives() {
        let l = Lockout::default();
        let a = AccountId::new(1);
        let t0 = Instant::now();
        for _ in 0..FREE {
            assert_eq!(l.check_at(a, t0), Ok(()));
            l.failed_at(a, t0);
        }
        assert_eq!(l.check_at(a, t0), Err(1));
        assert_eq!(l.check_at(a, t0 + Duration::from_secs(1)), Ok(()));
        l.failed_at(a, t0 + Duration::from_secs(1));
        assert_eq!(l.check_at(a, t0 + Duration::from_secs(2)), Err(1));
        assert_eq!(l.check_at(a, t0 + Duration::from_secs(3)), Ok(()));
        let mut t = t0 + Duration::from_secs(3);
        let mut locked = false;
        for _ in 0..LOCK_AFTER {
            locked = l.failed_at(a, t);
            t += Duration::from_secs(600);
        }
        assert!(locked);
        let last = t - Duration::from_secs(600);
        assert!(l.check_at(a, last + Duration::from_secs(60)).is_err());
        assert_eq!(l.check_at(a, last + LOCK), Ok(()));
        l.succeeded(a);
        assert_eq!(l.check_at(a, last), Ok(()));
        assert_eq!(l.check_at(AccountId::new(2), t0), Ok(()));
    }
}
