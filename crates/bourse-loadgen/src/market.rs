//! The listed stocks as the exchange describes them (`GET /v1/stocks/{symbol}`): a bench
//! prices its orders from what the server it talks to says, not from a local settings file.

use anyhow::{Context, Result, anyhow, bail};
use bourse_core::Price;
use serde::Deserialize;

use crate::http::Http1;

/// What a bench needs of a stock's profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stock {
    pub symbol: String,
    /// The price increment.
    pub tick: Price,
    /// The quantity increment, in shares.
    pub lot: u64,
    /// Where the price is: the last trade today, or the previous close (before the first
    /// day ends, the listing's reference price). The exchange's price band is anchored on
    /// the last trade, and on the reference before any.
    pub reference: Price,
}

/// The parts of the `Stock` schema read here (the rest is skipped).
#[derive(Deserialize)]
struct StockBody {
    symbol: String,
    tick: String,
    lot: String,
    quote: Option<QuoteBody>,
}

#[derive(Deserialize)]
struct QuoteBody {
    last: Option<String>,
    prev_close: String,
}

fn price(what: &str, s: &str) -> Result<Price> {
    s.parse()
        .map_err(|e| anyhow!("{what} {s:?} in the stock profile: {e}"))
}

impl Stock {
    /// Reads a `GET /v1/stocks/{symbol}` answer.
    pub fn from_json(body: &[u8]) -> Result<Stock> {
        let b: StockBody = serde_json::from_slice(body).context("reading a stock profile")?;
        let q = b
            .quote
            .ok_or_else(|| anyhow!("{}: the exchange has no quote for it", b.symbol))?;
        let reference = match q.last.as_deref() {
            Some(last) => price("last", last)?,
            None => price("prev_close", &q.prev_close)?,
        };
        Ok(Stock {
            tick: price("tick", &b.tick)?,
            lot: b
                .lot
                .parse()
                .with_context(|| format!("lot {:?} in the stock profile", b.lot))?,
            reference,
            symbol: b.symbol,
        })
    }
}

/// `GET /v1/stocks/{symbol}`.
pub async fn stock(http: &mut Http1, symbol: &str) -> Result<Stock> {
    let symbol = symbol.trim().to_ascii_uppercase();
    let r = http
        .call("GET", &format!("/v1/stocks/{symbol}"), None, None)
        .await
        .with_context(|| format!("looking up {symbol}"))?;
    match r.status {
        200 => Stock::from_json(&r.body),
        404 => bail!("{symbol} is not listed on this exchange"),
        s => bail!(
            "GET /v1/stocks/{symbol}: HTTP {s} {}",
            String::from_utf8_lossy(&r.body)
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_profile_gives_tick_lot_and_the_last_price_or_the_previous_close() {
        let before = br#"{"symbol":"AAPL","name":"Apple Inc.","tick":"0.01","lot":"1","max_qty":"1000000","quote":{"seq":0,"status":"trading","last":null,"prev_close":"190.00","volume":"0","trades":0,"change":"0.00","change_pct":"0.00"}}"#;
        let s = Stock::from_json(before).unwrap();
        assert_eq!(s.symbol, "AAPL");
        assert_eq!((s.tick.to_string(), s.lot), ("0.01".to_owned(), 1));
        assert_eq!(s.reference.to_string(), "190.00");
        let traded = br#"{"symbol":"F","tick":"0.01","lot":"100","quote":{"last":"11.07","prev_close":"11.00"}}"#;
        let s = Stock::from_json(traded).unwrap();
        assert_eq!((s.reference.to_string(), s.lot), ("11.07".to_owned(), 100));
        assert!(
            Stock::from_json(br#"{"symbol":"X","tick":"0.01","lot":"1","quote":null}"#).is_err()
        );
    }
}
