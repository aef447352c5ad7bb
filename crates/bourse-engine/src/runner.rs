//! The engine runner: the one thread that owns the [`Engine`] while the exchange is live.
//!
//! ```text
//!  producers ──submit──▶ inbound ArrayQueue ──▶ engine thread ──▶ journal channel (JournalBatch) ──▶ journal writer
//!  (gateway tasks)       (bounded, lock-free)   seq + ts, apply └─▶ events channel  (EventBatch)   ──▶ publisher
//!                                                     ▲                                                  │
//!                                                     └──────── spare channels: emptied batches ◀────────┘
//! ```
//!
//! Owns: the engine thread (pinned to a core when the config names one), the sequencer (the
//! gap-free `seq`, starting after [`RunnerConfig::last_seq`], and the non-decreasing timestamp
//! from the injected [`Clock`]), the bounded queues, the wait strategy, the drain on
//! shutdown, and the histogram of the time each command spends in [`Engine::apply`]
//! ([`RunnerHandle::apply_latency`]: two clock reads and two relaxed stores per command).
//! Everything after the queues (journaling, gating events on durability, fan-out) belongs
//! to the consumers of [`Outputs`].
//!
//! Must never: block a producer ([`RunnerHandle::submit`] answers [`SubmitError::Overloaded`]
//! when the inbound queue is full); drop, reorder or duplicate anything it has sequenced (a
//! full outbound queue makes the engine wait); take a lock, do I/O or allocate per command on
//! the engine thread's hot path; let an accepted command go unprocessed on a clean shutdown;
//! hand on state it could not journal (a vanished consumer stops it: fail-stop).
//!
//! Queues:
//! - inbound: `crossbeam_queue::ArrayQueue`, bounded and lock-free for many producers. A
//!   submit is a push plus two uncontended atomic operations; the engine's idle behaviour is
//!   ours ([`WaitStrategy`]).
//! - outbound: bounded `crossbeam_channel`s of batches (see [`Outputs`] for why batches), with
//!   a spare channel each that brings emptied batches back. Their non-blocking paths, the only
//!   ones the engine uses while it has room, are lock-free; their blocking `recv` gives the
//!   journal writer and the publisher the usual API (timeouts, `select!`). Waking a consumer
//!   that sleeps in `recv` takes the channel's internal mutex for a moment: that happens only
//!   when the consumer has run dry, never while it keeps up.
//!
//! Wake-ups without loss: a sleeping engine first sets `sleeping`, then looks at the queue
//! once more before it parks; a producer pushes, then (after a sequentially consistent
//! read-modify-write) looks at `sleeping` and unparks the engine if it is set. With both sides
//! sequentially consistent, at least one of them sees the other, and `Thread::unpark` before
//! `park` is remembered, so a command never sits in the queue of a sleeping engine.
//!
//! Shutdown without loss: a submit counts itself in (`intake`) before it pushes and out after.
//! Closing sets a flag in the same word; the engine stops only when it sees the flag with no
//! submit in flight and the queue empty, so every submit that returned `Ok` is processed.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bourse_core::profile::Profile;
use bourse_core::{AccountId, Command, Event, Seq, Sequenced, Tagged, UnixNanos};
use crossbeam_channel::{
    Receiver, RecvError, RecvTimeoutError, Sender, TryRecvError, TrySendError, bounded,
};
use crossbeam_queue::ArrayQueue;
use crossbeam_utils::{Backoff, CachePadded};

use crate::histogram::{AtomicHistogram, HistogramSnapshot};
use crate::{Engine, Snapshot};

/// Where the sequencer's timestamps come from. Called on the engine thread, at most once per
/// command (see [`RunnerConfig::clock_every`]); tests pass a counter so runs are reproducible.
pub type Clock = Box<dyn FnMut() -> UnixNanos + Send>;

/// Wall-clock time in nanoseconds since the Unix epoch, read as the wall clock at creation
/// plus the monotonic time elapsed since: it never steps backwards when NTP steps the wall
/// clock, and it costs one `clock_gettime` (about 35 ns on the bench VM, against 48 ns for
/// `SystemTime::now()` and its conversion).
#[must_use]
pub fn system_clock() -> Clock {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    let wall = wall.as_secs() * 1_000_000_000 + u64::from(wall.subsec_nanos());
    let start = Instant::now();
    Box::new(move || {
        let d = start.elapsed();
        UnixNanos::new(wall + d.as_secs() * 1_000_000_000 + u64::from(d.subsec_nanos()))
    })
}

/// What the engine thread does while it has nothing to do (inbound queue empty) or cannot
/// go on (an outbound queue full).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Poll without pause. Lowest wake-up latency, but the thread burns its core even when
    /// idle: only for an engine pinned to a core nothing else needs.
    BusySpin,
    /// Poll for `spin`, then give the CPU away (`yield_now`) between polls. Never sleeps, so
    /// never needs waking, but still shows as 100% CPU.
    SpinThenYield { spin: Duration },
    /// Poll for `spin`, then park until a producer's submit unparks the thread (or, for a
    /// full outbound queue, until the consumer takes something). Idle costs nothing; the
    /// first command after a sleep pays the wake-up (a futex and, on a VM whose other vCPU
    /// sat idle, an inter-processor interrupt: about 20 µs on the bench VM).
    SpinThenPark { spin: Duration },
}

impl Default for WaitStrategy {
    /// Spin 50 µs, then park: on a machine with few cores an idle engine must not starve
    /// the gateway and the journal writer.
    fn default() -> Self {
        WaitStrategy::SpinThenPark {
            spin: Duration::from_micros(50),
        }
    }
}

impl fmt::Display for WaitStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitStrategy::BusySpin => f.write_str("busy-spin"),
            WaitStrategy::SpinThenYield { spin } => write!(f, "spin {spin:?} then yield"),
            WaitStrategy::SpinThenPark { spin } => write!(f, "spin {spin:?} then park"),
        }
    }
}

/// The submitter's own tag for a command, echoed with its events in [`EventBatch`] so the
/// publisher can hand the outcome to whoever is waiting for it (a gateway request). Not
/// journaled and never seen by the engine: replay needs no tickets. [`Ticket::NONE`] marks
/// a command nobody waits for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ticket(pub u64);

impl Ticket {
    pub const NONE: Ticket = Ticket(0);
}

/// How to run the engine.
pub struct RunnerConfig {
    /// Core to pin the engine thread to (an index as `core_affinity` numbers them). `None`
    /// leaves placement to the OS; a core that does not exist or may not be used leaves the
    /// thread unpinned, which [`RunnerStatus::pinned`] reports.
    pub core: Option<usize>,
    pub wait: WaitStrategy,
    /// Commands waiting for the engine. When full, submits fail with `Overloaded`. The
    /// default, 16,384, is about 6 ms of work at full speed: deep enough for bursts, shallow
    /// enough that an overloaded exchange answers 503 instead of queueing for long.
    pub inbound_capacity: usize,
    /// Batches waiting for the journal writer (one command each at low load, up to
    /// `max_batch` under load).
    pub journal_capacity: usize,
    /// Batches waiting for the publisher.
    pub events_capacity: usize,
    /// Most commands the engine takes in one batch before it hands the batch on: bounds the
    /// delay a command can suffer behind the rest of its batch (a few µs per 10 commands).
    pub max_batch: usize,
    /// The last seq already used; the first command gets the next one. `None` (the usual
    /// case) continues from [`Engine::last_seq`], i.e. after a recovery's last replayed
    /// command. A value below it is refused: a seq is never used twice.
    pub last_seq: Option<Seq>,
    pub clock: Clock,
    /// Read the clock for the first command of each batch and then for every
    /// `clock_every`-th; the commands in between share the last reading. 1 stamps every
    /// command afresh. A clock read costs 35–80 ns on the bench VM, a sixth of a command's
    /// budget at full load; at 16 a timestamp is at most 15 commands (a few µs) stale under
    /// load and exact when the engine is not busy (batches of one).
    pub clock_every: usize,
    /// Take a snapshot of the engine after every this many commands (at the end of the
    /// batch that reaches it) and hand it to the journal writer with that batch. `None`:
    /// only on request ([`RunnerHandle::request_snapshot`]).
    pub snapshot_every: Option<u64>,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            core: None,
            wait: WaitStrategy::default(),
            inbound_capacity: 16_384,
            journal_capacity: 1_024,
            events_capacity: 1_024,
            max_batch: 256,
            last_seq: None,
            clock: system_clock(),
            clock_every: 16,
            snapshot_every: None,
        }
    }
}

impl fmt::Debug for RunnerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunnerConfig")
            .field("core", &self.core)
            .field("wait", &self.wait)
            .field("inbound_capacity", &self.inbound_capacity)
            .field("journal_capacity", &self.journal_capacity)
            .field("events_capacity", &self.events_capacity)
            .field("max_batch", &self.max_batch)
            .field("last_seq", &self.last_seq)
            .field("clock_every", &self.clock_every)
            .field("snapshot_every", &self.snapshot_every)
            .finish_non_exhaustive()
    }
}

/// The commands of one engine batch (consecutive seqs, in order), for the journal writer.
///
/// A batch is what the engine took from its inbound queue in one go (at most
/// [`RunnerConfig::max_batch`]): its last entry is the LMAX "end of batch", the natural
/// moment for a group commit. A writer that falls behind may take several batches from its
/// queue and commit them together.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct JournalBatch {
    entries: Vec<Sequenced>,
    /// The engine's state after the batch's last command (or, in a batch with no commands,
    /// after the last command of the batches before it), when a snapshot was due.
    snapshot: Option<Box<Snapshot>>,
}

impl JournalBatch {
    fn with_capacity(commands: usize) -> Self {
        Self {
            entries: Vec::with_capacity(commands),
            snapshot: None,
        }
    }

    /// The snapshot that travels with this batch: store it once everything up to its seq is
    /// durable (never before, or recovery could start from state the journal lacks).
    pub fn take_snapshot(&mut self) -> Option<Box<Snapshot>> {
        self.snapshot.take()
    }

    #[must_use]
    pub fn has_snapshot(&self) -> bool {
        self.snapshot.is_some()
    }

    /// The sequenced commands, in seq order.
    #[must_use]
    pub fn entries(&self) -> &[Sequenced] {
        &self.entries
    }

    /// Moves the commands out (the batch keeps its capacity for recycling).
    pub fn drain(&mut self) -> impl ExactSizeIterator<Item = Sequenced> + '_ {
        self.entries.drain(..)
    }

    /// Empties the batch, keeping its capacity.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.snapshot = None;
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[must_use]
    pub fn first_seq(&self) -> Option<Seq> {
        self.entries.first().map(|e| e.seq)
    }

    /// The end of the batch.
    #[must_use]
    pub fn last_seq(&self) -> Option<Seq> {
        self.entries.last().map(|e| e.seq)
    }
}

/// The events of one engine batch (the same commands as its [`JournalBatch`]), for the
/// publisher. Commands that caused no event are listed too, so the publisher can advance
/// past every seq.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EventBatch {
    events: Vec<Tagged>,
    /// Per command: its seq, its timestamp, its ticket and the end of its events in `events`.
    commands: Vec<(Seq, UnixNanos, Ticket, usize)>,
    /// The profile after each [`Event::ProfileChanged`](bourse_core::Event::ProfileChanged)
    /// (in event order): what does not fit a `Copy` event, for the mirrors of it.
    profiles: Vec<(Seq, AccountId, Arc<Profile>)>,
}

/// One command's outcome in an [`EventBatch`].
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    pub seq: Seq,
    pub ts: UnixNanos,
    /// What the submitter tagged the command with.
    pub ticket: Ticket,
    /// The events the command caused, in order (possibly none).
    pub events: &'a [Tagged],
}

impl EventBatch {
    fn with_capacity(commands: usize) -> Self {
        Self {
            events: Vec::with_capacity(commands * 4),
            commands: Vec::with_capacity(commands),
            profiles: Vec::new(),
        }
    }

    /// An empty batch for outcomes that come from elsewhere than a runner: a standby
    /// applies the journal to its own engine and releases what it got the same way.
    #[must_use]
    pub fn replayed(commands: usize) -> Self {
        Self::with_capacity(commands)
    }

    /// Adds one command's outcome, as [`Engine::tag`](crate::Engine::tag) numbered it;
    /// nobody waits for it ([`Ticket::NONE`]).
    pub fn push_replayed(
        &mut self,
        seq: Seq,
        ts: UnixNanos,
        events: impl IntoIterator<Item = Tagged>,
    ) {
        self.events.extend(events);
        self.commands
            .push((seq, ts, Ticket::NONE, self.events.len()));
    }

    /// Adds a replayed command's changed profile (see [`EventBatch::profiles`]).
    pub fn push_profile(&mut self, seq: Seq, account: AccountId, profile: Arc<Profile>) {
        self.profiles.push((seq, account, profile));
    }

    /// Each profile the batch's commands changed, as it is after the command, in order.
    #[must_use]
    pub fn profiles(&self) -> &[(Seq, AccountId, Arc<Profile>)] {
        &self.profiles
    }

    /// Moves one command's events in, numbered by `numbers` (the engine's
    /// [`Engine::stream_numbers`](crate::Engine::stream_numbers) for them).
    fn push(
        &mut self,
        seq: Seq,
        ts: UnixNanos,
        ticket: Ticket,
        out: &mut Vec<Event>,
        numbers: &[u64],
    ) {
        self.events.extend(
            out.drain(..)
                .zip(numbers.iter().copied().chain(std::iter::repeat(0)))
                .map(|(event, aseq)| Tagged {
                    seq,
                    ts,
                    event,
                    aseq,
                }),
        );
        self.commands.push((seq, ts, ticket, self.events.len()));
    }

    /// Empties the batch, keeping its capacity up to what it was made with (four events per
    /// command). A batch that needed more gives the excess back: recycled batches that kept
    /// every high-water mark made a long run's memory creep up for tens of millions of
    /// commands (heaptrack: 124 MB of grown event buffers after 4 M orders).
    pub fn clear(&mut self) {
        self.events.clear();
        self.commands.clear();
        self.profiles.clear();
        let normal = self.commands.capacity().saturating_mul(4);
        if self.events.capacity() > normal {
            self.events.shrink_to(normal);
        }
    }

    /// Number of commands.
    #[must_use]
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    #[must_use]
    pub fn first_seq(&self) -> Option<Seq> {
        self.commands.first().map(|c| c.0)
    }

    #[must_use]
    pub fn last_seq(&self) -> Option<Seq> {
        self.commands.last().map(|c| c.0)
    }

    /// Every event of the batch, in order.
    #[must_use]
    pub fn events(&self) -> &[Tagged] {
        &self.events
    }

    /// Each command's outcome, in seq order.
    pub fn commands(&self) -> impl ExactSizeIterator<Item = Outcome<'_>> + '_ {
        let mut start = 0;
        self.commands.iter().map(move |&(seq, ts, ticket, end)| {
            let events = &self.events[start..end];
            start = end;
            Outcome {
                seq,
                ts,
                ticket,
                events,
            }
        })
    }
}

/// A consumer's end of one outbound queue, with the way back for emptied batches.
macro_rules! batch_receiver {
    ($(#[$doc:meta])* $name:ident, $batch:ty) => {
        $(#[$doc])*
        ///
        /// Read until it reports disconnection: that means the engine has stopped and every
        /// batch it produced has been received.
        #[derive(Debug)]
        pub struct $name {
            rx: Receiver<$batch>,
            spare: Sender<$batch>,
        }

        impl $name {
            /// Blocks until a batch arrives; fails once the engine has stopped and the
            /// queue is empty.
            pub fn recv(&self) -> Result<$batch, RecvError> {
                self.rx.recv()
            }

            pub fn try_recv(&self) -> Result<$batch, TryRecvError> {
                self.rx.try_recv()
            }

            pub fn recv_timeout(&self, timeout: Duration) -> Result<$batch, RecvTimeoutError> {
                self.rx.recv_timeout(timeout)
            }

            /// The underlying channel, for `crossbeam_channel::select!`.
            #[must_use]
            pub fn receiver(&self) -> &Receiver<$batch> {
                &self.rx
            }

            /// Hands a read batch back to the engine for reuse. Optional: a batch that is
            /// simply dropped costs the engine one allocation later.
            pub fn recycle(&self, mut batch: $batch) {
                batch.clear();
                // A full spare queue means there are batches enough already.
                let _ = self.spare.try_send(batch);
            }
        }
    };
}

batch_receiver!(
    /// The journal writer's end of the journal queue.
    JournalReceiver,
    JournalBatch
);
batch_receiver!(
    /// The publisher's end of the events queue.
    EventReceiver,
    EventBatch
);

/// What the engine hands on: for each engine batch, one [`JournalBatch`] and then one
/// [`EventBatch`] over the same seqs.
///
/// Why batches, and not one queue item per command or per event: every hand-off through a
/// queue between cores moves the queue's index and the slot between caches (a cache-line
/// round trip between the two cores of the bench VM measured 73–96 ns), and profiles of a
/// per-command journal queue showed the engine thread spending most of its time there. One
/// hand-off per batch amortizes it; at low load a batch is one command, so nothing waits for
/// company. Emptied batches come back through `recycle` with their capacity, so in the
/// steady state the engine allocates nothing to hand work on.
///
/// Consumers must keep reading until their queue disconnects, or a full queue stalls the
/// engine (and a shutdown waits for them).
#[derive(Debug)]
pub struct Outputs {
    pub journal: JournalReceiver,
    pub events: EventReceiver,
}

/// Why a command was not taken. The command comes back so the caller can retry or answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The inbound queue is full: answer the client `503 overloaded`.
    #[error("the engine's inbound queue is full")]
    Overloaded(Command),
    /// The runner is shutting down or has stopped.
    #[error("the engine is not accepting commands")]
    Closed(Command),
}

impl SubmitError {
    #[must_use]
    pub fn into_command(self) -> Command {
        match self {
            SubmitError::Overloaded(c) | SubmitError::Closed(c) => c,
        }
    }
}

/// Which outbound queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Journal,
    Events,
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Output::Journal => "journal",
            Output::Events => "events",
        })
    }
}

/// Why the runner could not start or did not stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("invalid runner config: {0}")]
    Config(&'static str),
    #[error("could not start the engine thread: {0}")]
    Spawn(#[from] std::io::Error),
    #[error("the engine thread panicked")]
    Panicked,
    /// A consumer dropped its receiver. The engine stopped at once (fail-stop): it had
    /// applied `last_seq` but could not hand it on, so its state is not returned, lest it be
    /// snapshotted past what the journal holds.
    #[error("the {queue} consumer went away; the engine stopped at seq {}", .last_seq.0)]
    ConsumerGone { queue: Output, last_seq: Seq },
}

/// The runner's state as the caller sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunnerStatus {
    /// The engine thread is pinned to `core`.
    pub pinned: bool,
    pub core: Option<usize>,
    pub wait: WaitStrategy,
    /// Accepting and processing commands.
    pub running: bool,
    /// The last seq applied and handed to both outbound queues.
    pub last_seq: Seq,
    /// Commands waiting in the inbound queue now.
    pub queued: usize,
    /// Submits refused because the inbound queue was full.
    pub overloaded: u64,
    /// Engine batches processed.
    pub batches: u64,
    /// Times the engine found an outbound queue full and had to wait.
    pub stalls: u64,
    /// Journal and event batches the engine ever allocated (stays flat while consumers
    /// recycle them).
    pub batches_allocated: u64,
}

/// Upper bounds, in nanoseconds, of the buckets of the engine's apply-time histogram
/// ([`RunnerHandle::apply_latency`]): 100 ns to 1 ms, then everything longer.
pub static APPLY_NS_BOUNDS: [u64; 12] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
];

/// Bits of [`Shared::intake`]: the closed flag and the number of submits in progress.
const CLOSED: u64 = 1 << 63;

/// Counters the engine thread publishes once per batch (single writer).
#[derive(Debug, Default)]
struct EngineCounters {
    last_seq: AtomicU64,
    batches: AtomicU64,
    stalls: AtomicU64,
    allocated: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    inbound: ArrayQueue<(Command, Ticket)>,
    /// A snapshot was asked for; the engine takes it at its next batch boundary.
    snapshot_requested: AtomicBool,
    /// `CLOSED` | submits in progress. A submit enters (+1) before pushing and leaves (−1)
    /// after, so once the engine sees `CLOSED` with no submit in progress, the queue's
    /// contents are final: nothing accepted can arrive after the drain.
    intake: CachePadded<AtomicU64>,
    /// The engine is parked (or about to park) waiting for work.
    sleeping: CachePadded<AtomicBool>,
    engine_thread: OnceLock<Thread>,
    running: AtomicBool,
    overloaded: AtomicU64,
    counters: CachePadded<EngineCounters>,
    /// Nanoseconds the engine thread spent in `Engine::apply`, per command (written by the
    /// engine thread only).
    apply_ns: CachePadded<AtomicHistogram>,
    pinned: AtomicBool,
    core: Option<usize>,
    wait: WaitStrategy,
}

impl Shared {
    fn close(&self) {
        self.intake.fetch_or(CLOSED, Ordering::SeqCst);
        self.wake_engine_always();
    }

    fn is_closed(&self) -> bool {
        self.intake.load(Ordering::SeqCst) & CLOSED != 0
    }

    /// Closed, with no submit in progress: the inbound queue will receive nothing more.
    fn intake_finished(&self) -> bool {
        self.intake.load(Ordering::SeqCst) == CLOSED
    }

    fn push(&self, cmd: Command, ticket: Ticket) -> Result<(), SubmitError> {
        if self.intake.fetch_add(1, Ordering::SeqCst) & CLOSED != 0 {
            self.intake.fetch_sub(1, Ordering::SeqCst);
            return Err(SubmitError::Closed(cmd));
        }
        let pushed = self.inbound.push((cmd, ticket));
        // SeqCst read-modify-write after the push: with the engine's SeqCst store of
        // `sleeping` before its emptiness check (Dekker), either the engine sees this
        // command or this thread sees it sleeping. No wake-up is lost.
        self.intake.fetch_sub(1, Ordering::SeqCst);
        match pushed {
            Ok(()) => {
                self.wake_engine();
                Ok(())
            }
            Err((cmd, _)) => Err(SubmitError::Overloaded(cmd)),
        }
    }

    #[inline]
    fn wake_engine(&self) {
        if self.sleeping.load(Ordering::SeqCst) && self.sleeping.swap(false, Ordering::SeqCst) {
            self.wake_engine_always();
        }
    }

    fn wake_engine_always(&self) {
        if let Some(t) = self.engine_thread.get() {
            t.unpark();
        }
    }

    fn status(&self) -> RunnerStatus {
        let c = &self.counters;
        RunnerStatus {
            pinned: self.pinned.load(Ordering::Acquire),
            core: self.core,
            wait: self.wait,
            running: self.running.load(Ordering::Acquire) && !self.is_closed(),
            last_seq: Seq(c.last_seq.load(Ordering::Acquire)),
            queued: self.inbound.len(),
            overloaded: self.overloaded.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            stalls: c.stalls.load(Ordering::Relaxed),
            batches_allocated: c.allocated.load(Ordering::Relaxed),
        }
    }
}

/// A producer's handle: cheap to clone, shareable across threads and tasks.
#[derive(Clone, Debug)]
pub struct RunnerHandle {
    shared: Arc<Shared>,
}

impl RunnerHandle {
    /// Queues a command for the engine without ever blocking: a full queue answers
    /// [`SubmitError::Overloaded`] at once.
    pub fn submit(&self, cmd: Command) -> Result<(), SubmitError> {
        self.submit_with(cmd, Ticket::NONE)
    }

    /// [`submit`](Self::submit) with a ticket that comes back with the command's outcome in
    /// [`EventBatch::commands`].
    pub fn submit_with(&self, cmd: Command, ticket: Ticket) -> Result<(), SubmitError> {
        let r = self.shared.push(cmd, ticket);
        if matches!(r, Err(SubmitError::Overloaded(_))) {
            self.shared.overloaded.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    /// Like [`submit`](Self::submit), but waits up to `timeout` for room (polling with
    /// backoff: the engine does not wake waiting producers). For tools and tests; a gateway
    /// should answer overload instead of holding the request.
    pub fn submit_timeout(&self, cmd: Command, timeout: Duration) -> Result<(), SubmitError> {
        let deadline = Instant::now() + timeout;
        let backoff = Backoff::new();
        let mut cmd = cmd;
        loop {
            match self.shared.push(cmd, Ticket::NONE) {
                Err(SubmitError::Overloaded(back)) => {
                    let now = Instant::now();
                    if now >= deadline {
                        self.shared.overloaded.fetch_add(1, Ordering::Relaxed);
                        return Err(SubmitError::Overloaded(back));
                    }
                    cmd = back;
                    if backoff.is_completed() {
                        thread::sleep((deadline - now).min(Duration::from_micros(50)));
                    } else {
                        backoff.snooze();
                    }
                }
                r => return r,
            }
        }
    }

    #[must_use]
    pub fn status(&self) -> RunnerStatus {
        self.shared.status()
    }

    /// How long the engine thread spent applying each command (`Engine::apply` alone:
    /// sequencing, queues and hand-off excluded), in nanoseconds, bucketed by
    /// [`APPLY_NS_BOUNDS`], since the runner started. Its count is the number of commands
    /// applied since then.
    #[must_use]
    pub fn apply_latency(&self) -> HistogramSnapshot {
        self.shared.apply_ns.snapshot()
    }

    /// Asks the engine for a snapshot of its state after the last command it has applied;
    /// it arrives with a [`JournalBatch`] (see [`JournalBatch::take_snapshot`]). Requests
    /// made before the engine gets to it are served by one snapshot.
    pub fn request_snapshot(&self) {
        self.shared.snapshot_requested.store(true, Ordering::SeqCst);
        self.shared.wake_engine_always();
    }

    /// The runner no longer accepts commands.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }
}

/// What a clean shutdown gives back.
#[derive(Debug)]
pub struct Stopped {
    /// The state after the last command, for a snapshot.
    pub engine: Engine,
    pub last_seq: Seq,
}

/// Owns the engine thread. [`Runner::shutdown`] drains it and gives the engine back;
/// dropping the runner closes intake and lets the thread drain on its own.
#[derive(Debug)]
pub struct Runner {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Result<Engine, RunnerError>>>,
}

impl Runner {
    /// Starts the engine thread on `engine` and returns once it is running (and pinned,
    /// if it could be).
    pub fn start(engine: Engine, cfg: RunnerConfig) -> Result<(Runner, Outputs), RunnerError> {
        if cfg.inbound_capacity == 0 || cfg.journal_capacity == 0 || cfg.events_capacity == 0 {
            return Err(RunnerError::Config("queue capacities must be at least 1"));
        }
        if cfg.max_batch == 0 {
            return Err(RunnerError::Config("max_batch must be at least 1"));
        }
        let last_seq = cfg.last_seq.unwrap_or_else(|| engine.last_seq());
        if last_seq < engine.last_seq() {
            return Err(RunnerError::Config(
                "last_seq is below the engine's own: seqs would repeat",
            ));
        }
        let shared = Arc::new(Shared {
            inbound: ArrayQueue::new(cfg.inbound_capacity),
            snapshot_requested: AtomicBool::new(false),
            intake: CachePadded::new(AtomicU64::new(0)),
            sleeping: CachePadded::new(AtomicBool::new(false)),
            engine_thread: OnceLock::new(),
            running: AtomicBool::new(true),
            overloaded: AtomicU64::new(0),
            counters: CachePadded::new(EngineCounters {
                last_seq: AtomicU64::new(last_seq.0),
                ..EngineCounters::default()
            }),
            apply_ns: CachePadded::new(AtomicHistogram::new(&APPLY_NS_BOUNDS)),
            pinned: AtomicBool::new(false),
            core: cfg.core,
            wait: cfg.wait,
        });
        let (journal_tx, journal_rx) = bounded(cfg.journal_capacity);
        let (events_tx, events_rx) = bounded(cfg.events_capacity);
        // Room for every batch that can be in flight, so none is dropped in the steady state.
        let (journal_spare_tx, journal_spare_rx) = bounded(cfg.journal_capacity + 4);
        let (events_spare_tx, events_spare_rx) = bounded(cfg.events_capacity + 4);
        let (ready_tx, ready_rx) = bounded::<()>(1);
        let mut worker = Worker {
            engine,
            shared: Arc::clone(&shared),
            journal: journal_tx,
            journal_spare: journal_spare_rx,
            events: events_tx,
            events_spare: events_spare_rx,
            clock: cfg.clock,
            wait: cfg.wait,
            max_batch: cfg.max_batch,
            clock_every: cfg.clock_every.max(1),
            snapshot_every: cfg.snapshot_every.unwrap_or(0),
            since_snapshot: 0,
            seq: last_seq.0,
            last_ts: 0,
            out: Vec::with_capacity(256),
            batches: 0,
            stalls: 0,
            allocated: 0,
        };
        let thread = thread::Builder::new()
            .name("bourse-engine".into())
            .spawn(move || {
                let _stopped = StopGuard(Arc::clone(&worker.shared));
                if let Some(core) = worker.shared.core {
                    let pinned = core_affinity::get_core_ids()
                        .and_then(|ids| ids.into_iter().find(|c| c.id == core))
                        .is_some_and(core_affinity::set_for_current);
                    worker.shared.pinned.store(pinned, Ordering::Release);
                }
                drop(ready_tx);
                worker.run()?;
                Ok(worker.engine)
            })?;
        let _ = shared.engine_thread.set(thread.thread().clone());
        // Disconnection is the signal: the thread has pinned itself (or died trying).
        let _ = ready_rx.recv();
        let runner = Runner {
            shared,
            thread: Some(thread),
        };
        let outputs = Outputs {
            journal: JournalReceiver {
                rx: journal_rx,
                spare: journal_spare_tx,
            },
            events: EventReceiver {
                rx: events_rx,
                spare: events_spare_tx,
            },
        };
        Ok((runner, outputs))
    }

    #[must_use]
    pub fn handle(&self) -> RunnerHandle {
        RunnerHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    #[must_use]
    pub fn status(&self) -> RunnerStatus {
        self.shared.status()
    }

    /// See [`RunnerHandle::apply_latency`].
    #[must_use]
    pub fn apply_latency(&self) -> HistogramSnapshot {
        self.shared.apply_ns.snapshot()
    }

    /// Stops accepting commands, processes every command already accepted, hands
    /// everything to the outbound queues and returns the engine. Consumers must keep
    /// reading meanwhile; when their queues report disconnection they have seen every seq up
    /// to [`Stopped::last_seq`].
    pub fn shutdown(mut self) -> Result<Stopped, RunnerError> {
        self.shared.close();
        let thread = self.thread.take().ok_or(RunnerError::Panicked)?;
        let engine = thread.join().map_err(|_| RunnerError::Panicked)??;
        let last_seq = Seq(self.shared.counters.last_seq.load(Ordering::Acquire));
        Ok(Stopped { engine, last_seq })
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.shared.close();
        }
    }
}

/// Marks the runner stopped (and closes intake) however the engine thread ends, panics
/// included, so producers get `Closed` instead of filling a queue nobody reads.
struct StopGuard(Arc<Shared>);

impl Drop for StopGuard {
    fn drop(&mut self) {
        self.0.intake.fetch_or(CLOSED, Ordering::SeqCst);
        self.0.running.store(false, Ordering::Release);
    }
}

/// Spin-then-something pacing for one wait.
struct Idle {
    wait: WaitStrategy,
    since: Option<Instant>,
    polls: u32,
}

impl Idle {
    fn new(wait: WaitStrategy) -> Self {
        Self {
            wait,
            since: None,
            polls: 0,
        }
    }

    /// Pauses after a poll that found nothing. True when the spin phase of
    /// `SpinThenPark` is over and the caller should sleep instead.
    #[inline]
    fn pause(&mut self) -> bool {
        let spin = match self.wait {
            WaitStrategy::BusySpin => {
                std::hint::spin_loop();
                return false;
            }
            WaitStrategy::SpinThenYield { spin } | WaitStrategy::SpinThenPark { spin } => spin,
        };
        self.polls = self.polls.wrapping_add(1);
        // Read the clock every 32 polls only: it costs more than a poll.
        let spun_out = match self.since {
            None => {
                self.since = Some(Instant::now());
                spin.is_zero()
            }
            Some(t) => self.polls.is_multiple_of(32) && t.elapsed() >= spin,
        };
        if !spun_out {
            std::hint::spin_loop();
            return false;
        }
        match self.wait {
            WaitStrategy::SpinThenPark { .. } => true,
            _ => {
                thread::yield_now();
                false
            }
        }
    }
}

/// The engine thread's state.
struct Worker {
    engine: Engine,
    shared: Arc<Shared>,
    journal: Sender<JournalBatch>,
    journal_spare: Receiver<JournalBatch>,
    events: Sender<EventBatch>,
    events_spare: Receiver<EventBatch>,
    clock: Clock,
    wait: WaitStrategy,
    max_batch: usize,
    clock_every: usize,
    /// 0: no periodic snapshots.
    snapshot_every: u64,
    since_snapshot: u64,
    seq: u64,
    last_ts: u64,
    out: Vec<Event>,
    batches: u64,
    stalls: u64,
    allocated: u64,
}

impl Worker {
    fn run(&mut self) -> Result<(), RunnerError> {
        let mut idle = Idle::new(self.wait);
        loop {
            if let Some((cmd, ticket)) = self.shared.inbound.pop() {
                idle.since = None;
                self.batch(cmd, ticket)?;
                continue;
            }
            if self.shared.snapshot_requested.load(Ordering::Relaxed) {
                self.idle_snapshot()?;
            }
            if self.shared.intake_finished() {
                // Nothing can arrive any more: drain what is left, then stop.
                match self.shared.inbound.pop() {
                    Some((cmd, ticket)) => self.batch(cmd, ticket)?,
                    None => return Ok(()),
                }
            } else if idle.pause() {
                self.sleep();
            }
        }
    }

    /// Parks until a producer pushes (or the runner closes).
    fn sleep(&self) {
        let s = &*self.shared;
        s.sleeping.store(true, Ordering::SeqCst);
        if s.inbound.is_empty() && !s.is_closed() && !s.snapshot_requested.load(Ordering::SeqCst) {
            // A spurious or stale wake-up just sends the caller round its loop again.
            thread::park();
        } else if s.is_closed() {
            // Closing with submits still in progress: they finish within nanoseconds.
            thread::yield_now();
        }
        s.sleeping.store(false, Ordering::SeqCst);
    }

    /// A requested snapshot while no command is waiting: it travels alone in an empty batch.
    fn idle_snapshot(&mut self) -> Result<(), RunnerError> {
        self.shared
            .snapshot_requested
            .store(false, Ordering::SeqCst);
        let mut journal = self.journal_spare.try_recv().unwrap_or_else(|_| {
            self.allocated += 1;
            JournalBatch::with_capacity(self.max_batch)
        });
        journal.snapshot = Some(Box::new(self.engine.snapshot()));
        self.since_snapshot = 0;
        let stalls = (&mut self.stalls, &self.shared.counters.stalls);
        if send(&self.journal, journal, self.wait, stalls).is_err() {
            return Err(self.gone(Output::Journal));
        }
        Ok(())
    }

    /// Sequences and applies `first` and whatever else is queued (up to `max_batch`),
    /// then hands the batch on: commands to the journal writer first, then events.
    fn batch(&mut self, first: Command, first_ticket: Ticket) -> Result<(), RunnerError> {
        let mut journal = self.journal_spare.try_recv().unwrap_or_else(|_| {
            self.allocated += 1;
            JournalBatch::with_capacity(self.max_batch)
        });
        let mut events = self.events_spare.try_recv().unwrap_or_else(|_| {
            self.allocated += 1;
            EventBatch::with_capacity(self.max_batch)
        });
        let mut cmd = first;
        let mut ticket = first_ticket;
        let mut n = 1;
        loop {
            self.seq += 1;
            if (n - 1) % self.clock_every == 0 {
                // Never backwards, whatever the wall clock does.
                self.last_ts = self.last_ts.max((self.clock)().get());
            }
            let sequenced = Sequenced {
                seq: Seq(self.seq),
                ts: UnixNanos::new(self.last_ts),
                cmd,
            };
            // Two clock reads per command (about 20-40 ns each): the whole cost of the
            // apply-time histogram, besides two stores.
            let started = Instant::now();
            self.engine.apply(&sequenced, &mut self.out);
            let took = started.elapsed();
            self.shared.apply_ns.record(
                took.as_secs()
                    .saturating_mul(1_000_000_000)
                    .saturating_add(u64::from(took.subsec_nanos())),
            );
            // Whatever arrived while this command was applied joins the batch. Popped
            // before the copies into the batches below: the pop's atomic read-modify-write
            // waits for every earlier store to land, and those copies go to memory the
            // consumers last touched.
            let next = if n < self.max_batch {
                self.shared.inbound.pop()
            } else {
                None
            };
            for e in &self.out {
                if let Event::ProfileChanged { account } = *e
                    && let Some(p) = self.engine.profiles().get(account)
                {
                    events.push_profile(sequenced.seq, account, Arc::new(p.clone()));
                }
            }
            events.push(
                sequenced.seq,
                sequenced.ts,
                ticket,
                &mut self.out,
                self.engine.stream_numbers(),
            );
            journal.entries.push(sequenced);
            match next {
                Some((c, t)) => {
                    cmd = c;
                    ticket = t;
                    n += 1;
                }
                None => break,
            }
        }
        self.since_snapshot += n as u64;
        let due = self.snapshot_every > 0 && self.since_snapshot >= self.snapshot_every;
        // The flag is cleared before the snapshot is taken: a request that lands after
        // this point gets a snapshot of its own, never a stale one.
        let requested = || {
            let flag = &self.shared.snapshot_requested;
            flag.load(Ordering::Relaxed) && flag.swap(false, Ordering::SeqCst)
        };
        if due || requested() {
            journal.snapshot = Some(Box::new(self.engine.snapshot()));
            self.since_snapshot = 0;
        }
        let stalls = (&mut self.stalls, &self.shared.counters.stalls);
        if send(&self.journal, journal, self.wait, stalls).is_err() {
            return Err(self.gone(Output::Journal));
        }
        let stalls = (&mut self.stalls, &self.shared.counters.stalls);
        if send(&self.events, events, self.wait, stalls).is_err() {
            return Err(self.gone(Output::Events));
        }
        self.batches += 1;
        let c = &self.shared.counters;
        c.batches.store(self.batches, Ordering::Relaxed);
        c.allocated.store(self.allocated, Ordering::Relaxed);
        c.last_seq.store(self.seq, Ordering::Release);
        Ok(())
    }

    fn gone(&self, queue: Output) -> RunnerError {
        RunnerError::ConsumerGone {
            queue,
            last_seq: Seq(self.seq),
        }
    }
}

struct Disconnected;

/// Hands `item` to a consumer, waiting while its queue is full (backpressure: never drop).
#[inline]
fn send<T>(
    tx: &Sender<T>,
    item: T,
    wait: WaitStrategy,
    (stalls, shown): (&mut u64, &AtomicU64),
) -> Result<(), Disconnected> {
    let mut item = match tx.try_send(item) {
        Ok(()) => return Ok(()),
        Err(TrySendError::Disconnected(_)) => return Err(Disconnected),
        Err(TrySendError::Full(back)) => back,
    };
    *stalls += 1;
    // Shown at once: a stalled engine is what an operator wants to see.
    shown.store(*stalls, Ordering::Relaxed);
    let mut idle = Idle::new(wait);
    loop {
        if idle.pause() {
            // Spun out: sleep in the channel until the consumer makes room.
            return tx.send(item).map_err(|_| Disconnected);
        }
        item = match tx.try_send(item) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Disconnected(_)) => return Err(Disconnected),
            Err(TrySendError::Full(back)) => back,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_tells_wall_time_and_never_goes_back() {
        let mut clock = system_clock();
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let mut prev = clock().get();
        assert!(prev.abs_diff(wall) < 1_000_000_000, "{prev} vs {wall}");
        for _ in 0..10_000 {
            let t = clock().get();
            assert!(t >= prev);
            prev = t;
        }
    }

    #[test]
    fn idle_spins_then_asks_to_park() {
        let mut idle = Idle::new(WaitStrategy::SpinThenPark {
            spin: Duration::from_micros(200),
        });
        let t0 = Instant::now();
        while !idle.pause() {}
        assert!(t0.elapsed() >= Duration::from_micros(200));
        let mut busy = Idle::new(WaitStrategy::BusySpin);
        assert!((0..100_000).all(|_| !busy.pause()));
    }
}
