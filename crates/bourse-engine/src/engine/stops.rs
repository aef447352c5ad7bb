//! Held stop orders: their trigger queues, triggering and its cascades, and cancelling them.

use std::collections::BTreeSet;

use bourse_book::NewOrder;
use bourse_core::{
    CancelReason, Event, OrderId, OrderType, Price, Qty, Session, Side, TimeInForce,
};

use super::{Engine, Working};

/// An ordered line of orders: (key, id), in key order then id (arrival) order. The stop
/// queues and the trailing stops' water marks are both this one type, so the B-tree's code
/// is compiled once: with a map per purpose (three key and value types) the new order
/// types' paths ran three copies of it, and a third of their cost in the pipeline bench
/// was instruction-cache misses (BENCHMARKS.md). The auction lines need no tree (their
/// keys only rise: `sessions::WaitLine`).
pub(super) type Line = BTreeSet<(i64, OrderId)>;

/// One instrument's untriggered stop orders, in trigger order: buys by rising stop price
/// (the lowest is reached first as the price rises), sells by falling stop price, then by
/// arrival (order ids rise with time).
#[derive(Clone, Debug, Default)]
pub(super) struct Stops {
    /// (stop price, id).
    pub(super) buys: Line,
    /// (!stop price, id); `!` turns "highest first" into ascending order.
    pub(super) sells: Line,
}

impl Stops {
    pub(super) fn key(side: Side, stop: Price, id: OrderId) -> (i64, OrderId) {
        match side {
            Side::Buy => (stop.raw(), id),
            Side::Sell => (!stop.raw(), id),
        }
    }

    pub(super) fn map(&mut self, side: Side) -> &mut Line {
        match side {
            Side::Buy => &mut self.buys,
            Side::Sell => &mut self.sells,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.buys.len() + self.sells.len()
    }

    /// The next stop the last trade price `last` triggers, if any: of the first buy and the
    /// first sell in trigger order, whichever is triggered (both: the earlier arrival).
    pub(super) fn next_triggered(&self, last: Price) -> Option<OrderId> {
        let buy = self
            .buys
            .first()
            .filter(|(p, _)| *p <= last.raw())
            .map(|k| k.1);
        let sell = self
            .sells
            .first()
            .filter(|(k, _)| !*k >= last.raw())
            .map(|k| k.1);
        match (buy, sell) {
            (Some(b), Some(s)) => Some(b.min(s)),
            (b, s) => b.or(s),
        }
    }
}

impl Engine {
    /// Triggers every held stop the last trade price has reached, one at a time in
    /// stop-price-then-time order, each entering the book at once; a trade a triggered stop
    /// makes can trigger more, all within the command that caused the first trade.
    pub(super) fn run_triggers(&mut self, i: usize, out: &mut Vec<Event>) {
        // Stops trigger in continuous trading only (not on extended-hours trades, not in a
        // call); entering it runs them.
        if self.session != Session::Continuous || self.books[i].in_call() {
            return;
        }
        while let Some(last) = self.books[i].last_trade_price() {
            let Some(id) = self.stops[i].next_triggered(last) else {
                return;
            };
            self.trigger(i, id, last, out);
        }
    }

    fn trigger(&mut self, i: usize, id: OrderId, last: Price, out: &mut Vec<Event>) {
        let Some(w) = self.orders.get_mut(&id) else {
            return;
        };
        w.held = false;
        let w = *w;
        if let Some(stop) = w.stop_price {
            self.stops[i]
                .map(w.side)
                .remove(&Stops::key(w.side, stop, id));
        }
        self.trailing[i].remove(&id);
        let symbol = self.instruments[i].symbol;
        out.push(Event::OrderTriggered {
            order_id: id,
            account: w.account,
            symbol,
            last_price: last,
        });
        if w.class.is_some() {
            // A stop-loss exit: its take profit leaves the book before it enters.
            self.exit_triggered(id, out);
        }
        // A stop-limit enters at its limit; a stop (market) order as an IOC bounded by the
        // market collar at trigger time, and for a buy also by the price it reserved cash at.
        let (limit, tif) = match w.order_type {
            OrderType::StopLimit => (w.limit_price, w.tif),
            _ => {
                let collar = self.books[i].market_collar(w.side);
                let limit = match w.side {
                    Side::Buy => collar.map(|c| c.min(w.reserve_px)),
                    Side::Sell => collar,
                };
                (limit, TimeInForce::Ioc)
            }
        };
        let Some(limit) = limit else {
            self.finish(id);
            out.push(Event::OrderCanceled {
                order_id: id,
                account: w.account,
                symbol,
                side: w.side,
                qty: Qty::from_raw(w.leaves),
                resting_price: None,
                reason: CancelReason::MarketRemainder,
            });
            return;
        };
        let mut ev = std::mem::take(&mut self.scratch);
        ev.clear();
        self.books[i].submit(
            &NewOrder {
                id,
                owner: w.account,
                side: w.side,
                price: Some(limit),
                qty: Qty::from_raw(w.leaves),
                tif,
                post_only: false,
                stp: w.stp,
                notional: None,
            },
            &mut ev,
        );
        self.translate(&ev, None, out);
        self.scratch = ev;
    }

    /// Cancels a held (untriggered) stop order.
    pub(super) fn cancel_held(&mut self, id: OrderId, reason: CancelReason, out: &mut Vec<Event>) {
        let Some(w) = self.orders.get(&id).copied().filter(|w| w.held) else {
            return;
        };
        if let Some(stop) = w.stop_price {
            self.stops[w.instrument as usize]
                .map(w.side)
                .remove(&Stops::key(w.side, stop, id));
        }
        self.trailing[w.instrument as usize].remove(&id);
        self.finish(id);
        out.push(Event::OrderCanceled {
            order_id: id,
            account: w.account,
            symbol: self.instruments[w.instrument as usize].symbol,
            side: w.side,
            qty: Qty::from_raw(w.leaves),
            resting_price: None,
            reason,
        });
    }

    /// Held stops of instrument `i` (of `account`, or all), in trigger order, then their
    /// cancellation: the ids are collected first because cancelling edits the maps.
    pub(super) fn cancel_held_where(
        &mut self,
        i: usize,
        pred: impl Fn(&Working) -> bool,
        reason: CancelReason,
        out: &mut Vec<Event>,
    ) {
        let ids: Vec<OrderId> = self.stops[i]
            .buys
            .iter()
            .chain(&self.stops[i].sells)
            .map(|k| k.1)
            .filter(|id| self.orders.get(id).is_some_and(&pred))
            .collect();
        for id in ids {
            self.cancel_held(id, reason, out);
        }
    }
}
