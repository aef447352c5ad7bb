//! The OpenAPI 3.1 document of the REST API, served unauthenticated at `GET /openapi.json`.
//!
//! Generated from the code: every handler carries its `#[utoipa::path]` (method, path,
//! parameters, body, every status it can answer), every request and response type derives
//! `ToSchema`, and [`ApiDoc`] collects them. The types of `bourse-core` (prices, cash,
//! share counts, symbols, ids, the order vocabulary) are described here, in [`wire`], as they
//! actually serialize in JSON; fields use them through `#[schema(value_type = …)]`.
//!
//! Not in the document: `GET /v1/ws` (a WebSocket upgrade, see docs/PROTOCOL.md) and
//! axum's own answers to a wrong method on a known path (`405`, empty body).

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::error::ErrorBody;

/// How `bourse-core` types and the API's fixed vocabularies look on the wire. Schema-only
/// types: nothing is ever built from them.
pub mod wire {
    use utoipa::openapi::schema::{
        KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
    };
    use utoipa::openapi::{RefOr, schema::SchemaType};
    use utoipa::{PartialSchema, ToSchema};

    /// A string schema with a pattern, a description and one example.
    fn text(pattern: &str, description: &str, example: &str) -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::from(Type::String))
            .pattern(Some(pattern))
            .description(Some(description))
            .examples([serde_json::json!(example)])
            .into()
    }

    /// A string enum.
    fn one_of_words(words: &[&str], description: &str) -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::from(Type::String))
            .enum_values(Some(words.iter().copied()))
            .description(Some(description))
            .into()
    }

    macro_rules! wire_schema {
        ($(#[$doc:meta])* $name:ident => $schema:expr) => {
            $(#[$doc])*
            #[derive(Debug)]
            pub enum $name {}

            impl PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    $schema
                }
            }

            impl ToSchema for $name {}
        };
    }

    /// Money and prices as the server writes them: at least two and at most four decimals.
    pub const MONEY_PATTERN: &str = r"^-?[0-9]+\.[0-9]{2,4}$";

    wire_schema!(
        /// `bourse_core::Price` in JSON.
        Price => text(
            MONEY_PATTERN,
            "A price in dollars: an exact decimal string with 2 to 4 decimals, never a JSON \
             number (1/10,000 $ is the finest step).",
            "190.25",
        )
    );
    wire_schema!(
        /// `bourse_core::Cash` in JSON.
        Cash => text(
            MONEY_PATTERN,
            "An amount of money in dollars: an exact decimal string with 2 to 4 decimals, \
             negative for debits and losses, never a JSON number.",
            "100000.00",
        )
    );
    wire_schema!(
        /// `bourse_core::Qty` as the API writes it in answers.
        Shares => text(
            "^[0-9]+$",
            "A whole number of shares as a decimal string (answers always write share \
             counts as strings).",
            "100",
        )
    );
    wire_schema!(
        /// The API's percentages.
        Percent => text(
            r"^-?[0-9]+\.[0-9]{2}$",
            "A percentage with exactly two decimals (\"1.23\" is 1.23 %), computed in \
             integer math.",
            "1.23",
        )
    );
    wire_schema!(
        /// `bourse_core::Symbol`.
        Symbol => text(
            r"^[A-Z0-9.]{1,8}$",
            "A listed stock's ticker: 1-8 characters of A-Z, 0-9 and '.'.",
            "AAPL",
        )
    );
    wire_schema!(
        /// `bourse_core::ClientOrderId`.
        ClientOrderId => text(
            "^[!-~]{1,48}$",
            "The client's own id for an order: 1-48 printable ASCII characters, no spaces; \
             unique per account.",
            "my-order-1",
        )
    );
    wire_schema!(
        /// `bourse_core::AccountId` as a string.
        AccountId => text("^[0-9]+$", "An account id (a positive integer, as a string).", "3")
    );
    wire_schema!(
        /// `bourse_core::OrderId` as a string.
        OrderId => text("^[0-9]+$", "An order id (a positive integer, as a string).", "17")
    );
    wire_schema!(
        /// `bourse_core::TradeId` as a string.
        TradeId => text("^[0-9]+$", "A trade id (a positive integer, as a string).", "9")
    );
    wire_schema!(
        /// An activity id: the command's seq and the event's index in it.
        ActivityId => text(
            "^[0-9]+-[0-9]+$",
            "An activity id: `<seq>-<index>`, ordered like time; also the list cursor.",
            "42-3",
        )
    );
    wire_schema!(
        /// `bourse_core::UnixNanos` in JSON.
        Timestamp => ObjectBuilder::new()
            .schema_type(SchemaType::from(Type::String))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .pattern(Some(
                r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z$",
            ))
            .description(Some("RFC 3339, UTC, nanoseconds."))
            .examples([serde_json::json!("2026-11-21T14:30:05.123456789Z")])
            .into()
    );
    wire_schema!(
        /// `bourse_core::Side`.
        Side => one_of_words(&["buy", "sell"], "Buy or sell.")
    );
    wire_schema!(
        /// `bourse_core::OrderType`.
        OrderType => one_of_words(
            &["limit", "market", "stop", "stop_limit"],
            "The kind of order.",
        )
    );
    wire_schema!(
        /// `bourse_core::TimeInForce`.
        TimeInForce => one_of_words(
            &["day", "gtc", "ioc", "fok"],
            "How long an order may stay working (an order without one is `day`).",
        )
    );
    wire_schema!(
        /// `bourse_core::CancelReason`.
        CancelReason => one_of_words(
            &[
                "REQUESTED",
                "MASS_CANCEL",
                "IOC_REMAINDER",
                "FOK_UNFILLED",
                "MARKET_REMAINDER",
                "SELF_TRADE",
                "EXPIRED",
            ],
            "Why a working order stopped working without filling.",
        )
    );
    wire_schema!(
        /// `crate::orders::OrderStatus`.
        OrderStatus => one_of_words(
            &["held", "new", "partially_filled", "filled", "canceled", "expired"],
            "Where an order stands (`held`: a stop order waiting for its trigger).",
        )
    );
    wire_schema!(
        /// `bourse_core::Liquidity`.
        Liquidity => one_of_words(&["maker", "taker"], "Which side of the trade the order was.")
    );
    wire_schema!(
        /// `bourse_core::AlertCondition`.
        AlertCondition => one_of_words(
            &["above", "below"],
            "Fires at a trade at or above / at or below the price.",
        )
    );
    wire_schema!(
        /// An alert's state.
        AlertStatus => one_of_words(&["active", "triggered"], "An alert's state.")
    );
    wire_schema!(
        /// `crate::readmodel::ActivityType`.
        ActivityType => one_of_words(
            &["FILL", "DEPOSIT", "WITHDRAWAL", "SHARE_DEPOSIT"],
            "What an account activity is.",
        )
    );
    wire_schema!(
        /// A cash transfer's direction.
        TransferType => one_of_words(&["deposit", "withdraw"], "Cash in or out.")
    );

    /// A number a client may send as a JSON string or a JSON number.
    fn decimal_input(pattern: &str, description: &str, example: &str) -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(SchemaType::from(Type::String))
                    .pattern(Some(pattern)),
            )
            .item(ObjectBuilder::new().schema_type(SchemaType::from(Type::Number)))
            .description(Some(description))
            .examples([serde_json::json!(example)])
            .into()
    }

    wire_schema!(
        /// A share count in a request (`crate::orders::Decimal`).
        QtyInput => decimal_input(
            r"^[0-9]+(\.0{1,4})?$",
            "A positive whole number of shares: a decimal string (\"10\") or a JSON number. \
             Zero, negative, fractional or off-lot counts are refused (422).",
            "10",
        )
    );
    wire_schema!(
        /// A price in a request (`crate::orders::Decimal`).
        PriceInput => decimal_input(
            r"^[0-9]+(\.[0-9]{1,4})?$",
            "A positive price in dollars with at most 4 decimals: a decimal string \
             (\"190.25\", exact) or a JSON number (read as written). Off-tick prices are \
             refused (422).",
            "190.00",
        )
    );
    wire_schema!(
        /// An amount of money in a request.
        AmountInput => text(
            r"^[0-9]+(\.[0-9]{1,4})?$",
            "A positive amount in dollars with at most 4 decimals, as a decimal string.",
            "1000.00",
        )
    );
}

/// `GET /healthz`: the exchange's health (built by the server; the engine, journal and
/// recovery numbers are its own).
#[derive(Debug, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` (answered with 503).
    #[schema(pattern = "^(ok|degraded)$")]
    pub status: String,
    pub engine: HealthEngine,
    pub journal: HealthJournal,
    pub recovered: HealthRecovered,
}

/// The engine thread.
#[derive(Debug, ToSchema)]
pub struct HealthEngine {
    pub running: bool,
    pub pinned: bool,
    /// The last command sequenced.
    pub seq: u64,
    pub queued: u64,
    pub overloaded: u64,
    pub stalls: u64,
}

/// The journal and the publisher.
#[derive(Debug, ToSchema)]
pub struct HealthJournal {
    pub backend: String,
    pub durable_seq: u64,
    pub released_seq: u64,
    pub failing: bool,
    pub failed: bool,
    pub commits: u64,
    pub commands: u64,
    pub largest_batch: u64,
    pub retries: u64,
    pub snapshots: u64,
    pub last_snapshot_seq: u64,
}

/// How the server started.
#[derive(Debug, ToSchema)]
pub struct HealthRecovered {
    pub seq: u64,
    pub snapshot_seq: Option<u64>,
    pub replayed: u64,
    pub state_hash: String,
    pub ms: u64,
}

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
        crate::http::healthz,
        crate::http::metrics,
        crate::users::register,
        crate::users::log_in,
        crate::users::log_out,
        crate::users::create_key,
        crate::users::revoke_key,
        crate::http::submit_order,
        crate::queries::list_orders,
        crate::trading::mass_cancel,
        crate::queries::get_order,
        crate::http::cancel_order,
        crate::trading::replace_order,
        crate::queries::order_by_client_id,
        crate::queries::account,
        crate::queries::positions,
        crate::queries::position,
        crate::queries::portfolio,
        crate::queries::activities,
        crate::trading::transfer,
        crate::alerts::create,
        crate::alerts::list,
        crate::alerts::delete,
        crate::trading::stocks,
        crate::trading::stock,
        crate::market::book,
        crate::market::trades,
        crate::market::candles,
        crate::trading::halt,
        crate::trading::end_of_day,
        crate::http::open_account,
        crate::http::deposit,
        crate::http::deposit_shares,
        crate::http::snapshot,
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "meta", description = "Health, metrics and this document."),
        (name = "identity", description = "Users, sessions and API keys."),
        (name = "orders", description = "Order entry and the caller's orders."),
        (name = "account", description = "Cash, positions, portfolio and activity."),
        (name = "alerts", description = "Price alerts."),
        (name = "market", description = "The listed stocks."),
        (name = "operator", description = "The operator's controls (operator token only)."),
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
            "/v1/transfers",
            "/v1/alerts",
            "/v1/alerts/{id}",
            "/v1/stocks",
            "/v1/stocks/{symbol}",
            "/v1/admin/symbols/{symbol}/{action}",
            "/v1/admin/end-of-day",
            "/v1/admin/accounts",
            "/v1/admin/accounts/{id}/deposits",
            "/v1/admin/accounts/{id}/shares",
            "/v1/admin/snapshot",
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
