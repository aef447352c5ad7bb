//! A fixed-bucket histogram of `u64` observations in atomics, for one writer thread and any
//! number of readers: what the engine thread (and the journal writer) record their timings
//! in without a lock or an allocation.
//!
//! The writer updates a bucket and the sum with a plain load and a `Relaxed` store each (no
//! read-modify-write: it is the only writer), so recording costs a bounds scan and two
//! stores to a cache line nobody else writes. Readers take a [`HistogramSnapshot`] whenever
//! they like; it is exact per bucket, and its total is the sum of its buckets (so it always
//! equals the last, cumulative, bucket), while the sum may be one observation ahead or
//! behind the buckets.

use std::sync::atomic::{AtomicU64, Ordering};

/// Buckets of observations `≤` each of a fixed list of bounds, plus one for everything above
/// the last bound, and the sum of every observation.
#[derive(Debug)]
pub struct AtomicHistogram {
    /// Upper bounds (inclusive), strictly ascending.
    bounds: &'static [u64],
    /// One per bound, then the overflow bucket (non-cumulative counts).
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl AtomicHistogram {
    /// A histogram with these upper bounds (inclusive), which must ascend strictly.
    ///
    /// # Panics
    /// If the bounds do not ascend strictly (a programming error).
    #[must_use]
    pub fn new(bounds: &'static [u64]) -> Self {
        assert!(
            bounds.windows(2).all(|w| w[0] < w[1]),
            "histogram bounds must ascend strictly"
        );
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    /// Records one observation. Only one thread may record into a histogram (the updates
    /// are not read-modify-writes); readers may run concurrently.
    #[inline]
    pub fn record(&self, value: u64) {
        let i = self
            .bounds
            .iter()
            .position(|&b| value <= b)
            .unwrap_or(self.bounds.len());
        if let Some(c) = self.counts.get(i) {
            bump(c, 1);
        }
        bump(&self.sum, value);
    }

    /// The bucket bounds.
    #[must_use]
    pub fn bounds(&self) -> &'static [u64] {
        self.bounds
    }

    /// What has been recorded so far.
    #[must_use]
    pub fn snapshot(&self) -> HistogramSnapshot {
        let sum = self.sum.load(Ordering::Relaxed);
        HistogramSnapshot {
            bounds: self.bounds,
            counts: self
                .counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            sum,
        }
    }
}

/// The single writer's increment: a load and a store, no locked instruction.
#[inline]
fn bump(a: &AtomicU64, by: u64) {
    a.store(
        a.load(Ordering::Relaxed).wrapping_add(by),
        Ordering::Relaxed,
    );
}

/// A reading of an [`AtomicHistogram`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Upper bounds (inclusive), ascending.
    pub bounds: &'static [u64],
    /// Observations per bucket (not cumulative): one per bound, then those above the last.
    pub counts: Vec<u64>,
    /// The sum of the observations.
    pub sum: u64,
}

impl HistogramSnapshot {
    /// Observations in all.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// `(upper bound, observations ≤ it)` per bucket, ascending, ending with `(None,
    /// count)` for the unbounded one: the cumulative form Prometheus histograms use.
    pub fn cumulative(&self) -> impl Iterator<Item = (Option<u64>, u64)> + '_ {
        let bounds = self.bounds.iter().map(|&b| Some(b)).chain(Some(None));
        let mut total = 0u64;
        bounds.zip(self.counts.iter()).map(move |(b, &c)| {
            total += c;
            (b, total)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        static B: [u64; 3] = [10, 100, 1_000];
        let h = AtomicHistogram::new(&B);
        for v in [0, 10, 11, 100, 999, 1_000, 1_001, u64::MAX / 2] {
            h.record(v);
        }
        let s = h.snapshot();
        assert_eq!(s.counts, vec![2, 2, 2, 2]);
        assert_eq!(s.count(), 8);
        assert_eq!(s.sum, 10 + 11 + 100 + 999 + 1_000 + 1_001 + u64::MAX / 2);
        assert_eq!(
            s.cumulative().collect::<Vec<_>>(),
            vec![(Some(10), 2), (Some(100), 4), (Some(1_000), 6), (None, 8)]
        );
    }

    #[test]
    fn readers_see_consistent_buckets_while_one_thread_records() {
        static B: [u64; 2] = [1, 2];
        let h = std::sync::Arc::new(AtomicHistogram::new(&B));
        let w = {
            let h = h.clone();
            std::thread::spawn(move || {
                for i in 0..200_000u64 {
                    h.record(i % 4);
                }
            })
        };
        let mut last = 0;
        while !w.is_finished() {
            let s = h.snapshot();
            let c: Vec<_> = s.cumulative().collect();
            assert!(c.windows(2).all(|w| w[0].1 <= w[1].1));
            assert_eq!(c.last().unwrap().1, s.count());
            assert!(s.count() >= last);
            last = s.count();
        }
        w.join().unwrap();
        assert_eq!(h.snapshot().count(), 200_000);
        assert_eq!(h.snapshot().sum, 300_000);
    }

    #[test]
    #[should_panic(expected = "ascend")]
    fn bounds_must_ascend() {
        static B: [u64; 2] = [2, 2];
        let _ = AtomicHistogram::new(&B);
    }
}
