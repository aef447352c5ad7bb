import { useEffect, useState } from 'preact/hooks';
import { feed, market } from '../state';
import type { SymbolData } from './market';

/**
 * Follows `channels` of `symbol` while the component is shown and re-renders it (at most
 * once per animation frame) when that symbol's data changes.
 */
export function useLive(symbol: string, channels: readonly string[]): SymbolData {
  const key = channels.join(',');
  const [, setV] = useState(0);
  useEffect(() => {
    const release = feed.want(channels, symbol);
    if (channels.includes('trades')) void market.loadTrades(symbol);
    const d = market.get(symbol);
    let seen = -1;
    let connected = market.connected;
    const off = market.subscribe(() => {
      if (d.version !== seen || market.connected !== connected) {
        seen = d.version;
        connected = market.connected;
        setV((v) => v + 1);
      }
    });
    return () => {
      off();
      release();
    };
    // `key` stands for `channels` (a new array each render).
  }, [symbol, key]);
  return market.get(symbol);
}
