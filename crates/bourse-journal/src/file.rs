//! The embedded journal: segmented append-only files with a CRC per record.
//!
//! Layout of a directory:
//! - `journal-<first seq, 20 digits>.log`: records `[payload length: u32 LE][CRC-32 of the
//!   payload: u32 LE][payload: codec-encoded Sequenced]`, seqs rising by one across files.
//! - `snapshot-<seq, 20 digits>.snap`: `[b"BSNP"][CRC-32: u32 LE][length: u64 LE][bytes]`,
//!   written to a temporary name, synced, then renamed, so a snapshot is whole or absent.
//!
//! A group commit is one `write` of the whole batch and one `fdatasync`. On open, every
//! record is checked: a damaged record at the very end of the newest file is a torn write
//! from a crash and is cut off (it was never acknowledged); damage anywhere else, or a seq
//! gap, refuses to open with the file and byte offset.
//!
//! A failed write or `fdatasync` makes the journal refuse every later append
//! ([`JournalError::Unusable`]): after a failed `fdatasync` Linux may have dropped the dirty
//! pages and a second `fdatasync` would report success for data that is not on disk, and a
//! partial write would sit in front of the retried records. Restarting reopens the files,
//! which cuts such a partial write off as a torn tail.
//!
//! Reads stream: one record at a time through a buffered reader, so replaying a long
//! journal holds one record in memory, not a segment.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use bourse_core::codec;
use bourse_core::{Seq, Sequenced};

use crate::{Journal, JournalError, Location, undurable_part};

/// Larger records than this are refused (and a header claiming one is damage).
const MAX_RECORD: u32 = 16 << 20;
const HEADER: usize = 8;
const SNAP_MAGIC: &[u8; 4] = b"BSNP";

/// Tuning for [`FileJournal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileJournalOptions {
    /// A segment is closed once it holds at least this many bytes.
    pub segment_bytes: u64,
}

impl Default for FileJournalOptions {
    fn default() -> Self {
        Self {
            segment_bytes: 256 << 20,
        }
    }
}

/// What opening found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Bytes of a torn final record that were cut off.
    pub truncated_bytes: u64,
    /// Records found intact.
    pub records: u64,
    pub segments: usize,
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
    tail_bytes: u64,
    durable: u64,
    recovery: Recovery,
    buf: Vec<u8>,
    /// Set by a failed write or sync; every later append is refused (see the module docs).
    failed: Option<String>,
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

/// One record parsed from `bytes` at `at`: `Ok(Some((record, next offset)))`, `Ok(None)` at
/// the end, `Err(reason)` if the bytes there are not a whole, intact record.
fn parse_at(bytes: &[u8], at: usize) -> Result<Option<(Sequenced, usize)>, String> {
    if at == bytes.len() {
        return Ok(None);
    }
    let header = bytes
        .get(at..at + HEADER)
        .ok_or("record header cut short")?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
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

impl FileJournal {
    /// Opens (or creates) the journal in `dir`, checking every record.
    pub fn open(dir: impl AsRef<Path>, opts: FileJournalOptions) -> Result<Self, JournalError> {
        let dir = dir.as_ref().to_owned();
        fs::create_dir_all(&dir).map_err(io(&dir))?;
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
                        // A crash can only tear the last write: damage in the newest file
                        // with no intact record anywhere after it is that. Anything else
                        // (even a damaged length that seems to run to the end) is corruption,
                        // and cutting it off would lose acknowledged records.
                        let later_intact = (at + 1..bytes.len())
                            .any(|p| matches!(parse_at(&bytes, p), Ok(Some(_))));
                        let reaches_end = !later_intact;
                        if Some(k) == last_index && reaches_end {
                            let cut = (bytes.len() - at) as u64;
                            let f = OpenOptions::new()
                                .write(true)
                                .open(&path)
                                .map_err(io(&path))?;
                            f.set_len(at as u64).map_err(io(&path))?;
                            f.sync_all().map_err(io(&path))?;
                            recovery.truncated_bytes = cut;
                            break;
                        }
                        return Err(corrupt(&path, at as u64, what));
                    }
                }
            }
            if Some(k) == last_index {
                tail_bytes = at as u64;
            }
            segments.push(Segment { path, first_seq });
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
            durable: expected.map_or(0, |e| e - 1),
            dir,
            opts,
            segments,
            tail,
            tail_bytes,
            recovery,
            buf: Vec::with_capacity(64 << 10),
            failed: None,
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
            .open(&path)
            .map_err(io(&path))?;
        sync_dir(&self.dir)?;
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
        let path = &self.segments[self.segments.len() - 1].path;
        let Some(f) = self.tail.as_mut() else {
            return Ok(());
        };
        if let Err(e) = f.write_all(&self.buf).and_then(|()| f.sync_data()) {
            self.failed = Some(format!("write or fdatasync of {}: {e}", path.display()));
            return Err(JournalError::Io {
                path: path.clone(),
                source: e,
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
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(SNAP_MAGIC).map_err(io(&tmp))?;
        f.write_all(&crc32fast::hash(bytes).to_le_bytes())
            .map_err(io(&tmp))?;
        f.write_all(&(bytes.len() as u64).to_le_bytes())
            .map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
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
