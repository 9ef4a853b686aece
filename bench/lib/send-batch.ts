import { Agent, request } from 'node:http';
import { BODIES, type Mode, PATH } from './configs.js';
import type { Target } from './targets.js';

/**
 * Sends `n` requests of `mode` to `t`, `connections` at a time on keep-alive sockets (50, like
 * the wrk of `npm run bench`); throws on a non-200. Pass the same `agent` to reuse its sockets.
 */
export async function sendBatch(
  t: Target,
  mode: Mode,
  n: number,
  o: { agent?: Agent; connections?: number } = {},
): Promise<void> {
  const connections = o.connections ?? 50;
  const agent = o.agent ?? new Agent({ keepAlive: true, maxSockets: connections });
  const body = BODIES[mode];
  const headers = {
    ...t.headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
  };
  let next = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: t.port, path: PATH, method: 'POST', agent, headers },
        (res) => {
          res.resume();
          res.once('end', () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`)),
          );
        },
      );
      req.once('error', reject);
      req.end(body);
    });
  const lane = async () => {
    while (next++ < n) await one();
  };
  try {
    await Promise.all(Array.from({ length: connections }, lane));
  } finally {
    if (!o.agent) agent.destroy();
  }
}
