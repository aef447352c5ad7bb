//! `bourse`: the exchange server binary.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use bourse_server::Config;
use bourse_server::recovery::Start;
use clap::{Parser, Subcommand};

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
    Serve,
    /// Run the demo exchange: the server with a simulated market (a market maker quoting
    /// every stock, traders hitting it) and a funded demo login.
    Demo {
        /// Seed of the simulated market.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Simulated commands per second, roughly (0: no simulated market).
        #[arg(long, default_value_t = 200.0)]
        rate: f64,
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
        what: bourse_server::loadgen::Bench,
    },
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
    });
    match cmd {
        Cmd::Serve => bourse_server::serve::serve(&cfg),
        Cmd::Demo { seed, rate } => bourse_server::serve::serve_with(
            &cfg,
            Some(bourse_server::demo::Demo {
                seed,
                rate,
                ..Default::default()
            }),
        ),
        Cmd::Bench { what } => bourse_server::loadgen::run(&cfg, what),
        Cmd::Admin(a) => bourse_server::admin::run(&cfg, &a),
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
