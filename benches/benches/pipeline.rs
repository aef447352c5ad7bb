//! The whole engine pipeline on threads: producer → inbound queue → engine thread (risk
//! checks on, the 32 instruments of `config/instruments.toml`, 10,000 funded accounts
//! holding shares of every symbol) → journal and events queues → consumer thread(s).
//!
//! For each runner configuration (wait strategy, pinning, consumer threads):
//! - open loop at 10 k/s, 100 k/s and 1 M/s: command `i` is due at `start + i / rate`
//!   whether or not the pipeline kept up, and its latency runs from that due time to the
//!   moment the events consumer holds the command's last event, so queueing behind a stall
//!   is counted (no coordinated omission). Below it: the same from the actual submit, split
//!   into submit → sequenced by the engine ("queued") and sequenced → seen by the consumer
//!   ("to pub"); the engine's clock is given the bench's timeline for that;
//! - saturation: the producer submits as fast as the queue takes commands (backing off
//!   10 µs on `Overloaded`, as a gateway answering 503 would); sustained throughput is
//!   commands over the time from the first submit to the last command seen, and latency
//!   (from each command's first submit attempt) is mostly time queued. Repeated, median shown.
//!
//! The command stream is generated in advance against a private engine (so cancels aim at
//! orders that really rest): mostly limit orders a few ticks off the reference price,
//! cancels, some marketable limit and market orders, a few deposits. Every run checks that
//! its consumers saw every seq, gap-free, with exactly the events that engine produced for
//! the same commands. The baseline is `Engine::apply` alone on one thread over the stream.
//!
//! `cargo bench -p bourse-benches --bench pipeline` (about 80 s); `BOURSE_BENCH_QUICK=1` for a
//! short run; `BOURSE_PIPELINE_CONFIGS=0,3` runs only some configurations (numbered in the
//! output), `BOURSE_PIPELINE_RATES=10000,sat` only some rates; `BOURSE_PIPELINE_INBOUND`,
//! `_JOURNAL`, `_BATCH` override queue capacities and `max_batch`; `BOURSE_PIPELINE_DETAIL=1`
//! splits saturation latency too; `BOURSE_PIPELINE_PROFILE=<seconds>` repeats the saturation
//! run of the first selected configuration, for `perf record`. Under `cargo test` it runs a
//! small smoke pass.
//!
//! `BOURSE_PIPELINE_MIX=new` (or `both`, the two in one sitting) puts the new order types and
//! market sessions in the stream: trailing stops and their cancels, on-open and on-close
//! orders taken from every kind alike; extended-hours, bracket and fractional limits in
//! place of passive orders; notional orders in place of market orders; a trading day every
//! `BOURSE_PIPELINE_DAY` commands (250,000 by default, a compressed day; `real`: as long as
//! a real one, see `REAL_DAY`). A stream shorter than a day is lengthened to one, so every
//! pass has its day; `BOURSE_PIPELINE_COMMANDS` sets the stream's length (600,000 quick,
//! 2,000,000 full). With `both`, the two streams' `Engine::apply` passes
//! alternate (`BOURSE_PIPELINE_BASE_REPS` rounds) and their ratio is printed.
//! `BOURSE_PIPELINE_NEW=trailing,bracket,…` keeps only some types;
//! `BOURSE_PIPELINE_STOPS_KEPT=1` never cancels a trailing stop (the worst case for
//! following them).
//!
//! The engine's tables are sized as the server sizes them (`engine.expected_working_orders`
//! in `config/default.toml`, 100,000); `BOURSE_PIPELINE_RESERVE=<orders>` sizes them for
//! another count, `0` lets them grow from empty. `BOURSE_PIPELINE_DEPTH=<orders>` rests
//! that many GTC limits 1–5 % from the reference in the setup (a deep book away from the
//! touch; the stream alone keeps only a few hundred orders working).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bourse_benches::latency::{Mode, Percentiles, fmt_ns, fmt_rate, histogram, median};
use bourse_benches::rng::Rng;
use bourse_core::{
    AccountId, Cash, ClassRequest, Command, Event, OrderClass, OrderId, OrderOptions, OrderRequest,
    OrderType, Price, Qty, SelfTradePrevention, Seq, Sequenced, Session, Side, StopLoss, Symbol,
    TimeInForce, Trail, UnixNanos,
};
use bourse_engine::{
    Engine, EngineConfig, EventBatch, InstrumentsFile, JournalBatch, JournalReceiver, Outputs,
    Runner, RunnerConfig, RunnerStatus, SubmitError, WaitStrategy,
};
use crossbeam_channel::{Select, TryRecvError};
use hdrhistogram::Histogram;

const ACCOUNTS: u64 = 10_000;
const CASH_DOLLARS: i64 = 10_000_000;
const SHARES: u64 = 100_000;
/// Resting orders the generator aims to keep across all books.
const LIVE_TARGET: usize = 40_000;
/// Commands at the head of each run left out of the histograms (cold caches, page faults).
const WARMUP_FRACTION: u64 = 20;

/// The core the engine is pinned to in pinned configurations; everything else then goes to
/// `OTHER_CORE`.
const ENGINE_CORE: usize = 1;
const OTHER_CORE: usize = 0;

#[derive(Clone, Copy, Debug)]
struct Setup {
    wait: WaitStrategy,
    pinned: bool,
    /// One thread draining both outbound queues, or one thread per queue.
    consumer_threads: usize,
}

impl Setup {
    fn short(&self) -> String {
        let wait = match self.wait {
            WaitStrategy::BusySpin => "busy-spin",
            WaitStrategy::SpinThenYield { .. } => "spin-yield",
            WaitStrategy::SpinThenPark { .. } => "spin-park",
        };
        format!(
            "{wait}, {}, {} consumer{}",
            if self.pinned { "pinned" } else { "unpinned" },
            self.consumer_threads,
            if self.consumer_threads == 1 { "" } else { "s" }
        )
    }

    fn describe(&self) -> String {
        format!(
            "engine {}, {}, {} consumer thread{}",
            self.wait,
            if self.pinned {
                format!(
                    "pinned to core {ENGINE_CORE} (producer and consumers on core {OTHER_CORE})"
                )
            } else {
                "not pinned (OS places every thread)".into()
            },
            self.consumer_threads,
            if self.consumer_threads == 1 {
                " for both queues"
            } else {
                "s (journal, events)"
            }
        )
    }
}

fn setups() -> Vec<Setup> {
    let park = WaitStrategy::default();
    let yield_ = WaitStrategy::SpinThenYield {
        spin: Duration::from_micros(50),
    };
    vec![
        // The default runner config as a server would start it.
        Setup {
            wait: park,
            pinned: false,
            consumer_threads: 2,
        },
        Setup {
            wait: park,
            pinned: true,
            consumer_threads: 2,
        },
        Setup {
            wait: park,
            pinned: true,
            consumer_threads: 1,
        },
        Setup {
            wait: WaitStrategy::BusySpin,
            pinned: true,
            consumer_threads: 1,
        },
        Setup {
            wait: WaitStrategy::BusySpin,
            pinned: true,
            consumer_threads: 2,
        },
        Setup {
            wait: yield_,
            pinned: true,
            consumer_threads: 1,
        },
    ]
}

// ---------------------------------------------------------------------------------------
// Workload

/// Working orders the engine's tables are sized for: `BOURSE_PIPELINE_RESERVE`, else what
/// the server sizes them for (`engine.expected_working_orders` in `config/default.toml`),
/// so that the bench measures the engine as it runs there. 0: grown from empty.
/// Read once: every fresh engine of the run asks.
fn reserved_orders() -> usize {
    static ORDERS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *ORDERS.get_or_init(|| {
        if let Some(n) = env_usize("BOURSE_PIPELINE_RESERVE") {
            return n;
        }
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/default.toml");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let doc: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        doc.get("engine")
            .and_then(|e| e.get("expected_working_orders"))
            .and_then(toml::Value::as_integer)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or_else(|| panic!("{path}: no engine.expected_working_orders"))
    })
}

fn instruments() -> Vec<bourse_engine::Instrument> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/instruments.toml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    toml::from_str::<InstrumentsFile>(&text)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .resolve()
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[derive(Clone, Copy)]
struct Listed {
    symbol: Symbol,
    reference: i64,
    tick: i64,
    lot: u64,
}

#[derive(Default, Debug)]
struct Mix {
    passive: u64,
    marketable: u64,
    market: u64,
    cancel: u64,
    deposit: u64,
    trades: u64,
    rejects: u64,
    /// The new types (`BOURSE_PIPELINE_MIX=new`): trailing stops, extended-hours limits,
    /// on-open and on-close orders, and session changes (a trading day every `DAY`
    /// commands).
    trailing: u64,
    extended: u64,
    auction: u64,
    /// Brackets (an entry with take-profit and stop-loss exits).
    classes: u64,
    /// Limit orders for a fraction of a share, and notional market orders.
    fractional: u64,
    notional: u64,
    /// Cancels of trailing stops held (new types).
    stop_cancels: u64,
    /// Trailing stops' moves and stops' triggers the stream caused.
    stop_moves: u64,
    triggers: u64,
    sessions: u64,
}

/// With the new types, a whole trading day (closing call, after-hours, closed,
/// pre-market, opening call, continuous again) goes by once every this many commands
/// (`BOURSE_PIPELINE_DAY`; 0: no session changes, to see the new types' own cost apart
/// from the close's, which parks every regular-hours order and brings it back at the open).
/// A compressed day: about 7,800 commands per instrument, against at least 57,515 in a real
/// one (`REAL_DAY`), so the day's cost weighs about seven times what it does in a market.
const DAY: usize = 250_000;

/// A day as long as a real one, at the least: the real NASDAQ day of AMZN in
/// `../shared/data/lobster` has 57,515 messages touching the best price alone (a full-depth
/// day has more), times the stream's 32 instruments, each as busy
/// (`BOURSE_PIPELINE_DAY=real`).
const REAL_DAY: usize = 57_515 * 32;

fn day_length() -> usize {
    match std::env::var("BOURSE_PIPELINE_DAY").as_deref() {
        Ok("real") => REAL_DAY,
        Ok(v) => v.parse().unwrap_or(DAY),
        Err(_) => DAY,
    }
}

struct Workload {
    setup: Vec<Command>,
    cmds: Vec<Command>,
    /// Events caused by the first `i` commands of `cmds` (`cum_events[0] == 0`).
    cum_events: Vec<u64>,
    mix: Mix,
}

fn apply_all(engine: &mut Engine, cmds: &[Command], first_seq: u64, out: &mut Vec<Event>) {
    apply_stream(engine, &sequenced(cmds, first_seq), out);
}

/// The stream as the engine thread receives it: sequenced, owned, built before the clock
/// starts (a clone per command would time the bench's copying and, for the boxed class
/// requests, an allocation and a free).
fn sequenced(cmds: &[Command], first_seq: u64) -> Vec<Sequenced> {
    cmds.iter()
        .zip(first_seq..)
        .map(|(cmd, seq)| Sequenced {
            seq: Seq(seq),
            ts: UnixNanos::new(seq),
            cmd: cmd.clone(),
        })
        .collect()
}

/// The baseline's pass over the stream, apart from the setup's, so that an instruction
/// count can be taken of it alone
/// (`valgrind --tool=callgrind --toggle-collect='*apply_stream*'`).
#[inline(never)]
fn apply_stream(engine: &mut Engine, cmds: &[Sequenced], out: &mut Vec<Event>) {
    for cmd in cmds {
        out.clear();
        engine.apply(cmd, out);
    }
}

/// A fresh exchange with every account funded: the state each run starts from.
fn prepared(setup: &[Command]) -> Engine {
    let mut e = Engine::new(EngineConfig::default(), instruments()).expect("engine config");
    e.reserve(reserved_orders());
    apply_all(&mut e, setup, 1, &mut Vec::new());
    e
}

impl Workload {
    fn generate(n: usize, seed: u64, new_types: bool) -> Workload {
        let listed: Vec<Listed> = instruments()
            .iter()
            .map(|i| Listed {
                symbol: i.symbol,
                reference: i.reference_price.raw(),
                tick: i.tick.raw(),
                lot: i.lot.whole_shares(),
            })
            .collect();
        let mut setup = Vec::new();
        for _ in 0..ACCOUNTS {
            setup.push(Command::OpenAccount);
        }
        for a in 1..=ACCOUNTS {
            let account = AccountId::new(a);
            setup.push(Command::Deposit {
                account,
                amount: Cash::from_dollars(CASH_DOLLARS).expect("cash"),
            });
            for l in &listed {
                setup.push(Command::DepositShares {
                    account,
                    symbol: l.symbol,
                    qty: Qty::shares(SHARES),
                });
            }
        }
        // A deep book (`BOURSE_PIPELINE_DEPTH` orders, none by default): GTC limits 1–5 %
        // from the reference on both sides, where the stream's orders seldom reach, as
        // the orders resting away from the touch in a real market. The stream itself stays
        // thin near the touch, so without them every working order fits in the caches.
        let mut deep = Rng::new(seed ^ 0xdee9);
        for _ in 0..env_usize("BOURSE_PIPELINE_DEPTH").unwrap_or(0) {
            let (l, side, sign) = pick(&mut deep, &listed);
            let pct_ticks = l.reference / 100 / l.tick;
            let spread = u64::try_from(4 * pct_ticks).unwrap_or(0).max(1);
            let behind = pct_ticks + i64::try_from(deep.below(spread)).unwrap_or(0);
            let account = AccountId::new(1 + deep.below(ACCOUNTS));
            let lots = 1 + deep.below(100);
            setup.push(Command::SubmitOrder(limit(
                account,
                l,
                side,
                TimeInForce::Gtc,
                lots,
                -sign * behind,
            )));
        }
        let mut shadow = prepared(&setup);
        let mut rng = Rng::new(seed);
        let mut live: Vec<(OrderId, AccountId)> = Vec::with_capacity(LIVE_TARGET * 2);
        // Trailing stops held, for the new types' own cancels (kept apart from `live`: when
        // stops took their cancels from the resting orders' share, fewer resting orders were
        // cancelled, the books grew deeper and the same market and IOC orders traded half
        // again as much, so the two streams no longer described the same market).
        let mut stops: Vec<(OrderId, AccountId)> = Vec::new();
        // Accepted orders that have not rested yet, and their owners.
        let mut owners: HashMap<OrderId, AccountId> = HashMap::new();
        let mut cmds = Vec::with_capacity(n);
        let mut cum_events = Vec::with_capacity(n + 1);
        cum_events.push(0);
        let mut mix = Mix::default();
        let mut out = Vec::new();
        let mut seq = setup.len() as u64;
        let mut day = Session::Continuous;
        let day_len = day_length();
        // Stops are cancelled (people move and drop their stops), unless
        // `BOURSE_PIPELINE_STOPS_KEPT` is set: then every stop stays until it triggers, the
        // worst case for following them (thousands held, each moved by every new high).
        let stops_kept = std::env::var_os("BOURSE_PIPELINE_STOPS_KEPT").is_some();
        for k in 0..n {
            let cmd = if new_types && day_len >= 6 && k % day_len >= day_len - 6 {
                // The six session changes of a day, back to back.
                mix.sessions += 1;
                day = day.next();
                Command::SetSession { session: day }
            } else {
                let lists = Lists {
                    live: &mut live,
                    stops: &mut stops,
                };
                next_command(&mut rng, &listed, lists, &shadow, &mut mix, new_types)
            };
            seq += 1;
            out.clear();
            let s = Sequenced {
                seq: Seq(seq),
                ts: UnixNanos::new(seq),
                cmd,
            };
            shadow.apply(&s, &mut out);
            for e in &out {
                match *e {
                    Event::OrderAccepted {
                        order_id,
                        account,
                        order_type,
                        ..
                    } => {
                        owners.insert(order_id, account);
                        if order_type == OrderType::TrailingStop && !stops_kept {
                            stops.push((order_id, account));
                        }
                    }
                    // Every order that rests may be cancelled alike, whatever its type: a
                    // bracket's entry, or its take profit resting once the entry filled
                    // (which may happen in another account's command). The first time
                    // only: the open puts the orders parked at the close back again.
                    Event::OrderRested { order_id, .. } => {
                        if let Some(account) = owners.remove(&order_id) {
                            live.push((order_id, account));
                        }
                    }
                    Event::OrderCanceled { order_id, .. } => {
                        owners.remove(&order_id);
                    }
                    Event::OrderFilled {
                        order_id,
                        leaves_qty,
                        ..
                    } if leaves_qty.is_zero() => {
                        owners.remove(&order_id);
                    }
                    Event::Trade { .. } => mix.trades += 1,
                    Event::Rejected { .. } => mix.rejects += 1,
                    Event::OrderStopMoved { .. } => mix.stop_moves += 1,
                    Event::OrderTriggered { .. } => mix.triggers += 1,
                    _ => {}
                }
            }
            cmds.push(s.cmd);
            cum_events.push(cum_events.last().copied().unwrap_or(0) + out.len() as u64);
        }
        Workload {
            setup,
            cmds,
            cum_events,
            mix,
        }
    }
}

/// The orders a stream may cancel: resting ones, and (new types) trailing stops held.
struct Lists<'a> {
    live: &'a mut Vec<(OrderId, AccountId)>,
    stops: &'a mut Vec<(OrderId, AccountId)>,
}

/// A cancel of one of `list`'s orders picked at random, forgetting those that ended
/// meanwhile; `None` once none is left.
fn cancel_one(
    rng: &mut Rng,
    list: &mut Vec<(OrderId, AccountId)>,
    shadow: &Engine,
) -> Option<Command> {
    while !list.is_empty() {
        let i = usize::try_from(rng.below(list.len() as u64)).unwrap_or(0);
        let (order_id, account) = list.swap_remove(i);
        if shadow.is_working(order_id) {
            return Some(Command::CancelOrder { account, order_id });
        }
    }
    None
}

fn next_command(
    rng: &mut Rng,
    listed: &[Listed],
    lists: Lists<'_>,
    shadow: &Engine,
    mix: &mut Mix,
    new_types: bool,
) -> Command {
    // The new types keep the current mix's balance of resting, cancelled and taken
    // liquidity: its trades depend on it (1.5 points more resting orders than cancels deepen
    // the books enough that the same market and IOC orders trade a tenth more, and then the
    // comparison measures that, not the new types). Orders that add no liquidity while they
    // wait (trailing stops, on-open and on-close orders) and the cancels of trailing stops
    // are 5 % of the commands, taken from every kind of the current mix alike; the new
    // resting kinds stand in for passive orders and notional orders for market orders,
    // below.
    if new_types && rng.below(1000) < 50 {
        let k = rng.below(10);
        if k < 3 {
            if let Some(cmd) = cancel_one(rng, lists.stops, shadow) {
                mix.stop_cancels += 1;
                return cmd;
            }
        } else {
            let kind = match k {
                3..=6 => NewKind::Trailing,
                7..=8 => NewKind::OnClose,
                _ => NewKind::OnOpen,
            };
            let account = AccountId::new(1 + rng.below(ACCOUNTS));
            let (l, side, sign) = pick(rng, listed);
            if let Some(cmd) = new_type(rng, account, l, side, sign, kind, mix) {
                return cmd;
            }
        }
    }
    let r = rng.below(1000);
    let crowded = lists.live.len() > LIVE_TARGET;
    if ((450..800).contains(&r) || (r < 450 && crowded))
        && let Some(cmd) = cancel_one(rng, lists.live, shadow)
    {
        // A resting order's owner cancels it.
        mix.cancel += 1;
        return cmd;
    }
    let account = AccountId::new(1 + rng.below(ACCOUNTS));
    if r >= 980 {
        mix.deposit += 1;
        return Command::Deposit {
            account,
            amount: Cash::from_dollars(i64::try_from(1 + rng.below(10_000)).unwrap_or(1))
                .expect("cash"),
        };
    }
    let (l, side, sign) = pick(rng, listed);
    // New resting kinds stand in for passive orders: 70 in 1,000 of them (3 % of commands)
    // are extended-hours limits, brackets or fractional limits; 1 in 10 market orders
    // (0.5 %) is notional.
    if new_types {
        let kind = if r < 800 {
            (rng.below(1000) < 70).then(|| match rng.below(6) {
                0..=2 => NewKind::Extended,
                3..=4 => NewKind::Bracket,
                _ => NewKind::Fractional,
            })
        } else if r >= 930 {
            (rng.below(10) == 0).then_some(NewKind::Notional)
        } else {
            None
        };
        if let Some(kind) = kind
            && let Some(cmd) = new_type(rng, account, l, side, sign, kind, mix)
        {
            return cmd;
        }
    }
    let (order_type, tif, ticks, qty) = if r < 800 {
        // Passive: 1–20 ticks behind the reference, most near the touch.
        mix.passive += 1;
        let behind = 1 + rng.below(20).min(rng.below(20));
        let tif = if rng.below(10) == 0 {
            TimeInForce::Day
        } else {
            TimeInForce::Gtc
        };
        let behind = i64::try_from(behind).unwrap_or(1);
        (OrderType::Limit, tif, -behind, 1 + rng.below(100))
    } else if r < 930 {
        mix.marketable += 1;
        let through = i64::try_from(3 + rng.below(6)).unwrap_or(3);
        (
            OrderType::Limit,
            TimeInForce::Ioc,
            through,
            1 + rng.below(200),
        )
    } else {
        mix.market += 1;
        (OrderType::Market, TimeInForce::Ioc, 0, 1 + rng.below(100))
    };
    let req = limit(account, l, side, tif, qty, sign * ticks);
    Command::SubmitOrder(OrderRequest {
        order_type,
        limit_price: req.limit_price.filter(|_| order_type == OrderType::Limit),
        ..req
    })
}

/// An order's instrument and side: popular symbols trade more (triangular skew toward the
/// head of the list); the sign turns "behind the reference" into a price offset.
fn pick(rng: &mut Rng, listed: &[Listed]) -> (Listed, Side, i64) {
    let n = listed.len() as u64;
    let l = listed[usize::try_from(rng.below(n).min(rng.below(n))).unwrap_or(0)];
    if rng.below(2) == 0 {
        (l, Side::Buy, 1)
    } else {
        (l, Side::Sell, -1)
    }
}

/// A plain limit order of `lots` lots, `ticks` from the reference price (negative:
/// below it); callers change what differs.
fn limit(
    account: AccountId,
    l: Listed,
    side: Side,
    tif: TimeInForce,
    lots: u64,
    ticks: i64,
) -> OrderRequest {
    OrderRequest {
        account,
        symbol: l.symbol,
        client_order_id: None,
        side,
        order_type: OrderType::Limit,
        tif,
        qty: Qty::shares(l.lot * lots),
        limit_price: Some(Price::from_raw(l.reference + ticks * l.tick)),
        stop_price: None,
        post_only: false,
        stp: SelfTradePrevention::CancelIncoming,
        opts: OrderOptions::default(),
    }
}

/// What a new-types command is.
#[derive(Clone, Copy)]
enum NewKind {
    Trailing,
    Extended,
    OnClose,
    OnOpen,
    Bracket,
    Fractional,
    Notional,
}

/// One order of the new types (7 % of commands in that mix, standing in for passive and
/// market orders): a trailing stop (1–3 % or a few ticks), an extended-hours DAY limit, an
/// on-close or on-open limit (in continuous trading the first waits for the close, the
/// second is refused `AUCTION_CLOSED`), a bracket (a limit entry near the price, exits a few
/// ticks either side), a limit for a fraction of a share, or a notional market order
/// ($100–$10,000). `None` if `BOURSE_PIPELINE_NEW` leaves its kind out.
fn new_type(
    rng: &mut Rng,
    account: AccountId,
    l: Listed,
    side: Side,
    sign: i64,
    kind: NewKind,
    mix: &mut Mix,
) -> Option<Command> {
    // Placed like the current mix's passive orders: 1–20 ticks behind, most near the touch.
    let behind = i64::try_from(1 + rng.below(20).min(rng.below(20))).unwrap_or(1);
    let mut req = limit(
        account,
        l,
        side,
        TimeInForce::Day,
        1 + rng.below(100),
        -sign * behind,
    );
    let name = match kind {
        NewKind::Bracket => "bracket",
        NewKind::Fractional => "fractional",
        NewKind::Notional => "notional",
        NewKind::Trailing => "trailing",
        NewKind::Extended => "extended",
        NewKind::OnClose | NewKind::OnOpen => "auction",
    };
    // `BOURSE_PIPELINE_NEW=trailing,bracket,…`: only those kinds (the others' share goes to
    // the current mix), to see what each costs.
    if let Ok(only) = std::env::var("BOURSE_PIPELINE_NEW")
        && !only.split(',').any(|k| k.trim() == name)
    {
        return None;
    }
    match kind {
        NewKind::Bracket => {
            mix.classes += 1;
            req.tif = TimeInForce::Gtc;
            let entry = req.limit_price.map_or(l.reference, Price::raw);
            let away = |k: u64| l.tick * (2 + i64::try_from(k).unwrap_or(0));
            // Sell exits (a buy entry): take profit above, stop below; mirrored.
            let (tp, sl) = match side {
                Side::Buy => (entry + away(rng.below(20)), entry - away(rng.below(20))),
                Side::Sell => (entry - away(rng.below(20)), entry + away(rng.below(20))),
            };
            return Some(Command::SubmitClass(Box::new(ClassRequest {
                class: OrderClass::Bracket,
                order: req,
                take_profit: Some(Price::from_raw(tp)),
                stop_loss: Some(StopLoss {
                    stop_price: Price::from_raw(sl),
                    limit_price: None,
                }),
            })));
        }
        NewKind::Trailing => {
            mix.trailing += 1;
            req.order_type = OrderType::TrailingStop;
            req.limit_price = None;
            req.opts.trail = Some(if rng.below(2) == 0 {
                Trail::Bps(u32::try_from(100 + rng.below(200)).unwrap_or(100))
            } else {
                Trail::Price(Price::from_raw(
                    l.tick * (5 + i64::try_from(rng.below(20)).unwrap_or(0)),
                ))
            });
        }
        NewKind::Extended => {
            mix.extended += 1;
            req.opts.extended_hours = true;
        }
        NewKind::Fractional => {
            mix.fractional += 1;
            req.tif = TimeInForce::Gtc;
            req.qty = Qty::from_raw(1 + rng.below(50_000_000));
        }
        NewKind::Notional => {
            mix.notional += 1;
            req.order_type = OrderType::Market;
            req.limit_price = None;
            req.qty = Qty::ZERO;
            req.opts.notional = Some(Cash::from_raw(
                1_000_000 + i64::try_from(rng.below(99_000_000)).unwrap_or(0),
            ));
        }
        NewKind::OnClose => {
            mix.auction += 1;
            req.tif = TimeInForce::Cls;
        }
        NewKind::OnOpen => {
            mix.auction += 1;
            req.tif = TimeInForce::Opg;
        }
    }
    Some(Command::SubmitOrder(req))
}

// ---------------------------------------------------------------------------------------
// One run

/// What every thread of a run shares.
struct RunCtx {
    base: Instant,
    /// The seq of the stream's first command.
    first_seq: u64,
    /// Nanoseconds (after `base`) at which command 0 is due, and the spacing in
    /// picoseconds; `None` at saturation.
    start_ns: u64,
    interval_ps: Option<u64>,
    /// Each command's first submit attempt, nanoseconds after `base`.
    sent: Vec<AtomicU64>,
    warmup: u64,
}

impl RunCtx {
    fn now(&self) -> u64 {
        nanos(self.base.elapsed())
    }

    fn due(&self, i: u64) -> Option<u64> {
        self.interval_ps.map(|ps| {
            self.start_ns
                + u64::try_from(u128::from(i) * u128::from(ps) / 1_000).unwrap_or(u64::MAX)
        })
    }
}

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The events consumer's findings.
struct Seen {
    from_due: Histogram<u64>,
    from_submit: Histogram<u64>,
    /// Submit to sequenced (the engine's clock reads the same timeline).
    to_engine: Histogram<u64>,
    /// Sequenced to seen by the events consumer.
    to_consumer: Histogram<u64>,
    commands: u64,
    events: u64,
    event_batches: u64,
    last_seen_ns: u64,
}

impl Seen {
    fn new() -> Self {
        Self {
            from_due: histogram(),
            from_submit: histogram(),
            to_engine: histogram(),
            to_consumer: histogram(),
            commands: 0,
            events: 0,
            event_batches: 0,
            last_seen_ns: 0,
        }
    }

    fn take(&mut self, ctx: &RunCtx, b: &EventBatch) {
        let now = ctx.now();
        for bourse_engine::Outcome {
            seq,
            ts,
            events: evs,
            ..
        } in b.commands()
        {
            let i = seq.0 - ctx.first_seq;
            if i >= ctx.warmup {
                if let Some(due) = ctx.due(i) {
                    self.from_due.saturating_record(now.saturating_sub(due));
                }
                let sent =
                    ctx.sent[usize::try_from(i).unwrap_or(usize::MAX)].load(Ordering::Relaxed);
                self.from_submit.saturating_record(now.saturating_sub(sent));
                self.to_engine
                    .saturating_record(ts.get().saturating_sub(sent));
                self.to_consumer
                    .saturating_record(now.saturating_sub(ts.get()));
            }
            self.events += evs.len() as u64;
        }
        self.commands += b.len() as u64;
        self.event_batches += 1;
        self.last_seen_ns = now;
    }
}

/// The journal consumer's findings.
#[derive(Default)]
struct Journaled {
    entries: u64,
    group_commits: u64,
    last_seq: u64,
}

impl Journaled {
    fn take(&mut self, b: &JournalBatch) {
        for s in b.entries() {
            assert!(
                self.last_seq == 0 || s.seq.0 == self.last_seq + 1,
                "journal gap"
            );
            self.last_seq = s.seq.0;
        }
        self.entries += b.len() as u64;
        self.group_commits += 1;
    }
}

fn pin(core: usize) -> bool {
    core_affinity::set_for_current(core_affinity::CoreId { id: core })
}

fn spawn_consumers(
    outputs: Outputs,
    ctx: &Arc<RunCtx>,
    setup: Setup,
) -> Vec<JoinHandle<(Option<Seen>, Option<Journaled>)>> {
    let Outputs { journal, events } = outputs;
    let pinned = setup.pinned;
    if setup.consumer_threads == 1 {
        let ctx = Arc::clone(ctx);
        return vec![thread::spawn(move || {
            if pinned {
                pin(OTHER_CORE);
            }
            let (mut seen, mut jr) = (Seen::new(), Journaled::default());
            let (mut j_open, mut e_open) = (true, true);
            while j_open || e_open {
                let mut got = false;
                loop {
                    match journal.try_recv() {
                        Ok(b) => {
                            jr.take(&b);
                            journal.recycle(b);
                            got = true;
                        }
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => {
                            j_open = false;
                            break;
                        }
                    }
                }
                loop {
                    match events.try_recv() {
                        Ok(b) => {
                            seen.take(&ctx, &b);
                            events.recycle(b);
                            got = true;
                        }
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => {
                            e_open = false;
                            break;
                        }
                    }
                }
                if !got && j_open && e_open {
                    // Sleep until either queue has something.
                    let mut sel = Select::new();
                    sel.recv(journal.receiver());
                    sel.recv(events.receiver());
                    let _ = sel.ready();
                } else if !got {
                    thread::yield_now();
                }
            }
            (Some(seen), Some(jr))
        })];
    }
    let ctx = Arc::clone(ctx);
    let ev = thread::spawn(move || {
        if pinned {
            pin(OTHER_CORE);
        }
        let mut seen = Seen::new();
        while let Ok(b) = events.recv() {
            seen.take(&ctx, &b);
            events.recycle(b);
        }
        (Some(seen), None)
    });
    let jn = thread::spawn(move || {
        if pinned {
            pin(OTHER_CORE);
        }
        let mut jr = Journaled::default();
        drain_journal(&journal, &mut jr);
        (None, Some(jr))
    });
    vec![ev, jn]
}

fn drain_journal(rx: &JournalReceiver, jr: &mut Journaled) {
    while let Ok(b) = rx.recv() {
        jr.take(&b);
        rx.recycle(b);
    }
}

struct RunResult {
    status: RunnerStatus,
    seen: Seen,
    producer_retries: u64,
    elapsed_ns: u64,
}

/// Offers `cmds` at `rate` commands per second (`None`: as fast as accepted).
fn run(w: &Arc<Workload>, n: usize, rate: Option<u64>, setup: Setup) -> RunResult {
    let engine = prepared(&w.setup);
    let first_seq = engine.last_seq().0 + 1;
    let ctx = Arc::new(RunCtx {
        base: Instant::now(),
        first_seq,
        start_ns: 1_000_000,
        interval_ps: rate.map(|r| 1_000_000_000_000 / r.max(1)),
        sent: (0..n).map(|_| AtomicU64::new(0)).collect(),
        warmup: n as u64 / WARMUP_FRACTION,
    });
    let base = ctx.base;
    let cfg = RunnerConfig {
        core: setup.pinned.then_some(ENGINE_CORE),
        wait: setup.wait,
        inbound_capacity: env_usize("BOURSE_PIPELINE_INBOUND")
            .unwrap_or(RunnerConfig::default().inbound_capacity),
        journal_capacity: env_usize("BOURSE_PIPELINE_JOURNAL")
            .unwrap_or(RunnerConfig::default().journal_capacity),
        max_batch: env_usize("BOURSE_PIPELINE_BATCH").unwrap_or(RunnerConfig::default().max_batch),
        // The bench's own timeline (one `clock_gettime`, as the default clock costs), so
        // the time each command was sequenced can be compared with its submit.
        clock: Box::new(move || UnixNanos::new(nanos(base.elapsed()))),
        ..RunnerConfig::default()
    };
    let (runner, outputs) = Runner::start(engine, cfg).expect("runner starts");
    if setup.pinned {
        assert!(runner.status().pinned, "could not pin the engine");
    }
    let consumers = spawn_consumers(outputs, &ctx, setup);
    let producer = {
        let ctx = Arc::clone(&ctx);
        let h = runner.handle();
        let pinned = setup.pinned;
        let w = Arc::clone(w);
        thread::spawn(move || {
            if pinned {
                pin(OTHER_CORE);
            }
            let mut retries = 0u64;
            // Each command is cloned as it is sent (a copy: no heap in this mix).
            for (i, cmd) in w.cmds[..n].iter().enumerate() {
                if let Some(due) = ctx.due(i as u64) {
                    let mut now = ctx.now();
                    while now < due {
                        // Not spinning: the consumers may share this core, and a spinning
                        // producer would keep them off it until the scheduler's next tick.
                        thread::yield_now();
                        now = ctx.now();
                    }
                }
                ctx.sent[i].store(ctx.now(), Ordering::Relaxed);
                let mut c = cmd.clone();
                loop {
                    match h.submit(c) {
                        Ok(()) => break,
                        Err(SubmitError::Overloaded(back)) => {
                            retries += 1;
                            c = back;
                            // Back off as a gateway answering 503 would: retrying at once
                            // keeps reading the very slot and index the engine is working
                            // on, which slowed the engine by a third in profiles.
                            thread::sleep(Duration::from_micros(10));
                        }
                        Err(SubmitError::Closed(_)) => panic!("runner closed mid-run"),
                    }
                }
            }
            retries
        })
    };
    let producer_retries = producer.join().expect("producer");
    let handle = runner.handle();
    let stopped = runner.shutdown().expect("clean shutdown");
    let status = handle.status();
    let (mut seen, mut journal) = (None, None);
    for c in consumers {
        let (s, j) = c.join().expect("consumer");
        seen = seen.or(s);
        journal = journal.or(j);
    }
    let seen = seen.expect("events consumer");
    let journal = journal.expect("journal consumer");
    // Every command through, with exactly the events the generating engine produced.
    assert_eq!(seen.commands, n as u64);
    assert_eq!(journal.entries, n as u64);
    assert_eq!(stopped.last_seq.0, first_seq + n as u64 - 1);
    assert_eq!(journal.last_seq, stopped.last_seq.0);
    assert_eq!(
        journal.group_commits, status.batches,
        "one journal batch per engine batch"
    );
    assert_eq!(
        seen.events, w.cum_events[n],
        "events differ from the generating run"
    );
    let start = ctx
        .due(0)
        .unwrap_or_else(|| ctx.sent[0].load(Ordering::Relaxed));
    RunResult {
        status,
        elapsed_ns: seen.last_seen_ns.saturating_sub(start),
        seen,
        producer_retries,
    }
}

// ---------------------------------------------------------------------------------------
// Output

fn hardware() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = thread::available_parallelism().map_or(0, usize::from);
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    format!("{model}, {cpus} CPUs available, Linux {kernel}; load average {load} at start")
}

impl RunResult {
    /// Commands per second from the first due (or submit) time to the last command seen.
    fn achieved(&self) -> f64 {
        self.seen.commands as f64 / (self.elapsed_ns.max(1) as f64 / 1e9)
    }
}

const ROW_HEAD: [&str; 7] = [
    "offered",
    "achieved",
    "commands",
    "cmd/batch",
    "stalls",
    "overloads",
    "latency from",
];

fn print_header() {
    let h = ROW_HEAD;
    println!(
        "  {:<11} {:>10} {:>9} {:>9} {:>7} {:>9} {:<9} {}",
        h[0],
        h[1],
        h[2],
        h[3],
        h[4],
        h[5],
        h[6],
        Percentiles::header()
    );
}

fn print_row(r: &RunResult, offered: Option<u64>) {
    let n = r.seen.commands;
    let batches = r.status.batches.max(1);
    let row = |label: &str, from: &str, h: &Histogram<u64>| {
        println!(
            "  {:<11} {:>10} {:>9} {:>9.1} {:>7} {:>9} {:<9} {}",
            label,
            fmt_rate(r.achieved()),
            n,
            n as f64 / batches as f64,
            r.status.stalls,
            r.producer_retries,
            from,
            Percentiles::of(h).row()
        );
    };
    let sub = |from: &str, h: &Histogram<u64>| {
        println!(
            "  {:<11} {:>10} {:>9} {:>9} {:>7} {:>9} {:<9} {}",
            "",
            "",
            "",
            "",
            "",
            "",
            from,
            Percentiles::of(h).row()
        );
    };
    match offered {
        Some(o) => {
            row(&fmt_rate(o as f64), "schedule", &r.seen.from_due);
            sub("submit", &r.seen.from_submit);
        }
        None => row("saturation", "submit", &r.seen.from_submit),
    }
    if std::env::var("BOURSE_PIPELINE_DETAIL").is_ok_and(|v| v == "1") || offered.is_some() {
        sub(" ├ queued", &r.seen.to_engine);
        sub(" └ to pub", &r.seen.to_consumer);
    }
}

/// One line of the closing summary.
struct Summary {
    label: String,
    pinned: bool,
    /// Offered rate, achieved rate, latency from the schedule.
    paced: Vec<(u64, f64, Percentiles)>,
    saturation: Vec<f64>,
    saturation_latency: Option<Percentiles>,
}

fn main() {
    let mode = Mode::from_env();
    // Commands per run at each offered rate; saturation uses the whole stream, `reps` times.
    let (idle, slow, fast, total, reps) = match mode {
        Mode::Full => (20_000, 200_000, 2_000_000, 2_000_000, 3),
        Mode::Quick => (5_000, 50_000, 300_000, 600_000, 2),
        Mode::Smoke => (500, 2_000, 10_000, 20_000, 1),
    };
    let total = env_usize("BOURSE_PIPELINE_COMMANDS").map_or(total, |n| n.max(fast));
    let mut all: Vec<(usize, Setup)> = setups().into_iter().enumerate().collect();
    if let Ok(sel) = std::env::var("BOURSE_PIPELINE_CONFIGS") {
        let keep: Vec<usize> = sel
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        all.retain(|(i, _)| keep.contains(i));
    }
    if mode == Mode::Smoke {
        all.truncate(1);
    }
    let only = std::env::var("BOURSE_PIPELINE_RATES").unwrap_or_default();
    let mixes: &[(&str, bool)] = match std::env::var("BOURSE_PIPELINE_MIX").as_deref() {
        Ok("new") => &[("new types", true)],
        Ok("both") => &[("current", false), ("new types", true)],
        _ => &[("current", false)],
    };
    // Every pass of a stream with the new types holds at least one whole day.
    let total = if mixes.iter().any(|m| m.1) && mode != Mode::Smoke {
        total.max(day_length())
    } else {
        total
    };
    let works: Vec<(&str, Arc<Workload>, f64)> = mixes
        .iter()
        .map(|&(label, new_types)| {
            let t0 = Instant::now();
            let w = Workload::generate(total, 0x5EED_B0B5, new_types);
            (label, Arc::new(w), t0.elapsed().as_secs_f64())
        })
        .collect();
    let streams: Vec<&Workload> = works.iter().map(|(_, w, _)| &**w).collect();
    let bases = baselines(&streams);
    if let [(la, _, _), (lb, _, _)] = works.as_slice() {
        // Same sitting, passes alternating: each pair ran on the machine as it was then.
        let mut ratios: Vec<f64> = bases[1].iter().zip(&bases[0]).map(|(b, a)| b / a).collect();
        // `median` sorts them, so the first and last are the range.
        let mid = median(&mut ratios);
        println!(
            "\n== Engine::apply alone, the two mixes' passes alternating ({} each): {lb} / {la} = {:.0}% (median of the pairs; {:.0}%–{:.0}%)",
            ratios.len(),
            100.0 * mid,
            100.0 * ratios[0],
            100.0 * ratios[ratios.len() - 1]
        );
    }
    for ((label, w, gen_secs), base) in works.into_iter().zip(bases) {
        one_mix(
            label,
            &w,
            gen_secs,
            base,
            mode,
            (idle, slow, fast, total, reps),
            &all,
            &only,
        );
    }
}

/// `Engine::apply` alone over each stream, one thread, no queues, no clock: passes over
/// the streams alternate, `BOURSE_PIPELINE_BASE_REPS` rounds (5 by default), so that a
/// slower minute of a shared machine falls on every stream alike. Commands per second of
/// each pass, per stream.
fn baselines(streams: &[&Workload]) -> Vec<Vec<f64>> {
    let rounds = env_usize("BOURSE_PIPELINE_BASE_REPS").unwrap_or(5).max(1);
    let mut rates = vec![Vec::with_capacity(rounds); streams.len()];
    // Every stream follows its setup, whose length is the same for all.
    let first = streams.first().map_or(1, |w| w.setup.len() as u64 + 1);
    let inputs: Vec<Vec<Sequenced>> = streams.iter().map(|w| sequenced(&w.cmds, first)).collect();
    // Each stream's event buffer lives across its passes, as the engine thread's does
    // across commands (`runner.rs`): a fresh one grew in every pass at the close, whose
    // events are one or two per resting order, and timed its reallocation (measured with
    // 20,000 deep orders: the pass's first close 9.3 ms with a fresh buffer, 6.7–7.3 ms
    // with a grown one).
    let mut outs: Vec<Vec<Event>> = streams.iter().map(|_| Vec::with_capacity(64)).collect();
    for round in 0..rounds {
        // ABBA: each stream goes first in every other round, so that neither always runs
        // on the heels of the other.
        let mut order: Vec<usize> = (0..streams.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for k in order {
            let (w, input, r, out) = (streams[k], &inputs[k], &mut rates[k], &mut outs[k]);
            let mut e = prepared(&w.setup);
            assert_eq!(e.last_seq().0 + 1, first, "the stream follows the setup");
            let t = Instant::now();
            apply_stream(&mut e, input, out);
            r.push(w.cmds.len() as f64 / t.elapsed().as_secs_f64());
        }
    }
    rates
}

/// Everything for one command mix: its stream, the baseline, every configuration and rate,
/// and the summary.
#[allow(clippy::too_many_arguments)]
fn one_mix(
    label: &str,
    w: &Arc<Workload>,
    gen_secs: f64,
    mut base: Vec<f64>,
    mode: Mode,
    (idle, slow, fast, total, reps): (usize, usize, usize, usize, usize),
    all: &[(usize, Setup)],
    only: &str,
) {
    let wanted = |name: &str| only.is_empty() || only.split(',').any(|o| o == name);
    println!(
        "\n== engine pipeline, {label} mix: {} setup commands ({ACCOUNTS} accounts, {} instruments, ${CASH_DOLLARS} and {SHARES} shares of each per account), then a {}-command stream generated in {:.2} s ({mode:?} mode); the engine's tables sized for {} working orders",
        w.setup.len(),
        instruments().len(),
        w.cmds.len(),
        gen_secs,
        reserved_orders()
    );
    let m = &w.mix;
    let pct = |x: u64| 100.0 * x as f64 / w.cmds.len() as f64;
    println!(
        "   mix: {:.1}% passive limit, {:.1}% cancel, {:.1}% marketable limit IOC, {:.1}% market, {:.1}% deposit, {:.1}% trailing stop, {:.1}% trailing-stop cancel, {:.1}% extended-hours limit, {:.1}% on-open/on-close, {:.1}% bracket, {:.1}% fractional limit, {:.1}% notional market, {} session changes; {} trades, {} rejects, {} stop triggers, {} trailing-stop moves, {:.2} events/command",
        pct(m.passive),
        pct(m.cancel),
        pct(m.marketable),
        pct(m.market),
        pct(m.deposit),
        pct(m.trailing),
        pct(m.stop_cancels),
        pct(m.extended),
        pct(m.auction),
        pct(m.classes),
        pct(m.fractional),
        pct(m.notional),
        m.sessions,
        m.trades,
        m.rejects,
        m.triggers,
        m.stop_moves,
        w.cum_events[w.cmds.len()] as f64 / w.cmds.len() as f64
    );
    println!("   host: {}", hardware());
    println!(
        "   latency: to the events consumer holding the command's last event, from its scheduled send time (open loop, no coordinated omission) or from its first submit attempt; first 1/{WARMUP_FRACTION} of each run not recorded"
    );

    if let Some(secs) = std::env::var("BOURSE_PIPELINE_PROFILE")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
    {
        let s = all.first().map_or(setups()[0], |a| a.1);
        let t = Instant::now();
        while t.elapsed().as_secs_f64() < secs {
            print_row(&run(w, total, None, s), None);
        }
        return;
    }

    let base_best = base.iter().copied().fold(0.0, f64::max);
    println!(
        "   baseline: Engine::apply alone on one thread, same stream, no queues or clock: {} best of {} ({:.0} ns/command; median {})",
        fmt_rate(base_best),
        base.len(),
        1e9 / base_best,
        fmt_rate(median(&mut base))
    );

    let mut summary = Vec::new();
    for (k, s) in all {
        println!("\n== [{k}] {}", s.describe());
        print_header();
        let mut sum = Summary {
            label: format!("[{k}] {}", s.short()),
            pinned: false,
            paced: Vec::new(),
            saturation: Vec::new(),
            saturation_latency: None,
        };
        for (rate, n) in [(10_000, idle), (100_000, slow), (1_000_000, fast)] {
            if !wanted(&rate.to_string()) {
                continue;
            }
            let r = run(w, n, Some(rate), *s);
            sum.pinned = r.status.pinned;
            print_row(&r, Some(rate));
            sum.paced
                .push((rate, r.achieved(), Percentiles::of(&r.seen.from_due)));
        }
        if wanted("sat") {
            let mut runs = Vec::new();
            for _ in 0..reps {
                let r = run(w, total, None, *s);
                sum.pinned = r.status.pinned;
                print_row(&r, None);
                runs.push(r);
            }
            runs.sort_by(|a, b| a.achieved().total_cmp(&b.achieved()));
            sum.saturation = runs.iter().map(RunResult::achieved).collect();
            sum.saturation_latency = runs
                .get(runs.len() / 2)
                .map(|r| Percentiles::of(&r.seen.from_submit));
        }
        println!("  engine pinned: {}; wait strategy: {}", sum.pinned, s.wait);
        summary.push(sum);
    }

    println!(
        "\n== summary: open-loop latency from each command's scheduled send time; saturation: median of {reps} runs (min–max), latency from submit in the median run"
    );
    println!(
        "  {:<36} {:>6} {:>10} {:>26} {:>9} {:>9} {:>9} {:>9}",
        "configuration", "pinned", "offered", "achieved", "p50", "p99", "p99.9", "max"
    );
    let cells = |p: &Percentiles| [p.p50, p.p99, p.p999, p.max].map(|v| fmt_ns(v as f64));
    for s in &summary {
        let mut label = s.label.as_str();
        let mut pinned = s.pinned.to_string();
        for (rate, achieved, p) in &s.paced {
            let c = cells(p);
            println!(
                "  {:<36} {:>6} {:>10} {:>26} {:>9} {:>9} {:>9} {:>9}",
                label,
                pinned,
                fmt_rate(*rate as f64),
                fmt_rate(*achieved),
                c[0],
                c[1],
                c[2],
                c[3]
            );
            label = "";
            pinned = String::new();
        }
        if let (Some(mid), Some(p)) = (
            s.saturation.get(s.saturation.len() / 2),
            s.saturation_latency,
        ) {
            let c = cells(&p);
            let achieved = format!(
                "{} ({}–{}) {:.0}%",
                fmt_rate(*mid),
                fmt_rate(s.saturation[0]),
                fmt_rate(s.saturation[s.saturation.len() - 1]),
                100.0 * mid / base_best
            );
            println!(
                "  {:<36} {:>6} {:>10} {:>26} {:>9} {:>9} {:>9} {:>9}",
                label, pinned, "saturation", achieved, c[0], c[1], c[2], c[3]
            );
        }
    }
    println!(
        "  (the % after a saturation rate compares it with Engine::apply alone: {})",
        fmt_rate(base_best)
    );
    let best = summary
        .iter()
        .filter_map(|s| s.saturation.get(s.saturation.len() / 2))
        .copied()
        .fold(0.0, f64::max);
    if best > 0.0 {
        println!(
            "  target >= 5 M commands/s sustained: {} (best median {}; the state machine alone: {})",
            if best >= 5e6 { "met" } else { "NOT met" },
            fmt_rate(best),
            fmt_rate(base_best)
        );
    }
    if mode == Mode::Smoke {
        println!("(smoke run under cargo test: every run checked, timings meaningless)");
    }
}
