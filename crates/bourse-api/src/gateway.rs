//! The gateway core: hands a command to the engine's queue with a ticket and waits for the
//! command's outcome, which the publisher delivers only once the command is durable.
//!
//! Every transport goes through it, so "the answer is shown only after the journal has it"
//! holds for all of them: REST awaits [`Gateway::execute`]; WebSocket order entry hands a
//! callback to [`Gateway::call`], which the publisher runs with the outcome (no task, no
//! channel and no timer per order on the low-latency path).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bourse_core::{AccountId, Command, Event, OrderId, Seq, Tagged, UnixNanos};
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
    /// Queued, but the exchange stopped releasing outcomes before this one (the journal
    /// failed for good, or a shutdown cut it off). The command may have taken effect, and
    /// be on disk: look it up by client order id once the exchange is back.
    #[error(
        "the exchange stopped before this command's outcome was durable; it may still have \
         taken effect: look it up by client order id once the exchange is back"
    )]
    Stopped,
    /// Queued, but no durable outcome arrived in time (for example while the journal's
    /// database is unreachable). The command may still take effect: retry with the same
    /// client order id, which is idempotent, or look the order up.
    #[error("no durable outcome within {0:?}; the command may still take effect")]
    Timeout(Duration),
}

const SHARDS: usize = 16;

/// Runs with a command's outcome: on the publisher's thread once the command is durable, or
/// wherever the gateway gives up on it (refused, timed out, shut down). It must be quick and
/// must not block.
pub type Callback = Box<dyn FnOnce(Result<Reply, GatewayError>) + Send>;

/// Who waits for an outcome.
enum Waiter {
    /// An `execute` future (which keeps its own timeout).
    Task(oneshot::Sender<Reply>),
    /// A `call`, answered by [`Gateway::sweep`] with a timeout after `deadline`.
    Call { deadline: Instant, call: Callback },
}

type Waiters = Mutex<FxHashMap<u64, Waiter>>;

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
        self.shard(ticket).lock().insert(ticket, Waiter::Task(tx));
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
            // The publisher dropped every waiter: the exchange stopped before the outcome,
            // after the command was queued.
            Ok(Err(_)) => Err(GatewayError::Stopped),
            Err(_) => Err(GatewayError::Timeout(self.timeout)),
        };
        drop(guard);
        result
    }

    /// Queues `cmd`; `call` runs exactly once with its durable outcome, or with the reason
    /// there is none (refused at once, no outcome within the timeout, shut down).
    pub fn call(&self, cmd: Command, call: Callback) {
        let ticket = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        let deadline = Instant::now() + self.timeout;
        self.shard(ticket)
            .lock()
            .insert(ticket, Waiter::Call { deadline, call });
        let refused = match self.sequencer.submit(cmd, ticket) {
            Ok(()) => return,
            Err(Refused::Overloaded) => GatewayError::Overloaded,
            Err(Refused::Closed) => GatewayError::Closed,
        };
        // The publisher may not have it: the command was never queued.
        let waiter = self.shard(ticket).lock().remove(&ticket);
        if let Some(Waiter::Call { call, .. }) = waiter {
            call(Err(refused));
        }
    }

    /// Answers the calls whose outcome is overdue with [`GatewayError::Timeout`]; returns how
    /// many. Run every so often (see [`Gateway::sweeper`]).
    pub fn sweep(&self, now: Instant) -> usize {
        let mut overdue = Vec::new();
        for shard in self.waiting.iter() {
            let mut w = shard.lock();
            let late: Vec<u64> = w
                .iter()
                .filter(|(_, v)| matches!(v, Waiter::Call { deadline, .. } if *deadline <= now))
                .map(|(&t, _)| t)
                .collect();
            overdue.extend(late.into_iter().filter_map(|t| w.remove(&t)));
        }
        let n = overdue.len();
        for w in overdue {
            if let Waiter::Call { call, .. } = w {
                call(Err(GatewayError::Timeout(self.timeout)));
            }
        }
        n
    }

    /// Sweeps overdue calls every `timeout / 10` (at least every 10 ms) until dropped.
    pub async fn sweeper(self: Arc<Self>) {
        let every = (self.timeout / 10).max(Duration::from_millis(10));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.sweep(Instant::now());
        }
    }

    /// Queues `cmd` without waiting for anything (operator actions whose outcome arrives by
    /// other ways).
    pub fn fire(&self, cmd: Command) -> Result<(), GatewayError> {
        self.sequencer.submit(cmd, 0).map_err(|r| match r {
            Refused::Overloaded => GatewayError::Overloaded,
            Refused::Closed => GatewayError::Closed,
        })
    }

    /// Cancels the orders a session entered, once it has ended (WebSocket or FIX
    /// cancel-on-disconnect): one journaled `CancelOnDisconnect` command, retried while the
    /// queue is full (the orders must not outlive their session), off the caller's task.
    pub fn cancel_on_disconnect(self: &Arc<Self>, account: AccountId, mut order_ids: Vec<OrderId>) {
        if order_ids.is_empty() {
            return;
        }
        order_ids.sort_unstable();
        order_ids.dedup();
        let gateway = self.clone();
        tokio::spawn(async move {
            let n = order_ids.len();
            let cmd = Command::CancelOnDisconnect { account, order_ids };
            for attempt in 1..=50u64 {
                match gateway.execute(cmd.clone()).await {
                    Ok(_) => {
                        tracing::info!(
                            account = account.get(),
                            orders = n,
                            "cancelled on disconnect"
                        );
                        return;
                    }
                    Err(GatewayError::Overloaded) => {
                        tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                    }
                    Err(e) => {
                        tracing::error!(account = account.get(), "cancel on disconnect: {e}");
                        return;
                    }
                }
            }
            tracing::error!(
                account = account.get(),
                "cancel on disconnect not queued: overloaded"
            );
        });
    }

    /// Called by the publisher for each released command that carries a ticket.
    pub fn complete(&self, ticket: u64, seq: Seq, ts: UnixNanos, events: &[Tagged]) {
        if ticket == 0 {
            return;
        }
        let Some(waiter) = self.shard(ticket).lock().remove(&ticket) else {
            return; // the caller gave up waiting
        };
        let reply = Reply {
            seq,
            ts,
            events: events.iter().map(|t| t.event).collect(),
        };
        match waiter {
            Waiter::Task(tx) => {
                let _ = tx.send(reply);
            }
            Waiter::Call { call, .. } => call(Ok(reply)),
        }
    }

    /// Answers every waiting request with [`GatewayError::Stopped`] (the publisher stopped
    /// for good): each was queued, so its outcome is unknown, not refused.
    pub fn close(&self) {
        for s in self.waiting.iter() {
            let gone: Vec<Waiter> = s.lock().drain().map(|(_, w)| w).collect();
            for w in gone {
                // A dropped `Task` sender tells its `execute` the same.
                if let Waiter::Call { call, .. } = w {
                    call(Err(GatewayError::Stopped));
                }
            }
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
                aseq: 0,
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

    /// A callback that reports what it was called with.
    fn probe() -> (
        Callback,
        std::sync::mpsc::Receiver<Result<Reply, GatewayError>>,
    ) {
        let (tx, rx) = std::sync::mpsc::channel();
        (
            Box::new(move |r| {
                tx.send(r).unwrap();
            }),
            rx,
        )
    }

    #[tokio::test]
    async fn a_call_runs_once_with_its_outcome() {
        let (g, mut rx, rec) = gateway(Duration::from_secs(60));
        let (call, got) = probe();
        g.call(Command::OpenAccount, call);
        let (_, ticket) = rx.recv().await.unwrap();
        assert!(
            got.try_recv().is_err(),
            "no outcome before the publisher has one"
        );
        let t = Tagged {
            seq: Seq(3),
            ts: UnixNanos::new(9),
            event: Event::AccountOpened {
                account: AccountId::new(2),
            },
            aseq: 0,
        };
        g.complete(ticket, t.seq, t.ts, &[t]);
        g.complete(ticket, t.seq, t.ts, &[t]);
        let r = got.try_recv().unwrap().unwrap();
        assert_eq!((r.seq, r.events.len()), (Seq(3), 1));
        assert!(got.try_recv().is_err(), "called once");
        assert_eq!(g.waiting(), 0);
        // Refused at the door: answered at once, nothing left waiting.
        *rec.1.lock() = Some(Refused::Overloaded);
        let (call, got) = probe();
        g.call(Command::OpenAccount, call);
        assert_eq!(got.try_recv().unwrap(), Err(GatewayError::Overloaded));
        assert_eq!(g.waiting(), 0);
    }

    #[tokio::test]
    async fn overdue_calls_are_swept_and_closing_answers_the_rest() {
        let (g, mut rx, _) = gateway(Duration::from_millis(100));
        let (early, early_got) = probe();
        g.call(Command::OpenAccount, early);
        let (_, early_ticket) = rx.recv().await.unwrap();
        assert_eq!(g.sweep(Instant::now()), 0, "not overdue yet");
        let later = Instant::now() + Duration::from_millis(150);
        let (late, late_got) = probe();
        g.call(Command::OpenAccount, late);
        assert_eq!(g.sweep(later), 2);
        assert_eq!(
            early_got.try_recv().unwrap(),
            Err(GatewayError::Timeout(Duration::from_millis(100)))
        );
        assert!(late_got.try_recv().is_ok());
        // The outcome arriving after the timeout is dropped.
        g.complete(early_ticket, Seq(1), UnixNanos::new(1), &[]);
        assert!(early_got.try_recv().is_err());
        let (call, got) = probe();
        g.call(Command::OpenAccount, call);
        g.close();
        assert_eq!(got.try_recv().unwrap(), Err(GatewayError::Stopped));
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
        assert_eq!(t.await.unwrap(), Err(GatewayError::Stopped));
    }
}
