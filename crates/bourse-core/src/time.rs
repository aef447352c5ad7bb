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

impl UnixNanos {
    /// RFC 3339 in UTC with nanoseconds, e.g. `2026-11-21T14:30:05.123456789Z`.
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        let secs = self.0 / 1_000_000_000;
        let nanos = self.0 % 1_000_000_000;
        let days = secs / 86_400;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        )
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm,
/// unsigned form: timestamps here are never before 1970).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(
            UnixNanos::new(0).to_rfc3339(),
            "1970-01-01T00:00:00.000000000Z"
        );
        // 2026-11-21T14:30:05.5Z, 2000-02-29 (leap day), 2100-03-01 (no leap day before it).
        assert_eq!(
            UnixNanos::new(1_795_271_405_500_000_000).to_rfc3339(),
            "2026-11-21T14:30:05.500000000Z"
        );
        assert_eq!(
            UnixNanos::new(951_782_400_000_000_000).to_rfc3339(),
            "2000-02-29T00:00:00.000000000Z"
        );
        assert_eq!(
            UnixNanos::new(4_107_542_400_000_000_000).to_rfc3339(),
            "2100-03-01T00:00:00.000000000Z"
        );
    }

    #[test]
    fn floor_minute_and_display() {
        let t = UnixNanos::new(61_500_000_000);
        assert_eq!(t.floor_minute(), UnixNanos::new(60_000_000_000));
        assert_eq!(t.to_string(), "61.500000000");
    }
}
