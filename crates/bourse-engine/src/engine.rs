//! The exchange state machine: every book, every account, every rule. `apply` takes one
//! sequenced command and appends the events it causes; nothing else changes state.

use std::collections::BTreeMap;

use bourse_book::{BookConfig, BookEvent, NewOrder, OrderBook, Priority, Request};
use bourse_core::{
    AccountId, CancelReason, Cash, ClientOrderId, Command, Divisor, Event, Liquidity, OrderId,
    OrderRequest, OrderType, Price, Qty, RejectReason, Scopes, SecretHash, SelfTradePrevention,
    Seq, Sequenced, Side, Symbol, TimeInForce, TradeId,
};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::alerts::Alerts;
use crate::identity::{Identity, User};
use crate::instrument::Instrument;

/// Exchange-wide rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineConfig {
    /// Fee charged to the resting side of a trade, in basis points of its value.
    pub maker_fee_bps: u32,
    /// Fee charged to the aggressor, in basis points of its value.
    pub taker_fee_bps: u32,
    /// How far through the best opposite price a market order may trade, in basis points.
    pub market_collar_bps: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            maker_fee_bps: 0,
            taker_fee_bps: 0,
            market_collar_bps: 500,
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
    #[error("an instrument has a tick or lot that is not positive")]
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
    cum_notional: Cash,
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
}

/// One instrument's untriggered stop orders, in trigger order: buys by rising stop price
/// (the lowest is reached first as the price rises), sells by falling stop price, then by
/// arrival (order ids rise with time).
#[derive(Clone, Debug, Default)]
struct Stops {
    /// (stop price, id) → id.
    buys: BTreeMap<(i64, OrderId), OrderId>,
    /// (!stop price, id) → id; `!` turns "highest first" into ascending order.
    sells: BTreeMap<(i64, OrderId), OrderId>,
}

impl Stops {
    fn key(side: Side, stop: Price, id: OrderId) -> (i64, OrderId) {
        match side {
            Side::Buy => (stop.raw(), id),
            Side::Sell => (!stop.raw(), id),
        }
    }

    fn map(&mut self, side: Side) -> &mut BTreeMap<(i64, OrderId), OrderId> {
        match side {
            Side::Buy => &mut self.buys,
            Side::Sell => &mut self.sells,
        }
    }

    fn len(&self) -> usize {
        self.buys.len() + self.sells.len()
    }

    /// The next stop the last trade price `last` triggers, if any: of the first buy and the
    /// first sell in trigger order, whichever is triggered (both: the earlier arrival).
    fn next_triggered(&self, last: Price) -> Option<OrderId> {
        let buy = self
            .buys
            .keys()
            .next()
            .filter(|(p, _)| *p <= last.raw())
            .map(|k| k.1);
        let sell = self
            .sells
            .keys()
            .next()
            .filter(|(k, _)| !*k >= last.raw())
            .map(|k| k.1);
        match (buy, sell) {
            (Some(b), Some(s)) => Some(b.min(s)),
            (b, s) => b.or(s),
        }
    }
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
    accounts: Vec<Account>,
    /// Every account's position in every instrument, account-major: one flat table, so a
    /// position is one load away (see [`Engine::pos_index`]).
    positions: Vec<Position>,
    orders: FxHashMap<OrderId, Working>,
    /// The order each client order id created, with the fingerprint of its request (a
    /// resend is told from a different order by it).
    client_ids: FxHashMap<(AccountId, ClientOrderId), (OrderId, u64)>,
    next_order_id: u64,
    next_trade_id: u64,
    fees_collected: Cash,
    /// Net cash brought in (deposits − withdrawals) and shares brought in, for the
    /// conservation checks.
    net_cash_in: Cash,
    shares_in: Vec<u64>,
    identity: Identity,
    /// The last command applied.
    last_seq: Seq,
    scratch: Vec<BookEvent>,
    /// Accounts and positions a command touched, for the balance events at its end.
    touched: Vec<(AccountId, Option<Symbol>)>,
    alerts: Alerts,
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
    accounts: Vec<Account>,
    positions: Vec<Position>,
    /// Sorted by id.
    orders: Vec<(OrderId, Working)>,
    /// Sorted.
    client_ids: Vec<((AccountId, ClientOrderId), (OrderId, u64))>,
    next_order_id: u64,
    next_trade_id: u64,
    fees_collected: Cash,
    net_cash_in: Cash,
    shares_in: Vec<u64>,
    identity: Identity,
    alerts: Alerts,
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

/// How much the price may rise (×) over the higher of an instrument's reference and last
/// trade price while every share of it still values exactly in [`Cash`]; share deposits that
/// would break that are refused (`POSITION_LIMIT`).
const POSITION_HEADROOM: i64 = 100;

/// A fingerprint of everything a new order asks for, kept with its client order id so that
/// a resend (the same order again) is told from a different order reusing the id. FNV-1a
/// over a fixed byte layout: stable across builds and platforms, unlike a std hasher, so
/// snapshots and replays agree; 2^-64 odds that two different orders collide.
fn fingerprint(req: &OrderRequest) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(req.symbol.as_str().as_bytes());
    eat(&[0xff]);
    eat(&[
        match req.side {
            Side::Buy => 1,
            Side::Sell => 2,
        },
        match req.order_type {
            OrderType::Limit => 1,
            OrderType::Market => 2,
            OrderType::Stop => 3,
            OrderType::StopLimit => 4,
        },
        match req.tif {
            TimeInForce::Gtc => 1,
            TimeInForce::Day => 2,
            TimeInForce::Ioc => 3,
            TimeInForce::Fok => 4,
        },
        u8::from(req.post_only),
        match req.stp {
            SelfTradePrevention::CancelIncoming => 1,
            SelfTradePrevention::CancelResting => 2,
            SelfTradePrevention::CancelBoth => 3,
        },
    ]);
    eat(&req.qty.get().to_le_bytes());
    for p in [req.limit_price, req.stop_price] {
        match p {
            Some(p) => {
                eat(&[1]);
                eat(&p.raw().to_le_bytes());
            }
            None => eat(&[0]),
        }
    }
    h
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
                lot: ins.lot,
                market_collar_bps: cfg.market_collar_bps,
            }));
        }
        let n = instruments.len();
        let steps = instruments
            .iter()
            .map(|ins| {
                let tick = u64::try_from(ins.tick.raw()).ok().and_then(Divisor::new);
                Some((tick?, Divisor::new(ins.lot.get())?))
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
            accounts: Vec::new(),
            positions: Vec::new(),
            orders: FxHashMap::default(),
            client_ids: FxHashMap::default(),
            next_order_id: 1,
            next_trade_id: 1,
            fees_collected: Cash::ZERO,
            net_cash_in: Cash::ZERO,
            shares_in: vec![0; n],
            identity: Identity::default(),
            last_seq: Seq(0),
            scratch: Vec::with_capacity(64),
            touched: Vec::with_capacity(16),
            alerts: Alerts::default(),
        })
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
        Some((Qty::new(p.qty), Qty::new(p.reserved)))
    }

    #[must_use]
    pub fn fees_collected(&self) -> Cash {
        self.fees_collected
    }

    #[must_use]
    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }

    fn account(&self, id: AccountId) -> Option<&Account> {
        let i = usize::try_from(id.get()).ok()?.checked_sub(1)?;
        self.accounts.get(i)
    }

    /// Where `account`'s position in instrument `i` lives in `positions`.
    #[inline]
    fn pos_index(&self, account: AccountId, i: usize) -> Option<usize> {
        let a = usize::try_from(account.get()).ok()?.checked_sub(1)?;
        (a < self.accounts.len()).then(|| a * self.instruments.len() + i)
    }

    fn account_mut(&mut self, id: AccountId) -> Option<&mut Account> {
        let i = usize::try_from(id.get()).ok()?.checked_sub(1)?;
        self.accounts.get_mut(i)
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
                })
                .collect(),
            halted: self.halted.clone(),
            accounts: self.accounts.clone(),
            positions: self.positions.clone(),
            orders,
            client_ids,
            next_order_id: self.next_order_id,
            next_trade_id: self.next_trade_id,
            fees_collected: self.fees_collected,
            net_cash_in: self.net_cash_in,
            shares_in: self.shares_in.clone(),
            identity: self.identity.clone(),
            alerts: self.alerts.clone(),
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
        for (id, w) in &snap.orders {
            if let (true, Some(stop)) = (w.held, w.stop_price) {
                let stops = e
                    .stops
                    .get_mut(w.instrument as usize)
                    .ok_or_else(|| bad("stop on an unknown instrument"))?;
                stops.map(w.side).insert(Stops::key(w.side, stop, *id), *id);
            }
        }
        e.halted = snap.halted;
        if snap.positions.len() != snap.accounts.len() * e.instruments.len() {
            return Err(bad("positions do not match accounts × instruments"));
        }
        e.accounts = snap.accounts;
        e.positions = snap.positions;
        e.orders = snap.orders.into_iter().collect();
        e.client_ids = snap.client_ids.into_iter().collect();
        e.next_order_id = snap.next_order_id;
        e.next_trade_id = snap.next_trade_id;
        e.fees_collected = snap.fees_collected;
        e.net_cash_in = snap.net_cash_in;
        e.shares_in = snap.shares_in;
        e.identity = snap.identity;
        e.alerts = snap.alerts;
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
        if !self.alerts.is_empty() {
            self.fire_alerts(start, out);
        }
        self.emit_balances(start, out);
    }

    /// Fires the price alerts met by the command's trades (per symbol: its lowest and
    /// highest trade price).
    fn fire_alerts(&mut self, start: usize, out: &mut Vec<Event>) {
        let mut spans: Vec<(Symbol, Price, Price)> = Vec::new();
        for e in &out[start..] {
            if let Event::Trade { symbol, price, .. } = *e {
                match spans.iter_mut().find(|s| s.0 == symbol) {
                    Some(s) => {
                        s.1 = s.1.min(price);
                        s.2 = s.2.max(price);
                    }
                    None => spans.push((symbol, price, price)),
                }
            }
        }
        for (symbol, low, high) in spans {
            self.alerts.on_trades(symbol, low, high, out);
        }
    }

    /// Live price alerts.
    #[must_use]
    pub fn alerts(&self) -> &Alerts {
        &self.alerts
    }

    /// Ends a command's events with the balances and positions it touched, so consumers
    /// (account views, the private `account` channel) show the engine's own numbers.
    fn emit_balances(&mut self, start: usize, out: &mut Vec<Event>) {
        let mut touched = std::mem::take(&mut self.touched);
        touched.clear();
        let mut touch = |t: (AccountId, Option<Symbol>)| {
            if !touched.contains(&t) {
                touched.push(t);
            }
        };
        for e in &out[start..] {
            match *e {
                Event::CashDeposited { account, .. } | Event::CashWithdrawn { account, .. } => {
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
            } => {
                if let Err(reason) = self.identity.check_new_user(username) {
                    return out.push(reject(None, None, None, reason));
                }
                let account = self.open_account(out);
                let user = User {
                    account,
                    password_hash: password_hash.clone(),
                    role: *role,
                };
                self.identity.add_user(username, user);
                out.push(Event::UserRegistered {
                    account,
                    role: *role,
                });
            }
            Command::CreateSession {
                account,
                token,
                expires_at,
            } => {
                if self.account(*account).is_none() {
                    return out.push(refuse(*account, RejectReason::UnknownAccount));
                }
                self.identity.add_session(*token, *account, *expires_at);
                out.push(Event::SessionCreated {
                    account: *account,
                    expires_at: *expires_at,
                });
            }
            Command::EndSession { token } => match self.identity.end_session(token) {
                Some(account) => out.push(Event::SessionEnded { account }),
                None => out.push(reject(None, None, None, RejectReason::UnknownSession)),
            },
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
            } => {
                // The gateway sends only known, non-empty scopes; whatever a journal holds,
                // a key never gets more than it names, and never nothing.
                let scopes = Scopes::from_bits(scopes.bits());
                let scopes = if scopes.is_empty() {
                    Scopes::READ
                } else {
                    scopes
                };
                self.create_key(*account, *secret, label, scopes, out);
            }
            Command::RevokeApiKey { account, key_id } => {
                if self.identity.revoke_key(*account, *key_id) {
                    out.push(Event::ApiKeyRevoked {
                        account: *account,
                        key_id: *key_id,
                    });
                } else {
                    out.push(refuse(*account, RejectReason::UnknownApiKey));
                }
            }
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
            Command::CreateAlert {
                account,
                symbol,
                condition,
                price,
            } => {
                if self.account(*account).is_none() {
                    return out.push(refuse(*account, RejectReason::UnknownAccount));
                }
                if !self.by_symbol.contains_key(symbol) {
                    return out.push(refuse(*account, RejectReason::UnknownSymbol));
                }
                match self.alerts.create(*account, *symbol, *condition, *price) {
                    Ok(e) => out.push(e),
                    Err(reason) => out.push(refuse(*account, reason)),
                }
            }
            Command::DeleteAlert { account, alert_id } => {
                match self.alerts.delete(*account, *alert_id) {
                    Ok(e) => out.push(e),
                    Err(reason) => out.push(refuse(*account, reason)),
                }
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
                }
                self.identity.prune_sessions(cmd.ts);
                out.push(Event::DayEnded { at: cmd.ts });
            }
        }
    }

    fn open_account(&mut self, out: &mut Vec<Event>) -> AccountId {
        self.accounts.push(Account {
            cash: Cash::ZERO,
            reserved: Cash::ZERO,
        });
        self.positions.resize(
            self.accounts.len() * self.instruments.len(),
            Position::default(),
        );
        let account = AccountId::new(self.accounts.len() as u64);
        out.push(Event::AccountOpened { account });
        account
    }

    /// Users, sessions and API keys, for the gateway's lookups.
    #[must_use]
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    fn create_key(
        &mut self,
        account: AccountId,
        secret: SecretHash,
        label: &str,
        scopes: Scopes,
        out: &mut Vec<Event>,
    ) {
        if self.account(account).is_none() {
            return out.push(refuse(account, RejectReason::UnknownAccount));
        }
        let key_id = self
            .identity
            .add_key(account, secret, label.to_owned(), scopes);
        out.push(Event::ApiKeyCreated {
            account,
            key_id,
            scopes,
        });
    }

    fn deposit(&mut self, account: AccountId, amount: Cash, out: &mut Vec<Event>) {
        if !amount.is_positive() {
            return out.push(refuse(account, RejectReason::InvalidAmount));
        }
        let Some(net) = self.net_cash_in.checked_add(amount) else {
            return out.push(refuse(account, RejectReason::ArithmeticOverflow));
        };
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

    fn withdraw(&mut self, account: AccountId, amount: Cash, out: &mut Vec<Event>) {
        if !amount.is_positive() {
            return out.push(refuse(account, RejectReason::InvalidAmount));
        }
        let Some(a) = self.account_mut(account) else {
            return out.push(refuse(account, RejectReason::UnknownAccount));
        };
        let available = a.cash.checked_sub(a.reserved).unwrap_or(Cash::ZERO);
        if amount > available {
            return out.push(refuse(account, RejectReason::InsufficientFunds));
        }
        a.cash = a.cash.checked_sub(amount).unwrap_or(Cash::ZERO);
        let balance = a.cash;
        self.net_cash_in = self.net_cash_in.checked_sub(amount).unwrap_or(Cash::ZERO);
        out.push(Event::CashWithdrawn {
            account,
            amount,
            balance,
        });
    }

    fn deposit_shares(
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
        let Some(total) = self.shares_in[i].checked_add(qty.get()) else {
            return out.push(refuse(account, RejectReason::ArithmeticOverflow));
        };
        let Some(pi) = self.pos_index(account, i) else {
            return out.push(refuse(account, RejectReason::UnknownAccount));
        };
        let pos = &self.positions[pi];
        let Some(held) = pos.qty.checked_add(qty.get()) else {
            return out.push(refuse(account, RejectReason::ArithmeticOverflow));
        };
        // Every share of the symbol must stay valuable exactly (market value, equity) even
        // after the price rises a hundredfold from the higher of reference and last trade.
        let px = self.books[i]
            .last_trade_price()
            .map_or(self.instruments[i].reference_price, |p| {
                p.max(self.instruments[i].reference_price)
            });
        let valuable = i64::try_from(total)
            .ok()
            .and_then(|t| px.raw().checked_mul(POSITION_HEADROOM)?.checked_mul(t))
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
            position: Qty::new(held),
        });
    }

    /// The price band around the last trade (or the reference price before any trade).
    fn in_band(&self, i: usize, price: Price) -> bool {
        let ins = &self.instruments[i];
        let anchor = self.books[i]
            .last_trade_price()
            .unwrap_or(ins.reference_price);
        let diff = i128::from(price.raw()) - i128::from(anchor.raw());
        diff.abs() * 100 <= i128::from(anchor.raw()) * i128::from(ins.band_pct)
    }

    /// Cash to reserve for `qty` shares bought at up to `px`: the value, plus the worst fee
    /// and one raw unit per share, which covers the rounding of a fee charged fill by fill.
    fn buy_reserve(&self, px: Price, qty: u64) -> Option<Cash> {
        let value = px.notional(Qty::new(qty))?;
        let bps = self.cfg.maker_fee_bps.max(self.cfg.taker_fee_bps);
        if bps == 0 {
            return Some(value);
        }
        let fee = value.bps_ceil(bps)?;
        value
            .checked_add(fee)?
            .checked_add(Cash::from_raw(i64::try_from(qty).ok()?))
    }

    fn submit(&mut self, req: &OrderRequest, out: &mut Vec<Event>) {
        let rej = |reason| reject(Some(req.account), None, req.client_order_id, reason);
        let Some(&ii) = self.by_symbol.get(&req.symbol) else {
            return out.push(rej(RejectReason::UnknownSymbol));
        };
        let i = ii as usize;
        if self.account(req.account).is_none() {
            return out.push(rej(RejectReason::UnknownAccount));
        }
        if let Some(cid) = req.client_order_id
            && let Some(&(original, fp)) = self.client_ids.get(&(req.account, cid))
        {
            // The same order sent again is a resend (answered with the original); another
            // order under a used id is refused, naming the original.
            let reason = if fp == fingerprint(req) {
                RejectReason::ResentOrder
            } else {
                RejectReason::DuplicateClientOrderId
            };
            return out.push(reject(Some(req.account), Some(original), Some(cid), reason));
        }
        if self.halted[i] {
            return out.push(rej(RejectReason::SymbolHalted));
        }
        if let Err(reason) = self.check_order(i, req) {
            return out.push(rej(reason));
        }
        let book = &self.books[i];
        let reserve_px = match (req.limit_price, req.stop_price) {
            (Some(p), _) => p,
            // A stop (market) order is protected like a market order, from its stop price:
            // it will trade no further than the collar beyond it.
            (None, Some(stop)) => match req.side {
                Side::Buy => stop
                    .offset_bps(i64::from(self.cfg.market_collar_bps))
                    .map_or(stop, |p| p.floor_to(self.instruments[i].tick).max(stop)),
                Side::Sell => stop,
            },
            (None, None) => match book.market_collar(req.side) {
                Some(p) => p,
                None => return out.push(rej(RejectReason::NoLiquidity)),
            },
        };
        let ins = &self.instruments[i];
        match reserve_px.notional(req.qty) {
            Some(v) if v <= ins.max_notional => {}
            Some(_) => return out.push(rej(RejectReason::MaxNotionalExceeded)),
            None => return out.push(rej(RejectReason::ArithmeticOverflow)),
        }
        // Pre-trade risk: a cash account buys with cash it has and sells shares it holds.
        let mut reserved_cash = Cash::ZERO;
        match req.side {
            Side::Buy => {
                let Some(need) = self.buy_reserve(reserve_px, req.qty.get()) else {
                    return out.push(rej(RejectReason::ArithmeticOverflow));
                };
                let Some(a) = self.account(req.account) else {
                    return;
                };
                let available = a.cash.checked_sub(a.reserved).unwrap_or(Cash::ZERO);
                if need > available {
                    return out.push(rej(RejectReason::InsufficientBuyingPower));
                }
                reserved_cash = need;
            }
            Side::Sell => {
                let Some(pi) = self.pos_index(req.account, i) else {
                    return;
                };
                let p = &self.positions[pi];
                if p.qty - p.reserved < req.qty.get() {
                    return out.push(rej(RejectReason::InsufficientPosition));
                }
            }
        }
        let order_id = OrderId::new(self.next_order_id);
        self.next_order_id += 1;
        // Reserve first: the book's events release and settle against it.
        match req.side {
            Side::Buy => {
                if let Some(a) = self.account_mut(req.account) {
                    a.reserved = a.reserved.checked_add(reserved_cash).unwrap_or(a.cash);
                }
            }
            Side::Sell => {
                if let Some(pi) = self.pos_index(req.account, i) {
                    self.positions[pi].reserved += req.qty.get();
                }
            }
        }
        self.orders.insert(
            order_id,
            Working {
                account: req.account,
                instrument: ii,
                side: req.side,
                order_type: req.order_type,
                limit_price: req.limit_price,
                client_order_id: req.client_order_id,
                cum_qty: 0,
                cum_notional: Cash::ZERO,
                leaves: req.qty.get(),
                reserve_px,
                reserved_cash,
                tif: req.tif,
                stp: req.stp,
                stop_price: req.stop_price,
                held: req.stop_price.is_some(),
            },
        );
        if let Some(cid) = req.client_order_id {
            self.client_ids
                .insert((req.account, cid), (order_id, fingerprint(req)));
        }
        let accepted = Event::OrderAccepted {
            order_id,
            account: req.account,
            symbol: req.symbol,
            client_order_id: req.client_order_id,
            side: req.side,
            order_type: req.order_type,
            tif: req.tif,
            qty: req.qty,
            limit_price: req.limit_price,
            stop_price: req.stop_price,
        };
        if let Some(stop) = req.stop_price {
            out.push(accepted);
            self.stops[i]
                .map(req.side)
                .insert(Stops::key(req.side, stop, order_id), order_id);
            // Already through its stop price: it triggers at once.
            self.run_triggers(i, out);
            return;
        }
        let mut ev = std::mem::take(&mut self.scratch);
        ev.clear();
        self.books[i].submit(
            &NewOrder {
                id: order_id,
                owner: req.account,
                side: req.side,
                price: req.limit_price,
                qty: req.qty,
                tif: req.tif,
                post_only: req.post_only,
                stp: req.stp,
            },
            &mut ev,
        );
        self.translate(&ev, Some(accepted), out);
        self.scratch = ev;
        self.run_triggers(i, out);
    }

    /// Triggers every held stop the last trade price has reached, one at a time in
    /// stop-price-then-time order, each entering the book at once; a trade a triggered stop
    /// makes can trigger more, all within the command that caused the first trade.
    fn run_triggers(&mut self, i: usize, out: &mut Vec<Event>) {
        while let Some(last) = self.books[i].last_trade_price() {
            let Some(id) = self.stops[i].next_triggered(last) else {
                return;
            };
            self.trigger(i, id, last, out);
        }
    }

    fn trigger(&mut self, i: usize, id: OrderId, last: Price, out: &mut Vec<Event>) {
        let Some(w) = self.orders.get_mut(&id) else {
            return;
        };
        w.held = false;
        let w = *w;
        if let Some(stop) = w.stop_price {
            self.stops[i]
                .map(w.side)
                .remove(&Stops::key(w.side, stop, id));
        }
        let symbol = self.instruments[i].symbol;
        out.push(Event::OrderTriggered {
            order_id: id,
            account: w.account,
            symbol,
            last_price: last,
        });
        // A stop-limit enters at its limit; a stop (market) order as an IOC bounded by the
        // market collar at trigger time, and for a buy also by the price it reserved cash at.
        let (limit, tif) = match w.order_type {
            OrderType::StopLimit => (w.limit_price, w.tif),
            _ => {
                let collar = self.books[i].market_collar(w.side);
                let limit = match w.side {
                    Side::Buy => collar.map(|c| c.min(w.reserve_px)),
                    Side::Sell => collar,
                };
                (limit, TimeInForce::Ioc)
            }
        };
        let Some(limit) = limit else {
            self.finish(id);
            out.push(Event::OrderCanceled {
                order_id: id,
                account: w.account,
                symbol,
                side: w.side,
                qty: Qty::new(w.leaves),
                resting_price: None,
                reason: CancelReason::MarketRemainder,
            });
            return;
        };
        let mut ev = std::mem::take(&mut self.scratch);
        ev.clear();
        self.books[i].submit(
            &NewOrder {
                id,
                owner: w.account,
                side: w.side,
                price: Some(limit),
                qty: Qty::new(w.leaves),
                tif,
                post_only: false,
                stp: w.stp,
            },
            &mut ev,
        );
        self.translate(&ev, None, out);
        self.scratch = ev;
    }

    /// Cancels a held (untriggered) stop order.
    fn cancel_held(&mut self, id: OrderId, reason: CancelReason, out: &mut Vec<Event>) {
        let Some(w) = self.orders.get(&id).copied().filter(|w| w.held) else {
            return;
        };
        if let Some(stop) = w.stop_price {
            self.stops[w.instrument as usize]
                .map(w.side)
                .remove(&Stops::key(w.side, stop, id));
        }
        self.finish(id);
        out.push(Event::OrderCanceled {
            order_id: id,
            account: w.account,
            symbol: self.instruments[w.instrument as usize].symbol,
            side: w.side,
            qty: Qty::new(w.leaves),
            resting_price: None,
            reason,
        });
    }

    /// Held stops of instrument `i` (of `account`, or all), in trigger order, then their
    /// cancellation: the ids are collected first because cancelling edits the maps.
    fn cancel_held_where(
        &mut self,
        i: usize,
        pred: impl Fn(&Working) -> bool,
        reason: CancelReason,
        out: &mut Vec<Event>,
    ) {
        let ids: Vec<OrderId> = self.stops[i]
            .buys
            .values()
            .chain(self.stops[i].sells.values())
            .copied()
            .filter(|id| self.orders.get(id).is_some_and(&pred))
            .collect();
        for id in ids {
            self.cancel_held(id, reason, out);
        }
    }

    /// Instrument rules a new order must meet.
    fn check_order(&self, i: usize, req: &OrderRequest) -> Result<(), RejectReason> {
        self.check_qty(i, req.qty)?;
        let needs_limit = matches!(req.order_type, OrderType::Limit | OrderType::StopLimit);
        let needs_stop = matches!(req.order_type, OrderType::Stop | OrderType::StopLimit);
        if needs_limit != req.limit_price.is_some() || needs_stop != req.stop_price.is_some() {
            return Err(RejectReason::InvalidOrder);
        }
        if req.post_only && req.order_type != OrderType::Limit {
            return Err(RejectReason::InvalidOrder);
        }
        for p in [req.limit_price, req.stop_price].into_iter().flatten() {
            self.check_price(i, p, true)?;
        }
        Ok(())
    }

    /// Quantity rules: positive, on the lot, within the maximum.
    fn check_qty(&self, i: usize, qty: Qty) -> Result<(), RejectReason> {
        let ins = &self.instruments[i];
        if qty.is_zero() {
            return Err(RejectReason::InvalidQuantity);
        }
        if !self.steps[i].1.divides(qty.get()) {
            return Err(RejectReason::QtyOffLot);
        }
        if qty > ins.max_qty {
            return Err(RejectReason::MaxQtyExceeded);
        }
        Ok(())
    }

    /// Price rules: positive, on the tick and, when `banded`, inside the price band.
    fn check_price(&self, i: usize, p: Price, banded: bool) -> Result<(), RejectReason> {
        if !p.is_positive() {
            return Err(RejectReason::InvalidPrice);
        }
        // Positive here, so the conversion is exact.
        if !self.steps[i].0.divides(p.raw().unsigned_abs()) {
            return Err(RejectReason::PriceOffTick);
        }
        if banded && !self.in_band(i, p) {
            return Err(RejectReason::PriceOutOfBand);
        }
        Ok(())
    }

    fn cancel(&mut self, account: AccountId, order_id: OrderId, out: &mut Vec<Event>) {
        let Some(w) = self.orders.get(&order_id).filter(|w| w.account == account) else {
            // Someone else's order is as unknown to the caller as a missing one.
            return out.push(reject(
                Some(account),
                Some(order_id),
                None,
                RejectReason::UnknownOrder,
            ));
        };
        let i = w.instrument as usize;
        if w.held {
            return self.cancel_held(order_id, CancelReason::Requested, out);
        }
        let mut ev = std::mem::take(&mut self.scratch);
        ev.clear();
        self.books[i].cancel(order_id, &mut ev);
        self.translate(&ev, None, out);
        self.scratch = ev;
    }

    fn replace(
        &mut self,
        account: AccountId,
        order_id: OrderId,
        qty: Qty,
        price: Option<Price>,
        out: &mut Vec<Event>,
    ) {
        let rej = |reason| reject(Some(account), Some(order_id), None, reason);
        let Some(w) = self
            .orders
            .get(&order_id)
            .copied()
            .filter(|w| w.account == account)
        else {
            return out.push(rej(RejectReason::UnknownOrder));
        };
        let i = w.instrument as usize;
        if self.halted[i] {
            return out.push(rej(RejectReason::SymbolHalted));
        }
        if w.held {
            // An untriggered stop is not on the book: cancel it and submit a new one.
            return out.push(rej(RejectReason::InvalidOrder));
        }
        let Some(resting) = self.books[i].order(order_id) else {
            return out.push(rej(RejectReason::UnknownOrder));
        };
        let new_price = price.unwrap_or(resting.price);
        // An unchanged price stays valid even if the band has moved away from it.
        let checked = self
            .check_qty(i, qty)
            .and_then(|()| self.check_price(i, new_price, new_price != resting.price));
        if let Err(reason) = checked {
            return out.push(rej(reason));
        }
        let ins = &self.instruments[i];
        match new_price.notional(qty) {
            Some(v) if v <= ins.max_notional => {}
            Some(_) => return out.push(rej(RejectReason::MaxNotionalExceeded)),
            None => return out.push(rej(RejectReason::ArithmeticOverflow)),
        }
        // Re-reserve for the new terms: release the old reservation, take the new one.
        let Some(a) = self.account(account) else {
            return;
        };
        let (new_cash, share_delta) = match w.side {
            Side::Buy => {
                let Some(need) = self.buy_reserve(new_price, qty.get()) else {
                    return out.push(rej(RejectReason::ArithmeticOverflow));
                };
                let free = a.cash.checked_sub(a.reserved).unwrap_or(Cash::ZERO);
                let extra = need.checked_sub(w.reserved_cash).unwrap_or(Cash::ZERO);
                if extra > free {
                    return out.push(rej(RejectReason::InsufficientBuyingPower));
                }
                (need, 0i128)
            }
            Side::Sell => {
                let Some(pi) = self.pos_index(account, i) else {
                    return;
                };
                let p = &self.positions[pi];
                let delta = i128::from(qty.get()) - i128::from(w.leaves);
                if delta > 0 && i128::from(p.qty - p.reserved) < delta {
                    return out.push(rej(RejectReason::InsufficientPosition));
                }
                (Cash::ZERO, delta)
            }
        };
        let mut ev = std::mem::take(&mut self.scratch);
        ev.clear();
        self.books[i].replace(order_id, new_price, qty, &mut ev);
        let replaced = ev.iter().any(|e| matches!(e, BookEvent::Replaced { .. }));
        if replaced {
            // Apply the new reservation before the fills that may follow settle against it.
            match w.side {
                Side::Buy => {
                    if let Some(a) = self.account_mut(account) {
                        a.reserved = a
                            .reserved
                            .checked_sub(w.reserved_cash)
                            .and_then(|r| r.checked_add(new_cash))
                            .unwrap_or(a.reserved);
                    }
                }
                Side::Sell => {
                    if let Some(pi) = self.pos_index(account, i) {
                        let p = &mut self.positions[pi];
                        p.reserved =
                            u64::try_from(i128::from(p.reserved) + share_delta).unwrap_or(0);
                    }
                }
            }
            if let Some(o) = self.orders.get_mut(&order_id) {
                o.leaves = qty.get();
                o.limit_price = Some(new_price);
                o.reserve_px = new_price;
                o.reserved_cash = new_cash;
            }
        }
        self.translate(&ev, None, out);
        self.scratch = ev;
        self.run_triggers(i, out);
    }

    fn mass_cancel(
        &mut self,
        account: Option<AccountId>,
        symbol: Option<Symbol>,
        out: &mut Vec<Event>,
    ) {
        let range = match symbol {
            Some(s) => match self.by_symbol.get(&s) {
                Some(&i) => i as usize..i as usize + 1,
                None => return out.push(reject(account, None, None, RejectReason::UnknownSymbol)),
            },
            None => 0..self.books.len(),
        };
        for i in range {
            let mut ev = std::mem::take(&mut self.scratch);
            ev.clear();
            match account {
                Some(a) => self.books[i].mass_cancel(a, None, &mut ev),
                None => self.books[i].cancel_all(&mut ev),
            };
            self.translate(&ev, None, out);
            self.scratch = ev;
            let mine = |w: &Working| account.is_none_or(|a| a == w.account);
            self.cancel_held_where(i, mine, CancelReason::MassCancel, out);
        }
    }

    /// Turns a book's events into exchange events, settling fills and releasing
    /// reservations as they come. `accepted` goes out in place of the book's `Accepted`.
    fn translate(
        &mut self,
        events: &[BookEvent],
        mut accepted: Option<Event>,
        out: &mut Vec<Event>,
    ) {
        for e in events {
            match *e {
                BookEvent::Accepted { .. } => {
                    if let Some(a) = accepted.take() {
                        out.push(a);
                    }
                }
                BookEvent::Rejected {
                    id,
                    reason,
                    request,
                } => {
                    let w = self.orders.get(&id).copied();
                    if request == Request::Submit {
                        // Refused on arrival (post-only, no liquidity): undo the reservation.
                        self.finish(id);
                    }
                    out.push(reject(
                        w.map(|w| w.account),
                        Some(id),
                        w.and_then(|w| w.client_order_id),
                        reason,
                    ));
                }
                BookEvent::Fill {
                    maker,
                    taker,
                    taker_side,
                    price,
                    qty,
                    ..
                } => {
                    let trade_id = TradeId::new(self.next_trade_id);
                    self.next_trade_id += 1;
                    let symbol = self
                        .orders
                        .get(&taker)
                        .map(|w| self.instruments[w.instrument as usize].symbol);
                    let Some(symbol) = symbol else { continue };
                    out.push(Event::Trade {
                        symbol,
                        trade_id,
                        price,
                        qty,
                        aggressor: taker_side,
                        maker_order: maker,
                        taker_order: taker,
                    });
                    for (id, liquidity) in [(maker, Liquidity::Maker), (taker, Liquidity::Taker)] {
                        if let Some(ev) = self.settle(id, trade_id, price, qty, liquidity) {
                            out.push(ev);
                        }
                    }
                }
                BookEvent::Rested {
                    id,
                    side,
                    price,
                    qty,
                } => {
                    if let Some(w) = self.orders.get(&id) {
                        let symbol = self.instruments[w.instrument as usize].symbol;
                        out.push(Event::OrderRested {
                            order_id: id,
                            symbol,
                            side,
                            price,
                            qty,
                        });
                    }
                }
                BookEvent::Canceled {
                    id,
                    side,
                    qty,
                    resting_price,
                    reason,
                    ..
                } => {
                    if let Some(w) = self.orders.get(&id).copied() {
                        let symbol = self.instruments[w.instrument as usize].symbol;
                        self.finish(id);
                        // A triggered stop (market) order enters as an IOC; what it leaves
                        // is a market order's remainder.
                        let reason = match (w.order_type, reason) {
                            (OrderType::Stop, CancelReason::IocRemainder) => {
                                CancelReason::MarketRemainder
                            }
                            (_, r) => r,
                        };
                        out.push(Event::OrderCanceled {
                            order_id: id,
                            account: w.account,
                            symbol,
                            side,
                            qty,
                            resting_price,
                            reason,
                        });
                    }
                }
                BookEvent::Replaced {
                    id,
                    side,
                    old_price,
                    old_qty,
                    price,
                    qty,
                    priority,
                } => {
                    if let Some(w) = self.orders.get(&id) {
                        out.push(Event::OrderReplaced {
                            order_id: id,
                            account: w.account,
                            symbol: self.instruments[w.instrument as usize].symbol,
                            side,
                            old_price: Some(old_price),
                            old_qty,
                            price: Some(price),
                            qty,
                            priority_kept: priority == Priority::Kept,
                        });
                    }
                }
            }
        }
    }

    /// Settles one side of a trade for order `id`: moves cash and shares, charges the fee,
    /// releases the reservation it used. Returns the execution report.
    fn settle(
        &mut self,
        id: OrderId,
        trade_id: TradeId,
        px: Price,
        qty: Qty,
        liquidity: Liquidity,
    ) -> Option<Event> {
        let w = *self.orders.get(&id)?;
        let i = w.instrument as usize;
        let q = qty.get();
        let value = px.notional(qty)?;
        let bps = match liquidity {
            Liquidity::Maker => self.cfg.maker_fee_bps,
            Liquidity::Taker => self.cfg.taker_fee_bps,
        };
        let fee = value.bps_ceil(bps)?;
        let leaves = w.leaves - q;
        let new_reserved = if w.side == Side::Buy {
            if leaves == 0 {
                Cash::ZERO
            } else {
                self.buy_reserve(w.reserve_px, leaves)?
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
            }
            Side::Sell => {
                a.cash = a.cash.checked_add(value)?.checked_sub(fee)?;
                p.qty -= q;
                p.reserved -= q;
            }
        }
        self.fees_collected = self.fees_collected.checked_add(fee)?;
        let o = self.orders.get_mut(&id)?;
        o.leaves = leaves;
        o.cum_qty += q;
        o.cum_notional = o.cum_notional.checked_add(value)?;
        o.reserved_cash = new_reserved;
        let report = Event::OrderFilled {
            order_id: id,
            account: w.account,
            symbol: self.instruments[i].symbol,
            side: w.side,
            trade_id,
            last_px: px,
            last_qty: qty,
            cum_qty: Qty::new(o.cum_qty),
            leaves_qty: Qty::new(leaves),
            cum_notional: o.cum_notional,
            liquidity,
            fee,
        };
        if leaves == 0 {
            self.orders.remove(&id);
        }
        Some(report)
    }

    /// An order stopped working: release what it still had reserved and forget it.
    fn finish(&mut self, id: OrderId) {
        let Some(w) = self.orders.remove(&id) else {
            return;
        };
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

    /// Checks the ledger invariants of the design (O(state); for tests and audits): cash and
    /// fees conserved except transfers, shares conserved by trading, nothing negative,
    /// reserved ≤ held, reservations equal what working orders hold, books never crossed.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut cash_total: i128 = i128::from(self.fees_collected.raw());
        let mut shares = vec![0u128; self.instruments.len()];
        let mut want_cash = vec![0i128; self.accounts.len()];
        let mut want_shares = vec![vec![0u64; self.instruments.len()]; self.accounts.len()];
        let mut ids: Vec<_> = self.orders.iter().collect();
        ids.sort_by_key(|(id, _)| **id);
        for (id, w) in ids {
            let a = usize::try_from(w.account.get()).unwrap_or(usize::MAX) - 1;
            match w.side {
                Side::Buy => want_cash[a] += i128::from(w.reserved_cash.raw()),
                Side::Sell => want_shares[a][w.instrument as usize] += w.leaves,
            }
            let resting = self.books[w.instrument as usize].order(*id);
            if w.held {
                let stop = w.stop_price.ok_or("held order without a stop price")?;
                let stops = &self.stops[w.instrument as usize];
                let key = Stops::key(w.side, stop, *id);
                let held = match w.side {
                    Side::Buy => stops.buys.get(&key),
                    Side::Sell => stops.sells.get(&key),
                };
                if resting.is_some() || held != Some(id) {
                    return Err(format!("held stop {id:?} misplaced"));
                }
            } else if resting.map(|o| o.qty.get()) != Some(w.leaves) {
                return Err(format!(
                    "order {id:?} open {} but book has {resting:?}",
                    w.leaves
                ));
            }
        }
        for (n, a) in self.accounts.iter().enumerate() {
            if a.cash.is_negative() || a.reserved.is_negative() || a.reserved > a.cash {
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
        if cash_total != i128::from(self.net_cash_in.raw()) {
            return Err(format!(
                "cash + fees {cash_total} != deposits - withdrawals {}",
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
            b.check_invariants()?;
            resting += b.len();
        }
        let held: usize = self.stops.iter().map(Stops::len).sum();
        if resting + held != self.orders.len() {
            return Err(format!(
                "{resting} resting + {held} held, {} working",
                self.orders.len()
            ));
        }
        Ok(())
    }

    /// Whether the order is still working.
    #[must_use]
    pub fn is_working(&self, id: OrderId) -> bool {
        self.orders.contains_key(&id)
    }
}
