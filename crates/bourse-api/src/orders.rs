//! Orders as clients write and read them: the Alpaca-shaped JSON of a new order, checked and
//! turned into an [`OrderRequest`] before it goes near the engine, and the order's state as
//! an execution report built from the events its command caused.

use bourse_core::{
    AccountId, CancelReason, ClientOrderId, Event, Liquidity, OrderId, OrderRequest, OrderType,
    Price, Qty, RejectReason, SelfTradePrevention, Side, Symbol, TimeInForce, UnixNanos,
};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// What the API knows of a listed stock: enough to refuse a malformed order at the door.
/// The engine checks everything again (bands, buying power, halts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub symbol: Symbol,
    pub name: String,
    pub tick: Price,
    pub lot: Qty,
    pub max_qty: Qty,
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

/// A number that clients may send as a JSON string (`"10"`, Alpaca's way) or a number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Decimal {
    Text(String),
    Int(u64),
    Float(f64),
}

impl Decimal {
    fn text(&self) -> String {
        match self {
            Decimal::Text(s) => s.clone(),
            Decimal::Int(i) => i.to_string(),
            // A JSON float as written by the client's serializer: parsed exactly below, so
            // 0.1 stays 0.1 and 190.255 is refused rather than rounded.
            Decimal::Float(f) => format!("{f}"),
        }
    }
}

/// `POST /v1/orders`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    pub symbol: String,
    pub side: String,
    #[serde(rename = "type")]
    pub order_type: String,
    #[serde(default)]
    pub time_in_force: Option<String>,
    pub qty: Decimal,
    #[serde(default)]
    pub limit_price: Option<Decimal>,
    #[serde(default)]
    pub stop_price: Option<Decimal>,
    #[serde(default)]
    pub client_order_id: Option<String>,
    #[serde(default)]
    pub post_only: Option<bool>,
    /// Only an operator (or, later, a broker acting for its clients) names the account; a
    /// trader's orders go to their own.
    #[serde(default)]
    pub account_id: Option<String>,
}

fn invalid(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::unprocessable(code, message)
}

fn parse_price(field: &str, d: &Decimal) -> Result<Price, ApiError> {
    let text = d.text();
    let p: Price = text.parse().map_err(|_| {
        invalid(
            "INVALID_PRICE",
            format!("{field} {text:?} is not a price with at most 4 decimals"),
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
            other => {
                return Err(invalid(
                    "INVALID_ORDER_TYPE",
                    format!("type {other:?} is not one of limit, market, stop, stop_limit"),
                ));
            }
        };
        let tif = match self.time_in_force.as_deref().unwrap_or("day") {
            "day" => TimeInForce::Day,
            "gtc" => TimeInForce::Gtc,
            "ioc" => TimeInForce::Ioc,
            "fok" => TimeInForce::Fok,
            other => {
                return Err(invalid(
                    "INVALID_TIME_IN_FORCE",
                    format!("time_in_force {other:?} is not one of day, gtc, ioc, fok"),
                ));
            }
        };
        let qty_text = self.qty.text();
        let qty: Qty = qty_text
            .parse()
            .ok()
            .filter(|q: &Qty| !q.is_zero())
            .ok_or_else(|| {
                invalid(
                    RejectReason::InvalidQuantity.code(),
                    format!("qty {qty_text:?} is not a positive whole number of shares"),
                )
            })?;
        if !qty.is_multiple_of(listing.lot) {
            return Err(invalid(
                RejectReason::QtyOffLot.code(),
                format!(
                    "qty must be a multiple of {} for {symbol}",
                    listing.lot.get()
                ),
            ));
        }
        if qty > listing.max_qty {
            return Err(invalid(
                RejectReason::MaxQtyExceeded.code(),
                format!(
                    "qty exceeds {symbol}'s maximum of {}",
                    listing.max_qty.get()
                ),
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
        for p in limit_price.iter().chain(stop_price.iter()) {
            if !p.is_multiple_of(listing.tick) {
                return Err(invalid(
                    RejectReason::PriceOffTick.code(),
                    format!(
                        "price {p} is not a multiple of {symbol}'s tick {}",
                        listing.tick
                    ),
                ));
            }
        }
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
        })
    }
}

/// One fill in an execution report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FillView {
    pub trade_id: String,
    pub price: Price,
    pub qty: String,
    pub liquidity: &'static str,
    pub fee: bourse_core::Cash,
}

/// An order as the API shows it (Alpaca's shape: numbers as strings).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OrderView {
    pub id: String,
    pub client_order_id: Option<ClientOrderId>,
    pub account_id: String,
    pub symbol: Symbol,
    pub side: Side,
    #[serde(rename = "type")]
    pub order_type: OrderType,
    pub time_in_force: TimeInForce,
    pub qty: String,
    pub limit_price: Option<Price>,
    pub stop_price: Option<Price>,
    /// new / partially_filled / filled / canceled / expired / replaced / rejected
    pub status: &'static str,
    pub filled_qty: String,
    pub leaves_qty: String,
    pub filled_avg_price: Option<Price>,
    pub cancel_reason: Option<CancelReason>,
    pub created_at: String,
    pub updated_at: String,
    /// The journal seq of the command this report answers.
    pub seq: u64,
    /// Fills this command caused.
    pub fills: Vec<FillView>,
}

/// A rejected command: the stable code and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    pub reason: RejectReason,
    pub order_id: Option<OrderId>,
}

/// What a submit caused: the order's report, or the rejection.
pub fn report_submit(seq: u64, ts: UnixNanos, events: &[Event]) -> Result<OrderView, Rejection> {
    let mut view: Option<OrderView> = None;
    for e in events {
        match *e {
            Event::Rejected {
                reason, order_id, ..
            } if view.is_none() => return Err(Rejection { reason, order_id }),
            Event::OrderAccepted {
                order_id,
                account,
                symbol,
                client_order_id,
                side,
                order_type,
                tif,
                qty,
                limit_price,
                stop_price,
                ..
            } if view.is_none() => {
                let at = ts.to_rfc3339();
                view = Some(OrderView {
                    id: order_id.get().to_string(),
                    client_order_id,
                    account_id: account.get().to_string(),
                    symbol,
                    side,
                    order_type,
                    time_in_force: tif,
                    qty: qty.get().to_string(),
                    limit_price,
                    stop_price,
                    status: "new",
                    filled_qty: "0".into(),
                    leaves_qty: qty.get().to_string(),
                    filled_avg_price: None,
                    cancel_reason: None,
                    created_at: at.clone(),
                    updated_at: at,
                    seq,
                    fills: Vec::new(),
                });
            }
            _ => {
                if let Some(v) = view.as_mut() {
                    apply(v, e);
                }
            }
        }
    }
    view.ok_or(Rejection {
        reason: RejectReason::InvalidOrder,
        order_id: None,
    })
}

/// Folds one later event of the order into its view.
fn apply(v: &mut OrderView, e: &Event) {
    let mine = |id: OrderId| id.get().to_string() == v.id;
    match *e {
        Event::OrderFilled {
            order_id,
            trade_id,
            last_px,
            last_qty,
            cum_qty,
            leaves_qty,
            cum_notional,
            liquidity,
            fee,
            ..
        } if mine(order_id) => {
            v.filled_qty = cum_qty.get().to_string();
            v.leaves_qty = leaves_qty.get().to_string();
            v.filled_avg_price = average(cum_notional, cum_qty);
            v.status = if leaves_qty.is_zero() {
                "filled"
            } else {
                "partially_filled"
            };
            v.fills.push(FillView {
                trade_id: trade_id.get().to_string(),
                price: last_px,
                qty: last_qty.get().to_string(),
                liquidity: match liquidity {
                    Liquidity::Maker => "maker",
                    Liquidity::Taker => "taker",
                },
                fee,
            });
        }
        Event::OrderCanceled {
            order_id, reason, ..
        } if mine(order_id) => {
            v.status = if reason == CancelReason::Expired {
                "expired"
            } else {
                "canceled"
            };
            v.leaves_qty = "0".into();
            v.cancel_reason = Some(reason);
        }
        _ => {}
    }
}

/// Average fill price, rounded down to the price grid (cum_notional / cum_qty).
fn average(cum_notional: bourse_core::Cash, cum_qty: Qty) -> Option<Price> {
    let q = i64::try_from(cum_qty.get()).ok().filter(|&q| q > 0)?;
    Some(Price::from_raw(cum_notional.raw() / q))
}
