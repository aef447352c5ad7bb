// A person's whole visit, in a real Chromium against a real `bourse demo`: sign up, deposit,
// watch AAPL move, buy at market, place and cancel a limit order, see the server refuse bad
// tickets, get an alert's toast, reload, log out. The market is the test's own (a maker and
// a taker over the REST API), so every price the page must show is known.
import { expect, test, type Page } from '@playwright/test';
import { maker, newUser, quote, tradeAt, trader, type Trader } from './market';

const SYM = 'AAPL';
const shots = 'test-results/screenshots';

test.describe.configure({ mode: 'serial' });

let page: Page;
let mm: Trader;
let taker: Trader;
const me = newUser('web');

/** The header's buying power, e.g. "$25,000.00". */
const buyingPower = (p: Page) => p.locator('header .bp strong');

test.beforeAll(async ({ browser }) => {
  mm = await maker(SYM);
  taker = await trader('taker', '1000000');
  await tradeAt(mm, taker, SYM, 19000);
  await quote(mm, SYM, 19000);
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
});

test.afterAll(async () => {
  await page.close();
});

test('signs up, deposits and watches AAPL trade', async () => {
  await page.goto('/');
  await page.getByRole('link', { name: 'Sign up' }).first().click();
  await page.getByLabel('Username').fill(me.username);
  await page.getByLabel('Password').fill(me.password);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();
  await expect(buyingPower(page)).toHaveText('$0.00');

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Activity' }).click();
  await page.getByLabel('Amount (USD)').fill('25000');
  await page.getByRole('button', { name: 'Deposit' }).click();
  await expect(buyingPower(page)).toHaveText('$25,000.00');

  const search = page.getByRole('combobox', { name: 'Search stocks' });
  await search.fill('AAPL');
  await expect(page.getByRole('listbox', { name: 'Search results' }).getByRole('option').first()).toBeVisible();
  await search.press('ArrowDown');
  await search.press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: SYM })).toBeVisible();
  await expect(page.getByTestId('last-price')).toHaveText('190.00');
  await expect(page.getByRole('status', { name: 'Market data: Live' })).toBeVisible();

  // The price moves while the page watches.
  await tradeAt(mm, taker, SYM, 19005);
  await expect(page.getByTestId('last-price')).toHaveText('190.05');
  await quote(mm, SYM, 19005);
  await expect(page.getByRole('button', { name: 'Use ask price 190.06' })).toBeVisible();
  await page.screenshot({ path: `${shots}/stock-page.png` });
});

test('buys at market and sees the fill, the position and the buying power', async () => {
  await page.getByRole('group', { name: 'Side' }).getByRole('button', { name: 'Buy' }).click();
  await page.getByLabel('Order type').selectOption({ label: 'Market' });
  await page.getByLabel('Shares').fill('10');
  await page.getByRole('button', { name: 'Review order' }).click();
  await page.getByRole('button', { name: 'Place order' }).click();
  await expect(page.getByText('Order filled').first()).toBeVisible();
  // 10 × 190.06 (the best ask) = 1,900.60, no fees on the demo.
  await expect(buyingPower(page)).toHaveText('$23,099.40');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Portfolio' }).click();
  const row = page.getByRole('row').filter({ hasText: SYM });
  await expect(row.first()).toContainText('10');
  await expect(row.first()).toContainText('190.06');
  await page.screenshot({ path: `${shots}/portfolio.png` });
});

test('places a limit order and cancels it', async () => {
  await page.goto(`/stocks/${SYM}`);
  await page.getByLabel('Order type').selectOption({ label: 'Limit' });
  await page.getByLabel('Shares').fill('5');
  await page.getByLabel('Limit price').fill('185.00');
  await page.getByLabel('Time in force').selectOption({ label: 'Good till canceled' });
  await page.getByRole('button', { name: 'Review order' }).click();
  await page.getByRole('button', { name: 'Place order' }).click();
  const cancel = page.getByRole('button', { name: /^Cancel order AAPL buy 5 at 185\.00/ });
  await expect(cancel.first()).toBeVisible();
  await cancel.first().click();
  await expect(cancel).toHaveCount(0);
  // The server agrees: nothing of ours is working.
  const open = await page.request.get('/v1/orders?status=open');
  expect(open.status()).toBe(200);
  expect(JSON.stringify(await open.json())).not.toContain('185.00');
});

test('shows the server’s reason for bad tickets', async () => {
  // The previous test left the ticket showing its result.
  await page.getByRole('button', { name: 'New order' }).click();
  const tryTicket = async (shares: string, limit: string | null) => {
    await page.getByLabel('Order type').selectOption({ label: limit ? 'Limit' : 'Market' });
    await page.getByLabel('Shares').fill(shares);
    if (limit) await page.getByLabel('Limit price').fill(limit);
    await page.getByRole('button', { name: 'Review order' }).click();
    await page.getByRole('button', { name: 'Place order' }).click();
    const alert = page.getByRole('alert').filter({ hasText: /[A-Z]{3,}_[A-Z_]+/ }).first();
    await expect(alert).toBeVisible();
    const text = (await alert.textContent()) ?? '';
    await page.getByRole('button', { name: /^(Edit|New order)$/ }).first().click();
    return text;
  };
  expect(await tryTicket('0', '190.00')).toMatch(/QTY|QUANTITY/);
  expect(await tryTicket('-5', '190.00')).toMatch(/QTY|QUANTITY/);
  expect(await tryTicket('1', '190.001')).toMatch(/TICK/);
  expect(await tryTicket('1000', '190.00')).toMatch(/INSUFFICIENT_FUNDS|BUYING_POWER/);
});

test('a price alert fires as a toast', async () => {
  await page.goto(`/stocks/${SYM}`);
  await expect(page.getByTestId('last-price')).toHaveText('190.06');
  await page.getByLabel('Condition').selectOption({ label: 'Trades at or above' });
  await page.getByLabel('Alert price').fill('190.20');
  await page.getByRole('button', { name: 'Create alert' }).click();
  await expect
    .poll(async () => JSON.stringify(await (await page.request.get('/v1/alerts')).json()))
    .toContain('190.20');
  await tradeAt(mm, taker, SYM, 19025);
  await expect(page.getByText('Price alert: AAPL')).toBeVisible();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Alerts' }).click();
  await expect(page.getByRole('button', { name: 'Delete alert AAPL above 190.20' })).toBeVisible();
});

test('keeps a watchlist on the server: star a stock, see it live at home, remove it', async () => {
  await page.goto(`/stocks/${SYM}`);
  await page.getByRole('button', { name: 'Add to watchlist' }).click();
  await expect(page.getByRole('button', { name: 'Remove from watchlist' })).toBeVisible();
  // Kept by the server (the page keeps nothing in the browser's storage).
  const lists: unknown = await (await page.request.get('/v1/watchlists')).json();
  expect(lists).toEqual([expect.objectContaining({ name: 'My watchlist', symbols: [SYM] })]);

  await page.goto('/');
  const home = page.getByRole('region', { name: 'My watchlist' });
  await expect(home.getByRole('link', { name: SYM })).toBeVisible();
  await expect(home).toContainText('190.25');
  // Live: a trade moves the watchlist's price without a reload.
  await tradeAt(mm, taker, SYM, 19030);
  await expect(home).toContainText('190.30');
  await page.reload();
  await expect(home.getByRole('link', { name: SYM })).toBeVisible();
  await home.getByRole('button', { name: `Remove ${SYM} from watchlist` }).click();
  await expect(home.getByRole('link', { name: SYM })).toHaveCount(0);
  const after: unknown = await (await page.request.get('/v1/watchlists')).json();
  expect(after).toEqual([expect.objectContaining({ symbols: [] })]);
});

test('stays logged in across a reload, and loses access on log-out', async () => {
  await page.reload();
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();
  await expect(buyingPower(page)).not.toHaveText('$0.00');
  expect((await page.request.get('/v1/account')).status()).toBe(200);
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('link', { name: 'Log in' }).first()).toBeVisible();
  expect((await page.request.get('/v1/account')).status()).toBe(401);
  const cookies = await page.context().cookies();
  expect(cookies.find((c) => c.name === 'bourse_session')).toBeUndefined();
});
