/**
 * The order ticket's logic: which fields an order type needs, which times in force and
 * options go with it, order classes (bracket, OCO, OTO) and their exits, shares or dollars
 * (fractional shares and notional orders, on fractionable stocks), trailing stops (a trail in
 * dollars or in percent, and where its stop sits now), checks before review (and what the
 * market's session will do with the order), the estimated cost and shares (exact, from the
 * decimal strings) and the buying-power warning.
 */
import { type Dec, add, cmp, decimalsOf, divDown, isMultiple, isZero, mul, sign, sub, toStep, toText, tryParse } from './decimal';
import * as fmt from './format';
import { sessionLabel } from './session';
import type { MarketSession, NewOrder, OrderClass, OrderType, Side, TimeInForce } from './types';

export const ORDER_TYPES: ReadonlyArray<{ value: OrderType; label: string }> = [
  { value: 'market', label: 'Market' },
  { value: 'limit', label: 'Limit' },
  { value: 'stop', label: 'Stop' },
  { value: 'stop_limit', label: 'Stop limit' },
  { value: 'trailing_stop', label: 'Trailing stop' },
];

export const TIME_IN_FORCE: ReadonlyArray<{ value: TimeInForce; label: string }> = [
  { value: 'day', label: 'Day' },
  { value: 'gtc', label: 'Good till canceled' },
  { value: 'ioc', label: 'Immediate or cancel' },
  { value: 'fok', label: 'Fill or kill' },
  { value: 'opg', label: 'On open' },
  { value: 'cls', label: 'On close' },
];

export const ORDER_CLASSES: ReadonlyArray<{ value: OrderClass; label: string }> = [
  { value: 'simple', label: 'Simple' },
  { value: 'bracket', label: 'Bracket' },
  { value: 'oco', label: 'OCO' },
  { value: 'oto', label: 'OTO' },
];

/** A class's name in a sentence: "a bracket order", "an OCO order". */
export const CLASS_NAMES: Readonly<Record<OrderClass, string>> = { simple: 'simple', bracket: 'bracket', oco: 'OCO', oto: 'OTO' };
const article = (cls: OrderClass): string => (cls === 'simple' || cls === 'bracket' ? 'A' : 'An');

/** What each class does (the ticket's help under the order class). */
export const CLASS_HELP: Readonly<Record<OrderClass, string | null>> = {
  simple: null,
  bracket:
    'An entry with two exits, a take profit and a stop loss. The exits wait until the entry stops working, then cover what it filled; when one of them trades, the other is canceled.',
  oco: 'One cancels other: a limit order at the take profit and a stop loss, both for the same shares. When one trades, the other is canceled.',
  oto: 'One triggers other: an entry with one exit, a take profit or a stop loss, which waits until the entry stops working, then covers what it filled.',
};

/** Where the exits' prices go, for the side chosen: the rule the exchange checks. */
export function exitsHelp(cls: OrderClass, side: Side): string | null {
  if (cls === 'simple') return null;
  const sells = exitSide(cls, side) === 'sell';
  if (cls === 'oco') return sells ? 'Both orders sell: the take profit above the stop loss.' : 'Both orders buy: the take profit below the stop loss.';
  return sells
    ? 'The exits sell what the entry buys: the take profit above the entry’s price, the stop loss below it.'
    : 'The exits buy back what the entry sells: the take profit below the entry’s price, the stop loss above it.';
}

/** The side of a class's exits: an OCO's are the order's own side, an entry's the other. */
export const exitSide = (cls: OrderClass, side: Side): Side => (cls === 'oco' ? side : side === 'buy' ? 'sell' : 'buy');

/** The entries a bracket or OTO takes (never a trailing stop: the exchange's `INVALID_LEGS`). */
const ENTRY_TYPES: readonly OrderType[] = ['limit', 'market', 'stop', 'stop_limit'];

/** The order types a class takes: an OCO is a limit order (at its take profit). */
export function typesFor(cls: OrderClass): ReadonlyArray<{ value: OrderType; label: string }> {
  if (cls === 'simple') return ORDER_TYPES;
  if (cls === 'oco') return ORDER_TYPES.filter((t) => t.value === 'limit');
  return ORDER_TYPES.filter((t) => ENTRY_TYPES.includes(t.value));
}

/** On open and on close: for one call auction only. */
export const isAuctionTif = (t: TimeInForce): boolean => t === 'opg' || t === 'cls';

/** Day or good till canceled: the only times in force of an order with exits. */
const isClassTif = (t: TimeInForce): boolean => t === 'day' || t === 'gtc';

/**
 * The times in force an order type takes: on open and on close are market or limit orders;
 * an order with exits (any class but simple) and a trailing stop are day or good till
 * canceled.
 */
export function tifsFor(type: OrderType, cls: OrderClass = 'simple'): ReadonlyArray<{ value: TimeInForce; label: string }> {
  if (cls !== 'simple' || type === 'trailing_stop') return TIME_IN_FORCE.filter((t) => isClassTif(t.value));
  return type === 'market' || type === 'limit' ? TIME_IN_FORCE : TIME_IN_FORCE.filter((t) => !isAuctionTif(t.value));
}

/** Extended hours (pre-market and after-hours trading) is for simple limit DAY orders only. */
export const allowsExtendedHours = (type: OrderType, tif: TimeInForce, cls: OrderClass = 'simple'): boolean => cls === 'simple' && type === 'limit' && tif === 'day';

/** Post only is for simple limit orders that rest on the book (never on open or on close). */
export const allowsPostOnly = (type: OrderType, tif: TimeInForce, cls: OrderClass = 'simple'): boolean => cls === 'simple' && type === 'limit' && !isAuctionTif(tif);

/** What an on-open or on-close order does (the ticket's help under the time in force). */
export const TIF_HELP: Partial<Record<TimeInForce, string>> = {
  opg: 'Joins the opening auction only; what it does not fill there is canceled.',
  cls: 'Joins the closing auction only; what it does not fill there is canceled.',
};

/** What the order is for: a number of shares, or a dollar amount (a notional order). */
export type AmountIn = 'shares' | 'dollars';

/** A trailing stop's trail: a distance in dollars (`trail_price`) or in percent (`trail_percent`). */
export type TrailIn = 'price' | 'percent';

/** The most decimals of a trail in percent (the exchange keeps basis points). */
export const TRAIL_PERCENT_DECIMALS = 2;

/** What a trailing stop does (the ticket's help under the order type). */
export const TRAILING_HELP =
  'A stop that follows the price: a sell’s stop sits the trail below the highest trade since you place the order, a buy’s above the lowest, and never moves back. When the price reaches it, it becomes a market order. A simple order, day or good till canceled.';

export interface TicketInput {
  side: Side;
  type: OrderType;
  tif: TimeInForce;
  /** Shares or dollars (dollars only on a fractionable stock). */
  amountIn: AmountIn;
  qty: string;
  /** The dollar amount, in dollars mode. */
  notional: string;
  limit: string;
  stop: string;
  postOnly: boolean;
  /** Sent only where allowed (limit DAY orders). */
  extendedHours: boolean;
  orderClass: OrderClass;
  /** The take profit's limit price (an OCO's own limit price). */
  takeProfit: string;
  /** The stop loss's stop price. */
  stopLoss: string;
  /** The stop loss's limit price: optional (set, the stop loss is a stop-limit). */
  stopLossLimit: string;
  /** A trailing stop's trail: in dollars or in percent. */
  trailIn: TrailIn;
  /** A trailing stop's trail: the amount, in `trailIn`'s unit. */
  trail: string;
}

/** The most decimals of a fractional share (a millionth). */
export const QTY_DECIMALS = 6;
/** The most decimals of a notional order's dollar amount. */
export const NOTIONAL_DECIMALS = 4;

/** Orders in dollars (notional) are for stocks that trade fractional shares. */
export const allowsNotional = (listing: Pick<Listing, 'symbol' | 'fractionable'>): boolean => listing.fractionable === true;

/** What an order in dollars is (the ticket's help under Buy in / Sell in). */
export const NOTIONAL_HELP = 'An order in dollars is a simple market order, good for the day: the exchange buys or sells what the amount pays for at the book’s prices when it arrives, to a millionth of a share.';

/**
 * The input after a change: an order type the class does not take becomes a limit order (an
 * OCO is one), and a time in force the order type or class does not take falls back to day.
 * An order in dollars is a simple market DAY order; on a stock that trades whole shares only
 * (when the listing is given) the ticket is in shares.
 */
export function normalize(input: TicketInput, listing?: Pick<Listing, 'symbol' | 'fractionable'>): TicketInput {
  let out = input;
  if (out.amountIn === 'dollars' && listing && !allowsNotional(listing)) out = { ...out, amountIn: 'shares' };
  if (out.amountIn === 'dollars' && (out.orderClass !== 'simple' || out.type !== 'market' || out.tif !== 'day')) {
    out = { ...out, orderClass: 'simple', type: 'market', tif: 'day' };
  }
  if (!typesFor(out.orderClass).some((t) => t.value === out.type)) out = { ...out, type: 'limit' };
  if (!tifsFor(out.type, out.orderClass).some((t) => t.value === out.tif)) out = { ...out, tif: 'day' };
  return out;
}

export interface Listing {
  symbol: string;
  tick: string;
  lot: string;
  max_qty: string;
  /** Fractional shares and notional orders (absent: whole shares only). */
  fractionable?: boolean;
}

export interface MarketRef {
  bid?: string | null;
  ask?: string | null;
  last?: string | null;
}

export const needsLimit = (t: OrderType): boolean => t === 'limit' || t === 'stop_limit';
export const needsStop = (t: OrderType): boolean => t === 'stop' || t === 'stop_limit';
export const needsTrail = (t: OrderType): boolean => t === 'trailing_stop';

// Numbers in range are the exchange's to judge (its refusal is shown with its code); only
// text that is not a number at all stops the ticket, and a quantity or an amount the stock
// cannot take (a fraction of a share where it trades whole shares only, more decimals than
// the exchange keeps).
const WHOLE = /^-?\d+$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;
const PRICE = /^-?\d+(\.\d{1,4})?$/;

/**
 * A quantity's text as the stock takes it: whole shares, or on a fractionable stock up to 6
 * decimals (what the exchange refuses with `FRACTIONAL_NOT_ALLOWED` or `INVALID_QUANTITY`).
 * Null when it is well formed; else what is wrong.
 */
export function qtyError(text: string, listing: Pick<Listing, 'symbol' | 'fractionable'>): string | null {
  const t = text.trim();
  if (!allowsNotional(listing)) {
    if (WHOLE.test(t)) return null;
    return DECIMAL.test(t) ? `${listing.symbol} trades whole shares only: enter a whole number of shares.` : 'Enter a whole number of shares, 1 or more.';
  }
  if (!DECIMAL.test(t)) return `Enter a number of shares, like 10 or 0.5 (at most ${QTY_DECIMALS} decimals).`;
  if ((decimalsOf(t) ?? 0) > QTY_DECIMALS) return `Enter at most ${QTY_DECIMALS} decimals: ${listing.symbol} trades to a millionth of a share.`;
  return null;
}

/**
 * A notional order's amount as the exchange takes it: dollars above zero with at most 4
 * decimals, on a fractionable stock. Null when it is good; else what is wrong.
 */
export function notionalError(text: string, listing: Pick<Listing, 'symbol' | 'fractionable'>): string | null {
  if (!allowsNotional(listing)) return `${listing.symbol} trades whole shares only: it takes no orders in dollars. Buy in shares.`;
  const t = text.trim();
  if (!PRICE.test(t)) return `Enter an amount in dollars, like 250 or 250.50 (at most ${NOTIONAL_DECIMALS} decimals).`;
  const d = tryParse(t);
  if (!d || sign(d) <= 0) return 'Enter an amount above zero.';
  return null;
}

/**
 * The exchange's rules for a notional order (what it refuses with `INVALID_ORDER`): a simple
 * market order, good for the day. Null when they hold.
 */
export function notionalRules(o: Pick<TicketInput, 'type' | 'tif' | 'orderClass'>): string | null {
  if (o.orderClass !== 'simple') return 'An order in dollars is a simple order: choose Simple, or buy in shares.';
  if (o.type !== 'market' || o.tif !== 'day') return 'An order in dollars is a market order, good for the day (Day).';
  return null;
}

const PERCENT = /^\d+(\.\d+)?$/;
const HUNDRED: Dec = { units: 100n, scale: 0 };

/**
 * A trailing stop's trail as the exchange takes it (what it refuses with `INVALID_TRAIL` or
 * `PRICE_OFF_TICK`): in dollars a price above zero on the tick; in percent above 0 and below
 * 100 with at most 2 decimals. Null when it is good; else what is wrong.
 */
export function trailError(text: string, trailIn: TrailIn, tick: string): string | null {
  const t = text.trim();
  if (trailIn === 'price') {
    if (!PRICE.test(t)) return 'Enter the trail in dollars, like 1.00 (at most 4 decimals).';
    const d = tryParse(t);
    if (!d || sign(d) <= 0) return 'Enter a trail above zero.';
    const step = tryParse(tick);
    if (step && !isMultiple(d, step)) return `Enter a trail on the tick: a multiple of ${fmt.price(tick)}.`;
    return null;
  }
  if (!PERCENT.test(t)) return `Enter the trail in percent, like 1 or 2.5 (at most ${TRAIL_PERCENT_DECIMALS} decimals).`;
  if ((decimalsOf(t) ?? 0) > TRAIL_PERCENT_DECIMALS) return `Enter at most ${TRAIL_PERCENT_DECIMALS} decimals: the trail is kept to a hundredth of a percent.`;
  const d = tryParse(t);
  if (!d || sign(d) <= 0 || cmp(d, HUNDRED) >= 0) return 'Enter a percentage above 0 and below 100.';
  return null;
}

/**
 * Where a trailing stop's stop sits for a water mark (the highest trade for a sell, the
 * lowest for a buy): the trail below it for a sell, above it for a buy, on the tick rounded
 * away from the market (down for a sell, up for a buy) as the exchange does. Null when the
 * trail or the mark is not a number, or there is no such positive price.
 */
export function trailingStop(side: Side, water: string | null | undefined, trail: { price?: string | null; percent?: string | null }, tick: string): Dec | null {
  const w = tryParse(water);
  if (!w || sign(w) <= 0) return null;
  let raw: Dec | null = null;
  const price = tryParse(trail.price);
  const pct = tryParse(trail.percent);
  if (price) {
    raw = side === 'sell' ? sub(w, price) : add(w, price);
  } else if (pct) {
    // water × (100 ∓ pct) / 100, exactly: the division by 100 is two more decimals.
    const m = mul(w, side === 'sell' ? sub(HUNDRED, pct) : add(HUNDRED, pct));
    raw = { units: m.units, scale: m.scale + 2 };
  }
  if (!raw) return null;
  const step = tryParse(tick) ?? { units: 0n, scale: 0 };
  const stop = toStep(raw, step, side === 'sell' ? 'down' : 'up');
  return sign(stop) > 0 ? stop : null;
}

/** A trail in words: `"$1.00"`, `"1.5%"`. */
export function trailText(trail: { price?: string | null; percent?: string | null }): string {
  if (trail.price != null) return fmt.money(trail.price);
  if (trail.percent != null) return `${trail.percent}%`;
  return fmt.DASH;
}

/** The ticket's fields an error is shown under (`exits`: the class's exits as a whole). */
export type TicketField = 'qty' | 'notional' | 'amountIn' | 'limit' | 'stop' | 'trail' | 'tif' | 'orderClass' | 'takeProfit' | 'stopLoss' | 'stopLossLimit' | 'exits';

export interface Checked {
  /** Field → what is wrong; review is refused while there are any. */
  errors: Partial<Record<TicketField, string>>;
  /** Worth a look, but the server decides. */
  warnings: string[];
  /** What the market's session will do with the order (it waits, or joins a call). */
  notes: string[];
  order: NewOrder | null;
}

/**
 * The exchange's session rules, as a warning (it will refuse the order now) or a note (where
 * the order goes). Mirrors the engine's admission: on open only until the opening auction;
 * IOC and FOK only in continuous trading; outside regular hours other orders wait for the
 * opening auction, except limit DAY orders for extended hours in pre-market and after-hours.
 */
export function sessionRules(order: Pick<NewOrder, 'type' | 'time_in_force' | 'extended_hours'>, session: MarketSession): { warning: string | null; note: string | null } {
  const tif = order.time_in_force;
  const now = sessionLabel(session).toLowerCase();
  const none = { warning: null, note: null };
  if (order.type === 'stop' || order.type === 'stop_limit' || order.type === 'trailing_stop') {
    return session === 'continuous' ? none : { warning: null, note: 'Stop orders trigger only in continuous trading.' };
  }
  if (tif === 'opg') {
    if (session === 'continuous' || session === 'closing_call') {
      return { warning: 'The opening auction has already taken place today: the exchange will refuse an on-open order until after the close.', note: null };
    }
    return session === 'opening_call' ? { warning: null, note: 'The opening auction is running: the order joins it now.' } : { warning: null, note: 'The order waits for the next opening auction.' };
  }
  if (tif === 'cls') {
    return session === 'closing_call' ? { warning: null, note: 'The closing auction is running: the order joins it now.' } : { warning: null, note: 'The order waits for the next closing auction.' };
  }
  if (tif === 'ioc' || tif === 'fok') {
    return session === 'continuous' ? none : { warning: `The market is not in continuous trading (${now}): the exchange will refuse immediate-or-cancel and fill-or-kill orders.`, note: null };
  }
  switch (session) {
    case 'continuous':
      return none;
    case 'opening_call':
    case 'closing_call':
      return { warning: null, note: `The ${now} is running: the order joins it and trades at the uncross, if at all.` };
    case 'pre_market':
    case 'after_hours':
      return order.extended_hours ? { warning: null, note: `The order trades now, in ${now}.` } : { warning: null, note: `The market is in ${now}: the order waits for the opening auction (tick Extended hours to trade now, limit day orders only).` };
    case 'closed':
      return { warning: null, note: 'The market is closed: the order waits for the opening auction.' };
  }
}

/**
 * Checks the ticket against the listing (and the market's session, when known); the order
 * to send when the input is well formed.
 */
export function check(input: TicketInput, listing: Listing, clientOrderId?: string, session?: MarketSession | null): Checked {
  const errors: Checked['errors'] = {};
  const warnings: string[] = [];
  const notes: string[] = [];
  if (input.amountIn === 'dollars') return checkNotional(input, listing, clientOrderId, session);
  const qtyText = input.qty.trim();
  const qtyWrong = qtyError(qtyText, listing);
  const q = qtyWrong ? null : tryParse(qtyText);
  if (qtyWrong || !q) {
    errors.qty = qtyWrong ?? 'Enter a number of shares.';
  } else if (sign(q) <= 0) {
    warnings.push(allowsNotional(listing) ? 'An order is for more than zero shares: the exchange will refuse this one.' : 'An order is for 1 share or more: the exchange will refuse this one.');
  } else {
    const lot = tryParse(listing.lot);
    const max = tryParse(listing.max_qty);
    if (lot && cmp(lot, { units: 1n, scale: 0 }) > 0 && !isMultiple(q, lot)) warnings.push(`${listing.symbol} trades in lots of ${fmt.qty(listing.lot)} shares.`);
    if (max && cmp(q, max) > 0) warnings.push(`The largest order for ${listing.symbol} is ${fmt.qty(listing.max_qty)} shares.`);
  }
  const price = (field: TicketField, text: string, name: string): string | undefined => {
    const t = text.trim();
    if (!PRICE.test(t)) {
      errors[field] = `Enter the ${name} as a positive price with at most 4 decimals.`;
      return undefined;
    }
    if (sign(tryParse(t) ?? { units: 0n, scale: 0 }) <= 0) {
      warnings.push(`The ${name} must be above zero: the exchange will refuse this order.`);
      return t;
    }
    const tick = tryParse(listing.tick);
    const p = tryParse(t);
    if (tick && p && !isMultiple(p, tick)) warnings.push(`The ${name} is not a multiple of the tick, ${fmt.price(listing.tick)}.`);
    return t;
  };
  const cls = input.orderClass;
  // An OCO is a limit order at its take profit: the take profit is its limit price.
  const oco = cls === 'oco';
  const type: OrderType = oco ? 'limit' : input.type;
  const limit = !oco && needsLimit(type) ? price('limit', input.limit, 'limit price') : undefined;
  const stop = needsStop(type) ? price('stop', input.stop, 'stop price') : undefined;
  let trail: string | undefined;
  if (needsTrail(type)) {
    const wrong = trailError(input.trail, input.trailIn, listing.tick);
    if (wrong) errors.trail = wrong;
    else trail = input.trail.trim();
  }
  // The exits: a bracket and an OCO need both; an OTO takes the one filled in.
  let takeProfit: string | undefined;
  let stopLoss: string | undefined;
  let stopLossLimit: string | undefined;
  if (cls !== 'simple') {
    const any = (t: string) => t.trim() !== '';
    if (cls !== 'oto' || any(input.takeProfit)) takeProfit = price('takeProfit', input.takeProfit, 'take profit');
    if (cls !== 'oto' || any(input.stopLoss) || any(input.stopLossLimit)) {
      stopLoss = price('stopLoss', input.stopLoss, 'stop loss (its stop price)');
      if (any(input.stopLossLimit)) stopLossLimit = price('stopLossLimit', input.stopLossLimit, 'stop loss’s limit price');
    }
  }
  if (!tifsFor(type).some((t) => t.value === input.tif)) {
    errors.tif = needsTrail(type) ? 'A trailing stop is Day or Good till canceled.' : 'On open and on close are for market and limit orders.';
  }
  if (Object.keys(errors).length) return { errors, warnings, notes, order: null };
  const order: NewOrder = {
    symbol: listing.symbol,
    side: input.side,
    type,
    time_in_force: input.tif,
    qty: qtyText,
  };
  if (oco) order.limit_price = takeProfit;
  if (limit !== undefined) order.limit_price = limit;
  if (stop !== undefined) order.stop_price = stop;
  if (trail !== undefined) {
    if (input.trailIn === 'price') order.trail_price = trail;
    else order.trail_percent = trail;
  }
  if (allowsPostOnly(type, input.tif, cls) && input.postOnly) order.post_only = true;
  if (allowsExtendedHours(type, input.tif, cls) && input.extendedHours) order.extended_hours = true;
  if (clientOrderId) order.client_order_id = clientOrderId;
  if (cls !== 'simple') {
    order.order_class = cls;
    if (takeProfit !== undefined) order.take_profit = { limit_price: takeProfit };
    if (stopLoss !== undefined) order.stop_loss = stopLossLimit !== undefined ? { stop_price: stopLoss, limit_price: stopLossLimit } : { stop_price: stopLoss };
  }
  const broken = classRules(order);
  if (Object.keys(broken).length) return { errors: broken, warnings, notes, order: null };
  if (session) {
    const r = sessionRules(order, session);
    if (r.warning) warnings.push(r.warning);
    if (r.note) notes.push(r.note);
  }
  return { errors, warnings, notes, order };
}

/** {@link check} for an order in dollars: a simple market DAY order for `notional` dollars. */
function checkNotional(input: TicketInput, listing: Listing, clientOrderId?: string, session?: MarketSession | null): Checked {
  const errors: Checked['errors'] = {};
  const warnings: string[] = [];
  const notes: string[] = [];
  const amount = input.notional.trim();
  const wrong = notionalError(amount, listing);
  if (wrong) errors.notional = wrong;
  // Only where a notional order can be sent at all: the stock takes them.
  const rules = wrong && !allowsNotional(listing) ? null : notionalRules(input);
  if (rules) errors.amountIn = rules;
  if (Object.keys(errors).length) return { errors, warnings, notes, order: null };
  const order: NewOrder = { symbol: listing.symbol, side: input.side, type: 'market', time_in_force: 'day', notional: amount };
  if (clientOrderId) order.client_order_id = clientOrderId;
  if (session) {
    const r = sessionRules(order, session);
    if (r.warning) warnings.push(r.warning);
    if (r.note) notes.push(r.note);
  }
  return { errors, warnings, notes, order };
}

/** What to do about a refusal of an order in dollars or for a fraction of a share. */
export function fractionalRefusalHint(code: string | null | undefined, o: NewOrder): string | null {
  if (!code) return null;
  const fractional = o.notional !== undefined || o.qty.includes('.');
  if (!fractional) return null;
  switch (code) {
    case 'INVALID_ORDER':
      return o.notional !== undefined ? 'An order in dollars is a simple market order, good for the day, on a stock that trades fractional shares.' : null;
    case 'INVALID_QUANTITY':
      return `A fraction of a share has at most ${QTY_DECIMALS} decimals.`;
    case 'INVALID_NOTIONAL':
    case 'INVALID_AMOUNT':
      return `The amount is in dollars, above zero, with at most ${NOTIONAL_DECIMALS} decimals.`;
    default:
      return null;
  }
}

/**
 * The exchange's rules for an order's class (what it refuses with `INVALID_LEGS`), on the
 * order as it would be sent: the exits the class needs, the entry that may carry them, and
 * the prices in order. For sell exits (a buy entry, or a sell OCO) the take profit is above
 * the entry's price and the stop loss below it; mirrored for buy exits. A market entry has
 * no price: its exits are only checked against each other. Field → what is wrong.
 */
export function classRules(o: NewOrder): Partial<Record<TicketField, string>> {
  const errors: Partial<Record<TicketField, string>> = {};
  const put = (f: TicketField, message: string) => {
    errors[f] ??= message;
  };
  const cls = o.order_class ?? 'simple';
  const tp = o.take_profit?.limit_price;
  const sl = o.stop_loss;
  if (cls === 'simple') {
    if (tp !== undefined || sl) put('orderClass', 'A take profit or a stop loss needs an order class: Bracket, OCO or OTO.');
    return errors;
  }
  const name = `${CLASS_NAMES[cls]} order`;
  const a = `${article(cls)} ${name}`;
  // The exits the class needs.
  if (cls === 'oto') {
    if (tp === undefined && !sl) put('exits', 'An OTO order needs one exit: enter a take profit or a stop loss.');
    if (tp !== undefined && sl) put('exits', 'An OTO order has exactly one exit: clear the take profit or the stop loss (for both, choose Bracket).');
  } else {
    if (tp === undefined) put('takeProfit', `${a} needs a take profit.`);
    if (!sl) put('stopLoss', `${a} needs a stop loss.`);
  }
  // The order that carries them.
  if (cls === 'oco') {
    const lp = tryParse(o.limit_price);
    const tpp = tryParse(tp);
    if (o.type !== 'limit' || (lp && tpp && cmp(lp, tpp) !== 0)) put('orderClass', 'An OCO order is a limit order at its take profit.');
  } else if (!ENTRY_TYPES.includes(o.type)) {
    // Never a trailing stop: it is a simple order only.
    put('orderClass', `The entry of ${article(cls).toLowerCase()} ${name} is a market, limit, stop or stop limit order.`);
  }
  if (!isClassTif(o.time_in_force)) put('tif', `${a} is Day or Good till canceled.`);
  if (o.post_only) put('orderClass', `${a} cannot be post only.`);
  if (o.extended_hours) put('orderClass', `${a} does not trade in extended hours.`);
  // The prices in order: `high` above `low` for sell exits, below for buy exits.
  const sells = exitSide(cls, o.side) === 'sell';
  const inOrder = (high: Dec, low: Dec) => (sells ? cmp(high, low) > 0 : cmp(high, low) < 0);
  const tpD = tryParse(tp);
  const stopD = tryParse(sl?.stop_price);
  const slLimitD = tryParse(sl?.limit_price);
  const entryText = cls === 'oco' ? undefined : (o.limit_price ?? o.stop_price);
  const entryD = tryParse(entryText);
  const entryName = `the entry’s ${o.limit_price !== undefined ? 'limit' : 'stop'} price, ${fmt.price(entryText)}`;
  const above = sells ? 'above' : 'below';
  const below = sells ? 'below' : 'above';
  if (tpD && entryD && !inOrder(tpD, entryD)) {
    put('takeProfit', `The take profit must be ${above} ${entryName}: it ${sells ? 'sells what the entry buys' : 'buys back what the entry sells'} at a profit.`);
  }
  if (stopD && entryD && !inOrder(entryD, stopD)) {
    put('stopLoss', `The stop loss must be ${below} ${entryName}: it ${sells ? 'sells if the price falls' : 'buys back if the price rises'}.`);
  }
  if (tpD && stopD && !inOrder(tpD, stopD)) {
    put('takeProfit', `The take profit must be ${above} the stop loss, ${fmt.price(sl?.stop_price)}.`);
  }
  // A stop-limit exit's limit is not beyond its stop on the wrong side.
  if (stopD && slLimitD && cmp(stopD, slLimitD) !== 0 && !inOrder(stopD, slLimitD)) {
    put('stopLossLimit', `The stop loss’s limit price must be at or ${below} its stop price, ${fmt.price(sl?.stop_price)}.`);
  }
  return errors;
}

/** What to do about a refusal of a trailing stop (shown under the server's code and message). */
export function trailRefusalHint(code: string | null | undefined, o: NewOrder): string | null {
  if (o.type !== 'trailing_stop' || !code) return null;
  switch (code) {
    case 'INVALID_TRAIL':
      return `A trailing stop has one trail: in dollars, above zero and on the tick; or in percent, above 0 and below 100 with at most ${TRAIL_PERCENT_DECIMALS} decimals. It has no limit or stop price of its own.`;
    case 'PRICE_OFF_TICK':
      return 'A trail in dollars must be a multiple of the stock’s tick.';
    case 'INVALID_LEGS':
      return 'A trailing stop is a simple order: it cannot be the entry of a bracket or OTO, nor part of an OCO.';
    default:
      return null;
  }
}

/** What to do about a refusal of an order with exits (shown under the server's code and message). */
export function classRefusalHint(code: string | null | undefined, o: NewOrder): string | null {
  const cls = o.order_class ?? 'simple';
  if (cls === 'simple' || !code) return null;
  switch (code) {
    case 'INVALID_LEGS':
      return 'The exchange checks an order’s exits: a bracket has a take profit and a stop loss, an OTO exactly one of them, an OCO both (and is a limit order at its take profit); the order is Day or Good till canceled, not a trailing stop, not post only or extended hours; and the prices are in order (for sell exits the take profit above the entry and the stop loss below it, mirrored for buy exits).';
    case 'INVALID_ORDER_CLASS':
      return 'The order class is one of Simple, Bracket, OCO and OTO.';
    case 'PRICE_OFF_TICK':
      return 'Every price of the order, its exits’ included, must be a multiple of the stock’s tick.';
    default:
      return null;
  }
}

export interface Estimate {
  /** The price the estimate assumes. */
  price: Dec;
  /** Where it came from (`current stop`: where a trailing stop's stop sits at the last price). */
  basis: 'limit price' | 'stop price' | 'current stop' | 'take profit' | 'best ask' | 'best bid' | 'last price';
  /** qty × price, exact; an order in dollars: its amount. */
  total: Dec;
  /** An order in dollars: the shares its amount pays for at `price` (to a millionth, rounded down). */
  shares?: Dec;
}

/**
 * An order in dollars: the shares its amount buys at the last price (else the best ask for a
 * buy, the best bid for a sell), to a millionth of a share, rounded down. The exchange buys
 * from the book when the order arrives, so it is an estimate.
 */
export function estimateNotional(amount: string, side: Side, m: MarketRef): Estimate | null {
  const total = PRICE.test(amount.trim()) ? tryParse(amount.trim()) : null;
  if (!total || sign(total) <= 0) return null;
  let price = tryParse(m.last);
  let basis: Estimate['basis'] = 'last price';
  if (!price || sign(price) <= 0) {
    price = tryParse(side === 'buy' ? m.ask : m.bid);
    basis = side === 'buy' ? 'best ask' : 'best bid';
  }
  if (!price || sign(price) <= 0) return null;
  const shares = divDown(total, price, QTY_DECIMALS);
  return shares ? { price, basis, total, shares } : null;
}

/**
 * qty × the price the order would likely trade at (exact; fees not included). A trailing
 * stop's is its stop at the last price (on the stock's `tick`, when given), else the book's.
 */
export function estimate(input: TicketInput, m: MarketRef, tick?: string): Estimate | null {
  if (input.amountIn === 'dollars') return estimateNotional(input.notional, input.side, m);
  const q = DECIMAL.test(input.qty.trim()) ? tryParse(input.qty.trim()) : null;
  if (!q) return null;
  let price: Dec | null;
  let basis: Estimate['basis'];
  const stopNow = input.type === 'trailing_stop' && tick !== undefined && trailError(input.trail, input.trailIn, tick) === null ? trailingStop(input.side, m.last, trailOf(input), tick) : null;
  if (input.orderClass === 'oco') {
    // An OCO is a limit order at its take profit.
    price = tryParse(input.takeProfit.trim());
    basis = 'take profit';
  } else if (needsLimit(input.type)) {
    price = tryParse(input.limit.trim());
    basis = 'limit price';
  } else if (input.type === 'stop') {
    price = tryParse(input.stop.trim());
    basis = 'stop price';
  } else if (stopNow) {
    price = stopNow;
    basis = 'current stop';
  } else {
    const book = input.side === 'buy' ? m.ask : m.bid;
    price = tryParse(book);
    basis = input.side === 'buy' ? 'best ask' : 'best bid';
    if (!price) {
      price = tryParse(m.last);
      basis = 'last price';
    }
  }
  if (!price) return null;
  return { price, basis, total: mul(q, price) };
}

/** A warning when a buy's estimate passes the buying power, or a sell passes the shares held. */
export function fundsWarning(input: TicketInput, est: Estimate | null, buyingPower: string | null | undefined, sharesAvailable: string | null | undefined): string | null {
  if (input.side === 'buy') {
    const bp = tryParse(buyingPower);
    if (est && bp && cmp(est.total, bp) > 0) {
      return `The estimated cost, ${fmt.money(toText(est.total))}, is more than your buying power, ${fmt.money(buyingPower)}.`;
    }
    return null;
  }
  const have = tryParse(sharesAvailable ?? '0');
  const want = input.amountIn === 'dollars' ? (est?.shares ?? null) : DECIMAL.test(input.qty.trim()) ? tryParse(input.qty.trim()) : null;
  if (have && want && !isZero(want) && cmp(want, have) > 0) {
    return input.amountIn === 'dollars'
      ? `The amount is about ${fmt.qty(toText(want))} shares: you have ${fmt.qty(toText(have))} shares available to sell.`
      : `You have ${fmt.qty(toText(have))} shares available to sell.`;
  }
  return null;
}

/** The ticket's trail as the two wire fields (one of them set). */
const trailOf = (input: Pick<TicketInput, 'trailIn' | 'trail'>): { price?: string; percent?: string } =>
  input.trailIn === 'price' ? { price: input.trail.trim() } : { percent: input.trail.trim() };

/** A fresh client order id (the same one is resent if the outcome was unknown). */
export function newClientOrderId(): string {
  const bytes = new Uint8Array(9);
  crypto.getRandomValues(bytes);
  return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * Where a trailing stop's trail sits, in words: `"trailing stop $1.00 below the high"`, with
 * the stop at the `last` price when it is known (and the `tick` given): `"… (now stop
 * 189.00)"`.
 */
export function trailingPhrase(o: Pick<NewOrder, 'side' | 'trail_price' | 'trail_percent'>, last?: string | null, tick?: string): string {
  const trail = { price: o.trail_price ?? null, percent: o.trail_percent ?? null };
  const where = o.side === 'sell' ? 'below the high' : 'above the low';
  const now = tick !== undefined ? trailingStop(o.side, last, trail, tick) : null;
  return `trailing stop ${trailText(trail)} ${where}${now ? ` (now stop ${fmt.price(now)})` : ''}`;
}

/**
 * A one-line description: "Buy 10 AAPL, limit 190.00, good till canceled"; with exits
 * "…; bracket: take profit 195.00, stop loss 185.00 limit 184.50"; in dollars "Buy $250.00
 * of AAPL at market, day"; a trailing stop "Sell 10 AAPL, trailing stop $1.00 below the high
 * (now stop 189.00), day" (its stop now from `market.last` on `market.tick`, when given).
 */
export function describe(o: NewOrder, market?: { last?: string | null; tick: string }): string {
  const what = o.notional !== undefined ? `${fmt.money(o.notional)} of ${o.symbol}` : `${fmt.qty(o.qty)} ${o.symbol}`;
  let head = `${o.side === 'buy' ? 'Buy' : 'Sell'} ${what}`;
  if (o.type === 'market') head += ' at market';
  const parts = [head];
  if (o.type === 'trailing_stop') parts.push(trailingPhrase(o, market?.last, market?.tick));
  if (o.stop_price) parts.push(`stop ${fmt.price(o.stop_price)}`);
  if (o.limit_price) parts.push(`limit ${fmt.price(o.limit_price)}`);
  parts.push((TIME_IN_FORCE.find((x) => x.value === o.time_in_force)?.label ?? o.time_in_force).toLowerCase());
  if (o.post_only) parts.push('post only');
  if (o.extended_hours) parts.push('extended hours');
  const line = parts.join(', ');
  const cls = o.order_class ?? 'simple';
  if (cls === 'simple') return line;
  const exits: string[] = [];
  if (o.take_profit) exits.push(`take profit ${fmt.price(o.take_profit.limit_price)}`);
  if (o.stop_loss) exits.push(`stop loss ${fmt.price(o.stop_loss.stop_price)}${o.stop_loss.limit_price !== undefined ? ` limit ${fmt.price(o.stop_loss.limit_price)}` : ''}`);
  return `${line}; ${CLASS_NAMES[cls]}: ${exits.join(', ') || 'no exits'}`;
}
