//! Fixed-point money and quantities.
//!
//! Prices and cash are `i64` counts of 1/10,000 of a dollar (the LOBSTER scale), so
//! `Price::from_raw(1_902_500)` is $190.25. Quantities are millionths of a share. There is no
//! floating point anywhere: text converts exactly or not at all, and arithmetic is
//! checked so an overflow is an error value, never a wrapped number.
//!
//! Text from outside is read by [`parse_decimal`] into a `rust_decimal` [`Decimal`], which
//! `TryFrom` converts exactly into a [`Price`], [`Cash`] or [`Qty`]; `FromStr` is the two in
//! turn. The decimal type stops there: the engine's arithmetic is on the fixed-point integers.

use std::fmt;
use std::str::FromStr;

pub use rust_decimal::Decimal;
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
    #[error("more than {QTY_DECIMALS} decimal places in a quantity")]
    TooPreciseQty,
}

/// Reads a client's decimal text, `[-]digits[.digits]` with a digit on at least one side of
/// the point, into a [`Decimal`]. This is the grammar of every number a client sends (JSON
/// strings, the literal text of JSON numbers, later FIX fields); rust_decimal's own parser is
/// wider (`+1`, `1_000`), so those are refused here first. Leading and trailing zeros are
/// dropped, so "1.50000" stays exact however many zeros follow.
pub fn parse_decimal(s: &str) -> Result<Decimal, ParseNumError> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    if int_part.is_empty() && frac_part.is_none_or(str::is_empty) {
        return Err(ParseNumError::Empty);
    }
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int_part) || !frac_part.is_none_or(all_digits) {
        return Err(ParseNumError::InvalidChar);
    }
    // Only significant digits go to rust_decimal, whose exact reading stops at 28 of them.
    let int = int_part.trim_start_matches('0');
    let frac = frac_part.map_or("", |f| f.trim_end_matches('0'));
    if int.is_empty() && frac.is_empty() {
        return Ok(Decimal::ZERO);
    }
    let start = int_part.len() - int.len();
    let digits = if frac.is_empty() {
        int
    } else {
        &body[start..int_part.len() + 1 + frac.len()]
    };
    let d = Decimal::from_str_exact(digits).map_err(|e| match e {
        // Too many decimals for rust_decimal: certainly too precise for us, unless the
        // part we could keep already overflows (a left-to-right reading reports that first).
        rust_decimal::Error::Underflow => {
            let kept = &digits[..(int.len() + 1 + DECIMALS as usize).min(digits.len())];
            match Decimal::from_str_exact(kept).map(to_raw) {
                Ok(Ok(_) | Err(ParseNumError::TooPrecise)) => ParseNumError::TooPrecise,
                _ => ParseNumError::Overflow,
            }
        }
        _ => ParseNumError::Overflow,
    })?;
    Ok(if body.len() < s.len() { -d } else { d })
}

/// Converts `d` exactly into units of 10^-`DECIMALS`: extra precision is refused, never
/// rounded. The range is symmetric (`-i64::MAX..=i64::MAX`) so every accepted value can be
/// negated. An overflow of the part that fits the scale is reported before extra precision.
fn to_raw(d: Decimal) -> Result<i64, ParseNumError> {
    let (m, scale) = (d.mantissa(), d.scale());
    // |m| < 2^96 and scale <= 28, so neither the product nor the power overflows an i128.
    let (kept, exact) = if scale <= DECIMALS {
        (m * 10_i128.pow(DECIMALS - scale), true)
    } else {
        let div = 10_i128.pow(scale - DECIMALS);
        (m / div, m % div == 0)
    };
    let magnitude = i64::try_from(kept.unsigned_abs()).map_err(|_| ParseNumError::Overflow)?;
    if !exact {
        return Err(ParseNumError::TooPrecise);
    }
    Ok(if kept < 0 { -magnitude } else { magnitude })
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

        impl TryFrom<Decimal> for $name {
            type Error = ParseNumError;
            fn try_from(d: Decimal) -> Result<Self, Self::Error> {
                to_raw(d).map(Self)
            }
        }

        impl FromStr for $name {
            type Err = ParseNumError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_decimal(s).and_then(Self::try_from)
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
        // In i64 while the product fits (any price below $92bn at 10⁻⁴ $ for a 100 %
        // offset): a market order's collar is taken here, and the 128-bit division's
        // library call showed in the engine's profile. Both divisions truncate toward zero.
        match self.0.checked_mul(bps) {
            Some(v) => self.0.checked_add(v / 10_000).map(Price),
            None => {
                let delta = i128::from(self.0) * i128::from(bps) / 10_000;
                i64::try_from(i128::from(self.0) + delta).ok().map(Price)
            }
        }
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

    /// Price × quantity as money, rounded up to the cash grid (exact for whole shares);
    /// `None` past the range. Limits and reservations use this; a fill's cash is the
    /// engine's (rounded per order, see `bourse-engine`'s ledger).
    #[inline]
    #[must_use]
    pub fn notional(self, qty: Qty) -> Option<Cash> {
        if self.0 < 0 {
            return None;
        }
        cash_ceil(exact_value(self, qty))
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

    /// The amount as an exact value (see [`exact_value`]); a negative amount's magnitude.
    #[inline]
    #[must_use]
    pub fn exact(self) -> u128 {
        u128::from(self.0.unsigned_abs()) * u128::from(QTY_SCALE)
    }

    /// The price per share of `self` spent on `qty`, rounded down to the 1/10,000 dollar
    /// (an average fill price); `None` for no shares or past the range.
    #[must_use]
    pub fn per_share(self, qty: Qty) -> Option<Price> {
        if qty.is_zero() {
            return None;
        }
        let v = i128::from(self.0) * i128::from(QTY_SCALE) / i128::from(qty.0);
        i64::try_from(v).ok().map(Price)
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

/// Number of decimal places carried by [`Qty`]: a millionth of a share.
pub const QTY_DECIMALS: u32 = 6;
/// Raw quantity units per share.
pub const QTY_SCALE: u64 = 1_000_000;

/// A quantity of shares in millionths (0.000001 share, the finest fraction a broker
/// offers). Whole-share instruments trade multiples of [`QTY_SCALE`] only.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Qty(u64);

impl Qty {
    pub const ZERO: Qty = Qty(0);
    pub const MAX: Qty = Qty(u64::MAX);
    /// One whole share.
    pub const ONE: Qty = Qty(QTY_SCALE);

    /// `n` whole shares (saturating at [`Qty::MAX`], far beyond any listed limit).
    #[inline]
    #[must_use]
    pub const fn shares(n: u64) -> Qty {
        Qty(n.saturating_mul(QTY_SCALE))
    }

    /// From raw millionths of a share.
    #[inline]
    #[must_use]
    pub const fn from_raw(raw: u64) -> Qty {
        Qty(raw)
    }

    /// Raw millionths of a share.
    #[inline]
    #[must_use]
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// Whether this is a whole number of shares.
    #[inline]
    #[must_use]
    pub const fn is_whole(self) -> bool {
        self.0.is_multiple_of(QTY_SCALE)
    }

    /// Whole shares, rounded down.
    #[inline]
    #[must_use]
    pub const fn whole_shares(self) -> u64 {
        self.0 / QTY_SCALE
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
    /// Whole shares without a point ("100"), fractions with the digits they need ("0.5",
    /// "1.234567").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (int, frac) = (self.0 / QTY_SCALE, self.0 % QTY_SCALE);
        if frac == 0 {
            return f.pad(&int.to_string());
        }
        let digits = format!("{frac:06}");
        f.pad(&format!("{int}.{}", digits.trim_end_matches('0')))
    }
}

impl fmt::Debug for Qty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Qty({self})")
    }
}

impl TryFrom<Decimal> for Qty {
    type Error = ParseNumError;
    /// Up to six decimals: 100, 100.0000, 0.5 or 0.000001; 0.0000001 is
    /// [`ParseNumError::TooPreciseQty`]. Whether an instrument takes fractions is the
    /// engine's rule, not the number's. The range is a `u64` of millionths (18 trillion
    /// shares).
    fn try_from(d: Decimal) -> Result<Qty, ParseNumError> {
        if d.is_sign_negative() && !d.is_zero() {
            return Err(ParseNumError::Negative);
        }
        let (m, scale) = (d.mantissa().unsigned_abs(), d.scale());
        let (raw, exact) = if scale <= QTY_DECIMALS {
            (m * 10_u128.pow(QTY_DECIMALS - scale), true)
        } else {
            let div = 10_u128.pow(scale - QTY_DECIMALS);
            (m / div, m % div == 0)
        };
        let raw = u64::try_from(raw).map_err(|_| ParseNumError::Overflow)?;
        if !exact {
            return Err(ParseNumError::TooPreciseQty);
        }
        Ok(Qty(raw))
    }
}

impl FromStr for Qty {
    type Err = ParseNumError;
    /// "100", "100.0000", "0.5", "1.234567"; "1.2345678" is [`ParseNumError::TooPreciseQty`].
    fn from_str(s: &str) -> Result<Qty, ParseNumError> {
        match parse_decimal(s) {
            // Past rust_decimal's 28 digits: the price grid's error, reworded for a quantity.
            Err(ParseNumError::TooPrecise) => Err(ParseNumError::TooPreciseQty),
            r => r.and_then(Qty::try_from),
        }
    }
}

/// Human-readable formats carry the decimal text (and accept a whole number, as a config
/// file writes a lot of 100); binary formats carry the raw millionths.
impl Serialize for Qty {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_u64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Qty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if !d.is_human_readable() {
            return u64::deserialize(d).map(Qty);
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Text<'a> {
            Whole(u64),
            #[serde(borrow)]
            Str(std::borrow::Cow<'a, str>),
        }
        match Text::deserialize(d)? {
            Text::Whole(n) => n
                .checked_mul(QTY_SCALE)
                .map(Qty)
                .ok_or_else(|| serde::de::Error::custom(ParseNumError::Overflow)),
            Text::Str(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Whole shares of the old scale, as journals wrote them before quantities had fractions:
/// the frozen commands' field, read as `n` shares.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WholeQty(pub u64);

impl From<WholeQty> for Qty {
    fn from(w: WholeQty) -> Qty {
        Qty::shares(w.0)
    }
}

/// An exact trade value: price raw × quantity raw, in 10^-10 dollars (1/10,000 of a dollar
/// per millionth of a share). Cash moves this rounded to [`Cash`]'s 1/10,000 of a dollar.
#[inline]
#[must_use]
pub fn exact_value(px: Price, qty: Qty) -> u128 {
    u128::from(px.0.unsigned_abs()) * u128::from(qty.0)
}

/// An exact value in [`Cash`], rounded up (`None` past the range).
#[inline]
fn cash_ceil(exact: u128) -> Option<Cash> {
    i64::try_from(div_const(exact, QTY_SCALE, true))
        .ok()
        .map(Cash)
}

/// `x / d`, rounded up when `ceil`. Values that fit a `u64` (exact values under about
/// $1.8 billion) divide as `u64`, which the compiler turns into a multiply for a constant
/// `d`; a `u128` division is a library call, kept off the engine's per-fill path.
#[inline]
#[must_use]
pub fn div_const(x: u128, d: u64, ceil: bool) -> u128 {
    match u64::try_from(x) {
        Ok(v) if ceil => u128::from(v.div_ceil(d)),
        Ok(v) => u128::from(v / d),
        Err(_) if ceil => x.div_ceil(u128::from(d)),
        Err(_) => x / u128::from(d),
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
        assert_eq!("1.5".parse::<Qty>(), Ok(Qty::from_raw(1_500_000)));
        assert_eq!("0.000001".parse::<Qty>(), Ok(Qty::from_raw(1)));
        assert_eq!(
            "0.0000001".parse::<Qty>(),
            Err(ParseNumError::TooPreciseQty)
        );
        assert_eq!("-1".parse::<Qty>(), Err(ParseNumError::Negative));
        assert_eq!("100.0000".parse::<Qty>(), Ok(Qty::shares(100)));
        assert_eq!(
            "922337203685478".parse::<Qty>(),
            Err(ParseNumError::Overflow)
        );
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
        assert_eq!(Qty::shares(1).checked_sub(Qty::shares(2)), None);
        assert_eq!(Price::from_raw(i64::MAX).notional(Qty::shares(2)), None);
        assert_eq!(
            Price::from_raw(1_902_500).notional(Qty::shares(3)),
            Some(Cash::from_raw(5_707_500))
        );
        // $190.25 × 0.000001 share = $0.00019025: a cash unit and a bit, rounded up.
        let tiny = Qty::from_raw(1);
        assert_eq!(exact_value(Price::from_raw(1_902_500), tiny), 1_902_500);
        assert_eq!(
            Price::from_raw(1_902_500).notional(tiny),
            Some(Cash::from_raw(2))
        );
        assert_eq!(cash_ceil(2_000_000), Some(Cash::from_raw(2)));
        assert_eq!(Cash::from_raw(25).exact(), 25_000_000);
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
        // The i64 fast path truncates toward zero as the 128-bit one does, and past what
        // i64 holds the 128-bit one answers.
        let wide = |p: i64, b: i64| {
            i64::try_from(i128::from(p) + i128::from(p) * i128::from(b) / 10_000).ok()
        };
        for (p, b) in [
            (1_000_001, 3),
            (1_000_001, -3),
            (-7, 5_000),
            (i64::MAX / 2, 9_999),
            (i64::MAX, -1),
            (i64::MAX, 1),
            (i64::MIN / 3, -20_000),
        ] {
            assert_eq!(
                Price::from_raw(p).offset_bps(b).map(Price::raw),
                wide(p, b),
                "{p} {b}"
            );
        }
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
        assert_eq!(serde_json::to_string(&Qty::shares(7)).unwrap(), "\"7\"");
        assert_eq!(serde_json::from_str::<Qty>("7").unwrap(), Qty::shares(7));
        assert_eq!(
            serde_json::from_str::<Qty>("\"0.25\"").unwrap(),
            Qty::from_raw(250_000)
        );
        let cfg = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(Qty::from_raw(5), cfg).unwrap();
        assert_eq!(bytes, bincode::serde::encode_to_vec(5u64, cfg).unwrap());
        assert_eq!(Qty::from(WholeQty(3)), Qty::shares(3));
    }

    #[test]
    fn reads_through_rust_decimal_with_our_grammar() {
        // rust_decimal alone would take these; a client number may not.
        for s in ["+1", "1_000", "1e3", "1E3", "0x10", "1 ", "١"] {
            assert_eq!(s.parse::<Price>(), Err(ParseNumError::InvalidChar), "{s}");
        }
        // Any run of zeros after the last significant decimal, past rust_decimal's 28 too.
        let zeros = format!("1.5{}", "0".repeat(40));
        assert_eq!(zeros.parse::<Price>().unwrap().raw(), 15_000);
        assert_eq!(
            format!("{}7", "0".repeat(40)).parse::<Qty>(),
            Ok(Qty::shares(7))
        );
        assert_eq!("-.5".parse::<Cash>().unwrap().raw(), -5_000);
        assert_eq!(".000".parse::<Price>(), Ok(Price::ZERO));
        assert_eq!("-0".parse::<Qty>(), Ok(Qty::ZERO));
        // Overflow before precision, as the old left-to-right reading had it.
        let long = format!("99999999999999999999.{}1", "0".repeat(30));
        assert_eq!(long.parse::<Price>(), Err(ParseNumError::Overflow));
        let fine = format!("1.{}1", "0".repeat(30));
        assert_eq!(fine.parse::<Price>(), Err(ParseNumError::TooPrecise));
        assert_eq!(
            "1".repeat(40).parse::<Price>(),
            Err(ParseNumError::Overflow)
        );
        // The range is symmetric: i64::MIN's text is refused, as before.
        assert_eq!(
            "-922337203685477.5808".parse::<Cash>(),
            Err(ParseNumError::Overflow)
        );
        assert_eq!(
            "-922337203685477.5807".parse::<Cash>().unwrap().raw(),
            -i64::MAX
        );
    }

    #[test]
    fn converts_decimals_exactly() {
        let d = |s: &str| Decimal::from_str_exact(s).unwrap();
        assert_eq!(Price::try_from(d("190.25")).unwrap().raw(), 1_902_500);
        assert_eq!(Price::try_from(d("190.2500000")).unwrap().raw(), 1_902_500);
        assert_eq!(
            Price::try_from(d("190.255")),
            Ok(Price::from_raw(1_902_550))
        );
        assert_eq!(
            Price::try_from(d("190.25501")),
            Err(ParseNumError::TooPrecise)
        );
        assert_eq!(
            Cash::try_from(d("79228162514264337593543950335")),
            Err(ParseNumError::Overflow)
        );
        assert_eq!(Qty::try_from(d("-3")), Err(ParseNumError::Negative));
        assert_eq!(Qty::try_from(d("3.5")), Ok(Qty::from_raw(3_500_000)));
        assert_eq!(Qty::try_from(d("3.000")), Ok(Qty::shares(3)));
    }

    /// The hand-written parser these types had before rust_decimal, kept as the oracle the
    /// new path must agree with, and as the baseline of the parse-cost measurement.
    mod reference {
        use super::super::{ParseNumError, SCALE};

        pub(super) fn parse_scaled(s: &str) -> Result<i64, ParseNumError> {
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
    }

    /// Time of 1M parses of typical order fields, old parser against rust_decimal's path:
    /// `cargo test -p bourse-core --release -- --ignored --nocapture parse_cost`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn parse_cost() {
        use std::hint::black_box;
        use std::time::Instant;
        const N: u32 = 1_000_000;
        let inputs = ["190.25", "10", "0.0001", "189.005", "1000", "42.5000"];
        for input in inputs {
            let t = Instant::now();
            for _ in 0..N {
                black_box(reference::parse_scaled(black_box(input)).ok());
            }
            let old = t.elapsed().as_secs_f64() * 1e9 / f64::from(N);
            let t = Instant::now();
            for _ in 0..N {
                black_box(black_box(input).parse::<Price>().ok());
            }
            let new = t.elapsed().as_secs_f64() * 1e9 / f64::from(N);
            println!("{input:>10}: old {old:6.1} ns/parse, rust_decimal {new:6.1} ns/parse");
        }
    }

    proptest! {
        /// Syntactically plausible text, including overlong integer and decimal parts: the
        /// same answer as the old parser, error kind included.
        #[test]
        fn agrees_with_the_old_parser(s in "-?[0-9]{0,32}(\\.[0-9]{0,34})?") {
            prop_assert_eq!(s.parse::<Price>().map(Price::raw), reference::parse_scaled(&s));
        }

        /// Anything else: accepted by one exactly when by the other, with the same value
        /// (the error kind may differ when text is both malformed and too long).
        #[test]
        fn accepts_what_the_old_parser_accepted(s in "[-+.0-9eE_ x]{0,24}") {
            prop_assert_eq!(s.parse::<Price>().map(Price::raw).ok(), reference::parse_scaled(&s).ok());
        }

        #[test]
        fn extra_decimals_are_refused(raw in any::<i64>(), extra in 1..10u8, zeros in 0..30usize) {
            prop_assume!(raw != i64::MIN);
            let shown = Price::from_raw(raw).to_string();
            let decimals = shown.len() - shown.find('.').unwrap_or(shown.len()) - 1;
            let pad = "0".repeat(DECIMALS as usize - decimals + zeros);
            let text = format!("{shown}{pad}{extra}");
            prop_assert_eq!(text.parse::<Price>(), Err(ParseNumError::TooPrecise), "{}", text);
        }

        /// A quantity is the same number as a price would be, with two more decimals.
        #[test]
        fn qty_reads_six_decimals(int in 0u64..1_000_000_000, frac in 0u64..1_000_000, extra in 1..10u8) {
            let text = format!("{int}.{frac:06}");
            prop_assert_eq!(text.parse::<Qty>(), Ok(Qty::from_raw(int * 1_000_000 + frac)));
            prop_assert_eq!(format!("{text}{extra}").parse::<Qty>(), Err(ParseNumError::TooPreciseQty));
        }

        #[test]
        fn huge_values_are_refused(int in "[1-9][0-9]{15,40}", frac in "(\\.[0-9]{0,6})?") {
            let text = format!("{int}{frac}");
            prop_assert_eq!(text.parse::<Price>(), Err(ParseNumError::Overflow));
        }

        #[test]
        fn display_parse_roundtrip(raw in any::<i64>()) {
            prop_assume!(raw != i64::MIN);
            let p = Price::from_raw(raw);
            prop_assert_eq!(p.to_string().parse::<Price>(), Ok(p));
        }

        #[test]
        fn qty_roundtrip(n in 0..=(i64::MAX / SCALE).unsigned_abs()) {
            prop_assert_eq!(Qty::from_raw(n).to_string().parse::<Qty>(), Ok(Qty::from_raw(n)));
        }
    }
}
