/**
 * The server's JSON shapes (docs/PROTOCOL.md). Money, prices and quantities are strings;
 * quantities may have up to 6 decimals (fractional shares: `"0.5"`, `"1.234567"`), whole
 * numbers stay `"100"`.
 */

export type Side = 'buy' | 'sell';
/** `trailing_stop`: a stop that follows the price by `trail_price` dollars or `trail_percent` percent. */
export type OrderType = 'limit' | 'market' | 'stop' | 'stop_limit' | 'trailing_stop';
export type TimeInForce = 'day' | 'gtc' | 'ioc' | 'fok' | 'opg' | 'cls';
/** `simple` (the default), or a class of orders placed together (Alpaca's `order_class`). */
export type OrderClass = 'simple' | 'bracket' | 'oco' | 'oto';
/** An order's part in its class. */
export type LegRole = 'entry' | 'take_profit' | 'stop_loss';
export type OrderStatus =
  | 'held'
  | 'new'
  | 'partially_filled'
  | 'filled'
  | 'canceled'
  | 'expired'
  | 'rejected';

export interface Quote {
  seq: number;
  status: string;
  last: string | null;
  bid: string | null;
  bid_size: string | null;
  ask: string | null;
  ask_size: string | null;
  open: string | null;
  high: string | null;
  low: string | null;
  volume: string;
  trades: number;
  prev_close: string;
  change: string;
  change_pct: string;
  last_trade_at: string | null;
}

export interface Stock {
  symbol: string;
  name: string;
  tick: string;
  lot: string;
  max_qty: string;
  /** Trades fractional shares and takes notional (dollar) orders; absent from older answers: false. */
  fractionable?: boolean;
  quote: Quote | null;
  /** Whatever else a profile carries (shown as is). */
  [extra: string]: unknown;
}

export interface StockPage {
  items: Stock[];
  page: number;
  size: number;
  total: number;
}

/** `[price, shares, orders]`. */
export type Level = [string, string, string];

export interface BookSnapshot {
  symbol: string;
  seq: number;
  status: string;
  bids: Level[];
  asks: Level[];
}

export interface Trade {
  trade_id: string;
  price: string;
  qty: string;
  side: Side;
  ts: string;
  seq: number;
}

export interface Candle {
  start: string;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  trades: number;
}

export interface Fill {
  trade_id: string;
  price: string;
  qty: string;
  liquidity: string;
  fee: string;
  timestamp?: string;
}

export interface Order {
  id: string;
  client_order_id: string | null;
  account_id: string;
  symbol: string;
  side: Side;
  type: OrderType;
  time_in_force: TimeInForce;
  /** Shares; for a notional order, what the engine computed from the book when it accepted it. */
  qty: string;
  /** A notional order's dollar amount (`"250.00"`); null (or absent from older answers) otherwise. */
  notional?: string | null;
  limit_price: string | null;
  /** A stop's stop price; a trailing stop's current one (it moves as the price does). */
  stop_price: string | null;
  /** A trailing stop's trail in dollars (null or absent otherwise). */
  trail_price?: string | null;
  /** A trailing stop's trail in percent, e.g. `"1.5"` (null or absent otherwise). */
  trail_percent?: string | null;
  /**
   * A trailing stop's water mark: the highest trade since it was placed for a sell, the
   * lowest for a buy (null or absent otherwise).
   */
  hwm?: string | null;
  /** A limit DAY order that also trades in pre-market and after-hours (absent from older answers: false). */
  extended_hours?: boolean;
  status: OrderStatus;
  filled_qty: string;
  leaves_qty: string;
  filled_avg_price: string | null;
  cancel_reason: string | null;
  created_at: string;
  updated_at: string;
  seq: number;
  fills: Fill[];
  post_only?: boolean;
  /** `simple`, or the class the order belongs to (absent from older answers: simple). */
  order_class?: OrderClass;
  /** A class's id: its first order's (the entry, or an OCO's take profit). Absent for simple. */
  class_id?: string;
  /** The order's part in its class. Absent for simple. */
  leg?: LegRole;
  /** On a class's first order only (the submit's answer, `GET /v1/orders/{id}`): its exits. */
  legs?: Order[];
}

export interface Page<T> {
  items: T[];
  next: string | null;
}

export interface Account {
  account_id: string;
  cash: string;
  reserved_cash: string;
  buying_power: string;
  long_market_value: string;
  equity: string;
  /**
   * What pending bank deposits made usable at once (their instant parts): in the cash, but
   * not yet settled. Absent from older answers.
   */
  unsettled_cash?: string;
  /** Settled cash free of working buys: what a withdrawal may take. Absent from older answers. */
  withdrawable_cash?: string;
  seq: number;
}

export interface Position {
  symbol: string;
  qty: string;
  qty_available: string;
  reserved_qty: string;
  avg_entry_price: string | null;
  cost_basis: string;
  current_price: string | null;
  lastday_price: string | null;
  market_value: string;
  unrealized_pl: string;
  unrealized_pl_pct: string | null;
  realized_pl: string;
  day_change: string;
  day_change_pct: string | null;
}

export interface Portfolio {
  account_id: string;
  equity: string;
  cash: string;
  buying_power: string;
  market_value: string;
  cost_basis: string;
  unrealized_pl: string;
  unrealized_pl_pct: string | null;
  realized_pl: string;
  total_pl: string;
  day_change: string;
  day_change_pct: string | null;
  positions: number;
  seq: number;
}

export interface Activity {
  id: string;
  activity_type:
    | 'FILL'
    | 'DEPOSIT'
    | 'WITHDRAWAL'
    | 'SHARE_DEPOSIT'
    | 'DEPOSIT_RETURNED'
    | 'WITHDRAWAL_RETURNED';
  account_id: string;
  transaction_time: string;
  seq: number;
  symbol?: string;
  side?: Side;
  order_id?: string;
  trade_id?: string;
  price?: string;
  qty?: string;
  fee?: string;
  liquidity?: string;
  cum_qty?: string;
  leaves_qty?: string;
  net_amount?: string;
  balance?: string;
  position_qty?: string;
}

export interface Alert {
  id: string;
  symbol: string;
  condition: 'above' | 'below';
  price: string;
  status: 'active' | 'triggered';
  trade_price: string | null;
  triggered_at: string | null;
}

export interface Watchlist {
  id: string;
  name: string;
  symbols: string[];
  created_at: string;
  updated_at: string;
}

export interface Session {
  account_id: string;
  username: string;
  expires_at: string;
  csrf_token: string;
}

export interface Transfer {
  account_id: string;
  type: 'deposit' | 'withdraw';
  amount: string;
  cash: string;
  seq?: number;
  /** A transfer with a linked bank (`bank_id`): where it stands. */
  transfer?: BankTransfer;
}

/** `pending` (confirm the micro-deposits), `verified`, or `failed` (remove and link again). */
export type BankStatus = 'pending' | 'verified' | 'failed';

/** A linked bank account: `GET /v1/banks`, `POST /v1/banks`, `POST /v1/banks/{id}/verify`. */
export interface Bank {
  id: string;
  holder_name: string;
  /** The last four digits behind a mask: `"••••6789"`. */
  account_number_masked: string;
  routing_number: string;
  status: BankStatus;
  /** Guesses left at the micro-deposits while pending. */
  attempts_left: number;
  linked_at: string;
}

/** `GET /v1/banks/{id}/statement` (sandbox only): the bank statement's micro-deposits. */
export interface BankStatement {
  bank_id: string;
  lines: { description: string; amount: string }[];
}

export type BankTransferStatus = 'pending' | 'settled' | 'returned';

/** A transfer with a linked bank (ACH): `GET /v1/transfers`, newest first. */
export interface BankTransfer {
  id: string;
  bank_id: string;
  direction: 'deposit' | 'withdrawal';
  amount: string;
  /** The part of a deposit usable before it settles (zero for a withdrawal). */
  instant: string;
  status: BankTransferStatus;
  created_at: string;
  /** When it settles (pending) or was due to. */
  settle_at: string;
  /** When it settled or came back. */
  ended_at?: string;
  /** The bank's return code (R01, R02, R03, R10) when returned. */
  return_code?: string;
}

interface NewOrderFields {
  symbol: string;
  side: Side;
  type: OrderType;
  time_in_force: TimeInForce;
  limit_price?: string;
  stop_price?: string;
  /** A trailing stop's trail in dollars, on the tick (exactly one of the two trails). */
  trail_price?: string;
  /** A trailing stop's trail in percent: above 0, below 100, at most 2 decimals. */
  trail_percent?: string;
  client_order_id?: string;
  post_only?: boolean;
  /** Limit DAY orders only: also trades in pre-market and after-hours. */
  extended_hours?: boolean;
  /** Absent: simple. */
  order_class?: OrderClass;
  /** A limit exit: above the entry for sell exits, below for buy exits. */
  take_profit?: { limit_price: string };
  /** A stop exit (stop-limit with `limit_price`): below the entry for sell exits, above for buy exits. */
  stop_loss?: { stop_price: string; limit_price?: string };
}

/**
 * A new order: for `qty` shares (up to 6 decimals on a fractionable stock), or for a
 * `notional` dollar amount (up to 4 decimals; market DAY orders on fractionable stocks only).
 * Exactly one of the two is sent.
 */
export type NewOrder = NewOrderFields & ({ qty: string; notional?: never } | { notional: string; qty?: never });

/** The market's session (the calendar walks it through the day). */
export type MarketSession = 'closed' | 'pre_market' | 'opening_call' | 'continuous' | 'closing_call' | 'after_hours';

/** `GET /v1/clock`. Times are RFC 3339 in the exchange's time zone (the demo's runs fast). */
export interface Clock {
  timestamp: string;
  is_open: boolean;
  session: MarketSession;
  /** Null without a calendar (always open). */
  next_open: string | null;
  next_close: string | null;
}

/** A stock's call auction: `GET /v1/stocks/{symbol}/auction` and the WebSocket `auction` channel. */
export interface Auction {
  symbol: string;
  seq: number;
  /** Null before the first call (then nothing else is set on the WebSocket). */
  session: 'opening_call' | 'closing_call' | null;
  /** `indicative` while the call runs, `uncrossed` once it has. */
  state?: 'indicative' | 'uncrossed' | 'none';
  /** Null while nothing would trade. */
  price?: string | null;
  matched_qty?: string;
  imbalance_qty?: string;
  imbalance_side?: Side | null;
  reference_price?: string | null;
}

/** A news item: `GET /v1/news` and the WebSocket `news` channel (`{"type":"news", …}`). */
export interface NewsItem {
  /** Rises with each item published (newest first is highest first). */
  id: number;
  /** RFC 3339, UTC. */
  published_at: string;
  headline: string;
  /** Empty when there is none. Plain text. */
  summary: string;
  source: string;
  /** The full story; absent when there is none. Checked before it becomes a link. */
  url?: string;
  symbols: string[];
}

/** `GET /v1/news`: newest first; `next` (an id, the next page's `after`) while older items exist. */
export interface NewsPage {
  items: NewsItem[];
  next?: number | null;
}
