//! What every route shares: the services the routes serve from, their settings, and the
//! [`AppState`] each handler receives.

use std::sync::Arc;
use std::time::Duration;

use bourse_core::Symbol;
use serde_json::Value;

use crate::alertbook::AlertBook;
use crate::auth::Directory;
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::orders::Listings;
use crate::readmodel::History;
use crate::watchlistbook::WatchlistBook;

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
    pub ws: WsConfig,
    /// The most any request but a WebSocket upgrade may take, body upload included; past it
    /// the answer is `504 OUTCOME_UNKNOWN`. Longer than the gateway's own wait for an
    /// outcome, which answers the same and is the one a healthy server hits.
    pub request_deadline: std::time::Duration,
    /// The session cookie is `Secure` (the server speaks TLS).
    pub secure_cookies: bool,
    /// Bank transfers' settlement delay and instant-deposit limit.
    pub funding: crate::funding::FundingConfig,
}

/// Timings of a WebSocket connection.
#[derive(Clone, Copy, Debug)]
pub struct WsConfig {
    /// Inbound messages per second per connection (twice that as a burst).
    pub rate: f64,
    /// How often subscribers get a heartbeat with their symbols' last seqs.
    pub heartbeat: Duration,
    /// How often the server pings.
    pub ping_every: Duration,
    /// A connection silent this long (no message, no pong) is closed.
    pub idle_timeout: Duration,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            rate: 100.0,
            heartbeat: Duration::from_secs(5),
            ping_every: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

pub(crate) struct Inner {
    pub(crate) gateway: Arc<Gateway>,
    pub(crate) ops: Arc<dyn Operations>,
    pub(crate) listings: Listings,
    pub(crate) directory: Arc<Directory>,
    pub(crate) passwords: Arc<crate::auth::Passwords>,
    pub(crate) session_ttl: std::time::Duration,
    pub(crate) secure_cookies: bool,
    /// WebSocket timings and inbound rate.
    pub(crate) ws: WsConfig,
    /// Market data and every WebSocket connection's outbox.
    pub(crate) feed: Arc<bourse_feed::Feed>,
    pub(crate) alerts: Arc<AlertBook>,
    pub(crate) watchlists: Arc<WatchlistBook>,
    pub(crate) history: History,
    /// Set on a market-data edge (`bourse edge`): no engine, credentials asked of the core.
    pub(crate) edge: Option<crate::edge::EdgeMode>,
    /// Profiles, the data key, failure counts and the delivery log.
    pub(crate) people: crate::people::People,
    pub(crate) calendar: Option<Arc<bourse_calendar::Calendar>>,
    /// Company profiles and financials (sample data from the data file).
    pub(crate) companies: Arc<crate::companies::Companies>,
    /// News items operators published.
    pub(crate) news: Arc<crate::news::NewsStore>,
    /// Support tickets.
    pub(crate) support: Arc<crate::support::SupportDesk>,
    pub(crate) funding: crate::funding::FundingConfig,
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
    pub watchlist_book: Arc<WatchlistBook>,
    pub history: History,
    /// Market data and the WebSocket outboxes.
    pub feed: Arc<bourse_feed::Feed>,
    /// Profiles, the data key and the delivery log.
    pub people: crate::people::People,
    /// The trading calendar (`None`: always open).
    pub calendar: Option<Arc<bourse_calendar::Calendar>>,
    /// Company profiles and financials.
    pub companies: Arc<crate::companies::Companies>,
    /// News items operators publish.
    pub news: Arc<crate::news::NewsStore>,
    /// Support tickets.
    pub support: Arc<crate::support::SupportDesk>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

pub(crate) type State = axum::extract::State<AppState>;

/// A listed symbol, or `404 UNKNOWN_SYMBOL`.
pub(crate) fn listed(s: &AppState, text: &str) -> Result<Symbol, ApiError> {
    text.parse::<Symbol>()
        .ok()
        .filter(|sym| s.0.listings.get(*sym).is_some())
        .ok_or_else(|| ApiError::not_found("UNKNOWN_SYMBOL", "no such listed symbol"))
}
