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
        None => (genesis()?, None),
    };
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
            if replayed.is_multiple_of(1_000_000) {
                progress(rec.seq);
            }
            Ok(())
        })
        .context("replaying the journal")?;
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
            snapshot_seq,
            replayed,
            seq: durable,
            hash,
            elapsed: t.elapsed(),
        },
    ))
}
