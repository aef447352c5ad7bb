/**
 * Candles of one interval, loaded from REST and kept current from the feed's `candle`
 * messages, which are always the current 1-minute bar: longer bars are rolled up here.
 */
import { add, cmp, dec, sub, toText } from './decimal';
import { parseTs } from './format';
import type { Candle } from './types';

export const INTERVALS = ['1m', '5m', '15m', '1h', '1d'] as const;
export type Interval = (typeof INTERVALS)[number];

export const INTERVAL_MS: Record<Interval, number> = {
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '1h': 3_600_000,
  '1d': 86_400_000,
};

export interface Bar {
  /** Start, ms since the epoch (UTC bucket). */
  time: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
}

const maxText = (a: string, b: string): string => (cmp(dec(a), dec(b)) >= 0 ? a : b);
const minText = (a: string, b: string): string => (cmp(dec(a), dec(b)) <= 0 ? a : b);

export class CandleSeries {
  bars: Bar[] = [];
  /** The latest volume seen for each 1-minute bar inside the last bar. */
  private minuteVolume = new Map<number, string>();

  constructor(readonly interval: Interval) {}

  private bucket(ms: number): number {
    const size = INTERVAL_MS[this.interval];
    return Math.floor(ms / size) * size;
  }

  /**
   * Takes the REST bars (oldest first). `current1m` is the 1-minute bar in progress as of
   * the same moment (for intervals over 1m), so the feed's later updates of that minute add
   * only what is new.
   */
  load(candles: Candle[], current1m?: Candle): void {
    this.bars = [];
    for (const c of candles) {
      const t = parseTs(c.start);
      if (t == null) continue;
      this.bars.push({ time: t, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume });
    }
    this.minuteVolume.clear();
    if (current1m) {
      const t = parseTs(current1m.start);
      const last = this.bars[this.bars.length - 1];
      if (t != null && last && this.bucket(t) === last.time) this.minuteVolume.set(t, current1m.volume);
    }
  }

  /** Applies a feed 1-minute candle; returns the bar that changed (or null if too old). */
  apply(c: Candle): Bar | null {
    const t = parseTs(c.start);
    if (t == null) return null;
    const start = this.bucket(t);
    const last = this.bars[this.bars.length - 1];
    if (last && start < last.time) return null;
    if (!last || start > last.time) {
      const bar: Bar = { time: start, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume };
      this.bars.push(bar);
      this.minuteVolume = new Map([[t, c.volume]]);
      return bar;
    }
    if (this.interval === '1m') {
      const bar: Bar = { time: start, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume };
      this.bars[this.bars.length - 1] = bar;
      return bar;
    }
    const before = this.minuteVolume.get(t) ?? '0';
    const bar: Bar = {
      time: start,
      open: last.open,
      high: maxText(last.high, c.high),
      low: minText(last.low, c.low),
      close: c.close,
      volume: toText(add(dec(last.volume), sub(dec(c.volume), dec(before)))),
    };
    this.minuteVolume.set(t, c.volume);
    this.bars[this.bars.length - 1] = bar;
    return bar;
  }
}
