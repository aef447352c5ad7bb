//! Private channels: each account's execution reports, balance and position changes and
//! triggered alerts, as the engine released them. A message goes only to connections that
//! authenticated as that account and subscribed to the channel; every message carries the
//! `seq` of the command that caused it (rising, not contiguous: other accounts' commands lie
//! between).

use std::sync::atomic::Ordering;

use bourse_core::{AccountId, CancelReason, Cash, Event, Price, Qty, Tagged};
use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::hub::{Feed, Frame, PrivateChannel, PrivateSubs, Pushed};

pub(crate) fn fan_out(feed: &Feed, events: &[Tagged], subs: &Mutex<PrivateSubs>) {
    let map = subs.lock();
    for t in events {
        let Some((account, channel)) = route(&t.event) else {
            continue;
        };
        let Some(list) = map.get(&account) else {
            continue;
        };
        let wanted = list.iter().filter(|(_, b)| b & channel.bit() != 0);
        let mut frame = None;
        for (conn, _) in wanted {
            let f = frame
                .get_or_insert_with(|| Frame::from(message(t).to_string()))
                .clone();
            let len = f.len() as u64;
            if conn.push(f) == Pushed::Queued {
                feed.stats.delivered.fetch_add(1, Ordering::Relaxed);
                feed.stats.delivered_bytes.fetch_add(len, Ordering::Relaxed);
            }
        }
    }
}

/// Whose private channel an event belongs on: the account whose stream it is on, and the
/// channel by its kind.
fn route(e: &Event) -> Option<(AccountId, PrivateChannel)> {
    use PrivateChannel::{Account, Alerts, Orders};
    let account = e.stream_account()?;
    Some(match *e {
        Event::OrderAccepted { .. }
        | Event::OrderTriggered { .. }
        | Event::OrderFilled { .. }
        | Event::OrderCanceled { .. }
        | Event::OrderReplaced { .. }
        | Event::Rejected { .. } => (account, Orders),
        Event::AlertTriggered { .. } => (account, Alerts),
        _ => (account, Account),
    })
}

fn avg(cum_notional: Cash, cum_qty: Qty) -> Option<String> {
    let q = i64::try_from(cum_qty.get()).ok().filter(|q| *q > 0)?;
    Some(Price::from_raw(cum_notional.raw() / q).to_string())
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> Value {
    v.map_or(Value::Null, |v| Value::String(v.to_string()))
}

/// The JSON of one private message (see `docs/PROTOCOL.md`): the same for the live
/// channel, a resumed one and `GET /v1/events`. `account_seq` is the event's place on its
/// account's stream.
#[must_use]
pub fn message(t: &Tagged) -> Value {
    let mut v = body(t);
    if let Value::Object(m) = &mut v {
        m.insert("account_seq".into(), t.aseq.into());
    }
    v
}

fn body(t: &Tagged) -> Value {
    let (seq, ts) = (t.seq.0, t.ts.to_rfc3339());
    let report = |event: &str, extra: Value| {
        let mut v = json!({"type": "execution_report", "seq": seq, "ts": ts, "event": event});
        if let (Value::Object(m), Value::Object(x)) = (&mut v, extra) {
            m.extend(x);
        }
        v
    };
    match t.event {
        Event::OrderAccepted {
            order_id,
            symbol,
            client_order_id,
            side,
            order_type,
            tif,
            qty,
            limit_price,
            stop_price,
            ..
        } => report(
            "accepted",
            json!({
                "order_id": order_id.get().to_string(),
                "client_order_id": client_order_id.map(|c| c.as_str().to_owned()),
                "symbol": symbol.as_str(),
                "side": side,
                "order_type": order_type,
                "time_in_force": tif,
                "qty": qty.get().to_string(),
                "limit_price": opt(limit_price),
                "stop_price": opt(stop_price),
                "status": "new",
            }),
        ),
        Event::OrderTriggered {
            order_id,
            symbol,
            last_price,
            ..
        } => report(
            "triggered",
            json!({
                "order_id": order_id.get().to_string(),
                "symbol": symbol.as_str(),
                "last_price": last_price.to_string(),
            }),
        ),
        Event::OrderFilled {
            order_id,
            symbol,
            side,
            trade_id,
            last_px,
            last_qty,
            cum_qty,
            leaves_qty,
            cum_notional,
            liquidity,
            fee,
            ..
        } => report(
            "fill",
            json!({
                "order_id": order_id.get().to_string(),
                "symbol": symbol.as_str(),
                "side": side,
                "trade_id": trade_id.get().to_string(),
                "last_qty": last_qty.get().to_string(),
                "last_price": last_px.to_string(),
                "cum_qty": cum_qty.get().to_string(),
                "leaves_qty": leaves_qty.get().to_string(),
                "avg_price": avg(cum_notional, cum_qty),
                "liquidity": liquidity,
                "fee": fee.to_string(),
                "status": if leaves_qty.is_zero() { "filled" } else { "partially_filled" },
            }),
        ),
        Event::OrderCanceled {
            order_id,
            symbol,
            side,
            qty,
            reason,
            ..
        } => report(
            "canceled",
            json!({
                "order_id": order_id.get().to_string(),
                "symbol": symbol.as_str(),
                "side": side,
                "canceled_qty": qty.get().to_string(),
                "reason": reason.code(),
                "status": if reason == CancelReason::Expired { "expired" } else { "canceled" },
            }),
        ),
        Event::OrderReplaced {
            order_id,
            symbol,
            side,
            old_price,
            old_qty,
            price,
            qty,
            priority_kept,
            ..
        } => report(
            "replaced",
            json!({
                "order_id": order_id.get().to_string(),
                "symbol": symbol.as_str(),
                "side": side,
                "old_price": opt(old_price),
                "old_qty": old_qty.get().to_string(),
                "limit_price": opt(price),
                "qty": qty.get().to_string(),
                "priority_kept": priority_kept,
            }),
        ),
        Event::Rejected {
            order_id,
            client_order_id,
            reason,
            ..
        } => report(
            "rejected",
            json!({
                "order_id": order_id.map(|o| o.get().to_string()),
                "client_order_id": client_order_id.map(|c| c.as_str().to_owned()),
                "code": reason.code(),
                "message": reason.message(),
                "status": "rejected",
            }),
        ),
        Event::BalanceChanged { cash, reserved, .. } => json!({
            "type": "account", "seq": seq, "ts": ts, "event": "balance",
            "cash": cash.to_string(),
            "reserved": reserved.to_string(),
            "available": opt(cash.checked_sub(reserved)),
        }),
        Event::PositionChanged {
            symbol,
            qty,
            reserved,
            ..
        } => json!({
            "type": "account", "seq": seq, "ts": ts, "event": "position",
            "symbol": symbol.as_str(),
            "qty": qty.get().to_string(),
            "reserved": reserved.get().to_string(),
        }),
        Event::CashDeposited {
            amount, balance, ..
        } => json!({
            "type": "account", "seq": seq, "ts": ts, "event": "deposit",
            "amount": amount.to_string(), "cash": balance.to_string(),
        }),
        Event::CashWithdrawn {
            amount, balance, ..
        } => json!({
            "type": "account", "seq": seq, "ts": ts, "event": "withdrawal",
            "amount": amount.to_string(), "cash": balance.to_string(),
        }),
        Event::SharesDeposited {
            symbol,
            qty,
            position,
            ..
        } => json!({
            "type": "account", "seq": seq, "ts": ts, "event": "shares_deposited",
            "symbol": symbol.as_str(), "qty": qty.get().to_string(),
            "position": position.get().to_string(),
        }),
        Event::AlertTriggered {
            alert_id,
            symbol,
            condition,
            price,
            trade_price,
            ..
        } => json!({
            "type": "alert", "seq": seq, "ts": ts, "event": "triggered",
            "alert_id": alert_id.to_string(),
            "symbol": symbol.as_str(),
            "condition": condition,
            "price": price.to_string(),
            "trade_price": trade_price.to_string(),
        }),
        _ => Value::Null,
    }
}
