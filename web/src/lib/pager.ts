/** Cursor paging (`after` = the previous page's `next`), one request at a time, no duplicates. */
import type { Page } from './types';

export interface PagerState<T> {
  items: T[];
  next: string | null;
  loading: boolean;
  done: boolean;
  error: unknown;
}

export class Pager<T extends { id: string }> {
  state: PagerState<T> = { items: [], next: null, loading: false, done: false, error: null };
  private started = false;

  constructor(
    private readonly fetchPage: (after: string | undefined) => Promise<Page<T>>,
    private readonly onChange: (s: PagerState<T>) => void = () => undefined,
  ) {}

  private set(patch: Partial<PagerState<T>>): void {
    this.state = { ...this.state, ...patch };
    this.onChange(this.state);
  }

  /** Loads the next page unless one is loading or there are no more. */
  async more(): Promise<void> {
    if (this.state.loading || this.state.done) return;
    if (this.started && this.state.next === null) return;
    this.set({ loading: true, error: null });
    try {
      const page = await this.fetchPage(this.started ? (this.state.next ?? undefined) : undefined);
      this.started = true;
      const seen = new Set(this.state.items.map((i) => i.id));
      this.set({
        items: [...this.state.items, ...page.items.filter((i) => !seen.has(i.id))],
        next: page.next,
        done: page.next === null,
        loading: false,
      });
    } catch (e) {
      this.set({ loading: false, error: e });
    }
  }

  /** Starts over from the newest (after a transfer or a fill). */
  async reset(): Promise<void> {
    this.started = false;
    this.state = { items: [], next: null, loading: false, done: false, error: null };
    await this.more();
  }
}
