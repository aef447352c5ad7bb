//! The read model: what clients read about their accounts — orders and their fills,
//! account activity, cash and buying power, positions with cost basis and P&L, and the
//! portfolio summary — folded from the engine's released events.
//!
//! Owns: the in-memory projection [`ReadModel`] (fed on the publisher thread, read by the
//! HTTP handlers under a `parking_lot::RwLock`), the PostgreSQL projection of history
//! ([`PgProjector`] writes it, [`PgHistory`] reads it), the [`History`] facade the handlers
//! query, and the JSON views and list cursors of all of it. The order fold is
//! [`OrderState`](crate::orders::OrderState), shared with the submit report; the event →
//! activity mapping is [`Activity::from_event`]; both stores use them, so they agree.
//!
//! Must never: be a source of truth — everything here is derived from released (durable)
//! events in seq order and can be rebuilt from the journal; hand anything back to the
//! engine; block the publisher on I/O (the in-memory fold does none; the projector's
//! channel blocks only when PostgreSQL falls behind, which is backpressure, never a drop);
//! use floating point for money (integer math throughout, `i128` for sums).

mod activity;
mod history;
mod ledger;
mod memory;
mod pg;
mod pg_history;
mod pg_shadow;
mod views;

use axum::http::StatusCode;

pub use activity::{Activity, ActivityKind};
pub use history::History;
pub use memory::{EventsPage, ReadModel, Retention};
pub use pg::{
    HISTORY_APPLICATION_NAME, PROJECTOR_APPLICATION_NAME, PgProjector, PgReadModelOptions,
    ProjectionProgress, ProjectorError, Promotion,
};
pub use pg_history::PgHistory;
pub use views::{
    AccountView, ActivityFilter, ActivityId, ActivityType, ActivityView, DEFAULT_PAGE, MAX_PAGE,
    MarketView, OrderFilter, Page, Percent, PortfolioView, PositionView, StatusFilter,
};

use crate::error::ApiError;

/// Why a read-model query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// `after` was not a cursor this list hands out.
    #[error("{cursor:?} is not a cursor of this list")]
    BadCursor { cursor: String },
    /// A private-stream cursor beyond the account's last number: not one it handed out.
    #[error("after={after} is beyond the account's last account_seq, {latest}")]
    CursorAhead { after: u64, latest: u64 },
    /// Events after the cursor are no longer kept (the file journal's window forgot them).
    /// `oldest` is the first number still kept (`latest + 1` when none is).
    #[error("{}", expired(*.after, *.oldest, *.latest))]
    EventsExpired {
        after: u64,
        oldest: u64,
        latest: u64,
    },
    #[error("history database: {what}: {source}")]
    Database {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// A row that does not read back as what the projector wrote.
    #[error("history row unreadable: {0}")]
    Corrupt(String),
    #[error("history configuration: {0}")]
    Config(String),
}

fn expired(after: u64, oldest: u64, latest: u64) -> String {
    let what = format!("the events after account_seq {after} are no longer kept");
    if oldest > latest {
        format!(
            "{what}, nor any up to the account's last, {latest}: read the orders, positions \
             and account afresh and go on with after={latest}"
        )
    } else {
        format!(
            "{what}: the oldest still kept is {oldest}; read the orders, positions and \
             account afresh and go on with after={}",
            oldest - 1
        )
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::BadCursor { .. } | QueryError::CursorAhead { .. } => {
                ApiError::bad_request("INVALID_CURSOR", e.to_string())
            }
            QueryError::EventsExpired { .. } => {
                ApiError::new(StatusCode::GONE, "EVENTS_EXPIRED", e.to_string())
            }
            QueryError::Database { .. } => {
                tracing::warn!("history query failed: {e}");
                ApiError {
                    retry_after: Some(1),
                    ..ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "HISTORY_UNAVAILABLE",
                        "history is unavailable just now; try again shortly",
                    )
                }
            }
            QueryError::Corrupt(_) | QueryError::Config(_) => {
                tracing::error!("history query failed: {e}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL",
                    "history could not be read",
                )
            }
        }
    }
}
