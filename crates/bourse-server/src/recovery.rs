//! Recovery: the newest valid snapshot, then every journaled command after it, in order.
//! Seq contiguity is checked on the way (the journal refuses gaps too) and the state hash is
//! computed at the end, so a restart and a fresh replay can be compared.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bourse_core::Seq;
use bourse_engine::{Engine, StateHash};
use bourse_journal::{Journal, JournalError};

use crate::pipeline::decode_snapshot;

/// What recovery did.
#[derive(Debug, Clone)]
pub struct Recovered {
    /// The snapshot a replay from scratch was checked against on the way (seq).
    pub verified_against: Option<Seq>,
    /// The snapshot it started from (`None`: from the genesis state).
    pub snapshot_seq: Option<Seq>,
    /// Commands replayed after the snapshot.
    pub replayed: u64,
    /// The last seq applied.
    pub seq: Seq,
    pub hash: StateHash,
    pub elapsed: Duration,
}

/// Where to start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The newest snapshot that loads (the normal restart).
    LatestSnapshot,
    /// The genesis state: replays the whole journal (`bourse replay`).
    Genesis,
}

/// Rebuilds the engine from `journal`. `genesis` builds the state before seq 1.
pub fn recover(
    journal: &dyn Journal,
    genesis: impl FnOnce() -> Result<Engine>,
    start: Start,
    expected_working_orders: usize,
    mut progress: impl FnMut(Seq),
) -> Result<(Engine, Recovered)> {
    let t = Instant::now();
    let durable = journal.durable_seq();
    let snap = match start {
        Start::LatestSnapshot => journal
            .latest_snapshot()
            .context("reading the latest snapshot")?,
        Start::Genesis => None,
    };
    // A replay from scratch proves itself against the newest snapshot on the way: the
    // state after its seq must hash to what the snapshot recorded.
    let checkpoint = match start {
        Start::Genesis => journal
            .latest_snapshot()
            .context("reading the latest snapshot")?
            .filter(|(seq, bytes)| seq.0 > 0 && bytes.len() >= 32)
            .map(|(seq, bytes)| {
                let mut h = [0u8; 32];
                h.copy_from_slice(&bytes[..32]);
                (seq, StateHash(h))
            }),
        Start::LatestSnapshot => None,
    };
    let mut diverged: Option<String> = None;
    let (mut engine, snapshot_seq) = match snap {
        Some((seq, bytes)) => {
            if seq > durable {
                bail!(
                    "the newest snapshot covers seq {} but the journal ends at {}: the journal \
                     lost its tail; refusing to start",
                    seq.0,
                    durable.0
                );
            }
            let (engine, _) = decode_snapshot(&bytes)
                .with_context(|| format!("loading the snapshot at seq {}", seq.0))?;
            if engine.last_seq() != seq {
                bail!(
                    "the snapshot stored at seq {} holds state after seq {}",
                    seq.0,
                    engine.last_seq().0
                );
            }
            (engine, Some(seq))
        }
        None => match journal
            .snapshot_at(Seq(0))
            .context("reading the genesis snapshot")?
        {
            // The genesis state the journal started from, whatever the settings say now.
            Some(bytes) => (
                decode_snapshot(&bytes)
                    .context("loading the genesis snapshot")?
                    .0,
                None,
            ),
            None => (genesis()?, None),
        },
    };
    // Sized before the replay, which then runs without rehashing too.
    engine.reserve(expected_working_orders);
    let from = Seq(engine.last_seq().0 + 1);
    let mut expect = from.0;
    let mut out = Vec::with_capacity(64);
    let mut replayed = 0u64;
    journal
        .for_each_from(from, &mut |rec| {
            if rec.seq.0 != expect {
                return Err(JournalError::Consumer(
                    format!(
                        "replay expected seq {expect}, the journal gave {}",
                        rec.seq.0
                    )
                    .into(),
                ));
            }
            expect += 1;
            engine.apply(&rec, &mut out);
            out.clear();
            replayed += 1;
            if let Some((at, want)) = checkpoint
                && at == rec.seq
            {
                let got = engine
                    .state_hash()
                    .map_err(|e| JournalError::Consumer(Box::new(e)))?;
                if got != want {
                    let msg = format!(
                        "replay reaches state {got} at seq {}, but the snapshot there recorded \
                         {want}: the engine is not deterministic or the journal was altered",
                        at.0
                    );
                    diverged = Some(msg.clone());
                    return Err(JournalError::Consumer(msg.into()));
                }
            }
            if replayed.is_multiple_of(1_000_000) {
                progress(rec.seq);
            }
            Ok(())
        })
        .map_err(|e| match diverged.take() {
            Some(msg) => anyhow::anyhow!(msg),
            None => anyhow::Error::new(e).context("replaying the journal"),
        })?;
    if engine.last_seq() != durable {
        bail!(
            "replay ended at seq {} but the journal is durable to {}",
            engine.last_seq().0,
            durable.0
        );
    }
    let hash = engine.state_hash().context("hashing the recovered state")?;
    Ok((
        engine,
        Recovered {
            verified_against: checkpoint.map(|c| c.0),
            snapshot_seq,
            replayed,
            seq: durable,
            hash,
            elapsed: t.elapsed(),
        },
    ))
}
