//! The router: every route and the layers around them. The one module that knows every
//! handler; handlers know only the shared state and extractors.
//!
//! Every route but `/v1/ws` also has a whole-request deadline: an upgraded connection
//! outlives any request.

use std::sync::Arc;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::routing::{delete, get, post};
use tower::ServiceBuilder;
use tower::util::MapRequestLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate as _, SizeAbove};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::error::ApiError;
use crate::state::{AppState, HttpConfig, Inner, Services};
use crate::{
    admin, alerts, brokers, clock, market, meta, notices, openapi, queries, signup, trading,
    transfers, twofactor, users, watchlists, ws,
};

/// The router with every route.
pub fn router(services: Services, cfg: &HttpConfig) -> Router {
    let Services {
        gateway,
        ops,
        listings,
        directory,
        passwords,
        alert_book,
        watchlist_book,
        history,
        feed,
        people,
        calendar,
        companies,
        news,
        support,
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
        secure_cookies: cfg.secure_cookies,
        ws: cfg.ws,
        feed,
        alerts: alert_book,
        watchlists: watchlist_book,
        history,
        edge: None,
        people,
        calendar,
        companies,
        news,
        support,
        funding: cfg.funding,
    }));
    let deadline = cfg.request_deadline;
    Router::new()
        .route("/healthz", get(meta::healthz))
        .route("/metrics", get(meta::metrics))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/v1/users", post(users::register))
        .route("/v1/users/verify", post(signup::verify))
        .route("/v1/users/verify/resend", post(signup::resend))
        .route("/v1/password-resets", post(signup::start_reset))
        .route("/v1/password-resets/confirm", post(signup::confirm_reset))
        .route("/v1/me", get(signup::me).delete(crate::privacy::erase))
        .route("/v1/me/export", get(crate::privacy::export))
        .route("/v1/me/contact", post(signup::change_contact))
        .route("/v1/me/totp", post(twofactor::enrol).delete(twofactor::disable))
        .route("/v1/me/totp/confirm", post(twofactor::confirm))
        .route("/v1/me/recovery-codes", post(twofactor::renew))
        .route(
            "/v1/notification-preferences",
            get(notices::get_prefs).put(notices::put_prefs),
        )
        .route(
            "/v1/webhooks",
            post(notices::create_webhook).get(notices::list_webhooks),
        )
        .route("/v1/webhooks/{id}", delete(notices::delete_webhook))
        .route("/v1/webhooks/{id}/deliveries", get(notices::deliveries))
        .route("/v1/webhooks/{id}/replay", post(notices::replay_dead))
        .route(
            "/v1/webhooks/{id}/deliveries/{delivery_id}/replay",
            post(notices::replay_one),
        )
        .route("/v1/sessions", post(users::log_in).delete(users::log_out))
        .route("/v1/sessions/current", get(users::current))
        .route("/v1/api-keys", post(users::create_key))
        .route("/v1/api-keys/{id}", delete(users::revoke_key))
        .route("/v1/admin/brokers", post(brokers::register_broker))
        .route("/v1/accounts", post(brokers::open).get(brokers::list))
        .route("/v1/accounts/{account_id}", get(brokers::get))
        .route("/v1/accounts/{account_id}/login", post(brokers::login))
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
        .route("/v1/events", get(queries::events))
        .route(
            "/v1/transfers",
            post(transfers::transfer).get(crate::funding::transfers),
        )
        .route("/v1/transfers/{id}", get(crate::funding::transfer))
        .route(
            "/v1/banks",
            post(crate::funding::link).get(crate::funding::banks),
        )
        .route("/v1/banks/{id}", delete(crate::funding::unlink))
        .route("/v1/banks/{id}/verify", post(crate::funding::verify))
        .route("/v1/banks/{id}/statement", get(crate::funding::statement))
        .route(
            "/v1/admin/transfers/{id}/return",
            post(crate::funding::return_transfer),
        )
        .route("/v1/alerts", post(alerts::create).get(alerts::list))
        .route("/v1/alerts/{id}", delete(alerts::delete))
        .route(
            "/v1/watchlists",
            post(watchlists::create).get(watchlists::list),
        )
        .route(
            "/v1/watchlists/{id}",
            get(watchlists::get)
                .put(watchlists::update)
                .post(watchlists::add)
                .delete(watchlists::delete),
        )
        .route(
            "/v1/watchlists/{id}/{symbol}",
            delete(watchlists::remove),
        )
        .route("/v1/stocks", get(market::stocks))
        .route("/v1/stocks/{symbol}", get(market::stock))
        .route("/v1/stocks/{symbol}/book", get(market::book))
        .route("/v1/stocks/{symbol}/auction", get(clock::auction))
        .route("/v1/clock", get(clock::clock))
        .route("/v1/calendar", get(clock::calendar))
        .route("/v1/stocks/{symbol}/financials", get(market::financials))
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
        .route("/v1/admin/audit", get(admin::audit))
        .route("/v1/admin/news", post(crate::news::publish))
        .route("/v1/news", get(crate::news::list))
        .route(
            "/v1/support/tickets",
            post(crate::support::open).get(crate::support::mine),
        )
        .route("/v1/support/tickets/{id}", get(crate::support::one))
        .route(
            "/v1/support/tickets/{id}/messages",
            post(crate::support::reply),
        )
        .route("/v1/support/tickets/{id}/close", post(crate::support::close))
        .route("/v1/admin/support/tickets", get(crate::support::desk))
        .route(
            "/v1/admin/support/tickets/{id}",
            get(crate::support::desk_one),
        )
        .route(
            "/v1/admin/support/tickets/{id}/messages",
            post(crate::support::answer),
        )
        .route(
            "/v1/admin/support/tickets/{id}/close",
            post(crate::support::desk_close),
        )
        // What no route takes: the web page's files and routes, else the JSON 404.
        .fallback(
            |method: axum::http::Method, uri: axum::http::Uri, headers: axum::http::HeaderMap| async move {
                crate::page::serve(&crate::page::Embedded, &method, &uri, &headers)
            },
        )
        // Keeps the Allow header axum sets; only the body is ours.
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "this route does not take that method (see Allow)",
            )
        })
        // A request still unanswered at the deadline (a body that never finishes arriving, a
        // stalled query) is answered like the gateway's own timeout, which comes first on a
        // healthy server: the request may have reached the engine, so never a refusal that
        // a client would take for "not done".
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    ApiError::new(
                        StatusCode::GATEWAY_TIMEOUT,
                        "OUTCOME_UNKNOWN",
                        "no answer in time: the request may or may not have taken effect",
                    )
                }))
                .timeout(deadline),
        )
        // After the deadline, so it does not wrap the upgraded connection.
        .route("/v1/ws", get(ws::upgrade))
        .layer(axum::middleware::from_fn_with_state(
            limiter,
            crate::ratelimit::limit,
        ))
        .layer(DefaultBodyLimit::max(cfg.body_limit))
        // Large answers (history pages, books, candles, the OpenAPI document) go out gzipped
        // to clients that ask; an order's answer, under a kilobyte, is not worth the CPU.
        .layer(
            CompressionLayer::new().compress_when(
                SizeAbove::new(COMPRESS_ABOVE)
                    .and(NotForContentType::GRPC)
                    .and(NotForContentType::IMAGES)
                    .and(NotForContentType::SSE),
            ),
        )
        // JSON is not to be sniffed into HTML, framed, kept by shared caches (answers are
        // private: balances, orders) or followed by a referrer.
        .layer(by_default(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(by_default(header::X_FRAME_OPTIONS, "DENY"))
        .layer(by_default(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .layer(by_default(header::REFERRER_POLICY, "no-referrer"))
        .layer(by_default(header::CACHE_CONTROL, "no-store"))
        // Every log line of a request carries its id (the span is at INFO, its per-request
        // lines at DEBUG: quiet by default).
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &axum::extract::Request| {
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!(
                        "http",
                        method = %req.method(),
                        path = req.uri().path(),
                        request_id = id,
                    )
                })
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::DEBUG))
                .on_failure(DefaultOnFailure::new().level(Level::DEBUG)),
        )
        // Outermost: every answer, a 429 included, carries the request's id (the client's
        // own `x-request-id`, or a fresh UUID) for support and the logs.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        // Before that: a client's id goes into the logs only if it is short and plain.
        .layer(MapRequestLayer::new(drop_odd_request_id))
        .with_state(state)
}

/// Answers smaller than this are sent as they are.
const COMPRESS_ABOVE: u16 = 1024;

/// A header every API answer carries unless its handler set its own (a web page will set
/// its own Content-Security-Policy).
fn by_default(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// Removes a client's `x-request-id` that is long or has more than letters, digits and
/// `-_.:` (it would go into every log line of the request); a fresh one replaces it.
fn drop_odd_request_id(mut req: Request) -> Request {
    let odd = req.headers().get("x-request-id").is_some_and(|v| {
        v.len() > 128
            || !v
                .as_bytes()
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
    });
    if odd {
        req.headers_mut().remove("x-request-id");
    }
    req
}
