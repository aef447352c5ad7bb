//! Price-alert commands and firing; the alerts themselves are [`crate::alerts`].

use bourse_core::{AccountId, AlertCondition, Event, Price, RejectReason, Symbol};

use super::{Engine, refuse};
use crate::alerts::Alerts;

impl Engine {
    /// Fires the price alerts met by the command's trades (per symbol: its lowest and
    /// highest trade price).
    pub(super) fn fire_alerts(&mut self, start: usize, out: &mut Vec<Event>) {
        let mut spans: Vec<(Symbol, Price, Price)> = Vec::new();
        for e in &out[start..] {
            if let Event::Trade { symbol, price, .. } = *e {
                match spans.iter_mut().find(|s| s.0 == symbol) {
                    Some(s) => {
                        s.1 = s.1.min(price);
                        s.2 = s.2.max(price);
                    }
                    None => spans.push((symbol, price, price)),
                }
            }
        }
        for (symbol, low, high) in spans {
            self.alerts.on_trades(symbol, low, high, out);
        }
    }

    /// Live price alerts.
    #[must_use]
    pub fn alerts(&self) -> &Alerts {
        &self.alerts
    }

    pub(super) fn create_alert(
        &mut self,
        account: AccountId,
        symbol: Symbol,
        condition: AlertCondition,
        price: Price,
        out: &mut Vec<Event>,
    ) {
        if self.account(account).is_none() {
            return out.push(refuse(account, RejectReason::UnknownAccount));
        }
        if !self.by_symbol.contains_key(&symbol) {
            return out.push(refuse(account, RejectReason::UnknownSymbol));
        }
        match self.alerts.create(account, symbol, condition, price) {
            Ok(e) => out.push(e),
            Err(reason) => out.push(refuse(account, reason)),
        }
    }

    pub(super) fn delete_alert(&mut self, account: AccountId, alert_id: u64, out: &mut Vec<Event>) {
        match self.alerts.delete(account, alert_id) {
            Ok(e) => out.push(e),
            Err(reason) => out.push(refuse(account, reason)),
        }
    }
}
