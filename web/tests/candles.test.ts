import { describe, expect, it } from 'vitest';
import { CandleSeries } from '../src/lib/candles';
import type { Candle } from '../src/lib/types';

const c = (start: string, o: string, h: string, l: string, cl: string, v: string): Candle => ({ start, open: o, high: h, low: l, close: cl, volume: v, trades: 1 });

describe('CandleSeries', () => {
  it('1m: the feed bar replaces the current one or starts the next', () => {
    const s = new CandleSeries('1m');
    s.load([c('2026-11-22T14:30:00.000000000Z', '10', '11', '9', '10.5', '100')]);
    s.apply(c('2026-11-22T14:30:00.000000000Z', '10', '12', '9', '11.5', '150'));
    expect(s.bars).toHaveLength(1);
    expect(s.bars[0]).toMatchObject({ high: '12', close: '11.5', volume: '150' });
    s.apply(c('2026-11-22T14:31:00.000000000Z', '11.5', '11.5', '11.5', '11.5', '5'));
    expect(s.bars).toHaveLength(2);
    expect(s.apply(c('2026-11-22T14:29:00.000000000Z', '1', '1', '1', '1', '1'))).toBeNull();
  });

  it('5m: rolls 1-minute bars up without counting volume twice', () => {
    const s = new CandleSeries('5m');
    // The 14:30 bar includes the 14:32 minute so far (volume 40 of its 100).
    s.load([c('2026-11-22T14:30:00Z', '10.00', '10.50', '9.90', '10.20', '100')], c('2026-11-22T14:32:00Z', '10.10', '10.30', '10.00', '10.20', '40'));
    s.apply(c('2026-11-22T14:32:00Z', '10.10', '10.60', '10.00', '10.40', '55'));
    expect(s.bars[0]).toMatchObject({ open: '10.00', high: '10.60', low: '9.90', close: '10.40', volume: '115' });
    s.apply(c('2026-11-22T14:33:00Z', '10.40', '10.40', '9.80', '9.85', '10'));
    expect(s.bars[0]).toMatchObject({ low: '9.80', close: '9.85', volume: '125' });
    s.apply(c('2026-11-22T14:33:00Z', '10.40', '10.40', '9.80', '9.90', '12'));
    expect(s.bars[0]?.volume).toBe('127');
    s.apply(c('2026-11-22T14:35:00Z', '9.90', '9.90', '9.90', '9.90', '3'));
    expect(s.bars).toHaveLength(2);
    expect(s.bars[1]).toMatchObject({ time: Date.UTC(2026, 10, 22, 14, 35), volume: '3' });
  });
});
