import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { reconcile } from '../../src/commands/reconcile.js';
import { hashKey } from '../../src/keys/format.js';
import { createSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';
import {
  ADMIN_KEY,
  billEnv,
  billYaml,
  KEY_IDS,
  pricedBy,
  sendTraffic,
  UPSTREAM_KEYS,
} from '../helpers/bill-check-setup.js';
import { type FakeProvider, startFakeProvider } from '../helpers/fake-admin-api.js';
import { type Harness, manualClock, startGateway } from '../helpers/gateway-harness.js';
import { fakeIO } from '../unit/commands/fake-io.js';

const DAY = '2026-11-20';
const NOON = Date.parse(`${DAY}T12:00:00Z`);

describe('tollgate reconcile', () => {
  let dir: string;
  let provider: FakeProvider;
  let store: Store;
  let h: Harness;
  let configFile: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tollgate-reconcile-'));
    const clock = manualClock(NOON);
    provider = await startFakeProvider({ clock, adminKey: ADMIN_KEY });
    provider.keyIds.set(UPSTREAM_KEYS.openai, KEY_IDS.openai);
    provider.keyIds.set(UPSTREAM_KEYS.anthropic, KEY_IDS.anthropic);
    store = createSqliteStore(join(dir, 'tollgate.db'));
    await store.init();
    h = await startGateway({ yaml: billYaml(provider.baseUrl), env: billEnv(), clock, store });
    provider.price = pricedBy(h.deps.config.current().config, NOON);
    configFile = join(dir, 'keys.yaml');
    await writeFile(configFile, billYaml(provider.baseUrl, { hash: () => hashKey(h.keys.dev as string) }));
    await sendTraffic(h, 2);
    await h.waitForRecords(4);
  });

  afterEach(async () => {
    await h.close();
    await store.close();
    await provider.close();
    await rm(dir, { recursive: true, force: true });
  });

  const run = (args: string[], env = billEnv()) => {
    const io = fakeIO({ env, cwd: dir });
    return reconcile(
      [...args, '--config', configFile, '--store', `sqlite:${join(dir, 'tollgate.db')}`],
      io.io,
    ).then((code) => ({ code, stdout: io.stdout(), stderr: io.stderr() }));
  };

  it('prints one JSON row per upstream and model in the documented shape', async () => {
    const r = await run(['--date', DAY, '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(Object.keys(row)).toEqual([
        'upstream',
        'date',
        'model',
        'metered_tokens',
        'billed_tokens',
        'metered_usd',
        'billed_usd',
        'delta_usd',
        'verdict',
        'detail',
      ]);
      expect(Object.keys(row.metered_tokens as object)).toEqual([
        'input',
        'cached_input',
        'cache_write',
        'output',
      ]);
      expect(row.verdict).toBe('match');
      expect(row.date).toBe(DAY);
    }
  });

  it('prints a table for one upstream, and says which rows need a look and why', async () => {
    provider.adminStatus = 401;
    const r = await run(['--date', DAY, '--upstream', 'anthropic']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^date\s+upstream\s+model\s+metered\s+billed\s+delta/);
    expect(r.stdout).toContain('claude-haiku-4-5');
    expect(r.stdout).toContain('unavailable');
    expect(r.stdout).toContain('the admin key was refused');
    expect(r.stdout).not.toContain('gpt-4o-mini');
    expect(r.stdout + r.stderr).not.toContain(ADMIN_KEY);
  });

  it('refuses an unknown upstream, a bad date and a bad format with one sentence each', async () => {
    expect((await run(['--upstream', 'nope'])).stderr).toContain(
      "upstream 'nope' does not exist or has no billing: section",
    );
    expect((await run(['--date', '2026-02-30'])).code).toBe(2);
    expect((await run(['--format', 'csv'])).stderr).toContain('--format must be table or json');
  });

  it('says plainly when the admin key variable is not set', async () => {
    const env = billEnv();
    delete env.OPENAI_ADMIN_KEY;
    const r = await run(['--date', DAY, '--upstream', 'openai', '--format', 'json'], env);
    const rows = JSON.parse(r.stdout) as { verdict: string; detail: string }[];
    expect(rows.map((x) => x.verdict)).toEqual(['unavailable']);
    expect(rows[0]?.detail).toBe('the admin key variable OPENAI_ADMIN_KEY is not set');
  });

  it('has a --help that names every flag', async () => {
    const r = await run(['--help']);
    for (const flag of ['--date', '--upstream', '--format', '--config', '--store'])
      expect(r.stdout).toContain(flag);
  });
});
