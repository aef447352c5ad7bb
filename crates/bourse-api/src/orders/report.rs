//! Execution reports: an order's state folded from its events (the one fold behind the
//! submit's answer and both read models), and the order as the API shows it.

use bourse_core::{
    AccountId, CancelReason, Cash, ClientOrderId, Event, LegRole, Liquidity, OrderClass, OrderId,
    OrderType, Price, Qty, RejectReason, Seq, Side, Symbol, TimeInForce, TradeId, Trail, UnixNanos,
};
use serde::Serialize;

/// One fill in an execution report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[schema(as = Fill)]
pub struct FillView {
    #[schema(value_type = crate::wire::TradeId)]
    pub trade_id: String,
    #[schema(value_type = crate::wire::Price)]
    pub price: Price,
    #[schema(value_type = crate::wire::Shares)]
    pub qty: String,
    #[schema(value_type = crate::wire::Liquidity)]
    pub liquidity: &'static str,
    #[schema(value_type = crate::wire::Cash)]
    pub fee: Cash,
    /// When the trade happened (RFC 3339).
    #[schema(value_type = crate::wire::Timestamp)]
    pub timestamp: String,
}

/// An order as the API shows it (Alpaca's shape: numbers as strings).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[schema(as = Order)]
pub struct OrderView {
    #[schema(value_type = crate::wire::OrderId)]
    pub id: String,
    #[schema(value_type = Option<crate::wire::ClientOrderId>)]
    pub client_order_id: Option<ClientOrderId>,
    #[schema(value_type = crate::wire::AccountId)]
    pub account_id: String,
    #[schema(value_type = crate::wire::Symbol)]
    pub symbol: Symbol,
    #[schema(value_type = crate::wire::Side)]
    pub side: Side,
    #[serde(rename = "type")]
    #[schema(value_type = crate::wire::OrderType)]
    pub order_type: OrderType,
    #[schema(value_type = crate::wire::TimeInForce)]
    pub time_in_force: TimeInForce,
    /// Everything the order is for: filled plus still open (a replace changes the open part).
    /// For a notional order, the quantity its money bought from the book when it arrived.
    #[schema(value_type = crate::wire::Shares)]
    pub qty: String,
    /// A notional order's dollar amount (Alpaca's field); `null` for an order by quantity.
    #[schema(value_type = Option<crate::wire::Cash>)]
    pub notional: Option<Cash>,
    #[schema(value_type = Option<crate::wire::Price>)]
    pub limit_price: Option<Price>,
    /// A trailing stop's current stop price.
    #[schema(value_type = Option<crate::wire::Price>)]
    pub stop_price: Option<Price>,
    /// A trailing stop's trail as a price distance (Alpaca's field).
    #[schema(value_type = Option<crate::wire::Price>)]
    pub trail_price: Option<Price>,
    /// A trailing stop's trail as a percentage of the price, e.g. `"1.5"`.
    #[schema(value_type = Option<String>, example = "1.5")]
    pub trail_percent: Option<String>,
    /// The water mark a trailing stop follows: the highest trade since it was placed (a
    /// sell), or the lowest (a buy).
    #[schema(value_type = Option<crate::wire::Price>)]
    pub hwm: Option<Price>,
    /// Alpaca's `extended_hours`: a limit DAY order that also trades in pre-market and
    /// after-hours.
    pub extended_hours: bool,
    /// held / new / partially_filled / filled / canceled / expired ([`OrderStatus`]).
    #[schema(value_type = crate::wire::OrderStatus)]
    pub status: &'static str,
    #[schema(value_type = crate::wire::Shares)]
    pub filled_qty: String,
    #[schema(value_type = crate::wire::Shares)]
    pub leaves_qty: String,
    /// Volume-weighted average of the fills (cum_notional / filled_qty, rounded down).
    #[schema(value_type = Option<crate::wire::Price>)]
    pub filled_avg_price: Option<Price>,
    #[schema(value_type = Option<crate::wire::CancelReason>)]
    pub cancel_reason: Option<CancelReason>,
    #[schema(value_type = crate::wire::Timestamp)]
    pub created_at: String,
    /// When a fill, trigger, replace or cancel last changed the order.
    #[schema(value_type = crate::wire::Timestamp)]
    pub updated_at: String,
    /// The journal seq of the command that last changed the order (for a submit's report,
    /// the submit itself).
    pub seq: u64,
    /// The order's fills so far, oldest first.
    pub fills: Vec<FillView>,
    /// `simple`, or the class it belongs to: `bracket`, `oco`, `oto` (Alpaca's field).
    #[schema(value_type = crate::wire::OrderClass)]
    pub order_class: &'static str,
    /// A class's id: its first order's (the entry, or an OCO's take profit).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::wire::OrderId>)]
    pub class_id: Option<String>,
    /// The order's part in its class: `entry`, `take_profit`, `stop_loss`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::wire::LegRole>)]
    pub leg: Option<&'static str>,
    /// On a class's first order: its exits (Alpaca's `legs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub legs: Option<Vec<OrderView>>,
}

/// Where an order stands.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum OrderStatus {
    /// A stop order waiting outside the book for its trigger, or an exit of a bracket or
    /// OTO waiting for its entry to end.
    Held,
    /// Working (resting, or triggered), nothing filled yet.
    New,
    PartiallyFilled,
    Filled,
    /// Stopped working for any reason but the end of its day (see `cancel_reason`).
    Canceled,
    /// A DAY order at the end of the trading day.
    Expired,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Held,
        OrderStatus::New,
        OrderStatus::PartiallyFilled,
        OrderStatus::Filled,
        OrderStatus::Canceled,
        OrderStatus::Expired,
    ];

    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Held => "held",
            OrderStatus::New => "new",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::Filled => "filled",
            OrderStatus::Canceled => "canceled",
            OrderStatus::Expired => "expired",
        }
    }

    /// Inverse of [`OrderStatus::as_str`].
    #[must_use]
    pub fn parse(s: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the order may still trade (or be triggered, canceled, replaced).
    #[must_use]
    pub const fn is_open(self) -> bool {
        matches!(
            self,
            OrderStatus::Held | OrderStatus::New | OrderStatus::PartiallyFilled
        )
    }
}

/// One fill of an order, as its `OrderFilled` event told it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OrderFill {
    pub trade_id: TradeId,
    pub price: Price,
    pub qty: Qty,
    pub fee: Cash,
    pub liquidity: Liquidity,
    pub ts: UnixNanos,
    pub seq: Seq,
}

impl OrderFill {
    #[must_use]
    pub fn view(&self) -> FillView {
        FillView {
            trade_id: self.trade_id.get().to_string(),
            price: self.price,
            qty: self.qty.to_string(),
            liquidity: liquidity_str(self.liquidity),
            fee: self.fee,
            timestamp: self.ts.to_rfc3339(),
        }
    }
}

/// The wire name of a [`Liquidity`].
#[must_use]
pub const fn liquidity_str(l: Liquidity) -> &'static str {
    match l {
        Liquidity::Maker => "maker",
        Liquidity::Taker => "taker",
    }
}

/// An order's state as its events left it: the one fold behind the submit report, the
/// in-memory read model and the PostgreSQL projection, so all three agree.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OrderState {
    pub id: OrderId,
    pub account: AccountId,
    pub symbol: Symbol,
    pub client_order_id: Option<ClientOrderId>,
    pub side: Side,
    pub order_type: OrderType,
    pub tif: TimeInForce,
    /// Filled plus open.
    pub qty: Qty,
    pub limit_price: Option<Price>,
    /// A trailing stop's is its current stop, moved as its water mark moves.
    pub stop_price: Option<Price>,
    /// A trailing stop's trail and the water mark (high for a sell, low for a buy) it
    /// follows.
    pub trail: Option<Trail>,
    pub hwm: Option<Price>,
    pub status: OrderStatus,
    pub filled_qty: Qty,
    pub leaves_qty: Qty,
    /// The cash the fills moved (Σ price × qty; with fractions, rounded by the engine).
    pub cum_notional: Cash,
    /// A notional order's dollar amount.
    pub notional: Option<Cash>,
    /// Trades in pre-market and after-hours too.
    pub extended_hours: bool,
    pub cancel_reason: Option<CancelReason>,
    pub created_at: UnixNanos,
    pub updated_at: UnixNanos,
    /// The last command that changed the order.
    pub seq: Seq,
    /// Oldest first.
    pub fills: Vec<OrderFill>,
    /// Its class, the class's id and its part in it.
    pub class: Option<(OrderClass, OrderId, LegRole)>,
}

impl OrderState {
    /// The order an `OrderAccepted` event announces (`None` for any other event).
    #[must_use]
    pub fn accepted(seq: Seq, ts: UnixNanos, e: &Event) -> Option<OrderState> {
        let Event::OrderAccepted {
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
            notional,
            extended_hours,
        } = *e
        else {
            return None;
        };
        Some(OrderState {
            id: order_id,
            account,
            symbol,
            client_order_id,
            side,
            order_type,
            tif,
            qty,
            limit_price,
            stop_price,
            trail: None,
            hwm: None,
            // A stop waits outside the book until `OrderTriggered`, even if that comes in
            // the same command.
            status: if stop_price.is_some() || order_type == OrderType::TrailingStop {
                OrderStatus::Held
            } else {
                OrderStatus::New
            },
            filled_qty: Qty::ZERO,
            leaves_qty: qty,
            cum_notional: Cash::ZERO,
            notional: notional.is_positive().then_some(notional),
            extended_hours,
            cancel_reason: None,
            created_at: ts,
            updated_at: ts,
            seq,
            fills: Vec::new(),
            class: None,
        })
    }

    /// Folds one later event into the order; true if the event was about this order and
    /// changed it. Events about other orders are ignored.
    pub fn apply(&mut self, seq: Seq, ts: UnixNanos, e: &Event) -> bool {
        match *e {
            Event::OrderLinked {
                order_id,
                class,
                group,
                role,
                ..
            } if order_id == self.id => {
                self.class = Some((class, group, role));
                // A bracket's or OTO's exits wait for their entry.
                if role != LegRole::Entry
                    && class != OrderClass::Oco
                    && self.status == OrderStatus::New
                {
                    self.status = OrderStatus::Held;
                }
            }
            Event::OrderActivated { order_id, qty, .. } if order_id == self.id => {
                self.qty = qty;
                self.leaves_qty = qty;
                if self.order_type == OrderType::Limit && self.status == OrderStatus::Held {
                    self.status = OrderStatus::New;
                }
            }
            Event::OrderTriggered { order_id, .. } if order_id == self.id => {
                if self.status == OrderStatus::Held {
                    self.status = OrderStatus::New;
                }
            }
            Event::OrderStopMoved {
                order_id,
                stop_price,
                water,
                trail,
                ..
            } if order_id == self.id => {
                self.stop_price = Some(stop_price);
                self.hwm = Some(water);
                self.trail = Some(trail);
            }
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
            } if order_id == self.id => {
                // The engine's running totals, not our own sums: they are the truth.
                self.filled_qty = cum_qty;
                self.leaves_qty = leaves_qty;
                self.cum_notional = cum_notional;
                self.qty = cum_qty.checked_add(leaves_qty).unwrap_or(self.qty);
                self.status = if leaves_qty.is_zero() {
                    OrderStatus::Filled
                } else {
                    OrderStatus::PartiallyFilled
                };
                self.fills.push(OrderFill {
                    trade_id,
                    price: last_px,
                    qty: last_qty,
                    fee,
                    liquidity,
                    ts,
                    seq,
                });
            }
            Event::OrderCanceled {
                order_id, reason, ..
            } if order_id == self.id => {
                self.status = if reason == CancelReason::Expired {
                    OrderStatus::Expired
                } else {
                    OrderStatus::Canceled
                };
                self.leaves_qty = Qty::ZERO;
                self.cancel_reason = Some(reason);
            }
            Event::OrderReplaced {
                order_id,
                price,
                qty,
                ..
            } if order_id == self.id => {
                // The replace's qty is the new open quantity; what already filled stays.
                self.leaves_qty = qty;
                self.qty = self.filled_qty.checked_add(qty).unwrap_or(self.qty);
                if let Some(p) = price {
                    self.limit_price = Some(p);
                }
            }
            _ => return false,
        }
        self.updated_at = ts;
        self.seq = seq;
        true
    }

    /// Volume-weighted average fill price, rounded down to the price grid.
    #[must_use]
    pub fn avg_price(&self) -> Option<Price> {
        average(self.cum_notional, self.filled_qty)
    }

    /// The order as the API shows it.
    #[must_use]
    pub fn view(&self) -> OrderView {
        OrderView {
            id: self.id.get().to_string(),
            client_order_id: self.client_order_id,
            account_id: self.account.get().to_string(),
            symbol: self.symbol,
            side: self.side,
            order_type: self.order_type,
            time_in_force: self.tif,
            qty: self.qty.to_string(),
            notional: self.notional,
            limit_price: self.limit_price,
            stop_price: self.stop_price,
            trail_price: match self.trail {
                Some(Trail::Price(p)) => Some(p),
                _ => None,
            },
            trail_percent: match self.trail {
                Some(Trail::Bps(b)) => Some(Trail::percent(b)),
                _ => None,
            },
            hwm: self.hwm,
            extended_hours: self.extended_hours,
            status: self.status.as_str(),
            filled_qty: self.filled_qty.to_string(),
            leaves_qty: self.leaves_qty.to_string(),
            filled_avg_price: self.avg_price(),
            cancel_reason: self.cancel_reason,
            created_at: self.created_at.to_rfc3339(),
            updated_at: self.updated_at.to_rfc3339(),
            seq: self.seq.0,
            fills: self.fills.iter().map(OrderFill::view).collect(),
            order_class: self.class.map_or("simple", |(c, _, _)| c.as_str()),
            class_id: self.class.map(|(_, g, _)| g.get().to_string()),
            leg: self.class.map(|(_, _, r)| r.as_str()),
            legs: None,
        }
    }
}

/// A rejected command: the stable code and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    pub reason: RejectReason,
    pub order_id: Option<OrderId>,
}

/// What a submit caused: the order's report (a class's first order, with its exits as
/// `legs`), or the rejection.
pub fn report_submit(seq: u64, ts: UnixNanos, events: &[Event]) -> Result<OrderView, Rejection> {
    let mut orders: Vec<OrderState> = Vec::new();
    for e in events {
        match e {
            Event::Rejected {
                reason, order_id, ..
            } if orders.is_empty() => {
                return Err(Rejection {
                    reason: *reason,
                    order_id: *order_id,
                });
            }
            _ => {
                if let Some(o) = OrderState::accepted(Seq(seq), ts, e) {
                    orders.push(o);
                } else {
                    for o in &mut orders {
                        o.apply(Seq(seq), ts, e);
                    }
                }
            }
        }
    }
    let mut it = orders.into_iter();
    let first = it.next().ok_or(Rejection {
        reason: RejectReason::InvalidOrder,
        order_id: None,
    })?;
    let mut view = first.view();
    if first.class.is_some() {
        view.legs = Some(
            it.filter(|o| o.class.is_some_and(|(_, g, _)| g == first.id))
                .map(|o| o.view())
                .collect(),
        );
    }
    Ok(view)
}

/// Average fill price, rounded down to the price grid (cum_notional / cum_qty).
fn average(cum_notional: Cash, cum_qty: Qty) -> Option<Price> {
    cum_notional.per_share(cum_qty)
}
