//! The cost of a call auction's uncross with 100,000 orders in the call, on the book alone
//! and through the engine (the `SetSession` that ends the opening call: discovery, the
//! trades with their settlement and reports, the cancels of what may not outlive the
//! auction, the `OrderRested` of every order left).
//!
//! Two order sets, each 100,000 orders from 1,000 accounts, sides at random:
//! - `clustered`: limit prices within ±2 % of the reference on a $0.01 tick (about 800
//!   levels), so about half the orders cross and trade;
//! - `distinct`: every order at its own price (100,000 levels, the most work for discovery
//!   and for the book's ladder), on a $0.0001 tick ±5 % around the reference.
//!
//! Each case is built afresh (untimed) and uncrossed `reps` times; the report gives the
//! fastest, median and slowest uncross and the trades it made.
//!
//! Then a whole trading day's session changes over 100,000 resting orders (90 % GTC, 10 %
//! DAY, none crossing): the closing call, after-hours (the closing uncross, the DAY
//! orders' expiry, the GTC orders stepping off the book), closed, pre-market, the opening
//! call (the parked orders back in) and continuous trading (the opening uncross). Each
//! transition is one `SetSession`, during which the engine does nothing else: the figure
//! is that pause, and per resting order.
//!
//! `cargo bench -p bourse-benches --bench auction`; `BOURSE_BENCH_QUICK=1` for fewer
//! repetitions; `BOURSE_AUCTION_CASES=day` (or `uncross`) runs only that part, e.g. under a
//! profiler. Under `cargo test` it runs one small pass.

use std::time::{Duration, Instant};

use bourse_benches::latency::{Mode, fmt_ns};
use bourse_benches::rng::Rng;
use bourse_book::{BookConfig, BookEvent, NewOrder, OrderBook};
use bourse_core::{
    AccountId, Cash, Command, Event, OrderRequest, OrderType, Price, Qty, SelfTradePrevention, Seq,
    Sequenced, Session, Side, Symbol, TimeInForce, UnixNanos,
};
use bourse_engine::{Engine, EngineConfig, Instrument};

const ACCOUNTS: u64 = 1_000;
/// $100.00 in raw units (1 = $0.0001).
const REFERENCE: i64 = 1_000_000;
const TICK: i64 = 100;
/// The listing's tick ($0.0001): fine enough for 100,000 distinct prices within ±5 %.
const FINE_TICK: i64 = 1;

#[derive(Clone, Copy)]
enum Spread {
    Clustered,
    Distinct,
}

/// `n` call orders: (side, limit price, qty, owner).
fn orders(n: usize, spread: Spread, seed: u64) -> Vec<(Side, Price, u64, u64)> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|k| {
            let k = i64::try_from(k).unwrap_or(i64::MAX);
            let side = if rng.below(2) == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            let ticks = match spread {
                Spread::Clustered => i64::try_from(rng.below(401)).unwrap_or(0) - 200,
                // Distinct prices: order k at its own tick, sides interleaved at random, so
                // the buys and sells overlap over the middle of the range.
                Spread::Distinct => k - i64::try_from(n / 2).unwrap_or(0),
            };
            // The book's tick is $0.0001: `distinct` uses every one of them.
            let price = match spread {
                Spread::Clustered => Price::from_raw(REFERENCE + ticks * TICK),
                Spread::Distinct => Price::from_raw(REFERENCE + ticks),
            };
            (side, price, 1 + rng.below(500), 1 + rng.below(ACCOUNTS))
        })
        .collect()
}

fn book_case(set: &[(Side, Price, u64, u64)]) -> (Duration, usize) {
    let cfg = BookConfig {
        tick: Price::from_raw(FINE_TICK),
        ..BookConfig::default()
    };
    let mut book = OrderBook::with_capacity(cfg, set.len(), set.len());
    book.begin_call();
    let mut sink = Vec::new();
    for (k, &(side, price, qty, owner)) in set.iter().enumerate() {
        book.submit(
            &NewOrder::limit(k as u64 + 1, owner, side, price, qty).with_tif(TimeInForce::Day),
            &mut sink,
        );
    }
    sink.clear();
    let t = Instant::now();
    let u = book.uncross(Price::from_raw(REFERENCE), &mut sink);
    let took = t.elapsed();
    std::hint::black_box(u);
    let fills = sink
        .iter()
        .filter(|e| matches!(e, BookEvent::Fill { .. }))
        .count();
    (took, fills)
}

fn instrument() -> Instrument {
    Instrument {
        symbol: Symbol::new("AUCT").expect("symbol"),
        name: "Auction bench".to_owned(),
        sector: "Bench".to_owned(),
        reference_price: Price::from_raw(REFERENCE),
        tick: Price::from_raw(FINE_TICK),
        lot: Qty::shares(1),
        band_pct: 50,
        max_qty: Qty::shares(1_000_000),
        max_notional: Cash::from_raw(i64::MAX / 4),
        fractional: false,
    }
}

/// An engine with one instrument and `ACCOUNTS` funded accounts, and the next seq.
struct Driver {
    e: Engine,
    symbol: Symbol,
    seq: u64,
    out: Vec<Event>,
}

impl Driver {
    fn new(orders: usize) -> Driver {
        let mut d = Driver {
            e: Engine::new(EngineConfig::default(), vec![instrument()]).expect("engine"),
            symbol: instrument().symbol,
            seq: 0,
            // Room for a session change's events (up to about two per resting order): the
            // engine thread's buffer lives across commands (`runner.rs`) and keeps what the
            // last close grew it to, so a fresh one would time a reallocation the server
            // does not make (measured: 30 % of the after-hours change's time).
            out: Vec::with_capacity(4 * orders + 64),
        };
        d.e.reserve(orders);
        for a in 1..=ACCOUNTS {
            d.apply(Command::OpenAccount);
            let account = AccountId::new(a);
            d.apply(Command::Deposit {
                account,
                amount: Cash::from_dollars(1_000_000_000).expect("cash"),
            });
            d.apply(Command::DepositShares {
                account,
                symbol: d.symbol,
                qty: Qty::shares(1_000_000),
            });
        }
        d
    }

    /// Applies `cmd`; its events are in `self.out`, and how long it took is returned.
    fn apply(&mut self, cmd: Command) -> Duration {
        self.seq += 1;
        self.out.clear();
        let s = Sequenced {
            seq: Seq(self.seq),
            ts: UnixNanos::new(self.seq),
            cmd,
        };
        let t = Instant::now();
        self.e.apply(&s, &mut self.out);
        t.elapsed()
    }

    /// A limit order that must rest.
    fn rest(&mut self, owner: u64, side: Side, price: Price, qty: u64, tif: TimeInForce) {
        self.apply(Command::SubmitOrder(OrderRequest {
            account: AccountId::new(owner),
            symbol: self.symbol,
            client_order_id: None,
            side,
            order_type: OrderType::Limit,
            tif,
            qty: Qty::shares(qty),
            limit_price: Some(price),
            stop_price: None,
            post_only: false,
            stp: SelfTradePrevention::CancelIncoming,
            opts: Default::default(),
        }));
        assert!(
            self.out
                .iter()
                .any(|e| matches!(e, Event::OrderRested { .. })),
            "{:?}",
            self.out
        );
    }
}

fn engine_case(set: &[(Side, Price, u64, u64)]) -> (Duration, usize) {
    let mut d = Driver::new(set.len());
    d.apply(Command::SetSession {
        session: Session::OpeningCall,
    });
    for &(side, price, qty, owner) in set {
        d.rest(owner, side, price, qty, TimeInForce::Day);
    }
    let took = d.apply(Command::SetSession {
        session: Session::Continuous,
    });
    let trades = d
        .out
        .iter()
        .filter(|e| matches!(e, Event::Trade { .. }))
        .count();
    (took, trades)
}

/// The day's session changes, from continuous trading round to it again.
const DAY: [Session; 6] = [
    Session::ClosingCall,
    Session::AfterHours,
    Session::Closed,
    Session::PreMarket,
    Session::OpeningCall,
    Session::Continuous,
];

/// `n` orders resting in continuous trading (none crossing: buys below the reference,
/// sells above, over 400 ticks each side; one in ten DAY, the rest GTC), then the day's
/// session changes: how long each took, and its events.
fn day_case(n: usize, seed: u64) -> Vec<(Duration, usize)> {
    let mut rng = Rng::new(seed);
    let mut d = Driver::new(n);
    for _ in 0..n {
        let away = TICK * (1 + i64::try_from(rng.below(400)).unwrap_or(0));
        let (side, price) = if rng.below(2) == 0 {
            (Side::Buy, REFERENCE - away)
        } else {
            (Side::Sell, REFERENCE + away)
        };
        let tif = if rng.below(10) == 0 {
            TimeInForce::Day
        } else {
            TimeInForce::Gtc
        };
        let owner = 1 + rng.below(ACCOUNTS);
        d.rest(owner, side, Price::from_raw(price), 1 + rng.below(500), tif);
    }
    DAY.iter()
        .map(|&session| {
            let took = d.apply(Command::SetSession { session });
            (took, d.out.len())
        })
        .collect()
}

/// Fastest, median and slowest of `runs` (time, and a count of `what`); per resting order
/// too when `orders` is given.
fn report(label: &str, mut runs: Vec<(Duration, usize)>, what: &str, orders: Option<usize>) {
    runs.sort_by_key(|r| r.0);
    let ns = |d: Duration| d.as_nanos() as f64;
    let (min, med, max) = (runs[0], runs[runs.len() / 2], runs[runs.len() - 1]);
    let per = orders.map_or(String::new(), |n| {
        format!(", {:.0} ns per resting order", ns(med.0) / n as f64)
    });
    println!(
        "   {label:<34} min {:>9}  median {:>9}  max {:>9}  ({} {what}{per}, {} runs)",
        fmt_ns(ns(min.0)),
        fmt_ns(ns(med.0)),
        fmt_ns(ns(max.0)),
        med.1,
        runs.len()
    );
}

fn main() {
    let mode = Mode::from_env();
    let (n, reps) = match mode {
        Mode::Full => (100_000, 7),
        Mode::Quick => (100_000, 3),
        Mode::Smoke => (2_000, 1),
    };
    let cases = std::env::var("BOURSE_AUCTION_CASES").unwrap_or_default();
    let wanted = |case: &str| cases.is_empty() || cases.split(',').any(|c| c == case);
    if wanted("uncross") {
        uncross_cases(mode, n, reps);
    }
    if wanted("day") {
        day_cases(mode, n, reps);
    }
}

/// The uncross of 100,000 orders in a call, on the book and through the engine.
fn uncross_cases(mode: Mode, n: usize, reps: usize) {
    println!(
        "\n== call auction uncross: {n} orders in the call, {ACCOUNTS} accounts ({mode:?} mode)"
    );
    for (name, spread) in [
        ("clustered", Spread::Clustered),
        ("distinct", Spread::Distinct),
    ] {
        let set = orders(n, spread, 0xA0C7);
        report(
            &format!("book uncross, {name}"),
            (0..reps).map(|_| book_case(&set)).collect(),
            "trades",
            None,
        );
        report(
            &format!("engine SetSession uncross, {name}"),
            (0..reps).map(|_| engine_case(&set)).collect(),
            "trades",
            None,
        );
    }
}

/// A whole trading day's session changes over `n` resting orders.
fn day_cases(mode: Mode, n: usize, reps: usize) {
    println!(
        "\n== a trading day's session changes over {n} resting orders (90 % GTC, 10 % DAY), {ACCOUNTS} accounts ({mode:?} mode)"
    );
    let days: Vec<Vec<(Duration, usize)>> = (0..reps).map(|_| day_case(n, 0xDA7)).collect();
    for (k, session) in DAY.iter().enumerate() {
        let runs = days.iter().map(|day| day[k]).collect();
        report(&format!("SetSession {session:?}"), runs, "events", Some(n));
    }
    let totals = days
        .iter()
        .map(|day| (day.iter().map(|r| r.0).sum(), day.iter().map(|r| r.1).sum()))
        .collect();
    report("the whole day", totals, "events", Some(n));
}
