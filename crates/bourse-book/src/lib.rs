//! `bourse-book`: one symbol's limit order book and its matching rules.
//!
//! Price-time priority (FIFO within a level), trades at the resting order's price, limit
//! orders GTC/DAY/IOC/FOK with post-only, market orders bounded by a price collar, cancel,
//! replace (priority kept only for a same-price reduction), self-trade prevention, mass
//! cancel and DAY expiry; call-auction price discovery ([`auction`]). Every outcome is a
//! typed [`BookEvent`], emitted in the order it happens; every refusal is a
//! [`RejectReason`](bourse_core::RejectReason), never a panic.
//!
//! Must never: do I/O, spawn or block on threads, read a clock, or iterate a hash map on a
//! decision path. Rules that need accounts or instruments (buying power, price bands,
//! halts) belong to the engine, not here.
//!
//! ```
//! use bourse_book::{BookConfig, BookEvent, NewOrder, OrderBook};
//! use bourse_core::{Price, Qty, Side};
//!
//! let mut book = OrderBook::new(BookConfig::default()); // tick $0.01, lot 1, 5% collar
//! let mut events: Vec<BookEvent> = Vec::new();
//! let px = |s: &str| s.parse::<Price>().unwrap();
//! book.submit(&NewOrder::limit(1, 100, Side::Sell, px("190.25"), 50), &mut events);
//! book.submit(&NewOrder::limit(2, 200, Side::Buy, px("190.30"), 80), &mut events);
//! assert!(matches!(events[3],
//!     BookEvent::Fill { price, qty, .. } if price == px("190.25") && qty == Qty::shares(50)));
//! assert!(matches!(events[4],
//!     BookEvent::Rested { price, qty, .. } if price == px("190.30") && qty == Qty::shares(30)));
//! assert_eq!(book.best_bid().map(|l| l.qty), Some(Qty::shares(30)));
//! ```

pub mod auction;
mod book;
mod event;
mod ladder;

pub use book::{BookConfig, LevelView, NewOrder, OrderBook, RestingOrder};
pub use event::{BookEvent, EventSink, Priority, Request};
