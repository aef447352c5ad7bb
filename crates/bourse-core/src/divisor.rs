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
    /// `None` for zero, which divides nothing.
    #[must_use]
    pub fn new(d: u64) -> Option<Self> {
        match d {
            0 => None,
            1 => Some(Self { c: 0 }),
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
            }
        }
    }

    proptest! {
        #[test]
        fn agrees_with_remainder(n in any::<u64>(), d in 1..u64::MAX) {
            prop_assert_eq!(Divisor::new(d).unwrap().divides(n), n % d == 0);
        }

        #[test]
        fn agrees_on_multiples(k in 0..1_000_000u64, d in 1..1_000_000u64) {
            let div = Divisor::new(d).unwrap();
            prop_assert!(div.divides(k * d));
            prop_assert_eq!(div.divides(k * d + 1), d == 1);
        }
    }
}
