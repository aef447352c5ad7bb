//! The exchange state machine: every book, every account, every rule. `apply` takes one
//! sequenced command and appends the events it causes; nothing else changes state.
//!
//! This file owns the state, its construction, the dispatch of commands, snapshots and the
//! state hash; each concern's handling lives in a child module as more `impl Engine`.

use std::collections::VecDeque;

use bourse_book::{BookConfig, BookEvent, NewOrder, OrderBook};
use bourse_core::{
    AccountId, CancelReason, Cash, ClientOrderId, Command, Divisor, Event, OrderId, OrderType,
    Price, Qty, RejectReason, Scopes, SelfTradePrevention, Seq, Sequenced, Session, Side, Symbol,
    TimeInForce,
};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::alerts::Alerts;
use crate::identity::Identity;
use crate::instrument::Instrument;
use crate::profiles::Profiles;
use crate::watchlists::Watchlists;

mod alerts;
mod classes;
mod funding;
mod identity;
mod ledger;
mod orders;
mod profiles;
mod risk;
mod sessions;
mod stops;
mod table;
mod trailing;
mod watchlists;

use classes::{Group, Member};
use sessions::{Auction, WaitLine, Waiting};
use stops::Stops;
use table::OrderTable;
use trailing::{Trailing, TrailingMap};

/// Exchange-wide rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineConfig {
    /// Fee charged to the resting side of a trade, in basis points of its value.
    pub maker_fee_bps: u32,
    /// Fee charged to the aggressor, in basis points of its value.
    pub taker_fee_bps: u32,
    /// How far through the best opposite price a market order may trade, in basis points.
    pub market_collar_bps: u32,
    /// Client order ids of ended orders remembered (most recently ended first), besides
    /// those of every working order; all are forgotten at the end of the day. A resend
    /// within them is answered with the original order; after, the id is free again.
    pub client_id_retention: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            maker_fee_bps: 0,
            taker_fee_bps: 0,
            market_collar_bps: 500,
            client_id_retention: 500_000,
        }
    }
}

/// Why an engine cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("a fee above 10,000 basis points would exceed the trade's value")]
    FeeTooHigh,
    #[error("no instruments")]
    NoInstruments,
    #[error("an instrument has a tick or lot that is not positive, or is fractional with a lot")]
    BadInstrument,
    #[error("snapshot is inconsistent: {0}")]
    BadSnapshot(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Position {
    qty: u64,
    /// Shares promised to working sell orders.
    reserved: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Account {
    cash: Cash,
    /// Cash promised to working buy orders.
    reserved: Cash,
    /// The last number handed out on the account's private stream (see
    /// [`Event::stream_account`]): part of the state, so a replay or a restore numbers the
    /// stream exactly as the first run did.
    stream: u64,
}

/// What the engine remembers of a working order, beyond what its book holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Working {
    account: AccountId,
    instrument: u32,
    side: Side,
    order_type: OrderType,
    limit_price: Option<Price>,
    client_order_id: Option<ClientOrderId>,
    cum_qty: u64,
    /// The cash its fills moved: their exact value rounded as a whole, up for a buy and
    /// down for a sell.
    cum_notional: Cash,
    /// What that rounding (and the fees') left over (see `Engine::settle`).
    round: ledger::Rounding,
    leaves: u64,
    /// Per-share price the cash reservation of a buy is computed at (its limit, or the
    /// market collar at arrival).
    reserve_px: Price,
    /// Cash (buys) still reserved for the open quantity.
    reserved_cash: Cash,
    tif: TimeInForce,
    stp: SelfTradePrevention,
    stop_price: Option<Price>,
    /// A stop order not yet triggered: held by the engine, not in the book.
    held: bool,
    /// May trade in pre-market and after-hours.
    extended_hours: bool,
    /// Waiting for an auction, not in the book: which, and its place in the line.
    wait: Option<(Auction, u64)>,
    /// Part of an order class (bracket, OCO, OTO), by the class's id.
    class: Option<Member>,
}

/// The state machine. Deterministic: the same commands give the same events and state.
#[derive(Debug)]
pub struct Engine {
    cfg: EngineConfig,
    instruments: Vec<Instrument>,
    /// Each instrument's (tick, lot) as division-free divisibility tests.
    steps: Vec<(Divisor, Divisor)>,
    by_symbol: FxHashMap<Symbol, u32>,
    books: Vec<OrderBook>,
    halted: Vec<bool>,
    stops: Vec<Stops>,
    /// Per instrument, the orders waiting for an auction.
    waiting: Vec<Waiting>,
    /// Per instrument, the trailing stops (held: also in `stops`) and what they follow.
    trailing: Vec<TrailingMap>,
    /// The next place in a waiting line (one counter for all: arrival order).
    next_wait: u64,
    session: Session,
    accounts: Vec<Account>,
    /// Every account's position in every instrument, account-major: one flat table, so a
    /// position is one load away (see [`Engine::pos_index`]).
    positions: Vec<Position>,
    orders: OrderTable,
    /// The order each client order id created, with the fingerprint of its request (a
    /// resend is told from a different order by it).
    client_ids: FxHashMap<(AccountId, ClientOrderId), (OrderId, u64)>,
    /// The client order ids of ended orders still remembered, oldest first (at most
    /// `cfg.client_id_retention`; emptied at the end of the day).
    ended_ids: VecDeque<((AccountId, ClientOrderId), OrderId)>,
    next_order_id: u64,
    next_trade_id: u64,
    fees_collected: Cash,
    /// The house's cash from rounding: a buyer's cash is its fills' value rounded up, a
    /// seller's rounded down, to the 1/10,000 dollar, and the difference is kept here.
    rounding: Cash,
    /// The notional order being submitted and its cap (it never outlives its command, so
    /// this is scratch, not state).
    notional_cap: Option<(OrderId, Cash)>,
    /// Net cash brought in (deposits − withdrawals) and shares brought in, for the
    /// conservation checks.
    net_cash_in: Cash,
    shares_in: Vec<u64>,
    /// Pending bank deposits: what they credited at once, and what is still to come (see
    /// `funding`), for the funding checks and the cash cap.
    unsettled_in: Cash,
    pending_in: Cash,
    identity: Identity,
    /// The last command applied.
    last_seq: Seq,
    scratch: Vec<BookEvent>,
    /// Accounts and positions a command touched, for the balance events at its end.
    touched: Vec<(AccountId, Option<Symbol>)>,
    /// The same as a set, for commands that touch many (scratch, not state).
    touched_set: rustc_hash::FxHashSet<(AccountId, Option<Symbol>)>,
    /// The stream numbers of the last applied command's events (see
    /// [`Engine::stream_numbers`]); scratch, not state.
    numbers: Vec<u64>,
    alerts: Alerts,
    watchlists: Watchlists,
    profiles: Profiles,
    /// Order classes with an order still working, by class id.
    groups: FxHashMap<OrderId, Group>,
    /// While a class's entry is being submitted: the class it enters (scratch).
    forming: Option<OrderId>,
    /// Classes whose entry ended during the command, to start or cancel their exits at its
    /// end (scratch: empty between commands).
    class_work: Vec<OrderId>,
}

/// A resting order as a snapshot keeps it; the list per book is in priority order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct RestingSnap {
    id: OrderId,
    owner: AccountId,
    side: Side,
    price: Price,
    qty: Qty,
    tif: TimeInForce,
    post_only: bool,
    stp: SelfTradePrevention,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct BookSnap {
    /// Bids best first in time priority, then asks likewise.
    orders: Vec<RestingSnap>,
    last_trade: Option<Price>,
    /// A call is running (the orders may cross).
    call: bool,
}

/// The whole engine state in a canonical form: every collection in a fixed order, so equal
/// states encode to equal bytes (the state hash is the digest of these bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The last command the state includes; replay resumes after it.
    pub seq: Seq,
    cfg: EngineConfig,
    instruments: Vec<Instrument>,
    books: Vec<BookSnap>,
    halted: Vec<bool>,
    session: Session,
    next_wait: u64,
    /// Every trailing stop's trail and water mark, sorted by id.
    trailing: Vec<(OrderId, Trailing)>,
    accounts: Vec<Account>,
    positions: Vec<Position>,
    /// Sorted by id.
    orders: Vec<(OrderId, Working)>,
    /// Sorted.
    client_ids: Vec<((AccountId, ClientOrderId), (OrderId, u64))>,
    /// Oldest first.
    ended_ids: Vec<((AccountId, ClientOrderId), OrderId)>,
    next_order_id: u64,
    next_trade_id: u64,
    fees_collected: Cash,
    rounding: Cash,
    net_cash_in: Cash,
    shares_in: Vec<u64>,
    unsettled_in: Cash,
    pending_in: Cash,
    identity: Identity,
    alerts: Alerts,
    watchlists: Watchlists,
    profiles: Profiles,
    /// Sorted by class id.
    groups: Vec<(OrderId, Group)>,
}

impl Snapshot {
    /// Takes each account's private-stream number from `other` (same accounts): for
    /// comparing two states apart from those numbers — a refused request changes nothing
    /// else, but its rejection is a message on the account's stream.
    pub fn streams_from(&mut self, other: &Snapshot) {
        for (a, b) in self.accounts.iter_mut().zip(&other.accounts) {
            a.stream = b.stream;
        }
    }
}

/// A digest of the engine's whole state.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StateHash(pub [u8; 32]);

impl std::fmt::Display for StateHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for StateHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StateHash({self})")
    }
}

/// Shorthand for a refusal.
fn reject(
    account: Option<AccountId>,
    order_id: Option<OrderId>,
    client_order_id: Option<ClientOrderId>,
    reason: RejectReason,
) -> Event {
    Event::Rejected {
        account,
        order_id,
        client_order_id,
        reason,
    }
}

/// A refusal of an account's request that names no order.
fn refuse(account: AccountId, reason: RejectReason) -> Event {
    reject(Some(account), None, None, reason)
}

impl Engine {
    /// A fresh exchange listing `instruments`.
    pub fn new(cfg: EngineConfig, instruments: Vec<Instrument>) -> Result<Self, EngineError> {
        if cfg.maker_fee_bps > 10_000 || cfg.taker_fee_bps > 10_000 {
            return Err(EngineError::FeeTooHigh);
        }
        if instruments.is_empty() {
            return Err(EngineError::NoInstruments);
        }
        let mut by_symbol = FxHashMap::default();
        let mut books = Vec::with_capacity(instruments.len());
        for (i, ins) in instruments.iter().enumerate() {
            by_symbol.insert(ins.symbol, u32::try_from(i).unwrap_or(u32::MAX));
            books.push(OrderBook::new(BookConfig {
                tick: ins.tick,
                lot: ins.qty_step(),
                market_collar_bps: cfg.market_collar_bps,
            }));
        }
        let n = instruments.len();
        // A fractional instrument trades any millionth: a lot would mean nothing.
        if instruments
            .iter()
            .any(|i| i.fractional && i.lot != bourse_core::Qty::ONE)
        {
            return Err(EngineError::BadInstrument);
        }
        let steps = instruments
            .iter()
            .map(|ins| {
                let tick = u64::try_from(ins.tick.raw()).ok().and_then(Divisor::new);
                Some((tick?, Divisor::new(ins.qty_step().raw())?))
            })
            .collect::<Option<Vec<_>>>()
            .ok_or(EngineError::BadInstrument)?;
        Ok(Self {
            cfg,
            instruments,
            steps,
            by_symbol,
            books,
            halted: vec![false; n],
            stops: vec![Stops::default(); n],
            waiting: vec![Waiting::default(); n],
            trailing: vec![TrailingMap::new(); n],
            next_wait: 1,
            session: Session::default(),
            accounts: Vec::new(),
            positions: Vec::new(),
            orders: OrderTable::default(),
            client_ids: FxHashMap::default(),
            ended_ids: VecDeque::new(),
            next_order_id: 1,
            next_trade_id: 1,
            fees_collected: Cash::ZERO,
            rounding: Cash::ZERO,
            notional_cap: None,
            net_cash_in: Cash::ZERO,
            shares_in: vec![0; n],
            unsettled_in: Cash::ZERO,
            pending_in: Cash::ZERO,
            identity: Identity::default(),
            last_seq: Seq(0),
            scratch: Vec::with_capacity(64),
            touched: Vec::with_capacity(16),
            touched_set: rustc_hash::FxHashSet::default(),
            numbers: Vec::with_capacity(16),
            alerts: Alerts::default(),
            watchlists: Watchlists::default(),
            profiles: Profiles::default(),
            groups: FxHashMap::default(),
            forming: None,
            class_work: Vec::new(),
        })
    }

    /// Sizes the order and client-order-id tables for `working_orders` working orders (and
    /// the client-order-id table for the ended ones it remembers besides), so that they do
    /// not rehash on the engine thread while it runs: a rehash of a million-entry table is
    /// a stall of milliseconds. Capacity only; the state and its hash do not change.
    ///
    /// The client-order-id table churns (an order ends, the oldest remembered id is
    /// forgotten), and a hash table under churn fills with tombstones; when it must clean
    /// them up while more than half full it doubles instead of rehashing in place. So it gets
    /// twice what it holds, and never grows while its contents stay within the sizes given
    /// (measured: a 30 M-order run whose table, sized for exactly its contents, doubled from
    /// 170 to 340 MB after 19.7 M orders). The order table holds working orders only, far
    /// fewer than half its size in the common case.
    pub fn reserve(&mut self, working_orders: usize) {
        let retained = self.cfg.client_id_retention as usize;
        self.orders
            .reserve(working_orders.saturating_sub(self.orders.len()));
        self.client_ids.reserve(
            working_orders
                .saturating_add(retained)
                .saturating_mul(2)
                .saturating_sub(self.client_ids.len()),
        );
        // One more than the window: an id is remembered before the oldest is forgotten.
        self.ended_ids
            .reserve((retained + 1).saturating_sub(self.ended_ids.len()));
    }

    #[must_use]
    pub fn instruments(&self) -> &[Instrument] {
        &self.instruments
    }

    #[must_use]
    pub fn book(&self, symbol: Symbol) -> Option<&OrderBook> {
        self.by_symbol
            .get(&symbol)
            .map(|&i| &self.books[i as usize])
    }

    /// The last command applied (0 before any).
    #[must_use]
    pub fn last_seq(&self) -> Seq {
        self.last_seq
    }

    /// The whole state, canonical and serializable.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        let mut orders: Vec<(OrderId, Working)> =
            self.orders.iter().map(|(k, v)| (*k, *v)).collect();
        orders.sort_unstable_by_key(|(id, _)| *id);
        let mut groups: Vec<(OrderId, Group)> = self
            .groups
            .iter()
            .map(|(g, grp)| (*g, grp.clone()))
            .collect();
        groups.sort_unstable_by_key(|(g, _)| *g);
        let mut client_ids: Vec<_> = self.client_ids.iter().map(|(k, v)| (*k, *v)).collect();
        client_ids.sort_unstable();
        Snapshot {
            seq: self.last_seq,
            cfg: self.cfg,
            instruments: self.instruments.clone(),
            books: self
                .books
                .iter()
                .map(|b| BookSnap {
                    orders: [Side::Buy, Side::Sell]
                        .into_iter()
                        .flat_map(|side| b.orders(side))
                        .map(|o| RestingSnap {
                            id: o.id,
                            owner: o.owner,
                            side: o.side,
                            price: o.price,
                            qty: o.qty,
                            tif: o.tif,
                            post_only: o.post_only,
                            stp: o.stp,
                        })
                        .collect(),
                    last_trade: b.last_trade_price(),
                    call: b.in_call(),
                })
                .collect(),
            halted: self.halted.clone(),
            session: self.session,
            next_wait: self.next_wait,
            trailing: self
                .trailing
                .iter()
                .flat_map(|m| m.iter().map(|(id, t)| (*id, *t)))
                .collect::<std::collections::BTreeMap<_, _>>()
                .into_iter()
                .collect(),
            accounts: self.accounts.clone(),
            positions: self.positions.clone(),
            orders,
            client_ids,
            ended_ids: self.ended_ids.iter().copied().collect(),
            next_order_id: self.next_order_id,
            next_trade_id: self.next_trade_id,
            fees_collected: self.fees_collected,
            rounding: self.rounding,
            net_cash_in: self.net_cash_in,
            shares_in: self.shares_in.clone(),
            unsettled_in: self.unsettled_in,
            pending_in: self.pending_in,
            identity: self.identity.clone(),
            alerts: self.alerts.clone(),
            watchlists: self.watchlists.clone(),
            profiles: self.profiles.clone(),
            groups,
        }
    }

    /// Rebuilds an engine from a snapshot; the result passes [`Engine::check_invariants`]
    /// or the snapshot is refused.
    pub fn restore(snap: Snapshot) -> Result<Self, EngineError> {
        let mut e = Self::new(snap.cfg, snap.instruments)?;
        let bad = |what: &str| EngineError::BadSnapshot(what.to_owned());
        if snap.books.len() != e.books.len()
            || snap.halted.len() != e.books.len()
            || snap.shares_in.len() != e.books.len()
        {
            return Err(bad("per-instrument lists do not match the instruments"));
        }
        let mut sink = Vec::new();
        for (book, bs) in e.books.iter_mut().zip(&snap.books) {
            if bs.call {
                book.begin_call();
            }
            for o in &bs.orders {
                book.submit(
                    &NewOrder {
                        id: o.id,
                        owner: o.owner,
                        side: o.side,
                        price: Some(o.price),
                        qty: o.qty,
                        tif: o.tif,
                        post_only: o.post_only,
                        stp: o.stp,
                        notional: None,
                    },
                    &mut sink,
                );
                if !matches!(sink.last(), Some(BookEvent::Rested { .. })) {
                    return Err(bad("a resting order did not rest"));
                }
                sink.clear();
            }
            book.set_last_trade_price(bs.last_trade);
        }
        // Each instrument's (open, close) lines as (place, id), built whole once all are
        // known: a snapshot lists orders by id, not by place.
        let mut lines = vec![(Vec::new(), Vec::new()); e.books.len()];
        for (id, w) in &snap.orders {
            if let (true, Some(stop)) = (w.held, w.stop_price) {
                let stops = e
                    .stops
                    .get_mut(w.instrument as usize)
                    .ok_or_else(|| bad("stop on an unknown instrument"))?;
                stops.map(w.side).insert(Stops::key(w.side, stop, *id));
            }
            if let Some((auction, key)) = w.wait {
                let (open, close) = lines
                    .get_mut(w.instrument as usize)
                    .ok_or_else(|| bad("waiting order on an unknown instrument"))?;
                match auction {
                    Auction::Open => open.push((key, *id)),
                    Auction::Close => close.push((key, *id)),
                }
            }
        }
        for (waiting, (open, close)) in e.waiting.iter_mut().zip(lines) {
            waiting.open = WaitLine::from_unordered(open);
            waiting.close = WaitLine::from_unordered(close);
        }
        for (id, t) in &snap.trailing {
            let w = snap
                .orders
                .binary_search_by_key(id, |(o, _)| *o)
                .ok()
                .map(|k| snap.orders[k].1)
                .ok_or_else(|| bad("trailing stop that is not working"))?;
            e.trailing
                .get_mut(w.instrument as usize)
                .ok_or_else(|| bad("trailing stop on an unknown instrument"))?
                .insert(*id, *t);
        }
        e.session = snap.session;
        e.next_wait = snap.next_wait;
        e.halted = snap.halted;
        if snap.positions.len() != snap.accounts.len() * e.instruments.len() {
            return Err(bad("positions do not match accounts × instruments"));
        }
        e.accounts = snap.accounts;
        e.positions = snap.positions;
        e.orders = snap.orders.into_iter().collect();
        e.client_ids = snap.client_ids.into_iter().collect();
        e.ended_ids = snap.ended_ids.into_iter().collect();
        e.next_order_id = snap.next_order_id;
        e.next_trade_id = snap.next_trade_id;
        e.fees_collected = snap.fees_collected;
        e.rounding = snap.rounding;
        e.net_cash_in = snap.net_cash_in;
        e.shares_in = snap.shares_in;
        e.unsettled_in = snap.unsettled_in;
        e.pending_in = snap.pending_in;
        e.identity = snap.identity;
        e.identity.reindex();
        e.profiles = snap.profiles;
        e.profiles.reindex();
        e.alerts = snap.alerts;
        e.watchlists = snap.watchlists;
        e.groups = snap.groups.into_iter().collect();
        e.last_seq = snap.seq;
        e.check_invariants().map_err(EngineError::BadSnapshot)?;
        Ok(e)
    }

    /// A digest of the whole state (BLAKE3 of the canonical snapshot): equal states, equal
    /// hashes; a replay of the same journal must reproduce it bit for bit.
    pub fn state_hash(&self) -> Result<StateHash, bourse_core::codec::CodecError> {
        let bytes = bourse_core::codec::encode(&self.snapshot())?;
        Ok(StateHash(*blake3::hash(&bytes).as_bytes()))
    }

    /// Applies one command, appending the events it causes to `out`.
    pub fn apply(&mut self, cmd: &Sequenced, out: &mut Vec<Event>) {
        let start = out.len();
        self.apply_command(cmd, out);
        if !self.class_work.is_empty() {
            self.run_class_work(out);
        }
        if !self.alerts.is_empty() {
            self.fire_alerts(start, out);
        }
        self.emit_balances(start, out);
        self.number(start, out);
    }

    /// Numbers the events on accounts' private streams, in the order they were emitted.
    fn number(&mut self, start: usize, out: &[Event]) {
        self.numbers.clear();
        for e in &out[start..] {
            let n = e
                .stream_account()
                .and_then(|a| self.account_mut(a))
                .map_or(0, |acc| {
                    acc.stream += 1;
                    acc.stream
                });
            self.numbers.push(n);
        }
    }

    /// The private-stream numbers of the events the last [`Engine::apply`] appended, one
    /// per event in order (0 for an event on no account's stream): what
    /// [`Tagged::aseq`](bourse_core::Tagged) carries.
    #[must_use]
    pub fn stream_numbers(&self) -> &[u64] {
        &self.numbers
    }

    /// The last [`Engine::apply`]'s `events` (what it appended), tagged with the command's
    /// `seq` and `ts` and numbered on their accounts' streams.
    pub fn tag<'a>(
        &'a self,
        seq: Seq,
        ts: bourse_core::UnixNanos,
        events: &'a [Event],
    ) -> impl Iterator<Item = bourse_core::Tagged> + 'a {
        events
            .iter()
            .zip(self.numbers.iter().copied().chain(std::iter::repeat(0)))
            .map(move |(&event, aseq)| bourse_core::Tagged {
                seq,
                ts,
                event,
                aseq,
            })
    }

    fn apply_command(&mut self, cmd: &Sequenced, out: &mut Vec<Event>) {
        self.last_seq = cmd.seq;
        match &cmd.cmd {
            Command::OpenAccount => {
                self.open_account(out);
            }
            Command::RegisterUser {
                username,
                password_hash,
                role,
            } => self.register_user(username, password_hash, *role, out),
            Command::CreateSession {
                account,
                token,
                expires_at,
            } => self.create_session(*account, *token, *expires_at, out),
            Command::OpenCustomerAccount { broker } => self.open_customer_account(*broker, out),
            Command::RegisterCustomerLogin {
                broker,
                account,
                username,
                password_hash,
            } => self.register_customer_login(*broker, *account, username, password_hash, out),
            Command::EndSession { token } => self.end_session(token, out),
            Command::CreateApiKey {
                account,
                secret,
                label,
            } => self.create_key(*account, *secret, label, Scopes::LEGACY, out),
            Command::CreateScopedApiKey {
                account,
                secret,
                label,
                scopes,
            } => self.create_scoped_key(*account, *secret, label, *scopes, out),
            Command::RevokeApiKey { account, key_id } => self.revoke_key(*account, *key_id, out),
            Command::Deposit { account, amount } => self.deposit(*account, *amount, out),
            Command::Withdraw { account, amount } => self.withdraw(*account, *amount, out),
            Command::DepositShares {
                account,
                symbol,
                qty,
            } => {
                self.deposit_shares(*account, *symbol, *qty, out);
            }
            Command::SubmitOrder(req) => self.submit(req, out),
            Command::SubmitClass(req) => self.submit_class(req, out),
            Command::LinkBank(b) => self.link_bank(cmd.ts, b, out),
            Command::VerifyBank {
                account,
                bank,
                digest,
            } => self.verify_bank(*account, *bank, digest, out),
            Command::UnlinkBank { account, bank } => self.unlink_bank(*account, *bank, out),
            Command::BankTransfer {
                account,
                bank,
                direction,
                amount,
                instant_limit,
                settle_at,
            } => self.bank_transfer(
                cmd.ts,
                *account,
                *bank,
                *direction,
                *amount,
                *instant_limit,
                *settle_at,
                out,
            ),
            Command::SettleTransfers => self.settle_transfers(cmd.ts, out),
            Command::ErasePerson { account } => self.erase_person(*account, out),
            Command::ReturnTransfer {
                account,
                transfer,
                code,
            } => self.return_transfer(cmd.ts, *account, *transfer, *code, out),
            // Journals from before fractions: whole shares, read as such.
            Command::SubmitOrderV1(req) => self.submit(&(*req).into(), out),
            Command::SubmitOrderV2(req) => self.submit(&(*req).into(), out),
            Command::SubmitClassV1(req) => self.submit_class(&(**req).into(), out),
            Command::DepositSharesV1 {
                account,
                symbol,
                qty,
            } => self.deposit_shares(*account, *symbol, (*qty).into(), out),
            Command::ReplaceOrderV1 {
                account,
                order_id,
                qty,
                price,
            } => self.replace(*account, *order_id, (*qty).into(), *price, out),
            Command::SetSession { session } => self.set_session(*session, out),
            Command::CancelOrder { account, order_id } => self.cancel(*account, *order_id, out),
            Command::ReplaceOrder {
                account,
                order_id,
                qty,
                price,
            } => {
                self.replace(*account, *order_id, *qty, *price, out);
            }
            Command::MassCancel { account, symbol } => self.mass_cancel(*account, *symbol, out),
            Command::CancelOnDisconnect { account, order_ids } => {
                for &id in order_ids {
                    self.cancel_for(*account, id, CancelReason::CancelOnDisconnect, out);
                }
            }
            Command::CreateAlert {
                account,
                symbol,
                condition,
                price,
            } => self.create_alert(*account, *symbol, *condition, *price, out),
            Command::DeleteAlert { account, alert_id } => {
                self.delete_alert(*account, *alert_id, out)
            }
            Command::HaltSymbol { symbol } => match self.by_symbol.get(symbol) {
                Some(&i) => {
                    self.halted[i as usize] = true;
                    out.push(Event::SymbolHalted { symbol: *symbol });
                }
                None => out.push(reject(None, None, None, RejectReason::UnknownSymbol)),
            },
            Command::ResumeSymbol { symbol } => match self.by_symbol.get(symbol) {
                Some(&i) => {
                    self.halted[i as usize] = false;
                    out.push(Event::SymbolResumed { symbol: *symbol });
                    self.resume_classes(i as usize);
                    self.uncross_on_resume(i as usize, out);
                }
                None => out.push(reject(None, None, None, RejectReason::UnknownSymbol)),
            },
            Command::EndOfDay => {
                for i in 0..self.books.len() {
                    let mut ev = std::mem::take(&mut self.scratch);
                    ev.clear();
                    self.books[i].expire_day_orders(&mut ev);
                    self.translate(&ev, None, out);
                    self.scratch = ev;
                    let day = |w: &Working| w.tif == TimeInForce::Day;
                    self.cancel_held_where(i, day, CancelReason::Expired, out);
                    self.cancel_waiting_where(i, day, CancelReason::Expired, out);
                }
                self.identity.prune_sessions(cmd.ts);
                // Client order ids are a day's: ended orders' ids are free again tomorrow.
                while let Some((key, id)) = self.ended_ids.pop_front() {
                    if self.client_ids.get(&key).is_some_and(|v| v.0 == id) {
                        self.client_ids.remove(&key);
                    }
                }
                out.push(Event::DayEnded { at: cmd.ts });
            }
            Command::CreateWatchlist { .. }
            | Command::UpdateWatchlist { .. }
            | Command::AddToWatchlist { .. }
            | Command::RemoveFromWatchlist { .. }
            | Command::DeleteWatchlist { .. } => self.apply_watchlist(&cmd.cmd, cmd.ts, out),
            Command::RegisterWithContact {
                username,
                password_hash,
                contact,
                code,
            } => self.register_with_contact(cmd.ts, username, password_hash, contact, code, out),
            Command::IssueCode {
                account,
                code,
                new_contact,
            } => self.issue_code(cmd.ts, *account, code, new_contact.as_deref(), out),
            Command::ConfirmCode {
                account,
                purpose,
                digest,
                password_hash,
            } => self.confirm_code(
                cmd.ts,
                *account,
                *purpose,
                digest,
                password_hash.as_deref(),
                out,
            ),
            Command::EnrolTotp {
                account,
                sealed_secret,
            } => self.enrol_totp(*account, sealed_secret, out),
            Command::EnableTotp {
                account,
                step,
                recovery,
            } => self.enable_totp(*account, *step, recovery, out),
            Command::DisableTotp { account, factor } => self.disable_totp(*account, *factor, out),
            Command::RenewRecoveryCodes {
                account,
                factor,
                recovery,
            } => self.renew_recovery(*account, *factor, recovery, out),
            Command::LogIn {
                account,
                token,
                expires_at,
                factor,
                device,
            } => self.log_in(
                *account,
                *token,
                *expires_at,
                *factor,
                device.id,
                &device.label,
                out,
            ),
            Command::SetNotificationPrefs { account, prefs } => {
                self.set_prefs(*account, prefs, out);
            }
            Command::CreateWebhook {
                account,
                url,
                events,
                sealed_secret,
            } => self.create_webhook(cmd.ts, *account, url, *events, sealed_secret, out),
            Command::DeleteWebhook {
                account,
                webhook_id,
            } => self.delete_webhook(*account, *webhook_id, out),
        }
    }
}
