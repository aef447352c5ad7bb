// The tests' side of the exchange, over the public REST API only: users, a funded market
// maker (shares granted by the operator) and its orders, so that every book and price the
// page shows is one the test made and can check against REST.
import { randomBytes } from 'node:crypto';

export const baseUrl = (): string => {
  const u = process.env.BOURSE_URL;
  if (!u) throw new Error('BOURSE_URL is not set (the global setup starts bourse demo)');
  return u;
};

export interface Reply {
  status: number;
  body: unknown;
}

export async function api(
  method: string,
  path: string,
  opts: { bearer?: string; body?: unknown } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (opts.bearer) headers.authorization = `Bearer ${opts.bearer}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${baseUrl()}${path}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await r.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON: keep the text */
  }
  return { status: r.status, body };
}

async function ok(p: Promise<Reply>, want: number[], what: string): Promise<Reply> {
  const r = await p;
  if (!want.includes(r.status)) {
    throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  }
  return r;
}

export const operator = (): string => {
  const t = process.env.BOURSE_OPERATOR_TOKEN;
  if (!t) throw new Error('BOURSE_OPERATOR_TOKEN is not set');
  return t;
};

/** A fresh username (3–32 of a-z0-9_.-) and a password the strength check accepts. */
export function newUser(prefix: string): { username: string; password: string } {
  return {
    username: `${prefix}-${randomBytes(5).toString('hex')}`,
    password: `Tr4ding-${randomBytes(9).toString('base64url')}!`,
  };
}

export interface Trader {
  username: string;
  token: string;
  accountId: string;
}

/** Signs a user up and logs it in with a bearer token (a program's credential). */
export async function trader(prefix: string, cash?: string): Promise<Trader> {
  const u = newUser(prefix);
  await ok(api('POST', '/v1/users', { body: u }), [201], 'sign-up');
  const s = await ok(api('POST', '/v1/sessions', { body: u }), [201], 'log-in');
  const b = s.body as { token: string; account_id: string };
  const t: Trader = { username: u.username, token: b.token, accountId: b.account_id };
  if (cash) {
    await ok(
      api('POST', '/v1/transfers', { bearer: t.token, body: { type: 'deposit', amount: cash } }),
      [201],
      'deposit',
    );
  }
  return t;
}

/** A trader the operator has given shares of `symbol`, so it can quote both sides. */
export async function maker(symbol: string, shares = 1_000_000): Promise<Trader> {
  const m = await trader('maker', '100000000');
  await ok(
    api('POST', `/v1/admin/accounts/${m.accountId}/shares`, {
      bearer: operator(),
      body: { symbol, qty: shares },
    }),
    [200, 201],
    'share deposit',
  );
  return m;
}

export async function order(
  t: Trader,
  o: { symbol: string; side: 'buy' | 'sell'; qty: string; type?: string; limit_price?: string; time_in_force?: string },
): Promise<Reply> {
  return ok(
    api('POST', '/v1/orders', {
      bearer: t.token,
      body: { type: 'limit', time_in_force: 'gtc', ...o },
    }),
    [200],
    `order ${JSON.stringify(o)}`,
  );
}

/** Cancels everything `t` has working in `symbol`. */
export async function cancelAll(t: Trader, symbol: string): Promise<void> {
  await ok(api('DELETE', `/v1/orders?symbol=${symbol}`, { bearer: t.token }), [200], 'mass cancel');
}

/** A price in cents as the wire's decimal string: 19005 → "190.05". */
export const dollars = (cents: number): string =>
  `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;

/** A two-sided market around `midCents`: `levels` price levels a side, one cent apart. */
export async function quote(m: Trader, symbol: string, midCents: number, levels = 5, qty = '100'): Promise<void> {
  for (let i = 1; i <= levels; i++) {
    await order(m, { symbol, side: 'buy', qty, limit_price: dollars(midCents - i) });
    await order(m, { symbol, side: 'sell', qty, limit_price: dollars(midCents + i) });
  }
}

/** A trade of `qty` at exactly `cents`: `m` pulls its quotes, rests a sell there and
 * `taker` lifts it. */
export async function tradeAt(m: Trader, taker: Trader, symbol: string, cents: number, qty = '1'): Promise<void> {
  await cancelAll(m, symbol);
  await order(m, { symbol, side: 'sell', qty, limit_price: dollars(cents) });
  await order(taker, { symbol, side: 'buy', qty, limit_price: dollars(cents), time_in_force: 'ioc' });
}

export async function book(symbol: string, depth = 20): Promise<Reply> {
  return ok(api('GET', `/v1/stocks/${symbol}/book?depth=${depth}`), [200], 'book');
}
