import { describe, expect, it } from 'vitest';
import { Api, ApiError, type FetchFn } from '../src/lib/api';

interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | null;
}

function fake(responses: Array<(c: Call) => Response>): { fetchFn: FetchFn; calls: Call[] } {
  const calls: Call[] = [];
  const fetchFn: FetchFn = (url, init) => {
    const c: Call = {
      url,
      method: init?.method ?? 'GET',
      headers: (init?.headers ?? {}) as Record<string, string>,
      body: (init?.body as string | null | undefined) ?? null,
    };
    calls.push(c);
    const next = responses.shift();
    if (!next) throw new Error(`unexpected request ${c.method} ${url}`);
    return Promise.resolve(next(c));
  };
  return { fetchFn, calls };
}

const json = (status: number, v: unknown) => () => new Response(JSON.stringify(v), { status, headers: { 'content-type': 'application/json' } });
const current = (csrf: string) => json(200, { account_id: '1', username: 'demo', expires_at: 'x', csrf_token: csrf });

describe('Api', () => {
  it('logs in with the cookie flag and keeps the CSRF token for later writes', async () => {
    const { fetchFn, calls } = fake([json(201, { account_id: '1', expires_at: 'x', csrf_token: 'tok1' }), json(201, { account_id: '1', type: 'deposit', amount: '5.00', cash: '5.00' })]);
    const api = new Api(fetchFn);
    await api.logIn('demo', 'pw');
    expect(JSON.parse(calls[0]?.body ?? '')).toEqual({ username: 'demo', password: 'pw', cookie: true });
    expect(calls[0]?.headers['x-csrf-token']).toBeUndefined();
    await api.transfer('deposit', '5.00');
    expect(calls[1]?.headers['x-csrf-token']).toBe('tok1');
    expect(calls[1]?.headers.authorization).toBeUndefined();
  });

  it('does not send the CSRF token on GET', async () => {
    const { fetchFn, calls } = fake([current('t'), json(200, { items: [] })]);
    const api = new Api(fetchFn);
    await api.refreshSession();
    await api.alerts();
    expect(calls[1]?.headers['x-csrf-token']).toBeUndefined();
  });

  it('on 403 CSRF_TOKEN_INVALID refetches the session once and retries with the new token', async () => {
    const { fetchFn, calls } = fake([
      current('old'),
      json(403, { code: 'CSRF_TOKEN_INVALID', message: 'stale' }),
      current('new'),
      json(201, { id: '7', symbol: 'AAPL', condition: 'above', price: '1.00', status: 'active', trade_price: null, triggered_at: null }),
    ]);
    const api = new Api(fetchFn);
    await api.refreshSession();
    const a = await api.createAlert('AAPL', 'above', '1.00');
    expect(a.id).toBe('7');
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['GET /v1/sessions/current', 'POST /v1/alerts', 'GET /v1/sessions/current', 'POST /v1/alerts']);
    expect(calls[1]?.headers['x-csrf-token']).toBe('old');
    expect(calls[3]?.headers['x-csrf-token']).toBe('new');
    expect(api.csrfToken).toBe('new');
  });

  it('retries only once: a second CSRF refusal is shown', async () => {
    const { fetchFn, calls } = fake([json(403, { code: 'CSRF_TOKEN_INVALID', message: 'stale' }), current('new'), json(403, { code: 'CSRF_TOKEN_INVALID', message: 'still stale' })]);
    const api = new Api(fetchFn);
    await expect(api.deleteAlert('1')).rejects.toMatchObject({ status: 403, code: 'CSRF_TOKEN_INVALID', message: 'still stale' });
    expect(calls).toHaveLength(3);
  });

  it('does not retry when the session is gone', async () => {
    const { fetchFn, calls } = fake([json(403, { code: 'CSRF_TOKEN_INVALID', message: 'stale' }), json(401, { code: 'UNAUTHORIZED', message: 'no' })]);
    const api = new Api(fetchFn);
    await expect(api.deleteAlert('1')).rejects.toMatchObject({ code: 'CSRF_TOKEN_INVALID' });
    expect(calls).toHaveLength(2);
    expect(api.csrfToken).toBeNull();
  });

  it('does not retry other 403s', async () => {
    const { fetchFn, calls } = fake([json(403, { code: 'INSUFFICIENT_SCOPE', message: 'no' })]);
    const api = new Api(fetchFn);
    await expect(api.cancelOrder('1')).rejects.toBeInstanceOf(ApiError);
    expect(calls).toHaveLength(1);
  });

  it('reports the server code and message verbatim, and 401 as a session end', async () => {
    const { fetchFn } = fake([json(422, { code: 'INSUFFICIENT_BUYING_POWER', message: 'needs $1,000' }), json(401, { code: 'UNAUTHORIZED', message: 'expired' })]);
    const api = new Api(fetchFn);
    let ended = 0;
    api.onUnauthorized = () => ended++;
    await expect(api.placeOrder({ symbol: 'AAPL', side: 'buy', type: 'market', time_in_force: 'ioc', qty: '1' })).rejects.toMatchObject({
      status: 422,
      code: 'INSUFFICIENT_BUYING_POWER',
      message: 'needs $1,000',
    });
    await expect(api.account()).rejects.toMatchObject({ status: 401 });
    expect(ended).toBe(1);
  });

  it('answers null for a logged-out session and a transport failure as NETWORK', async () => {
    const { fetchFn } = fake([json(401, { code: 'UNAUTHORIZED', message: 'no' })]);
    const api = new Api(fetchFn);
    expect(await api.refreshSession()).toBeNull();
    const broken = new Api(() => Promise.reject(new TypeError('failed to fetch')));
    await expect(broken.account()).rejects.toMatchObject({ status: 0, code: 'NETWORK' });
  });

  it('builds query strings and leaves out missing values', async () => {
    const { fetchFn, calls } = fake([json(200, { items: [], next: null })]);
    await new Api(fetchFn).activities(undefined, 50);
    expect(calls[0]?.url).toBe('/v1/activities?limit=50');
  });
});
