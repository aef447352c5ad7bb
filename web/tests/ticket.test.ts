import { describe as suite, expect, it } from 'vitest';
import { toText } from '../src/lib/decimal';
import { type TicketInput, check, describe, estimate, fundsWarning } from '../src/lib/ticket';

const listing = { symbol: 'AAPL', tick: '0.01', lot: '1', max_qty: '1000000' };
const base: TicketInput = { side: 'buy', type: 'limit', tif: 'gtc', qty: '3', limit: '190.07', stop: '', postOnly: false };

suite('ticket check', () => {
  it('builds the order with only the fields its type takes', () => {
    expect(check(base, listing, 'web-1').order).toEqual({ symbol: 'AAPL', side: 'buy', type: 'limit', time_in_force: 'gtc', qty: '3', limit_price: '190.07', client_order_id: 'web-1' });
    expect(check({ ...base, type: 'market', tif: 'ioc' }, listing).order).toEqual({ symbol: 'AAPL', side: 'buy', type: 'market', time_in_force: 'ioc', qty: '3' });
    expect(check({ ...base, type: 'stop', stop: '185.00' }, listing).order).toMatchObject({ type: 'stop', stop_price: '185.00' });
    expect(check({ ...base, type: 'stop', stop: '185.00' }, listing).order?.limit_price).toBeUndefined();
    expect(check({ ...base, type: 'stop_limit', stop: '185.00', limit: '184.50' }, listing).order).toMatchObject({ stop_price: '185.00', limit_price: '184.50' });
    expect(check({ ...base, postOnly: true }, listing).order?.post_only).toBe(true);
    expect(check({ ...base, type: 'market', postOnly: true }, listing).order?.post_only).toBeUndefined();
  });

  it('refuses malformed quantities and prices', () => {
    // In range or not is the exchange's call: sent, with a warning.
    expect(check({ ...base, qty: '0' }, listing).errors.qty).toBeUndefined();
    expect(check({ ...base, qty: '0' }, listing).warnings.join(' ')).toMatch(/1 share or more/);
    expect(check({ ...base, qty: '-5' }, listing).order?.qty).toBe('-5');
    expect(check({ ...base, qty: '1.5' }, listing).errors.qty).toBeDefined();
    expect(check({ ...base, qty: '1e3' }, listing).errors.qty).toBeDefined();
    expect(check({ ...base, limit: '' }, listing).errors.limit).toBeDefined();
    expect(check({ ...base, limit: '190.00001' }, listing).errors.limit).toBeDefined();
    expect(check({ ...base, limit: '-1' }, listing).warnings.join(' ')).toMatch(/above zero/);
    expect(check({ ...base, limit: '0' }, listing).order?.limit_price).toBe('0');
    expect(check({ ...base, limit: 'abc' }, listing).order).toBeNull();
    expect(check({ ...base, type: 'stop_limit', stop: 'x' }, listing).errors.stop).toBeDefined();
  });

  it('warns (without refusing) about the tick, the lot and the maximum', () => {
    const off = check({ ...base, limit: '190.005' }, listing);
    expect(off.order).not.toBeNull();
    expect(off.warnings.join(' ')).toMatch(/tick/);
    const lots = check({ ...base, qty: '150' }, { ...listing, lot: '100' });
    expect(lots.warnings.join(' ')).toMatch(/lots of 100/);
    expect(check({ ...base, qty: '2000000' }, listing).warnings.join(' ')).toMatch(/largest order/);
  });
});

suite('ticket estimate', () => {
  it('is qty × limit price, exactly', () => {
    // 3 × 190.07 is 570.2099999999999 in floats.
    expect(toText(estimate(base, {})?.total ?? { units: 0n, scale: 0 })).toBe('570.21');
    expect(toText(estimate({ ...base, qty: '1000000', limit: '0.0001' }, {})?.total ?? { units: 0n, scale: 0 })).toBe('100.0000');
  });

  it('uses the stop price for a stop, the book for a market order, else the last price', () => {
    expect(estimate({ ...base, type: 'stop', stop: '185.00' }, {})?.basis).toBe('stop price');
    const m = estimate({ ...base, type: 'market' }, { bid: '189.99', ask: '190.03', last: '190.00' });
    expect(m?.basis).toBe('best ask');
    expect(toText(m?.total ?? { units: 0n, scale: 0 })).toBe('570.09');
    expect(estimate({ ...base, side: 'sell', type: 'market' }, { bid: '189.99', ask: '190.03' })?.basis).toBe('best bid');
    expect(estimate({ ...base, type: 'market' }, { last: '190.00' })?.basis).toBe('last price');
    expect(estimate({ ...base, type: 'market' }, {})).toBeNull();
    expect(estimate({ ...base, qty: 'x' }, {})).toBeNull();
  });
});

suite('funds warning', () => {
  it('warns when a buy costs more than the buying power', () => {
    const est = estimate(base, {});
    expect(fundsWarning(base, est, '570.21', null)).toBeNull();
    expect(fundsWarning(base, est, '570.20', null)).toMatch(/more than your buying power, \$570\.20/);
  });

  it('warns when a sell is for more shares than are available', () => {
    const sell = { ...base, side: 'sell' as const, qty: '5' };
    expect(fundsWarning(sell, null, null, '5')).toBeNull();
    expect(fundsWarning(sell, null, null, '4')).toMatch(/4 shares available/);
    expect(fundsWarning(sell, null, null, null)).toMatch(/0 shares available/);
  });
});

suite('describe', () => {
  it('says the order in words', () => {
    expect(describe({ symbol: 'AAPL', side: 'buy', type: 'limit', time_in_force: 'gtc', qty: '1000', limit_price: '190.5' })).toBe('Buy 1,000 AAPL, limit 190.50, good till canceled');
    expect(describe({ symbol: 'AAPL', side: 'sell', type: 'market', time_in_force: 'day', qty: '1' })).toBe('Sell 1 AAPL at market, day');
    expect(describe({ symbol: 'X', side: 'sell', type: 'stop_limit', time_in_force: 'day', qty: '2', stop_price: '9.00', limit_price: '8.90' })).toBe('Sell 2 X, stop 9.00, limit 8.90, day');
  });
});
