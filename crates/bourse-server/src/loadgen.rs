//! `bourse bench orders`: the order-entry load generator.
//!
//! It signs up its own traders (a user and an API key each), funds them through the operator
//! routes (cash, and shares of every symbol so sells are covered), then sends an **open-loop**
//! order flow at a fixed offered rate over N WebSocket connections (pipelined) or N HTTP/1.1
//! keep-alive connections (one request in flight each), and reports what came back.
//!
//! How it measures:
//! - Order `k` of the run is *meant* to go out at `k / rate` seconds after the start
//!   ([`Schedule`]); a pacer thread publishes how many orders are due, every `--tick-us` or
//!   at the next order's time, whichever is later, and each connection sends whatever of its
//!   share is due in one write. Latency runs from the **intended** send time to the arrival
//!   of the answer, so a stalled server is charged for the queue it builds (no coordinated
//!   omission); how late the client itself sent each order is reported separately
//!   (`send_lag_us`), and orders still unsent a second after the schedule ends are counted
//!   (`unsent`) rather than sent.
//! - A WebSocket request's `id` is `k * 4 + kind`: the answer alone gives its intended time
//!   and what it was, so nothing is kept per request in flight.
//! - Answers: execution reports and engine rejections go into the latency histogram;
//!   refusals that never reached the engine (`RATE_LIMITED`, `OVERLOADED`, `SHUTTING_DOWN`)
//!   are only counted. Warm-up orders (`--warmup`) are sent but not measured.
//!
//! The flow ([`Flow`]), per connection: 30% cancels of one of its resting orders (forced once
//! it has `--max-resting` of them), 45% passive limits 1–30 ticks behind the reference price
//! (DAY or GTC, they rest), 10% DAY limits 0–5 ticks through it (they trade with what rests
//! and rest the remainder), 15% IOC limits 0–10 ticks through it. Quantities 1–100 lots.
//! A cancel may find its order already filled: `UNKNOWN_ORDER` is the expected rejection.
//!
//! `--spawn` starts `bourse serve` as a child (file journal in a temporary directory, or
//! PostgreSQL in a fresh schema it drops afterwards) with the rate limits lifted, so one
//! command measures the whole path. The client runs on one tokio runtime (current-thread by
//! default) plus the pacer thread, to leave the cores to the server.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bourse_engine::Instrument;
use clap::{Args, Subcommand, ValueEnum};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};

use crate::rng::Rng;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::Config;

/// `bourse bench …`: load generators.
#[derive(Debug, Subcommand)]
pub enum Bench {
    /// Open-loop order entry at a fixed rate; latency from each order's intended send time.
    Orders(Box<OrdersArgs>),
    /// Market-data fan-out: many WebSocket subscribers on one hot symbol while orders flow.
    Feed(Box<crate::fanout::FeedArgs>),
    /// Journal replay: the configured journal read, decoded and applied, timed.
    Replay(crate::replaybench::ReplayArgs),
}

/// How orders reach the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    /// `/v1/ws`, pipelined (the server takes up to 1024 requests in flight per connection).
    Ws,
    /// `POST /v1/orders` and `DELETE /v1/orders/{id}` over HTTP/1.1 keep-alive, one request
    /// in flight per connection.
    Rest,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Ws => "ws",
            Transport::Rest => "rest",
        }
    }
}

/// `bourse bench orders`.
#[derive(Debug, Clone, Args)]
pub struct OrdersArgs {
    /// The exchange, `http://HOST:PORT` (not with --spawn).
    #[arg(long, required_unless_present = "spawn", conflicts_with = "spawn")]
    pub url: Option<String>,
    /// The exchange's operator token, to fund the bench accounts (--spawn makes its own).
    #[arg(long, required_unless_present = "spawn")]
    pub operator_token: Option<String>,
    /// Offered rate, orders (and cancels) per second, spread over the connections.
    #[arg(long, default_value_t = 10_000.0)]
    pub rate: f64,
    /// Measured seconds (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds at the same rate before measuring.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// WebSocket connections, or concurrent HTTP/1.1 clients.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    #[arg(long, value_enum, default_value_t = Transport::Ws)]
    pub transport: Transport,
    /// Write the JSON report here too (and the latency plot next to it, as .svg).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the latency percentile plot (SVG) here.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Symbols to trade (listed, with their reference prices, in the server's instrument list).
    #[arg(long, value_delimiter = ',', default_value = "AAPL,MSFT")]
    pub symbols: Vec<String>,
    /// Trader accounts (a user and an API key each); connection i uses account i mod this.
    /// Default: one per connection.
    #[arg(long)]
    pub accounts: Option<usize>,
    /// Start `bourse serve` as a child (file journal in a temporary directory, or PostgreSQL
    /// with --database-url) and stop it afterwards.
    #[arg(long)]
    pub spawn: bool,
    /// With --spawn: journal in PostgreSQL, in a fresh schema dropped afterwards.
    #[arg(long, requires = "spawn")]
    pub database_url: Option<String>,
    /// With --spawn: extra settings for the server, e.g. BOURSE__ENGINE__CORE=1 (repeatable).
    #[arg(long = "server-env", value_name = "KEY=VALUE", requires = "spawn")]
    pub server_env: Vec<String>,
    /// Worker threads of the client's runtime (1: a current-thread runtime).
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,
    /// Pacing quantum in microseconds: orders due within one quantum go out in one write.
    #[arg(long, default_value_t = 100)]
    pub tick_us: u64,
    /// Resting orders a connection keeps before its next action is always a cancel.
    #[arg(long, default_value_t = 2_000)]
    pub max_resting: usize,
    /// Seconds to wait for outstanding answers after the schedule ends.
    #[arg(long, default_value_t = 15.0)]
    pub drain: f64,
    /// Seed of the order flow.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs a `bourse bench` subcommand.
pub fn run(cfg: &Config, bench: Bench) -> Result<()> {
    match bench {
        Bench::Orders(a) => orders(cfg, &a),
        Bench::Feed(a) => crate::fanout::run(&a),
        Bench::Replay(a) => crate::replaybench::run(cfg, &a),
    }
}

// ---------------------------------------------------------------------------------------
// The schedule

/// When each order of the open-loop flow is meant to go out: order `k` at `k / rate`
/// seconds after the start, in whole nanoseconds (rounded down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Orders per 1,000 seconds, so fractional rates are exact to 0.001/s.
    per_kilosec: u64,
}

const NANOS_PER_KILOSEC: u128 = 1_000_000_000_000;

impl Schedule {
    /// A schedule at `rate` orders per second (0.001 to 10^9).
    pub fn new(rate: f64) -> Result<Schedule> {
        if !(rate.is_finite() && (0.001..=1e9).contains(&rate)) {
            bail!("--rate {rate}: use 0.001 to 1e9 orders per second");
        }
        Ok(Schedule {
            per_kilosec: f64_to_u64((rate * 1000.0).round()),
        })
    }

    /// Orders per second.
    #[must_use]
    pub fn rate(self) -> f64 {
        self.per_kilosec as f64 / 1000.0
    }

    /// Nanoseconds after the start at which order `k` is meant to be sent.
    #[must_use]
    pub fn intended_ns(self, k: u64) -> u64 {
        let ns = u128::from(k) * NANOS_PER_KILOSEC / u128::from(self.per_kilosec);
        u64::try_from(ns).unwrap_or(u64::MAX)
    }

    /// How many orders are due `elapsed_ns` after the start: those meant for that instant or
    /// earlier. `intended_ns(k) <= e` ⟺ `k·10¹² < (e+1)·r` ⟺ `k < ⌈(e+1)·r / 10¹²⌉`.
    #[must_use]
    pub fn due(self, elapsed_ns: u64) -> u64 {
        let n = (u128::from(elapsed_ns) + 1) * u128::from(self.per_kilosec);
        u64::try_from(n.div_ceil(NANOS_PER_KILOSEC)).unwrap_or(u64::MAX)
    }

    /// How many orders are meant for strictly before `ns`.
    #[must_use]
    pub fn before(self, ns: u64) -> u64 {
        if ns == 0 { 0 } else { self.due(ns - 1) }
    }
}

/// A float already checked to be finite and in range, to whole units.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub(crate) fn f64_to_u64(x: f64) -> u64 {
    // `as` saturates: negative and NaN become 0, huge values u64::MAX.
    x as u64
}

fn secs_to_ns(what: &str, secs: f64) -> Result<u64> {
    if !(secs.is_finite() && (0.0..=86_400.0).contains(&secs)) {
        bail!("{what} {secs}: use 0 to 86400 seconds");
    }
    Ok(f64_to_u64((secs * 1e9).round()))
}

// ---------------------------------------------------------------------------------------
// The order flow

/// What a request was; the low two bits of a WebSocket request id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A limit behind the reference price: rests.
    Passive = 0,
    /// A DAY limit at or through the reference: trades with what rests, rests the rest.
    Cross = 1,
    /// An IOC limit through the reference: trades or is canceled.
    Ioc = 2,
    /// A cancel of one of the connection's resting orders.
    Cancel = 3,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::Passive, Kind::Cross, Kind::Ioc, Kind::Cancel];

    fn name(self) -> &'static str {
        match self {
            Kind::Passive => "passive",
            Kind::Cross => "cross",
            Kind::Ioc => "ioc",
            Kind::Cancel => "cancel",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// `k * 4 + kind`.
#[must_use]
pub fn request_id(k: u64, kind: Kind) -> u64 {
    (k << 2) | kind as u64
}

/// Inverse of [`request_id`].
#[must_use]
pub fn parse_request_id(id: u64) -> (u64, Kind) {
    (
        id >> 2,
        Kind::ALL[usize::from(u8::try_from(id & 3).unwrap_or(0))],
    )
}

/// One symbol's limit prices, pre-rendered: `prices[center]` is the reference price,
/// `prices[center ± i]` is `i` ticks above or below it.
#[derive(Debug, Clone)]
struct Ladder {
    symbol: String,
    prices: Vec<String>,
    center: usize,
    lot: u64,
}

/// Ticks the passive orders spread over (fewer when the price band is narrower).
const SPREAD_TICKS: i64 = 30;

fn ladders(instruments: &[Instrument], symbols: &[String]) -> Result<Vec<Ladder>> {
    let mut out = Vec::new();
    for s in symbols {
        let s = s.trim();
        let i = instruments
            .iter()
            .find(|i| i.symbol.as_str() == s)
            .ok_or_else(|| anyhow!("--symbols: {s:?} is not in the instrument list"))?;
        let tick = i.tick.raw();
        let reference = i.reference_price.raw() / tick * tick;
        // Half the band either side, so every price stays inside it wherever trades move
        // the last price within the ladder.
        let band = reference / 100 * i64::from(i.band_pct) / tick;
        let center = SPREAD_TICKS.min(band / 2);
        if center < 6 {
            bail!("{s}: its price band is too narrow for the bench's price ladder");
        }
        let prices = (-center..=center)
            .map(|j| bourse_core::Price::from_raw(reference + j * tick).to_string())
            .collect();
        out.push(Ladder {
            symbol: s.to_owned(),
            prices,
            center: usize::try_from(center).unwrap_or(0),
            lot: i.lot.get(),
        });
    }
    if out.is_empty() {
        bail!("--symbols: name at least one symbol");
    }
    Ok(out)
}

/// One order of the flow, before it is written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OrderSpec {
    kind: Kind,
    ladder: usize,
    buy: bool,
    tif: &'static str,
    qty: u64,
    /// Index into the ladder's prices.
    px: usize,
}

/// The next request of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Order(OrderSpec),
    /// Cancel this order id.
    Cancel(u64),
}

impl Action {
    fn kind(&self) -> Kind {
        match self {
            Action::Order(o) => o.kind,
            Action::Cancel(_) => Kind::Cancel,
        }
    }
}

/// The flow mix, in percent of decisions (see the module docs).
const CANCEL_PCT: u64 = 30;
const PASSIVE_PCT: u64 = 45;
const CROSS_PCT: u64 = 10;

/// One connection's order flow.
#[derive(Debug, Clone)]
pub struct Flow {
    rng: Rng,
    ladders: Arc<[Ladder]>,
    /// Prefix of the client order ids, unique per run.
    run: Arc<str>,
    max_resting: usize,
}

impl Flow {
    fn new(seed: u64, ladders: Arc<[Ladder]>, run: Arc<str>, max_resting: usize) -> Flow {
        Flow {
            rng: Rng(seed),
            ladders,
            run,
            max_resting: max_resting.max(1),
        }
    }

    /// The next request; a cancel takes its order out of `live` (the connection's resting
    /// orders, as its reports told it).
    fn next(&mut self, live: &mut Vec<u64>) -> Action {
        let roll = self.rng.below(100);
        if !live.is_empty() && (roll < CANCEL_PCT || live.len() >= self.max_resting) {
            let i = self.rng.index(live.len());
            return Action::Cancel(live.swap_remove(i));
        }
        let kind = if roll < CANCEL_PCT + PASSIVE_PCT {
            Kind::Passive
        } else if roll < CANCEL_PCT + PASSIVE_PCT + CROSS_PCT {
            Kind::Cross
        } else {
            Kind::Ioc
        };
        let ladder = self.rng.index(self.ladders.len());
        let l = &self.ladders[ladder];
        let c = l.center;
        let buy = self.rng.below(2) == 0;
        // Ticks away from the reference: behind it for passive orders (nearer the touch
        // more often), through it for the aggressive ones.
        let (through, ticks, tif) = match kind {
            Kind::Passive => {
                let m = c - 1;
                let t = 1 + self.rng.index(m).min(self.rng.index(m));
                let tif = if self.rng.below(2) == 0 { "day" } else { "gtc" };
                (false, t, tif)
            }
            Kind::Cross => (true, self.rng.index(6), "day"),
            _ => (true, self.rng.index(11.min(c + 1)), "ioc"),
        };
        let px = if buy == through { c + ticks } else { c - ticks };
        Action::Order(OrderSpec {
            kind,
            ladder,
            buy,
            tif,
            qty: l.lot * (1 + self.rng.below(100)),
            px,
        })
    }

    fn side(o: &OrderSpec) -> &'static str {
        if o.buy { "buy" } else { "sell" }
    }

    /// The order's JSON fields after `{` (shared by both transports).
    fn order_fields(&self, o: &OrderSpec, k: u64, out: &mut String) {
        let l = &self.ladders[o.ladder];
        let _ = write!(
            out,
            r#""symbol":"{}","side":"{}","type":"limit","time_in_force":"{}","qty":"{}","limit_price":"{}","client_order_id":"{}-{k}"}}"#,
            l.symbol,
            Flow::side(o),
            o.tif,
            o.qty,
            l.prices[o.px],
            self.run,
        );
    }

    /// The WebSocket frame for `a`, the `k`-th request of the run.
    fn ws_frame(&self, a: &Action, k: u64, out: &mut String) {
        let id = request_id(k, a.kind());
        match a {
            Action::Order(o) => {
                let _ = write!(out, r#"{{"op":"order","id":{id},"#);
                self.order_fields(o, k, out);
            }
            Action::Cancel(order) => {
                let _ = write!(out, r#"{{"op":"cancel","id":{id},"order_id":"{order}"}}"#);
            }
        }
    }

    /// The `POST /v1/orders` body.
    fn rest_body(&self, o: &OrderSpec, k: u64, out: &mut String) {
        out.push('{');
        self.order_fields(o, k, out);
    }
}

// ---------------------------------------------------------------------------------------
// Measurements

/// Latency histograms: nanoseconds, 3 significant digits from 1 µs to 10 minutes.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1_000, 600_000_000_000, 3).expect("constant, valid bounds")
}

fn us(ns: u64) -> f64 {
    (ns as f64 / 100.0).round() / 10.0
}

/// The percentile summary of a histogram of nanoseconds, in microseconds.
#[must_use]
pub fn percentiles(h: &Histogram<u64>) -> Value {
    let q = |q: f64| us(h.value_at_quantile(q));
    json!({
        "count": h.len(),
        "mean_us": (h.mean() / 100.0).round() / 10.0,
        "p50_us": q(0.50),
        "p90_us": q(0.90),
        "p99_us": q(0.99),
        "p99_9_us": q(0.999),
        "max_us": us(h.max()),
    })
}

/// Codes of refusals that never reached the engine: counted, not timed.
const REFUSALS: [&str; 4] = [
    "RATE_LIMITED",
    "OVERLOADED",
    "SHUTTING_DOWN",
    "CONNECTION_ERROR",
];

/// Rejections the flow expects: a cancel that lost the race with a fill.
const EXPECTED: [&str; 1] = ["UNKNOWN_ORDER"];

/// What a connection was told, measured orders only (except the progress histogram).
#[derive(Debug)]
struct RecvStats {
    latency: Histogram<u64>,
    /// Every answer since the last progress line, warm-up included.
    interval: Histogram<u64>,
    answered: u64,
    reports: u64,
    errors: BTreeMap<String, u64>,
    by_kind: [u64; 4],
    warmup_answered: u64,
}

#[derive(Debug)]
struct SendStats {
    lag: Histogram<u64>,
    sent: u64,
    by_kind: [u64; 4],
    warmup_sent: u64,
}

/// One connection's shared state.
#[derive(Debug)]
struct Conn {
    /// Its resting orders, as its reports told it.
    live: Mutex<Vec<u64>>,
    recv: Mutex<RecvStats>,
    send: Mutex<SendStats>,
    /// Requests written and answers read, every phase.
    sent: AtomicU64,
    answered: AtomicU64,
    closed: AtomicBool,
    /// Its sender has sent all it will.
    sender_done: AtomicBool,
    /// Rung by the pacer when some of this connection's orders fall due.
    wake: Notify,
}

impl Conn {
    fn new() -> Conn {
        Conn {
            live: Mutex::new(Vec::new()),
            recv: Mutex::new(RecvStats {
                latency: histogram(),
                interval: histogram(),
                answered: 0,
                reports: 0,
                errors: BTreeMap::new(),
                by_kind: [0; 4],
                warmup_answered: 0,
            }),
            send: Mutex::new(SendStats {
                lag: histogram(),
                sent: 0,
                by_kind: [0; 4],
                warmup_sent: 0,
            }),
            sent: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            sender_done: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    fn record_sent(&self, ctx: &Ctx, batch: &[(u64, Kind, Instant)]) {
        let mut s = self.send.lock();
        for &(k, kind, at) in batch {
            if k < ctx.first_measured {
                s.warmup_sent += 1;
                continue;
            }
            s.sent += 1;
            s.by_kind[kind.index()] += 1;
            let lag = at.saturating_duration_since(ctx.intended(k));
            s.lag.saturating_record(duration_ns(lag));
        }
        drop(s);
        let n = u64::try_from(batch.len()).unwrap_or(0);
        self.sent.fetch_add(n, Ordering::Relaxed);
        ctx.sent.fetch_add(n, Ordering::Relaxed);
    }
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// What an answer said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome<'a> {
    Report {
        order_id: Option<u64>,
        /// The order rests in the book.
        resting: bool,
    },
    Error(&'a str),
}

/// How long after the end of the schedule a late sender may still send its backlog.
const LATE_SEND: Duration = Duration::from_secs(1);

/// The run: its schedule and window, and counters every task shares.
#[derive(Debug)]
struct Ctx {
    schedule: Schedule,
    start: Instant,
    warm_ns: u64,
    end_ns: u64,
    /// Orders `first_measured..total` are measured.
    first_measured: u64,
    total: u64,
    tick: Duration,
    /// Orders due so far (published by the pacer).
    due: AtomicU64,
    /// The pacer is done: nothing more falls due.
    finished: AtomicBool,
    /// The run is over (progress stops).
    done: AtomicBool,
    sent: AtomicU64,
    answered: AtomicU64,
    errors: AtomicU64,
    /// Answers that arrived inside the measured window.
    in_window: AtomicU64,
    progress: Mutex<Vec<Value>>,
}

impl Ctx {
    fn intended(&self, k: u64) -> Instant {
        self.start + Duration::from_nanos(self.schedule.intended_ns(k))
    }

    fn end_at(&self) -> Instant {
        self.start + Duration::from_nanos(self.end_ns)
    }

    /// A sender that far behind gives up: what it has not sent by then is `unsent`.
    fn send_until(&self) -> Instant {
        self.end_at() + LATE_SEND
    }

    /// Records one answer. `id` is the request id (`None`: the server could not say which
    /// request it answers, e.g. a WebSocket `RATE_LIMITED`).
    fn on_answer(&self, conn: &Conn, id: Option<u64>, outcome: Outcome<'_>, now: Instant) {
        let at = duration_ns(now.saturating_duration_since(self.start));
        let parsed = id.map(parse_request_id);
        if let (
            Some((_, Kind::Passive | Kind::Cross)),
            Outcome::Report {
                order_id: Some(o),
                resting: true,
            },
        ) = (parsed, outcome)
        {
            conn.live.lock().push(o);
        }
        self.answered.fetch_add(1, Ordering::Relaxed);
        conn.answered.fetch_add(1, Ordering::Relaxed);
        if (self.warm_ns..self.end_ns).contains(&at) {
            self.in_window.fetch_add(1, Ordering::Relaxed);
        }
        let is_error = matches!(outcome, Outcome::Error(_));
        if is_error {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let timed = match outcome {
            Outcome::Error(code) => !REFUSALS.contains(&code),
            Outcome::Report { .. } => true,
        };
        let latency = match parsed {
            Some((k, _)) if timed => Some(at.saturating_sub(self.schedule.intended_ns(k))),
            _ => None,
        };
        let measured = match parsed {
            Some((k, _)) => k >= self.first_measured,
            None => at >= self.warm_ns,
        };
        let mut r = conn.recv.lock();
        if let Some(l) = latency {
            r.interval.saturating_record(l);
        }
        if !measured {
            r.warmup_answered += 1;
            return;
        }
        r.answered += 1;
        if let Some(l) = latency {
            r.latency.saturating_record(l);
        }
        if let Some((_, kind)) = parsed {
            r.by_kind[kind.index()] += 1;
        }
        match outcome {
            Outcome::Report { .. } => r.reports += 1,
            Outcome::Error(code) => match r.errors.get_mut(code) {
                Some(n) => *n += 1,
                None => {
                    r.errors.insert(code.to_owned(), 1);
                }
            },
        }
    }
}

// ---------------------------------------------------------------------------------------
// The pacer

/// Whom the pacer wakes when orders fall due.
enum Wake {
    /// WebSocket senders: order `k` belongs to connection `k mod n`.
    Conns(Vec<Arc<Conn>>),
    /// REST workers take the next order when free.
    Watch(watch::Sender<u64>),
}

impl Wake {
    fn ring(&self, from: u64, to: u64) {
        match self {
            Wake::Conns(conns) => {
                let n = u64::try_from(conns.len()).unwrap_or(1).max(1);
                for k in from..to.min(from.saturating_add(n)) {
                    let c = usize::try_from(k % n).unwrap_or(0);
                    conns[c].wake.notify_one();
                }
            }
            Wake::Watch(tx) => {
                tx.send_replace(to);
            }
        }
    }

    fn ring_all(&self) {
        match self {
            Wake::Conns(conns) => conns.iter().for_each(|c| c.wake.notify_one()),
            Wake::Watch(tx) => {
                tx.send_modify(|_| {});
            }
        }
    }
}

/// Publishes how many orders are due, every tick (or at the next order's time if later),
/// until the schedule ends. A task on the client's runtime, woken by a fine-grained timer.
async fn pacer(ctx: Arc<Ctx>, wake: Wake) {
    let tick = duration_ns(ctx.tick).max(1);
    let mut timer = Ticker::new();
    let mut due = 0;
    loop {
        let e = duration_ns(ctx.start.elapsed());
        let now_due = ctx.schedule.due(e).min(ctx.total);
        if now_due > due {
            ctx.due.store(now_due, Ordering::Release);
            wake.ring(due, now_due);
            due = now_due;
        }
        if due >= ctx.total || e >= ctx.end_ns {
            break;
        }
        let next = ctx.schedule.intended_ns(due);
        let wait = next.saturating_sub(e).clamp(tick, 50_000_000);
        timer.sleep(Duration::from_nanos(wait)).await;
    }
    ctx.finished.store(true, Ordering::Release);
    wake.ring_all();
}

/// A one-shot timer with microsecond resolution. Tokio's own timers tick in milliseconds,
/// which would add up to a millisecond of client-made delay to every order; a second
/// thread sleeping finely costs a context switch per tick. On Linux this is a `timerfd`
/// the runtime polls like any socket; elsewhere, tokio's timer.
#[derive(Debug)]
struct Ticker {
    #[cfg(target_os = "linux")]
    fd: Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>>,
}

impl Ticker {
    fn new() -> Ticker {
        #[cfg(target_os = "linux")]
        {
            use rustix::time::{TimerfdClockId, TimerfdFlags, timerfd_create};
            let fd = timerfd_create(
                TimerfdClockId::Monotonic,
                TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
            )
            .ok()
            .and_then(|fd| {
                // Deprecated for `AsRawFd` types whose descriptor could change under tokio;
                // an `OwnedFd` cannot, and the safe constructor keeps this crate free of
                // `unsafe` (`register`, its replacement, is an unsafe fn).
                #[allow(deprecated)]
                tokio::io::unix::AsyncFd::new(fd).ok()
            });
            Ticker { fd }
        }
        #[cfg(not(target_os = "linux"))]
        Ticker {}
    }

    async fn sleep(&mut self, d: Duration) {
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.fd
            && Ticker::timerfd_sleep(fd, d).await.is_ok()
        {
            return;
        }
        tokio::time::sleep(d).await;
    }

    #[cfg(target_os = "linux")]
    async fn timerfd_sleep(
        fd: &tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>,
        d: Duration,
    ) -> std::io::Result<()> {
        use rustix::time::{Itimerspec, TimerfdTimerFlags, Timespec, timerfd_settime};
        let value = Timespec {
            tv_sec: d.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: d.subsec_nanos().max(1).into(),
        };
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let spec = Itimerspec {
            it_interval: zero,
            it_value: value,
        };
        timerfd_settime(fd.get_ref(), TimerfdTimerFlags::empty(), &spec)?;
        loop {
            let mut ready = fd.readable().await?;
            let mut expirations = [0u8; 8];
            match ready.try_io(|f| Ok(rustix::io::read(f.get_ref(), &mut expirations)?)) {
                Ok(r) => return r.map(|_| ()),
                Err(_would_block) => continue,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client (keep-alive, one request at a time)

/// An HTTP answer.
#[derive(Debug)]
pub(crate) struct HttpResponse {
    pub(crate) status: u16,
    retry_after: Option<u64>,
    close: bool,
    pub(crate) body: Vec<u8>,
}

/// One keep-alive HTTP/1.1 connection.
pub(crate) struct Http1 {
    addr: String,
    io: BufStream<TcpStream>,
    req: String,
    line: String,
    broken: bool,
}

impl std::fmt::Debug for Http1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http1")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Http1 {
    pub(crate) async fn connect(addr: &str) -> Result<Http1> {
        let s = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        s.set_nodelay(true)?;
        Ok(Http1 {
            addr: addr.to_owned(),
            io: BufStream::new(s),
            req: String::with_capacity(512),
            line: String::with_capacity(128),
            broken: false,
        })
    }

    pub(crate) async fn call(
        &mut self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<&str>,
    ) -> Result<HttpResponse> {
        if self.broken {
            *self = Http1::connect(&self.addr).await?;
        }
        self.req.clear();
        let _ = write!(
            self.req,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n",
            self.addr
        );
        if let Some(t) = bearer {
            let _ = write!(self.req, "Authorization: Bearer {t}\r\n");
        }
        match body {
            Some(b) => {
                let _ = write!(
                    self.req,
                    "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
                    b.len()
                );
            }
            None => self.req.push_str("Content-Length: 0\r\n\r\n"),
        }
        let r = async {
            self.io.write_all(self.req.as_bytes()).await?;
            self.io.flush().await?;
            read_response(&mut self.io, &mut self.line).await
        }
        .await;
        match r {
            Ok(resp) => {
                self.broken = resp.close;
                Ok(resp)
            }
            Err(e) => {
                self.broken = true;
                Err(e)
            }
        }
    }
}

/// Reads one response: status line, headers, and a body framed by Content-Length or
/// chunked transfer coding.
async fn read_response<R: AsyncBufRead + AsyncRead + Unpin>(
    r: &mut R,
    line: &mut String,
) -> Result<HttpResponse> {
    line.clear();
    if r.read_line(line).await? == 0 {
        bail!("the server closed the connection");
    }
    let status: u16 = line
        .split_ascii_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("not an HTTP status line: {:?}", line.trim_end()))?;
    let (mut length, mut chunked, mut retry_after, mut close) = (None, false, None, false);
    loop {
        line.clear();
        if r.read_line(line).await? == 0 {
            bail!("the server closed the connection in the headers");
        }
        let h = line.trim_end();
        if h.is_empty() {
            break;
        }
        let Some((name, value)) = h.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().context("Content-Length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("retry-after") {
            retry_after = value.parse().ok();
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            r.read_line(line).await?;
            let size = line.trim_end().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size.trim(), 16)
                .with_context(|| format!("chunk size {size:?}"))?;
            if size == 0 {
                // Trailers, then the blank line.
                loop {
                    line.clear();
                    if r.read_line(line).await? == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            let at = body.len();
            body.resize(at + size, 0);
            r.read_exact(&mut body[at..]).await?;
            line.clear();
            r.read_line(line).await?;
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        r.read_exact(&mut body).await?;
    } else if !(status < 200 || status == 204 || status == 304) {
        r.read_to_end(&mut body).await?;
        close = true;
    }
    Ok(HttpResponse {
        status,
        retry_after,
        close,
        body,
    })
}

/// A setup call that must succeed: waits out 429/503 (as `Retry-After` says) for up to two
/// minutes, and returns the JSON body of an expected status.
pub(crate) async fn call_ok(
    http: &mut Http1,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: &Value,
) -> Result<Value> {
    let text = body.to_string();
    let give_up = Instant::now() + Duration::from_secs(120);
    loop {
        let r = http
            .call(method, path, bearer, Some(&text))
            .await
            .with_context(|| format!("{method} {path}"))?;
        if matches!(r.status, 429 | 503) && Instant::now() < give_up {
            let secs = r.retry_after.unwrap_or(1).clamp(1, 10);
            tokio::time::sleep(Duration::from_secs(secs)).await;
            continue;
        }
        let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        if (200..300).contains(&r.status) {
            return Ok(v);
        }
        bail!("{method} {path}: HTTP {} {v}", r.status);
    }
}

/// `GET /healthz` (its JSON whatever the status).
pub(crate) async fn health(addr: &str) -> Result<Value> {
    let mut h = Http1::connect(addr).await?;
    let r = h.call("GET", "/healthz", None, None).await?;
    Ok(serde_json::from_slice(&r.body)?)
}

// ---------------------------------------------------------------------------------------
// Setup: traders, keys and money

/// Cash per bench account, dollars.
const CASH: &str = "1000000000";
/// Shares of each symbol per bench account.
const SHARES: u64 = 10_000_000;

async fn setup_account(
    addr: String,
    operator: String,
    run: Arc<str>,
    i: usize,
    symbols: Arc<[String]>,
) -> Result<String> {
    let mut h = Http1::connect(&addr).await?;
    let username = format!("bench-{run}-{i}");
    let password = format!("bench-password-{run}");
    let creds = json!({"username": username, "password": password});
    let v = call_ok(&mut h, "POST", "/v1/users", None, &creds).await?;
    let id = v["account_id"]
        .as_str()
        .ok_or_else(|| anyhow!("sign-up answered without an account id: {v}"))?
        .to_owned();
    let v = call_ok(&mut h, "POST", "/v1/sessions", None, &creds).await?;
    let session = v["token"]
        .as_str()
        .ok_or_else(|| anyhow!("log-in answered without a token: {v}"))?
        .to_owned();
    let v = call_ok(
        &mut h,
        "POST",
        "/v1/api-keys",
        Some(&session),
        &json!({"label": "bourse bench", "scopes": ["read", "trade"]}),
    )
    .await?;
    let key = v["secret"]
        .as_str()
        .ok_or_else(|| anyhow!("the API key answer has no secret: {v}"))?
        .to_owned();
    let op = Some(operator.as_str());
    call_ok(
        &mut h,
        "POST",
        &format!("/v1/admin/accounts/{id}/deposits"),
        op,
        &json!({"amount": CASH}),
    )
    .await
    .context("funding a bench account (is --operator-token right?)")?;
    for s in symbols.iter() {
        call_ok(
            &mut h,
            "POST",
            &format!("/v1/admin/accounts/{id}/shares"),
            op,
            &json!({"symbol": s, "qty": SHARES}),
        )
        .await?;
    }
    Ok(key)
}

pub(crate) async fn setup_accounts(
    addr: &str,
    operator: &str,
    run: &Arc<str>,
    n: usize,
    symbols: &[String],
) -> Result<Vec<String>> {
    let symbols: Arc<[String]> = symbols.to_vec().into();
    let tasks: Vec<JoinHandle<Result<String>>> = (0..n)
        .map(|i| {
            tokio::spawn(setup_account(
                addr.to_owned(),
                operator.to_owned(),
                run.clone(),
                i,
                symbols.clone(),
            ))
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.context("a setup task failed")??);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// WebSocket transport

pub(crate) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// What the client reads from an answer (the rest of the report is skipped unparsed).
#[derive(Deserialize)]
struct WsAnswer<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(default)]
    request_id: Option<u64>,
    #[serde(default)]
    code: Option<&'a str>,
    #[serde(default)]
    report: Option<ReportLite<'a>>,
}

#[derive(Deserialize)]
struct ReportLite<'a> {
    #[serde(default)]
    id: Option<&'a str>,
    #[serde(default)]
    status: Option<&'a str>,
}

impl ReportLite<'_> {
    fn outcome(&self) -> Outcome<'static> {
        Outcome::Report {
            order_id: self.id.and_then(|s| s.parse().ok()),
            resting: matches!(self.status, Some("new" | "partially_filled")),
        }
    }
}

pub(crate) async fn ws_connect(addr: &str, key: &str) -> Result<Ws> {
    let url = format!("ws://{addr}/v1/ws");
    // tungstenite zero-fills its whole read buffer before every read (128 KiB by default):
    // a smaller one costs less per read and still holds dozens of reports.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(32 * 1024);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(&url, Some(config), true)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let auth = json!({"op": "auth", "token": key}).to_string();
    ws.send(Message::text(auth)).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str())?;
                match v["type"].as_str() {
                    Some("authenticated") => return Ok(ws),
                    Some("error") => bail!("WebSocket auth refused: {v}"),
                    _ => {}
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => bail!("the server closed the WebSocket during auth"),
        }
    }
}

async fn ws_reader(ctx: Arc<Ctx>, conn: Arc<Conn>, mut stream: SplitStream<Ws>) {
    while let Some(m) = stream.next().await {
        let now = Instant::now();
        match m {
            Ok(Message::Text(t)) => match serde_json::from_str::<WsAnswer<'_>>(t.as_str()) {
                Ok(a) => match a.kind {
                    "execution_report" => {
                        let outcome = a.report.as_ref().map_or(
                            Outcome::Report {
                                order_id: None,
                                resting: false,
                            },
                            ReportLite::outcome,
                        );
                        ctx.on_answer(&conn, a.request_id, outcome, now);
                    }
                    "error" => {
                        let code = a.code.unwrap_or("UNKNOWN_ERROR");
                        ctx.on_answer(&conn, a.request_id, Outcome::Error(code), now);
                    }
                    _ => {}
                },
                Err(_) => ctx.on_answer(&conn, None, Outcome::Error("UNREADABLE_ANSWER"), now),
            },
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    conn.closed.store(true, Ordering::Release);
}

/// Sends connection `c`'s share of the schedule (orders `c`, `c + n`, …) as it falls due,
/// each wake-up's backlog in one write, until the schedule ends.
async fn ws_sender(
    ctx: Arc<Ctx>,
    conn: Arc<Conn>,
    c: u64,
    n: u64,
    mut sink: SplitSink<Ws, Message>,
    mut flow: Flow,
) {
    let mut k = c;
    let mut todo: Vec<(u64, Action)> = Vec::new();
    let mut sent: Vec<(u64, Kind, Instant)> = Vec::new();
    'run: while k < ctx.total {
        let due = ctx.due.load(Ordering::Acquire);
        if k >= due {
            if ctx.finished.load(Ordering::Acquire) {
                break;
            }
            conn.wake.notified().await;
            continue;
        }
        if Instant::now() >= ctx.send_until() {
            break;
        }
        {
            let mut live = conn.live.lock();
            while k < due {
                todo.push((k, flow.next(&mut live)));
                k += n;
            }
        }
        for (kk, a) in todo.drain(..) {
            let mut frame = String::with_capacity(256);
            flow.ws_frame(&a, kk, &mut frame);
            sent.push((kk, a.kind(), Instant::now()));
            if sink.feed(Message::text(frame)).await.is_err() {
                break 'run;
            }
        }
        conn.record_sent(&ctx, &sent);
        sent.clear();
        if sink.flush().await.is_err() {
            break;
        }
    }
    if !sent.is_empty() {
        conn.record_sent(&ctx, &sent);
    }
    conn.sender_done.store(true, Ordering::Release);
    // Closing now would lose the answers still on their way: wait for the end of the run.
    while !ctx.done.load(Ordering::Acquire) {
        conn.wake.notified().await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
}

async fn drive_ws(
    ctx: &Arc<Ctx>,
    conns: &[Arc<Conn>],
    sockets: Vec<Ws>,
    flows: Vec<Flow>,
) -> Vec<JoinHandle<()>> {
    let n = u64::try_from(conns.len()).unwrap_or(1);
    let mut tasks = Vec::new();
    let mut senders = Vec::new();
    for (c, ((ws, flow), conn)) in sockets.into_iter().zip(flows).zip(conns).enumerate() {
        let (sink, stream) = ws.split();
        tasks.push(tokio::spawn(ws_reader(ctx.clone(), conn.clone(), stream)));
        let c = u64::try_from(c).unwrap_or(0);
        senders.push(tokio::spawn(ws_sender(
            ctx.clone(),
            conn.clone(),
            c,
            n,
            sink,
            flow,
        )));
    }
    tasks.push(tokio::spawn(pacer(
        ctx.clone(),
        Wake::Conns(conns.to_vec()),
    )));
    tasks.extend(senders);
    tokio::time::sleep_until(ctx.end_at().into()).await;
    tasks
}

// ---------------------------------------------------------------------------------------
// REST transport

/// One HTTP/1.1 client: takes the next order of the schedule when free, sends it when due,
/// waits for its answer.
async fn rest_worker(
    ctx: Arc<Ctx>,
    conn: Arc<Conn>,
    mut http: Http1,
    key: String,
    mut flow: Flow,
    next: Arc<AtomicU64>,
    mut due: watch::Receiver<u64>,
) {
    let mut body = String::with_capacity(256);
    let mut path = String::with_capacity(32);
    loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        if k >= ctx.total {
            break;
        }
        while *due.borrow_and_update() <= k {
            if ctx.finished.load(Ordering::Acquire) || due.changed().await.is_err() {
                break;
            }
        }
        let at = Instant::now();
        if *due.borrow() <= k || at >= ctx.send_until() {
            break;
        }
        let action = flow.next(&mut conn.live.lock());
        body.clear();
        path.clear();
        let (method, b) = match &action {
            Action::Order(o) => {
                flow.rest_body(o, k, &mut body);
                path.push_str("/v1/orders");
                ("POST", Some(body.as_str()))
            }
            Action::Cancel(id) => {
                let _ = write!(path, "/v1/orders/{id}");
                ("DELETE", None)
            }
        };
        conn.record_sent(&ctx, &[(k, action.kind(), at)]);
        let r = http.call(method, &path, Some(&key), b).await;
        let now = Instant::now();
        let id = Some(request_id(k, action.kind()));
        match r {
            Ok(resp) if resp.status == 200 => {
                let outcome = serde_json::from_slice::<ReportLite<'_>>(&resp.body)
                    .map_or(Outcome::Error("UNREADABLE_ANSWER"), |r| r.outcome());
                ctx.on_answer(&conn, id, outcome, now);
            }
            Ok(resp) => {
                #[derive(Deserialize)]
                struct Code<'a> {
                    code: &'a str,
                }
                let code = serde_json::from_slice::<Code<'_>>(&resp.body)
                    .map_or("UNREADABLE_ANSWER", |c| c.code);
                ctx.on_answer(&conn, id, Outcome::Error(code), now);
            }
            Err(_) => ctx.on_answer(&conn, id, Outcome::Error("CONNECTION_ERROR"), now),
        }
    }
    conn.sender_done.store(true, Ordering::Release);
    conn.closed.store(true, Ordering::Release);
}

async fn drive_rest(
    ctx: &Arc<Ctx>,
    conns: &[Arc<Conn>],
    clients: Vec<(Http1, String)>,
    flows: Vec<Flow>,
) -> Vec<JoinHandle<()>> {
    let (tx, rx) = watch::channel(0u64);
    let next = Arc::new(AtomicU64::new(0));
    let tasks = clients
        .into_iter()
        .zip(flows)
        .zip(conns)
        .map(|(((http, key), flow), conn)| {
            tokio::spawn(rest_worker(
                ctx.clone(),
                conn.clone(),
                http,
                key,
                flow,
                next.clone(),
                rx.clone(),
            ))
        })
        .collect();
    let mut tasks: Vec<JoinHandle<()>> = tasks;
    tasks.push(tokio::spawn(pacer(ctx.clone(), Wake::Watch(tx))));
    tokio::time::sleep_until(ctx.end_at().into()).await;
    tasks
}

// ---------------------------------------------------------------------------------------
// Progress

async fn progress(ctx: Arc<Ctx>, conns: Vec<Arc<Conn>>, quiet: bool) {
    let second = Duration::from_secs(1);
    let mut tick = tokio::time::interval_at((ctx.start + second).into(), second);
    let (mut last_sent, mut last_answered) = (0, 0);
    let mut merged = histogram();
    loop {
        tick.tick().await;
        if ctx.done.load(Ordering::Acquire) {
            break;
        }
        let t = ctx.start.elapsed().as_secs_f64();
        let sent = ctx.sent.load(Ordering::Relaxed);
        let answered = ctx.answered.load(Ordering::Relaxed);
        let errors = ctx.errors.load(Ordering::Relaxed);
        let behind = ctx.due.load(Ordering::Acquire).saturating_sub(sent);
        merged.reset();
        for c in &conns {
            let mut r = c.recv.lock();
            let _ = merged.add(&r.interval);
            r.interval.reset();
        }
        let p99 = us(merged.value_at_quantile(0.99));
        let phase = if duration_ns(ctx.start.elapsed()) < ctx.warm_ns {
            " (warm-up)"
        } else {
            ""
        };
        if !quiet {
            eprintln!(
                "{t:>6.1}s  sent {sent} (+{})  answered {answered} (+{})  errors {errors}  \
                 p99 {:.2} ms  behind {behind}{phase}",
                sent - last_sent,
                answered - last_answered,
                p99 / 1000.0,
            );
        }
        ctx.progress.lock().push(json!({
            "t_s": (t * 10.0).round() / 10.0,
            "sent": sent - last_sent,
            "answered": answered - last_answered,
            "errors": errors,
            "p99_us": p99,
            "behind": behind,
        }));
        (last_sent, last_answered) = (sent, answered);
    }
}

// ---------------------------------------------------------------------------------------
// A spawned server

/// `bourse serve` as a child process.
pub(crate) struct Spawned {
    child: Child,
    addr: String,
    token: String,
    journal: String,
    pg: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
    out: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Spawned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spawned")
            .field("addr", &self.addr)
            .field("journal", &self.journal)
            .finish_non_exhaustive()
    }
}

impl Spawned {
    pub(crate) fn start(
        database_url: Option<&str>,
        server_env: &[String],
        run: &str,
    ) -> Result<Spawned> {
        let exe = std::env::current_exe().context("finding the bourse binary")?;
        let token = blake3::hash(format!("{run}-{:?}", Instant::now()).as_bytes())
            .to_hex()
            .to_string();
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("serve")
            .env("BOURSE__SERVER__LISTEN", "127.0.0.1:0")
            .env("BOURSE__SERVER__OPERATOR_TOKEN", &token)
            // The bench measures the exchange, not its rate limits.
            .env("BOURSE__SERVER__RATE_PER_CREDENTIAL", "1000000000")
            .env("BOURSE__SERVER__RATE_PER_IP", "1000000")
            .env("BOURSE__LOG__LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let (dir, pg, journal) = match database_url {
            Some(url) => {
                let schema = format!("bench_{run}");
                cmd.env("BOURSE__JOURNAL__BACKEND", "postgres")
                    .env("BOURSE__JOURNAL__DATABASE_URL", url)
                    .env("BOURSE__JOURNAL__SCHEMA", &schema);
                let journal = format!("postgres (schema {schema})");
                (None, Some((url.to_owned(), schema)), journal)
            }
            None => {
                let dir = tempfile::tempdir().context("creating a temporary journal directory")?;
                let path = dir.path().join("journal");
                cmd.env("BOURSE__JOURNAL__BACKEND", "file")
                    .env("BOURSE__JOURNAL__DIR", &path);
                (Some(dir), None, format!("file ({})", path.display()))
            }
        };
        for kv in server_env {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| anyhow!("--server-env {kv:?}: use KEY=VALUE"))?;
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().context("starting bourse serve")?;
        let stdout = child.stdout.take().context("the server's stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        let out = std::thread::spawn(move || {
            let mut first = Some(tx);
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                match first.take() {
                    Some(tx) => {
                        let _ = tx.send(l);
                    }
                    None => eprintln!("[server] {l}"),
                }
            }
        });
        let mut s = Spawned {
            child,
            addr: String::new(),
            token,
            journal,
            pg,
            _dir: dir,
            out: Some(out),
        };
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .map_err(|_| anyhow!("the spawned server printed no listening line"))?;
        // "bourse listening on http://ADDR (journal …)"
        s.addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .ok_or_else(|| anyhow!("unexpected first line from the server: {line:?}"))?
            .to_owned();
        eprintln!("bench: spawned {line}");
        Ok(s)
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// SIGTERM, a clean shutdown (it prints its final seq), then the schema goes.
    pub(crate) fn stop(mut self) -> Result<Value> {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(st) = self.child.try_wait()? {
                break Some(st);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(out) = self.out.take() {
            let _ = out.join();
        }
        let mut dropped = Value::Null;
        if let Some((url, schema)) = self.pg.take() {
            let opts = bourse_journal::PgJournalOptions::new(url).schema(schema.clone());
            // Quietly: PostgreSQL's notices ("drop cascades to …") are not news here.
            tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
                bourse_journal::PgJournal::open(opts)
                    .and_then(bourse_journal::PgJournal::drop_schema)
            })
            .with_context(|| format!("dropping the bench schema {schema}"))?;
            dropped = json!(schema);
        }
        Ok(json!({
            "journal": self.journal,
            "clean_exit": status.is_some_and(|s| s.success()),
            "schema_dropped": dropped,
        }))
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------
// The run

/// Where the load goes.
#[derive(Debug, Clone)]
struct Target {
    addr: String,
    token: String,
    journal: Option<String>,
}

pub(crate) fn parse_url(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("--url {url:?}: use http://HOST:PORT"))?;
    let addr = rest.trim_end_matches('/');
    if addr.is_empty() || addr.contains('/') {
        bail!("--url {url:?}: use http://HOST:PORT");
    }
    Ok(addr.to_owned())
}

/// A short id for this run's usernames, client order ids and schema.
pub(crate) fn run_id() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let h = blake3::hash(format!("{t}-{}", std::process::id()).as_bytes());
    h.to_hex()[..10].to_owned()
}

fn orders(cfg: &Config, a: &OrdersArgs) -> Result<()> {
    let schedule = Schedule::new(a.rate)?;
    if a.connections == 0 || a.connections > 4_096 {
        bail!("--connections {}: use 1 to 4096", a.connections);
    }
    if a.duration <= 0.0 {
        bail!("--duration must be positive");
    }
    let instruments = crate::serve::instruments(cfg)?;
    let ladders: Arc<[Ladder]> = ladders(&instruments, &a.symbols)?.into();
    let run = run_id();
    let spawned = if a.spawn {
        Some(Spawned::start(
            a.database_url.as_deref(),
            &a.server_env,
            &run,
        )?)
    } else {
        None
    };
    let target = match &spawned {
        Some(s) => Target {
            addr: s.addr.clone(),
            token: s.token.clone(),
            journal: Some(s.journal.clone()),
        },
        None => Target {
            addr: parse_url(a.url.as_deref().unwrap_or_default())?,
            token: a.operator_token.clone().unwrap_or_default(),
            journal: None,
        },
    };
    let result = run_load(a, schedule, ladders, &run, &target);
    let stopped = spawned.map(Spawned::stop);
    let (mut report, latency) = result?;
    if let Some(s) = stopped {
        report["server"]["spawned"] = s?;
    }
    print_summary(&report);
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = a
        .plot
        .clone()
        .or_else(|| a.json.as_ref().map(|j| j.with_extension("svg")))
    {
        let title = format!(
            "bourse bench orders: {} × {}, {:.0}/s offered, latency from intended send",
            a.connections,
            a.transport.name(),
            a.rate
        );
        let svg =
            crate::plot::percentile_svg(&title, &[("order → execution report".into(), &latency)]);
        std::fs::write(&path, svg).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("bench: latency plot {}", path.display());
    }
    Ok(())
}

fn run_load(
    a: &OrdersArgs,
    schedule: Schedule,
    ladders: Arc<[Ladder]>,
    run: &str,
    target: &Target,
) -> Result<(Value, Histogram<u64>)> {
    let rt = if a.client_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(a.client_threads)
            .thread_name("bench-client")
            .enable_all()
            .build()?
    };
    rt.block_on(load(a, schedule, ladders, run, target))
}

#[allow(clippy::too_many_lines)]
async fn load(
    a: &OrdersArgs,
    schedule: Schedule,
    ladders: Arc<[Ladder]>,
    run: &str,
    target: &Target,
) -> Result<(Value, Histogram<u64>)> {
    let run: Arc<str> = run.into();
    let n_accounts = a.accounts.unwrap_or(a.connections).clamp(1, a.connections);
    let addr = target.addr.as_str();
    let setup_started = Instant::now();
    let accounts = setup_accounts(addr, &target.token, &run, n_accounts, &a.symbols).await?;
    eprintln!(
        "bench: {n_accounts} accounts signed up and funded in {:.1} s; connecting {} {} \
         connections",
        setup_started.elapsed().as_secs_f64(),
        a.connections,
        a.transport.name(),
    );
    let flows: Vec<Flow> = (0..a.connections)
        .map(|c| {
            let seed =
                a.seed ^ (u64::try_from(c).unwrap_or(0) + 1).wrapping_mul(0x2545_f491_4f6c_dd1d);
            Flow::new(seed, ladders.clone(), run.clone(), a.max_resting)
        })
        .collect();
    let key = |c: usize| accounts[c % accounts.len()].clone();
    let mut sockets = Vec::new();
    let mut clients = Vec::new();
    for c in 0..a.connections {
        match a.transport {
            Transport::Ws => sockets.push(ws_connect(addr, &key(c)).await?),
            Transport::Rest => clients.push((Http1::connect(addr).await?, key(c))),
        }
    }
    let before = health(addr).await.ok();
    let warm_ns = secs_to_ns("--warmup", a.warmup)?;
    let end_ns = warm_ns + secs_to_ns("--duration", a.duration)?;
    let conns: Vec<Arc<Conn>> = (0..a.connections).map(|_| Arc::new(Conn::new())).collect();
    let ctx = Arc::new(Ctx {
        schedule,
        start: Instant::now(),
        warm_ns,
        end_ns,
        first_measured: schedule.before(warm_ns),
        total: schedule.before(end_ns),
        tick: Duration::from_micros(a.tick_us.max(1)),
        due: AtomicU64::new(0),
        finished: AtomicBool::new(false),
        done: AtomicBool::new(false),
        sent: AtomicU64::new(0),
        answered: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        in_window: AtomicU64::new(0),
        progress: Mutex::new(Vec::new()),
    });
    let reporter = tokio::spawn(progress(ctx.clone(), conns.clone(), a.quiet));
    let tasks = match a.transport {
        Transport::Ws => drive_ws(&ctx, &conns, sockets, flows).await,
        Transport::Rest => drive_rest(&ctx, &conns, clients, flows).await,
    };
    // The schedule is over: wait for the answers still outstanding.
    let drain_until = Instant::now() + Duration::from_nanos(secs_to_ns("--drain", a.drain)?);
    loop {
        let outstanding = conns.iter().any(|c| {
            !c.closed.load(Ordering::Acquire)
                && (!c.sender_done.load(Ordering::Acquire)
                    || c.answered.load(Ordering::Relaxed) < c.sent.load(Ordering::Relaxed))
        });
        if !outstanding || Instant::now() >= drain_until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    ctx.done.store(true, Ordering::Release);
    for c in &conns {
        c.wake.notify_one();
    }
    // WebSocket senders close their connections; whatever is still running then stops.
    let close_by = Instant::now() + Duration::from_secs(2);
    for t in &tasks {
        let _ = tokio::time::timeout_at(close_by.into(), async {
            while !t.is_finished() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
    }
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
    reporter.abort();
    let _ = reporter.await;
    let after = health(addr).await.ok();
    Ok(report(a, &ctx, &conns, target, n_accounts, before, after))
}

fn report(
    a: &OrdersArgs,
    ctx: &Ctx,
    conns: &[Arc<Conn>],
    target: &Target,
    n_accounts: usize,
    before: Option<Value>,
    after: Option<Value>,
) -> (Value, Histogram<u64>) {
    let mut latency = histogram();
    let mut lag = histogram();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let (mut sent, mut answered, mut reports) = (0u64, 0u64, 0u64);
    let (mut warm_sent, mut warm_answered) = (0u64, 0u64);
    let (mut sent_kind, mut answered_kind) = ([0u64; 4], [0u64; 4]);
    let mut resting = 0usize;
    for c in conns {
        let r = c.recv.lock();
        let _ = latency.add(&r.latency);
        answered += r.answered;
        reports += r.reports;
        warm_answered += r.warmup_answered;
        for (code, n) in &r.errors {
            *errors.entry(code.clone()).or_default() += n;
        }
        for (t, n) in answered_kind.iter_mut().zip(r.by_kind) {
            *t += n;
        }
        drop(r);
        let s = c.send.lock();
        let _ = lag.add(&s.lag);
        sent += s.sent;
        warm_sent += s.warmup_sent;
        for (t, n) in sent_kind.iter_mut().zip(s.by_kind) {
            *t += n;
        }
        drop(s);
        resting += c.live.lock().len();
    }
    let scheduled = ctx.total - ctx.first_measured;
    let secs = (ctx.end_ns - ctx.warm_ns) as f64 / 1e9;
    let per_s = |n: u64| (n as f64 / secs).round();
    let expected: u64 = EXPECTED.iter().filter_map(|c| errors.get(*c)).sum();
    let refused: u64 = REFUSALS.iter().filter_map(|c| errors.get(*c)).sum();
    let unexpected: u64 = errors.values().sum::<u64>() - expected - refused;
    let answered_per_s = per_s(ctx.in_window.load(Ordering::Relaxed));
    let unsent = scheduled.saturating_sub(sent);
    let unanswered = sent.saturating_sub(answered);
    let sustained = unsent == 0
        && unanswered == 0
        && refused == 0
        && answered_per_s >= 0.98 * ctx.schedule.rate();
    let kinds = |counts: [u64; 4]| -> Value {
        Kind::ALL
            .iter()
            .map(|k| (k.name().to_owned(), json!(counts[k.index()])))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let progress = std::mem::take(&mut *ctx.progress.lock());
    let max_behind = progress
        .iter()
        .filter_map(|p| p["behind"].as_u64())
        .max()
        .unwrap_or(0);
    let counter = |h: &Option<Value>, section: &str, key: &str| {
        h.as_ref().and_then(|v| v[section][key].as_u64())
    };
    let delta = |section: &str, key: &str| {
        Some(counter(&after, section, key)?.saturating_sub(counter(&before, section, key)?))
    };
    let (commits, commands) = (delta("journal", "commits"), delta("journal", "commands"));
    let avg_batch = match (commits, commands) {
        (Some(c), Some(n)) if c > 0 => json!((n as f64 / c as f64 * 10.0).round() / 10.0),
        _ => Value::Null,
    };
    let v = json!({
        "bench": "orders",
        "transport": a.transport.name(),
        "target": format!("http://{}", target.addr),
        "journal": target.journal,
        "config": {
            "rate": ctx.schedule.rate(),
            "duration_s": a.duration,
            "warmup_s": a.warmup,
            "connections": a.connections,
            "accounts": n_accounts,
            "symbols": a.symbols,
            "tick_us": a.tick_us,
            "client_threads": a.client_threads,
            "max_resting": a.max_resting,
            "seed": a.seed,
        },
        "scheduled": scheduled,
        "sent": sent,
        "answered": answered,
        "reports": reports,
        "unsent": unsent,
        "unanswered": unanswered,
        "errors": errors,
        "expected_rejections": expected,
        "refusals": refused,
        "unexpected_errors": unexpected,
        "sent_by_kind": kinds(sent_kind),
        "answered_by_kind": kinds(answered_kind),
        "throughput": {
            "offered_per_s": ctx.schedule.rate(),
            "sent_per_s": per_s(sent),
            "answered_per_s": answered_per_s,
        },
        "sustained": sustained,
        "latency_us": percentiles(&latency),
        "send_lag_us": percentiles(&lag),
        "max_behind_schedule": max_behind,
        "warmup": { "sent": warm_sent, "answered": warm_answered },
        "resting_at_end": resting,
        "progress": progress,
        "server": {
            "journal_commits": commits,
            "journal_commands": commands,
            "avg_commit_batch": avg_batch,
            "largest_batch": counter(&after, "journal", "largest_batch"),
            "engine_overloaded": delta("engine", "overloaded"),
            "health_after": after,
        },
    });
    (v, latency)
}

fn print_summary(r: &Value) {
    let l = &r["latency_us"];
    let g = &r["send_lag_us"];
    let t = &r["throughput"];
    let ms = |v: &Value| v.as_f64().unwrap_or(0.0) / 1000.0;
    println!(
        "bourse bench orders: {} × {} connections, offered {}/s for {} s (warm-up {} s), \
         journal {}",
        r["transport"].as_str().unwrap_or(""),
        r["config"]["connections"],
        t["offered_per_s"],
        r["config"]["duration_s"],
        r["config"]["warmup_s"],
        r["journal"].as_str().unwrap_or("(external server)"),
    );
    println!(
        "  sent {} ({}/s), answered {} ({}/s in the window), unsent {}, unanswered {}{}",
        r["sent"],
        t["sent_per_s"],
        r["answered"],
        t["answered_per_s"],
        r["unsent"],
        r["unanswered"],
        if r["sustained"] == true {
            ", sustained"
        } else {
            ", NOT sustained"
        },
    );
    let errors = r["errors"].as_object().map_or_else(String::new, |m| {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    });
    println!(
        "  reports {}; errors: {}",
        r["reports"],
        if errors.is_empty() { "none" } else { &errors }
    );
    println!(
        "  latency from intended send: p50 {:.3} ms  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3} \
         (n = {})",
        ms(&l["p50_us"]),
        ms(&l["p90_us"]),
        ms(&l["p99_us"]),
        ms(&l["p99_9_us"]),
        ms(&l["max_us"]),
        l["count"],
    );
    println!(
        "  client send lag behind schedule: p50 {:.3} ms  p99 {:.3}  max {:.3}; most due but \
         unsent at a progress tick: {}",
        ms(&g["p50_us"]),
        ms(&g["p99_us"]),
        ms(&g["max_us"]),
        r["max_behind_schedule"],
    );
    let s = &r["server"];
    println!(
        "  server: {} journal commits for {} commands (avg batch {}, largest {}), engine \
         overloaded {}",
        s["journal_commits"],
        s["journal_commands"],
        s["avg_commit_batch"],
        s["largest_batch"],
        s["engine_overloaded"],
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_schedule_spaces_orders_evenly_and_due_counts_them() {
        for rate in [0.5, 3.3, 1_000.0, 2_000.0, 49_999.0, 150_000.0, 1e9] {
            let s = Schedule::new(rate).unwrap();
            assert_eq!(s.intended_ns(0), 0);
            // k / rate seconds, to the nanosecond.
            for k in [1u64, 7, 1_000, 123_457] {
                let want = k as f64 / rate * 1e9;
                let got = s.intended_ns(k) as f64;
                assert!(
                    (got - want).abs() <= 1.0 + want * 1e-12,
                    "{rate}/s k={k}: {got} vs {want}"
                );
                assert!(s.intended_ns(k) >= s.intended_ns(k - 1));
            }
            // due(e) is exactly the count of k with intended(k) <= e: counted one by one
            // over the first milliseconds, checked at the boundary further out.
            let mut k = 0u64;
            for e in (0..2_000_000u64).step_by(997) {
                while s.intended_ns(k) <= e {
                    k += 1;
                }
                assert_eq!(s.due(e), k, "{rate}/s at {e} ns");
            }
            for e in [
                999_999_999,
                1_000_000_000,
                2_000_000_007,
                86_400_000_000_000,
            ] {
                let d = s.due(e);
                assert!(s.intended_ns(d) > e && (d == 0 || s.intended_ns(d - 1) <= e));
            }
            assert_eq!(s.before(0), 0);
            assert_eq!(s.before(1), 1);
        }
        // A 2-second run at 2,000/s is 4,000 orders; 1 s of warm-up is the first 2,000.
        let s = Schedule::new(2_000.0).unwrap();
        assert_eq!(s.before(3_000_000_000) - s.before(1_000_000_000), 4_000);
        assert_eq!(s.before(1_000_000_000), 2_000);
        assert!(Schedule::new(0.0).is_err());
        assert!(Schedule::new(f64::NAN).is_err());
        assert!(Schedule::new(2e9).is_err());
    }

    #[test]
    fn request_ids_carry_the_schedule_slot_and_the_kind() {
        for k in [0u64, 1, 99, 1 << 40] {
            for kind in Kind::ALL {
                assert_eq!(parse_request_id(request_id(k, kind)), (k, kind));
            }
        }
    }

    #[test]
    fn the_percentile_report_has_every_key_in_order() {
        let mut h = histogram();
        for i in 1..=10_000u64 {
            h.record(i * 1_000).unwrap(); // 1 µs … 10 ms
        }
        let v = percentiles(&h);
        let keys = ["p50_us", "p90_us", "p99_us", "p99_9_us", "max_us"];
        let vals: Vec<f64> = keys.iter().map(|k| v[*k].as_f64().unwrap()).collect();
        assert!(vals.windows(2).all(|w| w[0] <= w[1]), "{v}");
        assert_eq!(v["count"], 10_000);
        // 3 significant digits.
        assert!((vals[0] - 5_000.0).abs() / 5_000.0 < 0.002, "{v}");
        assert!((vals[2] - 9_900.0).abs() / 9_900.0 < 0.002, "{v}");
        assert!((vals[4] - 10_000.0).abs() / 10_000.0 < 0.002, "{v}");
        assert!(
            (v["mean_us"].as_f64().unwrap() - 5_000.5).abs() < 10.0,
            "{v}"
        );
        // Empty: zeros, not a panic.
        let e = percentiles(&histogram());
        assert_eq!(e["count"], 0);
        assert_eq!(e["p99_us"].as_f64(), Some(0.0));
    }

    fn test_ladders() -> Arc<[Ladder]> {
        let cfg = Config::load_with(None, &[]).unwrap();
        let ins = crate::serve::instruments(&cfg).unwrap();
        ladders(&ins, &["AAPL".to_owned(), "MSFT".to_owned()])
            .unwrap()
            .into()
    }

    #[test]
    fn the_flow_mixes_orders_and_cancels_on_the_price_grid() {
        let l = test_ladders();
        assert_eq!(l[0].prices[l[0].center], "190.00");
        assert_eq!(l[0].prices[l[0].center + 1], "190.01");
        let mut f = Flow::new(7, l.clone(), "run".into(), 50);
        let mut live = Vec::new();
        let mut kinds = [0u32; 4];
        let mut next_id = 1u64;
        for _ in 0..100_000 {
            let before = live.len();
            match f.next(&mut live) {
                Action::Cancel(id) => {
                    kinds[3] += 1;
                    assert_eq!(live.len(), before - 1);
                    assert!(!live.contains(&id));
                }
                Action::Order(o) => {
                    kinds[o.kind.index()] += 1;
                    let c = l[o.ladder].center;
                    assert!((1..=100).contains(&o.qty));
                    assert!(o.px < l[o.ladder].prices.len());
                    let above = o.px > c;
                    match o.kind {
                        Kind::Passive => assert_eq!(above, !o.buy, "{o:?}"),
                        Kind::Cross => {
                            assert!(o.px.abs_diff(c) <= 5 && (o.px == c || above == o.buy))
                        }
                        Kind::Ioc => assert!(o.tif == "ioc" && (o.px == c || above == o.buy)),
                        Kind::Cancel => unreachable!(),
                    }
                    // Half the orders rest in this model.
                    if next_id.is_multiple_of(2) {
                        live.push(next_id);
                    }
                    next_id += 1;
                }
            }
            assert!(live.len() <= 50);
        }
        // Roughly the configured mix (the resting cap forces some extra cancels).
        let pct = |n: u32| f64::from(n) / 1_000.0;
        assert!((25.0..40.0).contains(&pct(kinds[3])), "{kinds:?}");
        assert!((38.0..50.0).contains(&pct(kinds[0])), "{kinds:?}");
        assert!((7.0..12.0).contains(&pct(kinds[1])), "{kinds:?}");
        assert!((11.0..17.0).contains(&pct(kinds[2])), "{kinds:?}");
        // No resting orders: no cancels.
        let mut empty = Vec::new();
        for _ in 0..1_000 {
            assert!(matches!(f.next(&mut empty), Action::Order(_)));
        }
    }

    #[test]
    fn frames_are_orders_the_api_accepts() {
        let l = test_ladders();
        let mut f = Flow::new(3, l, "r1".into(), 10);
        let listings = bourse_api::Listings::new(
            crate::serve::instruments(&Config::load_with(None, &[]).unwrap())
                .unwrap()
                .iter()
                .map(|i| bourse_api::Listing {
                    symbol: i.symbol,
                    name: i.name.clone(),
                    tick: i.tick,
                    lot: i.lot,
                    max_qty: i.max_qty,
                })
                .collect(),
        );
        let mut live = vec![42];
        let mut cancels = 0;
        for k in 0..500u64 {
            let a = f.next(&mut live);
            let mut s = String::new();
            f.ws_frame(&a, k, &mut s);
            let mut v: serde_json::Map<String, Value> = serde_json::from_str(&s).unwrap();
            let id = v.remove("id").unwrap().as_u64().unwrap();
            assert_eq!(parse_request_id(id), (k, a.kind()));
            match (v.remove("op").unwrap().as_str().unwrap(), a) {
                ("order", Action::Order(o)) => {
                    let order: bourse_api::orders::NewOrder =
                        serde_json::from_value(Value::Object(v)).unwrap();
                    let req = order
                        .validate(bourse_core::AccountId::new(1), &listings)
                        .unwrap();
                    assert_eq!(req.qty.get(), o.qty);
                    assert_eq!(
                        order.client_order_id.as_deref(),
                        Some(format!("r1-{k}").as_str())
                    );
                    let mut body = String::new();
                    f.rest_body(&o, k, &mut body);
                    let rest: bourse_api::orders::NewOrder = serde_json::from_str(&body).unwrap();
                    rest.validate(bourse_core::AccountId::new(1), &listings)
                        .unwrap();
                }
                ("cancel", Action::Cancel(id)) => {
                    cancels += 1;
                    assert_eq!(v["order_id"], json!(id.to_string()));
                }
                other => panic!("{other:?}"),
            }
            live.push(1_000 + k);
        }
        assert!(cancels > 0);
    }

    #[tokio::test]
    async fn http_responses_are_read_by_length_or_chunks() {
        let mut line = String::new();
        let raw = b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"a\":\"xyz\"}HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{\"co\r\n6\r\nde\":1}\r\n0\r\n\r\n";
        let mut r: &[u8] = raw;
        let a = read_response(&mut r, &mut line).await.unwrap();
        assert_eq!(
            (a.status, a.body.as_slice(), a.close),
            (201, &b"{\"a\":\"xyz\"}"[..], false)
        );
        let b = read_response(&mut r, &mut line).await.unwrap();
        assert_eq!((b.status, b.retry_after), (429, Some(3)));
        assert_eq!(b.body, b"{\"code\":1}");
        assert!(r.is_empty());
        assert!(read_response(&mut r, &mut line).await.is_err());
    }

    #[test]
    fn answers_are_read_without_the_rest_of_the_report() {
        let report = r#"{"report":{"id":"17","status":"partially_filled","fills":[{"price":"1.00","qty":"1"}],"symbol":"AAPL"},"request_id":9,"type":"execution_report"}"#;
        let a: WsAnswer<'_> = serde_json::from_str(report).unwrap();
        assert_eq!((a.kind, a.request_id), ("execution_report", Some(9)));
        assert_eq!(
            a.report.unwrap().outcome(),
            Outcome::Report {
                order_id: Some(17),
                resting: true
            }
        );
        let err =
            r#"{"code":"RATE_LIMITED","message":"too \"many\"","request_id":null,"type":"error"}"#;
        let e: WsAnswer<'_> = serde_json::from_str(err).unwrap();
        assert_eq!(
            (e.kind, e.request_id, e.code),
            ("error", None, Some("RATE_LIMITED"))
        );
    }

    #[test]
    fn urls_name_a_host_and_port() {
        assert_eq!(
            parse_url("http://127.0.0.1:8080/").unwrap(),
            "127.0.0.1:8080"
        );
        assert!(parse_url("https://x:1").is_err());
        assert!(parse_url("http://x:1/v1").is_err());
    }
}
