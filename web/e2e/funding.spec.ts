// Bank funding on the Activity page (docs/FUNDING.md), against the demo (a sandbox, whose
// bank transfers the e2e setup settles after 10 s): a new user signs up on the page, links a
// bank (a wrong routing number is refused before anything is sent), reads the two
// micro-deposits from the sandbox's bank statement, guesses wrong once (a try used) and then
// right (Verified), deposits $2,000 from the bank and sees it pending with the $1,000 instant
// part usable at once — in the result, the header's buying power and the cash — while a
// withdrawal of unsettled cash is refused; then the deposit settles live (the account's
// `transfer` event): Settled, the whole $2,000 usable and withdrawable. A withdrawal to the
// bank follows; a second bank fails its verification after three wrong guesses and is
// removed; and the page raises no CSP violation.
import { randomBytes } from 'node:crypto';
import { expect, test, type Page } from '@playwright/test';
import { newUser } from './market';

const shots = 'test-results/screenshots';
const me = newUser('funding');
const HOLDER = 'Ada Lovelace';
/** A random ten-digit account number (its last four show as ••••NNNN). */
const number = String(1_000_000_000 + (randomBytes(4).readUInt32BE(0) % 9_000_000_000));
const masked = `••••${number.slice(-4)}`;
/** A second bank's, with other last four digits. */
const otherLast4 = masked.endsWith('4321') ? '8765' : '4321';
/** A valid ABA routing number (3·0 + 7·4 + 2 = 30), and one with the wrong check digit. */
const ROUTING = '021000021';
const BAD_ROUTING = '021000022';

test.describe.configure({ mode: 'serial' });

let page: Page;
/** Console messages about the Content-Security-Policy, and uncaught errors. */
const violations: string[] = [];

/** The header's buying power, e.g. "$1,000.00". */
const buyingPower = (p: Page) => p.locator('header .bp strong');
const bankList = (p: Page) => p.getByRole('list', { name: 'Linked banks' });
const bankItem = (p: Page, m = masked) => bankList(p).getByRole('listitem').filter({ hasText: m });
const transferRegion = (p: Page) => p.getByRole('region', { name: 'Bank transfer', exact: true });
/** The bank transfer form's result. */
const result = (p: Page) => transferRegion(p).getByRole('status');
const transfersTable = (p: Page) => p.getByRole('region', { name: 'Bank transfers' }).getByRole('table');

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on('console', (m) => {
    if (/Content.Security.Policy|Refused to/i.test(m.text())) violations.push(m.text());
  });
  page.on('pageerror', (e) => violations.push(`pageerror: ${e.message}`));
});

test.afterAll(async () => {
  await page.close();
});

test('a new user signs up and finds no bank on the Activity page', async () => {
  await page.goto('/');
  await page.getByRole('link', { name: 'Sign up' }).first().click();
  await page.getByLabel('Username').fill(me.username);
  await page.getByLabel('Password').fill(me.password);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();
  await expect(buyingPower(page)).toHaveText('$0.00');

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Activity' }).click();
  const banks = page.getByRole('region', { name: 'Bank accounts' });
  await expect(banks.getByText('No bank linked yet.')).toBeVisible();
  await expect(transferRegion(page).getByText('Link a bank and verify it')).toBeVisible();
  await expect(page.getByRole('region', { name: 'Bank transfers' }).getByText('No bank transfers yet.')).toBeVisible();
});

test('links a bank: a wrong routing number is refused with its reason, then the right one is taken', async () => {
  const form = page.getByRole('form', { name: 'Link a bank account' });
  await form.getByLabel("Account holder's name").fill(HOLDER);
  await form.getByLabel('Account number', { exact: true }).fill(number);
  const routing = form.getByLabel('Routing number', { exact: true });
  await routing.fill(BAD_ROUTING);
  let asked = false;
  const onRequest = (r: { url(): string; method(): string }) => {
    if (r.method() === 'POST' && r.url().endsWith('/v1/banks')) asked = true;
  };
  page.on('request', onRequest);
  await form.getByRole('button', { name: 'Link bank', exact: true }).click();
  await expect(form.getByText('This is not a valid routing number: its check digit does not match. Check the nine digits.')).toBeVisible();
  await expect(routing).toHaveAttribute('aria-invalid', 'true');
  await expect(routing).toBeFocused();
  await expect(routing).toHaveAccessibleDescription(/not a valid routing number/);
  await routing.fill('02100002');
  await expect(form.getByText('A routing number has exactly nine digits.')).toBeVisible();
  expect(asked).toBe(false);
  page.off('request', onRequest);

  await routing.fill(ROUTING);
  await expect(routing).not.toHaveAttribute('aria-invalid', 'true');
  // From the keyboard: Enter in the field submits the form.
  await routing.press('Enter');
  const item = bankItem(page);
  await expect(item).toContainText(HOLDER);
  await expect(item).toContainText('Pending verification');
  await expect(item).toContainText(`Routing ${ROUTING}`);
  await expect(item).toContainText('3 tries left');
  // The form is emptied for another bank; the full number is never shown.
  await expect(form.getByLabel('Account number', { exact: true })).toHaveValue('');
  await expect(page.getByText(number)).toHaveCount(0);
  // Not verified: nothing to transfer with yet.
  await expect(transferRegion(page).getByText('Link a bank and verify it')).toBeVisible();
});

let amounts: string[] = [];

test('the sandbox statement shows the two micro-deposits; a wrong pair uses a try', async () => {
  const item = bankItem(page);
  const show = item.getByRole('button', { name: 'Sandbox: show the bank statement' });
  await expect(show).toHaveAttribute('aria-expanded', 'false');
  await show.click();
  await expect(show).toHaveAttribute('aria-expanded', 'true');
  const statement = item.getByRole('table', { name: new RegExp(`^Bank statement of ${masked}`) });
  await expect(statement.getByRole('row')).toHaveCount(3);
  await expect(statement).toContainText('BOURSE MICRO-DEPOSIT');
  const cells = await statement.locator('tbody td.num').allTextContents();
  amounts = cells.map((c) => c.trim().replace(/^\$/, ''));
  expect(amounts).toHaveLength(2);
  for (const a of amounts) expect(a).toMatch(/^0\.\d\d$/);
  await page.screenshot({ path: `${shots}/funding-statement.png` });

  // A pair that is not the statement's.
  const wrong = ['0.01', '0.02', '0.03'].filter((w) => !amounts.includes(w)).slice(0, 2);
  const first = item.getByLabel('First amount ($)', { exact: true });
  const second = item.getByLabel('Second amount ($)', { exact: true });
  // Not an amount a micro-deposit can be: refused before sending.
  await first.fill('1.50');
  await second.fill(wrong[1] ?? '');
  await item.getByRole('button', { name: 'Verify bank', exact: true }).click();
  await expect(item.getByText('Enter the amount as the statement shows it: from 0.01 to 0.99, like 0.32.')).toBeVisible();
  await expect(first).toBeFocused();
  await first.fill(wrong[0] ?? '');
  await item.getByRole('button', { name: 'Verify bank', exact: true }).click();
  await expect(item.getByRole('alert')).toContainText('WRONG_AMOUNTS');
  await expect(item.getByRole('alert')).toContainText('2 tries left');
  await expect(item).toContainText('Pending verification');
  await expect(item.getByText('· 2 tries left')).toBeVisible();
});

test('the right amounts (in any order) verify the bank', async () => {
  const item = bankItem(page);
  await item.getByLabel('First amount ($)', { exact: true }).fill(amounts[1] ?? '');
  const second = item.getByLabel('Second amount ($)', { exact: true });
  await second.fill(amounts[0] ?? '');
  await second.press('Enter');
  await expect(item).toContainText('Verified');
  await expect(item).not.toContainText('Pending verification');
  await expect(item.getByRole('button', { name: 'Verify bank' })).toHaveCount(0);
  await expect(item.getByRole('button', { name: 'Sandbox: show the bank statement' })).toHaveCount(0);
  // Now it is offered for transfers.
  await expect(transferRegion(page).getByLabel('Bank', { exact: true })).toHaveValue(/^\d+$/);
  await expect(transferRegion(page).getByLabel('Bank', { exact: true }).locator('option:checked')).toHaveText(`${masked} (${HOLDER})`);
});

test('a $2,000 deposit from the bank is pending, with $1,000 usable at once', async () => {
  const region = transferRegion(page);
  await expect(region.getByRole('radio', { name: 'Deposit from the bank' })).toBeChecked();
  const amount = region.getByLabel('Bank transfer amount (dollars)');
  await amount.fill('2,000');
  await region.getByRole('button', { name: 'Start transfer', exact: true }).click();
  await expect(region.getByText('Enter an amount in dollars, like 250 or 250.50 (at most 4 decimals).')).toBeVisible();
  await amount.fill('2000');
  await region.getByRole('button', { name: 'Start transfer', exact: true }).click();

  await expect(result(page)).toContainText(/Deposit of \$2,000\.00 pending — \$1,000\.00 usable now, settles at \d\d:\d\d:\d\d/);
  await expect(result(page)).toContainText('Cash after the transfer: $1,000.00');
  // The instant part is cash to trade with now; none of it may leave before it settles.
  await expect(buyingPower(page)).toHaveText('$1,000.00');
  await expect(page.getByText('Cash $1,000.00 · available to withdraw $0.00 · unsettled $1,000.00')).toBeVisible();
  const row = transfersTable(page).getByRole('row').nth(1);
  await expect(row).toContainText('Deposit');
  await expect(row).toContainText(`from ${masked}`);
  await expect(row).toContainText('$2,000.00');
  await expect(row).toContainText('$1,000.00');
  await expect(row).toContainText('Pending');
  await page.screenshot({ path: `${shots}/funding-pending.png` });

  // A withdrawal takes settled cash only.
  await region.getByRole('radio', { name: 'Withdraw to the bank' }).check();
  await expect(region.getByText('Settled cash only: available to withdraw $0.00.')).toBeVisible();
  await amount.fill('500');
  await region.getByRole('button', { name: 'Start transfer', exact: true }).click();
  await expect(region.getByRole('alert')).toContainText('INSUFFICIENT_FUNDS');
  await expect(buyingPower(page)).toHaveText('$1,000.00');
});

test('the deposit settles live: the whole $2,000 is usable and withdrawable', async () => {
  const row = transfersTable(page).getByRole('row').nth(1);
  await expect(row).toContainText('Settled', { timeout: 30_000 });
  await expect(page.getByRole('status').getByText('Bank deposit settled')).toBeVisible();
  await expect(result(page)).toContainText('Deposit of $2,000.00 settled at');
  await expect(buyingPower(page)).toHaveText('$2,000.00');
  await expect(page.getByText('Cash $2,000.00 · available to withdraw $2,000.00')).toBeVisible();
  await expect(page.getByText('· unsettled')).toHaveCount(0);
  // The history has the instant part and the rest, as two deposits.
  const history = page.getByRole('region', { name: 'History' });
  await expect(history.getByRole('row').filter({ hasText: 'Deposit' })).toHaveCount(2);

  // The server agrees.
  const s = await page.request.get('/v1/transfers');
  expect(s.status()).toBe(200);
  const list = ((await s.json()) as { transfers: { direction: string; status: string; amount: string }[] }).transfers;
  expect(list[0]).toMatchObject({ direction: 'deposit', status: 'settled' });
});

test('a withdrawal to the bank leaves at once and is pending', async () => {
  const region = transferRegion(page);
  await region.getByRole('radio', { name: 'Withdraw to the bank' }).check();
  await region.getByLabel('Bank transfer amount (dollars)').fill('500');
  await region.getByRole('button', { name: 'Start transfer', exact: true }).click();
  await expect(result(page)).toContainText('Withdrawal of $500.00 pending — on its way to the bank, settles at');
  await expect(result(page)).toContainText('Cash after the transfer: $1,500.00');
  await expect(buyingPower(page)).toHaveText('$1,500.00');
  const row = transfersTable(page).getByRole('row').nth(1);
  await expect(row).toContainText('Withdrawal');
  await expect(row).toContainText(`to ${masked}`);
  await expect(row).toContainText('Pending');
});

test('another bank: three wrong guesses fail it, and it is removed', async () => {
  const form = page.getByRole('form', { name: 'Link a bank account' });
  const other = `55${number.slice(2, -4)}${otherLast4}`;
  await form.getByLabel("Account holder's name").fill('Ada Lovelace (savings)');
  await form.getByLabel('Account number', { exact: true }).fill(other);
  await form.getByLabel('Routing number', { exact: true }).fill('011000015');
  await form.getByRole('button', { name: 'Link bank', exact: true }).click();
  const item = bankItem(page, `••••${otherLast4}`);
  await expect(item).toContainText('Pending verification');
  await expect(bankList(page).getByRole('listitem')).toHaveCount(2);

  await item.getByRole('button', { name: 'Sandbox: show the bank statement' }).click();
  const statement = item.getByRole('table', { name: new RegExp(`^Bank statement of ••••${otherLast4}`) });
  await expect(statement.locator('tbody td.num')).toHaveCount(2);
  const real = (await statement.locator('tbody td.num').allTextContents()).map((c) => c.trim().replace(/^\$/, ''));
  const wrong = ['0.01', '0.02', '0.03'].filter((w) => !real.includes(w)).slice(0, 2);
  for (const left of ['2 tries left', '1 try left']) {
    await item.getByLabel('First amount ($)', { exact: true }).fill(wrong[0] ?? '');
    await item.getByLabel('Second amount ($)', { exact: true }).fill(wrong[1] ?? '');
    await item.getByRole('button', { name: 'Verify bank', exact: true }).click();
    await expect(item.getByText(`· ${left}`)).toBeVisible();
  }
  await expect(item.getByText('a wrong guess now fails the link')).toBeVisible();
  await item.getByRole('button', { name: 'Verify bank', exact: true }).click();
  await expect(item).toContainText('Verification failed');
  await expect(item.getByText('No tries left: remove this bank and link it again.')).toBeVisible();
  await expect(item.getByRole('button', { name: 'Verify bank' })).toHaveCount(0);

  await item.getByRole('button', { name: `Remove bank ••••${otherLast4} (Ada Lovelace (savings))` }).click();
  await expect(item).toHaveCount(0);
  await expect(bankList(page).getByRole('listitem')).toHaveCount(1);
  // Only the verified bank is offered for transfers.
  expect(await transferRegion(page).getByLabel('Bank', { exact: true }).locator('option').allTextContents()).toEqual([`${masked} (${HOLDER})`]);
  const banks = await page.request.get('/v1/banks');
  expect(((await banks.json()) as { banks: unknown[] }).banks).toHaveLength(1);
});

test('the page raised no CSP violation and no error', () => {
  expect(violations).toEqual([]);
});
