/**
 * The page's one WebSocket (`/v1/ws`, same origin): reference-counted market-data
 * subscriptions that follow the user around the page, cookie authentication for the private
 * channels, and reconnection with exponential backoff (subscriptions are sent again).
 */

export type ConnState = 'connecting' | 'live' | 'reconnecting';

export type Message = { type: string; [k: string]: unknown };

export interface FeedEvents {
  /** Every message from the server. */
  message(m: Message): void;
  /** The socket opened (a reconnect too): market data must resync from snapshots. */
  open(): void;
  /** The socket closed: everything shown is stale until resynced. */
  close(): void;
  /** Private channels are (re)subscribed after `authenticated`. */
  authenticated(accountId: string): void;
  /** The session ended (`auth_ended`) or the cookie was refused. */
  authFailed(code: string, message: string): void;
  state(s: ConnState): void;
}

export const PRIVATE_CHANNELS = ['orders', 'account', 'alerts'] as const;

/** Delay before reconnect attempt `n` (0-based): 0.5 s doubling to 30 s, with ±20 % jitter. */
export function backoff(n: number, random: () => number = Math.random): number {
  const base = Math.min(30_000, 500 * 2 ** Math.min(n, 16));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** A connection that sends nothing for this long (no heartbeat while following symbols) is restarted. */
const SILENCE_MS = 15_000;

export type SocketFactory = (url: string) => WebSocket;

export class Feed {
  private ws: WebSocket | null = null;
  private readonly wanted = new Map<string, number>();
  private wantPrivate = false;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdog: ReturnType<typeof setInterval> | null = null;
  private lastMessageAt = 0;
  private nextId = 1;
  state: ConnState = 'connecting';
  authenticated = false;

  constructor(
    private readonly events: FeedEvents,
    private readonly url: string = Feed.defaultUrl(),
    private readonly makeSocket: SocketFactory = (u) => new WebSocket(u),
  ) {}

  static defaultUrl(): string {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${location.host}/v1/ws`;
  }

  start(): void {
    if (this.ws) return;
    this.connect();
    this.watchdog ??= setInterval(() => {
      if (this.state === 'live' && this.wanted.size > 0 && Date.now() - this.lastMessageAt > SILENCE_MS) {
        this.ws?.close(4000, 'silent');
      }
    }, 2_000);
  }

  private setState(s: ConnState): void {
    if (this.state === s) return;
    this.state = s;
    this.events.state(s);
  }

  private connect(): void {
    this.retryTimer = null;
    let ws: WebSocket;
    try {
      ws = this.makeSocket(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.lastMessageAt = Date.now();
      this.setState('live');
      this.events.open();
      if (this.wantPrivate) this.sendAuth();
      this.subscribeAll();
    };
    ws.onmessage = (ev: MessageEvent) => {
      this.lastMessageAt = Date.now();
      this.attempt = 0;
      if (typeof ev.data !== 'string') return;
      let m: Message;
      try {
        m = JSON.parse(ev.data) as Message;
      } catch {
        return;
      }
      this.handle(m);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.authenticated = false;
      this.events.close();
      this.scheduleReconnect();
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  private scheduleReconnect(): void {
    this.setState('reconnecting');
    const delay = backoff(this.attempt++);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Reconnect now (e.g. the user pressed "Reconnect" or the page came back online). */
  reconnectNow(): void {
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.attempt = 0;
      this.connect();
    }
  }

  private handle(m: Message): void {
    switch (m.type) {
      case 'authenticated':
        this.authenticated = true;
        this.send({ op: 'subscribe', id: 'private', channels: [...PRIVATE_CHANNELS] });
        this.events.authenticated(String(m.account_id));
        break;
      case 'auth_ended':
        this.authenticated = false;
        this.events.authFailed(String(m.code), String(m.message));
        break;
      case 'error':
        if (m.request_id === 'auth' || m.request_id === 'private') {
          this.authenticated = false;
          this.events.authFailed(String(m.code), String(m.message));
        }
        break;
      default:
        break;
    }
    this.events.message(m);
  }

  send(m: Record<string, unknown>): boolean {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(m));
    return true;
  }

  private sendAuth(): void {
    this.send({ op: 'auth', id: 'auth' });
  }

  /**
   * Follow the account's private channels (after log-in) or stop (log-out). The cookie is
   * read when the socket opens, so a socket opened before the log-in (or still carrying a
   * logged-out session) is replaced by a fresh one at once; it authenticates on open.
   */
  setPrivate(on: boolean): void {
    if (on === this.wantPrivate) return;
    this.wantPrivate = on;
    if (!on && this.authenticated) this.send({ op: 'unsubscribe', channels: [...PRIVATE_CHANNELS] });
    this.authenticated = false;
    this.restart();
  }

  /** Closes the current socket (if any) and connects again now, without backoff. */
  restart(): void {
    const old = this.ws;
    if (!old) {
      if (this.retryTimer) this.reconnectNow();
      return;
    }
    this.ws = null;
    old.onclose = null;
    old.onmessage = null;
    old.close(1000, 'restart');
    this.events.close();
    this.attempt = 0;
    this.connect();
  }

  private subscribeAll(): void {
    const byChannel = new Map<string, string[]>();
    for (const key of this.wanted.keys()) {
      const [ch = '', sym = ''] = key.split(':');
      byChannel.set(ch, [...(byChannel.get(ch) ?? []), sym]);
    }
    for (const [ch, symbols] of byChannel) {
      this.send({ op: 'subscribe', id: this.nextId++, channels: [ch], symbols });
    }
  }

  /** Follows `channels` of `symbol` until the returned function is called. */
  want(channels: readonly string[], symbol: string): () => void {
    const fresh: string[] = [];
    for (const ch of channels) {
      const key = `${ch}:${symbol}`;
      const n = this.wanted.get(key) ?? 0;
      this.wanted.set(key, n + 1);
      if (n === 0) fresh.push(ch);
    }
    if (fresh.length) this.send({ op: 'subscribe', id: this.nextId++, channels: fresh, symbols: [symbol] });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const gone: string[] = [];
      for (const ch of channels) {
        const key = `${ch}:${symbol}`;
        const n = (this.wanted.get(key) ?? 1) - 1;
        if (n <= 0) {
          this.wanted.delete(key);
          gone.push(ch);
        } else this.wanted.set(key, n);
      }
      if (gone.length) this.send({ op: 'unsubscribe', id: this.nextId++, channels: gone, symbols: [symbol] });
    };
  }

  /** Is anything following `channel` of `symbol`? */
  follows(channel: string, symbol: string): boolean {
    return this.wanted.has(`${channel}:${symbol}`);
  }

  /** Drops and re-requests one subscription (the feed answers a fresh subscribe with a snapshot). */
  resubscribe(channel: string, symbol: string): void {
    if (!this.follows(channel, symbol)) return;
    this.send({ op: 'unsubscribe', id: this.nextId++, channels: [channel], symbols: [symbol] });
    this.send({ op: 'subscribe', id: this.nextId++, channels: [channel], symbols: [symbol] });
  }
}
