/**
 * Exact decimal arithmetic on the wire's decimal strings: a value is an integer count of
 * 10^-scale units held in a BigInt, so money never passes through a binary float.
 */

export interface Dec {
  /** The value times 10^scale. */
  readonly units: bigint;
  /** Digits after the point. */
  readonly scale: number;
}

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

const pow10 = (n: number): bigint => 10n ** BigInt(n);

/** Parses `[-]digits[.digits]` exactly; `null` for anything else (no exponent, no `+`). */
export function tryParse(text: string | null | undefined): Dec | null {
  if (text == null) return null;
  const m = DECIMAL.exec(text.trim());
  if (!m) return null;
  const [, sign, int = '0', frac = ''] = m;
  const units = BigInt(int + frac);
  return { units: sign === '-' ? -units : units, scale: frac.length };
}

/** Like {@link tryParse}, but throws on malformed input (for server data that must parse). */
export function dec(text: string): Dec {
  const d = tryParse(text);
  if (!d) throw new Error(`not a decimal: ${JSON.stringify(text)}`);
  return d;
}

export const ZERO: Dec = { units: 0n, scale: 0 };

/** Rounds half away from zero: `n / d` for a positive `d`. */
function divRound(n: bigint, d: bigint): bigint {
  const q = n / d;
  const r = n % d;
  if (r === 0n) return q;
  const twice = (r < 0n ? -r : r) * 2n;
  if (twice >= d) return n < 0n ? q - 1n : q + 1n;
  return q;
}

/** The same value with `scale` decimals (rounded half away from zero when shortened). */
export function rescale(a: Dec, scale: number): Dec {
  if (scale === a.scale) return a;
  if (scale > a.scale) return { units: a.units * pow10(scale - a.scale), scale };
  return { units: divRound(a.units, pow10(a.scale - scale)), scale };
}

function align(a: Dec, b: Dec): [bigint, bigint, number] {
  const s = Math.max(a.scale, b.scale);
  return [rescale(a, s).units, rescale(b, s).units, s];
}

export function add(a: Dec, b: Dec): Dec {
  const [x, y, s] = align(a, b);
  return { units: x + y, scale: s };
}

export function sub(a: Dec, b: Dec): Dec {
  const [x, y, s] = align(a, b);
  return { units: x - y, scale: s };
}

export function mul(a: Dec, b: Dec): Dec {
  return { units: a.units * b.units, scale: a.scale + b.scale };
}

export function neg(a: Dec): Dec {
  return { units: -a.units, scale: a.scale };
}

export function abs(a: Dec): Dec {
  return a.units < 0n ? neg(a) : a;
}

/**
 * `a / b` scaled by 10^`scale` as an integer fraction `n / d` with `d > 0`:
 * a/b = (a.units / b.units) * 10^(b.scale - a.scale).
 */
function scaledRatio(a: Dec, b: Dec, scale: number): { n: bigint; d: bigint } {
  const n = a.units * pow10(scale + b.scale);
  const d = b.units * pow10(a.scale);
  return d < 0n ? { n: -n, d: -d } : { n, d };
}

/** `a / b` with `scale` decimals, rounded half away from zero; `null` when `b` is zero. */
export function div(a: Dec, b: Dec, scale: number): Dec | null {
  if (b.units === 0n) return null;
  const { n, d } = scaledRatio(a, b, scale);
  return { units: divRound(n, d), scale };
}

/**
 * `a / b` with `scale` decimals, the rest dropped (rounded toward zero); `null` when `b` is
 * zero. What a notional order buys: never more than the money pays for.
 */
export function divDown(a: Dec, b: Dec, scale: number): Dec | null {
  if (b.units === 0n) return null;
  const { n, d } = scaledRatio(a, b, scale);
  return { units: n / d, scale };
}

/** Digits after the point of a decimal text as written (`"1.50"` → 2); null if not a decimal. */
export function decimalsOf(text: string | null | undefined): number | null {
  const d = tryParse(text);
  return d ? d.scale : null;
}

export function cmp(a: Dec, b: Dec): -1 | 0 | 1 {
  const [x, y] = align(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export const sign = (a: Dec): -1 | 0 | 1 => (a.units < 0n ? -1 : a.units > 0n ? 1 : 0);
export const isZero = (a: Dec): boolean => a.units === 0n;

export function max(a: Dec, b: Dec): Dec {
  return cmp(a, b) >= 0 ? a : b;
}

export function min(a: Dec, b: Dec): Dec {
  return cmp(a, b) <= 0 ? a : b;
}

/** The canonical text with exactly its scale's decimals: `{1234, 2}` → `"12.34"`. */
export function toText(a: Dec): string {
  const negative = a.units < 0n;
  let digits = (negative ? -a.units : a.units).toString();
  if (a.scale > 0) {
    digits = digits.padStart(a.scale + 1, '0');
    digits = `${digits.slice(0, -a.scale)}.${digits.slice(-a.scale)}`;
  }
  return (negative ? '-' : '') + digits;
}

/** Drops trailing zero decimals beyond `keep`: `190.2500` → `190.25`, `5.000` (keep 0) → `5`. */
export function trim(a: Dec, keep = 0): Dec {
  let { units, scale } = a;
  while (scale > keep && units % 10n === 0n) {
    units /= 10n;
    scale -= 1;
  }
  return { units, scale };
}

/** `part / whole` as a percentage with two decimals (half away from zero); `null` if whole is 0. */
export function percent(part: Dec, whole: Dec): Dec | null {
  return div(mul(part, { units: 100n, scale: 0 }), whole, 2);
}

/** Is `a` a whole multiple of `step` (e.g. a price on the tick, a quantity in lots)? */
export function isMultiple(a: Dec, step: Dec): boolean {
  if (step.units === 0n) return true;
  const [x, y] = align(a, step);
  return x % y === 0n;
}

/**
 * `a` on a multiple of `step` (a price on the tick): rounded down (toward minus infinity) or
 * up (toward plus infinity), with the step's decimals (`187.21895` down to `0.01` →
 * `187.21`); `a` as it is when `step` is zero.
 */
export function toStep(a: Dec, step: Dec, way: 'down' | 'up'): Dec {
  if (step.units === 0n) return a;
  const [x, y, scale] = align(a, abs(step));
  let q = x / y;
  const r = x % y;
  if (r !== 0n && (way === 'down') === x < 0n) q += way === 'down' ? -1n : 1n;
  // With the step's decimals (a multiple of it has no more).
  return trim({ units: q * y, scale }, step.scale);
}

/** Adds thousands separators to the integer part of a canonical decimal text. */
export function group(text: string): string {
  const negative = text.startsWith('-');
  const body = negative ? text.slice(1) : text;
  const dot = body.indexOf('.');
  const int = dot < 0 ? body : body.slice(0, dot);
  const frac = dot < 0 ? '' : body.slice(dot);
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return (negative ? '-' : '') + grouped + frac;
}
