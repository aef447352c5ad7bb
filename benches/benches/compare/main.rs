//! The mixed order flow (`bourse_benches::flow`) through bourse, the naive baseline and the
//! fastest order-book crates on crates.io, side by side in one run:
//!
//! 1. every book is first checked message by message against the flow's expected fills
//!    (a book that trades differently is not timed: the run stops);
//! 2. throughput: wall time over the whole measured stream, repeated, books interleaved;
//! 3. per-message service time percentiles (each message timed alone), next to the cost of
//!    the timer itself;
//! 4. response time at fixed offered rates (open loop, from each message's due time).
//!
//! `cargo bench -p bourse-benches --bench compare`; `BOURSE_BENCH_QUICK=1` for a short run;
//! `BOURSE_BENCH_PROFILE=<seconds>` runs only bourse, for a profiler. Under `cargo test` it
//! only generates a small flow and verifies every book.

mod matchcore_book;
mod nanobook_book;

use std::time::Instant;

use bourse_benches::adapters::{self, Bourse, Naive, Venue};
use bourse_benches::flow::{Flow, FlowConfig, Tally};
use bourse_benches::latency::{
    self, Mode, Percentiles, fmt_ns, fmt_rate, histogram, median, open_loop, service_times,
    timer_overhead,
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

fn main() {
    let mode = Mode::from_env();
    let (warmup, messages, reps) = match mode {
        Mode::Full => (100_000, 1_000_000, 15),
        Mode::Quick => (50_000, 200_000, 3),
        Mode::Smoke => (10_000, 20_000, 0),
    };
    let t0 = Instant::now();
    let flow = Flow::generate(&FlowConfig::standard(warmup, messages));
    println!(
        "\n== mixed flow: {} measured messages after {} warm-up (seed {:#x}), generated in {:.2} s ({mode:?} mode)",
        flow.ops.len(),
        flow.warmup.len(),
        flow.config.seed,
        t0.elapsed().as_secs_f64()
    );
    println!("{}", flow.mix);
    if let Some(secs) = std::env::var("BOURSE_BENCH_PROFILE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        profile(&flow, secs);
        return;
    }

    println!(
        "\n== verification: every message's fills (warm-up and measured) against the flow's price-time outcome"
    );
    let want = flow.expected.iter().fold(Tally::default(), |mut a, &t| {
        a += t;
        a
    });
    each_book!(check(&flow));
    if mode == Mode::Smoke {
        println!("(smoke run under cargo test: verified, nothing timed)");
        return;
    }

    println!(
        "\n== throughput: wall time over the {}-message stream, fresh book + untimed warm-up, {reps} runs per book, interleaved",
        flow.ops.len()
    );
    let mut rates: [Vec<f64>; 4] = Default::default();
    for _ in 0..reps {
        let r = each_book!(rate(&flow, want));
        for (all, one) in rates.iter_mut().zip(r) {
            all.push(one);
        }
    }
    // The books run interleaved, one run each per round, so a slow spell on this shared
    // machine hits a whole round: the median of the per-round ratios cancels most of it.
    // (Taken before `median` sorts the runs.)
    let mut round_ratios: [Vec<f64>; 4] = Default::default();
    for (i, ratios) in round_ratios.iter_mut().enumerate() {
        *ratios = rates[0].iter().zip(&rates[i]).map(|(b, o)| b / o).collect();
    }
    println!(
        "  {:<28} {:>12} {:>12} {:>12} {:>10}",
        "book", "median", "min", "max", "ns/msg"
    );
    let mut medians = [0.0; 4];
    for (i, r) in rates.iter_mut().enumerate() {
        medians[i] = median(r);
        let lo = r.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = r.iter().copied().fold(0.0, f64::max);
        println!(
            "  {:<28} {:>12} {:>12} {:>12} {:>10.1}",
            NAMES[i],
            fmt_rate(medians[i]),
            fmt_rate(lo),
            fmt_rate(hi),
            1e9 / medians[i]
        );
    }

    println!(
        "\n== per-message service time (each message timed alone; includes the timer overhead)"
    );
    let overhead = Percentiles::of(&timer_overhead(flow.ops.len()));
    println!("  {:<28} {}", "", Percentiles::header());
    println!(
        "  {:<28} {}",
        "timer overhead (empty region)",
        overhead.row()
    );
    let service = each_book!(service(&flow));
    for (name, p) in NAMES.iter().zip(&service) {
        println!("  {:<28} {}", name, p.row());
    }

    println!(
        "\n== open loop: response time from each message's scheduled arrival at a fixed offered rate"
    );
    println!(
        "  {:<10} {:<28} {}",
        "offered",
        "book",
        Percentiles::header()
    );
    for rate in RATES {
        let rows = each_book!(paced(&flow, rate));
        for (name, p) in NAMES.iter().zip(&rows) {
            println!("  {:<10} {:<28} {}", fmt_rate(rate as f64), name, p.row());
        }
    }

    let (fastest_i, fastest) = (1..3).map(|i| (i, NAMES[i])).fold((1, NAMES[1]), |a, b| {
        if medians[b.0] > medians[a.0] { b } else { a }
    });
    let ratio = median(&mut round_ratios[fastest_i]);
    println!("\n== summary");
    println!(
        "  bourse / fastest other crate ({fastest}): {ratio:.2}x median of per-round ratios, {:.2}x of medians   (bourse / naive: {:.2}x)",
        medians[0] / medians[fastest_i],
        medians[0] / medians[3]
    );
    let p99_net = service[0].p99.saturating_sub(overhead.p50);
    println!(
        "  targets: >= 15 M msgs/s: {} ({}); p99 < 1 µs: {} ({} measured, ~{} net of the timer's p50); >= 2x fastest crate: {} ({ratio:.2}x)",
        verdict(medians[0] >= 15e6),
        fmt_rate(medians[0]),
        verdict(service[0].p99 < 1_000),
        fmt_ns(service[0].p99 as f64),
        fmt_ns(p99_net as f64),
        verdict(ratio >= 2.0),
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
    if ok { "met" } else { "NOT met" }
}
