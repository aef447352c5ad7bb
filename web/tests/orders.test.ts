import { describe, expect, it } from 'vitest';
import { OrderBook, canModify, classTag, heldNote, isExit, orderPrice, trailingLine, waterLabel, type ExecutionReport } from '../src/lib/orders';
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

  it('a notional order: its amount kept, fractional fills exact', () => {
    const b = new OrderBook();
    // The engine computed 1.315374 shares for $250.00 from the book when it accepted it.
    b.apply({ ...accepted(88, '21'), order_type: 'market', time_in_force: 'day', limit_price: null, qty: '1.315374', notional: '250.00' });
    expect(b.get('21')).toMatchObject({ qty: '1.315374', leaves_qty: '1.315374', notional: '250.00' });
    const part = { ...fill(90, '0.5', '0.5', '0.815374', '190.06', 'partially_filled'), order_id: '21' };
    b.apply(part);
    const o = b.apply({ ...fill(91, '0.815374', '1.315374', '0', '190.06', 'filled'), order_id: '21' });
    expect(o).toMatchObject({ status: 'filled', filled_qty: '1.315374', leaves_qty: '0', notional: '250.00' });
    expect(o?.fills.map((f) => f.qty)).toEqual(['0.5', '0.815374']);
    // An order in shares has no notional.
    b.apply(accepted(92));
    expect(b.get('17')?.notional).toBeUndefined();
  });

  it('keeps an extended-hours order marked from its accepted report', () => {
    const b = new OrderBook();
    b.apply({ ...accepted(88, '31'), extended_hours: true });
    b.apply({ ...accepted(89, '32') });
    expect(b.get('31')?.extended_hours).toBe(true);
    expect(b.get('32')?.extended_hours).toBeUndefined();
    // A later report keeps the mark.
    const o = b.apply({ ...fill(90, '10', '10', '90', '190.00', 'partially_filled'), order_id: '31' });
    expect(o?.extended_hours).toBe(true);
  });

  it('keeps a fractional replace exact', () => {
    const b = new OrderBook();
    b.apply({ ...accepted(88), qty: '2.5' });
    b.apply(fill(90, '0.1', '0.1', '2.4', '190.00', 'partially_filled'));
    // 0.1 + 0.2 is 0.30000000000000004 in floats.
    const o = b.apply({ type: 'execution_report', seq: 91, event: 'replaced', order_id: '17', qty: '0.2', limit_price: '190.00' });
    expect(o).toMatchObject({ qty: '0.3', leaves_qty: '0.2' });
  });

  it('says an order’s type and price in words', () => {
    expect(orderPrice({ type: 'market', limit_price: null, stop_price: null })).toBe('Market');
    expect(orderPrice({ type: 'limit', limit_price: '190', stop_price: null })).toBe('Limit 190.00');
    expect(orderPrice({ type: 'stop', limit_price: null, stop_price: '185.5' })).toBe('Stop 185.50');
    expect(orderPrice({ type: 'stop_limit', limit_price: '184.50', stop_price: '185.00' })).toBe('Stop limit, stop 185.00 limit 184.50');
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

  it('a trigger, its fills and a cancelled remainder of one command (one seq) all apply', () => {
    const b = new OrderBook();
    b.apply({ ...accepted(1, '9'), side: 'sell', order_type: 'stop', limit_price: null, stop_price: '185.00', status: 'held' });
    // Another account's trade (seq 5) triggers it; the market order sweeps two levels.
    b.apply({ type: 'execution_report', seq: 5, event: 'triggered', order_id: '9', symbol: 'AAPL' });
    b.apply({ ...fill(5, '4', '4', '6', '184.90', 'partially_filled'), order_id: '9', trade_id: 'a' });
    b.apply({ ...fill(5, '3', '7', '3', '184.87', 'partially_filled'), order_id: '9', trade_id: 'b' });
    // The same fill again changes nothing.
    b.apply({ ...fill(5, '3', '7', '3', '184.87', 'partially_filled'), order_id: '9', trade_id: 'b' });
    let o = b.get('9');
    expect(o).toMatchObject({ status: 'partially_filled', filled_qty: '7', leaves_qty: '3', seq: 5 });
    expect(o?.fills.map((f) => f.trade_id)).toEqual(['a', 'b']);
    b.apply({ type: 'execution_report', seq: 5, event: 'canceled', order_id: '9', canceled_qty: '3', reason: 'MARKET_REMAINDER', status: 'canceled' });
    o = b.get('9');
    expect(o).toMatchObject({ status: 'canceled', filled_qty: '7', leaves_qty: '0', cancel_reason: 'MARKET_REMAINDER' });
    // An accepted of an older seq, or a fill seen in a REST copy of the command, is not applied again.
    b.apply({ ...accepted(1, '9'), side: 'sell', order_type: 'stop', status: 'held' });
    expect(b.get('9')?.status).toBe('canceled');
  });

  it('a REST copy of the command first: its reports change nothing', () => {
    const b = new OrderBook();
    const done: Order = {
      ...rest('9', { side: 'sell', type: 'stop', limit_price: null, stop_price: '185.00', qty: '10' }),
      status: 'filled',
      filled_qty: '10',
      leaves_qty: '0',
      filled_avg_price: '184.90',
      seq: 5,
      fills: [{ trade_id: 'a', price: '184.90', qty: '10', liquidity: 'taker', fee: '0.00' }],
    };
    b.upsert(done);
    b.apply({ ...accepted(5, '9'), side: 'sell', order_type: 'stop', status: 'held' });
    b.apply({ type: 'execution_report', seq: 5, event: 'triggered', order_id: '9', symbol: 'AAPL' });
    b.apply({ ...fill(5, '10', '10', '0', '184.90', 'filled'), order_id: '9', trade_id: 'a' });
    expect(b.get('9')).toEqual(done);
  });

  it('resetOpen replaces the open orders with a fresh list', () => {
    const b = new OrderBook();
    b.apply(accepted(1, '1'));
    b.apply(accepted(2, '2'));
    b.resetOpen([]);
    expect(b.open()).toEqual([]);
  });
});

/** An order as the REST API answers it. */
const rest = (id: string, o: Partial<Order> = {}): Order => ({
  id,
  client_order_id: null,
  account_id: '3',
  symbol: 'AAPL',
  side: 'buy',
  type: 'limit',
  time_in_force: 'gtc',
  qty: '100',
  limit_price: '189.00',
  stop_price: null,
  status: 'new',
  filled_qty: '0',
  leaves_qty: '100',
  filled_avg_price: null,
  cancel_reason: null,
  created_at: 't',
  updated_at: 't',
  seq: 40,
  fills: [],
  order_class: 'simple',
  ...o,
});

describe('OrderBook (order classes)', () => {
  const tp = rest('21', { side: 'sell', limit_price: '195.00', status: 'held', order_class: 'bracket', class_id: '20', leg: 'take_profit' });
  const sl = rest('22', { side: 'sell', type: 'stop', limit_price: null, stop_price: '185.00', status: 'held', order_class: 'bracket', class_id: '20', leg: 'stop_loss' });
  const entry = rest('20', { order_class: 'bracket', class_id: '20', leg: 'entry', legs: [tp, sl] });

  it('keeps a class’s legs from the submit’s answer as orders of their own', () => {
    const b = new OrderBook();
    const first = b.upsert(entry);
    expect(first).not.toHaveProperty('legs');
    expect(b.get('21')).toMatchObject({ status: 'held', leg: 'take_profit', class_id: '20' });
    expect(b.get('22')).toMatchObject({ type: 'stop', leg: 'stop_loss' });
    expect(b.open().map((o) => o.id)).toEqual(['22', '21', '20']);
  });

  it('linked marks an order of a class; a bracket’s exits are held until the entry ends', () => {
    const b = new OrderBook();
    // The feed's reports of the submit (all at its seq): accepted, then linked, for each order.
    b.apply(accepted(50, '30'));
    b.apply({ type: 'execution_report', seq: 50, event: 'linked', order_id: '30', symbol: 'AAPL', order_class: 'bracket', class_id: '30', leg: 'entry' });
    b.apply({ ...accepted(50, '31'), side: 'sell', limit_price: '195.00' });
    b.apply({ type: 'execution_report', seq: 50, event: 'linked', order_id: '31', symbol: 'AAPL', order_class: 'bracket', class_id: '30', leg: 'take_profit' });
    expect(b.get('30')).toMatchObject({ status: 'new', order_class: 'bracket', leg: 'entry', class_id: '30' });
    expect(b.get('31')).toMatchObject({ status: 'held', order_class: 'bracket', leg: 'take_profit', seq: 50 });
    // An OCO's orders work at once.
    b.apply({ ...accepted(51, '32'), side: 'sell' });
    b.apply({ type: 'execution_report', seq: 51, event: 'linked', order_id: '32', symbol: 'AAPL', order_class: 'oco', class_id: '32', leg: 'take_profit' });
    expect(b.get('32')).toMatchObject({ status: 'new', order_class: 'oco' });
    // Unknown orders are not made up.
    expect(b.apply({ type: 'execution_report', seq: 52, event: 'linked', order_id: '99', order_class: 'oto', class_id: '99', leg: 'entry' })).toBeUndefined();
  });

  it('linked after the REST answer changes nothing', () => {
    const b = new OrderBook();
    b.upsert(entry);
    b.apply({ ...accepted(40, '21'), side: 'sell' });
    b.apply({ type: 'execution_report', seq: 40, event: 'linked', order_id: '21', order_class: 'bracket', class_id: '20', leg: 'take_profit' });
    expect(b.get('21')).toEqual({ ...tp, fills: [] });
  });

  it('activated starts a held exit for what the entry filled: a take profit works, a stop loss waits for its stop', () => {
    const b = new OrderBook();
    b.upsert(entry);
    // The entry filled 60 and was canceled; its exits start for 60.
    b.apply({ type: 'execution_report', seq: 45, event: 'activated', order_id: '21', symbol: 'AAPL', qty: '60' });
    b.apply({ type: 'execution_report', seq: 45, event: 'activated', order_id: '22', symbol: 'AAPL', qty: '60' });
    expect(b.get('21')).toMatchObject({ status: 'new', qty: '60', leaves_qty: '60' });
    expect(b.get('22')).toMatchObject({ status: 'held', qty: '60', leaves_qty: '60' });
    // A fill of the same command still applies (activated left the seq alone)...
    const f = b.apply({ type: 'execution_report', seq: 45, event: 'fill', order_id: '21', trade_id: 't1', last_qty: '60', last_price: '195.00', cum_qty: '60', leaves_qty: '0', avg_price: '195.00', status: 'filled' });
    expect(f).toMatchObject({ status: 'filled', filled_qty: '60' });
    // ...and the activated, seen again, does not undo it.
    b.apply({ type: 'execution_report', seq: 45, event: 'activated', order_id: '21', symbol: 'AAPL', qty: '60' });
    expect(b.get('21')).toMatchObject({ status: 'filled', leaves_qty: '0' });
    // The stop loss canceled because its sibling traded.
    const c = b.apply({ type: 'execution_report', seq: 46, event: 'canceled', order_id: '22', canceled_qty: '60', reason: 'SIBLING_EXECUTED', status: 'canceled' });
    expect(c).toMatchObject({ status: 'canceled', cancel_reason: 'SIBLING_EXECUTED' });
    expect(b.open().map((o) => o.id)).toEqual(['20']);
  });

  it('an entry that filled nothing cancels its exits PARENT_UNFILLED', () => {
    const b = new OrderBook();
    b.upsert(entry);
    b.apply({ type: 'execution_report', seq: 47, event: 'canceled', order_id: '20', canceled_qty: '100', reason: 'REQUESTED', status: 'canceled' });
    b.apply({ type: 'execution_report', seq: 47, event: 'canceled', order_id: '21', canceled_qty: '100', reason: 'PARENT_UNFILLED', status: 'canceled' });
    expect(b.get('21')).toMatchObject({ status: 'canceled', cancel_reason: 'PARENT_UNFILLED' });
    // Other events of the order (seq 47 > its 40) apply; the sibling is still open here.
    expect(b.open().map((o) => o.id)).toEqual(['22']);
  });

  it('offers Modify only for what the exchange replaces', () => {
    const limit = { type: 'limit', status: 'new', time_in_force: 'gtc' } as const;
    expect(canModify(limit)).toBe(true);
    expect(canModify({ ...limit, status: 'partially_filled' })).toBe(true);
    expect(canModify({ ...limit, type: 'stop', status: 'held' })).toBe(false);
    expect(canModify({ ...limit, type: 'stop_limit', status: 'held' })).toBe(false);
    // A stop that triggered is an order on the book like any other.
    expect(canModify({ ...limit, type: 'stop_limit', status: 'new' })).toBe(true);
    expect(canModify({ ...limit, type: 'trailing_stop', status: 'new' })).toBe(false);
    expect(canModify({ ...limit, time_in_force: 'cls' })).toBe(false);
    expect(canModify({ ...limit, time_in_force: 'opg' })).toBe(false);
    expect(canModify({ ...limit, notional: '500.00' })).toBe(false);
    expect(canModify({ ...limit, leg: 'take_profit' })).toBe(false);
    expect(canModify({ ...limit, leg: 'entry' })).toBe(true);
  });

  it('tags orders of a class and says why they are held', () => {
    expect(classTag(tp)).toBe('bracket · take profit');
    expect(classTag({ order_class: 'oco', leg: 'stop_loss' })).toBe('OCO · stop loss');
    expect(classTag({ order_class: 'oto', leg: 'entry' })).toBe('OTO · entry');
    expect(classTag({ order_class: 'simple' })).toBeNull();
    expect(classTag({})).toBeNull();
    expect(isExit(tp)).toBe(true);
    expect(isExit(entry)).toBe(false);
    expect(heldNote(tp, entry)).toBe('waits for the entry');
    expect(heldNote(sl, { ...entry, status: 'filled' })).toBe('waits for its stop price');
    expect(heldNote(tp, { ...entry, status: 'filled' })).toBeNull();
    expect(heldNote({ ...tp, status: 'new' }, entry)).toBeNull();
    expect(heldNote(rest('9', { type: 'stop', status: 'held' }), undefined)).toBeNull();
  });
});

describe('OrderBook (trailing stops)', () => {
  /** A trailing stop sell as the REST API answers its placement (seq 60): the stop 1 % under 190.00. */
  const placed = rest('50', {
    side: 'sell',
    type: 'trailing_stop',
    qty: '10',
    leaves_qty: '10',
    limit_price: null,
    stop_price: '188.10',
    trail_price: null,
    trail_percent: '1',
    hwm: '190.00',
    status: 'held',
    seq: 60,
  });
  const moved = (seq: number, stop: string, hwm: string): ExecutionReport => ({
    type: 'execution_report',
    seq,
    ts: `t${seq}`,
    event: 'stop_moved',
    order_id: '50',
    symbol: 'AAPL',
    stop_price: stop,
    hwm,
    trail_price: null,
    trail_percent: '1',
  });

  it('stop_moved follows the stop and the water mark live', () => {
    const b = new OrderBook();
    b.upsert(placed);
    // The feed's reports of the placement (its seq): nothing changes.
    b.apply({ ...accepted(60, '50'), side: 'sell', order_type: 'trailing_stop', limit_price: null, stop_price: '188.10', status: 'held' });
    b.apply(moved(60, '188.10', '190.00'));
    expect(b.get('50')).toMatchObject({ stop_price: '188.10', hwm: '190.00', status: 'held', seq: 60 });
    // A trade at 192.00 moves it up.
    const o = b.apply(moved(64, '190.08', '192.00'));
    expect(o).toMatchObject({ stop_price: '190.08', hwm: '192.00', trail_percent: '1', status: 'held', updated_at: 't64' });
    expect(trailingLine(b.get('50') ?? placed)).toBe('stop 190.08 · trail 1%');
    // An older move, seen late, does not move it back.
    b.apply(moved(62, '189.09', '191.00'));
    expect(b.get('50')).toMatchObject({ stop_price: '190.08', hwm: '192.00' });
  });

  it('builds the order from its accepted and stop_moved reports when REST has not answered yet', () => {
    const b = new OrderBook();
    b.apply({ ...accepted(60, '50'), side: 'sell', order_type: 'trailing_stop', limit_price: null, stop_price: '189.00', status: 'held' });
    b.apply({ ...moved(60, '189.00', '190.00'), trail_price: '1.00', trail_percent: null });
    expect(b.get('50')).toMatchObject({ type: 'trailing_stop', stop_price: '189.00', hwm: '190.00', trail_price: '1.00', trail_percent: null, status: 'held' });
    expect(trailingLine(b.get('50') ?? placed)).toBe('stop 189.00 · trail $1.00');
    // A stop_moved of an order the page does not know is dropped.
    expect(b.apply({ ...moved(61, '1.00', '2.00'), order_id: '99' })).toBeUndefined();
  });

  it('a trigger and a fill of the same command as the move still apply', () => {
    const b = new OrderBook();
    b.upsert(placed);
    b.apply(moved(70, '190.08', '192.00'));
    b.apply({ type: 'execution_report', seq: 70, event: 'triggered', order_id: '50', symbol: 'AAPL' });
    expect(b.get('50')).toMatchObject({ status: 'new', stop_price: '190.08', seq: 70 });
  });

  it('an older REST copy keeps the moved stop; a newer one is taken', () => {
    const b = new OrderBook();
    b.upsert(placed);
    b.apply(moved(64, '190.08', '192.00'));
    // A list fetched before the move (seq 62, say a partial fill's) is taken, but not its stop.
    b.upsert({ ...placed, seq: 62, filled_qty: '0' });
    expect(b.get('50')).toMatchObject({ stop_price: '190.08', hwm: '192.00', seq: 62 });
    // One from after the move (or of it) is the truth.
    b.upsert({ ...placed, seq: 66, stop_price: '191.07', hwm: '193.00' });
    expect(b.get('50')).toMatchObject({ stop_price: '191.07', hwm: '193.00', seq: 66 });
  });

  it('says the stop, the trail and the water mark in words', () => {
    expect(trailingLine({ type: 'trailing_stop', stop_price: '189.00', trail_price: null, trail_percent: '1' })).toBe('stop 189.00 · trail 1%');
    expect(trailingLine({ type: 'trailing_stop', stop_price: '189', trail_price: '1', trail_percent: null })).toBe('stop 189.00 · trail $1.00');
    expect(trailingLine({ type: 'stop', stop_price: '189.00', trail_price: null, trail_percent: null })).toBeNull();
    expect(orderPrice({ type: 'trailing_stop', limit_price: null, stop_price: '189.00', trail_price: null, trail_percent: '2.5' })).toBe('Trailing stop, stop 189.00 · trail 2.5%');
    expect(waterLabel({ side: 'sell', hwm: '190.00' })).toBe('high 190.00');
    expect(waterLabel({ side: 'buy', hwm: '185' })).toBe('low 185.00');
    expect(waterLabel({ side: 'buy', hwm: null })).toBeNull();
    expect(heldNote({ ...placed, order_class: 'simple' }, undefined)).toBeNull();
  });
});
