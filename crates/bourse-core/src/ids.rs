//! Newtype identifiers. No bare integer or string crosses a crate boundary as an id.
//!
//! The string ids (`Symbol`, `ClientOrderId`, `WatchlistName`) are stored inline and are `Copy`, so commands
//! that carry them never allocate and hash in a few instructions.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! int_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(u64);

        impl $name {
            #[inline]
            #[must_use]
            pub const fn new(v: u64) -> Self {
                Self(v)
            }

            #[inline]
            #[must_use]
            pub const fn get(self) -> u64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }
    };
}

int_id!(
    /// Exchange-assigned order id, unique for the life of the exchange.
    OrderId
);
int_id!(
    /// A cash account (one per user or broker sub-account).
    AccountId
);
int_id!(
    /// Exchange-assigned trade (execution) id.
    TradeId
);

/// Why a string id was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("id is empty")]
    Empty,
    #[error("id is longer than {0} bytes")]
    TooLong(usize),
    #[error("id has a character outside the allowed set")]
    InvalidChar,
}

/// Inline ASCII string of at most `N` bytes. Equality and hashing see only the used bytes
/// (the tail is always zero), so `Hash` and `Eq` agree.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct InlineStr<const N: usize> {
    len: u8,
    bytes: [u8; N],
}

impl<const N: usize> InlineStr<N> {
    fn new(s: &str, allowed: impl Fn(u8) -> bool) -> Result<Self, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if s.len() > N {
            return Err(IdError::TooLong(N));
        }
        if !s.bytes().all(allowed) {
            return Err(IdError::InvalidChar);
        }
        let mut bytes = [0u8; N];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        let len = u8::try_from(s.len()).map_err(|_| IdError::TooLong(N))?;
        Ok(Self { len, bytes })
    }

    fn as_str(&self) -> &str {
        // Only ASCII is ever stored, so this cannot fail; fall back rather than panic.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

macro_rules! str_id {
    ($(#[$doc:meta])* $name:ident, $n:expr, $allowed:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(InlineStr<$n>);

        impl $name {
            /// Longest accepted id, in bytes.
            pub const MAX_LEN: usize = $n;

            /// Validates and stores `s`.
            pub fn new(s: &str) -> Result<Self, IdError> {
                InlineStr::new(s, $allowed).map(Self)
            }

            #[must_use]
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::new(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

str_id!(
    /// A listed instrument's ticker: 1–8 characters of `A-Z`, `0-9` and `.` (e.g. `BRK.B`).
    Symbol,
    8,
    |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'.'
);

str_id!(
    /// The client's own id for an order, unique per account among live and recent orders:
    /// 1–48 printable ASCII characters, no spaces.
    ClientOrderId,
    48,
    |b: u8| b.is_ascii_graphic()
);

/// A watchlist's name as its owner typed it: 1–48 bytes of UTF-8, no control characters, not
/// blank and without spaces at either end. Inline and `Copy` like the other string ids, so the
/// events that carry it stay fixed-size.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WatchlistName(InlineStr<48>);

impl WatchlistName {
    /// Longest accepted name, in bytes.
    pub const MAX_LEN: usize = 48;

    /// Validates and stores `s`.
    pub fn new(s: &str) -> Result<Self, IdError> {
        if s.trim().is_empty() {
            return Err(IdError::Empty);
        }
        if s.trim() != s || s.chars().any(char::is_control) {
            return Err(IdError::InvalidChar);
        }
        // Every byte of a `str` without control characters is allowed; the checks above
        // are on whole characters.
        InlineStr::new(s, |_| true).map(Self)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for WatchlistName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Debug for WatchlistName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WatchlistName({:?})", self.as_str())
    }
}

impl Serialize for WatchlistName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for WatchlistName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_validation() {
        assert_eq!(Symbol::new("AAPL").unwrap().as_str(), "AAPL");
        assert_eq!(Symbol::new("BRK.B").unwrap().to_string(), "BRK.B");
        assert_eq!(Symbol::new(""), Err(IdError::Empty));
        assert_eq!(Symbol::new("aapl"), Err(IdError::InvalidChar));
        assert_eq!(Symbol::new("TOOLONGSYM"), Err(IdError::TooLong(8)));
    }

    #[test]
    fn client_order_id_validation_and_eq() {
        let a = ClientOrderId::new("my-order-1").unwrap();
        assert_eq!(a, ClientOrderId::new("my-order-1").unwrap());
        assert_ne!(a, ClientOrderId::new("my-order-10").unwrap());
        assert_eq!(ClientOrderId::new("has space"), Err(IdError::InvalidChar));
        assert_eq!(
            ClientOrderId::new(&"x".repeat(49)),
            Err(IdError::TooLong(48))
        );
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"my-order-1\"");
        assert!(serde_json::from_str::<ClientOrderId>("\"\"").is_err());
    }

    #[test]
    fn watchlist_name_validation() {
        let n = WatchlistName::new("Tech & chips ✓").unwrap();
        assert_eq!(n.as_str(), "Tech & chips ✓");
        assert_eq!(WatchlistName::new("   "), Err(IdError::Empty));
        assert_eq!(WatchlistName::new(" padded"), Err(IdError::InvalidChar));
        assert_eq!(WatchlistName::new("tab\there"), Err(IdError::InvalidChar));
        assert_eq!(
            WatchlistName::new(&"é".repeat(25)),
            Err(IdError::TooLong(48))
        );
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(serde_json::from_str::<WatchlistName>(&json).unwrap(), n);
        let bytes = crate::codec::encode(&n).unwrap();
        assert_eq!(crate::codec::decode::<WatchlistName>(&bytes).unwrap(), n);
    }
}
