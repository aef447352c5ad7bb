//! A standby's projector ([`PgProjector::start_shadow`](super::PgProjector::start_shadow)):
//! it folds the commands the primary's projector has already written (keeping the working
//! orders' state, writing nothing) and holds on to the rest, so that once promoted it
//! writes exactly what the tables lack — without replaying the journal from its start,
//! which would put the whole history into a takeover's time.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bourse_core::Seq;
use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::pg::{Chunk, Worker};

/// Commands a standby's projector holds for the primary's projection before it stops
/// taking more (about 10 events of 150 bytes each: some 1.5 GB at the very worst; a
/// healthy primary's projection is milliseconds behind).
pub(super) const MAX_RETAINED: usize = 1_000_000;

/// How often it reads how far the primary's projection is.
const POLL: Duration = Duration::from_millis(250);

impl Worker {
    /// Runs as a standby's projector until `promote` is set (true: go on as a normal
    /// projector) or the channel closes (false).
    pub(super) fn run_shadow(&mut self, rx: &Receiver<Chunk>, promote: &AtomicBool) -> bool {
        let mut retained: VecDeque<Chunk> = VecDeque::new();
        let mut held = 0usize;
        let mut polled = Instant::now();
        loop {
            if promote.load(Ordering::Acquire) {
                // Whatever is queued was sent before the promotion: it joins the rest.
                while let Ok(c) = rx.try_recv() {
                    retained.push_back(c);
                }
                return self.take_over(retained);
            }
            if held < MAX_RETAINED {
                match rx.recv_timeout(Duration::from_millis(20)) {
                    Ok(c) => {
                        held += c.cmds.len();
                        retained.push_back(c);
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return false,
                }
            } else {
                std::thread::sleep(Duration::from_millis(20));
            }
            if polled.elapsed() >= POLL || held >= MAX_RETAINED {
                polled = Instant::now();
                let Some(at) = self.tables_at() else {
                    return false;
                };
                held -= self.fold_written(&mut retained, at);
            }
        }
    }

    /// Folds (without writing) the retained chunks the tables already hold entirely; returns
    /// how many commands left the queue.
    fn fold_written(&mut self, retained: &mut VecDeque<Chunk>, at: Seq) -> usize {
        if at > self.projected {
            self.projected = at;
            self.progress.commit(at);
        }
        let mut gone = 0;
        while let Some(c) = retained.front() {
            if c.cmds
                .last()
                .is_none_or(|&(seq, _, _)| seq <= self.projected)
            {
                let c = retained.pop_front().unwrap_or_default();
                gone += c.cmds.len();
                // Everything in it is at or below `projected`: no rows come out.
                let _ = self.fold(std::slice::from_ref(&c));
            } else {
                break;
            }
        }
        gone
    }

    /// The promotion: writes what the tables lack from the retained commands.
    fn take_over(&mut self, retained: VecDeque<Chunk>) -> bool {
        let Some(at) = self.tables_at() else {
            return false;
        };
        if at > self.projected {
            self.projected = at;
        }
        let chunks: Vec<Chunk> = retained.into();
        if let Some(rows) = self.fold(&chunks) {
            if !self.write(&rows) {
                return false;
            }
            self.progress.commit(rows.last_seq);
        }
        tracing::info!(
            seq = self.projected.0,
            tables_were_at = at.0,
            "read model projector promoted: writing from here"
        );
        true
    }
}
