//! `bourse-calendar`: the trading calendar.
//!
//! Owns which [`Session`] the market is in at any instant — from a time zone, the day's session
//! times, the weekend days and a holiday list — the next regular open and close, the list of
//! trading days (`GET /v1/calendar`, in Alpaca's shape), and an optional compressed
//! [`VirtualClock`] for the demo.
//!
//! Pure: no I/O, and it never reads a clock itself; callers pass the time. Time zones come
//! from the tz database bundled into the binary, so every machine gives the same answers.
//!
//! Must never: depend on a bourse crate other than `bourse-core`, or do I/O.

mod calendar;
mod clock;
mod config;

pub use bourse_core::{Session, UnixNanos};
pub use calendar::{Calendar, TradingDay};
pub use clock::VirtualClock;
pub use config::{CalendarConfig, CalendarError, parse_date};
/// The civil date type the calendar's date ranges are given in.
pub use jiff::Span;
pub use jiff::civil::Date;

#[cfg(test)]
mod tests;
