//! The fan-out: every symbol's market-data state with its subscribers, every connection's
//! bounded outbox, and the private channels by account.
//!
//! One thread (the feed's publisher) applies released events with [`Publisher::publish`];
//! each resulting message is serialized once into a [`Frame`] and the same bytes are queued
//! on every subscribed connection. Connections are drained by their own tasks (the
//! WebSocket writer in `bourse-api`). The publisher never waits for a connection:
//!
//! - each [`Conn`] has an outbox bounded in bytes. Above `soft_bytes` the book channel is
//!   *conflated*: the connection's deltas for that symbol stop and the symbol is marked
//!   stale; once the writer has drained the outbox below half of `soft_bytes` it queues a
//!   fresh `book_snapshot` (the client replaces its book) and deltas resume after it.
//! - anything that would take the outbox past `hard_bytes`, or a connection that stays
//!   conflated longer than `max_behind`, closes the connection with a reason ("slow
//!   consumer"); its queue is freed at once.
//!
//! Locks, always taken in this order: a symbol's state, then a connection's outbox. A
//! subscription (snapshot + registration) and a resync happen under the symbol's lock, so a
//! client sees `book_snapshot` at seq S followed by exactly the updates S+1, S+2, ….

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use bourse_core::{AccountId, Event, Price, Session, Symbol, Tagged};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use tokio::sync::Notify;

use crate::msg;
use crate::private;
use crate::state::{Retention, SymbolState};

/// One serialized message: JSON text shared by reference count between subscribers.
pub type Frame = Utf8Bytes;

/// A public market-data channel.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Channel {
    Book,
    Trades,
    Ticker,
    Candles,
    /// Call auctions: the indicative price, matched volume and imbalance while a call runs,
    /// then the uncross.
    Auction,
    /// News items tagged with the symbol, as operators publish them ([`Feed::publish_news`]);
    /// not part of the symbol's `seq` (news is not market data the book is built from).
    News,
}

impl Channel {
    pub const ALL: [Channel; 6] = [
        Channel::Book,
        Channel::Trades,
        Channel::Ticker,
        Channel::Candles,
        Channel::Auction,
        Channel::News,
    ];

    #[must_use]
    pub fn parse(s: &str) -> Option<Channel> {
        Some(match s {
            "book" => Channel::Book,
            "trades" => Channel::Trades,
            "ticker" => Channel::Ticker,
            "candles" => Channel::Candles,
            "auction" => Channel::Auction,
            "news" => Channel::News,
            _ => return None,
        })
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Book => "book",
            Channel::Trades => "trades",
            Channel::Ticker => "ticker",
            Channel::Candles => "candles",
            Channel::Auction => "auction",
            Channel::News => "news",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// A private channel (after authentication): the caller's own account only.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PrivateChannel {
    /// Execution reports of the account's orders, whichever way they were entered.
    Orders,
    /// Balance and position changes.
    Account,
    /// Triggered price alerts.
    Alerts,
}

impl PrivateChannel {
    pub const ALL: [PrivateChannel; 3] = [
        PrivateChannel::Orders,
        PrivateChannel::Account,
        PrivateChannel::Alerts,
    ];

    #[must_use]
    pub fn parse(s: &str) -> Option<PrivateChannel> {
        Some(match s {
            "orders" => PrivateChannel::Orders,
            "account" => PrivateChannel::Account,
            "alerts" => PrivateChannel::Alerts,
            _ => return None,
        })
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            PrivateChannel::Orders => "orders",
            PrivateChannel::Account => "account",
            PrivateChannel::Alerts => "alerts",
        }
    }

    /// The channel's bit in a mask of channels.
    #[must_use]
    pub const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Limits and timings of the fan-out.
#[derive(Clone, Copy, Debug)]
pub struct FeedConfig {
    /// Above this many queued bytes a connection's book deltas are conflated.
    pub soft_bytes: usize,
    /// A connection whose outbox would exceed this is closed (slow consumer).
    pub hard_bytes: usize,
    /// A connection conflated for longer than this is closed (slow consumer).
    pub max_behind: Duration,
    /// Channel × symbol subscriptions per connection.
    pub max_subscriptions: usize,
    /// WebSocket connections at once (order entry and market data alike).
    pub max_connections: usize,
    /// History kept per symbol.
    pub retention: Retention,
    /// Private-stream events kept (all accounts together, newest) for clients that resume
    /// their private channels `since` an `account_seq`.
    pub private_window: usize,
}

impl Default for FeedConfig {
    fn default() -> Self {
        FeedConfig {
            soft_bytes: 256 * 1024,
            hard_bytes: 1024 * 1024,
            max_behind: Duration::from_secs(10),
            max_subscriptions: 256,
            max_connections: 20_000,
            retention: Retention::default(),
            private_window: 100_000,
        }
    }
}

/// Counters for `/metrics` and `/healthz`.
#[derive(Debug, Default)]
pub struct FeedStats {
    /// Market-data updates produced (all symbols).
    pub updates: AtomicU64,
    /// Messages queued on connections (one per message per subscriber).
    pub delivered: AtomicU64,
    /// Bytes queued on connections.
    pub delivered_bytes: AtomicU64,
    /// Book deltas skipped for a lagging connection (replaced by a later snapshot).
    pub conflated: AtomicU64,
    /// Connections closed for staying behind.
    pub slow_disconnects: AtomicU64,
    /// Connections open now.
    pub connections: AtomicUsize,
}

/// Why a subscription was refused.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum SubscribeError {
    UnknownSymbol(String),
    UnknownChannel(String),
    TooManySubscriptions(usize),
}

impl SubscribeError {
    /// The stable error code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            SubscribeError::UnknownSymbol(_) => "UNKNOWN_SYMBOL",
            SubscribeError::UnknownChannel(_) => "UNKNOWN_CHANNEL",
            SubscribeError::TooManySubscriptions(_) => "TOO_MANY_SUBSCRIPTIONS",
        }
    }
}

impl std::fmt::Display for SubscribeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubscribeError::UnknownSymbol(s) => write!(f, "unknown symbol {s:?}"),
            SubscribeError::UnknownChannel(c) => write!(
                f,
                "unknown channel {c:?} (book, trades, ticker, candles; after auth: orders, account, alerts)"
            ),
            SubscribeError::TooManySubscriptions(n) => {
                write!(
                    f,
                    "at most {n} channel × symbol subscriptions per connection"
                )
            }
        }
    }
}

pub(crate) struct SymbolFeed {
    pub(crate) state: SymbolState,
    pub(crate) subs: [Vec<Arc<Conn>>; 6],
}

/// The market data of every listed symbol and everyone subscribed to it.
pub struct Feed {
    cfg: FeedConfig,
    pub(crate) index: FxHashMap<Symbol, usize>,
    pub(crate) symbols: Vec<Mutex<SymbolFeed>>,
    /// Each symbol's seq once its update has been queued to every subscriber (heartbeats).
    pub(crate) seqs: Vec<AtomicU64>,
    pub(crate) private: Mutex<private::Private>,
    private_subs: AtomicUsize,
    next_conn: AtomicU64,
    /// The market's session as the released events last said (continuous until one does).
    session: Mutex<Session>,
    pub stats: FeedStats,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("symbols", &self.symbols.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Feed {
    /// A feed for these symbols, with their reference prices (the "previous close" until
    /// the first day ends).
    #[must_use]
    pub fn new(symbols: impl IntoIterator<Item = (Symbol, Price)>, cfg: FeedConfig) -> Feed {
        let mut index = FxHashMap::default();
        let mut states = Vec::new();
        for (sym, reference) in symbols {
            index.insert(sym, states.len());
            states.push(Mutex::new(SymbolFeed {
                state: SymbolState::new(sym, reference, cfg.retention),
                subs: Default::default(),
            }));
        }
        let seqs = (0..states.len()).map(|_| AtomicU64::new(0)).collect();
        Feed {
            cfg,
            index,
            symbols: states,
            seqs,
            private: Mutex::new(private::Private::new(cfg.private_window)),
            private_subs: AtomicUsize::new(0),
            next_conn: AtomicU64::new(1),
            session: Mutex::new(Session::default()),
            stats: FeedStats::default(),
        }
    }

    /// The market's session, as of the last released event.
    #[must_use]
    pub fn session(&self) -> Session {
        *self.session.lock()
    }

    #[must_use]
    pub fn config(&self) -> &FeedConfig {
        &self.cfg
    }

    /// Reads one symbol's state (REST snapshots); `None` for an unknown symbol.
    pub fn with_symbol<R>(&self, symbol: &str, f: impl FnOnce(&SymbolState) -> R) -> Option<R> {
        let sym = Symbol::new(symbol).ok()?;
        let i = *self.index.get(&sym)?;
        Some(f(&self.symbols[i].lock().state))
    }

    /// Opens a connection's outbox, or refuses when `max_connections` are open.
    pub fn connect(&self) -> Option<Arc<Conn>> {
        let n = self.stats.connections.fetch_add(1, Ordering::Relaxed);
        if n >= self.cfg.max_connections {
            self.stats.connections.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(Arc::new(Conn {
            id: self.next_conn.fetch_add(1, Ordering::Relaxed),
            out: Mutex::new(Outbox::default()),
            wake: Notify::new(),
            gone: Notify::new(),
            soft: self.cfg.soft_bytes,
            hard: self.cfg.hard_bytes,
            max_behind: self.cfg.max_behind,
            subs: Mutex::new(Subs::default()),
        }))
    }

    /// Removes a connection from everything it subscribed to (it is closing).
    pub fn disconnect(&self, conn: &Arc<Conn>) {
        let subs = std::mem::take(&mut *conn.subs.lock());
        for (i, ch) in subs.md {
            self.symbols[i].lock().subs[ch.index()].retain(|c| !Arc::ptr_eq(c, conn));
        }
        if let Some((account, _)) = subs.private {
            let map = &mut self.private.lock().subs;
            if let Some(v) = map.get_mut(&account) {
                v.retain(|s| !Arc::ptr_eq(&s.conn, conn));
                if v.is_empty() {
                    map.remove(&account);
                }
            }
            self.private_subs.fetch_sub(1, Ordering::Relaxed);
        }
        let slow = conn
            .out
            .lock()
            .closed
            .as_deref()
            .is_some_and(|r| r.starts_with("slow consumer"));
        if slow {
            self.stats.slow_disconnects.fetch_add(1, Ordering::Relaxed);
        }
        conn.close("closed");
        self.stats.connections.fetch_sub(1, Ordering::Relaxed);
    }

    fn resolve(
        &self,
        channels: &[String],
        symbols: &[String],
    ) -> Result<Vec<(usize, Channel)>, SubscribeError> {
        let mut chans = Vec::new();
        for c in channels {
            chans.push(Channel::parse(c).ok_or_else(|| SubscribeError::UnknownChannel(c.clone()))?);
        }
        let mut out = Vec::new();
        for s in symbols {
            let i = Symbol::new(s)
                .ok()
                .and_then(|sym| self.index.get(&sym).copied())
                .ok_or_else(|| SubscribeError::UnknownSymbol(s.clone()))?;
            for &c in &chans {
                if !out.contains(&(i, c)) {
                    out.push((i, c));
                }
            }
        }
        Ok(out)
    }

    /// Subscribes to public channels for symbols: all or nothing. `book` starts with a
    /// `book_snapshot`, `ticker` and `candles` with their current value. Returns how many
    /// subscriptions were new.
    pub fn subscribe(
        &self,
        conn: &Arc<Conn>,
        channels: &[String],
        symbols: &[String],
    ) -> Result<usize, SubscribeError> {
        let wanted = self.resolve(channels, symbols)?;
        let mut subs = conn.subs.lock();
        let fresh: Vec<_> = wanted
            .into_iter()
            .filter(|w| !subs.md.contains(w))
            .collect();
        if subs.md.len() + fresh.len() > self.cfg.max_subscriptions {
            return Err(SubscribeError::TooManySubscriptions(
                self.cfg.max_subscriptions,
            ));
        }
        for &(i, ch) in &fresh {
            let mut sf = self.symbols[i].lock();
            let first = match ch {
                Channel::Book => Some(msg::book_snapshot(&sf.state, usize::MAX)),
                Channel::Ticker => Some(msg::ticker(&sf.state)),
                Channel::Candles => sf.state.candles.back().map(|c| msg::candle(&sf.state, c)),
                Channel::Auction => sf.state.auction.map(|_| msg::auction(&sf.state)),
                Channel::Trades | Channel::News => None,
            };
            if let Some(f) = first {
                conn.push(Frame::from(f));
            }
            sf.subs[ch.index()].push(conn.clone());
            drop(sf);
            subs.md.push((i, ch));
        }
        Ok(fresh.len())
    }

    /// Sends one news item (`frame`, serialized once) to every connection subscribed to
    /// `news` for any of `symbols`, once per connection however many of them it follows.
    /// Returns how many connections it was queued to.
    pub fn publish_news(&self, symbols: &[Symbol], frame: &Frame) -> usize {
        let mut sent: Vec<u64> = Vec::new();
        for sym in symbols {
            let Some(&i) = self.index.get(sym) else {
                continue;
            };
            let sf = self.symbols[i].lock();
            for c in &sf.subs[Channel::News.index()] {
                if sent.contains(&c.id()) {
                    continue;
                }
                if c.push(frame.clone()) == Pushed::Queued {
                    sent.push(c.id());
                }
            }
        }
        self.stats
            .delivered
            .fetch_add(sent.len() as u64, Ordering::Relaxed);
        sent.len()
    }

    /// Unsubscribes; unknown names are an error, subscriptions not held are ignored.
    pub fn unsubscribe(
        &self,
        conn: &Arc<Conn>,
        channels: &[String],
        symbols: &[String],
    ) -> Result<usize, SubscribeError> {
        let wanted = self.resolve(channels, symbols)?;
        let mut subs = conn.subs.lock();
        let mut n = 0;
        for w @ (i, ch) in wanted {
            if let Some(pos) = subs.md.iter().position(|s| *s == w) {
                subs.md.swap_remove(pos);
                let mut sf = self.symbols[i].lock();
                sf.subs[ch.index()].retain(|c| !Arc::ptr_eq(c, conn));
                if ch == Channel::Book {
                    conn.out.lock().stale.retain(|&s| s != i);
                }
                n += 1;
            }
        }
        Ok(n)
    }

    /// Subscribes the connection to private channels of `account` (the caller's own; the
    /// API checks that). Adds to what it already has.
    pub fn subscribe_private(
        &self,
        conn: &Arc<Conn>,
        account: AccountId,
        chans: &[PrivateChannel],
    ) {
        // Without `since` nothing is replayed, so nothing can be behind.
        let _ = self.resume_private(conn, account, chans, None);
    }

    /// Subscribes as [`Feed::subscribe_private`] does; with `since` (an `account_seq` the
    /// client saw last) the messages after it on these channels come first — those still
    /// in the window — and then the live ones, none lost or repeated in between. A `since`
    /// beyond what the feed has seen skips the live messages up to it. When the window no
    /// longer reaches back to `since`, nothing is subscribed and [`Behind`](crate::Behind)
    /// says from where history must serve.
    pub fn resume_private(
        &self,
        conn: &Arc<Conn>,
        account: AccountId,
        chans: &[PrivateChannel],
        since: Option<u64>,
    ) -> Result<crate::Resumed, crate::Behind> {
        let bits = chans.iter().fold(0u8, |b, c| b | c.bit());
        let mut subs = conn.subs.lock();
        let (resumed, added) = private::subscribe(&self.private, conn, account, bits, since)?;
        if added {
            self.private_subs.fetch_add(1, Ordering::Relaxed);
        }
        let mask = subs.private.map_or(0, |p| p.1) | bits;
        subs.private = Some((account, mask));
        Ok(resumed)
    }

    /// The account whose private channels the connection follows, if any.
    #[must_use]
    pub fn private_account(&self, conn: &Conn) -> Option<AccountId> {
        conn.subs.lock().private.map(|(a, _)| a)
    }

    /// Drops private channels; with none left the connection leaves the account's list.
    pub fn unsubscribe_private(&self, conn: &Arc<Conn>, chans: &[PrivateChannel]) {
        let bits = chans.iter().fold(0u8, |b, c| b | c.bit());
        let mut subs = conn.subs.lock();
        let Some((account, mask)) = subs.private else {
            return;
        };
        let left = mask & !bits;
        let map = &mut self.private.lock().subs;
        if let Some(list) = map.get_mut(&account) {
            if left == 0 {
                list.retain(|s| !Arc::ptr_eq(&s.conn, conn));
                self.private_subs.fetch_sub(1, Ordering::Relaxed);
            } else if let Some(s) = list.iter_mut().find(|s| Arc::ptr_eq(&s.conn, conn)) {
                s.bits = left;
            }
            if list.is_empty() {
                map.remove(&account);
            }
        }
        subs.private = (left != 0).then_some((account, left));
    }

    /// What the connection is subscribed to: public (channel, symbol) pairs and private
    /// channels.
    #[must_use]
    pub fn subscriptions(&self, conn: &Conn) -> (Vec<(Channel, Symbol)>, Vec<PrivateChannel>) {
        let subs = conn.subs.lock();
        let md = subs
            .md
            .iter()
            .map(|&(i, ch)| (ch, self.symbols[i].lock().state.symbol))
            .collect();
        let mask = subs.private.map_or(0, |p| p.1);
        let private = PrivateChannel::ALL
            .into_iter()
            .filter(|c| mask & c.bit() != 0)
            .collect();
        (md, private)
    }

    /// A heartbeat for this connection: the last seq of each symbol it follows. `None`
    /// when it follows none.
    #[must_use]
    pub fn heartbeat(&self, conn: &Conn) -> Option<Frame> {
        let subs = conn.subs.lock();
        if subs.md.is_empty() {
            return None;
        }
        let mut seen: Vec<usize> = subs.md.iter().map(|s| s.0).collect();
        seen.sort_unstable();
        seen.dedup();
        let mut s = String::from(r#"{"type":"heartbeat","seqs":{"#);
        for (n, i) in seen.into_iter().enumerate() {
            if n > 0 {
                s.push(',');
            }
            let sym = self.symbols[i].lock().state.symbol;
            let seq = self.seqs[i].load(Ordering::Acquire);
            s.push_str(&format!(r#""{sym}":{seq}"#));
        }
        s.push_str("}}");
        Some(Frame::from(s))
    }

    /// After the writer drained the outbox: queue a fresh snapshot for every conflated
    /// symbol, once the outbox is low enough. Returns how many were sent.
    pub fn resync(&self, conn: &Arc<Conn>) -> usize {
        let stale = {
            let o = conn.out.lock();
            if o.stale.is_empty() || o.bytes > conn.soft / 2 || o.closed.is_some() {
                return 0;
            }
            o.stale.clone()
        };
        let mut n = 0;
        for i in stale {
            let sf = self.symbols[i].lock();
            let mut o = conn.out.lock();
            o.stale.retain(|&s| s != i);
            if sf.subs[Channel::Book.index()]
                .iter()
                .any(|c| Arc::ptr_eq(c, conn))
            {
                let f = Frame::from(msg::book_snapshot(&sf.state, usize::MAX));
                drop(o);
                if conn.push(f) != Pushed::Closed {
                    n += 1;
                }
            }
        }
        let mut o = conn.out.lock();
        if o.stale.is_empty() && o.bytes <= conn.soft {
            o.behind_since = None;
        }
        n
    }

    /// Closes the connection if it has been conflated too long (called by its writer's
    /// timer, so a client that stops reading entirely is found even when the market is
    /// quiet). Returns true if it closed it.
    pub fn check_behind(&self, conn: &Conn) -> bool {
        let mut o = conn.out.lock();
        if let Some(t) = o.behind_since
            && t.elapsed() > conn.max_behind
            && o.closed.is_none()
        {
            conn.shut(
                &mut o,
                format!(
                    "slow consumer: behind for more than {} s",
                    conn.max_behind.as_secs()
                ),
            );
            return true;
        }
        false
    }

    /// The symbols' current seqs (index order of `symbols()`).
    pub fn symbols(&self) -> impl Iterator<Item = (Symbol, u64)> + '_ {
        self.symbols
            .iter()
            .zip(&self.seqs)
            .map(|(m, s)| (m.lock().state.symbol, s.load(Ordering::Acquire)))
    }
}

/// What a connection follows.
#[derive(Debug, Default)]
struct Subs {
    md: Vec<(usize, Channel)>,
    private: Option<(AccountId, u8)>,
}

#[derive(Debug, Default)]
struct Outbox {
    q: VecDeque<Frame>,
    bytes: usize,
    /// Symbols whose book deltas are being conflated (a snapshot is owed).
    stale: Vec<usize>,
    /// Since when the outbox has been over the soft limit / conflating.
    behind_since: Option<Instant>,
    /// Set once: why the connection must close.
    closed: Option<String>,
}

impl Outbox {
    /// Hands everything queued to the writer. Caught up again unless a book snapshot is
    /// still owed (then `Feed::resync` decides).
    fn take_all(&mut self, into: &mut Vec<Frame>) {
        into.extend(self.q.drain(..));
        self.bytes = 0;
        if self.stale.is_empty() {
            self.behind_since = None;
        }
    }

    fn close(&mut self, reason: String) {
        self.closed = Some(reason);
        self.q = VecDeque::new();
        self.bytes = 0;
        self.stale = Vec::new();
    }
}

/// What became of a queued message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Pushed {
    Queued,
    Conflated,
    Closed,
}

/// One connection's outbox: bounded in bytes, drained by the connection's writer task.
pub struct Conn {
    id: u64,
    out: Mutex<Outbox>,
    wake: Notify,
    /// Signalled once when the connection must close (the session stops reading).
    gone: Notify,
    soft: usize,
    hard: usize,
    max_behind: Duration,
    subs: Mutex<Subs>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Conn {
    #[must_use]
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Queues a message that must not be dropped (replies, trades, private messages): past
    /// `hard_bytes` the connection is closed instead.
    pub fn push(&self, frame: Frame) -> Pushed {
        let mut o = self.out.lock();
        if o.closed.is_some() {
            return Pushed::Closed;
        }
        let len = frame.len();
        if o.bytes + len > self.hard {
            let reason = format!(
                "slow consumer: more than {} bytes waiting to be sent",
                self.hard
            );
            self.shut(&mut o, reason);
            return Pushed::Closed;
        }
        let was_empty = o.q.is_empty();
        o.q.push_back(frame);
        o.bytes += len;
        if o.bytes > self.soft && o.behind_since.is_none() {
            o.behind_since = Some(Instant::now());
        }
        drop(o);
        if was_empty {
            self.wake.notify_one();
        }
        Pushed::Queued
    }

    /// Queues a book delta of symbol `i`, or conflates it when the connection is behind.
    fn push_book(&self, i: usize, frame: Frame) -> Pushed {
        let mut o = self.out.lock();
        if o.closed.is_some() {
            return Pushed::Closed;
        }
        if o.stale.contains(&i) {
            // A client that stopped reading altogether is found here too.
            if o.behind_since
                .is_some_and(|t| t.elapsed() > self.max_behind)
            {
                let reason = format!(
                    "slow consumer: behind for more than {} s",
                    self.max_behind.as_secs()
                );
                self.shut(&mut o, reason);
                return Pushed::Closed;
            }
            return Pushed::Conflated;
        }
        if o.bytes + frame.len() > self.soft {
            o.stale.push(i);
            o.behind_since.get_or_insert_with(Instant::now);
            return Pushed::Conflated;
        }
        drop(o);
        self.push(frame)
    }

    /// Closes the connection with a reason (the writer sends it in the close frame). The
    /// first reason given stays.
    pub fn close(&self, reason: &str) {
        let mut o = self.out.lock();
        if o.closed.is_none() {
            self.shut(&mut o, reason.to_owned());
        }
    }

    fn shut(&self, o: &mut Outbox, reason: String) {
        o.close(reason);
        self.wake.notify_one();
        self.gone.notify_one();
    }

    /// Resolves once the connection must close.
    pub async fn closed(&self) {
        loop {
            if self.out.lock().closed.is_some() {
                return;
            }
            self.gone.notified().await;
        }
    }

    /// Waits for queued messages and moves them all into `into`; `Err(reason)` once the
    /// connection must close.
    pub async fn recv(&self, into: &mut Vec<Frame>) -> Result<(), String> {
        loop {
            {
                let mut o = self.out.lock();
                if let Some(r) = &o.closed {
                    return Err(r.clone());
                }
                if !o.q.is_empty() {
                    o.take_all(into);
                    return Ok(());
                }
            }
            self.wake.notified().await;
        }
    }

    /// Moves what is queued into `into` without waiting (tests, benches, pollers).
    pub fn try_recv(&self, into: &mut Vec<Frame>) -> Result<(), String> {
        let mut o = self.out.lock();
        if let Some(r) = &o.closed {
            return Err(r.clone());
        }
        o.take_all(into);
        Ok(())
    }

    /// Bytes waiting in the outbox.
    #[must_use]
    pub fn queued_bytes(&self) -> usize {
        self.out.lock().bytes
    }
}

/// The feed's writer side: applies released events in seq order and fans out what they
/// change. Owned by one thread.
#[derive(Debug)]
pub struct Publisher {
    feed: Arc<Feed>,
    touched: Vec<usize>,
}

impl Publisher {
    #[must_use]
    pub fn new(feed: Arc<Feed>) -> Publisher {
        Publisher {
            feed,
            touched: Vec::new(),
        }
    }

    #[must_use]
    pub fn feed(&self) -> &Arc<Feed> {
        &self.feed
    }

    /// Applies events (whole commands, in seq order) and fans out every update.
    pub fn publish(&mut self, events: &[Tagged]) {
        for cmd in events.chunk_by(|a, b| a.seq == b.seq) {
            self.command(cmd);
        }
    }

    fn command(&mut self, events: &[Tagged]) {
        let feed = &*self.feed;
        for t in events {
            match symbol_of(&t.event) {
                Some(sym) => {
                    if let Some(&i) = feed.index.get(&sym) {
                        let hit = feed.symbols[i].lock().state.apply(t.ts, &t.event);
                        if hit && !self.touched.contains(&i) {
                            self.touched.push(i);
                        }
                    }
                }
                None => {
                    if let Event::SessionChanged { session } = t.event {
                        *feed.session.lock() = session;
                    }
                    if matches!(
                        t.event,
                        Event::DayEnded { .. } | Event::SessionChanged { .. }
                    ) {
                        for (i, m) in feed.symbols.iter().enumerate() {
                            m.lock().state.apply(t.ts, &t.event);
                            if !self.touched.contains(&i) {
                                self.touched.push(i);
                            }
                        }
                    }
                }
            }
        }
        self.touched.sort_unstable();
        for i in self.touched.drain(..) {
            fan_out(feed, i);
        }
        // Always: the resume window records every stream event, followed or not.
        private::fan_out(feed, events, &feed.private);
    }
}

fn fan_out(feed: &Feed, i: usize) {
    let mut guard = feed.symbols[i].lock();
    let sf = &mut *guard;
    let Some(u) = sf.state.finish() else {
        return;
    };
    feed.stats.updates.fetch_add(1, Ordering::Relaxed);
    let mut delivered = 0u64;
    let mut bytes = 0u64;
    let mut dead = false;
    let mut conflated = 0u64;
    let mut send = |subs: &[Arc<Conn>], f: Frame, book: bool| {
        for c in subs {
            let r = if book {
                c.push_book(i, f.clone())
            } else {
                c.push(f.clone())
            };
            match r {
                Pushed::Queued => {
                    delivered += 1;
                    bytes += f.len() as u64;
                }
                Pushed::Conflated => conflated += 1,
                Pushed::Closed => dead = true,
            }
        }
    };
    let [book, trades, ticker, candles, auction, _news] = &sf.subs;
    if !book.is_empty() {
        send(book, Frame::from(msg::book_update(&sf.state, &u)), true);
    }
    if !trades.is_empty() {
        for t in &u.trades {
            send(trades, Frame::from(msg::trade(&sf.state, t)), false);
        }
    }
    if u.ticker && !ticker.is_empty() {
        send(ticker, Frame::from(msg::ticker(&sf.state)), false);
    }
    if u.candle
        && !candles.is_empty()
        && let Some(c) = sf.state.candles.back()
    {
        send(candles, Frame::from(msg::candle(&sf.state, c)), false);
    }
    if u.auction && !auction.is_empty() {
        send(auction, Frame::from(msg::auction(&sf.state)), false);
    }
    if dead {
        // Closed connections leave the lists now; their sessions also call `disconnect`.
        for list in &mut sf.subs {
            list.retain(|c| !c.is_closed());
        }
    }
    drop(guard);
    feed.seqs[i].store(u.seq, Ordering::Release);
    let s = &feed.stats;
    s.delivered.fetch_add(delivered, Ordering::Relaxed);
    s.delivered_bytes.fetch_add(bytes, Ordering::Relaxed);
    s.conflated.fetch_add(conflated, Ordering::Relaxed);
}

impl Conn {
    pub(crate) fn is_closed(&self) -> bool {
        self.out.lock().closed.is_some()
    }
}

/// The symbol an event's public market data belongs to.
pub fn symbol_of(e: &Event) -> Option<Symbol> {
    match *e {
        Event::OrderRested { symbol, .. }
        | Event::OrderFilled { symbol, .. }
        | Event::OrderCanceled { symbol, .. }
        | Event::OrderReplaced { symbol, .. }
        | Event::OrderParked { symbol, .. }
        | Event::AuctionUncrossed { symbol, .. }
        | Event::Trade { symbol, .. }
        | Event::SymbolHalted { symbol }
        | Event::SymbolResumed { symbol } => Some(symbol),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bourse_core::Price;

    fn feed(soft: usize, hard: usize, behind: Duration) -> Feed {
        let sym = Symbol::new("AAPL").expect("symbol");
        Feed::new(
            [(sym, Price::from_raw(1_900_000))],
            FeedConfig {
                soft_bytes: soft,
                hard_bytes: hard,
                max_behind: behind,
                ..FeedConfig::default()
            },
        )
    }

    #[test]
    fn a_reader_that_caught_up_is_not_behind_any_more() {
        let f = feed(100, 10_000, Duration::from_millis(1));
        let c = f.connect().expect("room");
        // Over the soft limit once (no book: nothing to conflate)...
        for _ in 0..5 {
            assert_eq!(c.push(Frame::from("x".repeat(40))), Pushed::Queued);
        }
        let mut got = Vec::new();
        c.try_recv(&mut got).expect("open");
        assert_eq!(got.len(), 5);
        std::thread::sleep(Duration::from_millis(5));
        // ...then drained: long after, it is not closed for being behind.
        assert!(!f.check_behind(&c));
        assert_eq!(c.push(Frame::from("y")), Pushed::Queued);
    }

    #[test]
    fn past_the_hard_limit_the_connection_closes_with_a_reason() {
        let f = feed(100, 200, Duration::from_secs(60));
        let c = f.connect().expect("room");
        assert_eq!(c.push(Frame::from("x".repeat(150))), Pushed::Queued);
        assert_eq!(c.push(Frame::from("x".repeat(100))), Pushed::Closed);
        let mut got = Vec::new();
        let why = c.try_recv(&mut got).expect_err("closed");
        assert!(why.starts_with("slow consumer"), "{why}");
        assert!(got.is_empty(), "the queue was freed");
        f.disconnect(&c);
        assert_eq!(f.stats.slow_disconnects.load(Ordering::Relaxed), 1);
        assert_eq!(f.stats.connections.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn connections_beyond_the_limit_are_refused() {
        let mut f = feed(100, 200, Duration::from_secs(60));
        f.cfg.max_connections = 2;
        let (a, b) = (f.connect(), f.connect());
        assert!(a.is_some() && b.is_some());
        assert!(f.connect().is_none());
        f.disconnect(&a.expect("a"));
        assert!(f.connect().is_some());
    }
}
