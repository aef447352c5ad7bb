//! Commands: what the engine is asked to do. Verbs, journaled in sequence before anything
//! they cause is shown to anyone; the engine is a pure function of them.

use serde::{Deserialize, Serialize};

use crate::{
    AccountId, Cash, ClientOrderId, OrderId, Price, Qty, SelfTradePrevention, Side, Symbol,
    TimeInForce, UnixNanos,
};

/// Gap-free position of a command in the journal, assigned by the sequencer.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Seq(pub u64);

/// The kind of order a client asks for.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    Limit,
    Market,
    /// Held until the last trade reaches `stop_price`, then a market order.
    Stop,
    /// Held until the last trade reaches `stop_price`, then a limit order at `limit_price`.
    StopLimit,
}

/// A new order as the gateway validated it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OrderRequest {
    pub account: AccountId,
    pub symbol: Symbol,
    pub client_order_id: Option<ClientOrderId>,
    pub side: Side,
    pub order_type: OrderType,
    pub tif: TimeInForce,
    pub qty: Qty,
    pub limit_price: Option<Price>,
    pub stop_price: Option<Price>,
    pub post_only: bool,
    pub stp: SelfTradePrevention,
}

/// Everything that changes exchange state.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Command {
    /// Opens a cash account (the engine assigns the id).
    OpenAccount,
    Deposit {
        account: AccountId,
        amount: Cash,
    },
    Withdraw {
        account: AccountId,
        amount: Cash,
    },
    /// Shares transferred in from outside the exchange (e.g. from another broker).
    DepositShares {
        account: AccountId,
        symbol: Symbol,
        qty: Qty,
    },
    SubmitOrder(OrderRequest),
    CancelOrder {
        account: AccountId,
        order_id: OrderId,
    },
    /// New open quantity and, for limit orders, a new price (`None` keeps it).
    ReplaceOrder {
        account: AccountId,
        order_id: OrderId,
        qty: Qty,
        price: Option<Price>,
    },
    /// Cancels every working order matching both filters (`None` matches all).
    MassCancel {
        account: Option<AccountId>,
        symbol: Option<Symbol>,
    },
    HaltSymbol {
        symbol: Symbol,
    },
    ResumeSymbol {
        symbol: Symbol,
    },
    /// Expires DAY orders (resting and held stops) and starts a new trading day.
    EndOfDay,
}

/// A command with its place in the journal and the time it was sequenced. The engine reads
/// time only from here, never from a clock, so a replay reproduces every decision.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Sequenced {
    pub seq: Seq,
    pub ts: UnixNanos,
    pub cmd: Command,
}
