//! The in-memory projection: orders, activities, balances, positions with their cost basis,
//! and the last prices that value them, folded from released events.
//!
//! Balances and position sizes are copied from the engine's `BalanceChanged` /
//! `PositionChanged`, never recomputed here; only what the engine does not track (cost
//! basis, P&L, valuations) is derived. Must never do I/O or block in `apply`: it runs on
//! the publisher thread.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Bound;

use bourse_core::{
    AccountId, Cash, ClientOrderId, Event, OrderId, Price, Qty, Seq, Side, Symbol, Tagged,
    UnixNanos,
};
use rustc_hash::FxHashMap;

use crate::orders::{OrderState, OrderView};
use crate::readmodel::QueryError;
use crate::readmodel::activity::Activity;
use crate::readmodel::ledger::Holding;
use crate::readmodel::views::{
    AccountView, ActivityFilter, ActivityView, MarketView, OrderFilter, Page, Percent,
    PortfolioView, PositionView, StatusFilter, cash,
};

/// How much history the in-memory model keeps.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Retention {
    /// Every working order, plus the `ended_orders` most recently ended orders, the
    /// `activities` newest activities and the `events` newest private-stream events across
    /// all accounts (older ones are forgotten, oldest first): the model serves history
    /// itself (the file-journal setup, where there is no database), in memory that stops
    /// growing once the window is full.
    Recent {
        ended_orders: usize,
        activities: usize,
        events: usize,
    },
    /// Only working orders, and no activities or stream events: history is served from
    /// PostgreSQL, and memory stays bounded by what is open. Balances, positions, cost
    /// basis, prices and each account's last stream number are kept in full either way.
    OpenOrders,
}

impl Retention {
    /// Nothing forgotten (tests, and tools that fold a whole journal).
    pub const EVERYTHING: Self = Self::Recent {
        ended_orders: usize::MAX,
        activities: usize::MAX,
        events: usize::MAX,
    };
}

impl Default for Retention {
    fn default() -> Self {
        Self::EVERYTHING
    }
}

/// Prices of one symbol as trades set them.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
struct Market {
    last: Option<Price>,
    last_at: Option<UnixNanos>,
    /// The last price when the last day ended.
    close: Option<Price>,
    day_volume: u64,
    volume: u64,
}

#[derive(Clone, Debug, Default)]
struct AccountBook {
    cash: Cash,
    reserved: Cash,
    /// Every order the model keeps for the account, by id (= age).
    orders: BTreeSet<OrderId>,
    /// The open ones among them.
    open: BTreeSet<OrderId>,
    /// Oldest first; ids ascend (seq, then event position).
    activities: VecDeque<Activity>,
    /// The account's private-stream events still kept, oldest first (`aseq` ascending,
    /// without gaps: the window forgets from the front).
    events: VecDeque<Tagged>,
    /// The last number on the account's private stream (kept under every retention).
    last_aseq: u64,
    positions: BTreeMap<Symbol, Holding>,
}

/// The read model. Fed every released command in seq order by [`ReadModel::apply`] (on the
/// publisher thread, under a write lock held for microseconds); queried by the HTTP layer
/// under read locks. Queries render views on the fly, so their cost is the page they
/// return.
#[derive(Debug, Default)]
pub struct ReadModel {
    retention: Retention,
    reference: FxHashMap<Symbol, Price>,
    orders: FxHashMap<OrderId, OrderState>,
    /// The newest order of each client order id (ids may be reused once an order is old).
    by_client: FxHashMap<(AccountId, ClientOrderId), OrderId>,
    accounts: FxHashMap<AccountId, AccountBook>,
    market: FxHashMap<Symbol, Market>,
    /// Ended orders still kept, in the order they ended (under [`Retention::Recent`]).
    ended: VecDeque<OrderId>,
    /// The owner of every activity kept, oldest first (under [`Retention::Recent`]): the
    /// front one is the oldest activity of all, the first to go.
    activity_owners: VecDeque<AccountId>,
    /// Likewise the owner of every stream event kept, oldest first.
    event_owners: VecDeque<AccountId>,
    last_seq: Seq,
}

/// A page of one account's private stream (see [`ReadModel::events`]).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct EventsPage {
    /// The events numbered above the cursor asked for, ascending, without gaps.
    pub events: Vec<Tagged>,
    /// The account's last stream number known when the page was read (0: none yet); the
    /// page reached the end when its last event has it.
    pub last_account_seq: u64,
}

impl ReadModel {
    /// An empty model; `reference` prices value positions before a symbol's first trade and
    /// stand for the previous close before the first end of day.
    #[must_use]
    pub fn new(reference: HashMap<Symbol, Price>, retention: Retention) -> Self {
        // Not pre-sized: the ended-order window's tables reach twice the window by
        // themselves early in a run (a table under churn doubles once when it must clean up
        // tombstones while more than half full, then only rehashes in place), and reserving
        // that up front made a small server touch a fresh page per order it recorded.
        Self {
            retention,
            reference: reference.into_iter().collect(),
            ..Self::default()
        }
    }

    /// The last command applied.
    #[must_use]
    pub const fn last_seq(&self) -> Seq {
        self.last_seq
    }

    #[must_use]
    pub const fn retention(&self) -> Retention {
        self.retention
    }

    /// Folds one released command's events in. Commands at or below [`Self::last_seq`] are
    /// ignored, so feeding a range again is harmless.
    pub fn apply(&mut self, seq: Seq, ts: UnixNanos, events: &[Tagged]) {
        if seq <= self.last_seq {
            return;
        }
        for (idx, t) in events.iter().enumerate() {
            let e = &t.event;
            self.apply_order(seq, ts, e);
            self.apply_stream(t);
            if let Retention::Recent { activities, .. } = self.retention
                && let Some(a) =
                    Activity::from_event(seq, ts, u32::try_from(idx).unwrap_or(u32::MAX), e)
            {
                self.keep_activity(a, activities);
            }
            self.apply_money(ts, e);
        }
        self.last_seq = seq;
    }

    fn book(&mut self, account: AccountId) -> &mut AccountBook {
        self.accounts.entry(account).or_default()
    }

    fn keep_activity(&mut self, a: Activity, limit: usize) {
        if limit != usize::MAX {
            self.activity_owners.push_back(a.account);
        }
        self.book(a.account).activities.push_back(a);
        while self.activity_owners.len() > limit {
            let Some(owner) = self.activity_owners.pop_front() else {
                break;
            };
            if let Some(b) = self.accounts.get_mut(&owner) {
                b.activities.pop_front();
                // An account whose share of the window shrank gives the room back, so the
                // per-account queues do not each keep their high-water mark.
                let (len, cap) = (b.activities.len(), b.activities.capacity());
                if cap > 64 && cap > len.saturating_mul(4) {
                    b.activities.shrink_to(len.saturating_mul(2));
                }
            }
        }
    }

    /// Numbers the account's stream on, and keeps the event in the window (under
    /// [`Retention::Recent`]).
    fn apply_stream(&mut self, t: &Tagged) {
        // Numbered 0: an account the engine does not know, so no stream to be on.
        let Some(account) = t.event.stream_account().filter(|_| t.aseq != 0) else {
            return;
        };
        let limit = match self.retention {
            Retention::Recent { events, .. } => events,
            Retention::OpenOrders => 0,
        };
        let b = self.book(account);
        b.last_aseq = b.last_aseq.max(t.aseq);
        if limit == 0 {
            return;
        }
        b.events.push_back(*t);
        if limit == usize::MAX {
            return;
        }
        self.event_owners.push_back(account);
        while self.event_owners.len() > limit {
            let Some(owner) = self.event_owners.pop_front() else {
                break;
            };
            if let Some(b) = self.accounts.get_mut(&owner) {
                b.events.pop_front();
                let (len, cap) = (b.events.len(), b.events.capacity());
                if cap > 64 && cap > len.saturating_mul(4) {
                    b.events.shrink_to(len.saturating_mul(2));
                }
            }
        }
    }

    /// Forgets an ended order: its record, its place in its account's list, and its client
    /// order id if no newer order took it over.
    fn forget_order(&mut self, id: OrderId) {
        let Some(o) = self.orders.remove(&id) else {
            return;
        };
        if let Some(b) = self.accounts.get_mut(&o.account) {
            b.orders.remove(&id);
        }
        if let Some(c) = o.client_order_id
            && self.by_client.get(&(o.account, c)) == Some(&id)
        {
            self.by_client.remove(&(o.account, c));
        }
    }

    fn apply_order(&mut self, seq: Seq, ts: UnixNanos, e: &Event) {
        let id = match *e {
            Event::OrderAccepted { .. } => {
                if let Some(o) = OrderState::accepted(seq, ts, e) {
                    let book = self.book(o.account);
                    book.orders.insert(o.id);
                    book.open.insert(o.id);
                    if let Some(c) = o.client_order_id {
                        self.by_client.insert((o.account, c), o.id);
                    }
                    self.orders.insert(o.id, o);
                }
                return;
            }
            Event::OrderTriggered { order_id, .. }
            | Event::OrderLinked { order_id, .. }
            | Event::OrderActivated { order_id, .. }
            | Event::OrderStopMoved { order_id, .. }
            | Event::OrderFilled { order_id, .. }
            | Event::OrderCanceled { order_id, .. }
            | Event::OrderReplaced { order_id, .. } => order_id,
            _ => return,
        };
        let Some(o) = self.orders.get_mut(&id) else {
            tracing::warn!(
                order = id.get(),
                seq = seq.0,
                "read model: event for an unknown order"
            );
            return;
        };
        o.apply(seq, ts, e);
        if o.status.is_open() {
            return;
        }
        let account = o.account;
        self.book(account).open.remove(&id);
        match self.retention {
            Retention::OpenOrders => self.forget_order(id),
            Retention::Recent { ended_orders, .. } if ended_orders != usize::MAX => {
                self.ended.push_back(id);
                while self.ended.len() > ended_orders {
                    let Some(old) = self.ended.pop_front() else {
                        break;
                    };
                    self.forget_order(old);
                }
            }
            Retention::Recent { .. } => {}
        }
    }

    fn apply_money(&mut self, ts: UnixNanos, e: &Event) {
        match *e {
            Event::AccountOpened { account } | Event::UserRegistered { account, .. } => {
                self.book(account);
            }
            Event::BalanceChanged {
                account,
                cash,
                reserved,
            } => {
                let b = self.book(account);
                b.cash = cash;
                b.reserved = reserved;
            }
            Event::PositionChanged {
                account,
                symbol,
                qty,
                reserved,
            } => {
                let h = self.book(account).positions.entry(symbol).or_default();
                h.qty = qty;
                h.reserved = reserved;
            }
            Event::OrderFilled {
                account,
                symbol,
                side,
                last_qty,
                fee,
                value,
                ..
            } => {
                let h = self.book(account).positions.entry(symbol).or_default();
                match side {
                    Side::Buy => h.buy(value, last_qty, fee),
                    Side::Sell => h.sell(value, last_qty, fee),
                }
            }
            Event::SharesDeposited {
                account,
                symbol,
                qty,
                ..
            } => {
                let at = self.mark(symbol);
                self.book(account)
                    .positions
                    .entry(symbol)
                    .or_default()
                    .deposit(qty, at);
            }
            Event::Trade {
                symbol, price, qty, ..
            } => {
                let m = self.market.entry(symbol).or_default();
                m.last = Some(price);
                m.last_at = Some(ts);
                m.day_volume = m.day_volume.saturating_add(qty.raw());
                m.volume = m.volume.saturating_add(qty.raw());
            }
            Event::DayEnded { .. } => {
                for m in self.market.values_mut() {
                    m.close = m.last.or(m.close);
                    m.day_volume = 0;
                }
            }
            _ => {}
        }
    }

    /// The price positions are valued at: the last trade, else the reference price.
    fn mark(&self, symbol: Symbol) -> Option<Price> {
        self.market
            .get(&symbol)
            .and_then(|m| m.last)
            .or_else(|| self.reference.get(&symbol).copied())
    }

    /// The previous close: the last price at the last end of day, else the reference price.
    fn previous_close(&self, symbol: Symbol) -> Option<Price> {
        self.market
            .get(&symbol)
            .and_then(|m| m.close)
            .or_else(|| self.reference.get(&symbol).copied())
    }

    // ---- orders ---------------------------------------------------------------------

    /// An order of `account` (`None` if it is another account's: ownership is checked
    /// here, not left to the caller).
    #[must_use]
    pub fn order(&self, account: AccountId, id: OrderId) -> Option<OrderView> {
        self.orders
            .get(&id)
            .filter(|o| o.account == account)
            .map(OrderState::view)
    }

    /// An order of `account` as its events left it (for a gateway that folds later events
    /// into it, such as a FIX session).
    #[must_use]
    pub fn order_state(&self, account: AccountId, id: OrderId) -> Option<OrderState> {
        self.orders
            .get(&id)
            .filter(|o| o.account == account)
            .cloned()
    }

    /// The account's working orders (held, new or partially filled), oldest first.
    #[must_use]
    pub fn open_order_states(&self, account: AccountId) -> Vec<OrderState> {
        self.accounts.get(&account).map_or_else(Vec::new, |b| {
            b.open
                .iter()
                .filter_map(|id| self.orders.get(id).cloned())
                .collect()
        })
    }

    /// The id of the account's newest order with this client order id.
    #[must_use]
    pub fn order_id_by_client(&self, account: AccountId, cid: ClientOrderId) -> Option<OrderId> {
        self.by_client.get(&(account, cid)).copied()
    }

    /// Any account's order, for the operator.
    #[must_use]
    pub fn order_any(&self, id: OrderId) -> Option<OrderView> {
        self.orders.get(&id).map(OrderState::view)
    }

    /// The account's newest order with this client order id.
    #[must_use]
    pub fn order_by_client_id(
        &self,
        account: AccountId,
        client_order_id: ClientOrderId,
    ) -> Option<OrderView> {
        let id = self.by_client.get(&(account, client_order_id))?;
        self.order(account, *id)
    }

    /// The account's orders, newest first, one page at a time.
    pub fn orders(
        &self,
        account: AccountId,
        filter: &OrderFilter,
    ) -> Result<Page<OrderView>, QueryError> {
        let before = filter.before()?;
        let limit = filter.limit();
        let Some(book) = self.accounts.get(&account) else {
            return Ok(Page::empty());
        };
        let set = match filter.status {
            StatusFilter::Open => &book.open,
            StatusFilter::Closed | StatusFilter::All => &book.orders,
        };
        let upper = before.map_or(Bound::Unbounded, Bound::Excluded);
        let mut page = Page::empty();
        let mut last = None;
        let matching = set
            .range((Bound::Unbounded, upper))
            .rev()
            .filter_map(|id| self.orders.get(id))
            .filter(|o| filter.status.matches(o.status))
            .filter(|o| filter.symbol.is_none_or(|s| s == o.symbol));
        for o in matching {
            if page.items.len() == limit {
                page.next = last.map(|id: OrderId| id.get().to_string());
                break;
            }
            last = Some(o.id);
            page.items.push(o.view());
        }
        Ok(page)
    }

    // ---- activities -----------------------------------------------------------------

    /// The account's activities, newest first, one page at a time (empty under
    /// [`Retention::OpenOrders`]).
    pub fn activities(
        &self,
        account: AccountId,
        filter: &ActivityFilter,
    ) -> Result<Page<ActivityView>, QueryError> {
        let before = filter.before()?;
        let limit = filter.limit();
        let Some(book) = self.accounts.get(&account) else {
            return Ok(Page::empty());
        };
        let end = before.map_or(book.activities.len(), |c| {
            book.activities.partition_point(|a| a.id < c)
        });
        let mut page = Page::empty();
        let matching = book
            .activities
            .range(..end)
            .rev()
            .filter(|a| filter.activity_type.is_none_or(|t| t == a.activity_type()));
        for a in matching {
            if page.items.len() == limit {
                page.next = page.items.last().map(|v: &ActivityView| v.id.to_string());
                break;
            }
            page.items.push(a.view());
        }
        Ok(page)
    }

    // ---- the private stream ---------------------------------------------------------

    /// The last number on the account's private stream (0: nothing yet).
    #[must_use]
    pub fn last_account_seq(&self, account: AccountId) -> u64 {
        self.accounts.get(&account).map_or(0, |b| b.last_aseq)
    }

    /// The account's stream events numbered above `after`, oldest first, at most `limit`.
    /// `after` beyond the account's last number is [`QueryError::CursorAhead`]; events after
    /// it that the window has forgotten are [`QueryError::EventsExpired`] (never a page
    /// with a hole). Under [`Retention::OpenOrders`] only `after` = the last number
    /// answers (empty); the events are PostgreSQL's.
    pub fn events(
        &self,
        account: AccountId,
        after: u64,
        limit: usize,
    ) -> Result<EventsPage, QueryError> {
        let Some(b) = self.accounts.get(&account) else {
            return check_cursor(after, 0).map(|()| EventsPage::default());
        };
        let latest = b.last_aseq;
        check_cursor(after, latest)?;
        let page = |events| EventsPage {
            events,
            last_account_seq: latest,
        };
        if after == latest {
            return Ok(page(Vec::new()));
        }
        let oldest = b.events.front().map_or(latest + 1, |t| t.aseq);
        if oldest > after + 1 {
            return Err(QueryError::EventsExpired {
                after,
                oldest,
                latest,
            });
        }
        let start = b.events.partition_point(|t| t.aseq <= after);
        Ok(page(b.events.range(start..).take(limit).copied().collect()))
    }

    // ---- account, positions, portfolio -------------------------------------------------

    /// Whether the model has seen the account.
    #[must_use]
    pub fn has_account(&self, account: AccountId) -> bool {
        self.accounts.contains_key(&account)
    }

    #[must_use]
    pub fn account(&self, account: AccountId) -> Option<AccountView> {
        let b = self.accounts.get(&account)?;
        let long = b
            .positions
            .iter()
            .map(|(s, h)| self.valuation(*s, h).market_value)
            .sum::<i128>();
        Some(AccountView {
            account_id: account,
            cash: b.cash,
            reserved_cash: b.reserved,
            buying_power: cash(i128::from(b.cash.raw()) - i128::from(b.reserved.raw())),
            // The engine knows the unsettled deposits (the route fills them in).
            unsettled_cash: Cash::ZERO,
            withdrawable_cash: cash(
                (i128::from(b.cash.raw()) - i128::from(b.reserved.raw())).max(0),
            ),
            long_market_value: cash(long),
            equity: cash(i128::from(b.cash.raw()) + long),
            seq: self.last_seq.0,
        })
    }

    /// The account's positions with shares (or shares promised), in symbol order.
    #[must_use]
    pub fn positions(&self, account: AccountId) -> Vec<PositionView> {
        self.accounts.get(&account).map_or_else(Vec::new, |b| {
            b.positions
                .iter()
                .filter(|(_, h)| !h.qty.is_zero() || !h.reserved.is_zero())
                .map(|(s, h)| self.position_view(*s, h))
                .collect()
        })
    }

    /// One position, also when it has been sold out (its realized P&L remains).
    #[must_use]
    pub fn position(&self, account: AccountId, symbol: Symbol) -> Option<PositionView> {
        let h = self.accounts.get(&account)?.positions.get(&symbol)?;
        Some(self.position_view(symbol, h))
    }

    #[must_use]
    pub fn portfolio(&self, account: AccountId) -> Option<PortfolioView> {
        let b = self.accounts.get(&account)?;
        let (mut mv, mut cost, mut realized, mut day, mut positions) = (0i128, 0, 0, 0, 0);
        for (s, h) in &b.positions {
            let v = self.valuation(*s, h);
            mv += v.market_value;
            cost += h.cost;
            realized += h.realized;
            day += v.day_change;
            positions += usize::from(!h.qty.is_zero());
        }
        let cash_raw = i128::from(b.cash.raw());
        let equity = cash_raw + mv;
        let unrealized = mv - cost;
        Some(PortfolioView {
            account_id: account,
            equity: cash(equity),
            cash: b.cash,
            buying_power: cash(cash_raw - i128::from(b.reserved.raw())),
            market_value: cash(mv),
            cost_basis: cash(cost),
            unrealized_pl: cash(unrealized),
            unrealized_pl_pct: Percent::of(unrealized, cost),
            realized_pl: cash(realized),
            total_pl: cash(realized + unrealized),
            day_change: cash(day),
            day_change_pct: Percent::of(day, equity - day).filter(|_| equity - day > 0),
            positions,
            seq: self.last_seq.0,
        })
    }

    /// Market data of a symbol the model knows (listed with a reference price, or traded).
    #[must_use]
    pub fn market(&self, symbol: Symbol) -> Option<MarketView> {
        let m = self.market.get(&symbol).copied();
        let reference = self.reference.get(&symbol).copied();
        if m.is_none() && reference.is_none() {
            return None;
        }
        let m = m.unwrap_or_default();
        Some(MarketView {
            symbol,
            last_price: m.last,
            reference_price: reference,
            previous_close: self.previous_close(symbol),
            day_volume: Qty::from_raw(m.day_volume),
            volume: Qty::from_raw(m.volume),
            last_trade_at: m.last_at.map(UnixNanos::to_rfc3339),
        })
    }

    /// The last trade price of a symbol.
    #[must_use]
    pub fn last_price(&self, symbol: Symbol) -> Option<Price> {
        self.market.get(&symbol).and_then(|m| m.last)
    }

    fn valuation(&self, symbol: Symbol, h: &Holding) -> Valuation {
        // Without a trade or a reference price the only price there is is what was paid.
        let mark = self.mark(symbol).or_else(|| h.avg_cost());
        let close = self.previous_close(symbol).or(mark);
        // Quantities are millionths: a value is qty × price / 1,000,000 (exact for whole
        // shares; a fraction's value rounds toward zero).
        let qty = i128::from(h.qty.raw());
        let per = i128::from(bourse_core::QTY_SCALE);
        let mark_raw = mark.map_or(0, |p| i128::from(p.raw()));
        let close_raw = close.map_or(0, |p| i128::from(p.raw()));
        Valuation {
            mark,
            close,
            market_value: qty * mark_raw / per,
            day_change: qty * (mark_raw - close_raw) / per,
            close_value: qty * close_raw / per,
        }
    }

    fn position_view(&self, symbol: Symbol, h: &Holding) -> PositionView {
        let v = self.valuation(symbol, h);
        let unrealized = v.market_value - h.cost;
        PositionView {
            symbol,
            qty: h.qty,
            qty_available: h.qty.saturating_sub(h.reserved),
            reserved_qty: h.reserved,
            avg_entry_price: h.avg_cost(),
            cost_basis: cash(h.cost),
            current_price: v.mark,
            lastday_price: v.close,
            market_value: cash(v.market_value),
            unrealized_pl: cash(unrealized),
            unrealized_pl_pct: Percent::of(unrealized, h.cost),
            realized_pl: cash(h.realized),
            day_change: cash(v.day_change),
            day_change_pct: Percent::of(v.day_change, v.close_value),
        }
    }
}

/// A cursor beyond the account's last number is not one this stream handed out.
fn check_cursor(after: u64, latest: u64) -> Result<(), QueryError> {
    if after > latest {
        return Err(QueryError::CursorAhead { after, latest });
    }
    Ok(())
}

/// A holding valued at the current and previous-close prices (`i128` in 1/10,000 $).
struct Valuation {
    mark: Option<Price>,
    close: Option<Price>,
    market_value: i128,
    day_change: i128,
    close_value: i128,
}
