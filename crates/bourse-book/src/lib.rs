//! `bourse-book`: one symbol's limit order book and its matching rules.
//!
//! Price-time priority (FIFO within a level), trades at the resting order's price, limit
//! orders GTC/DAY/IOC/FOK with post-only, market orders bounded by a price collar, cancel,
//! replace (priority kept only for a same-price reduction), self-trade prevention, mass
//! cancel and DAY expiry. Every outcome is a typed [`BookEvent`], emitted in the order it
//! happens; every refusal is a [`RejectReason`](bourse_core::RejectReason), never a panic.
//!
//! Must never: do I/O, spawn or block on threads, read a clock, or iterate a hash map on a
//! decision path. Rules that need accounts or instruments (buying power, price bands,
//! halts) belong to the engine, not here.

mod book;
mod event;
mod ladder;

pub use book::{BookConfig, LevelView, NewOrder, OrderBook, RestingOrder};
pub use event::{BookEvent, EventSink, Priority, Request};
