//! Counters for `/metrics`: plain atomics, read at scrape time.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use bourse_core::profile::Channel;

/// Upper bounds (ms) of the delivery-lag histogram's buckets; the last bucket is +Inf.
pub const LAG_BUCKETS_MS: [u64; 14] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000,
    21_600_000,
];

/// What the delivery workers did since start.
#[derive(Debug, Default)]
pub struct NotifyStats {
    sent_email: AtomicU64,
    sent_sms: AtomicU64,
    sent_webhook: AtomicU64,
    /// Attempts that did not succeed (a retry or a dead letter follows).
    pub failed: AtomicU64,
    /// Failed attempts rescheduled for another try.
    pub retried: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub canceled: AtomicU64,
    /// Times `submit` found the writer's queue full and waited.
    pub backpressure_waits: AtomicU64,
    pub breaker_opens: AtomicU64,
    /// Attempts under way now.
    pub in_flight: AtomicI64,
    /// Deliveries put back unattempted (breaker open, endpoint queue full).
    pub deferred: AtomicU64,
    /// Store operations that failed (they are retried).
    pub store_errors: AtomicU64,
    pending: AtomicI64,
    lag_buckets: [AtomicU64; LAG_BUCKETS_MS.len() + 1],
    lag_sum_ms: AtomicU64,
    lag_count: AtomicU64,
}

impl NotifyStats {
    fn sent_counter(&self, c: Channel) -> Option<&AtomicU64> {
        match c {
            Channel::Email => Some(&self.sent_email),
            Channel::Sms => Some(&self.sent_sms),
            Channel::Webhook => Some(&self.sent_webhook),
            Channel::InApp => None,
        }
    }

    /// Deliveries sent on `channel` (in-app: always 0, it is not delivered here).
    pub fn sent(&self, channel: Channel) -> u64 {
        self.sent_counter(channel)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Deliveries pending (approximate: counted from the rows inserted and finished).
    pub fn pending(&self) -> u64 {
        u64::try_from(self.pending.load(Ordering::Relaxed)).unwrap_or(0)
    }

    pub(crate) fn set_pending(&self, n: u64) {
        self.pending
            .store(i64::try_from(n).unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    pub(crate) fn add_pending(&self, n: u64) {
        self.pending
            .fetch_add(i64::try_from(n).unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    pub(crate) fn sub_pending(&self, n: u64) {
        self.pending
            .fetch_sub(i64::try_from(n).unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    /// One delivery sent, `lag_ms` after its event.
    pub(crate) fn record_sent(&self, channel: Channel, lag_ms: u64) {
        if let Some(c) = self.sent_counter(channel) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let i = LAG_BUCKETS_MS
            .iter()
            .position(|b| lag_ms <= *b)
            .unwrap_or(LAG_BUCKETS_MS.len());
        if let Some(b) = self.lag_buckets.get(i) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.lag_sum_ms.fetch_add(lag_ms, Ordering::Relaxed);
        self.lag_count.fetch_add(1, Ordering::Relaxed);
    }

    /// The delivery-lag histogram (event → 2xx): `(upper bound in seconds, cumulative
    /// count)` per bucket, `+Inf` last, then the sum in seconds and the count.
    #[allow(clippy::cast_precision_loss)] // ms counts far below 2^53
    pub fn buckets(&self) -> (Vec<(f64, u64)>, f64, u64) {
        let mut cumulative = 0;
        let mut out = Vec::with_capacity(self.lag_buckets.len());
        for (i, b) in self.lag_buckets.iter().enumerate() {
            cumulative += b.load(Ordering::Relaxed);
            let upper = LAG_BUCKETS_MS
                .get(i)
                .map_or(f64::INFINITY, |ms| *ms as f64 / 1000.0);
            out.push((upper, cumulative));
        }
        let sum = self.lag_sum_ms.load(Ordering::Relaxed) as f64 / 1000.0;
        (out, sum, self.lag_count.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let s = NotifyStats::default();
        s.record_sent(Channel::Webhook, 10);
        s.record_sent(Channel::Webhook, 700);
        s.record_sent(Channel::Email, 100_000_000);
        let (b, sum, n) = s.buckets();
        assert_eq!(n, 3);
        assert_eq!(b.first(), Some(&(0.05, 1)));
        assert_eq!(b.get(4), Some(&(1.0, 2)));
        assert_eq!(b.last(), Some(&(f64::INFINITY, 3)));
        assert!((sum - 100_000.71).abs() < 1e-6);
        assert_eq!(s.sent(Channel::Webhook), 2);
        assert_eq!(s.sent(Channel::Email), 1);
        assert_eq!(s.sent(Channel::Sms), 0);
    }
}
