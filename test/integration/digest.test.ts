import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { digest as digestCommand } from '../../src/commands/digest.js';
import type { CliIO } from '../../src/commands/io.js';
import { loadConfig } from '../../src/config/load/load.js';
import type { LoadedConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/log.js';
import { createDigestScheduler } from '../../src/schedule/digest-scheduler.js';
import { buildDigest } from '../../src/slack/digest/build-digest.js';
import { createSqliteStore } from '../../src/store/sqlite.js';
import type { Store, UsageRecord } from '../../src/store/types.js';
import { dayOf, previousDay, zonedTime } from '../../src/windows/calendar.js';
import { makeRecord } from '../helpers/digest-fixtures.js';
import { type FakeSlack, startFakeSlack } from '../helpers/fake-slack.js';

const TZ = 'Europe/Berlin';
const CHANNEL = 'C0DIGEST';
const berlin = (day: string, h: number, mi = 0) => {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return zonedTime(y, m, d, TZ, h, mi);
};
const hash = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

function keysYaml(opts: { channel?: boolean } = {}): string {
  return `version: 1
server:
  timezone: ${TZ}
upstreams:
  openai:
    base_url: http://127.0.0.1:9/v1
    api_key: \${OPENAI_API_KEY}
models:
  gpt-4o-mini:
    upstream: openai
    input_per_mtok: 0.15
    output_per_mtok: 0.6
keys:
  cursor-dev:
    hash: ${hash('cursor-dev')}
    expires: 2099-12-31
    limits: { daily_usd: 5, monthly_usd: 50 }
  ci-bot:
    hash: ${hash('ci-bot')}
    expires: 2099-12-31
    limits: { daily_usd: 1 }
${opts.channel === false ? '' : `slack:\n  channel: ${CHANNEL}\n`}`;
}

let dir: string;
let dbPath: string;
let configPath: string;
let slack: FakeSlack;
let store: Store;

function io(env: Record<string, string> = {}): CliIO & { out: string; err: string } {
  const self = {
    out: '',
    err: '',
    stdout(t: string) {
      self.out += t;
    },
    stderr(t: string) {
      self.err += t;
    },
    readStdin: async () => '',
    env: { SLACK_BOT_TOKEN: 'xoxb-test', SLACK_API_URL: slack.apiUrl, ...env },
    cwd: dir,
  };
  return self;
}

const run = (argv: string[], env?: Record<string, string>) => {
  const cli = io(env);
  return digestCommand([...argv, '--config', configPath, '--store', `sqlite:${dbPath}`], cli).then(
    (code) => ({
      code,
      out: cli.out,
      err: cli.err,
    }),
  );
};

async function settle(records: UsageRecord[]): Promise<void> {
  for (const r of records) await store.settle(r, [`d:${r.day}`, `m:${r.day.slice(0, 7)}`]);
}

beforeAll(async () => {
  slack = await startFakeSlack();
});
afterAll(async () => {
  await slack.close();
});

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-digest-'));
  dbPath = join(dir, 'tollgate.db');
  configPath = join(dir, 'keys.yaml');
  writeFileSync(configPath, keysYaml());
  store = createSqliteStore(dbPath);
  await store.init();
  slack.calls.length = 0;
  slack.setMode('ok');
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('tollgate digest', () => {
  it('prints the day from the store with --dry-run, records at 23:59 and 00:01 on the right side, and posts nothing', async () => {
    await settle([
      makeRecord(berlin('2026-10-24', 23, 59), 'cursor-dev', { costUsd: 1 }),
      makeRecord(berlin('2026-10-25', 0, 1), 'cursor-dev', { costUsd: 2 }),
      makeRecord(berlin('2026-10-25', 23, 59), 'ci-bot', { costUsd: 0.5, status: 429 }),
      makeRecord(berlin('2026-10-26', 0, 1), 'ci-bot', { costUsd: 8 }),
    ]);
    const { code, out } = await run(['--date', '2026-10-25', '--dry-run']);
    expect(code).toBe(0);
    expect(out).toContain('tollgate spend digest for 2026-10-25 (Europe/Berlin)');
    expect(out).toContain('$2.50 spent, +$1.50 (+150%) vs $1.00 on 2026-10-24');
    expect(out).toContain('2 requests, 1 error (50%)');
    expect(out).toMatch(/cursor-dev\s+\$2\.00\s+1\s+0/);
    expect(out).toMatch(/ci-bot\s+\$0\.50\s+1\s+1\s+0\s+0\s+0\s+1\s+0\s+50%/);
    expect(out).toMatch(/Config revision [0-9a-f]{12}/);
    expect(slack.calls).toHaveLength(0);
    expect(await store.claimOnce('digest', '2026-10-25', 0)).toBe(true);
  });

  it('defaults to yesterday in server.timezone', async () => {
    const { code, out } = await run(['--dry-run']);
    expect(code).toBe(0);
    expect(out).toContain(`digest for ${previousDay(dayOf(Date.now(), TZ))} `);
    expect(out).toContain('No traffic on');
  });

  it('posts to slack.channel once; a second run says it was already sent; --force posts again', async () => {
    await settle([makeRecord(berlin('2026-11-26', 12), 'cursor-dev', { costUsd: 4.98 })]);
    const first = await run(['--date', '2026-11-26']);
    expect(first).toMatchObject({ code: 0, err: '' });
    const posts = slack.callsTo('chat.postMessage');
    expect(posts).toHaveLength(1);
    expect(posts[0]?.body.channel).toBe(CHANNEL);
    expect(posts[0]?.authorization).toBe('Bearer xoxb-test');
    expect(String(posts[0]?.body.text)).toContain('tollgate spend digest for 2026-11-26: $4.98 spent');
    expect(Array.isArray(posts[0]?.body.blocks)).toBe(true);

    const again = await run(['--date', '2026-11-26']);
    expect(again.code).toBe(0);
    expect(again.out).toContain('already sent');
    expect(slack.callsTo('chat.postMessage')).toHaveLength(1);

    const forced = await run(['--date', '2026-11-26', '--force']);
    expect(forced.code).toBe(0);
    expect(slack.callsTo('chat.postMessage')).toHaveLength(2);
  });

  it('counts a manual send for the guard, so the scheduler does not post that day again', async () => {
    expect((await run(['--date', '2026-11-26'])).code).toBe(0);
    const loaded = loadedConfig();
    const scheduler = createDigestScheduler({
      store,
      config: { current: () => loaded },
      clock: () => berlin('2026-11-27', 10),
      log: silentLogger(),
      post: async () => {
        throw new Error('must not post');
      },
    });
    expect(await scheduler.runFor('2026-11-26')).toBe('already-sent');
  });

  it('fails with one sentence when Slack answers with an error, and a later run posts the day', async () => {
    slack.setMode('error500');
    const failed = await run(['--date', '2026-11-26']);
    expect(failed.code).toBe(1);
    expect(failed.err).toMatch(/^tollgate digest: the digest for 2026-11-26 was not posted: .+\.\n$/);
    slack.setMode('ok');
    const retried = await run(['--date', '2026-11-26']);
    expect(retried.code).toBe(0);
    expect(retried.out).toContain('Posted the digest for 2026-11-26');
  });

  it('refuses to post without SLACK_BOT_TOKEN or without slack.channel', async () => {
    const noToken = await run(['--date', '2026-11-26'], { SLACK_BOT_TOKEN: '' });
    expect(noToken.code).toBe(1);
    expect(noToken.err).toBe(
      'tollgate digest: posting the digest needs SLACK_BOT_TOKEN in the environment; use --dry-run to print it instead.\n',
    );
    writeFileSync(configPath, keysYaml({ channel: false }));
    const noChannel = await run(['--date', '2026-11-26']);
    expect(noChannel.code).toBe(1);
    expect(noChannel.err).toContain('needs slack.channel in the config');
    expect(slack.calls).toHaveLength(0);
  });

  it('rejects a date that is not a calendar day, and unknown flags', async () => {
    expect((await run(['--date', '2026-02-30'])).code).toBe(2);
    expect((await run(['--date', 'yesterday'])).err).toContain(
      "--date must be a day written YYYY-MM-DD; got 'yesterday'",
    );
    expect((await run(['--bogus'])).code).toBe(2);
  });

  it('says which config is invalid instead of posting', async () => {
    writeFileSync(configPath, 'version: 1\nkeys:\n  Bad Name: {}\n');
    const r = await run(['--dry-run']);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`run 'tollgate validate ${configPath}'`);
  });

  it('prints its options with --help', async () => {
    const cli = io();
    expect(await digestCommand(['--help'], cli)).toBe(0);
    expect(cli.out).toContain('--dry-run');
    expect(cli.out).toContain('--force');
  });
});

function loadedConfig(): LoadedConfig {
  const config = loadConfig(keysYaml(), { file: configPath, now: Date.now() }).config;
  if (!config) throw new Error('test config is invalid');
  return { config, revision: 'rev', loadedAt: 0, keysByHash: new Map() };
}

describe('digest on a real store', () => {
  it('reports per-key spend, requests and errors equal to the settled usage records', async () => {
    const day = '2026-11-26';
    const records: UsageRecord[] = [];
    const statuses = [200, 200, 200, 401, 403, 404, 429, 500, 502, 400];
    for (let i = 0; i < 300; i++) {
      const key = i % 3 === 0 ? 'ci-bot' : 'cursor-dev';
      const status = statuses[i % statuses.length] ?? 200;
      records.push(
        makeRecord(berlin(day, 0, 0) + i * 250_000, key, {
          status,
          costUsd: status === 200 ? 0.001 * (i % 7) : 0,
          model: i % 5 === 0 ? 'claude-sonnet-4-5' : 'gpt-4o-mini',
        }),
      );
    }
    await settle(records);
    const d = await buildDigest({
      store,
      config: loadedConfig().config,
      revision: 'r',
      day,
      now: berlin('2026-11-27', 9),
    });
    for (const key of ['ci-bot', 'cursor-dev']) {
      const mine = records.filter((r) => r.key === key && r.day === day);
      const line = d.keys.find((l) => l.key === key);
      expect(line?.requests).toBe(mine.length);
      expect(line?.errors).toBe(mine.filter((r) => r.status >= 400).length);
      expect(line?.errorsByClass['429']).toBe(mine.filter((r) => r.status === 429).length);
      expect(line?.errorsByClass['5xx']).toBe(mine.filter((r) => r.status >= 500).length);
      expect(line?.costUsd).toBeCloseTo(
        mine.reduce((s, r) => s + r.costUsd, 0),
        9,
      );
    }
    expect(d.total.requests).toBe(records.filter((r) => r.day === day).length);
  });
});
