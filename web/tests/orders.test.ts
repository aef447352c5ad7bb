import { describe, expect, it } from 'vitest';
import { OrderBook, type ExecutionReport } from '../src/lib/orders';
import type { Order } from '../src/lib/types';

const accepted = (seq: number, id = '17'): ExecutionReport => ({
  type: 'execution_report',
  seq,
  ts: 't',
  event: 'accepted',
  order_id: id,
  client_order_id: 'x-1',
  symbol: 'AAPL',
  side: 'buy',
  order_type: 'limit',
  time_in_force: 'gtc',
  qty: '10',
  limit_price: '190.00',
  stop_price: null,
  status: 'new',
});

const fill = (seq: number, last: string, cum: string, leaves: string, avg: string, status: 'partially_filled' | 'filled'): ExecutionReport => ({
  type: 'execution_report',
  seq,
  event: 'fill',
  order_id: '17',
  symbol: 'AAPL',
  side: 'buy',
  trade_id: `t${seq}`,
  last_qty: last,
  last_price: '190.00',
  cum_qty: cum,
  leaves_qty: leaves,
  avg_price: avg,
  liquidity: 'maker',
  fee: '0.00',
  status,
});

describe('OrderBook (execution reports)', () => {
  it('a GTC order parked at the close stays working; an auction remainder is canceled', () => {
    const b = new OrderBook();
    b.apply(accepted(88));
    const o = b.apply({ type: 'execution_report', seq: 90, event: 'parked', order_id: '17', symbol: 'AAPL', side: 'buy', qty: '10', resting_price: '190.00' });
    expect(o).toMatchObject({ status: 'new', leaves_qty: '10', seq: 90 });
    expect(b.open().map((x) => x.id)).toEqual(['17']);
    const c = b.apply({ type: 'execution_report', seq: 95, event: 'canceled', order_id: '17', canceled_qty: '10', reason: 'AUCTION_UNFILLED', status: 'canceled' });
    expect(c).toMatchObject({ status: 'canceled', leaves_qty: '0', cancel_reason: 'AUCTION_UNFILLED' });
  });

  it('accepted → partial fill → fill', () => {
    const b = new OrderBook();
    b.apply(accepted(88));
    expect(b.open().map((o) => o.id)).toEqual(['17']);
    let o = b.apply(fill(91, '4', '4', '6', '190.00', 'partially_filled'));
    expect(o).toMatchObject({ status: 'partially_filled', filled_qty: '4', leaves_qty: '6', filled_avg_price: '190.00' });
    expect(o?.fills).toHaveLength(1);
    o = b.apply(fill(93, '6', '10', '0', '190.00', 'filled'));
    expect(o).toMatchObject({ status: 'filled', filled_qty: '10', leaves_qty: '0' });
    expect(o?.fills.map((f) => f.qty)).toEqual(['4', '6']);
    expect(b.open()).toEqual([]);
  });

  it('cancel ends the order with its reason', () => {
    const b = new OrderBook();
    b.apply(accepted(88));
    b.apply(fill(91, '4', '4', '6', '190.00', 'partially_filled'));
    const o = b.apply({ type: 'execution_report', seq: 95, event: 'canceled', order_id: '17', canceled_qty: '6', reason: 'REQUESTED', status: 'canceled' });
    expect(o).toMatchObject({ status: 'canceled', leaves_qty: '0', cancel_reason: 'REQUESTED', filled_qty: '4' });
    expect(b.open()).toEqual([]);
  });

  it('replace sets the new open quantity and price; the order is filled + open', () => {
    const b = new OrderBook();
    b.apply(accepted(88));
    b.apply(fill(91, '4', '4', '6', '190.00', 'partially_filled'));
    const o = b.apply({ type: 'execution_report', seq: 96, event: 'replaced', order_id: '17', old_price: '190.00', old_qty: '6', limit_price: '189.90', qty: '5', priority_kept: false });
    expect(o).toMatchObject({ leaves_qty: '5', qty: '9', limit_price: '189.90', status: 'partially_filled' });
  });

  it('reject marks a known order rejected and is ignored for an unknown one', () => {
    const b = new OrderBook();
    expect(b.apply({ type: 'execution_report', seq: 97, event: 'rejected', order_id: null, code: 'INSUFFICIENT_BUYING_POWER', message: '…', status: 'rejected' })).toBeUndefined();
    const o = b.apply({ type: 'execution_report', seq: 98, event: 'rejected', order_id: '19', code: 'PRICE_OFF_TICK', message: '…', status: 'rejected' });
    expect(o?.status).toBe('rejected');
    expect(b.open()).toEqual([]);
  });

  it('does not apply a report twice, nor one older than the REST answer', () => {
    const b = new OrderBook();
    const rest: Order = {
      id: '17',
      client_order_id: 'x-1',
      account_id: '3',
      symbol: 'AAPL',
      side: 'buy',
      type: 'limit',
      time_in_force: 'gtc',
      qty: '10',
      limit_price: '190.00',
      stop_price: null,
      status: 'partially_filled',
      filled_qty: '4',
      leaves_qty: '6',
      filled_avg_price: '190.00',
      cancel_reason: null,
      created_at: 't',
      updated_at: 't',
      seq: 91,
      fills: [{ trade_id: 't91', price: '190.00', qty: '4', liquidity: 'maker', fee: '0.00' }],
    };
    b.upsert(rest);
    // The feed's accepted (88) and fill (91) arrive after the REST answer at seq 91.
    b.apply(accepted(88));
    b.apply(fill(91, '4', '4', '6', '190.00', 'partially_filled'));
    expect(b.get('17')).toMatchObject({ status: 'partially_filled', filled_qty: '4' });
    expect(b.get('17')?.fills).toHaveLength(1);
    // An older REST copy does not overwrite a newer state.
    b.apply(fill(93, '6', '10', '0', '190.00', 'filled'));
    b.upsert(rest);
    expect(b.get('17')?.status).toBe('filled');
  });

  it('a triggered stop becomes a working order; lists are newest first', () => {
    const b = new OrderBook();
    b.apply({ ...accepted(1, '9'), order_type: 'stop', status: 'held' });
    expect(b.get('9')?.status).toBe('held');
    b.apply({ type: 'execution_report', seq: 2, event: 'triggered', order_id: '9', symbol: 'AAPL' });
    expect(b.get('9')?.status).toBe('new');
    b.apply(accepted(3, '10'));
    expect(b.open().map((o) => o.id)).toEqual(['10', '9']);
  });

  it('resetOpen replaces the open orders with a fresh list', () => {
    const b = new OrderBook();
    b.apply(accepted(1, '1'));
    b.apply(accepted(2, '2'));
    b.resetOpen([]);
    expect(b.open()).toEqual([]);
  });
});
