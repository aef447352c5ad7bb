//! Order entry, shared by REST and WebSocket: submit, cancel, replace and mass cancel, each
//! checked before it goes near the engine and answered from its durable outcome.

use axum::Json;
use bourse_core::{Command, Event, OrderId, OrderRequest, Price, Qty, RejectReason};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody, first_reject};
use crate::extract::{Can, CanTrade, JsonBody, Path, Query};
use crate::gateway::Reply;
use crate::orders::{DecimalText, NewOrder, OrderView, parse_order_id, report_submit};
use crate::state::{AppState, State, listed};
use crate::wire;

/// `POST /v1/orders`: order entry.
#[utoipa::path(
    post,
    path = "/v1/orders",
    tag = "orders",
    security(("bearer" = [])),
    request_body = NewOrder,
    responses(
        (status = 200, description = "The order's execution report once the submit is durable \
         (fills it caused included). A resent `client_order_id` answers with the order it \
         created.", body = OrderView, links(
            ("GetOrder" = (operation_id = "get_order",
                           parameters(("id" = "$response.body#/id")))),
            ("CancelOrder" = (operation_id = "cancel_order",
                              parameters(("id" = "$response.body#/id")))),
            ("ReplaceOrder" = (operation_id = "replace_order",
                               parameters(("id" = "$response.body#/id")))),
            ("OrderByClientOrderId" = (operation_id = "order_by_client_id",
                parameters(("client_order_id" = "$response.body#/client_order_id")))),
        )),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE: an API key without the `trade` scope.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_ACCOUNT (`account_id` of another account, or none \
         such).", body = ErrorBody),
        (status = 409, description = "DUPLICATE_CLIENT_ORDER_ID: another order of the account \
         holds the `client_order_id` (named in `order_id`); an identical resend is answered 200 \
         with that order.", body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD, UNKNOWN_SYMBOL, INVALID_SIDE, \
         INVALID_ORDER_TYPE, INVALID_TIME_IN_FORCE, INVALID_QUANTITY, QTY_OFF_LOT, \
         MAX_QTY_EXCEEDED, INVALID_PRICE, PRICE_OFF_TICK, INVALID_ORDER, \
         INVALID_CLIENT_ORDER_ID, INVALID_ACCOUNT_ID, MISSING_ACCOUNT_ID, or the engine's \
         rejection (INSUFFICIENT_BUYING_POWER, INSUFFICIENT_POSITION, PRICE_OUT_OF_BAND, \
         MAX_NOTIONAL_EXCEEDED, SYMBOL_HALTED, POST_ONLY_WOULD_TAKE, NO_LIQUIDITY, …).",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 500, description = "INTERNAL: the history could not be read.",
         body = ErrorBody),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN, HISTORY_UNAVAILABLE.",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 504, description = "OUTCOME_UNKNOWN: no durable outcome in time; retry with \
         the same client_order_id.", body = ErrorBody),
    )
)]
pub(crate) async fn submit_order(
    axum::extract::State(s): State,
    Can(who): CanTrade,
    JsonBody(body): JsonBody<NewOrder>,
) -> Result<Json<OrderView>, ApiError> {
    submit(&s, &who, body).await.map(Json)
}

/// Order entry, shared by REST and WebSocket: validate, execute, report.
pub(crate) async fn submit(
    s: &AppState,
    who: &Principal,
    body: NewOrder,
) -> Result<OrderView, ApiError> {
    let (req, cmd) = submit_request(s, who, &body)?;
    let reply = s.0.gateway.execute(cmd).await?;
    match submitted(&reply, &req)? {
        Submitted::Report(view) => Ok(view),
        Submitted::Resent(original) => resent(s, &req, original).await,
    }
}

/// A submit checked before it goes near the engine: its request (a class's first order)
/// and its command.
pub(crate) fn submit_request(
    s: &AppState,
    who: &Principal,
    body: &NewOrder,
) -> Result<(OrderRequest, Command), ApiError> {
    let account = who.acting_for(body.account_id.as_deref(), &s.0.directory)?;
    body.command(account, &s.0.listings)
}

/// What a submit's outcome says.
#[allow(clippy::large_enum_variant)] // handed straight back, never stored
pub(crate) enum Submitted {
    Report(OrderView),
    /// A resend of an order already placed under its client order id: the answer is that
    /// order (named by the engine), read with [`resent`].
    Resent(OrderId),
}

pub(crate) fn submitted(reply: &Reply, req: &OrderRequest) -> Result<Submitted, ApiError> {
    match report_submit(reply.seq.0, reply.ts, &reply.events) {
        Ok(view) => Ok(Submitted::Report(view)),
        // The same order again: answered with the order the id created.
        Err(crate::orders::Rejection {
            reason: RejectReason::ResentOrder,
            order_id: Some(original),
        }) => Ok(Submitted::Resent(original)),
        // Another order under a used id: refused, naming the order that holds it.
        Err(r) if r.reason == RejectReason::DuplicateClientOrderId => {
            let mut e = ApiError::rejected(r.reason);
            if let (Some(original), Some(cid)) = (r.order_id, req.client_order_id) {
                e.message = format!(
                    "client_order_id {:?} already names order {} with other terms; resend \
                     that order unchanged to get it, or use a new client_order_id",
                    cid.as_str(),
                    original.get()
                );
                e.order_id = Some(original.get().to_string());
            }
            Err(e)
        }
        Err(r) => Err(ApiError::rejected(r.reason)),
    }
}

/// The order a resend names, by its id (the client order id may have named other orders on
/// other days).
pub(crate) async fn resent(
    s: &AppState,
    req: &OrderRequest,
    original: OrderId,
) -> Result<OrderView, ApiError> {
    s.0.history
        .order(req.account, original)
        .await?
        .ok_or_else(|| {
            let mut e = ApiError::rejected(RejectReason::DuplicateClientOrderId);
            e.order_id = Some(original.get().to_string());
            e
        })
}

/// `?account_id=`: the operator names the account it acts for.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AccountQuery {
    /// The account acted for: the operator names any, a broker its customers' (any caller may name its own).
    #[param(value_type = Option<wire::AccountId>)]
    account_id: Option<String>,
}

/// The answer to a cancel.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Canceled)]
pub(crate) struct CancelView {
    #[schema(value_type = wire::OrderId)]
    id: String,
    /// Always `canceled`.
    #[schema(pattern = "^canceled$")]
    status: &'static str,
    /// The open quantity that was canceled.
    #[schema(value_type = wire::Shares)]
    canceled_qty: String,
    #[schema(value_type = wire::CancelReason)]
    cancel_reason: bourse_core::CancelReason,
    seq: u64,
}

/// `DELETE /v1/orders/{id}`: cancels a working order.
#[utoipa::path(
    delete,
    path = "/v1/orders/{id}",
    tag = "orders",
    security(("bearer" = [])),
    params(
        ("id" = wire::OrderId, Path, description = "The order's id."),
        AccountQuery,
    ),
    responses(
        (status = 200, description = "Canceled, once durable.", body = CancelView),
        (status = 400, description = "MALFORMED_PATH, MALFORMED_QUERY.",
         body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE: an API key without the `trade` scope.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_ORDER (none such, not working, or another \
         account's), UNKNOWN_ACCOUNT.", body = ErrorBody),
        (status = 422, description = "INVALID_ACCOUNT_ID, MISSING_ACCOUNT_ID, or the engine's \
         rejection.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn cancel_order(
    axum::extract::State(s): State,
    Can(who): CanTrade,
    Path(id): Path<String>,
    Query(q): Query<AccountQuery>,
) -> Result<Json<CancelView>, ApiError> {
    cancel(&s, &who, &id, q.account_id.as_deref())
        .await
        .map(Json)
}

/// Cancel, shared by REST and WebSocket.
pub(crate) async fn cancel(
    s: &AppState,
    who: &Principal,
    id: &str,
    account_id: Option<&str>,
) -> Result<CancelView, ApiError> {
    let (cmd, order_id) = cancel_command(s, who, id, account_id)?;
    let reply = s.0.gateway.execute(cmd).await?;
    canceled(order_id, &reply)
}

/// A cancel checked before it goes near the engine.
pub(crate) fn cancel_command(
    s: &AppState,
    who: &Principal,
    id: &str,
    account_id: Option<&str>,
) -> Result<(Command, OrderId), ApiError> {
    let order_id = parse_order_id(id)?;
    let account = who.acting_for(account_id, &s.0.directory)?;
    Ok((Command::CancelOrder { account, order_id }, order_id))
}

/// What a cancel's outcome says.
pub(crate) fn canceled(order_id: OrderId, reply: &Reply) -> Result<CancelView, ApiError> {
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    let canceled = reply.events.iter().find_map(|e| match e {
        Event::OrderCanceled { qty, reason, .. } => Some((qty.raw(), *reason)),
        _ => None,
    });
    let (qty, reason) =
        canceled.ok_or_else(|| ApiError::not_found("UNKNOWN_ORDER", "no such order"))?;
    Ok(CancelView {
        id: order_id.get().to_string(),
        status: "canceled",
        canceled_qty: qty.to_string(),
        cancel_reason: reason,
        seq: reply.seq.0,
    })
}

/// A replace: the new open quantity and, optionally, a new limit price.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Replace, example = json!({"qty": "5", "limit_price": "189.50"}))]
pub(crate) struct Amend {
    /// New open quantity (required; a read of the order gives the current one).
    #[schema(value_type = wire::QtyInput, required = true)]
    pub(crate) qty: Option<DecimalText>,
    /// New limit price; unchanged when absent.
    #[schema(value_type = Option<wire::PriceInput>)]
    pub(crate) limit_price: Option<DecimalText>,
    /// The account acted for: the operator names any, a broker its customers' (any caller may name its own).
    #[serde(default)]
    #[schema(value_type = Option<wire::AccountId>)]
    pub(crate) account_id: Option<String>,
}

/// The answer to a replace: what the replace and any fills it caused did to the order.
/// Fields other than `id` and `seq` are present only when the order changed that way.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Replaced)]
pub(crate) struct ReplaceView {
    #[schema(value_type = wire::OrderId)]
    id: String,
    seq: u64,
    /// `replaced` when the engine replaced the order.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, pattern = "^replaced$")]
    event: Option<&'static str>,
    /// `new`, `partially_filled`, `filled` or `canceled` after the replace.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = wire::OrderStatus)]
    status: Option<&'static str>,
    /// The order's limit price as the replace left it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<wire::Price>)]
    limit_price: Option<Option<Price>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = wire::Shares)]
    leaves_qty: Option<String>,
    /// Whether the order kept its time priority (only a same-price reduction does).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = bool)]
    priority_kept: Option<bool>,
    /// Present when the replaced order traded at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = wire::Shares)]
    filled_qty: Option<String>,
}

/// `PATCH /v1/orders/{id}`: new open quantity and/or limit price. Same id; priority is kept
/// only for a same-price reduction.
#[utoipa::path(
    patch,
    path = "/v1/orders/{id}",
    tag = "orders",
    security(("bearer" = [])),
    params(("id" = wire::OrderId, Path, description = "The order's id.")),
    request_body = Amend,
    responses(
        (status = 200, description = "Replaced, once durable.", body = ReplaceView),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY, MALFORMED_PATH.",
         body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE: an API key without the `trade` scope.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_ORDER (none such, not working, or another \
         account's), UNKNOWN_ACCOUNT.", body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD, INVALID_QUANTITY, INVALID_PRICE, \
         INVALID_ACCOUNT_ID, MISSING_ACCOUNT_ID, or the engine's rejection (PRICE_OFF_TICK, \
         QTY_OFF_LOT, PRICE_OUT_OF_BAND, INSUFFICIENT_BUYING_POWER, SYMBOL_HALTED, …).",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn replace_order(
    axum::extract::State(s): State,
    Can(who): CanTrade,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Amend>,
) -> Result<Json<ReplaceView>, ApiError> {
    replace(&s, &who, &id, body).await.map(Json)
}

/// Replace, shared by REST and WebSocket.
pub(crate) async fn replace(
    s: &AppState,
    who: &Principal,
    id: &str,
    body: Amend,
) -> Result<ReplaceView, ApiError> {
    let (cmd, order_id) = replace_command(s, who, id, &body)?;
    let reply = s.0.gateway.execute(cmd).await?;
    replaced(order_id, &reply)
}

/// A replace checked before it goes near the engine.
pub(crate) fn replace_command(
    s: &AppState,
    who: &Principal,
    id: &str,
    body: &Amend,
) -> Result<(Command, OrderId), ApiError> {
    let order_id = parse_order_id(id)?;
    let account = who.acting_for(body.account_id.as_deref(), &s.0.directory)?;
    let price = body
        .limit_price
        .as_ref()
        .map(|d| crate::orders::parse_price("limit_price", d))
        .transpose()?;
    // The engine takes the new open quantity with every replace: the open quantity is
    // the engine's to know, so it is required (a read of the order gives it).
    let qty = match &body.qty {
        Some(d) => parse_qty(d)?,
        None => {
            return Err(ApiError::unprocessable(
                "INVALID_QUANTITY",
                "give the new open qty (and optionally limit_price); DELETE cancels",
            ));
        }
    };
    let cmd = Command::ReplaceOrder {
        account,
        order_id,
        qty,
        price,
    };
    Ok((cmd, order_id))
}

/// What a replace's outcome says.
pub(crate) fn replaced(order_id: OrderId, reply: &Reply) -> Result<ReplaceView, ApiError> {
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    let mut out = ReplaceView {
        id: order_id.get().to_string(),
        seq: reply.seq.0,
        event: None,
        status: None,
        limit_price: None,
        leaves_qty: None,
        priority_kept: None,
        filled_qty: None,
    };
    for e in &reply.events {
        match *e {
            Event::OrderReplaced {
                price,
                qty,
                priority_kept,
                ..
            } => {
                out.event = Some("replaced");
                out.status = Some("new");
                out.limit_price = Some(price);
                out.leaves_qty = Some(qty.to_string());
                out.priority_kept = Some(priority_kept);
            }
            Event::OrderFilled {
                order_id: o,
                cum_qty,
                leaves_qty,
                ..
            } if o == order_id => {
                out.filled_qty = Some(cum_qty.to_string());
                out.leaves_qty = Some(leaves_qty.to_string());
                out.status = Some(if leaves_qty.is_zero() {
                    "filled"
                } else {
                    "partially_filled"
                });
            }
            Event::OrderCanceled { order_id: o, .. } if o == order_id => {
                out.status = Some("canceled");
            }
            _ => {}
        }
    }
    Ok(out)
}

/// `?symbol=&account_id=` of a mass cancel.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct MassCancelQuery {
    /// Only this stock's orders.
    #[param(value_type = Option<wire::Symbol>)]
    symbol: Option<String>,
    /// The account acted for: the operator names any, a broker its customers' (any caller may name its own).
    #[param(value_type = Option<wire::AccountId>)]
    account_id: Option<String>,
}

/// The orders a mass cancel canceled.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = MassCanceled)]
pub(crate) struct MassCancelView {
    #[schema(value_type = Vec<wire::OrderId>)]
    canceled: Vec<String>,
    seq: u64,
}

/// `DELETE /v1/orders`: cancels every working order of the caller (optionally one symbol).
#[utoipa::path(
    delete,
    path = "/v1/orders",
    tag = "orders",
    security(("bearer" = [])),
    params(MassCancelQuery),
    responses(
        (status = 200, description = "Canceled, once durable.", body = MassCancelView),
        (status = 400, description = "MALFORMED_QUERY.",
         body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE: an API key without the `trade` scope.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_SYMBOL, UNKNOWN_ACCOUNT.", body = ErrorBody),
        (status = 422, description = "INVALID_ACCOUNT_ID, MISSING_ACCOUNT_ID.",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn mass_cancel(
    axum::extract::State(s): State,
    Can(who): CanTrade,
    Query(q): Query<MassCancelQuery>,
) -> Result<Json<MassCancelView>, ApiError> {
    let account = who.acting_for(q.account_id.as_deref(), &s.0.directory)?;
    let symbol = q.symbol.as_deref().map(|t| listed(&s, t)).transpose()?;
    let reply =
        s.0.gateway
            .execute(Command::MassCancel {
                account: Some(account),
                symbol,
            })
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    let canceled: Vec<String> = reply
        .events
        .iter()
        .filter_map(|e| match e {
            Event::OrderCanceled { order_id, .. } => Some(order_id.get().to_string()),
            _ => None,
        })
        .collect();
    Ok(Json(MassCancelView {
        canceled,
        seq: reply.seq.0,
    }))
}

/// A positive whole number of shares.
fn parse_qty(d: &DecimalText) -> Result<Qty, ApiError> {
    d.to::<Qty>().ok().filter(|q| !q.is_zero()).ok_or_else(|| {
        ApiError::unprocessable(
            "INVALID_QUANTITY",
            format!(
                "qty {:?} is not a positive whole number of shares",
                d.text()
            ),
        )
    })
}
