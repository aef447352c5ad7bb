//! The open-loop schedule: when each order of the run is meant to go out.

use anyhow::{Result, bail};

/// When each order of the open-loop flow is meant to go out: order `k` at `k / rate`
/// seconds after the start, in whole nanoseconds (rounded down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Orders per 1,000 seconds, so fractional rates are exact to 0.001/s.
    per_kilosec: u64,
}

const NANOS_PER_KILOSEC: u128 = 1_000_000_000_000;

impl Schedule {
    /// A schedule at `rate` orders per second (0.001 to 10^9).
    pub fn new(rate: f64) -> Result<Schedule> {
        if !(rate.is_finite() && (0.001..=1e9).contains(&rate)) {
            bail!("--rate {rate}: use 0.001 to 1e9 orders per second");
        }
        Ok(Schedule {
            per_kilosec: f64_to_u64((rate * 1000.0).round()),
        })
    }

    /// Orders per second.
    #[must_use]
    pub fn rate(self) -> f64 {
        self.per_kilosec as f64 / 1000.0
    }

    /// Nanoseconds after the start at which order `k` is meant to be sent.
    #[must_use]
    pub fn intended_ns(self, k: u64) -> u64 {
        let ns = u128::from(k) * NANOS_PER_KILOSEC / u128::from(self.per_kilosec);
        u64::try_from(ns).unwrap_or(u64::MAX)
    }

    /// How many orders are due `elapsed_ns` after the start: those meant for that instant or
    /// earlier. `intended_ns(k) <= e` ⟺ `k·10¹² < (e+1)·r` ⟺ `k < ⌈(e+1)·r / 10¹²⌉`.
    #[must_use]
    pub fn due(self, elapsed_ns: u64) -> u64 {
        let n = (u128::from(elapsed_ns) + 1) * u128::from(self.per_kilosec);
        u64::try_from(n.div_ceil(NANOS_PER_KILOSEC)).unwrap_or(u64::MAX)
    }

    /// How many orders are meant for strictly before `ns`.
    #[must_use]
    pub fn before(self, ns: u64) -> u64 {
        if ns == 0 { 0 } else { self.due(ns - 1) }
    }
}

/// A float already checked to be finite and in range, to whole units.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub(crate) fn f64_to_u64(x: f64) -> u64 {
    // `as` saturates: negative and NaN become 0, huge values u64::MAX.
    x as u64
}

pub(crate) fn secs_to_ns(what: &str, secs: f64) -> Result<u64> {
    if !(secs.is_finite() && (0.0..=86_400.0).contains(&secs)) {
        bail!("{what} {secs}: use 0 to 86400 seconds");
    }
    Ok(f64_to_u64((secs * 1e9).round()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_schedule_spaces_orders_evenly_and_due_counts_them() {
        for rate in [0.5, 3.3, 1_000.0, 2_000.0, 49_999.0, 150_000.0, 1e9] {
            let s = Schedule::new(rate).unwrap();
            assert_eq!(s.intended_ns(0), 0);
            // k / rate seconds, to the nanosecond.
            for k in [1u64, 7, 1_000, 123_457] {
                let want = k as f64 / rate * 1e9;
                let got = s.intended_ns(k) as f64;
                assert!(
                    (got - want).abs() <= 1.0 + want * 1e-12,
                    "{rate}/s k={k}: {got} vs {want}"
                );
                assert!(s.intended_ns(k) >= s.intended_ns(k - 1));
            }
            // due(e) is exactly the count of k with intended(k) <= e: counted one by one
            // over the first milliseconds, checked at the boundary further out.
            let mut k = 0u64;
            for e in (0..2_000_000u64).step_by(997) {
                while s.intended_ns(k) <= e {
                    k += 1;
                }
                assert_eq!(s.due(e), k, "{rate}/s at {e} ns");
            }
            for e in [
                999_999_999,
                1_000_000_000,
                2_000_000_007,
                86_400_000_000_000,
            ] {
                let d = s.due(e);
                assert!(s.intended_ns(d) > e && (d == 0 || s.intended_ns(d - 1) <= e));
            }
            assert_eq!(s.before(0), 0);
            assert_eq!(s.before(1), 1);
        }
        // A 2-second run at 2,000/s is 4,000 orders; 1 s of warm-up is the first 2,000.
        let s = Schedule::new(2_000.0).unwrap();
        assert_eq!(s.before(3_000_000_000) - s.before(1_000_000_000), 4_000);
        assert_eq!(s.before(1_000_000_000), 2_000);
        assert!(Schedule::new(0.0).is_err());
        assert!(Schedule::new(f64::NAN).is_err());
        assert!(Schedule::new(2e9).is_err());
    }
}
