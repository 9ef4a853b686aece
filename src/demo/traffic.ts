/**
 * A minute of built-in traffic for `tollgate demo`, so that the dashboard, `tollgate insights`
 * and the digest show findings at once (docs/insights.md): a tool stuck in a loop, a tool that
 * sends long context, and tiny questions on a dear model while a cheap one is allowed. Bounded
 * (about 100 requests), sent to the gateway on 127.0.0.1 only.
 */

export interface DemoClient {
  key: string;
  /** The name in keys.yaml, for the summary. */
  name: string;
}

export interface DemoTrafficOptions {
  /** The gateway, http://127.0.0.1:PORT. */
  url: string;
  loop: DemoClient;
  reader: DemoClient;
  asker: DemoClient;
  durationMs?: number;
  /** Resolves after ms; injected so a test can run the minute in no time. */
  sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A file the long-context tool pastes whole into every request (~48,000 tokens). */
const LONG_FILE = 'export function handler(event) { return process(event.body); }\n'.repeat(3_000);
/** The loop's request: one build log, sent again and again (~8,000 tokens). */
const BUILD_LOG = 'step 14/20: waiting for the build to turn green\n'.repeat(650);

async function post(url: string, key: string, agent: string, body: unknown): Promise<number> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'user-agent': agent },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Sends the minute of traffic; resolves with the number of requests sent. */
export async function runDemoTraffic(o: DemoTrafficOptions): Promise<number> {
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(o.url)) throw new Error('demo traffic goes to 127.0.0.1 only');
  const sleep = o.sleep ?? realSleep;
  const ticks = Math.max(1, Math.round((o.durationMs ?? 60_000) / 1_000));
  let sent = 0;
  for (let t = 0; t < ticks; t++) {
    const calls: Promise<number>[] = [
      // A tiny question on the dear model, every second.
      post(o.url, o.asker.key, 'scripts/0.3', {
        model: 'demo-large',
        messages: [{ role: 'user', content: `Is ${t} even?` }],
      }),
    ];
    if (t % 2 === 0) {
      calls.push(
        post(o.url, o.loop.key, 'ci-bot/2.1', {
          model: 'demo-small',
          messages: [{ role: 'user', content: `Is the build green yet?\n${BUILD_LOG}` }],
        }),
      );
    }
    if (t % 4 === 0) {
      calls.push(
        post(o.url, o.reader.key, 'code-agent/1.4', {
          model: 'demo-small',
          messages: [{ role: 'user', content: `Review this file (turn ${t}):\n${LONG_FILE}` }],
        }),
      );
    }
    await Promise.all(calls);
    sent += calls.length;
    await sleep(1_000);
  }
  return sent;
}
