//! The market's clock and calendar (Alpaca's `GET /v1/clock` and `GET /v1/calendar`), and
//! each stock's call auction (`GET /v1/stocks/{symbol}/auction`).
//!
//! The session shown is the engine's, as the released events last said (the server's clock
//! moves it with journaled commands); times and trading days come from the calendar, read
//! through its clock (compressed in the demo).

use axum::Json;
use bourse_calendar::{Date, TradingDay};
use bourse_core::{Qty, Session};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, Query};
use crate::state::{State, listed};
use crate::wire;

/// The market now.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Clock)]
pub(crate) struct ClockView {
    /// The calendar's time (RFC 3339 in the exchange's time zone; the demo's runs fast).
    timestamp: String,
    /// Regular hours: continuous trading or the closing call.
    is_open: bool,
    #[schema(value_type = wire::Session)]
    session: Session,
    /// The next regular open and close; null without a calendar (always open).
    next_open: Option<String>,
    next_close: Option<String>,
}

/// `GET /v1/clock`: whether the market is open, its session, and when it next opens and
/// closes.
#[utoipa::path(
    get,
    path = "/v1/clock",
    tag = "market",
    responses(
        (status = 200, description = "The market now.", body = ClockView),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn clock(axum::extract::State(s): State) -> Json<ClockView> {
    let session = s.0.feed.session();
    let real = crate::auth::now();
    let is_open = matches!(session, Session::Continuous | Session::ClosingCall);
    Json(match &s.0.calendar {
        Some(cal) => {
            let t = cal.now(real);
            ClockView {
                timestamp: cal.rfc3339(t),
                is_open,
                session,
                next_open: cal.next_open(t).map(|x| cal.rfc3339(x)),
                next_close: cal.next_close(t).map(|x| cal.rfc3339(x)),
            }
        }
        None => ClockView {
            timestamp: real.to_rfc3339(),
            is_open,
            session,
            next_open: None,
            next_close: None,
        },
    })
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct CalendarQuery {
    /// First day, `YYYY-MM-DD` (default: today in the exchange's time zone).
    start: Option<String>,
    /// Last day, `YYYY-MM-DD` (default: 30 days after `start`); at most 366 days after it.
    end: Option<String>,
}

/// The longest range one calendar request lists.
const MAX_CALENDAR_DAYS: i32 = 366;

/// One trading day: Alpaca's calendar entry.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CalendarDay)]
pub(crate) struct CalendarDayView {
    /// `YYYY-MM-DD`.
    date: String,
    /// Regular open and close, `HH:MM` local time.
    open: String,
    close: String,
    /// Pre-market start and after-hours end, `HHMM` local time (Alpaca's form).
    session_open: String,
    session_close: String,
}

impl From<TradingDay> for CalendarDayView {
    fn from(d: TradingDay) -> Self {
        CalendarDayView {
            date: d.date,
            open: d.open,
            close: d.close,
            session_open: d.session_open,
            session_close: d.session_close,
        }
    }
}

/// `GET /v1/calendar?start=&end=`: the trading days in a range (weekends and holidays left
/// out).
#[utoipa::path(
    get,
    path = "/v1/calendar",
    tag = "market",
    params(CalendarQuery),
    responses(
        (status = 200, description = "The trading days, oldest first.",
         body = Vec<CalendarDayView>),
        (status = 400, description = "MALFORMED_QUERY.", body = ErrorBody),
        (status = 404, description = "NO_CALENDAR: the exchange runs without one (always \
         open).", body = ErrorBody),
        (status = 422, description = "INVALID_DATE, INVALID_RANGE.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn calendar(
    axum::extract::State(s): State,
    Query(q): Query<CalendarQuery>,
) -> Result<Json<Vec<CalendarDayView>>, ApiError> {
    let Some(cal) = &s.0.calendar else {
        return Err(ApiError::not_found(
            "NO_CALENDAR",
            "the exchange runs without a trading calendar: it is always open",
        ));
    };
    let date = |text: &str| {
        bourse_calendar::parse_date(text).map_err(|_| {
            ApiError::unprocessable("INVALID_DATE", format!("{text:?} is not a YYYY-MM-DD date"))
        })
    };
    let start: Date = match &q.start {
        Some(t) => date(t)?,
        None => cal.date_at(cal.now(crate::auth::now())),
    };
    let end: Date = match &q.end {
        Some(t) => date(t)?,
        None => start.saturating_add(jiff_days(30)),
    };
    if end < start || start.saturating_add(jiff_days(MAX_CALENDAR_DAYS)) < end {
        return Err(ApiError::unprocessable(
            "INVALID_RANGE",
            format!("end must be on or after start and at most {MAX_CALENDAR_DAYS} days later"),
        ));
    }
    Ok(Json(
        cal.days(start, end)
            .into_iter()
            .map(CalendarDayView::from)
            .collect(),
    ))
}

fn jiff_days(n: i32) -> bourse_calendar::Span {
    bourse_calendar::Span::new().days(n)
}

/// A stock's call auction: while a call runs, where it would uncross now; after, where it
/// did.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Auction)]
pub(crate) struct AuctionView {
    #[schema(value_type = wire::Symbol)]
    symbol: String,
    /// The feed seq these figures are as of (the WebSocket `auction` channel's).
    seq: u64,
    /// `opening_call` or `closing_call`; null before the first call.
    #[schema(value_type = Option<wire::Session>)]
    session: Option<Session>,
    /// `indicative` (the call runs), `uncrossed` (the figures are final) or `none`.
    #[schema(pattern = "^(indicative|uncrossed|none)$")]
    state: &'static str,
    /// The (indicative) uncross price; null while nothing would trade.
    #[schema(value_type = Option<wire::Price>)]
    price: Option<bourse_core::Price>,
    /// Shares matched at `price`.
    #[schema(value_type = wire::Shares)]
    matched_qty: String,
    /// Shares left unmatched at `price`, on `imbalance_side`.
    #[schema(value_type = wire::Shares)]
    imbalance_qty: String,
    #[schema(value_type = Option<wire::Side>)]
    imbalance_side: Option<bourse_core::Side>,
    /// The last trade, else the previous close: the final tie-break's anchor.
    #[schema(value_type = Option<wire::Price>)]
    reference_price: Option<bourse_core::Price>,
}

/// `GET /v1/stocks/{symbol}/auction`: the indicative uncross during a call (price, matched
/// volume, imbalance), or the last uncross.
#[utoipa::path(
    get,
    path = "/v1/stocks/{symbol}/auction",
    tag = "market",
    params(("symbol" = String, Path, description = "The symbol (case-insensitive).",
            example = "AAPL")),
    responses(
        (status = 200, description = "The auction as of `seq`.", body = AuctionView),
        (status = 400, description = "MALFORMED_PATH.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_SYMBOL.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn auction(
    axum::extract::State(s): State,
    Path(symbol): Path<String>,
) -> Result<Json<AuctionView>, ApiError> {
    let sym = listed(&s, &symbol.to_ascii_uppercase())?;
    let view = s.0.feed.with_symbol(sym.as_str(), |st| {
        let a = st.auction;
        AuctionView {
            symbol: sym.as_str().to_owned(),
            seq: st.seq,
            session: a.map(|a| a.session),
            state: match a {
                Some(a) if a.uncrossed => "uncrossed",
                Some(_) => "indicative",
                None => "none",
            },
            price: a.and_then(|a| a.price),
            matched_qty: Qty::from_raw(a.map_or(0, |a| a.matched)).to_string(),
            imbalance_qty: Qty::from_raw(a.map_or(0, |a| a.imbalance)).to_string(),
            imbalance_side: a.and_then(|a| a.imbalance_side),
            reference_price: a.map(|a| a.reference),
        }
    });
    view.map(Json)
        .ok_or_else(|| ApiError::not_found("UNKNOWN_SYMBOL", "no such listed symbol"))
}
