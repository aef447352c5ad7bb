/**
 * Bank funding (docs/FUNDING.md): the checks of a bank to link, of the two micro-deposits
 * and of an amount (mirroring the server's, so what passes here is not refused for its form),
 * and bank transfers and banks in words.
 */
import { cmp, isMultiple, rescale, toText, tryParse, type Dec } from './decimal';
import * as fmt from './format';
import type { Bank, BankTransfer } from './types';

/** The most banks a person may link (`TOO_MANY_BANKS`). */
export const MAX_BANKS = 5;
/** The longest holder's name, in characters. */
export const MAX_HOLDER = 100;

/**
 * Whether `routing` is an ABA routing number: nine digits whose weighted sum
 * 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) is a multiple of ten.
 */
export function abaValid(routing: string): boolean {
  if (!/^\d{9}$/.test(routing)) return false;
  const d = Array.from(routing, Number);
  let sum = 0;
  for (let i = 0; i < 9; i += 3) sum += 3 * (d[i] ?? 0) + 7 * (d[i + 1] ?? 0) + (d[i + 2] ?? 0);
  return sum % 10 === 0;
}

export type BankField = 'holder' | 'account' | 'routing';

/** The link form as typed. */
export interface BankInput {
  holder: string;
  account: string;
  routing: string;
}

/** `POST /v1/banks`'s body. */
export interface LinkBody {
  holder_name: string;
  account_number: string;
  routing_number: string;
}

/** Account and routing numbers as typed, without the spaces and dashes people copy them with. */
const digitsOf = (text: string): string => text.replace(/[\s-]/g, '');

/**
 * The link form's errors, by field, in words; or the body to send when there is none. As the
 * server: the holder's name trimmed, 1 to 100 characters, no control characters; the account
 * number 4 to 17 digits; the routing number nine digits with a valid check digit.
 */
export function checkBank(input: BankInput): { errors: Partial<Record<BankField, string>>; body: LinkBody | null } {
  const errors: Partial<Record<BankField, string>> = {};
  const holder = input.holder.trim();
  if (!holder) errors.holder = "Enter the account holder's name, as the bank has it.";
  else if (Array.from(holder).length > MAX_HOLDER) errors.holder = `Enter at most ${MAX_HOLDER} characters for the holder's name.`;
  else if (/\p{Cc}/u.test(holder)) errors.holder = "The holder's name cannot contain tabs or other control characters.";

  const account = digitsOf(input.account);
  if (!account) errors.account = 'Enter the account number.';
  else if (!/^\d+$/.test(account)) errors.account = 'An account number has digits only.';
  else if (account.length < 4 || account.length > 17) errors.account = `An account number has 4 to 17 digits (this one has ${account.length}).`;

  const routing = digitsOf(input.routing);
  if (!routing) errors.routing = 'Enter the routing number.';
  else if (!/^\d{9}$/.test(routing)) errors.routing = 'A routing number has exactly nine digits.';
  else if (!abaValid(routing)) errors.routing = 'This is not a valid routing number: its check digit does not match. Check the nine digits.';

  const ok = !errors.holder && !errors.account && !errors.routing;
  return { errors, body: ok ? { holder_name: holder, account_number: account, routing_number: routing } : null };
}

const AMOUNT = /^\d+(\.\d{1,4})?$/;

/**
 * A transfer's amount in dollars: above zero, at most 4 decimals (as the server takes it).
 * The amount to send, or what is wrong with it.
 */
export function checkAmount(text: string): { amount: string; error: null } | { amount: null; error: string } {
  const t = text.trim();
  if (!AMOUNT.test(t) || (tryParse(t)?.units ?? 0n) === 0n) {
    return { amount: null, error: 'Enter an amount in dollars, like 250 or 250.50 (at most 4 decimals).' };
  }
  return { amount: t, error: null };
}

const CENT: Dec = { units: 1n, scale: 2 };
const DOLLAR: Dec = { units: 1n, scale: 0 };

/** One micro-deposit as the statement shows it (`0.32`, `.32`, `$0.32`): `"0.32"`, or null. */
export function microDeposit(text: string): string | null {
  let t = text.trim().replace(/^\$/, '');
  if (t.startsWith('.')) t = `0${t}`;
  if (!AMOUNT.test(t)) return null;
  const d = tryParse(t);
  if (!d || !isMultiple(d, CENT) || cmp(d, CENT) < 0 || cmp(d, DOLLAR) >= 0) return null;
  return toText(rescale(d, 2));
}

/** The two micro-deposits (any order): each 0.01 to 0.99, in cents. */
export function checkMicroDeposits(first: string, second: string): { errors: { first?: string; second?: string }; amounts: [string, string] | null } {
  const wrong = 'Enter the amount as the statement shows it: from 0.01 to 0.99, like 0.32.';
  const a = microDeposit(first);
  const b = microDeposit(second);
  const errors: { first?: string; second?: string } = {};
  if (a == null) errors.first = wrong;
  if (b == null) errors.second = wrong;
  return { errors, amounts: a != null && b != null ? [a, b] : null };
}

/** The banks' return codes (NACHA) in words. */
export const RETURN_CODES: Record<string, string> = {
  R01: 'insufficient funds',
  R02: 'account closed',
  R03: 'no account',
  R10: 'not authorized',
};

/** `"R01: insufficient funds"`; an unknown code as it is. */
export function returnReason(code: string | null | undefined): string {
  if (!code) return fmt.DASH;
  const why = RETURN_CODES[code];
  return why ? `${code}: ${why}` : code;
}

export function directionLabel(t: Pick<BankTransfer, 'direction'>): string {
  return t.direction === 'deposit' ? 'Deposit' : 'Withdrawal';
}

/** `Pending`, `Settled`, `Returned`. */
export function transferStatusLabel(t: Pick<BankTransfer, 'status'>): string {
  return fmt.label(t.status);
}

/**
 * A transfer in one line, times written by `when`:
 * `Deposit of $2,000.00 pending — $1,000.00 usable now, settles at 14:31:05`.
 */
export function describeTransfer(t: BankTransfer, when: (iso: string) => string): string {
  const what = `${directionLabel(t)} of ${fmt.money(t.amount)}`;
  switch (t.status) {
    case 'pending':
      if (t.direction === 'withdrawal') return `${what} pending — on its way to the bank, settles at ${when(t.settle_at)}`;
      if (fmt.nonZero(t.instant)) return `${what} pending — ${fmt.money(t.instant)} usable now, settles at ${when(t.settle_at)}`;
      return `${what} pending — usable once it settles at ${when(t.settle_at)}`;
    case 'settled':
      return `${what} settled at ${when(t.ended_at ?? t.settle_at)}`;
    case 'returned':
      return `${what} returned by the bank (${returnReason(t.return_code)})`;
    default:
      return `${what}: ${fmt.label(String(t.status))}`;
  }
}

/** A time of today as `14:31:05`, another day's as `Dec 8, 14:31`. */
export function shortTime(iso: string, now: number = Date.now()): string {
  const ms = fmt.parseTs(iso);
  if (ms == null) return fmt.DASH;
  return new Date(ms).toDateString() === new Date(now).toDateString() ? fmt.clock(iso) : fmt.dateTime(iso);
}

/** A bank as people tell it apart: `••••6789 (Ada Lovelace)`. */
export function bankName(b: Pick<Bank, 'account_number_masked' | 'holder_name'>): string {
  return `${b.account_number_masked} (${b.holder_name})`;
}

/** `Pending verification`, `Verified`, `Verification failed`. */
export function bankStatusLabel(b: Pick<Bank, 'status'>): string {
  switch (b.status) {
    case 'pending':
      return 'Pending verification';
    case 'verified':
      return 'Verified';
    case 'failed':
      return 'Verification failed';
    default:
      return fmt.label(String(b.status));
  }
}

/** `3 tries left`, `1 try left`. */
export function triesLeft(n: number): string {
  return `${n} ${n === 1 ? 'try' : 'tries'} left`;
}

/** What to do next with a bank, in words (null when nothing is to be done). */
export function bankNext(b: Pick<Bank, 'status' | 'attempts_left'>): string | null {
  if (b.status === 'pending') return b.attempts_left === 1 ? 'Enter the two small deposits the bank statement shows: a wrong guess now fails the link.' : 'Enter the two small deposits the bank statement shows.';
  if (b.status === 'failed') return 'No tries left: remove this bank and link it again.';
  return null;
}
