//! The durable notification outbox and the workers that deliver it (email over SMTP, SMS
//! through a provider's HTTP API, HMAC-signed webhooks). [`derive`] turns released events into
//! deliveries; the rest of the crate owns everything after that: storing,
//! scheduling, sending, retrying and dead-lettering. It never runs on the engine's thread
//! and never does I/O on the caller's thread.
//!
//! **The outbox.** [`Notifier::submit`] hands a released batch's deliveries and the seq they
//! are complete through to a writer thread (bounded queue), which commits many batches at once
//! in one transaction: the rows and the new `derived_through`, atomically. After a restart the
//! server re-derives everything after [`Notifier::derived_through`] and submits it again; the
//! **idempotency key** of each delivery (unique in the store) makes that re-submission a no-op
//! for what was already stored. Two stores with the same semantics: PostgreSQL (the journal's
//! database and schema, migration `0008_notify_outbox.sql`) and an embedded `redb` file (next to
//! a file journal).
//!
//! **At least once.** The writer stores each committed batch's new rows as in flight and
//! hands them straight to the dispatcher (a bounded queue of batches; when it is full the rows
//! are stored as due instead). The dispatcher also claims due deliveries — retries, replays,
//! what was not handed over — when woken, else every `poll_ms`, marking them in flight. The
//! outcome of each attempt is written back in batches. A delivery is marked delivered only after a 2xx answer (SMTP: the server's
//! acceptance). Deliveries in flight when the process stopped are handed out again when the
//! store is reopened, so a receiver can see one twice: it dedupes by the `Idempotency-Key`
//! header (webhooks), the `Message-ID` (email).
//!
//! **Per-endpoint isolation.** Each webhook, the SMTP relay and the SMS provider is an
//! endpoint with its own bounded queue, its own concurrency limit and its own circuit breaker.
//! The dispatcher never waits on an endpoint: a delivery for a full queue is put back a little
//! later, so a slow or dead endpoint fills only its own queue. Endpoints idle for a minute are
//! dropped from memory.
//!
//! **Breaker.** After `breaker_failures` consecutive failed attempts an endpoint opens for
//! `breaker_open_ms`: its deliveries are rescheduled, not attempted (no attempt is counted).
//! Then one probe goes through (half-open): success closes it, failure opens it again.
//!
//! **Retries and dead letters.** A failed attempt is retried after a delay drawn uniformly from
//! `[0, min(retry_max_ms, retry_base_ms * 2^(attempts-1))]` (exponential backoff, full jitter).
//! After `max_attempts` failed attempts the delivery is `dead`: listed, and put back to
//! `pending` by [`Notifier::replay`] / [`Notifier::replay_dead`]. A failure is: no answer
//! within `http_timeout_ms`, a connection error, or any non-2xx status — 4xx included (a
//! receiver answering 401/404/410 is usually misconfigured or mid-deploy and fixed later; the
//! attempts stay bounded by `max_attempts`, and a dead letter can be replayed). A delivery whose
//! destination is gone (address removed, webhook deleted), or whose channel is not configured,
//! ends `canceled`.
//!
//! **Secrets.** The outbox never stores an address, a webhook secret or a one-time code in
//! the clear: destinations are resolved through [`Directory`] at delivery time, and a
//! verification code is opened only in memory to render the message.

mod channels;
mod config;
pub mod derive;
mod dispatch;
mod stats;
mod store;
mod store_embedded;
mod store_pg;
mod templates;
mod writer;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bourse_core::profile::Channel;
use serde::{Deserialize, Serialize};

pub use channels::{Reach, check_url, sign};
pub use config::NotifyConfig;
pub use derive::derive;
pub use stats::{LAG_BUCKETS_MS, NotifyStats};
pub use templates::{Rendered, render};

/// One notification to deliver on one channel (to one webhook).
#[derive(Clone, Debug, PartialEq)]
pub struct NewDelivery {
    /// Idempotency key, unique: e.g. `n-<seq>-<event idx>-<channel>[-<webhook id>]`.
    /// Enqueuing a key already stored does nothing.
    pub key: String,
    /// The journal seq that caused it.
    pub seq: u64,
    pub account: u64,
    /// Notice type name, e.g. `order_filled` or `verification_code`.
    pub kind: String,
    /// Email, Sms or Webhook (in-app notices are never enqueued).
    pub channel: Channel,
    /// The webhook id for [`Channel::Webhook`], else 0.
    pub endpoint: u64,
    /// The full JSON body a webhook receives; the templates read it for email and SMS.
    pub payload: serde_json::Value,
    /// The event's time (ns since the epoch): delivery lag is measured from it.
    pub created_at_ns: u64,
}

/// Where a delivery goes, resolved at delivery time.
#[derive(Clone, PartialEq, Eq)]
pub enum Destination {
    Email { to: String },
    Sms { to: String },
    Webhook { url: String, secret: String },
}

impl fmt::Debug for Destination {
    /// Addresses and secrets stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Email { .. } => f.write_str("Email(..)"),
            Destination::Sms { .. } => f.write_str("Sms(..)"),
            Destination::Webhook { .. } => f.write_str("Webhook(..)"),
        }
    }
}

/// Provided by the server: where a delivery goes *at delivery time* (addresses are stored
/// encrypted elsewhere; the outbox never stores an address or a secret in the clear).
pub trait Directory: Send + Sync + 'static {
    /// `None`: gone (address removed, webhook deleted); the delivery ends `canceled`.
    fn destination(&self, account: u64, channel: Channel, endpoint: u64) -> Option<Destination>;
    /// Opens a sealed value that a payload carries as hex (verification codes:
    /// `payload.data.code_sealed`); `None` if it does not open.
    fn open(&self, sealed_hex: &str) -> Option<String>;
}

/// Where the outbox lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Store {
    /// The journal's database: `schema` is the journal's (empty: the connection's default).
    Postgres { url: String, schema: String },
    /// One `redb` file (created if missing).
    Embedded { path: PathBuf },
}

impl fmt::Debug for Store {
    /// The URL may carry a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Store::Postgres { schema, .. } => f
                .debug_struct("Postgres")
                .field("schema", schema)
                .finish_non_exhaustive(),
            Store::Embedded { path } => f.debug_struct("Embedded").field("path", path).finish(),
        }
    }
}

/// A delivery's state. Wire names: `pending`, `delivered`, `dead`, `canceled`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Delivered,
    Dead,
    Canceled,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Pending,
        Status::Delivered,
        Status::Dead,
        Status::Canceled,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Delivered => "delivered",
            Status::Dead => "dead",
            Status::Canceled => "canceled",
        }
    }

    pub fn parse(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The stored code.
    pub(crate) fn code(self) -> i16 {
        match self {
            Status::Pending => 0,
            Status::Delivered => 1,
            Status::Dead => 2,
            Status::Canceled => 3,
        }
    }

    pub(crate) fn from_code(c: i16) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.code() == c)
    }
}

/// The stored code of a channel.
pub(crate) fn channel_code(c: Channel) -> i16 {
    match c {
        Channel::InApp => 0,
        Channel::Email => 1,
        Channel::Sms => 2,
        Channel::Webhook => 3,
    }
}

pub(crate) fn channel_from_code(c: i16) -> Option<Channel> {
    Channel::ALL.into_iter().find(|ch| channel_code(*ch) == c)
}

/// One delivery as the API lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeliveryView {
    pub id: i64,
    pub key: String,
    pub kind: String,
    pub channel: Channel,
    pub endpoint: u64,
    pub status: Status,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at_ns: u64,
    /// Pending deliveries only.
    pub next_attempt_at_ns: Option<u64>,
    pub delivered_at_ns: Option<u64>,
}

/// What failed.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("notify configuration: {0}")]
    Config(String),
    #[error("notify store: {what}: {detail}")]
    Store { what: &'static str, detail: String },
    #[error("the notifier is shut down")]
    Shutdown,
}

/// Nanoseconds since the epoch, now.
pub(crate) fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The outbox and its workers. Cheap to share in an `Arc`.
pub struct Notifier {
    store: Arc<store::Backend>,
    writer: writer::WriterHandle,
    derived: Arc<AtomicU64>,
    stats: Arc<NotifyStats>,
    dispatch: dispatch::DispatchHandle,
    stopped: AtomicBool,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("store", &self.store.describe())
            .field("derived_through", &self.derived_through())
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// Opens the store (PostgreSQL: applies the migrations, like the journal) and starts the
    /// writer thread and the delivery workers on `rt`. Call it outside `rt`'s worker threads
    /// or on a multi-thread runtime (opening waits for the store).
    pub fn start(
        cfg: NotifyConfig,
        store: Store,
        dir: Arc<dyn Directory>,
        rt: tokio::runtime::Handle,
    ) -> Result<Notifier, NotifyError> {
        cfg.validate()?;
        let cfg = Arc::new(cfg);
        let (backend, opened) = store::open(&store, &rt)?;
        let backend = Arc::new(backend);
        let stats = Arc::new(NotifyStats::default());
        stats.set_pending(opened.pending);
        let derived = Arc::new(AtomicU64::new(opened.derived_through));
        // lettre's pooled transport spawns onto the runtime it is made in.
        let senders = {
            let _in_rt = rt.enter();
            channels::Senders::new(&cfg)?
        };
        // The writer holds the only sender: when it stops, the dispatcher goes on claiming.
        let (hand_off, handed) = tokio::sync::mpsc::channel(dispatch::HAND_OFF_BATCHES);
        let dispatch = dispatch::start(
            cfg.clone(),
            backend.clone(),
            dir,
            senders,
            stats.clone(),
            handed,
            rt.clone(),
        );
        let writer = writer::start(
            &cfg,
            backend.clone(),
            derived.clone(),
            stats.clone(),
            dispatch.waker(),
            hand_off,
            rt,
        )?;
        Ok(Notifier {
            store: backend,
            writer,
            derived,
            stats,
            dispatch,
            stopped: AtomicBool::new(false),
        })
    }

    /// The seq through which deliveries have been durably enqueued (0 for a new store).
    pub fn derived_through(&self) -> u64 {
        self.derived.load(Ordering::Acquire)
    }

    /// Hands one released batch's deliveries (possibly none) and the seq it is complete
    /// through. No I/O here: a bounded queue to the writer thread; when it is full this waits
    /// (counted in [`NotifyStats::backpressure_waits`]).
    pub fn submit(&self, deliveries: Vec<NewDelivery>, through: u64) {
        self.writer.submit(deliveries, through, &self.stats);
    }

    /// Waits until everything submitted is committed.
    pub fn flush(&self) {
        self.writer.flush();
    }

    /// The account's deliveries for one endpoint (or all when `None`), newest first,
    /// filtered by status, paged by id (`before_id`: exclusive). `limit` is capped at 1000.
    pub async fn list(
        &self,
        account: u64,
        endpoint: Option<(Channel, u64)>,
        status: Option<Status>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<DeliveryView>, NotifyError> {
        let q = store::ListQuery {
            account,
            endpoint,
            status,
            before_id,
            limit: limit.min(1000),
        };
        self.store.list(q).await
    }

    /// Puts a dead (or canceled) delivery of this account back to pending now, attempts
    /// reset. `Ok(false)`: no such delivery of this account, or not dead/canceled.
    pub async fn replay(&self, account: u64, id: i64) -> Result<bool, NotifyError> {
        let done = self.store.replay(account, id, now_ns()).await?;
        if done {
            self.stats.add_pending(1);
            self.dispatch.waker().notify_one();
        }
        Ok(done)
    }

    /// All dead deliveries of one endpoint of this account back to pending; how many.
    pub async fn replay_dead(
        &self,
        account: u64,
        channel: Channel,
        endpoint: u64,
    ) -> Result<u64, NotifyError> {
        let n = self
            .store
            .replay_dead(account, channel, endpoint, now_ns())
            .await?;
        if n > 0 {
            self.stats.add_pending(n);
            self.dispatch.waker().notify_one();
        }
        Ok(n)
    }

    pub fn stats(&self) -> Arc<NotifyStats> {
        self.stats.clone()
    }

    /// Stops the workers (attempts in flight are abandoned: not marked delivered, handed out
    /// again after a restart) and the writer (after committing what was submitted).
    /// Idempotent.
    pub fn shutdown(&self) {
        if self.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        self.writer.stop();
        self.dispatch.stop();
        self.store.close();
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.shutdown();
    }
}
