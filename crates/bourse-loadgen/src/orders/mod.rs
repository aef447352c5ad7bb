//! `bourse bench orders`: the order-entry load generator.
//!
//! It signs up its own traders (a user and an API key each), funds them through the operator
//! routes (cash, and shares of every symbol so sells are covered), then sends an **open-loop**
//! order flow at a fixed offered rate over N WebSocket connections (pipelined) or N HTTP/1.1
//! keep-alive connections (one request in flight each), and reports what came back.
//!
//! How it measures:
//! - Order `k` of the run is *meant* to go out at `k / rate` seconds after the start
//!   ([`Schedule`]); a pacer task publishes how many orders are due, every `--tick-us` or
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
//! The flow (`flow.rs`), per connection: 30% cancels of one of its resting orders (forced
//! once it has `--max-resting` of them), 45% passive limits 1–30 ticks behind the reference
//! price (DAY or GTC, they rest), 10% DAY limits 0–5 ticks through it (they trade with what rests
//! and rest the remainder), 15% IOC limits 0–10 ticks through it. Quantities 1–100 lots.
//! A cancel may find its order already filled: `UNKNOWN_ORDER` is the expected rejection.
//! The reference, tick and lot of each symbol are the exchange's own (`GET
//! /v1/stocks/{symbol}`: the last price, or the previous close before any trade); the ladder
//! stays within half of `--band-pct` either side, as the API does not publish the band.
//!
//! `--spawn` starts `bourse serve` as a child (file journal in a temporary directory, or
//! PostgreSQL in a fresh schema it drops afterwards) with the rate limits lifted, so one
//! command measures the whole path. The client runs on one tokio runtime (current-thread by
//! default, the pacer a task on it), to leave the cores to the server; the report gives the
//! client's CPU per request.

mod fix;
mod flow;
mod measure;
mod pacer;
mod report;
mod rest;
mod run;
mod schedule;
mod ws;

use std::path::PathBuf;

use clap::{Args, ValueEnum};

pub use flow::{Kind, parse_request_id, request_id};
pub use run::run;
pub use schedule::Schedule;
pub(crate) use schedule::f64_to_u64;

/// How orders reach the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    /// `/v1/ws`, pipelined (the server takes up to 1024 requests in flight per connection).
    Ws,
    /// `POST /v1/orders` and `DELETE /v1/orders/{id}` over HTTP/1.1 keep-alive, one request
    /// in flight per connection.
    Rest,
    /// FIX 4.4 NewOrderSingle and OrderCancelRequest, pipelined, one session (and one
    /// account) per connection.
    Fix,
}

impl Transport {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Transport::Ws => "ws",
            Transport::Rest => "rest",
            Transport::Fix => "fix",
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
    /// The exchange's FIX port, `HOST:PORT`, for `--transport fix` without --spawn (with
    /// --spawn the server listens on a free port and says which).
    #[arg(long)]
    pub fix_addr: Option<String>,
    /// Write the JSON report here too (and the latency plot next to it, as .svg).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the latency percentile plot (SVG) here.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Symbols to trade; their tick, lot and price come from the exchange
    /// (`GET /v1/stocks/{symbol}`).
    #[arg(long, value_delimiter = ',', default_value = "AAPL,MSFT")]
    pub symbols: Vec<String>,
    /// The exchange's price band, percent either side of the last trade (the API does not
    /// publish it; 10 is the exchange's default). The flow's prices stay within half of it.
    #[arg(long, default_value_t = 10)]
    pub band_pct: u32,
    /// Trader accounts (a user and an API key each); connection i uses account i mod this.
    /// Default: one per connection.
    #[arg(long)]
    pub accounts: Option<usize>,
    #[command(flatten)]
    pub server: crate::spawn::SpawnArgs,
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
    /// Every trader registers a webhook for every kind of notice, to a receiver in this
    /// process that measures each delivery's lag (the server needs
    /// `BOURSE__NOTIFY__ALLOW_LOOPBACK_HTTP=true`).
    #[arg(long)]
    pub notify_webhooks: bool,
}
