//! Errors as clients see them: `{"code": "...", "message": "..."}` with the right status.
//! Codes are stable; messages are for people.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bourse_core::{Event, RejectReason};
use serde::Serialize;

use crate::gateway::GatewayError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds, for 429 and 503.
    pub retry_after: Option<u32>,
    /// The order an error is about, where it names one (a used client order id).
    pub order_id: Option<String>,
}

/// Every error answer: a stable code for programs and a message for people. The status
/// says the class; `429` and `503` carry `Retry-After` (seconds).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// Stable, `SCREAMING_SNAKE_CASE` (e.g. `INSUFFICIENT_BUYING_POWER`).
    #[schema(pattern = "^[A-Z][A-Z0-9_]*$", example = "UNKNOWN_ORDER")]
    pub code: &'static str,
    /// For people; may change.
    #[schema(example = "no such order")]
    pub message: String,
    /// The order the error names, when it names one: with `DUPLICATE_CLIENT_ORDER_ID`,
    /// the order that holds the client order id.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::wire::OrderId>)]
    pub order_id: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            order_id: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// Something that cannot happen did: a 500 with the reason.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    /// A business rejection from the engine, with its stable code.
    #[must_use]
    pub fn rejected(reason: RejectReason) -> Self {
        let status = match reason {
            RejectReason::UnknownOrder
            | RejectReason::UnknownAccount
            | RejectReason::UnknownWatchlist
            | RejectReason::UnknownBank
            | RejectReason::UnknownTransfer => StatusCode::NOT_FOUND,
            RejectReason::DuplicateClientOrderId
            | RejectReason::UsernameTaken
            | RejectReason::WatchlistNameTaken
            | RejectReason::AccountHasLogin
            | RejectReason::BankAlreadyLinked => StatusCode::CONFLICT,
            RejectReason::NotABroker => StatusCode::FORBIDDEN,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        Self::new(status, reason.code(), reason.message())
    }
}

impl From<GatewayError> for ApiError {
    fn from(e: GatewayError) -> Self {
        match e {
            GatewayError::Overloaded => Self {
                retry_after: Some(1),
                ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "OVERLOADED", e.to_string())
            },
            GatewayError::Closed => Self {
                retry_after: Some(5),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "SHUTTING_DOWN",
                    e.to_string(),
                )
            },
            // Queued, so it may have happened: never a refusal, which a client would take
            // for "not done" and send again.
            GatewayError::Timeout(_) | GatewayError::Stopped => Self::new(
                StatusCode::GATEWAY_TIMEOUT,
                "OUTCOME_UNKNOWN",
                e.to_string(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            axum::Json(ErrorBody {
                code: self.code,
                message: self.message,
                order_id: self.order_id,
            }),
        )
            .into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}

/// The engine's rejection among a command's events, as the client sees it.
pub(crate) fn first_reject(events: &[Event]) -> Option<ApiError> {
    events.iter().find_map(|e| match e {
        Event::Rejected { reason, .. } => Some(ApiError::rejected(*reason)),
        _ => None,
    })
}
