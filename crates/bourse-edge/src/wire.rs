//! What the core publishes to JetStream and an edge reads back (see `docs/PROTOCOL.md`,
//! "Edge tier"): subjects, the message format, how a command's events are split over
//! subjects, and the [`Follower`] that puts them back together and notices any gap.
//!
//! Every message is one [`Msg`] in the project's codec (`bourse_core::codec`: a version byte,
//! then bincode), so an edge applies exactly the `Tagged` events the core's feed applied.
//!
//! - `<prefix>.md.<SYMBOL>`: a command's events that move that symbol's market data (`.` in a
//!   symbol becomes `_`); `<prefix>.md._all`: events that move every symbol (end of day);
//! - `<prefix>.acct.<account id>`: a command's events on that account's private stream;
//! - `<prefix>.snap`: the chunks of a feed image ([`SnapshotBody`]).
//!
//! Each part of a command carries its index among the command's published events (an
//! event on both a symbol and an account is in both messages, applied once) and `prev`, the
//! seq of the command published before it: a chain, so an edge knows when something between
//! is missing even though seqs are not contiguous (most commands move no market data).

use bourse_core::{AccountId, Event, Price, Qty, Symbol, Tagged};
use bourse_feed::FeedImage;
use serde::{Deserialize, Serialize};

/// Largest piece of a snapshot in one message (NATS refuses payloads over its
/// `max_payload`, 1 MiB by default).
pub const CHUNK_BYTES: usize = 256 * 1024;

/// One JetStream message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Msg {
    Events(Part),
    Snapshot(Chunk),
}

/// One command's events for one subject.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Part {
    /// The command's seq.
    pub seq: u64,
    /// The seq of the command published before this one (the chain).
    pub prev: u64,
    pub part: u16,
    pub parts: u16,
    /// Each event with its index among the command's published events.
    pub events: Vec<(u16, Tagged)>,
}

/// One piece of a feed image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// The core's seq the image was taken after.
    pub seq: u64,
    /// The chain position: the next command's `prev` is this.
    pub after: u64,
    /// Published as the core started: an edge takes it whatever it holds (the core may have
    /// released commands it could not publish before it stopped).
    pub reset: bool,
    pub part: u32,
    pub parts: u32,
    pub bytes: Vec<u8>,
}

/// A listed instrument, as the edge's REST routes show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingImage {
    pub symbol: Symbol,
    pub name: String,
    /// Core and edges run the same build: the image's layout is the build's (bincode).
    pub sector: String,
    pub tick: Price,
    pub lot: Qty,
    pub max_qty: Qty,
    pub fractional: bool,
}

/// What a snapshot holds: everything an edge needs to start serving.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SnapshotBody {
    pub listings: Vec<ListingImage>,
    pub feed: FeedImage,
}

/// A malformed message (never expected from a core of the same version).
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("undecodable message: {0}")]
    Codec(#[from] bourse_core::codec::CodecError),
    #[error("snapshot of more than {0} parts")]
    TooLarge(usize),
}

/// The subjects under one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    #[must_use]
    pub fn new(prefix: &str) -> Subjects {
        Subjects {
            prefix: prefix.to_owned(),
        }
    }

    /// Every subject of the stream.
    #[must_use]
    pub fn all(&self) -> String {
        format!("{}.>", self.prefix)
    }

    #[must_use]
    pub fn symbol(&self, s: Symbol) -> String {
        format!("{}.md.{}", self.prefix, s.as_str().replace('.', "_"))
    }

    #[must_use]
    pub fn every_symbol(&self) -> String {
        format!("{}.md._all", self.prefix)
    }

    #[must_use]
    pub fn account(&self, a: AccountId) -> String {
        format!("{}.acct.{}", self.prefix, a.get())
    }

    #[must_use]
    pub fn snapshot(&self) -> String {
        format!("{}.snap", self.prefix)
    }
}

/// Where a released event goes: the subjects it is published on (none: the feed never
/// looks at it).
fn routes(subjects: &Subjects, t: &Tagged, out: &mut Vec<String>) {
    out.clear();
    if let Some(sym) = bourse_feed::hub::symbol_of(&t.event) {
        out.push(subjects.symbol(sym));
    } else if matches!(t.event, Event::DayEnded { .. }) {
        out.push(subjects.every_symbol());
    }
    if t.aseq > 0
        && bourse_feed::private::channel_of(&t.event).is_some()
        && let Some(a) = t.event.stream_account()
    {
        out.push(subjects.account(a));
    }
}

/// Whether the feed looks at this event at all.
#[must_use]
pub fn feeds(t: &Tagged) -> bool {
    bourse_feed::hub::symbol_of(&t.event).is_some()
        || matches!(t.event, Event::DayEnded { .. })
        || (t.aseq > 0 && bourse_feed::private::channel_of(&t.event).is_some())
}

/// One command's events (all of one seq, in order) as messages, one per subject, in the
/// order they are to be published; empty if none concerns the feed.
pub fn split_command(
    subjects: &Subjects,
    prev: u64,
    events: &[Tagged],
) -> Result<Vec<(String, Vec<u8>)>, WireError> {
    let mut by_subject: Vec<(String, Vec<(u16, Tagged)>)> = Vec::new();
    let mut to = Vec::new();
    let mut idx: u16 = 0;
    for t in events {
        routes(subjects, t, &mut to);
        if to.is_empty() {
            continue;
        }
        for subject in to.drain(..) {
            match by_subject.iter_mut().find(|(s, _)| *s == subject) {
                Some((_, list)) => list.push((idx, *t)),
                None => by_subject.push((subject, vec![(idx, *t)])),
            }
        }
        idx = idx.saturating_add(1);
    }
    let Some(seq) = events.first().map(|t| t.seq.0) else {
        return Ok(Vec::new());
    };
    let parts = u16::try_from(by_subject.len()).unwrap_or(u16::MAX);
    by_subject
        .into_iter()
        .enumerate()
        .map(|(i, (subject, events))| {
            let msg = Msg::Events(Part {
                seq,
                prev,
                part: u16::try_from(i).unwrap_or(u16::MAX),
                parts,
                events,
            });
            Ok((subject, bourse_core::codec::encode(&msg)?))
        })
        .collect()
}

/// A feed image as messages on the snapshot subject.
pub fn split_snapshot(
    seq: u64,
    after: u64,
    reset: bool,
    body: &SnapshotBody,
) -> Result<Vec<Vec<u8>>, WireError> {
    let bytes = bourse_core::codec::encode(body)?;
    let pieces: Vec<&[u8]> = bytes.chunks(CHUNK_BYTES).collect();
    let parts = u32::try_from(pieces.len()).map_err(|_| WireError::TooLarge(pieces.len()))?;
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let msg = Msg::Snapshot(Chunk {
                seq,
                after,
                reset,
                part: u32::try_from(i).unwrap_or(u32::MAX),
                parts,
                bytes: piece.to_vec(),
            });
            Ok(bourse_core::codec::encode(&msg)?)
        })
        .collect()
}

/// Decodes one message.
pub fn decode(bytes: &[u8]) -> Result<Msg, WireError> {
    Ok(bourse_core::codec::decode(bytes)?)
}

/// What the follower asks its owner to do with a message.
#[derive(Debug)]
pub enum Step {
    /// Nothing yet (a part of a command or snapshot, or something already applied).
    Wait,
    /// Apply one whole command's events (one seq, in the core's order).
    Apply(Vec<Tagged>),
    /// A whole snapshot: restore it if `restore`; else, if `in_step` (taken exactly where
    /// the follower is), the follower's state must equal it; else it is older than what
    /// the follower applied (a consumer started again) and says nothing.
    Snapshot {
        body: Box<SnapshotBody>,
        seq: u64,
        restore: bool,
        in_step: bool,
    },
    /// Something between the last applied command and this message is missing: nothing is
    /// applied until the next snapshot.
    Gap(String),
}

/// Largest snapshot accepted, in bytes (a corrupt part count must not grow memory).
pub const MAX_SNAPSHOT_BYTES: usize = 1 << 30;

#[derive(Debug)]
struct PendingCommand {
    seq: u64,
    parts: u16,
    got: u16,
    events: Vec<(u16, Tagged)>,
}

#[derive(Debug)]
struct PendingSnapshot {
    seq: u64,
    after: u64,
    reset: bool,
    parts: u32,
    got: u32,
    bytes: Vec<u8>,
}

/// Puts the stream back together, in stream order: whole commands, whole snapshots, and
/// gaps in the chain.
#[derive(Debug, Default)]
pub struct Follower {
    /// The chain position of what was applied last (`None`: waiting for a snapshot).
    last: Option<u64>,
    command: Option<PendingCommand>,
    snapshot: Option<PendingSnapshot>,
}

impl Follower {
    /// Whether the follower holds a state it can go on from.
    #[must_use]
    pub fn synced(&self) -> bool {
        self.last.is_some()
    }

    /// The chain position applied last.
    #[must_use]
    pub fn position(&self) -> Option<u64> {
        self.last
    }

    /// Takes the next message of the stream.
    pub fn push(&mut self, msg: Msg) -> Step {
        match msg {
            Msg::Events(p) => self.events(p),
            Msg::Snapshot(c) => self.chunk(c),
        }
    }

    fn gap(&mut self, why: String) -> Step {
        self.last = None;
        self.command = None;
        Step::Gap(why)
    }

    fn events(&mut self, p: Part) -> Step {
        let Some(last) = self.last else {
            return Step::Wait;
        };
        if p.seq <= last {
            // Already in the snapshot or applied (a consumer that started early).
            return Step::Wait;
        }
        match &mut self.command {
            Some(c) if c.seq == p.seq && p.part == c.got => {
                c.got += 1;
                c.events.extend(p.events);
            }
            Some(c) => {
                let why = format!(
                    "command {} arrived with {} of its {} parts before {}",
                    c.seq, c.got, c.parts, p.seq
                );
                return self.gap(why);
            }
            None if p.prev == last && p.part == 0 && p.parts > 0 => {
                self.command = Some(PendingCommand {
                    seq: p.seq,
                    parts: p.parts,
                    got: 1,
                    events: p.events,
                });
            }
            None => {
                let why = format!(
                    "command {} follows {} but {} was applied last",
                    p.seq, p.prev, last
                );
                return self.gap(why);
            }
        }
        match self.command.take() {
            Some(c) if c.got >= c.parts => {
                let mut events = c.events;
                events.sort_by_key(|(i, _)| *i);
                events.dedup_by_key(|(i, _)| *i);
                self.last = Some(c.seq);
                Step::Apply(events.into_iter().map(|(_, t)| t).collect())
            }
            other => {
                self.command = other;
                Step::Wait
            }
        }
    }

    fn chunk(&mut self, c: Chunk) -> Step {
        if c.part == 0 {
            self.snapshot = Some(PendingSnapshot {
                seq: c.seq,
                after: c.after,
                reset: c.reset,
                parts: c.parts,
                got: 0,
                bytes: Vec::new(),
            });
        }
        let Some(s) = self.snapshot.as_mut() else {
            return Step::Wait;
        };
        if s.seq != c.seq || s.after != c.after || s.got != c.part {
            // A piece of another snapshot (its start was not in the stream): wait for a
            // whole one.
            self.snapshot = None;
            return Step::Wait;
        }
        if s.bytes.len() + c.bytes.len() > MAX_SNAPSHOT_BYTES {
            self.snapshot = None;
            return Step::Wait;
        }
        s.bytes.extend_from_slice(&c.bytes);
        s.got += 1;
        if s.got < s.parts {
            return Step::Wait;
        }
        let Some(s) = self.snapshot.take() else {
            return Step::Wait;
        };
        let body: SnapshotBody = match bourse_core::codec::decode(&s.bytes) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(seq = s.seq, "snapshot does not decode: {e}");
                return Step::Wait;
            }
        };
        // Taken when this follower has nothing, is behind the snapshot (it missed what came
        // before it), is in the middle of a command, or the core just started (a reset):
        // it replaces whatever was missed. One older than what was applied (the consumer
        // started again from an older snapshot) is not: the chain goes on from `last`.
        let restore =
            s.reset || self.command.is_some() || self.last.is_none_or(|last| last < s.after);
        let in_step = !restore && self.last == Some(s.after);
        if restore {
            self.last = Some(s.after);
            self.command = None;
        }
        Step::Snapshot {
            body: Box::new(body),
            seq: s.seq,
            restore,
            in_step,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bourse_core::{OrderId, Seq, Side, UnixNanos};
    use bourse_feed::{Feed, FeedConfig};

    fn sym() -> Symbol {
        Symbol::new("BRK.B").expect("symbol")
    }

    fn rested(seq: u64) -> Tagged {
        Tagged {
            seq: Seq(seq),
            ts: UnixNanos::new(seq),
            event: Event::OrderRested {
                order_id: OrderId::new(seq),
                symbol: sym(),
                side: Side::Buy,
                price: Price::from_raw(1_000_000),
                qty: Qty::from_raw(1),
            },
            aseq: 0,
        }
    }

    fn decode_all(msgs: Vec<(String, Vec<u8>)>) -> Vec<Msg> {
        msgs.into_iter()
            .map(|(_, b)| decode(&b).expect("decodes"))
            .collect()
    }

    fn snapshot(seq: u64, after: u64, reset: bool) -> Vec<Msg> {
        let feed = Feed::new([(sym(), Price::from_raw(1_000_000))], FeedConfig::default());
        let body = SnapshotBody {
            listings: Vec::new(),
            feed: feed.image(),
        };
        split_snapshot(seq, after, reset, &body)
            .expect("encodes")
            .iter()
            .map(|b| decode(b).expect("decodes"))
            .collect()
    }

    #[test]
    fn subjects_name_symbols_accounts_and_snapshots() {
        let s = Subjects::new("t1");
        assert_eq!(s.symbol(sym()), "t1.md.BRK_B");
        assert_eq!(s.account(AccountId::new(7)), "t1.acct.7");
        assert_eq!(s.snapshot(), "t1.snap");
        assert_eq!(s.all(), "t1.>");
        let msgs = split_command(&s, 0, &[rested(3)]).expect("encodes");
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].0, "t1.md.BRK_B");
    }

    #[test]
    fn commands_apply_in_chain_order_and_a_missing_one_is_a_gap() {
        let s = Subjects::new("t");
        let mut f = Follower::default();
        // Before any snapshot nothing applies.
        let first = decode_all(split_command(&s, 0, &[rested(1)]).expect("encodes"));
        assert!(matches!(f.push(first[0].clone()), Step::Wait));
        for m in snapshot(1, 1, false) {
            f.push(m);
        }
        assert_eq!(f.position(), Some(1));
        let second = decode_all(split_command(&s, 1, &[rested(4)]).expect("encodes"));
        match f.push(second[0].clone()) {
            Step::Apply(ev) => assert_eq!(ev, vec![rested(4)]),
            other => panic!("expected the command, got {other:?}"),
        }
        // The same again (a redelivery) is skipped.
        assert!(matches!(f.push(second[0].clone()), Step::Wait));
        // Command 7 follows 5, which never came: a gap, then nothing until a snapshot.
        let after_missing = decode_all(split_command(&s, 5, &[rested(7)]).expect("encodes"));
        assert!(matches!(f.push(after_missing[0].clone()), Step::Gap(_)));
        assert!(!f.synced());
        let mut restored = false;
        for m in snapshot(7, 7, false) {
            if let Step::Snapshot { restore, .. } = f.push(m) {
                restored = restore;
            }
        }
        assert!(restored, "a follower out of step restores");
        // In step, a later snapshot only confirms.
        for m in snapshot(7, 7, false) {
            if let Step::Snapshot { restore, .. } = f.push(m) {
                assert!(!restore);
            }
        }
        // An older one (a consumer started again from it) neither restores nor checks.
        let later = decode_all(split_command(&s, 7, &[rested(9)]).expect("encodes"));
        assert!(matches!(f.push(later[0].clone()), Step::Apply(_)));
        for m in snapshot(7, 7, false) {
            if let Step::Snapshot {
                restore, in_step, ..
            } = f.push(m)
            {
                assert!(!restore && !in_step);
            }
        }
        assert_eq!(f.position(), Some(9));
        // ...unless it is the core's start.
        let mut reset = false;
        for m in snapshot(7, 7, true) {
            if let Step::Snapshot { restore, .. } = f.push(m) {
                reset = restore;
            }
        }
        assert!(reset);
    }

    #[test]
    fn an_event_on_a_symbol_and_an_account_is_applied_once() {
        let s = Subjects::new("t");
        let account = AccountId::new(9);
        let fill = Tagged {
            seq: Seq(5),
            ts: UnixNanos::new(5),
            event: Event::OrderCanceled {
                order_id: OrderId::new(1),
                account,
                symbol: sym(),
                side: Side::Buy,
                qty: Qty::from_raw(1),
                resting_price: Some(Price::from_raw(1_000_000)),
                reason: bourse_core::CancelReason::Requested,
            },
            aseq: 3,
        };
        let msgs = split_command(&s, 2, &[fill]).expect("encodes");
        let subjects: Vec<&str> = msgs.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(subjects, ["t.md.BRK_B", "t.acct.9"]);
        let mut f = Follower::default();
        for m in snapshot(2, 2, false) {
            f.push(m);
        }
        let msgs = decode_all(msgs);
        assert!(matches!(f.push(msgs[0].clone()), Step::Wait));
        match f.push(msgs[1].clone()) {
            Step::Apply(ev) => assert_eq!(ev, vec![fill]),
            other => panic!("expected the command, got {other:?}"),
        }
    }
}
