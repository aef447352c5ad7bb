//! The router: every route and the layers around them. The one module that knows every
//! handler; handlers know only the shared state and extractors.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};

use crate::error::ApiError;
use crate::state::{AppState, HttpConfig, Inner, Services};
use crate::{admin, alerts, market, meta, openapi, queries, trading, transfers, users, ws};

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
        .route("/healthz", get(meta::healthz))
        .route("/metrics", get(meta::metrics))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/v1/users", post(users::register))
        .route("/v1/sessions", post(users::log_in).delete(users::log_out))
        .route("/v1/api-keys", post(users::create_key))
        .route("/v1/api-keys/{id}", delete(users::revoke_key))
        .route(
            "/v1/orders",
            post(trading::submit_order)
                .get(queries::list_orders)
                .delete(trading::mass_cancel),
        )
        .route(
            "/v1/orders/{id}",
            delete(trading::cancel_order)
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
        .route("/v1/transfers", post(transfers::transfer))
        .route("/v1/alerts", post(alerts::create).get(alerts::list))
        .route("/v1/alerts/{id}", delete(alerts::delete))
        .route("/v1/ws", get(ws::upgrade))
        .route("/v1/stocks", get(market::stocks))
        .route("/v1/stocks/{symbol}", get(market::stock))
        .route("/v1/stocks/{symbol}/book", get(market::book))
        .route("/v1/stocks/{symbol}/trades", get(market::trades))
        .route("/v1/stocks/{symbol}/candles", get(market::candles))
        .route("/v1/admin/symbols/{symbol}/{action}", post(admin::halt))
        .route("/v1/admin/end-of-day", post(admin::end_of_day))
        .route("/v1/admin/accounts", post(admin::open_account))
        .route("/v1/admin/accounts/{id}/deposits", post(admin::deposit))
        .route(
            "/v1/admin/accounts/{id}/shares",
            post(admin::deposit_shares),
        )
        .route("/v1/admin/snapshot", post(admin::snapshot))
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
