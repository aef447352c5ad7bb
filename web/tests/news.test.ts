import { describe, expect, it, vi } from 'vitest';
import { NewsList, asNewsItem, mergeNews, safeUrl } from '../src/lib/news';
import type { NewsItem, NewsPage } from '../src/lib/types';

const item = (id: number, symbols = ['AAPL'], extra: Partial<NewsItem> = {}): NewsItem => ({
  id,
  published_at: '2026-12-06T16:45:50.5Z',
  headline: `headline ${id}`,
  summary: '',
  source: 'Newswire',
  symbols,
  ...extra,
});

const ids = (l: NewsList) => l.state.items.map((i) => i.id);

/** A fetch answering from `pages` by `after` ('first' for none), counting calls. */
function pages(p: Record<string, NewsPage>) {
  return vi.fn((_symbol: string, after: number | undefined) => {
    const page = p[after === undefined ? 'first' : String(after)];
    return page ? Promise.resolve(page) : Promise.reject(new Error(`no page after ${String(after)}`));
  });
}

/** A promise the test settles. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('safeUrl', () => {
  it('keeps absolute http and https addresses', () => {
    expect(safeUrl('https://example.com/story?id=1#top')).toBe('https://example.com/story?id=1#top');
    expect(safeUrl('http://example.com')).toBe('http://example.com/');
    expect(safeUrl('HTTPS://Example.com/a')).toBe('https://example.com/a');
  });

  it('refuses javascript:, data: and every other scheme', () => {
    for (const u of [
      'javascript:alert(1)',
      'JavaScript:alert(1)',
      ' javascript:alert(1)',
      'java\tscript:alert(1)',
      'javascript://example.com/%0Aalert(1)',
      'data:text/html,<script>alert(1)</script>',
      'vbscript:msgbox(1)',
      'file:///etc/passwd',
      'ftp://example.com/',
      'mailto:a@example.com',
    ]) {
      expect(safeUrl(u), u).toBeNull();
    }
  });

  it('refuses relative, protocol-relative, malformed and odd addresses', () => {
    for (const u of ['/v1/news', '//evil.example', 'https:evil.example', 'https://', 'https:// example.com', 'https://exa mple.com', 'https://example.com/\n', 'https://user:pw@example.com/', '', 'x'.repeat(3000)]) {
      expect(safeUrl(u), u).toBeNull();
    }
  });

  it('refuses what is not a string', () => {
    expect(safeUrl(undefined)).toBeNull();
    expect(safeUrl(null)).toBeNull();
    expect(safeUrl(42)).toBeNull();
    expect(safeUrl({ href: 'https://example.com' })).toBeNull();
  });
});

describe('asNewsItem', () => {
  it('reads a WebSocket message as an item (without its type)', () => {
    const i = asNewsItem({ type: 'news', id: 7, published_at: 't', headline: 'h', summary: 's', source: 'src', url: 'https://x.example', symbols: ['AAPL', 'MSFT'] });
    expect(i).toEqual({ id: 7, published_at: 't', headline: 'h', summary: 's', source: 'src', url: 'https://x.example', symbols: ['AAPL', 'MSFT'] });
  });

  it('refuses what has no numeric id or no headline', () => {
    expect(asNewsItem({ id: '7', headline: 'h' })).toBeNull();
    expect(asNewsItem({ id: 7 })).toBeNull();
    expect(asNewsItem(null)).toBeNull();
    expect(asNewsItem('news')).toBeNull();
  });
});

describe('mergeNews', () => {
  it('is the union by id, newest (highest id) first', () => {
    const merged = mergeNews([item(5), item(3)], [item(4), item(5, ['AAPL'], { headline: 'again' }), item(1)]);
    expect(merged.map((i) => i.id)).toEqual([5, 4, 3, 1]);
    expect(merged[0]?.headline).toBe('again');
  });
});

describe('NewsList', () => {
  it('loads the first page newest first and pages older ones with next until there are none', async () => {
    const fetch = pages({
      first: { items: [item(9), item(8)], next: 8 },
      '8': { items: [item(6), item(4)], next: 4 },
      '4': { items: [item(2)] },
    });
    const l = new NewsList('AAPL', fetch);
    await l.load();
    expect(ids(l)).toEqual([9, 8]);
    expect(l.state.next).toBe(8);
    expect(l.state.loaded).toBe(true);
    await l.older();
    expect(fetch).toHaveBeenLastCalledWith('AAPL', 8);
    expect(ids(l)).toEqual([9, 8, 6, 4]);
    await l.older();
    expect(ids(l)).toEqual([9, 8, 6, 4, 2]);
    expect(l.state.next).toBeNull();
    await l.older();
    expect(fetch).toHaveBeenCalledTimes(3);
  });

  it('an empty first page is loaded with nothing older', async () => {
    const l = new NewsList('AAPL', pages({ first: { items: [] } }));
    await l.load();
    expect(l.state).toMatchObject({ items: [], next: null, loaded: true, loading: false, error: null });
  });

  it('asks one older page at a time', async () => {
    const older = deferred<NewsPage>();
    const fetch = vi.fn((_s: string, after: number | undefined) => (after === undefined ? Promise.resolve({ items: [item(3)], next: 3 }) : older.promise));
    const l = new NewsList('AAPL', fetch);
    await l.load();
    const a = l.older();
    const b = l.older();
    expect(l.state.loadingOlder).toBe(true);
    older.resolve({ items: [item(1)] });
    await Promise.all([a, b]);
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(ids(l)).toEqual([3, 1]);
  });

  it('puts a live item on top, once, and ignores other stocks and malformed messages', async () => {
    const onChange = vi.fn();
    const l = new NewsList('AAPL', pages({ first: { items: [item(2), item(1)] } }), onChange);
    await l.load();
    expect(l.receive({ type: 'news', ...item(3, ['MSFT', 'AAPL']) })).toBe(true);
    expect(ids(l)).toEqual([3, 2, 1]);
    expect(l.receive({ type: 'news', ...item(3, ['MSFT', 'AAPL']) })).toBe(false);
    expect(l.receive({ type: 'news', ...item(2) })).toBe(false);
    expect(l.receive({ type: 'news', ...item(4, ['MSFT']) })).toBe(false);
    expect(l.receive({ type: 'news', id: 'x', headline: 'h', symbols: ['AAPL'] })).toBe(false);
    expect(ids(l)).toEqual([3, 2, 1]);
    const changes = onChange.mock.calls.length;
    l.receive({ type: 'news', ...item(3) });
    expect(onChange.mock.calls.length).toBe(changes);
  });

  it('a live item that comes while the first page loads is neither lost nor doubled', async () => {
    const first = deferred<NewsPage>();
    const l = new NewsList('AAPL', () => first.promise);
    const loading = l.load();
    expect(l.state.loading).toBe(true);
    expect(l.receive(item(5))).toBe(true);
    expect(l.receive(item(6))).toBe(true);
    // The server answered after publishing 5 but before 6.
    first.resolve({ items: [item(5), item(4), item(3)], next: 3 });
    await loading;
    expect(ids(l)).toEqual([6, 5, 4, 3]);
    expect(l.state.next).toBe(3);
  });

  it('an older page that repeats shown items (published since) adds no duplicates', async () => {
    const l = new NewsList(
      'AAPL',
      pages({
        first: { items: [item(10), item(9)], next: 9 },
        '9': { items: [item(9), item(8)], next: 8 },
      }),
    );
    await l.load();
    await l.older();
    expect(ids(l)).toEqual([10, 9, 8]);
  });

  it('after a reconnect, merges the first page when it reaches what is shown', async () => {
    const p: Record<string, NewsPage> = {
      first: { items: [item(9), item(8)], next: 8 },
      '8': { items: [item(6), item(4)], next: 4 },
    };
    const l = new NewsList('AAPL', pages(p));
    await l.load();
    await l.older();
    // Two items were published while the socket was down.
    p.first = { items: [item(12), item(11), item(9)], next: 9 };
    await l.refresh();
    expect(ids(l)).toEqual([12, 11, 9, 8, 6, 4]);
    expect(l.state.next).toBe(4);
  });

  it('after a reconnect, starts over from the first page when more were published than it holds', async () => {
    const p: Record<string, NewsPage> = { first: { items: [item(3), item(2)], next: 2 } };
    const l = new NewsList('AAPL', pages(p));
    await l.load();
    p.first = { items: [item(30), item(29)], next: 29 };
    await l.refresh();
    expect(ids(l)).toEqual([30, 29]);
    expect(l.state.next).toBe(29);
  });

  it('drops an older page asked before the list started over', async () => {
    const older = deferred<NewsPage>();
    const p: Record<string, NewsPage> = { first: { items: [item(3), item(2)], next: 2 } };
    const l = new NewsList('AAPL', (_s, after) => (after === undefined ? Promise.resolve(p.first as NewsPage) : older.promise));
    await l.load();
    const asking = l.older();
    p.first = { items: [item(30), item(29)], next: 29 };
    await l.refresh();
    older.resolve({ items: [item(1)] });
    await asking;
    expect(ids(l)).toEqual([30, 29]);
    expect(l.state.next).toBe(29);
    expect(l.state.loadingOlder).toBe(false);
  });

  it('does not refresh before the first page is in', async () => {
    const fetch = pages({ first: { items: [] } });
    const l = new NewsList('AAPL', fetch);
    await l.refresh();
    expect(fetch).not.toHaveBeenCalled();
  });

  it('keeps failures apart: the first page, then an older page, each retried', async () => {
    let fail = true;
    const fetch = vi.fn((_s: string, after: number | undefined) => {
      if (fail) return Promise.reject(new Error('down'));
      return Promise.resolve(after === undefined ? { items: [item(5)], next: 5 } : { items: [item(4)] });
    });
    const l = new NewsList('AAPL', fetch);
    await l.load();
    expect(l.state).toMatchObject({ loaded: false, loading: false, items: [] });
    expect(l.state.error).toBeInstanceOf(Error);
    fail = false;
    await l.load();
    expect(l.state).toMatchObject({ loaded: true, error: null, next: 5 });
    fail = true;
    await l.older();
    expect(l.state.olderError).toBeInstanceOf(Error);
    expect(ids(l)).toEqual([5]);
    expect(l.state.next).toBe(5);
    fail = false;
    await l.older();
    expect(l.state.olderError).toBeNull();
    expect(ids(l)).toEqual([5, 4]);
  });

  it('a failed refresh keeps what is shown', async () => {
    let fail = false;
    const l = new NewsList('AAPL', () => (fail ? Promise.reject(new Error('down')) : Promise.resolve({ items: [item(2)] })));
    await l.load();
    fail = true;
    await l.refresh();
    expect(ids(l)).toEqual([2]);
    expect(l.state.error).toBeInstanceOf(Error);
    expect(l.state.loaded).toBe(true);
  });

  it('changes nothing once closed (the page left)', async () => {
    const first = deferred<NewsPage>();
    const onChange = vi.fn();
    const l = new NewsList('AAPL', () => first.promise, onChange);
    const loading = l.load();
    onChange.mockClear();
    l.close();
    first.resolve({ items: [item(1)] });
    await loading;
    expect(l.receive(item(2))).toBe(false);
    expect(onChange).not.toHaveBeenCalled();
  });
});
