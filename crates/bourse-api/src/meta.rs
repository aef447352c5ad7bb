//! Health, metrics and the shape of the health document (`GET /healthz`, `GET /metrics`).

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::ErrorBody;
use crate::state::State;

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

/// `GET /healthz`: the exchange's health.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    responses(
        (status = 200, description = "Healthy (`status` is `ok`).", body = Health),
        (status = 429, description = "RATE_LIMITED (per client IP).", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "Degraded (`status` is `degraded`): the engine stopped or \
         the journal is failing.", body = Health),
    )
)]
pub(crate) async fn healthz(axum::extract::State(s): State) -> impl IntoResponse {
    let h = s.0.ops.health();
    let ok = h.get("status").and_then(Value::as_str) == Some("ok");
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(h))
}

/// The content type of OpenMetrics text 1.0.0 (which Prometheus scrapes natively).
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `GET /metrics`: the server's metrics for Prometheus.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "meta",
    responses(
        (status = 200, description = "The server's metrics as OpenMetrics text 1.0.0 \
         (`application/openmetrics-text; version=1.0.0`): engine queue depth, commands, apply \
         times; journal group commits, batch sizes and append times; durable and release \
         lag; WebSocket connections and market-data traffic; rejects by reason.",
         content_type = "application/openmetrics-text", body = String),
        (status = 429, description = "RATE_LIMITED (per client IP).", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn metrics(axum::extract::State(s): State) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
        s.0.ops.metrics(),
    )
}
