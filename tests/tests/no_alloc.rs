//! The book allocates nothing per operation once warmed up: a second pass of a mixed
//! workload, on tables already grown by the first, makes zero heap allocations.

use std::alloc::System;

use bourse_benches::rng::Rng;
use bourse_book::{BookConfig, BookEvent, EventSink, NewOrder, OrderBook};
use bourse_core::{OrderId, Price, Qty, SelfTradePrevention, Side, TimeInForce};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Counts events without storing them.
#[derive(Default)]
struct Count {
    fills: u64,
    events: u64,
}

impl EventSink for Count {
    fn emit(&mut self, e: BookEvent) {
        self.events += 1;
        if matches!(e, BookEvent::Fill { .. }) {
            self.fills += 1;
        }
    }
}

/// One pass of limit orders around a wandering mid, with cancels, replaces, IOC and market
/// orders, a mass cancel and a DAY expiry. Ids start at `first_id` so passes never collide.
fn pass(book: &mut OrderBook, rng: &mut Rng, first_id: u64, ops: u64, out: &mut Count) {
    let tick = 100;
    let mut mid: i64 = 1_000_000;
    let mut live: [u64; 4096] = [0; 4096];
    for n in 0..ops {
        let id = first_id + n;
        // A drifting mid held inside a band: the working set stays the same size, which is
        // what "steady state" means (a book whose price range keeps widening must grow).
        if rng.chance(2) {
            mid += if rng.chance(50) { tick } else { -tick };
            mid = mid.clamp(1_000_000 - 40 * tick, 1_000_000 + 40 * tick);
        }
        let side = if rng.chance(50) {
            Side::Buy
        } else {
            Side::Sell
        };
        let dist = i64::try_from(rng.below(20)).unwrap_or(0) * tick;
        let away = if side == Side::Buy { -dist } else { dist };
        let qty = 1 + rng.below(500);
        let slot = usize::try_from(rng.below(4096)).unwrap_or(0);
        match rng.below(100) {
            0..=44 => {
                let o = NewOrder::limit(id, rng.below(50), side, Price::from_raw(mid + away), qty)
                    .with_tif(if rng.chance(10) {
                        TimeInForce::Day
                    } else {
                        TimeInForce::Gtc
                    })
                    .with_stp(SelfTradePrevention::CancelResting);
                book.submit(&o, out);
                live[slot] = id;
            }
            45..=74 => book.cancel(OrderId::new(live[slot]), out),
            75..=89 => {
                let p = Price::from_raw(mid + away);
                book.replace(OrderId::new(live[slot]), p, Qty::shares(qty), out);
            }
            90..=96 => {
                let cross = if side == Side::Buy {
                    3 * tick
                } else {
                    -3 * tick
                };
                let o = NewOrder::limit(id, rng.below(50), side, Price::from_raw(mid + cross), qty)
                    .with_tif(if rng.chance(50) {
                        TimeInForce::Ioc
                    } else {
                        TimeInForce::Fok
                    });
                book.submit(&o, out);
            }
            _ => book.submit(&NewOrder::market(id, rng.below(50), side, qty), out),
        }
        if n % 10_000 == 9_999 {
            book.mass_cancel(bourse_core::AccountId::new(rng.below(50)), None, out);
            book.expire_day_orders(out);
        }
    }
}

fn main() {
    let ops = std::env::var("BOURSE_NO_ALLOC_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let mut book = OrderBook::with_capacity(BookConfig::default(), 1024, 512);
    let mut rng = Rng::new(42);
    let mut warm = Count::default();
    pass(&mut book, &mut rng, 1, ops, &mut warm);

    let mut steady = Count::default();
    let region = Region::new(GLOBAL);
    pass(&mut book, &mut rng, 1 + ops, ops, &mut steady);
    let stats = region.change();

    assert!(
        steady.fills > 1_000,
        "workload must trade: {} fills",
        steady.fills
    );
    assert!(
        book.len() > 100,
        "workload must keep a book: {} resting",
        book.len()
    );
    assert_eq!(
        (stats.allocations, stats.reallocations),
        (0, 0),
        "steady-state pass of {ops} operations allocated: {stats:?}"
    );
    println!(
        "no_alloc: {ops} operations, {} events, {} fills, {} resting, 0 allocations",
        steady.events,
        steady.fills,
        book.len()
    );
    println!("no_alloc: 1 passed, 0 failed");
}
