// The page keeps its book right by itself: after its WebSocket is killed, and after a book
// update is lost on the way (a seq gap), it resyncs and shows exactly the REST snapshot.
// The test sits between the page and the server (Playwright's WebSocket routing), so it can
// cut the socket or drop one message; the book changes only when the test trades.
import { expect, test, type Page, type WebSocketRoute } from '@playwright/test';
import { book, dollars, maker, newUser, order, quote, type Trader } from './market';

const SYM = 'MSFT';

test.describe.configure({ mode: 'serial' });

let page: Page;
let mm: Trader;
/** The page's sockets, newest last, and whether to drop the next book update. */
const sockets: WebSocketRoute[] = [];
let dropNextBookUpdate = false;
let dropped = 0;

/** The ladder as the page shows it: [side, price, size] rows, asks (worst first) then bids. */
async function shown(p: Page): Promise<string[][]> {
  return p.locator('section.ladder tbody tr.ask, section.ladder tbody tr.bid').evaluateAll((rows): string[][] =>
    rows.map((r) => {
      const cells = (r as HTMLTableRowElement).cells;
      return [
        r.getAttribute('class') ?? '',
        cells[0]?.textContent.trim() ?? '',
        cells[1]?.textContent.trim().replaceAll(',', '') ?? '',
      ];
    }),
  );
}

/** The REST book in the page's layout. */
async function snapshot(): Promise<string[][]> {
  const b = (await book(SYM, 20)).body as { bids: string[][]; asks: string[][] };
  return [
    ...[...b.asks].reverse().map(([p, q]) => ['ask', p ?? '', q ?? '']),
    ...b.bids.map(([p, q]) => ['bid', p ?? '', q ?? '']),
  ];
}

async function expectBookAsRest(p: Page): Promise<void> {
  await expect
    .poll(async () => JSON.stringify(await shown(p)) === JSON.stringify(await snapshot()), { timeout: 20_000 })
    .toBe(true);
  await expect(p.locator('section.ladder .stale-badge')).toHaveCount(0);
}

test.beforeAll(async ({ browser }) => {
  mm = await maker(SYM);
  await quote(mm, SYM, 42000, 8);
  const context = await browser.newContext();
  // Log in as the page would (the cookie lands in this browser context).
  const u = newUser('resync');
  expect((await context.request.post('/v1/users', { data: u })).status()).toBe(201);
  expect((await context.request.post('/v1/sessions', { data: { ...u, cookie: true } })).status()).toBe(201);
  page = await context.newPage();
  await page.routeWebSocket(/\/v1\/ws$/, (ws) => {
    const server = ws.connectToServer();
    sockets.push(ws);
    ws.onMessage((m) => server.send(m));
    server.onMessage((m) => {
      if (dropNextBookUpdate && typeof m === 'string' && m.includes('"type":"book"') && m.includes(`"${SYM}"`)) {
        dropNextBookUpdate = false;
        dropped += 1;
        return;
      }
      ws.send(m);
    });
    ws.onClose(() => server.close());
    server.onClose(() => ws.close());
  });
  await page.goto(`/stocks/${SYM}`);
  await expect(page.getByRole('heading', { level: 1, name: SYM })).toBeVisible();
});

test('shows the REST book once live', async () => {
  await expectBookAsRest(page);
});

test('recovers after its WebSocket is killed, with the book equal to the REST snapshot', async () => {
  const before = sockets.length;
  const live = sockets.at(-1);
  if (!live) throw new Error('the page opened no WebSocket');
  await live.close({ code: 4000, reason: 'killed by the test' });
  // The market moves while the page is cut off.
  await order(mm, { symbol: SYM, side: 'buy', qty: '700', limit_price: dollars(41990) });
  await order(mm, { symbol: SYM, side: 'sell', qty: '300', limit_price: dollars(42010) });
  await expect.poll(() => sockets.length, { timeout: 20_000 }).toBeGreaterThan(before);
  await expectBookAsRest(page);
  await expect(page.getByRole('status', { name: 'Market data: Live' })).toBeVisible();
  expect(JSON.stringify(await shown(page))).toContain('700');
});

test('resyncs after a lost book update (a seq gap)', async () => {
  dropNextBookUpdate = true;
  await order(mm, { symbol: SYM, side: 'buy', qty: '900', limit_price: dollars(41989) });
  await expect.poll(() => dropped).toBe(1);
  // The next update (or heartbeat) shows the gap; the page must not keep the hole.
  await order(mm, { symbol: SYM, side: 'sell', qty: '400', limit_price: dollars(42011) });
  await expectBookAsRest(page);
  expect(JSON.stringify(await shown(page))).toContain('900');
});

test('works at a phone’s width', async () => {
  await page.setViewportSize({ width: 375, height: 812 });
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: SYM })).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: 'test-results/screenshots/phone-stock-page.png' });
});
