import { describe, expect, it } from 'vitest';
import { Book, BookSync } from '../src/lib/book';
import { toText } from '../src/lib/decimal';
import type { BookSnapshot, Level } from '../src/lib/types';

const snap = (seq: number, bids: Level[], asks: Level[]): BookSnapshot => ({ symbol: 'AAPL', seq, status: 'trading', bids, asks });
const prices = (rows: { price: string }[]) => rows.map((r) => r.price);

describe('Book', () => {
  it('keeps levels best first, with cumulative sizes and the spread', () => {
    const b = new Book();
    b.replace(
      snap(
        1,
        [
          ['190.00', '100', '1'],
          ['190.10', '300', '2'],
          ['189.95', '50', '1'],
        ],
        [
          ['190.30', '10', '1'],
          ['190.20', '100', '1'],
        ],
      ),
    );
    const l = b.ladder(20);
    expect(prices(l.bids)).toEqual(['190.10', '190.00', '189.95']);
    expect(l.bids.map((r) => toText(r.cum))).toEqual(['300', '400', '450']);
    expect(prices(l.asks)).toEqual(['190.20', '190.30']);
    expect(l.asks.map((r) => toText(r.cum))).toEqual(['100', '110']);
    expect(toText(b.spread() ?? { units: -1n, scale: 0 })).toBe('0.10');
  });

  it('applies updates as new totals: insert, change, delete a level', () => {
    const b = new Book();
    b.replace(snap(1, [['10.00', '5', '1']], [['10.50', '5', '1']]));
    b.apply({ bids: [['10.20', '7', '1'], ['10.00', '0', '0']], asks: [['10.50', '9', '3'], ['10.40', '1', '1']] });
    const l = b.ladder(5);
    expect(l.bids.map((r) => [r.price, r.qty])).toEqual([['10.20', '7']]);
    expect(l.asks.map((r) => [r.price, r.qty, r.orders])).toEqual([
      ['10.40', '1', '1'],
      ['10.50', '9', '3'],
    ]);
    expect(toText(b.spread() ?? { units: -1n, scale: 0 })).toBe('0.20');
    b.apply({ bids: [['10.20', '0', '0']], asks: [] });
    expect(b.spread()).toBeNull();
    // Deleting a level that is not there changes nothing.
    b.apply({ bids: [['9.00', '0', '0']], asks: [] });
    expect(b.ladder(5).bids).toEqual([]);
  });

  it('keeps fractional sizes exact, cumulative sizes too', () => {
    const b = new Book();
    b.replace(
      snap(
        1,
        [
          ['190.00', '0.5', '1'],
          ['189.99', '1.234567', '2'],
          ['189.98', '100', '1'],
        ],
        [['190.01', '0.1', '1']],
      ),
    );
    b.apply({ bids: [], asks: [['190.02', '0.2', '1']] });
    const l = b.ladder(5);
    expect(l.bids.map((r) => [r.qty, toText(r.cum)])).toEqual([
      ['0.5', '0.5'],
      ['1.234567', '1.734567'],
      ['100', '101.734567'],
    ]);
    // 0.1 + 0.2 is 0.30000000000000004 in floats.
    expect(l.asks.map((r) => toText(r.cum))).toEqual(['0.1', '0.3']);
    // A fractional level removed by a zero with decimals.
    b.apply({ bids: [['190.00', '0.000000', '0']], asks: [] });
    expect(b.ladder(5).bids.map((r) => r.price)).toEqual(['189.99', '189.98']);
  });

  it('orders prices numerically, not as text', () => {
    const b = new Book();
    b.replace(snap(1, [['9.99', '1', '1'], ['10.01', '1', '1'], ['100.00', '1', '1']], []));
    expect(prices(b.ladder(5).bids)).toEqual(['100.00', '10.01', '9.99']);
  });

  it('limits the ladder depth', () => {
    const b = new Book();
    const asks: Level[] = Array.from({ length: 30 }, (_, i) => [`${100 + i}.00`, '1', '1']);
    b.replace(snap(1, [], asks));
    const l = b.ladder(20);
    expect(l.asks).toHaveLength(20);
    expect(toText(l.asks[19]?.cum ?? { units: -1n, scale: 0 })).toBe('20');
  });
});

describe('BookSync', () => {
  it('applies only seq S+1 after a snapshot at S', () => {
    const s = new BookSync();
    expect(s.stale).toBe(true);
    s.onSnapshot(snap(41, [['190.10', '300', '2']], [['190.20', '100', '1']]));
    expect(s.stale).toBe(false);
    expect(s.onUpdate({ seq: 41, bids: [['190.10', '0', '0']], asks: [] })).toBe('ignored');
    expect(s.onUpdate({ seq: 42, bids: [['190.10', '0', '0']], asks: [] })).toBe('applied');
    expect(s.seq).toBe(42);
    expect(s.book.bestBid()).toBeUndefined();
  });

  it('detects a gap, goes stale and buffers until the REST book resyncs it', () => {
    const s = new BookSync();
    s.onSnapshot(snap(10, [['5.00', '10', '1']], []));
    expect(s.onUpdate({ seq: 12, bids: [['5.00', '12', '1']], asks: [] })).toBe('gap');
    expect(s.status).toBe('resyncing');
    expect(s.stale).toBe(true);
    expect(s.onUpdate({ seq: 13, bids: [['5.10', '1', '1']], asks: [] })).toBe('buffered');
    expect(s.onUpdate({ seq: 14, bids: [['5.20', '2', '1']], asks: [] })).toBe('buffered');
    // The REST book is at seq 12: 12 is dropped (already in it), 13 and 14 applied.
    expect(s.onRestSnapshot(snap(12, [['5.00', '12', '1']], []))).toBe('live');
    expect(s.stale).toBe(false);
    expect(s.seq).toBe(14);
    expect(s.book.ladder(5).bids.map((r) => [r.price, r.qty])).toEqual([
      ['5.20', '2'],
      ['5.10', '1'],
      ['5.00', '12'],
    ]);
    expect(s.onUpdate({ seq: 15, bids: [], asks: [] })).toBe('applied');
  });

  it('stays resyncing when the buffer does not continue from the REST book', () => {
    const s = new BookSync();
    s.onSnapshot(snap(10, [], []));
    s.onUpdate({ seq: 12, bids: [], asks: [] });
    s.onUpdate({ seq: 20, bids: [], asks: [] });
    expect(s.onRestSnapshot(snap(15, [], []))).toBe('gap');
    expect(s.stale).toBe(true);
    expect(s.onRestSnapshot(snap(19, [], []))).toBe('live');
    expect(s.seq).toBe(20);
  });

  it('a REST book older than a fresh feed snapshot is ignored', () => {
    const s = new BookSync();
    s.onSnapshot(snap(10, [], []));
    s.onUpdate({ seq: 12, bids: [], asks: [] });
    s.onSnapshot(snap(30, [['1.00', '1', '1']], []));
    expect(s.onRestSnapshot(snap(11, [], []))).toBe('ignored');
    expect(s.seq).toBe(30);
    expect(s.book.bestBid()?.price).toBe('1.00');
  });

  it('a heartbeat ahead of the book is a gap; one in step is not', () => {
    const s = new BookSync();
    s.onSnapshot(snap(5, [], []));
    expect(s.onHeartbeat(5)).toBe('ignored');
    expect(s.onHeartbeat(7)).toBe('gap');
    expect(s.stale).toBe(true);
  });

  it('a disconnect makes it stale until the next snapshot', () => {
    const s = new BookSync();
    s.onSnapshot(snap(5, [['1.00', '1', '1']], []));
    s.onDisconnect();
    expect(s.stale).toBe(true);
    expect(s.onUpdate({ seq: 6, bids: [], asks: [] })).toBe('buffered');
    s.onSnapshot(snap(9, [], []));
    expect(s.stale).toBe(false);
    expect(s.seq).toBe(9);
  });
});
