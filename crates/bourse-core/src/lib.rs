//! `bourse-core`: the vocabulary every other bourse crate speaks.
//!
//! Owns fixed-point [`Price`] / [`Cash`] and [`Qty`] (millionths of a share) with checked
//! arithmetic and exact decimal text conversion, the newtype ids, [`Side`], [`UnixNanos`], the stable
//! [`RejectReason`] / [`CancelReason`] codes, and the [`Command`] / [`Event`] vocabulary the
//! engine, journal and gateway share.
//!
//! Must never: depend on another bourse crate, do I/O, read a clock, or use floating point.

pub mod codec;
pub mod command;
pub mod divisor;
pub mod event;
pub mod funding;
pub mod ids;
pub mod num;
pub mod order;
pub mod profile;
pub mod session;
pub mod time;

pub use command::{
    AlertCondition, ClassRequest, ClassRequestV1, Command, LegRole, OrderClass, OrderOptions,
    OrderOptionsV1, OrderRequest, OrderRequestV1, OrderRequestV2, OrderType, Role, Scopes,
    SecretHash, Seq, Sequenced, StopLoss, Trail,
};
pub use divisor::Divisor;
pub use event::{Event, Liquidity, Tagged};
pub use ids::{AccountId, ClientOrderId, IdError, OrderId, Symbol, TradeId, WatchlistName};
pub use num::{Cash, ParseNumError, Price, QTY_SCALE, Qty, WholeQty, div_const, exact_value};
pub use order::{CancelReason, RejectReason, SelfTradePrevention, Side, TimeInForce};
pub use session::Session;
pub use time::UnixNanos;
