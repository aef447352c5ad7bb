//! What a user reads: orders (one, by client order id, pages with filters), the account,
//! positions, the portfolio and the activity history — always the caller's own.

use axum::Json;
use axum::extract::{Path, Query};
use bourse_core::{ClientOrderId, Symbol};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::http::{Auth, State};
use crate::orders::parse_order_id;
use crate::readmodel::{ActivityFilter, ActivityType, OrderFilter, StatusFilter};

#[derive(Deserialize)]
pub(crate) struct OrdersQuery {
    status: Option<String>,
    symbol: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
    account_id: Option<String>,
}

fn symbol(text: &str) -> Result<Symbol, ApiError> {
    text.to_ascii_uppercase()
        .parse()
        .map_err(|_| ApiError::unprocessable("UNKNOWN_SYMBOL", "no such listed symbol"))
}

/// `GET /v1/orders?status=open|closed|all&symbol=&after=&limit=`.
pub(crate) async fn list_orders(
    axum::extract::State(s): State,
    Auth(who): Auth,
    Query(q): Query<OrdersQuery>,
) -> Result<Json<Value>, ApiError> {
    let account = who.acting_for(q.account_id.as_deref())?;
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
        limit: q.limit,
    };
    let page = s.0.history.orders(account, &filter).await?;
    Ok(Json(json!(page)))
}

/// `GET /v1/orders/{id}`.
pub(crate) async fn get_order(
    axum::extract::State(s): State,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(q): Query<AccountOnly>,
) -> Result<Json<Value>, ApiError> {
    let account = who.acting_for(q.account_id.as_deref())?;
    let id = parse_order_id(&id)?;
    s.0.history
        .order(account, id)
        .await?
        .map(|o| Json(json!(o)))
        .ok_or_else(|| ApiError::not_found("UNKNOWN_ORDER", "no such order"))
}

#[derive(Deserialize)]
pub(crate) struct AccountOnly {
    account_id: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ByClientId {
    client_order_id: String,
    account_id: Option<String>,
}

/// `GET /v1/orders:by_client_order_id?client_order_id=`.
pub(crate) async fn order_by_client_id(
    axum::extract::State(s): State,
    Auth(who): Auth,
    Query(q): Query<ByClientId>,
) -> Result<Json<Value>, ApiError> {
    let account = who.acting_for(q.account_id.as_deref())?;
    let not_found = || ApiError::not_found("UNKNOWN_ORDER", "no such order");
    let cid: ClientOrderId = q.client_order_id.parse().map_err(|_| not_found())?;
    s.0.history
        .order_by_client_id(account, cid)
        .await?
        .map(|o| Json(json!(o)))
        .ok_or_else(not_found)
}

/// `GET /v1/account`.
pub(crate) async fn account(
    axum::extract::State(s): State,
    Auth(who): Auth,
    Query(q): Query<AccountOnly>,
) -> Result<Json<Value>, ApiError> {
    let account = who.acting_for(q.account_id.as_deref())?;
    s.0.history
        .account(account)
        .map(|a| Json(json!(a)))
        .ok_or_else(|| ApiError::not_found("UNKNOWN_ACCOUNT", "no such account"))
}

/// `GET /v1/positions`.
pub(crate) async fn positions(
    axum::extract::State(s): State,
    Auth(who): Auth,
    Query(q): Query<AccountOnly>,
) -> Result<Json<Value>, ApiError> {
    let account = who.acting_for(q.account_id.as_deref())?;
    Ok(Json(json!(s.0.history.positions(account))))
}

/// `GET /v1/positions/{symbol}`.
pub(crate) async fn position(
    axum::extract::State(s): State,
    Auth(who): Auth,
    Path(sym): Path<String>,
    Query(q): Query<AccountOnly>,
) -> Result<Json<Value>, ApiError> {
    let account = who.acting_for(q.account_id.as_deref())?;
    let sym = symbol(&sym)?;
    s.0.history
        .position(account, sym)
        .map(|p| Json(json!(p)))
        .ok_or_else(|| ApiError::not_found("NO_POSITION", "no position in this stock"))
}

/// `GET /v1/portfolio`.
pub(crate) async fn portfolio(
    axum::extract::State(s): State,
    Auth(who): Auth,
    Query(q): Query<AccountOnly>,
) -> Result<Json<Value>, ApiError> {
    let account = who.acting_for(q.account_id.as_deref())?;
    s.0.history
        .portfolio(account)
        .map(|p| Json(json!(p)))
        .ok_or_else(|| ApiError::not_found("UNKNOWN_ACCOUNT", "no such account"))
}

#[derive(Deserialize)]
pub(crate) struct ActivitiesQuery {
    activity_type: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
    account_id: Option<String>,
}

/// `GET /v1/activities?activity_type=FILL|DEPOSIT|WITHDRAWAL|SHARE_DEPOSIT&after=&limit=`.
pub(crate) async fn activities(
    axum::extract::State(s): State,
    Auth(who): Auth,
    Query(q): Query<ActivitiesQuery>,
) -> Result<Json<Value>, ApiError> {
    let account = who.acting_for(q.account_id.as_deref())?;
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
        limit: q.limit,
    };
    let page = s.0.history.activities(account, &filter).await?;
    Ok(Json(json!(page)))
}
