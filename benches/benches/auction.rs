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
//! `cargo bench -p bourse-benches --bench auction`; `BOURSE_BENCH_QUICK=1` for fewer
//! repetitions. Under `cargo test` it runs one small pass.

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

fn engine_case(set: &[(Side, Price, u64, u64)]) -> (Duration, usize) {
    let mut e = Engine::new(EngineConfig::default(), vec![instrument()]).expect("engine");
    e.reserve(set.len());
    let symbol = instrument().symbol;
    let mut seq = 0u64;
    let mut out = Vec::new();
    let mut apply = |e: &mut Engine, cmd: Command, out: &mut Vec<Event>| {
        seq += 1;
        out.clear();
        e.apply(
            &Sequenced {
                seq: Seq(seq),
                ts: UnixNanos::new(seq),
                cmd,
            },
            out,
        );
    };
    for a in 1..=ACCOUNTS {
        apply(&mut e, Command::OpenAccount, &mut out);
        let account = AccountId::new(a);
        apply(
            &mut e,
            Command::Deposit {
                account,
                amount: Cash::from_dollars(1_000_000_000).expect("cash"),
            },
            &mut out,
        );
        apply(
            &mut e,
            Command::DepositShares {
                account,
                symbol,
                qty: Qty::shares(1_000_000),
            },
            &mut out,
        );
    }
    apply(
        &mut e,
        Command::SetSession {
            session: Session::OpeningCall,
        },
        &mut out,
    );
    for &(side, price, qty, owner) in set {
        apply(
            &mut e,
            Command::SubmitOrder(OrderRequest {
                account: AccountId::new(owner),
                symbol,
                client_order_id: None,
                side,
                order_type: OrderType::Limit,
                tif: TimeInForce::Day,
                qty: Qty::shares(qty),
                limit_price: Some(price),
                stop_price: None,
                post_only: false,
                stp: SelfTradePrevention::CancelIncoming,
                opts: Default::default(),
            }),
            &mut out,
        );
        assert!(
            out.iter().any(|e| matches!(e, Event::OrderRested { .. })),
            "{out:?}"
        );
    }
    out.clear();
    let t = Instant::now();
    seq += 1;
    e.apply(
        &Sequenced {
            seq: Seq(seq),
            ts: UnixNanos::new(seq),
            cmd: Command::SetSession {
                session: Session::Continuous,
            },
        },
        &mut out,
    );
    let took = t.elapsed();
    let trades = out
        .iter()
        .filter(|e| matches!(e, Event::Trade { .. }))
        .count();
    (took, trades)
}

fn report(label: &str, mut runs: Vec<(Duration, usize)>) {
    runs.sort_by_key(|r| r.0);
    let ns = |d: Duration| d.as_nanos() as f64;
    let (min, med, max) = (runs[0], runs[runs.len() / 2], runs[runs.len() - 1]);
    println!(
        "   {label:<34} min {:>9}  median {:>9}  max {:>9}  ({} trades, {} runs)",
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
        );
        report(
            &format!("engine SetSession uncross, {name}"),
            (0..reps).map(|_| engine_case(&set)).collect(),
        );
    }
}
