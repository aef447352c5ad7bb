//! The `bourse edge` process: bootstrap from the newest snapshot in the stream, follow the
//! stream, serve `/v1/ws` and the public market routes.
//!
//! ```text
//! JetStream ──ordered consumer (from the newest snapshot's first chunk)──▶ Follower
//!   ──Apply──▶ bourse_feed::Publisher ──▶ Feed ──▶ WebSocket outboxes / REST
//!   ──Snapshot (restore)──▶ Feed::restore (subscribers closed if the state jumped)
//!   ──Gap──▶ nothing applied until the next snapshot (the core sends one within
//!            nats.snapshot_every_secs, or at once after it could not publish)
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::DeliverPolicy, consumer::pull::OrderedConfig};
use bourse_api::edge::{EdgeServices, edge_router};
use bourse_api::{HttpConfig, Listing, Listings, Operations};
use bourse_feed::{Feed, FeedConfig, Publisher};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::StreamSettings;
use crate::coreauth::HttpCoreAuth;
use crate::wire::{self, Follower, Msg, SnapshotBody, Step, Subjects};

/// Settings of one edge.
#[derive(Clone, Debug)]
pub struct EdgeConfig {
    pub stream: StreamSettings,
    /// Where the edge serves (`host:port`; port 0 picks one).
    pub listen: String,
    /// The core's HTTP API (`http://host:port`): credentials are checked there, and
    /// clients are sent there to trade.
    pub core_url: String,
    /// How long a credential the core confirmed is trusted before it is asked again.
    pub auth_ttl: Duration,
    pub feed: FeedConfig,
    pub http: HttpConfig,
    /// Tokio worker threads (0: one per core).
    pub workers: usize,
    /// Company profiles and financials, checked against the listings the core sends.
    pub companies: Option<bourse_api::companies::CompaniesFile>,
    /// The trading calendar, as the core's settings make it (`None`: always open).
    pub calendar: Option<Arc<bourse_calendar::Calendar>>,
}

/// Why the edge stopped.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error(transparent)]
    Nats(#[from] crate::nats::NatsError),
    #[error("{0}")]
    Stream(String),
    #[error("{0}")]
    Config(String),
    #[error("serving HTTP: {0}")]
    Io(#[from] std::io::Error),
}

/// What `/healthz` shows.
#[derive(Debug, Default)]
struct Progress {
    /// The chain position applied last (the core's seq of the last command published).
    position: AtomicU64,
    synced: AtomicBool,
    commands: AtomicU64,
    gaps: AtomicU64,
    restores: AtomicU64,
    /// In-step snapshots that differed from the edge's own state (never expected).
    diverged: AtomicU64,
}

struct EdgeOps {
    stream: String,
    progress: Arc<Progress>,
    feed: Arc<Feed>,
}

impl Operations for EdgeOps {
    fn request_snapshot(&self) {}

    fn health(&self) -> Value {
        let p = &self.progress;
        let synced = p.synced.load(Ordering::Acquire);
        let s = &self.feed.stats;
        json!({
            "status": if synced { "ok" } else { "degraded" },
            "role": "edge",
            "stream": self.stream,
            "synced": synced,
            "seq": p.position.load(Ordering::Acquire),
            "commands": p.commands.load(Ordering::Relaxed),
            "gaps": p.gaps.load(Ordering::Relaxed),
            "restores": p.restores.load(Ordering::Relaxed),
            "diverged": p.diverged.load(Ordering::Relaxed),
            "feed": {
                "connections": s.connections.load(Ordering::Relaxed),
                "updates": s.updates.load(Ordering::Relaxed),
                "delivered": s.delivered.load(Ordering::Relaxed),
                "delivered_bytes": s.delivered_bytes.load(Ordering::Relaxed),
                "conflated": s.conflated.load(Ordering::Relaxed),
                "slow_disconnects": s.slow_disconnects.load(Ordering::Relaxed),
            },
        })
    }
}

type Messages = async_nats::jetstream::consumer::pull::Ordered;

/// Runs an edge until a shutdown signal, or until the stream can no longer be followed.
pub fn run(cfg: EdgeConfig) -> Result<(), EdgeError> {
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if cfg.workers > 0 {
        rt.worker_threads(cfg.workers);
    }
    let rt = rt.enable_all().thread_name("bourse-edge").build()?;
    rt.block_on(serve(cfg))
}

async fn serve(cfg: EdgeConfig) -> Result<(), EdgeError> {
    let auth = Arc::new(HttpCoreAuth::new(&cfg.core_url).map_err(EdgeError::Config)?);
    let subjects = Subjects::new(&cfg.stream.prefix);
    let client = cfg.stream.connect().await?;
    let js = jetstream::new(client);
    let mut follower = Follower::default();
    let mut messages = subscribe(&js, &cfg.stream, &subjects).await?;
    // Nothing is served before the first snapshot: there is nothing right to serve.
    let body = loop {
        let msg = next(&mut messages).await?;
        if let Step::Snapshot {
            body,
            restore: true,
            ..
        } = follower.push(msg)
        {
            break body;
        }
    };
    let SnapshotBody { listings, feed } = *body;
    let feed = Arc::new(Feed::from_image(feed, cfg.feed));
    let progress = Arc::new(Progress::default());
    progress
        .position
        .store(follower.position().unwrap_or(0), Ordering::Release);
    progress.synced.store(true, Ordering::Release);
    progress.restores.store(1, Ordering::Relaxed);
    let listings = Listings::new(
        listings
            .into_iter()
            .map(|l| Listing {
                symbol: l.symbol,
                name: l.name,
                sector: l.sector,
                tick: l.tick,
                lot: l.lot,
                max_qty: l.max_qty,
                fractional: l.fractional,
            })
            .collect(),
    );
    let companies = match cfg.companies.clone() {
        Some(file) => bourse_api::companies::Companies::from_file(file, &listings)
            .map_err(|e| EdgeError::Config(format!("checking the company data: {e}")))?,
        None => bourse_api::companies::Companies::default(),
    };
    let app = edge_router(
        EdgeServices {
            feed: feed.clone(),
            listings,
            ops: Arc::new(EdgeOps {
                stream: cfg.stream.stream.clone(),
                progress: progress.clone(),
                feed: feed.clone(),
            }),
            auth,
            core_url: cfg.core_url.clone(),
            auth_ttl: cfg.auth_ttl,
            companies: Arc::new(companies),
            calendar: cfg.calendar.clone(),
        },
        &cfg.http,
    )?;
    let mut shutdown = bourse_api::shutdown::Shutdown::listen();
    let listener = tokio::net::TcpListener::bind(&cfg.listen).await?;
    let addr: SocketAddr = listener.local_addr()?;
    // One plain line a person (or a test) can read the address from.
    println!(
        "bourse edge listening on http://{addr} (stream {}, seq {})",
        cfg.stream.stream,
        follower.position().unwrap_or(0)
    );
    tracing::info!(%addr, "edge listening");
    let follow = tokio::spawn(follow(
        js,
        cfg.stream.clone(),
        subjects,
        messages,
        follower,
        Publisher::new(feed.clone()),
        progress,
    ));
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::select! {
        r = axum::serve(listener, service).with_graceful_shutdown(async move { shutdown.wait().await }) => {
            r?;
            Ok(())
        }
        r = follow => match r {
            Ok(Err(e)) => Err(e),
            Ok(Ok(())) => Ok(()),
            Err(e) => Err(EdgeError::Stream(format!("the follower stopped: {e}"))),
        },
    }
}

/// An ordered consumer of the whole stream, from the first chunk of its newest snapshot
/// (from its start when it holds none yet: the edge then waits for the core's next one).
async fn subscribe(
    js: &jetstream::Context,
    settings: &StreamSettings,
    subjects: &Subjects,
) -> Result<Messages, EdgeError> {
    let stream = loop {
        match js.get_stream(&settings.stream).await {
            Ok(s) => break s,
            Err(e) => {
                tracing::warn!(stream = %settings.stream, "waiting for the core's stream: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let deliver_policy = match stream
        .get_last_raw_message_by_subject(&subjects.snapshot())
        .await
    {
        Ok(m) => match wire::decode(&m.payload) {
            // A snapshot's chunks are published back to back by the core's one publisher.
            Ok(Msg::Snapshot(c)) => DeliverPolicy::ByStartSequence {
                start_sequence: m.sequence.saturating_sub(u64::from(c.part)).max(1),
            },
            _ => DeliverPolicy::All,
        },
        Err(_) => DeliverPolicy::All,
    };
    tracing::info!(?deliver_policy, "following the stream");
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subject: subjects.all(),
            deliver_policy,
            ..Default::default()
        })
        .await
        .map_err(|e| EdgeError::Stream(format!("creating a consumer: {e}")))?;
    consumer
        .messages()
        .await
        .map_err(|e| EdgeError::Stream(format!("reading the stream: {e}")))
}

/// The next message of the stream that decodes.
async fn next(messages: &mut Messages) -> Result<Msg, EdgeError> {
    loop {
        match messages.next().await {
            Some(Ok(m)) => match wire::decode(&m.payload) {
                Ok(msg) => return Ok(msg),
                Err(e) => tracing::warn!(subject = %m.subject, "skipping a message: {e}"),
            },
            Some(Err(e)) => return Err(EdgeError::Stream(format!("reading the stream: {e}"))),
            None => return Err(EdgeError::Stream("the stream ended".into())),
        }
    }
}

async fn follow(
    js: jetstream::Context,
    settings: StreamSettings,
    subjects: Subjects,
    mut messages: Messages,
    mut follower: Follower,
    mut publisher: Publisher,
    progress: Arc<Progress>,
) -> Result<(), EdgeError> {
    loop {
        let msg = match next(&mut messages).await {
            Ok(m) => m,
            Err(e) => {
                // Start again from the newest snapshot: it confirms or replaces the state.
                tracing::warn!("{e}; subscribing again");
                tokio::time::sleep(Duration::from_secs(1)).await;
                messages = subscribe(&js, &settings, &subjects).await?;
                continue;
            }
        };
        match follower.push(msg) {
            Step::Wait => {}
            Step::Apply(events) => {
                publisher.publish(&events);
                progress.commands.fetch_add(1, Ordering::Relaxed);
            }
            Step::Snapshot {
                body,
                seq,
                restore: true,
                ..
            } => {
                if let Some(closed) = adopt(publisher.feed(), body.feed)? {
                    tracing::warn!(seq, closed, "state replaced by the core's snapshot");
                }
                progress.restores.fetch_add(1, Ordering::Relaxed);
                progress.synced.store(true, Ordering::Release);
            }
            Step::Snapshot {
                body,
                seq,
                in_step: true,
                ..
            } => {
                // In step with the core: the image must be the one this edge built. If it
                // is not, the core's wins (and the difference is counted: it is a bug).
                if adopt(publisher.feed(), body.feed)?.is_some() {
                    progress.diverged.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(seq, "the edge's state differed from the core's snapshot");
                }
            }
            Step::Snapshot { .. } => {}
            Step::Gap(why) => {
                progress.gaps.fetch_add(1, Ordering::Relaxed);
                progress.synced.store(false, Ordering::Release);
                tracing::warn!("gap in the stream ({why}): waiting for the next snapshot");
            }
        }
        if let Some(p) = follower.position() {
            progress.position.store(p, Ordering::Release);
        }
    }
}

/// Takes the core's `image` (fitted to this edge's retention) in place of the feed's state
/// if the two differ, closing every subscriber so it resubscribes to the new state; returns
/// how many were closed, or `None` if the states were the same.
fn adopt(feed: &Feed, mut image: bourse_feed::FeedImage) -> Result<Option<usize>, EdgeError> {
    image.fit(feed.config());
    let mut mine = feed.image();
    mine.trim_like(&image);
    if mine.same_as(&image) {
        return Ok(None);
    }
    feed.restore(image)
        .map_err(|e| EdgeError::Stream(format!("restart the edge: {e}")))?;
    Ok(Some(feed.close_subscribers(
        "resync: the edge took a fresh snapshot; reconnect and subscribe again",
    )))
}
