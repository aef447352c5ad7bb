//! `bourse`: the exchange server binary.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use bourse_server::Config;
use bourse_server::recovery::Start;
use clap::{Parser, Subcommand};

/// jemalloc rather than glibc's malloc: under a long order flow glibc's per-thread arenas
/// kept growing (RSS +15% from 1 M to 10 M orders with every table of ours flat), while
/// jemalloc's background threads hand freed pages back (BENCHMARKS, "Memory over a long
/// run").
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser, Debug)]
#[command(
    name = "bourse",
    version,
    about = "bourse: a low-latency stock exchange"
)]
struct Cli {
    /// Settings file over the embedded defaults (config/default.toml shows every key).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run the exchange: recover from the journal, then serve the API.
    Serve {
        /// Be a hot standby (PostgreSQL journal): follow the journal the primary writes,
        /// serve only /healthz and /metrics, and take over once the primary's lease lapses.
        #[arg(long)]
        standby: bool,
    },
    /// Run the demo exchange: the server with a simulated market (a market maker quoting
    /// every stock, traders hitting it) and a funded demo login.
    Demo {
        /// Seed of the simulated market.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Simulated commands per second, roughly (0: no simulated market).
        #[arg(long, default_value_t = 200.0)]
        rate: f64,
        /// Real minutes a compressed trading day lasts, pre-market to the end of
        /// after-hours (the night takes half as long): the demo's calendar, unless
        /// `[calendar]` is enabled in the settings. 0: no calendar, always open.
        #[arg(long, default_value_t = 20)]
        day_minutes: u32,
    },
    /// Rebuild the state from the journal and print its hash (nothing is written).
    Replay {
        /// Start from the newest snapshot instead of replaying the whole journal.
        #[arg(long)]
        from_snapshot: bool,
    },
    /// The operator's controls of a running exchange: snapshot, halt, resume, end-of-day.
    Admin(bourse_server::admin::AdminArgs),
    /// Load generators (`bourse bench orders --help`): open-loop order entry over WebSocket
    /// or REST against a running exchange, or one it spawns.
    Bench {
        #[command(subcommand)]
        what: bourse_server::bench::Bench,
    },
    /// A market-data edge: rebuilds the core's feed from NATS JetStream (`[nats]`) and
    /// serves /v1/ws and the public market routes on `edge.listen`.
    Edge,
    /// The file journal's maintenance (`bourse journal repair --help`).
    Journal {
        #[command(subcommand)]
        what: JournalCmd,
    },
}

#[derive(Subcommand, Debug)]
enum JournalCmd {
    /// Checks the file journal (with the server stopped) and, only with --accept-loss, cuts
    /// off a corrupt tail of its newest segment so the server can start again. File journal
    /// only: a PostgreSQL journal is restored from a replica or backup instead.
    Repair {
        /// Drop the first damaged record of the newest segment and everything after it.
        /// Those commands may have been acknowledged to clients: restoring the journal from
        /// a replica or backup loses nothing and is preferred.
        #[arg(long)]
        accept_loss: bool,
    },
}

/// `bourse journal repair`: see [`JournalCmd::Repair`].
fn repair(cfg: &Config, accept_loss: bool) -> Result<()> {
    use bourse_journal::{FileJournal, FileJournalOptions, Journal, JournalError, Location};
    let (dir, segment_bytes) = match cfg.backend()? {
        bourse_server::config::Backend::File { dir, segment_bytes } => (dir, segment_bytes),
        bourse_server::config::Backend::Postgres { .. } => anyhow::bail!(
            "journal repair works on the file journal only; this configuration uses a \
             PostgreSQL journal, which is not repaired this way: restore it from a replica or \
             backup"
        ),
    };
    let opts = FileJournalOptions {
        segment_bytes,
        ..FileJournalOptions::default()
    };
    let shown = dir.display();
    if !dir.is_dir() {
        anyhow::bail!("no file journal at {shown} (journal.dir)");
    }
    // The newest segment: the only one whose damage `--accept-loss` may cut off.
    let newest = std::fs::read_dir(&dir)
        .with_context(|| format!("listing {shown}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("journal-") && n.ends_with(".log"))
        })
        .max();
    match FileJournal::open(&dir, opts) {
        Ok(j) => {
            let r = j.recovery();
            let torn = if r.truncated_bytes > 0 {
                format!(
                    "; cut off a torn final write of {} bytes (never acknowledged)",
                    r.truncated_bytes
                )
            } else {
                String::new()
            };
            println!(
                "journal {shown} needs no repair: seq {}, {} records in {} segments{torn}",
                j.durable_seq().0,
                r.records,
                r.segments
            );
            return Ok(());
        }
        Err(JournalError::Corrupt { at, what }) if !accept_loss => {
            let (in_newest, size) = match &at {
                Location::File { path, offset } => (
                    newest.as_ref() == Some(path),
                    std::fs::metadata(path)
                        .map(|m| format!(" ({} bytes)", m.len().saturating_sub(*offset)))
                        .unwrap_or_default(),
                ),
                Location::Row { .. } => (false, String::new()),
            };
            if !in_newest {
                anyhow::bail!(
                    "journal {shown} is corrupt at {at}: {what}. Nothing was changed. The \
                     damage is not in the newest segment, so it cannot be cut off (later \
                     segments would go with it): restore the journal from a replica or backup"
                );
            }
            anyhow::bail!(
                "journal {shown} is corrupt at {at}: {what}. Nothing was changed. Restoring \
                 the journal from a replica or backup loses nothing and is preferred; \
                 `bourse journal repair --accept-loss` instead cuts the newest segment there, \
                 dropping that record and everything after it{size}, which may include \
                 acknowledged commands"
            );
        }
        Err(JournalError::Corrupt { .. }) => {}
        Err(e) => return Err(e).with_context(|| format!("checking the journal in {shown}")),
    }
    let j = FileJournal::open(
        &dir,
        FileJournalOptions {
            accept_corrupt_tail: true,
            ..opts
        },
    )
    .with_context(|| {
        format!(
            "repairing the journal in {shown} (--accept-loss cuts only the newest segment; \
             damage in an older one needs a restore from a replica or backup)"
        )
    })?;
    let kept = j.durable_seq().0;
    if let Some(d) = j.recovery().dropped.clone() {
        println!(
            "journal {shown}: DROPPED {} bytes from {} ({}); kept seqs 1..={kept}, the \
             journal now ends at seq {kept}",
            d.bytes, d.at, d.what
        );
        for p in &d.snapshots_set_aside {
            println!(
                "set aside snapshot {} (it covers dropped commands)",
                p.display()
            );
        }
    }
    drop(j);
    // Prove the server will start: the same recovery `serve` does.
    let (_, _, _, rec) = bourse_server::serve::open_and_recover(cfg, Start::LatestSnapshot)
        .context("recovering from the repaired journal")?;
    println!(
        "the repaired journal recovers to seq {} (state hash {}); `bourse serve` can start",
        rec.seq.0, rec.hash
    );
    Ok(())
}

fn init_logs(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cfg.log.level));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cfg.log.format == "json" {
        b.json().init();
    } else {
        b.init();
    }
}

fn run(cli: Cli) -> Result<()> {
    let cfg = Config::load(cli.config.as_deref())?;
    init_logs(&cfg);
    let cmd = cli.cmd.unwrap_or(Cmd::Demo {
        seed: 42,
        rate: 200.0,
        day_minutes: 20,
    });
    match cmd {
        Cmd::Serve { standby: false } => bourse_server::serve::serve(&cfg),
        Cmd::Serve { standby: true } => bourse_server::serve::serve_standby(&cfg),
        Cmd::Demo {
            seed,
            rate,
            day_minutes,
        } => {
            let mut cfg = cfg;
            if day_minutes > 0 && !cfg.calendar.enabled {
                cfg.calendar = bourse_server::demo::calendar(day_minutes);
            }
            bourse_server::serve::serve_with(
                &cfg,
                Some(bourse_server::demo::Demo {
                    seed,
                    rate,
                    ..Default::default()
                }),
            )
        }
        Cmd::Bench { what } => bourse_server::bench::run(&cfg, what),
        Cmd::Admin(a) => bourse_server::admin::run(&cfg, &a),
        Cmd::Edge => bourse_server::edgecmd::run(&cfg),
        Cmd::Journal {
            what: JournalCmd::Repair { accept_loss },
        } => repair(&cfg, accept_loss),
        Cmd::Replay { from_snapshot } => {
            let start = if from_snapshot {
                Start::LatestSnapshot
            } else {
                Start::Genesis
            };
            let (_, name, _, rec) = bourse_server::serve::open_and_recover(&cfg, start)
                .context("replaying the journal")?;
            let secs = rec.elapsed.as_secs_f64();
            let from = rec.snapshot_seq.map_or_else(
                || "genesis".to_owned(),
                |s| format!("snapshot at seq {}", s.0),
            );
            let checked = rec.verified_against.map_or_else(String::new, |s| {
                format!("; matched the snapshot at seq {} on the way", s.0)
            });
            println!(
                "journal {name}: seq {} state hash {} (from {from}, {} commands replayed in \
                 {secs:.3} s, {:.0} commands/s{checked})",
                rec.seq.0,
                rec.hash,
                rec.replayed,
                rec.replayed as f64 / secs.max(1e-9),
            );
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bourse: {e:#}");
            ExitCode::FAILURE
        }
    }
}
