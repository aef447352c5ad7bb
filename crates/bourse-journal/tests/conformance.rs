//! The journal conformance suite: what every backend must do. Each check is a function of a
//! backend factory (every call opens the same journal again), and `conformance!` runs every
//! check against the file backend and against PostgreSQL with each write method, every
//! PostgreSQL run in a schema of its own. File-specific damage tests follow; the
//! PostgreSQL-specific ones are in `tests/pg.rs`.
#![allow(clippy::unwrap_used)]

mod support;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use bourse_core::{AccountId, Cash, Command, Seq, Sequenced, UnixNanos};
use bourse_journal::{
    FileJournal, FileJournalOptions, Journal, JournalError, Location, PgJournal, PgWrite,
};

fn cmd(seq: u64) -> Sequenced {
    Sequenced {
        seq: Seq(seq),
        ts: UnixNanos::new(1_000 * seq),
        cmd: Command::Deposit {
            account: AccountId::new(seq % 7 + 1),
            amount: Cash::from_raw(i64::try_from(seq).unwrap() * 10_000),
        },
    }
}

fn batch(from: u64, to: u64) -> Vec<Sequenced> {
    (from..=to).map(cmd).collect()
}

fn open(dir: &Path, segment_bytes: u64) -> Result<FileJournal, JournalError> {
    FileJournal::open(dir, FileJournalOptions { segment_bytes })
}

type Make<'a> = &'a dyn Fn() -> Box<dyn Journal>;

/// Appended batches read back from any seq, in order; the watermark follows; a reopened
/// journal has everything.
fn append_read_back_and_reopen(make: Make<'_>) {
    let mut j = make();
    assert_eq!(j.durable_seq(), Seq(0));
    assert!(j.read_from(Seq(1)).unwrap().is_empty());
    j.append(&batch(1, 1)).unwrap();
    j.append(&batch(2, 500)).unwrap();
    j.append(&[]).unwrap();
    assert_eq!(j.durable_seq(), Seq(500));
    for from in [0, 1, 2, 250, 499, 500, 501] {
        let got = j.read_from(Seq(from)).unwrap();
        assert_eq!(got, batch(from.max(1), 500), "from {from}");
    }
    drop(j);
    let j = make();
    assert_eq!(j.durable_seq(), Seq(500));
    assert_eq!(j.read_from(Seq(1)).unwrap(), batch(1, 500));
}

/// A batch must continue the journal: one starting past the end, or with a hole, is
/// refused and changes nothing; the durable prefix of an overlapping batch is skipped; a
/// batch wholly durable is a no-op.
fn gaps_and_repeats_refused(make: Make<'_>) {
    let mut j = make();
    j.append(&batch(1, 10)).unwrap();
    assert!(matches!(
        j.append(&batch(12, 13)),
        Err(JournalError::OutOfOrder {
            last: 10,
            first: 12
        })
    ));
    let mut holey = batch(11, 12);
    holey.push(cmd(14));
    assert!(matches!(
        j.append(&holey),
        Err(JournalError::NotContiguous {
            after: 12,
            found: 14
        })
    ));
    let mut backwards = batch(10, 11);
    backwards.swap(0, 1);
    assert!(matches!(
        j.append(&backwards),
        Err(JournalError::NotContiguous { .. })
    ));
    assert!(matches!(
        j.append(&[cmd(0), cmd(1)]),
        Err(JournalError::OutOfOrder { first: 0, .. })
    ));
    assert_eq!(j.durable_seq(), Seq(10));
    // Overlapping the end by one: seq 10 is skipped, 11 appended.
    j.append(&batch(10, 11)).unwrap();
    assert_eq!(j.durable_seq(), Seq(11));
    // Wholly durable: nothing happens.
    j.append(&batch(1, 3)).unwrap();
    j.append(&batch(11, 11)).unwrap();
    assert_eq!(j.durable_seq(), Seq(11));
    assert_eq!(j.read_from(Seq(1)).unwrap(), batch(1, 11));
    drop(j);
    assert_eq!(make().read_from(Seq(1)).unwrap(), batch(1, 11));
}

/// A writer retrying a batch whose first part became durable (its commit happened, the
/// answer was lost) gets exactly one copy of every seq, before and after reopening.
fn retry_of_a_partly_durable_batch(make: Make<'_>) {
    let mut j = make();
    j.append(&batch(1, 10)).unwrap();
    // The writer's queue since its last acknowledged commit: 6..=20, of which 6..=10
    // turned out to be durable.
    j.append(&batch(6, 20)).unwrap();
    assert_eq!(j.durable_seq(), Seq(20));
    // The same retry again, and one that grew while waiting.
    j.append(&batch(6, 20)).unwrap();
    j.append(&batch(15, 30)).unwrap();
    assert_eq!(j.durable_seq(), Seq(30));
    assert_eq!(j.read_from(Seq(1)).unwrap(), batch(1, 30));
    drop(j);
    let mut j = make();
    j.append(&batch(1, 31)).unwrap();
    assert_eq!(j.read_from(Seq(1)).unwrap(), batch(1, 31));
}

/// `for_each_from` hands records over one by one, in order, and stops at the consumer's
/// first error, returning it.
fn streaming_read_stops_when_asked(make: Make<'_>) {
    let mut j = make();
    for k in 0..10 {
        j.append(&batch(k * 1000 + 1, k * 1000 + 1000)).unwrap();
    }
    let mut seen = 0u64;
    let mut next = 4321;
    j.for_each_from(Seq(4321), &mut |rec| {
        assert_eq!(rec, cmd(next));
        next += 1;
        seen += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, 10_000 - 4320);
    let mut calls = 0;
    let err = j
        .for_each_from(Seq(1), &mut |rec| {
            calls += 1;
            if rec.seq == Seq(9000) {
                Err(JournalError::Consumer("state hash mismatch".into()))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    assert!(matches!(err, JournalError::Consumer(_)), "{err}");
    assert_eq!(calls, 9000);
    let mut none = 0;
    j.for_each_from(Seq(10_001), &mut |_| {
        none += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(none, 0);
}

/// Snapshots: the newest intact one wins, a retaken one replaces its seq, and they are
/// there after reopening.
fn snapshots(make: Make<'_>) {
    let mut j = make();
    assert_eq!(j.latest_snapshot().unwrap(), None);
    j.save_snapshot(Seq(10), b"state at 10").unwrap();
    j.save_snapshot(Seq(20), b"state at 20").unwrap();
    assert_eq!(
        j.latest_snapshot().unwrap(),
        Some((Seq(20), b"state at 20".to_vec()))
    );
    j.save_snapshot(Seq(20), b"state at 20, again").unwrap();
    drop(j);
    assert_eq!(
        make().latest_snapshot().unwrap(),
        Some((Seq(20), b"state at 20, again".to_vec()))
    );
    // Any stored snapshot by its seq; pruning keeps the genesis and the newest ones.
    let mut j = make();
    j.save_snapshot(Seq(0), b"genesis").unwrap();
    for seq in [30, 40, 50] {
        j.save_snapshot(Seq(seq), format!("state at {seq}").as_bytes())
            .unwrap();
    }
    assert_eq!(
        j.snapshot_at(Seq(10)).unwrap(),
        Some(b"state at 10".to_vec())
    );
    assert_eq!(j.snapshot_at(Seq(11)).unwrap(), None);
    j.prune_snapshots(2).unwrap();
    drop(j);
    let j = make();
    let kept: Vec<u64> = [0, 10, 20, 30, 40, 50]
        .into_iter()
        .filter(|&s| j.snapshot_at(Seq(s)).unwrap().is_some())
        .collect();
    assert_eq!(kept, [0, 40, 50]);
    assert_eq!(j.snapshot_at(Seq(0)).unwrap(), Some(b"genesis".to_vec()));
    assert_eq!(
        j.latest_snapshot().unwrap(),
        Some((Seq(50), b"state at 50".to_vec()))
    );
}

/// The journal is moved to a writer thread as a `Box<dyn Journal>` and keeps working there.
fn moves_to_a_writer_thread(make: Make<'_>) {
    let mut j = make();
    j.append(&batch(1, 5)).unwrap();
    let j = std::thread::spawn(move || {
        j.append(&batch(6, 10)).unwrap();
        j
    })
    .join()
    .unwrap();
    assert_eq!(j.read_from(Seq(1)).unwrap(), batch(1, 10));
}

fn file_backend(check: fn(Make<'_>)) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    // Small segments, so the checks cross segment boundaries.
    let make = || -> Box<dyn Journal> { Box::new(open(&path, 4096).unwrap()) };
    check(&make);
}

fn pg_backend(check: fn(Make<'_>), write: PgWrite, name: &str) {
    let schema = support::Schema::fresh(name);
    let opts = schema.options().write(write);
    let make = || -> Box<dyn Journal> { Box::new(PgJournal::open(opts.clone()).unwrap()) };
    check(&make);
}

macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod file {
            $(#[test] fn $check() { super::file_backend(super::$check) })*
        }
        mod pg_unnest {
            $(#[test] fn $check() {
                super::pg_backend(super::$check, super::PgWrite::Unnest, stringify!($check))
            })*
        }
        mod pg_copy {
            $(#[test] fn $check() {
                super::pg_backend(super::$check, super::PgWrite::Copy, stringify!($check))
            })*
        }
    };
}

conformance!(
    append_read_back_and_reopen,
    gaps_and_repeats_refused,
    retry_of_a_partly_durable_batch,
    streaming_read_stops_when_asked,
    snapshots,
    moves_to_a_writer_thread,
);

#[test]
fn segments_roll_and_read_across_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path(), 1024).unwrap();
    for k in 0..50 {
        j.append(&batch(k * 20 + 1, k * 20 + 20)).unwrap();
    }
    let segs = fs::read_dir(dir.path()).unwrap().count();
    assert!(segs > 5, "{segs} segment files");
    assert_eq!(j.read_from(Seq(333)).unwrap(), batch(333, 1000));
    drop(j);
    let j = open(dir.path(), 1024).unwrap();
    assert_eq!(j.recovery().records, 1000);
    assert_eq!(j.durable_seq(), Seq(1000));
}

fn newest_segment(dir: &Path) -> std::path::PathBuf {
    let mut logs: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs.pop().unwrap()
}

#[test]
fn a_torn_tail_is_cut_off_and_appending_continues() {
    for torn in [3usize, 8, 20] {
        let dir = tempfile::tempdir().unwrap();
        // A crash in the middle of writing record 101: only its first bytes reached disk.
        let seg = journal_of_100(dir.path());
        let mut whole = Vec::new();
        {
            let mut probe = open(&dir.path().join("probe"), 1 << 20).unwrap();
            probe.append(&batch(1, 101)).unwrap();
            let probe_seg = newest_segment(&dir.path().join("probe"));
            let all = fs::read(&probe_seg).unwrap();
            let before = fs::read(&seg).unwrap().len();
            whole.extend_from_slice(&all[before..]);
        }
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&whole[..torn.min(whole.len() - 1)]).unwrap();
        drop(f);

        let mut j = open(dir.path(), 1 << 20).unwrap();
        assert_eq!(j.durable_seq(), Seq(100), "torn {torn}");
        assert_eq!(j.recovery().truncated_bytes, torn as u64);
        j.append(&batch(101, 120)).unwrap();
        drop(j);
        let j = open(dir.path(), 1 << 20).unwrap();
        assert_eq!(j.read_from(Seq(1)).unwrap(), batch(1, 120));
        assert_eq!(j.recovery().truncated_bytes, 0);
    }
}

/// A closed journal holding seqs 1..=100 in one segment; returns that segment's path.
fn journal_of_100(dir: &Path) -> std::path::PathBuf {
    let mut j = open(dir, 1 << 20).unwrap();
    j.append(&batch(1, 100)).unwrap();
    drop(j);
    newest_segment(dir)
}

#[test]
fn corruption_in_the_middle_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let seg = journal_of_100(dir.path());
    let mut bytes = fs::read(&seg).unwrap();
    let len_before = bytes.len();
    bytes[len_before / 2] ^= 0x5A;
    fs::write(&seg, &bytes).unwrap();
    let err = open(dir.path(), 1 << 20).unwrap_err();
    let JournalError::Corrupt {
        at: Location::File { offset, .. },
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert!(*offset > 0 && *offset < len_before as u64);
    assert!(err.to_string().contains("refusing to start"), "{err}");
    assert_eq!(fs::read(&seg).unwrap().len(), len_before, "nothing was cut");
}

#[test]
fn a_damaged_length_in_the_newest_file_is_corruption_not_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let seg = journal_of_100(dir.path());
    let mut bytes = fs::read(&seg).unwrap();
    let len_before = bytes.len();
    // Record 2 starts after record 1; make its length claim more than the file holds.
    let first_len = u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
    let at = 8 + first_len;
    bytes[at..at + 4].copy_from_slice(&u32::to_le_bytes(1 << 20));
    fs::write(&seg, &bytes).unwrap();
    let err = open(dir.path(), 1 << 20).unwrap_err();
    assert!(
        matches!(
            &err,
            JournalError::Corrupt { at: Location::File { offset, .. }, .. } if *offset == at as u64
        ),
        "{err}"
    );
    assert_eq!(
        fs::read(&seg).unwrap().len(),
        len_before,
        "acknowledged records kept"
    );
}

#[test]
fn a_seq_gap_between_segments_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    // A one-byte segment size rolls a new file for every batch.
    let mut j = open(dir.path(), 1).unwrap();
    j.append(&batch(1, 10)).unwrap();
    j.append(&batch(11, 11)).unwrap();
    j.append(&batch(12, 15)).unwrap();
    drop(j);
    fs::remove_file(dir.path().join("journal-00000000000000000011.log")).unwrap();
    let err = open(dir.path(), 1).unwrap_err();
    assert!(
        matches!(
            err,
            JournalError::Gap {
                expected: 11,
                found: 12,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn an_unreadable_newest_snapshot_falls_back_to_the_one_before() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = open(dir.path(), 1 << 20).unwrap();
    j.save_snapshot(Seq(10), b"ten").unwrap();
    j.save_snapshot(Seq(20), b"twenty").unwrap();
    let newest = dir.path().join(format!("snapshot-{:020}.snap", 20));
    let mut bytes = fs::read(&newest).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&newest, bytes).unwrap();
    assert_eq!(
        j.latest_snapshot().unwrap(),
        Some((Seq(10), b"ten".to_vec()))
    );
}
