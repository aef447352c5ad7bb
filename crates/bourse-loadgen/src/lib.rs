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
pub mod hooksink;
pub mod http;
pub mod market;
pub mod orders;
pub mod plot;
pub mod rng;
pub mod spawn;
pub mod stats;
pub mod trader;

/// The client's runtime: one thread (the default: the client's own cost stays on one core
/// and its timing has no cross-thread hand-offs) or `threads` workers.
pub(crate) fn client_runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("bench-client")
            .enable_all()
            .build()
    }
}

pub use feedbench::FeedArgs;
pub use orders::OrdersArgs;
pub use spawn::Hooks;
