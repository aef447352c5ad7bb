//! The durable path end to end, in one process, as `bourse serve` wires it: a producer
//! thread → the engine runner (risk checks on, the 32 instruments, funded accounts) → the
//! real journal writer (`spawn_writer`: group commit, `durable_seq` watermark, periodic
//! snapshots) → the real publisher (`spawn_publisher`), whose one `Release` sink here records
//! when each command is released (durable and processed). For the file journal (a fresh
//! directory on the workspace's disk) and PostgreSQL (a fresh schema, dropped afterwards):
//!
//! 1. **Rising offered load, open loop.** Command `i` of a step is due at `start + i / rate`
//!    whether or not the pipeline kept up; the producer waits for that time (yielding), then
//!    submits, retrying every 10 µs while the inbound queue is full (each refusal counted).
//!    Ack latency runs from the due time to the sink's release, so a stall's queue counts
//!    (no coordinated omission). Steps of 10 k … 2 M commands/s, stopping after the first
//!    step that achieves less than 90% of its offered rate. Achieved = released commands /
//!    (last release − first due time). Per step also: group commits and their sizes
//!    (`JournalStats`), the time each `Journal::append` took (a timing wrapper around the
//!    journal), engine stalls on a full journal queue, and the CPU time of every thread
//!    (and of the PostgreSQL server processes), from `/proc`.
//! 2. **Replay.** A journal of `replay_n` commands (account setup, then the same kind of
//!    order flow, generated against a private engine so cancels hit resting orders) written
//!    with `Journal::append` in batches of 4,096; then `recover(.., Start::Genesis, ..)`:
//!    read, decode and `Engine::apply` every command, and the state hash at the end (checked
//!    against the generating engine's).
//! 3. **Restart.** The same journal holds a snapshot half a snapshot interval before its end
//!    (`encode_snapshot` + `save_snapshot`, both timed); `open_and_recover(&cfg,
//!    Start::LatestSnapshot)` from a fresh process state (journal handle opened anew; the OS
//!    page cache is warm, and for the file journal a second run first evicts the journal's
//!    files from it with `dd iflag=nocache`). Time to ready, split into open, snapshot load
//!    and tail replay.
//!
//! Results print as tables and go to `target/bench-durable.json` (`target/bench-durable-
//! smoke.json` under `cargo test`).
//!
//! `cargo bench -p bourse-benches --bench durable` (a few minutes); `BOURSE_BENCH_QUICK=1`
//! for a short run. `BOURSE_DURABLE_BACKENDS=file,pg` picks backends, `BOURSE_DURABLE_RATES=
//! 100000,500000` the offered rates, `BOURSE_DURABLE_STEP_SECS` the length of a step,
//! `BOURSE_DURABLE_REPLAY_N` the replay journal's length (0 skips replay and restart).
//! Any `BOURSE__SECTION__KEY` server setting in the environment applies too (for instance
//! `BOURSE__ENGINE__SNAPSHOT_EVERY=0`, `BOURSE__JOURNAL__MAX_BATCH_COMMANDS=4096`).
//! `BOURSE_BENCH_JOURNAL_DIR` moves the file journals (default: cargo's target tmp dir);
//! `BOURSE_BENCH_DATABASE_URL` (else `BOURSE_TEST_DATABASE_URL`, else
//! `postgres://postgres@127.0.0.1:5432/test`) names the database; without one reachable the
//! PostgreSQL runs are skipped with a note. Under `cargo test` it runs a smoke pass of a
//! second or two (100 accounts, two short steps, a 20,000-command replay).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use bourse_benches::latency::{Mode, Percentiles, fmt_ns, fmt_rate, histogram};
use bourse_benches::rng::Rng;
use bourse_core::{
    AccountId, Cash, Command, Event, OrderId, OrderRequest, OrderType, Price, Qty,
    SelfTradePrevention, Seq, Sequenced, Side, Symbol, TimeInForce, UnixNanos,
};
use bourse_engine::{
    Engine, EventBatch, Runner, RunnerConfig, RunnerStatus, SubmitError, Ticket, WaitStrategy,
};
use bourse_journal::{Journal, JournalError, PgJournal, PgJournalOptions};
use bourse_server::Config;
use bourse_server::pipeline::{
    BoxJournal, JournalStats, Release, Watermark, WriterConfig, decode_snapshot, encode_snapshot,
    spawn_publisher, spawn_writer,
};
use bourse_server::recovery::{Start, recover};
use bourse_server::serve::{genesis, instruments, open_and_recover, open_journal};
use hdrhistogram::Histogram;
use serde_json::{Value, json};

const CASH_DOLLARS: i64 = 10_000_000;
const SHARES: u64 = 100_000;
/// Resting orders the generator aims to keep across all books.
const LIVE_TARGET: usize = 40_000;
/// Commands at the head of each step left out of the histograms (threads just started).
const WARMUP_FRACTION: u64 = 20;
/// A step "keeps up" when it achieves at least this share of its offered rate.
const KEEP_UP: f64 = 0.9;
/// Commands per `Journal::append` when a journal is filled directly.
const FILL_BATCH: usize = 4_096;
/// `/proc` CPU times are in clock ticks of 1/100 s (`USER_HZ` on every Linux this runs on).
const TICKS_PER_SEC: f64 = 100.0;

// ---------------------------------------------------------------------------------------
// Time

static T0: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since the bench started: the one timeline of schedules, submits, the
/// engine's clock and releases (so it never steps back across steps).
fn now_ns() -> u64 {
    nanos(T0.get_or_init(Instant::now).elapsed())
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

// ---------------------------------------------------------------------------------------
// Workload: the pipeline bench's command mix, generated against a private engine

#[derive(Clone, Copy)]
struct Listed {
    symbol: Symbol,
    reference: i64,
    tick: i64,
    lot: u64,
}

#[derive(Default, Debug, Clone)]
struct Mix {
    passive: u64,
    marketable: u64,
    market: u64,
    cancel: u64,
    deposit: u64,
    trades: u64,
    rejects: u64,
    events: u64,
    commands: u64,
}

/// Generates valid commands one at a time, applying each to its own engine (the same
/// genesis as the server's) so cancels name resting orders and the final state is known.
struct Gen {
    listed: Vec<Listed>,
    accounts: u64,
    rng: Rng,
    live: Vec<(OrderId, AccountId)>,
    shadow: Engine,
    out: Vec<Event>,
    seq: u64,
    mix: Mix,
}

fn listed(cfg: &Config) -> Vec<Listed> {
    instruments(cfg)
        .expect("instrument list")
        .iter()
        .map(|i| Listed {
            symbol: i.symbol,
            reference: i.reference_price.raw(),
            tick: i.tick.raw(),
            lot: i.lot.whole_shares(),
        })
        .collect()
}

/// Opens `accounts` accounts and funds each with cash and shares of every symbol.
fn setup_commands(cfg: &Config, accounts: u64) -> Vec<Command> {
    let listed = listed(cfg);
    let mut setup = Vec::new();
    for _ in 0..accounts {
        setup.push(Command::OpenAccount);
    }
    for a in 1..=accounts {
        let account = AccountId::new(a);
        setup.push(Command::Deposit {
            account,
            amount: Cash::from_dollars(CASH_DOLLARS).expect("cash"),
        });
        for l in &listed {
            setup.push(Command::DepositShares {
                account,
                symbol: l.symbol,
                qty: Qty::shares(SHARES),
            });
        }
    }
    setup
}

/// A journal timestamp for directly written commands: 1 µs apart from an arbitrary day.
fn fill_ts(seq: u64) -> UnixNanos {
    UnixNanos::new(1_760_000_000_000_000_000 + seq * 1_000)
}

impl Gen {
    fn new(cfg: &Config, accounts: u64, seed: u64) -> Gen {
        Gen {
            listed: listed(cfg),
            accounts,
            rng: Rng::new(seed),
            live: Vec::with_capacity(LIVE_TARGET * 2),
            shadow: genesis(cfg).expect("genesis engine"),
            out: Vec::with_capacity(64),
            seq: 0,
            mix: Mix::default(),
        }
    }

    /// Sequences `cmd` next and applies it to the private engine; returns the record and
    /// the number of events it caused.
    fn apply(&mut self, cmd: Command) -> (Sequenced, u64) {
        self.seq += 1;
        let s = Sequenced {
            seq: Seq(self.seq),
            ts: fill_ts(self.seq),
            cmd,
        };
        self.out.clear();
        self.shadow.apply(&s, &mut self.out);
        for e in &self.out {
            match e {
                Event::OrderRested { order_id, .. } => {
                    if let Command::SubmitOrder(r) = &s.cmd {
                        self.live.push((*order_id, r.account));
                    }
                }
                Event::Trade { .. } => self.mix.trades += 1,
                Event::Rejected { .. } => self.mix.rejects += 1,
                _ => {}
            }
        }
        let n = self.out.len() as u64;
        (s, n)
    }

    /// The next command of the order flow, applied.
    fn next(&mut self) -> (Sequenced, u64) {
        let cmd = self.next_command();
        let (s, n) = self.apply(cmd);
        self.mix.commands += 1;
        self.mix.events += n;
        (s, n)
    }

    /// The pipeline bench's mix: 45% passive limit orders a few ticks behind the reference,
    /// 35% cancels of resting orders, 13% marketable limit IOCs, 5% market orders, 2%
    /// deposits; popular symbols trade more.
    fn next_command(&mut self) -> Command {
        let rng = &mut self.rng;
        let mix = &mut self.mix;
        let r = rng.below(1000);
        let crowded = self.live.len() > LIVE_TARGET;
        if (450..800).contains(&r) || (r < 450 && crowded) {
            while !self.live.is_empty() {
                let i = usize::try_from(rng.below(self.live.len() as u64)).unwrap_or(0);
                let (order_id, account) = self.live.swap_remove(i);
                if self.shadow.is_working(order_id) {
                    mix.cancel += 1;
                    return Command::CancelOrder { account, order_id };
                }
            }
        }
        let account = AccountId::new(1 + rng.below(self.accounts));
        if r >= 980 {
            mix.deposit += 1;
            return Command::Deposit {
                account,
                amount: Cash::from_dollars(i64::try_from(1 + rng.below(10_000)).unwrap_or(1))
                    .expect("cash"),
            };
        }
        let n = self.listed.len() as u64;
        let l = self.listed[usize::try_from(rng.below(n).min(rng.below(n))).unwrap_or(0)];
        let side = if rng.below(2) == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let sign = match side {
            Side::Buy => 1,
            Side::Sell => -1,
        };
        let (order_type, tif, ticks, qty) = if r < 800 {
            mix.passive += 1;
            let behind = i64::try_from(1 + rng.below(20).min(rng.below(20))).unwrap_or(1);
            let tif = if rng.below(10) == 0 {
                TimeInForce::Day
            } else {
                TimeInForce::Gtc
            };
            (OrderType::Limit, tif, -behind, 1 + rng.below(100))
        } else if r < 930 {
            mix.marketable += 1;
            let through = i64::try_from(3 + rng.below(6)).unwrap_or(3);
            (
                OrderType::Limit,
                TimeInForce::Ioc,
                through,
                1 + rng.below(200),
            )
        } else {
            mix.market += 1;
            (OrderType::Market, TimeInForce::Ioc, 0, 1 + rng.below(100))
        };
        Command::SubmitOrder(OrderRequest {
            account,
            symbol: l.symbol,
            client_order_id: None,
            side,
            order_type,
            tif,
            qty: Qty::shares(l.lot * qty),
            limit_price: (order_type == OrderType::Limit)
                .then(|| Price::from_raw(l.reference + sign * ticks * l.tick)),
            stop_price: None,
            post_only: false,
            stp: SelfTradePrevention::CancelIncoming,
            opts: Default::default(),
        })
    }
}

/// The order flow the load steps submit, after the setup.
struct Stream {
    setup: Vec<Command>,
    cmds: Vec<Command>,
    /// Events caused by the first `i` commands of `cmds`.
    cum_events: Vec<u64>,
    mix: Mix,
}

impl Stream {
    fn generate(cfg: &Config, accounts: u64, n: usize) -> Stream {
        let setup = setup_commands(cfg, accounts);
        let mut g = Gen::new(cfg, accounts, 0x5EED_D0AB_1E00_0001);
        for c in &setup {
            g.apply(c.clone());
        }
        g.mix = Mix::default();
        let mut cmds = Vec::with_capacity(n);
        let mut cum_events = Vec::with_capacity(n + 1);
        cum_events.push(0);
        for _ in 0..n {
            let (s, e) = g.next();
            cmds.push(s.cmd);
            cum_events.push(cum_events.last().copied().unwrap_or(0) + e);
        }
        Stream {
            setup,
            cmds,
            cum_events,
            mix: g.mix,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Where journals live

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    File,
    Pg,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::File => "file",
            Backend::Pg => "postgres",
        }
    }
}

/// One journal's place (a directory or a schema) and the server settings that name it;
/// removed on drop.
struct Place {
    cfg: Config,
    dir: Option<PathBuf>,
    pg: Option<PgJournalOptions>,
}

static PLACES: AtomicU64 = AtomicU64::new(0);

/// Server settings: the environment's `BOURSE__*` variables, then `over`.
fn settings(over: &[(&str, String)]) -> Config {
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("BOURSE__"))
        .collect();
    env.extend(over.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    Config::load_with(None, &env).expect("server settings")
}

impl Place {
    fn new(backend: Backend, root: &Path, url: &str) -> Place {
        let name = format!(
            "bdur_{}_{}",
            std::process::id(),
            PLACES.fetch_add(1, Ordering::Relaxed)
        );
        match backend {
            Backend::File => {
                let dir = root.join(name);
                let cfg = settings(&[
                    ("BOURSE__JOURNAL__BACKEND", "file".to_owned()),
                    ("BOURSE__JOURNAL__DIR", dir.display().to_string()),
                ]);
                Place {
                    cfg,
                    dir: Some(dir),
                    pg: None,
                }
            }
            Backend::Pg => {
                let cfg = settings(&[
                    ("BOURSE__JOURNAL__BACKEND", "postgres".to_owned()),
                    ("BOURSE__JOURNAL__DATABASE_URL", url.to_owned()),
                    ("BOURSE__JOURNAL__SCHEMA", name.clone()),
                ]);
                Place {
                    cfg,
                    dir: None,
                    pg: Some(PgJournalOptions::new(url).schema(name)),
                }
            }
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = fs::remove_dir_all(dir);
        }
        if let Some(mut opts) = self.pg.take() {
            opts.lock_wait = Duration::from_secs(2);
            match PgJournal::open(opts).and_then(PgJournal::drop_schema) {
                Ok(()) => {}
                Err(e) => println!("!! could not drop a bench schema: {e}"),
            }
        }
    }
}

/// Bytes on disk under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Evicts `dir`'s files from the OS page cache (`dd iflag=nocache count=0`: an
/// `fadvise(DONTNEED)` of each whole file, ours only). False if `dd` refused.
fn evict_page_cache(dir: &Path) -> bool {
    let Ok(rd) = fs::read_dir(dir) else {
        return false;
    };
    rd.filter_map(Result::ok).all(|e| {
        Process::new("dd")
            .arg(format!("if={}", e.path().display()))
            .args(["iflag=nocache", "count=0", "status=none"])
            .status()
            .is_ok_and(|s| s.success())
    })
}

// ---------------------------------------------------------------------------------------
// A timing wrapper around the journal the writer owns

#[derive(Debug)]
struct Writes {
    appends: u64,
    commands: u64,
    append_ns: u64,
    latency: Histogram<u64>,
    snapshots: u64,
    snapshot_ns: u64,
    snapshot_bytes: u64,
}

impl Writes {
    fn new() -> Self {
        Self {
            appends: 0,
            commands: 0,
            append_ns: 0,
            latency: histogram(),
            snapshots: 0,
            snapshot_ns: 0,
            snapshot_bytes: 0,
        }
    }
}

/// The journal, with the time of every `append` and `save_snapshot` recorded.
struct Timed {
    inner: BoxJournal,
    writes: Arc<Mutex<Writes>>,
}

/// The records so far, leaving fresh ones.
fn take_writes(w: &Mutex<Writes>) -> Writes {
    std::mem::replace(
        &mut *w.lock().unwrap_or_else(PoisonError::into_inner),
        Writes::new(),
    )
}

/// The journal the settings name, timed. The writer thread owns it as a `BoxJournal` and
/// hands it back as one; the records stay reachable through `writes`.
fn open_timed(cfg: &Config) -> (BoxJournal, Arc<Mutex<Writes>>) {
    let (inner, _) = open_journal(cfg).expect("open the journal");
    let writes = Arc::new(Mutex::new(Writes::new()));
    let j = Timed {
        inner,
        writes: Arc::clone(&writes),
    };
    (Box::new(j), writes)
}

impl Journal for Timed {
    fn append(&mut self, batch: &[Sequenced]) -> Result<(), JournalError> {
        let t = Instant::now();
        let r = self.inner.append(batch);
        let ns = nanos(t.elapsed());
        let mut w = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        w.appends += 1;
        w.commands += batch.len() as u64;
        w.append_ns += ns;
        w.latency.saturating_record(ns);
        r
    }

    fn durable_seq(&self) -> Seq {
        self.inner.durable_seq()
    }

    fn for_each_from(
        &self,
        from: Seq,
        f: &mut dyn FnMut(Sequenced) -> Result<(), JournalError>,
    ) -> Result<(), JournalError> {
        self.inner.for_each_from(from, f)
    }

    fn save_snapshot(&mut self, seq: Seq, bytes: &[u8]) -> Result<(), JournalError> {
        let t = Instant::now();
        let r = self.inner.save_snapshot(seq, bytes);
        let ns = nanos(t.elapsed());
        let mut w = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        w.snapshots += 1;
        w.snapshot_ns += ns;
        w.snapshot_bytes += bytes.len() as u64;
        r
    }

    fn latest_snapshot(&self) -> Result<Option<(Seq, Vec<u8>)>, JournalError> {
        self.inner.latest_snapshot()
    }

    fn snapshot_at(&self, seq: Seq) -> Result<Option<Vec<u8>>, JournalError> {
        self.inner.snapshot_at(seq)
    }

    fn prune_snapshots(&mut self, keep: usize) -> Result<(), JournalError> {
        self.inner.prune_snapshots(keep)
    }
}

// ---------------------------------------------------------------------------------------
// CPU accounting from /proc

/// `(comm, utime + stime in ticks)` from a `/proc/.../stat` line.
fn parse_stat(s: &str) -> Option<(String, u64)> {
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let comm = s.get(open + 1..close)?.to_owned();
    let f: Vec<&str> = s.get(close + 1..)?.split_whitespace().collect();
    // After the comm: state is field 3, utime field 14, stime field 15.
    let ut: u64 = f.get(11)?.parse().ok()?;
    let st: u64 = f.get(12)?.parse().ok()?;
    Some((comm, ut + st))
}

/// CPU ticks used so far by this process's threads, grouped into the pipeline's parts.
#[derive(Clone, Debug, Default)]
struct Cpu {
    engine: u64,
    writer: u64,
    publisher: u64,
    producer: u64,
    other: u64,
    /// Every `postgres` process on the machine (the journal's backend, the WAL writer,
    /// the checkpointer…).
    postgres: u64,
    /// This whole process (threads that ended included).
    process: u64,
    /// The whole machine, busy (`/proc/stat`: user, nice, system, irq, softirq), and time
    /// the hypervisor ran something else while we wanted the CPU (steal).
    machine_busy: u64,
    steal: u64,
    /// When read, on the bench's timeline.
    at_ns: u64,
    /// Each `postgres` process's ticks, by pid: a connection's backend comes and goes, so
    /// an interval counts each process's own growth.
    pg_pids: Vec<(u32, u64)>,
}

/// Busy and steal ticks of the whole machine.
fn machine_ticks() -> (u64, u64) {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return (0, 0);
    };
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let at = |i: usize| f.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal
    (at(0) + at(1) + at(2) + at(5) + at(6), at(7))
}

fn cpu_now() -> Cpu {
    let mut c = Cpu {
        at_ns: now_ns(),
        ..Cpu::default()
    };
    (c.machine_busy, c.steal) = machine_ticks();
    c.process = fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| parse_stat(&s))
        .map_or(0, |(_, t)| t);
    if let Ok(rd) = fs::read_dir("/proc/self/task") {
        for e in rd.filter_map(Result::ok) {
            let Some((comm, t)) = fs::read_to_string(e.path().join("stat"))
                .ok()
                .and_then(|s| parse_stat(&s))
            else {
                continue;
            };
            match comm.as_str() {
                "bourse-engine" => c.engine += t,
                "bourse-journal" => c.writer += t,
                n if n.starts_with("bourse-publish") => c.publisher += t,
                "producer" => c.producer += t,
                _ => c.other += t,
            }
        }
    }
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.filter_map(Result::ok) {
            if !e
                .file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
            {
                continue;
            }
            if let Some((comm, t)) = fs::read_to_string(e.path().join("stat"))
                .ok()
                .and_then(|s| parse_stat(&s))
                && comm == "postgres"
                && let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>()
            {
                c.postgres += t;
                c.pg_pids.push((pid, t));
            }
        }
    }
    c
}

impl Cpu {
    /// `self` − `before`, for threads that outlive the interval; the pipeline's own
    /// threads are new in every step, so their totals are taken whole.
    fn since(self, before: &Cpu) -> Cpu {
        let postgres = self
            .pg_pids
            .iter()
            .map(|&(pid, t)| {
                let was = before
                    .pg_pids
                    .iter()
                    .find(|p| p.0 == pid)
                    .map_or(0, |p| p.1);
                t.saturating_sub(was)
            })
            .sum();
        Cpu {
            other: self.other.saturating_sub(before.other),
            postgres,
            process: self.process.saturating_sub(before.process),
            machine_busy: self.machine_busy.saturating_sub(before.machine_busy),
            steal: self.steal.saturating_sub(before.steal),
            at_ns: self.at_ns.saturating_sub(before.at_ns),
            ..self
        }
    }

    /// The pipeline's threads, the bench's other threads and PostgreSQL.
    fn total(&self) -> u64 {
        self.engine + self.writer + self.publisher + self.producer + self.other + self.postgres
    }

    /// Everything else the machine ran meanwhile (other tenants' builds, services).
    fn foreign(&self) -> u64 {
        self.machine_busy
            .saturating_sub(self.process)
            .saturating_sub(self.postgres)
    }

    /// Percent of one core over `wall_ns`.
    fn pct(ticks: u64, wall_ns: u64) -> f64 {
        100.0 * ticks as f64 / TICKS_PER_SEC / secs(wall_ns).max(1e-9)
    }

    fn json(&self) -> Value {
        let p = |t| (Self::pct(t, self.at_ns) * 10.0).round() / 10.0;
        json!({
            "engine": p(self.engine),
            "writer": p(self.writer),
            "publisher": p(self.publisher),
            "producer": p(self.producer),
            "other_bench_threads": p(self.other),
            "postgres": p(self.postgres),
            "total": p(self.total()),
            "process": p(self.process),
            "foreign": p(self.foreign()),
            "steal": p(self.steal),
            "interval_secs": secs(self.at_ns),
        })
    }
}

// ---------------------------------------------------------------------------------------
// One load step

/// The schedule of a step, shared by the producer and the sink.
struct StepCtx {
    first_seq: u64,
    start_ns: u64,
    interval_ps: u64,
    warmup: u64,
    /// Each command's first submit attempt (ns on the bench timeline).
    sent: Vec<AtomicU64>,
    /// The producer sleeps until a command is due (else it yields in a loop).
    sleep_pacing: bool,
}

impl StepCtx {
    fn due(&self, i: u64) -> u64 {
        self.start_ns
            + u64::try_from(u128::from(i) * u128::from(self.interval_ps) / 1_000)
                .unwrap_or(u64::MAX)
    }
}

/// `BOURSE_DURABLE_PACING=yield` makes the producer yield in a loop until each command is
/// due (as the pipeline bench does) instead of sleeping.
fn sleep_pacing() -> bool {
    std::env::var("BOURSE_DURABLE_PACING").map_or(true, |v| v != "yield")
}

/// What the sink saw.
#[derive(Debug)]
struct Released {
    /// Intended send time → first submit attempt (the producer's own lateness).
    late: Histogram<u64>,
    /// Intended send time → released.
    from_due: Histogram<u64>,
    /// First submit attempt → released.
    from_submit: Histogram<u64>,
    /// First submit attempt → sequenced by the engine (includes retries on a full queue).
    to_engine: Histogram<u64>,
    /// Sequenced → released (journal queue, group commit, watermark, publisher).
    to_release: Histogram<u64>,
    commands: u64,
    events: u64,
    wrong_tickets: u64,
    last_ns: u64,
}

/// The `Release` sink: records each command's latency as the publisher releases it.
struct Sink {
    ctx: Arc<StepCtx>,
    rec: Option<Released>,
    out: Arc<Mutex<Option<Released>>>,
}

impl Release for Sink {
    fn release(&mut self, batch: &EventBatch) {
        let now = now_ns();
        let Some(r) = self.rec.as_mut() else {
            return;
        };
        let ctx = &*self.ctx;
        for o in batch.commands() {
            let i = o.seq.0 - ctx.first_seq;
            if o.ticket != Ticket(i + 1) {
                r.wrong_tickets += 1;
            }
            r.commands += 1;
            r.events += o.events.len() as u64;
            if i >= ctx.warmup {
                let sent = usize::try_from(i)
                    .ok()
                    .and_then(|i| ctx.sent.get(i))
                    .map_or(0, |a| a.load(Ordering::Relaxed));
                let ts = o.ts.get();
                r.from_due.saturating_record(now.saturating_sub(ctx.due(i)));
                r.late.saturating_record(sent.saturating_sub(ctx.due(i)));
                r.from_submit.saturating_record(now.saturating_sub(sent));
                r.to_engine.saturating_record(ts.saturating_sub(sent));
                r.to_release.saturating_record(now.saturating_sub(ts));
            }
        }
        r.last_ns = now;
    }

    fn close(&mut self) {
        if let Some(r) = self.rec.take() {
            *self.out.lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
        }
    }
}

struct StepResult {
    offered: u64,
    n: u64,
    achieved: f64,
    elapsed_ns: u64,
    seen: Released,
    /// Producer: refused submits (each retry counted) and commands refused at least once.
    overloaded: u64,
    delayed: u64,
    commits: u64,
    commands_committed: u64,
    largest_batch: u64,
    snapshots: u64,
    writes: Writes,
    status: RunnerStatus,
    cpu: Cpu,
}

impl StepResult {
    fn kept_up(&self) -> bool {
        self.achieved >= KEEP_UP * self.offered as f64
    }

    fn mean_batch(&self) -> f64 {
        self.commands_committed as f64 / self.commits.max(1) as f64
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

/// The runner as `serve` configures it, with the clock on the bench's timeline.
fn runner_config(cfg: &Config) -> RunnerConfig {
    RunnerConfig {
        core: usize::try_from(cfg.engine.core).ok(),
        wait: wait_strategy(cfg),
        inbound_capacity: cfg.engine.inbound_capacity,
        max_batch: cfg.engine.max_batch,
        snapshot_every: (cfg.engine.snapshot_every > 0).then_some(cfg.engine.snapshot_every),
        clock: Box::new(|| UnixNanos::new(now_ns())),
        ..RunnerConfig::default()
    }
}

/// The exchange between steps: the engine's state and the journal holding it.
struct Line {
    engine: Engine,
    journal: BoxJournal,
}

/// Runs `stream.cmds[from..from + n]` at `rate` through engine → writer → publisher,
/// continuing from `line`; gives it back for the next step.
fn step(
    cfg: &Config,
    line: Line,
    writes: &Arc<Mutex<Writes>>,
    stream: &Arc<Stream>,
    from: usize,
    n: usize,
    rate: u64,
) -> (Line, StepResult) {
    let Line { engine, journal } = line;
    let first_seq = engine.last_seq().0 + 1;
    assert_eq!(
        journal.durable_seq().0,
        first_seq - 1,
        "journal and engine agree"
    );
    drop(take_writes(writes));
    let cpu0 = cpu_now();
    let ctx = Arc::new(StepCtx {
        first_seq,
        start_ns: now_ns() + 5_000_000,
        interval_ps: 1_000_000_000_000 / rate.max(1),
        warmup: n as u64 / WARMUP_FRACTION,
        sent: (0..n).map(|_| AtomicU64::new(0)).collect(),
        sleep_pacing: sleep_pacing(),
    });
    let (runner, outputs) = Runner::start(engine, runner_config(cfg)).expect("runner starts");
    let watermark = Arc::new(Watermark::new(Seq(first_seq - 1)));
    let stats = Arc::new(JournalStats::default());
    let released = Arc::new(AtomicU64::new(first_seq - 1));
    let writer = spawn_writer(
        journal,
        outputs.journal,
        Arc::clone(&watermark),
        Arc::clone(&stats),
        Arc::new(AtomicBool::new(false)),
        WriterConfig {
            max_batch: cfg.journal.max_batch_commands.max(1),
            backoff: (Duration::from_millis(10), Duration::from_secs(1)),
            keep_snapshots: cfg.journal.keep_snapshots,
        },
    )
    .expect("writer starts");
    let out = Arc::new(Mutex::new(None));
    let sink = Sink {
        ctx: Arc::clone(&ctx),
        rec: Some(Released {
            late: histogram(),
            from_due: histogram(),
            from_submit: histogram(),
            to_engine: histogram(),
            to_release: histogram(),
            commands: 0,
            events: 0,
            wrong_tickets: 0,
            last_ns: 0,
        }),
        out: Arc::clone(&out),
    };
    let publisher = spawn_publisher(
        outputs.events,
        watermark,
        Arc::clone(&stats),
        vec![Box::new(sink)],
        Arc::clone(&released),
    )
    .expect("publisher starts");

    let producer = {
        let ctx = Arc::clone(&ctx);
        let h = runner.handle();
        let stream = Arc::clone(stream);
        thread::Builder::new()
            .name("producer".into())
            .spawn(move || {
                let (mut overloaded, mut delayed) = (0u64, 0u64);
                for (i, cmd) in stream.cmds[from..from + n].iter().enumerate() {
                    let i = i as u64;
                    let due = ctx.due(i);
                    let mut now = now_ns();
                    if ctx.sleep_pacing {
                        // Sleep until due (the kernel wakes us some 50-60 µs late, and then
                        // every command due by then goes at once, as a burst): the writer,
                        // the publisher and PostgreSQL share these two cores.
                        if now < due {
                            thread::sleep(Duration::from_nanos(due - now));
                            now = now_ns();
                        }
                    } else {
                        while now < due {
                            thread::yield_now();
                            now = now_ns();
                        }
                    }
                    if let Some(s) = usize::try_from(i).ok().and_then(|i| ctx.sent.get(i)) {
                        s.store(now, Ordering::Relaxed);
                    }
                    let mut c = cmd.clone();
                    let mut refused = false;
                    loop {
                        match h.submit_with(c, Ticket(i + 1)) {
                            Ok(()) => break,
                            Err(SubmitError::Overloaded(back)) => {
                                overloaded += 1;
                                if !refused {
                                    delayed += 1;
                                    refused = true;
                                }
                                c = back;
                                // As a gateway answering 503 and its client retrying.
                                thread::sleep(Duration::from_micros(10));
                            }
                            Err(SubmitError::Closed(_)) => panic!("runner closed mid-step"),
                        }
                    }
                }
                // This thread ends before the step's CPU times are read: read its own now.
                let cpu = fs::read_to_string("/proc/thread-self/stat")
                    .ok()
                    .and_then(|s| parse_stat(&s))
                    .map_or(0, |(_, t)| t);
                (overloaded, delayed, cpu)
            })
            .expect("producer starts")
    };
    let (overloaded, delayed, producer_cpu) = producer.join().expect("producer");
    let last = first_seq + n as u64 - 1;
    let deadline = Instant::now() + Duration::from_secs(600);
    while released.load(Ordering::Acquire) < last {
        assert!(
            Instant::now() < deadline,
            "step at {rate}/s: only seq {} of {last} released after 10 minutes",
            released.load(Ordering::Acquire)
        );
        thread::sleep(Duration::from_micros(200));
    }
    // Everything is released: the pipeline's threads are idle but still alive to be read.
    let mut cpu = cpu_now().since(&cpu0);
    cpu.producer = producer_cpu;
    let handle = runner.handle();
    let stopped = runner.shutdown().expect("clean shutdown");
    let status = handle.status();
    let journal = writer
        .join()
        .expect("writer thread")
        .expect("writer finished cleanly");
    publisher.join().expect("publisher thread");
    assert_eq!(stopped.last_seq.0, last);
    assert_eq!(journal.durable_seq().0, last, "everything durable");
    let writes = take_writes(writes);
    let seen = out
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
        .expect("the sink closed");
    assert_eq!(seen.commands, n as u64, "every command released once");
    assert_eq!(
        seen.wrong_tickets, 0,
        "tickets come back with their commands"
    );
    assert_eq!(
        seen.events,
        stream.cum_events[from + n] - stream.cum_events[from],
        "events differ from the generating run"
    );
    let elapsed_ns = seen.last_ns.saturating_sub(ctx.due(0)).max(1);
    let res = StepResult {
        offered: rate,
        n: n as u64,
        achieved: n as f64 / secs(elapsed_ns),
        elapsed_ns,
        seen,
        overloaded,
        delayed,
        commits: stats.commits.load(Ordering::Relaxed),
        commands_committed: stats.commands.load(Ordering::Relaxed),
        largest_batch: stats.largest_batch.load(Ordering::Relaxed),
        snapshots: stats.snapshots.load(Ordering::Relaxed),
        writes,
        status,
        cpu,
    };
    let line = Line {
        engine: stopped.engine,
        journal,
    };
    (line, res)
}

/// Commands in a step at `rate`: `step_secs` worth, at least `min_n`.
fn step_len(rate: u64, step_secs: f64, min_n: usize) -> usize {
    let n = (rate as f64 * step_secs).round();
    if n.is_finite() && n >= 0.0 {
        format!("{n:.0}")
            .parse::<usize>()
            .unwrap_or(min_n)
            .max(min_n)
    } else {
        min_n
    }
}

// ---------------------------------------------------------------------------------------
// Rising load on one backend

struct LoadRun {
    backend: Backend,
    setup_commands: u64,
    setup_secs: f64,
    steps: Vec<StepResult>,
}

impl LoadRun {
    fn max_achieved(&self) -> f64 {
        self.steps.iter().map(|s| s.achieved).fold(0.0, f64::max)
    }
}

fn load_run(
    backend: Backend,
    root: &Path,
    url: &str,
    stream: &Arc<Stream>,
    rates: &[u64],
    lens: &[usize],
) -> LoadRun {
    let place = Place::new(backend, root, url);
    let cfg = &place.cfg;
    let (mut journal, writes) = open_timed(cfg);
    let mut engine = genesis(cfg).expect("genesis engine");
    // The setup, journaled and applied directly (untimed by the steps).
    let t = Instant::now();
    let mut out = Vec::with_capacity(64);
    let mut batch = Vec::with_capacity(FILL_BATCH);
    for (k, c) in stream.setup.iter().enumerate() {
        let seq = k as u64 + 1;
        let s = Sequenced {
            seq: Seq(seq),
            ts: UnixNanos::new(seq),
            cmd: c.clone(),
        };
        out.clear();
        engine.apply(&s, &mut out);
        batch.push(s);
        if batch.len() == FILL_BATCH {
            journal.append(&batch).expect("journal the setup");
            batch.clear();
        }
    }
    journal.append(&batch).expect("journal the setup");
    let setup_secs = t.elapsed().as_secs_f64();
    println!(
        "\n== {} journal: {} setup commands journaled and applied in {setup_secs:.2} s, then open-loop steps",
        backend.name(),
        stream.setup.len()
    );
    print_step_header();
    let mut steps = Vec::new();
    let mut from = 0;
    let mut line = Line { engine, journal };
    for (&rate, &n) in rates.iter().zip(lens) {
        let (l, r) = step(cfg, line, &writes, stream, from, n, rate);
        line = l;
        from += n;
        print_step(&r);
        let kept = r.kept_up();
        steps.push(r);
        // Under `cargo test` every step runs, whatever the (meaningless) timings say.
        if !kept && Mode::from_env() != Mode::Smoke {
            println!(
                "  (achieved under {:.0}% of the offered rate: not raising further)",
                KEEP_UP * 100.0
            );
            break;
        }
    }
    print_breakdown(&steps);
    drop(line);
    drop(place);
    LoadRun {
        backend,
        setup_commands: stream.setup.len() as u64,
        setup_secs,
        steps,
    }
}

fn print_step_header() {
    println!(
        "  {:>9} {:>10} {:>5} {:>9} {:>7} {:>7} {:>6} {:>9} | ack from intended send: {:>9} {:>9} {:>9} {:>9} {:>9}",
        "offered",
        "achieved",
        "kept",
        "released",
        "commits",
        "batch",
        "max",
        "overload",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max"
    );
}

fn print_step(r: &StepResult) {
    let p = Percentiles::of(&r.seen.from_due);
    println!(
        "  {:>9} {:>10} {:>5} {:>9} {:>7} {:>7.1} {:>6} {:>9} | {:>22} {:>9} {:>9} {:>9} {:>9} {:>9}",
        fmt_rate(r.offered as f64),
        fmt_rate(r.achieved),
        if r.kept_up() { "yes" } else { "NO" },
        r.seen.commands,
        r.commits,
        r.mean_batch(),
        r.largest_batch,
        r.overloaded,
        "",
        fmt_ns(p.p50 as f64),
        fmt_ns(p.p90 as f64),
        fmt_ns(p.p99 as f64),
        fmt_ns(p.p999 as f64),
        fmt_ns(p.max as f64),
    );
}

/// Where the time goes, per step.
fn print_breakdown(steps: &[StepResult]) {
    println!(
        "  where the time goes, p50 / p99 (/ max): intended send → submitted (producer lateness), submitted → sequenced, sequenced → released, one Journal::append; the writer's share of the step inside append; engine stalls on a full journal queue; CPU % of one core over the step (200 = both cores; foreign: everything else the machine ran meanwhile, other tenants included; steal: the hypervisor)"
    );
    println!(
        "  {:>9} {:>21} {:>21} {:>21} {:>30} {:>7} {:>6} {:>5} | {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>7} {:>5}",
        "offered",
        "late",
        "submit→seq",
        "seq→released",
        "append",
        "in app.",
        "stalls",
        "snaps",
        "engine",
        "writer",
        "publ.",
        "prod.",
        "pg",
        "other",
        "total",
        "foreign",
        "steal"
    );
    for r in steps {
        let pair = |h: &Histogram<u64>| {
            let p = Percentiles::of(h);
            format!("{} / {}", fmt_ns(p.p50 as f64), fmt_ns(p.p99 as f64))
        };
        let c = &r.cpu;
        let pc = |t| format!("{:.0}", Cpu::pct(t, c.at_ns));
        println!(
            "  {:>9} {:>21} {:>21} {:>21} {:>30} {:>6.0}% {:>6} {:>5} | {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>7} {:>5}",
            fmt_rate(r.offered as f64),
            pair(&r.seen.late),
            pair(&r.seen.to_engine),
            pair(&r.seen.to_release),
            format!(
                "{} / {}",
                pair(&r.writes.latency),
                fmt_ns(r.writes.latency.max() as f64)
            ),
            100.0 * r.writes.append_ns as f64 / r.elapsed_ns as f64,
            r.status.stalls,
            r.snapshots,
            pc(c.engine),
            pc(c.writer),
            pc(c.publisher),
            pc(c.producer),
            pc(c.postgres),
            pc(c.other),
            pc(c.total()),
            pc(c.foreign()),
            pc(c.steal),
        );
    }
}

// ---------------------------------------------------------------------------------------
// Replay and restart on one backend

#[derive(Default)]
struct RestartTimes {
    ready_secs: f64,
    /// `Recovered::elapsed`: snapshot load, tail replay and hash.
    recover_secs: f64,
}

struct ReplayRun {
    backend: Backend,
    n: u64,
    setup: u64,
    mix: Mix,
    build_secs: f64,
    append_secs: f64,
    journal_bytes: Option<u64>,
    snapshot_seq: u64,
    snapshot_bytes: u64,
    /// `Engine::snapshot` (the engine thread's part), `encode_snapshot` (the writer's:
    /// bincode + blake3), `save_snapshot` (durable write).
    snap_clone_secs: f64,
    snap_encode_secs: f64,
    snap_save_secs: f64,
    replay_open_secs: f64,
    replay_secs: f64,
    /// CPU over the replay and over the first restart (for the machine's other load).
    replay_cpu: Cpu,
    restart_cpu: Cpu,
    /// PostgreSQL: the replay again after `ANALYZE journal`.
    replay_analyzed_secs: Option<f64>,
    restarts: Vec<RestartTimes>,
    /// A second, instrumented pass of the same restart, step by step.
    split_open: f64,
    split_snap_read: f64,
    split_snap_decode: f64,
    split_tail: f64,
    split_hash: f64,
    cold: Option<RestartTimes>,
}

impl ReplayRun {
    fn replay_rate(&self) -> f64 {
        self.n as f64 / self.replay_secs.max(1e-9)
    }

    fn restart_median(&self) -> f64 {
        let mut v: Vec<f64> = self.restarts.iter().map(|r| r.ready_secs).collect();
        bourse_benches::latency::median(&mut v)
    }
}

#[allow(clippy::too_many_lines)]
fn replay_run(
    backend: Backend,
    root: &Path,
    url: &str,
    accounts: u64,
    n: u64,
    restarts: usize,
) -> ReplayRun {
    let place = Place::new(backend, root, url);
    let cfg = &place.cfg;
    let tail = (cfg.engine.snapshot_every.max(2) / 2).min(n / 20).max(1);
    let snap_at = n - tail;
    let (mut j, _) = open_journal(cfg).expect("open the journal");
    let mut g = Gen::new(cfg, accounts, 0x5EED_2E91_A700_0002);
    // As `serve` does on a fresh journal: the genesis state is journal data too.
    let (bytes, _) = encode_snapshot(&g.shadow.snapshot()).expect("encode genesis");
    j.save_snapshot(Seq(0), &bytes)
        .expect("save the genesis snapshot");
    let setup = setup_commands(cfg, accounts);
    let setup_len = setup.len() as u64;
    let mut batch: Vec<Sequenced> = Vec::with_capacity(FILL_BATCH);
    let mut append_ns = 0u64;
    let mut snap = (0.0, 0.0, 0.0, 0u64);
    let t_build = Instant::now();
    let mut flush = |j: &mut BoxJournal, batch: &mut Vec<Sequenced>| {
        let t = Instant::now();
        j.append(batch).expect("fill the journal");
        append_ns += nanos(t.elapsed());
        batch.clear();
    };
    let mut setup = setup.into_iter();
    while g.seq < n {
        let (s, _) = match setup.next() {
            Some(c) => g.apply(c),
            None => g.next(),
        };
        batch.push(s);
        if batch.len() == FILL_BATCH || g.seq == snap_at || g.seq == n {
            flush(&mut j, &mut batch);
        }
        if g.seq == snap_at {
            let t = Instant::now();
            let state = g.shadow.snapshot();
            let clone = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let (bytes, _) = encode_snapshot(&state).expect("encode the snapshot");
            let encode = t.elapsed().as_secs_f64();
            let t = Instant::now();
            j.save_snapshot(Seq(snap_at), &bytes)
                .expect("save the snapshot");
            snap = (clone, encode, t.elapsed().as_secs_f64(), bytes.len() as u64);
        }
    }
    let build_secs = t_build.elapsed().as_secs_f64();
    let want = g.shadow.state_hash().expect("hash the final state");
    assert_eq!(j.durable_seq().0, n);
    drop(j);
    let journal_bytes = place.dir.as_deref().map(dir_bytes);
    println!(
        "  ({}: {n}-command journal built in {build_secs:.1} s; replaying it from genesis)",
        backend.name()
    );

    // Replay from genesis: every command decoded and applied.
    let cpu0 = cpu_now();
    let t = Instant::now();
    let (j, _) = open_journal(cfg).expect("reopen the journal");
    let replay_open_secs = t.elapsed().as_secs_f64();
    let (engine, rec) = recover(
        &*j,
        || genesis(cfg),
        Start::Genesis,
        cfg.engine.expected_working_orders,
        |_| {},
    )
    .expect("replay from genesis");
    assert_eq!(rec.replayed, n);
    assert_eq!(
        rec.hash, want,
        "replay reaches the generating engine's state"
    );
    let replay_secs = rec.elapsed.as_secs_f64();
    let replay_cpu = cpu_now().since(&cpu0);
    drop(engine);
    drop(j);
    println!(
        "  ({}: replayed in {replay_secs:.2} s; restarting from the snapshot)",
        backend.name()
    );

    // Restart: what `bourse serve` does before it takes traffic.
    let restart_once = || {
        let cpu0 = cpu_now();
        let t = Instant::now();
        let (j, _, engine, rec) =
            open_and_recover(cfg, Start::LatestSnapshot).expect("restart from the snapshot");
        let ready_secs = t.elapsed().as_secs_f64();
        assert_eq!(rec.snapshot_seq, Some(Seq(snap_at)));
        assert_eq!(rec.replayed, tail);
        assert_eq!(rec.hash, want, "restart reaches the same state");
        // Before the connection closes and its server process with it.
        let cpu = cpu_now().since(&cpu0);
        drop(engine);
        drop(j);
        (
            RestartTimes {
                ready_secs,
                recover_secs: rec.elapsed.as_secs_f64(),
            },
            cpu,
        )
    };
    let (times, cpus): (Vec<RestartTimes>, Vec<Cpu>) =
        (0..restarts.max(1)).map(|_| restart_once()).unzip();
    let restart_cpu = cpus.into_iter().next().unwrap_or_default();

    // The same restart, step by step.
    let t = Instant::now();
    let (j, _) = open_journal(cfg).expect("reopen the journal");
    let split_open = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (seq, bytes) = j
        .latest_snapshot()
        .expect("read the snapshot")
        .expect("a snapshot");
    let split_snap_read = t.elapsed().as_secs_f64();
    assert_eq!(seq.0, snap_at);
    let t = Instant::now();
    let (mut engine, _) = decode_snapshot(&bytes).expect("decode the snapshot");
    let split_snap_decode = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut out = Vec::with_capacity(64);
    j.for_each_from(Seq(snap_at + 1), &mut |rec| {
        engine.apply(&rec, &mut out);
        out.clear();
        Ok(())
    })
    .expect("replay the tail");
    let split_tail = t.elapsed().as_secs_f64();
    let t = Instant::now();
    assert_eq!(engine.state_hash().expect("hash"), want);
    let split_hash = t.elapsed().as_secs_f64();
    drop(engine);
    drop(j);

    // File journal: again with its files out of the page cache.
    let cold = place
        .dir
        .as_deref()
        .filter(|d| evict_page_cache(d))
        .map(|_| restart_once().0);

    // PostgreSQL: the planner has no statistics for a table that was never analyzed (this
    // server runs with autovacuum off), and its plan for the replay's page query then scans
    // the whole rest of the journal for each of the first pages. Again after an ANALYZE,
    // as autovacuum would have run one.
    let analyzed = place.pg.as_ref().and_then(|o| {
        let schema = o.schema.as_deref()?;
        let ok = Process::new("psql")
            .args([url, "-qAtc", &format!("ANALYZE {schema}.journal")])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            println!("  (psql could not ANALYZE the journal table: no second replay)");
            return None;
        }
        let (j, _) = open_journal(cfg).expect("reopen the journal");
        let (engine, rec) = recover(
            &*j,
            || genesis(cfg),
            Start::Genesis,
            cfg.engine.expected_working_orders,
            |_| {},
        )
        .expect("replay from genesis");
        assert_eq!(rec.hash, want);
        drop(engine);
        drop(j);
        Some(rec.elapsed.as_secs_f64())
    });

    let mix = g.mix.clone();
    drop(place);
    ReplayRun {
        backend,
        n,
        setup: setup_len,
        mix,
        build_secs,
        append_secs: secs(append_ns),
        journal_bytes,
        snapshot_seq: snap_at,
        snapshot_bytes: snap.3,
        snap_clone_secs: snap.0,
        snap_encode_secs: snap.1,
        snap_save_secs: snap.2,
        replay_open_secs,
        replay_secs,
        replay_cpu,
        restart_cpu,
        replay_analyzed_secs: analyzed,
        restarts: times,
        split_open,
        split_snap_read,
        split_snap_decode,
        split_tail,
        split_hash,
        cold,
    }
}

fn print_replay(r: &ReplayRun) {
    println!(
        "\n== {} journal of {} commands ({} setup + order flow; {:.1}% of the flow rejected), built in {:.1} s ({:.1} s of it in Journal::append, batches of {FILL_BATCH}){}",
        r.backend.name(),
        r.n,
        r.setup,
        100.0 * r.mix.rejects as f64 / r.mix.commands.max(1) as f64,
        r.build_secs,
        r.append_secs,
        r.journal_bytes
            .map(|b| format!("; {:.0} MB on disk", b as f64 / 1e6))
            .unwrap_or_default()
    );
    let foreign = |c: &Cpu| {
        format!(
            "this process {:.0}%, postgres {:.0}%, everything else on the machine {:.0}% of one core",
            Cpu::pct(c.process, c.at_ns),
            Cpu::pct(c.postgres, c.at_ns),
            Cpu::pct(c.foreign(), c.at_ns)
        )
    };
    println!(
        "  replay from genesis (recover, Start::Genesis: read + decode + Engine::apply, hash checked at the snapshot and at the end): {:.2} s = {}  (opening the journal before it: {:.2} s; meanwhile {})",
        r.replay_secs,
        fmt_rate(r.replay_rate()),
        r.replay_open_secs,
        foreign(&r.replay_cpu)
    );
    if let Some(a) = r.replay_analyzed_secs {
        println!(
            "  the same replay after ANALYZE of the journal table (the planner then reads page by page through the index): {a:.2} s = {}",
            fmt_rate(r.n as f64 / a.max(1e-9))
        );
    }
    println!(
        "  snapshot at seq {} ({} commands before the end): {:.1} MB; Engine::snapshot {}, encode_snapshot {}, save_snapshot {}",
        r.snapshot_seq,
        r.n - r.snapshot_seq,
        r.snapshot_bytes as f64 / 1e6,
        fmt_ns(r.snap_clone_secs * 1e9),
        fmt_ns(r.snap_encode_secs * 1e9),
        fmt_ns(r.snap_save_secs * 1e9),
    );
    let all: Vec<String> = r
        .restarts
        .iter()
        .map(|t| format!("{:.2} s", t.ready_secs))
        .collect();
    println!(
        "  restart (open_and_recover, Start::LatestSnapshot) ready in {:.2} s median of [{}]; recover part {:.2} s (meanwhile {})",
        r.restart_median(),
        all.join(", "),
        r.restarts.first().map_or(0.0, |t| t.recover_secs),
        foreign(&r.restart_cpu)
    );
    println!(
        "    instrumented pass: open {:.2} s, read snapshot {:.2} s, decode + restore + verify {:.2} s, replay tail {:.2} s, final hash {:.2} s",
        r.split_open, r.split_snap_read, r.split_snap_decode, r.split_tail, r.split_hash
    );
    if let Some(c) = &r.cold {
        println!(
            "    with the journal's files evicted from the page cache first: ready in {:.2} s (recover part {:.2} s)",
            c.ready_secs, c.recover_secs
        );
    }
}

// ---------------------------------------------------------------------------------------
// Output

fn host() -> String {
    let model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = thread::available_parallelism().map_or(0, usize::from);
    let load = fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    format!("{model}, {cpus} CPUs; load average {load} at start")
}

/// The mount holding `dir` (device, type), from /proc/self/mounts: the longest prefix.
fn filesystem_of(dir: &Path) -> String {
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && dir.starts_with(f[1]))
                .then(|| (f[1].len(), format!("{} ({})", f[0], f[2])))
        })
        .max_by_key(|(len, _)| *len)
        .map_or_else(|| "unknown filesystem".to_owned(), |(_, s)| s)
}

fn database_url() -> String {
    ["BOURSE_BENCH_DATABASE_URL", "BOURSE_TEST_DATABASE_URL"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn pct_json(h: &Histogram<u64>) -> Value {
    let p = Percentiles::of(h);
    json!({
        "count": p.count,
        "mean": p.mean.round(),
        "p50": p.p50,
        "p90": p.p90,
        "p99": p.p99,
        "p999": p.p999,
        "max": p.max,
    })
}

fn step_json(r: &StepResult) -> Value {
    json!({
        "offered_per_sec": r.offered,
        "achieved_per_sec": r.achieved.round(),
        "kept_up": r.kept_up(),
        "commands": r.n,
        "released": r.seen.commands,
        "events": r.seen.events,
        "elapsed_secs": secs(r.elapsed_ns),
        "writer_commits": r.commits,
        "mean_batch": (r.mean_batch() * 10.0).round() / 10.0,
        "max_batch": r.largest_batch,
        "overloaded_submits": r.overloaded,
        "commands_delayed_by_overload": r.delayed,
        "engine_batches": r.status.batches,
        "engine_stalls": r.status.stalls,
        "snapshots": r.snapshots,
        "snapshot_save_secs": secs(r.writes.snapshot_ns),
        "ack_latency_ns_from_intended_send": pct_json(&r.seen.from_due),
        "ack_latency_ns_from_submit": pct_json(&r.seen.from_submit),
        "producer_lateness_ns": pct_json(&r.seen.late),
        "submit_to_sequenced_ns": pct_json(&r.seen.to_engine),
        "sequenced_to_released_ns": pct_json(&r.seen.to_release),
        "append_ns": pct_json(&r.writes.latency),
        "writer_share_in_append": r.writes.append_ns as f64 / r.elapsed_ns.max(1) as f64,
        "cpu_percent_of_one_core": r.cpu.json(),
    })
}

fn replay_json(r: &ReplayRun) -> Value {
    json!({
        "commands": r.n,
        "setup_commands": r.setup,
        "rejected_share_of_flow": r.mix.rejects as f64 / r.mix.commands.max(1) as f64,
        "build_secs": r.build_secs,
        "build_append_secs": r.append_secs,
        "journal_bytes": r.journal_bytes,
        "replay": {
            "open_secs": r.replay_open_secs,
            "recover_secs": r.replay_secs,
            "commands_per_sec": r.replay_rate().round(),
            "cpu_percent_of_one_core": r.replay_cpu.json(),
            "after_analyze_secs": r.replay_analyzed_secs,
            "after_analyze_commands_per_sec": r.replay_analyzed_secs.map(|a| (r.n as f64 / a.max(1e-9)).round()),
        },
        "snapshot": {
            "seq": r.snapshot_seq,
            "tail_commands": r.n - r.snapshot_seq,
            "bytes": r.snapshot_bytes,
            "engine_snapshot_secs": r.snap_clone_secs,
            "encode_secs": r.snap_encode_secs,
            "save_secs": r.snap_save_secs,
        },
        "restart": {
            "ready_secs_median": r.restart_median(),
            "ready_secs_runs": r.restarts.iter().map(|t| t.ready_secs).collect::<Vec<_>>(),
            "recover_secs_runs": r.restarts.iter().map(|t| t.recover_secs).collect::<Vec<_>>(),
            "cpu_percent_of_one_core": r.restart_cpu.json(),
            "instrumented": {
                "open_secs": r.split_open,
                "snapshot_read_secs": r.split_snap_read,
                "snapshot_decode_restore_verify_secs": r.split_snap_decode,
                "tail_replay_secs": r.split_tail,
                "final_hash_secs": r.split_hash,
            },
            "page_cache_evicted": r.cold.as_ref().map(|c| json!({
                "ready_secs": c.ready_secs,
                "recover_secs": c.recover_secs,
            })),
        },
    })
}

/// One line of the targets table: (what, backend, target, measured, met).
type Target = (String, &'static str, String, String, Option<bool>);

fn targets(loads: &[LoadRun], replays: &[ReplayRun], full_n: bool) -> Vec<Target> {
    let mut t: Vec<Target> = Vec::new();
    for l in loads {
        let (want, label) = match l.backend {
            Backend::File => (2e6, "≥ 2 M commands/s sustained"),
            Backend::Pg => (5e5, "≥ 500 k commands/s sustained"),
        };
        let best = l.max_achieved();
        t.push((
            "durable throughput".into(),
            l.backend.name(),
            label.into(),
            fmt_rate(best),
            Some(best >= want),
        ));
        let at100k = l.steps.iter().find(|s| s.offered == 100_000);
        t.push((
            "ack p99 at 100 k/s".into(),
            l.backend.name(),
            "< 5 ms".into(),
            at100k.map_or_else(
                || "not run".into(),
                |s| fmt_ns(Percentiles::of(&s.seen.from_due).p99 as f64),
            ),
            at100k.map(|s| Percentiles::of(&s.seen.from_due).p99 < 5_000_000),
        ));
    }
    for r in replays {
        t.push((
            "replay from genesis".into(),
            r.backend.name(),
            "≥ 2 M commands/s".into(),
            fmt_rate(r.replay_rate()),
            Some(r.replay_rate() >= 2e6),
        ));
        if let Some(a) = r.replay_analyzed_secs {
            let rate = r.n as f64 / a.max(1e-9);
            t.push((
                "replay from genesis, after ANALYZE".into(),
                r.backend.name(),
                "≥ 2 M commands/s".into(),
                fmt_rate(rate),
                Some(rate >= 2e6),
            ));
        }
        let ready = r.restart_median();
        t.push((
            format!("restart over {} commands, snapshot", r.n),
            r.backend.name(),
            "< 10 s (over 10 M)".into(),
            format!("{ready:.2} s"),
            full_n.then_some(ready < 10.0),
        ));
    }
    t
}

fn env_list(name: &str) -> Option<Vec<String>> {
    std::env::var(name).ok().filter(|v| !v.is_empty()).map(|v| {
        v.split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .collect()
    })
}

#[allow(clippy::too_many_lines)]
fn main() {
    let started = T0.get_or_init(Instant::now);
    let mode = Mode::from_env();
    let (accounts, step_secs, min_step, replay_n, restarts) = match mode {
        Mode::Full => (10_000, 3.0, 30_000, 10_000_000, 3),
        Mode::Quick => (10_000, 1.0, 10_000, 1_000_000, 2),
        Mode::Smoke => (100, 0.1, 1_000, 20_000, 1),
    };
    let mut rates: Vec<u64> = match mode {
        Mode::Smoke => vec![10_000, 50_000],
        _ => vec![
            10_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000,
        ],
    };
    if let Some(r) = env_list("BOURSE_DURABLE_RATES") {
        rates = r.iter().filter_map(|s| s.parse().ok()).collect();
    }
    let step_secs = std::env::var("BOURSE_DURABLE_STEP_SECS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(step_secs);
    let replay_n = std::env::var("BOURSE_DURABLE_REPLAY_N")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(replay_n);
    let wanted = env_list("BOURSE_DURABLE_BACKENDS");
    let want = |b: &str| wanted.as_ref().is_none_or(|w| w.iter().any(|x| x == b));

    let root = std::env::var_os("BOURSE_BENCH_JOURNAL_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")), PathBuf::from)
        .join(format!("durable-bench-{}", std::process::id()));
    fs::create_dir_all(&root).expect("create the bench directory");
    let url = database_url();
    let mut backends = Vec::new();
    if want("file") {
        backends.push(Backend::File);
    }
    if want("pg") || want("postgres") {
        let mut probe =
            PgJournalOptions::new(url.clone()).schema(format!("bdur_{}_probe", std::process::id()));
        probe.connect_timeout = Duration::from_secs(3);
        match PgJournal::open(probe).and_then(PgJournal::drop_schema) {
            Ok(()) => backends.push(Backend::Pg),
            Err(e) => println!("!! PostgreSQL unreachable ({e}): its runs are skipped"),
        }
    }
    let cfg = settings(&[]);
    let lens: Vec<usize> = rates
        .iter()
        .map(|&r| step_len(r, step_secs, min_step))
        .collect();
    let total: usize = lens.iter().sum();

    println!("\n== durable path end to end: engine → journal writer → publisher ({mode:?} mode)");
    println!("   host: {}", host());
    println!(
        "   file journals in {} on {}",
        root.display(),
        filesystem_of(&root)
    );
    if backends.contains(&Backend::Pg) {
        println!(
            "   PostgreSQL: {} (the server's journal: one connection, synchronous_commit = on, UNNEST inserts, a fresh schema per run, dropped after)",
            url.split('@').next_back().unwrap_or(&url)
        );
    }
    println!(
        "   server settings: engine {} (unpinned: {}), inbound queue {}, engine batch ≤ {}, group commit ≤ {} commands, snapshot every {} commands",
        cfg.engine.wait,
        cfg.engine.core < 0,
        cfg.engine.inbound_capacity,
        cfg.engine.max_batch,
        cfg.journal.max_batch_commands,
        cfg.engine.snapshot_every
    );
    let t = Instant::now();
    let stream = Arc::new(Stream::generate(&cfg, accounts, total));
    let m = &stream.mix;
    let pct = |x: u64| 100.0 * x as f64 / m.commands.max(1) as f64;
    println!(
        "   workload: {} setup commands ({accounts} accounts with ${CASH_DOLLARS} and {SHARES} shares of each of {} symbols), then {} order-flow commands generated in {:.1} s: {:.0}% passive limit, {:.0}% cancel, {:.0}% marketable IOC, {:.0}% market, {:.0}% deposit; {:.2} events/command, {:.1}% rejected",
        stream.setup.len(),
        listed(&cfg).len(),
        stream.cmds.len(),
        t.elapsed().as_secs_f64(),
        pct(m.passive),
        pct(m.cancel),
        pct(m.marketable),
        pct(m.market),
        pct(m.deposit),
        m.events as f64 / m.commands.max(1) as f64,
        pct(m.rejects),
    );
    println!(
        "   steps: {} s or {min_step} commands each, whichever is more; latency from each command's intended send time to its release by the publisher (durable and processed); first 1/{WARMUP_FRACTION} of each step not recorded; producer retries every 10 µs on a full inbound queue (\"overload\" counts refusals)",
        step_secs
    );

    let mut loads = Vec::new();
    for &b in backends.iter().filter(|_| !rates.is_empty()) {
        loads.push(load_run(b, &root, &url, &stream, &rates, &lens));
    }
    drop(stream);
    let mut replays = Vec::new();
    if replay_n > 0 {
        for &b in &backends {
            let r = replay_run(b, &root, &url, accounts, replay_n, restarts);
            print_replay(&r);
            replays.push(r);
        }
    }

    let full_n = replay_n >= 10_000_000;
    let mut ts = targets(&loads, &replays, full_n);
    if mode == Mode::Smoke {
        for t in &mut ts {
            t.4 = None;
        }
    }
    println!("\n== targets");
    println!(
        "  {:<40} {:<9} {:<30} {:>12}  status",
        "what", "backend", "target", "measured"
    );
    for (what, b, target, measured, met) in &ts {
        println!(
            "  {:<40} {:<9} {:<30} {:>12}  {}",
            what,
            b,
            target,
            measured,
            match met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "n/a here",
            }
        );
    }

    let doc = json!({
        "bench": "durable",
        "mode": format!("{mode:?}"),
        "host": host(),
        "filesystem": filesystem_of(&root),
        "unix_time": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        "settings": {
            "wait": cfg.engine.wait,
            "engine_core": cfg.engine.core,
            "inbound_capacity": cfg.engine.inbound_capacity,
            "engine_max_batch": cfg.engine.max_batch,
            "group_commit_max": cfg.journal.max_batch_commands,
            "snapshot_every": cfg.engine.snapshot_every,
            "accounts": accounts,
            "step_secs": step_secs,
            "producer_pacing": if sleep_pacing() { "sleep" } else { "yield" },
            "warmup_fraction": 1.0 / WARMUP_FRACTION as f64,
            "keep_up_threshold": KEEP_UP,
        },
        "load": loads.iter().map(|l| json!({
            "backend": l.backend.name(),
            "setup_commands": l.setup_commands,
            "setup_secs": l.setup_secs,
            "max_achieved_per_sec": l.max_achieved().round(),
            "steps": l.steps.iter().map(step_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "replay_restart": replays.iter().map(|r| {
            let mut v = replay_json(r);
            v["backend"] = json!(r.backend.name());
            v
        }).collect::<Vec<_>>(),
        "targets": ts.iter().map(|(what, b, target, measured, met)| json!({
            "what": what, "backend": b, "target": target, "measured": measured, "met": met,
        })).collect::<Vec<_>>(),
        "total_secs": started.elapsed().as_secs_f64(),
    });
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map_or_else(|| PathBuf::from("target"), Path::to_owned);
    let file = target_dir.join(if mode == Mode::Smoke {
        "bench-durable-smoke.json"
    } else {
        "bench-durable.json"
    });
    match serde_json::to_string_pretty(&doc) {
        Ok(s) => match fs::write(&file, s + "\n") {
            Ok(()) => println!("\n   results written to {}", file.display()),
            Err(e) => println!("!! could not write {}: {e}", file.display()),
        },
        Err(e) => println!("!! could not encode the results: {e}"),
    }
    let _ = fs::remove_dir_all(&root);
    println!("   total {:.1} s", started.elapsed().as_secs_f64());
    if mode == Mode::Smoke {
        println!(
            "(smoke run under cargo test: every path exercised and checked, timings meaningless)"
        );
    }
}
