//! `GET /metrics`: the server's counters in the Prometheus text exposition format 0.0.4.
//!
//! Everything here is read from atomics the engine thread, the journal writer, the publisher
//! and the feed keep anyway (see `docs/OPERATIONS.md`, "Metrics", for the list): a scrape
//! takes no lock on any hot path and costs the engine nothing.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use bourse_engine::{HistogramSnapshot, RunnerHandle};

use crate::pipeline::{JournalStats, RejectCounts, Watermark};

/// What the metrics are read from.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    pub runner: &'a RunnerHandle,
    pub watermark: &'a Watermark,
    pub journal: &'a JournalStats,
    /// The last seq whose outcomes the publisher released.
    pub released: &'a AtomicU64,
    pub feed: &'a bourse_feed::FeedStats,
    pub rejects: &'a RejectCounts,
}

/// Every metric, as one exposition.
#[must_use]
pub fn render(s: &Sources<'_>) -> String {
    let j = s.journal;
    let f = s.feed;
    let relaxed = |a: &AtomicU64| a.load(Ordering::Relaxed);
    // The watermarks first, then the engine's seq, so the lags do not come out negative
    // (saturating all the same: the writer may commit a batch a moment before the engine
    // publishes its seq).
    let durable = s.watermark.get().0;
    let released = s.released.load(Ordering::Acquire);
    let st = s.runner.status();
    let apply = s.runner.apply_latency();
    let seq = st.last_seq.0;

    let mut m = Exposition::default();
    m.gauge(
        "bourse_engine_running",
        "1 while the engine thread runs and accepts commands, else 0.",
        u64::from(st.running),
    );
    m.gauge(
        "bourse_engine_queued_commands",
        "Commands waiting in the engine's inbound queue (its depth now).",
        st.queued as u64,
    );
    m.counter(
        "bourse_engine_commands_total",
        "Commands the engine has sequenced and applied: its last seq (commands before a \
         restart included, so it does not reset).",
        seq,
    );
    m.counter(
        "bourse_engine_batches_total",
        "Batches the engine thread took from its inbound queue since the start.",
        st.batches,
    );
    m.counter(
        "bourse_engine_overloaded_total",
        "Submits refused because the engine's inbound queue was full (503 OVERLOADED).",
        st.overloaded,
    );
    m.counter(
        "bourse_engine_stalls_total",
        "Times the engine found an outbound queue (journal or publisher) full and waited.",
        st.stalls,
    );
    m.histogram(
        "bourse_engine_apply_duration_seconds",
        "Time the engine thread spent applying each command (Engine::apply alone, timed per \
         command with two monotonic clock reads), since the start.",
        &apply,
        NANOS,
    );

    m.gauge(
        "bourse_journal_durable_seq",
        "The last seq the journal holds durably.",
        durable,
    );
    m.gauge(
        "bourse_released_seq",
        "The last seq whose outcomes were released (answers, market data, read model).",
        released,
    );
    m.gauge(
        "bourse_durable_lag_commands",
        "Commands the engine has applied that are not durable yet (engine seq - durable seq).",
        seq.saturating_sub(durable),
    );
    m.gauge(
        "bourse_release_lag_commands",
        "Commands the engine has applied whose outcomes are not released yet (engine seq - \
         released seq).",
        seq.saturating_sub(released),
    );
    m.counter(
        "bourse_journal_commits_total",
        "Group commits (successful journal appends) since the start.",
        relaxed(&j.commits),
    );
    m.counter(
        "bourse_journal_commands_total",
        "Commands made durable since the start.",
        relaxed(&j.commands),
    );
    m.counter(
        "bourse_journal_retries_total",
        "Journal appends that failed and were retried (the database was away).",
        relaxed(&j.retries),
    );
    m.counter(
        "bourse_journal_snapshots_total",
        "Snapshots saved since the start.",
        relaxed(&j.snapshots),
    );
    m.gauge(
        "bourse_journal_last_snapshot_seq",
        "The seq of the last snapshot saved since the start (0: none yet).",
        relaxed(&j.last_snapshot_seq),
    );
    m.gauge(
        "bourse_journal_failing",
        "1 while journal appends fail and are being retried (nothing is acknowledged).",
        u64::from(j.failing.load(Ordering::Relaxed)),
    );
    m.gauge(
        "bourse_journal_failed",
        "1 once the journal writer stopped on an error it cannot retry (restart needed).",
        u64::from(j.failed.load(Ordering::Relaxed)),
    );
    m.histogram(
        "bourse_journal_batch_commands",
        "Commands per group commit.",
        &j.batch_commands.snapshot(),
        1,
    );
    m.histogram(
        "bourse_journal_append_duration_seconds",
        "Time of each successful journal append (one group commit: write and fsync, or one \
         PostgreSQL transaction); failed attempts count in bourse_journal_retries_total.",
        &j.append_ns.snapshot(),
        NANOS,
    );

    m.gauge(
        "bourse_feed_connections",
        "WebSocket connections open now (order entry and market data).",
        f.connections.load(Ordering::Relaxed) as u64,
    );
    m.counter(
        "bourse_feed_updates_total",
        "Market-data updates produced (all symbols).",
        relaxed(&f.updates),
    );
    m.counter(
        "bourse_feed_messages_total",
        "Messages queued to WebSocket subscribers (one per message per subscriber).",
        relaxed(&f.delivered),
    );
    m.counter(
        "bourse_feed_bytes_total",
        "Bytes of the messages queued to WebSocket subscribers.",
        relaxed(&f.delivered_bytes),
    );
    m.counter(
        "bourse_feed_conflated_total",
        "Book updates skipped for a lagging subscriber (replaced by a later snapshot).",
        relaxed(&f.conflated),
    );
    m.counter(
        "bourse_feed_slow_disconnects_total",
        "WebSocket connections closed for staying too far behind (slow consumers).",
        relaxed(&f.slow_disconnects),
    );

    m.labelled_counter(
        "bourse_rejects_total",
        "Requests the engine rejected, by reason code, as released (durable).",
        "reason",
        s.rejects.iter().map(|(r, n)| (r.code(), n)),
    );
    m.finish()
}

/// A histogram's values are nanoseconds, shown as seconds.
const NANOS: u64 = 1_000_000_000;

/// A Prometheus text-format (0.0.4) writer.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    fn family(&mut self, name: &str, help: &str, kind: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// A counter (`name` should end in `_total`).
    pub fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.family(name, help, "counter");
        let _ = writeln!(self.out, "{name} {value}");
    }

    pub fn gauge(&mut self, name: &str, help: &str, value: u64) {
        self.family(name, help, "gauge");
        let _ = writeln!(self.out, "{name} {value}");
    }

    /// A counter with one label, one sample per label value.
    pub fn labelled_counter<'a>(
        &mut self,
        name: &str,
        help: &str,
        label: &str,
        values: impl IntoIterator<Item = (&'a str, u64)>,
    ) {
        self.family(name, help, "counter");
        for (v, n) in values {
            let _ = writeln!(self.out, "{name}{{{label}=\"{}\"}} {n}", escape_label(v));
        }
    }

    /// A histogram whose recorded values are in units of `1 / per_unit` (e.g. nanoseconds
    /// with `per_unit` 10⁹ give seconds; 1 leaves them as they are).
    pub fn histogram(&mut self, name: &str, help: &str, h: &HistogramSnapshot, per_unit: u64) {
        self.family(name, help, "histogram");
        for (bound, n) in h.cumulative() {
            let le = bound.map_or_else(|| "+Inf".to_owned(), |b| scaled(b, per_unit));
            let _ = writeln!(self.out, "{name}_bucket{{le=\"{le}\"}} {n}");
        }
        let _ = writeln!(self.out, "{name}_sum {}", scaled(h.sum, per_unit));
        let _ = writeln!(self.out, "{name}_count {}", h.count());
    }

    /// The exposition.
    #[must_use]
    pub fn finish(self) -> String {
        self.out
    }
}

/// `value / per_unit` as the shortest decimal that reads back as the same float (no
/// exponent: `0.00000025`).
#[allow(clippy::cast_precision_loss)]
fn scaled(value: u64, per_unit: u64) -> String {
    if per_unit == 1 {
        value.to_string()
    } else {
        let v = value as f64 / per_unit as f64;
        format!("{v}")
    }
}

/// HELP text escapes `\` and line feeds.
fn escape_help(s: &str) -> String {
    s.replace('\\', r"\\").replace('\n', r"\n")
}

/// Label values also escape `"`.
fn escape_label(s: &str) -> String {
    escape_help(s).replace('"', "\\\"")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bourse_engine::AtomicHistogram;

    #[test]
    fn the_text_format_is_exact() {
        static B: [u64; 2] = [250, 1_000];
        let h = AtomicHistogram::new(&B);
        for v in [100, 250, 900, 5_000] {
            h.record(v);
        }
        let mut m = Exposition::default();
        m.counter("x_total", "Things \\ done.\nTwice.", 7);
        m.gauge("y", "A level.", 3);
        m.labelled_counter("z_total", "By kind.", "kind", [("a\"b", 1), ("C", 0)]);
        m.histogram("t_seconds", "Times.", &h.snapshot(), NANOS);
        m.histogram("n", "Sizes.", &h.snapshot(), 1);
        let want = r#"# HELP x_total Things \\ done.\nTwice.
# TYPE x_total counter
x_total 7
# HELP y A level.
# TYPE y gauge
y 3
# HELP z_total By kind.
# TYPE z_total counter
z_total{kind="a\"b"} 1
z_total{kind="C"} 0
# HELP t_seconds Times.
# TYPE t_seconds histogram
t_seconds_bucket{le="0.00000025"} 2
t_seconds_bucket{le="0.000001"} 3
t_seconds_bucket{le="+Inf"} 4
t_seconds_sum 0.00000625
t_seconds_count 4
# HELP n Sizes.
# TYPE n histogram
n_bucket{le="250"} 2
n_bucket{le="1000"} 3
n_bucket{le="+Inf"} 4
n_sum 6250
n_count 4
"#;
        assert_eq!(m.finish(), want);
    }

    #[test]
    fn a_running_server_s_sources_render_every_family() {
        use bourse_core::{Command, RejectReason};
        use bourse_engine::{Runner, RunnerConfig};

        let cfg = crate::Config::load_with(None, &[]).unwrap();
        let engine = crate::serve::genesis(&cfg).unwrap();
        let (runner, outputs) = Runner::start(engine, RunnerConfig::default()).unwrap();
        let h = runner.handle();
        for _ in 0..3 {
            h.submit(Command::OpenAccount).unwrap();
        }
        while h.status().last_seq.0 < 3 {
            std::thread::yield_now();
        }
        let watermark = Watermark::new(bourse_core::Seq(1));
        let journal = JournalStats::default();
        journal.batch_commands.record(2);
        let released = AtomicU64::new(1);
        let feed = bourse_feed::FeedStats::default();
        let rejects = RejectCounts::default();
        rejects.add(RejectReason::UnknownOrder);
        let text = render(&Sources {
            runner: &h,
            watermark: &watermark,
            journal: &journal,
            released: &released,
            feed: &feed,
            rejects: &rejects,
        });
        for line in [
            "bourse_engine_running 1",
            "bourse_engine_queued_commands 0",
            "bourse_engine_commands_total 3",
            "bourse_engine_apply_duration_seconds_count 3",
            "bourse_engine_apply_duration_seconds_bucket{le=\"+Inf\"} 3",
            "bourse_durable_lag_commands 2",
            "bourse_release_lag_commands 2",
            "bourse_journal_batch_commands_bucket{le=\"1\"} 0",
            "bourse_journal_batch_commands_bucket{le=\"2\"} 1",
            "bourse_journal_batch_commands_count 1",
            "bourse_journal_append_duration_seconds_count 0",
            "bourse_feed_connections 0",
            "bourse_rejects_total{reason=\"UNKNOWN_ORDER\"} 1",
            "bourse_rejects_total{reason=\"INSUFFICIENT_BUYING_POWER\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        // Every sample belongs to a family announced with HELP and TYPE just before.
        let mut family = String::new();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                family = rest.split(' ').next().unwrap().to_owned();
            } else if !l.starts_with('#') {
                assert!(l.starts_with(&family), "{l} outside its family {family}");
            }
        }
        drop(outputs);
        let _ = runner.shutdown();
    }
}
