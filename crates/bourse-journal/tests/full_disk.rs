//! The file journal on a full disk: a small tmpfs is mounted (the tests run as root; set
//! `BOURSE_ALLOW_NO_TMPFS=1` to skip where mounting is impossible), filled, and appended
//! to. An append that finds no room must leave nothing of its batch behind, say it may be
//! retried, and succeed exactly once when retried after space is freed.
#![allow(clippy::unwrap_used)]

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use bourse_core::{AccountId, Cash, Command as Cmd, Seq, Sequenced, UnixNanos};
use bourse_journal::{FileJournal, FileJournalOptions, Journal, JournalError};

fn cmd(seq: u64) -> Sequenced {
    Sequenced {
        seq: Seq(seq),
        ts: UnixNanos::new(1_000 * seq),
        cmd: Cmd::Deposit {
            account: AccountId::new(seq % 7 + 1),
            amount: Cash::from_raw(i64::try_from(seq).unwrap() * 10_000),
        },
    }
}

fn batch(from: u64, to: u64) -> Vec<Sequenced> {
    (from..=to).map(cmd).collect()
}

/// A tmpfs mounted for one test, unmounted when dropped (also when the test panics).
///
/// One at a time: a test frees space by deleting a file, and the space comes back only
/// once every descriptor of it is closed — a child that another test thread has just
/// forked (for `mount`) holds copies of this process's descriptors until it execs, so a
/// concurrent test could keep the disk full a moment longer (seen once in CI).
struct Tmpfs {
    dir: tempfile::TempDir,
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=` takes it); `None` if that is not
    /// possible here and `BOURSE_ALLOW_NO_TMPFS=1` says to skip.
    fn mount(size: &str) -> Option<Tmpfs> {
        let guard = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        let failed = match &out {
            Ok(o) if o.status.success() => {
                return Some(Tmpfs {
                    dir,
                    _one_at_a_time: guard,
                });
            }
            Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
            Err(e) => e.to_string(),
        };
        if std::env::var("BOURSE_ALLOW_NO_TMPFS").as_deref() == Ok("1") {
            eprintln!("SKIPPED: cannot mount a tmpfs here ({failed}); BOURSE_ALLOW_NO_TMPFS=1");
            return None;
        }
        panic!(
            "this test mounts a small tmpfs to fill it (needs root): `mount -t tmpfs` failed: \
             {failed}; set BOURSE_ALLOW_NO_TMPFS=1 to skip it"
        );
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Writes `path` until the file system is full; returns its length.
fn fill(path: &Path) -> u64 {
    let mut f = File::create(path).unwrap();
    let chunk = vec![0x55u8; 4096];
    let mut len = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(n) => len += n as u64,
            Err(e) if e.kind() == ErrorKind::StorageFull => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    len
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v
}

fn bytes_on_disk(dir: &Path) -> u64 {
    segments(dir)
        .iter()
        .map(|p| fs::metadata(p).unwrap().len())
        .sum()
}

#[test]
fn a_full_disk_is_retryable_and_the_retry_writes_the_batch_exactly_once() {
    let Some(fs_) = Tmpfs::mount("512k") else {
        return;
    };
    let dir = fs_.path().join("journal");
    let filler = fs_.path().join("filler");
    let mut j = FileJournal::open(&dir, FileJournalOptions::default()).unwrap();
    j.append(&batch(1, 100)).unwrap();
    let filled = fill(&filler);
    // Leave 16 KiB, then append a batch several times that size: part of it is written
    // before the disk is full, and must not stay.
    File::options()
        .write(true)
        .open(&filler)
        .unwrap()
        .set_len(filled - 16 * 1024)
        .unwrap();
    let mut next = 101;
    let durable_len;
    let failing = loop {
        let b = batch(next, next + 1_999);
        let before = bytes_on_disk(&dir);
        match j.append(&b) {
            Ok(()) => next += 2_000,
            Err(e) => {
                assert!(
                    matches!(e, JournalError::StorageFull { .. }),
                    "expected StorageFull, got: {e}"
                );
                assert!(e.is_retryable(), "{e}");
                assert_eq!(j.durable_seq(), Seq(next - 1));
                durable_len = bytes_on_disk(&dir);
                assert_eq!(durable_len, before, "nothing of the failed batch is kept");
                break b;
            }
        }
    };
    // Still full: the retry fails the same way, and the journal stays usable.
    let e = j.append(&failing).unwrap_err();
    assert!(matches!(e, JournalError::StorageFull { .. }), "{e}");
    assert_eq!(bytes_on_disk(&dir), durable_len);
    // A snapshot that does not fit leaves no partial file behind.
    assert!(
        j.save_snapshot(Seq(next - 1), &vec![1u8; 64 * 1024])
            .is_err()
    );
    let leftovers: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("snap"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Space is freed: the same batch goes through, once; appends carry on.
    fs::remove_file(&filler).unwrap();
    let last = failing.last().unwrap().seq.0;
    j.append(&failing).unwrap();
    assert_eq!(j.durable_seq(), Seq(last));
    j.append(&batch(last + 1, last + 10)).unwrap();
    drop(j);
    let j = FileJournal::open(&dir, FileJournalOptions::default()).unwrap();
    assert_eq!(j.recovery().truncated_bytes, 0, "no partial write was left");
    assert_eq!(j.read_from(Seq(1)).unwrap(), batch(1, last + 10));
}

/// A full disk when a new segment must be started: retryable too, and the segment is
/// created once room is made.
#[test]
fn a_full_disk_at_a_segment_roll_is_retryable() {
    let Some(fs_) = Tmpfs::mount("256k") else {
        return;
    };
    let dir = fs_.path().join("journal");
    let filler = fs_.path().join("filler");
    // One-byte segments: every append starts a new one.
    let opts = FileJournalOptions {
        segment_bytes: 1,
        ..FileJournalOptions::default()
    };
    let mut j = FileJournal::open(&dir, opts).unwrap();
    j.append(&batch(1, 10)).unwrap();
    fill(&filler);
    let mut next = 11;
    let failing = loop {
        let b = batch(next, next + 9);
        match j.append(&b) {
            Ok(()) => next += 10,
            Err(e) => {
                assert!(e.is_retryable(), "{e}");
                break b;
            }
        }
        assert!(next < 100_000, "the disk never filled");
    };
    fs::remove_file(&filler).unwrap();
    j.append(&failing).unwrap();
    drop(j);
    let j = FileJournal::open(&dir, opts).unwrap();
    assert_eq!(j.read_from(Seq(1)).unwrap(), batch(1, next + 9));
}
