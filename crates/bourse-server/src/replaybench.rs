//! `bourse bench replay`: how fast the configured journal replays (open, read, decode and
//! apply every command, hashes checked), with progress while it runs and a JSON report.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;

use crate::Config;
use crate::recovery::{Start, recover};
use crate::serve::{genesis, open_journal};

/// `bourse bench replay`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// Start from the newest snapshot (a restart) instead of from genesis.
    #[arg(long)]
    pub from_snapshot: bool,
    /// Replays to run (the report gives each and the best).
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// Write the JSON report here too.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs `bourse bench replay` against the journal the settings name.
pub fn run(cfg: &Config, a: &ReplayArgs) -> Result<()> {
    let start = if a.from_snapshot {
        Start::LatestSnapshot
    } else {
        Start::Genesis
    };
    let mut runs = Vec::new();
    let mut name = String::new();
    for r in 0..a.repeat.max(1) {
        let t = Instant::now();
        let (journal, n) = open_journal(cfg)?;
        name = n;
        let opened = t.elapsed().as_secs_f64();
        let durable = journal.durable_seq().0;
        let mut last_print = Instant::now();
        let quiet = a.quiet;
        let (_, rec) = recover(
            &*journal,
            || genesis(cfg),
            start,
            cfg.engine.expected_working_orders,
            |s| {
                if !quiet && last_print.elapsed().as_secs_f64() >= 1.0 {
                    last_print = Instant::now();
                    eprintln!(
                        "bench: replay {}: seq {} of {durable} ({:.0}%)",
                        r + 1,
                        s.0,
                        s.0 as f64 * 100.0 / durable.max(1) as f64
                    );
                }
            },
        )
        .context("replaying the journal")?;
        let total = t.elapsed().as_secs_f64();
        let secs = rec.elapsed.as_secs_f64().max(1e-9);
        runs.push(json!({
            "open_secs": opened,
            "recover_secs": secs,
            "total_secs": total,
            "replayed": rec.replayed,
            "commands_per_sec": rec.replayed as f64 / secs,
            "seq": rec.seq.0,
            "snapshot_seq": rec.snapshot_seq.map(|s| s.0),
            "state_hash": rec.hash.to_string(),
        }));
        if !a.quiet {
            eprintln!(
                "bench: replay {}: {} commands in {secs:.3} s = {:.0}/s (open {opened:.3} s), state hash {}",
                r + 1,
                rec.replayed,
                rec.replayed as f64 / secs,
                rec.hash
            );
        }
    }
    let best = runs
        .iter()
        .filter_map(|r| r["commands_per_sec"].as_f64())
        .fold(0.0, f64::max);
    let report = json!({
        "bench": "replay",
        "journal": name,
        "from": if a.from_snapshot { "snapshot" } else { "genesis" },
        "runs": runs,
        "best_commands_per_sec": best,
        "host": bourse_loadgen::stats::host_line(),
    });
    let text = serde_json::to_string_pretty(&report)?;
    println!("{text}");
    if let Some(path) = &a.json {
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
