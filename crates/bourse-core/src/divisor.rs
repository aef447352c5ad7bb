//! Divisibility by a divisor fixed at construction (a tick or lot size), without a hardware
//! division.
//!
//! Every submit checks its price against the tick and its quantity against the lot; a 64-bit
//! `div` costs tens of cycles, a 128-bit multiply a few. The test is Lemire, Kaser & Kurz,
//! "Faster remainder by direct computation" (2019): with `c = ceil(2^128 / d)`, a 64-bit `n`
//! is a multiple of `d` exactly when `n * c mod 2^128 < c`.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Divisor {
    /// `ceil(2^128 / d)`; 0 encodes `d == 1` (every number is a multiple).
    c: u128,
}

impl Divisor {
    /// Divides everything.
    pub const ONE: Self = Self { c: 0 };

    /// `None` for zero, which divides nothing.
    #[must_use]
    pub fn new(d: u64) -> Option<Self> {
        match d {
            0 => None,
            1 => Some(Self::ONE),
            // For d > 1, floor((2^128 - 1) / d) + 1 == ceil(2^128 / d).
            _ => Some(Self {
                c: u128::MAX / u128::from(d) + 1,
            }),
        }
    }

    #[inline]
    #[must_use]
    pub fn divides(self, n: u64) -> bool {
        self.c == 0 || u128::from(n).wrapping_mul(self.c) < self.c
    }

    /// `n / d`, without a division instruction: the high 128 bits of the 192-bit product
    /// `n * c` (Lemire, Kaser & Kurz, "Faster remainder by direct computation", 2019: exact
    /// for every 64-bit `n` when `c` has 128 bits). A price ladder turns every price into a
    /// tick index with it, and a 64-bit `div` costs tens of cycles.
    #[inline]
    #[must_use]
    pub fn quotient(self, n: u64) -> u64 {
        if self.c == 0 {
            return n;
        }
        let n = u128::from(n);
        // Split c = hi * 2^64 + lo; neither product below can overflow 128 bits.
        let (hi, lo) = (self.c >> 64, self.c & u128::from(u64::MAX));
        let low_carry = (n * lo) >> 64;
        // Below 2^64 by construction (n < 2^64, c < 2^128), so the cast is exact.
        #[allow(clippy::cast_possible_truncation)]
        let q = ((n * hi + low_carry) >> 64) as u64;
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zero_and_one() {
        assert_eq!(Divisor::new(0), None);
        let one = Divisor::new(1).unwrap();
        assert!(one.divides(0) && one.divides(7) && one.divides(u64::MAX));
    }

    #[test]
    fn small_exhaustive() {
        for d in 1..=300u64 {
            let div = Divisor::new(d).unwrap();
            for n in 0..=3_000u64 {
                assert_eq!(div.divides(n), n % d == 0, "n={n} d={d}");
            }
            for n in [u64::MAX, u64::MAX - 1, u64::MAX - d, 1 << 63, (1 << 63) - 1] {
                assert_eq!(div.divides(n), n % d == 0, "n={n} d={d}");
                assert_eq!(div.quotient(n), n / d, "n={n} d={d}");
            }
            for n in 0..=3_000u64 {
                assert_eq!(div.quotient(n), n / d, "n={n} d={d}");
            }
        }
    }

    proptest! {
        #[test]
        fn agrees_with_remainder(n in any::<u64>(), d in 1..u64::MAX) {
            prop_assert_eq!(Divisor::new(d).unwrap().divides(n), n % d == 0);
        }

        #[test]
        fn quotient_agrees_with_division(n in any::<u64>(), d in 1..u64::MAX) {
            prop_assert_eq!(Divisor::new(d).unwrap().quotient(n), n / d);
        }

        #[test]
        fn quotient_near_multiples(k in 0..1_000_000_000u64, d in 1..10_000_000_000u64) {
            let div = Divisor::new(d).unwrap();
            if let Some(m) = k.checked_mul(d) {
                prop_assert_eq!(div.quotient(m), k);
                prop_assert_eq!(div.quotient(m.saturating_sub(1)), m.saturating_sub(1) / d);
                prop_assert_eq!(div.quotient(m.saturating_add(d - 1)), m.saturating_add(d - 1) / d);
            }
        }

        #[test]
        fn agrees_on_multiples(k in 0..1_000_000u64, d in 1..1_000_000u64) {
            let div = Divisor::new(d).unwrap();
            prop_assert!(div.divides(k * d));
            prop_assert_eq!(div.divides(k * d + 1), d == 1);
        }
    }
}
