//! Seeded order flows for one symbol, generated up front into a `Vec` of messages so that no
//! generation is ever inside a timed region: the calibrated mixed flow below, and the shapes
//! of [`FlowConfig::all`] that move its fair value (wide swings, a flash crash) or change its
//! mix (a deep book, heavy modifies) to find a book's worst case.
//!
//! The shape follows what exchanges see from liquid stocks: a fair value that random-walks a
//! tick at a time; resting orders whose distance from the touch decays geometrically, so the
//! book holds a few thousand orders over tens to hundreds of price levels; most resting
//! orders (about 95%) cancelled before they ever fill, most of them soon after arrival;
//! about 15% of submits marketable IOCs that take liquidity (mostly at the touch, a few
//! sweeping several levels, and preferring quotes the fair value has left behind); and about
//! 20% of orders replaced, half as a same-price size reduction and half as a reprice.
//!
//! Generation drives bourse's own [`OrderBook`] so that every cancel and replace names a
//! live order and every reprice stays passive; it also records what each message should
//! produce ([`Tally`]) so any other book can be checked against it message by message.
//! Makers and takers are different account populations, so self-trade prevention (which
//! not every book implements) never fires.

use std::ops::AddAssign;

use bourse_book::{BookConfig, BookEvent, NewOrder, OrderBook, Priority};
use bourse_core::{
    AccountId, CancelReason, OrderId, Price, Qty, SelfTradePrevention, Side, TimeInForce,
};

use crate::rng::Rng;

mod mix;

pub use mix::Mix;
#[cfg(test)]
use mix::pct;

/// One message of the flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Submit {
        id: OrderId,
        owner: AccountId,
        side: Side,
        price: Price,
        qty: Qty,
        tif: TimeInForce,
    },
    Cancel {
        id: OrderId,
    },
    /// Carries the side, as a FIX cancel/replace request does; bourse itself does not need it.
    Replace {
        id: OrderId,
        side: Side,
        price: Price,
        qty: Qty,
    },
}

impl Op {
    /// The bourse order for a `Submit` (limit, no post-only, default self-trade prevention).
    #[must_use]
    pub fn new_order(
        id: OrderId,
        owner: AccountId,
        side: Side,
        price: Price,
        qty: Qty,
        tif: TimeInForce,
    ) -> NewOrder {
        NewOrder {
            id,
            owner,
            side,
            price: Some(price),
            qty,
            tif,
            post_only: false,
            stp: SelfTradePrevention::CancelIncoming,
            notional: None,
        }
    }
}

/// What one message did, as every book under test can report it: the fills it caused, the
/// quantity they traded and whether it was refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Tally {
    pub fills: u32,
    pub qty: u64,
    pub rejects: u32,
}

impl AddAssign for Tally {
    #[inline]
    fn add_assign(&mut self, o: Tally) {
        self.fills += o.fills;
        self.qty += o.qty;
        self.rejects += o.rejects;
    }
}

/// Where the fair value goes over the run. Whatever the path, the fair value also jitters a
/// tick at a time around it (`walk_permille`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Path {
    /// Stays near the start price: a random walk pulled back to it.
    Steady,
    /// Swings by `percent` of the start price either way, `cycles` full periods (a sine) over
    /// warm-up and measured stream: price levels are born and die all the time.
    Swing { percent: u32, cycles: u32 },
    /// Steady, but every `every` messages the price falls `percent` within `fall` messages,
    /// then recovers over `recover` messages: a fast fall through many levels and back.
    FlashCrash {
        percent: u32,
        every: usize,
        fall: usize,
        recover: usize,
    },
}

/// The knobs of the flow. [`FlowConfig::standard`] is the calibrated mix;
/// [`FlowConfig::all`] is every shape the benchmarks run.
#[derive(Clone, Debug)]
pub struct FlowConfig {
    /// Short name for reports (`mixed`, `swing-40`, …).
    pub name: &'static str,
    pub seed: u64,
    /// Messages that build the book up to its steady state; replayed untimed before a run.
    pub warmup: usize,
    /// Messages in the measured stream.
    pub messages: usize,
    pub book: BookConfig,
    /// Live orders the cancel rate steers towards.
    pub target_orders: usize,
    /// Share of messages that are marketable IOC submits, per mille.
    pub ioc_permille: u64,
    /// Share of messages that are replaces, per mille.
    pub replace_permille: u64,
    /// Mean distance of a resting order from the fair value, in ticks.
    pub depth_mean_ticks: u64,
    /// Chance per message that the fair value moves one tick, per mille.
    pub walk_permille: u64,
    /// The fair value at the start, in ticks.
    pub start_ticks: i64,
    /// Where the fair value goes.
    pub path: Path,
}

impl FlowConfig {
    /// The calibrated mix with `warmup` + `messages` messages: about 15% of submits are
    /// IOCs, about 20% of resting orders are replaced (half reductions, half reprices), about
    /// 95% of resting orders end cancelled without a fill, and about 3,000 orders rest over
    /// some 250 price levels. [`Flow::mix`] reports what a run actually got.
    #[must_use]
    pub fn standard(warmup: usize, messages: usize) -> Self {
        Self {
            seed: 0x5EED_B0B5_E000_0001,
            warmup,
            messages,
            book: BookConfig::default(),
            target_orders: 3_000,
            ioc_permille: 75,
            replace_permille: 105,
            depth_mean_ticks: 25,
            walk_permille: 20,
            start_ticks: 10_000,
            path: Path::Steady,
            name: "mixed",
        }
    }

    /// Every flow the benchmarks run, each built to stress a different part of a book:
    ///
    /// - `mixed`: [`standard`](Self::standard), the calibrated day-to-day mix;
    /// - `swing-25`, `swing-40`: the fair value swings ±25% / ±40% of the start price, two
    ///   full periods over the run, with more replaces (a third of non-IOC traffic is
    ///   cancel + reinsert at a new price): levels are created and emptied all the time;
    /// - `flash-crash`: every 200k messages a 20% fall within 10k messages (one tick every
    ///   five messages, sweeping the stale side) and a recovery over 60k;
    /// - `deep`: a static market with a deep book (60,000 resting orders over thousands of
    ///   levels) and mostly far-from-touch activity;
    /// - `modify`: the mixed flow with replaces at 45% of all messages.
    #[must_use]
    pub fn all(warmup: usize, messages: usize) -> Vec<Self> {
        let base = Self::standard(warmup, messages);
        let swing = |name, percent| Self {
            name,
            seed: base.seed ^ u64::from(percent),
            replace_permille: 300,
            path: Path::Swing { percent, cycles: 2 },
            ..base.clone()
        };
        vec![
            base.clone(),
            swing("swing-25", 25),
            swing("swing-40", 40),
            Self {
                name: "flash-crash",
                seed: base.seed ^ 0xC5A5,
                path: Path::FlashCrash {
                    percent: 20,
                    every: 200_000,
                    fall: 10_000,
                    recover: 60_000,
                },
                ..base.clone()
            },
            Self {
                name: "deep",
                seed: base.seed ^ 0xDEE9,
                target_orders: 60_000,
                depth_mean_ticks: 400,
                walk_permille: 5,
                ..base.clone()
            },
            Self {
                name: "modify",
                seed: base.seed ^ 0x30D1,
                replace_permille: 450,
                ..base
            },
        ]
    }

    /// The fair value's anchor, in ticks, at message `i` of warm-up + measured stream.
    fn anchor(&self, i: usize) -> i64 {
        let start = self.start_ticks;
        match self.path {
            Path::Steady => start,
            Path::Swing { percent, cycles } => {
                let n = (self.warmup + self.messages).max(1) as f64;
                let phase = std::f64::consts::TAU * f64::from(cycles) * i as f64 / n;
                let amplitude = start as f64 * f64::from(percent) / 100.0;
                // Rounded to whole ticks; |amplitude| is far inside i64, so the cast is exact.
                #[allow(clippy::cast_possible_truncation)]
                let offset = (amplitude * phase.sin()).round() as i64;
                start + offset
            }
            Path::FlashCrash {
                percent,
                every,
                fall,
                recover,
            } => {
                let depth = start * i64::from(percent) / 100;
                let t = i % every.max(1);
                // The crash starts halfway through each period, so warm-up ends calm.
                let begin = every / 2;
                if t < begin {
                    start
                } else if t < begin + fall {
                    start - depth * (t - begin) as i64 / fall.max(1) as i64
                } else if t < begin + fall + recover {
                    start - depth + depth * (t - begin - fall) as i64 / recover.max(1) as i64
                } else {
                    start
                }
            }
        }
    }
}

/// A generated flow: the warm-up and measured messages and what each should produce.
#[derive(Clone, Debug)]
pub struct Flow {
    pub config: FlowConfig,
    pub warmup: Vec<Op>,
    pub ops: Vec<Op>,
    /// What each warm-up message produces in a correct price-time book.
    pub warmup_expected: Vec<Tally>,
    /// What each measured message produces in a correct price-time book.
    pub expected: Vec<Tally>,
    /// Best bid and ask (raw prices) after the last message.
    pub final_touch: (Option<i64>, Option<i64>),
    /// The largest order id used; ids are dense from 1.
    pub max_id: u64,
    /// The most orders ever live at once, for pre-sizing.
    pub max_live: usize,
    pub mix: Mix,
}

impl Flow {
    /// Generates the flow of `config` (deterministic in its seed).
    ///
    /// # Panics
    /// If the book refuses a generated message, which would be a bug of the generator.
    #[must_use]
    pub fn generate(config: &FlowConfig) -> Self {
        Gen::new(config).run()
    }

    /// A fresh bourse book with the warm-up applied: the steady-state book.
    #[must_use]
    pub fn book_after_warmup(&self) -> OrderBook {
        let mut book = OrderBook::with_capacity(self.config.book, self.max_live * 2, 1024);
        let mut sink = Vec::new();
        for op in &self.warmup {
            sink.clear();
            apply(&mut book, op, &mut sink);
        }
        book
    }

    /// The first id the flow never uses.
    #[must_use]
    pub fn next_free_id(&self) -> u64 {
        self.max_id + 1
    }
}

/// Sends one message to a bourse book.
pub fn apply(book: &mut OrderBook, op: &Op, out: &mut impl bourse_book::EventSink) {
    match *op {
        Op::Submit {
            id,
            owner,
            side,
            price,
            qty,
            tif,
        } => {
            book.submit(&Op::new_order(id, owner, side, price, qty, tif), out);
        }
        Op::Cancel { id } => book.cancel(id, out),
        Op::Replace { id, price, qty, .. } => book.replace(id, price, qty, out),
    }
}

const NOT_LIVE: u32 = u32::MAX;
// Lifecycle flags, per order id.
const MEASURED: u8 = 1;
const RESTED: u8 = 2;
const TOUCHED: u8 = 4;
const FILLED: u8 = 8;
const CANCELLED: u8 = 16;
const REPLACED: u8 = 32;

/// At the target book size, the share of (resting submit | cancel) draws that cancel: the
/// ratio 0.95 cancels per resting submit gives 0.95 / 1.95.
const CANCEL_BALANCE_PERMILLE: u64 = 487;
/// Cancels and replaces mostly hit recent orders (fleeting quotes near the touch).
const CANCEL_RECENT_PERCENT: u64 = 70;
const REPLACE_RECENT_PERCENT: u64 = 90;
/// Mean age, in order ids, of a "recent" order picked for a cancel or replace.
const RECENT_MEAN_IDS: u64 = 256;
/// IOCs, per mille, that sweep 2 to 4 whole levels.
const SWEEP_PERMILLE: u64 = 1;
/// IOCs priced a tick short of the touch, which trade nothing.
const MISS_PERCENT: u64 = 10;
const TAKERS: u64 = 1_000;
/// How far the fair value may lag its anchor before it chases it.
const CHASE_TICKS: i64 = 4;
const MAKERS: u64 = 5_000;

struct Gen<'c> {
    cfg: &'c FlowConfig,
    tick: i64,
    rng: Rng,
    book: OrderBook,
    events: Vec<BookEvent>,
    /// Fair value in ticks: bids rest at `fair - d`, asks at `fair + 1 + d`.
    fair: i64,
    /// Messages generated so far (warm-up and measured).
    step_no: usize,
    next_id: u64,
    live: Vec<u64>,
    pos: Vec<u32>,
    flags: Vec<u8>,
    max_live: usize,
    mix: Mix,
}

impl<'c> Gen<'c> {
    fn new(cfg: &'c FlowConfig) -> Self {
        let ids = cfg.warmup + cfg.messages + 2;
        Self {
            cfg,
            tick: cfg.book.tick.raw(),
            rng: Rng::new(cfg.seed),
            book: OrderBook::with_capacity(cfg.book, cfg.target_orders * 2, 1024),
            events: Vec::with_capacity(64),
            fair: cfg.start_ticks,
            step_no: 0,
            next_id: 1,
            live: Vec::with_capacity(cfg.target_orders * 2),
            pos: vec![NOT_LIVE; ids],
            flags: vec![0; ids],
            max_live: 0,
            mix: Mix {
                min_live: usize::MAX,
                fair_low: i64::MAX,
                fair_high: i64::MIN,
                ..Mix::default()
            },
        }
    }

    fn run(mut self) -> Flow {
        let cfg = self.cfg;
        let mut warmup = Vec::with_capacity(cfg.warmup);
        let mut warmup_expected = Vec::with_capacity(cfg.warmup);
        for _ in 0..cfg.warmup {
            let (op, t) = self.step(false);
            warmup.push(op);
            warmup_expected.push(t);
        }
        let mut ops = Vec::with_capacity(cfg.messages);
        let mut expected = Vec::with_capacity(cfg.messages);
        for _ in 0..cfg.messages {
            let (op, t) = self.step(true);
            ops.push(op);
            expected.push(t);
        }
        self.finish_lifecycles();
        if self.mix.messages == 0 {
            self.mix.min_live = 0;
            (self.mix.fair_low, self.mix.fair_high) = (0, 0);
        }
        Flow {
            config: cfg.clone(),
            warmup,
            ops,
            warmup_expected,
            expected,
            final_touch: (
                self.book.best_bid().map(|l| l.price.raw()),
                self.book.best_ask().map(|l| l.price.raw()),
            ),
            max_id: self.next_id - 1,
            max_live: self.max_live,
            mix: self.mix,
        }
    }

    fn step(&mut self, measured: bool) -> (Op, Tally) {
        let anchor = self.cfg.anchor(self.step_no);
        self.step_no += 1;
        self.walk(anchor);
        let cfg = self.cfg;
        let u = self.rng.below(1000);
        let op = if u < cfg.ioc_permille {
            self.ioc()
        } else if u < cfg.ioc_permille + cfg.replace_permille && !self.live.is_empty() {
            self.replace()
        } else {
            let live = self.live.len() as u64;
            let p_cancel =
                (CANCEL_BALANCE_PERMILLE * live / cfg.target_orders.max(1) as u64).min(950);
            if live > 0 && self.rng.below(1000) < p_cancel {
                Op::Cancel {
                    id: self.pick_live(CANCEL_RECENT_PERCENT),
                }
            } else {
                self.resting()
            }
        };
        let tally = self.apply(&op, measured);
        (op, tally)
    }

    /// Moves the fair value a tick now and then, pulled back gently towards `anchor`; when
    /// the anchor runs away (a swing, a crash), the fair value chases it a tick per message.
    fn walk(&mut self, anchor: i64) {
        if (anchor - self.fair).abs() > CHASE_TICKS {
            self.fair = (self.fair + (anchor - self.fair).signum()).max(2);
            return;
        }
        if self.rng.below(1000) >= self.cfg.walk_permille {
            return;
        }
        let pull = ((anchor - self.fair) * 2).clamp(-250, 250);
        let up_permille = u64::try_from(500 + pull).unwrap_or(0);
        if self.rng.below(1000) < up_permille {
            self.fair += 1;
        } else if self.fair > 2 {
            self.fair -= 1;
        }
    }

    fn ticks(&self, p: Price) -> i64 {
        p.raw() / self.tick
    }

    fn price(&self, ticks: i64) -> Price {
        Price::from_raw(ticks.max(1) * self.tick)
    }

    /// Failures before the first success at odds 1 in `m`: geometric with mean `m - 1`.
    fn geo(&mut self, m: u64) -> u64 {
        let mut k = 0;
        while k < 64 * m && self.rng.below(m) != 0 {
            k += 1;
        }
        k
    }

    /// Roughly exponential with mean `m` (for large `m`), at about `m / 16` draws.
    fn geo_wide(&mut self, m: u64) -> u64 {
        self.geo(m / 16 + 1) * 16 + self.rng.below(16)
    }

    fn side(&mut self) -> Side {
        if self.rng.chance(50) {
            Side::Buy
        } else {
            Side::Sell
        }
    }

    fn new_id(&mut self) -> OrderId {
        let id = self.next_id;
        self.next_id += 1;
        OrderId::new(id)
    }

    /// Round lots of 100 mostly, some odd lots; mean about 275 shares.
    fn maker_qty(&mut self) -> Qty {
        if self.rng.chance(10) {
            Qty::shares(1 + self.rng.below(99))
        } else {
            Qty::shares(100 * (1 + self.geo(3)))
        }
    }

    /// A passive price on `side`: geometric distance from the fair value, never crossing.
    fn passive_price(&mut self, side: Side) -> Price {
        let d = i64::try_from(self.geo(self.cfg.depth_mean_ticks + 1)).unwrap_or(i64::MAX / 2);
        let t = match side {
            Side::Buy => {
                let t = self.fair - d;
                self.book
                    .best_ask()
                    .map_or(t, |a| t.min(self.ticks(a.price) - 1))
            }
            Side::Sell => {
                let t = self.fair + 1 + d;
                self.book
                    .best_bid()
                    .map_or(t, |b| t.max(self.ticks(b.price) + 1))
            }
        };
        self.price(t)
    }

    fn resting(&mut self) -> Op {
        let side = self.side();
        let price = self.passive_price(side);
        let qty = self.maker_qty();
        let owner = AccountId::new(TAKERS + 1 + self.rng.below(MAKERS));
        Op::Submit {
            id: self.new_id(),
            owner,
            side,
            price,
            qty,
            tif: TimeInForce::Gtc,
        }
    }

    fn ioc(&mut self) -> Op {
        let bid = self.book.best_bid().map(|l| self.ticks(l.price));
        let ask = self.book.best_ask().map(|l| self.ticks(l.price));
        // Takers pick off quotes the fair value has left behind; otherwise either side.
        let side = match (bid, ask) {
            (_, Some(a)) if a <= self.fair => Side::Buy,
            (Some(b), _) if b > self.fair => Side::Sell,
            _ => self.side(),
        };
        let owner = AccountId::new(1 + self.rng.below(TAKERS));
        if self.rng.below(1000) < SWEEP_PERMILLE {
            // Take out the best 2 to 4 levels whole (or what there is).
            let levels = usize::try_from(2 + self.rng.below(3)).unwrap_or(2);
            let (qty, price) = self
                .book
                .depth(side.opposite(), levels)
                .fold((0, None), |(q, _), l| {
                    (q + l.qty.whole_shares(), Some(l.price))
                });
            if let Some(price) = price {
                let (id, qty) = (self.new_id(), Qty::shares(qty));
                return Op::Submit {
                    id,
                    owner,
                    side,
                    price,
                    qty,
                    tif: TimeInForce::Ioc,
                };
            }
        }
        let qty = if self.rng.chance(75) {
            1 + self.rng.below(99)
        } else {
            100
        };
        let through = self.geo(3);
        // Some arrive a tick late: the touch has moved and they miss.
        let through = if self.rng.chance(MISS_PERCENT) {
            -1
        } else {
            i64::try_from(through).unwrap_or(0)
        };
        let price = match side {
            Side::Buy => self.price(ask.unwrap_or(self.fair + 1) + through),
            Side::Sell => self.price(bid.unwrap_or(self.fair) - through),
        };
        Op::Submit {
            id: self.new_id(),
            owner,
            side,
            price,
            qty: Qty::shares(qty),
            tif: TimeInForce::Ioc,
        }
    }

    fn replace(&mut self) -> Op {
        let id = self.pick_live(REPLACE_RECENT_PERCENT);
        let Some(o) = self.book.order(id) else {
            unreachable!("live order {id:?} is not on the book");
        };
        let q = o.qty.whole_shares();
        if q >= 2 && self.rng.chance(50) {
            let smaller = (q * (1 + self.rng.below(3)) / 4).max(1);
            return Op::Replace {
                id,
                side: o.side,
                price: o.price,
                qty: Qty::shares(smaller),
            };
        }
        let mut price = self.passive_price(o.side);
        if price == o.price {
            // One tick further from the touch: still passive, and a real move.
            let t = self.ticks(price);
            price = match o.side {
                Side::Buy => self.price(t - 1),
                Side::Sell => self.price(t + 1),
            };
        }
        let qty = if self.rng.chance(50) {
            o.qty
        } else {
            self.maker_qty()
        };
        Op::Replace {
            id,
            side: o.side,
            price,
            qty,
        }
    }

    /// A live order: a recent one `recent_percent` of the time, otherwise any.
    fn pick_live(&mut self, recent_percent: u64) -> OrderId {
        if self.rng.chance(recent_percent) {
            for _ in 0..4 {
                let back = self.geo_wide(RECENT_MEAN_IDS);
                if let Some(id) = (self.next_id - 1).checked_sub(back)
                    && id > 0
                    && self.pos[idx(id)] != NOT_LIVE
                {
                    return OrderId::new(id);
                }
            }
        }
        let n = self.live.len() as u64;
        OrderId::new(self.live[idx(self.rng.below(n))])
    }

    fn enlive(&mut self, id: u64) {
        if self.pos[idx(id)] == NOT_LIVE {
            self.pos[idx(id)] = u32::try_from(self.live.len()).expect("live orders fit u32");
            self.live.push(id);
        }
    }

    fn unlive(&mut self, id: u64) {
        let p = self.pos[idx(id)];
        assert_ne!(p, NOT_LIVE, "order {id} left the book twice");
        self.pos[idx(id)] = NOT_LIVE;
        self.live.swap_remove(p as usize);
        if let Some(&moved) = self.live.get(p as usize) {
            self.pos[idx(moved)] = p;
        }
    }

    fn apply(&mut self, op: &Op, measured: bool) -> Tally {
        self.events.clear();
        let new_level = match *op {
            Op::Submit { side, price, .. } | Op::Replace { side, price, .. } => self
                .book
                .qty_at(side, price)
                .is_zero()
                .then_some((side, price)),
            Op::Cancel { .. } => None,
        };
        apply(&mut self.book, op, &mut self.events);
        if measured
            && let Some((side, price)) = new_level
            && !self.book.qty_at(side, price).is_zero()
        {
            self.mix.levels_born += 1;
        }
        let mut t = Tally::default();
        let mut last_price = None;
        let mut levels = 0u32;
        let mut in_place = false;
        let events = std::mem::take(&mut self.events);
        for e in &events {
            match *e {
                BookEvent::Rejected { .. } => {
                    panic!("the flow generator sent a message the book refused: {op:?} -> {e:?}")
                }
                BookEvent::Fill {
                    maker,
                    price,
                    qty,
                    maker_leaves,
                    ..
                } => {
                    t.fills += 1;
                    t.qty += qty.whole_shares();
                    self.flags[idx(maker.get())] |= TOUCHED;
                    if maker_leaves.is_zero() {
                        self.flags[idx(maker.get())] |= FILLED;
                        self.unlive(maker.get());
                    }
                    if last_price != Some(price) {
                        levels += 1;
                        last_price = Some(price);
                    }
                }
                BookEvent::Rested { id, .. } => {
                    self.flags[idx(id.get())] |= RESTED;
                    self.enlive(id.get());
                }
                BookEvent::Canceled {
                    id,
                    resting_price,
                    reason,
                    ..
                } => {
                    if resting_price.is_some() {
                        assert_eq!(reason, CancelReason::Requested, "{op:?}");
                        self.flags[idx(id.get())] |= CANCELLED;
                        self.unlive(id.get());
                    } else {
                        assert_eq!(reason, CancelReason::IocRemainder, "{op:?}");
                    }
                }
                BookEvent::Replaced { id, priority, .. } => {
                    self.flags[idx(id.get())] |= REPLACED;
                    in_place = priority == Priority::Kept;
                }
                BookEvent::Accepted { .. } => {}
            }
        }
        self.events = events;
        self.max_live = self.max_live.max(self.live.len());
        if measured {
            self.count(op, t, levels, in_place);
        }
        t
    }

    fn count(&mut self, op: &Op, t: Tally, levels: u32, in_place: bool) {
        let m = &mut self.mix;
        m.messages += 1;
        m.fills += u64::from(t.fills);
        m.filled_qty += t.qty;
        match *op {
            Op::Submit { id, tif, .. } => {
                m.submits += 1;
                self.flags[idx(id.get())] |= MEASURED;
                if tif == TimeInForce::Ioc {
                    m.ioc += 1;
                    m.ioc_traded += u64::from(t.fills > 0);
                    m.ioc_multi_level += u64::from(levels > 1);
                    m.max_levels_swept = m.max_levels_swept.max(levels);
                }
            }
            Op::Cancel { .. } => m.cancels += 1,
            Op::Replace { .. } => {
                m.replaces += 1;
                m.replaces_in_place += u64::from(in_place);
            }
        }
        let live = self.book.len();
        let levels = self.book.level_count(Side::Buy) + self.book.level_count(Side::Sell);
        m.live_sum += live as u64;
        m.levels_sum += levels as u64;
        m.min_live = m.min_live.min(live);
        m.max_live = m.max_live.max(live);
        m.max_levels = m.max_levels.max(levels);
        m.fair_low = m.fair_low.min(self.fair);
        m.fair_high = m.fair_high.max(self.fair);
    }

    fn finish_lifecycles(&mut self) {
        for (id, &f) in self.flags.iter().enumerate() {
            if f & MEASURED == 0 || f & RESTED == 0 {
                continue;
            }
            let m = &mut self.mix;
            m.rested += 1;
            m.replaced_orders += u64::from(f & REPLACED != 0);
            if self.pos[id] != NOT_LIVE {
                continue;
            }
            m.rested_done += 1;
            debug_assert!(
                f & (FILLED | CANCELLED) != 0,
                "order {id} left the book unseen"
            );
            if f & FILLED != 0 {
                m.fully_filled += 1;
            } else if f & TOUCHED != 0 {
                m.partially_filled_then_cancelled += 1;
            } else {
                m.cancelled_unfilled += 1;
            }
        }
    }
}

/// Order ids are dense from 1 and bounded by the flow length, so they index tables.
#[inline]
fn idx(id: u64) -> usize {
    usize::try_from(id).expect("order id fits usize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_self_consistent() {
        let cfg = FlowConfig::standard(5_000, 20_000);
        let a = Flow::generate(&cfg);
        let b = Flow::generate(&cfg);
        assert_eq!(a.ops, b.ops);
        assert_eq!(a.expected, b.expected);
        // Replaying the messages into a fresh book reproduces the expected tallies.
        let mut book = OrderBook::with_capacity(cfg.book, 1024, 256);
        for (op, want) in a
            .warmup
            .iter()
            .zip(&a.warmup_expected)
            .chain(a.ops.iter().zip(&a.expected))
        {
            let mut ev = Vec::new();
            apply(&mut book, op, &mut ev);
            let got = ev.iter().fold(Tally::default(), |mut t, e| {
                if let BookEvent::Fill { qty, .. } = e {
                    t.fills += 1;
                    t.qty += qty.whole_shares();
                }
                t
            });
            assert_eq!(got, *want, "{op:?}");
        }
    }

    #[test]
    fn every_flow_is_self_consistent_and_has_its_shape() {
        for cfg in FlowConfig::all(20_000, 60_000) {
            let f = Flow::generate(&cfg);
            let mut book = OrderBook::with_capacity(cfg.book, 1024, 256);
            let mut ev = Vec::new();
            for (op, want) in f
                .warmup
                .iter()
                .zip(&f.warmup_expected)
                .chain(f.ops.iter().zip(&f.expected))
            {
                ev.clear();
                apply(&mut book, op, &mut ev);
                let fills = ev
                    .iter()
                    .filter(|e| matches!(e, BookEvent::Fill { .. }))
                    .count();
                assert_eq!(fills, want.fills as usize, "{}: {op:?}", cfg.name);
            }
            let m = &f.mix;
            let range = m.fair_high - m.fair_low;
            match cfg.path {
                // Over 60k of the 80k messages, a two-period sine covers most of its range.
                Path::Swing { percent, .. } => assert!(
                    range > cfg.start_ticks * i64::from(percent) / 100,
                    "{}: fair value only spans {range} ticks\n{m}",
                    cfg.name
                ),
                Path::Steady | Path::FlashCrash { .. } => {}
            }
            if cfg.name == "deep" {
                assert!(m.avg_live() > 20_000.0, "deep book is shallow:\n{m}");
            }
            if cfg.name == "modify" {
                assert!(pct(m.replaces, m.messages) > 40.0, "{m}");
            }
        }
        // The crash shows within its first period (it starts at message 100k of 200k).
        let mut cfg = FlowConfig::all(20_000, 120_000)
            .into_iter()
            .find(|c| c.name == "flash-crash")
            .expect("flash-crash flow");
        cfg.seed ^= 1;
        let f = Flow::generate(&cfg);
        assert!(
            f.mix.fair_low < cfg.start_ticks * 85 / 100,
            "no crash:\n{}",
            f.mix
        );
    }

    #[test]
    fn mix_is_in_the_calibrated_range() {
        let f = Flow::generate(&FlowConfig::standard(100_000, 200_000));
        let m = &f.mix;
        let ok = (13.0..17.0).contains(&pct(m.ioc, m.submits))
            && (92.0..98.0).contains(&pct(m.cancelled_unfilled, m.rested_done))
            && (15.0..25.0).contains(&pct(m.replaced_orders, m.rested))
            && (1_500.0..6_000.0).contains(&m.avg_live())
            && (20.0..500.0).contains(&m.avg_levels())
            && m.ioc_multi_level > 0;
        assert!(ok, "mix out of range:\n{m}");
    }
}
