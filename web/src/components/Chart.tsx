import type { IChartApi, ISeriesApi, UTCTimestamp } from 'lightweight-charts';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, describeError } from '../lib/api';
import { type Bar, CandleSeries, INTERVALS, type Interval } from '../lib/candles';
import { market } from '../state';

type Lib = typeof import('lightweight-charts');

let libPromise: Promise<Lib> | null = null;
/** The chart library is loaded on the first stock page, in its own chunk. */
const loadLib = (): Promise<Lib> => (libPromise ??= import('lightweight-charts'));

const UP = '#00c805';
const DOWN = '#ff6a3d';

// Prices become binary floats only here, for drawing; nothing is computed from them.
const toPoint = (b: Bar) => ({
  time: (b.time / 1000) as UTCTimestamp,
  open: Number(b.open),
  high: Number(b.high),
  low: Number(b.low),
  close: Number(b.close),
});
const toVolume = (b: Bar) => ({
  time: (b.time / 1000) as UTCTimestamp,
  value: Number(b.volume),
  color: Number(b.close) >= Number(b.open) ? 'rgba(0,200,5,0.45)' : 'rgba(255,106,61,0.45)',
});

interface Handles {
  chart: IChartApi;
  candles: ISeriesApi<'Candlestick'>;
  volume: ISeriesApi<'Histogram'>;
}

/** Candles with a volume histogram, kept current from the feed's 1-minute candles. */
export function Chart({ symbol, stale }: { symbol: string; stale: boolean }) {
  const [interval, setIntervalName] = useState<Interval>('1m');
  const [status, setStatus] = useState<string | null>('Loading chart…');
  const box = useRef<HTMLDivElement>(null);
  const handles = useRef<Handles | null>(null);

  useEffect(() => {
    let dead = false;
    void loadLib().then(
      (lib) => {
        if (dead || !box.current) return;
        const chart = lib.createChart(box.current, {
          autoSize: true,
          layout: {
            background: { type: lib.ColorType.Solid, color: '#151917' },
            textColor: '#a3aea8',
            attributionLogo: false,
          },
          grid: { vertLines: { color: '#1d2320' }, horzLines: { color: '#1d2320' } },
          rightPriceScale: { borderColor: '#2b332f' },
          timeScale: { borderColor: '#2b332f', timeVisible: true, secondsVisible: false },
          crosshair: { mode: lib.CrosshairMode.Normal },
        });
        const candles = chart.addSeries(lib.CandlestickSeries, {
          upColor: UP,
          downColor: DOWN,
          borderUpColor: UP,
          borderDownColor: DOWN,
          wickUpColor: UP,
          wickDownColor: DOWN,
        });
        const volume = chart.addSeries(lib.HistogramSeries, { priceFormat: { type: 'volume' }, priceScaleId: '' });
        volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
        candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.25 } });
        handles.current = { chart, candles, volume };
        setStatus((s) => (s === 'Loading chart…' ? null : s));
      },
      (e: unknown) => setStatus(`The chart could not load: ${describeError(e).message}`),
    );
    return () => {
      dead = true;
      handles.current?.chart.remove();
      handles.current = null;
    };
  }, []);

  useEffect(() => {
    let dead = false;
    const series = new CandleSeries(interval);
    let loaded = false;
    let applied = '';
    const draw = () => {
      const h = handles.current;
      if (!h || !loaded) return false;
      h.candles.setData(series.bars.map(toPoint));
      h.volume.setData(series.bars.map(toVolume));
      return true;
    };
    const load = async () => {
      try {
        const [r, m1] = await Promise.all([
          api.candles(symbol, interval, 500),
          interval === '1m' ? Promise.resolve(null) : api.candles(symbol, '1m', 1),
        ]);
        if (dead) return;
        series.load(r.candles, m1?.candles[0]);
        loaded = true;
        setStatus(r.candles.length ? null : 'No trades yet');
        const wait = () => {
          if (dead) return;
          if (draw()) handles.current?.chart.timeScale().scrollToRealTime();
          else requestAnimationFrame(wait);
        };
        wait();
      } catch (e) {
        if (!dead) setStatus(`${describeError(e).code}: ${describeError(e).message}`);
      }
    };
    void load();
    // Live: apply the feed's newest 1-minute bars once per frame; reload after a reconnect.
    let connected = market.connected;
    const off = market.subscribe(() => {
      if (market.connected !== connected) {
        connected = market.connected;
        if (connected && loaded) void load();
      }
      const h = handles.current;
      const d = market.peek(symbol);
      if (!h || !loaded || !d) return;
      const key = d.candles.map((c) => `${c.start}:${c.volume}:${c.close}:${c.high}:${c.low}`).join('|');
      if (key === applied) return;
      applied = key;
      for (const c of d.candles) {
        const bar = series.apply(c);
        if (bar) {
          h.candles.update(toPoint(bar));
          h.volume.update(toVolume(bar));
          setStatus(null);
        }
      }
    });
    return () => {
      dead = true;
      off();
    };
  }, [symbol, interval]);

  return (
    <section class="card" aria-labelledby="chart-title">
      <div class="card-head">
        <h2 id="chart-title">Chart</h2>
        <div class="seg" role="group" aria-label="Chart interval">
          {INTERVALS.map((i) => (
            <button key={i} type="button" aria-pressed={i === interval} onClick={() => setIntervalName(i)}>
              {i}
            </button>
          ))}
        </div>
      </div>
      <div class={stale ? 'chart-box stale' : 'chart-box'} role="img" aria-label={`${symbol} price chart, ${interval} candles with volume`}>
        <div class="chart-canvas" ref={box} />
        {status && <div class="chart-status">{status}</div>}
      </div>
      <p class="attribution">
        Charting by{' '}
        <a href="https://www.tradingview.com/" rel="noopener noreferrer" target="_blank">
          TradingView
        </a>{' '}
        Lightweight Charts™
      </p>
    </section>
  );
}
