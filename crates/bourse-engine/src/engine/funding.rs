//! Funding: bank accounts linked and verified by two micro-deposits, and ACH transfers to
//! and from them — pending, then settled or returned — with the instant-deposit credit and
//! the rule for a returned deposit that was already spent (docs/FUNDING.md).
//!
//! Cash rules:
//! - a deposit credits at once the part its instant-deposit limit allows (the limit less
//!   the account's deposits still unsettled), and the rest when it settles;
//! - a withdrawal takes its whole amount at once, and only from settled cash (cash less
//!   what working buys reserve, less the unsettled deposits);
//! - a returned deposit takes back what it credited; a returned withdrawal gives its amount
//!   back. After a returned deposit the person has no more instant deposits and, if the
//!   account's cash no longer covers its working buys, every working buy is canceled
//!   (`DEPOSIT_RETURNED`). What is left negative is a debt: buys and withdrawals are
//!   refused until deposits or sales bring the cash back above zero.

use bourse_core::funding::{
    BankLink, BankStatus, Direction, ENDED_TRANSFERS_KEPT, MAX_BANKS, MAX_PENDING_TRANSFERS,
    MICRO_ATTEMPTS, NewBank, ReturnCode, Transfer, TransferStatus,
};
use bourse_core::profile::SecurityChange;
use bourse_core::{
    AccountId, CancelReason, Cash, Event, OrderId, RejectReason, SecretHash, Side, UnixNanos,
};

use super::ledger::MAX_CASH_IN;
use super::{Engine, refuse};

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

impl Engine {
    pub(super) fn link_bank(&mut self, ts: UnixNanos, b: &NewBank, out: &mut Vec<Event>) {
        let account = b.account;
        if self.account(account).is_none() {
            return out.push(refuse(account, RejectReason::UnknownAccount));
        }
        if !digits(&b.last4, 4) || !digits(&b.routing, 9) || b.holder.0.is_empty() {
            return out.push(refuse(account, RejectReason::InvalidBank));
        }
        if let Some(f) = self.profiles.get(account).map(|p| &p.funding) {
            if f.banks.len() >= MAX_BANKS {
                return out.push(refuse(account, RejectReason::TooManyBanks));
            }
            if f.banks.iter().any(|l| l.number_lookup == b.number_lookup) {
                return out.push(refuse(account, RejectReason::BankAlreadyLinked));
            }
        }
        let id = self.profiles.take_bank_id();
        self.profiles.edit(account, |p| {
            p.funding.banks.push(BankLink {
                id,
                holder: b.holder.clone(),
                number: b.number.clone(),
                number_lookup: b.number_lookup,
                last4: b.last4.clone(),
                routing: b.routing.clone(),
                micro_digest: b.micro_digest,
                sealed_micro: b.sealed_micro.clone(),
                status: BankStatus::Pending,
                attempts_left: MICRO_ATTEMPTS,
                linked_at: ts,
            });
        });
        out.push(Event::ProfileChanged { account });
        out.push(Event::SecurityChanged {
            account,
            change: SecurityChange::BankLinked,
        });
    }

    /// A right guess verifies the bank; a wrong one uses up a try (and the last one fails
    /// the link). Either way the profile changes, so a wrong guess is not a rejection.
    pub(super) fn verify_bank(
        &mut self,
        account: AccountId,
        bank: u64,
        digest: &SecretHash,
        out: &mut Vec<Event>,
    ) {
        let Some(link) = self
            .profiles
            .get(account)
            .and_then(|p| p.funding.bank(bank))
        else {
            return out.push(refuse(account, RejectReason::UnknownBank));
        };
        if link.status != BankStatus::Pending {
            return out.push(refuse(account, RejectReason::BankNotPending));
        }
        let right = link.micro_digest == *digest;
        self.profiles.edit(account, |p| {
            if let Some(l) = p.funding.banks.iter_mut().find(|l| l.id == bank) {
                if right {
                    l.status = BankStatus::Verified;
                } else {
                    l.attempts_left = l.attempts_left.saturating_sub(1);
                    if l.attempts_left == 0 {
                        l.status = BankStatus::Failed;
                    }
                }
            }
        });
        out.push(Event::ProfileChanged { account });
        if right {
            out.push(Event::SecurityChanged {
                account,
                change: SecurityChange::BankVerified,
            });
        }
    }

    /// Transfers already on their way with the bank still complete.
    pub(super) fn unlink_bank(&mut self, account: AccountId, bank: u64, out: &mut Vec<Event>) {
        if self
            .profiles
            .get(account)
            .and_then(|p| p.funding.bank(bank))
            .is_none()
        {
            return out.push(refuse(account, RejectReason::UnknownBank));
        }
        self.profiles
            .edit(account, |p| p.funding.banks.retain(|l| l.id != bank));
        out.push(Event::ProfileChanged { account });
        out.push(Event::SecurityChanged {
            account,
            change: SecurityChange::BankRemoved,
        });
    }

    /// Cash the account may withdraw: settled cash not promised to working buys.
    #[must_use]
    pub fn withdrawable(&self, account: AccountId) -> Option<Cash> {
        let a = self.account(account)?;
        let unsettled = self
            .profiles
            .get(account)
            .map_or(Cash::ZERO, |p| p.funding.unsettled());
        Some(
            a.cash
                .checked_sub(a.reserved)
                .and_then(|c| c.checked_sub(unsettled))
                .filter(|c| c.is_positive())
                .unwrap_or(Cash::ZERO),
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn bank_transfer(
        &mut self,
        ts: UnixNanos,
        account: AccountId,
        bank: u64,
        direction: Direction,
        amount: Cash,
        instant_limit: Cash,
        settle_at: UnixNanos,
        out: &mut Vec<Event>,
    ) {
        if !amount.is_positive() || instant_limit.is_negative() {
            return out.push(refuse(account, RejectReason::InvalidAmount));
        }
        if self.account(account).is_none() {
            return out.push(refuse(account, RejectReason::UnknownAccount));
        }
        let Some(f) = self.profiles.get(account).map(|p| &p.funding) else {
            return out.push(refuse(account, RejectReason::UnknownBank));
        };
        match f.bank(bank).map(|l| l.status) {
            None => return out.push(refuse(account, RejectReason::UnknownBank)),
            Some(BankStatus::Verified) => {}
            Some(_) => return out.push(refuse(account, RejectReason::BankNotVerified)),
        }
        if f.pending().count() >= MAX_PENDING_TRANSFERS {
            return out.push(refuse(account, RejectReason::TooManyTransfers));
        }
        let (instant, moved) = match direction {
            Direction::Deposit => {
                // The whole amount counts against the exchange's cap now: it all arrives
                // at settlement.
                let total = self
                    .net_cash_in
                    .checked_add(self.pending_in)
                    .and_then(|c| c.checked_add(amount));
                if total.is_none_or(|t| t.raw() > MAX_CASH_IN) {
                    return out.push(refuse(account, RejectReason::CashLimit));
                }
                let room = instant_limit
                    .checked_sub(f.unsettled())
                    .filter(|c| c.is_positive())
                    .unwrap_or(Cash::ZERO);
                let instant = if f.instant_revoked {
                    Cash::ZERO
                } else {
                    amount.min(room)
                };
                (instant, instant)
            }
            Direction::Withdrawal => {
                if self.profiles.is_unverified(account) {
                    return out.push(refuse(account, RejectReason::ContactNotVerified));
                }
                if self.withdrawable(account).is_none_or(|w| amount > w) {
                    return out.push(refuse(account, RejectReason::InsufficientFunds));
                }
                (
                    Cash::ZERO,
                    Cash::ZERO.checked_sub(amount).unwrap_or(Cash::ZERO),
                )
            }
        };
        let id = self.profiles.take_transfer_id();
        let t = Transfer {
            id,
            bank,
            direction,
            amount,
            instant,
            status: TransferStatus::Pending,
            created_at: ts,
            settle_at,
            ended_at: None,
            return_code: None,
        };
        self.count_pending(&t, true);
        self.profiles.edit(account, |p| p.funding.transfers.push(t));
        let balance = self.move_cash(account, moved);
        out.push(Event::ProfileChanged { account });
        out.push(Event::TransferChanged {
            account,
            transfer: id,
            direction,
            status: TransferStatus::Pending,
            amount,
            moved,
            balance,
        });
    }

    /// Settles every pending transfer due by `ts`, earliest first.
    pub(super) fn settle_transfers(&mut self, ts: UnixNanos, out: &mut Vec<Event>) {
        while let Some((account, id)) = self.profiles.first_due(ts) {
            let Some(t) = self
                .profiles
                .get(account)
                .and_then(|p| p.funding.transfers.iter().find(|t| t.id == id).cloned())
            else {
                // The index and the profiles agree (checked); nothing else can be due.
                break;
            };
            self.count_pending(&t, false);
            let moved = match t.direction {
                Direction::Deposit => t.amount.checked_sub(t.instant).unwrap_or(Cash::ZERO),
                Direction::Withdrawal => Cash::ZERO,
            };
            self.end_transfer(account, id, ts, TransferStatus::Settled, None);
            let balance = self.move_cash(account, moved);
            out.push(Event::ProfileChanged { account });
            out.push(Event::TransferChanged {
                account,
                transfer: id,
                direction: t.direction,
                status: TransferStatus::Settled,
                amount: t.amount,
                moved,
                balance,
            });
        }
    }

    /// The bank sent a transfer back: a pending one, or a deposit already settled (an
    /// insufficient-funds return can come days after the money was credited).
    pub(super) fn return_transfer(
        &mut self,
        ts: UnixNanos,
        account: AccountId,
        id: u64,
        code: ReturnCode,
        out: &mut Vec<Event>,
    ) {
        let Some(t) = self
            .profiles
            .get(account)
            .and_then(|p| p.funding.transfers.iter().find(|t| t.id == id).cloned())
        else {
            return out.push(refuse(account, RejectReason::UnknownTransfer));
        };
        let moved = match (t.direction, t.status) {
            (Direction::Deposit, TransferStatus::Pending) => {
                self.count_pending(&t, false);
                Cash::ZERO.checked_sub(t.instant)
            }
            (Direction::Deposit, TransferStatus::Settled) => Cash::ZERO.checked_sub(t.amount),
            (Direction::Withdrawal, TransferStatus::Pending) => Some(t.amount),
            _ => return out.push(refuse(account, RejectReason::TransferNotReturnable)),
        }
        .unwrap_or(Cash::ZERO);
        self.end_transfer(account, id, ts, TransferStatus::Returned, Some(code));
        if t.direction == Direction::Deposit {
            self.profiles
                .edit(account, |p| p.funding.instant_revoked = true);
        }
        let balance = self.move_cash(account, moved);
        out.push(Event::ProfileChanged { account });
        out.push(Event::TransferChanged {
            account,
            transfer: id,
            direction: t.direction,
            status: TransferStatus::Returned,
            amount: t.amount,
            moved,
            balance,
        });
        // The cash no longer covers the working buys: cancel them all, newest first.
        if self.account(account).is_some_and(|a| a.reserved > a.cash) {
            let mut buys: Vec<OrderId> = self
                .orders
                .iter()
                .filter(|(_, w)| w.account == account && w.side == Side::Buy)
                .map(|(id, _)| *id)
                .collect();
            buys.sort_unstable_by(|a, b| b.cmp(a));
            for id in buys {
                self.cancel_for(account, id, CancelReason::DepositReturned, out);
            }
        }
    }

    /// Erases the person's personal data, if their account is empty: their user (the name
    /// is free again), sessions and keys, and every field of their profile but the
    /// transfers, which are financial records. Orders and fills stay, by account number.
    pub(super) fn erase_person(&mut self, account: AccountId, out: &mut Vec<Event>) {
        if self.identity.role(account) != Some(bourse_core::Role::Trader)
            || self.profiles.get(account).is_some_and(|p| p.erased)
        {
            return out.push(refuse(account, RejectReason::ErasureNotAllowed));
        }
        let Some(a) = self.account(account) else {
            return out.push(refuse(account, RejectReason::UnknownAccount));
        };
        let holds = |i: usize| {
            self.pos_index(account, i)
                .is_some_and(|pi| self.positions[pi].qty != 0)
        };
        // A scan of the working orders: erasure is rare, and an order book never is.
        let empty = a.cash == Cash::ZERO
            && a.reserved == Cash::ZERO
            && !(0..self.instruments.len()).any(holds)
            && !self.orders.values().any(|w| w.account == account)
            && self
                .profiles
                .get(account)
                .is_none_or(|p| p.funding.pending().next().is_none());
        if !empty {
            return out.push(refuse(account, RejectReason::AccountNotEmpty));
        }
        let (sessions, keys) = self.identity.erase_user(account);
        self.profiles.edit(account, |p| {
            let kept = bourse_core::funding::Funding {
                banks: Vec::new(),
                transfers: std::mem::take(&mut p.funding.transfers),
                instant_revoked: p.funding.instant_revoked,
            };
            *p = bourse_core::profile::Profile {
                funding: kept,
                erased: true,
                ..Default::default()
            };
        });
        for token in sessions {
            out.push(Event::SessionEnded { account, token });
        }
        for key_id in keys {
            out.push(Event::ApiKeyRevoked { account, key_id });
        }
        out.push(Event::ProfileChanged { account });
        out.push(Event::PersonErased { account });
    }

    /// Adds a pending deposit to the exchange's running totals (its instant part credited,
    /// the rest still to come), or takes it off once it settles or is returned.
    fn count_pending(&mut self, t: &Transfer, pending: bool) {
        if t.direction != Direction::Deposit {
            return;
        }
        let rest = t.amount.checked_sub(t.instant).unwrap_or(Cash::ZERO);
        let step = |total: Cash, x: Cash| {
            if pending {
                total.checked_add(x)
            } else {
                total.checked_sub(x)
            }
            .unwrap_or(Cash::ZERO)
        };
        self.unsettled_in = step(self.unsettled_in, t.instant);
        self.pending_in = step(self.pending_in, rest);
    }

    /// Moves a transfer to `status` and drops the oldest ended ones past the retention.
    fn end_transfer(
        &mut self,
        account: AccountId,
        id: u64,
        ts: UnixNanos,
        status: TransferStatus,
        code: Option<ReturnCode>,
    ) {
        self.profiles.edit(account, |p| {
            let ts_ = &mut p.funding.transfers;
            if let Some(t) = ts_.iter_mut().find(|t| t.id == id) {
                t.status = status;
                t.ended_at = Some(ts);
                t.return_code = code;
            }
            let ended = ts_
                .iter()
                .filter(|t| t.status != TransferStatus::Pending)
                .count();
            let mut drop = ended.saturating_sub(ENDED_TRANSFERS_KEPT);
            ts_.retain(|t| {
                if drop > 0 && t.status != TransferStatus::Pending {
                    drop -= 1;
                    return false;
                }
                true
            });
        });
    }

    /// Adds `moved` (signed) to the account's cash and to the exchange's; the new balance.
    fn move_cash(&mut self, account: AccountId, moved: Cash) -> Cash {
        self.net_cash_in = self
            .net_cash_in
            .checked_add(moved)
            .unwrap_or(self.net_cash_in);
        match self.account_mut(account) {
            Some(a) => {
                a.cash = a.cash.checked_add(moved).unwrap_or(a.cash);
                a.cash
            }
            None => Cash::ZERO,
        }
    }

    /// The funding invariants: each account's unsettled deposits and the exchange's
    /// counters agree with the transfers; the due index is the pending transfers; cash is
    /// negative only after a returned deposit, with nothing reserved.
    pub(super) fn check_funding(&self) -> Result<(), String> {
        let mut unsettled = 0i128;
        let mut pending = 0i128;
        for (account, p) in self.profiles.iter() {
            let f = &p.funding;
            if f.banks.len() > MAX_BANKS || f.pending().count() > MAX_PENDING_TRANSFERS {
                return Err(format!(
                    "account {account:?} holds too many banks or transfers"
                ));
            }
            if f.transfers.len() - f.pending().count() > ENDED_TRANSFERS_KEPT {
                return Err(format!(
                    "account {account:?} keeps too many ended transfers"
                ));
            }
            for t in &f.transfers {
                if t.instant.is_negative()
                    || t.instant > t.amount
                    || (t.direction == Direction::Withdrawal && t.instant != Cash::ZERO)
                    || (t.status == TransferStatus::Pending) == t.ended_at.is_some()
                    || (t.status == TransferStatus::Returned) != t.return_code.is_some()
                {
                    return Err(format!(
                        "account {account:?} transfer {t:?} is inconsistent"
                    ));
                }
                let due = self.profiles.is_due_indexed(t.settle_at, t.id, account);
                if due != (t.status == TransferStatus::Pending) {
                    return Err(format!("transfer {} indexed {due}", t.id));
                }
                if t.status == TransferStatus::Pending && t.direction == Direction::Deposit {
                    unsettled += i128::from(t.instant.raw());
                    pending += i128::from(t.amount.raw() - t.instant.raw());
                }
            }
            if let Some(a) = self.account(account)
                && a.cash.is_negative()
                && !(f.instant_revoked && a.reserved == Cash::ZERO)
            {
                return Err(format!(
                    "account {account:?} cash {} reserved {} without a returned deposit",
                    a.cash, a.reserved
                ));
            }
        }
        if self.profiles.due_len()
            != self
                .profiles
                .iter()
                .map(|(_, p)| p.funding.pending().count())
                .sum::<usize>()
        {
            return Err("the due index holds transfers that are not pending".into());
        }
        if unsettled != i128::from(self.unsettled_in.raw())
            || pending != i128::from(self.pending_in.raw())
        {
            return Err(format!(
                "pending deposits credit {unsettled} and owe {pending}, counters say {} and {}",
                self.unsettled_in, self.pending_in
            ));
        }
        for (n, a) in self.accounts.iter().enumerate() {
            let id = AccountId::new(n as u64 + 1);
            if a.cash.is_negative() && self.profiles.get(id).is_none() {
                return Err(format!("account {id:?} cash {} without a profile", a.cash));
            }
        }
        Ok(())
    }
}
