//! Orders: submit, cancel, replace, mass cancel, client order ids, applying book events.

use bourse_book::{BookEvent, NewOrder, Priority, Request};
use bourse_core::{
    AccountId, CancelReason, Cash, Event, Liquidity, OrderId, OrderOptions, OrderRequest,
    OrderType, Price, Qty, RejectReason, SelfTradePrevention, Side, Symbol, TimeInForce, TradeId,
    Trail,
};

use super::classes::Member;
use super::sessions::Admit;
use super::stops::Stops;
use super::trailing::{self, Trailing};
use super::{Engine, Working, reject};

/// A fingerprint of everything a new order asks for, kept with its client order id so that
/// a resend (the same order again) is told from a different order reusing the id. FNV-1a
/// over a fixed byte layout: stable across builds and platforms, unlike a std hasher, so
/// snapshots and replays agree; 2^-64 odds that two different orders collide.
pub(super) fn fingerprint(req: &OrderRequest) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(req.symbol.as_str().as_bytes());
    eat(&[0xff]);
    eat(&[
        match req.side {
            Side::Buy => 1,
            Side::Sell => 2,
        },
        match req.order_type {
            OrderType::Limit => 1,
            OrderType::Market => 2,
            OrderType::Stop => 3,
            OrderType::StopLimit => 4,
            OrderType::TrailingStop => 5,
        },
        match req.tif {
            TimeInForce::Gtc => 1,
            TimeInForce::Day => 2,
            TimeInForce::Ioc => 3,
            TimeInForce::Fok => 4,
            TimeInForce::Opg => 5,
            TimeInForce::Cls => 6,
        },
        u8::from(req.post_only),
        match req.stp {
            SelfTradePrevention::CancelIncoming => 1,
            SelfTradePrevention::CancelResting => 2,
            SelfTradePrevention::CancelBoth => 3,
        },
    ]);
    eat(&req.qty.raw().to_le_bytes());
    // Options are eaten only when set, so an order without them keeps the fingerprint it
    // had before they existed (a resend across an upgrade is still a resend).
    if req.opts != OrderOptions::default() {
        eat(&[0xfe, u8::from(req.opts.extended_hours)]);
        match req.opts.trail {
            Some(Trail::Price(p)) => {
                eat(&[1]);
                eat(&p.raw().to_le_bytes());
            }
            Some(Trail::Bps(b)) => {
                eat(&[2]);
                eat(&b.to_le_bytes());
            }
            None => eat(&[0]),
        }
        if let Some(n) = req.opts.notional {
            eat(&[3]);
            eat(&n.raw().to_le_bytes());
        }
    }
    for p in [req.limit_price, req.stop_price] {
        match p {
            Some(p) => {
                eat(&[1]);
                eat(&p.raw().to_le_bytes());
            }
            None => eat(&[0]),
        }
    }
    h
}

impl Engine {
    /// The checks every new order (or class) passes first: the symbol, the account, a
    /// resent or reused client order id, a halt. Returns the instrument's index.
    pub(super) fn precheck(&self, req: &OrderRequest) -> Result<usize, Event> {
        let rej = |reason| reject(Some(req.account), None, req.client_order_id, reason);
        let Some(&ii) = self.by_symbol.get(&req.symbol) else {
            return Err(rej(RejectReason::UnknownSymbol));
        };
        let i = ii as usize;
        if self.account(req.account).is_none() {
            return Err(rej(RejectReason::UnknownAccount));
        }
        if self.profiles.is_unverified(req.account) {
            return Err(rej(RejectReason::ContactNotVerified));
        }
        if let Some(cid) = req.client_order_id
            && let Some(&(original, fp)) = self.client_ids.get(&(req.account, cid))
        {
            // The same order sent again is a resend (answered with the original); another
            // order under a used id is refused, naming the original.
            let reason = if fp == fingerprint(req) {
                RejectReason::ResentOrder
            } else {
                RejectReason::DuplicateClientOrderId
            };
            return Err(reject(Some(req.account), Some(original), Some(cid), reason));
        }
        if self.halted[i] {
            return Err(rej(RejectReason::SymbolHalted));
        }
        Ok(i)
    }

    /// The per-share price a stop (market) order is protected at, from its stop price: a
    /// buy trades no further than the collar beyond it.
    pub(super) fn stop_reserve_px(&self, i: usize, side: Side, stop: Price) -> Price {
        match side {
            Side::Buy => stop
                .offset_bps(i64::from(self.cfg.market_collar_bps))
                .map_or(stop, |p| p.floor_to(self.instruments[i].tick).max(stop)),
            Side::Sell => stop,
        }
    }

    pub(super) fn submit(&mut self, req: &OrderRequest, out: &mut Vec<Event>) {
        let rej = |reason| reject(Some(req.account), None, req.client_order_id, reason);
        let i = match self.precheck(req) {
            Ok(i) => i,
            Err(e) => return out.push(e),
        };
        let ii = u32::try_from(i).unwrap_or(u32::MAX);
        if let Err(reason) = self.check_order(i, req) {
            return out.push(rej(reason));
        }
        // A trailing stop is a stop whose price starts the trail from the last trade (or the
        // reference price before any); the request keeps what the client sent, for its
        // fingerprint.
        let sent = req;
        // Only a trailing stop's request is copied (with its first stop): a copy of every
        // order's request, larger than an inlined move, showed in `Engine::apply`'s profile.
        let trailing_req;
        let (req, trailing) = match (req.order_type, req.opts.trail) {
            (OrderType::TrailingStop, Some(trail)) => match self.trailing_start(i, req, trail) {
                Some((r, t)) => {
                    trailing_req = r;
                    (&trailing_req, Some(t))
                }
                None => return out.push(rej(RejectReason::InvalidTrail)),
            },
            _ => (req, None),
        };
        let admit = if req.stop_price.is_some() {
            Admit::Book
        } else {
            match self.admit(req) {
                Ok(a) => a,
                Err(reason) => return out.push(rej(reason)),
            }
        };
        let book = &self.books[i];
        let reserve_px = match (req.limit_price, req.stop_price) {
            (Some(p), _) => p,
            // A stop (market) order is protected like a market order, from its stop price:
            // it will trade no further than the collar beyond it.
            (None, Some(stop)) => self.stop_reserve_px(i, req.side, stop),
            // Waiting, or in a call, a market order has no opposite side to be priced from.
            (None, None) if admit != Admit::Book || book.in_call() => {
                self.reference_collar(i, req.side)
            }
            (None, None) => match book.market_collar(req.side) {
                Some(p) => p,
                None => return out.push(rej(RejectReason::NoLiquidity)),
            },
        };
        // A notional order becomes the quantity its money buys (or, selling, brings in)
        // from the book as it stands; the book still stops at the money.
        let sized;
        let req = match req.opts.notional {
            Some(cap) => {
                if admit != Admit::Book || book.in_call() {
                    return out.push(rej(RejectReason::MarketClosed));
                }
                let qty = book.notional_qty(req.side, cap, reserve_px);
                if let Err(reason) = self.check_qty(i, qty) {
                    return out.push(rej(reason));
                }
                sized = OrderRequest { qty, ..*req };
                &sized
            }
            None => req,
        };
        if let Err(reason) = self.check_notional(i, reserve_px, req.qty) {
            return out.push(rej(reason));
        }
        // Pre-trade risk: a cash account buys with cash it has and sells shares it holds.
        let mut reserved_cash = Cash::ZERO;
        match req.side {
            Side::Buy => {
                let need = self.buy_hold(
                    reserve_px,
                    req.qty.raw(),
                    super::ledger::Rounding::default(),
                    req.opts.notional,
                );
                let Some(need) = need else {
                    return out.push(rej(RejectReason::ArithmeticOverflow));
                };
                let Some(a) = self.account(req.account) else {
                    return;
                };
                let available = a.cash.checked_sub(a.reserved).unwrap_or(Cash::ZERO);
                if need > available {
                    return out.push(rej(RejectReason::InsufficientBuyingPower));
                }
                reserved_cash = need;
            }
            Side::Sell => {
                let Some(pi) = self.pos_index(req.account, i) else {
                    return;
                };
                let p = &self.positions[pi];
                if p.qty - p.reserved < req.qty.raw() {
                    return out.push(rej(RejectReason::InsufficientPosition));
                }
            }
        }
        let order_id = OrderId::new(self.next_order_id);
        self.next_order_id += 1;
        // Reserve first: the book's events release and settle against it.
        match req.side {
            Side::Buy => {
                if let Some(a) = self.account_mut(req.account) {
                    a.reserved = a.reserved.checked_add(reserved_cash).unwrap_or(a.cash);
                }
            }
            Side::Sell => {
                if let Some(pi) = self.pos_index(req.account, i) {
                    self.positions[pi].reserved += req.qty.raw();
                }
            }
        }
        self.orders.insert(
            order_id,
            Working {
                account: req.account,
                instrument: ii,
                side: req.side,
                order_type: req.order_type,
                limit_price: req.limit_price,
                client_order_id: req.client_order_id,
                cum_qty: 0,
                cum_notional: Cash::ZERO,
                round: super::ledger::Rounding::default(),
                leaves: req.qty.raw(),
                reserve_px,
                reserved_cash,
                tif: req.tif,
                stp: req.stp,
                stop_price: req.stop_price,
                held: req.stop_price.is_some(),
                extended_hours: req.opts.extended_hours,
                wait: None,
                class: self.forming.map(Member::Entry),
            },
        );
        if let Some(cid) = req.client_order_id {
            self.client_ids
                .insert((req.account, cid), (order_id, fingerprint(sent)));
        }
        let accepted = Event::OrderAccepted {
            order_id,
            account: req.account,
            symbol: req.symbol,
            client_order_id: req.client_order_id,
            side: req.side,
            order_type: req.order_type,
            tif: req.tif,
            qty: req.qty,
            limit_price: req.limit_price,
            stop_price: req.stop_price,
            notional: req.opts.notional.unwrap_or(Cash::ZERO),
            extended_hours: req.opts.extended_hours,
        };
        if let Some(stop) = req.stop_price {
            out.push(accepted);
            return self.hold_new_stop(i, order_id, req, stop, trailing, out);
        }
        if let Admit::Wait(auction) = admit {
            out.push(accepted);
            self.wait_for(i, order_id, auction);
            return;
        }
        // In a call a market order rests at the price it reserved cash at.
        let price = match req.limit_price {
            None if self.books[i].in_call() => Some(reserve_px),
            p => p,
        };
        let mut ev = std::mem::take(&mut self.scratch);
        ev.clear();
        self.books[i].submit(
            &NewOrder {
                id: order_id,
                owner: req.account,
                side: req.side,
                price,
                qty: req.qty,
                tif: req.tif,
                post_only: req.post_only,
                stp: req.stp,
                notional: req.opts.notional,
            },
            &mut ev,
        );
        // A notional order's fills hold no more than what is left of its cap.
        self.notional_cap = req.opts.notional.map(|cap| (order_id, cap));
        let traded = self.translate(&ev, Some(accepted), out);
        self.notional_cap = None;
        self.scratch = ev;
        // Every command leaves no stop its last trade reached, so one that did not trade
        // has none to trigger: a look at the queues' heads (pointer chases in two trees)
        // cost every resting order when many stops were held.
        if traded {
            self.run_triggers(i, out);
        }
    }

    /// A trailing stop's request with its first stop, the trail from the last trade (or the
    /// reference price before any), and what it follows with; `None` if no positive stop
    /// price is that far. Out of line, as the other paths only some orders take: inlined,
    /// they spread `submit`'s common path over more of the instruction cache.
    #[cold]
    #[inline(never)]
    fn trailing_start(
        &self,
        i: usize,
        req: &OrderRequest,
        trail: Trail,
    ) -> Option<(OrderRequest, Trailing)> {
        let water = self.reference(i);
        let stop = trailing::stop_for(req.side, water, trail, self.instruments[i].tick)?;
        let t = Trailing {
            side: req.side,
            trail,
            water,
        };
        Some((
            OrderRequest {
                stop_price: Some(stop),
                ..*req
            },
            t,
        ))
    }

    /// A new stop order (accepted) is held until the market reaches `stop`; a trailing one
    /// starts following the trades. It triggers at once if the market is through it.
    #[inline(never)]
    fn hold_new_stop(
        &mut self,
        i: usize,
        order_id: OrderId,
        req: &OrderRequest,
        stop: Price,
        trailing: Option<Trailing>,
        out: &mut Vec<Event>,
    ) {
        if let Some(t) = trailing {
            self.trailing[i].insert(order_id, t);
            out.push(Event::OrderStopMoved {
                order_id,
                account: req.account,
                symbol: req.symbol,
                stop_price: stop,
                water: t.water,
                trail: t.trail,
            });
        }
        self.stops[i]
            .map(req.side)
            .insert(Stops::key(req.side, stop, order_id));
        self.run_triggers(i, out);
    }

    pub(super) fn cancel(&mut self, account: AccountId, order_id: OrderId, out: &mut Vec<Event>) {
        let Some(w) = self.orders.get(&order_id).filter(|w| w.account == account) else {
            // Someone else's order is as unknown to the caller as a missing one.
            return out.push(reject(
                Some(account),
                Some(order_id),
                None,
                RejectReason::UnknownOrder,
            ));
        };
        if let Some(Member::Leg(g)) = w.class {
            // An exit: it and its sibling go (the class is one decision).
            return self.cancel_exit(g, order_id, out);
        }
        let i = w.instrument as usize;
        if w.held {
            return self.cancel_held(order_id, CancelReason::Requested, out);
        }
        if w.wait.is_some() {
            return self.cancel_waiting(order_id, CancelReason::Requested, out);
        }
        let mut ev = std::mem::take(&mut self.scratch);
        ev.clear();
        self.books[i].cancel(order_id, &mut ev);
        self.translate(&ev, None, out);
        self.scratch = ev;
    }

    /// Cancels a working order of `account` for `reason`; quietly nothing if it is not one.
    pub(super) fn cancel_for(
        &mut self,
        account: AccountId,
        order_id: OrderId,
        reason: CancelReason,
        out: &mut Vec<Event>,
    ) {
        let Some(w) = self.orders.get(&order_id).filter(|w| w.account == account) else {
            return;
        };
        let i = w.instrument as usize;
        if self.exit_pending(w) {
            return self.cancel_class_order(order_id, reason, out);
        }
        if w.held {
            return self.cancel_held(order_id, reason, out);
        }
        if w.wait.is_some() {
            return self.cancel_waiting(order_id, reason, out);
        }
        let mut ev = std::mem::take(&mut self.scratch);
        ev.clear();
        self.books[i].cancel(order_id, &mut ev);
        for e in &mut ev {
            if let BookEvent::Canceled { reason: r, .. } = e {
                *r = reason;
            }
        }
        self.translate(&ev, None, out);
        self.scratch = ev;
    }

    pub(super) fn replace(
        &mut self,
        account: AccountId,
        order_id: OrderId,
        qty: Qty,
        price: Option<Price>,
        out: &mut Vec<Event>,
    ) {
        let rej = |reason| reject(Some(account), Some(order_id), None, reason);
        let Some(w) = self
            .orders
            .get(&order_id)
            .copied()
            .filter(|w| w.account == account)
        else {
            return out.push(rej(RejectReason::UnknownOrder));
        };
        let i = w.instrument as usize;
        if self.halted[i] {
            return out.push(rej(RejectReason::SymbolHalted));
        }
        // An exit shares its class's one reservation with its sibling; an entry with buy
        // exits has their cash reserved for its quantity: neither grows by a replace.
        let class_bars = match w.class {
            Some(Member::Leg(_)) => true,
            Some(Member::Entry(g)) => {
                qty.raw() > w.leaves
                    && self
                        .groups
                        .get(&g)
                        .is_some_and(|grp| grp.exit_side == Side::Buy)
            }
            None => false,
        };
        if class_bars || w.held || w.wait.is_some() || w.order_type == OrderType::Market {
            // An untriggered stop or an order waiting for an auction is not on the book, and
            // a market order rests only in a call: cancel it and submit a new one.
            return out.push(rej(RejectReason::InvalidOrder));
        }
        let Some(resting) = self.books[i].order(order_id) else {
            return out.push(rej(RejectReason::UnknownOrder));
        };
        let new_price = price.unwrap_or(resting.price);
        // An unchanged price stays valid even if the band has moved away from it.
        let checked = self
            .check_qty(i, qty)
            .and_then(|()| self.check_price(i, new_price, new_price != resting.price));
        if let Err(reason) = checked {
            return out.push(rej(reason));
        }
        if let Err(reason) = self.check_notional(i, new_price, qty) {
            return out.push(rej(reason));
        }
        // Re-reserve for the new terms: release the old reservation, take the new one.
        let Some(a) = self.account(account) else {
            return;
        };
        let (new_cash, share_delta) = match w.side {
            Side::Buy => {
                let need = self.buy_hold(new_price, qty.raw(), w.round, None);
                let Some(need) = need else {
                    return out.push(rej(RejectReason::ArithmeticOverflow));
                };
                let free = a.cash.checked_sub(a.reserved).unwrap_or(Cash::ZERO);
                let extra = need.checked_sub(w.reserved_cash).unwrap_or(Cash::ZERO);
                if extra > free {
                    return out.push(rej(RejectReason::InsufficientBuyingPower));
                }
                (need, 0i128)
            }
            Side::Sell => {
                let Some(pi) = self.pos_index(account, i) else {
                    return;
                };
                let p = &self.positions[pi];
                let delta = i128::from(qty.raw()) - i128::from(w.leaves);
                if delta > 0 && i128::from(p.qty - p.reserved) < delta {
                    return out.push(rej(RejectReason::InsufficientPosition));
                }
                (Cash::ZERO, delta)
            }
        };
        let mut ev = std::mem::take(&mut self.scratch);
        ev.clear();
        self.books[i].replace(order_id, new_price, qty, &mut ev);
        let replaced = ev.iter().any(|e| matches!(e, BookEvent::Replaced { .. }));
        if replaced {
            // Apply the new reservation before the fills that may follow settle against it.
            match w.side {
                Side::Buy => {
                    if let Some(a) = self.account_mut(account) {
                        a.reserved = a
                            .reserved
                            .checked_sub(w.reserved_cash)
                            .and_then(|r| r.checked_add(new_cash))
                            .unwrap_or(a.reserved);
                    }
                }
                Side::Sell => {
                    if let Some(pi) = self.pos_index(account, i) {
                        let p = &mut self.positions[pi];
                        p.reserved =
                            u64::try_from(i128::from(p.reserved) + share_delta).unwrap_or(0);
                    }
                }
            }
            if let Some(o) = self.orders.get_mut(&order_id) {
                o.leaves = qty.raw();
                o.limit_price = Some(new_price);
                o.reserve_px = new_price;
                o.reserved_cash = new_cash;
            }
        }
        let traded = self.translate(&ev, None, out);
        self.scratch = ev;
        if traded {
            self.run_triggers(i, out);
        }
    }

    pub(super) fn mass_cancel(
        &mut self,
        account: Option<AccountId>,
        symbol: Option<Symbol>,
        out: &mut Vec<Event>,
    ) {
        let range = match symbol {
            Some(s) => match self.by_symbol.get(&s) {
                Some(&i) => i as usize..i as usize + 1,
                None => return out.push(reject(account, None, None, RejectReason::UnknownSymbol)),
            },
            None => 0..self.books.len(),
        };
        for i in range {
            let mut ev = std::mem::take(&mut self.scratch);
            ev.clear();
            match account {
                Some(a) => self.books[i].mass_cancel(a, None, &mut ev),
                None => self.books[i].cancel_all(&mut ev),
            };
            self.translate(&ev, None, out);
            self.scratch = ev;
            let mine = |w: &Working| account.is_none_or(|a| a == w.account);
            self.cancel_held_where(i, mine, CancelReason::MassCancel, out);
            self.cancel_waiting_where(i, mine, CancelReason::MassCancel, out);
            self.cancel_pending_where(i, mine, CancelReason::MassCancel, out);
        }
    }

    /// Turns a book's events into exchange events, settling fills and releasing
    /// reservations as they come. `accepted` goes out in place of the book's `Accepted`.
    /// Whether anything traded (only a trade can reach a held stop).
    pub(super) fn translate(
        &mut self,
        events: &[BookEvent],
        mut accepted: Option<Event>,
        out: &mut Vec<Event>,
    ) -> bool {
        // The instrument traded and its highest and lowest trade price in `events`.
        let mut range: Option<(usize, Price, Price)> = None;
        for e in events {
            match *e {
                BookEvent::Accepted { .. } => {
                    if let Some(a) = accepted.take() {
                        out.push(a);
                    }
                }
                BookEvent::Rejected {
                    id,
                    reason,
                    request,
                } => {
                    let w = self.orders.get(&id).copied();
                    if request == Request::Submit {
                        // Refused on arrival (post-only, no liquidity): undo the reservation.
                        self.finish(id);
                    }
                    out.push(reject(
                        w.map(|w| w.account),
                        Some(id),
                        w.and_then(|w| w.client_order_id),
                        reason,
                    ));
                }
                BookEvent::Fill {
                    maker,
                    taker,
                    taker_side,
                    price,
                    qty,
                    ..
                } => {
                    let trade_id = TradeId::new(self.next_trade_id);
                    self.next_trade_id += 1;
                    let Some(i) = self.orders.get(&taker).map(|w| w.instrument as usize) else {
                        continue;
                    };
                    let symbol = self.instruments[i].symbol;
                    out.push(Event::Trade {
                        symbol,
                        trade_id,
                        price,
                        qty,
                        aggressor: taker_side,
                        maker_order: maker,
                        taker_order: taker,
                    });
                    for (id, liquidity) in [(maker, Liquidity::Maker), (taker, Liquidity::Taker)] {
                        let member = self.orders.get(&id).and_then(|w| w.class);
                        if let Some(ev) = self.settle(id, trade_id, price, qty, liquidity) {
                            out.push(ev);
                            if let Some(m) = member {
                                self.class_fill(m, id, qty.raw(), out);
                            }
                        }
                    }
                    // Trailing stops follow the submission's best price once, after its
                    // fills: a taker's sweep is monotone, so the marks end where they would
                    // trade by trade, with one move per order instead of one per level.
                    let (hi, lo) =
                        range.map_or((price, price), |(_, h, l)| (h.max(price), l.min(price)));
                    range = Some((i, hi, lo));
                }
                BookEvent::Rested {
                    id,
                    side,
                    price,
                    qty,
                } => {
                    if let Some(w) = self.orders.get(&id) {
                        let symbol = self.instruments[w.instrument as usize].symbol;
                        out.push(Event::OrderRested {
                            order_id: id,
                            symbol,
                            side,
                            price,
                            qty,
                        });
                    }
                }
                BookEvent::Canceled {
                    id,
                    side,
                    qty,
                    resting_price,
                    reason,
                    ..
                } => {
                    if let Some(w) = self.orders.get(&id).copied() {
                        let symbol = self.instruments[w.instrument as usize].symbol;
                        self.finish(id);
                        // A triggered stop (market) order enters as an IOC; what it leaves
                        // is a market order's remainder.
                        let reason = match (w.order_type, reason) {
                            (
                                OrderType::Stop | OrderType::TrailingStop,
                                CancelReason::IocRemainder,
                            ) => CancelReason::MarketRemainder,
                            (_, r) => r,
                        };
                        out.push(Event::OrderCanceled {
                            order_id: id,
                            account: w.account,
                            symbol,
                            side,
                            qty,
                            resting_price,
                            reason,
                        });
                    }
                }
                BookEvent::Replaced {
                    id,
                    side,
                    old_price,
                    old_qty,
                    price,
                    qty,
                    priority,
                } => {
                    if let Some(w) = self.orders.get(&id) {
                        out.push(Event::OrderReplaced {
                            order_id: id,
                            account: w.account,
                            symbol: self.instruments[w.instrument as usize].symbol,
                            side,
                            old_price: Some(old_price),
                            old_qty,
                            price: Some(price),
                            qty,
                            priority_kept: priority == Priority::Kept,
                        });
                    }
                }
            }
        }
        if let Some((i, hi, lo)) = range
            && !self.trailing[i].is_empty()
        {
            self.follow_trades(i, hi, lo, out);
        }
        range.is_some()
    }

    /// Whether the order is still working.
    #[must_use]
    pub fn is_working(&self, id: OrderId) -> bool {
        self.orders.contains_key(&id)
    }
}
