//! `bourse bench feed`: the market-data fan-out under load, measured from its subscribers.
//!
//! It opens `--connections` WebSocket subscribers on one hot symbol (`--channels`, default
//! book, trades and ticker), measures the server's memory per idle connection (its RSS
//! before and after they connect, with `--spawn` or `--server-pid`), then drives an order
//! flow on that symbol at `--rate` commands per second over one pipelined order-entry
//! connection (passive limits that rest, IOC orders that trade with them, cancels), and
//! measures for `--duration` seconds after `--warmup`:
//!
//! - messages (and bytes) delivered to all subscribers per second, in aggregate;
//! - engine-to-client latency: each message's `ts` (the engine's timestamp of the command,
//!   taken when it was sequenced, before it was journaled) to its arrival at the
//!   subscriber, so it includes the group commit, the publisher and the fan-out;
//! - book seq gaps (must be none), resyncs (`book_snapshot` after a conflation) and
//!   connections the server dropped as slow consumers.
//!
//! Clients parse only what they need (type, seq, ts) and count the rest. With
//! `--client-threads 1` (default) the subscribers share one thread, leaving the other core to
//! the server; on a two-core machine client and server compete, which the report says.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use crate::http::{Http1, health, parse_url};
use crate::spawn::{Hooks, SpawnArgs};
use crate::stats::{cpu_secs, histogram, host_line, percentiles, rss_bytes};
use crate::trader::{Ws, run_id, setup_accounts, ws_connect};

/// `bourse bench feed`.
#[derive(Debug, Clone, Args)]
pub struct FeedArgs {
    /// The exchange, `http://HOST:PORT` (not with --spawn).
    #[arg(long, required_unless_present = "spawn", conflicts_with = "spawn")]
    pub url: Option<String>,
    /// The exchange's operator token, to fund the trading accounts (--spawn makes its own).
    #[arg(long, required_unless_present = "spawn")]
    pub operator_token: Option<String>,
    #[command(flatten)]
    pub server: SpawnArgs,
    /// The server's process id, to measure its memory per connection (implied by --spawn).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Subscriber connections.
    #[arg(long, default_value_t = 1_000)]
    pub connections: usize,
    /// Orders and cancels per second on the hot symbol.
    #[arg(long, default_value_t = 1_000.0)]
    pub rate: f64,
    /// Measured seconds (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of flow before measuring.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// The hot symbol.
    #[arg(long, default_value = "AAPL")]
    pub symbol: String,
    /// Channels each subscriber follows.
    #[arg(long, value_delimiter = ',', default_value = "book,trades,ticker")]
    pub channels: Vec<String>,
    /// Worker threads of the client's runtime (1: a current-thread runtime).
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 256)]
    pub connect_concurrency: usize,
    /// Write the JSON report here too (and the latency plot next to it, as .svg).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the latency percentile plot (SVG) here.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,
    /// Market-data edges (`bourse edge`, `http://HOST:PORT`, repeatable): the subscribers
    /// connect to them round robin instead of to the exchange, which still takes the orders.
    #[arg(long = "edge", value_name = "URL")]
    pub edges: Vec<String>,
    /// The edges' process ids, for their CPU (repeatable, in any order).
    #[arg(long = "edge-pid", value_name = "PID")]
    pub edge_pids: Vec<u32>,
    /// Subscribe and measure only; another `bourse bench feed` drives the orders (one client
    /// process holds at most as many sockets as its open-file limit).
    #[arg(long)]
    pub no_orders: bool,
}

/// What every subscriber adds to.
#[derive(Debug)]
struct Shared {
    measuring: AtomicBool,
    messages: AtomicU64,
    bytes: AtomicU64,
    gaps: AtomicU64,
    resyncs: AtomicU64,
    closed: AtomicU64,
    latency: Mutex<Histogram<u64>>,
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Days from 1970-01-01 to a civil date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-21T14:30:05.123456789Z` → nanoseconds since the epoch.
fn parse_ts(s: &[u8]) -> Option<u64> {
    if s.len() < 30 || s[29] != b'Z' {
        return None;
    }
    let num =
        |a: usize, b: usize| -> Option<i64> { std::str::from_utf8(&s[a..b]).ok()?.parse().ok() };
    let days = days_from_civil(num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let secs = days * 86_400 + num(11, 13)? * 3_600 + num(14, 16)? * 60 + num(17, 19)?;
    let nanos = num(20, 29)?;
    u64::try_from(secs * 1_000_000_000 + nanos).ok()
}

/// The value after `key` in a flat JSON text (`"seq":` → the digits).
fn field<'a>(text: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let at = text.windows(key.len()).position(|w| w == key)? + key.len();
    Some(&text[at..])
}

fn number(rest: &[u8]) -> Option<u64> {
    let end = rest
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(rest.len());
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

async fn subscriber(mut ws: Ws, shared: Arc<Shared>) {
    let mut last_seq = 0u64;
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut local = histogram();
    while let Some(m) = ws.next().await {
        let text = match m {
            Ok(Message::Text(t)) => t,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        let now = now_ns();
        let b = text.as_bytes();
        let kind = field(b, br#""type":""#).unwrap_or_default();
        if kind.starts_with(b"book_snapshot") {
            last_seq = field(b, br#""seq":"#).and_then(number).unwrap_or(0);
            shared.resyncs.fetch_add(1, Ordering::Relaxed);
        } else if kind.starts_with(b"book\"") {
            let seq = field(b, br#""seq":"#).and_then(number).unwrap_or(0);
            if seq != last_seq + 1 {
                shared.gaps.fetch_add(1, Ordering::Relaxed);
            }
            last_seq = seq;
        }
        if !shared.measuring.load(Ordering::Relaxed) {
            continue;
        }
        n += 1;
        bytes += b.len() as u64;
        if let Some(ts) = field(b, br#""ts":""#).and_then(parse_ts) {
            let _ = local.record(now.saturating_sub(ts).max(1));
        }
        if n.is_multiple_of(64) {
            shared.messages.fetch_add(n, Ordering::Relaxed);
            shared.bytes.fetch_add(bytes, Ordering::Relaxed);
            let _ = shared.latency.lock().add(&local);
            local.reset();
            (n, bytes) = (0, 0);
        }
    }
    shared.messages.fetch_add(n, Ordering::Relaxed);
    shared.bytes.fetch_add(bytes, Ordering::Relaxed);
    let _ = shared.latency.lock().add(&local);
    shared.closed.fetch_add(1, Ordering::Relaxed);
}

async fn subscribe(addr: &str, symbol: &str, channels: &[String]) -> Result<Ws> {
    let url = format!("ws://{addr}/v1/ws");
    // Small buffers: ten thousand of these share the machine with the server.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(&url, Some(config), true)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let sub = json!({"op": "subscribe", "channels": channels, "symbols": [symbol]});
    ws.send(Message::text(sub.to_string())).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                // Replies are JSON objects with sorted keys: look for the type anywhere.
                if t.as_str().contains(r#""type":"subscribed""#) {
                    return Ok(ws);
                }
                if t.as_str().contains(r#""type":"error""#) {
                    bail!("subscribe refused: {}", t.as_str());
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => bail!("the server closed the WebSocket while subscribing"),
        }
    }
}

/// Runs `bourse bench feed`; `hooks` does what needs the server's internals.
pub fn run(a: &FeedArgs, hooks: &Hooks) -> Result<()> {
    let run = run_id();
    // Room for every subscriber, whatever the defaults say.
    let room = [format!(
        "BOURSE__FEED__MAX_CONNECTIONS={}",
        a.connections + 64
    )];
    let spawned = a.server.start(&room, &run, hooks)?;
    let (addr, token, pid) = match &spawned {
        Some(s) => (s.addr().to_owned(), s.token().to_owned(), Some(s.pid())),
        None => (
            parse_url(a.url.as_deref().unwrap_or_default())?,
            a.operator_token.clone().unwrap_or_default(),
            a.server_pid,
        ),
    };
    let rt = crate::client_runtime(a.client_threads)?;
    let result = rt.block_on(bench(a, &run, &addr, &token, pid));
    drop(rt);
    let server = match spawned {
        Some(s) => s.stop()?,
        None => Value::Null,
    };
    let (mut report, latency) = result?;
    crate::plot::write_beside(
        a.plot.as_deref(),
        a.json.as_deref(),
        &format!(
            "bourse bench feed: {} subscribers, {:.0} orders/s, engine → client",
            a.connections, a.rate
        ),
        "market-data message",
        &latency,
    )?;
    report["server"] = server;
    let text = serde_json::to_string_pretty(&report)?;
    println!("{text}");
    if let Some(path) = &a.json {
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[allow(clippy::too_many_lines)]
async fn bench(
    a: &FeedArgs,
    run: &str,
    addr: &str,
    token: &str,
    pid: Option<u32>,
) -> Result<(Value, Histogram<u64>)> {
    if a.connections == 0
        || a.rate.is_nan()
        || a.rate <= 0.0
        || a.duration.is_nan()
        || a.duration <= 0.0
    {
        bail!("--connections, --rate and --duration must be positive");
    }
    let symbol = a.symbol.to_ascii_uppercase();
    let mut h = Http1::connect(addr).await?;
    let stock = crate::market::stock(&mut h, &symbol)
        .await
        .context("looking up the hot symbol")?;
    drop(h);
    let tick = stock.tick.raw();
    let reference = stock.reference.raw();

    let shared = Arc::new(Shared {
        measuring: AtomicBool::new(false),
        messages: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        gaps: AtomicU64::new(0),
        resyncs: AtomicU64::new(0),
        closed: AtomicU64::new(0),
        latency: Mutex::new(histogram()),
    });
    // Where the subscribers connect: the edges if any, else the exchange itself.
    let targets: Vec<String> = if a.edges.is_empty() {
        vec![addr.to_owned()]
    } else {
        a.edges
            .iter()
            .map(|u| parse_url(u))
            .collect::<Result<_>>()?
    };
    let feed_stats = |k: &'static str| {
        let targets = targets.clone();
        async move {
            let mut sum = 0u64;
            for t in &targets {
                sum += health(t).await?["feed"][k].as_u64().unwrap_or(0);
            }
            anyhow::Ok(sum)
        }
    };
    let rss_before = pid.and_then(rss_bytes);
    let connect_started = Instant::now();
    let gate = Arc::new(Semaphore::new(a.connect_concurrency.max(1)));
    let mut opening = Vec::with_capacity(a.connections);
    for i in 0..a.connections {
        let (gate, addr, symbol, channels) = (
            gate.clone(),
            targets[i % targets.len()].clone(),
            symbol.clone(),
            a.channels.clone(),
        );
        opening.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            subscribe(&addr, &symbol, &channels).await
        }));
    }
    let mut subscribers = Vec::with_capacity(a.connections);
    for (i, t) in opening.into_iter().enumerate() {
        let ws = t
            .await
            .context("a connecting task failed")?
            .with_context(|| format!("subscriber {i}"))?;
        subscribers.push(tokio::spawn(subscriber(ws, shared.clone())));
        if !a.quiet && (i + 1) % 1_000 == 0 {
            eprintln!("bench: {} subscribers connected", i + 1);
        }
    }
    let connect_secs = connect_started.elapsed().as_secs_f64();
    // Let the snapshots drain and the server settle before reading its memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = pid.and_then(rss_bytes);
    let held = Some(feed_stats("connections").await?);
    eprintln!(
        "bench: {} subscribers on {symbol} ({}) in {connect_secs:.1} s; server holds {}",
        a.connections,
        a.channels.join(","),
        held.map_or("?".into(), |n| n.to_string()),
    );

    // The flow: two traders on one pipelined order-entry connection each.
    let run: Arc<str> = run.into();
    let keys = if a.no_orders {
        Vec::new()
    } else {
        setup_accounts(addr, token, &run, 2, std::slice::from_ref(&symbol), None).await?
    };
    let mut traders = Vec::new();
    for k in &keys {
        traders.push(ws_connect(addr, &k.secret).await?);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(AtomicU64::new(0));
    let mut flows = Vec::new();
    for (t, ws) in traders.into_iter().enumerate() {
        let (stop, sent, answered, symbol) =
            (stop.clone(), sent.clone(), answered.clone(), symbol.clone());
        let rate = a.rate / 2.0;
        flows.push(tokio::spawn(async move {
            trade(
                ws, t, rate, tick, reference, &symbol, &stop, &sent, &answered,
            )
            .await
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(a.warmup)).await;
    let mut before = json!({"feed": {}});
    for k in ["updates", "delivered", "conflated", "slow_disconnects"] {
        before["feed"][k] = feed_stats(k).await?.into();
    }
    shared.measuring.store(true, Ordering::Relaxed);
    let measure_started = Instant::now();
    let cpu_before = (pid.and_then(cpu_secs), cpu_secs(std::process::id()));
    let edge_cpu_before: Vec<Option<f64>> = a.edge_pids.iter().map(|p| cpu_secs(*p)).collect();
    let sent_before = sent.load(Ordering::Relaxed);
    let mut last = (Instant::now(), 0u64);
    while measure_started.elapsed().as_secs_f64() < a.duration {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if !a.quiet {
            let m = shared.messages.load(Ordering::Relaxed);
            let dt = last.0.elapsed().as_secs_f64();
            let p99 = shared.latency.lock().value_at_quantile(0.99);
            eprintln!(
                "bench: {:>5.1} s  {:>10.0} msg/s delivered  p99 {:>8.2} ms  closed {}",
                measure_started.elapsed().as_secs_f64(),
                (m - last.1) as f64 / dt,
                p99 as f64 / 1e6,
                shared.closed.load(Ordering::Relaxed),
            );
            last = (Instant::now(), m);
        }
    }
    shared.measuring.store(false, Ordering::Relaxed);
    let elapsed = measure_started.elapsed().as_secs_f64();
    let cpu_pct = |before: Option<f64>, p: Option<u32>| match (before, p.and_then(cpu_secs)) {
        (Some(b), Some(a)) => json!(((a - b) / elapsed * 100.0).round()),
        _ => Value::Null,
    };
    let server_cpu = cpu_pct(cpu_before.0, pid);
    let client_cpu = cpu_pct(cpu_before.1, Some(std::process::id()));
    let edge_cpu: Vec<Value> = a
        .edge_pids
        .iter()
        .zip(edge_cpu_before)
        .map(|(p, b)| cpu_pct(b, Some(*p)))
        .collect();
    let orders = sent.load(Ordering::Relaxed) - sent_before;
    let mut after = json!({"feed": {}});
    for k in ["updates", "delivered", "conflated", "slow_disconnects"] {
        after["feed"][k] = feed_stats(k).await?.into();
    }
    stop.store(true, Ordering::Relaxed);
    let mut trader_errors = Vec::new();
    for f in flows {
        if let Err(e) = f.await.context("a trading task failed")? {
            // E.g. the server dropped a trader that read its answers too slowly: the
            // figures above stand, the report says so.
            trader_errors.push(e.to_string());
        }
    }
    let messages = shared.messages.load(Ordering::Relaxed);
    let bytes = shared.bytes.load(Ordering::Relaxed);
    let lat = shared.latency.lock().clone();
    for s in &subscribers {
        s.abort();
    }
    let d =
        |k: &str| after["feed"][k].as_u64().unwrap_or(0) - before["feed"][k].as_u64().unwrap_or(0);
    let per_conn = match (rss_before, rss_idle) {
        (Some(b), Some(i)) => json!(i.saturating_sub(b) / a.connections as u64),
        _ => Value::Null,
    };
    let report = json!({
        "bench": "feed",
        "symbol": symbol,
        "channels": a.channels,
        "connections": a.connections,
        "connections_held_by_server": held,
        "connect_secs": connect_secs,
        "offered_orders_per_sec": a.rate,
        "orders_sent_per_sec": orders as f64 / elapsed,
        "measured_secs": elapsed,
        "messages_delivered": messages,
        "messages_per_sec": messages as f64 / elapsed,
        "bytes_per_sec": bytes as f64 / elapsed,
        "server_updates_per_sec": d("updates") as f64 / elapsed,
        "server_queued_per_sec": d("delivered") as f64 / elapsed,
        "server_conflated": d("conflated"),
        "slow_disconnects": d("slow_disconnects"),
        "book_seq_gaps": shared.gaps.load(Ordering::Relaxed),
        "book_snapshots_seen": shared.resyncs.load(Ordering::Relaxed),
        "subscribers_closed": shared.closed.load(Ordering::Relaxed),
        "latency_engine_to_client": percentiles(&lat),
        "server_rss_before_bytes": rss_before,
        "server_rss_idle_bytes": rss_idle,
        "server_bytes_per_idle_connection": per_conn,
        "client_threads": a.client_threads,
        "server_cpu_pct": server_cpu,
        "client_cpu_pct": client_cpu,
        "edges": a.edges,
        "edge_cpu_pct": edge_cpu,
        "trader_errors": trader_errors,
        "host": host_line(),
    });
    if !a.quiet {
        eprintln!(
            "bench: {} subscribers, {:.0} orders/s → {:.0} msg/s delivered ({:.1} MB/s), \
             engine→client p50 {:.2} ms p99 {:.2} ms p99.9 {:.2} ms max {:.2} ms; \
             {} B/idle connection; gaps {}, slow disconnects {}; CPU server {}% client {}% \
             edges {}",
            a.connections,
            orders as f64 / elapsed,
            messages as f64 / elapsed,
            bytes as f64 / elapsed / 1e6,
            lat.value_at_quantile(0.5) as f64 / 1e6,
            lat.value_at_quantile(0.99) as f64 / 1e6,
            lat.value_at_quantile(0.999) as f64 / 1e6,
            lat.max() as f64 / 1e6,
            per_conn,
            shared.gaps.load(Ordering::Relaxed),
            d("slow_disconnects"),
            report["server_cpu_pct"],
            report["client_cpu_pct"],
            report["edge_cpu_pct"],
        );
    }
    Ok((report, lat))
}

/// One trader: passive limits around the reference that rest, IOC orders through it that
/// trade with what rests, and cancels of its oldest resting orders, paced to `rate`.
#[allow(clippy::too_many_arguments)]
async fn trade(
    ws: Ws,
    t: usize,
    rate: f64,
    tick: i64,
    reference: i64,
    symbol: &str,
    stop: &AtomicBool,
    sent: &AtomicU64,
    answered: &Arc<AtomicU64>,
) -> Result<()> {
    let (mut sink, mut stream) = ws.split();
    let resting = Arc::new(Mutex::new(std::collections::VecDeque::<String>::new()));
    let reader = {
        let (resting, answered) = (resting.clone(), answered.clone());
        tokio::spawn(async move {
            while let Some(Ok(m)) = stream.next().await {
                let Message::Text(text) = m else { continue };
                answered.fetch_add(1, Ordering::Relaxed);
                let b = text.as_bytes();
                let rests = field(b, br#""status":""#)
                    .is_some_and(|s| s.starts_with(b"new") || s.starts_with(b"partially"));
                if rests && let Some(id) = field(b, br#""id":""#) {
                    let end = id.iter().position(|c| *c == b'"').unwrap_or(0);
                    if let Ok(id) = std::str::from_utf8(&id[..end]) {
                        resting.lock().push_back(id.to_owned());
                    }
                }
            }
        })
    };
    let started = Instant::now();
    let mut n: u64 = 0;
    let mut rng = 0x9E37_79B9_7F4A_7C15_u64 ^ (t as u64 + 1);
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let price = |p: i64| bourse_core::Price::from_raw(p).to_string();
    let mut tickr = tokio::time::interval(Duration::from_millis(1));
    while !stop.load(Ordering::Relaxed) {
        tickr.tick().await;
        let due = crate::orders::f64_to_u64(started.elapsed().as_secs_f64() * rate);
        while n < due {
            n += 1;
            let side = if next() % 2 == 0 { "buy" } else { "sell" };
            let away = i64::try_from(1 + next() % 20).unwrap_or(1) * tick;
            let qty = (1 + next() % 100).to_string();
            let msg = match next() % 10 {
                0..=4 => {
                    let p = if side == "buy" {
                        reference - away
                    } else {
                        reference + away
                    };
                    json!({"op": "order", "id": n, "symbol": symbol, "side": side,
                        "type": "limit", "time_in_force": "gtc", "qty": qty, "limit_price": price(p)})
                }
                5..=7 => match resting.lock().pop_front() {
                    Some(id) => json!({"op": "cancel", "id": n, "order_id": id}),
                    None => continue,
                },
                _ => {
                    let p = if side == "buy" {
                        reference + 20 * tick
                    } else {
                        reference - 20 * tick
                    };
                    json!({"op": "order", "id": n, "symbol": symbol, "side": side,
                        "type": "limit", "time_in_force": "ioc", "qty": qty, "limit_price": price(p)})
                }
            };
            sink.feed(Message::text(msg.to_string())).await?;
            sent.fetch_add(1, Ordering::Relaxed);
        }
        sink.flush().await?;
    }
    let _ = sink.close().await;
    reader.abort();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse() {
        let t = bourse_core::UnixNanos::new(1_795_271_405_123_456_789);
        assert_eq!(
            parse_ts(t.to_rfc3339().as_bytes()),
            Some(1_795_271_405_123_456_789)
        );
        assert_eq!(
            parse_ts(b"2000-02-29T00:00:00.000000000Z"),
            Some(951_782_400_000_000_000)
        );
        assert_eq!(parse_ts(b"garbage"), None);
        let msg = br#"{"type":"book","symbol":"AAPL","seq":42,"ts":"x"}"#;
        assert_eq!(field(msg, br#""seq":"#).and_then(number), Some(42));
    }
}
