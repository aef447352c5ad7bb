// Trailing stops from the ticket, against the always-open demo: the ticket offers a trail in
// dollars or in percent (no limit or stop price; day or good till canceled; no post only,
// extended hours or class), refuses a trail off the tick or out of range before review, and
// says where the stop sits at the last price. Placed, a sell's stop is shown in the result and
// the open orders; when the market trades higher (the test's own maker and taker, over REST)
// the stop follows live from the private `stop_moved` reports, and the server agrees. A trade
// down through a stop triggers it: its market sell fills against the maker's bid and the order
// leaves the open orders, filled.
//
// GOOGL, which no other test trades: the orders placed here never meet theirs.
import { expect, test, type Locator, type Page } from '@playwright/test';
import { api, cancelAll, maker, newUser, operator, order, tradeAt, trader, type Trader } from './market';

const SYM = 'GOOGL';
const shots = 'test-results/screenshots';

test.describe.configure({ mode: 'serial' });

let page: Page;
let mm: Trader;
let taker: Trader;
let token: string;
/** The two trailing stops placed: one trailing by $1.00, one by 1 %. */
const ids: { dollar?: string; percent?: string } = {};

/** The ticket's result (after Place order): the status that carries the order id. */
const result = (p: Page) => p.getByRole('status').filter({ hasText: 'Order id' });
/** The order id the result shows. */
const resultId = async (p: Page): Promise<string> =>
  ((await result(p).locator('div').filter({ has: p.locator('dt', { hasText: 'Order id' }) }).locator('dd').textContent()) ?? '').trim();
const openOrders = (p: Page) => p.getByRole('region', { name: `Open orders in ${SYM}` });
/** A trailing stop's price cell in the open orders: its stop now and its trail. */
const stopCell = (p: Page, id: string): Locator => openOrders(p).getByTestId(`trailing-stop-${id}`);

test.beforeAll(async ({ browser }) => {
  mm = await maker(SYM);
  taker = await trader('taker', '1000000');
  // The last price 170.00.
  await tradeAt(mm, taker, SYM, 17000);

  const u = newUser('trailing');
  expect((await api('POST', '/v1/users', { body: u })).status).toBe(201);
  const s = await api('POST', '/v1/sessions', { body: u });
  const { token: t, account_id } = s.body as { token: string; account_id: string };
  token = t;
  expect((await api('POST', '/v1/transfers', { bearer: token, body: { type: 'deposit', amount: '10000' } })).status).toBe(201);
  // 20 shares to sell, from the operator.
  const granted = await api('POST', `/v1/admin/accounts/${account_id}/shares`, { bearer: operator(), body: { symbol: SYM, qty: 20 } });
  expect([200, 201]).toContain(granted.status);
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  // The page's own log-in (the cookie lands in this browser context).
  expect((await context.request.post('/v1/sessions', { data: { ...u, cookie: true } })).status()).toBe(201);
  page = await context.newPage();
});

test.afterAll(async () => {
  await api('DELETE', `/v1/orders?symbol=${SYM}`, { bearer: token });
  await cancelAll(mm, SYM);
  await page.context().close();
});

test('the ticket offers a trailing stop and checks its trail', async () => {
  await page.goto(`/stocks/${SYM}`);
  await expect(page.getByRole('heading', { level: 1, name: SYM })).toBeVisible();
  await expect(page.getByTestId('last-price')).toHaveText('170.00');
  await page.getByRole('group', { name: 'Side' }).getByRole('button', { name: 'Sell' }).click();

  // From a limit day order with extended hours: those go, and so does the limit price.
  await page.getByLabel('Order type').selectOption({ label: 'Limit' });
  await page.getByLabel('Time in force').selectOption({ label: 'Day' });
  await page.getByLabel('Extended hours (also trade in pre-market and after hours)').check();
  await page.getByLabel('Order type').selectOption({ label: 'Trailing stop' });
  await expect(page.getByLabel('Order type')).toHaveValue('trailing_stop');
  await expect(page.getByLabel('Limit price', { exact: true })).toHaveCount(0);
  await expect(page.getByLabel('Stop price', { exact: true })).toHaveCount(0);
  await expect(page.getByLabel('Extended hours', { exact: false })).toHaveCount(0);
  await expect(page.getByLabel('Post only (never take liquidity)')).toHaveCount(0);
  expect(await page.getByLabel('Time in force').locator('option').allTextContents()).toEqual(['Day', 'Good till canceled']);
  await expect(page.getByText('A stop that follows the price')).toBeVisible();

  // The trail: in dollars first.
  const trailIn = page.getByRole('group', { name: 'Trail in' });
  await expect(trailIn.getByRole('button', { name: 'Dollars' })).toHaveAttribute('aria-pressed', 'true');
  await page.getByLabel('Shares').fill('10');
  const dollars = page.getByRole('textbox', { name: 'Trail ($)' });
  await dollars.fill('1.005');
  await page.getByRole('button', { name: 'Review order' }).click();
  await expect(page.getByText('Enter a trail on the tick: a multiple of 0.01.')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Place order' })).toHaveCount(0);
  await dollars.fill('0');
  await expect(page.getByText('Enter a trail above zero.')).toBeVisible();

  // In percent: above 0, below 100, at most 2 decimals.
  await trailIn.getByRole('button', { name: 'Percent' }).click();
  await expect(trailIn.getByRole('button', { name: 'Percent' })).toHaveAttribute('aria-pressed', 'true');
  const percent = page.getByRole('textbox', { name: 'Trail (%)' });
  await percent.fill('100');
  await expect(page.getByText('Enter a percentage above 0 and below 100.')).toBeVisible();
  await percent.fill('1.234');
  await expect(page.getByText('Enter at most 2 decimals')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Place order' })).toHaveCount(0);

  // A class takes no trailing stop: choosing one makes the order a limit order.
  await page.getByLabel('Order class').selectOption({ label: 'Bracket' });
  expect(await page.getByLabel('Order type').locator('option').allTextContents()).not.toContain('Trailing stop');
  await expect(page.getByLabel('Order type')).toHaveValue('limit');
  await page.getByLabel('Order class').selectOption({ label: 'Simple' });
  await page.getByLabel('Order type').selectOption({ label: 'Trailing stop' });
});

test('a trailing stop sell is placed, and its stop follows the price live', async () => {
  await page.getByRole('group', { name: 'Trail in' }).getByRole('button', { name: 'Dollars' }).click();
  await page.getByRole('textbox', { name: 'Trail ($)' }).fill('1.00');
  await page.getByLabel('Time in force').selectOption({ label: 'Good till canceled' });
  // Where the stop sits at the last price, before review and in it.
  await expect(page.getByText('Stop now: 169.00 at the last price, 170.00')).toBeVisible();
  await page.screenshot({ path: `${shots}/trailing-ticket.png` });
  await page.getByRole('button', { name: 'Review order' }).click();
  await expect(page.getByText('Sell 10 GOOGL, trailing stop $1.00 below the high (now stop 169.00), good till canceled')).toBeVisible();
  await page.getByRole('button', { name: 'Place order' }).click();

  await expect(result(page)).toContainText('Held');
  await expect(result(page)).toContainText('stop 169.00 · trail $1.00 (high 170.00)');
  ids.dollar = await resultId(page);
  expect(ids.dollar).toMatch(/^\d+$/);
  await expect(stopCell(page, ids.dollar)).toHaveText('stop 169.00 · trail $1.00');
  // The exchange does not replace a trailing stop: no Modify.
  await expect(openOrders(page).getByRole('button', { name: /^Modify order/ })).toHaveCount(0);

  // The market trades higher: the stop follows.
  await tradeAt(mm, taker, SYM, 17200);
  await expect(page.getByTestId('last-price')).toHaveText('172.00');
  await expect(stopCell(page, ids.dollar)).toHaveText('stop 171.00 · trail $1.00');
  await expect(result(page)).toContainText('stop 171.00 · trail $1.00 (high 172.00)');

  // The server agrees.
  const got = await api('GET', `/v1/orders/${ids.dollar}`, { bearer: token });
  expect(got.status).toBe(200);
  expect(got.body).toMatchObject({ type: 'trailing_stop', side: 'sell', status: 'held', stop_price: '171.00', hwm: '172.00', trail_price: '1.00', trail_percent: null });
});

test('a trail in percent: two stops follow the same trade', async () => {
  await page.getByRole('button', { name: 'New order' }).click();
  await expect(page.getByLabel('Order type')).toHaveValue('trailing_stop');
  await page.getByRole('group', { name: 'Trail in' }).getByRole('button', { name: 'Percent' }).click();
  await page.getByLabel('Shares').fill('5');
  await page.getByRole('textbox', { name: 'Trail (%)' }).fill('1');
  // 1 % under 172.00 is 170.28.
  await page.getByRole('button', { name: 'Review order' }).click();
  await expect(page.getByText('Sell 5 GOOGL, trailing stop 1% below the high (now stop 170.28), good till canceled')).toBeVisible();
  await page.getByRole('button', { name: 'Place order' }).click();
  await expect(result(page)).toContainText('stop 170.28 · trail 1% (high 172.00)');
  ids.percent = await resultId(page);
  expect(ids.percent).toMatch(/^\d+$/);
  await expect(stopCell(page, ids.percent)).toHaveText('stop 170.28 · trail 1%');

  await tradeAt(mm, taker, SYM, 17500);
  await expect(stopCell(page, ids.dollar ?? '')).toHaveText('stop 174.00 · trail $1.00');
  // 1 % under 175.00 is 173.25.
  await expect(stopCell(page, ids.percent)).toHaveText('stop 173.25 · trail 1%');
  await page.screenshot({ path: `${shots}/trailing-orders.png` });
});

test('a trade down through the stop triggers it: it sells at market and leaves the open orders', async () => {
  // The maker bids for what the stop will sell; the taker sells one share into the bid at
  // 173.90, under the $1.00 stop (174.00) and above the 1 % one (173.25).
  await order(mm, { symbol: SYM, side: 'buy', qty: '20', limit_price: '173.90' });
  await order(taker, { symbol: SYM, side: 'sell', qty: '1', limit_price: '173.90', time_in_force: 'ioc' });
  await expect(stopCell(page, ids.dollar ?? '')).toHaveCount(0);
  const recent = page.getByRole('region', { name: `Recent orders in ${SYM}` });
  const row = recent.getByRole('row').filter({ hasText: 'trail $1.00' });
  await expect(row).toContainText('Filled');
  await expect(row).toContainText('173.90');
  await expect(stopCell(page, ids.percent ?? '')).toHaveText('stop 173.25 · trail 1%');
  const got = await api('GET', `/v1/orders/${ids.dollar ?? ''}`, { bearer: token });
  expect(got.body).toMatchObject({ type: 'trailing_stop', status: 'filled' });
  const body = got.body as { filled_qty: string; filled_avg_price: string };
  expect(body.filled_qty).toMatch(/^10(\.0*)?$/);
  expect(body.filled_avg_price).toMatch(/^173\.90*$/);
});
