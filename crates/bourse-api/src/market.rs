//! The listed stocks (`GET /v1/stocks`, `/v1/stocks/{symbol}`) with their quotes, and
//! market-data snapshots over REST, stamped with the feed's per-symbol `seq` so a client
//! can join them with the WebSocket stream: `GET /v1/stocks/{symbol}/book?depth=`,
//! `/trades?limit=`, `/candles?interval=&limit=`.

use axum::Json;
use bourse_core::{Cash, Price, Qty, Symbol};
use bourse_feed::{Candle, Print, SymbolState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::extract::{Path, Query};
use crate::state::{AppState, State, listed};
use crate::wire;

/// Last price, best bid and ask, and the day so far.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Quote)]
pub(crate) struct QuoteView {
    /// The feed seq this quote is as of.
    pub(crate) seq: u64,
    /// `trading` or `halted`.
    #[schema(pattern = "^(trading|halted)$")]
    pub(crate) status: &'static str,
    #[schema(value_type = Option<wire::Price>)]
    pub(crate) last: Option<String>,
    #[schema(value_type = Option<wire::Price>)]
    pub(crate) bid: Option<String>,
    #[schema(value_type = Option<wire::Shares>)]
    pub(crate) bid_size: Option<String>,
    #[schema(value_type = Option<wire::Price>)]
    pub(crate) ask: Option<String>,
    #[schema(value_type = Option<wire::Shares>)]
    pub(crate) ask_size: Option<String>,
    #[schema(value_type = Option<wire::Price>)]
    pub(crate) open: Option<String>,
    #[schema(value_type = Option<wire::Price>)]
    pub(crate) high: Option<String>,
    #[schema(value_type = Option<wire::Price>)]
    pub(crate) low: Option<String>,
    /// Shares traded today.
    #[schema(value_type = wire::Shares)]
    pub(crate) volume: String,
    /// Trades today.
    pub(crate) trades: u64,
    /// The previous day's last price (the listing's reference price before the first day
    /// ends).
    #[schema(value_type = wire::Price)]
    pub(crate) prev_close: String,
    /// Last (or the previous close, without trades today) minus the previous close.
    #[schema(value_type = wire::Price)]
    pub(crate) change: String,
    #[schema(value_type = wire::Percent)]
    pub(crate) change_pct: String,
    #[schema(value_type = Option<wire::Timestamp>)]
    pub(crate) last_trade_at: Option<String>,
}

fn s<T: std::fmt::Display>(v: Option<T>) -> Option<String> {
    v.map(|v| v.to_string())
}

/// The quote of one symbol's market data.
pub(crate) fn quote(st: &SymbolState) -> QuoteView {
    let (change, change_pct) = bourse_feed::msg::change(st);
    let bid = st.book.best_bid();
    let ask = st.book.best_ask();
    QuoteView {
        seq: st.seq,
        status: st.status.as_str(),
        last: s(st.day.last),
        bid: s(bid.map(|b| b.0)),
        bid_size: s(bid.map(|b| Qty::from_raw(b.1.qty))),
        ask: s(ask.map(|a| a.0)),
        ask_size: s(ask.map(|a| Qty::from_raw(a.1.qty))),
        open: s(st.day.open),
        high: s(st.day.high),
        low: s(st.day.low),
        volume: Qty::from_raw(st.day.volume).to_string(),
        trades: st.day.trades,
        prev_close: st.day.prev_close.to_string(),
        change: change.to_string(),
        change_pct,
        last_trade_at: st.day.last_trade_at.map(|t| t.to_rfc3339()),
    }
}

fn known(s: &AppState, symbol: &str) -> Result<String, ApiError> {
    let sym = symbol.to_ascii_uppercase();
    if s.0.feed.with_symbol(&sym, |_| ()).is_some() {
        Ok(sym)
    } else {
        Err(ApiError::not_found(
            "UNKNOWN_SYMBOL",
            "no such listed symbol",
        ))
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DepthQuery {
    /// Levels per side, best first: 1 to 1,000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    depth: Option<usize>,
}

/// The L2 book: `[price, shares, orders]` per level, best first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Book)]
pub(crate) struct BookView {
    #[schema(value_type = wire::Symbol)]
    symbol: String,
    /// The feed seq of the last update the book includes: WebSocket `book` updates with a
    /// higher seq apply on top of it.
    seq: u64,
    #[schema(pattern = "^(trading|halted)$")]
    status: &'static str,
    /// Best (highest) first.
    #[schema(value_type = Vec<Vec<String>>, example = json!([["190.10", "300", "2"]]))]
    bids: Vec<[String; 3]>,
    /// Best (lowest) first.
    #[schema(value_type = Vec<Vec<String>>, example = json!([["190.20", "100", "1"]]))]
    asks: Vec<[String; 3]>,
}

/// `GET /v1/stocks/{symbol}/book?depth=`: the aggregated book.
#[utoipa::path(
    get,
    path = "/v1/stocks/{symbol}/book",
    tag = "market",
    params(("symbol" = String, Path, description = "The symbol (case-insensitive).",
            example = "AAPL"), DepthQuery),
    responses(
        (status = 200, description = "The book as of `seq`.", body = BookView),
        (status = 400, description = "MALFORMED_PATH, MALFORMED_QUERY.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_SYMBOL.", body = ErrorBody),
        (status = 422, description = "INVALID_DEPTH.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn book(
    axum::extract::State(s): State,
    Path(symbol): Path<String>,
    Query(q): Query<DepthQuery>,
) -> Result<Json<BookView>, ApiError> {
    let depth = q.depth.unwrap_or(50);
    if !(1..=1_000).contains(&depth) {
        return Err(ApiError::unprocessable(
            "INVALID_DEPTH",
            "depth is 1 to 1000",
        ));
    }
    let sym = known(&s, &symbol)?;
    let level = |(p, l): (bourse_core::Price, bourse_feed::Level)| {
        [
            p.to_string(),
            Qty::from_raw(l.qty).to_string(),
            l.orders.to_string(),
        ]
    };
    let view = s.0.feed.with_symbol(&sym, |st| BookView {
        symbol: sym.clone(),
        seq: st.seq,
        status: st.status.as_str(),
        bids: st.book.bids_best_first().take(depth).map(level).collect(),
        asks: st.book.asks_best_first().take(depth).map(level).collect(),
    });
    view.map(Json)
        .ok_or_else(|| ApiError::not_found("UNKNOWN_SYMBOL", "no such listed symbol"))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct LimitQuery {
    /// How many, newest first for trades: 1 to 1,000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// One trade print.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TradePrint)]
pub(crate) struct TradeView {
    #[schema(value_type = wire::TradeId)]
    trade_id: String,
    #[schema(value_type = wire::Price)]
    price: String,
    #[schema(value_type = wire::Shares)]
    qty: String,
    /// The side that took liquidity.
    #[schema(value_type = wire::Side)]
    side: bourse_core::Side,
    #[schema(value_type = wire::Timestamp)]
    ts: String,
    /// The feed seq of the update the trade came with.
    seq: u64,
}

/// The latest trades.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Trades)]
pub(crate) struct TradesView {
    #[schema(value_type = wire::Symbol)]
    symbol: String,
    seq: u64,
    /// Newest first.
    trades: Vec<TradeView>,
}

fn trade(t: &Print) -> TradeView {
    TradeView {
        trade_id: t.trade_id.get().to_string(),
        price: t.price.to_string(),
        qty: Qty::from_raw(t.qty).to_string(),
        side: t.aggressor,
        ts: t.ts.to_rfc3339(),
        seq: t.seq,
    }
}

fn limit(q: &LimitQuery) -> Result<usize, ApiError> {
    let n = q.limit.unwrap_or(100);
    if (1..=1_000).contains(&n) {
        Ok(n)
    } else {
        Err(ApiError::unprocessable(
            "INVALID_LIMIT",
            "limit is 1 to 1000",
        ))
    }
}

/// `GET /v1/stocks/{symbol}/trades?limit=`: the tape, newest first (the last 1,000 are kept).
#[utoipa::path(
    get,
    path = "/v1/stocks/{symbol}/trades",
    tag = "market",
    params(("symbol" = String, Path, description = "The symbol (case-insensitive).",
            example = "AAPL"), LimitQuery),
    responses(
        (status = 200, description = "The latest trades as of `seq`.", body = TradesView),
        (status = 400, description = "MALFORMED_PATH, MALFORMED_QUERY.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_SYMBOL.", body = ErrorBody),
        (status = 422, description = "INVALID_LIMIT.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn trades(
    axum::extract::State(s): State,
    Path(symbol): Path<String>,
    Query(q): Query<LimitQuery>,
) -> Result<Json<TradesView>, ApiError> {
    let n = limit(&q)?;
    let sym = known(&s, &symbol)?;
    s.0.feed
        .with_symbol(&sym, |st| TradesView {
            symbol: sym.clone(),
            seq: st.seq,
            trades: st.tape.iter().rev().take(n).map(trade).collect(),
        })
        .map(Json)
        .ok_or_else(|| ApiError::not_found("UNKNOWN_SYMBOL", "no such listed symbol"))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct CandleQuery {
    /// `1m`, `5m`, `15m`, `1h` or `1d` (default `1m`).
    #[param(pattern = "^(1m|5m|15m|1h|1d)$")]
    interval: Option<String>,
    /// How many bars, the newest last: 1 to 1,000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// One OHLCV bar.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Candle)]
pub(crate) struct CandleView {
    #[schema(value_type = wire::Timestamp)]
    start: String,
    #[schema(value_type = wire::Price)]
    open: String,
    #[schema(value_type = wire::Price)]
    high: String,
    #[schema(value_type = wire::Price)]
    low: String,
    #[schema(value_type = wire::Price)]
    close: String,
    #[schema(value_type = wire::Shares)]
    volume: String,
    trades: u32,
}

/// Bars of one interval.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Candles)]
pub(crate) struct CandlesView {
    #[schema(value_type = wire::Symbol)]
    symbol: String,
    seq: u64,
    #[schema(pattern = "^(1m|5m|15m|1h|1d)$")]
    interval: String,
    /// Oldest first; minutes without trades have no bar.
    candles: Vec<CandleView>,
}

fn candle(c: &Candle) -> CandleView {
    CandleView {
        start: c.start.to_rfc3339(),
        open: c.open.to_string(),
        high: c.high.to_string(),
        low: c.low.to_string(),
        close: c.close.to_string(),
        volume: Qty::from_raw(c.volume).to_string(),
        trades: c.trades,
    }
}

/// `GET /v1/stocks/{symbol}/candles?interval=1m&limit=`: OHLCV bars built from the last
/// day of 1-minute bars.
#[utoipa::path(
    get,
    path = "/v1/stocks/{symbol}/candles",
    tag = "market",
    params(("symbol" = String, Path, description = "The symbol (case-insensitive).",
            example = "AAPL"), CandleQuery),
    responses(
        (status = 200, description = "The bars as of `seq`.", body = CandlesView),
        (status = 400, description = "MALFORMED_PATH, MALFORMED_QUERY.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_SYMBOL.", body = ErrorBody),
        (status = 422, description = "INVALID_INTERVAL, INVALID_LIMIT.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn candles(
    axum::extract::State(s): State,
    Path(symbol): Path<String>,
    Query(q): Query<CandleQuery>,
) -> Result<Json<CandlesView>, ApiError> {
    let interval = q.interval.unwrap_or_else(|| "1m".into());
    let mins = match interval.as_str() {
        "1m" => 1,
        "5m" => 5,
        "15m" => 15,
        "1h" => 60,
        "1d" => 1_440,
        _ => {
            return Err(ApiError::unprocessable(
                "INVALID_INTERVAL",
                "interval is 1m, 5m, 15m, 1h or 1d",
            ));
        }
    };
    let n = limit(&LimitQuery { limit: q.limit })?;
    let sym = known(&s, &symbol)?;
    s.0.feed
        .with_symbol(&sym, |st| CandlesView {
            symbol: sym.clone(),
            seq: st.seq,
            interval: interval.clone(),
            candles: st.candles(mins, n).iter().map(candle).collect(),
        })
        .map(Json)
        .ok_or_else(|| ApiError::not_found("UNKNOWN_SYMBOL", "no such listed symbol"))
}

/// `?q=&page=&size=` of the stock list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StockQuery {
    /// Text to find in the symbol or the name (case-insensitive), at most 64 characters.
    #[param(max_length = 64)]
    q: Option<String>,
    /// 1-based page number (0 reads as 1).
    #[param(minimum = 0)]
    page: Option<usize>,
    /// Stocks per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    size: Option<usize>,
}

/// A listed stock's profile.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Stock)]
pub(crate) struct StockView {
    #[schema(value_type = wire::Symbol)]
    symbol: Symbol,
    name: String,
    /// The price increment.
    #[schema(value_type = wire::Price)]
    tick: Price,
    /// The quantity increment.
    #[schema(value_type = wire::Shares)]
    lot: String,
    /// The largest single order.
    #[schema(value_type = wire::Shares)]
    max_qty: String,
    /// Fractions of a share (to 0.000001) and notional orders are accepted (Alpaca's
    /// field).
    fractionable: bool,
    /// Last price, best bid/ask and the day so far.
    quote: Option<QuoteView>,
    /// The company (from the exchange's data file; absent for a stock it has none for).
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<ProfileView>,
}

/// A company's profile.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CompanyProfile)]
pub(crate) struct ProfileView {
    description: String,
    sector: String,
    industry: String,
    employees: u64,
    website: String,
    #[schema(value_type = wire::Shares)]
    shares_outstanding: String,
    /// Shares outstanding × the last price (the previous close before any trade today).
    #[schema(value_type = Option<wire::Cash>)]
    market_cap: Option<Cash>,
    /// What the data is (e.g. that it is sample data, not reported figures).
    note: String,
}

/// `GET /v1/stocks/{symbol}/financials`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Financials)]
pub(crate) struct FinancialsView {
    #[schema(value_type = wire::Symbol)]
    symbol: Symbol,
    /// Always `USD`.
    currency: &'static str,
    /// Newest first.
    quarters: Vec<crate::companies::QuarterView>,
    note: String,
}

/// A page of the stock list.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StockPage)]
pub(crate) struct StockPageView {
    items: Vec<StockView>,
    page: usize,
    size: usize,
    /// Stocks matching in all.
    total: usize,
}

fn stock_json(s: &AppState, l: &crate::orders::Listing) -> StockView {
    // The quote and the market cap's price from one look at the symbol's state.
    let (quote, price) =
        s.0.feed
            .with_symbol(l.symbol.as_str(), |st| {
                (quote(st), st.day.last.unwrap_or(st.day.prev_close))
            })
            .unzip();
    let profile = s.0.companies.get(l.symbol).map(|c| ProfileView {
        description: c.description.clone(),
        sector: l.sector.clone(),
        industry: c.industry.clone(),
        employees: c.employees,
        website: c.website.clone(),
        shares_outstanding: c.shares_outstanding.to_string(),
        market_cap: price.and_then(|p| crate::companies::market_cap(c.shares_outstanding, p)),
        note: s.0.companies.note().to_owned(),
    });
    StockView {
        profile,
        quote,
        symbol: l.symbol,
        name: l.name.clone(),
        tick: l.tick,
        lot: l.lot.to_string(),
        max_qty: l.max_qty.to_string(),
        fractionable: l.fractional,
    }
}

/// `GET /v1/stocks?q=&page=&size=`: the listed stocks, searched by symbol or name.
#[utoipa::path(
    get,
    path = "/v1/stocks",
    tag = "market",
    params(StockQuery),
    responses(
        (status = 200, description = "Exact symbol first, then symbol prefix, then the rest in \
         symbol order.", body = StockPageView),
        (status = 400, description = "MALFORMED_QUERY.",
         body = ErrorBody),
        (status = 422, description = "INVALID_PAGE_SIZE, INVALID_QUERY.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn stocks(
    axum::extract::State(s): State,
    Query(q): Query<StockQuery>,
) -> Result<Json<StockPageView>, ApiError> {
    let size = q.size.unwrap_or(20);
    if !(1..=100).contains(&size) {
        return Err(ApiError::unprocessable(
            "INVALID_PAGE_SIZE",
            "size is 1 to 100",
        ));
    }
    let page = q.page.unwrap_or(1).max(1);
    let needle = q.q.as_deref().unwrap_or("").trim().to_ascii_lowercase();
    if needle.len() > 64 {
        return Err(ApiError::unprocessable(
            "INVALID_QUERY",
            "the search text is at most 64 characters",
        ));
    }
    let hits: Vec<&crate::orders::Listing> =
        s.0.listings
            .all()
            .iter()
            .filter(|l| {
                needle.is_empty()
                    || l.symbol.as_str().to_ascii_lowercase().contains(&needle)
                    || l.name.to_ascii_lowercase().contains(&needle)
            })
            .collect();
    // Exact symbol first, then symbol prefix, then the rest in symbol order.
    let mut hits = hits;
    hits.sort_by_key(|l| {
        let sym = l.symbol.as_str().to_ascii_lowercase();
        (sym != needle, !sym.starts_with(&needle), l.symbol)
    });
    let total = hits.len();
    let items: Vec<StockView> = hits
        .into_iter()
        .skip((page - 1).saturating_mul(size))
        .take(size)
        .map(|l| stock_json(&s, l))
        .collect();
    Ok(Json(StockPageView {
        items,
        page,
        size,
        total,
    }))
}

/// `GET /v1/stocks/{symbol}`: one stock's profile.
#[utoipa::path(
    get,
    path = "/v1/stocks/{symbol}",
    tag = "market",
    params(("symbol" = String, Path, description = "The symbol (case-insensitive).",
            example = "AAPL")),
    responses(
        (status = 200, description = "The stock.", body = StockView),
        (status = 400, description = "MALFORMED_PATH.",
         body = ErrorBody),
        (status = 404, description = "UNKNOWN_SYMBOL.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn stock(
    axum::extract::State(s): State,
    Path(symbol): Path<String>,
) -> Result<Json<StockView>, ApiError> {
    let sym = listed(&s, &symbol.to_ascii_uppercase())?;
    let l =
        s.0.listings
            .get(sym)
            .ok_or_else(|| ApiError::not_found("UNKNOWN_SYMBOL", "no such listed symbol"))?;
    Ok(Json(stock_json(&s, l)))
}

/// `GET /v1/stocks/{symbol}/financials`: a few quarters of key figures.
#[utoipa::path(
    get,
    path = "/v1/stocks/{symbol}/financials",
    tag = "market",
    params(("symbol" = String, Path, description = "The symbol (case-insensitive).",
            example = "AAPL")),
    responses(
        (status = 200, description = "Revenue, net income and earnings per share by quarter, \
         newest first (the exchange's data file: see `note`).", body = FinancialsView),
        (status = 400, description = "MALFORMED_PATH.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_SYMBOL, NO_FINANCIALS (a listed stock the data \
         file has no figures for).", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn financials(
    axum::extract::State(s): State,
    Path(symbol): Path<String>,
) -> Result<Json<FinancialsView>, ApiError> {
    let sym = listed(&s, &symbol.to_ascii_uppercase())?;
    let c =
        s.0.companies
            .get(sym)
            .filter(|c| !c.quarters.is_empty())
            .ok_or_else(|| {
                ApiError::not_found("NO_FINANCIALS", "no financial figures for this stock")
            })?;
    Ok(Json(FinancialsView {
        symbol: sym,
        currency: "USD",
        quarters: c.quarters.clone(),
        note: s.0.companies.note().to_owned(),
    }))
}
