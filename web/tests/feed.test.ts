import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Feed, backoff, type FeedEvents } from '../src/lib/feed';

class FakeSocket {
  static readonly OPEN = 1;
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  send(s: string) {
    this.sent.push(JSON.parse(s) as Record<string, unknown>);
  }
  close() {
    this.readyState = 3;
    this.onclose?.();
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  receive(m: unknown) {
    this.onmessage?.({ data: JSON.stringify(m) });
  }
}

function setup() {
  const sockets: FakeSocket[] = [];
  const events: FeedEvents & { log: string[] } = {
    log: [],
    message(m) {
      this.log.push(`message:${m.type}`);
    },
    open() {
      this.log.push('open');
    },
    close() {
      this.log.push('close');
    },
    authenticated(id) {
      this.log.push(`authenticated:${id}`);
    },
    authFailed(code) {
      this.log.push(`authFailed:${code}`);
    },
    state(s) {
      this.log.push(`state:${s}`);
    },
  };
  const feed = new Feed(events, 'ws://x/v1/ws', () => {
    const s = new FakeSocket();
    sockets.push(s);
    return s as unknown as WebSocket;
  });
  return { feed, sockets, events };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.stubGlobal('WebSocket', { OPEN: 1 });
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('backoff', () => {
  it('doubles from half a second up to 30 s, with jitter', () => {
    const mid = () => 0.5;
    expect([0, 1, 2, 3, 10].map((n) => backoff(n, mid))).toEqual([500, 1000, 2000, 4000, 30000]);
    expect(backoff(0, () => 0)).toBe(400);
    expect(backoff(0, () => 1)).toBe(600);
  });
});

describe('Feed', () => {
  it('counts subscriptions: the first want subscribes, the last release unsubscribes', () => {
    const { feed, sockets } = setup();
    feed.start();
    const ws = sockets[0] as FakeSocket;
    ws.open();
    const a = feed.want(['ticker'], 'AAPL');
    const b = feed.want(['ticker', 'book'], 'AAPL');
    expect(ws.sent).toEqual([
      { op: 'subscribe', id: 1, channels: ['ticker'], symbols: ['AAPL'] },
      { op: 'subscribe', id: 2, channels: ['book'], symbols: ['AAPL'] },
    ]);
    a();
    a();
    expect(ws.sent).toHaveLength(2);
    b();
    expect(ws.sent[2]).toEqual({ op: 'unsubscribe', id: 3, channels: ['ticker', 'book'], symbols: ['AAPL'] });
    expect(feed.follows('ticker', 'AAPL')).toBe(false);
  });

  it('reconnects with backoff and sends every subscription and the cookie auth again', () => {
    const { feed, sockets, events } = setup();
    feed.setPrivate(true);
    feed.start();
    feed.want(['book', 'trades'], 'AAPL');
    feed.want(['ticker'], 'MSFT');
    (sockets[0] as FakeSocket).open();
    (sockets[0] as FakeSocket).close();
    expect(feed.state).toBe('reconnecting');
    expect(events.log).toContain('close');
    vi.advanceTimersByTime(399);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(201);
    expect(sockets).toHaveLength(2);
    const ws = sockets[1] as FakeSocket;
    ws.open();
    expect(feed.state).toBe('live');
    expect(ws.sent[0]).toEqual({ op: 'auth', id: 'auth' });
    const subs = ws.sent.slice(1).map((m) => [m.channels, m.symbols]);
    expect(subs).toEqual([
      [['book'], ['AAPL']],
      [['trades'], ['AAPL']],
      [['ticker'], ['MSFT']],
    ]);
    ws.receive({ type: 'authenticated', request_id: 'auth', account_id: '3' });
    expect(ws.sent.at(-1)).toEqual({ op: 'subscribe', id: 'private', channels: ['orders', 'account', 'alerts'] });
    expect(events.log).toContain('authenticated:3');
  });

  it('log-in replaces the socket (its upgrade carries the new cookie); auth sends no token', () => {
    const { feed, sockets, events } = setup();
    feed.start();
    feed.want(['ticker'], 'AAPL');
    (sockets[0] as FakeSocket).open();
    feed.setPrivate(true);
    expect(sockets).toHaveLength(2);
    expect((sockets[0] as FakeSocket).readyState).toBe(3);
    const ws = sockets[1] as FakeSocket;
    ws.open();
    expect(ws.sent[0]).toEqual({ op: 'auth', id: 'auth' });
    expect(ws.sent[1]).toMatchObject({ op: 'subscribe', channels: ['ticker'], symbols: ['AAPL'] });
    ws.receive({ type: 'auth_ended', code: 'SESSION_EXPIRED', message: 'expired' });
    expect(events.log).toContain('authFailed:SESSION_EXPIRED');
    expect(feed.authenticated).toBe(false);
  });

  it('restarts a connection that has gone silent while following symbols', () => {
    const { feed, sockets } = setup();
    feed.start();
    (sockets[0] as FakeSocket).open();
    feed.want(['book'], 'AAPL');
    vi.advanceTimersByTime(16_000);
    expect(feed.state).toBe('reconnecting');
  });

  it('resubscribe asks for a fresh snapshot by unsubscribing and subscribing', () => {
    const { feed, sockets } = setup();
    feed.start();
    const ws = sockets[0] as FakeSocket;
    ws.open();
    feed.want(['book'], 'AAPL');
    feed.resubscribe('book', 'AAPL');
    expect(ws.sent.slice(-2).map((m) => m.op)).toEqual(['unsubscribe', 'subscribe']);
    feed.resubscribe('book', 'MSFT');
    expect(ws.sent).toHaveLength(3);
  });
});
