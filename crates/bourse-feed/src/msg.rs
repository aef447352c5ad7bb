//! The JSON of market-data messages, written once per message and shared by every
//! subscriber. Numbers are strings (exact decimals), times RFC 3339 with nanoseconds; every
//! message names its `type`, `symbol` and `seq`. See `docs/PROTOCOL.md`.

use std::fmt::Write as _;

use bourse_core::{Price, Qty, Side};

use crate::state::{Candle, Level, Print, SymbolState, Update};

/// Appends `"key":"value",` pieces without serde's intermediate values (this runs once per
/// message on the feed thread; the output is checked against serde in the tests).
struct Json(String);

impl Json {
    fn new(kind: &str, symbol: &str, seq: u64) -> Json {
        let mut s = String::with_capacity(160);
        // Symbols are validated ASCII [A-Z0-9.-]: no escaping is ever needed.
        let _ = write!(s, r#"{{"type":"{kind}","symbol":"{symbol}","seq":{seq}"#);
        Json(s)
    }

    fn str(&mut self, key: &str, v: impl std::fmt::Display) -> &mut Self {
        let _ = write!(self.0, r#","{key}":"{v}""#);
        self
    }

    fn opt(&mut self, key: &str, v: Option<impl std::fmt::Display>) -> &mut Self {
        match v {
            Some(v) => self.str(key, v),
            None => {
                let _ = write!(self.0, r#","{key}":null"#);
                self
            }
        }
    }

    fn raw(&mut self, key: &str, v: impl std::fmt::Display) -> &mut Self {
        let _ = write!(self.0, r#","{key}":{v}"#);
        self
    }

    fn levels<'a>(&mut self, key: &str, it: impl Iterator<Item = (Price, Level)> + 'a) {
        let _ = write!(self.0, r#","{key}":["#);
        let mut first = true;
        for (p, l) in it {
            if !first {
                self.0.push(',');
            }
            first = false;
            let _ = write!(
                self.0,
                r#"["{p}","{}","{}"]"#,
                Qty::from_raw(l.qty),
                l.orders
            );
        }
        self.0.push(']');
    }

    fn done(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

fn side(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

/// `book_snapshot`: the whole book (or its best `depth` levels per side) at `seq`.
#[must_use]
pub fn book_snapshot(s: &SymbolState, depth: usize) -> String {
    let mut j = Json::new("book_snapshot", s.symbol.as_str(), s.seq);
    j.str("status", s.status.as_str());
    j.levels("bids", s.book.bids_best_first().take(depth));
    j.levels("asks", s.book.asks_best_first().take(depth));
    j.done()
}

/// `book`: the levels one update changed, with their new totals (`"0"`: the level is gone).
#[must_use]
pub fn book_update(s: &SymbolState, u: &Update) -> String {
    let mut j = Json::new("book", s.symbol.as_str(), u.seq);
    j.str("ts", u.ts.to_rfc3339());
    if let Some(st) = u.status {
        j.str("status", st.as_str());
    }
    let pick = |want: Side| {
        u.levels
            .iter()
            .filter(move |(s, _, _)| *s == want)
            .map(|(_, p, l)| (*p, *l))
    };
    j.levels("bids", pick(Side::Buy));
    j.levels("asks", pick(Side::Sell));
    j.done()
}

/// `auction`: a call's indicative uncross (`"state":"indicative"`) or its result
/// (`"uncrossed"`); `price` is null while nothing would trade.
#[must_use]
pub fn auction(s: &SymbolState) -> String {
    let mut j = Json::new("auction", s.symbol.as_str(), s.seq);
    match s.auction {
        Some(a) => {
            j.str("session", a.session.as_str())
                .str(
                    "state",
                    if a.uncrossed {
                        "uncrossed"
                    } else {
                        "indicative"
                    },
                )
                .opt("price", a.price)
                .str("matched_qty", Qty::from_raw(a.matched))
                .str("imbalance_qty", Qty::from_raw(a.imbalance))
                .opt("imbalance_side", a.imbalance_side.map(side))
                .str("reference_price", a.reference);
        }
        None => {
            j.raw("session", "null");
        }
    }
    j.done()
}

/// `trade`: one print.
#[must_use]
pub fn trade(s: &SymbolState, t: &Print) -> String {
    let mut j = Json::new("trade", s.symbol.as_str(), t.seq);
    j.str("trade_id", t.trade_id.get())
        .str("price", t.price)
        .str("qty", Qty::from_raw(t.qty))
        .str("side", side(t.aggressor))
        .str("ts", t.ts.to_rfc3339());
    j.done()
}

/// `ticker`: last, best bid/ask with sizes, the day's open/high/low/volume and the change
/// from the previous close.
#[must_use]
pub fn ticker(s: &SymbolState) -> String {
    let mut j = Json::new("ticker", s.symbol.as_str(), s.seq);
    j.opt("ts", (s.seq > 0).then(|| s.ts.to_rfc3339()));
    ticker_fields(&mut j, s);
    j.done()
}

fn ticker_fields(j: &mut Json, s: &SymbolState) {
    let bid = s.book.best_bid();
    let ask = s.book.best_ask();
    let d = &s.day;
    let (change, change_pct) = change(s);
    j.opt("last", d.last)
        .opt("bid", bid.map(|b| b.0))
        .opt("bid_size", bid.map(|b| Qty::from_raw(b.1.qty)))
        .opt("ask", ask.map(|a| a.0))
        .opt("ask_size", ask.map(|a| Qty::from_raw(a.1.qty)))
        .opt("open", d.open)
        .opt("high", d.high)
        .opt("low", d.low)
        .str("volume", Qty::from_raw(d.volume))
        .raw("trades", d.trades)
        .str("prev_close", d.prev_close)
        .str("change", change)
        .str("change_pct", change_pct)
        .str("status", s.status.as_str())
        .opt("last_trade_at", d.last_trade_at.map(|t| t.to_rfc3339()));
}

/// Last (or the previous close, before any trade today) minus the previous close, and that
/// as a percentage of the previous close.
#[must_use]
pub fn change(s: &SymbolState) -> (Price, String) {
    let d = &s.day;
    let change = d.last.unwrap_or(d.prev_close).raw() - d.prev_close.raw();
    (Price::from_raw(change), pct(change, d.prev_close.raw()))
}

/// A percentage with two decimals, rounded half away from zero: 12,345 / 1,000,000 → "1.23".
fn pct(change: i64, base: i64) -> String {
    if base == 0 {
        return "0.00".into();
    }
    let bp = (i128::from(change) * 20_000 / i128::from(base) + i128::from(change.signum())) / 2;
    let sign = if bp < 0 { "-" } else { "" };
    let a = bp.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// `candle`: the current 1-minute bar.
#[must_use]
pub fn candle(s: &SymbolState, c: &Candle) -> String {
    let mut j = Json::new("candle", s.symbol.as_str(), s.seq);
    j.opt("ts", (s.seq > 0).then(|| s.ts.to_rfc3339()))
        .str("interval", "1m");
    candle_fields(&mut j, c);
    j.done()
}

fn candle_fields(j: &mut Json, c: &Candle) {
    j.str("start", c.start.to_rfc3339())
        .str("open", c.open)
        .str("high", c.high)
        .str("low", c.low)
        .str("close", c.close)
        .str("volume", Qty::from_raw(c.volume))
        .raw("trades", c.trades);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Retention;
    use bourse_core::{Event, OrderId, Qty, Symbol, TradeId, UnixNanos};
    use serde_json::Value;

    #[test]
    fn messages_are_valid_json_with_exact_decimals() {
        let sym = Symbol::new("BRK.B").expect("symbol");
        let mut s = SymbolState::new(sym, "100".parse().expect("p"), Retention::default());
        let t = UnixNanos::new(1_795_271_405_500_000_000);
        s.apply(
            t,
            &Event::OrderRested {
                order_id: OrderId::new(1),
                symbol: sym,
                side: Side::Sell,
                price: "101.25".parse().expect("p"),
                qty: Qty::shares(7),
            },
        );
        s.apply(
            t,
            &Event::Trade {
                symbol: sym,
                trade_id: TradeId::new(3),
                price: "101.5".parse().expect("p"),
                qty: Qty::shares(2),
                aggressor: Side::Buy,
                maker_order: OrderId::new(1),
                taker_order: OrderId::new(2),
            },
        );
        let u = s.finish().expect("update");
        let book: Value = serde_json::from_str(&book_update(&s, &u)).expect("json");
        assert_eq!(book["type"], "book");
        assert_eq!(book["symbol"], "BRK.B");
        assert_eq!(book["seq"], 1);
        assert_eq!(book["asks"][0], serde_json::json!(["101.25", "7", "1"]));
        assert_eq!(book["bids"], serde_json::json!([]));
        let snap: Value = serde_json::from_str(&book_snapshot(&s, 10)).expect("json");
        assert_eq!(snap["asks"], book["asks"]);
        let tr: Value = serde_json::from_str(&trade(&s, &u.trades[0])).expect("json");
        assert_eq!(tr["price"], "101.50");
        assert_eq!(tr["ts"], "2026-11-21T14:30:05.500000000Z");
        let tk: Value = serde_json::from_str(&ticker(&s)).expect("json");
        assert_eq!(tk["last"], "101.50");
        assert_eq!(tk["ask"], "101.25");
        assert_eq!(tk["bid"], Value::Null);
        assert_eq!(tk["change"], "1.50");
        assert_eq!(tk["change_pct"], "1.50");
        let c: Value = serde_json::from_str(&candle(&s, &s.candles[0])).expect("json");
        assert_eq!(c["open"], "101.50");
        assert_eq!(c["trades"], 1);
    }

    #[test]
    fn percentages_round_half_away_from_zero() {
        assert_eq!(pct(12_345, 1_000_000), "1.23");
        assert_eq!(pct(12_350, 1_000_000), "1.24");
        assert_eq!(pct(-12_350, 1_000_000), "-1.24");
        assert_eq!(pct(0, 1_000_000), "0.00");
        assert_eq!(pct(5, 0), "0.00");
    }
}
