/**
 * The order book of one symbol (price levels per side, best first) and its
 * synchronisation with the feed's `seq` (docs/PROTOCOL.md, "Applying the book" and
 * "Resync after a gap").
 */
import { type Dec, ZERO, add, dec, rescale, sub } from './decimal';
import type { BookSnapshot, Level } from './types';

export interface BookLevel {
  price: string;
  qty: string;
  orders: string;
  /** The price in 10^-8 units, for ordering. */
  key: bigint;
}

export interface LadderRow extends BookLevel {
  /** Shares at this level and every better one on its side (exact: sizes may be fractional). */
  cum: Dec;
}

const keyOf = (price: string): bigint => rescale(dec(price), 8).units;

/** One side's levels, kept sorted best first. */
class Side {
  readonly levels: BookLevel[] = [];
  constructor(private readonly descending: boolean) {}

  /** Index of the level at `key`, or where it would go (as `-(i + 1)`). */
  private find(key: bigint): number {
    let lo = 0;
    let hi = this.levels.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const k = (this.levels[mid] as BookLevel).key;
      if (k === key) return mid;
      const before = this.descending ? k > key : k < key;
      if (before) lo = mid + 1;
      else hi = mid - 1;
    }
    return -(lo + 1);
  }

  /** Sets a level's new total; `"0"` shares removes it. */
  set([price, qty, orders]: Level): void {
    const key = keyOf(price);
    const i = this.find(key);
    const gone = dec(qty).units === 0n;
    if (i >= 0) {
      if (gone) this.levels.splice(i, 1);
      else this.levels[i] = { price, qty, orders, key };
    } else if (!gone) {
      this.levels.splice(-i - 1, 0, { price, qty, orders, key });
    }
  }

  replace(levels: Level[]): void {
    this.levels.length = 0;
    for (const l of levels) this.set(l);
  }

  /** The best `n` levels with cumulative shares. */
  top(n: number): LadderRow[] {
    let cum = ZERO;
    return this.levels.slice(0, n).map((l) => {
      cum = add(cum, dec(l.qty));
      return { ...l, cum };
    });
  }
}

export class Book {
  readonly bids = new Side(true);
  readonly asks = new Side(false);
  status = 'trading';

  replace(s: { bids: Level[]; asks: Level[]; status?: string }): void {
    this.bids.replace(s.bids);
    this.asks.replace(s.asks);
    if (s.status) this.status = s.status;
  }

  apply(u: { bids: Level[]; asks: Level[]; status?: string }): void {
    for (const l of u.bids) this.bids.set(l);
    for (const l of u.asks) this.asks.set(l);
    if (u.status) this.status = u.status;
  }

  bestBid(): BookLevel | undefined {
    return this.bids.levels[0];
  }

  bestAsk(): BookLevel | undefined {
    return this.asks.levels[0];
  }

  /** Best ask minus best bid; null when a side is empty. */
  spread(): Dec | null {
    const b = this.bestBid();
    const a = this.bestAsk();
    return a && b ? sub(dec(a.price), dec(b.price)) : null;
  }

  ladder(depth: number): { bids: LadderRow[]; asks: LadderRow[] } {
    return { bids: this.bids.top(depth), asks: this.asks.top(depth) };
  }
}

export interface BookUpdate {
  seq: number;
  bids: Level[];
  asks: Level[];
  status?: string;
}

/**
 * `empty`: no book yet (subscribed, waiting for the snapshot); `live`: in step with the
 * feed; `resyncing`: a gap or a reconnect, updates buffered until a snapshot arrives.
 */
export type SyncStatus = 'empty' | 'live' | 'resyncing';

/** What the caller should do after a message. */
export type SyncResult = 'applied' | 'ignored' | 'buffered' | 'gap' | 'live';

/** Buffered updates past this many mean the resync should start over from a snapshot. */
const MAX_BUFFER = 20_000;

export class BookSync {
  readonly book = new Book();
  status: SyncStatus = 'empty';
  /** The seq the book is as of (−1 before the first snapshot). */
  seq = -1;
  private buffer: BookUpdate[] = [];

  get stale(): boolean {
    return this.status !== 'live';
  }

  /** A `book_snapshot` from the feed (at the start, or after conflation): replace. */
  onSnapshot(s: BookSnapshot): SyncResult {
    this.book.replace(s);
    this.seq = s.seq;
    this.status = 'live';
    this.buffer = [];
    return 'live';
  }

  /** A `book` update: apply only the next seq; a skipped seq is a gap. */
  onUpdate(u: BookUpdate): SyncResult {
    if (this.status !== 'live') {
      if (this.buffer.length >= MAX_BUFFER) this.buffer = [];
      this.buffer.push(u);
      return 'buffered';
    }
    if (u.seq <= this.seq) return 'ignored';
    if (u.seq === this.seq + 1) {
      this.book.apply(u);
      this.seq = u.seq;
      return 'applied';
    }
    this.status = 'resyncing';
    this.buffer = [u];
    return 'gap';
  }

  /** A heartbeat's seq for the symbol: ahead of the book means updates were missed. */
  onHeartbeat(seq: number): SyncResult {
    if (this.status === 'live' && seq > this.seq) {
      this.status = 'resyncing';
      this.buffer = [];
      return 'gap';
    }
    return 'ignored';
  }

  /** The connection dropped: the book is stale until a new snapshot. */
  onDisconnect(): void {
    if (this.status === 'live') this.status = 'resyncing';
    this.buffer = [];
  }

  /**
   * The REST book (`GET …/book?depth=1000`, stamped with seq S) fetched while resyncing:
   * take it, drop buffered updates with seq ≤ S and apply the rest in order. `gap` if the
   * buffer does not continue from S (fetch again); `ignored` if a feed snapshot already
   * resynced the book.
   */
  onRestSnapshot(s: BookSnapshot): SyncResult {
    if (this.status === 'live') return 'ignored';
    const pending = this.buffer.filter((u) => u.seq > s.seq).sort((a, b) => a.seq - b.seq);
    this.book.replace(s);
    this.seq = s.seq;
    for (let i = 0; i < pending.length; i++) {
      const u = pending[i] as BookUpdate;
      if (u.seq === this.seq) continue;
      if (u.seq !== this.seq + 1) {
        this.buffer = pending.slice(i);
        return 'gap';
      }
      this.book.apply(u);
      this.seq = u.seq;
    }
    this.buffer = [];
    this.status = 'live';
    return 'live';
  }
}
