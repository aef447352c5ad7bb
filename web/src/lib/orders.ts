/**
 * The account's orders, kept from REST answers and the private `orders` channel's
 * execution reports. Each order remembers the seq it is as of, so a report already
 * reflected in a REST answer (or the other way round) is not applied twice.
 */
import { add, dec, toText } from './decimal';
import * as fmt from './format';
import type { LegRole, Order, OrderClass, OrderStatus, OrderType, Side, TimeInForce } from './types';

export interface ExecutionReport {
  type: 'execution_report';
  seq: number;
  ts?: string;
  /**
   * `parked`: a GTC order stepped off the book at the close until the next open (still
   * working). `linked`: the order just accepted is part of a class. `activated`: a held exit
   * started, for `qty` (what its entry filled). `stop_moved`: a trailing stop's stop followed
   * the price (also sent with its `accepted`): `stop_price`, `hwm` and its trail.
   */
  event: 'accepted' | 'triggered' | 'fill' | 'canceled' | 'replaced' | 'rejected' | 'parked' | 'linked' | 'activated' | 'stop_moved';
  order_id: string | null;
  client_order_id?: string | null;
  symbol?: string;
  side?: Side;
  order_type?: OrderType;
  time_in_force?: TimeInForce;
  qty?: string;
  /** A notional order's dollar amount (its `qty` is what the engine computed from the book). */
  notional?: string | null;
  /** `accepted`: present (true) only on an order that also trades in pre-market and after-hours. */
  extended_hours?: boolean;
  limit_price?: string | null;
  stop_price?: string | null;
  /** `stop_moved`: the trailing stop's water mark (the highest trade for a sell, the lowest for a buy). */
  hwm?: string | null;
  trail_price?: string | null;
  trail_percent?: string | null;
  status?: OrderStatus;
  trade_id?: string;
  last_qty?: string;
  last_price?: string;
  cum_qty?: string;
  leaves_qty?: string;
  avg_price?: string | null;
  liquidity?: string;
  fee?: string;
  canceled_qty?: string;
  reason?: string;
  old_price?: string | null;
  old_qty?: string;
  priority_kept?: boolean;
  code?: string;
  message?: string;
  resting_price?: string | null;
  order_class?: OrderClass;
  class_id?: string;
  leg?: LegRole;
}

/** A leg's role in words: `take_profit` → `take profit`. */
export const LEG_LABELS: Readonly<Record<LegRole, string>> = { entry: 'entry', take_profit: 'take profit', stop_loss: 'stop loss' };

const CLASS_TAGS: Readonly<Record<OrderClass, string>> = { simple: 'simple', bracket: 'bracket', oco: 'OCO', oto: 'OTO' };

/** The orders list's tag for an order of a class: `"bracket · take profit"`; null for a simple order. */
export function classTag(o: Pick<Order, 'order_class' | 'leg'>): string | null {
  if (!o.order_class || o.order_class === 'simple') return null;
  return o.leg ? `${CLASS_TAGS[o.order_class]} · ${LEG_LABELS[o.leg]}` : CLASS_TAGS[o.order_class];
}

/** An exit of a class (take profit or stop loss): the exchange does not replace one. */
export const isExit = (o: Pick<Order, 'leg'>): boolean => o.leg === 'take_profit' || o.leg === 'stop_loss';

/**
 * Whether the exchange replaces the order: not an exit (cancel the class and send it again),
 * not an order in dollars, not a trailing stop, not a stop still held off the book, not an
 * order waiting for an auction (on-open, on-close).
 */
export const canModify = (o: Pick<Order, 'leg' | 'notional' | 'type' | 'status' | 'time_in_force'>): boolean =>
  !isExit(o) &&
  o.notional == null &&
  o.type !== 'trailing_stop' &&
  o.status !== 'held' &&
  o.time_in_force !== 'opg' &&
  o.time_in_force !== 'cls';

/** A trailing stop's trail in words: `"$1.00"`, `"1.5%"`; null for another order. */
export function trailLabel(o: Pick<Order, 'trail_price' | 'trail_percent'>): string | null {
  if (o.trail_price != null) return fmt.money(o.trail_price);
  if (o.trail_percent != null) return `${o.trail_percent}%`;
  return null;
}

/**
 * A trailing stop's stop and trail: `"stop 189.00 · trail 1%"` (the stop as it is now: it
 * follows the price). Null for another order.
 */
export function trailingLine(o: Pick<Order, 'type' | 'stop_price' | 'trail_price' | 'trail_percent'>): string | null {
  if (o.type !== 'trailing_stop') return null;
  const trail = trailLabel(o);
  return [o.stop_price ? `stop ${fmt.price(o.stop_price)}` : null, trail ? `trail ${trail}` : null].filter(Boolean).join(' · ') || null;
}

/** A trailing stop's water mark in words: `"high 190.00"` (a sell), `"low 185.00"` (a buy); null without one. */
export function waterLabel(o: Pick<Order, 'side' | 'hwm'>): string | null {
  if (o.hwm == null) return null;
  return `${o.side === 'sell' ? 'high' : 'low'} ${fmt.price(o.hwm)}`;
}

/**
 * An order's type and price in words: `"Market"`, `"Limit 190.00"`, `"Stop limit, stop 185.00
 * limit 184.50"`, `"Trailing stop, stop 189.00 · trail 1%"`.
 */
export function orderPrice(o: Pick<Order, 'type' | 'limit_price' | 'stop_price' | 'trail_price' | 'trail_percent'>): string {
  const type = fmt.label(o.type);
  const trailing = trailingLine(o);
  if (trailing) return `${type}, ${trailing}`;
  if (o.stop_price && o.limit_price) return `${type}, stop ${fmt.price(o.stop_price)} limit ${fmt.price(o.limit_price)}`;
  const px = o.stop_price ?? o.limit_price;
  return px ? `${type} ${fmt.price(px)}` : type;
}

export const OPEN_STATUSES: readonly OrderStatus[] = ['held', 'new', 'partially_filled'];

export const isOpen = (o: Order): boolean => OPEN_STATUSES.includes(o.status);

/**
 * Why a held order of a class is held, in words: an exit waits for its entry to stop working,
 * a stop (or an armed stop loss) for its stop price. Null when not held or not in a class.
 */
export function heldNote(o: Order, entry: Order | undefined): string | null {
  if (o.status !== 'held' || !o.order_class || o.order_class === 'simple') return null;
  if (isExit(o) && entry?.leg === 'entry' && isOpen(entry)) return 'waits for the entry';
  return o.type === 'stop' || o.type === 'stop_limit' || o.type === 'trailing_stop' ? 'waits for its stop price' : null;
}

/**
 * A report that may follow another of the same order in one command, so with the seq the
 * order already has: a stop's trigger and its fills, a sweep's later fills, a market order's
 * cancelled remainder. Each is applied at that seq too, being idempotent: a trigger only moves
 * a held order, a cancel is final, and a fill is new only if its trade is not among the
 * order's fills (a REST copy of the same command has them all).
 */
function followsInCommand(r: ExecutionReport, o: Order): boolean {
  switch (r.event) {
    case 'triggered':
    case 'canceled':
      return true;
    case 'fill':
      return r.trade_id !== undefined && !o.fills.some((f) => f.trade_id === r.trade_id);
    default:
      return false;
  }
}

const byNewest = (a: Order, b: Order): number => {
  const x = BigInt(a.id);
  const y = BigInt(b.id);
  return x < y ? 1 : x > y ? -1 : 0;
};

export class OrderBook {
  private readonly orders = new Map<string, Order>();
  /** A trailing stop's last `stop_moved`: its seq (the order's own seq is left alone by one). */
  private readonly stopMovedAt = new Map<string, number>();

  get(id: string): Order | undefined {
    return this.orders.get(id);
  }

  /**
   * An order as REST answered it (replaces an older copy; keeps a newer one). A class's
   * first order comes with its exits as `legs`: each is kept as an order of its own.
   */
  upsert(o: Order): Order {
    const { legs, ...order } = o;
    for (const leg of legs ?? []) this.upsert(leg);
    const have = this.orders.get(order.id);
    if (have && have.seq > order.seq) return have;
    const copy = { ...order, fills: [...order.fills] };
    // A copy from before the stop's last move keeps the moved stop.
    if (have && (this.stopMovedAt.get(order.id) ?? -1) > order.seq) {
      copy.stop_price = have.stop_price;
      copy.hwm = have.hwm ?? null;
    }
    this.orders.set(order.id, copy);
    return copy;
  }

  /** Replaces everything open with a fresh list (after a reconnect or a log-in). */
  resetOpen(open: Order[]): void {
    for (const [id, o] of this.orders) if (isOpen(o)) this.orders.delete(id);
    for (const o of open) this.upsert(o);
  }

  clear(): void {
    this.orders.clear();
    this.stopMovedAt.clear();
  }

  /** Applies an execution report; returns the order as it now is (undefined if unknown). */
  apply(r: ExecutionReport): Order | undefined {
    const id = r.order_id;
    if (id == null) return undefined;
    let o = this.orders.get(id);
    if (r.event === 'linked' || r.event === 'activated') return this.applyClass(r, id, o);
    if (r.event === 'stop_moved') return this.applyStopMoved(r, id, o);
    if (o && (r.seq < o.seq || (r.seq === o.seq && !followsInCommand(r, o)))) return o;
    if (!o) {
      if (r.event !== 'accepted' && r.event !== 'rejected') return undefined;
      o = {
        id,
        client_order_id: r.client_order_id ?? null,
        account_id: '',
        symbol: r.symbol ?? '',
        side: r.side ?? 'buy',
        type: r.order_type ?? 'limit',
        time_in_force: r.time_in_force ?? 'day',
        qty: r.qty ?? '0',
        limit_price: r.limit_price ?? null,
        stop_price: r.stop_price ?? null,
        status: r.status ?? 'new',
        filled_qty: '0',
        leaves_qty: r.qty ?? '0',
        filled_avg_price: null,
        cancel_reason: null,
        created_at: r.ts ?? '',
        updated_at: r.ts ?? '',
        seq: r.seq,
        fills: [],
      };
      if (r.notional != null) o.notional = r.notional;
      if (r.extended_hours) o.extended_hours = true;
      this.orders.set(id, o);
    }
    const next: Order = { ...o, seq: r.seq, updated_at: r.ts ?? o.updated_at };
    switch (r.event) {
      case 'accepted':
        next.status = r.status ?? 'new';
        break;
      case 'triggered':
        if (next.status === 'held') next.status = 'new';
        break;
      case 'fill':
        next.filled_qty = r.cum_qty ?? next.filled_qty;
        next.leaves_qty = r.leaves_qty ?? next.leaves_qty;
        next.filled_avg_price = r.avg_price ?? next.filled_avg_price;
        next.status = r.status ?? next.status;
        if (r.trade_id && r.last_price && r.last_qty) {
          next.fills = [
            ...o.fills,
            {
              trade_id: r.trade_id,
              price: r.last_price,
              qty: r.last_qty,
              liquidity: r.liquidity ?? '',
              fee: r.fee ?? '0',
              ...(r.ts ? { timestamp: r.ts } : {}),
            },
          ];
        }
        break;
      case 'canceled':
        next.status = r.status ?? 'canceled';
        next.leaves_qty = '0';
        next.cancel_reason = r.reason ?? null;
        break;
      case 'replaced':
        // `qty` is the new open quantity; the order is for what was filled plus that.
        if (r.qty !== undefined) {
          next.leaves_qty = r.qty;
          next.qty = toText(add(dec(next.filled_qty), dec(r.qty)));
        }
        if (r.limit_price !== undefined) next.limit_price = r.limit_price;
        break;
      case 'rejected':
        next.status = 'rejected';
        next.leaves_qty = '0';
        break;
    }
    this.orders.set(id, next);
    return next;
  }

  /**
   * `linked` and `activated` always come with another report of the same command (its
   * accepted, or the entry's last fill or cancel), so they share its seq: they leave the
   * order's seq alone (a fill of the same command still applies) and are made idempotent by
   * the state they expect instead.
   */
  private applyClass(r: ExecutionReport, id: string, o: Order | undefined): Order | undefined {
    if (!o || r.seq < o.seq) return o;
    let next: Order;
    if (r.event === 'linked') {
      // Already known from REST (or this report's twin): nothing to do.
      if (o.leg || !r.order_class || !r.leg) return o;
      next = { ...o, order_class: r.order_class, leg: r.leg };
      if (r.class_id !== undefined) next.class_id = r.class_id;
      // A bracket's or OTO's exits wait for their entry (an OCO's work at once).
      if (r.leg !== 'entry' && r.order_class !== 'oco' && next.status === 'new') next.status = 'held';
    } else {
      // A held exit starts, for what its entry filled: a take profit goes to the book, a
      // stop loss stays held until its stop price trades.
      if (o.status !== 'held' || r.qty === undefined) return o;
      next = { ...o, qty: r.qty, leaves_qty: r.qty, status: o.type === 'limit' ? 'new' : 'held', updated_at: r.ts ?? o.updated_at };
    }
    this.orders.set(id, next);
    return next;
  }

  /**
   * `stop_moved`: a trailing stop's stop followed the price (or was set, with its `accepted`).
   * Its values are absolute, so it applies at its own seq too (again is harmless); like
   * `linked` it leaves the order's seq alone, since the same command may go on to trigger and
   * fill the order (reports of that seq must still apply). What it set is remembered, so an
   * older REST copy of the order does not move the stop back.
   */
  private applyStopMoved(r: ExecutionReport, id: string, o: Order | undefined): Order | undefined {
    if (!o || r.seq < o.seq || r.seq < (this.stopMovedAt.get(id) ?? -1)) return o;
    const next: Order = { ...o, updated_at: r.ts ?? o.updated_at };
    if (r.stop_price != null) next.stop_price = r.stop_price;
    if (r.hwm !== undefined) next.hwm = r.hwm;
    if (r.trail_price !== undefined) next.trail_price = r.trail_price;
    if (r.trail_percent !== undefined) next.trail_percent = r.trail_percent;
    this.stopMovedAt.set(id, r.seq);
    this.orders.set(id, next);
    return next;
  }

  /** Working orders, newest first. */
  open(): Order[] {
    return [...this.orders.values()].filter(isOpen).sort(byNewest);
  }

  all(): Order[] {
    return [...this.orders.values()].sort(byNewest);
  }
}
