//! Order classes (bracket, OCO, OTO). An entry's exits are held until the entry stops
//! working, then sized to what it filled (nothing filled: they are cancelled). Of the two
//! exits at most one trades: a take profit's fill shrinks the stop loss to what is left,
//! and a stop loss that triggers cancels the take profit first, so the two are never on
//! the book together and can never sell (or buy) the same shares twice. The class holds one
//! reservation for its exits — shares for sell exits, taken as the entry fills; cash for
//! buy exits, taken at entry for the worst case — and the exits themselves reserve nothing.

use serde::{Deserialize, Serialize};

use bourse_core::{
    AccountId, Cash, ClassRequest, Event, LegRole, OrderClass, OrderId, OrderOptions, OrderRequest,
    OrderType, Price, Qty, RejectReason, Side, TimeInForce,
};

use super::sessions::Admit;
use super::stops::Stops;
use super::{CancelReason, Engine, Working, reject};

/// An order's membership in a class, by the class's id (its first order's id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Member {
    Entry(OrderId),
    Leg(OrderId),
}

/// One class while any of its orders works.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Group {
    pub(super) class: OrderClass,
    pub(super) account: AccountId,
    pub(super) instrument: u32,
    pub(super) exit_side: Side,
    /// The entry, while it works.
    pub(super) entry: Option<OrderId>,
    /// The exits are held: their entry works, or ended while its symbol was halted.
    pub(super) pending: bool,
    /// What the entry has filled: the exits' size.
    pub(super) filled: u64,
    /// [take profit, stop loss] (the class's exits; those still working are in the
    /// engine's orders).
    pub(super) legs: [Option<OrderId>; 2],
    /// The class's one reservation for its exits: shares (sell exits) or cash (buy exits).
    pub(super) shares: u64,
    pub(super) cash: Cash,
    /// The exits' rounding: they are rounded as one order, so that the one reservation
    /// covers whichever of them trades (see `Engine::settle`).
    pub(super) round: super::ledger::Rounding,
}

impl Group {
    fn sibling(&self, id: OrderId) -> Option<OrderId> {
        match self.legs {
            [Some(a), b] if a == id => b,
            [a, Some(b)] if b == id => a,
            _ => None,
        }
    }
}

impl Engine {
    /// The exits' requests: [take profit, stop loss], each as the class asks for it.
    fn exit_requests(req: &ClassRequest, exit_side: Side) -> [Option<OrderRequest>; 2] {
        let base = OrderRequest {
            client_order_id: None,
            side: exit_side,
            post_only: false,
            opts: OrderOptions::default(),
            ..req.order
        };
        let tp = req.take_profit.map(|p| OrderRequest {
            order_type: OrderType::Limit,
            limit_price: Some(p),
            stop_price: None,
            ..base
        });
        let sl = req.stop_loss.map(|s| OrderRequest {
            order_type: if s.limit_price.is_some() {
                OrderType::StopLimit
            } else {
                OrderType::Stop
            },
            limit_price: s.limit_price,
            stop_price: Some(s.stop_price),
            ..base
        });
        [tp, sl]
    }

    /// The class's shape: its exits present as the class needs, the entry one that may
    /// carry them, and the prices in order (for sell exits: take profit above the entry's
    /// price, stop below; mirrored for buy exits).
    fn check_class(&self, i: usize, req: &ClassRequest) -> Result<(), RejectReason> {
        let o = &req.order;
        let (tp, sl) = (req.take_profit, req.stop_loss);
        let shape = match req.class {
            OrderClass::Bracket | OrderClass::Oco => tp.is_some() && sl.is_some(),
            OrderClass::Oto => tp.is_some() != sl.is_some(),
        };
        let entry_ok = match req.class {
            OrderClass::Oco => o.order_type == OrderType::Limit && o.limit_price == tp,
            _ => matches!(
                o.order_type,
                OrderType::Limit | OrderType::Market | OrderType::Stop | OrderType::StopLimit
            ),
        };
        if !shape
            || !entry_ok
            || !matches!(o.tif, TimeInForce::Day | TimeInForce::Gtc)
            || o.opts != OrderOptions::default()
            || o.post_only
        {
            return Err(RejectReason::InvalidLegs);
        }
        self.check_order(i, o)?;
        let exit_side = match req.class {
            OrderClass::Oco => o.side,
            _ => o.side.opposite(),
        };
        for leg in Self::exit_requests(req, exit_side).iter().flatten() {
            self.check_order(i, leg)?;
        }
        // Prices in order: `above` must be higher than `below` for sell exits.
        let in_order = |above: Price, below: Price| match exit_side {
            Side::Sell => above > below,
            Side::Buy => above < below,
        };
        let entry_px = match req.class {
            OrderClass::Oco => None,
            _ => o.limit_price.or(o.stop_price),
        };
        let stop = sl.map(|s| s.stop_price);
        let ordered = [(tp, stop), (tp, entry_px), (entry_px, stop)]
            .into_iter()
            .all(|pair| match pair {
                (Some(a), Some(b)) => in_order(a, b),
                _ => true,
            });
        // A stop-limit exit's limit may not be beyond its own stop on the wrong side.
        let sl_ok = sl.is_none_or(|s| {
            s.limit_price
                .is_none_or(|l| l == s.stop_price || in_order(s.stop_price, l))
        });
        if ordered && sl_ok {
            Ok(())
        } else {
            Err(RejectReason::InvalidLegs)
        }
    }

    /// The per-share price an exit's cash is reserved at: its limit, or for a stop the
    /// market collar beyond its stop.
    fn exit_reserve_px(&self, i: usize, leg: &OrderRequest) -> Price {
        match (leg.limit_price, leg.stop_price) {
            (Some(p), _) => p,
            (None, Some(stop)) => self.stop_reserve_px(i, leg.side, stop),
            (None, None) => self.reference_collar(i, leg.side),
        }
    }

    #[inline(never)]
    pub(super) fn submit_class(&mut self, req: &ClassRequest, out: &mut Vec<Event>) {
        let o = &req.order;
        let rej = |reason| reject(Some(o.account), None, o.client_order_id, reason);
        let i = match self.precheck(o) {
            Ok(i) => i,
            Err(e) => return out.push(e),
        };
        if let Err(reason) = self.check_class(i, req) {
            return out.push(rej(reason));
        }
        let (exit_side, oco) = match req.class {
            OrderClass::Oco => (o.side, true),
            _ => (o.side.opposite(), false),
        };
        let exits = Self::exit_requests(req, exit_side);
        // Buy exits are reserved at the dearest of them.
        let max_px = exits
            .iter()
            .flatten()
            .map(|l| self.exit_reserve_px(i, l))
            .max()
            .unwrap_or(Price::ZERO);
        for leg in exits.iter().flatten() {
            if let Err(reason) = self.check_notional(i, self.exit_reserve_px(i, leg), leg.qty) {
                return out.push(rej(reason));
            }
        }
        // Buy exits: the worst case, every share bought back at the dearest exit, reserved
        // now. Sell exits of an OCO sell shares held now; of an entry, the shares it buys.
        let mut cash = Cash::ZERO;
        if exit_side == Side::Buy {
            let Some(need) = self.buy_reserve(max_px, o.qty.raw()) else {
                return out.push(rej(RejectReason::ArithmeticOverflow));
            };
            let Some(a) = self.account(o.account) else {
                return;
            };
            if need > a.cash.checked_sub(a.reserved).unwrap_or(Cash::ZERO) {
                return out.push(rej(RejectReason::InsufficientBuyingPower));
            }
            cash = need;
        } else if oco {
            let Some(pi) = self.pos_index(o.account, i) else {
                return;
            };
            let p = &self.positions[pi];
            if p.qty - p.reserved < o.qty.raw() {
                return out.push(rej(RejectReason::InsufficientPosition));
            }
        }
        let g = OrderId::new(self.next_order_id);
        self.groups.insert(
            g,
            Group {
                class: req.class,
                account: o.account,
                instrument: u32::try_from(i).unwrap_or(u32::MAX),
                exit_side,
                entry: (!oco).then_some(g),
                pending: !oco,
                filled: 0,
                legs: [None, None],
                shares: 0,
                cash: Cash::ZERO,
                round: super::ledger::Rounding::default(),
            },
        );
        if !oco {
            // The entry is an order like any other, but for its class.
            self.forming = Some(g);
            self.submit(o, out);
            self.forming = None;
            let accepted = self.next_order_id != g.get();
            let unfilled_end = self
                .groups
                .get(&g)
                .is_some_and(|grp| grp.entry.is_none() && grp.filled == 0);
            if !accepted || unfilled_end {
                // Refused, or ended at once with nothing filled: no exits to hold.
                self.groups.remove(&g);
                self.class_work.retain(|&w| w != g);
                return;
            }
        }
        self.reserve_group(g, cash, oco.then_some(o.qty.raw()));
        let symbol = o.symbol;
        let roles = [LegRole::TakeProfit, LegRole::StopLoss];
        if !oco {
            out.push(Event::OrderLinked {
                order_id: g,
                account: o.account,
                symbol,
                class: req.class,
                group: g,
                role: LegRole::Entry,
            });
        }
        for (k, leg) in exits.iter().enumerate() {
            let Some(leg) = leg else { continue };
            let id = OrderId::new(self.next_order_id);
            self.next_order_id += 1;
            // An OCO's take profit carries the class's client order id.
            let cid = if oco && k == 0 {
                o.client_order_id
            } else {
                None
            };
            self.orders.insert(
                id,
                Working {
                    account: o.account,
                    instrument: u32::try_from(i).unwrap_or(u32::MAX),
                    side: exit_side,
                    order_type: leg.order_type,
                    limit_price: leg.limit_price,
                    client_order_id: cid,
                    cum_qty: 0,
                    cum_notional: Cash::ZERO,
                    round: super::ledger::Rounding::default(),
                    leaves: leg.qty.raw(),
                    reserve_px: self.exit_reserve_px(i, leg),
                    reserved_cash: Cash::ZERO,
                    tif: leg.tif,
                    stp: leg.stp,
                    stop_price: leg.stop_price,
                    held: false,
                    extended_hours: false,
                    wait: None,
                    class: Some(Member::Leg(g)),
                },
            );
            if let Some(cid) = cid {
                self.client_ids
                    .insert((o.account, cid), (id, super::orders::fingerprint(o)));
            }
            if let Some(grp) = self.groups.get_mut(&g) {
                grp.legs[k] = Some(id);
            }
            out.push(Event::OrderAccepted {
                order_id: id,
                account: o.account,
                symbol,
                client_order_id: cid,
                side: exit_side,
                order_type: leg.order_type,
                tif: leg.tif,
                qty: leg.qty,
                limit_price: leg.limit_price,
                stop_price: leg.stop_price,
                notional: Cash::ZERO,
                extended_hours: false,
            });
            out.push(Event::OrderLinked {
                order_id: id,
                account: o.account,
                symbol,
                class: req.class,
                group: g,
                role: roles[k],
            });
        }
        if oco {
            self.place_exits(g, out);
        }
    }

    /// Takes the class's reservation at its start: buy exits' cash; an OCO's sell exits'
    /// shares (an entry's sell exits take theirs as it fills).
    fn reserve_group(&mut self, g: OrderId, cash: Cash, oco_qty: Option<u64>) {
        let Some(grp) = self.groups.get_mut(&g) else {
            return;
        };
        let (account, i, side) = (grp.account, grp.instrument as usize, grp.exit_side);
        if let Some(q) = oco_qty {
            grp.filled = q;
        }
        match (side, oco_qty) {
            (Side::Buy, _) => {
                grp.cash = cash;
                if let Some(a) = self.account_mut(account) {
                    a.reserved = a.reserved.checked_add(cash).unwrap_or(a.cash);
                }
            }
            (Side::Sell, Some(q)) => {
                grp.shares = q;
                if let Some(pi) = self.pos_index(account, i) {
                    self.positions[pi].reserved += q;
                }
            }
            (Side::Sell, None) => {}
        }
    }

    /// A fill of a class's order (after it settled): an entry's sizes its exits (and, for
    /// sell exits, holds the shares it bought for them); an exit's shrinks the class's
    /// reservation and its sibling, or ends the sibling when it filled completely.
    #[inline(never)]
    pub(super) fn class_fill(&mut self, m: Member, id: OrderId, q: u64, out: &mut Vec<Event>) {
        match m {
            Member::Entry(g) => {
                let Some(grp) = self.groups.get_mut(&g) else {
                    return;
                };
                grp.filled += q;
                if grp.exit_side == Side::Sell {
                    grp.shares += q;
                    let (account, i) = (grp.account, grp.instrument as usize);
                    if let Some(pi) = self.pos_index(account, i) {
                        self.positions[pi].reserved += q;
                    }
                }
            }
            Member::Leg(g) => {
                let Some(grp) = self.groups.get_mut(&g) else {
                    return;
                };
                // (The fill's settlement took the shares sold off the class's reservation.)
                let sibling = grp.sibling(id);
                let left = self.orders.get(&id).map_or(0, |w| w.leaves);
                if let Some(s) = sibling {
                    if left == 0 {
                        self.cancel_class_order(s, CancelReason::SiblingExecuted, out);
                    } else {
                        self.shrink_exit(s, left, out);
                    }
                }
                self.rereserve_exits(g);
            }
        }
    }

    /// A held exit (a stop loss whose take profit partly filled) now covers `left` shares.
    /// The sibling of an exit that fills is never on the book: a stop loss that triggers
    /// cancels its take profit before it enters (the ledger check holds them to one).
    fn shrink_exit(&mut self, id: OrderId, left: u64, out: &mut Vec<Event>) {
        let Some(w) = self.orders.get_mut(&id) else {
            return;
        };
        if w.leaves <= left {
            return;
        }
        let old = w.leaves;
        w.leaves = left;
        let w = *w;
        let i = w.instrument as usize;
        out.push(Event::OrderReplaced {
            order_id: id,
            account: w.account,
            symbol: self.instruments[i].symbol,
            side: w.side,
            old_price: None,
            old_qty: Qty::from_raw(old),
            price: None,
            qty: Qty::from_raw(left),
            priority_kept: true,
        });
    }

    /// Buy exits: the cash held is what the exits still working could need.
    fn rereserve_exits(&mut self, g: OrderId) {
        let Some(grp) = self.groups.get(&g) else {
            return;
        };
        if grp.exit_side != Side::Buy || grp.pending {
            return;
        }
        let need = self.exits_need(grp).unwrap_or(grp.cash);
        let (account, held) = (grp.account, grp.cash);
        if let Some(a) = self.account_mut(account) {
            a.reserved = a
                .reserved
                .checked_sub(held)
                .and_then(|r| r.checked_add(need))
                .unwrap_or(a.reserved);
        }
        if let Some(grp) = self.groups.get_mut(&g) {
            grp.cash = need;
        }
    }

    /// The cash working buy exits need: their common open quantity at the dearest of
    /// them, given what the exits have filled so far.
    fn exits_need(&self, grp: &Group) -> Option<Cash> {
        let live: Vec<&Working> = grp
            .legs
            .iter()
            .flatten()
            .filter_map(|id| self.orders.get(id))
            .collect();
        let Some(px) = live.iter().map(|w| w.reserve_px).max() else {
            return Some(Cash::ZERO);
        };
        let leaves = live.iter().map(|w| w.leaves).max().unwrap_or(0);
        self.buy_hold(px, leaves, grp.round, None)
    }

    /// A class's order stopped working (filled, cancelled, expired): an entry's exits are
    /// looked at when the command ends; when the last exit ends, what the class held for
    /// them is released.
    pub(super) fn class_member_ended(&mut self, m: Member) {
        match m {
            Member::Entry(g) => {
                if let Some(grp) = self.groups.get_mut(&g) {
                    grp.entry = None;
                    self.class_work.push(g);
                }
            }
            Member::Leg(g) => {
                // Called once the order left the working orders.
                let live = self.groups.get(&g).is_some_and(|grp| {
                    grp.legs
                        .iter()
                        .flatten()
                        .any(|l| self.orders.contains_key(l))
                });
                if live {
                    // Buy exits: the one left may need less than the two did.
                    self.rereserve_exits(g);
                } else {
                    self.dissolve(g);
                }
            }
        }
    }

    /// Releases what a class held for its exits and forgets it (its entry, if working,
    /// goes on as a plain order).
    fn dissolve(&mut self, g: OrderId) {
        let Some(grp) = self.groups.remove(&g) else {
            return;
        };
        let i = grp.instrument as usize;
        if let Some(a) = self.account_mut(grp.account) {
            a.reserved = a.reserved.checked_sub(grp.cash).unwrap_or(Cash::ZERO);
        }
        if let Some(pi) = self.pos_index(grp.account, i) {
            let p = &mut self.positions[pi];
            p.reserved -= grp.shares.min(p.reserved);
        }
    }

    /// Entries that ended during the command: their exits start, sized to what filled, or
    /// are cancelled if nothing did.
    #[inline(never)]
    pub(super) fn run_class_work(&mut self, out: &mut Vec<Event>) {
        while !self.class_work.is_empty() {
            let g = self.class_work.remove(0);
            let Some(grp) = self.groups.get(&g) else {
                continue;
            };
            if grp.entry.is_some() || !grp.pending {
                continue;
            }
            if grp.filled == 0 {
                for id in grp.legs.into_iter().flatten() {
                    self.cancel_class_order(id, CancelReason::ParentUnfilled, out);
                }
                continue;
            }
            if self.halted[grp.instrument as usize] {
                // Held until the symbol resumes (see `resume_classes`).
                continue;
            }
            self.activate_exits(g, out);
        }
    }

    /// After a halt: exits whose entry ended during it start now.
    pub(super) fn resume_classes(&mut self, i: usize) {
        let mut waiting: Vec<OrderId> = self
            .groups
            .iter()
            .filter(|(_, grp)| grp.instrument as usize == i && grp.pending && grp.entry.is_none())
            .map(|(g, _)| *g)
            .collect();
        // In class order (the map's own order is not deterministic).
        waiting.sort_unstable();
        self.class_work.extend(waiting);
    }

    fn activate_exits(&mut self, g: OrderId, out: &mut Vec<Event>) {
        let Some(grp) = self.groups.get_mut(&g) else {
            return;
        };
        grp.pending = false;
        let (filled, account, i, legs) =
            (grp.filled, grp.account, grp.instrument as usize, grp.legs);
        let symbol = self.instruments[i].symbol;
        for id in legs.into_iter().flatten() {
            if let Some(w) = self.orders.get_mut(&id) {
                w.leaves = filled;
                out.push(Event::OrderActivated {
                    order_id: id,
                    account,
                    symbol,
                    qty: Qty::from_raw(filled),
                });
            }
        }
        // Buy exits held cash for the entry's whole quantity: now for what filled.
        self.rereserve_exits(g);
        self.place_exits(g, out);
    }

    /// Puts working exits where they work: the stop loss among the held stops, then the
    /// take profit on the book (or waiting for the open); then any stop the market has
    /// already reached triggers.
    fn place_exits(&mut self, g: OrderId, out: &mut Vec<Event>) {
        let Some(grp) = self.groups.get(&g) else {
            return;
        };
        let (i, [tp, sl]) = (grp.instrument as usize, grp.legs);
        if let Some(id) = sl
            && let Some(w) = self.orders.get_mut(&id)
            && let Some(stop) = w.stop_price
        {
            w.held = true;
            let side = w.side;
            self.stops[i].map(side).insert(Stops::key(side, stop, id));
        }
        if let Some(id) = tp
            && let Some(w) = self.orders.get(&id).copied()
        {
            let ask = OrderRequest {
                account: w.account,
                symbol: self.instruments[i].symbol,
                client_order_id: None,
                side: w.side,
                order_type: w.order_type,
                tif: w.tif,
                qty: Qty::from_raw(w.leaves),
                limit_price: w.limit_price,
                stop_price: None,
                post_only: false,
                stp: w.stp,
                opts: OrderOptions::default(),
            };
            match self.admit(&ask) {
                Ok(Admit::Wait(auction)) => {
                    self.wait_for(i, id, auction);
                }
                Ok(Admit::Book) => self.enter_book(i, id, &w, out),
                Err(_) => self.cancel_class_order(id, CancelReason::Expired, out),
            }
        }
        self.run_triggers(i, out);
    }

    /// A stop loss triggered: its take profit leaves the book first, so that the two never
    /// trade the same shares.
    pub(super) fn exit_triggered(&mut self, id: OrderId, out: &mut Vec<Event>) {
        let Some(Some(Member::Leg(g))) = self.orders.get(&id).map(|w| w.class) else {
            return;
        };
        if let Some(s) = self.groups.get(&g).and_then(|grp| grp.sibling(id)) {
            self.cancel_class_order(s, CancelReason::SiblingExecuted, out);
        }
    }

    /// Whether `w` is an exit held for its entry (on no book, in no stop queue or line).
    pub(super) fn exit_pending(&self, w: &Working) -> bool {
        matches!(w.class, Some(Member::Leg(g)) if self.groups.get(&g).is_some_and(|grp| grp.pending))
    }

    /// Cancels a class's order wherever it is: held for its entry, a held stop, waiting, or
    /// on the book.
    pub(super) fn cancel_class_order(
        &mut self,
        id: OrderId,
        reason: CancelReason,
        out: &mut Vec<Event>,
    ) {
        let Some(w) = self.orders.get(&id).copied() else {
            return;
        };
        if self.exit_pending(&w) {
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
            return;
        }
        self.cancel_for(w.account, id, reason, out);
    }

    /// The owner cancels an exit: its sibling goes too (the class is one decision).
    pub(super) fn cancel_exit(&mut self, g: OrderId, id: OrderId, out: &mut Vec<Event>) {
        let sibling = self.groups.get(&g).and_then(|grp| grp.sibling(id));
        self.cancel_class_order(id, CancelReason::Requested, out);
        if let Some(s) = sibling {
            self.cancel_class_order(s, CancelReason::Requested, out);
        }
    }

    /// Held exits of instrument `i` that `pred` picks (a mass cancel), cancelled.
    pub(super) fn cancel_pending_where(
        &mut self,
        i: usize,
        pred: impl Fn(&Working) -> bool,
        reason: CancelReason,
        out: &mut Vec<Event>,
    ) {
        let mut ids: Vec<OrderId> = self
            .groups
            .values()
            .filter(|grp| grp.instrument as usize == i && grp.pending)
            .flat_map(|grp| grp.legs.into_iter().flatten())
            .filter(|id| self.orders.get(id).is_some_and(&pred))
            .collect();
        // In id order (the map's own order is not deterministic).
        ids.sort_unstable();
        for id in ids {
            self.cancel_class_order(id, reason, out);
        }
    }

    /// The classes' part of the ledger check: every class's orders in place, its one
    /// reservation what its exits need; adds that reservation to the account's expected
    /// cash and shares. Returns how many exits are held for their entries.
    pub(super) fn check_classes(
        &self,
        want_cash: &mut [i128],
        want_shares: &mut [Vec<u64>],
    ) -> Result<usize, String> {
        let mut pending = 0;
        for (g, grp) in &self.groups {
            let a = usize::try_from(grp.account.get()).unwrap_or(usize::MAX) - 1;
            let i = grp.instrument as usize;
            if let Some(e) = grp.entry {
                let w = self.orders.get(&e).ok_or("class entry not working")?;
                if w.class != Some(Member::Entry(*g)) || w.cum_qty != grp.filled {
                    return Err(format!("class {g:?} entry {w:?} filled {}", grp.filled));
                }
                if !grp.pending {
                    return Err(format!("class {g:?}: exits live while the entry works"));
                }
            } else if grp.pending && !self.halted[i] {
                return Err(format!("class {g:?}: entry ended, exits still held"));
            }
            let legs: Vec<(OrderId, &Working)> = grp
                .legs
                .iter()
                .flatten()
                .filter_map(|id| self.orders.get(id).map(|w| (*id, w)))
                .collect();
            if legs.is_empty() {
                return Err(format!("class {g:?} has no exits left"));
            }
            if let Some((id, _)) = legs.iter().find(|(_, w)| {
                w.class != Some(Member::Leg(*g))
                    || w.account != grp.account
                    || w.instrument != grp.instrument
                    || w.side != grp.exit_side
            }) {
                return Err(format!("class {g:?} exit {id:?} is not its exit"));
            }
            if grp.pending {
                pending += legs.len();
                if grp.exit_side == Side::Sell && grp.shares != grp.filled {
                    return Err(format!(
                        "class {g:?} holds {} shares for {}",
                        grp.shares, grp.filled
                    ));
                }
            } else {
                let leaves = legs[0].1.leaves;
                if legs.iter().any(|(_, w)| w.leaves != leaves) {
                    return Err(format!("class {g:?}: exits of different sizes"));
                }
                let on_book = legs
                    .iter()
                    .filter(|(id, w)| {
                        !w.held && w.wait.is_none() && self.books[i].order(*id).is_some()
                    })
                    .count();
                if on_book > 1 {
                    return Err(format!("class {g:?}: both exits on the book"));
                }
                if grp.exit_side == Side::Sell && grp.shares != leaves {
                    return Err(format!(
                        "class {g:?} holds {} shares for {leaves}",
                        grp.shares
                    ));
                }
                if grp.exit_side == Side::Buy && Some(grp.cash) != self.exits_need(grp) {
                    return Err(format!("class {g:?} holds {} cash", grp.cash));
                }
            }
            match grp.exit_side {
                Side::Buy => {
                    if grp.shares != 0 {
                        return Err(format!("class {g:?} of buy exits holds shares"));
                    }
                    want_cash[a] += i128::from(grp.cash.raw());
                }
                Side::Sell => {
                    if grp.cash != Cash::ZERO {
                        return Err(format!("class {g:?} of sell exits holds cash"));
                    }
                    want_shares[a][i] += grp.shares;
                }
            }
        }
        // Every order that names a class is in it.
        for (id, w) in &self.orders {
            let misplaced = match w.class {
                Some(Member::Entry(g)) => self
                    .groups
                    .get(&g)
                    .is_some_and(|grp| grp.entry != Some(*id)),
                Some(Member::Leg(g)) => !self
                    .groups
                    .get(&g)
                    .is_some_and(|grp| grp.legs.contains(&Some(*id))),
                None => false,
            };
            if misplaced {
                return Err(format!("order {id:?} not in its class {:?}", w.class));
            }
        }
        Ok(pending)
    }
}
