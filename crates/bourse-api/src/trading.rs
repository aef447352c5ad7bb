//! Replace, mass cancel, transfers, the stock list, and the operator's market controls.

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use bourse_core::{Cash, Command, Event, OrderId, Price, Qty, Symbol};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::gateway::Reply;
use crate::http::{
    AppState, Can, CanTrade, CanTransfer, JsonBody, Operator, Path, Query, State, first_reject,
};
use crate::openapi::wire;
use crate::orders::{Decimal, parse_order_id};

/// A replace: the new open quantity and, optionally, a new limit price.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Replace, example = json!({"qty": "5", "limit_price": "189.50"}))]
pub(crate) struct Amend {
    /// New open quantity (required; a read of the order gives the current one).
    #[schema(value_type = wire::QtyInput, required = true)]
    pub(crate) qty: Option<Decimal>,
    /// New limit price; unchanged when absent.
    #[schema(value_type = Option<wire::PriceInput>)]
    pub(crate) limit_price: Option<Decimal>,
    /// Operator only.
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
    let (cmd, order_id) = replace_command(who, id, &body)?;
    let reply = s.0.gateway.execute(cmd).await?;
    replaced(order_id, &reply)
}

/// A replace checked before it goes near the engine.
pub(crate) fn replace_command(
    who: &Principal,
    id: &str,
    body: &Amend,
) -> Result<(Command, OrderId), ApiError> {
    let order_id = parse_order_id(id)?;
    let account = who.acting_for(body.account_id.as_deref())?;
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
                out.leaves_qty = Some(qty.get().to_string());
                out.priority_kept = Some(priority_kept);
            }
            Event::OrderFilled {
                order_id: o,
                cum_qty,
                leaves_qty,
                ..
            } if o == order_id => {
                out.filled_qty = Some(cum_qty.get().to_string());
                out.leaves_qty = Some(leaves_qty.get().to_string());
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
    /// Operator only.
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
    let account = who.acting_for(q.account_id.as_deref())?;
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

fn listed(s: &crate::http::AppState, text: &str) -> Result<Symbol, ApiError> {
    text.parse::<Symbol>()
        .ok()
        .filter(|sym| s.0.listings.get(*sym).is_some())
        .ok_or_else(|| ApiError::not_found("UNKNOWN_SYMBOL", "no such listed symbol"))
}

/// Cash in or out.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"type": "deposit", "amount": "1000.00"}))]
pub(crate) struct Transfer {
    /// `deposit` or `withdraw`.
    #[serde(rename = "type")]
    #[schema(value_type = wire::TransferType)]
    kind: String,
    #[schema(value_type = wire::AmountInput)]
    amount: String,
    /// Operator only.
    #[serde(default)]
    #[schema(value_type = Option<wire::AccountId>)]
    account_id: Option<String>,
}

/// A transfer done.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Transferred)]
pub(crate) struct TransferView {
    #[schema(value_type = wire::AccountId)]
    account_id: String,
    #[serde(rename = "type")]
    #[schema(value_type = wire::TransferType)]
    kind: String,
    #[schema(value_type = wire::Cash)]
    amount: Cash,
    /// The account's cash after the transfer.
    #[schema(value_type = Option<wire::Cash>)]
    cash: Option<Cash>,
    seq: u64,
}

/// `POST /v1/transfers`: cash in or out of the caller's account.
#[utoipa::path(
    post,
    path = "/v1/transfers",
    tag = "account",
    security(("bearer" = [])),
    request_body = Transfer,
    responses(
        (status = 201, description = "Done, once durable.", body = TransferView),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE: an API key without the `transfer` scope.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_ACCOUNT.", body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD, INVALID_AMOUNT, INVALID_TRANSFER_TYPE, \
         INVALID_ACCOUNT_ID, MISSING_ACCOUNT_ID, or the engine's rejection \
         (INSUFFICIENT_FUNDS, ARITHMETIC_OVERFLOW).", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn transfer(
    axum::extract::State(s): State,
    Can(who): CanTransfer,
    JsonBody(body): JsonBody<Transfer>,
) -> Result<impl IntoResponse, ApiError> {
    let account = who.acting_for(body.account_id.as_deref())?;
    let amount: Cash = body
        .amount
        .parse()
        .ok()
        .filter(|c: &Cash| c.is_positive())
        .ok_or_else(|| {
            ApiError::unprocessable(
                "INVALID_AMOUNT",
                "amount must be a positive sum with at most 4 decimals",
            )
        })?;
    let cmd = match body.kind.as_str() {
        "deposit" => Command::Deposit { account, amount },
        "withdraw" => Command::Withdraw { account, amount },
        _ => {
            return Err(ApiError::unprocessable(
                "INVALID_TRANSFER_TYPE",
                "type is \"deposit\" or \"withdraw\"",
            ));
        }
    };
    let reply = s.0.gateway.execute(cmd).await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    let balance = reply.events.iter().find_map(|e| match e {
        Event::CashDeposited { balance, .. } | Event::CashWithdrawn { balance, .. } => {
            Some(*balance)
        }
        _ => None,
    });
    Ok((
        StatusCode::CREATED,
        Json(TransferView {
            account_id: account.get().to_string(),
            kind: body.kind,
            amount,
            cash: balance,
            seq: reply.seq.0,
        }),
    ))
}

/// `?q=&page=&size=` of the stock list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StockQuery {
    /// Text to find in the symbol or the name (case-insensitive), at most 64 characters.
    #[param(max_length = 64)]
    q: Option<String>,
    /// 1-based page number (0 reads as 1).
    #[param(minimum = 0)]
    page: Option<usize>,
    /// Stocks per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    size: Option<usize>,
}

/// A listed stock's profile.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Stock)]
pub(crate) struct StockView {
    #[schema(value_type = wire::Symbol)]
    symbol: Symbol,
    name: String,
    /// The price increment.
    #[schema(value_type = wire::Price)]
    tick: Price,
    /// The quantity increment.
    #[schema(value_type = wire::Shares)]
    lot: String,
    /// The largest single order.
    #[schema(value_type = wire::Shares)]
    max_qty: String,
    /// Last price, best bid/ask and the day so far.
    quote: Option<crate::market::QuoteView>,
}

/// A page of the stock list.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = StockPage)]
pub(crate) struct StockPageView {
    items: Vec<StockView>,
    page: usize,
    size: usize,
    /// Stocks matching in all.
    total: usize,
}

fn stock_json(s: &AppState, l: &crate::orders::Listing) -> StockView {
    StockView {
        quote: crate::market::quote_of(s, l.symbol.as_str()),
        symbol: l.symbol,
        name: l.name.clone(),
        tick: l.tick,
        lot: l.lot.get().to_string(),
        max_qty: l.max_qty.get().to_string(),
    }
}

/// `GET /v1/stocks?q=&page=&size=`: the listed stocks, searched by symbol or name.
#[utoipa::path(
    get,
    path = "/v1/stocks",
    tag = "market",
    params(StockQuery),
    responses(
        (status = 200, description = "Exact symbol first, then symbol prefix, then the rest in \
         symbol order.", body = StockPageView),
        (status = 400, description = "MALFORMED_QUERY.",
         body = ErrorBody),
        (status = 422, description = "INVALID_PAGE_SIZE, INVALID_QUERY.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn stocks(
    axum::extract::State(s): State,
    Query(q): Query<StockQuery>,
) -> Result<Json<StockPageView>, ApiError> {
    let size = q.size.unwrap_or(20);
    if !(1..=100).contains(&size) {
        return Err(ApiError::unprocessable(
            "INVALID_PAGE_SIZE",
            "size is 1 to 100",
        ));
    }
    let page = q.page.unwrap_or(1).max(1);
    let needle = q.q.as_deref().unwrap_or("").trim().to_ascii_lowercase();
    if needle.len() > 64 {
        return Err(ApiError::unprocessable(
            "INVALID_QUERY",
            "the search text is at most 64 characters",
        ));
    }
    let hits: Vec<&crate::orders::Listing> =
        s.0.listings
            .all()
            .iter()
            .filter(|l| {
                needle.is_empty()
                    || l.symbol.as_str().to_ascii_lowercase().contains(&needle)
                    || l.name.to_ascii_lowercase().contains(&needle)
            })
            .collect();
    // Exact symbol first, then symbol prefix, then the rest in symbol order.
    let mut hits = hits;
    hits.sort_by_key(|l| {
        let sym = l.symbol.as_str().to_ascii_lowercase();
        (sym != needle, !sym.starts_with(&needle), l.symbol)
    });
    let total = hits.len();
    let items: Vec<StockView> = hits
        .into_iter()
        .skip((page - 1).saturating_mul(size))
        .take(size)
        .map(|l| stock_json(&s, l))
        .collect();
    Ok(Json(StockPageView {
        items,
        page,
        size,
        total,
    }))
}

/// `GET /v1/stocks/{symbol}`: one stock's profile.
#[utoipa::path(
    get,
    path = "/v1/stocks/{symbol}",
    tag = "market",
    params(("symbol" = String, Path, description = "The symbol (case-insensitive).",
            example = "AAPL")),
    responses(
        (status = 200, description = "The stock.", body = StockView),
        (status = 400, description = "MALFORMED_PATH.",
         body = ErrorBody),
        (status = 404, description = "UNKNOWN_SYMBOL.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn stock(
    axum::extract::State(s): State,
    Path(symbol): Path<String>,
) -> Result<Json<StockView>, ApiError> {
    let sym = listed(&s, &symbol.to_ascii_uppercase())?;
    let l =
        s.0.listings
            .get(sym)
            .ok_or_else(|| ApiError::not_found("UNKNOWN_SYMBOL", "no such listed symbol"))?;
    Ok(Json(stock_json(&s, l)))
}

/// A halt or a resume done.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Halted)]
pub(crate) struct HaltView {
    #[schema(value_type = wire::Symbol)]
    symbol: Symbol,
    /// True after a halt, false after a resume.
    halted: bool,
    seq: u64,
}

/// `POST /v1/admin/symbols/{symbol}/halt` and `/resume`.
#[utoipa::path(
    post,
    path = "/v1/admin/symbols/{symbol}/{action}",
    operation_id = "halt_or_resume",
    tag = "operator",
    security(("bearer" = [])),
    params(
        ("symbol" = wire::Symbol, Path, description = "A listed symbol."),
        ("action" = String, Path, description = "`halt` or `resume`.",
         pattern = "^(halt|resume)$"),
    ),
    responses(
        (status = 200, description = "Halted or resumed, once durable.", body = HaltView),
        (status = 400, description = "MALFORMED_PATH.",
         body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not the operator.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_SYMBOL; NOT_FOUND for another action.",
         body = ErrorBody),
        (status = 422, description = "The engine's rejection.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED (never for the operator token).",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn halt(
    axum::extract::State(s): State,
    _op: Operator,
    Path((symbol, action)): Path<(String, String)>,
) -> Result<Json<HaltView>, ApiError> {
    let symbol = listed(&s, &symbol)?;
    let cmd = match action.as_str() {
        "halt" => Command::HaltSymbol { symbol },
        "resume" => Command::ResumeSymbol { symbol },
        _ => return Err(ApiError::not_found("NOT_FOUND", "no such route")),
    };
    let reply = s.0.gateway.execute(cmd).await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    Ok(Json(HaltView {
        symbol,
        halted: action == "halt",
        seq: reply.seq.0,
    }))
}

/// The end of a trading day.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DayEnded)]
pub(crate) struct EndOfDayView {
    /// DAY orders expired.
    expired_orders: usize,
    seq: u64,
}

/// `POST /v1/admin/end-of-day`: expires DAY orders and ends the trading day.
#[utoipa::path(
    post,
    path = "/v1/admin/end-of-day",
    tag = "operator",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The day ended, once durable.", body = EndOfDayView),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not the operator.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED (never for the operator token).",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn end_of_day(
    axum::extract::State(s): State,
    _op: Operator,
) -> Result<Json<EndOfDayView>, ApiError> {
    let reply = s.0.gateway.execute(Command::EndOfDay).await?;
    let expired = reply
        .events
        .iter()
        .filter(|e| matches!(e, Event::OrderCanceled { .. }))
        .count();
    Ok(Json(EndOfDayView {
        expired_orders: expired,
        seq: reply.seq.0,
    }))
}

/// A positive whole number of shares.
fn parse_qty(d: &Decimal) -> Result<Qty, ApiError> {
    let text = d.text();
    text.parse::<Qty>()
        .ok()
        .filter(|q| !q.is_zero())
        .ok_or_else(|| {
            ApiError::unprocessable(
                "INVALID_QUANTITY",
                format!("qty {text:?} is not a positive whole number of shares"),
            )
        })
}
