import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EMPTY, type ResponseTap } from '../../../src/metering/tap.js';
import { redactTap } from '../../../src/proxy/redact-tap.js';

const passThrough: ResponseTap = { transform: (c) => c, flush: () => EMPTY };
const SECRETS = ['sk-live-0123456789abcdef', 'tgk_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789wxyz'];

describe('the redacting tap', () => {
  it('never lets a secret through and keeps the length, however the body is cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom(...SECRETS, 'sk-live-', 'tgk_Ab', '\n', '}'), fc.string()), {
          maxLength: 12,
        }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (parts, cuts) => {
          const body = Buffer.from(parts.join(''), 'utf8');
          const tap = redactTap(passThrough, SECRETS);
          const points = [...new Set(cuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b);
          const out: Buffer[] = [];
          let at = 0;
          for (const p of [...points, body.length]) {
            out.push(tap.transform(body.subarray(at, p)));
            at = p;
          }
          out.push(tap.flush());
          const result = Buffer.concat(out);
          expect(result.length).toBe(body.length);
          for (const s of SECRETS) expect(result.toString('utf8')).not.toContain(s);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('holds nothing back when a chunk ends in a byte no secret contains', () => {
    const tap = redactTap(passThrough, SECRETS);
    const chunk = Buffer.from('data: {"x":"sk-live-0123456789abcdef"}\n\n');
    const out = tap.transform(chunk);
    expect(out.length).toBe(chunk.length);
    expect(out.toString()).toContain('[redacted]');
    expect(chunk.toString()).toContain('sk-live-0123456789abcdef');
  });
});
