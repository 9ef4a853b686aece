/**
 * The CPU a request's two fingerprints add (src/insights/fingerprint.ts), per request, on bodies
 * as clients send them: a short chat question, a Claude Code turn (long system prompt and tools,
 * a few messages), and a 100 kB long-context request, from the bytes a client sends. The body is
 * parsed once beforehand, as the gateway does; only fingerprintRequest is timed, next to that
 * JSON.parse for scale.
 *
 *   npm run bench:fingerprint
 */
import { performance } from 'node:perf_hooks';
import { fingerprintRequest, newFingerprintSecret } from '../src/insights/fingerprint.js';

const secret = Buffer.from(newFingerprintSecret(), 'hex');
const tools = Array.from({ length: 12 }, (_, i) => ({
  name: `tool_${i}`,
  description: 'Reads or edits a file in the workspace. '.repeat(6),
  input_schema: { type: 'object', properties: { path: { type: 'string' }, text: { type: 'string' } } },
}));
const bodies: Record<string, Record<string, unknown>> = {
  'short chat (0.2 kB)': {
    model: 'gpt-4o-mini',
    stream: true,
    messages: [{ role: 'user', content: 'What is the capital of France?' }],
  },
  'agent turn (18 kB)': {
    model: 'claude-sonnet-4-5',
    max_tokens: 8192,
    stream: true,
    metadata: { user_id: 'session-1' },
    system: 'You are an agent working in a repository. Follow the rules. '.repeat(200),
    tools,
    messages: Array.from({ length: 6 }, (_, i) => ({
      role: i % 2 === 0 ? 'user' : 'assistant',
      content: `Step ${i}: ${'some code and prose '.repeat(40)}`,
    })),
  },
  'long context (100 kB)': {
    model: 'gpt-4o',
    messages: [
      { role: 'system', content: 'Answer from the document.' },
      { role: 'user', content: 'lorem ipsum dolor sit amet '.repeat(3_800) },
    ],
  },
};

/** Median µs per call of `run` over five rounds (after a warm-up), with the min and max. */
function time(runs: number, run: () => void): string {
  for (let i = 0; i < 500; i++) run();
  const samples: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) run();
    samples.push(((performance.now() - t0) * 1000) / runs);
  }
  samples.sort((a, b) => a - b);
  return `median ${samples[2]?.toFixed(1)} µs (min ${samples[0]?.toFixed(1)}, max ${samples[4]?.toFixed(1)})`;
}

const runsArg = Number(process.argv[2]);
for (const [name, body] of Object.entries(bodies)) {
  const raw = Buffer.from(JSON.stringify(body));
  const runs = Number.isFinite(runsArg) && runsArg > 0 ? runsArg : raw.length > 50_000 ? 2_000 : 20_000;
  const fingerprint = time(runs, () =>
    fingerprintRequest(secret, '/v1/chat/completions', String(body.model), raw, body),
  );
  const parse = time(runs, () => JSON.parse(raw.toString('utf8')));
  console.log(
    `${name.padEnd(24)} ${(raw.length / 1024).toFixed(1).padStart(6)} kB  fingerprints ${fingerprint}; JSON.parse ${parse}`,
  );
}
