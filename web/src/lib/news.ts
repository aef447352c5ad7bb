/**
 * A stock's news: the REST pages (`GET /v1/news?symbol=`, newest first, `next` for older)
 * merged with the items the WebSocket's `news` channel pushes as they are published. One
 * list, newest first (by id, which rises with each item), each item once however it came.
 */
import type { NewsItem, NewsPage } from './types';

/** Items asked per page. */
export const NEWS_PAGE = 20;

/**
 * `url` if it is an absolute http(s) address a link may point at, else null: anything else
 * (`javascript:`, `data:`, relative, spaces or control characters, credentials) stays text.
 */
export function safeUrl(url: unknown): string | null {
  if (typeof url !== 'string' || url.length > 2000) return null;
  // eslint-disable-next-line no-control-regex
  if (!/^https?:\/\/[^\s\u0000-\u001f\u007f]+$/i.test(url)) return null;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
  if (!u.hostname || u.username || u.password) return null;
  return u.href;
}

/** A WebSocket `news` message (or a REST item) shaped as an item, else null. */
export function asNewsItem(m: unknown): NewsItem | null {
  if (!m || typeof m !== 'object') return null;
  const o = m as Record<string, unknown>;
  if (typeof o.id !== 'number' || !Number.isSafeInteger(o.id) || typeof o.headline !== 'string') return null;
  const symbols = Array.isArray(o.symbols) ? o.symbols.filter((s): s is string => typeof s === 'string') : [];
  const item: NewsItem = {
    id: o.id,
    published_at: typeof o.published_at === 'string' ? o.published_at : '',
    headline: o.headline,
    summary: typeof o.summary === 'string' ? o.summary : '',
    source: typeof o.source === 'string' ? o.source : '',
    symbols,
  };
  if (typeof o.url === 'string') item.url = o.url;
  return item;
}

/** The union of `a` and `b` by id (`b`'s copy wins), newest first. */
export function mergeNews(a: readonly NewsItem[], b: readonly NewsItem[]): NewsItem[] {
  const byId = new Map<number, NewsItem>();
  for (const i of a) byId.set(i.id, i);
  for (const i of b) byId.set(i.id, i);
  return [...byId.values()].sort((x, y) => y.id - x.id);
}

export interface NewsState {
  symbol: string;
  /** Newest first, no id twice. */
  items: NewsItem[];
  /** The `after` of the next older page; null when there is none (or before the first). */
  next: number | null;
  /** The first page has been answered. */
  loaded: boolean;
  /** The first page is being asked. */
  loading: boolean;
  /** An older page is being asked. */
  loadingOlder: boolean;
  /** Why the first page (or a refresh) failed; null when it did not. */
  error: unknown;
  /** Why the last older page failed. */
  olderError: unknown;
}

export type FetchNews = (symbol: string, after: number | undefined) => Promise<NewsPage>;

/**
 * One stock's news list. The list is always the newest items without a hole: the first page,
 * the older pages asked since, and live items on top. After the socket was down, `refresh`
 * asks the first page again and merges it, or starts over from it when it does not reach
 * what was shown (more items were published than a page holds).
 */
export class NewsList {
  state: NewsState;
  /** Bumped when the list starts over: an older page asked before it is dropped. */
  private generation = 0;
  private closed = false;

  constructor(
    readonly symbol: string,
    private readonly fetchPage: FetchNews,
    private readonly onChange: (s: NewsState) => void = () => undefined,
  ) {
    this.state = { symbol, items: [], next: null, loaded: false, loading: false, loadingOlder: false, error: null, olderError: null };
  }

  private set(patch: Partial<NewsState>): void {
    if (this.closed) return;
    this.state = { ...this.state, ...patch };
    this.onChange(this.state);
  }

  /** No more changes (the page left): late answers are dropped. */
  close(): void {
    this.closed = true;
  }

  /** Asks the first page (again: after a failure, or to catch up after a reconnect). */
  async load(): Promise<void> {
    if (this.closed || this.state.loading) return;
    this.set({ loading: true, error: null });
    let page: NewsPage;
    try {
      page = await this.fetchPage(this.symbol, undefined);
    } catch (e) {
      this.set({ loading: false, error: e });
      return;
    }
    const items = this.about(page.items);
    const next = page.next ?? null;
    const s = this.state;
    if (!s.loaded || next === null) {
      // The first answer (live items that came meanwhile are newer or among it), or the whole history.
      this.set({ items: mergeNews(s.items, items), next, loaded: true, loading: false });
      return;
    }
    // The page holds every item from the newest down to its oldest (`next`): it joins what
    // is shown if that reaches down to it, else what is shown has a hole and gives way.
    const newestShown = s.items[0]?.id ?? 0;
    if (newestShown >= next) {
      this.set({ items: mergeNews(s.items, items), loading: false });
    } else {
      this.generation++;
      this.set({ items: mergeNews([], items), next, loading: false, loadingOlder: false, olderError: null });
    }
  }

  /** Catches up after the socket was down (only once the first page is in). */
  refresh(): Promise<void> {
    return this.state.loaded ? this.load() : Promise.resolve();
  }

  /** Asks the next older page ("Show older"). */
  async older(): Promise<void> {
    const s = this.state;
    if (this.closed || !s.loaded || s.loadingOlder || s.next === null) return;
    const gen = this.generation;
    this.set({ loadingOlder: true, olderError: null });
    try {
      const page = await this.fetchPage(this.symbol, s.next);
      if (gen !== this.generation) return;
      this.set({ items: mergeNews(this.state.items, this.about(page.items)), next: page.next ?? null, loadingOlder: false });
    } catch (e) {
      if (gen !== this.generation) return;
      this.set({ loadingOlder: false, olderError: e });
    }
  }

  /**
   * A live `news` message: true when it is a new item about this stock (shown on top),
   * false when it is not one, is about another stock, or is already listed.
   */
  receive(m: unknown): boolean {
    const item = asNewsItem(m);
    if (!item || this.closed || !item.symbols.includes(this.symbol)) return false;
    if (this.state.items.some((i) => i.id === item.id)) return false;
    this.set({ items: mergeNews(this.state.items, [item]) });
    return true;
  }

  /** The well-formed items of a REST page (the server picked them by symbol). */
  private about(items: readonly unknown[]): NewsItem[] {
    return items.map(asNewsItem).filter((i): i is NewsItem => i !== null);
  }
}
