//! Brokers and their customers' accounts, in the shape of Alpaca's Broker API: the
//! operator registers brokers; a broker opens accounts for its customers, lists them, reads
//! each, and may give one a login of its own. Everything else a broker does for a customer
//! — funding it (`POST /v1/transfers`), trading for it (`/v1/orders`, WebSocket `order`, FIX
//! Account (1)), reading its orders, positions, activities and stream — is the ordinary
//! route naming the customer's `account_id`, which `Principal::acting_for` allows a broker
//! for its own customers only: any other account is `404 UNKNOWN_ACCOUNT`, as if it did
//! not exist.

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use bourse_core::{AccountId, Command, Event, Role};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody, first_reject};
use crate::extract::{Can, CanRead, CanTrade, JsonBody, Operator, Path, Query};
use crate::readmodel::{AccountView, DEFAULT_PAGE};
use crate::state::State;
use crate::users::{Credentials, Registered, new_user, registered};
use crate::wire;

/// A broker's customer account.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CustomerAccount)]
pub(crate) struct CustomerView {
    #[schema(value_type = wire::AccountId)]
    id: String,
    #[schema(value_type = wire::AccountId)]
    broker_id: String,
    /// The customer's own login, if the broker gave it one.
    username: Option<String>,
    /// Cash, buying power and equity.
    account: Option<AccountView>,
}

/// A page of customer accounts, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CustomerAccountPage)]
pub(crate) struct CustomerPage {
    items: Vec<CustomerView>,
    /// Pass as `after` for the next page; `null` at the end.
    #[schema(value_type = Option<wire::AccountId>)]
    next: Option<String>,
}

/// `?after=&limit=`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CustomerQuery {
    /// The last account id of the previous page.
    #[param(value_type = Option<wire::AccountId>)]
    after: Option<String>,
    /// 1–500, default 50.
    limit: Option<usize>,
}

fn view(s: &crate::state::AppState, id: AccountId, broker: AccountId) -> CustomerView {
    CustomerView {
        id: id.get().to_string(),
        broker_id: broker.get().to_string(),
        username: s.0.directory.username_of(id),
        account: s.0.history.account(id),
    }
}

/// The caller's account if it is a broker's.
fn broker(who: &crate::auth::Principal) -> Result<AccountId, ApiError> {
    match (who.role, who.account) {
        (Role::Broker, Some(a)) => Ok(a),
        _ => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "NOT_A_BROKER",
            "customer accounts are a broker's",
        )),
    }
}

/// `POST /v1/admin/brokers`: the operator registers a broker (a user with the broker role
/// and its own account).
#[utoipa::path(
    post,
    path = "/v1/admin/brokers",
    tag = "brokers",
    security(("bearer" = [])),
    request_body = Credentials,
    responses(
        (status = 201, description = "Registered, once durable.", body = Registered),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not the operator.", body = ErrorBody),
        (status = 409, description = "USERNAME_TAKEN.", body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_USERNAME, INVALID_PASSWORD.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn register_broker(
    axum::extract::State(s): State,
    _: Operator,
    crate::extract::ClientIp(ip): crate::extract::ClientIp,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<impl IntoResponse, ApiError> {
    let account = new_user(&s, &body, |username, password_hash| Command::RegisterUser {
        username,
        password_hash,
        role: Role::Broker,
    })
    .await?;
    let r = crate::audit::Record::new(
        crate::audit::AuditKind::BrokerRegistered,
        crate::audit::Actor::Operator,
    )
    .account(account)
    .ip(ip);
    s.0.people.audit.record(r).await;
    Ok((
        StatusCode::CREATED,
        Json(registered(body.username, account)),
    ))
}

/// `POST /v1/accounts`: a broker opens an account for a customer.
#[utoipa::path(
    post,
    path = "/v1/accounts",
    tag = "brokers",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Opened, once durable.", body = CustomerView),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "NOT_A_BROKER; INSUFFICIENT_SCOPE: an API key without \
         the `trade` scope.", body = ErrorBody),
        (status = 422, description = "TOO_MANY_CUSTOMERS.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn open(
    axum::extract::State(s): State,
    Can(who): CanTrade,
) -> Result<impl IntoResponse, ApiError> {
    let b = broker(&who)?;
    let reply =
        s.0.gateway
            .execute(Command::OpenCustomerAccount { broker: b })
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    let id = reply
        .events
        .iter()
        .find_map(|e| match e {
            Event::CustomerAccountOpened { account, .. } => Some(*account),
            _ => None,
        })
        .ok_or_else(|| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "no account")
        })?;
    Ok((StatusCode::CREATED, Json(view(&s, id, b))))
}

/// `GET /v1/accounts?after=&limit=`: the broker's customer accounts, oldest first.
#[utoipa::path(
    get,
    path = "/v1/accounts",
    tag = "brokers",
    security(("bearer" = [])),
    params(CustomerQuery),
    responses(
        (status = 200, description = "A page of the broker's customer accounts.", body = CustomerPage),
        (status = 400, description = "MALFORMED_QUERY, INVALID_CURSOR.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "NOT_A_BROKER; INSUFFICIENT_SCOPE.", body = ErrorBody),
        (status = 422, description = "INVALID_LIMIT.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn list(
    axum::extract::State(s): State,
    Can(who): CanRead,
    Query(q): Query<CustomerQuery>,
) -> Result<Json<CustomerPage>, ApiError> {
    let b = broker(&who)?;
    let limit = crate::queries::page_limit(q.limit)?.unwrap_or(DEFAULT_PAGE);
    let after = match q.after.as_deref() {
        None => 0,
        Some(a) => a.parse::<u64>().map_err(|_| {
            ApiError::bad_request(
                "INVALID_CURSOR",
                format!("{a:?} is not a cursor of this list"),
            )
        })?,
    };
    // Customers are listed in the order they were opened, which is id order.
    let all = s.0.directory.customers_of(b);
    let start = all.partition_point(|c| c.get() <= after);
    let page: Vec<AccountId> = all[start..].iter().take(limit + 1).copied().collect();
    let more = page.len() > limit;
    let items: Vec<CustomerView> = page.iter().take(limit).map(|&c| view(&s, c, b)).collect();
    let next = if more {
        items.last().map(|v| v.id.clone())
    } else {
        None
    };
    Ok(Json(CustomerPage { items, next }))
}

/// `GET /v1/accounts/{account_id}`: one of the broker's customer accounts.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}",
    tag = "brokers",
    security(("bearer" = [])),
    params(("account_id" = wire::AccountId, Path, description = "The customer's account.")),
    responses(
        (status = 200, description = "The customer account.", body = CustomerView),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "NOT_A_BROKER; INSUFFICIENT_SCOPE.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_ACCOUNT: none, or another broker's.", body = ErrorBody),
        (status = 422, description = "INVALID_ACCOUNT_ID.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn get(
    axum::extract::State(s): State,
    Can(who): CanRead,
    Path(id): Path<String>,
) -> Result<Json<CustomerView>, ApiError> {
    let b = broker(&who)?;
    let c = customer(&s, &who, &id)?;
    Ok(Json(view(&s, c, b)))
}

/// The broker's customer `id` names (`404` for any other account, the broker's own too).
fn customer(
    s: &crate::state::AppState,
    who: &crate::auth::Principal,
    id: &str,
) -> Result<AccountId, ApiError> {
    let c = who.acting_for(Some(id), &s.0.directory)?;
    if Some(c) == who.account {
        return Err(ApiError::not_found("UNKNOWN_ACCOUNT", "no such account"));
    }
    Ok(c)
}

/// `POST /v1/accounts/{account_id}/login`: the broker gives its customer a login of its own,
/// with which the customer reads and trades that account only.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/login",
    tag = "brokers",
    security(("bearer" = [])),
    params(("account_id" = wire::AccountId, Path, description = "The customer's account.")),
    request_body = Credentials,
    responses(
        (status = 201, description = "The login, once durable.", body = Registered),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "NOT_A_BROKER; INSUFFICIENT_SCOPE.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_ACCOUNT: none, or another broker's.", body = ErrorBody),
        (status = 409, description = "USERNAME_TAKEN, ACCOUNT_HAS_LOGIN.", body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_ACCOUNT_ID, INVALID_USERNAME, INVALID_PASSWORD.",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn login(
    axum::extract::State(s): State,
    Can(who): CanTrade,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<impl IntoResponse, ApiError> {
    let b = broker(&who)?;
    let account = customer(&s, &who, &id)?;
    let account = new_user(&s, &body, |username, password_hash| {
        Command::RegisterCustomerLogin {
            broker: b,
            account,
            username,
            password_hash,
        }
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(registered(body.username, account)),
    ))
}
