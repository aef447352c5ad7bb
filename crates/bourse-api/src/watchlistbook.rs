//! Watchlists as the API shows them: every account's lists, mirrored from released engine
//! events (the engine holds them), so reads never go through the engine.

use std::collections::BTreeMap;

use bourse_core::{AccountId, Event, Symbol, UnixNanos, WatchlistName};
use parking_lot::RwLock;
use serde::Serialize;
use utoipa::ToSchema;

use crate::wire;

/// One watchlist as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
#[schema(as = Watchlist)]
pub struct WatchlistView {
    #[schema(pattern = "^[0-9]+$")]
    pub id: String,
    #[schema(pattern = "^[0-9]+$")]
    pub account_id: String,
    /// 1–48 bytes, unique among the account's watchlists.
    #[schema(value_type = String, min_length = 1, max_length = 48)]
    pub name: WatchlistName,
    /// In the order they were added.
    #[schema(value_type = Vec<wire::Symbol>)]
    pub symbols: Vec<Symbol>,
    #[schema(value_type = wire::Timestamp)]
    pub created_at: String,
    #[schema(value_type = wire::Timestamp)]
    pub updated_at: String,
}

/// Every account's watchlists, by account then id (oldest first).
#[derive(Debug, Default)]
pub struct WatchlistBook {
    inner: RwLock<BTreeMap<(AccountId, u64), WatchlistView>>,
}

impl WatchlistBook {
    /// Folds one released command's events in (at `ts`, the command's time).
    pub fn apply(&self, ts: UnixNanos, events: &[Event]) {
        let key = |e: &Event| match *e {
            Event::WatchlistCreated {
                watchlist_id,
                account,
                ..
            }
            | Event::WatchlistRenamed {
                watchlist_id,
                account,
                ..
            }
            | Event::WatchlistSymbolAdded {
                watchlist_id,
                account,
                ..
            }
            | Event::WatchlistSymbolRemoved {
                watchlist_id,
                account,
                ..
            }
            | Event::WatchlistDeleted {
                watchlist_id,
                account,
            } => Some((account, watchlist_id)),
            _ => None,
        };
        if !events.iter().any(|e| key(e).is_some()) {
            return;
        }
        let at = ts.to_rfc3339();
        let mut b = self.inner.write();
        for e in events {
            let Some(id) = key(e) else { continue };
            match *e {
                Event::WatchlistCreated { name, .. } => {
                    b.insert(
                        id,
                        WatchlistView {
                            id: id.1.to_string(),
                            account_id: id.0.to_string(),
                            name,
                            symbols: Vec::new(),
                            created_at: at.clone(),
                            updated_at: at.clone(),
                        },
                    );
                }
                Event::WatchlistDeleted { .. } => {
                    b.remove(&id);
                }
                _ => {
                    let Some(w) = b.get_mut(&id) else { continue };
                    match *e {
                        Event::WatchlistRenamed { name, .. } => w.name = name,
                        Event::WatchlistSymbolAdded { symbol, .. } => w.symbols.push(symbol),
                        Event::WatchlistSymbolRemoved { symbol, .. } => {
                            w.symbols.retain(|s| *s != symbol);
                        }
                        _ => {}
                    }
                    w.updated_at.clone_from(&at);
                }
            }
        }
    }

    /// The account's watchlists, oldest first.
    #[must_use]
    pub fn of(&self, account: AccountId) -> Vec<WatchlistView> {
        self.inner
            .read()
            .range((account, 0)..=(account, u64::MAX))
            .map(|(_, w)| w.clone())
            .collect()
    }

    /// One of the account's watchlists.
    #[must_use]
    pub fn get(&self, account: AccountId, id: u64) -> Option<WatchlistView> {
        self.inner.read().get(&(account, id)).cloned()
    }
}
