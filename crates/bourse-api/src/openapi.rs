//! The OpenAPI 3.1 document of the REST API, served unauthenticated at `GET /openapi.json`.
//!
//! Generated from the code: every handler carries its `#[utoipa::path]` (method, path,
//! parameters, body, every status it can answer), every request and response type derives
//! `ToSchema`, and [`ApiDoc`] collects them. The types of `bourse-core` (prices, cash,
//! share counts, symbols, ids, the order vocabulary) are described in [`wire`], as they
//! actually serialize in JSON; fields use them through `#[schema(value_type = …)]`.
//!
//! Not in the document: `GET /v1/ws` (a WebSocket upgrade, see docs/PROTOCOL.md) and
//! axum's own answers to a wrong method on a known path (`405`, empty body).

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::ErrorBody;

pub use crate::meta::{Health, HealthEngine, HealthJournal, HealthRecovered};
pub use crate::wire;

/// Adds the bearer scheme the authenticated operations name.
#[derive(Debug)]
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A session token (POST /v1/sessions), an API key secret \
                         (POST /v1/api-keys) or the operator token.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The whole REST API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "bourse",
        description = "Order entry, account queries and the operator's controls of the bourse \
                       stock exchange. Money and share counts are decimal strings, ids are \
                       strings; every error is `{\"code\", \"message\"}` with a stable code. \
                       Every answer to a request that changes something is sent only once the \
                       command is durable.",
    ),
    modifiers(&BearerAuth),
    paths(
        openapi_json,
        crate::meta::healthz,
        crate::meta::metrics,
        crate::users::register,
        crate::signup::verify,
        crate::signup::resend,
        crate::signup::start_reset,
        crate::signup::confirm_reset,
        crate::signup::me,
        crate::signup::change_contact,
        crate::twofactor::enrol,
        crate::twofactor::confirm,
        crate::twofactor::disable,
        crate::twofactor::renew,
        crate::notices::get_prefs,
        crate::notices::put_prefs,
        crate::notices::create_webhook,
        crate::notices::list_webhooks,
        crate::notices::delete_webhook,
        crate::notices::deliveries,
        crate::notices::replay_dead,
        crate::notices::replay_one,
        crate::users::log_in,
        crate::users::log_out,
        crate::users::current,
        crate::users::create_key,
        crate::users::revoke_key,
        crate::brokers::register_broker,
        crate::brokers::open,
        crate::brokers::list,
        crate::brokers::get,
        crate::brokers::login,
        crate::trading::submit_order,
        crate::queries::list_orders,
        crate::trading::mass_cancel,
        crate::queries::get_order,
        crate::trading::cancel_order,
        crate::trading::replace_order,
        crate::queries::order_by_client_id,
        crate::queries::account,
        crate::queries::positions,
        crate::queries::position,
        crate::queries::portfolio,
        crate::queries::activities,
        crate::queries::events,
        crate::transfers::transfer,
        crate::alerts::create,
        crate::alerts::list,
        crate::alerts::delete,
        crate::watchlists::list,
        crate::watchlists::create,
        crate::watchlists::get,
        crate::watchlists::update,
        crate::watchlists::add,
        crate::watchlists::remove,
        crate::watchlists::delete,
        crate::market::stocks,
        crate::market::stock,
        crate::market::financials,
        crate::market::book,
        crate::clock::auction,
        crate::clock::clock,
        crate::clock::calendar,
        crate::market::trades,
        crate::market::candles,
        crate::admin::halt,
        crate::admin::end_of_day,
        crate::admin::open_account,
        crate::admin::deposit,
        crate::admin::deposit_shares,
        crate::admin::snapshot,
        crate::admin::audit,
        crate::news::publish,
        crate::news::list,
        crate::privacy::export,
        crate::privacy::erase,
        crate::support::open,
        crate::support::mine,
        crate::support::one,
        crate::support::reply,
        crate::support::close,
        crate::support::desk,
        crate::support::desk_one,
        crate::support::answer,
        crate::support::desk_close,
        crate::funding::link,
        crate::funding::banks,
        crate::funding::verify,
        crate::funding::unlink,
        crate::funding::statement,
        crate::funding::transfers,
        crate::funding::transfer,
        crate::funding::return_transfer,
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "meta", description = "Health, metrics and this document."),
        (name = "identity", description = "Users, sessions and API keys."),
        (name = "orders", description = "Order entry and the caller's orders."),
        (name = "account", description = "Cash, positions, portfolio and activity."),
        (name = "alerts", description = "Price alerts."),
        (name = "watchlists", description = "Named lists of symbols a user follows."),
        (name = "brokers", description = "Brokers' customer accounts (Alpaca Broker API shape)."),
        (name = "market", description = "The listed stocks."),
        (name = "operator", description = "The operator's controls (operator token only)."),
        (name = "support", description = "Support tickets: a person asks, operators answer."),
        (name = "funding", description = "Linked bank accounts and ACH transfers."),
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

/// The document, built once.
#[must_use]
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        camel_case_links(&mut doc);
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    })
}

/// utoipa 5.5 writes a Link Object's fields in snake case (`operation_id`); OpenAPI spells
/// them `operationId`, `operationRef` and `requestBody`.
fn camel_case_links(doc: &mut serde_json::Value) {
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    let ops = paths
        .values_mut()
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut());
    for op in ops {
        let Some(responses) = op.get_mut("responses").and_then(|r| r.as_object_mut()) else {
            continue;
        };
        let links = responses
            .values_mut()
            .filter_map(|r| r.get_mut("links").and_then(|l| l.as_object_mut()))
            .flat_map(|links| links.values_mut())
            .filter_map(|link| link.as_object_mut());
        for link in links {
            for (from, to) in [
                ("operation_id", "operationId"),
                ("operation_ref", "operationRef"),
                ("request_body", "requestBody"),
            ] {
                if let Some(v) = link.remove(from) {
                    link.insert(to.to_owned(), v);
                }
            }
        }
    }
}

/// `GET /openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API.",
         content_type = "application/json", body = Object),
        (status = 429, description = "RATE_LIMITED (per client IP).", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_valid_json_with_every_route() {
        let v: serde_json::Value = serde_json::from_str(document()).unwrap();
        assert!(v["openapi"].as_str().unwrap().starts_with("3.1"));
        let paths = v["paths"].as_object().unwrap();
        for p in [
            "/healthz",
            "/metrics",
            "/openapi.json",
            "/v1/users",
            "/v1/sessions",
            "/v1/api-keys",
            "/v1/api-keys/{id}",
            "/v1/orders",
            "/v1/orders/{id}",
            "/v1/orders:by_client_order_id",
            "/v1/account",
            "/v1/positions",
            "/v1/positions/{symbol}",
            "/v1/portfolio",
            "/v1/activities",
            "/v1/events",
            "/v1/transfers",
            "/v1/alerts",
            "/v1/alerts/{id}",
            "/v1/watchlists",
            "/v1/watchlists/{id}",
            "/v1/watchlists/{id}/{symbol}",
            "/v1/stocks",
            "/v1/stocks/{symbol}",
            "/v1/stocks/{symbol}/financials",
            "/v1/admin/symbols/{symbol}/{action}",
            "/v1/admin/end-of-day",
            "/v1/admin/accounts",
            "/v1/admin/accounts/{id}/deposits",
            "/v1/admin/accounts/{id}/shares",
            "/v1/admin/snapshot",
            "/v1/banks",
            "/v1/banks/{id}",
            "/v1/banks/{id}/verify",
            "/v1/banks/{id}/statement",
            "/v1/transfers/{id}",
            "/v1/admin/transfers/{id}/return",
        ] {
            assert!(paths.contains_key(p), "{p} is missing");
        }
        assert_eq!(
            v["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        let link = &v["paths"]["/v1/orders"]["post"]["responses"]["200"]["links"]["CancelOrder"];
        assert_eq!(link["operationId"], "cancel_order", "{link}");
        // Every operation answers with JSON or nothing, and every 4xx/5xx is the error body.
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                for (status, r) in op["responses"].as_object().unwrap() {
                    if status.starts_with('4') || status.starts_with('5') {
                        let schema = &r["content"]["application/json"]["schema"]["$ref"];
                        let ok = schema == "#/components/schemas/Error"
                            || (path == "/healthz" && status == "503");
                        assert!(ok, "{method} {path} {status}: {r}");
                    }
                }
            }
        }
    }
}
