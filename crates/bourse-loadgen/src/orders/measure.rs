//! What the run measures: per-connection counters and histograms, and the shared context
//! every task records answers in.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::Notify;

use super::flow::{Kind, parse_request_id};
use super::schedule::Schedule;
use crate::stats::histogram;

/// Codes of refusals that never reached the engine: counted, not timed.
pub(crate) const REFUSALS: [&str; 4] = [
    "RATE_LIMITED",
    "OVERLOADED",
    "SHUTTING_DOWN",
    "CONNECTION_ERROR",
];

/// Rejections the flow expects: a cancel that lost the race with a fill.
pub(crate) const EXPECTED: [&str; 1] = ["UNKNOWN_ORDER"];

/// What a connection was told, measured orders only (except the progress histogram).
#[derive(Debug)]
pub(crate) struct RecvStats {
    pub(crate) latency: Histogram<u64>,
    /// Every answer since the last progress line, warm-up included.
    pub(crate) interval: Histogram<u64>,
    pub(crate) answered: u64,
    pub(crate) reports: u64,
    pub(crate) errors: BTreeMap<String, u64>,
    pub(crate) by_kind: [u64; 4],
    pub(crate) warmup_answered: u64,
}

#[derive(Debug)]
pub(crate) struct SendStats {
    pub(crate) lag: Histogram<u64>,
    pub(crate) sent: u64,
    pub(crate) by_kind: [u64; 4],
    pub(crate) warmup_sent: u64,
}

/// One connection's shared state.
#[derive(Debug)]
pub(crate) struct Conn {
    /// Its resting orders, as its reports told it.
    pub(crate) live: Mutex<Vec<u64>>,
    pub(crate) recv: Mutex<RecvStats>,
    pub(crate) send: Mutex<SendStats>,
    /// Requests written and answers read, every phase.
    pub(crate) sent: AtomicU64,
    pub(crate) answered: AtomicU64,
    pub(crate) closed: AtomicBool,
    /// Its sender has sent all it will.
    pub(crate) sender_done: AtomicBool,
    /// Rung by the pacer when some of this connection's orders fall due.
    pub(crate) wake: Notify,
}

impl Conn {
    pub(crate) fn new() -> Conn {
        Conn {
            live: Mutex::new(Vec::new()),
            recv: Mutex::new(RecvStats {
                latency: histogram(),
                interval: histogram(),
                answered: 0,
                reports: 0,
                errors: BTreeMap::new(),
                by_kind: [0; 4],
                warmup_answered: 0,
            }),
            send: Mutex::new(SendStats {
                lag: histogram(),
                sent: 0,
                by_kind: [0; 4],
                warmup_sent: 0,
            }),
            sent: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            sender_done: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    pub(crate) fn record_sent(&self, ctx: &Ctx, batch: &[(u64, Kind, Instant)]) {
        let mut s = self.send.lock();
        for &(k, kind, at) in batch {
            if k < ctx.first_measured {
                s.warmup_sent += 1;
                continue;
            }
            s.sent += 1;
            s.by_kind[kind.index()] += 1;
            let lag = at.saturating_duration_since(ctx.intended(k));
            s.lag.saturating_record(duration_ns(lag));
        }
        drop(s);
        let n = u64::try_from(batch.len()).unwrap_or(0);
        self.sent.fetch_add(n, Ordering::Relaxed);
        ctx.sent.fetch_add(n, Ordering::Relaxed);
    }
}

pub(crate) fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// What an answer said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome<'a> {
    Report {
        order_id: Option<u64>,
        /// The order rests in the book.
        resting: bool,
    },
    Error(&'a str),
}

/// How long after the end of the schedule a late sender may still send its backlog.
pub(crate) const LATE_SEND: Duration = Duration::from_secs(1);

/// The run: its schedule and window, and counters every task shares.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) schedule: Schedule,
    pub(crate) start: Instant,
    pub(crate) warm_ns: u64,
    pub(crate) end_ns: u64,
    /// Orders `first_measured..total` are measured.
    pub(crate) first_measured: u64,
    pub(crate) total: u64,
    pub(crate) tick: Duration,
    /// Orders due so far (published by the pacer).
    pub(crate) due: AtomicU64,
    /// The pacer is done: nothing more falls due.
    pub(crate) finished: AtomicBool,
    /// The run is over (progress stops).
    pub(crate) done: AtomicBool,
    pub(crate) sent: AtomicU64,
    pub(crate) answered: AtomicU64,
    pub(crate) errors: AtomicU64,
    /// Answers that arrived inside the measured window.
    pub(crate) in_window: AtomicU64,
    pub(crate) progress: Mutex<Vec<Value>>,
}

impl Ctx {
    pub(crate) fn intended(&self, k: u64) -> Instant {
        self.start + Duration::from_nanos(self.schedule.intended_ns(k))
    }

    pub(crate) fn end_at(&self) -> Instant {
        self.start + Duration::from_nanos(self.end_ns)
    }

    /// A sender that far behind gives up: what it has not sent by then is `unsent`.
    pub(crate) fn send_until(&self) -> Instant {
        self.end_at() + LATE_SEND
    }

    /// Records one answer. `id` is the request id (`None`: the server could not say which
    /// request it answers, e.g. a WebSocket `RATE_LIMITED`).
    pub(crate) fn on_answer(
        &self,
        conn: &Conn,
        id: Option<u64>,
        outcome: Outcome<'_>,
        now: Instant,
    ) {
        let at = duration_ns(now.saturating_duration_since(self.start));
        let parsed = id.map(parse_request_id);
        if let (
            Some((_, Kind::Passive | Kind::Cross)),
            Outcome::Report {
                order_id: Some(o),
                resting: true,
            },
        ) = (parsed, outcome)
        {
            conn.live.lock().push(o);
        }
        self.answered.fetch_add(1, Ordering::Relaxed);
        conn.answered.fetch_add(1, Ordering::Relaxed);
        if (self.warm_ns..self.end_ns).contains(&at) {
            self.in_window.fetch_add(1, Ordering::Relaxed);
        }
        let is_error = matches!(outcome, Outcome::Error(_));
        if is_error {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let timed = match outcome {
            Outcome::Error(code) => !REFUSALS.contains(&code),
            Outcome::Report { .. } => true,
        };
        let latency = match parsed {
            Some((k, _)) if timed => Some(at.saturating_sub(self.schedule.intended_ns(k))),
            _ => None,
        };
        let measured = match parsed {
            Some((k, _)) => k >= self.first_measured,
            None => at >= self.warm_ns,
        };
        let mut r = conn.recv.lock();
        if let Some(l) = latency {
            r.interval.saturating_record(l);
        }
        if !measured {
            r.warmup_answered += 1;
            return;
        }
        r.answered += 1;
        if let Some(l) = latency {
            r.latency.saturating_record(l);
        }
        if let Some((_, kind)) = parsed {
            r.by_kind[kind.index()] += 1;
        }
        match outcome {
            Outcome::Report { .. } => r.reports += 1,
            Outcome::Error(code) => match r.errors.get_mut(code) {
                Some(n) => *n += 1,
                None => {
                    r.errors.insert(code.to_owned(), 1);
                }
            },
        }
    }
}
