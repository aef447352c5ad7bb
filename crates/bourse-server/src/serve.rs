//! `bourse serve`: recovery, then the engine, the journal writer, the publisher and the HTTP
//! API, until SIGINT/SIGTERM; then a drain, a last commit and a snapshot.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use std::collections::HashMap;

use anyhow::{Context, Result, bail};
use axum::http::{HeaderValue, header};
use bourse_api::readmodel::{
    History, PgHistory, PgProjector, PgReadModelOptions, ReadModel, Retention,
};
use bourse_api::{
    Directory, DirectorySeed, Gateway, HttpConfig, Listing, Listings, Operations, Refused,
    Sequencer, UserEntry,
};
use bourse_core::{Command, Seq};
use bourse_core::{Price, Symbol};
use bourse_engine::{
    Engine, EngineConfig, Instrument, InstrumentsFile, Runner, RunnerConfig, RunnerHandle,
    SubmitError, Ticket, WaitStrategy,
};
use bourse_journal::Journal;
use bourse_journal::{FileJournal, FileJournalOptions, PgJournal, PgJournalOptions};
use parking_lot::RwLock;
use serde_json::{Value, json};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::{Backend, COMPANIES_TOML, Config, INSTRUMENTS_TOML};
use crate::listener::HttpServer;
use crate::pipeline::{
    BookRelease, BoxJournal, FeedRelease, FixRelease, GatewayRelease, IdentityRelease,
    JournalStats, ReadModelRelease, RejectCounts, RejectRelease, Watermark, WriterConfig,
    encode_snapshot, spawn_publisher, spawn_writer,
};
use crate::recovery::{Recovered, Start, recover};

/// The company data file the settings name (the embedded sample file by default).
pub fn companies_file(cfg: &Config) -> Result<bourse_api::companies::CompaniesFile> {
    let text = if cfg.server.companies.is_empty() {
        COMPANIES_TOML.to_owned()
    } else {
        std::fs::read_to_string(&cfg.server.companies)
            .with_context(|| format!("reading {}", cfg.server.companies))?
    };
    toml::from_str(&text).context("parsing the company data")
}

/// The company data, checked against the listed stocks.
pub fn companies(
    cfg: &Config,
    listings: &bourse_api::Listings,
) -> Result<bourse_api::companies::Companies> {
    bourse_api::companies::Companies::from_file(companies_file(cfg)?, listings)
        .map_err(|e| anyhow::anyhow!("checking the company data: {e}"))
}

/// The instrument list the settings name.
pub fn instruments(cfg: &Config) -> Result<Vec<Instrument>> {
    let text = if cfg.engine.instruments.is_empty() {
        INSTRUMENTS_TOML.to_owned()
    } else {
        std::fs::read_to_string(&cfg.engine.instruments)
            .with_context(|| format!("reading {}", cfg.engine.instruments))?
    };
    let file: InstrumentsFile = toml::from_str(&text).context("parsing the instrument list")?;
    file.resolve().context("checking the instrument list")
}

/// The state before the first command.
pub fn genesis(cfg: &Config) -> Result<Engine> {
    let ec = EngineConfig {
        maker_fee_bps: cfg.engine.maker_fee_bps,
        taker_fee_bps: cfg.engine.taker_fee_bps,
        market_collar_bps: cfg.engine.market_collar_bps,
        client_id_retention: cfg.engine.client_id_retention,
    };
    Engine::new(ec, instruments(cfg)?).context("building the engine")
}

/// Opens the journal the settings choose.
pub fn open_journal(cfg: &Config) -> Result<(BoxJournal, String)> {
    open_journal_fenced(cfg, None)
}

/// [`open_journal`], appending only while the lease carries `fence` (PostgreSQL).
pub fn open_journal_fenced(cfg: &Config, fence: Option<i64>) -> Result<(BoxJournal, String)> {
    match cfg.backend()? {
        Backend::File { dir, segment_bytes } => {
            let opts = FileJournalOptions {
                segment_bytes,
                ..FileJournalOptions::default()
            };
            let j = FileJournal::open(&dir, opts)
                .with_context(|| format!("opening the file journal in {}", dir.display()))?;
            Ok((Box::new(j), format!("file:{}", dir.display())))
        }
        Backend::Postgres { url, schema } => {
            let mut o = PgJournalOptions::new(url);
            o.schema = schema.clone();
            o.fence = fence;
            let j = PgJournal::open(o).context("opening the PostgreSQL journal")?;
            let name = match schema {
                Some(s) => format!("postgres (schema {s})"),
                None => "postgres".to_owned(),
            };
            Ok((Box::new(j), name))
        }
    }
}

/// Opens the journal and rebuilds the state from it.
pub fn open_and_recover(
    cfg: &Config,
    start: Start,
) -> Result<(BoxJournal, String, Engine, Recovered)> {
    open_and_recover_fenced(cfg, start, None)
}

/// [`open_and_recover`] for a primary holding the lease with token `fence`.
fn open_and_recover_fenced(
    cfg: &Config,
    start: Start,
    fence: Option<i64>,
) -> Result<(BoxJournal, String, Engine, Recovered)> {
    let (journal, name) = open_journal_fenced(cfg, fence)?;
    tracing::info!(journal = %name, durable_seq = journal.durable_seq().0, "journal open");
    let (engine, rec) = recover(
        &*journal,
        || genesis(cfg),
        start,
        cfg.engine.expected_working_orders,
        |s| {
            tracing::info!(seq = s.0, "replaying");
        },
    )?;
    Ok((journal, name, engine, rec))
}

/// The gateway's copy of the recovered identity state.
fn directory_seed(engine: &Engine) -> DirectorySeed {
    let id = engine.identity();
    DirectorySeed {
        users: id
            .users()
            .map(|(name, u)| {
                (
                    name.to_owned(),
                    UserEntry {
                        account: u.account,
                        role: u.role,
                        password_hash: u.password_hash.clone(),
                    },
                )
            })
            .collect(),
        sessions: id.sessions().collect(),
        keys: id
            .keys()
            .map(|(kid, k)| (kid, k.account, k.secret, k.scopes))
            .collect(),
        customers: id.customers().collect(),
    }
}

/// The read model, rebuilt from the whole journal (balances, cost basis and history need
/// every event since the first), and with PostgreSQL the projector brought up to date.
#[allow(clippy::type_complexity)]
fn build_read_model(
    cfg: &Config,
    journal: &dyn Journal,
    engine: &Engine,
    feed: &mut bourse_feed::Publisher,
    books: &BookRelease,
    shadow: bool,
    notify: (u64, &mut Vec<bourse_notify::NewDelivery>),
) -> Result<(
    Arc<RwLock<ReadModel>>,
    Option<PgProjector>,
    Option<PgReadModelOptions>,
)> {
    let t = std::time::Instant::now();
    let reference: HashMap<Symbol, Price> = engine
        .instruments()
        .iter()
        .map(|i| (i.symbol, i.reference_price))
        .collect();
    let (retention, opts) = match cfg.backend()? {
        Backend::Postgres { url, schema } => {
            let mut o = PgReadModelOptions::new(url);
            o.schema = schema;
            (Retention::OpenOrders, Some(o))
        }
        Backend::File { .. } => (
            Retention::Recent {
                ended_orders: cfg.journal.history_orders_kept,
                activities: cfg.journal.history_activities_kept,
                events: cfg.journal.history_events_kept,
            },
            None,
        ),
    };
    let mut model = ReadModel::new(reference, retention);
    let mut projector = match &opts {
        // A standby's projector writes nothing until it takes over.
        Some(o) if shadow => Some(
            PgProjector::start_shadow(o.clone())
                .map_err(|e| anyhow::anyhow!("starting the read-model projector: {e}"))?,
        ),
        Some(o) => Some(
            PgProjector::start(o.clone())
                .map_err(|e| anyhow::anyhow!("starting the read-model projector: {e}"))?,
        ),
        None => None,
    };
    let projected = projector.as_ref().map_or(Seq(0), PgProjector::committed);
    let mut replay = match journal.snapshot_at(Seq(0))? {
        Some(bytes) => crate::pipeline::decode_snapshot(&bytes)?.0,
        None => genesis(cfg)?,
    };
    let mut out = Vec::new();
    let mut tagged = Vec::new();
    journal.for_each_from(Seq(1), &mut |rec| {
        out.clear();
        replay.apply(&rec, &mut out);
        tagged.clear();
        tagged.extend(replay.tag(rec.seq, rec.ts, &out));
        model.apply(rec.seq, rec.ts, &tagged);
        feed.publish(&tagged);
        books.alerts.apply(rec.ts, &out);
        books.watchlists.apply(rec.ts, &out);
        if rec.seq.0 > notify.0 {
            crate::notifyrelease::derive_replayed(rec.seq.0, rec.ts, &tagged, &replay, notify.1);
        }
        // All of it: what the tables already hold rebuilds the projector's working orders.
        // (`apply` hands full chunks on by itself.)
        if let Some(p) = projector.as_mut() {
            p.apply(rec.seq, rec.ts, &tagged);
        }
        Ok(())
    })?;
    if let Some(p) = projector.as_mut() {
        p.flush();
    }
    tracing::info!(
        seq = replay.last_seq().0,
        projected_before = projected.0,
        ms = u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX),
        "read model rebuilt"
    );
    Ok((Arc::new(RwLock::new(model)), projector, opts))
}

/// The engine's inbound queue, once the engine runs (a standby's starts at its takeover;
/// until then the API is not served, so nothing submits).
#[derive(Default)]
struct RunnerSequencer(std::sync::OnceLock<RunnerHandle>);

impl Sequencer for RunnerSequencer {
    fn submit(&self, cmd: Command, ticket: u64) -> Result<(), Refused> {
        let Some(handle) = self.0.get() else {
            return Err(Refused::Closed);
        };
        handle
            .submit_with(cmd, Ticket(ticket))
            .map_err(|e| match e {
                SubmitError::Overloaded(_) => Refused::Overloaded,
                SubmitError::Closed(_) => Refused::Closed,
            })
    }
}

struct Ops {
    handle: RunnerHandle,
    watermark: Arc<Watermark>,
    stats: Arc<JournalStats>,
    released: Arc<AtomicU64>,
    journal: String,
    recovered: Recovered,
    feed: Arc<bourse_feed::Feed>,
    metrics: crate::metrics::Metrics,
    /// With a PostgreSQL journal: the lease this primary holds, and how it got it.
    leader: Option<Leader>,
    /// With `nats.url` set: the edge publisher's counters.
    nats: Option<Arc<crate::natsrelease::NatsStats>>,
}

/// What a primary's health shows of its leadership.
struct Leader {
    state: Arc<crate::leadership::LeaseState>,
    holder: String,
    /// Set when this process took over as a standby.
    took_over: Option<Value>,
}

impl Operations for Ops {
    fn request_snapshot(&self) {
        self.handle.request_snapshot();
    }

    fn metrics(&self) -> String {
        self.metrics.render()
    }

    fn health(&self) -> Value {
        let st = self.handle.status();
        let failing = self.stats.failing.load(Ordering::Relaxed);
        let failed = self.stats.failed.load(Ordering::Relaxed);
        let ok = st.running && !failing && !failed;
        json!({
            "status": if ok { "ok" } else { "degraded" },
            "engine": {
                "running": st.running,
                "pinned": st.pinned,
                "seq": st.last_seq.0,
                "queued": st.queued,
                "overloaded": st.overloaded,
                "stalls": st.stalls,
            },
            "journal": {
                "backend": self.journal,
                "durable_seq": self.watermark.get().0,
                "released_seq": self.released.load(Ordering::Relaxed),
                "failing": failing,
                "failed": failed,
                "commits": self.stats.commits.load(Ordering::Relaxed),
                "commands": self.stats.commands.load(Ordering::Relaxed),
                "largest_batch": self.stats.largest_batch.load(Ordering::Relaxed),
                "retries": self.stats.retries.load(Ordering::Relaxed),
                "snapshots": self.stats.snapshots.load(Ordering::Relaxed),
                "last_snapshot_seq": self.stats.last_snapshot_seq.load(Ordering::Relaxed),
            },
            "feed": {
                "connections": self.feed.stats.connections.load(Ordering::Relaxed),
                "updates": self.feed.stats.updates.load(Ordering::Relaxed),
                "delivered": self.feed.stats.delivered.load(Ordering::Relaxed),
                "delivered_bytes": self.feed.stats.delivered_bytes.load(Ordering::Relaxed),
                "conflated": self.feed.stats.conflated.load(Ordering::Relaxed),
                "slow_disconnects": self.feed.stats.slow_disconnects.load(Ordering::Relaxed),
            },
            "nats": self.nats.as_ref().map(|n| json!({
                "published": n.published.load(Ordering::Relaxed),
                "dropped": n.dropped.load(Ordering::Relaxed),
                "failed": n.failed.load(Ordering::Relaxed),
                "snapshots": n.snapshots.load(Ordering::Relaxed),
            })),
            "role": "primary",
            "lease": self.leader.as_ref().map(|l| json!({
                "token": l.state.token.load(Ordering::Relaxed),
                "holder": l.holder,
                "failing_renewals": l.state.failing.load(Ordering::Relaxed),
            })),
            "took_over": self.leader.as_ref().and_then(|l| l.took_over.clone()),
            "recovered": {
                "seq": self.recovered.seq.0,
                "snapshot_seq": self.recovered.snapshot_seq.map(|s| s.0),
                "replayed": self.recovered.replayed,
                "state_hash": self.recovered.hash.to_string(),
                "ms": u64::try_from(self.recovered.elapsed.as_millis()).unwrap_or(u64::MAX),
            },
        })
    }
}

/// The feed's limits from the settings.
pub fn feed_config(cfg: &Config) -> bourse_feed::FeedConfig {
    let f = &cfg.feed;
    bourse_feed::FeedConfig {
        soft_bytes: f.soft_queue_bytes,
        hard_bytes: f.hard_queue_bytes,
        max_behind: Duration::from_secs(f.max_behind_secs),
        max_subscriptions: f.max_subscriptions,
        max_connections: f.max_connections,
        retention: bourse_feed::Retention {
            trades: f.trades_kept,
            candles: f.candles_kept,
        },
        private_window: f.private_window,
    }
}

fn wait_strategy(cfg: &Config) -> WaitStrategy {
    let spin = Duration::from_micros(cfg.engine.spin_us);
    match cfg.engine.wait.as_str() {
        "busy-spin" => WaitStrategy::BusySpin,
        "spin-then-yield" => WaitStrategy::SpinThenYield { spin },
        _ => WaitStrategy::SpinThenPark { spin },
    }
}

/// How much longer than `server.request_timeout_ms` (the wait for a command's durable outcome)
/// a whole HTTP request may take: reading the body, checking a password, the outcome wait.
const REQUEST_DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// Runs the server until a shutdown signal.
pub fn serve(cfg: &Config) -> Result<()> {
    serve_as(cfg, None, false)
}

/// [`serve`], with the demo's simulated market and demo user when `demo` is given.
pub fn serve_with(cfg: &Config, demo: Option<crate::demo::Demo>) -> Result<()> {
    serve_as(cfg, demo, false)
}

/// `bourse serve --standby`: follow the journal until the primary's lease lapses, then take
/// over and serve until a shutdown signal (see [`crate::standby`]).
pub fn serve_standby(cfg: &Config) -> Result<()> {
    serve_as(cfg, None, true)
}

/// The journal a server starts with: the writer's, or a standby's reader.
enum Opened {
    Writer(BoxJournal),
    /// A standby's reader, with the lease settings it watches.
    Reader(Box<PgJournal>, bourse_journal::LeaseOptions),
}

impl Opened {
    fn as_journal(&self) -> &dyn Journal {
        match self {
            Opened::Writer(j) => &**j,
            Opened::Reader(j, _) => &**j,
        }
    }
}

#[allow(clippy::too_many_lines)] // the start-up order, in one place
fn serve_as(cfg: &Config, demo: Option<crate::demo::Demo>, standby: bool) -> Result<()> {
    // Before anything else: a missing or mismatched certificate stops the start at once.
    let tls = match cfg.tls() {
        Some((cert, key)) if demo.is_none() => Some(crate::tls::load(&cert, &key)?),
        Some(_) => bail!("the demo serves plain HTTP: unset server.tls_cert and server.tls_key"),
        None => None,
    };
    let lease_opts = crate::leadership::lease_options(cfg)?;
    let mut held: Option<(bourse_journal::Lease, i64)> = None;
    let (opened, journal_name, engine, recovered) = if standby {
        let Some(lo) = lease_opts.clone() else {
            bail!("--standby follows a PostgreSQL journal: set journal.database_url");
        };
        let mut o = PgJournalOptions::new(lo.url.clone());
        o.schema = lo.schema.clone();
        let reader = PgJournal::open_reader(o).context("opening the PostgreSQL journal")?;
        let name = match &lo.schema {
            Some(s) => format!("postgres (schema {s})"),
            None => "postgres".to_owned(),
        };
        let (engine, rec) = recover(
            &reader,
            || genesis(cfg),
            Start::LatestSnapshot,
            cfg.engine.expected_working_orders,
            |s| tracing::info!(seq = s.0, "replaying"),
        )?;
        (Opened::Reader(Box::new(reader), lo), name, engine, rec)
    } else {
        // The lease first: nothing else may write while this process recovers.
        if let Some(lo) = lease_opts.clone() {
            held = Some(crate::leadership::acquire(cfg, lo)?);
        }
        let fence = held.as_ref().map(|(_, t)| *t);
        let (j, name, engine, rec) = open_and_recover_fenced(cfg, Start::LatestSnapshot, fence)?;
        (Opened::Writer(j), name, engine, rec)
    };
    tracing::info!(
        seq = recovered.seq.0,
        snapshot_seq = ?recovered.snapshot_seq.map(|s| s.0),
        replayed = recovered.replayed,
        ms = u64::try_from(recovered.elapsed.as_millis()).unwrap_or(u64::MAX),
        state_hash = %recovered.hash,
        standby,
        "recovered"
    );
    let mut opened = opened;
    if let Opened::Writer(journal) = &mut opened
        && recovered.seq == Seq(0)
        && journal.latest_snapshot()?.is_none()
    {
        // The genesis state (instruments, fees) is journal data too: a replay from scratch
        // starts from it, whatever the settings say later.
        let (bytes, _) = encode_snapshot(&engine.snapshot())?;
        journal
            .save_snapshot(Seq(0), &bytes)
            .context("saving the genesis snapshot")?;
    }
    let listings = Listings::new(
        engine
            .instruments()
            .iter()
            .map(|i| Listing {
                symbol: i.symbol,
                name: i.name.clone(),
                sector: i.sector.clone(),
                tick: i.tick,
                lot: i.lot,
                max_qty: i.max_qty,
                fractional: i.fractional,
            })
            .collect(),
    );
    let seed = directory_seed(&engine);
    let vault = Arc::new(cfg.vault()?);
    let feed = Arc::new(bourse_feed::Feed::new(
        engine
            .instruments()
            .iter()
            .map(|i| (i.symbol, i.reference_price)),
        feed_config(cfg),
    ));
    let mut feed_publisher = bourse_feed::Publisher::new(feed.clone());
    // Rebuilt from the journal like the read model, so fired alerts stay on record.
    let books = BookRelease {
        alerts: Arc::new(bourse_api::alerts::AlertBook::new(std::iter::empty())),
        watchlists: Arc::default(),
        // Profiles are engine state: the recovered engine's are current.
        profiles: Arc::new(bourse_api::profilebook::ProfileBook::seeded(
            engine.profiles().iter(),
        )),
    };
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if cfg.server.workers > 0 {
        rt.worker_threads(cfg.server.workers);
    }
    let rt = rt.enable_all().thread_name("bourse-api").build()?;
    // Listen for SIGTERM/SIGINT before anything is announced: a signal that came between the
    // "listening" line and a later registration would take the default action and kill the
    // process without its drain and snapshot.
    let mut shutdown = rt.block_on(async { bourse_api::shutdown::Shutdown::listen() });
    // Notifications: the outbox (a primary delivers from it; a standby only derives, for its
    // takeover). What the outbox lacks of the journal is derived again in the replay below;
    // a new outbox starts from now rather than notify of the whole history.
    let notify_log = Arc::new(std::sync::OnceLock::new());
    let resolver = Arc::new(crate::notifyrelease::Resolver {
        profiles: books.profiles.clone(),
        vault: vault.clone(),
    });
    let start_notifier = {
        let (cfg_n, resolver, handle) = (cfg.notify.clone(), resolver.clone(), rt.handle().clone());
        let store = crate::notifyrelease::store(cfg)?;
        move || -> Result<Arc<bourse_notify::Notifier>> {
            Ok(Arc::new(
                bourse_notify::Notifier::start(cfg_n, store, resolver, handle)
                    .context("starting the notification outbox")?,
            ))
        }
    };
    let notifier = if standby {
        None
    } else {
        Some(start_notifier.clone()()?)
    };
    let last = engine.last_seq().0;
    let derive_from = match &notifier {
        Some(n) if n.derived_through() == 0 => last,
        Some(n) => n.derived_through(),
        None => last.saturating_sub(100_000),
    };
    let mut caught_up = Vec::new();
    let (model, projector, read_opts) = build_read_model(
        cfg,
        opened.as_journal(),
        &engine,
        &mut feed_publisher,
        &books,
        standby,
        (derive_from, &mut caught_up),
    )?;
    if !caught_up.is_empty() {
        tracing::info!(
            from = derive_from,
            deliveries = caught_up.len(),
            "notifications: re-derived what the outbox lacked"
        );
    }
    if let Some(n) = &notifier {
        let _ = notify_log.set(n.clone());
    }
    let (mut notify_sink, notify_handle) = crate::notifyrelease::NotifyRelease::new(
        engine.profiles().iter(),
        notifier.clone(),
        derive_from,
    )?;
    notify_sink.catch_up(caught_up, last);
    let (alert_book, watchlist_book) = (books.alerts.clone(), books.watchlists.clone());
    let profile_book = books.profiles.clone();
    let projector_progress = projector.as_ref().map(PgProjector::progress);
    let promotion = projector.as_ref().and_then(PgProjector::promotion);
    let listed: Vec<Instrument> = engine.instruments().to_vec();
    let sequencer = Arc::new(RunnerSequencer::default());
    let gateway = Arc::new(Gateway::new(
        sequencer.clone(),
        Duration::from_millis(cfg.server.request_timeout_ms),
    ));
    let rejects = Arc::new(RejectCounts::default());
    let operator_token =
        (!cfg.server.operator_token.is_empty()).then_some(cfg.server.operator_token.as_str());
    let directory = Arc::new(Directory::new(seed, operator_token));
    let fix_hub = Arc::new(bourse_fix::FixHub::new(directory.clone()));
    let sinks: Vec<Box<dyn crate::pipeline::Release>> = vec![
        // The alert and watchlist books first: a request is answered only after they have
        // its events.
        Box::new(books),
        Box::new(ReadModelRelease {
            model: model.clone(),
            projector,
        }),
        // Before the gateway: a client told of a rejection finds it counted, and one told
        // of a log-out or revocation finds it in force.
        Box::new(RejectRelease(rejects.clone())),
        Box::new(IdentityRelease(directory.clone())),
        Box::new(FixRelease(fix_hub.clone())),
        Box::new(GatewayRelease(gateway.clone())),
        // Last: market data and notifications never delay an answer.
        Box::new(FeedRelease::start(feed_publisher, 1_024)?),
        Box::new(notify_sink),
    ];
    let scheme = if tls.is_some() { "https" } else { "http" };

    // A standby: serve health only, follow the journal, and take over when the lease lapses.
    let mut server: Option<HttpServer> = None;
    let mut took_over: Option<Value> = None;
    let mut took_over_note = String::new();
    let (journal, engine, sinks, lease_held) = match opened {
        Opened::Writer(journal) => (journal, engine, sinks, held),
        Opened::Reader(reader, lo) => {
            let status = Arc::new(crate::standby::StandbyStatus::default());
            let standby_server = rt.block_on(HttpServer::bind(
                &cfg.server.listen,
                tls.clone(),
                with_hsts(crate::standby::router(status.clone()), tls.is_some()),
                true,
            ))?;
            println!(
                "bourse standby on {scheme}://{} (journal {journal_name}, seq {}, state hash {})",
                standby_server.addr, recovered.seq.0, recovered.hash
            );
            let lease =
                bourse_journal::Lease::connect(lo.clone()).context("connecting to the lease")?;
            let stop = Arc::new(AtomicBool::new(false));
            let follow = crate::standby::Follow {
                journal: *reader,
                signal: bourse_journal::AppendSignal::start(&lo.url),
                lease,
                engine,
                sinks,
                status,
                poll: Duration::from_millis(cfg.ha.poll_ms.clamp(5, 1_000)),
                stop: stop.clone(),
            };
            let (tx, rx) = tokio::sync::oneshot::channel();
            let follower = std::thread::Builder::new()
                .name("bourse-standby".into())
                .spawn(move || {
                    let _ = tx.send(crate::standby::follow(follow));
                })
                .context("starting the standby thread")?;
            let outcome = rt.block_on(async {
                tokio::select! {
                    r = rx => Some(r),
                    () = shutdown.wait() => None,
                }
            });
            let promoted = match outcome {
                None => {
                    stop.store(true, Ordering::Release);
                    let _ = follower.join();
                    rt.block_on(standby_server.stop())?;
                    println!("bourse standby stopped");
                    return Ok(());
                }
                Some(Err(_)) => bail!("the standby thread stopped"),
                Some(Ok(r)) => r?,
            };
            let _ = follower.join();
            let Some(p) = promoted else {
                return Ok(());
            };
            let mut o = PgJournalOptions::new(lo.url.clone());
            o.schema = lo.schema.clone();
            o.fence = Some(p.token);
            // Read gap-free up to here, and final since the lease was taken.
            o.verified_end = Some(p.engine.last_seq().0);
            let j: BoxJournal =
                Box::new(PgJournal::open(o).context("opening the journal as its writer")?);
            if let Some(pr) = &promotion {
                pr.promote();
            }
            // Deliveries from here: what the old primary had not enqueued, then live.
            let n = start_notifier()?;
            notify_handle.go_live(n.clone());
            let _ = notify_log.set(n);
            let ms = u64::try_from(p.noticed.elapsed().as_millis()).unwrap_or(u64::MAX);
            tracing::warn!(
                seq = p.engine.last_seq().0,
                token = p.token,
                ended_sessions = p.ended_sessions,
                ms,
                "took over: this process is the primary now"
            );
            took_over = Some(json!({
                "seq": p.engine.last_seq().0,
                "token": p.token,
                "applied_as_standby": p.applied,
                "ended_sessions": p.ended_sessions,
                "ms": ms,
            }));
            took_over_note = format!(
                "; took over at seq {} with fencing token {}",
                p.engine.last_seq().0,
                p.token
            );
            server = Some(standby_server);
            (j, p.engine, p.sinks, Some((p.lease, p.token)))
        }
    };

    // With `nats.url` set: the same events once to JetStream, for edges (else a no-op). It
    // starts from the feed as it stands now, so a standby's feed thread is drained first.
    let mut sinks = sinks;
    for s in &mut sinks {
        s.flush();
    }
    let start_seq = engine.last_seq();
    let nats_stats = Arc::new(crate::natsrelease::NatsStats::default());
    sinks.push(crate::natsrelease::sink(
        cfg,
        &feed,
        &listings,
        start_seq,
        nats_stats.clone(),
    )?);
    let rc = RunnerConfig {
        core: usize::try_from(cfg.engine.core).ok(),
        wait: wait_strategy(cfg),
        inbound_capacity: cfg.engine.inbound_capacity,
        max_batch: cfg.engine.max_batch,
        snapshot_every: (cfg.engine.snapshot_every > 0).then_some(cfg.engine.snapshot_every),
        ..RunnerConfig::default()
    };
    let (runner, outputs) = Runner::start(engine, rc).context("starting the engine")?;
    let _ = sequencer.0.set(runner.handle());
    let st = runner.status();
    tracing::info!(pinned = st.pinned, core = ?st.core, wait = %st.wait, "engine running");

    let watermark = Arc::new(Watermark::new(start_seq));
    let stats = Arc::new(JournalStats::default());
    let give_up = Arc::new(AtomicBool::new(false));
    let released = Arc::new(AtomicU64::new(start_seq.0));
    let writer = spawn_writer(
        journal,
        outputs.journal,
        watermark.clone(),
        stats.clone(),
        give_up.clone(),
        WriterConfig {
            max_batch: cfg.journal.max_batch_commands.max(1),
            backoff: (Duration::from_millis(10), Duration::from_secs(1)),
            keep_snapshots: cfg.journal.keep_snapshots,
        },
    )?;
    let publisher = spawn_publisher(
        outputs.events,
        watermark.clone(),
        stats.clone(),
        sinks,
        released.clone(),
    )?;
    // The lease is renewed from here on; a renewal that finds it taken ends the process.
    let lease_stop = Arc::new(AtomicBool::new(false));
    let lease_state = Arc::new(crate::leadership::LeaseState::default());
    let (keeper, leader) = match lease_held {
        Some((lease, token)) => {
            let holder = lease.options().holder.clone();
            let keeper = crate::leadership::keep(
                lease,
                token,
                Duration::from_millis(cfg.ha.renew_ms),
                lease_stop.clone(),
                lease_state.clone(),
            )?;
            (
                Some((keeper, token)),
                Some(Leader {
                    state: lease_state.clone(),
                    holder,
                    took_over,
                }),
            )
        }
        None => (None, None),
    };
    let metrics = crate::metrics::Metrics::new(crate::metrics::Sources {
        runner: runner.handle(),
        watermark: watermark.clone(),
        journal: stats.clone(),
        released: released.clone(),
        feed: feed.clone(),
        rejects,
        fix: fix_hub.clone(),
        nats: (!cfg.nats.url.is_empty()).then(|| nats_stats.clone()),
        notify: notify_log.clone(),
    });
    let ops = Arc::new(Ops {
        handle: runner.handle(),
        watermark,
        stats: stats.clone(),
        released,
        journal: journal_name.clone(),
        recovered: recovered.clone(),
        feed: feed.clone(),
        metrics,
        leader,
        nats: (!cfg.nats.url.is_empty()).then(|| nats_stats.clone()),
    });
    let http_cfg = http_config(cfg, tls.is_some());
    let password_workers = match cfg.server.password_workers {
        // Half the cores: log-in storms never take the engine's and the journal's share.
        0 => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
        n => n,
    };
    let passwords = Arc::new(
        bourse_api::auth::Passwords::new(password_workers, cfg.server.password_queue)
            .context("starting the password threads")?,
    );
    // The audit log, the support desk and the news live with the journal: in its
    // PostgreSQL schema (one small pool for the three), or beside the file journal. A new
    // data key is an audit entry (its fingerprint, never the key).
    let dir = &cfg.journal.dir;
    // People's keys first: the support desk opens its texts with them.
    let (keys, audit, support, news) = match &read_opts {
        Some(opts) => rt.block_on(async {
            let pool = bourse_api::sidestore::pool(opts).await?;
            let keys =
                bourse_api::personkeys::PersonKeys::postgres(pool.clone(), vault.clone()).await?;
            anyhow::Ok((
                keys,
                bourse_api::audit::AuditLog::postgres(pool.clone()).await?,
                bourse_api::support::SupportDesk::postgres(pool.clone(), vault.clone()).await?,
                bourse_api::news::NewsStore::postgres(pool).await?,
            ))
        }),
        None => (|| {
            let keys = bourse_api::personkeys::PersonKeys::file(
                dir.join("person_keys.json"),
                vault.clone(),
            )?;
            anyhow::Ok((
                keys,
                bourse_api::audit::AuditLog::file(dir.join("audit.jsonl"))?,
                bourse_api::support::SupportDesk::file(dir.join("support.jsonl"), vault.clone())?,
                bourse_api::news::NewsStore::file(dir.join("news.jsonl"))?,
            ))
        })(),
    }
    .context("opening the key store, the audit log, the support desk and the news")?;
    let (keys, audit, support, news) = (
        Arc::new(keys),
        Arc::new(audit),
        Arc::new(support),
        Arc::new(news),
    );
    if !standby {
        rt.block_on(audit.note_data_key(vault.fingerprint()));
    }
    let history = match (read_opts, projector_progress) {
        (Some(opts), Some(progress)) => History::Postgres {
            model,
            db: rt
                .block_on(PgHistory::connect(&opts))
                .map_err(|e| anyhow::anyhow!("connecting the history queries: {e}"))?,
            progress,
            fresh_within: Duration::from_secs(2),
        },
        _ => History::Memory(model),
    };
    // Answers WebSocket orders whose outcome is overdue (the journal's database is down).
    rt.spawn(gateway.clone().sweeper());
    let for_demo = (gateway.clone(), feed.clone());
    let calendar = cfg
        .calendar
        .build(bourse_api::auth::now())
        .context("the [calendar] settings")?
        .map(Arc::new);
    let for_clock = calendar.clone().map(|c| (c, gateway.clone()));
    let for_settler = (
        gateway.clone(),
        profile_book.clone(),
        Duration::from_millis(cfg.funding.check_ms),
    );
    let fix_services = bourse_fix::FixServices {
        gateway: gateway.clone(),
        directory: directory.clone(),
        listings: listings.clone(),
        history: history.clone(),
    };
    let people = bourse_api::people::People {
        profiles: profile_book.clone(),
        vault: vault.clone(),
        notifications: Arc::new(crate::notifyrelease::Log {
            notifier: notify_log.clone(),
            reach: cfg.notify.reach(),
        }),
        lockout: Arc::default(),
        audit,
        keys: keys.clone(),
    };
    let companies = Arc::new(companies(cfg, &listings)?);
    let app = bourse_api::router(
        bourse_api::Services {
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
        },
        &http_cfg,
    );
    // Tells FIX sessions to log out once the HTTP side has stopped.
    let (fix_stop_tx, fix_stop) = tokio::sync::watch::channel(false);
    let app = with_hsts(app, tls.is_some());
    let served = rt.block_on(async {
        // A standby taking over: the primary made keys since this one started. Then the
        // keys of people erased whose keys could not be deleted at the time.
        if let Err(e) = keys.reload().await {
            tracing::error!("could not read people's keys: {e}");
        }
        for account in profile_book.erased() {
            if let Err(e) = keys.erase(Some(account), &[]).await {
                tracing::error!(
                    account = account.get(),
                    "could not delete an erased person's key: {e}"
                );
            }
        }
        let opened = match &for_clock {
            Some((calendar, gateway)) => crate::clock::open(calendar, gateway).await,
            None => None,
        };
        let server = match server {
            // The standby's listener: from now on the whole API.
            Some(s) => {
                s.open(app);
                s
            }
            None => HttpServer::bind(&cfg.server.listen, tls.clone(), app, false).await?,
        };
        let addr = server.addr;
        // One plain line a person (or a test) can read the address from.
        println!(
            "bourse listening on {scheme}://{addr} (journal {journal_name}, seq {}, state hash \
             {}{took_over_note})",
            recovered.seq.0, recovered.hash,
        );
        tracing::info!(%addr, "listening");
        if !cfg.fix.listen.is_empty() {
            let fix = tokio::net::TcpListener::bind(&cfg.fix.listen)
                .await
                .with_context(|| format!("listening for FIX on {}", cfg.fix.listen))?;
            let fix_addr = fix.local_addr()?;
            let fix_tls = tls.clone().map(tokio_rustls::TlsAcceptor::from);
            println!(
                "bourse fix listening on {fix_addr}{}",
                if fix_tls.is_some() { " (TLS)" } else { "" }
            );
            tokio::spawn(bourse_fix::serve(
                fix,
                Arc::new(bourse_fix::FixConfig {
                    comp_id: cfg.fix.comp_id.clone(),
                    store_dir: cfg.fix.store_dir.clone(),
                    queue: cfg.fix.session_queue,
                    cancel_on_disconnect_default: cfg.fix.cancel_on_disconnect,
                    ..bourse_fix::FixConfig::default()
                }),
                fix_services,
                fix_hub,
                fix_tls,
                fix_stop.clone(),
            ));
        }
        if let Some((calendar, gateway)) = for_clock {
            tokio::spawn(crate::clock::run(calendar, gateway, opened));
        }
        let (gateway, profiles, check) = for_settler;
        tokio::spawn(bourse_api::funding::settle_when_due(
            gateway, profiles, check,
        ));
        if let Some(d) = demo {
            let (gateway, feed) = for_demo;
            tokio::spawn(crate::demo::run(d, addr, gateway, listed, feed));
        }
        tokio::select! {
            () = shutdown.wait() => {}
            // The server stopped by itself (it failed): shut down too.
            () = server.stopped() => {}
        }
        server.stop().await
    });
    let _ = fix_stop_tx.send(true);
    // FIX sessions send their Logout (and cancel-on-disconnect its command) while the engine
    // still runs.
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(300)).await });
    tracing::info!("shutting down: draining the engine");
    // Anything still waiting on a dead database gets a bounded grace period.
    let giver = {
        let give_up = give_up.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(10));
            give_up.store(true, Ordering::Release);
        })
    };
    drop(giver);
    let stopped = runner.shutdown().context("stopping the engine")?;
    let journal = writer
        .join()
        .map_err(|_| anyhow::anyhow!("the journal writer panicked"))?;
    let _ = publisher.join();
    // Everything released is in the outbox; attempts in flight end (not delivered).
    if let Some(n) = notify_log.get() {
        n.flush();
        n.shutdown();
    }
    rt.shutdown_timeout(Duration::from_secs(2));
    let mut journal = journal?;
    if journal.durable_seq() != stopped.last_seq {
        bail!(
            "the journal is durable to seq {} but the engine reached {}",
            journal.durable_seq().0,
            stopped.last_seq.0
        );
    }
    let snap = stopped.engine.snapshot();
    let (bytes, hash) = encode_snapshot(&snap)?;
    journal
        .save_snapshot(stopped.last_seq, &bytes)
        .context("saving the shutdown snapshot")?;
    tracing::info!(seq = stopped.last_seq.0, %hash, "stopped cleanly; snapshot saved");
    // Handed over at once: a standby need not wait for the lease to lapse.
    lease_stop.store(true, Ordering::Release);
    if let Some((keeper, token)) = keeper
        && let Ok(mut lease) = keeper.join()
    {
        if let Err(e) = lease.release(token) {
            tracing::warn!("releasing the lease failed: {e} (it lapses by itself)");
        }
        lease.close();
    }
    println!(
        "bourse stopped at seq {} (state hash {hash})",
        stopped.last_seq.0
    );
    served
}

/// The HTTP layer's limits from the settings (the core's and an edge's).
#[must_use]
pub fn http_config(cfg: &Config, secure_cookies: bool) -> HttpConfig {
    HttpConfig {
        body_limit: cfg.server.body_limit_bytes,
        session_ttl: Duration::from_secs(cfg.server.session_ttl_secs),
        rate_per_credential: bourse_api::ratelimit::Rate {
            per_sec: cfg.server.rate_per_credential,
            burst: cfg.server.rate_per_credential * 2.0,
        },
        rate_per_ip: bourse_api::ratelimit::Rate {
            per_sec: cfg.server.rate_per_ip,
            burst: cfg.server.rate_per_ip * 2.0,
        },
        ws: bourse_api::ws::WsConfig {
            rate: cfg.server.rate_per_credential,
            heartbeat: Duration::from_secs(cfg.feed.heartbeat_secs),
            ping_every: Duration::from_secs(cfg.feed.ping_secs),
            idle_timeout: Duration::from_secs(cfg.feed.idle_timeout_secs),
        },
        request_deadline: Duration::from_millis(cfg.server.request_timeout_ms)
            + REQUEST_DEADLINE_MARGIN,
        secure_cookies,
        funding: cfg.funding.api(),
    }
}

/// `app` with `Strict-Transport-Security` on every answer when serving TLS.
fn with_hsts(app: axum::Router, tls: bool) -> axum::Router {
    if tls {
        app.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(crate::tls::HSTS),
        ))
    } else {
        app
    }
}
