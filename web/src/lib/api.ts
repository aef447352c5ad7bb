/**
 * The REST client. Credentials are the server's HttpOnly session cookie (the page never
 * sees a token); the CSRF token from `/v1/sessions/current` is kept in memory only and sent
 * on every request that changes something. A `403 CSRF_TOKEN_INVALID` refetches it once and
 * retries once.
 */
import type {
  Account,
  Activity,
  Alert,
  Bank,
  BankStatement,
  BankTransfer,
  BankTransferStatus,
  BookSnapshot,
  Candle,
  Clock,
  NewOrder,
  NewsPage,
  Order,
  Page,
  Portfolio,
  Position,
  Session,
  Stock,
  StockPage,
  Trade,
  Transfer,
  Watchlist,
} from './types';

/** A refusal from the server (its stable `code` and its `message`), or a transport failure. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

export interface RequestOptions {
  /** Query parameters; undefined values are left out. */
  query?: Record<string, string | number | undefined>;
  signal?: AbortSignal;
}

const CSRF_INVALID = 'CSRF_TOKEN_INVALID';

export class Api {
  private csrf: string | null = null;
  private refreshing: Promise<Session | null> | null = null;
  /** Called when a request is refused 401 (the session ended or expired). */
  onUnauthorized: (() => void) | null = null;

  constructor(private readonly fetchFn: FetchFn = (i, init) => fetch(i, init)) {}

  get csrfToken(): string | null {
    return this.csrf;
  }

  /** Forgets the CSRF token (log-out). */
  clear(): void {
    this.csrf = null;
  }

  async request<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    return this.send<T>(method, path, body, opts, true);
  }

  private async send<T>(method: string, path: string, body: unknown, opts: RequestOptions, mayRetry: boolean): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && method !== 'HEAD' && this.csrf) headers['x-csrf-token'] = this.csrf;
    let url = path;
    if (opts.query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(opts.query)) if (v !== undefined) q.set(k, String(v));
      const s = q.toString();
      if (s) url += `?${s}`;
    }
    let res: Response;
    try {
      res = await this.fetchFn(url, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        credentials: 'same-origin',
        signal: opts.signal ?? null,
      });
    } catch (e) {
      if (e instanceof DOMException && e.name === 'AbortError') throw e;
      throw new ApiError(0, 'NETWORK', 'Cannot reach the server. Check your connection and try again.');
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let json: unknown = undefined;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    if (res.ok) return json as T;
    const obj = (json && typeof json === 'object' ? json : {}) as Record<string, unknown>;
    const code = typeof obj.code === 'string' ? obj.code : `HTTP_${res.status}`;
    const message = typeof obj.message === 'string' ? obj.message : res.statusText || 'The request failed.';
    if (res.status === 403 && code === CSRF_INVALID && mayRetry) {
      const s = await this.refreshSession();
      if (s) return this.send<T>(method, path, body, opts, false);
    }
    if (res.status === 401 && path !== '/v1/sessions' && path !== '/v1/sessions/current') {
      this.onUnauthorized?.();
    }
    throw new ApiError(res.status, code, message, obj);
  }

  /** `GET /v1/sessions/current`: the session (and a fresh CSRF token), or null when logged out. */
  refreshSession(): Promise<Session | null> {
    this.refreshing ??= (async () => {
      try {
        const s = await this.send<Session>('GET', '/v1/sessions/current', undefined, {}, false);
        this.csrf = s.csrf_token;
        return s;
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) {
          this.csrf = null;
          return null;
        }
        throw e;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  // --- sessions and users ---

  async logIn(username: string, password: string): Promise<Session> {
    const r = await this.request<{ account_id: string; expires_at: string; csrf_token: string }>('POST', '/v1/sessions', {
      username,
      password,
      cookie: true,
    });
    this.csrf = r.csrf_token;
    return { account_id: r.account_id, expires_at: r.expires_at, csrf_token: r.csrf_token, username };
  }

  signUp(username: string, password: string): Promise<{ username: string; account_id: string }> {
    return this.request('POST', '/v1/users', { username, password });
  }

  async logOut(): Promise<void> {
    try {
      await this.request<undefined>('DELETE', '/v1/sessions');
    } finally {
      this.csrf = null;
    }
  }

  // --- market data ---

  searchStocks(q: string, size = 8, signal?: AbortSignal): Promise<StockPage> {
    return this.request('GET', '/v1/stocks', undefined, { query: { q, size }, ...(signal ? { signal } : {}) });
  }
  stock(symbol: string): Promise<Stock> {
    return this.request('GET', `/v1/stocks/${encodeURIComponent(symbol)}`);
  }
  book(symbol: string, depth = 1000): Promise<BookSnapshot> {
    return this.request('GET', `/v1/stocks/${encodeURIComponent(symbol)}/book`, undefined, { query: { depth } });
  }
  trades(symbol: string, limit = 50): Promise<{ symbol: string; seq: number; trades: Trade[] }> {
    return this.request('GET', `/v1/stocks/${encodeURIComponent(symbol)}/trades`, undefined, { query: { limit } });
  }
  candles(symbol: string, interval: string, limit = 300): Promise<{ symbol: string; seq: number; interval: string; candles: Candle[] }> {
    return this.request('GET', `/v1/stocks/${encodeURIComponent(symbol)}/candles`, undefined, { query: { interval, limit } });
  }

  /** `GET /v1/news?symbol=`: the stock's news, newest first; `after` is the previous page's `next`. */
  news(symbol: string, limit = 20, after?: number): Promise<NewsPage> {
    return this.request('GET', '/v1/news', undefined, { query: { symbol, limit, after } });
  }

  /** `GET /v1/clock`: the market's session, and when it next opens and closes. */
  clock(): Promise<Clock> {
    return this.request('GET', '/v1/clock');
  }

  // --- trading ---

  placeOrder(o: NewOrder): Promise<Order> {
    return this.request('POST', '/v1/orders', o);
  }
  orders(status: 'open' | 'closed' | 'all', limit = 100, after?: string): Promise<Page<Order>> {
    return this.request('GET', '/v1/orders', undefined, { query: { status, limit, after } });
  }
  order(id: string): Promise<Order> {
    return this.request('GET', `/v1/orders/${encodeURIComponent(id)}`);
  }
  replaceOrder(id: string, qty: string, limitPrice?: string): Promise<{ id: string; status: string; leaves_qty: string; limit_price: string | null; priority_kept: boolean }> {
    return this.request('PATCH', `/v1/orders/${encodeURIComponent(id)}`, limitPrice === undefined ? { qty } : { qty, limit_price: limitPrice });
  }
  cancelOrder(id: string): Promise<{ id: string; status: string; canceled_qty: string; cancel_reason: string }> {
    return this.request('DELETE', `/v1/orders/${encodeURIComponent(id)}`);
  }

  // --- account ---

  account(): Promise<Account> {
    return this.request('GET', '/v1/account');
  }
  positions(): Promise<Position[]> {
    return this.request('GET', '/v1/positions');
  }
  portfolio(): Promise<Portfolio> {
    return this.request('GET', '/v1/portfolio');
  }
  activities(after?: string, limit = 50): Promise<Page<Activity>> {
    return this.request('GET', '/v1/activities', undefined, { query: { after, limit } });
  }
  /** A book transfer, done at once; with `bankId` (a verified bank) an ACH transfer, pending until it settles. */
  transfer(type: 'deposit' | 'withdraw', amount: string, bankId?: string): Promise<Transfer> {
    return this.request('POST', '/v1/transfers', bankId === undefined ? { type, amount } : { type, amount, bank_id: bankId });
  }
  /** `GET /v1/transfers`: bank transfers, newest first. */
  bankTransfers(status?: BankTransferStatus): Promise<{ transfers: BankTransfer[] }> {
    return this.request('GET', '/v1/transfers', undefined, { query: { status } });
  }

  // --- linked banks ---

  banks(): Promise<{ banks: Bank[] }> {
    return this.request('GET', '/v1/banks');
  }
  /** Links a bank account; it is `pending` until its two micro-deposits are confirmed. */
  linkBank(holderName: string, accountNumber: string, routingNumber: string): Promise<Bank> {
    return this.request('POST', '/v1/banks', { holder_name: holderName, account_number: accountNumber, routing_number: routingNumber });
  }
  removeBank(id: string): Promise<void> {
    return this.request('DELETE', `/v1/banks/${encodeURIComponent(id)}`);
  }
  /** The two micro-deposits, in any order. */
  verifyBank(id: string, amounts: [string, string]): Promise<Bank> {
    return this.request('POST', `/v1/banks/${encodeURIComponent(id)}/verify`, { amounts });
  }
  /** The sandbox's stand-in for the person's bank statement (`404 SANDBOX_ONLY` elsewhere). */
  bankStatement(id: string): Promise<BankStatement> {
    return this.request('GET', `/v1/banks/${encodeURIComponent(id)}/statement`);
  }

  // --- alerts ---

  alerts(): Promise<{ items: Alert[] }> {
    return this.request('GET', '/v1/alerts');
  }
  createAlert(symbol: string, condition: 'above' | 'below', price: string): Promise<Alert> {
    return this.request('POST', '/v1/alerts', { symbol, condition, price });
  }
  deleteAlert(id: string): Promise<void> {
    return this.request('DELETE', `/v1/alerts/${encodeURIComponent(id)}`);
  }

  // --- watchlists ---

  watchlists(): Promise<Watchlist[]> {
    return this.request('GET', '/v1/watchlists');
  }
  createWatchlist(name: string, symbols: string[]): Promise<Watchlist> {
    return this.request('POST', '/v1/watchlists', { name, symbols });
  }
  addToWatchlist(id: string, symbol: string): Promise<Watchlist> {
    return this.request('POST', `/v1/watchlists/${encodeURIComponent(id)}`, { symbol });
  }
  removeFromWatchlist(id: string, symbol: string): Promise<Watchlist> {
    return this.request('DELETE', `/v1/watchlists/${encodeURIComponent(id)}/${encodeURIComponent(symbol)}`);
  }
}

/** The page's one client. */
export const api = new Api();

/** `"CODE: message"` for showing a failure as the server said it. */
export function describeError(e: unknown): { code: string; message: string } {
  if (e instanceof ApiError) return { code: e.code, message: e.message };
  if (e instanceof Error) return { code: 'ERROR', message: e.message };
  return { code: 'ERROR', message: String(e) };
}
