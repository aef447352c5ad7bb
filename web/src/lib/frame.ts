/**
 * Batches rendering: state changes mark something dirty; listeners run at most once per
 * animation frame, however many messages arrived in between.
 */

type Listener = () => void;

const raf: (fn: () => void) => void =
  typeof requestAnimationFrame === 'function' ? (fn) => requestAnimationFrame(fn) : (fn) => setTimeout(fn, 16);

export class FrameBatcher {
  private readonly listeners = new Set<Listener>();
  private scheduled = false;
  /** Frames flushed so far (for tests and a debug read-out). */
  frames = 0;

  constructor(private readonly schedule: (fn: () => void) => void = raf) {}

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Something changed: run the listeners on the next frame (once). */
  dirty(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
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

/** The page's one batcher: every store renders on the same frame. */
export const frame = new FrameBatcher();

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
