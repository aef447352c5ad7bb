/**
 * The order ticket's logic: which fields an order type needs, which times in force and
 * options go with it, checks before review (and what the market's session will do with the
 * order), the estimated cost (exact, from the decimal strings) and the buying-power warning.
 */
import { type Dec, cmp, isMultiple, mul, sign, toText, tryParse } from './decimal';
import * as fmt from './format';
import { sessionLabel } from './session';
import type { MarketSession, NewOrder, OrderType, Side, TimeInForce } from './types';

export const ORDER_TYPES: ReadonlyArray<{ value: OrderType; label: string }> = [
  { value: 'market', label: 'Market' },
  { value: 'limit', label: 'Limit' },
  { value: 'stop', label: 'Stop' },
  { value: 'stop_limit', label: 'Stop limit' },
];

export const TIME_IN_FORCE: ReadonlyArray<{ value: TimeInForce; label: string }> = [
  { value: 'day', label: 'Day' },
  { value: 'gtc', label: 'Good till canceled' },
  { value: 'ioc', label: 'Immediate or cancel' },
  { value: 'fok', label: 'Fill or kill' },
  { value: 'opg', label: 'On open' },
  { value: 'cls', label: 'On close' },
];

/** On open and on close: for one call auction only. */
export const isAuctionTif = (t: TimeInForce): boolean => t === 'opg' || t === 'cls';

/** The times in force an order type takes: on open and on close are market or limit orders. */
export function tifsFor(type: OrderType): ReadonlyArray<{ value: TimeInForce; label: string }> {
  return type === 'market' || type === 'limit' ? TIME_IN_FORCE : TIME_IN_FORCE.filter((t) => !isAuctionTif(t.value));
}

/** Extended hours (pre-market and after-hours trading) is for limit DAY orders only. */
export const allowsExtendedHours = (type: OrderType, tif: TimeInForce): boolean => type === 'limit' && tif === 'day';

/** Post only is for limit orders that rest on the book (never on open or on close). */
export const allowsPostOnly = (type: OrderType, tif: TimeInForce): boolean => type === 'limit' && !isAuctionTif(tif);

/** What an on-open or on-close order does (the ticket's help under the time in force). */
export const TIF_HELP: Partial<Record<TimeInForce, string>> = {
  opg: 'Joins the opening auction only; what it does not fill there is canceled.',
  cls: 'Joins the closing auction only; what it does not fill there is canceled.',
};

export interface TicketInput {
  side: Side;
  type: OrderType;
  tif: TimeInForce;
  qty: string;
  limit: string;
  stop: string;
  postOnly: boolean;
  /** Sent only where allowed (limit DAY orders). */
  extendedHours: boolean;
}

/** The input after a change: a time in force the order type does not take falls back to day. */
export function normalize(input: TicketInput): TicketInput {
  return tifsFor(input.type).some((t) => t.value === input.tif) ? input : { ...input, tif: 'day' };
}

export interface Listing {
  symbol: string;
  tick: string;
  lot: string;
  max_qty: string;
}

export interface MarketRef {
  bid?: string | null;
  ask?: string | null;
  last?: string | null;
}

export const needsLimit = (t: OrderType): boolean => t === 'limit' || t === 'stop_limit';
export const needsStop = (t: OrderType): boolean => t === 'stop' || t === 'stop_limit';

// Numbers in range are the exchange's to judge (its refusal is shown with its code); only
// text that is not a number at all stops the ticket.
const WHOLE = /^-?\d+$/;
const PRICE = /^-?\d+(\.\d{1,4})?$/;

export interface Checked {
  /** Field → what is wrong; review is refused while there are any. */
  errors: Partial<Record<'qty' | 'limit' | 'stop' | 'tif', string>>;
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
  if (order.type === 'stop' || order.type === 'stop_limit') {
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
  const qtyText = input.qty.trim();
  if (!WHOLE.test(qtyText)) {
    errors.qty = 'Enter a whole number of shares, 1 or more.';
  } else if (BigInt(qtyText) <= 0n) {
    warnings.push('An order is for 1 share or more: the exchange will refuse this one.');
  } else {
    const q = BigInt(qtyText);
    const lot = BigInt(listing.lot);
    if (lot > 1n && q % lot !== 0n) warnings.push(`${listing.symbol} trades in lots of ${fmt.qty(listing.lot)} shares.`);
    if (q > BigInt(listing.max_qty)) warnings.push(`The largest order for ${listing.symbol} is ${fmt.qty(listing.max_qty)} shares.`);
  }
  const price = (field: 'limit' | 'stop', text: string, name: string): string | undefined => {
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
  const limit = needsLimit(input.type) ? price('limit', input.limit, 'limit price') : undefined;
  const stop = needsStop(input.type) ? price('stop', input.stop, 'stop price') : undefined;
  if (!tifsFor(input.type).some((t) => t.value === input.tif)) errors.tif = 'On open and on close are for market and limit orders.';
  if (Object.keys(errors).length) return { errors, warnings, notes, order: null };
  const order: NewOrder = {
    symbol: listing.symbol,
    side: input.side,
    type: input.type,
    time_in_force: input.tif,
    qty: qtyText,
  };
  if (limit !== undefined) order.limit_price = limit;
  if (stop !== undefined) order.stop_price = stop;
  if (allowsPostOnly(input.type, input.tif) && input.postOnly) order.post_only = true;
  if (allowsExtendedHours(input.type, input.tif) && input.extendedHours) order.extended_hours = true;
  if (clientOrderId) order.client_order_id = clientOrderId;
  if (session) {
    const r = sessionRules(order, session);
    if (r.warning) warnings.push(r.warning);
    if (r.note) notes.push(r.note);
  }
  return { errors, warnings, notes, order };
}

export interface Estimate {
  /** The price the estimate assumes. */
  price: Dec;
  /** Where it came from. */
  basis: 'limit price' | 'stop price' | 'best ask' | 'best bid' | 'last price';
  /** qty × price, exact. */
  total: Dec;
}

/** qty × the price the order would likely trade at (exact; fees not included). */
export function estimate(input: TicketInput, m: MarketRef): Estimate | null {
  const q = WHOLE.test(input.qty.trim()) ? tryParse(input.qty.trim()) : null;
  if (!q) return null;
  let price: Dec | null;
  let basis: Estimate['basis'];
  if (needsLimit(input.type)) {
    price = tryParse(input.limit.trim());
    basis = 'limit price';
  } else if (input.type === 'stop') {
    price = tryParse(input.stop.trim());
    basis = 'stop price';
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
  const want = tryParse(input.qty.trim());
  if (have && want && WHOLE.test(input.qty.trim()) && cmp(want, have) > 0) {
    return `You have ${fmt.qty(toText(have))} shares available to sell.`;
  }
  return null;
}

/** A fresh client order id (the same one is resent if the outcome was unknown). */
export function newClientOrderId(): string {
  const bytes = new Uint8Array(9);
  crypto.getRandomValues(bytes);
  return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** A one-line description: "Buy 10 AAPL, limit 190.00, good till canceled". */
export function describe(o: NewOrder): string {
  let head = `${o.side === 'buy' ? 'Buy' : 'Sell'} ${fmt.qty(o.qty)} ${o.symbol}`;
  if (o.type === 'market') head += ' at market';
  const parts = [head];
  if (o.stop_price) parts.push(`stop ${fmt.price(o.stop_price)}`);
  if (o.limit_price) parts.push(`limit ${fmt.price(o.limit_price)}`);
  parts.push((TIME_IN_FORCE.find((x) => x.value === o.time_in_force)?.label ?? o.time_in_force).toLowerCase());
  if (o.post_only) parts.push('post only');
  if (o.extended_hours) parts.push('extended hours');
  return parts.join(', ');
}
