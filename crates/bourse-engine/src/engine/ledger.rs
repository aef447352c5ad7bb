//! Ledger: deposits, withdrawals, reservations, settlement, fees, balances, conservation checks.

use bourse_core::{
    AccountId, Cash, ClientOrderId, Event, Liquidity, OrderId, OrderType, Price, QTY_SCALE, Qty,
    RejectReason, Side, Symbol, TradeId, div_const, exact_value,
};

use serde::{Deserialize, Serialize};

use super::classes::Member;
use super::sessions::Waiting;
use super::stops::Stops;
use super::{Account, Engine, Position, refuse};

/// How much the price may rise (×) over the higher of an instrument's reference and last
/// trade price while every share of it still values exactly in [`Cash`]; share deposits that
/// would break that are refused (`POSITION_LIMIT`).
const POSITION_HEADROOM: i64 = 100;

/// Most cash the exchange holds in all (raw units): half of what [`Cash`] can hold.
pub(super) const MAX_CASH_IN: i64 = i64::MAX / 2;

/// What rounding an order's cash (or a class's exits') as a whole has left over, so that
/// the next fill rounds the whole again without keeping the exact sums (which need 128
/// bits): `value` is, for a buy, ceil(E) − E over its fills' exact value E (price raw ×
/// quantity raw, in 10^-10 dollars), for a sell E − floor(E), in those units (below
/// 1,000,000); `fee` is likewise ceil(F) − F over F = Σ fill cash × bps (below 10,000).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Rounding {
    value: u32,
    fee: u32,
}

/// Raw cash units per unit of fee base (cash × bps).
const FEE_UNIT: u64 = 10_000;

/// `x` more on a sum rounded up in steps of `unit`, of which `left` was rounded up
/// already: how many steps more, and what is left over after them.
#[inline]
fn up(left: u32, x: u128, unit: u64) -> Option<(i64, u32)> {
    let left = u128::from(left);
    if x <= left {
        return Some((0, u32::try_from(left - x).ok()?));
    }
    let need = x - left;
    let steps = div_const(need, unit, true);
    let rest = steps * u128::from(unit) - need;
    Some((i64::try_from(steps).ok()?, u32::try_from(rest).ok()?))
}

/// `x` more on a sum rounded down in steps of `unit`, `left` above the last step.
#[inline]
fn down(left: u32, x: u128, unit: u64) -> Option<(i64, u32)> {
    let t = u128::from(left) + x;
    let steps = div_const(t, unit, false);
    let rest = t - steps * u128::from(unit);
    Some((i64::try_from(steps).ok()?, u32::try_from(rest).ok()?))
}

impl Engine {
    /// Cash held and cash reserved by working buy orders.
    #[must_use]
    pub fn cash(&self, account: AccountId) -> Option<(Cash, Cash)> {
        self.account(account).map(|a| (a.cash, a.reserved))
    }

    /// Shares held and shares reserved by working sell orders.
    #[must_use]
    pub fn position(&self, account: AccountId, symbol: Symbol) -> Option<(Qty, Qty)> {
        let i = *self.by_symbol.get(&symbol)?;
        let p = &self.positions[self.pos_index(account, i as usize)?];
        Some((Qty::from_raw(p.qty), Qty::from_raw(p.reserved)))
    }

    #[must_use]
    pub fn fees_collected(&self) -> Cash {
        self.fees_collected
    }

    /// The house's cash from rounding fractional fills (see [`Engine::settle`]).
    #[must_use]
    pub fn rounding_collected(&self) -> Cash {
        self.rounding
    }

    #[must_use]
    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }

    pub(super) fn account(&self, id: AccountId) -> Option<&Account> {
        let i = usize::try_from(id.get()).ok()?.checked_sub(1)?;
        self.accounts.get(i)
    }

    /// Where `account`'s position in instrument `i` lives in `positions`.
    #[inline]
    pub(super) fn pos_index(&self, account: AccountId, i: usize) -> Option<usize> {
        let a = usize::try_from(account.get()).ok()?.checked_sub(1)?;
        (a < self.accounts.len()).then(|| a * self.instruments.len() + i)
    }

    pub(super) fn account_mut(&mut self, id: AccountId) -> Option<&mut Account> {
        let i = usize::try_from(id.get()).ok()?.checked_sub(1)?;
        self.accounts.get_mut(i)
    }

    pub(super) fn open_account(&mut self, out: &mut Vec<Event>) -> AccountId {
        self.accounts.push(Account {
            cash: Cash::ZERO,
            reserved: Cash::ZERO,
            stream: 0,
        });
        self.positions.resize(
            self.accounts.len() * self.instruments.len(),
            Position::default(),
        );
        let account = AccountId::new(self.accounts.len() as u64);
        out.push(Event::AccountOpened { account });
        account
    }

    pub(super) fn deposit(&mut self, account: AccountId, amount: Cash, out: &mut Vec<Event>) {
        if !amount.is_positive() {
            return out.push(refuse(account, RejectReason::InvalidAmount));
        }
        let Some(net) = self.net_cash_in.checked_add(amount) else {
            return out.push(refuse(account, RejectReason::ArithmeticOverflow));
        };
        // Trading only moves cash, so no account ever holds more than the exchange took
        // in; capped at half of what Cash holds, an account's cash plus its positions
        // (each symbol's shares value under a hundredth of it, see POSITION_HEADROOM)
        // always sums exactly.
        if net.raw() > MAX_CASH_IN {
            return out.push(refuse(account, RejectReason::CashLimit));
        }
        let Some(a) = self.account_mut(account) else {
            return out.push(refuse(account, RejectReason::UnknownAccount));
        };
        let Some(cash) = a.cash.checked_add(amount) else {
            return out.push(refuse(account, RejectReason::ArithmeticOverflow));
        };
        a.cash = cash;
        self.net_cash_in = net;
        out.push(Event::CashDeposited {
            account,
            amount,
            balance: cash,
        });
    }

    pub(super) fn withdraw(&mut self, account: AccountId, amount: Cash, out: &mut Vec<Event>) {
        if !amount.is_positive() {
            return out.push(refuse(account, RejectReason::InvalidAmount));
        }
        if self.profiles.is_unverified(account) {
            return out.push(refuse(account, RejectReason::ContactNotVerified));
        }
        // Only settled cash leaves: not what working buys reserve, nor deposits unsettled.
        let Some(available) = self.withdrawable(account) else {
            return out.push(refuse(account, RejectReason::UnknownAccount));
        };
        if amount > available {
            return out.push(refuse(account, RejectReason::InsufficientFunds));
        }
        let Some(a) = self.account_mut(account) else {
            return out.push(refuse(account, RejectReason::UnknownAccount));
        };
        a.cash = a.cash.checked_sub(amount).unwrap_or(Cash::ZERO);
        let balance = a.cash;
        self.net_cash_in = self.net_cash_in.checked_sub(amount).unwrap_or(Cash::ZERO);
        out.push(Event::CashWithdrawn {
            account,
            amount,
            balance,
        });
    }

    pub(super) fn deposit_shares(
        &mut self,
        account: AccountId,
        symbol: Symbol,
        qty: Qty,
        out: &mut Vec<Event>,
    ) {
        if qty.is_zero() {
            return out.push(refuse(account, RejectReason::InvalidQuantity));
        }
        let Some(&i) = self.by_symbol.get(&symbol) else {
            return out.push(refuse(account, RejectReason::UnknownSymbol));
        };
        let i = i as usize;
        if !qty.is_whole() && !self.instruments[i].fractional {
            return out.push(refuse(account, RejectReason::FractionalNotAllowed));
        }
        let Some(total) = self.shares_in[i].checked_add(qty.raw()) else {
            return out.push(refuse(account, RejectReason::ArithmeticOverflow));
        };
        let Some(pi) = self.pos_index(account, i) else {
            return out.push(refuse(account, RejectReason::UnknownAccount));
        };
        let pos = &self.positions[pi];
        let Some(held) = pos.qty.checked_add(qty.raw()) else {
            return out.push(refuse(account, RejectReason::ArithmeticOverflow));
        };
        // Every share of the symbol must stay valuable exactly (market value, equity) even
        // after the price rises a hundredfold from the higher of reference and last trade.
        let px = self.books[i]
            .last_trade_price()
            .map_or(self.instruments[i].reference_price, |p| {
                p.max(self.instruments[i].reference_price)
            });
        let valuable = px
            .raw()
            .checked_mul(POSITION_HEADROOM)
            .and_then(|p| Price::from_raw(p).notional(Qty::from_raw(total)))
            .is_some();
        if !valuable {
            return out.push(refuse(account, RejectReason::PositionLimit));
        }
        let pos = &mut self.positions[pi];
        pos.qty = held;
        self.shares_in[i] = total;
        out.push(Event::SharesDeposited {
            account,
            symbol,
            qty,
            position: Qty::from_raw(held),
        });
    }

    /// Cash to reserve for a new buy of `qty` at up to `px`: see [`Engine::buy_hold`].
    pub(super) fn buy_reserve(&self, px: Price, qty: u64) -> Option<Cash> {
        self.buy_hold(px, qty, Rounding::default(), None)
    }

    /// Cash a buy still needs for `leaves` more at up to `px`, given what rounding its fills
    /// so far left over (`round`) and what is left of a notional order's cap.
    ///
    /// A buy pays its fills' exact value E rounded up *as a whole*, and its fees likewise,
    /// so what it pays from here is at most `ceil(E + px × leaves) − ceil(E)`, plus the
    /// fee on that at the dearer rate; a notional order pays at most its cap. Held this way
    /// the reservation always covers the next fill and shrinks by at least what it cost
    /// (the proof is in docs/ARCHITECTURE.md, "Fractional shares"); rounding fill by fill
    /// would need a unit of slack per possible fill, which a millionth of a share makes
    /// unbounded.
    pub(super) fn buy_hold(
        &self,
        px: Price,
        leaves: u64,
        round: Rounding,
        cap: Option<Cash>,
    ) -> Option<Cash> {
        let (v, _) = up(
            round.value,
            exact_value(px, Qty::from_raw(leaves)),
            QTY_SCALE,
        )?;
        let mut value = Cash::from_raw(v);
        if let Some(cap) = cap {
            value = value.min(cap.max(Cash::ZERO));
        }
        let bps = self.cfg.maker_fee_bps.max(self.cfg.taker_fee_bps);
        if bps == 0 {
            return Some(value);
        }
        let more = u128::from(value.raw().unsigned_abs()) * u128::from(bps);
        let (fee, _) = up(round.fee, more, FEE_UNIT)?;
        value.checked_add(Cash::from_raw(fee))
    }

    /// What is left of a notional order's cap, if `id` is the one being submitted.
    fn cap_left(&self, id: OrderId, paid: Cash) -> Option<Cash> {
        self.notional_cap
            .filter(|(n, _)| *n == id)
            .and_then(|(_, cap)| cap.checked_sub(paid))
    }

    /// Settles one side of a trade for order `id`: moves cash and shares, charges the fee,
    /// releases the reservation it used. Returns the execution report.
    ///
    /// The cash is the order's exact value rounded as a whole (up for a buy, down for a
    /// sell) less what earlier fills moved: so whole shares move exactly price × quantity,
    /// and a fraction never moves more (or less) than a cash unit off its exact value over
    /// the whole order. The buyer's and seller's roundings differ by under a cash unit per
    /// order; the house keeps that (`rounding`), never negative since every buyer rounds up
    /// and every seller down the same exact values.
    pub(super) fn settle(
        &mut self,
        id: OrderId,
        trade_id: TradeId,
        px: Price,
        qty: Qty,
        liquidity: Liquidity,
    ) -> Option<Event> {
        let w = *self.orders.get(&id)?;
        let i = w.instrument as usize;
        let q = qty.raw();
        // A class's exits are rounded together, as one order.
        let leg = match w.class {
            Some(Member::Leg(g)) => Some(g),
            _ => None,
        };
        let was = match leg {
            Some(g) => self.groups.get(&g).map(|grp| grp.round)?,
            None => w.round,
        };
        let x = exact_value(px, qty);
        let (v, left) = match w.side {
            Side::Buy => up(was.value, x, QTY_SCALE)?,
            Side::Sell => down(was.value, x, QTY_SCALE)?,
        };
        let value = Cash::from_raw(v);
        let bps = match liquidity {
            Liquidity::Maker => self.cfg.maker_fee_bps,
            Liquidity::Taker => self.cfg.taker_fee_bps,
        };
        // At most the fill's own value × bps rounded up, so a seller's fee never passes
        // what the fill brings in.
        let (fee, fee_left) = if bps == 0 {
            (0, was.fee)
        } else {
            let y = u128::from(value.raw().unsigned_abs()) * u128::from(bps);
            up(was.fee, y, FEE_UNIT)?
        };
        let fee = Cash::from_raw(fee);
        let round = Rounding {
            value: left,
            fee: fee_left,
        };
        let leaves = w.leaves - q;
        // An exit of a class reserves nothing of its own: its class holds for both exits.
        let exit = leg.is_some();
        let new_reserved = if w.side == Side::Buy && !exit {
            if leaves == 0 {
                Cash::ZERO
            } else {
                let cap = self.cap_left(id, w.cum_notional.checked_add(value)?);
                self.buy_hold(w.reserve_px, leaves, round, cap)?
            }
        } else {
            Cash::ZERO
        };
        let pi = self.pos_index(w.account, i)?;
        let ai = pi / self.instruments.len();
        let (a, p) = (&mut self.accounts[ai], &mut self.positions[pi]);
        match w.side {
            Side::Buy => {
                let release = w.reserved_cash.checked_sub(new_reserved)?;
                a.cash = a.cash.checked_sub(value)?.checked_sub(fee)?;
                a.reserved = a.reserved.checked_sub(release)?;
                p.qty += q;
                self.rounding = self.rounding.checked_add(value)?;
            }
            Side::Sell => {
                a.cash = a.cash.checked_add(value)?.checked_sub(fee)?;
                p.qty -= q;
                p.reserved -= q;
                self.rounding = self.rounding.checked_sub(value)?;
            }
        }
        self.fees_collected = self.fees_collected.checked_add(fee)?;
        let o = self.orders.get_mut(&id)?;
        o.leaves = leaves;
        o.cum_qty += q;
        o.cum_notional = o.cum_notional.checked_add(value)?;
        o.reserved_cash = new_reserved;
        if leg.is_none() {
            o.round = round;
        }
        let report = Event::OrderFilled {
            order_id: id,
            account: w.account,
            symbol: self.instruments[i].symbol,
            side: w.side,
            trade_id,
            last_px: px,
            last_qty: qty,
            cum_qty: Qty::from_raw(o.cum_qty),
            leaves_qty: Qty::from_raw(leaves),
            cum_notional: o.cum_notional,
            liquidity,
            fee,
            value,
        };
        if let Some(grp) = leg.and_then(|g| self.groups.get_mut(&g)) {
            grp.round = round;
            if w.side == Side::Sell {
                // The shares sold were the class's: its reservation shrinks with the
                // position's.
                grp.shares -= q.min(grp.shares);
            }
        }
        if leaves == 0 {
            self.orders.remove(&id);
            self.remember_ended(w.account, w.client_order_id, id);
            if let Some(m) = w.class {
                self.class_member_ended(m);
            }
        }
        Some(report)
    }

    /// An ended order's client order id joins the remembered ones; past the retention the
    /// oldest is forgotten (its id free again), so the table holds the working orders' ids
    /// and at most `client_id_retention` more.
    fn remember_ended(&mut self, account: AccountId, cid: Option<ClientOrderId>, id: OrderId) {
        let Some(cid) = cid else { return };
        self.ended_ids.push_back(((account, cid), id));
        while self.ended_ids.len() > self.cfg.client_id_retention as usize {
            let Some((key, old)) = self.ended_ids.pop_front() else {
                break;
            };
            if self.client_ids.get(&key).is_some_and(|v| v.0 == old) {
                self.client_ids.remove(&key);
            }
        }
    }

    /// An order stopped working: release what it still had reserved and forget it.
    pub(super) fn finish(&mut self, id: OrderId) {
        let Some(w) = self.orders.remove(&id) else {
            return;
        };
        self.remember_ended(w.account, w.client_order_id, id);
        if let Some(m) = w.class {
            self.class_member_ended(m);
            if matches!(m, Member::Leg(_)) {
                // Its class's reservation is released with the class.
                return;
            }
        }
        let i = w.instrument as usize;
        match w.side {
            Side::Buy => {
                if let Some(a) = self.account_mut(w.account) {
                    a.reserved = a
                        .reserved
                        .checked_sub(w.reserved_cash)
                        .unwrap_or(Cash::ZERO);
                }
            }
            Side::Sell => {
                if let Some(pi) = self.pos_index(w.account, i) {
                    let p = &mut self.positions[pi];
                    p.reserved -= w.leaves.min(p.reserved);
                }
            }
        }
    }

    /// Ends a command's events with the balances and positions it touched, so consumers
    /// (account views, the private `account` channel) show the engine's own numbers.
    pub(super) fn emit_balances(&mut self, start: usize, out: &mut Vec<Event>) {
        let mut touched = std::mem::take(&mut self.touched);
        touched.clear();
        let mut seen = std::mem::take(&mut self.touched_set);
        seen.clear();
        // A command touches a few accounts, found fastest in a short list; a session change
        // or a mass cancel may touch thousands, where the list's scan would be quadratic.
        let many = out.len() - start > 32;
        let mut touch = |t: (AccountId, Option<Symbol>)| {
            let new = if many {
                seen.insert(t)
            } else {
                !touched.contains(&t)
            };
            if new {
                touched.push(t);
            }
        };
        for e in &out[start..] {
            match *e {
                Event::CashDeposited { account, .. }
                | Event::CashWithdrawn { account, .. }
                | Event::TransferChanged { account, .. } => {
                    touch((account, None));
                }
                Event::SharesDeposited {
                    account, symbol, ..
                } => touch((account, Some(symbol))),
                Event::OrderAccepted {
                    account, symbol, ..
                }
                | Event::OrderFilled {
                    account, symbol, ..
                }
                | Event::OrderCanceled {
                    account, symbol, ..
                }
                | Event::OrderReplaced {
                    account, symbol, ..
                }
                | Event::OrderTriggered {
                    account, symbol, ..
                } => {
                    touch((account, None));
                    touch((account, Some(symbol)));
                }
                _ => {}
            }
        }
        for &(account, symbol) in &touched {
            match symbol {
                None => {
                    if let Some((cash, reserved)) = self.cash(account) {
                        out.push(Event::BalanceChanged {
                            account,
                            cash,
                            reserved,
                        });
                    }
                }
                Some(symbol) => {
                    if let Some((qty, reserved)) = self.position(account, symbol) {
                        out.push(Event::PositionChanged {
                            account,
                            symbol,
                            qty,
                            reserved,
                        });
                    }
                }
            }
        }
        self.touched = touched;
        self.touched_set = seen;
    }

    /// Checks the ledger invariants of the design (O(state); for tests and audits): cash and
    /// fees conserved except transfers, shares conserved by trading, nothing negative,
    /// reserved ≤ held, reservations equal what working orders hold, books never crossed.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.check(true)
    }

    /// Every ledger invariant of [`Engine::check_invariants`], and the books' but for the
    /// scans whose cost is their capacity rather than their content (empty ladder cells, the
    /// id ring): for runs that check after every command and the whole every so often.
    pub fn check_invariants_quick(&self) -> Result<(), String> {
        self.check(false)
    }

    fn check(&self, deep: bool) -> Result<(), String> {
        if self.rounding.is_negative() {
            return Err(format!("the house's rounding cash is {}", self.rounding));
        }
        let mut cash_total =
            i128::from(self.fees_collected.raw()) + i128::from(self.rounding.raw());
        let mut shares = vec![0u128; self.instruments.len()];
        let mut want_cash = vec![0i128; self.accounts.len()];
        let mut want_shares = vec![vec![0u64; self.instruments.len()]; self.accounts.len()];
        let mut ids: Vec<_> = self.orders.iter().collect();
        ids.sort_by_key(|(id, _)| **id);
        // Client order ids: every working order's is held, and the rest are ended orders'
        // within the retention.
        let mut working_ids = 0usize;
        for (id, w) in &ids {
            if let Some(cid) = w.client_order_id {
                working_ids += 1;
                if self.client_ids.get(&(w.account, cid)).map(|v| v.0) != Some(**id) {
                    return Err(format!("working order {id:?} lost its client order id"));
                }
            }
        }
        if self.ended_ids.len() > self.cfg.client_id_retention as usize
            || self.client_ids.len() > working_ids + self.ended_ids.len()
        {
            return Err(format!(
                "{} client order ids held for {working_ids} working and {} ended orders",
                self.client_ids.len(),
                self.ended_ids.len()
            ));
        }
        let pending = self.check_classes(&mut want_cash, &mut want_shares)?;
        for (id, w) in ids {
            let a = usize::try_from(w.account.get()).unwrap_or(usize::MAX) - 1;
            let exit = matches!(w.class, Some(Member::Leg(_)));
            match w.side {
                Side::Buy if !exit => want_cash[a] += i128::from(w.reserved_cash.raw()),
                Side::Sell if !exit => want_shares[a][w.instrument as usize] += w.leaves,
                _ => {
                    if w.reserved_cash != Cash::ZERO {
                        return Err(format!("exit {id:?} reserves cash of its own"));
                    }
                }
            }
            let resting = self.books[w.instrument as usize].order(*id);
            if self.exit_pending(w) {
                if resting.is_some() || w.held || w.wait.is_some() {
                    return Err(format!("held exit {id:?} is working"));
                }
            } else if w.held {
                let stop = w.stop_price.ok_or("held order without a stop price")?;
                let stops = &self.stops[w.instrument as usize];
                let key = Stops::key(w.side, stop, *id);
                let held = match w.side {
                    Side::Buy => stops.buys.contains(&key),
                    Side::Sell => stops.sells.contains(&key),
                };
                if resting.is_some() || !held {
                    return Err(format!("held stop {id:?} misplaced"));
                }
            } else if let Some((auction, key)) = w.wait {
                let line = self.waiting[w.instrument as usize].line(auction);
                if resting.is_some() || !line.contains(key, *id) {
                    return Err(format!("waiting order {id:?} misplaced"));
                }
            } else if resting.map(|o| o.qty.raw()) != Some(w.leaves) {
                return Err(format!(
                    "order {id:?} open {} but book has {resting:?}",
                    w.leaves
                ));
            }
        }
        for (n, a) in self.accounts.iter().enumerate() {
            // Cash below zero is a returned deposit's debt, with nothing reserved
            // (`check_funding`).
            if a.reserved.is_negative() || (a.reserved > a.cash && a.reserved != Cash::ZERO) {
                return Err(format!(
                    "account {} cash {} reserved {}",
                    n + 1,
                    a.cash,
                    a.reserved
                ));
            }
            if i128::from(a.reserved.raw()) != want_cash[n] {
                return Err(format!(
                    "account {} reserves {} but orders hold {}",
                    n + 1,
                    a.reserved,
                    want_cash[n]
                ));
            }
            cash_total += i128::from(a.cash.raw());
            let row = n * self.instruments.len();
            for (i, p) in self.positions[row..row + self.instruments.len()]
                .iter()
                .enumerate()
            {
                if p.reserved > p.qty || p.reserved != want_shares[n][i] {
                    return Err(format!(
                        "account {} position {i}: {p:?}, orders hold {}",
                        n + 1,
                        want_shares[n][i]
                    ));
                }
                shares[i] += u128::from(p.qty);
            }
        }
        self.check_funding()?;
        if cash_total != i128::from(self.net_cash_in.raw()) {
            return Err(format!(
                "cash + fees + rounding {cash_total} != deposits - withdrawals {}",
                self.net_cash_in
            ));
        }
        for (i, (&have, &brought)) in shares.iter().zip(&self.shares_in).enumerate() {
            if have != u128::from(brought) {
                return Err(format!(
                    "instrument {i}: {have} shares held, {brought} brought in"
                ));
            }
        }
        let mut resting = 0;
        for b in &self.books {
            if deep {
                b.check_invariants()?;
            } else {
                b.check_invariants_quick()?;
            }
            resting += b.len();
        }
        if !self.orders.consistent() {
            return Err("the order table's index and slots disagree".into());
        }
        // Trailing stops: held, of their type, with the stop their water mark gives; and
        // every held trailing stop is followed.
        let mut followed = 0usize;
        for (i, m) in self.trailing.iter().enumerate() {
            if !m.consistent() {
                return Err(format!(
                    "instrument {i}: trailing stops indexed inconsistently"
                ));
            }
            for (id, t) in m.iter() {
                let w = self
                    .orders
                    .get(id)
                    .filter(|w| w.held && w.order_type == OrderType::TrailingStop)
                    .ok_or_else(|| format!("trailing stop {id:?} is not a held trailing stop"))?;
                let tick = self.instruments[i].tick;
                if w.instrument as usize != i
                    || w.stop_price != super::trailing::stop_for(w.side, t.water, t.trail, tick)
                {
                    return Err(format!(
                        "trailing stop {id:?} stop {:?} for {t:?}",
                        w.stop_price
                    ));
                }
                followed += 1;
            }
        }
        let trailing_held = self
            .orders
            .values()
            .filter(|w| w.held && w.order_type == OrderType::TrailingStop)
            .count();
        if followed != trailing_held {
            return Err(format!(
                "{followed} trailing stops followed, {trailing_held} held"
            ));
        }
        let held: usize = self.stops.iter().map(Stops::len).sum();
        let waiting: usize = self.waiting.iter().map(Waiting::len).sum();
        if resting + held + waiting + pending != self.orders.len() {
            return Err(format!(
                "{resting} resting + {held} held + {waiting} waiting + {pending} exits held \
                 for their entries, {} working",
                self.orders.len()
            ));
        }
        for (i, b) in self.books.iter().enumerate() {
            // A book is in a call only during one, or while halted through its uncross.
            if b.in_call() && !self.session.is_call() && !self.halted[i] {
                return Err(format!("instrument {i} in a call outside one"));
            }
            // Between commands no held stop is one the last trade reached where stops
            // trigger (a command that trades triggers them all before it ends).
            if self.session == bourse_core::Session::Continuous
                && !b.in_call()
                && let Some(last) = b.last_trade_price()
                && let Some(id) = self.stops[i].next_triggered(last)
            {
                return Err(format!(
                    "instrument {i}: held stop {id:?} already reached by the last trade {last}"
                ));
            }
        }
        self.watchlists.check(|a| self.account(a).is_some())?;
        if let Some((_, id, _)) = self
            .watchlists
            .iter()
            .find(|(_, _, w)| w.symbols.iter().any(|s| !self.by_symbol.contains_key(s)))
        {
            return Err(format!("watchlist {id} holds a symbol that is not listed"));
        }
        Ok(())
    }
}
