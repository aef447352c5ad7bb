//! The journal conformance suite: what every backend must do. Each check is a function of a
//! backend factory (every call opens the same journal again), and `conformance!` runs every
//! check against the file backend and against PostgreSQL with each write method, every
//! PostgreSQL run in a schema of its own. File-specific damage tests follow; the
//! PostgreSQL-specific ones are in `tests/pg.rs`.
#![allow(clippy::unwrap_used)]

mod support;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
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
    FileJournal::open(
        dir,
        FileJournalOptions {
            segment_bytes,
            ..FileJournalOptions::default()
        },
    )
}

/// `open`, with the operator's acceptance of a lost corrupt tail.
fn open_accepting_loss(dir: &Path, segment_bytes: u64) -> Result<FileJournal, JournalError> {
    FileJournal::open(
        dir,
        FileJournalOptions {
            segment_bytes,
            accept_corrupt_tail: true,
        },
    )
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

/// The byte offset of every record in a segment, and its end.
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < bytes.len() {
        out.push(at);
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 8 + len;
    }
    out.push(at);
    out
}

/// Asserts `err` is corruption at byte `offset` of `seg`, refusing to start.
fn assert_corrupt_at(err: &JournalError, seg: &Path, offset: usize) {
    let JournalError::Corrupt {
        at: Location::File { path, offset: got },
        ..
    } = err
    else {
        panic!("expected corruption, got: {err}")
    };
    assert_eq!((path.as_path(), *got), (seg, offset as u64), "{err}");
    assert!(err.to_string().contains("refusing to start"), "{err}");
    assert!(!err.is_retryable());
}

/// A bit flip inside the last, complete record is corruption: the journal refuses to
/// open instead of silently dropping an acknowledged command (the old code cut it off as
/// a torn write and opened at seq 99).
#[test]
fn a_bit_flip_in_the_last_record_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let seg = journal_of_100(dir.path());
    let mut bytes = fs::read(&seg).unwrap();
    let last = record_offsets(&bytes)[99];
    let n = bytes.len();
    bytes[n - 5] ^= 0x10;
    fs::write(&seg, &bytes).unwrap();
    let err = open(dir.path(), 1 << 20).unwrap_err();
    assert_corrupt_at(&err, &seg, last);
    assert!(err.to_string().contains("checksum"), "{err}");
    assert_eq!(fs::read(&seg).unwrap(), bytes, "nothing was cut");
    // The header's checksum itself damaged: the same.
    bytes[n - 5] ^= 0x10;
    bytes[last + 5] ^= 0x01;
    fs::write(&seg, &bytes).unwrap();
    assert_corrupt_at(&open(dir.path(), 1 << 20).unwrap_err(), &seg, last);
}

/// A last record whose length grew past the end of the file, while the bytes to the end
/// still carry its checksum, is a complete record with a damaged length: corruption, not
/// a record cut short.
#[test]
fn a_grown_length_of_the_last_record_refuses_to_open() {
    for grow in [1u32, 4096] {
        let dir = tempfile::tempdir().unwrap();
        let seg = journal_of_100(dir.path());
        let mut bytes = fs::read(&seg).unwrap();
        let last = record_offsets(&bytes)[99];
        let len = u32::from_le_bytes(bytes[last..last + 4].try_into().unwrap());
        bytes[last..last + 4].copy_from_slice(&(len + grow).to_le_bytes());
        fs::write(&seg, &bytes).unwrap();
        let err = open(dir.path(), 1 << 20).unwrap_err();
        assert_corrupt_at(&err, &seg, last);
        assert!(err.to_string().contains("damaged length"), "{err}");
        assert_eq!(fs::read(&seg).unwrap(), bytes, "nothing was cut");
    }
}

/// Zero bytes from the damaged record to the end (blocks a power loss left unwritten) are
/// a torn write: cut off, and appending continues. So are zeros from a sector boundary
/// inside a record on past its end (the file was extended over a whole batch whose last
/// sectors never reached the disk).
#[test]
fn a_zero_filled_tail_is_cut_off_and_appending_continues() {
    for zeros in [1usize, 8, 100, 4096] {
        let dir = tempfile::tempdir().unwrap();
        let seg = journal_of_100(dir.path());
        let before = fs::read(&seg).unwrap().len();
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&vec![0u8; zeros]).unwrap();
        drop(f);
        let mut j = open(dir.path(), 1 << 20).unwrap();
        assert_eq!(j.durable_seq(), Seq(100), "zeros {zeros}");
        assert_eq!(j.recovery().truncated_bytes, zeros as u64);
        assert_eq!(fs::read(&seg).unwrap().len(), before);
        j.append(&batch(101, 110)).unwrap();
        drop(j);
        assert_eq!(
            open(dir.path(), 1 << 20)
                .unwrap()
                .read_from(Seq(1))
                .unwrap(),
            batch(1, 110)
        );
    }

    // One batch of 101..=300 written over the end of 1..=100, its sectors from one inside
    // a record onwards never written.
    let dir = tempfile::tempdir().unwrap();
    let seg = journal_of_100(dir.path());
    let durable_len = fs::read(&seg).unwrap().len();
    let mut j = open(dir.path(), 1 << 20).unwrap();
    j.append(&batch(101, 300)).unwrap();
    drop(j);
    let mut bytes = fs::read(&seg).unwrap();
    let offsets = record_offsets(&bytes);
    let boundary = (durable_len + 600).div_ceil(512) * 512;
    assert!(
        !offsets.contains(&boundary) && boundary < bytes.len() - 100,
        "the boundary falls inside a record of the batch"
    );
    bytes[boundary..].fill(0);
    fs::write(&seg, &bytes).unwrap();
    let whole = offsets.iter().filter(|&&o| o > 0 && o <= boundary).count() as u64;
    let j = open(dir.path(), 1 << 20).unwrap();
    assert_eq!(j.durable_seq(), Seq(whole));
    assert!(whole > 100, "some of the batch is kept");
    assert_eq!(j.read_from(Seq(1)).unwrap(), batch(1, whole));
    let kept = offsets[usize::try_from(whole).unwrap()];
    assert_eq!(j.recovery().truncated_bytes, (bytes.len() - kept) as u64);
}

/// The operator's way out: with `accept_corrupt_tail` the newest segment is cut at the
/// first damaged record, what went is reported, a snapshot beyond the new end is set
/// aside, and appending continues.
#[test]
fn accepting_the_loss_cuts_a_corrupt_tail_and_appending_continues() {
    let dir = tempfile::tempdir().unwrap();
    let seg = journal_of_100(dir.path());
    let mut j = open(dir.path(), 1 << 20).unwrap();
    j.save_snapshot(Seq(50), b"state at 50").unwrap();
    j.save_snapshot(Seq(100), b"state at 100").unwrap();
    drop(j);
    let mut bytes = fs::read(&seg).unwrap();
    let n = bytes.len();
    let last = record_offsets(&bytes)[99];
    bytes[n - 5] ^= 0x10;
    fs::write(&seg, &bytes).unwrap();
    // Refused without the flag, and nothing is touched.
    assert_corrupt_at(&open(dir.path(), 1 << 20).unwrap_err(), &seg, last);
    let mut j = open_accepting_loss(dir.path(), 1 << 20).unwrap();
    assert_eq!(j.durable_seq(), Seq(99));
    let dropped = j.recovery().dropped.clone().expect("the loss is reported");
    assert_eq!(
        dropped.at,
        Location::File {
            path: seg.clone(),
            offset: last as u64
        }
    );
    assert_eq!(dropped.bytes, (n - last) as u64);
    assert_eq!(dropped.kept_seq, 99);
    assert_eq!(j.recovery().truncated_bytes, 0, "not a torn write");
    let aside = dir
        .path()
        .join(format!("snapshot-{:020}.snap.dropped", 100));
    assert_eq!(dropped.snapshots_set_aside, vec![aside.clone()]);
    assert!(aside.exists());
    assert_eq!(
        j.latest_snapshot().unwrap(),
        Some((Seq(50), b"state at 50".to_vec()))
    );
    assert_eq!(fs::read(&seg).unwrap().len(), last);
    j.append(&batch(100, 120)).unwrap();
    drop(j);
    let j = open(dir.path(), 1 << 20).unwrap();
    assert_eq!(j.read_from(Seq(1)).unwrap(), batch(1, 120));
    assert_eq!(j.recovery().dropped, None);

    // Damage mid-segment, with intact records after it: cut there too (they go with it).
    let dir = tempfile::tempdir().unwrap();
    let seg = journal_of_100(dir.path());
    let mut bytes = fs::read(&seg).unwrap();
    let at = record_offsets(&bytes)[40];
    bytes[at + 10] ^= 0xFF;
    fs::write(&seg, &bytes).unwrap();
    assert_corrupt_at(&open(dir.path(), 1 << 20).unwrap_err(), &seg, at);
    let j = open_accepting_loss(dir.path(), 1 << 20).unwrap();
    assert_eq!(j.durable_seq(), Seq(40));
    assert_eq!(
        j.recovery().dropped.as_ref().unwrap().bytes,
        (bytes.len() - at) as u64
    );
}

/// Damage in an older segment is refused even when the operator accepts a lost tail:
/// cutting there would drop whole later segments.
#[test]
fn corruption_in_an_older_segment_is_refused_even_accepting_loss() {
    let dir = tempfile::tempdir().unwrap();
    // A one-byte segment size rolls a new file for every batch.
    let mut j = open(dir.path(), 1).unwrap();
    j.append(&batch(1, 10)).unwrap();
    j.append(&batch(11, 20)).unwrap();
    drop(j);
    let first = dir.path().join("journal-00000000000000000001.log");
    let mut bytes = fs::read(&first).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 0x10;
    fs::write(&first, &bytes).unwrap();
    let newest = newest_segment(dir.path());
    let newest_before = fs::read(&newest).unwrap();
    let err = open_accepting_loss(dir.path(), 1).unwrap_err();
    assert_corrupt_at(&err, &first, record_offsets(&bytes)[9]);
    assert_eq!(fs::read(&first).unwrap(), bytes, "nothing was cut");
    assert_eq!(fs::read(&newest).unwrap(), newest_before, "nothing was cut");
}

/// One writer per directory: a second open is refused, clearly and for good, while the
/// first journal is alive; once it is dropped the directory can be opened again.
#[test]
fn a_second_open_of_the_same_directory_is_refused_while_the_first_lives() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = open(dir.path(), 1 << 20).unwrap();
    first.append(&batch(1, 10)).unwrap();
    let err = open(dir.path(), 1 << 20).unwrap_err();
    let JournalError::FileLocked { path, pid } = &err else {
        panic!("expected FileLocked, got: {err}")
    };
    assert_eq!(path, dir.path());
    assert_eq!(*pid, Some(std::process::id()));
    let msg = err.to_string();
    assert!(
        msg.contains("another bourse process")
            && msg.contains("stop that process first")
            && msg.contains(&dir.path().display().to_string()),
        "{msg}"
    );
    assert!(!err.is_retryable());
    // Even accepting loss does not get around it.
    assert!(matches!(
        open_accepting_loss(dir.path(), 1 << 20),
        Err(JournalError::FileLocked { .. })
    ));
    // The refused opener changed nothing: the first one keeps appending.
    first.append(&batch(11, 20)).unwrap();
    drop(first);
    let j = open(dir.path(), 1 << 20).unwrap();
    assert_eq!(j.read_from(Seq(1)).unwrap(), batch(1, 20));
}

/// Files the journal creates are its owner's alone: the directory 0700, the lock file,
/// segments and snapshots 0600.
#[test]
fn files_are_private_to_their_owner() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("new").join("journal");
    let mut j = open(&dir, 1).unwrap();
    j.append(&batch(1, 10)).unwrap();
    j.append(&batch(11, 20)).unwrap();
    j.save_snapshot(Seq(0), b"genesis").unwrap();
    j.save_snapshot(Seq(20), b"state at 20").unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700, "the journal directory");
    assert_eq!(mode(&root.path().join("new")), 0o700, "a parent it created");
    let mut files = 0;
    for e in fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        assert_eq!(mode(&p), 0o600, "{}", p.display());
        files += 1;
    }
    // LOCK, two segments, two snapshots.
    assert_eq!(files, 5);
}
