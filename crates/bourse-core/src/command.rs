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

/// What a user may do.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A person trading for themselves.
    Trader,
    /// A program trading through API keys.
    Broker,
    /// Runs the exchange: halts, end of day, snapshots.
    Operator,
}

/// A SHA-256-sized digest of a secret (session token or API key secret). Secrets are
/// random 256-bit values; only their digests are ever stored or journaled.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct SecretHash(pub [u8; 32]);

/// The kind of order a client asks for.
/// When a price alert fires: at a trade at or above its price, or at or below it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertCondition {
    Above,
    Below,
}

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
    /// Registers a user with their own new account. `password_hash` is an argon2 PHC
    /// string computed by the gateway (never on the engine thread).
    RegisterUser {
        username: String,
        password_hash: String,
        role: Role,
    },
    /// A login: the session token's digest, valid until `expires_at`.
    CreateSession {
        account: AccountId,
        token: SecretHash,
        expires_at: UnixNanos,
    },
    /// A logout (or revocation) of one session.
    EndSession {
        token: SecretHash,
    },
    /// A broker API key; the engine assigns its id.
    CreateApiKey {
        account: AccountId,
        secret: SecretHash,
        label: String,
    },
    RevokeApiKey {
        account: AccountId,
        key_id: u64,
    },
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
    /// A price alert for the account: fires once, at the first trade that meets it.
    CreateAlert {
        account: AccountId,
        symbol: Symbol,
        condition: AlertCondition,
        price: Price,
    },
    DeleteAlert {
        account: AccountId,
        alert_id: u64,
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
