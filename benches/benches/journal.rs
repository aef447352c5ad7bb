//! The journal backends: how fast commands become durable, and how fast they replay.
//!
//! - **Disk floor**: the raw cost of durability here — append 4 KiB to a file and
//!   `fdatasync` it, in a directory beside where the bench's file journals live. A group
//!   commit cannot be faster than this.
//! - **Durable append**: for the file journal and PostgreSQL (UNNEST and binary COPY), group
//!   commits of 1, 16, 256 and 4096 commands, one after another (closed loop, one writer,
//!   as the journal writer thread runs): throughput in commands per second over the run,
//!   and the latency of each commit (the `append` call: encode, write, sync).
//! - **Replay**: a journal of `replay_n` commands read back with `for_each_from(1)`, decode
//!   included; for the file journal also a reopen (which checks every record's CRC).
//!
//! Commands are realistic `SubmitOrder`s (limit orders on a few symbols, client order ids,
//! 60–100 byte payloads), generated in advance from a fixed seed.
//!
//! `cargo bench -p bourse-benches --bench journal`; `BOURSE_BENCH_QUICK=1` for a short run.
//! `BOURSE_BENCH_JOURNAL_DIR` puts the file journals (and the fdatasync probe) elsewhere
//! (default: cargo's target tmp dir, on the workspace's disk); `BOURSE_BENCH_DATABASE_URL`
//! (else `BOURSE_TEST_DATABASE_URL`, else `postgres://postgres@127.0.0.1:5432/test`) names
//! the database, where every run works in a throwaway schema, dropped afterwards. Without a
//! reachable PostgreSQL the PostgreSQL rows are skipped with a note. Under `cargo test` it
//! runs a small smoke pass.

use std::fs::{self, File, OpenOptions};
use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bourse_benches::latency::{Mode, Percentiles, fmt_ns, histogram};
use bourse_benches::rng::Rng;
use bourse_core::{
    AccountId, ClientOrderId, Command, OrderRequest, OrderType, Price, Qty, SelfTradePrevention,
    Seq, Sequenced, Side, Symbol, TimeInForce, UnixNanos, codec,
};
use bourse_journal::{
    FileJournal, FileJournalOptions, Journal, JournalError, PgJournal, PgJournalOptions, PgWrite,
};
use hdrhistogram::Histogram;

const BATCHES: [usize; 4] = [1, 16, 256, 4096];
const SYMBOLS: [&str; 8] = [
    "AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "BRK.B", "TSLA",
];

/// The order stream: `n` submit orders with seqs 1..=n, 1 µs apart.
fn commands(n: usize, seed: u64) -> Vec<Sequenced> {
    let mut rng = Rng::new(seed);
    let start = 1_760_000_000_000_000_000u64;
    (1..=n as u64)
        .map(|seq| {
            let symbol = SYMBOLS[usize::try_from(rng.below(SYMBOLS.len() as u64)).unwrap_or(0)];
            let side = if rng.chance(50) {
                Side::Buy
            } else {
                Side::Sell
            };
            let ticks = i64::try_from(rng.below(200)).unwrap_or(0);
            let req = OrderRequest {
                account: AccountId::new(1 + rng.below(10_000)),
                symbol: Symbol::new(symbol).expect("valid symbol"),
                // Client ids as trading front ends make them: a prefix and a counter.
                client_order_id: Some(
                    ClientOrderId::new(&format!("ord-{:016x}-{seq:012}", rng.next_u64()))
                        .expect("valid client order id"),
                ),
                side,
                order_type: OrderType::Limit,
                tif: if rng.chance(10) {
                    TimeInForce::Ioc
                } else {
                    TimeInForce::Gtc
                },
                qty: Qty::shares(100 * (1 + rng.below(20))),
                limit_price: Some(Price::from_raw(1_500_000 + 100 * ticks)),
                stop_price: None,
                post_only: rng.chance(5),
                stp: SelfTradePrevention::CancelIncoming,
                opts: Default::default(),
            };
            Sequenced {
                seq: Seq(seq),
                ts: UnixNanos::new(start + seq * 1_000),
                cmd: Command::SubmitOrder(req),
            }
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    File,
    Pg(PgWrite),
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::File => "file",
            Backend::Pg(PgWrite::Unnest) => "pg UNNEST",
            Backend::Pg(PgWrite::Copy) => "pg COPY",
        }
    }
}

/// Where journals are made: a fresh directory or a fresh schema per run.
struct Places {
    root: PathBuf,
    url: String,
    pg: bool,
    n: u32,
}

/// A journal and how to get rid of it.
struct Opened {
    journal: Box<dyn Journal>,
    dir: Option<PathBuf>,
    pg: Option<PgJournalOptions>,
}

impl Places {
    fn fresh_name(&mut self) -> String {
        self.n += 1;
        format!("bjb_{}_{}", std::process::id(), self.n)
    }

    fn open(&mut self, backend: Backend) -> Opened {
        let name = self.fresh_name();
        match backend {
            Backend::File => {
                let dir = self.root.join(name);
                let j = FileJournal::open(&dir, FileJournalOptions::default())
                    .expect("open file journal");
                Opened {
                    journal: Box::new(j),
                    dir: Some(dir),
                    pg: None,
                }
            }
            Backend::Pg(write) => {
                let opts = PgJournalOptions::new(self.url.clone())
                    .schema(name)
                    .write(write);
                let j = PgJournal::open(opts.clone()).expect("open PostgreSQL journal");
                Opened {
                    journal: Box::new(j),
                    dir: None,
                    pg: Some(opts),
                }
            }
        }
    }

    fn reopen(
        dir: Option<&PathBuf>,
        pg: Option<&PgJournalOptions>,
    ) -> Result<Box<dyn Journal>, JournalError> {
        if let Some(dir) = dir {
            return Ok(Box::new(FileJournal::open(
                dir,
                FileJournalOptions::default(),
            )?));
        }
        let opts = pg.cloned().expect("a journal is a file or a schema");
        Ok(Box::new(PgJournal::open(opts)?))
    }

    fn discard(o: Opened) {
        drop(o.journal);
        if let Some(dir) = o.dir {
            let _ = fs::remove_dir_all(dir);
        }
        if let Some(opts) = o.pg
            && let Ok(j) = PgJournal::open(opts)
        {
            let _ = j.drop_schema();
        }
    }
}

/// `512/s`, `12.3 k/s`, `1.25 M/s` (durable rates span four orders of magnitude).
fn fmt_rate(per_sec: f64) -> String {
    if per_sec >= 1e6 {
        format!("{:.2} M/s", per_sec / 1e6)
    } else if per_sec >= 1e3 {
        format!("{:.1} k/s", per_sec / 1e3)
    } else {
        format!("{per_sec:.0}/s")
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// `n` appends of 4 KiB to a fresh file, each followed by `fdatasync`.
fn fdatasync_floor(dir: &Path, n: usize) -> Histogram<u64> {
    let path = dir.join("fdatasync-probe");
    let mut f: File = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .expect("create the probe file");
    let block = [0x5Au8; 4096];
    let mut h = histogram();
    for _ in 0..n {
        let t = Instant::now();
        f.write_all(&block).expect("write");
        f.sync_data().expect("fdatasync");
        h.saturating_record(nanos(t.elapsed()));
    }
    drop(f);
    let _ = fs::remove_file(&path);
    h
}

struct AppendRun {
    backend: Backend,
    batch: usize,
    commits: usize,
    per_sec: f64,
    bytes_per_sec: f64,
    latency: Histogram<u64>,
}

/// Commits of `batch` commands, back to back, into a fresh journal.
fn append_run(
    places: &mut Places,
    backend: Backend,
    cmds: &[Sequenced],
    batch: usize,
    commits: usize,
    payload_bytes: f64,
) -> AppendRun {
    let mut o = places.open(backend);
    let mut h = histogram();
    let n = (batch * commits).min(cmds.len());
    let t0 = Instant::now();
    for chunk in cmds[..n].chunks(batch) {
        let t = Instant::now();
        o.journal.append(chunk).expect("append");
        h.saturating_record(nanos(t.elapsed()));
    }
    let dt = t0.elapsed().as_secs_f64();
    assert_eq!(o.journal.durable_seq(), Seq(n as u64));
    Places::discard(o);
    AppendRun {
        backend,
        batch,
        commits: n.div_ceil(batch),
        per_sec: n as f64 / dt,
        bytes_per_sec: n as f64 * payload_bytes / dt,
        latency: h,
    }
}

struct ReplayRun {
    backend: Backend,
    n: usize,
    fill_secs: f64,
    replay_secs: f64,
    reopen_secs: f64,
}

/// Fills a journal with `cmds` in commits of 4096, then reads it all back through
/// `for_each_from` (checking every record arrives, in order), then reopens it.
fn replay_run(places: &mut Places, backend: Backend, cmds: &[Sequenced]) -> ReplayRun {
    let mut o = places.open(backend);
    let t = Instant::now();
    for chunk in cmds.chunks(4096) {
        o.journal.append(chunk).expect("append");
    }
    let fill_secs = t.elapsed().as_secs_f64();
    // A fresh handle, so nothing the writer cached helps the reader.
    drop(o.journal);
    let t = Instant::now();
    o.journal = Places::reopen(o.dir.as_ref(), o.pg.as_ref()).expect("reopen");
    let reopen_secs = t.elapsed().as_secs_f64();
    let mut next = 1u64;
    let mut qty = 0u64;
    let t = Instant::now();
    o.journal
        .for_each_from(Seq(1), &mut |rec| {
            assert_eq!(rec.seq.0, next);
            next += 1;
            if let Command::SubmitOrder(r) = &rec.cmd {
                qty = qty.wrapping_add(r.qty.whole_shares());
            }
            Ok(())
        })
        .expect("replay");
    let replay_secs = t.elapsed().as_secs_f64();
    black_box(qty);
    assert_eq!(next - 1, cmds.len() as u64, "replayed everything");
    Places::discard(o);
    ReplayRun {
        backend,
        n: cmds.len(),
        fill_secs,
        replay_secs,
        reopen_secs,
    }
}

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
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
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

fn main() {
    let mode = Mode::from_env();
    // Commands per (backend, batch) run: at least `min_commits` commits, at most
    // `max_commits`, aiming at `target` commands; `sync_n` fdatasync probes; `replay_n`.
    let (target, min_commits, max_commits, sync_n, replay_n) = match mode {
        Mode::Full => (400_000, 300, 3_000, 2_000, 1_000_000),
        Mode::Quick => (60_000, 100, 600, 500, 250_000),
        Mode::Smoke => (500, 3, 3, 10, 5_000),
    };
    let longest = BATCHES
        .iter()
        .map(|&b| b * (target / b).clamp(min_commits, max_commits))
        .max()
        .unwrap_or(0);
    let cmds = commands(longest.max(replay_n), 0x0B0E_75E5);
    let sizes: Vec<usize> = cmds
        .iter()
        .take(10_000)
        .map(|c| codec::encode(c).map_or(0, |b| b.len()))
        .collect();
    let mean_payload = sizes.iter().sum::<usize>() as f64 / sizes.len().max(1) as f64;

    let root = std::env::var_os("BOURSE_BENCH_JOURNAL_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")), PathBuf::from)
        .join(format!("journal-bench-{}", std::process::id()));
    fs::create_dir_all(&root).expect("create the bench directory");
    let url = database_url();
    let mut places = Places {
        root: root.clone(),
        url: url.clone(),
        pg: false,
        n: 0,
    };
    let pg_probe = places.fresh_name();
    places.pg = match PgJournal::open(PgJournalOptions::new(url.clone()).schema(pg_probe)) {
        Ok(j) => j.drop_schema().is_ok(),
        Err(e) => {
            println!("!! PostgreSQL unreachable ({e}): its rows are skipped");
            false
        }
    };

    println!(
        "\n== journal: durable append and replay ({mode:?} mode); SubmitOrder payloads {}–{} bytes, mean {mean_payload:.0}",
        sizes.iter().min().copied().unwrap_or(0),
        sizes.iter().max().copied().unwrap_or(0),
    );
    println!("   host: {}", host());
    println!(
        "   file journals in {} on {}",
        root.display(),
        filesystem_of(&root)
    );
    if places.pg {
        println!(
            "   PostgreSQL: {} (one connection, synchronous_commit = on, a fresh schema per run)",
            url.split('@').next_back().unwrap_or(&url)
        );
    }

    let floor = Percentiles::of(&fdatasync_floor(&root, sync_n));
    println!(
        "\n-- disk floor: write 4 KiB + fdatasync, {sync_n} times: p50 {}  p90 {}  p99 {}  max {}  (mean {})",
        fmt_ns(floor.p50 as f64),
        fmt_ns(floor.p90 as f64),
        fmt_ns(floor.p99 as f64),
        fmt_ns(floor.max as f64),
        fmt_ns(floor.mean)
    );

    let mut backends = vec![Backend::File];
    if places.pg {
        backends.extend([Backend::Pg(PgWrite::Unnest), Backend::Pg(PgWrite::Copy)]);
    }
    println!(
        "\n-- durable append: back-to-back group commits into a fresh journal; latency per commit"
    );
    println!(
        "  {:<10} {:>6} {:>8} {:>12} {:>10} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "backend",
        "batch",
        "commits",
        "commands/s",
        "MB/s",
        "p50",
        "p90",
        "p99",
        "max",
        "per command"
    );
    let mut runs = Vec::new();
    for &batch in &BATCHES {
        for &b in &backends {
            let commits = (target / batch).clamp(min_commits, max_commits);
            let r = append_run(&mut places, b, &cmds, batch, commits, mean_payload);
            let p = Percentiles::of(&r.latency);
            println!(
                "  {:<10} {:>6} {:>8} {:>12} {:>10.1} {:>10} {:>10} {:>10} {:>10} {:>12}",
                r.backend.name(),
                r.batch,
                r.commits,
                fmt_rate(r.per_sec),
                r.bytes_per_sec / 1e6,
                fmt_ns(p.p50 as f64),
                fmt_ns(p.p90 as f64),
                fmt_ns(p.p99 as f64),
                fmt_ns(p.max as f64),
                fmt_ns(1e9 / r.per_sec),
            );
            runs.push(r);
        }
    }

    println!(
        "\n-- replay: {replay_n} commands written in commits of 4096, reopened, then for_each_from(1) with decoding"
    );
    println!(
        "  {:<10} {:>10} {:>12} {:>12} {:>12} {:>10}",
        "backend", "commands", "fill/s", "replay/s", "replay MB/s", "reopen"
    );
    for &b in &backends {
        let r = replay_run(&mut places, b, &cmds[..replay_n]);
        println!(
            "  {:<10} {:>10} {:>12} {:>12} {:>12.1} {:>10}",
            r.backend.name(),
            r.n,
            fmt_rate(r.n as f64 / r.fill_secs),
            fmt_rate(r.n as f64 / r.replay_secs),
            r.n as f64 * mean_payload / r.replay_secs / 1e6,
            fmt_ns(r.reopen_secs * 1e9),
        );
    }
    println!(
        "  (file reopen reads and checks every record; PostgreSQL reopen checks seq contiguity with count/min/max and decodes the last record)"
    );

    if places.pg {
        println!("\n-- PostgreSQL: COPY against UNNEST, commands/s (ratio > 1: COPY faster)");
        for &batch in &BATCHES {
            let rate = |w| {
                runs.iter()
                    .find(|r| r.batch == batch && r.backend == Backend::Pg(w))
                    .map_or(0.0, |r| r.per_sec)
            };
            let (u, c) = (rate(PgWrite::Unnest), rate(PgWrite::Copy));
            println!(
                "  batch {batch:>5}: UNNEST {:>10}  COPY {:>10}  ratio {:.2}",
                fmt_rate(u),
                fmt_rate(c),
                c / u.max(1e-9)
            );
        }
    }
    let _ = fs::remove_dir_all(&root);
    if mode == Mode::Smoke {
        println!("(smoke run under cargo test: everything exercised, timings meaningless)");
    }
}
