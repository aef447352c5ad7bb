//! Wake-ups for a follower of a PostgreSQL journal (a standby): every append statement
//! sends a notification on channel `bourse_journal` (migration 0007's trigger), and
//! [`AppendSignal`] turns them into a bounded, coalescing wake-up. The follower still tails
//! by seq (`PgJournal::refresh_end`, then reads): a notification lost while the listener
//! reconnects costs only a poll interval, never a record.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, bounded};
use sqlx::postgres::PgListener;

/// The channel the journal's trigger notifies.
pub const CHANNEL: &str = "bourse_journal";

/// A thread listening for appends. Dropping it stops the thread.
#[derive(Debug)]
pub struct AppendSignal {
    rx: Receiver<()>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AppendSignal {
    /// Starts listening on `url`'s database. Never fails: a listener that cannot connect
    /// retries in the background (with a one-second pause), and waits fall back to polling.
    #[must_use]
    pub fn start(url: &str) -> AppendSignal {
        // One pending wake-up is enough: the follower reads everything there is.
        let (tx, rx) = bounded::<()>(1);
        let stop = Arc::new(AtomicBool::new(false));
        let (url, flag) = (url.to_owned(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("bourse-journal-listen".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async {
                    while !flag.load(Ordering::Acquire) {
                        let mut listener = match PgListener::connect(&url).await {
                            Ok(l) => l,
                            Err(e) => {
                                tracing::warn!("journal listener: connect failed: {e}");
                                tokio::time::sleep(Duration::from_secs(1)).await;
                                continue;
                            }
                        };
                        if let Err(e) = listener.listen(CHANNEL).await {
                            tracing::warn!("journal listener: LISTEN failed: {e}");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            continue;
                        }
                        while !flag.load(Ordering::Acquire) {
                            // Bounded, so a stop is seen within a quarter second.
                            match tokio::time::timeout(
                                Duration::from_millis(250),
                                listener.try_recv(),
                            )
                            .await
                            {
                                Err(_) => {}
                                Ok(Ok(Some(_))) => {
                                    let _ = tx.try_send(());
                                }
                                // The connection was lost (and will be remade): wake the
                                // follower, which reads by seq, so nothing in between is
                                // missed.
                                Ok(Ok(None)) => {
                                    let _ = tx.try_send(());
                                }
                                Ok(Err(e)) => {
                                    tracing::warn!("journal listener: {e}; reconnecting");
                                    break;
                                }
                            }
                        }
                    }
                });
            })
            .ok();
        AppendSignal { rx, stop, thread }
    }

    /// Waits for an append (true) or `timeout` (false).
    pub fn wait(&self, timeout: Duration) -> bool {
        match self.rx.recv_timeout(timeout) {
            Ok(()) => true,
            Err(RecvTimeoutError::Timeout) => false,
            // The listener thread is gone (it could not start): plain polling.
            Err(RecvTimeoutError::Disconnected) => {
                std::thread::sleep(timeout);
                false
            }
        }
    }
}

impl Drop for AppendSignal {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
