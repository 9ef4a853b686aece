import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel } from '../../../src/config/load/model-prices.js';
import { createJsonTap } from '../../../src/metering/json-tap.js';
import { meterExchange } from '../../../src/metering/meter.js';
import { MAX_PLAUSIBLE_TOKENS } from '../../../src/metering/plausible-usage.js';
import { createSseTap } from '../../../src/metering/sse-tap.js';
import type { ResponseTap } from '../../../src/metering/tap.js';
import { createUsageReader, type UsageKind } from '../../../src/metering/usage-reader.js';
import { createMetrics } from '../../../src/ops/metrics.js';
import { createSqliteStore } from '../../../src/store/sqlite.js';
import type { Store, UsageRecord } from '../../../src/store/types.js';

/*
 * The property that matters for money: whatever an upstream reports as usage (JSON or SSE,
 * OpenAI or Anthropic shapes, any value in any token field), the gateway's cost, the spend in the
 * store and the /metrics text stay finite and non-negative; a report that is not a plausible
 * count is replaced by the estimate and marked so.
 */

// The dearest output price in the catalog (o1-pro), so overflow would show if it could happen.
const model = buildModel(
  'm',
  {
    upstream: 'u',
    input_per_mtok: 150,
    output_per_mtok: 600,
    cached_input_per_mtok: 75,
    max_output_tokens: 100_000,
  },
  undefined,
  undefined,
  0,
);

/** A token field as a broken or hostile upstream might send it. */
const tokenValue = fc.oneof(
  fc.nat({ max: 5000 }),
  fc.constantFrom(0, 1e308, -1, -0, 1.5, 2 ** 53, MAX_PLAUSIBLE_TOKENS, MAX_PLAUSIBLE_TOKENS + 1, 1e21),
  fc.double(),
  fc.integer(),
  fc.constantFrom('1000', '1e308', '', 'NaN', null, true, [], {}),
  fc.constant(undefined),
);

// JSON has no Infinity or NaN: JSON.stringify sends them as null, which is an absent count.
const plausible = (v: unknown) =>
  v === undefined ||
  v === null ||
  (typeof v === 'number' && !Number.isFinite(v)) ||
  (Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= MAX_PLAUSIBLE_TOKENS);

interface Report {
  kind: UsageKind;
  stream: boolean;
  body: string;
  values: unknown[];
}

const field = (o: Record<string, unknown>, name: string, v: unknown) => {
  if (v !== undefined) o[name] = v;
  return o;
};

const openaiChat = fc
  .record({
    stream: fc.boolean(),
    input: tokenValue,
    output: tokenValue,
    cached: tokenValue,
    reasoning: tokenValue,
  })
  .map(({ stream, input, output, cached, reasoning }): Report => {
    const usage = field({}, 'prompt_tokens', input);
    field(usage, 'completion_tokens', output);
    usage.prompt_tokens_details = field({}, 'cached_tokens', cached);
    usage.completion_tokens_details = field({}, 'reasoning_tokens', reasoning);
    const text = { index: 0, delta: { content: 'Hello there' } };
    const body = stream
      ? `data: ${JSON.stringify({ choices: [text], usage: null })}\n\ndata: ${JSON.stringify({ choices: [], usage })}\n\ndata: [DONE]\n\n`
      : JSON.stringify({ choices: [{ index: 0, message: { content: 'Hello there' } }], usage });
    return { kind: 'openai-chat', stream, body, values: [input, output, cached, reasoning] };
  });

const responses = fc
  .record({
    stream: fc.boolean(),
    input: tokenValue,
    output: tokenValue,
    cached: tokenValue,
    reasoning: tokenValue,
  })
  .map(({ stream, input, output, cached, reasoning }): Report => {
    const usage = field({}, 'input_tokens', input);
    field(usage, 'output_tokens', output);
    usage.input_tokens_details = field({}, 'cached_tokens', cached);
    usage.output_tokens_details = field({}, 'reasoning_tokens', reasoning);
    const body = stream
      ? `event: response.output_text.delta\ndata: ${JSON.stringify({ type: 'response.output_text.delta', delta: 'Hi' })}\n\n` +
        `event: response.completed\ndata: ${JSON.stringify({ type: 'response.completed', response: { usage } })}\n\n`
      : JSON.stringify({ output: [{ content: [{ text: 'Hi' }] }], usage });
    return { kind: 'openai-responses', stream, body, values: [input, output, cached, reasoning] };
  });

const anthropic = fc
  .record({
    stream: fc.boolean(),
    input: tokenValue,
    cacheRead: tokenValue,
    cacheWrite: tokenValue,
    output: tokenValue,
    deltaInput: tokenValue,
  })
  .map(({ stream, input, cacheRead, cacheWrite, output, deltaInput }): Report => {
    const start = field({}, 'input_tokens', input);
    field(start, 'cache_read_input_tokens', cacheRead);
    field(start, 'cache_creation_input_tokens', cacheWrite);
    const ev = (type: string, data: Record<string, unknown>) =>
      `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    if (!stream) {
      const usage = field({ ...start }, 'output_tokens', output);
      const body = JSON.stringify({ content: [{ type: 'text', text: 'Hi' }], usage });
      return { kind: 'anthropic-messages', stream, body, values: [input, cacheRead, cacheWrite, output] };
    }
    const deltaUsage = field(field({}, 'output_tokens', output), 'input_tokens', deltaInput);
    const body =
      ev('message_start', { message: { usage: { ...start, output_tokens: 1 } } }) +
      ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hi' } }) +
      ev('message_delta', { delta: { stop_reason: 'end_turn' }, usage: deltaUsage }) +
      ev('message_stop', {});
    return {
      kind: 'anthropic-messages',
      stream,
      body,
      values: [deltaInput === undefined ? input : deltaInput, cacheRead, cacheWrite, output],
    };
  });

const embeddings = fc.record({ input: tokenValue }).map(
  ({ input }): Report => ({
    kind: 'openai-embeddings',
    stream: false,
    body: JSON.stringify({ data: [], usage: field({}, 'prompt_tokens', input) }),
    values: [input],
  }),
);

/** Feeds the body through the tap in the given cuts, as the socket would. */
function tapThrough(tap: ResponseTap, body: string, cuts: number[]): void {
  const bytes = Buffer.from(body, 'utf8');
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let at = 0;
  for (const p of [...points, bytes.length]) {
    tap.transform(bytes.subarray(at, p));
    at = p;
  }
  tap.flush();
}

let store: Store;
beforeAll(async () => {
  store = createSqliteStore(':memory:');
  await store.init();
});
afterAll(() => store.close());

describe('usage reports from an upstream', () => {
  it('never turn into a non-finite or negative cost, spend or metric, whatever they say', async () => {
    const metrics = createMetrics();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(openaiChat, responses, anthropic, embeddings),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (report, cuts) => {
          const reader = createUsageReader(report.kind);
          const tap = report.stream
            ? createSseTap(reader, { hideUsageChunk: report.kind === 'openai-chat' })
            : createJsonTap(reader);
          tapThrough(tap, report.body, cuts);
          const metered = meterExchange(
            { completed: true, upstreamStatus: 200, reachedUpstream: true },
            reader,
            model,
            1234,
            false,
            0,
          );
          expect(Number.isFinite(metered.costUsd) && metered.costUsd >= 0).toBe(true);
          for (const t of [metered.usage.inputTokens, metered.usage.outputTokens, metered.usage.cachedTokens])
            expect(Number.isSafeInteger(t) && t >= 0).toBe(true);
          if (!report.values.every(plausible)) {
            expect(metered.usageSource).toBe('estimated');
            expect(metered.distrusted).toBeDefined();
          }

          const record: UsageRecord = {
            requestId: `r${n++}`,
            ts: 1_000,
            day: '2026-12-01',
            key: 'k',
            model: 'm',
            upstream: 'u',
            route: '/v1/x',
            status: 200,
            errorCode: null,
            inputTokens: metered.usage.inputTokens,
            outputTokens: metered.usage.outputTokens,
            cachedTokens: metered.usage.cachedTokens,
            costUsd: metered.costUsd,
            latencyMs: 1,
            stream: report.stream,
            userAgent: null,
            ip: null,
            configRevision: 'r',
            usageSource: metered.usageSource,
          };
          await store.settle(record, ['d:2026-12-01', 'm:2026-12']);
          metrics.observeRequest(record);
        },
      ),
      { numRuns: 400 },
    );
    const spend = await store.getSpend('k', ['d:2026-12-01', 'm:2026-12']);
    for (const p of Object.values(spend)) expect(Number.isFinite(p.spentUsd) && p.spentUsd >= 0).toBe(true);
    const text = await metrics.registry.metrics();
    const samples = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(samples.some((l) => l.startsWith('tollgate_spend_usd_total'))).toBe(true);
    // Every sample's value (the last field; a histogram's `le="+Inf"` is a label) is finite.
    for (const line of samples)
      expect(Number.isFinite(Number(line.slice(line.lastIndexOf(' ') + 1))), line).toBe(true);
  });

  it('are refused at the store and in pricing when a bug hands them a non-finite amount', async () => {
    await expect(
      store.reserve({
        id: 'x',
        key: 'k',
        amountUsd: Number.POSITIVE_INFINITY,
        windows: [],
        periods: [],
        leaseUntil: 1,
      }),
    ).rejects.toThrow(/not a finite, non-negative amount/);
    await expect(
      store.reserve({ id: 'y', key: 'k', amountUsd: -1, windows: [], periods: [], leaseUntil: 1 }),
    ).rejects.toThrow(/not a finite, non-negative amount/);
    const record = {
      requestId: 'z',
      ts: 1,
      day: '2026-12-01',
      key: 'k',
      model: null,
      upstream: null,
      route: '/v1/x',
      status: 200,
      errorCode: null,
      inputTokens: 1,
      outputTokens: 1,
      cachedTokens: 0,
      costUsd: Number.NaN,
      latencyMs: 1,
      stream: false,
      userAgent: null,
      ip: null,
      configRevision: 'r',
      usageSource: 'provider' as const,
    };
    await expect(store.settle(record, ['d:2026-12-01'])).rejects.toThrow(/not a finite/);
    await expect(store.settle({ ...record, costUsd: 0, inputTokens: 1e308 }, [])).rejects.toThrow(
      /not a token count/,
    );
  });
});
