//! The order vocabulary: sides, types, time in force, self-trade prevention, and the stable
//! reason codes for every rejection and cancellation.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Buy or sell. There is deliberately no "none" variant: absence is `Option<Side>`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    #[inline]
    #[must_use]
    pub const fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long an order may stay working.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum TimeInForce {
    /// Good till cancelled.
    #[default]
    Gtc,
    /// Expires at the end-of-day command.
    Day,
    /// Immediate or cancel: fill what is possible now, cancel the rest.
    Ioc,
    /// Fill or kill: fill everything now or nothing at all.
    Fok,
    /// On the open: joins the opening call auction only; what it does not fill there is
    /// cancelled (`AUCTION_UNFILLED`).
    Opg,
    /// On the close: joins the closing call auction only; likewise.
    Cls,
}

impl TimeInForce {
    /// Whether an unfilled remainder may rest on the book.
    #[inline]
    #[must_use]
    pub const fn may_rest(self) -> bool {
        matches!(
            self,
            TimeInForce::Gtc | TimeInForce::Day | TimeInForce::Opg | TimeInForce::Cls
        )
    }

    /// For one auction only (`opg`, `cls`).
    #[inline]
    #[must_use]
    pub const fn is_auction(self) -> bool {
        matches!(self, TimeInForce::Opg | TimeInForce::Cls)
    }
}

/// What happens when an incoming order would trade with a resting order of the same account.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SelfTradePrevention {
    /// Cancel the incoming order's remainder; the resting order stays.
    #[default]
    CancelIncoming,
    /// Cancel the resting order and keep matching the incoming one.
    CancelResting,
    /// Cancel both the resting order and the incoming remainder.
    CancelBoth,
}

/// Why a working order stopped working without being filled or replaced.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CancelReason {
    /// The owner asked.
    Requested,
    /// A mass cancel by account and/or symbol.
    MassCancel,
    /// The unfilled remainder of an IOC order.
    IocRemainder,
    /// A fill-or-kill order that could not fill completely; nothing traded.
    FokUnfilled,
    /// The unfilled remainder of a market order (liquidity or the price collar ran out).
    MarketRemainder,
    /// Self-trade prevention removed it.
    SelfTrade,
    /// A DAY order at the end of the trading day.
    Expired,
    /// The FIX or WebSocket session that entered it ended, and had asked for
    /// cancel-on-disconnect.
    CancelOnDisconnect,
    /// An on-open or on-close order (or a market order that waited for a call) that the
    /// uncross did not fill completely.
    AuctionUnfilled,
    /// An exit of a bracket or OTO whose entry stopped working with nothing filled.
    ParentUnfilled,
    /// An exit whose sibling (the other exit of its class) filled completely or, for a
    /// stop loss, triggered.
    SiblingExecuted,
    /// A deposit the account's buys were counting on came back from the bank.
    DepositReturned,
}

impl CancelReason {
    /// Every reason, in declaration order.
    pub const ALL: [CancelReason; 12] = [
        CancelReason::Requested,
        CancelReason::MassCancel,
        CancelReason::IocRemainder,
        CancelReason::FokUnfilled,
        CancelReason::MarketRemainder,
        CancelReason::SelfTrade,
        CancelReason::Expired,
        CancelReason::CancelOnDisconnect,
        CancelReason::AuctionUnfilled,
        CancelReason::ParentUnfilled,
        CancelReason::SiblingExecuted,
        CancelReason::DepositReturned,
    ];

    /// Inverse of [`CancelReason::code`].
    #[must_use]
    pub fn from_code(s: &str) -> Option<CancelReason> {
        CancelReason::ALL.into_iter().find(|r| r.code() == s)
    }

    /// The stable wire code.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            CancelReason::Requested => "REQUESTED",
            CancelReason::MassCancel => "MASS_CANCEL",
            CancelReason::IocRemainder => "IOC_REMAINDER",
            CancelReason::FokUnfilled => "FOK_UNFILLED",
            CancelReason::MarketRemainder => "MARKET_REMAINDER",
            CancelReason::SelfTrade => "SELF_TRADE",
            CancelReason::Expired => "EXPIRED",
            CancelReason::CancelOnDisconnect => "CANCEL_ON_DISCONNECT",
            CancelReason::AuctionUnfilled => "AUCTION_UNFILLED",
            CancelReason::ParentUnfilled => "PARENT_UNFILLED",
            CancelReason::SiblingExecuted => "SIBLING_EXECUTED",
            CancelReason::DepositReturned => "DEPOSIT_RETURNED",
        }
    }
}

impl fmt::Display for CancelReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

macro_rules! reject_reasons {
    ($($(#[$doc:meta])* $variant:ident = $num:literal, $code:literal, $msg:literal;)*) => {
        /// Why a request was refused. A business outcome, not an error: it travels as data
        /// with a stable string code and number that never change meaning once published.
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum RejectReason {
            $($(#[$doc])* $variant,)*
        }

        impl RejectReason {
            /// Every reason, in code order.
            pub const ALL: &'static [RejectReason] = &[$(RejectReason::$variant,)*];

            /// The stable wire code, e.g. `INSUFFICIENT_BUYING_POWER`.
            #[must_use]
            pub const fn code(self) -> &'static str {
                match self { $(RejectReason::$variant => $code,)* }
            }

            /// The stable numeric code.
            #[must_use]
            pub const fn number(self) -> u16 {
                match self { $(RejectReason::$variant => $num,)* }
            }

            /// A human-readable explanation.
            #[must_use]
            pub const fn message(self) -> &'static str {
                match self { $(RejectReason::$variant => $msg,)* }
            }
        }
    };
}

reject_reasons! {
    /// Zero, or otherwise not a valid share count.
    InvalidQuantity = 1001, "INVALID_QUANTITY", "quantity must be positive";
    /// Zero, negative or missing where a price is required.
    InvalidPrice = 1002, "INVALID_PRICE", "price must be positive";
    PriceOffTick = 1003, "PRICE_OFF_TICK", "price is not a multiple of the instrument's tick size";
    QtyOffLot = 1004, "QTY_OFF_LOT", "quantity is not a multiple of the instrument's lot size";
    PriceOutOfBand = 1005, "PRICE_OUT_OF_BAND", "price is outside the instrument's price band";
    MaxQtyExceeded = 1006, "MAX_QTY_EXCEEDED", "quantity exceeds the instrument's maximum order quantity";
    MaxNotionalExceeded = 1007, "MAX_NOTIONAL_EXCEEDED", "order value exceeds the instrument's maximum notional";
    /// A combination of fields that is not allowed (e.g. post-only market order).
    InvalidOrder = 1008, "INVALID_ORDER", "this combination of order type and options is not allowed";
    /// Numbers too large to compute with exactly.
    ArithmeticOverflow = 1009, "ARITHMETIC_OVERFLOW", "the order's numbers are too large";
    DuplicateOrderId = 2001, "DUPLICATE_ORDER_ID", "an order with this id already exists";
    /// Not working (never existed, already filled, cancelled, expired, or not yours).
    UnknownOrder = 2002, "UNKNOWN_ORDER", "no working order with this id";
    PostOnlyWouldTake = 2003, "POST_ONLY_WOULD_TAKE", "post-only order would take liquidity";
    /// A market order arrived while the opposite side of the book was empty.
    NoLiquidity = 2004, "NO_LIQUIDITY", "no liquidity on the opposite side for a market order";
    InsufficientBuyingPower = 3001, "INSUFFICIENT_BUYING_POWER", "not enough available cash for this order";
    InsufficientPosition = 3002, "INSUFFICIENT_POSITION", "not enough available shares to sell (no short selling)";
    InsufficientFunds = 3003, "INSUFFICIENT_FUNDS", "withdrawal exceeds available cash";
    UnknownAccount = 3004, "UNKNOWN_ACCOUNT", "no such account";
    DuplicateClientOrderId = 2005, "DUPLICATE_CLIENT_ORDER_ID", "this client order id is already used by another order of the account";
    InvalidAmount = 3005, "INVALID_AMOUNT", "amount must be positive";
    UsernameTaken = 5001, "USERNAME_TAKEN", "that username is already registered";
    InvalidUsername = 5002, "INVALID_USERNAME", "usernames are 3-32 characters of a-z, 0-9, '_', '-' and '.'";
    UnknownSession = 5003, "UNKNOWN_SESSION", "no such session";
    UnknownApiKey = 5004, "UNKNOWN_API_KEY", "no such API key";
    TooManyApiKeys = 5005, "TOO_MANY_API_KEYS", "the account has as many API keys as it may";
    /// Customer accounts are opened by brokers only.
    NotABroker = 5006, "NOT_A_BROKER", "only a broker opens customer accounts";
    TooManyCustomers = 5007, "TOO_MANY_CUSTOMERS", "the broker has as many customer accounts as it may";
    /// A customer account has one login.
    AccountHasLogin = 5008, "ACCOUNT_HAS_LOGIN", "the account already has a login";
    UnknownSymbol = 4001, "UNKNOWN_SYMBOL", "no such listed symbol";
    UnknownAlert = 6001, "UNKNOWN_ALERT", "no such alert";
    TooManyAlerts = 6002, "TOO_MANY_ALERTS", "the account has as many alerts as it may";
    SymbolHalted = 4002, "SYMBOL_HALTED", "trading in this symbol is halted";
    /// Outside regular hours only limit orders wait or trade; IOC and FOK need continuous
    /// trading.
    MarketClosed = 4003, "MARKET_CLOSED", "the market is not in continuous trading: IOC and FOK orders are refused";
    /// A trailing stop needs exactly one of `trail_price` and `trail_percent`, positive (a
    /// percentage below 100).
    InvalidTrail = 1010, "INVALID_TRAIL", "a trailing stop needs one positive trail_price or trail_percent (below 100)";
    /// An order class whose exits are missing or extra for the class, priced on the wrong
    /// side of each other or of the entry, or whose entry cannot carry exits.
    InvalidLegs = 1011, "INVALID_LEGS", "the order class's take_profit/stop_loss are missing, extra, or priced on the wrong side";
    /// A fraction of a share, or a notional order, on an instrument that trades whole shares
    /// only (Alpaca's `fractionable: false`).
    FractionalNotAllowed = 1012, "FRACTIONAL_NOT_ALLOWED", "this instrument trades whole shares only: no fractional quantity or notional order";
    /// An on-open order after the opening call ended (until after the close).
    AuctionClosed = 4004, "AUCTION_CLOSED", "the auction this order is for has already taken place today";
    /// The same order sent again with its client order id: nothing new is done, and the
    /// gateway answers with the order the id created.
    ResentOrder = 2006, "RESENT_ORDER", "this order was already placed with this client order id";
    /// The position would be too large to value exactly at any price the instrument can
    /// reach (see the engine's position limit).
    PositionLimit = 3006, "POSITION_LIMIT", "the position would be too large to value exactly";
    /// The exchange's cash in all would pass half of what its fixed point holds, past which
    /// an account's cash plus positions could not be summed exactly.
    CashLimit = 3007, "CASH_LIMIT", "the deposit would take the exchange's cash past what it can value exactly";
    /// None such, deleted, or another account's.
    UnknownWatchlist = 6101, "UNKNOWN_WATCHLIST", "no such watchlist";
    TooManyWatchlists = 6102, "TOO_MANY_WATCHLISTS", "the account has as many watchlists as it may";
    WatchlistFull = 6103, "WATCHLIST_FULL", "the watchlist holds as many symbols as it may";
    WatchlistNameTaken = 6104, "WATCHLIST_NAME_TAKEN", "the account already has a watchlist with this name";
    /// The email address or phone number belongs to another account.
    ContactTaken = 5101, "CONTACT_TAKEN", "that email address or phone number is already registered";
    /// Signed up by email or phone and not yet verified.
    ContactNotVerified = 5102, "CONTACT_NOT_VERIFIED", "verify your email address or phone number first";
    CodeInvalid = 5103, "CODE_INVALID", "the code is wrong, used or expired";
    CodeRateLimited = 5104, "CODE_RATE_LIMITED", "too many codes sent; wait before asking for another";
    NoSuchContact = 5105, "NO_SUCH_CONTACT", "the account has no address of that kind";
    /// A second factor is on and none (or a wrong, used or replayed one) came with the request.
    SecondFactorInvalid = 5106, "SECOND_FACTOR_INVALID", "the two-factor code is wrong or was already used";
    TwoFactorNotEnrolled = 5107, "TWO_FACTOR_NOT_ENROLLED", "enrol an authenticator first";
    TwoFactorEnabled = 5108, "TWO_FACTOR_ENABLED", "two-factor authentication is already on";
    TwoFactorDisabled = 5109, "TWO_FACTOR_DISABLED", "two-factor authentication is off";
    UnknownWebhook = 6201, "UNKNOWN_WEBHOOK", "no such webhook";
    TooManyWebhooks = 6202, "TOO_MANY_WEBHOOKS", "the account has as many webhooks as it may";
    InvalidWebhook = 6203, "INVALID_WEBHOOK", "the webhook's URL or events are not valid";
    /// None such, removed, or another person's.
    UnknownBank = 6301, "UNKNOWN_BANK", "no such bank account";
    TooManyBanks = 6302, "TOO_MANY_BANKS", "the account has as many linked banks as it may";
    BankAlreadyLinked = 6303, "BANK_ALREADY_LINKED", "that bank account is already linked";
    BankNotVerified = 6304, "BANK_NOT_VERIFIED", "confirm the bank account's micro-deposits first";
    /// Verified already, or failed (remove it and link it again).
    BankNotPending = 6305, "BANK_NOT_PENDING", "the bank account is not waiting for its micro-deposits";
    TooManyTransfers = 6306, "TOO_MANY_TRANSFERS", "the account has as many pending transfers as it may";
    UnknownTransfer = 6307, "UNKNOWN_TRANSFER", "no such transfer";
    TransferNotReturnable = 6308, "TRANSFER_NOT_RETURNABLE", "only a pending transfer or a settled deposit can be returned";
    InvalidBank = 6309, "INVALID_BANK", "the bank account's details are not valid";
    /// Only a person's own account (not a broker's, not the operator's), once.
    ErasureNotAllowed = 6401, "ERASURE_NOT_ALLOWED", "this account's personal data cannot be erased";
    /// Cash, shares, working orders or pending transfers are left.
    AccountNotEmpty = 6402, "ACCOUNT_NOT_EMPTY", "sell every position, cancel every order and withdraw all cash first";
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cancel_reason_is_listed_and_reads_back_from_its_code() {
        // A new reason fails to compile here until it is listed in `ALL` too.
        let listed = |r: CancelReason| match r {
            CancelReason::Requested
            | CancelReason::MassCancel
            | CancelReason::IocRemainder
            | CancelReason::FokUnfilled
            | CancelReason::MarketRemainder
            | CancelReason::SelfTrade
            | CancelReason::Expired
            | CancelReason::CancelOnDisconnect
            | CancelReason::AuctionUnfilled
            | CancelReason::ParentUnfilled
            | CancelReason::SiblingExecuted
            | CancelReason::DepositReturned => CancelReason::ALL.contains(&r),
        };
        for r in CancelReason::ALL {
            assert!(listed(r));
            assert_eq!(CancelReason::from_code(r.code()), Some(r));
        }
        assert_eq!(CancelReason::from_code("NOPE"), None);
    }

    #[test]
    fn reject_codes_are_unique_and_match_serde() {
        let mut codes: Vec<_> = RejectReason::ALL.iter().map(|r| r.code()).collect();
        let mut nums: Vec<_> = RejectReason::ALL.iter().map(|r| r.number()).collect();
        codes.sort_unstable();
        codes.dedup();
        nums.sort_unstable();
        nums.dedup();
        assert_eq!(codes.len(), RejectReason::ALL.len());
        assert_eq!(nums.len(), RejectReason::ALL.len());
        for r in RejectReason::ALL {
            assert_eq!(
                serde_json::to_string(r).unwrap(),
                format!("\"{}\"", r.code())
            );
            assert!(!r.message().is_empty());
        }
    }

    #[test]
    fn cancel_codes_match_serde() {
        for r in [
            CancelReason::Requested,
            CancelReason::MassCancel,
            CancelReason::IocRemainder,
            CancelReason::FokUnfilled,
            CancelReason::MarketRemainder,
            CancelReason::SelfTrade,
            CancelReason::Expired,
        ] {
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.code())
            );
        }
    }

    #[test]
    fn side_opposite() {
        assert_eq!(Side::Buy.opposite(), Side::Sell);
        assert_eq!(Side::Sell.opposite(), Side::Buy);
    }
}
