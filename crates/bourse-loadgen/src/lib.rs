//! `bourse-loadgen`: the load generators behind `bourse bench` — open-loop order entry
//! (`bourse bench orders`) and the market-data feed under load (`bourse bench feed`) — with
//! their reports and latency plots.
//!
//! Owns: how load is offered (schedules, order flows, pacing), how answers are timed
//! (from each request's intended send time, so a stalled server is charged for its queue),
//! and what the reports say.
//!
//! Must never: reach into the server. It is a client of the public protocols only (HTTP
//! and WebSocket, the stock list included); what `--spawn` needs beyond that (which binary
//! serves, how a PostgreSQL journal schema is dropped) the `bourse` binary hands it as
//! [`spawn::Hooks`].

pub mod feedbench;
pub mod http;
pub mod market;
pub mod orders;
pub mod plot;
pub mod rng;
pub mod spawn;
pub mod stats;
pub mod trader;

pub use feedbench::FeedArgs;
pub use orders::OrdersArgs;
pub use spawn::Hooks;
