//! What a user reads: orders (one, by client order id, pages with filters), the account,
//! positions, the portfolio, the activity history and the private stream's events — always
//! the caller's own.

use axum::Json;
use bourse_core::{Cash, ClientOrderId, Symbol};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::extract::{Can, CanRead, Path, Query};
use crate::orders::{OrderView, parse_order_id};
use crate::readmodel::{
    AccountView, ActivityFilter, ActivityType, ActivityView, OrderFilter, Page, PortfolioView,
    PositionView, StatusFilter,
};
use crate::state::State;
use crate::wire;

/// `?status=&symbol=&after=&limit=` of the order list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct OrdersQuery {
    /// `open` (default: held, new, partially filled), `closed` or `all`.
    #[param(pattern = "^(open|closed|all)$")]
    status: Option<String>,
    /// Only this stock's orders (case-insensitive).
    #[param(value_type = Option<String>)]
    symbol: Option<String>,
    /// The `next` cursor of the previous page.
    after: Option<String>,
    /// Page length, 1-500 (default 50); anything else is `422 INVALID_LIMIT`.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    /// The account acted for: the operator names any, a broker its customers' (any caller may name its own).
    #[param(value_type = Option<wire::AccountId>)]
    account_id: Option<String>,
}

/// A page length as asked: 1 to [`crate::readmodel::MAX_PAGE`], or a 422 (not silently another length).
pub(crate) fn page_limit(limit: Option<usize>) -> Result<Option<usize>, ApiError> {
    match limit {
        Some(n) if !(1..=crate::readmodel::MAX_PAGE).contains(&n) => Err(ApiError::unprocessable(
            "INVALID_LIMIT",
            format!("limit is 1 to {}", crate::readmodel::MAX_PAGE),
        )),
        l => Ok(l),
    }
}

fn symbol(text: &str) -> Result<Symbol, ApiError> {
    text.to_ascii_uppercase()
        .parse()
        .map_err(|_| ApiError::unprocessable("UNKNOWN_SYMBOL", "no such listed symbol"))
}

/// `GET /v1/orders?status=open|closed|all&symbol=&after=&limit=`.
#[utoipa::path(
    get,
    path = "/v1/orders",
    tag = "orders",
    security(("bearer" = [])),
    params(OrdersQuery),
    responses(
        (status = 200, description = "A page of the caller's orders, newest first.",
         body = Page<OrderView>),
        (status = 400, description = "INVALID_CURSOR, MALFORMED_QUERY.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE: an API key without the `read` scope.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_ACCOUNT.", body = ErrorBody),
        (status = 422, description = "INVALID_STATUS, UNKNOWN_SYMBOL, INVALID_LIMIT, \
         INVALID_ACCOUNT_ID, MISSING_ACCOUNT_ID.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 500, description = "INTERNAL: the history could not be read.",
         body = ErrorBody),
        (status = 503, description = "HISTORY_UNAVAILABLE (PostgreSQL history).",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn list_orders(
    axum::extract::State(s): State,
    Can(who): CanRead,
    Query(q): Query<OrdersQuery>,
) -> Result<Json<Page<OrderView>>, ApiError> {
    let account = who.acting_for(q.account_id.as_deref(), &s.0.directory)?;
    let status = match q.status.as_deref() {
        None => StatusFilter::default(),
        Some(t) => StatusFilter::parse(t).ok_or_else(|| {
            ApiError::unprocessable("INVALID_STATUS", "status is open, closed or all")
        })?,
    };
    let filter = OrderFilter {
        status,
        symbol: q.symbol.as_deref().map(symbol).transpose()?,
        after: q.after,
        limit: page_limit(q.limit)?,
    };
    let page = s.0.history.orders(account, &filter).await?;
    Ok(Json(page))
}

/// `GET /v1/orders/{id}`.
#[utoipa::path(
    get,
    path = "/v1/orders/{id}",
    tag = "orders",
    security(("bearer" = [])),
    params(("id" = wire::OrderId, Path, description = "The order's id."), AccountOnly),
    responses(
        (status = 200, description = "The order, with its fills.", body = OrderView),
        (status = 400, description = "MALFORMED_PATH, MALFORMED_QUERY.",
         body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE: an API key without the `read` scope.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_ORDER, UNKNOWN_ACCOUNT.", body = ErrorBody),
        (status = 422, description = "INVALID_ACCOUNT_ID, MISSING_ACCOUNT_ID.",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 500, description = "INTERNAL: the history could not be read.",
         body = ErrorBody),
        (status = 503, description = "HISTORY_UNAVAILABLE (PostgreSQL history).",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn get_order(
    axum::extract::State(s): State,
    Can(who): CanRead,
    Path(id): Path<String>,
    Query(q): Query<AccountOnly>,
) -> Result<Json<OrderView>, ApiError> {
    let account = who.acting_for(q.account_id.as_deref(), &s.0.directory)?;
    let id = parse_order_id(&id)?;
    let mut view =
        s.0.history
            .order(account, id)
            .await?
            .ok_or_else(|| ApiError::not_found("UNKNOWN_ORDER", "no such order"))?;
    // A class's first order shows its exits. The engine numbers a class's orders one after
    // another from its first, so they are the next one or two ids.
    if view.class_id.as_deref() == Some(view.id.as_str()) {
        let mut legs = Vec::new();
        for next in 1..=2 {
            let leg_id = bourse_core::OrderId::new(id.get() + next);
            if let Some(leg) = s.0.history.order(account, leg_id).await?
                && leg.class_id == view.class_id
            {
                legs.push(leg);
            }
        }
        view.legs = Some(legs);
    }
    Ok(Json(view))
}

/// `?account_id=`: the operator names the account it acts for.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AccountOnly {
    /// The account acted for: the operator names any, a broker its customers' (any caller may name its own).
    #[param(value_type = Option<wire::AccountId>)]
    account_id: Option<String>,
}

/// `?client_order_id=&account_id=`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ByClientId {
    #[param(value_type = wire::ClientOrderId)]
    client_order_id: String,
    /// The account acted for: the operator names any, a broker its customers' (any caller may name its own).
    #[param(value_type = Option<wire::AccountId>)]
    account_id: Option<String>,
}

/// `GET /v1/orders:by_client_order_id?client_order_id=`.
#[utoipa::path(
    get,
    path = "/v1/orders:by_client_order_id",
    tag = "orders",
    security(("bearer" = [])),
    params(ByClientId),
    responses(
        (status = 200, description = "The order that used this client order id.",
         body = OrderView),
        (status = 400, description = "MALFORMED_QUERY (e.g. no client_order_id).",
         body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE: an API key without the `read` scope.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_ORDER, UNKNOWN_ACCOUNT.", body = ErrorBody),
        (status = 422, description = "INVALID_ACCOUNT_ID, MISSING_ACCOUNT_ID.",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 500, description = "INTERNAL: the history could not be read.",
         body = ErrorBody),
        (status = 503, description = "HISTORY_UNAVAILABLE (PostgreSQL history).",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn order_by_client_id(
    axum::extract::State(s): State,
    Can(who): CanRead,
    Query(q): Query<ByClientId>,
) -> Result<Json<OrderView>, ApiError> {
    let account = who.acting_for(q.account_id.as_deref(), &s.0.directory)?;
    let not_found = || ApiError::not_found("UNKNOWN_ORDER", "no such order");
    let cid: ClientOrderId = q.client_order_id.parse().map_err(|_| not_found())?;
    s.0.history
        .order_by_client_id(account, cid)
        .await?
        .map(Json)
        .ok_or_else(not_found)
}

/// `GET /v1/account`.
#[utoipa::path(
    get,
    path = "/v1/account",
    tag = "account",
    security(("bearer" = [])),
    params(AccountOnly),
    responses(
        (status = 200, description = "Cash, buying power and equity.", body = AccountView),
        (status = 400, description = "MALFORMED_QUERY.",
         body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE: an API key without the `read` scope.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_ACCOUNT.", body = ErrorBody),
        (status = 422, description = "INVALID_ACCOUNT_ID, MISSING_ACCOUNT_ID.",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn account(
    axum::extract::State(s): State,
    Can(who): CanRead,
    Query(q): Query<AccountOnly>,
) -> Result<Json<AccountView>, ApiError> {
    let account = who.acting_for(q.account_id.as_deref(), &s.0.directory)?;
    let mut v =
        s.0.history
            .account(account)
            .ok_or_else(|| ApiError::not_found("UNKNOWN_ACCOUNT", "no such account"))?;
    if let Some(p) = s.0.people.profiles.get(account) {
        v.unsettled_cash = p.funding.unsettled();
        let free = i128::from(v.buying_power.raw()) - i128::from(v.unsettled_cash.raw());
        v.withdrawable_cash = Cash::from_raw(i64::try_from(free.max(0)).unwrap_or(i64::MAX));
    }
    Ok(Json(v))
}

/// `GET /v1/positions`.
#[utoipa::path(
    get,
    path = "/v1/positions",
    tag = "account",
    security(("bearer" = [])),
    params(AccountOnly),
    responses(
        (status = 200, description = "Every holding, in symbol order.",
         body = Vec<PositionView>),
        (status = 400, description = "MALFORMED_QUERY.",
         body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE: an API key without the `read` scope.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_ACCOUNT.", body = ErrorBody),
        (status = 422, description = "INVALID_ACCOUNT_ID, MISSING_ACCOUNT_ID.",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn positions(
    axum::extract::State(s): State,
    Can(who): CanRead,
    Query(q): Query<AccountOnly>,
) -> Result<Json<Vec<PositionView>>, ApiError> {
    let account = who.acting_for(q.account_id.as_deref(), &s.0.directory)?;
    Ok(Json(s.0.history.positions(account)))
}

/// `GET /v1/positions/{symbol}`.
#[utoipa::path(
    get,
    path = "/v1/positions/{symbol}",
    tag = "account",
    security(("bearer" = [])),
    params(
        ("symbol" = String, Path, description = "The symbol (case-insensitive).",
         example = "AAPL"),
        AccountOnly,
    ),
    responses(
        (status = 200, description = "The holding.", body = PositionView),
        (status = 400, description = "MALFORMED_PATH, MALFORMED_QUERY.",
         body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE: an API key without the `read` scope.", body = ErrorBody),
        (status = 404, description = "NO_POSITION, UNKNOWN_ACCOUNT.", body = ErrorBody),
        (status = 422, description = "UNKNOWN_SYMBOL (not a symbol at all), \
         INVALID_ACCOUNT_ID, MISSING_ACCOUNT_ID.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn position(
    axum::extract::State(s): State,
    Can(who): CanRead,
    Path(sym): Path<String>,
    Query(q): Query<AccountOnly>,
) -> Result<Json<PositionView>, ApiError> {
    let account = who.acting_for(q.account_id.as_deref(), &s.0.directory)?;
    let sym = symbol(&sym)?;
    s.0.history
        .position(account, sym)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("NO_POSITION", "no position in this stock"))
}

/// `GET /v1/portfolio`.
#[utoipa::path(
    get,
    path = "/v1/portfolio",
    tag = "account",
    security(("bearer" = [])),
    params(AccountOnly),
    responses(
        (status = 200, description = "The account's summary and performance.",
         body = PortfolioView),
        (status = 400, description = "MALFORMED_QUERY.",
         body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE: an API key without the `read` scope.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_ACCOUNT.", body = ErrorBody),
        (status = 422, description = "INVALID_ACCOUNT_ID, MISSING_ACCOUNT_ID.",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn portfolio(
    axum::extract::State(s): State,
    Can(who): CanRead,
    Query(q): Query<AccountOnly>,
) -> Result<Json<PortfolioView>, ApiError> {
    let account = who.acting_for(q.account_id.as_deref(), &s.0.directory)?;
    s.0.history
        .portfolio(account)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("UNKNOWN_ACCOUNT", "no such account"))
}

/// `?activity_type=&after=&limit=` of the activity list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ActivitiesQuery {
    /// FILL, DEPOSIT, WITHDRAWAL or SHARE_DEPOSIT (case-insensitive); all when absent.
    #[param(value_type = Option<String>)]
    activity_type: Option<String>,
    /// The `next` cursor of the previous page.
    #[param(value_type = Option<wire::ActivityId>)]
    after: Option<String>,
    /// Page length, 1-500 (default 50); anything else is `422 INVALID_LIMIT`.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    /// The account acted for: the operator names any, a broker its customers' (any caller may name its own).
    #[param(value_type = Option<wire::AccountId>)]
    account_id: Option<String>,
}

/// `GET /v1/activities?activity_type=FILL|DEPOSIT|WITHDRAWAL|SHARE_DEPOSIT&after=&limit=`.
#[utoipa::path(
    get,
    path = "/v1/activities",
    tag = "account",
    security(("bearer" = [])),
    params(ActivitiesQuery),
    responses(
        (status = 200, description = "A page of the account's activities, newest first.",
         body = Page<ActivityView>),
        (status = 400, description = "INVALID_CURSOR, MALFORMED_QUERY.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE: an API key without the `read` scope.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_ACCOUNT.", body = ErrorBody),
        (status = 422, description = "INVALID_ACTIVITY_TYPE, INVALID_LIMIT, INVALID_ACCOUNT_ID, \
         MISSING_ACCOUNT_ID.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 500, description = "INTERNAL: the history could not be read.",
         body = ErrorBody),
        (status = 503, description = "HISTORY_UNAVAILABLE (PostgreSQL history).",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn activities(
    axum::extract::State(s): State,
    Can(who): CanRead,
    Query(q): Query<ActivitiesQuery>,
) -> Result<Json<Page<ActivityView>>, ApiError> {
    let account = who.acting_for(q.account_id.as_deref(), &s.0.directory)?;
    let activity_type = q
        .activity_type
        .as_deref()
        .map(|t| {
            ActivityType::parse(t).ok_or_else(|| {
                ApiError::unprocessable(
                    "INVALID_ACTIVITY_TYPE",
                    "activity_type is FILL, DEPOSIT, WITHDRAWAL or SHARE_DEPOSIT",
                )
            })
        })
        .transpose()?;
    let filter = ActivityFilter {
        activity_type,
        after: q.after,
        limit: page_limit(q.limit)?,
    };
    let page = s.0.history.activities(account, &filter).await?;
    Ok(Json(page))
}

/// `?after=&limit=` of the private stream.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventsQuery {
    /// The last `account_seq` the client has (the previous page's `next_after`); 0, the
    /// default, is the start of the stream.
    #[param(minimum = 0)]
    after: Option<u64>,
    /// Page length, 1-500 (default 50); anything else is `422 INVALID_LIMIT`.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    /// The account acted for: the operator names any, a broker its customers' (any caller may name its own).
    #[param(value_type = Option<wire::AccountId>)]
    account_id: Option<String>,
}

/// A page of the account's private stream.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventsView {
    /// The private messages numbered above `after`, oldest first, without gaps: each as
    /// the WebSocket's `orders`, `account` and `alerts` channels send it, with its
    /// `account_seq` (see docs/PROTOCOL.md).
    #[schema(value_type = Vec<Object>)]
    events: Vec<serde_json::Value>,
    /// Where the next page starts (pass it as `after`): the last event's `account_seq`, or
    /// the `after` asked for when the page is empty.
    #[schema(minimum = 0)]
    next_after: u64,
    /// The account's last `account_seq` (0: nothing yet); the stream is read to its end
    /// when `next_after` equals it.
    #[schema(minimum = 0)]
    last_account_seq: u64,
}

/// `GET /v1/events?after=&limit=`.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "account",
    security(("bearer" = [])),
    params(EventsQuery),
    responses(
        (status = 200, description = "The account's private-stream events after `after`, \
         oldest first.", body = EventsView),
        (status = 400, description = "INVALID_CURSOR (`after` beyond the account's last \
         `account_seq`), MALFORMED_QUERY.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE: an API key without the `read` scope.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_ACCOUNT.", body = ErrorBody),
        (status = 410, description = "EVENTS_EXPIRED: events after `after` are no longer kept \
         (file journal: the server keeps the newest `journal.history_events_kept`); the \
         message names the oldest still kept.", body = ErrorBody),
        (status = 422, description = "INVALID_LIMIT, INVALID_ACCOUNT_ID, MISSING_ACCOUNT_ID.",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 500, description = "INTERNAL: the history could not be read.",
         body = ErrorBody),
        (status = 503, description = "HISTORY_UNAVAILABLE (PostgreSQL history).",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn events(
    axum::extract::State(s): State,
    Can(who): CanRead,
    Query(q): Query<EventsQuery>,
) -> Result<Json<EventsView>, ApiError> {
    let account = who.acting_for(q.account_id.as_deref(), &s.0.directory)?;
    let limit = page_limit(q.limit)?.unwrap_or(crate::readmodel::DEFAULT_PAGE);
    let after = q.after.unwrap_or(0);
    let page = s.0.history.events(account, after, limit).await?;
    Ok(Json(EventsView {
        next_after: page.events.last().map_or(after, |t| t.aseq),
        last_account_seq: page.last_account_seq,
        events: page
            .events
            .iter()
            .map(bourse_feed::private::message)
            .collect(),
    }))
}
