import { describe, expect, it } from 'vitest';
import { FrameBatcher, Store } from '../src/lib/frame';

/** A batcher on a fake clock: frames and timers run only when the test says. */
function fake(minMs: number) {
  let t = 0;
  const frames: Array<() => void> = [];
  const timers: Array<{ at: number; fn: () => void }> = [];
  const b = new FrameBatcher(
    (fn) => frames.push(fn),
    minMs,
    () => t,
    (fn, ms) => timers.push({ at: t + ms, fn }),
  );
  const advance = (ms: number) => {
    t += ms;
    for (const x of timers.filter((x) => x.at <= t)) {
      timers.splice(timers.indexOf(x), 1);
      x.fn();
    }
  };
  const runFrames = () => frames.splice(0).forEach((f) => f());
  return { b, advance, runFrames, frames, timers };
}

describe('FrameBatcher', () => {
  it('runs listeners once per frame however many changes came in', () => {
    const { b, runFrames } = fake(0);
    let runs = 0;
    b.subscribe(() => runs++);
    const s = new Store(0, b);
    for (let i = 0; i < 100; i++) s.set(i);
    runFrames();
    expect(runs).toBe(1);
    expect(s.get()).toBe(99);
  });

  it('with a minimum interval, renders at once after a quiet spell and then at most once per interval', () => {
    const { b, advance, runFrames, frames, timers } = fake(100);
    let runs = 0;
    b.subscribe(() => runs++);
    b.dirty();
    expect(frames.length).toBe(1); // the first change waits for nothing but a frame
    runFrames();
    expect(runs).toBe(1);
    advance(30);
    b.dirty();
    b.dirty();
    expect(frames.length).toBe(0); // too soon: held for the rest of the interval
    expect(timers.length).toBe(1);
    advance(69);
    expect(frames.length).toBe(0);
    advance(1);
    expect(frames.length).toBe(1);
    runFrames();
    expect(runs).toBe(2);
    advance(500);
    b.dirty();
    expect(frames.length).toBe(1);
  });
});
