//! Notification preferences (channels per kind of notice, and the quiet rules) and webhooks:
//! register one (its signing secret shown once), list, delete, and see and replay its
//! deliveries (dead letters included).

use std::collections::BTreeMap;

use axum::Json;
use axum::http::StatusCode;
use bourse_core::profile::{Channel, ChannelSet, KindSet, NoticeKind, Prefs};
use bourse_core::{AccountId, Command, Event, RejectReason};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody, first_reject};
use crate::extract::{CanRead, JsonBody, Path, Query, SessionAuth};
use crate::people::account_of;
use crate::state::State;
use crate::wire;

/// Channels per kind of notice: kinds `price_alert`, `order_filled`,
/// `order_partially_filled`, `order_canceled`, `order_rejected`, `order_expired`, `deposit`,
/// `withdrawal`, `log_in`, `security_change`; channels `in_app`, `email`, `sms`, `webhook`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"channels": {"order_filled": ["in_app", "email", "webhook"]},
                          "batch_partial_fills": true}))]
pub(crate) struct PrefsView {
    /// On `PUT`, the kinds named are replaced and the others kept.
    #[schema(value_type = Object)]
    channels: BTreeMap<String, Vec<String>>,
    /// Partial fills of one order close together go out as one notice (email, SMS).
    batch_partial_fills: Option<bool>,
}

pub(crate) fn view(p: &Prefs) -> PrefsView {
    PrefsView {
        channels: NoticeKind::ALL
            .into_iter()
            .map(|k| {
                (
                    k.name().to_owned(),
                    p.of(k).channels().map(|c| c.name().to_owned()).collect(),
                )
            })
            .collect(),
        batch_partial_fills: Some(p.batch_partial_fills),
    }
}

/// `GET /v1/notification-preferences`.
#[utoipa::path(
    get,
    path = "/v1/notification-preferences",
    tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's preferences.", body = PrefsView),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE, FORBIDDEN.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody),
    )
)]
pub(crate) async fn get_prefs(
    axum::extract::State(s): State,
    crate::extract::Can(who): CanRead,
) -> Result<Json<PrefsView>, ApiError> {
    let account = account_of(&who)?;
    let p = s.0.people.profiles.get(account).unwrap_or_default();
    Ok(Json(view(&p.prefs)))
}

/// `PUT /v1/notification-preferences`: changes the channels of the kinds named.
#[utoipa::path(
    put,
    path = "/v1/notification-preferences",
    tag = "notifications",
    security(("bearer" = [])),
    request_body = PrefsView,
    responses(
        (status = 200, description = "The preferences now, once durable.", body = PrefsView),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "SESSION_REQUIRED.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD: an unknown kind or channel.",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn put_prefs(
    axum::extract::State(s): State,
    SessionAuth(who): SessionAuth,
    JsonBody(body): JsonBody<PrefsView>,
) -> Result<Json<PrefsView>, ApiError> {
    let account = account_of(&who)?;
    let mut prefs =
        s.0.people
            .profiles
            .get(account)
            .map(|p| p.prefs.clone())
            .unwrap_or_default();
    for (kind, channels) in &body.channels {
        let k = NoticeKind::parse(kind).ok_or_else(|| {
            ApiError::unprocessable("INVALID_FIELD", format!("unknown notice kind {kind:?}"))
        })?;
        let mut set = ChannelSet::default();
        for c in channels {
            let c = Channel::parse(c).ok_or_else(|| {
                ApiError::unprocessable("INVALID_FIELD", format!("unknown channel {c:?}"))
            })?;
            set = set.with(c);
        }
        prefs.channels[k as usize] = set;
    }
    if let Some(b) = body.batch_partial_fills {
        prefs.batch_partial_fills = b;
    }
    let reply =
        s.0.gateway
            .execute(Command::SetNotificationPrefs {
                account,
                prefs: prefs.clone(),
            })
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    Ok(Json(view(&prefs)))
}

/// A webhook to register.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://example.com/bourse", "events": ["order_filled"]}))]
pub(crate) struct NewWebhook {
    /// `https://` to a public address (loopback, by `http://` too, and private networks only
    /// where the server allows them).
    #[schema(max_length = 2048)]
    url: String,
    /// Kinds of notice to send; `["*"]` for all.
    events: Vec<String>,
}

/// A webhook.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookView {
    #[schema(pattern = "^[0-9]+$")]
    id: String,
    url: String,
    events: Vec<&'static str>,
    #[schema(value_type = wire::Timestamp)]
    created_at: String,
    /// Shown only when created: the key of each delivery's `Bourse-Signature`
    /// (`v1=` hex HMAC-SHA256 of `"<Bourse-Timestamp>.<body>"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

pub(crate) fn hook_view(w: &bourse_core::profile::Webhook, secret: Option<String>) -> WebhookView {
    WebhookView {
        id: w.id.to_string(),
        url: w.url.clone(),
        events: w.events.kinds().map(NoticeKind::name).collect(),
        created_at: w.created_at.to_rfc3339(),
        secret,
    }
}

/// `POST /v1/webhooks`: registers a webhook; the signing secret is shown once.
#[utoipa::path(
    post,
    path = "/v1/webhooks",
    tag = "notifications",
    security(("bearer" = [])),
    request_body = NewWebhook,
    responses(
        (status = 201, description = "Registered, once durable.", body = WebhookView),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "SESSION_REQUIRED.", body = ErrorBody),
        (status = 422, description = "INVALID_WEBHOOK, TOO_MANY_WEBHOOKS.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn create_webhook(
    axum::extract::State(s): State,
    SessionAuth(who): SessionAuth,
    JsonBody(body): JsonBody<NewWebhook>,
) -> Result<(StatusCode, Json<WebhookView>), ApiError> {
    let account = account_of(&who)?;
    let invalid = |why: String| ApiError::unprocessable(RejectReason::InvalidWebhook.code(), why);
    s.0.people
        .notifications
        .check_url(&body.url)
        .map_err(|why| invalid(why.to_owned()))?;
    let mut events = KindSet::default();
    for e in &body.events {
        if e == "*" {
            events = KindSet::ALL;
        } else {
            events = events
                .with(NoticeKind::parse(e).ok_or_else(|| invalid(format!("unknown event {e:?}")))?);
        }
    }
    if events.0 == 0 {
        return Err(invalid("name at least one event".into()));
    }
    let (hex, _) = crate::auth::new_secret()?;
    let secret = format!("whsec_{hex}");
    let reply =
        s.0.gateway
            .execute(Command::CreateWebhook {
                account,
                url: body.url.clone(),
                events,
                sealed_secret: s.0.people.vault.seal(secret.as_bytes()),
            })
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    // The engine numbers webhooks; the profile released with the command has it.
    let changed = reply
        .events
        .iter()
        .any(|e| matches!(e, Event::ProfileChanged { .. }));
    let hook =
        s.0.people
            .profiles
            .get(account)
            .and_then(|p| p.webhooks.iter().max_by_key(|w| w.id).cloned())
            .filter(|_| changed)
            .ok_or_else(|| ApiError::rejected(RejectReason::UnknownWebhook))?;
    Ok((StatusCode::CREATED, Json(hook_view(&hook, Some(secret)))))
}

/// The caller's webhooks.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookList {
    webhooks: Vec<WebhookView>,
}

/// `GET /v1/webhooks`.
#[utoipa::path(
    get,
    path = "/v1/webhooks",
    tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's webhooks (no secrets).", body = WebhookList),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE, FORBIDDEN.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody),
    )
)]
pub(crate) async fn list_webhooks(
    axum::extract::State(s): State,
    crate::extract::Can(who): CanRead,
) -> Result<Json<WebhookList>, ApiError> {
    let account = account_of(&who)?;
    let p = s.0.people.profiles.get(account).unwrap_or_default();
    Ok(Json(WebhookList {
        webhooks: p.webhooks.iter().map(|w| hook_view(w, None)).collect(),
    }))
}

fn webhook_id(s: &crate::state::AppState, account: AccountId, id: &str) -> Result<u64, ApiError> {
    let not_found = || ApiError::rejected(RejectReason::UnknownWebhook);
    let id: u64 = id.parse().map_err(|_| not_found())?;
    s.0.people
        .profiles
        .get(account)
        .filter(|p| p.webhooks.iter().any(|w| w.id == id))
        .map(|_| id)
        .ok_or_else(not_found)
}

/// `DELETE /v1/webhooks/{id}`.
#[utoipa::path(
    delete,
    path = "/v1/webhooks/{id}",
    tag = "notifications",
    security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9]+$", description = "The webhook's id.")),
    responses(
        (status = 204, description = "Deleted, once durable: nothing more is sent to it."),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "SESSION_REQUIRED.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_WEBHOOK (none such, or another account's).",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn delete_webhook(
    axum::extract::State(s): State,
    SessionAuth(who): SessionAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let account = account_of(&who)?;
    let webhook_id = webhook_id(&s, account, &id)?;
    let reply =
        s.0.gateway
            .execute(Command::DeleteWebhook {
                account,
                webhook_id,
            })
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Which deliveries to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeliveryQuery {
    /// `pending`, `delivered`, `dead` or `canceled`.
    status: Option<String>,
    /// Only deliveries with a smaller id (the next page).
    before: Option<i64>,
    /// 1-500 (default 100).
    limit: Option<u32>,
}

/// One delivery of a notice to a webhook.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryList {
    /// Newest first: `id`, `key` (the idempotency key, also the body's `id`), `kind`,
    /// `status`, `attempts`, `last_error`, `created_at`, `next_attempt_at`, `delivered_at`.
    #[schema(value_type = Vec<Object>)]
    deliveries: Vec<serde_json::Value>,
}

fn unavailable(e: String) -> ApiError {
    tracing::warn!(error = %e, "delivery log");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "NOTIFICATIONS_UNAVAILABLE",
        "the delivery log cannot be read now",
    )
}

/// `GET /v1/webhooks/{id}/deliveries`: what was sent to the webhook, and what is waiting or
/// dead.
#[utoipa::path(
    get,
    path = "/v1/webhooks/{id}/deliveries",
    tag = "notifications",
    security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9]+$", description = "The webhook's id."),
           DeliveryQuery),
    responses(
        (status = 200, description = "Newest first.", body = DeliveryList),
        (status = 400, description = "MALFORMED_QUERY.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE, FORBIDDEN.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_WEBHOOK.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody),
        (status = 503, description = "NOTIFICATIONS_UNAVAILABLE.", body = ErrorBody),
    )
)]
pub(crate) async fn deliveries(
    axum::extract::State(s): State,
    crate::extract::Can(who): CanRead,
    Path(id): Path<String>,
    Query(q): Query<DeliveryQuery>,
) -> Result<Json<DeliveryList>, ApiError> {
    let account = account_of(&who)?;
    let webhook = webhook_id(&s, account, &id)?;
    if let Some(st) = q.status.as_deref()
        && !matches!(st, "pending" | "delivered" | "dead" | "canceled")
    {
        return Err(ApiError::unprocessable(
            "INVALID_FIELD",
            "status is pending, delivered, dead or canceled",
        ));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::unprocessable("INVALID_FIELD", "limit is 1-500"));
    }
    let deliveries =
        s.0.people
            .notifications
            .deliveries(account, Some(webhook), q.status, q.before, limit)
            .await
            .map_err(unavailable)?;
    Ok(Json(DeliveryList { deliveries }))
}

/// How many deliveries were put back.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Replayed {
    replayed: u64,
}

/// `POST /v1/webhooks/{id}/replay`: sends every dead delivery of the webhook again.
#[utoipa::path(
    post,
    path = "/v1/webhooks/{id}/replay",
    tag = "notifications",
    security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9]+$", description = "The webhook's id.")),
    responses(
        (status = 202, description = "Back in the queue.", body = Replayed),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "SESSION_REQUIRED.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_WEBHOOK.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody),
        (status = 503, description = "NOTIFICATIONS_UNAVAILABLE.", body = ErrorBody),
    )
)]
pub(crate) async fn replay_dead(
    axum::extract::State(s): State,
    SessionAuth(who): SessionAuth,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Replayed>), ApiError> {
    let account = account_of(&who)?;
    let webhook = webhook_id(&s, account, &id)?;
    let n =
        s.0.people
            .notifications
            .replay_dead(account, webhook)
            .await
            .map_err(unavailable)?;
    Ok((StatusCode::ACCEPTED, Json(Replayed { replayed: n })))
}

/// `POST /v1/webhooks/{id}/deliveries/{delivery_id}/replay`: sends one dead delivery again.
#[utoipa::path(
    post,
    path = "/v1/webhooks/{id}/deliveries/{delivery_id}/replay",
    tag = "notifications",
    security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9]+$", description = "The webhook's id."),
           ("delivery_id" = String, Path, pattern = "^[0-9]+$", description = "The delivery.")),
    responses(
        (status = 202, description = "Back in the queue.", body = Replayed),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "SESSION_REQUIRED.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_WEBHOOK, UNKNOWN_DELIVERY (none such, not dead, \
         or another's).", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody),
        (status = 503, description = "NOTIFICATIONS_UNAVAILABLE.", body = ErrorBody),
    )
)]
pub(crate) async fn replay_one(
    axum::extract::State(s): State,
    SessionAuth(who): SessionAuth,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Replayed>), ApiError> {
    let account = account_of(&who)?;
    webhook_id(&s, account, &id)?;
    let unknown = || ApiError::not_found("UNKNOWN_DELIVERY", "no such dead delivery");
    let delivery: i64 = delivery.parse().map_err(|_| unknown())?;
    let ok =
        s.0.people
            .notifications
            .replay(account, delivery)
            .await
            .map_err(unavailable)?;
    if !ok {
        return Err(unknown());
    }
    Ok((StatusCode::ACCEPTED, Json(Replayed { replayed: 1 })))
}
