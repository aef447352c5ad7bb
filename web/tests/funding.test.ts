import { describe, expect, it } from 'vitest';
import { Api, ApiError, type FetchFn } from '../src/lib/api';
import {
  abaValid,
  bankName,
  bankNext,
  bankStatusLabel,
  checkAmount,
  checkBank,
  checkMicroDeposits,
  describeTransfer,
  microDeposit,
  returnReason,
  shortTime,
  transferStatusLabel,
  triesLeft,
} from '../src/lib/funding';
import type { BankTransfer } from '../src/lib/types';

describe('abaValid', () => {
  it('takes routing numbers whose weighted sum is a multiple of ten', () => {
    // 3·(0+0+0) + 7·(2+0+2) + (1+0+1) = 30.
    expect(abaValid('021000021')).toBe(true);
    for (const r of ['011000015', '026009593', '121000358', '111000025', '000000000']) expect(abaValid(r)).toBe(true);
  });

  it('refuses a wrong check digit, and anything but nine digits', () => {
    expect(abaValid('021000022')).toBe(false);
    expect(abaValid('123456789')).toBe(false);
    expect(abaValid('02100002')).toBe(false);
    expect(abaValid('0210000210')).toBe(false);
    expect(abaValid('02100002a')).toBe(false);
    expect(abaValid(' 21000021')).toBe(false);
    expect(abaValid('')).toBe(false);
  });

  it('agrees with the formula for every check digit of a prefix', () => {
    const prefix = '02600959';
    const ok = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'].filter((c) => abaValid(prefix + c));
    expect(ok).toEqual(['3']);
  });
});

describe('checkBank', () => {
  const good = { holder: '  Ada Lovelace ', account: '000123456789', routing: '021000021' };

  it('gives the body to send, trimmed', () => {
    expect(checkBank(good)).toEqual({
      errors: {},
      body: { holder_name: 'Ada Lovelace', account_number: '000123456789', routing_number: '021000021' },
    });
  });

  it('drops the spaces and dashes numbers are copied with', () => {
    expect(checkBank({ ...good, account: ' 0001 2345-6789 ', routing: '0210 0002 1' }).body).toMatchObject({ account_number: '000123456789', routing_number: '021000021' });
  });

  it("checks the holder's name: 1 to 100 characters, no control characters", () => {
    expect(checkBank({ ...good, holder: '   ' }).errors.holder).toBe("Enter the account holder's name, as the bank has it.");
    expect(checkBank({ ...good, holder: 'x'.repeat(100) }).body).not.toBeNull();
    expect(checkBank({ ...good, holder: 'x'.repeat(101) }).errors.holder).toBe("Enter at most 100 characters for the holder's name.");
    // Characters, not UTF-16 units (as the server counts them).
    expect(checkBank({ ...good, holder: '😀'.repeat(100) }).body).not.toBeNull();
    expect(checkBank({ ...good, holder: 'Ada\tLovelace' }).errors.holder).toMatch(/control characters/);
  });

  it('checks the account number: 4 to 17 digits', () => {
    expect(checkBank({ ...good, account: '' }).errors.account).toBe('Enter the account number.');
    expect(checkBank({ ...good, account: '12a4' }).errors.account).toBe('An account number has digits only.');
    expect(checkBank({ ...good, account: '123' }).errors.account).toBe('An account number has 4 to 17 digits (this one has 3).');
    expect(checkBank({ ...good, account: '1'.repeat(18) }).errors.account).toBe('An account number has 4 to 17 digits (this one has 18).');
    expect(checkBank({ ...good, account: '1234' }).body).not.toBeNull();
    expect(checkBank({ ...good, account: '1'.repeat(17) }).body).not.toBeNull();
  });

  it('checks the routing number: nine digits and the check digit', () => {
    expect(checkBank({ ...good, routing: '' }).errors.routing).toBe('Enter the routing number.');
    expect(checkBank({ ...good, routing: '02100002' }).errors.routing).toBe('A routing number has exactly nine digits.');
    expect(checkBank({ ...good, routing: '021000022' }).errors.routing).toBe(
      'This is not a valid routing number: its check digit does not match. Check the nine digits.',
    );
  });

  it('reports every field at once, and no body', () => {
    const r = checkBank({ holder: '', account: '1', routing: '1' });
    expect(Object.keys(r.errors).sort()).toEqual(['account', 'holder', 'routing']);
    expect(r.body).toBeNull();
  });
});

describe('checkAmount', () => {
  it('takes dollars above zero with at most 4 decimals', () => {
    expect(checkAmount(' 2000 ')).toEqual({ amount: '2000', error: null });
    expect(checkAmount('250.50')).toEqual({ amount: '250.50', error: null });
    expect(checkAmount('0.0001')).toEqual({ amount: '0.0001', error: null });
  });

  it('refuses zero, signs, separators, too many decimals and words', () => {
    for (const t of ['', '0', '0.00', '-5', '+5', '1,000', '1.23456', '1e3', 'ten', '.5', '$5']) {
      expect(checkAmount(t)).toEqual({ amount: null, error: 'Enter an amount in dollars, like 250 or 250.50 (at most 4 decimals).' });
    }
  });
});

describe('micro-deposits', () => {
  it('reads an amount as a statement shows it, in cents', () => {
    expect(microDeposit('0.32')).toBe('0.32');
    expect(microDeposit(' .05 ')).toBe('0.05');
    expect(microDeposit('$0.45')).toBe('0.45');
    expect(microDeposit('0.5')).toBe('0.50');
    expect(microDeposit('0.9900')).toBe('0.99');
    expect(microDeposit('0.01')).toBe('0.01');
  });

  it('refuses what no micro-deposit is: 0, a dollar or more, fractions of a cent', () => {
    for (const t of ['', '0', '0.00', '1', '1.00', '0.321', '0.005', '-0.32', 'abc', '32']) expect(microDeposit(t)).toBeNull();
  });

  it('checks both, and gives the pair to send', () => {
    expect(checkMicroDeposits('0.32', '.45')).toEqual({ errors: {}, amounts: ['0.32', '0.45'] });
    const bad = checkMicroDeposits('1.32', '');
    expect(bad.amounts).toBeNull();
    expect(bad.errors.first).toMatch(/from 0\.01 to 0\.99/);
    expect(bad.errors.second).toMatch(/from 0\.01 to 0\.99/);
    expect(checkMicroDeposits('0.32', 'x').errors).toEqual({ second: expect.any(String) as string });
  });
});

describe('transfers in words', () => {
  const t = (extra: Partial<BankTransfer>): BankTransfer => ({
    id: '7',
    bank_id: '1',
    direction: 'deposit',
    amount: '2000.0000',
    instant: '1000.0000',
    status: 'pending',
    created_at: '2026-12-06T19:30:00Z',
    settle_at: '2026-12-06T19:32:00Z',
    ...extra,
  });
  const at = (iso: string) => `<${iso}>`;

  it('a pending deposit: its instant part usable now, and when it settles', () => {
    expect(describeTransfer(t({}), at)).toBe('Deposit of $2,000.00 pending — $1,000.00 usable now, settles at <2026-12-06T19:32:00Z>');
    expect(describeTransfer(t({ amount: '250', instant: '250' }), at)).toBe('Deposit of $250.00 pending — $250.00 usable now, settles at <2026-12-06T19:32:00Z>');
    expect(describeTransfer(t({ instant: '0.0000' }), at)).toBe('Deposit of $2,000.00 pending — usable once it settles at <2026-12-06T19:32:00Z>');
  });

  it('a pending withdrawal, a settled and a returned transfer', () => {
    expect(describeTransfer(t({ direction: 'withdrawal', amount: '300', instant: '0' }), at)).toBe(
      'Withdrawal of $300.00 pending — on its way to the bank, settles at <2026-12-06T19:32:00Z>',
    );
    expect(describeTransfer(t({ status: 'settled', ended_at: '2026-12-06T19:32:00.5Z' }), at)).toBe('Deposit of $2,000.00 settled at <2026-12-06T19:32:00.5Z>');
    expect(describeTransfer(t({ status: 'settled' }), at)).toBe('Deposit of $2,000.00 settled at <2026-12-06T19:32:00Z>');
    expect(describeTransfer(t({ status: 'returned', return_code: 'R01', ended_at: '2026-12-06T19:31:00Z' }), at)).toBe(
      'Deposit of $2,000.00 returned by the bank (R01: insufficient funds)',
    );
  });

  it('return codes and statuses', () => {
    expect(returnReason('R02')).toBe('R02: account closed');
    expect(returnReason('R03')).toBe('R03: no account');
    expect(returnReason('R10')).toBe('R10: not authorized');
    expect(returnReason('R99')).toBe('R99');
    expect(returnReason(undefined)).toBe('—');
    expect(transferStatusLabel({ status: 'settled' })).toBe('Settled');
    expect(transferStatusLabel({ status: 'pending' })).toBe('Pending');
  });

  it("shortTime: today's time of day, another day's date too", () => {
    const now = Date.parse('2026-12-06T12:00:00Z');
    const today = shortTime('2026-12-06T12:02:03Z', now);
    expect(today).toMatch(/^\d\d:\d\d:\d\d$/);
    expect(shortTime('2026-12-20T12:02:03Z', now)).not.toMatch(/^\d\d:\d\d:\d\d$/);
    expect(shortTime('not a time', now)).toBe('—');
  });
});

describe('banks in words', () => {
  const b = { id: '1', holder_name: 'Ada Lovelace', account_number_masked: '••••6789', routing_number: '021000021', linked_at: 'x' };

  it('names a bank, its status and what to do next', () => {
    expect(bankName(b)).toBe('••••6789 (Ada Lovelace)');
    expect(bankStatusLabel({ status: 'pending' })).toBe('Pending verification');
    expect(bankStatusLabel({ status: 'verified' })).toBe('Verified');
    expect(bankStatusLabel({ status: 'failed' })).toBe('Verification failed');
    expect(triesLeft(3)).toBe('3 tries left');
    expect(triesLeft(1)).toBe('1 try left');
    expect(bankNext({ status: 'pending', attempts_left: 2 })).toBe('Enter the two small deposits the bank statement shows.');
    expect(bankNext({ status: 'pending', attempts_left: 1 })).toBe('Enter the two small deposits the bank statement shows: a wrong guess now fails the link.');
    expect(bankNext({ status: 'failed', attempts_left: 0 })).toBe('No tries left: remove this bank and link it again.');
    expect(bankNext({ status: 'verified', attempts_left: 3 })).toBeNull();
  });
});

describe('the funding routes', () => {
  const calls: { url: string; method: string; body: string | null }[] = [];
  const answers: Response[] = [];
  const fetchFn: FetchFn = (url, init) => {
    calls.push({ url, method: init?.method ?? 'GET', body: (init?.body as string | null | undefined) ?? null });
    const r = answers.shift();
    return r ? Promise.resolve(r) : Promise.reject(new Error('no answer'));
  };
  const json = (status: number, v: unknown) => new Response(JSON.stringify(v), { status, headers: { 'content-type': 'application/json' } });

  it('sends what the server takes', async () => {
    const api = new Api(fetchFn);
    const bank = { id: '3', holder_name: 'Ada', account_number_masked: '••••6789', routing_number: '021000021', status: 'pending', attempts_left: 3, linked_at: 'x' };
    answers.push(json(201, bank), json(200, { bank_id: '3', lines: [] }), json(200, { ...bank, status: 'verified' }), json(201, { account_id: '1', type: 'deposit', amount: '5', cash: '5' }));
    answers.push(json(201, { account_id: '1', type: 'deposit', amount: '5', cash: '5' }), json(200, { transfers: [] }), new Response(null, { status: 204 }));
    await api.linkBank('Ada', '000123456789', '021000021');
    await api.bankStatement('3');
    expect((await api.verifyBank('3', ['0.32', '0.45'])).status).toBe('verified');
    await api.transfer('deposit', '5', '3');
    await api.transfer('deposit', '5');
    await api.bankTransfers('pending');
    await api.removeBank('3');
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      'POST /v1/banks',
      'GET /v1/banks/3/statement',
      'POST /v1/banks/3/verify',
      'POST /v1/transfers',
      'POST /v1/transfers',
      'GET /v1/transfers?status=pending',
      'DELETE /v1/banks/3',
    ]);
    const bodies = calls.map((c) => (c.body ? (JSON.parse(c.body) as unknown) : null));
    expect(bodies[0]).toEqual({ holder_name: 'Ada', account_number: '000123456789', routing_number: '021000021' });
    expect(bodies[2]).toEqual({ amounts: ['0.32', '0.45'] });
    expect(bodies[3]).toEqual({ type: 'deposit', amount: '5', bank_id: '3' });
    // A book transfer carries no bank.
    expect(bodies[4]).toEqual({ type: 'deposit', amount: '5' });
  });

  it("a wrong guess is the server's refusal, with its code", async () => {
    const api = new Api(fetchFn);
    answers.push(json(422, { code: 'WRONG_AMOUNTS', message: 'those are not the two amounts; 2 tries left' }));
    const e = await api.verifyBank('3', ['0.01', '0.02']).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toMatchObject({ status: 422, code: 'WRONG_AMOUNTS', message: 'those are not the two amounts; 2 tries left' });
  });
});
