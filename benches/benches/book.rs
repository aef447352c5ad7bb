//! Criterion benches of bourse's order book, each reporting messages per second:
//!
//! - `submit_resting`: batches of 512 passive (non-crossing) limit orders into the
//!   steady-state book of the mixed flow (a few thousand orders); the setup takes the
//!   previous batch off again, untimed, so the book keeps its size.
//! - `cancel_resting`: batches of 512 cancels, in random order, of orders the untimed setup
//!   has just added to that book.
//! - `sweep_5_levels`: a buy and a sell IOC that each take 5 levels of 4 orders (20 fills)
//!   in a 40-level book; the setup puts the 40 orders back.
//! - `mixed_flow_<n>k`: the whole measured stream of the mixed flow (n thousand messages),
//!   from the steady state.
//!
//! Events go to a counting sink. `BOURSE_BENCH_QUICK=1` shortens everything.

use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::time::Duration;

use bourse_benches::adapters::{self, Bourse, CountingSink};
use bourse_benches::flow::{Flow, FlowConfig, Op};
use bourse_benches::latency::Mode;
use bourse_benches::rng::Rng;
use bourse_book::{BookConfig, NewOrder, OrderBook};
use bourse_core::{AccountId, OrderId, Price, Qty, Side, TimeInForce};
use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

const BATCH: usize = 512;

fn mode() -> Mode {
    Mode::from_env()
}

fn config() -> Criterion {
    let c = Criterion::default();
    match mode() {
        Mode::Full => c
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .sample_size(30),
        Mode::Quick | Mode::Smoke => c
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .sample_size(10),
    }
}

fn flow() -> Flow {
    let (warmup, messages) = match mode() {
        Mode::Full => (100_000, 300_000),
        Mode::Quick => (50_000, 100_000),
        Mode::Smoke => (5_000, 5_000),
    };
    Flow::generate(&FlowConfig::standard(warmup, messages))
}

/// Passive orders around the touch of `book`: geometric distance (mean 12 ticks) from the
/// best price on their own side, never crossing.
fn passive_pool(book: &OrderBook, n: usize, seed: u64) -> Vec<(Side, Price, Qty)> {
    let tick = book.config().tick.raw();
    let bid = book.best_bid().map_or(9_999 * tick, |l| l.price.raw());
    let ask = book.best_ask().map_or(bid + tick, |l| l.price.raw());
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let mut d = 0;
            while d < 500 && rng.below(13) != 0 {
                d += 1;
            }
            let qty = Qty::shares(100 * (1 + rng.below(5)));
            if rng.chance(50) {
                (
                    Side::Buy,
                    Price::from_raw((bid - d * tick).min(ask - tick)),
                    qty,
                )
            } else {
                (
                    Side::Sell,
                    Price::from_raw((ask + d * tick).max(bid + tick)),
                    qty,
                )
            }
        })
        .collect()
}

/// Hands out fresh orders from a pool of prices, with ids the flow never uses.
struct Orders {
    pool: Vec<(Side, Price, Qty)>,
    cursor: usize,
    next_id: u64,
}

impl Orders {
    fn batch(&mut self, n: usize) -> Vec<NewOrder> {
        (0..n)
            .map(|_| {
                let (side, price, qty) = self.pool[self.cursor % self.pool.len()];
                self.cursor += 1;
                self.next_id += 1;
                Op::new_order(
                    OrderId::new(self.next_id),
                    AccountId::new(7),
                    side,
                    price,
                    qty,
                    TimeInForce::Gtc,
                )
            })
            .collect()
    }
}

fn submit_resting(c: &mut Criterion, flow: &Flow) {
    let book = RefCell::new(flow.book_after_warmup());
    let mut orders = Orders {
        pool: passive_pool(&book.borrow(), 1 << 14, 1),
        cursor: 0,
        next_id: flow.next_free_id(),
    };
    let pending: RefCell<Vec<OrderId>> = RefCell::new(Vec::with_capacity(BATCH));
    let mut g = c.benchmark_group("book");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("submit_resting", |b| {
        b.iter_batched(
            || {
                let mut bk = book.borrow_mut();
                let mut sink = CountingSink::default();
                for id in pending.borrow_mut().drain(..) {
                    bk.cancel(id, &mut sink);
                }
                // Every order of the last batch rested (none traded).
                assert_eq!(sink.tally.rejects, 0);
                let batch = orders.batch(BATCH);
                pending.borrow_mut().extend(batch.iter().map(|o| o.id));
                batch
            },
            |batch| {
                let mut bk = book.borrow_mut();
                let mut sink = CountingSink::default();
                for o in &batch {
                    bk.submit(o, &mut sink);
                }
                black_box(sink.events);
                batch
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

fn cancel_resting(c: &mut Criterion, flow: &Flow) {
    let book = RefCell::new(flow.book_after_warmup());
    let mut orders = Orders {
        pool: passive_pool(&book.borrow(), 1 << 14, 2),
        cursor: 0,
        next_id: flow.next_free_id(),
    };
    let mut rng = Rng::new(3);
    let mut g = c.benchmark_group("book");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("cancel_resting", |b| {
        b.iter_batched(
            || {
                let mut bk = book.borrow_mut();
                let mut sink = CountingSink::default();
                let mut ids: Vec<OrderId> = orders
                    .batch(BATCH)
                    .iter()
                    .map(|o| {
                        bk.submit(o, &mut sink);
                        o.id
                    })
                    .collect();
                for i in (1..ids.len()).rev() {
                    let j = usize::try_from(rng.below(i as u64 + 1)).unwrap_or(0);
                    ids.swap(i, j);
                }
                ids
            },
            |ids| {
                let mut bk = book.borrow_mut();
                let mut sink = CountingSink::default();
                for &id in &ids {
                    bk.cancel(id, &mut sink);
                }
                assert_eq!(sink.tally.rejects, 0);
                ids
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

const SWEEP_LEVELS: i64 = 5;
const PER_LEVEL: u64 = 4;

fn sweep(c: &mut Criterion) {
    let cfg = BookConfig::default();
    let tick = cfg.tick.raw();
    let mid = 10_000 * tick;
    let book = RefCell::new(OrderBook::with_capacity(cfg, 4096, 256));
    let next_id = Cell::new(0u64);
    // Each side: 20 levels of 4 orders of 100 shares from one tick off the mid outwards.
    let add_levels = |bk: &mut OrderBook, levels: i64| {
        let mut sink = CountingSink::default();
        for l in 0..levels {
            for _ in 0..PER_LEVEL {
                for (side, price) in [
                    (Side::Buy, mid - (1 + l) * tick),
                    (Side::Sell, mid + (1 + l) * tick),
                ] {
                    next_id.set(next_id.get() + 1);
                    let o = NewOrder::limit(next_id.get(), 9, side, Price::from_raw(price), 100);
                    bk.submit(&o, &mut sink);
                }
            }
        }
        assert_eq!(sink.tally.fills, 0);
    };
    add_levels(&mut book.borrow_mut(), 20);
    let swept = Cell::new(false);
    let qty = u64::try_from(SWEEP_LEVELS).unwrap_or(0) * PER_LEVEL * 100;
    let mut g = c.benchmark_group("book");
    g.throughput(Throughput::Elements(2));
    g.bench_function("sweep_5_levels_20_fills", |b| {
        b.iter_batched(
            || {
                if swept.replace(true) {
                    add_levels(&mut book.borrow_mut(), SWEEP_LEVELS);
                }
                let bk = book.borrow();
                assert_eq!(
                    (bk.level_count(Side::Buy), bk.level_count(Side::Sell)),
                    (20, 20)
                );
                drop(bk);
                next_id.set(next_id.get() + 2);
                let id = next_id.get();
                let reach = (SWEEP_LEVELS + 2) * tick;
                [
                    NewOrder::limit(id - 1, 1, Side::Buy, Price::from_raw(mid + reach), qty)
                        .with_tif(TimeInForce::Ioc),
                    NewOrder::limit(id, 1, Side::Sell, Price::from_raw(mid - reach), qty)
                        .with_tif(TimeInForce::Ioc),
                ]
            },
            |takers| {
                let mut bk = book.borrow_mut();
                let mut sink = CountingSink::default();
                for o in &takers {
                    bk.submit(o, &mut sink);
                }
                debug_assert_eq!(sink.tally.fills, 2 * 20);
                black_box(sink.tally)
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

fn mixed_flow(c: &mut Criterion, flow: &Flow) {
    let mut g = c.benchmark_group("book");
    // Each iteration is the whole stream (tens of ms): few, equal-sized samples.
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(flow.ops.len() as u64));
    // The stream length is in the name, so quick and full runs keep separate baselines.
    g.bench_function(format!("mixed_flow_{}k", flow.ops.len() / 1000), |b| {
        b.iter_batched(
            || adapters::prepared::<Bourse>(flow),
            |mut v| {
                black_box(adapters::run(&mut v, &flow.ops));
                v
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let flow = flow();
    submit_resting(c, &flow);
    cancel_resting(c, &flow);
    sweep(c);
    mixed_flow(c, &flow);
}

criterion_group! {
    name = book;
    config = config();
    targets = benches
}
criterion_main!(book);
