//! Who listens: the live FIX sessions by account, fed the released events of their
//! account — and a broker's sessions those of its customers' accounts too — by the
//! publisher ([`FixHub::publish`]), and the one-session-per-key rule.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bourse_api::{Directory, Gateway, History, Listings};

use crate::input::Input;
use bourse_core::{AccountId, Event, Tagged};
use parking_lot::Mutex;
use rustc_hash::{FxHashMap, FxHashSet};
use tokio::sync::mpsc;

/// What the sessions trade and read through.
#[derive(Clone, Debug)]
pub struct FixServices {
    pub gateway: Arc<Gateway>,
    pub directory: Arc<Directory>,
    pub listings: Listings,
    pub history: History,
}

pub(crate) struct Listener {
    pub id: u64,
    pub tx: mpsc::Sender<Input>,
    /// Set when the queue was full: the session logs out (it missed reports).
    pub overrun: Arc<AtomicBool>,
}

/// The live sessions.
#[derive(Default)]
pub struct FixHub {
    by_account: Mutex<FxHashMap<AccountId, Vec<Listener>>>,
    /// API keys with a live session.
    keys: Mutex<FxHashSet<u64>>,
    live: AtomicU64,
    next_id: AtomicU64,
    /// Messages in and out, and garbled inbound messages dropped, for `/metrics`.
    pub messages_in: AtomicU64,
    pub messages_out: AtomicU64,
    pub garbled: AtomicU64,
    /// Whose customer an account is (brokers' sessions get their customers' reports).
    directory: Option<Arc<Directory>>,
}

impl std::fmt::Debug for FixHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixHub")
            .field("live", &self.live())
            .finish_non_exhaustive()
    }
}

/// Holds an API key's one live session; dropping it frees the key and stops the events.
pub(crate) struct Claim {
    hub: Arc<FixHub>,
    key: u64,
    account: AccountId,
    id: u64,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.hub.keys.lock().remove(&self.key);
        let mut m = self.hub.by_account.lock();
        if let Some(list) = m.get_mut(&self.account) {
            list.retain(|l| l.id != self.id);
            if list.is_empty() {
                m.remove(&self.account);
            }
        }
        self.hub.live.fetch_sub(1, Ordering::Relaxed);
    }
}

impl FixHub {
    /// A hub that also routes customers' order events to their broker's sessions.
    #[must_use]
    pub fn new(directory: Arc<Directory>) -> FixHub {
        FixHub {
            directory: Some(directory),
            ..FixHub::default()
        }
    }

    /// Live sessions.
    #[must_use]
    pub fn live(&self) -> u64 {
        self.live.load(Ordering::Relaxed)
    }

    /// Takes the key for a new session; `None` if it already has a live one.
    pub(crate) fn claim(
        self: &Arc<Self>,
        key: u64,
        account: AccountId,
        tx: mpsc::Sender<Input>,
        overrun: Arc<AtomicBool>,
    ) -> Option<Claim> {
        if !self.keys.lock().insert(key) {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.by_account
            .lock()
            .entry(account)
            .or_default()
            .push(Listener { id, tx, overrun });
        self.live.fetch_add(1, Ordering::Relaxed);
        Some(Claim {
            hub: self.clone(),
            key,
            account,
            id,
        })
    }

    /// Hands each live session its account's order events from a released batch. Called on
    /// the publisher thread: never blocks (a full queue marks the session overrun).
    pub fn publish(&self, events: &[Tagged]) {
        let map = self.by_account.lock();
        if map.is_empty() {
            return;
        }
        let mut per: FxHashMap<AccountId, Vec<Tagged>> = FxHashMap::default();
        for t in events {
            let Some(a) = order_account(&t.event) else {
                continue;
            };
            if map.contains_key(&a) {
                per.entry(a).or_default().push(*t);
            }
            if let Some(b) = self.directory.as_ref().and_then(|d| d.broker_of(a))
                && map.contains_key(&b)
            {
                per.entry(b).or_default().push(*t);
            }
        }
        for (account, evs) in per {
            let Some(list) = map.get(&account) else {
                continue;
            };
            for l in list {
                if l.tx.try_send(Input::Events(evs.clone())).is_err() {
                    l.overrun.store(true, Ordering::Release);
                }
            }
        }
    }
}

/// The account an order's lifecycle event belongs to (rejections are answered to the
/// session that made the request, from its outcome).
fn order_account(e: &Event) -> Option<AccountId> {
    match *e {
        Event::OrderAccepted { account, .. }
        | Event::OrderTriggered { account, .. }
        | Event::OrderFilled { account, .. }
        | Event::OrderCanceled { account, .. }
        | Event::OrderReplaced { account, .. } => Some(account),
        _ => None,
    }
}
