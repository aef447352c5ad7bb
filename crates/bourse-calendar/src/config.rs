//! The `[calendar]` configuration and its validation errors.

use jiff::civil::{Date, Time, Weekday};
use serde::Deserialize;

/// The `[calendar]` section of the server's configuration. Times are local wall times
/// (`HH:MM`, 24-hour) in [`CalendarConfig::time_zone`].
#[derive(Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarConfig {
    /// Off (the default): no calendar, the market is always continuous. [`Calendar::new`]
    /// does not read it; [`CalendarConfig::build`] does.
    ///
    /// [`Calendar::new`]: crate::Calendar::new
    pub enabled: bool,
    /// An IANA time zone name, default `America/New_York`.
    pub time_zone: String,
    /// When pre-market trading starts, default `04:00`.
    pub pre_market: String,
    /// When the opening call starts, default `09:25`.
    pub opening_call: String,
    /// The regular open (the opening uncross; continuous trading starts), default `09:30`.
    pub open: String,
    /// When the closing call starts, default `15:50`.
    pub closing_call: String,
    /// The regular close (the closing uncross; after-hours starts), default `16:00`.
    pub close: String,
    /// When after-hours trading ends and the market closes, default `20:00`.
    pub after_hours_end: String,
    /// Weekday names with no session, default `["saturday", "sunday"]`.
    pub weekend: Vec<String>,
    /// Dates (`YYYY-MM-DD`) with no session at all: closed the whole day.
    pub holidays: Vec<String>,
    /// How many times faster than real time the calendar runs, default 1. Up to 100000.
    pub speed: f64,
    /// With it (or with a speed other than 1), calendar time starts at this local wall time
    /// (`HH:MM`) on the first trading day at which that instant is not yet past when the
    /// server starts. Empty (the default): calendar time starts at the real time.
    pub start_at: String,
}

impl Default for CalendarConfig {
    fn default() -> CalendarConfig {
        CalendarConfig {
            enabled: false,
            time_zone: "America/New_York".to_owned(),
            pre_market: "04:00".to_owned(),
            opening_call: "09:25".to_owned(),
            open: "09:30".to_owned(),
            closing_call: "15:50".to_owned(),
            close: "16:00".to_owned(),
            after_hours_end: "20:00".to_owned(),
            weekend: vec!["saturday".to_owned(), "sunday".to_owned()],
            holidays: Vec::new(),
            speed: 1.0,
            start_at: String::new(),
        }
    }
}

impl CalendarConfig {
    /// The session-time keys in the order a day reaches them.
    pub(crate) const TIME_KEYS: [&'static str; 6] = [
        "pre_market",
        "opening_call",
        "open",
        "closing_call",
        "close",
        "after_hours_end",
    ];

    /// The session times in [`CalendarConfig::TIME_KEYS`] order.
    pub(crate) fn time_values(&self) -> [&str; 6] {
        [
            &self.pre_market,
            &self.opening_call,
            &self.open,
            &self.closing_call,
            &self.close,
            &self.after_hours_end,
        ]
    }

    /// `None` when the calendar is disabled (nothing else is checked then), otherwise
    /// [`Calendar::new`](crate::Calendar::new).
    ///
    /// # Errors
    /// As [`Calendar::new`](crate::Calendar::new).
    pub fn build(
        &self,
        now: bourse_core::UnixNanos,
    ) -> Result<Option<crate::Calendar>, CalendarError> {
        if self.enabled {
            crate::Calendar::new(self, now).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// Why a calendar configuration (or a date argument) was refused. Each message names the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CalendarError {
    /// `time_zone` is not in the tz database.
    #[error("calendar.time_zone: {0:?} is not a known IANA time zone")]
    TimeZone(String),
    /// A session time or `start_at` is not `HH:MM`.
    #[error("calendar.{key}: {value:?} is not HH:MM")]
    Time {
        /// The config key.
        key: &'static str,
        /// What it held.
        value: String,
    },
    /// The session times are not strictly increasing.
    #[error("calendar.{later} ({later_value}) must be after calendar.{earlier} ({earlier_value})")]
    Order {
        /// The earlier key.
        earlier: &'static str,
        /// Its value.
        earlier_value: String,
        /// The key that should be later.
        later: &'static str,
        /// Its value.
        later_value: String,
    },
    /// A `weekend` entry is not a weekday name.
    #[error("calendar.weekend: {0:?} is not a weekday name (monday, tuesday, ..., sunday)")]
    Weekday(String),
    /// Every day of the week is a weekend day.
    #[error("calendar.weekend: every day of the week is a weekend day; no day would trade")]
    NoTradingWeekday,
    /// A `holidays` entry is not a date.
    #[error("calendar.holidays: {0:?} is not a YYYY-MM-DD date")]
    Holiday(String),
    /// `speed` is out of range.
    #[error("calendar.speed: {0} must be a number greater than 0 and at most 100000")]
    Speed(f64),
    /// No trading day to anchor `start_at` on within the search window.
    #[error("calendar.start_at: no trading day within {0} days to start on")]
    NoTradingDay(u32),
    /// A date argument (such as a query's `start` or `end`) is not a date.
    #[error("{0:?} is not a YYYY-MM-DD date")]
    Date(String),
}

/// A `YYYY-MM-DD` date, as the calendar endpoint's `start` and `end` take it.
///
/// # Errors
/// [`CalendarError::Date`] when it is anything else.
pub fn parse_date(s: &str) -> Result<Date, CalendarError> {
    parse_iso_date(s).ok_or_else(|| CalendarError::Date(s.to_owned()))
}

/// Exactly `YYYY-MM-DD` (jiff's parser would also take other ISO 8601 forms).
pub(crate) fn parse_iso_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if shape { s.parse().ok() } else { None }
}

/// Exactly `HH:MM`, 00:00 to 23:59.
pub(crate) fn parse_hhmm(key: &'static str, s: &str) -> Result<Time, CalendarError> {
    let err = || CalendarError::Time {
        key,
        value: s.to_owned(),
    };
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' || ![0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit()) {
        return Err(err());
    }
    let digit = |i: usize| i8::try_from(b[i] - b'0').unwrap_or(i8::MAX);
    let (hour, minute) = (digit(0) * 10 + digit(1), digit(3) * 10 + digit(4));
    Time::new(hour, minute, 0, 0).map_err(|_| err())
}

/// A weekday's English name, any ASCII case.
pub(crate) fn parse_weekday(s: &str) -> Result<Weekday, CalendarError> {
    const NAMES: [(&str, Weekday); 7] = [
        ("monday", Weekday::Monday),
        ("tuesday", Weekday::Tuesday),
        ("wednesday", Weekday::Wednesday),
        ("thursday", Weekday::Thursday),
        ("friday", Weekday::Friday),
        ("saturday", Weekday::Saturday),
        ("sunday", Weekday::Sunday),
    ];
    NAMES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
        .map(|&(_, day)| day)
        .ok_or_else(|| CalendarError::Weekday(s.to_owned()))
}
