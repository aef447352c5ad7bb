/** Display formatting of the wire's decimal strings (never through floats) and times. */
import { type Dec, group, isZero, rescale, sign, toText, trim, tryParse } from './decimal';

type Num = string | Dec | null | undefined;

function asDec(v: Num): Dec | null {
  if (v == null) return null;
  return typeof v === 'string' ? tryParse(v) : v;
}

/** At least `min` decimals, at most `max` (extra digits rounded half away from zero). */
function decimals(d: Dec, min: number, max: number): Dec {
  const t = trim(d, min);
  return t.scale > max ? rescale(t, max) : rescale(t, Math.max(t.scale, min));
}

export const DASH = '—';

/** `"99240.5"` → `"$99,240.50"`; negative `"-$12.00"`; up to 4 decimals when they matter. */
export function money(v: Num): string {
  const d = asDec(v);
  if (!d) return DASH;
  const text = group(toText(decimals(d, 2, 4)));
  return text.startsWith('-') ? `-$${text.slice(1)}` : `$${text}`;
}

/** A change in money with its sign: `"+$1.20"`, `"-$0.35"`, `"$0.00"`. */
export function signedMoney(v: Num): string {
  const d = asDec(v);
  if (!d) return DASH;
  const s = money(d);
  return sign(d) > 0 ? `+${s}` : s;
}

/** A price: grouped, 2–4 decimals. */
export function price(v: Num): string {
  const d = asDec(v);
  if (!d) return DASH;
  return group(toText(decimals(d, 2, 4)));
}

/** A signed price change: `"+0.15"`, `"-1.20"`. */
export function signedPrice(v: Num): string {
  const d = asDec(v);
  if (!d) return DASH;
  const s = price(d);
  return sign(d) > 0 ? `+${s}` : s;
}

/**
 * A share count, exactly as the wire has it (fractional shares keep every decimal, trailing
 * zeros dropped): `"12000"` → `"12,000"`, `"1.234567"` → `"1.234567"`, `"0.500000"` → `"0.5"`.
 */
export function qty(v: Num): string {
  const d = asDec(v);
  if (!d) return DASH;
  return group(toText(trim(d)));
}

/** `"1 share"`, `"0.5 shares"`, `"1,200 shares"`. */
export function shares(v: Num): string {
  const d = asDec(v);
  const one = d != null && toText(trim(d)) === '1';
  return `${qty(v)} ${one ? 'share' : 'shares'}`;
}

/** A notional order's amount: `"250"` → `"$250.00 notional"`. */
export function notional(v: Num): string {
  return `${money(v)} notional`;
}

/** Is a quantity above (or below) zero? `"0"`, `"0.000000"` and a missing value are not. */
export function nonZero(v: Num): boolean {
  const d = asDec(v);
  return d != null && !isZero(d);
}

/** A percentage (the wire's `"0.08"` means 0.08 %) with its sign: `"+0.08%"`. */
export function pct(v: Num): string {
  const d = asDec(v);
  if (!d) return DASH;
  const text = toText(rescale(d, 2));
  return `${sign(d) > 0 ? '+' : ''}${text}%`;
}

/** -1, 0 or 1 for a decimal text (0 when missing): picks the up/down colour. */
export function direction(v: Num): -1 | 0 | 1 {
  const d = asDec(v);
  return d ? sign(d) : 0;
}

/** Milliseconds since the epoch of an RFC 3339 time with up to nanosecond digits. */
export function parseTs(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(iso);
  if (!m) return null;
  const [, base = '', frac = '', zone = 'Z'] = m;
  const ms = Date.parse(`${base}.${frac.padEnd(3, '0').slice(0, 3)}${zone}`);
  return Number.isNaN(ms) ? null : ms;
}

/** `"14:31:05"` in the viewer's time zone. */
// One formatter each, made once: `toLocale…String` with options builds a new
// Intl.DateTimeFormat per call, which was a fifth of the stock page's time under a busy tape.
const CLOCK = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
const DATE_TIME = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  hour12: false,
});

export function clock(iso: string | null | undefined): string {
  const ms = parseTs(iso);
  if (ms == null) return DASH;
  return CLOCK.format(ms);
}

/** `"Nov 21, 14:31"` in the viewer's time zone. */
export function dateTime(iso: string | null | undefined): string {
  const ms = parseTs(iso);
  if (ms == null) return DASH;
  return DATE_TIME.format(ms);
}

/** Upper-case first letter, underscores as spaces: `partially_filled` → `Partially filled`. */
export function label(code: string): string {
  const s = code.replace(/_/g, ' ').toLowerCase();
  return s.charAt(0).toUpperCase() + s.slice(1);
}
