//! `bourse-edge`: the market-data edge tier (DESIGN §9). One concern: rebuild the core's
//! feed (books, trades, ticker, candles, private windows — with the core's seqs and
//! `account_seq`s) from what the core published to NATS JetStream, and serve it over the
//! same `/v1/ws` protocol and public REST market routes.
//!
//! - [`wire`]: subjects and message format, shared with the core's publisher;
//! - [`nats`]: the stream's settings and retention, created or updated by the core;
//! - [`coreauth`]: credentials checked against the core's HTTP API;
//! - [`run`]: the `bourse edge` process.
//!
//! Must never: hold state that cannot be rebuilt from the stream (an edge is stateless and
//! can be killed at any time); accept an order (order entry is the core's); apply a command
//! it cannot prove follows the last one it applied (a gap waits for the next snapshot).

pub mod coreauth;
pub mod nats;
pub mod run;
pub mod wire;

pub use nats::StreamSettings;
pub use run::{EdgeConfig, run};
