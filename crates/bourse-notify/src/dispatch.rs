//! The delivery workers, on the server's tokio runtime: a dispatcher claims due deliveries
//! into bounded per-endpoint queues; each endpoint runs up to `endpoint_concurrency`
//! attempts behind its circuit breaker; an outcome writer records results in batches.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bourse_core::profile::Channel;
use parking_lot::Mutex;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::{AbortHandle, JoinSet};

use crate::channels::{Failure, Senders};
use crate::store::{Backend, Claimed, Finish};
use crate::{Destination, Directory, NotifyConfig, NotifyStats, Status, now_ns};

/// An endpoint with nothing queued or in flight for this long is dropped from memory.
const IDLE: Duration = Duration::from_secs(60);
/// How far a delivery is put back when its endpoint's queue is full.
const QUEUE_FULL_DEFER: Duration = Duration::from_secs(1);

/// Where deliveries queue: each webhook on its own; one SMTP relay; one SMS provider.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum EndpointKey {
    Email,
    Sms,
    Webhook { account: u64, id: u64 },
}

impl EndpointKey {
    fn of(c: &Claimed) -> EndpointKey {
        match c.channel {
            Channel::Email => EndpointKey::Email,
            Channel::Sms => EndpointKey::Sms,
            Channel::Webhook | Channel::InApp => EndpointKey::Webhook {
                account: c.account,
                id: c.endpoint,
            },
        }
    }
}

/// Closed → (N consecutive failures) → open until `until` → one probe (half-open) →
/// closed on success, open again on failure.
#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

impl Breaker {
    /// `Err(until)`: not now, put it back until then.
    fn admit(&mut self, now: Instant, open: Duration) -> Result<(), Instant> {
        match self.open_until {
            None => Ok(()),
            Some(u) if now < u => Err(u),
            Some(_) if self.probing => Err(now + open.min(Duration::from_secs(1))),
            Some(_) => {
                self.probing = true;
                Ok(())
            }
        }
    }

    fn blocked(&self, now: Instant) -> Option<Instant> {
        self.open_until.filter(|u| now < *u)
    }

    fn success(&mut self) {
        *self = Breaker::default();
    }

    /// Whether this failure opened the breaker.
    fn failure(&mut self, now: Instant, threshold: u32, open: Duration) -> bool {
        self.failures = self.failures.saturating_add(1);
        if self.probing || (self.open_until.is_none() && self.failures >= threshold) {
            self.probing = false;
            self.open_until = Some(now + open);
            return true;
        }
        false
    }
}

struct Endpoint {
    tx: mpsc::Sender<Claimed>,
    breaker: Mutex<Breaker>,
    task: Mutex<Option<AbortHandle>>,
}

enum Out {
    Done(Finish),
    Stop(std::sync::mpsc::SyncSender<()>),
}

struct Shared {
    cfg: Arc<NotifyConfig>,
    store: Arc<Backend>,
    dir: Arc<dyn Directory>,
    senders: Arc<Senders>,
    stats: Arc<NotifyStats>,
    rt: tokio::runtime::Handle,
    endpoints: Mutex<HashMap<EndpointKey, Arc<Endpoint>>>,
    outcomes: mpsc::Sender<Out>,
    stopping: AtomicBool,
    rng: AtomicU64,
}

/// Committed batches handed from the writer, at most this many waiting.
pub(crate) const HAND_OFF_BATCHES: usize = 8;

#[derive(Debug)]
pub(crate) struct DispatchHandle {
    waker: Arc<Notify>,
    shared: Arc<SharedDebug>,
    dispatcher: AbortHandle,
}

/// `Shared` behind a Debug that says little.
struct SharedDebug(Arc<Shared>);

impl std::fmt::Debug for SharedDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatch")
            .field("endpoints", &self.0.endpoints.lock().len())
            .finish_non_exhaustive()
    }
}

pub(crate) fn start(
    cfg: Arc<NotifyConfig>,
    store: Arc<Backend>,
    dir: Arc<dyn Directory>,
    senders: Arc<Senders>,
    stats: Arc<NotifyStats>,
    handed: mpsc::Receiver<Vec<Claimed>>,
    rt: tokio::runtime::Handle,
) -> DispatchHandle {
    let cap = usize::try_from(cfg.batch_max)
        .unwrap_or(4096)
        .saturating_mul(4);
    let (tx, rx) = mpsc::channel(cap);
    let mut seed = [0u8; 8];
    let _ = getrandom::fill(&mut seed);
    let shared = Arc::new(Shared {
        cfg,
        store,
        dir,
        senders,
        stats,
        rt: rt.clone(),
        endpoints: Mutex::new(HashMap::new()),
        outcomes: tx,
        stopping: AtomicBool::new(false),
        rng: AtomicU64::new(u64::from_le_bytes(seed)),
    });
    let waker = Arc::new(Notify::new());
    rt.spawn(record_outcomes(shared.clone(), rx));
    let dispatcher = rt
        .spawn(dispatch(shared.clone(), waker.clone(), handed))
        .abort_handle();
    DispatchHandle {
        waker,
        shared: Arc::new(SharedDebug(shared)),
        dispatcher,
    }
}

impl DispatchHandle {
    pub(crate) fn waker(&self) -> Arc<Notify> {
        self.waker.clone()
    }

    /// Aborts the dispatcher and every endpoint's attempts (not recorded: they stay in
    /// flight in the store and are handed out again at the next open), then waits (bounded)
    /// for the outcomes already produced to be written.
    pub(crate) fn stop(&self) {
        let shared = &self.shared.0;
        shared.stopping.store(true, Ordering::Release);
        self.dispatcher.abort();
        for ep in shared.endpoints.lock().drain().map(|(_, ep)| ep) {
            if let Some(t) = ep.task.lock().take() {
                t.abort();
            }
        }
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        let mut msg = Out::Stop(done_tx);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match shared.outcomes.try_send(msg) {
                Ok(()) => break,
                Err(mpsc::error::TrySendError::Full(m)) if Instant::now() < deadline => {
                    msg = m;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return,
            }
        }
        let _ = done_rx.recv_timeout(Duration::from_secs(10));
    }
}

impl Shared {
    /// Uniform random bits (splitmix64 over a random seed): the retry jitter.
    fn random(&self) -> u64 {
        let mut z = self
            .rng
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    async fn record(&self, f: Finish) {
        let _ = self.outcomes.send(Out::Done(f)).await;
    }

    /// Puts a claimed delivery back, unattempted, until `at`.
    async fn defer(&self, c: &Claimed, at: Instant) {
        self.stats.deferred.fetch_add(1, Ordering::Relaxed);
        let wait = at.saturating_duration_since(Instant::now());
        let next = now_ns().saturating_add(u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX));
        self.record(Finish {
            id: c.id,
            status: Status::Pending,
            attempts: c.attempts,
            next_ns: next,
            error: None,
            delivered_ns: None,
        })
        .await;
    }
}

/// Routes what the writer hands over as it commits; claims due deliveries whenever woken
/// (a commit the writer could not hand over, a replay) or every `poll_ms` (retries).
async fn dispatch(
    shared: Arc<Shared>,
    waker: Arc<Notify>,
    mut handed: mpsc::Receiver<Vec<Claimed>>,
) {
    let poll = Duration::from_millis(shared.cfg.poll_ms);
    let limit = shared.cfg.batch_max.min(1024);
    loop {
        let claimed = match shared.store.claim(now_ns(), limit).await {
            Ok(c) => c,
            Err(e) => {
                shared.stats.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "notify: claiming deliveries failed");
                tokio::time::sleep(poll).await;
                continue;
            }
        };
        let more = claimed.len() >= usize::try_from(limit).unwrap_or(usize::MAX);
        for c in claimed {
            route(&shared, c).await;
        }
        if more {
            tokio::task::yield_now().await;
            continue;
        }
        let mut wait = Box::pin(tokio::time::sleep(poll));
        loop {
            tokio::select! {
                // `None` (the writer stopped) disables this branch; claiming goes on.
                Some(batch) = handed.recv() => {
                    for c in batch {
                        route(&shared, c).await;
                    }
                }
                () = waker.notified() => break,
                () = &mut wait => break,
            }
        }
    }
}

/// Into its endpoint's queue, never waiting: a full queue or an open breaker puts it back.
async fn route(shared: &Arc<Shared>, c: Claimed) {
    let key = EndpointKey::of(&c);
    let now = Instant::now();
    let put_back = {
        let mut map = shared.endpoints.lock();
        let ep = map
            .entry(key)
            .or_insert_with(|| spawn_endpoint(shared, key))
            .clone();
        if let Some(until) = ep.breaker.lock().blocked(now) {
            Some((c, until))
        } else {
            match ep.tx.try_send(c) {
                Ok(()) => None,
                Err(mpsc::error::TrySendError::Full(c)) => Some((c, now + QUEUE_FULL_DEFER)),
                Err(mpsc::error::TrySendError::Closed(c)) => {
                    map.remove(&key);
                    Some((c, now))
                }
            }
        }
    };
    if let Some((c, until)) = put_back {
        shared.defer(&c, until).await;
    }
}

fn spawn_endpoint(shared: &Arc<Shared>, key: EndpointKey) -> Arc<Endpoint> {
    let (tx, rx) = mpsc::channel(usize::try_from(shared.cfg.endpoint_queue).unwrap_or(1024));
    let ep = Arc::new(Endpoint {
        tx,
        breaker: Mutex::new(Breaker::default()),
        task: Mutex::new(None),
    });
    let handle = shared
        .rt
        .spawn(run_endpoint(shared.clone(), key, ep.clone(), rx));
    *ep.task.lock() = Some(handle.abort_handle());
    ep
}

/// One endpoint: takes its queue in order, up to `endpoint_concurrency` attempts at once.
/// Dropping it (abort) aborts its attempts.
async fn run_endpoint(
    shared: Arc<Shared>,
    key: EndpointKey,
    ep: Arc<Endpoint>,
    mut rx: mpsc::Receiver<Claimed>,
) {
    let permits = Arc::new(Semaphore::new(
        usize::try_from(shared.cfg.endpoint_concurrency).unwrap_or(8),
    ));
    let open = Duration::from_millis(shared.cfg.breaker_open_ms);
    let mut attempts = JoinSet::new();
    loop {
        while attempts.try_join_next().is_some() {}
        let c = match tokio::time::timeout(IDLE, rx.recv()).await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(_) => {
                if attempts.is_empty() {
                    let mut map = shared.endpoints.lock();
                    // Under the map's lock, so the dispatcher cannot queue in between.
                    if rx.is_empty() && map.get(&key).is_some_and(|e| Arc::ptr_eq(e, &ep)) {
                        map.remove(&key);
                        break;
                    }
                }
                continue;
            }
        };
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let admitted = ep.breaker.lock().admit(Instant::now(), open);
        match admitted {
            Ok(()) => {
                let (shared, ep) = (shared.clone(), ep.clone());
                attempts.spawn(async move {
                    attempt(&shared, &ep, c).await;
                    drop(permit);
                });
            }
            Err(until) => shared.defer(&c, until).await,
        }
    }
}

/// One attempt and its recorded outcome.
async fn attempt(shared: &Shared, ep: &Endpoint, c: Claimed) {
    let stats = &shared.stats;
    let cfg = &shared.cfg;
    stats.in_flight.fetch_add(1, Ordering::Relaxed);
    let result = deliver(shared, &c).await;
    stats.in_flight.fetch_sub(1, Ordering::Relaxed);
    let now = now_ns();
    let tried = c.attempts.saturating_add(1);
    let finish = match result {
        Ok(()) => {
            ep.breaker.lock().success();
            let lag_ms = now.saturating_sub(c.created_at_ns) / 1_000_000;
            stats.record_sent(c.channel, lag_ms);
            stats.sub_pending(1);
            Finish {
                id: c.id,
                status: Status::Delivered,
                attempts: tried,
                next_ns: now,
                error: None,
                delivered_ns: Some(now),
            }
        }
        Err(Failure::Cancel(reason)) => {
            stats.canceled.fetch_add(1, Ordering::Relaxed);
            stats.sub_pending(1);
            Finish {
                id: c.id,
                status: Status::Canceled,
                attempts: c.attempts,
                next_ns: now,
                error: Some(reason),
                delivered_ns: None,
            }
        }
        Err(Failure::Dead(reason)) => {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
            stats.sub_pending(1);
            Finish {
                id: c.id,
                status: Status::Dead,
                attempts: tried,
                next_ns: now,
                error: Some(reason),
                delivered_ns: None,
            }
        }
        Err(Failure::Retry(reason)) => {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            let opened = ep.breaker.lock().failure(
                Instant::now(),
                cfg.breaker_failures,
                Duration::from_millis(cfg.breaker_open_ms),
            );
            if opened {
                stats.breaker_opens.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    channel = c.channel.name(),
                    endpoint = c.endpoint,
                    "notify: circuit opened"
                );
            }
            if tried >= cfg.max_attempts {
                stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
                stats.sub_pending(1);
                Finish {
                    id: c.id,
                    status: Status::Dead,
                    attempts: tried,
                    next_ns: now,
                    error: Some(reason),
                    delivered_ns: None,
                }
            } else {
                stats.retried.fetch_add(1, Ordering::Relaxed);
                let delay_ms = cfg.backoff_ms(tried, shared.random());
                Finish {
                    id: c.id,
                    status: Status::Pending,
                    attempts: tried,
                    next_ns: now.saturating_add(delay_ms.saturating_mul(1_000_000)),
                    error: Some(reason),
                    delivered_ns: None,
                }
            }
        }
    };
    shared.record(finish).await;
}

/// Resolves the destination now and sends.
async fn deliver(shared: &Shared, c: &Claimed) -> Result<(), Failure> {
    let senders = &shared.senders;
    match c.channel {
        Channel::Email if !senders.email_on() => {
            return Err(Failure::Cancel("email is not configured".to_owned()));
        }
        Channel::Sms if !senders.sms_on() => {
            return Err(Failure::Cancel("SMS is not configured".to_owned()));
        }
        Channel::InApp => {
            return Err(Failure::Cancel(
                "in-app notices are not delivered here".to_owned(),
            ));
        }
        _ => {}
    }
    let dest = shared
        .dir
        .destination(c.account, c.channel, c.endpoint)
        .ok_or_else(|| Failure::Cancel("the destination no longer exists".to_owned()))?;
    match dest {
        Destination::Webhook { url, secret } => {
            senders
                .webhook(&url, &secret, &c.key, c.id, &c.payload)
                .await
        }
        Destination::Email { to } => {
            let r = rendered(shared, c)?;
            senders.email(&to, &c.key, r.subject, r.text).await
        }
        Destination::Sms { to } => {
            let r = rendered(shared, c)?;
            senders.sms(&to, &c.key, &r.sms).await
        }
    }
}

/// The message for email and SMS; a verification code is opened here, in memory only.
fn rendered(shared: &Shared, c: &Claimed) -> Result<crate::Rendered, Failure> {
    let payload: serde_json::Value = serde_json::from_str(&c.payload)
        .map_err(|_| Failure::Dead("the stored payload is not JSON".to_owned()))?;
    let code = if c.kind == "verification_code" {
        let sealed = payload
            .pointer("/data/code_sealed")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| Failure::Dead("the notice carries no code".to_owned()))?;
        Some(
            shared
                .dir
                .open(sealed)
                .ok_or_else(|| Failure::Dead("the code does not open".to_owned()))?,
        )
    } else {
        None
    };
    Ok(crate::render(&c.kind, &payload, code.as_deref()))
}

/// Writes outcomes in batches; a failing store is retried (the rows stay in flight, so
/// nothing is attempted twice meanwhile).
async fn record_outcomes(shared: Arc<Shared>, mut rx: mpsc::Receiver<Out>) {
    let max = usize::try_from(shared.cfg.batch_max).unwrap_or(4096);
    let mut stop = None;
    while stop.is_none() {
        let mut batch = Vec::new();
        match rx.recv().await {
            Some(Out::Done(f)) => batch.push(f),
            Some(Out::Stop(done)) => stop = Some(done),
            None => break,
        }
        while stop.is_none() && batch.len() < max {
            match rx.try_recv() {
                Ok(Out::Done(f)) => batch.push(f),
                Ok(Out::Stop(done)) => stop = Some(done),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        let batch = Arc::new(batch);
        let mut delay = Duration::from_millis(50);
        for tries in 1u32.. {
            match shared.store.finish(batch.clone()).await {
                Ok(()) => break,
                Err(e) => {
                    shared.stats.store_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, "notify: recording outcomes failed, retrying");
                    if shared.stopping.load(Ordering::Acquire) && tries >= 3 {
                        break;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
    if let Some(done) = stop {
        let _ = done.send(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_opens_probes_and_closes() {
        let open = Duration::from_secs(30);
        let t0 = Instant::now();
        let mut b = Breaker::default();
        assert!(!b.failure(t0, 3, open));
        assert!(!b.failure(t0, 3, open));
        assert!(b.failure(t0, 3, open));
        assert_eq!(b.admit(t0, open), Err(t0 + open));
        let later = t0 + open;
        assert_eq!(b.admit(later, open), Ok(()));
        assert!(b.admit(later, open).is_err(), "one probe at a time");
        assert!(b.failure(later, 3, open), "a failed probe opens it again");
        assert!(b.admit(later, open).is_err());
        let after = later + open;
        assert_eq!(b.admit(after, open), Ok(()));
        b.success();
        assert_eq!(b.admit(after, open), Ok(()));
        assert!(b.blocked(after).is_none());
    }
}
