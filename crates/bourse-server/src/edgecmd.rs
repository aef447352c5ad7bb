//! `bourse edge`: a market-data edge (the `bourse-edge` crate) with this binary's settings:
//! `[nats]` for the stream, `[edge]` for where it serves and where the core is, `[feed]` and
//! `[server]` for the same limits as the core's own WebSocket.

use std::time::Duration;

use anyhow::Result;

use crate::config::Config;

/// The edge's settings from the binary's.
#[must_use]
pub fn edge_config(cfg: &Config) -> bourse_edge::EdgeConfig {
    bourse_edge::EdgeConfig {
        stream: crate::natsrelease::stream_settings(cfg),
        listen: cfg.edge.listen.clone(),
        core_url: cfg.edge.core_url.trim_end_matches('/').to_owned(),
        auth_ttl: Duration::from_secs(cfg.edge.auth_cache_secs.max(1)),
        feed: crate::serve::feed_config(cfg),
        http: bourse_api::HttpConfig {
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
            request_deadline: Duration::from_millis(cfg.server.request_timeout_ms),
            secure_cookies: false,
        },
        workers: cfg.server.workers,
    }
}

/// Runs an edge until a shutdown signal.
pub fn run(cfg: &Config) -> Result<()> {
    if cfg.nats.url.is_empty() {
        anyhow::bail!("bourse edge needs nats.url (BOURSE__NATS__URL): the stream it serves from");
    }
    bourse_edge::run(edge_config(cfg))?;
    Ok(())
}
