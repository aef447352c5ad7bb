//! LOBSTER files (NASDAQ TotalView-ITCH order flow as reconstructed by LOBSTER) and a
//! [`Replayer`] that drives an [`OrderBook`] through them, checking it against NASDAQ's own
//! book after every message.
//!
//! A day is a message file (one event per row) and an orderbook file (row k is the visible
//! book right after message k, `levels` deep). Prices are dollars × 10,000, the scale of
//! [`Price`]. Both files are parsed up front into flat vectors so a replay touches no text.
//!
//! The replay (see [`Replayer`]) keeps exactly the visible book: the state before message 1
//! is seeded from row 1, orders that predate the file are stood in for by one synthetic
//! order per level, executions are replayed as incoming aggressive orders that must hit the
//! named resting order, and a level that rises from depth the file never showed is taken
//! from the orderbook row, the only place it exists.

use std::fmt;
use std::path::{Path, PathBuf};

use bourse_book::{BookConfig, BookEvent, NewOrder, OrderBook, Priority};
use bourse_core::{CancelReason, OrderId, Price, Qty, Side, TimeInForce};

/// Placeholder price of an empty ask level (its size is 0).
pub const DUMMY_ASK: i64 = 9_999_999_999;
/// Placeholder price of an empty bid level (its size is 0).
pub const DUMMY_BID: i64 = -9_999_999_999;

/// The eight type-4 rows (message numbers) of the AMZN 2012-06-21 sample that no
/// price-time-priority book can replay as aggressive orders; [`Replayer`] applies them as plain
/// reductions. 1947, 3173, 25611 and 38826 execute the newer of two orders at a level just
/// before the older one in the same timestamp (a sweep reported out of FIFO order);
/// 56084–56087 execute order 284135299 while 124 older shares at 2208100 stay in front.
pub const AMZN_2012_06_21_TYPE4_EXCEPTIONS: [usize; 8] =
    [1947, 3173, 25611, 38826, 56084, 56085, 56086, 56087];

/// Order ids at or above this are the replayer's own (synthetic stand-ins and aggressors).
pub const RESERVED_IDS: u64 = 1 << 60;
const SYNTHETIC_BASE: u64 = RESERVED_IDS;
const TAKER_BASE: u64 = RESERVED_IDS | (1 << 59);
const REAL_OWNER: u64 = 1;
const SYNTHETIC_OWNER: u64 = 2;
const TAKER_OWNER: u64 = 3;

// ------------------------------------------------------------------------------- records

/// Event type of a message row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// 1: a new visible limit order.
    Submit,
    /// 2: part of a resting order cancelled (`size` is the amount removed).
    PartialCancel,
    /// 3: a resting order deleted.
    Delete,
    /// 4: a visible resting order executed (`size` is the amount executed).
    ExecuteVisible,
    /// 5: a hidden order executed; the visible book does not change.
    ExecuteHidden,
    /// 6: a cross (auction) trade; the visible book does not change.
    Cross,
    /// 7: a trading halt indicator; the visible book does not change.
    Halt,
}

impl MessageKind {
    /// From LOBSTER's type code.
    #[must_use]
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Submit,
            2 => Self::PartialCancel,
            3 => Self::Delete,
            4 => Self::ExecuteVisible,
            5 => Self::ExecuteHidden,
            6 => Self::Cross,
            7 => Self::Halt,
            _ => return None,
        })
    }

    /// LOBSTER's type code.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::Submit => 1,
            Self::PartialCancel => 2,
            Self::Delete => 3,
            Self::ExecuteVisible => 4,
            Self::ExecuteHidden => 5,
            Self::Cross => 6,
            Self::Halt => 7,
        }
    }

    /// Whether the message names a visible resting order (types 2, 3 and 4).
    #[must_use]
    pub const fn names_resting_order(self) -> bool {
        matches!(
            self,
            Self::PartialCancel | Self::Delete | Self::ExecuteVisible
        )
    }
}

/// One row of a message file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    /// Nanoseconds after midnight (exact; the file has at most 9 decimals).
    pub time_ns: u64,
    pub kind: MessageKind,
    /// The order concerned. Hidden, cross and halt rows carry no visible order: LOBSTER
    /// writes 0 or a negative number there, kept as 0.
    pub order_id: OrderId,
    pub size: Qty,
    /// For halt rows this is LOBSTER's halt code (-1 halt, 0 quote, 1 resume).
    pub price: Price,
    /// Side of the order concerned; for executions, the side of the RESTING order.
    pub side: Side,
}

/// One visible price level of an orderbook row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote {
    pub price: Price,
    pub qty: Qty,
}

/// A parsed orderbook file: for each row, the visible levels of each side, best first, with
/// LOBSTER's dummy (empty) levels dropped.
#[derive(Clone, Debug)]
pub struct Snapshots {
    levels: usize,
    /// `rows × levels` each, row-major; only the first `*_len[row]` of a row are real.
    asks: Vec<Quote>,
    bids: Vec<Quote>,
    ask_len: Vec<u32>,
    bid_len: Vec<u32>,
}

impl Snapshots {
    /// Levels per side the file was written with (its `N`).
    #[must_use]
    pub fn levels(&self) -> usize {
        self.levels
    }

    /// Number of rows.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ask_len.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ask_len.is_empty()
    }

    /// The visible levels of `side` in row `index` (0-based), best first. Fewer than
    /// [`levels`](Self::levels) when that side of the book was shallower.
    ///
    /// # Panics
    /// If `index >= self.len()`.
    #[must_use]
    pub fn side(&self, index: usize, side: Side) -> &[Quote] {
        let (all, len) = match side {
            Side::Buy => (&self.bids, &self.bid_len),
            Side::Sell => (&self.asks, &self.ask_len),
        };
        let start = index * self.levels;
        &all[start..start + len[index] as usize]
    }
}

/// A message file and its orderbook file, row k of one matching message k of the other.
#[derive(Clone, Debug)]
pub struct Day {
    messages: Vec<Message>,
    snapshots: Snapshots,
    max_order_id: u64,
}

impl Day {
    /// Pairs parsed files; they must have the same number of rows, at least one.
    pub fn new(messages: Vec<Message>, snapshots: Snapshots) -> Result<Self, LobsterError> {
        if messages.len() != snapshots.len() {
            return Err(LobsterError::RowCountMismatch {
                messages: messages.len(),
                orderbook: snapshots.len(),
            });
        }
        if messages.is_empty() {
            return Err(LobsterError::Empty);
        }
        let max_order_id = messages.iter().map(|m| m.order_id.get()).max().unwrap_or(0);
        Ok(Self {
            messages,
            snapshots,
            max_order_id,
        })
    }

    /// Reads and pairs a message file and an orderbook file.
    pub fn load(message_file: &Path, orderbook_file: &Path) -> Result<Self, LobsterError> {
        Self::new(
            read_messages(message_file)?,
            read_orderbook(orderbook_file)?,
        )
    }

    /// Loads `<TICKER>_…_message_<N>.csv` and its `…_orderbook_<N>.csv` from `dir`; exactly one
    /// message file for `ticker` must be there.
    pub fn find(dir: &Path, ticker: &str) -> Result<Self, LobsterError> {
        let io = |source| LobsterError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let prefix = format!("{ticker}_");
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let name = entry.map_err(io)?.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with(&prefix) && name.contains("_message_") && name.ends_with(".csv") {
                found.push(name.to_owned());
            }
        }
        let message_name = match found.as_slice() {
            [one] => one.clone(),
            _ => {
                return Err(LobsterError::NotFound {
                    dir: dir.to_path_buf(),
                    ticker: ticker.to_owned(),
                    candidates: found,
                });
            }
        };
        let orderbook_name = message_name.replacen("_message_", "_orderbook_", 1);
        Self::load(&dir.join(message_name), &dir.join(orderbook_name))
    }

    #[must_use]
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    #[must_use]
    pub fn snapshots(&self) -> &Snapshots {
        &self.snapshots
    }
}

/// Where the LOBSTER sample files are: `$BOURSE_LOBSTER_DIR` if set, else
/// `<workspace_root>/../shared/data/lobster`.
#[must_use]
pub fn data_dir(workspace_root: &Path) -> PathBuf {
    std::env::var_os("BOURSE_LOBSTER_DIR").map_or_else(
        || {
            workspace_root
                .join("..")
                .join("shared")
                .join("data")
                .join("lobster")
        },
        PathBuf::from,
    )
}

// ------------------------------------------------------------------------------- errors

/// Why a LOBSTER file could not be read.
#[derive(Debug)]
pub enum LobsterError {
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A malformed row. `line` is the 1-based line of the file, counting a header.
    Parse {
        path: Option<PathBuf>,
        line: usize,
        reason: String,
    },
    RowCountMismatch {
        messages: usize,
        orderbook: usize,
    },
    Empty,
    NotFound {
        dir: PathBuf,
        ticker: String,
        candidates: Vec<String>,
    },
}

impl fmt::Display for LobsterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Self::Parse {
                path: Some(path),
                line,
                reason,
            } => {
                write!(f, "{}:{line}: {reason}", path.display())
            }
            Self::Parse {
                path: None,
                line,
                reason,
            } => write!(f, "line {line}: {reason}"),
            Self::RowCountMismatch {
                messages,
                orderbook,
            } => write!(
                f,
                "message file has {messages} rows but orderbook file has {orderbook}; they must pair up"
            ),
            Self::Empty => f.write_str("the files hold no messages"),
            Self::NotFound {
                dir,
                ticker,
                candidates,
            } => write!(
                f,
                "expected exactly one {ticker}_*_message_*.csv in {}, found {candidates:?}",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for LobsterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn with_path(path: &Path) -> impl FnOnce(LobsterError) -> LobsterError + '_ {
    move |e| match e {
        LobsterError::Parse {
            path: None,
            line,
            reason,
        } => LobsterError::Parse {
            path: Some(path.to_path_buf()),
            line,
            reason,
        },
        other => other,
    }
}

// ------------------------------------------------------------------------------- parsing

/// Reads a message file (see [`parse_messages`]).
pub fn read_messages(path: &Path) -> Result<Vec<Message>, LobsterError> {
    let text = std::fs::read_to_string(path).map_err(|source| LobsterError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_messages(&text).map_err(with_path(path))
}

/// Reads an orderbook file (see [`parse_orderbook`]).
pub fn read_orderbook(path: &Path) -> Result<Snapshots, LobsterError> {
    let text = std::fs::read_to_string(path).map_err(|source| LobsterError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_orderbook(&text).map_err(with_path(path))
}

/// The data lines of a file with their 1-based line numbers: an optional header (a first
/// line starting with a letter) is skipped, a final newline is optional, CRLF is accepted.
fn data_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|&(n, l)| !(n == 1 && l.starts_with(|c: char| c.is_ascii_alphabetic())))
}

fn parse_err(line: usize, reason: impl Into<String>) -> LobsterError {
    LobsterError::Parse {
        path: None,
        line,
        reason: reason.into(),
    }
}

fn int<T: std::str::FromStr>(line: usize, what: &str, s: &str) -> Result<T, LobsterError> {
    s.parse()
        .map_err(|_| parse_err(line, format!("{what} {s:?} is not a valid integer here")))
}

/// `seconds[.fraction]` after midnight, up to 9 decimals, to nanoseconds.
fn parse_time(line: usize, s: &str) -> Result<u64, LobsterError> {
    let bad = || {
        parse_err(
            line,
            format!("time {s:?} is not seconds with at most 9 decimals"),
        )
    };
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    if secs.is_empty()
        || frac.len() > 9
        || !secs.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let secs: u64 = secs.parse().map_err(|_| bad())?;
    let mut nanos: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| bad())?
    };
    for _ in frac.len()..9 {
        nanos *= 10;
    }
    secs.checked_mul(1_000_000_000)
        .and_then(|t| t.checked_add(nanos))
        .ok_or_else(bad)
}

/// Parses a message file: `time,type,order_id,size,price,direction` per row.
pub fn parse_messages(text: &str) -> Result<Vec<Message>, LobsterError> {
    let mut out = Vec::with_capacity(text.len() / 32);
    for (line, row) in data_lines(text) {
        let mut f = row.split(',');
        let (Some(time), Some(kind), Some(id), Some(size), Some(price), Some(dir), None) = (
            f.next(),
            f.next(),
            f.next(),
            f.next(),
            f.next(),
            f.next(),
            f.next(),
        ) else {
            return Err(parse_err(
                line,
                format!("expected 6 comma-separated fields, got {row:?}"),
            ));
        };
        let time_ns = parse_time(line, time)?;
        let code: u8 = int(line, "type", kind)?;
        let kind = MessageKind::from_code(code)
            .ok_or_else(|| parse_err(line, format!("unknown message type {code}")))?;
        let id: i64 = int(line, "order id", id)?;
        let size: u64 = int(line, "size", size)?;
        let price: i64 = int(line, "price", price)?;
        let side = match dir {
            "1" => Side::Buy,
            "-1" => Side::Sell,
            _ => {
                return Err(parse_err(
                    line,
                    format!("direction {dir:?} is neither 1 nor -1"),
                ));
            }
        };
        let order_id = if kind == MessageKind::Submit || kind.names_resting_order() {
            if id <= 0 || size == 0 || price <= 0 {
                return Err(parse_err(
                    line,
                    format!(
                        "type {code} needs a positive order id, size and price (got {id}, {size}, {price})"
                    ),
                ));
            }
            id.unsigned_abs()
        } else {
            // Hidden, cross and halt rows do not name a visible order.
            u64::try_from(id).unwrap_or(0)
        };
        out.push(Message {
            time_ns,
            kind,
            order_id: OrderId::new(order_id),
            size: Qty::shares(size),
            price: Price::from_raw(price),
            side,
        });
    }
    Ok(out)
}

/// Parses an orderbook file: per row `ask_price_1,ask_size_1,bid_price_1,bid_size_1,…` for
/// `N` levels (inferred from the first row; every row must agree).
pub fn parse_orderbook(text: &str) -> Result<Snapshots, LobsterError> {
    let mut s = Snapshots {
        levels: 0,
        asks: Vec::new(),
        bids: Vec::new(),
        ask_len: Vec::new(),
        bid_len: Vec::new(),
    };
    let mut fields: Vec<i64> = Vec::new();
    for (line, row) in data_lines(text) {
        fields.clear();
        for f in row.split(',') {
            fields.push(int(line, "field", f)?);
        }
        if s.levels == 0 {
            if fields.is_empty() || !fields.len().is_multiple_of(4) {
                return Err(parse_err(
                    line,
                    format!("{} fields is not 4 per level", fields.len()),
                ));
            }
            s.levels = fields.len() / 4;
            let rows = text.len() / (row.len() + 1) + 1;
            s.asks.reserve(rows * s.levels);
            s.bids.reserve(rows * s.levels);
        } else if fields.len() != 4 * s.levels {
            return Err(parse_err(
                line,
                format!(
                    "{} fields, but earlier rows have {} ({} levels)",
                    fields.len(),
                    4 * s.levels,
                    s.levels
                ),
            ));
        }
        for side in [Side::Sell, Side::Buy] {
            let (offset, dummy, all, lens) = match side {
                Side::Sell => (0, DUMMY_ASK, &mut s.asks, &mut s.ask_len),
                Side::Buy => (2, DUMMY_BID, &mut s.bids, &mut s.bid_len),
            };
            let mut real: u32 = 0;
            let mut prev: Option<i64> = None;
            for level in 0..s.levels {
                let (price, size) = (fields[4 * level + offset], fields[4 * level + offset + 1]);
                let here = level + 1;
                if price == dummy {
                    if size != 0 {
                        return Err(parse_err(
                            line,
                            format!("empty {side} level {here} has size {size}, not 0"),
                        ));
                    }
                    all.push(Quote {
                        price: Price::from_raw(price),
                        qty: Qty::ZERO,
                    });
                    continue;
                }
                if usize::try_from(real).ok() != Some(level) {
                    return Err(parse_err(
                        line,
                        format!("{side} level {here} follows an empty level"),
                    ));
                }
                let qty = u64::try_from(size).ok().filter(|&q| q > 0).ok_or_else(|| {
                    parse_err(line, format!("{side} level {here} has size {size}"))
                })?;
                if price <= 0 {
                    return Err(parse_err(
                        line,
                        format!("{side} level {here} has price {price}"),
                    ));
                }
                // Levels must run strictly away from the touch: asks up, bids down.
                if let Some(p) = prev
                    && (if side == Side::Sell {
                        price <= p
                    } else {
                        price >= p
                    })
                {
                    return Err(parse_err(
                        line,
                        format!(
                            "{side} level {here} price {price} is not behind level {level} price {p}"
                        ),
                    ));
                }
                prev = Some(price);
                all.push(Quote {
                    price: Price::from_raw(price),
                    qty: Qty::shares(qty),
                });
                real += 1;
            }
            lens.push(real);
        }
    }
    Ok(s)
}

// ------------------------------------------------------------------------------- replay

/// Options of a [`Replayer`].
#[derive(Clone, Debug, Default)]
pub struct ReplayOptions {
    /// The book's rules. The default tick ($0.01) fits: every visible LOBSTER price in the
    /// sample files is on whole cents (only hidden executions, which never reach the book,
    /// have half-cent prices), so an off-tick visible price fails the replay.
    pub book: BookConfig,
    /// Message numbers (1-based) of type-4 rows that are known NOT to follow price-time
    /// priority in the data; they are applied as a plain reduction of the named order.
    /// Any other type-4 row that would not hit exactly its named order is an error, and so
    /// is a listed row that would.
    pub type4_exceptions: Vec<usize>,
}

/// A type-4 row applied as a plain reduction because an aggressive order would have hit a
/// different order first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Type4Exception {
    /// Message number (1-based).
    pub number: usize,
    /// The resting order the row names (or its synthetic stand-in).
    pub named: OrderId,
    /// The order an incoming aggressive order would have met first, and its open quantity.
    pub front: OrderId,
    pub front_qty: Qty,
}

/// What one message did to the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Type 1: the order rests.
    Rested,
    /// Type 2 or 3: `target` was reduced, or removed when nothing was left.
    Amended {
        target: OrderId,
        synthetic: bool,
        removed: bool,
    },
    /// Type 4: an incoming aggressive order filled exactly the named resting order.
    Hit { maker: OrderId, synthetic: bool },
    /// Type 4 listed in [`ReplayOptions::type4_exceptions`], applied as a reduction.
    Reduced(Type4Exception),
    /// Types 5, 6, 7: nothing visible changes.
    Ignored,
}

/// One replayed message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// 1-based, the row number of the message and of its orderbook row.
    pub number: usize,
    pub message: Message,
    pub applied: Applied,
}

/// Running totals of a replay.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayStats {
    pub messages: u64,
    /// Messages per LOBSTER type code (index 0 unused).
    pub by_type: [u64; 8],
    /// Levels seeded from row 1 before message 1.
    pub seeded_levels: u64,
    /// Orderbook levels (price and size) checked against the book.
    pub levels_compared: u64,
    /// Levels that rose from depth the file never showed, taken from the orderbook row.
    pub levels_injected: u64,
    /// Book levels dropped because they fell below the visible depth.
    pub levels_dropped: u64,
    /// Type 2/3/4 rows naming an order not resting in the book (it predates the file or sat
    /// in unseen depth), applied to the level's synthetic stand-in.
    pub stand_in_targets: u64,
    /// Type-4 rows whose aggressive replay hit the named real order.
    pub hits_real: u64,
    /// Type-4 rows whose aggressive replay hit the named order's synthetic stand-in.
    pub hits_synthetic: u64,
    /// Type-4 rows applied as reductions, in order.
    pub type4_exceptions: Vec<Type4Exception>,
}

/// Why a replay stopped. After an error the replayer's book is not meaningful.
#[derive(Debug)]
pub enum ReplayError {
    /// Some message names an order id in the replayer's reserved range.
    IdsTooLarge { max: u64 },
    /// Row 1 cannot be the state after message 1 (e.g. message 1 adds more than row 1 shows).
    Seed {
        side: Side,
        price: Price,
        reason: &'static str,
    },
    /// A listed type-4 exception is not a type-4 row of this file.
    NotAnExecution { number: usize },
    /// A type 2/3/4 names an order that is not resting, and its level has no stand-in.
    UnknownOrder {
        number: usize,
        id: OrderId,
        side: Side,
        price: Price,
    },
    /// The named order rests, but on another side or price than the message says.
    WrongLevel {
        number: usize,
        id: OrderId,
        side: Side,
        price: Price,
        resting_side: Side,
        resting_price: Price,
    },
    /// The message removes more than the named order has.
    SizeExceeds {
        number: usize,
        target: OrderId,
        open: Qty,
        size: Qty,
    },
    /// A type 3 deletes a real order by a size other than its open quantity.
    PartialDelete {
        number: usize,
        id: OrderId,
        open: Qty,
        size: Qty,
    },
    /// A type 4 replayed as an aggressive order did not fill exactly the named order.
    Type4Missed {
        number: usize,
        named: OrderId,
        events: Vec<BookEvent>,
    },
    /// A listed type-4 exception would in fact have hit its named order.
    NotAnException { number: usize, named: OrderId },
    /// The book answered a request with events other than the expected ones.
    UnexpectedEvents {
        number: usize,
        action: &'static str,
        events: Vec<BookEvent>,
    },
    /// After message `number`, level `level` (1-based, best first) of `side` disagrees with the
    /// orderbook row on the part of the book that can be known.
    RowMismatch {
        number: usize,
        side: Side,
        level: usize,
        row: Option<Quote>,
        book: Option<Quote>,
    },
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IdsTooLarge { max } => {
                write!(
                    f,
                    "order id {max} is in the replayer's reserved range (>= {RESERVED_IDS})"
                )
            }
            Self::Seed {
                side,
                price,
                reason,
            } => {
                write!(
                    f,
                    "cannot seed the book from row 1: {side} level {price}: {reason}"
                )
            }
            Self::NotAnExecution { number } => {
                write!(
                    f,
                    "type-4 exception {number} is not a type-4 row of this file"
                )
            }
            Self::UnknownOrder {
                number,
                id,
                side,
                price,
            } => write!(
                f,
                "message {number}: order {id} is not resting and {side} level {price} has no stand-in for it"
            ),
            Self::WrongLevel {
                number,
                id,
                side,
                price,
                resting_side,
                resting_price,
            } => write!(
                f,
                "message {number}: order {id} named at {side} {price} rests at {resting_side} {resting_price}"
            ),
            Self::SizeExceeds {
                number,
                target,
                open,
                size,
            } => {
                write!(
                    f,
                    "message {number}: removes {size} from order {target} which has {open}"
                )
            }
            Self::PartialDelete {
                number,
                id,
                open,
                size,
            } => {
                write!(
                    f,
                    "message {number}: deletes {size} of order {id} which has {open}"
                )
            }
            Self::Type4Missed {
                number,
                named,
                events,
            } => write!(
                f,
                "message {number}: execution of order {named} replayed as an aggressive order gave {events:?}"
            ),
            Self::NotAnException { number, named } => write!(
                f,
                "message {number}: listed as a type-4 exception, but an aggressive order would hit {named} as named"
            ),
            Self::UnexpectedEvents {
                number,
                action,
                events,
            } => {
                write!(
                    f,
                    "message {number}: {action}: unexpected book events {events:?}"
                )
            }
            Self::RowMismatch {
                number,
                side,
                level,
                row,
                book,
            } => write!(
                f,
                "after message {number}, {side} level {level}: orderbook row has {}, book has {}",
                show(*row),
                show(*book)
            ),
        }
    }
}

fn show(q: Option<Quote>) -> String {
    q.map_or_else(
        || "nothing".to_owned(),
        |q| format!("{} x {}", q.price, q.qty),
    )
}

impl std::error::Error for ReplayError {}

/// The resolved target of a type 2/3/4 row.
#[derive(Clone, Copy)]
struct Target {
    id: OrderId,
    price: Price,
    open: Qty,
    synthetic: bool,
}

const fn side_index(side: Side) -> usize {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

/// Whether `a` is a strictly better price than `b` on `side`.
fn better(side: Side, a: Price, b: Price) -> bool {
    match side {
        Side::Buy => a > b,
        Side::Sell => a < b,
    }
}

/// Whether `id` is one of the replayer's synthetic stand-ins for orders the file never added.
#[must_use]
pub fn is_synthetic(id: OrderId) -> bool {
    (SYNTHETIC_BASE..TAKER_BASE).contains(&id.get())
}

/// Drives an [`OrderBook`] through a [`Day`], message by message, and checks it against the
/// orderbook file after each one.
///
/// The book holds exactly the visible book (the top `N` levels per side):
/// - **Seed.** The state before message 1 is row 1 with message 1's effect undone, one
///   synthetic order per level carrying the level's size.
/// - **Type 1** rests a limit order. **Type 2** reduces the named order in place (a replace at
///   the same price and lower quantity, which keeps time priority); **type 3** cancels it.
/// - **Type 4** is replayed as an incoming immediate-or-cancel order on the opposite side at
///   the message's price and size; its fills must be exactly one fill of the named order.
/// - An order the book does not hold (it predates the file, or rested in depth the file never
///   showed) is stood in for by the level's synthetic order, which is always its first.
/// - **Types 5–7** change nothing visible.
/// - **After each message** the part of row k that can be known — the levels at or better
///   than the worst level shown in row k−1, or all of them when row k−1 showed fewer than `N`
///   — must equal the book's levels there, price and size. A level of row k beyond that
///   part rose from unseen depth and is seeded as a synthetic order; book levels that fell
///   below the shown depth are dropped, since the file stops reporting changes to them.
#[derive(Debug)]
pub struct Replayer<'d> {
    day: &'d Day,
    book: OrderBook,
    /// Index of the next message.
    next: usize,
    /// Per side, the worst price shown in the last reconciled row if that side was full.
    boundary: [Option<Price>; 2],
    /// Sorted, deduplicated message numbers of the type-4 exceptions, and the first one not
    /// yet passed.
    exceptions: Vec<usize>,
    exception_cursor: usize,
    next_synthetic: u64,
    next_taker: u64,
    /// Book events of the last message, and scratch for reconciliation.
    events: Vec<BookEvent>,
    recon_events: Vec<BookEvent>,
    drop_levels: Vec<(Side, Price)>,
    drop_ids: Vec<OrderId>,
    /// Per side, where row k's unknown levels start (set by the check, used by injection).
    known: [usize; 2],
    stats: ReplayStats,
}

impl<'d> Replayer<'d> {
    /// Seeds a book with the state before message 1.
    pub fn new(day: &'d Day, options: ReplayOptions) -> Result<Self, ReplayError> {
        if day.max_order_id >= RESERVED_IDS {
            return Err(ReplayError::IdsTooLarge {
                max: day.max_order_id,
            });
        }
        let mut exceptions = options.type4_exceptions;
        exceptions.sort_unstable();
        exceptions.dedup();
        for &number in &exceptions {
            let is_execution = number
                .checked_sub(1)
                .and_then(|i| day.messages.get(i))
                .is_some_and(|m| m.kind == MessageKind::ExecuteVisible);
            if !is_execution {
                return Err(ReplayError::NotAnExecution { number });
            }
        }
        let levels = day.snapshots.levels();
        let mut stats = ReplayStats::default();
        stats.type4_exceptions.reserve(exceptions.len());
        let mut r = Self {
            day,
            // Policy: the book never holds much more than the visible depth.
            book: OrderBook::with_capacity(options.book, 64 * levels + 1024, 4 * levels + 16),
            next: 0,
            boundary: [None; 2],
            exceptions,
            exception_cursor: 0,
            next_synthetic: SYNTHETIC_BASE,
            next_taker: TAKER_BASE,
            events: Vec::with_capacity(16),
            recon_events: Vec::with_capacity(64),
            drop_levels: Vec::with_capacity(16),
            drop_ids: Vec::with_capacity(64),
            known: [0; 2],
            stats,
        };
        r.seed()?;
        Ok(r)
    }

    fn seed(&mut self) -> Result<(), ReplayError> {
        let day = self.day;
        let n = day.snapshots.levels();
        let first = day.messages[0];
        for side in [Side::Buy, Side::Sell] {
            let row = day.snapshots.side(0, side);
            let mut pre: Vec<Quote> = row.to_vec();
            if first.side == side {
                let pos = pre.iter().position(|q| q.price == first.price);
                let seed_err = |reason| ReplayError::Seed {
                    side,
                    price: first.price,
                    reason,
                };
                match first.kind {
                    MessageKind::Submit => {
                        let i =
                            pos.ok_or_else(|| seed_err("message 1 adds to a level row 1 lacks"))?;
                        let left = pre[i]
                            .qty
                            .checked_sub(first.size)
                            .ok_or_else(|| seed_err("message 1 adds more than row 1 shows"))?;
                        if left.is_zero() {
                            pre.remove(i);
                        } else {
                            pre[i].qty = left;
                        }
                    }
                    MessageKind::PartialCancel
                    | MessageKind::Delete
                    | MessageKind::ExecuteVisible => match pos {
                        Some(i) => {
                            pre[i].qty = pre[i]
                                .qty
                                .checked_add(first.size)
                                .ok_or_else(|| seed_err("level size overflows"))?;
                        }
                        None => {
                            let at = pre
                                .iter()
                                .take_while(|q| better(side, q.price, first.price))
                                .count();
                            pre.insert(
                                at,
                                Quote {
                                    price: first.price,
                                    qty: first.size,
                                },
                            );
                        }
                    },
                    MessageKind::ExecuteHidden | MessageKind::Cross | MessageKind::Halt => {}
                }
            }
            pre.truncate(n);
            for q in &pre {
                self.add_synthetic(0, side, *q)?;
            }
            self.stats.seeded_levels += pre.len() as u64;
            self.boundary[side_index(side)] = if row.len() == n {
                pre.last().map(|q| q.price)
            } else {
                None
            };
        }
        Ok(())
    }

    /// The book as replayed so far.
    #[must_use]
    pub fn book(&self) -> &OrderBook {
        &self.book
    }

    /// The book's events for the last message applied (not those of reconciliation).
    #[must_use]
    pub fn events(&self) -> &[BookEvent] {
        &self.events
    }

    /// Number of messages applied so far.
    #[must_use]
    pub fn position(&self) -> usize {
        self.next
    }

    #[must_use]
    pub fn stats(&self) -> &ReplayStats {
        &self.stats
    }

    /// The day being replayed.
    #[must_use]
    pub fn day(&self) -> &'d Day {
        self.day
    }

    /// Replays every remaining message.
    pub fn run(&mut self) -> Result<&ReplayStats, ReplayError> {
        while self.step()?.is_some() {}
        Ok(&self.stats)
    }

    /// Applies the next message and reconciles with its orderbook row; `None` at the end.
    pub fn step(&mut self) -> Result<Option<Step>, ReplayError> {
        self.step_with(|_| {})
    }

    /// As [`step`](Self::step), calling `inspect` after the message is applied and checked
    /// but before levels from unseen depth are filled in and levels below the shown depth
    /// dropped: it sees the book exactly as the messages made it.
    pub fn step_with(&mut self, inspect: impl FnOnce(&Self)) -> Result<Option<Step>, ReplayError> {
        let Some(&message) = self.day.messages.get(self.next) else {
            return Ok(None);
        };
        let index = self.next;
        let number = index + 1;
        let applied = self.apply(number, message)?;
        self.next += 1;
        self.stats.messages += 1;
        self.stats.by_type[usize::from(message.kind.code())] += 1;
        self.check_row(number, index)?;
        inspect(self);
        self.reconcile(index)?;
        Ok(Some(Step {
            number,
            message,
            applied,
        }))
    }

    fn apply(&mut self, number: usize, m: Message) -> Result<Applied, ReplayError> {
        self.events.clear();
        match m.kind {
            MessageKind::Submit => {
                let o = NewOrder::limit(
                    m.order_id.get(),
                    REAL_OWNER,
                    m.side,
                    m.price,
                    m.size.whole_shares(),
                );
                self.book.submit(&o, &mut self.events);
                match self.events.as_slice() {
                    [BookEvent::Accepted { .. }, BookEvent::Rested { qty, .. }]
                        if *qty == m.size =>
                    {
                        Ok(Applied::Rested)
                    }
                    _ => Err(self.unexpected(number, "add")),
                }
            }
            MessageKind::PartialCancel => {
                let t = self.resolve(number, m)?;
                let open = self.shrink(number, t, m.size)?;
                Ok(Applied::Amended {
                    target: t.id,
                    synthetic: t.synthetic,
                    removed: open.is_zero(),
                })
            }
            MessageKind::Delete => {
                let t = self.resolve(number, m)?;
                if !t.synthetic && t.open != m.size {
                    return Err(ReplayError::PartialDelete {
                        number,
                        id: t.id,
                        open: t.open,
                        size: m.size,
                    });
                }
                let open = self.shrink(number, t, m.size)?;
                Ok(Applied::Amended {
                    target: t.id,
                    synthetic: t.synthetic,
                    removed: open.is_zero(),
                })
            }
            MessageKind::ExecuteVisible => {
                let t = self.resolve(number, m)?;
                if self.is_exception(number) {
                    self.execute_as_reduction(number, m, t)
                } else {
                    self.execute_aggressively(number, m, t)
                }
            }
            MessageKind::ExecuteHidden | MessageKind::Cross | MessageKind::Halt => {
                Ok(Applied::Ignored)
            }
        }
    }

    /// The named order if it rests, else the synthetic stand-in at the head of its level.
    fn resolve(&mut self, number: usize, m: Message) -> Result<Target, ReplayError> {
        if let Some(o) = self.book.order(m.order_id) {
            if o.side != m.side || o.price != m.price {
                return Err(ReplayError::WrongLevel {
                    number,
                    id: m.order_id,
                    side: m.side,
                    price: m.price,
                    resting_side: o.side,
                    resting_price: o.price,
                });
            }
            return Ok(Target {
                id: o.id,
                price: o.price,
                open: o.qty,
                synthetic: false,
            });
        }
        match self.book.orders_at(m.side, m.price).next() {
            Some(o) if is_synthetic(o.id) => {
                self.stats.stand_in_targets += 1;
                Ok(Target {
                    id: o.id,
                    price: o.price,
                    open: o.qty,
                    synthetic: true,
                })
            }
            _ => Err(ReplayError::UnknownOrder {
                number,
                id: m.order_id,
                side: m.side,
                price: m.price,
            }),
        }
    }

    /// Takes `size` off `t` in place (keeping its priority), removing it at zero. Returns
    /// what is left.
    fn shrink(&mut self, number: usize, t: Target, size: Qty) -> Result<Qty, ReplayError> {
        let open = t.open.checked_sub(size).ok_or(ReplayError::SizeExceeds {
            number,
            target: t.id,
            open: t.open,
            size,
        })?;
        if open.is_zero() {
            self.book.cancel(t.id, &mut self.events);
            match self.events.as_slice() {
                [
                    BookEvent::Canceled {
                        reason: CancelReason::Requested,
                        ..
                    },
                ] => Ok(open),
                _ => Err(self.unexpected(number, "cancel")),
            }
        } else {
            self.book.replace(t.id, t.price, open, &mut self.events);
            match self.events.as_slice() {
                [
                    BookEvent::Replaced {
                        priority: Priority::Kept,
                        qty,
                        ..
                    },
                ] if *qty == open => Ok(open),
                _ => Err(self.unexpected(number, "reduce in place")),
            }
        }
    }

    fn execute_aggressively(
        &mut self,
        number: usize,
        m: Message,
        t: Target,
    ) -> Result<Applied, ReplayError> {
        let id = self.next_taker;
        self.next_taker += 1;
        let o = NewOrder::limit(
            id,
            TAKER_OWNER,
            m.side.opposite(),
            m.price,
            m.size.whole_shares(),
        )
        .with_tif(TimeInForce::Ioc);
        self.book.submit(&o, &mut self.events);
        match self.events.as_slice() {
            [
                BookEvent::Accepted { .. },
                BookEvent::Fill {
                    maker,
                    qty,
                    taker_leaves,
                    ..
                },
            ] if *maker == t.id && *qty == m.size && taker_leaves.is_zero() => {
                if t.synthetic {
                    self.stats.hits_synthetic += 1;
                } else {
                    self.stats.hits_real += 1;
                }
                Ok(Applied::Hit {
                    maker: t.id,
                    synthetic: t.synthetic,
                })
            }
            _ => Err(ReplayError::Type4Missed {
                number,
                named: t.id,
                events: self.events.clone(),
            }),
        }
    }

    fn execute_as_reduction(
        &mut self,
        number: usize,
        m: Message,
        t: Target,
    ) -> Result<Applied, ReplayError> {
        // What an incoming order on the other side would meet first: the head of the best level.
        let front = self.book.orders(m.side).next();
        let Some(front) = front.filter(|f| f.id != t.id || f.qty < m.size) else {
            return Err(ReplayError::NotAnException {
                number,
                named: t.id,
            });
        };
        self.shrink(number, t, m.size)?;
        let e = Type4Exception {
            number,
            named: t.id,
            front: front.id,
            front_qty: front.qty,
        };
        self.stats.type4_exceptions.push(e);
        Ok(Applied::Reduced(e))
    }

    fn is_exception(&mut self, number: usize) -> bool {
        while self
            .exceptions
            .get(self.exception_cursor)
            .is_some_and(|&e| e < number)
        {
            self.exception_cursor += 1;
        }
        self.exceptions.get(self.exception_cursor) == Some(&number)
    }

    fn add_synthetic(&mut self, number: usize, side: Side, q: Quote) -> Result<(), ReplayError> {
        let id = self.next_synthetic;
        self.next_synthetic += 1;
        let o = NewOrder::limit(id, SYNTHETIC_OWNER, side, q.price, q.qty.whole_shares());
        self.recon_events.clear();
        self.book.submit(&o, &mut self.recon_events);
        match self.recon_events.as_slice() {
            [BookEvent::Accepted { .. }, BookEvent::Rested { .. }] => Ok(()),
            _ => Err(ReplayError::UnexpectedEvents {
                number,
                action: "seed a level from the orderbook row",
                events: self.recon_events.clone(),
            }),
        }
    }

    fn unexpected(&self, number: usize, action: &'static str) -> ReplayError {
        ReplayError::UnexpectedEvents {
            number,
            action,
            events: self.events.clone(),
        }
    }

    /// Compares the knowable part of row `index` with the book and lists the book levels
    /// that fell below the shown depth.
    fn check_row(&mut self, number: usize, index: usize) -> Result<(), ReplayError> {
        let n = self.day.snapshots.levels();
        self.drop_levels.clear();
        for side in [Side::Buy, Side::Sell] {
            let row = self.day.snapshots.side(index, side);
            let boundary = self.boundary[side_index(side)];
            let in_view = |p: Price| boundary.is_none_or(|b| !better(side, b, p));
            let known = row.iter().take_while(|q| in_view(q.price)).count();
            let mismatch = |level: usize, book: Option<Quote>| ReplayError::RowMismatch {
                number,
                side,
                level: level + 1,
                row: row.get(level).copied(),
                book,
            };
            let mut depth = self.book.depth(side, usize::MAX).map(|l| Quote {
                price: l.price,
                qty: l.qty,
            });
            for (level, q) in row[..known].iter().enumerate() {
                match depth.next() {
                    Some(b) if b == *q => {}
                    other => return Err(mismatch(level, other)),
                }
            }
            for b in depth {
                // Beyond a full known part a level is merely not shown; short of it, a book
                // level in view is one the row lacks.
                if known < n && in_view(b.price) {
                    return Err(mismatch(known, Some(b)));
                }
                // Only levels behind everything row k shows can have fallen out of view.
                match row.last() {
                    Some(last) if row.len() == n && better(side, last.price, b.price) => {
                        self.drop_levels.push((side, b.price));
                    }
                    _ => return Err(mismatch(row.len(), Some(b))),
                }
            }
            self.known[side_index(side)] = known;
            self.stats.levels_compared += known as u64;
        }
        Ok(())
    }

    /// Drops the levels found by [`check_row`](Self::check_row) to have fallen out of view,
    /// seeds the levels of row `index` that rose from unseen depth, and moves the boundary.
    fn reconcile(&mut self, index: usize) -> Result<(), ReplayError> {
        let number = index + 1;
        let n = self.day.snapshots.levels();
        for &(side, price) in &self.drop_levels {
            self.drop_ids.clear();
            self.drop_ids
                .extend(self.book.orders_at(side, price).map(|o| o.id));
            self.recon_events.clear();
            for &id in &self.drop_ids {
                self.book.cancel(id, &mut self.recon_events);
            }
            if self.book.qty_at(side, price) != Qty::ZERO {
                return Err(ReplayError::UnexpectedEvents {
                    number,
                    action: "drop a level below the shown depth",
                    events: self.recon_events.clone(),
                });
            }
            self.stats.levels_dropped += 1;
        }
        for side in [Side::Buy, Side::Sell] {
            let row = self.day.snapshots.side(index, side);
            let known = self.known[side_index(side)];
            for &q in &row[known..] {
                self.add_synthetic(number, side, q)?;
            }
            self.stats.levels_injected += (row.len() - known) as u64;
            self.boundary[side_index(side)] = if row.len() == n {
                row.last().map(|q| q.price)
            } else {
                None
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_with_and_without_header_and_final_newline() {
        let body = "34200.004241176,1,16113575,18,5853300,1\r\n34200.1,5,0,7,5853350,-1\n34201,7,0,0,-1,-1";
        let a = parse_messages(body).unwrap();
        let b =
            parse_messages(&format!("Time,Type,OrderId,Size,Price,Direction\n{body}\n")).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].time_ns, 34_200_004_241_176);
        assert_eq!(a[1].time_ns, 34_200_100_000_000);
        assert_eq!(a[2].time_ns, 34_201_000_000_000);
        assert_eq!(a[0].price, Price::from_raw(5_853_300));
        assert_eq!((a[0].side, a[1].side), (Side::Buy, Side::Sell));
        assert_eq!(a[2].kind, MessageKind::Halt);
    }

    #[test]
    fn message_errors_name_the_line_and_the_input() {
        let cases = [
            ("1.0,1,5,10,100,2", "line 1: direction \"2\""),
            (
                "1.0,1,5,10,100,1\n1.0,9,5,10,100,1",
                "line 2: unknown message type 9",
            ),
            (
                "1.0,1,5,10,100",
                "line 1: expected 6 comma-separated fields",
            ),
            (
                "1.0,3,5,0,100,1",
                "line 1: type 3 needs a positive order id, size and price",
            ),
            ("1.0000000001,1,5,1,100,1", "line 1: time \"1.0000000001\""),
            ("1.0,1,5,x,100,1", "line 1: size \"x\""),
            ("h\n\n", "line 2: expected 6"),
        ];
        for (text, expected) in cases {
            let e = parse_messages(text).unwrap_err().to_string();
            assert!(e.starts_with(expected), "{text:?}: {e}");
        }
    }

    #[test]
    fn orderbook_rows_drop_dummies_and_check_order() {
        let s =
            parse_orderbook("101,5,99,7,102,3,-9999999999,0\n9999999999,0,99,7,9999999999,0,98,1")
                .unwrap();
        assert_eq!((s.levels(), s.len()), (2, 2));
        let q = |p, n| Quote {
            price: Price::from_raw(p),
            qty: Qty::shares(n),
        };
        assert_eq!(s.side(0, Side::Sell), &[q(101, 5), q(102, 3)]);
        assert_eq!(s.side(0, Side::Buy), &[q(99, 7)]);
        assert_eq!(s.side(1, Side::Sell), &[]);
        assert_eq!(s.side(1, Side::Buy), &[q(99, 7), q(98, 1)]);

        for (text, expected) in [
            (
                "101,5,99,7,100,3,98,1",
                "line 1: sell level 2 price 100 is not behind",
            ),
            (
                "101,5,99,7\n101,5,99",
                "line 2: 3 fields, but earlier rows have 4",
            ),
            (
                "9999999999,0,99,7,102,3,98,1",
                "line 1: sell level 2 follows an empty level",
            ),
            ("9999999999,4,99,7", "line 1: empty sell level 1 has size 4"),
            ("101,0,99,7", "line 1: sell level 1 has size 0"),
        ] {
            let e = parse_orderbook(text).unwrap_err().to_string();
            assert!(e.starts_with(expected), "{text:?}: {e}");
        }
    }

    fn day(messages: &str, book: &str) -> Day {
        Day::new(
            parse_messages(messages).unwrap(),
            parse_orderbook(book).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn replays_a_tiny_day_with_stand_ins_and_an_aggressive_execution() {
        // Row 1 minus message 1 (an add of 5 at 0.99) leaves 0.99 x 7 and 1.01 x 4 from before
        // the file, stood in for by synthetic orders. Message 2 executes 3 of those 7, in front
        // of order 10; message 3 deletes the other 4; message 4 executes order 10.
        let d = day(
            "1.0,1,10,5,9900,1\n1.1,4,7,3,9900,1\n1.2,3,8,4,9900,1\n1.3,4,10,5,9900,1",
            "10100,4,9900,12\n10100,4,9900,9\n10100,4,9900,5\n10100,4,-9999999999,0",
        );
        let mut r = Replayer::new(&d, ReplayOptions::default()).unwrap();
        let steps: Vec<Applied> = std::iter::from_fn(|| r.step().unwrap())
            .map(|s| s.applied)
            .collect();
        assert!(matches!(
            steps[1],
            Applied::Hit {
                synthetic: true,
                ..
            }
        ));
        assert!(matches!(
            steps[2],
            Applied::Amended {
                synthetic: true,
                removed: true,
                ..
            }
        ));
        assert_eq!(
            steps[3],
            Applied::Hit {
                maker: OrderId::new(10),
                synthetic: false
            }
        );
        let s = r.stats();
        assert_eq!(
            (s.hits_real, s.hits_synthetic, s.stand_in_targets),
            (1, 1, 2)
        );
        assert_eq!(s.levels_compared, 7);
    }

    #[test]
    fn a_fifo_violation_in_the_data_is_an_error_unless_listed() {
        // Two orders at 99; the file executes the newer one (11) first.
        let msgs = "1.0,1,10,5,9900,1\n1.1,1,11,5,9900,1\n1.2,4,11,5,9900,1";
        let book = "10100,4,9900,5\n10100,4,9900,10\n10100,4,9900,5";
        let d = day(msgs, book);
        let e = Replayer::new(&d, ReplayOptions::default())
            .unwrap()
            .run()
            .unwrap_err();
        assert!(
            matches!(e, ReplayError::Type4Missed { number: 3, .. }),
            "{e}"
        );

        let opts = ReplayOptions {
            type4_exceptions: vec![3],
            ..ReplayOptions::default()
        };
        let mut r = Replayer::new(&d, opts).unwrap();
        let s = r.run().unwrap();
        let front = OrderId::new(10);
        assert_eq!(
            s.type4_exceptions,
            vec![Type4Exception {
                number: 3,
                named: OrderId::new(11),
                front,
                front_qty: Qty::shares(5)
            }]
        );

        let opts = ReplayOptions {
            type4_exceptions: vec![2],
            ..ReplayOptions::default()
        };
        assert!(matches!(
            Replayer::new(&d, opts),
            Err(ReplayError::NotAnExecution { number: 2 })
        ));
    }

    #[test]
    fn a_book_that_disagrees_with_the_row_is_reported() {
        let d = day(
            "1.0,1,10,5,9900,1\n1.1,3,10,5,9900,1",
            "10100,4,9900,5\n10100,4,9900,4",
        );
        let e = Replayer::new(&d, ReplayOptions::default())
            .unwrap()
            .run()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "after message 2, buy level 1: orderbook row has 0.99 x 4, book has nothing"
        );
    }
}
