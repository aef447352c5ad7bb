//! Price alerts as the API shows them: every account's live alerts and the ones that fired,
//! mirrored from released engine events (the engine holds, evaluates and fires them).

use std::collections::{BTreeMap, VecDeque};

use bourse_core::{AccountId, AlertCondition, Event, Price, Symbol, UnixNanos};
use parking_lot::RwLock;
use serde::Serialize;
use utoipa::ToSchema;

use crate::wire;

/// Fired alerts kept per account for `GET /v1/alerts`.
const FIRED_KEPT: usize = 100;

/// One alert as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
#[schema(as = Alert)]
pub struct AlertView {
    #[schema(pattern = "^[0-9]+$")]
    pub id: String,
    #[schema(value_type = wire::Symbol)]
    pub symbol: Symbol,
    #[schema(value_type = wire::AlertCondition)]
    pub condition: AlertCondition,
    #[schema(value_type = wire::Price)]
    pub price: Price,
    /// `active` or `triggered`.
    #[schema(value_type = wire::AlertStatus)]
    pub status: &'static str,
    /// The trade that fired it.
    #[schema(value_type = Option<wire::Price>)]
    pub trade_price: Option<Price>,
    #[schema(value_type = Option<wire::Timestamp>)]
    pub triggered_at: Option<String>,
}

#[derive(Debug, Default)]
struct Book {
    live: BTreeMap<AccountId, BTreeMap<u64, AlertView>>,
    fired: BTreeMap<AccountId, VecDeque<AlertView>>,
}

/// Every account's alerts.
#[derive(Debug, Default)]
pub struct AlertBook {
    inner: RwLock<Book>,
}

impl AlertBook {
    /// Starts from the recovered engine's live alerts.
    #[must_use]
    pub fn new(
        live: impl IntoIterator<Item = (u64, AccountId, Symbol, AlertCondition, Price)>,
    ) -> Self {
        let mut b = Book::default();
        for (id, account, symbol, condition, price) in live {
            b.live
                .entry(account)
                .or_default()
                .insert(id, active(id, symbol, condition, price));
        }
        Self {
            inner: RwLock::new(b),
        }
    }

    /// Folds one released command's events in.
    pub fn apply(&self, ts: UnixNanos, events: &[Event]) {
        if !events.iter().any(|e| {
            matches!(
                e,
                Event::AlertCreated { .. }
                    | Event::AlertDeleted { .. }
                    | Event::AlertTriggered { .. }
            )
        }) {
            return;
        }
        let mut b = self.inner.write();
        for e in events {
            match *e {
                Event::AlertCreated {
                    alert_id,
                    account,
                    symbol,
                    condition,
                    price,
                } => {
                    b.live
                        .entry(account)
                        .or_default()
                        .insert(alert_id, active(alert_id, symbol, condition, price));
                }
                Event::AlertDeleted { alert_id, account } => {
                    if let Some(m) = b.live.get_mut(&account) {
                        m.remove(&alert_id);
                    }
                }
                Event::AlertTriggered {
                    alert_id,
                    account,
                    trade_price,
                    ..
                } => {
                    let Some(mut v) = b.live.get_mut(&account).and_then(|m| m.remove(&alert_id))
                    else {
                        continue;
                    };
                    v.status = "triggered";
                    v.trade_price = Some(trade_price);
                    v.triggered_at = Some(ts.to_rfc3339());
                    let q = b.fired.entry(account).or_default();
                    q.push_front(v);
                    q.truncate(FIRED_KEPT);
                }
                _ => {}
            }
        }
    }

    /// The account's live alerts (oldest first), then the ones that fired (newest first).
    #[must_use]
    pub fn of(&self, account: AccountId) -> Vec<AlertView> {
        let b = self.inner.read();
        let live = b
            .live
            .get(&account)
            .into_iter()
            .flat_map(|m| m.values().cloned());
        let fired = b
            .fired
            .get(&account)
            .into_iter()
            .flat_map(|q| q.iter().cloned());
        live.chain(fired).collect()
    }
}

/// A live alert as the API shows it.
pub(crate) fn active(
    id: u64,
    symbol: Symbol,
    condition: AlertCondition,
    price: Price,
) -> AlertView {
    AlertView {
        id: id.to_string(),
        symbol,
        condition,
        price,
        status: "active",
        trade_price: None,
        triggered_at: None,
    }
}
