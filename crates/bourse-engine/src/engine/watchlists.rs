//! Watchlist commands; the watchlists themselves are [`crate::watchlists`].

use bourse_core::{AccountId, Command, Event, RejectReason, UnixNanos};

use super::{Engine, refuse};
use crate::watchlists::Watchlists;

impl Engine {
    /// Every account's watchlists.
    #[must_use]
    pub fn watchlists(&self) -> &Watchlists {
        &self.watchlists
    }

    /// Applies a watchlist command (any other command is ignored here).
    pub(super) fn apply_watchlist(&mut self, cmd: &Command, at: UnixNanos, out: &mut Vec<Event>) {
        let account = match cmd {
            Command::CreateWatchlist { account, .. }
            | Command::UpdateWatchlist { account, .. }
            | Command::AddToWatchlist { account, .. }
            | Command::RemoveFromWatchlist { account, .. }
            | Command::DeleteWatchlist { account, .. } => *account,
            _ => return,
        };
        if let Err(reason) = self.watchlist_command(account, cmd, at, out) {
            out.push(refuse(account, reason));
        }
    }

    fn watchlist_command(
        &mut self,
        account: AccountId,
        cmd: &Command,
        at: UnixNanos,
        out: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        if self.account(account).is_none() {
            return Err(RejectReason::UnknownAccount);
        }
        let listed = |e: &Self, symbols: &[bourse_core::Symbol]| {
            if symbols.iter().all(|s| e.by_symbol.contains_key(s)) {
                Ok(())
            } else {
                Err(RejectReason::UnknownSymbol)
            }
        };
        match cmd {
            Command::CreateWatchlist { name, symbols, .. } => {
                listed(self, symbols)?;
                self.watchlists.create(account, *name, symbols, at, out)
            }
            Command::UpdateWatchlist {
                watchlist_id,
                name,
                symbols,
                ..
            } => {
                listed(self, symbols.as_deref().unwrap_or_default())?;
                self.watchlists
                    .update(account, *watchlist_id, *name, symbols.as_deref(), at, out)
            }
            Command::AddToWatchlist {
                watchlist_id,
                symbol,
                ..
            } => {
                listed(self, std::slice::from_ref(symbol))?;
                self.watchlists
                    .add(account, *watchlist_id, *symbol, at, out)
            }
            Command::RemoveFromWatchlist {
                watchlist_id,
                symbol,
                ..
            } => self
                .watchlists
                .remove(account, *watchlist_id, *symbol, at, out),
            Command::DeleteWatchlist { watchlist_id, .. } => {
                self.watchlists.delete(account, *watchlist_id, out)
            }
            _ => Ok(()),
        }
    }
}
