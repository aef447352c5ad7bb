//! The read model in PostgreSQL, for history: [`PgProjector`] writes orders, activities
//! — fills among them: an order's fills are its `FILL` activities — and every account's
//! private-stream events (tables of `migrations/0002`–`0006`); `pg_history.rs`
//! ([`PgHistory`](super::PgHistory)) reads them.
//!
//! **Projector.** Fed on the publisher's thread with each released command, it hands them
//! through a bounded channel (a full channel blocks the publisher: backpressure, never a
//! dropped event) to a thread of its own that owns a current-thread tokio runtime and one
//! connection, like the journal's writer. That thread takes everything queued (up to a
//! batch limit), folds it with the same code as the in-memory model ([`OrderState`],
//! [`Activity`]), and writes it in one transaction that also advances
//! `read_model_state.last_seq`. A failed write is retried on a new connection with backoff,
//! the same rows again, until it succeeds: the tables are always exactly "every command up
//! to `last_seq`", and each row is written once (commands at or below the projected seq
//! write nothing; the transaction skips a batch that is already in).
//!
//! **Orders are written once, when they end** (filled, canceled, expired): the table is
//! insert-only, which costs PostgreSQL a fraction of an upsert per change (no dead row
//! versions, no index entries for states that do not last). Working orders are the
//! in-memory model's to answer ([`crate::readmodel::History`] merges the two). The projector
//! keeps the working orders' running state itself; at start it is fed the whole journal
//! and folds the commands it has already projected without writing them, so it knows the
//! orders still working.
//!
//! **Must never** be read back into the engine, or be treated as the truth: it is rebuilt
//! from the journal. Migrations are applied by whoever opens the journal
//! (`PgJournal::open`); the projector only checks that its tables exist.

use std::collections::hash_map::Entry;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bourse_core::{
    AccountId, CancelReason, Cash, Event, Liquidity, OrderId, OrderType, Price, Seq, Side, Tagged,
    TimeInForce, Trail, UnixNanos,
};
use crossbeam_channel::{Receiver, Sender, bounded};
use rustc_hash::FxHashMap;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tokio::runtime::Runtime;

use crate::orders::OrderState;
use crate::readmodel::activity::Activity;

/// What `pg_stat_activity.application_name` shows for the projector's connection.
pub const PROJECTOR_APPLICATION_NAME: &str = "bourse-projector";
/// ... and for the history queries' pool.
pub const HISTORY_APPLICATION_NAME: &str = "bourse-history";

/// How to reach the read model's tables, and how hard to push.
#[derive(Clone)]
pub struct PgReadModelOptions {
    /// `postgres://user[:password]@host[:port]/database[?…]`.
    pub url: String,
    /// The schema the journal (and so the read model) lives in; `None` for the
    /// connection's default search path.
    pub schema: Option<String>,
    /// Messages (one per publisher release) the projector's channel holds before the
    /// publisher waits.
    pub channel_capacity: usize,
    /// Most commands in one projector transaction.
    pub max_batch: usize,
    /// First and longest pause between retries of a failing write.
    pub backoff: (Duration, Duration),
    pub connect_timeout: Duration,
    /// Bound on one transaction or query; past it the connection is treated as lost.
    pub io_timeout: Duration,
    /// Connections of the history queries' pool.
    pub pool_size: u32,
}

impl PgReadModelOptions {
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: None,
            channel_capacity: 1024,
            max_batch: 4096,
            backoff: (Duration::from_millis(50), Duration::from_secs(5)),
            connect_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(30),
            pool_size: 8,
        }
    }

    #[must_use]
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    pub(crate) fn connect_options(
        &self,
        application: &str,
    ) -> Result<PgConnectOptions, ProjectorError> {
        let opts = PgConnectOptions::from_str(&self.url)
            .map_err(|e| ProjectorError::Config(format!("database url: {e}")))?
            .application_name(application);
        Ok(match &self.schema {
            Some(s) if valid_schema(s) => opts.options([("search_path", s.as_str())]),
            Some(s) => {
                return Err(ProjectorError::Config(format!(
                    "schema name {s:?}: use lower-case letters, digits and _, at most 63 bytes"
                )));
            }
            None => opts,
        })
    }
}

impl fmt::Debug for PgReadModelOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password.
        f.debug_struct("PgReadModelOptions")
            .field("schema", &self.schema)
            .field("channel_capacity", &self.channel_capacity)
            .field("max_batch", &self.max_batch)
            .field("backoff", &self.backoff)
            .field("connect_timeout", &self.connect_timeout)
            .field("io_timeout", &self.io_timeout)
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

fn valid_schema(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Why the projector could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    #[error("read model configuration: {0}")]
    Config(String),
    #[error("read model database: {what}: {source}")]
    Database {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("starting the projector thread: {0}")]
    Thread(#[source] std::io::Error),
}

// ---- progress -------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Shared {
    /// The last seq handed to the projector's thread.
    sent: AtomicU64,
    /// The last seq committed to the tables.
    committed: AtomicU64,
    /// Writes are failing now (being retried).
    failing: AtomicBool,
    /// The thread has stopped: nothing more will be projected.
    stopped: AtomicBool,
    commits: AtomicU64,
    retries: AtomicU64,
    /// Wakes async waiters on each commit.
    notify: tokio::sync::Notify,
    /// Wakes blocking waiters on each commit.
    lock: parking_lot::Mutex<()>,
    cv: parking_lot::Condvar,
}

/// How far the projection has got: shared by the projector, the history queries (which
/// wait for what was released before they ask) and health reporting.
#[derive(Clone, Debug, Default)]
pub struct ProjectionProgress(Arc<Shared>);

impl ProjectionProgress {
    /// The last seq handed to the projector.
    #[must_use]
    pub fn sent(&self) -> Seq {
        Seq(self.0.sent.load(Ordering::Acquire))
    }

    /// The last seq whose rows are committed.
    #[must_use]
    pub fn committed(&self) -> Seq {
        Seq(self.0.committed.load(Ordering::Acquire))
    }

    /// Whether writes are failing now (the database is away; they are being retried).
    #[must_use]
    pub fn is_failing(&self) -> bool {
        self.0.failing.load(Ordering::Acquire)
    }

    /// Whether the projector has stopped.
    #[must_use]
    pub fn is_stopped(&self) -> bool {
        self.0.stopped.load(Ordering::Acquire)
    }

    /// Transactions committed, and failed attempts retried.
    #[must_use]
    pub fn counters(&self) -> (u64, u64) {
        (
            self.0.commits.load(Ordering::Relaxed),
            self.0.retries.load(Ordering::Relaxed),
        )
    }

    pub(super) fn commit(&self, seq: Seq) {
        self.0.committed.fetch_max(seq.0, Ordering::AcqRel);
        self.0.commits.fetch_add(1, Ordering::Relaxed);
        self.wake();
    }

    fn wake(&self) {
        self.0.notify.notify_waiters();
        drop(self.0.lock.lock());
        self.0.cv.notify_all();
    }

    /// Waits until `seq` is committed, the projector stops, or `timeout` passes. True if
    /// committed.
    pub async fn wait_for(&self, seq: Seq, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.0.notify.notified();
            tokio::pin!(notified);
            // Registered before the check, so a commit between the check and the await
            // still wakes us.
            notified.as_mut().enable();
            if self.committed() >= seq {
                return true;
            }
            if self.is_stopped() {
                return false;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.committed() >= seq;
            }
        }
    }

    /// [`Self::wait_for`] for plain threads.
    pub fn wait_blocking(&self, seq: Seq, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut g = self.0.lock.lock();
        while self.committed() < seq && !self.is_stopped() {
            if self.0.cv.wait_until(&mut g, deadline).timed_out() {
                break;
            }
        }
        self.committed() >= seq
    }
}

// ---- projector ------------------------------------------------------------------------

/// Released commands on their way to the projector's thread.
#[derive(Debug, Default)]
pub(super) struct Chunk {
    /// Per command: seq, time, end of its events in `events`.
    pub(super) cmds: Vec<(Seq, UnixNanos, usize)>,
    pub(super) events: Vec<Tagged>,
}

impl Chunk {
    fn commands(&self) -> impl Iterator<Item = (Seq, UnixNanos, &[Tagged])> + '_ {
        let mut start = 0;
        self.cmds.iter().map(move |&(seq, ts, end)| {
            let events = &self.events[start..end];
            start = end;
            (seq, ts, events)
        })
    }
}

/// Turns a standby's projector into a writing one.
#[derive(Clone, Debug)]
pub struct Promotion(Arc<AtomicBool>);

impl Promotion {
    /// From now on the projector writes. Everything the primary wrote stays; what it had
    /// not written yet is written from this projector's commands.
    pub fn promote(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Writes the read model to PostgreSQL (see the module docs). Feed it with
/// [`PgProjector::apply`] for each released command in seq order and [`PgProjector::flush`]
/// at the end of each release; [`PgProjector::close`] at shutdown.
#[derive(Debug)]
pub struct PgProjector {
    tx: Option<Sender<Chunk>>,
    pending: Chunk,
    /// The last seq accepted by `apply` (skips re-fed commands before they cost anything).
    last: Seq,
    max_chunk: usize,
    progress: ProjectionProgress,
    /// Tells the thread to stop retrying a failing write (shutdown).
    give_up: Arc<AtomicBool>,
    /// A standby's projector: set to start writing (see [`PgProjector::start_shadow`]).
    promote: Option<Arc<AtomicBool>>,
    handle: Option<JoinHandle<()>>,
}

impl PgProjector {
    /// Connects, checks the tables, reads how far the projection got, and starts the
    /// projector's thread. Blocks until connected (it may be called from a plain thread
    /// or from async code; it never nests a runtime).
    pub fn start(opts: PgReadModelOptions) -> Result<PgProjector, ProjectorError> {
        Self::start_as(opts, None)
    }

    /// A standby's projector (`bourse serve --standby`): fed like any other, it keeps the
    /// working orders' state but writes nothing while the primary's projector writes the
    /// same rows. It holds on to the commands the tables do not have yet (it reads how far
    /// they are every quarter second, and folds away what they hold); once
    /// [`Promotion::promote`] is called, it writes those and goes on as a normal
    /// projector. If the primary's projection falls a million
    /// commands behind, it stops taking more until the tables catch up (the standby's lag
    /// shows it).
    pub fn start_shadow(opts: PgReadModelOptions) -> Result<PgProjector, ProjectorError> {
        Self::start_as(opts, Some(Arc::new(AtomicBool::new(false))))
    }

    /// For a standby's projector, what makes it a writing one ([`Promotion::promote`]).
    #[must_use]
    pub fn promotion(&self) -> Option<Promotion> {
        self.promote.clone().map(Promotion)
    }

    fn start_as(
        opts: PgReadModelOptions,
        promote: Option<Arc<AtomicBool>>,
    ) -> Result<PgProjector, ProjectorError> {
        // Derived data, rebuilt from the journal after a crash (the projected seq commits
        // with the rows): its commits need not wait for the WAL flush, which would compete
        // with the journal's own commits for the disk.
        let connect = opts
            .connect_options(PROJECTOR_APPLICATION_NAME)?
            .options([("synchronous_commit", "off")]);
        let (tx, rx) = bounded::<Chunk>(opts.channel_capacity.max(1));
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let progress = ProjectionProgress::default();
        let give_up = Arc::new(AtomicBool::new(false));
        let worker_progress = progress.clone();
        let worker_give_up = Arc::clone(&give_up);
        let shadow = promote.clone();
        let handle = thread::Builder::new()
            .name("bourse-projector".into())
            .spawn(move || {
                let started = Worker::start(connect, &opts, worker_progress, worker_give_up);
                match started {
                    Ok(mut w) => {
                        let _ = ready_tx.send(Ok(w.projected));
                        if let Some(promote) = shadow
                            && !w.run_shadow(&rx, &promote)
                        {
                            w.stop();
                            return;
                        }
                        w.run(&rx);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .map_err(ProjectorError::Thread)?;
        let projected = match ready_rx.recv() {
            Ok(Ok(seq)) => seq,
            Ok(Err(e)) => {
                let _ = handle.join();
                return Err(e);
            }
            Err(_) => {
                let _ = handle.join();
                return Err(ProjectorError::Config(
                    "the projector thread stopped while starting".to_owned(),
                ));
            }
        };
        progress.0.sent.store(projected.0, Ordering::Release);
        progress.0.committed.store(projected.0, Ordering::Release);
        Ok(PgProjector {
            tx: Some(tx),
            pending: Chunk::default(),
            // Everything from the start: the commands already projected rebuild the
            // projector's working orders.
            last: Seq(0),
            max_chunk: 1024,
            progress,
            give_up,
            promote,
            handle: Some(handle),
        })
    }

    /// How far the projection is, shared.
    #[must_use]
    pub fn progress(&self) -> ProjectionProgress {
        self.progress.clone()
    }

    /// Where the tables were when the projector started (plus what it has committed since):
    /// a rebuild feeds the commands after this.
    #[must_use]
    pub fn committed(&self) -> Seq {
        self.progress.committed()
    }

    /// Buffers one released command; feed every command from seq 1 (those the tables
    /// already hold are folded, not written). A command at or below the last one accepted is
    /// skipped. Sends the buffer on when it is
    /// large; call [`Self::flush`] at the end of each release.
    pub fn apply(&mut self, seq: Seq, ts: UnixNanos, events: &[Tagged]) {
        if seq <= self.last {
            return;
        }
        self.last = seq;
        self.pending.events.extend_from_slice(events);
        self.pending.cmds.push((seq, ts, self.pending.events.len()));
        if self.pending.cmds.len() >= self.max_chunk {
            self.flush();
        }
    }

    /// Hands the buffered commands to the projector's thread, waiting while its channel is
    /// full.
    pub fn flush(&mut self) {
        let Some(&(last, _, _)) = self.pending.cmds.last() else {
            return;
        };
        let chunk = std::mem::take(&mut self.pending);
        let Some(tx) = &self.tx else { return };
        if tx.send(chunk).is_err() {
            // The thread is gone: it stops early only when told to give up (shutdown).
            tracing::error!(
                seq = last.0,
                "read model projector is gone; history stops here"
            );
            return;
        }
        self.progress.0.sent.fetch_max(last.0, Ordering::AcqRel);
    }

    /// Flushes, lets the thread write everything queued, and stops it. A write still
    /// failing `grace` after the call is abandoned (the next start projects it again).
    /// Returns the last committed seq.
    pub fn close(mut self, grace: Duration) -> Seq {
        self.flush();
        drop(self.tx.take());
        let deadline = Instant::now() + grace;
        if let Some(h) = self.handle.take() {
            while !h.is_finished() {
                if Instant::now() >= deadline {
                    self.give_up.store(true, Ordering::Release);
                }
                thread::sleep(Duration::from_millis(2));
            }
            let _ = h.join();
        }
        self.progress.committed()
    }
}

impl Drop for PgProjector {
    /// Hands over what is buffered and lets the thread finish on its own; a write that
    /// cannot succeed is not retried forever.
    fn drop(&mut self) {
        if self.tx.is_some() {
            self.flush();
            drop(self.tx.take());
            self.give_up.store(true, Ordering::Release);
        }
    }
}

/// What one transaction writes.
#[derive(Debug, Default)]
pub(super) struct Rows {
    orders: Vec<OrderState>,
    /// Fills among them: an order's fills are its `FILL` activities.
    activities: Vec<Activity>,
    events: StreamRows,
    pub(super) last_seq: Seq,
}

/// Private-stream events as the `account_events` columns.
#[derive(Debug, Default)]
struct StreamRows {
    account: Vec<i64>,
    aseq: Vec<i64>,
    seq: Vec<i64>,
    ts: Vec<i64>,
    event: Vec<Vec<u8>>,
}

impl StreamRows {
    fn push(&mut self, account: AccountId, t: &Tagged) {
        match bourse_core::codec::encode(&t.event) {
            Ok(bytes) => {
                self.account.push(big(account.get()));
                self.aseq.push(big(t.aseq));
                self.seq.push(big(t.seq.0));
                self.ts.push(big(t.ts.get()));
                self.event.push(bytes);
            }
            // Cannot happen (every event encodes; the journal holds their commands). A page
            // across the missing number is refused, never served with a hole (`History`).
            Err(e) => tracing::error!(
                account = account.get(),
                aseq = t.aseq,
                "read model projector: an event does not encode: {e}"
            ),
        }
    }

    fn is_empty(&self) -> bool {
        self.aseq.is_empty()
    }
}

/// The projector's thread.
pub(super) struct Worker {
    rt: Runtime,
    connect: PgConnectOptions,
    conn: Option<PgConnection>,
    /// Working orders (fills are not kept: they are activity rows of their own).
    open: FxHashMap<OrderId, OrderState>,
    pub(super) projected: Seq,
    max_batch: usize,
    backoff: (Duration, Duration),
    connect_timeout: Duration,
    io_timeout: Duration,
    pub(super) progress: ProjectionProgress,
    give_up: Arc<AtomicBool>,
}

impl Worker {
    fn start(
        connect: PgConnectOptions,
        opts: &PgReadModelOptions,
        progress: ProjectionProgress,
        give_up: Arc<AtomicBool>,
    ) -> Result<Worker, ProjectorError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ProjectorError::Thread)?;
        let mut w = Worker {
            rt,
            connect,
            conn: None,
            open: FxHashMap::default(),
            projected: Seq(0),
            max_batch: opts.max_batch.max(1),
            backoff: opts.backoff,
            connect_timeout: opts.connect_timeout,
            io_timeout: opts.io_timeout,
            progress,
            give_up,
        };
        let (conn, last) = w.rt.block_on(async {
            let mut conn =
                tokio::time::timeout(w.connect_timeout, PgConnection::connect_with(&w.connect))
                    .await
                    .map_err(|_| ProjectorError::Database {
                        what: "connect",
                        source: timed_out("connecting"),
                    })?
                    .map_err(|source| ProjectorError::Database {
                        what: "connect",
                        source,
                    })?;
            let last: i64 = sqlx::query_scalar("SELECT last_seq FROM read_model_state")
                .fetch_one(&mut conn)
                .await
                .map_err(|source| ProjectorError::Database {
                    what: "read read_model_state (are the migrations applied? \
                           PgJournal::open applies them)",
                    source,
                })?;
            Ok::<_, ProjectorError>((conn, last))
        })?;
        w.conn = Some(conn);
        w.projected = Seq(u64::try_from(last).unwrap_or(0));
        Ok(w)
    }

    fn run(&mut self, rx: &Receiver<Chunk>) {
        while let Ok(first) = rx.recv() {
            let mut n = first.cmds.len();
            let mut chunks = vec![first];
            while n < self.max_batch {
                match rx.try_recv() {
                    Ok(c) => {
                        n += c.cmds.len();
                        chunks.push(c);
                    }
                    Err(_) => break,
                }
            }
            let Some(rows) = self.fold(&chunks) else {
                continue;
            };
            if !self.write(&rows) {
                tracing::error!(
                    committed = self.progress.committed().0,
                    "read model projector gave up during shutdown; the next start projects the rest"
                );
                break;
            }
            self.progress.commit(rows.last_seq);
        }
        self.stop();
    }

    /// Marks the projection stopped and closes the connection.
    pub(super) fn stop(&mut self) {
        self.progress.0.stopped.store(true, Ordering::Release);
        self.progress.wake();
        if let Some(conn) = self.conn.take() {
            self.rt.block_on(async {
                let _ = tokio::time::timeout(Duration::from_secs(2), conn.close()).await;
            });
        }
    }

    /// How far the tables are (`read_model_state.last_seq`), retried like a write; `None`
    /// if told to give up.
    pub(super) fn tables_at(&mut self) -> Option<Seq> {
        self.retry("read read_model_state", async |conn| {
            sqlx::query_scalar::<_, i64>("SELECT last_seq FROM read_model_state")
                .fetch_one(&mut *conn)
                .await
        })
        .map(|v| Seq(u64::try_from(v).unwrap_or(0)))
    }

    /// Folds `chunks` into the working orders, and the commands not yet projected into
    /// rows; `None` if there were none.
    pub(super) fn fold(&mut self, chunks: &[Chunk]) -> Option<Rows> {
        let after = self.projected;
        let mut rows = Rows::default();
        let mut touched: Vec<OrderId> = Vec::new();
        for (seq, ts, events) in chunks.iter().flat_map(Chunk::commands) {
            // Already in the tables: only the working orders' state is wanted.
            let write = seq > after;
            for (idx, t) in events.iter().enumerate() {
                let e = &t.event;
                if let Some(o) = OrderState::accepted(seq, ts, e) {
                    touched.push(o.id);
                    self.open.insert(o.id, o);
                }
                if let Event::OrderTriggered { order_id, .. }
                | Event::OrderLinked { order_id, .. }
                | Event::OrderActivated { order_id, .. }
                | Event::OrderStopMoved { order_id, .. }
                | Event::OrderFilled { order_id, .. }
                | Event::OrderCanceled { order_id, .. }
                | Event::OrderReplaced { order_id, .. } = *e
                {
                    match self.open.get_mut(&order_id) {
                        Some(o) => {
                            if o.apply(seq, ts, e) {
                                touched.push(order_id);
                            }
                            // Written as the fill's activity (below), not kept here.
                            o.fills.clear();
                        }
                        None => tracing::warn!(
                            order = order_id.get(),
                            seq = seq.0,
                            "read model projector: event for an unknown order"
                        ),
                    }
                }
                let idx = u32::try_from(idx).unwrap_or(u32::MAX);
                if write && let Some(a) = Activity::from_event(seq, ts, idx, e) {
                    rows.activities.push(a);
                }
                // Numbered 0: an account the engine does not know, on no stream.
                if write
                    && t.aseq != 0
                    && let Some(account) = e.stream_account()
                {
                    rows.events.push(account, t);
                }
            }
            if write {
                rows.last_seq = seq;
            }
        }
        // Orders that ended in this batch leave the working set; those that ended in a
        // written command get their one row.
        for id in touched {
            if let Entry::Occupied(e) = self.open.entry(id)
                && !e.get().status.is_open()
            {
                let o = e.remove();
                if o.seq > after {
                    rows.orders.push(o);
                }
            }
        }
        if rows.last_seq == Seq(0) {
            return None;
        }
        self.projected = rows.last_seq;
        Some(rows)
    }

    /// Writes `rows` in one transaction, retrying on a new connection until it succeeds.
    /// False only if told to give up while failing.
    pub(super) fn write(&mut self, rows: &Rows) -> bool {
        let mut keep_existing = false;
        self.retry("write", async |conn| {
            match write_rows(conn, rows, keep_existing).await {
                // Rows already there: the tables were not emptied when the projection's
                // position was reset. They are the same rows: keep them and go on.
                Err(e) if !keep_existing && is_unique_violation(&e) => {
                    tracing::warn!(
                        seq = rows.last_seq.0,
                        "read model projector: rows already present; keeping them"
                    );
                    keep_existing = true;
                    write_rows(conn, rows, true).await
                }
                r => r,
            }
        })
        .is_some()
    }

    /// Runs `op` until it succeeds, reconnecting and backing off in between; `None` if told
    /// to give up while failing.
    fn retry<T>(
        &mut self,
        what: &'static str,
        mut op: impl AsyncFnMut(&mut PgConnection) -> Result<T, sqlx::Error>,
    ) -> Option<T> {
        let mut pause = self.backoff.0;
        loop {
            let Worker {
                rt,
                connect,
                conn,
                connect_timeout,
                io_timeout,
                ..
            } = self;
            let result = rt.block_on(async {
                if conn.is_none() {
                    let c =
                        tokio::time::timeout(*connect_timeout, PgConnection::connect_with(connect))
                            .await
                            .map_err(|_| timed_out("connecting"))??;
                    *conn = Some(c);
                }
                let c = conn.as_mut().ok_or(sqlx::Error::PoolClosed)?;
                tokio::time::timeout(*io_timeout, op(c))
                    .await
                    .map_err(|_| timed_out(what))?
            });
            match result {
                Ok(v) => {
                    if self.progress.0.failing.swap(false, Ordering::AcqRel) {
                        tracing::info!("read model projector: database back");
                    }
                    return Some(v);
                }
                Err(e) => {
                    self.conn = None;
                    self.progress.0.retries.fetch_add(1, Ordering::Relaxed);
                    if !self.progress.0.failing.swap(true, Ordering::AcqRel) {
                        tracing::warn!("read model projector: {what} failed: {e}; retrying");
                    }
                    if self.give_up.load(Ordering::Acquire) {
                        return None;
                    }
                    thread::sleep(pause);
                    pause = (pause * 2).min(self.backoff.1);
                }
            }
        }
    }
}

pub(super) fn timed_out(what: &str) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("{what} timed out"),
    ))
}

/// `u64` to `BIGINT`. Ids, quantities and times beyond `i64::MAX` cannot occur (the engine
/// would have refused them long before); saturate rather than fail a whole batch.
pub(super) fn big(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) const ORDER_COLUMNS: &str = "id, account, client_order_id, symbol, side, order_type, \
    time_in_force, qty, limit_price, stop_price, status, filled_qty, leaves_qty, \
    cum_notional, cancel_reason, created_at, updated_at, seq, trail_price, trail_bps, hwm, \
    order_class, class_id, leg, notional, extended_hours";

pub(super) const FILL_COLUMNS: &str = "order_id, trade_id, price, qty, fee, liquidity, ts, seq";

pub(super) const ACTIVITY_COLUMNS: &str = "seq, idx, account, activity_type, ts, symbol, side, order_id, \
    trade_id, price, qty, fee, liquidity, cum_qty, leaves_qty, net_amount, balance, \
    position_qty";

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "23505")
}

/// Writes one batch in one transaction. Each row is new (see the module docs);
/// `keep_existing` tolerates rows already there.
async fn write_rows(
    conn: &mut PgConnection,
    rows: &Rows,
    keep_existing: bool,
) -> Result<(), sqlx::Error> {
    let tail = if keep_existing {
        " ON CONFLICT DO NOTHING"
    } else {
        ""
    };
    let last = big(rows.last_seq.0);
    let mut tx = conn.begin().await?;
    // The row lock orders concurrent projectors (there should be one) and tells whether
    // this batch is already in (its answer was lost, or it was fed again).
    let done: i64 = sqlx::query_scalar("SELECT last_seq FROM read_model_state FOR UPDATE")
        .fetch_one(&mut *tx)
        .await?;
    if done >= last {
        return tx.commit().await;
    }
    if !rows.orders.is_empty() {
        insert_orders(&mut tx, &rows.orders, tail).await?;
    }
    if !rows.activities.is_empty() {
        insert_activities(&mut tx, &rows.activities, tail).await?;
    }
    if !rows.events.is_empty() {
        insert_events(&mut tx, &rows.events, tail).await?;
    }
    sqlx::query("UPDATE read_model_state SET last_seq = $1 WHERE last_seq < $1")
        .bind(last)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Ended orders: each is written once (see the module docs), so a plain insert.
async fn insert_orders(
    conn: &mut PgConnection,
    orders: &[OrderState],
    tail: &str,
) -> Result<(), sqlx::Error> {
    let n = orders.len();
    let mut id = Vec::with_capacity(n);
    let mut account = Vec::with_capacity(n);
    let mut client = Vec::with_capacity(n);
    let mut symbol = Vec::with_capacity(n);
    let mut side = Vec::with_capacity(n);
    let mut otype = Vec::with_capacity(n);
    let mut tif = Vec::with_capacity(n);
    let mut qty = Vec::with_capacity(n);
    let mut limit = Vec::with_capacity(n);
    let mut stop = Vec::with_capacity(n);
    let mut status = Vec::with_capacity(n);
    let mut filled = Vec::with_capacity(n);
    let mut leaves = Vec::with_capacity(n);
    let mut notional = Vec::with_capacity(n);
    let mut reason = Vec::with_capacity(n);
    let mut created = Vec::with_capacity(n);
    let mut updated = Vec::with_capacity(n);
    let mut seq = Vec::with_capacity(n);
    let mut trail_price: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut trail_bps: Vec<Option<i32>> = Vec::with_capacity(n);
    let mut hwm: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut class: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut class_id: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut leg: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut amount: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut extended: Vec<bool> = Vec::with_capacity(n);
    for o in orders {
        class.push(o.class.map(|(c, _, _)| c.as_str()));
        class_id.push(o.class.map(|(_, g, _)| big(g.get())));
        leg.push(o.class.map(|(_, _, l)| l.as_str()));
        trail_price.push(match o.trail {
            Some(Trail::Price(p)) => Some(p.raw()),
            _ => None,
        });
        trail_bps.push(match o.trail {
            Some(Trail::Bps(b)) => i32::try_from(b).ok(),
            _ => None,
        });
        hwm.push(o.hwm.map(Price::raw));
        id.push(big(o.id.get()));
        account.push(big(o.account.get()));
        client.push(o.client_order_id.map(|c| c.as_str().to_owned()));
        symbol.push(o.symbol.as_str().to_owned());
        side.push(o.side.as_str());
        otype.push(order_type_str(o.order_type));
        tif.push(tif_str(o.tif));
        qty.push(big(o.qty.raw()));
        limit.push(o.limit_price.map(Price::raw));
        stop.push(o.stop_price.map(Price::raw));
        status.push(o.status.as_str());
        filled.push(big(o.filled_qty.raw()));
        leaves.push(big(o.leaves_qty.raw()));
        notional.push(o.cum_notional.raw());
        amount.push(o.notional.map(Cash::raw));
        extended.push(o.extended_hours);
        reason.push(o.cancel_reason.map(CancelReason::code));
        created.push(big(o.created_at.get()));
        updated.push(big(o.updated_at.get()));
        seq.push(big(o.seq.0));
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO orders (id, account, client_order_id, symbol, side, order_type, \
            time_in_force, qty, limit_price, stop_price, status, filled_qty, leaves_qty, \
            cum_notional, cancel_reason, created_at, updated_at, seq, trail_price, trail_bps, \
            hwm, order_class, class_id, leg, notional, extended_hours) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], \
            $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::text[], \
            $12::bigint[], $13::bigint[], $14::bigint[], $15::text[], $16::bigint[], \
            $17::bigint[], $18::bigint[], $19::bigint[], $20::integer[], $21::bigint[], \
            $22::text[], $23::bigint[], $24::text[], $25::bigint[], $26::boolean[]){tail}"
    )))
    .bind(&id)
    .bind(&account)
    .bind(&client)
    .bind(&symbol)
    .bind(&side)
    .bind(&otype)
    .bind(&tif)
    .bind(&qty)
    .bind(&limit)
    .bind(&stop)
    .bind(&status)
    .bind(&filled)
    .bind(&leaves)
    .bind(&notional)
    .bind(&reason)
    .bind(&created)
    .bind(&updated)
    .bind(&seq)
    .bind(&trail_price)
    .bind(&trail_bps)
    .bind(&hwm)
    .bind(&class)
    .bind(&class_id)
    .bind(&leg)
    .bind(&amount)
    .bind(&extended)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn insert_activities(
    conn: &mut PgConnection,
    acts: &[Activity],
    tail: &str,
) -> Result<(), sqlx::Error> {
    let n = acts.len();
    let mut seq = Vec::with_capacity(n);
    let mut idx = Vec::with_capacity(n);
    let mut account = Vec::with_capacity(n);
    let mut kind = Vec::with_capacity(n);
    let mut ts = Vec::with_capacity(n);
    let mut symbol: Vec<Option<String>> = Vec::with_capacity(n);
    let mut side: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut order: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut trade: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut price: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut qty: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut fee: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut liquidity: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut cum: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut leaves: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut net: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut balance: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut position: Vec<Option<i64>> = Vec::with_capacity(n);
    for a in acts {
        let v = a.view();
        seq.push(big(a.id.seq));
        idx.push(i32::try_from(a.id.idx).unwrap_or(i32::MAX));
        account.push(big(a.account.get()));
        kind.push(a.activity_type().as_str());
        ts.push(big(a.ts.get()));
        symbol.push(v.symbol.map(|s| s.as_str().to_owned()));
        side.push(v.side.map(Side::as_str));
        order.push(v.order_id.map(|o| big(o.get())));
        trade.push(v.trade_id.map(|t| big(t.get())));
        price.push(v.price.map(Price::raw));
        qty.push(v.qty.map(|q| big(q.raw())));
        fee.push(v.fee.map(Cash::raw));
        liquidity.push(v.liquidity);
        cum.push(v.cum_qty.map(|q| big(q.raw())));
        leaves.push(v.leaves_qty.map(|q| big(q.raw())));
        net.push(v.net_amount.map(Cash::raw));
        balance.push(v.balance.map(Cash::raw));
        position.push(v.position_qty.map(|q| big(q.raw())));
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO activities (seq, idx, account, activity_type, ts, symbol, side, order_id, \
            trade_id, price, qty, fee, liquidity, cum_qty, leaves_qty, net_amount, balance, \
            position_qty) \
         SELECT * FROM UNNEST($1::bigint[], $2::integer[], $3::bigint[], $4::text[], \
            $5::bigint[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], \
            $11::bigint[], $12::bigint[], $13::text[], $14::bigint[], $15::bigint[], \
            $16::bigint[], $17::bigint[], $18::bigint[]){tail}"
    )))
    .bind(&seq)
    .bind(&idx)
    .bind(&account)
    .bind(&kind)
    .bind(&ts)
    .bind(&symbol)
    .bind(&side)
    .bind(&order)
    .bind(&trade)
    .bind(&price)
    .bind(&qty)
    .bind(&fee)
    .bind(&liquidity)
    .bind(&cum)
    .bind(&leaves)
    .bind(&net)
    .bind(&balance)
    .bind(&position)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn insert_events(
    conn: &mut PgConnection,
    rows: &StreamRows,
    tail: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO account_events (account, aseq, seq, ts, event) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], \
            $5::bytea[]){tail}"
    )))
    .bind(&rows.account)
    .bind(&rows.aseq)
    .bind(&rows.seq)
    .bind(&rows.ts)
    .bind(&rows.event)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

// ---- codes ----------------------------------------------------------------------------

const fn order_type_str(t: OrderType) -> &'static str {
    match t {
        OrderType::Limit => "limit",
        OrderType::Market => "market",
        OrderType::Stop => "stop",
        OrderType::StopLimit => "stop_limit",
        OrderType::TrailingStop => "trailing_stop",
    }
}

pub(super) fn parse_order_type(s: &str) -> Option<OrderType> {
    [
        OrderType::Limit,
        OrderType::Market,
        OrderType::Stop,
        OrderType::StopLimit,
        OrderType::TrailingStop,
    ]
    .into_iter()
    .find(|t| order_type_str(*t) == s)
}

const fn tif_str(t: TimeInForce) -> &'static str {
    match t {
        TimeInForce::Gtc => "gtc",
        TimeInForce::Day => "day",
        TimeInForce::Ioc => "ioc",
        TimeInForce::Fok => "fok",
        TimeInForce::Opg => "opg",
        TimeInForce::Cls => "cls",
    }
}

pub(super) fn parse_tif(s: &str) -> Option<TimeInForce> {
    [
        TimeInForce::Gtc,
        TimeInForce::Day,
        TimeInForce::Ioc,
        TimeInForce::Fok,
        TimeInForce::Opg,
        TimeInForce::Cls,
    ]
    .into_iter()
    .find(|t| tif_str(*t) == s)
}

pub(super) fn parse_side(s: &str) -> Option<Side> {
    [Side::Buy, Side::Sell]
        .into_iter()
        .find(|x| x.as_str() == s)
}

pub(super) fn parse_cancel_reason(s: &str) -> Option<CancelReason> {
    CancelReason::from_code(s)
}

pub(super) fn parse_liquidity(s: &str) -> Option<Liquidity> {
    [Liquidity::Maker, Liquidity::Taker]
        .into_iter()
        .find(|l| crate::orders::liquidity_str(*l) == s)
}
