//! `bourse-api`: the way in for brokers' programs and for people — order entry and the
//! operator's actions over HTTP, through one gateway to the engine's queue.
//!
//! Owns: the [`Gateway`] (a command goes in with a ticket; its outcome comes back only once
//! the command is durable), request parsing and validation before anything reaches the
//! engine, the JSON shapes of orders and errors, and the HTTP routes.
//!
//! Must never: show an outcome before the publisher released it (it is durable by then);
//! let a malformed request reach the engine; panic or hang on bad input; wait unboundedly
//! (a full queue is `503 overloaded`, a missing outcome a `504` after a bounded wait).

mod admin;
mod alertbook;
pub mod alerts;
pub mod audit;
pub mod auth;
mod brokers;
pub mod clock;
pub mod companies;
pub mod cookie;
pub mod edge;
pub mod error;
pub mod extract;
pub mod funding;
pub mod gateway;
pub mod http;
pub mod lockout;
mod market;
mod meta;
pub mod news;
mod notices;
pub mod openapi;
pub mod orders;
pub mod page;
pub mod people;
pub mod personkeys;
mod privacy;
pub mod profilebook;
mod queries;
pub mod ratelimit;
pub mod readmodel;
pub mod shutdown;
pub mod sidestore;
mod signup;
pub mod state;
pub mod support;
mod trading;
mod transfers;
mod twofactor;
mod users;
pub mod vault;
mod watchlistbook;
pub mod watchlists;
pub mod wire;
pub mod ws;
mod wsframe;
mod wsresume;

pub use auth::{Directory, DirectorySeed, Principal, UserEntry};
pub use error::ApiError;
pub use gateway::{Gateway, GatewayError, Refused, Reply, Sequencer};
pub use http::router;
pub use meta::METRICS_CONTENT_TYPE;
pub use orders::{Listing, Listings, OrderView};
pub use readmodel::{History, PgHistory, PgProjector, ReadModel, Retention};
pub use state::{HttpConfig, Operations, Services};
