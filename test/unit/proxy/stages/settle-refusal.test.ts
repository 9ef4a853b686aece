import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../../../../src/config/types.js';
import { silentLogger } from '../../../../src/log.js';
import { nullNotifier } from '../../../../src/notifier.js';
import { createContext, type Outcome } from '../../../../src/proxy/context.js';
import type { FinishRequest } from '../../../../src/proxy/finish.js';
import type { ProxyDeps } from '../../../../src/proxy/proxy-deps.js';
import { settleRefusal } from '../../../../src/proxy/stages/settle.js';
import type { LocalDay } from '../../../../src/windows/local-day.js';

/**
 * The pipeline's one catch settles whatever broke. A request that broke after the upstream
 * received it (its metering threw) may be billed by the provider: it is charged what was
 * reserved for it, never nothing (docs/operations.md#a-settle-after-the-sweep).
 */
const req = {
  url: '/v1/chat/completions',
  method: 'POST',
  headers: {},
  socket: { remoteAddress: '127.0.0.1' },
} as unknown as IncomingMessage;
const deps = { log: silentLogger(), notifier: nullNotifier } as unknown as ProxyDeps;

async function settled(forwardedUsd?: number): Promise<Outcome> {
  const ctx = createContext(req, {} as LoadedConfig, 0, {} as LocalDay);
  if (forwardedUsd !== undefined) ctx.draft.forwardedUsd = forwardedUsd;
  let out: Outcome | undefined;
  const finish: FinishRequest = async (_ctx, outcome) => {
    out = outcome;
  };
  await settleRefusal(deps, finish, ctx, {} as ServerResponse, new TypeError('a bug in metering'));
  if (!out) throw new Error('not settled');
  return out;
}

describe('a request that broke at some stage', () => {
  it('is charged what was reserved when the upstream had received it', async () => {
    expect(await settled(0.25)).toMatchObject({
      status: 500,
      errorCode: 'internal_error',
      usageSource: 'reserved',
      costUsd: 0.25,
    });
  });

  it('is charged nothing when it never reached the upstream, or reserved nothing', async () => {
    for (const out of [await settled(), await settled(0)])
      expect(out).toMatchObject({ status: 500, usageSource: 'none', costUsd: 0 });
  });
});
