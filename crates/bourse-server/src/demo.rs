//! `bourse demo`: the server plus a simulated market, so a newcomer sees prices move at once.
//!
//! In the server's own process, through the same gateway the API uses (every command is
//! journaled and answered only once durable, like anyone's):
//!
//! - one **market maker** account quotes every listed stock: `levels` bids and asks around a
//!   fair value, a few ticks apart, refreshed symbol by symbol (mass cancel of its quotes in
//!   that symbol, then new ones);
//! - a few **traders** send marketable IOC orders and the odd passive limit order, so the
//!   stocks trade;
//! - each stock's fair value is a random walk that starts at its last trade (or its
//!   reference price) and is kept within ±3% of the reference, inside the price band.
//!
//! Every decision comes from a generator seeded with `--seed`, so the same seed gives the
//! same order flow (the interleaving with real users' orders aside).
//!
//! The day is compressed ([`calendar`]): pre-market, the opening call, continuous trading,
//! the closing call and after-hours go by in `--day-minutes`. The market maker quotes
//! extended-hours DAY orders, so it quotes in every session; the traders send IOC orders in
//! continuous trading, extended-hours limits in pre-market and after-hours, and limits that
//! wait for the uncross in a call.
//!
//! A person's account: the user `demo` (password `demo-password`) is signed up through the
//! HTTP API the first time and funded with $100,000; the server prints where to connect and
//! how to log in.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use bourse_api::Gateway;
use bourse_core::{
    AccountId, Cash, Command, Event, OrderOptions, OrderRequest, OrderType, Price, Qty,
    SelfTradePrevention, Session, Side, Symbol, TimeInForce,
};
use bourse_engine::Instrument;
use bourse_feed::Feed;
use bourse_loadgen::http::Http1;
use bourse_loadgen::rng::Rng;
use serde_json::{Value, json};

/// The demo user.
pub const DEMO_USER: &str = "demo";
/// The demo user's password.
pub const DEMO_PASSWORD: &str = "demo-password";
/// Cash the demo user starts with, dollars.
const DEMO_CASH: i64 = 100_000;

/// How the simulated market behaves.
#[derive(Debug, Clone, Copy)]
pub struct Demo {
    /// Seed of every simulated decision.
    pub seed: u64,
    /// Simulated commands per second, roughly (0: no simulated market).
    pub rate: f64,
    /// Price levels the market maker keeps on each side.
    pub levels: usize,
}

impl Default for Demo {
    fn default() -> Self {
        Demo {
            seed: 42,
            rate: 200.0,
            levels: 4,
        }
    }
}

/// The demo's compressed calendar: every day a trading day, the US session times, and
/// calendar time running so that 04:00 to 20:00 takes `day_minutes` real minutes, starting
/// at 09:20 in pre-market: the opening auction comes within seconds, then the regular
/// session, the closing auction, after-hours, the night and the next pre-market.
#[must_use]
pub fn calendar(day_minutes: u32) -> bourse_calendar::CalendarConfig {
    bourse_calendar::CalendarConfig {
        enabled: true,
        weekend: Vec::new(),
        holidays: Vec::new(),
        speed: 16.0 * 60.0 / f64::from(day_minutes.max(1)),
        start_at: "09:20".to_owned(),
        ..bourse_calendar::CalendarConfig::default()
    }
}

/// One stock as the simulation sees it.
struct Stock {
    symbol: Symbol,
    tick: i64,
    lot: u64,
    reference: i64,
    /// Fair value, raw price units, always on the tick grid.
    fair: i64,
}

impl Stock {
    fn step(&mut self, rng: &mut Rng) {
        let band = self.reference * 3 / 100;
        let pull = if self.fair > self.reference { -1 } else { 1 };
        // A random walk of a tick or two, gently pulled back to the reference.
        let mut d = rng.range(-2, 2);
        if rng.below(4) == 0 {
            d += pull;
        }
        self.fair = (self.fair + d * self.tick).clamp(self.reference - band, self.reference + band);
        self.fair -= self.fair % self.tick;
    }
}

async fn execute(gateway: &Gateway, cmd: Command) -> Result<Vec<Event>> {
    gateway
        .execute(cmd)
        .await
        .map(|r| r.events)
        .map_err(|e| anyhow!("{e}"))
}

async fn open_account(gateway: &Gateway, cash: i64, shares: &[(Symbol, u64)]) -> Result<AccountId> {
    let events = execute(gateway, Command::OpenAccount).await?;
    let account = events
        .iter()
        .find_map(|e| match e {
            Event::AccountOpened { account } => Some(*account),
            _ => None,
        })
        .ok_or_else(|| anyhow!("no account opened: {events:?}"))?;
    let amount = Cash::from_dollars(cash).ok_or_else(|| anyhow!("cash {cash} too large"))?;
    execute(gateway, Command::Deposit { account, amount }).await?;
    for &(symbol, qty) in shares {
        execute(
            gateway,
            Command::DepositShares {
                account,
                symbol,
                qty: Qty::from_raw(qty),
            },
        )
        .await?;
    }
    Ok(account)
}

fn limit(
    account: AccountId,
    s: &Stock,
    side: Side,
    price: i64,
    qty: u64,
    tif: TimeInForce,
) -> Command {
    limit_with(account, s, (side, price, qty), tif, false)
}

/// A limit order that may trade in pre-market and after-hours (DAY).
fn extended(account: AccountId, s: &Stock, side: Side, price: i64, qty: u64) -> Command {
    limit_with(account, s, (side, price, qty), TimeInForce::Day, true)
}

fn limit_with(
    account: AccountId,
    s: &Stock,
    (side, price, qty): (Side, i64, u64),
    tif: TimeInForce,
    extended_hours: bool,
) -> Command {
    Command::SubmitOrder(OrderRequest {
        account,
        symbol: s.symbol,
        client_order_id: None,
        side,
        order_type: OrderType::Limit,
        tif,
        qty: Qty::from_raw(qty * s.lot),
        limit_price: Some(Price::from_raw(price)),
        stop_price: None,
        post_only: false,
        stp: SelfTradePrevention::CancelIncoming,
        opts: OrderOptions {
            extended_hours,
            ..OrderOptions::default()
        },
    })
}

/// Signs the demo user up (first run) and funds it; returns its account id and whether it
/// was new.
async fn demo_user(addr: SocketAddr, gateway: &Gateway) -> Result<(String, bool)> {
    let mut h = Http1::connect(&addr.to_string()).await?;
    let creds = json!({"username": DEMO_USER, "password": DEMO_PASSWORD}).to_string();
    let r = h.call("POST", "/v1/users", None, Some(&creds)).await?;
    let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    let (account, new) = match r.status {
        201 => (
            body["account_id"].as_str().unwrap_or_default().to_owned(),
            true,
        ),
        409 => {
            let r = h.call("POST", "/v1/sessions", None, Some(&creds)).await?;
            let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            if r.status != 201 {
                bail!("the demo user exists but its password is not {DEMO_PASSWORD:?}: {v}");
            }
            (
                v["account_id"].as_str().unwrap_or_default().to_owned(),
                false,
            )
        }
        s => bail!("signing up the demo user: HTTP {s} {body}"),
    };
    if new {
        let id: u64 = account
            .parse()
            .map_err(|_| anyhow!("account id {account:?}"))?;
        let amount = Cash::from_dollars(DEMO_CASH).ok_or_else(|| anyhow!("demo cash"))?;
        execute(
            gateway,
            Command::Deposit {
                account: AccountId::new(id),
                amount,
            },
        )
        .await?;
    }
    Ok((account, new))
}

/// Runs the demo: the demo user, then the simulated market until the server stops.
pub async fn run(
    demo: Demo,
    addr: SocketAddr,
    gateway: Arc<Gateway>,
    instruments: Vec<Instrument>,
    feed: Arc<Feed>,
) {
    match demo_user(addr, &gateway).await {
        Ok((account, new)) => {
            println!(
                "demo: log in as {DEMO_USER} / {DEMO_PASSWORD} (account {account}{})\n\
                 demo:   curl -s -X POST http://{addr}/v1/sessions -H 'content-type: application/json' \
                 -d '{{\"username\":\"{DEMO_USER}\",\"password\":\"{DEMO_PASSWORD}\"}}'\n\
                 demo:   WebSocket ws://{addr}/v1/ws  {{\"op\":\"subscribe\",\"channels\":[\"ticker\",\"trades\"],\"symbols\":[\"AAPL\"]}}",
                if new {
                    format!(", funded with ${DEMO_CASH}")
                } else {
                    String::new()
                }
            );
        }
        Err(e) => tracing::warn!("demo user: {e:#}"),
    }
    if demo.rate <= 0.0 {
        return;
    }
    if let Err(e) = simulate(demo, &gateway, &instruments, &feed).await {
        // The server is stopping (the gateway closed) or something refused the simulation.
        tracing::info!("demo market stopped: {e:#}");
    }
}

async fn simulate(
    demo: Demo,
    gateway: &Gateway,
    instruments: &[Instrument],
    feed: &Feed,
) -> Result<()> {
    let mut rng = Rng(demo.seed);
    let mut stocks: Vec<Stock> = instruments
        .iter()
        .map(|i| {
            let reference = i.reference_price.raw();
            let tick = i.tick.raw().max(1);
            let last = feed
                .with_symbol(i.symbol.as_str(), |s| s.day.last.map(Price::raw))
                .flatten();
            let fair = last.unwrap_or(reference);
            Stock {
                symbol: i.symbol,
                tick,
                lot: i.lot.raw().max(1),
                reference,
                fair: fair - fair % tick,
            }
        })
        .collect();
    if stocks.is_empty() {
        return Ok(());
    }
    let shares: Vec<(Symbol, u64)> = stocks
        .iter()
        .map(|s| (s.symbol, 10_000_000 * s.lot))
        .collect();
    let maker = open_account(gateway, 1_000_000_000, &shares).await?;
    let mut traders = Vec::new();
    for _ in 0..4 {
        traders.push(open_account(gateway, 100_000_000, &shares).await?);
    }
    tracing::info!(%maker, traders = traders.len(), "demo market started");
    let tick = Duration::from_millis(50);
    let per_tick = (demo.rate * tick.as_secs_f64()).max(1.0);
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_quote = 0usize;
    let mut budget = 0.0f64;
    loop {
        interval.tick().await;
        budget += per_tick;
        // One symbol's quotes refreshed: a mass cancel and 2 × levels orders.
        let refresh_cost = 1.0 + 2.0 * demo.levels as f64;
        while budget >= refresh_cost {
            budget -= refresh_cost;
            let n = stocks.len();
            let s = &mut stocks[next_quote % n];
            next_quote += 1;
            s.step(&mut rng);
            let mut cmds = vec![Command::MassCancel {
                account: Some(maker),
                symbol: Some(s.symbol),
            }];
            let half_spread = rng.range(1, 3);
            for l in 0..demo.levels as i64 {
                let gap = (half_spread + l * rng.range(1, 2)) * s.tick;
                let qty = u64::try_from(rng.range(1, 5)).unwrap_or(1) * 100;
                cmds.push(extended(maker, s, Side::Buy, s.fair - gap, qty));
                cmds.push(extended(maker, s, Side::Sell, s.fair + gap, qty));
            }
            // In order: the cancel first, then the new quotes, pipelined.
            let first = cmds.remove(0);
            execute(gateway, first).await?;
            let quotes = cmds.into_iter().map(|c| execute(gateway, c));
            for r in futures_util::future::join_all(quotes).await {
                r?;
            }
            // A trader hits the new quotes, most of the time.
            if rng.below(3) > 0 {
                budget -= 1.0;
                let t = traders[rng.index(traders.len())];
                let side = if rng.below(2) == 0 {
                    Side::Buy
                } else {
                    Side::Sell
                };
                let through = 5 * s.tick;
                let px = match side {
                    Side::Buy => s.fair + through,
                    Side::Sell => s.fair - through,
                };
                let qty = u64::try_from(rng.range(1, 3)).unwrap_or(1) * 50;
                let order = match feed.session() {
                    Session::Continuous => limit(t, s, side, px, qty, TimeInForce::Ioc),
                    Session::PreMarket | Session::AfterHours => extended(t, s, side, px, qty),
                    // Waits for the uncross, moving the indicative price.
                    Session::OpeningCall | Session::ClosingCall => {
                        limit(t, s, side, px, qty, TimeInForce::Day)
                    }
                    Session::Closed => continue,
                };
                execute(gateway, order).await?;
            }
        }
    }
}
