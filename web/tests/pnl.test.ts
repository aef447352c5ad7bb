import { describe, expect, it } from 'vitest';
import { revalue, total } from '../src/lib/pnl';
import type { Position } from '../src/lib/types';

const pos: Position = {
  symbol: 'AAPL',
  qty: '30',
  qty_available: '30',
  reserved_qty: '0',
  avg_entry_price: '190.0333',
  cost_basis: '5701.00',
  current_price: '190.00',
  lastday_price: '189.10',
  market_value: '5700.00',
  unrealized_pl: '-1.00',
  unrealized_pl_pct: '-0.02',
  realized_pl: '0.00',
  day_change: '27.00',
  day_change_pct: '0.48',
};

describe('revalue', () => {
  it('values a fractional position exactly', () => {
    const frac: Position = { ...pos, qty: '1.315374', qty_available: '1.315374', cost_basis: '250.0000', avg_entry_price: '190.06', lastday_price: '189.10' };
    const v = revalue(frac, '200.00');
    // 1.315374 × 200.00; 1.315374 × 10.90 for the day.
    expect(v.market_value).toBe('263.07480000');
    expect(v.unrealized_pl).toBe('13.07480000');
    expect(v.unrealized_pl_pct).toBe('5.23');
    expect(v.day_change).toBe('14.33757660');
  });

  it('values a position at a live price exactly', () => {
    const v = revalue(pos, '190.07');
    expect(v.market_value).toBe('5702.10');
    expect(v.unrealized_pl).toBe('1.10');
    expect(v.unrealized_pl_pct).toBe('0.02');
    expect(v.day_change).toBe('29.10');
    expect(v.day_change_pct).toBe('0.51');
  });

  it('gives a loss its sign', () => {
    const v = revalue(pos, '180.00');
    expect(v.unrealized_pl).toBe('-301.00');
    expect(v.unrealized_pl_pct).toBe('-5.28');
    expect(v.day_change).toBe('-273.00');
  });

  it('keeps the server values without a live price', () => {
    expect(revalue(pos, null).market_value).toBe('5700.00');
    expect(revalue(pos, 'garbage').unrealized_pl).toBe('-1.00');
  });

  it('has no percentage over a zero cost basis', () => {
    expect(revalue({ ...pos, cost_basis: '0.00' }, '1.00').unrealized_pl_pct).toBeNull();
  });
});

describe('total', () => {
  it('sums money strings exactly', () => {
    expect(total(['0.10', '0.20', '-0.05'])).toBe('0.25');
    expect(total([])).toBe('0');
    expect(total(['1', 'x', '2.5'])).toBe('3.5');
  });
});
