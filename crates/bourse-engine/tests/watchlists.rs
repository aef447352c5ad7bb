//! Watchlists as engine state: what each command does, the limits and refusals, that
//! another account's list does not exist for the caller, that the events folded in order
//! rebuild the lists, and that snapshots and state hashes carry them.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use bourse_core::{AccountId, Command, Event, RejectReason, Symbol, WatchlistName};
use bourse_engine::watchlists::{MAX_PER_ACCOUNT, MAX_SYMBOLS};
use bourse_engine::{Engine, EngineConfig};
use common::{Driver, sym};

fn name(s: &str) -> WatchlistName {
    WatchlistName::new(s).unwrap()
}

fn rejected(ev: &[Event]) -> Option<RejectReason> {
    ev.iter().find_map(|e| match e {
        Event::Rejected { reason, .. } => Some(*reason),
        _ => None,
    })
}

fn create(d: &mut Driver, account: AccountId, n: &str, symbols: &[&str]) -> Vec<Event> {
    d.run(Command::CreateWatchlist {
        account,
        name: name(n),
        symbols: symbols.iter().map(|s| sym(s)).collect(),
    })
}

fn created_id(ev: &[Event]) -> u64 {
    ev.iter()
        .find_map(|e| match e {
            Event::WatchlistCreated { watchlist_id, .. } => Some(*watchlist_id),
            _ => None,
        })
        .unwrap_or_else(|| panic!("not created: {ev:?}"))
}

fn symbols_of(e: &Engine, account: AccountId, id: u64) -> Vec<&str> {
    e.watchlists()
        .of(account)
        .find(|(i, _)| *i == id)
        .map(|(_, w)| w.symbols.iter().map(Symbol::as_str).collect())
        .unwrap_or_default()
}

/// What a mirror of the lists (the API's) holds after folding `events` in order.
type Mirror = BTreeMap<u64, (AccountId, WatchlistName, Vec<Symbol>)>;

fn fold(m: &mut Mirror, events: &[Event]) {
    for e in events {
        match *e {
            Event::WatchlistCreated {
                watchlist_id,
                account,
                name,
            } => {
                m.insert(watchlist_id, (account, name, Vec::new()));
            }
            Event::WatchlistRenamed {
                watchlist_id, name, ..
            } => m.get_mut(&watchlist_id).unwrap().1 = name,
            Event::WatchlistSymbolAdded {
                watchlist_id,
                symbol,
                ..
            } => m.get_mut(&watchlist_id).unwrap().2.push(symbol),
            Event::WatchlistSymbolRemoved {
                watchlist_id,
                symbol,
                ..
            } => m.get_mut(&watchlist_id).unwrap().2.retain(|s| *s != symbol),
            Event::WatchlistDeleted { watchlist_id, .. } => {
                m.remove(&watchlist_id);
            }
            _ => {}
        }
    }
}

fn state_as_mirror(e: &Engine) -> Mirror {
    e.watchlists()
        .iter()
        .map(|(a, id, w)| (id, (a, w.name, w.symbols.clone())))
        .collect()
}

#[test]
fn create_add_remove_rename_replace_and_delete() {
    let mut d = Driver::new(EngineConfig::default());
    let a = d.funded(0);
    let mut mirror = Mirror::new();
    let ev = create(&mut d, a, "Tech", &["AAPL", "MSFT", "AAPL"]);
    fold(&mut mirror, &ev);
    let id = created_id(&ev);
    assert_eq!(
        symbols_of(&d.engine, a, id),
        ["AAPL", "MSFT"],
        "repeats count once"
    );

    for cmd in [
        Command::AddToWatchlist {
            account: a,
            watchlist_id: id,
            symbol: sym("NVDA"),
        },
        // Already there: nothing changes, nothing is refused.
        Command::AddToWatchlist {
            account: a,
            watchlist_id: id,
            symbol: sym("AAPL"),
        },
        Command::RemoveFromWatchlist {
            account: a,
            watchlist_id: id,
            symbol: sym("MSFT"),
        },
        // Not there: likewise.
        Command::RemoveFromWatchlist {
            account: a,
            watchlist_id: id,
            symbol: sym("MSFT"),
        },
    ] {
        let ev = d.run(cmd);
        assert_eq!(rejected(&ev), None, "{ev:?}");
        fold(&mut mirror, &ev);
    }
    assert_eq!(symbols_of(&d.engine, a, id), ["AAPL", "NVDA"]);

    // Rename and reorder in one update.
    let ev = d.run(Command::UpdateWatchlist {
        account: a,
        watchlist_id: id,
        name: Some(name("Chips")),
        symbols: Some(vec![sym("NVDA"), sym("TSLA"), sym("AAPL")]),
    });
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::WatchlistRenamed { .. }))
    );
    fold(&mut mirror, &ev);
    assert_eq!(symbols_of(&d.engine, a, id), ["NVDA", "TSLA", "AAPL"]);
    let (_, w) = d.engine.watchlists().of(a).next().unwrap();
    assert_eq!(w.name.as_str(), "Chips");
    assert!(
        w.updated_at > w.created_at,
        "updated_at is the update's time"
    );
    assert_eq!(
        mirror,
        state_as_mirror(&d.engine),
        "events rebuild the lists"
    );

    let ev = d.run(Command::DeleteWatchlist {
        account: a,
        watchlist_id: id,
    });
    fold(&mut mirror, &ev);
    assert!(d.engine.watchlists().is_empty());
    assert!(mirror.is_empty());
    let ev = d.run(Command::DeleteWatchlist {
        account: a,
        watchlist_id: id,
    });
    assert_eq!(rejected(&ev), Some(RejectReason::UnknownWatchlist));
}

#[test]
fn another_accounts_watchlist_does_not_exist_for_the_caller() {
    let mut d = Driver::new(EngineConfig::default());
    let a = d.funded(0);
    let b = d.funded(0);
    let id = created_id(&create(&mut d, a, "Mine", &["AAPL"]));
    for cmd in [
        Command::AddToWatchlist {
            account: b,
            watchlist_id: id,
            symbol: sym("MSFT"),
        },
        Command::RemoveFromWatchlist {
            account: b,
            watchlist_id: id,
            symbol: sym("AAPL"),
        },
        Command::UpdateWatchlist {
            account: b,
            watchlist_id: id,
            name: Some(name("Stolen")),
            symbols: None,
        },
        Command::DeleteWatchlist {
            account: b,
            watchlist_id: id,
        },
    ] {
        assert_eq!(rejected(&d.run(cmd)), Some(RejectReason::UnknownWatchlist));
    }
    assert_eq!(symbols_of(&d.engine, a, id), ["AAPL"]);
    // The same name is free for another account.
    assert_eq!(rejected(&create(&mut d, b, "Mine", &[])), None);
}

#[test]
fn limits_and_refusals() {
    let mut d = Driver::new(EngineConfig::default());
    let a = d.funded(0);
    let ev = create(&mut d, a, "Bad", &["AAPL", "ZZZZ"]);
    assert_eq!(rejected(&ev), Some(RejectReason::UnknownSymbol));
    assert!(
        d.engine.watchlists().is_empty(),
        "a refusal changes nothing"
    );
    let ev = d.run(Command::CreateWatchlist {
        account: AccountId::new(999),
        name: name("Ghost"),
        symbols: vec![],
    });
    assert_eq!(rejected(&ev), Some(RejectReason::UnknownAccount));

    let first = created_id(&create(&mut d, a, "List 0", &[]));
    assert_eq!(
        rejected(&create(&mut d, a, "List 0", &[])),
        Some(RejectReason::WatchlistNameTaken)
    );
    for i in 1..MAX_PER_ACCOUNT {
        assert_eq!(
            rejected(&create(&mut d, a, &format!("List {i}"), &[])),
            None
        );
    }
    assert_eq!(
        rejected(&create(&mut d, a, "One too many", &[])),
        Some(RejectReason::TooManyWatchlists)
    );
    // Renaming onto another list's name is refused; onto its own is a no-op.
    let ev = d.run(Command::UpdateWatchlist {
        account: a,
        watchlist_id: first,
        name: Some(name("List 1")),
        symbols: None,
    });
    assert_eq!(rejected(&ev), Some(RejectReason::WatchlistNameTaken));
    let ev = d.run(Command::UpdateWatchlist {
        account: a,
        watchlist_id: first,
        name: Some(name("List 0")),
        symbols: None,
    });
    assert_eq!(rejected(&ev), None);
    assert!(
        !ev.iter()
            .any(|e| matches!(e, Event::WatchlistRenamed { .. }))
    );

    // (The symbol limit is above the instrument list's length; the state module's own
    // tests reach it.)
    let many: Vec<Symbol> = std::iter::repeat_n(sym("AAPL"), MAX_SYMBOLS + 5).collect();
    let ev = d.run(Command::UpdateWatchlist {
        account: a,
        watchlist_id: first,
        name: None,
        symbols: Some(many),
    });
    assert_eq!(rejected(&ev), None, "repeats count once");
    assert_eq!(symbols_of(&d.engine, a, first), ["AAPL"]);
}

#[test]
fn snapshots_and_state_hashes_carry_watchlists() {
    let mut d = Driver::new(EngineConfig::default());
    let a = d.funded(0);
    let before = d.engine.state_hash().unwrap();
    let id = created_id(&create(&mut d, a, "Tech", &["AAPL", "MSFT"]));
    let after = d.engine.state_hash().unwrap();
    assert_ne!(before, after, "a watchlist is part of the state");
    let restored = Engine::restore(d.engine.snapshot()).unwrap();
    assert_eq!(restored.state_hash().unwrap(), after);
    assert_eq!(symbols_of(&restored, a, id), ["AAPL", "MSFT"]);
    // The same commands on a fresh engine give the same state (replay).
    let mut again = Driver::new(EngineConfig::default());
    let a2 = again.funded(0);
    create(&mut again, a2, "Tech", &["AAPL", "MSFT"]);
    assert_eq!(again.engine.state_hash().unwrap(), after);
}
