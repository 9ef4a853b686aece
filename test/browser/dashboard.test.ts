import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, mintKey } from '../../src/keys/format.js';
import { createSqliteStore } from '../../src/store/sqlite.js';
import { ADMIN_TOKEN } from '../helpers/dashboard-client.js';
import { seedHistory } from '../helpers/dashboard-seed.js';
import { type FakeSlack, startFakeSlack } from '../helpers/fake-slack.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { startTestServer, type TestServer } from '../helpers/server-harness.js';
import { ADMIN, ALERT_CHANNEL } from '../helpers/slack-config.js';

/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core, with JavaScript
 * off (the pages must work without it). Screenshots go to test/artifacts/ for a person to look at.
 * CI installs Chromium (.ci/run); elsewhere the suite is skipped when it is missing.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI)
  throw new Error(`CI needs Chromium at ${CHROMIUM} (apt-get install chromium)`);

const cursorKey = mintKey();
let upstream: FakeUpstream;
let slack: FakeSlack;
let gw: TestServer;
let browser: Browser;
let storeDir = '';

function yaml(): string {
  const keys = [
    [
      'cursor-dev',
      'Cursor on <Alice>\'s laptop "dev"',
      'alice',
      '{ daily_usd: 6, monthly_usd: 60 }',
      '2027-06-30',
    ],
    [
      'open-webui-team',
      'Open WebUI for the support team',
      'support',
      '{ daily_usd: 1.2, monthly_usd: 40 }',
      '',
    ],
    ['claude-code-ci', 'Claude Code in CI', 'platform', '{ daily_usd: 5, monthly_usd: 50 }', ''],
    ['nightly-evals', 'Nightly evaluation runs', 'ml', '{ daily_usd: 2, monthly_usd: 80 }', ''],
    ['intern-sandbox', 'Sandbox for the intern', 'bob', '{ daily_usd: 1 }', 'SOON'],
  ];
  const soon = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
  return `${[
    'version: 1',
    'upstreams:',
    '  fake:',
    `    base_url: ${upstream.baseUrl}`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: keys.yaml's literal `${ENV}` reference syntax
    '    api_key: ${FAKE_KEY}',
    'models:',
    '  gpt-4o-mini: { upstream: fake, input_per_mtok: 0.15, output_per_mtok: 0.6, max_output_tokens: 1000 }',
    '  claude-sonnet-4-5: { upstream: fake, input_per_mtok: 3, output_per_mtok: 15, max_output_tokens: 1000 }',
    'keys:',
    ...keys.flatMap(([name, description, owner, limits, expires]) => [
      `  ${name}:`,
      `    hash: ${name === 'cursor-dev' ? hashKey(cursorKey) : hashKey(mintKey())}`,
      `    description: ${JSON.stringify(description)}`,
      `    owner: ${owner}`,
      `    limits: ${limits}`,
      ...(expires ? [`    expires: ${expires === 'SOON' ? soon : expires}`] : []),
      '    tags: { team: tools }',
    ]),
    'slack:',
    `  channel: ${ALERT_CHANNEL}`,
    `  admins: [${ADMIN}]`,
  ].join('\n')}\n`;
}

async function v1Status(): Promise<{ status: number; code: string | null }> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${cursorKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 10,
    }),
  });
  const body = (await res.json()) as { error?: { code?: string } };
  return { status: res.status, code: body.error?.code ?? null };
}

async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
  await page.screenshot({ path: join(ARTIFACTS, `${name}-full.png`), fullPage: true });
}

describe.skipIf(!haveChromium)('dashboard in Chromium', () => {
  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    upstream = await startFakeUpstream();
    slack = await startFakeSlack();
    // History is written before the server starts, as it would have been by the gateway itself:
    // the dashboard caches past days from its first read on.
    storeDir = await mkdtemp(join(tmpdir(), 'tollgate-browser-'));
    const seeded = createSqliteStore(join(storeDir, 'tollgate.db'));
    await seeded.init();
    await seedHistory(seeded, Date.now(), 'UTC');
    await seeded.close();
    gw = await startTestServer({
      yaml: yaml(),
      store: `sqlite:${join(storeDir, 'tollgate.db')}`,
      env: {
        FAKE_KEY: 'sk-upstream',
        TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN,
        SLACK_BOT_TOKEN: 'xoxb-test',
        SLACK_SIGNING_SECRET: 'browser-test-secret',
        SLACK_API_URL: slack.apiUrl,
      },
    });
    for (let i = 0; i < 3; i++) expect((await v1Status()).status).toBe(200);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.close();
    await upstream?.close();
    await slack?.close();
    if (storeDir) await rm(storeDir, { recursive: true, force: true });
  });

  it('signs in, reads the overview and a key page, disables the key, sees the gateway refuse it, and exports CSV', async () => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      javaScriptEnabled: false,
      acceptDownloads: true,
    });
    const page = await context.newPage();
    await page.goto(`${gw.url}/dashboard`);
    expect(new URL(page.url()).pathname).toBe('/dashboard/sign-in');
    await shoot(page, 'sign-in-1280');
    await page.fill('input[name=token]', ADMIN_TOKEN);
    await page.click('button[type=submit]');
    expect(new URL(page.url()).pathname).toBe('/dashboard');

    await expect(page.locator('h1').textContent()).resolves.toBe('Spend');
    const keysTable = page.locator('#keys table');
    for (const name of ['cursor-dev', 'open-webui-team', 'claude-code-ci', 'nightly-evals']) {
      await expect(keysTable.locator(`a[href="/dashboard/keys/${name}"]`).count()).resolves.toBe(1);
    }
    await expect(page.locator('#attention').textContent()).resolves.toContain('intern-sandbox');
    await expect(page.locator('figure.chart svg.wide').count()).resolves.toBe(2);
    await expect(page.locator('figure.chart svg.wide').first().isVisible()).resolves.toBe(true);
    await expect(page.locator('figure.chart svg.wide rect').count()).resolves.toBeGreaterThan(40);
    await shoot(page, 'overview-1280');

    // Sorting is a link: no script needed.
    await page.click('#keys th >> text=Key');
    expect(new URL(page.url()).searchParams.get('keys_sort')).toBe('key');

    const csvDownload = page.waitForEvent('download');
    await page.click('#keys a.button:has-text("CSV")');
    const csvPath = await (await csvDownload).path();
    const csv = await readFile(csvPath, 'utf8');
    expect(csv.split('\n')[0]).toBe('key,requests,errors,input_tokens,output_tokens,cost_usd');
    expect(csv).toMatch(/^cursor-dev,\d+,\d+,\d+,\d+,\d+\.\d{6}$/m);

    await page.click('#keys a[href="/dashboard/keys/cursor-dev"]');
    expect(new URL(page.url()).pathname).toBe('/dashboard/keys/cursor-dev');
    await expect(page.locator('h1').textContent()).resolves.toContain('cursor-dev');
    await expect(page.locator('.sub').textContent()).resolves.toBe('Cursor on <Alice>\'s laptop "dev"');
    await expect(page.locator('#requests tbody tr').count()).resolves.toBeGreaterThan(3);
    await shoot(page, 'key-1280');

    expect(await v1Status()).toEqual({ status: 200, code: null });
    await page.fill('input[name=reason]', 'runaway agent loop');
    await page.click('button:has-text("Disable key")');
    await expect(page.locator('.notice').textContent()).resolves.toContain('is disabled');
    await expect(page.locator('h1 .badge').textContent()).resolves.toBe('disabled from the dashboard');
    expect(await v1Status()).toEqual({ status: 401, code: 'key_disabled' });
    await expect(page.locator('#history tbody').textContent()).resolves.toContain('runaway agent loop');
    await shoot(page, 'key-disabled-1280');

    await page.click('button:has-text("Enable key")');
    expect((await v1Status()).status).toBe(200);
    await context.close();
  });

  it('lays the pages out for a 390-pixel-wide phone', async () => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      javaScriptEnabled: false,
    });
    const page = await context.newPage();
    await page.goto(`${gw.url}/dashboard/sign-in`);
    await page.fill('input[name=token]', ADMIN_TOKEN);
    await page.click('button[type=submit]');
    await expect(page.locator('figure.chart svg.narrow').first().isVisible()).resolves.toBe(true);
    await expect(page.locator('figure.chart svg.wide').first().isVisible()).resolves.toBe(false);
    // Nothing wider than the screen but the tables' own scroll boxes.
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth');
    expect(overflow).toBeLessThanOrEqual(390);
    await shoot(page, 'overview-390');
    await page.goto(`${gw.url}/dashboard/keys/claude-code-ci`);
    await shoot(page, 'key-390');
    await page.locator('#requests').screenshot({ path: join(ARTIFACTS, 'key-390-requests.png') });
    await context.close();
  });
});
