//! One symbol's market data, derived only from the engine's released events: the L2 book
//! (aggregate quantity and order count per price level), the trade tape, the day's ticker
//! and 1-minute candles.
//!
//! Pure and deterministic: the same events give the same state and the same `seq`s, so a
//! restart that replays the journal picks up exactly where the feed left off.
//!
//! How events move the book (the engine's own rules, see `bourse-book`):
//! - `OrderRested` adds the order's quantity (and one order) at its level;
//! - a maker's `OrderFilled` takes `last_qty` off the level at `last_px` (and the order
//!   when `leaves_qty` reaches zero);
//! - `OrderCanceled` with a `resting_price` takes the order off that level;
//! - `OrderReplaced` with priority kept shrinks the order in place; otherwise the order left
//!   `old_price` (with `old_qty`) and re-enters as an arrival (fills, then maybe a rest);
//! - `OrderParked` (a regular-hours order stepping off at the close) leaves its level;
//! - in a call auction the book may cross and nothing trades until the uncross, whose fills
//!   are at one price that need not be the resting orders' own: fills move no level then,
//!   and `AuctionUncrossed` clears the book, which the `OrderRested` events after it rebuild.
//!   While a call runs, the indicative price, matched volume and imbalance are worked out
//!   from the levels after every update that moves them (the `auction` channel).

use std::collections::{BTreeMap, VecDeque};

use bourse_book::auction::{CallOrder, discover};
use bourse_core::{Event, Liquidity, Price, Qty, Session, Side, Symbol, TradeId, UnixNanos};
use serde::{Deserialize, Serialize};

/// Aggregate of one price level.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Level {
    pub qty: u64,
    pub orders: u32,
}

/// The L2 book: price → level, per side.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Book {
    pub bids: BTreeMap<Price, Level>,
    pub asks: BTreeMap<Price, Level>,
}

impl Book {
    fn side_mut(&mut self, side: Side) -> &mut BTreeMap<Price, Level> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// The level at `price` on `side` (zero when there is none).
    #[must_use]
    pub fn level(&self, side: Side, price: Price) -> Level {
        let m = match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        };
        m.get(&price).copied().unwrap_or_default()
    }

    fn add(&mut self, side: Side, price: Price, qty: u64, orders: u32) {
        let l = self.side_mut(side).entry(price).or_default();
        l.qty = l.qty.saturating_add(qty);
        l.orders = l.orders.saturating_add(orders);
    }

    fn remove(&mut self, side: Side, price: Price, qty: u64, orders: u32) {
        let m = self.side_mut(side);
        if let Some(l) = m.get_mut(&price) {
            l.qty = l.qty.saturating_sub(qty);
            l.orders = l.orders.saturating_sub(orders);
            if l.qty == 0 || l.orders == 0 {
                m.remove(&price);
            }
        }
    }

    /// Best bid: highest buy price.
    #[must_use]
    pub fn best_bid(&self) -> Option<(Price, Level)> {
        self.bids.iter().next_back().map(|(p, l)| (*p, *l))
    }

    /// Best ask: lowest sell price.
    #[must_use]
    pub fn best_ask(&self) -> Option<(Price, Level)> {
        self.asks.iter().next().map(|(p, l)| (*p, *l))
    }

    /// Bids best first.
    pub fn bids_best_first(&self) -> impl Iterator<Item = (Price, Level)> + '_ {
        self.bids.iter().rev().map(|(p, l)| (*p, *l))
    }

    /// Asks best first.
    pub fn asks_best_first(&self) -> impl Iterator<Item = (Price, Level)> + '_ {
        self.asks.iter().map(|(p, l)| (*p, *l))
    }
}

/// One print on the tape.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Print {
    pub trade_id: TradeId,
    pub price: Price,
    pub qty: u64,
    /// The side that took liquidity.
    pub aggressor: Side,
    pub ts: UnixNanos,
    /// The market-data seq of the update the trade came with.
    pub seq: u64,
}

/// A 1-minute OHLCV bar.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Candle {
    pub start: UnixNanos,
    pub open: Price,
    pub high: Price,
    pub low: Price,
    pub close: Price,
    pub volume: u64,
    pub trades: u32,
}

impl Candle {
    fn new(start: UnixNanos, p: Price, qty: u64) -> Candle {
        Candle {
            start,
            open: p,
            high: p,
            low: p,
            close: p,
            volume: qty,
            trades: 1,
        }
    }

    fn add(&mut self, p: Price, qty: u64) {
        self.high = self.high.max(p);
        self.low = self.low.min(p);
        self.close = p;
        self.volume = self.volume.saturating_add(qty);
        self.trades = self.trades.saturating_add(1);
    }

    /// Merges the next bar of a coarser interval into this one.
    pub fn merge(&mut self, next: &Candle) {
        self.high = self.high.max(next.high);
        self.low = self.low.min(next.low);
        self.close = next.close;
        self.volume = self.volume.saturating_add(next.volume);
        self.trades = self.trades.saturating_add(next.trades);
    }
}

/// The trading day so far.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Day {
    pub open: Option<Price>,
    pub high: Option<Price>,
    pub low: Option<Price>,
    pub last: Option<Price>,
    pub volume: u64,
    pub trades: u64,
    /// The previous day's last price (the instrument's reference price before any).
    pub prev_close: Price,
    pub last_trade_at: Option<UnixNanos>,
}

/// A call auction as the `auction` channel shows it: while the call runs, where it would
/// uncross now; after the uncross, where it did.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AuctionState {
    /// The call: `opening_call` or `closing_call`.
    pub session: Session,
    /// The uncross has happened (the figures are final).
    pub uncrossed: bool,
    /// The (indicative) uncross price; `None` while nothing would trade.
    pub price: Option<Price>,
    /// Shares that would trade (or traded) at `price`.
    pub matched: u64,
    /// Shares left unmatched at `price`, and on which side.
    pub imbalance: u64,
    pub imbalance_side: Option<Side>,
    /// The price the last tie-break is nearest to (the last trade, else the previous close).
    pub reference: Price,
}

/// Whether the symbol is trading.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Status {
    Trading,
    Halted,
}

impl Status {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Trading => "trading",
            Status::Halted => "halted",
        }
    }
}

/// What one command changed in one symbol: the market-data update that carries the next
/// `seq`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Update {
    pub seq: u64,
    pub ts: UnixNanos,
    /// Levels whose aggregate changed, with their new value (zero: the level is gone).
    pub levels: Vec<(Side, Price, Level)>,
    pub trades: Vec<Print>,
    /// The ticker moved (a trade, a new best bid/ask, or a new day).
    pub ticker: bool,
    /// The current candle moved (a trade).
    pub candle: bool,
    /// The status changed to this.
    pub status: Option<Status>,
    /// The auction figures changed (see [`SymbolState::auction`]).
    pub auction: bool,
}

/// Limits on the history kept per symbol.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    /// Prints kept for `GET /trades`.
    pub trades: usize,
    /// 1-minute candles kept (1,440 = a day).
    pub candles: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            trades: 1_000,
            candles: 1_440,
        }
    }
}

/// One symbol's market data.
/// Serializable between commands (an edge's image of the core's feed, see [`crate::image`]):
/// the retention is the reader's own and nothing is pending then.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SymbolState {
    pub symbol: Symbol,
    /// Seq of the last update (0: none yet).
    pub seq: u64,
    /// Engine time of the last update.
    pub ts: UnixNanos,
    pub book: Book,
    pub tape: VecDeque<Print>,
    pub candles: VecDeque<Candle>,
    pub day: Day,
    pub status: Status,
    /// A call auction is running for this symbol (its book may cross).
    #[serde(default)]
    pub call: bool,
    /// The current call's indicative figures, or the last uncross's.
    #[serde(default)]
    pub auction: Option<AuctionState>,
    #[serde(skip)]
    retention: Retention,
    #[serde(skip)]
    pending: Pending,
}

#[derive(Clone, Debug, Default)]
struct Pending {
    levels: Vec<(Side, Price)>,
    trades: Vec<Print>,
    ticker: bool,
    candle: bool,
    status: Option<Status>,
    /// The auction figures changed.
    auction: bool,
    ts: UnixNanos,
    /// Best bid and ask when the command began (the ticker moves if they change).
    top: Option<(Option<Price>, Option<Price>)>,
}

impl SymbolState {
    #[must_use]
    pub fn new(symbol: Symbol, reference_price: Price, retention: Retention) -> SymbolState {
        SymbolState {
            symbol,
            seq: 0,
            ts: UnixNanos::new(0),
            book: Book::default(),
            tape: VecDeque::new(),
            candles: VecDeque::new(),
            day: Day {
                open: None,
                high: None,
                low: None,
                last: None,
                volume: 0,
                trades: 0,
                prev_close: reference_price,
                last_trade_at: None,
            },
            status: Status::Trading,
            call: false,
            auction: None,
            retention,
            pending: Pending::default(),
        }
    }

    /// Keeps `retention` from now on, trimming what is kept beyond it.
    pub(crate) fn set_retention(&mut self, retention: Retention) {
        self.retention = retention;
        while self.tape.len() > retention.trades {
            self.tape.pop_front();
        }
        while self.candles.len() > retention.candles {
            self.candles.pop_front();
        }
    }

    /// The same market data (book, tape, candles, day, status, seq): what an image must
    /// carry over exactly.
    #[must_use]
    pub fn same_data(&self, other: &SymbolState) -> bool {
        self.symbol == other.symbol
            && self.seq == other.seq
            && self.ts == other.ts
            && self.book == other.book
            && self.tape == other.tape
            && self.candles == other.candles
            && self.day == other.day
            && self.status == other.status
            && self.call == other.call
            && self.auction == other.auction
    }

    fn touch_level(&mut self, side: Side, price: Price) {
        if self.pending.top.is_none() {
            self.pending.top = Some(self.top());
        }
        if !self.pending.levels.contains(&(side, price)) {
            self.pending.levels.push((side, price));
        }
    }

    fn top(&self) -> (Option<Price>, Option<Price>) {
        (
            self.book.best_bid().map(|b| b.0),
            self.book.best_ask().map(|a| a.0),
        )
    }

    /// Applies one of a command's events (events of other symbols are the caller's to
    /// route). Returns whether it was market data for this symbol.
    pub fn apply(&mut self, ts: UnixNanos, event: &Event) -> bool {
        self.pending.ts = ts;
        match *event {
            Event::OrderRested {
                side, price, qty, ..
            } => {
                self.touch_level(side, price);
                self.book.add(side, price, qty.raw(), 1);
            }
            // An uncross's fills: the book is rebuilt after it (see the module's notes).
            Event::OrderFilled { .. } if self.call => {}
            Event::OrderFilled {
                side,
                last_px,
                last_qty,
                leaves_qty,
                liquidity: Liquidity::Maker,
                ..
            } => {
                self.touch_level(side, last_px);
                let gone = u32::from(leaves_qty.is_zero());
                self.book.remove(side, last_px, last_qty.raw(), gone);
            }
            Event::OrderCanceled {
                side,
                qty,
                resting_price: Some(price),
                ..
            }
            | Event::OrderParked {
                side,
                qty,
                resting_price: Some(price),
                ..
            } => {
                self.touch_level(side, price);
                self.book.remove(side, price, qty.raw(), 1);
            }
            Event::OrderReplaced {
                side,
                old_price: Some(old_price),
                old_qty,
                qty,
                priority_kept,
                ..
            } => {
                self.touch_level(side, old_price);
                if priority_kept {
                    let shrink = old_qty.raw().saturating_sub(qty.raw());
                    self.book.remove(side, old_price, shrink, 0);
                } else {
                    self.book.remove(side, old_price, old_qty.raw(), 1);
                }
            }
            Event::Trade {
                trade_id,
                price,
                qty,
                aggressor,
                ..
            } => self.trade(ts, trade_id, price, qty.raw(), aggressor),
            Event::SessionChanged { session } if session.is_call() => {
                self.call = true;
                self.auction = Some(AuctionState {
                    session,
                    uncrossed: false,
                    price: None,
                    matched: 0,
                    imbalance: 0,
                    imbalance_side: None,
                    reference: self.reference(),
                });
                self.pending.auction = true;
                self.pending.ticker = true;
            }
            Event::AuctionUncrossed {
                session,
                price,
                volume,
                imbalance,
                imbalance_side,
                ..
            } => {
                let levels: Vec<(Side, Price)> = (self.book.bids.keys().map(|p| (Side::Buy, *p)))
                    .chain(self.book.asks.keys().map(|p| (Side::Sell, *p)))
                    .collect();
                for (side, price) in levels {
                    self.touch_level(side, price);
                }
                self.book = Book::default();
                self.call = false;
                // The reference the uncross was decided with: the call's, from before the
                // uncross's own trades moved the last price.
                let reference = self
                    .auction
                    .filter(|a| !a.uncrossed)
                    .map_or_else(|| self.reference(), |a| a.reference);
                self.auction = Some(AuctionState {
                    session,
                    uncrossed: true,
                    price,
                    matched: volume.raw(),
                    imbalance: imbalance.raw(),
                    imbalance_side,
                    reference,
                });
                self.pending.auction = true;
            }
            Event::SymbolHalted { .. } => self.set_status(Status::Halted),
            Event::SymbolResumed { .. } => self.set_status(Status::Trading),
            Event::DayEnded { .. } => {
                self.day.prev_close = self.day.last.unwrap_or(self.day.prev_close);
                self.day.open = None;
                self.day.high = None;
                self.day.low = None;
                self.day.volume = 0;
                self.day.trades = 0;
                self.pending.ticker = true;
            }
            _ => return false,
        }
        true
    }

    /// The last trade, else the previous close: an auction's reference price.
    fn reference(&self) -> Price {
        self.day.last.unwrap_or(self.day.prev_close)
    }

    /// While a call runs: the uncross the levels give now, kept (and marked for the
    /// `auction` channel) when it differs from the last one shown.
    fn indicate(&mut self) {
        if !self.call {
            return;
        }
        let Some(current) = self.auction.filter(|a| !a.uncrossed) else {
            return;
        };
        let orders: Vec<CallOrder> = (self.book.bids.iter().map(|(p, l)| (Side::Buy, p, l)))
            .chain(self.book.asks.iter().map(|(p, l)| (Side::Sell, p, l)))
            .map(|(side, p, l)| CallOrder {
                side,
                limit: Some(*p),
                qty: Qty::from_raw(l.qty),
            })
            .collect();
        let reference = self.reference();
        let next = match discover(&orders, reference) {
            Some(u) => AuctionState {
                price: Some(u.price),
                matched: u.volume.raw(),
                imbalance: u64::try_from(u.imbalance.unsigned_abs()).unwrap_or(u64::MAX),
                imbalance_side: match u.imbalance.signum() {
                    1 => Some(Side::Buy),
                    -1 => Some(Side::Sell),
                    _ => None,
                },
                reference,
                ..current
            },
            None => AuctionState {
                price: None,
                matched: 0,
                imbalance: 0,
                imbalance_side: None,
                reference,
                ..current
            },
        };
        if next != current {
            self.auction = Some(next);
            self.pending.auction = true;
        }
    }

    fn set_status(&mut self, s: Status) {
        if self.status != s {
            self.status = s;
            self.pending.status = Some(s);
            self.pending.ticker = true;
        }
    }

    fn trade(&mut self, ts: UnixNanos, trade_id: TradeId, price: Price, qty: u64, side: Side) {
        let d = &mut self.day;
        d.open.get_or_insert(price);
        d.high = Some(d.high.map_or(price, |h| h.max(price)));
        d.low = Some(d.low.map_or(price, |l| l.min(price)));
        d.last = Some(price);
        d.volume = d.volume.saturating_add(qty);
        d.trades += 1;
        d.last_trade_at = Some(ts);
        let start = ts.floor_minute();
        match self.candles.back_mut() {
            Some(c) if c.start == start => c.add(price, qty),
            // The engine's clock never runs backwards, so a bar is never reopened.
            _ => {
                self.candles.push_back(Candle::new(start, price, qty));
                if self.candles.len() > self.retention.candles {
                    self.candles.pop_front();
                }
            }
        }
        self.pending.trades.push(Print {
            trade_id,
            price,
            qty,
            aggressor: side,
            ts,
            seq: 0,
        });
        self.pending.ticker = true;
        self.pending.candle = true;
    }

    /// Ends the command: its changes become the next update, if there were any.
    pub fn finish(&mut self) -> Option<Update> {
        if !self.pending.levels.is_empty() {
            self.indicate();
        }
        let p = &mut self.pending;
        if p.levels.is_empty()
            && p.trades.is_empty()
            && !p.ticker
            && p.status.is_none()
            && !p.auction
        {
            p.top = None;
            return None;
        }
        let top_before = p.top.take();
        let ts = p.ts;
        let mut levels = std::mem::take(&mut p.levels);
        let mut trades = std::mem::take(&mut p.trades);
        let mut ticker = std::mem::take(&mut p.ticker);
        let candle = std::mem::take(&mut p.candle);
        let status = p.status.take();
        let auction = std::mem::take(&mut p.auction);
        if let Some(before) = top_before {
            ticker |= before != self.top();
        }
        self.seq += 1;
        self.ts = ts;
        let seq = self.seq;
        for t in &mut trades {
            t.seq = seq;
            self.tape.push_back(*t);
        }
        while self.tape.len() > self.retention.trades {
            self.tape.pop_front();
        }
        // Bids then asks, each best first: a stable order for the same changes.
        levels.sort_by(|a, b| match (a.0, b.0) {
            (Side::Buy, Side::Sell) => std::cmp::Ordering::Less,
            (Side::Sell, Side::Buy) => std::cmp::Ordering::Greater,
            (Side::Buy, Side::Buy) => b.1.cmp(&a.1),
            (Side::Sell, Side::Sell) => a.1.cmp(&b.1),
        });
        let levels = levels
            .into_iter()
            .map(|(side, price)| (side, price, self.book.level(side, price)))
            .collect();
        Some(Update {
            seq,
            ts,
            levels,
            trades,
            ticker,
            candle,
            status,
            auction,
        })
    }

    /// The candles of `interval_mins` (1, 5, 15, 60 or 1440) ending with the newest, at
    /// most `limit`, oldest first, built from the 1-minute bars.
    #[must_use]
    pub fn candles(&self, interval_mins: u64, limit: usize) -> Vec<Candle> {
        let width = interval_mins.max(1) * 60_000_000_000;
        let mut out: Vec<Candle> = Vec::new();
        for c in &self.candles {
            let start = UnixNanos::new(c.start.get() - c.start.get() % width);
            match out.last_mut() {
                Some(last) if last.start == start => last.merge(c),
                _ => out.push(Candle { start, ..*c }),
            }
        }
        let skip = out.len().saturating_sub(limit);
        out.split_off(skip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bourse_core::{AccountId, CancelReason, Cash, OrderId, Qty};

    fn sym() -> Symbol {
        Symbol::new("AAPL").expect("symbol")
    }

    fn px(s: &str) -> Price {
        s.parse().expect("price")
    }

    fn rest(side: Side, price: &str, qty: u64, id: u64) -> Event {
        Event::OrderRested {
            order_id: OrderId::new(id),
            symbol: sym(),
            side,
            price: px(price),
            qty: Qty::from_raw(qty),
        }
    }

    #[test]
    fn rests_fills_cancels_and_replaces_move_levels_and_seq() {
        let mut s = SymbolState::new(sym(), px("100"), Retention::default());
        let t = UnixNanos::new(120_000_000_000);
        s.apply(t, &rest(Side::Buy, "99.00", 10, 1));
        s.apply(t, &rest(Side::Buy, "99.00", 5, 2));
        let u = s.finish().expect("update");
        assert_eq!(u.seq, 1);
        assert!(u.ticker, "a new best bid moves the ticker");
        assert_eq!(
            u.levels,
            vec![(Side::Buy, px("99.00"), Level { qty: 15, orders: 2 })]
        );
        // A sell takes 12: order 1 fully, order 2 partly.
        let fill = |id: u64, qty: u64, leaves: u64| Event::OrderFilled {
            order_id: OrderId::new(id),
            account: AccountId::new(1),
            symbol: sym(),
            side: Side::Buy,
            trade_id: TradeId::new(id),
            last_px: px("99.00"),
            last_qty: Qty::from_raw(qty),
            cum_qty: Qty::from_raw(qty),
            leaves_qty: Qty::from_raw(leaves),
            cum_notional: Cash::ZERO,
            liquidity: Liquidity::Maker,
            fee: Cash::ZERO,
            value: px("99.00").notional(Qty::from_raw(qty)).unwrap(),
        };
        let trade = |id: u64, qty: u64| Event::Trade {
            symbol: sym(),
            trade_id: TradeId::new(id),
            price: px("99.00"),
            qty: Qty::from_raw(qty),
            aggressor: Side::Sell,
            maker_order: OrderId::new(id),
            taker_order: OrderId::new(9),
        };
        let t2 = UnixNanos::new(130_000_000_000);
        for e in [trade(1, 10), fill(1, 10, 0), trade(2, 2), fill(2, 2, 3)] {
            s.apply(t2, &e);
        }
        let u = s.finish().expect("update");
        assert_eq!(u.seq, 2);
        assert_eq!(u.trades.len(), 2);
        assert_eq!(u.levels[0].2, Level { qty: 3, orders: 1 });
        assert_eq!(s.day.volume, 12);
        assert_eq!(s.candles.len(), 1);
        // Replace in place to 1, then cancel: the level disappears.
        s.apply(
            t2,
            &Event::OrderReplaced {
                order_id: OrderId::new(2),
                account: AccountId::new(1),
                symbol: sym(),
                side: Side::Buy,
                old_price: Some(px("99.00")),
                old_qty: Qty::from_raw(3),
                price: Some(px("99.00")),
                qty: Qty::from_raw(1),
                priority_kept: true,
            },
        );
        assert_eq!(
            s.finish().expect("u").levels[0].2,
            Level { qty: 1, orders: 1 }
        );
        s.apply(
            t2,
            &Event::OrderCanceled {
                order_id: OrderId::new(2),
                account: AccountId::new(1),
                symbol: sym(),
                side: Side::Buy,
                qty: Qty::from_raw(1),
                resting_price: Some(px("99.00")),
                reason: CancelReason::Requested,
            },
        );
        let u = s.finish().expect("update");
        assert_eq!(u.seq, 4);
        assert_eq!(u.levels[0].2, Level::default());
        assert!(s.book.bids.is_empty());
        // Nothing public: no update, no seq.
        assert!(s.finish().is_none());
        assert_eq!(s.seq, 4);
    }

    #[test]
    fn candles_roll_up() {
        let mut s = SymbolState::new(sym(), px("100"), Retention::default());
        for (i, p) in ["10", "12", "9", "11", "13", "8"].iter().enumerate() {
            let t = UnixNanos::new(60_000_000_000 * (i as u64 * 2));
            s.trade(t, TradeId::new(i as u64), px(p), 1, Side::Buy);
        }
        let five = s.candles(5, 10);
        assert_eq!(five.len(), 3);
        assert_eq!(five[0].open, px("10"));
        assert_eq!(five[0].high, px("12"));
        assert_eq!(five[0].low, px("9"));
        assert_eq!(five[0].close, px("9"));
        assert_eq!(five[0].volume, 3);
        assert_eq!(s.candles(1, 2).len(), 2);
    }
}
