import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log.js';
import { createRequestGuard } from '../../../src/slack/request-guard.js';
import { createSqliteStore } from '../../../src/store/sqlite.js';
import { slackHeaders } from '../../helpers/slack-signer.js';

const SECRET = 'guard-secret';
let server: Server | undefined;

afterEach(() => {
  server?.close();
  server = undefined;
});

describe('the Slack request guard', () => {
  it('forgets signatures once they are too old to be replayed, so the replay table stays small', async () => {
    const store = createSqliteStore(':memory:');
    await store.init();
    let now = Date.parse('2026-11-26T09:00:00Z');
    const app = express();
    app.post(
      '/slack/events',
      createRequestGuard({ signingSecret: SECRET, store, clock: () => now, log: silentLogger() }),
      (_req, res) => {
        res.status(200).end('ok');
      },
    );
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server?.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
    const send = async (body: string) => {
      const headers = slackHeaders(SECRET, body, Math.floor(now / 1000));
      const res = await fetch(url, { method: 'POST', headers, body });
      return { status: res.status, signature: headers['x-slack-signature'] as string };
    };

    const first = await send('command=/spend&n=1');
    expect(first.status).toBe(200);
    now += 20 * 60_000; // past the replay window
    expect((await send('command=/spend&n=2')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 50)); // the prune runs in the background
    // The old signature's claim is gone: claiming it again succeeds.
    expect(await store.claimOnce('slack-signature', first.signature, now)).toBe(true);
    await store.close();
  });
});
