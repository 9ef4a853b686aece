import { describe, expect, it } from 'vitest';
import {
  formatPercent,
  formatPercentChange,
  formatUsd,
  formatUsdChange,
} from '../../../src/slack/digest/money.js';

describe('digest money formatting', () => {
  it('shows amounts of a cent or more with 2 decimals and thousands separators', () => {
    expect(formatUsd(4.98)).toBe('$4.98');
    expect(formatUsd(0.01)).toBe('$0.01');
    expect(formatUsd(1234.5)).toBe('$1,234.50');
    expect(formatUsd(12.345678)).toBe('$12.35');
  });

  it('shows amounts under a cent with 4 decimals', () => {
    expect(formatUsd(0.0042)).toBe('$0.0042');
    expect(formatUsd(0.0001)).toBe('$0.0001');
    expect(formatUsd(0.00999)).toBe('$0.0100');
  });

  it('never shows a non-zero amount as $0.00', () => {
    expect(formatUsd(0.00001)).toBe('<$0.0001');
    expect(formatUsd(1e-12)).toBe('<$0.0001');
    for (const x of [1e-9, 0.00004, 0.00009, 0.0004, 0.004, 0.0099])
      expect(formatUsd(x)).not.toMatch(/^\$0\.00$/);
  });

  it('shows exactly zero as $0.00', () => {
    expect(formatUsd(0)).toBe('$0.00');
  });

  it('puts a sign on changes and on negative amounts', () => {
    expect(formatUsd(-2.5)).toBe('-$2.50');
    expect(formatUsdChange(1.2)).toBe('+$1.20');
    expect(formatUsdChange(-0.005)).toBe('-$0.0050');
    expect(formatUsdChange(0)).toBe('±$0.00');
    expect(formatPercentChange(0.19)).toBe('+19%');
    expect(formatPercentChange(-0.4)).toBe('-40%');
  });

  it('rounds shares of a limit down so 99.6% does not read as 100%', () => {
    expect(formatPercent(0.996)).toBe('99%');
    expect(formatPercent(1)).toBe('100%');
    expect(formatPercent(0.29)).toBe('29%');
    expect(formatPercent(0.004)).toBe('<1%');
    expect(formatPercent(0)).toBe('0%');
  });
});
