//! Differential test: the order book against a deliberately naive reference book.
//!
//! The reference ([`Model`]) keeps every resting order in one `Vec`, tagged with an arrival
//! number, and derives everything else on demand: priority by sorting on (price, arrival),
//! levels by grouping that sorted list, the head of a queue by a scan. It shares no code with
//! the book, only the public types, and restates each rule of DESIGN §4 and docs/BOOK.md
//! directly. Random operation sequences are applied to both, by proptest and in one long
//! seeded run. After every operation: the event vectors must be identical; the whole visible
//! book (orders, levels, best prices, last trade, lookups) must match; an L2 book rebuilt from
//! the events alone must match the book's depth; and the book's invariants must hold, both as
//! seen from outside and by its own `check_invariants`.
//!
//! Knobs: `PROPTEST_CASES` (default 256), `BOURSE_BOOK_FUZZ_OPS` (length of the seeded run,
//! default 120 000; millions for a soak), `BOURSE_BOOK_FUZZ_SEED`.

use std::cmp::Ordering;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use bourse_book::{
    BookConfig, BookEvent, LevelView, NewOrder, OrderBook, Priority, Request, RestingOrder,
};
use bourse_core::{
    AccountId, CancelReason, OrderId, Price, Qty, RejectReason, SelfTradePrevention, Side,
    TimeInForce,
};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};

use SelfTradePrevention::{CancelBoth, CancelIncoming, CancelResting};
use Side::{Buy, Sell};
use TimeInForce::{Day, Fok, Gtc, Ioc};

// =============================================================================== the model

/// Whether an order on `side` limited at `limit` may trade with a resting order at `resting`.
fn crosses(side: Side, limit: Price, resting: Price) -> bool {
    match side {
        Buy => resting <= limit,
        Sell => resting >= limit,
    }
}

/// An order looking for liquidity: a new arrival, or a replaced order re-entering.
#[derive(Clone, Copy)]
struct Incoming {
    id: OrderId,
    owner: AccountId,
    side: Side,
    /// The worst price it may trade at.
    limit: Price,
    left: u64,
    stp: SelfTradePrevention,
}

impl Incoming {
    /// The cancellation of what is left of an order that never rested.
    fn canceled(&self, reason: CancelReason) -> BookEvent {
        BookEvent::Canceled {
            id: self.id,
            owner: self.owner,
            side: self.side,
            qty: Qty::from_raw(self.left),
            resting_price: None,
            reason,
        }
    }
}

/// The naive reference book.
#[derive(Clone, Debug)]
struct Model {
    cfg: BookConfig,
    /// Every resting order with its arrival number (smaller arrived earlier). Nothing else.
    resting: Vec<(u64, RestingOrder)>,
    arrivals: u64,
    last_trade: Option<Price>,
}

impl Model {
    fn new(cfg: BookConfig) -> Self {
        assert!(
            cfg.tick.is_positive() && cfg.lot.raw() > 0,
            "the model needs a positive tick and lot"
        );
        Self {
            cfg,
            resting: Vec::new(),
            arrivals: 0,
            last_trade: None,
        }
    }

    fn get(&self, id: OrderId) -> Option<RestingOrder> {
        self.resting
            .iter()
            .find(|(_, o)| o.id == id)
            .map(|&(_, o)| o)
    }

    /// `side`'s resting orders in priority order: better price first, then earlier arrival.
    fn queue(&self, side: Side) -> Vec<RestingOrder> {
        let mut q: Vec<&(u64, RestingOrder)> = self
            .resting
            .iter()
            .filter(|(_, o)| o.side == side)
            .collect();
        q.sort_by(|a, b| priority(side, a, b));
        q.into_iter().map(|&(_, o)| o).collect()
    }

    /// The first order of `side`'s queue, found by a scan.
    fn head(&self, side: Side) -> Option<RestingOrder> {
        (self.resting.iter())
            .filter(|(_, o)| o.side == side)
            .min_by(|a, b| priority(side, a, b))
            .map(|&(_, o)| o)
    }
}

/// Queue order on `side`: better price first, then earlier arrival.
fn priority(
    side: Side,
    (a_arrival, a): &(u64, RestingOrder),
    (b_arrival, b): &(u64, RestingOrder),
) -> Ordering {
    let better_price_first = match side {
        Buy => b.price.cmp(&a.price),
        Sell => a.price.cmp(&b.price),
    };
    better_price_first.then(a_arrival.cmp(b_arrival))
}

/// A queue (best first) grouped into price levels.
fn levels_of(queue: &[RestingOrder]) -> Vec<LevelView> {
    let mut out: Vec<LevelView> = Vec::new();
    for &o in queue {
        match out.last_mut() {
            Some(l) if l.price == o.price => {
                l.qty = l
                    .qty
                    .checked_add(o.qty)
                    .expect("the model keeps level totals in u64");
                l.orders += 1;
            }
            _ => out.push(LevelView {
                price: o.price,
                qty: o.qty,
                orders: 1,
            }),
        }
    }
    out
}

impl Model {
    fn best_price(&self, side: Side) -> Option<Price> {
        self.head(side).map(|o| o.price)
    }

    /// Everything resting at `price` on `side`, in a type that cannot overflow.
    fn level_total(&self, side: Side, price: Price) -> u128 {
        self.resting
            .iter()
            .filter(|(_, o)| o.side == side && o.price == price)
            .map(|(_, o)| u128::from(o.qty.raw()))
            .sum()
    }

    /// Whether an order on `side` limited at `limit` would trade on arrival.
    fn would_take(&self, side: Side, limit: Price) -> bool {
        self.resting
            .iter()
            .any(|(_, o)| o.side != side && crosses(side, limit, o.price))
    }

    /// A market order's limit: `market_collar_bps` through the best opposite price at
    /// arrival, rounded inward to the tick (buy: down, sell: up) but never short of that best
    /// price, and never below one raw unit. `None` when the opposite side is empty.
    fn collar(&self, side: Side) -> Option<Price> {
        let best = i128::from(self.best_price(side.opposite())?.raw());
        let tick = i128::from(self.cfg.tick.raw());
        let bps = i128::from(self.cfg.market_collar_bps);
        let per_tick = 10_000 * tick;
        let raw = match side {
            // floor(best × (1 + bps/10⁴) / tick) × tick
            Buy => ((best * (10_000 + bps)).div_euclid(per_tick) * tick).max(best),
            // ceil(best × (1 − bps/10⁴) / tick) × tick
            Sell => (-(-(best * (10_000 - bps))).div_euclid(per_tick) * tick)
                .min(best)
                .max(1),
        };
        Some(Price::from_raw(i64::try_from(raw).unwrap_or(i64::MAX)))
    }

    /// The first thing wrong with a price and quantity, checked in this order: zero
    /// quantity, quantity off lot, non-positive price, price off tick.
    fn bad_price_qty(&self, price: Option<Price>, qty: Qty) -> Option<RejectReason> {
        if qty.raw() == 0 {
            return Some(RejectReason::InvalidQuantity);
        }
        if !qty.raw().is_multiple_of(self.cfg.lot.raw()) {
            return Some(RejectReason::QtyOffLot);
        }
        let p = price?.raw();
        if p <= 0 {
            return Some(RejectReason::InvalidPrice);
        }
        if p % self.cfg.tick.raw() != 0 {
            return Some(RejectReason::PriceOffTick);
        }
        None
    }

    /// Validation of a new order, in order: price and quantity, a post-only market order, an
    /// id that is still resting, and a level total that a resting remainder could overflow.
    fn bad_order(&self, o: &NewOrder) -> Option<RejectReason> {
        if let Some(r) = self.bad_price_qty(o.price, o.qty) {
            return Some(r);
        }
        if o.price.is_none() && o.post_only {
            return Some(RejectReason::InvalidOrder);
        }
        // The book can only know the ids it holds; uniqueness over time is the engine's job.
        if self.get(o.id).is_some() {
            return Some(RejectReason::DuplicateOrderId);
        }
        if let Some(p) = o.price
            && matches!(o.tif, Gtc | Day)
            && self.level_total(o.side, p) + u128::from(o.qty.raw()) > u128::from(u64::MAX)
        {
            return Some(RejectReason::ArithmeticOverflow);
        }
        None
    }

    fn rest(&mut self, o: RestingOrder) {
        self.resting.push((self.arrivals, o));
        self.arrivals += 1;
    }

    fn take_out(&mut self, id: OrderId) -> RestingOrder {
        let i = self
            .resting
            .iter()
            .position(|(_, o)| o.id == id)
            .expect("order is resting");
        self.resting.remove(i).1
    }

    /// Changes an order's open quantity where it stands (its arrival number is untouched).
    fn set_qty(&mut self, id: OrderId, qty: Qty) {
        for (_, o) in &mut self.resting {
            if o.id == id {
                o.qty = qty;
            }
        }
    }

    fn cancel_resting(&mut self, id: OrderId, reason: CancelReason, ev: &mut Vec<BookEvent>) {
        let o = self.take_out(id);
        ev.push(BookEvent::Canceled {
            id,
            owner: o.owner,
            side: o.side,
            qty: o.qty,
            resting_price: Some(o.price),
            reason,
        });
    }

    /// Trades `inc` against the head of the opposite queue for as long as it crosses, each
    /// trade at the resting price. Returns whether self-trade prevention stopped it.
    fn trade(&mut self, inc: &mut Incoming, ev: &mut Vec<BookEvent>) -> bool {
        while inc.left > 0 {
            let Some(maker) = self.head(inc.side.opposite()) else {
                return false;
            };
            if !crosses(inc.side, inc.limit, maker.price) {
                return false;
            }
            if maker.owner == inc.owner {
                match inc.stp {
                    CancelIncoming => return true,
                    CancelResting => {
                        self.cancel_resting(maker.id, CancelReason::SelfTrade, ev);
                        continue;
                    }
                    CancelBoth => {
                        self.cancel_resting(maker.id, CancelReason::SelfTrade, ev);
                        return true;
                    }
                }
            }
            let qty = inc.left.min(maker.qty.raw());
            inc.left -= qty;
            let maker_leaves = maker.qty.raw() - qty;
            if maker_leaves == 0 {
                self.take_out(maker.id);
            } else {
                self.set_qty(maker.id, Qty::from_raw(maker_leaves));
            }
            self.last_trade = Some(maker.price);
            ev.push(BookEvent::Fill {
                maker: maker.id,
                maker_owner: maker.owner,
                taker: inc.id,
                taker_owner: inc.owner,
                taker_side: inc.side,
                price: maker.price,
                qty: Qty::from_raw(qty),
                maker_leaves: Qty::from_raw(maker_leaves),
                taker_leaves: Qty::from_raw(inc.left),
            });
        }
        false
    }

    fn submit(&mut self, o: &NewOrder) -> Vec<BookEvent> {
        let reject = |reason| {
            vec![BookEvent::Rejected {
                id: o.id,
                request: Request::Submit,
                reason,
            }]
        };
        if let Some(reason) = self.bad_order(o) {
            return reject(reason);
        }
        let limit = match o.price {
            // Crossing only its owner's orders counts too, as on real venues: it would not
            // add liquidity at that price either way.
            Some(p) if o.post_only && self.would_take(o.side, p) => {
                return reject(RejectReason::PostOnlyWouldTake);
            }
            Some(p) => p,
            None => match self.collar(o.side) {
                Some(c) => c,
                None => return reject(RejectReason::NoLiquidity),
            },
        };
        let mut ev = vec![BookEvent::Accepted {
            id: o.id,
            owner: o.owner,
            side: o.side,
            price: o.price,
            qty: o.qty,
        }];
        let mut inc = Incoming {
            id: o.id,
            owner: o.owner,
            side: o.side,
            limit,
            left: o.qty.raw(),
            stp: o.stp,
        };
        if o.tif == Fok {
            // All or nothing, decided by trying it on a copy.
            let mut trial = self.clone();
            let mut trial_inc = inc;
            let mut trial_ev = Vec::new();
            trial.trade(&mut trial_inc, &mut trial_ev);
            if trial_inc.left == 0 {
                *self = trial;
                ev.extend(trial_ev);
            } else {
                ev.push(inc.canceled(CancelReason::FokUnfilled));
            }
            return ev;
        }
        let self_trade = self.trade(&mut inc, &mut ev);
        if inc.left == 0 {
            return ev;
        }
        // Self-trade prevention names the cause even for IOC and market orders; a market
        // order never rests, whatever its time in force.
        let reason = if self_trade {
            CancelReason::SelfTrade
        } else if o.price.is_none() {
            CancelReason::MarketRemainder
        } else if matches!(o.tif, Gtc | Day) {
            self.rest(RestingOrder {
                id: o.id,
                owner: o.owner,
                side: o.side,
                price: limit,
                qty: Qty::from_raw(inc.left),
                tif: o.tif,
                post_only: o.post_only,
                stp: o.stp,
            });
            ev.push(BookEvent::Rested {
                id: o.id,
                side: o.side,
                price: limit,
                qty: Qty::from_raw(inc.left),
            });
            return ev;
        } else {
            CancelReason::IocRemainder
        };
        ev.push(inc.canceled(reason));
        ev
    }

    fn cancel(&mut self, id: OrderId) -> Vec<BookEvent> {
        let mut ev = Vec::new();
        if self.get(id).is_some() {
            self.cancel_resting(id, CancelReason::Requested, &mut ev);
        } else {
            ev.push(BookEvent::Rejected {
                id,
                request: Request::Cancel,
                reason: RejectReason::UnknownOrder,
            });
        }
        ev
    }

    fn replace(&mut self, id: OrderId, price: Price, qty: Qty) -> Vec<BookEvent> {
        let reject = |reason| {
            vec![BookEvent::Rejected {
                id,
                request: Request::Replace,
                reason,
            }]
        };
        let Some(old) = self.get(id) else {
            return reject(RejectReason::UnknownOrder);
        };
        if let Some(reason) = self.bad_price_qty(Some(price), qty) {
            return reject(reason);
        }
        let replaced = |priority| BookEvent::Replaced {
            id,
            side: old.side,
            old_price: old.price,
            old_qty: old.qty,
            price,
            qty,
            priority,
        };
        if price == old.price && qty <= old.qty {
            self.set_qty(id, qty);
            return vec![replaced(Priority::Kept)];
        }
        if old.post_only && self.would_take(old.side, price) {
            return reject(RejectReason::PostOnlyWouldTake);
        }
        // The level it would join, without the order itself, must still have room for it.
        let mut others = self.level_total(old.side, price);
        if old.price == price {
            others -= u128::from(old.qty.raw());
        }
        if others + u128::from(qty.raw()) > u128::from(u64::MAX) {
            return reject(RejectReason::ArithmeticOverflow);
        }
        self.take_out(id);
        let mut ev = vec![replaced(Priority::Lost)];
        let mut inc = Incoming {
            id,
            owner: old.owner,
            side: old.side,
            limit: price,
            left: qty.raw(),
            stp: old.stp,
        };
        // From here on it is a new arrival with the same id, flags and self-trade mode.
        let self_trade = self.trade(&mut inc, &mut ev);
        if inc.left > 0 {
            if self_trade {
                ev.push(inc.canceled(CancelReason::SelfTrade));
            } else {
                self.rest(RestingOrder {
                    price,
                    qty: Qty::from_raw(inc.left),
                    ..old
                });
                ev.push(BookEvent::Rested {
                    id,
                    side: old.side,
                    price,
                    qty: Qty::from_raw(inc.left),
                });
            }
        }
        ev
    }

    /// Cancels every resting order that `pick`s, bids then asks, each in priority order.
    fn cancel_all(
        &mut self,
        pick: impl Fn(&RestingOrder) -> bool,
        reason: CancelReason,
    ) -> (Vec<BookEvent>, usize) {
        let victims: Vec<OrderId> = [Buy, Sell]
            .into_iter()
            .flat_map(|side| self.queue(side))
            .filter(|o| pick(o))
            .map(|o| o.id)
            .collect();
        let mut ev = Vec::new();
        for &id in &victims {
            self.cancel_resting(id, reason, &mut ev);
        }
        (ev, victims.len())
    }

    fn apply(&mut self, cmd: &Cmd) -> (Vec<BookEvent>, Option<usize>) {
        match *cmd {
            Cmd::Submit(o) => (self.submit(&o), None),
            Cmd::Cancel(id) => (self.cancel(id), None),
            Cmd::Replace(id, price, qty) => (self.replace(id, price, qty), None),
            Cmd::MassCancel(owner, side) => {
                let (ev, n) = self.cancel_all(
                    |o| o.owner == owner && side.is_none_or(|s| s == o.side),
                    CancelReason::MassCancel,
                );
                (ev, Some(n))
            }
            Cmd::Expire => {
                let (ev, n) = self.cancel_all(|o| o.tif == Day, CancelReason::Expired);
                (ev, Some(n))
            }
        }
    }
}

fn run_book(book: &mut OrderBook, cmd: &Cmd) -> (Vec<BookEvent>, Option<usize>) {
    let mut ev = Vec::new();
    let n = match *cmd {
        Cmd::Submit(o) => {
            book.submit(&o, &mut ev);
            None
        }
        Cmd::Cancel(id) => {
            book.cancel(id, &mut ev);
            None
        }
        Cmd::Replace(id, price, qty) => {
            book.replace(id, price, qty, &mut ev);
            None
        }
        Cmd::MassCancel(owner, side) => Some(book.mass_cancel(owner, side, &mut ev)),
        Cmd::Expire => Some(book.expire_day_orders(&mut ev)),
    };
    (ev, n)
}

// ========================================================================== operations

/// How an operation names an order; resolved against the live state when it runs, so that
/// generated sequences (and their shrunk versions) keep hitting live orders.
#[derive(Clone, Copy, Debug)]
enum IdPick {
    /// A never-used id.
    Fresh,
    /// One of the resting orders.
    Live(u64),
    /// A recently used id that is no longer resting (filled, cancelled, expired, ...).
    Dead(u64),
    /// An id that was never handed out.
    Unknown(u64),
}

#[derive(Clone, Copy, Debug)]
enum PricePick {
    /// `k` ticks from the mid toward the opposite side (negative: passive).
    Level(i64),
    /// The target order's price moved `k` ticks toward the opposite side (`Shift(0)`: same).
    Shift(i64),
    Zero,
    Negative(i64),
    OffTick(i64),
}

#[derive(Clone, Copy, Debug)]
enum QtyPick {
    Lots(u64),
    /// The target order's open quantity, or that less / more `n` lots.
    Same,
    Less(u64),
    More(u64),
    Zero,
    OffLot(u64),
    /// Near `u64::MAX` (even) or near half of it (odd), to reach the overflow checks.
    Huge(u8),
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Submit {
        id: IdPick,
        owner: u64,
        side: Side,
        market: bool,
        price: PricePick,
        qty: QtyPick,
        tif: TimeInForce,
        post_only: bool,
        stp: SelfTradePrevention,
    },
    Cancel(IdPick),
    Replace(IdPick, PricePick, QtyPick),
    MassCancel(u64, Option<Side>),
    Expire,
}

/// An operation with its ids, prices and quantities resolved.
#[derive(Clone, Copy, Debug)]
enum Cmd {
    Submit(NewOrder),
    Cancel(OrderId),
    Replace(OrderId, Price, Qty),
    MassCancel(AccountId, Option<Side>),
    Expire,
}

/// The instrument a run trades: the book's config and the mid price orders gather around.
#[derive(Clone, Copy, Debug)]
struct Setting {
    cfg: BookConfig,
    mid_ticks: i64,
}

impl Setting {
    fn new(tick: i64, lot: u64, collar_bps: u32, mid_ticks: i64) -> Self {
        let cfg = BookConfig {
            tick: Price::from_raw(tick),
            lot: Qty::from_raw(lot),
            market_collar_bps: collar_bps,
        };
        Self { cfg, mid_ticks }
    }
}

// ============================================================================ harness

/// How often each kind of thing happened, so a run can prove it was not vacuous.
#[derive(Default)]
struct Coverage(BTreeMap<String, u64>);

impl Coverage {
    fn add(&mut self, what: impl Into<String>, n: u64) {
        *self.0.entry(what.into()).or_default() += n;
    }

    fn get(&self, what: &str) -> u64 {
        self.0.get(what).copied().unwrap_or(0)
    }

    fn max(&mut self, what: &str, n: u64) {
        let e = self.0.entry(what.to_owned()).or_default();
        *e = (*e).max(n);
    }

    fn merge(&mut self, other: Coverage) {
        for (k, v) in other.0 {
            if k.starts_with("max ") {
                self.max(&k, v);
            } else {
                self.add(k, v);
            }
        }
    }

    /// Classifies one command's outcome; `model` is the book after it, with `deepest` levels
    /// on its deeper side.
    fn record(
        &mut self,
        cmd: &Cmd,
        ev: &[BookEvent],
        before: &Before,
        model: &Model,
        deepest: usize,
    ) {
        self.add("ops", 1);
        let mut fill_prices: Vec<Price> = Vec::new();
        let mut self_trade = false;
        for e in ev {
            match *e {
                BookEvent::Rejected {
                    request, reason, ..
                } => {
                    self.add(format!("reject {request:?} {reason:?}"), 1);
                }
                BookEvent::Fill { price, .. } => fill_prices.push(price),
                BookEvent::Canceled {
                    reason: CancelReason::SelfTrade,
                    resting_price,
                    ..
                } => {
                    self_trade = true;
                    let whose = if resting_price.is_some() {
                        "resting"
                    } else {
                        "incoming"
                    };
                    self.add(format!("self-trade cancel of the {whose} order"), 1);
                }
                BookEvent::Canceled { reason, .. } => self.add(format!("cancel {reason:?}"), 1),
                BookEvent::Replaced { priority, .. } => {
                    self.add(format!("replace {priority:?}"), 1)
                }
                BookEvent::Rested { .. } => self.add("rested", 1),
                BookEvent::Accepted { .. } => self.add("accepted", 1),
            }
        }
        self.add("fills", fill_prices.len() as u64);
        fill_prices.dedup();
        if fill_prices.len() >= 2 {
            self.add("multi-level sweeps", 1);
        }
        if let Some(mode) = before.stp.filter(|_| self_trade) {
            let what = if matches!(cmd, Cmd::Replace(..)) {
                "replaces"
            } else {
                "submits"
            };
            self.add(format!("self-trade prevention {mode:?} ({what})"), 1);
        }
        let remainder = |r: CancelReason| {
            ev.iter()
                .any(|e| matches!(e, BookEvent::Canceled { reason, .. } if *reason == r))
        };
        if before.fok_fillable_but_for_own_orders && remainder(CancelReason::FokUnfilled) {
            self.add("FOK kills caused by self-trade prevention", 1);
        }
        match cmd {
            Cmd::Submit(o) if o.tif == Fok && !fill_prices.is_empty() => {
                self.add("FOK fills", 1);
                if self_trade {
                    self.add("FOK fills past own orders (cancel resting)", 1);
                }
                if o.price.is_none() {
                    self.add("FOK market orders filled", 1);
                }
            }
            Cmd::Submit(o)
                if o.tif == Fok && o.price.is_none() && remainder(CancelReason::FokUnfilled) =>
            {
                self.add("FOK market orders killed", 1);
            }
            Cmd::Submit(o)
                if o.price.is_none()
                    && remainder(CancelReason::MarketRemainder)
                    && model.best_price(o.side.opposite()).is_some() =>
            {
                self.add("market remainders stopped by the collar", 1);
            }
            // Only a replace that lost priority re-enters and may trade.
            Cmd::Replace(..) if !fill_prices.is_empty() => self.add("crossing replaces", 1),
            _ => {}
        }
        self.max("max levels on a side", deepest as u64);
        if deepest > 8 {
            self.add("ops ending with a side deeper than 8 levels", 1);
        }
        self.max("max resting orders", model.resting.len() as u64);
    }
}

impl fmt::Display for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.0 {
            writeln!(f, "  {v:>10}  {k}")?;
        }
        Ok(())
    }
}

/// The real book and the model side by side, plus what is needed to resolve operations.
struct Harness {
    setting: Setting,
    book: OrderBook,
    model: Model,
    /// An L2 book kept from the events alone, as a market-data consumer would.
    feed: FeedBook,
    next_id: u64,
    /// Every id handed out, most recent last.
    issued: Vec<OrderId>,
    coverage: Coverage,
}

/// Ids from here up are never handed out.
const UNKNOWN_IDS: u64 = 1 << 60;

impl Harness {
    fn new(setting: Setting) -> Self {
        Self {
            setting,
            // A small table, so that the book's slab and level vectors grow during the run.
            book: OrderBook::with_capacity(setting.cfg, 4, 2),
            model: Model::new(setting.cfg),
            feed: FeedBook::default(),
            next_id: 1,
            issued: Vec::new(),
            coverage: Coverage::default(),
        }
    }

    fn resolve_id(&mut self, pick: IdPick) -> OrderId {
        let pick_from = |ids: &[OrderId], k: u64| {
            let n = u64::try_from(ids.len()).unwrap_or(u64::MAX);
            usize::try_from(k % n.max(1))
                .ok()
                .and_then(|i| ids.get(i).copied())
        };
        let found = match pick {
            IdPick::Fresh => None,
            IdPick::Live(k) => {
                let live: Vec<OrderId> = self.model.resting.iter().map(|(_, o)| o.id).collect();
                pick_from(&live, k)
            }
            IdPick::Dead(k) => {
                let dead: Vec<OrderId> = (self.issued.iter().rev().take(64))
                    .filter(|&&id| self.model.get(id).is_none())
                    .copied()
                    .collect();
                pick_from(&dead, k)
            }
            IdPick::Unknown(k) => return OrderId::new(UNKNOWN_IDS + k % 1_000),
        };
        found.unwrap_or_else(|| {
            let id = OrderId::new(self.next_id);
            self.next_id += 1;
            self.issued.push(id);
            id
        })
    }

    fn resolve_price(&self, pick: PricePick, side: Side, current: Option<Price>) -> Price {
        let tick = self.setting.cfg.tick.raw();
        let mid = self.setting.mid_ticks * tick;
        let toward = match side {
            Buy => tick,
            Sell => -tick,
        };
        Price::from_raw(match pick {
            PricePick::Level(k) => mid + k * toward,
            PricePick::Shift(k) => current.map_or(mid, Price::raw) + k * toward,
            PricePick::Zero => 0,
            PricePick::Negative(k) => -1 - k.abs() * tick,
            // With a one-unit tick every price is on tick; this is then just a valid price.
            PricePick::OffTick(k) => mid + k * tick + tick / 2 + 1,
        })
    }

    fn resolve_qty(&self, pick: QtyPick, current: Option<Qty>) -> Qty {
        let lot = self.setting.cfg.lot.raw();
        let cur = current.map_or(lot, Qty::raw);
        Qty::from_raw(match pick {
            QtyPick::Lots(n) => n.max(1) * lot,
            QtyPick::Same => cur,
            QtyPick::Less(n) => cur.saturating_sub(n * lot).max(lot),
            QtyPick::More(n) => cur.checked_add(n * lot).unwrap_or(cur),
            QtyPick::Zero => 0,
            // With a lot of one every quantity is on lot; this is then just a valid quantity.
            QtyPick::OffLot(n) => n * lot + 1,
            QtyPick::Huge(r) => {
                let top = u64::MAX / lot;
                let lots = if r % 2 == 0 { top } else { top / 2 };
                (lots - u64::from(r)) * lot
            }
        })
    }

    fn resolve(&mut self, op: &Op) -> Cmd {
        match *op {
            Op::Submit {
                id,
                owner,
                side,
                market,
                price,
                qty,
                tif,
                post_only,
                stp,
            } => Cmd::Submit(NewOrder {
                id: self.resolve_id(id),
                owner: AccountId::new(owner),
                side,
                price: (!market).then(|| self.resolve_price(price, side, None)),
                qty: self.resolve_qty(qty, None),
                tif,
                post_only,
                stp,
                notional: None,
            }),
            Op::Cancel(id) => {
                let id = match id {
                    IdPick::Fresh => IdPick::Unknown(0),
                    other => other,
                };
                Cmd::Cancel(self.resolve_id(id))
            }
            Op::Replace(id, price, qty) => {
                let id = self.resolve_id(match id {
                    IdPick::Fresh => IdPick::Unknown(0),
                    other => other,
                });
                let target = self.model.get(id);
                let side = target.map_or(Buy, |o| o.side);
                Cmd::Replace(
                    id,
                    self.resolve_price(price, side, target.map(|o| o.price)),
                    self.resolve_qty(qty, target.map(|o| o.qty)),
                )
            }
            Op::MassCancel(owner, side) => Cmd::MassCancel(AccountId::new(owner), side),
            Op::Expire => Cmd::Expire,
        }
    }

    /// Resolves one operation and runs it. Returns the command run.
    fn step(&mut self, op: &Op) -> Result<Cmd, String> {
        let cmd = self.resolve(op);
        self.run(&cmd)?;
        Ok(cmd)
    }

    /// Runs one command on both books and compares everything. Returns the events.
    fn run(&mut self, cmd: &Cmd) -> Result<Vec<BookEvent>, String> {
        let before = Before::new(&self.model, cmd);
        let book = &mut self.book;
        let (book_ev, book_n) = catch_unwind(AssertUnwindSafe(|| run_book(book, cmd)))
            .map_err(|p| format!("{cmd:?}: the book panicked: {}", panic_text(p.as_ref())))?;
        let (model_ev, model_n) = self.model.apply(cmd);
        let context = || format!("{cmd:?}\n{}", dump(&self.model));
        if book_ev != model_ev {
            return Err(format!(
                "events differ for {}\n  book:\n{}  model:\n{}",
                context(),
                lines(&book_ev),
                lines(&model_ev)
            ));
        }
        same("mass cancel / expiry counts", &book_n, &model_n)
            .and_then(|()| compare(&self.book, &self.model, cmd, &model_ev))
            .and_then(|()| check_invariants(&self.book))
            .and_then(|()| self.book.check_invariants())
            .and_then(|()| self.feed.apply(&model_ev))
            .and_then(|()| self.feed.compare(&self.book))
            .map_err(|e| format!("after {}\n  events:\n{}{e}", context(), lines(&model_ev)))?;
        // The book's level counts: they were just found equal to the model's.
        let deepest = self.book.level_count(Buy).max(self.book.level_count(Sell));
        (self.coverage).record(cmd, &model_ev, &before, &self.model, deepest);
        Ok(model_ev)
    }
}

/// What coverage needs to know about the book just before a command.
struct Before {
    /// The self-trade mode of the order that will match: the new one, or the one replaced.
    stp: Option<SelfTradePrevention>,
    /// A fill-or-kill whose crossing liquidity would fill it were it not its owner's own.
    fok_fillable_but_for_own_orders: bool,
}

impl Before {
    fn new(model: &Model, cmd: &Cmd) -> Self {
        match *cmd {
            Cmd::Submit(o) => {
                let limit = o.price.or_else(|| model.collar(o.side));
                let crossing = |owner_ok: &dyn Fn(AccountId) -> bool| -> u128 {
                    let Some(limit) = limit else { return 0 };
                    (model.resting.iter())
                        .filter(|(_, r)| r.side != o.side && crosses(o.side, limit, r.price))
                        .filter(|(_, r)| owner_ok(r.owner))
                        .map(|(_, r)| u128::from(r.qty.raw()))
                        .sum()
                };
                let want = u128::from(o.qty.raw());
                Self {
                    stp: Some(o.stp),
                    fok_fillable_but_for_own_orders: o.tif == Fok
                        && crossing(&|_| true) >= want
                        && crossing(&|owner| owner != o.owner) < want,
                }
            }
            Cmd::Replace(id, ..) => Self {
                stp: model.get(id).map(|o| o.stp),
                fok_fillable_but_for_own_orders: false,
            },
            _ => Self {
                stp: None,
                fok_fillable_but_for_own_orders: false,
            },
        }
    }
}

/// Price levels rebuilt from events only (docs/BOOK.md: "a consumer can maintain an exact L2
/// book from these alone"): `Rested` adds; a `Fill` takes from the maker's level; a
/// `Canceled` with a resting price takes from that level; `Replaced` takes the reduction
/// (kept) or the whole old quantity (lost) from the old level.
#[derive(Default)]
struct FeedBook {
    /// (side, price) → (quantity, orders)
    levels: BTreeMap<(Side, Price), (u64, u32)>,
}

impl FeedBook {
    fn change(
        &mut self,
        side: Side,
        price: Price,
        add: Option<u64>,
        take: u64,
        orders: i8,
    ) -> Result<(), String> {
        let (qty, count) = self.levels.entry((side, price)).or_default();
        let broken = || format!("feed book: {side:?} level {price} would go negative or overflow");
        *qty = qty
            .checked_add(add.unwrap_or(0))
            .and_then(|q| q.checked_sub(take))
            .ok_or_else(broken)?;
        *count = count
            .checked_add_signed(i32::from(orders))
            .ok_or_else(broken)?;
        if (*qty, *count) == (0, 0) {
            self.levels.remove(&(side, price));
        }
        Ok(())
    }

    fn apply(&mut self, ev: &[BookEvent]) -> Result<(), String> {
        for e in ev {
            match *e {
                BookEvent::Rested {
                    side, price, qty, ..
                } => {
                    self.change(side, price, Some(qty.raw()), 0, 1)?;
                }
                BookEvent::Fill {
                    taker_side,
                    price,
                    qty,
                    maker_leaves,
                    ..
                } => {
                    let gone = if maker_leaves.is_zero() { -1 } else { 0 };
                    self.change(taker_side.opposite(), price, None, qty.raw(), gone)?;
                }
                BookEvent::Canceled {
                    side,
                    qty,
                    resting_price: Some(price),
                    ..
                } => {
                    self.change(side, price, None, qty.raw(), -1)?;
                }
                BookEvent::Replaced {
                    side,
                    old_price,
                    old_qty,
                    qty,
                    priority,
                    ..
                } => match priority {
                    Priority::Kept => {
                        self.change(side, old_price, None, old_qty.raw() - qty.raw(), 0)?
                    }
                    Priority::Lost => self.change(side, old_price, None, old_qty.raw(), -1)?,
                },
                BookEvent::Accepted { .. }
                | BookEvent::Rejected { .. }
                | BookEvent::Canceled { .. } => {}
            }
        }
        Ok(())
    }

    fn compare(&self, book: &OrderBook) -> Result<(), String> {
        for side in [Buy, Sell] {
            let mut levels: Vec<LevelView> = (self.levels.iter())
                .filter(|((s, _), _)| *s == side)
                .map(|(&(_, price), &(qty, orders))| LevelView {
                    price,
                    qty: Qty::from_raw(qty),
                    orders,
                })
                .collect();
            if side == Buy {
                levels.reverse();
            }
            same(
                format_args!("{side:?} depth from events"),
                &book.depth(side, usize::MAX).collect::<Vec<_>>(),
                &levels,
            )?;
        }
        Ok(())
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

fn lines(ev: &[BookEvent]) -> String {
    ev.iter().map(|e| format!("    {e:?}\n")).collect()
}

fn dump(m: &Model) -> String {
    let mut s = format!(
        "  model after it (asks, then bids): last trade {:?}\n",
        m.last_trade
    );
    for side in [Sell, Buy] {
        for o in m.queue(side) {
            s += &format!("    {o:?}\n");
        }
    }
    s
}

fn same<T: PartialEq + fmt::Debug>(
    what: impl fmt::Display,
    book: &T,
    model: &T,
) -> Result<(), String> {
    if book == model {
        Ok(())
    } else {
        Err(format!(
            "{what} differ\n  book:  {book:?}\n  model: {model:?}"
        ))
    }
}

/// The whole visible book against the model.
fn compare(book: &OrderBook, model: &Model, cmd: &Cmd, ev: &[BookEvent]) -> Result<(), String> {
    let tick = model.cfg.tick;
    for side in [Buy, Sell] {
        let queue = model.queue(side);
        same(
            format_args!("{side:?} orders"),
            &book.orders(side).collect::<Vec<_>>(),
            &queue,
        )?;
        let levels = levels_of(&queue);
        same(
            format_args!("{side:?} depth"),
            &book.depth(side, usize::MAX).collect::<Vec<_>>(),
            &levels,
        )?;
        same(
            format_args!("{side:?} level counts"),
            &book.level_count(side),
            &levels.len(),
        )?;
        let best = match side {
            Buy => book.best_bid(),
            Sell => book.best_ask(),
        };
        same(
            format_args!("best {side:?}"),
            &best,
            &levels.first().copied(),
        )?;
        let mut behind = &queue[..];
        for l in &levels {
            same(
                format_args!("{side:?} qty at {}", l.price),
                &book.qty_at(side, l.price),
                &l.qty,
            )?;
            let (at, rest) = behind.split_at(l.orders as usize);
            behind = rest;
            same(
                format_args!("{side:?} orders at {}", l.price),
                &book.orders_at(side, l.price).collect::<Vec<_>>(),
                &at.to_vec(),
            )?;
        }
        // Probe on and around both touches, and at an empty price.
        let mut probes = vec![Price::from_raw(-tick.raw())];
        for best in [model.best_price(Buy), model.best_price(Sell)]
            .into_iter()
            .flatten()
        {
            let b = best.raw();
            probes.extend([b - tick.raw(), b, b + tick.raw()].map(Price::from_raw));
        }
        for p in probes {
            same(
                format_args!("would_cross({side:?}, {p})"),
                &book.would_cross(side, p),
                &model.would_take(side, p),
            )?;
            let total = u64::try_from(model.level_total(side, p)).map_err(|e| e.to_string())?;
            same(
                format_args!("{side:?} qty at {p}"),
                &book.qty_at(side, p),
                &Qty::from_raw(total),
            )?;
        }
    }
    same(
        "last trade price",
        &book.last_trade_price(),
        &model.last_trade,
    )?;
    same("len", &book.len(), &model.resting.len())?;
    same("is_empty", &book.is_empty(), &model.resting.is_empty())?;
    let mut touched: Vec<OrderId> = match *cmd {
        Cmd::Submit(o) => vec![o.id],
        Cmd::Cancel(id) | Cmd::Replace(id, ..) => vec![id],
        Cmd::MassCancel(..) | Cmd::Expire => vec![],
    };
    for e in ev {
        match *e {
            BookEvent::Fill { maker, taker, .. } => touched.extend([maker, taker]),
            BookEvent::Accepted { id, .. }
            | BookEvent::Rejected { id, .. }
            | BookEvent::Rested { id, .. }
            | BookEvent::Canceled { id, .. }
            | BookEvent::Replaced { id, .. } => touched.push(id),
        }
    }
    for id in touched {
        same(format_args!("order({id})"), &book.order(id), &model.get(id))?;
    }
    Ok(())
}

/// What must hold of any book, whatever the model says.
fn check_invariants(book: &OrderBook) -> Result<(), String> {
    if let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask())
        && bid.price >= ask.price
    {
        return Err(format!("book rests crossed: bid {bid:?} ask {ask:?}"));
    }
    let mut total = 0;
    for side in [Buy, Sell] {
        let levels: Vec<LevelView> = book.depth(side, usize::MAX).collect();
        for w in levels.windows(2) {
            let better_first = match side {
                Buy => w[0].price > w[1].price,
                Sell => w[0].price < w[1].price,
            };
            if !better_first {
                return Err(format!("{side:?} levels out of order: {w:?}"));
            }
        }
        let mut regrouped: Vec<RestingOrder> = Vec::new();
        for l in &levels {
            let at: Vec<RestingOrder> = book.orders_at(side, l.price).collect();
            let sum: u128 = at.iter().map(|o| u128::from(o.qty.raw())).sum();
            if at.is_empty() || sum != u128::from(l.qty.raw()) || at.len() != l.orders as usize {
                return Err(format!("{side:?} level {l:?} does not add up: {at:?}"));
            }
            for o in &at {
                if o.side != side || o.price != l.price || o.qty.is_zero() {
                    return Err(format!("bad order {o:?} in {side:?} level {l:?}"));
                }
                if book.order(o.id) != Some(*o) {
                    return Err(format!(
                        "order({}) = {:?}, level holds {o:?}",
                        o.id,
                        book.order(o.id)
                    ));
                }
            }
            regrouped.extend(at);
        }
        same(
            format_args!("{side:?} orders vs its levels"),
            &book.orders(side).collect::<Vec<_>>(),
            &regrouped,
        )?;
        total += regrouped.len();
    }
    same("len vs orders on both sides", &book.len(), &total)
}

// ========================================================================= generators

/// Relative weights shared by the proptest strategies and the seeded generator.
mod weight {
    /// submit, cancel, replace, mass cancel, expire
    pub(crate) const OPS: [u32; 5] = [60, 10, 18, 3, 1];
    /// a new order's price: near the touch, deep in the book, zero, negative, off tick
    pub(crate) const SUBMIT_PRICE: [u32; 5] = [75, 13, 2, 2, 3];
    /// GTC, DAY, IOC, FOK
    pub(crate) const TIF: [u32; 4] = [45, 25, 15, 15];
    /// cancel incoming, cancel resting, cancel both
    pub(crate) const STP: [u32; 3] = [60, 20, 20];
    pub(crate) const MARKET_PERCENT: u32 = 12;
    pub(crate) const POST_ONLY_PERCENT: u32 = 10;
}

const TIFS: [TimeInForce; 4] = [Gtc, Day, Ioc, Fok];
const STPS: [SelfTradePrevention; 3] = [CancelIncoming, CancelResting, CancelBoth];
const OWNERS: u64 = 4;

fn setting() -> impl Strategy<Value = Setting> {
    (
        prop_oneof![Just(100i64), Just(1), Just(25)],
        prop_oneof![3 => Just(1u64), 1 => Just(10)],
        prop_oneof![3 => Just(500u32), 1 => Just(0), 1 => Just(130), 1 => Just(2_500), 1 => Just(20_000)],
        40i64..=400,
    )
        .prop_map(|(tick, lot, bps, mid)| Setting::new(tick, lot, bps, mid))
}

fn submit_price() -> impl Strategy<Value = PricePick> {
    let [near, deep, zero, negative, off_tick] = weight::SUBMIT_PRICE;
    prop_oneof![
        near => (-6i64..=3).prop_map(PricePick::Level),
        deep => (-25i64..=-7).prop_map(PricePick::Level),
        zero => Just(PricePick::Zero),
        negative => (0i64..5).prop_map(PricePick::Negative),
        off_tick => (-6i64..=3).prop_map(PricePick::OffTick),
    ]
}

fn replace_price() -> impl Strategy<Value = PricePick> {
    prop_oneof![
        50 => Just(PricePick::Shift(0)),
        25 => (-3i64..=3).prop_map(PricePick::Shift),
        10 => (4i64..=10).prop_map(PricePick::Shift),
        10 => (-6i64..=3).prop_map(PricePick::Level),
        1 => Just(PricePick::Zero),
        1 => (0i64..5).prop_map(PricePick::Negative),
        3 => (-6i64..=3).prop_map(PricePick::OffTick),
    ]
}

fn submit_qty() -> impl Strategy<Value = QtyPick> {
    prop_oneof![
        85 => (1u64..=10).prop_map(QtyPick::Lots),
        8 => (11u64..=60).prop_map(QtyPick::Lots),
        2 => Just(QtyPick::Zero),
        2 => (0u64..5).prop_map(QtyPick::OffLot),
        1 => (0u8..8).prop_map(QtyPick::Huge),
    ]
}

fn replace_qty() -> impl Strategy<Value = QtyPick> {
    prop_oneof![
        25 => Just(QtyPick::Same),
        30 => (1u64..=5).prop_map(QtyPick::Less),
        30 => (1u64..=10).prop_map(QtyPick::More),
        10 => (1u64..=20).prop_map(QtyPick::Lots),
        2 => Just(QtyPick::Zero),
        2 => (0u64..5).prop_map(QtyPick::OffLot),
        1 => (0u8..8).prop_map(QtyPick::Huge),
    ]
}

/// An existing order: mostly a live one, sometimes a finished or never-used id.
fn target(live: u32, dead: u32, unknown: u32) -> impl Strategy<Value = IdPick> {
    prop_oneof![
        live => any::<u64>().prop_map(IdPick::Live),
        dead => any::<u64>().prop_map(IdPick::Dead),
        unknown => any::<u64>().prop_map(IdPick::Unknown),
    ]
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Buy), Just(Sell)]
}

fn tif() -> impl Strategy<Value = TimeInForce> {
    let [gtc, day, ioc, fok] = weight::TIF;
    prop_oneof![gtc => Just(Gtc), day => Just(Day), ioc => Just(Ioc), fok => Just(Fok)]
}

fn stp() -> impl Strategy<Value = SelfTradePrevention> {
    let [incoming, resting, both] = weight::STP;
    prop_oneof![incoming => Just(CancelIncoming), resting => Just(CancelResting), both => Just(CancelBoth)]
}

fn op() -> impl Strategy<Value = Op> {
    let submit = (
        prop_oneof![90 => Just(IdPick::Fresh), 10 => target(1, 1, 0)],
        1..=OWNERS,
        side(),
        prop::bool::weighted(f64::from(weight::MARKET_PERCENT) / 100.0),
        submit_price(),
        submit_qty(),
        tif(),
        prop::bool::weighted(f64::from(weight::POST_ONLY_PERCENT) / 100.0),
        stp(),
    )
        .prop_map(
            |(id, owner, side, market, price, qty, tif, post_only, stp)| Op::Submit {
                id,
                owner,
                side,
                market,
                price,
                qty,
                tif,
                post_only,
                stp,
            },
        );
    let [w_submit, w_cancel, w_replace, w_mass, w_expire] = weight::OPS;
    prop_oneof![
        w_submit => submit,
        w_cancel => target(85, 10, 5).prop_map(Op::Cancel),
        w_replace => (target(90, 5, 5), replace_price(), replace_qty())
            .prop_map(|(id, price, qty)| Op::Replace(id, price, qty)),
        w_mass => (1..=OWNERS, prop::option::of(side())).prop_map(|(o, s)| Op::MassCancel(o, s)),
        w_expire => Just(Op::Expire),
    ]
}

/// The seeded run's operation mix.
#[derive(Clone, Copy, Debug)]
struct Mix {
    ops: [u32; 5],
    submit_price: [u32; 5],
}

/// The proptest strategies' mix: books stay thin and cross often.
const BALANCED: Mix = Mix {
    ops: weight::OPS,
    submit_price: weight::SUBMIT_PRICE,
};

/// Rare mass cancels and expiries, more passive prices: long queues and wide ladders.
const DEEP: Mix = Mix {
    ops: [600, 50, 180, 4, 1],
    submit_price: [40, 50, 2, 2, 3],
};

/// SplitMix64: a tiny seeded generator, so the long run is repeatable from its seed.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + i64::try_from(self.below(hi.abs_diff(lo) + 1)).unwrap_or(0)
    }

    fn percent(&mut self, p: u32) -> bool {
        self.below(100) < u64::from(p)
    }

    /// An index into `weights`, chosen in proportion to them.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let mut x = self.below(weights.iter().map(|&w| u64::from(w)).sum());
        for (i, &w) in weights.iter().enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        weights.len() - 1
    }

    fn side(&mut self) -> Side {
        if self.percent(50) { Buy } else { Sell }
    }

    /// The seeded twin of [`op`]: the same weights, except those `mix` sets.
    fn op(&mut self, mix: Mix) -> Op {
        match self.weighted(&mix.ops) {
            0 => Op::Submit {
                id: match self.weighted(&[90, 5, 5]) {
                    0 => IdPick::Fresh,
                    1 => IdPick::Live(self.next_u64()),
                    _ => IdPick::Dead(self.next_u64()),
                },
                owner: 1 + self.below(OWNERS),
                side: self.side(),
                market: self.percent(weight::MARKET_PERCENT),
                price: match self.weighted(&mix.submit_price) {
                    0 => PricePick::Level(self.range(-6, 3)),
                    1 => PricePick::Level(self.range(-25, -7)),
                    2 => PricePick::Zero,
                    3 => PricePick::Negative(self.range(0, 4)),
                    _ => PricePick::OffTick(self.range(-6, 3)),
                },
                qty: match self.weighted(&[85, 8, 2, 2, 1]) {
                    0 => QtyPick::Lots(self.below(10) + 1),
                    1 => QtyPick::Lots(self.below(50) + 11),
                    2 => QtyPick::Zero,
                    3 => QtyPick::OffLot(self.below(5)),
                    _ => QtyPick::Huge(u8::try_from(self.below(8)).unwrap_or(0)),
                },
                tif: TIFS[self.weighted(&weight::TIF)],
                post_only: self.percent(weight::POST_ONLY_PERCENT),
                stp: STPS[self.weighted(&weight::STP)],
            },
            1 => Op::Cancel(self.target(85, 10, 5)),
            2 => {
                let id = self.target(90, 5, 5);
                let price = match self.weighted(&[50, 25, 10, 10, 1, 1, 3]) {
                    0 => PricePick::Shift(0),
                    1 => PricePick::Shift(self.range(-3, 3)),
                    2 => PricePick::Shift(self.range(4, 10)),
                    3 => PricePick::Level(self.range(-6, 3)),
                    4 => PricePick::Zero,
                    5 => PricePick::Negative(self.range(0, 4)),
                    _ => PricePick::OffTick(self.range(-6, 3)),
                };
                let qty = match self.weighted(&[25, 30, 30, 10, 2, 2, 1]) {
                    0 => QtyPick::Same,
                    1 => QtyPick::Less(self.below(5) + 1),
                    2 => QtyPick::More(self.below(10) + 1),
                    3 => QtyPick::Lots(self.below(20) + 1),
                    4 => QtyPick::Zero,
                    5 => QtyPick::OffLot(self.below(5)),
                    _ => QtyPick::Huge(u8::try_from(self.below(8)).unwrap_or(0)),
                };
                Op::Replace(id, price, qty)
            }
            3 => {
                let owner = 1 + self.below(OWNERS);
                let side = match self.below(3) {
                    0 => None,
                    1 => Some(Buy),
                    _ => Some(Sell),
                };
                Op::MassCancel(owner, side)
            }
            _ => Op::Expire,
        }
    }

    fn target(&mut self, live: u32, dead: u32, unknown: u32) -> IdPick {
        match self.weighted(&[live, dead, unknown]) {
            0 => IdPick::Live(self.next_u64()),
            1 => IdPick::Dead(self.next_u64()),
            _ => IdPick::Unknown(self.next_u64()),
        }
    }
}

// ============================================================================== tests

proptest! {
    // Cases: 256 unless PROPTEST_CASES says otherwise (read by ProptestConfig::default).
    #![proptest_config(ProptestConfig {
        max_shrink_iters: 20_000,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions"
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn book_agrees_with_reference(setting in setting(), ops in prop::collection::vec(op(), 1..250)) {
        let mut h = Harness::new(setting);
        for (i, op) in ops.iter().enumerate() {
            h.step(op).map_err(|e| TestCaseError::fail(format!("op #{i} {op:?} on {setting:?}:\n{e}")))?;
        }
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    let Ok(text) = std::env::var(name) else {
        return default;
    };
    let t = text.trim().replace('_', "");
    let parsed = match t.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse(),
    };
    parsed.unwrap_or_else(|e| panic!("{name}={text:?}: {e}"))
}

/// Outcomes the seeded run must produce, so that it cannot pass without testing anything.
const MUST_HAPPEN: &[&str] = &[
    "fills",
    "multi-level sweeps",
    "rested",
    "cancel IocRemainder",
    "cancel FokUnfilled",
    "FOK fills",
    "cancel MarketRemainder",
    "market remainders stopped by the collar",
    "reject Submit NoLiquidity",
    "reject Submit PostOnlyWouldTake",
    "reject Replace PostOnlyWouldTake",
    "self-trade prevention CancelIncoming (submits)",
    "self-trade prevention CancelResting (submits)",
    "self-trade prevention CancelBoth (submits)",
    "self-trade prevention CancelIncoming (replaces)",
    "self-trade prevention CancelResting (replaces)",
    "self-trade prevention CancelBoth (replaces)",
    "FOK kills caused by self-trade prevention",
    "FOK fills past own orders (cancel resting)",
    "FOK market orders filled",
    "FOK market orders killed",
    "ops ending with a side deeper than 8 levels",
    "self-trade cancel of the incoming order",
    "self-trade cancel of the resting order",
    "replace Kept",
    "replace Lost",
    "crossing replaces",
    "cancel Requested",
    "cancel MassCancel",
    "cancel Expired",
    "reject Cancel UnknownOrder",
    "reject Replace UnknownOrder",
    "reject Submit InvalidQuantity",
    "reject Submit QtyOffLot",
    "reject Submit InvalidPrice",
    "reject Submit PriceOffTick",
    "reject Submit InvalidOrder",
    "reject Submit DuplicateOrderId",
    "reject Submit ArithmeticOverflow",
    "reject Replace InvalidQuantity",
    "reject Replace QtyOffLot",
    "reject Replace InvalidPrice",
    "reject Replace PriceOffTick",
    "reject Replace ArithmeticOverflow",
];

#[test]
fn long_seeded_run_agrees_with_reference() {
    let ops = env_u64("BOURSE_BOOK_FUZZ_OPS", 120_000);
    let seed = env_u64("BOURSE_BOOK_FUZZ_SEED", 0x00B0_0B5E_ED00_0001);
    // Each setting gets a fresh book; long runs cycle through them.
    let settings = [
        (Setting::new(100, 1, 500, 100), BALANCED), // the default config around $1.00
        (Setting::new(100, 1, 500, 100), DEEP),
        (Setting::new(1, 1, 500, 100), BALANCED), // one-unit tick
        (Setting::new(25, 10, 130, 400), DEEP),   // lots, an odd collar that needs rounding
        (Setting::new(100, 1, 20_000, 60), BALANCED), // a collar past 100%: sells reach 1 unit
        (Setting::new(100, 5, 0, 250), DEEP),     // no collar at all
        (Setting::new(100, 1, 500, 19_025), BALANCED), // $190.25: the collar is out of reach
    ];
    let per_book = ops.div_ceil(settings.len() as u64).clamp(1, 200_000);
    let mut rng = SplitMix64(seed);
    let mut coverage = Coverage::default();
    let (mut done, mut book_no) = (0, 0);
    while done < ops {
        let (setting, mix) = settings[book_no % settings.len()];
        let mut h = Harness::new(setting);
        let mut recent: VecDeque<Cmd> = VecDeque::new();
        let n = per_book.min(ops - done);
        for i in 0..n {
            let op = rng.op(mix);
            match h.step(&op) {
                Ok(cmd) => {
                    if recent.len() == 40 {
                        recent.pop_front();
                    }
                    recent.push_back(cmd);
                }
                Err(e) => {
                    let before: String = recent.iter().map(|c| format!("    {c:?}\n")).collect();
                    panic!(
                        "seed {seed:#x}, book {book_no} {setting:?} {mix:?}, op {i} {op:?}:\n{e}\n\
                         the commands before it:\n{before}"
                    );
                }
            }
        }
        coverage.merge(std::mem::take(&mut h.coverage));
        done += n;
        book_no += 1;
    }
    eprintln!("seeded run: {ops} operations, seed {seed:#x}\n{coverage}");
    // Scaled so that a deliberately short run (BOURSE_BOOK_FUZZ_OPS=1000) still means something.
    let need = (ops / 10_000).clamp(1, 10);
    let missing: Vec<String> = MUST_HAPPEN
        .iter()
        .filter(|k| coverage.get(k) < need)
        .map(|k| format!("{k}: {} (need {need})", coverage.get(k)))
        .collect();
    assert!(
        missing.is_empty(),
        "the run did not exercise:\n{}",
        missing.join("\n")
    );
    // Deeper than the ladder's linear-scan window, so its bisection path runs too.
    assert!(
        coverage.get("max levels on a side") > 8,
        "ladders stayed shallow:\n{coverage}"
    );
}

/// Hand-computed collars, so the oracle itself is checked against the written rule.
#[test]
fn reference_collar_follows_the_documented_rule() {
    let collar = |bps: u32, tick: i64, side: Side, best_opposite: i64| {
        let mut m = Model::new(Setting::new(tick, 1, bps, 1).cfg);
        m.rest(RestingOrder {
            id: OrderId::new(1),
            owner: AccountId::new(1),
            side: side.opposite(),
            price: Price::from_raw(best_opposite),
            qty: Qty::from_raw(1),
            tif: Gtc,
            post_only: false,
            stp: CancelIncoming,
        });
        m.collar(side).map(Price::raw)
    };
    assert_eq!(collar(500, 100, Buy, 1_000_000), Some(1_050_000)); // $100.00 → $105.00
    assert_eq!(collar(500, 100, Sell, 100_000), Some(95_000)); // $10.00 → $9.50
    assert_eq!(collar(500, 100, Buy, 9_700), Some(10_100)); // 1.0185 floors to 1.01
    assert_eq!(collar(500, 100, Sell, 10_300), Some(9_800)); // 0.9785 ceils to 0.98
    assert_eq!(collar(130, 25, Buy, 10_000), Some(10_125)); // 1.013 floors to 1.0125
    assert_eq!(collar(130, 25, Sell, 10_000), Some(9_875)); // 0.987 ceils to 0.9875
    assert_eq!(collar(10, 100, Buy, 9_700), Some(9_700)); // less than a tick: the best itself
    assert_eq!(collar(10, 100, Sell, 9_700), Some(9_700));
    assert_eq!(collar(0, 1, Sell, 9_701), Some(9_701));
    assert_eq!(collar(20_000, 100, Sell, 9_700), Some(1)); // never below one raw unit
    assert_eq!(
        collar(500, 100, Buy, 10_i64.pow(16)),
        Some(105 * 10_i64.pow(14))
    ); // no i64 overflow
    assert_eq!(Model::new(BookConfig::default()).collar(Buy), None);
}

/// Found by this test: a replace that moved an order to another level checked that level
/// for room only for the quantity *growth*, then added the whole quantity and overflowed.
#[test]
fn replace_to_another_level_needs_room_for_its_whole_quantity() {
    let mut h = Harness::new(Setting::new(100, 1, 500, 100));
    let (at_100, at_99) = (Price::from_raw(10_000), Price::from_raw(9_900));
    let mut run = |cmd: Cmd| h.run(&cmd).unwrap_or_else(|e| panic!("{e}"));
    let raw = |o: NewOrder, q: u64| NewOrder {
        qty: Qty::from_raw(q),
        ..o
    };
    run(Cmd::Submit(raw(
        NewOrder::limit(1, 1, Buy, at_100, 0),
        u64::MAX - 5,
    )));
    run(Cmd::Submit(raw(NewOrder::limit(2, 2, Buy, at_99, 0), 10)));
    // Same or less quantity than it has, but the level it moves to has room for 5 only.
    let ev = run(Cmd::Replace(OrderId::new(2), at_100, Qty::from_raw(6)));
    assert_eq!(
        ev,
        vec![BookEvent::Rejected {
            id: OrderId::new(2),
            request: Request::Replace,
            reason: RejectReason::ArithmeticOverflow
        }]
    );
    let ev = run(Cmd::Replace(OrderId::new(2), at_100, Qty::from_raw(5)));
    assert!(matches!(
        ev[..],
        [
            BookEvent::Replaced {
                priority: Priority::Lost,
                ..
            },
            BookEvent::Rested { .. }
        ]
    ));
    assert_eq!(h.book.qty_at(Buy, at_100), Qty::MAX);
}
