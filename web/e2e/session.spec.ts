// The market's session on the page, against the always-open demo (no calendar: continuous
// trading all the time): the header says "Open", the ticket offers on-open and on-close orders
// and extended hours where the exchange takes them, and an on-open order placed in continuous
// trading is refused by the exchange (AUCTION_CLOSED) with its reason shown in the ticket.
import { expect, test, type Page } from '@playwright/test';
import { api, newUser } from './market';

// A stock no other test trades: the orders placed here never meet theirs.
const SYM = 'NVDA';

test.describe.configure({ mode: 'serial' });

let page: Page;

test.beforeAll(async ({ browser }) => {
  const u = newUser('session');
  expect((await api('POST', '/v1/users', { body: u })).status).toBe(201);
  const s = await api('POST', '/v1/sessions', { body: u });
  const token = (s.body as { token: string }).token;
  expect((await api('POST', '/v1/transfers', { bearer: token, body: { type: 'deposit', amount: '10000' } })).status).toBe(201);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // The page's own log-in (the cookie lands in this browser context).
  expect((await context.request.post('/v1/sessions', { data: { ...u, cookie: true } })).status()).toBe(201);
  page = await context.newPage();
});

test.afterAll(async () => {
  await page.context().close();
});

test('the header shows the market open (no calendar: no next open or close)', async () => {
  const clock = (await api('GET', '/v1/clock')).body as { session: string; is_open: boolean; next_open: unknown };
  expect(clock).toMatchObject({ session: 'continuous', is_open: true, next_open: null });
  await page.goto('/');
  const indicator = page.getByRole('status', { name: 'Market: Open', exact: true });
  await expect(indicator).toBeVisible();
  await expect(indicator).toHaveText('Open');
});

test('the ticket offers on open and on close, and extended hours for limit day orders only', async () => {
  await page.goto(`/stocks/${SYM}`);
  await expect(page.getByRole('heading', { level: 1, name: SYM })).toBeVisible();
  const tif = page.getByLabel('Time in force');
  const extended = page.getByLabel('Extended hours', { exact: false });
  const options = () => tif.locator('option').allTextContents();

  await page.getByLabel('Order type').selectOption({ label: 'Market' });
  expect(await options()).toEqual(['Day', 'Good till canceled', 'Immediate or cancel', 'Fill or kill', 'On open', 'On close']);
  await expect(extended).toHaveCount(0);

  await page.getByLabel('Order type').selectOption({ label: 'Limit' });
  await expect(tif).toHaveValue('day');
  await expect(extended).toBeVisible();
  await tif.selectOption({ label: 'Good till canceled' });
  await expect(extended).toHaveCount(0);
  await tif.selectOption({ label: 'On close' });
  await expect(page.getByText('Joins the closing auction only')).toBeVisible();
  await expect(extended).toHaveCount(0);
  await expect(page.getByLabel('Post only (never take liquidity)')).toHaveCount(0);

  // A stop is never on open or on close: the time in force falls back to day.
  await page.getByLabel('Order type').selectOption({ label: 'Stop' });
  await expect(tif).toHaveValue('day');
  expect(await options()).toEqual(['Day', 'Good till canceled', 'Immediate or cancel', 'Fill or kill']);
});

test('an extended-hours limit day order is taken (and trades as any other in continuous trading)', async () => {
  await page.getByLabel('Order type').selectOption({ label: 'Limit' });
  await page.getByLabel('Shares').fill('2');
  await page.getByLabel('Limit price').fill('110.00');
  await page.getByLabel('Time in force').selectOption({ label: 'Day' });
  await page.getByLabel('Extended hours', { exact: false }).check();
  await page.getByRole('button', { name: 'Review order' }).click();
  await expect(page.getByText(`Buy 2 ${SYM}, limit 110.00, day, extended hours`)).toBeVisible();
  await page.getByRole('button', { name: 'Place order' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Order id' })).toContainText('New');
  const cancel = page.getByRole('button', { name: new RegExp(`^Cancel order ${SYM} buy 2 at 110\\.00`) });
  // The open orders say it trades in extended hours (from the order report).
  await expect(page.getByTitle('Also trades in pre-market and after-hours')).toBeVisible();
  await cancel.first().click();
  await expect(cancel).toHaveCount(0);
  await page.getByRole('button', { name: 'New order' }).click();
});

test('an on-open order in continuous trading is refused with a readable AUCTION_CLOSED', async () => {
  await page.getByLabel('Order type').selectOption({ label: 'Market' });
  await page.getByLabel('Shares').fill('1');
  await page.getByLabel('Time in force').selectOption({ label: 'On open' });
  await expect(page.getByText('Joins the opening auction only')).toBeVisible();
  await page.getByRole('button', { name: 'Review order' }).click();
  await expect(page.getByText(`Buy 1 ${SYM} at market, on open`)).toBeVisible();
  // The page knows the session: it says so before the exchange does.
  await expect(page.getByText(/opening auction has already taken place today/)).toBeVisible();
  await page.getByRole('button', { name: 'Place order' }).click();
  const refusal = page.getByRole('alert').filter({ hasText: 'AUCTION_CLOSED' });
  await expect(refusal).toBeVisible();
  await expect(refusal).toContainText('already taken place');
  await expect(page.getByText(/Use Day or Good till canceled/)).toBeVisible();
  await page.screenshot({ path: 'test-results/screenshots/ticket-auction-closed.png' });
  // Nothing was placed.
  const open = await page.request.get('/v1/orders?status=open');
  expect(open.status()).toBe(200);
  expect((await open.json()) as unknown).toMatchObject({ items: [] });
});
