//! Events: what happened, in the past tense, each tagged by the engine with the `Seq` of the
//! command that caused it. Execution reports, account changes and market data are all
//! derived from this one stream.

use serde::{Deserialize, Serialize};

use crate::command::{
    AlertCondition, LegRole, OrderClass, OrderType, Role, Scopes, SecretHash, Seq, Trail,
};
use crate::funding::{Direction, TransferStatus};
use crate::profile::{CodePurpose, ContactKind, SecurityChange};
use crate::{
    AccountId, CancelReason, Cash, ClientOrderId, OrderId, Price, Qty, RejectReason, Session, Side,
    Symbol, TimeInForce, TradeId, UnixNanos, WatchlistName,
};

/// Which side of a trade an order was on.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Liquidity {
    /// The order was resting: it provided liquidity.
    Maker,
    /// The order arrived and traded: it took liquidity.
    Taker,
}

/// One thing that happened.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Event {
    AccountOpened {
        account: AccountId,
    },
    UserRegistered {
        account: AccountId,
        role: Role,
    },
    SessionCreated {
        account: AccountId,
        expires_at: UnixNanos,
    },
    SessionEnded {
        account: AccountId,
        /// The digest of the session's token (never the token), so that every holder of a
        /// copy of the sessions can forget it.
        token: SecretHash,
    },
    ApiKeyCreated {
        account: AccountId,
        key_id: u64,
        scopes: Scopes,
    },
    ApiKeyRevoked {
        account: AccountId,
        key_id: u64,
    },
    CashDeposited {
        account: AccountId,
        amount: Cash,
        balance: Cash,
    },
    CashWithdrawn {
        account: AccountId,
        amount: Cash,
        balance: Cash,
    },
    SharesDeposited {
        account: AccountId,
        symbol: Symbol,
        qty: Qty,
        position: Qty,
    },
    /// A request was refused; nothing changed. `order_id` names the order a cancel or
    /// replace was about, or the id a refused submit would have had.
    Rejected {
        account: Option<AccountId>,
        order_id: Option<OrderId>,
        client_order_id: Option<ClientOrderId>,
        reason: RejectReason,
    },
    OrderAccepted {
        order_id: OrderId,
        account: AccountId,
        symbol: Symbol,
        client_order_id: Option<ClientOrderId>,
        side: Side,
        order_type: OrderType,
        tif: TimeInForce,
        /// For a notional order, the quantity its money buys from the book as it stood.
        qty: Qty,
        limit_price: Option<Price>,
        stop_price: Option<Price>,
        /// A notional order's dollar amount (Alpaca's `notional`); zero for an order by
        /// quantity. (Not an `Option`: that would take the largest event past the 128
        /// bytes checked below the enum.)
        notional: Cash,
        /// Alpaca's `extended_hours`: a limit DAY order that also trades in pre-market and
        /// after-hours.
        extended_hours: bool,
    },
    /// A stop order's trigger was reached; it now enters the book.
    OrderTriggered {
        order_id: OrderId,
        account: AccountId,
        symbol: Symbol,
        last_price: Price,
    },
    /// The remainder of an order now rests on the book.
    OrderRested {
        order_id: OrderId,
        symbol: Symbol,
        side: Side,
        price: Price,
        qty: Qty,
    },
    OrderFilled {
        order_id: OrderId,
        account: AccountId,
        symbol: Symbol,
        side: Side,
        trade_id: TradeId,
        last_px: Price,
        last_qty: Qty,
        cum_qty: Qty,
        leaves_qty: Qty,
        /// The cash all fills so far moved: price × quantity, exact for whole shares; with
        /// fractions the order's exact value rounded up for a buy, down for a sell.
        cum_notional: Cash,
        liquidity: Liquidity,
        fee: Cash,
        /// The cash this fill moved (before the fee): `cum_notional`'s growth.
        value: Cash,
    },
    /// An order stopped working. `qty` is what was left; `resting_price` is the book level
    /// it left, `None` if it was not resting (an incoming remainder or a held stop).
    OrderCanceled {
        order_id: OrderId,
        account: AccountId,
        symbol: Symbol,
        side: Side,
        qty: Qty,
        resting_price: Option<Price>,
        reason: CancelReason,
    },
    /// A working order was amended. With `priority_kept` false it left `old_price` and
    /// re-entered as a new arrival: fills and a rest or cancel may follow.
    OrderReplaced {
        order_id: OrderId,
        account: AccountId,
        symbol: Symbol,
        side: Side,
        old_price: Option<Price>,
        old_qty: Qty,
        price: Option<Price>,
        qty: Qty,
        priority_kept: bool,
    },
    /// Public trade print.
    Trade {
        symbol: Symbol,
        trade_id: TradeId,
        price: Price,
        qty: Qty,
        aggressor: Side,
        maker_order: OrderId,
        taker_order: OrderId,
    },
    SymbolHalted {
        symbol: Symbol,
    },
    SymbolResumed {
        symbol: Symbol,
    },
    DayEnded {
        at: UnixNanos,
    },
    AlertCreated {
        alert_id: u64,
        account: AccountId,
        symbol: Symbol,
        condition: AlertCondition,
        price: Price,
    },
    AlertDeleted {
        alert_id: u64,
        account: AccountId,
    },
    /// A trade met the alert; it is gone (delivered once).
    AlertTriggered {
        alert_id: u64,
        account: AccountId,
        symbol: Symbol,
        condition: AlertCondition,
        price: Price,
        trade_price: Price,
    },
    /// An account's cash after the command, emitted once per command for every account
    /// whose cash or reservations it may have changed (after the command's other events).
    BalanceChanged {
        account: AccountId,
        cash: Cash,
        /// Promised to working buy orders (available = cash − reserved).
        reserved: Cash,
    },
    /// A position after the command, emitted like [`Event::BalanceChanged`].
    PositionChanged {
        account: AccountId,
        symbol: Symbol,
        qty: Qty,
        /// Promised to working sell orders.
        reserved: Qty,
    },
    /// A new, empty watchlist; its symbols follow as [`Event::WatchlistSymbolAdded`].
    WatchlistCreated {
        watchlist_id: u64,
        account: AccountId,
        name: WatchlistName,
    },
    WatchlistRenamed {
        watchlist_id: u64,
        account: AccountId,
        name: WatchlistName,
    },
    /// Appended at the end of the list.
    WatchlistSymbolAdded {
        watchlist_id: u64,
        account: AccountId,
        symbol: Symbol,
    },
    WatchlistSymbolRemoved {
        watchlist_id: u64,
        account: AccountId,
        symbol: Symbol,
    },
    WatchlistDeleted {
        watchlist_id: u64,
        account: AccountId,
    },
    // New variants go last: `account_events` rows hold events encoded by variant index.
    /// A broker opened a customer account (after its `AccountOpened`).
    CustomerAccountOpened {
        account: AccountId,
        broker: AccountId,
    },
    /// The account's [`Profile`](crate::profile::Profile) (contacts, codes, second factor,
    /// notification settings, webhooks) changed; the new one travels beside the events
    /// (`EventBatch::profiles`), as it does not fit a `Copy` event. Never on the private
    /// stream: it holds digests and sealed secrets.
    ProfileChanged {
        account: AccountId,
    },
    /// A one-time code was issued for the account's `kind` address (for `Change`, the new
    /// one); the sealed code is in the profile.
    CodeIssued {
        account: AccountId,
        purpose: CodePurpose,
        kind: ContactKind,
    },
    SecurityChanged {
        account: AccountId,
        change: SecurityChange,
    },
    /// A log-in from a device the account had not used (its label is in the profile).
    NewDeviceLogIn {
        account: AccountId,
    },
    /// A regular-hours order stepped off the book at the close (`resting_price`, `qty`
    /// open) to wait for the next opening call; it keeps its reservation and its place
    /// among the others waiting.
    OrderParked {
        order_id: OrderId,
        account: AccountId,
        symbol: Symbol,
        side: Side,
        qty: Qty,
        resting_price: Option<Price>,
    },
    /// The market entered `session` (one event per session passed through).
    SessionChanged {
        session: Session,
    },
    /// A call auction uncrossed: `volume` shares traded at `price` (its trades came just
    /// before), and `imbalance` shares on `imbalance_side` were left unmatched at that price.
    /// An auction with nothing to match reports `price: None`. An `OrderRested` for every
    /// order left on the book follows (in priority order): the public book starts again
    /// from them, as auction fills need not be at the resting orders' own prices. At the
    /// close, the expiries and `OrderParked`s come before it, and the list after it names
    /// only the orders that stay for after-hours.
    AuctionUncrossed {
        symbol: Symbol,
        session: Session,
        price: Option<Price>,
        volume: Qty,
        imbalance: Qty,
        imbalance_side: Option<Side>,
    },
    /// A trailing stop's stop price: set when it is accepted, and each time a trade in its
    /// favour moves `water` (the highest trade since it was placed, for a sell; the lowest,
    /// for a buy) and with it the stop, `trail` behind.
    OrderStopMoved {
        order_id: OrderId,
        account: AccountId,
        symbol: Symbol,
        stop_price: Price,
        water: Price,
        trail: Trail,
    },
    /// The order (accepted just before) is part of a class: `group` is the class's first
    /// order (the entry, or an OCO's take profit), `role` its part. An exit of a bracket or
    /// OTO is held until its entry stops working.
    OrderLinked {
        order_id: OrderId,
        account: AccountId,
        symbol: Symbol,
        class: OrderClass,
        group: OrderId,
        role: LegRole,
    },
    /// A held exit starts working, for `qty` (what its entry filled): a take profit goes to
    /// the book (or waits for the open), a stop loss is held until its stop price trades.
    OrderActivated {
        order_id: OrderId,
        account: AccountId,
        symbol: Symbol,
        qty: Qty,
    },
    /// The person's personal data was erased: their user, sessions and keys are gone and
    /// their profile holds only their transfers (the gateway then deletes their keys).
    PersonErased {
        account: AccountId,
    },
    /// A bank transfer was asked for, settled or returned: `moved` is the cash it moved
    /// now (negative for a withdrawal, or a returned deposit), `balance` the account's cash
    /// after (negative only after a returned deposit that was already spent).
    TransferChanged {
        account: AccountId,
        transfer: u64,
        direction: Direction,
        status: TransferStatus,
        amount: Cash,
        moved: Cash,
        balance: Cash,
    },
}

// Events are copied by value through the engine's output buffer; past 128 bytes every copy
// becomes a `memcpy` call (9 % of `Engine::apply` on the pipeline bench when it happened).
const _: () = assert!(std::mem::size_of::<Event>() <= 128);

impl Event {
    /// The account whose private stream this event belongs to: its execution reports
    /// (accepted, triggered, filled, canceled, replaced, rejected), balance, position and
    /// cash changes, and triggered alerts. A rejected resend is not on it (it changed
    /// nothing; the order it names reports its own life), nor is a rejection that names no
    /// account.
    #[must_use]
    pub fn stream_account(&self) -> Option<AccountId> {
        match *self {
            Event::OrderAccepted { account, .. }
            | Event::OrderTriggered { account, .. }
            | Event::OrderFilled { account, .. }
            | Event::OrderCanceled { account, .. }
            | Event::OrderReplaced { account, .. }
            | Event::OrderParked { account, .. }
            | Event::OrderStopMoved { account, .. }
            | Event::OrderLinked { account, .. }
            | Event::OrderActivated { account, .. }
            | Event::BalanceChanged { account, .. }
            | Event::PositionChanged { account, .. }
            | Event::CashDeposited { account, .. }
            | Event::CashWithdrawn { account, .. }
            | Event::SharesDeposited { account, .. }
            | Event::TransferChanged { account, .. }
            | Event::AlertTriggered { account, .. } => Some(account),
            Event::Rejected {
                reason: RejectReason::ResentOrder,
                ..
            } => None,
            Event::Rejected { account, .. } => account,
            _ => None,
        }
    }
}

/// An event with the sequence number and time of the command that caused it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Tagged {
    pub seq: Seq,
    pub ts: UnixNanos,
    pub event: Event,
    /// The event's place in its account's private stream (1, 2, 3, … per account, no gap,
    /// assigned by the engine; see [`Event::stream_account`]); 0 for an event on no
    /// account's stream.
    pub aseq: u64,
}
