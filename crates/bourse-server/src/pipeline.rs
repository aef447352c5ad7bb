//! Durability between the engine and the world: the journal writer (group commit, the
//! `durable_seq` watermark, retry while the database is away, snapshots once durable) and
//! the publisher (releases a command's events only once the command is durable).
//!
//! ```text
//! engine ──JournalBatch──▶ writer: take all queued (≤ max), one append, advance durable_seq
//!        ──EventBatch────▶ publisher: wait for durable_seq ≥ batch end, then release
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bourse_api::Gateway;
use bourse_core::{Event, RejectReason, Seq, Sequenced, Tagged};
use bourse_engine::{
    AtomicHistogram, Engine, EventBatch, EventReceiver, JournalReceiver, Snapshot, StateHash,
};
use bourse_journal::{Journal, JournalError};
use crossbeam_utils::CachePadded;
use parking_lot::{Condvar, Mutex};

/// The journal as the writer thread owns it.
pub type BoxJournal = Box<dyn Journal + Send>;

/// The last durable seq: written by the journal writer, read by the publisher and health.
#[derive(Debug, Default)]
pub struct Watermark {
    seq: CachePadded<AtomicU64>,
    lock: Mutex<()>,
    cv: Condvar,
}

impl Watermark {
    #[must_use]
    pub fn new(seq: Seq) -> Self {
        Self {
            seq: CachePadded::new(AtomicU64::new(seq.0)),
            ..Self::default()
        }
    }

    #[must_use]
    pub fn get(&self) -> Seq {
        Seq(self.seq.load(Ordering::Acquire))
    }

    pub fn advance(&self, seq: Seq) {
        self.seq.store(seq.0, Ordering::Release);
        // Taking the lock orders this store before any waiter's check-then-sleep.
        drop(self.lock.lock());
        self.cv.notify_all();
    }

    /// Waits until the watermark reaches `seq`, or `timeout` passes. True if reached.
    pub fn wait_for(&self, seq: Seq, timeout: Duration) -> bool {
        // Most waits end within microseconds at load: spin a little before sleeping.
        for _ in 0..64 {
            if self.get() >= seq {
                return true;
            }
            std::hint::spin_loop();
        }
        let deadline = Instant::now() + timeout;
        let mut g = self.lock.lock();
        while self.get() < seq {
            if self.cv.wait_until(&mut g, deadline).timed_out() {
                return self.get() >= seq;
            }
        }
        true
    }
}

/// Upper bounds of the journal's batch-size histogram ([`JournalStats::batch_commands`]):
/// commands per group commit, powers of two from 1 to 65,536.
pub static BATCH_COMMANDS_BOUNDS: [u64; 17] = [
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1_024, 2_048, 4_096, 8_192, 16_384, 32_768, 65_536,
];

/// Upper bounds, in nanoseconds, of the journal's append-time histogram
/// ([`JournalStats::append_ns`]): 25 µs to 5 s.
pub static APPEND_NS_BOUNDS: [u64; 17] = [
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
];

/// Counters for health and metrics.
#[derive(Debug)]
pub struct JournalStats {
    pub commits: AtomicU64,
    pub commands: AtomicU64,
    pub largest_batch: AtomicU64,
    pub retries: AtomicU64,
    pub snapshots: AtomicU64,
    pub last_snapshot_seq: AtomicU64,
    /// The journal is failing now (retrying).
    pub failing: AtomicBool,
    /// The writer stopped on an error it cannot retry: nothing more will be acknowledged.
    pub failed: AtomicBool,
    /// Commands per group commit (recorded by the writer thread only).
    pub batch_commands: AtomicHistogram,
    /// Nanoseconds of each successful `Journal::append` (one group commit: write and
    /// fsync, or one PostgreSQL transaction); failed attempts count in `retries` instead.
    /// Recorded by the writer thread only.
    pub append_ns: AtomicHistogram,
}

impl Default for JournalStats {
    fn default() -> Self {
        Self {
            commits: AtomicU64::new(0),
            commands: AtomicU64::new(0),
            largest_batch: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            snapshots: AtomicU64::new(0),
            last_snapshot_seq: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            batch_commands: AtomicHistogram::new(&BATCH_COMMANDS_BOUNDS),
            append_ns: AtomicHistogram::new(&APPEND_NS_BOUNDS),
        }
    }
}

/// Snapshot payload: the state hash, then the encoded [`Snapshot`]. The hash lets a loader
/// prove the restored state is exactly the one saved.
pub fn encode_snapshot(snap: &Snapshot) -> Result<(Vec<u8>, StateHash)> {
    let mut out = Vec::new();
    let hash = encode_snapshot_into(snap, &mut out)?;
    Ok((out, hash))
}

/// [`encode_snapshot`] into a buffer the caller keeps: `out` is cleared, then holds the
/// payload. The body is encoded in place after room for its hash, so a snapshot costs one
/// buffer the size of the state, reused from one snapshot to the next; a fresh buffer and a
/// framed copy per snapshot made a long run's memory step up at every snapshot.
pub fn encode_snapshot_into(snap: &Snapshot, out: &mut Vec<u8>) -> Result<StateHash> {
    out.clear();
    out.resize(32, 0);
    bourse_core::codec::encode_into(snap, out).context("encoding a snapshot")?;
    let hash = StateHash(*blake3::hash(&out[32..]).as_bytes());
    out[..32].copy_from_slice(&hash.0);
    Ok(hash)
}

/// Inverse of [`encode_snapshot`]: the engine it holds, checked against its hash.
pub fn decode_snapshot(bytes: &[u8]) -> Result<(Engine, StateHash)> {
    if bytes.len() < 32 {
        bail!("snapshot too short ({} bytes)", bytes.len());
    }
    let (h, body) = bytes.split_at(32);
    let mut want = [0u8; 32];
    want.copy_from_slice(h);
    if *blake3::hash(body).as_bytes() != want {
        bail!("snapshot damaged: its contents do not match its hash");
    }
    let snap: Snapshot = bourse_core::codec::decode(body).context("decoding a snapshot")?;
    let engine = Engine::restore(snap).context("restoring a snapshot")?;
    let hash = engine.state_hash().context("hashing the restored state")?;
    if hash.0 != want {
        bail!(
            "snapshot restores to state {hash}, not the {} it was saved as",
            StateHash(want)
        );
    }
    Ok((engine, hash))
}

/// Settings of the writer.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Most commands in one group commit.
    pub max_batch: usize,
    /// First and longest pause between retries of a failing append.
    pub backoff: (Duration, Duration),
    /// Snapshots kept besides the genesis one.
    pub keep_snapshots: usize,
}

/// Runs the journal writer until the engine's journal queue disconnects (the engine has
/// stopped and everything it sequenced was received) or `give_up` is set while the journal
/// is failing. Returns the journal, so the caller can write a final snapshot.
pub fn spawn_writer(
    mut journal: BoxJournal,
    rx: JournalReceiver,
    watermark: Arc<Watermark>,
    stats: Arc<JournalStats>,
    give_up: Arc<AtomicBool>,
    cfg: WriterConfig,
) -> Result<JoinHandle<Result<BoxJournal>>> {
    let handle = thread::Builder::new()
        .name("bourse-journal".into())
        .spawn(move || {
            let mut pending: Vec<Sequenced> = Vec::with_capacity(cfg.max_batch);
            let mut snapshots: Vec<Box<Snapshot>> = Vec::new();
            let mut snapshot_buf: Vec<u8> = Vec::new();
            let r = (|| -> Result<()> {
                while let Ok(first) = rx.recv() {
                    let mut next = Some(first);
                    // Everything queued joins this commit: one command at idle, thousands
                    // under load.
                    while let Some(mut b) = next.take() {
                        if let Some(s) = b.take_snapshot() {
                            snapshots.push(s);
                        }
                        pending.extend(b.drain());
                        rx.recycle(b);
                        if pending.len() < cfg.max_batch {
                            next = rx.try_recv().ok();
                        }
                    }
                    if !pending.is_empty() {
                        commit(&mut *journal, &pending, &stats, &give_up, &cfg)?;
                        let last = pending.last().map_or(Seq(0), |s| s.seq);
                        stats.commits.fetch_add(1, Ordering::Relaxed);
                        stats
                            .commands
                            .fetch_add(pending.len() as u64, Ordering::Relaxed);
                        stats
                            .largest_batch
                            .fetch_max(pending.len() as u64, Ordering::Relaxed);
                        stats.batch_commands.record(pending.len() as u64);
                        pending.clear();
                        watermark.advance(last);
                    }
                    // A snapshot is stored only once everything it covers is durable.
                    let durable = journal.durable_seq();
                    for s in snapshots.extract_if(.., |s| s.seq <= durable) {
                        save_snapshot(
                            &mut *journal,
                            &s,
                            &mut snapshot_buf,
                            cfg.keep_snapshots,
                            &stats,
                        );
                    }
                }
                Ok(())
            })();
            if let Err(e) = &r {
                stats.failed.store(true, Ordering::Release);
                tracing::error!("journal writer stopped: {e:#}; nothing more will be acknowledged");
            }
            r.map(|()| journal)
        })
        .context("starting the journal writer thread")?;
    Ok(handle)
}

/// One group commit, retried with backoff while the error is retryable (the database is
/// away). Never returns a retryable error unless told to give up.
fn commit(
    journal: &mut (dyn Journal + Send),
    batch: &[Sequenced],
    stats: &JournalStats,
    give_up: &AtomicBool,
    cfg: &WriterConfig,
) -> Result<()> {
    let mut pause = cfg.backoff.0;
    loop {
        let started = Instant::now();
        match journal.append(batch) {
            Ok(()) => {
                stats
                    .append_ns
                    .record(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
                if stats.failing.swap(false, Ordering::AcqRel) {
                    tracing::info!("journal is back: commits resume at seq {}", batch[0].seq.0);
                }
                return Ok(());
            }
            Err(e) if e.is_retryable() && !give_up.load(Ordering::Acquire) => {
                if !stats.failing.swap(true, Ordering::AcqRel) {
                    tracing::warn!(
                        "journal append failed ({e}); acknowledgements wait; retrying with backoff"
                    );
                }
                stats.retries.fetch_add(1, Ordering::Relaxed);
                thread::sleep(pause);
                pause = (pause * 2).min(cfg.backoff.1);
            }
            Err(e) => return Err(describe(e)),
        }
    }
}

fn describe(e: JournalError) -> anyhow::Error {
    anyhow::Error::new(e).context("journal append")
}

/// Snapshots are an optimization: a failure is logged, never fatal. `buf` is the writer's
/// reusable encoding buffer; it keeps its capacity unless the state has shrunk to under half
/// of it (retention: at most twice the latest snapshot).
fn save_snapshot(
    journal: &mut (dyn Journal + Send),
    snap: &Snapshot,
    buf: &mut Vec<u8>,
    keep: usize,
    stats: &JournalStats,
) {
    let t = Instant::now();
    let r = encode_snapshot_into(snap, buf).and_then(|hash| {
        journal
            .save_snapshot(snap.seq, buf)
            .map_err(|e| anyhow::Error::new(e).context("saving a snapshot"))?;
        journal
            .prune_snapshots(keep)
            .map_err(|e| anyhow::Error::new(e).context("pruning old snapshots"))?;
        Ok((buf.len(), hash))
    });
    if buf.capacity() > 2 * buf.len() {
        buf.shrink_to(buf.len());
    }
    match r {
        Ok((len, hash)) => {
            stats.snapshots.fetch_add(1, Ordering::Relaxed);
            stats.last_snapshot_seq.store(snap.seq.0, Ordering::Relaxed);
            tracing::info!(
                seq = snap.seq.0,
                bytes = len,
                ms = u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX),
                %hash,
                "snapshot saved"
            );
        }
        Err(e) => tracing::warn!(seq = snap.seq.0, "snapshot not saved: {e:#}"),
    }
}

/// A consumer of released (durable) outcomes: the gateway's waiting requests today; the
/// market-data feed and the read-model projector plug in the same way.
pub trait Release: Send {
    /// Called with each batch once every command in it is durable, in seq order.
    fn release(&mut self, batch: &EventBatch);
    /// The publisher stopped: nothing more will be released.
    fn close(&mut self) {}
    /// Returns once everything released so far has been fully handled (a sink with a
    /// thread of its own waits for it): a standby taking over starts the edge publisher
    /// from the feed's state only once the feed holds everything.
    fn flush(&mut self) {}
}

/// Hands each command's outcome to the request waiting for it.
#[derive(Debug)]
pub struct GatewayRelease(pub Arc<Gateway>);

impl Release for GatewayRelease {
    fn release(&mut self, batch: &EventBatch) {
        for o in batch.commands() {
            self.0.complete(o.ticket.0, o.seq, o.ts, o.events);
        }
    }

    fn close(&mut self) {
        self.0.close();
    }
}

/// Hands each live FIX session its account's order events (before the gateway, so a
/// session's own request is reported before its outcome arrives).
#[derive(Debug)]
pub struct FixRelease(pub Arc<bourse_fix::FixHub>);

impl Release for FixRelease {
    fn release(&mut self, batch: &EventBatch) {
        self.0.publish(batch.events());
    }
}

/// Released rejections, per reason, for `/metrics`: one counter per [`RejectReason::ALL`]
/// entry, in that order.
#[derive(Debug)]
pub struct RejectCounts([AtomicU64; RejectReason::ALL.len()]);

impl Default for RejectCounts {
    fn default() -> Self {
        Self(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

impl RejectCounts {
    /// Counts one rejection.
    pub fn add(&self, reason: RejectReason) {
        // `ALL` lists the reasons in declaration order, so the discriminant is the index.
        if let Some(c) = self.0.get(reason as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Rejections of this reason so far.
    #[must_use]
    pub fn get(&self, reason: RejectReason) -> u64 {
        self.0
            .get(reason as usize)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Every reason with its count, in [`RejectReason::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (RejectReason, u64)> + '_ {
        RejectReason::ALL.iter().map(|&r| (r, self.get(r)))
    }
}

/// Counts the released `Rejected` events per reason (for `/metrics`). Runs before the
/// gateway's sink, so a client told of a rejection finds it counted.
#[derive(Debug)]
pub struct RejectRelease(pub Arc<RejectCounts>);

impl Release for RejectRelease {
    fn release(&mut self, batch: &EventBatch) {
        for t in batch.events() {
            if let Event::Rejected { reason, .. } = &t.event {
                self.0.add(*reason);
            }
        }
    }
}

/// Applies every durable end of a credential (log-out, key revocation) and every new
/// customer account to the gateway's directory, whoever asked for it and whatever answer
/// they got: a revocation whose caller was told `OUTCOME_UNKNOWN` still takes effect here
/// the moment it is durable, and open WebSockets hear of it. Runs before the gateway's sink,
/// so a `204` (or a `201` for a customer account) comes after it.
#[derive(Debug)]
pub struct IdentityRelease(pub Arc<bourse_api::Directory>);

impl Release for IdentityRelease {
    fn release(&mut self, batch: &EventBatch) {
        for t in batch.events() {
            match t.event {
                Event::SessionEnded { token, .. } => {
                    self.0.end_session(&token);
                }
                Event::ApiKeyRevoked { account, key_id } => {
                    self.0.revoke_key(account, key_id);
                }
                Event::CustomerAccountOpened { account, broker } => {
                    self.0.add_customer(account, broker);
                }
                Event::PersonErased { account } => self.0.remove_user(account),
                _ => {}
            }
        }
    }
}

/// Keeps the API's mirrors of engine-held account state (alerts, watchlists) in step.
#[derive(Debug)]
pub struct BookRelease {
    pub alerts: Arc<bourse_api::alerts::AlertBook>,
    pub watchlists: Arc<bourse_api::watchlists::WatchlistBook>,
    pub profiles: Arc<bourse_api::profilebook::ProfileBook>,
}

impl Release for BookRelease {
    fn release(&mut self, batch: &EventBatch) {
        self.profiles.apply(batch.profiles());
        let mut events = Vec::new();
        for o in batch.commands() {
            events.clear();
            events.extend(o.events.iter().map(|t| t.event));
            self.alerts.apply(o.ts, &events);
            self.watchlists.apply(o.ts, &events);
        }
    }
}

/// Hands released events to the market-data feed's own thread, so fanning out to many
/// WebSocket connections never delays the answers to requests. The queue between them is
/// bounded: when the feed falls that far behind, the publisher waits (and so, in the end,
/// does the engine) rather than drop an event.
#[derive(Debug)]
pub struct FeedRelease {
    tx: Option<crossbeam_channel::Sender<Vec<Tagged>>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Batches sent, and batches the feed thread has published.
    sent: u64,
    done: Arc<AtomicU64>,
}

impl FeedRelease {
    /// Starts the feed thread; `capacity` batches may wait for it.
    pub fn start(mut publisher: bourse_feed::Publisher, capacity: usize) -> std::io::Result<Self> {
        let (tx, rx) = crossbeam_channel::bounded::<Vec<Tagged>>(capacity.max(1));
        let done = Arc::new(AtomicU64::new(0));
        let counted = done.clone();
        let thread = std::thread::Builder::new()
            .name("bourse-feed".into())
            .spawn(move || {
                for events in rx {
                    publisher.publish(&events);
                    counted.fetch_add(1, Ordering::Release);
                }
            })?;
        Ok(FeedRelease {
            tx: Some(tx),
            thread: Some(thread),
            sent: 0,
            done,
        })
    }
}

impl Release for FeedRelease {
    fn release(&mut self, batch: &EventBatch) {
        if let Some(tx) = &self.tx {
            // Err only once the feed thread is gone (it panicked): nothing to deliver to.
            if tx.send(batch.events().to_vec()).is_ok() {
                self.sent += 1;
            }
        }
    }

    fn flush(&mut self) {
        while self.done.load(Ordering::Acquire) < self.sent
            && self.thread.as_ref().is_some_and(|t| !t.is_finished())
        {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn close(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Keeps the read model (and, with PostgreSQL, its projection) in step with the engine.
/// Runs before the gateway's sink, so a client can always read what it was just told. The
/// projection is handed each batch before the in-memory model applies it: an order that
/// ends leaves memory only after the projector has it, so a reader that misses it in
/// memory finds it by waiting for the projection (see `History`).
pub struct ReadModelRelease {
    pub model: Arc<parking_lot::RwLock<bourse_api::ReadModel>>,
    pub projector: Option<bourse_api::PgProjector>,
}

impl std::fmt::Debug for ReadModelRelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadModelRelease")
            .field("projector", &self.projector.is_some())
            .finish_non_exhaustive()
    }
}

impl Release for ReadModelRelease {
    fn release(&mut self, batch: &EventBatch) {
        if let Some(p) = self.projector.as_mut() {
            for o in batch.commands() {
                p.apply(o.seq, o.ts, o.events);
            }
            p.flush();
        }
        let mut m = self.model.write();
        for o in batch.commands() {
            m.apply(o.seq, o.ts, o.events);
        }
    }

    fn close(&mut self) {
        if let Some(p) = self.projector.take() {
            let at = p.close(Duration::from_secs(5));
            tracing::info!(seq = at.0, "read-model projection closed");
        }
    }
}

/// Runs the publisher until the engine's event queue disconnects. Releases each batch to
/// every sink once the watermark covers it; if the writer has failed for good, it releases
/// nothing more.
pub fn spawn_publisher(
    rx: EventReceiver,
    watermark: Arc<Watermark>,
    stats: Arc<JournalStats>,
    mut sinks: Vec<Box<dyn Release>>,
    released: Arc<AtomicU64>,
) -> Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("bourse-publisher".into())
        .spawn(move || {
            while let Ok(batch) = rx.recv() {
                let Some(last) = batch.last_seq() else {
                    rx.recycle(batch);
                    continue;
                };
                let mut durable = false;
                while !durable {
                    if stats.failed.load(Ordering::Acquire) {
                        break;
                    }
                    durable = watermark.wait_for(last, Duration::from_millis(100));
                }
                if durable {
                    for s in &mut sinks {
                        s.release(&batch);
                    }
                    released.store(last.0, Ordering::Release);
                }
                rx.recycle(batch);
            }
            for s in &mut sinks {
                s.close();
            }
        })
        .context("starting the publisher thread")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bourse_core::Command;
    use bourse_engine::{Runner, RunnerConfig, Ticket};
    use crossbeam_channel::{Receiver, Sender, bounded, unbounded};

    /// An in-memory journal whose appends wait for a permit: the test decides when
    /// anything becomes durable.
    struct GatedJournal {
        records: Vec<Sequenced>,
        snapshots: Vec<(Seq, Vec<u8>)>,
        permits: Receiver<()>,
        appended: Sender<Seq>,
    }

    impl Journal for GatedJournal {
        fn append(&mut self, batch: &[Sequenced]) -> Result<(), JournalError> {
            self.permits.recv().unwrap();
            self.records.extend_from_slice(batch);
            self.appended.send(batch[batch.len() - 1].seq).unwrap();
            Ok(())
        }
        fn durable_seq(&self) -> Seq {
            self.records.last().map_or(Seq(0), |r| r.seq)
        }
        fn for_each_from(
            &self,
            from: Seq,
            f: &mut dyn FnMut(Sequenced) -> Result<(), JournalError>,
        ) -> Result<(), JournalError> {
            self.records
                .iter()
                .filter(|r| r.seq >= from)
                .try_for_each(|r| f(r.clone()))
        }
        fn save_snapshot(&mut self, seq: Seq, bytes: &[u8]) -> Result<(), JournalError> {
            self.snapshots.push((seq, bytes.to_vec()));
            Ok(())
        }
        fn latest_snapshot(&self) -> Result<Option<(Seq, Vec<u8>)>, JournalError> {
            Ok(self.snapshots.last().cloned())
        }
        fn snapshot_at(&self, seq: Seq) -> Result<Option<Vec<u8>>, JournalError> {
            Ok(self
                .snapshots
                .iter()
                .find(|s| s.0 == seq)
                .map(|s| s.1.clone()))
        }
        fn prune_snapshots(&mut self, _keep: usize) -> Result<(), JournalError> {
            Ok(())
        }
    }

    struct Recorder(Sender<Seq>);

    impl Release for Recorder {
        fn release(&mut self, batch: &EventBatch) {
            for o in batch.commands() {
                self.0.send(o.seq).unwrap();
            }
        }
    }

    fn engine() -> Engine {
        let cfg = crate::Config::load_with(None, &[]).unwrap();
        crate::serve::genesis(&cfg).unwrap()
    }

    #[test]
    fn reject_counts_keep_every_reason_apart() {
        let counts = RejectCounts::default();
        for (i, &r) in RejectReason::ALL.iter().enumerate() {
            assert_eq!(r as usize, i, "{r}: ALL is not in declaration order");
            for _ in 0..=i {
                counts.add(r);
            }
        }
        for (i, (r, n)) in counts.iter().enumerate() {
            assert_eq!((r, n), (RejectReason::ALL[i], i as u64 + 1));
        }
    }

    #[test]
    fn nothing_is_released_before_it_is_durable_and_snapshots_wait_too() {
        let (permit, permits) = unbounded();
        let (appended_tx, appended) = unbounded();
        let journal = GatedJournal {
            records: Vec::new(),
            snapshots: Vec::new(),
            permits,
            appended: appended_tx,
        };
        let (runner, outputs) = Runner::start(engine(), RunnerConfig::default()).unwrap();
        let watermark = Arc::new(Watermark::new(Seq(0)));
        let stats = Arc::new(JournalStats::default());
        let writer = spawn_writer(
            Box::new(journal),
            outputs.journal,
            watermark.clone(),
            stats.clone(),
            Arc::new(AtomicBool::new(false)),
            WriterConfig {
                max_batch: 1_000,
                backoff: (Duration::from_millis(1), Duration::from_millis(1)),
                keep_snapshots: 2,
            },
        )
        .unwrap();
        let (released_tx, released) = bounded(1_000);
        let publisher = spawn_publisher(
            outputs.events,
            watermark.clone(),
            stats.clone(),
            vec![Box::new(Recorder(released_tx))],
            Arc::new(AtomicU64::new(0)),
        )
        .unwrap();
        let h = runner.handle();
        for i in 1..=3 {
            h.submit_with(Command::OpenAccount, Ticket(i)).unwrap();
        }
        h.request_snapshot();
        // The engine has applied all three, but nothing is durable: nothing is released.
        let t = Instant::now();
        while h.status().last_seq < Seq(3) {
            assert!(t.elapsed() < Duration::from_secs(10));
            thread::yield_now();
        }
        assert!(
            released.recv_timeout(Duration::from_millis(200)).is_err(),
            "released before durable"
        );
        assert_eq!(watermark.get(), Seq(0));
        // One permit: one group commit, then exactly what it covered is released.
        permit.send(()).unwrap();
        let durable = appended.recv_timeout(Duration::from_secs(10)).unwrap();
        let mut got = Vec::new();
        while got.last() != Some(&durable) {
            got.push(released.recv_timeout(Duration::from_secs(10)).unwrap());
        }
        assert_eq!(got, (1..=durable.0).map(Seq).collect::<Vec<_>>());
        assert!(released.recv_timeout(Duration::from_millis(100)).is_err());
        // The rest, if the first commit did not take everything.
        while watermark.get() < Seq(3) {
            permit.send(()).unwrap();
            appended.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        drop(permit);
        let stopped = runner.shutdown().unwrap();
        let journal = writer.join().unwrap().unwrap();
        publisher.join().unwrap();
        assert_eq!(journal.durable_seq(), Seq(3));
        // The requested snapshot was stored, after its commands were durable, and it
        // restores to the state the engine had then.
        let (seq, bytes) = journal.latest_snapshot().unwrap().unwrap();
        assert_eq!(seq, Seq(3));
        let (restored, hash) = decode_snapshot(&bytes).unwrap();
        assert_eq!(restored.account_count(), 3);
        assert_eq!(hash, stopped.engine.state_hash().unwrap());
        assert_eq!(stats.snapshots.load(Ordering::Relaxed), 1);
    }
}
