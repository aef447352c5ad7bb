//! The journal conformance suite: what every backend must do. The file backend runs it here;
//! each check is a function of a backend factory, so another backend reuses it as is.
#![allow(clippy::unwrap_used)]

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use bourse_core::{AccountId, Cash, Command, Seq, Sequenced, UnixNanos};
use bourse_journal::{FileJournal, FileJournalOptions, Journal, JournalError};

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

/// Appended batches read back from any seq, in order; the watermark follows; a reopened
/// journal has everything.
fn append_read_back_and_reopen(make: &dyn Fn() -> Box<dyn Journal>) {
    let mut j = make();
    assert_eq!(j.durable_seq(), Seq(0));
    assert!(j.read_from(Seq(1)).unwrap().is_empty());
    j.append(&batch(1, 1)).unwrap();
    j.append(&batch(2, 500)).unwrap();
    j.append(&[]).unwrap();
    assert_eq!(j.durable_seq(), Seq(500));
    for from in [1, 2, 250, 499, 500, 501] {
        let got = j.read_from(Seq(from)).unwrap();
        assert_eq!(got, batch(from, 500), "from {from}");
    }
    drop(j);
    let j = make();
    assert_eq!(j.durable_seq(), Seq(500));
    assert_eq!(j.read_from(Seq(1)).unwrap(), batch(1, 500));
}

/// A batch that does not continue the journal exactly is refused and changes nothing.
fn gaps_and_repeats_refused(make: &dyn Fn() -> Box<dyn Journal>) {
    let mut j = make();
    j.append(&batch(1, 10)).unwrap();
    for bad in [batch(12, 13), batch(10, 11), batch(1, 3)] {
        assert!(matches!(
            j.append(&bad),
            Err(JournalError::OutOfOrder { last: 10, .. })
        ));
    }
    let mut holey = batch(11, 12);
    holey.push(cmd(14));
    assert!(j.append(&holey).is_err());
    assert_eq!(j.durable_seq(), Seq(10));
    assert_eq!(j.read_from(Seq(1)).unwrap(), batch(1, 10));
}

/// Snapshots: the newest intact one wins.
fn snapshots(make: &dyn Fn() -> Box<dyn Journal>) {
    let mut j = make();
    assert_eq!(j.latest_snapshot().unwrap(), None);
    j.save_snapshot(Seq(10), b"state at 10").unwrap();
    j.save_snapshot(Seq(20), b"state at 20").unwrap();
    assert_eq!(
        j.latest_snapshot().unwrap(),
        Some((Seq(20), b"state at 20".to_vec()))
    );
}

#[test]
fn file_backend_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let n = std::cell::Cell::new(0);
    let fresh = || {
        n.set(n.get() + 1);
        dir.path().join(format!("j{}", n.get()))
    };
    for check in [
        append_read_back_and_reopen,
        gaps_and_repeats_refused,
        snapshots,
    ] {
        let path = fresh();
        let make = || -> Box<dyn Journal> { Box::new(open(&path, 4096).unwrap()) };
        check(&make);
    }
}

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
    let JournalError::Corrupt { offset, .. } = &err else {
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
        matches!(err, JournalError::Corrupt { offset, .. } if offset == at as u64),
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
