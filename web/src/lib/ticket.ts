/**
 * The order ticket's logic: which fields an order type needs, checks before review, the
 * estimated cost (exact, from the decimal strings) and the buying-power warning.
 */
import { type Dec, cmp, isMultiple, mul, sign, toText, tryParse } from './decimal';
import * as fmt from './format';
import type { NewOrder, OrderType, Side, TimeInForce } from './types';

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
];

export interface TicketInput {
  side: Side;
  type: OrderType;
  tif: TimeInForce;
  qty: string;
  limit: string;
  stop: string;
  postOnly: boolean;
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
  errors: Partial<Record<'qty' | 'limit' | 'stop', string>>;
  /** Worth a look, but the server decides. */
  warnings: string[];
  order: NewOrder | null;
}

/** Checks the ticket against the listing; the order to send when the input is well formed. */
export function check(input: TicketInput, listing: Listing, clientOrderId?: string): Checked {
  const errors: Checked['errors'] = {};
  const warnings: string[] = [];
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
  if (Object.keys(errors).length) return { errors, warnings, order: null };
  const order: NewOrder = {
    symbol: listing.symbol,
    side: input.side,
    type: input.type,
    time_in_force: input.tif,
    qty: qtyText,
  };
  if (limit !== undefined) order.limit_price = limit;
  if (stop !== undefined) order.stop_price = stop;
  if (input.type === 'limit' && input.postOnly) order.post_only = true;
  if (clientOrderId) order.client_order_id = clientOrderId;
  return { errors, warnings, order };
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
  return parts.join(', ');
}
