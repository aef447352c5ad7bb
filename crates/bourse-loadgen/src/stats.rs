//! Measurement helpers both benches and `bourse bench replay` share: latency histograms and
//! their percentile summary, and what the host and a process are doing (Linux `/proc`).

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// A latency histogram: nanoseconds, 3 significant digits from 1 µs to 10 minutes.
#[must_use]
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1_000, 600_000_000_000, 3).expect("constant, valid bounds")
}

pub(crate) fn us(ns: u64) -> f64 {
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

/// RSS of a process in bytes (Linux), `None` elsewhere or if it is gone.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = s
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// The CPU model, core count and load average, for the report.
pub fn host_line() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    format!("{cpu}, {cores} CPUs; load average {load} at the end")
}

/// CPU seconds (user + system) a process has used so far (Linux), `None` elsewhere.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces, so split after its ')').
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(ticks / 100.0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
}
