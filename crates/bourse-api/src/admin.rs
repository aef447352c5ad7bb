//! The operator's routes: opening accounts, cash and share deposits, halts, the end of the
//! trading day and snapshots.

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use bourse_core::{AccountId, Cash, Command, Event, Qty, Symbol};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{Actor, AuditKind, Record};
use crate::error::{ApiError, ErrorBody, first_reject};
use crate::extract::{ClientIp, JsonBody, Operator, Path};
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
    ClientIp(ip): ClientIp,
) -> Result<impl IntoResponse, ApiError> {
    let reply = s.0.gateway.execute(Command::OpenAccount).await?;
    let account = reply.events.iter().find_map(|e| match e {
        Event::AccountOpened { account } => Some(*account),
        _ => None,
    });
    if let Some(a) = account {
        let r = Record::new(AuditKind::AccountOpenedByOperator, Actor::Operator);
        s.0.people.audit.record(r.account(a).ip(ip)).await;
    }
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
    ClientIp(ip): ClientIp,
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
    let r = Record::new(AuditKind::DepositByOperator, Actor::Operator)
        .account(account)
        .ip(ip)
        .detail("amount", amount.to_string());
    s.0.people.audit.record(r).await;
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
    ClientIp(ip): ClientIp,
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
    let r = Record::new(AuditKind::SharesDepositedByOperator, Actor::Operator)
        .account(account)
        .ip(ip)
        .detail("symbol", symbol.to_string())
        .detail("qty", qty.to_string());
    s.0.people.audit.record(r).await;
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
pub(crate) async fn snapshot(
    axum::extract::State(s): State,
    _op: Operator,
    ClientIp(ip): ClientIp,
) -> impl IntoResponse {
    s.0.ops.request_snapshot();
    let r = Record::new(AuditKind::SnapshotTaken, Actor::Operator).ip(ip);
    s.0.people.audit.record(r).await;
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
    ClientIp(ip): ClientIp,
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
    let kind = if action == "halt" {
        AuditKind::SymbolHalted
    } else {
        AuditKind::SymbolResumed
    };
    let r = Record::new(kind, Actor::Operator)
        .ip(ip)
        .detail("symbol", symbol.to_string());
    s.0.people.audit.record(r).await;
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
    ClientIp(ip): ClientIp,
) -> Result<Json<EndOfDayView>, ApiError> {
    let reply = s.0.gateway.execute(Command::EndOfDay).await?;
    let r = Record::new(AuditKind::EndOfDay, Actor::Operator)
        .ip(ip)
        .detail("seq", reply.seq.0.to_string());
    s.0.people.audit.record(r).await;
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

/// `?kind=&account=&actor=&before=&limit=` of the audit log.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditParams {
    /// One kind of entry (`log_in`, `log_in_failed`, `symbol_halted`, ...).
    kind: Option<String>,
    /// Entries about this account.
    #[param(value_type = Option<wire::AccountId>)]
    account: Option<String>,
    /// Entries by this actor: `operator`, `account:<id>`, `anonymous` or `system`.
    actor: Option<String>,
    /// The `next` cursor of the previous page: entries older than it.
    before: Option<u64>,
    /// Page length, 1-500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
}

/// A page of the audit log, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AuditPage)]
pub(crate) struct AuditPageView {
    entries: Vec<crate::audit::AuditEntry>,
    /// The `before` of the next (older) page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<u64>,
}

/// `GET /v1/admin/audit`: the audit log, newest first, filtered. Nothing writes it over the
/// API: entries are made by the actions they record.
#[utoipa::path(
    get,
    path = "/v1/admin/audit",
    tag = "operator",
    security(("bearer" = [])),
    params(AuditParams),
    responses(
        (status = 200, description = "Entries, newest first.", body = AuditPageView),
        (status = 400, description = "MALFORMED_QUERY.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not the operator.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD (an unknown kind or actor), INVALID_ACCOUNT_ID, \
         INVALID_LIMIT.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED (never for the operator token).",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "UNAVAILABLE: the log's store cannot be read.",
         body = ErrorBody),
    )
)]
pub(crate) async fn audit(
    axum::extract::State(s): State,
    _op: Operator,
    crate::extract::Query(q): crate::extract::Query<AuditParams>,
) -> Result<Json<AuditPageView>, ApiError> {
    let field = |m: &str| ApiError::unprocessable("INVALID_FIELD", m.to_owned());
    let kind = match q.kind.as_deref() {
        None => None,
        Some(k) => Some(crate::audit::AuditKind::parse(k).ok_or_else(|| field("unknown kind"))?),
    };
    let account = match q.account.as_deref() {
        None => None,
        Some(a) => Some(parse_account(a)?.get()),
    };
    if let Some(a) = q.actor.as_deref() {
        let known = matches!(a, "operator" | "anonymous" | "system")
            || a.strip_prefix("account:")
                .is_some_and(|n| n.parse::<u64>().is_ok_and(|n| n > 0));
        if !known {
            return Err(field(
                "actor is operator, anonymous, system or account:<id>",
            ));
        }
    }
    let limit = match q.limit {
        None => 100,
        Some(n @ 1..=500) => n,
        Some(_) => {
            return Err(ApiError::unprocessable(
                "INVALID_LIMIT",
                "limit is 1 to 500",
            ));
        }
    };
    let mut entries =
        s.0.people
            .audit
            .query(&crate::audit::AuditQuery {
                kind,
                account,
                actor: q.actor,
                before: q.before,
                since: None,
                limit: limit + 1,
            })
            .await
            .map_err(crate::sidestore::unavailable("the audit log"))?;
    let next = crate::sidestore::page_end(&mut entries, limit, |e| e.id);
    Ok(Json(AuditPageView { entries, next }))
}
