/**
 * Batches rendering: state changes mark something dirty; listeners run at most once per
 * animation frame, however many messages arrived in between, and, for a batcher with a
 * minimum interval, at most once per that interval.
 */

type Listener = () => void;

const raf: (fn: () => void) => void =
  typeof requestAnimationFrame === 'function' ? (fn) => requestAnimationFrame(fn) : (fn) => setTimeout(fn, 16);

export class FrameBatcher {
  private readonly listeners = new Set<Listener>();
  private scheduled = false;
  /** Frames flushed so far (for tests and a debug read-out). */
  frames = 0;

  /** When the last flush ran (ms, `now()`'s clock). */
  private last = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly schedule: (fn: () => void) => void = raf,
    /** Least time between flushes (0: every frame). */
    private readonly minIntervalMs = 0,
    private readonly now: () => number = () => performance.now(),
    private readonly later: (fn: () => void, ms: number) => void = (fn, ms) => void setTimeout(fn, ms),
  ) {}

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Something changed: run the listeners on the next frame (once). */
  dirty(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = this.last + this.minIntervalMs - this.now();
    if (wait > 0) this.later(() => this.schedule(() => this.flush()), wait);
    else this.schedule(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
    this.last = this.now();
    this.frames++;
    for (const fn of [...this.listeners]) {
      try {
        fn();
      } catch (e) {
        console.error(e);
      }
    }
  }
}

/** What the user's own actions change renders on the next frame. */
export const frame = new FrameBatcher();

/**
 * Least time between renders of live market data. A busy book changes hundreds of times a
 * second; nobody reads a ladder faster than this, and rendering it every frame made one
 * frame in fifty miss its deadline on a 2-core machine under 1,000 orders/s (BENCHMARKS,
 * "The web page").
 */
export const MARKET_FRAME_MS = 100;

/** Live market data renders on an animation frame at most every {@link MARKET_FRAME_MS}. */
export const marketFrame = new FrameBatcher(raf, MARKET_FRAME_MS);

/** A value holder whose listeners are told of changes once per frame. */
export class Store<T> {
  private readonly batcher: FrameBatcher;
  version = 0;

  constructor(
    private value: T,
    batcher?: FrameBatcher,
  ) {
    this.batcher = batcher ?? frame;
  }

  get(): T {
    return this.value;
  }

  set(v: T): void {
    this.value = v;
    this.version++;
    this.batcher.dirty();
  }

  update(fn: (v: T) => T): void {
    this.set(fn(this.value));
  }

  subscribe(fn: () => void): () => void {
    return this.batcher.subscribe(fn);
  }
}
