/**
 * Live market data per symbol, fed by the WebSocket: the book (seq-checked, resynced after
 * a gap or a reconnect), the ticker, the trade tape, the current 1-minute candle and the
 * call auction. The
 * latest state lives in plain objects; views render it on an animation frame, at most every
 * `MARKET_FRAME_MS`.
 */
import { BookSync, type BookUpdate } from './book';
import { marketFrame, type FrameBatcher } from './frame';
import type { Auction, BookSnapshot, Candle, Quote, Trade } from './types';

export interface Ticker extends Quote {
  symbol: string;
  ts?: string;
}

export interface SymbolData {
  symbol: string;
  sync: BookSync;
  ticker: Ticker | null;
  /** True until a ticker arrives after (re)subscribing. */
  tickerStale: boolean;
  /** Newest first. */
  trades: Trade[];
  tradesStale: boolean;
  /** The latest feed values of the most recent 1-minute bars (by start). */
  candles: Candle[];
  /** The running call's indicative figures, or the last uncross; null before any call. */
  auction: Auction | null;
  /** Bumped on any change (views compare it). */
  version: number;
}

export const TAPE_LENGTH = 60;

export interface MarketDeps {
  fetchBook(symbol: string): Promise<BookSnapshot>;
  fetchTrades(symbol: string): Promise<{ trades: Trade[] }>;
  resubscribeBook(symbol: string): void;
  follows(channel: string, symbol: string): boolean;
  batcher?: FrameBatcher;
  /** Delay between REST resync attempts. */
  retryMs?: number;
}

export class Market {
  private readonly symbols = new Map<string, SymbolData>();
  private readonly resyncing = new Set<string>();
  private readonly batcher: FrameBatcher;
  /** Bumped on every change; the connection indicator compares it. */
  version = 0;
  connected = false;

  constructor(private readonly deps: MarketDeps) {
    this.batcher = deps.batcher ?? marketFrame;
  }

  get(symbol: string): SymbolData {
    let d = this.symbols.get(symbol);
    if (!d) {
      d = {
        symbol,
        sync: new BookSync(),
        ticker: null,
        tickerStale: true,
        trades: [],
        tradesStale: true,
        candles: [],
        auction: null,
        version: 0,
      };
      this.symbols.set(symbol, d);
    }
    return d;
  }

  peek(symbol: string): SymbolData | undefined {
    return this.symbols.get(symbol);
  }

  subscribe(fn: () => void): () => void {
    return this.batcher.subscribe(fn);
  }

  private touch(d: SymbolData): void {
    d.version++;
    this.version++;
    this.batcher.dirty();
  }

  /** Anything followed that is not in step with the feed? */
  anyStale(): boolean {
    for (const d of this.symbols.values()) {
      if (this.deps.follows('book', d.symbol) && d.sync.stale) return true;
      if (this.deps.follows('ticker', d.symbol) && d.tickerStale) return true;
    }
    return false;
  }

  isStale(symbol: string, channel: 'book' | 'ticker' | 'trades'): boolean {
    const d = this.symbols.get(symbol);
    if (!d || !this.connected) return true;
    if (channel === 'book') return d.sync.stale;
    if (channel === 'ticker') return d.tickerStale;
    return d.tradesStale;
  }

  /** The socket (re)opened: subscriptions are resent, so everything awaits fresh snapshots. */
  onOpen(): void {
    this.connected = true;
    for (const d of this.symbols.values()) {
      d.sync.onDisconnect();
      d.tickerStale = true;
      // The fresh subscription sends the auction's state again, if there is any.
      d.auction = null;
      if (this.deps.follows('trades', d.symbol)) void this.loadTrades(d.symbol);
    }
    this.version++;
    this.batcher.dirty();
  }

  onClose(): void {
    this.connected = false;
    for (const d of this.symbols.values()) {
      d.sync.onDisconnect();
      d.tickerStale = true;
      d.tradesStale = true;
      this.touch(d);
    }
  }

  /** A `trades` subscription started: the tape comes from REST, then live trades on top. */
  async loadTrades(symbol: string): Promise<void> {
    const d = this.get(symbol);
    try {
      const r = await this.deps.fetchTrades(symbol);
      const seen = new Set(d.trades.map((t) => t.trade_id));
      const merged = [...d.trades, ...r.trades.filter((t) => !seen.has(t.trade_id))];
      merged.sort((a, b) => b.seq - a.seq || Number(BigInt(b.trade_id) - BigInt(a.trade_id)));
      d.trades = merged.slice(0, TAPE_LENGTH);
      d.tradesStale = !this.connected;
      this.touch(d);
    } catch {
      /* the live tape still fills in */
    }
  }

  onMessage(m: { type: string; [k: string]: unknown }): void {
    const symbol = typeof m.symbol === 'string' ? m.symbol : null;
    switch (m.type) {
      case 'book_snapshot': {
        if (!symbol) return;
        const d = this.get(symbol);
        d.sync.onSnapshot(m as unknown as BookSnapshot);
        this.resyncing.delete(symbol);
        this.touch(d);
        return;
      }
      case 'book': {
        if (!symbol) return;
        const d = this.get(symbol);
        const r = d.sync.onUpdate(m as unknown as BookUpdate);
        if (r === 'gap') void this.resync(symbol);
        if (r === 'applied' || r === 'gap') this.touch(d);
        return;
      }
      case 'ticker': {
        if (!symbol) return;
        const d = this.get(symbol);
        d.ticker = m as unknown as Ticker;
        d.tickerStale = false;
        this.touch(d);
        return;
      }
      case 'trade': {
        if (!symbol) return;
        const d = this.get(symbol);
        const t = m as unknown as Trade;
        if (!d.trades.some((x) => x.trade_id === t.trade_id)) {
          d.trades.unshift(t);
          if (d.trades.length > TAPE_LENGTH) d.trades.length = TAPE_LENGTH;
        }
        this.touch(d);
        return;
      }
      case 'candle': {
        if (!symbol || m.interval !== '1m') return;
        const d = this.get(symbol);
        const c = m as unknown as Candle;
        d.candles = [...d.candles.filter((x) => x.start !== c.start), c].slice(-5);
        this.touch(d);
        return;
      }
      case 'auction': {
        if (!symbol) return;
        const d = this.get(symbol);
        d.auction = m.session ? (m as unknown as Auction) : null;
        this.touch(d);
        return;
      }
      case 'heartbeat': {
        const seqs = (m.seqs ?? {}) as Record<string, number>;
        for (const [sym, seq] of Object.entries(seqs)) {
          const d = this.symbols.get(sym);
          if (!d || !this.deps.follows('book', sym)) continue;
          if (d.sync.onHeartbeat(seq) === 'gap') {
            this.touch(d);
            void this.resync(sym);
          }
        }
        return;
      }
      default:
        return;
    }
  }

  /**
   * The REST way of PROTOCOL's "Resync after a gap": keep buffering the feed's updates,
   * fetch the book at seq S, drop buffered updates ≤ S, apply the rest. A few tries, then
   * a fresh subscription (which starts with a snapshot).
   */
  async resync(symbol: string): Promise<void> {
    if (this.resyncing.has(symbol)) return;
    this.resyncing.add(symbol);
    const d = this.get(symbol);
    try {
      for (let attempt = 0; attempt < 4; attempt++) {
        if (!this.connected || !d.sync.stale) return;
        try {
          const snap = await this.deps.fetchBook(symbol);
          const r = d.sync.onRestSnapshot(snap);
          this.touch(d);
          if (r !== 'gap') return;
        } catch {
          /* try again */
        }
        await new Promise((res) => setTimeout(res, (this.deps.retryMs ?? 250) * (attempt + 1)));
      }
      if (this.connected && d.sync.stale) this.deps.resubscribeBook(symbol);
    } finally {
      this.resyncing.delete(symbol);
    }
  }
}
