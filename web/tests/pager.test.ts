import { describe, expect, it, vi } from 'vitest';
import { Pager } from '../src/lib/pager';

const item = (id: string) => ({ id });

describe('Pager', () => {
  it('follows the next cursor until it is null, one request at a time', async () => {
    const pages: Record<string, { items: { id: string }[]; next: string | null }> = {
      first: { items: [item('9-0'), item('8-0')], next: '8-0' },
      '8-0': { items: [item('7-0'), item('8-0')], next: '7-0' },
      '7-0': { items: [item('6-0')], next: null },
    };
    const fetchPage = vi.fn((after: string | undefined) => Promise.resolve(pages[after ?? 'first'] ?? { items: [], next: null }));
    const p = new Pager(fetchPage);
    const a = p.more();
    const b = p.more();
    await Promise.all([a, b]);
    expect(fetchPage).toHaveBeenCalledTimes(1);
    await p.more();
    await p.more();
    expect(p.state.items.map((i) => i.id)).toEqual(['9-0', '8-0', '7-0', '6-0']);
    expect(p.state.done).toBe(true);
    await p.more();
    expect(fetchPage.mock.calls.map((c) => c[0])).toEqual([undefined, '8-0', '7-0']);
  });

  it('keeps what it has on an error and can try again', async () => {
    let fail = true;
    const p = new Pager((after) => (fail ? Promise.reject(new Error('down')) : Promise.resolve({ items: [item(after ?? 'a')], next: null })));
    await p.more();
    expect(p.state.error).toBeInstanceOf(Error);
    expect(p.state.done).toBe(false);
    fail = false;
    await p.more();
    expect(p.state.items).toEqual([item('a')]);
    expect(p.state.error).toBeNull();
  });
});
