/**
 * The header search's logic, apart from the DOM: a debounced query that drops answers to
 * older queries, and the listbox's keyboard navigation.
 */

export interface SearchState<T> {
  query: string;
  results: T[];
  /** The highlighted option, −1 for none. */
  active: number;
  open: boolean;
  loading: boolean;
  error: string | null;
}

export type KeyAction = { kind: 'none' } | { kind: 'move'; active: number } | { kind: 'choose'; index: number } | { kind: 'close' };

/** What a key does in the combobox with `count` options, `active` highlighted. */
export function keyAction(key: string, active: number, count: number, open: boolean): KeyAction {
  switch (key) {
    case 'ArrowDown':
      if (count === 0) return { kind: 'none' };
      return { kind: 'move', active: !open || active < 0 ? 0 : (active + 1) % count };
    case 'ArrowUp':
      if (count === 0) return { kind: 'none' };
      return { kind: 'move', active: active <= 0 ? count - 1 : active - 1 };
    case 'Home':
      return open && count > 0 ? { kind: 'move', active: 0 } : { kind: 'none' };
    case 'End':
      return open && count > 0 ? { kind: 'move', active: count - 1 } : { kind: 'none' };
    case 'Enter':
      if (!open || count === 0) return { kind: 'none' };
      return { kind: 'choose', index: active < 0 ? 0 : active };
    case 'Escape':
      return open ? { kind: 'close' } : { kind: 'none' };
    default:
      return { kind: 'none' };
  }
}

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * Runs `search` `delay` ms after the last keystroke; an answer to a query that is no longer
 * the latest is dropped. `onChange` sees every state change.
 */
export class SearchController<T> {
  state: SearchState<T> = { query: '', results: [], active: -1, open: false, loading: false, error: null };
  private timer: unknown = null;
  private generation = 0;

  constructor(
    private readonly search: (q: string) => Promise<T[]>,
    private readonly onChange: (s: SearchState<T>) => void,
    private readonly delay = 200,
    private readonly timers: Timers = realTimers,
  ) {}

  private set(patch: Partial<SearchState<T>>): void {
    this.state = { ...this.state, ...patch };
    this.onChange(this.state);
  }

  input(query: string): void {
    if (this.timer !== null) this.timers.clear(this.timer);
    this.timer = null;
    const gen = ++this.generation;
    const q = query.trim();
    if (!q) {
      this.set({ query, results: [], active: -1, open: false, loading: false, error: null });
      return;
    }
    this.set({ query, loading: true });
    this.timer = this.timers.set(() => {
      this.timer = null;
      this.search(q).then(
        (results) => {
          if (gen !== this.generation) return;
          this.set({ results, active: -1, open: true, loading: false, error: null });
        },
        (e: unknown) => {
          if (gen !== this.generation) return;
          this.set({ results: [], active: -1, open: true, loading: false, error: e instanceof Error ? e.message : String(e) });
        },
      );
    }, this.delay);
  }

  /** Handles a key; returns the chosen result for Enter (the caller navigates). */
  key(key: string): { handled: boolean; chosen?: T } {
    const a = keyAction(key, this.state.active, this.state.results.length, this.state.open);
    switch (a.kind) {
      case 'move':
        this.set({ active: a.active, open: true });
        return { handled: true };
      case 'choose': {
        const chosen = this.state.results[a.index];
        this.close();
        return chosen === undefined ? { handled: true } : { handled: true, chosen };
      }
      case 'close':
        this.close();
        return { handled: true };
      default:
        return { handled: false };
    }
  }

  highlight(i: number): void {
    this.set({ active: i });
  }

  close(): void {
    this.generation++;
    if (this.timer !== null) this.timers.clear(this.timer);
    this.timer = null;
    this.set({ open: false, active: -1, loading: false });
  }

  reset(): void {
    this.close();
    this.set({ query: '', results: [], error: null });
  }
}
