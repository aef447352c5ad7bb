//! The run: the server spawned or named, traders set up, connections opened, the load
//! driven and drained, the report written.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::fix::{drive_fix, fix_connect};
use super::flow::{Flow, Ladder, ladders};
use super::measure::{Conn, Ctx};
use super::report::{Seen, print_summary, progress, report};
use super::rest::drive_rest;
use super::schedule::{Schedule, secs_to_ns};
use super::ws::drive_ws;
use super::{OrdersArgs, Transport};
use crate::http::{Http1, health, parse_url};
use crate::spawn::{Hooks, Spawned};
use crate::stats::cpu_secs;
use crate::trader::{run_id, setup_accounts, ws_connect};

/// Where the load goes.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) addr: String,
    pub(crate) token: String,
    pub(crate) journal: Option<String>,
    pub(crate) fix_addr: Option<String>,
}

/// Runs `bourse bench orders`; `hooks` does what needs the server's internals.
pub fn run(a: &OrdersArgs, hooks: &Hooks) -> Result<()> {
    let schedule = Schedule::new(a.rate)?;
    if a.connections == 0 || a.connections > 4_096 {
        bail!("--connections {}: use 1 to 4096", a.connections);
    }
    if a.duration <= 0.0 {
        bail!("--duration must be positive");
    }
    let run = run_id();
    // The FIX sessions' stores live as long as the run.
    let fix_dir = tempfile::tempdir().context("creating a directory for the FIX store")?;
    let defaults = if a.transport == Transport::Fix {
        vec![
            "BOURSE__FIX__LISTEN=127.0.0.1:0".to_owned(),
            format!("BOURSE__FIX__STORE_DIR={}", fix_dir.path().display()),
        ]
    } else {
        Vec::new()
    };
    let spawned = a.server.start(&defaults, &run, hooks)?;
    let target = match &spawned {
        Some(s) => Target {
            addr: s.addr().to_owned(),
            token: s.token().to_owned(),
            journal: Some(s.journal().to_owned()),
            fix_addr: s.fix_addr().map(str::to_owned),
        },
        None => Target {
            addr: parse_url(a.url.as_deref().unwrap_or_default())?,
            token: a.operator_token.clone().unwrap_or_default(),
            journal: None,
            fix_addr: a.fix_addr.clone(),
        },
    };
    if a.transport == Transport::Fix && target.fix_addr.is_none() {
        bail!("--transport fix needs --fix-addr (or --spawn)");
    }
    let result = run_load(a, schedule, &run, &target);
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
    crate::plot::write_beside(
        a.plot.as_deref(),
        a.json.as_deref(),
        &format!(
            "bourse bench orders: {} × {}, {:.0}/s offered, latency from intended send",
            a.connections,
            a.transport.name(),
            a.rate
        ),
        "order → execution report",
        &latency,
    )?;
    Ok(())
}

fn run_load(
    a: &OrdersArgs,
    schedule: Schedule,
    run: &str,
    target: &Target,
) -> Result<(Value, Histogram<u64>)> {
    let rt = crate::client_runtime(a.client_threads)?;
    rt.block_on(load(a, schedule, run, target))
}

#[allow(clippy::too_many_lines)]
async fn load(
    a: &OrdersArgs,
    schedule: Schedule,
    run: &str,
    target: &Target,
) -> Result<(Value, Histogram<u64>)> {
    let run: Arc<str> = run.into();
    let n_accounts = a.accounts.unwrap_or(a.connections).clamp(1, a.connections);
    if a.transport == Transport::Fix && n_accounts != a.connections {
        bail!("--transport fix: one account per connection (an API key has one FIX session)");
    }
    let addr = target.addr.as_str();
    // The symbols as the exchange lists them: tick, lot and where the price is now.
    let mut http = Http1::connect(addr).await?;
    let mut stocks = Vec::with_capacity(a.symbols.len());
    for s in &a.symbols {
        stocks.push(crate::market::stock(&mut http, s).await?);
    }
    drop(http);
    let ladders: Arc<[Ladder]> = ladders(&stocks, a.band_pct)?.into();
    let symbols: Vec<String> = stocks.iter().map(|s| s.symbol.clone()).collect();
    let setup_started = Instant::now();
    let hooks = if a.notify_webhooks {
        let (at, stats) = crate::hooksink::start().await?;
        Some((format!("http://{at}/hook"), stats))
    } else {
        None
    };
    let accounts = setup_accounts(
        addr,
        &target.token,
        &run,
        n_accounts,
        &symbols,
        hooks.as_ref().map(|(u, _)| u.as_str()),
    )
    .await?;
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
    let key = |c: usize| accounts[c % accounts.len()].secret.clone();
    let mut sockets = Vec::new();
    let mut clients = Vec::new();
    let mut sessions = Vec::new();
    for c in 0..a.connections {
        match a.transport {
            Transport::Ws => sockets.push(ws_connect(addr, &key(c)).await?),
            Transport::Rest => clients.push((Http1::connect(addr).await?, key(c))),
            Transport::Fix => {
                let fix = target.fix_addr.as_deref().unwrap_or_default();
                sessions.push(fix_connect(fix, &accounts[c % accounts.len()], c).await?);
            }
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
    let cpu_before = cpu_secs(std::process::id());
    let reporter = tokio::spawn(progress(ctx.clone(), conns.clone(), a.quiet));
    let tasks = match a.transport {
        Transport::Ws => drive_ws(&ctx, &conns, sockets, flows).await,
        Transport::Rest => drive_rest(&ctx, &conns, clients, flows).await,
        Transport::Fix => drive_fix(&ctx, &conns, sessions, flows).await,
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
    let client_cpu = cpu_before
        .zip(cpu_secs(std::process::id()))
        .map(|(b, a)| a - b);
    let after = health(addr).await.ok();
    let seen = Seen {
        before,
        after,
        client_cpu,
    };
    let (mut value, hist) = report(a, &ctx, &conns, target, n_accounts, &seen);
    if let Some((_, stats)) = &hooks {
        // Deliveries still on their way: until none arrives for a second (at most 30 s).
        let mut last = u64::MAX;
        for _ in 0..30 {
            let now = stats.received.load(std::sync::atomic::Ordering::Relaxed);
            if now == last {
                break;
            }
            last = now;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let mut summary = crate::hooksink::summary(stats);
        // The exchange's own count, to tell a delivery not made from one not measured.
        let sent = r#"bourse_notify_sent_total{channel="webhook"}"#;
        summary["server_sent"] = json!(crate::http::metric(addr, sent).await.ok().flatten());
        summary["server_pending"] = json!(
            crate::http::metric(addr, "bourse_notify_pending")
                .await
                .ok()
                .flatten()
        );
        eprintln!("bench: webhook deliveries {summary}");
        value["webhooks"] = summary;
    }
    Ok((value, hist))
}
