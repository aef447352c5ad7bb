//! Sessions, transitions, opens and closes, and the list of trading days.

use std::collections::BTreeSet;

use bourse_core::{Session, UnixNanos};
use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::config::{CalendarConfig, parse_hhmm, parse_iso_date, parse_weekday};
use crate::{CalendarError, VirtualClock};

/// How far ahead the calendar looks for a trading day before giving up.
const SCAN_DAYS: u32 = 400;
/// The most days [`Calendar::days`] walks.
const MAX_DAYS: u32 = 1000;
/// The session each configured time starts, in [`CalendarConfig::TIME_KEYS`] order.
const STARTS: [Session; 6] = [
    Session::PreMarket,
    Session::OpeningCall,
    Session::Continuous,
    Session::ClosingCall,
    Session::AfterHours,
    Session::Closed,
];
/// Indexes into the day's times.
const OPEN: usize = 2;
const CLOSE: usize = 4;

/// One trading day as `GET /v1/calendar` lists it (Alpaca's v2 `/calendar` shape).
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct TradingDay {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// The regular open, `HH:MM` local.
    pub open: String,
    /// The regular close, `HH:MM` local.
    pub close: String,
    /// When pre-market starts, `HHMM` local.
    pub session_open: String,
    /// When after-hours ends, `HHMM` local.
    pub session_close: String,
}

/// A validated trading calendar. Every method takes calendar time (see
/// [`Calendar::now`]); DST is the tz database's, and a local time that is skipped or
/// repeated on a DST day resolves as jiff's "compatible" rule does (later for a gap,
/// earlier for a fold).
#[derive(Clone, Debug)]
pub struct Calendar {
    tz: TimeZone,
    times: [Time; 6],
    /// Indexed by Monday-zero weekday offset.
    weekend: [bool; 7],
    holidays: BTreeSet<Date>,
    clock: VirtualClock,
}

impl Calendar {
    /// Validates `cfg` and builds the calendar; `now` (real time) anchors the compressed
    /// clock when `speed` is not 1 or `start_at` is set. Does not look at `cfg.enabled`.
    ///
    /// # Errors
    /// A [`CalendarError`] naming the first bad key.
    pub fn new(cfg: &CalendarConfig, now: UnixNanos) -> Result<Calendar, CalendarError> {
        let tz = TimeZone::get(&cfg.time_zone)
            .map_err(|_| CalendarError::TimeZone(cfg.time_zone.clone()))?;
        let keys = CalendarConfig::TIME_KEYS;
        let values = cfg.time_values();
        let mut times = [Time::midnight(); 6];
        for (i, (key, value)) in keys.into_iter().zip(values).enumerate() {
            times[i] = parse_hhmm(key, value)?;
            if i > 0 && times[i] <= times[i - 1] {
                return Err(CalendarError::Order {
                    earlier: keys[i - 1],
                    earlier_value: values[i - 1].to_owned(),
                    later: key,
                    later_value: value.to_owned(),
                });
            }
        }
        let mut weekend = [false; 7];
        for name in &cfg.weekend {
            weekend[weekday_index(parse_weekday(name)?)] = true;
        }
        if weekend.iter().all(|&w| w) {
            return Err(CalendarError::NoTradingWeekday);
        }
        let holidays = cfg
            .holidays
            .iter()
            .map(|s| parse_iso_date(s).ok_or_else(|| CalendarError::Holiday(s.clone())))
            .collect::<Result<BTreeSet<_>, _>>()?;
        let start_at = match cfg.start_at.as_str() {
            "" => None,
            s => Some(parse_hhmm("start_at", s)?),
        };
        let mut calendar = Calendar {
            tz,
            times,
            weekend,
            holidays,
            clock: VirtualClock::identity(),
        };
        // Without start_at, calendar time starts at the real time (and runs at `speed`).
        let anchor = match start_at {
            None => now,
            Some(at) => calendar
                .first_on_or_after(now, at)
                .ok_or(CalendarError::NoTradingDay(SCAN_DAYS))?,
        };
        calendar.clock = VirtualClock::new(now, anchor, cfg.speed)?;
        Ok(calendar)
    }

    /// The compressed clock that maps real time to calendar time.
    #[must_use]
    pub const fn clock(&self) -> &VirtualClock {
        &self.clock
    }

    /// Calendar time at real time `real_now`.
    #[must_use]
    pub fn now(&self, real_now: UnixNanos) -> UnixNanos {
        self.clock.to_calendar(real_now)
    }

    /// Not a weekend day and not a holiday.
    #[must_use]
    pub fn is_trading_day(&self, date: Date) -> bool {
        !self.weekend[weekday_index(date.weekday())] && !self.holidays.contains(&date)
    }

    /// The session at calendar instant `t`.
    #[must_use]
    pub fn session_at(&self, t: UnixNanos) -> Session {
        let ts = to_ts(t);
        let date = self.tz.to_datetime(ts).date();
        // A day's last times may land on the next local date (a DST gap late in the day),
        // so yesterday's transitions are looked at too. Ties go to the later one.
        let mut latest: Option<(Timestamp, Session)> = None;
        for day in [date.yesterday().ok(), Some(date)].into_iter().flatten() {
            for (at, session) in self.transitions(day).into_iter().flatten() {
                if at <= ts && latest.is_none_or(|(best, _)| at >= best) {
                    latest = Some((at, session));
                }
            }
        }
        latest.map_or(Session::Closed, |(_, session)| session)
    }

    /// The first instant strictly after `t` at which the session differs from
    /// [`Calendar::session_at`]`(t)`, and the session it becomes. `None` only when no trading
    /// day lies within 400 days.
    #[must_use]
    pub fn next_transition(&self, t: UnixNanos) -> Option<(UnixNanos, Session)> {
        let current = self.session_at(t);
        let ts = to_ts(t);
        let start = self.tz.to_datetime(ts).date();
        Self::scan_from(start.yesterday().unwrap_or(start))
            .take(SCAN_DAYS as usize + 2)
            .filter_map(|day| self.transitions(day))
            .flat_map(|transitions| {
                // In order even when a DST gap pushes one time past a later one.
                let mut instants = transitions.map(|(at, _)| at);
                instants.sort_unstable();
                instants
            })
            .filter(|&at| at > ts)
            .map(from_ts)
            .map(|at| (at, self.session_at(at)))
            .find(|&(_, session)| session != current)
    }

    /// The next regular open strictly after `t` (Alpaca's clock `next_open`).
    #[must_use]
    pub fn next_open(&self, t: UnixNanos) -> Option<UnixNanos> {
        self.first_after(t, OPEN)
    }

    /// The next regular close strictly after `t` (Alpaca's clock `next_close`).
    #[must_use]
    pub fn next_close(&self, t: UnixNanos) -> Option<UnixNanos> {
        self.first_after(t, CLOSE)
    }

    /// Regular hours: continuous trading or the closing call (Alpaca's clock `is_open`).
    #[must_use]
    pub fn is_open(&self, t: UnixNanos) -> bool {
        matches!(
            self.session_at(t),
            Session::Continuous | Session::ClosingCall
        )
    }

    /// The trading days from `start` to `end`, both included, walking at most 1000 days.
    #[must_use]
    pub fn days(&self, start: Date, end: Date) -> Vec<TradingDay> {
        let [pre, _, open, _, close, post] = self.times;
        Self::scan_from(start)
            .take(MAX_DAYS as usize)
            .take_while(|&day| day <= end)
            .filter(|&day| self.is_trading_day(day))
            .map(|day| TradingDay {
                date: day.to_string(),
                open: hhmm(open, ":"),
                close: hhmm(close, ":"),
                session_open: hhmm(pre, ""),
                session_close: hhmm(post, ""),
            })
            .collect()
    }

    /// The instant in the calendar's zone with its offset, e.g. `2026-12-07T09:30:00-05:00`,
    /// with fractional seconds only when there are any (as Alpaca's clock writes them).
    #[must_use]
    pub fn rfc3339(&self, t: UnixNanos) -> String {
        to_ts(t)
            .to_zoned(self.tz.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%.f%:z")
            .to_string()
    }

    /// The local date of calendar instant `t`.
    #[must_use]
    pub fn date_at(&self, t: UnixNanos) -> Date {
        self.tz.to_datetime(to_ts(t)).date()
    }

    /// Dates from `start` on, one a day (callers bound it).
    fn scan_from(start: Date) -> impl Iterator<Item = Date> {
        std::iter::successors(Some(start), |day| day.tomorrow().ok())
    }

    /// A trading day's six transitions, in order; `None` on a non-trading day.
    fn transitions(&self, day: Date) -> Option<[(Timestamp, Session); 6]> {
        if !self.is_trading_day(day) {
            return None;
        }
        let mut out = [(Timestamp::UNIX_EPOCH, Session::Closed); 6];
        for (slot, (time, session)) in out.iter_mut().zip(self.times.into_iter().zip(STARTS)) {
            *slot = (self.tz.to_timestamp(day.to_datetime(time)).ok()?, session);
        }
        Some(out)
    }

    /// The first trading day's `times[index]` strictly after `t`.
    fn first_after(&self, t: UnixNanos, index: usize) -> Option<UnixNanos> {
        let ts = to_ts(t);
        let date = self.tz.to_datetime(ts).date();
        let at = Self::scan_from(date.yesterday().unwrap_or(date))
            .take(SCAN_DAYS as usize)
            .filter_map(|day| self.transitions(day))
            .map(|transitions| transitions[index].0)
            .find(|&at| at > ts)?;
        Some(from_ts(at))
    }

    /// `time` on the first trading day, from `t`'s local date on, where it is not before `t`.
    fn first_on_or_after(&self, t: UnixNanos, time: Time) -> Option<UnixNanos> {
        let ts = to_ts(t);
        Self::scan_from(self.tz.to_datetime(ts).date())
            .take(SCAN_DAYS as usize)
            .filter(|&day| self.is_trading_day(day))
            .filter_map(|day| self.tz.to_timestamp(day.to_datetime(time)).ok())
            .find(|&at| at >= ts)
            .map(from_ts)
    }
}

fn weekday_index(day: jiff::civil::Weekday) -> usize {
    usize::from(day.to_monday_zero_offset().unsigned_abs())
}

fn hhmm(time: Time, sep: &str) -> String {
    format!("{:02}{sep}{:02}", time.hour(), time.minute())
}

/// Every `UnixNanos` (up to the year 2554) is a valid jiff timestamp.
fn to_ts(t: UnixNanos) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(t.get())).unwrap_or(Timestamp::MAX)
}

/// Clamped to the range of `UnixNanos`.
fn from_ts(ts: Timestamp) -> UnixNanos {
    UnixNanos::new(u64::try_from(ts.as_nanosecond().max(0)).unwrap_or(u64::MAX))
}
