import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { ReserveRequest } from '../../src/store/types.js';
import { type FakeUpstream, startFakeUpstream } from './fake-upstream.js';
import { type Harness, type HarnessOptions, startGateway } from './gateway-harness.js';

export interface HeldGateway {
  up: FakeUpstream;
  gw: Harness;
  /** Every reservation's amount, in order, since the test began: what each request held. */
  reserved: number[];
}

/**
 * For a test file that checks a request settles within what it held: a gateway (options from the
 * fake upstream's URL) on a fake upstream, started once for the file, with each reservation's
 * amount kept in `reserved`; the upstream, the records and `reserved` are reset before each test.
 */
export function heldGateway(options: (upstreamUrl: string) => HarnessOptions): HeldGateway {
  const t = { reserved: [] as number[] } as HeldGateway;
  beforeAll(async () => {
    t.up = await startFakeUpstream();
    t.gw = await startGateway(options(t.up.baseUrl));
    const reserve = t.gw.store.reserve.bind(t.gw.store);
    t.gw.store.reserve = (r: ReserveRequest) => {
      t.reserved.push(r.amountUsd);
      return reserve(r);
    };
  });
  afterAll(async () => {
    await t.gw.close();
    await t.up.close();
  });
  beforeEach(() => {
    t.up.reset();
    t.gw.records.length = 0;
    t.reserved.length = 0;
  });
  return t;
}
