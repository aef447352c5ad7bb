//! `GET /metrics`: the server's counters as OpenMetrics text, written by
//! `prometheus-client`.
//!
//! Everything is read at scrape time, by a [`Collector`], from atomics the engine thread, the
//! journal writer, the publisher and the feed keep anyway (see `docs/OPERATIONS.md`,
//! "Metrics", for the list): the library owns the exposition format, a scrape takes no lock
//! on any hot path, and the engine pays nothing for being measured.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bourse_engine::{HistogramSnapshot, RunnerHandle};
use bourse_feed::FeedStats;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

use crate::pipeline::{JournalStats, RejectCounts, Watermark};

/// Where the feed's counters are (the running feed, or bare counters in tests).
pub trait FeedSource: Send + Sync + 'static {
    fn feed_stats(&self) -> &FeedStats;
}

impl FeedSource for bourse_feed::Feed {
    fn feed_stats(&self) -> &FeedStats {
        &self.stats
    }
}

impl FeedSource for FeedStats {
    fn feed_stats(&self) -> &FeedStats {
        self
    }
}

/// What the metrics are read from.
#[derive(Clone)]
pub struct Sources {
    pub runner: RunnerHandle,
    pub watermark: Arc<Watermark>,
    pub journal: Arc<JournalStats>,
    /// The last seq whose outcomes the publisher released.
    pub released: Arc<AtomicU64>,
    pub feed: Arc<dyn FeedSource>,
    pub rejects: Arc<RejectCounts>,
    pub fix: Arc<bourse_fix::FixHub>,
    /// The edge publisher's counters, when `nats.url` is set.
    pub nats: Option<Arc<crate::natsrelease::NatsStats>>,
    /// The notification outbox's counters (a primary's; set once a standby takes over).
    pub notify: Arc<std::sync::OnceLock<Arc<bourse_notify::Notifier>>>,
}

impl fmt::Debug for Sources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sources").finish_non_exhaustive()
    }
}

/// The registry behind `GET /metrics`: built once, rendered per scrape.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
}

impl Metrics {
    #[must_use]
    pub fn new(sources: Sources) -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(sources));
        Self { registry }
    }

    /// Every metric, as one OpenMetrics exposition (ending in `# EOF`).
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        // Writing into a String cannot fail; an error here would be the library's own.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding the metrics");
        }
        out
    }
}

/// A family of one sample, read now.
struct Out<'a, 'e> {
    enc: &'a mut DescriptorEncoder<'e>,
}

impl Out<'_, '_> {
    /// A counter; the exposition names its sample `NAME_total`.
    fn counter(&mut self, name: &str, help: &str, value: u64) -> fmt::Result {
        let m = ConstCounter::new(value);
        m.encode(
            self.enc
                .encode_descriptor(name, help, None, MetricType::Counter)?,
        )
    }

    fn gauge(&mut self, name: &str, help: &str, value: u64) -> fmt::Result {
        let m = ConstGauge::new(value);
        m.encode(
            self.enc
                .encode_descriptor(name, help, None, MetricType::Gauge)?,
        )
    }

    /// A histogram whose recorded values are in units of `1 / per_unit` (nanoseconds with
    /// `per_unit` 10⁹ and `unit` seconds; 1 leaves them as they are).
    #[allow(clippy::cast_precision_loss)]
    fn histogram(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<&Unit>,
        h: &HistogramSnapshot,
        per_unit: u64,
    ) -> fmt::Result {
        let scale = |v: u64| v as f64 / per_unit as f64;
        let cumulative = h
            .cumulative()
            .map(|(bound, n)| (bound.map_or(f64::INFINITY, scale), n));
        self.cumulative_histogram(name, help, unit, cumulative, scale(h.sum), h.count())
    }

    /// A histogram from cumulative `(upper bound, count)` buckets (an infinite bound is the
    /// last); the library takes each bucket's own count and sums them itself.
    fn cumulative_histogram(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<&Unit>,
        cumulative: impl IntoIterator<Item = (f64, u64)>,
        sum: f64,
        count: u64,
    ) -> fmt::Result {
        let mut below = 0;
        let buckets: Vec<(f64, u64)> = cumulative
            .into_iter()
            .map(|(bound, n)| {
                let own = n.saturating_sub(below);
                below = n;
                (if bound.is_finite() { bound } else { f64::MAX }, own)
            })
            .collect();
        let mut m = self
            .enc
            .encode_descriptor(name, help, unit, MetricType::Histogram)?;
        m.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }
}

/// A histogram's values are nanoseconds, shown as seconds.
const NANOS: u64 = 1_000_000_000;

impl Sources {
    fn notify_metrics(&self, m: &mut Out<'_, '_>, n: &bourse_notify::NotifyStats) -> fmt::Result {
        use bourse_core::profile::Channel;
        let relaxed = |a: &AtomicU64| a.load(Ordering::Relaxed);
        {
            let mut c = m.enc.encode_descriptor(
                "bourse_notify_sent",
                "Notifications delivered (webhook 2xx, SMTP accepted, SMS provider 2xx), by channel.",
                None,
                MetricType::Counter,
            )?;
            for ch in [Channel::Email, Channel::Sms, Channel::Webhook] {
                let labels = [("channel", ch.name())];
                let e = c.encode_family(&labels)?;
                ConstCounter::new(n.sent(ch)).encode(e)?;
            }
        }
        m.counter(
            "bourse_notify_failed",
            "Delivery attempts that failed (no 2xx, timeout, connection error).",
            relaxed(&n.failed),
        )?;
        m.counter(
            "bourse_notify_retried",
            "Failed deliveries scheduled for another attempt (exponential backoff, full jitter).",
            relaxed(&n.retried),
        )?;
        m.counter(
            "bourse_notify_dead_lettered",
            "Deliveries that ran out of attempts (listed as dead, replayable).",
            relaxed(&n.dead_lettered),
        )?;
        m.counter(
            "bourse_notify_canceled",
            "Deliveries whose destination was gone or whose channel is not configured.",
            relaxed(&n.canceled),
        )?;
        m.counter(
            "bourse_notify_breaker_opens",
            "Times an endpoint's circuit breaker opened.",
            relaxed(&n.breaker_opens),
        )?;
        m.counter(
            "bourse_notify_backpressure_waits",
            "Times the publisher waited for the outbox writer's queue.",
            relaxed(&n.backpressure_waits),
        )?;
        m.gauge(
            "bourse_notify_pending",
            "Deliveries waiting in the outbox (approximate).",
            n.pending(),
        )?;
        let (cumulative, sum, count) = n.buckets();
        m.cumulative_histogram(
            "bourse_notify_delivery_lag",
            "From the event to its delivery's 2xx.",
            Some(&Unit::Seconds),
            cumulative,
            sum,
            count,
        )
    }
}

impl Collector for Sources {
    #[allow(clippy::too_many_lines)]
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> fmt::Result {
        let j = &*self.journal;
        let f = self.feed.feed_stats();
        let relaxed = |a: &AtomicU64| a.load(Ordering::Relaxed);
        // The watermarks first, then the engine's seq, so the lags do not come out negative
        // (saturating all the same: the writer may commit a batch a moment before the engine
        // publishes its seq).
        let durable = self.watermark.get().0;
        let released = self.released.load(Ordering::Acquire);
        let st = self.runner.status();
        let apply = self.runner.apply_latency();
        let seq = st.last_seq.0;
        let mut m = Out { enc: &mut enc };

        m.gauge(
            "bourse_engine_running",
            "1 while the engine thread runs and accepts commands, else 0.",
            u64::from(st.running),
        )?;
        m.gauge(
            "bourse_engine_queued_commands",
            "Commands waiting in the engine's inbound queue (its depth now).",
            st.queued as u64,
        )?;
        m.counter(
            "bourse_engine_commands",
            "Commands the engine has sequenced and applied: its last seq (commands before a \
             restart included, so it does not reset).",
            seq,
        )?;
        m.counter(
            "bourse_engine_batches",
            "Batches the engine thread took from its inbound queue since the start.",
            st.batches,
        )?;
        m.counter(
            "bourse_engine_overloaded",
            "Submits refused because the engine's inbound queue was full (503 OVERLOADED).",
            st.overloaded,
        )?;
        m.counter(
            "bourse_engine_stalls",
            "Times the engine found an outbound queue (journal or publisher) full and waited.",
            st.stalls,
        )?;
        m.histogram(
            "bourse_engine_apply_duration",
            "Time the engine thread spent applying each command (Engine::apply alone, timed \
             per command with two monotonic clock reads), since the start.",
            Some(&Unit::Seconds),
            &apply,
            NANOS,
        )?;

        m.gauge(
            "bourse_journal_durable_seq",
            "The last seq the journal holds durably.",
            durable,
        )?;
        m.gauge(
            "bourse_released_seq",
            "The last seq whose outcomes were released (answers, market data, read model).",
            released,
        )?;
        m.gauge(
            "bourse_durable_lag_commands",
            "Commands the engine has applied that are not durable yet (engine seq - durable \
             seq).",
            seq.saturating_sub(durable),
        )?;
        m.gauge(
            "bourse_release_lag_commands",
            "Commands the engine has applied whose outcomes are not released yet (engine seq \
             - released seq).",
            seq.saturating_sub(released),
        )?;
        m.counter(
            "bourse_journal_commits",
            "Group commits (successful journal appends) since the start.",
            relaxed(&j.commits),
        )?;
        m.counter(
            "bourse_journal_commands",
            "Commands made durable since the start.",
            relaxed(&j.commands),
        )?;
        m.counter(
            "bourse_journal_retries",
            "Journal appends that failed and were retried (the database was away).",
            relaxed(&j.retries),
        )?;
        m.counter(
            "bourse_journal_snapshots",
            "Snapshots saved since the start.",
            relaxed(&j.snapshots),
        )?;
        m.gauge(
            "bourse_journal_last_snapshot_seq",
            "The seq of the last snapshot saved since the start (0: none yet).",
            relaxed(&j.last_snapshot_seq),
        )?;
        m.gauge(
            "bourse_journal_failing",
            "1 while journal appends fail and are being retried (nothing is acknowledged).",
            u64::from(j.failing.load(Ordering::Relaxed)),
        )?;
        m.gauge(
            "bourse_journal_failed",
            "1 once the journal writer stopped on an error it cannot retry (restart needed).",
            u64::from(j.failed.load(Ordering::Relaxed)),
        )?;
        m.histogram(
            "bourse_journal_batch_commands",
            "Commands per group commit.",
            None,
            &j.batch_commands.snapshot(),
            1,
        )?;
        m.histogram(
            "bourse_journal_append_duration",
            "Time of each successful journal append (one group commit: write and fsync, or \
             one PostgreSQL transaction); failed attempts count in \
             bourse_journal_retries_total.",
            Some(&Unit::Seconds),
            &j.append_ns.snapshot(),
            NANOS,
        )?;

        m.gauge(
            "bourse_feed_connections",
            "WebSocket connections open now (order entry and market data).",
            f.connections.load(Ordering::Relaxed) as u64,
        )?;
        m.counter(
            "bourse_feed_updates",
            "Market-data updates produced (all symbols).",
            relaxed(&f.updates),
        )?;
        m.counter(
            "bourse_feed_messages",
            "Messages queued to WebSocket subscribers (one per message per subscriber).",
            relaxed(&f.delivered),
        )?;
        m.counter(
            "bourse_feed_bytes",
            "Bytes of the messages queued to WebSocket subscribers.",
            relaxed(&f.delivered_bytes),
        )?;
        m.counter(
            "bourse_feed_conflated",
            "Book updates skipped for a lagging subscriber (replaced by a later snapshot).",
            relaxed(&f.conflated),
        )?;
        m.counter(
            "bourse_feed_slow_disconnects",
            "WebSocket connections closed for staying too far behind (slow consumers).",
            relaxed(&f.slow_disconnects),
        )?;

        let x = &*self.fix;
        m.gauge(
            "bourse_fix_sessions",
            "FIX sessions logged on now.",
            x.live(),
        )?;
        m.counter(
            "bourse_fix_messages_in",
            "FIX messages received (framed, checksum good).",
            relaxed(&x.messages_in),
        )?;
        m.counter(
            "bourse_fix_messages_out",
            "FIX messages sent, resends included.",
            relaxed(&x.messages_out),
        )?;
        m.counter(
            "bourse_fix_garbled",
            "Garbled FIX input dropped (bad BodyLength or CheckSum, no BeginString).",
            relaxed(&x.garbled),
        )?;

        if let Some(n) = &self.nats {
            m.counter(
                "bourse_nats_published",
                "Messages handed to JetStream for the edges (a refusal or a missing acknowledgement counts in bourse_nats_failed).",
                relaxed(&n.published),
            )?;
            m.counter(
                "bourse_nats_dropped",
                "Messages dropped because the queue to NATS was full (edges resync from the \
                 next snapshot).",
                relaxed(&n.dropped),
            )?;
            m.counter(
                "bourse_nats_failed",
                "Publishes NATS refused or did not acknowledge.",
                relaxed(&n.failed),
            )?;
            m.counter(
                "bourse_nats_snapshots",
                "Feed snapshots published for the edges.",
                relaxed(&n.snapshots),
            )?;
        }

        if let Some(n) = self.notify.get() {
            self.notify_metrics(&mut m, &n.stats())?;
        }

        // The allocator's own account (jemalloc, the binary's global allocator): what the
        // process holds allocated against what it keeps resident, so that growth in RSS can
        // be told apart from growth in data. Read only at scrape time.
        if tikv_jemalloc_ctl::epoch::advance().is_ok() {
            let read = |r: tikv_jemalloc_ctl::Result<usize>| r.map_or(0, |v| v as u64);
            m.gauge(
                "bourse_allocator_allocated_bytes",
                "Bytes the process has allocated and not freed (jemalloc's stats.allocated).",
                read(tikv_jemalloc_ctl::stats::allocated::read()),
            )?;
            m.gauge(
                "bourse_allocator_resident_bytes",
                "Bytes of memory the allocator keeps resident (jemalloc's stats.resident).",
                read(tikv_jemalloc_ctl::stats::resident::read()),
            )?;
        }

        let mut family = enc.encode_descriptor(
            "bourse_rejects",
            "Requests the engine rejected, by reason code, as released (durable).",
            None,
            MetricType::Counter,
        )?;
        for (reason, n) in self.rejects.iter() {
            let labels = [("reason", reason.code())];
            ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
        let journal = Arc::new(JournalStats::default());
        journal.batch_commands.record(2);
        let rejects = Arc::new(RejectCounts::default());
        rejects.add(RejectReason::UnknownOrder);
        let text = Metrics::new(Sources {
            runner: h.clone(),
            watermark: Arc::new(Watermark::new(bourse_core::Seq(1))),
            journal,
            released: Arc::new(AtomicU64::new(1)),
            feed: Arc::new(bourse_feed::FeedStats::default()),
            rejects,
            fix: Arc::default(),
            nats: Some(Arc::new(crate::natsrelease::NatsStats::default())),
            notify: Arc::default(),
        })
        .render();
        for line in [
            "bourse_engine_running 1",
            "bourse_engine_queued_commands 0",
            "bourse_engine_commands_total 3",
            "bourse_engine_apply_duration_seconds_count 3",
            "bourse_engine_apply_duration_seconds_bucket{le=\"+Inf\"} 3",
            "bourse_durable_lag_commands 2",
            "bourse_release_lag_commands 2",
            "bourse_journal_batch_commands_bucket{le=\"1.0\"} 0",
            "bourse_journal_batch_commands_bucket{le=\"2.0\"} 1",
            "bourse_journal_batch_commands_count 1",
            "bourse_journal_append_duration_seconds_count 0",
            "bourse_feed_connections 0",
            "bourse_rejects_total{reason=\"UNKNOWN_ORDER\"} 1",
            "bourse_rejects_total{reason=\"INSUFFICIENT_BUYING_POWER\"} 0",
            "bourse_nats_dropped_total 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        // OpenMetrics: the family is named without `_total`, the exposition ends with EOF.
        assert!(text.contains("# TYPE bourse_rejects counter\n"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
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
