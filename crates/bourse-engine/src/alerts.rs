//! Price alerts as exchange state: created and deleted by journaled commands, evaluated on
//! every trade, fired once. Being engine state, they survive restarts and fire exactly once
//! however often the journal is replayed. Ordered maps keep every walk deterministic.

use std::collections::BTreeMap;

use bourse_core::{AccountId, AlertCondition, Event, Price, RejectReason, Symbol};
use serde::{Deserialize, Serialize};

/// Most live alerts one account may hold.
pub const MAX_PER_ACCOUNT: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Alert {
    account: AccountId,
    symbol: Symbol,
    condition: AlertCondition,
    price: Price,
}

/// Every live alert, with per-symbol indexes by price for evaluation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alerts {
    by_id: BTreeMap<u64, Alert>,
    /// (symbol, price, id) of `Above` alerts: a trade at `p` fires those with price ≤ p.
    above: BTreeMap<(Symbol, Price, u64), ()>,
    /// (symbol, price, id) of `Below` alerts: a trade at `p` fires those with price ≥ p.
    below: BTreeMap<(Symbol, Price, u64), ()>,
    per_account: BTreeMap<AccountId, usize>,
    next_id: u64,
}

impl Alerts {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Every live alert: id, account, symbol, condition, price (in id order).
    pub fn iter(
        &self,
    ) -> impl Iterator<Item = (u64, AccountId, Symbol, AlertCondition, Price)> + '_ {
        self.by_id
            .iter()
            .map(|(&id, a)| (id, a.account, a.symbol, a.condition, a.price))
    }

    pub(crate) fn create(
        &mut self,
        account: AccountId,
        symbol: Symbol,
        condition: AlertCondition,
        price: Price,
    ) -> Result<Event, RejectReason> {
        if !price.is_positive() {
            return Err(RejectReason::InvalidPrice);
        }
        let n = self.per_account.entry(account).or_default();
        if *n >= MAX_PER_ACCOUNT {
            return Err(RejectReason::TooManyAlerts);
        }
        *n += 1;
        self.next_id += 1;
        let id = self.next_id;
        self.by_id.insert(
            id,
            Alert {
                account,
                symbol,
                condition,
                price,
            },
        );
        self.index(condition).insert((symbol, price, id), ());
        Ok(Event::AlertCreated {
            alert_id: id,
            account,
            symbol,
            condition,
            price,
        })
    }

    fn index(&mut self, c: AlertCondition) -> &mut BTreeMap<(Symbol, Price, u64), ()> {
        match c {
            AlertCondition::Above => &mut self.above,
            AlertCondition::Below => &mut self.below,
        }
    }

    fn remove(&mut self, id: u64) -> Option<Alert> {
        let a = self.by_id.remove(&id)?;
        self.index(a.condition).remove(&(a.symbol, a.price, id));
        if let Some(n) = self.per_account.get_mut(&a.account) {
            *n -= 1;
            if *n == 0 {
                self.per_account.remove(&a.account);
            }
        }
        Some(a)
    }

    pub(crate) fn delete(&mut self, account: AccountId, id: u64) -> Result<Event, RejectReason> {
        match self.by_id.get(&id) {
            Some(a) if a.account == account => {
                self.remove(id);
                Ok(Event::AlertDeleted {
                    alert_id: id,
                    account,
                })
            }
            _ => Err(RejectReason::UnknownAlert),
        }
    }

    /// Fires the alerts of `symbol` met by trades whose prices span `low..=high`, in
    /// (condition, price, id) order.
    pub(crate) fn on_trades(
        &mut self,
        symbol: Symbol,
        low: Price,
        high: Price,
        out: &mut Vec<Event>,
    ) {
        let fired_above: Vec<(Price, u64)> = self
            .above
            .range((symbol, Price::from_raw(i64::MIN), 0)..=(symbol, high, u64::MAX))
            .map(|(&(_, p, id), ())| (p, id))
            .collect();
        let fired_below: Vec<(Price, u64)> = self
            .below
            .range((symbol, low, 0)..=(symbol, Price::from_raw(i64::MAX), u64::MAX))
            .map(|(&(_, p, id), ())| (p, id))
            .collect();
        for (ids, trade_price) in [(fired_above, high), (fired_below, low)] {
            for (_, id) in ids {
                if let Some(a) = self.remove(id) {
                    out.push(Event::AlertTriggered {
                        alert_id: id,
                        account: a.account,
                        symbol: a.symbol,
                        condition: a.condition,
                        price: a.price,
                        trade_price,
                    });
                }
            }
        }
    }
}
