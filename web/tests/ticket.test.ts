import { describe as suite, expect, it } from 'vitest';
import { toText } from '../src/lib/decimal';
import {
  type TicketInput,
  allowsExtendedHours,
  allowsPostOnly,
  check,
  classRefusalHint,
  classRules,
  describe,
  estimate,
  estimateNotional,
  exitSide,
  exitsHelp,
  fractionalRefusalHint,
  fundsWarning,
  normalize,
  notionalError,
  qtyError,
  sessionRules,
  tifsFor,
  trailError,
  trailRefusalHint,
  trailingStop,
  typesFor,
} from '../src/lib/ticket';
import type { MarketSession, NewOrder, OrderType } from '../src/lib/types';

const listing = { symbol: 'AAPL', tick: '0.01', lot: '1', max_qty: '1000000' };
const base: TicketInput = {
  side: 'buy',
  type: 'limit',
  tif: 'gtc',
  amountIn: 'shares',
  qty: '3',
  notional: '',
  limit: '190.07',
  stop: '',
  postOnly: false,
  extendedHours: false,
  orderClass: 'simple',
  takeProfit: '',
  stopLoss: '',
  stopLossLimit: '',
  trailIn: 'price',
  trail: '',
};

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

suite('order classes: the request body', () => {
  // Buy 100 at 189.00, take profit 195.00, stop loss 185.00 (limit 184.50): the server's own example.
  const bracket: TicketInput = { ...base, qty: '100', limit: '189.00', orderClass: 'bracket', takeProfit: '195.00', stopLoss: '185.00', stopLossLimit: '' };

  it('builds a bracket with its take profit and stop loss', () => {
    expect(check(bracket, listing, 'web-1').order).toEqual({
      symbol: 'AAPL',
      side: 'buy',
      type: 'limit',
      time_in_force: 'gtc',
      qty: '100',
      limit_price: '189.00',
      client_order_id: 'web-1',
      order_class: 'bracket',
      take_profit: { limit_price: '195.00' },
      stop_loss: { stop_price: '185.00' },
    });
    // With a limit, the stop loss is a stop-limit.
    expect(check({ ...bracket, stopLossLimit: ' 184.50 ' }, listing).order?.stop_loss).toEqual({ stop_price: '185.00', limit_price: '184.50' });
    // A market, stop or stop-limit entry carries them too.
    expect(check({ ...bracket, type: 'market' }, listing).order).toMatchObject({ type: 'market', order_class: 'bracket', take_profit: { limit_price: '195.00' } });
    expect(check({ ...bracket, type: 'market' }, listing).order).not.toHaveProperty('limit_price');
    expect(check({ ...bracket, type: 'stop', stop: '189.50' }, listing).order).toMatchObject({ type: 'stop', stop_price: '189.50', order_class: 'bracket' });
    expect(check({ ...bracket, type: 'stop_limit', stop: '189.50', limit: '189.60' }, listing).order).toMatchObject({ stop_price: '189.50', limit_price: '189.60' });
  });

  it('sends no class fields for a simple order, whatever the exit inputs hold', () => {
    const o = check({ ...bracket, orderClass: 'simple' }, listing).order;
    expect(o).not.toBeNull();
    for (const k of ['order_class', 'take_profit', 'stop_loss']) expect(o).not.toHaveProperty(k);
  });

  it('builds an OTO with the one exit filled in', () => {
    const oto = { ...bracket, orderClass: 'oto' as const };
    const tp = check({ ...oto, stopLoss: '' }, listing).order;
    expect(tp).toMatchObject({ order_class: 'oto', take_profit: { limit_price: '195.00' } });
    expect(tp).not.toHaveProperty('stop_loss');
    const sl = check({ ...oto, takeProfit: '', stopLossLimit: '184.50' }, listing).order;
    expect(sl).toMatchObject({ order_class: 'oto', stop_loss: { stop_price: '185.00', limit_price: '184.50' } });
    expect(sl).not.toHaveProperty('take_profit');
  });

  it('builds an OCO as a limit order at its take profit, on the side of its exits', () => {
    // Selling 100 held shares: at 195.00, or if the price falls to 185.00. The entry's own
    // type and limit price inputs are not used.
    const oco: TicketInput = { ...bracket, side: 'sell', type: 'market', limit: '1.00', orderClass: 'oco', tif: 'day' };
    expect(check(oco, listing).order).toEqual({
      symbol: 'AAPL',
      side: 'sell',
      type: 'limit',
      time_in_force: 'day',
      qty: '100',
      limit_price: '195.00',
      order_class: 'oco',
      take_profit: { limit_price: '195.00' },
      stop_loss: { stop_price: '185.00' },
    });
    expect(normalize(oco).type).toBe('limit');
    expect(exitSide('oco', 'sell')).toBe('sell');
    expect(exitSide('bracket', 'buy')).toBe('sell');
    expect(exitSide('oto', 'sell')).toBe('buy');
  });

  it('offers only what an order with exits may be: day or gtc, never post only or extended hours', () => {
    expect(tifsFor('limit', 'bracket').map((t) => t.value)).toEqual(['day', 'gtc']);
    expect(tifsFor('market', 'oco').map((t) => t.value)).toEqual(['day', 'gtc']);
    expect(typesFor('oco').map((t) => t.value)).toEqual(['limit']);
    expect(typesFor('bracket').map((t) => t.value)).toEqual(['market', 'limit', 'stop', 'stop_limit']);
    expect(typesFor('simple').map((t) => t.value)).toEqual(['market', 'limit', 'stop', 'stop_limit', 'trailing_stop']);
    // Choosing a class takes an on-open order back to day.
    expect(normalize({ ...bracket, tif: 'opg' }).tif).toBe('day');
    expect(normalize({ ...bracket, tif: 'gtc' }).tif).toBe('gtc');
    expect(normalize({ ...bracket, orderClass: 'simple', tif: 'opg' }).tif).toBe('opg');
    expect(allowsPostOnly('limit', 'gtc', 'bracket')).toBe(false);
    expect(allowsExtendedHours('limit', 'day', 'oto')).toBe(false);
    expect(allowsExtendedHours('limit', 'day', 'simple')).toBe(true);
    const o = check({ ...bracket, tif: 'day', postOnly: true, extendedHours: true }, listing).order;
    expect(o).not.toBeNull();
    expect(o).not.toHaveProperty('post_only');
    expect(o).not.toHaveProperty('extended_hours');
  });

  it('says the exits in words', () => {
    const o = check({ ...bracket, stopLossLimit: '184.5' }, listing).order;
    expect(o && describe(o)).toBe('Buy 100 AAPL, limit 189.00, good till canceled; bracket: take profit 195.00, stop loss 185.00 limit 184.50');
    const oco = check({ ...bracket, side: 'sell', orderClass: 'oco', tif: 'day' }, listing).order;
    expect(oco && describe(oco)).toBe('Sell 100 AAPL, limit 195.00, day; OCO: take profit 195.00, stop loss 185.00');
    const oto = check({ ...bracket, type: 'market', orderClass: 'oto', takeProfit: '' }, listing).order;
    expect(oto && describe(oto)).toBe('Buy 100 AAPL at market, good till canceled; OTO: stop loss 185.00');
  });

  it('estimates an OCO at its take profit', () => {
    const e = estimate({ ...bracket, side: 'sell', orderClass: 'oco', limit: '' }, {});
    expect(e?.basis).toBe('take profit');
    expect(toText(e?.total ?? { units: 0n, scale: 0 })).toBe('19500.00');
  });
});

suite('order classes: the checks before review', () => {
  const bracket: TicketInput = { ...base, qty: '100', limit: '189.00', orderClass: 'bracket', takeProfit: '195.00', stopLoss: '185.00', stopLossLimit: '' };
  const errorsOf = (i: TicketInput) => {
    const c = check(i, listing);
    // Review is refused exactly when there are errors.
    expect(c.order === null).toBe(Object.keys(c.errors).length > 0);
    return c.errors;
  };

  it('needs both exits for a bracket and an OCO, exactly one for an OTO', () => {
    expect(errorsOf(bracket)).toEqual({});
    expect(errorsOf({ ...bracket, takeProfit: '' }).takeProfit).toBe('Enter the take profit as a positive price with at most 4 decimals.');
    expect(errorsOf({ ...bracket, stopLoss: ' ' }).stopLoss).toMatch(/^Enter the stop loss/);
    expect(errorsOf({ ...bracket, orderClass: 'oco', stopLoss: '' }).stopLoss).toMatch(/^Enter the stop loss/);
    expect(errorsOf({ ...bracket, stopLossLimit: '184.5x' }).stopLossLimit).toMatch(/limit price as a positive price/);
    const oto = { ...bracket, orderClass: 'oto' as const };
    expect(errorsOf({ ...oto, takeProfit: '', stopLoss: '' }).exits).toBe('An OTO order needs one exit: enter a take profit or a stop loss.');
    expect(errorsOf(oto).exits).toBe('An OTO order has exactly one exit: clear the take profit or the stop loss (for both, choose Bracket).');
    // A stop-loss limit without its stop is a stop loss without a stop price.
    expect(errorsOf({ ...oto, takeProfit: '', stopLoss: '', stopLossLimit: '184.50' }).stopLoss).toMatch(/^Enter the stop loss/);
    expect(errorsOf({ ...oto, stopLoss: '' })).toEqual({});
  });

  it('wants a buy entry’s take profit above its price and its stop below', () => {
    expect(errorsOf({ ...bracket, takeProfit: '188.00' }).takeProfit).toBe('The take profit must be above the entry’s limit price, 189.00: it sells what the entry buys at a profit.');
    // Equal is not above.
    expect(errorsOf({ ...bracket, takeProfit: '189' }).takeProfit).toMatch(/must be above the entry’s limit price/);
    expect(errorsOf({ ...bracket, stopLoss: '189.50' }).stopLoss).toBe('The stop loss must be below the entry’s limit price, 189.00: it sells if the price falls.');
    expect(errorsOf({ ...bracket, orderClass: 'oto', takeProfit: '', stopLoss: '190.00' }).stopLoss).toMatch(/below the entry’s limit price/);
    // A stop entry is compared with its stop price; a stop-limit with its limit.
    expect(errorsOf({ ...bracket, type: 'stop', stop: '196.00' }).takeProfit).toMatch(/above the entry’s stop price, 196\.00/);
    expect(errorsOf({ ...bracket, type: 'stop_limit', stop: '184.00', limit: '186.00' })).toEqual({});
    expect(errorsOf({ ...bracket, type: 'stop_limit', stop: '184.00', limit: '186.00', stopLoss: '186.50' }).stopLoss).toMatch(/below the entry’s limit price, 186\.00/);
    // A market entry has no price: the exits are checked against each other.
    expect(errorsOf({ ...bracket, type: 'market' })).toEqual({});
    expect(errorsOf({ ...bracket, type: 'market', takeProfit: '180.00' }).takeProfit).toBe('The take profit must be above the stop loss, 185.00.');
  });

  it('mirrors the prices for a sell entry (buy exits)', () => {
    const sell: TicketInput = { ...bracket, side: 'sell', limit: '189.00', takeProfit: '185.00', stopLoss: '195.00' };
    expect(errorsOf(sell)).toEqual({});
    expect(errorsOf({ ...sell, takeProfit: '190.00' }).takeProfit).toBe('The take profit must be below the entry’s limit price, 189.00: it buys back what the entry sells at a profit.');
    expect(errorsOf({ ...sell, stopLoss: '188.00' }).stopLoss).toBe('The stop loss must be above the entry’s limit price, 189.00: it buys back if the price rises.');
    // The buy stop-limit's limit is at or above its stop.
    expect(errorsOf({ ...sell, stopLossLimit: '195.50' })).toEqual({});
    expect(errorsOf({ ...sell, stopLossLimit: '195.00' })).toEqual({});
    expect(errorsOf({ ...sell, stopLossLimit: '194.50' }).stopLossLimit).toBe('The stop loss’s limit price must be at or above its stop price, 195.00.');
  });

  it('keeps a sell stop-limit exit’s limit at or below its stop', () => {
    expect(errorsOf({ ...bracket, stopLossLimit: '184.50' })).toEqual({});
    expect(errorsOf({ ...bracket, stopLossLimit: '185.50' }).stopLossLimit).toBe('The stop loss’s limit price must be at or below its stop price, 185.00.');
  });

  it('wants an OCO’s take profit beyond its stop, on its own side', () => {
    const oco: TicketInput = { ...bracket, side: 'sell', orderClass: 'oco' };
    expect(errorsOf(oco)).toEqual({});
    expect(errorsOf({ ...oco, takeProfit: '184.00' }).takeProfit).toBe('The take profit must be above the stop loss, 185.00.');
    // A buy OCO buys below the market or if the price rises past the stop.
    expect(errorsOf({ ...oco, side: 'buy', takeProfit: '185.00', stopLoss: '195.00' })).toEqual({});
    expect(errorsOf({ ...oco, side: 'buy' }).takeProfit).toBe('The take profit must be below the stop loss, 185.00.');
  });

  it('warns (without refusing) about exit prices off the tick, as for the entry', () => {
    const c = check({ ...bracket, takeProfit: '195.005', stopLossLimit: '184.501' }, listing);
    expect(c.order).not.toBeNull();
    expect(c.warnings).toEqual(['The take profit is not a multiple of the tick, 0.01.', 'The stop loss’s limit price is not a multiple of the tick, 0.01.']);
  });

  it('explains the rules for the side chosen', () => {
    expect(exitsHelp('simple', 'buy')).toBeNull();
    expect(exitsHelp('bracket', 'buy')).toMatch(/sell what the entry buys: the take profit above the entry’s price, the stop loss below it/);
    expect(exitsHelp('oto', 'sell')).toMatch(/buy back what the entry sells: the take profit below/);
    expect(exitsHelp('oco', 'sell')).toBe('Both orders sell: the take profit above the stop loss.');
    expect(exitsHelp('oco', 'buy')).toBe('Both orders buy: the take profit below the stop loss.');
  });
});

suite('order classes: the exchange’s rules on a request body', () => {
  const entry: NewOrder = { symbol: 'AAPL', side: 'buy', type: 'limit', time_in_force: 'gtc', qty: '100', limit_price: '189.00' };
  const tp = { limit_price: '195.00' };
  const sl = { stop_price: '185.00' };

  it('accepts what the server accepts', () => {
    expect(classRules(entry)).toEqual({});
    expect(classRules({ ...entry, order_class: 'bracket', take_profit: tp, stop_loss: sl })).toEqual({});
    expect(classRules({ ...entry, order_class: 'oto', stop_loss: { stop_price: '185.00', limit_price: '184.50' } })).toEqual({});
    // An OCO's own limit price may be left out (the server takes the take profit's), or repeated in another spelling.
    expect(classRules({ ...entry, side: 'sell', limit_price: undefined, order_class: 'oco', take_profit: tp, stop_loss: sl })).toEqual({});
    expect(classRules({ ...entry, side: 'sell', limit_price: '195', order_class: 'oco', take_profit: tp, stop_loss: sl })).toEqual({});
  });

  it('refuses the shapes the server refuses with INVALID_LEGS', () => {
    expect(classRules({ ...entry, take_profit: tp })).toEqual({ orderClass: 'A take profit or a stop loss needs an order class: Bracket, OCO or OTO.' });
    expect(classRules({ ...entry, order_class: 'bracket', take_profit: tp })).toEqual({ stopLoss: 'A bracket order needs a stop loss.' });
    expect(classRules({ ...entry, side: 'sell', order_class: 'oco', stop_loss: sl })).toMatchObject({ takeProfit: 'An OCO order needs a take profit.' });
    expect(classRules({ ...entry, order_class: 'oto' }).exits).toMatch(/needs one exit/);
    expect(classRules({ ...entry, order_class: 'oto', take_profit: tp, stop_loss: sl }).exits).toMatch(/exactly one exit/);
    const b = { ...entry, order_class: 'bracket' as const, take_profit: tp, stop_loss: sl };
    for (const tif of ['ioc', 'fok', 'opg', 'cls'] as const) {
      expect(classRules({ ...b, time_in_force: tif })).toEqual({ tif: 'A bracket order is Day or Good till canceled.' });
    }
    expect(classRules({ ...b, post_only: true })).toEqual({ orderClass: 'A bracket order cannot be post only.' });
    // The server's other entry types (a trailing stop) carry no exits.
    expect(classRules({ ...b, order_class: 'oto', take_profit: undefined, type: 'trailing_stop' as OrderType, limit_price: undefined })).toEqual({
      orderClass: 'The entry of an OTO order is a market, limit, stop or stop limit order.',
    });
    expect(classRules({ ...b, order_class: 'oto', take_profit: undefined, extended_hours: true })).toEqual({ orderClass: 'An OTO order does not trade in extended hours.' });
    // An OCO is a limit order at its take profit.
    const oco = { ...entry, side: 'sell' as const, order_class: 'oco' as const, take_profit: tp, stop_loss: sl };
    expect(classRules({ ...oco, limit_price: '196.00' })).toEqual({ orderClass: 'An OCO order is a limit order at its take profit.' });
    expect(classRules({ ...oco, type: 'market', limit_price: undefined })).toEqual({ orderClass: 'An OCO order is a limit order at its take profit.' });
  });

  it('adds a hint to the server’s refusal of an order with exits', () => {
    const b: NewOrder = { ...entry, order_class: 'bracket', take_profit: tp, stop_loss: sl };
    expect(classRefusalHint('INVALID_LEGS', b)).toMatch(/a bracket has a take profit and a stop loss, an OTO exactly one/);
    expect(classRefusalHint('INVALID_ORDER_CLASS', b)).toMatch(/Simple, Bracket, OCO and OTO/);
    expect(classRefusalHint('PRICE_OFF_TICK', b)).toMatch(/exits’ included/);
    expect(classRefusalHint('PRICE_OFF_TICK', entry)).toBeNull();
    expect(classRefusalHint('INSUFFICIENT_BUYING_POWER', b)).toBeNull();
  });
});

suite('fractional shares', () => {
  const frac = { ...listing, fractionable: true };

  it('takes up to 6 decimals of a share on a fractionable stock', () => {
    expect(qtyError('0.5', frac)).toBeNull();
    expect(qtyError('1.234567', frac)).toBeNull();
    expect(qtyError('100', frac)).toBeNull();
    expect(qtyError('1.2345678', frac)).toMatch(/at most 6 decimals/);
    expect(qtyError('1e3', frac)).toMatch(/like 10 or 0\.5/);
    expect(qtyError('.5', frac)).toBeDefined();
    expect(check({ ...base, qty: '1.234567' }, frac).order?.qty).toBe('1.234567');
    expect(check({ ...base, qty: ' 0.5 ' }, frac).order?.qty).toBe('0.5');
    expect(check({ ...base, qty: '0.0000001' }, frac).errors.qty).toMatch(/at most 6 decimals/);
  });

  it('takes whole shares only where the stock trades whole shares (FRACTIONAL_NOT_ALLOWED)', () => {
    expect(qtyError('10', listing)).toBeNull();
    expect(qtyError('0.5', listing)).toBe('AAPL trades whole shares only: enter a whole number of shares.');
    expect(qtyError('1.0', listing)).toMatch(/whole shares only/);
    expect(qtyError('abc', listing)).toMatch(/whole number of shares/);
    expect(check({ ...base, qty: '0.5' }, { ...listing, fractionable: false }).order).toBeNull();
  });

  it('warns about zero, the lot and the maximum with fractions, exactly', () => {
    expect(check({ ...base, qty: '0.000000' }, frac).warnings.join(' ')).toMatch(/more than zero shares/);
    expect(check({ ...base, qty: '1000000.000001' }, frac).warnings.join(' ')).toMatch(/largest order/);
    expect(check({ ...base, qty: '1000000.000000' }, frac).warnings).toEqual([]);
  });

  it('estimates a fractional order exactly', () => {
    // Exact to the last of its 8 decimals (shares × price).
    expect(toText(estimate({ ...base, qty: '1.234567' }, {})?.total ?? { units: 0n, scale: 0 })).toBe('234.65414969');
    const sell = { ...base, side: 'sell' as const, qty: '0.75' };
    expect(fundsWarning(sell, null, null, '0.75')).toBeNull();
    expect(fundsWarning(sell, null, null, '0.5')).toMatch(/0\.5 shares available/);
  });
});

suite('orders in dollars (notional)', () => {
  const frac = { ...listing, fractionable: true };
  const dollars: TicketInput = { ...base, type: 'market', tif: 'day', amountIn: 'dollars', qty: '', notional: '250.00' };

  it('sends a simple market day order with the notional and no qty', () => {
    expect(check(dollars, frac, 'web-2').order).toEqual({ symbol: 'AAPL', side: 'buy', type: 'market', time_in_force: 'day', notional: '250.00', client_order_id: 'web-2' });
    const sell = check({ ...dollars, side: 'sell', notional: '99.1234', qty: '5' }, frac).order;
    expect(sell).toEqual({ symbol: 'AAPL', side: 'sell', type: 'market', time_in_force: 'day', notional: '99.1234' });
    expect(sell && 'qty' in sell).toBe(false);
    // Shares mode sends qty and never a notional, whatever the amount field holds.
    const shares = check({ ...base, notional: '250' }, frac).order;
    expect(shares?.qty).toBe('3');
    expect(shares && 'notional' in shares).toBe(false);
  });

  it('takes dollars above zero with at most 4 decimals', () => {
    expect(notionalError('250', frac)).toBeNull();
    expect(notionalError('0.0001', frac)).toBeNull();
    expect(notionalError('250.12345', frac)).toMatch(/at most 4 decimals/);
    expect(notionalError('0', frac)).toMatch(/above zero/);
    expect(notionalError('0.0000', frac)).toMatch(/above zero/);
    expect(notionalError('-5', frac)).toBeDefined();
    expect(notionalError('$250', frac)).toBeDefined();
    expect(notionalError('', frac)).toBeDefined();
    expect(check({ ...dollars, notional: '1e3' }, frac).errors.notional).toBeDefined();
    expect(check({ ...dollars, notional: '0' }, frac).order).toBeNull();
  });

  it('is refused on a stock that trades whole shares only', () => {
    const r = check(dollars, listing);
    expect(r.order).toBeNull();
    expect(r.errors.notional).toBe('AAPL trades whole shares only: it takes no orders in dollars. Buy in shares.');
    expect(notionalError('250', { ...listing, fractionable: false })).toMatch(/whole shares only/);
  });

  it('mirrors the exchange: market, day and simple only (INVALID_ORDER)', () => {
    expect(check({ ...dollars, type: 'limit', limit: '190.00' }, frac).errors.amountIn).toMatch(/market order, good for the day/);
    expect(check({ ...dollars, tif: 'gtc' }, frac).errors.amountIn).toMatch(/market order, good for the day/);
    expect(check({ ...dollars, tif: 'ioc' }, frac).order).toBeNull();
    expect(check({ ...dollars, orderClass: 'bracket' }, frac).errors.amountIn).toMatch(/simple order/);
  });

  it('switches the ticket to a simple market day order, and back to shares where dollars are not taken', () => {
    const n = normalize({ ...base, type: 'stop_limit', tif: 'gtc', orderClass: 'bracket', amountIn: 'dollars' }, frac);
    expect(n).toMatchObject({ amountIn: 'dollars', type: 'market', tif: 'day', orderClass: 'simple' });
    expect(normalize({ ...dollars }, listing)).toMatchObject({ amountIn: 'shares' });
    expect(normalize({ ...dollars }, { ...listing, fractionable: false }).amountIn).toBe('shares');
    // Without the listing, the mode is kept.
    expect(normalize({ ...dollars, type: 'limit' }).type).toBe('market');
    // Shares mode is left alone.
    expect(normalize(base, frac)).toEqual(base);
  });

  it('estimates the shares at the last price, rounded down to a millionth', () => {
    const e = estimate(dollars, { bid: '189.99', ask: '190.07', last: '190.06' });
    expect(e?.basis).toBe('last price');
    expect(toText(e?.total ?? { units: 0n, scale: 0 })).toBe('250.00');
    // 250 / 190.06 = 1.3153740924…
    expect(toText(e?.shares ?? { units: 0n, scale: 0 })).toBe('1.315374');
    expect(toText(estimateNotional('250', 'buy', { last: '200.00' })?.shares ?? { units: 0n, scale: 0 })).toBe('1.250000');
    // No trade yet: the side of the book the order takes from.
    expect(estimateNotional('100', 'buy', { bid: '99.00', ask: '100.00' })?.basis).toBe('best ask');
    expect(estimateNotional('100', 'sell', { bid: '99.00', ask: '100.00' })?.basis).toBe('best bid');
    expect(estimateNotional('100', 'buy', {})).toBeNull();
    expect(estimateNotional('0', 'buy', { last: '1' })).toBeNull();
    expect(estimateNotional('abc', 'buy', { last: '1' })).toBeNull();
  });

  it('warns about buying power and shares held with the estimate', () => {
    const e = estimate(dollars, { last: '200.00' });
    expect(fundsWarning(dollars, e, '250.00', null)).toBeNull();
    expect(fundsWarning(dollars, e, '249.99', null)).toMatch(/\$250\.00, is more than your buying power/);
    const sell: TicketInput = { ...dollars, side: 'sell' };
    const es = estimate(sell, { last: '200.00' });
    expect(fundsWarning(sell, es, null, '1.25')).toBeNull();
    expect(fundsWarning(sell, es, null, '1')).toMatch(/about 1\.25 shares: you have 1 shares available/);
  });

  it('says the order in words', () => {
    expect(describe({ symbol: 'AAPL', side: 'buy', type: 'market', time_in_force: 'day', notional: '250' })).toBe('Buy $250.00 of AAPL at market, day');
    expect(describe({ symbol: 'AAPL', side: 'sell', type: 'market', time_in_force: 'day', notional: '1000.5' })).toBe('Sell $1,000.50 of AAPL at market, day');
    expect(describe({ symbol: 'AAPL', side: 'buy', type: 'limit', time_in_force: 'day', qty: '0.5', limit_price: '190' })).toBe('Buy 0.5 AAPL, limit 190.00, day');
  });

  it('adds a hint to the exchange’s refusal of an order in dollars or for a fraction', () => {
    const n: NewOrder = { symbol: 'AAPL', side: 'buy', type: 'market', time_in_force: 'day', notional: '250' };
    const f: NewOrder = { symbol: 'AAPL', side: 'buy', type: 'market', time_in_force: 'day', qty: '0.5' };
    const whole: NewOrder = { symbol: 'AAPL', side: 'buy', type: 'market', time_in_force: 'day', qty: '5' };
    expect(fractionalRefusalHint('INVALID_ORDER', n)).toMatch(/simple market order, good for the day/);
    expect(fractionalRefusalHint('INVALID_QUANTITY', f)).toMatch(/at most 6 decimals/);
    expect(fractionalRefusalHint('INVALID_ORDER', whole)).toBeNull();
    expect(fractionalRefusalHint('INSUFFICIENT_BUYING_POWER', n)).toBeNull();
    expect(fractionalRefusalHint(null, n)).toBeNull();
  });
});

suite('trailing stops', () => {
  const trailing: TicketInput = { ...base, side: 'sell', type: 'trailing_stop', tif: 'gtc', qty: '10', limit: '', trailIn: 'price', trail: '1.00' };
  const stopText = (d: ReturnType<typeof trailingStop>) => (d ? toText(d) : null);

  it('is offered for simple orders only, day or good till canceled', () => {
    expect(typesFor('simple').map((t) => t.value)).toContain('trailing_stop');
    for (const cls of ['bracket', 'oto', 'oco'] as const) expect(typesFor(cls).map((t) => t.value)).not.toContain('trailing_stop');
    expect(tifsFor('trailing_stop').map((t) => t.value)).toEqual(['day', 'gtc']);
    // A class, or a time in force it does not take, falls back as for the other types.
    expect(normalize({ ...trailing, orderClass: 'bracket' }).type).toBe('limit');
    expect(normalize({ ...trailing, tif: 'ioc' }).tif).toBe('day');
    expect(normalize({ ...trailing, tif: 'gtc' }).tif).toBe('gtc');
    expect(allowsExtendedHours('trailing_stop', 'day')).toBe(false);
    expect(allowsPostOnly('trailing_stop', 'day')).toBe(false);
  });

  it('builds the request with exactly one trail and no limit or stop price', () => {
    expect(check(trailing, listing, 'web-1').order).toEqual({
      symbol: 'AAPL',
      side: 'sell',
      type: 'trailing_stop',
      time_in_force: 'gtc',
      qty: '10',
      trail_price: '1.00',
      client_order_id: 'web-1',
    });
    expect(check({ ...trailing, trailIn: 'percent', trail: ' 1.5 ', tif: 'day' }, listing).order).toEqual({
      symbol: 'AAPL',
      side: 'sell',
      type: 'trailing_stop',
      time_in_force: 'day',
      qty: '10',
      trail_percent: '1.5',
    });
    // Whatever the other inputs hold: no limit, stop, post only, extended hours or exits.
    const o = check({ ...trailing, limit: '190.00', stop: '185.00', postOnly: true, extendedHours: true, tif: 'day', takeProfit: '200', stopLoss: '180' }, listing).order;
    expect(o).toEqual({ symbol: 'AAPL', side: 'sell', type: 'trailing_stop', time_in_force: 'day', qty: '10', trail_price: '1.00' });
    // Other types send no trail.
    expect(check({ ...base, trail: '1.00' }, listing).order).not.toHaveProperty('trail_price');
  });

  it('checks a trail in dollars: a positive price on the tick', () => {
    expect(trailError('1.00', 'price', '0.01')).toBeNull();
    expect(trailError('0.05', 'price', '0.05')).toBeNull();
    expect(trailError('', 'price', '0.01')).toMatch(/trail in dollars/);
    expect(trailError('abc', 'price', '0.01')).toMatch(/trail in dollars/);
    expect(trailError('1.00001', 'price', '0.01')).toMatch(/at most 4 decimals/);
    expect(trailError('0', 'price', '0.01')).toBe('Enter a trail above zero.');
    expect(trailError('-1', 'price', '0.01')).toBe('Enter a trail above zero.');
    expect(trailError('1.005', 'price', '0.01')).toBe('Enter a trail on the tick: a multiple of 0.01.');
    expect(trailError('0.07', 'price', '0.05')).toMatch(/multiple of 0\.05/);
    // Refused before review, under the trail.
    const c = check({ ...trailing, trail: '1.005' }, listing);
    expect(c.order).toBeNull();
    expect(c.errors.trail).toMatch(/on the tick/);
  });

  it('checks a trail in percent: above 0, below 100, at most 2 decimals', () => {
    for (const ok of ['1', '0.01', '2.5', '99.99', '50.00']) expect(trailError(ok, 'percent', '0.01')).toBeNull();
    expect(trailError('0', 'percent', '0.01')).toBe('Enter a percentage above 0 and below 100.');
    expect(trailError('100', 'percent', '0.01')).toBe('Enter a percentage above 0 and below 100.');
    expect(trailError('150', 'percent', '0.01')).toBe('Enter a percentage above 0 and below 100.');
    expect(trailError('-1', 'percent', '0.01')).toMatch(/trail in percent/);
    expect(trailError('1.5%', 'percent', '0.01')).toMatch(/trail in percent/);
    expect(trailError('', 'percent', '0.01')).toMatch(/trail in percent/);
    expect(trailError('1.234', 'percent', '0.01')).toMatch(/at most 2 decimals/);
    // The tick is for dollars only.
    expect(trailError('1.5', 'percent', '1')).toBeNull();
    expect(check({ ...trailing, trailIn: 'percent', trail: '100' }, listing).errors.trail).toMatch(/below 100/);
  });

  it('refuses a time in force a trailing stop does not take, should one get through', () => {
    const c = check({ ...trailing, tif: 'ioc' }, listing);
    expect(c.errors.tif).toBe('A trailing stop is Day or Good till canceled.');
    expect(c.order).toBeNull();
  });

  it('is never the entry of a class (the exchange’s INVALID_LEGS)', () => {
    const o: NewOrder = { symbol: 'AAPL', side: 'buy', type: 'trailing_stop', time_in_force: 'day', qty: '1', trail_price: '1.00', order_class: 'oto', stop_loss: { stop_price: '180.00' } };
    expect(classRules(o).orderClass).toBe('The entry of an OTO order is a market, limit, stop or stop limit order.');
    expect(classRules({ ...o, order_class: 'bracket', take_profit: { limit_price: '200.00' } }).orderClass).toMatch(/market, limit, stop or stop limit/);
  });

  it('sits the trail from the water mark, on the tick away from the market', () => {
    expect(stopText(trailingStop('sell', '190.00', { price: '1.00' }, '0.01'))).toBe('189.00');
    expect(stopText(trailingStop('buy', '190.00', { price: '1.00' }, '0.01'))).toBe('191.00');
    // 1.5 % of 190.07 is 2.85105: a sell's 187.21895 rounds down, a buy's 192.92105 up.
    expect(stopText(trailingStop('sell', '190.07', { percent: '1.5' }, '0.01'))).toBe('187.21');
    expect(stopText(trailingStop('buy', '190.07', { percent: '1.5' }, '0.01'))).toBe('192.93');
    expect(stopText(trailingStop('sell', '190.00', { percent: '1' }, '0.05'))).toBe('188.10');
    // Exactly on the tick stays.
    expect(stopText(trailingStop('sell', '200.00', { percent: '1' }, '0.01'))).toBe('198.00');
    // No mark, no trail, or no positive stop: nothing.
    expect(trailingStop('sell', null, { price: '1.00' }, '0.01')).toBeNull();
    expect(trailingStop('sell', '190.00', {}, '0.01')).toBeNull();
    expect(trailingStop('sell', '1.00', { price: '1.00' }, '0.01')).toBeNull();
    expect(trailingStop('sell', '190.00', { percent: '100' }, '0.01')).toBeNull();
  });

  it('says the order in words, with its stop at the last price', () => {
    const sell = check(trailing, listing).order;
    expect(sell && describe(sell, { last: '190.00', tick: '0.01' })).toBe('Sell 10 AAPL, trailing stop $1.00 below the high (now stop 189.00), good till canceled');
    expect(sell && describe(sell)).toBe('Sell 10 AAPL, trailing stop $1.00 below the high, good till canceled');
    expect(sell && describe(sell, { last: null, tick: '0.01' })).toBe('Sell 10 AAPL, trailing stop $1.00 below the high, good till canceled');
    const buy = check({ ...trailing, side: 'buy', trailIn: 'percent', trail: '2', tif: 'day' }, listing).order;
    expect(buy && describe(buy, { last: '190.00', tick: '0.01' })).toBe('Buy 10 AAPL, trailing stop 2% above the low (now stop 193.80), day');
  });

  it('estimates at the stop it would have now, else the book', () => {
    const e = estimate(trailing, { bid: '189.99', ask: '190.01', last: '190.00' }, '0.01');
    expect(e?.basis).toBe('current stop');
    expect(toText(e?.total ?? { units: 0n, scale: 0 })).toBe('1890.00');
    // Without the tick, a last price or a good trail: the book, as for a market order.
    expect(estimate(trailing, { bid: '189.99', ask: '190.01', last: '190.00' })?.basis).toBe('best bid');
    expect(estimate(trailing, { bid: '189.99' }, '0.01')?.basis).toBe('best bid');
    expect(estimate({ ...trailing, trail: 'x' }, { bid: '189.99', last: '190.00' }, '0.01')?.basis).toBe('best bid');
  });

  it('waits for continuous trading to trigger, as stops do', () => {
    const o: NewOrder = { symbol: 'AAPL', side: 'sell', type: 'trailing_stop', time_in_force: 'gtc', qty: '1', trail_percent: '1' };
    expect(sessionRules(o, 'continuous')).toEqual({ warning: null, note: null });
    expect(sessionRules(o, 'pre_market').note).toMatch(/trigger only in continuous trading/);
  });

  it('adds a hint to the exchange’s refusal of a trailing stop', () => {
    const o: NewOrder = { symbol: 'AAPL', side: 'sell', type: 'trailing_stop', time_in_force: 'gtc', qty: '1', trail_price: '1.005' };
    expect(trailRefusalHint('INVALID_TRAIL', o)).toMatch(/one trail/);
    expect(trailRefusalHint('PRICE_OFF_TICK', o)).toMatch(/multiple of the stock’s tick/);
    expect(trailRefusalHint('INSUFFICIENT_POSITION', o)).toBeNull();
    expect(trailRefusalHint('INVALID_TRAIL', { ...o, type: 'limit', limit_price: '1' })).toBeNull();
  });
});
