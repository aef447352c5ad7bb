// Order classes from the ticket, against the always-open demo: a bracket's wrong-side take
// profit is caught before review and an exit off the tick is refused by the exchange
// (PRICE_OFF_TICK, with a hint); a bracket placed shows its legs (entry working, exits held)
// and its tag in the open orders; cancelling the entry cancels the exits (PARENT_UNFILLED);
// an entry that fills starts its exits, and the take profit's fill cancels the stop loss
// (SIBLING_EXECUTED) — all followed live through the private orders channel.
import { expect, test, type Locator, type Page } from '@playwright/test';
import { api, maker, newUser, operator, order, type Trader } from './market';

// A stock no other test trades: the orders placed here never meet theirs.
const SYM = 'AMZN';

test.describe.configure({ mode: 'serial' });

let page: Page;
let mm: Trader;
let accountId: string;

test.beforeAll(async ({ browser }) => {
  mm = await maker(SYM);
  const u = newUser('classes');
  expect((await api('POST', '/v1/users', { body: u })).status).toBe(201);
  const s = await api('POST', '/v1/sessions', { body: u });
  const { token, account_id } = s.body as { token: string; account_id: string };
  accountId = account_id;
  expect((await api('POST', '/v1/transfers', { bearer: token, body: { type: 'deposit', amount: '100000' } })).status).toBe(201);
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  // The page's own log-in (the cookie lands in this browser context).
  expect((await context.request.post('/v1/sessions', { data: { ...u, cookie: true } })).status()).toBe(201);
  page = await context.newPage();
});

test.afterAll(async () => {
  await page.context().close();
});

/** Fills the ticket with a bracket: buy 10 at the limit, the exits as given. */
async function bracket(limit: string, takeProfit: string, stopLoss: string): Promise<void> {
  await page.getByLabel('Order class').selectOption({ label: 'Bracket' });
  await page.getByLabel('Order type').selectOption({ label: 'Limit' });
  await page.getByLabel('Shares').fill('10');
  await page.getByLabel('Limit price', { exact: true }).fill(limit);
  await page.getByLabel('Take profit limit price', { exact: true }).fill(takeProfit);
  await page.getByLabel('Stop loss stop price', { exact: true }).fill(stopLoss);
  await page.getByLabel('Time in force').selectOption({ label: 'Good till canceled' });
}

/** The result's table of the class's orders: the row of one leg. */
const leg = (name: 'Entry' | 'Take profit' | 'Stop loss', cls = 'bracket'): Locator =>
  page.getByRole('table', { name: `Orders of the ${cls}` }).getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) });

test('the ticket checks a bracket’s prices, and shows the exchange’s refusal of an exit off the tick', async () => {
  await page.goto(`/stocks/${SYM}`);
  await expect(page.getByRole('heading', { level: 1, name: SYM })).toBeVisible();
  // A class takes day or good till canceled only, and neither post only nor extended hours.
  await page.getByLabel('Order type').selectOption({ label: 'Limit' });
  await page.getByLabel('Time in force').selectOption({ label: 'On open' });
  await page.getByLabel('Order class').selectOption({ label: 'Bracket' });
  await expect(page.getByLabel('Time in force')).toHaveValue('day');
  expect(await page.getByLabel('Time in force').locator('option').allTextContents()).toEqual(['Day', 'Good till canceled']);
  await expect(page.getByLabel('Extended hours', { exact: false })).toHaveCount(0);
  await expect(page.getByLabel('Post only (never take liquidity)')).toHaveCount(0);
  await expect(page.getByText('The exits sell what the entry buys')).toBeVisible();

  // A take profit below a buy entry: review is refused, with the rule.
  await bracket('185.00', '184.00', '180.00');
  await page.getByRole('button', { name: 'Review order' }).click();
  await expect(page.getByText('The take profit must be above the entry’s limit price, 185.00')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Place order' })).toHaveCount(0);
  await page.getByLabel('Take profit limit price', { exact: true }).scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'test-results/screenshots/bracket-ticket.png' });

  // A stop loss off the tick is only a warning here: the exchange refuses it, and says why.
  await page.getByLabel('Take profit limit price', { exact: true }).fill('190.00');
  await page.getByLabel('Stop loss stop price', { exact: true }).fill('180.005');
  await page.getByRole('button', { name: 'Review order' }).click();
  await expect(page.getByText('The stop loss (its stop price) is not a multiple of the tick, 0.01.').first()).toBeVisible();
  await page.getByRole('button', { name: 'Place order' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'PRICE_OFF_TICK' })).toBeVisible();
  await expect(page.getByText('its exits’ included, must be a multiple of the stock’s tick')).toBeVisible();
  await page.getByRole('button', { name: 'Edit' }).first().click();
});

test('a bracket shows its legs and its tag; cancelling the entry cancels the exits', async () => {
  await bracket('185.00', '190.00', '180.00');
  await page.getByRole('button', { name: 'Review order' }).click();
  await expect(page.getByText('Buy 10 AMZN, limit 185.00, good till canceled; bracket: take profit 190.00, stop loss 180.00')).toBeVisible();
  await page.getByRole('button', { name: 'Place order' }).click();

  await expect(leg('Entry')).toContainText('New');
  await expect(leg('Take profit')).toContainText('Sell 10 limit 190.00');
  await expect(leg('Take profit')).toContainText('Held (waits for the entry)');
  await expect(leg('Stop loss')).toContainText('Sell 10 stop 180.00');
  await expect(leg('Stop loss')).toContainText('Held (waits for the entry)');
  const entryId = ((await leg('Entry').getByRole('cell').first().textContent()) ?? '').trim();
  expect(entryId).toMatch(/^\d+$/);

  // The server agrees: the entry carries its legs.
  const got = await page.request.get(`/v1/orders/${entryId}`);
  expect(got.status()).toBe(200);
  const body = (await got.json()) as { order_class: string; leg: string; legs: Array<{ leg: string; status: string }> };
  expect(body).toMatchObject({ order_class: 'bracket', leg: 'entry' });
  expect(body.legs.map((l) => [l.leg, l.status])).toEqual([
    ['take_profit', 'held'],
    ['stop_loss', 'held'],
  ]);

  // The open orders tag each order with its class and leg; exits cannot be modified.
  const open = page.getByRole('region', { name: `Open orders in ${SYM}` });
  await expect(open.getByText('bracket · entry')).toBeVisible();
  await expect(open.getByText('bracket · take profit')).toBeVisible();
  await expect(open.getByText('bracket · stop loss')).toBeVisible();
  await expect(open.getByRole('button', { name: /^Modify order/ })).toHaveCount(1);
  await page.screenshot({ path: 'test-results/screenshots/bracket.png' });

  await open.getByRole('button', { name: `Cancel order ${SYM} buy 10 at 185.00 (#${entryId})` }).click();
  await expect(leg('Entry')).toContainText('Canceled (Requested)');
  await expect(leg('Take profit')).toContainText('Canceled (Entry not filled)');
  await expect(leg('Stop loss')).toContainText('Canceled (Entry not filled)');
  await expect(page.getByRole('region', { name: `Open orders in ${SYM}` })).toHaveCount(0);
});

test('an entry that fills starts its exits; the take profit’s fill cancels the stop loss', async () => {
  await page.getByRole('button', { name: 'New order' }).click();
  await bracket('185.00', '190.00', '180.00');
  await page.getByRole('button', { name: 'Review order' }).click();
  await page.getByRole('button', { name: 'Place order' }).click();
  await expect(leg('Entry')).toContainText('New');

  // The maker sells into the entry: the take profit goes to the book, the stop loss waits for its stop.
  await order(mm, { symbol: SYM, side: 'sell', qty: '10', limit_price: '185.00' });
  await expect(leg('Entry')).toContainText('Filled');
  await expect(leg('Take profit')).toContainText('New');
  await expect(leg('Stop loss')).toContainText('Held (waits for its stop price)');
  await expect(page.getByText('Exit order started').first()).toBeVisible();

  // The maker buys at the take profit: the stop loss is canceled.
  await order(mm, { symbol: SYM, side: 'buy', qty: '10', limit_price: '190.00' });
  await expect(leg('Take profit')).toContainText('Filled');
  await expect(leg('Stop loss')).toContainText('Canceled (Other exit executed)');
  await page.screenshot({ path: 'test-results/screenshots/bracket-done.png' });
});

test('an OCO sells held shares at the take profit or the stop, whichever comes first', async () => {
  // 10 shares to sell, from the operator (the last trade was at 190.00: the exits stay within its band).
  const granted = await api('POST', `/v1/admin/accounts/${accountId}/shares`, { bearer: operator(), body: { symbol: SYM, qty: 10 } });
  expect([200, 201]).toContain(granted.status);
  await page.reload();
  await page.getByRole('group', { name: 'Side' }).getByRole('button', { name: 'Sell' }).click();
  await page.getByLabel('Order class').selectOption({ label: 'OCO' });
  // An OCO is a limit order at its take profit: no limit price of its own.
  expect(await page.getByLabel('Order type').locator('option').allTextContents()).toEqual(['Limit']);
  await expect(page.getByLabel('Limit price', { exact: true })).toHaveCount(0);
  await expect(page.getByText('Both orders sell: the take profit above the stop loss.')).toBeVisible();
  await page.getByLabel('Shares').fill('10');
  await page.getByLabel('Take profit limit price', { exact: true }).fill('195.00');
  await page.getByLabel('Stop loss stop price', { exact: true }).fill('185.00');
  await page.getByRole('button', { name: 'Review order' }).click();
  await expect(page.getByText('Sell 10 AMZN, limit 195.00, day; OCO: take profit 195.00, stop loss 185.00')).toBeVisible();
  await page.getByRole('button', { name: 'Place order' }).click();

  await expect(leg('Take profit', 'OCO')).toContainText('Sell 10 limit 195.00');
  await expect(leg('Take profit', 'OCO')).toContainText('New');
  await expect(leg('Stop loss', 'OCO')).toContainText('Held (waits for its stop price)');
  await expect(page.getByRole('region', { name: `Open orders in ${SYM}` }).getByText('OCO · take profit')).toBeVisible();

  await order(mm, { symbol: SYM, side: 'buy', qty: '10', limit_price: '195.00' });
  await expect(leg('Take profit', 'OCO')).toContainText('Filled');
  await expect(leg('Stop loss', 'OCO')).toContainText('Canceled (Other exit executed)');
});
