//! The writer thread: takes submitted batches off a bounded queue and commits many at once
//! (the rows and `derived_through` in one transaction), then wakes the dispatcher.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::store::{Backend, Claimed};
use crate::{NewDelivery, NotifyConfig, NotifyError, NotifyStats};

enum Msg {
    Batch(Vec<NewDelivery>, u64),
    Flush(Sender<()>),
    Stop,
}

#[derive(Debug)]
pub(crate) struct WriterHandle {
    tx: Sender<Msg>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Writer {
    rx: Receiver<Msg>,
    store: Arc<Backend>,
    derived: Arc<AtomicU64>,
    stats: Arc<NotifyStats>,
    waker: Arc<Notify>,
    /// New deliveries handed to the dispatcher as they are committed. Only this thread
    /// sends, so a free slot seen before a commit is still free after it.
    hand_off: tokio::sync::mpsc::Sender<Vec<Claimed>>,
    rt: tokio::runtime::Handle,
    batch_max: usize,
}

pub(crate) fn start(
    cfg: &NotifyConfig,
    store: Arc<Backend>,
    derived: Arc<AtomicU64>,
    stats: Arc<NotifyStats>,
    waker: Arc<Notify>,
    hand_off: tokio::sync::mpsc::Sender<Vec<Claimed>>,
    rt: tokio::runtime::Handle,
) -> Result<WriterHandle, NotifyError> {
    let (tx, rx) = crossbeam_channel::bounded(usize::try_from(cfg.submit_queue).unwrap_or(65_536));
    let w = Writer {
        rx,
        store,
        derived,
        stats,
        waker,
        hand_off,
        rt,
        batch_max: usize::try_from(cfg.batch_max).unwrap_or(4096),
    };
    let thread = std::thread::Builder::new()
        .name("notify-writer".to_owned())
        .spawn(move || w.run())
        .map_err(|e| NotifyError::Config(format!("start the notify writer thread: {e}")))?;
    Ok(WriterHandle {
        tx,
        thread: Mutex::new(Some(thread)),
    })
}

impl WriterHandle {
    pub(crate) fn submit(&self, deliveries: Vec<NewDelivery>, through: u64, stats: &NotifyStats) {
        match self.tx.try_send(Msg::Batch(deliveries, through)) {
            Ok(()) => {}
            Err(TrySendError::Full(m)) => {
                stats.backpressure_waits.fetch_add(1, Ordering::Relaxed);
                if self.tx.send(m).is_err() {
                    tracing::warn!(through, "notify: submit after shutdown, batch dropped");
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                tracing::warn!(through, "notify: submit after shutdown, batch dropped");
            }
        }
    }

    pub(crate) fn flush(&self) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.recv();
        }
    }

    /// Commits what was submitted, then ends the thread.
    pub(crate) fn stop(&self) {
        let _ = self.tx.send(Msg::Stop);
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

/// How long `derived_through` may trail what was submitted when batches bring no deliveries.
/// Committing it for every released batch was one more transaction per journal commit, on
/// one row (on PostgreSQL the journal's order-entry p99 went from 11 ms to over 100 ms at
/// 20k orders/s). Trailing costs only a longer re-derivation after a restart, whose
/// deliveries the idempotency keys already make no-ops.
const WATERMARK_EVERY: Duration = Duration::from_secs(1);

impl Writer {
    fn run(self) {
        let mut stopping = false;
        // Submitted through this seq, not yet committed (batches without deliveries).
        let mut owed = 0;
        let mut last_commit = Instant::now();
        while !stopping {
            let first = match self.rx.recv_timeout(WATERMARK_EVERY) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut batch = Vec::new();
            let mut through = owed;
            let mut waiters = Vec::new();
            let mut take = |m: Msg, batch: &mut Vec<NewDelivery>| match m {
                Msg::Batch(d, t) => {
                    batch.extend(d);
                    through = through.max(t);
                    false
                }
                Msg::Flush(w) => {
                    waiters.push(w);
                    false
                }
                Msg::Stop => true,
            };
            if let Some(m) = first {
                stopping = take(m, &mut batch);
            }
            while !stopping && batch.len() < self.batch_max {
                match self.rx.try_recv() {
                    Ok(m) => stopping = take(m, &mut batch),
                    Err(_) => break,
                }
            }
            let behind = through > self.derived.load(Ordering::Acquire);
            let now = !batch.is_empty()
                || (behind
                    && (stopping
                        || !waiters.is_empty()
                        || last_commit.elapsed() >= WATERMARK_EVERY));
            if now {
                self.commit(batch, through, stopping);
                owed = 0;
                last_commit = Instant::now();
            } else {
                owed = through;
            }
            for w in waiters {
                let _ = w.send(());
            }
        }
    }

    /// The new rows go straight to the dispatcher while its hand-off queue has room; when
    /// it is behind they wait in the store to be claimed.
    fn commit(&self, batch: Vec<NewDelivery>, through: u64, stopping: bool) {
        let batch = Arc::new(batch);
        let hand_off = !stopping && self.hand_off.capacity() > 0;
        let mut delay = Duration::from_millis(50);
        for attempt in 1u32.. {
            match self
                .rt
                .block_on(self.store.commit(batch.clone(), through, hand_off))
            {
                Ok((inserted, claimed)) => {
                    self.derived.fetch_max(through, Ordering::AcqRel);
                    self.stats.add_pending(inserted);
                    // A closed queue (the dispatcher stopped) leaves them in flight in the
                    // store: attempted again at the next open.
                    if !claimed.is_empty() {
                        let _ = self.hand_off.try_send(claimed);
                    }
                    if inserted > 0 && !hand_off {
                        self.waker.notify_one();
                    }
                    return;
                }
                Err(e) => {
                    self.stats.store_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, through, attempt, "notify: enqueue failed, retrying");
                    if stopping && attempt >= 3 {
                        tracing::error!(
                            through,
                            n = batch.len(),
                            "notify: shutdown with deliveries not enqueued (re-derived at the next start)"
                        );
                        return;
                    }
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}
