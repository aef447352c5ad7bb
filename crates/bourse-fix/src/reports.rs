//! The engine's words in FIX: enum values both ways, and ExecutionReports built from an
//! order's state and the event that changed it.

use bourse_api::OrderView;
use bourse_api::orders::{OrderState, OrderStatus};
use bourse_core::{CancelReason, OrderType, Price, Qty, RejectReason, Seq, Side, TimeInForce};

use crate::codec::Outgoing;

pub(crate) const fn side(s: Side) -> char {
    match s {
        Side::Buy => '1',
        Side::Sell => '2',
    }
}

/// FIX Side (54) to the REST word, `None` for what we do not trade (short sells, …).
pub(crate) fn side_word(v: &str) -> Option<&'static str> {
    match v {
        "1" => Some("buy"),
        "2" => Some("sell"),
        _ => None,
    }
}

pub(crate) const fn ord_type(t: OrderType) -> char {
    match t {
        OrderType::Market => '1',
        OrderType::Limit => '2',
        OrderType::Stop => '3',
        OrderType::StopLimit => '4',
        // Pegged: a trailing stop is a stop pegged to the last trade.
        OrderType::TrailingStop => 'P',
    }
}

pub(crate) fn ord_type_word(v: &str) -> Option<&'static str> {
    match v {
        "1" => Some("market"),
        "2" => Some("limit"),
        "3" => Some("stop"),
        "4" => Some("stop_limit"),
        _ => None,
    }
}

pub(crate) const fn tif(t: TimeInForce) -> char {
    match t {
        TimeInForce::Day => '0',
        TimeInForce::Gtc => '1',
        TimeInForce::Ioc => '3',
        TimeInForce::Fok => '4',
        TimeInForce::Opg => '2',
        TimeInForce::Cls => '7',
    }
}

pub(crate) fn tif_word(v: &str) -> Option<&'static str> {
    match v {
        "0" => Some("day"),
        "1" => Some("gtc"),
        "3" => Some("ioc"),
        "4" => Some("fok"),
        "2" => Some("opg"),
        "7" => Some("cls"),
        _ => None,
    }
}

/// OrdStatus (39).
pub(crate) const fn ord_status(s: OrderStatus) -> char {
    match s {
        OrderStatus::Held | OrderStatus::New => '0',
        OrderStatus::PartiallyFilled => '1',
        OrderStatus::Filled => '2',
        OrderStatus::Canceled => '4',
        OrderStatus::Expired => 'C',
    }
}

/// OrdRejReason (103) for an engine or gateway code.
pub(crate) fn ord_rej_reason(code: &str) -> u32 {
    match code {
        "UNKNOWN_SYMBOL" => 1,
        // 2: exchange closed (a halt, or the session does not take this order now).
        "SYMBOL_HALTED" | "MARKET_CLOSED" | "AUCTION_CLOSED" => 2,
        "MAX_QTY_EXCEEDED"
        | "MAX_NOTIONAL_EXCEEDED"
        | "INSUFFICIENT_BUYING_POWER"
        | "INSUFFICIENT_POSITION"
        | "POSITION_LIMIT" => 3,
        "UNKNOWN_ORDER" => 5,
        "DUPLICATE_CLIENT_ORDER_ID" => 6,
        "INVALID_PRICE" | "PRICE_OFF_TICK" | "PRICE_OUT_OF_BAND" => 99,
        "INVALID_ORDER_TYPE"
        | "INVALID_TIME_IN_FORCE"
        | "INVALID_ORDER"
        | "POST_ONLY_WOULD_TAKE" => 11,
        "INVALID_QUANTITY" | "QTY_OFF_LOT" => 13,
        _ => 99,
    }
}

/// CxlRejReason (102): 1 unknown order, 0 too late (it ended), 99 other.
pub(crate) fn cxl_rej_reason(r: RejectReason) -> u32 {
    match r {
        RejectReason::UnknownOrder => 1,
        _ => 99,
    }
}

pub(crate) fn px(p: Price) -> String {
    p.to_string()
}

pub(crate) fn qty(q: Qty) -> String {
    q.to_string()
}

/// An order as FIX tracks it: its state, and the ClOrdID it currently answers to (the one
/// of the last accepted replace, else its own client order id, else its id).
#[derive(Debug, Clone)]
pub(crate) struct Tracked {
    pub state: OrderState,
    pub cl_ord_id: String,
    /// Entered on this session (cancel-on-disconnect cancels only these).
    pub ours: bool,
    /// Events up to this seq are already in `state` (it was read from the read model).
    pub skip_through: Seq,
}

impl Tracked {
    pub(crate) fn new(state: OrderState, ours: bool) -> Tracked {
        let cl_ord_id = state
            .client_order_id
            .map_or_else(|| state.id.get().to_string(), |c| c.as_str().to_owned());
        Tracked {
            state,
            cl_ord_id,
            ours,
            skip_through: Seq(0),
        }
    }
}

/// The fields every ExecutionReport about a known order carries.
pub(crate) fn execution_report(
    t: &Tracked,
    exec_id: String,
    exec_type: char,
    cl_ord_id: &str,
    orig: Option<&str>,
    transact_time: &str,
) -> Outgoing {
    let s = &t.state;
    let mut m = Outgoing::new("8").with(37, s.id.get()).with(11, cl_ord_id);
    if let Some(o) = orig {
        m.set(41, o);
    }
    m.set(17, exec_id);
    m.set(150, exec_type);
    m.set(39, ord_status(s.status));
    m.set(1, s.account.get());
    m.set(55, s.symbol.as_str());
    m.set(54, side(s.side));
    m.set(38, qty(s.qty));
    m.set(40, ord_type(s.order_type));
    if let Some(p) = s.limit_price {
        m.set(44, px(p));
    }
    if let Some(p) = s.stop_price {
        m.set(99, px(p));
    }
    m.set(59, tif(s.tif));
    m.set(151, qty(s.leaves_qty));
    m.set(14, qty(s.filled_qty));
    m.set(6, s.avg_price().map_or_else(|| "0".to_owned(), px));
    m.set(60, transact_time);
    m
}

/// An ExecutionReport with ExecType I (order status) from the history's view of an order
/// the session no longer follows (it ended, or ended before the session began).
pub(crate) fn view_report(v: &OrderView, exec_id: String, transact_time: &str) -> Outgoing {
    let status = OrderStatus::parse(v.status).map_or('8', ord_status);
    let cl = v
        .client_order_id
        .map_or_else(|| v.id.clone(), |c| c.as_str().to_owned());
    let mut m = Outgoing::new("8")
        .with(37, &v.id)
        .with(11, cl)
        .with(17, exec_id)
        .with(150, 'I')
        .with(39, status);
    m.set(1, &v.account_id);
    m.set(55, v.symbol.as_str());
    m.set(54, side(v.side));
    m.set(38, &v.qty);
    m.set(40, ord_type(v.order_type));
    if let Some(p) = v.limit_price {
        m.set(44, px(p));
    }
    if let Some(p) = v.stop_price {
        m.set(99, px(p));
    }
    m.set(59, tif(v.time_in_force));
    m.set(151, &v.leaves_qty);
    m.set(14, &v.filled_qty);
    m.set(6, v.filled_avg_price.map_or_else(|| "0".to_owned(), px));
    m.set(60, transact_time);
    m
}

/// Why an order stopped, for Text (58).
pub(crate) fn cancel_text(r: CancelReason) -> &'static str {
    r.code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip() {
        for s in [Side::Buy, Side::Sell] {
            let w = side_word(&side(s).to_string()).unwrap_or("");
            assert_eq!(w, if s == Side::Buy { "buy" } else { "sell" });
        }
        for t in [
            OrderType::Market,
            OrderType::Limit,
            OrderType::Stop,
            OrderType::StopLimit,
        ] {
            assert!(ord_type_word(&ord_type(t).to_string()).is_some());
        }
        for t in [
            TimeInForce::Day,
            TimeInForce::Gtc,
            TimeInForce::Ioc,
            TimeInForce::Fok,
            TimeInForce::Opg,
            TimeInForce::Cls,
        ] {
            assert!(tif_word(&tif(t).to_string()).is_some());
        }
        assert_eq!(side_word("5"), None);
        // 6 is good-till-date, which the exchange does not take.
        assert_eq!(tif_word("6"), None);
    }
}
