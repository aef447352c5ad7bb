//! The compressed clock: calendar time that runs `speed` times faster than real time.

use bourse_core::UnixNanos;

use crate::CalendarError;

/// Fixed-point scale of the speed: parts per billion.
const PPB: i128 = 1_000_000_000;

/// Maps real time to calendar time: `calendar = cal_anchor + (real - real_anchor) × speed`.
///
/// The speed is held as an integer number of parts per billion (the configured `f64`
/// rounded to nearest), and both directions are exact integer arithmetic from there:
/// [`VirtualClock::to_calendar`] rounds down, [`VirtualClock::to_real`] rounds up, so
/// `to_calendar(to_real(c)) >= c` always and `to_real(to_calendar(r)) == r` whenever the
/// speed is at least 1. Results are clamped to the range of [`UnixNanos`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VirtualClock {
    real_anchor: UnixNanos,
    cal_anchor: UnixNanos,
    speed: f64,
    speed_ppb: i128,
}

impl VirtualClock {
    /// The identity: calendar time is real time.
    #[must_use]
    pub const fn identity() -> VirtualClock {
        VirtualClock {
            real_anchor: UnixNanos::ZERO,
            cal_anchor: UnixNanos::ZERO,
            speed: 1.0,
            speed_ppb: PPB,
        }
    }

    /// Calendar time `cal_anchor` at real time `real_anchor`, running `speed` times as fast.
    ///
    /// # Errors
    /// [`CalendarError::Speed`] unless `speed` is finite, greater than 0 (at least one part
    /// per billion) and at most 100000.
    pub fn new(
        real_anchor: UnixNanos,
        cal_anchor: UnixNanos,
        speed: f64,
    ) -> Result<VirtualClock, CalendarError> {
        if !(speed.is_finite() && speed > 0.0 && speed <= 100_000.0) {
            return Err(CalendarError::Speed(speed));
        }
        // In range: 0 < speed × 1e9 <= 1e14, so the cast is exact after rounding.
        #[expect(clippy::cast_possible_truncation, reason = "checked range above")]
        let speed_ppb = (speed * 1e9).round() as i128;
        if speed_ppb < 1 {
            return Err(CalendarError::Speed(speed));
        }
        Ok(VirtualClock {
            real_anchor,
            cal_anchor,
            speed,
            speed_ppb,
        })
    }

    /// The configured speed.
    #[must_use]
    pub const fn speed(&self) -> f64 {
        self.speed
    }

    /// The real instant the anchors pair up at.
    #[must_use]
    pub const fn real_anchor(&self) -> UnixNanos {
        self.real_anchor
    }

    /// The calendar instant at [`VirtualClock::real_anchor`].
    #[must_use]
    pub const fn cal_anchor(&self) -> UnixNanos {
        self.cal_anchor
    }

    /// Calendar time is real time.
    #[must_use]
    pub fn is_identity(&self) -> bool {
        self.speed_ppb == PPB && self.real_anchor == self.cal_anchor
    }

    /// The calendar time at real time `real` (rounded down to the nanosecond).
    #[must_use]
    pub fn to_calendar(&self, real: UnixNanos) -> UnixNanos {
        let delta = i128::from(real.get()) - i128::from(self.real_anchor.get());
        let scaled = (delta * self.speed_ppb).div_euclid(PPB);
        clamp(i128::from(self.cal_anchor.get()) + scaled)
    }

    /// The earliest real time whose calendar time is at least `cal` (for sleeping until a
    /// calendar instant).
    #[must_use]
    pub fn to_real(&self, cal: UnixNanos) -> UnixNanos {
        let delta = i128::from(cal.get()) - i128::from(self.cal_anchor.get());
        // Ceiling division by a positive divisor.
        let scaled = -((-delta * PPB).div_euclid(self.speed_ppb));
        clamp(i128::from(self.real_anchor.get()) + scaled)
    }
}

fn clamp(nanos: i128) -> UnixNanos {
    UnixNanos::new(u64::try_from(nanos.max(0)).unwrap_or(u64::MAX))
}
