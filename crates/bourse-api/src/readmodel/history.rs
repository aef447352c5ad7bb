//! [`History`]: what the HTTP handlers ask for orders, activities, the account, positions
//! and the portfolio, whichever store answers.

use std::sync::Arc;
use std::time::Duration;

use bourse_core::{AccountId, ClientOrderId, OrderId, Symbol};
use parking_lot::RwLock;

use crate::orders::OrderView;
use crate::readmodel::QueryError;
use crate::readmodel::memory::{EventsPage, ReadModel};
use crate::readmodel::pg::ProjectionProgress;
use crate::readmodel::pg_history::PgHistory;
use crate::readmodel::views::{
    AccountView, ActivityFilter, ActivityView, MarketView, OrderFilter, Page, PortfolioView,
    PositionView, StatusFilter,
};

/// The read side of the exchange. Balances, positions, P&L and prices always come from the
/// in-memory [`ReadModel`]; orders and activities come from it too, or — when the journal
/// is PostgreSQL — from the projected tables, so that history outlives memory. There the
/// tables hold the orders that have ended and memory the working ones: order queries ask
/// memory first and then (once the projection has caught up with what was released) the
/// tables, and lists merge the two. An order leaves memory only after the projector has
/// been handed it, so none falls between the two.
#[derive(Clone, Debug)]
pub enum History {
    /// Everything from memory (a model with `Retention::Recent`: working orders and a window of the newest history).
    Memory(Arc<RwLock<ReadModel>>),
    /// Orders and activities from PostgreSQL; the model may keep only working orders.
    Postgres {
        model: Arc<RwLock<ReadModel>>,
        db: PgHistory,
        progress: ProjectionProgress,
        /// How long a query waits for the projector to commit what had been released when
        /// the query arrived (so a client reads its own acknowledged orders), before it
        /// answers from what is there.
        fresh_within: Duration,
    },
}

impl History {
    /// The in-memory model (for the publisher's sink, and for views not listed here).
    #[must_use]
    pub fn model(&self) -> &Arc<RwLock<ReadModel>> {
        match self {
            History::Memory(m) | History::Postgres { model: m, .. } => m,
        }
    }

    /// Waits (bounded) until the tables hold everything released so far.
    async fn fresh(progress: &ProjectionProgress, within: Duration) {
        // A failing database answers nothing anyway; do not add the wait to its error.
        if !progress.is_failing() {
            progress.wait_for(progress.sent(), within).await;
        }
    }

    /// An order of `account`; `None` if there is none or it is another account's.
    pub async fn order(
        &self,
        account: AccountId,
        id: OrderId,
    ) -> Result<Option<OrderView>, QueryError> {
        match self {
            History::Memory(m) => Ok(m.read().order(account, id)),
            History::Postgres {
                model,
                db,
                progress,
                fresh_within,
            } => {
                if let Some(o) = model.read().order(account, id) {
                    return Ok(Some(o));
                }
                Self::fresh(progress, *fresh_within).await;
                db.order(account, id).await
            }
        }
    }

    /// Any account's order, for the operator.
    pub async fn order_any(&self, id: OrderId) -> Result<Option<OrderView>, QueryError> {
        match self {
            History::Memory(m) => Ok(m.read().order_any(id)),
            History::Postgres {
                model,
                db,
                progress,
                fresh_within,
            } => {
                if let Some(o) = model.read().order_any(id) {
                    return Ok(Some(o));
                }
                Self::fresh(progress, *fresh_within).await;
                db.order_any(id).await
            }
        }
    }

    /// The account's newest order with this client order id.
    pub async fn order_by_client_id(
        &self,
        account: AccountId,
        client_order_id: ClientOrderId,
    ) -> Result<Option<OrderView>, QueryError> {
        match self {
            History::Memory(m) => Ok(m.read().order_by_client_id(account, client_order_id)),
            History::Postgres {
                model,
                db,
                progress,
                fresh_within,
            } => {
                // A working order holds its client order id: nothing newer can have it.
                if let Some(o) = model.read().order_by_client_id(account, client_order_id) {
                    return Ok(Some(o));
                }
                Self::fresh(progress, *fresh_within).await;
                db.order_by_client_id(account, client_order_id).await
            }
        }
    }

    /// The account's orders, newest first, one page at a time.
    pub async fn orders(
        &self,
        account: AccountId,
        filter: &OrderFilter,
    ) -> Result<Page<OrderView>, QueryError> {
        match self {
            History::Memory(m) => m.read().orders(account, filter),
            History::Postgres {
                model,
                db,
                progress,
                fresh_within,
            } => {
                let working = match filter.status {
                    StatusFilter::Closed => Page::empty(),
                    StatusFilter::Open | StatusFilter::All => {
                        model.read().orders(account, filter)?
                    }
                };
                if filter.status == StatusFilter::Open {
                    return Ok(working);
                }
                Self::fresh(progress, *fresh_within).await;
                let ended = db.orders(account, filter).await?;
                Ok(merge(working, ended, filter.limit()))
            }
        }
    }

    /// The account's activities, newest first, one page at a time.
    pub async fn activities(
        &self,
        account: AccountId,
        filter: &ActivityFilter,
    ) -> Result<Page<ActivityView>, QueryError> {
        match self {
            History::Memory(m) => m.read().activities(account, filter),
            History::Postgres {
                db,
                progress,
                fresh_within,
                ..
            } => {
                Self::fresh(progress, *fresh_within).await;
                db.activities(account, filter).await
            }
        }
    }

    /// The account's private stream from `after` on: the events numbered above it, oldest
    /// first, at most `limit`, with the account's last number (the page is the end of the
    /// stream when its last event has it). `after` beyond the last number is
    /// [`QueryError::CursorAhead`]; events after it that are no longer kept (the file
    /// journal's window) are [`QueryError::EventsExpired`]. With PostgreSQL every event is
    /// kept, and the query waits (bounded) for the projection to commit what had been
    /// released, as order queries do. For the REST route, and for the WebSocket and FIX
    /// sessions that resume from history.
    pub async fn events(
        &self,
        account: AccountId,
        after: u64,
        limit: usize,
    ) -> Result<EventsPage, QueryError> {
        match self {
            History::Memory(m) => m.read().events(account, after, limit),
            History::Postgres {
                model,
                db,
                progress,
                fresh_within,
            } => {
                // Read before the wait: the publisher hands the projector a batch before
                // memory applies it, so what was released by now covers this number.
                let latest = model.read().last_account_seq(account);
                if after > latest {
                    return Err(QueryError::CursorAhead { after, latest });
                }
                if after == latest {
                    return Ok(EventsPage {
                        events: Vec::new(),
                        last_account_seq: latest,
                    });
                }
                Self::fresh(progress, *fresh_within).await;
                let events = db.events(account, after, limit).await?;
                // The projection commits whole commands in order, so the rows are a prefix
                // of the stream; a hole would be a lost row, never served as a page.
                for (expect, t) in (after + 1..).zip(&events) {
                    if t.aseq != expect {
                        return Err(QueryError::Corrupt(format!(
                            "account {} has no event {expect} in the history (next is {})",
                            account.get(),
                            t.aseq
                        )));
                    }
                }
                let last = events.last().map_or(latest, |t| t.aseq.max(latest));
                Ok(EventsPage {
                    events,
                    last_account_seq: last,
                })
            }
        }
    }

    #[must_use]
    pub fn account(&self, account: AccountId) -> Option<AccountView> {
        self.model().read().account(account)
    }

    #[must_use]
    pub fn positions(&self, account: AccountId) -> Vec<PositionView> {
        self.model().read().positions(account)
    }

    #[must_use]
    pub fn position(&self, account: AccountId, symbol: Symbol) -> Option<PositionView> {
        self.model().read().position(account, symbol)
    }

    #[must_use]
    pub fn portfolio(&self, account: AccountId) -> Option<PortfolioView> {
        self.model().read().portfolio(account)
    }

    #[must_use]
    pub fn market(&self, symbol: Symbol) -> Option<MarketView> {
        self.model().read().market(symbol)
    }
}

/// Two pages of one account's orders, each newest first from the same cursor, as one page:
/// the newest `limit` of both (an order in both — it ended between the two reads — once,
/// as it ended). There is a next page when either had more than was taken.
fn merge(a: Page<OrderView>, b: Page<OrderView>, limit: usize) -> Page<OrderView> {
    let key = |o: &OrderView| o.id.parse::<u64>().unwrap_or(0);
    let more = a.next.is_some() || b.next.is_some();
    let mut all: Vec<OrderView> = a.items.into_iter().chain(b.items).collect();
    // Newest first; of two copies of one order the ended one (from `b`, later) is kept.
    all.sort_by_key(|o| std::cmp::Reverse(key(o)));
    all.dedup_by(|later, earlier| {
        let same = key(later) == key(earlier);
        if same {
            std::mem::swap(later, earlier);
        }
        same
    });
    let cut = all.len() > limit;
    all.truncate(limit);
    let next = if cut || more {
        all.last().map(|o| o.id.clone())
    } else {
        None
    };
    Page { items: all, next }
}
