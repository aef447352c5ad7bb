//! The operator's routes: opening accounts, cash and share deposits, halts, the end of the
//! trading day and snapshots.

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use bourse_core::{AccountId, Cash, Command, Event, Qty, Symbol};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody, first_reject};
use crate::extract::{JsonBody, Operator, Path};
use crate::orders::parse_account;
use crate::state::{State, listed};
use crate::wire;

/// A new account.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AccountOpened)]
pub(crate) struct AccountOpenedView {
    #[schema(value_type = wire::AccountId)]
    account_id: String,
    seq: u64,
}

/// `POST /v1/admin/accounts`: opens an account (without a user).
#[utoipa::path(
    post,
    path = "/v1/admin/accounts",
    tag = "operator",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Opened, once durable.", body = AccountOpenedView),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not the operator.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED (never for the operator token).",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 500, description = "INTERNAL: the engine opened no account.",
         body = ErrorBody),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn open_account(
    axum::extract::State(s): State,
    _op: Operator,
) -> Result<impl IntoResponse, ApiError> {
    let reply = s.0.gateway.execute(Command::OpenAccount).await?;
    let account = reply.events.iter().find_map(|e| match e {
        Event::AccountOpened { account } => Some(*account),
        _ => None,
    });
    match account {
        Some(a) => Ok((
            StatusCode::CREATED,
            Json(AccountOpenedView {
                account_id: a.get().to_string(),
                seq: reply.seq.0,
            }),
        )),
        None => Err(first_reject(&reply.events).unwrap_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "no account opened",
            )
        })),
    }
}

/// A cash deposit by the operator.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OperatorDeposit)]
pub(crate) struct Amount {
    #[schema(value_type = wire::AmountInput)]
    amount: String,
}

/// The answer to an operator's deposit.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Deposited)]
pub(crate) struct DepositView {
    #[schema(value_type = wire::AccountId)]
    account_id: String,
    #[schema(value_type = wire::Cash)]
    amount: Cash,
    seq: u64,
}

/// `POST /v1/admin/accounts/{id}/deposits`: cash into an account.
#[utoipa::path(
    post,
    path = "/v1/admin/accounts/{id}/deposits",
    tag = "operator",
    security(("bearer" = [])),
    params(("id" = wire::AccountId, Path, description = "The account.")),
    request_body = Amount,
    responses(
        (status = 200, description = "Deposited, once durable.", body = DepositView),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY, MALFORMED_PATH.",
         body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not the operator.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_ACCOUNT.", body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD, INVALID_ACCOUNT_ID, INVALID_AMOUNT, or the \
         engine's rejection (ARITHMETIC_OVERFLOW).", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED (never for the operator token).",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn deposit(
    axum::extract::State(s): State,
    _op: Operator,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Amount>,
) -> Result<Json<DepositView>, ApiError> {
    let account = parse_account(&id)?;
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
    let reply =
        s.0.gateway
            .execute(Command::Deposit { account, amount })
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    Ok(Json(DepositView {
        account_id: account.get().to_string(),
        amount,
        seq: reply.seq.0,
    }))
}

/// A share deposit by the operator. Unlike everywhere else, `qty` is a JSON integer here.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ShareDeposit, example = json!({"symbol": "AAPL", "qty": 100}))]
pub(crate) struct Shares {
    #[schema(value_type = wire::Symbol)]
    symbol: String,
    /// Shares, as a JSON integer (not a string): 1 to 2^64 - 1.
    #[schema(
        minimum = 1,
        maximum = 18_446_744_073_709_551_615_u64,
        format = "uint64"
    )]
    qty: u64,
}

/// The answer to a share deposit.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SharesDeposited)]
pub(crate) struct SharesView {
    #[schema(value_type = wire::AccountId)]
    account_id: String,
    #[schema(value_type = wire::Symbol)]
    symbol: Symbol,
    /// The shares deposited, as a string.
    #[schema(value_type = wire::Shares)]
    qty: String,
    seq: u64,
}

/// `POST /v1/admin/accounts/{id}/shares`: shares into an account.
#[utoipa::path(
    post,
    path = "/v1/admin/accounts/{id}/shares",
    tag = "operator",
    security(("bearer" = [])),
    params(("id" = wire::AccountId, Path, description = "The account.")),
    request_body = Shares,
    responses(
        (status = 200, description = "Deposited, once durable.", body = SharesView),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY, MALFORMED_PATH.",
         body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not the operator.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_ACCOUNT.", body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD, INVALID_ACCOUNT_ID, UNKNOWN_SYMBOL, \
         INVALID_QUANTITY, or the engine's rejection (ARITHMETIC_OVERFLOW).", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED (never for the operator token).",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn deposit_shares(
    axum::extract::State(s): State,
    _op: Operator,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Shares>,
) -> Result<Json<SharesView>, ApiError> {
    let account: AccountId = parse_account(&id)?;
    let symbol: Symbol = body
        .symbol
        .parse()
        .ok()
        .filter(|sym| s.0.listings.get(*sym).is_some())
        .ok_or_else(|| ApiError::unprocessable("UNKNOWN_SYMBOL", "no such listed symbol"))?;
    let qty = Qty::shares(body.qty);
    if body.qty == 0 || qty.whole_shares() != body.qty {
        return Err(ApiError::unprocessable(
            "INVALID_QUANTITY",
            "qty must be a positive number of shares, at most 18,446,744,073,709",
        ));
    }
    let reply =
        s.0.gateway
            .execute(Command::DepositShares {
                account,
                symbol,
                qty,
            })
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    Ok(Json(SharesView {
        account_id: account.get().to_string(),
        symbol,
        qty: body.qty.to_string(),
        seq: reply.seq.0,
    }))
}

/// The answer to a snapshot request.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SnapshotRequested)]
pub(crate) struct SnapshotView {
    /// Always `requested`: the snapshot is written soon, off the engine thread.
    #[schema(pattern = "^requested$")]
    snapshot: &'static str,
}

/// `POST /v1/admin/snapshot`: asks for a snapshot soon.
#[utoipa::path(
    post,
    path = "/v1/admin/snapshot",
    tag = "operator",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Requested.", body = SnapshotView),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not the operator.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED (never for the operator token).",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn snapshot(axum::extract::State(s): State, _op: Operator) -> impl IntoResponse {
    s.0.ops.request_snapshot();
    (
        StatusCode::ACCEPTED,
        Json(SnapshotView {
            snapshot: "requested",
        }),
    )
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
