//! The pacer: publishes how many orders are due and wakes whoever sends them, on a timer
//! finer than tokio's.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;

use super::flow::{Action, Flow};
use super::measure::{Conn, Ctx, duration_ns};

/// Whom the pacer wakes when orders fall due.
pub(crate) enum Wake {
    /// WebSocket senders: order `k` belongs to connection `k mod n`.
    Conns(Vec<Arc<Conn>>),
    /// REST workers take the next order when free.
    Watch(watch::Sender<u64>),
}

impl Wake {
    fn ring(&self, from: u64, to: u64) {
        match self {
            Wake::Conns(conns) => {
                let n = u64::try_from(conns.len()).unwrap_or(1).max(1);
                for k in from..to.min(from.saturating_add(n)) {
                    let c = usize::try_from(k % n).unwrap_or(0);
                    conns[c].wake.notify_one();
                }
            }
            Wake::Watch(tx) => {
                tx.send_replace(to);
            }
        }
    }

    fn ring_all(&self) {
        match self {
            Wake::Conns(conns) => conns.iter().for_each(|c| c.wake.notify_one()),
            Wake::Watch(tx) => {
                tx.send_modify(|_| {});
            }
        }
    }
}

/// Publishes how many orders are due, every tick (or at the next order's time if later),
/// until the schedule ends. A task on the client's runtime, woken by a fine-grained timer.
pub(crate) async fn pacer(ctx: Arc<Ctx>, wake: Wake) {
    let tick = duration_ns(ctx.tick).max(1);
    let mut timer = Ticker::new();
    let mut due = 0;
    loop {
        let e = duration_ns(ctx.start.elapsed());
        let now_due = ctx.schedule.due(e).min(ctx.total);
        if now_due > due {
            ctx.due.store(now_due, Ordering::Release);
            wake.ring(due, now_due);
            due = now_due;
        }
        if due >= ctx.total || e >= ctx.end_ns {
            break;
        }
        let next = ctx.schedule.intended_ns(due);
        let wait = next.saturating_sub(e).clamp(tick, 50_000_000);
        timer.sleep(Duration::from_nanos(wait)).await;
    }
    ctx.finished.store(true, Ordering::Release);
    wake.ring_all();
}

/// A one-shot timer with microsecond resolution. Tokio's own timers tick in milliseconds,
/// which would add up to a millisecond of client-made delay to every order; a second
/// thread sleeping finely costs a context switch per tick. On Linux this is a `timerfd`
/// the runtime polls like any socket; elsewhere, tokio's timer.
#[derive(Debug)]
struct Ticker {
    #[cfg(target_os = "linux")]
    fd: Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>>,
}

impl Ticker {
    fn new() -> Ticker {
        #[cfg(target_os = "linux")]
        {
            use rustix::time::{TimerfdClockId, TimerfdFlags, timerfd_create};
            let fd = timerfd_create(
                TimerfdClockId::Monotonic,
                TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
            )
            .ok()
            .and_then(|fd| {
                // Deprecated for `AsRawFd` types whose descriptor could change under tokio;
                // an `OwnedFd` cannot, and the safe constructor keeps this crate free of
                // `unsafe` (`register`, its replacement, is an unsafe fn).
                #[allow(deprecated)]
                tokio::io::unix::AsyncFd::new(fd).ok()
            });
            Ticker { fd }
        }
        #[cfg(not(target_os = "linux"))]
        Ticker {}
    }

    async fn sleep(&mut self, d: Duration) {
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.fd
            && Ticker::timerfd_sleep(fd, d).await.is_ok()
        {
            return;
        }
        tokio::time::sleep(d).await;
    }

    #[cfg(target_os = "linux")]
    async fn timerfd_sleep(
        fd: &tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>,
        d: Duration,
    ) -> std::io::Result<()> {
        use rustix::time::{Itimerspec, TimerfdTimerFlags, Timespec, timerfd_settime};
        let value = Timespec {
            tv_sec: d.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: d.subsec_nanos().max(1).into(),
        };
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let spec = Itimerspec {
            it_interval: zero,
            it_value: value,
        };
        timerfd_settime(fd.get_ref(), TimerfdTimerFlags::empty(), &spec)?;
        loop {
            let mut ready = fd.readable().await?;
            let mut expirations = [0u8; 8];
            match ready.try_io(|f| Ok(rustix::io::read(f.get_ref(), &mut expirations)?)) {
                Ok(r) => return r.map(|_| ()),
                Err(_would_block) => continue,
            }
        }
    }
}

/// For a pipelined sender (WebSocket, FIX) of connection `c` of `n`, whose next request is
/// `k`: waits until some of its requests fall due and takes them all into `todo`. False once
/// it should stop (the schedule is over, or sending now would be too late).
pub(crate) async fn take_due(
    ctx: &Ctx,
    conn: &Conn,
    k: &mut u64,
    n: u64,
    flow: &mut Flow,
    todo: &mut Vec<(u64, Action)>,
) -> bool {
    loop {
        if *k >= ctx.total {
            return false;
        }
        let due = ctx.due.load(Ordering::Acquire);
        if *k >= due {
            if ctx.finished.load(Ordering::Acquire) {
                return false;
            }
            conn.wake.notified().await;
            continue;
        }
        if std::time::Instant::now() >= ctx.send_until() {
            return false;
        }
        let mut live = conn.live.lock();
        while *k < due {
            todo.push((*k, flow.next(&mut live)));
            *k += n;
        }
        return true;
    }
}

/// A sender that has sent all it will waits for the end of the run (closing now would lose
/// the answers still on their way).
pub(crate) async fn wait_done(ctx: &Ctx, conn: &Conn) {
    conn.sender_done.store(true, Ordering::Release);
    while !ctx.done.load(Ordering::Acquire) {
        conn.wake.notified().await;
    }
}
