//! `bourse-journal`: the write-ahead journal of sequenced commands and the snapshots that
//! shorten recovery.
//!
//! Owns the [`Journal`] trait and its two backends, their storage formats and their checks:
//! - [`FileJournal`], the embedded default: segmented append-only files, a CRC per record,
//!   one write + `fdatasync` per group commit, an exclusive lock on its directory, torn-tail
//!   repair on open (a damaged but complete record is corruption, never cut off silently);
//! - [`PgJournal`], PostgreSQL through sqlx: one transaction per group commit (binary `COPY`
//!   or one `INSERT … SELECT FROM UNNEST`), the schema versioned in the workspace's
//!   `migrations/`, reconnection after a lost connection that re-reads what committed.
//!
//! Both refuse to start on a seq gap or on corruption, with the place named, and both run
//! the same conformance suite (`tests/conformance.rs`).
//!
//! Must never: acknowledge a batch before it is durable, skip or duplicate a sequence
//! number, or silently drop data it cannot read.

use std::fmt;
use std::path::PathBuf;

use bourse_core::Seq;
use bourse_core::Sequenced;
use bourse_core::codec::CodecError;

pub mod file;
pub mod follow;
pub mod lease;
pub mod pg;

pub use file::{DroppedTail, FileJournal, FileJournalOptions, Recovery};
pub use follow::AppendSignal;
pub use lease::{Lease, LeaseOptions, LeaseView};
pub use pg::{PgJournal, PgJournalOptions, PgWrite};

/// Where in a backend's storage something was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A byte offset in one file of a [`FileJournal`].
    File { path: PathBuf, offset: u64 },
    /// The row of `seq` in a table of a [`PgJournal`] (`table` is schema-qualified when the
    /// journal lives in its own schema).
    Row { table: String, seq: u64 },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File { path, offset } => write!(f, "{} at byte {offset}", path.display()),
            Location::Row { table, seq } => write!(f, "table {table}, row of seq {seq}"),
        }
    }
}

/// Why the journal cannot do what was asked. Every variant names the place or operation.
///
/// [`JournalError::is_retryable`] tells a writer whether calling again with the same batch
/// can succeed (a lost database connection) or whether it must stop (a gap, corruption, a
/// failed `fdatasync`).
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "journal corrupted at {at}: {what}; refusing to start (restore it from a replica or \
         backup; records before this point are intact{})",
        repair_hint(.at)
    )]
    Corrupt { at: Location, what: String },
    #[error(
        "journal has a gap at {at}: expected seq {expected}, found seq {found}; refusing to start"
    )]
    Gap {
        at: Location,
        expected: u64,
        found: u64,
    },
    #[error("append out of order: the journal ends at seq {last}, the batch starts at seq {first}")]
    OutOfOrder { last: u64, first: u64 },
    #[error("append batch is not contiguous: seq {found} follows seq {after}")]
    NotContiguous { after: u64, found: u64 },
    #[error("record of seq {seq} does not encode: {source}")]
    Encode {
        seq: u64,
        #[source]
        source: CodecError,
    },
    #[error(
        "journal is unusable after an earlier failure ({reason}); restart the process \
         (opening repairs a torn tail)"
    )]
    Unusable { reason: String },
    #[error("PostgreSQL journal: {what} failed: {source}")]
    Database {
        /// The operation, e.g. `"append (COPY)"`, `"connect"`, `"read journal"`.
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("PostgreSQL journal: applying the schema migrations failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error(
        "PostgreSQL journal: {table} is locked by another session: another bourse process \
         writes this journal (stop it first), or this writer's previous connection has not \
         gone yet"
    )]
    Locked { table: String },
    /// Another process holds the lock of a [`FileJournal`]'s directory. Not retryable: two
    /// writers would acknowledge different commands at the same seq.
    #[error(
        "journal {} is locked: another bourse process{} holds it (a second writer would \
         acknowledge commands at the same seqs); stop that process first",
        .path.display(),
        .pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    FileLocked {
        /// The journal's directory.
        path: PathBuf,
        /// The holder's process id, as it wrote it into the lock file (if readable).
        pid: Option<u32>,
    },
    /// The file system is full (or the quota used up): nothing of the batch was kept (the
    /// segment was cut back to its durable length), so the same append can succeed once
    /// space is freed.
    #[error(
        "journal storage full writing {path}: {source}; nothing of the batch was kept; \
         acknowledgements wait until space is freed"
    )]
    StorageFull {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "PostgreSQL journal: {table} ends at seq {found}, but this writer knows seq \
         {acknowledged} durable (and had at most seq {in_flight} in flight): another writer \
         or a restore changed it underneath; refusing to continue"
    )]
    Diverged {
        table: String,
        acknowledged: u64,
        in_flight: u64,
        found: u64,
    },
    #[error("PostgreSQL journal: bad options: {0}")]
    Config(String),
    /// The writer's lease was taken over: its fencing token is no longer the lease's, so
    /// the journal refused the append (or the reconnection) and will refuse every other.
    /// Not retryable: another process leads now, and this one must step down.
    #[error(
        "PostgreSQL journal: fenced off: this writer's fencing token {token} is no longer the \
         lease's ({current}); another process leads now, so this one must step down"
    )]
    Fenced {
        token: i64,
        /// The lease's token now (0 if the lease row is missing).
        current: i64,
    },
    /// The consumer of [`Journal::for_each_from`] stopped the replay.
    #[error("journal replay stopped by its consumer: {0}")]
    Consumer(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// For a damaged file journal: where the operator's last resort is explained.
fn repair_hint(at: &Location) -> &'static str {
    match at {
        Location::File { .. } => {
            "; without a copy, `bourse journal repair` says what accepting the loss would drop"
        }
        Location::Row { .. } => "",
    }
}

impl JournalError {
    /// Whether the same call may succeed if made again: true when the database
    /// connection was lost (or the journal is locked by a session that is going away), in
    /// which case the journal has marked itself uncertain and the next call reconnects,
    /// learns what committed and skips it; and when a file journal's disk is full
    /// ([`JournalError::StorageFull`]: the segment was cut back to its durable length, so a
    /// retry writes the batch exactly once). Everything else — a gap, corruption, an order
    /// violation, a file journal locked by another process, any other file I/O failure
    /// (after a failed `fdatasync` the page cache can no longer be trusted) — is fatal: stop
    /// the writer and restart from the journal.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            JournalError::Database { source, .. } => pg::is_transient(source),
            JournalError::Locked { .. } | JournalError::StorageFull { .. } => true,
            _ => false,
        }
    }
}

/// An append-only, gap-free log of sequenced commands, plus snapshots.
///
/// Object-safe and `Send`: the server moves a `Box<dyn Journal>` to its journal writer
/// thread.
pub trait Journal: Send {
    /// Makes `batch` durable as one group commit; returns only once it is.
    ///
    /// `batch` must be contiguous (seqs rising by one). Entries with seq ≤ `durable_seq()`
    /// are already durable and are skipped; the rest must start exactly at
    /// `durable_seq() + 1`. So a batch entirely at or below `durable_seq()` is a no-op, and a
    /// writer may always retry the batch of a failed call (the commit may have happened
    /// and only its acknowledgement been lost) without duplicating anything. The skipped
    /// prefix is trusted to be the commands already journaled: the engine is the only
    /// writer. A batch starting above `durable_seq() + 1` is [`JournalError::OutOfOrder`];
    /// a refused batch changes nothing.
    fn append(&mut self, batch: &[Sequenced]) -> Result<(), JournalError>;

    /// The last seq that is durable (0 for an empty journal).
    fn durable_seq(&self) -> Seq;

    /// Calls `f` with every durable command with seq ≥ `from`, in order, decoding as it
    /// goes so memory stays bounded however long the journal is. Stops at the first error,
    /// from the journal or from `f` (which may use [`JournalError::Consumer`] for its own).
    fn for_each_from(
        &self,
        from: Seq,
        f: &mut dyn FnMut(Sequenced) -> Result<(), JournalError>,
    ) -> Result<(), JournalError>;

    /// Every durable command with seq ≥ `from`, in order, collected (for tests and short
    /// tails; replay a long journal with [`Journal::for_each_from`]).
    fn read_from(&self, from: Seq) -> Result<Vec<Sequenced>, JournalError> {
        let mut out = Vec::new();
        self.for_each_from(from, &mut |rec| {
            out.push(rec);
            Ok(())
        })?;
        Ok(out)
    }

    /// Stores a snapshot of the state after `seq`, durably, replacing nothing older until
    /// it is complete.
    fn save_snapshot(&mut self, seq: Seq, bytes: &[u8]) -> Result<(), JournalError>;

    /// The newest snapshot that reads back intact (an unreadable newer one is skipped).
    fn latest_snapshot(&self) -> Result<Option<(Seq, Vec<u8>)>, JournalError>;

    /// The snapshot taken exactly after `seq`, if it is stored and intact. Seq 0 is the
    /// genesis state (before the first command), which a replay from scratch starts from.
    fn snapshot_at(&self, seq: Seq) -> Result<Option<Vec<u8>>, JournalError>;

    /// Deletes old snapshots, keeping the genesis one (seq 0) and the newest `keep`
    /// (at least 1), so a damaged newest snapshot still has a predecessor to fall back on.
    fn prune_snapshots(&mut self, keep: usize) -> Result<(), JournalError>;
}

/// The part of `batch` not yet durable when the journal ends at `durable`, after checking
/// `batch` against the append contract of [`Journal::append`]. Both backends use it, so
/// they agree on what a retry may look like.
pub(crate) fn undurable_part(
    durable: u64,
    batch: &[Sequenced],
) -> Result<&[Sequenced], JournalError> {
    let Some(first) = batch.first() else {
        return Ok(batch);
    };
    let first = first.seq.0;
    // Seq 0 never exists (the journal starts at 1); refusing it keeps "≤ durable" from
    // swallowing it as already written.
    if first == 0 || first > durable.saturating_add(1) {
        return Err(JournalError::OutOfOrder {
            last: durable,
            first,
        });
    }
    for pair in batch.windows(2) {
        let (a, b) = (pair[0].seq.0, pair[1].seq.0);
        if a.checked_add(1) != Some(b) {
            return Err(JournalError::NotContiguous { after: a, found: b });
        }
    }
    let skip = usize::try_from(durable + 1 - first).unwrap_or(usize::MAX);
    Ok(batch.get(skip..).unwrap_or(&[]))
}
