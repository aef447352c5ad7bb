//! Price alerts over REST: the caller creates, lists and deletes their own; the list is read
//! from the [`AlertBook`].

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use bourse_core::{AccountId, AlertCondition, Command, Event, Symbol};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::alertbook::active;
use crate::error::{ApiError, ErrorBody, first_reject};
use crate::extract::{Can, CanRead, CanTrade, JsonBody, Path};
use crate::orders::{DecimalText, parse_price};
use crate::state::State;
use crate::wire;

pub use crate::alertbook::{AlertBook, AlertView};

/// The caller's alerts.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AlertList)]
pub(crate) struct AlertList {
    /// Live alerts oldest first, then the last fired ones newest first.
    items: Vec<AlertView>,
}

/// A new price alert.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"symbol": "AAPL", "condition": "above", "price": "195.00"}))]
pub(crate) struct NewAlert {
    /// A listed symbol.
    #[schema(value_type = wire::Symbol)]
    symbol: String,
    /// `above` or `below`.
    #[schema(value_type = wire::AlertCondition)]
    condition: String,
    #[schema(value_type = wire::PriceInput)]
    price: DecimalText,
}

fn own(who: &crate::auth::Principal) -> Result<AccountId, ApiError> {
    who.account
        .ok_or_else(|| ApiError::forbidden("alerts belong to a user's account"))
}

/// `POST /v1/alerts`.
#[utoipa::path(
    post,
    path = "/v1/alerts",
    operation_id = "create_alert",
    tag = "alerts",
    security(("bearer" = [])),
    request_body = NewAlert,
    responses(
        (status = 201, description = "Created, once durable.", body = AlertView, links(
            ("DeleteAlert" = (operation_id = "delete_alert",
                              parameters(("id" = "$response.body#/id"))))
        )),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the operator token has no account. INSUFFICIENT_SCOPE: an API key without the `trade` scope.",
         body = ErrorBody),
        (status = 404, description = "UNKNOWN_ACCOUNT.", body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD, UNKNOWN_SYMBOL, INVALID_CONDITION, \
         INVALID_PRICE, or the engine's rejection (TOO_MANY_ALERTS, …).", body = ErrorBody),
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
    JsonBody(body): JsonBody<NewAlert>,
) -> Result<impl IntoResponse, ApiError> {
    let account = own(&who)?;
    let symbol = body
        .symbol
        .parse::<Symbol>()
        .ok()
        .filter(|sym| s.0.listings.get(*sym).is_some())
        .ok_or_else(|| ApiError::unprocessable("UNKNOWN_SYMBOL", "no such listed symbol"))?;
    let condition = match body.condition.as_str() {
        "above" => AlertCondition::Above,
        "below" => AlertCondition::Below,
        _ => {
            return Err(ApiError::unprocessable(
                "INVALID_CONDITION",
                "condition is \"above\" or \"below\"",
            ));
        }
    };
    let price = parse_price("price", &body.price)?;
    let reply =
        s.0.gateway
            .execute(Command::CreateAlert {
                account,
                symbol,
                condition,
                price,
            })
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    let id = reply
        .events
        .iter()
        .find_map(|e| match e {
            Event::AlertCreated { alert_id, .. } => Some(*alert_id),
            _ => None,
        })
        .ok_or_else(|| ApiError::unprocessable("UNKNOWN_SYMBOL", "no such listed symbol"))?;
    // The publisher has released the event (and the book has it) before this answer.
    Ok((
        StatusCode::CREATED,
        Json(active(id, symbol, condition, price)),
    ))
}

/// `GET /v1/alerts`.
#[utoipa::path(
    get,
    path = "/v1/alerts",
    operation_id = "list_alerts",
    tag = "alerts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's alerts.", body = AlertList),
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
) -> Result<Json<AlertList>, ApiError> {
    let account = own(&who)?;
    Ok(Json(AlertList {
        items: s.0.alerts.of(account),
    }))
}

/// `DELETE /v1/alerts/{id}`.
#[utoipa::path(
    delete,
    path = "/v1/alerts/{id}",
    operation_id = "delete_alert",
    tag = "alerts",
    security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9]+$", description = "The alert's id.")),
    responses(
        (status = 204, description = "Deleted, once durable."),
        (status = 400, description = "MALFORMED_PATH.",
         body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the operator token has no account. INSUFFICIENT_SCOPE: an API key without the `trade` scope.",
         body = ErrorBody),
        (status = 404, description = "UNKNOWN_ALERT (none such, fired, or another \
         account's).", body = ErrorBody),
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
    let not_found = || ApiError::not_found("UNKNOWN_ALERT", "no such alert");
    let alert_id: u64 = id.parse().map_err(|_| not_found())?;
    let reply =
        s.0.gateway
            .execute(Command::DeleteAlert { account, alert_id })
            .await?;
    if first_reject(&reply.events).is_some() {
        return Err(not_found());
    }
    Ok(StatusCode::NO_CONTENT)
}
