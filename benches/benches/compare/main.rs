//! Every flow of `bourse_benches::flow` (the mixed day-to-day flow and the shapes built to
//! find a book's worst case: wide price swings, a flash crash, a deep book, heavy modifies)
//! through bourse, the naive baseline and the fastest order-book crates on crates.io, side by
//! side in one run. Per flow:
//!
//! 1. every book is first checked message by message against the flow's expected fills
//!    (a book that trades differently is not timed: the run stops);
//! 2. throughput: wall time over the whole measured stream, repeated, books interleaved
//!    round by round, so a slow spell on a shared machine hits every book of a round;
//! 3. per-message service time percentiles (each message timed alone).
//!
//! Then a summary over flows (bourse's worst flow, its ratio to the best other book in each),
//! and for the mixed flow the response time at fixed offered rates (open loop).
//!
//! `cargo bench -p bourse-benches --bench compare`; `BOURSE_BENCH_QUICK=1` for a short run;
//! `BOURSE_BENCH_FLOWS=swing-40,deep` for some flows only; `BOURSE_BENCH_ROUNDS=<n>` for the
//! number of interleaved rounds; `BOURSE_BENCH_PROFILE=<seconds>` runs only bourse on the
//! first selected flow, for a profiler. Under `cargo test` it only generates small flows and
//! verifies every book on each.

mod matchcore_book;
mod nanobook_book;

use std::time::Instant;

use bourse_benches::adapters::{self, Bourse, Naive, Venue};
use bourse_benches::flow::{Flow, FlowConfig, Tally};
use bourse_benches::latency::{
    self, Mode, Percentiles, fmt_rate, histogram, median, open_loop, service_times, timer_overhead,
};
use matchcore_book::Matchcore;
use nanobook_book::Nanobook;

/// Offered rates for the open-loop pass, messages per second.
const RATES: [u64; 3] = [1_000_000, 2_000_000, 5_000_000];

const NAMES: [&str; 4] = [Bourse::NAME, Matchcore::NAME, Nanobook::NAME, Naive::NAME];

/// Runs `$f::<Venue>` for each book, in `NAMES` order.
macro_rules! each_book {
    ($f:ident ( $($arg:expr),* )) => {
        [
            $f::<Bourse>($($arg),*),
            $f::<Matchcore>($($arg),*),
            $f::<Nanobook>($($arg),*),
            $f::<Naive>($($arg),*),
        ]
    };
}

fn check<V: Venue>(flow: &Flow) -> Tally {
    let t0 = Instant::now();
    match adapters::verify::<V>(flow) {
        Ok(t) => {
            println!(
                "  {:<28} ok: {} fills, {} shares, 0 rejects ({:.1} s)",
                V::NAME,
                t.fills,
                t.qty,
                t0.elapsed().as_secs_f64()
            );
            t
        }
        Err(e) => panic!("{e}\nrefusing to time a book that trades differently"),
    }
}

fn rate<V: Venue>(flow: &Flow, want: Tally) -> f64 {
    let (r, got) = latency::throughput::<V>(flow);
    assert_eq!(got, want, "{} traded differently in a timed run", V::NAME);
    r
}

fn service<V: Venue>(flow: &Flow) -> Percentiles {
    let mut h = histogram();
    service_times::<V>(flow, &mut h);
    Percentiles::of(&h)
}

fn paced<V: Venue>(flow: &Flow, rate: u64) -> Percentiles {
    let mut h = histogram();
    open_loop::<V>(flow, rate, &mut h);
    Percentiles::of(&h)
}

/// What one flow measured.
struct FlowResult {
    name: &'static str,
    /// Median throughput per book, `NAMES` order.
    medians: [f64; 4],
    /// Slowest and fastest run per book.
    spread: [(f64, f64); 4],
    /// The best book other than bourse, by median.
    best_other: usize,
    /// Median over rounds of bourse / best other book in that round.
    ratio: f64,
}

fn main() {
    let mode = Mode::from_env();
    let (warmup, messages, rounds) = match mode {
        Mode::Full => (100_000, 1_000_000, 9),
        Mode::Quick => (50_000, 200_000, 3),
        Mode::Smoke => (10_000, 20_000, 0),
    };
    let rounds = std::env::var("BOURSE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(rounds);
    let only: Option<Vec<String>> = std::env::var("BOURSE_BENCH_FLOWS")
        .ok()
        .map(|v| v.split(',').map(|f| f.trim().to_owned()).collect());
    let configs: Vec<FlowConfig> = FlowConfig::all(warmup, messages)
        .into_iter()
        .filter(|c| only.as_ref().is_none_or(|o| o.iter().any(|n| n == c.name)))
        .collect();
    assert!(
        !configs.is_empty(),
        "BOURSE_BENCH_FLOWS names no flow (flows: mixed, swing-25, swing-40, flash-crash, deep, modify)"
    );
    let profile_secs: Option<f64> = std::env::var("BOURSE_BENCH_PROFILE")
        .ok()
        .and_then(|v| v.parse().ok());

    let overhead = Percentiles::of(&timer_overhead(messages));
    let mut results = Vec::new();
    for cfg in &configs {
        let t0 = Instant::now();
        let flow = Flow::generate(cfg);
        println!(
            "\n==== flow {}: {} measured messages after {} warm-up (seed {:#x}), generated in {:.2} s ({mode:?} mode)",
            cfg.name,
            flow.ops.len(),
            flow.warmup.len(),
            cfg.seed,
            t0.elapsed().as_secs_f64()
        );
        println!("{}", flow.mix);
        if let Some(secs) = profile_secs {
            profile(&flow, secs);
            return;
        }
        results.push(run_flow(&flow, mode, rounds, &overhead));
        if mode != Mode::Smoke && cfg.name == "mixed" {
            open_loop_pass(&flow);
        }
    }
    if mode == Mode::Smoke {
        println!(
            "\n(smoke run under cargo test: every flow verified on every book, nothing timed)"
        );
        return;
    }
    summary(&results);
}

fn run_flow(flow: &Flow, mode: Mode, rounds: usize, overhead: &Percentiles) -> FlowResult {
    println!(
        "\n== verification: every message's fills (warm-up and measured) against the flow's price-time outcome"
    );
    let want = flow.expected.iter().fold(Tally::default(), |mut a, &t| {
        a += t;
        a
    });
    each_book!(check(flow));
    let mut result = FlowResult {
        name: flow.config.name,
        medians: [0.0; 4],
        spread: [(0.0, 0.0); 4],
        best_other: 1,
        ratio: 0.0,
    };
    if mode == Mode::Smoke || rounds == 0 {
        return result;
    }

    println!(
        "\n== throughput: wall time over the {}-message stream, fresh book + untimed warm-up, {rounds} rounds, books interleaved",
        flow.ops.len()
    );
    let mut rates: [Vec<f64>; 4] = Default::default();
    for _ in 0..rounds {
        let r = each_book!(rate(flow, want));
        for (all, one) in rates.iter_mut().zip(r) {
            all.push(one);
        }
    }
    // Per round: bourse over the best other book of that round. The median of these cancels
    // most of a slow spell, which hits a whole round. (Taken before `median` sorts the runs.)
    let mut round_ratios: Vec<f64> = (0..rounds)
        .map(|k| rates[0][k] / (1..4).map(|i| rates[i][k]).fold(0.0, f64::max))
        .collect();
    println!(
        "  {:<28} {:>12} {:>12} {:>12} {:>10}",
        "book", "median", "min", "max", "ns/msg"
    );
    for (i, r) in rates.iter_mut().enumerate() {
        result.medians[i] = median(r);
        let lo = r.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = r.iter().copied().fold(0.0, f64::max);
        result.spread[i] = (lo, hi);
        println!(
            "  {:<28} {:>12} {:>12} {:>12} {:>10.1}",
            NAMES[i],
            fmt_rate(result.medians[i]),
            fmt_rate(lo),
            fmt_rate(hi),
            1e9 / result.medians[i]
        );
    }
    result.best_other = (1..4)
        .max_by(|&a, &b| result.medians[a].total_cmp(&result.medians[b]))
        .unwrap_or(1);
    result.ratio = median(&mut round_ratios);
    println!(
        "  bourse / best other book ({}): {:.2}x (median of per-round ratios)",
        NAMES[result.best_other], result.ratio
    );

    println!(
        "\n== per-message service time (each message timed alone; includes the timer overhead)"
    );
    println!("  {:<28} {}", "", Percentiles::header());
    println!(
        "  {:<28} {}",
        "timer overhead (empty region)",
        overhead.row()
    );
    let service = each_book!(service(flow));
    for (name, p) in NAMES.iter().zip(&service) {
        println!("  {:<28} {}", name, p.row());
    }
    result
}

fn open_loop_pass(flow: &Flow) {
    println!(
        "\n== open loop (mixed flow): response time from each message's scheduled arrival at a fixed offered rate"
    );
    println!(
        "  {:<10} {:<28} {}",
        "offered",
        "book",
        Percentiles::header()
    );
    for rate in RATES {
        let rows = each_book!(paced(flow, rate));
        for (name, p) in NAMES.iter().zip(&rows) {
            println!("  {:<10} {:<28} {}", fmt_rate(rate as f64), name, p.row());
        }
    }
}

fn summary(results: &[FlowResult]) {
    println!(
        "\n==== summary: median throughput per flow (msgs/s), spread min..max, ratio = median of per-round bourse / best other"
    );
    println!(
        "  {:<12} {:>22} {:>22} {:>22} {:>22}   {:<24} {:>6}",
        "flow", NAMES[0], NAMES[1], NAMES[2], NAMES[3], "best other", "ratio"
    );
    for r in results {
        let cell = |i: usize| {
            format!(
                "{} ({}..{})",
                fmt_rate(r.medians[i]),
                fmt_rate(r.spread[i].0),
                fmt_rate(r.spread[i].1)
            )
        };
        println!(
            "  {:<12} {:>22} {:>22} {:>22} {:>22}   {:<24} {:>5.2}x",
            r.name,
            cell(0),
            cell(1),
            cell(2),
            cell(3),
            NAMES[r.best_other],
            r.ratio
        );
    }
    let Some(worst) = results
        .iter()
        .min_by(|a, b| a.medians[0].total_cmp(&b.medians[0]))
    else {
        return;
    };
    let lowest = results
        .iter()
        .min_by(|a, b| a.ratio.total_cmp(&b.ratio))
        .unwrap_or(worst);
    println!(
        "  bourse's worst flow: {} at {} ({:.2}x the best other book there: {}); lowest ratio: {:.2}x in {}",
        worst.name,
        fmt_rate(worst.medians[0]),
        worst.ratio,
        verdict(worst.ratio >= 2.0),
        lowest.ratio,
        lowest.name
    );
}

/// `BOURSE_BENCH_PROFILE=<seconds>`: bourse alone on the measured stream, over and over, for
/// a profiler to watch (`perf record`, or callgrind with `--toggle-collect` on
/// `bourse_benches::adapters::run`).
fn profile(flow: &Flow, secs: f64) {
    let t0 = Instant::now();
    let (mut runs, mut busy) = (0u32, 0.0);
    while runs == 0 || t0.elapsed().as_secs_f64() < secs {
        let mut v = adapters::prepared::<Bourse>(flow);
        let t = Instant::now();
        std::hint::black_box(adapters::run(&mut v, &flow.ops));
        busy += t.elapsed().as_secs_f64();
        runs += 1;
    }
    let msgs = f64::from(runs) * flow.ops.len() as f64;
    println!(
        "profile: {runs} runs of the stream, {} over the timed part",
        fmt_rate(msgs / busy)
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok { ">= 2x: met" } else { ">= 2x: NOT met" }
}
