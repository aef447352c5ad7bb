//! Commands: what the engine is asked to do. Verbs, journaled in sequence before anything
//! they cause is shown to anyone; the engine is a pure function of them.

use serde::{Deserialize, Serialize};

use crate::funding::{Direction, NewBank, ReturnCode};
use crate::profile::{CodePurpose, Contact, Device, Factor, KindSet, NewCode, Prefs, Sealed};
use crate::{
    AccountId, Cash, ClientOrderId, OrderId, Price, Qty, SelfTradePrevention, Session, Side,
    Symbol, TimeInForce, UnixNanos, WatchlistName, WholeQty,
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

/// What an API key may do. A password session (and the operator token) may do everything;
/// a key only what it was created for, so a leaked key is worth as little as possible.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct Scopes(u8);

impl Scopes {
    /// Read the account: orders, positions, portfolio, activities, alerts, watchlists,
    /// private channels.
    pub const READ: Scopes = Scopes(1);
    /// Place, replace and cancel orders; create and delete price alerts and watchlists.
    pub const TRADE: Scopes = Scopes(2);
    /// Move cash in and out of the account.
    pub const TRANSFER: Scopes = Scopes(4);
    pub const ALL: Scopes = Scopes(7);
    /// Keys created before scopes existed: they traded and read, and keep doing so; moving
    /// money now needs a key made for it.
    pub const LEGACY: Scopes = Scopes(3);
    /// Every scope by its wire name, in order.
    pub const NAMED: [(Scopes, &'static str); 3] = [
        (Scopes::READ, "read"),
        (Scopes::TRADE, "trade"),
        (Scopes::TRANSFER, "transfer"),
    ];

    /// Scopes from their bits; unknown bits are dropped.
    #[must_use]
    pub const fn from_bits(bits: u8) -> Scopes {
        Scopes(bits & Scopes::ALL.0)
    }

    #[must_use]
    pub const fn bits(self) -> u8 {
        self.0
    }

    #[must_use]
    pub const fn union(self, other: Scopes) -> Scopes {
        Scopes(self.0 | other.0)
    }

    /// Whether every scope of `other` is here.
    #[must_use]
    pub const fn contains(self, other: Scopes) -> bool {
        self.0 & other.0 == other.0
    }

    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scope called `name` (`read`, `trade`, `transfer`).
    #[must_use]
    pub fn parse(name: &str) -> Option<Scopes> {
        Scopes::NAMED
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(s, _)| *s)
    }

    /// The wire names of the scopes held, in order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Scopes::NAMED
            .into_iter()
            .filter(move |(s, _)| self.contains(*s))
            .map(|(_, n)| n)
    }
}

/// A SHA-256-sized digest of a secret (session token or API key secret). Secrets are
/// random 256-bit values; only their digests are ever stored or journaled.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct SecretHash(pub [u8; 32]);

/// When a price alert fires: at a trade at or above its price, or at or below it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertCondition {
    Above,
    Below,
}

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
    /// A stop whose stop price follows the best trade price in its favour by a trail (the
    /// high-water mark for a sell, the low for a buy); triggers as a stop does.
    TrailingStop,
}

/// How far a trailing stop follows the price: a fixed distance or a share of the price.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Trail {
    Price(Price),
    /// In hundredths of a percent (basis points): 150 = 1.5 %.
    Bps(u32),
}

impl Trail {
    /// Basis points as the percentage text clients use, at most two decimals: 150 → `"1.5"`.
    #[must_use]
    pub fn percent(bps: u32) -> String {
        let (whole, frac) = (bps / 100, bps % 100);
        match frac {
            0 => whole.to_string(),
            f if f % 10 == 0 => format!("{whole}.{}", f / 10),
            f => format!("{whole}.{f:02}"),
        }
    }
}

/// What an order asks for beyond the basic fields; all off by default. Kept small: it is
/// part of every order command in the engine's queue (order classes, with their legs, will
/// come as a command of their own).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
pub struct OrderOptions {
    /// Alpaca's `extended_hours`: a limit DAY order that also trades in pre-market and
    /// after-hours.
    pub extended_hours: bool,
    /// For [`OrderType::TrailingStop`].
    pub trail: Option<Trail>,
    /// Alpaca's `notional`: a market DAY order for this many dollars instead of a quantity
    /// (the request's `qty` is then zero). The engine turns it into the quantity the book
    /// offers for it.
    pub notional: Option<Cash>,
}

/// [`OrderOptions`] before notional orders: the layout of [`Command::SubmitOrderV2`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
pub struct OrderOptionsV1 {
    pub extended_hours: bool,
    pub trail: Option<Trail>,
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
    pub opts: OrderOptions,
}

/// [`OrderRequest`] as journals wrote it before [`OrderOptions`] existed: the layout of
/// [`Command::SubmitOrderV1`], frozen so that those journals still replay.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OrderRequestV1 {
    pub account: AccountId,
    pub symbol: Symbol,
    pub client_order_id: Option<ClientOrderId>,
    pub side: Side,
    pub order_type: OrderType,
    pub tif: TimeInForce,
    pub qty: WholeQty,
    pub limit_price: Option<Price>,
    pub stop_price: Option<Price>,
    pub post_only: bool,
    pub stp: SelfTradePrevention,
}

impl From<OrderRequestV1> for OrderRequest {
    fn from(v: OrderRequestV1) -> Self {
        OrderRequest {
            account: v.account,
            symbol: v.symbol,
            client_order_id: v.client_order_id,
            side: v.side,
            order_type: v.order_type,
            tif: v.tif,
            qty: v.qty.into(),
            limit_price: v.limit_price,
            stop_price: v.stop_price,
            post_only: v.post_only,
            stp: v.stp,
            opts: OrderOptions::default(),
        }
    }
}

/// [`OrderRequest`] as journals wrote it before fractional quantities and notional orders:
/// the layout of [`Command::SubmitOrderV2`] (whole shares), frozen.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OrderRequestV2 {
    pub account: AccountId,
    pub symbol: Symbol,
    pub client_order_id: Option<ClientOrderId>,
    pub side: Side,
    pub order_type: OrderType,
    pub tif: TimeInForce,
    pub qty: WholeQty,
    pub limit_price: Option<Price>,
    pub stop_price: Option<Price>,
    pub post_only: bool,
    pub stp: SelfTradePrevention,
    pub opts: OrderOptionsV1,
}

impl From<OrderRequestV2> for OrderRequest {
    fn from(v: OrderRequestV2) -> Self {
        OrderRequest {
            account: v.account,
            symbol: v.symbol,
            client_order_id: v.client_order_id,
            side: v.side,
            order_type: v.order_type,
            tif: v.tif,
            qty: v.qty.into(),
            limit_price: v.limit_price,
            stop_price: v.stop_price,
            post_only: v.post_only,
            stp: v.stp,
            opts: OrderOptions {
                extended_hours: v.opts.extended_hours,
                trail: v.opts.trail,
                notional: None,
            },
        }
    }
}

/// Alpaca's `order_class` for orders with exits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderClass {
    /// An entry, then a take-profit and a stop-loss exit, one cancelling the other.
    Bracket,
    /// Two exits at once (a take profit and a stop loss), one cancelling the other.
    Oco,
    /// An entry, then one exit (a take profit or a stop loss).
    Oto,
}

impl OrderClass {
    pub const ALL: [OrderClass; 3] = [OrderClass::Bracket, OrderClass::Oco, OrderClass::Oto];

    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderClass::Bracket => "bracket",
            OrderClass::Oco => "oco",
            OrderClass::Oto => "oto",
        }
    }

    /// Inverse of [`OrderClass::as_str`].
    #[must_use]
    pub fn parse(s: &str) -> Option<OrderClass> {
        OrderClass::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// An order's part in its class.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegRole {
    /// The entry of a bracket or OTO: its fills size the exits.
    Entry,
    /// A limit exit at the profit target.
    TakeProfit,
    /// A stop (or stop-limit) exit.
    StopLoss,
}

impl LegRole {
    pub const ALL: [LegRole; 3] = [LegRole::Entry, LegRole::TakeProfit, LegRole::StopLoss];

    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            LegRole::Entry => "entry",
            LegRole::TakeProfit => "take_profit",
            LegRole::StopLoss => "stop_loss",
        }
    }

    /// Inverse of [`LegRole::as_str`].
    #[must_use]
    pub fn parse(s: &str) -> Option<LegRole> {
        LegRole::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A stop-loss exit: a stop, or a stop-limit with `limit_price`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct StopLoss {
    pub stop_price: Price,
    pub limit_price: Option<Price>,
}

/// An order with exits, as the gateway validated its shape. For `bracket` and `oto`,
/// `order` is the entry and the exits are on the other side, sized to what it fills. For
/// `oco`, `order` is the take-profit exit itself (a limit at `take_profit`; its client order
/// id is the class's) and the stop loss is its sibling on the same side.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ClassRequest {
    pub class: OrderClass,
    pub order: OrderRequest,
    /// The take-profit exit's limit price.
    pub take_profit: Option<Price>,
    pub stop_loss: Option<StopLoss>,
}

/// [`ClassRequest`] in whole shares: the layout of [`Command::SubmitClassV1`], frozen.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ClassRequestV1 {
    pub class: OrderClass,
    pub order: OrderRequestV2,
    pub take_profit: Option<Price>,
    pub stop_loss: Option<StopLoss>,
}

impl From<ClassRequestV1> for ClassRequest {
    fn from(v: ClassRequestV1) -> Self {
        ClassRequest {
            class: v.class,
            order: v.order.into(),
            take_profit: v.take_profit,
            stop_loss: v.stop_loss,
        }
    }
}

/// Most watchlists one account may hold (the engine refuses more: `TOO_MANY_WATCHLISTS`).
pub const MAX_WATCHLISTS: usize = 20;
/// Most symbols one watchlist may hold (`WATCHLIST_FULL`).
pub const MAX_WATCHLIST_SYMBOLS: usize = 200;

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
    /// [`Command::DepositShares`] in whole shares, as journals wrote it before fractions.
    DepositSharesV1 {
        account: AccountId,
        symbol: Symbol,
        qty: WholeQty,
    },
    /// An order in the layout of journals written before [`OrderOptions`]; new orders are
    /// [`Command::SubmitOrder`].
    SubmitOrderV1(OrderRequestV1),
    CancelOrder {
        account: AccountId,
        order_id: OrderId,
    },
    /// [`Command::ReplaceOrder`] in whole shares, as journals wrote it before fractions.
    ReplaceOrderV1 {
        account: AccountId,
        order_id: OrderId,
        qty: WholeQty,
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
    /// An API key limited to `scopes`; the engine assigns its id. (Added after
    /// [`Command::CreateApiKey`], which journals before scopes existed still hold: those keys
    /// have [`Scopes::LEGACY`].)
    CreateScopedApiKey {
        account: AccountId,
        secret: SecretHash,
        label: String,
        scopes: Scopes,
    },
    /// A named list of symbols the account follows; the engine assigns its id. Repeated
    /// symbols count once, in the order first given.
    CreateWatchlist {
        account: AccountId,
        name: WatchlistName,
        symbols: Vec<Symbol>,
    },
    /// Renames a watchlist and/or replaces its symbols (`None` keeps what it has).
    UpdateWatchlist {
        account: AccountId,
        watchlist_id: u64,
        name: Option<WatchlistName>,
        symbols: Option<Vec<Symbol>>,
    },
    /// Appends a symbol (nothing changes if it is already there).
    AddToWatchlist {
        account: AccountId,
        watchlist_id: u64,
        symbol: Symbol,
    },
    /// Takes a symbol out (nothing changes if it is not there).
    RemoveFromWatchlist {
        account: AccountId,
        watchlist_id: u64,
        symbol: Symbol,
    },
    DeleteWatchlist {
        account: AccountId,
        watchlist_id: u64,
    },
    /// A session that asked for cancel-on-disconnect ended: these orders of the account,
    /// those still working, are cancelled with `CANCEL_ON_DISCONNECT`. Ids that ended
    /// meanwhile (or are not the account's) are skipped without a rejection.
    CancelOnDisconnect {
        account: AccountId,
        order_ids: Vec<OrderId>,
    },
    /// A broker opens an account for a customer of its own; the broker may then fund it,
    /// trade for it and read it, and no one else may (but the operator).
    OpenCustomerAccount {
        broker: AccountId,
    },
    /// A broker gives its customer account a login of its own (one per account), with which
    /// the customer sees and trades that account only.
    RegisterCustomerLogin {
        broker: AccountId,
        account: AccountId,
        username: String,
        password_hash: String,
    },
    /// Sign-up with an email address or phone number (unverified until its code comes
    /// back); the account may not trade or withdraw until then.
    RegisterWithContact {
        username: String,
        password_hash: String,
        // Boxed, as are the other large parts of these rare commands: every command in the
        // engine's queue is the size of the largest.
        contact: Box<Contact>,
        code: Box<NewCode>,
    },
    /// Sends a one-time code: to verify an address, to reset the password, or (with
    /// `new_contact`) to confirm a new address before it replaces the old one. The engine
    /// keeps one per purpose and rate-limits them by the command's time.
    IssueCode {
        account: AccountId,
        code: Box<NewCode>,
        new_contact: Option<Box<Contact>>,
    },
    /// A code sent back. `password_hash` comes with a `Reset` code (the new password).
    ConfirmCode {
        account: AccountId,
        purpose: CodePurpose,
        digest: SecretHash,
        password_hash: Option<String>,
    },
    /// A TOTP secret to confirm (replaces one not yet confirmed).
    EnrolTotp {
        account: AccountId,
        sealed_secret: Sealed,
    },
    /// The first code the authenticator made (the gateway checked it; `step` it matched),
    /// and the new recovery codes' digests.
    EnableTotp {
        account: AccountId,
        step: u64,
        recovery: Vec<SecretHash>,
    },
    DisableTotp {
        account: AccountId,
        factor: Factor,
    },
    RenewRecoveryCodes {
        account: AccountId,
        factor: Factor,
        recovery: Vec<SecretHash>,
    },
    /// A log-in with the second factor the gateway checked (taken once here), from a device
    /// (digest; a new one is told to the person).
    LogIn {
        account: AccountId,
        token: SecretHash,
        expires_at: UnixNanos,
        factor: Factor,
        device: Box<Device>,
    },
    SetNotificationPrefs {
        account: AccountId,
        prefs: Prefs,
    },
    CreateWebhook {
        account: AccountId,
        url: String,
        events: KindSet,
        sealed_secret: Sealed,
    },
    DeleteWebhook {
        account: AccountId,
        webhook_id: u64,
    },
    /// An order in whole shares, as journals wrote it before fractions and notional orders.
    SubmitOrderV2(OrderRequestV2),
    /// The market moves to `session` (from the server's calendar clock): through every
    /// session between, in the day's order, with what each change does (a call starts, an
    /// uncross, DAY orders expire at the close). The same session again changes nothing.
    SetSession {
        session: Session,
    },
    /// [`Command::SubmitClass`] in whole shares, as journals wrote it before fractions.
    SubmitClassV1(Box<ClassRequestV1>),
    // Everything with a quantity, in millionths of a share (`Qty`), from here on.
    SubmitOrder(OrderRequest),
    /// New open quantity and, for limit orders, a new price (`None` keeps it).
    ReplaceOrder {
        account: AccountId,
        order_id: OrderId,
        qty: Qty,
        price: Option<Price>,
    },
    /// Shares transferred in from outside the exchange (e.g. from another broker).
    DepositShares {
        account: AccountId,
        symbol: Symbol,
        qty: Qty,
    },
    /// An order with exits (bracket, OCO, OTO); boxed, as it is rare and large.
    SubmitClass(Box<ClassRequest>),
    /// A bank account to link; the gateway has sent it two micro-deposits.
    LinkBank(Box<NewBank>),
    /// The person's reading of the two micro-deposits, as a keyed digest.
    VerifyBank {
        account: AccountId,
        bank: u64,
        digest: SecretHash,
    },
    UnlinkBank {
        account: AccountId,
        bank: u64,
    },
    /// An ACH transfer with a verified bank. The instant-deposit limit and the settlement
    /// time are the gateway's configuration when it was asked, carried here so a replay
    /// does not depend on today's.
    BankTransfer {
        account: AccountId,
        bank: u64,
        direction: Direction,
        amount: Cash,
        instant_limit: Cash,
        settle_at: UnixNanos,
    },
    /// Settles every pending transfer due by the command's time.
    SettleTransfers,
    /// The bank sent a transfer back (an operator records the return notice).
    ReturnTransfer {
        account: AccountId,
        transfer: u64,
        code: ReturnCode,
    },
    /// The person erases their personal data (their account must be empty).
    ErasePerson {
        account: AccountId,
    },
}

/// A command with its place in the journal and the time it was sequenced. The engine reads
/// time only from here, never from a clock, so a replay reproduces every decision.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Sequenced {
    pub seq: Seq,
    pub ts: UnixNanos,
    pub cmd: Command,
}
