//! Fixed-point money and whole-share quantities.
//!
//! Prices and cash are `i64` counts of 1/10,000 of a dollar (the LOBSTER scale), so
//! `Price::from_raw(1_902_500)` is $190.25. Quantities are whole shares. There is no
//! floating point anywhere: text converts exactly or not at all, and arithmetic is
//! checked so an overflow is an error value, never a wrapped number.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Number of decimal places carried by [`Price`] and [`Cash`].
pub const DECIMALS: u32 = 4;
/// Raw units per whole dollar.
pub const SCALE: i64 = 10_000;

/// Why a decimal string could not become a fixed-point number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseNumError {
    #[error("empty number")]
    Empty,
    #[error("invalid character in number")]
    InvalidChar,
    #[error("more than {DECIMALS} decimal places")]
    TooPrecise,
    #[error("number out of range")]
    Overflow,
    #[error("negative value not allowed here")]
    Negative,
    #[error("quantity must be a whole number of shares")]
    Fractional,
}

/// Parses `[-]digits[.digits]` into units of 10^-`DECIMALS`. Trailing zeros beyond the
/// scale are accepted ("1.50000"); any other extra precision is refused, never rounded.
fn parse_scaled(s: &str) -> Result<i64, ParseNumError> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(_) => (false, s),
        None => return Err(ParseNumError::Empty),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    if int_part.is_empty() && frac_part.is_none_or(str::is_empty) {
        return Err(ParseNumError::Empty);
    }
    let mut value: i64 = 0;
    for b in int_part.bytes() {
        if !b.is_ascii_digit() {
            return Err(ParseNumError::InvalidChar);
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(b - b'0')))
            .ok_or(ParseNumError::Overflow)?;
    }
    value = value.checked_mul(SCALE).ok_or(ParseNumError::Overflow)?;
    if let Some(frac) = frac_part {
        let mut unit = SCALE;
        for b in frac.bytes() {
            if !b.is_ascii_digit() {
                return Err(ParseNumError::InvalidChar);
            }
            unit /= 10;
            let d = i64::from(b - b'0');
            if unit == 0 {
                if d != 0 {
                    return Err(ParseNumError::TooPrecise);
                }
                continue;
            }
            value = value.checked_add(d * unit).ok_or(ParseNumError::Overflow)?;
        }
    }
    Ok(if neg { -value } else { value })
}

/// Writes a scaled value with at least two decimals and no trailing zeros beyond them:
/// 1902500 → "190.25", 1900000 → "190.00", 1902501 → "190.2501".
fn fmt_scaled(raw: i64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let sign = if raw < 0 { "-" } else { "" };
    let abs = raw.unsigned_abs();
    let scale = SCALE.unsigned_abs();
    let (int, mut frac) = (abs / scale, abs % scale);
    let mut digits = DECIMALS;
    while digits > 2 && frac % 10 == 0 {
        frac /= 10;
        digits -= 1;
    }
    let s = format!("{sign}{int}.{frac:0width$}", width = digits as usize);
    f.pad(&s)
}

macro_rules! fixed_point {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(i64);

        impl $name {
            pub const ZERO: Self = Self(0);
            pub const MAX: Self = Self(i64::MAX);

            /// From raw units of 1/10,000.
            #[inline]
            #[must_use]
            pub const fn from_raw(raw: i64) -> Self {
                Self(raw)
            }

            /// Raw units of 1/10,000.
            #[inline]
            #[must_use]
            pub const fn raw(self) -> i64 {
                self.0
            }

            /// Whole dollars, checked.
            #[must_use]
            pub const fn from_dollars(d: i64) -> Option<Self> {
                match d.checked_mul(SCALE) {
                    Some(v) => Some(Self(v)),
                    None => None,
                }
            }

            #[inline]
            #[must_use]
            pub const fn checked_add(self, o: Self) -> Option<Self> {
                match self.0.checked_add(o.0) {
                    Some(v) => Some(Self(v)),
                    None => None,
                }
            }

            #[inline]
            #[must_use]
            pub const fn checked_sub(self, o: Self) -> Option<Self> {
                match self.0.checked_sub(o.0) {
                    Some(v) => Some(Self(v)),
                    None => None,
                }
            }

            #[inline]
            #[must_use]
            pub const fn is_positive(self) -> bool {
                self.0 > 0
            }

            #[inline]
            #[must_use]
            pub const fn is_negative(self) -> bool {
                self.0 < 0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt_scaled(self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl FromStr for $name {
            type Err = ParseNumError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_scaled(s).map(Self)
            }
        }

        /// Human-readable formats (JSON, TOML) carry the exact decimal string; binary
        /// formats carry the raw integer.
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.collect_str(self)
                } else {
                    s.serialize_i64(self.0)
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                    s.parse().map_err(serde::de::Error::custom)
                } else {
                    i64::deserialize(d).map(Self)
                }
            }
        }
    };
}

fixed_point!(
    /// A price in 1/10,000 of a dollar. Valid order prices are positive; the type itself
    /// is signed so that differences (price changes, P&L per share) stay in one type.
    Price
);

fixed_point!(
    /// An amount of money in 1/10,000 of a dollar: balances, notionals, fees, P&L.
    Cash
);

impl Price {
    /// Whether the price is a whole multiple of `tick` (a non-positive tick never is).
    #[inline]
    #[must_use]
    pub const fn is_multiple_of(self, tick: Price) -> bool {
        tick.0 > 0 && (tick.0 == 1 || self.0 % tick.0 == 0)
    }

    /// `self` moved by `bps` basis points (positive = up), rounded toward `self` so the
    /// result never lies beyond the exact bound. `None` on overflow.
    #[must_use]
    pub fn offset_bps(self, bps: i64) -> Option<Price> {
        let delta = i128::from(self.0) * i128::from(bps) / 10_000;
        i64::try_from(i128::from(self.0) + delta).ok().map(Price)
    }

    /// Rounds down to a multiple of `tick` (toward negative infinity).
    #[must_use]
    pub const fn floor_to(self, tick: Price) -> Price {
        if tick.0 <= 0 {
            return self;
        }
        Price(self.0.div_euclid(tick.0) * tick.0)
    }

    /// Rounds up to a multiple of `tick`; `None` on overflow.
    #[must_use]
    pub const fn ceil_to(self, tick: Price) -> Option<Price> {
        if tick.0 <= 0 {
            return Some(self);
        }
        let floor = self.0.div_euclid(tick.0) * tick.0;
        if floor == self.0 {
            Some(self)
        } else {
            match floor.checked_add(tick.0) {
                Some(v) => Some(Price(v)),
                None => None,
            }
        }
    }

    /// Price × quantity as money, checked.
    #[inline]
    #[must_use]
    pub fn notional(self, qty: Qty) -> Option<Cash> {
        let v = i128::from(self.0) * i128::from(qty.0);
        i64::try_from(v).ok().map(Cash)
    }
}

impl Cash {
    /// Negation, checked (`i64::MIN` has no positive twin).
    #[must_use]
    pub const fn checked_neg(self) -> Option<Cash> {
        match self.0.checked_neg() {
            Some(v) => Some(Cash(v)),
            None => None,
        }
    }

    /// `self × bps / 10,000`, rounded up to the next raw unit when positive so that a fee
    /// is never under-charged by rounding. `None` on overflow or a negative rate.
    #[must_use]
    pub fn bps_ceil(self, bps: u32) -> Option<Cash> {
        let num = i128::from(self.0) * i128::from(bps);
        let q = num.div_euclid(10_000) + i128::from(num.rem_euclid(10_000) != 0);
        i64::try_from(q).ok().map(Cash)
    }
}

/// A quantity of whole shares.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Qty(u64);

impl Qty {
    pub const ZERO: Qty = Qty(0);
    pub const MAX: Qty = Qty(u64::MAX);

    #[inline]
    #[must_use]
    pub const fn new(shares: u64) -> Qty {
        Qty(shares)
    }

    #[inline]
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }

    #[inline]
    #[must_use]
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    #[inline]
    #[must_use]
    pub const fn checked_add(self, o: Qty) -> Option<Qty> {
        match self.0.checked_add(o.0) {
            Some(v) => Some(Qty(v)),
            None => None,
        }
    }

    #[inline]
    #[must_use]
    pub const fn checked_sub(self, o: Qty) -> Option<Qty> {
        match self.0.checked_sub(o.0) {
            Some(v) => Some(Qty(v)),
            None => None,
        }
    }

    /// Subtraction floored at zero, for "what is left" computations.
    #[inline]
    #[must_use]
    pub const fn saturating_sub(self, o: Qty) -> Qty {
        Qty(self.0.saturating_sub(o.0))
    }

    #[inline]
    #[must_use]
    pub fn min(self, o: Qty) -> Qty {
        Qty(self.0.min(o.0))
    }

    /// Whether the quantity is a whole multiple of `lot` (a zero lot never is).
    #[inline]
    #[must_use]
    pub const fn is_multiple_of(self, lot: Qty) -> bool {
        lot.0 > 0 && (lot.0 == 1 || self.0.is_multiple_of(lot.0))
    }
}

impl fmt::Display for Qty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Qty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Qty({})", self.0)
    }
}

impl FromStr for Qty {
    type Err = ParseNumError;
    /// Whole shares: "100" or "100.0000"; "1.5" is [`ParseNumError::Fractional`].
    fn from_str(s: &str) -> Result<Qty, ParseNumError> {
        let raw = parse_scaled(s)?;
        if raw < 0 {
            return Err(ParseNumError::Negative);
        }
        if raw % SCALE != 0 {
            return Err(ParseNumError::Fractional);
        }
        u64::try_from(raw / SCALE)
            .map(Qty)
            .map_err(|_| ParseNumError::Overflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_exact_decimals() {
        assert_eq!("190.25".parse::<Price>().unwrap().raw(), 1_902_500);
        assert_eq!("190".parse::<Price>().unwrap().raw(), 1_900_000);
        assert_eq!("0.0001".parse::<Price>().unwrap().raw(), 1);
        assert_eq!(".5".parse::<Price>().unwrap().raw(), 5_000);
        assert_eq!("5.".parse::<Price>().unwrap().raw(), 50_000);
        assert_eq!("1.50000".parse::<Price>().unwrap().raw(), 15_000);
        assert_eq!("-2.5".parse::<Cash>().unwrap().raw(), -25_000);
    }

    #[test]
    fn refuses_inexact_or_malformed() {
        assert_eq!("1.00001".parse::<Price>(), Err(ParseNumError::TooPrecise));
        assert_eq!("".parse::<Price>(), Err(ParseNumError::Empty));
        assert_eq!("-".parse::<Price>(), Err(ParseNumError::Empty));
        assert_eq!(".".parse::<Price>(), Err(ParseNumError::Empty));
        assert_eq!("1e5".parse::<Price>(), Err(ParseNumError::InvalidChar));
        assert_eq!(" 1".parse::<Price>(), Err(ParseNumError::InvalidChar));
        assert_eq!("+1".parse::<Price>(), Err(ParseNumError::InvalidChar));
        assert_eq!("1.2.3".parse::<Price>(), Err(ParseNumError::InvalidChar));
        assert_eq!(
            "922337203685478".parse::<Price>(),
            Err(ParseNumError::Overflow)
        );
        assert_eq!("1.5".parse::<Qty>(), Err(ParseNumError::Fractional));
        assert_eq!("-1".parse::<Qty>(), Err(ParseNumError::Negative));
        assert_eq!("100.0000".parse::<Qty>(), Ok(Qty::new(100)));
    }

    #[test]
    fn formats_with_two_to_four_decimals() {
        assert_eq!(Price::from_raw(1_902_500).to_string(), "190.25");
        assert_eq!(Price::from_raw(1_900_000).to_string(), "190.00");
        assert_eq!(Price::from_raw(1_902_501).to_string(), "190.2501");
        assert_eq!(Price::from_raw(1_902_510).to_string(), "190.251");
        assert_eq!(Cash::from_raw(-5).to_string(), "-0.0005");
        assert_eq!(
            Cash::from_raw(i64::MIN).to_string(),
            "-922337203685477.5808"
        );
    }

    #[test]
    fn checked_arithmetic_reports_overflow() {
        assert_eq!(Price::MAX.checked_add(Price::from_raw(1)), None);
        assert_eq!(Qty::new(1).checked_sub(Qty::new(2)), None);
        assert_eq!(Price::from_raw(i64::MAX).notional(Qty::new(2)), None);
        assert_eq!(
            Price::from_raw(1_902_500).notional(Qty::new(3)),
            Some(Cash::from_raw(5_707_500))
        );
    }

    #[test]
    fn tick_rounding_and_bps() {
        let tick = Price::from_raw(100);
        assert_eq!(Price::from_raw(1_050).floor_to(tick).raw(), 1_000);
        assert_eq!(Price::from_raw(1_050).ceil_to(tick).unwrap().raw(), 1_100);
        assert_eq!(Price::from_raw(1_100).ceil_to(tick).unwrap().raw(), 1_100);
        assert!(Price::from_raw(1_100).is_multiple_of(tick));
        assert!(!Price::from_raw(1_150).is_multiple_of(tick));
        assert_eq!(
            Price::from_raw(1_000_000).offset_bps(500).unwrap().raw(),
            1_050_000
        );
        assert_eq!(
            Price::from_raw(1_000_000).offset_bps(-500).unwrap().raw(),
            950_000
        );
        assert_eq!(Cash::from_raw(10_001).bps_ceil(1).unwrap().raw(), 2);
        assert_eq!(Cash::from_raw(10_000).bps_ceil(1).unwrap().raw(), 1);
        assert_eq!(Cash::from_raw(0).bps_ceil(30).unwrap().raw(), 0);
    }

    #[test]
    fn serde_is_string_in_json_and_raw_in_binary_formats() {
        let p = Price::from_raw(1_902_500);
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"190.25\"");
        assert_eq!(serde_json::from_str::<Price>("\"190.25\"").unwrap(), p);
        assert!(serde_json::from_str::<Price>("\"190.255555\"").is_err());
        assert_eq!(serde_json::to_string(&Qty::new(7)).unwrap(), "7");
    }

    proptest! {
        #[test]
        fn display_parse_roundtrip(raw in any::<i64>()) {
            prop_assume!(raw != i64::MIN);
            let p = Price::from_raw(raw);
            prop_assert_eq!(p.to_string().parse::<Price>(), Ok(p));
        }

        #[test]
        fn qty_roundtrip(n in 0..=(i64::MAX / SCALE).unsigned_abs()) {
            prop_assert_eq!(Qty::new(n).to_string().parse::<Qty>(), Ok(Qty::new(n)));
        }
    }
}
