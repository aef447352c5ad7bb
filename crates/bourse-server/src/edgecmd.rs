//! `bourse edge`: a market-data edge (the `bourse-edge` crate) with this binary's settings:
//! `[nats]` for the stream, `[edge]` for where it serves and where the core is, `[feed]` and
//! `[server]` for the same limits as the core's own WebSocket.

use std::time::Duration;

use anyhow::{Context, Result};

use crate::config::Config;

/// The edge's settings from the binary's; fails on an unreadable company data file.
pub fn edge_config(cfg: &Config) -> Result<bourse_edge::EdgeConfig> {
    Ok(bourse_edge::EdgeConfig {
        stream: crate::natsrelease::stream_settings(cfg),
        listen: cfg.edge.listen.clone(),
        core_url: cfg.edge.core_url.trim_end_matches('/').to_owned(),
        auth_ttl: Duration::from_secs(cfg.edge.auth_cache_secs.max(1)),
        feed: crate::serve::feed_config(cfg),
        http: bourse_api::HttpConfig {
            // No order waits on an edge: a whole request gets the outcome wait alone.
            request_deadline: Duration::from_millis(cfg.server.request_timeout_ms),
            ..crate::serve::http_config(cfg, false)
        },
        workers: cfg.server.workers,
        companies: Some(crate::serve::companies_file(cfg)?),
        calendar: cfg
            .calendar
            .build(bourse_api::auth::now())
            .context("the [calendar] settings")?
            .map(std::sync::Arc::new),
    })
}

/// Runs an edge until a shutdown signal.
pub fn run(cfg: &Config) -> Result<()> {
    if cfg.nats.url.is_empty() {
        anyhow::bail!("bourse edge needs nats.url (BOURSE__NATS__URL): the stream it serves from");
    }
    bourse_edge::run(edge_config(cfg)?)?;
    Ok(())
}
