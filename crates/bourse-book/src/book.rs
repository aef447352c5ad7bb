//! The order book: resting orders in a slab with intrusive FIFO lists per price level, found
//! by id through a direct-mapped ring, and the matching rules.
//!
//! The ring: ids are assigned in sequence, so the entry for order `id` is `ring[id mod C]`
//! (C a power of two, four times the pre-sized order count; 4 bytes an entry): finding an
//! order is one read of a small dense array and one of its node, with no hash to compute or
//! probe. An order whose entry is still held by an older live order (one that outlived C
//! newer ids) is found through a small hash map instead. The slab reuses freed slots first,
//! so the nodes in use stay few and warm. Measured against the hash index it replaced in
//! docs/BENCHMARKS.md ("The worst case").

use bourse_core::{
    AccountId, CancelReason, Cash, Divisor, OrderId, Price, Qty, RejectReason, SelfTradePrevention,
    Side, TimeInForce,
};
use rustc_hash::FxHashMap;

use crate::event::{BookEvent, EventSink, Priority, Request};
use crate::ladder::{Ladder, NIL};

mod call;

/// Per-instrument rules the book enforces itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookConfig {
    /// Every limit price must be a multiple of this.
    pub tick: Price,
    /// Every quantity must be a multiple of this.
    pub lot: Qty,
    /// A market order trades no further than this many basis points through the best
    /// opposite price seen on arrival.
    pub market_collar_bps: u32,
}

impl Default for BookConfig {
    fn default() -> Self {
        Self {
            tick: Price::from_raw(100),
            lot: Qty::ONE,
            market_collar_bps: 500,
        }
    }
}

/// An order as submitted to the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewOrder {
    pub id: OrderId,
    pub owner: AccountId,
    pub side: Side,
    /// Limit price; `None` is a market order.
    pub price: Option<Price>,
    pub qty: Qty,
    pub tif: TimeInForce,
    /// Reject instead of taking liquidity.
    pub post_only: bool,
    pub stp: SelfTradePrevention,
    /// A market order's spending cap: it takes no more than this value (price × quantity,
    /// exactly) from the book, whatever its quantity (Alpaca's `notional`).
    pub notional: Option<Cash>,
}

impl NewOrder {
    /// A GTC limit order for `shares` whole shares, with default options.
    #[must_use]
    pub fn limit(id: u64, owner: u64, side: Side, price: Price, shares: u64) -> Self {
        Self {
            id: OrderId::new(id),
            owner: AccountId::new(owner),
            side,
            price: Some(price),
            qty: Qty::shares(shares),
            tif: TimeInForce::Gtc,
            post_only: false,
            stp: SelfTradePrevention::CancelIncoming,
            notional: None,
        }
    }

    /// A market order for `shares` whole shares, with default options.
    #[must_use]
    pub fn market(id: u64, owner: u64, side: Side, shares: u64) -> Self {
        Self {
            price: None,
            tif: TimeInForce::Ioc,
            ..Self::limit(id, owner, side, Price::ZERO, shares)
        }
    }

    #[must_use]
    pub fn with_tif(mut self, tif: TimeInForce) -> Self {
        self.tif = tif;
        self
    }

    #[must_use]
    pub fn with_post_only(mut self) -> Self {
        self.post_only = true;
        self
    }

    #[must_use]
    pub fn with_stp(mut self, stp: SelfTradePrevention) -> Self {
        self.stp = stp;
        self
    }
}

/// A resting order as seen from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestingOrder {
    pub id: OrderId,
    pub owner: AccountId,
    pub side: Side,
    pub price: Price,
    /// Open (leaves) quantity.
    pub qty: Qty,
    pub tif: TimeInForce,
    pub post_only: bool,
    pub stp: SelfTradePrevention,
}

/// One aggregated price level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevelView {
    pub price: Price,
    pub qty: Qty,
    pub orders: u32,
}

/// A resting order in the pool: 40 bytes, only what matching and the lists touch. Its price
/// is its level's.
#[derive(Clone, Copy, Debug)]
struct Node {
    id: OrderId,
    owner: AccountId,
    qty: u64,
    prev: u32,
    next: u32,
    /// Slot of its price level in its side's ladder (`NIL` while not linked).
    level: u32,
    side: Side,
    tif: TimeInForce,
    post_only: bool,
    stp: SelfTradePrevention,
}

/// The incoming side of a match: an arriving order, or a replaced one re-entering.
struct Taker {
    id: OrderId,
    owner: AccountId,
    side: Side,
    /// The worst price it may trade at (a market order's collar).
    limit: Price,
    qty: u64,
    stp: SelfTradePrevention,
    /// What it may still spend, exactly (price raw × quantity raw); `u128::MAX` is no cap.
    budget: u128,
}

/// How a match ended, when it did not simply run out of quantity or crossing liquidity.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MatchEnd {
    Done,
    SelfTrade,
    /// A fill-or-kill that could not fill completely; nothing traded.
    Killed,
}

/// One symbol's limit order book. All methods are synchronous and allocation-free once the
/// internal tables have grown to the working size.
#[derive(Debug)]
pub struct OrderBook {
    cfg: BookConfig,
    /// `cfg.tick` and `cfg.lot` as division-free divisibility tests (`None`: nothing fits).
    tick: Option<Divisor>,
    lot: Option<Divisor>,
    bids: Ladder,
    asks: Ladder,
    /// The orders, in slots reused through a free list (linked through `next`), so the
    /// slots in use stay few and warm.
    nodes: Vec<Node>,
    free_head: u32,
    /// The slot of the order whose id is `i` modulo its length, or `NIL`.
    ring: Box<[u32]>,
    mask: u64,
    /// Orders whose ring entry was held by an older live order, by id.
    spill: FxHashMap<OrderId, u32>,
    /// Orders in the pool (resting, or the one being matched).
    live: usize,
    last_trade: Option<Price>,
    /// A call auction is running: orders rest without matching (the book may cross) until
    /// [`OrderBook::uncross`].
    call: bool,
}

impl OrderBook {
    #[must_use]
    pub fn new(cfg: BookConfig) -> Self {
        Self::with_capacity(cfg, 1024, 256)
    }

    /// Pre-sizes for `orders` resting orders and `levels` price levels per side. The id ring
    /// gets four entries per order (at least 1,024): 16 bytes per order.
    #[must_use]
    pub fn with_capacity(cfg: BookConfig, orders: usize, levels: usize) -> Self {
        let ring = orders
            .saturating_mul(4)
            .clamp(1024, 1 << 30)
            .next_power_of_two();
        let tick = u64::try_from(cfg.tick.raw()).ok().and_then(Divisor::new);
        Self {
            cfg,
            tick,
            lot: Divisor::new(cfg.lot.raw()),
            bids: Ladder::with_capacity(Side::Buy, levels, tick),
            asks: Ladder::with_capacity(Side::Sell, levels, tick),
            nodes: Vec::with_capacity(orders),
            free_head: NIL,
            ring: vec![NIL; ring].into_boxed_slice(),
            mask: ring as u64 - 1,
            spill: FxHashMap::default(),
            live: 0,
            last_trade: None,
            call: false,
        }
    }

    #[must_use]
    pub fn config(&self) -> &BookConfig {
        &self.cfg
    }

    // ---------------------------------------------------------------- queries

    #[must_use]
    pub fn best_bid(&self) -> Option<LevelView> {
        self.bids.best().map(view)
    }

    #[must_use]
    pub fn best_ask(&self) -> Option<LevelView> {
        self.asks.best().map(view)
    }

    /// The best `n` levels of `side`, best first.
    pub fn depth(&self, side: Side, n: usize) -> impl Iterator<Item = LevelView> + '_ {
        self.ladder(side).iter().take(n).map(view)
    }

    /// Number of price levels on `side`.
    #[must_use]
    pub fn level_count(&self, side: Side) -> usize {
        self.ladder(side).len()
    }

    /// Aggregate resting quantity at `price` on `side`.
    #[must_use]
    pub fn qty_at(&self, side: Side, price: Price) -> Qty {
        let l = self.ladder(side);
        l.get(price)
            .map_or(Qty::ZERO, |s| Qty::from_raw(l.level(s).qty))
    }

    #[must_use]
    pub fn order(&self, id: OrderId) -> Option<RestingOrder> {
        self.lookup(id).map(|i| self.view(i))
    }

    /// Number of resting orders.
    #[must_use]
    pub fn len(&self) -> usize {
        self.live
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Price of the most recent trade, if any.
    #[must_use]
    pub fn last_trade_price(&self) -> Option<Price> {
        self.last_trade
    }

    /// The resting orders at `price` on `side`, in time priority.
    pub fn orders_at(&self, side: Side, price: Price) -> impl Iterator<Item = RestingOrder> + '_ {
        let l = self.ladder(side);
        let head = l.get(price).map_or(NIL, |s| l.level(s).head);
        self.chain(head)
    }

    /// Every resting order of `side`, best price first, then time priority. Deterministic:
    /// this is the order snapshots and state hashes see.
    pub fn orders(&self, side: Side) -> impl Iterator<Item = RestingOrder> + '_ {
        self.ladder(side).iter().flat_map(|l| self.chain(l.head))
    }

    fn chain(&self, head: u32) -> impl Iterator<Item = RestingOrder> + '_ {
        let mut cur = head;
        std::iter::from_fn(move || {
            let slot = cur;
            cur = self.nodes.get(slot as usize)?.next;
            Some(self.view(slot))
        })
    }

    /// The outside view of the linked order in `slot`.
    fn view(&self, slot: u32) -> RestingOrder {
        let n = &self.nodes[slot as usize];
        RestingOrder {
            id: n.id,
            owner: n.owner,
            side: n.side,
            price: self.ladder(n.side).level(n.level).price,
            qty: Qty::from_raw(n.qty),
            tif: n.tif,
            post_only: n.post_only,
            stp: n.stp,
        }
    }

    fn ladder(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    /// Whether a `side` order limited at `limit` would trade against the best opposite level.
    #[inline]
    #[must_use]
    pub fn would_cross(&self, side: Side, limit: Price) -> bool {
        match side {
            Side::Buy => self.asks.best().is_some_and(|l| l.price <= limit),
            Side::Sell => self.bids.best().is_some_and(|l| l.price >= limit),
        }
    }

    /// What a notional order of `notional` dollars on `side` would take from the book as it
    /// stands: level by level from the best, no further than `limit`, the millionths of a
    /// share the money left affords at each price (as its match does, self-trades aside).
    #[must_use]
    pub fn notional_qty(&self, side: Side, notional: Cash, limit: Price) -> Qty {
        let mut budget = notional.exact();
        let mut qty = 0u64;
        for level in self.depth(side.opposite(), usize::MAX) {
            if !crosses(side, limit, level.price) {
                break;
            }
            let take = spend(&mut budget, level.price, level.qty.raw());
            qty = qty.saturating_add(take);
            if take < level.qty.raw() {
                break;
            }
        }
        Qty::from_raw(qty)
    }

    /// Restores the last trade price, for a book rebuilt from a snapshot.
    pub fn set_last_trade_price(&mut self, price: Option<Price>) {
        self.last_trade = price;
    }

    /// Checks every structural invariant, for tests and randomized runs (O(book size)):
    /// levels strictly sorted with the best last and never empty; each level's aggregate
    /// and count equal its orders'; no zero-quantity order; the FIFO links agree both ways;
    /// the id lookup finds exactly the linked orders; side totals match; never crossed.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.check(true)
    }

    /// [`OrderBook::check_invariants`] but for the scan of each price ladder's empty cells
    /// (O(window), whatever the book holds): for runs that check after every command and do
    /// the whole check every so often.
    pub fn check_invariants_quick(&self) -> Result<(), String> {
        self.check(false)
    }

    fn check(&self, deep: bool) -> Result<(), String> {
        let mut linked = 0usize;
        for ladder in [&self.bids, &self.asks] {
            ladder.check(deep)?;
            let mut total: u128 = 0;
            for slot in ladder.slots_best_first() {
                let level = ladder.level(slot);
                let (mut qty, mut count, mut prev, mut cur) = (0u64, 0u32, NIL, level.head);
                while cur != NIL {
                    let n = self.nodes.get(cur as usize).ok_or("link past the slab")?;
                    if n.prev != prev {
                        return Err(format!("broken back link at {:?}", n.id));
                    }
                    if n.qty == 0 || n.level != slot {
                        return Err(format!("bad order {:?} at level {:?}", n, level.price));
                    }
                    if self.lookup(n.id) != Some(cur) {
                        return Err(format!("id lookup does not find {:?}", n.id));
                    }
                    qty = qty.checked_add(n.qty).ok_or("level overflow")?;
                    count += 1;
                    prev = cur;
                    cur = n.next;
                }
                if count == 0 || level.count != count || level.qty != qty || level.tail != prev {
                    return Err(format!(
                        "level {:?} aggregates disagree with its orders",
                        level.price
                    ));
                }
                total += u128::from(qty);
                linked += count as usize;
            }
            if total != ladder.total {
                return Err("side total disagrees with its levels".to_owned());
            }
        }
        if linked != self.live {
            return Err(format!(
                "{} linked orders but {} in the pool",
                linked, self.live
            ));
        }
        // O(ring capacity) too: deep only.
        let homed = || self.ring.iter().filter(|&&s| s != NIL).count();
        if deep && homed() + self.spill.len() != self.live {
            return Err("ring and spill map do not name every order once".to_owned());
        }
        if let (false, Some(b), Some(a)) = (self.call, self.bids.best(), self.asks.best())
            && b.price >= a.price
        {
            return Err(format!(
                "crossed at rest: bid {:?} >= ask {:?}",
                b.price, a.price
            ));
        }
        Ok(())
    }

    // ---------------------------------------------------------------- commands

    /// Submits a new order: validate, match as far as its limit allows, then rest or cancel
    /// the remainder according to its time in force.
    pub fn submit(&mut self, o: &NewOrder, out: &mut impl EventSink) {
        let reject = |reason| BookEvent::Rejected {
            id: o.id,
            request: Request::Submit,
            reason,
        };
        if let Err(reason) = self.validate(o) {
            out.emit(reject(reason));
            return;
        }
        if self.call && (o.price.is_none() || !o.tif.may_rest()) {
            // A call only collects priced orders that may wait for the uncross.
            out.emit(reject(RejectReason::InvalidOrder));
            return;
        }
        if self.lookup(o.id).is_some() {
            out.emit(reject(RejectReason::DuplicateOrderId));
            return;
        }
        let slot = self.alloc(Node {
            id: o.id,
            owner: o.owner,
            qty: o.qty.raw(),
            prev: NIL,
            next: NIL,
            level: NIL,
            side: o.side,
            tif: o.tif,
            post_only: o.post_only,
            stp: o.stp,
        });
        if let Err(reason) = self.admit(o) {
            self.release(slot);
            out.emit(reject(reason));
            return;
        }
        let limit = match o.price {
            Some(p) => p,
            None => match self.market_collar(o.side) {
                Some(p) => p,
                None => {
                    self.release(slot);
                    out.emit(reject(RejectReason::NoLiquidity));
                    return;
                }
            },
        };
        out.emit(BookEvent::Accepted {
            id: o.id,
            owner: o.owner,
            side: o.side,
            price: o.price,
            qty: o.qty,
        });
        if self.call {
            self.link(slot, limit);
            out.emit(BookEvent::Rested {
                id: o.id,
                side: o.side,
                price: limit,
                qty: o.qty,
            });
            return;
        }
        let mut taker = Taker {
            id: o.id,
            owner: o.owner,
            side: o.side,
            limit,
            qty: o.qty.raw(),
            stp: o.stp,
            budget: o.notional.map_or(u128::MAX, Cash::exact),
        };
        let end = if o.tif == TimeInForce::Fok && !self.can_fill(&taker) {
            MatchEnd::Killed
        } else {
            self.match_if_crossing(&mut taker, out)
        };
        if taker.qty == 0 {
            self.release(slot);
            return;
        }
        let reason = match end {
            MatchEnd::SelfTrade => CancelReason::SelfTrade,
            MatchEnd::Killed => CancelReason::FokUnfilled,
            MatchEnd::Done if o.price.is_none() => CancelReason::MarketRemainder,
            MatchEnd::Done if o.tif.may_rest() => {
                self.nodes[slot as usize].qty = taker.qty;
                self.link(slot, limit);
                out.emit(BookEvent::Rested {
                    id: o.id,
                    side: o.side,
                    price: limit,
                    qty: Qty::from_raw(taker.qty),
                });
                return;
            }
            // Unreachable when can_fill agrees with match_taker; kept so that a disagreement
            // can never leave a partially filled FOK resting.
            MatchEnd::Done if o.tif == TimeInForce::Fok => CancelReason::FokUnfilled,
            MatchEnd::Done => CancelReason::IocRemainder,
        };
        self.release(slot);
        self.cancel_incoming(&taker, reason, out);
    }

    /// Cancels a resting order.
    pub fn cancel(&mut self, id: OrderId, out: &mut impl EventSink) {
        match self.lookup(id) {
            Some(slot) => self.take_resting(slot, CancelReason::Requested, out),
            None => out.emit(BookEvent::Rejected {
                id,
                request: Request::Cancel,
                reason: RejectReason::UnknownOrder,
            }),
        }
    }

    /// Replaces a resting order's price and open quantity. A smaller or equal quantity at the
    /// same price keeps time priority; anything else loses it and re-enters as a new arrival
    /// with the same id, which may trade (at the resting orders' prices).
    pub fn replace(&mut self, id: OrderId, price: Price, qty: Qty, out: &mut impl EventSink) {
        let reject = |reason| BookEvent::Rejected {
            id,
            request: Request::Replace,
            reason,
        };
        let Some(slot) = self.lookup(id) else {
            out.emit(reject(RejectReason::UnknownOrder));
            return;
        };
        if let Err(reason) = self.validate_price_qty(Some(price), qty) {
            out.emit(reject(reason));
            return;
        }
        let old = self.view(slot);
        let level = self.nodes[slot as usize].level;
        if price == old.price && qty <= old.qty {
            let ladder = self.ladder_mut(old.side);
            let shrink = old.qty.raw() - qty.raw();
            ladder.total -= u128::from(shrink);
            ladder.level_mut(level).qty -= shrink;
            self.nodes[slot as usize].qty = qty.raw();
            out.emit(BookEvent::Replaced {
                id,
                side: old.side,
                old_price: old.price,
                old_qty: old.qty,
                price,
                qty,
                priority: Priority::Kept,
            });
            return;
        }
        if old.post_only && !self.call && self.would_cross(old.side, price) {
            out.emit(reject(RejectReason::PostOnlyWouldTake));
            return;
        }
        // Only at its own level does the order's old quantity make room for the new one.
        let growth = if price == old.price {
            qty.raw().saturating_sub(old.qty.raw())
        } else {
            qty.raw()
        };
        if self.level_would_overflow(old.side, price, growth) {
            out.emit(reject(RejectReason::ArithmeticOverflow));
            return;
        }
        self.unlink(slot);
        out.emit(BookEvent::Replaced {
            id,
            side: old.side,
            old_price: old.price,
            old_qty: old.qty,
            price,
            qty,
            priority: Priority::Lost,
        });
        if self.call {
            self.nodes[slot as usize].qty = qty.raw();
            self.link(slot, price);
            out.emit(BookEvent::Rested {
                id,
                side: old.side,
                price,
                qty,
            });
            return;
        }
        let mut taker = Taker {
            id,
            owner: old.owner,
            side: old.side,
            limit: price,
            qty: qty.raw(),
            stp: old.stp,
            budget: u128::MAX,
        };
        let end = self.match_if_crossing(&mut taker, out);
        if taker.qty == 0 {
            self.release(slot);
        } else if end == MatchEnd::SelfTrade {
            self.release(slot);
            self.cancel_incoming(&taker, CancelReason::SelfTrade, out);
        } else {
            self.nodes[slot as usize].qty = taker.qty;
            self.link(slot, price);
            out.emit(BookEvent::Rested {
                id,
                side: old.side,
                price,
                qty: Qty::from_raw(taker.qty),
            });
        }
    }

    /// Cancels every resting order of `owner` (on one side, or both), best price first.
    /// Returns how many were cancelled. Costs a walk over the whole book: the engine keeps
    /// its own per-account order sets for anything frequent.
    pub fn mass_cancel(
        &mut self,
        owner: AccountId,
        side: Option<Side>,
        out: &mut impl EventSink,
    ) -> usize {
        self.remove_where(
            |o| o.owner == owner && side.is_none_or(|s| s == o.side),
            CancelReason::MassCancel,
            out,
        )
    }

    /// Cancels every resting order (mass cancel of a whole symbol). Returns how many.
    pub fn cancel_all(&mut self, out: &mut impl EventSink) -> usize {
        self.remove_where(|_| true, CancelReason::MassCancel, out)
    }

    /// Expires every resting DAY order (end of the trading day). Returns how many.
    pub fn expire_day_orders(&mut self, out: &mut impl EventSink) -> usize {
        self.remove_where(|o| o.tif == TimeInForce::Day, CancelReason::Expired, out)
    }

    // ---------------------------------------------------------------- internals

    /// Checks that need no book state.
    fn validate(&self, o: &NewOrder) -> Result<(), RejectReason> {
        self.validate_price_qty(o.price, o.qty)?;
        if o.price.is_none() && o.post_only {
            return Err(RejectReason::InvalidOrder);
        }
        Ok(())
    }

    /// The checks against the book, for an order already in the pool.
    fn admit(&self, o: &NewOrder) -> Result<(), RejectReason> {
        if let Some(p) = o.price {
            if o.tif.may_rest() && self.level_would_overflow(o.side, p, o.qty.raw()) {
                return Err(RejectReason::ArithmeticOverflow);
            }
            if o.post_only && !self.call && self.would_cross(o.side, p) {
                return Err(RejectReason::PostOnlyWouldTake);
            }
        }
        Ok(())
    }

    fn validate_price_qty(&self, price: Option<Price>, qty: Qty) -> Result<(), RejectReason> {
        if qty.is_zero() {
            return Err(RejectReason::InvalidQuantity);
        }
        if !self.lot.is_some_and(|d| d.divides(qty.raw())) {
            return Err(RejectReason::QtyOffLot);
        }
        if let Some(p) = price {
            if !p.is_positive() {
                return Err(RejectReason::InvalidPrice);
            }
            // Positive here, so the cast is exact.
            if !self.tick.is_some_and(|d| d.divides(p.raw().unsigned_abs())) {
                return Err(RejectReason::PriceOffTick);
            }
        }
        Ok(())
    }

    /// Whether resting `add` more shares at `price` could overflow the level's aggregate.
    fn level_would_overflow(&self, side: Side, price: Price, add: u64) -> bool {
        let l = self.ladder(side);
        // No level can hold more than its whole side: the common case needs no level lookup.
        if l.total + u128::from(add) <= u128::from(u64::MAX) {
            return false;
        }
        let have = l.get(price).map_or(0, |s| l.level(s).qty);
        have.checked_add(add).is_none()
    }

    /// The worst price a market order may reach: the collar through the best opposite price,
    /// rounded inward to the tick. `None` if the opposite side is empty.
    #[must_use]
    pub fn market_collar(&self, side: Side) -> Option<Price> {
        let bps = i64::from(self.cfg.market_collar_bps);
        match side {
            Side::Buy => {
                let best = self.asks.best()?.price;
                Some(
                    best.offset_bps(bps)
                        .map_or(Price::MAX, |p| p.floor_to(self.cfg.tick))
                        .max(best),
                )
            }
            Side::Sell => {
                let best = self.bids.best()?.price;
                let p = best.offset_bps(-bps).and_then(|p| p.ceil_to(self.cfg.tick));
                Some(p.unwrap_or(best).min(best).max(Price::from_raw(1)))
            }
        }
    }

    /// Whether a fill-or-kill taker would be completely filled, given self-trade prevention.
    fn can_fill(&self, t: &Taker) -> bool {
        let opp = self.ladder(t.side.opposite());
        let mut available: u64 = 0;
        for level in opp.iter() {
            if !crosses(t.side, t.limit, level.price) {
                break;
            }
            let mut cur = level.head;
            while cur != NIL {
                let n = &self.nodes[cur as usize];
                if n.owner == t.owner {
                    if t.stp != SelfTradePrevention::CancelResting {
                        return false;
                    }
                } else {
                    available = available.saturating_add(n.qty);
                    if available >= t.qty {
                        return true;
                    }
                }
                cur = n.next;
            }
        }
        false
    }

    /// Most arrivals do not cross: answer that inline, without the matching loop's call.
    #[inline]
    fn match_if_crossing(&mut self, t: &mut Taker, out: &mut impl EventSink) -> MatchEnd {
        if self.would_cross(t.side, t.limit) {
            self.match_taker(t, out)
        } else {
            MatchEnd::Done
        }
    }

    /// Matches `t` against the opposite side while it crosses. Each trade is at the resting
    /// order's price. The taker always meets the head of the best level; emptied orders and
    /// levels are removed at once, so the best price is never stale.
    fn match_taker(&mut self, t: &mut Taker, out: &mut impl EventSink) -> MatchEnd {
        while t.qty > 0 {
            let opp = match t.side {
                Side::Buy => &mut self.asks,
                Side::Sell => &mut self.bids,
            };
            let Some(lslot) = opp.best_slot() else {
                break;
            };
            let level = opp.level_mut(lslot);
            if !crosses(t.side, t.limit, level.price) {
                break;
            }
            let slot = level.head;
            let node = &mut self.nodes[slot as usize];
            if node.owner == t.owner {
                match t.stp {
                    SelfTradePrevention::CancelIncoming => return MatchEnd::SelfTrade,
                    SelfTradePrevention::CancelResting => {
                        self.take_resting(slot, CancelReason::SelfTrade, out);
                        continue;
                    }
                    SelfTradePrevention::CancelBoth => {
                        self.take_resting(slot, CancelReason::SelfTrade, out);
                        return MatchEnd::SelfTrade;
                    }
                }
            }
            let price = level.price;
            let mut q = t.qty.min(node.qty);
            if t.budget != u128::MAX {
                // A notional order: as many millionths as the rest of its money buys here.
                q = spend(&mut t.budget, price, q);
                if q == 0 {
                    break;
                }
            }
            let maker_left = node.qty - q;
            node.qty = maker_left;
            level.qty -= q;
            t.qty -= q;
            let maker = node.id;
            out.emit(BookEvent::Fill {
                maker,
                maker_owner: node.owner,
                taker: t.id,
                taker_owner: t.owner,
                taker_side: t.side,
                price,
                qty: Qty::from_raw(q),
                maker_leaves: Qty::from_raw(maker_left),
                taker_leaves: Qty::from_raw(t.qty),
            });
            self.last_trade = Some(price);
            let next = node.next;
            if maker_left == 0 {
                level.head = next;
                level.count -= 1;
            }
            opp.total -= u128::from(q);
            if maker_left == 0 {
                if next == NIL {
                    opp.remove(lslot);
                } else {
                    self.nodes[next as usize].prev = NIL;
                }
                self.release(slot);
            }
        }
        MatchEnd::Done
    }

    /// Emits the cancellation of an incoming order's unfilled remainder (never rested).
    fn cancel_incoming(&self, t: &Taker, reason: CancelReason, out: &mut impl EventSink) {
        out.emit(BookEvent::Canceled {
            id: t.id,
            owner: t.owner,
            side: t.side,
            qty: Qty::from_raw(t.qty),
            resting_price: None,
            reason,
        });
    }

    /// Takes the resting order in `slot` off the book and out of the pool, and reports it.
    fn take_resting(&mut self, slot: u32, reason: CancelReason, out: &mut impl EventSink) {
        let o = self.view(slot);
        self.unlink(slot);
        self.release(slot);
        out.emit(BookEvent::Canceled {
            id: o.id,
            owner: o.owner,
            side: o.side,
            qty: o.qty,
            resting_price: Some(o.price),
            reason,
        });
    }

    /// Removes every resting order matching `pred`, bids then asks, each best price first
    /// and in time priority. The next level is found before a level is emptied, from a level
    /// that stays: removing the current one moves no other.
    fn remove_where(
        &mut self,
        pred: impl Fn(&RestingOrder) -> bool,
        reason: CancelReason,
        out: &mut impl EventSink,
    ) -> usize {
        let mut count = 0;
        for side in [Side::Buy, Side::Sell] {
            let mut next = self.ladder(side).best_slot();
            while let Some(lslot) = next {
                next = self.ladder(side).worse(lslot);
                let mut cur = self.ladder(side).level(lslot).head;
                while cur != NIL {
                    let n = self.nodes[cur as usize];
                    if pred(&self.view(cur)) {
                        self.take_resting(cur, reason, out);
                        count += 1;
                    }
                    cur = n.next;
                }
            }
        }
        count
    }

    fn ladder_mut(&mut self, side: Side) -> &mut Ladder {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// Appends the node in `slot` to the tail of the level at `price` (creating the level).
    fn link(&mut self, slot: u32, price: Price) {
        let Node { side, qty, .. } = self.nodes[slot as usize];
        let ladder = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        ladder.total += u128::from(qty);
        let lslot = ladder.get_or_insert(price);
        let level = ladder.level_mut(lslot);
        let tail = level.tail;
        level.qty += qty;
        level.count += 1;
        level.tail = slot;
        if tail == NIL {
            level.head = slot;
        } else {
            self.nodes[tail as usize].next = slot;
        }
        let n = &mut self.nodes[slot as usize];
        n.prev = tail;
        n.next = NIL;
        n.level = lslot;
    }

    /// Removes the node in `slot` from its level (dropping the level if it empties); the
    /// slot stays allocated.
    fn unlink(&mut self, slot: u32) {
        let Node {
            side,
            qty,
            prev,
            next,
            level: lslot,
            ..
        } = self.nodes[slot as usize];
        let ladder = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        ladder.total -= u128::from(qty);
        let level = ladder.level_mut(lslot);
        level.qty -= qty;
        level.count -= 1;
        if level.count == 0 {
            ladder.remove(lslot);
        } else {
            if prev == NIL {
                level.head = next;
            }
            if next == NIL {
                level.tail = prev;
            }
        }
        if prev != NIL {
            self.nodes[prev as usize].next = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        }
        self.nodes[slot as usize].level = NIL;
    }

    /// The slot of order `id`, if it is in the pool: through its ring entry, else the spill
    /// map (probed only while something is spilled).
    #[inline]
    fn lookup(&self, id: OrderId) -> Option<u32> {
        let s = self.ring[self.home(id)];
        if s != NIL && self.nodes[s as usize].id == id {
            return Some(s);
        }
        if self.spill.is_empty() {
            None
        } else {
            self.spill.get(&id).copied()
        }
    }

    #[inline]
    fn home(&self, id: OrderId) -> usize {
        // Masked below the ring's length (at most 2^30): the cast is exact.
        #[allow(clippy::cast_possible_truncation)]
        let home = (id.get() & self.mask) as usize;
        home
    }

    /// Puts `node` (not yet in the pool) in a free slot and registers it under its id: in its
    /// ring entry, or in the spill map if an older live order holds that entry.
    fn alloc(&mut self, node: Node) -> u32 {
        let slot = if self.free_head == NIL {
            let s = u32::try_from(self.nodes.len()).expect("more than 4 billion resting orders");
            self.nodes.push(node);
            s
        } else {
            let s = self.free_head;
            self.free_head = self.nodes[s as usize].next;
            self.nodes[s as usize] = node;
            s
        };
        let home = self.home(node.id);
        if self.ring[home] == NIL {
            self.ring[home] = slot;
        } else {
            self.spill.insert(node.id, slot);
        }
        self.live += 1;
        slot
    }

    /// Returns `slot` to the pool (the order must be unlinked).
    fn release(&mut self, slot: u32) {
        let id = self.nodes[slot as usize].id;
        let home = self.home(id);
        if self.ring[home] == slot {
            self.ring[home] = NIL;
        } else {
            self.spill.remove(&id);
        }
        self.nodes[slot as usize].next = self.free_head;
        self.free_head = slot;
        self.live -= 1;
    }
}

#[inline]
/// At most `qty` millionths at `price` out of `budget` (an exact value): how many it
/// affords, taken out of the budget.
fn spend(budget: &mut u128, price: Price, qty: u64) -> u64 {
    let unit = u128::from(price.raw().unsigned_abs());
    let q = qty.min(u64::try_from(*budget / unit).unwrap_or(u64::MAX));
    *budget -= unit * u128::from(q);
    q
}

fn crosses(taker_side: Side, limit: Price, resting: Price) -> bool {
    match taker_side {
        Side::Buy => resting <= limit,
        Side::Sell => resting >= limit,
    }
}

fn view(l: &crate::ladder::Level) -> LevelView {
    LevelView {
        price: l.price,
        qty: Qty::from_raw(l.qty),
        orders: l.count,
    }
}
