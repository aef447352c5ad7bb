import { describe, expect, it, vi } from 'vitest';
import { SearchController, keyAction, type Timers } from '../src/lib/search';

describe('keyAction', () => {
  it('moves through the options with wrap-around', () => {
    expect(keyAction('ArrowDown', -1, 3, true)).toEqual({ kind: 'move', active: 0 });
    expect(keyAction('ArrowDown', 2, 3, true)).toEqual({ kind: 'move', active: 0 });
    expect(keyAction('ArrowUp', 0, 3, true)).toEqual({ kind: 'move', active: 2 });
    expect(keyAction('ArrowUp', -1, 3, true)).toEqual({ kind: 'move', active: 2 });
    expect(keyAction('End', 0, 3, true)).toEqual({ kind: 'move', active: 2 });
    expect(keyAction('ArrowDown', -1, 0, true)).toEqual({ kind: 'none' });
  });

  it('Enter picks the highlighted (or first) option; Escape closes', () => {
    expect(keyAction('Enter', 1, 3, true)).toEqual({ kind: 'choose', index: 1 });
    expect(keyAction('Enter', -1, 3, true)).toEqual({ kind: 'choose', index: 0 });
    expect(keyAction('Enter', 0, 3, false)).toEqual({ kind: 'none' });
    expect(keyAction('Escape', 0, 3, true)).toEqual({ kind: 'close' });
    expect(keyAction('Escape', 0, 3, false)).toEqual({ kind: 'none' });
    expect(keyAction('a', 0, 3, true)).toEqual({ kind: 'none' });
  });
});

describe('SearchController', () => {
  function setup() {
    vi.useFakeTimers();
    const timers: Timers = { set: (fn, ms) => setTimeout(fn, ms), clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>) };
    const pending: Array<{ q: string; resolve: (r: string[]) => void }> = [];
    const search = vi.fn((q: string) => new Promise<string[]>((resolve) => pending.push({ q, resolve })));
    const ctl = new SearchController<string>(search, () => undefined, 200, timers);
    return { ctl, search, pending };
  }

  it('debounces: one request 200 ms after the last keystroke', async () => {
    const { ctl, search, pending } = setup();
    ctl.input('a');
    vi.advanceTimersByTime(150);
    ctl.input('ap');
    vi.advanceTimersByTime(150);
    ctl.input('app');
    vi.advanceTimersByTime(199);
    expect(search).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(search).toHaveBeenCalledTimes(1);
    expect(search).toHaveBeenCalledWith('app');
    pending[0]?.resolve(['AAPL']);
    await vi.runAllTimersAsync();
    expect(ctl.state).toMatchObject({ open: true, results: ['AAPL'], loading: false });
    vi.useRealTimers();
  });

  it('drops the answer to an older query', async () => {
    const { ctl, pending } = setup();
    ctl.input('ms');
    vi.advanceTimersByTime(200);
    ctl.input('msf');
    vi.advanceTimersByTime(200);
    pending[1]?.resolve(['MSFT']);
    pending[0]?.resolve(['MS', 'MSFT']);
    await vi.runAllTimersAsync();
    expect(ctl.state.results).toEqual(['MSFT']);
    vi.useRealTimers();
  });

  it('keyboard: arrows highlight, Enter chooses and closes, Escape closes', async () => {
    const { ctl, pending } = setup();
    ctl.input('a');
    vi.advanceTimersByTime(200);
    pending[0]?.resolve(['AAPL', 'AMZN', 'AMD']);
    await vi.runAllTimersAsync();
    ctl.key('ArrowDown');
    ctl.key('ArrowDown');
    expect(ctl.state.active).toBe(1);
    expect(ctl.key('Enter')).toEqual({ handled: true, chosen: 'AMZN' });
    expect(ctl.state.open).toBe(false);
    ctl.key('ArrowDown');
    expect(ctl.state).toMatchObject({ open: true, active: 0 });
    expect(ctl.key('Escape')).toEqual({ handled: true });
    expect(ctl.state.open).toBe(false);
    expect(ctl.key('x')).toEqual({ handled: false });
    vi.useRealTimers();
  });

  it('an empty query clears without searching', () => {
    const { ctl, search } = setup();
    ctl.input('  ');
    vi.advanceTimersByTime(500);
    expect(search).not.toHaveBeenCalled();
    expect(ctl.state.open).toBe(false);
    vi.useRealTimers();
  });
});
