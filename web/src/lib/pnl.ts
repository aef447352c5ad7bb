/** Positions revalued at a live price, exactly (the server's formulas, in decimal strings). */
import { type Dec, add, dec, isZero, mul, percent, sub, toText, tryParse } from './decimal';
import type { Position } from './types';

export interface Valued {
  current_price: string | null;
  market_value: string;
  unrealized_pl: string;
  unrealized_pl_pct: string | null;
  day_change: string;
  day_change_pct: string | null;
}

/**
 * `market_value = qty × last`, `unrealized = market_value − cost_basis`,
 * `day_change = qty × (last − previous close)`; percentages with two decimals. Without a
 * live price, the server's values.
 */
export function revalue(p: Position, last: string | null | undefined): Valued {
  const price = tryParse(last);
  if (!price) return p;
  const qty = dec(p.qty);
  const mv = mul(qty, price);
  const cost = dec(p.cost_basis);
  const unrealized = sub(mv, cost);
  const prev = tryParse(p.lastday_price);
  const day = prev ? mul(qty, sub(price, prev)) : null;
  const dayBase = prev ? mul(qty, prev) : null;
  const pct = (part: Dec, whole: Dec | null) => {
    if (!whole || isZero(whole)) return null;
    const r = percent(part, whole);
    return r ? toText(r) : null;
  };
  return {
    current_price: last ?? null,
    market_value: toText(mv),
    unrealized_pl: toText(unrealized),
    unrealized_pl_pct: pct(unrealized, cost),
    day_change: day ? toText(day) : p.day_change,
    day_change_pct: day ? pct(day, dayBase) : p.day_change_pct,
  };
}

/** Sums a column of money strings exactly. */
export function total(values: string[]): string {
  let sum = dec('0');
  for (const v of values) {
    const d = tryParse(v);
    if (d) sum = add(sum, d);
  }
  return toText(sum);
}
