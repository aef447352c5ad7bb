//! The gateway core: hands a command to the engine's queue with a ticket and waits for the
//! command's outcome, which the publisher delivers only once the command is durable.
//!
//! Every transport (REST today, WebSocket order entry next) goes through [`Gateway::execute`],
//! so "the answer is shown only after the journal has it" holds for all of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bourse_core::{Command, Event, Seq, Tagged, UnixNanos};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use tokio::sync::oneshot;

/// Why the queue did not take a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The inbound queue is full (or the journal has stalled and the engine waits for it).
    Overloaded,
    /// The exchange is shutting down.
    Closed,
}

/// The engine's inbound queue as the gateway sees it. The server implements it over the
/// runner; tests can implement it over anything.
pub trait Sequencer: Send + Sync + 'static {
    /// Queues `cmd` without blocking; `ticket` comes back with its outcome.
    fn submit(&self, cmd: Command, ticket: u64) -> Result<(), Refused>;
}

/// A command's outcome, released once the command is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub seq: Seq,
    pub ts: UnixNanos,
    pub events: Vec<Event>,
}

/// Why `execute` has no outcome to give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// Not queued: nothing happened. Safe to retry later.
    #[error("the exchange is overloaded; retry shortly")]
    Overloaded,
    /// Not queued: the exchange is shutting down.
    #[error("the exchange is shutting down")]
    Closed,
    /// Queued, but no durable outcome arrived in time (for example while the journal's
    /// database is unreachable). The command may still take effect: retry with the same
    /// client order id, which is idempotent, or look the order up.
    #[error("no durable outcome within {0:?}; the command may still take effect")]
    Timeout(Duration),
}

const SHARDS: usize = 16;

type Waiters = Mutex<FxHashMap<u64, oneshot::Sender<Reply>>>;

/// Hands commands to the engine and outcomes back to the callers waiting for them.
pub struct Gateway {
    sequencer: Arc<dyn Sequencer>,
    /// Sharded by ticket so concurrent requests and the publisher rarely meet on one lock.
    waiting: Box<[Waiters; SHARDS]>,
    next_ticket: AtomicU64,
    timeout: Duration,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("timeout", &self.timeout)
            .field("waiting", &self.waiting())
            .finish_non_exhaustive()
    }
}

/// Removes a waiter whose caller stopped waiting (timeout, dropped request), so the table
/// cannot grow with abandoned tickets.
struct Abandon<'a> {
    gateway: &'a Gateway,
    ticket: u64,
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        self.gateway.shard(self.ticket).lock().remove(&self.ticket);
    }
}

impl Gateway {
    /// `timeout`: how long a caller waits for a durable outcome before it is told the
    /// outcome is unknown.
    #[must_use]
    pub fn new(sequencer: Arc<dyn Sequencer>, timeout: Duration) -> Self {
        Self {
            sequencer,
            waiting: Box::new(std::array::from_fn(|_| Mutex::new(FxHashMap::default()))),
            // 0 is the runner's "nobody waits" ticket.
            next_ticket: AtomicU64::new(1),
            timeout,
        }
    }

    fn shard(&self, ticket: u64) -> &Waiters {
        #[allow(clippy::cast_possible_truncation)] // the remainder is below SHARDS
        &self.waiting[(ticket % SHARDS as u64) as usize]
    }

    /// Requests waiting for their outcome now.
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.waiting.iter().map(|s| s.lock().len()).sum()
    }

    /// Queues `cmd` and waits for its durable outcome.
    pub async fn execute(&self, cmd: Command) -> Result<Reply, GatewayError> {
        let ticket = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.shard(ticket).lock().insert(ticket, tx);
        let guard = Abandon {
            gateway: self,
            ticket,
        };
        match self.sequencer.submit(cmd, ticket) {
            Ok(()) => {}
            Err(Refused::Overloaded) => return Err(GatewayError::Overloaded),
            Err(Refused::Closed) => return Err(GatewayError::Closed),
        }
        let result = match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            // The publisher dropped every waiter: the exchange stopped before the outcome.
            Ok(Err(_)) => Err(GatewayError::Closed),
            Err(_) => Err(GatewayError::Timeout(self.timeout)),
        };
        drop(guard);
        result
    }

    /// Queues `cmd` without waiting for anything (operator actions whose outcome arrives by
    /// other ways).
    pub fn fire(&self, cmd: Command) -> Result<(), GatewayError> {
        self.sequencer.submit(cmd, 0).map_err(|r| match r {
            Refused::Overloaded => GatewayError::Overloaded,
            Refused::Closed => GatewayError::Closed,
        })
    }

    /// Called by the publisher for each released command that carries a ticket.
    pub fn complete(&self, ticket: u64, seq: Seq, ts: UnixNanos, events: &[Tagged]) {
        if ticket == 0 {
            return;
        }
        let Some(tx) = self.shard(ticket).lock().remove(&ticket) else {
            return; // the caller gave up waiting
        };
        let _ = tx.send(Reply {
            seq,
            ts,
            events: events.iter().map(|t| t.event).collect(),
        });
    }

    /// Fails every waiting request with `Closed` (the publisher stopped for good).
    pub fn close(&self) {
        for s in self.waiting.iter() {
            s.lock().clear();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bourse_core::AccountId;
    use tokio::sync::mpsc;

    /// Records what was queued; the test plays the publisher.
    struct Recorder(
        mpsc::UnboundedSender<(Command, u64)>,
        Mutex<Option<Refused>>,
    );

    impl Sequencer for Recorder {
        fn submit(&self, cmd: Command, ticket: u64) -> Result<(), Refused> {
            if let Some(r) = *self.1.lock() {
                return Err(r);
            }
            self.0.send((cmd, ticket)).unwrap();
            Ok(())
        }
    }

    fn gateway(
        timeout: Duration,
    ) -> (
        Arc<Gateway>,
        mpsc::UnboundedReceiver<(Command, u64)>,
        Arc<Recorder>,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        let rec = Arc::new(Recorder(tx, Mutex::new(None)));
        let g = Arc::new(Gateway::new(rec.clone(), timeout));
        (g, rx, rec)
    }

    #[tokio::test]
    async fn the_outcome_reaches_the_caller_that_sent_the_command() {
        let (g, mut rx, _) = gateway(Duration::from_secs(5));
        let a = tokio::spawn({
            let g = g.clone();
            async move { g.execute(Command::OpenAccount).await }
        });
        let b = tokio::spawn({
            let g = g.clone();
            async move { g.execute(Command::EndOfDay).await }
        });
        let mut got = Vec::new();
        while got.len() < 2 {
            got.push(rx.recv().await.unwrap());
        }
        // Complete in the opposite order to the submits.
        for (i, (cmd, ticket)) in got.into_iter().rev().enumerate() {
            let ev = match cmd {
                Command::OpenAccount => Event::AccountOpened {
                    account: AccountId::new(7),
                },
                _ => Event::DayEnded {
                    at: UnixNanos::new(5),
                },
            };
            let tagged = Tagged {
                seq: Seq(10 + i as u64),
                ts: UnixNanos::new(5),
                event: ev,
            };
            g.complete(ticket, tagged.seq, tagged.ts, &[tagged]);
        }
        let a = a.await.unwrap().unwrap();
        assert_eq!(
            a.events,
            vec![Event::AccountOpened {
                account: AccountId::new(7)
            }]
        );
        assert_eq!(
            b.await.unwrap().unwrap().events,
            vec![Event::DayEnded {
                at: UnixNanos::new(5)
            }]
        );
        assert_eq!(g.waiting(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn no_outcome_in_time_is_a_timeout_and_leaves_no_waiter() {
        let (g, mut rx, _) = gateway(Duration::from_millis(200));
        let r = g.execute(Command::OpenAccount).await;
        assert_eq!(r, Err(GatewayError::Timeout(Duration::from_millis(200))));
        assert_eq!(g.waiting(), 0);
        // A late outcome for the abandoned ticket is dropped quietly.
        let (_, ticket) = rx.recv().await.unwrap();
        g.complete(ticket, Seq(1), UnixNanos::new(1), &[]);
        assert_eq!(g.waiting(), 0);
    }

    #[tokio::test]
    async fn a_refused_submit_is_answered_at_once() {
        let (g, _rx, rec) = gateway(Duration::from_secs(5));
        *rec.1.lock() = Some(Refused::Overloaded);
        assert_eq!(
            g.execute(Command::OpenAccount).await,
            Err(GatewayError::Overloaded)
        );
        *rec.1.lock() = Some(Refused::Closed);
        assert_eq!(
            g.execute(Command::OpenAccount).await,
            Err(GatewayError::Closed)
        );
        assert_eq!(g.waiting(), 0);
    }

    #[tokio::test]
    async fn closing_fails_the_waiters() {
        let (g, mut rx, _) = gateway(Duration::from_secs(60));
        let t = tokio::spawn({
            let g = g.clone();
            async move { g.execute(Command::OpenAccount).await }
        });
        rx.recv().await.unwrap();
        g.close();
        assert_eq!(t.await.unwrap(), Err(GatewayError::Closed));
    }
}
