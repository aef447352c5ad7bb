//! The embedded journal: segmented append-only files with a CRC per record.
//!
//! Layout of a directory (created `0700`; every file in it `0600`):
//! - `LOCK`: an exclusive lock (`flock`) held for the journal's whole life, so a second
//!   process opening the same directory is refused ([`JournalError::FileLocked`]) instead
//!   of acknowledging different commands at the same seqs. The file holds the holder's pid.
//! - `journal-<first seq, 20 digits>.log`: records `[payload length: u32 LE][CRC-32 of the
//!   payload: u32 LE][payload: codec-encoded Sequenced]`, seqs rising by one across files.
//! - `snapshot-<seq, 20 digits>.snap`: `[b"BSNP"][CRC-32: u32 LE][length: u64 LE][bytes]`,
//!   written to a temporary name, synced, then renamed, so a snapshot is whole or absent.
//!
//! A group commit is one `write` of the whole batch and one `fdatasync`.
//!
//! **Open checks every record.** Damage at the end of the newest file is a *torn write*
//! (a crash mid-commit: never acknowledged, cut off with a warning) only when it looks like
//! one: the last record's header or payload runs past the end of the file, or everything
//! from the damaged record — or from a 512-byte boundary inside it, when the zeros run on
//! past its end — to the end of the file is zero bytes (blocks a power loss left
//! unwritten). A record that is complete but fails its checksum or does not decode, a
//! length running past the end whose bytes to the end still carry the record's checksum (a
//! damaged length), damage followed by intact records, and damage in any older file, are
//! *corruption*: open refuses with the file and byte offset ([`JournalError::Corrupt`]),
//! since cutting it off would drop acknowledged commands. An operator who accepts that
//! loss opens with [`FileJournalOptions::accept_corrupt_tail`] (`bourse journal repair
//! --accept-loss`): the newest file is cut at the first damaged record, snapshots beyond
//! the new end are set aside, and [`Recovery::dropped`] says what went.
//!
//! **A failed write or `fdatasync`** cuts the newest file back to its last durable length
//! and syncs that. If this works and the error was a full disk or quota
//! ([`JournalError::StorageFull`]), the journal stays usable and the same append may be
//! retried: the batch is then written exactly once. Any other failure, or a failed cut,
//! makes the journal refuse every later append ([`JournalError::Unusable`]): after a failed
//! `fdatasync` of other causes Linux may have dropped the dirty pages and a second
//! `fdatasync` would report success for data that is not on disk. Restarting reopens the
//! files, which cuts a partial write off as a torn tail.
//!
//! Reads stream: one record at a time through a buffered reader, so replaying a long
//! journal holds one record in memory, not a segment.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use bourse_core::codec;
use bourse_core::{Seq, Sequenced};

use crate::{Journal, JournalError, Location, undurable_part};

/// Larger records than this are refused (and a header claiming one is damage).
const MAX_RECORD: u32 = 16 << 20;
const HEADER: usize = 8;
const SNAP_MAGIC: &[u8; 4] = b"BSNP";
/// The smallest unit a disk writes: a power loss leaves whole sectors unwritten.
const SECTOR: usize = 512;
/// Name of the lock file in the journal's directory.
pub const LOCK_FILE: &str = "LOCK";
/// Suffix given to a snapshot set aside by an accepted loss (it covers dropped commands).
pub const SET_ASIDE_SUFFIX: &str = ".dropped";
/// Mode of every file the journal creates, and of its directory when it creates it: the
/// journal holds every account's orders and credentials' hashes.
const FILE_MODE: u32 = 0o600;
const DIR_MODE: u32 = 0o700;

/// Tuning for [`FileJournal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileJournalOptions {
    /// A segment is closed once it holds at least this many bytes.
    pub segment_bytes: u64,
    /// The operator accepts losing a damaged tail of the newest segment: open cuts it off
    /// at the first damaged record instead of refusing, although the records lost may
    /// have been acknowledged (see [`Recovery::dropped`]). Off by default, and meant for
    /// `bourse journal repair --accept-loss` only: restoring from a copy loses nothing.
    /// Damage in an older segment is refused even so.
    pub accept_corrupt_tail: bool,
}

impl Default for FileJournalOptions {
    fn default() -> Self {
        Self {
            segment_bytes: 256 << 20,
            accept_corrupt_tail: false,
        }
    }
}

/// What opening found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Bytes of a torn final write that were cut off (never acknowledged).
    pub truncated_bytes: u64,
    /// Records found intact (before any cut).
    pub records: u64,
    pub segments: usize,
    /// A damaged tail cut off because [`FileJournalOptions::accept_corrupt_tail`] was set.
    pub dropped: Option<DroppedTail>,
}

/// A corrupt tail of the newest segment that an operator chose to drop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DroppedTail {
    /// The first damaged record.
    pub at: Location,
    /// What was wrong with it.
    pub what: String,
    /// Bytes cut off: the damaged record and everything after it in that segment.
    pub bytes: u64,
    /// The last seq kept: the journal now ends there.
    pub kept_seq: u64,
    /// Snapshots of seqs after `kept_seq`, renamed with [`SET_ASIDE_SUFFIX`]: they hold
    /// state the journal no longer has, and recovery would refuse them.
    pub snapshots_set_aside: Vec<PathBuf>,
}

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    first_seq: u64,
}

/// The file-backed [`Journal`].
#[derive(Debug)]
pub struct FileJournal {
    dir: PathBuf,
    opts: FileJournalOptions,
    segments: Vec<Segment>,
    /// The newest segment, open for appending.
    tail: Option<File>,
    /// The newest segment's durable length.
    tail_bytes: u64,
    durable: u64,
    recovery: Recovery,
    buf: Vec<u8>,
    /// Set by a failed write or sync that could not be undone; every later append is
    /// refused (see the module docs).
    failed: Option<String>,
    /// Holds the directory's `flock` until the journal is dropped.
    _lock: File,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_owned(),
        source,
    }
}

fn corrupt(path: &Path, offset: u64, what: impl Into<String>) -> JournalError {
    JournalError::Corrupt {
        at: Location::File {
            path: path.to_owned(),
            offset,
        },
        what: what.into(),
    }
}

fn segment_name(first_seq: u64) -> String {
    format!("journal-{first_seq:020}.log")
}

/// Files in `dir` named `<prefix><20 digits><suffix>`, by the number.
fn numbered(dir: &Path, prefix: &str, suffix: &str) -> Result<Vec<(u64, PathBuf)>, JournalError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(n) = name
            .strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(suffix))
            && n.len() == 20
            && let Ok(n) = n.parse::<u64>()
        {
            out.push((n, entry.path()));
        }
    }
    out.sort_unstable();
    Ok(out)
}

fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Whether `e` means the file system has no room (or the quota is used up): the one write
/// failure that freeing space cures.
fn storage_full(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded)
}

/// Takes the exclusive lock of the journal in `dir` (without waiting) and writes this
/// process's pid into the lock file, for the message a second opener gets.
/// How long opening waits for a journal's lock before it is another writer's.
const LOCK_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

fn lock_dir(dir: &Path) -> Result<File, JournalError> {
    let path = dir.join(LOCK_FILE);
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(&path)
        .map_err(io(&path))?;
    // A lock held a moment longer than its journal is normal: `flock` belongs to the open
    // file, which a child forked by another thread of the same process shares until its
    // `exec` closes it (and a process that just exited may not have released it yet). So
    // wait briefly before calling it another writer's.
    let deadline = std::time::Instant::now() + LOCK_GRACE;
    let mut held = f.try_lock();
    while matches!(held, Err(fs::TryLockError::WouldBlock)) && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
        held = f.try_lock();
    }
    match held {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let pid = f
                .read_to_string(&mut text)
                .ok()
                .and_then(|_| text.trim().parse().ok());
            return Err(JournalError::FileLocked {
                path: dir.to_owned(),
                pid,
            });
        }
        Err(fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
    }
    // Only informative (the lock is what counts), so a failure here is not worth refusing
    // to start over.
    let _ = f
        .set_len(0)
        .and_then(|()| f.seek(SeekFrom::Start(0)))
        .and_then(|_| writeln!(f, "{}", std::process::id()));
    Ok(f)
}

/// One record parsed from `bytes` at `at`: `Ok(Some((record, next offset)))`, `Ok(None)` at
/// the end, `Err(reason)` if the bytes there are not a whole, intact record.
fn parse_at(bytes: &[u8], at: usize) -> Result<Option<(Sequenced, usize)>, String> {
    if at == bytes.len() {
        return Ok(None);
    }
    let header = bytes
        .get(at..at + HEADER)
        .ok_or("record header cut short")?;
    let (len, crc) = header_fields(header);
    if len == 0 || len > MAX_RECORD {
        return Err(format!("impossible record length {len}"));
    }
    let end = at + HEADER + len as usize;
    let payload = bytes.get(at + HEADER..end).ok_or("record cut short")?;
    if crc32fast::hash(payload) != crc {
        return Err("record checksum mismatch".to_owned());
    }
    let record = codec::decode::<Sequenced>(payload).map_err(|e| e.to_string())?;
    Ok(Some((record, end)))
}

/// `(payload length, CRC)` of an 8-byte record header.
fn header_fields(h: &[u8]) -> (u32, u32) {
    let word = |i: usize| {
        let mut w = [0u8; 4];
        if let Some(b) = h.get(i..i + 4) {
            w.copy_from_slice(b);
        }
        u32::from_le_bytes(w)
    };
    (word(0), word(4))
}

/// What a damaged record at the end of the newest segment is.
#[derive(Debug, PartialEq, Eq)]
enum Damage {
    /// The remains of a write a crash or power loss interrupted: never acknowledged.
    Torn(&'static str),
    /// Anything else: the record (and maybe others) may have been acknowledged.
    Corrupt(String),
}

/// Classifies the damage `parse_at` reported (`what`) at `at` of the newest segment
/// `bytes` (see the module docs for the rules and why).
fn classify(bytes: &[u8], at: usize, what: String) -> Damage {
    let rest = bytes.get(at..).unwrap_or_default();
    if rest.iter().all(|&b| b == 0) {
        return Damage::Torn("zero bytes to the end of the file");
    }
    // A crash tears only the last write: an intact record after the damage means the
    // damage is not a tear (even if, say, a damaged length seems to run to the end).
    if (at + 1..bytes.len()).any(|p| matches!(parse_at(bytes, p), Ok(Some(_)))) {
        return Damage::Corrupt(format!("{what}, with intact records after it"));
    }
    let Some(header) = rest.get(..HEADER) else {
        return Damage::Torn("record header cut short");
    };
    let (len, crc) = header_fields(header);
    if len == 0 || len > MAX_RECORD {
        return Damage::Corrupt(what);
    }
    let start = at + HEADER;
    let end = start + len as usize;
    if end > bytes.len() {
        let tail = bytes.get(start..).unwrap_or_default();
        if crc32fast::hash(tail) == crc {
            // The whole payload is there (its checksum proves it): the length is damaged.
            return Damage::Corrupt(format!(
                "record length {len} runs past the end of the file, but the {} bytes up to \
                 the end carry the record's checksum: a complete record with a damaged length",
                tail.len()
            ));
        }
        return Damage::Torn("record cut short");
    }
    // A complete record that fails its checks is torn only if a power loss explains it:
    // the file was extended over the whole write but its last sectors never written, so
    // zeros run from a sector boundary inside the record on past its end. (Past its end,
    // because a damaged last record may well end in zero bytes of its own.)
    let zeros_from = bytes.len() - bytes.iter().rev().take_while(|&&b| b == 0).count();
    let boundary = zeros_from.max(at + 1).div_ceil(SECTOR) * SECTOR;
    if end < bytes.len() && boundary < end {
        return Damage::Torn("sectors after a boundary inside the last record never written");
    }
    Damage::Corrupt(what)
}

/// Cuts `path` to `len` bytes, durably.
fn truncate(path: &Path, len: u64) -> Result<(), JournalError> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io(path))?;
    f.set_len(len).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// Renames every snapshot after `seq` aside (an accepted loss dropped what they cover).
fn set_aside_snapshots(dir: &Path, seq: u64) -> Result<Vec<PathBuf>, JournalError> {
    let mut moved = Vec::new();
    for (s, path) in numbered(dir, "snapshot-", ".snap")? {
        if s > seq {
            let mut to = path.clone().into_os_string();
            to.push(SET_ASIDE_SUFFIX);
            let to = PathBuf::from(to);
            fs::rename(&path, &to).map_err(io(&path))?;
            moved.push(to);
        }
    }
    if !moved.is_empty() {
        sync_dir(dir)?;
    }
    Ok(moved)
}

impl FileJournal {
    /// Opens (or creates) the journal in `dir`, taking its lock and checking every record.
    pub fn open(dir: impl AsRef<Path>, opts: FileJournalOptions) -> Result<Self, JournalError> {
        let dir = dir.as_ref().to_owned();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(&dir)
            .map_err(io(&dir))?;
        let lock = lock_dir(&dir)?;
        let found = numbered(&dir, "journal-", ".log")?;
        let mut recovery = Recovery {
            segments: found.len(),
            ..Recovery::default()
        };
        let mut segments = Vec::with_capacity(found.len());
        let mut expected: Option<u64> = None;
        let mut tail_bytes = 0;
        let last_index = found.len().checked_sub(1);
        for (k, (first_seq, path)) in found.into_iter().enumerate() {
            let newest = Some(k) == last_index;
            let bytes = fs::read(&path).map_err(io(&path))?;
            let mut at = 0;
            let mut first_in_file = true;
            loop {
                match parse_at(&bytes, at) {
                    Ok(None) => break,
                    Ok(Some((rec, next))) => {
                        let seq = rec.seq.0;
                        if first_in_file && seq != first_seq {
                            return Err(corrupt(
                                &path,
                                0,
                                format!(
                                    "file is named for seq {first_seq} but starts at seq {seq}"
                                ),
                            ));
                        }
                        if let Some(want) = expected
                            && seq != want
                        {
                            return Err(JournalError::Gap {
                                at: Location::File {
                                    path,
                                    offset: at as u64,
                                },
                                expected: want,
                                found: seq,
                            });
                        }
                        expected = Some(seq + 1);
                        first_in_file = false;
                        recovery.records += 1;
                        at = next;
                    }
                    Err(what) => {
                        // Only the newest file can end in a torn write; damage anywhere
                        // else is corruption whatever it looks like.
                        let damage = if newest {
                            classify(&bytes, at, what)
                        } else {
                            Damage::Corrupt(what)
                        };
                        let cut = (bytes.len() - at) as u64;
                        match damage {
                            Damage::Torn(why) => {
                                truncate(&path, at as u64)?;
                                tracing::warn!(
                                    path = %path.display(),
                                    offset = at,
                                    bytes = cut,
                                    "journal: cut off a torn final write ({why}); it was \
                                     never acknowledged"
                                );
                                recovery.truncated_bytes = cut;
                            }
                            Damage::Corrupt(what) if newest && opts.accept_corrupt_tail => {
                                truncate(&path, at as u64)?;
                                recovery.dropped = Some(DroppedTail {
                                    at: Location::File {
                                        path: path.clone(),
                                        offset: at as u64,
                                    },
                                    what,
                                    bytes: cut,
                                    kept_seq: 0, // known once every file is read
                                    snapshots_set_aside: Vec::new(),
                                });
                            }
                            Damage::Corrupt(what) => return Err(corrupt(&path, at as u64, what)),
                        }
                        break;
                    }
                }
            }
            if newest {
                tail_bytes = at as u64;
            }
            segments.push(Segment { path, first_seq });
        }
        let durable = expected.map_or(0, |e| e - 1);
        if let Some(d) = &mut recovery.dropped {
            d.kept_seq = durable;
            d.snapshots_set_aside = set_aside_snapshots(&dir, durable)?;
            tracing::error!(
                at = %d.at,
                what = %d.what,
                bytes_dropped = d.bytes,
                last_seq_kept = durable,
                snapshots_set_aside = d.snapshots_set_aside.len(),
                "journal: corrupt tail DROPPED as the operator asked; commands after seq \
                 {durable} in it are lost, acknowledged or not"
            );
        }
        let tail = match segments.last() {
            Some(s) => Some(
                OpenOptions::new()
                    .append(true)
                    .open(&s.path)
                    .map_err(io(&s.path))?,
            ),
            None => None,
        };
        Ok(Self {
            durable,
            dir,
            opts,
            segments,
            tail,
            tail_bytes,
            recovery,
            buf: Vec::with_capacity(64 << 10),
            failed: None,
            _lock: lock,
        })
    }

    /// What opening found and repaired.
    #[must_use]
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn roll(&mut self, first_seq: u64) -> Result<(), JournalError> {
        let path = self.dir.join(segment_name(first_seq));
        let f = OpenOptions::new()
            .create_new(true)
            .append(true)
            .mode(FILE_MODE)
            .open(&path)
            .map_err(|e| {
                if storage_full(&e) {
                    JournalError::StorageFull {
                        path: path.clone(),
                        source: e,
                    }
                } else {
                    io(&path)(e)
                }
            })?;
        if let Err(e) = sync_dir(&self.dir) {
            // Not a segment yet: remove it, so that a retry can create it again.
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        self.segments.push(Segment { path, first_seq });
        self.tail = Some(f);
        self.tail_bytes = 0;
        Ok(())
    }
}

impl FileJournal {
    /// Streams the records of seqs `from..=upto` of one segment (whose records run from
    /// `seg.first_seq` to at least `upto`, as checked at open) into `f`. Records before
    /// `from` are skipped by their length alone: their checksums were checked at open, and
    /// decoding them would only be thrown away.
    fn stream_segment(
        seg: &Segment,
        from: u64,
        upto: u64,
        payload: &mut Vec<u8>,
        f: &mut dyn FnMut(Sequenced) -> Result<(), JournalError>,
    ) -> Result<(), JournalError> {
        let path = &seg.path;
        let file = File::open(path).map_err(io(path))?;
        let mut r = BufReader::with_capacity(READ_BUFFER, file);
        let mut offset = 0u64;
        let mut seq = seg.first_seq;
        let cut_short = |offset, e: std::io::Error| {
            if e.kind() == ErrorKind::UnexpectedEof {
                corrupt(
                    path,
                    offset,
                    "record cut short (the file shrank after it was opened)",
                )
            } else {
                JournalError::Io {
                    path: path.clone(),
                    source: e,
                }
            }
        };
        while seq <= upto {
            let mut header = [0u8; HEADER];
            r.read_exact(&mut header)
                .map_err(|e| cut_short(offset, e))?;
            let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
            let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
            if len == 0 || len > MAX_RECORD {
                return Err(corrupt(
                    path,
                    offset,
                    format!("impossible record length {len}"),
                ));
            }
            if seq < from {
                r.seek_relative(i64::from(len)).map_err(io(path))?;
            } else {
                payload.resize(len as usize, 0);
                r.read_exact(payload).map_err(|e| cut_short(offset, e))?;
                if crc32fast::hash(payload) != crc {
                    return Err(corrupt(path, offset, "record checksum mismatch"));
                }
                let rec = codec::decode::<Sequenced>(payload)
                    .map_err(|e| corrupt(path, offset, e.to_string()))?;
                if rec.seq.0 != seq {
                    return Err(corrupt(
                        path,
                        offset,
                        format!("expected seq {seq}, the record holds seq {}", rec.seq.0),
                    ));
                }
                f(rec)?;
            }
            offset += HEADER as u64 + u64::from(len);
            seq += 1;
        }
        Ok(())
    }
}

/// Read buffer of [`FileJournal::for_each_from`]: large enough that a replay is a few
/// big reads per megabyte, small enough not to matter.
const READ_BUFFER: usize = 1 << 20;

impl Journal for FileJournal {
    fn append(&mut self, batch: &[Sequenced]) -> Result<(), JournalError> {
        if let Some(reason) = &self.failed {
            return Err(JournalError::Unusable {
                reason: reason.clone(),
            });
        }
        let todo = undurable_part(self.durable, batch)?;
        let (Some(first), Some(last)) = (todo.first(), todo.last()) else {
            return Ok(());
        };
        self.buf.clear();
        for rec in todo {
            let payload = codec::encode(rec).map_err(|source| JournalError::Encode {
                seq: rec.seq.0,
                source,
            })?;
            let len = u32::try_from(payload.len())
                .ok()
                .filter(|&l| l <= MAX_RECORD)
                .ok_or(JournalError::Encode {
                    seq: rec.seq.0,
                    source: codec::CodecError::Encode("record too large".to_owned()),
                })?;
            self.buf.extend_from_slice(&len.to_le_bytes());
            self.buf
                .extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
            self.buf.extend_from_slice(&payload);
        }
        if self.tail.is_none() || self.tail_bytes >= self.opts.segment_bytes {
            self.roll(first.seq.0)?;
        }
        let (Some(seg), Some(f)) = (self.segments.last(), self.tail.as_mut()) else {
            // `roll` gives a tail or fails; never acknowledge a batch that went nowhere.
            return Err(JournalError::Unusable {
                reason: "no segment to append to".to_owned(),
            });
        };
        let path = &seg.path;
        if let Err(e) = f.write_all(&self.buf).and_then(|()| f.sync_data()) {
            // Part of the batch may be in the file (a short write, or pages whose sync
            // failed): cut the file back to what is durable, so a retry writes the batch
            // exactly once and nothing unacknowledged sits in front of it.
            let cut = f.set_len(self.tail_bytes).and_then(|()| f.sync_data());
            return Err(match cut {
                Ok(()) if storage_full(&e) => JournalError::StorageFull {
                    path: path.clone(),
                    source: e,
                },
                Ok(()) => {
                    self.failed = Some(format!("write or fdatasync of {}: {e}", path.display()));
                    JournalError::Io {
                        path: path.clone(),
                        source: e,
                    }
                }
                Err(cut) => {
                    self.failed = Some(format!(
                        "write or fdatasync of {}: {e}; cutting it back to its durable \
                         length {} failed too: {cut}",
                        path.display(),
                        self.tail_bytes
                    ));
                    JournalError::Io {
                        path: path.clone(),
                        source: e,
                    }
                }
            });
        }
        self.tail_bytes += self.buf.len() as u64;
        self.durable = last.seq.0;
        Ok(())
    }

    fn durable_seq(&self) -> Seq {
        Seq(self.durable)
    }

    fn for_each_from(
        &self,
        from: Seq,
        f: &mut dyn FnMut(Sequenced) -> Result<(), JournalError>,
    ) -> Result<(), JournalError> {
        let from = from.0.max(1);
        if from > self.durable {
            return Ok(());
        }
        // Start at the last segment that begins at or before `from`.
        let start = self
            .segments
            .partition_point(|s| s.first_seq <= from)
            .saturating_sub(1);
        let mut payload = Vec::new();
        for (k, seg) in self.segments.iter().enumerate().skip(start) {
            // A segment's records end where the next one's begin (checked at open); only
            // durable records are ever shown.
            let upto = self
                .segments
                .get(k + 1)
                .map_or(self.durable, |next| next.first_seq - 1)
                .min(self.durable);
            Self::stream_segment(seg, from, upto, &mut payload, f)?;
        }
        Ok(())
    }

    fn save_snapshot(&mut self, seq: Seq, bytes: &[u8]) -> Result<(), JournalError> {
        let name = format!("snapshot-{:020}.snap", seq.0);
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let written = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(FILE_MODE)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(SNAP_MAGIC)?;
                f.write_all(&crc32fast::hash(bytes).to_le_bytes())?;
                f.write_all(&(bytes.len() as u64).to_le_bytes())?;
                f.write_all(bytes)?;
                f.sync_all()
            });
        if let Err(e) = written {
            // A half-written snapshot is useless, and on a full disk it holds the space the
            // journal needs to resume.
            let _ = fs::remove_file(&tmp);
            return Err(io(&tmp)(e));
        }
        fs::rename(&tmp, &path).map_err(io(&path))?;
        sync_dir(&self.dir)
    }

    fn latest_snapshot(&self) -> Result<Option<(Seq, Vec<u8>)>, JournalError> {
        for (seq, path) in numbered(&self.dir, "snapshot-", ".snap")?.into_iter().rev() {
            if let Some(body) = read_snapshot(&path)? {
                return Ok(Some((Seq(seq), body)));
            }
        }
        Ok(None)
    }

    fn snapshot_at(&self, seq: Seq) -> Result<Option<Vec<u8>>, JournalError> {
        let path = self.dir.join(format!("snapshot-{:020}.snap", seq.0));
        if !path.exists() {
            return Ok(None);
        }
        read_snapshot(&path)
    }

    fn prune_snapshots(&mut self, keep: usize) -> Result<(), JournalError> {
        let all = numbered(&self.dir, "snapshot-", ".snap")?;
        let old = all.len().saturating_sub(keep.max(1));
        let mut removed = false;
        for (seq, path) in all.into_iter().take(old) {
            if seq != 0 {
                fs::remove_file(&path).map_err(io(&path))?;
                removed = true;
            }
        }
        if removed {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }
}

/// A snapshot file's body if it is intact (magic, length and CRC agree), else `None`.
fn read_snapshot(path: &Path) -> Result<Option<Vec<u8>>, JournalError> {
    let bytes = fs::read(path).map_err(io(path))?;
    let intact = bytes.len() >= 16 && &bytes[..4] == SNAP_MAGIC && {
        let crc = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        let mut len = [0u8; 8];
        len.copy_from_slice(&bytes[8..16]);
        let body = &bytes[16..];
        u64::from_le_bytes(len) == body.len() as u64 && crc32fast::hash(body) == crc
    };
    Ok(intact.then(|| bytes[16..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `prefix` bytes of padding, then a record header for `payload` (its true length and
    /// checksum), then `payload` with byte `flip` inverted, then `after` zero bytes.
    fn damaged(prefix: usize, payload: &[u8], flip: usize, after: usize) -> (Vec<u8>, usize) {
        let mut bytes = vec![0xAB; prefix];
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        bytes.extend_from_slice(payload);
        bytes[prefix + HEADER + flip] ^= 0xFF;
        bytes.resize(bytes.len() + after, 0);
        (bytes, prefix)
    }

    fn class(bytes: &[u8], at: usize) -> Damage {
        let what = match parse_at(bytes, at) {
            Err(w) => w,
            Ok(r) => panic!("expected damage, parsed {r:?}"),
        };
        classify(bytes, at, what)
    }

    #[test]
    fn a_last_record_ending_in_its_own_zeros_is_not_taken_for_unwritten_sectors() {
        // The record runs from 500 to 528 across the sector boundary at 512, and its
        // payload's last 16 bytes are zeros of its own; a flip before them is corruption.
        let mut payload = vec![7u8; 4];
        payload.resize(20, 0);
        let (bytes, at) = damaged(500, &payload, 1, 0);
        assert!(matches!(class(&bytes, at), Damage::Corrupt(_)));
        // The same with zeros running on past its end: the write of a longer batch whose
        // sectors from 512 on never reached the disk.
        let (bytes, at) = damaged(500, &payload, 1, 40);
        assert!(matches!(class(&bytes, at), Damage::Torn(_)));
        // Zeros past the end, but from no boundary inside the record: corruption.
        let (bytes, at) = damaged(400, &payload, 1, 40);
        assert!(matches!(class(&bytes, at), Damage::Corrupt(_)));
    }

    #[test]
    fn cut_short_and_zero_filled_tails_are_torn() {
        let (full, at) = damaged(100, &[9u8; 50], 0, 0);
        let mut good = full.clone();
        good[at + HEADER] ^= 0xFF; // undo the flip: an intact record
        for cut in [1, 7, 8, 9, 57] {
            assert!(matches!(
                class(&good[..at + cut], at),
                Damage::Torn("record header cut short" | "record cut short")
            ));
        }
        let mut zeros = good[..at].to_vec();
        zeros.resize(at + 300, 0);
        assert_eq!(
            class(&zeros, at),
            Damage::Torn("zero bytes to the end of the file")
        );
        // An impossible length that is not zeros: corruption.
        let mut huge = good.clone();
        huge[at + 3] = 0xFF;
        assert!(matches!(class(&huge, at), Damage::Corrupt(_)));
    }
}
