//! `bourse-fix`: brokers' FIX 4.4 connectivity — an acceptor on its own port whose sessions
//! log on with an API key, trade through the same gateway as REST and WebSocket, and get
//! execution reports for every order of their account, wherever it was entered.
//!
//! Owns: the tag=value codec ([`codec`]), the FIX session layer (logon, heartbeats and test
//! requests, sequence numbers, resend requests answered from the persistent [`store`] with
//! gap fills over session messages, sequence resets, session rejects, logout), the mapping
//! of NewOrderSingle, OrderCancelRequest, OrderCancelReplaceRequest, OrderStatusRequest and
//! OrderMassCancelRequest to commands, and of the engine's events to ExecutionReports,
//! OrderCancelRejects, OrderMassCancelReports and BusinessMessageRejects; and at logon the
//! reports of what happened to the account's orders while the session was away
//! ([`catchup`](crate::catchup), by the account's stream numbers).
//!
//! Must never: show an outcome before it is durable (it only reports released events and
//! gateway outcomes); let one slow session hold up the publisher (each session's queue is
//! bounded and an overrun session is logged out); keep two live sessions for one key.
//!
//! Why our own session layer: the Rust FIX engines found (`easyfix-session`,
//! `ironfix-engine`, `quickfix-tokio`, `fixer`, `rustyfix`) are young single-maintainer
//! projects, and their acceptors serve sessions configured ahead of time; ours are
//! dynamic (any SenderCompID, authenticated by the API key in the Logon) and keep their
//! store beside the exchange's own data.

mod app;
mod catchup;
pub mod codec;
mod hub;
mod input;
mod reports;
mod session;
pub mod store;

pub use hub::{FixHub, FixServices};
pub use session::{FixConfig, serve};
