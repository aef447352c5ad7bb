//! What a session missed while no one was logged on: at logon the account's stream after
//! the last number the session's store says it reported comes from history, and each order
//! event in it becomes the ExecutionReport a live session would have sent, in order, with
//! the same figures; then the live events follow, those already reported skipped by their
//! number.
//!
//! A report needs the order's state just before the event. For an order accepted while the
//! session was away, that is folded from its acceptance. For one accepted before, it is
//! rebuilt from the order as it stands now (the working order the session was seeded with,
//! or the ended order from history) less what the missed events did to it: its fills
//! among them (by trade id) are taken off, and a replace among them gives back the
//! quantity and price before it.

use bourse_api::OrderView;
use bourse_api::orders::{OrderState, OrderStatus};
use bourse_core::{Cash, Event, OrderId, Price, Qty, Seq, Tagged, TradeId, UnixNanos};
use rustc_hash::FxHashSet;

use crate::reports::Tracked;

/// Events read from history per page.
pub(crate) const PAGE: usize = 1_000;
/// A session away for longer than this many of its account's events is not caught up event
/// by event: it is told to read the orders afresh (OrderStatusRequest, or REST).
pub(crate) const MAX_MISSED: usize = 200_000;

/// The order an event is about, if it is an order's lifecycle event.
pub(crate) fn order_of(e: &Event) -> Option<OrderId> {
    match *e {
        Event::OrderAccepted { order_id, .. }
        | Event::OrderTriggered { order_id, .. }
        | Event::OrderFilled { order_id, .. }
        | Event::OrderCanceled { order_id, .. }
        | Event::OrderReplaced { order_id, .. } => Some(order_id),
        _ => None,
    }
}

/// An order as it stands now, with its fills (trade id, price, qty).
pub(crate) struct Now {
    pub state: OrderState,
    pub fills: Vec<(TradeId, Price, Qty)>,
}

impl Now {
    pub(crate) fn of_state(state: &OrderState) -> Now {
        Now {
            fills: state
                .fills
                .iter()
                .map(|f| (f.trade_id, f.price, f.qty))
                .collect(),
            state: state.clone(),
        }
    }

    /// An ended order as history shows it; `None` if a field does not read back.
    pub(crate) fn of_view(v: &OrderView) -> Option<Now> {
        let num = |s: &str| s.parse::<u64>().ok();
        let qty = |s: &str| s.parse::<Qty>().ok();
        let fills = v
            .fills
            .iter()
            .map(|f| Some((TradeId::new(num(&f.trade_id)?), f.price, qty(&f.qty)?)))
            .collect::<Option<Vec<_>>>()?;
        let state = OrderState {
            id: OrderId::new(num(&v.id)?),
            account: bourse_core::AccountId::new(num(&v.account_id)?),
            symbol: v.symbol,
            client_order_id: v.client_order_id,
            side: v.side,
            order_type: v.order_type,
            tif: v.time_in_force,
            qty: qty(&v.qty)?,
            limit_price: v.limit_price,
            stop_price: v.stop_price,
            trail: None,
            hwm: v.hwm,
            status: OrderStatus::parse(v.status)?,
            filled_qty: qty(&v.filled_qty)?,
            leaves_qty: qty(&v.leaves_qty)?,
            cum_notional: Cash::ZERO,
            notional: None,
            extended_hours: v.extended_hours,
            cancel_reason: v.cancel_reason,
            created_at: UnixNanos::new(0),
            updated_at: UnixNanos::new(0),
            seq: Seq(v.seq),
            fills: Vec::new(),
            class: None,
        };
        Some(Now { state, fills })
    }
}

/// The order's state just before the first of `missed` (its events, in order, the first
/// not an acceptance), rebuilt from how it stands now.
pub(crate) fn before(now: Now, missed: &[&Event]) -> Tracked {
    let later: FxHashSet<TradeId> = missed
        .iter()
        .filter_map(|e| match **e {
            Event::OrderFilled { trade_id, .. } => Some(trade_id),
            _ => None,
        })
        .collect();
    let mut filled = Qty::ZERO;
    let mut notional = Cash::ZERO;
    for &(trade, px, qty) in &now.fills {
        if !later.contains(&trade) {
            filled = filled.checked_add(qty).unwrap_or(filled);
            let n = px.notional(qty).unwrap_or(Cash::ZERO);
            notional = notional.checked_add(n).unwrap_or(notional);
        }
    }
    let mut st = now.state;
    // A replace among the missed events tells the open quantity and price before it; the
    // fills before it are the ones kept above plus the missed ones that precede it.
    let mut filled_then = filled;
    let mut total = st.qty;
    for e in missed {
        match **e {
            Event::OrderFilled { last_qty, .. } => {
                filled_then = filled_then.checked_add(last_qty).unwrap_or(filled_then);
            }
            Event::OrderReplaced {
                old_qty, old_price, ..
            } => {
                total = filled_then.checked_add(old_qty).unwrap_or(total);
                if old_price.is_some() {
                    st.limit_price = old_price;
                }
                break;
            }
            _ => {}
        }
    }
    st.qty = total;
    st.filled_qty = filled;
    st.cum_notional = notional;
    st.leaves_qty = total.saturating_sub(filled);
    st.cancel_reason = None;
    st.status = match missed.first().map(|e| **e) {
        Some(Event::OrderTriggered { .. }) => OrderStatus::Held,
        _ if !filled.is_zero() => OrderStatus::PartiallyFilled,
        _ => OrderStatus::New,
    };
    st.fills.clear();
    st.seq = Seq(0);
    Tracked::new(st, false)
}

/// The missed order events of each order, in stream order (orders in order of first
/// appearance).
pub(crate) fn by_order(missed: &[Tagged]) -> Vec<(OrderId, Vec<&Event>)> {
    let mut out: Vec<(OrderId, Vec<&Event>)> = Vec::new();
    let mut at = rustc_hash::FxHashMap::default();
    for t in missed {
        if let Some(id) = order_of(&t.event) {
            let i = *at.entry(id).or_insert_with(|| {
                out.push((id, Vec::new()));
                out.len() - 1
            });
            out[i].1.push(&t.event);
        }
    }
    out
}
