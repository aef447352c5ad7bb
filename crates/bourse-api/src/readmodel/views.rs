//! The JSON shapes of the read model's answers and the filters and cursors of its lists.
//! Numbers travel as strings (money as exact decimals, quantities and ids as integers), as
//! in [`OrderView`](crate::OrderView); percentages are decimal strings computed in integer
//! math, never floats.

use std::fmt;
use std::str::FromStr;

use bourse_core::{AccountId, Cash, OrderId, Price, Qty, Side, Symbol, TradeId};
use serde::{Serialize, Serializer};
use utoipa::ToSchema;

use crate::orders::OrderStatus;
use crate::readmodel::QueryError;
use crate::wire;

/// Longest page a list returns.
pub const MAX_PAGE: usize = 500;
/// Page length when the caller does not say.
pub const DEFAULT_PAGE: usize = 50;

/// Serializes anything `Display` as a JSON string (ids, share counts).
fn display<T: fmt::Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn opt_display<T: fmt::Display, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

/// A percentage with two decimals ("1.23" is 1.23 %), rounded half away from zero.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Percent(i64);

impl Percent {
    /// `num / den` as a percentage; `None` when `den` is zero or the result does not fit.
    #[must_use]
    pub fn of(num: i128, den: i128) -> Option<Percent> {
        let scaled = num.checked_mul(10_000)?;
        let hundredths = div_round(scaled, den)?;
        i64::try_from(hundredths).ok().map(Percent)
    }

    /// Hundredths of a percent.
    #[must_use]
    pub const fn hundredths(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `n / d` rounded half away from zero; `None` when `d` is zero.
#[must_use]
pub(crate) fn div_round(n: i128, d: i128) -> Option<i128> {
    if d == 0 {
        return None;
    }
    let (n, d) = if d < 0 {
        (n.checked_neg()?, -d)
    } else {
        (n, d)
    };
    let q = n / d;
    let r = n % d;
    // |r| ≥ d/2, compared without overflow as 2|r| ≥ d.
    if r.unsigned_abs() * 2 >= d.unsigned_abs() {
        Some(if n < 0 { q - 1 } else { q + 1 })
    } else {
        Some(q)
    }
}

/// Money from a wide intermediate; saturates rather than wraps (only absurd totals can
/// exceed an `i64` of 1/10,000 $, about $922 trillion).
#[must_use]
pub(crate) fn cash(v: i128) -> Cash {
    Cash::from_raw(i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX }))
}

/// A price from a wide intermediate, saturating like [`cash`].
#[must_use]
pub(crate) fn price(v: i128) -> Price {
    Price::from_raw(i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX }))
}

/// `GET /v1/account`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
#[schema(as = Account)]
pub struct AccountView {
    #[serde(serialize_with = "display")]
    #[schema(value_type = wire::AccountId)]
    pub account_id: AccountId,
    /// All cash held, including what working buy orders reserve.
    #[schema(value_type = wire::Cash)]
    pub cash: Cash,
    /// Promised to working buy orders.
    #[schema(value_type = wire::Cash)]
    pub reserved_cash: Cash,
    /// `cash − reserved_cash`: what a new order may use.
    #[schema(value_type = wire::Cash)]
    pub buying_power: Cash,
    /// Bank deposits credited before they settle (their instant part): tradable, not
    /// withdrawable.
    #[schema(value_type = wire::Cash)]
    pub unsettled_cash: Cash,
    /// `buying_power − unsettled_cash`, at least zero: what a withdrawal may take.
    #[schema(value_type = wire::Cash)]
    pub withdrawable_cash: Cash,
    /// Σ qty × current price over the positions.
    #[schema(value_type = wire::Cash)]
    pub long_market_value: Cash,
    /// `cash + long_market_value`.
    #[schema(value_type = wire::Cash)]
    pub equity: Cash,
    /// The last journal seq the read model had applied when it answered.
    pub seq: u64,
}

/// One holding, `GET /v1/positions`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
#[schema(as = Position)]
pub struct PositionView {
    #[schema(value_type = wire::Symbol)]
    pub symbol: Symbol,
    #[serde(serialize_with = "display")]
    #[schema(value_type = wire::Shares)]
    pub qty: Qty,
    /// Not promised to working sell orders.
    #[serde(serialize_with = "display")]
    #[schema(value_type = wire::Shares)]
    pub qty_available: Qty,
    #[serde(serialize_with = "display")]
    #[schema(value_type = wire::Shares)]
    pub reserved_qty: Qty,
    /// Average cost per share (cost basis / shares), rounded down.
    #[schema(value_type = Option<wire::Price>)]
    pub avg_entry_price: Option<Price>,
    /// What the shares held cost, fees included (average-cost method).
    #[schema(value_type = wire::Cash)]
    pub cost_basis: Cash,
    /// The last trade price, or the reference price before the first trade.
    #[schema(value_type = Option<wire::Price>)]
    pub current_price: Option<Price>,
    /// The previous close: the last price when the last day ended, or the reference price.
    #[schema(value_type = Option<wire::Price>)]
    pub lastday_price: Option<Price>,
    #[schema(value_type = wire::Cash)]
    pub market_value: Cash,
    /// `market_value − cost_basis`.
    #[schema(value_type = wire::Cash)]
    pub unrealized_pl: Cash,
    /// `unrealized_pl / cost_basis`.
    #[schema(value_type = Option<wire::Percent>)]
    pub unrealized_pl_pct: Option<Percent>,
    /// Proceeds minus fees minus the average cost of the shares sold, over all sells.
    #[schema(value_type = wire::Cash)]
    pub realized_pl: Cash,
    /// `qty × (current_price − lastday_price)`.
    #[schema(value_type = wire::Cash)]
    pub day_change: Cash,
    /// `day_change / (qty × lastday_price)`.
    #[schema(value_type = Option<wire::Percent>)]
    pub day_change_pct: Option<Percent>,
}

/// `GET /v1/portfolio`: the account's summary and performance.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
#[schema(as = Portfolio)]
pub struct PortfolioView {
    #[serde(serialize_with = "display")]
    #[schema(value_type = wire::AccountId)]
    pub account_id: AccountId,
    #[schema(value_type = wire::Cash)]
    pub equity: Cash,
    #[schema(value_type = wire::Cash)]
    pub cash: Cash,
    #[schema(value_type = wire::Cash)]
    pub buying_power: Cash,
    #[schema(value_type = wire::Cash)]
    pub market_value: Cash,
    #[schema(value_type = wire::Cash)]
    pub cost_basis: Cash,
    #[schema(value_type = wire::Cash)]
    pub unrealized_pl: Cash,
    #[schema(value_type = Option<wire::Percent>)]
    pub unrealized_pl_pct: Option<Percent>,
    /// Over every sell, including positions since closed.
    #[schema(value_type = wire::Cash)]
    pub realized_pl: Cash,
    /// `realized_pl + unrealized_pl`.
    #[schema(value_type = wire::Cash)]
    pub total_pl: Cash,
    /// Σ over the positions of `qty × (current − previous close)`.
    #[schema(value_type = wire::Cash)]
    pub day_change: Cash,
    /// `day_change / (equity − day_change)`: against the equity at the previous close.
    #[schema(value_type = Option<wire::Percent>)]
    pub day_change_pct: Option<Percent>,
    /// Positions with shares.
    pub positions: usize,
    pub seq: u64,
}

/// Market data the read model keeps for valuations.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MarketView {
    pub symbol: Symbol,
    pub last_price: Option<Price>,
    pub reference_price: Option<Price>,
    pub previous_close: Option<Price>,
    /// Shares traded since the last end of day.
    #[serde(serialize_with = "display")]
    pub day_volume: Qty,
    /// Shares traded in all.
    #[serde(serialize_with = "display")]
    pub volume: Qty,
    pub last_trade_at: Option<String>,
}

/// What an account activity is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ActivityType {
    Fill,
    Deposit,
    Withdrawal,
    ShareDeposit,
    /// The bank sent back a deposit: the cash it had credited leaves.
    DepositReturned,
    /// The bank sent back a withdrawal: its cash comes back.
    WithdrawalReturned,
}

impl ActivityType {
    pub const ALL: [ActivityType; 6] = [
        ActivityType::Fill,
        ActivityType::Deposit,
        ActivityType::Withdrawal,
        ActivityType::ShareDeposit,
        ActivityType::DepositReturned,
        ActivityType::WithdrawalReturned,
    ];

    /// The wire code.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ActivityType::Fill => "FILL",
            ActivityType::Deposit => "DEPOSIT",
            ActivityType::Withdrawal => "WITHDRAWAL",
            ActivityType::ShareDeposit => "SHARE_DEPOSIT",
            ActivityType::DepositReturned => "DEPOSIT_RETURNED",
            ActivityType::WithdrawalReturned => "WITHDRAWAL_RETURNED",
        }
    }

    /// Inverse of [`ActivityType::as_str`] (case-insensitive, for query strings).
    #[must_use]
    pub fn parse(s: &str) -> Option<ActivityType> {
        ActivityType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

/// An activity's id: the seq of the command that caused it and the position of its event
/// among that command's events. Stable across rebuilds (the engine is deterministic), the
/// same in memory and in PostgreSQL, and ordered like time.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ActivityId {
    pub seq: u64,
    pub idx: u32,
}

impl fmt::Display for ActivityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.seq, self.idx)
    }
}

impl FromStr for ActivityId {
    type Err = QueryError;
    fn from_str(s: &str) -> Result<Self, QueryError> {
        let bad = || QueryError::BadCursor {
            cursor: s.to_owned(),
        };
        let (seq, idx) = s.split_once('-').ok_or_else(bad)?;
        Ok(ActivityId {
            seq: seq.parse().map_err(|_| bad())?,
            idx: idx.parse().map_err(|_| bad())?,
        })
    }
}

/// One account activity, `GET /v1/activities`. Fields that do not apply to the type are
/// left out.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
#[schema(as = Activity)]
pub struct ActivityView {
    #[serde(serialize_with = "display")]
    #[schema(value_type = wire::ActivityId)]
    pub id: ActivityId,
    #[schema(value_type = wire::ActivityType)]
    pub activity_type: &'static str,
    #[serde(serialize_with = "display")]
    #[schema(value_type = wire::AccountId)]
    pub account_id: AccountId,
    #[schema(value_type = wire::Timestamp)]
    pub transaction_time: String,
    pub seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = wire::Symbol)]
    pub symbol: Option<Symbol>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = wire::Side)]
    pub side: Option<Side>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "opt_display"
    )]
    #[schema(value_type = wire::OrderId)]
    pub order_id: Option<OrderId>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "opt_display"
    )]
    #[schema(value_type = wire::TradeId)]
    pub trade_id: Option<TradeId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = wire::Price)]
    pub price: Option<Price>,
    /// Shares filled or deposited.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "opt_display"
    )]
    #[schema(value_type = wire::Shares)]
    pub qty: Option<Qty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = wire::Cash)]
    pub fee: Option<Cash>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = wire::Liquidity)]
    pub liquidity: Option<&'static str>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "opt_display"
    )]
    #[schema(value_type = wire::Shares)]
    pub cum_qty: Option<Qty>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "opt_display"
    )]
    #[schema(value_type = wire::Shares)]
    pub leaves_qty: Option<Qty>,
    /// The cash effect, signed: a buy's cost and fee or a withdrawal are negative.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = wire::Cash)]
    pub net_amount: Option<Cash>,
    /// Cash after a deposit or withdrawal.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = wire::Cash)]
    pub balance: Option<Cash>,
    /// Shares held after a share deposit.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "opt_display"
    )]
    #[schema(value_type = wire::Shares)]
    pub position_qty: Option<Qty>,
}

/// One page of a list, newest first. `next` is the cursor for the following page (pass it
/// as `after`), null on the last page.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Page<T> {
    #[must_use]
    pub const fn empty() -> Self {
        Page {
            items: Vec::new(),
            next: None,
        }
    }
}

/// Which orders a list shows.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum StatusFilter {
    /// Held, new or partially filled (Alpaca's default).
    #[default]
    Open,
    /// Filled, canceled or expired.
    Closed,
    All,
}

impl StatusFilter {
    #[must_use]
    pub const fn matches(self, status: OrderStatus) -> bool {
        match self {
            StatusFilter::Open => status.is_open(),
            StatusFilter::Closed => !status.is_open(),
            StatusFilter::All => true,
        }
    }

    /// `open` / `closed` / `all`.
    #[must_use]
    pub fn parse(s: &str) -> Option<StatusFilter> {
        match s {
            "open" => Some(StatusFilter::Open),
            "closed" => Some(StatusFilter::Closed),
            "all" => Some(StatusFilter::All),
            _ => None,
        }
    }
}

/// `GET /v1/orders?status=&symbol=&after=&limit=`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub status: StatusFilter,
    pub symbol: Option<Symbol>,
    /// A `next` cursor from the previous page.
    pub after: Option<String>,
    /// Clamped to 1..=[`MAX_PAGE`]; [`DEFAULT_PAGE`] when absent.
    pub limit: Option<usize>,
}

impl OrderFilter {
    #[must_use]
    pub fn limit(&self) -> usize {
        clamp_limit(self.limit)
    }

    /// Only orders older than this (the cursor is the last order id of the previous page).
    pub fn before(&self) -> Result<Option<OrderId>, QueryError> {
        self.after
            .as_deref()
            .map(|c| {
                c.parse::<u64>()
                    .map(OrderId::new)
                    .map_err(|_| QueryError::BadCursor {
                        cursor: c.to_owned(),
                    })
            })
            .transpose()
    }
}

/// `GET /v1/activities?activity_type=&after=&limit=`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActivityFilter {
    pub activity_type: Option<ActivityType>,
    /// A `next` cursor from the previous page.
    pub after: Option<String>,
    /// Clamped to 1..=[`MAX_PAGE`]; [`DEFAULT_PAGE`] when absent.
    pub limit: Option<usize>,
}

impl ActivityFilter {
    #[must_use]
    pub fn limit(&self) -> usize {
        clamp_limit(self.limit)
    }

    /// Only activities older than this.
    pub fn before(&self) -> Result<Option<ActivityId>, QueryError> {
        self.after.as_deref().map(str::parse).transpose()
    }
}

fn clamp_limit(limit: Option<usize>) -> usize {
    limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn percent_rounds_half_away_from_zero() {
        assert_eq!(Percent::of(1, 3).unwrap().to_string(), "33.33");
        assert_eq!(Percent::of(2, 3).unwrap().to_string(), "66.67");
        assert_eq!(Percent::of(-2, 3).unwrap().to_string(), "-66.67");
        assert_eq!(Percent::of(1, 20_000).unwrap().to_string(), "0.01");
        assert_eq!(Percent::of(-1, 20_000).unwrap().to_string(), "-0.01");
        assert_eq!(Percent::of(-1, 40_000).unwrap().to_string(), "0.00");
        assert_eq!(Percent::of(5, -10).unwrap().to_string(), "-50.00");
        assert_eq!(Percent::of(3, 2).unwrap().to_string(), "150.00");
        assert_eq!(Percent::of(1, 0), None);
    }

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let id = ActivityId { seq: 42, idx: 7 };
        assert_eq!(id.to_string().parse::<ActivityId>().unwrap(), id);
        assert!("42".parse::<ActivityId>().is_err());
        assert!("x-1".parse::<ActivityId>().is_err());
        let f = OrderFilter {
            after: Some("abc".into()),
            ..OrderFilter::default()
        };
        assert!(matches!(f.before(), Err(QueryError::BadCursor { .. })));
        assert_eq!(OrderFilter::default().limit(), DEFAULT_PAGE);
        let big = OrderFilter {
            limit: Some(10_000),
            ..OrderFilter::default()
        };
        assert_eq!(big.limit(), MAX_PAGE);
    }
}
