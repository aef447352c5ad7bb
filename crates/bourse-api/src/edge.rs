//! The routes of a market-data edge (`bourse edge`): the same `/v1/ws` protocol and public
//! market routes as the core, served from a feed the edge rebuilt from the core's events.
//!
//! An edge holds no accounts and reaches no engine: a credential sent with `auth` is asked
//! of the core ([`CoreAuth`]) and then kept in the edge's own directory for a while (its
//! sessions expire, so the cache is bounded); order entry is answered `USE_CORE`; a private
//! resume further back than the edge's window is answered `RESUME_ON_CORE`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use bourse_core::AccountId;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use crate::auth::Directory;
use crate::error::ApiError;
use crate::gateway::{Gateway, Refused, Sequencer};
use crate::orders::Listings;
use crate::readmodel::{History, ReadModel, Retention};
use crate::state::{AppState, HttpConfig, Inner, Operations};
use crate::{market, meta, ws};

/// The answer of a credential check against the core.
pub type Verified = Pin<Box<dyn Future<Output = Result<Option<AccountId>, ApiError>> + Send>>;

/// Asks the core which account a bearer token stands for: `Ok(None)` when the core refused
/// it, `Err` when the core could not be asked.
pub trait CoreAuth: Send + Sync + 'static {
    fn verify(&self, token: String) -> Verified;
}

/// What makes the shared routes behave as an edge's.
#[derive(Clone)]
pub(crate) struct EdgeMode {
    pub(crate) auth: Arc<dyn CoreAuth>,
    /// The core's address, for the errors that send a client there.
    pub(crate) core_url: String,
    /// How long a credential the core confirmed is trusted without asking again.
    pub(crate) auth_ttl: Duration,
}

impl EdgeMode {
    pub(crate) fn use_core(&self) -> ApiError {
        ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "USE_CORE",
            format!(
                "this is a market-data edge: send orders to the core ({}/v1/ws or the REST API)",
                self.core_url
            ),
        )
    }

    /// Holds a credential the core confirmed, for `auth_ttl`.
    pub(crate) fn remember(&self, directory: &Directory, token: &str, account: AccountId) {
        let ttl = u64::try_from(self.auth_ttl.as_nanos()).unwrap_or(u64::MAX);
        let until = bourse_core::UnixNanos::new(crate::auth::now().get().saturating_add(ttl));
        directory.add_session(crate::auth::digest(token), account, until);
    }

    /// Asks the core again about a credential held for `account`; if it still stands for
    /// it, holds it for another `auth_ttl` and answers how long. `None`: it ended, or the
    /// core could not be asked (the connection then loses its authority: never longer than
    /// the core allows).
    pub(crate) async fn reverify(
        &self,
        directory: &Directory,
        token: &str,
        account: AccountId,
    ) -> Option<Duration> {
        match self.auth.verify(token.to_owned()).await {
            Ok(Some(a)) if a == account => {
                self.remember(directory, token, account);
                Some(self.auth_ttl)
            }
            _ => {
                directory.end_session(&crate::auth::digest(token));
                None
            }
        }
    }

    pub(crate) fn resume_on_core(&self) -> ApiError {
        ApiError::new(
            StatusCode::CONFLICT,
            "RESUME_ON_CORE",
            format!(
                "this edge's window no longer holds those messages: page through \
                 {}/v1/events, then subscribe here again with a later since",
                self.core_url
            ),
        )
    }
}

/// What an edge's routes serve from.
pub struct EdgeServices {
    /// The market data rebuilt from the core's events, and the WebSocket outboxes.
    pub feed: Arc<bourse_feed::Feed>,
    pub listings: Listings,
    /// Health (`/healthz`) and metrics.
    pub ops: Arc<dyn Operations>,
    pub auth: Arc<dyn CoreAuth>,
    pub core_url: String,
    pub auth_ttl: Duration,
    /// Company profiles and financials (the same data file as the core's).
    pub companies: Arc<crate::companies::Companies>,
    /// The trading calendar (the same settings as the core's), for `/v1/clock` and
    /// `/v1/calendar`; the session itself comes from the core's events.
    pub calendar: Option<Arc<bourse_calendar::Calendar>>,
}

impl std::fmt::Debug for EdgeServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeServices")
            .field("core_url", &self.core_url)
            .finish_non_exhaustive()
    }
}

/// An edge has no engine: anything that would reach one is refused.
struct NoEngine;

impl Sequencer for NoEngine {
    fn submit(&self, _cmd: bourse_core::Command, _ticket: u64) -> Result<(), Refused> {
        Err(Refused::Closed)
    }
}

/// The edge's router: health, metrics, the public market routes and `/v1/ws`. Errs only
/// if the (idle) password thread cannot be started.
pub fn edge_router(s: EdgeServices, cfg: &HttpConfig) -> std::io::Result<Router> {
    let directory = Arc::new(Directory::default());
    // No passwords are checked here; one thread and a one-place queue cost nothing.
    let passwords = Arc::new(crate::auth::Passwords::new(1, 1)?);
    let state = AppState(Arc::new(Inner {
        gateway: Arc::new(Gateway::new(Arc::new(NoEngine), Duration::from_secs(1))),
        ops: s.ops,
        listings: s.listings,
        directory: directory.clone(),
        passwords,
        session_ttl: s.auth_ttl,
        secure_cookies: cfg.secure_cookies,
        ws: cfg.ws,
        feed: s.feed,
        alerts: Arc::new(crate::alertbook::AlertBook::new(std::iter::empty())),
        watchlists: Arc::default(),
        history: History::Memory(Arc::new(parking_lot::RwLock::new(ReadModel::new(
            std::collections::HashMap::new(),
            Retention::OpenOrders,
        )))),
        edge: Some(EdgeMode {
            auth: s.auth,
            core_url: s.core_url,
            auth_ttl: s.auth_ttl,
        }),
        // The edge serves no identity route: nothing here is ever sealed or looked up.
        people: crate::people::People::inert(),
        calendar: s.calendar,
        companies: s.companies,
        news: Arc::new(crate::news::NewsStore::memory()),
        support: Arc::new(crate::support::SupportDesk::memory(Arc::new(
            crate::vault::Vault::new(&[0; 32]),
        ))),
        funding: crate::funding::FundingConfig::default(),
    }));
    let limiter = Arc::new(crate::ratelimit::Limiter::new(
        cfg.rate_per_credential,
        cfg.rate_per_ip,
        directory,
    ));
    Ok(Router::new()
        .route("/healthz", get(meta::healthz))
        .route("/metrics", get(meta::metrics))
        .route("/v1/stocks", get(market::stocks))
        .route("/v1/stocks/{symbol}", get(market::stock))
        .route("/v1/stocks/{symbol}/book", get(market::book))
        .route("/v1/stocks/{symbol}/auction", get(crate::clock::auction))
        .route("/v1/stocks/{symbol}/trades", get(market::trades))
        .route("/v1/stocks/{symbol}/candles", get(market::candles))
        .route("/v1/stocks/{symbol}/financials", get(market::financials))
        .route("/v1/clock", get(crate::clock::clock))
        .route("/v1/calendar", get(crate::clock::calendar))
        .fallback(|| async {
            ApiError::not_found(
                "NOT_ON_EDGE",
                "a market-data edge serves /v1/ws and the public market routes; the rest is on the core",
            )
        })
        .route("/v1/ws", get(ws::upgrade))
        .layer(axum::middleware::from_fn_with_state(
            limiter,
            crate::ratelimit::limit,
        ))
        .layer(DefaultBodyLimit::max(cfg.body_limit))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state))
}
