//! Watchlists as exchange state: each account's named lists of symbols, changed only by
//! journaled commands, so they survive restarts and every copy of the state agrees. Not on
//! any trading path; ordered maps keep the snapshot canonical.

use std::collections::BTreeMap;

use bourse_core::{AccountId, Event, RejectReason, Symbol, UnixNanos, WatchlistName};
use serde::{Deserialize, Serialize};

pub use bourse_core::command::{
    MAX_WATCHLIST_SYMBOLS as MAX_SYMBOLS, MAX_WATCHLISTS as MAX_PER_ACCOUNT,
};

/// One watchlist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watchlist {
    pub name: WatchlistName,
    /// In the order they were added, each once.
    pub symbols: Vec<Symbol>,
    pub created_at: UnixNanos,
    pub updated_at: UnixNanos,
}

/// Every account's watchlists.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watchlists {
    /// Keyed by owner first, so one account's lists are a range and another account's id
    /// is simply not found.
    lists: BTreeMap<(AccountId, u64), Watchlist>,
    next_id: u64,
}

/// Each symbol once, in the order first given.
fn distinct(symbols: &[Symbol]) -> Vec<Symbol> {
    let mut out: Vec<Symbol> = Vec::with_capacity(symbols.len());
    for s in symbols {
        if !out.contains(s) {
            out.push(*s);
        }
    }
    out
}

impl Watchlists {
    #[must_use]
    pub fn len(&self) -> usize {
        self.lists.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    /// Every watchlist with its owner and id, by owner then id.
    pub fn iter(&self) -> impl Iterator<Item = (AccountId, u64, &Watchlist)> + '_ {
        self.lists.iter().map(|(&(a, id), w)| (a, id, w))
    }

    /// One account's watchlists, oldest first.
    pub fn of(&self, account: AccountId) -> impl Iterator<Item = (u64, &Watchlist)> + '_ {
        self.lists
            .range((account, 0)..=(account, u64::MAX))
            .map(|(&(_, id), w)| (id, w))
    }

    fn name_taken(&self, account: AccountId, name: WatchlistName, except: u64) -> bool {
        self.of(account)
            .any(|(id, w)| id != except && w.name == name)
    }

    /// The caller's own watchlist, or `UNKNOWN_WATCHLIST` (another account's is not shown
    /// to exist).
    fn own_mut(&mut self, account: AccountId, id: u64) -> Result<&mut Watchlist, RejectReason> {
        self.lists
            .get_mut(&(account, id))
            .ok_or(RejectReason::UnknownWatchlist)
    }

    /// `symbols` are listed ones (the engine checked).
    pub(crate) fn create(
        &mut self,
        account: AccountId,
        name: WatchlistName,
        symbols: &[Symbol],
        at: UnixNanos,
        out: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        if self.of(account).count() >= MAX_PER_ACCOUNT {
            return Err(RejectReason::TooManyWatchlists);
        }
        if self.name_taken(account, name, 0) {
            return Err(RejectReason::WatchlistNameTaken);
        }
        let symbols = distinct(symbols);
        if symbols.len() > MAX_SYMBOLS {
            return Err(RejectReason::WatchlistFull);
        }
        self.next_id += 1;
        let watchlist_id = self.next_id;
        out.push(Event::WatchlistCreated {
            watchlist_id,
            account,
            name,
        });
        out.extend(symbols.iter().map(|&symbol| Event::WatchlistSymbolAdded {
            watchlist_id,
            account,
            symbol,
        }));
        self.lists.insert(
            (account, watchlist_id),
            Watchlist {
                name,
                symbols,
                created_at: at,
                updated_at: at,
            },
        );
        Ok(())
    }

    /// Renames and/or replaces the symbols; events say what changed (removals first, then
    /// additions in their new order).
    pub(crate) fn update(
        &mut self,
        account: AccountId,
        id: u64,
        name: Option<WatchlistName>,
        symbols: Option<&[Symbol]>,
        at: UnixNanos,
        out: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        self.own_mut(account, id)?;
        if name.is_some_and(|n| self.name_taken(account, n, id)) {
            return Err(RejectReason::WatchlistNameTaken);
        }
        let symbols = symbols.map(distinct);
        if symbols.as_ref().is_some_and(|s| s.len() > MAX_SYMBOLS) {
            return Err(RejectReason::WatchlistFull);
        }
        let w = self.own_mut(account, id)?;
        let before = out.len();
        if let Some(name) = name.filter(|n| *n != w.name) {
            w.name = name;
            out.push(Event::WatchlistRenamed {
                watchlist_id: id,
                account,
                name,
            });
        }
        if let Some(new) = symbols.filter(|s| *s != w.symbols) {
            // A list reordered is its symbols removed and added again in the new order, so
            // that a mirror folding the events ends with the same list.
            for &symbol in &w.symbols {
                out.push(Event::WatchlistSymbolRemoved {
                    watchlist_id: id,
                    account,
                    symbol,
                });
            }
            out.extend(new.iter().map(|&symbol| Event::WatchlistSymbolAdded {
                watchlist_id: id,
                account,
                symbol,
            }));
            w.symbols = new;
        }
        if out.len() > before {
            w.updated_at = at;
        }
        Ok(())
    }

    pub(crate) fn add(
        &mut self,
        account: AccountId,
        id: u64,
        symbol: Symbol,
        at: UnixNanos,
        out: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let w = self.own_mut(account, id)?;
        if w.symbols.contains(&symbol) {
            return Ok(());
        }
        if w.symbols.len() >= MAX_SYMBOLS {
            return Err(RejectReason::WatchlistFull);
        }
        w.symbols.push(symbol);
        w.updated_at = at;
        out.push(Event::WatchlistSymbolAdded {
            watchlist_id: id,
            account,
            symbol,
        });
        Ok(())
    }

    pub(crate) fn remove(
        &mut self,
        account: AccountId,
        id: u64,
        symbol: Symbol,
        at: UnixNanos,
        out: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let w = self.own_mut(account, id)?;
        let Some(i) = w.symbols.iter().position(|s| *s == symbol) else {
            return Ok(());
        };
        w.symbols.remove(i);
        w.updated_at = at;
        out.push(Event::WatchlistSymbolRemoved {
            watchlist_id: id,
            account,
            symbol,
        });
        Ok(())
    }

    pub(crate) fn delete(
        &mut self,
        account: AccountId,
        id: u64,
        out: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        self.own_mut(account, id)?;
        self.lists.remove(&(account, id));
        out.push(Event::WatchlistDeleted {
            watchlist_id: id,
            account,
        });
        Ok(())
    }

    /// Limits, distinct symbols and unique names hold; every owner passes `known`.
    pub(crate) fn check(&self, known: impl Fn(AccountId) -> bool) -> Result<(), String> {
        let mut per_account: BTreeMap<AccountId, Vec<WatchlistName>> = BTreeMap::new();
        for (account, id, w) in self.iter() {
            if id > self.next_id || !known(account) {
                return Err(format!("watchlist {id} has an unknown id or owner"));
            }
            if w.symbols.len() > MAX_SYMBOLS || distinct(&w.symbols).len() != w.symbols.len() {
                return Err(format!("watchlist {id} holds too many or repeated symbols"));
            }
            let names = per_account.entry(account).or_default();
            if names.contains(&w.name) || names.len() >= MAX_PER_ACCOUNT {
                return Err(format!(
                    "watchlist {id}: a repeated name or one list too many"
                ));
            }
            names.push(w.name);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_list_holds_at_most_max_symbols() {
        let mut w = Watchlists::default();
        let a = AccountId::new(1);
        let at = UnixNanos::new(1);
        let mut out = Vec::new();
        let syms: Vec<Symbol> = (0..=MAX_SYMBOLS)
            .map(|i| Symbol::new(&format!("S{i}")).unwrap())
            .collect();
        let name = WatchlistName::new("All").unwrap();
        assert_eq!(
            w.create(a, name, &syms, at, &mut out),
            Err(RejectReason::WatchlistFull)
        );
        assert!(out.is_empty() && w.is_empty());
        w.create(a, name, &syms[..MAX_SYMBOLS], at, &mut out)
            .unwrap();
        assert_eq!(out.len(), 1 + MAX_SYMBOLS);
        assert_eq!(
            w.add(a, 1, syms[MAX_SYMBOLS], at, &mut out),
            Err(RejectReason::WatchlistFull)
        );
        assert_eq!(
            w.update(a, 1, None, Some(&syms), at, &mut out),
            Err(RejectReason::WatchlistFull)
        );
        w.check(|_| true).unwrap();
    }
}
