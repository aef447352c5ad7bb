//! `bourse-journal`: the write-ahead journal of sequenced commands and the snapshots that
//! shorten recovery.
//!
//! Owns the [`Journal`] trait and its backends ([`FileJournal`] today, the embedded default;
//! PostgreSQL next), their on-disk formats and their checks: gap-free sequence numbers, a CRC
//! per record, torn-tail repair, refusal to start on corruption in the middle or on a gap.
//!
//! Must never: acknowledge a batch before it is durable, skip or duplicate a sequence
//! number, or silently drop data it cannot read.

use std::path::PathBuf;

use bourse_core::Seq;
use bourse_core::Sequenced;
use bourse_core::codec::CodecError;

pub mod file;

pub use file::{FileJournal, FileJournalOptions, Recovery};

/// Why the journal cannot do what was asked. Every variant names the file and place.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "journal corrupted in {path} at byte {offset}: {what}; refusing to start (restore \
         the file from a replica or backup; records before this point are intact)"
    )]
    Corrupt {
        path: PathBuf,
        offset: u64,
        what: String,
    },
    #[error("journal has a gap: expected seq {expected}, found seq {found} in {path}")]
    Gap {
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("append out of order: the journal ends at seq {last}, the batch starts at seq {first}")]
    OutOfOrder { last: u64, first: u64 },
    #[error("record of seq {seq} does not encode: {source}")]
    Encode {
        seq: u64,
        #[source]
        source: CodecError,
    },
}

/// An append-only, gap-free log of sequenced commands, plus snapshots.
pub trait Journal {
    /// Makes `batch` durable as one group commit; returns only once it is. The batch must
    /// continue the journal: its seqs are `durable_seq() + 1, + 2, …` with no gap.
    fn append(&mut self, batch: &[Sequenced]) -> Result<(), JournalError>;

    /// The last seq that is durable (0 for an empty journal).
    fn durable_seq(&self) -> Seq;

    /// Every journaled command with seq ≥ `from`, in order.
    fn read_from(&self, from: Seq) -> Result<Vec<Sequenced>, JournalError>;

    /// Stores a snapshot of the state after `seq`, durably, replacing nothing older until
    /// it is complete.
    fn save_snapshot(&mut self, seq: Seq, bytes: &[u8]) -> Result<(), JournalError>;

    /// The newest snapshot that reads back intact (an unreadable newer one is skipped).
    fn latest_snapshot(&self) -> Result<Option<(Seq, Vec<u8>)>, JournalError>;
}
