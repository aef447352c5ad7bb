//! `bourse bench …`: the load generators (`bourse-loadgen`) and the journal replay bench,
//! dispatched; `--spawn` gets this binary and a way to drop a PostgreSQL journal schema.

use anyhow::{Context, Result};
use clap::Subcommand;

use crate::Config;

/// `bourse bench …`: load generators.
#[derive(Debug, Subcommand)]
pub enum Bench {
    /// Open-loop order entry at a fixed rate; latency from each order's intended send time.
    Orders(Box<bourse_loadgen::OrdersArgs>),
    /// Market-data fan-out: many WebSocket subscribers on one hot symbol while orders flow.
    Feed(Box<bourse_loadgen::FeedArgs>),
    /// Journal replay: the configured journal read, decoded and applied, timed.
    Replay(crate::replaybench::ReplayArgs),
}

/// Runs a `bourse bench` subcommand.
pub fn run(cfg: &Config, bench: Bench) -> Result<()> {
    match bench {
        Bench::Orders(a) => bourse_loadgen::orders::run(&a, &hooks()?),
        Bench::Feed(a) => bourse_loadgen::feedbench::run(&a, &hooks()?),
        Bench::Replay(a) => crate::replaybench::run(cfg, &a),
    }
}

fn hooks() -> Result<bourse_loadgen::Hooks> {
    Ok(bourse_loadgen::Hooks {
        exe: std::env::current_exe().context("finding the bourse binary")?,
        drop_pg_schema,
    })
}

/// Drops a spawned server's PostgreSQL journal schema.
fn drop_pg_schema(url: &str, schema: &str) -> Result<()> {
    let opts = bourse_journal::PgJournalOptions::new(url.to_owned()).schema(schema.to_owned());
    // Quietly: PostgreSQL's notices ("drop cascades to …") are not news here.
    tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
        bourse_journal::PgJournal::open(opts).and_then(bourse_journal::PgJournal::drop_schema)
    })?;
    Ok(())
}
