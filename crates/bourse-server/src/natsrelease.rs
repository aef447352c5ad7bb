//! The core's side of the edge tier (DESIGN §9): every released command's market-data and
//! private events, published once to NATS JetStream for `bourse edge` processes (subjects and
//! format in `bourse_edge::wire`, `docs/PROTOCOL.md`).
//!
//! ```text
//! publisher ──(bounded, blocking like the feed's)──▶ mirror thread: applies the events to
//!   its own copy of the feed (so it can snapshot it), splits each command by subject
//!   ──try_send (bounded)──▶ tokio task: JetStream publish, acks awaited in order
//! ```
//!
//! The mirror thread never waits for NATS: when the queue to NATS is full (NATS down or
//! slow) the messages are dropped and counted, and the chain they carry lets every edge see
//! the gap; as soon as the queue has room again the core publishes a snapshot of the whole
//! feed, from which the edges go on. A failed acknowledgement does the same. Nothing is lost
//! for a client: the core serves its own subscribers as before, and an edge's clients get
//! the state from the snapshot (closed and resubscribed if it jumped).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bourse_api::Listings;
use bourse_core::{Seq, Tagged};
use bourse_edge::StreamSettings;
use bourse_edge::wire::{self, ListingImage, SnapshotBody, Subjects};
use bourse_engine::EventBatch;
use bourse_feed::{Feed, FeedConfig, Publisher};
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::pipeline::Release;

/// Publish acknowledgements awaited at once.
const MAX_IN_FLIGHT: usize = 4_096;
/// Released batches that may wait for the mirror thread.
const BATCHES: usize = 1_024;

/// Counters, for `/healthz` and `/metrics` (the `bourse_nats_*` families).
#[derive(Debug, Default)]
pub struct NatsStats {
    pub published: AtomicU64,
    pub dropped: AtomicU64,
    pub failed: AtomicU64,
    pub snapshots: AtomicU64,
}

/// Does nothing: `nats.url` is empty.
#[derive(Debug)]
struct Off;

impl Release for Off {
    fn release(&mut self, _batch: &EventBatch) {}
}

/// Hands released events to the mirror thread.
#[derive(Debug)]
pub struct NatsRelease {
    tx: Option<crossbeam_channel::Sender<Vec<Tagged>>>,
    thread: Option<JoinHandle<()>>,
}

/// The release to add to the publisher's sinks: publishing to JetStream when `nats.url`
/// is set, nothing otherwise. `feed` must hold exactly the state after `seq` (it is read
/// once, before the publisher starts).
pub fn sink(
    cfg: &Config,
    feed: &Feed,
    listings: &Listings,
    seq: Seq,
    stats: Arc<NatsStats>,
) -> Result<Box<dyn Release>> {
    if cfg.nats.url.is_empty() {
        return Ok(Box::new(Off));
    }
    Ok(Box::new(NatsRelease::start(
        cfg, feed, listings, seq, stats,
    )?))
}

/// The stream settings of `cfg`.
#[must_use]
pub fn stream_settings(cfg: &Config) -> StreamSettings {
    let n = &cfg.nats;
    StreamSettings {
        url: n.url.clone(),
        stream: n.stream.clone(),
        prefix: n.subject_prefix.clone(),
        max_age: Duration::from_secs(n.max_age_secs),
        max_bytes: n.max_bytes,
    }
}

impl NatsRelease {
    /// Starts the mirror thread and the publishing task; the first thing published is a
    /// snapshot of `feed` (a reset: edges take it whatever they hold).
    pub fn start(
        cfg: &Config,
        feed: &Feed,
        listings: &Listings,
        seq: Seq,
        stats: Arc<NatsStats>,
    ) -> Result<Self> {
        let settings = stream_settings(cfg);
        let listings: Vec<ListingImage> = listings
            .all()
            .iter()
            .map(|l| ListingImage {
                symbol: l.symbol,
                name: l.name.clone(),
                sector: l.sector.clone(),
                tick: l.tick,
                lot: l.lot,
                max_qty: l.max_qty,
                fractional: l.fractional,
            })
            .collect();
        // The mirror keeps everything the core's feed keeps (same retention and window).
        let fc: FeedConfig = *feed.config();
        let mirror = Arc::new(Feed::from_image(feed.image(), fc));
        let (tx, rx) = crossbeam_channel::bounded::<Vec<Tagged>>(BATCHES);
        let queue = cfg.nats.queue.max(1);
        let every = Duration::from_secs(cfg.nats.snapshot_every_secs.max(1));
        let thread = std::thread::Builder::new()
            .name("bourse-nats".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("bourse-nats-io")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!("NATS publishing not started: {e}");
                        return;
                    }
                };
                let (out_tx, out_rx) = mpsc::channel::<(String, Bytes)>(queue);
                let dirty = Arc::new(AtomicBool::new(false));
                let task = rt.spawn(publish_loop(
                    settings.clone(),
                    out_rx,
                    dirty.clone(),
                    stats.clone(),
                ));
                let mut m = Mirror {
                    publisher: Publisher::new(mirror),
                    listings,
                    subjects: Subjects::new(&settings.prefix),
                    last: seq.0,
                    out: out_tx,
                    dirty,
                    every,
                    snapped_at: Instant::now(),
                    snapped_after: None,
                    stats,
                    warned: false,
                };
                m.snapshot(true);
                loop {
                    match rx.recv_timeout(Duration::from_millis(250)) {
                        Ok(events) => m.apply(&events),
                        Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
                    }
                    m.snapshot(false);
                }
                drop(m);
                // What is queued still goes out, for a little while.
                let _ =
                    rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), task).await });
            })
            .context("starting the NATS publishing thread")?;
        tracing::info!(url = %cfg.nats.url, stream = %cfg.nats.stream, "publishing market data to NATS JetStream");
        Ok(NatsRelease {
            tx: Some(tx),
            thread: Some(thread),
        })
    }
}

impl Release for NatsRelease {
    fn release(&mut self, batch: &EventBatch) {
        let events: Vec<Tagged> = batch
            .events()
            .iter()
            .filter(|t| wire::feeds(t))
            .copied()
            .collect();
        if events.is_empty() {
            return;
        }
        if let Some(tx) = &self.tx {
            // Err only once the mirror thread is gone: nothing to publish with.
            let _ = tx.send(events);
        }
    }

    fn close(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Mirror {
    publisher: Publisher,
    listings: Vec<ListingImage>,
    subjects: Subjects,
    /// The chain: the seq of the last command published (or dropped).
    last: u64,
    out: mpsc::Sender<(String, Bytes)>,
    /// Something was not published: a snapshot is owed.
    dirty: Arc<AtomicBool>,
    every: Duration,
    snapped_at: Instant,
    snapped_after: Option<u64>,
    stats: Arc<NatsStats>,
    warned: bool,
}

impl Mirror {
    fn apply(&mut self, events: &[Tagged]) {
        self.publisher.publish(events);
        for cmd in events.chunk_by(|a, b| a.seq == b.seq) {
            let seq = cmd[0].seq;
            let msgs = match wire::split_command(&self.subjects, self.last, cmd) {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(seq = seq.0, "not published: {e}");
                    self.dirty.store(true, Ordering::Release);
                    continue;
                }
            };
            if msgs.is_empty() {
                continue;
            }
            self.last = seq.0;
            // All of a command's parts or none: an edge sees a gap either way.
            if self.out.capacity() < msgs.len() {
                self.drop_some(msgs.len());
                continue;
            }
            for (subject, payload) in msgs {
                if self.out.try_send((subject, Bytes::from(payload))).is_err() {
                    self.drop_some(1);
                }
            }
        }
    }

    fn drop_some(&mut self, n: usize) {
        self.stats.dropped.fetch_add(n as u64, Ordering::Relaxed);
        self.dirty.store(true, Ordering::Release);
        if !self.warned {
            self.warned = true;
            tracing::warn!(
                "NATS is not taking messages fast enough: dropping them; edges resync from \
                 the snapshot published once it does"
            );
        }
    }

    /// Publishes a snapshot when one is owed (`reset`: the core's start), or when the
    /// interval passed and anything changed since the last.
    fn snapshot(&mut self, reset: bool) {
        let owed = self.dirty.load(Ordering::Acquire);
        let due = self.snapped_at.elapsed() >= self.every && self.snapped_after != Some(self.last);
        if !(reset || owed || due) {
            return;
        }
        let body = SnapshotBody {
            listings: self.listings.clone(),
            feed: self.publisher.feed().image(),
        };
        let chunks = match wire::split_snapshot(self.last, self.last, reset, &body) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("snapshot not published: {e}");
                return;
            }
        };
        // Whole or not at all; tried again on the next wake-up.
        if self.out.capacity() < chunks.len() {
            self.dirty.store(true, Ordering::Release);
            return;
        }
        let subject = self.subjects.snapshot();
        for c in chunks {
            if self
                .out
                .try_send((subject.clone(), Bytes::from(c)))
                .is_err()
            {
                self.dirty.store(true, Ordering::Release);
                return;
            }
        }
        if owed {
            tracing::info!(seq = self.last, "snapshot published after a gap");
        }
        self.dirty.store(false, Ordering::Release);
        self.warned = false;
        self.snapped_at = Instant::now();
        self.snapped_after = Some(self.last);
        self.stats.snapshots.fetch_add(1, Ordering::Relaxed);
    }
}

/// Publishes what the mirror queued, in order; a message not acknowledged makes a snapshot
/// owed.
async fn publish_loop(
    settings: StreamSettings,
    mut rx: mpsc::Receiver<(String, Bytes)>,
    dirty: Arc<AtomicBool>,
    stats: Arc<NatsStats>,
) {
    let client = loop {
        match settings.connect().await {
            Ok(c) => break c,
            Err(e) => {
                tracing::error!("{e}; trying again");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    };
    let js = async_nats::jetstream::new(client);
    while let Err(e) = settings.ensure(&js).await {
        tracing::warn!("{e}; trying again");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut acks: VecDeque<async_nats::jetstream::context::PublishAckFuture> = VecDeque::new();
    let settle = |r: Result<async_nats::jetstream::publish::PublishAck, _>| {
        if let Err(e) = r {
            let e: async_nats::jetstream::context::PublishError = e;
            stats.failed.fetch_add(1, Ordering::Relaxed);
            if !dirty.swap(true, Ordering::AcqRel) {
                tracing::warn!("a message was not acknowledged ({e}): a snapshot follows");
            }
        }
    };
    loop {
        let (subject, payload) = if acks.is_empty() {
            match rx.recv().await {
                Some(m) => m,
                None => break,
            }
        } else {
            match rx.try_recv() {
                Ok(m) => m,
                Err(mpsc::error::TryRecvError::Empty) => {
                    if let Some(a) = acks.pop_front() {
                        settle(a.await);
                    }
                    continue;
                }
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            }
        };
        match js.publish(subject, payload).await {
            Ok(ack) => {
                stats.published.fetch_add(1, Ordering::Relaxed);
                acks.push_back(ack);
            }
            Err(e) => settle(Err(e)),
        }
        while acks.len() >= MAX_IN_FLIGHT {
            if let Some(a) = acks.pop_front() {
                settle(a.await);
            }
        }
    }
    for a in acks {
        settle(a.await);
    }
}
