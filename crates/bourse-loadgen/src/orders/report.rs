//! What the run tells: a progress line a second while it runs, then the JSON report and
//! its printed summary.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use super::OrdersArgs;
use super::flow::Kind;
use super::measure::{Conn, Ctx, EXPECTED, REFUSALS, duration_ns};
use super::run::Target;
use crate::stats::{histogram, percentiles, us};

pub(crate) async fn progress(ctx: Arc<Ctx>, conns: Vec<Arc<Conn>>, quiet: bool) {
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

/// What was read around the run: the server's health before and after, and the CPU
/// seconds the client used from the start of the schedule to the end of the drain.
#[derive(Debug)]
pub(crate) struct Seen {
    pub(crate) before: Option<Value>,
    pub(crate) after: Option<Value>,
    pub(crate) client_cpu: Option<f64>,
}

pub(crate) fn report(
    a: &OrdersArgs,
    ctx: &Ctx,
    conns: &[Arc<Conn>],
    target: &Target,
    n_accounts: usize,
    seen: &Seen,
) -> (Value, Histogram<u64>) {
    let (before, after) = (&seen.before, &seen.after);
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
        Some(counter(after, section, key)?.saturating_sub(counter(before, section, key)?))
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
        "client": {
            "threads": a.client_threads,
            "cpu_secs": seen.client_cpu,
            // Warm-up included: CPU is read over the whole schedule.
            "cpu_us_per_request": seen.client_cpu.map(|c| {
                (c * 1e6 / (sent + warm_sent).max(1) as f64 * 10.0).round() / 10.0
            }),
        },
        "progress": progress,
        "server": {
            "journal_commits": commits,
            "journal_commands": commands,
            "avg_commit_batch": avg_batch,
            "largest_batch": counter(after, "journal", "largest_batch"),
            "engine_overloaded": delta("engine", "overloaded"),
            "health_after": after,
        },
    });
    (v, latency)
}

pub(crate) fn print_summary(r: &Value) {
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
    let c = &r["client"];
    println!(
        "  client: {} CPU s on {} thread(s), {} µs per request",
        c["cpu_secs"], c["threads"], c["cpu_us_per_request"],
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
