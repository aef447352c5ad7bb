/**
 * The account's orders, kept from REST answers and the private `orders` channel's
 * execution reports. Each order remembers the seq it is as of, so a report already
 * reflected in a REST answer (or the other way round) is not applied twice.
 */
import { add, dec, toText } from './decimal';
import type { Order, OrderStatus, OrderType, Side, TimeInForce } from './types';

export interface ExecutionReport {
  type: 'execution_report';
  seq: number;
  ts?: string;
  /** `parked`: a GTC order stepped off the book at the close until the next open (still working). */
  event: 'accepted' | 'triggered' | 'fill' | 'canceled' | 'replaced' | 'rejected' | 'parked';
  order_id: string | null;
  client_order_id?: string | null;
  symbol?: string;
  side?: Side;
  order_type?: OrderType;
  time_in_force?: TimeInForce;
  qty?: string;
  limit_price?: string | null;
  stop_price?: string | null;
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
}

export const OPEN_STATUSES: readonly OrderStatus[] = ['held', 'new', 'partially_filled'];

export const isOpen = (o: Order): boolean => OPEN_STATUSES.includes(o.status);

const byNewest = (a: Order, b: Order): number => {
  const x = BigInt(a.id);
  const y = BigInt(b.id);
  return x < y ? 1 : x > y ? -1 : 0;
};

export class OrderBook {
  private readonly orders = new Map<string, Order>();

  get(id: string): Order | undefined {
    return this.orders.get(id);
  }

  /** An order as REST answered it (replaces an older copy; keeps a newer one). */
  upsert(o: Order): Order {
    const have = this.orders.get(o.id);
    if (have && have.seq > o.seq) return have;
    const copy = { ...o, fills: [...o.fills] };
    this.orders.set(o.id, copy);
    return copy;
  }

  /** Replaces everything open with a fresh list (after a reconnect or a log-in). */
  resetOpen(open: Order[]): void {
    for (const [id, o] of this.orders) if (isOpen(o)) this.orders.delete(id);
    for (const o of open) this.upsert(o);
  }

  clear(): void {
    this.orders.clear();
  }

  /** Applies an execution report; returns the order as it now is (undefined if unknown). */
  apply(r: ExecutionReport): Order | undefined {
    const id = r.order_id;
    if (id == null) return undefined;
    let o = this.orders.get(id);
    if (o && r.seq <= o.seq) return o;
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

  /** Working orders, newest first. */
  open(): Order[] {
    return [...this.orders.values()].filter(isOpen).sort(byNewest);
  }

  all(): Order[] {
    return [...this.orders.values()].sort(byNewest);
  }
}
