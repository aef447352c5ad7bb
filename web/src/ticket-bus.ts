import { Store } from './lib/frame';

/** A price picked on the depth ladder, for the order ticket's limit price. */
export const pickedPrice = new Store<{ symbol: string; price: string; n: number } | null>(null);
let n = 0;

export function pickPrice(symbol: string, price: string): void {
  pickedPrice.set({ symbol, price, n: ++n });
}
