//! Account activities: the one mapping from events to activity records, shared by the
//! in-memory model and the PostgreSQL projection so both list exactly the same things.

use bourse_core::funding::{Direction, TransferStatus};
use bourse_core::{
    AccountId, Cash, Event, Liquidity, OrderId, Price, Qty, Seq, Side, Symbol, TradeId, UnixNanos,
};

use crate::orders::liquidity_str;
use crate::readmodel::views::{ActivityId, ActivityType, ActivityView, cash};

/// Something that moved an account's cash or shares.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Activity {
    pub id: ActivityId,
    pub ts: UnixNanos,
    pub account: AccountId,
    pub kind: ActivityKind,
}

/// What happened, with the numbers the event carried.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ActivityKind {
    Fill {
        order_id: OrderId,
        trade_id: TradeId,
        symbol: Symbol,
        side: Side,
        price: Price,
        qty: Qty,
        /// The cash the fill moved before the fee (price × qty, rounded by the engine's
        /// rule for fractions).
        value: Cash,
        fee: Cash,
        liquidity: Liquidity,
        cum_qty: Qty,
        leaves_qty: Qty,
    },
    Deposit {
        amount: Cash,
        balance: Cash,
    },
    Withdrawal {
        amount: Cash,
        balance: Cash,
    },
    ShareDeposit {
        symbol: Symbol,
        qty: Qty,
        position: Qty,
    },
    /// What a returned bank deposit took back (positive).
    DepositReturned {
        amount: Cash,
        balance: Cash,
    },
    /// What a returned bank withdrawal gave back.
    WithdrawalReturned {
        amount: Cash,
        balance: Cash,
    },
}

impl Activity {
    /// The activity event `idx` of command `seq` records, if it records one.
    #[must_use]
    pub fn from_event(seq: Seq, ts: UnixNanos, idx: u32, e: &Event) -> Option<Activity> {
        let (account, kind) = match *e {
            Event::OrderFilled {
                order_id,
                account,
                symbol,
                side,
                trade_id,
                last_px,
                last_qty,
                cum_qty,
                leaves_qty,
                liquidity,
                fee,
                value,
                ..
            } => (
                account,
                ActivityKind::Fill {
                    order_id,
                    trade_id,
                    symbol,
                    side,
                    price: last_px,
                    qty: last_qty,
                    value,
                    fee,
                    liquidity,
                    cum_qty,
                    leaves_qty,
                },
            ),
            Event::CashDeposited {
                account,
                amount,
                balance,
            } => (account, ActivityKind::Deposit { amount, balance }),
            Event::CashWithdrawn {
                account,
                amount,
                balance,
            } => (account, ActivityKind::Withdrawal { amount, balance }),
            // A bank transfer is an activity where it moves cash: a deposit's instant part
            // and its rest at settlement, a withdrawal when asked, and a return.
            Event::TransferChanged {
                account,
                direction,
                status,
                moved,
                balance,
                ..
            } if moved != Cash::ZERO => {
                let amount = Cash::from_raw(moved.raw().saturating_abs());
                let kind = match (direction, status) {
                    (_, TransferStatus::Returned) if direction == Direction::Deposit => {
                        ActivityKind::DepositReturned { amount, balance }
                    }
                    (_, TransferStatus::Returned) => {
                        ActivityKind::WithdrawalReturned { amount, balance }
                    }
                    (Direction::Deposit, _) => ActivityKind::Deposit { amount, balance },
                    (Direction::Withdrawal, _) => ActivityKind::Withdrawal { amount, balance },
                };
                (account, kind)
            }
            Event::SharesDeposited {
                account,
                symbol,
                qty,
                position,
            } => (
                account,
                ActivityKind::ShareDeposit {
                    symbol,
                    qty,
                    position,
                },
            ),
            _ => return None,
        };
        Some(Activity {
            id: ActivityId { seq: seq.0, idx },
            ts,
            account,
            kind,
        })
    }

    #[must_use]
    pub const fn activity_type(&self) -> ActivityType {
        match self.kind {
            ActivityKind::Fill { .. } => ActivityType::Fill,
            ActivityKind::Deposit { .. } => ActivityType::Deposit,
            ActivityKind::Withdrawal { .. } => ActivityType::Withdrawal,
            ActivityKind::ShareDeposit { .. } => ActivityType::ShareDeposit,
            ActivityKind::DepositReturned { .. } => ActivityType::DepositReturned,
            ActivityKind::WithdrawalReturned { .. } => ActivityType::WithdrawalReturned,
        }
    }

    /// The signed cash effect: a buy pays its value plus the fee, a sell receives its
    /// value less the fee; `None` for a share deposit.
    #[must_use]
    pub fn net_amount(&self) -> Option<Cash> {
        match self.kind {
            ActivityKind::Fill {
                side, value, fee, ..
            } => {
                let value = i128::from(value.raw());
                let fee = i128::from(fee.raw());
                Some(cash(match side {
                    Side::Buy => -(value + fee),
                    Side::Sell => value - fee,
                }))
            }
            ActivityKind::Deposit { amount, .. }
            | ActivityKind::WithdrawalReturned { amount, .. } => Some(amount),
            ActivityKind::Withdrawal { amount, .. }
            | ActivityKind::DepositReturned { amount, .. } => Some(cash(-i128::from(amount.raw()))),
            ActivityKind::ShareDeposit { .. } => None,
        }
    }

    #[must_use]
    pub fn view(&self) -> ActivityView {
        let mut v = ActivityView {
            id: self.id,
            activity_type: self.activity_type().as_str(),
            account_id: self.account,
            transaction_time: self.ts.to_rfc3339(),
            seq: self.id.seq,
            symbol: None,
            side: None,
            order_id: None,
            trade_id: None,
            price: None,
            qty: None,
            fee: None,
            liquidity: None,
            cum_qty: None,
            leaves_qty: None,
            net_amount: self.net_amount(),
            balance: None,
            position_qty: None,
        };
        match self.kind {
            ActivityKind::Fill {
                order_id,
                trade_id,
                symbol,
                side,
                price,
                qty,
                fee,
                liquidity,
                cum_qty,
                leaves_qty,
                ..
            } => {
                v.symbol = Some(symbol);
                v.side = Some(side);
                v.order_id = Some(order_id);
                v.trade_id = Some(trade_id);
                v.price = Some(price);
                v.qty = Some(qty);
                v.fee = Some(fee);
                v.liquidity = Some(liquidity_str(liquidity));
                v.cum_qty = Some(cum_qty);
                v.leaves_qty = Some(leaves_qty);
            }
            ActivityKind::Deposit { balance, .. }
            | ActivityKind::Withdrawal { balance, .. }
            | ActivityKind::DepositReturned { balance, .. }
            | ActivityKind::WithdrawalReturned { balance, .. } => {
                v.balance = Some(balance);
            }
            ActivityKind::ShareDeposit {
                symbol,
                qty,
                position,
            } => {
                v.symbol = Some(symbol);
                v.qty = Some(qty);
                v.position_qty = Some(position);
            }
        }
        v
    }
}
