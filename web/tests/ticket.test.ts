import { describe as suite, expect, it } from 'vitest';
import { toText } from '../src/lib/decimal';
import { type TicketInput, allowsExtendedHours, allowsPostOnly, check, describe, estimate, fundsWarning, normalize, sessionRules, tifsFor } from '../src/lib/ticket';
import type { MarketSession, NewOrder } from '../src/lib/types';

const listing = { symbol: 'AAPL', tick: '0.01', lot: '1', max_qty: '1000000' };
const base: TicketInput = { side: 'buy', type: 'limit', tif: 'gtc', qty: '3', limit: '190.07', stop: '', postOnly: false, extendedHours: false };

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

suite('on open, on close and extended hours', () => {
  const tifs = (t: TicketInput['type']) => tifsFor(t).map((x) => x.value);

  it('offers on open and on close for market and limit orders only', () => {
    expect(tifs('market')).toEqual(['day', 'gtc', 'ioc', 'fok', 'opg', 'cls']);
    expect(tifs('limit')).toEqual(['day', 'gtc', 'ioc', 'fok', 'opg', 'cls']);
    expect(tifs('stop')).toEqual(['day', 'gtc', 'ioc', 'fok']);
    expect(tifs('stop_limit')).toEqual(['day', 'gtc', 'ioc', 'fok']);
    // Switching to a stop falls back to day; anything else is kept.
    expect(normalize({ ...base, tif: 'opg', type: 'stop' }).tif).toBe('day');
    expect(normalize({ ...base, tif: 'cls', type: 'market' }).tif).toBe('cls');
    expect(normalize({ ...base, tif: 'gtc', type: 'stop' }).tif).toBe('gtc');
    // Should one get through anyway, review is refused rather than the exchange asked.
    const bad = check({ ...base, type: 'stop', stop: '185.00', tif: 'opg' }, listing);
    expect(bad.errors.tif).toMatch(/market and limit/);
    expect(bad.order).toBeNull();
  });

  it('sends on open and on close orders, never post only', () => {
    expect(check({ ...base, type: 'market', tif: 'opg' }, listing).order).toEqual({ symbol: 'AAPL', side: 'buy', type: 'market', time_in_force: 'opg', qty: '3' });
    expect(check({ ...base, tif: 'cls' }, listing).order).toMatchObject({ type: 'limit', time_in_force: 'cls', limit_price: '190.07' });
    expect(allowsPostOnly('limit', 'opg')).toBe(false);
    expect(allowsPostOnly('limit', 'gtc')).toBe(true);
    expect(check({ ...base, tif: 'opg', postOnly: true }, listing).order?.post_only).toBeUndefined();
    expect(check({ ...base, tif: 'cls', postOnly: true }, listing).order?.post_only).toBeUndefined();
  });

  it('sends extended hours only for a checked limit day order', () => {
    expect(allowsExtendedHours('limit', 'day')).toBe(true);
    for (const [type, tif] of [
      ['limit', 'gtc'],
      ['limit', 'ioc'],
      ['limit', 'opg'],
      ['limit', 'cls'],
      ['market', 'day'],
      ['stop_limit', 'day'],
    ] as const) {
      expect(allowsExtendedHours(type, tif)).toBe(false);
      expect(check({ ...base, type, tif, stop: '185.00', extendedHours: true }, listing).order?.extended_hours).toBeUndefined();
    }
    expect(check({ ...base, tif: 'day', extendedHours: true }, listing).order?.extended_hours).toBe(true);
    expect(check({ ...base, tif: 'day', extendedHours: false }, listing).order).not.toHaveProperty('extended_hours');
    // With post only too: both are the exchange's rules for a limit day order.
    expect(check({ ...base, tif: 'day', extendedHours: true, postOnly: true }, listing).order).toMatchObject({ post_only: true, extended_hours: true });
  });

  it('warns when the session will make the exchange refuse the order', () => {
    const rule = (o: Partial<NewOrder>, s: MarketSession) => sessionRules({ type: 'limit', time_in_force: 'day', ...o }, s);
    // On open: until the opening auction, then AUCTION_CLOSED until after the close.
    expect(rule({ time_in_force: 'opg' }, 'continuous').warning).toMatch(/opening auction has already taken place/);
    expect(rule({ time_in_force: 'opg' }, 'closing_call').warning).toMatch(/already taken place/);
    expect(rule({ time_in_force: 'opg' }, 'opening_call').warning).toBeNull();
    expect(rule({ time_in_force: 'opg' }, 'opening_call').note).toMatch(/joins it now/);
    for (const s of ['pre_market', 'after_hours', 'closed'] as const) {
      expect(rule({ time_in_force: 'opg' }, s).warning).toBeNull();
      expect(rule({ time_in_force: 'opg' }, s).note).toMatch(/next opening auction/);
    }
    // On close: waits for the closing call, whenever placed.
    expect(rule({ time_in_force: 'cls' }, 'continuous').note).toMatch(/next closing auction/);
    expect(rule({ time_in_force: 'cls' }, 'closing_call').note).toMatch(/joins it now/);
    expect(rule({ time_in_force: 'cls' }, 'pre_market').warning).toBeNull();
    // IOC and FOK: continuous trading only (MARKET_CLOSED).
    expect(rule({ time_in_force: 'ioc' }, 'continuous')).toEqual({ warning: null, note: null });
    for (const s of ['pre_market', 'opening_call', 'closing_call', 'after_hours', 'closed'] as const) {
      expect(rule({ type: 'market', time_in_force: 'fok' }, s).warning).toMatch(/refuse immediate-or-cancel and fill-or-kill/);
    }
  });

  it('says where an order placed outside regular hours goes', () => {
    const rule = (o: Partial<NewOrder>, s: MarketSession) => sessionRules({ type: 'limit', time_in_force: 'day', ...o }, s);
    expect(rule({}, 'continuous')).toEqual({ warning: null, note: null });
    expect(rule({}, 'pre_market').note).toMatch(/pre-market: the order waits for the opening auction/);
    expect(rule({ extended_hours: true }, 'pre_market').note).toBe('The order trades now, in pre-market.');
    expect(rule({ extended_hours: true }, 'after_hours').note).toBe('The order trades now, in after hours.');
    expect(rule({ extended_hours: true }, 'closed').note).toMatch(/closed: the order waits for the opening auction/);
    expect(rule({ type: 'market', time_in_force: 'gtc' }, 'after_hours').note).toMatch(/waits for the opening auction/);
    expect(rule({}, 'opening_call').note).toMatch(/opening auction is running/);
    expect(rule({ type: 'stop' }, 'pre_market').note).toMatch(/trigger only in continuous trading/);
  });

  it('adds the session’s warning and note to the check, only when the session is known', () => {
    const opg = { ...base, tif: 'opg' as const };
    expect(check(opg, listing).warnings).toEqual([]);
    expect(check(opg, listing, undefined, null).notes).toEqual([]);
    const now = check(opg, listing, undefined, 'continuous');
    expect(now.order?.time_in_force).toBe('opg');
    expect(now.warnings.join(' ')).toMatch(/already taken place/);
    expect(check(opg, listing, undefined, 'pre_market').notes.join(' ')).toMatch(/next opening auction/);
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
    expect(describe({ symbol: 'AAPL', side: 'buy', type: 'market', time_in_force: 'opg', qty: '5' })).toBe('Buy 5 AAPL at market, on open');
    expect(describe({ symbol: 'AAPL', side: 'sell', type: 'limit', time_in_force: 'cls', qty: '5', limit_price: '191' })).toBe('Sell 5 AAPL, limit 191.00, on close');
    expect(describe({ symbol: 'AAPL', side: 'buy', type: 'limit', time_in_force: 'day', qty: '5', limit_price: '189', extended_hours: true })).toBe('Buy 5 AAPL, limit 189.00, day, extended hours');
  });
});
