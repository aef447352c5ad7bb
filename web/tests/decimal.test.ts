import { describe, expect, it } from 'vitest';
import { add, cmp, dec, decimalsOf, div, divDown, group, isMultiple, mul, percent, rescale, sub, toStep, toText, trim, tryParse } from '../src/lib/decimal';
import * as fmt from '../src/lib/format';

const t = (s: string) => dec(s);

describe('decimal', () => {
  it('parses only plain decimals', () => {
    expect(tryParse('190.25')).toEqual({ units: 19025n, scale: 2 });
    expect(tryParse('-0.5')).toEqual({ units: -5n, scale: 1 });
    expect(tryParse('10')).toEqual({ units: 10n, scale: 0 });
    for (const bad of ['', '1e3', '+1', 'NaN', '1.', '.5', '1,000', ' ', '0x10']) expect(tryParse(bad)).toBeNull();
  });

  it('adds and subtracts exactly where floats do not', () => {
    expect(toText(add(t('0.1'), t('0.2')))).toBe('0.3');
    expect(toText(sub(t('99240.00'), t('1140.0001')))).toBe('98099.9999');
    expect(toText(sub(t('1'), t('1.25')))).toBe('-0.25');
  });

  it('multiplies qty × price exactly (an estimated cost)', () => {
    // 0.07 * 3 is 0.21000000000000002 in floats.
    expect(toText(mul(t('3'), t('0.07')))).toBe('0.21');
    expect(toText(mul(t('1000000'), t('190.1234')))).toBe('190123400.0000');
    expect(toText(mul(t('123456789'), t('98765.4321')))).toBe('12193263111263.5269');
  });

  it('divides rounding toward zero (what a notional amount buys)', () => {
    // 250 / 190.06 = 1.31537409...: never more shares than the money pays for.
    expect(toText(divDown(t('250'), t('190.06'), 6) ?? t('0'))).toBe('1.315374');
    expect(toText(divDown(t('250.00'), t('200.00'), 6) ?? t('0'))).toBe('1.250000');
    expect(toText(divDown(t('2'), t('3'), 2) ?? t('0'))).toBe('0.66');
    expect(toText(divDown(t('-2'), t('3'), 2) ?? t('0'))).toBe('-0.66');
    expect(toText(divDown(t('2'), t('-3'), 2) ?? t('0'))).toBe('-0.66');
    expect(divDown(t('1'), t('0'), 6)).toBeNull();
    expect(decimalsOf('1.50')).toBe(2);
    expect(decimalsOf('100')).toBe(0);
    expect(decimalsOf('1e3')).toBeNull();
  });

  it('divides with half-away-from-zero rounding', () => {
    expect(toText(div(t('1'), t('3'), 4) ?? t('0'))).toBe('0.3333');
    expect(toText(div(t('2'), t('3'), 2) ?? t('0'))).toBe('0.67');
    expect(toText(div(t('-2'), t('3'), 2) ?? t('0'))).toBe('-0.67');
    expect(toText(div(t('0.125'), t('1'), 2) ?? t('0'))).toBe('0.13');
    expect(div(t('1'), t('0'), 2)).toBeNull();
  });

  it('computes percentages like the server (two decimals)', () => {
    expect(toText(percent(t('0.15'), t('190.00')) ?? t('0'))).toBe('0.08');
    expect(toText(percent(t('-25'), t('100')) ?? t('0'))).toBe('-25.00');
  });

  it('compares across scales', () => {
    expect(cmp(t('1.10'), t('1.1'))).toBe(0);
    expect(cmp(t('1.09'), t('1.1'))).toBe(-1);
    expect(cmp(t('-1'), t('-2'))).toBe(1);
  });

  it('rescales, trims and checks steps', () => {
    expect(toText(rescale(t('1.005'), 2))).toBe('1.01');
    expect(toText(rescale(t('-1.005'), 2))).toBe('-1.01');
    expect(toText(rescale(t('1.5'), 3))).toBe('1.500');
    expect(toText(trim(t('190.2500'), 2))).toBe('190.25');
    expect(toText(trim(t('5.000')))).toBe('5');
    expect(isMultiple(t('190.25'), t('0.05'))).toBe(true);
    expect(isMultiple(t('190.26'), t('0.05'))).toBe(false);
    expect(isMultiple(t('300'), t('100'))).toBe(true);
  });

  it('groups thousands', () => {
    expect(group('1234567.89')).toBe('1,234,567.89');
    expect(group('-1000')).toBe('-1,000');
    expect(group('999')).toBe('999');
  });
});

describe('format', () => {
  it('shows money with sign and grouping', () => {
    expect(fmt.money('99240.5')).toBe('$99,240.50');
    expect(fmt.money('-12')).toBe('-$12.00');
    expect(fmt.money('0.1234')).toBe('$0.1234');
    expect(fmt.money(null)).toBe(fmt.DASH);
    expect(fmt.signedMoney('1.2')).toBe('+$1.20');
    expect(fmt.signedMoney('-0.35')).toBe('-$0.35');
    expect(fmt.signedMoney('0')).toBe('$0.00');
  });

  it('shows prices, quantities and percentages', () => {
    expect(fmt.price('190.1')).toBe('190.10');
    expect(fmt.price('1234.5678')).toBe('1,234.5678');
    expect(fmt.signedPrice('0.15')).toBe('+0.15');
    expect(fmt.qty('12000')).toBe('12,000');
    expect(fmt.pct('0.08')).toBe('+0.08%');
    expect(fmt.pct('-1.5')).toBe('-1.50%');
    expect(fmt.pct('0')).toBe('0.00%');
    expect(fmt.direction('-0.01')).toBe(-1);
    expect(fmt.direction('0.00')).toBe(0);
  });

  it('reads nanosecond timestamps', () => {
    expect(fmt.parseTs('2026-11-22T14:31:00.123456789Z')).toBe(Date.UTC(2026, 10, 22, 14, 31, 0, 123));
    expect(fmt.parseTs('2026-11-22T14:31:00Z')).toBe(Date.UTC(2026, 10, 22, 14, 31, 0, 0));
    expect(fmt.parseTs('nonsense')).toBeNull();
  });

  it('shows fractional quantities exactly, without float rounding', () => {
    expect(fmt.qty('0.5')).toBe('0.5');
    expect(fmt.qty('1.234567')).toBe('1.234567');
    expect(fmt.qty('0.000001')).toBe('0.000001');
    expect(fmt.qty('1234.5')).toBe('1,234.5');
    expect(fmt.qty('0.500000')).toBe('0.5');
    expect(fmt.qty('100')).toBe('100');
    // 0.1 + 0.2 is 0.30000000000000004 in floats; 1.234567 × 3 is 3.7037009999999997.
    expect(fmt.qty(add(dec('0.1'), dec('0.2')))).toBe('0.3');
    expect(fmt.qty(mul(dec('1.234567'), dec('3')))).toBe('3.703701');
    expect(fmt.qty('9007199254740993.123456')).toBe('9,007,199,254,740,993.123456');
    expect(fmt.shares('1')).toBe('1 share');
    expect(fmt.shares('1.000000')).toBe('1 share');
    expect(fmt.shares('0.5')).toBe('0.5 shares');
    expect(fmt.shares('1200')).toBe('1,200 shares');
  });

  it('shows a notional amount, and tells a zero quantity in any form', () => {
    expect(fmt.notional('250.00')).toBe('$250.00 notional');
    expect(fmt.notional('250')).toBe('$250.00 notional');
    expect(fmt.notional('1000.1234')).toBe('$1,000.1234 notional');
    expect(fmt.nonZero('0')).toBe(false);
    expect(fmt.nonZero('0.000000')).toBe(false);
    expect(fmt.nonZero(null)).toBe(false);
    expect(fmt.nonZero('0.000001')).toBe(true);
    expect(fmt.nonZero('100')).toBe(true);
  });

  it('labels codes', () => {
    expect(fmt.label('partially_filled')).toBe('Partially filled');
    expect(fmt.label('IOC_REMAINDER')).toBe('Ioc remainder');
  });
});

describe('toStep', () => {
  const step = (a: string, s: string, way: 'down' | 'up') => toText(toStep(t(a), t(s), way));
  it('rounds onto a multiple of the step, down or up, with the step’s decimals', () => {
    expect(step('187.21895', '0.01', 'down')).toBe('187.21');
    expect(step('187.21895', '0.01', 'up')).toBe('187.22');
    expect(step('188.1', '0.05', 'down')).toBe('188.10');
    expect(step('188.12', '0.05', 'up')).toBe('188.15');
    expect(step('189.0000', '0.01', 'up')).toBe('189.00');
    expect(step('189', '0.01', 'down')).toBe('189.00');
    expect(step('-1.234', '0.01', 'down')).toBe('-1.24');
    expect(step('-1.234', '0.01', 'up')).toBe('-1.23');
    expect(step('1.234', '0', 'down')).toBe('1.234');
  });
});
