//! Private channels: each account's execution reports, balance and position changes and
//! triggered alerts, as the engine released them. A message goes only to connections that
//! authenticated as that account and subscribed to the channel. Every message carries the
//! `seq` of the command that caused it (rising, not contiguous: other accounts' commands lie
//! between) and its `account_seq`, its place on the account's stream (1, 2, 3, … with no
//! gap, numbered by the engine).
//!
//! A window of the newest stream events ([`Log`], bounded in events across all accounts)
//! lets a client that reconnects resume: a subscription `since` an `account_seq` first gets
//! every later message still in the window, then the live ones, with nothing between lost
//! or repeated, because both happen under the one lock the fan-out holds.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bourse_core::{AccountId, CancelReason, Cash, Event, Qty, Tagged, Trail};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::hub::{Conn, Feed, Frame, PrivateChannel, Pushed};

/// A connection following an account's private channels.
#[derive(Debug)]
pub(crate) struct Sub {
    pub(crate) conn: Arc<Conn>,
    /// The channels' bits.
    pub(crate) bits: u8,
    /// Messages numbered at or below this are not sent (the client resumed from a point
    /// the feed had not reached yet).
    pub(crate) skip_through: u64,
}

/// The newest stream events of all accounts, oldest forgotten first once there are more
/// than `cap`; and each account's last number (one integer per account that has had an
/// event).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct Log {
    #[serde(skip)]
    cap: usize,
    by_account: FxHashMap<AccountId, VecDeque<Tagged>>,
    /// Whose event each kept one is, oldest first.
    order: VecDeque<AccountId>,
    latest: FxHashMap<AccountId, u64>,
}

impl Log {
    /// The same events and numbers (the capacity is each holder's own).
    pub(crate) fn same(&self, other: &Log) -> bool {
        self.by_account == other.by_account
            && self.order == other.order
            && self.latest == other.latest
    }

    /// Events kept.
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// Keeps at most `cap` events from now on (the oldest go first).
    pub(crate) fn set_cap(&mut self, cap: usize) {
        self.cap = cap;
        self.evict();
    }

    /// Drops the oldest events past the cap.
    fn evict(&mut self) {
        while self.order.len() > self.cap {
            let Some(a) = self.order.pop_front() else {
                break;
            };
            if let Some(q) = self.by_account.get_mut(&a) {
                q.pop_front();
                if q.is_empty() {
                    self.by_account.remove(&a);
                }
            }
        }
    }

    fn push(&mut self, account: AccountId, t: &Tagged) {
        self.latest.insert(account, t.aseq);
        if self.cap == 0 {
            return;
        }
        self.by_account.entry(account).or_default().push_back(*t);
        self.order.push_back(account);
        self.evict();
    }
}

/// The private side of the feed: who follows which account, and the resume window.
#[derive(Debug, Default)]
pub(crate) struct Private {
    pub(crate) subs: FxHashMap<AccountId, Vec<Sub>>,
    pub(crate) log: Log,
}

impl Private {
    pub(crate) fn new(window: usize) -> Self {
        Private {
            subs: FxHashMap::default(),
            log: Log {
                cap: window,
                ..Log::default()
            },
        }
    }
}

/// At most this many messages are queued from the window by one resume: more could take
/// the connection's outbox past its hard limit before its writer drains any (a resume
/// further back is served from history first, paced by the writer).
pub const MAX_WINDOW_REPLAY: u64 = 1_024;

/// A resume that the window cannot serve: the messages from `from` up to `oldest - 1`
/// must come from history first (`GET /v1/events`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Behind {
    /// The first number the window no longer holds after the one asked for.
    pub from: u64,
    /// The first number the window can serve from (`latest + 1` when it holds none of the
    /// account's).
    pub oldest: u64,
    /// The account's last number the feed has seen.
    pub latest: u64,
}

/// What a subscription `since` a number did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Resumed {
    /// Messages queued from the window.
    pub replayed: usize,
    /// The account's last number the feed has seen.
    pub latest: u64,
}

/// Subscribes `conn` to `bits` of `account`'s channels; with `since`, first queues the
/// window's messages numbered above it (on those channels). Called with the connection's
/// subscriptions locked by the caller (lock order: subs, then this).
pub(crate) fn subscribe(
    p: &Mutex<Private>,
    conn: &Arc<Conn>,
    account: AccountId,
    bits: u8,
    since: Option<u64>,
) -> Result<(Resumed, bool), Behind> {
    let mut guard = p.lock();
    let p = &mut *guard;
    let latest = p.log.latest.get(&account).copied().unwrap_or(0);
    let mut replayed = 0;
    let mut skip = 0;
    if let Some(since) = since {
        if since >= latest {
            skip = since;
        } else {
            let window = p.log.by_account.get(&account);
            let oldest = window
                .and_then(|q| q.front())
                .map_or(latest + 1, |t| t.aseq)
                .max(latest.saturating_sub(MAX_WINDOW_REPLAY) + 1);
            if oldest > since + 1 {
                return Err(Behind {
                    from: since + 1,
                    oldest,
                    latest,
                });
            }
            for t in window.into_iter().flatten() {
                if t.aseq <= since {
                    continue;
                }
                let Some((_, ch)) = route(&t.event) else {
                    continue;
                };
                if bits & ch.bit() != 0 {
                    conn.push(Frame::from(message(t).to_string()));
                    replayed += 1;
                }
            }
        }
    }
    let list = p.subs.entry(account).or_default();
    let added = match list.iter_mut().find(|s| Arc::ptr_eq(&s.conn, conn)) {
        Some(s) => {
            s.bits |= bits;
            s.skip_through = s.skip_through.max(skip);
            false
        }
        None => {
            list.push(Sub {
                conn: conn.clone(),
                bits,
                skip_through: skip,
            });
            true
        }
    };
    Ok((Resumed { replayed, latest }, added))
}

/// Records one command's stream events in the window and queues each on the connections
/// following its account's channel.
pub(crate) fn fan_out(feed: &Feed, events: &[Tagged], p: &Mutex<Private>) {
    // Market-data-only commands (most of a busy book's) take no lock.
    if events.iter().all(|t| t.aseq == 0) {
        return;
    }
    let mut guard = p.lock();
    let p = &mut *guard;
    for t in events {
        let Some((account, channel)) = route(&t.event) else {
            continue;
        };
        if t.aseq == 0 {
            // An event of an account the engine does not know: no stream to be on.
            continue;
        }
        p.log.push(account, t);
        let Some(list) = p.subs.get(&account) else {
            continue;
        };
        let wanted = list
            .iter()
            .filter(|s| s.bits & channel.bit() != 0 && t.aseq > s.skip_through);
        let mut frame = None;
        for s in wanted {
            let f = frame
                .get_or_insert_with(|| Frame::from(message(t).to_string()))
                .clone();
            let len = f.len() as u64;
            if s.conn.push(f) == Pushed::Queued {
                feed.stats.delivered.fetch_add(1, Ordering::Relaxed);
                feed.stats.delivered_bytes.fetch_add(len, Ordering::Relaxed);
            }
        }
    }
}

/// The private channel an event goes out on (`None`: on no account's stream).
#[must_use]
pub fn channel_of(e: &Event) -> Option<PrivateChannel> {
    route(e).map(|(_, c)| c)
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
        | Event::OrderParked { .. }
        | Event::OrderStopMoved { .. }
        | Event::OrderLinked { .. }
        | Event::OrderActivated { .. }
        | Event::Rejected { .. } => (account, Orders),
        Event::AlertTriggered { .. } => (account, Alerts),
        _ => (account, Account),
    })
}

fn avg(cum_notional: Cash, cum_qty: Qty) -> Option<String> {
    cum_notional.per_share(cum_qty).map(|p| p.to_string())
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
            notional,
            extended_hours,
            ..
        } => {
            let mut v = json!({
                "order_id": order_id.get().to_string(),
                "client_order_id": client_order_id.map(|c| c.as_str().to_owned()),
                "symbol": symbol.as_str(),
                "side": side,
                "order_type": order_type,
                "time_in_force": tif,
                "qty": qty.to_string(),
                "limit_price": opt(limit_price),
                "stop_price": opt(stop_price),
                "status": "new",
            });
            // Only on a notional order: every other accepted report keeps its shape.
            if notional.is_positive() {
                v["notional"] = Value::String(notional.to_string());
            }
            if extended_hours {
                v["extended_hours"] = Value::Bool(true);
            }
            report("accepted", v)
        }
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
                "last_qty": last_qty.to_string(),
                "last_price": last_px.to_string(),
                "cum_qty": cum_qty.to_string(),
                "leaves_qty": leaves_qty.to_string(),
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
                "canceled_qty": qty.to_string(),
                "reason": reason.code(),
                "status": if reason == CancelReason::Expired { "expired" } else { "canceled" },
            }),
        ),
        Event::OrderStopMoved {
            order_id,
            symbol,
            stop_price,
            water,
            trail,
            ..
        } => report(
            "stop_moved",
            json!({
                "order_id": order_id.get().to_string(),
                "symbol": symbol.as_str(),
                "stop_price": stop_price.to_string(),
                "hwm": water.to_string(),
                "trail_price": match trail {
                    Trail::Price(p) => Value::String(p.to_string()),
                    Trail::Bps(_) => Value::Null,
                },
                "trail_percent": match trail {
                    Trail::Bps(b) => Value::String(Trail::percent(b)),
                    Trail::Price(_) => Value::Null,
                },
            }),
        ),
        Event::OrderParked {
            order_id,
            symbol,
            side,
            qty,
            resting_price,
            ..
        } => report(
            "parked",
            json!({
                "order_id": order_id.get().to_string(),
                "symbol": symbol.as_str(),
                "side": side,
                "qty": qty.to_string(),
                "resting_price": opt(resting_price),
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
                "old_qty": old_qty.to_string(),
                "limit_price": opt(price),
                "qty": qty.to_string(),
                "priority_kept": priority_kept,
            }),
        ),
        Event::OrderLinked {
            order_id,
            symbol,
            class,
            group,
            role,
            ..
        } => report(
            "linked",
            json!({
                "order_id": order_id.get().to_string(),
                "symbol": symbol.as_str(),
                "order_class": class.as_str(),
                "class_id": group.get().to_string(),
                "leg": role.as_str(),
            }),
        ),
        Event::OrderActivated {
            order_id,
            symbol,
            qty,
            ..
        } => report(
            "activated",
            json!({
                "order_id": order_id.get().to_string(),
                "symbol": symbol.as_str(),
                "qty": qty.to_string(),
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
            "qty": qty.to_string(),
            "reserved": reserved.to_string(),
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
        Event::TransferChanged {
            transfer,
            direction,
            status,
            amount,
            moved,
            balance,
            ..
        } => json!({
            "type": "account", "seq": seq, "ts": ts, "event": "transfer",
            "transfer_id": transfer.to_string(),
            "direction": direction.name(),
            "status": status.name(),
            "amount": amount.to_string(),
            "moved": moved.to_string(),
            "cash": balance.to_string(),
        }),
        Event::SharesDeposited {
            symbol,
            qty,
            position,
            ..
        } => json!({
            "type": "account", "seq": seq, "ts": ts, "event": "shares_deposited",
            "symbol": symbol.as_str(), "qty": qty.to_string(),
            "position": position.to_string(),
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
