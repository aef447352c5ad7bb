//! Timing a [`Venue`] on a pre-generated stream: throughput (wall time over the whole
//! stream), per-message service time, and response time at a fixed offered rate (open loop,
//! measured from each message's scheduled arrival, so no coordinated omission), all into
//! HDR histograms.
//!
//! The timer is `std::time::Instant` (`clock_gettime` through the vDSO). Reading the TSC
//! directly (`_rdtsc`) needs `unsafe` in Rust 1.95, which the workspace forbids, so instead
//! [`timer_overhead`] measures what an empty timed region costs and the tables print it, for
//! readers to subtract.

use std::hint::black_box;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::adapters::{self, Venue};
use crate::flow::{Flow, Op, Tally};

/// How much work a bench run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Under `cargo test`: check that everything runs and verifies, time nothing much.
    Smoke,
    /// `BOURSE_BENCH_QUICK=1 cargo bench`: small stream, few repetitions.
    Quick,
    /// `cargo bench`.
    Full,
}

impl Mode {
    /// `cargo bench` passes `--bench`; `cargo test` does not.
    #[must_use]
    pub fn from_env() -> Self {
        if !std::env::args().any(|a| a == "--bench") {
            Mode::Smoke
        } else if std::env::var("BOURSE_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0") {
            Mode::Quick
        } else {
            Mode::Full
        }
    }
}

/// A histogram for nanosecond values from 1 ns to 100 s at 3 significant digits.
///
/// # Panics
/// Never: the bounds are valid.
#[must_use]
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

#[inline]
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The cost of an empty timed region (two `Instant::now()` and a subtraction), `n` times.
#[must_use]
pub fn timer_overhead(n: usize) -> Histogram<u64> {
    let mut h = histogram();
    for _ in 0..n {
        let t0 = Instant::now();
        let t1 = Instant::now();
        h.saturating_record(nanos(t1 - t0));
    }
    h
}

/// Messages per second over the whole measured stream, on a fresh book with the warm-up
/// applied untimed. Returns the rate and the tally (which the caller may check).
#[must_use]
pub fn throughput<V: Venue>(flow: &Flow) -> (f64, Tally) {
    let mut v = adapters::prepared::<V>(flow);
    let t0 = Instant::now();
    let tally = black_box(adapters::run(&mut v, black_box(&flow.ops)));
    let dt = t0.elapsed();
    drop(black_box(v));
    (flow.ops.len() as f64 / dt.as_secs_f64(), tally)
}

/// Times each message of the measured stream on its own (timer overhead included) into `h`.
pub fn service_times<V: Venue>(flow: &Flow, h: &mut Histogram<u64>) {
    let mut v = adapters::prepared::<V>(flow);
    record_each(&mut v, &flow.ops, h);
}

#[inline(never)]
fn record_each<V: Venue>(v: &mut V, ops: &[Op], h: &mut Histogram<u64>) {
    for op in ops {
        let t0 = Instant::now();
        let t = v.apply(black_box(op));
        let t1 = Instant::now();
        black_box(t);
        h.saturating_record(nanos(t1 - t0));
    }
}

/// Open loop: message `i` is due at `start + i / rate`; the book takes it when it is free
/// and due, and the response time is completion minus due time, so time spent queued
/// behind a slow message counts. A book slower than `rate` shows ever-growing latencies.
pub fn open_loop<V: Venue>(flow: &Flow, rate_per_sec: u64, h: &mut Histogram<u64>) {
    let mut v = adapters::prepared::<V>(flow);
    paced(&mut v, &flow.ops, rate_per_sec, h);
}

#[inline(never)]
fn paced<V: Venue>(v: &mut V, ops: &[Op], rate_per_sec: u64, h: &mut Histogram<u64>) {
    let interval_ps = 1_000_000_000_000 / rate_per_sec.max(1);
    let start = Instant::now() + Duration::from_micros(100);
    for (i, op) in ops.iter().enumerate() {
        let due = start + Duration::from_nanos((i as u64).saturating_mul(interval_ps) / 1_000);
        let mut now = Instant::now();
        while now < due {
            std::hint::spin_loop();
            now = Instant::now();
        }
        black_box(v.apply(black_box(op)));
        h.saturating_record(nanos(Instant::now() - due));
    }
}

/// The usual latency summary of a histogram, in nanoseconds.
#[derive(Clone, Copy, Debug)]
pub struct Percentiles {
    pub count: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    pub max: u64,
}

impl Percentiles {
    #[must_use]
    pub fn of(h: &Histogram<u64>) -> Self {
        Self {
            count: h.len(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
        }
    }

    /// Header matching [`Percentiles::row`].
    #[must_use]
    pub fn header() -> String {
        format!(
            "{:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "mean", "p50", "p90", "p99", "p99.9", "p99.99", "max"
        )
    }

    #[must_use]
    pub fn row(&self) -> String {
        format!(
            "{:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            fmt_ns(self.mean),
            fmt_ns(self.p50 as f64),
            fmt_ns(self.p90 as f64),
            fmt_ns(self.p99 as f64),
            fmt_ns(self.p999 as f64),
            fmt_ns(self.p9999 as f64),
            fmt_ns(self.max as f64),
        )
    }
}

/// `850 ns`, `1.25 µs`, `3.40 ms`, `1.20 s`.
#[must_use]
pub fn fmt_ns(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1_000_000_000.0 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// `12.3 M/s`, `850 k/s`.
#[must_use]
pub fn fmt_rate(per_sec: f64) -> String {
    if per_sec >= 1e6 {
        format!("{:.2} M/s", per_sec / 1e6)
    } else {
        format!("{:.0} k/s", per_sec / 1e3)
    }
}

/// The median of `xs` (sorted in place).
#[must_use]
pub fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => 0.0,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}
