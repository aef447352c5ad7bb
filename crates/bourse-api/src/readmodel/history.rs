//! [`History`]: what the HTTP handlers ask for orders, activities, the account, positions
//! and the portfolio, whichever store answers.

use std::sync::Arc;
use std::time::Duration;

use bourse_core::{AccountId, ClientOrderId, OrderId, Symbol};
use parking_lot::RwLock;

use crate::orders::OrderView;
use crate::readmodel::QueryError;
use crate::readmodel::memory::ReadModel;
use crate::readmodel::pg::{PgHistory, ProjectionProgress};
use crate::readmodel::views::{
    AccountView, ActivityFilter, ActivityView, MarketView, OrderFilter, Page, PortfolioView,
    PositionView,
};

/// The read side of the exchange. Balances, positions, P&L and prices always come from the
/// in-memory [`ReadModel`]; orders and activities come from it too, or — when the journal
/// is PostgreSQL — from the projected tables, so that history outlives memory.
#[derive(Clone, Debug)]
pub enum History {
    /// Everything from memory (a model with `Retention::Everything`).
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
                db,
                progress,
                fresh_within,
                ..
            } => {
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
                db,
                progress,
                fresh_within,
                ..
            } => {
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
                db,
                progress,
                fresh_within,
                ..
            } => {
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
                db,
                progress,
                fresh_within,
                ..
            } => {
                Self::fresh(progress, *fresh_within).await;
                db.orders(account, filter).await
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
