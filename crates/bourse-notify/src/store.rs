//! What the writer and the workers ask of a store, and the one enum over both stores.

use std::sync::Arc;

use bourse_core::profile::Channel;

use crate::store_embedded::EmbeddedStore;
use crate::store_pg::PgStore;
use crate::{DeliveryView, NewDelivery, NotifyError, Status, Store};

/// What an opened store holds.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) derived_through: u64,
    pub(crate) pending: u64,
}

/// A delivery claimed by the dispatcher (in flight until its outcome is written).
#[derive(Clone, Debug)]
pub(crate) struct Claimed {
    pub(crate) id: i64,
    pub(crate) key: String,
    pub(crate) account: u64,
    pub(crate) kind: String,
    pub(crate) channel: Channel,
    pub(crate) endpoint: u64,
    /// Attempts made before this one.
    pub(crate) attempts: u32,
    /// The exact JSON text a webhook receives.
    pub(crate) payload: String,
    pub(crate) created_at_ns: u64,
}

/// How an attempt (or a deferral) ended: the row's new state. Clears `inflight`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Finish {
    pub(crate) id: i64,
    pub(crate) status: Status,
    pub(crate) attempts: u32,
    /// When pending: the next attempt.
    pub(crate) next_ns: u64,
    /// `None` keeps the previous error.
    pub(crate) error: Option<String>,
    pub(crate) delivered_ns: Option<u64>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct ListQuery {
    pub(crate) account: u64,
    pub(crate) endpoint: Option<(Channel, u64)>,
    pub(crate) status: Option<Status>,
    pub(crate) before_id: Option<i64>,
    pub(crate) limit: u32,
}

#[derive(Debug)]
pub(crate) enum Backend {
    Pg(PgStore),
    /// Blocking calls, run on tokio's blocking pool.
    Embedded(Arc<EmbeddedStore>),
}

/// Opens the store (waiting for it on a helper thread, so that this works from inside a
/// multi-thread runtime too).
pub(crate) fn open(
    store: &Store,
    rt: &tokio::runtime::Handle,
) -> Result<(Backend, Opened), NotifyError> {
    match store {
        Store::Postgres { url, schema } => {
            let (url, schema, rt2) = (url.clone(), schema.clone(), rt.clone());
            let (pg, opened) = std::thread::scope(|s| {
                s.spawn(move || rt2.block_on(PgStore::open(&url, &schema)))
                    .join()
                    .unwrap_or_else(|_| {
                        Err(NotifyError::Config("opening the store panicked".to_owned()))
                    })
            })?;
            Ok((Backend::Pg(pg), opened))
        }
        Store::Embedded { path } => {
            let (e, opened) = EmbeddedStore::open(path)?;
            Ok((Backend::Embedded(Arc::new(e)), opened))
        }
    }
}

/// Runs a call on the embedded store on the blocking pool; a failure lets it heal.
async fn embedded<T: Send + 'static>(
    e: &Arc<EmbeddedStore>,
    f: impl FnOnce(&EmbeddedStore) -> Result<T, NotifyError> + Send + 'static,
) -> Result<T, NotifyError> {
    let e = e.clone();
    blocking(move || {
        let r = f(&e);
        if r.is_err() {
            e.heal();
        }
        r
    })
    .await
}

/// Runs a blocking store call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, NotifyError> + Send + 'static,
) -> Result<T, NotifyError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| NotifyError::Store {
            what: "embedded store task",
            detail: e.to_string(),
        })?
}

impl Backend {
    /// After shutdown: the embedded file is closed (its lock released).
    pub(crate) fn close(&self) {
        if let Backend::Embedded(e) = self {
            e.close();
        }
    }

    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Backend::Pg(_) => "postgres",
            Backend::Embedded(_) => "embedded",
        }
    }

    /// Inserts the deliveries (existing keys ignored) and advances `derived_through`, in one
    /// transaction. With `hand_off`, the new rows are stored as in flight and returned,
    /// claimed, for the dispatcher to take at once (no claim round trip); without, they
    /// wait to be claimed. Returns how many rows were new, and those claimed.
    pub(crate) async fn commit(
        &self,
        batch: Arc<Vec<NewDelivery>>,
        through: u64,
        hand_off: bool,
    ) -> Result<(u64, Vec<Claimed>), NotifyError> {
        match self {
            Backend::Pg(pg) => pg.commit(&batch, through, hand_off).await,
            Backend::Embedded(e) => embedded(e, move |e| e.commit(&batch, through, hand_off)).await,
        }
    }

    /// Claims up to `limit` pending deliveries due at `now_ns` (oldest due first).
    pub(crate) async fn claim(&self, now_ns: u64, limit: u32) -> Result<Vec<Claimed>, NotifyError> {
        match self {
            Backend::Pg(pg) => pg.claim(now_ns, limit).await,
            Backend::Embedded(e) => embedded(e, move |e| e.claim(now_ns, limit)).await,
        }
    }

    pub(crate) async fn finish(&self, batch: Arc<Vec<Finish>>) -> Result<(), NotifyError> {
        match self {
            Backend::Pg(pg) => pg.finish(&batch).await,
            Backend::Embedded(e) => embedded(e, move |e| e.finish(&batch)).await,
        }
    }

    pub(crate) async fn list(&self, q: ListQuery) -> Result<Vec<DeliveryView>, NotifyError> {
        match self {
            Backend::Pg(pg) => pg.list(q).await,
            Backend::Embedded(e) => embedded(e, move |e| e.list(q)).await,
        }
    }

    pub(crate) async fn replay(
        &self,
        account: u64,
        id: i64,
        now_ns: u64,
    ) -> Result<bool, NotifyError> {
        match self {
            Backend::Pg(pg) => pg.replay(account, id, now_ns).await,
            Backend::Embedded(e) => embedded(e, move |e| e.replay(account, id, now_ns)).await,
        }
    }

    pub(crate) async fn replay_dead(
        &self,
        account: u64,
        channel: Channel,
        endpoint: u64,
        now_ns: u64,
    ) -> Result<u64, NotifyError> {
        match self {
            Backend::Pg(pg) => pg.replay_dead(account, channel, endpoint, now_ns).await,
            Backend::Embedded(e) => {
                embedded(e, move |e| {
                    e.replay_dead(account, channel, endpoint, now_ns)
                })
                .await
            }
        }
    }
}

/// i64 columns hold u64 values below 2^63 (seqs, accounts, ns times until 2262).
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
