//! Orders as clients write and read them: the Alpaca-shaped JSON of a new order, checked and
//! turned into an [`OrderRequest`] before it goes near the engine, and the order's state as
//! an execution report built from the events its command caused.

use bourse_core::{
    AccountId, Cash, ClientOrderId, OrderId, OrderOptions, OrderRequest, OrderType, Price, Qty,
    RejectReason, SelfTradePrevention, Side, Symbol, TimeInForce, Trail,
};
use std::borrow::Cow;

use bourse_core::num::{Decimal, ParseNumError, parse_decimal};
use serde::Deserialize;
use serde::de::Unexpected;
use serde_json::value::RawValue;

use crate::error::ApiError;

mod class;
mod report;

pub use class::{StopLossInput, TakeProfit};
pub use report::*;

/// What the API knows of a listed stock: enough to refuse a malformed order at the door.
/// The engine checks everything again (bands, buying power, halts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub symbol: Symbol,
    pub name: String,
    /// The listing's sector (GICS-style), shown in the stock's profile.
    pub sector: String,
    pub tick: Price,
    pub lot: Qty,
    pub max_qty: Qty,
    /// Trades fractions of a share and notional orders (Alpaca's `fractionable`).
    pub fractional: bool,
}

/// The listed stocks, in symbol order.
#[derive(Debug, Clone, Default)]
pub struct Listings {
    sorted: Vec<Listing>,
}

impl Listings {
    #[must_use]
    pub fn new(mut listings: Vec<Listing>) -> Self {
        listings.sort_by_key(|l| l.symbol);
        Self { sorted: listings }
    }

    #[must_use]
    pub fn get(&self, symbol: Symbol) -> Option<&Listing> {
        self.sorted
            .binary_search_by_key(&symbol, |l| l.symbol)
            .ok()
            .map(|i| &self.sorted[i])
    }

    #[must_use]
    pub fn all(&self) -> &[Listing] {
        &self.sorted
    }
}

/// A number as the client wrote it: a JSON string (`"10"`, Alpaca's way) or a JSON number,
/// kept as its literal text and read by [`parse_decimal`] (rust_decimal, then an exact
/// conversion) when the request is checked, so that a malformed number is refused with its
/// field's own code rather than as a malformed body.
///
/// A JSON number is taken as the raw text of its literal and never becomes an `f64`, which
/// would read `190.25000000000000001` as 190.25 and `1e3` as 1000: here the first is too
/// precise and the second is not decimal text, both refused. serde_json's
/// `arbitrary_precision` feature would also give the literal digits, but features unify: it
/// would turn every serde_json number in the workspace into a string-backed one and hand
/// numbers to untagged or flattened types as maps, for a need only this type has.
/// `raw_value`, which this crate already uses for the WebSocket envelope, gives the literal
/// for one allocation per field, no more than the owned string this type kept before.
#[derive(Debug, Clone)]
pub struct DecimalText(Box<RawValue>);

impl DecimalText {
    /// A number given as plain text (a FIX field): kept as a JSON string so that it is read
    /// exactly as a REST client's string would be.
    #[must_use]
    pub fn from_text(text: &str) -> DecimalText {
        // A string always serializes; `null` (never a number) is the impossible fallback.
        let json = serde_json::to_string(text).unwrap_or_default();
        DecimalText(RawValue::from_string(json).unwrap_or_default())
    }

    /// The number's text: a JSON string's content, or a JSON number's literal.
    #[must_use]
    pub fn text(&self) -> Cow<'_, str> {
        let raw = self.0.get();
        match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            Some(plain) if !plain.contains('\\') => Cow::Borrowed(plain),
            // Escapes (`"\u0031"`) are rare: undo them the slow way.
            Some(_) => serde_json::from_str::<String>(raw).map_or(Cow::Borrowed(""), Cow::Owned),
            None => Cow::Borrowed(raw),
        }
    }

    /// The number as a [`Price`], [`Cash`] or [`Qty`], exactly or not at all.
    pub fn to<T: TryFrom<Decimal, Error = ParseNumError>>(&self) -> Result<T, ParseNumError> {
        parse_decimal(&self.text()).and_then(T::try_from)
    }
}

impl<'de> Deserialize<'de> for DecimalText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        let unexpected = match raw.get().as_bytes().first() {
            Some(b'"' | b'-' | b'0'..=b'9') => return Ok(DecimalText(raw)),
            Some(b't') => Unexpected::Bool(true),
            Some(b'f') => Unexpected::Bool(false),
            Some(b'{') => Unexpected::Map,
            Some(b'[') => Unexpected::Seq,
            _ => Unexpected::Unit,
        };
        Err(serde::de::Error::invalid_type(
            unexpected,
            &"a decimal number, as a string or a JSON number",
        ))
    }
}

/// `POST /v1/orders`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"symbol": "AAPL", "side": "buy", "type": "limit", "qty": "10",
    "limit_price": "189.00", "time_in_force": "gtc", "client_order_id": "my-order-1"}))]
pub struct NewOrder {
    /// A listed symbol.
    #[schema(value_type = crate::wire::Symbol)]
    pub symbol: String,
    #[schema(value_type = crate::wire::Side)]
    pub side: String,
    /// `limit` needs `limit_price`, `stop` needs `stop_price`, `stop_limit` both, `market`
    /// neither.
    #[serde(rename = "type")]
    #[schema(value_type = crate::wire::OrderType)]
    pub order_type: String,
    /// `day` when absent.
    #[serde(default)]
    #[schema(value_type = Option<crate::wire::TimeInForce>)]
    pub time_in_force: Option<String>,
    /// Shares: a multiple of the stock's lot, at most its maximum order quantity; on a
    /// `fractionable` stock any multiple of 0.000001. Exactly one of `qty` and `notional`.
    #[serde(default)]
    #[schema(value_type = Option<crate::wire::QtyInput>)]
    pub qty: Option<DecimalText>,
    /// Alpaca's `notional`: dollars to buy (or sell) instead of a quantity, for a `market`
    /// `day` order on a `fractionable` stock. The order is for the quantity that money
    /// takes from the book when it arrives (never more than the money).
    #[serde(default)]
    #[schema(value_type = Option<crate::wire::PriceInput>)]
    pub notional: Option<DecimalText>,
    /// A multiple of the stock's tick.
    #[serde(default)]
    #[schema(value_type = Option<crate::wire::PriceInput>)]
    pub limit_price: Option<DecimalText>,
    /// A multiple of the stock's tick.
    #[serde(default)]
    #[schema(value_type = Option<crate::wire::PriceInput>)]
    pub stop_price: Option<DecimalText>,
    /// Resending an order with the same client order id answers with the order it created.
    #[serde(default)]
    #[schema(value_type = Option<crate::wire::ClientOrderId>)]
    pub client_order_id: Option<String>,
    /// Refused rather than taking liquidity.
    #[serde(default)]
    pub post_only: Option<bool>,
    /// Alpaca's `extended_hours`: a `limit` `day` order that also trades in pre-market and
    /// after-hours (other orders placed then wait for the opening call).
    #[serde(default)]
    pub extended_hours: Option<bool>,
    /// A `trailing_stop`'s trail as a price distance (a multiple of the tick).
    #[serde(default)]
    #[schema(value_type = Option<crate::wire::PriceInput>)]
    pub trail_price: Option<DecimalText>,
    /// A `trailing_stop`'s trail as a percentage of the price, above 0 and below 100, at
    /// most two decimals (`"1.5"`).
    #[serde(default)]
    #[schema(value_type = Option<crate::wire::PriceInput>)]
    pub trail_percent: Option<DecimalText>,
    /// `simple` (when absent), or an order with exits (Alpaca's field): `bracket` needs
    /// `take_profit` and `stop_loss`; `oto` one of them; `oco` both, and is itself the take
    /// profit (a `limit` at its price, selling or buying what is held).
    #[serde(default)]
    #[schema(value_type = Option<crate::wire::OrderClass>)]
    pub order_class: Option<String>,
    /// The limit exit at the profit target.
    #[serde(default)]
    pub take_profit: Option<TakeProfit>,
    /// The stop (or stop-limit) exit.
    #[serde(default)]
    pub stop_loss: Option<StopLossInput>,
    /// Only an operator (or, later, a broker acting for its clients) names the account; a
    /// trader's orders go to their own.
    #[serde(default)]
    #[schema(value_type = Option<crate::wire::AccountId>)]
    pub account_id: Option<String>,
}

/// `PRICE_OFF_TICK` for the first of `prices` off the stock's tick.
fn on_tick<'a>(
    symbol: Symbol,
    tick: Price,
    prices: impl IntoIterator<Item = &'a Price>,
) -> Result<(), ApiError> {
    match prices.into_iter().find(|p| !p.is_multiple_of(tick)) {
        Some(p) => Err(invalid(
            RejectReason::PriceOffTick.code(),
            format!("price {p} is not a multiple of {symbol}'s tick {tick}"),
        )),
        None => Ok(()),
    }
}

fn invalid(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::unprocessable(code, message)
}

pub(crate) fn parse_price(field: &str, d: &DecimalText) -> Result<Price, ApiError> {
    let p: Price = d.to().map_err(|_| {
        invalid(
            "INVALID_PRICE",
            format!(
                "{field} {:?} is not a price with at most 4 decimals",
                d.text()
            ),
        )
    })?;
    if !p.is_positive() {
        return Err(invalid(
            "INVALID_PRICE",
            format!("{field} must be positive"),
        ));
    }
    Ok(p)
}

/// Parses an account id from its JSON/URL text.
pub fn parse_account(text: &str) -> Result<AccountId, ApiError> {
    text.parse::<u64>()
        .ok()
        .filter(|&n| n > 0)
        .map(AccountId::new)
        .ok_or_else(|| {
            invalid(
                "INVALID_ACCOUNT_ID",
                format!("{text:?} is not an account id"),
            )
        })
}

/// Parses an order id from its URL text.
pub fn parse_order_id(text: &str) -> Result<OrderId, ApiError> {
    text.parse::<u64>()
        .ok()
        .filter(|&n| n > 0)
        .map(OrderId::new)
        .ok_or_else(|| ApiError::not_found("UNKNOWN_ORDER", "no such order"))
}

impl NewOrder {
    /// Checks everything that can be checked without the engine's state.
    pub fn validate(
        &self,
        account: AccountId,
        listings: &Listings,
    ) -> Result<OrderRequest, ApiError> {
        let symbol: Symbol = self.symbol.parse().map_err(|_| {
            invalid(
                "UNKNOWN_SYMBOL",
                format!("{:?} is not a listed symbol", self.symbol),
            )
        })?;
        let listing = listings
            .get(symbol)
            .ok_or_else(|| invalid("UNKNOWN_SYMBOL", format!("{symbol} is not a listed symbol")))?;
        let side = match self.side.as_str() {
            "buy" => Side::Buy,
            "sell" => Side::Sell,
            other => {
                return Err(invalid(
                    "INVALID_SIDE",
                    format!("side {other:?} is not \"buy\" or \"sell\""),
                ));
            }
        };
        let order_type = match self.order_type.as_str() {
            "limit" => OrderType::Limit,
            "market" => OrderType::Market,
            "stop" => OrderType::Stop,
            "stop_limit" => OrderType::StopLimit,
            "trailing_stop" => OrderType::TrailingStop,
            other => {
                return Err(invalid(
                    "INVALID_ORDER_TYPE",
                    format!(
                        "type {other:?} is not one of limit, market, stop, stop_limit, \
                         trailing_stop"
                    ),
                ));
            }
        };
        let trail = self.trail(order_type, listing.tick)?;
        let tif = match self.time_in_force.as_deref().unwrap_or("day") {
            "day" => TimeInForce::Day,
            "gtc" => TimeInForce::Gtc,
            "ioc" => TimeInForce::Ioc,
            "fok" => TimeInForce::Fok,
            "opg" => TimeInForce::Opg,
            "cls" => TimeInForce::Cls,
            other => {
                return Err(invalid(
                    "INVALID_TIME_IN_FORCE",
                    format!("time_in_force {other:?} is not one of day, gtc, ioc, fok, opg, cls"),
                ));
            }
        };
        let extended_hours = self.extended_hours.unwrap_or(false);
        if extended_hours && (order_type != OrderType::Limit || tif != TimeInForce::Day) {
            return Err(invalid(
                RejectReason::InvalidOrder.code(),
                "extended_hours is for limit orders with time_in_force day",
            ));
        }
        if tif.is_auction() && !matches!(order_type, OrderType::Limit | OrderType::Market) {
            return Err(invalid(
                RejectReason::InvalidOrder.code(),
                "opg and cls orders are market or limit orders",
            ));
        }
        let (qty, notional) = self.amount(listing, order_type, tif)?;
        if !listing.fractional && !qty.is_multiple_of(listing.lot) {
            return Err(invalid(
                RejectReason::QtyOffLot.code(),
                format!("qty must be a multiple of {} for {symbol}", listing.lot),
            ));
        }
        if qty > listing.max_qty {
            return Err(invalid(
                RejectReason::MaxQtyExceeded.code(),
                format!("qty exceeds {symbol}'s maximum of {}", listing.max_qty),
            ));
        }
        let limit_price = self
            .limit_price
            .as_ref()
            .map(|d| parse_price("limit_price", d))
            .transpose()?;
        let stop_price = self
            .stop_price
            .as_ref()
            .map(|d| parse_price("stop_price", d))
            .transpose()?;
        let (need_limit, need_stop) = match order_type {
            OrderType::Limit => (true, false),
            OrderType::Market => (false, false),
            OrderType::Stop => (false, true),
            OrderType::StopLimit => (true, true),
            OrderType::TrailingStop => (false, false),
        };
        if need_limit != limit_price.is_some() {
            return Err(invalid(
                RejectReason::InvalidOrder.code(),
                if need_limit {
                    format!("a {} order needs limit_price", self.order_type)
                } else {
                    format!("a {} order takes no limit_price", self.order_type)
                },
            ));
        }
        if need_stop != stop_price.is_some() {
            return Err(invalid(
                RejectReason::InvalidOrder.code(),
                if need_stop {
                    format!("a {} order needs stop_price", self.order_type)
                } else {
                    format!("a {} order takes no stop_price", self.order_type)
                },
            ));
        }
        on_tick(
            symbol,
            listing.tick,
            limit_price.iter().chain(stop_price.iter()),
        )?;
        let client_order_id = self
            .client_order_id
            .as_deref()
            .map(|c| {
                c.parse::<ClientOrderId>().map_err(|_| {
                    invalid(
                        "INVALID_CLIENT_ORDER_ID",
                        "client_order_id must be 1-48 printable ASCII characters",
                    )
                })
            })
            .transpose()?;
        Ok(OrderRequest {
            account,
            symbol,
            client_order_id,
            side,
            order_type,
            tif,
            qty,
            limit_price,
            stop_price,
            post_only: self.post_only.unwrap_or(false),
            stp: SelfTradePrevention::default(),
            opts: OrderOptions {
                extended_hours,
                trail,
                notional,
            },
        })
    }

    /// The order's size: `qty` shares, or (`Qty::ZERO`, its `notional` dollars).
    fn amount(
        &self,
        listing: &Listing,
        order_type: OrderType,
        tif: TimeInForce,
    ) -> Result<(Qty, Option<Cash>), ApiError> {
        let symbol = listing.symbol;
        let whole_only = || {
            invalid(
                RejectReason::FractionalNotAllowed.code(),
                format!("{symbol} trades whole shares only"),
            )
        };
        match (&self.qty, &self.notional) {
            (Some(q), None) => {
                let qty: Qty = q.to().ok().filter(|q: &Qty| !q.is_zero()).ok_or_else(|| {
                    invalid(
                        RejectReason::InvalidQuantity.code(),
                        format!(
                            "qty {:?} is not a positive number of shares with at most 6 \
                             decimals",
                            q.text()
                        ),
                    )
                })?;
                if !listing.fractional && !qty.is_whole() {
                    return Err(whole_only());
                }
                Ok((qty, None))
            }
            (None, Some(n)) => {
                let n: Cash = n
                    .to()
                    .ok()
                    .filter(|n: &Cash| n.is_positive())
                    .ok_or_else(|| {
                        invalid(
                            RejectReason::InvalidQuantity.code(),
                            format!(
                                "notional {:?} is not a positive amount with at most 4 decimals",
                                n.text()
                            ),
                        )
                    })?;
                if !listing.fractional {
                    return Err(whole_only());
                }
                if order_type != OrderType::Market || tif != TimeInForce::Day {
                    return Err(invalid(
                        RejectReason::InvalidOrder.code(),
                        "notional is for market orders with time_in_force day",
                    ));
                }
                Ok((Qty::ZERO, Some(n)))
            }
            (Some(_), Some(_)) => Err(invalid(
                RejectReason::InvalidOrder.code(),
                "give qty or notional, not both",
            )),
            (None, None) => Err(invalid(
                RejectReason::InvalidQuantity.code(),
                "an order needs qty (shares) or notional (dollars)",
            )),
        }
    }

    /// A trailing stop's trail: exactly one of `trail_price` (positive, on the tick) and
    /// `trail_percent` (above 0, below 100, two decimals at most); other types take none.
    fn trail(&self, order_type: OrderType, tick: Price) -> Result<Option<Trail>, ApiError> {
        let bad = |m: String| invalid(RejectReason::InvalidTrail.code(), m);
        match (
            order_type,
            self.trail_price.as_ref(),
            self.trail_percent.as_ref(),
        ) {
            (OrderType::TrailingStop, Some(p), None) => {
                let p: Price =
                    p.to()
                        .ok()
                        .filter(|p: &Price| p.is_positive())
                        .ok_or_else(|| {
                            bad(format!(
                                "trail_price {:?} is not a positive price",
                                p.text()
                            ))
                        })?;
                if !p.is_multiple_of(tick) {
                    return Err(invalid(
                        RejectReason::PriceOffTick.code(),
                        format!("trail_price {p} is not a multiple of the tick {tick}"),
                    ));
                }
                Ok(Some(Trail::Price(p)))
            }
            (OrderType::TrailingStop, None, Some(pct)) => {
                // A percentage with two decimals is a whole number of basis points: read
                // it as a price (four decimals) and check the last two are zero.
                let bps = pct
                    .to::<Price>()
                    .ok()
                    .map(Price::raw)
                    .filter(|r| *r > 0 && *r < 1_000_000 && r % 100 == 0)
                    .and_then(|r| u32::try_from(r / 100).ok())
                    .ok_or_else(|| {
                        bad(format!(
                            "trail_percent {:?} is not a percentage above 0 and below 100 \
                             with at most two decimals",
                            pct.text()
                        ))
                    })?;
                Ok(Some(Trail::Bps(bps)))
            }
            (OrderType::TrailingStop, _, _) => Err(bad(
                "a trailing_stop order needs exactly one of trail_price and trail_percent"
                    .to_owned(),
            )),
            (_, None, None) => Ok(None),
            (_, _, _) => Err(bad(format!(
                "a {} order takes no trail_price or trail_percent",
                self.order_type
            ))),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::wsframe::{ENVELOPE, fields};

    fn listings() -> Listings {
        Listings::new(vec![Listing {
            symbol: "AAPL".parse().unwrap(),
            name: "Apple".into(),
            sector: "Test".to_owned(),
            tick: Price::from_raw(1),
            lot: Qty::ONE,
            max_qty: Qty::shares(1_000_000),
            fractional: false,
        }])
    }

    fn order(qty: &str, limit_price: &str) -> Result<OrderRequest, ApiError> {
        let body = format!(
            r#"{{"symbol":"AAPL","side":"buy","type":"limit","qty":{qty},"limit_price":{limit_price}}}"#
        );
        let o: NewOrder =
            serde_json::from_str(&body).map_err(|e| invalid("INVALID_FIELD", e.to_string()))?;
        o.validate(AccountId::new(1), &listings())
    }

    fn code(r: Result<OrderRequest, ApiError>) -> &'static str {
        r.err().map_or("OK", |e| e.code)
    }

    #[test]
    fn json_numbers_are_read_from_their_literal_digits() {
        let px = |p: &str| order("1", p).unwrap().limit_price.unwrap().raw();
        assert_eq!(px("0.1"), 1_000);
        assert_eq!(px("190.2550"), 1_902_550);
        assert_eq!(px("\"190.2550\""), 1_902_550);
        assert_eq!(px("\"\\u0031\\u0030\""), 100_000);
        assert_eq!(order("1.0000", "1").unwrap().qty, Qty::shares(1));
        // An f64 would round these to something acceptable; their digits are not.
        assert_eq!(code(order("1", "190.25000000000000001")), "INVALID_PRICE");
        assert_eq!(code(order("1", "0.10000000000000000555")), "INVALID_PRICE");
        assert_eq!(
            code(order("1.0000000000000000001", "1")),
            "INVALID_QUANTITY"
        );
        // Exponents are not decimal text, in a number or a string.
        assert_eq!(code(order("1", "1e3")), "INVALID_PRICE");
        assert_eq!(code(order("1", "1E-2")), "INVALID_PRICE");
        assert_eq!(code(order("1e1", "1")), "INVALID_QUANTITY");
        assert_eq!(code(order("1", "\"1e3\"")), "INVALID_PRICE");
    }

    #[test]
    fn bad_numbers_keep_their_codes() {
        assert_eq!(code(order("1", "190.00001")), "INVALID_PRICE");
        assert_eq!(code(order("1", "-1")), "INVALID_PRICE");
        assert_eq!(code(order("1", "0")), "INVALID_PRICE");
        assert_eq!(code(order("1", "\"NaN\"")), "INVALID_PRICE");
        assert_eq!(code(order("1", "\"Infinity\"")), "INVALID_PRICE");
        assert_eq!(code(order("1", "\" 1\"")), "INVALID_PRICE");
        assert_eq!(code(order("1", "\"+1\"")), "INVALID_PRICE");
        assert_eq!(
            code(order("1", "99999999999999999999999999999999")),
            "INVALID_PRICE"
        );
        // The test's stock trades whole shares only.
        assert_eq!(code(order("1.5", "1")), "FRACTIONAL_NOT_ALLOWED");
        assert_eq!(code(order("1.0000001", "1")), "INVALID_QUANTITY");
        assert_eq!(code(order("-5", "1")), "INVALID_QUANTITY");
        assert_eq!(code(order("18446744073709551616", "1")), "INVALID_QUANTITY");
        // Not a number at all: the body is malformed, as before (a null limit_price is an
        // absent one).
        for v in ["true", "[1]", "{\"a\":1}"] {
            assert_eq!(code(order(v, "1")), "INVALID_FIELD", "{v}");
        }
        // A null qty is an absent one: neither qty nor notional.
        assert_eq!(code(order("null", "1")), "INVALID_QUANTITY");
        for v in ["true", "[1]", "{\"a\":1}"] {
            assert_eq!(code(order("1", v)), "INVALID_FIELD", "{v}");
        }
        assert_eq!(code(order("1", "null")), "INVALID_ORDER");
        let e = order("true", "1").err().unwrap();
        assert!(e.message.contains("a decimal number"), "{}", e.message);
    }

    #[test]
    fn the_same_from_a_websocket_frame_or_a_json_tree() {
        let text = r#"{"op":"order","id":1,"symbol":"AAPL","side":"buy","type":"limit",
            "qty":10,"limit_price":190.255}"#;
        let o: NewOrder = fields(text, ENVELOPE).unwrap();
        let r = o.validate(AccountId::new(1), &listings()).unwrap();
        assert_eq!(
            (r.qty, r.limit_price),
            (Qty::shares(10), Some(Price::from_raw(1_902_550)))
        );
        let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
        v.as_object_mut()
            .unwrap()
            .retain(|k, _| k != "op" && k != "id");
        let o: NewOrder = serde_json::from_value(v).unwrap();
        assert_eq!(o.validate(AccountId::new(1), &listings()).unwrap(), r);
    }

    /// Decode and check cost of one WebSocket order frame, strings and numbers:
    /// `cargo test -p bourse-api --release --lib -- --ignored --nocapture order_decode_cost`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn order_decode_cost() {
        use std::hint::black_box;
        use std::time::Instant;
        const N: u32 = 1_000_000;
        let listings = listings();
        for text in [
            r#"{"op":"order","id":1,"symbol":"AAPL","side":"buy","type":"limit","qty":"10","limit_price":"190.25"}"#,
            r#"{"op":"order","id":1,"symbol":"AAPL","side":"buy","type":"limit","qty":10,"limit_price":190.25}"#,
        ] {
            let t = Instant::now();
            for _ in 0..N {
                let o: NewOrder = fields(black_box(text), ENVELOPE).unwrap();
                black_box(o.validate(AccountId::new(1), &listings).unwrap());
            }
            let ns = t.elapsed().as_secs_f64() * 1e9 / f64::from(N);
            println!("{ns:6.1} ns/order  {text}");
        }
    }
}
