//! Market data for bourse, derived from the engine's released events only:
//!
//! - [`state`]: one symbol's L2 book (aggregate quantity and order count per level), trade
//!   tape, day ticker and 1-minute candles, with a `seq` that rises by one per update;
//! - [`msg`]: those updates as JSON messages, serialized once;
//! - [`hub`]: the fan-out to WebSocket connections (bounded outboxes in bytes, book
//!   conflation for lagging clients, slow consumers disconnected with a reason) and the
//!   private channels by account ([`private`]), with a window of each account's newest
//!   stream events so a reconnecting client resumes `since` the last `account_seq` it saw.
//!
//! The feed sees only durable, processed commands (the server's publisher releases to it),
//! so nothing shown here can be lost by a crash; a restart rebuilds the state, seqs
//! included, by replaying the journal through [`hub::Publisher::publish`].

pub mod hub;
pub mod image;
pub mod msg;
pub mod private;
pub mod state;

pub use hub::{
    Channel, Conn, Feed, FeedConfig, FeedStats, Frame, PrivateChannel, Publisher, Pushed,
    SubscribeError,
};
pub use image::{FeedImage, ImageError};
pub use private::{Behind, Resumed};
pub use state::{Book, Candle, Level, Print, Retention, Status, SymbolState, Update};
