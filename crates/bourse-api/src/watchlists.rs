//! Watchlists over REST, shaped like Alpaca's: the caller lists, creates, reads, replaces
//! and deletes their own named lists of symbols and adds or removes one symbol at a time.
//! Changes are engine commands (journaled like any other); reads come from the
//! [`WatchlistBook`], which holds the released result before the change is answered.

use axum::Json;
use axum::http::StatusCode;
use bourse_core::command::MAX_WATCHLIST_SYMBOLS;
use bourse_core::{AccountId, Command, Symbol, WatchlistName};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody, first_reject};
use crate::extract::{Can, CanRead, CanTrade, JsonBody, Path};
use crate::state::{AppState, State};

pub use crate::watchlistbook::{WatchlistBook, WatchlistView};

/// A new watchlist.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Tech", "symbols": ["AAPL", "MSFT"]}))]
pub(crate) struct NewWatchlist {
    /// 1–48 bytes once trimmed, no control characters; unique among the caller's lists.
    #[schema(min_length = 1, max_length = 48)]
    name: String,
    /// Listed symbols; a repeated one counts once. Empty if left out.
    #[serde(default)]
    #[schema(max_items = 200)]
    symbols: Vec<String>,
}

/// A rename and/or a new list of symbols (in the order given); what is left out is kept.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Chips", "symbols": ["NVDA", "AMD"]}))]
pub(crate) struct WatchlistUpdate {
    #[schema(min_length = 1, max_length = 48)]
    name: Option<String>,
    #[schema(max_items = 200)]
    symbols: Option<Vec<String>>,
}

/// One symbol to append.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"symbol": "NVDA"}))]
pub(crate) struct WatchlistSymbol {
    #[schema(value_type = crate::wire::Symbol)]
    symbol: String,
}

fn own(who: &crate::auth::Principal) -> Result<AccountId, ApiError> {
    who.account
        .ok_or_else(|| ApiError::forbidden("watchlists belong to a user's account"))
}

fn unknown() -> ApiError {
    ApiError::rejected(bourse_core::RejectReason::UnknownWatchlist)
}

fn watchlist_id(text: &str) -> Result<u64, ApiError> {
    text.parse().map_err(|_| unknown())
}

fn name(text: &str) -> Result<WatchlistName, ApiError> {
    WatchlistName::new(text.trim()).map_err(|_| {
        ApiError::unprocessable(
            "INVALID_WATCHLIST_NAME",
            "a watchlist's name is 1-48 bytes without control characters",
        )
    })
}

/// Listed symbols, each once, at most [`MAX_WATCHLIST_SYMBOLS`].
fn symbols(s: &AppState, texts: &[String]) -> Result<Vec<Symbol>, ApiError> {
    let mut out: Vec<Symbol> = Vec::new();
    for t in texts {
        let sym = listed(s, t)?;
        if !out.contains(&sym) {
            out.push(sym);
        }
        if out.len() > MAX_WATCHLIST_SYMBOLS {
            return Err(ApiError::rejected(bourse_core::RejectReason::WatchlistFull));
        }
    }
    Ok(out)
}

fn listed(s: &AppState, text: &str) -> Result<Symbol, ApiError> {
    text.parse::<Symbol>()
        .ok()
        .filter(|sym| s.0.listings.get(*sym).is_some())
        .ok_or_else(|| {
            ApiError::unprocessable("UNKNOWN_SYMBOL", format!("{text:?} is not a listed symbol"))
        })
}

/// Runs a watchlist command and answers with the list as it now stands (or `None` once
/// deleted).
async fn change(
    s: &AppState,
    account: AccountId,
    cmd: Command,
    id: Option<u64>,
) -> Result<Option<WatchlistView>, ApiError> {
    let reply = s.0.gateway.execute(cmd).await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    let id = id.or_else(|| {
        reply.events.iter().find_map(|e| match e {
            bourse_core::Event::WatchlistCreated { watchlist_id, .. } => Some(*watchlist_id),
            _ => None,
        })
    });
    // The publisher has released the events (and the book has them) before this answer.
    Ok(id.and_then(|id| s.0.watchlists.get(account, id)))
}

const WATCHLIST_ERRORS: &str = "UNKNOWN_WATCHLIST (none such, deleted, or another account's).";

/// `GET /v1/watchlists`.
#[utoipa::path(
    get,
    path = "/v1/watchlists",
    operation_id = "list_watchlists",
    tag = "watchlists",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's watchlists, oldest first.", body = Vec<WatchlistView>),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the operator token has no account. INSUFFICIENT_SCOPE: an API key without the `read` scope.",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn list(
    axum::extract::State(s): State,
    Can(who): CanRead,
) -> Result<Json<Vec<WatchlistView>>, ApiError> {
    Ok(Json(s.0.watchlists.of(own(&who)?)))
}

/// `POST /v1/watchlists`.
#[utoipa::path(
    post,
    path = "/v1/watchlists",
    operation_id = "create_watchlist",
    tag = "watchlists",
    security(("bearer" = [])),
    request_body = NewWatchlist,
    responses(
        (status = 201, description = "Created, once durable.", body = WatchlistView, links(
            ("GetWatchlist" = (operation_id = "get_watchlist",
                               parameters(("id" = "$response.body#/id"))))
        )),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the operator token has no account. INSUFFICIENT_SCOPE: an API key without the `trade` scope.",
         body = ErrorBody),
        (status = 409, description = "WATCHLIST_NAME_TAKEN.", body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD, INVALID_WATCHLIST_NAME, UNKNOWN_SYMBOL, \
         WATCHLIST_FULL, TOO_MANY_WATCHLISTS.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn create(
    axum::extract::State(s): State,
    Can(who): CanTrade,
    JsonBody(body): JsonBody<NewWatchlist>,
) -> Result<(StatusCode, Json<WatchlistView>), ApiError> {
    let account = own(&who)?;
    let cmd = Command::CreateWatchlist {
        account,
        name: name(&body.name)?,
        symbols: symbols(&s, &body.symbols)?,
    };
    let w = change(&s, account, cmd, None).await?.ok_or_else(unknown)?;
    Ok((StatusCode::CREATED, Json(w)))
}

/// `GET /v1/watchlists/{id}`.
#[utoipa::path(
    get,
    path = "/v1/watchlists/{id}",
    operation_id = "get_watchlist",
    tag = "watchlists",
    security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9]+$", description = "The watchlist's id.")),
    responses(
        (status = 200, description = "The watchlist.", body = WatchlistView),
        (status = 400, description = "MALFORMED_PATH.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the operator token has no account. INSUFFICIENT_SCOPE: an API key without the `read` scope.",
         body = ErrorBody),
        (status = 404, description = WATCHLIST_ERRORS, body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn get(
    axum::extract::State(s): State,
    Can(who): CanRead,
    Path(id): Path<String>,
) -> Result<Json<WatchlistView>, ApiError> {
    let account = own(&who)?;
    s.0.watchlists
        .get(account, watchlist_id(&id)?)
        .map(Json)
        .ok_or_else(unknown)
}

/// `PUT /v1/watchlists/{id}`.
#[utoipa::path(
    put,
    path = "/v1/watchlists/{id}",
    operation_id = "update_watchlist",
    tag = "watchlists",
    security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9]+$", description = "The watchlist's id.")),
    request_body = WatchlistUpdate,
    responses(
        (status = 200, description = "The watchlist as it now stands, once durable.", body = WatchlistView),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY, MALFORMED_PATH.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the operator token has no account. INSUFFICIENT_SCOPE: an API key without the `trade` scope.",
         body = ErrorBody),
        (status = 404, description = WATCHLIST_ERRORS, body = ErrorBody),
        (status = 409, description = "WATCHLIST_NAME_TAKEN.", body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD, INVALID_WATCHLIST_NAME, UNKNOWN_SYMBOL, WATCHLIST_FULL.",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn update(
    axum::extract::State(s): State,
    Can(who): CanTrade,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<WatchlistUpdate>,
) -> Result<Json<WatchlistView>, ApiError> {
    let account = own(&who)?;
    let watchlist_id = watchlist_id(&id)?;
    let cmd = Command::UpdateWatchlist {
        account,
        watchlist_id,
        name: body.name.as_deref().map(name).transpose()?,
        symbols: body
            .symbols
            .as_deref()
            .map(|t| symbols(&s, t))
            .transpose()?,
    };
    let w = change(&s, account, cmd, Some(watchlist_id)).await?;
    w.map(Json).ok_or_else(unknown)
}

/// `POST /v1/watchlists/{id}`.
#[utoipa::path(
    post,
    path = "/v1/watchlists/{id}",
    operation_id = "add_to_watchlist",
    tag = "watchlists",
    security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9]+$", description = "The watchlist's id.")),
    request_body = WatchlistSymbol,
    responses(
        (status = 200, description = "The watchlist with the symbol at its end (where it \
         already was if it was there), once durable.", body = WatchlistView),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY, MALFORMED_PATH.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the operator token has no account. INSUFFICIENT_SCOPE: an API key without the `trade` scope.",
         body = ErrorBody),
        (status = 404, description = WATCHLIST_ERRORS, body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD, UNKNOWN_SYMBOL, WATCHLIST_FULL.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn add(
    axum::extract::State(s): State,
    Can(who): CanTrade,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<WatchlistSymbol>,
) -> Result<Json<WatchlistView>, ApiError> {
    let account = own(&who)?;
    let watchlist_id = watchlist_id(&id)?;
    let cmd = Command::AddToWatchlist {
        account,
        watchlist_id,
        symbol: listed(&s, &body.symbol)?,
    };
    let w = change(&s, account, cmd, Some(watchlist_id)).await?;
    w.map(Json).ok_or_else(unknown)
}

/// `DELETE /v1/watchlists/{id}/{symbol}`.
#[utoipa::path(
    delete,
    path = "/v1/watchlists/{id}/{symbol}",
    operation_id = "remove_from_watchlist",
    tag = "watchlists",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, pattern = "^[0-9]+$", description = "The watchlist's id."),
        ("symbol" = String, Path, description = "The symbol to take out."),
    ),
    responses(
        (status = 200, description = "The watchlist without the symbol (unchanged if it was \
         not there), once durable.", body = WatchlistView),
        (status = 400, description = "MALFORMED_PATH.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the operator token has no account. INSUFFICIENT_SCOPE: an API key without the `trade` scope.",
         body = ErrorBody),
        (status = 404, description = WATCHLIST_ERRORS, body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn remove(
    axum::extract::State(s): State,
    Can(who): CanTrade,
    Path((id, symbol)): Path<(String, String)>,
) -> Result<Json<WatchlistView>, ApiError> {
    let account = own(&who)?;
    let watchlist_id = watchlist_id(&id)?;
    let Ok(symbol) = symbol.parse::<Symbol>() else {
        // Not a symbol at all, so not in the list: the list as it is.
        return s
            .0
            .watchlists
            .get(account, watchlist_id)
            .map(Json)
            .ok_or_else(unknown);
    };
    let cmd = Command::RemoveFromWatchlist {
        account,
        watchlist_id,
        symbol,
    };
    let w = change(&s, account, cmd, Some(watchlist_id)).await?;
    w.map(Json).ok_or_else(unknown)
}

/// `DELETE /v1/watchlists/{id}`.
#[utoipa::path(
    delete,
    path = "/v1/watchlists/{id}",
    operation_id = "delete_watchlist",
    tag = "watchlists",
    security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9]+$", description = "The watchlist's id.")),
    responses(
        (status = 204, description = "Deleted, once durable."),
        (status = 400, description = "MALFORMED_PATH.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the operator token has no account. INSUFFICIENT_SCOPE: an API key without the `trade` scope.",
         body = ErrorBody),
        (status = 404, description = WATCHLIST_ERRORS, body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn delete(
    axum::extract::State(s): State,
    Can(who): CanTrade,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let account = own(&who)?;
    let watchlist_id = watchlist_id(&id)?;
    let cmd = Command::DeleteWatchlist {
        account,
        watchlist_id,
    };
    change(&s, account, cmd, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
