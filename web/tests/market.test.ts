import { describe, expect, it, vi } from 'vitest';
import { FrameBatcher } from '../src/lib/frame';
import { Market } from '../src/lib/market';
import type { BookSnapshot } from '../src/lib/types';

function setup(book: () => Promise<BookSnapshot>) {
  const frames: Array<() => void> = [];
  const batcher = new FrameBatcher((fn) => frames.push(fn));
  const resub = vi.fn();
  const fetchBook = vi.fn(book);
  const m = new Market({
    fetchBook,
    fetchTrades: () => Promise.resolve({ trades: [] }),
    resubscribeBook: resub,
    follows: (ch) => ch === 'book' || ch === 'ticker',
    batcher,
    retryMs: 1,
  });
  m.onOpen();
  return { m, frames, resub, fetchBook, batcher };
}

const snapshot = (seq: number, bid = '10.00'): BookSnapshot => ({ symbol: 'AAPL', seq, status: 'trading', bids: [[bid, '1', '1']], asks: [] });

describe('Market', () => {
  it('a seq gap marks the book stale and resyncs it from REST', async () => {
    const { m, fetchBook } = setup(() => Promise.resolve(snapshot(12, '10.05')));
    m.onMessage({ type: 'book_snapshot', ...snapshot(10) });
    expect(m.isStale('AAPL', 'book')).toBe(false);
    m.onMessage({ type: 'book', symbol: 'AAPL', seq: 12, bids: [['10.05', '1', '1']], asks: [] });
    expect(m.isStale('AAPL', 'book')).toBe(true);
    m.onMessage({ type: 'book', symbol: 'AAPL', seq: 13, bids: [['10.06', '2', '1']], asks: [] });
    await vi.waitFor(() => expect(m.isStale('AAPL', 'book')).toBe(false));
    expect(fetchBook).toHaveBeenCalledTimes(1);
    expect(m.get('AAPL').sync.seq).toBe(13);
    expect(m.get('AAPL').sync.book.bestBid()?.price).toBe('10.06');
  });

  it('falls back to a fresh subscription when REST cannot close the gap', async () => {
    const { m, resub, fetchBook } = setup(() => Promise.resolve(snapshot(3)));
    m.onMessage({ type: 'book_snapshot', ...snapshot(10) });
    m.onMessage({ type: 'heartbeat', seqs: { AAPL: 50 } });
    m.onMessage({ type: 'book', symbol: 'AAPL', seq: 51, bids: [], asks: [] });
    await vi.waitFor(() => expect(resub).toHaveBeenCalledWith('AAPL'));
    expect(fetchBook).toHaveBeenCalledTimes(4);
    expect(m.isStale('AAPL', 'book')).toBe(true);
    m.onMessage({ type: 'book_snapshot', ...snapshot(60) });
    expect(m.isStale('AAPL', 'book')).toBe(false);
  });

  it('a disconnect makes everything stale until fresh snapshots and tickers', () => {
    const { m } = setup(() => Promise.reject(new Error('unused')));
    m.onMessage({ type: 'book_snapshot', ...snapshot(10) });
    m.onMessage({ type: 'ticker', symbol: 'AAPL', seq: 10, last: '10.00' });
    expect(m.anyStale()).toBe(false);
    m.onClose();
    expect(m.isStale('AAPL', 'book')).toBe(true);
    expect(m.isStale('AAPL', 'ticker')).toBe(true);
    m.onOpen();
    m.onMessage({ type: 'book_snapshot', ...snapshot(20) });
    expect(m.anyStale()).toBe(true);
    m.onMessage({ type: 'ticker', symbol: 'AAPL', seq: 20, last: '10.00' });
    expect(m.anyStale()).toBe(false);
  });

  it('renders once per frame however many messages arrive', () => {
    const { m, frames, batcher } = setup(() => Promise.reject(new Error('unused')));
    let renders = 0;
    m.subscribe(() => renders++);
    m.onMessage({ type: 'book_snapshot', ...snapshot(1) });
    for (let seq = 2; seq < 1002; seq++) m.onMessage({ type: 'book', symbol: 'AAPL', seq, bids: [[`10.${String(seq % 100).padStart(2, '0')}`, '1', '1']], asks: [] });
    expect(frames.length).toBe(1);
    frames.shift()?.();
    expect(renders).toBe(1);
    expect(batcher.frames).toBe(1);
    expect(m.get('AAPL').sync.seq).toBe(1001);
  });

  it('keeps the tape newest first without duplicates', () => {
    const { m } = setup(() => Promise.reject(new Error('unused')));
    const t = (id: string, seq: number) => ({ type: 'trade', symbol: 'AAPL', seq, trade_id: id, price: '1.00', qty: '1', side: 'buy', ts: 't' });
    m.onMessage(t('1', 1));
    m.onMessage(t('2', 2));
    m.onMessage(t('2', 2));
    expect(m.get('AAPL').trades.map((x) => x.trade_id)).toEqual(['2', '1']);
  });

  it('keeps the call auction’s latest state, and forgets it until resent after a reconnect', () => {
    const { m } = setup(() => Promise.reject(new Error('unused')));
    const a = { type: 'auction', symbol: 'AAPL', seq: 5, session: 'opening_call', state: 'indicative', price: null, matched_qty: '0', imbalance_qty: '0', imbalance_side: null, reference_price: '190.00' };
    m.onMessage(a);
    expect(m.get('AAPL').auction).toMatchObject({ session: 'opening_call', state: 'indicative', price: null });
    const v = m.get('AAPL').version;
    m.onMessage({ ...a, seq: 9, state: 'uncrossed', price: '190.02', matched_qty: '300' });
    expect(m.get('AAPL').auction).toMatchObject({ state: 'uncrossed', price: '190.02', matched_qty: '300' });
    expect(m.get('AAPL').version).toBeGreaterThan(v);
    // The subscription sends it again on a new socket (if there is one).
    m.onClose();
    m.onOpen();
    expect(m.get('AAPL').auction).toBeNull();
    // Before any call: a bare message with a null session.
    m.onMessage({ type: 'auction', symbol: 'AAPL', seq: 10, session: null });
    expect(m.get('AAPL').auction).toBeNull();
  });
});
