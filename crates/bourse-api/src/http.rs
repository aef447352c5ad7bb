//! The HTTP routes: health, users, sessions and API keys, order entry and cancel, and the
//! operator's actions. Every route that changes state goes through [`Gateway::execute`], so
//! its answer is durable; every route that touches an account checks it is the caller's.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use bourse_core::{
    AccountId, Cash, Command, Event, OrderId, OrderRequest, Qty, RejectReason, Role, Scopes, Symbol,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::alerts::{self, AlertBook};
use crate::auth::{Directory, Principal, now};
use crate::error::{ApiError, ErrorBody};
use crate::gateway::{Gateway, Reply};
use crate::openapi::wire;
use crate::orders::{Listings, NewOrder, OrderView, parse_account, parse_order_id, report_submit};
use crate::readmodel::History;
use crate::{queries, trading, users, ws};

/// What the HTTP side asks of the rest of the server.
pub trait Operations: Send + Sync + 'static {
    /// Take a snapshot soon (it is written off the engine thread once durable).
    fn request_snapshot(&self);
    /// The exchange's health as JSON: at least `status` ("ok" / "degraded").
    fn health(&self) -> Value;
    /// The server's metrics in the Prometheus text exposition format 0.0.4 (`GET /metrics`).
    /// The default has none.
    fn metrics(&self) -> String {
        String::new()
    }
}

/// HTTP settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest request body accepted (bytes).
    pub body_limit: usize,
    /// How long a session token lives.
    pub session_ttl: std::time::Duration,
    /// Requests per second (and burst) per credential, and per IP without credentials.
    pub rate_per_credential: crate::ratelimit::Rate,
    pub rate_per_ip: crate::ratelimit::Rate,
    /// WebSocket timings and inbound rate.
    pub ws: crate::ws::WsConfig,
}

pub(crate) struct Inner {
    pub(crate) gateway: Arc<Gateway>,
    pub(crate) ops: Arc<dyn Operations>,
    pub(crate) listings: Listings,
    pub(crate) directory: Arc<Directory>,
    pub(crate) passwords: Arc<crate::auth::Passwords>,
    pub(crate) session_ttl: std::time::Duration,
    /// WebSocket timings and inbound rate.
    pub(crate) ws: crate::ws::WsConfig,
    /// Market data and every WebSocket connection's outbox.
    pub(crate) feed: Arc<bourse_feed::Feed>,
    pub(crate) alerts: Arc<AlertBook>,
    pub(crate) history: History,
}

/// Shared by every route.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// What the routes serve from.
pub struct Services {
    /// Order entry: commands in, durable outcomes back.
    pub gateway: Arc<Gateway>,
    /// Health and the operator's snapshot.
    pub ops: Arc<dyn Operations>,
    pub listings: Listings,
    pub directory: Arc<Directory>,
    /// Password hashing and checks (bounded threads and queue).
    pub passwords: Arc<crate::auth::Passwords>,
    pub alert_book: Arc<AlertBook>,
    pub history: History,
    /// Market data and the WebSocket outboxes.
    pub feed: Arc<bourse_feed::Feed>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

/// The router with every route.
pub fn router(services: Services, cfg: &HttpConfig) -> Router {
    let Services {
        gateway,
        ops,
        listings,
        directory,
        passwords,
        alert_book,
        history,
        feed,
    } = services;
    let limiter = Arc::new(crate::ratelimit::Limiter::new(
        cfg.rate_per_credential,
        cfg.rate_per_ip,
        directory.clone(),
    ));
    let state = AppState(Arc::new(Inner {
        gateway,
        ops,
        listings,
        directory,
        passwords,
        session_ttl: cfg.session_ttl,
        ws: cfg.ws,
        feed,
        alerts: alert_book,
        history,
    }));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(crate::openapi::openapi_json))
        .route("/v1/users", post(users::register))
        .route("/v1/sessions", post(users::log_in).delete(users::log_out))
        .route("/v1/api-keys", post(users::create_key))
        .route("/v1/api-keys/{id}", delete(users::revoke_key))
        .route(
            "/v1/orders",
            post(submit_order)
                .get(queries::list_orders)
                .delete(trading::mass_cancel),
        )
        .route(
            "/v1/orders/{id}",
            delete(cancel_order)
                .patch(trading::replace_order)
                .get(queries::get_order),
        )
        .route(
            "/v1/orders:by_client_order_id",
            get(queries::order_by_client_id),
        )
        .route("/v1/account", get(queries::account))
        .route("/v1/positions", get(queries::positions))
        .route("/v1/positions/{symbol}", get(queries::position))
        .route("/v1/portfolio", get(queries::portfolio))
        .route("/v1/activities", get(queries::activities))
        .route("/v1/transfers", post(trading::transfer))
        .route("/v1/alerts", post(alerts::create).get(alerts::list))
        .route("/v1/alerts/{id}", delete(alerts::delete))
        .route("/v1/ws", get(ws::upgrade))
        .route("/v1/stocks", get(trading::stocks))
        .route("/v1/stocks/{symbol}", get(trading::stock))
        .route("/v1/stocks/{symbol}/book", get(crate::market::book))
        .route("/v1/stocks/{symbol}/trades", get(crate::market::trades))
        .route("/v1/stocks/{symbol}/candles", get(crate::market::candles))
        .route("/v1/admin/symbols/{symbol}/{action}", post(trading::halt))
        .route("/v1/admin/end-of-day", post(trading::end_of_day))
        .route("/v1/admin/accounts", post(open_account))
        .route("/v1/admin/accounts/{id}/deposits", post(deposit))
        .route("/v1/admin/accounts/{id}/shares", post(deposit_shares))
        .route("/v1/admin/snapshot", post(snapshot))
        .fallback(|| async { ApiError::not_found("NOT_FOUND", "no such route") })
        // Keeps the Allow header axum sets; only the body is ours.
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "this route does not take that method (see Allow)",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            limiter,
            crate::ratelimit::limit,
        ))
        .layer(DefaultBodyLimit::max(cfg.body_limit))
        .with_state(state)
}

/// A JSON body whose every failure is an [`ApiError`] with a stable code.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if let Some(charset) = declared_charset(req.headers())
            && !charset.eq_ignore_ascii_case("utf-8")
            && !charset.eq_ignore_ascii_case("utf8")
        {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_CHARSET",
                "JSON bodies are UTF-8: send no charset or charset=utf-8",
            ));
        }
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(r) => Err(match r {
                JsonRejection::JsonSyntaxError(e) => {
                    ApiError::bad_request("MALFORMED_JSON", e.body_text())
                }
                JsonRejection::JsonDataError(e) => {
                    ApiError::unprocessable("INVALID_FIELD", e.body_text())
                }
                JsonRejection::MissingJsonContentType(_) => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "UNSUPPORTED_MEDIA_TYPE",
                    "send the body as application/json",
                ),
                JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "BODY_TOO_LARGE",
                        "the request body is too large",
                    )
                }
                other => ApiError::bad_request("INVALID_BODY", other.body_text()),
            }),
        }
    }
}

/// The `charset` parameter of the request's `Content-Type`, if it names one.
fn declared_charset(headers: &axum::http::HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    ct.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Query parameters whose every failure is an [`ApiError`] (`400 MALFORMED_QUERY`), not axum's
/// plain-text answer: a malformed number, a repeated or missing parameter.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(e) => Err(ApiError::bad_request("MALFORMED_QUERY", e.body_text())),
        }
    }
}

/// Path parameters whose every failure is an [`ApiError`] (`400 MALFORMED_PATH`, e.g. a
/// segment that is not UTF-8 once percent-decoded), not axum's plain-text answer.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            // A route whose parameters do not fit its handler: our bug, not the client's.
            Err(e) if e.status().is_server_error() => Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                e.body_text(),
            )),
            Err(e) => Err(ApiError::bad_request("MALFORMED_PATH", e.body_text())),
        }
    }
}

/// The authenticated caller (a session token, an API key or the operator token).
#[derive(Debug, Clone, Copy)]
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthorized("send Authorization: Bearer <token>"))?;
        state
            .0
            .directory
            .authenticate(token.trim(), now())
            .map(Auth)
            .ok_or_else(|| ApiError::unauthorized("unknown, expired or revoked credentials"))
    }
}

/// An authenticated caller whose credential holds the scopes `S` (bits of [`Scopes`]):
/// `403 INSUFFICIENT_SCOPE` for an API key made without them. Sessions and the operator
/// token hold every scope.
#[derive(Debug, Clone, Copy)]
pub struct Can<const S: u8>(pub Principal);

/// Reads the caller's account.
pub type CanRead = Can<{ Scopes::READ.bits() }>;
/// Places, replaces and cancels orders; manages alerts.
pub type CanTrade = Can<{ Scopes::TRADE.bits() }>;
/// Moves cash.
pub type CanTransfer = Can<{ Scopes::TRANSFER.bits() }>;

impl Principal {
    /// `403 INSUFFICIENT_SCOPE` unless the credential holds every scope of `need`.
    pub fn require(&self, need: Scopes) -> Result<(), ApiError> {
        if self.scopes.contains(need) {
            return Ok(());
        }
        let names: Vec<&str> = need.names().collect();
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "INSUFFICIENT_SCOPE",
            format!(
                "this API key lacks the {} scope; make a key with it (POST /v1/api-keys, \
                 logged in with a password)",
                names.join(" and ")
            ),
        ))
    }
}

impl<const S: u8> FromRequestParts<AppState> for Can<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Auth(p) = Auth::from_request_parts(parts, state).await?;
        p.require(Scopes::from_bits(S))?;
        Ok(Can(p))
    }
}

/// A caller who logged in with a password (a session token): key management needs one, so
/// that a leaked key cannot mint or revoke keys. `403 SESSION_REQUIRED` otherwise.
#[derive(Debug, Clone, Copy)]
pub struct SessionAuth(pub Principal);

impl FromRequestParts<AppState> for SessionAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Auth(p) = Auth::from_request_parts(parts, state).await?;
        match p.credential {
            crate::auth::Credential::Session(_) => Ok(SessionAuth(p)),
            _ => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "SESSION_REQUIRED",
                "API keys are managed from a session: log in with your password \
                 (POST /v1/sessions) and use its token",
            )),
        }
    }
}

/// The caller has the operator role.
#[derive(Debug, Clone, Copy)]
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Auth(p) = Auth::from_request_parts(parts, state).await?;
        if p.role == Role::Operator {
            Ok(Operator)
        } else {
            Err(ApiError::forbidden("this route needs the operator role"))
        }
    }
}

impl Principal {
    /// The account a request acts for: the caller's own, or — for the operator only —
    /// the one it names.
    pub fn acting_for(&self, named: Option<&str>) -> Result<AccountId, ApiError> {
        match (self.account, named) {
            (Some(own), None) => Ok(own),
            (Some(own), Some(n)) => {
                let a = parse_account(n)?;
                // Naming another account is a 404, as if it did not exist.
                if a == own || self.role == Role::Operator {
                    Ok(a)
                } else {
                    Err(ApiError::not_found("UNKNOWN_ACCOUNT", "no such account"))
                }
            }
            (None, Some(n)) => parse_account(n),
            (None, None) => Err(ApiError::unprocessable(
                "MISSING_ACCOUNT_ID",
                "the operator names the account it acts for (account_id)",
            )),
        }
    }
}

/// `GET /healthz`: the exchange's health.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    responses(
        (status = 200, description = "Healthy (`status` is `ok`).", body = crate::openapi::Health),
        (status = 429, description = "RATE_LIMITED (per client IP).", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "Degraded (`status` is `degraded`): the engine stopped or \
         the journal is failing.", body = crate::openapi::Health),
    )
)]
pub(crate) async fn healthz(
    axum::extract::State(s): axum::extract::State<AppState>,
) -> impl IntoResponse {
    let h = s.0.ops.health();
    let ok = h.get("status").and_then(Value::as_str) == Some("ok");
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(h))
}

/// The content type of the Prometheus text exposition format 0.0.4.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`: the server's metrics for Prometheus.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "meta",
    responses(
        (status = 200, description = "The server's metrics in the Prometheus text exposition \
         format 0.0.4 (`text/plain; version=0.0.4`): engine queue depth, commands, apply \
         times; journal group commits, batch sizes and append times; durable and release \
         lag; WebSocket connections and market-data traffic; rejects by reason.",
         content_type = "text/plain", body = String),
        (status = 429, description = "RATE_LIMITED (per client IP).", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn metrics(
    axum::extract::State(s): axum::extract::State<AppState>,
) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
        s.0.ops.metrics(),
    )
}

pub(crate) type State = axum::extract::State<AppState>;

pub(crate) fn first_reject(events: &[Event]) -> Option<ApiError> {
    events.iter().find_map(|e| match e {
        Event::Rejected { reason, .. } => Some(ApiError::rejected(*reason)),
        _ => None,
    })
}

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
    let req = submit_request(s, who, &body)?;
    let reply = s.0.gateway.execute(Command::SubmitOrder(req)).await?;
    match submitted(&reply, &req)? {
        Submitted::Report(view) => Ok(view),
        Submitted::Resent(original) => resent(s, &req, original).await,
    }
}

/// A submit checked before it goes near the engine.
pub(crate) fn submit_request(
    s: &AppState,
    who: &Principal,
    body: &NewOrder,
) -> Result<OrderRequest, ApiError> {
    let account = who.acting_for(body.account_id.as_deref())?;
    body.validate(account, &s.0.listings)
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
    /// Operator only (a trader may name only their own account).
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
    let (cmd, order_id) = cancel_command(who, id, account_id)?;
    let reply = s.0.gateway.execute(cmd).await?;
    canceled(order_id, &reply)
}

/// A cancel checked before it goes near the engine.
pub(crate) fn cancel_command(
    who: &Principal,
    id: &str,
    account_id: Option<&str>,
) -> Result<(Command, OrderId), ApiError> {
    let order_id = parse_order_id(id)?;
    let account = who.acting_for(account_id)?;
    Ok((Command::CancelOrder { account, order_id }, order_id))
}

/// What a cancel's outcome says.
pub(crate) fn canceled(order_id: OrderId, reply: &Reply) -> Result<CancelView, ApiError> {
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    let canceled = reply.events.iter().find_map(|e| match e {
        Event::OrderCanceled { qty, reason, .. } => Some((qty.get(), *reason)),
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
    if body.qty == 0 {
        return Err(ApiError::unprocessable(
            "INVALID_QUANTITY",
            "qty must be positive",
        ));
    }
    let qty = Qty::new(body.qty);
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
