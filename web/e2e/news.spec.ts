// A stock's news on its page: the operator publishes items through the admin API
// (`POST /v1/admin/news`, the e2e setup's operator token) while the page is open; an item about
// the stock appears live at the top (the WebSocket's `news` channel) with a toast, once; an
// item about another stock does not; after a reload the items are listed from REST, newest
// first, older ones behind "Show older news". Server text stays text, a link opens in a new
// tab, and the page's CSP is never violated.
import { randomBytes } from 'node:crypto';
import { expect, test, type Page } from '@playwright/test';
import { api, operator } from './market';

// Stocks no other test uses (news does not move prices; these keep the lists the test's own).
const SYM = 'KO';
const OTHER = 'XOM';
const tag = randomBytes(3).toString('hex');

test.describe.configure({ mode: 'serial' });

let page: Page;
/** Console messages about the Content-Security-Policy, and uncaught errors. */
const violations: string[] = [];
/** `news:KO` once the page's socket has it subscribed (reset before each wait). */
let subscribedNews = false;
/** The page sent an unsubscribe of `news` for KO. */
let unsubscribedNews = false;

interface Published {
  id: number;
  headline: string;
  symbols: string[];
}

async function publish(headline: string, symbols: string[], extra: Record<string, string> = {}): Promise<Published> {
  const r = await api('POST', '/v1/admin/news', { bearer: operator(), body: { headline, symbols, ...extra } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as Published;
}

const news = (p: Page) => p.getByRole('region', { name: 'News' });
const items = (p: Page) => news(p).getByRole('list', { name: `News about ${SYM}` }).getByRole('article');
/** The listed headlines, newest first (without a link's "(opens in a new tab)"). */
const headlines = async (p: Page) =>
  (await items(p).getByRole('heading', { level: 3 }).allTextContents()).map((h) => h.replace(' (opens in a new tab)', ''));

/** Opens (or reloads) the stock page and waits until its socket follows the stock's news. */
async function open(p: Page, how: 'goto' | 'reload'): Promise<void> {
  subscribedNews = false;
  if (how === 'goto') await p.goto(`/stocks/${SYM}`);
  else await p.reload();
  await expect(p.getByRole('heading', { level: 1, name: SYM })).toBeVisible();
  await expect(news(p)).toBeVisible();
  await expect.poll(() => subscribedNews, { message: `the page subscribes news:${SYM}` }).toBe(true);
}

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => {
    if (/Content.Security.Policy|Refused to/i.test(m.text())) violations.push(m.text());
  });
  page.on('pageerror', (e) => violations.push(`pageerror: ${e.message}`));
  page.on('websocket', (ws) => {
    ws.on('framesent', ({ payload }) => {
      if (typeof payload !== 'string' || !payload.includes('"unsubscribe"')) return;
      const m = JSON.parse(payload) as { channels?: string[]; symbols?: string[] };
      if (m.channels?.includes('news') && m.symbols?.includes(SYM)) unsubscribedNews = true;
    });
    ws.on('framereceived', ({ payload }) => {
      if (typeof payload !== 'string' || !payload.includes('"subscribed"')) return;
      const m = JSON.parse(payload) as { subscriptions?: string[] };
      if (m.subscriptions?.includes(`news:${SYM}`)) subscribedNews = true;
    });
  });
});

test.afterAll(async () => {
  await page.close();
});

test('the stock page has a News section, empty until something is published', async () => {
  const before = (await api('GET', `/v1/news?symbol=${SYM}`)).body as { items: unknown[] };
  await open(page, 'goto');
  if (before.items.length === 0) await expect(news(page).getByText(`No news for ${SYM} yet.`)).toBeVisible();
  else await expect(items(page).first()).toBeVisible();
});

let first: Published;
let second: Published;
let last: Published;

test('an item published for the stock appears live at the top, with a toast, once', async () => {
  // About both stocks: shown on this one's page.
  first = await publish(`Coca-Cola opens a bottling plant ${tag}`, [SYM, OTHER], {
    summary: 'Plain text only: <img src=x onerror=alert(1)> <b>not bold</b>',
    source: 'Newswire',
    url: `https://example.com/news/${tag}`,
  });
  await expect(items(page).first()).toContainText(first.headline);
  await expect(news(page).getByText(`No news for ${SYM} yet.`)).toHaveCount(0);
  // The summary is text: its markup shows as written and makes no element.
  await expect(items(page).first()).toContainText('<img src=x onerror=alert(1)> <b>not bold</b>');
  await expect(news(page).locator('img, b')).toHaveCount(0);
  await expect(items(page).first()).toContainText('Newswire');
  await expect(items(page).first().locator('time')).toHaveAttribute('datetime', /^\d{4}-\d\d-\d\dT/);
  // An http(s) url makes the headline a link that opens apart from the page.
  const link = items(page).first().getByRole('link', { name: first.headline });
  await expect(link).toHaveAttribute('href', `https://example.com/news/${tag}`);
  await expect(link).toHaveAttribute('target', '_blank');
  await expect(link).toHaveAttribute('rel', 'noopener noreferrer');
  await expect(page.getByRole('status').getByText(`News: ${first.headline}`)).toBeVisible();

  second = await publish(`Coca-Cola raises its dividend ${tag}`, [SYM]);
  await expect(items(page).first()).toContainText(second.headline);
  // No url: the headline is not a link.
  await expect(items(page).first().getByRole('link')).toHaveCount(0);
  const shown = await headlines(page);
  expect(shown.slice(0, 2)).toEqual([second.headline, first.headline]);
  expect(shown.filter((h) => h === first.headline)).toHaveLength(1);
  await news(page).screenshot({ path: 'test-results/screenshots/stock-news.png' });
});

test('the exchange refuses a javascript: url, so nothing can be published with one', async () => {
  const r = await api('POST', '/v1/admin/news', {
    bearer: operator(),
    body: { headline: `Bad link ${tag}`, symbols: [SYM], url: 'javascript:alert(1)' },
  });
  expect(r.status).toBe(422);
});

test('an item about another stock does not appear', async () => {
  const elsewhere = await publish(`Exxon finds oil ${tag}`, [OTHER]);
  // Published after it: once this is shown, the other would have been too.
  last = await publish(`Coca-Cola launches a new flavour ${tag}`, [SYM]);
  await expect(items(page).first()).toContainText(last.headline);
  await expect(page.getByText(elsewhere.headline)).toHaveCount(0);
  await expect(page.getByText(`News: ${elsewhere.headline}`)).toHaveCount(0);
  expect((await headlines(page)).slice(0, 3)).toEqual([last.headline, second.headline, first.headline]);
});

test('after a reload the items are listed from REST, newest first', async () => {
  await open(page, 'reload');
  await expect(items(page).first()).toContainText(last.headline);
  const shown = await headlines(page);
  expect(shown.slice(0, 3)).toEqual([last.headline, second.headline, first.headline]);
  expect(shown.join('\n')).not.toContain('Exxon finds oil');
  await expect(items(page).nth(2).getByRole('link', { name: first.headline })).toBeVisible();
});

test('older items are paged with "Show older news"', async () => {
  const more: string[] = [];
  for (let i = 1; i <= 20; i++) more.push((await publish(`Coca-Cola bulletin ${String(i).padStart(2, '0')} ${tag}`, [SYM])).headline);
  await open(page, 'reload');
  await expect(items(page)).toHaveCount(20);
  expect(await headlines(page)).toEqual([...more].reverse());
  const older = news(page).getByRole('button', { name: 'Show older news' });
  await older.click();
  await expect(items(page).nth(22)).toContainText(first.headline);
  const all = await headlines(page);
  expect(all.slice(0, 23)).toEqual([...[...more].reverse(), last.headline, second.headline, first.headline]);
  expect(new Set(all).size).toBe(all.length);
});

test('leaving the stock page unsubscribes its news', async () => {
  unsubscribedNews = false;
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Portfolio' }).click();
  await expect(news(page)).toHaveCount(0);
  await expect.poll(() => unsubscribedNews).toBe(true);
});

test('the page raised no CSP violation and no error', () => {
  expect(violations).toEqual([]);
});
