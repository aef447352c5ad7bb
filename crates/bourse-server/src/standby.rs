//! `bourse serve --standby`: a hot standby (DESIGN §9, PostgreSQL journal only).
//!
//! It follows the journal as the primary writes it — woken by the journal's notification,
//! reading by seq, so a lost notification costs a poll interval and never a record — and
//! applies every command to its own engine, releasing the outcomes to the same consumers a
//! primary has (read model, market data, alerts, directory, FIX hub), so its state hash is
//! the primary's and a takeover has nothing to rebuild. Its API answers only `/healthz`
//! (503, `"status": "standby"`, with its lag and state hash) and `/metrics`; everything
//! else is `503 STANDBY`.
//!
//! It watches the lease every `ha.poll_ms`. Once the lease has lapsed it takes it (the
//! fencing token rises; the row lock waits for an append already running under the old
//! token), reads the journal to its end — final now: the old token can append no more —
//! ends the old writer's database sessions, and hands its engine to the normal start of a
//! primary (`serve.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bourse_api::error::ApiError;
use bourse_core::Seq;
use bourse_engine::{Engine, EventBatch, StateHash};
use bourse_journal::{AppendSignal, Journal as _, Lease, LeaseView, PgJournal};
use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::pipeline::Release;

/// Commands per release batch while catching up.
const BATCH: usize = 1_024;
/// How often a caught-up standby recomputes its state hash for `/healthz`.
const HASH_EVERY: Duration = Duration::from_secs(2);

/// What a standby shows of itself; shared with its health route.
#[derive(Debug, Default)]
pub struct StandbyStatus {
    pub applied: AtomicU64,
    pub journal_end: AtomicU64,
    /// Milliseconds between now and the newest applied command's time, while more were
    /// waiting at the last look (0 when caught up).
    pub lag_ms: AtomicU64,
    pub hash: Mutex<Option<(Seq, StateHash)>>,
    pub lease: Mutex<Option<LeaseView>>,
    pub taking_over: AtomicBool,
}

impl StandbyStatus {
    #[must_use]
    pub fn health(&self) -> Value {
        let applied = self.applied.load(Ordering::Relaxed);
        let end = self.journal_end.load(Ordering::Relaxed);
        let hash = *self.hash.lock();
        let lease = self.lease.lock().clone();
        json!({
            "status": "standby",
            "role": if self.taking_over.load(Ordering::Relaxed) { "taking-over" } else { "standby" },
            "standby": {
                "applied_seq": applied,
                "journal_end": end,
                "lag_commands": end.saturating_sub(applied),
                "lag_ms": self.lag_ms.load(Ordering::Relaxed),
                "state_hash": hash.map(|(_, h)| h.to_string()),
                "state_hash_seq": hash.map(|(s, _)| s.0),
            },
            "lease": lease.map(|l| json!({
                "token": l.token,
                "holder": l.holder,
                "expires_in_ms": l.expires_in_ms,
            })),
        })
    }

    /// `/metrics` of a standby (OpenMetrics text, through the same library as a primary's).
    #[must_use]
    pub fn metrics(&self) -> String {
        use prometheus_client::metrics::gauge::Gauge;
        let applied = self.applied.load(Ordering::Relaxed);
        let end = self.journal_end.load(Ordering::Relaxed);
        let token = self.lease.lock().as_ref().map_or(0, |l| l.token);
        let mut reg = prometheus_client::registry::Registry::default();
        let mut gauge = |name: &str, help: &str, v: u64| {
            let g = Gauge::<i64>::default();
            g.set(i64::try_from(v).unwrap_or(i64::MAX));
            reg.register(name, help, g);
        };
        gauge("bourse_standby", "1 while this process is a standby", 1);
        gauge(
            "bourse_standby_applied_seq",
            "The last journal seq applied to this standby's engine",
            applied,
        );
        gauge(
            "bourse_standby_journal_end_seq",
            "The journal's end at the standby's last look",
            end,
        );
        gauge(
            "bourse_standby_lag_commands",
            "Journaled commands not applied yet",
            end.saturating_sub(applied),
        );
        gauge(
            "bourse_standby_lag_milliseconds",
            "Age of the newest applied command while more were waiting (0 when caught up)",
            self.lag_ms.load(Ordering::Relaxed),
        );
        gauge(
            "bourse_lease_token",
            "The lease's fencing token at the last look",
            u64::try_from(token).unwrap_or(0),
        );
        if let Some((seq, hash)) = *self.hash.lock() {
            // The state hash is a label (an info metric): compare it with the primary's
            // `bourse replay` at the same seq.
            reg.register(
                "bourse_standby_state",
                "The standby's state hash, and the seq it was taken at",
                prometheus_client::metrics::info::Info::new(vec![
                    ("state_hash".to_owned(), hash.to_string()),
                    ("seq".to_owned(), seq.0.to_string()),
                ]),
            );
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &reg).is_err() {
            out.clear();
        }
        out
    }
}

/// The standby's HTTP face: health and metrics; everything else `503 STANDBY`.
pub fn router(status: Arc<StandbyStatus>) -> Router {
    let (h, m) = (status.clone(), status);
    Router::new()
        .route(
            "/healthz",
            get(move || {
                let s = h.clone();
                async move { (StatusCode::SERVICE_UNAVAILABLE, axum::Json(s.health())) }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let s = m.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, bourse_api::METRICS_CONTENT_TYPE)],
                        s.metrics(),
                    )
                }
            }),
        )
        .fallback(|| async { refuse() })
}

fn refuse() -> Response {
    let mut e = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "STANDBY",
        "this server is a standby: it takes over if the primary stops; send requests to the \
         primary",
    );
    e.retry_after = Some(1);
    e.into_response()
}

/// A standby's moving parts.
pub struct Follow {
    pub journal: PgJournal,
    pub signal: AppendSignal,
    pub lease: Lease,
    pub engine: Engine,
    pub sinks: Vec<Box<dyn Release>>,
    pub status: Arc<StandbyStatus>,
    /// How often to look at the lease (and, without notifications, at the journal).
    pub poll: Duration,
    /// Set to stop following (shutdown).
    pub stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for Follow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follow")
            .field("seq", &self.engine.last_seq())
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

/// What a takeover hands to the primary's start.
pub struct Promoted {
    pub engine: Engine,
    pub sinks: Vec<Box<dyn Release>>,
    pub lease: Lease,
    pub token: i64,
    /// When the lapsed lease was seen.
    pub noticed: Instant,
    /// Commands applied while a standby.
    pub applied: u64,
    /// Database sessions of the old writer that were ended.
    pub ended_sessions: u64,
}

impl std::fmt::Debug for Promoted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Promoted")
            .field("seq", &self.engine.last_seq())
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// Follows the journal until the lease is taken (`Some`) or `stop` is set (`None`).
pub fn follow(mut f: Follow) -> Result<Option<Promoted>> {
    let mut out = Vec::new();
    let mut batch = EventBatch::replayed(BATCH);
    let mut applied = 0u64;
    let mut lease_seen = Instant::now() - f.poll;
    let mut hashed = Instant::now() - HASH_EVERY;
    let mut warned = false;
    f.status
        .applied
        .store(f.engine.last_seq().0, Ordering::Relaxed);
    loop {
        if f.stop.load(Ordering::Acquire) {
            return Ok(None);
        }
        applied += catch_up(&mut f, &mut batch, &mut out)?;
        if lease_seen.elapsed() >= f.poll {
            lease_seen = Instant::now();
            match f.lease.view() {
                Ok(view) => {
                    warned = false;
                    let lapsed = view.as_ref().is_none_or(|v| v.expires_in_ms < 0);
                    *f.status.lease.lock() = view;
                    if lapsed && let Some(token) = f.lease.try_acquire()? {
                        let noticed = lease_seen;
                        f.status.taking_over.store(true, Ordering::Relaxed);
                        tracing::warn!(token, "the primary's lease lapsed: taking over");
                        // Final: no append under the old token can commit any more.
                        applied += catch_up(&mut f, &mut batch, &mut out)?;
                        let ended_sessions = f
                            .lease
                            .fence_out()
                            .context("ending the old writer's sessions")?;
                        return Ok(Some(Promoted {
                            engine: f.engine,
                            sinks: f.sinks,
                            lease: f.lease,
                            token,
                            noticed,
                            applied,
                            ended_sessions,
                        }));
                    }
                }
                Err(e) if !warned => {
                    warned = true;
                    tracing::warn!("standby: reading the lease failed: {e}; retrying");
                }
                Err(_) => {}
            }
        }
        let end = f.status.journal_end.load(Ordering::Relaxed);
        if f.engine.last_seq().0 >= end && hashed.elapsed() >= HASH_EVERY {
            hashed = Instant::now();
            if let Ok(h) = f.engine.state_hash() {
                *f.status.hash.lock() = Some((f.engine.last_seq(), h));
            }
        }
        f.signal.wait(f.poll);
    }
}

/// Applies everything journaled after the engine's seq; returns how many commands.
fn catch_up(
    f: &mut Follow,
    batch: &mut EventBatch,
    out: &mut Vec<bourse_core::Event>,
) -> Result<u64> {
    let end = f
        .journal
        .refresh_end()
        .context("reading the journal's end")?;
    f.status.journal_end.store(end.0, Ordering::Relaxed);
    if f.engine.last_seq() >= end {
        f.status.lag_ms.store(0, Ordering::Relaxed);
        return Ok(0);
    }
    let mut n = 0u64;
    let from = Seq(f.engine.last_seq().0 + 1);
    let Follow {
        journal,
        engine,
        sinks,
        status,
        ..
    } = f;
    journal
        .for_each_from(from, &mut |rec| {
            out.clear();
            engine.apply(&rec, out);
            for e in out.iter() {
                if let bourse_core::Event::ProfileChanged { account } = *e
                    && let Some(p) = engine.profiles().get(account)
                {
                    batch.push_profile(rec.seq, account, Arc::new(p.clone()));
                }
            }
            batch.push_replayed(rec.seq, rec.ts, engine.tag(rec.seq, rec.ts, out));
            n += 1;
            if batch.len() >= BATCH {
                release(sinks, batch, status);
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
                let age = now.saturating_sub(rec.ts.get()) / 1_000_000;
                status.lag_ms.store(age, Ordering::Relaxed);
            }
            Ok(())
        })
        .context("following the journal")?;
    release(sinks, batch, status);
    status.lag_ms.store(0, Ordering::Relaxed);
    Ok(n)
}

fn release(sinks: &mut [Box<dyn Release>], batch: &mut EventBatch, status: &StandbyStatus) {
    let Some(last) = batch.last_seq() else {
        return;
    };
    for s in sinks.iter_mut() {
        s.release(batch);
    }
    status.applied.store(last.0, Ordering::Relaxed);
    batch.clear();
}
