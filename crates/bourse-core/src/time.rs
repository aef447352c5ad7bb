//! Time as the engine sees it: a number stamped into each command when it is sequenced.
//! Nothing below the gateway reads a clock, so a replay sees exactly the same times.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Nanoseconds since the Unix epoch (UTC).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixNanos(u64);

impl UnixNanos {
    pub const ZERO: UnixNanos = UnixNanos(0);

    #[inline]
    #[must_use]
    pub const fn new(nanos: u64) -> UnixNanos {
        UnixNanos(nanos)
    }

    #[inline]
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }

    /// Start of the minute containing this instant (for 1-minute candles).
    #[must_use]
    pub const fn floor_minute(self) -> UnixNanos {
        const MINUTE: u64 = 60_000_000_000;
        UnixNanos(self.0 - self.0 % MINUTE)
    }
}

impl fmt::Debug for UnixNanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnixNanos({})", self.0)
    }
}

impl fmt::Display for UnixNanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / 1_000_000_000;
        let nanos = self.0 % 1_000_000_000;
        write!(f, "{secs}.{nanos:09}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_minute_and_display() {
        let t = UnixNanos::new(61_500_000_000);
        assert_eq!(t.floor_minute(), UnixNanos::new(60_000_000_000));
        assert_eq!(t.to_string(), "61.500000000");
    }
}
